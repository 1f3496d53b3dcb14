//! Warm jails: per profile, a few jails made ahead of any request, their runners waiting for a
//! job (jaild_core's `Supervisor::warm_jail`). A run takes one if there is one of its profile's
//! current version and runs in it ([`Supervisor::run_warm`]); the jail is destroyed after that
//! one job, like any jail. A miss runs cold, never fails.
//!
//! Refills happen on threads of the pool's own, off every request's path; they live as long as
//! the daemon, because a jail's parent is the thread that made it (the parent-death signal
//! follows the thread). Each refill loads the profile again: a changed profile, policy or
//! interpreter digest drains its pool and the new version fills it. Jails older than their
//! idle lifetime, or whose jail-init died, are replaced. SIGTERM drains every pool; a crash
//! takes the warm jails with the daemon (the parent-death signal), and the next start removes
//! their cgroups.
#![forbid(unsafe_code)]

use super::metrics::Metrics;
use crate::profile;
use crate::run::{Jail, ValidRun};
use crate::supervisor::Supervisor;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// How many warm jails a profile keeps, and for how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PoolSize {
    /// Warm jails kept ready; 0 turns the pool off.
    pub size: usize,
    /// A warm jail unused this long is replaced by a fresh one.
    pub idle_lifetime_s: u64,
}

/// The most warm jails one profile may keep.
pub const MAX_SIZE: usize = 64;

/// A pool's state, as /v1/health shows it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct PoolView {
    pub profile: String,
    pub size: usize,
    pub warm: usize,
    pub hits: u64,
    pub misses: u64,
    /// Memory charged to each warm jail's cgroup now, oldest first.
    pub charged_bytes: Vec<u64>,
    /// Why the last refill failed, if it did (the pool retries).
    pub error: Option<String>,
}

struct Pool {
    target: PoolSize,
    /// Warm jails, oldest first, with when each became warm.
    jails: VecDeque<(Jail, Instant)>,
    /// The profile version the jails are of.
    sha256: Option<String>,
    /// Refills under way.
    making: usize,
    hits: u64,
    misses: u64,
    error: Option<String>,
    /// No refill before this (after a failure).
    retry_at: Option<Instant>,
}

struct State {
    pools: BTreeMap<String, Pool>,
    stopping: bool,
    /// Runs being served now, warm or cold (see [`Pools::busy`]).
    busy: usize,
}

/// Every profile's pool.
pub struct Pools {
    sup: Arc<Supervisor>,
    metrics: Arc<Metrics>,
    state: Mutex<State>,
    wake: Condvar,
    threads: Mutex<Vec<std::thread::JoinHandle<()>>>,
}

/// A refill waits for the runs being served to end, at most this long: it competes with them for
/// the CPU and the kernel's cgroup and namespace locks, and the runs come first.
const DEFER_AT_MOST: Duration = Duration::from_millis(100);
/// A failed refill waits this long before the next try.
const RETRY_AFTER: Duration = Duration::from_secs(5);
/// How often the refill threads look at ages and liveness when nothing wakes them.
const TICK: Duration = Duration::from_secs(1);

