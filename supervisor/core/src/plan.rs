//! Turns a profile and an interpreter manifest into the one fully resolved plan jail-init carries
//! out: every mount, Landlock rule and rlimit, the compiled seccomp program, argv and env.

use crate::interpreter::{Language, Manifest};
use crate::profile::{Limits, Profile};
use crate::report::CoveredRight;
use jail_init::plan::{access, LandlockPlan, LandlockRule, Mount, Plan, Rlimit, STAGING, SYNTHESIZED_ETC};
use std::path::{Path, PathBuf};

/// uid and gid of the script inside the jail (jail-init is 0 there; both map to unprivileged
/// host ids).
pub const SCRIPT_ID: u32 = 1000;

/// Where the runner lives inside the jail (read-only, outside the script's scratch).
pub const RUNNER_DIR: &str = "/jaild";

pub const PYTHON_RUNNER: &str = include_str!("../runners/python.py");
pub const NODE_RUNNER: &str = include_str!("../runners/node.cjs");

/// The minimal /dev: each node, and whether the script may open it for writing (Landlock; the
/// binds themselves are all read-only).
const DEVICES: [(&str, bool); 5] =
    [("null", true), ("zero", true), ("full", true), ("random", false), ("urandom", false)];

/// Landlock rights of a read-only view.
const READ: u64 = access::READ_FILE | access::READ_DIR;
/// Landlock rights on scratch: everything but devices, sockets and EXECUTE. Symlinks and FIFOs
/// are the script's own (os.symlink, os.mkfifo, tools that link a "latest" file): a symlink is
/// resolved inside the jail's mount namespace and Landlock checks the file it reaches, so a
/// link to /etc/shadow or /proc/1/root opens nothing a direct open would not; and nothing on
/// the host ever reads scratch (it is a tmpfs of the jail's mount namespace, gone with it).
/// Device nodes stay out (no CAP_MKNOD, and the seccomp filter lets mknod make FIFOs alone),
/// and so do sockets (no bind).
const SCRATCH: u64 = access::READ_FILE
    | access::READ_DIR
    | access::WRITE_FILE
    | access::REMOVE_DIR
    | access::REMOVE_FILE
    | access::MAKE_DIR
    | access::MAKE_REG
    | access::MAKE_SYM
    | access::MAKE_FIFO
    | access::REFER
    | access::TRUNCATE;

/// The limits of one run: the profile's, tightened by the request.
pub type RunLimits = Limits;

pub fn runner(language: Language) -> (&'static str, &'static str) {
    match language {
        Language::Python => ("runner.py", PYTHON_RUNNER),
        Language::Javascript | Language::Typescript => ("runner.cjs", NODE_RUNNER),
    }
}

/// Extra interpreter flags a language needs beyond the manifest's.
fn language_args(profile: &Profile) -> Vec<String> {
    let mut args = Vec::new();
    if matches!(profile.file.language, Language::Javascript | Language::Typescript)
        && !profile.file.language_policy.dynamic_code
    {
        args.push("--disallow-code-generation-from-strings".to_string());
    }
    args
}

/// The contents of [`SYNTHESIZED_ETC`], in its order: `workdir` is the script user's home.
fn synthesized_etc(workdir: &Path) -> Vec<(&'static str, String)> {
    let contents = [
        format!(
            "root:x:0:0:root:/root:/usr/sbin/nologin\njail:x:{SCRIPT_ID}:{SCRIPT_ID}:jail:{}:/usr/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n",
            workdir.display()
        ),
        format!("root:x:0:\njail:x:{SCRIPT_ID}:\nnogroup:x:65534:\n"),
        "127.0.0.1\tlocalhost\n127.0.1.1\tjail\n::1\tlocalhost ip6-localhost ip6-loopback\n".to_string(),
        "passwd: files\ngroup: files\nshadow: files\nhosts: files\nnetworks: files\nprotocols: files\nservices: files\n"
            .to_string(),
        [
            ("ftp", 21, "tcp"),
            ("ssh", 22, "tcp"),
            ("smtp", 25, "tcp"),
            ("domain", 53, "tcp"),
            ("domain", 53, "udp"),
            ("http", 80, "tcp"),
            ("pop3", 110, "tcp"),
            ("ntp", 123, "udp"),
            ("imap2", 143, "tcp"),
            ("ldap", 389, "tcp"),
            ("https", 443, "tcp"),
            ("submission", 587, "tcp"),
            ("imaps", 993, "tcp"),
            ("pop3s", 995, "tcp"),
            ("postgresql", 5432, "tcp"),
            ("mysql", 3306, "tcp"),
            ("redis", 6379, "tcp"),
        ]
        .iter()
        .map(|(name, port, proto)| format!("{name}\t{port}/{proto}\n"))
        .collect(),
        "ip\t0\tIP\nicmp\t1\tICMP\ntcp\t6\tTCP\nudp\t17\tUDP\nipv6-icmp\t58\tIPv6-ICMP\n".to_string(),
    ];
    SYNTHESIZED_ETC.into_iter().zip(contents).collect()
}

