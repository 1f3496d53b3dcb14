//! `jailctl run`: one script in a fresh jail, through jaild when its socket is there (or
//! `--socket`), in-process otherwise (or `--local`). Both print the same report.

use crate::client::{self, Client, ClientError};
use crate::terminal;
use crate::usage;
use anyhow::Context;
use jaild::profile::{ByteSize, Language};
use jaild::report::{Report, Status};
use jaild::seccomp::DenialLevel;
use jaild::{Config, LimitOverrides, RunRequest, Supervisor};
use std::borrow::Cow;
use std::io::Read;
use std::path::PathBuf;

/// The script and its limits: what `run` and `submit` share.
#[derive(clap::Args)]
pub struct ScriptArgs {
    /// Script file, or - for standard input.
    file: PathBuf,
    /// python, javascript or typescript (default: from the file's extension).
    #[arg(long)]
    lang: Option<String>,
    /// Profile name (default: the language's).
    #[arg(long)]
    profile: Option<String>,
    /// Input as JSON text, or @FILE to read it from a file.
    #[arg(long)]
    input: Option<String>,
    /// Tighter wall time limit (ms).
    #[arg(long)]
    wall_time_ms: Option<u64>,
    /// Tighter CPU time limit (ms).
    #[arg(long)]
    cpu_time_ms: Option<u64>,
    /// Tighter memory limit (e.g. 64MiB).
    #[arg(long)]
    memory: Option<String>,
    /// Tighter process/thread limit.
    #[arg(long)]
    pids: Option<u64>,
}

#[derive(clap::Args)]
pub struct RunArgs {
    #[command(flatten)]
    script: ScriptArgs,
    /// Print the full report as JSON, exact (text shows control characters escaped).
    #[arg(long)]
    json: bool,
    /// Run in-process (as root), even when jaild is there.
    #[arg(long, conflicts_with = "socket")]
    local: bool,
    /// jaild's socket (default: $JAILD_SOCKET, else /run/jaild/jaild.sock; without a socket
    /// there the run is in-process). Given here, jaild must answer: no in-process fallback.
    #[arg(long, value_name = "PATH")]
    socket: Option<PathBuf>,
    /// Directory of profiles (default: the source tree's profiles/ or /etc/jaild/profiles).
    /// An in-process setting: implies --local.
    #[arg(long, conflicts_with = "socket")]
    profiles_dir: Option<PathBuf>,
}

/// A script read and checked, ready for either path.
pub struct Script {
    language: Option<Language>,
    profile: Option<String>,
    filename: Option<String>,
    code: Vec<u8>,
    input: Option<String>,
    limits: LimitOverrides,
}

impl ScriptArgs {
    /// Reads the script and the input; a mistake here is a usage error.
    pub fn load(&self) -> anyhow::Result<Script> {
        let language = match &self.lang {
            Some(l) => Some(
                Language::parse(l)
                    .ok_or_else(|| usage(format!("--lang {l:?}: use python, javascript or typescript")))?,
            ),
            None if self.file.as_os_str() == "-" => None,
            None => Language::from_extension(&self.file),
        };
        if language.is_none() && self.profile.is_none() {
            return Err(usage(format!(
                "cannot tell the language of {}: give --lang or --profile",
                self.file.display()
            )));
        }
        let code = if self.file.as_os_str() == "-" {
            let mut buf = Vec::new();
            std::io::stdin().read_to_end(&mut buf).map_err(|e| usage(format!("reading the script from stdin: {e}")))?;
            buf
        } else {
            std::fs::read(&self.file).map_err(|e| usage(format!("reading {}: {e}", self.file.display())))?
        };
        let input = match &self.input {
            Some(s) if s.starts_with('@') => Some(
                std::fs::read_to_string(&s[1..]).map_err(|e| usage(format!("--input: reading {}: {e}", &s[1..])))?,
            ),
            Some(s) => Some(s.clone()),
            None => None,
        };
        let memory = match &self.memory {
            Some(m) => Some(ByteSize::parse(m).map_err(|e| usage(format!("--memory: {e}")))?),
            None => None,
        };
        let filename = (self.file.as_os_str() != "-")
            .then(|| self.file.file_name().map(|f| f.to_string_lossy().into_owned()))
            .flatten();
        Ok(Script {
            language,
            profile: self.profile.clone(),
            filename,
            code,
            input,
            limits: LimitOverrides {
                wall_time_ms: self.wall_time_ms,
                cpu_time_ms: self.cpu_time_ms,
                memory,
                pids: self.pids,
                ..Default::default()
            },
        })
    }
}

