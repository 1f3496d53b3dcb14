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
        std::fs::write(&config, format!("store = {:?}\n", dir.path().join("history.db").display().to_string())).unwrap();
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
        let r: Report = serde_json::from_value(self.json()).unwrap_or_else(|e| panic!("stdout is not a report ({e}):\n{self}"));
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
    let code = out.status.code().unwrap_or_else(|| panic!("jailctl {args:?} died of {:?}\n{stdout}\n{stderr}", out.status));
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
    let script = "import sys\nprint('to stdout')\nprint('to stderr', file=sys.stderr)\nresult = {'sum': sum(input['xs'])}\n";
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
    for extra in [vec!["--local"], vec!["--profiles-dir", repo().join("profiles").to_str().unwrap().to_string().leak()]] {
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
    let out = jailctl(d.socket(), &["run", "--profile", "no-such-profile", "--lang", "python", "-", "--json"], Some("result = 1"));
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
    let local = jailctl(d.socket(), &["run", "--local", "--lang", "python", "-", "--input", "{nope"], Some("result = 1"));
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
    let mut child = command(d.socket(), &["logs", "-f", &id, "--json"]).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
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
    assert_eq!((out.code, out.stdout.as_str(), out.stderr.as_str()), (Status::RuntimeError.exit_code(), "a\n", "b\n"), "{out}");
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
    for (cmd, needle) in [("run", "11  cancelled"), ("wait", "12  no report"), ("logs", "12  no report"), ("submit", "9   rejected")] {
        let out = jailctl("/nonexistent", &[cmd, "--help"], None);
        assert_eq!(out.code, 0, "{out}");
        assert!(out.stdout.contains(needle), "jailctl {cmd} --help:\n{out}");
    }
}
