//! cgroup v2 backend (production hosts: systemd with `Delegate=yes` gives the
//! service its own subtree).
//!
//! Written against `Documentation/admin-guide/cgroup-v2.rst`. **It has only been
//! run against a fake cgroupfs in a temporary directory, never on a real v2
//! kernel** (the development machine is v1/hybrid).
//!
//! Layout, with `<base>` the cgroup from the `0::/path` line of
//! `/proc/self/cgroup`:
//!
//! ```text
//! <base>/                      cgroup.subtree_control = +memory +cpu +pids [+hugetlb]
//!   supervisor/                leaf holding the processes that were in <base>
//!   jaild/                     cgroup.subtree_control = +memory +cpu +pids [+hugetlb]
//!     run.<pid>.<run id>/      limits; the jailed processes
//! ```
//!
//! hugetlb is enabled where `<base>/cgroup.controllers` offers it, and then every run cgroup
//! allows 0 huge pages of every size (`hugetlb.<size>.max` and `hugetlb.<size>.rsvd.max`):
//! huge pages are not charged to `memory.max`. With the controller offered, a limit that cannot
//! be set fails the run's cgroup, naming the file (fail closed).
//!
//! Because of the no-internal-processes rule, controllers can only be enabled
//! in `<base>/cgroup.subtree_control` once `<base>` has no processes of its own,
//! so the processes in `<base>` (ours first, then any others, e.g. a parent
//! server process of the same service) are moved into the `supervisor` leaf.
//! If our own cgroup is already a `supervisor` leaf (an earlier supervisor
//! process of the same service moved us, or we were forked by one), its parent
//! is the base.

use std::collections::BTreeSet;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::thread;
use std::time::{Duration, Instant};

use tracing::{debug, info, warn};

use super::{
    create_new_dir, ensure_dir, error_chain, keyed_from, list_run_dirs, own_pid, read_keyed, read_pids, read_string,
    read_u64, read_u64_opt, remove_cgroup_dir, run_dir_name, sigkill_all, stale_names, write_value, CgroupError,
    CgroupLimits, CgroupUsage, CgroupVersion, Cgroups, MountEntry, ProcCgroupEntry, RunCgroup, JAILD_DIR, KILL_TIMEOUT,
    POLL_INTERVAL,
};

/// Controllers the base cgroup must offer (`cgroup.controllers`).
const CONTROLLERS: [&str; 3] = ["memory", "cpu", "pids"];
/// Enabled too where the base offers it: huge pages are charged to it, not to memory.
const HUGETLB: &str = "hugetlb";
/// Leaf cgroup for the processes found in the base.
const SUPERVISOR_LEAF: &str = "supervisor";
/// Attempts at emptying the base when new processes keep appearing in it.
const ENABLE_ATTEMPTS: usize = 5;
/// How often kill_all re-issues the kill while waiting for the cgroup to empty.
const REKILL_INTERVAL: Duration = Duration::from_millis(100);

/// A cgroup v2 host.
#[derive(Debug)]
pub struct V2Cgroups {
    base: PathBuf,
    /// The base offers the hugetlb controller: it is enabled for the run cgroups, which get a
    /// limit of 0.
    hugetlb: bool,
    /// Whether the base's and `jaild`'s subtree_control have been set up.
    prepared: Mutex<bool>,
    supervisor_pid: u32,
}

fn read_word_set(path: &Path) -> Result<BTreeSet<String>, CgroupError> {
    Ok(read_string(path)?.split_whitespace().map(str::to_string).collect())
}

/// Checks that the base offers the required controllers; returns whether it offers hugetlb.
fn check_controllers(base: &Path) -> Result<bool, CgroupError> {
    let file = base.join("cgroup.controllers");
    let available = read_word_set(&file)?;
    let missing: Vec<String> = CONTROLLERS.iter().filter(|c| !available.contains(**c)).map(|c| c.to_string()).collect();
    if missing.is_empty() {
        Ok(available.contains(HUGETLB))
    } else {
        Err(CgroupError::ControllersMissing { path: file, missing, available: available.into_iter().collect() })
    }
}

fn is_ebusy(e: &CgroupError) -> bool {
    matches!(e, CgroupError::Write { source, .. } if source.raw_os_error() == Some(libc::EBUSY))
}

fn is_esrch(e: &CgroupError) -> bool {
    matches!(e, CgroupError::Write { source, .. } if source.raw_os_error() == Some(libc::ESRCH))
}

/// Moves every process in `dir` into `dir/supervisor`, ours first.
fn evacuate(dir: &Path) -> Result<(), CgroupError> {
    let mut pids = read_pids(&dir.join("cgroup.procs"))?;
    if pids.is_empty() {
        return Ok(());
    }
    let me = i32::try_from(own_pid()).unwrap_or(-1);
    pids.sort_by_key(|p| *p != me); // ours first
    pids.dedup();
    let leaf = dir.join(SUPERVISOR_LEAF);
    ensure_dir(&leaf)?;
    let procs = leaf.join("cgroup.procs");
    for pid in pids {
        match write_value(&procs, &pid.to_string()) {
            Ok(()) => info!(
                pid,
                leaf = %leaf.display(),
                "moved process into the supervisor leaf cgroup (no-internal-processes rule)"
            ),
            Err(e) if is_esrch(&e) => {} // exited meanwhile
            Err(e) if pid == me => return Err(e),
            Err(e) => {
                warn!(pid, error = %error_chain(&e), "could not move process out of the base cgroup")
            }
        }
    }
    Ok(())
}

