//! The commands that follow and steer runs in jaild: `submit`, `status`, `wait`, `cancel`,
//! `logs`, `history`. They need the daemon (there is no in-process equivalent).

use crate::client::{self, ClientError, Event, Run};
use crate::run::{chain, print_report, print_summary, refused_locally, start_failure, ScriptArgs};
use crate::terminal;
use crate::usage;
use hyper::Method;
use jaild::daemon::store::RunState;
use jaild::report::Status;
use serde_json::Value;
use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Exit status of `wait` and `logs` when there is no report to take it from.
pub const NO_REPORT: i32 = 12;

pub const WAIT_EXIT_CODES: &str = "\
Exit status: as `jailctl run` once the run has ended (0 ok, 1 runtime_error, 3 timeout, ...,
11 cancelled; see `jailctl run --help`), and
  2   usage error
  12  no report: jaild could not be reached or refused (unknown run), the run was
      interrupted (jaild stopped while it ran), or --timeout passed first";

pub const COMMAND_EXIT_CODES: &str = "\
Exit status:
  0   done
  1   jaild could not be reached or refused (the message says why)
  2   usage error";

pub const SUBMIT_EXIT_CODES: &str = "\
Exit status:
  0   queued (the run id is printed)
  2   usage error
  9   rejected: jaild refused the request (bad field, profile not allowed or unknown, too large)
  10  jaild could not take it (not reachable, queue full, shutting down)";

/// How to reach jaild and how to print.
#[derive(clap::Args)]
pub struct DaemonArgs {
    /// jaild's socket (default: $JAILD_SOCKET, else /run/jaild/jaild.sock).
    #[arg(long, value_name = "PATH")]
    socket: Option<PathBuf>,
    /// Print the API's JSON, exact, instead of text (which shows control characters escaped).
    #[arg(long)]
    json: bool,
}

impl DaemonArgs {
    pub fn client(&self) -> Result<client::Client, ClientError> {
        client::Client::new(&self.socket.clone().unwrap_or_else(client::default_socket))
    }
}

#[derive(clap::Args)]
pub struct SubmitArgs {
    #[command(flatten)]
    script: ScriptArgs,
    #[command(flatten)]
    daemon: DaemonArgs,
}

#[derive(clap::Args)]
pub struct IdArgs {
    /// The run id (`jailctl submit` printed it).
    id: String,
    #[command(flatten)]
    daemon: DaemonArgs,
}

#[derive(clap::Args)]
pub struct WaitArgs {
    /// The run id.
    id: String,
    /// Give up after this many seconds (exit 12); default: wait as long as it takes.
    #[arg(long, value_name = "SECS")]
    timeout: Option<f64>,
    #[command(flatten)]
    daemon: DaemonArgs,
}

#[derive(clap::Args)]
pub struct LogsArgs {
    /// The run id.
    id: String,
    /// Follow a run still going: its output as it comes, until it ends.
    #[arg(short, long)]
    follow: bool,
    #[command(flatten)]
    daemon: DaemonArgs,
}

#[derive(clap::Args)]
pub struct HistoryArgs {
    /// Only runs that ended with this status (ok, timeout, security_violation, ...).
    #[arg(long)]
    status: Option<String>,
    /// Only runs of this profile.
    #[arg(long)]
    profile: Option<String>,
    /// Only runs created at or after this time (RFC 3339, e.g. 2026-11-21T12:00:00Z).
    #[arg(long)]
    since: Option<String>,
    /// At most this many runs, newest first (1-1000; jaild's default is 50).
    #[arg(long)]
    limit: Option<u32>,
    #[command(flatten)]
    daemon: DaemonArgs,
}

fn checked_id(id: &str) -> anyhow::Result<&str> {
    if client::valid_id(id) {
        Ok(id)
    } else {
        Err(usage(format!("{id:?} is not a run id (letters, digits, - and _, at most 64)")))
    }
}

