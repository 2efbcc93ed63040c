//! Translation of the OCI seccomp section into a libseccomp filter, exported as BPF.
//! Semantics follow runc and crun so that profiles written for them (Docker's default one
//! above all) behave the same here.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};

use libseccomp::{
    ScmpAction, ScmpArch, ScmpArgCompare, ScmpCompareOp, ScmpFilterContext, ScmpSyscall,
    ScmpVersion,
};
use nix::sys::memfd::{memfd_create, MFdFlags};
use oci_spec::runtime::{
    Arch, LinuxSeccomp, LinuxSeccompAction, LinuxSeccompArg, LinuxSeccompOperator,
};

use super::{
    filter_flags, CompiledFilter, LibseccompError, SeccompError, SockFilter, BPF_MAXINSNS,
};

/// The one expensive step of [`super::compile`], behind a trait so tests can count calls.
pub(super) trait FilterBuilder {
    /// Part of the cache key: another libseccomp may emit a different program.
    fn library_version(&self) -> String;
    fn build(&self, seccomp: &LinuxSeccomp) -> Result<CompiledFilter, SeccompError>;
}

pub(super) struct Libseccomp;

impl FilterBuilder for Libseccomp {
    fn library_version(&self) -> String {
        match ScmpVersion::current() {
            Ok(v) => format!("{}.{}.{}", v.major, v.minor, v.micro),
            // Only reachable with a broken libseccomp; a constant still gives a valid key.
            Err(_) => "unknown".to_owned(),
        }
    }

    fn build(&self, seccomp: &LinuxSeccomp) -> Result<CompiledFilter, SeccompError> {
        build(seccomp)
    }
}

/// syscall(2) takes at most six arguments.
const MAX_SYSCALL_ARGS: usize = 6;
/// Largest errno the kernel passes through (MAX_ERRNO in include/linux/err.h).
const MAX_ERRNO: u32 = 4095;
/// Name used in errors about the default action.
const DEFAULT_ACTION: &str = "<defaultAction>";
/// The container init writes to its sync pipe after loading the filter, before the agent
/// has the listener: a NOTIFY rule there would hang the start (runc refuses it too).
const NOTIFY_FORBIDDEN: &[&str] = &["write"];

fn build(seccomp: &LinuxSeccomp) -> Result<CompiledFilter, SeccompError> {
    let default_action = seccomp.default_action();
    let default = action(default_action, seccomp.default_errno_ret(), DEFAULT_ACTION)?;
    if default == ScmpAction::Notify {
        return Err(SeccompError::NotifyDefaultAction);
    }
    let mut ctx = ScmpFilterContext::new(default).map_err(|source| SeccompError::Context {
        action: default_action,
        source,
    })?;
    // The init sets no_new_privs itself (or keeps CAP_SYS_ADMIN); libseccomp must not
    // decide that for it. The exported program does not depend on it, but be explicit.
    ctx.set_ctl_nnp(false)
        .map_err(|source| SeccompError::Attribute {
            attr: "SCMP_FLTATR_CTL_NNP",
            source,
        })?;
    // The native architecture is always in a fresh context; these are the extra ones.
    for &arch in seccomp.architectures().iter().flatten() {
        ctx.add_arch(scmp_arch(arch))
            .map_err(|source| SeccompError::UnsupportedArch { arch, source })?;
    }

    let mut wants_listener = false;
    for rule in seccomp.syscalls().iter().flatten() {
        let first = rule.names().first().map_or("<no names>", String::as_str);
        let act = action(rule.action(), rule.errno_ret(), first)?;
        if act == ScmpAction::Notify {
            if let Some(name) = rule
                .names()
                .iter()
                .find(|name| NOTIFY_FORBIDDEN.contains(&name.as_str()))
            {
                return Err(SeccompError::NotifyForbidden {
                    syscall: name.clone(),
                });
            }
            wants_listener = true;
        }
        // libseccomp rejects a rule that repeats the default action (EACCES); it would be
        // a no-op anyway.
        if act == default {
            continue;
        }
        let args = rule.args().as_deref().unwrap_or_default();
        let conditions = conditions(args, first)?;
        let mut seen = [false; MAX_SYSCALL_ARGS];
        let repeated = args
            .iter()
            .any(|arg| std::mem::replace(&mut seen[arg.index()], true));
        for name in rule.names() {
            // Profiles list syscalls newer than this libseccomp (Docker's does); like runc
            // and crun, skip what the library cannot name rather than refuse the profile.
            let Ok(syscall) = ScmpSyscall::from_name(name) else {
                continue;
            };
            add_rule(&mut ctx, syscall, act, &conditions, repeated).map_err(|source| {
                SeccompError::AddRule {
                    syscall: name.clone(),
                    action: rule.action(),
                    source,
                }
            })?;
        }
    }

    let program = export(&ctx)?;
    Ok(CompiledFilter {
        program,
        flags: filter_flags(seccomp.flags().as_deref().unwrap_or_default()),
        wants_listener,
    })
}

