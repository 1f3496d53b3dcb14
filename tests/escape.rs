//! The escape suite: attack scripts in tests/escape/<category>/, each run in a real jail under
//! the shipped profiles, each with its expected outcome written in the script's header before
//! it ever ran, and a check after every run that the host is unchanged.
//!
//! A case is one file, `NAME.py` or `NAME.js`. Its header (the leading `#` or `//` comment
//! lines) is `key: value` lines:
//!
//! - `attack:` what the script tries (required; may repeat).
//! - `expect:` one check the report must pass (repeatable): `status=S`, `violation=DETAIL` (a
//!   seccomp denial at level violation with exactly this detail), `reported_violation=DETAIL` (at
//!   level report: listed, not a violation), `quiet_violation=DETAIL`,
//!   `violation_prefix=PREFIX` (a family of loud denials, `ioctl(0x`), `no_violation=DETAIL`,
//!   `blocked_module=NAME`, `signal=N|SIGNAME|none`, `exit_code=N|none`,
//!   `result=JSON`, `result.PATH=JSON` (a bare word is a string: `result.shadow=ENOENT`),
//!   `error.type=T`, `wall_ms<N`, `pids_peak<N`, `report_bytes<N` (the whole report as JSON),
//!   `stdout~TEXT`, `stderr~TEXT`, `stdout_len=N`, `stdout_truncated=BOOL`,
//!   `stderr_truncated=BOOL`.
//! - `stopped_by: LAYER: CHECK` what stopped the attack and the evidence in the report that
//!   shows it (required; repeatable). The check is asserted like an `expect:` line, and it must
//!   be evidence that layer can produce (see [`LAYERS`]): a seccomp denial named in the
//!   violations, EROFS from a read-only mount, EACCES from Landlock, a status from a cgroup
//!   limit, ... — the script returns the errno it observed in its `result`.
//! - `kernel_only:` why the case runs with the language policy layer off (it needs a module the
//!   shipped profile blocks, such as ctypes or socket); everything else stays the shipped
//!   profile's.
//! - `limits:` tighter limits for the run (`wall_time_ms=1000, memory=64MiB, pids=8`).
//! - `input:` a JSON object, merged into the input; `input.host` always holds the host fixtures
//!   the attacks aim at (canary paths, a loopback TCP and UDP port, abstract unix socket names, a
//!   host process's pid, the supervisor's pid, the name and value of an environment variable of
//!   the supervisor).
//! - `after:` another case of the same directory that must run first, in the same thread (the
//!   between-runs cases).
//! - `alone:` why the case runs with no other run of the suite in flight (the process-table
//!   check then also proves no process of the jail outlived the run).
//! - `known_hole:` the diagnosis of a hole the case exposes that the jail does not fix yet. The
//!   expectation stays as written; the case is listed as KNOWN HOLE with what fails, and the
//!   suite fails if it ever passes (so the line goes when the jail is fixed). With
//!   `JAILD_ESCAPE_STRICT=1` a known hole fails the suite. A known hole runs alone; if it changes
//!   the host, the change is reported with it and the host as it is then is the baseline after.
//! - `note:` anything a reviewer should know (repeatable).
//!
//! Every loud violation in a report must be declared by the case. After every run: the canary
//! files and watched host files are unchanged, the host sysctls too, no mount appeared, no
//! run's cgroup is left but those of runs in flight and no jail's uid made one, no process of
//! the jail's host uids is left in the cgroup of a finished run, the host process is alive and
//! the host sockets received nothing. The `alone:` cases, and the suite as a whole at its end,
//! also check that no process of the jails' host uids is left under this process (jail-init is
//! its child).
//!
//! `cargo test --test escape` runs it; `JAILD_ESCAPE_CASES=net` runs the cases whose name
//! contains `net`; `JAILD_ESCAPE_THREADS` sets the parallelism (default 3). The table of cases
//! (expected and observed) is printed and written to `$CARGO_TARGET_TMPDIR/escape-report.md`
//! (target/tmp/), every report to `escape-reports.json` next to it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::*;

use jaild::profile::ByteSize;
use jaild::report::{Report, Status};
use jaild::seccomp::DenialLevel;
use jaild::{LimitOverrides, RunRequest, Supervisor};
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::os::linux::net::SocketAddrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The categories of the suite (directories of tests/escape), in the order of the issue.
const CATEGORIES: [(&str, &str); 9] = [
    ("filesystem", "host secrets, writes outside scratch, links, renames, truncation, exec, /proc walks"),
    ("supervisor_side", "what a script plants in scratch or sends on its pipes for the supervisor to trip on"),
    ("syscalls", "kernel attack surface: namespaces, mounts, keyrings, BPF, perf, io_uring, ptrace, other ABIs"),
    ("procfs", "kernel tunables, the jail's own cgroup limits, kernel symbols and logs, /proc/self writes"),
    ("processes", "host processes, kill(-1), daemons, ignored SIGTERM, SIGSTOP"),
    ("network", "external and loopback addresses, metadata, vsock, packet/raw/netlink, unix sockets"),
    ("inherited_state", "file descriptors, environment, terminal, privileges"),
    ("resources", "fork bomb, memory, tmpfs, fds, output, CPU"),
    ("between_runs", "nothing of one run is visible to the next"),
];

/// What can stop an attack, and which evidence in a report shows it was that.
const LAYERS: [(&str, &str); 22] = [
    ("seccomp", "the seccomp allowlist: the denied syscall is named in violations (loud or quiet as the profile says)"),
    ("seccomp-arch", "the filter's architecture check: a syscall of another ABI (i386, x32) goes to the supervisor, which names it by ABI and number and stops the run"),
    ("landlock", "Landlock: EACCES (filesystem rights), EXDEV (refer) or EPERM (scopes) observed by the script"),
    ("unprivileged-uid", "the script's uid owns nothing and holds no capability: EACCES or EPERM from the kernel's own checks"),
    ("read-only-mount", "the read-only binds and root: EROFS"),
    ("noexec-mount", "scratch is mounted noexec: EACCES from execve, EPERM from mmap(PROT_EXEC)"),
    ("mount-boundary", "links and renames cannot cross mounts: EXDEV"),
    ("mount-namespace", "not in the jail's filesystem view (or gone with it): ENOENT, a listing, the run's own scratch"),
    ("procfs", "the jail's /proc (subset=pid, hidepid=invisible): ENOENT, a listing"),
    ("pid-namespace", "the jail's PID namespace: ESRCH, what the script can see, or the run ending on time as PID 1 ends"),
    ("net-namespace", "the jail's empty network namespace: ECONNREFUSED, ENETUNREACH, ENOENT"),
    ("cgroup-namespace", "the jail's cgroup namespace: its own cgroup is its root"),
    ("session", "a new session without a controlling terminal"),
    ("clean-fds", "only the runner's descriptors are inherited"),
    ("clean-environment", "the environment is exactly the profile's"),
    ("rlimit", "the jail's rlimits: EMFILE (open files), EFBIG (file size)"),
    ("tmpfs-limit", "the size- and inode-limited scratch tmpfs: ENOSPC"),
    ("cgroup-memory", "the memory cgroup's OOM kill: status memory_limit"),
    ("cgroup-pids", "the pids cgroup: status pids_limit"),
    ("cgroup-cpu", "the CPU time of the whole cgroup: status cpu_limit"),
    ("wall-time", "the supervisor's wall clock: status timeout"),
    ("output-cap", "the supervisor's output caps: status output_limit"),
];