pub fn build(profile: &Profile, interp: &Manifest, limits: &RunLimits, abi: u32) -> Plan {
    let mut mounts = Vec::new();
    let mut rules = Vec::new();
    let ro_rule = |path: &Path, exec: bool| LandlockRule {
        path: path.to_path_buf(),
        access: READ | if exec { access::EXECUTE } else { 0 },
    };

    // The interpreter and its loader: the only files the script may execute.
    for path in [&interp.binary, &interp.loader] {
        mounts.push(Mount::Bind { src: path.clone(), dst: path.clone(), exec: true, dev: false });
        rules.push(ro_rule(path, true));
    }
    // Its other names: symlinks in the jail's root (a symlink needs no Landlock right; the
    // file it reaches keeps the binary's).
    for alias in &interp.aliases {
        mounts.push(Mount::Symlink { target: interp.binary.clone(), dst: alias.clone() });
    }
    for m in interp.mounts.iter().filter(|m| m.path != interp.binary && m.path != interp.loader) {
        mounts.push(Mount::Bind { src: m.path.clone(), dst: m.path.clone(), exec: m.exec, dev: false });
        rules.push(ro_rule(&m.path, false));
    }
    for r in &profile.file.filesystem.read_only {
        let at = r.at.clone().unwrap_or_else(|| r.path.clone());
        mounts.push(Mount::Bind { src: r.path.clone(), dst: at.clone(), exec: false, dev: false });
        rules.push(ro_rule(&at, false));
    }
    // Data directories: read-only, noexec, at /data/NAME; Landlock grants reading only.
    for d in &profile.file.filesystem.data {
        let at = d.jail_path();
        mounts.push(Mount::Bind { src: d.path.clone(), dst: at.clone(), exec: false, dev: false });
        rules.push(ro_rule(&at, false));
    }

    // A minimal /dev.
    mounts.push(Mount::Dir { dst: "/dev".into(), mode: 0o755 });
    for (name, writable) in DEVICES {
        let path = PathBuf::from("/dev").join(name);
        mounts.push(Mount::Bind { src: path.clone(), dst: path.clone(), exec: false, dev: true });
        let rights =
            if writable { access::READ_FILE | access::WRITE_FILE | access::TRUNCATE } else { access::READ_FILE };
        rules.push(LandlockRule { path, access: rights });
    }
    for (name, target) in [
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
    ] {
        mounts.push(Mount::Symlink { target: target.into(), dst: PathBuf::from("/dev").join(name) });
    }

    mounts.push(Mount::Proc { dst: "/proc".into() });
    rules.push(LandlockRule { path: "/proc".into(), access: READ });

    for t in &profile.file.filesystem.tmpfs {
        let size = t.size.0;
        mounts.push(Mount::Tmpfs {
            dst: t.path.clone(),
            size_bytes: size,
            inodes: t.inodes,
            mode: if t.path == profile.file.filesystem.workdir { 0o700 } else { 0o1777 },
            uid: SCRIPT_ID,
            gid: SCRIPT_ID,
        });
        rules.push(LandlockRule { path: t.path.clone(), access: SCRATCH });
    }

    // The jail's own /etc: its users (root and the script's uid), localhost, services and
    // protocols, read with the files the C library's NSS reads (never the host's).
    for (path, contents) in synthesized_etc(&profile.file.filesystem.workdir) {
        mounts.push(Mount::File { dst: path.into(), contents, mode: 0o444 });
        rules.push(LandlockRule { path: path.into(), access: access::READ_FILE });
    }

    let (runner_name, runner_source) = runner(profile.file.language);
    let runner_path = PathBuf::from(RUNNER_DIR).join(runner_name);
    mounts.push(Mount::File { dst: runner_path.clone(), contents: runner_source.to_string(), mode: 0o444 });
    rules.push(LandlockRule { path: RUNNER_DIR.into(), access: READ });

    let mut argv = vec![interp.binary.to_string_lossy().into_owned()];
    argv.extend(interp.args.iter().cloned());
    argv.extend(language_args(profile));
    argv.push(runner_path.to_string_lossy().into_owned());
    if profile.file.language == Language::Typescript {
        // The runner loads Node's TypeScript stripper before it says it is ready (a warm jail's
        // job then does not pay for it).
        argv.push("typescript".to_string());
    }

    let handled_fs = access::fs_rights_of_abi(abi);
    let (handled_net, scoped) = if abi >= 6 {
        (access::NET_BIND_TCP | access::NET_CONNECT_TCP, access::SCOPE_ABSTRACT_UNIX_SOCKET | access::SCOPE_SIGNAL)
    } else if abi >= 4 {
        (access::NET_BIND_TCP | access::NET_CONNECT_TCP, 0)
    } else {
        (0, 0)
    };
    for r in &mut rules {
        r.access &= handled_fs;
    }

    Plan {
        hostname: "jail".into(),
        user_namespace_limits: USER_NAMESPACE_LIMITS.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
        staging: STAGING.into(),
        root_size_bytes: 1 << 20,
        mounts,
        rlimits: rlimits(limits),
        uid: SCRIPT_ID,
        gid: SCRIPT_ID,
        landlock: LandlockPlan { handled_fs, handled_net, scoped, rules },
        seccomp: profile.seccomp.program.clone(),
        exec: interp.binary.clone(),
        argv,
        env: profile.file.environment.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        cwd: profile.file.filesystem.workdir.clone(),
        cgroup_fds: 0,
    }
}

