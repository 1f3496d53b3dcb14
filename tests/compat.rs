//! The compat suite's fast run (compat/README.md): ordinary scripts — CPython's own regression
//! tests for a subset of the standard library, and the tape tests of two npm packages — work in
//! the jail as they do outside it.
//!
//! Runs `compat/run --fast` with this build's jailctl and checks that it exits 0 (every test that
//! fails only in the jail has a deliberate cause in compat/causes.toml: network, processes,
//! host-files) and that its table shows every module ran tests both ways, bare and jailed.
//!
//! Needs root, jails (as the other jail tests) and compat/setup's cache (JAILD_COMPAT_DIR, else
//! /var/cache/jaild-compat). Without the cache the test is skipped, or fails under CI=true.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::*;

use std::path::PathBuf;
use std::process::Command;

fn cache_dir() -> PathBuf {
    std::env::var_os("JAILD_COMPAT_DIR")
        .filter(|v| !v.is_empty())
        .map_or_else(|| PathBuf::from("/var/cache/jaild-compat"), PathBuf::from)
}

/// Why the cache cannot serve the suite, if it cannot.
fn cache_missing() -> Option<String> {
    let cache = cache_dir();
    for need in ["python/test/test_math.py", "python/test/support/__init__.py", "npm/node_modules/tape/package.json"] {
        if !cache.join(need).is_file() {
            return Some(format!("{} is missing: run compat/setup (as root)", cache.join(need).display()));
        }
    }
    None
}

/// One row of compat/run's table: the module and its bare and jailed counts.
#[derive(Debug)]
struct Row {
    module: String,
    bare_run: u64,
    bare_pass: u64,
    jail_run: u64,
    jail_pass: u64,
}

/// The table's module rows: from the header line (starting "module") to the TOTAL line.
fn table_rows(out: &str) -> Vec<Row> {
    let mut rows = Vec::new();
    let mut inside = false;
    for line in out.lines() {
        if line.starts_with("module ") && line.contains("jail-only") {
            inside = true;
            continue;
        }
        if !inside {
            continue;
        }
        if line.starts_with("TOTAL") || line.trim().is_empty() {
            break;
        }
        let f: Vec<&str> = line.split_whitespace().collect();
        let num = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
        rows.push(Row {
            module: f[0].to_string(),
            bare_run: num(1),
            bare_pass: num(2),
            jail_run: num(5),
            jail_pass: num(6),
        });
    }
    rows
}

#[test]
fn fast_compat_suite_runs_both_ways_without_unexplained_jail_only_failures() {
    require_jails!();
    if let Some(reason) = cache_missing() {
        assert!(!must_run(), "CI=true and the compat suite cannot run: {reason}");
        eprintln!("SKIPPED: {reason}");
        return;
    }
    let run = repo().join("compat/run");
    let json_out = tempfile::NamedTempFile::new().unwrap();
    let out = Command::new("/usr/bin/python3.11")
        .arg(&run)
        .arg("--fast")
        .arg("--json-out")
        .arg(json_out.path())
        // This build's jailctl, not whatever target/release holds.
        .env("JAILD_COMPAT_JAILCTL", env!("CARGO_BIN_EXE_jailctl"))
        .output()
        .expect("compat/run starts");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let shown = format!("compat/run --fast exited {:?}\n--- stdout\n{stdout}\n--- stderr\n{stderr}", out.status.code());
    eprintln!("{stdout}");
    assert_eq!(out.status.code(), Some(0), "{shown}");
    assert!(stdout.contains("compat: OK: every jail-only failure has a deliberate cause"), "{shown}");

    let rows = table_rows(&stdout);
    assert!(rows.len() >= 20, "the fast run's table has {} module rows, expected at least 20\n{shown}", rows.len());
    for m in ["test_math", "test_json", "test_tempfile", "test_thread", "test_locale", "test_pwd", "npm:minimist"] {
        assert!(rows.iter().any(|r| r.module == m), "{m} is not in the table\n{shown}");
    }
    for r in &rows {
        assert!(
            r.bare_run > 0 && r.bare_pass > 0 && r.jail_run > 0 && r.jail_pass > 0,
            "{} did not run tests both ways: {r:?}\n{shown}",
            r.module
        );
    }

    // The JSON has each side's own outcomes: the comparison really ran both.
    let all: serde_json::Value = serde_json::from_slice(&std::fs::read(json_out.path()).unwrap()).unwrap();
    for r in &rows {
        let m = &all["modules"][&r.module];
        for side in ["bare", "jailed"] {
            let n = m[side]["tests"].as_object().map_or(0, |t| t.len()) as u64;
            assert!(n > 0, "{}: no {side} outcomes in {}", r.module, json_out.path().display());
        }
        // The jailed side's report: a jail of a compat profile, in its own namespaces.
        let report = &m["jailed_report"];
        let profile = report["profile"]["name"].as_str().unwrap_or("");
        assert!(profile.starts_with("compat-"), "{}: jailed under profile {profile:?}", r.module);
        let ns = report["enforcement"]["namespaces"].as_array().map_or(0, Vec::len);
        assert!(ns >= 5, "{}: the jailed run's report shows {ns} namespaces", r.module);
    }
}
