//! What all jails share with each other and with the host: per-user kernel accounting (file
//! descriptors in flight, pending signals, inotify instances), and the host identities behind it.
//!
//! Each test runs an attack in a real jail and, while the attack holds, starts victim jails and a
//! host-side probe that must work as if the attacker were not there. Each also checks that the
//! attack really was in place (it is charged to the attacker's own identity), so a test cannot
//! pass because the attack silently did nothing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::*;

use jaild::report::{Report, Status};
use jaild::{LimitOverrides, RunHooks, RunRequest, Supervisor};
use std::process::Command;
use std::sync::mpsc;
use std::time::Duration;

/// Script text written indented in the test, without the common indentation (Python cares).
fn dedent(code: &str) -> String {
    let code = code.strip_prefix('\n').unwrap_or(code);
    let indent =
        code.lines().filter(|l| !l.trim().is_empty()).map(|l| l.len() - l.trim_start().len()).min().unwrap_or(0);
    code.lines().map(|l| if l.len() >= indent { &l[indent..] } else { l.trim_start() }).collect::<Vec<_>>().join("\n")
}

/// Runs `code` on `sup` on a thread of its own; the receiver gets the first line of stdout that
/// starts with "parked" (the attack is in place), then the report.
fn attack(
    sup: &'static Supervisor,
    language: &str,
    code: &str,
    input: &str,
) -> (mpsc::Receiver<String>, std::thread::JoinHandle<Report>) {
    let (tx, rx) = mpsc::channel::<String>();
    let code = dedent(code);
    let language = language.to_string();
    let input = input.to_string();
    let handle = std::thread::spawn(move || {
        let seen = std::sync::Mutex::new(String::new());
        let tx = std::sync::Mutex::new(Some(tx));
        let on_output = |stream: jaild::Stream, bytes: &[u8]| {
            if stream != jaild::Stream::Stdout {
                return;
            }
            let mut s = seen.lock().unwrap();
            s.push_str(&String::from_utf8_lossy(bytes));
            if let Some(line) = s.lines().find(|l| l.starts_with("parked")) {
                if let Some(tx) = tx.lock().unwrap().take() {
                    let _ = tx.send(line.to_string());
                }
            }
        };
        let hooks = RunHooks { output: Some(&on_output), ..Default::default() };
        let report = sup.run_with(
            RunRequest {
                id: Some(unique_id("attacker")),
                language: jaild::profile::Language::parse(&language),
                interpreter: None,
                code: code.into_bytes(),
                input: Some(input),
                ..Default::default()
            },
            &hooks,
        );
        assert_no_leftovers(&report);
        report
    });
    (rx, handle)
}

fn parked(
    rx: &mpsc::Receiver<String>,
    attacker: std::thread::JoinHandle<Report>,
) -> (String, std::thread::JoinHandle<Report>) {
    match rx.recv_timeout(Duration::from_secs(20)) {
        Ok(line) => (line, attacker),
        Err(_) => panic!("the attack never got in place:\n{}", show(&attacker.join().unwrap())),
    }
}

/// `key=value` from the attacker's "parked ..." line.
fn field(line: &str, key: &str) -> String {
    line.split_whitespace()
        .find_map(|w| w.strip_prefix(&format!("{key}=")))
        .unwrap_or_else(|| panic!("no {key}= in {line:?}"))
        .to_string()
}

/// A host process running `code` with /usr/bin/python3.11 as `uid` (root when None); its
/// stdout, which must be one line of JSON.
fn host_probe(uid: Option<u32>, code: &str) -> serde_json::Value {
    use std::os::unix::process::CommandExt;
    let mut cmd = Command::new("/usr/bin/python3.11");
    cmd.args(["-I", "-S", "-c", &dedent(code)]);
    if let Some(uid) = uid {
        cmd.uid(uid).gid(uid);
    }
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "host probe failed: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("host probe said {:?}: {e}", String::from_utf8_lossy(&out.stdout)))
}

