//! jailctl: the command-line client. `jailctl run` runs a script in a jail in-process.

mod interpreters;
mod profile;
mod run;

use clap::{Parser, Subcommand};
use jaild::report::Status;

#[derive(Parser)]
#[command(name = "jailctl", version, about = "Run untrusted Python, JavaScript and TypeScript in a kernel jail")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

const RUN_EXIT_CODES: &str = "\
Exit status:
  0   ok                  the script finished and returned a result
  1   runtime_error       the script raised or exited non-zero
  2   usage error         jailctl itself was called wrongly
  3   timeout             wall time limit reached
  4   cpu_limit           CPU time limit reached
  5   memory_limit        memory limit reached (the kernel's OOM killer)
  6   pids_limit          process/thread limit reached
  7   output_limit        stdout, stderr or result over its limit
  8   security_violation  the script made a syscall its profile denies
  9   rejected            never started: bad input, too large, unknown profile
  10  internal_error      the jail could not be set up (the message says what)
  11  cancelled           stopped on request (through the daemon)";

#[derive(Subcommand)]
enum Command {
    /// Run one script in a fresh jail and print its report.
    #[command(after_help = RUN_EXIT_CODES)]
    Run(run::RunArgs),
    /// List, show, explain, diff, lint and verify profiles.
    #[command(subcommand)]
    Profile(profile::ProfileCmd),
    /// List, verify and pin the interpreters.
    #[command(subcommand)]
    Interpreters(interpreters::InterpretersCmd),
}

/// A mistake in how jailctl was called (exit status 2), as opposed to a failure to run.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct UsageError(String);

pub(crate) fn usage(message: impl Into<String>) -> anyhow::Error {
    UsageError(message.into()).into()
}

fn main() {
    // Printing to a closed pipe (`jailctl run x.py | head -1`) ends jailctl quietly, as for
    // any Unix tool, instead of a panic.
    // SAFETY: called first thing in main, before any thread exists; SIG_DFL is a valid handler.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_env("JAILD_LOG").unwrap_or_else(|_| "warn".into()))
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let code = match cli.command {
        Command::Run(args) => run::main(args),
        Command::Profile(cmd) => profile::main(cmd),
        Command::Interpreters(cmd) => interpreters::main(cmd),
    };
    let code = match code {
        Ok(code) => code,
        Err(e) => {
            eprintln!("jailctl: {e:#}");
            if e.downcast_ref::<UsageError>().is_some() {
                2
            } else {
                Status::InternalError.exit_code()
            }
        }
    };
    std::process::exit(code);
}

