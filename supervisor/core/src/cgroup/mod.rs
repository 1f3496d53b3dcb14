//! Per-run cgroups: limits (memory, pids, CPU bandwidth), accounting and
//! reliable killing, on cgroup v2 (production) and v1/hybrid hosts.
//!
//! Every run gets its own cgroup `<base>/jaild/run.<supervisor pid>.<run id>`, where
//! `<base>` is the supervisor's *own* cgroup as listed in `/proc/self/cgroup`
//! (per controller on v1), resolved through the mounts in `/proc/self/mountinfo`.
//! The supervisor pid in the name lets [`Cgroups::remove_stale`] tell leftovers of
//! a crashed supervisor from the live cgroups of a concurrently running one.
//!
//! # Why this is hand-written rather than built on `cgroups-rs`
//!
//! The kernel interface needed here is a handful of single-value reads and
//! writes (`mkdir`, `cgroup.procs`, five limit files, four stat files, the
//! freezer or `cgroup.kill`, `rmdir`), so a library buys little, and what
//! `cgroups-rs` 0.5.1 does differently matters for a jail:
//!
//! * On v1, its plain `Cgroup::new`/`load` put the same relative path under
//!   every hierarchy. It does have `new_with_relative_paths` (fed by
//!   `get_cgroups_relative_paths`, which reads `/proc/self/cgroup`) to put each
//!   controller's cgroup under the process's own cgroup in that hierarchy. So the
//!   hybrid-host layout (memory under `/process_api/<id>`, the others under
//!   `/`) *can* be expressed with it. That is not the reason for avoiding it.
//! * Its v2 code hardcodes `/sys/fs/cgroup` as the unified mount
//!   (`UNIFIED_MOUNTPOINT`, also used by `hierarchies::auto()`'s `statfs` check)
//!   instead of reading mountinfo, so it cannot be pointed at a fake tree for
//!   tests, nor at a cgroup2 mounted anywhere else.
//! * `create_v2_cgroup` ignores the result of writing `cgroup.subtree_control`
//!   (`let _rest = fs::write(..)`) and does nothing about the no-internal-processes
//!   rule, which is exactly the failure that a service without `Delegate=yes`
//!   (or with processes in its own cgroup) runs into. Here that error is reported.
//! * It creates cgroups with `create_dir_all`, so a directory left over by a
//!   crashed run with the same name would be silently reused, with its old limits
//!   and maybe its old processes.
//! * Killing: `Cgroup::kill` is v2-only; on v1 we need freeze → SIGKILL → thaw so
//!   that a forking process cannot escape.
//! * It drags in a second `nix` (0.25), `log` instead of `tracing`, and `zbus`
//!   (a non-optional async D-Bus stack) for the systemd backend we don't use.
//!
//! # Kernel file semantics
//!
//! Every value is written with a single `write(2)` of the whole value, as cgroupfs
//! parses one value per write call. Files are opened without `O_CREAT`.
//!
//! The v2 backend ([`v2`]) has only been exercised against a fake cgroupfs in a
//! temporary directory: the development machine is a v1/hybrid host.
//!
//! # Known limits
//!
//! * Stale detection trusts the pid in the name: if that pid has been reused by
//!   an unrelated live process, the stale cgroup is kept until it exits. Pids are
//!   those of the supervisor's pid namespace.
//! * On v1 with swap accounting, `memory_limit_hits` reads 0 on Linux ≥ ~6.13
//!   (see [`CgroupUsage::memory_limit_hits`]); `oom_kills` is reliable.

use std::collections::BTreeSet;
use std::fmt;
use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use tracing::{debug, warn};

pub mod v1;
pub mod v2;

/// Which cgroup interface the host offers us.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CgroupVersion {
    V1,
    V2,
}

impl fmt::Display for CgroupVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CgroupVersion::V1 => f.write_str("v1"),
            CgroupVersion::V2 => f.write_str("v2"),
        }
    }
}

/// Limits applied to a run cgroup. A value of 0 means "no limit" for
/// `memory_bytes`, `pids` and `cpu_quota_us`; a `cpu_period_us` of 0 means the
/// kernel default of 100 000 µs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CgroupLimits {
    /// Hard limit, no swap (v1: `memory.limit_in_bytes` and
    /// `memory.memsw.limit_in_bytes` when present; v2: `memory.max`,
    /// `memory.swap.max`=0 when present, `memory.oom.group`=1).
    pub memory_bytes: u64,
    /// `pids.max`.
    pub pids: u64,
    /// CFS quota per period (v1 `cpu.cfs_quota_us`/`cpu.cfs_period_us`; v2 `cpu.max`).
    pub cpu_quota_us: u64,
    pub cpu_period_us: u64,
}