/// The host uid that the jail's uid `jail_uid` maps to, from a uid_map text.
fn host_uid(uid_map: &str, jail_uid: u32) -> u32 {
    uid_map
        .split(',')
        .find_map(|l| {
            let cols: Vec<u32> = l.split(':').filter_map(|c| c.parse().ok()).collect();
            (cols.len() == 3 && cols[0] == jail_uid).then_some(cols[1])
        })
        .unwrap_or_else(|| panic!("uid {jail_uid} is not mapped in {uid_map:?}"))
}

/// The uid_map of the script as one word: `0:200000:1,1000:201000:1`.
const UID_MAP_WORD: &str = r#"",".join(":".join(l.split()) for l in open("/proc/self/uid_map").read().splitlines())"#;

fn victims(n: usize, code: &str) -> Vec<Report> {
    let code = dedent(code);
    let handles: Vec<_> = (0..n)
        .map(|_| {
            let code = code.clone();
            std::thread::spawn(move || run_with(supervisor(), "python", &code, None, LimitOverrides::default()))
        })
        .collect();
    handles.into_iter().map(|h| h.join().unwrap()).collect()
}

/// Finding 1: a script parks file descriptors in flight on a socketpair (SCM_RIGHTS, never
/// received). The kernel counts them per host user and refuses more to a sender over its
/// RLIMIT_NOFILE: if jails shared a host uid, every jail started meanwhile would fail to set up.
#[test]
fn fds_in_flight_in_one_jail_do_not_starve_other_jails() {
    require_jails!();
    let (rx, attacker) = attack(
        kernel_only_supervisor(),
        "python",
        &format!(
            r#"
            import array, errno, socket, time
            a, b = socket.socketpair()
            fds = array.array("i", [a.fileno()] * 200)
            parked, err = 0, None
            try:
                while parked < 100000:
                    a.sendmsg([b"x"], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, fds)])
                    parked += len(fds)
            except OSError as e:
                err = errno.errorcode.get(e.errno, str(e.errno))
            uid_map = {UID_MAP_WORD}
            print(f"parked count={{parked}} error={{err}} uid_map={{uid_map}}", flush=True)
            time.sleep(input["hold_s"])
            result = {{"parked": parked, "error": err}}
            "#
        ),
        r#"{"hold_s": 3}"#,
    );
    let (line, attacker) = parked(&rx, attacker);
    let attacker_uid = host_uid(&field(&line, "uid_map"), 1000);

    // While the attack holds: the attacker's own host identity is out of in-flight budget (the
    // attack is real), and jails started now set up and run as usual.
    let probe = host_probe(
        Some(attacker_uid),
        r#"
        import array, json, resource, socket
        resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))
        a, b = socket.socketpair()
        try:
            a.sendmsg([b"x"], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [a.fileno()]))])
            print(json.dumps({"sent": True}))
        except OSError as e:
            print(json.dumps({"sent": False, "errno": e.errno}))
        "#,
    );
    let during = victims(3, &format!("uid_map = {UID_MAP_WORD}\nresult = uid_map"));
    let attacker = attacker.join().unwrap();

    assert_eq!(probe["sent"], false, "the attack was not in place for uid {attacker_uid}: {probe}");
    assert_eq!(probe["errno"], libc::ETOOMANYREFS, "{probe}");
    for v in &during {
        assert_eq!(v.status, Status::Ok, "a jail started during the attack failed:\n{}", show(v));
        let uid = host_uid(v.result.as_str().unwrap(), 1000);
        assert_ne!(uid, attacker_uid, "a victim ran as the attacker's host uid:\n{}", show(v));
    }
    assert_eq!(attacker.status, Status::Ok, "{}", show(&attacker));
    assert_eq!(attacker.result["error"], "ETOOMANYREFS", "{}", show(&attacker));
}

/// A process of the host running as `uid` (a jail's).
fn pid_of_uid(uid: u32) -> Option<u32> {
    std::fs::read_dir("/proc").ok()?.flatten().find_map(|e| {
        let pid: u32 = e.file_name().to_str()?.parse().ok()?;
        let status = std::fs::read_to_string(e.path().join("status")).ok()?;
        let line = status.lines().find(|l| l.starts_with("Uid:"))?;
        (line.split_whitespace().nth(1)?.parse::<u32>().ok()? == uid).then_some(pid)
    })
}