/// The libseccomp action for an OCI action. errnoRet defaults to EPERM, as in runc.
fn action(
    action: LinuxSeccompAction,
    errno_ret: Option<u32>,
    syscall: &str,
) -> Result<ScmpAction, SeccompError> {
    let ret = errno_ret.unwrap_or(libc::EPERM as u32);
    Ok(match action {
        // SCMP_ACT_KILL predates KILL_PROCESS and has always meant "kill the thread".
        LinuxSeccompAction::ScmpActKill | LinuxSeccompAction::ScmpActKillThread => {
            ScmpAction::KillThread
        }
        LinuxSeccompAction::ScmpActKillProcess => ScmpAction::KillProcess,
        LinuxSeccompAction::ScmpActTrap => ScmpAction::Trap,
        LinuxSeccompAction::ScmpActErrno => {
            // libseccomp would silently keep only the low 16 bits.
            if ret > MAX_ERRNO {
                return Err(SeccompError::InvalidErrno {
                    syscall: syscall.to_owned(),
                    errno: ret,
                });
            }
            ScmpAction::Errno(ret as i32)
        }
        LinuxSeccompAction::ScmpActTrace => {
            let value = u16::try_from(ret).map_err(|_| SeccompError::InvalidTraceValue {
                syscall: syscall.to_owned(),
                value: ret,
            })?;
            ScmpAction::Trace(value)
        }
        LinuxSeccompAction::ScmpActNotify => ScmpAction::Notify,
        LinuxSeccompAction::ScmpActLog => ScmpAction::Log,
        LinuxSeccompAction::ScmpActAllow => ScmpAction::Allow,
    })
}

fn scmp_arch(arch: Arch) -> ScmpArch {
    match arch {
        Arch::ScmpArchNative => ScmpArch::Native,
        Arch::ScmpArchX86 => ScmpArch::X86,
        Arch::ScmpArchX86_64 => ScmpArch::X8664,
        Arch::ScmpArchX32 => ScmpArch::X32,
        Arch::ScmpArchArm => ScmpArch::Arm,
        Arch::ScmpArchAarch64 => ScmpArch::Aarch64,
        Arch::ScmpArchMips => ScmpArch::Mips,
        Arch::ScmpArchMips64 => ScmpArch::Mips64,
        Arch::ScmpArchMips64n32 => ScmpArch::Mips64N32,
        Arch::ScmpArchMipsel => ScmpArch::Mipsel,
        Arch::ScmpArchMipsel64 => ScmpArch::Mipsel64,
        Arch::ScmpArchMipsel64n32 => ScmpArch::Mipsel64N32,
        Arch::ScmpArchPpc => ScmpArch::Ppc,
        Arch::ScmpArchPpc64 => ScmpArch::Ppc64,
        Arch::ScmpArchPpc64le => ScmpArch::Ppc64Le,
        Arch::ScmpArchS390 => ScmpArch::S390,
        Arch::ScmpArchS390x => ScmpArch::S390X,
        Arch::ScmpArchParisc => ScmpArch::Parisc,
        Arch::ScmpArchParisc64 => ScmpArch::Parisc64,
        Arch::ScmpArchRiscv64 => ScmpArch::Riscv64,
        Arch::ScmpArchLoongarch64 => ScmpArch::Loongarch64,
        Arch::ScmpArchM68k => ScmpArch::M68k,
        Arch::ScmpArchSh => ScmpArch::Sh,
        Arch::ScmpArchSheb => ScmpArch::Sheb,
    }
}

