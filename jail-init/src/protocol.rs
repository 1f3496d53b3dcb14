//! Records jail-init sends to the supervisor over the control socket (one datagram each).
//!
//! jail-init reports, it does not log: after a failed step it sends [`Record::Failed`] naming
//! the step and the errno and exits. The supervisor sends one byte, [`GO`], once the uid/gid
//! maps and the cgroup membership are in place.

use serde::{Deserialize, Serialize};

/// The byte the supervisor writes when jail-init may proceed.
pub const GO: u8 = b'G';

/// Largest record jail-init sends; the supervisor's receive buffer is this big.
pub const MAX_RECORD: usize = 4096;

/// Exit status of jail-init when a setup step failed (the record says which).
pub const EXIT_SETUP_FAILED: i32 = 125;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Record {
    /// A setup step failed; the jail never ran the script.
    Failed { step: String, errno: i32, detail: String },
    /// The seccomp user-notification listener, attached as SCM_RIGHTS.
    Listener,
    /// The script's main process ended; jail-init exits next, which kills the rest of the jail.
    Exited { code: Option<i32>, signal: Option<i32> },
}

impl Record {
    pub fn encode(&self) -> Vec<u8> {
        // Serializing a plain enum of strings and integers cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }

    pub fn decode(bytes: &[u8]) -> Option<Record> {
        serde_json::from_slice(bytes).ok()
    }
}