/// Resource usage of a run cgroup.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct CgroupUsage {
    pub cpu_user_ns: u64,
    pub cpu_system_ns: u64,
    pub cpu_total_ns: u64,
    /// v1 `memory.max_usage_in_bytes`; v2 `memory.peak` (0 on kernels < 5.19
    /// which lack it).
    pub memory_peak_bytes: u64,
    /// v1 `memory.oom_control` "oom_kill N"; v2 `memory.events` oom_kill.
    pub oom_kills: u64,
    /// v1 `memory.failcnt` + `memory.memsw.failcnt` (with both limits equal the
    /// kernel charges memsw first, so a hit is counted there, except that since
    /// Linux ~6.13 memsw no longer tracks failcnt at all and this reads 0 on v1
    /// when swap accounting is on); v2 `memory.events` max.
    pub memory_limit_hits: u64,
    /// `pids.peak` when the kernel has it.
    pub pids_peak: Option<u64>,
    /// `pids.events` "max N".
    pub pids_limit_hits: u64,
}

/// Where the cgroup filesystem is described: paths as parameters so tests can
/// use a fake tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostPaths {
    pub proc_self_cgroup: PathBuf,
    pub proc_self_mountinfo: PathBuf,
}

impl Default for HostPaths {
    fn default() -> Self {
        HostPaths {
            proc_self_cgroup: PathBuf::from("/proc/self/cgroup"),
            proc_self_mountinfo: PathBuf::from("/proc/self/mountinfo"),
        }
    }
}

/// The host's cgroup setup, as found by [`detect`].
pub trait Cgroups: Send + Sync {
    fn version(&self) -> CgroupVersion;
    /// Creates `<base>/jaild/run.<supervisor pid>.<run_id>` (per controller on v1)
    /// with the limits set. Errors name the file and the errno. Nothing is left
    /// behind on error. `run_id` may contain only ASCII letters, digits, `-`, `_`
    /// and `.`, must start with a letter or digit, and is at most 128 bytes.
    fn create(&self, run_id: &str, limits: &CgroupLimits) -> Result<Box<dyn RunCgroup>, CgroupError>;
    /// Removes run cgroups whose owning supervisor pid (in the name) no longer
    /// exists: kills what is inside, rmdirs. Returns the names removed. Never
    /// touches cgroups of a live supervisor. A stale cgroup that cannot be removed
    /// is logged (`warn`) and skipped; an error is returned only when the
    /// `jaild` directory itself cannot be listed.
    fn remove_stale(&self) -> Result<Vec<String>, CgroupError>;
}

/// One run's cgroup (one directory per hierarchy on v1).
pub trait RunCgroup: Send {
    /// Human-readable location(s), for logs.
    fn describe(&self) -> String;
    /// Moves a process (host pid) into the cgroup (all controllers on v1).
    fn add_process(&self, pid: i32) -> Result<(), CgroupError>;
    /// Sets (or changes) the limits; done before any process joins.
    fn set_limits(&self, limits: &CgroupLimits) -> Result<(), CgroupError>;
    /// Files a new single-threaded process writes "0" to in order to move itself into the
    /// cgroup (the script's process does, inside the jail, before it runs anything).
    ///
    /// On v1 these are the `tasks` files: a thread moving itself skips the kernel's global
    /// `cgroup_threadgroup_rwsem` write lock, whose RCU grace period otherwise stalls every
    /// placement by up to ~10 ms. On v2 it is `cgroup.procs`. The files are opened by the
    /// supervisor: the kernel checks the permission against the opener's credentials (and, on
    /// v2, its cgroup namespace).
    fn self_attach_files(&self) -> Vec<PathBuf>;
    /// The huge page sizes ("2MB", "1GB") this cgroup allows none of (hugetlb limits of 0, set
    /// with the other limits); empty where the host has no hugetlb controller for it.
    fn hugetlb_limited(&self) -> Vec<String>;
    /// Cheap reading of total CPU time used, for polling (v1 `cpuacct.usage`;
    /// v2 `cpu.stat` usage_usec*1000).
    fn cpu_time_ns(&self) -> Result<u64, CgroupError>;
    /// Cheap: has the pids limit refused a fork (`pids.events` max > 0)?
    fn pids_limit_hit(&self) -> Result<bool, CgroupError>;
    /// Cheap: has the OOM killer killed anything here?
    fn oom_killed(&self) -> Result<bool, CgroupError>;
    /// A warm jail's start-up runs in the background: its CPU weight is the least there is
    /// (v1 `cpu.shares` 2, v2 `cpu.weight` 1) until its job is handed over, then the default
    /// (1024, 100), so that a refill never slows down a run that is being served.
    fn set_background(&self, background: bool) -> Result<(), CgroupError>;
    /// Whether the kernel holds the background weight for this cgroup now (what
    /// [`RunCgroup::set_background`] wrote, read back).
    fn is_background(&self) -> Result<bool, CgroupError>;
    /// Memory charged to the cgroup now (v1 `memory.usage_in_bytes`, v2 `memory.current`): what
    /// a warm jail costs while it waits.
    fn memory_current(&self) -> Result<u64, CgroupError>;
    fn usage(&self) -> Result<CgroupUsage, CgroupError>;
    /// Kills every process in the cgroup and waits (bounded, ~2 s) until it is
    /// empty. v2: `cgroup.kill`. v1: freezer (FROZEN, SIGKILL every pid in
    /// `cgroup.procs`, THAWED), looping until `cgroup.procs` is empty.
    fn kill_all(&self) -> Result<(), CgroupError>;
    /// `kill_all`, then rmdir (retrying briefly on EBUSY). Idempotent.
    fn destroy(&mut self) -> Result<(), CgroupError>;
}

