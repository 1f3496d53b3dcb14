//! Auditing a profile as the kernel gets it: `jailctl profile explain`, `diff` and `lint`.
//!
//! Everything here starts from a [`Subject`]: the profile resolved by the same loader a run
//! uses, its pinned interpreter manifest, and the plan [`plan::build`] makes from both (the
//! mounts, Landlock rules, rlimits and compiled seccomp program jail-init carries out). The words
//! these commands print are derived from that, never from a hand-written summary: a syscall's
//! fate is decided by running the compiled BPF program ([`bpf::run`]), the filesystem view is
//! the plan's list of mounts, the execute rights are the plan's Landlock rules.
//!
//! The knowledge that is not in a profile — which grants are dangerous and why, the names of
//! ioctl requests and fcntl commands, the baseline every jail is held to — lives in this module
//! as tables, shared by `explain` (what the script cannot do), `lint` (findings) and `verify`
//! (claims the baseline adds to the profile's own).

pub mod diff;
pub mod explain;
pub mod lint;

use crate::bpf;
use crate::interpreter::Interpreter;
use crate::plan;
use crate::profile::{self, Profile, ProfileError};
pub use crate::seccomp::DenialLevel;
use crate::seccomp::{Action, ArgCondition, Op, SeccompPolicy};
use crate::supervisor::Config;
use jail_init::plan::{Plan, SockFilter};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use syscalls::Sysno;

#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// The profile does not load (boxed: a profile error carries whole interpreter errors).
    #[error(transparent)]
    Profile(Box<ProfileError>),
    /// A profile loaded from a staged copy (its file name differs from its `name`): the message
    /// names the file the user gave.
    #[error("{rendered}")]
    Staged {
        rendered: String,
        #[source]
        source: Box<ProfileError>,
    },
    #[error("failed to read {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("failed to stage a copy of {path} for loading")]
    Stage {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// A profile resolved for auditing: what a run of it would get on this host.
impl From<ProfileError> for AuditError {
    fn from(e: ProfileError) -> AuditError {
        AuditError::Profile(Box::new(e))
    }
}

#[derive(Debug)]
pub struct Subject {
    /// What the user named: a profile name or a path.
    pub label: String,
    /// The profile file as the user knows it (not a staged copy).
    pub source_path: PathBuf,
    /// The directory the profile was resolved in (its seccomp policy is relative to it).
    pub profiles_dir: PathBuf,
    pub profile: Profile,
    pub profile_source: String,
    pub policy: PolicyView,
    pub interpreter: Interpreter,
    /// The Landlock ABI the plan was built for: this kernel's, or the profile's minimum where
    /// the kernel has less (such a run would be refused).
    pub abi: u32,
    pub kernel_abi: u32,
    pub plan: Plan,
    /// Host uids the script's uid maps to, first and last (one per slot, crate::hostids).
    pub host_script_uids: (u32, u32),
    /// A staged copy (removed on drop), when the file could not be loaded where it is.
    _staging: Option<StagingDir>,
}

impl Subject {
    pub fn name(&self) -> &str {
        self.profile.name()
    }

    pub fn program(&self) -> &[SockFilter] {
        &self.profile.seccomp.program
    }

    /// The seccomp policy file (the original of a staged copy).
    pub fn policy_path(&self) -> PathBuf {
        self.policy.path.clone()
    }
}

/// Does `spec` name a file rather than a profile?
pub fn is_path(spec: &str) -> bool {
    spec.contains('/') || spec.ends_with(".toml")
}

/// Resolves a profile name (in `config.profiles_dir`) or a path to a profile file.
///
/// A file elsewhere may refer to a seccomp policy relative to its own directory or, failing
/// that, to the profiles directory (a copy of profiles/python.toml saved as /tmp/python-new.toml
/// still finds seccomp/python.toml). A file whose name differs from its `name` field is loaded
/// from a staged copy, since the loader insists that they match.
pub fn load(config: &Config, spec: &str) -> Result<Subject, AuditError> {
    if !is_path(spec) {
        let profile = profile::load(&config.profiles_dir, spec)?;
        let path = profile.path.clone();
        return finish(config, spec, path, config.profiles_dir.clone(), profile, None);
    }
    let path = PathBuf::from(spec);
    let parent = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new(".")).to_path_buf();
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        // Not UTF-8: the loader says where.
        Err(e) if e.kind() == std::io::ErrorKind::InvalidData => {
            return Err(profile::load_file(&parent, &path)
                .err()
                .map(AuditError::from)
                .unwrap_or_else(|| unreachable_parse(&path)))
        }
        Err(source) => return Err(AuditError::Read { path: path.clone(), source }),
    };
    let table: toml::Table = match toml::from_str(&text) {
        Ok(t) => t,
        // Let the loader say what is wrong with it.
        Err(_) => {
            return Err(profile::load_file(&parent, &path)
                .err()
                .map(AuditError::from)
                .unwrap_or_else(|| unreachable_parse(&path)))
        }
    };
    let name = table.get("name").and_then(|v| v.as_str()).unwrap_or_default().to_string();
    let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or_default();
    // The files it refers to, and those the profile it extends refers to (one level).
    let mut referenced = referenced_files(&table);
    for rel in referenced
        .clone()
        .iter()
        .filter(|r| r.extension().is_some_and(|x| x == "toml") && r.parent() == Some(Path::new("")))
    {
        let beside = parent.join(rel);
        let from = if beside.is_file() { beside } else { config.profiles_dir.join(rel) };
        if let Some(t) = std::fs::read_to_string(&from).ok().and_then(|text| toml::from_str::<toml::Table>(&text).ok())
        {
            referenced.extend(referenced_files(&t).into_iter().filter(|r| !referenced.contains(r)).collect::<Vec<_>>());
        }
    }
    let all_beside = referenced.iter().all(|r| parent.join(r).is_file());
    if stem == name && all_beside {
        let profile = profile::load_file(&parent, &path)?;
        return finish(config, spec, path, parent, profile, None);
    }
    // Stage: the file under its declared name, and the files it refers to, from beside it or
    // from the profiles directory.
    let staging = StagingDir::new().map_err(|source| AuditError::Stage { path: path.clone(), source })?;
    let mut staging = staging;
    let mut stage = |from: &Path, rel: &Path| -> Result<(), AuditError> {
        let to = staging.path().join(rel);
        if let Some(dir) = to.parent() {
            std::fs::create_dir_all(dir).map_err(|source| AuditError::Stage { path: from.to_path_buf(), source })?;
        }
        std::fs::copy(from, &to).map_err(|source| AuditError::Stage { path: from.to_path_buf(), source })?;
        staging.1.push((to, std::fs::canonicalize(from).unwrap_or_else(|_| from.to_path_buf())));
        Ok(())
    };
    let file_name = if name.is_empty() || name.contains('/') { stem.to_string() } else { name.clone() };
    let staged = PathBuf::from(format!("{file_name}.toml"));
    stage(&path, &staged)?;
    for rel in &referenced {
        let beside = parent.join(rel);
        let from = if beside.is_file() { beside } else { config.profiles_dir.join(rel) };
        if from.is_file() {
            stage(&from, rel)?;
        }
    }
    let staged_path = staging.path().join(&staged);
    let profile = profile::load_file(staging.path(), &staged_path).map_err(|source| AuditError::Staged {
        rendered: source
            .to_string()
            .replace(&staged_path.display().to_string(), &path.display().to_string())
            .replace(&format!("{}/", staging.path().display()), ""),
        source: Box::new(source),
    })?;
    let dir = staging.path().to_path_buf();
    finish(config, spec, path, dir, profile, Some(staging))
}

fn unreachable_parse(path: &Path) -> AuditError {
    AuditError::Read {
        path: path.to_path_buf(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidData, "not a TOML profile"),
    }
}

/// Where a value of the resolved profile was written (file and line), by dotted key:
/// `limits.memory`, `filesystem.tmpfs[1].path`, `environment.PATH`. A value inherited through
/// `extends` points into the parent file; a default, to the nearest table that was written.
pub fn origin(s: &Subject, key: &str) -> (PathBuf, usize) {
    let (path, line) = s.profile.origins.of(key);
    // The user's names for staged copies.
    if path == s.profile.path {
        return (s.source_path.clone(), line);
    }
    match s._staging.as_ref().and_then(|st| st.original_of(&path)) {
        Some(original) => (original.to_path_buf(), line),
        None => (path, line),
    }
}

/// The profile file this one extends, if any.
pub fn extends_file(s: &Subject) -> Option<PathBuf> {
    s.profile.extends.clone()
}

/// Files a profile refers to, relative to its directory: its seccomp policy.
fn referenced_files(table: &toml::Table) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Some(policy) = table.get("seccomp").and_then(|s| s.get("policy")).and_then(|p| p.as_str()) {
        out.push(PathBuf::from(policy));
    }
    if let Some(parent) = table.get("extends").and_then(|e| e.as_str()) {
        out.push(PathBuf::from(format!("{parent}.toml")));
    }
    out.retain(|p| p.is_relative() && !p.components().any(|c| matches!(c, std::path::Component::ParentDir)));
    out
}

fn finish(
    config: &Config,
    label: &str,
    source_path: PathBuf,
    profiles_dir: PathBuf,
    profile: Profile,
    staging: Option<StagingDir>,
) -> Result<Subject, AuditError> {
    // The pinned manifest, refused unless it pins the version the profile names and runs its
    // language (the same check a run makes).
    let interpreter = profile.interpreter(&config.interpreters_dir)?;
    let kernel_abi = crate::supervisor::kernel_landlock_abi();
    let minimum = profile.file.landlock.minimum_abi;
    let abi = if kernel_abi >= minimum { kernel_abi } else { minimum };
    let plan = plan::build(&profile, &interpreter.manifest, &profile.file.limits, abi);
    let profile_source = std::fs::read_to_string(&profile.path)
        .map_err(|source| AuditError::Read { path: profile.path.clone(), source })?;
    let policy_source = std::fs::read_to_string(&profile.seccomp.path)
        .map_err(|source| AuditError::Read { path: profile.seccomp.path.clone(), source })?;
    let mut policy = PolicyView::new(&profile.seccomp, &policy_source);
    if let Some(original) = staging.as_ref().and_then(|st| st.original_of(&profile.seccomp.path)) {
        policy.path = original.to_path_buf();
    }
    Ok(Subject {
        label: label.to_string(),
        source_path,
        profiles_dir,
        profile,
        profile_source,
        policy,
        interpreter,
        abi,
        kernel_abi,
        plan,
        host_script_uids: {
            let last = config.host_id_slots.max(1) - 1;
            let first = config.host_id_base.saturating_add(crate::hostids::SCRIPT_OFFSET);
            (first, first.saturating_add(last))
        },
        _staging: staging,
    })
}

