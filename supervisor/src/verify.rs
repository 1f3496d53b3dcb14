//! `jailctl profile verify NAME`: proof, on this kernel, that a profile's claims hold.
//!
//! Claims are derived from the resolved profile, its interpreter manifest and the plan a run
//! gets (see [`crate::audit`]): every scratch mount is writable up to its size and inode count,
//! every bound path readable and not writable, only the interpreter and its loader executable,
//! every syscall the policy denies denied (and reported by name), no network, only the jail's own
//! processes visible, the identity and environment exactly as planned, and every limit holding at
//! its edge. The jaild *baseline* adds claims of its own, whatever the profile says: scratch only
//! under the scratch roots, no host secrets, nothing executable but the interpreter, none of the
//! dangerous syscalls of [`audit::DANGERS`], limits under the ceilings of [`audit::CEILINGS`].
//!
//! The probes run as an ordinary script (supervisor/probes/probe.py or probe.js) in real jails
//! started through [`Supervisor::run`], with one change to the profile: the language policy's
//! `blocked_modules` is emptied (the probes need ctypes, socket, subprocess, child_process, net).
//! That layer is not the boundary; the probes test the kernel's. Everything else of the probe
//! profile is checked equal to the profile under test before anything runs.
//!
//! Each claim ends as PASS (observed = declared, within the baseline), FAIL (observed differs
//! from the declaration; `exceeds_profile` when the script could do more than declared), EXCEEDS
//! (the profile declares a grant beyond the baseline and the kernel indeed grants it), or SKIP
//! (not observable here, said why). A syscall claim is judged twice: statically, by running the
//! compiled BPF program on the call, and live, by making the call in the jail (Python, through
//! ctypes) and finding it in the report's violations with the policy's errno.

use crate::audit::{
    self, decide, exposed_secrets, rights_at, sysno, under_any, AuditError, Decision, Declared, Severity, Subject,
    ARG_PROBES, DANGERS, SCRATCH_ROOTS,
};
use crate::profile::Language;
use crate::report::{Report, Status};
use crate::run::{LimitOverrides, RunRequest};
use crate::supervisor::{Config, SetupError, Supervisor};
use jail_init::plan::{access, Mount};
use serde::Serialize;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

pub const PYTHON_PROBE: &str = include_str!("../probes/probe.py");
pub const JS_PROBE: &str = include_str!("../probes/probe.js");

/// Memory limits above this are not probed at their edge (the balloon would take the host's
/// memory); the baseline ceiling still judges them.
const MEMORY_PROBE_CEILING: u64 = 2 << 30;
/// Scratch space and file sizes above this are not filled.
const FILL_PROBE_CEILING: u64 = 512 << 20;
/// Output caps above this are not flooded.
const OUTPUT_PROBE_CEILING: u64 = 64 << 20;
/// Process limits above this are not bombed.
const PIDS_PROBE_CEILING: u64 = 1024;
/// Wall and CPU time are checked on runs tightened to this (the profile's own limit would make
/// verify as slow as the limit).
const TIME_PROBE_MS: u64 = 300;

/// Syscalls never made for real with all-zero arguments, even when the filter denies them: if
/// the filter let them through after all they would fork, block or end the probe.
const UNSAFE_WITH_ZEROS: &[&str] = &[
    "fork",
    "vfork",
    "clone",
    "clone3",
    "exit",
    "exit_group",
    "pause",
    "rt_sigreturn",
    "rt_sigsuspend",
    "select",
    "pselect6",
    "ppoll",
    "seccomp",
    "close",
    "close_range",
    "vhangup",
    "munmap",
    "brk",
    "execve",
    "execveat",
    "restart_syscall",
    "set_tid_address",
    "sched_yield",
    "setsid",
    "kill",
    "tkill",
    "tgkill",
    "prctl",
    "arch_prctl",
    "personality",
    "unshare",
    "userfaultfd",
    "munlockall",
    "mlockall",
    "sync",
    "syncfs",
];

/// Harmless arguments for dangerous syscalls a widened policy allows: the call reaches the
/// kernel and fails (bad fd, NULL pointer, no capability) or only reads.
fn safe_args(name: &str) -> Option<[u64; 6]> {
    const M1: u64 = u64::MAX;
    Some(match name {
        "ptrace" => [2, 1, 0, 0, 0, 0],
        "process_vm_readv" | "process_vm_writev" => [1, 0, 0, 0, 0, 0],
        "bpf" => [0xffff_ffff, 0, 0, 0, 0, 0],
        "perf_event_open" => [0, 0, M1, M1, 0, 0],
        "keyctl" => [0, (-3i64) as u64, 0, 0, 0, 0],
        "add_key" | "request_key" | "mount" | "umount2" | "fsopen" | "pivot_root" | "chroot" | "init_module"
        | "delete_module" | "reboot" | "io_uring_setup" | "memfd_create" | "kexec_load" | "acct" | "swapon"
        | "swapoff" | "quotactl" | "uselib" | "ustat" | "adjtimex" | "clock_adjtime" | "clock_settime"
        | "settimeofday" | "modify_ldt" | "sethostname" | "setdomainname" | "fanotify_init" | "kcmp" => [0; 6],
        "fsconfig"
        | "fsmount"
        | "fspick"
        | "move_mount"
        | "open_tree"
        | "mount_setattr"
        | "setns"
        | "finit_module"
        | "io_uring_enter"
        | "io_uring_register"
        | "open_by_handle_at"
        | "name_to_handle_at"
        | "pidfd_getfd"
        | "execveat"
        | "bind"
        | "listen"
        | "accept"
        | "accept4"
        | "landlock_add_rule"
        | "landlock_restrict_self"
        | "kexec_file_load" => [M1, 0, 0, 0, 0, 0],
        "unshare" => [0x0400_0000, 0, 0, 0, 0, 0],
        "clone3" => [0, 0, 0, 0, 0, 0],
        "personality" => [0xffff_ffff, 0, 0, 0, 0, 0],
        "seccomp" => [0xffff, 0, 0, 0, 0, 0],
        "syslog" => [10, 0, 0, 0, 0, 0],
        "iopl" | "ioperm" | "sysfs" => [0; 6],
        "pidfd_open" => [1, 0, 0, 0, 0, 0],
        "landlock_create_ruleset" => [0, 0, 1, 0, 0, 0],
        _ => return None,
    })
}

