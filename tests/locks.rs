//! File locks in jails (issue 10, finding B).
//!
//! A jail sees host files read-only (the interpreter's standard library, data directories).
//! Locks are not writes: flock(2), POSIX record locks and open-file-description locks on those
//! files would sit on the host's inodes, where the host sees them (/proc/locks), where they block
//! host processes that lock the same files, and where two jails running at the same time could
//! signal each other bits. A jail's locks therefore have no effect: the filter answers the calls
//! that take or release a lock with 0 without running them (`action = "no_effect"` in the
//! policy). These tests run real jails against host locks and check what the kernel holds.
//!
//! The data directory lives under /var/tmp (a profile may not bind below /tmp, where jail-init
//! builds the jail's root); each test locks a file of its own.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::*;

use jaild::report::{Report, Status};
use jaild::{LimitOverrides, RunHooks, RunRequest, Stream, Supervisor};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{mpsc, Mutex, OnceLock};
use std::time::Instant;

/// A copy of the shipped profiles plus `python-locks`: the python profile with one read-only
/// data directory, and a supervisor over it.
struct Fixture {
    _profiles: tempfile::TempDir,
    data: tempfile::TempDir,
    sup: Supervisor,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let data = tempfile::Builder::new().prefix("jaild-locks-").tempdir_in("/var/tmp").unwrap();
        std::fs::set_permissions(data.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let profiles = tempfile::tempdir().unwrap();
        copy_dir(&repo().join("profiles"), profiles.path());
        std::fs::write(
            profiles.path().join("python-locks.toml"),
            format!(
                "schema = 1\nname = \"python-locks\"\ndescription = \"python with a read-only data directory of host files to lock\"\n\
                 extends = \"python\"\n\n[[filesystem.data]]\nname = \"locks\"\npath = \"{}\"\ncomment = \"host files the tests lock\"\n",
                data.path().display()
            ),
        )
        .unwrap();
        let mut c = config();
        c.profiles_dir = profiles.path().to_path_buf();
        let sup = Supervisor::new(c).expect("supervisor starts");
        Fixture { _profiles: profiles, data, sup }
    })
}

/// A host file in the data directory (root's, world-readable): its host path and its path in
/// the jail.
fn shared_file(name: &str) -> (PathBuf, String) {
    let path = fixture().data.path().join(name);
    std::fs::write(&path, b"shared\n").unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    (path, format!("/data/locks/{name}"))
}

/// How /proc/locks names a file: `MAJOR:MINOR:INODE`, the numbers in hex, the inode in decimal.
fn lock_id(path: &Path) -> String {
    let m = std::fs::metadata(path).unwrap();
    format!("{:02x}:{:02x}:{}", libc::major(m.dev()), libc::minor(m.dev()), m.ino())
}

/// One line of /proc/locks: kind (FLOCK, POSIX, OFDLCK), READ/WRITE, pid (-1 for OFD locks),
/// the file.
#[derive(Debug, Clone, PartialEq)]
struct HostLock {
    kind: String,
    mode: String,
    pid: i64,
    file: String,
}

fn proc_locks() -> Vec<HostLock> {
    std::fs::read_to_string("/proc/locks")
        .unwrap()
        .lines()
        .filter(|l| !l.contains("->")) // a waiter, not a lock
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            Some(HostLock {
                kind: f.get(1)?.to_string(),
                mode: f.get(3)?.to_string(),
                pid: f.get(4)?.parse().ok()?,
                file: f.get(5)?.to_string(),
            })
        })
        .collect()
}

/// The host side: a python3.11 helper on the host that either holds flock(LOCK_EX) and a POSIX
/// write lock on a file until its stdin closes (`hold`), or tries to take both without waiting
/// and prints what it got (`try`).
const HOST_HELPER: &str = r#"
import errno, fcntl, json, os, sys
mode, path = sys.argv[1], sys.argv[2]
fd = os.open(path, os.O_RDWR)
def attempt(f):
    try:
        f()
        return "ok"
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e.errno))
got = {
    "flock": attempt(lambda: fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)),
    "posix": attempt(lambda: fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)),
}
print(json.dumps(got), flush=True)
if mode == "hold":
    sys.stdin.read()