/// A directory under the system's temp dir, removed with everything in it on drop.
#[derive(Debug)]
pub struct StagingDir(PathBuf, Vec<(PathBuf, PathBuf)>);

impl StagingDir {
    pub fn new() -> std::io::Result<StagingDir> {
        use std::sync::atomic::{AtomicU32, Ordering};
        static N: AtomicU32 = AtomicU32::new(0);
        let nanos =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
        let dir = std::env::temp_dir().join(format!(
            "jaild-audit-{}-{}-{nanos}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir(&dir)?;
        Ok(StagingDir(dir, Vec::new()))
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    /// The file a staged copy was made from.
    pub fn original_of(&self, staged: &Path) -> Option<&Path> {
        self.1.iter().find(|(s, _)| s == staged).map(|(_, o)| o.as_path())
    }
}

impl Drop for StagingDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

// ---------------------------------------------------------------------------------------------
// The seccomp policy, grouped and in words

/// A heading of the policy file (`# ===` blocks), or of the mapping table for files without.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Group {
    pub title: String,
    pub description: String,
}

/// One alternative of an argument-filtered entry: every condition must hold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Alternative {
    pub conditions: Vec<ArgCondition>,
    /// The trailing comment on the `args = [...]` line, if any.
    pub note: Option<String>,
    /// A `no_effect` entry: the call returns 0 without being run (else an `allow`).
    pub no_effect: bool,
}

/// The words after "denied with ERRNO" for a denial's level (diff, verify).
pub fn denial_words(level: DenialLevel) -> &'static str {
    match level {
        DenialLevel::Quiet => ", quietly",
        DenialLevel::Report => ", reported (not a violation)",
        DenialLevel::Violation => "",
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Verdict {
    /// Allowed whatever the arguments.
    Allow,
    /// Returns 0 without being run, whatever the arguments (`no_effect`).
    NoEffect,
    /// Allowed, or answered without effect, when one of the alternatives holds (the first that
    /// holds decides; the loader refuses an allow and a no_effect alternative that overlap).
    AllowIf(Vec<Alternative>),
    /// Denied with a named errno, at a level (`on_denial`): `quiet` and `report` are listed but
    /// not a security violation.
    Deny { errno: String, level: DenialLevel },
}

/// Every entry of one syscall.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rule {
    pub name: String,
    pub nr: u32,
    pub verdict: Verdict,
    /// Index into [`PolicyView::groups`].
    pub group: usize,
    /// The entries' comments (one per entry; alternatives often share most of it).
    pub comments: Vec<String>,
    /// Line of the first `[[syscall]]` entry for this syscall.
    pub line: usize,
}

/// A seccomp policy as a reviewer reads it.
#[derive(Debug, Clone, Serialize)]
pub struct PolicyView {
    pub path: PathBuf,
    pub default_errno: String,
    pub groups: Vec<Group>,
    pub rules: Vec<Rule>,
}

impl PolicyView {
    pub fn new(policy: &SeccompPolicy, source: &str) -> PolicyView {
        let headers = parse_headers(source);
        let mut groups: Vec<Group> = Vec::new();
        let group_index = |g: &Group, groups: &mut Vec<Group>| match groups.iter().position(|x| x.title == g.title) {
            Some(i) => i,
            None => {
                groups.push(g.clone());
                groups.len() - 1
            }
        };
        let mut rules: Vec<Rule> = Vec::new();
        for (i, entry) in policy.file.syscall.iter().enumerate() {
            let info = headers.entries.get(i).cloned().unwrap_or_default();
            let nr = Sysno::from_str(&entry.name).map(|s| s.id() as u32).unwrap_or(u32::MAX);
            let alternative = Alternative {
                conditions: entry.args.clone(),
                note: info.args_note.clone(),
                no_effect: entry.action == Action::NoEffect,
            };
            if let Some(rule) = rules.iter_mut().find(|r| r.name == entry.name) {
                rule.comments.push(entry.comment.clone());
                if let Verdict::AllowIf(alts) = &mut rule.verdict {
                    alts.push(alternative);
                }
                continue;
            }
            let group = match &info.group {
                Some(g) => group_index(g, &mut groups),
                None => group_index(
                    &Group { title: fallback_group(&entry.name).to_string(), description: String::new() },
                    &mut groups,
                ),
            };
            let verdict = match entry.action {
                Action::Allow if entry.args.is_empty() => Verdict::Allow,
                Action::NoEffect if entry.args.is_empty() => Verdict::NoEffect,
                Action::Allow | Action::NoEffect => Verdict::AllowIf(vec![alternative]),
                Action::Errno => Verdict::Deny {
                    errno: entry.errno.clone().unwrap_or_else(|| policy.file.default.errno.clone()),
                    level: policy.denial(i64::from(nr)).level,
                },
            };
            rules.push(Rule {
                name: entry.name.clone(),
                nr,
                verdict,
                group,
                comments: vec![entry.comment.clone()],
                line: info.line,
            });
        }
        PolicyView { path: policy.path.clone(), default_errno: policy.file.default.errno.clone(), groups, rules }
    }

    pub fn rule(&self, name: &str) -> Option<&Rule> {
        self.rules.iter().find(|r| r.name == name)
    }

    /// What the policy file says about a call (the declared semantics, evaluated here in Rust;
    /// [`decide`] is what the compiled program does).
    pub fn declared(&self, nr: u32, args: &[u64; 6]) -> Declared {
        match self.declared_by_entry(nr, args) {
            Declared::Deny { errno, level } => {
                Declared::Deny { errno, level: crate::seccomp::level_of(i64::from(nr), args, level) }
            }
            other => other,
        }
    }

    fn declared_by_entry(&self, nr: u32, args: &[u64; 6]) -> Declared {
        match self.rules.iter().find(|r| r.nr == nr).map(|r| &r.verdict) {
            Some(Verdict::Allow) => Declared::Allow,
            Some(Verdict::NoEffect) => Declared::NoEffect,
            Some(Verdict::AllowIf(alts)) if alts.iter().any(|a| a.conditions.iter().all(|c| holds(c, args))) => {
                match alts.iter().find(|a| a.conditions.iter().all(|c| holds(c, args))) {
                    Some(a) if a.no_effect => Declared::NoEffect,
                    _ => Declared::Allow,
                }
            }
            Some(Verdict::Deny { errno, level }) => Declared::Deny { errno: errno.clone(), level: *level },
            _ => Declared::Deny { errno: self.default_errno.clone(), level: DenialLevel::Violation },
        }
    }

    /// Syscalls the kernel runs, at least for some arguments.
    pub fn allowed_count(&self) -> usize {
        self.rules
            .iter()
            .filter(|r| match &r.verdict {
                Verdict::Allow => true,
                Verdict::AllowIf(alts) => alts.iter().any(|a| !a.no_effect),
                _ => false,
            })
            .count()
    }

