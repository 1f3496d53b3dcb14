//! seccomp policies: the allowlist file format, its validation and its compilation to BPF.
//!
//! Every syscall that is not allowed goes to the supervisor through `SECCOMP_RET_USER_NOTIF`,
//! which answers it with the policy's errno and records it by name: that is how a report can say
//! which syscall a script tried, reliably and without scraping the kernel log (nsjail's unotify
//! mode does the same). Syscalls of a foreign architecture (i386 `int 0x80`, x32) go to the
//! supervisor too, which names them by their own ABI ([`foreign_abi`]), leaves them unanswered
//! and stops the run.
//!
//! A third action, `no_effect`, makes a call return 0 without running it, decided in the filter
//! itself (`SECCOMP_RET_ERRNO` with errno 0; no supervisor round trip, not a denial). The
//! shipped policies use it for the calls that take or release file locks: a lock on a read-only
//! host file would sit on the host's inode, visible to and in the way of the host and other
//! jails, and seccomp cannot tell that file from a scratch file.

use crate::bpf;
use jail_init::plan::SockFilter;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use syscalls::Sysno;

pub const SCHEMA: u32 = 1;

#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("failed to read seccomp policy {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("{path}:{line}: syscall entry {name:?}: {message}")]
    Invalid { path: PathBuf, line: usize, name: String, message: String },
    #[error("{path}: failed to compile the filter: {message}")]
    Compile { path: PathBuf, message: String },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "jaild seccomp policy")]
pub struct PolicyFile {
    /// Format version of this file; this jaild reads 1.
    pub schema: u32,
    /// The interpreter manifest the allowlist was derived for.
    pub interpreter: String,
    /// What the policy lets a script ask of the kernel, in one sentence.
    pub description: String,
    pub default: DefaultAction,
    #[serde(default)]
    pub syscall: Vec<SyscallEntry>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DefaultAction {
    /// Errno every syscall outside the allowlist gets; each one is reported.
    pub errno: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// The kernel runs the call (under the entry's argument conditions).
    Allow,
    /// The supervisor denies the call with an errno and reports it.
    Errno,
    /// The call returns 0 without being run (under the entry's argument conditions): the
    /// script sees success, nothing happens in the kernel, nothing is reported. For calls whose
    /// effect would reach outside the jail but whose failure would break well-behaved code (file
    /// locks on host files). The comment must say what this means for scripts.
    NoEffect,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SyscallEntry {
    /// The x86_64 syscall name.
    pub name: String,
    pub action: Action,
    /// For `errno`: which errno (default: the policy's default).
    pub errno: Option<String>,
    /// For `errno`: what the denial means for the run (default `violation`); see [`DenialLevel`].
    pub on_denial: Option<DenialLevel>,
    /// For `errno`: the older spelling of `on_denial = "quiet"`.
    #[serde(default)]
    pub quiet: bool,
    /// For `allow` and `no_effect`: the entry applies only when every condition holds. Several
    /// entries for one syscall are alternatives; an `allow` and a `no_effect` entry may not
    /// both match the same arguments.
    #[serde(default)]
    pub args: Vec<ArgCondition>,
    /// Why the interpreter needs it (for `allow`), why it is denied (`errno`), or why it is
    /// answered without effect and what scripts see then (`no_effect`).
    pub comment: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ArgCondition {
    /// Argument 0..=5.
    pub index: u8,
    pub op: Op,
    pub value: u64,
    /// For `masked_eq`: the argument ANDed with `mask` must equal `value`.
    pub mask: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    MaskedEq,
}

/// What a denied syscall means for the run. Every denial is answered with its errno and listed
/// in the report by name whatever its level; the level decides whether it makes the run a
/// security violation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DenialLevel {
    /// A routine probe the interpreter or its libraries make and fall back from (libc's clone3,
    /// libuv's io_uring, the xattr reads of shutil): listed as expected, never the run's status.
    Quiet,
    /// A refusal an ordinary script may meet and handle (a fast path with a fallback, a call
    /// this jail never grants): listed as a denial, but the status is what ended the run, so a
    /// script that catches the error and returns a value ends `ok`.
    Report,
    /// An attempt on the jail (tracing, namespaces, mounts, BPF, keyrings, network sockets,
    /// anything the policy does not name): listed, and a run that ends by itself after it is a
    /// `security_violation` (a limit that ends it still names itself first).
    #[default]
    Violation,
}

impl DenialLevel {
    pub fn name(self) -> &'static str {
        match self {
            DenialLevel::Quiet => "quiet",
            DenialLevel::Report => "report",
            DenialLevel::Violation => "violation",
        }
    }
}

/// How the supervisor answers a denied syscall.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Denial {
    pub errno: i32,
    pub level: DenialLevel,
}

/// A loaded, validated, compiled policy.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SeccompPolicy {
    pub file: PolicyFile,
    pub path: PathBuf,
    pub sha256: String,
    pub default_errno: i32,
    /// Explicit denials by syscall number.
    pub denials: BTreeMap<i64, Denial>,
    pub program: Vec<SockFilter>,
}

