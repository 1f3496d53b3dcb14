//! The daemon, for real: each test starts the `jaild` binary on a temporary socket with its own
//! config, store and state directory, and drives it over HTTP/1.1 on the Unix socket with the
//! small client in tests/common/daemon.rs. Callers with other uids are child processes (python3.11 with
//! `CommandExt::uid`). The OpenAPI file is checked against the router and the Report type.
//!
//! `cargo test --test daemon -- --ignored load` runs the load test (JAILD_LOAD_N runs, 2000 by
//! default, from 8 concurrent clients).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::daemon::*;
use jaild::report::{Report, Start, Status};
use serde_json::{json, Value};
use std::collections::{BTreeSet, HashMap};
use std::io::{BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The NDJSON events of a run, each with the time it arrived.
fn events(socket: &Path, id: &str) -> Vec<(Instant, Value)> {
    let mut stream = UnixStream::connect(socket).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    send_head(&mut stream, "GET", &format!("/v1/runs/{id}/events"), None, None);
    let mut reader = BufReader::new(stream);
    let (status, headers) = read_head(&mut reader);
    assert_eq!(status, 200);
    assert_eq!(headers["content-type"], "application/x-ndjson");
    let chunked = headers.get("transfer-encoding").is_some_and(|t| t.contains("chunked"));
    let mut out = Vec::new();
    let mut pending = Vec::new();
    let mut whole = Some(Vec::new()).filter(|_| !chunked);
    if let Some(body) = whole.as_mut() {
        reader.read_to_end(body).unwrap();
    }
    while let Some(chunk) = if chunked { read_chunk(&mut reader) } else { whole.take() } {
        let now = Instant::now();
        pending.extend(chunk);
        while let Some(nl) = pending.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = pending.drain(..=nl).collect();
            out.push((now, serde_json::from_slice(&line).unwrap()));
        }
    }
    assert!(pending.is_empty(), "a partial line at the end of the stream");
    out
}

/// A client with another uid: python3.11 speaking HTTP/1.1 over the socket. (status, body).
fn as_uid(uid: u32, socket: &Path, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
    const CLIENT: &str = r#"
import http.client, json, socket, sys
class Conn(http.client.HTTPConnection):
    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(sys.argv[1])
c = Conn("jaild", timeout=60)
body = sys.argv[4] if len(sys.argv) > 4 else None
c.request(sys.argv[2], sys.argv[3], body=body, headers={"Content-Type": "application/json"} if body else {})
r = c.getresponse()
print(r.status)
print(r.read().decode())
"#;
    let mut cmd = Command::new("/usr/bin/python3.11");
    cmd.arg("-c").arg(CLIENT).arg(socket).arg(method).arg(path);
    if let Some(b) = body {
        cmd.arg(b.to_string());
    }
    let out = cmd.uid(uid).gid(uid).current_dir("/").env_clear().output().unwrap();
    assert!(out.status.success(), "client as uid {uid} failed: {}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    let (status, body) = text.split_once('\n').unwrap();
    (status.parse().unwrap(), serde_json::from_str(body.trim()).unwrap_or(Value::Null))
}

/// Waits until every pool of `d` holds at least `n` warm jails.
fn wait_warm(d: &Daemon, n: u64) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let h = d.get("/v1/health").json();
        let pools = h["pools"].as_array().cloned().unwrap_or_default();
        if !pools.is_empty() && pools.iter().all(|p| p["warm"].as_u64().unwrap_or(0) >= n) {
            return;
        }
        assert!(Instant::now() < deadline, "the pools did not fill: {h}\n{}", d.log());
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn py(code: &str) -> Value {
    json!({ "language": "python", "code": code })
}

fn time_of(s: &str) -> time::OffsetDateTime {
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).unwrap()
}

// ---------------------------------------------------------------------------------------------
// The OpenAPI file.

fn openapi() -> serde_yaml::Value {
    let text = std::fs::read_to_string(common::repo().join("openapi/jaild.yaml")).unwrap();
    serde_yaml::from_str(&text).unwrap()
}

#[test]
fn openapi_describes_exactly_the_routes_served() {
    let doc = openapi();
    assert_eq!(doc["openapi"].as_str(), Some("3.1.0"));
    let mut documented = BTreeSet::new();
    for (path, item) in doc["paths"].as_mapping().unwrap() {
        for (method, _) in item.as_mapping().unwrap() {
            let m = method.as_str().unwrap();
            if ["get", "post", "put", "patch", "delete", "head", "options"].contains(&m) {
                documented.insert((m.to_uppercase(), path.as_str().unwrap().to_string()));
            }
        }
    }
    let served: BTreeSet<(String, String)> = jaild::daemon::api::route_table().into_iter().collect();
    let undocumented: Vec<_> = served.difference(&documented).collect();
    let unserved: Vec<_> = documented.difference(&served).collect();
    assert!(
        undocumented.is_empty() && unserved.is_empty(),
        "served but not in openapi/jaild.yaml: {undocumented:?}; documented but not served: {unserved:?}"
    );
}

