//! Unit tests, none needing root: compilation, the cache, and Docker's default profile
//! loaded in a forked no_new_privs child (rule-by-rule load tests: tests/seccomp_load.rs).

use std::cell::Cell;
use std::os::fd::AsFd;
use std::path::Path;

use oci_spec::runtime::{Arch, LinuxSeccomp};
use serde_json::{json, Value};

use super::build::{FilterBuilder, Libseccomp};
use super::*;

/// `ret` with a constant: how every seccomp action ends up in the program.
const BPF_RET_K: u16 = 0x06;
const SECCOMP_RET_ERRNO: u32 = 0x0005_0000;
const SECCOMP_RET_ALLOW: u32 = 0x7fff_0000;
const DOCKER_PROFILE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/reference/security/docker-default-seccomp.json"
);

fn spec(value: Value) -> LinuxSeccomp {
    serde_json::from_value(value).expect("valid OCI seccomp section")
}

fn returns(filter: &CompiledFilter, k: u32) -> bool {
    filter
        .program
        .iter()
        .any(|insn| insn.code == BPF_RET_K && insn.k == k)
}

/// Docker's capabilities and architecture names, for evaluating its profile's
/// `includes`/`excludes` the way dockerd does for a default container.
const DOCKER_DEFAULT_CAPS: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
];

fn docker_arch() -> (&'static str, &'static str) {
    match std::env::consts::ARCH {
        "x86_64" => ("amd64", "SCMP_ARCH_X86_64"),
        "aarch64" => ("arm64", "SCMP_ARCH_AARCH64"),
        other => panic!("no Docker arch name for {other}"),
    }
}

/// Docker's profile format → the OCI section dockerd would put in config.json (moby
/// profiles/seccomp/seccomp_linux.go): arch map for the native arch, rules filtered by
/// arch and capabilities. `minKernel` is taken as met: CI kernels are far newer than 4.8.
fn docker_to_oci(profile: &Value, caps: &[&str]) -> LinuxSeccomp {
    let (arch, scmp_arch) = docker_arch();
    let names = |v: &Value| -> Vec<String> {
        v.as_array()
            .into_iter()
            .flatten()
            .filter_map(|s| s.as_str().map(String::from))
            .collect()
    };
    let architectures: Vec<String> = profile["archMap"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|entry| entry["architecture"] == scmp_arch)
        .flat_map(|entry| {
            std::iter::once(scmp_arch.to_owned()).chain(names(&entry["subArchitectures"]))
        })
        .collect();
    let syscalls: Vec<Value> = profile["syscalls"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|rule| {
            let inc_arches = names(&rule["includes"]["arches"]);
            let inc_caps = names(&rule["includes"]["caps"]);
            let exc_arches = names(&rule["excludes"]["arches"]);
            let exc_caps = names(&rule["excludes"]["caps"]);
            (inc_arches.is_empty() || inc_arches.iter().any(|a| a == arch))
                && inc_caps.iter().all(|c| caps.contains(&c.as_str()))
                && !exc_arches.iter().any(|a| a == arch)
                && !exc_caps.iter().any(|c| caps.contains(&c.as_str()))
        })
        .map(|rule| {
            let mut out = json!({ "names": rule["names"], "action": rule["action"] });
            for field in ["errnoRet", "args"] {
                if !rule[field].is_null() {
                    out[field] = rule[field].clone();
                }
            }
            out
        })
        .collect();
    spec(json!({
        "defaultAction": profile["defaultAction"],
        "defaultErrnoRet": profile["defaultErrnoRet"],
        "architectures": architectures,
        "syscalls": syscalls,
    }))
}

fn docker_default() -> LinuxSeccomp {
    let text = std::fs::read_to_string(DOCKER_PROFILE).expect("Docker's profile in shared/");
    docker_to_oci(&serde_json::from_str(&text).unwrap(), DOCKER_DEFAULT_CAPS)
}

