//! `jailctl profile explain NAME`: everything a profile allows, in plain words, derived from
//! the plan a run of it gets (mounts, Landlock rules, rlimits), its seccomp policy decided by the
//! compiled program, and the catalogue of what jails must not do.

use super::{
    alternatives_words, decide, mount_comment, no_effect_words, rights_at, sysno, with_arg, Alternative, Decision,
    DenialLevel, Subject, Verdict, ARG_PROBES, CLONE_NEW, DANGERS,
};
use jail_init::plan::{access, Mount};
use std::fmt::Write as _;
use std::path::Path;

const WIDTH: usize = 100;

/// Word-wraps `text` to WIDTH, the first line after `first` (already written) and the rest
/// indented by `indent` spaces.
fn wrap(out: &mut String, first_col: usize, indent: usize, text: &str) {
    let mut col = first_col;
    let mut line_start = true;
    for word in text.split_whitespace() {
        if !line_start && col + 1 + word.len() > WIDTH {
            out.push('\n');
            out.push_str(&" ".repeat(indent));
            col = indent;
            line_start = true;
        }
        if !line_start {
            out.push(' ');
            col += 1;
        }
        out.push_str(word);
        col += word.len();
        line_start = false;
    }
    out.push('\n');
}

/// `  key  text...` with `text` wrapped under itself.
fn item(out: &mut String, indent: usize, key: &str, key_width: usize, text: &str) {
    let head = format!("{}{key:<key_width$}  ", " ".repeat(indent));
    out.push_str(&head);
    if text.is_empty() {
        out.push('\n');
    } else {
        wrap(out, head.len(), head.len(), text);
    }
}

fn heading(out: &mut String, title: &str) {
    out.push('\n');
    out.push_str(title);
    out.push('\n');
}

fn is_dir(p: &Path) -> bool {
    std::fs::metadata(p).map(|m| m.is_dir()).unwrap_or(false)
}

/// The explanation, as text.
pub fn explain(s: &Subject) -> String {
    let mut out = String::new();
    let p = &s.profile.file;
    let m = &s.interpreter.manifest;
    let _ = writeln!(out, "Profile {} — {}", p.name, p.description);
    let key = 13;
    item(
        &mut out,
        2,
        "file",
        key,
        &format!("{} (sha256 of the resolved profile {})", s.source_path.display(), &s.profile.sha256),
    );
    if let Some(parent) = &s.profile.extends {
        item(
            &mut out,
            2,
            "extends",
            key,
            &format!("{}: every value not written in this file comes from there", parent.display()),
        );
    }
    item(
        &mut out,
        2,
        "language",
        key,
        &format!(
            "{}, run by {} {} ({}; sha256 {} pinned, a changed binary is refused)",
            p.language.as_str(),
            m.name,
            m.version,
            m.binary.display(),
            m.sha256
        ),
    );
    item(&mut out, 2, "command", key, &s.plan.argv.join(" "));
    item(&mut out, 2, "seccomp", key, &format!("{} (sha256 {})", s.policy.path.display(), s.profile.seccomp.sha256));
    let abi_note = match crate::plan::landlock_coverage(&s.profile, s.kernel_abi) {
        Ok(covered) if covered.is_empty() => {
            format!("ABI {} required, this kernel has {}", p.landlock.minimum_abi, s.kernel_abi)
        }
        Ok(covered) => format!(
            "ABI {} required, this kernel has {}; the rights it lacks are enforced by other layers: {}",
            p.landlock.minimum_abi,
            s.kernel_abi,
            covered.iter().map(|c| format!("{} by {}", c.right, c.by)).collect::<Vec<_>>().join("; ")
        ),
        Err(e) => format!("{e}: runs of this profile are refused here"),
    };
    item(
        &mut out,
        2,
        "enforced by",
        key,
        &format!(
            "fresh user, mount, PID, network, IPC, UTS and cgroup namespaces; Landlock file rules ({abi_note}); a system-call allowlist (seccomp); cgroup limits; rlimits. The script runs as uid {} (host uid {}..{}: each jail running at once has host ids of its own), with no capabilities and no_new_privs.",
            s.plan.uid, s.host_script_uids.0, s.host_script_uids.1
        ),
    );

    if p.landlock.minimum_abi < crate::plan::LANDLOCK_ABI_FULL {
        let text = match crate::plan::landlock_coverage(&s.profile, p.landlock.minimum_abi) {
            Ok(covered) => format!(
                "on a kernel with only Landlock ABI {} (the minimum), the newer rights are enforced by: {}",
                p.landlock.minimum_abi,
                covered.iter().map(|c| format!("{} by {}", c.right, c.by)).collect::<Vec<_>>().join("; ")
            ),
            Err(e) => {
                format!("on a kernel with only Landlock ABI {}: {e}; runs are refused there", p.landlock.minimum_abi)
            }
        };
        item(&mut out, 2, "older kernels", key, &text);
    }
    read_section(&mut out, s);
    write_section(&mut out, s);
    exec_section(&mut out, s);
    syscall_section(&mut out, s);
    network_section(&mut out, s);
    limits_section(&mut out, s);
    language_section(&mut out, s);
    environment_section(&mut out, s);
    cannot_section(&mut out, s);
    out
}