impl SeccompPolicy {
    /// Whether the compiled program lets the x86_64 syscall `name` through whatever its
    /// arguments (checked with all-zero and all-ones arguments, which any condition tells apart).
    pub fn allows_unconditionally(&self, name: &str) -> bool {
        let Ok(sysno) = Sysno::from_str(name) else { return false };
        let nr = sysno.id() as u32;
        [[0u64; 6], [u64::MAX; 6]]
            .iter()
            .all(|args| bpf::run(&self.program, bpf::AUDIT_ARCH_X86_64, nr, *args) == Ok(bpf::RET_ALLOW))
    }

    /// The answer to a notified (denied) syscall with these arguments: its entry's, except that
    /// a request for the host's huge page pool (which the memory cgroup does not count) is a
    /// violation whatever level the entry gives the call (memfd_create is `report` for its
    /// ordinary callers; memfd_create(MFD_HUGETLB) is an attack on the memory limit).
    pub fn denial_of(&self, nr: i64, args: &[u64; 6]) -> Denial {
        let denial = self.denial(nr);
        Denial { level: level_of(nr, args, denial.level), ..denial }
    }

    /// The answer to a denied syscall, as its entry (or the default) gives it.
    pub fn denial(&self, nr: i64) -> Denial {
        self.denials.get(&nr).copied().unwrap_or(Denial { errno: self.default_errno, level: DenialLevel::Violation })
    }

    /// The ways into the host's huge page pool the compiled program lets through
    /// ("mmap(MAP_HUGETLB)", ...), checked with the flag alone and with the usual companions.
    pub fn hugetlb_openings(&self) -> Vec<&'static str> {
        let calls: [(&str, Sysno, usize, u64, [u64; 6]); 3] = [
            ("mmap(MAP_HUGETLB)", Sysno::mmap, 3, MAP_HUGETLB, [0, 2 << 20, 3, 0x22, u64::MAX, 0]),
            ("memfd_create(MFD_HUGETLB)", Sysno::memfd_create, 1, MFD_HUGETLB, [0, 1, 0, 0, 0, 0]),
            ("shmget(SHM_HUGETLB)", Sysno::shmget, 2, SHM_HUGETLB, [0, 2 << 20, 0o1000 | 0o600, 0, 0, 0]),
        ];
        calls
            .into_iter()
            .filter(|(_, sysno, index, flag, usual)| {
                let mut alone = [0u64; 6];
                alone[*index] = *flag;
                let mut with_usual = *usual;
                with_usual[*index] |= *flag;
                [alone, with_usual].iter().any(|args| {
                    bpf::run(&self.program, bpf::AUDIT_ARCH_X86_64, sysno.id() as u32, *args) == Ok(bpf::RET_ALLOW)
                })
            })
            .map(|(name, ..)| name)
            .collect()
    }

    /// The compiled program lets no way into the huge page pool through.
    pub fn denies_hugetlb(&self) -> bool {
        self.hugetlb_openings().is_empty()
    }
}

/// Errno by name ("EPERM", "ENOSYS", ...).
pub fn errno_from_name(name: &str) -> Option<i32> {
    (1..4096).find(|n| syscalls::Errno::new(*n).name() == Some(name))
}

/// The JSON Schema of a policy file (profiles/schema/seccomp.schema.json), generated from
/// [`PolicyFile`].
pub fn json_schema() -> serde_json::Value {
    let mut root = schemars::schema_for!(PolicyFile).to_value();
    if let Some(obj) = root.as_object_mut() {
        obj.insert("$id".into(), "https://jaild.invalid/schema/seccomp.schema.json".into());
    }
    root
}

fn line_of_entry(source: &str, index: usize) -> usize {
    source
        .lines()
        .enumerate()
        .filter(|(_, l)| l.split('#').next().unwrap_or("").trim() == "[[syscall]]")
        .nth(index)
        .map(|(i, _)| i + 1)
        .unwrap_or(1)
}

/// [`load_policy`], reusing the compiled policy from `cache_dir` while neither the file nor
/// the supervisor binary changed (parsing and compiling cost about half a millisecond per run).
pub fn load_policy_cached(path: &Path, cache_dir: Option<&Path>) -> Result<SeccompPolicy, PolicyError> {
    if let Some(policy) = crate::cache::load::<SeccompPolicy>(cache_dir, "seccomp", path) {
        if policy.path == path {
            return Ok(policy);
        }
    }
    let policy = load_policy(path)?;
    crate::cache::store(cache_dir, "seccomp", path, &policy);
    Ok(policy)
}

pub fn load_policy(path: &Path) -> Result<SeccompPolicy, PolicyError> {
    let bytes = std::fs::read(path).map_err(|source| PolicyError::Read { path: path.to_path_buf(), source })?;
    let source = String::from_utf8(bytes.clone())
        .map_err(|_| PolicyError::Parse { path: path.to_path_buf(), message: "not UTF-8".into() })?;
    let file: PolicyFile = toml::from_str(&source)
        .map_err(|e| PolicyError::Parse { path: path.to_path_buf(), message: e.to_string().trim_end().to_string() })?;
    let sha256 = hex::encode(Sha256::digest(&bytes));
    compile_policy(file, path, &source, sha256)
}

