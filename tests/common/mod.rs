//! Shared helpers for the integration tests: real jails on the real kernel.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

pub mod daemon;

use jaild::report::Report;
use jaild::{Config, LimitOverrides, RunRequest, Supervisor};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// True under CI: a test that cannot run is then a failure, not a skip.
pub fn must_run() -> bool {
    std::env::var("CI").map(|v| v == "true" || v == "1").unwrap_or(false)
}

/// Why jails cannot run here, if they cannot.
pub fn missing_feature() -> Option<String> {
    if !nix::unistd::geteuid().is_root() {
        return Some("needs root (user namespaces with a mapped uid range, cgroups)".into());
    }
    if !Path::new("/proc/self/ns/user").exists() {
        return Some("needs user namespaces".into());
    }
    let abi = landlock_abi();
    if abi < 6 {
        return Some(format!("needs Landlock ABI 6 (the shipped profiles' minimum); this kernel has {abi}"));
    }
    if let Err(e) = jaild::cgroup::detect(&jaild::cgroup::HostPaths::default()) {
        return Some(format!("needs usable cgroups: {e}"));
    }
    if !Path::new("/usr/bin/python3.11").exists()
        || !Path::new("/opt/jaild/interpreters/node-24.21.0/bin/node").exists()
    {
        return Some("needs the pinned interpreters (run interpreters/install.sh)".into());
    }
    None
}

/// The running kernel's Landlock ABI (0 without Landlock).
pub fn landlock_abi() -> u32 {
    // SAFETY: landlock_create_ruleset(NULL, 0, LANDLOCK_CREATE_RULESET_VERSION) only returns a number.
    let v = unsafe { libc::syscall(libc::SYS_landlock_create_ruleset, std::ptr::null::<libc::c_void>(), 0usize, 1u32) };
    u32::try_from(v).unwrap_or(0)
}

/// Skips the calling test (returns false) when jails cannot run here; panics instead under CI=true.
pub fn jails_available() -> bool {
    match missing_feature() {
        None => true,
        Some(reason) if must_run() => panic!("CI=true and this test cannot run: {reason}"),
        Some(reason) => {
            eprintln!("SKIPPED: {reason}");
            false
        }
    }
}

/// Skips the test (early return) when jails cannot run; fails under CI=true.
#[macro_export]
macro_rules! require_jails {
    () => {
        if !$crate::common::jails_available() {
            return;
        }
    };
}

pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

pub fn config() -> Config {
    let mut c = Config::discover();
    c.profiles_dir = repo().join("profiles");
    c.interpreters_dir = repo().join("interpreters");
    c
}

/// One supervisor per test process.
pub fn supervisor() -> &'static Supervisor {
    static SUP: OnceLock<Supervisor> = OnceLock::new();
    SUP.get_or_init(|| Supervisor::new(config()).expect("supervisor starts"))
}

/// A supervisor over a copy of the shipped profiles with the language policy layer switched
/// off (no blocked modules, dynamic code allowed): proves the kernel boundary holds on its own.
/// Everything else (limits, seccomp, filesystem) is the shipped profile's.
pub fn kernel_only_supervisor() -> &'static Supervisor {
    static SUP: OnceLock<(tempfile::TempDir, Supervisor)> = OnceLock::new();
    &SUP.get_or_init(kernel_only).1
}

/// [`kernel_only_supervisor`] planning runs as on a kernel with Landlock ABI 2 (Debian 12's
/// 6.1), the shipped profiles' minimum: the rights newer than that are left to the layers that
/// cover them (profiles/README.md, "Older kernels").
pub fn abi2_supervisor() -> &'static Supervisor {
    static SUP: OnceLock<(tempfile::TempDir, Supervisor)> = OnceLock::new();
    &SUP.get_or_init(|| {
        let (dir, mut sup) = kernel_only();
        sup.limit_landlock_abi(2).expect("this kernel has Landlock ABI 2 or newer");
        (dir, sup)
    })
    .1
}

fn kernel_only() -> (tempfile::TempDir, Supervisor) {
    let dir = tempfile::tempdir().unwrap();
    let src = repo().join("profiles");
    copy_dir(&src, dir.path());
    for name in ["python", "javascript", "typescript"] {
        let p = dir.path().join(format!("{name}.toml"));
        let text = std::fs::read_to_string(&p).unwrap();
        let mut out = String::new();
        for line in text.lines() {
            if line.starts_with("blocked_modules") {
                out.push_str("blocked_modules = []\n");
            } else if line.starts_with("dynamic_code") {
                out.push_str("dynamic_code = true\n");
            } else {
                out.push_str(line);
                out.push('\n');
            }
        }
        std::fs::write(&p, out).unwrap();
    }
    let mut c = config();
    c.profiles_dir = dir.path().to_path_buf();
    let sup = Supervisor::new(c).expect("supervisor starts");
    (dir, sup)
}

pub fn copy_dir(src: &Path, dst: &Path) {
    std::fs::create_dir_all(dst).unwrap();
    for e in std::fs::read_dir(src).unwrap() {
        let e = e.unwrap();
        let to = dst.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &to);
        } else {
            std::fs::copy(e.path(), &to).unwrap();
        }
    }
}

/// Every host uid a jail of a supervisor with this base and slot count may run as (the jails'
/// roots and their scripts, jaild::hostids).
pub fn jail_host_uids(base: u32, slots: u32) -> Vec<u32> {
    (0..slots).flat_map(|s| [base + s, base + jaild::hostids::SCRIPT_OFFSET + s]).collect()
}