/// Errors each layer can produce (for evidence of the form `result.PATH=ERRNO`).
fn layer_errnos(layer: &str) -> Option<&'static [&'static str]> {
    Some(match layer {
        "landlock" => &["EACCES", "EXDEV", "EPERM"],
        "unprivileged-uid" => &["EACCES", "EPERM"],
        "read-only-mount" => &["EROFS"],
        "noexec-mount" => &["EACCES", "EPERM"],
        "mount-boundary" => &["EXDEV"],
        "rlimit" => &["EMFILE", "EFBIG"],
        "tmpfs-limit" => &["ENOSPC"],
        _ => return None,
    })
}

/// The host uids the jails' uid 0 and 1000 map to, in any slot (jaild::hostids).
fn jail_host_uids_of_suite() -> &'static [u32] {
    static UIDS: std::sync::OnceLock<Vec<u32>> = std::sync::OnceLock::new();
    UIDS.get_or_init(|| jail_host_uids(supervisor().config.host_id_base, supervisor().config.host_id_slots))
}

// ------------------------------------------------------------------------------------------
// cases

#[derive(Debug, Clone, PartialEq)]
enum Check {
    Status(Status),
    Violation {
        detail: String,
        level: DenialLevel,
    },
    /// Loud violations whose detail starts with this (a family: `ioctl(0x`); declares them all.
    ViolationPrefix(String),
    NoViolation(String),
    BlockedModule(String),
    Signal(Option<i32>),
    ExitCode(Option<i32>),
    Result {
        path: Vec<String>,
        value: Value,
    },
    ErrorType(String),
    WallBelow(u64),
    PidsPeakBelow(u64),
    /// The whole report, as JSON, is smaller than this many bytes.
    ReportBelow(u64),
    Contains {
        stream: &'static str,
        text: String,
    },
    StdoutLen(usize),
    Truncated {
        stream: &'static str,
        value: bool,
    },
}

#[derive(Debug, Clone)]
struct Case {
    /// `category/file`
    name: String,
    category: String,
    file: String,
    language: &'static str,
    attack: String,
    profile: Option<String>,
    kernel_only: Option<String>,
    limits: LimitOverrides,
    input: Map<String, Value>,
    after: Option<String>,
    alone: Option<String>,
    /// A hole this case exposes, not fixed yet: its expectation failing is reported, not fatal
    /// (unless JAILD_ESCAPE_STRICT=1); its expectation passing is fatal (remove the line).
    known_hole: Option<String>,
    expects: Vec<Check>,
    stopped_by: Vec<(String, Check)>,
    code: String,
}

fn escape_dir() -> PathBuf {
    repo().join("tests").join("escape")
}

/// Every case file under tests/escape, parsed; errors name the file and line.
fn load_cases() -> Result<Vec<Case>, Vec<String>> {
    let mut cases = Vec::new();
    let mut errors = Vec::new();
    let root = escape_dir();
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
        .map_err(|e| vec![format!("{}: {e}", root.display())])?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    for dir in dirs {
        let category = dir.file_name().and_then(|n| n.to_str()).unwrap_or("").to_string();
        if !CATEGORIES.iter().any(|(c, _)| *c == category) {
            errors.push(format!("{}: not one of the categories {:?}", dir.display(), CATEGORIES.map(|c| c.0)));
            continue;
        }
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir).unwrap().flatten().map(|e| e.path()).collect();
        files.sort();
        for path in files {
            let file = path.file_name().and_then(|n| n.to_str()).unwrap_or("").to_string();
            let language = match path.extension().and_then(|e| e.to_str()) {
                Some("py") => "python",
                Some("js") => "javascript",
                _ => {
                    errors.push(format!("{}: a case is a .py or .js file", path.display()));
                    continue;
                }
            };
            let text = std::fs::read_to_string(&path).unwrap();
            match parse_case(&category, &file, language, &text) {
                Ok(c) => cases.push(c),
                Err(e) => errors.push(format!("{}:{e}", path.display())),
            }
        }
    }
    let names: BTreeSet<String> = cases.iter().map(|c| c.name.clone()).collect();
    for c in &cases {
        if let Some(after) = &c.after {
            if !names.contains(&format!("{}/{after}", c.category)) {
                errors.push(format!("{}: after: {after} is not a case of {}", c.name, c.category));
            }
        }
    }
    if errors.is_empty() {
        Ok(cases)
    } else {
        Err(errors)
    }
}

fn parse_case(category: &str, file: &str, language: &'static str, text: &str) -> Result<Case, String> {
    let prefix = if language == "python" { "#" } else { "//" };
    let mut c = Case {
        name: format!("{category}/{file}"),
        category: category.to_string(),
        file: file.to_string(),
        language,
        attack: String::new(),
        profile: None,
        kernel_only: None,
        limits: LimitOverrides::default(),
        input: Map::new(),
        after: None,
        alone: None,
        known_hole: None,
        expects: Vec::new(),
        stopped_by: Vec::new(),
        code: text.to_string(),
    };
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        let Some(body) = line.strip_prefix(prefix) else { break };
        let body = body.trim();
        if body.is_empty() {
            continue;
        }
        let (key, value) = body.split_once(':').ok_or(format!("{n}: header line is not `key: value`: {line:?}"))?;
        let value = value.trim();
        let err = |e: String| format!("{n}: {key}: {e}");
        match key.trim() {
            "attack" => {
                if !c.attack.is_empty() {
                    c.attack.push(' ');
                }
                c.attack.push_str(value);
            }
            "expect" => c.expects.push(parse_check(value).map_err(err)?),
            "stopped_by" => {
                let (layer, evidence) = value.split_once(':').ok_or_else(|| err("expected `LAYER: CHECK`".into()))?;
                let layer = layer.trim().to_string();
                if !LAYERS.iter().any(|(l, _)| *l == layer) {
                    return Err(err(format!("unknown layer {layer:?}; known: {:?}", LAYERS.map(|l| l.0))));
                }
                let check = parse_check(evidence.trim()).map_err(err)?;
                evidence_fits(&layer, &check).map_err(err)?;
                c.stopped_by.push((layer, check));
            }
            "kernel_only" => c.kernel_only = Some(value.to_string()),
            "profile" => c.profile = Some(value.to_string()),
            "limits" => c.limits = parse_limits(value).map_err(err)?,
            "input" => match serde_json::from_str(value) {
                Ok(Value::Object(m)) => c.input = m,
                _ => return Err(err("not a JSON object".into())),
            },
            "after" => c.after = Some(value.to_string()),
            "alone" => c.alone = Some(value.to_string()),
            "known_hole" => {
                let hole = c.known_hole.get_or_insert_with(String::new);
                if !hole.is_empty() {
                    hole.push(' ');
                }
                hole.push_str(value);
            }
            "note" => {}
            other => return Err(format!("{n}: unknown header key {other:?}")),
        }
    }
    if c.attack.is_empty() {
        return Err("0: no `attack:` line".into());
    }
    if !c.expects.iter().any(|e| matches!(e, Check::Status(_))) {
        return Err("0: no `expect: status=...` line".into());
    }
    if c.stopped_by.is_empty() {
        return Err("0: no `stopped_by:` line: every case names what stops it".into());
    }
    if c.expects.contains(&Check::Status(Status::SecurityViolation))
        && !c
            .all_checks()
            .any(|e| matches!(e, Check::Violation { level: DenialLevel::Violation, .. } | Check::ViolationPrefix(_)))
    {
        return Err("0: status=security_violation expected but no loud `violation=` declared".into());
    }
    if c.kernel_only.as_deref() == Some("") {
        return Err("0: kernel_only: give the reason".into());
    }
    Ok(c)
}

