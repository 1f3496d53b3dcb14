//! The report of a run, assembled once from the evidence: what watching the jail saw, the
//! cgroup's usage, the runner's result (checked), and the verdict taken from them.

use super::denials::Denials;
use super::jail::Outcome;
use super::job::{record_runner_violations, RunnerResult, FORGED_RESULT};
use crate::profile::Limits;
use crate::report::{verdict, Evidence, Report, ScriptError, Status, Stop, Usage};
use crate::seccomp::DenialLevel;

/// Fills `report` from a finished jail's outcome.
pub(super) fn report(report: &mut Report, outcome: Outcome) {
    let Outcome { watched: watch, usage, enforcement, limits, cpu_baseline_ns, startup_ms, job_ms, start } = outcome;
    report.enforcement = enforcement;
    report.start = start;
    let usage = match usage {
        Ok(mut u) => {
            // The job's CPU only: what the cgroup used before its clock started was the
            // interpreter's start (a warm jail's, or a cold one's before its ready line).
            let full = u.cpu_total_ns;
            u.cpu_total_ns = full.saturating_sub(cpu_baseline_ns);
            if full > 0 && cpu_baseline_ns > 0 {
                // The sampled user/system split, scaled onto the job's share.
                let scale = |v: u64| ((u128::from(v) * u128::from(u.cpu_total_ns)) / u128::from(full)) as u64;
                u.cpu_user_ns = scale(u.cpu_user_ns);
                u.cpu_system_ns = scale(u.cpu_system_ns);
            }
            u
        }
        Err(message) => {
            report.status = Status::InternalError;
            report.message = Some(message);
            return;
        }
    };
    let mut evidence = Evidence {
        setup_failure: watch.setup_failure.clone(),
        stopped: watch.stopped,
        oom_kills: usage.oom_kills,
        pids_limit_hits: usage.pids_limit_hits,
        cpu_used_ns: usage.cpu_total_ns,
        cpu_limit_ns: limits.cpu_time_ms * 1_000_000,
        loud_violations: watch.denials.loud,
        forged_result: None,
        runner_ok: None,
        exit_code: watch.exit_code,
        signal: watch.signal,
    };
    if watch.exit_code.is_none() && watch.signal.is_none() && watch.setup_failure.is_none() && watch.stopped.is_none() {
        // jail-init died without reporting (killed from outside, or it crashed).
        evidence.setup_failure = Some("jail-init ended without a report".to_string());
    }

    report.stdout = String::from_utf8_lossy(&watch.stdout.data).into_owned();
    report.stderr = String::from_utf8_lossy(&watch.stderr.data).into_owned();
    report.stdout_truncated = watch.stdout.truncated;
    report.stderr_truncated = watch.stderr.truncated;
    report.exit_code = watch.exit_code;
    report.signal = watch.signal;
    let (cpu_user_ms, cpu_system_ms) = split_cpu_ms(usage.cpu_user_ns, usage.cpu_system_ns, usage.cpu_total_ns);
    report.usage = Usage {
        wall_ms: job_ms,
        startup_ms,
        cpu_user_ms,
        cpu_system_ms,
        memory_peak_bytes: usage.memory_peak_bytes,
        pids_peak: usage.pids_peak,
        oom_kills: usage.oom_kills,
        stdout_bytes: watch.stdout.total,
        stderr_bytes: watch.stderr.total,
        result_bytes: watch.result.total,
    };
    let mut violations: Denials = watch.denials;
    if !watch.result.truncated && !watch.result.data.is_empty() {
        match RunnerResult::decode(&watch.result.data) {
            Ok(r) => {
                evidence.runner_ok = Some(r.ok);
                report.result = r.result;
                report.error = r.error;
                if let Some(forged) = record_runner_violations(r.violations, &mut violations) {
                    violations.merge(FORGED_RESULT, forged.clone(), DenialLevel::Violation);
                    evidence.forged_result = Some(forged);
                }
            }
            Err(e) => {
                report.error = Some(ScriptError {
                    kind: "ResultError".into(),
                    message: format!("the runner's result could not be read: {e}"),
                    traceback: String::new(),
                });
            }
        }
    }
    report.violations = violations.into_vec();
    report.status = verdict(&evidence);
    report.message = message_for(report.status, &evidence, &limits, report, &watch.stop_detail);
}

