//! The life of one run, from request to report, in the order it happens:
//!
//! 1. [`request`]: the request checked, once, every mistake named by its field;
//! 2. [`prepare`]: the profile resolved into what its jails need (interpreter, plan), with no
//!    request data, while another thread makes the jail's parts (host ids, cgroup, network
//!    namespace; `spawn`);
//! 3. `spawn`: jail-init cloned and let go ([`Jail::create`], [`Jail::ready`]);
//! 4. [`Jail::start`]: the run's limits in force and the job handed over ([`job`], the runner
//!    protocol);
//! 5. `watch`: output, records, denials and limits until the end ([`Jail::watch`]);
//! 6. `assemble`: the report, from the evidence.
//!
//! A [`Jail`] is the handle through all of it, with explicit states (`jail`).

mod assemble;
mod denials;
mod hooks;
mod jail;
pub mod job;
mod prepare;
pub mod request;
mod spawn;
mod watch;

pub use hooks::{OutputHook, RunHooks, Stream};
pub use jail::{Jail, JailState};
pub use prepare::{PrepareError, Prepared};
pub use request::{new_run_id, valid_run_id, LimitOverrides, RequestError, RequestErrorKind, RunRequest, ValidRun};
pub use spawn::Parts;

use crate::report::{now_rfc3339, Report, Status};
use crate::supervisor::Supervisor;
use std::time::{Duration, Instant};

/// A warm jail's runner may take at least this long to start (the profile's wall time, if
/// longer): interpreters start slowly on slow or emulated CPUs.
const WARM_UP_MIN_MS: u64 = 10_000;

impl Supervisor {
    /// Runs one script and returns its report. Never panics on bad input; every path ends in
    /// a report. Blocks until the run is over: the calling thread is the jail's parent (its
    /// exit would kill the jail through the parent-death signal), so it must not be one that
    /// ends while the run goes on.
    pub fn run(&self, request: RunRequest) -> Report {
        self.run_with(request, &RunHooks::default())
    }

    /// [`Supervisor::run`], followed and steerable through `hooks`.
    pub fn run_with(&self, request: RunRequest, hooks: &RunHooks<'_>) -> Report {
        let started = Instant::now();
        match self.validate(&request) {
            Ok(run) => self.run_valid(run, hooks),
            Err(e) => {
                let id = request.id.filter(|id| valid_run_id(id)).unwrap_or_else(new_run_id);
                let status =
                    if e.kind == RequestErrorKind::BrokenProfile { Status::InternalError } else { Status::Rejected };
                let message = if e.kind == RequestErrorKind::BrokenProfile { e.message } else { e.to_string() };
                let mut report = Report::new(id, status, Some(message));
                report.usage.wall_ms = started.elapsed().as_millis() as u64;
                finished(report)
            }
        }
    }

    /// Checks a request against this supervisor's profiles (every profile may be used: the
    /// library's callers are the host's root; the daemon checks its callers' rights).
    pub fn validate(&self, request: &RunRequest) -> Result<ValidRun, RequestError> {
        let cache = self.config.state_dir.as_deref().map(|d| d.join("cache"));
        let anyone = |_: &str| Ok(());
        let profiles =
            request::Profiles { dir: &self.config.profiles_dir, cache_dir: cache.as_deref(), may_use: &anyone };
        request::validate(request, &profiles)
    }

    /// Runs a checked request: prepare (while the jail's parts are made), create, ready, start,
    /// watch, finish, report.
    pub fn run_valid(&self, run: ValidRun, hooks: &RunHooks<'_>) -> Report {
        let started = Instant::now();
        let mut report = Report::new(run.id.clone(), Status::InternalError, None);
        // The run's host ids, cgroup and network namespace are made on another thread while the
        // profile is prepared: both are independent of it and cost about as much.
        let (prepared, parts) = std::thread::scope(|scope| {
            let parts = scope.spawn(|| self.make_parts(&run.id));
            let prepared = self.prepare(&run.profile);
            let parts = parts.join().unwrap_or_else(|_| Err("the setup thread panicked".to_string()));
            (prepared, parts)
        });
        match (prepared, parts) {
            (Err(e), _) => report.message = Some(e.0),
            (Ok(_), Err(message)) => report.message = Some(message),
            (Ok(prepared), Ok(parts)) => {
                tracing::debug!(run = %report.id, us = started.elapsed().as_micros() as u64, "prepared and parts made");
                report.profile = Some(prepared.profile_info());
                report.interpreter = Some(prepared.interpreter_info());
                report.enforcement = prepared.enforcement(self.cgroups.version(), self.landlock_abi);
                if let Err(message) = self.run_in_jail(&run, prepared, parts, hooks, &mut report) {
                    report.status = Status::InternalError;
                    report.message = Some(message);
                }
            }
        }
        if report.usage.wall_ms == 0 && report.usage.startup_ms == 0 {
            // Never reached a jail's clock: the time it took to fail.
            report.usage.wall_ms = started.elapsed().as_millis() as u64;
        }
        finished(report)
    }