    /// Syscalls answered without effect, at least for some arguments.
    pub fn no_effect_count(&self) -> usize {
        self.rules
            .iter()
            .filter(|r| match &r.verdict {
                Verdict::NoEffect => true,
                Verdict::AllowIf(alts) => alts.iter().any(|a| a.no_effect),
                _ => false,
            })
            .count()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Declared {
    Allow,
    /// Returns 0 without being run.
    NoEffect,
    Deny {
        errno: String,
        level: DenialLevel,
    },
}

impl Declared {
    /// The compiled program's decision this declaration calls for.
    pub fn decision(&self) -> Decision {
        match self {
            Declared::Allow => Decision::Allow,
            Declared::NoEffect => Decision::NoEffect,
            Declared::Deny { .. } => Decision::Notify,
        }
    }
}

/// Why a call is answered without effect, where jaild knows (the words `explain` prints next
/// to the policy's own comment).
pub fn no_effect_reason(syscall: &str, alt: Option<&Alternative>) -> Option<&'static str> {
    const LOCKS: &str = "locks would reach host inodes";
    let lock_command = |a: &Alternative| {
        a.conditions.iter().any(|c| {
            c.index == 1
                && c.op == Op::Eq
                && matches!(lookup(FCNTLS, c.value), Some("F_SETLK" | "F_SETLKW" | "F_OFD_SETLK" | "F_OFD_SETLKW"))
        })
    };
    match (syscall, alt) {
        ("flock", _) => Some(LOCKS),
        ("fcntl", Some(a)) if lock_command(a) => Some(LOCKS),
        _ => None,
    }
}

fn holds(c: &ArgCondition, args: &[u64; 6]) -> bool {
    let a = args[usize::from(c.index).min(5)];
    match c.op {
        Op::Eq => a == c.value,
        Op::Ne => a != c.value,
        Op::Lt => a < c.value,
        Op::Le => a <= c.value,
        Op::Gt => a > c.value,
        Op::Ge => a >= c.value,
        Op::MaskedEq => a & c.mask.unwrap_or(0) == c.value,
    }
}

#[derive(Debug, Clone, Default)]
struct EntryInfo {
    group: Option<Group>,
    args_note: Option<String>,
    line: usize,
}

struct Headers {
    entries: Vec<EntryInfo>,
}

/// Reads the comment structure of a policy file: `# ====` blocks (a title line, then
/// description lines) and `# --- title ---` lines open groups; each `[[syscall]]` belongs to the
/// group open above it; a comment after `args = [...]` names the values.
fn parse_headers(source: &str) -> Headers {
    let mut entries = Vec::new();
    let mut current: Option<Group> = None;
    let mut block: Option<Vec<String>> = None;
    for (i, line) in source.lines().enumerate() {
        let t = line.trim();
        if t.starts_with("# ===") || t.starts_with("#===") {
            match block.take() {
                None => block = Some(Vec::new()),
                Some(lines) => {
                    let mut it = lines.into_iter().filter(|l| !l.is_empty());
                    if let Some(title) = it.next() {
                        current = Some(Group { title, description: it.collect::<Vec<_>>().join(" ") });
                    }
                }
            }
            continue;
        }
        if let Some(lines) = block.as_mut() {
            lines.push(t.trim_start_matches('#').trim().to_string());
            continue;
        }
        if let Some(rest) = t.strip_prefix("# ---") {
            let title = rest.trim().trim_end_matches('-').trim();
            if !title.is_empty() {
                current = Some(Group { title: capitalize(title), description: String::new() });
            }
            continue;
        }
        if crate::toml_file::table_header(line) == Some("syscall") && t.starts_with("[[") {
            entries.push(EntryInfo { group: current.clone(), args_note: None, line: i + 1 });
            continue;
        }
        if t.starts_with("args") {
            if let (Some(entry), Some(close)) = (entries.last_mut(), t.rfind(']')) {
                if let Some(hash) = t[close..].find('#') {
                    let note = t[close + hash + 1..].trim();
                    if !note.is_empty() {
                        entry.args_note = Some(note.to_string());
                    }
                }
            }
        }
    }
    Headers { entries }
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// The group of a syscall in a policy file without headings.
pub fn fallback_group(name: &str) -> &'static str {
    const TABLE: &[(&str, &[&str])] = &[
        (
            "Memory",
            &[
                "brk",
                "mmap",
                "munmap",
                "mremap",
                "mprotect",
                "madvise",
                "mlock",
                "munlock",
                "mlock2",
                "mlockall",
                "munlockall",
                "msync",
                "mincore",
                "membarrier",
                "pkey_alloc",
                "pkey_free",
                "pkey_mprotect",
                "memfd_create",
                "mbind",
                "get_mempolicy",
                "set_mempolicy",
            ],
        ),
        (
            "Processes and threads",
            &[
                "clone",
                "clone3",
                "fork",
                "vfork",
                "execve",
                "execveat",
                "exit",
                "exit_group",
                "wait4",
                "waitid",
                "futex",
                "set_robust_list",
                "get_robust_list",
                "rseq",
                "set_tid_address",
                "gettid",
                "getpid",
                "getppid",
                "sched_yield",
                "sched_getaffinity",
                "sched_setaffinity",
                "setsid",
                "setpgid",
                "getpgid",
                "getsid",
                "getpgrp",
                "prctl",
                "arch_prctl",
                "prlimit64",
                "getrlimit",
                "setrlimit",
                "getrusage",
                "getuid",
                "geteuid",
                "getgid",
                "getegid",
                "getgroups",
                "getresuid",
                "getresgid",
                "uname",
                "sysinfo",
                "getrandom",
                "getpriority",
                "setpriority",
                "sched_getparam",
                "sched_getscheduler",
                "capget",
            ],
        ),
        (
            "Signals",
            &[
                "rt_sigaction",
                "rt_sigprocmask",
                "rt_sigreturn",
                "rt_sigpending",
                "rt_sigtimedwait",
                "rt_sigsuspend",
                "rt_sigqueueinfo",
                "rt_tgsigqueueinfo",
                "sigaltstack",
                "kill",
                "tkill",
                "tgkill",
                "pause",
                "restart_syscall",
                "signalfd",
                "signalfd4",
            ],
        ),
        (
            "Time",
            &[
                "clock_gettime",
                "clock_getres",
                "clock_nanosleep",
                "gettimeofday",
                "nanosleep",
                "time",
                "times",
                "alarm",
                "setitimer",
                "getitimer",
                "timer_create",
                "timer_settime",
                "timer_gettime",
                "timer_delete",
                "timer_getoverrun",
                "timerfd_create",
                "timerfd_settime",
                "timerfd_gettime",
            ],
        ),
        (
            "Waiting and event loops",
            &[
                "epoll_create",
                "epoll_create1",
                "epoll_ctl",
                "epoll_wait",
                "epoll_pwait",
                "epoll_pwait2",
                "poll",
                "ppoll",
                "select",
                "pselect6",
                "eventfd",
                "eventfd2",
                "inotify_init",
                "inotify_init1",
                "inotify_add_watch",
                "inotify_rm_watch",
            ],
        ),
        (
            "Sockets",
            &[
                "socket",
                "socketpair",
                "connect",
                "bind",
                "listen",
                "accept",
                "accept4",
                "sendto",
                "recvfrom",
                "sendmsg",
                "recvmsg",
                "sendmmsg",
                "recvmmsg",
                "getsockname",
                "getpeername",
                "getsockopt",
                "setsockopt",
                "shutdown",
            ],
        ),
    ];
    TABLE.iter().find(|(_, names)| names.contains(&name)).map(|(g, _)| *g).unwrap_or(
        if name.contains("stat")
            || name.contains("open")
            || name.contains("read")
            || name.contains("write")
            || name.contains("dir")
            || name.contains("link")
            || name.contains("chmod")
            || name.contains("chown")
            || name.contains("xattr")
        {
            "File I/O"
        } else {
            "Other"
        },
    )
}

// ---------------------------------------------------------------------------------------------
// Arguments in words

/// What an argument of a syscall is called.
pub fn arg_name(syscall: &str, index: u8) -> String {
    let name = match (syscall, index) {
        ("ioctl", 1) => "request",
        ("fcntl", 1) => "command",
        ("socket" | "socketpair", 0) => "family",
        ("socket" | "socketpair", 1) => "type",
        ("clone" | "unshare", 0) => "flags",
        ("madvise", 2) => "advice",
        ("prctl" | "arch_prctl", 0) => "option",
        ("prlimit64" | "kill" | "ptrace", 0) if syscall != "ptrace" => "pid",
        ("ptrace", 0) => "request",
        ("prlimit64", 1) => "resource",
        ("mmap" | "mprotect", 2) => "protection",
        ("mmap", 3) | ("memfd_create", 1) => "flags",
        ("shmget", 2) => "flags",
        ("setsockopt" | "getsockopt", 1) => "level",
        ("setsockopt" | "getsockopt", 2) => "option",
        ("personality", 0) => "persona",
        _ => return format!("argument {index}"),
    };
    name.to_string()
}

const IOCTLS: &[(u64, &str)] = &[
    (0x5401, "TCGETS"),
    (0x5402, "TCSETS"),
    (0x5403, "TCSETSW"),
    (0x5404, "TCSETSF"),
    (0x540e, "TIOCSCTTY"),
    (0x540f, "TIOCGPGRP"),
    (0x5410, "TIOCSPGRP"),
    (0x5411, "TIOCOUTQ"),
    (0x5412, "TIOCSTI"),
    (0x5413, "TIOCGWINSZ"),
    (0x5414, "TIOCSWINSZ"),
    (0x541b, "FIONREAD"),
    (0x541c, "TIOCLINUX"),
    (0x541d, "TIOCCONS"),
    (0x5421, "FIONBIO"),
    (0x5422, "TIOCNOTTY"),
    (0x5423, "TIOCSETD"),
    (0x5424, "TIOCGETD"),
    (0x5450, "FIONCLEX"),
    (0x5451, "FIOCLEX"),
    (0x5452, "FIOASYNC"),
    (0x8004_5430, "TIOCGPTN"),
    (0x4004_5431, "TIOCSPTLCK"),
    (0x4004_9409, "FICLONE"),
    (0x8008_6601, "FS_IOC_GETFLAGS"),
    (0x4008_6602, "FS_IOC_SETFLAGS"),
];

const FCNTLS: &[(u64, &str)] = &[
    (0, "F_DUPFD"),
    (1, "F_GETFD"),
    (2, "F_SETFD"),
    (3, "F_GETFL"),
    (4, "F_SETFL"),
    (5, "F_GETLK"),
    (6, "F_SETLK"),
    (7, "F_SETLKW"),
    (8, "F_SETOWN"),
    (9, "F_GETOWN"),
    (10, "F_SETSIG"),
    (11, "F_GETSIG"),
    (15, "F_SETOWN_EX"),
    (16, "F_GETOWN_EX"),
    (36, "F_OFD_GETLK"),
    (37, "F_OFD_SETLK"),
    (38, "F_OFD_SETLKW"),
    (1024, "F_SETLEASE"),
    (1025, "F_GETLEASE"),
    (1026, "F_NOTIFY"),
    (1030, "F_DUPFD_CLOEXEC"),
    (1031, "F_SETPIPE_SZ"),
    (1032, "F_GETPIPE_SZ"),
    (1033, "F_ADD_SEALS"),
    (1034, "F_GET_SEALS"),
];

pub const FAMILIES: &[(u64, &str)] = &[
    (1, "AF_UNIX"),
    (2, "AF_INET"),
    (10, "AF_INET6"),
    (15, "AF_KEY"),
    (16, "AF_NETLINK"),
    (17, "AF_PACKET"),
    (21, "AF_RDS"),
    (29, "AF_CAN"),
    (30, "AF_TIPC"),
    (31, "AF_BLUETOOTH"),
    (38, "AF_ALG"),
    (40, "AF_VSOCK"),
    (44, "AF_XDP"),
];

const MADVICES: &[(u64, &str)] = &[
    (0, "MADV_NORMAL"),
    (1, "MADV_RANDOM"),
    (2, "MADV_SEQUENTIAL"),
    (3, "MADV_WILLNEED"),
    (4, "MADV_DONTNEED"),
    (8, "MADV_FREE"),
    (9, "MADV_REMOVE"),
    (10, "MADV_DONTFORK"),
    (11, "MADV_DOFORK"),
    (12, "MADV_MERGEABLE"),
    (13, "MADV_UNMERGEABLE"),
    (14, "MADV_HUGEPAGE"),
    (15, "MADV_NOHUGEPAGE"),
    (16, "MADV_DONTDUMP"),
    (17, "MADV_DODUMP"),
    (18, "MADV_WIPEONFORK"),
    (19, "MADV_KEEPONFORK"),
    (20, "MADV_COLD"),
    (21, "MADV_PAGEOUT"),
    (22, "MADV_POPULATE_READ"),
    (23, "MADV_POPULATE_WRITE"),
    (24, "MADV_DONTNEED_LOCKED"),
    (25, "MADV_COLLAPSE"),
    (100, "MADV_HWPOISON"),
    (101, "MADV_SOFT_OFFLINE"),
];

const PRCTLS: &[(u64, &str)] = &[
    (1, "PR_SET_PDEATHSIG"),
    (2, "PR_GET_PDEATHSIG"),
    (3, "PR_GET_DUMPABLE"),
    (4, "PR_SET_DUMPABLE"),
    (15, "PR_SET_NAME"),
    (16, "PR_GET_NAME"),
    (21, "PR_GET_SECCOMP"),
    (22, "PR_SET_SECCOMP"),
    (23, "PR_CAPBSET_READ"),
    (24, "PR_CAPBSET_DROP"),
    (29, "PR_SET_TIMERSLACK"),
    (35, "PR_SET_MM"),
    (36, "PR_SET_CHILD_SUBREAPER"),
    (38, "PR_SET_NO_NEW_PRIVS"),
    (39, "PR_GET_NO_NEW_PRIVS"),
    (47, "PR_CAP_AMBIENT"),
    (0x5356_4d41, "PR_SET_VMA"),
    (0x5961_6d61, "PR_SET_PTRACER"),
];

const ARCH_PRCTLS: &[(u64, &str)] = &[
    (0x1001, "ARCH_SET_GS"),
    (0x1002, "ARCH_SET_FS"),
    (0x1003, "ARCH_GET_FS"),
    (0x1004, "ARCH_GET_GS"),
    (0x1011, "ARCH_GET_CPUID"),
    (0x1012, "ARCH_SET_CPUID"),
    (0x1021, "ARCH_GET_XCOMP_SUPP"),
    (0x1022, "ARCH_GET_XCOMP_PERM"),
    (0x1023, "ARCH_REQ_XCOMP_PERM"),
    (0x2001, "ARCH_MAP_VDSO_X32"),
    (0x2002, "ARCH_MAP_VDSO_32"),
    (0x2003, "ARCH_MAP_VDSO_64"),
];

const SOCKOPT_LEVELS: &[(u64, &str)] =
    &[(1, "SOL_SOCKET"), (0, "IPPROTO_IP"), (6, "IPPROTO_TCP"), (17, "IPPROTO_UDP"), (41, "IPPROTO_IPV6")];
const SOL_SOCKET_OPTIONS: &[(u64, &str)] = &[
    (1, "SO_DEBUG"),
    (2, "SO_REUSEADDR"),
    (6, "SO_BROADCAST"),
    (7, "SO_SNDBUF"),
    (8, "SO_RCVBUF"),
    (9, "SO_KEEPALIVE"),
    (13, "SO_LINGER"),
    (15, "SO_REUSEPORT"),
    (20, "SO_RCVTIMEO"),
    (21, "SO_SNDTIMEO"),
    (25, "SO_BINDTODEVICE"),
    (26, "SO_ATTACH_FILTER"),
    (32, "SO_SNDBUFFORCE"),
    (33, "SO_RCVBUFFORCE"),
    (50, "SO_ATTACH_BPF"),
];

/// Namespace flags of clone/unshare.
pub const CLONE_NEW: &[(u64, &str)] = &[
    (0x0000_0080, "CLONE_NEWTIME"),
    (0x0002_0000, "CLONE_NEWNS"),
    (0x0200_0000, "CLONE_NEWCGROUP"),
    (0x0400_0000, "CLONE_NEWUTS"),
    (0x0800_0000, "CLONE_NEWIPC"),
    (0x1000_0000, "CLONE_NEWUSER"),
    (0x2000_0000, "CLONE_NEWPID"),
    (0x4000_0000, "CLONE_NEWNET"),
];

const PROT: &[(u64, &str)] = &[(1, "PROT_READ"), (2, "PROT_WRITE"), (4, "PROT_EXEC")];
const MMAP_FLAGS: &[(u64, &str)] = &[
    (0x01, "MAP_SHARED"),
    (0x02, "MAP_PRIVATE"),
    (0x10, "MAP_FIXED"),
    (0x20, "MAP_ANONYMOUS"),
    (0x100, "MAP_GROWSDOWN"),
    (0x2000, "MAP_LOCKED"),
    (0x4000, "MAP_NORESERVE"),
    (0x8000, "MAP_POPULATE"),
    (0x1_0000, "MAP_NONBLOCK"),
    (0x2_0000, "MAP_STACK"),
    (crate::seccomp::MAP_HUGETLB, "MAP_HUGETLB"),
    (0x10_0000, "MAP_FIXED_NOREPLACE"),
];
const MFD_FLAGS: &[(u64, &str)] =
    &[(1, "MFD_CLOEXEC"), (2, "MFD_ALLOW_SEALING"), (crate::seccomp::MFD_HUGETLB, "MFD_HUGETLB")];
const SHM_FLAGS: &[(u64, &str)] =
    &[(0o1000, "IPC_CREAT"), (0o2000, "IPC_EXCL"), (crate::seccomp::SHM_HUGETLB, "SHM_HUGETLB")];

fn lookup(table: &[(u64, &'static str)], v: u64) -> Option<&'static str> {
    table.iter().find(|(n, _)| *n == v).map(|(_, s)| *s)
}

/// The symbolic name of an argument value, where there is one.
pub fn value_name(syscall: &str, index: u8, value: u64) -> Option<String> {
    let named = match (syscall, index) {
        ("ioctl", 1) => lookup(IOCTLS, value & 0xffff_ffff),
        ("fcntl", 1) => lookup(FCNTLS, value),
        ("socket" | "socketpair", 0) => lookup(FAMILIES, value),
        ("madvise", 2) => lookup(MADVICES, value),
        ("prctl", 0) => lookup(PRCTLS, value),
        ("arch_prctl", 0) => lookup(ARCH_PRCTLS, value),
        ("setsockopt" | "getsockopt", 1) => lookup(SOCKOPT_LEVELS, value),
        ("setsockopt" | "getsockopt", 2) => lookup(SOL_SOCKET_OPTIONS, value),
        ("prlimit64", 0) if value == 0 => Some("pid 0 (the calling process)"),
        ("clone" | "unshare" | "mmap" | "mprotect" | "memfd_create" | "shmget", _) => {
            return flags_name(syscall, index, value)
        }
        _ => None,
    };
    named.map(String::from)
}

fn flags_name(syscall: &str, index: u8, value: u64) -> Option<String> {
    let table = match (syscall, index) {
        ("clone" | "unshare", 0) => CLONE_NEW,
        ("mmap" | "mprotect", 2) => PROT,
        ("mmap", 3) => MMAP_FLAGS,
        ("memfd_create", 1) => MFD_FLAGS,
        ("shmget", 2) => SHM_FLAGS,
        _ => return None,
    };
    let names: Vec<&str> = table.iter().filter(|(bit, _)| value & bit != 0).map(|(_, n)| *n).collect();
    let known: u64 = table.iter().filter(|(bit, _)| value & bit != 0).map(|(b, _)| *b).sum();
    (!names.is_empty() && known == value).then(|| names.join("|"))
}

/// One condition in words: "request TIOCSTI", "flags without CLONE_NEWUSER, ...".
pub fn condition_words(syscall: &str, c: &ArgCondition, note: Option<&str>) -> String {
    let arg = arg_name(syscall, c.index);
    let value = |v: u64| match value_name(syscall, c.index, v) {
        Some(n) => n,
        None => match note {
            Some(note) if v > 9 => format!("{v:#x} ({note})"),
            Some(note) => format!("{v} ({note})"),
            None if v > 9 => format!("{v:#x}"),
            None => v.to_string(),
        },
    };
    match c.op {
        Op::Eq => match value_name(syscall, c.index, c.value) {
            Some(n)
                if matches!(
                    (syscall, c.index),
                    ("ioctl", 1)
                        | ("fcntl", 1)
                        | ("socket" | "socketpair", 0)
                        | ("madvise", 2)
                        | ("prctl" | "arch_prctl", 0)
                        | ("prlimit64", 0)
                ) =>
            {
                n
            }
            _ => format!("{arg} {}", value(c.value)),
        },
        Op::Ne => format!("{arg} other than {}", value(c.value)),
        Op::Lt => format!("{arg} below {}", value(c.value)),
        Op::Le => format!("{arg} at most {}", value(c.value)),
        Op::Gt => format!("{arg} above {}", value(c.value)),
        Op::Ge => format!("{arg} at least {}", value(c.value)),
        Op::MaskedEq => {
            let mask = c.mask.unwrap_or(0);
            if c.value == 0 {
                match flags_name(syscall, c.index, mask) {
                    Some(bits) => format!("{arg} without any of {}", bits.replace('|', ", ")),
                    None => format!("{arg} with none of the bits {mask:#x}"),
                }
            } else {
                format!("{arg} & {mask:#x} == {:#x}", c.value)
            }
        }
    }
}

/// An argument-filtered allow in words: "only TCGETS, TIOCGWINSZ, FIONBIO".
pub fn alternatives_words(syscall: &str, alts: &[Alternative]) -> String {
    let parts: Vec<String> = alts
        .iter()
        .map(|a| {
            let words: Vec<String> = a
                .conditions
                .iter()
                .map(|c| condition_words(syscall, c, if a.conditions.len() == 1 { a.note.as_deref() } else { None }))
                .collect();
            let joined = words.join(" and ");
            if a.conditions.len() > 1 && words.iter().any(|w| w.contains("argument")) {
                match &a.note {
                    Some(note) => format!("{joined} ({note})"),
                    None => joined,
                }
            } else {
                joined
            }
        })
        .collect();
    format!("only {}", parts.join(", "))
}

/// The no-effect part of an entry in words: "succeeds without effect (locks would reach host
/// inodes)" for an unconditional one, "F_SETLK, F_SETLKW: succeed without effect (...)" for
/// alternatives.
pub fn no_effect_words(syscall: &str, alts: &[Alternative]) -> String {
    let why = |a: Option<&Alternative>| no_effect_reason(syscall, a).map(|r| format!(" ({r})")).unwrap_or_default();
    if alts.is_empty() {
        return format!("succeeds without effect{}", why(None));
    }
    let values = alternatives_words(syscall, alts);
    let values = values.trim_start_matches("only ");
    format!("{values}: succeed without effect{}", why(alts.first()))
}

// ---------------------------------------------------------------------------------------------
// Deciding with the compiled program

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    /// The kernel runs the syscall.
    Allow,
    /// The syscall returns 0 without being run (`SECCOMP_RET_ERRNO` with errno 0).
    NoEffect,
    /// The supervisor is notified and answers with the policy's errno.
    Notify,
    /// Anything else (a malformed program): the process would be killed or worse.
    Kill,
}

/// What the compiled program decides for a syscall with these arguments (x86_64).
pub fn decide(program: &[SockFilter], nr: u32, args: [u64; 6]) -> Decision {
    match bpf::run(program, bpf::AUDIT_ARCH_X86_64, nr, args) {
        Ok(bpf::RET_ALLOW) => Decision::Allow,
        Ok(bpf::RET_NO_EFFECT) => Decision::NoEffect,
        Ok(bpf::RET_USER_NOTIF) => Decision::Notify,
        _ => Decision::Kill,
    }
}

/// Syscalls recent kernels run without consulting seccomp (uretprobe since Linux 6.11, uprobe
/// since 6.16): they serve uprobe trampolines and kill any other caller with SIGILL.
pub const KERNEL_UNFILTERED: &[&str] = &["uretprobe", "uprobe"];

pub fn sysno(name: &str) -> Option<u32> {
    Sysno::from_str(name).ok().map(|s| s.id() as u32)
}

/// Does the compiled program let `name` through with arguments `args`?
pub fn allows(program: &[SockFilter], name: &str, args: [u64; 6]) -> bool {
    sysno(name).is_some_and(|nr| decide(program, nr, args) == Decision::Allow)
}

/// Args with one slot set.
pub fn with_arg(index: usize, value: u64) -> [u64; 6] {
    let mut a = [0; 6];
    a[index.min(5)] = value;
    a
}

/// Is the syscall allowed for some argument value we can think of (the plain call, or any of
/// the probe values the catalogue tries)?
pub fn allowed_somehow(program: &[SockFilter], name: &str) -> bool {
    if allows(program, name, [0; 6]) {
        return true;
    }
    ARG_PROBES.iter().filter(|p| p.syscall == name).any(|p| allows(program, name, p.args()))
}

// ---------------------------------------------------------------------------------------------
// The catalogue: dangerous grants, what they give a script, and the baseline

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Low,
    Medium,
    High,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
        }
    }

