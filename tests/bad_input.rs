//! The bad-input catalogue (issue 5): malformed requests and broken profile files, each with the
//! clear error it must get, fed to the real thing.
//!
//! - tests/bad_input/requests.toml: requests, each sent to a real jaild over its Unix socket (the
//!   file's header has the format). Every reply must be exactly the status, `error.code` and
//!   `error.field` the case gives, its message must contain the case's fragment, it must be a
//!   small JSON document, and nothing may be half-started: no run in the history, nothing
//!   queued or running, no run cgroup of the daemon, no child process of it (jail-init), no
//!   panic in its log.
//! - tests/bad_input/profiles/*.toml: profile files, each broken in one way, its expected error
//!   in its header (`#! key = value` lines: error kind, file, line, field or seccomp entry,
//!   message fragment; `stage = "interpreter"` when the profile loads and its interpreter is
//!   refused). Each goes through the loader (`jaild::profile::load`), `jailctl profile lint
//!   FILE` (exit 2, the error on stderr) and `jailctl run --profile NAME` (exit 10, an
//!   internal_error report naming it, no cgroup left). Broken seccomp policies are in
//!   profiles/seccomp-bad/, each used by one profile case.
//!
//! A case that shows an unclear error is fixed in jaild, never by changing its expectation.
// Test code: a failed unwrap is a failed test, with its location.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::daemon::{cgroups_named, read_response, Daemon, Response};
use common::*;
use jaild::profile::{self, ProfileError};
use jaild::seccomp::PolicyError;
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeSet;
use std::io::{BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

fn catalogue() -> PathBuf {
    repo().join("tests/bad_input")
}

/// Runs `check` on every case and fails once at the end, listing every case that failed (each
/// failure's message is printed as it happens).
fn each_case<'a, T: 'a>(cases: impl IntoIterator<Item = (&'a str, T)>, check: impl Fn(&str, T)) {
    let mut failed = Vec::new();
    for (name, case) in cases {
        if std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| check(name, case))).is_err() {
            failed.push(name.to_string());
        }
    }
    assert!(failed.is_empty(), "{} cases failed: {failed:?}", failed.len());
}

// ---------------------------------------------------------------------------------------------
// Markers in the catalogue's strings

/// Expands `{{REPEAT N TEXT}}` and `{{BYTES ff fe}}` (see requests.toml).
fn expand(s: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let mut rest = s;
    while let Some(start) = rest.find("{{") {
        out.extend_from_slice(&rest.as_bytes()[..start]);
        let after = &rest[start + 2..];
        if let Some(spec) = after.strip_prefix("REPEAT ") {
            let (count, spec) = spec.split_once(' ').unwrap_or_else(|| panic!("bad REPEAT marker in {s:?}"));
            // TEXT is the shortest run of non-space characters followed by "}}".
            let end = (1..=spec.len())
                .find(|&i| spec.is_char_boundary(i) && spec[i..].starts_with("}}"))
                .expect("REPEAT marker ends");
            let text = &spec[..end];
            assert!(!text.contains(' '), "REPEAT text with a space in {s:?}");
            out.extend(text.as_bytes().repeat(count.parse().expect("REPEAT count")));
            rest = &spec[end + 2..];
        } else if let Some(spec) = after.strip_prefix("BYTES ") {
            let end = spec.find("}}").expect("BYTES marker ends");
            out.extend(spec[..end].split_whitespace().map(|h| u8::from_str_radix(h, 16).expect("a hex byte")));
            rest = &spec[end + 2..];
        } else {
            out.extend_from_slice(b"{{");
            rest = after;
        }
    }
    out.extend_from_slice(rest.as_bytes());
    out
}

fn expand_text(s: &str) -> String {
    String::from_utf8(expand(s)).expect("an expectation is text")
}