impl Case {
    fn all_checks(&self) -> impl Iterator<Item = &Check> {
        self.expects.iter().chain(self.stopped_by.iter().map(|(_, c)| c))
    }

    fn expected_status(&self) -> Status {
        self.expects.iter().find_map(|e| if let Check::Status(s) = e { Some(*s) } else { None }).unwrap_or(Status::Ok)
    }
}

fn parse_check(s: &str) -> Result<Check, String> {
    let key_end = s
        .find(|ch: char| !(ch.is_ascii_alphanumeric() || ch == '_' || ch == '.'))
        .ok_or(format!("no operator in {s:?}"))?;
    let (key, rest) = s.split_at(key_end);
    let mut chars = rest.chars();
    let op = chars.next().unwrap_or(' ');
    let value = chars.as_str().trim();
    let number = |v: &str| v.parse::<u64>().map_err(|_| format!("{key}: {v:?} is not a number"));
    let text = |v: &str| -> String {
        match serde_json::from_str::<Value>(v) {
            Ok(Value::String(s)) => s,
            _ => v.to_string(),
        }
    };
    let bool_of = |v: &str| v.parse::<bool>().map_err(|_| format!("{key}: {v:?} is not true or false"));
    Ok(match (key, op) {
        ("status", '=') => Check::Status(
            serde_json::from_value(Value::String(value.to_string()))
                .map_err(|_| format!("unknown status {value:?}"))?,
        ),
        ("violation", '=') => Check::Violation { detail: value.to_string(), level: DenialLevel::Violation },
        ("reported_violation", '=') => Check::Violation { detail: value.to_string(), level: DenialLevel::Report },
        ("quiet_violation", '=') => Check::Violation { detail: value.to_string(), level: DenialLevel::Quiet },
        ("violation_prefix", '=') => Check::ViolationPrefix(value.to_string()),
        ("no_violation", '=') => Check::NoViolation(value.to_string()),
        ("blocked_module", '=') => Check::BlockedModule(value.to_string()),
        ("signal", '=') => Check::Signal(match value {
            "none" => None,
            "SIGKILL" => Some(libc::SIGKILL),
            "SIGSYS" => Some(libc::SIGSYS),
            "SIGSEGV" => Some(libc::SIGSEGV),
            "SIGXFSZ" => Some(libc::SIGXFSZ),
            v => Some(number(v)? as i32),
        }),
        ("exit_code", '=') => Check::ExitCode(if value == "none" { None } else { Some(number(value)? as i32) }),
        ("error.type", '=') => Check::ErrorType(value.to_string()),
        ("wall_ms", '<') => Check::WallBelow(number(value)?),
        ("pids_peak", '<') => Check::PidsPeakBelow(number(value)?),
        ("report_bytes", '<') => Check::ReportBelow(number(value)?),
        ("stdout", '~') => Check::Contains { stream: "stdout", text: text(value) },
        ("stderr", '~') => Check::Contains { stream: "stderr", text: text(value) },
        ("stdout_len", '=') => Check::StdoutLen(number(value)? as usize),
        ("stdout_truncated", '=') => Check::Truncated { stream: "stdout", value: bool_of(value)? },
        ("stderr_truncated", '=') => Check::Truncated { stream: "stderr", value: bool_of(value)? },
        (k, '=') if k == "result" || k.starts_with("result.") => {
            let path = k.split('.').skip(1).map(String::from).collect();
            let value = serde_json::from_str(value).unwrap_or_else(|_| Value::String(value.to_string()));
            Check::Result { path, value }
        }
        _ => return Err(format!("unknown check {s:?}")),
    })
}

/// Whether `check` is evidence `layer` can produce.
fn evidence_fits(layer: &str, check: &Check) -> Result<(), String> {
    let fits = match (layer, check) {
        ("seccomp", Check::Violation { .. } | Check::ViolationPrefix(_)) => true,
        ("seccomp-arch", Check::Violation { detail, level: DenialLevel::Violation }) => {
            detail.starts_with("i386 syscall ") || detail.starts_with("x32 syscall ")
        }
        ("cgroup-memory", Check::Status(s)) => *s == Status::MemoryLimit,
        ("cgroup-pids", Check::Status(s)) => *s == Status::PidsLimit,
        ("cgroup-cpu", Check::Status(s)) => *s == Status::CpuLimit,
        ("wall-time", Check::Status(s)) => *s == Status::Timeout,
        ("output-cap", Check::Status(s)) => *s == Status::OutputLimit,
        ("pid-namespace" | "mount-namespace", Check::WallBelow(_)) => true,
        // RLIMIT_CORE: the wait status says no core was dumped.
        ("rlimit", Check::Result { value: Value::Bool(false), .. }) => true,
        (l, Check::Result { value, .. }) => match layer_errnos(l) {
            Some(errnos) => value.as_str().map(|v| errnos.contains(&v)).unwrap_or(false),
            None => matches!(
                l,
                "mount-namespace"
                    | "procfs"
                    | "pid-namespace"
                    | "net-namespace"
                    | "cgroup-namespace"
                    | "session"
                    | "clean-fds"
                    | "clean-environment"
            ),
        },
        _ => false,
    };
    if fits {
        Ok(())
    } else {
        Err(format!("{check:?} is not evidence {layer} can produce"))
    }
}

fn parse_limits(s: &str) -> Result<LimitOverrides, String> {
    let mut m = Map::new();
    for item in s.split(',').map(str::trim).filter(|i| !i.is_empty()) {
        let (k, v) = item.split_once('=').ok_or(format!("{item:?} is not key=value"))?;
        let v = v.trim();
        let value = v.parse::<u64>().map(Value::from).unwrap_or_else(|_| Value::String(v.to_string()));
        m.insert(k.trim().to_string(), value);
    }
    serde_json::from_value(Value::Object(m)).map_err(|e| e.to_string())
}