#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error(transparent)]
    Audit(#[from] AuditError),
    #[error("failed to stage the probe profile from {path}")]
    Stage {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("failed to write the probe profile {path}: {message}")]
    Rewrite { path: PathBuf, message: String },
    #[error("the supervisor cannot start")]
    Setup(#[from] SetupError),
    #[error("the probe copy of profile {profile} differs from it in more than the language policy ({what}); refusing to verify a different profile")]
    Weakened { profile: String, what: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Pass,
    Fail,
    /// The profile grants more than the jaild baseline allows, and the kernel gives it.
    Exceeds,
    Skip,
}

impl Outcome {
    fn word(self) -> &'static str {
        match self {
            Outcome::Pass => "PASS",
            Outcome::Fail => "FAIL",
            Outcome::Exceeds => "EXCEEDS",
            Outcome::Skip => "SKIP",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub area: &'static str,
    pub claim: String,
    pub declared: String,
    pub observed: String,
    pub outcome: Outcome,
    /// The script could do more than the profile declares.
    pub exceeds_profile: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct RunInfo {
    pub purpose: String,
    pub status: Status,
    pub wall_ms: u64,
    pub message: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Verification {
    pub profile: String,
    pub source: PathBuf,
    pub language: Language,
    pub checks: Vec<Check>,
    pub runs: Vec<RunInfo>,
    pub elapsed_ms: u64,
}

impl Verification {
    /// No claim failed and nothing exceeds the baseline.
    pub fn passed(&self) -> bool {
        self.checks.iter().all(|c| matches!(c.outcome, Outcome::Pass | Outcome::Skip))
    }

    /// Observed permissions beyond the profile's own declarations.
    pub fn exceeding_profile(&self) -> Vec<&Check> {
        self.checks.iter().filter(|c| c.exceeds_profile).collect()
    }

    pub fn count(&self, o: Outcome) -> usize {
        self.checks.iter().filter(|c| c.outcome == o).count()
    }
}

// ---------------------------------------------------------------------------------------------
// What the runs showed

struct Obs {
    python: bool,
    main: Option<Report>,
    results: serde_json::Map<String, Value>,
    edges: BTreeMap<&'static str, Report>,
    /// The runs that made raw syscalls, and which run made which call.
    syscall_runs: Vec<Report>,
    syscall_run_of: BTreeMap<String, usize>,
}

impl Obs {
    fn result(&self, id: &str) -> Option<&Value> {
        self.results.get(id)
    }

    /// The denied call with this detail, from the main run's report.
    fn violation(&self, detail: &str) -> Option<&crate::report::Violation> {
        self.main.as_ref()?.violations.iter().find(|v| v.kind == "syscall" && v.detail == detail)
    }

    /// The denied call with this detail, from the report of the run that made call `id`.
    fn violation_of(&self, id: &str, detail: &str) -> Option<&crate::report::Violation> {
        match self.syscall_run_of.get(id) {
            Some(&run) => {
                self.syscall_runs.get(run)?.violations.iter().find(|v| v.kind == "syscall" && v.detail == detail)
            }
            None => self.violation(detail),
        }
    }

    fn missing(&self) -> String {
        match &self.main {
            None => "no observation: the probe run did not happen".into(),
            Some(r) => {
                let why = match (&r.error, &r.message) {
                    (Some(e), _) => format!(" ({}: {})", e.kind, e.message),
                    (None, Some(m)) => format!(" ({})", m.chars().take(160).collect::<String>()),
                    (None, None) => String::new(),
                };
                format!("no observation: the probe run ended {}{why}", r.status)
            }
        }
    }
}

/// Observed text, outcome, and whether the observation exceeds the profile.
type Verdict = (String, Outcome, bool);
type Judge = Box<dyn Fn(&Obs) -> Verdict>;
type StatusJudge = Box<dyn Fn(&Value) -> Verdict>;

struct Pending {
    area: &'static str,
    claim: String,
    declared: String,
    judge: Judge,
}

/// An errno with what usually produces it in a jail.
fn errno_words(err: &str) -> String {
    let why = match err {
        "EACCES" => " (Landlock or file permissions)",
        "EROFS" => " (read-only mount)",
        "ENOENT" => " (not in the jail's view)",
        "EPERM" => " (operation not permitted)",
        "ENETUNREACH" => " (no route: empty network namespace)",
        "ENOSPC" => " (no space left)",
        "EFBIG" => " (file size limit)",
        "EMFILE" => " (open files limit)",
        "ESRCH" => " (no such process)",
        _ => "",
    };
    format!("{err}{why}")
}

fn probe_text(r: &Value) -> String {
    if r["ok"] == json!(true) {
        r["detail"].as_str().unwrap_or("succeeded").to_string()
    } else {
        let err = r["err"].as_str().unwrap_or("failed");
        match r["stage"].as_str() {
            Some(stage) => format!("{stage}: {}", errno_words(err)),
            None => format!("refused: {}", errno_words(err)),
        }
    }
}

/// The verdict of an access claim.
fn judge_access(declared: bool, baseline: bool, may_fail: bool, observed: bool) -> (Outcome, bool) {
    match (declared, observed) {
        (false, false) => (Outcome::Pass, false),
        (false, true) => (Outcome::Fail, true),
        (true, true) if baseline => (Outcome::Pass, false),
        (true, true) => (Outcome::Exceeds, false),
        (true, false) if may_fail => (Outcome::Pass, false),
        (true, false) => (Outcome::Fail, false),
    }
}

// ---------------------------------------------------------------------------------------------
// Building the claims

struct Builder<'a> {
    s: &'a Subject,
    python: bool,
    probes: Vec<Value>,
    /// Raw syscalls (with the detail their denial is reported under), made in batches.
    syscalls: Vec<(Value, String)>,
    claims: Vec<Pending>,
    /// (purpose, input, limits) of the edge runs.
    edges: Vec<(&'static str, Value, LimitOverrides)>,
}

impl<'a> Builder<'a> {
    fn probe(&mut self, mut op: Value) -> String {
        let id = format!("p{}", self.probes.len());
        op["id"] = json!(id);
        self.probes.push(op);
        id
    }

    fn syscall_probe(&mut self, nr: u32, args: [u64; 6]) -> String {
        let id = format!("s{}", self.syscalls.len());
        let detail = crate::seccomp::describe(i64::from(nr), &args).1;
        self.syscalls.push((json!({"id": id, "nr": nr, "args": args}), detail));
        id
    }

    fn claim(&mut self, area: &'static str, claim: impl Into<String>, declared: impl Into<String>, judge: Judge) {
        self.claims.push(Pending { area, claim: claim.into(), declared: declared.into(), judge });
    }

    /// A claim decided by one probe: was the operation allowed?
    #[allow(clippy::too_many_arguments)]
    fn access(
        &mut self,
        area: &'static str,
        claim: impl Into<String>,
        declared: impl Into<String>,
        allowed: bool,
        baseline: bool,
        may_fail: bool,
        op: Value,
    ) {
        let (claim, declared) = (claim.into(), declared.into());
        let id = self.probe(op);
        self.claim(
            area,
            claim,
            declared,
            Box::new(move |o| match o.result(&id) {
                None => (o.missing(), Outcome::Fail, false),
                Some(r) => {
                    let observed = r["ok"] == json!(true);
                    let (outcome, exceeds) = judge_access(allowed, baseline, may_fail, observed);
                    let mut text = probe_text(r);
                    if outcome == Outcome::Exceeds {
                        text.push_str(" — beyond the jaild baseline");
                    }
                    if outcome == Outcome::Pass && allowed && !observed {
                        text.push_str(if baseline { " (the host's own permissions refuse it)" } else { " (the host's own permissions refuse it; the grant is still beyond the jaild baseline, see lint)" });
                    }
                    (text, outcome, exceeds)
                }
            }),
        );
    }
}

/// Host paths next to the planned ones (and at the top level) that the jail must not show.
fn host_neighbours(planned: &BTreeSet<PathBuf>) -> Vec<PathBuf> {
    let mut dirs: BTreeSet<PathBuf> = BTreeSet::from([PathBuf::from("/")]);
    for p in planned {
        if let Some(parent) = p.parent() {
            dirs.insert(parent.to_path_buf());
        }
    }
    let mut out = Vec::new();
    for d in dirs {
        if planned.contains(&d) && std::fs::metadata(&d).map(|m| m.is_dir()).unwrap_or(false) && d != Path::new("/") {
            // A bound directory: its contents are planned.
            if !planned.iter().any(|p| p != &d && p.starts_with(&d)) {
                continue;
            }
        }
        let Ok(entries) = std::fs::read_dir(&d) else { continue };
        let mut names: Vec<PathBuf> = entries.flatten().map(|e| e.path()).filter(|p| !planned.contains(p)).collect();
        names.sort();
        out.extend(names.into_iter().take(24));
    }
    out
}

/// Where scratch files for exec probes go: the work dir.
fn scratch_dir(s: &Subject) -> PathBuf {
    s.profile.file.filesystem.workdir.clone()
}

fn filesystem_claims(b: &mut Builder) {
    let s = b.s;
    let plan = &s.plan;
    // The whole view first, before any probe writes to scratch.
    let mut expected: BTreeSet<PathBuf> = BTreeSet::new();
    let mut skip: Vec<String> = Vec::new();
    for (dst, m) in audit::plan_paths(plan) {
        let mut p = dst.as_path();
        expected.insert(dst.clone());
        while let Some(parent) = p.parent() {
            if parent == Path::new("/") {
                break;
            }
            expected.insert(parent.to_path_buf());
            p = parent;
        }
        if matches!(m, Mount::Bind { .. } | Mount::Tmpfs { .. } | Mount::Proc { .. }) {
            skip.push(dst.display().to_string());
        }
    }
    let walk = b.probe(json!({"op": "walk", "skip": skip}));
    // Host paths that must not exist in the jail: the host's top level and the neighbours of
    // every planned path (lstat is not subject to Landlock, so absence here is the mount view).
    let host_sample = host_neighbours(&expected);
    let sample_count = host_sample.len();
    let lstat = b.probe(json!({"op": "lstat", "paths": host_sample}));
    let expected_count = expected.len();
    b.claim(
        "filesystem",
        "sees nothing of the host but the planned paths",
        format!("{expected_count} paths: the plan's mounts and their parent directories"),
        Box::new(move |o| {
            let (Some(w), Some(l)) = (o.result(&walk), o.result(&lstat)) else {
                return (o.missing(), Outcome::Fail, false);
            };
            let seen: BTreeSet<PathBuf> =
                w["entries"].as_array().into_iter().flatten().filter_map(|v| v.as_str()).map(PathBuf::from).collect();
            let extra: Vec<String> = seen.difference(&expected).map(|p| p.display().to_string()).collect();
            let found: Vec<String> =
                l["found"].as_array().into_iter().flatten().filter_map(|v| v.as_str()).map(String::from).collect();
            let unlisted = w["errors"].as_array().map(Vec::len).unwrap_or(0);
            if !extra.is_empty() || !found.is_empty() {
                let mut all = extra;
                all.extend(found);
                (format!("also sees {}", all.join(", ")), Outcome::Fail, true)
            } else {
                let walk = if seen.is_empty() && unlisted > 0 {
                    "/ itself cannot be listed (Landlock grants no read right there)".to_string()
                } else {
                    format!(
                        "a walk from / found {} paths, all planned ({unlisted} directories refused listing)",
                        seen.len()
                    )
                };
                (format!("none of {sample_count} other host paths exists in the jail; {walk}"), Outcome::Pass, false)
            }
        }),
    );

    for m in &plan.mounts {
        match m {
            Mount::Tmpfs { dst, size_bytes, .. } => {
                let baseline = under_any(dst, SCRATCH_ROOTS);
                b.access(
                    "filesystem",
                    format!("may write {}", dst.display()),
                    format!("scratch tmpfs, {}", audit::bytes(*size_bytes)),
                    true,
                    baseline,
                    false,
                    json!({"op": "write", "path": dst}),
                );
            }
            Mount::Bind { src, dst, dev: false, .. } => {
                // Binds are read-only mounts by construction.
                let writable = &false;
                let secrets = exposed_secrets(src);
                let baseline = secrets.iter().all(|(_, sev, _)| *sev < Severity::Medium);
                let what = audit::mount_comment(s, dst)
                    .map(|c| c.split(&[';', '('][..]).next().unwrap_or("").trim().to_string())
                    .unwrap_or_default();
                // A bound host path beyond the baseline may still be closed by the host's own
                // permissions (root's 0700 home): not a grant then, but lint flags it anyway.
                b.access(
                    "filesystem",
                    format!("may read {}", dst.display()),
                    if what.is_empty() { "read-only bind".to_string() } else { format!("read-only bind: {what}") },
                    true,
                    baseline,
                    !baseline,
                    json!({"op": "read", "path": dst}),
                );
                b.access(
                    "filesystem",
                    format!("may {}write {}", if *writable { "" } else { "not " }, dst.display()),
                    if *writable { "writable bind" } else { "read-only bind" }.to_string(),
                    *writable,
                    false,
                    false,
                    json!({"op": "write", "path": dst}),
                );
            }
            Mount::Bind { dst, dev: true, .. } => {
                // A device bind is a read-only mount; writing the device itself is Landlock's call.
                let writable = &(audit::rights_at(&s.plan, dst) & access::WRITE_FILE != 0);
                b.access(
                    "filesystem",
                    format!("may {}write {}", if *writable { "" } else { "not " }, dst.display()),
                    if *writable { "device, writable" } else { "device, read-only" }.to_string(),
                    *writable,
                    true,
                    false,
                    json!({"op": "write", "path": dst}),
                );
            }
            Mount::File { dst, .. } => {
                b.access(
                    "filesystem",
                    format!("may read {}", dst.display()),
                    if dst.starts_with("/etc") {
                        "the jail's own file (written by jaild, never the host's), read-only"
                    } else {
                        "jaild's runner, read-only"
                    },
                    true,
                    true,
                    false,
                    json!({"op": "read", "path": dst}),
                );
                b.access(
                    "filesystem",
                    format!("may not write {}", dst.display()),
                    "read-only",
                    false,
                    false,
                    false,
                    json!({"op": "write", "path": dst}),
                );
            }
            _ => {}
        }
    }
    b.access(
        "filesystem",
        "may not create files in /",
        "read-only root",
        false,
        false,
        false,
        json!({"op": "write", "path": "/"}),
    );
    // Baseline: system directories stay read-only whatever the profile mounts there.
    let tmpfs: Vec<PathBuf> = s.profile.file.filesystem.tmpfs.iter().map(|t| t.path.clone()).collect();
    for d in ["/etc", "/usr", "/bin", "/lib", "/opt", "/var", "/root", "/home", "/boot", "/run", "/sys"] {
        let declared = tmpfs.iter().any(|t| t == Path::new(d));
        if declared {
            continue; // the tmpfs claim above covers it (and the baseline judges it)
        }
        b.access(
            "filesystem",
            format!("may not write {d}"),
            "not a scratch mount",
            false,
            false,
            false,
            json!({"op": "write", "path": d}),
        );
    }
    // Baseline: host secrets stay out of reach. (/etc/passwd is the jail's own file: its claims
    // are the plan's files above.)
    let readable = |p: &Path| -> bool {
        plan.mounts.iter().any(|m| match m {
            Mount::Bind { dst, dev: false, .. } => p.starts_with(dst),
            _ => false,
        })
    };
    for p in [
        "/etc/shadow",
        "/etc/ssh",
        "/root",
        "/home",
        "/var/run/docker.sock",
        "/run",
        "/var/log",
        "/boot",
        "/sys/kernel",
        "/proc/1/environ",
        "/proc/1/root",
    ] {
        let path = Path::new(p);
        let declared = readable(path);
        b.access(
            "filesystem",
            format!("may {}read {p}", if declared { "" } else { "not " }),
            if declared { "inside a bound path (beyond the baseline)" } else { "not bound" }.to_string(),
            declared,
            false,
            true,
            json!({"op": "read", "path": p}),
        );
    }
}

fn exec_claims(b: &mut Builder) {
    let s = b.s;
    let m = &s.interpreter.manifest;
    let plan = &s.plan;
    let args: Vec<&str> = if b.python { vec!["-c", "pass"] } else { vec!["-e", "0"] };
    b.access(
        "execute",
        format!("may execute {}", m.binary.display()),
        "the interpreter (Landlock execute)",
        true,
        true,
        false,
        json!({"op": "exec", "path": m.binary, "args": args}),
    );
    b.access(
        "execute",
        format!("may execute {}", m.loader.display()),
        "its loader (Landlock execute)",
        true,
        true,
        false,
        json!({"op": "exec", "path": m.loader, "args": ["--version"]}),
    );
    // Execute rights the plan grants beyond those two exceed the baseline.
    for r in &plan.landlock.rules {
        if r.access & access::EXECUTE != 0 && r.path != m.binary && r.path != m.loader {
            b.access(
                "execute",
                format!("may execute {}", r.path.display()),
                "Landlock execute (beyond the interpreter)",
                true,
                false,
                false,
                json!({"op": "exec", "path": r.path, "args": []}),
            );
        }
    }
    let scratch = scratch_dir(s);
    b.access(
        "execute",
        format!("may not execute a copy of the loader in {}", scratch.display()),
        "scratch is noexec, no Landlock execute",
        false,
        false,
        false,
        json!({"op": "exec", "path": scratch.join("jaild-verify-ld"), "copy_from": m.loader, "args": ["--version"]}),
    );
    b.access(
        "execute",
        format!("may not execute a script written to {}", scratch.display()),
        "scratch is noexec",
        false,
        false,
        false,
        json!({"op": "exec", "path": scratch.join("jaild-verify.sh"), "content": format!("#!{}\n", m.binary.display()), "args": []}),
    );
    for mount in &plan.mounts {
        match mount {
            Mount::Bind { src, dst, dev: false, .. }
                if dst != &m.binary && dst != &m.loader && rights_at(plan, dst) & access::EXECUTE == 0 =>
            {
                if let Some((host, inside)) = executable_below(src, dst) {
                    let _ = host;
                    b.access(
                        "execute",
                        format!("may not execute {}", inside.display()),
                        "no Landlock execute there",
                        false,
                        false,
                        false,
                        json!({"op": "exec", "path": inside, "args": ["--version"]}),
                    );
                }
            }
            Mount::File { dst, .. } => {
                b.access(
                    "execute",
                    format!("may not execute {}", dst.display()),
                    "mode 0444, no Landlock execute",
                    false,
                    false,
                    false,
                    json!({"op": "exec", "path": dst, "args": []}),
                );
            }
            _ => {}
        }
    }
    b.access(
        "execute",
        "may not execute host programs (/bin/sh)",
        "not bound",
        false,
        false,
        false,
        json!({"op": "exec", "path": "/bin/sh", "args": ["-c", "true"]}),
    );
    if b.python {
        let program = s.program();
        let declared = audit::allows(program, "memfd_create", [0; 6]) && audit::allows(program, "execve", [0; 6]);
        b.access(
            "execute",
            "may not execute an in-memory file (memfd)",
            if declared { "memfd_create and execve allowed (beyond the baseline)" } else { "memfd_create denied" }
                .to_string(),
            declared,
            false,
            false,
            json!({"op": "memfd_exec", "copy_from": m.loader, "args": ["--version"]}),
        );
    }
}

/// A regular file under a bound host path to try executing: the path itself if a file, else
/// the first executable-looking file found in the directory (two levels).
fn executable_below(src: &Path, dst: &Path) -> Option<(PathBuf, PathBuf)> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(src).ok()?;
    if meta.is_file() {
        return Some((src.to_path_buf(), dst.to_path_buf()));
    }
    let mut dirs = vec![src.to_path_buf()];
    let mut fallback = None;
    for _ in 0..2 {
        let mut next = Vec::new();
        for d in dirs {
            let Ok(entries) = std::fs::read_dir(&d) else { continue };
            let mut entries: Vec<_> = entries.flatten().collect();
            entries.sort_by_key(|e| e.file_name());
            for e in entries.into_iter().take(400) {
                let p = e.path();
                let Ok(md) = std::fs::symlink_metadata(&p) else { continue };
                if md.is_dir() {
                    next.push(p);
                } else if md.is_file() {
                    let rel = p.strip_prefix(src).ok()?.to_path_buf();
                    if md.permissions().mode() & 0o111 != 0 {
                        return Some((p, dst.join(rel)));
                    }
                    if fallback.is_none() && p.extension().is_some_and(|x| x == "so") {
                        fallback = Some((p.clone(), dst.join(rel)));
                    }
                }
            }
        }
        dirs = next;
    }
    fallback
}

fn syscall_claims(b: &mut Builder) {
    let s = b.s;
    let program = s.program().to_vec();
    let python = b.python;
    // The compiled program against the file, for every number and the argument probes.
    let mut checked = 0usize;
    let mut disagree = Vec::new();
    for sys in syscalls::Sysno::iter() {
        let nr = sys.id() as u32;
        let mut cases = vec![[0u64; 6]];
        cases.extend(ARG_PROBES.iter().filter(|p| p.syscall == sys.name()).map(|p| p.args()));
        for args in cases {
            checked += 1;
            if decide(&program, nr, args) != s.policy.declared(nr, &args).decision() {
                disagree.push(sys.name().to_string());
            }
        }
    }
    b.claim(
        "syscalls",
        "the compiled filter decides as the policy file says",
        format!("{} ({} syscalls with entries)", s.policy.path.display(), s.policy.rules.len()),
        Box::new(move |_| {
            if disagree.is_empty() {
                (
                    format!("agrees on all {checked} cases (every x86_64 syscall number, plus the argument probes)"),
                    Outcome::Pass,
                    false,
                )
            } else {
                (format!("disagrees on {}", disagree.join(", ")), Outcome::Fail, true)
            }
        }),
    );

    for sys in syscalls::Sysno::iter() {
        let name = sys.name();
        let nr = sys.id() as u32;
        let zeros = [0u64; 6];
        let declared = s.policy.declared(nr, &zeros);
        let compiled = decide(&program, nr, zeros);
        let Declared::Deny { errno, level } = declared else {
            if compiled != declared.decision() {
                let want = if declared == Declared::Allow { "allowed" } else { "without effect" };
                b.claim(
                    "syscalls",
                    format!("syscall {name} {want}"),
                    want,
                    Box::new(move |_| (format!("the compiled filter decides {compiled:?}"), Outcome::Fail, false)),
                );
            }
            continue;
        };
        let listed = s.policy.rule(name).is_some();
        let declared_text =
            format!("{errno}{}{}", audit::denial_words(level), if listed { "" } else { " (the policy's default)" });
        let live = (python && compiled == Decision::Notify && !UNSAFE_WITH_ZEROS.contains(&name))
            .then(|| b.syscall_probe(nr, zeros));
        let detail = crate::seccomp::describe(i64::from(nr), &zeros).1;
        b.claim(
            "syscalls",
            format!("syscall {name} denied"),
            declared_text,
            Box::new(move |o| syscall_judge(o, &detail, &errno, Some(level), compiled, live.as_deref(), false, true)),
        );
    }

    // Calls the policy answers without effect: they must return 0 without being run. Each is
    // made with arguments the kernel would refuse (fd 0 is /dev/null, a NULL lock structure),
    // so a call that did run would fail.
    for r in &s.policy.rules {
        let alts: Vec<Option<&audit::Alternative>> = match &r.verdict {
            audit::Verdict::NoEffect => vec![None],
            audit::Verdict::AllowIf(alts) => alts.iter().filter(|a| a.no_effect).map(Some).collect(),
            _ => continue,
        };
        for alt in alts {
            let mut args = [0u64; 6];
            for c in alt.map(|a| a.conditions.as_slice()).unwrap_or_default() {
                args[usize::from(c.index).min(5)] = c.value;
            }
            let nr = r.nr;
            let compiled = decide(&program, nr, args);
            let label = match alt {
                Some(a) => format!(
                    "{}({})",
                    r.name,
                    audit::alternatives_words(&r.name, std::slice::from_ref(a)).trim_start_matches("only ")
                ),
                None => r.name.clone(),
            };
            let live = (python && compiled == Decision::NoEffect).then(|| b.syscall_probe(nr, args));
            let detail = crate::seccomp::describe(i64::from(nr), &args).1;
            b.claim(
                "syscalls",
                format!("{label} succeeds without effect"),
                "no_effect: returns 0, never run, not reported",
                Box::new(move |o| no_effect_judge(o, &detail, compiled, live.as_deref())),
            );
        }
    }

    // Dangerous values of filtered arguments.
    for p in ARG_PROBES {
        let Some(nr) = sysno(p.syscall) else { continue };
        let args = p.args();
        let declared = s.policy.declared(nr, &args);
        let compiled = decide(&program, nr, args);
        let baseline = p.severity < Severity::Medium;
        let live = (python && (compiled == Decision::Notify || p.safe)).then(|| b.syscall_probe(nr, args));
        let detail = crate::seccomp::describe(i64::from(nr), &args).1;
        let (claim, errno, level, allowed) = match &declared {
            Declared::Allow => (format!("{}({}) allowed", p.syscall, p.label), String::new(), None, true),
            Declared::NoEffect => {
                let claim = format!("{}({}) succeeds without effect", p.syscall, p.label);
                let live = live.clone();
                b.claim(
                    "syscalls",
                    claim,
                    "no_effect: returns 0, never run, not reported",
                    Box::new(move |o| no_effect_judge(o, &detail, compiled, live.as_deref())),
                );
                continue;
            }
            Declared::Deny { errno, level } => {
                (format!("{}({}) denied", p.syscall, p.label), errno.clone(), Some(*level), false)
            }
        };
        let declared_text =
            if allowed { format!("allowed by the filter: a script can {}", p.gives) } else { errno.clone() };
        b.claim(
            "syscalls",
            claim,
            declared_text,
            Box::new(move |o| syscall_judge(o, &detail, &errno, level, compiled, live.as_deref(), allowed, baseline)),
        );
    }

    // Dangerous syscalls the policy allows: beyond the baseline unless low.
    for d in DANGERS {
        for name in d.syscalls {
            let Some(nr) = sysno(name) else { continue };
            if !audit::allowed_somehow(&program, name) {
                continue;
            }
            let baseline = d.severity < Severity::Medium;
            let args = safe_args(name);
            let live = match args {
                Some(a) if python => Some(b.syscall_probe(nr, a)),
                _ => None,
            };
            let a = args.unwrap_or([0; 6]);
            let compiled = decide(&program, nr, a);
            let detail = crate::seccomp::describe(i64::from(nr), &a).1;
            b.claim(
                "syscalls",
                format!("syscall {name} allowed"),
                format!("allowed by the policy: a script can {}", d.gives),
                Box::new(move |o| syscall_judge(o, &detail, "", None, compiled, live.as_deref(), true, baseline)),
            );
        }
    }
}

/// A no_effect claim: the compiled program answers ERRNO|0 and, where made, the live call
/// returned 0 and the report does not name it.
fn no_effect_judge(o: &Obs, detail: &str, compiled: Decision, live: Option<&str>) -> (String, Outcome, bool) {
    if compiled != Decision::NoEffect {
        return (format!("the compiled filter decides {compiled:?}"), Outcome::Fail, compiled == Decision::Allow);
    }
    let Some(id) = live else {
        return ("filter: no effect (returns 0); live: not possible from JavaScript".into(), Outcome::Pass, false);
    };
    match o.result(id) {
        None => (o.missing(), Outcome::Fail, false),
        Some(r) if r["ok"] == json!(true) && r["ret"] == json!(0) && o.violation_of(id, detail).is_none() => (
            "filter: no effect; live: returned 0 where the kernel would have refused these arguments, not reported"
                .into(),
            Outcome::Pass,
            false,
        ),
        Some(r) => (
            format!(
                "filter: no effect; live: {r}{}",
                if o.violation_of(id, detail).is_some() { ", reported" } else { "" }
            ),
            Outcome::Fail,
            false,
        ),
    }
}

/// A syscall claim: the static decision of the compiled program and, where made, the live call
/// (its errno, and the level the report gives its denial, must be the declared ones).
#[allow(clippy::too_many_arguments)]
fn syscall_judge(
    o: &Obs,
    detail: &str,
    errno: &str,
    level: Option<audit::DenialLevel>,
    compiled: Decision,
    live: Option<&str>,
    declared_allowed: bool,
    baseline: bool,
) -> (String, Outcome, bool) {
    let statically_allowed = compiled == Decision::Allow;
    let static_text = match compiled {
        Decision::Allow => "filter: allow",
        Decision::NoEffect => "filter: no effect (returns 0, never run)",
        Decision::Notify => "filter: denied (supervisor notified)",
        Decision::Kill => "filter: kill",
    };
    let (observed_allowed, text) = match live {
        None => match o.violation(detail) {
            // No call of its own (JavaScript), but another probe made it (net.connect makes
            // socket(AF_INET)) and the report names it.
            Some(_) if !statically_allowed => {
                (false, format!("{static_text}; live: reported as \"{detail}\" when the network probes tried it"))
            }
            _ => (
                statically_allowed,
                format!(
                    "{static_text}; live: {}",
                    if o.python {
                        "not made (not harmless with these arguments)"
                    } else {
                        "not possible from JavaScript"
                    }
                ),
            ),
        },
        Some(id) => match o.result(id) {
            None => return (o.missing(), Outcome::Fail, false),
            Some(r) if r.get("unsupported").is_some() => {
                (statically_allowed, format!("{static_text}; live: not possible in JavaScript"))
            }
            Some(r) if r.get("signal").is_some_and(|v| !v.is_null()) => {
                let sig = r["signal"].as_i64().unwrap_or(0);
                if audit::KERNEL_UNFILTERED.contains(&detail) && sig == i64::from(libc::SIGILL) {
                    return (
                        format!("{static_text}; live: SIGILL — this kernel runs {detail} without consulting seccomp (uprobe trampolines call it) and kills any other caller"),
                        Outcome::Pass,
                        false,
                    );
                }
                return (
                    format!("{static_text}; live: the call killed its process (signal {sig})"),
                    Outcome::Fail,
                    false,
                );
            }
            Some(r) => {
                let got = r["err"].as_str().unwrap_or("none");
                match o.violation_of(id, detail) {
                    Some(v) => {
                        let errno_ok = errno.is_empty() || same_errno(got, errno);
                        let text =
                            format!("{static_text}; live: {got}, reported as \"{detail}\" at level {}", v.level.name());
                        if !errno_ok && !declared_allowed {
                            return (format!("{text}; expected {errno}"), Outcome::Fail, false);
                        }
                        if let Some(want) = level.filter(|want| *want != v.level && !declared_allowed) {
                            return (format!("{text}; expected level {}", want.name()), Outcome::Fail, false);
                        }
                        (false, text)
                    }
                    None if audit::KERNEL_UNFILTERED.contains(&detail) && r["ok"] != json!(true) => {
                        return (
                            format!("{static_text}; live: {got} — this kernel runs {detail} without consulting seccomp (uprobe trampolines call it); from anywhere else it fails"),
                            Outcome::Pass,
                            false,
                        );
                    }
                    None => {
                        let ret = if r["ok"] == json!(true) {
                            format!("returned {}", r["ret"])
                        } else {
                            format!("reached the kernel, which answered {got}")
                        };
                        (true, format!("{static_text}; live: {ret}, not reported"))
                    }
                }
            }
        },
    };
    if statically_allowed != observed_allowed {
        return (
            format!("{text}; the compiled filter and the kernel disagree"),
            Outcome::Fail,
            observed_allowed && !declared_allowed,
        );
    }
    let (outcome, exceeds) = judge_access(declared_allowed, baseline, false, observed_allowed);
    let text = if outcome == Outcome::Exceeds { format!("{text} — beyond the jaild baseline") } else { text };
    (text, outcome, exceeds)
}

fn network_claims(b: &mut Builder) {
    let targets = [
        ("no network: TCP to 1.1.1.1:53", "inet", "tcp", "1.1.1.1", 53),
        ("no network: TCP to 127.0.0.1:80 (loopback)", "inet", "tcp", "127.0.0.1", 80),
        ("no network: UDP to 8.8.8.8:53", "inet", "udp", "8.8.8.8", 53),
        ("no network: TCP to [2606:4700:4700::1111]:53", "inet6", "tcp", "2606:4700:4700::1111", 53),
    ];
    for (claim, family, proto, host, port) in targets {
        b.access(
            "network",
            claim.to_string(),
            "network mode none".to_string(),
            false,
            false,
            false,
            json!({"op": "connect", "family": family, "proto": proto, "host": host, "port": port}),
        );
    }
    if b.python {
        let allowed = audit::allows(b.s.program(), "socketpair", audit::with_arg(0, 1));
        b.access(
            "network",
            "AF_UNIX socket pairs work".to_string(),
            if allowed { "socketpair(AF_UNIX) allowed" } else { "socketpair denied" }.to_string(),
            allowed,
            true,
            false,
            json!({"op": "socketpair"}),
        );
    }
}

fn identity_claims(b: &mut Builder) {
    let s = b.s;
    let plan = &s.plan;
    let status = b.probe(json!({"op": "status"}));
    let uid = plan.uid;
    let gid = plan.gid;
    let (first_host_uid, last_host_uid) = s.host_script_uids;
    let workdir = plan.cwd.clone();
    let mut add = |claim: &str, declared: String, f: StatusJudge| {
        let id = status.clone();
        b.claim(
            "identity",
            claim.to_string(),
            declared,
            Box::new(move |o| match o.result(&id) {
                Some(r) if r["ok"] == json!(true) => f(r),
                Some(r) => (probe_text(r), Outcome::Fail, false),
                None => (o.missing(), Outcome::Fail, false),
            }),
        );
    };
    add(
        "runs as an unprivileged user",
        format!("uid {uid}, gid {gid}"),
        Box::new(move |r| {
            let u = r["status"]["Uid"].as_array().cloned().unwrap_or_default();
            let g = r["status"]["Gid"].as_array().cloned().unwrap_or_default();
            let ok = !u.is_empty()
                && u.iter().all(|v| v == &json!(uid.to_string()))
                && g.iter().all(|v| v == &json!(gid.to_string()));
            (format!("Uid {} Gid {}", join(&u), join(&g)), if ok { Outcome::Pass } else { Outcome::Fail }, !ok)
        }),
    );
    add(
        "holds no capabilities",
        "empty inheritable, permitted, effective, bounding and ambient sets".into(),
        Box::new(|r| {
            let sets: Vec<String> = ["CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"]
                .iter()
                .map(|k| format!("{k} {}", join(r["status"][k].as_array().map(Vec::as_slice).unwrap_or(&[]))))
                .collect();
            let ok = ["CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"].iter().all(|k| {
                r["status"][k]
                    .as_array()
                    .and_then(|a| a.first())
                    .and_then(|v| v.as_str())
                    .is_some_and(|v| v.chars().all(|c| c == '0'))
            });
            (sets.join(", "), if ok { Outcome::Pass } else { Outcome::Fail }, !ok)
        }),
    );
    add(
        "cannot gain privileges (no_new_privs) and runs under a seccomp filter",
        "NoNewPrivs 1, Seccomp 2 (filter)".into(),
        Box::new(|r| {
            let nnp = r["status"]["NoNewPrivs"][0].as_str().unwrap_or("?").to_string();
            let sc = r["status"]["Seccomp"][0].as_str().unwrap_or("?").to_string();
            let ok = nnp == "1" && sc == "2";
            (format!("NoNewPrivs {nnp}, Seccomp {sc}"), if ok { Outcome::Pass } else { Outcome::Fail }, !ok)
        }),
    );
    add(
        "its user namespace maps no id to host root",
        format!(
            "uid {uid} = one host uid of {first_host_uid}..{last_host_uid} (its slot's); every host id unprivileged"
        ),
        Box::new(move |r| {
            let mut lines = Vec::new();
            let mut ok = true;
            for map in ["uid_map", "gid_map"] {
                for l in r[map].as_array().into_iter().flatten() {
                    let cols: Vec<u64> =
                        l.as_array().into_iter().flatten().filter_map(|v| v.as_str()?.parse().ok()).collect();
                    if cols.len() == 3 {
                        lines.push(format!("{map} {} -> {} ({})", cols[0], cols[1], cols[2]));
                        ok &= cols[1] >= 1000;
                        if map == "uid_map" && cols[0] == u64::from(uid) {
                            ok &= (u64::from(first_host_uid)..=u64::from(last_host_uid)).contains(&cols[1]);
                        }
                    }
                }
            }
            (lines.join(", "), if ok { Outcome::Pass } else { Outcome::Fail }, !ok)
        }),
    );
    add(
        "has a host name of its own",
        "UTS namespace, hostname jail".into(),
        Box::new(|r| {
            let h = r["hostname"].as_str().unwrap_or("?").to_string();
            let ok = h == "jail";
            (format!("hostname {h}"), if ok { Outcome::Pass } else { Outcome::Fail }, false)
        }),
    );
    add(
        "starts in its work dir",
        workdir.display().to_string(),
        Box::new(move |r| {
            let cwd = r["cwd"].as_str().unwrap_or("?").to_string();
            let ok = Path::new(&cwd) == workdir;
            (cwd, if ok { Outcome::Pass } else { Outcome::Fail }, false)
        }),
    );
    let env: BTreeMap<String, String> = plan.env.iter().cloned().collect();
    let env_id = b.probe(json!({"op": "environ"}));
    let declared = env.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(" ");
    b.claim(
        "environment",
        "the environment is exactly the profile's",
        declared,
        Box::new(move |o| {
            let Some(r) = o.result(&env_id) else { return (o.missing(), Outcome::Fail, false) };
            let got: BTreeMap<String, String> = r["env"]
                .as_object()
                .into_iter()
                .flatten()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_string()))
                .collect();
            let extra: Vec<String> =
                got.iter().filter(|(k, v)| env.get(*k) != Some(v)).map(|(k, v)| format!("{k}={v}")).collect();
            let missing: Vec<String> = env.keys().filter(|k| !got.contains_key(*k)).cloned().collect();
            if extra.is_empty() && missing.is_empty() {
                (format!("{} variables, as declared", got.len()), Outcome::Pass, false)
            } else {
                (
                    format!("extra or different: [{}], missing: [{}]", extra.join(" "), missing.join(" ")),
                    Outcome::Fail,
                    !extra.is_empty(),
                )
            }
        }),
    );
}

fn join(v: &[Value]) -> String {
    v.iter().filter_map(|x| x.as_str()).collect::<Vec<_>>().join(" ")
}

fn process_claims(b: &mut Builder) {
    let proc = b.probe(json!({"op": "proc"}));
    b.claim(
        "processes",
        "sees only its own processes",
        "a PID namespace of its own; /proc of the jail".to_string(),
        Box::new(move |o| {
            let Some(r) = o.result(&proc) else { return (o.missing(), Outcome::Fail, false) };
            let me = r["self"].as_u64().unwrap_or(0);
            let others: Vec<u64> =
                r["pids"].as_array().into_iter().flatten().filter_map(Value::as_u64).filter(|p| *p != me).collect();
            if others.is_empty() {
                (format!("/proc lists only itself (pid {me})"), Outcome::Pass, false)
            } else {
                (format!("/proc also lists pids {others:?}"), Outcome::Fail, true)
            }
        }),
    );
    b.access(
        "processes",
        "cannot signal the jail's init (pid 1)".to_string(),
        "uid and Landlock signal scope".to_string(),
        false,
        false,
        false,
        json!({"op": "kill", "pid": 1, "sig": 0}),
    );
}

fn limit_claims(b: &mut Builder) {
    let s = b.s;
    let l = s.profile.file.limits;
    let ceiling_check = |field: &str, value: u64| -> Option<String> {
        let c = audit::ceiling(field)?;
        (value > c.high).then(|| {
            format!(
                "above the jaild baseline ceiling of {}",
                if matches!(field, "memory" | "stdout" | "tmpfs" | "file_size") {
                    audit::bytes(c.high)
                } else {
                    c.high.to_string()
                }
            )
        })
    };
    // Open files.
    let n = l.open_files;
    let id = b.probe(json!({"op": "open_files", "stop": n.min(70_000) + 16}));
    let over = ceiling_check("open_files", n);
    b.claim(
        "limits",
        format!("at most {n} open files"),
        format!("RLIMIT_NOFILE {n}"),
        Box::new(move |o| {
            let Some(r) = o.result(&id) else { return (o.missing(), Outcome::Fail, false) };
            let highest = r["highest"].as_i64().unwrap_or(-1);
            let err = r["err"].as_str().unwrap_or("none").to_string();
            let text = format!("opened descriptors up to {highest}, then {err}");
            let limit = highest + 1;
            if limit as u64 > n {
                (text, Outcome::Fail, true)
            } else if err != "EMFILE" || (limit as u64) < n {
                (text, Outcome::Fail, false)
            } else if let Some(over) = &over {
                (format!("{text} — {over}"), Outcome::Exceeds, false)
            } else {
                (text, Outcome::Pass, false)
            }
        }),
    );
    // Scratch space and inodes.
    for t in &s.profile.file.filesystem.tmpfs {
        let size = t.size.0;
        let dir = t.path.clone();
        let margin = if b.python { 48 << 20 } else { 96 << 20 };
        if size > FILL_PROBE_CEILING || size + margin > l.memory.0 {
            let over = ceiling_check("tmpfs", size);
            let text = format!(
                "not filled: {} is above what verify fills ({} or the memory limit less the interpreter's share)",
                t.size,
                audit::bytes(FILL_PROBE_CEILING)
            );
            let outcome = if over.is_some() { Outcome::Exceeds } else { Outcome::Skip };
            let text = match over {
                Some(o) => format!("{text} — {o}"),
                None => text,
            };
            b.claim(
                "limits",
                format!("{} holds at most {}", dir.display(), t.size),
                format!("tmpfs size {}", t.size),
                Box::new(move |_| (text.clone(), outcome, false)),
            );
        } else {
            let id = b.probe(json!({"op": "fill", "dir": dir, "chunk": 1 << 20, "stop": size + (4 << 20)}));
            b.claim(
                "limits",
                format!("{} holds at most {}", dir.display(), t.size),
                format!("tmpfs size {}", t.size),
                Box::new(move |o| {
                    let Some(r) = o.result(&id) else { return (o.missing(), Outcome::Fail, false) };
                    let written = r["written"].as_u64().unwrap_or(0);
                    let err = r["err"].as_str().unwrap_or("none").to_string();
                    let text = format!("wrote {}, then {}", audit::bytes(written), errno_words(&err));
                    if written > size {
                        (text, Outcome::Fail, true)
                    } else if written + size / 8 < size || err == "none" {
                        (format!("{text} (less than declared)"), Outcome::Fail, false)
                    } else {
                        (text, Outcome::Pass, false)
                    }
                }),
            );
        }
        let inodes = t.inodes;
        if inodes <= 100_000 {
            let id = b.probe(json!({"op": "inodes", "dir": t.path, "stop": inodes + 16}));
            b.claim(
                "limits",
                format!("{} holds at most {} files", t.path.display(), inodes),
                format!("tmpfs inodes {inodes}"),
                Box::new(move |o| {
                    let Some(r) = o.result(&id) else { return (o.missing(), Outcome::Fail, false) };
                    let created = r["created"].as_u64().unwrap_or(0);
                    let err = r["err"].as_str().unwrap_or("none").to_string();
                    let text = format!("created {created} files, then {}", errno_words(&err));
                    if created >= inodes {
                        (text, Outcome::Fail, true)
                    } else if created + 16 < inodes {
                        (format!("{text} (fewer than declared)"), Outcome::Fail, false)
                    } else {
                        (text, Outcome::Pass, false)
                    }
                }),
            );
        }
    }
    // File size.
    let fsize = l.file_size.0;
    let smallest = s.profile.file.filesystem.tmpfs.iter().map(|t| t.size.0).max().unwrap_or(0);
    let work = s.profile.file.filesystem.workdir.clone();
    let work_size =
        s.profile.file.filesystem.tmpfs.iter().find(|t| t.path == work).map(|t| t.size.0).unwrap_or(smallest);
    if fsize <= FILL_PROBE_CEILING && work_size + (48 << 20) <= l.memory.0 {
        let id = b.probe(json!({"op": "filesize", "dir": work, "stop": fsize + (1 << 20)}));
        let tmpfs_first = work_size <= fsize;
        b.claim(
            "limits",
            format!("no file larger than {}", l.file_size),
            format!(
                "RLIMIT_FSIZE {}{}",
                l.file_size,
                if tmpfs_first {
                    format!(" (the {} work dir fills first)", audit::bytes(work_size))
                } else {
                    String::new()
                }
            ),
            Box::new(move |o| {
                let Some(r) = o.result(&id) else { return (o.missing(), Outcome::Fail, false) };
                let written = r["written"].as_u64().unwrap_or(0);
                let err = r["err"].as_str().unwrap_or("none").to_string();
                let text = format!("one file grew to {}, then {}", audit::bytes(written), errno_words(&err));
                if written > fsize {
                    (text, Outcome::Fail, true)
                } else if err == "none" {
                    (text, Outcome::Fail, false)
                } else {
                    (text, Outcome::Pass, false)
                }
            }),
        );
    }

    // Edge runs: stdout, memory under and over, pids, wall and CPU time.
    if l.stdout.0 <= OUTPUT_PROBE_CEILING {
        b.edges.push((
            "stdout",
            json!({"mode": "stdout", "bytes": l.stdout.0 + (64 << 10)}),
            LimitOverrides::default(),
        ));
    }
    if l.memory.0 <= MEMORY_PROBE_CEILING {
        b.edges.push(("memory-under", Value::Null, LimitOverrides::default())); // sized after the stdout run
        b.edges.push(("memory-over", json!({"mode": "balloon"}), LimitOverrides::default()));
    }
    if l.pids <= PIDS_PROBE_CEILING {
        b.edges.push(("pids", json!({"mode": "pids"}), LimitOverrides::default()));
    }
    let wall = TIME_PROBE_MS.min(l.wall_time_ms);
    b.edges.push(("wall", json!({"mode": "sleep"}), LimitOverrides { wall_time_ms: Some(wall), ..Default::default() }));
    let cpu = TIME_PROBE_MS.min(l.cpu_time_ms);
    b.edges.push((
        "cpu",
        json!({"mode": "spin"}),
        LimitOverrides {
            cpu_time_ms: Some(cpu),
            wall_time_ms: Some((cpu * 10).min(l.wall_time_ms)),
            ..Default::default()
        },
    ));

    let stdout_cap = l.stdout.0;
    let over = ceiling_check("stdout", stdout_cap);
    b.claim(
        "limits",
        format!("stdout is capped at {}", l.stdout),
        format!("stdout {}; the run stops beyond it (output_limit)", l.stdout),
        Box::new(move |o| match o.edges.get("stdout") {
            None => (
                format!(
                    "not flooded: above {}{}",
                    audit::bytes(OUTPUT_PROBE_CEILING),
                    over.as_ref().map(|x| format!(" — {x}")).unwrap_or_default()
                ),
                if over.is_some() { Outcome::Exceeds } else { Outcome::Skip },
                false,
            ),
            Some(r) => {
                let got = r.stdout.len() as u64;
                let text = format!(
                    "wrote {} past the cap: {}, kept {} bytes{}",
                    audit::bytes(64 << 10),
                    r.status,
                    got,
                    if r.stdout_truncated { ", truncated" } else { "" }
                );
                if got > stdout_cap {
                    (text, Outcome::Fail, true)
                } else if r.status != Status::OutputLimit || got != stdout_cap {
                    (text, Outcome::Fail, false)
                } else {
                    (text, Outcome::Pass, false)
                }
            }
        }),
    );
    let mem = l.memory.0;
    let over = ceiling_check("memory", mem);
    let shown = l.memory;
    b.claim(
        "limits",
        format!("may use {shown} of memory"),
        format!("memory {shown}, no swap"),
        Box::new(move |o| match o.edges.get("memory-under") {
            None => skipped_edge(mem > MEMORY_PROBE_CEILING, &over, audit::bytes(MEMORY_PROBE_CEILING)),
            Some(r) => {
                let text = format!(
                    "allocated {} and touched it: {}, peak {}",
                    r.result.as_u64().map(mib).unwrap_or_else(|| "nothing".into()),
                    r.status,
                    mib(r.usage.memory_peak_bytes)
                );
                match r.status {
                    Status::Ok if r.usage.memory_peak_bytes <= mem => (text, Outcome::Pass, false),
                    Status::Ok => (text, Outcome::Fail, true),
                    _ => (format!("{text} (less than declared)"), Outcome::Fail, false),
                }
            }
        }),
    );
    let over = ceiling_check("memory", mem);
    b.claim(
        "limits",
        format!("may not use more than {shown} of memory"),
        format!("memory {shown}; the OOM killer ends the run beyond it (memory_limit)"),
        Box::new(move |o| match o.edges.get("memory-over") {
            None => skipped_edge(mem > MEMORY_PROBE_CEILING, &over, audit::bytes(MEMORY_PROBE_CEILING)),
            Some(r) => {
                let peak = r.usage.memory_peak_bytes;
                let text = format!(
                    "allocated without end: {}, {} OOM kill(s), peak {}",
                    r.status,
                    r.usage.oom_kills,
                    mib(peak)
                );
                if peak > mem + mem / 50 {
                    (text, Outcome::Fail, true)
                } else if r.status != Status::MemoryLimit {
                    (text, Outcome::Fail, r.status == Status::Ok)
                } else {
                    (text, Outcome::Pass, false)
                }
            }
        }),
    );
    let pids = l.pids;
    let over = ceiling_check("pids", pids);
    b.claim(
        "limits",
        format!("at most {pids} processes and threads"),
        format!("pids {pids} (pids_limit)"),
        Box::new(move |o| match o.edges.get("pids") {
            None => skipped_edge(pids > PIDS_PROBE_CEILING, &over, PIDS_PROBE_CEILING.to_string()),
            Some(r) => {
                let peak = r.usage.pids_peak;
                let text = format!(
                    "created processes without end: {}, peak {}",
                    r.status,
                    peak.map(|p| p.to_string()).unwrap_or_else(|| "not reported by this kernel".into())
                );
                match (r.status, peak) {
                    (_, Some(p)) if p > pids => (text, Outcome::Fail, true),
                    (Status::PidsLimit, Some(p)) if p == pids => (text, Outcome::Pass, false),
                    (Status::PidsLimit, None) => (text, Outcome::Pass, false),
                    (Status::MemoryLimit, _) => {
                        (format!("{text}: memory ran out first, inconclusive"), Outcome::Skip, false)
                    }
                    _ => (text, Outcome::Fail, false),
                }
            }
        }),
    );
    let wall_ms = l.wall_time_ms;
    b.claim(
        "limits",
        format!("wall time is limited ({wall_ms} ms)"),
        format!("{wall_ms} ms (timeout); the mechanism is checked on a run tightened to {wall} ms"),
        Box::new(move |o| match o.edges.get("wall") {
            None => (o.missing(), Outcome::Fail, false),
            Some(r) => {
                let text = format!("a {wall} ms run that sleeps: {} after {} ms", r.status, r.usage.wall_ms);
                // The bound only catches a limit far from its value; a loaded host starts jails slowly.
                let ok = r.status == Status::Timeout && r.usage.wall_ms < wall * 3 + 5000;
                (text, if ok { Outcome::Pass } else { Outcome::Fail }, !ok && r.status == Status::Ok)
            }
        }),
    );
    let cpu_ms = l.cpu_time_ms;
    b.claim(
        "limits",
        format!("CPU time is limited ({cpu_ms} ms)"),
        format!("{cpu_ms} ms (cpu_limit); the mechanism is checked on a run tightened to {cpu} ms"),
        Box::new(move |o| match o.edges.get("cpu") {
            None => (o.missing(), Outcome::Fail, false),
            Some(r) => {
                let used = r.usage.cpu_user_ms + r.usage.cpu_system_ms;
                let text = format!("a {cpu} ms run that spins: {} after {used} ms of CPU", r.status);
                let ok = r.status == Status::CpuLimit && used < cpu * 3 + 1000;
                (text, if ok { Outcome::Pass } else { Outcome::Fail }, !ok && r.status == Status::Ok)
            }
        }),
    );
    // Limits that are only judged against the baseline ceilings.
    for (key, value, shown) in audit::limit_values(&l) {
        if matches!(key, "memory" | "pids" | "stdout" | "open_files") {
            continue; // probed above
        }
        if let Some(over) = ceiling_check(key, value) {
            b.claim(
                "limits",
                format!("{key} within the jaild baseline"),
                shown,
                Box::new(move |_| (format!("not probed — {over}"), Outcome::Exceeds, false)),
            );
        }
    }
}

fn mib(n: u64) -> String {
    format!("{:.1} MiB", n as f64 / f64::from(1 << 20))
}

fn skipped_edge(too_big: bool, over: &Option<String>, ceiling: String) -> (String, Outcome, bool) {
    let base = if too_big {
        format!("not probed: above what verify probes ({ceiling})")
    } else {
        "no observation: the edge run did not happen".to_string()
    };
    match over {
        Some(o) => (format!("{base} — {o}"), Outcome::Exceeds, false),
        None if too_big => (base, Outcome::Skip, false),
        None => (base, Outcome::Fail, false),
    }
}

// ---------------------------------------------------------------------------------------------
// Staging the probe profile and running

/// How many raw syscalls one run makes at most.
const SYSCALL_BATCH: usize = 48;

/// Splits the raw syscalls into batches in which no two calls are reported under the same
/// detail (so a denial in a report names exactly one call).
fn syscall_batches(calls: Vec<(Value, String)>) -> Vec<Vec<Value>> {
    let mut batches: Vec<(Vec<Value>, BTreeSet<String>)> = Vec::new();
    for (call, detail) in calls {
        match batches.iter_mut().find(|(b, details)| b.len() < SYSCALL_BATCH && !details.contains(&detail)) {
            Some((b, details)) => {
                b.push(call);
                details.insert(detail);
            }
            None => batches.push((vec![call], BTreeSet::from([detail]))),
        }
    }
    batches.into_iter().map(|(b, _)| b).collect()
}

/// Copies the profile (and the files it refers to) to `dir`, with the language policy's
/// blocked modules emptied. Nothing else changes; [`verify`] checks that.
fn stage(s: &Subject, dir: &Path) -> Result<(), VerifyError> {
    let copy = |from: &Path, rel: &Path| -> Result<(), VerifyError> {
        let to = dir.join(rel);
        if let Some(parent) = to.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|source| VerifyError::Stage { path: from.to_path_buf(), source })?;
        }
        std::fs::copy(from, &to).map(|_| ()).map_err(|source| VerifyError::Stage { path: from.to_path_buf(), source })
    };
    let name = s.name().to_string();
    let file = PathBuf::from(format!("{name}.toml"));
    copy(&s.profile.path, &file)?;
    let policy_rel = s.profile.file.seccomp.policy.clone();
    copy(&s.profile.seccomp.path, &policy_rel)?;
    if let Some(parent) = audit::extends_file(s) {
        if let Some(name) = parent.file_name() {
            copy(&parent, Path::new(name))?;
        }
    }
    let path = dir.join(&file);
    let text = std::fs::read_to_string(&path).map_err(|source| VerifyError::Stage { path: path.clone(), source })?;
    let mut table: toml::Table =
        toml::from_str(&text).map_err(|e| VerifyError::Rewrite { path: path.clone(), message: e.to_string() })?;
    let lp = table.entry("language_policy").or_insert_with(|| toml::Value::Table(toml::Table::new()));
    match lp.as_table_mut() {
        Some(t) => {
            t.insert("blocked_modules".into(), toml::Value::Array(Vec::new()));
        }
        None => return Err(VerifyError::Rewrite { path, message: "language_policy is not a table".into() }),
    }
    let out =
        toml::to_string(&table).map_err(|e| VerifyError::Rewrite { path: path.clone(), message: e.to_string() })?;
    std::fs::write(&path, out).map_err(|source| VerifyError::Stage { path: path.clone(), source })
}

