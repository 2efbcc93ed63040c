use super::*;

fn rules(json: &str) -> Vec<LinuxDeviceCgroup> {
    serde_json::from_str(json).unwrap()
}

/// A tiny interpreter for the opcodes the generator emits, so tests check behaviour
/// (what the kernel would decide) as well as structure.
fn run(prog: &[Insn], typ: i32, access: i32, major: u32, minor: u32) -> u64 {
    let mut r = [0u64; 11];
    let ctx = [((access as u32) << 16) | typ as u32, major, minor];
    let mut pc = 0usize;
    for _ in 0..10_000 {
        let i = prog[pc];
        let (d, s) = (i.dst as usize, i.src as usize);
        pc += 1;
        match i.code {
            LDX_MEM_W => {
                assert_eq!(s, 1, "loads only from the context");
                r[d] = u64::from(ctx[i.off as usize / 4]);
            }
            ALU32_AND_K => r[d] = u64::from((r[d] as u32) & (i.imm as u32)),
            ALU32_RSH_K => r[d] = u64::from((r[d] as u32) >> i.imm),
            ALU32_MOV_K => r[d] = u64::from(i.imm as u32),
            ALU32_MOV_X => r[d] = u64::from(r[s] as u32),
            JMP_JEQ_K if r[d] == i.imm as u64 => pc = (pc as i64 + i.off as i64) as usize,
            JMP_JNE_K if r[d] != i.imm as u64 => pc = (pc as i64 + i.off as i64) as usize,
            JMP_JNE_X if r[d] != r[s] => pc = (pc as i64 + i.off as i64) as usize,
            JMP_JEQ_K | JMP_JNE_K | JMP_JNE_X => {}
            JMP_EXIT => return r[0],
            c => panic!("unexpected opcode {c:#x}"),
        }
    }
    panic!("no exit");
}