#[test]
fn docker_default_profile_compiles() {
    let seccomp = docker_default();
    assert!(seccomp.syscalls().as_ref().unwrap().len() > 10);
    let filter = compile(&seccomp, None).unwrap();
    assert!(
        filter.program.len() > 100,
        "{} instructions",
        filter.program.len()
    );
    assert!(filter.program.len() <= BPF_MAXINSNS);
    assert!(!filter.wants_listener);
    assert_eq!(filter.flags, 0);
    // defaultErrnoRet 1, and clone3 → ENOSYS so glibc falls back to clone.
    assert!(returns(&filter, SECCOMP_RET_ERRNO | libc::EPERM as u32));
    assert!(returns(&filter, SECCOMP_RET_ERRNO | libc::ENOSYS as u32));
    assert!(returns(&filter, SECCOMP_RET_ALLOW));
}

#[test]
fn unknown_syscall_names_are_skipped() {
    let rule = |names: Value| {
        spec(json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{ "names": names, "action": "SCMP_ACT_ERRNO" }],
        }))
    };
    let known = compile(&rule(json!(["mkdir"])), None).unwrap();
    let mixed = compile(
        &rule(json!(["not_a_syscall", "mkdir", "cachestat_from_2099"])),
        None,
    );
    assert_eq!(mixed.unwrap(), known);
}

#[test]
fn rule_with_default_action_is_skipped() {
    let allow_only = spec(json!({ "defaultAction": "SCMP_ACT_ALLOW" }));
    let redundant = spec(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{ "names": ["getpid"], "action": "SCMP_ACT_ALLOW" }],
    }));
    assert_eq!(
        compile(&redundant, None).unwrap(),
        compile(&allow_only, None).unwrap()
    );
}

#[test]
fn errno_ret_is_honoured() {
    let filter = compile(
        &spec(json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [
                { "names": ["uname"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38 },
                { "names": ["mkdir"], "action": "SCMP_ACT_ERRNO" },
            ],
        })),
        None,
    )
    .unwrap();
    assert!(returns(&filter, SECCOMP_RET_ERRNO | 38));
    assert!(
        returns(&filter, SECCOMP_RET_ERRNO | libc::EPERM as u32),
        "EPERM default"
    );
}

#[test]
fn args_conditions_produce_comparisons() {
    let with_args = |args: Value| {
        compile(
            &spec(json!({
                "defaultAction": "SCMP_ACT_ALLOW",
                "syscalls": [{ "names": ["personality"], "action": "SCMP_ACT_ERRNO", "args": args }],
            })),
            None,
        )
        .unwrap()
    };
    let plain = with_args(json!([]));
    let and = with_args(json!([
        { "index": 0, "value": 8, "op": "SCMP_CMP_EQ" },
        { "index": 1, "value": 0xff, "valueTwo": 3, "op": "SCMP_CMP_MASKED_EQ" },
    ]));
    let or = with_args(json!([
        { "index": 0, "value": 8, "op": "SCMP_CMP_EQ" },
        { "index": 0, "value": 0x20008, "op": "SCMP_CMP_EQ" },
    ]));
    // The compared constants appear as jeq/and immediates in the program.
    for (filter, k) in [(&and, 8), (&and, 0xff), (&and, 3), (&or, 8), (&or, 0x20008)] {
        assert!(filter.program.iter().any(|i| i.k == k), "{k:#x} missing");
    }
    assert!(and.program.len() > plain.program.len());
    assert!(or.program.len() > plain.program.len());
}

#[test]
fn flags_and_notify_are_recorded() {
    let filter = compile(
        &spec(json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "flags": ["SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW"],
            "syscalls": [{ "names": ["getppid"], "action": "SCMP_ACT_NOTIFY" }],
        })),
        None,
    )
    .unwrap();
    assert!(filter.wants_listener);
    assert_eq!(
        filter.flags,
        libc::SECCOMP_FILTER_FLAG_LOG | libc::SECCOMP_FILTER_FLAG_SPEC_ALLOW
    );
}