fn lookup<'a>(mut v: &'a Value, path: &[String]) -> Option<&'a Value> {
    for seg in path {
        v = match v {
            Value::Object(m) => m.get(seg)?,
            Value::Array(a) => a.get(seg.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(v)
}

fn evaluate(check: &Check, r: &Report) -> Result<(), String> {
    let fail = |what: String| Err(what);
    match check {
        Check::Status(s) => {
            if r.status != *s {
                return fail(format!("status is {}, expected {s} ({})", r.status, r.message.as_deref().unwrap_or("")));
            }
        }
        Check::Violation { detail, level } => {
            match r.violations.iter().find(|v| v.kind == "syscall" && v.detail == *detail) {
                None => return fail(format!("no seccomp violation {detail:?}")),
                Some(v) if v.level != *level => {
                    return fail(format!(
                        "violation {detail:?} has level {}, expected {}",
                        v.level.name(),
                        level.name()
                    ))
                }
                Some(v) if v.count == 0 => return fail(format!("violation {detail:?} has count 0")),
                Some(_) => {}
            }
        }
        Check::ViolationPrefix(prefix) => {
            if !r.violations.iter().any(|v| {
                v.kind == "syscall" && v.level == DenialLevel::Violation && v.detail.starts_with(prefix.as_str())
            }) {
                return fail(format!("no loud seccomp violation starting with {prefix:?}"));
            }
        }
        Check::NoViolation(detail) => {
            if r.violations.iter().any(|v| v.detail == *detail) {
                return fail(format!("unexpected violation {detail:?}"));
            }
        }
        Check::BlockedModule(name) => {
            if !r.violations.iter().any(|v| v.kind == "blocked_module" && v.detail == *name) {
                return fail(format!("no blocked_module violation {name:?}"));
            }
        }
        Check::Signal(s) => {
            if r.signal != *s {
                return fail(format!("signal is {:?}, expected {s:?}", r.signal));
            }
        }
        Check::ExitCode(c) => {
            if r.exit_code != *c {
                return fail(format!("exit_code is {:?}, expected {c:?}", r.exit_code));
            }
        }
        Check::Result { path, value } => {
            let name = if path.is_empty() { "result".to_string() } else { format!("result.{}", path.join(".")) };
            match lookup(&r.result, path) {
                Some(v) if v == value => {}
                Some(v) => return fail(format!("{name} is {v}, expected {value}")),
                None => return fail(format!("{name} is missing, expected {value}")),
            }
        }
        Check::ErrorType(t) => {
            let got = r.error.as_ref().map(|e| e.kind.as_str());
            if got != Some(t.as_str()) {
                return fail(format!("error.type is {got:?}, expected {t:?}"));
            }
        }
        Check::WallBelow(ms) => {
            if r.usage.wall_ms >= *ms {
                return fail(format!("wall_ms is {}, expected < {ms}", r.usage.wall_ms));
            }
        }
        Check::ReportBelow(n) => {
            let size = serde_json::to_vec(r).map(|v| v.len()).unwrap_or(usize::MAX) as u64;
            if size >= *n {
                return fail(format!(
                    "the report is {size} bytes ({} violations, message of {} bytes), expected < {n}",
                    r.violations.len(),
                    r.message.as_deref().map(str::len).unwrap_or(0)
                ));
            }
        }
        Check::PidsPeakBelow(n) => match r.usage.pids_peak {
            Some(p) if p < *n => {}
            other => return fail(format!("pids_peak is {other:?}, expected < {n}")),
        },
        Check::Contains { stream, text } => {
            let s = if *stream == "stdout" { &r.stdout } else { &r.stderr };
            if !s.contains(text.as_str()) {
                return fail(format!("{stream} does not contain {text:?}"));
            }
        }
        Check::StdoutLen(n) => {
            if r.stdout.len() != *n {
                return fail(format!("stdout has {} bytes, expected {n}", r.stdout.len()));
            }
        }
        Check::Truncated { stream, value } => {
            let t = if *stream == "stdout" { r.stdout_truncated } else { r.stderr_truncated };
            if t != *value {
                return fail(format!("{stream}_truncated is {t}, expected {value}"));
            }
        }
    }
    Ok(())
}

/// Everything the report must show for this case.
fn judge(case: &Case, r: &Report) -> Vec<String> {
    let mut failures: Vec<String> = case.expects.iter().filter_map(|c| evaluate(c, r).err()).collect();
    for (layer, check) in &case.stopped_by {
        if let Err(e) = evaluate(check, r) {
            failures.push(format!("stopped_by {layer}: {e}"));
        }
        if layer == "cgroup-memory" && r.usage.oom_kills == 0 {
            failures.push("stopped_by cgroup-memory: the cgroup counted no OOM kill".into());
        }
        if layer == "cgroup-pids" {
            if let (Some(limit), Some(peak)) = (case.limits.pids, r.usage.pids_peak) {
                if peak > limit {
                    failures.push(format!("stopped_by cgroup-pids: pids_peak {peak} is over the limit {limit}"));
                }
            }
        }
    }
    let declared: BTreeSet<&str> = case
        .all_checks()
        .filter_map(|c| match c {
            Check::Violation { detail, level: DenialLevel::Violation | DenialLevel::Report } => Some(detail.as_str()),
            _ => None,
        })
        .collect();
    let prefixes: Vec<&str> = case
        .all_checks()
        .filter_map(|c| if let Check::ViolationPrefix(p) = c { Some(p.as_str()) } else { None })
        .collect();
    let undeclared: Vec<String> = r
        .violations
        .iter()
        .filter(|v| v.kind == "syscall" && !v.quiet)
        .filter(|v| !declared.contains(v.detail.as_str()) && !prefixes.iter().any(|p| v.detail.starts_with(p)))
        .map(|v| format!("{:?} (x{})", v.detail, v.count))
        .collect();
    if !undeclared.is_empty() {
        let shown: Vec<&str> = undeclared.iter().take(10).map(String::as_str).collect();
        failures.push(format!("{} undeclared seccomp violation(s): {}", undeclared.len(), shown.join(", ")));
    }
    failures
}

// ------------------------------------------------------------------------------------------
// the host: fixtures the attacks aim at, and the state that must not change

/// A file's identity and content as far as a change to it would show.
fn file_state(path: &Path, with_content: bool) -> String {
    match std::fs::symlink_metadata(path) {
        Err(_) => "<absent>".into(),
        Ok(m) => {
            let mut s = format!(
                "len={} mode={:o} uid={} gid={} ino={} nlink={} mtime={}.{} ctime={}.{}",
                m.len(),
                m.mode(),
                m.uid(),
                m.gid(),
                m.ino(),
                m.nlink(),
                m.mtime(),
                m.mtime_nsec(),
                m.ctime(),
                m.ctime_nsec()
            );
            if m.is_dir() {
                let mut names: Vec<String> = std::fs::read_dir(path)
                    .map(|d| d.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect())
                    .unwrap_or_default();
                names.sort();
                s.push_str(&format!(" entries={names:?}"));
            } else if with_content {
                s.push_str(&format!(" content={:?}", std::fs::read_to_string(path).unwrap_or_default()));
            }
            s
        }
    }
}

/// Host tunables an escaped script would go for.
const SYSCTLS: [&str; 10] = [
    "/proc/sys/kernel/core_pattern",
    "/proc/sys/kernel/modprobe",
    "/proc/sys/fs/binfmt_misc/status",
    "/proc/sys/kernel/hostname",
    "/proc/sys/kernel/domainname",
    "/proc/sys/kernel/sysrq",
    "/proc/sys/kernel/unprivileged_bpf_disabled",
    "/proc/sys/kernel/randomize_va_space",
    "/proc/sys/user/max_user_namespaces",
    "/sys/kernel/uevent_helper",
];

#[derive(Debug, Clone, PartialEq)]
struct Snapshot {
    files: BTreeMap<PathBuf, String>,
    sysctls: BTreeMap<&'static str, String>,
    mounts: BTreeSet<String>,
    cgroups: BTreeSet<PathBuf>,
}

fn cgroup_dirs(dir: &Path, depth: u32, out: &mut BTreeSet<PathBuf>) {
    if depth == 0 {
        return;
    }
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for e in entries.flatten() {
        if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
            out.insert(e.path());
            cgroup_dirs(&e.path(), depth - 1, out);
        }
    }
}

/// A process as /proc shows it.
struct Proc {
    pid: i32,
    ppid: i32,
    uid: u32,
    name: String,
}

fn processes() -> Vec<Proc> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir("/proc") else { return out };
    for e in entries.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|n| n.parse::<i32>().ok()) else { continue };
        let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) else { continue };
        let field =
            |k: &str| status.lines().find_map(|l| l.strip_prefix(k)).map(|v| v.trim().to_string()).unwrap_or_default();
        let uid = field("Uid:").split_whitespace().next().and_then(|u| u.parse().ok()).unwrap_or(0);
        out.push(Proc { pid, ppid: field("PPid:").parse().unwrap_or(0), uid, name: field("Name:") });
    }
    out
}

