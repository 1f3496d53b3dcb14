//! Watching a running jail: the job written, output captured with caps, jail-init's records,
//! denied syscalls answered, wall time, CPU and process limits enforced.

use super::denials::{Denials, MAX_DENIALS, MAX_LOUD_DENIALS};
use super::hooks::{OutputHook, RunHooks, Stream};
use super::jail::{Capture, Jail, JailState, Watched};
use crate::profile::Profile;
use crate::report::Stop;
use crate::sys;
use jail_init::protocol::{Record, MAX_RECORD};
use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use std::os::fd::{AsFd, OwnedFd};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

const POLL_INTERVAL: Duration = Duration::from_millis(50);

/// What the runner writes first on the result pipe, once it waits for its job
/// (supervisor/core/runners: _announce_ready, main).
const READY_LINE: &[u8] = b"{\"v\": 1, \"ready\": true}\n";
const READY_LINE_JS: &[u8] = b"{\"v\":1,\"ready\":true}\n";
/// Longer than any ready line: a result pipe that starts otherwise has no announcement.
const READY_MAX: usize = 64;

/// Stdout and stderr kept from a warm jail's start-up, at most this much each.
const EARLY_OUTPUT: usize = 64 << 10;

impl Jail {
    /// Waits until the runner says it waits for its job, answering the denials of its start and
    /// taking the listener on the way; for a jail made ahead of its request (a warm jail).
    /// Fails when jail-init reports a failed step, anything of the jail ends, or `timeout`
    /// passes first.
    pub fn warm_up(&mut self, timeout: Duration) -> Result<(), String> {
        if self.state != JailState::Ready {
            return Err(format!("jail {}: warm_up() in state {:?}", self.id, self.state));
        }
        let deadline = Instant::now() + timeout;
        let mut buf = vec![0u8; 64 << 10];
        while self.channels.ready.is_none() {
            let now = Instant::now();
            if now >= deadline {
                return Err(format!("the runner did not wait for a job within {} ms", timeout.as_millis()));
            }
            let Some(pidfd) = self.init.pidfd() else { return Err("jail-init is not there".into()) };
            let ch = &mut self.channels;
            let mut polled =
                vec![PollFd::new(pidfd, PollFlags::POLLIN), PollFd::new(self.control.as_fd(), PollFlags::POLLIN)];
            let listener_slot = ch.listener.as_ref().map(|l| {
                polled.push(PollFd::new(l.as_fd(), PollFlags::POLLIN));
                polled.len() - 1
            });
            let mut pipe_slots = [None; 3];
            for (i, p) in ch.pipes.iter().enumerate() {
                if let Some(fd) = p {
                    polled.push(PollFd::new(fd.as_fd(), PollFlags::POLLIN));
                    pipe_slots[i] = Some(polled.len() - 1);
                }
            }
            let ms = PollTimeout::try_from(deadline.saturating_duration_since(now).as_millis().max(1) as i32)
                .unwrap_or(PollTimeout::MAX);
            if let Err(e) = poll(&mut polled, ms) {
                if e != Errno::EINTR {
                    return Err(format!("poll: {e}"));
                }
            }
            let ready = |i: usize| polled[i].revents().map(|r| !r.is_empty()).unwrap_or(false);
            let (pid_ready, control_ready) = (ready(0), ready(1));
            let listener_ready = listener_slot.map(ready).unwrap_or(false);
            let pipe_ready: Vec<bool> = pipe_slots.iter().map(|s| s.map(ready).unwrap_or(false)).collect();
            drop(polled);
            if control_ready {
                read_records(&self.control, &mut ch.records, &mut ch.listener);
            }
            if let Some(f) = &ch.records.setup_failure {
                return Err(f.clone());
            }
            if ch.records.exit_code.is_some() || ch.records.signal.is_some() {
                return Err("the script's process ended before its runner waited for a job".into());
            }
            if listener_ready {
                if let Some(l) = &ch.listener {
                    match answer_notifications(l, &self.prepared.profile, &mut ch.denials) {
                        Answered::Open => {}
                        Answered::Closed => ch.listener = None,
                        Answered::ForeignAbi(detail) => {
                            return Err(format!("the runner used another architecture's syscalls ({detail})"))
                        }
                    }
                }
            }
            for (i, is_ready) in pipe_ready.into_iter().enumerate() {
                if !is_ready {
                    continue;
                }
                let Some(fd) = ch.pipes[i].as_ref() else { continue };
                match nix::unistd::read(fd, &mut buf) {
                    Ok(0) => ch.pipes[i] = None,
                    Ok(n) if i < 2 => {
                        let keep = n.min(EARLY_OUTPUT.saturating_sub(ch.early[i].len()));
                        ch.early[i].extend_from_slice(&buf[..keep]);
                    }
                    Ok(n) => {
                        ch.head.extend_from_slice(&buf[..n]);
                        take_ready_line(&mut ch.head, &mut ch.ready);
                    }
                    Err(Errno::EAGAIN) | Err(Errno::EINTR) => {}
                    Err(_) => ch.pipes[i] = None,
                }
            }
            if self.channels.ready.is_none() && self.channels.pipes[2].is_none() {
                return Err("the runner closed its result pipe before it waited for a job".into());
            }
            if pid_ready {
                return Err("jail-init ended before the runner waited for a job".into());
            }
        }
        self.start_kind = crate::report::Start::Warm;
        self.warm_at = self.channels.ready;
        Ok(())
    }