    pub fn parse(s: &str) -> Option<Severity> {
        match s.to_ascii_lowercase().as_str() {
            "info" => Some(Severity::Info),
            "low" => Some(Severity::Low),
            "medium" => Some(Severity::Medium),
            "high" => Some(Severity::High),
            _ => None,
        }
    }
}

/// Syscalls no jail needs and that widen what a script can reach.
pub struct Danger {
    pub id: &'static str,
    pub syscalls: &'static [&'static str],
    pub severity: Severity,
    /// What the script could do with them, in words.
    pub gives: &'static str,
    pub why: &'static str,
}

pub const DANGERS: &[Danger] = &[
    Danger {
        id: "seccomp.ptrace",
        syscalls: &["ptrace"],
        severity: Severity::High,
        gives: "trace and control other processes, reading and writing their memory and registers",
        why: "ptrace is the classic way out of a sandbox: a traced process's syscalls can be rewritten after the filter saw them (before Linux 4.8), and the tracer reads everything the tracee holds",
    },
    Danger {
        id: "seccomp.process-memory",
        syscalls: &["process_vm_readv", "process_vm_writev"],
        severity: Severity::High,
        gives: "read and write the memory of other processes",
        why: "direct access to another process's address space, subject only to the ptrace access check",
    },
    Danger {
        id: "seccomp.bpf",
        syscalls: &["bpf"],
        severity: Severity::High,
        gives: "load BPF programs and maps into the kernel",
        why: "the BPF verifier and JIT are a large, frequently exploited kernel attack surface; some program types need no capability",
    },
    Danger {
        id: "seccomp.perf",
        syscalls: &["perf_event_open"],
        severity: Severity::High,
        gives: "open performance counters",
        why: "perf has a long history of kernel privilege escalations and gives precise timing side channels",
    },
    Danger {
        id: "seccomp.userfaultfd",
        syscalls: &["userfaultfd"],
        severity: Severity::High,
        gives: "handle its own page faults in user space",
        why: "userfaultfd lets an exploit stall the kernel mid-copy at a chosen address: the standard tool to win kernel races",
    },
    Danger {
        id: "seccomp.keyring",
        syscalls: &["keyctl", "add_key", "request_key"],
        severity: Severity::High,
        gives: "use the kernel's keyrings",
        why: "keyrings are not namespaced: keys can be shared with the host and other jails, and the keyring code has had escalation bugs",
    },
    Danger {
        id: "seccomp.mount",
        syscalls: &["mount", "umount2", "fsopen", "fsconfig", "fsmount", "fspick", "move_mount", "open_tree", "mount_setattr", "pivot_root", "chroot"],
        severity: Severity::High,
        gives: "mount, unmount or re-root filesystems",
        why: "changing the filesystem view can uncover what the jail hides (inside a new user namespace, mount needs no host privilege)",
    },
    Danger {
        id: "seccomp.namespaces",
        syscalls: &["unshare", "setns"],
        severity: Severity::High,
        gives: "create or enter namespaces",
        why: "a new user namespace gives the script every capability inside it and opens kernel code (netfilter, mounts, ...) that is otherwise out of reach",
    },
    Danger {
        id: "seccomp.clone3",
        syscalls: &["clone3"],
        severity: Severity::High,
        gives: "create processes with clone3, whose flags seccomp cannot see",
        why: "clone3 takes its flags in memory, where a seccomp filter cannot read them: new namespaces can no longer be refused (answer it with ENOSYS so libc falls back to clone)",
    },
    Danger {
        id: "seccomp.kernel-code",
        syscalls: &["kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module", "reboot"],
        severity: Severity::High,
        gives: "load kernel modules, replace the kernel or reboot",
        why: "no script needs these; they need host capabilities the jail never has, so allowing them only adds attack surface",
    },
    Danger {
        id: "seccomp.io-uring",
        syscalls: &["io_uring_setup", "io_uring_enter", "io_uring_register"],
        severity: Severity::High,
        gives: "submit I/O through io_uring",
        why: "io_uring performs file and socket operations that the seccomp filter never sees, and has been a rich source of kernel bugs",
    },
    Danger {
        id: "seccomp.file-handles",
        syscalls: &["open_by_handle_at", "name_to_handle_at"],
        severity: Severity::High,
        gives: "open files by file handle",
        why: "opening by handle goes around path-based checks: the 'Shocker' container escape read host files this way",
    },
    Danger {
        id: "seccomp.pidfd-getfd",
        syscalls: &["pidfd_getfd"],
        severity: Severity::High,
        gives: "take file descriptors out of other processes",
        why: "copies another process's open files and sockets into the script",
    },
    Danger {
        id: "seccomp.memfd",
        syscalls: &["memfd_create"],
        severity: Severity::Medium,
        gives: "create anonymous in-memory files",
        why: "a memfd lives on an internal filesystem that no Landlock rule covers: executed through execve(\"/proc/self/fd/N\") or execveat it runs code the execute restriction never sees",
    },
    Danger {
        id: "seccomp.execveat",
        syscalls: &["execveat"],
        severity: Severity::Medium,
        gives: "execute a file by descriptor",
        why: "fexecve of a descriptor to an in-memory file escapes Landlock's execute restriction; execve covers every legitimate use",
    },
    Danger {
        id: "seccomp.personality",
        syscalls: &["personality"],
        severity: Severity::Medium,
        gives: "change its execution domain",
        why: "READ_IMPLIES_EXEC makes readable memory executable and ADDR_NO_RANDOMIZE turns address randomisation off for what it executes next",
    },
    Danger {
        id: "seccomp.privileged",
        syscalls: &[
            "acct", "swapon", "swapoff", "syslog", "iopl", "ioperm", "quotactl", "vhangup", "settimeofday", "clock_settime",
            "clock_adjtime", "adjtimex", "sethostname", "setdomainname", "uselib", "ustat", "sysfs", "modify_ldt", "fanotify_init",
            "move_pages", "migrate_pages", "lookup_dcookie", "nfsservctl", "create_module", "get_kernel_syms", "query_module",
        ],
        severity: Severity::Medium,
        gives: "use privileged or obsolete kernel interfaces",
        why: "they need capabilities the jail never has or are obsolete: allowing them only adds kernel attack surface",
    },
    Danger {
        id: "seccomp.seccomp",
        syscalls: &["seccomp"],
        severity: Severity::Low,
        gives: "install seccomp filters of its own",
        why: "filters only restrict, but a notification listener lets one jailed process answer another's syscalls; nothing a script needs",
    },
    Danger {
        id: "seccomp.pidfd-open",
        syscalls: &["pidfd_open", "kcmp"],
        severity: Severity::Low,
        gives: "hold descriptors to processes and compare their kernel objects",
        why: "only processes of the jail can be named, but these widen what one process learns about another",
    },
    Danger {
        id: "seccomp.serve",
        syscalls: &["bind", "listen", "accept", "accept4"],
        severity: Severity::Low,
        gives: "bind and serve sockets",
        why: "nothing in a script needs to serve connections; with only AF_UNIX sockets and an empty network namespace it reaches nothing, but it is a grant to justify",
    },
    Danger {
        id: "seccomp.landlock",
        syscalls: &["landlock_create_ruleset", "landlock_add_rule", "landlock_restrict_self"],
        severity: Severity::Info,
        gives: "add Landlock rules of its own",
        why: "Landlock can only restrict further; harmless, but no script needs it",
    },
];

