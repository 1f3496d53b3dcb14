//! How a caller follows and steers a run while it goes on.

use std::sync::atomic::AtomicBool;

/// Which output stream a chunk came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Stream {
    Stdout,
    Stderr,
}

/// Receives output chunks as they arrive.
pub type OutputHook<'a> = dyn Fn(Stream, &[u8]) + Sync + 'a;

/// How a caller follows and steers a run in progress (the daemon's cancel and event stream).
#[derive(Default)]
pub struct RunHooks<'a> {
    /// Once true, the jail is killed (within the watch loop's 50 ms tick) and the run reported
    /// as cancelled.
    pub cancel: Option<&'a AtomicBool>,
    /// The script's output as it arrives, only what fits in the caps (the report keeps the
    /// same bytes).
    pub output: Option<&'a OutputHook<'a>>,
    /// Called once the jail has been told to start the script.
    pub started: Option<&'a (dyn Fn() + Sync)>,
}
