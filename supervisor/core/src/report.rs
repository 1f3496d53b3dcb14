//! The report every run gets, whatever happened, and the verdict that picks its status.

use crate::seccomp::DenialLevel;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Ok,
    RuntimeError,
    Timeout,
    CpuLimit,
    MemoryLimit,
    PidsLimit,
    OutputLimit,
    SecurityViolation,
    Rejected,
    InternalError,
    /// Stopped on request (the API's cancel), the jail killed.
    Cancelled,
}

impl Status {
    /// `jailctl run`'s exit code for this status (2 is left to usage errors).
    pub fn exit_code(self) -> i32 {
        match self {
            Status::Ok => 0,
            Status::RuntimeError => 1,
            Status::Timeout => 3,
            Status::CpuLimit => 4,
            Status::MemoryLimit => 5,
            Status::PidsLimit => 6,
            Status::OutputLimit => 7,
            Status::SecurityViolation => 8,
            Status::Rejected => 9,
            Status::InternalError => 10,
            Status::Cancelled => 11,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::RuntimeError => "runtime_error",
            Status::Timeout => "timeout",
            Status::CpuLimit => "cpu_limit",
            Status::MemoryLimit => "memory_limit",
            Status::PidsLimit => "pids_limit",
            Status::OutputLimit => "output_limit",
            Status::SecurityViolation => "security_violation",
            Status::Rejected => "rejected",
            Status::InternalError => "internal_error",
            Status::Cancelled => "cancelled",
        }
    }