/// What differs between the profile under test and its probe copy, beyond blocked_modules.
fn weakened(original: &Subject, probe: &Subject) -> Option<String> {
    let mut a = original.profile.file.clone();
    a.language_policy.blocked_modules.clear();
    if a != probe.profile.file {
        return Some("profile fields".into());
    }
    if original.plan != probe.plan {
        return Some("the plan (mounts, Landlock, rlimits, seccomp program, argv, environment)".into());
    }
    if original.profile.seccomp.sha256 != probe.profile.seccomp.sha256 {
        return Some("the seccomp policy".into());
    }
    None
}

/// Verifies a profile (a name in `config.profiles_dir` or a path) in real jails.
pub fn verify(config: &Config, spec: &str) -> Result<Verification, VerifyError> {
    let started = Instant::now();
    let s = audit::load(config, spec)?;
    let staging =
        audit::StagingDir::new().map_err(|source| VerifyError::Stage { path: s.profile.path.clone(), source })?;
    stage(&s, staging.path())?;
    let mut probe_config = config.clone();
    probe_config.profiles_dir = staging.path().to_path_buf();
    // The supervisor's caches are keyed by file path: the staged copy's would be left behind
    // in the state directory by every verify. Its own state dir goes with the staging dir.
    // Interpreter digests are keyed by the binary, not the profile: reuse them (hashing a
    // 100 MB Node binary again costs seconds).
    let state = staging.path().join("state");
    if let Some(digests) = config.state_dir.as_ref().map(|d| d.join("digests.json")).filter(|p| p.is_file()) {
        let _ = std::fs::create_dir_all(&state).and_then(|()| std::fs::copy(&digests, state.join("digests.json")));
    }
    probe_config.state_dir = Some(state);
    let probe_subject = audit::load(&probe_config, s.name())?;
    if let Some(what) = weakened(&s, &probe_subject) {
        return Err(VerifyError::Weakened { profile: s.name().to_string(), what });
    }
    let sup = Supervisor::new(probe_config)?;

    let python = s.profile.file.language == Language::Python;
    let mut b =
        Builder { s: &s, python, probes: Vec::new(), syscalls: Vec::new(), claims: Vec::new(), edges: Vec::new() };
    filesystem_claims(&mut b);
    exec_claims(&mut b);
    network_claims(&mut b);
    process_claims(&mut b);
    identity_claims(&mut b);
    syscall_claims(&mut b);
    limit_claims(&mut b);
    let Builder { probes, claims, edges, syscalls, .. } = b;
    let batches = syscall_batches(syscalls);

    let code = if python { PYTHON_PROBE } else { JS_PROBE };
    let run = |input: &Value, limits: LimitOverrides| -> Report {
        sup.run(RunRequest {
            id: None,
            profile: Some(s.name().to_string()),
            language: None,
            filename: None,
            code: code.as_bytes().to_vec(),
            input: Some(input.to_string()),
            limits,
            ..Default::default()
        })
    };
    let mut runs = Vec::new();
    let main = run(&json!({"mode": "probes", "probes": probes}), LimitOverrides::default());
    runs.push(RunInfo {
        purpose: format!("{} probes", probes.len()),
        status: main.status,
        wall_ms: main.usage.wall_ms,
        message: main.message.clone(),
    });
    let mut results = main.result.as_object().cloned().unwrap_or_default();
    // Raw syscalls in batches, each batch a run of its own: every denial in a batch reads
    // differently in its report, and a batch stays far below any cap on distinct denials.
    let mut syscall_runs = Vec::new();
    let mut syscall_run_of = BTreeMap::new();
    for (i, batch) in batches.iter().enumerate() {
        let r = run(
            &json!({"mode": "probes", "probes": [{"id": "syscalls", "op": "syscalls", "calls": batch}]}),
            LimitOverrides::default(),
        );
        runs.push(RunInfo {
            purpose: format!("{} syscalls", batch.len()),
            status: r.status,
            wall_ms: r.usage.wall_ms,
            message: None,
        });
        let answers = r
            .result
            .get("syscalls")
            .and_then(|b| b.get("results"))
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        for call in batch {
            if let Some(id) = call["id"].as_str() {
                syscall_run_of.insert(id.to_string(), i);
                if let Some(answer) = answers.get(id) {
                    results.insert(id.to_string(), answer.clone());
                }
            }
        }
        syscall_runs.push(r);
    }
    let mut obs = Obs { python, main: Some(main), results, edges: BTreeMap::new(), syscall_runs, syscall_run_of };
    // The interpreter's own memory, measured on the stdout run, sizes the memory-under run.
    let mut baseline_peak = if python { 16 << 20 } else { 64 << 20 };
    for (purpose, input, limits) in edges {
        let input = if purpose == "memory-under" {
            let mem = s.profile.file.limits.memory.0;
            let headroom = (16u64 << 20).max(mem / 8);
            json!({"mode": "memory", "bytes": mem.saturating_sub(baseline_peak + headroom)})
        } else {
            input
        };
        let r = run(&input, limits);
        if purpose == "stdout" {
            baseline_peak = r.usage.memory_peak_bytes;
        }
        runs.push(RunInfo {
            purpose: purpose.to_string(),
            status: r.status,
            wall_ms: r.usage.wall_ms,
            message: r.message.clone(),
        });
        obs.edges.insert(purpose, r);
    }

    let checks = claims
        .into_iter()
        .map(|p| {
            let (observed, outcome, exceeds_profile) = (p.judge)(&obs);
            Check { area: p.area, claim: p.claim, declared: p.declared, observed, outcome, exceeds_profile }
        })
        .collect();
    Ok(Verification {
        profile: s.name().to_string(),
        source: s.source_path.clone(),
        language: s.profile.file.language,
        checks,
        runs,
        elapsed_ms: started.elapsed().as_millis() as u64,
    })
}

