//! The runs in flight: admission into the fair queue, starting runs on blocking threads (each
//! run's thread is its jail's parent), their output as events, cancel, and the drain at
//! shutdown. Every run is written to the store when it is queued, when it starts and when it
//! ends; a run lives here from submit until its end is recorded, then only in the store.
//!
//! When the store cannot take a run's end (a full disk), the run is kept here, unrecorded, and
//! served as before: its report is never lost while the daemon runs. The ends are written as
//! soon as the store takes writes again ([`Runs::record_unrecorded`], tried every second and
//! before every new run). Until they are, no new run is accepted: a run that cannot be recorded
//! is refused rather than run unrecorded (the history is the record of who ran what), and the
//! unrecorded runs are at most the ones accepted before the store failed.
#![forbid(unsafe_code)]

use super::metrics::Metrics;
use super::queue::{CallerId, CallerLimits, FairQueue, Refusal};
use super::store::{NewRun, RunState, Store, StoreError, StoredRun};
use crate::report::{Report, Status};
use crate::run::{RunHooks, Stream, ValidRun};
use crate::supervisor::Supervisor;
use serde::Serialize;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};
use tokio::sync::watch;

pub use crate::report::now_rfc3339;

pub use crate::run::new_run_id;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding a lock leaves plain bookkeeping behind, still usable.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// One event of a run's stream, as sent on GET /v1/runs/{id}/events.
#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event<'a> {
    Stdout { data: &'a str },
    Stderr { data: &'a str },
    Report { report: &'a Report },
    State { state: RunState },
}

impl Event<'_> {
    /// The event as one NDJSON line.
    pub fn line(&self) -> Vec<u8> {
        let mut line = serde_json::to_vec(self).unwrap_or_default();
        line.push(b'\n');
        line
    }

    pub fn output(stream: Stream, data: &str) -> Event<'_> {
        match stream {
            Stream::Stdout => Event::Stdout { data },
            Stream::Stderr => Event::Stderr { data },
        }
    }
}

/// Cuts a byte stream into UTF-8 text without splitting a character across two events: an
/// incomplete character at the end of a chunk waits for the next one. Invalid bytes become
/// U+FFFD, as in the report.
#[derive(Debug, Default)]
pub struct Utf8Chunker {
    pending: Vec<u8>,
}

impl Utf8Chunker {
    pub fn push(&mut self, bytes: &[u8]) -> String {
        self.pending.extend_from_slice(bytes);
        let cut = incomplete_tail_start(&self.pending);
        let text = String::from_utf8_lossy(&self.pending[..cut]).into_owned();
        self.pending.drain(..cut);
        text
    }

    pub fn finish(&mut self) -> String {
        let text = String::from_utf8_lossy(&self.pending).into_owned();
        self.pending.clear();
        text
    }
}

/// Where a trailing, not yet complete UTF-8 sequence starts (the length if there is none).
fn incomplete_tail_start(b: &[u8]) -> usize {
    for back in 1..=3.min(b.len()) {
        let i = b.len() - back;
        let byte = b[i];
        if byte & 0b1100_0000 == 0b1000_0000 {
            continue; // a continuation byte: look further back for the lead byte
        }
        let needed = match byte {
            0xC2..=0xDF => 2,
            0xE0..=0xEF => 3,
            0xF0..=0xF4 => 4,
            _ => return b.len(),
        };
        return if back < needed { i } else { b.len() };
    }
    b.len()
}

/// Where a run is, for the API.
struct Progress {
    state: RunState,
    started_at: Option<String>,
    finished_at: Option<String>,
    /// The output so far, in order, within the caps.
    output: Vec<(Stream, String)>,
    chunkers: [Utf8Chunker; 2],
    report: Option<Arc<Report>>,
    /// Taken when the run starts.
    request: Option<ValidRun>,
}

/// A run from submit until its end is stored.
pub struct RunEntry {
    pub id: String,
    pub caller: CallerId,
    pub profile: String,
    pub created_at: String,
    enqueued: Instant,
    cancel: AtomicBool,
    progress: Mutex<Progress>,
    changed: watch::Sender<()>,
}