    fn run_in_jail(
        &self,
        run: &ValidRun,
        prepared: Prepared,
        parts: Parts,
        hooks: &RunHooks<'_>,
        report: &mut Report,
    ) -> Result<(), String> {
        let mut jail = Jail::create(self, &run.id, prepared, parts, &run.limits)?;
        jail.ready()?;
        self.run_started(run, jail, hooks, report)
    }

    /// A jail of `prepared`'s profile made ahead of any request: created with the profile's own
    /// limits, let go, and warmed up until its runner waits for a job. `id` names its cgroup
    /// (the run it will serve is not known yet). Give it to [`Supervisor::run_warm`], once.
    ///
    /// The calling thread is the jail's parent until the jail ends (its exit would kill the jail
    /// through the parent-death signal): make warm jails on a thread that outlives them.
    pub fn warm_jail(&self, id: &str, prepared: Prepared) -> Result<Jail, String> {
        let t = Instant::now();
        let parts = self.make_parts(id)?;
        let limits = prepared.profile.file.limits;
        let mut jail = Jail::create(self, id, prepared, parts, &limits)?;
        jail.set_background(true)?;
        jail.ready()?;
        let budget = Duration::from_millis(limits.wall_time_ms.max(WARM_UP_MIN_MS));
        jail.warm_up(budget)?;
        tracing::debug!(jail = %id, us = t.elapsed().as_micros() as u64, "warm jail ready");
        Ok(jail)
    }

    /// Runs a checked request in a warm jail of its profile (from [`Supervisor::warm_jail`]):
    /// the same run as [`Supervisor::run_valid`] but for how the jail was made. A jail of another
    /// profile, or of an earlier version of it, is destroyed and the run goes cold.
    pub fn run_warm(&self, run: ValidRun, jail: Jail, hooks: &RunHooks<'_>) -> Report {
        if jail.prepared().profile.sha256 != run.profile.sha256 || jail.state() != JailState::Ready {
            tracing::info!(run = %run.id, jail = %jail.id(), "the warm jail does not fit the run; running cold");
            drop(jail);
            return self.run_valid(run, hooks);
        }
        let started = Instant::now();
        let mut report = Report::new(run.id.clone(), Status::InternalError, None);
        report.profile = Some(jail.prepared().profile_info());
        report.interpreter = Some(jail.prepared().interpreter_info());
        report.enforcement = jail.enforcement.clone();
        report.start = crate::report::Start::Warm;
        if let Err(message) = self.run_started(&run, jail, hooks, &mut report) {
            report.status = Status::InternalError;
            report.message = Some(message);
            report.usage.wall_ms = started.elapsed().as_millis() as u64;
        }
        finished(report)
    }

    /// The job into a ready jail, watched to its end, the report assembled.
    fn run_started(
        &self,
        run: &ValidRun,
        mut jail: Jail,
        hooks: &RunHooks<'_>,
        report: &mut Report,
    ) -> Result<(), String> {
        jail.start(run, hooks)?;
        let watched = jail.watch(hooks);
        let outcome = jail.finish(watched);
        assemble::report(report, outcome);
        Ok(())
    }
}

/// A run's report, stamped with its end and logged.
fn finished(mut report: Report) -> Report {
    report.finished_at = now_rfc3339();
    tracing::info!(run = %report.id, status = %report.status, start = ?report.start, startup_ms = report.usage.startup_ms, wall_ms = report.usage.wall_ms, "run finished");
    report
}