/// Processes of the jails' host uids that descend from this test process.
fn jail_descendants() -> Vec<String> {
    let me = std::process::id() as i32;
    let procs = processes();
    let parent: BTreeMap<i32, i32> = procs.iter().map(|p| (p.pid, p.ppid)).collect();
    procs
        .iter()
        .filter(|p| jail_host_uids_of_suite().contains(&p.uid))
        .filter(|p| {
            let mut at = p.ppid;
            for _ in 0..64 {
                if at == me {
                    return true;
                }
                match parent.get(&at) {
                    Some(&pp) if pp != at && at > 1 => at = pp,
                    _ => return false,
                }
            }
            false
        })
        .map(|p| format!("pid {} ({}) uid {} ppid {}", p.pid, p.name, p.uid, p.ppid))
        .collect()
}

fn wait_for_no_jail_descendants(timeout: Duration) -> Vec<String> {
    let deadline = Instant::now() + timeout;
    loop {
        let left = jail_descendants();
        if left.is_empty() || Instant::now() >= deadline {
            return left;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

struct Host {
    canary_dir: PathBuf,
    root_canary: PathBuf,
    watched: Vec<(PathBuf, bool)>,
    tcp: std::net::TcpListener,
    udp: std::net::UdpSocket,
    abstract_stream: std::os::unix::net::UnixListener,
    abstract_dgram: std::os::unix::net::UnixDatagram,
    abstract_stream_name: String,
    abstract_dgram_name: String,
    sleeper: Mutex<std::process::Child>,
    env_canary: (String, String),
    /// The host as it must stay; refreshed only after a known hole changed it (and was reported).
    baseline: Mutex<Snapshot>,
    in_flight: Mutex<BTreeSet<String>>,
}

impl Host {
    fn new() -> Host {
        let pid = std::process::id();
        let canary_dir = std::env::temp_dir().join(format!("jaild-escape-canary-{pid}"));
        std::fs::create_dir_all(&canary_dir).unwrap();
        std::fs::write(canary_dir.join("secret.txt"), "host secret: jails must never read this\n").unwrap();
        std::fs::write(canary_dir.join("public.txt"), "host file: jails must never write this\n").unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(canary_dir.join("secret.txt"), std::fs::Permissions::from_mode(0o600)).unwrap();
        std::fs::set_permissions(canary_dir.join("public.txt"), std::fs::Permissions::from_mode(0o666)).unwrap();
        std::fs::set_permissions(&canary_dir, std::fs::Permissions::from_mode(0o777)).unwrap();
        let root_canary = PathBuf::from(format!("/root/.jaild-escape-canary-{pid}"));
        std::fs::write(&root_canary, "root's canary\n").unwrap();

        let mut watched: Vec<(PathBuf, bool)> = vec![
            (canary_dir.clone(), false),
            (canary_dir.join("secret.txt"), true),
            (canary_dir.join("public.txt"), true),
            (root_canary.clone(), true),
        ];
        for p in [
            "/usr/bin/python3.11",
            "/usr/lib/python3.11/os.py",
            "/usr/lib/python3.11",
            "/lib/x86_64-linux-gnu/libc.so.6",
            "/lib64/ld-linux-x86-64.so.2",
            "/opt/jaild/interpreters/node-24.21.0/bin/node",
            "/etc/passwd",
            "/etc/shadow",
            "/etc/hostname",
            // Bound into every jail: the host's own device inodes.
            "/dev/null",
            "/dev/zero",
            "/dev/full",
            "/dev/random",
            "/dev/urandom",
        ] {
            watched.push((PathBuf::from(p), false));
        }
        watched.push((supervisor().config.jail_init.clone(), false));

        let tcp = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        tcp.set_nonblocking(true).unwrap();
        let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        udp.set_nonblocking(true).unwrap();
        let abstract_stream_name = format!("jaild-escape-host-daemon-{pid}");
        let abstract_dgram_name = format!("jaild-escape-host-log-{pid}");
        let sa = std::os::unix::net::SocketAddr::from_abstract_name(abstract_stream_name.as_bytes()).unwrap();
        let abstract_stream = std::os::unix::net::UnixListener::bind_addr(&sa).unwrap();
        abstract_stream.set_nonblocking(true).unwrap();
        let sa = std::os::unix::net::SocketAddr::from_abstract_name(abstract_dgram_name.as_bytes()).unwrap();
        let abstract_dgram = std::os::unix::net::UnixDatagram::bind_addr(&sa).unwrap();
        abstract_dgram.set_nonblocking(true).unwrap();

        let sleeper = std::process::Command::new("sleep").arg("3600").spawn().unwrap();
        let env_canary = ("JAILD_ESCAPE_SUPERVISOR_SECRET".to_string(), format!("supervisor-secret-{pid}"));
        std::env::set_var(&env_canary.0, &env_canary.1);

        let mut host = Host {
            canary_dir,
            root_canary,
            watched,
            tcp,
            udp,
            abstract_stream,
            abstract_dgram,
            abstract_stream_name,
            abstract_dgram_name,
            sleeper: Mutex::new(sleeper),
            env_canary,
            baseline: Mutex::new(Snapshot {
                files: BTreeMap::new(),
                sysctls: BTreeMap::new(),
                mounts: BTreeSet::new(),
                cgroups: BTreeSet::new(),
            }),
            in_flight: Mutex::new(BTreeSet::new()),
        };
        host.baseline = Mutex::new(host.snapshot());
        host
    }

    fn snapshot(&self) -> Snapshot {
        let files = self.watched.iter().map(|(p, content)| (p.clone(), file_state(p, *content))).collect();
        let sysctls = SYSCTLS
            .iter()
            .map(|p| (*p, std::fs::read_to_string(p).unwrap_or_else(|e| format!("<{}>", e.kind()))))
            .collect();
        let mounts =
            std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default().lines().map(String::from).collect();
        let mut cgroups = BTreeSet::new();
        cgroup_dirs(Path::new("/sys/fs/cgroup"), 8, &mut cgroups);
        Snapshot { files, sysctls, mounts, cgroups }
    }

    /// The fixtures as the script sees them in `input.host`.
    fn fixtures(&self) -> Value {
        json!({
            "canary_dir": self.canary_dir,
            "canary_secret": self.canary_dir.join("secret.txt"),
            "canary_public": self.canary_dir.join("public.txt"),
            "root_canary": self.root_canary,
            "tcp_port": self.tcp.local_addr().unwrap().port(),
            "udp_port": self.udp.local_addr().unwrap().port(),
            "abstract_stream": self.abstract_stream_name,
            "abstract_dgram": self.abstract_dgram_name,
            "sleeper_pid": self.sleeper.lock().unwrap().id(),
            "supervisor_pid": std::process::id(),
            "env_name": self.env_canary.0,
            "env_value": self.env_canary.1,
        })
    }

    /// What changed on the host that the run `run_id` (finished) could have changed.
    fn changes(&self, run_id: &str) -> Vec<String> {
        let mut out = Vec::new();
        let flight_before = self.in_flight.lock().unwrap().clone();
        let now = self.snapshot();
        let flight_after = self.in_flight.lock().unwrap().clone();
        let baseline = self.baseline.lock().unwrap().clone();
        for (path, before) in &baseline.files {
            let after = &now.files[path];
            if after != before {
                out.push(format!("host file {} changed: {before} -> {after}", path.display()));
            }
        }
        for (path, before) in &baseline.sysctls {
            let after = &now.sysctls[path];
            if after != before {
                out.push(format!("host tunable {path} changed: {before:?} -> {after:?}"));
            }
        }
        for m in now.mounts.difference(&baseline.mounts) {
            out.push(format!("new mount on the host: {m}"));
        }
        let me = std::process::id().to_string();
        for dir in now.cgroups.difference(&baseline.cgroups) {
            let name = dir.file_name().and_then(|n| n.to_str()).unwrap_or("");
            match name.strip_prefix("run.").and_then(|r| r.split_once('.')) {
                Some((pid, id)) if pid == me => {
                    if id == run_id || !(flight_before.contains(id) || flight_after.contains(id)) {
                        out.push(format!("cgroup of a finished run left on the host: {}", dir.display()));
                    }
                }
                // Another supervisor's run (another test binary on this machine).
                Some(_) => {}
                // Any other new directory a jail made would be owned by its host uid; the host's
                // own service manager makes root-owned ones under its cgroups all the time.
                None => match std::fs::metadata(dir) {
                    Ok(m) if jail_host_uids_of_suite().contains(&m.uid()) => {
                        out.push(format!("new cgroup directory made by a jail's uid {}: {}", m.uid(), dir.display()))
                    }
                    _ => {}
                },
            }
        }
        // A process of a jail of this supervisor in the cgroup of a run that is over. (Jails of
        // other supervisors on this machine, such as other test binaries, are theirs to check.)
        let prefix = format!("run.{me}.");
        for p in processes().iter().filter(|p| jail_host_uids_of_suite().contains(&p.uid)) {
            let cgroups = std::fs::read_to_string(format!("/proc/{}/cgroup", p.pid)).unwrap_or_default();
            for (at, _) in cgroups.match_indices(&prefix) {
                let id = cgroups[at + prefix.len()..].split(['/', '\n']).next().unwrap_or("");
                if id == run_id || !(flight_before.contains(id) || flight_after.contains(id)) {
                    out.push(format!(
                        "a process of the finished run {id} is still alive: pid {} ({}) uid {}",
                        p.pid, p.name, p.uid
                    ));
                    break;
                }
            }
        }
        match self.sleeper.lock().unwrap().try_wait() {
            Ok(None) => {}
            other => out.push(format!("the host's sleeper process was killed: {other:?}")),
        }
        match self.tcp.accept() {
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            other => out.push(format!("the host's loopback TCP listener got a connection: {other:?}")),
        }
        let mut buf = [0u8; 64];
        match self.udp.recv_from(&mut buf) {
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            other => out.push(format!("the host's loopback UDP socket got a datagram: {other:?}")),
        }
        match self.abstract_stream.accept() {
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            other => out.push(format!("the host's abstract unix listener got a connection: {:?}", other.map(|_| ()))),
        }
        match self.abstract_dgram.recv(&mut buf) {
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            other => out.push(format!("the host's abstract unix datagram socket got a message: {other:?}")),
        }
        out
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        if let Ok(mut s) = self.sleeper.lock() {
            let _ = s.kill();
            let _ = s.wait();
        }
        let _ = std::fs::remove_dir_all(&self.canary_dir);
        let _ = std::fs::remove_file(&self.root_canary);
    }
}

// ------------------------------------------------------------------------------------------
// running

struct Outcome {
    case: Case,
    report: Option<Report>,
    /// What the report does not show that the case expects.
    failures: Vec<String>,
    /// What changed on the host, or outlived the run: never excused.
    host_failures: Vec<String>,
    elapsed: Duration,
}

impl Outcome {
    fn verdict(&self) -> &'static str {
        match (self.host_failures.is_empty(), self.failures.is_empty(), self.case.known_hole.is_some()) {
            (false, _, _) => "FAIL (host)",
            (true, true, false) => "pass",
            (true, true, true) => "FAIL (known hole no longer reproduces)",
            (true, false, true) => "KNOWN HOLE",
            (true, false, false) => "FAIL",
        }
    }
}

fn run_case(host: &Host, case: &Case) -> Outcome {
    let t = Instant::now();
    let sup: &Supervisor = if case.kernel_only.is_some() { kernel_only_supervisor() } else { supervisor() };
    let mut input = case.input.clone();
    input.insert("host".into(), host.fixtures());
    let id = unique_id(&format!("esc-{}", case.file.replace('.', "-")));
    host.in_flight.lock().unwrap().insert(id.clone());
    let request = RunRequest {
        id: Some(id.clone()),
        profile: case.profile.clone(),
        language: jaild::profile::Language::parse(case.language),
        interpreter: None,
        filename: Some(case.file.clone()),
        code: case.code.as_bytes().to_vec(),
        input: Some(Value::Object(input).to_string()),
        limits: case.limits.clone(),
    };
    let report = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        run_in_mode(sup, request, &jaild::RunHooks::default())
    }));
    host.in_flight.lock().unwrap().remove(&id);
    let mut failures = Vec::new();
    let mut host_failures = Vec::new();
    let report = match report {
        Ok(r) => {
            failures.extend(judge(case, &r));
            Some(r)
        }
        Err(_) => {
            failures.push("the supervisor panicked".into());
            None
        }
    };
    if case.alone.is_some() {
        for p in wait_for_no_jail_descendants(Duration::from_millis(1500)) {
            host_failures.push(format!("a process of the jail outlived the run: {p}"));
        }
    }
    host_failures.extend(host.changes(&id).into_iter().map(|c| format!("host: {c}")));
    if case.known_hole.is_some() && !host_failures.is_empty() {
        // The hole is the host change: reported with the case (it runs alone), and the host as
        // it is now becomes the baseline for the cases after it.
        failures.append(&mut host_failures);
        *host.baseline.lock().unwrap() = host.snapshot();
    }
    Outcome { case: case.clone(), report, failures, host_failures, elapsed: t.elapsed() }
}

