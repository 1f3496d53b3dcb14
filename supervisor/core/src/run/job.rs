//! The runner protocol: the seam between the supervisor and the trusted runner inside the jail
//! (supervisor/core/runners/python.py, node.cjs). One versioned message per direction, the same for
//! a one-shot run, a warm jail and a session:
//!
//! * fd 3, supervisor → runner: a [`Job`], one line of JSON (compact JSON holds no raw newline)
//!   ending in `\n`, so that a stream of jobs splits at newlines. A one-shot run then closes the
//!   pipe, and its runner reads until the end.
//! * fd 4, runner → supervisor: a [`RunnerResult`], one JSON document.
//!
//! `v` is [`PROTOCOL`]; a message of another version is refused. A result without `v` is read
//! as version 1 (what the script itself may write there is checked like the rest, see
//! [`record_runner_violations`]).

use super::denials::Denials;
use crate::report::ScriptError;
use serde::{Deserialize, Serialize};

/// The runner protocol's version.
pub const PROTOCOL: u32 = 1;

/// One job for the runner: what to run and with which language policy.
#[derive(Debug, Serialize)]
pub struct Job<'a> {
    pub v: u32,
    pub language: &'a str,
    pub filename: &'a str,
    pub code: &'a str,
    pub input: &'a serde_json::Value,
    pub policy: JobPolicy<'a>,
}

/// The language policy the runner applies (a layer inside the jail, not the boundary).
#[derive(Debug, Serialize)]
pub struct JobPolicy<'a> {
    pub blocked_modules: &'a [String],
    pub dynamic_code: bool,
}

impl Job<'_> {
    /// The job as it goes down the pipe: one line.
    pub fn encode(&self) -> Result<Vec<u8>, serde_json::Error> {
        let mut line = serde_json::to_vec(self)?;
        line.push(b'\n');
        Ok(line)
    }
}

fn protocol_v1() -> u32 {
    PROTOCOL
}

/// What the runner reports when the script is done.
#[derive(Debug, Deserialize)]
pub struct RunnerResult {
    #[serde(default = "protocol_v1")]
    pub v: u32,
    pub ok: bool,
    #[serde(default)]
    pub result: serde_json::Value,
    #[serde(default)]
    pub error: Option<ScriptError>,
    #[serde(default)]
    pub violations: Vec<RunnerViolation>,
}

#[derive(Debug, Deserialize)]
pub struct RunnerViolation {
    pub kind: String,
    pub detail: String,
}

impl RunnerResult {
    pub fn decode(bytes: &[u8]) -> Result<RunnerResult, String> {
        let r: RunnerResult = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
        if r.v != PROTOCOL {
            return Err(format!("runner protocol version {} (this supervisor speaks {PROTOCOL})", r.v));
        }
        Ok(r)
    }
}

/// What the runner may report: the language policy's refusals. A seccomp denial is attested by
/// the supervisor alone (it answered it); anything else in the result was not written by the
/// runner.
const RUNNER_VIOLATION_KINDS: [&str; 2] = ["blocked_module", "dynamic_code"];

/// The runners report at most this many entries (supervisor/core/runners: _MAX_VIOLATIONS,
/// MAX_VIOLATIONS), each detail at most this long once recorded.
const MAX_RUNNER_VIOLATIONS: usize = 100;
const MAX_RUNNER_DETAIL: usize = 200;

/// The kind of the supervisor's entry for a result the runner cannot have written.
pub const FORGED_RESULT: &str = "forged_result";

/// Records the runner's entries (deduplicated and capped with the supervisor's own). The
/// result fd is the script's to write, so the entries are checked: a kind the runner never
/// reports or more entries than it ever writes mean the result was forged; none of the result's
/// entries is then taken, and the returned text is what the supervisor records instead.
pub(super) fn record_runner_violations(entries: Vec<RunnerViolation>, into: &mut Denials) -> Option<String> {
    if entries.len() > MAX_RUNNER_VIOLATIONS {
        return Some(format!(
            "the result listed {} violations; the runner reports at most {MAX_RUNNER_VIOLATIONS}",
            entries.len()
        ));
    }
    if let Some(bad) = entries.iter().find(|v| !RUNNER_VIOLATION_KINDS.contains(&v.kind.as_str())) {
        let kind: String = bad.kind.chars().take(40).collect();
        return Some(format!(
            "the result listed a violation of kind {kind:?}; the runner reports only {}, and only the supervisor attests denied syscalls",
            RUNNER_VIOLATION_KINDS.join(" and ")
        ));
    }
    for v in entries {
        let mut detail: String = v.detail.chars().take(MAX_RUNNER_DETAIL).collect();
        if detail.len() < v.detail.len() {
            detail.push('…');
        }
        into.record_runner(&v.kind, detail);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(kind: &str, detail: &str) -> RunnerViolation {
        RunnerViolation { kind: kind.into(), detail: detail.into() }
    }

    #[test]
    fn runner_entries_are_checked_against_what_the_runner_writes() {
        let mut d = Denials::default();
        assert_eq!(
            record_runner_violations(vec![entry("blocked_module", "os"), entry("dynamic_code", "eval")], &mut d),
            None
        );
        assert_eq!((d.loud, d.answered), (0, 0), "runner entries are no denied syscalls");
        assert_eq!(d.into_vec().len(), 2);

        let mut d = Denials::default();
        let forged = record_runner_violations(vec![entry("blocked_module", "os"), entry("syscall", "ptrace")], &mut d);
        assert!(forged.is_some_and(|f| f.contains("\"syscall\"")));
        assert!(d.into_vec().is_empty(), "nothing of a forged result is taken");

        let mut d = Denials::default();
        let many = (0..101).map(|i| entry("blocked_module", &format!("m{i}"))).collect();
        assert!(record_runner_violations(many, &mut d).is_some_and(|f| f.contains("101")));
    }

    #[test]
    fn a_job_is_one_line_and_results_are_versioned() {
        let input = serde_json::json!({"a": "x\ny"});
        let job = Job {
            v: PROTOCOL,
            language: "python",
            filename: "s.py",
            code: "print(1)\nprint(2)\n",
            input: &input,
            policy: JobPolicy { blocked_modules: &[], dynamic_code: true },
        };
        let line = job.encode().unwrap_or_default();
        assert_eq!(line.iter().filter(|b| **b == b'\n').count(), 1);
        assert_eq!(line.last(), Some(&b'\n'));
        assert!(RunnerResult::decode(br#"{"v": 1, "ok": true, "result": 3}"#).is_ok_and(|r| r.ok && r.result == 3));
        assert!(RunnerResult::decode(br#"{"ok": true}"#).is_ok_and(|r| r.v == 1));
        assert!(RunnerResult::decode(br#"{"v": 2, "ok": true}"#).is_err_and(|e| e.contains("version 2")));
    }
}
