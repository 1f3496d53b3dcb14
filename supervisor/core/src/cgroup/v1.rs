//! cgroup v1 backend, also used on hybrid hosts (v1 controllers plus an
//! otherwise empty cgroup2 mount).
//!
//! Each required controller's hierarchy is found from `/proc/self/mountinfo`
//! (super options name the controllers, so `cpu,cpuacct` co-mounts and separate
//! mounts both work) and the run cgroup goes under the process's own cgroup *in
//! that hierarchy* (from `/proc/self/cgroup`) + `jaild/`. The freezer is used only
//! to kill reliably.
//!
//! Where a hugetlb hierarchy is mounted it is used like the others: the run gets a cgroup
//! there too (the script joins it with the rest) whose `hugetlb.<size>.limit_in_bytes` and
//! `hugetlb.<size>.rsvd.limit_in_bytes` are 0 for every page size, since huge pages are not
//! charged to the memory controller. Mounted but unusable, or a limit that cannot be set,
//! fails (fail closed); not mounted, the seccomp policy is what keeps huge pages out of reach.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::thread;
use std::time::Instant;

use nix::unistd::{sysconf, SysconfVar};
use tracing::{debug, info, warn};

use super::{
    create_new_dir, ensure_dir, error_chain, list_run_dirs, own_pid, read_keyed, read_pids, read_string, read_u64,
    read_u64_opt, remove_cgroup_dir, run_dir_name, sigkill_all, stale_names, write_value, CgroupError, CgroupLimits,
    CgroupUsage, CgroupVersion, Cgroups, MountEntry, ProcCgroupEntry, RunCgroup, JAILD_DIR, KILL_TIMEOUT,
    POLL_INTERVAL,
};

/// Controllers a v1 host must offer.
pub(crate) const REQUIRED: [&str; 5] = ["memory", "cpu", "cpuacct", "pids", "freezer"];
/// Used when mounted: runs get a hugetlb limit of 0.
pub(crate) const HUGETLB: &str = "hugetlb";

/// How long to wait for `freezer.state` to go from FREEZING to FROZEN before
/// killing anyway.
const FREEZE_WAIT: std::time::Duration = std::time::Duration::from_millis(200);

/// One v1 hierarchy that serves one or more of the required controllers.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Hierarchy {
    /// Required controllers served by this hierarchy, e.g. `["cpu", "cpuacct"]`.
    controllers: Vec<String>,
    /// The supervisor's own cgroup directory in this hierarchy.
    base: PathBuf,
}

/// A v1/hybrid host.
#[derive(Debug)]
pub struct V1Cgroups {
    hierarchies: Vec<Hierarchy>,
    supervisor_pid: u32,
}

impl V1Cgroups {
    pub(crate) fn detect(entries: &[ProcCgroupEntry], mounts: &[MountEntry]) -> Result<Self, CgroupError> {
        let mut hierarchies: Vec<Hierarchy> = Vec::new();
        let hugetlb_mounted = mounts.iter().any(|m| m.fstype == "cgroup" && m.has_option(HUGETLB));
        for controller in REQUIRED.into_iter().chain(hugetlb_mounted.then_some(HUGETLB)) {
            let missing =
                |reason: String| CgroupError::V1ControllerMissing { controller: controller.to_string(), reason };
            let entry = entries
                .iter()
                .find(|e| e.hierarchy_id != 0 && e.controllers.iter().any(|c| c == controller))
                .ok_or_else(|| missing("no entry for it in /proc/self/cgroup".to_string()))?;
            let candidates: Vec<&MountEntry> =
                mounts.iter().filter(|m| m.fstype == "cgroup" && m.has_option(controller)).collect();
            if candidates.is_empty() {
                return Err(missing("no v1 cgroup mount with it in /proc/self/mountinfo".to_string()));
            }
            let base =
                candidates.iter().find_map(|m| m.cgroup_dir(&entry.path).filter(|d| d.is_dir())).ok_or_else(|| {
                    missing(format!(
                        "our cgroup {:?} is not a directory under any of its mounts ({})",
                        entry.path,
                        candidates.iter().map(|m| m.mount_point.display().to_string()).collect::<Vec<_>>().join(", ")
                    ))
                })?;
            match hierarchies.iter_mut().find(|h| h.base == base) {
                Some(h) => h.controllers.push(controller.to_string()),
                None => hierarchies.push(Hierarchy { controllers: vec![controller.to_string()], base }),
            }
        }
        Ok(V1Cgroups { hierarchies, supervisor_pid: own_pid() })
    }

    /// `memory=/sys/fs/cgroup/memory/x cpu,cpuacct=/sys/fs/cgroup/cpu,cpuacct ...`
    pub(crate) fn describe_layout(&self) -> String {
        self.hierarchies
            .iter()
            .map(|h| format!("{}={}", h.controllers.join(","), h.base.display()))
            .collect::<Vec<_>>()
            .join(" ")
    }

    fn build(&self, name: &str, limits: &CgroupLimits, run: &mut V1Run) -> Result<(), CgroupError> {
        for h in &self.hierarchies {
            let parent = h.base.join(JAILD_DIR);
            ensure_dir(&parent)?;
            let path = parent.join(name);
            create_new_dir(&path)?;
            run.dirs.push(RunDir { controllers: h.controllers.clone(), path });
        }
        run.apply_limits(limits)
    }
}

impl Cgroups for V1Cgroups {
    fn version(&self) -> CgroupVersion {
        CgroupVersion::V1
    }