fn read_section(out: &mut String, s: &Subject) {
    heading(out, "What the script can READ (read-only; nothing else of the host exists in its view)");
    let width = s.plan.mounts.iter().filter_map(|m| match m {
        Mount::Bind { dst, dev: false, .. } => Some(dst.display().to_string().len()),
        _ => None,
    });
    let w = width.max().unwrap_or(20).clamp(20, 44);
    for mount in &s.plan.mounts {
        if let Mount::Bind { src, dst, dev: false, exec } = mount {
            let mut text = String::new();
            if is_dir(src) {
                text.push_str("(directory) ");
            }
            if src != dst {
                let _ = write!(text, "(host {}) ", src.display());
            }
            text.push_str(&mount_comment(s, dst).unwrap_or_default());
            let rights = rights_at(&s.plan, dst);
            if rights & !(access::READ_FILE | access::READ_DIR | access::EXECUTE) != 0 {
                let _ = write!(
                    text,
                    " — Landlock also grants: {}",
                    super::rights_words(rights & !(access::READ_FILE | access::READ_DIR))
                );
            }
            if *exec && rights & access::EXECUTE == 0 {
                text.push_str(" [code may be mapped from it]");
            }
            item(out, 2, &dst.display().to_string(), w, &text);
        }
    }
    for mount in &s.plan.mounts {
        match mount {
            Mount::Proc { dst } => item(out, 2, &dst.display().to_string(), w, "its own processes only: a fresh /proc of the jail's PID namespace, showing no process of the host or of other jails"),
            Mount::File { dst, .. } if dst.starts_with("/etc") => item(out, 2, &dst.display().to_string(), w, "the jail's own, written by jaild (never the host's): its users root, jail and nobody, localhost, a few services and protocols; read-only"),
            Mount::File { dst, .. } => item(out, 2, &dst.display().to_string(), w, "jaild's trusted runner, which feeds the script its input and collects the result"),
            Mount::Symlink { target, dst } if !dst.starts_with("/dev") => item(
                out,
                2,
                &dst.display().to_string(),
                w,
                &format!("another name of {}: a symlink in the jail's own root (never the host's file of that name)", target.display()),
            ),
            _ => {}
        }
    }
    let devices: Vec<String> = s
        .plan
        .mounts
        .iter()
        .filter_map(|m| match m {
            Mount::Bind { dst, dev: true, .. } => dst.file_name().map(|n| n.to_string_lossy().into_owned()),
            _ => None,
        })
        .collect();
    if !devices.is_empty() {
        item(
            out,
            2,
            "/dev",
            w,
            &format!("only the devices {} (and /dev/fd, /dev/std* links to its own descriptors)", devices.join(", ")),
        );
    }
    let scratch: Vec<String> = s.profile.file.filesystem.tmpfs.iter().map(|t| t.path.display().to_string()).collect();
    item(out, 2, "scratch", w, &format!("{} (its own, below)", scratch.join(", ")));
    item(out, 2, "/", w, "an empty read-only filesystem holding only the mount points above");
}