/// A dangerous value of a filtered argument: lint checks the compiled program against it and
/// verify probes it (always when the filter denies it, and also when it allows it if `safe`:
/// the call then runs with these arguments, which must be harmless).
pub struct ArgProbe {
    pub id: &'static str,
    pub syscall: &'static str,
    pub index: usize,
    pub value: u64,
    /// Other arguments (fd -1 and the like, so an allowed call fails harmlessly).
    pub rest: [(usize, u64); 2],
    pub label: &'static str,
    pub severity: Severity,
    pub gives: &'static str,
    /// Harmless to run if the filter lets it through.
    pub safe: bool,
}

impl ArgProbe {
    pub fn args(&self) -> [u64; 6] {
        let mut a = [0u64; 6];
        for (i, v) in self.rest {
            if i < 6 {
                a[i] = v;
            }
        }
        a[self.index] = self.value;
        a
    }
}

const NONE: (usize, u64) = (9, 0);
const FD_NONE: u64 = u64::MAX; // -1

pub const ARG_PROBES: &[ArgProbe] = &[
    ArgProbe {
        id: "seccomp.socket-inet",
        syscall: "socket",
        index: 0,
        value: 2,
        rest: [(1, 1), NONE],
        label: "AF_INET",
        severity: Severity::High,
        gives: "open IPv4 sockets (network access)",
        safe: true,
    },
    ArgProbe {
        id: "seccomp.socket-inet6",
        syscall: "socket",
        index: 0,
        value: 10,
        rest: [(1, 1), NONE],
        label: "AF_INET6",
        severity: Severity::High,
        gives: "open IPv6 sockets (network access)",
        safe: true,
    },
    ArgProbe {
        id: "seccomp.socket-packet",
        syscall: "socket",
        index: 0,
        value: 17,
        rest: [(1, 3), NONE],
        label: "AF_PACKET",
        severity: Severity::High,
        gives: "open raw packet sockets",
        safe: true,
    },
    ArgProbe {
        id: "seccomp.socket-vsock",
        syscall: "socket",
        index: 0,
        value: 40,
        rest: [(1, 1), NONE],
        label: "AF_VSOCK",
        severity: Severity::High,
        gives: "open VM sockets (a channel to the hypervisor host)",
        safe: true,
    },
    ArgProbe {
        id: "seccomp.socket-netlink",
        syscall: "socket",
        index: 0,
        value: 16,
        rest: [(1, 3), NONE],
        label: "AF_NETLINK",
        severity: Severity::Medium,
        gives: "open netlink sockets (kernel configuration interfaces)",
        safe: true,
    },
    ArgProbe {
        id: "seccomp.socket-alg",
        syscall: "socket",
        index: 0,
        value: 38,
        rest: [(1, 5), NONE],
        label: "AF_ALG",
        severity: Severity::Medium,
        gives: "use the kernel crypto API through AF_ALG sockets",
        safe: true,
    },
    ArgProbe {
        id: "seccomp.socket-other",
        syscall: "socket",
        index: 0,
        value: 31,
        rest: [(1, 1), NONE],
        label: "AF_BLUETOOTH",
        severity: Severity::Medium,
        gives: "open sockets of rarely used families",
        safe: true,
    },
    ArgProbe {
        id: "seccomp.clone-newuser",
        syscall: "clone",
        index: 0,
        value: 0x1000_0000 | 17,
        rest: [NONE, NONE],
        label: "CLONE_NEWUSER",
        severity: Severity::High,
        gives: "create a process in a new user namespace",
        safe: false,
    },
    ArgProbe {
        id: "seccomp.clone-newns",
        syscall: "clone",
        index: 0,
        value: 0x0002_0000 | 17,
        rest: [NONE, NONE],
        label: "CLONE_NEWNS",
        severity: Severity::High,
        gives: "create a process in a new mount namespace",
        safe: true,
    },
    ArgProbe {
        id: "seccomp.clone-newnet",
        syscall: "clone",
        index: 0,
        value: 0x4000_0000 | 17,
        rest: [NONE, NONE],
        label: "CLONE_NEWNET",
        severity: Severity::High,
        gives: "create a process in a new network namespace",
        safe: true,
    },
    ArgProbe {
        id: "seccomp.clone-newpid",
        syscall: "clone",
        index: 0,
        value: 0x2000_0000 | 17,
        rest: [NONE, NONE],
        label: "CLONE_NEWPID",
        severity: Severity::High,
        gives: "create a process in a new PID namespace",
        safe: true,
    },
    ArgProbe {
        id: "seccomp.ioctl-tiocsti",
        syscall: "ioctl",
        index: 1,
        value: 0x5412,
        rest: [(0, FD_NONE), NONE],
        label: "TIOCSTI",
        severity: Severity::High,
        gives: "push keystrokes into a terminal's input",
        safe: true,
    },
    ArgProbe {
        id: "seccomp.ioctl-tioclinux",
        syscall: "ioctl",
        index: 1,
        value: 0x541c,
        rest: [(0, FD_NONE), NONE],
        label: "TIOCLINUX",
        severity: Severity::High,
        gives: "use the Linux console's ioctls (paste selections into it)",
        safe: true,
    },
    ArgProbe {
        id: "seccomp.ioctl-tiocsetd",
        syscall: "ioctl",
        index: 1,
        value: 0x5423,
        rest: [(0, FD_NONE), NONE],
        label: "TIOCSETD",
        severity: Severity::Medium,
        gives: "switch a terminal's line discipline (loads rarely used kernel code)",
        safe: true,
    },
    ArgProbe {
        id: "seccomp.fcntl-setown",
        syscall: "fcntl",
        index: 1,
        value: 8,
        rest: [(0, FD_NONE), NONE],
        label: "F_SETOWN",
        severity: Severity::Low,
        gives: "direct I/O signals at another process",
        safe: true,
    },
    ArgProbe {
        id: "seccomp.fcntl-setlease",
        syscall: "fcntl",
        index: 1,
        value: 1024,
        rest: [(0, FD_NONE), NONE],
        label: "F_SETLEASE",
        severity: Severity::Low,
        gives: "take file leases",
        safe: true,
    },
    ArgProbe {
        id: "seccomp.fcntl-notify",
        syscall: "fcntl",
        index: 1,
        value: 1026,
        rest: [(0, FD_NONE), NONE],
        label: "F_NOTIFY",
        severity: Severity::Low,
        gives: "watch directories with dnotify signals",
        safe: true,
    },
    ArgProbe {
        id: "seccomp.prctl-set-mm",
        syscall: "prctl",
        index: 0,
        value: 35,
        rest: [NONE, NONE],
        label: "PR_SET_MM",
        severity: Severity::Medium,
        gives: "rewrite its own memory map descriptors",
        safe: true,
    },
    ArgProbe {
        id: "seccomp.prctl-set-seccomp",
        syscall: "prctl",
        index: 0,
        value: 22,
        rest: [NONE, NONE],
        label: "PR_SET_SECCOMP",
        severity: Severity::Low,
        gives: "install seccomp filters through prctl",
        safe: true,
    },
    ArgProbe {
        id: "seccomp.prctl-set-ptracer",
        syscall: "prctl",
        index: 0,
        value: 0x5961_6d61,
        rest: [NONE, NONE],
        label: "PR_SET_PTRACER",
        severity: Severity::Low,
        gives: "let another process trace it",
        safe: true,
    },
    ArgProbe {
        id: "seccomp.madvise-hwpoison",
        syscall: "madvise",
        index: 2,
        value: 100,
        rest: [NONE, NONE],
        label: "MADV_HWPOISON",
        severity: Severity::Medium,
        gives: "simulate hardware memory errors",
        safe: true,
    },
    ArgProbe {
        id: "seccomp.madvise-mergeable",
        syscall: "madvise",
        index: 2,
        value: 12,
        rest: [NONE, NONE],
        label: "MADV_MERGEABLE",
        severity: Severity::Low,
        gives: "opt memory into page merging (KSM), a cross-process timing side channel",
        safe: true,
    },
    ArgProbe {
        id: "seccomp.arch-prctl-cpuid",
        syscall: "arch_prctl",
        index: 0,
        value: 0x1011,
        rest: [NONE, NONE],
        label: "ARCH_GET_CPUID",
        severity: Severity::Low,
        gives: "use arch_prctl options beyond setting the thread pointer",
        safe: true,
    },
    ArgProbe {
        id: "seccomp.prlimit-other",
        syscall: "prlimit64",
        index: 0,
        value: 1,
        rest: [NONE, NONE],
        label: "pid 1",
        severity: Severity::Low,
        gives: "read or change the resource limits of another process",
        safe: true,
    },
    // Huge pages come from a host-wide pool the memory cgroup does not count (only a hugetlb
    // cgroup limit would, which not every host has). Length 0 and fd -1: harmless if let through.
    ArgProbe {
        id: "seccomp.mmap-hugetlb",
        syscall: "mmap",
        index: 3,
        value: 0x22 | crate::seccomp::MAP_HUGETLB,
        rest: [(4, FD_NONE), NONE],
        label: "MAP_HUGETLB",
        severity: Severity::High,
        gives: "map huge pages from the host's pool, memory its memory limit never counts",
        safe: true,
    },
    ArgProbe {
        id: "seccomp.memfd-hugetlb",
        syscall: "memfd_create",
        index: 1,
        value: crate::seccomp::MFD_HUGETLB,
        rest: [NONE, NONE],
        label: "MFD_HUGETLB",
        severity: Severity::High,
        gives: "create a hugetlbfs file and map huge pages from the host's pool, memory its memory limit never counts",
        safe: true,
    },
    ArgProbe {
        id: "seccomp.shmget-hugetlb",
        syscall: "shmget",
        index: 2,
        value: crate::seccomp::SHM_HUGETLB,
        rest: [NONE, NONE],
        label: "SHM_HUGETLB",
        severity: Severity::High,
        gives: "create huge-page shared memory from the host's pool, memory its memory limit never counts",
        safe: true,
    },
];

