//! Prometheus metrics, served at /metrics in the OpenMetrics text format.
#![forbid(unsafe_code)]

use crate::report::Report;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RunLabels {
    status: String,
    profile: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ProfileLabels {
    profile: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CpuLabels {
    profile: String,
    mode: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ViolationLabels {
    syscall: String,
    /// The denial's level (quiet, report, violation); `quiet` stays for dashboards made before.
    level: &'static str,
    quiet: &'static str,
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

pub struct Metrics {
    registry: Registry,
    runs: Family<RunLabels, Counter>,
    duration: HistogramFamily<ProfileLabels>,
    queue_wait: Histogram,
    cpu: Family<CpuLabels, Counter<f64, AtomicU64>>,
    memory_peak: HistogramFamily<ProfileLabels>,
    violations: Family<ViolationLabels, Counter>,
    queue_depth: Gauge,
    running: Gauge,
    history_write_failures: Counter,
    pool_takes: Family<PoolLabels, Counter>,
    pool_warm: Family<ProfileLabels, Gauge>,
    pool_refill: HistogramFamily<ProfileLabels>,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PoolLabels {
    profile: String,
    /// hit: the run took a warm jail; miss: none was there, it ran cold.
    outcome: &'static str,
}

fn seconds_histogram() -> Histogram {
    // 5 ms .. ~80 s.
    Histogram::new(exponential_buckets(0.005, 2.0, 15))
}

fn bytes_histogram() -> Histogram {
    // 1 MiB .. 4 GiB.
    Histogram::new(exponential_buckets(1_048_576.0, 2.0, 13))
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

/// The violations metric's label for a denial: the syscall's name alone. A report's detail
/// carries the argument that decided ("ioctl(0x5412 TIOCSTI)"), or a number the script chose
/// ("syscall_999999", "i386 syscall 20 (int 0x80)"): as labels, every run could add new series
/// to the daemon's memory for good.
fn syscall_label(detail: &str) -> String {
    let name = detail.split('(').next().unwrap_or_default().trim();
    if name.starts_with("syscall_") {
        // A number no x86_64 syscall has.
        return "unknown".to_string();
    }
    if let Some((abi, _)) = name.split_once(" syscall") {
        // "i386 syscall 20", "x32 syscall 39": the ABI alone.
        return format!("{abi} syscall");
    }
    name.to_string()
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("jaild");
        let runs = Family::<RunLabels, Counter>::default();
        registry.register("runs", "Runs ended, by status and profile", runs.clone());
        let duration: HistogramFamily<ProfileLabels> = Family::new_with_constructor(seconds_histogram);
        registry.register(
            "run_duration_seconds",
            "Wall time of runs' jobs, from the handover to the report (a jail's start-up is not in it)",
            duration.clone(),
        );
        let queue_wait = seconds_histogram();
        registry.register(
            "queue_wait_seconds",
            "Time runs waited in the queue before they started",
            queue_wait.clone(),
        );
        let cpu = Family::<CpuLabels, Counter<f64, AtomicU64>>::default();
        registry.register("cpu_seconds", "CPU time used by jails (user and system), by profile", cpu.clone());
        let memory_peak: HistogramFamily<ProfileLabels> = Family::new_with_constructor(bytes_histogram);
        registry.register("memory_peak_bytes", "Peak memory of each run's cgroup", memory_peak.clone());
        let violations = Family::<ViolationLabels, Counter>::default();
        registry.register(
            "violations",
            "Syscalls denied by seccomp, by name and level (quiet, report, violation; quiet=true: a routine probe the profile expects)",
            violations.clone(),
        );
        let queue_depth = Gauge::default();
        registry.register("queue_depth", "Runs waiting to start", queue_depth.clone());
        let running = Gauge::default();
        registry.register("running_jobs", "Runs in progress", running.clone());
        let history_write_failures = Counter::default();
        registry.register(
            "history_write_failures",
            "Writes to the run history that failed (a full disk): runs refused, or their ends held in memory",
            history_write_failures.clone(),
        );
        let pool_takes = Family::<PoolLabels, Counter>::default();
        registry.register(
            "pool_takes",
            "Runs that looked for a warm jail of their profile: hit (ran warm) or miss (ran cold)",
            pool_takes.clone(),
        );
        let pool_warm = Family::<ProfileLabels, Gauge>::default();
        registry.register("pool_warm_jails", "Warm jails waiting for a job, by profile", pool_warm.clone());
        let pool_refill: HistogramFamily<ProfileLabels> = Family::new_with_constructor(seconds_histogram);
        registry.register(
            "pool_refill_seconds",
            "Time to make one warm jail, until its runner waits",
            pool_refill.clone(),
        );
        Metrics {
            pool_takes,
            pool_warm,
            pool_refill,
            registry,
            runs,
            duration,
            queue_wait,
            cpu,
            memory_peak,
            violations,
            queue_depth,
            running,
            history_write_failures,
        }
    }

    /// A run ended (with a report), after `queued` in the queue (None: it never left it).
    pub fn run_ended(&self, report: &Report, profile: &str) {
        let profile = profile.to_string();
        self.runs
            .get_or_create(&RunLabels { status: report.status.as_str().to_string(), profile: profile.clone() })
            .inc();
        if report.usage.cpu_user_ms > 0 || report.usage.cpu_system_ms > 0 || report.usage.memory_peak_bytes > 0 {
            let labels = ProfileLabels { profile: profile.clone() };
            self.duration.get_or_create(&labels).observe(report.usage.wall_ms as f64 / 1000.0);
            self.memory_peak.get_or_create(&labels).observe(report.usage.memory_peak_bytes as f64);
            self.cpu
                .get_or_create(&CpuLabels { profile: profile.clone(), mode: "user" })
                .inc_by(report.usage.cpu_user_ms as f64 / 1000.0);
            self.cpu
                .get_or_create(&CpuLabels { profile, mode: "system" })
                .inc_by(report.usage.cpu_system_ms as f64 / 1000.0);
        }
        for v in report.violations.iter().filter(|v| v.kind == "syscall") {
            let labels = ViolationLabels {
                syscall: syscall_label(&v.detail),
                level: v.level.name(),
                quiet: if v.quiet { "true" } else { "false" },
            };
            self.violations.get_or_create(&labels).inc_by(v.count);
        }
    }

    pub fn history_write_failed(&self) {
        self.history_write_failures.inc();
    }

    /// A run looked for a warm jail (`hit` when it got one); `warm` are left.
    pub fn pool_taken(&self, profile: &str, hit: bool, warm: usize) {
        let outcome = if hit { "hit" } else { "miss" };
        self.pool_takes.get_or_create(&PoolLabels { profile: profile.to_string(), outcome }).inc();
        self.pool_warm.get_or_create(&ProfileLabels { profile: profile.to_string() }).set(warm as i64);
    }

    /// A warm jail was made in `took`; `warm` are waiting now.
    pub fn pool_refilled(&self, profile: &str, took: Duration, warm: usize) {
        let labels = ProfileLabels { profile: profile.to_string() };
        self.pool_refill.get_or_create(&labels).observe(took.as_secs_f64());
        self.pool_warm.get_or_create(&labels).set(warm as i64);
    }

    pub fn started(&self, waited: Duration) {
        self.queue_wait.observe(waited.as_secs_f64());
    }

    pub fn set_load(&self, queued: usize, running: usize) {
        self.queue_depth.set(queued as i64);
        self.running.set(running as i64);
    }

    pub fn encode(&self) -> String {
        let mut out = String::new();
        if let Err(e) = prometheus_client::encoding::text::encode(&mut out, &self.registry) {
            tracing::warn!(error = %e, "failed to encode metrics");
        }
        out
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn violation_labels_are_bounded_by_the_syscall_table() {
        assert_eq!(syscall_label("ioctl(0x5412 TIOCSTI)"), "ioctl");
        assert_eq!(syscall_label("socket(AF_INET)"), "socket");
        assert_eq!(syscall_label("pread64"), "pread64");
        assert_eq!(syscall_label("syscall_999999"), "unknown");
        assert_eq!(syscall_label("i386 syscall 20 (int 0x80)"), "i386 syscall");
        assert_eq!(syscall_label("x32 syscall 39"), "x32 syscall");
    }

    #[test]
    fn counts_runs_by_status_and_profile() {
        let m = Metrics::new();
        let report: Report = serde_json::from_value(serde_json::json!({
            "id": "x", "status": "security_violation", "message": null, "exit_code": 0, "signal": null,
            "result": null, "error": null, "stdout": "", "stderr": "", "stdout_truncated": false,
            "stderr_truncated": false,
            "violations": [{"kind": "syscall", "detail": "ptrace", "count": 2, "quiet": false},
                           {"kind": "syscall", "detail": "getxattr", "count": 1, "quiet": true, "level": "quiet"},
                           {"kind": "syscall", "detail": "splice", "count": 3, "quiet": false, "level": "report"}],
            "usage": {"wall_ms": 20, "cpu_user_ms": 5, "cpu_system_ms": 3, "memory_peak_bytes": 1000000,
                      "pids_peak": 1, "oom_kills": 0, "stdout_bytes": 0, "stderr_bytes": 0, "result_bytes": 0},
            "profile": null, "interpreter": null,
            "enforcement": {"cgroup": "v1", "landlock_abi": 6, "landlock_rights": [], "landlock_scopes": [],
                            "seccomp": null, "namespaces": []},
            "started_at": "", "finished_at": ""
        }))
        .unwrap();
        m.run_ended(&report, "python");
        m.started(Duration::from_millis(3));
        m.set_load(4, 2);
        m.history_write_failed();
        let text = m.encode();
        for needle in [
            r#"jaild_runs_total{status="security_violation",profile="python"} 1"#,
            r#"jaild_violations_total{syscall="ptrace",level="violation",quiet="false"} 2"#,
            r#"jaild_violations_total{syscall="getxattr",level="quiet",quiet="true"} 1"#,
            r#"jaild_violations_total{syscall="splice",level="report",quiet="false"} 3"#,
            "jaild_queue_depth 4",
            "jaild_running_jobs 2",
            "jaild_history_write_failures_total 1",
            "jaild_queue_wait_seconds_count 1",
            r#"jaild_run_duration_seconds_count{profile="python"} 1"#,
            r#"jaild_cpu_seconds_total{profile="python",mode="user"} 0.005"#,
        ] {
            assert!(text.contains(needle), "{needle} not in\n{text}");
        }
    }
}
