//! The runs in flight: admission into the fair queue, starting runs on blocking threads (each
//! run's thread is its jail's parent), their output as events, cancel, and the drain at
//! shutdown. Every run is written to the store when it is queued, when it starts and when it
//! ends; a run lives here from submit until its end is recorded, then only in the store.
#![forbid(unsafe_code)]

use super::metrics::Metrics;
use super::queue::{CallerId, CallerLimits, FairQueue, Refusal};
use super::store::{NewRun, RunState, Store, StoredRun};
use crate::report::{Report, Status};
use crate::run::{RunHooks, RunRequest, Stream};
use crate::Supervisor;
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
    request: Option<RunRequest>,
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
    fn new(id: String, caller: CallerId, profile: String, request: RunRequest) -> RunEntry {
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

    fn take_request(&self) -> Option<RunRequest> {
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
    pub fn events(self: Arc<Self>) -> impl futures_util::Stream<Item = Result<bytes::Bytes, std::convert::Infallible>> + Send {
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
    pub request: RunRequest,
    pub caller_uid: u32,
    pub caller_gid: u32,
    pub caller_pid: i32,
    pub limits: CallerLimits,
    pub profile: String,
    pub language: Option<String>,
    pub code: String,
    pub input_size: u64,
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
    sched: Mutex<Sched>,
    /// (queued, running), for the drain to wait on.
    load: watch::Sender<(usize, usize)>,
}

impl Runs {
    pub fn new(sup: Arc<Supervisor>, store: Arc<Store>, metrics: Arc<Metrics>, queue_size: usize, concurrency: usize) -> Runs {
        Runs {
            sup,
            store,
            metrics,
            sched: Mutex::new(Sched { queue: FairQueue::new(queue_size, concurrency), live: HashMap::new(), draining: false }),
            load: watch::Sender::new((0, 0)),
        }
    }

    /// (queued, running, queue capacity, concurrency, draining).
    pub fn load(&self) -> (usize, usize, usize, usize, bool) {
        let s = lock(&self.sched);
        (s.queue.queued(), s.queue.running(), s.queue.capacity(), s.queue.concurrency(), s.draining)
    }

    pub fn is_draining(&self) -> bool {
        lock(&self.sched).draining
    }

    pub fn live(&self, id: &str) -> Option<Arc<RunEntry>> {
        lock(&self.sched).live.get(id).cloned()
    }

    /// Queues a run and records it (blocking: call from a blocking thread).
    pub fn submit(self: &Arc<Self>, sub: Submission) -> Result<Arc<RunEntry>, SubmitError> {
        let id = sub.request.id.clone().unwrap_or_else(new_run_id);
        let code_sha256 = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(sub.code.as_bytes()));
        let entry = Arc::new(RunEntry::new(id.clone(), sub.caller_uid, sub.profile.clone(), sub.request));
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
            profile: sub.profile,
            language: sub.language,
            code_sha256,
            code_size: sub.code.len() as u64,
            code: Some(sub.code),
            input_size: sub.input_size,
            created_at: entry.created_at.clone(),
        };
        // Under the lock, so the run is in the store before anything can start or cancel it.
        if let Err(e) = self.store.insert_queued(&record) {
            s.queue.remove(|x| *x == id);
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
            tracing::warn!(run = %entry.id, error = %e, "failed to record the run as running");
        }
        let report = match entry.take_request() {
            Some(request) => {
                let output = |stream: Stream, bytes: &[u8]| entry.push_output(stream, bytes);
                let hooks = RunHooks { cancel: Some(&entry.cancel), output: Some(&output), started: None };
                let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.sup.run_with(request, &hooks)));
                ran.unwrap_or_else(|_| unstarted_report(&entry.id, Status::InternalError, "the supervisor panicked during the run"))
            }
            None => unstarted_report(&entry.id, Status::InternalError, "the run's request was lost"),
        };
        self.record_end(&entry, report);
        let mut s = lock(&self.sched);
        s.live.remove(&entry.id);
        s.queue.finished(entry.caller);
        self.dispatch(&mut s);
    }

    fn record_end(&self, entry: &RunEntry, report: Report) {
        let state = if report.status == Status::Cancelled { RunState::Cancelled } else { RunState::Finished };
        if let Err(e) = self.store.finish(&entry.id, state, &report) {
            tracing::error!(run = %entry.id, error = %e, "failed to record the run's report");
        }
        self.metrics.run_ended(&report, &entry.profile);
        tracing::info!(run = %entry.id, state = %state, status = %report.status, wall_ms = report.usage.wall_ms, "run ended");
        entry.finish(state, report);
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
                    this.record_end(&entry, unstarted_report(&entry.id, Status::Cancelled, "the daemon shut down before the run started"));
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
        assert_eq!(Event::State { state: RunState::Interrupted }.line(), b"{\"type\":\"state\",\"state\":\"interrupted\"}\n");
    }
}