/// Everything that can go wrong; each variant names the file or thing involved.
#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    #[error("failed to read {}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("failed to write {value:?} to {}", path.display())]
    Write {
        path: PathBuf,
        value: String,
        #[source]
        source: io::Error,
    },
    #[error("failed to list directory {}", path.display())]
    ListDir {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("failed to create cgroup directory {}", path.display())]
    CreateDir {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("cgroup directory {} already exists (left over from an earlier run with the same name?); refusing to reuse it", path.display())]
    AlreadyExists { path: PathBuf },
    #[error("failed to remove cgroup directory {}", path.display())]
    RemoveDir {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("failed to parse {}: {reason}", path.display())]
    Parse { path: PathBuf, reason: String },
    #[error("failed to send SIGKILL to pid {pid} (member of {})", path.display())]
    Signal {
        pid: i32,
        path: PathBuf,
        #[source]
        source: Errno,
    },
    #[error("processes {pids:?} still in {} after {waited_ms} ms of killing", path.display())]
    KillTimeout { path: PathBuf, pids: Vec<i32>, waited_ms: u64 },
    #[error("cgroup controllers {missing:?} are not available in {} (it offers {available:?}); under systemd the service needs Delegate=yes", path.display())]
    ControllersMissing { path: PathBuf, missing: Vec<String>, available: Vec<String> },
    #[error("the hugetlb controller is enabled for {} but it has no hugetlb.<size>{suffix} file to limit huge pages with", path.display())]
    HugetlbFilesMissing { path: PathBuf, suffix: &'static str },
    #[error("cgroup v1 controller {controller} is not usable: {reason}")]
    V1ControllerMissing { controller: String, reason: String },
    #[error("no cgroup v2 mount found: {reason}")]
    V2NotFound { reason: String },
    #[error("invalid run id {run_id:?}: {reason}")]
    InvalidRunId { run_id: String, reason: &'static str },
    #[error("no usable cgroup setup: {reason}")]
    Unsupported { reason: String },
}

/// Detects the host's layout: pure v2 (cgroup2 with controllers memory, cpu and
/// pids available to our cgroup) or v1/hybrid (v1 memory, cpu, cpuacct, pids and
/// freezer hierarchies). Errors say what is missing.
pub fn detect(paths: &HostPaths) -> Result<Box<dyn Cgroups>, CgroupError> {
    let cgroup_text = read_string(&paths.proc_self_cgroup)?;
    let mountinfo_text = read_string(&paths.proc_self_mountinfo)?;
    let entries = parse_proc_cgroup(&paths.proc_self_cgroup, &cgroup_text)?;
    let mounts = parse_mountinfo(&paths.proc_self_mountinfo, &mountinfo_text)?;

    let v2_err = match v2::V2Cgroups::detect(&entries, &mounts) {
        Ok(c) => {
            debug!(base = %c.base().display(), "using cgroup v2");
            return Ok(Box::new(c));
        }
        Err(e) => e,
    };
    let has_v1 = mounts.iter().any(|m| m.fstype == "cgroup" && v1::REQUIRED.iter().any(|c| m.has_option(c)));
    if !has_v1 {
        return Err(v2_err);
    }
    match v1::V1Cgroups::detect(&entries, &mounts) {
        Ok(c) => {
            debug!(
                v2_unusable_because = %error_chain(&v2_err),
                layout = %c.describe_layout(),
                "using cgroup v1"
            );
            Ok(Box::new(c))
        }
        Err(v1_err) => Err(CgroupError::Unsupported {
            reason: format!("cgroup v2: {}; cgroup v1: {}", error_chain(&v2_err), error_chain(&v1_err)),
        }),
    }
}

// ---------------------------------------------------------------------------
// Shared helpers (used by v1 and v2).
// ---------------------------------------------------------------------------

/// Name of the per-supervisor-base directory holding the run cgroups.
pub(crate) const JAILD_DIR: &str = "jaild";
const RUN_PREFIX: &str = "run.";
const MAX_RUN_ID_LEN: usize = 128;
/// How long kill_all waits for the cgroup to empty.
pub(crate) const KILL_TIMEOUT: Duration = Duration::from_secs(2);
/// How long rmdir is retried on EBUSY.
pub(crate) const RMDIR_TIMEOUT: Duration = Duration::from_secs(1);
pub(crate) const POLL_INTERVAL: Duration = Duration::from_millis(10);

pub(crate) use crate::error_chain::error_chain;

/// `run.<pid>.<run_id>`
pub(crate) fn run_dir_name(supervisor_pid: u32, run_id: &str) -> Result<String, CgroupError> {
    validate_run_id(run_id)?;
    Ok(format!("{RUN_PREFIX}{supervisor_pid}.{run_id}"))
}

fn validate_run_id(run_id: &str) -> Result<(), CgroupError> {
    let bad = |reason| Err(CgroupError::InvalidRunId { run_id: run_id.to_string(), reason });
    if run_id.is_empty() {
        return bad("it is empty");
    }
    if run_id.len() > MAX_RUN_ID_LEN {
        return bad("it is longer than 128 bytes");
    }
    if !run_id.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.')) {
        return bad("only ASCII letters, digits, '-', '_' and '.' are allowed");
    }
    if !run_id.as_bytes()[0].is_ascii_alphanumeric() {
        return bad("it must start with an ASCII letter or digit");
    }
    Ok(())
}

