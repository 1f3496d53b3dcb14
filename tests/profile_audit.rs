//! `jailctl profile explain | diff | lint | verify` on the shipped profiles and on copies widened
//! on purpose: the shipped ones read right, lint clean and verify in real jails; a widened copy
//! (a writable /var, the host's /etc readable, ptrace allowed, 64 GiB of memory) is caught by
//! both lint and verify.
// Test code: a failed unwrap is a failed test, with its location.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::*;

use jaild::audit::{self, diff::Direction, lint, Severity};
use jaild::verify::{self, Outcome};
use jaild::Config;
use std::path::{Path, PathBuf};
use std::process::Command;

fn shipped() -> Vec<String> {
    jaild::profile::list(&repo().join("profiles"))
}

fn config_for(profiles: &Path) -> Config {
    let mut c = config();
    c.profiles_dir = profiles.to_path_buf();
    c
}

/// A temp dir holding a copy of profiles/.
struct Copy {
    dir: tempfile::TempDir,
    profiles: PathBuf,
}

fn copy_profiles() -> Copy {
    let dir = tempfile::tempdir().unwrap();
    let profiles = dir.path().join("profiles");
    copy_dir(&repo().join("profiles"), &profiles);
    Copy { dir, profiles }
}

/// Replaces the one occurrence of `from` in `path` by `to`.
fn edit(path: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(path).unwrap();
    assert_eq!(text.matches(from).count(), 1, "{from:?} must occur exactly once in {}", path.display());
    std::fs::write(path, text.replacen(from, to, 1)).unwrap();
}

fn append(path: &Path, more: &str) {
    let mut text = std::fs::read_to_string(path).unwrap();
    text.push_str(more);
    std::fs::write(path, text).unwrap();
}

/// Inserts `block` (whole tables) before the `[network]` table of a profile.
fn insert_tables(path: &Path, block: &str) {
    edit(path, "\n[network]", &format!("\n{block}\n[network]"));
}

const PTRACE: &str =
    "\n[[syscall]]\nname = \"ptrace\"\naction = \"allow\"\ncomment = \"widened on purpose: tracing\"\n";

/// The python profile widened beyond the baseline in four ways.
fn widen_python(profiles: &Path) {
    let p = profiles.join("python.toml");
    edit(&p, "memory = \"128MiB\"", "memory = \"64GiB\"");
    insert_tables(
        &p,
        "[[filesystem.tmpfs]]\npath = \"/var\"\nsize = \"1MiB\"\ninodes = 64\n\n[[filesystem.read_only]]\npath = \"/etc\"\nat = \"/host-etc\"\ncomment = \"widened on purpose: the host's configuration\"\n",
    );
    append(&profiles.join("seccomp/python.toml"), PTRACE);
}

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