    fn create(&self, run_id: &str, limits: &CgroupLimits) -> Result<Box<dyn RunCgroup>, CgroupError> {
        let name = run_dir_name(self.supervisor_pid, run_id)?;
        let mut run = V1Run { dirs: Vec::new(), destroyed: false };
        if let Err(err) = self.build(&name, limits, &mut run) {
            // Remove only what this call created (a leftover directory that made
            // it fail is not in `run.dirs`).
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
        debug!(cgroup = %run.describe(), ?limits, "created v1 run cgroup");
        Ok(Box::new(run))
    }

    fn remove_stale(&self) -> Result<Vec<String>, CgroupError> {
        let mut found = Vec::new();
        for h in &self.hierarchies {
            found.extend(list_run_dirs(&h.base.join(JAILD_DIR))?);
        }
        let mut removed = Vec::new();
        for name in stale_names(found) {
            let dirs: Vec<RunDir> = self
                .hierarchies
                .iter()
                .map(|h| RunDir { controllers: h.controllers.clone(), path: h.base.join(JAILD_DIR).join(&name) })
                .filter(|d| d.path.is_dir())
                .collect();
            let mut run = V1Run { dirs, destroyed: false };
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
                    // Logged; don't retry in Drop.
                    run.destroyed = true;
                }
            }
        }
        Ok(removed)
    }
}

#[derive(Debug)]
struct RunDir {
    controllers: Vec<String>,
    path: PathBuf,
}

/// A run cgroup on v1: one directory per hierarchy.
#[derive(Debug)]
pub struct V1Run {
    dirs: Vec<RunDir>,
    destroyed: bool,
}

impl V1Run {
    fn dir(&self, controller: &str) -> Result<&Path, CgroupError> {
        self.dirs.iter().find(|d| d.controllers.iter().any(|c| c == controller)).map(|d| d.path.as_path()).ok_or_else(
            || CgroupError::V1ControllerMissing {
                controller: controller.to_string(),
                reason: "this run cgroup has no directory for it".to_string(),
            },
        )
    }

    fn apply_limits(&self, limits: &CgroupLimits) -> Result<(), CgroupError> {
        let mem = self.dir("memory")?;
        let mem_value = match limits.memory_bytes {
            0 => "-1".to_string(),
            n => n.to_string(),
        };
        if let Ok(dir) = self.dir(HUGETLB) {
            // No huge pages at all: neither charged (limit) nor reserved at mmap time (rsvd;
            // a reservation alone would keep the host's pool from others).
            for size in super::hugetlb_sizes(dir, ".limit_in_bytes")? {
                write_value(&dir.join(format!("hugetlb.{size}.limit_in_bytes")), "0")?;
                write_value(&dir.join(format!("hugetlb.{size}.rsvd.limit_in_bytes")), "0")?;
            }
        }
        // limit_in_bytes first: memsw.limit_in_bytes may not go below it.
        write_value(&mem.join("memory.limit_in_bytes"), &mem_value)?;
        let memsw = mem.join("memory.memsw.limit_in_bytes");
        if memsw.exists() {
            write_value(&memsw, &mem_value)?;
        } else {
            debug!(path = %memsw.display(), "no swap accounting; swap usage is not limited");
        }

        let pids_value = match limits.pids {
            0 => "max".to_string(),
            n => n.to_string(),
        };
        write_value(&self.dir("pids")?.join("pids.max"), &pids_value)?;

        let cpu = self.dir("cpu")?;
        let period = match limits.cpu_period_us {
            0 => 100_000,
            n => n,
        };
        write_value(&cpu.join("cpu.cfs_period_us"), &period.to_string())?;
        let quota = match limits.cpu_quota_us {
            0 => "-1".to_string(),
            n => n.to_string(),
        };
        write_value(&cpu.join("cpu.cfs_quota_us"), &quota)?;
        Ok(())
    }

    /// All pids in any of the run's directories.
    fn all_pids(&self) -> Result<Vec<i32>, CgroupError> {
        let mut pids = BTreeSet::new();
        for d in &self.dirs {
            pids.extend(read_pids(&d.path.join("cgroup.procs"))?);
        }
        Ok(pids.into_iter().collect())
    }

    fn existing_freezer(&self) -> Option<&Path> {
        self.dir("freezer").ok().filter(|p| p.is_dir())
    }

    /// One freeze → SIGKILL everything → thaw round. While frozen nothing can
    /// fork, so every process alive is in the list we signal; a fork in progress
    /// is aborted by the pending SIGKILL once thawed.
    fn kill_round(&self) -> Result<(), CgroupError> {
        let freezer = self.existing_freezer();
        if let Some(f) = freezer {
            let state = f.join("freezer.state");
            write_value(&state, "FROZEN")?;
            let deadline = Instant::now() + FREEZE_WAIT;
            loop {
                match read_string(&state) {
                    Ok(s) if s.trim() == "FROZEN" => break,
                    Ok(s) if Instant::now() >= deadline => {
                        debug!(path = %state.display(), state = s.trim(), "not frozen yet; killing anyway");
                        break;
                    }
                    Ok(_) => thread::sleep(POLL_INTERVAL),
                    Err(e) => {
                        debug!(error = %error_chain(&e), "cannot read freezer state; killing anyway");
                        break;
                    }
                }
            }
        }
        let where_ =
            freezer.map(Path::to_path_buf).or_else(|| self.dirs.first().map(|d| d.path.clone())).unwrap_or_default();
        let result = self.all_pids().and_then(|pids| sigkill_all(&where_, &pids));
        if let Some(f) = freezer {
            let thawed = write_value(&f.join("freezer.state"), "THAWED");
            match (&result, thawed) {
                (Ok(()), Err(e)) => return Err(e),
                (Err(_), Err(e)) => {
                    warn!(error = %error_chain(&e), "failed to thaw run cgroup after a failed kill")
                }
                (_, Ok(())) => {}
            }
        }
        result
    }
}

/// Nanoseconds per `USER_HZ` tick (cpuacct.stat units).
fn ns_per_tick() -> u64 {
    match sysconf(SysconfVar::CLK_TCK) {
        Ok(Some(hz)) if hz > 0 => 1_000_000_000 / u64::try_from(hz).unwrap_or(100),
        _ => 10_000_000,
    }
}

