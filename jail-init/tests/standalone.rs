//! jail-init run on its own, outside a jail: it must refuse cleanly, never hang, and say
//! which step failed. (Also: `cargo test --workspace` builds the jail-init binary because of
//! this test, which the supervisor's integration tests then find next to jailctl.)
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn run_jail_init(configure: impl FnOnce(&mut Command)) -> std::process::Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_jail-init"));
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    configure(&mut cmd);
    let start = Instant::now();
    let out = cmd.output().expect("jail-init starts");
    assert!(start.elapsed() < Duration::from_secs(5), "jail-init took {:?}", start.elapsed());
    out
}

#[test]
fn without_a_plan_it_exits_with_the_setup_failure_status() {
    // No fd 3 (plan) and no fd 4 (control socket): the first step fails.
    let out = run_jail_init(|_| {});
    assert_eq!(out.status.code(), Some(jail_init::protocol::EXIT_SETUP_FAILED), "{out:?}");
}

#[test]
fn a_malformed_plan_is_refused() {
    use std::os::unix::process::CommandExt;
    let dir = tempfile::tempdir().unwrap();
    let plan = dir.path().join("plan");
    std::fs::write(&plan, b"{not a plan").unwrap();
    let file = std::fs::File::open(&plan).unwrap();
    let (ours, theirs) = std::os::unix::net::UnixDatagram::pair().unwrap();
    ours.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    use std::os::fd::{AsRawFd, IntoRawFd};
    let plan_fd = file.into_raw_fd();
    let control_fd = theirs.as_raw_fd();
    let out = run_jail_init(|cmd| {
        // SAFETY: fcntl and dup2 are async-signal-safe and only touch the child's descriptor
        // table. The sources are first moved above 100 so that neither can be a target (dup2
        // of an fd onto itself would keep O_CLOEXEC).
        unsafe {
            cmd.pre_exec(move || {
                let plan = libc::fcntl(plan_fd, libc::F_DUPFD, 100);
                let control = libc::fcntl(control_fd, libc::F_DUPFD, 100);
                if plan < 0 || control < 0 || libc::dup2(plan, 3) < 0 || libc::dup2(control, 4) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
    });
    assert_eq!(out.status.code(), Some(jail_init::protocol::EXIT_SETUP_FAILED), "{out:?}");
    let mut buf = [0u8; 4096];
    let n = ours.recv(&mut buf).expect("jail-init reported the failure");
    match jail_init::protocol::Record::decode(&buf[..n]) {
        Some(jail_init::protocol::Record::Failed { step, detail, .. }) => {
            assert_eq!(step, "read_plan");
            assert!(detail.contains("malformed plan"), "{detail}");
        }
        other => panic!("expected a Failed record, got {other:?}"),
    }
}