/// User and system CPU in ms, adding up to the precise total. The kernel's user/system split is
/// sampled (per tick on cgroup v1), the total is exact: the split is scaled onto the total, so
/// the two never add up to less than the CPU the limit was checked against.
fn split_cpu_ms(user_ns: u64, system_ns: u64, total_ns: u64) -> (u64, u64) {
    let total_ms = total_ns.max(user_ns + system_ns) / 1_000_000;
    let split = user_ns + system_ns;
    let user_ms =
        if split == 0 { total_ms } else { ((u128::from(user_ns) * u128::from(total_ms)) / u128::from(split)) as u64 };
    (user_ms, total_ms - user_ms)
}

fn message_for(
    status: Status,
    e: &Evidence,
    l: &Limits,
    report: &Report,
    stop_detail: &Option<String>,
) -> Option<String> {
    let violations = &report.violations;
    let denied: Vec<&str> =
        violations.iter().filter(|v| !v.quiet && v.kind == "syscall").map(|v| v.detail.as_str()).take(16).collect();
    // A limit ended the run: its message says so first, then what the jail denied before it.
    let and_denied = |m: String| {
        if denied.is_empty() {
            m
        } else {
            format!("{m}; denied before: {}", denied.join(", "))
        }
    };
    match status {
        Status::Ok => None,
        Status::RuntimeError => Some(match (&report.error, e.exit_code, e.signal) {
            (_, _, Some(sig)) => {
                let name = nix::sys::signal::Signal::try_from(sig).map(|s| s.as_str()).unwrap_or("?");
                format!("the script was killed by signal {sig} ({name})")
            }
            (Some(err), _, _) => format!("the script raised {}: {}", err.kind, err.message),
            (None, Some(code), _) => format!("the script exited with status {code} without a result"),
            _ => "the script failed".into(),
        }),
        Status::Timeout => Some(and_denied(format!("wall time limit of {} ms reached", l.wall_time_ms))),
        Status::CpuLimit => Some(and_denied(format!("CPU time limit of {} ms reached", l.cpu_time_ms))),
        Status::MemoryLimit => {
            Some(and_denied(format!("memory limit of {} reached (the kernel's OOM killer ended the script)", l.memory)))
        }
        Status::PidsLimit => Some(and_denied(format!("process limit of {} reached", l.pids))),
        Status::OutputLimit => Some(and_denied(stop_detail.clone().unwrap_or_else(|| "output limit reached".into()))),
        Status::SecurityViolation if e.stopped == Some(Stop::ForeignAbi) => stop_detail.clone(),
        Status::SecurityViolation => {
            // The denials that made it a violation first; those the policy only reports after.
            let at = |level: DenialLevel| -> Vec<&str> {
                violations
                    .iter()
                    .filter(|v| v.level == level && v.kind == "syscall")
                    .map(|v| v.detail.as_str())
                    .take(16)
                    .collect()
            };
            let (violating, reported) = (at(DenialLevel::Violation), at(DenialLevel::Report));
            let mut parts = Vec::new();
            if !violating.is_empty() {
                parts.push(format!("denied: {}", violating.join(", ")));
            }
            if !reported.is_empty() {
                parts.push(format!("also denied, not violations: {}", reported.join(", ")));
            }
            if let Some(forged) = &e.forged_result {
                parts.push(format!("forged result: {forged}"));
            }
            if let (Some(Stop::DenialFlood), Some(detail)) = (e.stopped, stop_detail) {
                parts.push(detail.clone());
            }
            Some(parts.join("; "))
        }
        Status::InternalError => e.setup_failure.clone(),
        Status::Rejected => None,
        Status::Cancelled => Some("cancelled on request; the jail was killed".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_split_adds_up_to_the_exact_total() {
        // Sampled split below the exact total: scaled onto it.
        assert_eq!(split_cpu_ms(200_000_000, 90_000_000, 300_400_000), (206, 94));
        let (u, s) = split_cpu_ms(1, 1, 299_999_999);
        assert_eq!(u + s, 299);
        assert_eq!(split_cpu_ms(0, 0, 5_000_000), (5, 0));
        assert_eq!(split_cpu_ms(3_000_000, 0, 0), (3, 0));
    }
}