#[test]
fn allow_all_and_deny_all() {
    let p = device_filter(&rules(r#"[{"allow":true,"access":"rwm"}]"#)).unwrap();
    assert_eq!(p.len(), PROLOGUE.len() + 2);
    assert_eq!(p[..6], PROLOGUE);
    assert_eq!(
        p[6],
        Insn {
            code: ALU32_MOV_K,
            dst: 0,
            src: 0,
            off: 0,
            imm: 1
        }
    );
    assert_eq!(p[7].code, JMP_EXIT);

    let p = device_filter(&rules(r#"[{"allow":false}]"#)).unwrap();
    assert_eq!(p.len(), PROLOGUE.len() + 2);
    assert_eq!(p[6].imm, 0);
    assert_eq!(run(&p, DEV_CHAR, ACC_READ, 1, 3), 0);

    // No rules: deny by default.
    let p = device_filter(&[]).unwrap();
    assert_eq!(p.len(), PROLOGUE.len() + 2);
    assert_eq!(run(&p, DEV_BLOCK, ACC_WRITE, 8, 0), 0);
}

#[test]
fn char_device_rule() {
    let p = device_filter(&rules(
        r#"[{"allow":false,"access":"rwm"},
            {"allow":true,"type":"c","major":1,"minor":3,"access":"rwm"}]"#,
    ))
    .unwrap();
    // The deny-all is emitted last and unconditionally, so no default block follows.
    let body = &p[6..];
    assert_eq!(
        body,
        [
            Insn {
                code: JMP_JNE_K,
                dst: 2,
                src: 0,
                off: 4,
                imm: DEV_CHAR
            },
            Insn {
                code: JMP_JNE_K,
                dst: 4,
                src: 0,
                off: 3,
                imm: 1
            },
            Insn {
                code: JMP_JNE_K,
                dst: 5,
                src: 0,
                off: 2,
                imm: 3
            },
            Insn {
                code: ALU32_MOV_K,
                dst: 0,
                src: 0,
                off: 0,
                imm: 1
            },
            Insn {
                code: JMP_EXIT,
                dst: 0,
                src: 0,
                off: 0,
                imm: 0
            },
            Insn {
                code: ALU32_MOV_K,
                dst: 0,
                src: 0,
                off: 0,
                imm: 0
            },
            Insn {
                code: JMP_EXIT,
                dst: 0,
                src: 0,
                off: 0,
                imm: 0
            },
        ]
    );
    assert_eq!(run(&p, DEV_CHAR, ACC_READ | ACC_WRITE, 1, 3), 1);
    assert_eq!(run(&p, DEV_CHAR, ACC_READ, 1, 5), 0);
    assert_eq!(run(&p, DEV_BLOCK, ACC_READ, 1, 3), 0);
}

#[test]
fn wildcards() {
    let p = device_filter(&rules(
        r#"[{"allow":true,"type":"c","major":136,"access":"rwm"}]"#,
    ))
    .unwrap();
    // Type and major checks only; the minor is a wildcard.
    assert_eq!(p.len(), 6 + 2 + 2 + 2);
    assert_eq!(run(&p, DEV_CHAR, ACC_READ, 136, 0), 1);
    assert_eq!(run(&p, DEV_CHAR, ACC_READ, 136, 99), 1);
    assert_eq!(run(&p, DEV_CHAR, ACC_READ, 137, 0), 0);

    let p = device_filter(&rules(
        r#"[{"allow":true,"type":"b","minor":-1,"access":"m"}]"#,
    ))
    .unwrap();
    assert_eq!(run(&p, DEV_BLOCK, ACC_MKNOD, 8, 1), 1);
    assert_eq!(run(&p, DEV_BLOCK, ACC_READ, 8, 1), 0);
    assert_eq!(run(&p, DEV_CHAR, ACC_MKNOD, 8, 1), 0);
}

#[test]
fn access_subsets() {
    let p = device_filter(&rules(
        r#"[{"allow":true,"type":"c","major":1,"minor":5,"access":"r"}]"#,
    ))
    .unwrap();
    assert_eq!(
        p[7],
        Insn {
            code: ALU32_MOV_X,
            dst: 1,
            src: 3,
            off: 0,
            imm: 0
        }
    );
    assert_eq!(
        p[8],
        Insn {
            code: ALU32_AND_K,
            dst: 1,
            src: 0,
            off: 0,
            imm: ACC_READ
        }
    );
    assert_eq!(p[9].code, JMP_JNE_X);
    assert_eq!(run(&p, DEV_CHAR, ACC_READ, 1, 5), 1);
    assert_eq!(run(&p, DEV_CHAR, ACC_WRITE, 1, 5), 0);
    assert_eq!(run(&p, DEV_CHAR, ACC_READ | ACC_WRITE, 1, 5), 0);

    let p = device_filter(&rules(r#"[{"allow":true,"access":"rw"}]"#)).unwrap();
    assert_eq!(p[7].imm, ACC_READ | ACC_WRITE);
    assert_eq!(run(&p, DEV_CHAR, ACC_MKNOD, 1, 1), 0);
    assert_eq!(run(&p, DEV_BLOCK, ACC_WRITE, 8, 0), 1);
}

#[test]
fn last_matching_rule_wins() {
    let p = device_filter(&rules(
        r#"[{"allow":true,"type":"c","major":1,"access":"rwm"},
            {"allow":false,"type":"c","major":1,"minor":3,"access":"w"}]"#,
    ))
    .unwrap();
    assert_eq!(run(&p, DEV_CHAR, ACC_READ, 1, 3), 1);
    assert_eq!(run(&p, DEV_CHAR, ACC_WRITE, 1, 3), 0);
    // A partial deny still refuses a request that includes the denied bit.
    assert_eq!(run(&p, DEV_CHAR, ACC_READ | ACC_WRITE, 1, 3), 0);
    assert_eq!(run(&p, DEV_CHAR, ACC_WRITE, 1, 7), 1);

    // Rules before an unconditional one are dead and not emitted.
    let p = device_filter(&rules(
        r#"[{"allow":true,"type":"c","major":1,"minor":3},{"allow":true}]"#,
    ))
    .unwrap();
    assert_eq!(p.len(), 8);
}

#[test]
fn fifo_rules_are_skipped_and_bad_input_rejected() {
    let p = device_filter(&rules(r#"[{"allow":true,"type":"p","major":1,"minor":1}]"#)).unwrap();
    assert_eq!(p.len(), 8);
    assert!(device_filter(&rules(r#"[{"allow":true,"access":"rx"}]"#)).is_err());
    assert!(device_filter(&rules(r#"[{"allow":true,"major":4294967296}]"#)).is_err());
}

#[test]
fn encoding() {
    let e = PROLOGUE[0].encode();
    assert_eq!(e[0], 0x61);
    if cfg!(target_endian = "little") {
        assert_eq!(e, [0x61, 0x12, 0, 0, 0, 0, 0, 0]);
        let j = Insn {
            code: JMP_JNE_K,
            dst: 4,
            src: 0,
            off: 3,
            imm: 136,
        }
        .encode();
        assert_eq!(j, [0x55, 0x04, 3, 0, 136, 0, 0, 0]);
    }
}