/// Host root's pending-signal count, from the SigQ line of a root process's status.
fn root_sigq() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("SigQ:")).unwrap();
    let (used, max) = line["SigQ:".len()..].trim().split_once('/').unwrap();
    (used.parse().unwrap(), max.parse().unwrap())
}

/// Finding 2: a script that blocks an RT signal and queues it to itself. Pending signals are
/// charged up the user namespaces to the namespace's owner: had host root created the jail's
/// namespace, the jail would take host root's budget.
#[test]
fn queued_signals_of_a_jail_are_bounded_and_not_charged_to_host_root() {
    require_jails!();
    let (before, max) = root_sigq();
    let (rx, attacker) = attack(
        kernel_only_supervisor(),
        "python",
        r#"
        import errno, signal, threading, time
        # tgkill, unlike kill, fails with EAGAIN once the queue is full (kill loses the data).
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGRTMIN})
        queued, err = 0, None
        try:
            while queued < 200000:
                signal.pthread_kill(threading.get_ident(), signal.SIGRTMIN)
                queued += 1
        except OSError as e:
            err = errno.errorcode.get(e.errno, str(e.errno))
        print(f"parked queued={queued} error={err}", flush=True)
        time.sleep(input["hold_s"])
        result = {"queued": queued, "error": err, "limit": __import__("resource").getrlimit(__import__("resource").RLIMIT_SIGPENDING)[0]}
        "#,
        r#"{"hold_s": 3}"#,
    );
    let (line, attacker) = parked(&rx, attacker);
    let (during_root, _) = root_sigq();
    // A root process on the host queues RT signals as usual, and so does a jail.
    let probe = host_probe(
        None,
        r#"
        import json, signal, threading
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGRTMIN})
        queued = 0
        try:
            for _ in range(1000):
                signal.pthread_kill(threading.get_ident(), signal.SIGRTMIN)
                queued += 1
        except OSError as e:
            pass
        print(json.dumps({"queued": queued}))
        "#,
    );
    let during = victims(
        2,
        r#"
        import signal, threading
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGRTMIN})
        for _ in range(100):
            signal.pthread_kill(threading.get_ident(), signal.SIGRTMIN)
        result = 100
        "#,
    );
    let attacker = attacker.join().unwrap();

    let queued: u64 = field(&line, "queued").parse().unwrap();
    assert_eq!(field(&line, "error"), "EAGAIN", "the attack never reached a limit: {line}");
    assert!(queued <= 1024, "the jail queued {queued} signals: RLIMIT_SIGPENDING does not bound it ({line})");
    assert!(
        during_root < before + 64,
        "host root's pending signals went from {before} to {during_root} (of {max}) during the attack: the jail is charged to host root"
    );
    assert_eq!(
        probe["queued"], 1000,
        "a root process on the host could not queue RT signals during the attack: {probe}"
    );
    for v in &during {
        assert_eq!(v.status, Status::Ok, "a jail could not queue RT signals during the attack:\n{}", show(v));
    }
    assert_eq!(attacker.status, Status::Ok, "{}", show(&attacker));
}