const AREAS: [&str; 8] =
    ["filesystem", "execute", "network", "processes", "identity", "environment", "syscalls", "limits"];

/// One line per claim: `PASS  claim  declared: ...  observed: ...`, grouped by area, then a
/// summary. `failures_only` leaves out PASS lines.
pub fn render(v: &Verification, failures_only: bool) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "verify {} ({}): probes ran in real jails of this profile with the language policy layer off (blocked_modules = []), which is not the boundary; everything else is the profile's, checked equal",
        v.profile,
        v.source.display()
    );
    for area in AREAS {
        let checks: Vec<&Check> = v
            .checks
            .iter()
            .filter(|c| c.area == area)
            .filter(|c| !failures_only || c.outcome != Outcome::Pass)
            .collect();
        if checks.is_empty() {
            continue;
        }
        let _ = writeln!(out, "[{area}]");
        for c in checks {
            let mark = if c.exceeds_profile { " (EXCEEDS THE PROFILE)" } else { "" };
            let _ = writeln!(
                out,
                "{:<7}  {}  declared: {}  observed: {}{mark}",
                c.outcome.word(),
                c.claim,
                c.declared,
                c.observed
            );
        }
    }
    let runs: Vec<String> = v.runs.iter().map(|r| format!("{} {} {} ms", r.purpose, r.status, r.wall_ms)).collect();
    let _ = writeln!(out, "runs: {}", runs.join("; "));
    let exceeding = v.exceeding_profile().len();
    let _ = writeln!(
        out,
        "{} claims: {} pass, {} fail ({exceeding} of them an observed permission beyond the profile), {} exceed the jaild baseline, {} skipped — {:.1} s",
        v.checks.len(),
        v.count(Outcome::Pass),
        v.count(Outcome::Fail),
        v.count(Outcome::Exceeds),
        v.count(Outcome::Skip),
        v.elapsed_ms as f64 / 1000.0
    );
    let _ = writeln!(out, "{}", if v.passed() { "verified: every claim holds" } else { "NOT VERIFIED" });
    out
}