impl RunCgroup for V1Run {
    fn describe(&self) -> String {
        self.dirs
            .iter()
            .map(|d| format!("{}={}", d.controllers.join(","), d.path.display()))
            .collect::<Vec<_>>()
            .join(" ")
    }

    fn set_limits(&self, limits: &CgroupLimits) -> Result<(), CgroupError> {
        self.apply_limits(limits)
    }

    fn add_process(&self, pid: i32) -> Result<(), CgroupError> {
        let value = pid.to_string();
        for d in &self.dirs {
            write_value(&d.path.join("cgroup.procs"), &value)?;
        }
        debug!(pid, cgroup = %self.describe(), "added process to run cgroup");
        Ok(())
    }

    fn self_attach_files(&self) -> Vec<PathBuf> {
        self.dirs.iter().map(|d| d.path.join("tasks")).collect()
    }

    fn hugetlb_limited(&self) -> Vec<String> {
        self.dir(HUGETLB).ok().and_then(|d| super::hugetlb_sizes(d, ".limit_in_bytes").ok()).unwrap_or_default()
    }

    fn cpu_time_ns(&self) -> Result<u64, CgroupError> {
        read_u64(&self.dir("cpuacct")?.join("cpuacct.usage"))
    }

    fn pids_limit_hit(&self) -> Result<bool, CgroupError> {
        Ok(read_keyed(&self.dir("pids")?.join("pids.events"), "max")? > 0)
    }

    fn oom_killed(&self) -> Result<bool, CgroupError> {
        Ok(read_keyed(&self.dir("memory")?.join("memory.oom_control"), "oom_kill")? > 0)
    }

    fn set_background(&self, background: bool) -> Result<(), CgroupError> {
        write_value(&self.dir("cpu")?.join("cpu.shares"), if background { "2" } else { "1024" })
    }

    fn is_background(&self) -> Result<bool, CgroupError> {
        Ok(read_u64(&self.dir("cpu")?.join("cpu.shares"))? == 2)
    }

    fn memory_current(&self) -> Result<u64, CgroupError> {
        read_u64(&self.dir("memory")?.join("memory.usage_in_bytes"))
    }

    fn usage(&self) -> Result<CgroupUsage, CgroupError> {
        let acct = self.dir("cpuacct")?;
        let cpu_total_ns = read_u64(&acct.join("cpuacct.usage"))?;
        let (cpu_user_ns, cpu_system_ns) =
            match (read_u64_opt(&acct.join("cpuacct.usage_user"))?, read_u64_opt(&acct.join("cpuacct.usage_sys"))?) {
                (Some(user), Some(sys)) => (user, sys),
                _ => {
                    let stat = acct.join("cpuacct.stat");
                    let tick = ns_per_tick();
                    (read_keyed(&stat, "user")?.saturating_mul(tick), read_keyed(&stat, "system")?.saturating_mul(tick))
                }
            };
        let mem = self.dir("memory")?;
        let pids = self.dir("pids")?;
        Ok(CgroupUsage {
            cpu_user_ns,
            cpu_system_ns,
            cpu_total_ns,
            memory_peak_bytes: read_u64(&mem.join("memory.max_usage_in_bytes"))?,
            oom_kills: read_keyed(&mem.join("memory.oom_control"), "oom_kill")?,
            memory_limit_hits: read_u64(&mem.join("memory.failcnt"))?
                .saturating_add(read_u64_opt(&mem.join("memory.memsw.failcnt"))?.unwrap_or(0)),
            pids_peak: read_u64_opt(&pids.join("pids.peak"))?,
            pids_limit_hits: read_keyed(&pids.join("pids.events"), "max")?,
        })
    }

    fn kill_all(&self) -> Result<(), CgroupError> {
        let start = Instant::now();
        loop {
            let pids = self.all_pids()?;
            if pids.is_empty() {
                return Ok(());
            }
            let waited = start.elapsed();
            if waited >= KILL_TIMEOUT {
                return Err(CgroupError::KillTimeout {
                    path: self
                        .existing_freezer()
                        .map(Path::to_path_buf)
                        .or_else(|| self.dirs.first().map(|d| d.path.clone()))
                        .unwrap_or_default(),
                    pids,
                    waited_ms: u64::try_from(waited.as_millis()).unwrap_or(u64::MAX),
                });
            }
            debug!(?pids, cgroup = %self.describe(), "killing processes in run cgroup");
            self.kill_round()?;
            thread::sleep(POLL_INTERVAL);
        }
    }

    fn destroy(&mut self) -> Result<(), CgroupError> {
        if self.destroyed {
            return Ok(());
        }
        self.kill_all()?;
        let mut first_err = None;
        for d in self.dirs.iter().rev() {
            if let Err(e) = remove_cgroup_dir(&d.path) {
                first_err.get_or_insert(e);
            }
        }
        if let Some(e) = first_err {
            return Err(e);
        }
        self.destroyed = true;
        debug!(cgroup = %self.describe(), "destroyed run cgroup");
        Ok(())
    }
}

impl Drop for V1Run {
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
    use super::super::hosttest::require_v1_root;
    use super::super::{detect, parse_mountinfo, parse_proc_cgroup, HostPaths};
    use super::*;
    use std::fs;
    use std::io::Write as _;
    use std::os::unix::process::ExitStatusExt;
    use std::process::{Command, Stdio};
    use std::time::Duration;

    const FAKE_ROOT: &str = "fakecg";
    /// Marker files in the fake root simulating kernel differences.
    const NO_MEMSW: &str = ".no-memsw";
    const NO_PIDS_MAX: &str = ".no-pids-max";
    const NO_HUGETLB_RSVD: &str = ".no-hugetlb-rsvd";

