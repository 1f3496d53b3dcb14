//! `jailctl profile lint NAME`: dangerous grants, each with an id, a severity, the file and
//! line that grants it, and why it is dangerous. minijail's policy linter is the model: it flags
//! what a reviewer must not wave through. Syscall findings come from the compiled program (what
//! the kernel gets), not from reading the policy's text.

use super::{
    allowed_somehow, allows, ceiling, decide, exposed_secrets, rights_at, secret_looking_name, secret_looking_value,
    sysno, under_any, DenialLevel, Severity, Subject, Verdict, ARG_PROBES, CODE_LOADING_ENV, DANGERS, MUST_FILTER,
    SCRATCH_ROOTS, SYSTEM_DIRS,
};
use jail_init::plan::{access, Mount};
use serde::Serialize;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// Stable identifier of the rule ("seccomp.ptrace", "fs.writable-outside-scratch", ...).
    pub id: String,
    pub severity: Severity,
    /// The file that grants it and the line (1-based).
    pub file: PathBuf,
    pub line: usize,
    /// The field or entry: "syscall ptrace", "limits.memory", "filesystem.tmpfs[0].path".
    pub field: String,
    /// What is granted, in words.
    pub message: String,
    /// Why it is dangerous.
    pub why: String,
}

/// Every finding for the profile, most severe first.
pub fn lint(s: &Subject) -> Vec<Finding> {
    let mut f = Vec::new();
    seccomp_findings(s, &mut f);
    filesystem_findings(s, &mut f);
    limit_findings(s, &mut f);
    policy_findings(s, &mut f);
    environment_findings(s, &mut f);
    f.sort_by(|a, b| b.severity.cmp(&a.severity).then(a.file.cmp(&b.file)).then(a.line.cmp(&b.line)));
    f
}

fn syscall_line(s: &Subject, name: &str) -> usize {
    s.policy.rule(name).map(|r| r.line).unwrap_or(1)
}

fn seccomp_findings(s: &Subject, out: &mut Vec<Finding>) {
    let program = s.program();
    let policy_file = s.policy_path();
    let finding = |id: &str, severity: Severity, name: &str, message: String, why: &str| Finding {
        id: id.to_string(),
        severity,
        file: policy_file.clone(),
        line: syscall_line(s, name),
        field: format!("syscall {name}"),
        message,
        why: why.to_string(),
    };
    let exec_allowed = allowed_somehow(program, "execve") || allowed_somehow(program, "execveat");
    for d in DANGERS {
        for name in d.syscalls {
            if sysno(name).is_none() {
                continue;
            }
            if allowed_somehow(program, name) {
                if d.id == "seccomp.memfd" && exec_allowed {
                    out.push(finding(
                        "seccomp.memfd-exec",
                        Severity::High,
                        name,
                        format!("{name} is allowed together with execve/execveat: a script can {} and execute them", d.gives),
                        "an in-memory file is on an internal filesystem no Landlock rule covers, so executing it goes around the execute restriction: any native program can run",
                    ));
                } else {
                    out.push(finding(
                        d.id,
                        d.severity,
                        name,
                        format!("{name} is allowed: a script can {}", d.gives),
                        d.why,
                    ));
                }
            } else if let Some(super::Rule { verdict: Verdict::Deny { level, errno }, .. }) = s.policy.rule(name) {
                if *level != DenialLevel::Violation {
                    out.push(finding(
                        &format!("{}.{}", d.id, level.name()),
                        Severity::Info,
                        name,
                        format!("{name} is denied with {errno} at level {}: attempts are listed but do not make the run a security violation", level.name()),
                        "fine for a probe the runtime makes at start-up (clone3, io_uring) or a fast path with a fallback (splice, memfd_create); a reviewer should know attempts on it are not flagged",
                    ));
                }
            }
        }
    }
    for u in MUST_FILTER {
        if let Some(rule) = s.policy.rule(u.syscall) {
            if rule.verdict == Verdict::Allow {
                out.push(finding(
                    &format!("seccomp.unfiltered-{}", u.syscall),
                    u.severity,
                    u.syscall,
                    format!("{} is allowed without an argument filter", u.syscall),
                    u.why,
                ));
            }
        }
    }
    for p in ARG_PROBES {
        // Allowed without a filter, a syscall of MUST_FILTER has its finding above already.
        let reported = MUST_FILTER.iter().any(|u| u.syscall == p.syscall)
            && s.policy.rule(p.syscall).is_some_and(|r| r.verdict == Verdict::Allow);
        if !reported && allows(program, p.syscall, p.args()) {
            out.push(finding(
                p.id,
                p.severity,
                p.syscall,
                format!("{}({}) is allowed: a script can {}", p.syscall, p.label, p.gives),
                "the argument filter lets a dangerous value through",
            ));
        }
    }
    // Calls answered without effect: nothing reaches the kernel, but scripts see success and the
    // report never names them.
    for r in &s.policy.rules {
        let words = match &r.verdict {
            Verdict::NoEffect => super::no_effect_words(&r.name, &[]),
            Verdict::AllowIf(alts) if alts.iter().any(|a| a.no_effect) => {
                let no_effect: Vec<super::Alternative> = alts.iter().filter(|a| a.no_effect).cloned().collect();
                super::no_effect_words(&r.name, &no_effect)
            }
            _ => continue,
        };
        out.push(finding(
            "seccomp.no-effect",
            Severity::Info,
            &r.name,
            format!("{}: {words}", r.name),
            "the call returns 0 without being run and is not reported: code that relies on it (a lock that excludes another process) gets no protection from it; for locks that is what keeps them off host files, and it means the jail's own processes do not exclude one another",
        ));
    }
    // The compiled program must say what the file says, for every syscall number.
    let mut mismatches = Vec::new();
    for sys in syscalls::Sysno::iter() {
        let nr = sys.id() as u32;
        let mut cases = vec![[0u64; 6]];
        cases.extend(ARG_PROBES.iter().filter(|p| p.syscall == sys.name()).map(|p| p.args()));
        for args in cases {
            if decide(program, nr, args) != s.policy.declared(nr, &args).decision() {
                mismatches.push(sys.name().to_string());
                break;
            }
        }
    }
    if !mismatches.is_empty() {
        out.push(Finding {
            id: "seccomp.compiled-mismatch".into(),
            severity: Severity::High,
            file: policy_file.clone(),
            line: 1,
            field: "syscall".into(),
            message: format!(
                "the compiled filter decides differently from the policy file for {}",
                mismatches.join(", ")
            ),
            why: "what the kernel enforces is not what the reviewer reads; the compiler or the policy loader is wrong"
                .into(),
        });
    }
}