/// Whether two errno names are the same number: Linux gives some numbers two names (the
/// probes report Python's `errno.errorcode` name, the policy spells the other one).
fn same_errno(a: &str, b: &str) -> bool {
    const ALIASES: [(&str, &str); 3] = [("ENOTSUP", "EOPNOTSUPP"), ("EWOULDBLOCK", "EAGAIN"), ("EDEADLOCK", "EDEADLK")];
    a == b || ALIASES.iter().any(|&(x, y)| (a == x && b == y) || (a == y && b == x))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_errno_with_two_names_is_the_same_errno() {
        assert!(same_errno("ENOTSUP", "EOPNOTSUPP") && same_errno("EOPNOTSUPP", "ENOTSUP"));
        assert!(same_errno("EPERM", "EPERM"));
        assert!(!same_errno("EPERM", "EACCES") && !same_errno("ENOTSUP", "ENOSYS"));
    }

    #[test]
    fn access_verdicts() {
        // (declared, baseline, may_fail, observed) -> (outcome, exceeds the profile)
        assert_eq!(judge_access(false, false, false, false), (Outcome::Pass, false));
        assert_eq!(judge_access(false, false, false, true), (Outcome::Fail, true));
        assert_eq!(judge_access(true, true, false, true), (Outcome::Pass, false));
        assert_eq!(judge_access(true, false, false, true), (Outcome::Exceeds, false));
        assert_eq!(judge_access(true, true, false, false), (Outcome::Fail, false));
        assert_eq!(judge_access(true, false, true, false), (Outcome::Pass, false));
    }

    #[test]
    fn syscall_batches_keep_details_apart() {
        let call = |d: &str| (json!({"d": d}), d.to_string());
        let mut calls = vec![call("fcntl"), call("fcntl"), call("madvise")];
        calls.extend((0..100).map(|i| call(&format!("x{i}"))));
        let batches = syscall_batches(calls);
        assert!(batches.iter().all(|b| b.len() <= SYSCALL_BATCH));
        assert_eq!(batches.iter().map(Vec::len).sum::<usize>(), 103);
        for b in &batches {
            let ds: Vec<&str> = b.iter().filter_map(|c| c["d"].as_str()).collect();
            let unique: BTreeSet<&str> = ds.iter().copied().collect();
            assert_eq!(unique.len(), ds.len(), "{ds:?}");
        }
    }

    #[test]
    fn errnos_in_words() {
        assert_eq!(probe_text(&json!({"ok": false, "err": "EROFS"})), "refused: EROFS (read-only mount)");
        assert_eq!(
            probe_text(&json!({"ok": false, "err": "EPERM", "stage": "socket"})),
            "socket: EPERM (operation not permitted)"
        );
        assert_eq!(probe_text(&json!({"ok": true, "detail": "read 64 bytes"})), "read 64 bytes");
    }

    #[test]
    fn safe_arguments_exist_for_every_dangerous_syscall_but_the_unsafe_ones() {
        for d in DANGERS {
            for name in d.syscalls {
                if sysno(name).is_some()
                    && ![
                        "lookup_dcookie",
                        "nfsservctl",
                        "create_module",
                        "get_kernel_syms",
                        "query_module",
                        "vhangup",
                        "move_pages",
                        "migrate_pages",
                        "quotactl",
                    ]
                    .contains(name)
                {
                    assert!(
                        safe_args(name).is_some() || UNSAFE_WITH_ZEROS.contains(name),
                        "{name}: no harmless arguments to probe it with"
                    );
                }
            }
        }
    }
}