#[test]
fn openapi_report_example_and_schema_match_the_report_type() {
    let doc = openapi();
    let example = doc["components"]["examples"]["Report"]["value"].clone();
    let report: Report =
        serde_yaml::from_value(example).expect("the example report in openapi/jaild.yaml deserializes into Report");
    // Every field the Report serializes is in the schema, and the schema has no others.
    let value = serde_json::to_value(&report).unwrap();
    for (schema, object) in [("Report", &value), ("Usage", &value["usage"]), ("Enforcement", &value["enforcement"])] {
        let props: BTreeSet<String> = doc["components"]["schemas"][schema]["properties"]
            .as_mapping()
            .unwrap()
            .keys()
            .map(|k| k.as_str().unwrap().to_string())
            .collect();
        let fields: BTreeSet<String> = object.as_object().unwrap().keys().cloned().collect();
        assert_eq!(props, fields, "schema {schema} in openapi/jaild.yaml differs from the Rust type");
    }
    let statuses: BTreeSet<String> = doc["components"]["schemas"]["Status"]["enum"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect();
    assert_eq!(statuses, Status::ALL.iter().map(|s| s.as_str().to_string()).collect());
}

// ---------------------------------------------------------------------------------------------
// Runs.

#[test]
fn sync_and_async_runs_history_catalog_and_metrics() {
    require_jails!();
    let d = Daemon::start("", "");
    let r = d.run_sync(
        json!({ "language": "python", "code": "print('hi')\nresult = sum(input['xs'])", "input": { "xs": [1, 2, 3] } }),
    );
    assert_eq!(r.status, Status::Ok, "{}", common::show(&r));
    assert_eq!(r.result, json!(6));
    assert_eq!(r.stdout, "hi\n");
    assert!(cgroups_named(&format!(".{}", r.id)).is_empty());

    let id = d.submit(json!({ "profile": "javascript", "code": "return input.n * 2", "input": { "n": 21 } }));
    let run = d.wait(&id);
    assert_eq!(run["state"], "finished");
    assert_eq!(run["status"], "ok");
    assert_eq!(run["report"]["result"], 42);
    assert_eq!(run["caller_uid"], 0);
    let again = d.get(&format!("/v1/runs/{id}")).json();
    assert_eq!(again["report"]["id"], id);

    // By interpreter alone, when one profile uses it.
    let r = d.run_sync(json!({ "interpreter": "python3.11", "code": "result = 1" }));
    assert_eq!(r.status, Status::Ok);
    let bad = d.post(&json!({ "interpreter": "node24", "code": "return 1", "wait": true }));
    assert_eq!(
        (bad.status, bad.field().as_deref()),
        (400, Some("interpreter")),
        "{}",
        String::from_utf8_lossy(&bad.body)
    );

    // A run that fails is a report, not an HTTP error.
    let r = d.run_sync(py("raise ValueError('no')"));
    assert_eq!(r.status, Status::RuntimeError);
    assert_eq!(r.error.unwrap().kind, "ValueError");

    let history = d.get("/v1/runs?limit=10").json();
    let ids: Vec<&str> = history["runs"].as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 4, "{history}");
    assert!(ids.contains(&id.as_str()));
    let failed = d.get("/v1/runs?status=runtime_error").json();
    assert_eq!(failed["runs"].as_array().unwrap().len(), 1);
    let js = d.get("/v1/runs?profile=javascript&since=2000-01-01T00:00:00Z").json();
    assert_eq!(js["runs"][0]["id"], id);

    let profiles = d.get("/v1/profiles").json();
    let names: Vec<&str> =
        profiles["profiles"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert!(names.contains(&"python") && names.contains(&"javascript"), "{profiles}");
    let p = d.get("/v1/profiles/python").json();
    assert_eq!(p["profile"]["language"], "python");
    assert_eq!(p["sha256"].as_str().unwrap().len(), 64);
    let interpreters = d.get("/v1/interpreters").json();
    assert!(interpreters["interpreters"].as_array().unwrap().iter().all(|i| i["verified"] == true), "{interpreters}");
    let health = d.get("/v1/health").json();
    assert_eq!(health["status"], "ok");
    assert_eq!(health["running"], 0);

    let metrics = d.get("/metrics");
    assert_eq!(metrics.status, 200);
    let text = String::from_utf8(metrics.body).unwrap();
    for needle in [
        r#"jaild_runs_total{status="ok",profile="python"} 2"#,
        r#"jaild_runs_total{status="ok",profile="javascript"} 1"#,
        r#"jaild_runs_total{status="runtime_error",profile="python"} 1"#,
        "jaild_queue_wait_seconds_count 4",
        r#"jaild_run_duration_seconds_count{profile="python"} 3"#,
        "jaild_queue_depth 0",
        "jaild_running_jobs 0",
        "# TYPE jaild_cpu_seconds counter",
        "# TYPE jaild_memory_peak_bytes histogram",
    ] {
        assert!(text.contains(needle), "{needle} not in the metrics:\n{text}");
    }
}

#[test]
fn cancel_kills_a_running_jail_within_a_second_and_dequeues_a_queued_run() {
    require_jails!();
    let d = Daemon::start("concurrency = 1", "");
    let id = d.submit(py("while True: pass"));
    let queued = d.submit(py("result = 1"));
    d.wait_for_state(&id, "running");
    assert_eq!(d.state(&queued), "queued");
    // Let the script really spin.
    std::thread::sleep(Duration::from_millis(300));
    assert!(!cgroups_named(&format!(".{id}")).is_empty(), "the running jail has no cgroup?");
    assert!(!d.jail_processes().is_empty());

    // The queued one first: it never starts.
    let r = d.delete(&queued);
    assert_eq!(r.status, 200);
    let run = r.json();
    assert_eq!((run["state"].as_str(), run["status"].as_str()), (Some("cancelled"), Some("cancelled")), "{run}");
    assert!(run["report"]["message"].as_str().unwrap().contains("before it started"));

    let t = Instant::now();
    let r = d.delete(&id);
    let took = t.elapsed();
    assert_eq!(r.status, 200);
    let run = r.json();
    assert_eq!(run["state"], "cancelled", "{run}");
    assert_eq!(run["report"]["status"], "cancelled");
    assert!(took < Duration::from_secs(1), "cancel took {took:?}");
    // The jail is gone: its cgroup removed (rmdir succeeds only once it is empty), no process
    // left with the jail's uids.
    assert!(cgroups_named(&format!(".{id}")).is_empty(), "cgroup left: {:?}", cgroups_named(&format!(".{id}")));
    let deadline = Instant::now() + Duration::from_secs(1);
    while !d.jail_processes().is_empty() {
        assert!(Instant::now() < deadline, "jail processes left: {:?}", d.jail_processes());
        std::thread::sleep(Duration::from_millis(10));
    }
    // Recorded as cancelled, and a second cancel is a conflict.
    assert_eq!(d.state(&id), "cancelled");
    assert_eq!(d.delete(&id).status, 409);
    assert_eq!(d.delete(&queued).error_code(), "already_finished");
    let cancelled = d.get("/v1/runs?status=cancelled").json();
    assert_eq!(cancelled["runs"].as_array().unwrap().len(), 2);
}

#[test]
fn events_stream_output_as_it_comes_then_the_report() {
    require_jails!();
    let d = Daemon::start("", "");
    let code = "import sys, time\nprint('first', flush=True)\nprint('oops', file=sys.stderr, flush=True)\ntime.sleep(1)\nprint('second', flush=True)\nresult = 'done'";
    let id = d.submit(py(code));
    let t0 = Instant::now();
    let evs = events(&d.socket, &id);
    let kinds: Vec<&str> = evs.iter().map(|(_, e)| e["type"].as_str().unwrap()).collect();
    assert_eq!(kinds.last(), Some(&"report"), "{evs:?}");
    let out: String =
        evs.iter().filter(|(_, e)| e["type"] == "stdout").map(|(_, e)| e["data"].as_str().unwrap()).collect();
    assert_eq!(out, "first\nsecond\n");
    let err: String =
        evs.iter().filter(|(_, e)| e["type"] == "stderr").map(|(_, e)| e["data"].as_str().unwrap()).collect();
    assert_eq!(err, "oops\n");
    let at = |text: &str| evs.iter().find(|(_, e)| e["data"].as_str().is_some_and(|d| d.contains(text))).unwrap().0;
    let gap = at("second") - at("first");
    assert!(gap >= Duration::from_millis(700), "the first line came only {gap:?} before the second: not streamed");
    assert!(at("first") - t0 < Duration::from_millis(900), "the first line took {:?}", at("first") - t0);
    let (_, report) = evs.last().unwrap();
    assert_eq!(report["report"]["status"], "ok");
    assert_eq!(report["report"]["stdout"], "first\nsecond\n");
    assert_eq!(report["report"]["result"], "done");

    // Late: everything at once, the same output, then the report (from the store: all of
    // stdout, then all of stderr).
    std::thread::sleep(Duration::from_millis(200));
    let late = events(&d.socket, &id);
    let kinds: Vec<&str> = late.iter().map(|(_, e)| e["type"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["stdout", "stderr", "report"]);
    assert_eq!(late[0].1["data"], "first\nsecond\n");

    // Attached in the middle: what came so far first, then live.
    let id = d.submit(py(code));
    d.wait_for_state(&id, "running");
    std::thread::sleep(Duration::from_millis(500));
    let mid = events(&d.socket, &id);
    let out: String =
        mid.iter().filter(|(_, e)| e["type"] == "stdout").map(|(_, e)| e["data"].as_str().unwrap()).collect();
    assert_eq!(out, "first\nsecond\n");
    assert_eq!(mid.last().unwrap().1["type"], "report");

    // The caps are the report's: output past the cap is not streamed either.
    let id = d.submit(json!({ "language": "python", "code": "print('x' * 5000)", "limits": { "stdout": 1000 } }));
    let capped = events(&d.socket, &id);
    let streamed: usize =
        capped.iter().filter(|(_, e)| e["type"] == "stdout").map(|(_, e)| e["data"].as_str().unwrap().len()).sum();
    let report = &capped.last().unwrap().1["report"];
    assert_eq!(report["status"], "output_limit");
    assert_eq!(streamed, report["stdout"].as_str().unwrap().len());
    assert!(streamed <= 1000, "{streamed} bytes streamed past a 1000-byte cap");
}

#[test]
fn a_restarted_daemon_keeps_history_and_marks_the_interrupted_run() {
    require_jails!();
    // Warm jails too: a crash takes them with the daemon.
    let mut d = Daemon::start("[pool]\nsize = 1", "");
    wait_warm(&d, 1);
    let done = d.run_sync(py("result = 'before the crash'"));
    let inflight = d.submit(py("import time\ntime.sleep(4)"));
    d.wait_for_state(&inflight, "running");
    std::thread::sleep(Duration::from_millis(200));
    assert!(!d.jail_processes().is_empty());
    d.signal(nix::sys::signal::Signal::SIGKILL);
    d.wait_exit(Duration::from_secs(5));
    // The parent-death signal takes the jail down with the daemon.
    let deadline = Instant::now() + Duration::from_secs(2);
    while !d.jail_processes().is_empty() {
        assert!(Instant::now() < deadline, "jail processes outlived the daemon: {:?}", d.jail_processes());
        std::thread::sleep(Duration::from_millis(20));
    }
    d.spawn();
    let run = d.get(&format!("/v1/runs/{}", done.id)).json();
    assert_eq!(run["state"], "finished");
    assert_eq!(run["report"]["result"], "before the crash");
    let run = d.get(&format!("/v1/runs/{inflight}")).json();
    assert_eq!(run["state"], "interrupted", "{run}");
    assert!(run["report"].is_null());
    let evs = events(&d.socket, &inflight);
    assert_eq!(evs.len(), 1);
    assert_eq!(evs[0].1, json!({ "type": "state", "state": "interrupted" }));
    let w = d.get(&format!("/v1/runs/{inflight}/wait?timeout=1")).json();
    assert_eq!(w["state"], "interrupted");
    // The new daemon removed the crashed one's run cgroup.
    assert!(cgroups_named(&format!(".{inflight}")).is_empty(), "{:?}", cgroups_named(&format!(".{inflight}")));
    assert!(d.log().contains("marked interrupted"), "{}", d.log());
}

#[test]
fn a_full_queue_is_429_with_retry_after() {
    require_jails!();
    let d = Daemon::start("concurrency = 1\nqueue_size = 1", "");
    let running = d.submit(py("import time\ntime.sleep(2)"));
    d.wait_for_state(&running, "running");
    let queued = d.submit(py("result = 2"));
    let r = d.post(&py("result = 3"));
    assert_eq!(r.status, 429);
    assert_eq!(r.error_code(), "queue_full");
    assert_eq!(r.headers["retry-after"], "1");
    assert_eq!(d.get("/v1/health").json()["queued"], 1);
    assert_eq!(d.wait(&queued)["report"]["result"], 2);
    // Room again.
    assert_eq!(d.run_sync(py("result = 4")).result, json!(4));
    assert_eq!(d.get(&format!("/v1/runs/{running}")).json()["status"], "ok");
}

const OTHER: u32 = 64_123;
const STRANGER: u32 = 64_124;

#[test]
fn peer_credentials_decide_who_may_do_what() {
    require_jails!();
    let d = Daemon::start(
        "",
        &format!("\n[[callers.rule]]\nuid = {OTHER}\nprofiles = [\"python\"]\nmax_running = 1\nmax_queued = 1\n"),
    );
    let s = &d.socket;
    // Not in the policy: only health and metrics.
    assert_eq!(as_uid(STRANGER, s, "GET", "/v1/health", None).0, 200);
    let (status, body) = as_uid(STRANGER, s, "GET", "/v1/profiles", None);
    assert_eq!((status, body["error"]["code"].as_str()), (403, Some("forbidden")), "{body}");
    assert_eq!(as_uid(STRANGER, s, "POST", "/v1/runs", Some(&py("result = 1"))).0, 403);

    // Allowed, for python only.
    let (status, body) = as_uid(
        OTHER,
        s,
        "POST",
        "/v1/runs",
        Some(&json!({ "language": "javascript", "code": "return 1", "wait": true })),
    );
    assert_eq!(
        (status, body["error"]["code"].as_str(), body["error"]["field"].as_str()),
        (403, Some("profile_forbidden"), Some("profile")),
        "{body}"
    );
    let (status, body) = as_uid(
        OTHER,
        s,
        "POST",
        "/v1/runs",
        Some(&json!({ "language": "python", "code": "import os\nresult = os.getuid()", "wait": true })),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "ok");
    let theirs = body["id"].as_str().unwrap().to_string();
    let (_, profiles) = as_uid(OTHER, s, "GET", "/v1/profiles", None);
    let names: Vec<&str> =
        profiles["profiles"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["python"]);

    // Each sees only its own runs; root sees all.
    let mine = d.run_sync(py("result = 'root'"));
    assert_eq!(as_uid(OTHER, s, "GET", &format!("/v1/runs/{}", mine.id), None).0, 404);
    assert_eq!(as_uid(OTHER, s, "DELETE", &format!("/v1/runs/{}", mine.id), None).0, 404);
    assert_eq!(as_uid(OTHER, s, "GET", &format!("/v1/runs/{theirs}"), None).0, 200);
    let (_, list) = as_uid(OTHER, s, "GET", "/v1/runs", None);
    let owners: BTreeSet<u64> =
        list["runs"].as_array().unwrap().iter().map(|r| r["caller_uid"].as_u64().unwrap()).collect();
    assert_eq!(owners, BTreeSet::from([u64::from(OTHER)]));
    assert_eq!(d.get(&format!("/v1/runs/{theirs}")).json()["caller_uid"], OTHER);
    let all = d.get("/v1/runs").json();
    assert_eq!(all["runs"].as_array().unwrap().len(), 2);

    // Per-caller limits: one running, one queued, the next refused.
    let slow = py("import time\ntime.sleep(1.5)");
    let (a, first) = as_uid(OTHER, s, "POST", "/v1/runs", Some(&slow));
    assert_eq!(a, 202, "{first}");
    let (b, _) = as_uid(OTHER, s, "POST", "/v1/runs", Some(&slow));
    assert_eq!(b, 202);
    let (c, body) = as_uid(OTHER, s, "POST", "/v1/runs", Some(&slow));
    assert_eq!((c, body["error"]["code"].as_str()), (429, Some("caller_queue_full")), "{body}");
    // Root is not held up by that caller's limit.
    assert_eq!(d.run_sync(py("result = 5")).result, json!(5));
    d.wait(first["id"].as_str().unwrap());
}

#[test]
fn a_flooding_caller_does_not_starve_another() {
    require_jails!();
    let d = Daemon::start("concurrency = 1", &format!("allow_uids = [0, {OTHER}]"));
    let flood: Vec<String> = (0..8).map(|_| d.submit(py("import time\ntime.sleep(0.3)"))).collect();
    d.wait_for_state(&flood[0], "running");
    // The other caller arrives behind eight queued runs and is served next.
    let (status, body) = as_uid(
        OTHER,
        &d.socket,
        "POST",
        "/v1/runs",
        Some(&json!({ "language": "python", "code": "result = 'me'", "wait": true })),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["result"], "me");
    let mine = time_of(body["started_at"].as_str().unwrap());
    let flood_starts: Vec<time::OffsetDateTime> =
        flood.iter().map(|id| time_of(d.wait(id)["report"]["started_at"].as_str().unwrap())).collect();
    let after = flood_starts.iter().filter(|t| **t > mine).count();
    assert!(
        after >= 6,
        "only {after} of the flood's 8 runs started after the other caller's: {flood_starts:?} vs {mine}"
    );
}

/// The bad-input catalogue (tests/bad_input/requests.toml, run by tests/bad_input.rs) has
/// every error status against a daemon with the default max_body; this one is configured.
#[test]
fn max_body_is_the_configured_one_and_input_within_the_limits_runs() {
    require_jails!();
    let d = Daemon::start("max_body = \"4MiB\"", "");
    // 3 MiB of input is within python's 8MiB input limit and within max_body: it runs.
    let r = d.post(
        &json!({ "language": "python", "code": "result = len(input)", "input": "x".repeat(3 << 20), "wait": true }),
    );
    assert_eq!((r.status, r.json()["result"].as_u64()), (200, Some(3 << 20)));
    // Over max_body: refused from the Content-Length alone, before any of the body is sent.
    let mut stream = UnixStream::connect(&d.socket).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    send_head(&mut stream, "POST", "/v1/runs", None, Some(64 << 20));
    let mut reader = BufReader::new(stream);
    let (status, headers) = read_head(&mut reader);
    assert_eq!(status, 413);
    let mut body = vec![0u8; headers["content-length"].parse().unwrap()];
    reader.read_exact(&mut body).unwrap();
    let error: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(error["error"]["code"], "too_large");
    assert!(error["error"]["message"].as_str().unwrap().contains("at most 4194304"), "{error}");
    // And a body that is over max_body without saying so up front (chunked) is cut off.
    let mut stream = UnixStream::connect(&d.socket).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    stream
        .write_all(b"POST /v1/runs HTTP/1.1\r\nHost: jaild\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n")
        .unwrap();
    let chunk = vec![b' '; 1 << 20];
    for _ in 0..5 {
        if stream.write_all(format!("{:x}\r\n", chunk.len()).as_bytes()).is_err()
            || stream.write_all(&chunk).is_err()
            || stream.write_all(b"\r\n").is_err()
        {
            break;
        }
    }
    let _ = stream.write_all(b"0\r\n\r\n");
    let (status, _) = read_head(&mut BufReader::new(stream));
    assert_eq!(status, 413);
    assert_eq!(d.get("/v1/health").json()["running"], 0);
    assert_eq!(
        d.get("/v1/runs").json()["runs"].as_array().map(Vec::len),
        Some(1),
        "only the run that fit was recorded"
    );
}

#[test]
fn sigterm_drains_running_jobs_then_cancels_them() {
    require_jails!();
    // With warm jails, which the drain destroys.
    let mut d = Daemon::start("concurrency = 2\ndrain_timeout_ms = 1500\n[pool]\nsize = 1", "");
    wait_warm(&d, 1);
    let quick = d.submit(py("import time\ntime.sleep(0.5)\nresult = 'made it'"));
    let slow = d.submit(py("import time\ntime.sleep(4)\nresult = 'too late'"));
    let queued = d.submit(py("result = 'never'"));
    d.wait_for_state(&quick, "running");
    d.wait_for_state(&slow, "running");
    assert_eq!(d.state(&queued), "queued");
    let t = Instant::now();
    d.signal(nix::sys::signal::Signal::SIGTERM);
    std::thread::sleep(Duration::from_millis(100));
    // Draining: no new runs, health says so, reads still work.
    let r = d.post(&py("result = 1"));
    assert_eq!((r.status, r.error_code().as_str()), (503, "shutting_down"));
    let h = d.get("/v1/health");
    assert_eq!((h.status, h.json()["status"].as_str()), (503, Some("draining")));
    assert_eq!(d.state(&queued), "cancelled");
    let slow_run = d.wait(&slow);
    assert_eq!(
        (slow_run["state"].as_str(), slow_run["status"].as_str()),
        (Some("cancelled"), Some("cancelled")),
        "{slow_run}"
    );
    let status = d.wait_exit(Duration::from_secs(10));
    assert!(status.success(), "jaild exited with {status}:\n{}", d.log());
    let took = t.elapsed();
    assert!(took >= Duration::from_millis(1400) && took < Duration::from_secs(5), "drain took {took:?}");
    assert!(!d.socket.exists(), "the socket file was left behind");
    assert!(d.jail_processes().is_empty());

    let store = jaild::daemon::store::Store::open(&d.dir.join("history.db"), false).unwrap();
    let get = |id: &str| store.get(id).unwrap().unwrap();
    let q = get(&quick);
    assert_eq!((q.state.as_str(), q.status), ("finished", Some(Status::Ok)));
    assert_eq!(q.report.unwrap().result, json!("made it"));
    let s = get(&slow);
    assert_eq!((s.state.as_str(), s.status), ("cancelled", Some(Status::Cancelled)));
    let n = get(&queued);
    assert_eq!((n.state.as_str(), n.status), ("cancelled", Some(Status::Cancelled)));
    assert!(n.report.unwrap().message.unwrap().contains("shut down"));
}

#[test]
fn old_runs_are_pruned_by_retention() {
    require_jails!();
    // A history with one run from long ago, written before the daemon starts.
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("old.db");
    {
        use jaild::daemon::store::{NewRun, RunState, Store};
        let store = Store::open(&db, false).unwrap();
        let old = NewRun {
            id: "ancient".into(),
            caller_uid: 0,
            caller_gid: 0,
            caller_pid: 1,
            profile: "python".into(),
            language: Some("python".into()),
            code_sha256: "0".repeat(64),
            code_size: 1,
            code: None,
            input_size: 4,
            created_at: "2001-01-01T00:00:00Z".into(),
        };
        store.insert_queued(&old).unwrap();
        let report: Report =
            serde_yaml::from_value(openapi()["components"]["examples"]["Report"]["value"].clone()).unwrap();
        store.finish("ancient", RunState::Finished, &report).unwrap();
    }
    let d = Daemon::start(&format!("store = \"{}\"\nretention_days = 30", db.display()), "");
    assert_eq!(d.get("/v1/runs/ancient").status, 404);
    assert!(d.log().contains("pruned old runs"), "{}", d.log());
    // New runs are kept.
    let r = d.run_sync(py("result = 1"));
    assert_eq!(d.get(&format!("/v1/runs/{}", r.id)).status, 200);
}

#[test]
fn start_up_refuses_a_broken_profile_naming_it() {
    require_jails!();
    let tmp = tempfile::tempdir().unwrap();
    common::copy_dir(&common::repo().join("profiles"), &tmp.path().join("profiles"));
    let p = tmp.path().join("profiles/python.toml");
    let text = std::fs::read_to_string(&p).unwrap().replace("pids = 16", "pids = 16\nforks = 3");
    std::fs::write(&p, text).unwrap();
    let config = tmp.path().join("jaild.toml");
    std::fs::write(
        &config,
        format!(
            "socket = \"{d}/s.sock\"\nstate_dir = \"{d}/state\"\nstore = \"{d}/h.db\"\nprofiles_dir = \"{d}/profiles\"\ninterpreters_dir = \"{}/interpreters\"\n",
            common::repo().display(),
            d = tmp.path().display()
        ),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_jaild")).arg("--config").arg(&config).output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("refusing to serve") && err.contains("profile python") && err.contains("forks"), "{err}");
    assert!(!tmp.path().join("s.sock").exists());

    // A config mistake names the file, line and key.
    std::fs::write(&config, "socket = \"/tmp/x.sock\"\nconcurency = 4\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_jaild")).arg("--config").arg(&config).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("{}:2: key `concurency`", config.display())), "{err}");
}