/// The jail's own user namespace allows no namespace but the one cgroup namespace the script's
/// process roots at its cgroup (jail-init made the others before these are set), no fanotify,
/// and a few inotify instances and watches (Node's fs.watch: one instance per event loop, a
/// watch per path; scratch holds at most 2,048 inodes). The kernel checks each at this level
/// and above: what the jail holds is charged to its slot's unprivileged owner on the host
/// (crate::hostids), never to host root.
pub const USER_NAMESPACE_LIMITS: [(&str, u64); 12] = [
    ("max_user_namespaces", 0),
    ("max_mnt_namespaces", 0),
    ("max_pid_namespaces", 0),
    ("max_net_namespaces", 0),
    ("max_ipc_namespaces", 0),
    ("max_uts_namespaces", 0),
    ("max_time_namespaces", 0),
    ("max_cgroup_namespaces", 1),
    ("max_inotify_instances", 16),
    ("max_inotify_watches", 4096),
    ("max_fanotify_groups", 0),
    ("max_fanotify_marks", 0),
];

/// Signals queued to the jail's processes at once (RLIMIT_SIGPENDING, counted for all of the
/// script's processes together): a script that blocks a real-time signal and queues it to
/// itself stops here with EAGAIN instead of taking kernel memory and every other user's budget.
/// Interpreters queue none of their own; glibc's thread signals are delivered at once.
pub const PENDING_SIGNALS: u64 = 256;

fn rlimits(l: &Limits) -> Vec<Rlimit> {
    let both = |resource: u32, v: u64| Rlimit { resource, soft: v, hard: v };
    // RLIMIT_CPU counts whole seconds per process; the supervisor enforces the exact budget on
    // the whole cgroup and this is the backstop.
    let cpu_s = l.cpu_time_ms.div_ceil(1000) + 1;
    vec![
        // 1, not 0: with a pipe core_pattern (systemd-coredump, apport) the kernel ignores the
        // limit and starts the helper as root on the host, except for the special value 1;
        // and 1 byte is below the smallest ELF core, so no file is written either.
        both(libc::RLIMIT_CORE, 1),
        Rlimit { resource: libc::RLIMIT_CPU, soft: cpu_s, hard: cpu_s + 1 },
        both(libc::RLIMIT_NOFILE, l.open_files),
        both(libc::RLIMIT_FSIZE, l.file_size.0),
        both(libc::RLIMIT_MSGQUEUE, 0),
        both(libc::RLIMIT_MEMLOCK, 64 << 10),
        both(libc::RLIMIT_SIGPENDING, PENDING_SIGNALS),
        // No real-time scheduling and no raised priority: the policies let a script renice and
        // reschedule its own processes, and the kernel allows an unprivileged caller only what
        // these two permit (with 0: lower priorities and the normal policies).
        both(libc::RLIMIT_RTPRIO, 0),
        both(libc::RLIMIT_NICE, 0),
    ]
}

/// The rights a profile's minimum Landlock ABI requires that the running kernel lacks.
pub fn missing_landlock_rights(minimum_abi: u32, kernel_abi: u32) -> Vec<String> {
    let mut missing: Vec<String> =
        access::fs_names(access::fs_rights_of_abi(minimum_abi) & !access::fs_rights_of_abi(kernel_abi))
            .into_iter()
            .map(String::from)
            .collect();
    if minimum_abi >= 4 && kernel_abi < 4 {
        missing.push("net_bind_tcp".into());
        missing.push("net_connect_tcp".into());
    }
    if minimum_abi >= 6 && kernel_abi < 6 {
        missing.push("scope_abstract_unix_socket".into());
        missing.push("scope_signal".into());
    }
    if kernel_abi == 0 {
        missing.insert(0, "landlock itself (not enabled in this kernel)".into());
    }
    missing
}

