//! jailctl as jaild's client: the real jaild binary on a temporary socket, driven by the real
//! jailctl binary. `run` goes through the daemon when its socket is there and in-process
//! otherwise (or with --local), with the same report either way; `submit`, `status`, `wait`,
//! `cancel`, `logs -f`, `history` and `health` follow and steer runs in the daemon.
// Test code: a failed unwrap is a failed test, with its location.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::*;

use jaild::report::{Report, Status};
use serde_json::Value;
use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A jaild of the test's own: its socket and history in a temporary directory.
struct Daemon {
    child: Child,
    dir: tempfile::TempDir,
    socket: PathBuf,
}

impl Daemon {
    fn start() -> Daemon {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("jaild.sock");
        let config = dir.path().join("jaild.toml");
        std::fs::write(&config, format!("store = {:?}\n", dir.path().join("history.db").display().to_string()))
            .unwrap();
        let log = std::fs::File::create(dir.path().join("jaild.log")).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_jaild"))
            .arg("--socket")
            .arg(&socket)
            .arg("--config")
            .arg(&config)
            .current_dir(repo())
            .env("JAILD_LOG", "info")
            .env_remove("JAILD_PROFILES")
            .env_remove("JAILD_INTERPRETERS")
            .env_remove("JAILD_JAIL_INIT")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("jaild starts");
        let mut daemon = Daemon { child, dir, socket };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if std::os::unix::net::UnixStream::connect(&daemon.socket).is_ok() {
                break;
            }
            if let Some(status) = daemon.child.try_wait().unwrap() {
                panic!("jaild exited with {status} before serving:\n{}", daemon.log());
            }
            assert!(Instant::now() < deadline, "jaild did not listen within 60 s:\n{}", daemon.log());
            std::thread::sleep(Duration::from_millis(20));
        }
        daemon
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("jaild.log")).unwrap_or_default()
    }

    fn socket(&self) -> &str {
        self.socket.to_str().unwrap()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

impl std::fmt::Display for Out {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "exit {}\n--- stdout\n{}\n--- stderr\n{}", self.code, self.stdout, self.stderr)
    }
}

impl Out {
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{self}"))
    }

    fn report(&self) -> Report {
        let r: Report =
            serde_json::from_value(self.json()).unwrap_or_else(|e| panic!("stdout is not a report ({e}):\n{self}"));
        assert_no_leftovers(&r);
        r
    }
}

fn command(socket: &str, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_jailctl"));
    cmd.args(args)
        .current_dir(repo())
        // Every call names its daemon: never the host's /run/jaild/jaild.sock.
        .env("JAILD_SOCKET", socket)
        .env_remove("JAILD_PROFILES")
        .env_remove("JAILD_INTERPRETERS")
        .env_remove("JAILD_JAIL_INIT")
        .env_remove("JAILD_LOG");
    cmd
}

/// `jailctl ARGS` with $JAILD_SOCKET set to `socket` and `stdin` as standard input.
fn jailctl(socket: &str, args: &[&str], stdin: Option<&str>) -> Out {
    let mut child = command(socket, args)
        .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("jailctl starts");
    if let Some(text) = stdin {
        child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    }
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let code =
        out.status.code().unwrap_or_else(|| panic!("jailctl {args:?} died of {:?}\n{stdout}\n{stderr}", out.status));
    assert!(!stderr.contains("panicked"), "jailctl {args:?} panicked:\n{stderr}");
    Out { code, stdout, stderr }
}

