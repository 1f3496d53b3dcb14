//! `jailctl`, the command-line client, run as a user runs it: the real binary, from the repo root.
// Test code: a failed unwrap is a failed test, with its location.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::*;

use jaild::report::{Report, Status};
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
    pid: u32,
}

impl std::fmt::Display for Out {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "exit {}\n--- stdout\n{}\n--- stderr\n{}", self.code, self.stdout, self.stderr)
    }
}

/// Runs `jailctl ARGS` in `dir` with `stdin` as standard input.
fn jailctl_in(dir: &Path, args: &[&str], stdin: Option<&str>) -> Out {
    let mut child = Command::new(env!("CARGO_BIN_EXE_jailctl"))
        .args(args)
        .current_dir(dir)
        .env_remove("JAILD_PROFILES")
        .env_remove("JAILD_INTERPRETERS")
        .env_remove("JAILD_JAIL_INIT")
        .env_remove("JAILD_LOG")
        // In-process runs: a daemon listening on the default socket must not serve these.
        .env("JAILD_SOCKET", "/nonexistent/jaild.sock")
        .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("jailctl starts");
    let pid = child.id();
    if let Some(text) = stdin {
        let mut w = child.stdin.take().unwrap();
        // jailctl may refuse its arguments and exit before reading stdin: a broken pipe here
        // is that case, and the assertions on its output decide.
        if let Err(e) = w.write_all(text.as_bytes()) {
            assert_eq!(e.kind(), std::io::ErrorKind::BrokenPipe, "writing jailctl's stdin: {e}");
        }
    }
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let Some(code) = out.status.code() else {
        panic!("jailctl {args:?} died of {:?}\n--- stdout\n{stdout}\n--- stderr\n{stderr}", out.status);
    };
    assert!(!stderr.contains("panicked"), "jailctl {args:?} panicked:\n{stderr}");
    let out = Out { code, stdout, stderr, pid };
    assert_no_run_cgroups(out.pid);
    out
}

fn jailctl(args: &[&str], stdin: Option<&str>) -> Out {
    jailctl_in(&repo(), args, stdin)
}

/// No run cgroup of the jailctl process `pid` (named `run.PID.ID`) is left in any hierarchy, and
/// no jail mount is visible on the host.
fn assert_no_run_cgroups(pid: u32) {
    fn walk(dir: &Path, prefix: &str, depth: u32, found: &mut Vec<PathBuf>) {
        if depth == 0 {
            return;
        }
        let Ok(entries) = std::fs::read_dir(dir) else { return };
        for e in entries.flatten() {
            if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                let p = e.path();
                if e.file_name().to_str().is_some_and(|n| n.starts_with(prefix)) {
                    found.push(p.clone());
                }
                walk(&p, prefix, depth - 1, found);
            }
        }
    }
    let mut found = Vec::new();
    walk(Path::new("/sys/fs/cgroup"), &format!("run.{pid}."), 6, &mut found);
    assert!(found.is_empty(), "jailctl (pid {pid}) left cgroups behind: {found:?}");
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(!mounts.lines().any(|l| l.contains(" jaild ")), "a jail mount is visible on the host");
}

/// The `--json` report on stdout, as JSON and as a Report; checks that nothing of it is left.
fn json_report(out: &Out) -> (Value, Report) {
    let v: Value =
        serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("stdout is not a JSON report ({e}):\n{out}"));
    let r: Report =
        serde_json::from_value(v.clone()).unwrap_or_else(|e| panic!("stdout is not a Report ({e}):\n{out}"));
    assert_no_leftovers(&r);
    (v, r)
}

/// The value of a `name:` line of the summary.
fn summary_field<'a>(stdout: &'a str, name: &str) -> Option<&'a str> {
    stdout.lines().find_map(|l| l.strip_prefix(&format!("{name}:")).map(str::trim))
}

// ---------------------------------------------------------------------------------------------
// The three commands a user runs
// ---------------------------------------------------------------------------------------------