    /// Creates the interface files the kernel would put in a new v1 cgroup dir.
    fn populate_v1(dir: &Path) {
        let comps: Vec<String> = dir.components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect();
        let Some(i) = comps.iter().position(|c| c == FAKE_ROOT) else {
            return;
        };
        let root: PathBuf = dir.components().take(i + 1).collect();
        write_files(dir, &[("cgroup.procs", ""), ("tasks", "")]);
        match comps.get(i + 1).map(String::as_str) {
            Some("memory") => {
                write_files(
                    dir,
                    &[
                        ("memory.limit_in_bytes", "9223372036854771712\n"),
                        ("memory.max_usage_in_bytes", "0\n"),
                        ("memory.failcnt", "0\n"),
                        ("memory.memsw.failcnt", "0\n"),
                        ("memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 0\n"),
                    ],
                );
                if !root.join(NO_MEMSW).exists() {
                    write_files(dir, &[("memory.memsw.limit_in_bytes", "9223372036854771712\n")]);
                }
            }
            Some("cpu,cpuacct") => write_files(
                dir,
                &[
                    ("cpu.cfs_period_us", "100000\n"),
                    ("cpu.cfs_quota_us", "-1\n"),
                    ("cpuacct.usage", "0\n"),
                    ("cpuacct.usage_user", "0\n"),
                    ("cpuacct.usage_sys", "0\n"),
                    ("cpuacct.stat", "user 0\nsystem 0\n"),
                ],
            ),
            Some("pids") => {
                write_files(dir, &[("pids.current", "0\n"), ("pids.peak", "0\n"), ("pids.events", "max 0\n")]);
                if !root.join(NO_PIDS_MAX).exists() {
                    write_files(dir, &[("pids.max", "max\n")]);
                }
            }
            Some("freezer") => write_files(dir, &[("freezer.state", "THAWED\n")]),
            Some("hugetlb") => {
                for size in ["2MB", "1GB"] {
                    write_files(
                        dir,
                        &[
                            (&format!("hugetlb.{size}.limit_in_bytes"), "9223372036854771712\n"),
                            (&format!("hugetlb.{size}.usage_in_bytes"), "0\n"),
                            (&format!("hugetlb.{size}.max_usage_in_bytes"), "0\n"),
                            (&format!("hugetlb.{size}.failcnt"), "0\n"),
                        ],
                    );
                    if !root.join(NO_HUGETLB_RSVD).exists() {
                        write_files(dir, &[(&format!("hugetlb.{size}.rsvd.limit_in_bytes"), "9223372036854771712\n")]);
                    }
                }
            }
            _ => {}
        }
    }

    struct FakeV1 {
        _tmp: tempfile::TempDir,
        _guard: fakefs::Guard,
        root: PathBuf,
        paths: HostPaths,
    }

    impl FakeV1 {
        /// A hybrid host like the development machine, but with cpu and cpuacct
        /// co-mounted, memory under `/process_api/abc`, and an empty cgroup2.
        fn new(with_freezer: bool) -> FakeV1 {
            Self::with(with_freezer, false)
        }

        /// [`FakeV1::new`], with a hugetlb hierarchy mounted too when `with_hugetlb`.
        fn with(with_freezer: bool, with_hugetlb: bool) -> FakeV1 {
            let tmp = tempfile::tempdir().unwrap();
            let root = tmp.path().join(FAKE_ROOT);
            for d in ["memory/process_api/abc", "cpu,cpuacct", "pids", "freezer", "hugetlb", "unified", "systemd"] {
                fs::create_dir_all(root.join(d)).unwrap();
            }
            write_files(
                &root.join("unified"),
                &[("cgroup.controllers", "\n"), ("cgroup.subtree_control", "\n"), ("cgroup.procs", "")],
            );
            let r = root.display();
            let mut mountinfo = format!(
                "31 23 0:28 / {r} rw,relatime - tmpfs tmpfs rw,mode=755\n\
                 32 31 0:29 / {r}/cpu,cpuacct rw,relatime shared:9 - cgroup cgroup rw,cpu,cpuacct\n\
                 35 31 0:32 / {r}/memory rw,relatime - cgroup cgroup rw,memory\n\
                 39 31 0:36 / {r}/pids rw,relatime - cgroup cgroup rw,pids\n\
                 40 31 0:37 / {r}/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd\n\
                 41 31 0:38 / {r}/unified rw,relatime - cgroup2 cgroup2 rw,nsdelegate\n"
            );
            if with_freezer {
                mountinfo.push_str(&format!("37 31 0:34 / {r}/freezer rw,relatime - cgroup cgroup rw,freezer\n"));
            }
            if with_hugetlb {
                mountinfo.push_str(&format!("38 31 0:35 / {r}/hugetlb rw,relatime - cgroup cgroup rw,hugetlb\n"));
            }
            let proc_cgroup = "10:hugetlb:/\n9:name=systemd:/\n8:pids:/\n6:freezer:/\n4:memory:/process_api/abc\n2:cpu,cpuacct:/\n0::/\n";
            let paths = HostPaths {
                proc_self_cgroup: tmp.path().join("cgroup"),
                proc_self_mountinfo: tmp.path().join("mountinfo"),
            };
            fs::write(&paths.proc_self_cgroup, proc_cgroup).unwrap();
            fs::write(&paths.proc_self_mountinfo, mountinfo).unwrap();
            let guard = fakefs::register(&root, populate_v1);
            FakeV1 { _tmp: tmp, _guard: guard, root, paths }
        }

        fn run_dirs(&self, name: &str) -> Vec<PathBuf> {
            ["memory/process_api/abc", "cpu,cpuacct", "pids", "freezer"]
                .iter()
                .map(|b| self.root.join(b).join(JAILD_DIR).join(name))
                .collect()
        }
    }

    fn limits() -> CgroupLimits {
        CgroupLimits { memory_bytes: 64 << 20, pids: 8, cpu_quota_us: 50_000, cpu_period_us: 100_000 }
    }

    fn read(p: &Path) -> String {
        fs::read_to_string(p).unwrap().trim().to_string()
    }

