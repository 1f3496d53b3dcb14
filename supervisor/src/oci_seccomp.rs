//! Import of seccomp profiles in the OCI runtime-spec / Docker (moby) JSON format, the one
//! security teams already review (`jailctl profile import-seccomp docker-default.json`), into
//! this project's policy format (profiles/seccomp/*.toml).
//!
//! The conversion is for an x86_64 jail with no capabilities, and errs on the side of allowing
//! less:
//!
//! - `SCMP_ACT_ALLOW` (and `SCMP_ACT_LOG`, which allows and logs) become `allow` entries, with
//!   the argument conditions converted (`SCMP_CMP_MASKED_EQ`: `value` is the mask and `valueTwo`
//!   the value). Conditions of one rule must all hold; as in runc, when a rule has two
//!   conditions on the same argument each condition becomes an alternative of its own.
//! - `SCMP_ACT_ERRNO` becomes an `errno` entry with `errnoRet` (or the default errno).
//! - `SCMP_ACT_KILL*` and `SCMP_ACT_TRAP` become `errno` entries: jaild never kills a script on
//!   a denied call, it answers with an errno and the report names the call. The same holds for
//!   such a default action, which becomes EPERM, with a warning in the output. A default that
//!   allows (`SCMP_ACT_ALLOW`, `SCMP_ACT_LOG`) is refused: jaild policies are allowlists.
//! - Not imported, each with a note at the top of the output: rules that apply only with a
//!   capability (`includes.caps`; a jail has none), rules for other architectures only
//!   (`includes.arches` / `excludes.arches`), names that are not x86_64 syscalls (Docker's list
//!   covers every architecture), `SCMP_ACT_TRACE` / `SCMP_ACT_NOTIFY` rules, errno rules with
//!   argument conditions (jaild's errno entries have none; those calls get the default errno),
//!   and conditional allows made redundant by an unconditional allow of the same syscall.
//!   `includes.minKernel` rules are imported, with the condition in their comment: jaild's own
//!   kernel minimum (Landlock ABI 6) is above every minKernel in Docker's profile.
//! - Each rule's `comment` is kept; where there is none, the entry says it was imported and
//!   what it does.
//!
//! The output is checked by this project's own loader before it is returned.