    /// Watches the running jail until jail-init ends or the supervisor stops it: the job
    /// written as the pipe takes it, output with caps, records from jail-init, denied syscalls,
    /// wall time, CPU and process limits (state [`JailState::Finished`] after). The run's
    /// clock and CPU count from the runner's ready line (a cold jail) or the handover (a warm
    /// one): the interpreter's start is not the job's.
    pub fn watch(&mut self, hooks: &RunHooks<'_>) -> Watched {
        let mut job = self.job.take().map(|fd| (fd, std::mem::take(&mut self.job_pending), 0usize));
        let w = watch_loop(self, hooks, &mut job);
        self.state = JailState::Finished;
        w
    }
}

/// Moves the runner's ready line out of the result pipe's first bytes, if it is complete: the
/// clock starts; what follows it is the result's. Bytes that do not start with a ready line
/// (a runner that never announced itself) are the result's, from the moment that is clear.
fn take_ready_line(head: &mut Vec<u8>, ready: &mut Option<Instant>) -> bool {
    if ready.is_some() {
        return true;
    }
    match head.iter().position(|b| *b == b'\n') {
        Some(i) if &head[..=i] == READY_LINE || &head[..=i] == READY_LINE_JS => {
            head.drain(..=i);
            *ready = Some(Instant::now());
            true
        }
        Some(_) => {
            *ready = Some(Instant::now());
            true
        }
        None if head.len() > READY_MAX => {
            *ready = Some(Instant::now());
            true
        }
        None => false,
    }
}