/// The supervisor pid encoded in a run cgroup's name, if it is one.
pub(crate) fn parse_run_name(name: &str) -> Option<i32> {
    let rest = name.strip_prefix(RUN_PREFIX)?;
    let (pid, run_id) = rest.split_once('.')?;
    if run_id.is_empty() || pid.is_empty() || !pid.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let pid: i32 = pid.parse().ok()?;
    (pid > 0).then_some(pid)
}

/// Whether a process with this pid exists (conservatively true when unsure).
pub(crate) fn pid_alive(pid: i32) -> bool {
    if pid <= 0 {
        return true;
    }
    match kill(Pid::from_raw(pid), None) {
        Ok(()) => true,
        Err(Errno::ESRCH) => false,
        Err(_) => true, // EPERM: exists but is not ours.
    }
}

/// Our own pid as recorded in run cgroup names.
pub(crate) fn own_pid() -> u32 {
    std::process::id()
}

/// Writes `value` to a cgroup file with exactly one `write(2)` of the whole value.
pub(crate) fn write_value(path: &Path, value: &str) -> Result<(), CgroupError> {
    let err = |source: io::Error| CgroupError::Write { path: path.to_path_buf(), value: value.to_string(), source };
    let mut file = OpenOptions::new().write(true).truncate(true).open(path).map_err(err)?;
    loop {
        match file.write(value.as_bytes()) {
            Ok(n) if n == value.len() => break,
            Ok(n) => {
                return Err(err(io::Error::new(
                    io::ErrorKind::WriteZero,
                    format!("short write: {n} of {} bytes", value.len()),
                )))
            }
            // Nothing was written; the retry is again a single whole-value write.
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(err(e)),
        }
    }
    debug!(path = %path.display(), value, "wrote cgroup file");
    Ok(())
}

pub(crate) fn read_string(path: &Path) -> Result<String, CgroupError> {
    fs::read_to_string(path).map_err(|source| CgroupError::Read { path: path.to_path_buf(), source })
}

/// Reads a file holding a single unsigned number.
pub(crate) fn read_u64(path: &Path) -> Result<u64, CgroupError> {
    let text = read_string(path)?;
    text.trim().parse::<u64>().map_err(|e| CgroupError::Parse {
        path: path.to_path_buf(),
        reason: format!("expected a number, got {:?}: {e}", text.trim()),
    })
}

