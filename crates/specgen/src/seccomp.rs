//! Docker seccomp profiles (the moby/profiles JSON format) evaluated into OCI `linux.seccomp`
//! for one container: rules gated on capabilities, architectures and kernel versions are kept
//! or dropped here, as moby's `setupSeccomp` does, so the runtime only compiles.

use crate::SpecError;
use oci_spec::runtime::{Arch, LinuxSeccomp, LinuxSeccompAction, LinuxSeccompArg, LinuxSyscall};
use serde::Deserialize;
use std::collections::BTreeSet;

/// Docker's default profile (moby/profiles v0.2.3), embedded as data.
pub const DEFAULT_PROFILE: &str = include_str!("../profiles/docker-default-seccomp.json");

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Profile {
    pub default_action: Option<LinuxSeccompAction>,
    pub default_errno_ret: Option<u32>,
    /// Old format: a flat list of architectures.
    pub architectures: Option<Vec<Arch>>,
    pub arch_map: Option<Vec<ArchMap>>,
    pub listener_path: Option<String>,
    pub listener_metadata: Option<String>,
    pub flags: Option<Vec<oci_spec::runtime::LinuxSeccompFilterFlag>>,
    pub syscalls: Option<Vec<Rule>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ArchMap {
    pub architecture: Arch,
    #[serde(default)]
    pub sub_architectures: Option<Vec<Arch>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Rule {
    pub name: Option<String>,
    pub names: Option<Vec<String>>,
    pub action: LinuxSeccompAction,
    pub errno_ret: Option<u32>,
    pub args: Option<Vec<LinuxSeccompArg>>,
    pub includes: Option<Filter>,
    pub excludes: Option<Filter>,
}

/// `includes` / `excludes`: `arches` are Go architecture names (`amd64`, `arm64`, `x86`…).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Filter {
    pub arches: Option<Vec<String>>,
    pub caps: Option<Vec<String>>,
    pub min_kernel: Option<String>,
}

/// What a profile is evaluated against.
#[derive(Debug, Clone)]
pub struct Target<'a> {
    /// Final capability set (`CAP_*` names); the bounding set decides, as in moby.
    pub caps: &'a BTreeSet<String>,
    /// Rust `std::env::consts::ARCH` of the host (`x86_64`, `aarch64`, …).
    pub arch: &'a str,
    /// Host kernel `(major, minor)`; `None` treats every `minKernel` as satisfied.
    pub kernel: Option<(u32, u32)>,
}

impl Profile {
    pub fn parse(json: &str) -> Result<Self, SpecError> {
        serde_json::from_str(json).map_err(SpecError::ParseSeccompProfile)
    }

    pub fn docker_default() -> Self {
        Self::parse(DEFAULT_PROFILE).expect("embedded default profile parses")
    }
}

/// Go's GOARCH for a Rust target arch, the vocabulary of `includes.arches`.
pub fn go_arch(rust_arch: &str) -> &str {
    match rust_arch {
        "x86_64" => "amd64",
        "x86" => "386",
        "aarch64" => "arm64",
        "powerpc64" => "ppc64le",
        "loongarch64" => "loong64",
        other => other,
    }
}

/// The libseccomp native architecture for a Rust target arch.
pub fn native_arch(rust_arch: &str) -> Option<Arch> {
    Some(match rust_arch {
        "x86_64" => Arch::ScmpArchX86_64,
        "x86" => Arch::ScmpArchX86,
        "aarch64" => Arch::ScmpArchAarch64,
        "arm" => Arch::ScmpArchArm,
        "s390x" => Arch::ScmpArchS390x,
        "riscv64" => Arch::ScmpArchRiscv64,
        "powerpc64" => Arch::ScmpArchPpc64le,
        "loongarch64" => Arch::ScmpArchLoongarch64,
        "mips64" => Arch::ScmpArchMips64,
        _ => return None,
    })
}

fn parse_kernel(v: &str) -> Option<(u32, u32)> {
    let mut it = v.split('.');
    let major = it.next()?.trim().parse().ok()?;
    let minor = it.next().map_or(Some(0), |m| m.trim().parse().ok())?;
    Some((major, minor))
}

