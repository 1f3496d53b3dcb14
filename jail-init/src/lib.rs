//! The contract between the supervisor and jail-init.
//!
//! The supervisor resolves a profile and an interpreter into one [`plan::Plan`]: every mount,
//! rlimit, Landlock rule and the compiled seccomp program. jail-init reads it from an inherited
//! fd and carries it out step by step; it decides nothing on its own. What jail-init says back
//! travels as [`protocol::Record`]s over a `SOCK_SEQPACKET` socket.
#![forbid(unsafe_code)]

pub mod plan;
pub mod protocol;

/// The kernel's `struct sigaction` (x86_64 and aarch64), which the raw `rt_sigaction` system
/// call takes (glibc's differs). Both sides of an exec into the jail reset every signal to its
/// default with it: the supervisor's clone child before jail-init, jail-init before the script.
#[repr(C)]
pub struct KernelSigaction {
    pub handler: usize,
    pub flags: u64,
    pub restorer: usize,
    pub mask: u64,
}

impl KernelSigaction {
    /// SIG_DFL: no handler, no flags, no mask (SIG_DFL needs no restorer).
    pub const DEFAULT: KernelSigaction = KernelSigaction { handler: 0, flags: 0, restorer: 0, mask: 0 };
}

/// File descriptors jail-init is started with (set up by the supervisor before exec).
pub mod fds {
    /// stdin of the script.
    pub const STDIN: i32 = 0;
    /// stdout pipe to the supervisor.
    pub const STDOUT: i32 = 1;
    /// stderr pipe to the supervisor.
    pub const STDERR: i32 = 2;
    /// memfd holding the serialized [`crate::plan::Plan`].
    pub const PLAN: i32 = 3;
    /// `SOCK_SEQPACKET` control socket: the go signal in, [`crate::protocol::Record`]s out.
    pub const CONTROL: i32 = 4;
    /// The job pipe's read end: the supervisor writes the runner's job (code and input, the
    /// runner protocol) into it once the jail is ready.
    pub const JOB: i32 = 5;
    /// pipe the runner writes its structured result to.
    pub const RESULT: i32 = 6;
    /// The run's cgroup files (v1 `tasks` per hierarchy, v2 `cgroup.procs`), opened by the
    /// supervisor, from this number up; `Plan::cgroup_fds` says how many.
    pub const CGROUP_FIRST: i32 = 7;

    /// Where the runner finds the job inside the jail.
    pub const RUNNER_JOB: i32 = 3;
    /// Where the runner writes its result inside the jail.
    pub const RUNNER_RESULT: i32 = 4;
}