/// Enables memory, cpu and pids (and hugetlb with `hugetlb`) in
/// `dir/cgroup.subtree_control` unless they already are. With `evacuate_first`, a non-root
/// `dir` that has processes is emptied into the supervisor leaf first.
fn enable_controllers(dir: &Path, evacuate_first: bool, hugetlb: bool) -> Result<(), CgroupError> {
    let file = dir.join("cgroup.subtree_control");
    let enabled = read_word_set(&file)?;
    let wanted: Vec<&str> = CONTROLLERS.iter().copied().chain(hugetlb.then_some(HUGETLB)).collect();
    if wanted.iter().all(|c| enabled.contains(*c)) {
        return Ok(());
    }
    // One write, all or nothing.
    let value = wanted.iter().map(|c| format!("+{c}")).collect::<Vec<_>>().join(" ");
    // The root cgroup (no cgroup.type) is exempt from the no-internal-processes
    // rule; emptying it would move every process on the system.
    let evacuate_first = evacuate_first && dir.join("cgroup.type").exists();
    let mut attempt = 0;
    loop {
        attempt += 1;
        if evacuate_first {
            evacuate(dir)?;
        }
        match write_value(&file, &value) {
            Ok(()) => return Ok(()),
            // A process appeared (forked) in `dir` meanwhile: move it too.
            Err(e) if is_ebusy(&e) && evacuate_first && attempt < ENABLE_ATTEMPTS => {
                debug!(path = %file.display(), attempt, "base cgroup still has processes; retrying");
            }
            Err(e) => return Err(e),
        }
    }
}

impl V2Cgroups {
    pub(crate) fn base(&self) -> &Path {
        &self.base
    }

    pub(crate) fn detect(entries: &[ProcCgroupEntry], mounts: &[MountEntry]) -> Result<Self, CgroupError> {
        let entry = entries
            .iter()
            .find(|e| e.hierarchy_id == 0 && e.controllers.is_empty())
            .ok_or_else(|| CgroupError::V2NotFound { reason: "no \"0::\" line in /proc/self/cgroup".to_string() })?;
        let v2_mounts: Vec<&MountEntry> = mounts.iter().filter(|m| m.fstype == "cgroup2").collect();
        if v2_mounts.is_empty() {
            return Err(CgroupError::V2NotFound { reason: "no cgroup2 mount in /proc/self/mountinfo".to_string() });
        }
        let own = v2_mounts.iter().find_map(|m| m.cgroup_dir(&entry.path).filter(|d| d.is_dir())).ok_or_else(|| {
            CgroupError::V2NotFound {
                reason: format!(
                    "our cgroup {:?} is not a directory under any cgroup2 mount ({})",
                    entry.path,
                    v2_mounts.iter().map(|m| m.mount_point.display().to_string()).collect::<Vec<_>>().join(", ")
                ),
            }
        })?;
        let in_leaf = entry.path.rsplit('/').next() == Some(SUPERVISOR_LEAF);
        let base = match own.parent() {
            Some(parent) if in_leaf => parent.to_path_buf(),
            _ => own,
        };
        let hugetlb = check_controllers(&base)?;
        Ok(V2Cgroups { base, hugetlb, prepared: Mutex::new(false), supervisor_pid: own_pid() })
    }

    /// One-time setup of `<base>` and `<base>/jaild` (see the module docs).
    fn prepare(&self) -> Result<(), CgroupError> {
        let mut prepared = self.prepared.lock().unwrap_or_else(|e| e.into_inner());
        if *prepared {
            return Ok(());
        }
        check_controllers(&self.base)?;
        enable_controllers(&self.base, true, self.hugetlb)?;
        let jaild = self.base.join(JAILD_DIR);
        ensure_dir(&jaild)?;
        enable_controllers(&jaild, false, self.hugetlb)?;
        *prepared = true;
        debug!(base = %self.base.display(), "cgroup v2 base prepared");
        Ok(())
    }
}

impl Cgroups for V2Cgroups {
    fn version(&self) -> CgroupVersion {
        CgroupVersion::V2
    }

    fn create(&self, run_id: &str, limits: &CgroupLimits) -> Result<Box<dyn RunCgroup>, CgroupError> {
        let name = run_dir_name(self.supervisor_pid, run_id)?;
        self.prepare()?;
        let dir = self.base.join(JAILD_DIR).join(name);
        create_new_dir(&dir)?;
        let mut run = V2Run { dir, hugetlb: self.hugetlb, destroyed: false };
        if let Err(err) = run.apply_limits(limits) {
            if let Err(cleanup) = run.destroy() {
                warn!(
                    cgroup = %run.describe(),
                    error = %error_chain(&cleanup),
                    "failed to clean up after failed cgroup creation"
                );
            }
            run.destroyed = true;
            return Err(err);
        }
        debug!(cgroup = %run.describe(), ?limits, "created v2 run cgroup");
        Ok(Box::new(run))
    }

