//! The jail as the supervisor holds it, with its states:
//!
//! ```text
//!   created ──ready()──▶ ready ──start(job)──▶ running ──watch()──▶ finished ──finish()──▶ outcome
//!   (jail-init cloned,   (maps written, GO;   (limits in force,    (the script's main
//!    waiting for its      the runner waits     the job handed        process ended or the
//!    id maps)             for its job)         over, clock on)       supervisor stopped it)
//! ```
//!
//! [`Jail::create`] and [`Jail::ready`] are in `spawn`, [`Jail::watch`] in `watch`. Dropped in
//! any state, a jail is killed, jail-init reaped and its cgroup removed.

use super::denials::Denials;
use super::hooks::RunHooks;
use super::prepare::Prepared;
use super::request::ValidRun;
use crate::cgroup::CgroupLimits;
use crate::cgroup::{CgroupUsage, RunCgroup};
use crate::hostids::Slot;
use crate::profile::Limits;
use crate::report::Enforcement;
use crate::report::Stop;
use crate::sys;
use nix::errno::Errno;
use std::os::fd::{AsFd, OwnedFd};
use std::time::Instant;

/// Where a jail is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JailState {
    /// jail-init is cloned into its namespaces and waits for its id maps.
    Created,
    /// jail-init is building the jail; the runner will wait for its job.
    Ready,
    /// The job is handed over; the run's limits and clock are on.
    Running,
    /// Over: the script's main process ended, or the supervisor stopped the jail.
    Finished,
}

/// A jail: jail-init, its cgroup and the supervisor's ends of its descriptors.
pub struct Jail {
    pub(super) id: String,
    pub(super) state: JailState,
    pub(super) prepared: Prepared,
    pub(super) cgroup: Box<dyn RunCgroup>,
    pub(super) init: Init,
    pub(super) control: OwnedFd,
    /// What comes out of the jail, kept from its start to its end (warm-up, then watch).
    pub(super) channels: Channels,
    /// The write end of the job pipe, until the job is handed over.
    pub(super) job: Option<OwnedFd>,
    /// The job's bytes not yet written (the watch loop writes them as the pipe takes them).
    pub(super) job_pending: Vec<u8>,
    /// The limits in force: the profile's or a run's, tighter.
    pub(super) limits: Limits,
    pub(super) enforcement: Enforcement,
    /// When the job was handed over (the start hook's moment).
    pub(super) started: Option<Instant>,
    /// When jail-init was cloned: the start-up cost runs from here to the runner's ready line.
    pub(super) created: Instant,
    /// Made ahead of its request (a pooled jail), or on its path.
    pub(super) start_kind: crate::report::Start,
    /// When a warm jail's runner first said it waits for a job.
    pub(super) warm_at: Option<Instant>,
}

/// The supervisor's ends of a jail's descriptors, and what came of them before the job.
pub(super) struct Channels {
    /// stdout, stderr and the result pipe's read ends, until each is closed.
    pub(super) pipes: [Option<OwnedFd>; 3],
    /// The seccomp listener, once jail-init handed it over.
    pub(super) listener: Option<OwnedFd>,
    /// stdout and stderr written before the job (a warm jail's start-up), kept for the report.
    pub(super) early: [Vec<u8>; 2],
    /// The result pipe's first bytes, until the runner's ready line is complete.
    pub(super) head: Vec<u8>,
    /// When the runner said it waits for its job: the run's clock starts here.
    pub(super) ready: Option<Instant>,
    /// The cgroup's CPU time at that moment: the job's CPU is what was used after it.
    pub(super) cpu_baseline_ns: u64,
    /// Denials answered before the job (the runner's own start).
    pub(super) denials: Denials,
    /// What jail-init reported.
    pub(super) records: Records,
}

/// jail-init's records as they arrived.
#[derive(Default)]
pub(super) struct Records {
    pub(super) setup_failure: Option<String>,
    pub(super) exit_code: Option<i32>,
    pub(super) signal: Option<i32>,
}

impl Channels {
    pub(super) fn new(pipes: [OwnedFd; 3]) -> Channels {
        let [o, e, r] = pipes;
        for p in [&o, &e, &r] {
            let _ = nix::fcntl::fcntl(p, nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK));
        }
        Channels {
            pipes: [Some(o), Some(e), Some(r)],
            listener: None,
            early: [Vec::new(), Vec::new()],
            head: Vec::new(),
            ready: None,
            cpu_baseline_ns: 0,
            denials: Denials::default(),
            records: Records::default(),
        }
    }
}

/// A capped capture of one output stream.
pub(super) struct Capture {
    pub(super) data: Vec<u8>,
    cap: u64,
    pub(super) total: u64,
    pub(super) truncated: bool,
}

impl Capture {
    pub(super) fn new(cap: u64) -> Capture {
        Capture { data: Vec::new(), cap, total: 0, truncated: false }
    }

