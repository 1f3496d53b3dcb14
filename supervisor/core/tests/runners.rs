//! The runners' own self-test (runners/test_runners.sh): each runner fed jobs on fd 3 directly,
//! without a jail, and its result, output and exit status checked against the runner protocol.
//! The interpreters are the pinned ones (interpreters/install.sh); CI=true turns their absence
//! into a failure.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::Command;

#[test]
fn the_runners_pass_their_self_test() {
    let node = Path::new("/opt/jaild/interpreters/node-24.21.0/bin/node");
    let python = Path::new("/usr/bin/python3.11");
    if !node.exists() || !python.exists() {
        let ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
        assert!(!ci, "CI=true and the pinned interpreters are not installed (interpreters/install.sh)");
        eprintln!("SKIPPED: the pinned interpreters are not installed (interpreters/install.sh)");
        return;
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("runners/test_runners.sh");
    let out = Command::new("bash")
        .arg(&script)
        .env("JAILD_NODE", node)
        .env("JAILD_PYTHON", python)
        .env("ASSERT_PYTHON", python)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}\n{}", String::from_utf8_lossy(&out.stderr));
    let summary = text.lines().last().unwrap_or_default();
    assert!(summary.ends_with(" 0 failed") && !summary.starts_with("0 passed"), "{summary}");
}