fn filesystem_findings(s: &Subject, out: &mut Vec<Finding>) {
    let fs = &s.profile.file.filesystem;
    let file = s.source_path.clone();
    for (i, t) in fs.tmpfs.iter().enumerate() {
        if !under_any(&t.path, SCRATCH_ROOTS) {
            let system = SYSTEM_DIRS.iter().any(|d| t.path.starts_with(d) || Path::new(d).starts_with(&t.path));
            let (file, line) = super::origin(s, &format!("filesystem.tmpfs[{i}].path"));
            out.push(Finding {
                id: "fs.writable-outside-scratch".into(),
                severity: if system { Severity::High } else { Severity::Medium },
                file,
                line,
                field: format!("filesystem.tmpfs[{i}].path"),
                message: format!("{} is writable (a {} tmpfs)", t.path.display(), t.size),
                why: if system {
                    format!("a writable {} shadows a system directory: files the interpreter, the dynamic loader or libc read from there (ld.so.preload, ld.so.cache, locale and NSS configuration, modules) become the script's to write; scratch belongs under {}", t.path.display(), SCRATCH_ROOTS.join(", "))
                } else {
                    format!("writable paths belong under the scratch roots {}; anything else is a grant to justify", SCRATCH_ROOTS.join(", "))
                },
            });
        }
    }
    // Every host path the profile binds (read-only paths and data directories), from the plan.
    let manifest = &s.interpreter.manifest;
    let interp: Vec<&PathBuf> = std::iter::once(&manifest.binary)
        .chain(std::iter::once(&manifest.loader))
        .chain(manifest.mounts.iter().map(|m| &m.path))
        .collect();
    for m in &s.plan.mounts {
        let Mount::Bind { src, dst, dev: false, .. } = m else { continue };
        if interp.contains(&dst) && src == dst {
            continue;
        }
        let field = super::bind_key(s, dst).unwrap_or_else(|| "filesystem".into());
        let (file, line) = super::origin(s, &field);
        for (area, severity, why) in exposed_secrets(src) {
            out.push(Finding {
                id: "fs.host-secrets".into(),
                severity,
                file: file.clone(),
                line,
                field: field.clone(),
                message: format!("{} of the host is readable in the jail at {} ({area})", src.display(), dst.display()),
                why: format!("it exposes {why}"),
            });
        }
        if is_socket(src) {
            out.push(Finding {
                id: "fs.socket".into(),
                severity: Severity::High,
                file: file.clone(),
                line,
                field: field.clone(),
                message: format!("{} is a socket", src.display()),
                why: "a host service's socket in the jail (docker.sock gives root on the host); read-only does not stop connecting to it".into(),
            });
        }
        if let Some(hit) = interp.iter().find(|p| p.starts_with(dst) || dst.starts_with(p)) {
            out.push(Finding {
                id: "fs.shadows-interpreter".into(),
                severity: Severity::High,
                file: file.clone(),
                line,
                field: field.clone(),
                message: format!("{} is mounted over the interpreter's {}", dst.display(), hit.display()),
                why: "a later mount hides the pinned interpreter's files: the jail would run or import code the manifest does not pin".into(),
            });
        }
    }
    for m in &manifest.mounts {
        for (area, severity, why) in exposed_secrets(&m.path) {
            out.push(Finding {
                id: "fs.host-secrets".into(),
                severity,
                file: s.interpreter.path.clone(),
                line: 1,
                field: format!("mount {}", m.path.display()),
                message: format!("the interpreter manifest binds {} ({area})", m.path.display()),
                why: format!("it exposes {why}"),
            });
        }
    }
    let allowed_exec = [&s.interpreter.manifest.binary, &s.interpreter.manifest.loader];
    for r in &s.plan.landlock.rules {
        if r.access & access::EXECUTE != 0 && !allowed_exec.contains(&&r.path) {
            out.push(Finding {
                id: "landlock.execute-beyond-interpreter".into(),
                severity: Severity::High,
                file: file.clone(),
                line: 1,
                field: format!("landlock rule {}", r.path.display()),
                message: format!("Landlock grants execute on {}", r.path.display()),
                why: "only the pinned interpreter and its loader may be executed; anything else runs programs the manifest does not pin".into(),
            });
        }
        let write = access::WRITE_FILE | access::MAKE_REG | access::MAKE_DIR | access::REMOVE_FILE | access::REMOVE_DIR;
        let scratch = fs.tmpfs.iter().any(|t| r.path.starts_with(&t.path));
        let device = r.path.starts_with("/dev");
        if r.access & write != 0 && !scratch && !device {
            out.push(Finding {
                id: "landlock.write-outside-scratch".into(),
                severity: Severity::High,
                file: file.clone(),
                line: 1,
                field: format!("landlock rule {}", r.path.display()),
                message: format!("Landlock grants {} on {}", super::rights_words(r.access), r.path.display()),
                why: "write rights belong to the scratch mounts only".into(),
            });
        }
    }
    // (Bind mounts are read-only by construction: jail-init has no writable bind.)
    for m in &s.plan.mounts {
        if let Mount::Bind { dst, exec: true, dev: false, .. } = m {
            if rights_at(&s.plan, dst) & access::EXECUTE == 0
                && s.profile.file.filesystem.read_only.iter().any(|r| r.at.as_ref().unwrap_or(&r.path) == dst)
            {
                out.push(Finding {
                    id: "fs.exec-mount".into(),
                    severity: Severity::Medium,
                    file: file.clone(),
                    line: 1,
                    field: format!("mount {}", dst.display()),
                    message: format!("code can be mapped from {}", dst.display()),
                    why: "a profile's read-only paths are data; code belongs to the interpreter manifest".into(),
                });
            }
        }
    }
    // On a kernel at the profile's minimum ABI, every newer right must be covered by another
    // layer (plan::landlock_coverage); where one is not, such hosts refuse every run.
    let abi = s.profile.file.landlock.minimum_abi;
    if let Err(uncovered) = crate::plan::landlock_coverage(&s.profile, abi) {
        let (file, line) = super::origin(s, "landlock.minimum_abi");
        out.push(Finding {
            id: "landlock.abi".into(),
            severity: Severity::Low,
            file,
            line,
            field: "landlock.minimum_abi".into(),
            message: format!("minimum Landlock ABI {abi} admits kernels on which this profile cannot run: {uncovered}"),
            why: "a right newer than minimum_abi must be enforced by another layer where the kernel lacks it; otherwise those hosts refuse every run (fail closed), so minimum_abi promises more than the profile can keep".into(),
        });
    }
}