/// Like [`read_u64`], `None` when the file does not exist.
pub(crate) fn read_u64_opt(path: &Path) -> Result<Option<u64>, CgroupError> {
    match read_u64(path) {
        Ok(v) => Ok(Some(v)),
        Err(CgroupError::Read { source, .. }) if source.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Looks up `key` in flat-keyed content (`KEY VALUE` lines).
pub(crate) fn flat_keyed(text: &str, key: &str) -> Option<Result<u64, String>> {
    text.lines().find_map(|line| {
        let mut it = line.split_whitespace();
        (it.next() == Some(key)).then(|| match it.next() {
            Some(v) => v.parse::<u64>().map_err(|e| format!("value {v:?} of key {key:?}: {e}")),
            None => Err(format!("key {key:?} has no value")),
        })
    })
}

/// Reads `key` from a flat-keyed file; a missing key is a parse error.
pub(crate) fn read_keyed(path: &Path, key: &str) -> Result<u64, CgroupError> {
    let text = read_string(path)?;
    keyed_from(path, &text, key)
}

pub(crate) fn keyed_from(path: &Path, text: &str, key: &str) -> Result<u64, CgroupError> {
    match flat_keyed(text, key) {
        Some(Ok(v)) => Ok(v),
        Some(Err(reason)) => Err(CgroupError::Parse { path: path.to_path_buf(), reason }),
        None => Err(CgroupError::Parse { path: path.to_path_buf(), reason: format!("no {key:?} entry") }),
    }
}

/// The huge page sizes of a hugetlb cgroup directory, from its `hugetlb.<size><suffix>` files
/// (v2 `.max`, v1 `.limit_in_bytes`; not the `.rsvd` ones): "2MB", "1GB". The controller
/// being there without any is an error (its limits could not be set).
pub(crate) fn hugetlb_sizes(dir: &Path, suffix: &'static str) -> Result<Vec<String>, CgroupError> {
    let rd = fs::read_dir(dir).map_err(|source| CgroupError::ListDir { path: dir.to_path_buf(), source })?;
    let mut sizes = BTreeSet::new();
    for entry in rd {
        let entry = entry.map_err(|source| CgroupError::ListDir { path: dir.to_path_buf(), source })?;
        let name = entry.file_name();
        let Some(size) = name.to_str().and_then(|n| n.strip_prefix("hugetlb.")).and_then(|n| n.strip_suffix(suffix))
        else {
            continue;
        };
        if !size.is_empty() && !size.contains('.') {
            sizes.insert(size.to_string());
        }
    }
    if sizes.is_empty() {
        return Err(CgroupError::HugetlbFilesMissing { path: dir.to_path_buf(), suffix });
    }
    Ok(sizes.into_iter().collect())
}

/// Pids listed in a `cgroup.procs` file; a missing file (cgroup already
/// removed) reads as empty.
pub(crate) fn read_pids(procs: &Path) -> Result<Vec<i32>, CgroupError> {
    let text = match fs::read_to_string(procs) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => return Err(CgroupError::Read { path: procs.to_path_buf(), source }),
    };
    text.split_whitespace()
        .map(|p| {
            p.parse::<i32>()
                .map_err(|e| CgroupError::Parse { path: procs.to_path_buf(), reason: format!("bad pid {p:?}: {e}") })
        })
        .collect()
}

/// SIGKILLs `pids` (members of the cgroup at `cgroup`), never ourselves or init.
/// Returns the first failure other than "no such process".
pub(crate) fn sigkill_all(cgroup: &Path, pids: &[i32]) -> Result<(), CgroupError> {
    let me = own_pid();
    let mut first_err = None;
    for &pid in pids {
        if pid <= 1 || u32::try_from(pid) == Ok(me) {
            warn!(pid, cgroup = %cgroup.display(), "refusing to kill this pid listed in a run cgroup");
            continue;
        }
        match kill(Pid::from_raw(pid), Signal::SIGKILL) {
            Ok(()) | Err(Errno::ESRCH) => {}
            Err(source) => {
                first_err.get_or_insert(CgroupError::Signal { pid, path: cgroup.to_path_buf(), source });
            }
        }
    }
    first_err.map_or(Ok(()), Err)
}

/// Creates a directory that may already exist (shared parents like `jaild`).
pub(crate) fn ensure_dir(path: &Path) -> Result<(), CgroupError> {
    match fs::create_dir(path) {
        Ok(()) => {
            debug!(path = %path.display(), "created cgroup directory");
            #[cfg(test)]
            fakefs::on_mkdir(path);
            Ok(())
        }
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        Err(source) => Err(CgroupError::CreateDir { path: path.to_path_buf(), source }),
    }
}

/// Creates a run cgroup directory, which must not exist yet.
pub(crate) fn create_new_dir(path: &Path) -> Result<(), CgroupError> {
    match fs::create_dir(path) {
        Ok(()) => {
            debug!(path = %path.display(), "created cgroup directory");
            #[cfg(test)]
            fakefs::on_mkdir(path);
            Ok(())
        }
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            Err(CgroupError::AlreadyExists { path: path.to_path_buf() })
        }
        Err(source) => Err(CgroupError::CreateDir { path: path.to_path_buf(), source }),
    }
}

/// rmdir of a cgroup directory, retried on EBUSY for up to [`RMDIR_TIMEOUT`];
/// an already missing directory counts as removed.
pub(crate) fn remove_cgroup_dir(path: &Path) -> Result<(), CgroupError> {
    #[cfg(test)]
    fakefs::before_rmdir(path);
    let deadline = Instant::now() + RMDIR_TIMEOUT;
    loop {
        match fs::remove_dir(path) {
            Ok(()) => {
                debug!(path = %path.display(), "removed cgroup directory");
                return Ok(());
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) && Instant::now() < deadline => {
                thread::sleep(POLL_INTERVAL);
            }
            Err(source) => return Err(CgroupError::RemoveDir { path: path.to_path_buf(), source }),
        }
    }
}