/// Cases in dependency order: each group runs in one thread, in order.
fn groups(cases: &[Case]) -> Vec<Vec<Case>> {
    let mut out: Vec<Vec<Case>> = Vec::new();
    for c in cases.iter().filter(|c| c.after.is_none()) {
        let mut group = vec![c.clone()];
        loop {
            let last = group.last().map(|l| (l.category.clone(), l.file.clone())).unwrap_or_default();
            match cases.iter().find(|n| n.category == last.0 && n.after.as_deref() == Some(last.1.as_str())) {
                Some(next) => group.push(next.clone()),
                None => break,
            }
        }
        out.push(group);
    }
    out
}

fn summary_line(o: &Outcome) -> String {
    let c = &o.case;
    let expected = format!(
        "{}; {}",
        c.expected_status(),
        c.stopped_by
            .iter()
            .map(|(l, _)| l.as_str())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect::<Vec<_>>()
            .join(", ")
    );
    let observed = match &o.report {
        None => "no report".to_string(),
        Some(r) => {
            let loud: Vec<String> = r.violations.iter().filter(|v| !v.quiet).map(|v| v.detail.clone()).collect();
            let mut s = format!("{}", r.status);
            if let Some(sig) = r.signal {
                s.push_str(&format!(" signal {sig}"));
            }
            if loud.len() > 8 {
                s.push_str(&format!(" [{}, ... {} more]", loud[..8].join(", "), loud.len() - 8));
            } else if !loud.is_empty() {
                s.push_str(&format!(" [{}]", loud.join(", ")));
            }
            s.push_str(&format!(", {} ms", r.usage.wall_ms));
            s
        }
    };
    format!(
        "| {} | {} | {} | {} | {} | {} | {} |",
        c.category,
        c.file,
        c.language,
        if c.kernel_only.is_some() { "kernel-only" } else { "shipped" },
        expected,
        observed,
        o.verdict()
    )
}