fn is_socket(p: &Path) -> bool {
    use std::os::unix::fs::FileTypeExt;
    std::fs::metadata(p).map(|m| m.file_type().is_socket()).unwrap_or(false)
}

fn limit_findings(s: &Subject, out: &mut Vec<Finding>) {
    let mut check = |key: &str, value: u64, shown: String, (file, line): (PathBuf, usize), field: String| {
        let Some(c) = ceiling(key) else { return };
        let severity = if value > c.high {
            Severity::High
        } else if value > c.medium {
            Severity::Medium
        } else {
            return;
        };
        let ceiling = if value > c.high { c.high } else { c.medium };
        let shown_ceiling = match key {
            "memory" | "stdout" | "stderr" | "result" | "file_size" | "input" | "script" | "tmpfs" => {
                super::bytes(ceiling)
            }
            _ => ceiling.to_string(),
        };
        let message = format!("{field} is {shown}, above {shown_ceiling}");
        out.push(Finding { id: format!("limits.{key}"), severity, file, line, field, message, why: c.why.to_string() });
    };
    for (key, value, shown) in super::limit_values(&s.profile.file.limits) {
        check(key, value, shown, super::origin(s, &format!("limits.{key}")), format!("limits.{key}"));
    }
    for (i, t) in s.profile.file.filesystem.tmpfs.iter().enumerate() {
        check(
            "tmpfs",
            t.size.0,
            format!("{} for {}", t.size, t.path.display()),
            super::origin(s, &format!("filesystem.tmpfs[{i}].size")),
            format!("filesystem.tmpfs[{i}].size"),
        );
        check(
            "tmpfs_inodes",
            t.inodes,
            format!("{} for {}", t.inodes, t.path.display()),
            super::origin(s, &format!("filesystem.tmpfs[{i}].inodes")),
            format!("filesystem.tmpfs[{i}].inodes"),
        );
    }
}