#[test]
fn socket_activation_and_sd_notify_without_systemd() {
    require_jails!();
    // What systemd does for jaild.socket + Type=notify: the listening socket on fd 3 with
    // LISTEN_PID/LISTEN_FDS naming the service's pid, and a datagram socket in NOTIFY_SOCKET.
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let socket = dir.join("activated.sock");
    let listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
    let notify = std::os::unix::net::UnixDatagram::bind(dir.join("notify")).unwrap();
    notify.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let config = dir.join("jaild.toml");
    std::fs::write(
        &config,
        format!(
            "socket = \"{d}/not-this.sock\"\nstate_dir = \"{d}/state\"\nstore = \"{d}/h.db\"\nprofiles_dir = \"{r}/profiles\"\n\
             interpreters_dir = \"{r}/interpreters\"\n",
            d = dir.display(),
            r = common::repo().display()
        ),
    )
    .unwrap();
    let fd = std::os::fd::AsRawFd::as_raw_fd(&listener);
    let mut cmd = Command::new("/bin/sh");
    cmd.arg("-c")
        .arg("export LISTEN_PID=$$ LISTEN_FDS=1; exec \"$0\" --config \"$1\"")
        .arg(env!("CARGO_BIN_EXE_jaild"))
        .arg(&config)
        .env("NOTIFY_SOCKET", dir.join("notify"))
        .env("WATCHDOG_USEC", "200000")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    // SAFETY: dup2 and fcntl are async-signal-safe and touch only fds of the child.
    unsafe {
        cmd.pre_exec(move || {
            if fd == 3 {
                if libc::fcntl(3, libc::F_SETFD, 0) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
            } else if libc::dup2(fd, 3) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        })
    };
    let mut child = cmd.spawn().unwrap();
    let guard = scopeguard(child.id());
    let mut buf = [0u8; 256];
    let mut recv = || {
        let n = notify.recv(&mut buf).expect("a notification from jaild");
        String::from_utf8_lossy(&buf[..n]).into_owned()
    };
    // What it is doing while the host checks run (systemctl status shows it), then ready.
    assert!(recv().starts_with("STATUS=checking the host"));
    assert_eq!(recv(), "READY=1\nSTATUS=serving");
    // Serving on the passed socket, and only there.
    assert_eq!(request_raw(&socket, "GET", "/v1/health", None).status, 200);
    assert!(!dir.join("not-this.sock").exists());
    assert_eq!(recv(), "WATCHDOG=1");
    assert_eq!(recv(), "WATCHDOG=1");
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), nix::sys::signal::Signal::SIGTERM).unwrap();
    let mut got = recv();
    while got == "WATCHDOG=1" {
        got = recv();
    }
    assert_eq!(got, "STOPPING=1");
    assert!(child.wait().unwrap().success());
    // The socket belongs to systemd: jaild leaves its file alone.
    assert!(socket.exists());
    std::mem::forget(guard);
}