/// Syscalls whose argument filter matters: allowed without conditions they are a finding.
pub struct Unfiltered {
    pub syscall: &'static str,
    pub severity: Severity,
    pub why: &'static str,
}

pub const MUST_FILTER: &[Unfiltered] = &[
    Unfiltered { syscall: "socket", severity: Severity::High, why: "without a family filter a script can open IPv4/IPv6, packet, netlink and vsock sockets; allow AF_UNIX only" },
    Unfiltered { syscall: "clone", severity: Severity::High, why: "without a mask on the CLONE_NEW* flags a script can create namespaces (a user namespace gives it every capability inside)" },
    Unfiltered { syscall: "ioctl", severity: Severity::High, why: "ioctl is thousands of driver entry points behind one syscall; without a request filter TIOCSTI and every device's ioctls are open" },
    Unfiltered { syscall: "prctl", severity: Severity::Medium, why: "prctl changes dumpability, the ptracer, memory map descriptors and more; allow the options the interpreter uses" },
    Unfiltered { syscall: "fcntl", severity: Severity::Low, why: "F_SETOWN/F_SETSIG aim signals at other processes, leases and F_NOTIFY reach kernel code no script needs" },
    Unfiltered { syscall: "madvise", severity: Severity::Low, why: "MADV_HWPOISON/SOFT_OFFLINE inject memory errors, MADV_MERGEABLE opens a page-merging side channel" },
    Unfiltered { syscall: "arch_prctl", severity: Severity::Low, why: "beyond ARCH_SET_FS it toggles CPUID faulting, maps vDSOs and requests AMX state" },
    Unfiltered { syscall: "prlimit64", severity: Severity::Low, why: "on pids other than 0 it reads and changes other processes' limits" },
    Unfiltered { syscall: "socketpair", severity: Severity::Low, why: "without a family filter socketpair reaches families other than AF_UNIX" },
];