    pub const ALL: [Status; 11] = [
        Status::Ok,
        Status::RuntimeError,
        Status::Timeout,
        Status::CpuLimit,
        Status::MemoryLimit,
        Status::PidsLimit,
        Status::OutputLimit,
        Status::SecurityViolation,
        Status::Rejected,
        Status::InternalError,
        Status::Cancelled,
    ];
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An exception the script raised, as the runner reported it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScriptError {
    #[serde(rename = "type")]
    pub kind: String,
    pub message: String,
    pub traceback: String,
}

/// Something the jail refused. `kind` is `syscall` for seccomp denials (detail: the syscall's
/// name, with the argument that decided it where there is one), `blocked_module` and
/// `dynamic_code` for the language policy layer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Violation {
    pub kind: String,
    pub detail: String,
    pub count: u64,
    /// Denied as the profile expects (a routine probe): reported, but not a security violation.
    pub quiet: bool,
    /// What the denial means for the run, as the policy says (`on_denial`): `quiet` (a routine
    /// probe), `report` (listed; the status is what ended the run) or `violation` (a run that
    /// ends by itself is a security_violation). The language policy's refusals are `report`.
    #[serde(default)]
    pub level: DenialLevel,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    /// From the job's handover to its report (a warm jail's start-up is not in it).
    pub wall_ms: u64,
    /// Making the jail until its runner waited for the job: on the request's path for a cold
    /// start, before the request for a warm one.
    #[serde(default)]
    pub startup_ms: u64,
    pub cpu_user_ms: u64,
    pub cpu_system_ms: u64,
    pub memory_peak_bytes: u64,
    pub pids_peak: Option<u64>,
    pub oom_kills: u64,
    pub stdout_bytes: u64,
    pub stderr_bytes: u64,
    pub result_bytes: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProfileInfo {
    pub name: String,
    /// sha256 of the profile file and of its seccomp policy file.
    pub sha256: String,
    pub seccomp_sha256: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InterpreterInfo {
    pub name: String,
    pub version: String,
    pub sha256: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Enforcement {
    /// "v1" or "v2".
    pub cgroup: Option<String>,
    /// The Landlock ABI of the running kernel that enforced the run.
    pub landlock_abi: Option<u32>,
    /// The filesystem rights the Landlock ruleset handled (denied unless granted).
    pub landlock_rights: Vec<String>,
    pub landlock_scopes: Vec<String>,
    /// The network rights the Landlock ruleset handled ("bind_tcp", "connect_tcp").
    #[serde(default)]
    pub landlock_net: Vec<String>,
    /// Landlock rights this kernel does not have, each with the layer of the jail that enforced
    /// the same rule instead (profiles/README.md, "Older kernels"). Empty on a kernel with
    /// Landlock ABI 6 or newer.
    #[serde(default)]
    pub landlock_covered: Vec<CoveredRight>,
    /// "allowlist" with denials answered through user notification.
    pub seccomp: Option<String>,
    /// What kept the host's huge page pool (hugetlb, not charged to the memory limit) out of
    /// the script's reach: the run cgroup's hugetlb limit of 0 where the host has the
    /// controller, and the seccomp policy's refusal of MAP_HUGETLB, MFD_HUGETLB and SHM_HUGETLB.
    /// A run with neither is refused.
    #[serde(default)]
    pub hugetlb: Option<String>,
    pub namespaces: Vec<String>,
}

/// A Landlock right the running kernel does not have, and the layer of the jail that enforces
/// the same rule without it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CoveredRight {
    /// The Landlock right, as in `landlock_rights` ("truncate", "ioctl_dev", "scope_signal"...).
    pub right: String,
    /// What enforces it instead.
    pub by: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub id: String,
    pub status: Status,
    /// Why the status is what it is, in words (the field a rejection names, the setup step that failed, the limit hit).
    pub message: Option<String>,
    pub exit_code: Option<i32>,
    pub signal: Option<i32>,
    pub result: serde_json::Value,
    pub error: Option<ScriptError>,
    pub stdout: String,
    pub stderr: String,
    pub stdout_truncated: bool,
    pub stderr_truncated: bool,
    pub violations: Vec<Violation>,
    /// How the jail was made: `cold` on the request's path, `warm` ahead of it.
    #[serde(default)]
    pub start: Start,
    pub usage: Usage,
    pub profile: Option<ProfileInfo>,
    pub interpreter: Option<InterpreterInfo>,
    pub enforcement: Enforcement,
    pub started_at: String,
    pub finished_at: String,
}

/// How a run's jail was made.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Start {
    /// Made for the request, on its path.
    #[default]
    Cold,
    /// Made ahead, its runner already waiting for a job.
    Warm,
}

/// The current time as RFC 3339 (UTC), as reports carry it.
pub fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc().format(&time::format_description::well_known::Rfc3339).unwrap_or_default()
}

impl Report {
    /// A report with nothing in it yet but the run's id, a status and a message: the start of
    /// every run's report, and the whole report of one that never started.
    pub fn new(id: String, status: Status, message: Option<String>) -> Report {
        let now = now_rfc3339();
        Report {
            id,
            status,
            message,
            exit_code: None,
            signal: None,
            result: serde_json::Value::Null,
            error: None,
            stdout: String::new(),
            stderr: String::new(),
            stdout_truncated: false,
            stderr_truncated: false,
            violations: Vec::new(),
            start: Start::Cold,
            usage: Usage::default(),
            profile: None,
            interpreter: None,
            enforcement: Enforcement {
                cgroup: None,
                landlock_abi: None,
                landlock_rights: Vec::new(),
                landlock_scopes: Vec::new(),
                landlock_net: Vec::new(),
                landlock_covered: Vec::new(),
                seccomp: None,
                hugetlb: None,
                namespaces: Vec::new(),
            },
            started_at: now.clone(),
            finished_at: now,
        }
    }
}

/// Why the supervisor stopped a run before it ended by itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    Cancelled,
    /// Too many denied syscalls (the verdict is security_violation).
    DenialFlood,
    /// A process made a syscall of another ABI (i386, x32): stopped at once, the call
    /// unanswered (the verdict is security_violation).
    ForeignAbi,
    Timeout,
    CpuLimit,
    PidsLimit,
    OutputLimit,
}