fn write_section(out: &mut String, s: &Subject) {
    heading(out, "What the script can WRITE (everything else is read-only or absent)");
    let p = &s.profile.file;
    for mount in &s.plan.mounts {
        if let Mount::Tmpfs { dst, size_bytes, inodes, .. } = mount {
            let role = if *dst == p.filesystem.workdir { "; its working directory" } else { "" };
            item(
                out,
                2,
                &dst.display().to_string(),
                12,
                &format!(
                    "scratch space in memory: at most {}, {} files and directories{role}; empty at the start, gone after the run, nothing in it can be executed",
                    super::bytes(*size_bytes),
                    inodes
                ),
            );
        }
    }
    let writable_devices: Vec<String> = s
        .plan
        .mounts
        .iter()
        .filter_map(|m| match m {
            // Device binds are read-only mounts; Landlock says which may be opened for writing.
            Mount::Bind { dst, dev: true, .. } if rights_at(&s.plan, dst) & access::WRITE_FILE != 0 => {
                Some(dst.display().to_string())
            }
            _ => None,
        })
        .collect();
    if !writable_devices.is_empty() {
        item(out, 2, "devices", 12, &format!("{} (writes are discarded or fail)", writable_devices.join(", ")));
    }
    item(out, 2, "file size", 12, &format!("no single file larger than {} (RLIMIT_FSIZE)", p.limits.file_size));
    item(
        out,
        2,
        "output",
        12,
        &format!(
            "stdout up to {}, stderr up to {}, the result up to {}; beyond that the run is stopped (output_limit)",
            p.limits.stdout, p.limits.stderr, p.limits.result
        ),
    );
}

fn exec_section(out: &mut String, s: &Subject) {
    heading(out, "What the script can EXECUTE");
    let exec: Vec<String> = s
        .plan
        .landlock
        .rules
        .iter()
        .filter(|r| r.access & access::EXECUTE != 0)
        .map(|r| r.path.display().to_string())
        .collect();
    item(
        out,
        2,
        "programs",
        12,
        &format!("{} — nothing else: Landlock grants execute on these paths only", exec.join(" and ")),
    );
    let mapped: Vec<String> = s
        .plan
        .mounts
        .iter()
        .filter_map(|m| match m {
            Mount::Bind { dst, exec: true, dev: false, .. } if rights_at(&s.plan, dst) & access::EXECUTE == 0 => {
                Some(dst.display().to_string())
            }
            _ => None,
        })
        .collect();
    if !mapped.is_empty() {
        item(
            out,
            2,
            "libraries",
            12,
            &format!(
                "shared libraries and extension modules can be loaded (mapped as code, not run as programs) from: {}",
                mapped.join(", ")
            ),
        );
    }
    item(out, 2, "elsewhere", 12, "every other mount is noexec, scratch included: a file the script writes can never be executed or mapped as code");
}

/// The longest ending all comments share that starts a sentence or a clause (after ". " or
/// "; "): what the entries of one syscall say in common.
fn common_tail(comments: &[String]) -> String {
    let Some(first) = comments.first().filter(|_| comments.len() > 1) else { return String::new() };
    let boundaries = first.match_indices(". ").chain(first.match_indices("; ")).map(|(i, sep)| i + sep.len());
    let mut best: Option<usize> = None;
    for b in boundaries {
        let tail = &first[b..];
        if !tail.is_empty() && comments.iter().all(|c| c.ends_with(tail)) && best.is_none_or(|x| b < x) {
            best = Some(b);
        }
    }
    best.map(|b| first[b..].to_string()).unwrap_or_default()
}

fn capitalize_first(s: &str) -> String {
    let mut c = s.chars();
    c.next().map(|f| f.to_uppercase().chain(c).collect()).unwrap_or_default()
}