#[test]
fn invalid_actions_are_rejected_with_the_syscall_named() {
    let err = compile(&spec(json!({ "defaultAction": "SCMP_ACT_NOTIFY" })), None).unwrap_err();
    assert!(matches!(err, SeccompError::NotifyDefaultAction), "{err}");

    let errno = spec(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{ "names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 70000 }],
    }));
    let err = compile(&errno, None).unwrap_err();
    assert!(
        matches!(&err, SeccompError::InvalidErrno { syscall, errno: 70000 } if syscall == "mkdir"),
        "{err}"
    );
    assert!(err.to_string().contains("mkdir"), "{err}");

    let index = spec(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{ "names": ["mmap"], "action": "SCMP_ACT_ERRNO",
                       "args": [{ "index": 6, "value": 1, "op": "SCMP_CMP_EQ" }] }],
    }));
    let err = compile(&index, None).unwrap_err();
    assert!(
        matches!(err, SeccompError::InvalidArgIndex { index: 6, .. }),
        "{err}"
    );

    let write = spec(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{ "names": ["read", "write"], "action": "SCMP_ACT_NOTIFY" }],
    }));
    let err = compile(&write, None).unwrap_err();
    assert!(matches!(&err, SeccompError::NotifyForbidden { syscall } if syscall == "write"));

    // Unknown action strings never reach us: the typed OCI section refuses them.
    let bogus = json!({ "defaultAction": "SCMP_ACT_BOGUS" });
    assert!(serde_json::from_value::<LinuxSeccomp>(bogus).is_err());
}

#[test]
fn architectures_libseccomp_lacks_are_rejected() {
    // libseccomp learnt LoongArch, M68k and SuperH only in 2.6.
    let version = Libseccomp.library_version();
    let old = ["2.4.", "2.5."]
        .iter()
        .any(|prefix| version.starts_with(prefix));
    let result = compile(
        &spec(json!({ "defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_M68K"] })),
        None,
    );
    match result {
        Err(
            err @ SeccompError::UnsupportedArch {
                arch: Arch::ScmpArchM68k,
                ..
            },
        ) => assert!(err.to_string().contains("SCMP_ARCH_M68K"), "{err}"),
        Ok(_) if !old => {}
        other => panic!("libseccomp {version}: {other:?}"),
    }
    // Names outside the OCI list never reach us: the typed section refuses them.
    let z80 = json!({ "defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_Z80"] });
    assert!(serde_json::from_value::<LinuxSeccomp>(z80).is_err());
}

/// The real compiler, counting how often it runs.
#[derive(Default)]
struct Counting {
    builds: Cell<usize>,
}

impl FilterBuilder for Counting {
    fn library_version(&self) -> String {
        Libseccomp.library_version()
    }
    fn build(&self, seccomp: &LinuxSeccomp) -> Result<CompiledFilter, SeccompError> {
        self.builds.set(self.builds.get() + 1);
        Libseccomp.build(seccomp)
    }
}

fn only_entry(dir: &Path) -> std::path::PathBuf {
    let entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(entries.len(), 1, "{entries:?}");
    entries.into_iter().next().unwrap()
}

#[test]
fn cache_hit_skips_the_compiler_and_keeps_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("seccomp");
    let counting = Counting::default();
    let seccomp = docker_default();

    let first = compile_with(&counting, &seccomp, Some(&cache)).unwrap();
    let file = only_entry(&cache);
    assert!(file.extension().is_some_and(|ext| ext == "bpf"));
    let mtime = std::fs::metadata(&file).unwrap().modified().unwrap();

    let second = compile_with(&counting, &seccomp, Some(&cache)).unwrap();
    assert_eq!(second, first);
    assert_eq!(counting.builds.get(), 1);
    assert_eq!(std::fs::metadata(&file).unwrap().modified().unwrap(), mtime);
    // The public entry point reads the same entry.
    assert_eq!(compile(&seccomp, Some(&cache)).unwrap(), first);
}

