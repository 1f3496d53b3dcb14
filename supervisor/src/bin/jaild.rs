//! jaild: the daemon. Runs scripts in jails for the processes that call it over its Unix
//! socket. Everything but argument parsing and logging is in `jaild::daemon`.

use clap::Parser;
use jaild::daemon::config::{self, DaemonConfig};
use std::io::IsTerminal;
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "jaild",
    version,
    about = "The jaild daemon: runs untrusted scripts in kernel jails for callers on its Unix socket"
)]
struct Args {
    /// Listen here (overrides the config's `socket`; ignored under socket activation).
    #[arg(long)]
    socket: Option<PathBuf>,
    /// Config file (TOML). Default: /etc/jaild/jaild.toml if it exists, else built-in defaults.
    #[arg(long)]
    config: Option<PathBuf>,
}

fn main() -> std::process::ExitCode {
    // Logs go to stderr: plain `key=value` lines without colours when stderr is not a
    // terminal, and without timestamps under journald, which adds its own.
    let journald = std::env::var_os("JOURNAL_STREAM").is_some();
    let builder = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_env("JAILD_LOG").unwrap_or_else(|_| "info".into()))
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    if journald {
        builder.without_time().init();
    } else {
        builder.init();
    }

    let args = Args::parse();
    let path = args.config.clone().or_else(|| {
        let default = PathBuf::from(config::DEFAULT_PATH);
        default.is_file().then_some(default)
    });
    let mut config = match &path {
        Some(p) => match DaemonConfig::load(p) {
            Ok(c) => c,
            Err(e) => return fail(&e),
        },
        None => DaemonConfig::default(),
    };
    if let Some(socket) = args.socket {
        config.socket = socket;
    }
    tracing::info!(config = ?path, socket = %config.socket.display(), "starting");
    match jaild::daemon::serve(config) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => fail(&e),
    }
}

fn fail(e: &dyn std::error::Error) -> std::process::ExitCode {
    let mut message = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        message.push_str(": ");
        message.push_str(&s.to_string());
        source = s.source();
    }
    tracing::error!(error = %message, "jaild cannot run");
    eprintln!("jaild: {message}");
    std::process::ExitCode::FAILURE
}