#[test]
fn markers_expand() {
    assert_eq!(expand("a{{REPEAT 3 [}}{{REPEAT 3 ]}}}"), b"a[[[]]]}");
    assert_eq!(expand(r#"{{REPEAT 2 {"a":}}1{{REPEAT 2 }}}}"#), br#"{"a":{"a":1}}}"#);
    assert_eq!(expand("x{{BYTES ff 00}}y"), b"x\xff\x00y");
    assert_eq!(expand("{}"), b"{}");
}

// ---------------------------------------------------------------------------------------------
// Requests

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Requests {
    case: Vec<RequestCase>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RequestCase {
    name: String,
    method: Option<String>,
    path: Option<String>,
    body: Option<String>,
    content_type: Option<String>,
    #[serde(default)]
    chunked: bool,
    status: u16,
    #[serde(default)]
    code: String,
    field: Option<String>,
    #[serde(default)]
    says: String,
    #[serde(default)]
    http_layer: bool,
}

fn request_cases() -> Vec<RequestCase> {
    let text = std::fs::read_to_string(catalogue().join("requests.toml")).unwrap();
    let cases = toml::from_str::<Requests>(&text).unwrap_or_else(|e| panic!("tests/bad_input/requests.toml: {e}")).case;
    let mut names = BTreeSet::new();
    for c in &cases {
        assert!(names.insert(c.name.as_str()), "two request cases are named {}", c.name);
    }
    cases
}

/// Sends one case as its own connection. The body is written from another thread, so that a
/// reply before the body is read (413 from Content-Length alone) is seen while it is written.
fn send(socket: &Path, case: &RequestCase) -> Response {
    let mut stream = UnixStream::connect(socket).unwrap_or_else(|e| panic!("connect {}: {e}", socket.display()));
    stream.set_read_timeout(Some(Duration::from_secs(120))).unwrap();
    let method = case.method.as_deref().unwrap_or("POST");
    let path = expand_text(case.path.as_deref().unwrap_or("/v1/runs"));
    let body = case.body.as_deref().map(expand);
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: jaild\r\nConnection: close\r\n");
    if let Some(b) = &body {
        head.push_str(&format!("Content-Type: {}\r\n", case.content_type.as_deref().unwrap_or("application/json")));
        if case.chunked {
            head.push_str("Transfer-Encoding: chunked\r\n");
        } else {
            head.push_str(&format!("Content-Length: {}\r\n", b.len()));
        }
    }
    head.push_str("\r\n");
    // A head jaild's HTTP layer refuses may be cut off while it is sent; its reply decides.
    let _ = stream.write_all(head.as_bytes());
    let mut writer = stream.try_clone().unwrap();
    let chunked = case.chunked;
    let sender = std::thread::spawn(move || {
        let Some(body) = body else { return };
        // jaild may answer and close before all of it is sent: a failed write is that.
        if chunked {
            for chunk in body.chunks(1 << 20) {
                let sent = writer
                    .write_all(format!("{:x}\r\n", chunk.len()).as_bytes())
                    .and_then(|_| writer.write_all(chunk))
                    .and_then(|_| writer.write_all(b"\r\n"));
                if sent.is_err() {
                    return;
                }
            }
            let _ = writer.write_all(b"0\r\n\r\n");
        } else {
            let _ = writer.write_all(&body);
        }
    });
    let response = read_response(&mut BufReader::new(stream.try_clone().unwrap()));
    let _ = stream.shutdown(std::net::Shutdown::Both);
    sender.join().unwrap();
    response
}

/// Processes whose parent is `pid` (jaild's only children are the jails' jail-init).
fn children_of(pid: i32) -> Vec<i32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|p| {
            let stat = std::fs::read_to_string(format!("/proc/{p}/stat")).unwrap_or_default();
            // pid (comm) state ppid ...: comm may hold spaces and parentheses.
            let after = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
            after.split_whitespace().nth(1).and_then(|s| s.parse::<i32>().ok()) == Some(pid)
        })
        .collect()
}

/// Nothing of a run exists: none in the history, none queued or running, no run cgroup of this
/// daemon, no jail process, and the daemon is alive and has not panicked.
fn assert_nothing_started(d: &Daemon, case: &str) {
    let runs = d.get("/v1/runs?limit=1000");
    assert_eq!(
        runs.status,
        200,
        "{case}: the daemon does not list its history: {}",
        String::from_utf8_lossy(&runs.body)
    );
    assert_eq!(runs.json()["runs"], serde_json::json!([]), "{case}: a run was recorded");
    let health = d.get("/v1/health").json();
    assert_eq!((health["running"].as_u64(), health["queued"].as_u64()), (Some(0), Some(0)), "{case}: {health}");
    let cgroups = cgroups_named(&format!("run.{}.", d.pid()));
    assert!(cgroups.is_empty(), "{case}: run cgroups exist: {cgroups:?}");
    let children = children_of(d.pid());
    assert!(children.is_empty(), "{case}: jaild has child processes {children:?}");
    let log = d.log();
    assert!(!log.contains("panicked"), "{case}: jaild panicked:\n{log}");
}

#[test]
fn every_bad_request_gets_its_error_and_starts_nothing() {
    require_jails!();
    let cases = request_cases();
    let d = Daemon::start("", "");
    each_case(cases.iter().map(|c| (c.name.as_str(), c)), |name, case| {
        let r = send(&d.socket, case);
        let shown = String::from_utf8_lossy(&r.body[..r.body.len().min(2000)]).into_owned();
        if case.http_layer {
            assert_eq!(r.status, case.status, "{name}: {shown}");
            assert_nothing_started(&d, name);
            return;
        }
        let v: Value = serde_json::from_slice(&r.body)
            .unwrap_or_else(|e| panic!("{name}: the reply ({} {:?}) is not JSON ({e}): {shown}", r.status, r.headers));
        let got = (r.status, v["error"]["code"].as_str(), v["error"]["field"].as_str());
        let field = case.field.as_deref().map(expand_text);
        assert_eq!(got, (case.status, Some(case.code.as_str()), field.as_deref()), "{name}: {shown}");
        let message = v["error"]["message"].as_str().unwrap_or_default();
        let says = expand_text(&case.says);
        assert!(message.contains(&says), "{name}: the message does not say {says:?}: {message}");
        assert_eq!(r.headers.get("content-type").map(String::as_str), Some("application/json"), "{name}");
        assert!(r.body.len() <= 4096, "{name}: a {} byte error reply", r.body.len());
        assert_nothing_started(&d, name);
    });
    // Every field of a run request is somewhere in the catalogue.
    let named: BTreeSet<String> = cases.iter().filter_map(|c| c.field.clone()).collect();
    for f in [
        "language",
        "interpreter",
        "profile",
        "code",
        "filename",
        "input",
        "limits",
        "stdin",
        "wait",
        "limits.wall_time_ms",
        "limits.cpu_time_ms",
        "limits.memory",
        "limits.pids",
        "limits.stdout",
        "limits.stderr",
        "limits.result",
        "id",
    ] {
        assert!(named.contains(f), "no case names the field {f}");
    }
    // The control: a good request runs and is recorded, so the checks above could see one.
    let r = d.post(&serde_json::json!({ "language": "python", "code": "result = 1", "wait": true }));
    assert_eq!((r.status, r.json()["status"].as_str()), (200, Some("ok")), "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(d.get("/v1/runs").json()["runs"].as_array().map(Vec::len), Some(1));
    eprintln!("{} request cases", cases.len());
}

// ---------------------------------------------------------------------------------------------
// Profile files

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProfileCase {
    /// invalid | parse | seccomp-invalid | seccomp-parse
    error: String,
    /// The file the error is in, relative to the profiles directory (default: this one).
    file: Option<String>,
    line: usize,
    /// The dotted field (error = invalid).
    field: Option<String>,
    /// The seccomp entry's syscall name (error = seccomp-invalid).
    entry: Option<String>,
    says: String,
    /// load (the default): the loader refuses it; interpreter: it loads and its interpreter is
    /// refused (what a run and lint check next).
    stage: Option<String>,
    /// The front-ends it goes through (default "load lint run"). lint loads a file under the
    /// name it declares, so a name that differs from the file's is no error there.
    via: Option<String>,
}

struct Profiles {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
    cases: Vec<(String, ProfileCase)>,
}

/// A copy of profiles/ with the catalogue's files (and seccomp-bad/) added to it.
fn profiles() -> Profiles {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("profiles");
    copy_dir(&repo().join("profiles"), &dir);
    let src = catalogue().join("profiles");
    copy_dir(&src, &dir);
    let mut cases = Vec::new();
    for e in std::fs::read_dir(&src).unwrap().flatten() {
        let path = e.path();
        if path.extension().is_none_or(|x| x != "toml") {
            continue;
        }
        let name = path.file_stem().unwrap().to_str().unwrap().to_string();
        assert!(
            !dir.join(format!("{name}.toml")).exists()
                || !repo().join("profiles").join(format!("{name}.toml")).exists(),
            "{name} shadows a shipped profile"
        );
        let bytes = std::fs::read(&path).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        let header: String = text
            .lines()
            .take_while(|l| l.starts_with('#'))
            .filter_map(|l| l.strip_prefix("#! "))
            .map(|l| format!("{l}\n"))
            .collect();
        assert!(
            text.lines().next().is_some_and(|l| l.starts_with("# ") && l.len() > 3),
            "{name}: the first line says what the mistake is"
        );
        let case: ProfileCase =
            toml::from_str(&header).unwrap_or_else(|e| panic!("{}: the header: {e}", path.display()));
        cases.push((name, case));
    }
    cases.sort_by(|a, b| a.0.cmp(&b.0));
    Profiles { _tmp: tmp, dir, cases }
}

impl ProfileCase {
    fn file(&self, dir: &Path, name: &str) -> PathBuf {
        dir.join(self.file.clone().unwrap_or_else(|| format!("{name}.toml")))
    }

    fn via(&self, front: &str) -> bool {
        self.via.as_deref().unwrap_or("load lint run").split_whitespace().any(|v| v == front)
    }

    /// What any rendering of the error must contain: the file, the line, the field or entry,
    /// the fragment.
    fn assert_rendered(&self, name: &str, dir: &Path, text: &str) {
        let file = self.file(dir, name);
        assert!(
            text.contains(&file.display().to_string()),
            "{name}: does not name the file {}:\n{text}",
            file.display()
        );
        let line = self.line;
        assert!(
            text.contains(&format!(":{line}:")) || text.contains(&format!("line {line}")),
            "{name}: does not name line {line}:\n{text}"
        );
        if let Some(field) = &self.field {
            assert!(text.contains(&format!("field `{field}`")), "{name}: does not name the field `{field}`:\n{text}");
        }
        if let Some(entry) = &self.entry {
            assert!(
                text.contains(&format!("syscall entry {entry:?}")),
                "{name}: does not name the entry {entry:?}:\n{text}"
            );
        }
        assert!(text.contains(&self.says), "{name}: does not say {:?}:\n{text}", self.says);
    }

    /// The loader's error, by kind, with its exact file, line and field.
    fn assert_error(&self, name: &str, dir: &Path, e: &ProfileError) {
        let file = self.file(dir, name);
        let shown = e.to_string();
        match (self.error.as_str(), e) {
            ("invalid", ProfileError::Invalid { path, line, field, .. }) => {
                assert_eq!((path, *line, Some(field)), (&file, self.line, self.field.as_ref()), "{name}: {shown}");
            }
            ("parse", ProfileError::Parse { path, .. }) => assert_eq!(path, &file, "{name}: {shown}"),
            ("seccomp-invalid", ProfileError::Seccomp(PolicyError::Invalid { path, line, name: entry, .. })) => {
                assert_eq!((path, *line, Some(entry)), (&file, self.line, self.entry.as_ref()), "{name}: {shown}");
            }
            ("seccomp-parse", ProfileError::Seccomp(PolicyError::Parse { path, .. })) => {
                assert_eq!(path, &file, "{name}: {shown}")
            }
            (kind, other) => panic!("{name}: expected a {kind} error, got {other:?}: {shown}"),
        }
        self.assert_rendered(name, dir, &shown);
    }
}

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

fn jailctl(args: &[&str], profiles: &Path) -> (Out, u32) {
    let child = Command::new(env!("CARGO_BIN_EXE_jailctl"))
        .args(args)
        .current_dir(repo())
        .env("JAILD_PROFILES", profiles)
        .env_remove("JAILD_INTERPRETERS")
        .env_remove("JAILD_JAIL_INIT")
        .env_remove("JAILD_LOG")
        .env("JAILD_SOCKET", "/nonexistent/jaild.sock")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let out = child.wait_with_output().unwrap();
    let out = Out {
        code: out.status.code().unwrap_or_else(|| panic!("jailctl {args:?} died of {:?}", out.status)),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    assert!(!out.stderr.contains("panicked"), "jailctl {args:?} panicked:\n{}", out.stderr);
    (out, pid)
}

#[test]
fn every_broken_profile_is_refused_naming_file_line_and_field() {
    let p = profiles();
    let interpreters = repo().join("interpreters");
    each_case(p.cases.iter().map(|(n, c)| (n.as_str(), c)), |name, case| {
        let loaded = profile::load(&p.dir, name);
        match case.stage.as_deref().unwrap_or("load") {
            "load" => {
                let e = loaded.err().unwrap_or_else(|| panic!("{name}: loaded although it is broken"));
                case.assert_error(name, &p.dir, &e);
            }
            "interpreter" => {
                let loaded =
                    loaded.unwrap_or_else(|e| panic!("{name}: does not load ({e}); the case is about its interpreter"));
                let e = loaded
                    .interpreter(&interpreters)
                    .err()
                    .unwrap_or_else(|| panic!("{name}: its interpreter was accepted"));
                case.assert_error(name, &p.dir, &e);
            }
            other => panic!("{name}: unknown stage {other:?}"),
        }
    });
    eprintln!("{} profile cases", p.cases.len());
}

#[test]
fn profile_lint_refuses_every_broken_profile_with_its_error() {
    let p = profiles();
    each_case(p.cases.iter().filter(|(_, c)| c.via("lint")).map(|(n, c)| (n.as_str(), c)), |name, case| {
        let file = p.dir.join(format!("{name}.toml"));
        let (out, _) = jailctl(&["profile", "lint", file.to_str().unwrap()], &p.dir);
        assert_eq!(out.code, 2, "{name}: lint exit {}:\n{}{}", out.code, out.stdout, out.stderr);
        assert_eq!(out.stdout, "", "{name}: lint printed findings for a profile that does not load");
        case.assert_rendered(name, &p.dir, &out.stderr);
    });
}

#[test]
fn a_run_under_a_broken_profile_is_an_internal_error_and_leaves_nothing() {
    require_jails!();
    let p = profiles();
    // No extension: the profile alone says the language.
    let script = p.dir.parent().unwrap().join("script");
    std::fs::write(&script, "result = 1\n").unwrap();
    each_case(p.cases.iter().filter(|(_, c)| c.via("run")).map(|(n, c)| (n.as_str(), c)), |name, case| {
        let (out, pid) = jailctl(
            &["run", "--json", "--profile", name, "--profiles-dir", p.dir.to_str().unwrap(), script.to_str().unwrap()],
            &p.dir,
        );
        assert_eq!(out.code, 10, "{name}: exit {}:\n{}{}", out.code, out.stdout, out.stderr);
        let report: Value = serde_json::from_str(&out.stdout)
            .unwrap_or_else(|e| panic!("{name}: no JSON report ({e}):\n{}{}", out.stdout, out.stderr));
        assert_eq!(report["status"], "internal_error", "{name}: {report}");
        assert!(
            report["interpreter"].is_null() && report["exit_code"].is_null() && report["started_at"].is_string(),
            "{name}: {report}"
        );
        case.assert_rendered(name, &p.dir, report["message"].as_str().unwrap_or_default());
        let cgroups = cgroups_named(&format!("run.{pid}."));
        assert!(cgroups.is_empty(), "{name}: jailctl (pid {pid}) left run cgroups: {cgroups:?}");
        let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
        assert!(!mounts.lines().any(|l| l.contains(" jaild ")), "{name}: a jail mount is visible on the host");
    });
}

/// Every field name profile.rs validates (the first argument of its `invalid(...)`,
/// `invalid_at(..)`, `range(...)` calls) is the field of at least one case.
#[test]
fn the_catalogue_covers_every_validation_in_profile_rs() {
    let p = profiles();
    let fields: Vec<String> = p.cases.iter().filter_map(|(_, c)| c.field.clone()).collect();
    let source = std::fs::read_to_string(repo().join("supervisor/core/src/profile.rs")).unwrap();
    let source = &source[..source.find("#[cfg(test)]").unwrap_or(source.len())];
    let mut checked = BTreeSet::new();
    for call in ["invalid(\"", "invalid_key(&format!(\"", "range(\"", "field: \""] {
        for (i, _) in source.match_indices(call) {
            let rest = &source[i + call.len()..];
            let literal = &rest[..rest.find('"').unwrap()];
            if literal.contains('{') || literal.is_empty() {
                continue;
            }
            checked.insert(literal.to_string());
        }
    }
    for (i, _) in source.match_indices("invalid_at(") {
        let args = &source[i..];
        if let Some(lit) =
            args.split(',').nth(2).and_then(|a| a.trim().strip_prefix('"')).and_then(|a| a.split('"').next())
        {
            checked.insert(lit.to_string());
        }
    }
    assert!(checked.len() >= 20, "found only {checked:?} in profile.rs");
    let missing: Vec<&String> = checked
        .iter()
        .filter(|f| !fields.iter().any(|c| c == *f || c.ends_with(&format!(".{f}")) || c.starts_with(&format!("{f}."))))
        .collect();
    assert!(missing.is_empty(), "profile.rs validates {missing:?}, and no case of tests/bad_input/profiles/ names it");
}