/// Finding 2, inotify: watches and instances are charged like pending signals. Node's fs.watch
/// takes one inotify instance per event loop and a watch per path: workers each take an
/// instance, and every file in scratch can take a watch.
#[test]
fn inotify_of_a_jail_is_bounded_and_not_charged_to_host_root() {
    require_jails!();
    // How many inotify instances a root process on the host can make now.
    let probe_code = r#"
        import ctypes, json, os
        libc = ctypes.CDLL(None, use_errno=True)
        fds = []
        while len(fds) < 4096:
            fd = libc.inotify_init1(0)
            if fd < 0:
                break
            fds.append(fd)
        print(json.dumps({"instances": len(fds), "errno": ctypes.get_errno()}))
        "#;
    let before = host_probe(None, probe_code);
    let (rx, attacker) = attack(
        kernel_only_supervisor(),
        "javascript",
        r#"
        const fs = require("fs");
        const { Worker } = require("worker_threads");
        // Watches: one per file in /tmp, until the kernel refuses.
        let watches = 0, watchError = null;
        try {
          for (let i = 0; i < 5000; i++) {
            const p = `/tmp/w${i}`;
            fs.writeFileSync(p, "");
            fs.watch(p);
            watches++;
          }
        } catch (e) { watchError = e.code; }
        // Instances: one per worker's event loop.
        const workers = [];
        let instances = 1, instanceError = null;
        for (let i = 0; i < 3; i++) {
          const w = new Worker(`
            const { parentPort } = require("worker_threads");
            try { require("fs").watch("/work"); parentPort.postMessage("ok"); }
            catch (e) { parentPort.postMessage(e.code || String(e)); }
            setInterval(() => {}, 1000);`, { eval: true });
          const r = await new Promise((res) => { w.once("message", res); w.once("error", (e) => res(e.code || String(e))); });
          workers.push(w);
          if (r === "ok") instances++; else { instanceError = r; break; }
        }
        const uidMap = fs.readFileSync("/proc/self/uid_map", "utf8").trim().split("\n").map((l) => l.trim().split(/\s+/).join(":")).join(",");
        console.log(`parked watches=${watches} watch_error=${watchError} instances=${instances} instance_error=${instanceError} uid_map=${uidMap}`);
        await new Promise((r) => setTimeout(r, input.hold_s * 1000));
        for (const w of workers) w.terminate();
        return { watches, watchError, instances, instanceError };
        "#,
        r#"{"hold_s": 2}"#,
    );
    let (line, attacker) = parked(&rx, attacker);
    let during = host_probe(None, probe_code);
    // The jail's user namespace: owned by its slot's unprivileged root id (so the kernel charges
    // it there), with the jail's own limits set.
    let script_uid = host_uid(&field(&line, "uid_map"), 1000);
    let root_uid = host_uid(&field(&line, "uid_map"), 0);
    let pid = pid_of_uid(script_uid).expect("the attacker's process");
    let ns = host_probe(
        None,
        &format!(
            r#"
            import ctypes, fcntl, json, os, struct
            NS_GET_OWNER_UID, CLONE_NEWUSER = 0xb704, 0x10000000
            fd = os.open("/proc/{pid}/ns/user", os.O_RDONLY)
            owner = struct.unpack("I", fcntl.ioctl(fd, NS_GET_OWNER_UID, b"\0" * 4))[0]
            if ctypes.CDLL(None, use_errno=True).setns(fd, CLONE_NEWUSER) != 0:
                raise OSError(ctypes.get_errno(), "setns")
            limits = {{n: int(open("/proc/sys/user/" + n).read()) for n in os.listdir("/proc/sys/user")}}
            print(json.dumps({{"owner": owner, "limits": limits}}))
            "#
        ),
    );
    let attacker = attacker.join().unwrap();

    assert_eq!(ns["owner"], root_uid, "the jail's user namespace is not owned by its slot's root id: {ns}");
    assert_ne!(ns["owner"], 0, "{ns}");
    for (name, value) in jaild::plan::USER_NAMESPACE_LIMITS {
        assert_eq!(ns["limits"][name], value, "/proc/sys/user/{name} in the jail: {ns}");
    }

    let watches: u64 = field(&line, "watches").parse().unwrap();
    let instances: u64 = field(&line, "instances").parse().unwrap();
    assert!(watches >= 100, "the jail could not watch files at all: {line}");
    assert!(
        during["instances"].as_u64().unwrap() + 2 >= before["instances"].as_u64().unwrap(),
        "host root could make {} inotify instances before the attack and {} during it ({line}): the jail's are charged to host root",
        before["instances"],
        during["instances"]
    );
    assert!(instances >= 1, "{line}");
    assert_eq!(attacker.status, Status::Ok, "{}", show(&attacker));
}