/// Prints a failure of a command whose exit status for it is `code`.
fn failed(e: &ClientError, json: bool, code: i32) -> i32 {
    eprintln!("jailctl: {}", terminal::text(&chain(e)));
    if let (ClientError::Api(api), true) = (e, json) {
        println!("{}", serde_json::to_string_pretty(&api.body).unwrap_or_default());
    }
    code
}

fn print_json(value: &Value) {
    println!("{}", serde_json::to_string_pretty(value).unwrap_or_default());
}

pub fn submit(args: SubmitArgs) -> anyhow::Result<i32> {
    let script = args.script.load()?;
    let json = args.daemon.json;
    let body = match script.api_body(false) {
        Ok(body) => body,
        Err((field, message)) => return Ok(refused_locally(field, &message, json)),
    };
    let accepted = args.daemon.client().and_then(|c| c.json::<client::Accepted>(Method::POST, "/v1/runs", Some(&body)));
    Ok(match accepted {
        Ok((accepted, raw)) => {
            if json {
                print_json(&raw);
            } else {
                println!("{}", terminal::line(&accepted.id));
            }
            0
        }
        Err(e) => start_failure(&e, json),
    })
}

pub fn status(args: IdArgs) -> anyhow::Result<i32> {
    let id = checked_id(&args.id)?;
    let json = args.daemon.json;
    let got = args.daemon.client().and_then(|c| c.json::<Run>(Method::GET, &format!("/v1/runs/{id}"), None));
    Ok(match got {
        Ok((run, raw)) => {
            if json {
                print_json(&raw);
            } else {
                print_run(&run);
            }
            0
        }
        Err(e) => failed(&e, json, 1),
    })
}

fn print_run(run: &Run) {
    println!("run:      {}", terminal::line(&run.id));
    println!("state:    {}", run.state);
    if let Some(s) = run.status {
        println!("status:   {s}");
    }
    println!("profile:  {}", terminal::line(&run.profile));
    println!("caller:   uid {}", run.caller_uid);
    println!("created:  {}", terminal::line(&run.created_at));
    if let Some(t) = &run.started_at {
        println!("started:  {}", terminal::line(t));
    }
    if let Some(t) = &run.finished_at {
        println!("finished: {}", terminal::line(t));
    }
    if let Some(report) = &run.report {
        println!();
        print_summary(report);
    }
}

pub fn wait(args: WaitArgs) -> anyhow::Result<i32> {
    let id = checked_id(&args.id)?;
    let json = args.daemon.json;
    let deadline = match args.timeout {
        Some(t) if t.is_finite() && t >= 0.0 => Some(Instant::now() + Duration::from_secs_f64(t)),
        Some(t) => return Err(usage(format!("--timeout {t}: give seconds (0 or more)"))),
        None => None,
    };
    let run = match args.daemon.client().and_then(|c| c.wait(id, deadline)) {
        Ok(run) => run,
        Err(e) => return Ok(failed(&e, json, NO_REPORT)),
    };
    ended(&run, json)
}

/// The exit status and output for a run that `wait` or `logs` saw end (or not).
fn ended(run: &Run, json: bool) -> anyhow::Result<i32> {
    match &run.report {
        Some(report) => {
            print_report(report, json)?;
            Ok(report.status.exit_code())
        }
        None => {
            if json {
                print_json(&serde_json::to_value(run)?);
            }
            if run.is_live() {
                eprintln!("jailctl: run {} is still {} (--timeout passed)", terminal::line(&run.id), run.state);
            } else {
                eprintln!(
                    "jailctl: run {} was {}: jaild stopped while it ran, and it has no report",
                    terminal::line(&run.id),
                    run.state
                );
            }
            Ok(NO_REPORT)
        }
    }
}

