//! The create body for a flag set must match, byte for byte, what docker CLI 28 sent for the
//! same flags (captured in shared/reference/docker-api/transcripts, copied to testdata/).

use super::*;
use clap::Parser;

#[derive(Parser)]
#[command(disable_help_flag = true)]
struct T {
    #[command(flatten)]
    o: ContainerOpts,
}

fn opts(args: &[&str]) -> ContainerOpts {
    T::try_parse_from(std::iter::once("run").chain(args.iter().copied()))
        .unwrap()
        .o
}

fn body(args: &[&str], detached: bool) -> Result<String, String> {
    let lookup = |k: &str| (k == "FROM_HOST").then(|| "yes".to_string());
    let read = |p: &str| match p {
        "app.env" => Ok("# c\nA=1\nFROM_HOST\n".to_string()),
        "prof.json" => Ok("{ \"defaultAction\": \"SCMP_ACT_ALLOW\" }".to_string()),
        _ => Err(std::io::Error::from(std::io::ErrorKind::NotFound)),
    };
    let env = Env {
        lookup: &lookup,
        read_file: &read,
        cwd: PathBuf::from("/home/user/demo"),
        console: [30, 100],
    };
    opts(args)
        .to_body(detached, &env)
        .map(|b| serde_json::to_string(&b).unwrap())
}