fn watch_loop(jail: &mut Jail, hooks: &RunHooks<'_>, job: &mut Option<(OwnedFd, Vec<u8>, usize)>) -> Watched {
    let limits = jail.limits;
    let mut w = Watched {
        stdout: Capture::new(limits.stdout.0),
        stderr: Capture::new(limits.stderr.0),
        result: Capture::new(limits.result.0),
        denials: std::mem::take(&mut jail.channels.denials),
        setup_failure: jail.channels.records.setup_failure.take(),
        stopped: None,
        stop_detail: None,
        exit_code: jail.channels.records.exit_code.take(),
        signal: jail.channels.records.signal.take(),
        job_started: None,
        cpu_baseline_ns: 0,
    };
    // What a warm jail's start-up wrote comes first, within the caps like the rest.
    for i in 0..2 {
        let early = std::mem::take(&mut jail.channels.early[i]);
        if !early.is_empty() {
            let kept = capture(&mut w, i).push(&early);
            if let (Some((stream, f)), true) = (stream_hook(hooks, i), kept > 0) {
                f(stream, &early[..kept]);
            }
        }
    }
    let mut pipes = std::mem::take(&mut jail.channels.pipes);
    let mut listener = jail.channels.listener.take();
    let mut head = std::mem::take(&mut jail.channels.head);
    if jail.channels.ready.is_some() && !head.is_empty() {
        w.result.push(&head);
        head.clear();
    }
    let jail = &*jail;
    let profile = &jail.prepared.profile;
    let cgroup = jail.cgroup.as_ref();
    let control = &jail.control;
    let entered = Instant::now();
    // Until the runner's ready line, the deadline bounds its start; from it, the job.
    let mut start = jail.channels.ready.unwrap_or(entered);
    let mut ready = jail.channels.ready.is_some();
    let mut cpu_baseline = jail.channels.cpu_baseline_ns;
    let mut deadline = start + Duration::from_millis(limits.wall_time_ms);
    let cpu_limit_ns = limits.cpu_time_ms * 1_000_000;
    let mut next_check = entered + POLL_INTERVAL;
    let mut exited = w.exit_code.is_some() || w.signal.is_some() || w.setup_failure.is_some();
    let mut buf = vec![0u8; 64 << 10];
    let mut ready_at = jail.channels.ready;

    let stop = |w: &mut Watched, why: Stop, detail: Option<String>| {
        if w.stopped.is_none() {
            w.stopped = Some(why);
            w.stop_detail = detail;
        }
        jail.kill();
    };

    while !exited {
        if hooks.cancel.is_some_and(|c| c.load(Ordering::Relaxed)) {
            stop(&mut w, Stop::Cancelled, None);
            break;
        }
        let now = Instant::now();
        if now >= deadline {
            stop(&mut w, Stop::Timeout, None);
            break;
        }
        if now >= next_check {
            next_check = now + POLL_INTERVAL;
            if cgroup.cpu_time_ns().map(|ns| ns.saturating_sub(cpu_baseline) >= cpu_limit_ns).unwrap_or(false) {
                stop(&mut w, Stop::CpuLimit, None);
                break;
            }
            if cgroup.pids_limit_hit().unwrap_or(false) {
                stop(&mut w, Stop::PidsLimit, None);
                break;
            }
        }
        let timeout = deadline.min(next_check).saturating_duration_since(now);

        let Some(pidfd) = jail.init.pidfd() else {
            w.setup_failure = Some("jail-init is not there to watch".into());
            break;
        };
        let mut polled: Vec<PollFd> =
            vec![PollFd::new(pidfd, PollFlags::POLLIN), PollFd::new(control.as_fd(), PollFlags::POLLIN)];
        let job_slot = job.as_ref().map(|(fd, _, _)| {
            polled.push(PollFd::new(fd.as_fd(), PollFlags::POLLOUT));
            polled.len() - 1
        });
        let listener_slot = listener.as_ref().map(|l| {
            polled.push(PollFd::new(l.as_fd(), PollFlags::POLLIN));
            polled.len() - 1
        });
        let mut pipe_slots = [None; 3];
        for (i, p) in pipes.iter().enumerate() {
            if let Some(fd) = p {
                polled.push(PollFd::new(fd.as_fd(), PollFlags::POLLIN));
                pipe_slots[i] = Some(polled.len() - 1);
            }
        }
        let ms = PollTimeout::try_from(timeout.as_millis().max(1) as i32).unwrap_or(PollTimeout::MAX);
        match poll(&mut polled, ms) {
            Ok(_) | Err(Errno::EINTR) => {}
            Err(e) => {
                w.setup_failure = Some(format!("poll: {e}"));
                stop(&mut w, Stop::Timeout, None);
                break;
            }
        }
        let ready_fd = |i: usize| polled[i].revents().map(|r| !r.is_empty()).unwrap_or(false);
        let pid_ready = ready_fd(0);
        let control_ready = ready_fd(1);
        let listener_ready = listener_slot.map(ready_fd).unwrap_or(false);
        let job_ready = job_slot.map(ready_fd).unwrap_or(false);
        let pipe_ready: Vec<bool> = pipe_slots.iter().map(|s| s.map(ready_fd).unwrap_or(false)).collect();
        drop(polled);

        if job_ready && write_job(job) {
            // All of it is in the pipe: closing it ends the job (the runner reads to the end).
            *job = None;
        }
        if control_ready {
            let mut records = super::jail::Records::default();
            read_records(control, &mut records, &mut listener);
            merge_records(&mut w, records);
            if w.exit_code.is_some() || w.signal.is_some() {
                // The script's main process ended; jail-init is ending the rest of the jail.
                exited = true;
            }
        }
        if listener_ready {
            if let Some(l) = &listener {
                match answer_notifications(l, profile, &mut w.denials) {
                    Answered::Open => {}
                    Answered::Closed => listener = None,
                    Answered::ForeignAbi(detail) => {
                        let detail =
                            format!("a process used another architecture's syscalls ({detail}); the run was stopped");
                        stop(&mut w, Stop::ForeignAbi, Some(detail));
                        break;
                    }
                }
                if w.denials.loud >= MAX_LOUD_DENIALS {
                    let detail = format!("stopped after {MAX_LOUD_DENIALS} denied syscalls");
                    stop(&mut w, Stop::DenialFlood, Some(detail));
                    break;
                }
                if w.denials.answered >= MAX_DENIALS {
                    let detail = format!(
                        "stopped after {MAX_DENIALS} denied syscalls ({} of them routine probes the profile denies quietly, repeated without end)",
                        w.denials.answered - w.denials.loud
                    );
                    stop(&mut w, Stop::DenialFlood, Some(detail));
                    break;
                }
            }
        }
        for (i, is_ready) in pipe_ready.into_iter().enumerate() {
            if !is_ready {
                continue;
            }
            if i == 2 && !ready {
                // The runner's first bytes: its ready line starts the job's clock.
                let state = drain_raw(&mut pipes[2], &mut buf, &mut head);
                let mut at = None;
                if take_ready_line(&mut head, &mut at) {
                    ready = true;
                    let at = at.unwrap_or_else(Instant::now);
                    ready_at = Some(at);
                    start = at;
                    deadline = start + Duration::from_millis(limits.wall_time_ms);
                    cpu_baseline = cgroup.cpu_time_ns().unwrap_or(0);
                    if !head.is_empty() {
                        w.result.push(&head);
                        head.clear();
                        if w.result.truncated {
                            stop(
                                &mut w,
                                Stop::OutputLimit,
                                Some(format!("result exceeded its limit of {}", limits.result)),
                            );
                            exited = true;
                        }
                    }
                }
                if matches!(state, PipeState::Closed) {
                    pipes[2] = None;
                }
                continue;
            }
            match drain_pipe(&mut pipes[i], &mut buf, capture(&mut w, i), stream_hook(hooks, i)) {
                PipeState::Open | PipeState::Closed => {}
                PipeState::Overflow => {
                    let (name, cap) = match i {
                        0 => ("stdout", limits.stdout),
                        1 => ("stderr", limits.stderr),
                        _ => ("result", limits.result),
                    };
                    stop(&mut w, Stop::OutputLimit, Some(format!("{name} exceeded its limit of {cap}")));
                    exited = true;
                }
            }
        }
        if pid_ready {
            tracing::debug!("jail-init ended");
            exited = true;
        }
    }

    // jail-init is gone or being killed: collect what is left without waiting on anyone.
    *job = None;
    jail.kill();
    let mut records = super::jail::Records::default();
    read_records(control, &mut records, &mut listener);
    merge_records(&mut w, records);
    if !ready && !head.is_empty() {
        // Whatever came without a ready line is the result's.
        w.result.push(&head);
    }
    let drain_deadline = Instant::now() + Duration::from_millis(500);
    for (i, pipe) in pipes.iter_mut().enumerate() {
        while pipe.is_some() && Instant::now() < drain_deadline {
            match drain_pipe(pipe, &mut buf, capture(&mut w, i), stream_hook(hooks, i)) {
                PipeState::Open => std::thread::sleep(Duration::from_millis(1)),
                PipeState::Closed => break,
                PipeState::Overflow => {
                    if w.stopped.is_none() && w.exit_code.is_none() {
                        w.stopped = Some(Stop::OutputLimit);
                    }
                    *pipe = None;
                }
            }
        }
    }
    w.job_started = ready_at;
    w.cpu_baseline_ns = cpu_baseline;
    w
}