/// Kills the process on drop (a failed assertion must not leave a daemon behind).
fn scopeguard(pid: u32) -> impl Drop {
    struct Kill(u32);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ =
                nix::sys::signal::kill(nix::unistd::Pid::from_raw(self.0 as i32), nix::sys::signal::Signal::SIGKILL);
        }
    }
    Kill(pid)
}

// ---------------------------------------------------------------------------------------------
// Faults (issue 5): a jail whose process tree blows its memory limit, a host whose /tmp and
// jaild's state directory are full. (jaild killed mid-run:
// a_restarted_daemon_keeps_history_and_marks_the_interrupted_run.)

/// The memory cgroup of a process: its directory in the v1 memory hierarchy, else its v2 cgroup.
fn memory_cgroup_of(pid: i32) -> PathBuf {
    let text = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    let v1 = text.lines().find_map(|l| {
        let mut f = l.splitn(3, ':');
        let (_, controllers, path) = (f.next()?, f.next()?, f.next()?);
        controllers
            .split(',')
            .any(|c| c == "memory")
            .then(|| Path::new("/sys/fs/cgroup/memory").join(path.trim_start_matches('/')))
    });
    v1.unwrap_or_else(|| {
        let path = text.lines().find_map(|l| l.strip_prefix("0::")).unwrap();
        Path::new("/sys/fs/cgroup").join(path.trim_start_matches('/'))
    })
}

/// The value of `key` in a cgroup file of `key value` lines; None once the file is gone.
fn keyed_value(file: &Path, key: &str) -> Option<u64> {
    let text = std::fs::read_to_string(file).ok()?;
    text.lines().find_map(|l| l.strip_prefix(key)?.strip_prefix(' ')?.trim().parse().ok())
}

/// What the kernel counted against this memory cgroup itself, not its descendants: (OOM kills,
/// times a charge hit its limit). v1: memory.oom_control's oom_kill and memory.failcnt (neither
/// counts a child's events); v2: memory.events.local.
fn own_memory_events(dir: &Path) -> Option<(u64, u64)> {
    if dir.join("memory.oom_control").exists() {
        let failcnt = std::fs::read_to_string(dir.join("memory.failcnt")).ok()?.trim().parse().ok()?;
        Some((keyed_value(&dir.join("memory.oom_control"), "oom_kill")?, failcnt))
    } else {
        let events = dir.join("memory.events.local");
        Some((keyed_value(&events, "oom_kill")?, keyed_value(&events, "max")?))
    }
}

/// The memory cgroup of a run in progress and its memory limit.
fn run_memory_cgroup(id: &str) -> Option<(PathBuf, u64)> {
    cgroups_named(&format!(".{id}")).into_iter().find_map(|dir| {
        let limit =
            ["memory.limit_in_bytes", "memory.max"].iter().find_map(|f| std::fs::read_to_string(dir.join(f)).ok())?;
        Some((dir, limit.trim().parse().ok()?))
    })
}

/// Four children of 24 MiB each, every one well under the run's 64 MiB: only the tree as a
/// whole is over. The parent waits for them, says how each ended, and stays a while (for the
/// test to look at the run's cgroup).
const TREE_OVER_ITS_MEMORY: &str = r#"
import os, time
kids = []
for _ in range(4):
    pid = os.fork()
    if pid == 0:
        held = [bytearray(b"\x01" * (1 << 20)) for _ in range(24)]
        time.sleep(1)
        os._exit(0)
    kids.append(pid)