/// The newest Landlock ABI whose rights the jail uses (7 adds only audit-log flags).
pub const LANDLOCK_ABI_FULL: u32 = 6;

/// Whether `profile` may run on a kernel with Landlock ABI `kernel_abi`, and how.
///
/// Two kinds of rights, and the rule for each:
/// * up to the profile's `minimum_abi`: hard requirements. A kernel below it refuses the run.
/// * newer rights the kernel lacks: each must be covered by another layer of this profile's
///   jail, checked here against the profile (not assumed); a right nothing covers refuses the
///   run too, naming it. The covered ones are returned for the report.
///
/// Fail closed throughout: a profile never runs with less than it states.
pub fn landlock_coverage(profile: &Profile, kernel_abi: u32) -> Result<Vec<CoveredRight>, String> {
    let minimum = profile.file.landlock.minimum_abi;
    if kernel_abi < minimum {
        return Err(format!(
            "profile {} requires Landlock ABI {minimum}, this kernel has ABI {kernel_abi}; missing: {}",
            profile.name(),
            missing_landlock_rights(minimum, kernel_abi).join(", ")
        ));
    }
    let mut covered = Vec::new();
    let mut uncovered = Vec::new();
    let mut cover = |right: &str, by: Result<String, String>| match by {
        Ok(by) => covered.push(CoveredRight { right: right.into(), by }),
        Err(why) => uncovered.push(format!("{right} ({why})")),
    };
    if kernel_abi < 2 {
        cover("refer", Ok("Landlock ABI 1 itself: it denies every link or rename into another directory".into()));
    }
    if kernel_abi < 3 {
        cover(
            "truncate",
            Ok("read-only bind mounts of files owned by ids unmapped in the jail (truncate(2) outside scratch fails with EACCES or EROFS) and write_file (ftruncate needs a file open for writing, which Landlock grants only in scratch and on /dev/null, zero, full)".into()),
        );
    }
    if kernel_abi < 4 {
        let by = match profile.file.network.mode {
            crate::profile::NetworkMode::None => Ok(
                "the run's own empty network namespace (network.mode = \"none\"): no interface to bind or connect on"
                    .into(),
            ),
        };
        cover("net_bind_tcp", by.clone());
        cover("net_connect_tcp", by);
    }
    if kernel_abi < 5 {
        cover("ioctl_dev", seccomp_ioctl_cover(profile));
    }
    if kernel_abi < 6 {
        cover(
            "scope_abstract_unix_socket",
            Ok("the run's own network namespace: abstract socket names are per network namespace, so no host or other run's socket is reachable".into()),
        );
        cover(
            "scope_signal",
            Ok("the PID namespace (only the jail's processes are visible) and the script's uid, which differs from jail-init's (kill(1) gets EPERM)".into()),
        );
    }
    if !uncovered.is_empty() {
        return Err(format!(
            "profile {}: this kernel has Landlock ABI {kernel_abi} and nothing else in the profile enforces: {}",
            profile.name(),
            uncovered.join("; ")
        ));
    }
    Ok(covered)
}

/// ioctl_dev is covered when the seccomp policy allows ioctl only for listed request numbers.
fn seccomp_ioctl_cover(profile: &Profile) -> Result<String, String> {
    use crate::seccomp::{Action, Op};
    let mut requests = Vec::new();
    for e in profile.seccomp.file.syscall.iter().filter(|e| e.name == "ioctl" && e.action == Action::Allow) {
        match e.args.iter().find(|c| c.index == 1 && c.op == Op::Eq && c.mask.is_none()) {
            Some(c) => requests.push(format!("{:#x}", c.value)),
            None => {
                return Err(format!(
                    "the seccomp policy {} allows ioctl without naming the request number",
                    profile.seccomp.path.display()
                ))
            }
        }
    }
    if requests.is_empty() {
        return Ok("seccomp: ioctl is denied".into());
    }
    Ok(format!("seccomp: ioctl is allowed only for the requests {}", requests.join(", ")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_rights_are_named() {
        assert_eq!(missing_landlock_rights(3, 2), vec!["truncate"]);
        assert!(missing_landlock_rights(6, 5).contains(&"scope_signal".to_string()));
        assert!(missing_landlock_rights(6, 7).is_empty());
    }
}