impl RunEntry {
    fn new(id: String, caller: CallerId, profile: String, request: ValidRun) -> RunEntry {
        RunEntry {
            id,
            caller,
            profile,
            created_at: now_rfc3339(),
            enqueued: Instant::now(),
            cancel: AtomicBool::new(false),
            progress: Mutex::new(Progress {
                state: RunState::Queued,
                started_at: None,
                finished_at: None,
                output: Vec::new(),
                chunkers: Default::default(),
                report: None,
                request: Some(request),
            }),
            changed: watch::Sender::new(()),
        }
    }

    /// The run as GET /v1/runs/{id} shows it.
    pub fn view(&self) -> StoredRun {
        let p = lock(&self.progress);
        StoredRun {
            id: self.id.clone(),
            state: p.state,
            caller_uid: self.caller,
            profile: self.profile.clone(),
            created_at: self.created_at.clone(),
            started_at: p.started_at.clone(),
            finished_at: p.finished_at.clone(),
            status: p.report.as_ref().map(|r| r.status),
            report: p.report.as_deref().cloned(),
        }
    }

    pub fn report(&self) -> Option<Arc<Report>> {
        lock(&self.progress).report.clone()
    }

    /// Waits until the run has its report.
    pub async fn done(&self) -> Arc<Report> {
        let mut rx = self.changed.subscribe();
        loop {
            rx.borrow_and_update();
            if let Some(r) = self.report() {
                return r;
            }
            // The sender lives as long as `self`: this only ever returns Ok.
            let _ = rx.changed().await;
        }
    }

    fn push_output(&self, stream: Stream, bytes: &[u8]) {
        let mut p = lock(&self.progress);
        let i = stream as usize;
        let text = p.chunkers[i].push(bytes);
        if !text.is_empty() {
            p.output.push((stream, text));
            drop(p);
            self.changed.send_replace(());
        }
    }

    fn set_running(&self) -> String {
        let now = now_rfc3339();
        let mut p = lock(&self.progress);
        p.state = RunState::Running;
        p.started_at = Some(now.clone());
        now
    }

    fn take_request(&self) -> Option<ValidRun> {
        lock(&self.progress).request.take()
    }

    fn finish(&self, state: RunState, report: Report) {
        let mut p = lock(&self.progress);
        for stream in [Stream::Stdout, Stream::Stderr] {
            let rest = p.chunkers[stream as usize].finish();
            if !rest.is_empty() {
                p.output.push((stream, rest));
            }
        }
        p.state = state;
        p.finished_at = Some(report.finished_at.clone());
        p.report = Some(Arc::new(report));
        p.request = None;
        drop(p);
        self.changed.send_replace(());
    }

    /// The run's events from the start: output so far, then live, then the report.
    pub fn events(
        self: Arc<Self>,
    ) -> impl futures_util::Stream<Item = Result<bytes::Bytes, std::convert::Infallible>> + Send {
        let rx = self.changed.subscribe();
        futures_util::stream::unfold((self, rx, 0usize, false), |(entry, mut rx, sent, ended)| async move {
            if ended {
                return None;
            }
            loop {
                rx.borrow_and_update();
                let next = {
                    let p = lock(&entry.progress);
                    if sent < p.output.len() {
                        let mut chunk = Vec::new();
                        for (stream, text) in &p.output[sent..] {
                            chunk.extend(Event::output(*stream, text).line());
                        }
                        Some((chunk, p.output.len(), false))
                    } else {
                        p.report.as_ref().map(|r| (Event::Report { report: r }.line(), sent, true))
                    }
                };
                if let Some((chunk, sent, ended)) = next {
                    return Some((Ok(bytes::Bytes::from(chunk)), (entry, rx, sent, ended)));
                }
                let _ = rx.changed().await;
            }
        })
    }
}