fn lock(m: &Mutex<State>) -> std::sync::MutexGuard<'_, State> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Pools {
    /// Pools for `sizes` (profile name → size), refilled by `threads` threads.
    pub fn start(
        sup: Arc<Supervisor>,
        metrics: Arc<Metrics>,
        sizes: BTreeMap<String, PoolSize>,
        threads: usize,
    ) -> Arc<Pools> {
        let pools = sizes
            .into_iter()
            .filter(|(_, s)| s.size > 0)
            .map(|(name, target)| {
                let pool = Pool {
                    target,
                    jails: VecDeque::new(),
                    sha256: None,
                    making: 0,
                    hits: 0,
                    misses: 0,
                    error: None,
                    retry_at: None,
                };
                (name, pool)
            })
            .collect::<BTreeMap<_, _>>();
        let any = !pools.is_empty();
        let this = Arc::new(Pools {
            sup,
            metrics,
            state: Mutex::new(State { pools, stopping: false, busy: 0 }),
            wake: Condvar::new(),
            threads: Mutex::new(Vec::new()),
        });
        if any {
            for i in 0..threads.max(1) {
                let p = Arc::clone(&this);
                let spawned =
                    std::thread::Builder::new().name(format!("jaild-pool-{i}")).spawn(move || p.refill_loop());
                match spawned {
                    Ok(h) => this.threads.lock().unwrap_or_else(|p| p.into_inner()).push(h),
                    Err(e) => tracing::warn!(error = %e, "no thread for warm jails; runs start cold"),
                }
            }
        }
        this
    }

    /// Held while a run is served (warm or cold): refills wait until no run is (at most
    /// [`DEFER_AT_MOST`]), so that making the next jail never slows down this one.
    pub fn busy(self: &Arc<Self>) -> Busy {
        lock(&self.state).busy += 1;
        Busy(Arc::clone(self))
    }

    /// A warm jail for `run`, if its profile's pool has one of the run's profile version.
    pub fn take(&self, run: &ValidRun) -> Option<Jail> {
        let name = run.profile.name();
        let mut unfit = Vec::new();
        let mut s = lock(&self.state);
        let pool = s.pools.get_mut(name)?;
        let mut taken = None;
        while let Some((jail, _)) = pool.jails.pop_front() {
            if jail.prepared().profile.sha256 == run.profile.sha256 && jail.is_alive() {
                taken = Some(jail);
                break;
            }
            // Of another version, or dead: destroyed once the lock is let go.
            unfit.push(jail);
        }
        if taken.is_some() {
            pool.hits += 1;
            self.metrics.pool_taken(name, true, pool.jails.len());
        } else {
            pool.misses += 1;
            self.metrics.pool_taken(name, false, 0);
        }
        drop(s);
        self.wake.notify_all();
        drop(unfit);
        taken
    }

    pub fn view(&self) -> Vec<PoolView> {
        let s = lock(&self.state);
        s.pools
            .iter()
            .map(|(name, p)| PoolView {
                profile: name.clone(),
                size: p.target.size,
                warm: p.jails.len(),
                hits: p.hits,
                misses: p.misses,
                charged_bytes: p.jails.iter().map(|(j, _)| j.charged_memory()).collect(),
                error: p.error.clone(),
            })
            .collect()
    }

    /// Destroys every warm jail and stops the refills (SIGTERM).
    pub fn stop(&self) {
        let drained: Vec<Jail> = {
            let mut s = lock(&self.state);
            s.stopping = true;
            s.pools.values_mut().flat_map(|p| p.jails.drain(..).map(|(j, _)| j)).collect()
        };
        let n = drained.len();
        drop(drained);
        self.wake.notify_all();
        let threads = std::mem::take(&mut *self.threads.lock().unwrap_or_else(|p| p.into_inner()));
        for t in threads {
            let _ = t.join();
        }
        if n > 0 {
            tracing::info!(count = n, "warm jails destroyed");
        }
    }

    /// One refill thread: makes the jail the emptiest pool lacks most, replaces old and dead
    /// ones, sleeps when every pool is full.
    fn refill_loop(self: Arc<Self>) {
        loop {
            let job = {
                let mut s = lock(&self.state);
                loop {
                    if s.stopping {
                        return;
                    }
                    let stale = expire(&mut s);
                    if !stale.is_empty() {
                        drop(s);
                        drop(stale);
                        s = lock(&self.state);
                        continue;
                    }
                    if let Some(name) = neediest(&s) {
                        if let Some(p) = s.pools.get_mut(&name) {
                            p.making += 1;
                        }
                        let deadline = Instant::now() + DEFER_AT_MOST;
                        while s.busy > 0 && !s.stopping {
                            let left = deadline.saturating_duration_since(Instant::now());
                            if left.is_zero() {
                                break;
                            }
                            s = self.wake.wait_timeout(s, left).map(|(g, _)| g).unwrap_or_else(|p| p.into_inner().0);
                        }
                        if s.stopping {
                            return;
                        }
                        break name;
                    }
                    s = self.wake.wait_timeout(s, TICK).map(|(g, _)| g).unwrap_or_else(|p| p.into_inner().0);
                }
            };
            self.refill(&job);
        }
    }

    fn refill(&self, name: &str) {
        let t = Instant::now();
        let made = self.make(name);
        let mut s = lock(&self.state);
        let stopping = s.stopping;
        let Some(pool) = s.pools.get_mut(name) else { return };
        pool.making = pool.making.saturating_sub(1);
        let mut doomed: Vec<Jail> = Vec::new();
        match made {
            Ok(jail) => {
                let sha = jail.prepared().profile.sha256.clone();
                if pool.sha256.as_deref() != Some(sha.as_str()) {
                    // The profile changed: jails of the old version go.
                    let old: Vec<Jail> = pool.jails.drain(..).map(|(j, _)| j).collect();
                    if !old.is_empty() {
                        tracing::info!(profile = %name, count = old.len(), "profile changed; its warm jails are replaced");
                    }
                    pool.sha256 = Some(sha);
                    doomed = old;
                }
                pool.error = None;
                pool.retry_at = None;
                if stopping || pool.jails.len() >= pool.target.size {
                    drop(s);
                    drop((jail, doomed));
                    return;
                }
                pool.jails.push_back((jail, Instant::now()));
                let warm = pool.jails.len();
                drop(s);
                // Destroyed off the lock: killing and reaping takes a few milliseconds each.
                drop(doomed);
                self.metrics.pool_refilled(name, t.elapsed(), warm);
            }
            Err(e) => {
                if pool.error.as_deref() != Some(e.as_str()) {
                    tracing::warn!(profile = %name, error = %e, "failed to make a warm jail; runs of this profile start cold until one is made");
                }
                pool.error = Some(e);
                pool.retry_at = Some(Instant::now() + RETRY_AFTER);
            }
        }
    }

    fn make(&self, name: &str) -> Result<Jail, String> {
        let sup = &self.sup;
        let cache = sup.config.state_dir.as_deref().map(|d| d.join("cache"));
        let profile =
            profile::load_cached(&sup.config.profiles_dir, name, cache.as_deref()).map_err(|e| e.to_string())?;
        let prepared = sup.prepare(&profile).map_err(|e| e.to_string())?;
        let id = format!("warm-{}", crate::run::new_run_id());
        sup.warm_jail(&id, prepared)
    }
}