fn syscall_section(out: &mut String, s: &Subject) {
    let total = syscalls::Sysno::iter().count();
    heading(
        out,
        &format!(
            "System calls: {} of the {total} x86_64 system calls are allowed (some only with the arguments listed){}; every other one fails with {} and is reported by name (status security_violation); a system call of another ABI (i386 int 0x80, x32) is reported by its ABI and number and stops the run",
            s.policy.allowed_count(),
            match s.policy.no_effect_count() {
                0 => String::new(),
                n => format!(", {n} succeed without effect (they return 0 and the kernel never runs them; not reported)"),
            },
            s.policy.default_errno
        ),
    );
    item(
        out,
        2,
        "note",
        4,
        &format!(
            "{} are run by recent kernels without consulting any seccomp filter: they serve uprobe trampolines, and the kernel kills any other caller with SIGILL.",
            super::KERNEL_UNFILTERED.join(" and ")
        ),
    );
    for (gi, group) in s.policy.groups.iter().enumerate() {
        let rules: Vec<&super::Rule> = s.policy.rules.iter().filter(|r| r.group == gi).collect();
        if rules.is_empty() {
            continue;
        }
        out.push_str("  ");
        out.push_str(&group.title);
        if !group.description.is_empty() {
            out.push_str(" — ");
            wrap(out, 2 + group.title.len() + 3, 4, &group.description);
        } else {
            out.push('\n');
        }
        for r in rules {
            match &r.verdict {
                Verdict::Allow => item(out, 4, &r.name, 18, &r.comments[0]),
                Verdict::NoEffect => {
                    item(out, 4, &r.name, 18, &format!("{}. {}", no_effect_words(&r.name, &[]), r.comments[0]))
                }
                Verdict::AllowIf(alts) => {
                    let tail = common_tail(&r.comments);
                    let (no_effect, allowed): (Vec<Alternative>, Vec<Alternative>) =
                        alts.iter().cloned().partition(|a| a.no_effect);
                    if !allowed.is_empty() {
                        item(out, 4, &r.name, 18, &alternatives_words(&r.name, &allowed));
                    }
                    if !no_effect.is_empty() {
                        item(
                            out,
                            4,
                            if allowed.is_empty() { &r.name } else { "" },
                            18,
                            &no_effect_words(&r.name, &no_effect),
                        );
                    }
                    for c in &r.comments {
                        let own = c.strip_suffix(&tail).unwrap_or(c).trim_end().trim_end_matches(['.', ';']);
                        if !own.is_empty() {
                            item(out, 4, "", 18, &format!("· {own}"));
                        }
                    }
                    if !tail.is_empty() {
                        item(out, 4, "", 18, &capitalize_first(&tail));
                    }
                }
                Verdict::Deny { errno, level } => {
                    let how = match level {
                        DenialLevel::Quiet => "quietly: listed as a routine probe, never a security violation",
                        DenialLevel::Report => "reported: listed, but the run's status is what ended it (a script that handles the error can end ok)",
                        DenialLevel::Violation => "reported as a security violation",
                    };
                    item(out, 4, &r.name, 18, &format!("DENIED with {errno}, {how}. {}", r.comments[0]));
                }
            }
        }
    }
}

fn network_section(out: &mut String, s: &Subject) {
    heading(out, "Network");
    let program = s.program();
    let families: Vec<&str> = super::FAMILIES
        .iter()
        .filter(|(v, _)| super::allows(program, "socket", with_arg(0, *v)))
        .map(|(_, n)| *n)
        .collect();
    let mode = match s.profile.file.network.mode {
        crate::profile::NetworkMode::None => "none",
    };
    let mut text = format!("{mode}: the jail gets a fresh network namespace with no interface up, so no address, not even loopback, can be reached.");
    if families.is_empty() {
        text.push_str(" No socket can be created at all.");
    } else {
        let _ = write!(text, " Socket families the filter lets through: {}.", families.join(", "));
    }
    if s.plan.landlock.handled_net & (access::NET_BIND_TCP | access::NET_CONNECT_TCP)
        == (access::NET_BIND_TCP | access::NET_CONNECT_TCP)
    {
        text.push_str(" Landlock also refuses every TCP bind and connect.");
    }
    if s.plan.landlock.scoped & access::SCOPE_ABSTRACT_UNIX_SOCKET != 0 {
        text.push_str(" Abstract UNIX sockets outside the jail are out of reach (Landlock scope).");
    }
    item(out, 2, "mode", 12, &text);
}