    fn remove_stale(&self) -> Result<Vec<String>, CgroupError> {
        let jaild = self.base.join(JAILD_DIR);
        let mut removed = Vec::new();
        for name in stale_names(list_run_dirs(&jaild)?) {
            let mut run = V2Run { dir: jaild.join(&name), hugetlb: false, destroyed: false };
            match run.destroy() {
                Ok(()) => {
                    info!(cgroup = %run.describe(), "removed stale run cgroup");
                    removed.push(name);
                }
                Err(e) => {
                    warn!(
                        cgroup = %run.describe(),
                        error = %error_chain(&e),
                        "failed to remove stale run cgroup"
                    );
                    run.destroyed = true; // logged; don't retry in Drop
                }
            }
        }
        Ok(removed)
    }
}

/// A run cgroup on v2.
#[derive(Debug)]
pub struct V2Run {
    dir: PathBuf,
    /// hugetlb is enabled for it: every page size is limited to 0.
    hugetlb: bool,
    destroyed: bool,
}

impl V2Run {
    fn apply_limits(&self, limits: &CgroupLimits) -> Result<(), CgroupError> {
        let max_or = |n: u64| {
            if n == 0 {
                "max".to_string()
            } else {
                n.to_string()
            }
        };
        write_value(&self.dir.join("memory.max"), &max_or(limits.memory_bytes))?;
        let swap = self.dir.join("memory.swap.max");
        if swap.exists() {
            write_value(&swap, "0")?;
        } else {
            debug!(path = %swap.display(), "no swap accounting on this kernel; not limiting swap");
        }
        write_value(&self.dir.join("memory.oom.group"), "1")?;
        write_value(&self.dir.join("pids.max"), &max_or(limits.pids))?;
        let period = match limits.cpu_period_us {
            0 => 100_000,
            n => n,
        };
        write_value(&self.dir.join("cpu.max"), &format!("{} {period}", max_or(limits.cpu_quota_us)))?;
        if self.hugetlb {
            // No huge pages at all: neither faulted in (max) nor reserved at mmap time
            // (rsvd.max; a reservation alone would keep the host's pool from others).
            for size in super::hugetlb_sizes(&self.dir, ".max")? {
                write_value(&self.dir.join(format!("hugetlb.{size}.max")), "0")?;
                write_value(&self.dir.join(format!("hugetlb.{size}.rsvd.max")), "0")?;
            }
        }
        Ok(())
    }

    /// `populated` from cgroup.events (missing file: not populated).
    fn populated(&self) -> Result<bool, CgroupError> {
        let path = self.dir.join("cgroup.events");
        match std::fs::read_to_string(&path) {
            Ok(text) => Ok(keyed_from(&path, &text, "populated")? != 0),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(source) => Err(CgroupError::Read { path, source }),
        }
    }

    /// Without cgroup.kill (kernel < 5.14): freeze (5.2+) if possible, SIGKILL
    /// each listed process, unfreeze.
    fn kill_listed(&self, pids: &[i32]) -> Result<(), CgroupError> {
        let freeze = self.dir.join("cgroup.freeze");
        let can_freeze = freeze.exists();
        if can_freeze {
            write_value(&freeze, "1")?;
        }
        // Re-read: nothing forks while frozen.
        let pids = if can_freeze { read_pids(&self.dir.join("cgroup.procs"))? } else { pids.to_vec() };
        let result = sigkill_all(&self.dir, &pids);
        if can_freeze {
            if let Err(e) = write_value(&freeze, "0") {
                if result.is_ok() {
                    return Err(e);
                }
                warn!(error = %error_chain(&e), "failed to unfreeze run cgroup after a failed kill");
            }
        }
        result
    }
}

impl RunCgroup for V2Run {
    fn describe(&self) -> String {
        self.dir.display().to_string()
    }

    fn self_attach_files(&self) -> Vec<PathBuf> {
        vec![self.dir.join("cgroup.procs")]
    }

    fn hugetlb_limited(&self) -> Vec<String> {
        if !self.hugetlb {
            return Vec::new();
        }
        super::hugetlb_sizes(&self.dir, ".max").unwrap_or_default()
    }

    fn set_limits(&self, limits: &CgroupLimits) -> Result<(), CgroupError> {
        self.apply_limits(limits)
    }

    fn add_process(&self, pid: i32) -> Result<(), CgroupError> {
        write_value(&self.dir.join("cgroup.procs"), &pid.to_string())?;
        debug!(pid, cgroup = %self.describe(), "added process to run cgroup");
        Ok(())
    }

    fn cpu_time_ns(&self) -> Result<u64, CgroupError> {
        Ok(read_keyed(&self.dir.join("cpu.stat"), "usage_usec")?.saturating_mul(1000))
    }

    fn pids_limit_hit(&self) -> Result<bool, CgroupError> {
        Ok(read_keyed(&self.dir.join("pids.events"), "max")? > 0)
    }

    fn oom_killed(&self) -> Result<bool, CgroupError> {
        Ok(read_keyed(&self.dir.join("memory.events"), "oom_kill")? > 0)
    }

    fn set_background(&self, background: bool) -> Result<(), CgroupError> {
        write_value(&self.dir.join("cpu.weight"), if background { "1" } else { "100" })
    }

    fn is_background(&self) -> Result<bool, CgroupError> {
        Ok(read_u64(&self.dir.join("cpu.weight"))? == 1)
    }