impl Script {
    /// The body of `POST /v1/runs`. The API carries the code as a JSON string and the input as
    /// a JSON value: a script that is not UTF-8 or an input that is not JSON is refused here,
    /// as jaild would refuse it (Err: the field and why).
    pub fn api_body(&self, wait: bool) -> Result<serde_json::Value, (&'static str, String)> {
        let code =
            std::str::from_utf8(&self.code).map_err(|e| ("code", format!("the script is not UTF-8 text ({e})")))?;
        let input = match &self.input {
            Some(text) => Some(
                serde_json::from_str::<serde_json::Value>(text)
                    .map_err(|e| ("input", format!("not valid JSON: {e}")))?,
            ),
            None => None,
        };
        let mut body = serde_json::json!({ "code": code, "wait": wait });
        let mut set = |key: &str, value: serde_json::Value| {
            if let Some(map) = body.as_object_mut() {
                map.insert(key.to_string(), value);
            }
        };
        if let Some(l) = self.language {
            set("language", l.as_str().into());
        }
        if let Some(p) = &self.profile {
            set("profile", p.as_str().into());
        }
        if let Some(f) = &self.filename {
            set("filename", f.as_str().into());
        }
        if let Some(i) = input {
            set("input", i);
        }
        // Only the limits given (the API's LimitOverrides: a field absent is the profile's).
        let mut limits = serde_json::to_value(&self.limits).unwrap_or_default();
        if let Some(map) = limits.as_object_mut() {
            map.retain(|_, v| !v.is_null());
            if !map.is_empty() {
                set("limits", limits);
            }
        }
        Ok(body)
    }

    fn request(self) -> RunRequest {
        RunRequest {
            id: None,
            profile: self.profile,
            language: self.language,
            interpreter: None,
            filename: self.filename,
            code: self.code,
            input: self.input,
            limits: self.limits,
        }
    }
}

pub fn main(args: RunArgs) -> anyhow::Result<i32> {
    let script = args.script.load()?;
    let (socket, explicit) = match (&args.socket, args.local || args.profiles_dir.is_some()) {
        (_, true) => return local(script, args.profiles_dir, args.json),
        (Some(s), false) => (s.clone(), true),
        (None, false) => (client::default_socket(), false),
    };
    if !explicit && !socket.exists() {
        return local(script, None, args.json);
    }
    let body = match script.api_body(false) {
        Ok(body) => body,
        Err((field, message)) => return Ok(refused_locally(field, &message, args.json)),
    };
    let outcome = Client::new(&socket)
        .and_then(|c| c.run_to_end(&body, &|id| eprintln!("jailctl: cancelling run {}", terminal::line(id))));
    match outcome {
        Ok(run) => Ok(match &run.report {
            Some(report) => {
                print_report(report, args.json)?;
                report.status.exit_code()
            }
            None => {
                eprintln!(
                    "jailctl: run {} ended {} without a report (jaild stopped while it ran)",
                    terminal::line(&run.id),
                    run.state
                );
                Status::InternalError.exit_code()
            }
        }),
        // A socket file with nobody behind it (jaild stopped): run in-process, as with none.
        Err(ClientError::NoDaemon { .. }) if !explicit => {
            eprintln!("jailctl: no jaild is listening on {}; running in-process", socket.display());
            local(script, None, args.json)
        }
        Err(e) => Ok(start_failure(&e, args.json)),
    }
}

fn local(script: Script, profiles_dir: Option<PathBuf>, json: bool) -> anyhow::Result<i32> {
    let mut config = Config::discover();
    if let Some(dir) = profiles_dir {
        config.profiles_dir = dir;
    }
    let supervisor = Supervisor::new(config).context("starting the supervisor")?;
    let report = supervisor.run(script.request());
    print_report(&report, json)?;
    Ok(report.status.exit_code())
}

pub fn print_report(report: &Report, json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(report)?);
    } else {
        print_summary(report);
    }
    Ok(())
}