/// Where a jail may write: scratch mounts belong under these.
pub const SCRATCH_ROOTS: &[&str] = &["/tmp", "/var/tmp", "/work", "/scratch", "/output", "/out", "/dev/shm"];

/// Host areas whose contents are secrets or reach host services: (path, severity, what it
/// holds, whether everything below it is sensitive too). For the others only binding the area
/// itself (or a parent of it) exposes it: /var/lib/jaild/datasets is a data directory, /var/lib
/// is every service's state.
pub const SECRET_PATHS: &[(&str, Severity, &str, bool)] = &[
    ("/etc", Severity::High, "host configuration: accounts, password hashes (/etc/shadow), keys and certificates (/etc/ssl/private, /etc/ssh)", true),
    ("/root", Severity::High, "root's home: shell history, SSH keys, cloud credentials", true),
    ("/home", Severity::High, "users' homes: SSH keys, tokens, source code", true),
    ("/proc", Severity::High, "the host's processes: their command lines, environments and memory maps", true),
    ("/sys", Severity::High, "kernel and device state of the host", true),
    ("/run", Severity::High, "runtime sockets of host services (docker.sock, systemd, dbus) and secrets mounted by orchestrators", true),
    ("/var/run", Severity::High, "runtime sockets of host services (docker.sock) and their state", true),
    ("/var/lib/docker", Severity::High, "container images, volumes and their secrets", true),
    ("/var/lib/containerd", Severity::High, "container images and their secrets", true),
    ("/var/lib/kubelet", Severity::High, "pod volumes and service-account tokens", true),
    ("/var/lib/jaild", Severity::High, "jaild's own state: the history of every run, with other users' scripts and results", false),
    ("/var/lib", Severity::Medium, "host service state: databases, container images, package manager state", false),
    ("/var/log", Severity::Medium, "host logs: what other users and services did", true),
    ("/boot", Severity::Medium, "kernel images and boot configuration", true),
    ("/var/tmp", Severity::Medium, "other processes' temporary files", true),
    ("/tmp", Severity::Medium, "other processes' temporary files and sockets", true),
    ("/mnt", Severity::Medium, "mounted host volumes", false),
    ("/media", Severity::Medium, "mounted removable media", false),
    ("/srv", Severity::Medium, "data served by the host", false),
    ("/var", Severity::Medium, "host state, logs and spool", false),
    ("/usr", Severity::Low, "every installed program's files (not secret, but far more than a script needs)", false),
];

/// File names that hold credentials wherever they are.
pub const SECRET_NAMES: &[&str] = &[
    ".ssh",
    ".aws",
    ".gnupg",
    ".kube",
    ".docker",
    ".netrc",
    ".pgpass",
    "id_rsa",
    "id_ed25519",
    "credentials",
    "secrets",
    ".env",
    "docker.sock",
    "containerd.sock",
    "shadow",
    "gshadow",
    "private",
];

/// Directories of the host system: a writable mount there shadows system files.
pub const SYSTEM_DIRS: &[&str] = &[
    "/etc", "/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/opt", "/var", "/run", "/root", "/home",
    "/boot", "/srv", "/sys", "/snap",
];

/// Is `p` one of or below `roots`?
pub fn under_any(p: &Path, roots: &[&str]) -> bool {
    roots.iter().any(|r| p.starts_with(r))
}

/// The secret areas a read-only host path exposes: the most specific area it lies in (when
/// everything below that area is sensitive), and every area that lies below it.
pub fn exposed_secrets(host: &Path) -> Vec<(&'static str, Severity, &'static str)> {
    let mut found: Vec<(&'static str, Severity, &'static str)> = SECRET_PATHS
        .iter()
        .filter(|(s, _, _, _)| Path::new(s).starts_with(host) && Path::new(s) != Path::new("/"))
        .map(|(s, sev, why, _)| (*s, *sev, *why))
        .collect();
    // The innermost area the path lies in decides (/var/lib/docker/x is docker's, not /var/lib's).
    let within = SECRET_PATHS
        .iter()
        .filter(|(s, _, _, _)| host.starts_with(s) && host != Path::new(s))
        .max_by_key(|(s, _, _, _)| s.len());
    if let Some((s, sev, why, below)) = within {
        if *below {
            found.push((*s, *sev, *why));
        }
    }
    if let Some(name) = host.components().filter_map(|c| c.as_os_str().to_str()).find(|c| SECRET_NAMES.contains(c)) {
        let _ = name;
        found.push(("credential file", Severity::High, "a file or directory whose name says it holds credentials"));
    }
    // /usr alone is low; when something more severe is exposed, drop the low notes.
    if found.iter().any(|f| f.1 > Severity::Low) {
        found.retain(|f| f.1 > Severity::Low);
    }
    found
}

/// Limits above which a grant is worth a finding: (field, medium above, high above, unit, why).
pub struct Ceiling {
    pub field: &'static str,
    pub medium: u64,
    pub high: u64,
    pub why: &'static str,
}

pub const CEILINGS: &[Ceiling] = &[
    Ceiling {
        field: "memory",
        medium: 1 << 30,
        high: 4 << 30,
        why: "one run can take this much of the host's memory; many concurrent runs multiply it",
    },
    Ceiling {
        field: "pids",
        medium: 128,
        high: 1024,
        why: "processes and threads of one run; a fork bomb gets this far before the kernel refuses",
    },
    Ceiling {
        field: "stdout",
        medium: 16 << 20,
        high: 256 << 20,
        why: "captured output is held in the supervisor's memory and stored in the report",
    },
    Ceiling {
        field: "stderr",
        medium: 16 << 20,
        high: 256 << 20,
        why: "captured output is held in the supervisor's memory and stored in the report",
    },
    Ceiling {
        field: "result",
        medium: 16 << 20,
        high: 256 << 20,
        why: "the result is held in the supervisor's memory and stored in the report",
    },
    Ceiling {
        field: "open_files",
        medium: 1024,
        high: 65_536,
        why: "kernel memory for open files is not fully charged to the run's cgroup",
    },
    Ceiling { field: "file_size", medium: 1 << 30, high: 8 << 30, why: "the largest file the script can write" },
    Ceiling {
        field: "wall_time_ms",
        medium: 600_000,
        high: 1_800_000,
        why: "a run holds its slot, memory and processes this long",
    },
    Ceiling { field: "cpu_time_ms", medium: 600_000, high: 1_800_000, why: "CPU one run can burn" },
    Ceiling { field: "cpu_cores", medium: 4, high: 16, why: "cores one run can keep busy at once" },
    Ceiling {
        field: "input",
        medium: 64 << 20,
        high: 256 << 20,
        why: "the input is held in memory by the supervisor and the runner",
    },
    Ceiling {
        field: "script",
        medium: 16 << 20,
        high: 64 << 20,
        why: "the script is held in memory by the supervisor and the runner",
    },
    Ceiling { field: "tmpfs", medium: 1 << 30, high: 8 << 30, why: "scratch space lives in memory (tmpfs)" },
    Ceiling {
        field: "tmpfs_inodes",
        medium: 100_000,
        high: 1_000_000,
        why: "files in one scratch mount; each costs kernel memory",
    },
];

pub fn ceiling(field: &str) -> Option<&'static Ceiling> {
    CEILINGS.iter().find(|c| c.field == field)
}

/// A limit value as a number for the ceilings (cpu_cores rounded up).
pub fn limit_values(l: &profile::Limits) -> Vec<(&'static str, u64, String)> {
    vec![
        ("wall_time_ms", l.wall_time_ms, format!("{} ms", l.wall_time_ms)),
        ("cpu_time_ms", l.cpu_time_ms, format!("{} ms", l.cpu_time_ms)),
        ("cpu_cores", l.cpu_cores.ceil() as u64, format!("{}", l.cpu_cores)),
        ("memory", l.memory.0, l.memory.to_string()),
        ("pids", l.pids, l.pids.to_string()),
        ("stdout", l.stdout.0, l.stdout.to_string()),
        ("stderr", l.stderr.0, l.stderr.to_string()),
        ("result", l.result.0, l.result.to_string()),
        ("open_files", l.open_files, l.open_files.to_string()),
        ("file_size", l.file_size.0, l.file_size.to_string()),
        ("script", l.script.0, l.script.to_string()),
        ("input", l.input.0, l.input.to_string()),
    ]
}

/// Environment variable names that load code into the interpreter.
pub const CODE_LOADING_ENV: &[(&str, &str)] = &[
    ("LD_PRELOAD", "the dynamic loader loads these libraries into the interpreter before anything else"),
    ("LD_LIBRARY_PATH", "the dynamic loader looks for the interpreter's libraries here first"),
    ("LD_AUDIT", "the dynamic loader loads these audit libraries into the interpreter"),
    ("NODE_OPTIONS", "extra Node flags: --require/--import run files before the runner, --inspect opens a debugger, --allow-* change permissions"),
    ("PYTHONPATH", "Python imports modules from here before the standard library"),
    ("PYTHONHOME", "Python takes its whole standard library from here"),
    ("PYTHONSTARTUP", "Python runs this file at start-up in interactive mode"),
    ("PYTHONUSERBASE", "Python adds the user site-packages below it"),
    ("NODE_PATH", "Node resolves require() from here"),
];

/// Does an environment variable name look like it carries a secret?
pub fn secret_looking_name(name: &str) -> bool {
    let n = name.to_ascii_uppercase();
    const WORDS: &[&str] = &[
        "SECRET",
        "TOKEN",
        "PASSWORD",
        "PASSWD",
        "PASSPHRASE",
        "CREDENTIAL",
        "PRIVATE",
        "API_KEY",
        "APIKEY",
        "ACCESS_KEY",
        "AUTH",
        "COOKIE",
        "SESSION",
        "DSN",
        "DATABASE_URL",
    ];
    WORDS.iter().any(|w| n.contains(w))
        || n.ends_with("_KEY")
        || n == "KEY"
        || n.starts_with("AWS_")
        || n.starts_with("GITHUB_")
        || n.starts_with("GOOGLE_APPLICATION")
}