"#;

fn host_helper(mode: &str, path: &Path) -> (Child, Value) {
    let mut child = Command::new("/usr/bin/python3.11")
        .args(["-c", HOST_HELPER, mode])
        .arg(path)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.as_mut().unwrap()).read_line(&mut line).unwrap();
    let got: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("host helper said {line:?}: {e}"));
    (child, got)
}

/// Python shared by the jail scripts: take every kind of lock on an fd, and ask who holds one.
const JAIL_PRELUDE: &str = r#"
import errno, fcntl, json, os, struct, time
F_OFD_GETLK, F_OFD_SETLK = 36, 37
TYPES = {fcntl.F_RDLCK: "F_RDLCK", fcntl.F_WRLCK: "F_WRLCK", fcntl.F_UNLCK: "F_UNLCK"}

def attempt(f):
    try:
        f()
        return "ok"
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e.errno))

def flock_struct(t):
    return struct.pack("hhqqi4x", t, 0, 0, 0, 0)

def take_all(fd, shared):
    """flock, a POSIX record lock (F_SETLK) and an open-file-description lock, without waiting."""
    return {
        "flock": attempt(lambda: fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)),
        "posix": attempt(lambda: fcntl.lockf(fd, (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB)),
        "ofd": attempt(lambda: fcntl.fcntl(fd, F_OFD_SETLK, flock_struct(fcntl.F_RDLCK if shared else fcntl.F_WRLCK))),
    }

def holder(fd, cmd):
    """What F_GETLK / F_OFD_GETLK say about a write lock on the whole file."""
    return TYPES[struct.unpack("hhqqi4x", fcntl.fcntl(fd, cmd, flock_struct(fcntl.F_WRLCK)))[0]]

def lock_id(path):
    st = os.stat(path)
    return "%02x:%02x:%d" % (os.major(st.st_dev), os.minor(st.st_dev), st.st_ino)
"#;

/// Runs `code` (after the prelude) under `profile`, calling `on_line` with each stdout line as
/// the script prints it.
fn run_jail(sup: &Supervisor, profile: &str, code: &str, input: Value, on_line: &(dyn Fn(&str) + Sync)) -> Report {
    let id = unique_id("locks");
    let hook = |stream: Stream, bytes: &[u8]| {
        if stream == Stream::Stdout {
            for line in String::from_utf8_lossy(bytes).lines() {
                on_line(line);
            }
        }
    };
    let report = sup.run_with(
        RunRequest {
            id: Some(id.clone()),
            profile: Some(profile.to_string()),
            language: None,
            interpreter: None,
            filename: None,
            code: format!("{JAIL_PRELUDE}\n{code}").into_bytes(),
            input: Some(input.to_string()),
            limits: LimitOverrides::default(),
        },
        &RunHooks { output: Some(&hook), ..Default::default() },
    );
    assert_eq!(report.id, id);
    assert_no_leftovers(&report);
    report
}

fn assert_clean_ok(r: &Report) {
    assert_eq!(r.status, Status::Ok, "{}", show(r));
    let loud: Vec<&str> = r.violations.iter().filter(|v| !v.quiet).map(|v| v.detail.as_str()).collect();
    assert!(loud.is_empty(), "lock calls must not count as denials: {}", show(r));
}