#[test]
fn escape_suite() {
    require_jails!();
    let started = Instant::now();
    let cases = match load_cases() {
        Ok(c) => c,
        Err(errors) => panic!("malformed cases:\n{}", errors.join("\n")),
    };
    let filter = std::env::var("JAILD_ESCAPE_CASES").unwrap_or_default();
    // A selected case brings the cases it runs after.
    let mut wanted: BTreeSet<String> =
        cases.iter().filter(|c| c.name.contains(&filter)).map(|c| c.name.clone()).collect();
    loop {
        let before = wanted.len();
        let needed: Vec<String> = cases
            .iter()
            .filter(|c| wanted.contains(&c.name))
            .filter_map(|c| c.after.as_ref().map(|a| format!("{}/{a}", c.category)))
            .collect();
        wanted.extend(needed);
        if wanted.len() == before {
            break;
        }
    }
    let selected: Vec<Case> = cases.iter().filter(|c| wanted.contains(&c.name)).cloned().collect();
    // Both supervisors start before the host's baseline: their first runs make the parent
    // cgroups they keep.
    let _ = kernel_only_supervisor();
    let warm = run("python", "result = 1");
    assert_eq!(warm.status, Status::Ok, "warm-up run: {}", show(&warm));
    let host = Host::new();

    let (alone, shared): (Vec<Vec<Case>>, Vec<Vec<Case>>) =
        groups(&selected).into_iter().partition(|g| g.iter().any(|c| c.alone.is_some() || c.known_hole.is_some()));
    let queue = Mutex::new(shared.into_iter().collect::<VecDeque<_>>());
    let outcomes = Mutex::new(Vec::new());
    let threads: usize = std::env::var("JAILD_ESCAPE_THREADS").ok().and_then(|t| t.parse().ok()).unwrap_or(3).max(1);
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| loop {
                let Some(group) = queue.lock().unwrap().pop_front() else { break };
                for case in &group {
                    let o = run_case(&host, case);
                    outcomes.lock().unwrap().push(o);
                }
            });
        }
    });
    let parallel_done = started.elapsed();
    // The cases that need the machine to themselves, one at a time, each followed by the
    // strict process check.
    let mut outcomes = outcomes.into_inner().unwrap();
    let leftovers = wait_for_no_jail_descendants(Duration::from_secs(2));
    for group in &alone {
        for case in group {
            outcomes.push(run_case(&host, case));
        }
    }
    let total = started.elapsed();

    outcomes.sort_by_key(|o| {
        (CATEGORIES.iter().position(|(c, _)| *c == o.case.category).unwrap_or(99), o.case.file.clone())
    });
    let mut table = String::from(
        "| category | case | language | profile | expected | observed | |\n|---|---|---|---|---|---|---|\n",
    );
    for o in &outcomes {
        table.push_str(&summary_line(o));
        table.push('\n');
    }
    let slowest: Vec<String> = {
        let mut by_time: Vec<&Outcome> = outcomes.iter().collect();
        by_time.sort_by_key(|o| std::cmp::Reverse(o.elapsed));
        by_time.iter().take(8).map(|o| format!("{} {} ms", o.case.name, o.elapsed.as_millis())).collect()
    };
    let timing = format!(
        "{} cases in {:.1} s ({} threads; shared cases {:.1} s, alone cases {:.1} s); slowest: {}\n",
        outcomes.len(),
        total.as_secs_f64(),
        threads,
        parallel_done.as_secs_f64(),
        (total - parallel_done).as_secs_f64(),
        slowest.join(", ")
    );
    let mut failures = Vec::new();
    for p in leftovers {
        failures.push(format!("after the shared cases, a jail process is still alive: {p}"));
    }
    for p in wait_for_no_jail_descendants(Duration::from_secs(2)) {
        failures.push(format!("after the suite, a jail process is still alive: {p}"));
    }
    let strict = std::env::var("JAILD_ESCAPE_STRICT").map(|v| v == "1").unwrap_or(false);
    let mut holes = Vec::new();
    for o in &outcomes {
        let excused = o.case.known_hole.is_some() && !strict;
        for f in &o.host_failures {
            failures.push(format!("{}: {f}", o.case.name));
        }
        for f in &o.failures {
            if excused {
                holes.push(format!("{}: {f}", o.case.name));
            } else {
                failures.push(format!("{}: {f}", o.case.name));
            }
        }
        if o.case.known_hole.is_some() && o.failures.is_empty() {
            failures.push(format!("{}: the known hole no longer reproduces; remove its known_hole line", o.case.name));
        }
    }
    let failed_reports: Vec<String> = outcomes
        .iter()
        .filter(|o| (!o.failures.is_empty() && o.case.known_hole.is_none()) || !o.host_failures.is_empty())
        .filter_map(|o| o.report.as_ref().map(|r| format!("--- {}\n{}", o.case.name, show(r))))
        .collect();
    let all_reports: BTreeMap<&str, &Report> =
        outcomes.iter().filter_map(|o| o.report.as_ref().map(|r| (o.case.name.as_str(), r))).collect();
    let _ = std::fs::write(
        Path::new(env!("CARGO_TARGET_TMPDIR")).join("escape-reports.json"),
        serde_json::to_string_pretty(&all_reports).unwrap_or_default(),
    );
    let legend: String = CATEGORIES
        .iter()
        .map(|(c, what)| format!("- category {c}: {what}\n"))
        .chain(LAYERS.iter().map(|(l, what)| format!("- stopped by {l}: {what}\n")))
        .collect();
    let mut text = format!("{table}\n{legend}\n{timing}");
    for o in outcomes.iter().filter(|o| o.case.known_hole.is_some()) {
        text.push_str(&format!("\nKNOWN HOLE {}: {}\n", o.case.name, o.case.known_hole.as_deref().unwrap_or("")));
    }
    if !holes.is_empty() {
        text.push_str(&format!(
            "\nexpectations the known holes fail (JAILD_ESCAPE_STRICT=1 makes them fatal):\n{}\n",
            holes.join("\n")
        ));
    }
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("escape-report.md");
    let _ = std::fs::write(&out, format!("{text}\n{}\n", failed_reports.join("\n")));
    eprintln!("{text}(written to {})", out.display());
    assert!(
        failures.is_empty(),
        "{} failure(s):\n{}\n\nreports of the failed cases in {}",
        failures.len(),
        failures.join("\n"),
        out.display()
    );
}