fn merge_records(w: &mut Watched, r: super::jail::Records) {
    if w.setup_failure.is_none() {
        w.setup_failure = r.setup_failure;
    }
    if r.exit_code.is_some() || r.signal.is_some() {
        w.exit_code = r.exit_code;
        w.signal = r.signal;
    }
}

/// Reads what the pipe has into `into`, without caps (the ready line's few bytes).
fn drain_raw(pipe: &mut Option<OwnedFd>, buf: &mut [u8], into: &mut Vec<u8>) -> PipeState {
    let Some(fd) = pipe else { return PipeState::Closed };
    loop {
        match nix::unistd::read(&*fd, buf) {
            Ok(0) => return PipeState::Closed,
            Ok(n) => into.extend_from_slice(&buf[..n]),
            Err(Errno::EINTR) => continue,
            Err(Errno::EAGAIN) => return PipeState::Open,
            Err(_) => return PipeState::Closed,
        }
        if into.len() > READY_MAX {
            return PipeState::Open;
        }
    }
}

/// Writes as much of the pending job as the pipe takes; true once nothing is left to write (all
/// written, or the runner is gone and the rest will never be read).
fn write_job(job: &mut Option<(OwnedFd, Vec<u8>, usize)>) -> bool {
    let Some((fd, bytes, written)) = job.as_mut() else { return true };
    while *written < bytes.len() {
        match nix::unistd::write(&*fd, &bytes[*written..]) {
            Ok(n) => *written += n,
            Err(Errno::EINTR) => continue,
            Err(Errno::EAGAIN) => return false,
            // EPIPE: the runner closed its end (it failed, or the script ended it).
            Err(_) => return true,
        }
    }
    true
}