#[test]
fn jail_locks_on_host_files_succeed_without_reaching_the_host() {
    require_jails!();
    let (host_path, jail_path) = shared_file("held-by-the-host");
    let (mut holder, held) = host_helper("hold", &host_path);
    assert_eq!(held, json!({"flock": "ok", "posix": "ok"}));
    let seen: Mutex<Option<Vec<HostLock>>> = Mutex::new(None);
    let code = r#"
shared = os.open(input["shared"], os.O_RDONLY)
own = os.open("/tmp/own.lock", os.O_RDWR | os.O_CREAT, 0o600)
out = {"shared": take_all(shared, True), "own": take_all(own, False), "shared_id": lock_id(input["shared"]), "own_id": lock_id("/tmp/own.lock")}
print("locked", flush=True)
time.sleep(1.0)
result = out
"#;
    let r = run_jail(&fixture().sup, "python-locks", code, json!({"shared": jail_path}), &|line| {
        if line == "locked" {
            *seen.lock().unwrap() = Some(proc_locks());
        }
    });
    drop(holder.stdin.take());
    holder.wait().unwrap();
    eprintln!("{}", show(&r));
    let seen = seen.lock().unwrap().clone().expect("the script took its locks");
    eprintln!("/proc/locks while the jail held its locks: {seen:#?}");

    // The jail's calls all succeeded, on the host's locked file and on its own scratch file.
    let ok = json!({"flock": "ok", "posix": "ok", "ofd": "ok"});
    assert_eq!((&r.result["shared"], &r.result["own"]), (&ok, &ok), "{}", show(&r));
    assert_clean_ok(&r);
    // The same inode as the host's file (the lock ids are comparable).
    let shared_id = lock_id(&host_path);
    assert_eq!(r.result["shared_id"], json!(shared_id));
    // The host saw none of it: on the shared file only its own holder's two locks, on the
    // jail's scratch file nothing.
    let on_shared: Vec<&HostLock> = seen.iter().filter(|l| l.file == shared_id).collect();
    let holder_pid = i64::from(holder.id());
    assert!(on_shared.iter().all(|l| l.pid == holder_pid), "a lock of the jail on the host's file: {on_shared:?}");
    assert_eq!(on_shared.len(), 2, "{on_shared:?}");
    let own_id = r.result["own_id"].as_str().unwrap();
    assert!(
        !seen.iter().any(|l| l.file == own_id),
        "the jail's lock on its scratch file reached the host's lock table: {seen:?}"
    );
}

#[test]
fn jail_locks_do_not_block_host_lockers() {
    require_jails!();
    let (host_path, jail_path) = shared_file("locked-by-the-jail");
    let host_try: Mutex<Option<(Value, Vec<HostLock>)>> = Mutex::new(None);
    let code = r#"
shared = os.open(input["shared"], os.O_RDONLY)
out = take_all(shared, True)
print("locked", flush=True)
time.sleep(1.0)
result = out
"#;
    let r = run_jail(&fixture().sup, "python-locks", code, json!({"shared": jail_path}), &|line| {
        if line == "locked" {
            // While the jail believes it holds flock(LOCK_EX) and two read locks: a host process
            // takes flock(LOCK_EX) and a POSIX write lock on the same file without waiting.
            let (mut child, got) = host_helper("try", &host_path);
            child.wait().unwrap();
            *host_try.lock().unwrap() = Some((got, proc_locks()));
        }
    });
    eprintln!("{}", show(&r));
    let (got, seen) = host_try.lock().unwrap().clone().expect("the script took its locks");
    assert_eq!(r.result, json!({"flock": "ok", "posix": "ok", "ofd": "ok"}), "{}", show(&r));
    assert_clean_ok(&r);
    assert_eq!(got, json!({"flock": "ok", "posix": "ok"}), "the jail's locks blocked a host locker");
    let id = lock_id(&host_path);
    assert!(!seen.iter().any(|l| l.file == id), "the jail's locks are in the host's lock table: {seen:?}");
}