/// Does an environment value look like a secret?
pub fn secret_looking_value(value: &str) -> bool {
    let v = value.trim();
    v.contains("-----BEGIN")
        || ["ghp_", "gho_", "github_pat_", "xoxb-", "xoxp-", "glpat-", "AKIA", "ASIA", "sk-", "sk_live_", "eyJ"]
            .iter()
            .any(|p| v.starts_with(p) && v.len() >= 20)
        || (v.contains("://")
            && v.split("://").nth(1).is_some_and(|rest| {
                rest.split('/').next().is_some_and(|auth| auth.contains(':') && auth.contains('@'))
            }))
}

/// The value of a named limit (for diff and verify).
pub fn bytes(n: u64) -> String {
    profile::ByteSize(n).to_string()
}

/// Paths where the plan places something (mount destinations), with the kinds.
pub fn plan_paths(plan: &Plan) -> BTreeMap<PathBuf, &jail_init::plan::Mount> {
    use jail_init::plan::Mount;
    plan.mounts
        .iter()
        .map(|m| {
            let dst = match m {
                Mount::Bind { dst, .. }
                | Mount::Tmpfs { dst, .. }
                | Mount::Proc { dst }
                | Mount::Dir { dst, .. }
                | Mount::File { dst, .. }
                | Mount::Symlink { dst, .. } => dst.clone(),
            };
            (dst, m)
        })
        .collect()
}

/// Landlock rights of the plan's rule for exactly `path`, 0 if none.
pub fn rights_at(plan: &Plan, path: &Path) -> u64 {
    plan.landlock.rules.iter().filter(|r| r.path == path).fold(0, |acc, r| acc | r.access)
}

/// Landlock rights in plain words.
pub fn rights_words(mask: u64) -> String {
    use jail_init::plan::access as a;
    let mut words = Vec::new();
    if mask & a::READ_FILE != 0 {
        words.push("read files");
    }
    if mask & a::READ_DIR != 0 {
        words.push("list directories");
    }
    if mask & a::WRITE_FILE != 0 {
        words.push("write files");
    }
    if mask & a::TRUNCATE != 0 {
        words.push("truncate");
    }
    if mask & (a::MAKE_REG | a::MAKE_DIR) != 0 {
        words.push("create files and directories");
    }
    if mask & (a::REMOVE_FILE | a::REMOVE_DIR) != 0 {
        words.push("delete");
    }
    if mask & a::REFER != 0 {
        words.push("move and link within");
    }
    if mask & a::EXECUTE != 0 {
        words.push("EXECUTE");
    }
    if mask & (a::MAKE_CHAR | a::MAKE_BLOCK) != 0 {
        words.push("create device nodes");
    }
    if mask & a::MAKE_SOCK != 0 {
        words.push("create sockets");
    }
    if mask & a::MAKE_FIFO != 0 {
        words.push("create FIFOs");
    }
    if mask & a::MAKE_SYM != 0 {
        words.push("create symlinks");
    }
    if mask & a::IOCTL_DEV != 0 {
        words.push("device ioctls");
    }
    if words.is_empty() {
        "nothing".into()
    } else {
        words.join(", ")
    }
}

/// The manifest's comment for a path, or the profile's for a read-only path.
pub fn mount_comment(s: &Subject, dst: &Path) -> Option<String> {
    if let Some(m) = s.interpreter.manifest.mounts.iter().find(|m| m.path == dst) {
        return Some(m.comment.clone());
    }
    if dst == s.interpreter.manifest.binary {
        return Some("the interpreter binary".into());
    }
    if dst == s.interpreter.manifest.loader {
        return Some("the dynamic loader of the interpreter".into());
    }
    if let Some(d) = s.profile.file.filesystem.data.iter().find(|d| d.jail_path() == dst) {
        return Some(format!("data directory {:?}: {}", d.name, d.comment));
    }
    s.profile
        .file
        .filesystem
        .read_only
        .iter()
        .find(|r| r.at.as_ref().unwrap_or(&r.path) == dst)
        .map(|r| r.comment.clone())
}

/// The profile key of a bound path: `filesystem.read_only[i].path` or `filesystem.data[i].path`.
pub fn bind_key(s: &Subject, dst: &Path) -> Option<String> {
    let fs = &s.profile.file.filesystem;
    if let Some(i) = fs.read_only.iter().position(|r| r.at.as_ref().unwrap_or(&r.path) == dst) {
        return Some(format!("filesystem.read_only[{i}].path"));
    }
    fs.data.iter().position(|d| d.jail_path() == dst).map(|i| format!("filesystem.data[{i}].path"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_group_entries_and_note_args() {
        let src = "# ====\n# File I/O\n# reading things\n# ====\n\n[[syscall]]\nname = \"read\"\n\n# --- sessions ---\n[[syscall]]\nname = \"ioctl\"\nargs = [{ index = 1, op = \"eq\", value = 0x5401 }]  # TCGETS\n";
        let h = parse_headers(src);
        assert_eq!(h.entries.len(), 2);
        assert_eq!(h.entries[0].group.as_ref().map(|g| g.title.as_str()), Some("File I/O"));
        assert_eq!(h.entries[0].group.as_ref().map(|g| g.description.as_str()), Some("reading things"));
        assert_eq!(h.entries[1].group.as_ref().map(|g| g.title.as_str()), Some("Sessions"));
        assert_eq!(h.entries[1].args_note.as_deref(), Some("TCGETS"));
        assert_eq!(h.entries[1].line, 10);
    }

    #[test]
    fn a_policy_without_headings_is_grouped_by_the_table() {
        let src = "schema = 1\ninterpreter = \"t\"\ndescription = \"t\"\n[default]\nerrno = \"EPERM\"\n\n[[syscall]]\nname = \"mmap\"\naction = \"allow\"\ncomment = \"m\"\n\n[[syscall]]\nname = \"openat\"\naction = \"allow\"\ncomment = \"o\"\n\n[[syscall]]\nname = \"kill\"\naction = \"allow\"\ncomment = \"k\"\n\n[[syscall]]\nname = \"uname\"\naction = \"allow\"\ncomment = \"u\"\n";
        let file: crate::seccomp::PolicyFile = toml::from_str(src).unwrap();
        let policy = crate::seccomp::compile_policy(file, Path::new("t.toml"), src, String::new()).unwrap();
        let view = PolicyView::new(&policy, src);
        let group = |name: &str| view.groups[view.rule(name).unwrap().group].title.clone();
        assert_eq!(
            (group("mmap"), group("openat"), group("kill"), group("uname")),
            ("Memory".into(), "File I/O".into(), "Signals".into(), "Processes and threads".into())
        );
        assert_eq!(view.rule("kill").unwrap().line, 17);
        assert_eq!(view.declared(sysno("kill").unwrap(), &[0; 6]), Declared::Allow);
        assert_eq!(
            view.declared(sysno("ptrace").unwrap(), &[0; 6]),
            Declared::Deny { errno: "EPERM".into(), level: DenialLevel::Violation }
        );
    }

    #[test]
    fn conditions_in_words() {
        let eq = |index, value| ArgCondition { index, op: Op::Eq, value, mask: None };
        let alts = |conds: Vec<ArgCondition>| {
            conds
                .into_iter()
                .map(|c| Alternative { conditions: vec![c], note: None, no_effect: false })
                .collect::<Vec<_>>()
        };
        assert_eq!(alternatives_words("ioctl", &alts(vec![eq(1, 0x5401), eq(1, 0x5413)])), "only TCGETS, TIOCGWINSZ");
        assert_eq!(alternatives_words("socket", &alts(vec![eq(0, 1)])), "only AF_UNIX");
        assert_eq!(alternatives_words("prlimit64", &alts(vec![eq(0, 0)])), "only pid 0 (the calling process)");
        let masked = ArgCondition { index: 0, op: Op::MaskedEq, value: 0, mask: Some(0x1000_0000 | 0x4000_0000) };
        assert_eq!(condition_words("clone", &masked, None), "flags without any of CLONE_NEWUSER, CLONE_NEWNET");
        let hugetlb = ArgCondition { index: 3, op: Op::MaskedEq, value: 0, mask: Some(0x4_0000) };
        assert_eq!(condition_words("mmap", &hugetlb, None), "flags without any of MAP_HUGETLB");
        assert_eq!(value_name("mmap", 3, 0x4_0022).as_deref(), Some("MAP_PRIVATE|MAP_ANONYMOUS|MAP_HUGETLB"));
        // Mixed allow and no_effect alternatives, in the words explain and diff print.
        let lock = |v| Alternative { conditions: vec![eq(1, v)], note: None, no_effect: true };
        assert_eq!(
            no_effect_words("fcntl", &[lock(6), lock(38)]),
            "F_SETLK, F_OFD_SETLKW: succeed without effect (locks would reach host inodes)"
        );
        assert_eq!(no_effect_words("flock", &[]), "succeeds without effect (locks would reach host inodes)");
        assert_eq!(no_effect_words("sync", &[]), "succeeds without effect");
        assert_eq!(
            condition_words("futex", &eq(1, 0x81), Some("FUTEX_WAKE_PRIVATE")),
            "argument 1 0x81 (FUTEX_WAKE_PRIVATE)"
        );
    }

    #[test]
    fn secrets_are_recognised() {
        assert!(
            secret_looking_name("GITHUB_TOKEN") && secret_looking_name("db_password") && !secret_looking_name("LANG")
        );
        assert!(
            secret_looking_value("ghp_0123456789abcdefghijABCDEFGHIJ") && secret_looking_value("postgres://u:pw@db/x")
        );
        assert!(!secret_looking_value("/usr/bin") && !secret_looking_value("C.UTF-8"));
        assert_eq!(exposed_secrets(Path::new("/etc")).len(), 1);
        assert!(exposed_secrets(Path::new("/usr/share/zoneinfo")).is_empty());
        assert!(exposed_secrets(Path::new("/var/lib/jaild/datasets")).is_empty());
        assert_eq!(exposed_secrets(Path::new("/var/lib/jaild"))[0].1, Severity::High);
        assert_eq!(exposed_secrets(Path::new("/var/lib/docker/volumes"))[0].0, "/var/lib/docker");
        assert!(exposed_secrets(Path::new("/etc/ssl/certs")).iter().any(|f| f.1 == Severity::High));
        assert!(exposed_secrets(Path::new("/")).iter().any(|f| f.0 == "/etc"));
        assert!(!exposed_secrets(Path::new("/srv/app/.ssh")).is_empty());
        assert_eq!(exposed_secrets(Path::new("/usr"))[0].1, Severity::Low);
    }
}