fn limits_section(out: &mut String, s: &Subject) {
    heading(out, "Limits (the run is stopped and its status says which limit it hit)");
    let l = &s.profile.file.limits;
    let rows = [
        ("wall time", format!("{} ms from start to kill (timeout)", l.wall_time_ms)),
        ("CPU time", format!("{} ms of user + system CPU, all processes together (cpu_limit)", l.cpu_time_ms)),
        ("CPU share", format!("{} core(s) worth of CPU time per 100 ms", l.cpu_cores)),
        ("memory", format!("{}, no swap; the kernel's OOM killer ends the run beyond it (memory_limit)", l.memory)),
        ("processes", format!("{} processes and threads together (pids_limit)", l.pids)),
        ("output", format!("stdout {}, stderr {}, result {} (output_limit)", l.stdout, l.stderr, l.result)),
        ("open files", format!("{} descriptors per process (RLIMIT_NOFILE)", l.open_files)),
        ("file size", format!("{} per file (RLIMIT_FSIZE)", l.file_size)),
        ("script/input", format!("script up to {}, input up to {}; larger ones are rejected before anything starts", l.script, l.input)),
        ("core dumps", "none (RLIMIT_CORE 1: below any core file, and the value that also stops a pipe core_pattern)".to_string()),
        ("signals", format!("{} queued at once, all its processes together (RLIMIT_SIGPENDING; more fail with EAGAIN)", crate::plan::PENDING_SIGNALS)),
        ("namespace", user_namespace_limits()),
        ("host ids", "its own for as long as it runs: no other jail running at once shares them, and its user namespace is owned by its own unprivileged id, so what the kernel counts per user (descriptors in flight, pending signals, inotify) is charged to the jail alone, never to another jail or to host root".to_string()),
    ];
    for (k, v) in rows {
        item(out, 2, k, 12, &v);
    }
}

/// The jail's user namespace limits (plan::USER_NAMESPACE_LIMITS) in words.
fn user_namespace_limits() -> String {
    let limits = crate::plan::USER_NAMESPACE_LIMITS;
    let value = |name: &str| limits.iter().find(|(n, _)| *n == name).map_or(0, |(_, v)| *v);
    let none: Vec<&str> = limits
        .iter()
        .filter(|(n, v)| *v == 0 && n.ends_with("_namespaces"))
        .map(|(n, _)| n.trim_start_matches("max_").trim_end_matches("_namespaces"))
        .collect();
    format!(
        "no new {} namespaces, {} cgroup namespace (its own, rooted at its cgroup), {} fanotify groups, {} inotify instances and {} watches (its user namespace's own limits, /proc/sys/user)",
        none.join(", "),
        value("max_cgroup_namespaces"),
        value("max_fanotify_groups"),
        value("max_inotify_instances"),
        value("max_inotify_watches")
    )
}

fn language_section(out: &mut String, s: &Subject) {
    heading(out, "Language policy (a layer inside the jail that makes refusals clean; NOT the security boundary — everything above holds without it)");
    let lp = &s.profile.file.language_policy;
    let blocked = if lp.blocked_modules.is_empty() { "none".to_string() } else { lp.blocked_modules.join(", ") };
    item(out, 2, "blocked", 12, &format!("modules the runner refuses to import: {blocked}"));
    let dynamic = match (lp.dynamic_code, s.profile.file.language) {
        (true, _) => "allowed (eval, exec, new Function)".to_string(),
        (false, crate::profile::Language::Python) => {
            "refused: eval, exec and compile raise PermissionError in the script".to_string()
        }
        (false, _) => {
            "refused: eval and new Function throw EvalError (V8 --disallow-code-generation-from-strings)".to_string()
        }
    };
    item(out, 2, "dynamic code", 12, &dynamic);
}

fn environment_section(out: &mut String, s: &Subject) {
    heading(out, "Environment (all the script gets; nothing is inherited from the supervisor)");
    if s.plan.env.is_empty() {
        item(out, 2, "(empty)", 12, "");
    }
    for (k, v) in &s.plan.env {
        item(out, 2, k, 16, v);
    }
}

/// One thing a script cannot do: the syscalls that would do it and the other layers that stop it.
struct Cannot {
    what: &'static str,
    syscalls: Vec<&'static str>,
    /// (syscall, argument index, value, label): allowed only with filtered arguments.
    args: Vec<(&'static str, usize, u64, &'static str)>,
    layers: Vec<String>,
}