/// A run accepted by the API, ready to queue.
pub struct Submission {
    /// The request, checked (crate::run::request::validate).
    pub run: ValidRun,
    pub caller_uid: u32,
    pub caller_gid: u32,
    pub caller_pid: i32,
    pub limits: CallerLimits,
    /// The language as the caller named it, if it did.
    pub language: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    #[error("the daemon is shutting down and takes no new runs")]
    Draining,
    #[error("the queue is full ({0} runs waiting)")]
    QueueFull(usize),
    #[error("this caller already has {0} runs queued, as many as the policy allows")]
    CallerQueueFull(usize),
    #[error("failed to record the run")]
    Store(#[from] super::store::StoreError),
}

pub enum Cancelled {
    /// No such run in flight (it may be in the store).
    NotLive,
    /// Taken off the queue and recorded as cancelled.
    Dequeued(Arc<RunEntry>),
    /// Running: its jail is being killed.
    Signalled(Arc<RunEntry>),
}

struct Sched {
    queue: FairQueue<String>,
    live: HashMap<String, Arc<RunEntry>>,
    draining: bool,
}

pub struct Runs {
    sup: Arc<Supervisor>,
    store: Arc<Store>,
    metrics: Arc<Metrics>,
    /// Warm jails, taken by runs of their profile.
    pools: Arc<super::pool::Pools>,
    sched: Mutex<Sched>,
    /// (queued, running), for the drain to wait on.
    load: watch::Sender<(usize, usize)>,
    /// Runs that ended while the store could not take their end, oldest first.
    unrecorded: Mutex<Vec<Arc<RunEntry>>>,
    /// Held while unrecorded runs are written, so that each is written once.
    recording: Mutex<()>,
    /// Why the last write to the store failed; None once one succeeds again.
    history_error: Mutex<Option<String>>,
}

/// Whether the history takes writes, for /v1/health.
#[derive(Debug, Clone, Serialize)]
pub struct HistoryHealth {
    /// False since a write failed, until one succeeds again.
    pub writable: bool,
    /// Runs that ended while the history could not take their end: their reports are served
    /// from memory and written once it can.
    pub unrecorded_runs: usize,
    /// The last failure, while it lasts.
    pub error: Option<String>,
}

pub use crate::error_chain::error_chain;

impl Runs {
    pub fn new(
        sup: Arc<Supervisor>,
        store: Arc<Store>,
        metrics: Arc<Metrics>,
        pools: Arc<super::pool::Pools>,
        queue_size: usize,
        concurrency: usize,
    ) -> Runs {
        Runs {
            sup,
            store,
            metrics,
            pools,
            sched: Mutex::new(Sched {
                queue: FairQueue::new(queue_size, concurrency),
                live: HashMap::new(),
                draining: false,
            }),
            load: watch::Sender::new((0, 0)),
            unrecorded: Mutex::new(Vec::new()),
            recording: Mutex::new(()),
            history_error: Mutex::new(None),
        }
    }

    /// (queued, running, queue capacity, concurrency, draining).
    pub fn load(&self) -> (usize, usize, usize, usize, bool) {
        let s = lock(&self.sched);
        (s.queue.queued(), s.queue.running(), s.queue.capacity(), s.queue.concurrency(), s.draining)
    }

    /// The warm jails' pools, for /v1/health.
    pub fn pools(&self) -> Vec<super::pool::PoolView> {
        self.pools.view()
    }

    pub fn is_draining(&self) -> bool {
        lock(&self.sched).draining
    }

    pub fn live(&self, id: &str) -> Option<Arc<RunEntry>> {
        lock(&self.sched).live.get(id).cloned()
    }

    /// A run this daemon knows better than its store does: in flight, or ended but not yet
    /// recorded.
    pub fn find(&self, id: &str) -> Option<Arc<RunEntry>> {
        self.live(id).or_else(|| self.unrecorded(id))
    }

    /// A run that ended while the store could not take its end.
    pub fn unrecorded(&self, id: &str) -> Option<Arc<RunEntry>> {
        lock(&self.unrecorded).iter().find(|e| e.id == id).cloned()
    }

    pub fn history(&self) -> HistoryHealth {
        let error = lock(&self.history_error).clone();
        HistoryHealth { writable: error.is_none(), unrecorded_runs: lock(&self.unrecorded).len(), error }
    }