pub fn unique_id(tag: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    format!("t-{tag}-{}-{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed))
}

/// How this test process makes its jails: `JAILD_START=warm` runs every request of the helpers
/// below in a jail made ahead (Supervisor::warm_jail, then run_warm), `cold` (the default) on
/// the request's path. The jail tests and the escape suite run in both (README, "The two
/// commands").
pub fn warm_mode() -> bool {
    match std::env::var("JAILD_START").as_deref() {
        Ok("warm") => true,
        Ok("cold") | Err(_) => false,
        Ok(other) => panic!("JAILD_START={other}: cold or warm"),
    }
}

/// Runs `request` (with an id) in this process's mode: cold, or in a warm jail made for it
/// first and named like the run (so the leftover checks find its cgroup by the run's id).
pub fn run_in_mode(sup: &Supervisor, request: RunRequest, hooks: &jaild::RunHooks<'_>) -> Report {
    if !warm_mode() {
        return sup.run_with(request, hooks);
    }
    let run = match sup.validate(&request) {
        Ok(run) => run,
        Err(_) => return sup.run_with(request, hooks),
    };
    let prepared = match sup.prepare(&run.profile) {
        Ok(p) => p,
        Err(_) => return sup.run_valid(run, hooks),
    };
    let jail = sup.warm_jail(&run.id, prepared).unwrap_or_else(|e| panic!("a warm jail for {}: {e}", run.id));
    let report = sup.run_warm(run, jail, hooks);
    assert_eq!(report.start, jaild::report::Start::Warm, "{}", show(&report));
    report
}

/// Runs `code` in `language` (python, javascript, typescript) with `input` JSON text.
pub fn run_with(sup: &Supervisor, language: &str, code: &str, input: Option<&str>, limits: LimitOverrides) -> Report {
    let id = unique_id(language);
    let report = run_in_mode(
        sup,
        RunRequest {
            id: Some(id.clone()),
            profile: None,
            language: jaild::profile::Language::parse(language),
            interpreter: None,
            filename: None,
            code: code.as_bytes().to_vec(),
            input: input.map(String::from),
            limits,
        },
        &jaild::RunHooks::default(),
    );
    assert_eq!(report.id, id);
    assert_no_leftovers(&report);
    report
}

pub fn run(language: &str, code: &str) -> Report {
    run_with(supervisor(), language, code, None, LimitOverrides::default())
}

/// Nothing of the run is left on the host: its cgroup directories are gone (rmdir succeeds only
/// once no process is left in them), and no mount of the jail is visible in the host's table.
pub fn assert_no_leftovers(report: &Report) {
    let needle = format!(".{}", report.id);
    let found = find_named(Path::new("/sys/fs/cgroup"), &needle, 6);
    assert!(found.is_empty(), "run {} left cgroups behind: {found:?}", report.id);
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(!mounts.lines().any(|l| l.contains(" jaild ")), "a jail mount is visible on the host");
}

fn find_named(dir: &Path, suffix: &str, depth: u32) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if depth == 0 {
        return out;
    }
    let Ok(entries) = std::fs::read_dir(dir) else { return out };
    for e in entries.flatten() {
        if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
            let p = e.path();
            if p.file_name().and_then(|n| n.to_str()).map(|n| n.ends_with(suffix)).unwrap_or(false) {
                out.push(p.clone());
            }
            out.extend(find_named(&p, suffix, depth - 1));
        }
    }
    out
}

/// The report as JSON text, for assertion messages.
pub fn show(r: &Report) -> String {
    serde_json::to_string_pretty(r).unwrap()
}

/// Shell lines (for `sh -e` in a private mount namespace) that lay a full 256 KiB tmpfs named
/// `name` over /tmp, keeping each of `keep` that lives under /tmp reachable at its path (CI may
/// clone the checkout, its build tree and the test's files under /tmp). Returns the script and
/// the names of the /tmp entries it keeps: with "filler", all a full /tmp then holds.
#[allow(dead_code)]
pub fn full_tmp_script(name: &str, keep: &[&Path]) -> (String, std::collections::BTreeSet<String>) {
    let mut tops = std::collections::BTreeSet::new();
    for p in keep {
        if let Ok(rest) = p.strip_prefix("/tmp") {
            if let Some(top) = rest.components().next() {
                tops.insert(top.as_os_str().to_string_lossy().into_owned());
            }
        }
    }
    let mut script = format!(
        "mount -t tmpfs -o size=64k,mode=0700 {name}-keep /mnt\n\
         mkdir /mnt/tmp\n\
         mount --rbind /tmp /mnt/tmp\n\
         mount -t tmpfs -o size=256k,mode=1777 {name} /tmp\n"
    );
    for top in &tops {
        script.push_str(&format!("mkdir '/tmp/{top}'\nmount --rbind '/mnt/tmp/{top}' '/tmp/{top}'\n"));
    }
    script.push_str("dd if=/dev/zero of=/tmp/filler bs=4k 2>/dev/null || true\n");
    (script, tops)
}

/// The error loading profile `name` from `dir`; a panic if it loads.
#[allow(dead_code)]
pub fn load_err(dir: &Path, name: &str) -> jaild::profile::ProfileError {
    match jaild::profile::load(dir, name) {
        Ok(p) => panic!("profile {name} loaded although it is broken: {:?}", p.file),
        Err(e) => e,
    }
}
