//! Profiles, seccomp policies and interpreter manifests as the library loads them: the shipped
//! ones load and say what they should; a copy broken in one place is refused with a message that
//! names the file, the line and the field.
// Test code: a failed unwrap is a failed test, with its location.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::*;

use jaild::interpreter::{self, InterpreterError};
use jaild::profile::{self, ProfileError};
use jaild::report::Status;
use jaild::seccomp::{self, Action, DenialLevel, PolicyError};
use jaild::{LimitOverrides, Supervisor};
use sha2::Digest;
use std::path::{Path, PathBuf};
use std::str::FromStr;

const PROFILES: [&str; 3] = ["python", "javascript", "typescript"];

/// A temp dir holding copies of profiles/ and interpreters/.
struct Seeded {
    _dir: tempfile::TempDir,
    profiles: PathBuf,
    interpreters: PathBuf,
}

fn seeded() -> Seeded {
    let dir = tempfile::tempdir().unwrap();
    let profiles = dir.path().join("profiles");
    let interpreters = dir.path().join("interpreters");
    copy_dir(&repo().join("profiles"), &profiles);
    copy_dir(&repo().join("interpreters"), &interpreters);
    Seeded { _dir: dir, profiles, interpreters }
}

/// Replaces the one occurrence of `from` in `path` by `to`; returns the new text.
fn edit(path: &Path, from: &str, to: &str) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    assert_eq!(text.matches(from).count(), 1, "{from:?} must occur exactly once in {}", path.display());
    let text = text.replacen(from, to, 1);
    std::fs::write(path, &text).unwrap();
    text
}

/// 1-based line of the only line of `text` that contains `needle`.
fn line_of(text: &str, needle: &str) -> usize {
    let hits: Vec<usize> = text.lines().enumerate().filter(|(_, l)| l.contains(needle)).map(|(i, _)| i + 1).collect();
    assert_eq!(hits.len(), 1, "{needle:?} must be on exactly one line, found on {hits:?}");
    hits[0]
}

/// 1-based line of the `[[syscall]]` header of the entry whose line contains `needle`.
fn entry_line(text: &str, needle: &str) -> usize {
    let at = line_of(text, needle);
    let lines: Vec<&str> = text.lines().collect();
    (1..=at).rev().find(|n| lines[n - 1].trim_start().starts_with("[[syscall]]")).expect("entry header")
}

fn names_line(msg: &str, line: usize) -> bool {
    msg.contains(&format!(":{line}:")) || msg.contains(&format!("line {line}"))
}

/// The message names the file, the line and the field.
fn assert_names(msg: &str, path: &Path, line: usize, field: &str) {
    assert!(msg.contains(&path.display().to_string()), "message does not name the file {}: {msg}", path.display());
    assert!(names_line(msg, line), "message does not name line {line}: {msg}");
    assert!(msg.contains(field), "message does not name the field {field:?}: {msg}");
}

/// Checks an `Invalid` error: its field and line exactly, and the rendered message.
fn assert_invalid(e: &ProfileError, path: &Path, line: usize, field: &str) {
    let msg = e.to_string();
    match e {
        ProfileError::Invalid { path: p, line: l, field: f, .. } => {
            assert_eq!(p, path, "{msg}");
            assert_eq!(f, field, "{msg}");
            assert_eq!(*l, line, "wrong line for {field}: {msg}");
        }
        other => panic!("expected ProfileError::Invalid for {field}, got {other:?}: {msg}"),
    }
    assert_names(&msg, path, line, field);
}

// ---------------------------------------------------------------------------------------------
// The shipped profiles and policies
// ---------------------------------------------------------------------------------------------