    /// Keeps what fits under the cap and returns how many bytes that was; past the cap the
    /// capture is marked truncated.
    pub(super) fn push(&mut self, bytes: &[u8]) -> usize {
        self.total += bytes.len() as u64;
        let room = self.cap.saturating_sub(self.data.len() as u64) as usize;
        let kept = bytes.len().min(room);
        self.data.extend_from_slice(&bytes[..kept]);
        if bytes.len() > room {
            self.truncated = true;
        }
        kept
    }
}

/// What watching a jail saw.
pub struct Watched {
    pub(super) stdout: Capture,
    pub(super) stderr: Capture,
    pub(super) result: Capture,
    pub(super) denials: Denials,
    pub(super) setup_failure: Option<String>,
    pub(super) stopped: Option<Stop>,
    pub(super) stop_detail: Option<String>,
    pub(super) exit_code: Option<i32>,
    pub(super) signal: Option<i32>,
    /// When the job's clock started (the runner's ready line, or a warm jail's handover).
    pub(super) job_started: Option<Instant>,
    /// The cgroup's CPU time then.
    pub(super) cpu_baseline_ns: u64,
}

/// The cgroup limits of a run's limits.
pub(super) fn cgroup_limits(l: &Limits) -> CgroupLimits {
    let period_us = 100_000u64;
    CgroupLimits {
        memory_bytes: l.memory.0,
        pids: l.pids,
        cpu_quota_us: ((period_us as f64) * l.cpu_cores).round().max(1000.0) as u64,
        cpu_period_us: period_us,
    }
}

/// What a finished jail leaves for the report.
pub struct Outcome {
    pub watched: Watched,
    pub usage: Result<CgroupUsage, String>,
    pub enforcement: Enforcement,
    pub limits: Limits,
    /// The cgroup's CPU time when the job started (subtracted from the usage).
    pub cpu_baseline_ns: u64,
    /// Making the jail until its runner waited for the job.
    pub startup_ms: u64,
    /// The job's wall time: from the runner's ready line (or, for a warm jail, the handover) to
    /// the end.
    pub job_ms: u64,
    pub start: crate::report::Start,
}

impl Jail {
    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn state(&self) -> JailState {
        self.state
    }

    pub fn prepared(&self) -> &Prepared {
        &self.prepared
    }

    /// A warm jail starts up at the least CPU weight (see RunCgroup::set_background); its
    /// handover gives it the default back.
    pub(super) fn set_background(&self, background: bool) -> Result<(), String> {
        self.cgroup.set_background(background).map_err(|e| format!("cgroup: {e}"))
    }

    /// Whether the kernel runs the jail at the background CPU weight now (read from its
    /// cgroup; `None` where it cannot be read).
    pub fn runs_in_background(&self) -> Option<bool> {
        self.cgroup.is_background().ok()
    }

    /// Memory charged to the jail's cgroup now.
    pub fn charged_memory(&self) -> u64 {
        self.cgroup.memory_current().unwrap_or(0)
    }

    /// Whether jail-init is still there (a warm jail waiting in a pool can die: killed from
    /// outside, or its cgroup's limits).
    pub fn is_alive(&self) -> bool {
        let Some(fd) = self.init.pidfd() else { return false };
        let mut pfd = [nix::poll::PollFd::new(fd, nix::poll::PollFlags::POLLIN)];
        // A pidfd polls readable once its process has ended.
        matches!(nix::poll::poll(&mut pfd, nix::poll::PollTimeout::ZERO), Ok(0)) && self.channels.pipes[2].is_some()
    }