fn policy_findings(s: &Subject, out: &mut Vec<Finding>) {
    let lp = &s.profile.file.language_policy;
    if lp.dynamic_code && lp.blocked_modules.is_empty() {
        out.push(Finding {
            id: "policy.off".into(),
            severity: Severity::Low,
            file: super::origin(s, "language_policy.dynamic_code").0,
            line: super::origin(s, "language_policy.dynamic_code").1,
            field: "language_policy".into(),
            message: "the language policy layer is off: no blocked modules, dynamic code allowed".into(),
            why: "the kernel jail is the boundary and is unchanged; without the policy layer refusals come as raw errors (EPERM) instead of clean messages, and nothing is reported at the language level".into(),
        });
    }
}

fn environment_findings(s: &Subject, out: &mut Vec<Finding>) {
    let isolated = s.interpreter.manifest.args.iter().any(|a| a == "-I" || a == "-E");
    for (k, v) in &s.profile.file.environment {
        let (file, line) = super::origin(s, &format!("environment.{k}"));
        let mut push = |id: &str, severity: Severity, message: String, why: String| {
            out.push(Finding {
                id: id.into(),
                severity,
                file: file.clone(),
                line,
                field: format!("environment.{k}"),
                message,
                why,
            });
        };
        if let Some((_, why)) = CODE_LOADING_ENV.iter().find(|(n, _)| n == k) {
            let python = k.starts_with("PYTHON");
            let severity = if k.starts_with("LD_") || k == "NODE_OPTIONS" {
                Severity::High
            } else if python && isolated {
                Severity::Low
            } else {
                Severity::Medium
            };
            let note =
                if python && isolated { " (the interpreter runs with -I/-E, which ignores it today)" } else { "" };
            push(
                "env.code-loading",
                severity,
                format!("{k}={v} changes what code the interpreter loads{note}"),
                why.to_string(),
            );
        }
        if secret_looking_name(k) || secret_looking_value(v) {
            push(
                "env.secret",
                Severity::High,
                format!("{k} looks like a secret"),
                "every script run with this profile can read and return it; secrets do not belong in a profile".into(),
            );
        }
    }
}

/// Counts by severity.
pub fn counts(findings: &[Finding]) -> [usize; 4] {
    let mut c = [0; 4];
    for f in findings {
        c[f.severity as usize] += 1;
    }
    c
}

pub fn render(s: &Subject, findings: &[Finding]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "lint {} ({}; seccomp {}; interpreter {})",
        s.name(),
        s.source_path.display(),
        s.policy.path.display(),
        s.interpreter.path.display()
    );
    for f in findings {
        let _ = writeln!(
            out,
            "  {:<7} {:<34} {}:{}  {}",
            f.severity.as_str().to_uppercase(),
            f.id,
            f.file.display(),
            f.line,
            f.field
        );
        let _ = writeln!(out, "          {}", f.message);
        let _ = writeln!(out, "          why: {}", f.why);
    }
    let [info, low, medium, high] = counts(findings);
    if findings.is_empty() {
        let _ = writeln!(out, "clean: no findings");
    } else if info == findings.len() {
        let _ = writeln!(out, "clean: {info} info notes, no findings above info");
    } else {
        let _ = writeln!(out, "{} findings: {high} high, {medium} medium, {low} low, {info} info", findings.len());
    }
    out
}
