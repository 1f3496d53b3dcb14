//! seccomp policies: the allowlist file format, its validation and its compilation to BPF.
//!
//! Every syscall that is not allowed goes to the supervisor through `SECCOMP_RET_USER_NOTIF`,
//! which answers it with the policy's errno and records it by name: that is how a report can say
//! which syscall a script tried, reliably and without scraping the kernel log (nsjail's unotify
//! mode does the same). Syscalls of a foreign architecture (i386 `int 0x80`, x32) kill the
//! process outright.

use jail_init::plan::SockFilter;
use crate::bpf;
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
    Read { path: PathBuf, #[source] source: std::io::Error },
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
#[serde(rename_all = "lowercase")]
pub enum Action {
    Allow,
    Errno,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SyscallEntry {
    /// The x86_64 syscall name.
    pub name: String,
    pub action: Action,
    /// For `errno`: which errno (default: the policy's default).
    pub errno: Option<String>,
    /// For `errno`: a routine probe, reported but not a security violation.
    #[serde(default)]
    pub quiet: bool,
    /// For `allow`: allowed only when every condition holds. Several entries for one syscall are
    /// alternatives.
    #[serde(default)]
    pub args: Vec<ArgCondition>,
    /// Why the interpreter needs it (for `allow`), or why it is denied.
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

/// How the supervisor answers a denied syscall.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Denial {
    pub errno: i32,
    pub quiet: bool,
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
    /// The answer to a notified (denied) syscall.
    pub fn denial(&self, nr: i64) -> Denial {
        self.denials.get(&nr).copied().unwrap_or(Denial { errno: self.default_errno, quiet: false })
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

pub fn compile_policy(file: PolicyFile, path: &Path, source: &str, sha256: String) -> Result<SeccompPolicy, PolicyError> {
    if file.schema != SCHEMA {
        let line = crate::profile::line_of(source, None, "schema");
        return Err(PolicyError::Parse {
            path: path.to_path_buf(),
            message: format!("line {line}: schema {} is not supported; this jaild reads schema {SCHEMA}", file.schema),
        });
    }
    let default_errno = errno_from_name(&file.default.errno).ok_or_else(|| PolicyError::Parse {
        path: path.to_path_buf(),
        message: format!(
            "line {}: default.errno {:?} is not an errno name such as \"EPERM\"",
            crate::profile::line_of(source, Some("default"), "errno"),
            file.default.errno
        ),
    })?;

    let mut allow: BTreeMap<i64, Vec<Vec<ArgCondition>>> = BTreeMap::new();
    let mut denials = BTreeMap::new();
    for (i, entry) in file.syscall.iter().enumerate() {
        let invalid = |message: String| PolicyError::Invalid {
            path: path.to_path_buf(),
            line: line_of_entry(source, i),
            name: entry.name.clone(),
            message,
        };
        let sysno = Sysno::from_str(&entry.name)
            .map_err(|_| invalid(format!("{:?} is not an x86_64 syscall name", entry.name)))?;
        let nr = i64::from(sysno.id());
        if entry.comment.trim().is_empty() {
            return Err(invalid("every entry needs a comment saying why".into()));
        }
        match entry.action {
            Action::Allow => {
                if entry.errno.is_some() || entry.quiet {
                    return Err(invalid("`errno` and `quiet` belong to action = \"errno\"".into()));
                }
                if denials.contains_key(&nr) {
                    return Err(invalid("the syscall is both allowed and denied".into()));
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
                let unconditional = entry.args.is_empty() || alternatives.iter().any(Vec::is_empty);
                if unconditional && !alternatives.is_empty() {
                    return Err(invalid("an unconditional allow must be the only entry for its syscall".into()));
                }
                alternatives.push(entry.args.clone());
            }
            Action::Errno => {
                if !entry.args.is_empty() {
                    return Err(invalid("argument conditions belong to action = \"allow\"".into()));
                }
                if allow.contains_key(&nr) || denials.contains_key(&nr) {
                    return Err(invalid("the syscall already has an entry".into()));
                }
                let errno = match &entry.errno {
                    Some(name) => errno_from_name(name).ok_or_else(|| invalid(format!("{name:?} is not an errno name")))?,
                    None => default_errno,
                };
                denials.insert(nr, Denial { errno, quiet: entry.quiet });
            }
        }
    }
    let program = compile(&allow).map_err(|message| PolicyError::Compile { path: path.to_path_buf(), message })?;
    Ok(SeccompPolicy { file, path: path.to_path_buf(), sha256, default_errno, denials, program })
}

fn compile(allow: &BTreeMap<i64, Vec<Vec<ArgCondition>>>) -> Result<Vec<SockFilter>, String> {
    let table = allow
        .iter()
        .map(|(nr, alternatives)| {
            let nr = u32::try_from(*nr).map_err(|_| format!("syscall number {nr}"))?;
            let alternatives = alternatives
                .iter()
                .map(|conds| {
                    conds
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
                        .collect()
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
        _ => name.clone(),
    };
    (name, detail)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(toml_src: &str) -> Result<SeccompPolicy, PolicyError> {
        let file: PolicyFile = toml::from_str(toml_src).map_err(|e| PolicyError::Parse { path: "t".into(), message: e.to_string() })?;
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
        assert_eq!(p.denial(clone3), Denial { errno: libc::ENOSYS, quiet: true });
        assert_eq!(p.denial(i64::from(Sysno::ptrace.id())), Denial { errno: libc::EPERM, quiet: false });
    }

    #[test]
    fn unknown_syscall_is_named() {
        let err = policy(&format!("{BASE}[[syscall]]\nname = \"reed\"\naction = \"allow\"\ncomment = \"x\"\n")).unwrap_err();
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

    #[test]
    fn describes_denials() {
        assert_eq!(describe(i64::from(Sysno::ptrace.id()), &[0; 6]), ("ptrace".into(), "ptrace".into()));
        assert_eq!(describe(i64::from(Sysno::socket.id()), &[40, 1, 0, 0, 0, 0]).1, "socket(AF_VSOCK)");
        assert_eq!(describe(i64::from(Sysno::ioctl.id()), &[0, 0x1_0000_5412, 0, 0, 0, 0]).1, "ioctl(0x100005412 TIOCSTI)");
        assert_eq!(describe(i64::from(Sysno::clone.id()), &[0x1000_0000, 0, 0, 0, 0, 0]).1, "clone(CLONE_NEWUSER)");
    }
}