    /// Hands the job over: the run's limits take the place of the jail's (a run only tightens),
    /// the job goes down the pipe (the watch loop writes what the pipe does not take at once)
    /// and the run's clock starts (state [`JailState::Running`]).
    pub fn start(&mut self, run: &ValidRun, hooks: &RunHooks<'_>) -> Result<(), String> {
        if self.state != JailState::Ready {
            return Err(format!("jail {}: start() in state {:?}", self.id, self.state));
        }
        if self.start_kind == crate::report::Start::Warm {
            // Made in the background: its job runs at the default weight.
            self.set_background(false)?;
        }
        if run.limits != self.limits {
            self.cgroup.set_limits(&cgroup_limits(&run.limits)).map_err(|e| format!("cgroup: {e}"))?;
            self.limits = run.limits;
        }
        let policy = &self.prepared.profile.file.language_policy;
        let job = super::job::Job {
            v: super::job::PROTOCOL,
            language: run.language.as_str(),
            filename: &run.filename,
            code: &run.code,
            input: &run.input,
            policy: super::job::JobPolicy {
                blocked_modules: &policy.blocked_modules,
                dynamic_code: policy.dynamic_code,
            },
        };
        self.job_pending = job.encode().map_err(|e| format!("job: {e}"))?;
        if let Some(fd) = &self.job {
            let _ = nix::fcntl::fcntl(fd, nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK));
        }
        let now = Instant::now();
        self.started = Some(now);
        if self.channels.ready.is_some() {
            // A warm jail: its runner has waited; the job's clock and CPU start now.
            self.channels.ready = Some(now);
            self.channels.cpu_baseline_ns = self.cgroup.cpu_time_ns().unwrap_or(0);
        }
        self.state = JailState::Running;
        if let Some(started) = hooks.started {
            started();
        }
        Ok(())
    }

    /// Kills what is left, reaps jail-init in the background and reads the cgroup's usage.
    pub fn finish(mut self, watched: Watched) -> Outcome {
        // Everything of the script is dead now (watch killed the cgroup). jail-init is exiting
        // or killed; its exit tears the namespaces down, which the report does not wait for.
        self.kill();
        let init = std::mem::replace(&mut self.init, Init::reaped());
        init.reap_in_background();
        let usage = self.cgroup.usage().map_err(|e| format!("cgroup usage: {e}"));
        // A warm jail's runner was ready before the handover: its start-up ends there, the job
        // starts at the handover; a cold one's at its ready line.
        let ready = match self.start_kind {
            crate::report::Start::Warm => self.warm_at,
            crate::report::Start::Cold => watched.job_started,
        };
        let startup_ms = ready.map_or(0, |r| r.saturating_duration_since(self.created).as_millis() as u64);
        let job_ms = watched.job_started.or(self.started).map_or(0, |s| s.elapsed().as_millis() as u64);
        let cpu_baseline_ns = watched.cpu_baseline_ns;
        Outcome {
            watched,
            usage,
            enforcement: self.enforcement.clone(),
            limits: self.limits,
            cpu_baseline_ns,
            startup_ms,
            job_ms,
            start: self.start_kind,
        }
    }

    /// Kills jail-init (which takes the whole PID namespace with it) and everything in the
    /// cgroup.
    pub(super) fn kill(&self) {
        self.init.kill();
        if let Err(e) = self.cgroup.kill_all() {
            tracing::warn!(pid = self.init.pid, error = %e, "failed to kill the run's cgroup");
        }
    }
}

impl Drop for Jail {
    /// Whatever state it is in: nothing of it outlives the handle.
    fn drop(&mut self) {
        self.kill();
        let t = Instant::now();
        if let Err(e) = self.cgroup.destroy() {
            tracing::warn!(run = %self.id, error = %e, "failed to remove the run's cgroup");
        }
        tracing::debug!(run = %self.id, us = t.elapsed().as_micros() as u64, "cgroup removed");
    }
}

/// jail-init as the supervisor holds it.
pub(super) struct Init {
    pub(super) pid: i32,
    pub(super) pidfd: Option<OwnedFd>,
    pub(super) reaped: bool,
    /// The jail's host ids, given back once jail-init is reaped: the PID namespace is empty
    /// then, no process of the jail is left to use them.
    pub(super) ids: Option<Slot>,
}

impl Init {
    pub(super) fn new(pid: i32, pidfd: OwnedFd, ids: Slot) -> Init {
        Init { pid, pidfd: Some(pidfd), reaped: false, ids: Some(ids) }
    }

    /// What is left once the real one went to its reaper.
    fn reaped() -> Init {
        Init { pid: 0, pidfd: None, reaped: true, ids: None }
    }

    pub(super) fn pidfd(&self) -> Option<std::os::fd::BorrowedFd<'_>> {
        self.pidfd.as_ref().map(|f| f.as_fd())
    }

    fn kill(&self) {
        if let (false, Some(fd)) = (self.reaped, self.pidfd()) {
            let _ = sys::pidfd_kill(fd);
        }
    }

    /// Reaps jail-init on a thread of its own: its exit (the namespaces' teardown) can take a
    /// few milliseconds, and nothing in the report depends on it.
    fn reap_in_background(self) {
        if self.reaped {
            return;
        }
        let spawned = std::thread::Builder::new().name("jaild-reap".into()).spawn(move || {
            let mut init = self;
            init.reap();
        });
        if let Err(e) = spawned {
            // The closure, and jail-init with it, was dropped: reaped on this thread instead.
            tracing::warn!(error = %e, "no thread to reap jail-init; reaped on the run's thread");
        }
    }

    fn reap(&mut self) {
        if self.reaped {
            return;
        }
        let Some(fd) = self.pidfd.as_ref() else {
            self.reaped = true;
            return;
        };
        loop {
            match nix::sys::wait::waitid(nix::sys::wait::Id::PIDFd(fd.as_fd()), nix::sys::wait::WaitPidFlag::WEXITED) {
                Ok(_) => {
                    self.reaped = true;
                    self.ids = None;
                    return;
                }
                Err(Errno::EINTR) => continue,
                Err(e) => {
                    // Not known to be gone: the ids stay taken (dropped without going back).
                    self.reaped = true;
                    if let Some(ids) = self.ids.take() {
                        tracing::warn!(root_id = ids.root_id(), error = %e, "jail-init could not be reaped; its host ids are not reused");
                        std::mem::forget(ids);
                    }
                    return;
                }
            }
        }
    }
}

impl Drop for Init {
    /// jail-init dropped on an error path is killed and reaped here, so that its host ids go
    /// back only once it is gone.
    fn drop(&mut self) {
        if !self.reaped {
            self.kill();
            self.reap();
        }
    }
}