#[test]
fn two_jails_cannot_signal_each_other_through_a_lock() {
    require_jails!();
    let (host_path, jail_path) = shared_file("between-jails");
    let (locked_tx, locked_rx) = mpsc::channel::<()>();
    let locked_tx = Mutex::new(locked_tx);
    // The sender takes every lock it can on the shared file and holds it ("bit 1") for 2 s.
    let sender_code = r#"
fd = os.open(input["shared"], os.O_RDONLY)
out = take_all(fd, True)
print("locked", flush=True)
time.sleep(2.0)
result = out
"#;
    let receiver_code = r#"
fd = os.open(input["shared"], os.O_RDONLY)
result = {
    "flock": attempt(lambda: fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)),
    "getlk": holder(fd, fcntl.F_GETLK),
    "ofd_getlk": holder(fd, F_OFD_GETLK),
}
"#;
    let input = json!({"shared": jail_path});
    let (sender, receiver, receiver_done) = std::thread::scope(|scope| {
        let sender = scope.spawn(|| {
            let r = run_jail(&fixture().sup, "python-locks", sender_code, input.clone(), &|line| {
                if line == "locked" {
                    let _ = locked_tx.lock().unwrap().send(());
                }
            });
            (r, Instant::now())
        });
        // The receiver looks while the sender holds its locks.
        let receiver = locked_rx.recv_timeout(std::time::Duration::from_secs(10)).ok().map(|()| {
            let r = run_jail(&fixture().sup, "python-locks", receiver_code, input.clone(), &|_| {});
            (r, Instant::now())
        });
        let (sender, sender_done) = sender.join().unwrap();
        let (receiver, receiver_done) = receiver.expect("the sender took its locks");
        assert!(receiver_done < sender_done, "the receiver finished after the sender had let go");
        (sender, receiver, receiver_done)
    });
    let _ = receiver_done;
    eprintln!("sender: {}\nreceiver: {}", show(&sender), show(&receiver));
    assert_eq!(sender.result, json!({"flock": "ok", "posix": "ok", "ofd": "ok"}), "{}", show(&sender));
    assert_clean_ok(&sender);
    // What the receiver sees while the sender "holds" the file is what it sees of a file nobody
    // locked: no bit gets across.
    assert_eq!(
        receiver.result,
        json!({"flock": "ok", "getlk": "F_UNLCK", "ofd_getlk": "F_UNLCK"}),
        "{}",
        show(&receiver)
    );
    assert_clean_ok(&receiver);
    assert!(!proc_locks().iter().any(|l| l.file == lock_id(&host_path)));
}

#[test]
fn locks_do_not_exclude_the_jails_own_processes() {
    require_jails!();
    // The documented price of locks without effect: two processes of one jail both get
    // flock(LOCK_EX) on the same scratch file.
    let code = r#"
fd = os.open("/tmp/both.lock", os.O_RDWR | os.O_CREAT, 0o600)
first = attempt(lambda: fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB))
r, w = os.pipe()
pid = os.fork()
if pid == 0:
    own = os.open("/tmp/both.lock", os.O_RDWR)
    os.write(w, attempt(lambda: fcntl.flock(own, fcntl.LOCK_EX | fcntl.LOCK_NB)).encode())
    os._exit(0)
os.waitpid(pid, 0)
result = {"parent": first, "child": os.read(r, 64).decode()}
"#;
    let r = run_jail(&fixture().sup, "python", code, json!(null), &|_| {});
    assert_eq!(r.result, json!({"parent": "ok", "child": "ok"}), "{}", show(&r));
    assert_clean_ok(&r);
}

#[test]
fn sqlite3_with_a_file_database_works_under_the_shipped_profile() {
    require_jails!();
    // The shipped python profile, language policy on. SQLite's unix VFS takes and releases
    // POSIX locks on every transaction; it keeps its own account of the locks of one process,
    // so two connections of one script still exclude each other.
    let code = r#"
import sqlite3
def check(mode):
    path = f"/tmp/{mode}.db"
    con = sqlite3.connect(path)
    con.execute(f"pragma journal_mode={mode}")
    con.execute("create table t (x integer)")
    with con:
        con.executemany("insert into t values (?)", [(i,) for i in range(1000)])
    other = sqlite3.connect(path, timeout=0)
    count, total = other.execute("select count(*), sum(x) from t").fetchone()
    with con:
        con.execute("update t set x = x + 1")
    after = other.execute("select sum(x) from t").fetchone()[0]
    con.execute("begin exclusive")
    try:
        other.execute("insert into t values (0)")
        excluded = False
    except sqlite3.OperationalError as e:
        excluded = str(e)
    con.rollback()
    other.close()
    con.close()
    return [count, total, after, excluded]
result = {"delete": check("delete"), "wal": check("wal")}
"#;
    let r = run_jail(supervisor(), "python", code, json!(null), &|_| {});
    let expect = json!([1000, 499500, 500500, "database is locked"]);
    assert_eq!(r.result, json!({"delete": expect, "wal": expect}), "{}", show(&r));
    assert_clean_ok(&r);
}
