//! jailctl: the command-line client. `jailctl run` runs a script in a jail, through jaild when
//! its socket is there and in-process otherwise; the other run commands talk to jaild.
#![deny(unsafe_code)]

mod client;
mod interpreters;
mod profile;
mod run;
mod runs;
mod terminal;

use clap::{Parser, Subcommand};
use jaild::report::Status;

#[derive(Parser)]
#[command(
    name = "jailctl",
    version,
    about = "Run untrusted Python, JavaScript and TypeScript in a kernel jail",
    after_help = TERMINAL_OUTPUT
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

const TERMINAL_OUTPUT: &str = "\
Text output shows the control characters a script or a caller put in its output, errors and
names escaped: \\x1b for ESC, \\x0d for a carriage return, \\u{9b} for C1 CSI, \\u{202e} for a
bidi override (a backslash is doubled where it would read as one of these). A script cannot
write the clipboard, move the cursor, retitle the window or hide lines on this terminal. --json
is exact: the API's JSON as it is.";

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
  8   security_violation  the script made a syscall its profile counts as a violation and
                          ended by itself (denials at level report or quiet are listed only),
                          or the jail stopped it for its integrity (a forged result, a denial
                          flood, another ABI's syscall); a run a limit ended has that status,
                          its denials still listed
  9   rejected            never started: bad input, too large, unknown profile
  10  internal_error      the jail could not be set up (the message says what), or jaild
                          could not take the run (not reachable, queue full, shutting down)
  11  cancelled           stopped on request (through the daemon; Ctrl-C cancels a run in jaild)
Through jaild, a request it refuses (a bad field, a profile not allowed) is 9 as well.";

#[derive(Subcommand)]
enum Command {
    /// Run one script in a fresh jail and print its report: through jaild when its socket is
    /// there, in-process otherwise.
    #[command(after_help = RUN_EXIT_CODES)]
    Run(run::RunArgs),
    /// Queue a script in jaild and print its run id, without waiting.
    #[command(after_help = runs::SUBMIT_EXIT_CODES)]
    Submit(runs::SubmitArgs),
    /// Show a run's state, and its report once it has one.
    #[command(after_help = runs::COMMAND_EXIT_CODES)]
    Status(runs::IdArgs),
    /// Wait for a run to end and print its report.
    #[command(after_help = runs::WAIT_EXIT_CODES)]
    Wait(runs::WaitArgs),
    /// Cancel a run: taken off the queue, or its jail killed.
    #[command(after_help = runs::COMMAND_EXIT_CODES)]
    Cancel(runs::IdArgs),
    /// A run's stdout and stderr (-f: as they come), then its exit status. Control characters
    /// are shown escaped; --json gives jaild's events exact.
    #[command(after_help = runs::WAIT_EXIT_CODES)]
    Logs(runs::LogsArgs),
    /// The runs jaild has recorded, newest first.
    #[command(after_help = runs::COMMAND_EXIT_CODES)]
    History(runs::HistoryArgs),
    /// Whether jaild is serving, and its load.
    #[command(after_help = runs::COMMAND_EXIT_CODES)]
    Health(runs::DaemonArgs),
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
    // jailctl's one unsafe block (the crate denies the rest): restoring a default signal
    // disposition has no safe wrapper.
    // SAFETY: called first thing in main, before any thread exists; SIG_DFL is a valid handler.
    #[allow(unsafe_code)]
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL)
    };
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_env("JAILD_LOG").unwrap_or_else(|_| "warn".into()))
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let code = match cli.command {
        Command::Run(args) => run::main(args),
        Command::Submit(args) => runs::submit(args),
        Command::Status(args) => runs::status(args),
        Command::Wait(args) => runs::wait(args),
        Command::Cancel(args) => runs::cancel(args),
        Command::Logs(args) => runs::logs(args),
        Command::History(args) => runs::history(args),
        Command::Health(args) => runs::health(args),
        Command::Profile(cmd) => profile::main(cmd),
        Command::Interpreters(cmd) => interpreters::main(cmd),
    };
    let code = match code {
        Ok(code) => code,
        Err(e) => {
            // The chain can hold what a caller or jaild put in it (file names, values).
            eprintln!("jailctl: {}", terminal::text(&format!("{e:#}")));
            if e.downcast_ref::<UsageError>().is_some() {
                2
            } else {
                Status::InternalError.exit_code()
            }
        }
    };
    std::process::exit(code);
}
