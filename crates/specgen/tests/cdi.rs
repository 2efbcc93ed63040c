//! CDI with a fake spec directory and fake device nodes.

mod common;

use common::*;
use oci_spec::runtime::Spec;
use std::path::Path;
use vessel_specgen::cdi::{names_for_requests, CdiRegistry};
use vessel_specgen::create::DeviceRequest;
use vessel_specgen::{apply_cdi, generate, SpecError, SpecInput};

const GPU_SPEC: &str = r#"{
  "cdiVersion": "0.6.0",
  "kind": "nvidia.com/gpu",
  "devices": [
    {"name": "0", "containerEdits": {"deviceNodes": [{"path": "/dev/nvidia0", "type": "c", "major": 195, "minor": 0, "permissions": "rw"}]}},
    {"name": "1", "containerEdits": {"deviceNodes": [{"path": "/dev/nvidia1"}], "env": ["GPU1=yes"]}}
  ],
  "containerEdits": {
    "env": ["NVIDIA_VISIBLE_DEVICES=void"],
    "deviceNodes": [{"path": "/dev/nvidiactl", "type": "c", "major": 195, "minor": 255}],
    "mounts": [{"hostPath": "/usr/lib/libcuda.so.1", "containerPath": "/usr/lib/libcuda.so.1", "options": ["ro", "nosuid", "nodev", "bind"]}],
    "hooks": [{"hookName": "createContainer", "path": "/usr/bin/nvidia-ctk", "args": ["nvidia-ctk", "hook", "update-ldcache"]}],
    "additionalGids": [44]
  }
}"#;

fn cdi_dir() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("nvidia.json"), GPU_SPEC).unwrap();
    std::fs::write(d.path().join("ignored.yaml"), "not: json").unwrap();
    d
}

fn devs() -> FakeDevices {
    FakeDevices::default().chr("/dev/nvidia1", 195, 1)
}

fn base_spec() -> Spec {
    let create = fixture("05_run_rm");
    let image = busybox();
    let root = rootfs();
    generate(&SpecInput::new(&create, &image, root.path().into(), ID)).unwrap()
}

fn dev_paths(spec: &Spec) -> Vec<String> {
    spec.linux()
        .as_ref()
        .unwrap()
        .devices()
        .iter()
        .flatten()
        .map(|d| d.path().display().to_string())
        .collect()
}

#[test]
fn apply_named_device() {
    let dir = cdi_dir();
    let mut spec = base_spec();
    apply_cdi(&mut spec, dir.path(), &["nvidia.com/gpu=0".into()], &devs()).unwrap();
    roundtrip(&spec);
    assert_eq!(dev_paths(&spec), ["/dev/nvidiactl", "/dev/nvidia0"]);
    let rules: Vec<String> = spec
        .linux()
        .as_ref()
        .unwrap()
        .resources()
        .as_ref()
        .unwrap()
        .devices()
        .iter()
        .flatten()
        .map(|r| r.to_string())
        .collect();
    assert_eq!(&rules[rules.len() - 2..], ["c 195:255 rwm", "c 195:0 rw"]);
    assert!(env(&spec).contains(&"NVIDIA_VISIBLE_DEVICES=void".to_string()));
    let m = mount(&spec, "/usr/lib/libcuda.so.1");
    assert_eq!(m.typ().as_deref(), Some("bind"));
    let hooks = spec
        .hooks()
        .as_ref()
        .unwrap()
        .create_container()
        .clone()
        .unwrap();
    assert_eq!(hooks[0].path(), Path::new("/usr/bin/nvidia-ctk"));
    let gids = spec
        .process()
        .as_ref()
        .unwrap()
        .user()
        .additional_gids()
        .clone()
        .unwrap();
    assert!(gids.contains(&44));
}