#[test]
fn fib_example_from_the_repo_root() {
    require_jails!();
    let out = jailctl(&["run", "examples/fib.py", "--input", r#"{"n": 30}"#], None);
    assert_eq!(out.code, 0, "{out}");
    assert_eq!(summary_field(&out.stdout, "status"), Some("ok"), "{out}");
    let result: Value = serde_json::from_str(summary_field(&out.stdout, "result").unwrap_or("null")).unwrap();
    assert_eq!(result, serde_json::json!({"n": 30, "fib": 832040}), "{out}");
    assert!(out.stdout.contains("fib(30) has 6 digits"), "the script's stdout is not shown:\n{out}");
    assert_eq!(out.stderr, "", "{out}");
}

/// What word_count.ts computes for the word "the", counted independently.
fn count_of_the(data: &Value) -> u64 {
    data["documents"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|d| {
            d.as_str()
                .unwrap()
                .split(|c: char| !c.is_alphanumeric() && c != '\'' && c != '’')
                .map(str::to_lowercase)
                .filter(|w| w == "the")
                .collect::<Vec<_>>()
        })
        .count() as u64
}

#[test]
fn word_count_example_with_input_file_and_json() {
    require_jails!();
    let out = jailctl(&["run", "examples/word_count.ts", "--input", "@examples/data.json", "--json"], None);
    assert_eq!(out.code, 0, "{out}");
    let (v, r) = json_report(&out);
    assert_eq!(v["status"], "ok", "{out}");
    assert_eq!(r.status, Status::Ok);
    let data: Value =
        serde_json::from_str(&std::fs::read_to_string(repo().join("examples/data.json")).unwrap()).unwrap();
    let result = &v["result"];
    assert_eq!(result["documents"], data["documents"].as_array().unwrap().len());
    let top = result["top"].as_array().unwrap_or_else(|| panic!("no top words:\n{out}"));
    assert_eq!(top.len() as u64, data["top"].as_u64().unwrap(), "{out}");
    assert_eq!(top[0], serde_json::json!({"word": "the", "count": count_of_the(&data)}), "{out}");
    let counts: Vec<u64> = top.iter().map(|t| t["count"].as_u64().unwrap()).collect();
    assert!(counts.windows(2).all(|w| w[0] >= w[1]), "top words are not in descending order: {counts:?}");
    assert!(result["total_words"].as_u64().unwrap() >= result["unique_words"].as_u64().unwrap());
    assert_eq!(r.profile.as_ref().unwrap().name, "typescript");
    assert_eq!(r.interpreter.as_ref().unwrap().name, "node24");
}

#[test]
fn script_from_stdin_with_lang() {
    require_jails!();
    let out = jailctl(
        &["run", "--lang", "python", "-", "--input", r#"{"xs":[1,2,3]}"#],
        Some("result = sum(input[\"xs\"])\n"),
    );
    assert_eq!(out.code, 0, "{out}");
    assert_eq!(summary_field(&out.stdout, "status"), Some("ok"), "{out}");
    assert_eq!(summary_field(&out.stdout, "result"), Some("6"), "{out}");
}

// ---------------------------------------------------------------------------------------------
// Exit codes: as documented in `jailctl run --help`, checked against real runs
// ---------------------------------------------------------------------------------------------

/// The exit codes `jailctl run --help` documents, by status name ("usage_error" for 2).
fn documented_codes() -> BTreeMap<String, i32> {
    let out = jailctl(&["run", "--help"], None);
    assert_eq!(out.code, 0, "{out}");
    let section = out.stdout.split("Exit status:").nth(1).unwrap_or_else(|| panic!("no exit status section:\n{out}"));
    let mut codes = BTreeMap::new();
    for line in section.lines() {
        let mut words = line.split_whitespace();
        let (Some(code), Some(name)) = (words.next(), words.next()) else { continue };
        let Ok(code) = code.parse::<i32>() else { continue };
        let name =
            if name == "usage" && words.next() == Some("error") { "usage_error".to_string() } else { name.to_string() };
        assert!(codes.insert(name.clone(), code).is_none(), "{name} documented twice");
    }
    codes
}

fn documented(status: Status) -> i32 {
    *documented_codes()
        .get(status.as_str())
        .unwrap_or_else(|| panic!("{status} is not documented in jailctl run --help"))
}

#[test]
fn help_documents_every_status_with_a_distinct_code() {
    let codes = documented_codes();
    for s in Status::ALL {
        assert_eq!(
            codes.get(s.as_str()),
            Some(&s.exit_code()),
            "{s}: documented {:?}, returned {}",
            codes.get(s.as_str()),
            s.exit_code()
        );
    }
    assert_eq!(codes.get("usage_error"), Some(&2), "{codes:?}");
    assert_eq!(codes.len(), Status::ALL.len() + 1, "{codes:?}");
    let mut values: Vec<i32> = codes.values().copied().collect();
    values.sort_unstable();
    values.dedup();
    assert_eq!(values.len(), codes.len(), "codes are not distinct: {codes:?}");
}

/// Runs a Python script from stdin with `extra` flags and --json; checks the status and that the
/// exit code is the one documented for it.
fn run_python_expecting(code: &str, extra: &[&str], status: Status) -> (Value, Report) {
    let mut args = vec!["run", "--lang", "python", "-", "--json"];
    args.extend_from_slice(extra);
    let out = jailctl(&args, Some(code));
    let (v, r) = json_report(&out);
    assert_eq!(r.status, status, "{out}");
    assert_eq!(v["status"], status.as_str());
    assert_eq!(out.code, documented(status), "exit code of {status}:\n{out}");
    (v, r)
}

#[test]
fn exit_code_ok() {
    require_jails!();
    let (_, r) = run_python_expecting("result = 1", &[], Status::Ok);
    assert_eq!(r.result, serde_json::json!(1));
}

#[test]
fn exit_code_runtime_error() {
    require_jails!();
    let (_, r) = run_python_expecting("raise ValueError('boom')", &[], Status::RuntimeError);
    let e = r.error.unwrap();
    assert_eq!((e.kind.as_str(), e.message.as_str()), ("ValueError", "boom"));
}

#[test]
fn exit_code_timeout() {
    require_jails!();
    let (_, r) = run_python_expecting("import time\ntime.sleep(30)\n", &["--wall-time-ms", "500"], Status::Timeout);
    assert!(r.usage.wall_ms >= 500 && r.usage.wall_ms < 5000, "wall {} ms", r.usage.wall_ms);
}

#[test]
fn exit_code_cpu_limit() {
    require_jails!();
    let (_, r) = run_python_expecting("while True:\n  pass\n", &["--cpu-time-ms", "300"], Status::CpuLimit);
    assert!(r.usage.cpu_user_ms + r.usage.cpu_system_ms >= 300, "{}", show(&r));
}

#[test]
fn exit_code_memory_limit() {
    require_jails!();
    let balloon = "x = []\nwhile True:\n  x.append(bytearray(1 << 20))\n";
    let (_, r) = run_python_expecting(balloon, &["--memory", "32MiB"], Status::MemoryLimit);
    assert!(r.usage.memory_peak_bytes <= 32 << 20, "{}", show(&r));
}

#[test]
fn exit_code_pids_limit() {
    require_jails!();
    let bomb = "import os\nwhile True:\n  try: os.fork()\n  except OSError: pass\n";
    run_python_expecting(bomb, &[], Status::PidsLimit);
}

#[test]
fn exit_code_output_limit() {
    require_jails!();
    let (_, r) = run_python_expecting("while True:\n  print('x' * 10000)\n", &[], Status::OutputLimit);
    assert!(r.stdout_truncated, "{}", r.message.unwrap_or_default());
}

#[test]
fn exit_code_security_violation() {
    require_jails!();
    let code = "import _socket\ntry:\n  _socket.socket(2, 1)\nexcept OSError as e:\n  result = e.errno\n";
    let (_, r) = run_python_expecting(code, &[], Status::SecurityViolation);
    assert!(r.violations.iter().any(|v| v.detail == "socket(AF_INET)" && !v.quiet), "{}", show(&r));
}

#[test]
fn exit_code_rejected() {
    require_jails!();
    let (_, r) = run_python_expecting("result = 1", &["--profile", "nosuch"], Status::Rejected);
    let msg = r.message.unwrap_or_default();
    assert!(msg.contains("nosuch") && msg.contains("python"), "{msg}");
    assert!(r.interpreter.is_none() && r.exit_code.is_none());
}

// ---------------------------------------------------------------------------------------------
// Usage errors: jailctl itself called wrongly (documented exit code 2), nothing started
// ---------------------------------------------------------------------------------------------

fn assert_usage_error(out: &Out, names: &[&str]) {
    assert_eq!(out.code, *documented_codes().get("usage_error").unwrap(), "not a usage error exit:\n{out}");
    for n in names {
        assert!(out.stderr.contains(n), "the message does not name {n:?}:\n{out}");
    }
    assert_eq!(out.stdout, "", "a usage error printed a report:\n{out}");
}

#[test]
fn unknown_flag_is_a_usage_error() {
    let out = jailctl(&["run", "examples/fib.py", "--bogus-flag"], None);
    assert_usage_error(&out, &["--bogus-flag"]);
    let out = jailctl(&["frobnicate"], None);
    assert_usage_error(&out, &["frobnicate"]);
}

#[test]
fn unknown_extension_without_lang_names_lang() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("script.rb");
    std::fs::write(&script, "puts 1\n").unwrap();
    let out = jailctl(&["run", script.to_str().unwrap()], None);
    assert_usage_error(&out, &["--lang", "script.rb"]);
    let out = jailctl(&["run", "-"], Some("result = 1"));
    assert_usage_error(&out, &["--lang"]);
}

#[test]
fn unknown_lang_is_named() {
    let out = jailctl(&["run", "--lang", "cobol", "examples/fib.py"], None);
    assert_usage_error(&out, &["cobol", "--lang", "python"]);
}

#[test]
fn bad_memory_size_is_named() {
    let out = jailctl(&["run", "examples/fib.py", "--memory", "12 parsecs"], None);
    assert_usage_error(&out, &["--memory", "parsecs"]);
}

#[test]
fn missing_script_file_is_named() {
    let out = jailctl(&["run", "examples/no-such-script.py"], None);
    assert_usage_error(&out, &["examples/no-such-script.py"]);
}

#[test]
fn missing_input_file_is_named() {
    let out = jailctl(&["run", "examples/fib.py", "--input", "@examples/no-such-input.json"], None);
    assert_usage_error(&out, &["examples/no-such-input.json"]);
}

// ---------------------------------------------------------------------------------------------
// --json: the full report
// ---------------------------------------------------------------------------------------------

fn is_uint(v: &Value) -> bool {
    v.as_u64().is_some()
}

fn is_sha256(v: &Value) -> bool {
    v.as_str().is_some_and(|s| s.len() == 64 && s.chars().all(|c| c.is_ascii_hexdigit()))
}

/// "YYYY-MM-DDTHH:MM:SS[.frac]Z" (RFC 3339, UTC); returns the part up to the seconds.
fn rfc3339_utc(v: &Value) -> String {
    let s = v.as_str().unwrap_or_else(|| panic!("not a string: {v}"));
    let b = s.as_bytes();
    let digits = |r: std::ops::Range<usize>| r.clone().all(|i| b.get(i).is_some_and(u8::is_ascii_digit));
    assert!(
        s.len() >= 20
            && digits(0..4)
            && b[4] == b'-'
            && digits(5..7)
            && b[7] == b'-'
            && digits(8..10)
            && b[10] == b'T'
            && digits(11..13)
            && b[13] == b':'
            && digits(14..16)
            && b[16] == b':'
            && digits(17..19)
            && s.ends_with('Z'),
        "not an RFC 3339 UTC time: {s}"
    );
    s[..19].to_string()
}

#[test]
fn json_report_has_every_field_with_its_type() {
    require_jails!();
    let code = "import sys\nprint('to stdout')\nprint('to stderr', file=sys.stderr)\nresult = {'a': [1, 2]}\n";
    let out = jailctl(&["run", "--lang", "python", "-", "--json"], Some(code));
    assert_eq!(out.code, 0, "{out}");
    let (v, _) = json_report(&out);
    let o = v.as_object().unwrap();
    for key in [
        "id",
        "status",
        "exit_code",
        "signal",
        "result",
        "stdout",
        "stderr",
        "stdout_truncated",
        "stderr_truncated",
        "violations",
        "usage",
        "profile",
        "interpreter",
        "enforcement",
        "started_at",
        "finished_at",
    ] {
        assert!(o.contains_key(key), "report has no {key}:\n{out}");
    }
    assert!(v["id"].as_str().is_some_and(|s| !s.is_empty()), "id");
    assert_eq!(v["status"], "ok");
    assert_eq!(v["exit_code"], 0);
    assert!(v["signal"].is_null(), "signal: {}", v["signal"]);
    assert_eq!(v["result"], serde_json::json!({"a": [1, 2]}));
    assert_eq!(v["stdout"], "to stdout\n");
    assert_eq!(v["stderr"], "to stderr\n");
    assert_eq!(v["stdout_truncated"], false);
    assert_eq!(v["stderr_truncated"], false);
    for viol in v["violations"].as_array().unwrap_or_else(|| panic!("violations is not an array:\n{out}")) {
        assert!(
            viol["kind"].is_string()
                && viol["detail"].is_string()
                && is_uint(&viol["count"])
                && viol["quiet"].is_boolean(),
            "{viol}"
        );
    }

    let u = &v["usage"];
    for key in ["wall_ms", "cpu_user_ms", "cpu_system_ms", "memory_peak_bytes"] {
        assert!(is_uint(&u[key]), "usage.{key}: {}", u[key]);
    }
    assert!(u["pids_peak"].is_null() || is_uint(&u["pids_peak"]), "usage.pids_peak: {}", u["pids_peak"]);
    assert!(u["memory_peak_bytes"].as_u64().unwrap() > 0, "memory peak 0");

    let p = &v["profile"];
    assert_eq!(p["name"], "python");
    assert!(is_sha256(&p["sha256"]), "profile.sha256: {}", p["sha256"]);
    assert_eq!(
        p["sha256"],
        jaild::profile::load(&repo().join("profiles"), "python").unwrap().sha256.as_str(),
        "the resolved profile's digest"
    );

    let i = &v["interpreter"];
    let manifest = jaild::interpreter::load(&repo().join("interpreters"), "python3.11").unwrap().manifest;
    assert_eq!(i["name"], "python3.11");
    assert_eq!(i["version"], manifest.version.as_str());
    assert!(is_sha256(&i["sha256"]), "interpreter.sha256: {}", i["sha256"]);
    assert_eq!(i["sha256"], manifest.sha256.as_str());

    let e = &v["enforcement"];
    assert!(matches!(e["cgroup"].as_str(), Some("v1" | "v2")), "enforcement.cgroup: {}", e["cgroup"]);
    assert!(e["landlock_abi"].as_u64().is_some_and(|abi| abi >= 1), "enforcement.landlock_abi: {}", e["landlock_abi"]);
    assert!(e["seccomp"].as_str().is_some_and(|s| !s.is_empty()), "enforcement.seccomp: {}", e["seccomp"]);

    let started = rfc3339_utc(&v["started_at"]);
    let finished = rfc3339_utc(&v["finished_at"]);
    assert!(started <= finished, "finished {finished} before started {started}");
}

#[test]
fn json_report_of_a_run_that_never_started_is_complete_too() {
    require_jails!();
    let out = jailctl(&["run", "--lang", "python", "-", "--json", "--input", "{not json"], Some("result = 1"));
    let (v, r) = json_report(&out);
    assert_eq!(r.status, Status::Rejected, "{out}");
    assert_eq!(out.code, documented(Status::Rejected));
    assert!(v["message"].as_str().is_some_and(|m| m.contains("input")), "{out}");
    for key in ["usage", "enforcement", "violations", "started_at", "finished_at"] {
        assert!(!v[key].is_null(), "{key} missing:\n{out}");
    }
    rfc3339_utc(&v["started_at"]);
    rfc3339_utc(&v["finished_at"]);
}

// ---------------------------------------------------------------------------------------------
// --profiles-dir
// ---------------------------------------------------------------------------------------------

#[test]
fn profiles_dir_copy_is_used() {
    require_jails!();
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&repo().join("profiles"), dir.path());
    // Change the copy harmlessly, so the report proves which file was read.
    let path = dir.path().join("python.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, text.replacen("wall_time_ms = 5000 ", "wall_time_ms = 4000 ", 1)).unwrap();
    let sha = jaild::profile::load(dir.path(), "python").unwrap().sha256;
    assert_ne!(sha, jaild::profile::load(&repo().join("profiles"), "python").unwrap().sha256);

    let out = jailctl(
        &[
            "run",
            "examples/fib.py",
            "--input",
            r#"{"n": 10}"#,
            "--json",
            "--profiles-dir",
            dir.path().to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(out.code, 0, "{out}");
    let (v, r) = json_report(&out);
    assert_eq!(r.status, Status::Ok, "{out}");
    assert_eq!(v["result"]["fib"], 55);
    assert_eq!(r.profile.unwrap().sha256, sha, "the report's profile is not the copy's");
    // The tighter wall time of the copy is in force.
    let slow = jailctl(
        &["run", "--lang", "python", "-", "--json", "--profiles-dir", dir.path().to_str().unwrap()],
        Some("import time\ntime.sleep(30)\n"),
    );
    let (_, r) = json_report(&slow);
    assert_eq!(r.status, Status::Timeout, "{slow}");
    assert!(r.message.unwrap_or_default().contains("4000 ms"), "{slow}");
}

#[test]
fn profiles_dir_with_a_broken_profile_gives_a_clear_message() {
    require_jails!();
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&repo().join("profiles"), dir.path());
    let path = dir.path().join("python.toml");
    let text = std::fs::read_to_string(&path).unwrap().replacen("memory = \"128MiB\"", "memory = \"1KiB\"", 1);
    std::fs::write(&path, &text).unwrap();
    let line = text.lines().position(|l| l.contains("memory = \"1KiB\"")).unwrap() + 1;
    let dir_arg = dir.path().to_str().unwrap();

    let out = jailctl(&["run", "examples/fib.py", "--profiles-dir", dir_arg], None);
    assert_ne!(out.code, 0, "{out}");
    assert_eq!(out.code, documented(Status::InternalError), "{out}");
    let all = format!("{}{}", out.stdout, out.stderr);
    for needle in [path.display().to_string(), format!(":{line}:"), "limits.memory".to_string()] {
        assert!(all.contains(&needle), "the message does not name {needle:?}:\n{out}");
    }

    let out = jailctl(&["run", "examples/fib.py", "--json", "--profiles-dir", dir_arg], None);
    let (_, r) = json_report(&out);
    assert_eq!(r.status, Status::InternalError, "{out}");
    let msg = r.message.unwrap_or_default();
    assert!(msg.contains(&path.display().to_string()) && msg.contains("limits.memory"), "{msg}");
    assert!(r.interpreter.is_none() && r.exit_code.is_none(), "{out}");

    // The other profiles in the dir are unaffected.
    let out = jailctl(&["run", "examples/hello.js", "--profiles-dir", dir_arg], None);
    assert_eq!(out.code, 0, "{out}");
}

#[test]
fn profiles_dir_that_does_not_exist_is_a_rejection_naming_the_profile() {
    require_jails!();
    let out = jailctl(&["run", "examples/fib.py", "--json", "--profiles-dir", "/nonexistent-jaild-profiles"], None);
    let (_, r) = json_report(&out);
    assert_eq!(r.status, Status::Rejected, "{out}");
    assert_eq!(out.code, documented(Status::Rejected), "{out}");
    assert!(r.message.unwrap_or_default().contains("python"), "{out}");
}

#[test]
fn looser_limit_than_the_profile_is_rejected() {
    require_jails!();
    let (_, r) = run_python_expecting("result = 1", &["--wall-time-ms", "999999"], Status::Rejected);
    let msg = r.message.unwrap_or_default();
    assert!(msg.contains("limits.wall_time_ms") && msg.contains("999999"), "{msg}");
}

#[test]
fn a_closed_stdout_does_not_crash_jailctl() {
    // `jailctl run x.py | head -1`: the reader goes away before the summary is printed.
    require_jails!();
    let mut child = Command::new(env!("CARGO_BIN_EXE_jailctl"))
        .args(["run", "--lang", "python", "-"])
        .current_dir(repo())
        .env("JAILD_SOCKET", "/nonexistent/jaild.sock")
        .env_remove("JAILD_LOG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    drop(child.stdout.take());
    child.stdin.take().unwrap().write_all(b"print('x')\nresult = 1\n").unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "jailctl panicked on a closed stdout:\n{stderr}");
    assert_ne!(out.status.code(), Some(101), "jailctl panicked on a closed stdout:\n{stderr}");
    assert_no_run_cgroups(pid);
}

/// SIGKILL of jailctl in the middle of a run: the jail dies with it (parent-death signal on
/// jail-init, PID 1 of the jail's PID namespace) within a second, and the next jailctl removes
/// the cgroup the killed one could not.
#[test]
fn killing_jailctl_mid_run_kills_the_jail_and_the_next_start_cleans_up() {
    require_jails!();
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("sleeper.py");
    std::fs::write(&script, "import time\ntime.sleep(30)\n").unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_jailctl"))
        .args(["run", script.to_str().unwrap()])
        .current_dir(repo())
        .env("JAILD_SOCKET", "/nonexistent/jaild.sock")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id();
    // Wait until the script runs: its process is in the run's pids cgroup.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let procs = loop {
        let found: Vec<PathBuf> = std::fs::read_dir("/sys/fs/cgroup/pids/jaild")
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with(&format!("run.{pid}."))))
            .collect();
        if let Some(dir) = found.first() {
            let procs = std::fs::read_to_string(dir.join("cgroup.procs")).unwrap_or_default();
            if !procs.trim().is_empty() {
                break dir.join("cgroup.procs");
            }
        }
        assert!(std::time::Instant::now() < deadline, "the jail never started");
        std::thread::sleep(Duration::from_millis(20));
    };
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), nix::sys::signal::Signal::SIGKILL).unwrap();
    child.wait().unwrap();
    let killed_at = std::time::Instant::now();
    loop {
        let left = std::fs::read_to_string(&procs).unwrap_or_default();
        if left.trim().is_empty() {
            break;
        }
        assert!(killed_at.elapsed() < Duration::from_secs(1), "jail processes {left:?} outlived jailctl by a second");
        std::thread::sleep(Duration::from_millis(10));
    }
    // The next start removes what the killed supervisor left.
    let out = jailctl(&["run", "examples/fib.py", "--input", r#"{"n": 5}"#], None);
    assert_eq!(out.code, 0, "{out}");
    assert_no_run_cgroups(pid);
}

/// `jailctl run` in-process on a host whose /tmp and jaild state directory ($JAILD_STATE: the
/// interpreter digest and seccomp caches) are full: both are tmpfs mounts in a mount namespace
/// of the run's own. The run needs neither (the jail's /tmp is its own), the cache that cannot
/// be written is a warning naming it, and no half-written file is left behind.
#[test]
fn local_run_on_a_full_tmp_and_state_directory_reports_and_warns_about_the_cache() {
    require_jails!();
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let state = dir.path().join("state");
    std::fs::create_dir(&state).unwrap();
    let script = dir.path().join("scratch.py");
    std::fs::write(&script, "import os\nwith open('/tmp/big', 'wb') as f: f.write(b'x' * (1 << 20))\nresult = os.path.getsize('/tmp/big') + input['n']\n")
        .unwrap();
    // jailctl runs in the background so that its pid is known (its run cgroups carry it); what
    // is left in both filesystems is listed after it.
    let checkout = repo();
    let (full_tmp, kept) =
        full_tmp_script("jailctl-test-host-tmp", &[&checkout, dir.path(), Path::new(env!("CARGO_BIN_EXE_jailctl"))]);
    let shell = format!(
        "{full_tmp}mount -t tmpfs -o size=64k,mode=0700 jailctl-test-state '{state}'\n\
         dd if=/dev/zero of='{state}/filler' bs=4k 2>/dev/null || true\n\
         \"$0\" \"$@\" &\n\
         pid=$!\n\
         rc=0; wait $pid || rc=$?\n\
         echo \"==pid $pid\" >&2\n\
         echo \"==tmp $(ls -A /tmp | tr '\\n' ' ')\" >&2\n\
         echo \"==state $(cd '{state}' && find . -type f | sort | tr '\\n' ' ')\" >&2\n\
         exit $rc",
        state = state.display()
    );
    let out = Command::new("unshare")
        .args(["--mount", "--propagation", "private", "--", "/bin/sh", "-ec", &shell])
        .arg(env!("CARGO_BIN_EXE_jailctl"))
        .args(["run", script.to_str().unwrap(), "--json", "--input", r#"{"n": 7}"#])
        .current_dir(repo())
        .env("JAILD_SOCKET", "/nonexistent/jaild.sock")
        .env("JAILD_STATE", &state)
        .env("TMPDIR", "/tmp")
        .env_remove("JAILD_LOG")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!stderr.contains("panicked"), "{stderr}");
    let line = |tag: &str| {
        stderr
            .lines()
            .find_map(|l| l.strip_prefix(tag))
            .unwrap_or_else(|| panic!("no {tag:?} in:\n{stderr}"))
            .trim()
            .to_string()
    };
    let pid: u32 = line("==pid ").parse().unwrap();
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    let r: Report = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}\n{stderr}"));
    assert_eq!((r.status, &r.result), (Status::Ok, &serde_json::json!((1 << 20) + 7)), "{}", show(&r));
    for needle in ["cache not written", "No space left on device"] {
        assert!(stderr.contains(needle), "{needle:?} not in jailctl's stderr:\n{stderr}");
    }
    let mut only_filler: Vec<String> = kept.into_iter().collect();
    only_filler.push("filler".to_string());
    only_filler.sort();
    assert_eq!(line("==tmp "), only_filler.join(" "), "something was written to the host's /tmp");
    assert_eq!(line("==state "), "./filler", "half-written files left in the state directory");
    assert_no_run_cgroups(pid);
}

/// The `SigBlk` and `SigIgn` lines of /proc/self/status in `stdout`.
fn signal_state(stdout: &str) -> Vec<String> {
    stdout.lines().filter(|l| l.starts_with("SigIgn") || l.starts_with("SigBlk")).map(str::to_string).collect()
}

#[test]
fn a_script_gets_default_signal_dispositions_whatever_jailctl_was_started_with() {
    require_jails!();
    // `nohup jailctl run … &` starts jailctl with SIGHUP (and, from a non-interactive shell,
    // SIGINT) ignored, some launchers ignore even glibc's reserved signals 32 and 33; ignored
    // dispositions survive exec, and the script must inherit none of them: its SIGINT must
    // interrupt it as it would a bare interpreter started from a clean shell. What is left
    // ignored is what Python and Node ignore themselves: SIGPIPE (13) and SIGXFSZ (25), bits 12
    // and 24; nothing is blocked.
    let py = "print(''.join(l for l in open('/proc/self/status') if l.startswith(('SigIgn', 'SigBlk'))))";
    let js = "process.stdout.write(require('fs').readFileSync('/proc/self/status', 'utf8').split('\\n').filter((l) => /^Sig(Ign|Blk)/.test(l)).join('\\n') + '\\n');";
    let expected = vec!["SigBlk:\t0000000000000000".to_string(), "SigIgn:\t0000000001001000".to_string()];
    let dir = tempfile::tempdir().unwrap();
    for (language, ext, code) in [("python", "py", py), ("javascript", "js", js)] {
        let script = dir.path().join(format!("signals.{ext}"));
        std::fs::write(&script, code).unwrap();
        let out = Command::new("bash")
            .arg("-c")
            .arg(r#"trap '' HUP INT QUIT TERM USR1 USR2 ALRM; exec "$0" run --local --json "$1""#)
            .arg(env!("CARGO_BIN_EXE_jailctl"))
            .arg(&script)
            .current_dir(repo())
            .env("JAILD_SOCKET", "/nonexistent/jaild.sock")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let report: Report = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{language}: {e}: {stdout}"));
        assert_eq!(report.status, Status::Ok, "{language}: {stdout}");
        assert_eq!(signal_state(&report.stdout), expected, "{language}: the script inherited a signal state: {stdout}");
    }
}