    #[test]
    fn fake_v1_detect_create_usage_destroy() {
        let fake = FakeV1::new(true);
        let cg = detect(&fake.paths).unwrap();
        assert_eq!(cg.version(), CgroupVersion::V1);

        let mut run = cg.create("t1", &limits()).unwrap();
        let name = format!("run.{}.t1", own_pid());
        let [mem, cpu, pids, freezer] = <[PathBuf; 4]>::try_from(fake.run_dirs(&name)).unwrap();
        for d in [&mem, &cpu, &pids, &freezer] {
            assert!(d.is_dir(), "{} missing", d.display());
        }
        assert_eq!(read(&mem.join("memory.limit_in_bytes")), "67108864");
        assert_eq!(read(&mem.join("memory.memsw.limit_in_bytes")), "67108864");
        assert_eq!(read(&pids.join("pids.max")), "8");
        assert_eq!(read(&cpu.join("cpu.cfs_period_us")), "100000");
        assert_eq!(read(&cpu.join("cpu.cfs_quota_us")), "50000");
        assert_eq!(read(&freezer.join("freezer.state")), "THAWED");
        let desc = run.describe();
        assert!(desc.contains(&format!("memory={}", mem.display())), "{desc}");
        assert!(desc.contains(&format!("cpu,cpuacct={}", cpu.display())), "{desc}");

        // Usage from real-format contents.
        write_files(
            &cpu,
            &[
                ("cpuacct.usage", "123456789\n"),
                ("cpuacct.usage_user", "100000000\n"),
                ("cpuacct.usage_sys", "23456789\n"),
            ],
        );
        write_files(
            &mem,
            &[
                ("memory.max_usage_in_bytes", "33550336\n"),
                ("memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n"),
                ("memory.failcnt", "17\n"),
                ("memory.memsw.failcnt", "5\n"),
            ],
        );
        write_files(&pids, &[("pids.peak", "4\n"), ("pids.events", "max 3\n")]);
        assert_eq!(
            run.usage().unwrap(),
            CgroupUsage {
                cpu_user_ns: 100_000_000,
                cpu_system_ns: 23_456_789,
                cpu_total_ns: 123_456_789,
                memory_peak_bytes: 33_550_336,
                oom_kills: 2,
                memory_limit_hits: 22,
                pids_peak: Some(4),
                pids_limit_hits: 3,
            }
        );
        assert_eq!(run.cpu_time_ns().unwrap(), 123_456_789);
        assert!(run.oom_killed().unwrap());
        assert!(run.pids_limit_hit().unwrap());

        // Older kernels: no usage_user/usage_sys, no pids.peak.
        fs::remove_file(cpu.join("cpuacct.usage_user")).unwrap();
        fs::remove_file(cpu.join("cpuacct.usage_sys")).unwrap();
        fs::remove_file(pids.join("pids.peak")).unwrap();
        write_files(&cpu, &[("cpuacct.stat", "user 250\nsystem 50\n")]);
        let u = run.usage().unwrap();
        assert_eq!(u.cpu_user_ns, 250 * ns_per_tick());
        assert_eq!(u.cpu_system_ns, 50 * ns_per_tick());
        assert_eq!(u.pids_peak, None);

        // Malformed contents are errors naming the file.
        write_files(&pids, &[("pids.events", "garbage\n")]);
        let e = run.pids_limit_hit().unwrap_err();
        assert!(e.to_string().contains("pids.events"), "{e}");
        write_files(&pids, &[("pids.events", "max 0\n")]);
        write_files(&mem, &[("memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 0\n")]);
        assert!(!run.oom_killed().unwrap());
        assert!(!run.pids_limit_hit().unwrap());

        // A second create with the same id must not reuse (or remove) the dirs.
        let e = cg.create("t1", &limits()).err().unwrap();
        assert!(matches!(e, CgroupError::AlreadyExists { .. }), "{e}");
        assert!(mem.is_dir() && freezer.is_dir());

        run.destroy().unwrap();
        for d in [&mem, &cpu, &pids, &freezer] {
            assert!(!d.exists(), "{} left behind", d.display());
        }
        run.destroy().unwrap(); // idempotent
        assert!(fake.root.join("memory/process_api/abc/jaild").is_dir());
    }

    #[test]
    fn fake_v1_hugetlb_hierarchy_is_joined_and_limited_to_zero() {
        let fake = FakeV1::with(true, true);
        let cg = detect(&fake.paths).unwrap();
        let mut run = cg.create("h", &limits()).unwrap();
        let name = format!("run.{}.h", own_pid());
        let dir = fake.root.join("hugetlb").join(JAILD_DIR).join(&name);
        for size in ["2MB", "1GB"] {
            assert_eq!(read(&dir.join(format!("hugetlb.{size}.limit_in_bytes"))), "0");
            assert_eq!(read(&dir.join(format!("hugetlb.{size}.rsvd.limit_in_bytes"))), "0");
        }
        assert_eq!(run.hugetlb_limited(), vec!["1GB".to_string(), "2MB".to_string()]);
        // The script joins it with the others, and it goes with them.
        assert!(run.self_attach_files().contains(&dir.join("tasks")), "{:?}", run.self_attach_files());
        assert!(run.describe().contains(&format!("hugetlb={}", dir.display())), "{}", run.describe());
        run.destroy().unwrap();
        assert!(!dir.exists());
    }

    #[test]
    fn fake_v1_hugetlb_limit_that_cannot_be_set_fails_closed() {
        let fake = FakeV1::with(true, true);
        fs::write(fake.root.join(NO_HUGETLB_RSVD), "").unwrap();
        let cg = detect(&fake.paths).unwrap();
        let e = cg.create("hr", &limits()).err().unwrap();
        assert!(
            matches!(&e, CgroupError::Write { path, value, .. } if path.ends_with("hugetlb.1GB.rsvd.limit_in_bytes") && value == "0"),
            "{}",
            error_chain(&e)
        );
        let name = format!("run.{}.hr", own_pid());
        assert!(!fake.root.join("hugetlb").join(JAILD_DIR).join(&name).exists());
        assert!(fake.run_dirs(&name).iter().all(|d| !d.exists()));
    }