pub fn cancel(args: IdArgs) -> anyhow::Result<i32> {
    let id = checked_id(&args.id)?;
    let json = args.daemon.json;
    let got = args.daemon.client().and_then(|c| c.json::<Run>(Method::DELETE, &format!("/v1/runs/{id}"), None));
    Ok(match got {
        Ok((run, raw)) => {
            if json {
                print_json(&raw);
            } else if run.state == RunState::Cancelled {
                println!("run {} cancelled", terminal::line(&run.id));
            } else {
                // It ended by itself while the cancel was on its way: it keeps its status.
                let status = run.status.map(|s| s.to_string()).unwrap_or_else(|| run.state.to_string());
                println!("run {} ended before the cancel reached it: {status}", terminal::line(&run.id));
            }
            0
        }
        Err(e) => failed(&e, json, 1),
    })
}

pub fn logs(args: LogsArgs) -> anyhow::Result<i32> {
    let id = checked_id(&args.id)?;
    let json = args.daemon.json;
    let client = match args.daemon.client() {
        Ok(c) => c,
        Err(e) => return Ok(failed(&e, json, NO_REPORT)),
    };
    if !args.follow {
        match client.json::<Run>(Method::GET, &format!("/v1/runs/{id}"), None) {
            Ok((run, _)) if run.is_live() => {
                eprintln!("jailctl: run {id} is still {}; -f follows its output as it comes", run.state);
                return Ok(NO_REPORT);
            }
            Ok(_) => {}
            Err(e) => return Ok(failed(&e, json, NO_REPORT)),
        }
    }
    // The output so far, then live, then the report: stdout to stdout, stderr to stderr, each
    // written as it arrives, escaped (a chunk's trailing backslashes wait for the next one).
    // With --json, the events as jaild sends them (NDJSON).
    let mut code = NO_REPORT;
    let mut out = std::io::stdout();
    let mut err = std::io::stderr();
    let (mut out_text, mut err_text) = (terminal::Stream::default(), terminal::Stream::default());
    let streamed = client.events(id, &mut |line, event| {
        if json {
            let _ = out.write_all(line);
            let _ = out.write_all(b"\n");
            let _ = out.flush();
        }
        match event {
            Event::Stdout { data } if !json => {
                let _ = out.write_all(out_text.push(&data).as_bytes());
                let _ = out.flush();
            }
            Event::Stderr { data } if !json => {
                let _ = err.write_all(err_text.push(&data).as_bytes());
                let _ = err.flush();
            }
            Event::Report { report } => code = report.status.exit_code(),
            Event::State { state } => {
                eprintln!("jailctl: run {id} was {state}: jaild stopped while it ran, and it has no report")
            }
            _ => {}
        }
    });
    if !json {
        let _ = out.write_all(out_text.finish().as_bytes());
        let _ = out.flush();
        let _ = err.write_all(err_text.finish().as_bytes());
    }
    Ok(match streamed {
        Ok(()) => code,
        Err(e) => failed(&e, json, NO_REPORT),
    })
}

