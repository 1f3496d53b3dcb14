//! `jailctl run`: one script in a fresh jail, in-process.

use crate::usage;
use anyhow::Context;
use jaild::profile::{ByteSize, Language};
use jaild::report::{Report, Status};
use jaild::{Config, LimitOverrides, RunRequest, Supervisor};
use std::io::Read;
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct RunArgs {
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
    /// Print the full report as JSON.
    #[arg(long)]
    json: bool,
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
    /// Directory of profiles (default: the source tree's profiles/ or /etc/jaild/profiles).
    #[arg(long)]
    profiles_dir: Option<PathBuf>,
}

pub fn main(args: RunArgs) -> anyhow::Result<i32> {
    let language = match &args.lang {
        Some(l) => Some(Language::parse(l).ok_or_else(|| usage(format!("--lang {l:?}: use python, javascript or typescript")))?),
        None if args.file.as_os_str() == "-" => None,
        None => Language::from_extension(&args.file),
    };
    if language.is_none() && args.profile.is_none() {
        return Err(usage(format!("cannot tell the language of {}: give --lang or --profile", args.file.display())));
    }
    let code = if args.file.as_os_str() == "-" {
        let mut buf = Vec::new();
        std::io::stdin().read_to_end(&mut buf).map_err(|e| usage(format!("reading the script from stdin: {e}")))?;
        buf
    } else {
        std::fs::read(&args.file).map_err(|e| usage(format!("reading {}: {e}", args.file.display())))?
    };
    let input = match &args.input {
        Some(s) if s.starts_with('@') => {
            Some(std::fs::read_to_string(&s[1..]).map_err(|e| usage(format!("--input: reading {}: {e}", &s[1..])))?)
        }
        Some(s) => Some(s.clone()),
        None => None,
    };
    let memory = match &args.memory {
        Some(m) => Some(ByteSize::parse(m).map_err(|e| usage(format!("--memory: {e}")))?),
        None => None,
    };
    let filename = (args.file.as_os_str() != "-").then(|| args.file.file_name().map(|f| f.to_string_lossy().into_owned())).flatten();

    let mut config = Config::discover();
    if let Some(dir) = args.profiles_dir {
        config.profiles_dir = dir;
    }
    let supervisor = Supervisor::new(config).context("starting the supervisor")?;
    let report = supervisor.run(RunRequest {
        id: None,
        profile: args.profile,
        language,
        filename,
        code,
        input,
        limits: LimitOverrides {
            wall_time_ms: args.wall_time_ms,
            cpu_time_ms: args.cpu_time_ms,
            memory,
            pids: args.pids,
            ..Default::default()
        },
    });
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_summary(&report);
    }
    Ok(report.status.exit_code())
}

fn excerpt(s: &str, max: usize) -> String {
    let s = s.trim_end();
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

fn print_summary(r: &Report) {
    println!("status:  {}", r.status);
    if let Some(m) = &r.message {
        println!("message: {m}");
    }
    if r.status == Status::Ok || !r.result.is_null() {
        println!("result:  {}", excerpt(&r.result.to_string(), 2000));
    }
    if let Some(e) = &r.error {
        println!("error:   {}: {}", e.kind, e.message);
        for line in excerpt(&e.traceback, 2000).lines() {
            println!("         {line}");
        }
    }
    for (name, text, truncated) in [("stdout", &r.stdout, r.stdout_truncated), ("stderr", &r.stderr, r.stderr_truncated)] {
        if !text.is_empty() {
            println!("{name}:{}", if truncated { " (truncated)" } else { "" });
            for line in excerpt(text, 1000).lines().take(20) {
                println!("  | {line}");
            }
        }
    }
    for v in &r.violations {
        println!("denied:  {} {} x{}{}", v.kind, v.detail, v.count, if v.quiet { " (expected by the profile)" } else { "" });
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
        println!("jail:    {} {}, cgroup {}, landlock ABI {}", i.name, i.version, r.enforcement.cgroup.as_deref().unwrap_or("-"), r.enforcement.landlock_abi.unwrap_or(0));
    }
}
