//! The same bundle under runc and under vessel-runtime shows the same things from inside.

mod common;

use common::{can_run, text, Bundle};

#[test]
fn same_observations_as_runc() {
    if !can_run() {
        return;
    }
    let Ok(runc) = which("runc") else {
        eprintln!("skipping: runc not installed (apt-get install runc)");
        return;
    };
    let script = "echo pid=$$; hostname; ls /sys/class/net; grep -E 'Cap(Eff|Bnd|Prm|Inh)|NoNewPrivs|Seccomp:' /proc/self/status; \
                  id; pwd; cat /proc/timer_list | wc -c; ls /dev | sort | tr '\\n' ' '; echo; \
                  touch /proc/sys/x 2>&1 | sed 's/.*: //'; mount | grep -c ' /dev/pts '";
    let mut observed = Vec::new();
    for bin in [common::BIN, runc.as_str()] {
        let mut b = Bundle::new("parity");
        b.args(&["sh", "-c", script]);
        let out = b.run_with(bin);
        assert!(out.status.success(), "{bin}: {}", text(&out.stderr));
        observed.push(text(&out.stdout));
    }
    assert!(
        observed[0].contains("pid=1\nvessel-test\nlo\n"),
        "{}",
        observed[0]
    );
    assert_eq!(
        observed[0], observed[1],
        "vessel-runtime (left) vs runc (right)"
    );
}

fn which(name: &str) -> Result<String, ()> {
    let out = std::process::Command::new("sh")
        .args(["-c", &format!("command -v {name}")])
        .output()
        .map_err(|_| ())?;
    let path = text(&out.stdout).trim().to_string();
    if path.is_empty() {
        Err(())
    } else {
        Ok(path)
    }
}