/// Everything the verdict is decided from: evidence, never guesses.
#[derive(Debug, Clone, Default)]
pub struct Evidence {
    /// A setup step failed inside the jail before the script ran.
    pub setup_failure: Option<String>,
    pub stopped: Option<Stop>,
    pub oom_kills: u64,
    pub pids_limit_hits: u64,
    pub cpu_used_ns: u64,
    pub cpu_limit_ns: u64,
    pub loud_violations: u64,
    /// The runner's result holds what the runner never writes (run::record_runner_violations):
    /// the script wrote it.
    pub forged_result: Option<String>,
    /// The runner's verdict on the script: Some(true) returned, Some(false) raised.
    pub runner_ok: Option<bool>,
    pub exit_code: Option<i32>,
    pub signal: Option<i32>,
}

/// Picks the status: what ended the run. Order: a jail that never started is an internal error;
/// a run stopped on request is cancelled, whatever it was doing; a run the jail's integrity
/// stopped (a forged result, a flood of denials, another ABI's syscall) is a security violation;
/// then what ended it: the kernel's resource evidence (the OOM killer), then the supervisor's
/// own stops (output, processes, CPU, wall time); a run that ended by itself after a denied
/// syscall at level `violation` is a security violation (the policy's `on_denial` says which
/// denials are routine probes, `quiet`, and which a script may meet and handle, `report`); then
/// how the script ended. A run a limit ended keeps its denials in `violations`, and its message
/// names them.
pub fn verdict(e: &Evidence) -> Status {
    if e.setup_failure.is_some() {
        return Status::InternalError;
    }
    if e.stopped == Some(Stop::Cancelled) {
        return Status::Cancelled;
    }
    if e.forged_result.is_some() || e.stopped == Some(Stop::DenialFlood) || e.stopped == Some(Stop::ForeignAbi) {
        return Status::SecurityViolation;
    }
    if e.oom_kills > 0 {
        return Status::MemoryLimit;
    }
    if e.stopped == Some(Stop::OutputLimit) {
        return Status::OutputLimit;
    }
    if e.stopped == Some(Stop::PidsLimit) {
        return Status::PidsLimit;
    }
    if e.stopped == Some(Stop::CpuLimit)
        || (e.cpu_limit_ns > 0 && e.cpu_used_ns >= e.cpu_limit_ns)
        || e.signal == Some(libc::SIGXCPU)
    {
        return Status::CpuLimit;
    }
    if e.stopped == Some(Stop::Timeout) {
        return Status::Timeout;
    }
    if e.loud_violations > 0 {
        return Status::SecurityViolation;
    }
    if e.pids_limit_hits > 0 && e.runner_ok != Some(true) {
        // The script failed after the kernel refused it a process.
        return Status::PidsLimit;
    }
    match (e.runner_ok, e.exit_code) {
        (Some(true), Some(0)) => Status::Ok,
        _ => Status::RuntimeError,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok() -> Evidence {
        Evidence { runner_ok: Some(true), exit_code: Some(0), ..Default::default() }
    }

    #[test]
    fn a_forged_result_or_a_denial_flood_is_a_security_violation() {
        assert_eq!(verdict(&Evidence { forged_result: Some("x".into()), ..ok() }), Status::SecurityViolation);
        assert_eq!(verdict(&Evidence { stopped: Some(Stop::DenialFlood), ..ok() }), Status::SecurityViolation);
        assert_eq!(verdict(&ok()), Status::Ok);
    }

    #[test]
    fn clean_run_is_ok() {
        assert_eq!(verdict(&ok()), Status::Ok);
    }

    #[test]
    fn raised_is_runtime_error() {
        let e = Evidence { runner_ok: Some(false), exit_code: Some(1), ..Default::default() };
        assert_eq!(verdict(&e), Status::RuntimeError);
    }

    #[test]
    fn killed_without_evidence_is_runtime_error_not_memory() {
        let e = Evidence { signal: Some(libc::SIGKILL), ..Default::default() };
        assert_eq!(verdict(&e), Status::RuntimeError);
    }

    #[test]
    fn oom_evidence_is_memory_limit() {
        let e = Evidence { oom_kills: 1, signal: Some(libc::SIGKILL), ..Default::default() };
        assert_eq!(verdict(&e), Status::MemoryLimit);
    }

    #[test]
    fn violation_outranks_result() {
        let e = Evidence { loud_violations: 1, ..ok() };
        assert_eq!(verdict(&e), Status::SecurityViolation);
        let raised = Evidence { loud_violations: 1, runner_ok: Some(false), exit_code: Some(1), ..Default::default() };
        assert_eq!(verdict(&raised), Status::SecurityViolation);
    }

    #[test]
    fn what_ended_the_run_outranks_a_denial_before_it() {
        let killed = |stop| Evidence {
            loud_violations: 3,
            stopped: Some(stop),
            signal: Some(libc::SIGKILL),
            ..Default::default()
        };
        assert_eq!(verdict(&killed(Stop::Timeout)), Status::Timeout);
        assert_eq!(verdict(&killed(Stop::CpuLimit)), Status::CpuLimit);
        assert_eq!(verdict(&killed(Stop::PidsLimit)), Status::PidsLimit);
        assert_eq!(verdict(&killed(Stop::OutputLimit)), Status::OutputLimit);
        let oom = Evidence { loud_violations: 1, oom_kills: 1, signal: Some(libc::SIGKILL), ..Default::default() };
        assert_eq!(verdict(&oom), Status::MemoryLimit);
        // The jail's own integrity stops stay security violations, limits or not.
        let flood = Evidence { stopped: Some(Stop::DenialFlood), oom_kills: 1, ..Default::default() };
        assert_eq!(verdict(&flood), Status::SecurityViolation);
        let forged = Evidence { forged_result: Some("x".into()), stopped: Some(Stop::Timeout), ..Default::default() };
        assert_eq!(verdict(&forged), Status::SecurityViolation);
    }

    #[test]
    fn a_foreign_abi_stop_is_a_security_violation() {
        let e = Evidence { stopped: Some(Stop::ForeignAbi), signal: Some(libc::SIGKILL), ..Default::default() };
        assert_eq!(verdict(&e), Status::SecurityViolation);
        let cancelled = Evidence { stopped: Some(Stop::Cancelled), ..Default::default() };
        assert_eq!(verdict(&cancelled), Status::Cancelled);
    }

    #[test]
    fn stops_map_to_their_status() {
        for (stop, status) in [
            (Stop::Timeout, Status::Timeout),
            (Stop::CpuLimit, Status::CpuLimit),
            (Stop::PidsLimit, Status::PidsLimit),
            (Stop::OutputLimit, Status::OutputLimit),
        ] {
            let e = Evidence { stopped: Some(stop), signal: Some(libc::SIGKILL), ..Default::default() };
            assert_eq!(verdict(&e), status);
        }
    }

    #[test]
    fn cpu_used_past_limit_is_cpu_limit_even_when_timed_out() {
        let e =
            Evidence { stopped: Some(Stop::Timeout), cpu_used_ns: 2_000, cpu_limit_ns: 1_000, ..Default::default() };
        assert_eq!(verdict(&e), Status::CpuLimit);
    }

    #[test]
    fn setup_failure_is_internal_error() {
        let e = Evidence { setup_failure: Some("mount".into()), ..ok() };
        assert_eq!(verdict(&e), Status::InternalError);
    }

    #[test]
    fn exit_codes_are_distinct() {
        let mut codes: Vec<i32> = Status::ALL.iter().map(|s| s.exit_code()).collect();
        codes.sort();
        codes.dedup();
        assert_eq!(codes.len(), Status::ALL.len());
        assert!(!codes.contains(&2));
    }
}
