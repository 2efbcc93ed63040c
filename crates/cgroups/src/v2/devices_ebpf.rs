//! The v2 device controller is a BPF_PROG_TYPE_CGROUP_DEVICE program. This builds it
//! from OCI rules with "last matching rule wins" (v1 semantics, runc's devicefilter).
//! Pure so the instruction stream is unit-tested without privileges.

use oci_spec::runtime::{LinuxDeviceCgroup, LinuxDeviceType};

use crate::CgroupError;

/// One `struct bpf_insn`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Insn {
    pub code: u8,
    pub dst: u8,
    pub src: u8,
    pub off: i16,
    pub imm: i32,
}

impl Insn {
    pub fn encode(&self) -> [u8; 8] {
        let mut b = [0u8; 8];
        b[0] = self.code;
        // `__u8 dst_reg:4, src_reg:4` is allocated from the low bits on little-endian
        // and from the high bits on big-endian targets.
        b[1] = if cfg!(target_endian = "little") {
            (self.src << 4) | (self.dst & 0x0f)
        } else {
            (self.dst << 4) | (self.src & 0x0f)
        };
        b[2..4].copy_from_slice(&self.off.to_ne_bytes());
        b[4..8].copy_from_slice(&self.imm.to_ne_bytes());
        b
    }
}

// Opcodes (linux/bpf_common.h, linux/bpf.h).
pub const LDX_MEM_W: u8 = 0x61;
pub const ALU32_AND_K: u8 = 0x54;
pub const ALU32_RSH_K: u8 = 0x74;
pub const ALU32_MOV_K: u8 = 0xb4;
pub const ALU32_MOV_X: u8 = 0xbc;
pub const JMP_JEQ_K: u8 = 0x15;
pub const JMP_JNE_K: u8 = 0x55;
pub const JMP_JNE_X: u8 = 0x5d;
pub const JMP_EXIT: u8 = 0x95;

// struct bpf_cgroup_dev_ctx: access_type = (BPF_DEVCG_ACC_* << 16) | BPF_DEVCG_DEV_*.
pub const DEV_BLOCK: i32 = 1;
pub const DEV_CHAR: i32 = 2;
pub const ACC_MKNOD: i32 = 1;
pub const ACC_READ: i32 = 2;
pub const ACC_WRITE: i32 = 4;
const ACC_ALL: i32 = ACC_MKNOD | ACC_READ | ACC_WRITE;

// Registers after the prologue.
const R_TYPE: u8 = 2;
const R_ACCESS: u8 = 3;
const R_MAJOR: u8 = 4;
const R_MINOR: u8 = 5;
const R_TMP: u8 = 1;

const fn insn(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
    Insn {
        code,
        dst,
        src,
        off,
        imm,
    }
}

/// Loads the context into R2..R5 (type, access, major, minor).
pub const PROLOGUE: [Insn; 6] = [
    insn(LDX_MEM_W, R_TYPE, 1, 0, 0),
    insn(ALU32_AND_K, R_TYPE, 0, 0, 0xffff),
    insn(LDX_MEM_W, R_ACCESS, 1, 0, 0),
    insn(ALU32_RSH_K, R_ACCESS, 0, 0, 16),
    insn(LDX_MEM_W, R_MAJOR, 1, 4, 0),
    insn(LDX_MEM_W, R_MINOR, 1, 8, 0),
];

fn verdict(allow: bool) -> [Insn; 2] {
    [
        insn(ALU32_MOV_K, 0, 0, 0, i32::from(allow)),
        insn(JMP_EXIT, 0, 0, 0, 0),
    ]
}

fn invalid(field: &'static str, value: String, reason: &'static str) -> CgroupError {
    CgroupError::InvalidValue {
        field,
        value,
        reason,
    }
}

fn access_mask(access: Option<&str>) -> Result<i32, CgroupError> {
    let access = access.unwrap_or("");
    if access.is_empty() {
        return Ok(ACC_ALL);
    }
    access.chars().try_fold(0, |acc, c| match c {
        'r' => Ok(acc | ACC_READ),
        'w' => Ok(acc | ACC_WRITE),
        'm' => Ok(acc | ACC_MKNOD),
        _ => Err(invalid(
            "devices.access",
            access.to_string(),
            "expected a subset of \"rwm\"",
        )),
    })
}

fn number(field: &'static str, n: Option<i64>) -> Result<Option<i32>, CgroupError> {
    match n {
        None => Ok(None),
        Some(n) if n < 0 => Ok(None), // -1 is the OCI/runc wildcard
        Some(n) => u32::try_from(n)
            .map(|v| Some(v as i32))
            .map_err(|_| invalid(field, n.to_string(), "device numbers are 32-bit")),
    }
}

/// Conditions of one rule; a jump with `next = true` skips to the following block.
fn rule_block(r: &LinuxDeviceCgroup) -> Result<Option<Vec<(Insn, bool)>>, CgroupError> {
    let typ = match r.typ().unwrap_or(LinuxDeviceType::A) {
        LinuxDeviceType::A => None,
        LinuxDeviceType::B => Some(DEV_BLOCK),
        LinuxDeviceType::C | LinuxDeviceType::U => Some(DEV_CHAR),
        // The kernel never asks about FIFOs; such a rule can never match.
        LinuxDeviceType::P => return Ok(None),
    };
    let access = access_mask(r.access().as_deref())?;
    let mut b = Vec::new();
    if let Some(t) = typ {
        b.push((insn(JMP_JNE_K, R_TYPE, 0, 0, t), true));
    }
    if access != ACC_ALL {
        b.push((insn(ALU32_MOV_X, R_TMP, R_ACCESS, 0, 0), false));
        b.push((insn(ALU32_AND_K, R_TMP, 0, 0, access), false));
        if r.allow() {
            // Allow only if every requested bit is granted: (req & rule) == req.
            b.push((insn(JMP_JNE_X, R_TMP, R_ACCESS, 0, 0), true));
        } else {
            // Deny if any requested bit is denied, so "rw" is refused by a "w" deny.
            b.push((insn(JMP_JEQ_K, R_TMP, 0, 0, 0), true));
        }
    }
    if let Some(m) = number("devices.major", r.major())? {
        b.push((insn(JMP_JNE_K, R_MAJOR, 0, 0, m), true));
    }
    if let Some(m) = number("devices.minor", r.minor())? {
        b.push((insn(JMP_JNE_K, R_MINOR, 0, 0, m), true));
    }
    Ok(Some(b))
}

/// The program for `rules`. Rules are emitted last-first, each returning its verdict on
/// a match; an unconditional rule ends the program since nothing before it can matter.
/// With no matching rule the device is denied (the v1 default for a container).
pub fn device_filter(rules: &[LinuxDeviceCgroup]) -> Result<Vec<Insn>, CgroupError> {
    let mut prog = PROLOGUE.to_vec();
    for r in rules.iter().rev() {
        let Some(conds) = rule_block(r)? else {
            continue;
        };
        let unconditional = conds.is_empty();
        let len = conds.len() + 2;
        for (i, (mut ins, next)) in conds.into_iter().enumerate() {
            if next {
                // Offsets are relative to the following instruction.
                ins.off = (len - i - 1) as i16;
            }
            prog.push(ins);
        }
        prog.extend(verdict(r.allow()));
        if unconditional {
            return Ok(prog);
        }
    }
    prog.extend(verdict(false));
    Ok(prog)
}

#[cfg(test)]
mod tests;