#[test]
fn all_devices_and_lookup_of_missing_numbers() {
    let dir = cdi_dir();
    let mut spec = base_spec();
    apply_cdi(
        &mut spec,
        dir.path(),
        &["nvidia.com/gpu=all".into()],
        &devs(),
    )
    .unwrap();
    assert_eq!(
        dev_paths(&spec),
        ["/dev/nvidiactl", "/dev/nvidia0", "/dev/nvidia1"]
    );
    let d1 = &spec.linux().as_ref().unwrap().devices().as_ref().unwrap()[2];
    assert_eq!(
        (d1.major(), d1.minor()),
        (195, 1),
        "numbers from the host node"
    );
    assert!(env(&spec).contains(&"GPU1=yes".to_string()));
    // Spec-level edits are applied once.
    assert_eq!(
        env(&spec)
            .iter()
            .filter(|e| e.starts_with("NVIDIA_VISIBLE_DEVICES"))
            .count(),
        1
    );
    assert_eq!(
        spec.hooks()
            .as_ref()
            .unwrap()
            .create_container()
            .as_ref()
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn errors() {
    let dir = cdi_dir();
    let mut spec = base_spec();
    let e = apply_cdi(&mut spec, dir.path(), &["nvidia.com/gpu=7".into()], &devs()).unwrap_err();
    assert!(
        matches!(e, SpecError::UnknownCdiDevice(ref n) if n == "nvidia.com/gpu=7"),
        "{e}"
    );
    assert!(matches!(
        apply_cdi(&mut spec, dir.path(), &["gpu0".into()], &devs()),
        Err(SpecError::InvalidCdiName(_))
    ));
    std::fs::write(dir.path().join("bad.json"), "{").unwrap();
    assert!(matches!(
        apply_cdi(&mut spec, dir.path(), &["nvidia.com/gpu=0".into()], &devs()),
        Err(SpecError::ParseCdiSpec { .. })
    ));
}

#[test]
fn gpus_flag_requests() {
    let dir = cdi_dir();
    let reg = CdiRegistry::load(&[dir.path().to_path_buf(), "/nonexistent/cdi".into()]).unwrap();
    let gpus_all = DeviceRequest {
        count: Some(-1),
        capabilities: Some(vec![vec!["gpu".into()]]),
        ..Default::default()
    };
    assert_eq!(
        names_for_requests(&[gpus_all], &reg).unwrap(),
        ["nvidia.com/gpu=all"]
    );
    let two = DeviceRequest {
        driver: Some("nvidia".into()),
        count: Some(2),
        ..Default::default()
    };
    assert_eq!(
        names_for_requests(&[two], &reg).unwrap(),
        ["nvidia.com/gpu=0", "nvidia.com/gpu=1"]
    );
    let ids = DeviceRequest {
        driver: Some("nvidia".into()),
        device_ids: Some(vec!["1".into()]),
        ..Default::default()
    };
    assert_eq!(
        names_for_requests(&[ids], &reg).unwrap(),
        ["nvidia.com/gpu=1"]
    );
    let cdi = DeviceRequest {
        driver: Some("cdi".into()),
        device_ids: Some(vec!["vendor.com/x=y".into()]),
        ..Default::default()
    };
    assert_eq!(
        names_for_requests(&[cdi], &reg).unwrap(),
        ["vendor.com/x=y"]
    );
    let three = DeviceRequest {
        driver: Some("nvidia".into()),
        count: Some(3),
        ..Default::default()
    };
    assert!(names_for_requests(&[three], &reg).is_err());
    let other = DeviceRequest {
        driver: Some("amd".into()),
        ..Default::default()
    };
    assert!(names_for_requests(&[other], &reg).is_err());
}

#[test]
fn generate_with_gpus_all() {
    let dir = cdi_dir();
    let mut create = fixture("05_run_rm");
    create.host_config.as_mut().unwrap().device_requests = Some(vec![DeviceRequest {
        count: Some(-1),
        capabilities: Some(vec![vec!["gpu".into()]]),
        ..Default::default()
    }]);
    let image = busybox();
    let root = rootfs();
    let lookup = devs();
    let mut input = SpecInput::new(&create, &image, root.path().into(), ID);
    input.cdi_spec_dirs = vec![dir.path().to_path_buf()];
    input.device_lookup = &lookup;
    let spec = generate(&input).unwrap();
    roundtrip(&spec);
    assert_eq!(dev_paths(&spec).len(), 3);

    // No CDI directory configured: the request cannot be satisfied.
    let mut input = SpecInput::new(&create, &image, root.path().into(), ID);
    input.device_lookup = &lookup;
    assert!(matches!(
        generate(&input),
        Err(SpecError::UnknownCdiDevice(_))
    ));
}