// ------------------------------------------------------------------------------------------
// without jails

#[test]
fn every_case_declares_its_expectation_and_every_category_has_both_languages() {
    let cases = match load_cases() {
        Ok(c) => c,
        Err(errors) => panic!("malformed cases:\n{}", errors.join("\n")),
    };
    assert!(cases.len() >= 50, "the suite has {} cases, the issue asks for at least 50", cases.len());
    for (category, _) in CATEGORIES {
        for language in ["python", "javascript"] {
            assert!(
                cases.iter().any(|c| c.category == category && c.language == language),
                "no {language} case in {category}"
            );
        }
    }
    // A kernel-only case says why; the shipped profile is the default.
    for c in &cases {
        if let Some(reason) = &c.kernel_only {
            assert!(reason.len() > 10, "{}: kernel_only needs a reason", c.name);
        }
    }
}

#[test]
fn header_checks_parse_as_documented() {
    assert_eq!(parse_check("status=security_violation").unwrap(), Check::Status(Status::SecurityViolation));
    assert_eq!(
        parse_check("violation=ioctl(0x5412 TIOCSTI)").unwrap(),
        Check::Violation { detail: "ioctl(0x5412 TIOCSTI)".into(), level: DenialLevel::Violation }
    );
    assert_eq!(
        parse_check("reported_violation=memfd_create").unwrap(),
        Check::Violation { detail: "memfd_create".into(), level: DenialLevel::Report }
    );
    assert_eq!(
        parse_check("result.a.0=EROFS").unwrap(),
        Check::Result { path: vec!["a".into(), "0".into()], value: json!("EROFS") }
    );
    assert_eq!(parse_check("result=[1, 2]").unwrap(), Check::Result { path: vec![], value: json!([1, 2]) });
    assert_eq!(parse_check("signal=SIGSYS").unwrap(), Check::Signal(Some(31)));
    assert_eq!(parse_check("wall_ms<3000").unwrap(), Check::WallBelow(3000));
    assert_eq!(parse_check(r#"stdout~"a\nb""#).unwrap(), Check::Contains { stream: "stdout", text: "a\nb".into() });
    assert!(parse_check("status=escaped").is_err());
    assert!(parse_check("sttus=ok").is_err());
    assert!(evidence_fits("landlock", &parse_check("result.x=EACCES").unwrap()).is_ok());
    assert!(evidence_fits("landlock", &parse_check("result.x=EROFS").unwrap()).is_err());
    assert!(
        evidence_fits("seccomp", &parse_check("result.x=EPERM").unwrap()).is_err(),
        "seccomp evidence is the report's violation"
    );
    assert!(evidence_fits("cgroup-memory", &parse_check("status=timeout").unwrap()).is_err());
    assert_eq!(
        parse_limits("wall_time_ms=1000, memory=64MiB, pids=8").unwrap(),
        LimitOverrides {
            wall_time_ms: Some(1000),
            memory: Some(ByteSize(64 << 20)),
            pids: Some(8),
            ..Default::default()
        }
    );
}

/// i386 (`int 0x80`) and x32 syscalls go to the supervisor before any allowlist decision: the
/// first instructions of every compiled shipped policy check the architecture and the x32 bit
/// and return SECCOMP_RET_USER_NOTIF, never ALLOW, whatever the number (an i386 number is not an
/// x86_64 one). The supervisor names such a call by its ABI and stops the run
/// (jaild::seccomp::foreign_abi, run.rs). The suite also exercises `int 0x80` for real from
/// Python (syscalls/i386_int80.py, i386_int80_child.py); JavaScript cannot run machine code.
#[test]
fn other_architectures_go_to_the_supervisor_in_every_shipped_filter() {
    const AUDIT_ARCH_I386: u32 = 0x4000_0003;
    const AUDIT_ARCH_AARCH64: u32 = 0xc000_00b7;
    let dir = repo().join("profiles").join("seccomp");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).unwrap().flatten() {
        let path = entry.path();
        if path.extension().and_then(|e| e.to_str()) != Some("toml") {
            continue;
        }
        let policy = jaild::seccomp::load_policy(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let p = &policy.program;
        let getpid = syscalls::Sysno::getpid.id() as u32;
        assert_eq!(jaild::bpf::run(p, jaild::bpf::AUDIT_ARCH_X86_64, getpid, [0; 6]).unwrap(), jaild::bpf::RET_ALLOW);
        for nr in 0..512u32 {
            for arch in [AUDIT_ARCH_I386, AUDIT_ARCH_AARCH64] {
                assert_eq!(
                    jaild::bpf::run(p, arch, nr, [0; 6]).unwrap(),
                    jaild::bpf::RET_USER_NOTIF,
                    "{}: arch {arch:#x} syscall {nr}",
                    path.display()
                );
            }
            assert_eq!(
                jaild::bpf::run(p, jaild::bpf::AUDIT_ARCH_X86_64, jaild::bpf::X32_SYSCALL_BIT | nr, [0; 6]).unwrap(),
                jaild::bpf::RET_USER_NOTIF,
                "{}: x32 syscall {nr}",
                path.display()
            );
        }
        // The supervisor's words for them: ABI and number, never an x86_64 name.
        assert_eq!(jaild::seccomp::foreign_abi(AUDIT_ARCH_I386, 1).as_deref(), Some("i386 syscall 1 (int 0x80)"));
        assert_eq!(
            jaild::seccomp::foreign_abi(jaild::bpf::AUDIT_ARCH_X86_64, i64::from(jaild::bpf::X32_SYSCALL_BIT | 39))
                .as_deref(),
            Some("x32 syscall 39")
        );
        assert_eq!(jaild::seccomp::foreign_abi(jaild::bpf::AUDIT_ARCH_X86_64, 1), None);
        checked += 1;
    }
    assert!(checked >= 2, "the shipped policies were not found in {}", dir.display());
}