/// Names of run cgroups (`run.<pid>.<id>`) directly under `dir`, with their pid.
/// A missing `dir` has none.
pub(crate) fn list_run_dirs(dir: &Path) -> Result<Vec<(String, i32)>, CgroupError> {
    let list_err = |source| CgroupError::ListDir { path: dir.to_path_buf(), source };
    let rd = match fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(list_err(e)),
    };
    let mut out = Vec::new();
    for entry in rd {
        let entry = entry.map_err(list_err)?;
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        let is_dir = entry.file_type().map(|t| t.is_dir()).unwrap_or(false);
        if !is_dir {
            continue;
        }
        if let Some(pid) = parse_run_name(&name) {
            out.push((name, pid));
        }
    }
    Ok(out)
}

/// Of the run cgroups found, those whose supervisor is gone.
pub(crate) fn stale_names(found: impl IntoIterator<Item = (String, i32)>) -> BTreeSet<String> {
    let me = own_pid();
    found
        .into_iter()
        .filter(|(_, pid)| u32::try_from(*pid) != Ok(me) && !pid_alive(*pid))
        .map(|(name, _)| name)
        .collect()
}

// ---------------------------------------------------------------------------
// /proc/self/cgroup and /proc/self/mountinfo
// ---------------------------------------------------------------------------

/// One line of `/proc/<pid>/cgroup`: `hierarchy-id:controller-list:path`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ProcCgroupEntry {
    pub hierarchy_id: u32,
    /// Empty for the v2 entry (`0::/path`).
    pub controllers: Vec<String>,
    pub path: String,
}

pub(crate) fn parse_proc_cgroup(file: &Path, text: &str) -> Result<Vec<ProcCgroupEntry>, CgroupError> {
    let mut out = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        // The path may itself contain ':'.
        let mut parts = line.splitn(3, ':');
        let (Some(id), Some(ctrls), Some(path)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(CgroupError::Parse { path: file.to_path_buf(), reason: format!("malformed line {line:?}") });
        };
        let hierarchy_id = id.parse::<u32>().map_err(|e| CgroupError::Parse {
            path: file.to_path_buf(),
            reason: format!("bad hierarchy id in {line:?}: {e}"),
        })?;
        out.push(ProcCgroupEntry {
            hierarchy_id,
            controllers: ctrls.split(',').filter(|c| !c.is_empty()).map(str::to_string).collect(),
            path: path.to_string(),
        });
    }
    Ok(out)
}

/// The parts of a `/proc/self/mountinfo` line we need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MountEntry {
    /// Root of the mount within its filesystem (field 4).
    pub root: String,
    pub mount_point: PathBuf,
    pub fstype: String,
    /// Super-block options, e.g. `rw,cpu,cpuacct` for a v1 hierarchy.
    pub super_options: Vec<String>,
}

impl MountEntry {
    pub(crate) fn has_option(&self, opt: &str) -> bool {
        self.super_options.iter().any(|o| o == opt)
    }

    /// Filesystem directory of the cgroup `cgroup_path` (as written in
    /// /proc/self/cgroup) inside this mount, if the mount shows it.
    pub(crate) fn cgroup_dir(&self, cgroup_path: &str) -> Option<PathBuf> {
        if !cgroup_path.starts_with('/') || cgroup_path.split('/').any(|c| c == "..") {
            return None; // Outside our cgroup namespace, or unexpected.
        }
        let rel = if self.root == "/" {
            cgroup_path
        } else {
            let rest = cgroup_path.strip_prefix(self.root.as_str())?;
            if !(rest.is_empty() || rest.starts_with('/')) {
                return None;
            }
            rest
        };
        let rel = rel.trim_start_matches('/');
        Some(if rel.is_empty() { self.mount_point.clone() } else { self.mount_point.join(rel) })
    }
}

