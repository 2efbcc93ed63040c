//! `run_blocking` stops cleanly on SIGTERM. Alone in its test binary: the signal goes to the
//! whole process.

mod common;

use std::time::{Duration, Instant};

#[test]
fn sigterm_stops_the_daemon_and_removes_the_socket() {
    let dir = tempfile::Builder::new()
        .prefix("vessel-engine-sig-")
        .tempdir()
        .unwrap();
    let config = common::config_in(dir.path());
    let socket = config.socket.clone();
    let daemon = std::thread::spawn(move || vessel_engine::run_blocking(config));
    let deadline = Instant::now() + Duration::from_secs(20);
    while !socket.exists() {
        assert!(Instant::now() < deadline, "daemon did not start");
        assert!(!daemon.is_finished(), "daemon exited early");
        std::thread::sleep(Duration::from_millis(20));
    }
    let r = common::http(&socket, "GET", "/_ping", b"");
    assert_eq!(r.status, 200);
    nix::sys::signal::kill(nix::unistd::getpid(), nix::sys::signal::Signal::SIGTERM).unwrap();
    daemon.join().unwrap().unwrap();
    assert!(!socket.exists());
    assert!(!dir.path().join("run/vessel.pid").exists());
}