    /// Notes a failed write to the store: the first failure after a success is a warning,
    /// each failure counts in the metrics.
    fn history_failed(&self, e: &StoreError) {
        let text = error_chain(e);
        self.metrics.history_write_failed();
        let first = lock(&self.history_error).replace(text.clone()).is_none();
        if first {
            tracing::warn!(store = %self.store.path().display(), error = %text, "the run history cannot be written; new runs are refused until it can");
        }
    }

    fn history_written(&self) {
        if lock(&self.history_error).take().is_some() {
            tracing::info!(store = %self.store.path().display(), "the run history takes writes again");
        }
    }

    /// Writes the ends of runs that the store could not take earlier, oldest first, stopping at
    /// the first that still fails (blocking: call from a blocking thread).
    pub fn record_unrecorded(&self) -> Result<(), StoreError> {
        let _one_at_a_time = lock(&self.recording);
        loop {
            let Some(entry) = lock(&self.unrecorded).first().cloned() else { return Ok(()) };
            let (state, started_at, report) = {
                let p = lock(&entry.progress);
                (p.state, p.started_at.clone(), p.report.clone())
            };
            // A run that started while its start could not be recorded either gets it first
            // (a run recorded as running already refuses it, which is fine).
            if let Some(at) = &started_at {
                if let Err(e @ StoreError::MarkRunning { .. }) = self.store.mark_running(&entry.id, at) {
                    self.history_failed(&e);
                    return Err(e);
                }
            }
            let written = match &report {
                Some(report) => self.store.finish(&entry.id, state, report),
                None => Ok(()), // cannot happen: only ended runs are held
            };
            match written {
                Ok(()) => {
                    self.history_written();
                    tracing::info!(run = %entry.id, state = %state, "run's end recorded in the history, late");
                }
                // The store failed to write (a full disk): keep it and try again later.
                Err(e @ StoreError::Finish { .. }) => {
                    self.history_failed(&e);
                    return Err(e);
                }
                // Anything else will not get better by trying again (the run is not in the
                // store, or not in a state to end): said, and let go.
                Err(e) => {
                    tracing::error!(run = %entry.id, error = %error_chain(&e), "run's end cannot be recorded; its report is dropped from memory")
                }
            }
            lock(&self.unrecorded).retain(|e| !Arc::ptr_eq(e, &entry));
        }
    }

    pub fn has_unrecorded(&self) -> bool {
        !lock(&self.unrecorded).is_empty()
    }

    /// Queues a run and records it (blocking: call from a blocking thread). Refused while the
    /// store cannot record it, or cannot record the ends of runs that ended before it.
    pub fn submit(self: &Arc<Self>, sub: Submission) -> Result<Arc<RunEntry>, SubmitError> {
        if self.has_unrecorded() {
            self.record_unrecorded()?;
        }
        let id = sub.run.id.clone();
        let profile = sub.run.profile.name().to_string();
        let code = sub.run.code.clone();
        let input_size = sub.run.input_size;
        let code_sha256 = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(code.as_bytes()));
        let entry = Arc::new(RunEntry::new(id.clone(), sub.caller_uid, profile.clone(), sub.run));
        let mut s = lock(&self.sched);
        if s.draining {
            return Err(SubmitError::Draining);
        }
        if let Err((refusal, _)) = s.queue.push(sub.caller_uid, sub.limits, id.clone()) {
            return Err(match refusal {
                Refusal::Full => SubmitError::QueueFull(s.queue.queued()),
                Refusal::CallerFull => SubmitError::CallerQueueFull(s.queue.queued_by(sub.caller_uid)),
            });
        }
        let record = NewRun {
            id: id.clone(),
            caller_uid: sub.caller_uid,
            caller_gid: sub.caller_gid,
            caller_pid: sub.caller_pid,
            profile,
            language: sub.language,
            code_sha256,
            code_size: code.len() as u64,
            code: Some(code),
            input_size,
            created_at: entry.created_at.clone(),
        };
        // Under the lock, so the run is in the store before anything can start or cancel it.
        if let Err(e) = self.store.insert_queued(&record) {
            s.queue.remove(|x| *x == id);
            drop(s);
            self.history_failed(&e);
            tracing::warn!(run = %id, caller = sub.caller_uid, error = %error_chain(&e), "run refused: it cannot be recorded");
            return Err(e.into());
        }
        s.live.insert(id.clone(), entry.clone());
        tracing::info!(run = %id, caller = sub.caller_uid, pid = sub.caller_pid, profile = %entry.profile, "run queued");
        self.dispatch(&mut s);
        Ok(entry)
    }