fn capture(w: &mut Watched, i: usize) -> &mut Capture {
    match i {
        0 => &mut w.stdout,
        1 => &mut w.stderr,
        _ => &mut w.result,
    }
}

enum PipeState {
    Open,
    Closed,
    Overflow,
}

/// The output hook for pipe `i` (the result pipe is not streamed).
fn stream_hook<'h>(hooks: &RunHooks<'h>, i: usize) -> Option<(Stream, &'h OutputHook<'h>)> {
    let stream = match i {
        0 => Stream::Stdout,
        1 => Stream::Stderr,
        _ => return None,
    };
    hooks.output.map(|f| (stream, f))
}

fn drain_pipe(
    pipe: &mut Option<OwnedFd>,
    buf: &mut [u8],
    cap: &mut Capture,
    hook: Option<(Stream, &OutputHook<'_>)>,
) -> PipeState {
    let Some(fd) = pipe else { return PipeState::Closed };
    loop {
        match nix::unistd::read(&*fd, buf) {
            Ok(0) => {
                *pipe = None;
                return PipeState::Closed;
            }
            Ok(n) => {
                let kept = cap.push(&buf[..n]);
                if let (Some((stream, f)), true) = (hook, kept > 0) {
                    f(stream, &buf[..kept]);
                }
                if cap.truncated {
                    return PipeState::Overflow;
                }
            }
            Err(Errno::EINTR) => continue,
            Err(Errno::EAGAIN) => return PipeState::Open,
            Err(_) => {
                *pipe = None;
                return PipeState::Closed;
            }
        }
    }
}

fn read_records(control: &OwnedFd, w: &mut super::jail::Records, listener: &mut Option<OwnedFd>) {
    let mut buf = vec![0u8; MAX_RECORD];
    loop {
        match sys::recv_with_fds(control.as_fd(), &mut buf) {
            Ok((0, _)) => return,
            Ok((n, mut fds)) => match Record::decode(&buf[..n]) {
                Some(Record::Failed { step, errno, detail }) => {
                    let errno = Errno::from_raw(errno);
                    w.setup_failure.get_or_insert_with(|| {
                        format!("jail setup failed at step {step} ({detail}): {errno} ({})", errno.desc())
                    });
                }
                Some(Record::Listener) if listener.is_none() && !fds.is_empty() => {
                    *listener = Some(fds.remove(0));
                }
                Some(Record::Exited { code, signal }) => {
                    tracing::debug!(?code, ?signal, "script ended");
                    w.exit_code = code;
                    w.signal = signal;
                }
                other => tracing::warn!(record = ?other, "unexpected record from jail-init"),
            },
            Err(Errno::EINTR) => continue,
            Err(_) => return,
        }
    }
}

/// What became of the listener after a batch of notifications.
enum Answered {
    /// Still in use: more may come.
    Open,
    /// Finished (no process uses the filter any more) or broken.
    Closed,
    /// A syscall of another ABI, in the report's words: it is left unanswered (its process
    /// stays blocked in the kernel) and the run must be stopped at once.
    ForeignAbi(String),
}

/// Answers the pending notifications (at most a batch, so that a flood cannot keep the watch
/// loop from its deadlines) with the policy's errno and records them. A syscall of another
/// ABI (i386 `int 0x80`, x32) is recorded as a loud violation named by its own ABI and number,
/// never answered, and ends the batch: the caller stops the run.
fn answer_notifications(listener: &OwnedFd, profile: &Profile, denials: &mut Denials) -> Answered {
    for _ in 0..256 {
        let mut pfd = [PollFd::new(listener.as_fd(), PollFlags::POLLIN)];
        match poll(&mut pfd, PollTimeout::ZERO) {
            Ok(0) => return Answered::Open,
            Ok(_) => {}
            Err(Errno::EINTR) => continue,
            Err(_) => return Answered::Closed,
        }
        let revents = pfd[0].revents().unwrap_or(PollFlags::empty());
        if !revents.contains(PollFlags::POLLIN) {
            // POLLHUP: every task using the filter is gone.
            return if revents.contains(PollFlags::POLLHUP) { Answered::Closed } else { Answered::Open };
        }
        match sys::notif_recv(listener.as_fd()) {
            Ok(n) => {
                if let Some(detail) = crate::seccomp::foreign_abi(n.arch, n.nr) {
                    tracing::warn!(syscall = %detail, pid = n.pid, "a process made a syscall of another architecture; stopping the run");
                    denials.record("syscall", detail.clone(), crate::seccomp::DenialLevel::Violation);
                    return Answered::ForeignAbi(detail);
                }
                let denial = profile.seccomp.denial_of(n.nr, &n.args);
                let (_, detail) = crate::seccomp::describe(n.nr, &n.args);
                tracing::debug!(syscall = %detail, pid = n.pid, level = denial.level.name(), "denied syscall");
                // ENOENT: the task died before the answer; nothing to do.
                let _ = sys::notif_deny(listener.as_fd(), n.id, denial.errno);
                denials.record("syscall", detail, denial.level);
            }
            Err(Errno::EINTR) | Err(Errno::ENOENT) => continue,
            Err(_) => return Answered::Closed,
        }
    }
    Answered::Open
}

/// The watch loop on its own, without root: a real child process stands in for jail-init (its
/// pidfd), real pipes and a socket pair for the jail's descriptors, a cgroup that reports what
/// the test says. The jail tests run the loop on real jails.
#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroup::{CgroupError, CgroupLimits, CgroupUsage, RunCgroup};
    use crate::run::jail::Init;
    use crate::run::prepare::Prepared;
    use nix::sys::socket::{socketpair, AddressFamily, SockFlag, SockType};
    use std::io::Read;
    use std::path::{Path, PathBuf};
    use std::sync::atomic::AtomicBool;
    use std::sync::atomic::AtomicU64;
    use std::sync::Arc;

    #[derive(Default)]
    struct FakeCgroup {
        cpu_ns: Arc<AtomicU64>,
        kills: Arc<AtomicU64>,
    }

    impl RunCgroup for FakeCgroup {
        fn describe(&self) -> String {
            "fake".into()
        }
        fn add_process(&self, _: i32) -> Result<(), CgroupError> {
            Ok(())
        }
        fn set_limits(&self, _: &CgroupLimits) -> Result<(), CgroupError> {
            Ok(())
        }
        fn self_attach_files(&self) -> Vec<PathBuf> {
            vec![]
        }
        fn hugetlb_limited(&self) -> Vec<String> {
            vec![]
        }
        fn cpu_time_ns(&self) -> Result<u64, CgroupError> {
            Ok(self.cpu_ns.load(Ordering::Relaxed))
        }
        fn pids_limit_hit(&self) -> Result<bool, CgroupError> {
            Ok(false)
        }
        fn oom_killed(&self) -> Result<bool, CgroupError> {
            Ok(false)
        }
        fn memory_current(&self) -> Result<u64, CgroupError> {
            Ok(0)
        }
        fn set_background(&self, _: bool) -> Result<(), CgroupError> {
            Ok(())
        }
        fn is_background(&self) -> Result<bool, CgroupError> {
            Ok(false)
        }
        fn usage(&self) -> Result<CgroupUsage, CgroupError> {
            Ok(CgroupUsage::default())
        }
        fn kill_all(&self) -> Result<(), CgroupError> {
            self.kills.fetch_add(1, Ordering::Relaxed);
            Ok(())
        }
        fn destroy(&mut self) -> Result<(), CgroupError> {
            Ok(())
        }
    }

    fn prepared() -> Prepared {
        let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let profile = crate::profile::load(&repo.join("profiles"), "python").unwrap_or_else(|e| panic!("{e}"));
        let interpreter = profile.interpreter(&repo.join("interpreters")).unwrap_or_else(|e| panic!("{e}"));
        let plan = crate::plan::build(&profile, &interpreter.manifest, &profile.file.limits, 6);
        Prepared { profile, interpreter, interpreter_sha256: String::new(), landlock_covered: vec![], plan }
    }

    /// A jail whose "jail-init" is a `sleep` child; returns the test's ends: the control
    /// socket, stdout, stderr and result write ends, and the job pipe's read end.
    struct Rig {
        jail: Jail,
        control: OwnedFd,
        out: [OwnedFd; 3],
        job: OwnedFd,
        cpu_ns: Arc<AtomicU64>,
        kills: Arc<AtomicU64>,
    }

    // The child is reaped through its pidfd, as jail-init is (Init's reap).
    #[allow(clippy::zombie_processes)]
    fn rig(edit: impl FnOnce(&mut crate::profile::Limits)) -> Rig {
        let child = std::process::Command::new("sleep").arg("30").spawn().unwrap_or_else(|e| panic!("sleep: {e}"));
        let pidfd = sys::pidfd_open(child.id() as i32).unwrap_or_else(|e| panic!("pidfd_open: {e}"));
        let (control, control_test) =
            socketpair(AddressFamily::Unix, SockType::SeqPacket, None, SockFlag::SOCK_CLOEXEC)
                .unwrap_or_else(|e| panic!("{e}"));
        let pipe = || nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).unwrap_or_else(|e| panic!("{e}"));
        let ((o_r, o_w), (e_r, e_w), (r_r, r_w), (j_r, j_w)) = (pipe(), pipe(), pipe(), pipe());
        let prepared = prepared();
        let mut limits = prepared.profile.file.limits;
        edit(&mut limits);
        let cgroup = FakeCgroup::default();
        let (cpu_ns, kills) = (cgroup.cpu_ns.clone(), cgroup.kills.clone());
        let enforcement = prepared.enforcement(crate::cgroup::CgroupVersion::V1, 6);
        let jail = Jail {
            id: "t".into(),
            state: JailState::Running,
            prepared,
            cgroup: Box::new(cgroup),
            init: Init { pid: child.id() as i32, pidfd: Some(pidfd), reaped: false, ids: None },
            control,
            channels: crate::run::jail::Channels::new([o_r, e_r, r_r]),
            job: Some(j_w),
            job_pending: b"{\"v\":1}\n".to_vec(),
            limits,
            enforcement,
            started: Some(Instant::now()),
            created: Instant::now(),
            start_kind: crate::report::Start::Cold,
            warm_at: None,
        };
        Rig { jail, control: control_test, out: [o_w, e_w, r_w], job: j_r, cpu_ns, kills }
    }

    fn exited(control: &OwnedFd, code: i32) {
        let record = Record::Exited { code: Some(code), signal: None }.encode();
        nix::sys::socket::send(std::os::fd::AsRawFd::as_raw_fd(control), &record, nix::sys::socket::MsgFlags::empty())
            .unwrap_or_else(|e| panic!("{e}"));
    }

    #[test]
    fn the_job_is_written_output_captured_and_the_end_taken_from_jail_init() {
        let mut r = rig(|_| {});
        nix::unistd::write(&r.out[0], b"hello ").unwrap_or_else(|e| panic!("{e}"));
        nix::unistd::write(&r.out[2], b"{\"ok\":true}").unwrap_or_else(|e| panic!("{e}"));
        exited(&r.control, 0);
        let seen = std::sync::Mutex::new(Vec::new());
        let hook = |s: Stream, b: &[u8]| seen.lock().unwrap_or_else(|p| p.into_inner()).push((s, b.to_vec()));
        drop(r.out);
        let w = r.jail.watch(&RunHooks { output: Some(&hook), ..Default::default() });
        assert_eq!((w.exit_code, w.stopped), (Some(0), None));
        assert_eq!(w.stdout.data, b"hello ");
        assert_eq!(w.result.data, b"{\"ok\":true}");
        assert_eq!(*seen.lock().unwrap_or_else(|p| p.into_inner()), [(Stream::Stdout, b"hello ".to_vec())]);
        let mut job = String::new();
        std::fs::File::from(r.job).read_to_string(&mut job).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(job, "{\"v\":1}\n", "the whole job, then the end of the pipe");
        assert_eq!(r.jail.state(), JailState::Finished);
    }

    #[test]
    fn the_ready_line_starts_the_clock_and_is_not_the_results() {
        let mut r = rig(|l| l.result = crate::profile::ByteSize(4));
        std::thread::sleep(Duration::from_millis(30));
        nix::unistd::write(&r.out[2], READY_LINE).unwrap_or_else(|e| panic!("{e}"));
        nix::unistd::write(&r.out[2], b"{}").unwrap_or_else(|e| panic!("{e}"));
        exited(&r.control, 0);
        drop(r.out);
        let w = r.jail.watch(&RunHooks::default());
        assert_eq!((w.result.data.as_slice(), w.result.truncated, w.stopped), (&b"{}"[..], false, None));
        assert_eq!(w.result.total, 2, "the ready line counts against no cap");
        assert!(
            w.job_started.is_some_and(|t| t > r.jail.created + Duration::from_millis(20)),
            "the clock starts at the ready line"
        );
    }

    #[test]
    fn the_wall_clock_stops_a_jail_that_does_not_end() {
        let mut r = rig(|l| l.wall_time_ms = 100);
        let t = Instant::now();
        let w = r.jail.watch(&RunHooks::default());
        assert_eq!(w.stopped, Some(Stop::Timeout));
        assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
        assert!(r.kills.load(Ordering::Relaxed) > 0, "the cgroup was killed");
        drop(r.control);
    }

    #[test]
    fn cpu_past_the_limit_stops_the_jail() {
        let mut r = rig(|l| l.cpu_time_ms = 100);
        r.cpu_ns.store(200_000_000, Ordering::Relaxed);
        let w = r.jail.watch(&RunHooks::default());
        assert_eq!(w.stopped, Some(Stop::CpuLimit));
    }

    #[test]
    fn output_past_its_cap_stops_the_jail_and_keeps_what_came_before() {
        let mut r = rig(|l| l.stdout = crate::profile::ByteSize(4));
        nix::unistd::write(&r.out[0], b"0123456789").unwrap_or_else(|e| panic!("{e}"));
        let w = r.jail.watch(&RunHooks::default());
        assert_eq!(w.stopped, Some(Stop::OutputLimit));
        assert_eq!((w.stdout.data.as_slice(), w.stdout.total, w.stdout.truncated), (&b"0123"[..], 10, true));
        assert_eq!(w.stop_detail.as_deref(), Some("stdout exceeded its limit of 4B"));
    }

    #[test]
    fn a_cancel_stops_the_jail() {
        let mut r = rig(|_| {});
        let cancel = AtomicBool::new(true);
        let w = r.jail.watch(&RunHooks { cancel: Some(&cancel), ..Default::default() });
        assert_eq!(w.stopped, Some(Stop::Cancelled));
    }

    #[test]
    fn a_runner_that_never_reads_its_job_does_not_block_the_loop() {
        let mut r = rig(|l| l.wall_time_ms = 200);
        r.jail.job_pending = vec![b'x'; 4 << 20];
        drop(r.job);
        let w = r.jail.watch(&RunHooks::default());
        assert_eq!(w.stopped, Some(Stop::Timeout), "EPIPE on the job pipe ends the writing, not the run");
    }
}