pub fn compile_policy(
    file: PolicyFile,
    path: &Path,
    source: &str,
    sha256: String,
) -> Result<SeccompPolicy, PolicyError> {
    if file.schema != SCHEMA {
        let line = crate::toml_file::line_of(source, None, "schema");
        return Err(PolicyError::Parse {
            path: path.to_path_buf(),
            message: format!("line {line}: schema {} is not supported; this jaild reads schema {SCHEMA}", file.schema),
        });
    }
    let default_errno = errno_from_name(&file.default.errno).ok_or_else(|| PolicyError::Parse {
        path: path.to_path_buf(),
        message: format!(
            "line {}: default.errno {:?} is not an errno name such as \"EPERM\"",
            crate::toml_file::line_of(source, Some("default"), "errno"),
            file.default.errno
        ),
    })?;

    // Per syscall number: its alternatives in file order, with their outcome and line.
    let mut allow: BTreeMap<i64, Vec<Alternative>> = BTreeMap::new();
    let mut denials = BTreeMap::new();
    for (i, entry) in file.syscall.iter().enumerate() {
        let line = line_of_entry(source, i);
        let invalid = |message: String| PolicyError::Invalid {
            path: path.to_path_buf(),
            line,
            name: entry.name.clone(),
            message,
        };
        let sysno = Sysno::from_str(&entry.name)
            .map_err(|_| invalid(format!("{:?} is not an x86_64 syscall name", entry.name)))?;
        let nr = i64::from(sysno.id());
        if entry.comment.trim().is_empty() {
            return Err(invalid("every entry needs a comment saying why".into()));
        }
        let outcome = match entry.action {
            Action::Allow => bpf::Outcome::Allow,
            Action::NoEffect => bpf::Outcome::NoEffect,
            Action::Errno => {
                if !entry.args.is_empty() {
                    return Err(invalid("argument conditions belong to action = \"allow\" or \"no_effect\"".into()));
                }
                if allow.contains_key(&nr) || denials.contains_key(&nr) {
                    return Err(invalid("the syscall already has an entry".into()));
                }
                let errno = match &entry.errno {
                    Some(name) => {
                        errno_from_name(name).ok_or_else(|| invalid(format!("{name:?} is not an errno name")))?
                    }
                    None => default_errno,
                };
                let level = match (entry.on_denial, entry.quiet) {
                    (Some(_), true) => {
                        return Err(invalid(
                            "`quiet = true` is the older spelling of `on_denial = \"quiet\"`: give one of them".into(),
                        ))
                    }
                    (Some(level), false) => level,
                    (None, true) => DenialLevel::Quiet,
                    (None, false) => DenialLevel::Violation,
                };
                denials.insert(nr, Denial { errno, level });
                continue;
            }
        };
        let action = action_name(entry.action);
        if entry.errno.is_some() || entry.quiet || entry.on_denial.is_some() {
            return Err(invalid("`errno`, `on_denial` and `quiet` belong to action = \"errno\"".into()));
        }
        if denials.contains_key(&nr) {
            return Err(invalid(match outcome {
                bpf::Outcome::Allow => "the syscall is both allowed and denied".into(),
                bpf::Outcome::NoEffect => "the syscall is both denied and answered without effect (no_effect)".into(),
            }));
        }
        for c in &entry.args {
            if c.index > 5 {
                return Err(invalid(format!("argument index {} is out of range (0..=5)", c.index)));
            }
            if (c.op == Op::MaskedEq) != c.mask.is_some() {
                return Err(invalid("`mask` is required with op = \"masked_eq\" and only there".into()));
            }
        }
        let alternatives = allow.entry(nr).or_default();
        let unconditional = entry.args.is_empty() || alternatives.iter().any(|a| a.conditions.is_empty());
        if unconditional && !alternatives.is_empty() {
            return Err(invalid(format!("an unconditional {action} must be the only entry for its syscall")));
        }
        // An allow and a no_effect entry that match the same call would give it two outcomes,
        // and which one it got would depend on the order of the file.
        for other in alternatives.iter().filter(|a| a.outcome != outcome) {
            if let Some(witness) = overlap(&entry.args, &other.conditions) {
                return Err(invalid(format!(
                    "its arguments overlap the {} entry at line {} (both match {}): a call must have one outcome",
                    action_name(match other.outcome {
                        bpf::Outcome::Allow => Action::Allow,
                        bpf::Outcome::NoEffect => Action::NoEffect,
                    }),
                    other.line,
                    witness
                )));
            }
        }
        alternatives.push(Alternative { conditions: entry.args.clone(), outcome, line });
    }
    let program = compile(&allow).map_err(|message| PolicyError::Compile { path: path.to_path_buf(), message })?;
    Ok(SeccompPolicy { file, path: path.to_path_buf(), sha256, default_errno, denials, program })
}

/// One alternative of a syscall's entries, as compiled.
struct Alternative {
    conditions: Vec<ArgCondition>,
    outcome: bpf::Outcome,
    /// The line of its `[[syscall]]` entry.
    line: usize,
}

fn action_name(a: Action) -> &'static str {
    match a {
        Action::Allow => "allow",
        Action::Errno => "errno",
        Action::NoEffect => "no_effect",
    }
}