/// A run being served; see [`Pools::busy`].
pub struct Busy(Arc<Pools>);

impl Drop for Busy {
    fn drop(&mut self) {
        let mut s = lock(&self.0.state);
        s.busy = s.busy.saturating_sub(1);
        let idle = s.busy == 0;
        drop(s);
        if idle {
            self.0.wake.notify_all();
        }
    }
}

/// Warm jails past their idle lifetime, or whose jail-init died, out of their pools.
fn expire(s: &mut State) -> Vec<Jail> {
    let mut out = Vec::new();
    for p in s.pools.values_mut() {
        let life = Duration::from_secs(p.target.idle_lifetime_s);
        let mut keep = VecDeque::new();
        for (jail, since) in p.jails.drain(..) {
            if since.elapsed() >= life || !jail.is_alive() {
                out.push(jail);
            } else {
                keep.push_back((jail, since));
            }
        }
        p.jails = keep;
    }
    out
}

/// The pool furthest below its size (ready to retry), if any.
fn neediest(s: &State) -> Option<String> {
    let now = Instant::now();
    s.pools
        .iter()
        .filter(|(_, p)| p.retry_at.is_none_or(|t| now >= t))
        .map(|(name, p)| (name, p.target.size.saturating_sub(p.jails.len() + p.making)))
        .filter(|(_, missing)| *missing > 0)
        .max_by_key(|(_, missing)| *missing)
        .map(|(name, _)| name.clone())
}