/// Submits `code` (python) and returns the run id.
fn submit(d: &Daemon, code: &str, extra: &[&str]) -> String {
    let mut args = vec!["submit", "--lang", "python"];
    args.extend_from_slice(extra);
    args.push("-");
    let out = jailctl(d.socket(), &args, Some(code));
    assert_eq!(out.code, 0, "{out}");
    let id = out.stdout.trim().to_string();
    assert!(!id.is_empty() && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'), "{out}");
    id
}

/// `jailctl status ID --json`, the API's Run.
fn status(d: &Daemon, id: &str) -> Value {
    let out = jailctl(d.socket(), &["status", id, "--json"], None);
    assert_eq!(out.code, 0, "{out}");
    out.json()
}

fn wait_for_state(d: &Daemon, id: &str, state: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let run = status(d, id);
        if run["state"] == state {
            return;
        }
        assert!(Instant::now() < deadline, "run {id} never became {state}: {run:#}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Every key path of a JSON value (`usage.wall_ms`, `violations[].detail`, ...).
fn shape(v: &Value, prefix: &str, out: &mut BTreeSet<String>) {
    match v {
        Value::Object(map) => {
            for (k, v) in map {
                let p = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
                out.insert(p.clone());
                shape(v, &p, out);
            }
        }
        Value::Array(items) => {
            for item in items {
                shape(item, &format!("{prefix}[]"), out);
            }
        }
        _ => {}
    }
}

fn keys(v: &Value) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    shape(v, "", &mut out);
    out
}

// ---------------------------------------------------------------------------------------------
// run: through the daemon, or in-process
// ---------------------------------------------------------------------------------------------

#[test]
fn run_through_the_daemon_gives_the_in_process_report() {
    require_jails!();
    let d = Daemon::start();
    let script =
        "import sys\nprint('to stdout')\nprint('to stderr', file=sys.stderr)\nresult = {'sum': sum(input['xs'])}\n";
    let args = ["run", "--lang", "python", "-", "--input", r#"{"xs": [1, 2, 3]}"#, "--json"];

    // The default socket ($JAILD_SOCKET) is there: through the daemon.
    let via = jailctl(d.socket(), &args, Some(script));
    assert_eq!(via.code, 0, "{via}");
    let via_report = via.report();
    let mut local_args = args.to_vec();
    local_args.push("--local");
    let local = jailctl(d.socket(), &local_args, Some(script));
    assert_eq!(local.code, 0, "{local}");
    let local_report = local.report();

    // The daemon has the first run and not the second.
    assert_eq!(status(&d, &via_report.id)["state"], "finished");
    let unknown = jailctl(d.socket(), &["status", &local_report.id], None);
    assert_eq!(unknown.code, 1, "the --local run went through the daemon: {unknown}");
    assert!(unknown.stderr.contains("no such run"), "{unknown}");

    // Same report: the same fields, the same outcome.
    assert_eq!(keys(&via.json()), keys(&local.json()), "report shapes differ:\n{via}\n{local}");
    assert_eq!((via_report.status, &via_report.result), (local_report.status, &local_report.result));
    assert_eq!((&via_report.stdout, &via_report.stderr), (&local_report.stdout, &local_report.stderr));
    assert_eq!(via_report.profile, local_report.profile);
    assert_eq!(via_report.interpreter, local_report.interpreter);
    assert_eq!(via_report.enforcement, local_report.enforcement);

    // Human output and exit codes match too, for a run that fails.
    let failing = "raise ValueError('nope')";
    let via = jailctl(d.socket(), &["run", "--lang", "python", "-"], Some(failing));
    let local = jailctl(d.socket(), &["run", "--lang", "python", "-", "--local"], Some(failing));
    assert_eq!((via.code, local.code), (1, 1), "{via}\n{local}");
    let lines = |o: &Out| o.stdout.lines().filter(|l| !l.starts_with("usage:")).map(str::to_string).collect::<Vec<_>>();
    assert_eq!(lines(&via), lines(&local));

    // An explicit --socket works the same way, whatever $JAILD_SOCKET says.
    let mut cmd_args = vec!["run", "--socket", d.socket()];
    cmd_args.extend_from_slice(&["--lang", "python", "-", "--json"]);
    let explicit = jailctl("/nonexistent/jaild.sock", &cmd_args, Some("result = 7"));
    assert_eq!(explicit.code, 0, "{explicit}");
    assert_eq!(status(&d, &explicit.report().id)["status"], "ok");
}

#[test]
fn local_and_profiles_dir_run_in_process() {
    require_jails!();
    let d = Daemon::start();
    for extra in [vec!["--local"], vec!["--profiles-dir", repo().join("profiles").to_str().unwrap().to_string().leak()]]
    {
        let mut args = vec!["run", "--lang", "python", "-", "--json"];
        args.extend(extra.iter().copied());
        let out = jailctl(d.socket(), &args, Some("result = 1"));
        assert_eq!(out.code, 0, "{out}");
        let id = out.report().id;
        assert_eq!(jailctl(d.socket(), &["status", &id], None).code, 1, "{args:?} went through the daemon");
    }
    let history = jailctl(d.socket(), &["history", "--json"], None);
    assert_eq!(history.json()["runs"].as_array().unwrap().len(), 0, "{history}");
    // --local with --socket is a contradiction.
    let out = jailctl(d.socket(), &["run", "--local", "--socket", d.socket(), "examples/fib.py"], None);
    assert_eq!(out.code, 2, "{out}");
}

#[test]
fn without_a_daemon_run_is_in_process_and_the_rest_say_so() {
    require_jails!();
    let dir = tempfile::tempdir().unwrap();
    // No socket file at all.
    let missing = dir.path().join("jaild.sock");
    let missing = missing.to_str().unwrap();
    let out = jailctl(missing, &["run", "examples/fib.py", "--input", r#"{"n": 10}"#, "--json"], None);
    assert_eq!(out.code, 0, "{out}");
    assert_eq!(out.report().result["fib"], 55);
    assert!(out.stderr.is_empty(), "a missing socket is not worth a word: {out}");

    // A socket file nobody listens on (a stopped jaild): in-process, with a note.
    let stale = dir.path().join("stale.sock");
    drop(std::os::unix::net::UnixListener::bind(&stale).unwrap());
    let stale = stale.to_str().unwrap();
    let out = jailctl(stale, &["run", "examples/fib.py", "--input", r#"{"n": 10}"#], None);
    assert_eq!(out.code, 0, "{out}");
    assert!(out.stderr.contains("running in-process"), "{out}");

    // Given explicitly, the socket must answer.
    let out = jailctl(missing, &["run", "--socket", missing, "examples/fib.py"], None);
    assert_eq!(out.code, Status::InternalError.exit_code(), "{out}");
    assert!(out.stderr.contains("no jaild is listening on"), "{out}");

    // The daemon-only commands explain.
    for (args, code) in [
        (vec!["submit", "examples/fib.py"], Status::InternalError.exit_code()),
        (vec!["status", "abc"], 1),
        (vec!["cancel", "abc"], 1),
        (vec!["history"], 1),
        (vec!["health"], 1),
        (vec!["wait", "abc"], 12),
        (vec!["logs", "-f", "abc"], 12),
    ] {
        let out = jailctl(missing, &args, None);
        assert_eq!(out.code, code, "{args:?}: {out}");
        assert!(out.stderr.contains(&format!("no jaild is listening on {missing}")), "{args:?}: {out}");
    }
}

#[test]
fn refused_requests_exit_as_rejected() {
    require_jails!();
    let d = Daemon::start();
    let out = jailctl(
        d.socket(),
        &["run", "--profile", "no-such-profile", "--lang", "python", "-", "--json"],
        Some("result = 1"),
    );
    assert_eq!(out.code, Status::Rejected.exit_code(), "{out}");
    assert_eq!(out.json()["error"]["code"], "not_found", "{out}");
    assert!(out.stderr.contains("no-such-profile"), "{out}");

    // A limit looser than the profile's: 400 with the field named.
    let out = jailctl(d.socket(), &["run", "--lang", "python", "-", "--wall-time-ms", "99999999"], Some("result = 1"));
    assert_eq!(out.code, Status::Rejected.exit_code(), "{out}");
    assert!(out.stderr.contains("limits.wall_time_ms"), "{out}");

    // Input that is not JSON never leaves jailctl; the exit status is the in-process one.
    let out = jailctl(d.socket(), &["run", "--lang", "python", "-", "--input", "{nope", "--json"], Some("result = 1"));
    assert_eq!(out.code, Status::Rejected.exit_code(), "{out}");
    assert_eq!(out.json()["error"]["field"], "input", "{out}");
    let local =
        jailctl(d.socket(), &["run", "--local", "--lang", "python", "-", "--input", "{nope"], Some("result = 1"));
    assert_eq!(local.code, out.code, "{local}");

    let out = jailctl(d.socket(), &["status", "../etc"], None);
    assert_eq!(out.code, 2, "{out}");
    let out = jailctl(d.socket(), &["history", "--status", "fine"], None);
    assert_eq!(out.code, 2, "{out}");
}

// ---------------------------------------------------------------------------------------------
// submit, status, wait, cancel
// ---------------------------------------------------------------------------------------------

#[test]
fn submit_status_and_wait() {
    require_jails!();
    let d = Daemon::start();
    let id = submit(&d, "import time\ntime.sleep(0.5)\nraise ValueError('late')", &[]);
    let run = status(&d, &id);
    assert_eq!(run["id"], id.as_str());
    assert!(matches!(run["state"].as_str(), Some("queued" | "running")), "{run:#}");
    assert!(run["report"].is_null(), "{run:#}");
    let human = jailctl(d.socket(), &["status", &id], None);
    assert!(human.stdout.contains(&format!("run:      {id}")) && human.stdout.contains("profile:  python"), "{human}");

    // wait exits as run would have: 1 for runtime_error, with the report.
    let waited = jailctl(d.socket(), &["wait", &id, "--json"], None);
    assert_eq!(waited.code, Status::RuntimeError.exit_code(), "{waited}");
    let report = waited.report();
    assert_eq!((report.id.as_str(), report.status), (id.as_str(), Status::RuntimeError));
    assert_eq!(report.error.unwrap().kind, "ValueError");
    let human = jailctl(d.socket(), &["wait", &id], None);
    assert!(human.stdout.contains("status:  runtime_error") && human.stdout.contains("ValueError: late"), "{human}");

    let run = status(&d, &id);
    assert_eq!((run["state"].as_str(), run["status"].as_str()), (Some("finished"), Some("runtime_error")));
    assert_eq!(run["report"]["id"], id.as_str());

    // --timeout: a run still going is left alone, exit 12.
    let slow = submit(&d, "import time\ntime.sleep(3)\nresult = 1", &[]);
    let started = Instant::now();
    let out = jailctl(d.socket(), &["wait", &slow, "--timeout", "0.3"], None);
    assert_eq!(out.code, 12, "{out}");
    assert!(started.elapsed() < Duration::from_secs(2), "--timeout was not kept: {:?}", started.elapsed());
    assert!(out.stderr.contains("still"), "{out}");
    let out = jailctl(d.socket(), &["wait", &slow], None);
    assert_eq!(out.code, 0, "{out}");

    // submit --json gives the API's Accepted.
    let out = jailctl(d.socket(), &["submit", "--lang", "javascript", "-", "--json"], Some("return 2"));
    assert_eq!(out.code, 0, "{out}");
    let accepted = out.json();
    assert!(accepted["id"].is_string() && accepted["state"].is_string(), "{out}");
    let out = jailctl(d.socket(), &["wait", accepted["id"].as_str().unwrap(), "--json"], None);
    assert_eq!(out.report().result, 2);
}

#[test]
fn cancel_kills_an_infinite_loop() {
    require_jails!();
    let d = Daemon::start();
    let id = submit(&d, "while True:\n    pass\n", &[]);
    wait_for_state(&d, &id, "running");
    let started = Instant::now();
    let out = jailctl(d.socket(), &["cancel", &id], None);
    assert_eq!(out.code, 0, "{out}");
    assert_eq!(out.stdout.trim(), format!("run {id} cancelled"), "{out}");
    let waited = jailctl(d.socket(), &["wait", &id, "--json"], None);
    assert_eq!(waited.code, Status::Cancelled.exit_code(), "{waited}");
    // The jail is gone: its cgroups are removed (only possible with no process left in them).
    let report = waited.report();
    assert!(started.elapsed() < Duration::from_secs(1), "the jail outlived the cancel by {:?}", started.elapsed());
    assert_eq!(report.status, Status::Cancelled);

    // Cancelling again: it has already ended.
    let out = jailctl(d.socket(), &["cancel", &id, "--json"], None);
    assert_eq!(out.code, 1, "{out}");
    assert_eq!(out.json()["error"]["code"], "already_finished", "{out}");
}

#[test]
fn interrupting_run_cancels_the_run_in_the_daemon() {
    require_jails!();
    let d = Daemon::start();
    let mut child = command(d.socket(), &["run", "--lang", "python", "-", "--json"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"while True:\n    pass\n").unwrap();
    // Wait until the run is in the daemon and running, then Ctrl-C jailctl.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let out = jailctl(d.socket(), &["history", "--json"], None);
        if out.json()["runs"].as_array().unwrap().iter().any(|r| r["state"] == "running") {
            break;
        }
        assert!(Instant::now() < deadline, "the run never started: {out}");
        std::thread::sleep(Duration::from_millis(20));
    }
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), nix::sys::signal::Signal::SIGINT).unwrap();
    let out = child.wait_with_output().unwrap();
    let out = Out {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    assert_eq!(out.code, Status::Cancelled.exit_code(), "{out}");
    assert!(out.stderr.contains("cancelling run"), "{out}");
    let report = out.report();
    assert_eq!(report.status, Status::Cancelled);
    assert_eq!(status(&d, &report.id)["state"], "cancelled");
}

// ---------------------------------------------------------------------------------------------
// logs, history, health
// ---------------------------------------------------------------------------------------------

const CHATTY: &str = "import sys, time\nfor i in range(4):\n    print('out', i, flush=True)\n    print('err', i, file=sys.stderr, flush=True)\n    time.sleep(0.15)\nresult = 'done'\n";

#[test]
fn logs_follow_streams_in_order() {
    require_jails!();
    let d = Daemon::start();
    let id = submit(&d, CHATTY, &[]);
    let mut child = command(d.socket(), &["logs", "-f", &id, "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = Vec::new();
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        lines.push((Instant::now(), serde_json::from_str::<Value>(&line.unwrap()).unwrap()));
    }
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0), "{lines:?}");
    let kinds: Vec<String> = lines
        .iter()
        .map(|(_, e)| match e["type"].as_str().unwrap() {
            "report" => "report".to_string(),
            kind => format!("{kind}:{}", e["data"].as_str().unwrap()),
        })
        .collect();
    let expected: Vec<String> = (0..4)
        .flat_map(|i| [format!("stdout:out {i}\n"), format!("stderr:err {i}\n")])
        .chain(["report".to_string()])
        .collect();
    assert_eq!(kinds, expected);
    // As they came: the first line arrived well before the report.
    let spread = lines.last().unwrap().0 - lines[0].0;
    assert!(spread >= Duration::from_millis(300), "the output arrived at once ({spread:?}): not streamed");
    let (_, last) = lines.last().unwrap();
    assert_eq!(last["report"]["result"], "done");
    assert_eq!(last["report"]["stdout"], "out 0\nout 1\nout 2\nout 3\n");

    // Human: the script's stdout to stdout, its stderr to stderr; the exit status is the run's.
    let failing = submit(&d, "import sys\nprint('a')\nprint('b', file=sys.stderr)\nsys.exit(3)", &[]);
    let out = jailctl(d.socket(), &["logs", "-f", &failing], None);
    assert_eq!(
        (out.code, out.stdout.as_str(), out.stderr.as_str()),
        (Status::RuntimeError.exit_code(), "a\n", "b\n"),
        "{out}"
    );
    // Without -f, an ended run's output is printed the same way.
    let again = jailctl(d.socket(), &["logs", &failing], None);
    assert_eq!((again.code, again.stdout, again.stderr), (out.code, out.stdout, out.stderr));
    // ...and a run still going is not waited for.
    let slow = submit(&d, "import time\ntime.sleep(2)", &[]);
    let out = jailctl(d.socket(), &["logs", &slow], None);
    assert_eq!(out.code, 12, "{out}");
    assert!(out.stderr.contains("-f follows"), "{out}");
}

#[test]
fn history_lists_and_filters() {
    require_jails!();
    let d = Daemon::start();
    let run = |args: &[&str], code: &str| {
        let mut all = vec!["run", "--json"];
        all.extend_from_slice(args);
        all.push("-");
        jailctl(d.socket(), &all, Some(code)).report().id
    };
    let ok = run(&["--lang", "python"], "result = 1");
    let slow = run(&["--lang", "python", "--wall-time-ms", "200"], "while True:\n    pass\n");
    let js = run(&["--lang", "javascript"], "return 1");

    let ids = |args: &[&str]| -> Vec<String> {
        let mut all = vec!["history", "--json"];
        all.extend_from_slice(args);
        let out = jailctl(d.socket(), &all, None);
        assert_eq!(out.code, 0, "{out}");
        out.json()["runs"].as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap().to_string()).collect()
    };
    assert_eq!(ids(&[]), [js.as_str(), slow.as_str(), ok.as_str()], "newest first");
    assert_eq!(ids(&["--status", "timeout"]), [slow.as_str()]);
    assert_eq!(ids(&["--profile", "javascript"]), [js.as_str()]);
    assert_eq!(ids(&["--limit", "1"]), [js.as_str()]);
    assert_eq!(ids(&["--since", "2999-01-01T00:00:00+01:00"]), Vec::<String>::new());
    assert_eq!(ids(&["--since", "2000-01-01T00:00:00Z", "--status", "ok"]), [js.as_str(), ok.as_str()]);

    let human = jailctl(d.socket(), &["history"], None);
    assert_eq!(human.code, 0, "{human}");
    let lines: Vec<&str> = human.stdout.lines().collect();
    assert!(lines[0].starts_with("ID") && lines[0].contains("STATUS"), "{human}");
    assert!(lines[2].starts_with(&slow) && lines[2].contains("timeout"), "{human}");
    assert_eq!(lines.len(), 4, "{human}");

    let bad = jailctl(d.socket(), &["history", "--since", "yesterday"], None);
    assert_eq!(bad.code, 1, "{bad}");
    assert!(bad.stderr.contains("since"), "{bad}");
}

#[test]
fn health_describes_the_daemon() {
    require_jails!();
    let d = Daemon::start();
    let out = jailctl(d.socket(), &["health", "--json"], None);
    assert_eq!(out.code, 0, "{out}");
    let h = out.json();
    assert_eq!(h["status"], "ok");
    assert_eq!(h["pid"].as_u64(), Some(u64::from(d.child.id())));
    let human = jailctl(d.socket(), &["health"], None);
    assert_eq!(human.code, 0, "{human}");
    assert!(human.stdout.starts_with("jaild ") && human.stdout.contains(": ok (pid"), "{human}");
    assert!(human.stdout.contains("running of"), "{human}");
}

/// The jailctl binary's --help documents the exit statuses of the commands that have them.
#[test]
fn help_documents_exit_statuses() {
    for (cmd, needle) in
        [("run", "11  cancelled"), ("wait", "12  no report"), ("logs", "12  no report"), ("submit", "9   rejected")]
    {
        let out = jailctl("/nonexistent", &[cmd, "--help"], None);
        assert_eq!(out.code, 0, "{out}");
        assert!(out.stdout.contains(needle), "jailctl {cmd} --help:\n{out}");
    }
}

// ---------------------------------------------------------------------------------------------
// What a script writes reaches the operator's terminal escaped; --json is exact
// ---------------------------------------------------------------------------------------------

/// Terminal control sequences a hostile script writes, each with the text jailctl must show
/// for it (`\xHH` below U+0080, `\u{H}` above; a backslash doubled only where it would read as
/// one of those).
const HOSTILE: &[(&str, &str)] = &[
    // OSC 52: write the operator's clipboard, BEL- and ST-terminated (ST is ESC \).
    ("\x1b]52;c;aGFja2Vk\x07", r"\x1b]52;c;aGFja2Vk\x07"),
    ("\x1b]52;c;aGFja2Vk\x1b\\", r"\x1b]52;c;aGFja2Vk\x1b\"),
    // CSI: erase the screen, move the cursor home.
    ("\x1b[2J\x1b[H", r"\x1b[2J\x1b[H"),
    // OSC 0: retitle the window.
    ("\x1b]0;owned\x07", r"\x1b]0;owned\x07"),
    // A carriage return, backspaces and DEL that overwrite what came before.
    ("shown\rHIDDEN", r"shown\x0dHIDDEN"),
    ("ab\x08\x08\x7f", r"ab\x08\x08\x7f"),
    // C1 controls: CSI (U+009B), OSC (U+009D) ... ST (U+009C), NEL (U+0085).
    ("\u{9b}2J", r"\u{9b}2J"),
    ("\u{9d}0;t\u{9c}\u{85}", r"\u{9d}0;t\u{9c}\u{85}"),
    // A bidi override and isolate: the operator would read "exe.txt".
    ("\u{202e}txt.exe\u{2069}", r"\u{202e}txt.exe\u{2069}"),
    // Text that only looks like an escape: its backslash is doubled.
    (r"\x1b", r"\\x1b"),
];

fn hostile() -> String {
    HOSTILE.iter().map(|(raw, _)| *raw).collect::<Vec<_>>().join(" ")
}

fn rendered() -> String {
    HOSTILE.iter().map(|(_, shown)| *shown).collect::<Vec<_>>().join(" ")
}

/// `s` as a Python string literal in ASCII only.
fn py_str(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            ' '..='~' if c != '"' && c != '\\' => out.push(c),
            _ => out.push_str(&format!("\\u{:04x}", c as u32)),
        }
    }
    out.push('"');
    out
}

/// The characters of `s` that must never reach a terminal as they are: C0 controls but newline
/// and tab, DEL, C1 controls, bidi embeddings, overrides and isolates.
fn raw_controls(s: &str) -> BTreeSet<char> {
    s.chars()
        .filter(|&c| {
            (c < ' ' && c != '\n' && c != '\t')
                || ('\u{7f}'..='\u{9f}').contains(&c)
                || ('\u{202a}'..='\u{202e}').contains(&c)
                || ('\u{2066}'..='\u{2069}').contains(&c)
        })
        .collect()
}

fn assert_no_raw_controls(out: &Out, what: &str) {
    for (name, text) in [("stdout", &out.stdout), ("stderr", &out.stderr)] {
        let raw = raw_controls(text);
        assert!(
            raw.is_empty(),
            "{what}: jailctl's {name} holds raw control characters {raw:?}:\n{}",
            out.stdout.escape_debug()
        );
    }
}

/// A script that writes the hostile text to stdout and stderr, has a violation recorded with it
/// (the runner's blocked-module finder, asked directly), and raises an exception whose type and
/// message hold it.
fn hostile_script() -> String {
    format!(
        "import sys\nH = {}\nprint('out:' + H)\nprint('err:' + H, file=sys.stderr)\n\
         try:\n    sys.meta_path[0].find_spec('socket.' + H)\nexcept ModuleNotFoundError:\n    pass\n\
         raise type('Evil' + H, (Exception,), {{}})('msg:' + H)\n",
        py_str(&hostile())
    )
}

/// A script file whose name is hostile too (the traceback names it).
const HOSTILE_FILENAME: (&str, &str) = ("evil\x1b]0;owned\x07.py", r"evil\x1b]0;owned\x07.py");

/// The text summary of a run of [`hostile_script`]: every field shows the escapes.
fn assert_summary_escaped(out: &Out, what: &str) {
    assert_eq!(out.code, Status::RuntimeError.exit_code(), "{what}: {out}");
    assert_no_raw_controls(out, what);
    let r = rendered();
    for needle in [
        format!("  | out:{r}\n"),
        format!("  | err:{r}\n"),
        format!("error:   Evil{r}: msg:{r}\n"),
        format!("message: the script raised Evil{r}: msg:{r}\n"),
        format!("denied:  blocked_module socket.{r} x1"),
        format!("File \"{}\", line 9", HOSTILE_FILENAME.1),
    ] {
        assert!(out.stdout.contains(&needle), "{what}: {needle:?} not in the summary:\n{}", out.stdout.escape_debug());
    }
}

/// The --json report of a run of [`hostile_script`]: every field exactly as the script wrote it.
fn assert_report_exact(out: &Out, what: &str) -> Report {
    assert_eq!(out.code, Status::RuntimeError.exit_code(), "{what}: {out}");
    // C0 controls are JSON escapes in the text; parsed back, everything is exact.
    assert!(out.stdout.contains(r"\u001b]52;c;aGFja2Vk\u0007"), "{what}: {out}");
    assert!(!out.stdout.contains('\x1b'), "{what}: a raw ESC in JSON text: {out}");
    let report = out.report();
    let h = hostile();
    assert_eq!(report.stdout, format!("out:{h}\n"), "{what}");
    assert_eq!(report.stderr, format!("err:{h}\n"), "{what}");
    let error = report.error.clone().unwrap_or_else(|| panic!("{what}: no error: {out}"));
    assert_eq!((error.kind, error.message), (format!("Evil{h}"), format!("msg:{h}")), "{what}");
    assert!(
        error.traceback.contains(&format!("File \"{}\"", HOSTILE_FILENAME.0)),
        "{what}: {}",
        error.traceback.escape_debug()
    );
    assert!(
        report.violations.iter().any(|v| v.kind == "blocked_module" && v.detail == format!("socket.{h}")),
        "{what}: {:?}",
        report.violations
    );
    report
}

#[test]
fn hostile_output_is_shown_escaped_as_text_and_exact_as_json() {
    require_jails!();
    let d = Daemon::start();
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join(HOSTILE_FILENAME.0);
    std::fs::write(&script, hostile_script()).unwrap();
    let script = script.to_str().unwrap();

    // In-process and through jaild, as text and as JSON.
    let local = jailctl(d.socket(), &["run", "--local", script], None);
    assert_summary_escaped(&local, "run --local");
    assert_report_exact(&jailctl(d.socket(), &["run", "--local", script, "--json"], None), "run --local --json");
    let via = jailctl(d.socket(), &["run", script], None);
    assert_summary_escaped(&via, "run through jaild");
    let report =
        assert_report_exact(&jailctl(d.socket(), &["run", script, "--json"], None), "run --json through jaild");

    // The commands that show a run jaild has: wait and status print its summary, logs its
    // stdout to stdout and its stderr to stderr.
    let id = report.id.as_str();
    assert_summary_escaped(&jailctl(d.socket(), &["wait", id], None), "wait");
    assert_report_exact(&jailctl(d.socket(), &["wait", id, "--json"], None), "wait --json");
    let status = jailctl(d.socket(), &["status", id], None);
    assert_eq!(status.code, 0, "{status}");
    assert_no_raw_controls(&status, "status");
    assert!(status.stdout.contains(&format!("  | out:{}\n", rendered())), "status:\n{}", status.stdout.escape_debug());
    let logs = jailctl(d.socket(), &["logs", id], None);
    assert_no_raw_controls(&logs, "logs");
    assert_eq!(
        (logs.code, logs.stdout.as_str(), logs.stderr.as_str()),
        (
            Status::RuntimeError.exit_code(),
            format!("out:{}\n", rendered()).as_str(),
            format!("err:{}\n", rendered()).as_str()
        ),
        "logs"
    );
}

#[test]
fn a_hostile_result_is_shown_as_json_with_escapes() {
    require_jails!();
    let d = Daemon::start();
    let code = format!("H = {}\nresult = {{'key:' + H: ['value:' + H, 1]}}\n", py_str(&hostile()));
    let expected = serde_json::json!({ format!("key:{}", hostile()): [format!("value:{}", hostile()), 1] });
    for extra in [&["--local"][..], &[]] {
        let mut args = vec!["run", "--lang", "python", "-"];
        args.extend_from_slice(extra);
        let text = jailctl(d.socket(), &args, Some(&code));
        assert_eq!(text.code, 0, "{text}");
        assert_no_raw_controls(&text, "result");
        // The result line is JSON (the escapes are JSON's) and reads back as the exact result.
        let line = text
            .stdout
            .lines()
            .find_map(|l| l.strip_prefix("result:  "))
            .unwrap_or_else(|| panic!("no result: {text}"));
        let shown: Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("the result line is not JSON ({e}): {line}"));
        assert_eq!(shown, expected, "{args:?}");
        args.push("--json");
        let json = jailctl(d.socket(), &args, Some(&code));
        assert_eq!(json.code, 0, "{json}");
        assert_eq!(json.report().result, expected, "{args:?}");
    }
}

/// `logs -f` prints a run's output as it comes, each piece escaped: an escape sequence, a
/// backslash before text that would read as an escape, and a UTF-8 character (C1 CSI, U+009B)
/// each split across two writes of the script.
#[test]
fn logs_follow_escapes_across_chunk_boundaries() {
    require_jails!();
    let d = Daemon::start();
    let code = "import sys, time\n\
                def put(stream, data):\n    stream.buffer.write(data)\n    stream.flush()\n    time.sleep(0.3)\n\
                time.sleep(0.5)\n\
                for s in (sys.stdout, sys.stderr):\n\
                \x20   put(s, b'a\\x1b')\n    put(s, b'[2J b\\\\')\n    put(s, b'x1b c\\xc2')\n    put(s, b'\\x9b2J d\\r\\n')\n";
    let id = submit(&d, code, &[]);
    let json = command(d.socket(), &["logs", "-f", &id, "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let text = jailctl(d.socket(), &["logs", "-f", &id], None);
    let json_out = json.wait_with_output().unwrap();
    let exact = "a\x1b[2J b\\x1b c\u{9b}2J d\r\n";
    let shown = r"a\x1b[2J b\\x1b c\u{9b}2J d\x0d".to_string() + "\n";
    assert_no_raw_controls(&text, "logs -f");
    assert_eq!(
        (text.code, text.stdout.as_str(), text.stderr.as_str()),
        (0, shown.as_str(), shown.as_str()),
        "logs -f:\n{text}"
    );

    // --json: the events as jaild sent them, cut where the script's writes were (the UTF-8
    // character whole), and together exactly what it wrote.
    assert_eq!(json_out.status.code(), Some(0));
    let events: Vec<Value> =
        String::from_utf8(json_out.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    for stream in ["stdout", "stderr"] {
        let data: Vec<&str> =
            events.iter().filter(|e| e["type"] == stream).map(|e| e["data"].as_str().unwrap()).collect();
        assert_eq!(data, ["a\x1b", "[2J b\\", "x1b c", "\u{9b}2J d\r\n"], "{stream} events");
        assert_eq!(data.concat(), exact);
    }
}

/// The help and the README say what text output does with control characters and that --json
/// is exact.
#[test]
fn help_says_text_is_escaped_and_json_exact() {
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    assert!(
        readme.contains("Text output shows control characters escaped; `--json` is exact."),
        "README.md does not say it"
    );
    let top = jailctl("/nonexistent", &["--help"], None);
    assert_eq!(top.code, 0, "{top}");
    assert!(top.stdout.contains("control characters") && top.stdout.contains("escaped"), "jailctl --help:\n{top}");
    for cmd in ["run", "status", "wait", "logs", "history"] {
        let out = jailctl("/nonexistent", &[cmd, "--help"], None);
        assert_eq!(out.code, 0, "{out}");
        assert!(out.stdout.contains("exact"), "jailctl {cmd} --help does not say --json is exact:\n{out}");
        assert!(out.stdout.contains("escaped"), "jailctl {cmd} --help does not say text is escaped:\n{out}");
    }
}