/// Arguments that satisfy both condition lists, in words ("argument 1 = 0x6"), if there are any.
fn overlap(a: &[ArgCondition], b: &[ArgCondition]) -> Option<String> {
    let mut words = Vec::new();
    for index in 0..6u8 {
        let on: Vec<&ArgCondition> = a.iter().chain(b).filter(|c| c.index == index).collect();
        if on.is_empty() {
            continue;
        }
        let value = satisfying(&on)?;
        words.push(format!("argument {index} = {value:#x}"));
    }
    Some(if words.is_empty() { "every call".into() } else { words.join(", ") })
}

/// The smallest 64-bit value that meets every condition (all on one argument), if one does.
fn satisfying(conds: &[&ArgCondition]) -> Option<u64> {
    let (mut lo, mut hi) = (0u64, u64::MAX);
    let (mut fixed, mut bits) = (0u64, 0u64);
    let mut eq: Option<u64> = None;
    let mut ne = Vec::new();
    for c in conds {
        let v = c.value;
        match c.op {
            Op::Eq if eq.is_some_and(|e| e != v) => return None,
            Op::Eq => eq = Some(v),
            Op::Ne => ne.push(v),
            Op::Lt => hi = hi.min(v.checked_sub(1)?),
            Op::Le => hi = hi.min(v),
            Op::Gt => lo = lo.max(v.checked_add(1)?),
            Op::Ge => lo = lo.max(v),
            Op::MaskedEq => {
                let m = c.mask.unwrap_or(0);
                if v & !m != 0 || (bits ^ v) & fixed & m != 0 {
                    return None;
                }
                fixed |= m;
                bits |= v & m;
            }
        }
    }
    let fits = |x: u64| x >= lo && x <= hi && x & fixed == bits && !ne.contains(&x);
    if let Some(e) = eq {
        return fits(e).then_some(e);
    }
    let mut x = at_least_with_bits(lo, fixed, bits)?;
    // Each value `ne` excludes costs one step.
    loop {
        if x > hi {
            return None;
        }
        if !ne.contains(&x) {
            return Some(x);
        }
        x = at_least_with_bits(x.checked_add(1)?, fixed, bits)?;
    }
}

/// The smallest x >= t whose bits under `fixed` are `bits` (bits ⊆ fixed). Such an x is
/// `bits + y` with y made of free bits only, so y is the smallest set of free bits that is at
/// least d = t - bits. If d has no fixed bit, y = d. Otherwise y must exceed d at a bit above
/// the highest fixed bit of d: the lowest free bit there that d lacks, keeping d's bits above
/// it and clearing those below.
fn at_least_with_bits(t: u64, fixed: u64, bits: u64) -> Option<u64> {
    let free = !fixed;
    let Some(d) = t.checked_sub(bits).filter(|d| *d > 0) else { return Some(bits) };
    let blocked = d & fixed;
    if blocked == 0 {
        return Some(bits | d);
    }
    let above = |i: u32| (!0u64).checked_shl(i + 1).unwrap_or(0);
    let highest = 63 - blocked.leading_zeros();
    let candidates = free & !d & above(highest);
    if candidates == 0 {
        return None;
    }
    let j = candidates.trailing_zeros();
    Some(bits | (d & above(j)) | (1 << j))
}

fn compile(allow: &BTreeMap<i64, Vec<Alternative>>) -> Result<Vec<SockFilter>, String> {
    let table = allow
        .iter()
        .map(|(nr, alternatives)| {
            let nr = u32::try_from(*nr).map_err(|_| format!("syscall number {nr}"))?;
            let alternatives = alternatives
                .iter()
                .map(|alt| {
                    let conds = alt
                        .conditions
                        .iter()
                        .map(|c| bpf::Cond {
                            arg: c.index,
                            value: c.value,
                            cmp: match c.op {
                                Op::Eq => bpf::Cmp::Eq,
                                Op::Ne => bpf::Cmp::Ne,
                                Op::Lt => bpf::Cmp::Lt,
                                Op::Le => bpf::Cmp::Le,
                                Op::Gt => bpf::Cmp::Gt,
                                Op::Ge => bpf::Cmp::Ge,
                                Op::MaskedEq => bpf::Cmp::MaskedEq(c.mask.unwrap_or(0)),
                            },
                        })
                        .collect();
                    (conds, alt.outcome)
                })
                .collect();
            Ok((nr, alternatives))
        })
        .collect::<Result<Vec<_>, String>>()?;
    bpf::compile(&table)
}

/// Name of a syscall number on x86_64.
pub fn syscall_name(nr: i64) -> String {
    usize::try_from(nr)
        .ok()
        .and_then(Sysno::new)
        .map(|s| s.name().to_string())
        .unwrap_or_else(|| format!("syscall_{nr}"))
}

fn socket_family(n: u64) -> String {
    let name = match n {
        1 => "AF_UNIX",
        2 => "AF_INET",
        10 => "AF_INET6",
        16 => "AF_NETLINK",
        17 => "AF_PACKET",
        40 => "AF_VSOCK",
        38 => "AF_ALG",
        29 => "AF_CAN",
        31 => "AF_BLUETOOTH",
        44 => "AF_XDP",
        _ => return format!("family {n}"),
    };
    name.to_string()
}

