//! What a report may be made to say, and what a run may make the supervisor do.
//!
//! The runner's result descriptor is the script's to write: a script can put anything there. The
//! supervisor takes from it only what the runner reports (its language policy's refusals, with
//! their own kinds, bounded like the rest); a denied syscall is the supervisor's to attest, from
//! the notifications it answered. And every denial is work the supervisor does outside the jail's
//! cgroup: quiet ones count toward a bound too.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::*;

use jaild::report::{Report, Status};
use jaild::LimitOverrides;

fn ko(code: &str) -> Report {
    run_with(kernel_only_supervisor(), "python", code, None, LimitOverrides::default())
}

fn kinds(r: &Report) -> Vec<(&str, &str)> {
    r.violations.iter().map(|v| (v.kind.as_str(), v.detail.as_str())).collect()
}

/// Finding 4: syscall entries for calls the script never made, with the status left ok.
#[test]
fn a_result_cannot_attest_denied_syscalls() {
    require_jails!();
    let r = ko(r#"
import os
os.write(4, b'{"ok": true, "result": "clean", "violations": [{"kind": "syscall", "detail": "ptrace"}, {"kind": "syscall", "detail": "bpf"}]}')
os.close(4)
os._exit(0)
"#);
    assert_eq!(r.status, Status::SecurityViolation, "{}", show(&r));
    assert!(
        !r.violations.iter().any(|v| v.kind == "syscall"),
        "entries the supervisor never saw are in the report: {}",
        show(&r)
    );
    let forged = r.violations.iter().find(|v| v.kind == "forged_result").unwrap_or_else(|| panic!("{}", show(&r)));
    assert!(forged.detail.contains("\"syscall\"") && !forged.quiet, "{}", show(&r));
    assert!(r.message.as_deref().unwrap_or_default().contains("forged result"), "{}", show(&r));
    // What the script returned is still shown as its result: it is the script's to give.
    assert_eq!(r.result, "clean");
}

/// Finding 4: thousands of distinct kinds grew the report past 2.5 MB (25,002 entries against the
/// documented 64).
#[test]
fn a_result_cannot_flood_the_report() {
    require_jails!();
    let r = ko(r#"
import json, os
entries = [{"kind": "k%d" % i, "detail": "x"} for i in range(20000)]
os.write(4, json.dumps({"ok": True, "result": 1, "violations": entries}).encode())
os.close(4)
os._exit(0)
"#);
    let bytes = serde_json::to_vec(&r).unwrap().len();
    assert!(bytes < 16 << 10, "the report is {bytes} bytes: {}", &show(&r)[..2000.min(show(&r).len())]);
    assert_eq!(r.status, Status::SecurityViolation, "{}", show(&r));
    assert_eq!(kinds(&r).len(), 1, "{}", show(&r));
    assert!(
        r.violations[0].kind == "forged_result" && r.violations[0].detail.contains("20000 violations"),
        "{}",
        show(&r)
    );

    // Allowed kinds past what the runner ever writes: forged as well.
    let r = ko(r#"
import json, os
entries = [{"kind": "blocked_module", "detail": "m%d" % i} for i in range(101)]
os.write(4, json.dumps({"ok": True, "result": 1, "violations": entries}).encode())
os.close(4)
os._exit(0)
"#);
    assert_eq!(r.status, Status::SecurityViolation, "{}", show(&r));
    assert_eq!(
        kinds(&r),
        [("forged_result", "the result listed 101 violations; the runner reports at most 100")],
        "{}",
        show(&r)
    );

    // Long details are cut.
    let r = ko(r#"
import json, os
os.write(4, json.dumps({"ok": True, "result": 1, "violations": [{"kind": "blocked_module", "detail": "m" * 100000}]}).encode())
os.close(4)
os._exit(0)
"#);
    assert_eq!(r.status, Status::Ok, "{}", show(&r));
    assert_eq!(r.violations.len(), 1, "{}", show(&r));
    assert!(r.violations[0].detail.chars().count() <= 201, "{}", r.violations[0].detail.len());
}

/// The runner's own entries still come through, as what they are, and do not make a run a
/// security violation (the language policy is not the boundary).
#[test]
fn the_runners_entries_keep_their_kind() {
    require_jails!();
    let r = run("python", "try:\n    import subprocess\nexcept ImportError:\n    pass\nresult = 1");
    assert_eq!(r.status, Status::Ok, "{}", show(&r));
    assert_eq!(kinds(&r), [("blocked_module", "subprocess")], "{}", show(&r));
    let r = run("javascript", "try { eval('1') } catch (e) {}\nreturn 1");
    assert!(r.violations.iter().any(|v| v.kind == "dynamic_code"), "{}", show(&r));
    assert!(!r.violations.iter().any(|v| v.kind == "forged_result"), "{}", show(&r));
}

/// Finding 5: denials the profile marks quiet (connect) were not counted toward the stop: 8
/// threads made 284k of them in 3 s, 1.5 s of the supervisor's CPU that no cgroup charges.
#[test]
fn quiet_denials_are_bounded_too() {
    require_jails!();
    let r = ko(r#"
import socket, threading
def flood():
    while True:
        s = socket.socket(socket.AF_UNIX)
        try:
            s.connect("/nonexistent")
        except OSError:
            pass
        s.close()
threads = [threading.Thread(target=flood) for _ in range(8)]
for t in threads:
    t.start()
for t in threads:
    t.join()
"#);
    assert_eq!(r.status, Status::SecurityViolation, "{}", show(&r));
    let message = r.message.as_deref().unwrap_or_default();
    assert!(message.contains("stopped after 10000 denied syscalls"), "{}", show(&r));
    let connect = r.violations.iter().find(|v| v.detail == "connect").unwrap_or_else(|| panic!("{}", show(&r)));
    assert!(connect.quiet && connect.count >= 9_000 && connect.count <= 10_300, "{}", show(&r));
    // Stopped long before the 5 s wall clock.
    assert!(r.usage.wall_ms < 4_000, "{}", show(&r));
}

/// A few quiet probes (what interpreters do) are not a violation.
#[test]
fn some_quiet_denials_are_routine() {
    require_jails!();
    let r = ko(r#"
import socket
for _ in range(50):
    s = socket.socket(socket.AF_UNIX)
    try:
        s.connect("/nonexistent")
    except OSError:
        pass
    s.close()
result = 1
"#);
    assert_eq!(r.status, Status::Ok, "{}", show(&r));
    assert!(r.violations.iter().any(|v| v.detail == "connect" && v.quiet && v.count == 50), "{}", show(&r));
}