    #[test]
    fn fake_v1_without_a_hugetlb_hierarchy_limits_nothing() {
        let fake = FakeV1::new(true);
        let cg = detect(&fake.paths).unwrap();
        let run = cg.create("nh", &limits()).unwrap();
        assert!(run.hugetlb_limited().is_empty());
        assert!(!fake.root.join("hugetlb").join(JAILD_DIR).exists());
        drop(run);
    }

    #[test]
    fn fake_v1_background_is_the_least_cpu_shares_and_back() {
        let fake = FakeV1::new(true);
        let cg = detect(&fake.paths).unwrap();
        let run = cg.create("bg", &limits()).unwrap();
        let cpu = fake.run_dirs(&format!("run.{}.bg", own_pid()))[1].clone();
        fs::write(cpu.join("cpu.shares"), "1024\n").unwrap(); // as the kernel makes it
        run.set_background(true).unwrap();
        assert_eq!(read(&cpu.join("cpu.shares")), "2");
        assert!(run.is_background().unwrap());
        run.set_background(false).unwrap();
        assert_eq!(read(&cpu.join("cpu.shares")), "1024");
        assert!(!run.is_background().unwrap());
    }

    #[test]
    fn fake_v1_kill_all_signals_listed_pids_and_thaws() {
        let fake = FakeV1::new(true);
        let cg = detect(&fake.paths).unwrap();
        let run = cg.create("kill", &limits()).unwrap();
        let dirs = fake.run_dirs(&format!("run.{}.kill", own_pid()));

        let mut child = Command::new("sleep").arg("30").spawn().unwrap();
        let pid = i32::try_from(child.id()).unwrap();
        run.add_process(pid).unwrap();
        for d in &dirs {
            assert_eq!(read(&d.join("cgroup.procs")), pid.to_string());
        }
        // The fake cgroup.procs don't empty themselves: do it once the child died.
        let dirs2 = dirs.clone();
        let reaper = thread::spawn(move || {
            let status = child.wait().unwrap();
            for d in &dirs2 {
                fs::write(d.join("cgroup.procs"), "").unwrap();
            }
            status
        });
        run.kill_all().unwrap();
        let status = reaper.join().unwrap();
        assert_eq!(status.signal(), Some(libc::SIGKILL));
        assert_eq!(read(&dirs[3].join("freezer.state")), "THAWED");
        drop(run); // Drop destroys.
        for d in &dirs {
            assert!(!d.exists(), "{} left behind", d.display());
        }
    }

    #[test]
    fn fake_v1_kill_all_times_out_on_stuck_pids() {
        let fake = FakeV1::new(true);
        let cg = detect(&fake.paths).unwrap();
        let mut run = cg.create("stuck", &limits()).unwrap();
        let dirs = fake.run_dirs(&format!("run.{}.stuck", own_pid()));
        // A pid that does not exist stays listed forever in the fake.
        fs::write(dirs[0].join("cgroup.procs"), "999999999\n").unwrap();
        let e = run.kill_all().unwrap_err();
        assert!(matches!(&e, CgroupError::KillTimeout { pids, .. } if pids == &vec![999_999_999]), "{e}");
        fs::write(dirs[0].join("cgroup.procs"), "").unwrap();
        run.destroy().unwrap();
    }

    #[test]
    fn fake_v1_create_cleans_up_on_leftover_dir() {
        let fake = FakeV1::new(true);
        let cg = detect(&fake.paths).unwrap();
        let name = format!("run.{}.t2", own_pid());
        let dirs = fake.run_dirs(&name);
        // A crashed earlier run left only its pids cgroup behind.
        fs::create_dir_all(&dirs[2]).unwrap();
        let e = cg.create("t2", &limits()).err().unwrap();
        match &e {
            CgroupError::AlreadyExists { path } => assert_eq!(path, &dirs[2]),
            other => panic!("unexpected {other}"),
        }
        assert!(!dirs[0].exists() && !dirs[1].exists() && !dirs[3].exists());
        assert!(dirs[2].exists(), "must not remove a directory it did not create");
    }

    #[test]
    fn fake_v1_remove_stale() {
        let fake = FakeV1::new(true);
        let cg = detect(&fake.paths).unwrap();
        let live = cg.create("live", &limits()).unwrap();
        let live_dirs = fake.run_dirs(&format!("run.{}.live", own_pid()));
        let stale = "run.999999999.old";
        let stale_dirs = fake.run_dirs(stale);
        // Partially created: memory and freezer only.
        for d in [&stale_dirs[0], &stale_dirs[3]] {
            fs::create_dir(d).unwrap();
            populate_v1(d);
        }
        let other = fake.root.join("pids/jaild/not-a-run");
        fs::create_dir(&other).unwrap();

        let removed = cg.remove_stale().unwrap();
        assert_eq!(removed, vec![stale.to_string()]);
        assert!(stale_dirs.iter().all(|d| !d.exists()));
        assert!(live_dirs.iter().all(|d| d.is_dir()));
        assert!(other.is_dir());
        assert!(cg.remove_stale().unwrap().is_empty());
        drop(live);
        assert!(live_dirs.iter().all(|d| !d.exists()));
    }