fn jailctl(profiles: &Path, args: &[&str]) -> Out {
    let out = Command::new(env!("CARGO_BIN_EXE_jailctl"))
        .args(args)
        .env("JAILD_PROFILES", profiles)
        .env("JAILD_INTERPRETERS", repo().join("interpreters"))
        .current_dir(repo())
        .output()
        .unwrap();
    Out {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

// ------------------------------------------------------------------------------------------
// explain

/// The explain text holds `words` once its line breaks and alignment are taken out.
fn flat_has(text: &str, words: &str) -> bool {
    text.split_whitespace().collect::<Vec<_>>().join(" ").contains(words)
}

#[test]
fn explain_puts_every_shipped_profile_in_words() {
    for name in shipped() {
        let s = audit::load(&config(), &name).unwrap();
        let text = audit::explain::explain(&s);
        for section in [
            "can READ",
            "can WRITE",
            "can EXECUTE",
            "System calls",
            "Network",
            "Limits",
            "Language policy",
            "Environment",
            "CANNOT do",
        ] {
            assert!(text.contains(section), "{name}: no section {section:?}:\n{text}");
        }
        assert!(!text.contains("NOT STOPPED"), "{name}: a capability the baseline denies is open:\n{text}");
        // Every syscall entry of the policy, with the group headings of the file.
        for rule in &s.policy.rules {
            assert!(text.contains(&format!("    {} ", rule.name)), "{name}: syscall {} is not explained", rule.name);
        }
        assert!(text.contains("File I/O"), "{name}: the policy's headings are not used");
        assert!(
            text.contains("ioctl               only TCGETS, TIOCGWINSZ, FIONBIO, FIOCLEX, FIONCLEX"),
            "{name}:\n{text}"
        );
        assert!(text.contains("socket              only AF_UNIX"), "{name}");
        assert!(text.contains("clone               only flags without any of CLONE_NEWTIME"), "{name}");
        // Each denial says what it means for the run (its on_denial level).
        assert!(
            flat_has(&text, "memfd_create DENIED with ENOSYS, reported: listed, but the run's status is what ended it"),
            "{name}:\n{text}"
        );
        assert!(flat_has(&text, "clone3 DENIED with ENOSYS, quietly: listed as a routine probe"), "{name}:\n{text}");
        assert!(flat_has(&text, "shmget DENIED with EPERM, reported as a security violation"), "{name}:\n{text}");
        // What the kernel gets: the interpreter and its loader are the only executables.
        let m = &s.interpreter.manifest;
        let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(
            flat.contains(&format!("{} and {} — nothing else", m.binary.display(), m.loader.display())),
            "{name}:\n{text}"
        );
        for (k, v) in &s.profile.file.environment {
            assert!(text.contains(k) && text.contains(v.as_str()), "{name}: environment {k} missing");
        }
        for blocked in &s.profile.file.language_policy.blocked_modules {
            assert!(text.contains(blocked.as_str()), "{name}: blocked module {blocked} missing");
        }
        let out = jailctl(&repo().join("profiles"), &["profile", "explain", &name]);
        assert_eq!(out.code, 0, "{}", out.stderr);
        assert_eq!(out.stdout, text);
    }
}

#[test]
fn explain_shows_a_widened_copy_for_what_it_is() {
    let c = copy_profiles();
    widen_python(&c.profiles);
    let s = audit::load(&config_for(&c.profiles), "python").unwrap();
    let text = audit::explain::explain(&s);
    assert!(text.contains("NOT STOPPED BY THE SYSCALL FILTER: ptrace allowed"), "{text}");
    assert!(text.contains("/host-etc") && text.contains("(host /etc)"), "{text}");
    let write = &text[text.find("can WRITE").unwrap()..text.find("can EXECUTE").unwrap()];
    assert!(write.contains("/var "), "/var is not listed as writable:\n{write}");
    assert!(text.contains("memory        64GiB"), "{text}");
}

// ------------------------------------------------------------------------------------------
// lint

#[test]
fn lint_finds_nothing_above_info_in_the_shipped_profiles() {
    for name in shipped() {
        let s = audit::load(&config(), &name).unwrap();
        let findings = lint::lint(&s);
        let serious: Vec<_> = findings.iter().filter(|f| f.severity > Severity::Info).collect();
        assert!(serious.is_empty(), "{name}: {serious:#?}");
    }
    let out = jailctl(&repo().join("profiles"), &["profile", "lint"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    for name in shipped() {
        assert!(out.stdout.contains(&format!("lint {name} ")), "{}", out.stdout);
    }
    assert!(out.stdout.contains("clean"), "{}", out.stdout);
}

fn finding<'a>(findings: &'a [lint::Finding], id: &str) -> &'a lint::Finding {
    findings.iter().find(|f| f.id == id).unwrap_or_else(|| panic!("no finding {id}: {findings:#?}"))
}

fn line_containing(path: &Path, needle: &str) -> usize {
    let text = std::fs::read_to_string(path).unwrap();
    text.lines()
        .position(|l| l.contains(needle))
        .map(|i| i + 1)
        .unwrap_or_else(|| panic!("{needle:?} not in {}", path.display()))
}

#[test]
fn lint_flags_the_widened_copy_with_severity_file_and_line() {
    let c = copy_profiles();
    widen_python(&c.profiles);
    let s = audit::load(&config_for(&c.profiles), "python").unwrap();
    let findings = lint::lint(&s);
    let profile = c.profiles.join("python.toml");
    let policy = c.profiles.join("seccomp/python.toml");

    let f = finding(&findings, "fs.writable-outside-scratch");
    assert_eq!((f.severity, &f.file), (Severity::High, &profile));
    assert_eq!(f.line, line_containing(&profile, "path = \"/var\""), "{f:?}");
    assert!(f.message.contains("/var is writable"), "{f:?}");

    let f = finding(&findings, "fs.host-secrets");
    assert_eq!((f.severity, &f.file), (Severity::High, &profile));
    assert_eq!(f.line, line_containing(&profile, "at = \"/host-etc\"") - 1, "{f:?}");

    let f = finding(&findings, "seccomp.ptrace");
    assert_eq!((f.severity, &f.file, f.field.as_str()), (Severity::High, &policy, "syscall ptrace"));
    let text = std::fs::read_to_string(&policy).unwrap();
    let last_entry =
        text.lines().enumerate().filter(|(_, l)| l.trim() == "[[syscall]]").map(|(i, _)| i + 1).last().unwrap();
    assert_eq!(f.line, last_entry, "{f:?}");

    let f = finding(&findings, "limits.memory");
    assert_eq!((f.severity, f.line), (Severity::High, line_containing(&profile, "memory = \"64GiB\"")), "{f:?}");
    assert!(f.why.contains("memory"), "{f:?}");

    let out = jailctl(&c.profiles, &["profile", "lint", "python"]);
    assert_eq!(out.code, 1, "lint must fail on high findings: {}{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("HIGH")
            && out.stdout.contains("seccomp.ptrace")
            && out.stdout.contains(&format!("{}:{}", policy.display(), last_entry)),
        "{}",
        out.stdout
    );
    let json = jailctl(&c.profiles, &["profile", "lint", "--json", "python"]);
    assert_eq!(json.code, 1);
    let v: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert!(
        v[0]["findings"].as_array().unwrap().iter().any(|f| f["id"] == "seccomp.ptrace" && f["severity"] == "high"),
        "{v}"
    );
    // A lower bar fails the shipped profiles on nothing but their info notes.
    assert_eq!(jailctl(&repo().join("profiles"), &["profile", "lint", "--fail-on", "low"]).code, 0);
    assert_eq!(jailctl(&repo().join("profiles"), &["profile", "lint", "--fail-on", "info", "python"]).code, 1);
}

/// A policy that allows most of what the baseline forbids, and a profile around it.
fn dangerous_profile(profiles: &Path) {
    let mut policy = String::from("schema = 1\ninterpreter = \"python3.11\"\ndescription = \"everything a reviewer must not wave through\"\n\n[default]\nerrno = \"EPERM\"\n");
    for name in [
        "read",
        "write",
        "socket",
        "clone",
        "clone3",
        "ioctl",
        "prctl",
        "fcntl",
        "madvise",
        "memfd_create",
        "execve",
        "execveat",
        "io_uring_setup",
        "keyctl",
        "personality",
        "bpf",
        "mount",
        "unshare",
        "userfaultfd",
        "process_vm_readv",
        "perf_event_open",
        "open_by_handle_at",
        "bind",
        "acct",
        "landlock_create_ruleset",
    ] {
        policy.push_str(&format!("\n[[syscall]]\nname = \"{name}\"\naction = \"allow\"\ncomment = \"on purpose\"\n"));
    }
    policy.push_str(
        "\n[[syscall]]\nname = \"ptrace\"\naction = \"errno\"\nquiet = true\ncomment = \"denied but quiet\"\n",
    );
    std::fs::write(profiles.join("seccomp/danger.toml"), policy).unwrap();
    let p = profiles.join("danger.toml");
    std::fs::copy(profiles.join("python.toml"), &p).unwrap();
    edit(&p, "name = \"python\"", "name = \"danger\"");
    edit(&p, "policy = \"seccomp/python.toml\"", "policy = \"seccomp/danger.toml\"");
    edit(&p, "pids = 16 ", "pids = 5000 ");
    edit(&p, "stdout = \"1MiB\"", "stdout = \"512MiB\"");
    edit(&p, "open_files = 64 ", "open_files = 4096 ");
    edit(&p, "minimum_abi = 2", "minimum_abi = 3");
    let text = std::fs::read_to_string(&p).unwrap();
    let text: String = text
        .lines()
        .map(|l| if l.starts_with("blocked_modules") { "blocked_modules = []".to_string() } else { l.to_string() })
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(&p, text + "\n").unwrap();
    insert_tables(&p, "[[filesystem.tmpfs]]\npath = \"/results\"\nsize = \"1MiB\"\ninodes = 64\n\n[[filesystem.read_only]]\npath = \"/var/lib\"\nat = \"/state\"\ncomment = \"on purpose\"\n\n[[filesystem.read_only]]\npath = \"/usr/lib/x86_64-linux-gnu\"\nat = \"/usr/lib/python3.11\"\ncomment = \"over the standard library\"\n");
    append(&p, "LD_PRELOAD = \"/tmp/evil.so\"\nNODE_OPTIONS = \"--require /tmp/x.js\"\nPYTHONPATH = \"/tmp\"\nAPI_TOKEN = \"x\"\nDB = \"postgres://app:hunter2@db/prod\"\n");
}

#[test]
fn lint_knows_the_catalogue_of_dangerous_grants() {
    let c = copy_profiles();
    dangerous_profile(&c.profiles);
    let s = audit::load(&config_for(&c.profiles), "danger").unwrap();
    let findings = lint::lint(&s);
    let expect = [
        ("seccomp.unfiltered-socket", Severity::High),
        ("seccomp.unfiltered-clone", Severity::High),
        ("seccomp.unfiltered-ioctl", Severity::High),
        ("seccomp.unfiltered-prctl", Severity::Medium),
        ("seccomp.unfiltered-fcntl", Severity::Low),
        ("seccomp.unfiltered-madvise", Severity::Low),
        ("seccomp.clone3", Severity::High),
        ("seccomp.memfd-exec", Severity::High),
        ("seccomp.execveat", Severity::Medium),
        ("seccomp.io-uring", Severity::High),
        ("seccomp.keyring", Severity::High),
        ("seccomp.personality", Severity::Medium),
        ("seccomp.bpf", Severity::High),
        ("seccomp.mount", Severity::High),
        ("seccomp.namespaces", Severity::High),
        ("seccomp.userfaultfd", Severity::High),
        ("seccomp.process-memory", Severity::High),
        ("seccomp.perf", Severity::High),
        ("seccomp.file-handles", Severity::High),
        ("seccomp.privileged", Severity::Medium),
        ("seccomp.serve", Severity::Low),
        ("seccomp.landlock", Severity::Info),
        ("seccomp.ptrace.quiet", Severity::Info),
        ("fs.writable-outside-scratch", Severity::Medium),
        ("fs.host-secrets", Severity::Medium),
        ("fs.shadows-interpreter", Severity::High),
        ("limits.pids", Severity::High),
        ("limits.stdout", Severity::High),
        ("limits.open_files", Severity::Medium),
        ("landlock.abi", Severity::Low),
        ("policy.off", Severity::Low),
        ("env.code-loading", Severity::High),
        ("env.secret", Severity::High),
    ];
    for (id, severity) in expect {
        let hits: Vec<&lint::Finding> = findings.iter().filter(|f| f.id == id).collect();
        assert!(!hits.is_empty(), "no finding {id}: {findings:#?}");
        assert!(hits.iter().any(|f| f.severity == severity), "{id}: expected {severity:?}, got {hits:#?}");
        for f in hits {
            assert!(f.line >= 1 && !f.why.is_empty() && !f.message.is_empty(), "{f:?}");
        }
    }
    // PYTHONPATH is ignored by `python3.11 -I`: low; the secret-looking variables are named.
    let pythonpath = findings.iter().find(|f| f.field == "environment.PYTHONPATH").unwrap();
    assert_eq!(pythonpath.severity, Severity::Low);
    for var in ["API_TOKEN", "DB"] {
        assert!(findings.iter().any(|f| f.id == "env.secret" && f.field == format!("environment.{var}")), "{var}");
    }
    let env_line = findings.iter().find(|f| f.field == "environment.LD_PRELOAD").unwrap();
    assert_eq!(env_line.line, line_containing(&c.profiles.join("danger.toml"), "LD_PRELOAD"));
}

// ------------------------------------------------------------------------------------------
// diff

#[test]
fn diff_of_a_profile_with_itself_is_empty_and_exits_0() {
    let profiles = repo().join("profiles");
    for name in shipped() {
        let a = audit::load(&config(), &name).unwrap();
        let b = audit::load(&config(), repo().join(format!("profiles/{name}.toml")).to_str().unwrap()).unwrap();
        assert!(audit::diff::diff(&a, &b).is_empty(), "{name}");
    }
    let out = jailctl(&profiles, &["profile", "diff", "python", "profiles/python.toml"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("no differences"), "{}", out.stdout);
    // The same file saved elsewhere under another name (the seccomp policy is then found in
    // the profiles directory).
    let dir = tempfile::tempdir().unwrap();
    let other = dir.path().join("python-new.toml");
    std::fs::copy(profiles.join("python.toml"), &other).unwrap();
    let out = jailctl(&profiles, &["profile", "diff", "profiles/python.toml", other.to_str().unwrap()]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    // A profile that extends another, saved elsewhere: the parent and its policy are found in
    // the profiles directory, and findings name the real files.
    let data = dir.path().join("python-data-new.toml");
    std::fs::copy(profiles.join("python-data.toml"), &data).unwrap();
    let out = jailctl(&profiles, &["profile", "diff", "python-data", data.to_str().unwrap()]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let s = audit::load(&config(), data.to_str().unwrap()).unwrap();
    assert_eq!(s.policy_path(), std::fs::canonicalize(profiles.join("seccomp/python.toml")).unwrap());
    let (file, _) = audit::origin(&s, "limits.memory");
    assert_eq!(
        file,
        std::fs::canonicalize(profiles.join("python.toml")).unwrap(),
        "an inherited value points into the parent"
    );
}

#[test]
fn diff_lists_every_grant_added_or_removed_and_every_limit_changed() {
    let profiles = repo().join("profiles");
    let dir = tempfile::tempdir().unwrap();
    let new = dir.path().join("python-new.toml");
    std::fs::copy(profiles.join("python.toml"), &new).unwrap();
    std::fs::create_dir(dir.path().join("seccomp")).unwrap();
    let policy = dir.path().join("seccomp/python.toml");
    std::fs::copy(profiles.join("seccomp/python.toml"), &policy).unwrap();
    edit(&new, "memory = \"128MiB\"", "memory = \"256MiB\"");
    edit(&new, "pids = 16 ", "pids = 8 ");
    insert_tables(&new, "[[filesystem.tmpfs]]\npath = \"/var\"\nsize = \"1MiB\"\ninodes = 64\n");
    edit(&new, "\"ctypes\", ", "");
    edit(&new, "LANG = \"C.UTF-8\"", "LANG = \"C.UTF-8\"\nFOO = \"bar\"");
    edit(&policy, "value = 0x5421 }]  # FIONBIO", "value = 0x5412 }]  # TIOCSTI");
    append(&policy, PTRACE);

    let a = audit::load(&config(), "python").unwrap();
    let b = audit::load(&config(), new.to_str().unwrap()).unwrap();
    let changes = audit::diff::diff(&a, &b);
    let find = |section: &str, key: &str| {
        changes
            .iter()
            .find(|c| c.section == section && c.key == key)
            .unwrap_or_else(|| panic!("no change {section}.{key}: {changes:#?}"))
    };
    let c = find("limits", "memory");
    assert_eq!((c.old.as_deref(), c.new.as_deref(), c.direction), (Some("128MiB"), Some("256MiB"), Direction::Widens));
    let c = find("limits", "pids");
    assert_eq!((c.old.as_deref(), c.new.as_deref(), c.direction), (Some("16"), Some("8"), Direction::Narrows));
    let c = find("filesystem", "/var");
    assert_eq!((c.old.as_deref(), c.direction), (None, Direction::Widens));
    assert!(
        c.new.as_deref().unwrap().contains("writable tmpfs 1MiB")
            && c.new.as_deref().unwrap().contains("Landlock: read files"),
        "{c:?}"
    );
    let c = find("seccomp", "ptrace");
    assert_eq!((c.new.as_deref(), c.direction), (Some("allowed"), Direction::Widens));
    let c = find("seccomp", "ioctl");
    assert!(c.old.as_deref().unwrap().contains("FIONBIO") && c.new.as_deref().unwrap().contains("TIOCSTI"), "{c:?}");
    assert_eq!(c.direction, Direction::Widens, "TIOCSTI opens a dangerous request: {c:?}");
    let c = find("language_policy", "blocked module ctypes");
    assert_eq!(c.direction, Direction::Widens);
    let c = find("environment", "FOO");
    assert_eq!((c.old.as_deref(), c.new.as_deref()), (None, Some("bar")));
    assert!(
        !changes.iter().any(|c| c.key == "compiled filter"),
        "the compiled programs differ only where the entries do: {changes:#?}"
    );
    assert_eq!(changes.len(), 7, "{changes:#?}");

    let out = jailctl(&profiles, &["profile", "diff", "python", new.to_str().unwrap()]);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    for line in [
        "+ memory: 128MiB -> 256MiB",
        "- pids: 16 -> 8",
        "+ ptrace: denied (EPERM, the default) -> allowed",
        "+ blocked module ctypes: blocked -> importable",
        "~ FOO: added: bar",
    ] {
        assert!(out.stdout.contains(line), "{line:?} not in:\n{}", out.stdout);
    }
    let json = jailctl(&profiles, &["profile", "diff", "--json", "python", new.to_str().unwrap()]);
    assert_eq!(json.code, 1);
    let v: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 7);
    // A profile that does not load is trouble, not a difference.
    let out = jailctl(&profiles, &["profile", "diff", "python", "no-such-profile"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
}

#[test]
fn locks_without_effect_and_huge_pages_are_explained_linted_and_diffed() {
    // explain: what an auditor reads about the lock calls and the ways into huge pages.
    let s = audit::load(&config(), "python").unwrap();
    let text = audit::explain::explain(&s);
    assert!(text.contains("    flock               succeeds without effect (locks would reach host inodes)"), "{text}");
    assert!(text.contains("F_SETLK, F_SETLKW, F_OFD_SETLK, F_OFD_SETLKW: succeed without effect (locks"), "{text}");
    assert!(text.contains("    mmap                only flags without any of MAP_HUGETLB"), "{text}");
    assert!(text.contains("2 succeed without effect"), "{text}");
    assert!(
        text.contains("the syscall filter denies mmap(MAP_HUGETLB), memfd_create(MFD_HUGETLB), shmget(SHM_HUGETLB)"),
        "{text}"
    );
    let js = audit::explain::explain(&audit::load(&config(), "javascript").unwrap());
    assert!(js.contains("F_SETLK, F_SETLKW, F_OFD_SETLK, F_OFD_SETLKW: succeed without effect"), "{js}");
    assert!(!js.contains("    flock "), "flock has no entry in the node policy (denied by default):\n{js}");

    // lint: an info note per syscall with no_effect entries, at the entry's line.
    let findings = lint::lint(&s);
    let notes: Vec<&lint::Finding> = findings.iter().filter(|f| f.id == "seccomp.no-effect").collect();
    assert_eq!(notes.len(), 2, "{notes:#?}");
    let policy = repo().join("profiles/seccomp/python.toml");
    let flock = notes.iter().find(|f| f.field == "syscall flock").unwrap();
    assert_eq!((flock.severity, flock.line), (Severity::Info, line_containing(&policy, "name = \"flock\"") - 1));
    assert!(flock.message.contains("succeeds without effect (locks would reach host inodes)"), "{flock:?}");

    // A copy that allows MAP_HUGETLB is a high finding.
    let c = copy_profiles();
    edit(
        &c.profiles.join("seccomp/python.toml"),
        "args = [{ index = 3, op = \"masked_eq\", mask = 0x40000, value = 0 }]  # flags without MAP_HUGETLB\n",
        "",
    );
    let open = audit::load(&config_for(&c.profiles), "python").unwrap();
    let open_findings = lint::lint(&open);
    let f = finding(&open_findings, "seccomp.mmap-hugetlb");
    assert_eq!(f.severity, Severity::High, "{f:?}");
    assert!(audit::explain::explain(&open).contains("NOT STOPPED BY THE SYSCALL FILTER: mmap(MAP_HUGETLB) allowed"));

    // diff: turning locks from allowed into no_effect narrows; from denied into no_effect is
    // neither (nothing reaches the kernel either way).
    let old = copy_profiles();
    let policy = old.profiles.join("seccomp/python.toml");
    edit(&policy, "name = \"flock\"\naction = \"no_effect\"", "name = \"flock\"\naction = \"allow\"");
    let a = audit::load(&config_for(&old.profiles), "python").unwrap();
    let changes = audit::diff::diff(&a, &s);
    let c = changes.iter().find(|c| c.key == "flock").unwrap_or_else(|| panic!("{changes:#?}"));
    assert_eq!((c.old.as_deref(), c.direction), (Some("allowed"), Direction::Narrows), "{c:?}");
    assert_eq!(c.new.as_deref(), Some("succeeds without effect (locks would reach host inodes)"));
    let denied = copy_profiles();
    let policy = denied.profiles.join("seccomp/python.toml");
    edit(&policy, "name = \"flock\"\naction = \"no_effect\"", "name = \"flock\"\naction = \"errno\"");
    let a = audit::load(&config_for(&denied.profiles), "python").unwrap();
    let changes = audit::diff::diff(&a, &s);
    let c = changes.iter().find(|c| c.key == "flock").unwrap_or_else(|| panic!("{changes:#?}"));
    assert_eq!(c.direction, Direction::Changes, "{c:?}");
    assert!(!changes.iter().any(|c| c.key == "compiled filter"), "{changes:#?}");
}

// ------------------------------------------------------------------------------------------
// verify

fn assert_area(v: &verify::Verification, area: &str) {
    assert!(v.checks.iter().any(|c| c.area == area), "{}: no {area} claims", v.profile);
}

#[test]
fn verify_proves_every_shipped_profile_in_real_jails() {
    require_jails!();
    for name in shipped() {
        let v = verify::verify(&config(), &name).unwrap();
        let text = verify::render(&v, false);
        assert!(v.passed(), "{name}:\n{}", verify::render(&v, true));
        assert_eq!(v.count(Outcome::Fail) + v.count(Outcome::Exceeds), 0, "{text}");
        for area in ["filesystem", "execute", "network", "processes", "identity", "environment", "syscalls", "limits"] {
            assert_area(&v, area);
        }
        // Claim by claim, declared vs observed.
        for c in &v.checks {
            assert!(
                text.contains(&format!(
                    "{:<7}  {}  declared: {}  observed: {}",
                    "PASS", c.claim, c.declared, c.observed
                )) || c.outcome == Outcome::Skip,
                "{c:?}"
            );
        }
        let claim = |prefix: &str| {
            v.checks
                .iter()
                .find(|c| c.claim.starts_with(prefix))
                .unwrap_or_else(|| panic!("{name}: no claim {prefix:?}:\n{text}"))
        };
        assert!(claim("syscall ptrace denied").observed.contains("filter: denied"), "{text}");
        assert!(claim("may not use more than").observed.contains("memory_limit"), "{text}");
        let files = v.checks.iter().find(|c| c.claim.ends_with("open files")).unwrap();
        assert!(files.observed.contains("then EMFILE"), "{files:?}");
        let pids = v.checks.iter().find(|c| c.claim.ends_with("processes and threads")).unwrap();
        assert!(pids.observed.contains("pids_limit"), "{pids:?}");
        assert!(claim("no network: TCP to 1.1.1.1:53").observed.contains("EPERM"), "{text}");
        if v.language == jaild::profile::Language::Python {
            // Denied syscalls are made for real and found in the report by name.
            assert!(claim("syscall ptrace denied").observed.contains("live: EPERM, reported as \"ptrace\""), "{text}");
            assert!(claim("socket(AF_INET) denied").observed.contains("reported as \"socket(AF_INET)\""), "{text}");
            assert!(claim("may not execute an in-memory file").observed.contains("memfd_create: ENOSYS"), "{text}");
            assert!(claim("syscall ptrace denied").observed.contains("at level violation"), "{text}");
        } else {
            assert!(claim("socket(AF_INET) denied").observed.contains("when the network probes tried it"), "{text}");
        }
        assert!(v.elapsed_ms < 30_000, "{name}: verify took {} ms", v.elapsed_ms);
        eprintln!("{name}: {} claims verified in {} ms", v.checks.len(), v.elapsed_ms);
    }
    let out = jailctl(&repo().join("profiles"), &["profile", "verify", "--failures-only", "python"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("verified: every claim holds") && !out.stdout.contains("PASS "), "{}", out.stdout);
}

#[test]
fn verify_catches_the_widened_copy() {
    require_jails!();
    let c = copy_profiles();
    widen_python(&c.profiles);
    let v = verify::verify(&config_for(&c.profiles), "python").unwrap();
    let text = verify::render(&v, false);
    assert!(!v.passed(), "{text}");
    let check = |claim: &str| {
        v.checks.iter().find(|c| c.claim == claim).unwrap_or_else(|| panic!("no claim {claim:?}:\n{text}"))
    };
    // Each widened grant is observed in the jail and judged beyond the baseline.
    let var = check("may write /var");
    assert_eq!(var.outcome, Outcome::Exceeds, "{var:?}");
    assert!(var.observed.contains("created /var/"), "{var:?}");
    let host_etc = check("may read /host-etc");
    assert_eq!(host_etc.outcome, Outcome::Exceeds, "{host_etc:?}");
    let ptrace = check("syscall ptrace allowed");
    assert_eq!(ptrace.outcome, Outcome::Exceeds, "{ptrace:?}");
    assert!(ptrace.observed.contains("filter: allow") && ptrace.observed.contains("not reported"), "{ptrace:?}");
    for claim in ["may use 64GiB of memory", "may not use more than 64GiB of memory"] {
        assert_eq!(check(claim).outcome, Outcome::Exceeds, "{text}");
    }
    // The kernel gives exactly what the widened profile declares: nothing beyond it.
    assert!(v.exceeding_profile().is_empty(), "{text}");
    assert!(text.contains("EXCEEDS  may write /var  declared: scratch tmpfs, 1MiB  observed: created /var/"), "{text}");
    assert!(text.contains("NOT VERIFIED"), "{text}");
    // The rest of the profile still holds.
    assert_eq!(v.count(Outcome::Fail), 0, "{}", verify::render(&v, true));

    let out = jailctl(&c.profiles, &["profile", "verify", "--failures-only", "python"]);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("EXCEEDS  syscall ptrace allowed"), "{}", out.stdout);
    // And lint agrees.
    assert_eq!(jailctl(&c.profiles, &["profile", "lint", "python"]).code, 1);
    drop(c.dir);
}