fn golden(name: &str) -> String {
    let p = format!(
        "{}/src/runopts/testdata/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(p).unwrap().trim().to_string()
}

#[test]
fn run_rm_matches_docker() {
    assert_eq!(
        body(&["--rm", "bb", "echo", "hi"], false).unwrap(),
        golden("run_rm")
    );
}

#[test]
fn run_mounts_matches_docker() {
    let args = [
        "--rm",
        "--network",
        "none",
        "-e",
        "FOO=bar",
        "-w",
        "/data",
        "-v",
        "vol:/data",
        "-v",
        "./www:/www:ro",
        "--mount",
        "type=tmpfs,dst=/t",
        "-l",
        "k=v",
        "bb",
        "ls",
        "/data",
        "/www",
    ];
    assert_eq!(body(&args, false).unwrap(), golden("run_mounts"));
}

#[test]
fn run_d_matches_docker() {
    let args = [
        "-d",
        "--name",
        "web",
        "-p",
        "127.0.0.1:18080:8080",
        "bb",
        "busybox",
        "httpd",
        "-f",
        "-v",
        "-p",
        "8080",
    ];
    let o = opts(&args[1..]);
    assert_eq!(o.name.as_deref(), Some("web"));
    assert_eq!(body(&args[1..], true).unwrap(), golden("run_d"));
}

#[test]
fn run_it_matches_docker() {
    assert_eq!(
        body(&["-it", "--rm", "--network", "none", "bb", "sh"], false).unwrap(),
        golden("run_it_rm")
    );
}

#[test]
fn flags_after_the_image_belong_to_the_command() {
    let o = opts(&["bb", "ls", "-l", "-e", "x"]);
    assert_eq!(o.image_and_cmd, vec!["bb", "ls", "-l", "-e", "x"]);
    assert!(o.env.is_empty());
}

#[test]
fn resources_and_security() {
    let b = body(
        &[
            "-m",
            "512m",
            "--memory-swap",
            "-1",
            "--cpus",
            "1.5",
            "--cpu-shares",
            "512",
            "--cpuset-cpus",
            "0-1",
            "--pids-limit",
            "100",
            "--blkio-weight",
            "300",
            "--ulimit",
            "nofile=1024:2048",
            "--cap-add",
            "NET_ADMIN",
            "--cap-drop",
            "ALL",
            "--privileged",
            "--security-opt",
            "seccomp=prof.json",
            "--security-opt",
            "no-new-privileges",
            "--device",
            "/dev/fuse",
            "--init",
            "--restart",
            "on-failure:3",
            "--read-only",
            "--tmpfs",
            "/run:size=1m",
            "--runtime",
            "crun",
            "--log-opt",
            "max-size=1m",
            "--stop-signal",
            "SIGINT",
            "--stop-timeout",
            "5",
            "-h",
            "box",
            "-u",
            "1000:1000",
            "--entrypoint",
            "",
            "--env-file",
            "app.env",
            "-e",
            "FROM_HOST",
            "-e",
            "NOPE",
            "--health-cmd",
            "true",
            "--health-interval",
            "2s",
            "--health-retries",
            "3",
            "-v",
            "/anon",
            "bb",
        ],
        false,
    )
    .unwrap();
    let v: Value = serde_json::from_str(&b).unwrap();
    let hc = &v["HostConfig"];
    assert_eq!(hc["Memory"], 512 << 20);
    assert_eq!(hc["MemorySwap"], -1);
    assert_eq!(hc["NanoCpus"], 1_500_000_000i64);
    assert_eq!(hc["CpuShares"], 512);
    assert_eq!(hc["CpusetCpus"], "0-1");
    assert_eq!(hc["PidsLimit"], 100);
    assert_eq!(hc["BlkioWeight"], 300);
    assert_eq!(
        hc["Ulimits"][0],
        serde_json::json!({"Name":"nofile","Hard":2048,"Soft":1024})
    );
    assert_eq!(hc["CapAdd"][0], "NET_ADMIN");
    assert_eq!(hc["CapDrop"][0], "ALL");
    assert_eq!(hc["Privileged"], true);
    assert_eq!(
        hc["SecurityOpt"][0],
        r#"seccomp={"defaultAction":"SCMP_ACT_ALLOW"}"#
    );
    assert_eq!(hc["SecurityOpt"][1], "no-new-privileges");
    assert_eq!(hc["Devices"][0]["PathInContainer"], "/dev/fuse");
    assert_eq!(hc["Init"], true);
    assert_eq!(
        hc["RestartPolicy"],
        serde_json::json!({"Name":"on-failure","MaximumRetryCount":3})
    );
    assert_eq!(hc["ReadonlyRootfs"], true);
    assert_eq!(hc["Tmpfs"]["/run"], "size=1m");
    assert_eq!(hc["Runtime"], "crun");
    assert_eq!(hc["LogConfig"]["Config"]["max-size"], "1m");
    assert_eq!(v["StopSignal"], "SIGINT");
    assert_eq!(v["StopTimeout"], 5);
    assert_eq!(v["Hostname"], "box");
    assert_eq!(v["User"], "1000:1000");
    assert_eq!(v["Entrypoint"], serde_json::json!([""]));
    assert_eq!(
        v["Env"],
        serde_json::json!(["A=1", "FROM_HOST=yes", "FROM_HOST=yes"])
    );
    assert_eq!(v["Cmd"], Value::Null);
    assert_eq!(v["Volumes"], serde_json::json!({"/anon":{}}));
    assert_eq!(
        v["Healthcheck"],
        serde_json::json!({"Test":["CMD-SHELL","true"],"Interval":2_000_000_000i64,"Retries":3})
    );
}

#[test]
fn bad_values_name_the_flag() {
    let e = body(&["-m", "12x", "bb"], false).unwrap_err();
    assert_eq!(
        e,
        "invalid argument \"12x\" for \"-m, --memory\" flag: invalid size: '12x'"
    );
    let e = body(&["--ulimit", "nofile=a", "bb"], false).unwrap_err();
    assert!(e.contains("--ulimit"), "{e}");
    let e = body(&["--rm", "--restart", "always", "bb"], false).unwrap_err();
    assert_eq!(e, "Conflicting options: --restart and --rm");
    let e = body(&["--env-file", "missing.env", "bb"], false).unwrap_err();
    assert!(e.contains("missing.env"), "{e}");
    let e = body(&["-p", "80/xyz", "bb"], false).unwrap_err();
    assert!(e.contains("-p, --publish"), "{e}");
}