    fn memory_current(&self) -> Result<u64, CgroupError> {
        read_u64(&self.dir.join("memory.current"))
    }

    fn usage(&self) -> Result<CgroupUsage, CgroupError> {
        let cpu_path = self.dir.join("cpu.stat");
        let cpu = read_string(&cpu_path)?;
        let mem_path = self.dir.join("memory.events");
        let mem = read_string(&mem_path)?;
        let memory_peak_bytes = match read_u64_opt(&self.dir.join("memory.peak"))? {
            Some(v) => v,
            None => {
                debug!(cgroup = %self.describe(), "no memory.peak (kernel < 5.19); reporting 0");
                0
            }
        };
        Ok(CgroupUsage {
            cpu_user_ns: keyed_from(&cpu_path, &cpu, "user_usec")?.saturating_mul(1000),
            cpu_system_ns: keyed_from(&cpu_path, &cpu, "system_usec")?.saturating_mul(1000),
            cpu_total_ns: keyed_from(&cpu_path, &cpu, "usage_usec")?.saturating_mul(1000),
            memory_peak_bytes,
            oom_kills: keyed_from(&mem_path, &mem, "oom_kill")?,
            memory_limit_hits: keyed_from(&mem_path, &mem, "max")?,
            pids_peak: read_u64_opt(&self.dir.join("pids.peak"))?,
            pids_limit_hits: read_keyed(&self.dir.join("pids.events"), "max")?,
        })
    }

    fn kill_all(&self) -> Result<(), CgroupError> {
        if !self.dir.is_dir() {
            return Ok(());
        }
        let procs = self.dir.join("cgroup.procs");
        let kill_file = self.dir.join("cgroup.kill");
        let has_kill = kill_file.exists();
        let start = Instant::now();
        let mut last_kill: Option<Instant> = None;
        loop {
            let pids = read_pids(&procs)?;
            if pids.is_empty() && !self.populated()? {
                return Ok(());
            }
            let waited = start.elapsed();
            if waited >= KILL_TIMEOUT {
                return Err(CgroupError::KillTimeout {
                    path: self.dir.clone(),
                    pids,
                    waited_ms: u64::try_from(waited.as_millis()).unwrap_or(u64::MAX),
                });
            }
            if last_kill.is_none_or(|t| t.elapsed() >= REKILL_INTERVAL) {
                debug!(?pids, cgroup = %self.describe(), has_kill, "killing processes in run cgroup");
                if has_kill {
                    write_value(&kill_file, "1")?;
                } else {
                    self.kill_listed(&pids)?;
                }
                last_kill = Some(Instant::now());
            }
            thread::sleep(POLL_INTERVAL);
        }
    }

    fn destroy(&mut self) -> Result<(), CgroupError> {
        if self.destroyed {
            return Ok(());
        }
        self.kill_all()?;
        remove_cgroup_dir(&self.dir)?;
        self.destroyed = true;
        debug!(cgroup = %self.describe(), "destroyed run cgroup");
        Ok(())
    }
}