#[test]
fn shipped_profiles_load_with_compiled_policies() {
    let dir = repo().join("profiles");
    assert_eq!(profile::list(&dir), vec!["javascript", "python", "python-data", "typescript"]);
    for name in PROFILES {
        let p = profile::load(&dir, name).unwrap_or_else(|e| panic!("shipped profile {name}: {e}"));
        assert_eq!(p.name(), name);
        assert_eq!(p.file.language.as_str(), name);
        assert_eq!(p.path, dir.join(format!("{name}.toml")));
        assert_eq!(
            p.sha256,
            hex::encode(sha2::Sha256::digest(p.resolved_toml())),
            "profile digest is the resolved profile's"
        );
        assert!(!p.seccomp.program.is_empty(), "{name}: empty BPF program");
        assert!(p.seccomp.program.len() <= 4096, "{name}: BPF program too long");
        assert_eq!(p.seccomp.default_errno, libc::EPERM, "{name}: default denial");
        // The policy named by the profile is the one loaded, and it compiles on its own too.
        let again = seccomp::load_policy(&dir.join(&p.file.seccomp.policy)).unwrap();
        assert_eq!(again.sha256, p.seccomp.sha256);
        assert_eq!(again.program, p.seccomp.program);
        // The interpreter the profile names exists and runs its language.
        let i = interpreter::load(&repo().join("interpreters"), &p.file.interpreter).unwrap();
        assert!(
            i.manifest.languages.contains(&p.file.language),
            "{name}: interpreter {} does not run it",
            i.manifest.name
        );
    }
}