#[test]
fn corrupt_cache_file_is_ignored_and_rewritten() {
    let dir = tempfile::tempdir().unwrap();
    let counting = Counting::default();
    let seccomp = spec(json!({
        "defaultAction": "SCMP_ACT_ERRNO",
        "syscalls": [{ "names": ["read", "write", "exit_group"], "action": "SCMP_ACT_ALLOW" }],
    }));
    let good = compile_with(&counting, &seccomp, Some(dir.path())).unwrap();
    let file = only_entry(dir.path());
    let bytes = std::fs::read(&file).unwrap();

    std::fs::write(&file, &bytes[..bytes.len() / 2]).unwrap();
    assert_eq!(
        compile_with(&counting, &seccomp, Some(dir.path())).unwrap(),
        good
    );
    assert_eq!(counting.builds.get(), 2);
    assert_eq!(std::fs::read(&file).unwrap(), bytes, "rewritten whole");
    assert_eq!(only_entry(dir.path()), file, "no temp file left behind");

    assert_eq!(
        compile_with(&counting, &seccomp, Some(dir.path())).unwrap(),
        good
    );
    assert_eq!(counting.builds.get(), 2);
}

#[test]
fn unwritable_cache_still_compiles() {
    let dir = tempfile::tempdir().unwrap();
    let not_a_dir = dir.path().join("file");
    std::fs::write(&not_a_dir, b"").unwrap();
    let seccomp = spec(json!({ "defaultAction": "SCMP_ACT_ALLOW" }));
    assert!(compile(&seccomp, Some(&not_a_dir)).is_ok());
}

#[test]
fn load_rejects_empty_program_without_calling_the_kernel() {
    let empty = CompiledFilter {
        program: vec![],
        flags: 0,
        wants_listener: false,
    };
    assert!(matches!(
        load(&empty),
        Err(SeccompError::ProgramSize { len: 0 })
    ));
}

#[test]
fn send_listener_fd_refuses_empty_state() {
    let file = std::fs::File::open("/dev/null").unwrap();
    let err = send_listener_fd(Path::new("/nonexistent"), file.as_fd(), b"").unwrap_err();
    assert!(matches!(err, SeccompError::EmptyState));
}

/// Docker's profile loaded for real in a forked child (no_new_privs, so no root): the
/// container's view is what counts, not the bytes we produced.
#[test]
fn docker_default_profile_loads_and_filters() {
    let filter = compile(&docker_default(), None).unwrap();
    // SAFETY: the child only makes raw syscalls and _exits; nothing is allocated.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork: {}", std::io::Error::last_os_error());
    if pid == 0 {
        let errno = || std::io::Error::last_os_error().raw_os_error().unwrap_or(0);
        // SAFETY: prctl with integer arguments.
        let code = if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
            10
        } else if load(&filter).is_err() {
            77 // the kernel refused seccomp: reported as a skip below
               // SAFETY: clone3 with a NULL args pointer is refused before it could do anything.
        } else if unsafe { libc::syscall(libc::SYS_clone3, 0usize, 0usize) } != -1
            || errno() != libc::ENOSYS
        {
            11 // Docker answers ENOSYS so glibc falls back to clone(2)
               // SAFETY: keyctl(KEYCTL_GET_KEYRING_ID, ...) with integer arguments.
        } else if unsafe { libc::syscall(libc::SYS_keyctl, 0, 0, 0) } != -1
            || errno() != libc::EPERM
        {
            12 // not in the allow list: the default ERRNO(EPERM)
               // SAFETY: getppid has no arguments.
        } else if unsafe { libc::getppid() } <= 0 {
            13
        } else {
            0
        };
        // SAFETY: leave the forked test process without unwinding into the harness.
        unsafe { libc::_exit(code) };
    }
    let mut status = 0;
    // SAFETY: waiting for the child we just forked.
    assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
    assert!(libc::WIFEXITED(status), "child status {status:#x}");
    match libc::WEXITSTATUS(status) {
        0 => {}
        77 => eprintln!("skipped: the kernel refused seccomp(SECCOMP_SET_MODE_FILTER)"),
        code => panic!("child check {code} failed"),
    }
}