/// Undoes mountinfo's octal escapes (`\040` for space and so on).
fn unescape_mountinfo(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' && i + 4 <= bytes.len() {
            let oct = &bytes[i + 1..i + 4];
            if oct.iter().all(|b| (b'0'..=b'7').contains(b)) {
                let v = u32::from(oct[0] - b'0') * 64 + u32::from(oct[1] - b'0') * 8 + u32::from(oct[2] - b'0');
                if let Ok(b) = u8::try_from(v) {
                    out.push(b);
                    i += 4;
                    continue;
                }
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

pub(crate) fn parse_mountinfo(file: &Path, text: &str) -> Result<Vec<MountEntry>, CgroupError> {
    let mut out = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let fields: Vec<&str> = line.split(' ').collect();
        let sep = fields.iter().skip(6).position(|f| *f == "-").map(|p| p + 6);
        let (Some(sep), true) = (sep, fields.len() >= 6) else {
            return Err(CgroupError::Parse { path: file.to_path_buf(), reason: format!("malformed line {line:?}") });
        };
        let Some(fstype) = fields.get(sep + 1) else {
            return Err(CgroupError::Parse {
                path: file.to_path_buf(),
                reason: format!("no filesystem type in {line:?}"),
            });
        };
        let super_options = fields.get(sep + 3).map(|o| o.split(',').map(str::to_string).collect()).unwrap_or_default();
        out.push(MountEntry {
            root: unescape_mountinfo(fields[3]),
            mount_point: PathBuf::from(unescape_mountinfo(fields[4])),
            fstype: (*fstype).to_string(),
            super_options,
        });
    }
    Ok(out)
}

// ---------------------------------------------------------------------------
// Test support: a fake cgroupfs in a temporary directory.
// ---------------------------------------------------------------------------

/// On a real cgroupfs the kernel fills a new cgroup directory with its interface
/// files and lets rmdir remove it with them. A fake tree registered here gets the
/// same treatment from the hooks in [`ensure_dir`], [`create_new_dir`] and
/// [`remove_cgroup_dir`]; the hooks do nothing for paths outside registered roots
/// and do not exist outside `cfg(test)`.
#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
pub(crate) mod fakefs {
    use std::path::{Path, PathBuf};
    use std::sync::Mutex;

    /// Fills a freshly created fake cgroup directory with interface files.
    pub(crate) type Populate = fn(&Path);

    static ROOTS: Mutex<Vec<(PathBuf, Populate)>> = Mutex::new(Vec::new());

    fn find(path: &Path) -> Option<Populate> {
        let roots = ROOTS.lock().unwrap_or_else(|e| e.into_inner());
        roots.iter().find(|(root, _)| path.starts_with(root)).map(|(_, p)| *p)
    }

    /// Registers `root` as a fake cgroupfs; dropping the guard unregisters it.
    pub(crate) fn register(root: &Path, populate: Populate) -> Guard {
        let root = root.to_path_buf();
        ROOTS.lock().unwrap_or_else(|e| e.into_inner()).push((root.clone(), populate));
        Guard(root)
    }

    pub(crate) struct Guard(PathBuf);

    impl Drop for Guard {
        fn drop(&mut self) {
            ROOTS.lock().unwrap_or_else(|e| e.into_inner()).retain(|(r, _)| r != &self.0);
        }
    }

    pub(crate) fn on_mkdir(path: &Path) {
        if let Some(populate) = find(path) {
            populate(path);
        }
    }

    pub(crate) fn before_rmdir(path: &Path) {
        if find(path).is_none() {
            return;
        }
        if let Ok(rd) = std::fs::read_dir(path) {
            for e in rd.flatten() {
                if e.file_type().map(|t| t.is_file()).unwrap_or(false) {
                    let _ = std::fs::remove_file(e.path());
                }
            }
        }
    }

    /// Writes `files` (name, contents) into `dir`.
    /// Writes each file whole, through a rename: a reader (the code under test, polling on
    /// another thread) sees the old or the new content, as with the kernel's cgroup files,
    /// never a truncated one.
    pub(crate) fn write_files(dir: &Path, files: &[(&str, &str)]) {
        for (name, contents) in files {
            let tmp = dir.join(format!(".{name}.tmp"));
            std::fs::write(&tmp, contents).unwrap();
            std::fs::rename(&tmp, dir.join(name)).unwrap();
        }
    }
}

/// Helpers for tests on the real host.
#[cfg(test)]
pub(crate) mod hosttest {
    use super::*;

    /// Returns the reason to skip when the real-kernel tests cannot run here;
    /// panics instead of skipping when `CI=true`.
    pub(crate) fn require_v1_root(test: &str) -> Option<Box<dyn Cgroups>> {
        let reason = if !nix::unistd::geteuid().is_root() {
            Some("not running as root".to_string())
        } else {
            match detect(&HostPaths::default()) {
                Ok(c) if c.version() == CgroupVersion::V1 => return Some(c),
                Ok(c) => Some(format!("host cgroups are {}, not v1", c.version())),
                Err(e) => Some(format!("cgroup detection failed: {}", error_chain(&e))),
            }
        };
        let reason = reason.unwrap_or_default();
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("{test}: cannot run real-kernel cgroup v1 test under CI=true: {reason}");
        }
        eprintln!("skipping {test}: {reason}");
        None
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn run_names_round_trip() {
        let name = run_dir_name(1234, "abc-1.x_y").unwrap();
        assert_eq!(name, "run.1234.abc-1.x_y");
        assert_eq!(parse_run_name(&name), Some(1234));
        assert_eq!(parse_run_name("run.12"), None);
        assert_eq!(parse_run_name("run.12."), None);
        assert_eq!(parse_run_name("run..x"), None);
        assert_eq!(parse_run_name("run.-5.x"), None);
        assert_eq!(parse_run_name("run.0.x"), None);
        assert_eq!(parse_run_name("supervisor"), None);
        assert_eq!(parse_run_name("run.99999999999.x"), None);
        for bad in ["", "a/b", "..", ".x", "-x", "a b", "ü", "a\0", &"x".repeat(129)] {
            assert!(matches!(run_dir_name(1, bad), Err(CgroupError::InvalidRunId { .. })), "{bad:?} accepted");
        }
    }

    #[test]
    fn proc_cgroup_parsing() {
        let text = "9:name=systemd:/\n4:memory:/process_api/ab:c\n2:cpu,cpuacct:/\n0::/system.slice/x.service\n";
        let e = parse_proc_cgroup(Path::new("/proc/self/cgroup"), text).unwrap();
        assert_eq!(e.len(), 4);
        assert_eq!(e[1].controllers, vec!["memory"]);
        assert_eq!(e[1].path, "/process_api/ab:c");
        assert_eq!(e[2].controllers, vec!["cpu", "cpuacct"]);
        assert_eq!(e[3].hierarchy_id, 0);
        assert!(e[3].controllers.is_empty());
        assert_eq!(e[3].path, "/system.slice/x.service");
        assert!(parse_proc_cgroup(Path::new("x"), "garbage\n").is_err());
    }

    #[test]
    fn mountinfo_parsing_and_cgroup_dirs() {
        let text = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid shared:7 master:3 - cgroup cgroup rw,cpu,cpuacct
35 31 0:32 /process_api /mnt/my\\040mem rw,relatime - cgroup cgroup rw,memory
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw,nsdelegate
";
        let m = parse_mountinfo(Path::new("mi"), text).unwrap();
        assert_eq!(m.len(), 4);
        assert_eq!(m[1].fstype, "cgroup");
        assert!(m[1].has_option("cpu") && m[1].has_option("cpuacct"));
        assert!(!m[1].has_option("memory"));
        assert_eq!(m[2].mount_point, PathBuf::from("/mnt/my mem"));
        assert_eq!(m[2].root, "/process_api");
        assert_eq!(m[3].fstype, "cgroup2");
        assert_eq!(m[1].cgroup_dir("/"), Some(PathBuf::from("/sys/fs/cgroup/cpu,cpuacct")));
        assert_eq!(m[1].cgroup_dir("/a/b"), Some(PathBuf::from("/sys/fs/cgroup/cpu,cpuacct/a/b")));
        assert_eq!(m[2].cgroup_dir("/process_api/x"), Some(PathBuf::from("/mnt/my mem/x")));
        assert_eq!(m[2].cgroup_dir("/process_api"), Some(PathBuf::from("/mnt/my mem")));
        assert_eq!(m[2].cgroup_dir("/process_apix"), None);
        assert_eq!(m[2].cgroup_dir("/other"), None);
        assert_eq!(m[3].cgroup_dir("/../x"), None);
        assert!(parse_mountinfo(Path::new("mi"), "1 2 3\n").is_err());
    }

    #[test]
    fn flat_keyed_parsing() {
        let t = "low 0\nhigh 0\nmax 12\noom 1\noom_kill 3\n";
        assert_eq!(flat_keyed(t, "max"), Some(Ok(12)));
        assert_eq!(flat_keyed(t, "oom_kill"), Some(Ok(3)));
        assert_eq!(flat_keyed(t, "oom"), Some(Ok(1)));
        assert_eq!(flat_keyed(t, "nope"), None);
        assert!(matches!(flat_keyed("max x\n", "max"), Some(Err(_))));
        assert!(matches!(keyed_from(Path::new("f"), t, "nope"), Err(CgroupError::Parse { .. })));
    }

    #[test]
    fn single_write_and_pid_liveness() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("memory.max");
        fs::write(&f, "max\n").unwrap();
        write_value(&f, "64").unwrap();
        assert_eq!(fs::read_to_string(&f).unwrap(), "64");
        // Files are never created.
        let e = write_value(&dir.path().join("missing"), "1").unwrap_err();
        let msg = error_chain(&e);
        assert!(msg.contains("failed to write \"1\" to") && msg.contains("missing"), "{msg}");
        assert!(msg.contains("os error 2"), "{msg}");
        assert!(pid_alive(i32::try_from(own_pid()).unwrap()));
        assert!(!pid_alive(999_999_999));
    }
}
