//! `jailctl profile diff A B`: every grant added or removed and every limit changed between two
//! profiles (or two versions of one file), compared on what a run gets: the plan's mounts and
//! Landlock rules, the seccomp policy syscall by syscall (checked against the compiled programs),
//! the limits, the language policy and the environment.

use super::{alternatives_words, decide, Alternative, Decision, Subject, Verdict, ARG_PROBES};
use jail_init::plan::Mount;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

/// Which way a change moves the jail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// A grant added or a limit loosened.
    Widens,
    /// A grant removed or a limit tightened.
    Narrows,
    /// Neither (a comment, an errno, an interpreter version).
    Changes,
}

impl Direction {
    fn mark(self) -> char {
        match self {
            Direction::Widens => '+',
            Direction::Narrows => '-',
            Direction::Changes => '~',
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    /// "profile", "limits", "filesystem", "landlock", "seccomp", "network", "language_policy", "environment".
    pub section: String,
    pub key: String,
    pub old: Option<String>,
    pub new: Option<String>,
    pub direction: Direction,
}

/// The changes from `a` to `b`, in section order.
pub fn diff(a: &Subject, b: &Subject) -> Vec<Change> {
    let mut out = Vec::new();
    let mut push = |section: &str, key: &str, old: Option<String>, new: Option<String>, direction: Direction| {
        if old != new {
            out.push(Change { section: section.into(), key: key.into(), old, new, direction });
        }
    };
    let (pa, pb) = (&a.profile.file, &b.profile.file);
    let (ma, mb) = (&a.interpreter.manifest, &b.interpreter.manifest);

    // --- profile identity ---
    push("profile", "name", Some(pa.name.clone()), Some(pb.name.clone()), Direction::Changes);
    push("profile", "description", Some(pa.description.clone()), Some(pb.description.clone()), Direction::Changes);
    let extends = |s: &Subject| {
        s.profile
            .extends
            .as_ref()
            .and_then(|p| p.file_stem())
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "nothing".into())
    };
    push("profile", "extends", Some(extends(a)), Some(extends(b)), Direction::Changes);
    push(
        "profile",
        "language",
        Some(pa.language.as_str().into()),
        Some(pb.language.as_str().into()),
        Direction::Changes,
    );
    push(
        "profile",
        "interpreter",
        Some(format!("{} {} ({}, sha256 {})", ma.name, ma.version, ma.binary.display(), ma.sha256)),
        Some(format!("{} {} ({}, sha256 {})", mb.name, mb.version, mb.binary.display(), mb.sha256)),
        Direction::Changes,
    );
    push("profile", "command", Some(a.plan.argv.join(" ")), Some(b.plan.argv.join(" ")), Direction::Changes);

    // --- limits ---
    let la = super::limit_values(&pa.limits);
    let lb = super::limit_values(&pb.limits);
    for ((key, va, sa), (_, vb, sb)) in la.iter().zip(lb.iter()) {
        let dir = if key == &"cpu_cores" {
            if pb.limits.cpu_cores > pa.limits.cpu_cores {
                Direction::Widens
            } else {
                Direction::Narrows
            }
        } else if vb > va {
            Direction::Widens
        } else {
            Direction::Narrows
        };
        if sa != sb {
            push("limits", key, Some(sa.clone()), Some(sb.clone()), dir);
        }
    }

    // --- filesystem: the plan's mounts by destination ---
    push(
        "filesystem",
        "workdir",
        Some(pa.filesystem.workdir.display().to_string()),
        Some(pb.filesystem.workdir.display().to_string()),
        Direction::Changes,
    );
    let mounts_a = mount_map(a);
    let mounts_b = mount_map(b);
    let rules_a = rules_map(a);
    let rules_b = rules_map(b);
    // A mount added or removed carries its Landlock rule along; only rules on paths mounted in
    // both are listed under [landlock].
    let with_rule = |text: &str, rules: &BTreeMap<String, u64>, key: &str| match rules.get(key) {
        Some(r) => format!("{text}; Landlock: {}", super::rights_words(*r)),
        None => text.to_string(),
    };
    let mut moved: BTreeSet<String> = BTreeSet::new();
    for key in mounts_a.keys().chain(mounts_b.keys()).collect::<BTreeSet<_>>() {
        match (mounts_a.get(key), mounts_b.get(key)) {
            (Some(x), Some(y)) if x != y => {
                let dir = mount_direction(x, y);
                push("filesystem", key, Some(x.text.clone()), Some(y.text.clone()), dir);
            }
            (Some(x), None) => {
                moved.insert(key.clone());
                push("filesystem", key, Some(with_rule(&x.text, &rules_a, key)), None, Direction::Narrows)
            }
            (None, Some(y)) => {
                moved.insert(key.clone());
                push("filesystem", key, None, Some(with_rule(&y.text, &rules_b, key)), Direction::Widens)
            }
            _ => {}
        }
    }

    // --- Landlock ---
    push(
        "landlock",
        "minimum_abi",
        Some(pa.landlock.minimum_abi.to_string()),
        Some(pb.landlock.minimum_abi.to_string()),
        if pb.landlock.minimum_abi < pa.landlock.minimum_abi { Direction::Widens } else { Direction::Narrows },
    );
    let handled = |m: u64| jail_init::plan::access::fs_names(m).join(", ");
    if a.plan.landlock.handled_fs != b.plan.landlock.handled_fs {
        let dir = if b.plan.landlock.handled_fs & !a.plan.landlock.handled_fs != 0 {
            Direction::Narrows
        } else {
            Direction::Widens
        };
        push(
            "landlock",
            "rights handled",
            Some(handled(a.plan.landlock.handled_fs)),
            Some(handled(b.plan.landlock.handled_fs)),
            dir,
        );
    }
    for path in rules_a.keys().chain(rules_b.keys()).filter(|p| !moved.contains(*p)).collect::<BTreeSet<_>>() {
        let (x, y) = (rules_a.get(path).copied().unwrap_or(0), rules_b.get(path).copied().unwrap_or(0));
        if x != y {
            let added = y & !x;
            let removed = x & !y;
            let dir = if added != 0 { Direction::Widens } else { Direction::Narrows };
            let mut text = Vec::new();
            if added != 0 {
                text.push(format!("grants {}", super::rights_words(added)));
            }
            if removed != 0 {
                text.push(format!("no longer grants {}", super::rights_words(removed)));
            }
            out.push(Change {
                section: "landlock".into(),
                key: path.clone(),
                old: (x != 0).then(|| super::rights_words(x)),
                new: Some(if y == 0 {
                    "no rule".to_string()
                } else {
                    format!("{} ({})", super::rights_words(y), text.join("; "))
                }),
                direction: dir,
            });
        }
    }
    let scopes = |s: u64| {
        let mut v = Vec::new();
        if s & jail_init::plan::access::SCOPE_SIGNAL != 0 {
            v.push("signal");
        }
        if s & jail_init::plan::access::SCOPE_ABSTRACT_UNIX_SOCKET != 0 {
            v.push("abstract_unix_socket");
        }
        v.join(", ")
    };
    if a.plan.landlock.scoped != b.plan.landlock.scoped {
        let dir =
            if b.plan.landlock.scoped & !a.plan.landlock.scoped != 0 { Direction::Narrows } else { Direction::Widens };
        out.push(Change {
            section: "landlock".into(),
            key: "scopes".into(),
            old: Some(scopes(a.plan.landlock.scoped)),
            new: Some(scopes(b.plan.landlock.scoped)),
            direction: dir,
        });
    }

    // --- network ---
    let net = |s: &Subject| match s.profile.file.network.mode {
        crate::profile::NetworkMode::None => "none".to_string(),
    };
    out.extend(single("network", "mode", net(a), net(b), Direction::Changes));

    // --- seccomp, syscall by syscall ---
    if a.policy.default_errno != b.policy.default_errno {
        out.push(Change {
            section: "seccomp".into(),
            key: "default errno".into(),
            old: Some(a.policy.default_errno.clone()),
            new: Some(b.policy.default_errno.clone()),
            direction: Direction::Changes,
        });
    }
    let names: BTreeSet<&str> = a.policy.rules.iter().chain(b.policy.rules.iter()).map(|r| r.name.as_str()).collect();
    for name in names {
        let x = verdict_text(a, name);
        let y = verdict_text(b, name);
        if x == y {
            continue;
        }
        let dir = syscall_direction(a, b, name);
        out.push(Change { section: "seccomp".into(), key: name.into(), old: Some(x), new: Some(y), direction: dir });
    }
    // Whatever the files say, the compiled programs must differ exactly where the rules do.
    let listed: BTreeSet<String> = out.iter().filter(|c| c.section == "seccomp").map(|c| c.key.clone()).collect();
    let mut unexplained = Vec::new();
    for sys in syscalls::Sysno::iter() {
        let nr = sys.id() as u32;
        let mut cases = vec![[0u64; 6]];
        cases.extend(ARG_PROBES.iter().filter(|p| p.syscall == sys.name()).map(|p| p.args()));
        if cases.iter().any(|args| decide(a.program(), nr, *args) != decide(b.program(), nr, *args))
            && !listed.contains(sys.name())
        {
            unexplained.push(sys.name().to_string());
        }
    }
    if !unexplained.is_empty() {
        out.push(Change {
            section: "seccomp".into(),
            key: "compiled filter".into(),
            old: None,
            new: Some(format!(
                "decides differently for {} although the policy entries read the same",
                unexplained.join(", ")
            )),
            direction: Direction::Changes,
        });
    }

    // --- language policy ---
    let (lpa, lpb) = (&pa.language_policy, &pb.language_policy);
    let ba: BTreeSet<&String> = lpa.blocked_modules.iter().collect();
    let bb: BTreeSet<&String> = lpb.blocked_modules.iter().collect();
    for m in ba.difference(&bb) {
        out.push(Change {
            section: "language_policy".into(),
            key: format!("blocked module {m}"),
            old: Some("blocked".into()),
            new: Some("importable".into()),
            direction: Direction::Widens,
        });
    }
    for m in bb.difference(&ba) {
        out.push(Change {
            section: "language_policy".into(),
            key: format!("blocked module {m}"),
            old: Some("importable".into()),
            new: Some("blocked".into()),
            direction: Direction::Narrows,
        });
    }
    if lpa.dynamic_code != lpb.dynamic_code {
        let word = |b: bool| if b { "allowed" } else { "refused" }.to_string();
        out.push(Change {
            section: "language_policy".into(),
            key: "dynamic code".into(),
            old: Some(word(lpa.dynamic_code)),
            new: Some(word(lpb.dynamic_code)),
            direction: if lpb.dynamic_code { Direction::Widens } else { Direction::Narrows },
        });
    }

    // --- environment ---
    let ea: BTreeMap<&String, &String> = pa.environment.iter().collect();
    let eb: BTreeMap<&String, &String> = pb.environment.iter().collect();
    for k in ea.keys().chain(eb.keys()).collect::<BTreeSet<_>>() {
        let (x, y) = (ea.get(k).map(|v| v.to_string()), eb.get(k).map(|v| v.to_string()));
        if x != y {
            out.push(Change {
                section: "environment".into(),
                key: k.to_string(),
                old: x,
                new: y,
                direction: Direction::Changes,
            });
        }
    }
    out
}

fn single(section: &str, key: &str, old: String, new: String, direction: Direction) -> Option<Change> {
    (old != new).then(|| Change { section: section.into(), key: key.into(), old: Some(old), new: Some(new), direction })
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct MountView {
    text: String,
    writable: bool,
    exec: bool,
    size: u64,
    src: String,
}

fn mount_map(s: &Subject) -> BTreeMap<String, MountView> {
    let mut out = BTreeMap::new();
    for m in &s.plan.mounts {
        let (dst, view) = match m {
            Mount::Bind { src, dst, exec, dev } => {
                let mut text = if src == dst {
                    "read-only bind of the host path".to_string()
                } else {
                    format!("read-only bind of host {}", src.display())
                };
                if *exec {
                    text.push_str(", code may be mapped");
                }
                if *dev {
                    text.push_str(", device");
                }
                (dst, MountView { text, writable: false, exec: *exec, size: 0, src: src.display().to_string() })
            }
            Mount::Tmpfs { dst, size_bytes, inodes, mode, .. } => (
                dst,
                MountView {
                    text: format!("writable tmpfs {}, {inodes} inodes, mode {mode:o}", super::bytes(*size_bytes)),
                    writable: true,
                    exec: false,
                    size: *size_bytes,
                    src: String::new(),
                },
            ),
            Mount::Proc { dst } => (
                dst,
                MountView {
                    text: "the jail's own /proc".into(),
                    writable: false,
                    exec: false,
                    size: 0,
                    src: String::new(),
                },
            ),
            Mount::Dir { dst, mode } => (
                dst,
                MountView {
                    text: format!("directory, mode {mode:o}"),
                    writable: false,
                    exec: false,
                    size: 0,
                    src: String::new(),
                },
            ),
            Mount::File { dst, contents, mode } => {
                use sha2::Digest;
                let digest = hex::encode(sha2::Sha256::digest(contents.as_bytes()));
                (
                    dst,
                    MountView {
                        text: format!("file, mode {mode:o}, sha256 {}", &digest[..16]),
                        writable: false,
                        exec: false,
                        size: 0,
                        src: String::new(),
                    },
                )
            }
            Mount::Symlink { target, dst } => (
                dst,
                MountView {
                    text: format!("symlink to {}", target.display()),
                    writable: false,
                    exec: false,
                    size: 0,
                    src: String::new(),
                },
            ),
        };
        out.insert(dst.display().to_string(), view);
    }
    out
}

fn mount_direction(x: &MountView, y: &MountView) -> Direction {
    if (!x.writable && y.writable) || (!x.exec && y.exec) || y.size > x.size || x.src != y.src {
        Direction::Widens
    } else if (x.writable && !y.writable) || (x.exec && !y.exec) || y.size < x.size {
        Direction::Narrows
    } else {
        Direction::Changes
    }
}

fn rules_map(s: &Subject) -> BTreeMap<String, u64> {
    let mut out: BTreeMap<String, u64> = BTreeMap::new();
    for r in &s.plan.landlock.rules {
        *out.entry(r.path.display().to_string()).or_default() |= r.access;
    }
    out
}

/// A syscall's entry in words.
fn verdict_text(s: &Subject, name: &str) -> String {
    match s.policy.rule(name).map(|r| &r.verdict) {
        None => format!("denied ({}, the default)", s.policy.default_errno),
        Some(Verdict::Allow) => "allowed".into(),
        Some(Verdict::NoEffect) => super::no_effect_words(name, &[]),
        Some(Verdict::AllowIf(alts)) => {
            let (no_effect, allowed): (Vec<Alternative>, Vec<Alternative>) =
                alts.iter().cloned().partition(|a| a.no_effect);
            let mut text = Vec::new();
            if !allowed.is_empty() {
                text.push(format!("allowed {}", alternatives_words(name, &allowed)));
            }
            if !no_effect.is_empty() {
                text.push(super::no_effect_words(name, &no_effect));
            }
            text.join("; ")
        }
        Some(Verdict::Deny { errno, level }) => format!("denied with {errno}{}", super::denial_words(*level)),
    }
}

fn syscall_direction(a: &Subject, b: &Subject, name: &str) -> Direction {
    let Some(nr) = super::sysno(name) else { return Direction::Changes };
    // What the kernel runs: a call answered without effect reaches nothing, so moving one from
    // denied to no_effect neither widens nor narrows, and from allowed to no_effect narrows.
    let allowed = |s: &Subject| -> Option<Vec<Alternative>> {
        match s.policy.rule(name).map(|r| &r.verdict) {
            Some(Verdict::Allow) => Some(Vec::new()),
            Some(Verdict::AllowIf(alts)) => {
                let effective: Vec<Alternative> = alts.iter().filter(|a| !a.no_effect).cloned().collect();
                (!effective.is_empty()).then_some(effective)
            }
            _ => None,
        }
    };
    match (allowed(a), allowed(b)) {
        (None, Some(_)) => Direction::Widens,
        (Some(_), None) => Direction::Narrows,
        (None, None) => Direction::Changes,
        (Some(x), Some(y)) => {
            if y.is_empty() && !x.is_empty() {
                return Direction::Widens;
            }
            if x.is_empty() && !y.is_empty() {
                return Direction::Narrows;
            }
            let words = |alts: &[Alternative]| -> BTreeSet<String> {
                alts.iter()
                    .map(|a| alternatives_words(name, std::slice::from_ref(a)).trim_start_matches("only ").to_string())
                    .collect()
            };
            let (tx, ty) = (words(&x), words(&y));
            let added = ty.difference(&tx).count();
            let removed = tx.difference(&ty).count();
            // Break ties on what the compiled programs do with the probe values.
            let probes: Vec<[u64; 6]> = ARG_PROBES.iter().filter(|p| p.syscall == name).map(|p| p.args()).collect();
            let opened = probes.iter().any(|args| {
                decide(a.program(), nr, *args) != Decision::Allow && decide(b.program(), nr, *args) == Decision::Allow
            });
            if added > 0 && removed == 0 || opened {
                Direction::Widens
            } else if removed > 0 && added == 0 {
                Direction::Narrows
            } else {
                Direction::Changes
            }
        }
    }
}

const SECTIONS: [&str; 8] =
    ["profile", "limits", "filesystem", "landlock", "network", "seccomp", "language_policy", "environment"];

pub fn render(a: &Subject, b: &Subject, changes: &[Change]) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "--- {} ({})", a.label, a.source_path.display());
    let _ = writeln!(out, "+++ {} ({})", b.label, b.source_path.display());
    if changes.is_empty() {
        let _ = writeln!(out, "no differences: both profiles grant the same");
        return out;
    }
    for section in SECTIONS {
        let in_section: Vec<&Change> = changes.iter().filter(|c| c.section == section).collect();
        if in_section.is_empty() {
            continue;
        }
        let _ = writeln!(out, "[{section}]");
        for c in in_section {
            let text = match (&c.old, &c.new) {
                (Some(o), Some(n)) => format!("{o} -> {n}"),
                (None, Some(n)) => format!("added: {n}"),
                (Some(o), None) => format!("removed (was: {o})"),
                (None, None) => String::new(),
            };
            let _ = writeln!(out, "{} {}: {text}", c.direction.mark(), c.key);
        }
    }
    let widens = changes.iter().filter(|c| c.direction == Direction::Widens).count();
    let narrows = changes.iter().filter(|c| c.direction == Direction::Narrows).count();
    let _ = writeln!(
        out,
        "{} differences: {widens} widen what the script may do (+), {narrows} narrow it (-), {} other (~)",
        changes.len(),
        changes.len() - widens - narrows
    );
    out
}