fn clone_flags(flags: u64) -> String {
    const NAMES: [(u64, &str); 8] = [
        (0x0002_0000, "CLONE_NEWNS"),
        (0x0200_0000, "CLONE_NEWCGROUP"),
        (0x0400_0000, "CLONE_NEWUTS"),
        (0x0800_0000, "CLONE_NEWIPC"),
        (0x1000_0000, "CLONE_NEWUSER"),
        (0x2000_0000, "CLONE_NEWPID"),
        (0x4000_0000, "CLONE_NEWNET"),
        (0x0000_0080, "CLONE_NEWTIME"),
    ];
    let set: Vec<&str> = NAMES.iter().filter(|(bit, _)| flags & bit != 0).map(|(_, n)| *n).collect();
    if set.is_empty() {
        format!("{flags:#x}")
    } else {
        set.join("|")
    }
}

/// The report's words for a denied call: the syscall's name, plus the argument that decided
/// it for the syscalls that are allowed only with some arguments.
pub fn describe(nr: i64, args: &[u64; 6]) -> (String, String) {
    let name = syscall_name(nr);
    let detail = match name.as_str() {
        "socket" | "socketpair" => format!("{name}({})", socket_family(args[0])),
        "clone" | "unshare" => format!("{name}({})", clone_flags(args[0])),
        "ioctl" => {
            let cmd = args[1];
            let known = match cmd & 0xffff_ffff {
                0x5412 => " TIOCSTI",
                0x541c => " TIOCLINUX",
                _ => "",
            };
            format!("ioctl({cmd:#x}{known})")
        }
        "prctl" => format!("prctl({})", args[0]),
        "mmap" if hugetlb_request(&name, args) => "mmap(MAP_HUGETLB)".into(),
        "memfd_create" if hugetlb_request(&name, args) => "memfd_create(MFD_HUGETLB)".into(),
        "shmget" if hugetlb_request(&name, args) => "shmget(SHM_HUGETLB)".into(),
        _ => name.clone(),
    };
    (name, detail)
}

/// The level a denied call gets: its entry's `level`, raised to a violation for a huge page
/// request (jaild's rule over every policy; the supervisor answers with it, and the audit
/// declares it).
pub fn level_of(nr: i64, args: &[u64; 6], level: DenialLevel) -> DenialLevel {
    if hugetlb_request(&syscall_name(nr), args) {
        DenialLevel::Violation
    } else {
        level
    }
}

/// Whether the call asks for the host's huge page pool, which the memory cgroup does not count:
/// the flag that makes each of these calls one.
pub fn hugetlb_request(name: &str, args: &[u64; 6]) -> bool {
    match name {
        "mmap" => args[3] & MAP_HUGETLB != 0,
        "memfd_create" => args[1] & MFD_HUGETLB != 0,
        "shmget" => args[2] & SHM_HUGETLB != 0,
        _ => false,
    }
}

pub const MAP_HUGETLB: u64 = 0x4_0000;
pub const MFD_HUGETLB: u64 = 0x4;
pub const SHM_HUGETLB: u64 = 0o4000;
pub const AUDIT_ARCH_I386: u32 = 0x4000_0003;