/// The rule's argument conditions, validated up front so an error names the syscall
/// instead of surfacing as libseccomp's bare EINVAL.
fn conditions(
    args: &[LinuxSeccompArg],
    syscall: &str,
) -> Result<Vec<ScmpArgCompare>, SeccompError> {
    args.iter()
        .map(|arg| {
            let index = arg.index();
            if index >= MAX_SYSCALL_ARGS {
                return Err(SeccompError::InvalidArgIndex {
                    syscall: syscall.to_owned(),
                    index,
                });
            }
            let op = match arg.op() {
                LinuxSeccompOperator::ScmpCmpNe => ScmpCompareOp::NotEqual,
                LinuxSeccompOperator::ScmpCmpLt => ScmpCompareOp::Less,
                LinuxSeccompOperator::ScmpCmpLe => ScmpCompareOp::LessOrEqual,
                LinuxSeccompOperator::ScmpCmpEq => ScmpCompareOp::Equal,
                LinuxSeccompOperator::ScmpCmpGe => ScmpCompareOp::GreaterEqual,
                LinuxSeccompOperator::ScmpCmpGt => ScmpCompareOp::Greater,
                // OCI: `value` is the mask, `valueTwo` the value compared after masking.
                LinuxSeccompOperator::ScmpCmpMaskedEq => {
                    return Ok(ScmpArgCompare::new(
                        index as u32,
                        ScmpCompareOp::MaskedEqual(arg.value()),
                        arg.value_two().unwrap_or(0),
                    ));
                }
            };
            Ok(ScmpArgCompare::new(index as u32, op, arg.value()))
        })
        .collect()
}

/// runc's rule: conditions on distinct arguments are AND'ed in one rule; as soon as one
/// argument is tested twice, every condition becomes its own rule (OR'ed), because one
/// libseccomp rule cannot test an argument against two values.
fn add_rule(
    ctx: &mut ScmpFilterContext,
    syscall: ScmpSyscall,
    action: ScmpAction,
    conditions: &[ScmpArgCompare],
    repeated_index: bool,
) -> Result<(), LibseccompError> {
    if conditions.is_empty() {
        ctx.add_rule(action, syscall)?;
        return Ok(());
    }
    if repeated_index {
        for cond in conditions {
            ctx.add_rule_conditional(action, syscall, std::slice::from_ref(cond))?;
        }
    } else {
        ctx.add_rule_conditional(action, syscall, conditions)?;
    }
    Ok(())
}

/// Export the filter's BPF through a memfd (libseccomp 2.5 has no in-memory export) and
/// decode it into instructions.
fn export(ctx: &ScmpFilterContext) -> Result<Vec<SockFilter>, SeccompError> {
    let read_err = |source: std::io::Error| SeccompError::ExportRead { source };
    let fd = memfd_create(c"vessel-seccomp-bpf", MFdFlags::MFD_CLOEXEC)
        .map_err(|errno| read_err(errno.into()))?;
    let mut file = File::from(fd);
    ctx.export_bpf(&file)
        .map_err(|source| SeccompError::Export { source })?;
    let mut bytes = Vec::new();
    file.seek(SeekFrom::Start(0)).map_err(read_err)?;
    file.read_to_end(&mut bytes).map_err(read_err)?;
    let program = decode(&bytes)?;
    if program.is_empty() || program.len() > BPF_MAXINSNS {
        return Err(SeccompError::ProgramSize { len: program.len() });
    }
    Ok(program)
}

/// Instructions from the native-endian `struct sock_filter` array libseccomp writes.
fn decode(bytes: &[u8]) -> Result<Vec<SockFilter>, SeccompError> {
    const INSN: usize = std::mem::size_of::<SockFilter>();
    if !bytes.len().is_multiple_of(INSN) {
        return Err(SeccompError::MalformedProgram { len: bytes.len() });
    }
    Ok(bytes
        .chunks_exact(INSN)
        .map(|insn| SockFilter {
            code: u16::from_ne_bytes([insn[0], insn[1]]),
            jt: insn[2],
            jf: insn[3],
            k: u32::from_ne_bytes([insn[4], insn[5], insn[6], insn[7]]),
        })
        .collect())
}