/// A run that could not be handed to jaild: exit status 9 (rejected: never started) when jaild
/// refused the request itself (bad field, forbidden profile, unknown profile, too large), 10
/// when jaild could not take it (not reachable, queue full, shutting down, an error). With
/// --json, jaild's error body goes to stdout for scripts.
pub fn start_failure(e: &ClientError, json: bool) -> i32 {
    eprintln!("jailctl: {}", terminal::text(&chain(e)));
    match e {
        ClientError::Api(api) => {
            if json {
                println!("{}", serde_json::to_string_pretty(&api.body).unwrap_or_default());
            }
            let refused = api.status.is_client_error() && api.status != hyper::StatusCode::TOO_MANY_REQUESTS;
            if refused {
                Status::Rejected.exit_code()
            } else {
                Status::InternalError.exit_code()
            }
        }
        ClientError::Interrupted { .. } => 130,
        _ => Status::InternalError.exit_code(),
    }
}

/// A request jailctl cannot even put into the API's form, refused as jaild would (400, the
/// field named): exit 9, and with --json the same error body jaild would send.
pub fn refused_locally(field: &str, message: &str, json: bool) -> i32 {
    eprintln!("jailctl: {}", terminal::text(&format!("{field}: {message}")));
    if json {
        let body =
            serde_json::json!({"error": {"code": "invalid", "message": format!("{field}: {message}"), "field": field}});
        println!("{}", serde_json::to_string_pretty(&body).unwrap_or_default());
    }
    Status::Rejected.exit_code()
}

pub use jaild::error_chain as chain;

/// The first `max` bytes of `s` (at a character boundary), "…" when cut; trailing blank lines
/// and spaces dropped. Control characters are kept, for the escaping to show.
fn excerpt(s: &str, max: usize) -> Cow<'_, str> {
    let s = s.trim_end_matches([' ', '\t', '\n']);
    if s.len() <= max {
        return Cow::Borrowed(s);
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    Cow::Owned(format!("{}…", &s[..end]))
}

/// `label` and an escaped text of one or more lines, the lines after the first indented under
/// it (so that none can pass for a line of the summary).
fn print_labelled(label: &str, shown: &str) {
    let mut lines = shown.lines();
    println!("{label:<9}{}", lines.next().unwrap_or_default());
    for line in lines {
        println!("{:9}{line}", "");
    }
}

/// The report for people. Everything the script, the caller or jaild put in it is escaped
/// (terminal.rs): the script's output, error, result and violations, names and versions.
pub fn print_summary(r: &Report) {
    println!("status:  {}", r.status);
    if let Some(m) = &r.message {
        print_labelled("message:", &terminal::text(m));
    }
    if r.status == Status::Ok || !r.result.is_null() {
        println!("result:  {}", excerpt(&terminal::json(&r.result), 2000));
    }
    if let Some(e) = &r.error {
        print_labelled("error:", &format!("{}: {}", terminal::line(&e.kind), terminal::text(&e.message)));
        for line in terminal::text(&excerpt(&e.traceback, 2000)).lines() {
            println!("         {line}");
        }
    }
    for (name, text, truncated) in
        [("stdout", &r.stdout, r.stdout_truncated), ("stderr", &r.stderr, r.stderr_truncated)]
    {
        if !text.is_empty() {
            println!("{name}:{}", if truncated { " (truncated)" } else { "" });
            for line in terminal::text(&excerpt(text, 1000)).lines().take(20) {
                println!("  | {line}");
            }
        }
    }
    for v in &r.violations {
        let quiet = match v.level {
            DenialLevel::Quiet => " (expected by the profile)",
            DenialLevel::Report => " (reported; not a violation)",
            DenialLevel::Violation => "",
        };
        println!("denied:  {} {} x{}{quiet}", terminal::line(&v.kind), terminal::line(&v.detail), v.count);
    }
    let u = &r.usage;
    println!(
        "usage:   wall {} ms, cpu {} ms user + {} ms sys, memory peak {:.1} MiB, pids peak {}",
        u.wall_ms,
        u.cpu_user_ms,
        u.cpu_system_ms,
        u.memory_peak_bytes as f64 / (1 << 20) as f64,
        u.pids_peak.map(|p| p.to_string()).unwrap_or_else(|| "n/a".into())
    );
    if let Some(i) = &r.interpreter {
        println!(
            "jail:    {} {}, cgroup {}, landlock ABI {}",
            terminal::line(&i.name),
            terminal::line(&i.version),
            terminal::line(r.enforcement.cgroup.as_deref().unwrap_or("-")),
            r.enforcement.landlock_abi.unwrap_or(0)
        );
    }
    // On a kernel older than Landlock ABI 6: which rights another layer enforced instead.
    for c in &r.enforcement.landlock_covered {
        println!("covered: landlock {} (not in this kernel) by {}", terminal::line(&c.right), terminal::line(&c.by));
    }
}