/// The report's words for a syscall of another ABI than x86_64, `None` for an x86_64 one. Its
/// number belongs to that ABI's table and is never looked up in the x86_64 one (i386 1 is exit,
/// x86_64 1 is write): "i386 syscall 20 (int 0x80)", "x32 syscall 39".
pub fn foreign_abi(arch: u32, nr: i64) -> Option<String> {
    // seccomp_data.nr is an int: the x32 bit is bit 30 of its 32 bits.
    let bits = nr as i32 as u32;
    let x32 = bpf::X32_SYSCALL_BIT;
    match arch {
        bpf::AUDIT_ARCH_X86_64 if bits & x32 == 0 => None,
        bpf::AUDIT_ARCH_X86_64 if bits & 0x8000_0000 == 0 => Some(format!("x32 syscall {}", bits & !x32)),
        // A negative number has the x32 bit set too; it is no syscall of any table.
        bpf::AUDIT_ARCH_X86_64 => Some(format!("syscall number {} (x32 bit set)", bits as i32)),
        AUDIT_ARCH_I386 => Some(format!("i386 syscall {nr} (int 0x80)")),
        other => Some(format!("syscall {nr} of architecture {other:#x}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(toml_src: &str) -> Result<SeccompPolicy, PolicyError> {
        let file: PolicyFile =
            toml::from_str(toml_src).map_err(|e| PolicyError::Parse { path: "t".into(), message: e.to_string() })?;
        compile_policy(file, Path::new("t.toml"), toml_src, String::new())
    }

    const BASE: &str = "schema = 1\ninterpreter = \"t\"\ndescription = \"t\"\n[default]\nerrno = \"EPERM\"\n";

    #[test]
    fn compiles_and_marks_notify() {
        let p = policy(&format!("{BASE}[[syscall]]\nname = \"read\"\naction = \"allow\"\ncomment = \"x\"\n[[syscall]]\nname = \"clone3\"\naction = \"errno\"\nerrno = \"ENOSYS\"\nquiet = true\ncomment = \"probe\"\n")).unwrap();
        let x86 = bpf::AUDIT_ARCH_X86_64;
        let read = Sysno::read.id() as u32;
        assert_eq!(bpf::run(&p.program, x86, read, [0; 6]).unwrap(), bpf::RET_ALLOW);
        assert_eq!(bpf::run(&p.program, x86, Sysno::clone3.id() as u32, [0; 6]).unwrap(), bpf::RET_USER_NOTIF);
        let clone3 = i64::from(Sysno::clone3.id());
        assert_eq!(p.denial(clone3), Denial { errno: libc::ENOSYS, level: DenialLevel::Quiet });
        assert_eq!(
            p.denial(i64::from(Sysno::ptrace.id())),
            Denial { errno: libc::EPERM, level: DenialLevel::Violation }
        );
    }

    #[test]
    fn each_denial_has_a_level_and_quiet_is_the_older_spelling_of_one() {
        let deny = |extra: &str| {
            policy(&format!("{BASE}[[syscall]]\nname = \"splice\"\naction = \"errno\"\nerrno = \"ENOSYS\"\n{extra}comment = \"c\"\n"))
        };
        let splice = i64::from(Sysno::splice.id());
        for (extra, level) in [
            ("", DenialLevel::Violation),
            ("on_denial = \"violation\"\n", DenialLevel::Violation),
            ("on_denial = \"report\"\n", DenialLevel::Report),
            ("on_denial = \"quiet\"\n", DenialLevel::Quiet),
            ("quiet = true\n", DenialLevel::Quiet),
        ] {
            assert_eq!(deny(extra).unwrap().denial(splice), Denial { errno: libc::ENOSYS, level }, "{extra:?}");
        }
        let both = deny("on_denial = \"report\"\nquiet = true\n").unwrap_err().to_string();
        assert!(both.contains("t.toml:6:") && both.contains("older spelling"), "{both}");
        let unknown = deny("on_denial = \"fatal\"\n").unwrap_err().to_string();
        assert!(unknown.contains("on_denial") || unknown.contains("fatal"), "{unknown}");
        let on_allow = policy(&format!(
            "{BASE}[[syscall]]\nname = \"read\"\naction = \"allow\"\non_denial = \"report\"\ncomment = \"c\"\n"
        ))
        .unwrap_err()
        .to_string();
        assert!(on_allow.contains("belong to action = \"errno\""), "{on_allow}");
    }

    #[test]
    fn a_huge_page_request_is_a_violation_whatever_its_entry_says() {
        let p = policy(&format!("{BASE}[[syscall]]\nname = \"memfd_create\"\naction = \"errno\"\nerrno = \"ENOSYS\"\non_denial = \"report\"\ncomment = \"c\"\n")).unwrap();
        let memfd = i64::from(Sysno::memfd_create.id());
        assert_eq!(p.denial_of(memfd, &[0, 1, 0, 0, 0, 0]), Denial { errno: libc::ENOSYS, level: DenialLevel::Report });
        assert_eq!(
            p.denial_of(memfd, &[0, 1 | MFD_HUGETLB, 0, 0, 0, 0]),
            Denial { errno: libc::ENOSYS, level: DenialLevel::Violation }
        );
        assert_eq!(describe(memfd, &[0, MFD_HUGETLB, 0, 0, 0, 0]).1, "memfd_create(MFD_HUGETLB)");
    }

    #[test]
    fn unknown_syscall_is_named() {
        let err =
            policy(&format!("{BASE}[[syscall]]\nname = \"reed\"\naction = \"allow\"\ncomment = \"x\"\n")).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("reed") && msg.contains(":6:"), "{msg}");
    }

    #[test]
    fn contradictions_are_refused() {
        let both = format!("{BASE}[[syscall]]\nname = \"read\"\naction = \"allow\"\ncomment = \"x\"\n[[syscall]]\nname = \"read\"\naction = \"errno\"\ncomment = \"y\"\n");
        assert!(policy(&both).unwrap_err().to_string().contains("already has an entry"));
        let twice = format!("{BASE}[[syscall]]\nname = \"read\"\naction = \"allow\"\ncomment = \"x\"\n[[syscall]]\nname = \"read\"\naction = \"allow\"\ncomment = \"y\"\n");
        assert!(policy(&twice).unwrap_err().to_string().contains("unconditional"));
        let no_comment = format!("{BASE}[[syscall]]\nname = \"read\"\naction = \"allow\"\ncomment = \" \"\n");
        assert!(policy(&no_comment).unwrap_err().to_string().contains("comment"));
    }

    fn entry(name: &str, action: &str, args: &str) -> String {
        let args = if args.is_empty() { String::new() } else { format!("args = [{args}]\n") };
        format!("[[syscall]]\nname = \"{name}\"\naction = \"{action}\"\n{args}comment = \"c\"\n")
    }

    #[test]
    fn no_effect_compiles_to_errno_zero_beside_allow() {
        let src = format!(
            "{BASE}{}{}{}",
            entry("flock", "no_effect", ""),
            entry("fcntl", "allow", "{ index = 1, op = \"eq\", value = 5 }"),
            entry("fcntl", "no_effect", "{ index = 1, op = \"eq\", value = 6 }")
        );
        let p = policy(&src).unwrap();
        let run =
            |nr: Sysno, args: [u64; 6]| bpf::run(&p.program, bpf::AUDIT_ARCH_X86_64, nr.id() as u32, args).unwrap();
        assert_eq!(run(Sysno::flock, [3, 2, 0, 0, 0, 0]), bpf::RET_NO_EFFECT);
        assert_eq!(run(Sysno::fcntl, [3, 5, 0, 0, 0, 0]), bpf::RET_ALLOW);
        assert_eq!(run(Sysno::fcntl, [3, 6, 0, 0, 0, 0]), bpf::RET_NO_EFFECT);
        assert_eq!(run(Sysno::fcntl, [3, 8, 0, 0, 0, 0]), bpf::RET_USER_NOTIF);
    }

    #[test]
    fn malformed_no_effect_entries_are_refused_with_their_line() {
        let err = |body: String| policy(&format!("{BASE}{body}")).unwrap_err().to_string();
        // errno and quiet belong to denials.
        let e =
            err("[[syscall]]\nname = \"flock\"\naction = \"no_effect\"\nerrno = \"EPERM\"\ncomment = \"c\"\n".into());
        assert!(
            e.contains("t.toml:6:") && e.contains("\"flock\"") && e.contains("belong to action = \"errno\""),
            "{e}"
        );
        // Denied and answered without effect.
        let e = err(format!("{}{}", entry("flock", "errno", ""), entry("flock", "no_effect", "")));
        assert!(e.contains("t.toml:10:") && e.contains("both denied and answered without effect"), "{e}");
        let e = err(format!("{}{}", entry("flock", "no_effect", ""), entry("flock", "errno", "")));
        assert!(e.contains("t.toml:10:") && e.contains("already has an entry"), "{e}");
        // An unconditional no_effect is the syscall's only entry.
        let e = err(format!(
            "{}{}",
            entry("flock", "no_effect", ""),
            entry("flock", "allow", "{ index = 1, op = \"eq\", value = 1 }")
        ));
        assert!(e.contains("t.toml:10:") && e.contains("unconditional"), "{e}");
        let e = err(format!("{}{}", entry("flock", "allow", ""), entry("flock", "no_effect", "")));
        assert!(e.contains("an unconditional no_effect must be the only entry"), "{e}");
        // The same arguments both allowed and without effect, exactly or by overlapping ranges.
        let e = err(format!(
            "{}{}",
            entry("fcntl", "allow", "{ index = 1, op = \"eq\", value = 6 }"),
            entry("fcntl", "no_effect", "{ index = 1, op = \"eq\", value = 6 }")
        ));
        assert!(
            e.contains("t.toml:11:")
                && e.contains("overlap the allow entry at line 6")
                && e.contains("argument 1 = 0x6"),
            "{e}"
        );
        let e = err(format!(
            "{}{}",
            entry("fcntl", "no_effect", "{ index = 1, op = \"ge\", value = 5 }, { index = 1, op = \"lt\", value = 8 }"),
            entry("fcntl", "allow", "{ index = 1, op = \"masked_eq\", mask = 0xfe, value = 6 }")
        ));
        assert!(e.contains("overlap the no_effect entry at line 6") && e.contains("argument 1 = 0x6"), "{e}");
        // Disjoint alternatives are fine, and conditions on different arguments do overlap.
        policy(&format!(
            "{BASE}{}{}",
            entry("fcntl", "allow", "{ index = 1, op = \"lt\", value = 6 }"),
            entry("fcntl", "no_effect", "{ index = 1, op = \"ge\", value = 6 }, { index = 1, op = \"le\", value = 7 }")
        ))
        .unwrap();
        let e = err(format!(
            "{}{}",
            entry("fcntl", "allow", "{ index = 0, op = \"eq\", value = 3 }"),
            entry("fcntl", "no_effect", "{ index = 1, op = \"eq\", value = 6 }")
        ));
        assert!(e.contains("argument 0 = 0x3, argument 1 = 0x6"), "{e}");
        // Argument checks as for allow.
        let e = err(entry("flock", "no_effect", "{ index = 7, op = \"eq\", value = 1 }"));
        assert!(e.contains("argument index 7 is out of range"), "{e}");
    }

    #[test]
    fn the_overlap_solver_agrees_with_brute_force() {
        // Conditions whose constants keep every solution below 256, checked against a scan of
        // every value of the 8 low bits (the high bits are pinned to 0 by a mask).
        let high = ArgCondition { index: 0, op: Op::MaskedEq, value: 0, mask: Some(!0xff) };
        let ops = [Op::Eq, Op::Ne, Op::Lt, Op::Le, Op::Gt, Op::Ge];
        let mut conds: Vec<ArgCondition> = Vec::new();
        for v in [0u64, 1, 5, 6, 7, 0x80, 0xfe, 0xff] {
            for op in ops {
                conds.push(ArgCondition { index: 0, op, value: v, mask: None });
            }
        }
        for (m, v) in [(0x0f, 0x06), (0xf0, 0x00), (0x81, 0x81), (0x06, 0x02), (0x01, 0x00)] {
            conds.push(ArgCondition { index: 0, op: Op::MaskedEq, value: v, mask: Some(m) });
        }
        let holds = |c: &ArgCondition, x: u64| match c.op {
            Op::Eq => x == c.value,
            Op::Ne => x != c.value,
            Op::Lt => x < c.value,
            Op::Le => x <= c.value,
            Op::Gt => x > c.value,
            Op::Ge => x >= c.value,
            Op::MaskedEq => x & c.mask.unwrap_or(0) == c.value,
        };
        let mut checked = 0;
        for a in &conds {
            for b in &conds {
                for c in [&conds[3], &conds[conds.len() - 2], b] {
                    let set = [&high, a, b, c];
                    let expect = (0..=0xffu64).find(|x| set.iter().all(|k| holds(k, *x)));
                    assert_eq!(satisfying(&set), expect, "{set:?}");
                    checked += 1;
                }
            }
        }
        assert!(checked > 5000);
        // Full 64-bit edges.
        let c = |op, value| ArgCondition { index: 0, op, value, mask: None };
        assert_eq!(satisfying(&[&c(Op::Gt, u64::MAX)]), None);
        assert_eq!(satisfying(&[&c(Op::Lt, 0)]), None);
        assert_eq!(satisfying(&[&c(Op::Ge, u64::MAX), &c(Op::Ne, u64::MAX)]), None);
        let top = ArgCondition { index: 0, op: Op::MaskedEq, value: 1 << 63, mask: Some(1 << 63) };
        assert_eq!(satisfying(&[&top, &c(Op::Gt, 5)]), Some(1 << 63));
    }

    #[test]
    fn describes_denials() {
        assert_eq!(describe(i64::from(Sysno::ptrace.id()), &[0; 6]), ("ptrace".into(), "ptrace".into()));
        assert_eq!(describe(i64::from(Sysno::socket.id()), &[40, 1, 0, 0, 0, 0]).1, "socket(AF_VSOCK)");
        assert_eq!(
            describe(i64::from(Sysno::ioctl.id()), &[0, 0x1_0000_5412, 0, 0, 0, 0]).1,
            "ioctl(0x100005412 TIOCSTI)"
        );
        assert_eq!(describe(i64::from(Sysno::clone.id()), &[0x1000_0000, 0, 0, 0, 0, 0]).1, "clone(CLONE_NEWUSER)");
        // The ways into the huge page pool name their flag.
        assert_eq!(
            describe(i64::from(Sysno::mmap.id()), &[0, 2 << 20, 3, 0x4_0022, u64::MAX, 0]).1,
            "mmap(MAP_HUGETLB)"
        );
        assert_eq!(describe(i64::from(Sysno::mmap.id()), &[0, 4096, 7, 0x22, u64::MAX, 0]).1, "mmap");
        assert_eq!(
            describe(i64::from(Sysno::memfd_create.id()), &[0, 4 | 1, 0, 0, 0, 0]).1,
            "memfd_create(MFD_HUGETLB)"
        );
        assert_eq!(describe(i64::from(Sysno::memfd_create.id()), &[0, 1, 0, 0, 0, 0]).1, "memfd_create");
        assert_eq!(
            describe(i64::from(Sysno::shmget.id()), &[0, 2 << 20, 0o4000 | 0o1000, 0, 0, 0]).1,
            "shmget(SHM_HUGETLB)"
        );
    }

    #[test]
    fn hugetlb_openings_are_found_on_the_compiled_program() {
        let open = policy(&format!("{BASE}{}", entry("mmap", "allow", ""))).unwrap();
        assert_eq!(open.hugetlb_openings(), vec!["mmap(MAP_HUGETLB)"]);
        assert!(!open.denies_hugetlb());
        let closed = policy(&format!(
            "{BASE}{}",
            entry("mmap", "allow", "{ index = 3, op = \"masked_eq\", mask = 0x40000, value = 0 }")
        ))
        .unwrap();
        assert!(closed.denies_hugetlb(), "{:?}", closed.hugetlb_openings());
        let memfd =
            policy(&format!("{BASE}{}{}", entry("memfd_create", "allow", ""), entry("shmget", "allow", ""))).unwrap();
        assert_eq!(memfd.hugetlb_openings(), vec!["memfd_create(MFD_HUGETLB)", "shmget(SHM_HUGETLB)"]);
        // The shipped policies open none.
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../profiles/seccomp");
        for name in ["python", "node"] {
            let p = load_policy(&root.join(format!("{name}.toml"))).unwrap();
            assert!(p.denies_hugetlb(), "{name}: {:?}", p.hugetlb_openings());
        }
    }

    #[test]
    fn foreign_abis_are_named_by_their_own_table() {
        // i386 1 is exit; the x86_64 table would call it write.
        assert_eq!(foreign_abi(AUDIT_ARCH_I386, 1).as_deref(), Some("i386 syscall 1 (int 0x80)"));
        assert_eq!(foreign_abi(AUDIT_ARCH_I386, 20).as_deref(), Some("i386 syscall 20 (int 0x80)"));
        assert_eq!(foreign_abi(bpf::AUDIT_ARCH_X86_64, 0x4000_0000 | 39).as_deref(), Some("x32 syscall 39"));
        assert_eq!(foreign_abi(bpf::AUDIT_ARCH_X86_64, -1).as_deref(), Some("syscall number -1 (x32 bit set)"));
        assert_eq!(foreign_abi(0xc000_00b7, 64).as_deref(), Some("syscall 64 of architecture 0xc00000b7"));
        assert_eq!(foreign_abi(bpf::AUDIT_ARCH_X86_64, 1), None);
        assert_eq!(foreign_abi(bpf::AUDIT_ARCH_X86_64, 1000), None);
    }
}