    #[test]
    fn fake_v1_limits_zero_mean_unlimited() {
        let fake = FakeV1::new(true);
        let cg = detect(&fake.paths).unwrap();
        let zero = CgroupLimits { memory_bytes: 0, pids: 0, cpu_quota_us: 0, cpu_period_us: 0 };
        let run = cg.create("zero", &zero).unwrap();
        let d = fake.run_dirs(&format!("run.{}.zero", own_pid()));
        assert_eq!(read(&d[0].join("memory.limit_in_bytes")), "-1");
        assert_eq!(read(&d[0].join("memory.memsw.limit_in_bytes")), "-1");
        assert_eq!(read(&d[2].join("pids.max")), "max");
        assert_eq!(read(&d[1].join("cpu.cfs_quota_us")), "-1");
        assert_eq!(read(&d[1].join("cpu.cfs_period_us")), "100000");
        drop(run);
        assert!(d.iter().all(|d| !d.exists()));
        assert!(matches!(cg.create("bad/id", &zero), Err(CgroupError::InvalidRunId { .. })));
    }

    #[test]
    fn fake_v1_without_swap_accounting_skips_memsw() {
        let fake = FakeV1::new(true);
        fs::write(fake.root.join(NO_MEMSW), "").unwrap();
        let cg = detect(&fake.paths).unwrap();
        let run = cg.create("nomemsw", &limits()).unwrap();
        let d = fake.run_dirs(&format!("run.{}.nomemsw", own_pid()));
        assert_eq!(read(&d[0].join("memory.limit_in_bytes")), "67108864");
        assert!(!d[0].join("memory.memsw.limit_in_bytes").exists());
        drop(run);
    }

    #[test]
    fn fake_v1_failed_write_leaves_nothing_behind() {
        let fake = FakeV1::new(true);
        fs::write(fake.root.join(NO_PIDS_MAX), "").unwrap();
        let cg = detect(&fake.paths).unwrap();
        let e = cg.create("wfail", &limits()).err().unwrap();
        let msg = error_chain(&e);
        assert!(
            matches!(&e, CgroupError::Write { path, value, .. } if path.ends_with("pids.max") && value == "8"),
            "{msg}"
        );
        assert!(msg.contains("os error 2"), "{msg}");
        let d = fake.run_dirs(&format!("run.{}.wfail", own_pid()));
        assert!(d.iter().all(|d| !d.exists()), "{d:?}");
    }

    #[test]
    fn fake_v1_missing_freezer_is_reported() {
        let fake = FakeV1::new(false);
        let e = detect(&fake.paths).err().unwrap();
        let msg = error_chain(&e);
        assert!(msg.contains("freezer"), "{msg}");
        assert!(msg.contains("cgroup v2"), "{msg}");
    }

    // ------------------------------------------------------------------
    // Real kernel (this host is v1/hybrid). Skipped unless root + v1,
    // and under CI=true a missing setup is a failure.
    // ------------------------------------------------------------------

    /// Where the kernel should have put run cgroup `name`, computed
    /// independently of the backend from /proc/self/{cgroup,mountinfo}.
    fn host_dirs(name: &str) -> Vec<(String, PathBuf)> {
        let hp = HostPaths::default();
        let entries =
            parse_proc_cgroup(&hp.proc_self_cgroup, &fs::read_to_string(&hp.proc_self_cgroup).unwrap()).unwrap();
        let mounts =
            parse_mountinfo(&hp.proc_self_mountinfo, &fs::read_to_string(&hp.proc_self_mountinfo).unwrap()).unwrap();
        let mut out: Vec<(String, PathBuf)> = Vec::new();
        for c in REQUIRED {
            let e = entries.iter().find(|e| e.controllers.iter().any(|x| x == c)).unwrap();
            let m = mounts.iter().find(|m| m.fstype == "cgroup" && m.has_option(c)).unwrap();
            let dir = m.cgroup_dir(&e.path).unwrap().join(JAILD_DIR).join(name);
            out.push((c.to_string(), dir));
        }
        out
    }

    fn proc_cgroup_of(pid: u32) -> String {
        fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap()
    }