    /// Starts whatever the queue lets start now.
    fn dispatch(self: &Arc<Self>, s: &mut Sched) {
        while let Some((caller, id)) = s.queue.start_next() {
            let Some(entry) = s.live.get(&id).cloned() else {
                s.queue.finished(caller);
                continue;
            };
            let started_at = entry.set_running();
            let this = Arc::clone(self);
            tokio::task::spawn_blocking(move || this.execute(entry, started_at));
        }
        let load = (s.queue.queued(), s.queue.running());
        self.metrics.set_load(load.0, load.1);
        self.load.send_replace(load);
    }

    /// One run, on its own blocking thread: that thread is the jail's parent until the run ends.
    fn execute(self: Arc<Self>, entry: Arc<RunEntry>, started_at: String) {
        self.metrics.started(entry.enqueued.elapsed());
        if let Err(e) = self.store.mark_running(&entry.id, &started_at) {
            tracing::warn!(run = %entry.id, error = %error_chain(&e), "failed to record the run as running");
            self.history_failed(&e);
        }
        let busy = self.pools.busy();
        let report = match entry.take_request() {
            Some(run) => {
                let output = |stream: Stream, bytes: &[u8]| entry.push_output(stream, bytes);
                let hooks = RunHooks { cancel: Some(&entry.cancel), output: Some(&output), started: None };
                let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| match self.pools.take(&run) {
                    Some(jail) => self.sup.run_warm(run, jail, &hooks),
                    None => self.sup.run_valid(run, &hooks),
                }));
                ran.unwrap_or_else(|_| {
                    unstarted_report(&entry.id, Status::InternalError, "the supervisor panicked during the run")
                })
            }
            None => unstarted_report(&entry.id, Status::InternalError, "the run's request was lost"),
        };
        self.record_end(&entry, report);
        drop(busy);
        let mut s = lock(&self.sched);
        s.live.remove(&entry.id);
        s.queue.finished(entry.caller);
        self.dispatch(&mut s);
    }

    fn record_end(&self, entry: &Arc<RunEntry>, report: Report) {
        let state = if report.status == Status::Cancelled { RunState::Cancelled } else { RunState::Finished };
        let recorded = self.store.finish(&entry.id, state, &report);
        self.metrics.run_ended(&report, &entry.profile);
        tracing::info!(run = %entry.id, state = %state, status = %report.status, wall_ms = report.usage.wall_ms, "run ended");
        entry.finish(state, report);
        match recorded {
            Ok(()) => self.history_written(),
            Err(e) => {
                tracing::error!(
                    run = %entry.id,
                    store = %self.store.path().display(),
                    error = %error_chain(&e),
                    "failed to record the run's report; it is served from memory and recorded once the history takes writes again"
                );
                self.history_failed(&e);
                // Before the run leaves `live` (the caller removes it): always findable.
                lock(&self.unrecorded).push(Arc::clone(entry));
            }
        }
    }

    /// Cancels a run this caller may see (blocking: the store is written for a queued run).
    pub fn cancel(self: &Arc<Self>, id: &str, may_see: impl Fn(u32) -> bool) -> Cancelled {
        let mut s = lock(&self.sched);
        let Some(entry) = s.live.get(id).cloned().filter(|e| may_see(e.caller)) else { return Cancelled::NotLive };
        if s.queue.remove(|x| x == id).is_some() {
            s.live.remove(id);
            self.dispatch(&mut s);
            drop(s);
            self.record_end(&entry, unstarted_report(id, Status::Cancelled, "cancelled on request before it started"));
            return Cancelled::Dequeued(entry);
        }
        tracing::info!(run = %id, "cancelling: killing the jail");
        entry.cancel.store(true, Ordering::Relaxed);
        Cancelled::Signalled(entry)
    }

    /// Shutdown: take no more runs, record the queued ones as cancelled, let the running ones
    /// finish for up to `deadline`, then cancel them and wait for their reports.
    pub async fn drain(self: &Arc<Self>, deadline: Duration, mut hurry: impl std::future::Future<Output = ()> + Unpin) {
        let queued: Vec<Arc<RunEntry>> = {
            let mut s = lock(&self.sched);
            s.draining = true;
            let ids = s.queue.drain();
            let entries = ids.into_iter().filter_map(|(_, id)| s.live.remove(&id)).collect();
            self.dispatch(&mut s);
            entries
        };
        if !queued.is_empty() {
            tracing::info!(count = queued.len(), "shutting down: queued runs recorded as cancelled");
            let this = Arc::clone(self);
            let recorded = tokio::task::spawn_blocking(move || {
                for entry in queued {
                    this.record_end(
                        &entry,
                        unstarted_report(&entry.id, Status::Cancelled, "the daemon shut down before the run started"),
                    );
                }
            });
            if let Err(e) = recorded.await {
                tracing::error!(error = %e, "failed to record queued runs as cancelled");
            }
        }
        let mut load = self.load.subscribe();
        let idle = |l: &(usize, usize)| l.1 == 0;
        tokio::select! {
            _ = tokio::time::timeout(deadline, load.wait_for(idle)) => {}
            _ = &mut hurry => tracing::info!("second signal: cancelling running runs now"),
        }
        let running: Vec<Arc<RunEntry>> = lock(&self.sched).live.values().cloned().collect();
        if !running.is_empty() {
            tracing::info!(count = running.len(), "drain deadline passed: cancelling running runs");
            for entry in &running {
                entry.cancel.store(true, Ordering::Relaxed);
            }
            if tokio::time::timeout(Duration::from_secs(10), load.wait_for(idle)).await.is_err() {
                tracing::error!("runs still running 10 s after their cancel");
            }
        }
        if self.has_unrecorded() {
            let this = Arc::clone(self);
            let recorded = tokio::task::spawn_blocking(move || this.record_unrecorded()).await;
            if !matches!(recorded, Ok(Ok(()))) {
                let lost: Vec<String> = lock(&self.unrecorded).iter().map(|e| e.id.clone()).collect();
                tracing::error!(
                    runs = ?lost,
                    store = %self.store.path().display(),
                    "shutting down with reports the history could not take: they are lost, and the next start marks these runs interrupted"
                );
            }
        }
    }
}