pub fn history(args: HistoryArgs) -> anyhow::Result<i32> {
    let json = args.daemon.json;
    let mut query = Vec::new();
    if let Some(s) = &args.status {
        if !Status::ALL.iter().any(|st| st.as_str() == s) {
            let all: Vec<&str> = Status::ALL.iter().map(|s| s.as_str()).collect();
            return Err(usage(format!("--status {s:?}: use one of {}", all.join(", "))));
        }
        query.push(format!("status={}", client::query_value(s)));
    }
    if let Some(p) = &args.profile {
        query.push(format!("profile={}", client::query_value(p)));
    }
    if let Some(t) = &args.since {
        query.push(format!("since={}", client::query_value(t)));
    }
    if let Some(n) = args.limit {
        query.push(format!("limit={n}"));
    }
    let path = if query.is_empty() { "/v1/runs".to_string() } else { format!("/v1/runs?{}", query.join("&")) };
    #[derive(serde::Deserialize)]
    struct RunList {
        runs: Vec<Run>,
    }
    let got = args.daemon.client().and_then(|c| c.json::<RunList>(Method::GET, &path, None));
    let (list, raw) = match got {
        Ok(got) => got,
        Err(e) => return Ok(failed(&e, json, 1)),
    };
    if json {
        print_json(&raw);
        return Ok(0);
    }
    if list.runs.is_empty() {
        println!("no runs");
        return Ok(0);
    }
    println!(
        "{:<18} {:<12} {:<19} {:<12} {:>6} {:<20} {:>9}",
        "ID", "STATE", "STATUS", "PROFILE", "UID", "CREATED", "TOOK"
    );
    for run in &list.runs {
        let took = match (&run.started_at, &run.finished_at) {
            (Some(a), Some(b)) => client::duration_between(a, b).map(|d| format!("{:.3}s", d.as_secs_f64())),
            _ => None,
        };
        // Seconds are enough in a table: 2026-11-21T15:47:12.826687172Z -> 2026-11-21T15:47:12Z.
        let created = match run.created_at.split_once('.') {
            Some((whole, _)) if run.created_at.ends_with('Z') => format!("{whole}Z"),
            _ => run.created_at.clone(),
        };
        println!(
            "{:<18} {:<12} {:<19} {:<12} {:>6} {:<20} {:>9}",
            terminal::line(&run.id),
            run.state.to_string(),
            run.status.map(|s| s.to_string()).unwrap_or_else(|| "-".into()),
            terminal::line(&run.profile),
            run.caller_uid,
            terminal::line(&created),
            took.unwrap_or_else(|| "-".into())
        );
    }
    Ok(0)
}

pub fn health(args: DaemonArgs) -> anyhow::Result<i32> {
    let json = args.json;
    // 503 while draining carries the same body: show it, exit 1.
    let got = args.client().and_then(|c| c.call(Method::GET, "/v1/health", None));
    let (value, serving) = match got {
        Ok((_, value)) => (value, true),
        Err(ClientError::Api(api))
            if api.status == hyper::StatusCode::SERVICE_UNAVAILABLE && api.body.get("status").is_some() =>
        {
            (api.body, false)
        }
        Err(e) => return Ok(failed(&e, json, 1)),
    };
    if json {
        print_json(&value);
    } else {
        let n = |k: &str| value[k].as_u64().map(|v| v.to_string()).unwrap_or_else(|| "?".into());
        let s = |k: &str| terminal::line(value[k].as_str().unwrap_or("?")).into_owned();
        println!("jaild {}: {} (pid {}, up {} s)", s("version"), s("status"), n("pid"), n("uptime_s"));
        println!("host:  cgroup {}, landlock ABI {}", s("cgroup"), n("landlock_abi"));
        println!(
            "runs:  {} running of {}, {} queued of {}",
            n("running"),
            n("concurrency"),
            n("queued"),
            n("queue_size")
        );
        for p in value["pools"].as_array().into_iter().flatten() {
            let num = |k: &str| p[k].as_u64().map(|v| v.to_string()).unwrap_or_else(|| "?".into());
            let mut line = format!(
                "pool:  {}: {} warm of {} ({} hits, {} misses)",
                terminal::line(p["profile"].as_str().unwrap_or("?")),
                num("warm"),
                num("size"),
                num("hits"),
                num("misses")
            );
            if let Some(e) = p["error"].as_str() {
                line.push_str(&format!("; last refill failed: {}", terminal::line(e)));
            }
            println!("{line}");
        }
        let history = &value["history"];
        if history["writable"] == false {
            println!(
                "history: NOT WRITABLE, new runs are refused ({}); {} ended runs wait to be recorded",
                terminal::line(history["error"].as_str().unwrap_or("?")),
                history["unrecorded_runs"].as_u64().map(|v| v.to_string()).unwrap_or_else(|| "?".into())
            );
        }
    }
    Ok(if serving { 0 } else { 1 })
}