fn cannot_section(out: &mut String, s: &Subject) {
    heading(out, "What the script CANNOT do, and what stops it (each layer alone is enough unless marked)");
    let plan = &s.plan;
    let program = s.program();
    let no_caps = "no capabilities (empty sets, locked securebits) as an unprivileged uid".to_string();
    let landlock_net = plan.landlock.handled_net & (access::NET_BIND_TCP | access::NET_CONNECT_TCP) != 0;
    let scope_signal = plan.landlock.scoped & access::SCOPE_SIGNAL != 0;
    let exec_paths: Vec<String> = plan
        .landlock
        .rules
        .iter()
        .filter(|r| r.access & access::EXECUTE != 0)
        .map(|r| r.path.display().to_string())
        .collect();
    let danger = |id: &str| DANGERS.iter().find(|d| d.id == id).map(|d| d.syscalls.to_vec()).unwrap_or_default();
    let mut items = vec![
        Cannot {
            what: "reach any network",
            syscalls: danger("seccomp.serve"),
            args: vec![("socket", 0, 2, "AF_INET"), ("socket", 0, 10, "AF_INET6"), ("socket", 0, 17, "AF_PACKET"), ("socket", 0, 16, "AF_NETLINK"), ("socket", 0, 40, "AF_VSOCK")],
            layers: {
                let mut l = vec!["an empty network namespace (no interface, no route)".to_string()];
                if landlock_net {
                    l.push("Landlock refuses TCP bind and connect".into());
                }
                l
            },
        },
        Cannot {
            what: "see, trace or read the memory of other processes",
            syscalls: [danger("seccomp.ptrace"), danger("seccomp.process-memory"), danger("seccomp.pidfd-getfd")].concat(),
            args: vec![],
            layers: vec!["a PID namespace of its own: host processes have no pid it could name".into(), "/proc shows only the jail's processes".into(), no_caps.clone()],
        },
        Cannot {
            what: "signal processes outside the jail",
            syscalls: vec![],
            args: vec![],
            layers: {
                let mut l = vec!["a PID namespace of its own".to_string()];
                if scope_signal {
                    l.push("Landlock's signal scope: only processes inside its own sandbox".into());
                }
                l
            },
        },
        Cannot {
            what: "create or enter namespaces",
            syscalls: [danger("seccomp.namespaces"), danger("seccomp.clone3")].concat(),
            args: CLONE_NEW.iter().map(|(bit, name)| ("clone", 0usize, bit | 17, *name)).collect(),
            layers: vec![],
        },
        Cannot {
            what: "mount filesystems, change its root or unmount what hides the host",
            syscalls: danger("seccomp.mount"),
            args: vec![],
            layers: vec![no_caps.clone(), "its root filesystem is read-only".into()],
        },
        Cannot {
            what: "load kernel code or BPF programs, use performance counters, keyrings, userfaultfd or io_uring",
            syscalls: [danger("seccomp.bpf"), danger("seccomp.kernel-code"), danger("seccomp.perf"), danger("seccomp.keyring"), danger("seccomp.userfaultfd"), danger("seccomp.io-uring")].concat(),
            args: vec![],
            layers: vec![no_caps.clone()],
        },
        Cannot {
            what: "open host files by handle or read anything the view above does not show",
            syscalls: danger("seccomp.file-handles"),
            args: vec![],
            layers: vec!["a mount namespace holding only the listed files".into(), "Landlock grants read rights on those paths only".into()],
        },
        Cannot {
            what: "write anywhere but its scratch space",
            syscalls: vec![],
            args: vec![],
            layers: vec!["every bind mount and the root are read-only".into(), "Landlock grants write rights on scratch only".into()],
        },
        Cannot {
            what: "run any program but the interpreter (downloaded, written or in memory)",
            syscalls: [danger("seccomp.execveat"), danger("seccomp.memfd")].concat(),
            args: vec![],
            layers: vec![format!("Landlock grants execute on {} only", exec_paths.join(" and ")), "scratch and data mounts are noexec".into()],
        },
        Cannot {
            what: "gain privileges (setuid programs, capabilities, a root uid on the host)",
            syscalls: vec![],
            args: vec![],
            layers: vec![
                "no_new_privs".into(),
                "every mount is nosuid".into(),
                no_caps.clone(),
                format!("its uid {} maps to an unprivileged host uid of its own ({}..{})", plan.uid, s.host_script_uids.0, s.host_script_uids.1),
            ],
        },
        Cannot {
            what: "inject input into a terminal",
            syscalls: vec![],
            args: vec![("ioctl", 1, 0x5412, "TIOCSTI"), ("ioctl", 1, 0x541c, "TIOCLINUX")],
            layers: vec!["it has no terminal: a new session, stdin is /dev/null".into()],
        },
        Cannot {
            what: "turn off address randomisation or make data executable through personality",
            syscalls: danger("seccomp.personality"),
            args: vec![],
            layers: vec![],
        },
        Cannot {
            what: "take memory its limit does not count (huge pages from the host's hugetlb pool)",
            syscalls: vec![],
            args: vec![("mmap", 3, 0x22 | crate::seccomp::MAP_HUGETLB, "MAP_HUGETLB"), ("memfd_create", 1, crate::seccomp::MFD_HUGETLB, "MFD_HUGETLB"), ("shmget", 2, crate::seccomp::SHM_HUGETLB, "SHM_HUGETLB")],
            layers: vec!["where the host has a hugetlb cgroup controller, the run's cgroup allows 0 huge pages of every size (report: enforcement.hugetlb)".into()],
        },
        Cannot {
            what: "outgrow its limits or outlive its run",
            syscalls: vec![],
            args: vec![],
            layers: vec![
                "the run's cgroup caps memory, CPU and processes".into(),
                "rlimits cap files and file sizes".into(),
                "when the script's process ends, the jail's PID 1 exits and the kernel kills everything left in the PID namespace; the cgroup is killed and removed".into(),
            ],
        },
    ];
    for c in &mut items {
        let mut text = String::new();
        let allowed: Vec<&str> = c.syscalls.iter().copied().filter(|n| super::allowed_somehow(program, n)).collect();
        let denied: Vec<&str> =
            c.syscalls.iter().copied().filter(|n| sysno(n).is_some() && !super::allowed_somehow(program, n)).collect();
        let args_allowed: Vec<String> = c
            .args
            .iter()
            .filter(|(name, i, v, _)| {
                sysno(name).is_some_and(|nr| decide(program, nr, with_arg(*i, *v)) == Decision::Allow)
            })
            .map(|(name, _, _, label)| format!("{name}({label})"))
            .collect();
        let args_denied: Vec<String> = c
            .args
            .iter()
            .filter(|(name, i, v, _)| {
                sysno(name).is_some_and(|nr| decide(program, nr, with_arg(*i, *v)) != Decision::Allow)
            })
            .map(|(name, _, _, label)| format!("{name}({label})"))
            .collect();
        let mut layers = c.layers.clone();
        let mut filtered: Vec<String> = denied.iter().map(|s| s.to_string()).collect();
        filtered.extend(args_denied);
        if !filtered.is_empty() {
            layers.insert(0, format!("the syscall filter denies {}", filtered.join(", ")));
        }
        if !allowed.is_empty() || !args_allowed.is_empty() {
            let mut open: Vec<String> = allowed.iter().map(|s| s.to_string()).collect();
            open.extend(args_allowed);
            let _ = write!(text, "!! NOT STOPPED BY THE SYSCALL FILTER: {} allowed. ", open.join(", "));
        }
        if layers.is_empty() {
            text.push_str("!! nothing stops it");
        } else {
            text.push_str(&layers.join("; "));
        }
        out.push_str("  - ");
        out.push_str(c.what);
        out.push('\n');
        out.push_str("      ");
        wrap(out, 6, 6, &text);
    }
    // Argument-level refusals worth naming that no item above lists.
    let listed = ["socket", "clone", "ioctl", "prlimit64", "mmap", "memfd_create", "shmget"];
    let more: Vec<String> = ARG_PROBES
        .iter()
        .filter(|p| !listed.contains(&p.syscall))
        .filter(|p| sysno(p.syscall).is_some_and(|nr| decide(program, nr, p.args()) != Decision::Allow))
        .map(|p| format!("{}({})", p.syscall, p.label))
        .collect();
    if !more.is_empty() {
        out.push_str("  - use dangerous options of allowed calls\n      ");
        wrap(out, 6, 6, &format!("the syscall filter denies {}", more.join(", ")));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_endings_of_comments() {
        let c = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            common_tail(&c(&["A: one; every other option is denied", "B: two; every other option is denied"])),
            "every other option is denied"
        );
        assert_eq!(common_tail(&c(&["A: x. Only these pass", "B: y. Only these pass"])), "Only these pass");
        assert_eq!(common_tail(&c(&["A: x", "B: y"])), "");
        assert_eq!(common_tail(&c(&["single. entry"])), "");
    }
}