impl Drop for V2Run {
    fn drop(&mut self) {
        if !self.destroyed {
            if let Err(e) = self.destroy() {
                warn!(
                    cgroup = %self.describe(),
                    error = %error_chain(&e),
                    "failed to destroy run cgroup on drop"
                );
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::super::fakefs::{self, write_files};
    use super::super::{detect, HostPaths};
    use super::*;
    use std::fs;
    use std::os::unix::process::ExitStatusExt;
    use std::process::Command;

    const FAKE_ROOT: &str = "fakecg2";
    /// Marker file in the fake root: new cgroups lack memory.oom.group.
    const NO_OOM_GROUP: &str = ".no-oom-group";
    /// Marker file in the fake root: new cgroups lack memory.swap.max.
    const NO_SWAP: &str = ".no-swap";
    /// Marker file in the fake root: new cgroups have the hugetlb files (2MB and 1GB pages),
    /// as the kernel creates them when hugetlb is enabled in the parent.
    const HUGETLB_FILES: &str = ".hugetlb";
    /// Marker file in the fake root: the hugetlb files lack rsvd.max (kernels before 5.7).
    const NO_HUGETLB_RSVD: &str = ".no-hugetlb-rsvd";

    fn populate_v2(dir: &Path) {
        let comps: Vec<String> = dir.components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect();
        let Some(i) = comps.iter().position(|c| c == FAKE_ROOT) else {
            return;
        };
        let root: PathBuf = dir.components().take(i + 1).collect();
        write_files(
            dir,
            &[
                ("cgroup.procs", ""),
                ("cgroup.threads", ""),
                ("cgroup.controllers", "cpu memory pids\n"),
                ("cgroup.subtree_control", "\n"),
                ("cgroup.events", "populated 0\nfrozen 0\n"),
                ("cgroup.kill", ""),
                ("cgroup.freeze", "0\n"),
                ("cgroup.type", "domain\n"),
                ("memory.max", "max\n"),
                ("memory.peak", "0\n"),
                ("memory.events", "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\noom_group_kill 0\n"),
                ("cpu.max", "max 100000\n"),
                ("cpu.stat", "usage_usec 0\nuser_usec 0\nsystem_usec 0\nnr_periods 0\nnr_throttled 0\nthrottled_usec 0\nnr_bursts 0\nburst_usec 0\n"),
                ("pids.max", "max\n"),
                ("pids.current", "0\n"),
                ("pids.peak", "0\n"),
                ("pids.events", "max 0\n"),
            ],
        );
        if !root.join(NO_OOM_GROUP).exists() {
            write_files(dir, &[("memory.oom.group", "0\n")]);
        }
        if !root.join(NO_SWAP).exists() {
            write_files(dir, &[("memory.swap.max", "max\n")]);
        }
        if root.join(HUGETLB_FILES).exists() {
            for size in ["2MB", "1GB"] {
                write_files(
                    dir,
                    &[
                        (&format!("hugetlb.{size}.max"), "max\n"),
                        (&format!("hugetlb.{size}.current"), "0\n"),
                        (&format!("hugetlb.{size}.events"), "max 0\n"),
                        (&format!("hugetlb.{size}.numa_stat"), "total=0 N0=0\n"),
                    ],
                );
                if !root.join(NO_HUGETLB_RSVD).exists() {
                    write_files(
                        dir,
                        &[
                            (&format!("hugetlb.{size}.rsvd.max"), "max\n"),
                            (&format!("hugetlb.{size}.rsvd.current"), "0\n"),
                        ],
                    );
                }
            }
        }
    }

    struct FakeV2 {
        _tmp: tempfile::TempDir,
        _guard: fakefs::Guard,
        root: PathBuf,
        base: PathBuf,
        paths: HostPaths,
    }

    impl FakeV2 {
        /// A pure v2 host: `own_path` is our cgroup; the service cgroup
        /// `/system.slice/jaild.service` offers `controllers` and holds `procs`.
        fn new(own_path: &str, controllers: &str, procs: &str) -> FakeV2 {
            let tmp = tempfile::tempdir().unwrap();
            let root = tmp.path().join(FAKE_ROOT);
            let base = root.join("system.slice/jaild.service");
            fs::create_dir_all(&base).unwrap();
            write_files(
                &root,
                &[
                    ("cgroup.controllers", "cpuset cpu io memory hugetlb pids rdma misc\n"),
                    ("cgroup.subtree_control", "cpu memory pids\n"),
                    ("cgroup.procs", "1\n"),
                ],
            );
            write_files(
                &base,
                &[
                    ("cgroup.controllers", controllers),
                    ("cgroup.subtree_control", "\n"),
                    ("cgroup.procs", procs),
                    ("cgroup.type", "domain\n"),
                    ("cgroup.events", "populated 1\nfrozen 0\n"),
                ],
            );
            let guard = fakefs::register(&root, populate_v2);
            if own_path.ends_with("/supervisor") {
                let leaf = root.join(own_path.trim_start_matches('/'));
                fs::create_dir(&leaf).unwrap();
                populate_v2(&leaf);
            }
            let paths = HostPaths {
                proc_self_cgroup: tmp.path().join("cgroup"),
                proc_self_mountinfo: tmp.path().join("mountinfo"),
            };
            fs::write(&paths.proc_self_cgroup, format!("0::{own_path}\n")).unwrap();
            fs::write(
                &paths.proc_self_mountinfo,
                format!(
                    "22 1 259:2 / / rw,relatime shared:1 - ext4 /dev/root rw\n\
                     30 23 0:26 / {} rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot\n",
                    root.display()
                ),
            )
            .unwrap();
            FakeV2 { _tmp: tmp, _guard: guard, root, base, paths }
        }
    }

    fn limits() -> CgroupLimits {
        CgroupLimits { memory_bytes: 64 << 20, pids: 8, cpu_quota_us: 50_000, cpu_period_us: 100_000 }
    }

    fn read(p: &Path) -> String {
        fs::read_to_string(p).unwrap().trim().to_string()
    }

    #[test]
    fn fake_v2_detect_prepare_create_usage_destroy() {
        let me = own_pid();
        let fake = FakeV2::new("/system.slice/jaild.service", "cpu io memory pids\n", &format!("{me}\n"));
        let cg = detect(&fake.paths).unwrap();
        assert_eq!(cg.version(), CgroupVersion::V2);

        let mut run = cg.create("t1", &limits()).unwrap();
        let base = &fake.base;
        // We were moved into the leaf, then controllers enabled on both levels.
        assert_eq!(read(&base.join("supervisor/cgroup.procs")), me.to_string());
        assert_eq!(read(&base.join("cgroup.subtree_control")), "+memory +cpu +pids");
        assert_eq!(read(&base.join("jaild/cgroup.subtree_control")), "+memory +cpu +pids");

        let dir = base.join(format!("jaild/run.{me}.t1"));
        assert_eq!(run.describe(), dir.display().to_string());
        assert_eq!(read(&dir.join("memory.max")), "67108864");
        assert_eq!(read(&dir.join("memory.swap.max")), "0");
        assert_eq!(read(&dir.join("memory.oom.group")), "1");
        assert_eq!(read(&dir.join("pids.max")), "8");
        assert_eq!(read(&dir.join("cpu.max")), "50000 100000");
        // The base offers no hugetlb here: nothing to limit, and the report says so.
        assert!(run.hugetlb_limited().is_empty());
        assert!(!dir.join("hugetlb.2MB.max").exists());

        run.add_process(4242).unwrap();
        assert_eq!(read(&dir.join("cgroup.procs")), "4242");
        fs::write(dir.join("cgroup.procs"), "").unwrap();

        // Usage from real-format contents.
        write_files(
            &dir,
            &[
                ("memory.events", "low 0\nhigh 0\nmax 12\noom 1\noom_kill 1\noom_group_kill 1\nsock_throttled 0\n"),
                ("cpu.stat", "usage_usec 1500\nuser_usec 1000\nsystem_usec 500\nnr_periods 3\nnr_throttled 1\nthrottled_usec 20\nnr_bursts 0\nburst_usec 0\n"),
                ("memory.peak", "33554432\n"),
                ("pids.peak", "5\n"),
                ("pids.events", "max 3\n"),
            ],
        );
        assert_eq!(
            run.usage().unwrap(),
            CgroupUsage {
                cpu_user_ns: 1_000_000,
                cpu_system_ns: 500_000,
                cpu_total_ns: 1_500_000,
                memory_peak_bytes: 33_554_432,
                oom_kills: 1,
                memory_limit_hits: 12,
                pids_peak: Some(5),
                pids_limit_hits: 3,
            }
        );
        assert_eq!(run.cpu_time_ns().unwrap(), 1_500_000);
        assert!(run.oom_killed().unwrap());
        assert!(run.pids_limit_hit().unwrap());
        // Older kernels: no memory.peak / pids.peak.
        fs::remove_file(dir.join("memory.peak")).unwrap();
        fs::remove_file(dir.join("pids.peak")).unwrap();
        let u = run.usage().unwrap();
        assert_eq!((u.memory_peak_bytes, u.pids_peak), (0, None));
        write_files(&dir, &[("cpu.stat", "user_usec 1\n")]);
        let e = run.cpu_time_ns().unwrap_err();
        assert!(e.to_string().contains("cpu.stat") && e.to_string().contains("usage_usec"), "{e}");

        // No reuse of an existing directory.
        let e = cg.create("t1", &limits()).err().unwrap();
        assert!(matches!(e, CgroupError::AlreadyExists { .. }), "{e}");
        assert!(dir.is_dir());

        // Second run: base already prepared.
        let run2 = cg.create("t2", &limits()).unwrap();
        run.destroy().unwrap();
        assert!(!dir.exists());
        run.destroy().unwrap();
        drop(run2);
        assert!(!base.join(format!("jaild/run.{me}.t2")).exists());
        assert!(base.join("jaild").is_dir());
    }

    #[test]
    fn fake_v2_background_is_the_least_cpu_weight_and_back() {
        let me = own_pid();
        let fake = FakeV2::new("/system.slice/jaild.service", "cpu io memory pids\n", &format!("{me}\n"));
        let cg = detect(&fake.paths).unwrap();
        let run = cg.create("bg", &limits()).unwrap();
        let dir = fake.base.join(format!("jaild/run.{me}.bg"));
        fs::write(dir.join("cpu.weight"), "100\n").unwrap(); // as the kernel makes it
        run.set_background(true).unwrap();
        assert_eq!(read(&dir.join("cpu.weight")), "1");
        assert!(run.is_background().unwrap());
        run.set_background(false).unwrap();
        assert_eq!(read(&dir.join("cpu.weight")), "100");
        assert!(!run.is_background().unwrap());
    }

    #[test]
    fn fake_v2_hugetlb_is_enabled_and_every_page_size_limited_to_zero() {
        let me = own_pid();
        let fake = FakeV2::new("/system.slice/jaild.service", "cpu io memory hugetlb pids\n", &format!("{me}\n"));
        fs::write(fake.root.join(HUGETLB_FILES), "").unwrap();
        let cg = detect(&fake.paths).unwrap();
        let run = cg.create("h", &limits()).unwrap();
        for level in [fake.base.clone(), fake.base.join("jaild")] {
            assert_eq!(
                read(&level.join("cgroup.subtree_control")),
                "+memory +cpu +pids +hugetlb",
                "{}",
                level.display()
            );
        }
        let dir = fake.base.join(format!("jaild/run.{me}.h"));
        for size in ["2MB", "1GB"] {
            assert_eq!(read(&dir.join(format!("hugetlb.{size}.max"))), "0");
            assert_eq!(read(&dir.join(format!("hugetlb.{size}.rsvd.max"))), "0");
            // Read-only statistics are left alone.
            assert_eq!(read(&dir.join(format!("hugetlb.{size}.current"))), "0");
        }
        assert_eq!(run.hugetlb_limited(), vec!["1GB".to_string(), "2MB".to_string()]);
        assert_eq!(read(&dir.join("memory.max")), "67108864");
        drop(run);
        assert!(!dir.exists());
    }

    #[test]
    fn fake_v2_hugetlb_added_to_a_base_enabled_without_it() {
        // A base an earlier jaild set up (memory cpu pids) on a kernel that offers hugetlb.
        let fake = FakeV2::new("/system.slice/jaild.service", "cpu memory pids hugetlb\n", "");
        fs::write(fake.root.join(HUGETLB_FILES), "").unwrap();
        write_files(&fake.base, &[("cgroup.subtree_control", "cpu memory pids\n")]);
        let cg = detect(&fake.paths).unwrap();
        let run = cg.create("h2", &limits()).unwrap();
        assert_eq!(read(&fake.base.join("cgroup.subtree_control")), "+memory +cpu +pids +hugetlb");
        assert_eq!(run.hugetlb_limited().len(), 2);
        drop(run);
    }

    #[test]
    fn fake_v2_hugetlb_without_its_files_fails_closed() {
        // Offered and enabled, but the run cgroup shows no hugetlb.<size>.max: no limit can be
        // set, so there is no run cgroup (and no run).
        let fake = FakeV2::new("/system.slice/jaild.service", "cpu memory pids hugetlb\n", "");
        let cg = detect(&fake.paths).unwrap();
        let e = cg.create("hm", &limits()).err().unwrap();
        let dir = fake.base.join(format!("jaild/run.{}.hm", own_pid()));
        assert!(matches!(&e, CgroupError::HugetlbFilesMissing { path, .. } if *path == dir), "{}", error_chain(&e));
        assert!(e.to_string().contains("hugetlb.<size>.max"), "{e}");
        assert!(!dir.exists());
    }

    #[test]
    fn fake_v2_hugetlb_rsvd_limit_that_cannot_be_set_names_the_file() {
        let fake = FakeV2::new("/system.slice/jaild.service", "cpu memory pids hugetlb\n", "");
        fs::write(fake.root.join(HUGETLB_FILES), "").unwrap();
        fs::write(fake.root.join(NO_HUGETLB_RSVD), "").unwrap();
        let cg = detect(&fake.paths).unwrap();
        let e = cg.create("hr", &limits()).err().unwrap();
        assert!(
            matches!(&e, CgroupError::Write { path, value, .. } if path.ends_with("hugetlb.1GB.rsvd.max") && value == "0"),
            "{}",
            error_chain(&e)
        );
        assert!(error_chain(&e).contains("hugetlb.1GB.rsvd.max"), "{}", error_chain(&e));
        assert!(!fake.base.join(format!("jaild/run.{}.hr", own_pid())).exists());
    }

    #[test]
    fn fake_v2_already_enabled_base_is_left_alone() {
        let me = own_pid();
        let fake = FakeV2::new("/system.slice/jaild.service", "cpu memory pids\n", &format!("{me}\n"));
        write_files(&fake.base, &[("cgroup.subtree_control", "cpu memory pids\n")]);
        let cg = detect(&fake.paths).unwrap();
        let run = cg.create("x", &limits()).unwrap();
        assert!(!fake.base.join("supervisor").exists());
        assert_eq!(read(&fake.base.join("cgroup.subtree_control")), "cpu memory pids");
        drop(run);
    }

    #[test]
    fn fake_v2_detect_from_supervisor_leaf() {
        let fake = FakeV2::new("/system.slice/jaild.service/supervisor", "cpu memory pids\n", "");
        let cg = detect(&fake.paths).unwrap();
        let run = cg.create("leaf", &limits()).unwrap();
        assert!(fake.base.join(format!("jaild/run.{}.leaf", own_pid())).is_dir());
        assert!(!fake.base.join("supervisor/jaild").exists());
        drop(run);
    }

    #[test]
    fn fake_v2_root_cgroup_is_not_evacuated() {
        let fake = FakeV2::new("/", "cpu memory pids\n", "");
        // The real root has processes, no cgroup.type, and controllers not yet
        // enabled: it must be enabled directly, not emptied.
        write_files(&fake.root, &[("cgroup.subtree_control", "\n"), ("cgroup.procs", "1\n")]);
        // The fake root offers hugetlb (as a real root does): the kernel then gives new
        // cgroups their hugetlb files.
        fs::write(fake.root.join(HUGETLB_FILES), "").unwrap();
        let cg = detect(&fake.paths).unwrap();
        let run = cg.create("r", &limits()).unwrap();
        assert!(!fake.root.join("supervisor").exists());
        assert_eq!(read(&fake.root.join("cgroup.subtree_control")), "+memory +cpu +pids +hugetlb");
        assert!(fake.root.join(format!("jaild/run.{}.r", own_pid())).is_dir());
        drop(run);
    }

    #[test]
    fn fake_v2_missing_controller_names_it() {
        let fake = FakeV2::new("/system.slice/jaild.service", "cpu io memory\n", "");
        let e = detect(&fake.paths).err().unwrap();
        match &e {
            CgroupError::ControllersMissing { missing, path, .. } => {
                assert_eq!(missing, &vec!["pids".to_string()]);
                assert!(path.ends_with("jaild.service/cgroup.controllers"));
            }
            other => panic!("unexpected {other}"),
        }
        let msg = e.to_string();
        assert!(msg.contains("pids") && msg.contains("Delegate=yes"), "{msg}");
    }

    #[test]
    fn fake_v2_no_cgroup2_mount() {
        let fake = FakeV2::new("/system.slice/jaild.service", "cpu memory pids\n", "");
        fs::write(&fake.paths.proc_self_mountinfo, "22 1 259:2 / / rw - ext4 /dev/root rw\n").unwrap();
        let e = detect(&fake.paths).err().unwrap();
        assert!(matches!(e, CgroupError::V2NotFound { .. }), "{e}");
    }

    /// Plays the kernel: once `trigger` says so, SIGKILLs and reaps the child and
    /// empties the fake cgroup.
    fn fake_kernel_kill(
        dir: PathBuf,
        mut child: std::process::Child,
        via_cgroup_kill: bool,
    ) -> thread::JoinHandle<std::process::ExitStatus> {
        thread::spawn(move || {
            if via_cgroup_kill {
                // Until cgroup.kill says "1" (or the child was killed another way, as the
                // fallback without cgroup.kill does).
                let deadline = Instant::now() + Duration::from_secs(5);
                while read(&dir.join("cgroup.kill")).trim() != "1"
                    && matches!(child.try_wait(), Ok(None))
                    && Instant::now() < deadline
                {
                    thread::sleep(Duration::from_millis(5));
                }
                let _ = child.kill();
            }
            let status = child.wait().unwrap();
            write_files(&dir, &[("cgroup.procs", ""), ("cgroup.events", "populated 0\nfrozen 0\n")]);
            status
        })
    }

    #[test]
    fn fake_v2_kill_all_writes_cgroup_kill() {
        let fake = FakeV2::new("/system.slice/jaild.service", "cpu memory pids\n", "");
        let cg = detect(&fake.paths).unwrap();
        let run = cg.create("k", &limits()).unwrap();
        let dir = fake.base.join(format!("jaild/run.{}.k", own_pid()));
        let child = Command::new("sleep").arg("30").spawn().unwrap();
        let pid = child.id();
        write_files(&dir, &[("cgroup.procs", &format!("{pid}\n")), ("cgroup.events", "populated 1\nfrozen 0\n")]);
        let kernel = fake_kernel_kill(dir.clone(), child, true);
        run.kill_all().unwrap();
        assert_eq!(kernel.join().unwrap().signal(), Some(libc::SIGKILL));
        assert_eq!(read(&dir.join("cgroup.kill")), "1");
        drop(run);
        assert!(!dir.exists());
    }

    #[test]
    fn fake_v2_kill_all_without_cgroup_kill_signals_pids() {
        let fake = FakeV2::new("/system.slice/jaild.service", "cpu memory pids\n", "");
        let cg = detect(&fake.paths).unwrap();
        let mut run = cg.create("k2", &limits()).unwrap();
        let dir = fake.base.join(format!("jaild/run.{}.k2", own_pid()));
        fs::remove_file(dir.join("cgroup.kill")).unwrap(); // kernel < 5.14
        let child = Command::new("sleep").arg("30").spawn().unwrap();
        write_files(
            &dir,
            &[("cgroup.procs", &format!("{}\n", child.id())), ("cgroup.events", "populated 1\nfrozen 0\n")],
        );
        let kernel = fake_kernel_kill(dir.clone(), child, false);
        run.kill_all().unwrap();
        assert_eq!(kernel.join().unwrap().signal(), Some(libc::SIGKILL));
        assert_eq!(read(&dir.join("cgroup.freeze")), "0");
        run.destroy().unwrap();
        assert!(!dir.exists());
    }

    #[test]
    fn fake_v2_remove_stale() {
        let fake = FakeV2::new("/system.slice/jaild.service", "cpu memory pids\n", "");
        let cg = detect(&fake.paths).unwrap();
        assert!(cg.remove_stale().unwrap().is_empty()); // no jaild dir yet
        let live = cg.create("live", &limits()).unwrap();
        let live_dir = fake.base.join(format!("jaild/run.{}.live", own_pid()));
        let stale = fake.base.join("jaild/run.999999999.old");
        fs::create_dir(&stale).unwrap();
        populate_v2(&stale);
        let removed = cg.remove_stale().unwrap();
        assert_eq!(removed, vec!["run.999999999.old".to_string()]);
        assert!(!stale.exists());
        assert!(live_dir.is_dir());
        drop(live);
        assert!(!live_dir.exists());
    }

    #[test]
    fn fake_v2_failed_write_leaves_nothing_behind() {
        let fake = FakeV2::new("/system.slice/jaild.service", "cpu memory pids\n", "");
        fs::write(fake.root.join(NO_OOM_GROUP), "").unwrap();
        let cg = detect(&fake.paths).unwrap();
        let e = cg.create("w", &limits()).err().unwrap();
        assert!(
            matches!(&e, CgroupError::Write { path, value, .. } if path.ends_with("memory.oom.group") && value == "1"),
            "{}",
            error_chain(&e)
        );
        assert!(!fake.base.join(format!("jaild/run.{}.w", own_pid())).exists());
    }

    #[test]
    fn fake_v2_without_swap_accounting() {
        let fake = FakeV2::new("/system.slice/jaild.service", "cpu memory pids\n", "");
        fs::write(fake.root.join(NO_SWAP), "").unwrap();
        let cg = detect(&fake.paths).unwrap();
        let zero = CgroupLimits { memory_bytes: 0, pids: 0, cpu_quota_us: 0, cpu_period_us: 0 };
        let run = cg.create("s", &zero).unwrap();
        let dir = fake.base.join(format!("jaild/run.{}.s", own_pid()));
        assert!(!dir.join("memory.swap.max").exists());
        assert_eq!(read(&dir.join("memory.max")), "max");
        assert_eq!(read(&dir.join("pids.max")), "max");
        assert_eq!(read(&dir.join("cpu.max")), "max 100000");
        drop(run);
    }
}