    fn wait_with_timeout(child: &mut std::process::Child, t: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + t;
        loop {
            if let Some(s) = child.try_wait().unwrap() {
                return Some(s);
            }
            if Instant::now() >= deadline {
                return None;
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    #[test]
    fn real_v1_sleep_lifecycle() {
        let Some(cg) = require_v1_root("real_v1_sleep_lifecycle") else {
            return;
        };
        let mut run = cg.create("t-sleep", &limits()).unwrap();
        let name = format!("run.{}.t-sleep", own_pid());
        let dirs = host_dirs(&name);
        for (c, d) in &dirs {
            assert!(d.is_dir(), "{c}: {} missing", d.display());
            match c.as_str() {
                "memory" => {
                    assert_eq!(read(&d.join("memory.limit_in_bytes")), "67108864");
                    if d.join("memory.memsw.limit_in_bytes").exists() {
                        assert_eq!(read(&d.join("memory.memsw.limit_in_bytes")), "67108864");
                    }
                }
                "pids" => assert_eq!(read(&d.join("pids.max")), "8"),
                "cpu" => {
                    assert_eq!(read(&d.join("cpu.cfs_quota_us")), "50000");
                    assert_eq!(read(&d.join("cpu.cfs_period_us")), "100000");
                }
                _ => {}
            }
        }
        // The memory cgroup sits under our own memory cgroup.
        let own = proc_cgroup_of(own_pid());
        let own_mem = own
            .lines()
            .find_map(|l| {
                l.splitn(3, ':')
                    .collect::<Vec<_>>()
                    .get(1..3)
                    .and_then(|p| p[0].split(',').any(|c| c == "memory").then(|| p[1].to_string()))
            })
            .unwrap();

        let mut child = Command::new("sleep").arg("30").spawn().unwrap();
        let pid = i32::try_from(child.id()).unwrap();
        run.add_process(pid).unwrap();
        let text = proc_cgroup_of(child.id());
        for c in REQUIRED {
            let line = text
                .lines()
                .find(|l| l.split(':').nth(1).is_some_and(|cs| cs.split(',').any(|x| x == c)))
                .unwrap_or_else(|| panic!("no {c} line in {text}"));
            assert!(line.ends_with(&format!("/{JAILD_DIR}/{name}")), "{c}: {line}");
            if c == "memory" {
                let want = format!("{}/{JAILD_DIR}/{name}", own_mem.trim_end_matches('/'));
                assert!(line.ends_with(&format!(":{want}")), "{line} vs {want}");
            }
        }
        assert!(run.cpu_time_ns().is_ok());
        assert!(!run.oom_killed().unwrap());
        assert!(!run.pids_limit_hit().unwrap());

        run.kill_all().unwrap();
        let status = wait_with_timeout(&mut child, Duration::from_secs(5)).expect("sleep survived kill_all");
        assert_eq!(status.signal(), Some(libc::SIGKILL));
        run.destroy().unwrap();
        for (c, d) in &dirs {
            assert!(!d.exists(), "{c}: {} left behind", d.display());
        }
        run.destroy().unwrap();
    }

    #[test]
    fn real_v1_memory_hog_is_oom_killed() {
        let Some(cg) = require_v1_root("real_v1_memory_hog_is_oom_killed") else {
            return;
        };
        let limit: u64 = 32 << 20;
        let mut run = cg
            .create("t-oom", &CgroupLimits { memory_bytes: limit, pids: 16, cpu_quota_us: 0, cpu_period_us: 0 })
            .unwrap();
        // `read` gates the allocation until the shell is inside the cgroup;
        // tail buffers its whole newline-free input.
        let mut child = Command::new("sh")
            .args(["-c", "read _ && head -c 209715200 /dev/zero | tail"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        run.add_process(i32::try_from(child.id()).unwrap()).unwrap();
        child.stdin.take().unwrap().write_all(b"\n").unwrap();
        let status = wait_with_timeout(&mut child, Duration::from_secs(30));
        if status.is_none() {
            run.kill_all().unwrap();
            let _ = child.wait();
            panic!("memory hog did not finish");
        }
        let usage = run.usage().unwrap();
        assert!(run.oom_killed().unwrap(), "{usage:?}");
        assert!(usage.oom_kills >= 1, "{usage:?}");
        // Not asserted: memory_limit_hits stays 0 here. Since Linux ~6.13 only the
        // v1 `memory` page counter tracks failcnt, and with memsw limit == memory
        // limit the memsw counter (not tracked) is charged first and fails first.
        eprintln!("memory hog usage: {usage:?}");
        assert!(
            usage.memory_peak_bytes >= limit * 3 / 4 && usage.memory_peak_bytes <= limit + (1 << 20),
            "peak {} vs limit {limit}",
            usage.memory_peak_bytes
        );
        run.destroy().unwrap();
        for (c, d) in host_dirs(&format!("run.{}.t-oom", own_pid())) {
            assert!(!d.exists(), "{c}: {} left behind", d.display());
        }
    }

    #[test]
    fn real_v1_pids_limit_is_hit() {
        let Some(cg) = require_v1_root("real_v1_pids_limit_is_hit") else {
            return;
        };
        let mut run = cg
            .create("t-pids", &CgroupLimits { memory_bytes: 64 << 20, pids: 4, cpu_quota_us: 0, cpu_period_us: 0 })
            .unwrap();
        let mut child = Command::new("sh")
            .args(["-c", "read _; for i in $(seq 20); do sleep 5 & done; wait"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        run.add_process(i32::try_from(child.id()).unwrap()).unwrap();
        assert!(!run.pids_limit_hit().unwrap());
        child.stdin.take().unwrap().write_all(b"\n").unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        while !run.pids_limit_hit().unwrap() && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(20));
        }
        let usage = run.usage().unwrap();
        assert!(run.pids_limit_hit().unwrap(), "{usage:?}");
        assert!(usage.pids_limit_hits >= 1, "{usage:?}");
        if let Some(peak) = usage.pids_peak {
            assert!(peak <= 4, "{usage:?}");
        }
        // Orphaned `sleep`s (if sh gave up) are in the cgroup too; kill_all gets them.
        run.kill_all().unwrap();
        wait_with_timeout(&mut child, Duration::from_secs(5)).expect("sh survived kill_all");
        run.destroy().unwrap();
        for (c, d) in host_dirs(&format!("run.{}.t-pids", own_pid())) {
            assert!(!d.exists(), "{c}: {} left behind", d.display());
        }
    }

    #[test]
    fn real_v1_remove_stale_kills_and_removes_only_dead_owners() {
        let Some(cg) = require_v1_root("real_v1_remove_stale") else {
            return;
        };
        let mut live = cg.create("t-live", &limits()).unwrap();
        let live_dirs = host_dirs(&format!("run.{}.t-live", own_pid()));
        let stale = "run.999999999.t-stale";
        let stale_dirs = host_dirs(stale);
        let mut seen = BTreeSet::new();
        for (_, d) in &stale_dirs {
            if seen.insert(d.clone()) {
                fs::create_dir(d).unwrap();
            }
        }
        // Something still running in the stale cgroup.
        let mut child = Command::new("sleep").arg("30").spawn().unwrap();
        for d in &seen {
            fs::write(d.join("cgroup.procs"), child.id().to_string()).unwrap();
        }
        let removed = cg.remove_stale().unwrap();
        assert!(removed.contains(&stale.to_string()), "{removed:?}");
        assert!(!removed.iter().any(|n| n.contains(&format!(".{}.", own_pid()))), "{removed:?}");
        let status = wait_with_timeout(&mut child, Duration::from_secs(5)).expect("sleep survived");
        assert_eq!(status.signal(), Some(libc::SIGKILL));
        for (c, d) in &stale_dirs {
            assert!(!d.exists(), "{c}: {} left behind", d.display());
        }
        for (c, d) in &live_dirs {
            assert!(d.is_dir(), "{c}: live {} was removed", d.display());
        }
        live.destroy().unwrap();
        for (c, d) in &live_dirs {
            assert!(!d.exists(), "{c}: {} left behind", d.display());
        }
    }
}