use crate::seccomp::{self, ArgCondition, Op, PolicyError};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use syscalls::Sysno;

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("failed to read {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: not an OCI/Docker seccomp profile")]
    Json {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("{path}: defaultAction {action} allows every syscall that is not listed; jaild policies are allowlists, so only a default that denies (SCMP_ACT_ERRNO, SCMP_ACT_KILL*, SCMP_ACT_TRAP) can be imported")]
    DefaultAllows { path: PathBuf, action: String },
    #[error("{path}: defaultAction {action:?} cannot be imported (use SCMP_ACT_ERRNO, SCMP_ACT_KILL, SCMP_ACT_KILL_PROCESS, SCMP_ACT_KILL_THREAD or SCMP_ACT_TRAP)")]
    UnsupportedDefault { path: PathBuf, action: String },
    #[error("{path}: {field} errno {errno} is not an errno number this jaild knows")]
    UnknownErrno { path: PathBuf, field: String, errno: u32 },
    #[error("{path}: the converted policy does not load (a bug in the importer)")]
    Invalid {
        path: PathBuf,
        #[source]
        source: PolicyError,
    },
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct OciProfile {
    default_action: String,
    #[serde(default)]
    default_errno_ret: Option<u32>,
    #[serde(default)]
    architectures: Option<Vec<String>>,
    #[serde(default)]
    arch_map: Option<Vec<ArchMap>>,
    #[serde(default)]
    syscalls: Option<Vec<OciSyscall>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ArchMap {
    architecture: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct OciSyscall {
    #[serde(default)]
    names: Option<Vec<String>>,
    /// The pre-2016 Docker format: one name per rule.
    #[serde(default)]
    name: Option<String>,
    action: String,
    #[serde(default)]
    args: Option<Vec<OciArg>>,
    #[serde(default)]
    comment: Option<String>,
    #[serde(default)]
    includes: Option<Filter>,
    #[serde(default)]
    excludes: Option<Filter>,
    #[serde(default)]
    errno_ret: Option<u32>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Filter {
    #[serde(default)]
    caps: Option<Vec<String>>,
    #[serde(default)]
    arches: Option<Vec<String>>,
    #[serde(default)]
    min_kernel: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct OciArg {
    index: u32,
    value: u64,
    #[serde(default)]
    value_two: u64,
    op: String,
}

/// A converted policy: its TOML text (notes at the top) and what was left out.
#[derive(Debug, Clone)]
pub struct Import {
    pub toml: String,
    pub policy: seccomp::PolicyFile,
    /// Why each left-out rule or name was left out, in source order.
    pub notes: Vec<String>,
    /// Warnings about what changed meaning (a kill default became an errno).
    pub warnings: Vec<String>,
}

/// Reads and converts the OCI/Docker profile at `path` for `interpreter`.
pub fn import_file(path: &Path, interpreter: &str) -> Result<Import, ImportError> {
    let text =
        std::fs::read_to_string(path).map_err(|source| ImportError::Read { path: path.to_path_buf(), source })?;
    convert(path, &text, interpreter)
}

fn is_x86_64(arch: &str) -> bool {
    matches!(arch, "SCMP_ARCH_X86_64" | "amd64" | "x86_64")
}

fn errno_name(n: u32) -> Option<String> {
    let n = i32::try_from(n).ok()?;
    syscalls::Errno::new(n).name().map(str::to_string)
}

/// One candidate entry, before conflicts between rules are resolved.
struct Candidate {
    name: String,
    kind: Kind,
    comment: String,
    rule: usize,
}

#[derive(Clone, PartialEq)]
enum Kind {
    Allow(Vec<ArgCondition>),
    Errno(String),
}

fn describe_cond(c: &ArgCondition) -> String {
    let op = match c.op {
        Op::Eq => "==",
        Op::Ne => "!=",
        Op::Lt => "<",
        Op::Le => "<=",
        Op::Gt => ">",
        Op::Ge => ">=",
        Op::MaskedEq => return format!("arg{} & {:#x} == {:#x}", c.index, c.mask.unwrap_or(0), c.value),
    };
    format!("arg{} {op} {:#x}", c.index, c.value)
}

fn names_list(names: &[String]) -> String {
    names.join(", ")
}

/// Converts the text of an OCI/Docker profile (read from `path`, named in messages and
/// comments) into a jaild policy for `interpreter`.
pub fn convert(path: &Path, json: &str, interpreter: &str) -> Result<Import, ImportError> {
    let source: OciProfile =
        serde_json::from_str(json).map_err(|source| ImportError::Json { path: path.to_path_buf(), source })?;
    let file_name =
        path.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_else(|| path.display().to_string());
    let mut notes = Vec::new();
    let mut warnings = Vec::new();

    let default_errno = match source.default_action.as_str() {
        "SCMP_ACT_ERRNO" => {
            let n = source.default_errno_ret.unwrap_or(libc::EPERM as u32);
            errno_name(n).ok_or_else(|| ImportError::UnknownErrno {
                path: path.to_path_buf(),
                field: "defaultErrnoRet".into(),
                errno: n,
            })?
        }
        action @ ("SCMP_ACT_KILL" | "SCMP_ACT_KILL_PROCESS" | "SCMP_ACT_KILL_THREAD" | "SCMP_ACT_TRAP") => {
            warnings.push(format!(
                "defaultAction {action} became errno EPERM: jaild does not kill a script on a denied syscall, it answers with an errno and reports the call (status security_violation)"
            ));
            "EPERM".to_string()
        }
        action @ ("SCMP_ACT_ALLOW" | "SCMP_ACT_LOG") => {
            return Err(ImportError::DefaultAllows { path: path.to_path_buf(), action: action.to_string() })
        }
        other => return Err(ImportError::UnsupportedDefault { path: path.to_path_buf(), action: other.to_string() }),
    };

    let arches: Vec<&str> = source
        .architectures
        .iter()
        .flatten()
        .map(String::as_str)
        .chain(source.arch_map.iter().flatten().map(|a| a.architecture.as_str()))
        .collect();
    if !arches.is_empty() && !arches.iter().any(|a| is_x86_64(a)) {
        notes.push(format!(
            "the source lists architectures {} but not x86_64; its syscall names were read as x86_64 ones",
            arches.join(", ")
        ));
    }

    let mut candidates: Vec<Candidate> = Vec::new();
    let mut foreign: Vec<String> = Vec::new();
    for (r, rule) in source.syscalls.iter().flatten().enumerate() {
        let rule_no = r + 1;
        let mut names: Vec<String> = rule.names.clone().unwrap_or_default();
        names.extend(rule.name.clone());
        if names.is_empty() {
            continue;
        }
        let what = format!("rule {rule_no} ({})", names_list(&names));
        let includes = rule.includes.as_ref();
        let excludes = rule.excludes.as_ref();
        if let Some(only) = includes.and_then(|i| i.arches.as_ref()).filter(|a| !a.is_empty()) {
            if !only.iter().any(|a| is_x86_64(a)) {
                notes.push(format!("{what}: only for architectures {} in the source", only.join(", ")));
                continue;
            }
        }
        if let Some(not) = excludes.and_then(|e| e.arches.as_ref()) {
            if not.iter().any(|a| is_x86_64(a)) {
                notes.push(format!("{what}: excluded on x86_64 in the source"));
                continue;
            }
        }
        if let Some(caps) = includes.and_then(|i| i.caps.as_ref()).filter(|c| !c.is_empty()) {
            notes.push(format!("{what}: only with {} in the source; a jail has no capabilities", caps.join(" and ")));
            continue;
        }
        let source_comment = rule.comment.as_deref().map(str::trim).filter(|c| !c.is_empty());
        let mut facts = Vec::new();
        if let Some(k) = includes.and_then(|i| i.min_kernel.as_deref()).filter(|k| !k.is_empty()) {
            facts.push(format!(
                "the source applies this on Linux >= {k}; jaild itself needs a newer kernel (Landlock ABI 6)"
            ));
        }

        let kind = match rule.action.as_str() {
            "SCMP_ACT_ALLOW" | "SCMP_ACT_LOG" => {
                if rule.action == "SCMP_ACT_LOG" {
                    facts.push("SCMP_ACT_LOG in the source (allowed and logged); jaild allows it".into());
                }
                let mut conds = Vec::new();
                let mut bad = None;
                for a in rule.args.iter().flatten() {
                    let op = match a.op.as_str() {
                        "SCMP_CMP_EQ" => Op::Eq,
                        "SCMP_CMP_NE" => Op::Ne,
                        "SCMP_CMP_LT" => Op::Lt,
                        "SCMP_CMP_LE" => Op::Le,
                        "SCMP_CMP_GT" => Op::Gt,
                        "SCMP_CMP_GE" => Op::Ge,
                        "SCMP_CMP_MASKED_EQ" => Op::MaskedEq,
                        other => {
                            bad = Some(format!("unknown comparison {other:?}"));
                            break;
                        }
                    };
                    let Ok(index) =
                        u8::try_from(a.index).map_err(drop).and_then(|i| if i <= 5 { Ok(i) } else { Err(()) })
                    else {
                        bad = Some(format!("argument index {} is out of range (0..=5)", a.index));
                        break;
                    };
                    let (value, mask) = if op == Op::MaskedEq { (a.value_two, Some(a.value)) } else { (a.value, None) };
                    if i64::try_from(value).is_err() || mask.is_some_and(|m| i64::try_from(m).is_err()) {
                        bad = Some(format!("value {value:#x} does not fit a TOML integer"));
                        break;
                    }
                    conds.push(ArgCondition { index, op, value, mask });
                }
                if let Some(why) = bad {
                    notes.push(format!("{what}: {why}"));
                    continue;
                }
                Kind::Allow(conds)
            }
            "SCMP_ACT_ERRNO" => {
                if rule.args.as_ref().is_some_and(|a| !a.is_empty()) {
                    notes.push(format!("{what}: an errno rule with argument conditions (jaild's errno entries have none); these calls get the default errno {default_errno}"));
                    continue;
                }
                let errno = match rule.errno_ret {
                    Some(n) => errno_name(n).ok_or_else(|| ImportError::UnknownErrno {
                        path: path.to_path_buf(),
                        field: format!("syscalls[{r}].errnoRet"),
                        errno: n,
                    })?,
                    None => default_errno.clone(),
                };
                Kind::Errno(errno)
            }
            action @ ("SCMP_ACT_KILL" | "SCMP_ACT_KILL_PROCESS" | "SCMP_ACT_KILL_THREAD" | "SCMP_ACT_TRAP") => {
                facts.push(format!("{action} in the source; jaild answers with an errno and reports the call"));
                Kind::Errno(default_errno.clone())
            }
            other => {
                notes.push(format!(
                    "{what}: action {other} cannot be imported; these calls get the default errno {default_errno}"
                ));
                continue;
            }
        };

        // runc: two conditions on one argument cannot both hold, so each is a rule of its own.
        let alternatives: Vec<Kind> = match &kind {
            Kind::Allow(conds)
                if conds.iter().enumerate().any(|(i, c)| conds[..i].iter().any(|o| o.index == c.index)) =>
            {
                conds.iter().map(|c| Kind::Allow(vec![c.clone()])).collect()
            }
            k => vec![k.clone()],
        };
        for name in &names {
            if Sysno::from_str(name).is_err() {
                if !foreign.contains(name) {
                    foreign.push(name.clone());
                }
                continue;
            }
            for alt in &alternatives {
                let what_it_does = match alt {
                    Kind::Allow(c) if c.is_empty() => "allowed".to_string(),
                    Kind::Allow(c) => {
                        format!("allowed when {}", c.iter().map(describe_cond).collect::<Vec<_>>().join(" and "))
                    }
                    Kind::Errno(e) => format!("denied with {e}"),
                };
                let mut comment = match source_comment {
                    Some(c) => c.to_string(),
                    None => format!("imported from {file_name}: {what_it_does} (no comment in the source)"),
                };
                let mut extra = facts.clone();
                if source_comment.is_some() && what_it_does != "allowed" {
                    extra.insert(0, what_it_does.clone());
                }
                if !extra.is_empty() {
                    comment.push_str(&format!(" [{}]", extra.join("; ")));
                }
                candidates.push(Candidate { name: name.clone(), kind: alt.clone(), comment, rule: rule_no });
            }
        }
    }
    if !foreign.is_empty() {
        notes.push(format!("not x86_64 syscalls (the source covers every architecture): {}", names_list(&foreign)));
    }

    // One syscall, several rules: an unconditional allow wins over conditional ones, an allow
    // over an errno, the first errno over later ones.
    let mut by_name: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, c) in candidates.iter().enumerate() {
        by_name.entry(c.name.as_str()).or_default().push(i);
    }
    let mut keep = vec![true; candidates.len()];
    for (name, idx) in &by_name {
        let unconditional = idx.iter().copied().find(|&i| candidates[i].kind == Kind::Allow(vec![]));
        let any_allow = idx.iter().copied().find(|&i| matches!(candidates[i].kind, Kind::Allow(_)));
        let mut seen: Vec<&Kind> = Vec::new();
        let mut first_errno = None;
        for &i in idx {
            let c = &candidates[i];
            let drop_why = match (&c.kind, unconditional, any_allow) {
                (Kind::Allow(conds), Some(u), _) if !conds.is_empty() => Some(format!(
                    "{name}: the conditional allow of rule {} is redundant, rule {} allows it unconditionally",
                    c.rule, candidates[u].rule
                )),
                (Kind::Errno(_), _, Some(a)) => Some(format!(
                    "{name}: denied by rule {} but allowed by rule {}; kept the allow",
                    c.rule, candidates[a].rule
                )),
                (Kind::Errno(_), _, None) if first_errno.is_some() => {
                    Some(format!("{name}: rule {} repeats a denial of rule {}", c.rule, first_errno.unwrap_or(0)))
                }
                (kind, _, _) if seen.contains(&kind) => {
                    Some(format!("{name}: rule {} repeats an entry already imported", c.rule))
                }
                _ => None,
            };
            match drop_why {
                Some(why) => {
                    keep[i] = false;
                    notes.push(why);
                }
                None => {
                    seen.push(&c.kind);
                    if matches!(c.kind, Kind::Errno(_)) {
                        first_errno = Some(c.rule);
                    }
                }
            }
        }
    }
    // Repeats of an identical entry say nothing new; keep the notes about real conflicts only.
    notes.retain(|n| !n.ends_with("repeats an entry already imported"));

    let kept: Vec<&Candidate> = candidates.iter().zip(&keep).filter(|(_, k)| **k).map(|(c, _)| c).collect();
    let allowed = kept
        .iter()
        .filter(|c| matches!(c.kind, Kind::Allow(_)))
        .map(|c| c.name.as_str())
        .collect::<std::collections::BTreeSet<_>>()
        .len();
    let denied = kept.iter().filter(|c| matches!(c.kind, Kind::Errno(_))).count();
    let toml = render(&file_name, interpreter, &default_errno, &kept, &notes, &warnings, allowed, denied);

    let policy: seccomp::PolicyFile = toml::from_str(&toml).map_err(|e| ImportError::Invalid {
        path: path.to_path_buf(),
        source: PolicyError::Parse { path: path.to_path_buf(), message: e.to_string() },
    })?;
    seccomp::compile_policy(policy.clone(), path, &toml, String::new())
        .map_err(|source| ImportError::Invalid { path: path.to_path_buf(), source })?;
    Ok(Import { toml, policy, notes, warnings })
}

fn quote(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

#[allow(clippy::too_many_arguments)]
fn render(
    file_name: &str,
    interpreter: &str,
    default_errno: &str,
    entries: &[&Candidate],
    notes: &[String],
    warnings: &[String],
    allowed: usize,
    denied: usize,
) -> String {
    let mut out = String::new();
    out.push_str("#:schema ../schema/seccomp.schema.json\n");
    out.push_str(&format!(
        "# seccomp policy imported from {file_name} (OCI / Docker seccomp JSON) by `jailctl profile import-seccomp`.\n"
    ));
    out.push_str(
        "# Review it before a profile uses it: the source was written for containers, not for one interpreter.\n",
    );
    out.push_str("# Comments are the source's where it had one; the others say what the imported entry does.\n");
    for w in warnings {
        out.push_str(&format!("#\n# WARNING: {w}\n"));
    }
    if !notes.is_empty() {
        out.push_str("#\n# Not imported:\n");
        for n in notes {
            out.push_str(&format!("#   - {n}\n"));
        }
    }
    out.push_str("schema = 1\n");
    out.push_str(&format!("interpreter = {}\n", quote(interpreter)));
    out.push_str(&format!(
        "description = {}\n",
        quote(&format!("Imported from {file_name} (OCI/Docker seccomp format): {allowed} syscalls allowed, {denied} denied with their own errno, every other one denied with {default_errno}"))
    ));
    out.push_str(&format!("\n[default]\nerrno = {}\n", quote(default_errno)));
    for c in entries {
        out.push_str(&format!("\n[[syscall]]\nname = {}\n", quote(&c.name)));
        match &c.kind {
            Kind::Allow(conds) => {
                out.push_str("action = \"allow\"\n");
                if !conds.is_empty() {
                    let items: Vec<String> = conds
                        .iter()
                        .map(|a| {
                            let op = match a.op {
                                Op::Eq => "eq",
                                Op::Ne => "ne",
                                Op::Lt => "lt",
                                Op::Le => "le",
                                Op::Gt => "gt",
                                Op::Ge => "ge",
                                Op::MaskedEq => "masked_eq",
                            };
                            match a.mask {
                                Some(m) => format!(
                                    "{{ index = {}, op = \"{op}\", value = {:#x}, mask = {m:#x} }}",
                                    a.index, a.value
                                ),
                                None => format!("{{ index = {}, op = \"{op}\", value = {:#x} }}", a.index, a.value),
                            }
                        })
                        .collect();
                    out.push_str(&format!("args = [{}]\n", items.join(", ")));
                }
            }
            Kind::Errno(e) => out.push_str(&format!("action = \"errno\"\nerrno = {}\n", quote(e))),
        }
        out.push_str(&format!("comment = {}\n", quote(&c.comment)));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conv(json: &str) -> Result<Import, ImportError> {
        convert(Path::new("t.json"), json, "python3.11")
    }

    #[test]
    fn allow_default_is_refused() {
        let e = conv(r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[]}"#).unwrap_err();
        assert!(e.to_string().contains("allowlists"), "{e}");
    }

    #[test]
    fn kill_default_becomes_eperm_with_a_warning() {
        let i = conv(
            r#"{"defaultAction":"SCMP_ACT_KILL_PROCESS","syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW"}]}"#,
        )
        .unwrap();
        assert_eq!(i.policy.default.errno, "EPERM");
        assert_eq!(i.warnings.len(), 1);
        assert!(i.toml.contains("# WARNING: defaultAction SCMP_ACT_KILL_PROCESS"), "{}", i.toml);
    }

    #[test]
    fn same_argument_twice_becomes_alternatives() {
        let i = conv(
            r#"{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["personality"],"action":"SCMP_ACT_ALLOW",
            "args":[{"index":0,"value":0,"op":"SCMP_CMP_EQ"},{"index":0,"value":8,"op":"SCMP_CMP_EQ"}]}]}"#,
        )
        .unwrap();
        assert_eq!(i.policy.syscall.len(), 2);
        assert!(i.policy.syscall.iter().all(|s| s.args.len() == 1));
    }
}