fn kernel_at_least(target: &Target, min: &str) -> Result<bool, SpecError> {
    let want = parse_kernel(min).ok_or_else(|| SpecError::InvalidSeccompProfile {
        reason: format!("invalid minKernel {min:?}"),
    })?;
    Ok(match target.kernel {
        None => true,
        Some(k) => k >= want,
    })
}

/// Evaluate `profile` for one container.
pub fn evaluate(profile: &Profile, target: &Target) -> Result<LinuxSeccomp, SpecError> {
    if profile
        .architectures
        .as_ref()
        .is_some_and(|a| !a.is_empty())
        && profile.arch_map.as_ref().is_some_and(|a| !a.is_empty())
    {
        return Err(SpecError::InvalidSeccompProfile {
            reason: "both 'architectures' and 'archMap' are specified".into(),
        });
    }
    let goarch = go_arch(target.arch);
    let mut arches: Vec<Arch> = profile.architectures.clone().unwrap_or_default();
    if let (Some(map), Some(native)) = (&profile.arch_map, native_arch(target.arch)) {
        for m in map.iter().filter(|m| m.architecture == native) {
            arches.push(m.architecture);
            arches.extend(m.sub_architectures.iter().flatten().copied());
        }
    }

    let mut syscalls = Vec::new();
    'rules: for rule in profile.syscalls.iter().flatten() {
        let names = match (&rule.name, &rule.names) {
            (Some(_), Some(n)) if !n.is_empty() => {
                return Err(SpecError::InvalidSeccompProfile {
                    reason: "'name' and 'names' were specified in the seccomp profile, use either 'name' or 'names'".into(),
                })
            }
            (Some(n), _) => vec![n.clone()],
            (None, Some(n)) => n.clone(),
            (None, None) => Vec::new(),
        };
        if let Some(ex) = &rule.excludes {
            if ex.arches.iter().flatten().any(|a| a == goarch) {
                continue;
            }
            if ex.caps.iter().flatten().any(|c| target.caps.contains(c)) {
                continue;
            }
            if let Some(k) = &ex.min_kernel {
                if kernel_at_least(target, k)? {
                    continue;
                }
            }
        }
        if let Some(inc) = &rule.includes {
            if let Some(a) = &inc.arches {
                if !a.is_empty() && !a.iter().any(|a| a == goarch) {
                    continue;
                }
            }
            for c in inc.caps.iter().flatten() {
                if !target.caps.contains(c) {
                    continue 'rules;
                }
            }
            if let Some(k) = &inc.min_kernel {
                if !kernel_at_least(target, k)? {
                    continue;
                }
            }
        }
        let mut sc = LinuxSyscall::default();
        sc.set_names(names)
            .set_action(rule.action)
            .set_errno_ret(rule.errno_ret)
            .set_args(rule.args.clone());
        syscalls.push(sc);
    }

    let mut out = LinuxSeccomp::default();
    out.set_default_action(profile.default_action.ok_or_else(|| {
        SpecError::InvalidSeccompProfile {
            reason: "missing defaultAction".into(),
        }
    })?)
    .set_default_errno_ret(profile.default_errno_ret)
    .set_architectures((!arches.is_empty()).then_some(arches))
    .set_flags(profile.flags.clone())
    .set_listener_path(profile.listener_path.as_ref().map(Into::into))
    .set_listener_metadata(profile.listener_metadata.clone())
    .set_syscalls(Some(syscalls));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::LinuxSeccompOperator;

    fn default_caps() -> BTreeSet<String> {
        crate::caps::compute_caps(&[], &[], false).unwrap()
    }

    fn rules_for<'a>(s: &'a LinuxSeccomp, name: &str) -> Vec<&'a LinuxSyscall> {
        s.syscalls()
            .as_ref()
            .unwrap()
            .iter()
            .filter(|r| r.names().iter().any(|n| n == name))
            .collect()
    }

    fn eval(caps: &BTreeSet<String>, arch: &str) -> LinuxSeccomp {
        let t = Target {
            caps,
            arch,
            kernel: Some((6, 1)),
        };
        evaluate(&Profile::docker_default(), &t).unwrap()
    }

    #[test]
    fn default_profile_x86_64() {
        let s = eval(&default_caps(), "x86_64");
        assert_eq!(s.default_action(), LinuxSeccompAction::ScmpActErrno);
        assert_eq!(s.default_errno_ret(), Some(1));
        assert_eq!(
            s.architectures().as_deref().unwrap(),
            [Arch::ScmpArchX86_64, Arch::ScmpArchX86, Arch::ScmpArchX32]
        );
        // No CAP_SYS_ADMIN: mount is not allowed, clone only without namespace flags.
        assert!(rules_for(&s, "mount").is_empty());
        let clone = rules_for(&s, "clone");
        assert_eq!(clone.len(), 1);
        let arg = clone[0].args().as_ref().unwrap()[0];
        assert_eq!((arg.index(), arg.value()), (0, 2114060288));
        assert_eq!(arg.op(), LinuxSeccompOperator::ScmpCmpMaskedEq);
        // clone3 answers ENOSYS so libc falls back to clone.
        let clone3 = rules_for(&s, "clone3");
        assert_eq!(clone3.len(), 1);
        assert_eq!(clone3[0].action(), LinuxSeccompAction::ScmpActErrno);
        assert_eq!(clone3[0].errno_ret(), Some(38));
        // Arch-gated rules.
        assert_eq!(rules_for(&s, "arch_prctl").len(), 1);
        assert!(rules_for(&s, "s390_runtime_instr").is_empty());
        assert!(rules_for(&s, "breakpoint").is_empty());
        // chroot is included by CAP_SYS_CHROOT, a default cap.
        assert_eq!(rules_for(&s, "chroot").len(), 1);
        assert!(rules_for(&s, "reboot").is_empty());
    }

    #[test]
    fn cap_sys_admin_unlocks_mount() {
        let caps = crate::caps::compute_caps(&["SYS_ADMIN".into()], &[], false).unwrap();
        let s = eval(&caps, "x86_64");
        let mount = rules_for(&s, "mount");
        assert_eq!(mount.len(), 1);
        assert_eq!(mount[0].action(), LinuxSeccompAction::ScmpActAllow);
        // The unconditional clone rule replaces the masked one; clone3 is allowed.
        let clone = rules_for(&s, "clone");
        assert_eq!(clone.len(), 1);
        assert!(clone[0].args().is_none());
        assert!(rules_for(&s, "clone3")
            .iter()
            .all(|r| r.action() == LinuxSeccompAction::ScmpActAllow));
    }

    #[test]
    fn aarch64_arches_and_min_kernel() {
        let s = eval(&default_caps(), "aarch64");
        assert_eq!(
            s.architectures().as_deref().unwrap(),
            [Arch::ScmpArchAarch64, Arch::ScmpArchArm]
        );
        assert_eq!(rules_for(&s, "breakpoint").len(), 1);
        assert!(rules_for(&s, "arch_prctl").is_empty());

        let caps = default_caps();
        let old = Target {
            caps: &caps,
            arch: "x86_64",
            kernel: Some((4, 4)),
        };
        let s = evaluate(&Profile::docker_default(), &old).unwrap();
        assert!(rules_for(&s, "ptrace").is_empty(), "ptrace needs 4.8");
        let new = Target {
            caps: &caps,
            arch: "x86_64",
            kernel: Some((4, 8)),
        };
        let s = evaluate(&Profile::docker_default(), &new).unwrap();
        assert_eq!(rules_for(&s, "ptrace").len(), 1);
    }

    #[test]
    fn old_format_and_errors() {
        let p = Profile::parse(
            r#"{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_X86_64"],
                "syscalls":[{"name":"chmod","action":"SCMP_ACT_ERRNO"}]}"#,
        )
        .unwrap();
        let caps = default_caps();
        let t = Target {
            caps: &caps,
            arch: "x86_64",
            kernel: None,
        };
        let s = evaluate(&p, &t).unwrap();
        assert_eq!(
            s.syscalls().as_ref().unwrap()[0].names(),
            &["chmod".to_string()]
        );

        let p = Profile::parse(r#"{"syscalls":[]}"#).unwrap();
        assert!(evaluate(&p, &t).is_err());
        assert!(Profile::parse("{not json").is_err());
    }
}