/// The report of a run that never started (cancelled while queued, or a failure around it).
pub fn unstarted_report(id: &str, status: Status, message: &str) -> Report {
    Report::new(id.to_string(), status, Some(message.to_string()))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn chunker_never_splits_a_character() {
        let text = "aé€😀z";
        let bytes = text.as_bytes();
        for split in 0..=bytes.len() {
            let mut c = Utf8Chunker::default();
            let mut out = c.push(&bytes[..split]);
            out += &c.push(&bytes[split..]);
            out += &c.finish();
            assert_eq!(out, text, "split at {split}");
        }
        // Byte by byte: every piece is whole characters.
        let mut c = Utf8Chunker::default();
        let pieces: Vec<String> = bytes.iter().map(|b| c.push(&[*b])).filter(|s| !s.is_empty()).collect();
        assert_eq!(pieces, ["a", "é", "€", "😀", "z"]);
    }

    #[test]
    fn chunker_replaces_invalid_bytes_like_the_report() {
        let mut c = Utf8Chunker::default();
        let mut out = c.push(b"a\xffb\xe2\x82");
        out += &c.finish();
        assert_eq!(out, String::from_utf8_lossy(b"a\xffb\xe2\x82"));
    }

    #[test]
    fn event_lines() {
        assert_eq!(Event::output(Stream::Stdout, "hi\n").line(), b"{\"type\":\"stdout\",\"data\":\"hi\\n\"}\n");
        assert_eq!(
            Event::State { state: RunState::Interrupted }.line(),
            b"{\"type\":\"state\",\"state\":\"interrupted\"}\n"
        );
    }
}