fn shipped_policies() -> Vec<(PathBuf, seccomp::SeccompPolicy)> {
    let dir = repo().join("profiles/seccomp");
    let mut out: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .map(|p| {
            let policy = seccomp::load_policy(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            (p, policy)
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        out.iter().map(|(p, _)| p.file_name().unwrap().to_str().unwrap()).collect::<Vec<_>>(),
        vec!["node.toml", "python.toml"]
    );
    out
}

#[test]
fn every_syscall_entry_says_why() {
    for (path, policy) in shipped_policies() {
        assert!(!policy.file.syscall.is_empty(), "{}: no entries", path.display());
        for e in &policy.file.syscall {
            assert!(!e.comment.trim().is_empty(), "{}: entry {} has no comment", path.display(), e.name);
        }
    }
}

#[test]
fn shipped_policies_never_allow_dangerous_syscalls() {
    const NEVER: [&str; 20] = [
        "ptrace",
        "process_vm_readv",
        "process_vm_writev",
        "bpf",
        "perf_event_open",
        "userfaultfd",
        "keyctl",
        "add_key",
        "request_key",
        "mount",
        "umount2",
        "pivot_root",
        "open_by_handle_at",
        "kexec_load",
        "init_module",
        "finit_module",
        "unshare",
        "setns",
        "io_uring_setup",
        "clone3",
    ];
    for (path, policy) in shipped_policies() {
        let file = path.display();
        for name in NEVER {
            let entries: Vec<_> = policy.file.syscall.iter().filter(|e| e.name == name).collect();
            assert!(entries.iter().all(|e| e.action != Action::Allow), "{file}: {name} is allowed: {entries:?}");
            let nr =
                i64::from(syscalls::Sysno::from_str(name).unwrap_or_else(|_| panic!("{name}: not a syscall")).id());
            let denial = policy.denial(nr);
            match name {
                // Routine probes of glibc (clone3) and libuv (io_uring): answered ENOSYS so the
                // caller falls back, and not counted as a violation.
                "clone3" | "io_uring_setup" => {
                    if name == "clone3" || path.ends_with("node.toml") {
                        assert_eq!(entries.len(), 1, "{file}: {name} needs an explicit errno entry");
                    }
                    if !entries.is_empty() {
                        assert_eq!(entries[0].errno.as_deref(), Some("ENOSYS"), "{file}: {name}");
                        assert_eq!(entries[0].on_denial, Some(DenialLevel::Quiet), "{file}: {name} must be quiet");
                        assert_eq!(denial.errno, libc::ENOSYS, "{file}: {name}");
                        assert_eq!(denial.level, DenialLevel::Quiet, "{file}: {name}");
                    } else {
                        // Not probed by this interpreter: denied by default, and reported.
                        assert_eq!(denial.errno, policy.default_errno, "{file}: {name}");
                        assert_eq!(denial.level, DenialLevel::Violation, "{file}: {name}");
                    }
                }
                // An attempt at any of the others is an attack and must count as one: neither
                // quiet nor merely reported.
                _ => assert_eq!(denial.level, DenialLevel::Violation, "{file}: a denied {name} must be a violation"),
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Profiles broken in one place
// ---------------------------------------------------------------------------------------------

#[test]
fn error_line_is_right_when_a_section_header_has_a_comment() {
    let s = seeded();
    let path = s.profiles.join("python.toml");
    edit(&path, "[limits]\n", "[limits]   # per-run limits\n");
    let text = edit(&path, "memory = \"128MiB\"", "memory = \"1KiB\"");
    let line = line_of(&text, "memory = \"1KiB\"");
    let e = load_err(&s.profiles, "python");
    assert_invalid(&e, &path, line, "limits.memory");
}

#[test]
fn error_line_is_that_of_the_offending_tmpfs_entry() {
    // Two [[filesystem.tmpfs]] entries; the second one (/work) is broken: the line must be its own.
    let s = seeded();
    let path = s.profiles.join("python.toml");
    let text = edit(&path, "path = \"/work\"\nsize = \"16MiB\"", "path = \"/work\"\nsize = \"1KiB\"");
    let line = line_of(&text, "size = \"1KiB\"");
    let e = load_err(&s.profiles, "python");
    assert_invalid(&e, &path, line, "filesystem.tmpfs.size");
    assert!(e.to_string().contains("/work"), "{e}");
}

fn add_read_only(path: &Path, host: &str, at: Option<&str>) -> String {
    let at = at.map(|a| format!("at = \"{a}\"\n")).unwrap_or_default();
    edit(
        path,
        "[network]\n",
        &format!("[[filesystem.read_only]]\npath = \"{host}\"\n{at}comment = \"test data\"\n\n[network]\n"),
    )
}

#[test]
fn a_valid_read_only_path_loads() {
    // The control for the two tests around it: the same edit with a sound path loads.
    let s = seeded();
    let path = s.profiles.join("python.toml");
    add_read_only(&path, "/usr/share/zoneinfo", Some("/data/zoneinfo"));
    let p = profile::load(&s.profiles, "python").unwrap();
    assert_eq!(p.file.filesystem.read_only.len(), 1);
}

#[test]
fn read_only_overlapping_a_tmpfs_is_a_contradiction() {
    for (host, at) in
        [("/usr/share/zoneinfo", Some("/work/zoneinfo")), ("/usr/share/zoneinfo", Some("/tmp")), ("/tmp", None)]
    {
        let s = seeded();
        let path = s.profiles.join("python.toml");
        let text = add_read_only(&path, host, at);
        let e = load_err(&s.profiles, "python");
        let msg = e.to_string();
        assert!(matches!(e, ProfileError::Invalid { .. }), "{host} at {at:?}: {e:?}");
        assert!(msg.contains("filesystem.read_only"), "{msg}");
        assert!(msg.contains("overlaps"), "{msg}");
        assert!(names_line(&msg, line_of(&text, "[[filesystem.read_only]]") + 1), "{msg}");
    }
}

#[test]
fn javascript_profile_with_the_python_policy_is_refused() {
    let s = seeded();
    let path = s.profiles.join("javascript.toml");
    let text = edit(&path, "policy = \"seccomp/node.toml\"", "policy = \"seccomp/python.toml\"");
    let e = load_err(&s.profiles, "javascript");
    assert_invalid(&e, &path, line_of(&text, "policy = "), "seccomp.policy");
}

// ---------------------------------------------------------------------------------------------
// Profile names
// ---------------------------------------------------------------------------------------------

#[test]
fn unknown_profile_lists_the_known_ones() {
    let s = seeded();
    match profile::load(&s.profiles, "ruby") {
        Err(ProfileError::Unknown { name, known }) => {
            assert_eq!(name, "ruby");
            assert_eq!(known, "javascript, python, python-data, typescript");
        }
        other => panic!("expected Unknown, got {other:?}"),
    }
    let msg = load_err(&s.profiles, "ruby").to_string();
    assert!(
        msg.contains("ruby") && msg.contains("python") && msg.contains("javascript") && msg.contains("typescript"),
        "{msg}"
    );
}

#[test]
fn names_with_paths_are_refused_before_any_read() {
    let s = seeded();
    // A valid profile just outside the profiles dir, and one further out: neither may be reached.
    let parent = s.profiles.parent().unwrap();
    std::fs::copy(s.profiles.join("python.toml"), parent.join("outside.toml")).unwrap();
    for name in [
        "../outside",
        "../profiles/python",
        "..",
        "/etc/passwd",
        "python/../python",
        "python.toml",
        "",
        "py thon",
        "sub/python",
    ] {
        match profile::load(&s.profiles, name) {
            Err(ProfileError::BadName { name: n }) => assert_eq!(n, name),
            Err(other) => panic!("{name:?}: expected BadName, got {other:?}"),
            Ok(p) => panic!("{name:?}: loaded {}", p.path.display()),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// seccomp policies broken in one place
// ---------------------------------------------------------------------------------------------

fn policy_err(path: &Path) -> PolicyError {
    match seccomp::load_policy(path) {
        Ok(_) => panic!("{} compiled although it is broken", path.display()),
        Err(e) => e,
    }
}

fn python_policy() -> (Seeded, PathBuf) {
    let s = seeded();
    let p = s.profiles.join("seccomp/python.toml");
    (s, p)
}

#[test]
fn entry_line_is_right_when_headers_carry_comments() {
    let (_s, path) = python_policy();
    // A comment on an earlier entry's header must not shift the line of a later error.
    let text = std::fs::read_to_string(&path).unwrap().replacen(
        "[[syscall]]\nname = \"read\"\n",
        "[[syscall]]   # first\nname = \"read\"\n",
        1,
    );
    std::fs::write(&path, &text).unwrap();
    let text = edit(&path, "name = \"readv\"", "name = \"readvv\"");
    let e = policy_err(&path);
    assert_names(&e.to_string(), &path, entry_line(&text, "name = \"readvv\""), "readvv");
}

// ---------------------------------------------------------------------------------------------
// Interpreter manifests and their pins
// ---------------------------------------------------------------------------------------------

#[test]
fn shipped_manifests_load_and_match_their_binaries() {
    let dir = repo().join("interpreters");
    let names = interpreter::list(&dir);
    assert_eq!(names, vec!["node24", "python3.11"]);
    for name in names {
        let i = interpreter::load(&dir, &name).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(i.manifest.name, name);
        assert!(i.manifest.binary.is_absolute());
        assert!(i.manifest.mounts.iter().any(|m| m.path == i.manifest.binary), "{name}: binary is not mounted");
        assert!(i.manifest.mounts.iter().any(|m| m.path == i.manifest.loader), "{name}: loader is not mounted");
        assert!(i.manifest.mounts.iter().all(|m| !m.comment.trim().is_empty()), "{name}: a mount without comment");
        if i.manifest.binary.exists() {
            assert_eq!(i.verify(None).unwrap(), i.manifest.sha256.to_ascii_lowercase(), "{name}");
        } else if must_run() {
            panic!("CI=true and {} is not installed", i.manifest.binary.display());
        } else {
            eprintln!("SKIPPED verify of {name}: {} not installed", i.manifest.binary.display());
        }
    }
}

const ZEROS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

fn set_sha(path: &Path, sha: &str) {
    let text = std::fs::read_to_string(path).unwrap();
    let out: String = text
        .lines()
        .map(|l| if l.starts_with("sha256 = ") { format!("sha256 = \"{sha}\"\n") } else { format!("{l}\n") })
        .collect();
    assert_ne!(out, text, "no sha256 line in {}", path.display());
    std::fs::write(path, out).unwrap();
}

#[test]
fn digest_mismatch_names_both_digests_and_says_re_pin() {
    let s = seeded();
    let path = s.interpreters.join("python3.11.toml");
    let pinned = interpreter::load(&s.interpreters, "python3.11").unwrap().manifest.sha256;
    set_sha(&path, ZEROS);
    let i = interpreter::load(&s.interpreters, "python3.11").unwrap();
    if !i.manifest.binary.exists() {
        assert!(!must_run(), "CI=true and {} is not installed", i.manifest.binary.display());
        return;
    }
    let e = i.verify(None).unwrap_err();
    assert!(matches!(e, InterpreterError::DigestMismatch { .. }), "{e:?}");
    let msg = e.to_string();
    assert!(msg.contains(ZEROS), "expected digest missing: {msg}");
    assert!(msg.contains(&pinned), "actual digest missing: {msg}");
    assert!(msg.contains("re-pin"), "{msg}");
    assert!(msg.contains(&path.display().to_string()), "manifest not named: {msg}");
}

#[test]
fn missing_binary_names_it_and_the_install_command() {
    let s = seeded();
    let path = s.interpreters.join("python3.11.toml");
    edit(&path, "binary = \"/usr/bin/python3.11\"", "binary = \"/nonexistent/bin/python3.11\"");
    let i = interpreter::load(&s.interpreters, "python3.11").unwrap();
    let e = i.verify(None).unwrap_err();
    assert!(matches!(e, InterpreterError::Missing { .. }), "{e:?}");
    let msg = e.to_string();
    assert!(msg.contains("/nonexistent/bin/python3.11"), "{msg}");
    assert!(msg.contains("apt-get install -y python3.11"), "{msg}");
}

/// A manifest in `dir` pinning `binary` at `sha`.
fn temp_manifest(dir: &Path, binary: &Path, sha: &str) -> interpreter::Interpreter {
    let text = format!(
        "schema = 1\nname = \"fake\"\nlanguages = [\"python\"]\nversion = \"1.0\"\nbinary = \"{}\"\nsha256 = \"{sha}\"\n\
         loader = \"/lib64/ld-linux-x86-64.so.2\"\nsource = \"a test\"\ninstall = \"make fake\"\n",
        binary.display()
    );
    std::fs::write(dir.join("fake.toml"), text).unwrap();
    interpreter::load(dir, "fake").unwrap()
}

#[test]
fn digest_cache_returns_the_same_and_follows_changes() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("state");
    let bin = dir.path().join("fake-bin");
    std::fs::write(&bin, b"version one of the binary").unwrap();
    let one = interpreter::sha256_file(&bin).unwrap();
    let i = temp_manifest(dir.path(), &bin, &one);

    assert_eq!(i.verify(Some(&cache)).unwrap(), one);
    assert!(cache.join("digests.json").is_file(), "the cache was not written");
    assert_eq!(i.verify(Some(&cache)).unwrap(), one, "a cached verify differs");

    // New content of the same size, mtime put back: the cache must not answer for it.
    let before = std::fs::metadata(&bin).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(20));
    std::fs::write(&bin, b"version two of the binary").unwrap();
    std::fs::File::options().write(true).open(&bin).unwrap().set_modified(before.modified().unwrap()).unwrap();
    assert_eq!(std::fs::metadata(&bin).unwrap().modified().unwrap(), before.modified().unwrap());
    let two = interpreter::sha256_file(&bin).unwrap();
    assert_ne!(one, two);
    let e = i.verify(Some(&cache)).unwrap_err();
    let msg = e.to_string();
    assert!(matches!(e, InterpreterError::DigestMismatch { ref actual, .. } if *actual == two), "{msg}");
    assert!(msg.contains(&one) && msg.contains(&two) && msg.contains("re-pin"), "{msg}");

    // Re-pinned to the new digest, it verifies (from the cache entry just refreshed).
    let repinned = temp_manifest(dir.path(), &bin, &two);
    assert_eq!(repinned.verify(Some(&cache)).unwrap(), two);
    assert_eq!(repinned.verify(None).unwrap(), two);

    // Replaced by a new file (new inode) with the old content: detected again.
    let tmp = dir.path().join("fake-bin.new");
    std::fs::write(&tmp, b"version one of the binary").unwrap();
    std::fs::rename(&tmp, &bin).unwrap();
    assert_eq!(i.verify(Some(&cache)).unwrap(), one);
    assert!(repinned.verify(Some(&cache)).is_err());
}

#[test]
fn a_corrupt_digest_cache_is_ignored() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("state");
    std::fs::create_dir_all(&cache).unwrap();
    std::fs::write(cache.join("digests.json"), b"{ not json").unwrap();
    let bin = dir.path().join("fake-bin");
    std::fs::write(&bin, b"payload").unwrap();
    let sha = interpreter::sha256_file(&bin).unwrap();
    let i = temp_manifest(dir.path(), &bin, &sha);
    assert_eq!(i.verify(Some(&cache)).unwrap(), sha);
    assert_eq!(i.verify(Some(&cache)).unwrap(), sha);
}

// ---------------------------------------------------------------------------------------------
// Through the supervisor: broken configuration gives a report, not a crash
// ---------------------------------------------------------------------------------------------

fn supervisor_over(s: &Seeded, state: &Path) -> Supervisor {
    let mut c = config();
    c.profiles_dir = s.profiles.clone();
    c.interpreters_dir = s.interpreters.clone();
    c.state_dir = Some(state.to_path_buf());
    Supervisor::new(c).expect("supervisor starts")
}

#[test]
fn supervisor_reports_a_broken_profile_as_internal_error() {
    require_jails!();
    let s = seeded();
    let state = tempfile::tempdir().unwrap();
    let path = s.profiles.join("python.toml");
    let text = edit(&path, "memory = \"128MiB\"", "memory = \"1KiB\"");
    let sup = supervisor_over(&s, state.path());
    let r = run_with(&sup, "python", "result = 1", None, LimitOverrides::default());
    assert_eq!(r.status, Status::InternalError, "{}", show(&r));
    let msg = r.message.clone().unwrap_or_default();
    assert_names(&msg, &path, line_of(&text, "memory = \"1KiB\""), "limits.memory");
    assert!(r.interpreter.is_none() && r.profile.is_none(), "{}", show(&r));
    assert_eq!(r.exit_code, None);
    assert_no_leftovers(&r);

    // The other profiles in the same dir still run.
    let ok = run_with(&sup, "javascript", "return 1", None, LimitOverrides::default());
    assert_eq!(ok.status, Status::Ok, "{}", show(&ok));
}

#[test]
fn supervisor_refuses_a_binary_that_does_not_match_its_pin() {
    require_jails!();
    let s = seeded();
    let state = tempfile::tempdir().unwrap();
    set_sha(&s.interpreters.join("python3.11.toml"), ZEROS);
    let sup = supervisor_over(&s, state.path());
    let r = run_with(&sup, "python", "result = 1", None, LimitOverrides::default());
    assert_eq!(r.status, Status::InternalError, "{}", show(&r));
    let msg = r.message.clone().unwrap_or_default();
    assert!(msg.contains("re-pin") && msg.contains(ZEROS), "{msg}");
    assert!(r.interpreter.is_none(), "{}", show(&r));
    assert_eq!(r.stdout, "");
    assert_no_leftovers(&r);
    // The digest was cached in the run's own state dir, not the shared one.
    assert!(state.path().join("digests.json").is_file());

    // node24 is untouched and still runs.
    let ok = run_with(&sup, "typescript", "const x: number = 2; return x", None, LimitOverrides::default());
    assert_eq!(ok.status, Status::Ok, "{}", show(&ok));
    assert_eq!(ok.result, serde_json::json!(2));
}