ends = []
for pid in kids:
    _, st = os.waitpid(pid, 0)
    ends.append(["signal", os.WTERMSIG(st)] if os.WIFSIGNALED(st) else ["exit", os.WEXITSTATUS(st)])
print("children ended", flush=True)
time.sleep(1.5)
result = ends
"#;

#[test]
fn a_jail_whose_process_tree_blows_its_memory_is_memory_limit_while_the_daemon_serves_other_runs() {
    require_jails!();
    const MIB: u64 = 1 << 20;
    let mut d = Daemon::start("concurrency = 2", "");
    let own = memory_cgroup_of(d.pid());
    let own_before = own_memory_events(&own).unwrap();

    // A run that runs all along, the OOM run beside it, and four runs queued behind the two.
    let steady = d.submit(json!({
        "language": "python",
        "code": "import time\nprint('steady', flush=True)\ntime.sleep(3)\nresult = sum(range(input))",
        "input": 1000,
    }));
    d.wait_for_state(&steady, "running");
    let oom = d.submit(json!({ "language": "python", "code": TREE_OVER_ITS_MEMORY, "limits": { "memory": "64MiB" } }));
    let queued: Vec<(String, u64)> = (0..4u64)
        .map(|i| {
            let body = if i % 2 == 0 {
                json!({ "language": "python", "code": "print(f'q{input}')\nresult = input * 3", "input": i })
            } else {
                json!({ "language": "javascript", "code": "console.log('q' + input); return input * 3", "input": i })
            };
            (d.submit(body), i)
        })
        .collect();

    // While the OOM run goes on: the kill is counted in its own memory cgroup, which sits below
    // the daemon's and carries the run's limit; the other runs are running and queued.
    let deadline = Instant::now() + Duration::from_secs(10);
    let (run_cgroup, limit, health, steady_state) = loop {
        if let Some((dir, limit)) = run_memory_cgroup(&oom) {
            if own_memory_events(&dir).is_some_and(|(kills, _)| kills >= 1) {
                break (dir, limit, d.get("/v1/health").json(), d.state(&steady));
            }
        }
        let state = d.state(&oom);
        assert!(
            state == "queued" || state == "running",
            "the OOM run ended ({state}) before its cgroup showed an OOM kill: {}",
            d.wait(&oom)
        );
        assert!(Instant::now() < deadline, "no OOM kill in the run's cgroup after 10 s");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(
        run_cgroup.starts_with(&own) && run_cgroup != own,
        "the run's memory cgroup {} is not below the daemon's {}",
        run_cgroup.display(),
        own.display()
    );
    assert_eq!(limit, 64 * MIB, "the run's cgroup carries the run's limit");
    assert_eq!(steady_state, "running");
    assert_eq!((health["running"].as_u64(), health["queued"].as_u64()), (Some(2), Some(4)), "{health}");

    // The OOM run's report: memory_limit, from the cgroup's count, which is exactly the number
    // of children that died of SIGKILL; the peak is at the limit; the parent's own output kept.
    let run = d.wait(&oom);
    let r: Report = serde_json::from_value(run["report"].clone()).unwrap();
    assert_eq!(r.status, Status::MemoryLimit, "{}", common::show(&r));
    let ends = r.result.as_array().unwrap_or_else(|| {
        panic!("the parent outlived the OOM and returned how its children ended: {}", common::show(&r))
    });
    assert_eq!(ends.len(), 4);
    let killed: Vec<&Value> = ends.iter().filter(|e| e[0] == "signal").collect();
    assert!(!killed.is_empty(), "no child was killed: {}", common::show(&r));
    assert!(killed.iter().all(|e| e[1] == 9), "children are killed with SIGKILL, the OOM killer's signal: {ends:?}");
    assert!(ends.iter().filter(|e| e[0] == "exit").all(|e| e[1] == 0), "{ends:?}");
    assert_eq!(
        r.usage.oom_kills,
        killed.len() as u64,
        "every SIGKILL was an OOM kill counted in the run's cgroup: {}",
        common::show(&r)
    );
    let peak = r.usage.memory_peak_bytes;
    assert!((64 * MIB / 10 * 9..=64 * MIB).contains(&peak), "peak {peak}: {}", common::show(&r));
    assert_eq!(r.stdout, "children ended\n");
    assert!(r.message.as_deref().is_some_and(|m| m.contains("memory limit of 64MiB")), "{}", common::show(&r));

    // The runs beside and behind it are untouched.
    let s = d.wait(&steady);
    assert_eq!(
        (s["status"].as_str(), &s["report"]["result"], s["report"]["stdout"].as_str()),
        (Some("ok"), &json!(499_500), Some("steady\n")),
        "{s}"
    );
    for (id, i) in &queued {
        let q = d.wait(id);
        assert_eq!(q["status"], "ok", "{q}");
        assert_eq!(q["report"]["result"], json!(i * 3), "{q}");
        assert_eq!(q["report"]["stdout"], format!("q{i}\n"), "{q}");
    }

    // The daemon was not the one OOM-killed, nor was its cgroup charged over a limit: same
    // process, healthy, and its own cgroup counted no OOM kill and no failed charge.
    assert!(d.child.as_mut().unwrap().try_wait().unwrap().is_none(), "jaild died:\n{}", d.log());
    assert_eq!(
        own_memory_events(&own).unwrap(),
        own_before,
        "the daemon's memory cgroup {} was charged over its limit",
        own.display()
    );
    eprintln!(
        "TREE OOM: children {}, oom_kills {}, peak {peak} of {} bytes, in {}; the daemon's own cgroup {} (oom kills, failed charges) {own_before:?} before and after",
        serde_json::to_string(ends).unwrap(),
        r.usage.oom_kills,
        64 * MIB,
        run_cgroup.display(),
        own.display()
    );
    let health = d.get("/v1/health");
    assert_eq!(health.status, 200);
    let health = health.json();
    assert_eq!((health["status"].as_str(), health["pid"].as_i64()), (Some("ok"), Some(i64::from(d.pid()))), "{health}");
    assert_eq!((health["running"].as_u64(), health["queued"].as_u64()), (Some(0), Some(0)), "{health}");
    // Nothing of any run is left, and the next run works.
    for id in [&oom, &steady].into_iter().chain(queued.iter().map(|(id, _)| id)) {
        assert!(
            cgroups_named(&format!(".{id}")).is_empty(),
            "run {id} left cgroups: {:?}",
            cgroups_named(&format!(".{id}"))
        );
    }
    let deadline = Instant::now() + Duration::from_secs(2);
    while !d.jail_processes().is_empty() {
        assert!(Instant::now() < deadline, "jail processes left: {:?}", d.jail_processes());
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(d.run_sync(py("result = 'after'")).result, json!("after"));
    let metrics = String::from_utf8(d.get("/metrics").body).unwrap();
    assert!(metrics.contains(r#"jaild_runs_total{status="memory_limit",profile="python"} 1"#), "{metrics}");
}

/// Free bytes (for an unprivileged writer) of the filesystem holding `path`.
fn free_bytes(path: &Path) -> u64 {
    let s = nix::sys::statvfs::statvfs(path).unwrap();
    s.blocks_available() as u64 * s.fragment_size() as u64
}

/// Writes zeros to `path` until its filesystem is full.
fn fill(path: &Path) {
    let mut f = std::fs::File::create(path).unwrap();
    let chunk = vec![0u8; 64 << 10];
    loop {
        match f.write(&chunk) {
            Ok(_) => {}
            Err(e) if e.raw_os_error() == Some(libc::ENOSPC) => break,
            Err(e) => panic!("filling {}: {e}", path.display()),
        }
    }
    assert_eq!(free_bytes(path.parent().unwrap()), 0);
}

fn file_names(dir: &Path) -> BTreeSet<String> {
    std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect()
}

/// Every file under `dir`, recursively, as paths relative to it.
fn files_under(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if e.file_type().unwrap().is_dir() {
            out.extend(files_under(&e.path()).into_iter().map(|f| format!("{name}/{f}")));
        } else {
            out.push(name);
        }
    }
    out
}

/// The run history as it is on disk in `state` (a directory the test reaches through
/// /proc/PID/root): its database and WAL copied out and opened. (SQLite resolves symbolic links
/// in a path, /proc/PID/root included, so it cannot open the file where it is.)
fn history_on_disk(state: &Path) -> (tempfile::TempDir, jaild::daemon::store::Store) {
    let copy = tempfile::tempdir().unwrap();
    for name in ["history.db", "history.db-wal"] {
        if state.join(name).exists() {
            std::fs::copy(state.join(name), copy.path().join(name)).unwrap();
        }
    }
    let store = jaild::daemon::store::Store::open(&copy.path().join("history.db"), false).unwrap();
    (copy, store)
}

/// `jailctl ARGS` against a daemon's socket: (exit code, stdout, stderr).
fn jailctl_at(socket: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_jailctl"))
        .args(args)
        .arg("--socket")
        .arg(socket)
        .env_remove("JAILD_LOG")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let (stdout, stderr) =
        (String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned());
    assert!(!stderr.contains("panicked"), "{stderr}");
    (out.status.code().unwrap_or_else(|| panic!("jailctl {args:?} died: {:?}\n{stderr}", out.status)), stdout, stderr)
}

/// The host's /tmp is full from the start and jaild's state directory (history store, caches)
/// fills up while runs are in flight. Both are tmpfs mounts in the daemon's own mount namespace
/// (`unshare --mount`), so nothing else on the host sees them; the test reaches them through
/// /proc/PID/root.
#[test]
fn a_full_host_tmp_and_state_directory_are_reported_errors_and_the_daemon_recovers() {
    require_jails!();
    // The test's own files are outside /tmp, which the daemon sees full.
    let tmp = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let dir = tmp.path().to_path_buf();
    std::fs::create_dir(dir.join("state")).unwrap();
    common::copy_dir(&common::repo().join("profiles"), &dir.join("profiles"));
    let repo = common::repo();
    let (full_tmp, kept) =
        common::full_tmp_script("jaild-test-host-tmp", &[&repo, &dir, Path::new(env!("CARGO_BIN_EXE_jaild"))]);
    let prelude = format!(
        "{full_tmp}mount -t tmpfs -o size=4m,mode=0700 jaild-test-state '{state}'\n\
         export TMPDIR=/tmp",
        state = dir.join("state").display()
    );
    let mut only_filler = kept.clone();
    only_filler.insert("filler".to_string());
    let top = format!(
        "concurrency = 1\nstore = \"{d}/state/history.db\"\nprofiles_dir = \"{d}/profiles\"",
        d = dir.display()
    );
    let mut d = Daemon::start_in(tmp, &top, "", Some(prelude));
    let root = PathBuf::from(format!("/proc/{}/root", d.pid()));
    let host_tmp = root.join("tmp");
    let state = root.join(dir.strip_prefix("/").unwrap()).join("state");

    // 1. The host's /tmp is full: jaild needs none of it, and a jail's /tmp is its own.
    assert_eq!(free_bytes(&host_tmp), 0);
    let r = d.run_sync(py(
        "import os\nwith open('/tmp/big', 'wb') as f: f.write(b'x' * (1 << 20))\nresult = os.path.getsize('/tmp/big')",
    ));
    assert_eq!((r.status, &r.result), (Status::Ok, &json!(1 << 20)), "{}", common::show(&r));
    let r = d.run_sync(json!({
        "language": "javascript",
        "code": "const fs = require('fs'); fs.writeFileSync('/tmp/big', Buffer.alloc(1 << 20, 120)); return fs.statSync('/tmp/big').size;",
    }));
    assert_eq!((r.status, &r.result), (Status::Ok, &json!(1 << 20)), "{}", common::show(&r));
    assert_eq!(file_names(&host_tmp), only_filler, "something wrote to the host's /tmp");

    // 2. Two runs in flight (one running, one queued) when the state directory fills up.
    let slow =
        d.submit(py("import time\nprint('before', flush=True)\ntime.sleep(1.5)\nprint('after')\nresult = 'kept'"));
    d.wait_for_state(&slow, "running");
    let next = d.submit(json!({ "language": "python", "code": "result = input + 1", "input": 41 }));
    assert_eq!(d.state(&next), "queued");
    fill(&state.join("filler"));
    // The seccomp policy changes, so its compiled form must be cached anew: it cannot be.
    let policy = dir.join("profiles/seccomp/python.toml");
    let text = std::fs::read_to_string(&policy).unwrap();
    std::fs::write(&policy, format!("{text}\n# edited while jaild's state directory is full\n")).unwrap();

    // 3. A new run cannot be recorded: refused at once, saying why, and never started.
    let t = Instant::now();
    let refused = d.post(&json!({ "language": "python", "code": "result = 1", "wait": true }));
    assert!(t.elapsed() < Duration::from_secs(10), "the refusal took {:?}", t.elapsed());
    assert_eq!(
        (refused.status, refused.error_code().as_str()),
        (507, "history_unwritable"),
        "{}",
        String::from_utf8_lossy(&refused.body)
    );
    let message = refused.json()["error"]["message"].as_str().unwrap().to_string();
    assert!(message.contains("database or disk is full") && message.contains("history.db"), "{message}");
    std::fs::write(dir.join("one.py"), "result = 1\n").unwrap();
    let (code, _, stderr) = jailctl_at(&d.socket, &["run", dir.join("one.py").to_str().unwrap()]);
    assert!(stderr.contains("database or disk is full"), "{stderr}");
    assert_eq!(code, Status::InternalError.exit_code(), "{stderr}");

    // 4. The runs in flight end normally; their reports are served although the history could
    // not take them: wait, GET, events, the list, and jailctl wait (which must not spin).
    let s = d.wait(&slow);
    assert_eq!((s["state"].as_str(), s["status"].as_str()), (Some("finished"), Some("ok")), "{s}");
    assert_eq!(
        (s["report"]["stdout"].as_str(), &s["report"]["result"]),
        (Some("before\nafter\n"), &json!("kept")),
        "{s}"
    );
    let n = d.wait(&next);
    assert_eq!((n["state"].as_str(), &n["report"]["result"]), (Some("finished"), &json!(42)), "{n}");
    assert_eq!(d.get(&format!("/v1/runs/{slow}")).json()["report"]["result"], "kept");
    let evs = events(&d.socket, &slow);
    assert_eq!(evs.last().unwrap().1["report"]["result"], "kept", "{evs:?}");
    let listed = d.get("/v1/runs?limit=10").json();
    let row = listed["runs"].as_array().unwrap().iter().find(|r| r["id"] == slow.as_str()).cloned().unwrap_or_default();
    assert_eq!((row["state"].as_str(), row["status"].as_str()), (Some("finished"), Some("ok")), "{listed}");
    let t = Instant::now();
    let (code, stdout, stderr) = jailctl_at(&d.socket, &["wait", &next]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(t.elapsed() < Duration::from_secs(10), "jailctl wait took {:?}", t.elapsed());
    assert_eq!(d.delete(&slow).error_code(), "already_finished");
    // Each failure said so: the reports held, the cache not written; health shows it.
    let log = d.log();
    for needle in [
        "failed to record the run's report",
        "database or disk is full",
        "cache not written",
        "No space left on device",
    ] {
        assert!(log.contains(needle), "{needle:?} not in the log:\n{log}");
    }
    let health = d.get("/v1/health");
    assert_eq!(health.status, 200);
    let history = health.json()["history"].clone();
    assert_eq!(
        (history["writable"].as_bool(), history["unrecorded_runs"].as_u64()),
        (Some(false), Some(2)),
        "{history}"
    );
    assert!(history["error"].as_str().is_some_and(|e| e.contains("database or disk is full")), "{history}");
    let (code, stdout, _) = jailctl_at(&d.socket, &["health"]);
    assert_eq!(code, 0);
    assert!(
        stdout.contains("history: NOT WRITABLE") && stdout.contains("2 ended runs wait to be recorded"),
        "{stdout}"
    );
    let metrics = String::from_utf8(d.get("/metrics").body).unwrap();
    let failures: u64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("jaild_history_write_failures_total ")?.parse().ok())
        .unwrap_or_else(|| panic!("no jaild_history_write_failures_total in\n{metrics}"));
    // Two refused runs, a start and two ends that could not be recorded.
    assert!(failures >= 5, "{failures} history write failures counted");

    // 5. Space again: the held reports go into the history by themselves, new runs are taken,
    // the cache is written, and no half-written file is left anywhere.
    std::fs::remove_file(state.join("filler")).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let history = d.get("/v1/health").json()["history"].clone();
        if history["writable"] == true && history["unrecorded_runs"] == 0 {
            break;
        }
        assert!(Instant::now() < deadline, "the held reports were not written within 10 s of freeing space: {history}");
        std::thread::sleep(Duration::from_millis(100));
    }
    // No longer held: GET reads them from the store, and the store's files have them.
    assert_eq!(d.get(&format!("/v1/runs/{slow}")).json()["report"]["result"], "kept");
    let (_copy, store) = history_on_disk(&state);
    for (id, result) in [(&slow, json!("kept")), (&next, json!(42))] {
        let run = store.get(id).unwrap().unwrap_or_else(|| panic!("run {id} is not in the history on disk"));
        assert_eq!((run.state.as_str(), run.status), ("finished", Some(Status::Ok)), "{run:?}");
        // `next` started while the disk was full: its start is recorded late, too.
        assert!(run.started_at.is_some() && run.finished_at.is_some(), "{run:?}");
        assert_eq!(run.report.unwrap().result, result);
    }
    let r = d.run_sync(py("result = 'recovered'"));
    assert_eq!((r.status, &r.result), (Status::Ok, &json!("recovered")), "{}", common::show(&r));
    let (_copy, store) = history_on_disk(&state);
    assert_eq!(store.get(&r.id).unwrap().unwrap().state.as_str(), "finished");
    // The two refused runs are nowhere: two warm-up runs, the two held, the last.
    assert_eq!(d.get("/v1/runs").json()["runs"].as_array().unwrap().len(), 5);
    let files = files_under(&state);
    assert!(files.iter().all(|f| !f.contains(".tmp")), "half-written files left in the state directory: {files:?}");
    assert!(files.iter().any(|f| f.starts_with("cache/seccomp-")), "{files:?}");
    let log = d.log();
    for needle in
        ["the run history takes writes again", "run's end recorded in the history, late", "cache written again"]
    {
        assert!(log.contains(needle), "{needle:?} not in the log:\n{log}");
    }
    assert_eq!(file_names(&host_tmp), only_filler);
    assert!(d.jail_processes().is_empty());
    d.signal(nix::sys::signal::Signal::SIGTERM);
    assert!(d.wait_exit(Duration::from_secs(10)).success(), "{}", d.log());
}

/// jaild refuses to start on a state directory that is already full, naming the store and why.
#[test]
fn jaild_refuses_to_start_with_a_full_state_directory_naming_it() {
    require_jails!();
    let tmp = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let dir = tmp.path().to_path_buf();
    std::fs::create_dir(dir.join("state")).unwrap();
    std::fs::write(
        dir.join("jaild.toml"),
        format!(
            "socket = \"{d}/jaild.sock\"\nstate_dir = \"{d}/state\"\nprofiles_dir = \"{r}/profiles\"\ninterpreters_dir = \"{r}/interpreters\"\n",
            d = dir.display(),
            r = common::repo().display()
        ),
    )
    .unwrap();
    let script = format!(
        "mount -t tmpfs -o size=64k,mode=0700 jaild-test-state '{state}'\n\
         dd if=/dev/zero of='{state}/filler' bs=4k 2>/dev/null || true\n\
         exec \"$0\" --config '{config}'",
        state = dir.join("state").display(),
        config = dir.join("jaild.toml").display()
    );
    let mut child = Command::new("unshare")
        .args(["--mount", "--propagation", "private", "--", "/bin/sh", "-ec", &script])
        .arg(env!("CARGO_BIN_EXE_jaild"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let guard = scopeguard(child.id());
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "jaild did not exit on a full state directory");
        std::thread::sleep(Duration::from_millis(20));
    };
    std::mem::forget(guard);
    let mut err = String::new();
    child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
    assert!(!status.success());
    assert!(!err.contains("panicked"), "{err}");
    assert!(
        err.contains("history.db") && err.contains("its disk is full") && err.contains("database or disk is full"),
        "{err}"
    );
    assert!(!err.contains("is it an SQLite database"), "a full disk is not a broken database: {err}");
    assert!(!dir.join("jaild.sock").exists());
}

// ---------------------------------------------------------------------------------------------
// Load: not part of the regular run.

fn fd_count(pid: i32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map(|d| d.count()).unwrap_or(0)
}

#[test]
#[ignore = "load test: cargo test --test daemon -- --ignored load (JAILD_LOAD_N runs, default 2000)"]
fn load_many_runs_from_concurrent_clients() {
    require_jails!();
    let n: usize = std::env::var("JAILD_LOAD_N").ok().and_then(|v| v.parse().ok()).unwrap_or(2000);
    let clients = 8;
    let d = Daemon::start("queue_size = 64", "");
    // Warm up (digest cache, profile cache, blocking threads), then count the daemon's fds.
    for _ in 0..4 {
        d.run_sync(py("result = 0"));
    }
    std::thread::sleep(Duration::from_millis(200));
    let fds_before = fd_count(d.pid());
    let t = Instant::now();
    let results: Vec<Vec<(String, u64, Duration)>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..clients)
            .map(|c| {
                let d = &d;
                s.spawn(move || {
                    let mut out = Vec::new();
                    for i in (c..n).step_by(clients) {
                        let body = if i % 2 == 0 {
                            json!({ "language": "python", "code": "result = input * 2", "input": i, "wait": true })
                        } else {
                            json!({ "language": "javascript", "code": "return input * 2", "input": i, "wait": true })
                        };
                        let t = Instant::now();
                        let r = d.post(&body);
                        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
                        let report: Report = serde_json::from_slice(&r.body).unwrap();
                        assert_eq!(report.status, Status::Ok, "{}", common::show(&report));
                        assert_eq!(report.result, json!(i * 2));
                        out.push((report.id, i as u64, t.elapsed()));
                    }
                    out
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let elapsed = t.elapsed();
    let mut all: Vec<(String, u64, Duration)> = results.into_iter().flatten().collect();
    assert_eq!(all.len(), n);
    let ids: BTreeSet<&str> = all.iter().map(|(id, _, _)| id.as_str()).collect();
    assert_eq!(ids.len(), n, "run ids are not unique");
    // Exactly one report per run in the history, each the run's own.
    for (id, _, _) in &all {
        let run = d.get(&format!("/v1/runs/{id}")).json();
        assert_eq!((run["state"].as_str(), run["report"]["id"].as_str()), (Some("finished"), Some(id.as_str())));
    }
    std::thread::sleep(Duration::from_millis(500));
    let fds_after = fd_count(d.pid());
    let leftover_cgroups = cgroups_named(&format!("run.{}.", d.pid()));
    let leftover_procs = d.jail_processes();
    all.sort_by_key(|(_, _, t)| *t);
    let pct = |p: f64| all[((all.len() as f64 - 1.0) * p) as usize].2;
    eprintln!(
        "LOAD: {n} runs from {clients} clients in {elapsed:.1?}: {:.1} runs/s; latency p50 {:?} p90 {:?} p99 {:?} max {:?}; \
         daemon fds {fds_before} -> {fds_after}; leftover cgroups {}; leftover jail processes {}",
        n as f64 / elapsed.as_secs_f64(),
        pct(0.5),
        pct(0.9),
        pct(0.99),
        pct(1.0),
        leftover_cgroups.len(),
        leftover_procs.len(),
    );
    assert!(leftover_cgroups.is_empty(), "{leftover_cgroups:?}");
    assert!(leftover_procs.is_empty(), "{leftover_procs:?}");
    assert!(fds_after <= fds_before + 2, "the daemon's fds grew from {fds_before} to {fds_after}");
    let metrics = String::from_utf8(d.get("/metrics").body).unwrap();
    let ok: u64 = metrics
        .lines()
        .filter(|l| l.starts_with("jaild_runs_total{status=\"ok\""))
        .map(|l| l.rsplit(' ').next().unwrap().parse::<u64>().unwrap())
        .sum();
    assert_eq!(ok as usize, n + 4);
}

/// VmRSS of a process in KiB.
fn rss_kib(pid: i32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:").and_then(|v| v.split_whitespace().next()).and_then(|v| v.parse().ok()))
        .unwrap_or(0)
}

/// Children of `pid` that are zombies (exited, not reaped).
fn zombie_children(pid: i32) -> Vec<i32> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(child) = e.file_name().to_str().and_then(|n| n.parse::<i32>().ok()) else { continue };
        let stat = std::fs::read_to_string(format!("/proc/{child}/stat")).unwrap_or_default();
        // pid (comm) state ppid ...: the fields after the last ')'.
        let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else { continue };
        let mut fields = rest.split_whitespace();
        let (state, ppid) = (fields.next(), fields.next().and_then(|p| p.parse::<i32>().ok()));
        if state == Some("Z") && ppid == Some(pid) {
            out.push(child);
        }
    }
    out
}

/// The soak test of issue 5: many runs mixed across verdicts through one daemon, then the
/// numbers that show nothing accumulates: the daemon's fds, run cgroups, jail mounts, zombies,
/// and its RSS. Not part of the regular run (JAILD_SOAK_N, default 10,000):
///
///     JAILD_SOAK_N=10000 cargo test --release --test daemon -- --ignored soak --nocapture
#[test]
#[ignore = "soak test: cargo test --release --test daemon -- --ignored soak --nocapture (JAILD_SOAK_N runs, default 10000)"]
fn soak_mixed_verdicts_leave_nothing_behind() {
    require_jails!();
    let n: usize = std::env::var("JAILD_SOAK_N").ok().and_then(|v| v.parse().ok()).unwrap_or(10_000);
    let clients = 4;
    // Each kind of run and the status it must end with (limits tightened so that each is quick).
    let kinds: Vec<(Value, Status)> = vec![
        (json!({"language": "python", "code": "result = input * 2", "input": 21}), Status::Ok),
        (json!({"language": "javascript", "code": "return input + 1", "input": 41}), Status::Ok),
        (json!({"language": "python", "code": "raise ValueError('x')"}), Status::RuntimeError),
        (
            json!({"language": "python", "code": "import time\ntime.sleep(5)", "limits": {"wall_time_ms": 150}}),
            Status::Timeout,
        ),
        (
            json!({"language": "python", "code": "b = []\nwhile True: b.append(bytearray(4 << 20))", "limits": {"memory": "32MiB"}}),
            Status::MemoryLimit,
        ),
        (
            json!({"language": "python", "code": "import os\nwhile True:\n    try: os.fork()\n    except OSError: pass", "limits": {"pids": 4}}),
            Status::PidsLimit,
        ),
        (
            json!({"language": "python", "code": "while True: print('x' * 65536)", "limits": {"stdout": "64KiB"}}),
            Status::OutputLimit,
        ),
        (
            json!({"language": "python", "code": "import os\ntry: os.chroot('/tmp')\nexcept OSError: pass"}),
            Status::SecurityViolation,
        ),
        (json!({"language": "python", "code": "x", "profile": "nosuch"}), Status::Rejected),
    ];
    let d = Daemon::start("queue_size = 64", "");
    for _ in 0..4 {
        d.run_sync(py("result = 0"));
    }
    std::thread::sleep(Duration::from_millis(300));
    let (fds_before, rss_before) = (fd_count(d.pid()), rss_kib(d.pid()));
    let t = Instant::now();
    let counts: Vec<HashMap<String, usize>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..clients)
            .map(|c| {
                let (d, kinds) = (&d, &kinds);
                s.spawn(move || {
                    let mut seen: HashMap<String, usize> = HashMap::new();
                    for i in (c..n).step_by(clients) {
                        let (body, want) = &kinds[i % kinds.len()];
                        let mut body = body.clone();
                        body["wait"] = json!(true);
                        let r = d.post(&body);
                        if *want == Status::Rejected {
                            assert_eq!(r.status, 404, "{}", String::from_utf8_lossy(&r.body));
                        } else {
                            assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
                            let report: Report = serde_json::from_slice(&r.body).unwrap();
                            assert_eq!(report.status, *want, "{}", common::show(&report));
                        }
                        *seen.entry(want.to_string()).or_default() += 1;
                    }
                    seen
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let elapsed = t.elapsed();
    std::thread::sleep(Duration::from_millis(500));
    let (fds_after, rss_after) = (fd_count(d.pid()), rss_kib(d.pid()));
    let cgroups = cgroups_named(&format!("run.{}.", d.pid()));
    let mounts =
        std::fs::read_to_string("/proc/self/mountinfo").unwrap().lines().filter(|l| l.contains(" jaild ")).count();
    let zombies = zombie_children(d.pid());
    let procs = d.jail_processes();
    let mut total: HashMap<String, usize> = HashMap::new();
    for c in counts {
        for (k, v) in c {
            *total.entry(k).or_default() += v;
        }
    }
    eprintln!(
        "SOAK: {n} runs in {elapsed:.1?} ({:.1} runs/s), by status {total:?}; daemon fds {fds_before} -> {fds_after}, \
         RSS {rss_before} KiB -> {rss_after} KiB; leftover cgroups {}, jail mounts {mounts}, zombies {}, jail processes {}",
        n as f64 / elapsed.as_secs_f64(),
        cgroups.len(),
        zombies.len(),
        procs.len(),
    );
    assert!(cgroups.is_empty(), "{cgroups:?}");
    assert_eq!(mounts, 0);
    assert!(zombies.is_empty(), "zombie children of the daemon: {zombies:?}");
    assert!(procs.is_empty(), "{procs:?}");
    assert!(fds_after <= fds_before + 2, "the daemon's fds grew from {fds_before} to {fds_after}");
    // Flat: allocator caches may grow a little at first; a leak per run would grow with n.
    assert!(rss_after <= rss_before + 32 * 1024, "the daemon's RSS grew from {rss_before} KiB to {rss_after} KiB");
}

#[test]
fn warm_jails_serve_runs_are_refilled_and_follow_their_profile() {
    require_jails!();
    // A profiles directory of our own, to change a profile while the daemon serves.
    let profiles = tempfile::tempdir().unwrap();
    common::copy_dir(&common::repo().join("profiles"), profiles.path());
    let top = format!(
        "concurrency = 2\nprofiles_dir = \"{}\"\n[pool]\nsize = 0\nidle_lifetime_s = 600\n[pool.profile.python]\nsize = 2\n",
        profiles.path().display()
    );
    let d = Daemon::start(&top, "");
    wait_warm(&d, 2);
    let h = d.get("/v1/health").json();
    assert_eq!(h["pools"].as_array().map(Vec::len), Some(1), "only python keeps warm jails: {h}");

    // Hits: warm, the same report as ever; then the pool fills again.
    let r = d.run_sync(py("print('hi')\nresult = 6 * 7"));
    assert_eq!(
        (r.status, r.start, r.result.clone(), r.stdout.as_str()),
        (Status::Ok, Start::Warm, json!(42), "hi\n"),
        "{r:?}"
    );
    wait_warm(&d, 2);
    // Misses go cold and do not fail: more at once than there are warm jails.
    let ids: Vec<String> = (0..5).map(|i| d.submit(py(&format!("result = {i}")))).collect();
    let mut starts = Vec::new();
    for (i, id) in ids.iter().enumerate() {
        let run = d.wait(id);
        assert_eq!((run["status"].as_str(), &run["report"]["result"]), (Some("ok"), &json!(i)), "{run}");
        starts.push(run["report"]["start"].as_str().unwrap_or("?").to_string());
    }
    assert!(starts.iter().any(|s| s == "warm"), "{starts:?}");
    // Other profiles have no pool: cold.
    let js = d.run_sync(json!({"language": "javascript", "code": "return 1"}));
    assert_eq!((js.status, js.start), (Status::Ok, Start::Cold));

    let metrics = d.get("/metrics");
    let text = String::from_utf8_lossy(&metrics.body).to_string();
    assert!(text.contains("jaild_pool_takes_total{profile=\"python\",outcome=\"hit\"}"), "{text}");
    assert!(text.contains("jaild_pool_warm_jails{profile=\"python\"}"), "{text}");
    assert!(text.contains("jaild_pool_refill_seconds_count{profile=\"python\"}"), "{text}");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_jailctl"))
        .args(["health", "--socket"])
        .arg(&d.socket)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains("pool:  python:") && said.contains("of 2"), "{said}");

    // A changed profile: its warm jails go, the new version's come, and runs get it.
    wait_warm(&d, 2);
    let path = profiles.path().join("python.toml");
    let text = std::fs::read_to_string(&path).unwrap().replace("pids = 16 ", "pids = 15 ");
    std::fs::write(&path, text).unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let r = d.run_sync(py("result = 1"));
        assert_eq!(r.status, Status::Ok, "{r:?}");
        let new = r.profile.as_ref().map(|p| p.sha256.clone());
        let fresh = jaild::profile::load(profiles.path(), "python").unwrap().sha256;
        if r.start == Start::Warm && new.as_deref() == Some(fresh.as_str()) {
            break;
        }
        assert!(Instant::now() < deadline, "no warm jail of the changed profile: {r:?}\n{}", d.log());
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The refill count of `profile`'s pool, from /metrics.
fn refills(d: &Daemon, profile: &str) -> u64 {
    let metrics = d.get("/metrics");
    let text = String::from_utf8_lossy(&metrics.body).to_string();
    let key = format!("jaild_pool_refill_seconds_count{{profile=\"{profile}\"}} ");
    text.lines().find_map(|l| l.strip_prefix(&key)).and_then(|n| n.trim().parse().ok()).unwrap_or(0)
}

#[test]
fn a_warm_jail_unused_for_its_idle_lifetime_is_replaced() {
    require_jails!();
    let d = Daemon::start("[pool]\nsize = 0\nidle_lifetime_s = 1\n[pool.profile.python]\nsize = 1\n", "");
    wait_warm(&d, 1);
    let first = refills(&d, "python");
    assert!(first >= 1, "no refill counted");
    // No run takes it; once a second old it is destroyed and a fresh one made.
    let deadline = Instant::now() + Duration::from_secs(30);
    while refills(&d, "python") <= first {
        assert!(Instant::now() < deadline, "the idle warm jail was not replaced:\n{}", d.log());
        std::thread::sleep(Duration::from_millis(100));
    }
    let h = d.get("/v1/health").json();
    let pool = &h["pools"][0];
    assert_eq!((pool["hits"].as_u64(), pool["misses"].as_u64()), (Some(0), Some(0)), "{h}");
    wait_warm(&d, 1);
    // The replacement serves runs as any warm jail does.
    let r = d.run_sync(py("result = 5"));
    assert_eq!((r.status, r.start, r.result.clone()), (Status::Ok, Start::Warm, json!(5)), "{r:?}");
}

#[test]
fn jaild_refuses_a_pool_it_cannot_hold_naming_the_key() {
    require_jails!();
    for (config, says) in [
        ("[pool.profile.nosuch]\nsize = 1\n", "pool.profile.nosuch: there is no profile \"nosuch\""),
        (
            "concurrency = 2\nhost_id_slots = 3\n[pool]\nsize = 1\n",
            "host_id_slots: 3 slots cannot hold 2 runs at once and",
        ),
    ] {
        let tmp = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
        let dir = tmp.path();
        let file = dir.join("jaild.toml");
        std::fs::write(
            &file,
            format!(
                "socket = \"{d}/jaild.sock\"\nstate_dir = \"{d}/state\"\nstore = \"{d}/history.db\"\nprofiles_dir = \"{r}/profiles\"\ninterpreters_dir = \"{r}/interpreters\"\n{config}",
                d = dir.display(),
                r = common::repo().display()
            ),
        )
        .unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_jaild")).arg("--config").arg(&file).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "jaild started with {config:?}: {err}");
        assert!(err.contains(says), "{config:?}: {err}");
        assert!(!dir.join("jaild.sock").exists(), "{config:?}: the socket was made");
    }
}
