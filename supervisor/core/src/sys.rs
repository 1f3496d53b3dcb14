//! The raw system calls the supervisor makes that no crate wraps safely: the namespaced clone,
//! seccomp user notifications and the Landlock ABI probe. Every `unsafe` block of the jail core
//! is in this module (the crate denies `unsafe_code` everywhere else).

use nix::errno::Errno;
use std::ffi::{c_char, CStr};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

/// What the child of [`clone_jail`] does, fully prepared before the clone: it only calls
/// async-signal-safe functions on these values and allocates nothing.
pub struct ChildExec<'a> {
    pub path: &'a CStr,
    /// NULL-terminated.
    pub argv: &'a [*const c_char],
    /// NULL-terminated.
    pub envp: &'a [*const c_char],
    /// (source, target) pairs; every source must be above every target (see `spawn`).
    pub fds: &'a [(RawFd, RawFd)],
    /// After placing the fds, the child blocks reading one byte from this (target) fd and
    /// execs only if it is `go`. Capabilities in the new user namespace survive exec only once
    /// uid 0 is mapped, so the exec must wait until the supervisor has written the maps.
    pub wait_fd: RawFd,
    pub go: u8,
    /// Every fd from this number up is closed once the fds are placed (it is above every
    /// target): the child keeps no copy of the supervisor's ends, its own or another jail's.
    pub close_from: RawFd,
}

/// Exit status of the child when something before exec failed.
pub const EXIT_CHILD_DUP: i32 = 126;
pub const EXIT_CHILD_EXEC: i32 = 127;
pub const EXIT_CHILD_NO_GO: i32 = 125;
pub const EXIT_CHILD_SETID: i32 = 124;

/// The host identity a jail's user namespace is created under (its owner).
#[derive(Debug, Clone, Copy)]
pub struct Owner {
    pub uid: u32,
    pub gid: u32,
}

/// `clone(flags | CLONE_PIDFD | SIGCHLD)` with fork-like semantics; the child sets its
/// parent-death signal, places its fds and execs `exec.path` at once. Returns the child's pid
/// and pidfd.
///
/// With `CLONE_NEWUSER` in `flags`, the new user namespace is owned by `owner`, not by host root:
/// the kernel charges what the jail uses (pending signals, processes, inotify, message queues,
/// locked memory) at every level up to the initial namespace, the owner's level included, so
/// it must not be host root's budget. The calling thread takes the owner's ids as its effective
/// ids for the clone alone (its real and saved ids stay root, so it can return); its effective
/// capabilities are raised again from the permitted set, so the kernel still sees a privileged
/// creator (kernels and LSMs that restrict unprivileged user namespaces). Other threads are
/// untouched: the raw setres*id calls change only the calling thread's credentials.
pub fn clone_jail(flags: libc::c_ulong, owner: Owner, exec: &ChildExec<'_>) -> Result<(i32, OwnedFd), Errno> {
    if exec.argv.last() != Some(&std::ptr::null()) || exec.envp.last() != Some(&std::ptr::null()) {
        return Err(Errno::EINVAL);
    }
    if owner.uid == 0 || owner.gid == 0 {
        return Err(Errno::EINVAL);
    }
    // One clone at a time: the dumpable flag set below is the whole process's, and a thread
    // changing its effective uid back resets it to fs.suid_dumpable.
    static CLONING: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one = CLONING.lock().unwrap_or_else(|p| p.into_inner());
    become_owner(owner)?;
    let cloned = (|| {
        // A changed effective uid resets the dumpable flag to fs.suid_dumpable; the child must
        // start non-dumpable, or its /proc files (uid_map, gid_map) would belong to the owner and
        // the supervisor could not write them without CAP_DAC_OVERRIDE.
        // SAFETY: PR_SET_DUMPABLE takes integers only.
        Errno::result(unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) })?;
        raw_clone(flags, exec)
    })();
    if let Err(e) = become_root() {
        // This thread would go on with another identity; nothing sane is left to do.
        panic!("cannot return to the supervisor's own ids after cloning a jail: {e}");
    }
    cloned
}

fn raw_clone(flags: libc::c_ulong, exec: &ChildExec<'_>) -> Result<(i32, OwnedFd), Errno> {
    let mut pidfd: libc::c_int = -1;
    let all = flags | libc::CLONE_PIDFD as libc::c_ulong | libc::SIGCHLD as libc::c_ulong;
    // The child runs only `child_exec`, which calls async-signal-safe functions on memory
    // prepared before the clone and never returns. `pidfd` is the parent_tid argument on x86_64.
    // SAFETY: raw clone without CLONE_VM and a NULL stack is fork: the child gets a copy of the
    // address space; `pidfd` is a valid, writable int for CLONE_PIDFD.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_clone,
            all,
            std::ptr::null_mut::<libc::c_void>(),
            &mut pidfd as *mut libc::c_int,
            std::ptr::null_mut::<libc::c_int>(),
            0usize,
        )
    };
    match ret {
        -1 => Err(Errno::last()),
        0 => child_exec(exec),
        pid => {
            // SAFETY: with CLONE_PIDFD the kernel stored a new pidfd owned by nobody else.
            let fd = unsafe { OwnedFd::from_raw_fd(pidfd) };
            Ok((pid as i32, fd))
        }
    }
}

/// The child side of [`clone_jail`]: no allocation, no locks, only async-signal-safe calls.
fn child_exec(exec: &ChildExec<'_>) -> ! {
    // SAFETY: every call below is async-signal-safe (prctl, sigprocmask, rt_sigaction, dup2, execve,
    // _exit are raw system calls) and uses only memory prepared before the clone.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigprocmask(libc::SIG_SETMASK, &set, std::ptr::null_mut());
        // An ignored disposition survives exec: the Rust runtime ignores SIGPIPE, and a shell
        // may have started the supervisor with SIGINT or SIGHUP ignored (`nohup … &`). Every
        // one of 1 to 64 goes back to its default through the raw call (glibc's `signal`
        // refuses its two reserved signals, which some launchers ignore too); SIGKILL and
        // SIGSTOP cannot change. jail-init does the same again for the script's process.
        let dfl = jail_init::KernelSigaction::DEFAULT;
        for sig in 1..=64 {
            if sig != libc::SIGKILL && sig != libc::SIGSTOP {
                libc::syscall(
                    libc::SYS_rt_sigaction,
                    sig,
                    &dfl as *const jail_init::KernelSigaction,
                    std::ptr::null::<u8>(),
                    8usize,
                );
            }
        }
        // A supervisor (or the thread that cloned this child) that dies while the child waits
        // for its go kills it; one that died before this line has closed its end of the control
        // socket, and with the copies this child inherited closed below, the read sees EOF.
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong, 0, 0, 0);
        for &(src, dst) in exec.fds {
            if libc::dup2(src, dst) < 0 {
                libc::_exit(EXIT_CHILD_DUP);
            }
        }
        // Everything else the supervisor had open: CLOEXEC would close it at exec, but until
        // then a copy of the supervisor's end of this or another jail's control socket would
        // keep that socket from ever hanging up.
        if libc::syscall(libc::SYS_close_range, exec.close_from as libc::c_uint, libc::c_uint::MAX, 0) != 0 {
            libc::_exit(EXIT_CHILD_DUP);
        }
        let mut byte: u8 = 0;
        loop {
            let n = libc::read(exec.wait_fd, (&mut byte as *mut u8).cast(), 1);
            if n == 1 && byte == exec.go {
                break;
            }
            if n < 0 && *libc::__errno_location() == libc::EINTR {
                continue;
            }
            // EOF or anything else: the supervisor gave up on this jail.
            libc::_exit(EXIT_CHILD_NO_GO);
        }
        // Become uid/gid 0 of the new namespace (mapped to an unprivileged host id), so that
        // exec keeps the namespace's capabilities for jail-init. Raw syscalls: glibc's wrappers
        // would try to broadcast the change to the parent's threads, which do not exist here.
        if libc::syscall(libc::SYS_setresgid, 0, 0, 0) != 0 || libc::syscall(libc::SYS_setresuid, 0, 0, 0) != 0 {
            libc::_exit(EXIT_CHILD_SETID);
        }
        // If the supervisor dies, so does the jail: jail-init is PID 1, and its death empties
        // the PID namespace. Set again: the change of uid cleared the parent-death signal.
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong, 0, 0, 0);
        // A supervisor that died before that line would leave no signal to come: its end of
        // the control socket is closed then, which shows as a hang-up.
        let mut pfd = libc::pollfd { fd: exec.wait_fd, events: 0, revents: 0 };
        if libc::poll(&mut pfd, 1, 0) != 0 && pfd.revents & (libc::POLLHUP | libc::POLLERR) != 0 {
            libc::_exit(EXIT_CHILD_NO_GO);
        }
        libc::execve(exec.path.as_ptr(), exec.argv.as_ptr(), exec.envp.as_ptr());
        libc::_exit(EXIT_CHILD_EXEC)
    }
}

/// This thread's effective uid/gid become the owner's; its effective capabilities are raised
/// again from the permitted set (the uid change clears them, keeps the permitted set because the
/// real and saved uids stay 0).
fn become_owner(owner: Owner) -> Result<(), Errno> {
    const KEEP: libc::c_long = -1;
    // SAFETY: setresgid/setresuid take integers and change only this thread's credentials (raw
    // syscalls: glibc's wrappers would change every thread of the process).
    Errno::result(unsafe { libc::syscall(libc::SYS_setresgid, KEEP, libc::c_long::from(owner.gid), KEEP) })?;
    // SAFETY: as above.
    let set_uid = unsafe { libc::syscall(libc::SYS_setresuid, KEEP, libc::c_long::from(owner.uid), KEEP) };
    if let Err(e) = Errno::result(set_uid) {
        let _ = become_root();
        return Err(e);
    }
    if let Err(e) = raise_effective() {
        let _ = become_root();
        return Err(e);
    }
    Ok(())
}

/// Back to effective uid/gid 0 on this thread (the effective capabilities follow the uid).
fn become_root() -> Result<(), Errno> {
    const KEEP: libc::c_long = -1;
    // SAFETY: as in `become_owner`; euid 0 first, which gives back CAP_SETGID for the gid.
    Errno::result(unsafe { libc::syscall(libc::SYS_setresuid, KEEP, 0 as libc::c_long, KEEP) })?;
    // SAFETY: as above.
    Errno::result(unsafe { libc::syscall(libc::SYS_setresgid, KEEP, 0 as libc::c_long, KEEP) }).map(drop)
}

#[repr(C)]
struct CapHeader {
    version: u32,
    pid: i32,
}

#[repr(C)]
#[derive(Default, Clone, Copy)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

const LINUX_CAPABILITY_VERSION_3: u32 = 0x2008_0522;

/// This thread's effective capability set (bit n = capability n).
pub fn effective_capabilities() -> Result<u64, Errno> {
    let mut header = CapHeader { version: LINUX_CAPABILITY_VERSION_3, pid: 0 };
    let mut data = [CapData::default(); 2];
    // SAFETY: header and data are valid and writable for the call (v3 takes two data structs).
    Errno::result(unsafe { libc::syscall(libc::SYS_capget, &mut header, data.as_mut_ptr()) })?;
    Ok(u64::from(data[0].effective) | (u64::from(data[1].effective) << 32))
}

/// Effective capabilities of this thread := its permitted set.
fn raise_effective() -> Result<(), Errno> {
    let mut header = CapHeader { version: LINUX_CAPABILITY_VERSION_3, pid: 0 };
    let mut data = [CapData::default(); 2];
    // SAFETY: header and data are valid and writable for the call (v3 takes two data structs).
    Errno::result(unsafe { libc::syscall(libc::SYS_capget, &mut header, data.as_mut_ptr()) })?;
    for d in &mut data {
        d.effective = d.permitted;
    }
    // SAFETY: header and data are valid for the call; capset changes only this thread.
    Errno::result(unsafe { libc::syscall(libc::SYS_capset, &mut header, data.as_ptr()) }).map(drop)
}

/// A sealed memfd holding `bytes`, positioned at offset 0, for jail-init or the runner to read.
pub fn sealed_memfd(name: &CStr, bytes: &[u8]) -> Result<OwnedFd, Errno> {
    use std::io::{Seek, Write};
    // SAFETY: `name` is a valid C string; memfd_create returns a new fd or -1.
    let raw = Errno::result(unsafe { libc::memfd_create(name.as_ptr(), libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING) })?;
    // SAFETY: the fd was just created and is owned by nobody else.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    let mut file = std::fs::File::from(fd);
    let io = |e: std::io::Error| Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO));
    file.write_all(bytes).map_err(io)?;
    file.rewind().map_err(io)?;
    let seals = libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_WRITE | libc::F_SEAL_SEAL;
    // SAFETY: F_ADD_SEALS takes an int and only changes the memfd's seals.
    Errno::result(unsafe { libc::fcntl(file.as_raw_fd(), libc::F_ADD_SEALS, seals) })?;
    Ok(OwnedFd::from(file))
}

/// Duplicates `fd` with O_CLOEXEC at the lowest number >= `min`.
pub fn dup_above(fd: BorrowedFd<'_>, min: RawFd) -> Result<OwnedFd, Errno> {
    // SAFETY: F_DUPFD_CLOEXEC only manipulates the descriptor table.
    let raw = Errno::result(unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_DUPFD_CLOEXEC, min) })?;
    // SAFETY: the new descriptor is ours alone.
    Ok(unsafe { OwnedFd::from_raw_fd(raw) })
}

/// The Landlock ABI version of the running kernel, 0 when Landlock is unavailable.
pub fn landlock_abi() -> u32 {
    const LANDLOCK_CREATE_RULESET_VERSION: libc::c_uint = 1;
    // SAFETY: with a NULL attribute pointer, size 0 and the VERSION flag the syscall only
    // returns a number.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            std::ptr::null::<libc::c_void>(),
            0usize,
            LANDLOCK_CREATE_RULESET_VERSION,
        )
    };
    u32::try_from(ret).unwrap_or(0)
}

/// One pending seccomp user notification.
#[derive(Debug, Clone, Copy)]
pub struct Notification {
    pub id: u64,
    pub pid: u32,
    /// The syscall's ABI (`AUDIT_ARCH_*`): its number belongs to that ABI's table.
    pub arch: u32,
    pub nr: i64,
    pub args: [u64; 6],
}

pub fn notif_recv(listener: BorrowedFd<'_>) -> Result<Notification, Errno> {
    // SAFETY: seccomp_notif is plain old data; the kernel requires it zeroed before RECV.
    let mut req: libc::seccomp_notif = unsafe { std::mem::zeroed() };
    // SAFETY: `req` is a valid, writable seccomp_notif for the duration of the ioctl.
    Errno::result(unsafe {
        libc::ioctl(listener.as_raw_fd(), libc::SECCOMP_IOCTL_NOTIF_RECV as _, &mut req as *mut libc::seccomp_notif)
    })?;
    Ok(Notification { id: req.id, pid: req.pid, arch: req.data.arch, nr: i64::from(req.data.nr), args: req.data.args })
}

/// Answers a notification: the syscall fails with `errno` and is not executed.
pub fn notif_deny(listener: BorrowedFd<'_>, id: u64, errno: i32) -> Result<(), Errno> {
    let mut resp = libc::seccomp_notif_resp { id, val: 0, error: -errno, flags: 0 };
    // SAFETY: `resp` is a valid seccomp_notif_resp for the duration of the ioctl.
    Errno::result(unsafe {
        libc::ioctl(
            listener.as_raw_fd(),
            libc::SECCOMP_IOCTL_NOTIF_SEND as _,
            &mut resp as *mut libc::seccomp_notif_resp,
        )
    })
    .map(drop)
}

/// A pidfd for process `pid` (pidfd_open(2)): the watch loop's tests watch a child of their own.
#[cfg(test)]
pub fn pidfd_open(pid: i32) -> Result<OwnedFd, Errno> {
    // SAFETY: pidfd_open takes integers and returns a new fd or -1.
    let fd = Errno::result(unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) })?;
    let fd = RawFd::try_from(fd).map_err(|_| Errno::EBADF)?;
    // SAFETY: the kernel just returned this fd to us; nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Sends SIGKILL through a pidfd (no pid-reuse race).
pub fn pidfd_kill(pidfd: BorrowedFd<'_>) -> Result<(), Errno> {
    // SAFETY: pidfd_send_signal with a NULL siginfo takes only integers.
    Errno::result(unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd.as_raw_fd(),
            libc::SIGKILL,
            std::ptr::null::<libc::siginfo_t>(),
            0,
        )
    })
    .map(drop)
}

/// Receives one datagram and the fds attached to it.
pub fn recv_with_fds(sock: BorrowedFd<'_>, buf: &mut [u8]) -> Result<(usize, Vec<OwnedFd>), Errno> {
    use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
    let mut iov = [std::io::IoSliceMut::new(buf)];
    let mut cmsg = nix::cmsg_space!([RawFd; 4]);
    let msg = recvmsg::<()>(
        sock.as_raw_fd(),
        &mut iov,
        Some(&mut cmsg),
        MsgFlags::MSG_CMSG_CLOEXEC | MsgFlags::MSG_DONTWAIT,
    )?;
    let mut fds = Vec::new();
    for c in msg.cmsgs()? {
        if let ControlMessageOwned::ScmRights(raw) = c {
            for fd in raw {
                // SAFETY: SCM_RIGHTS delivered a new descriptor that belongs to us alone.
                fds.push(unsafe { OwnedFd::from_raw_fd(fd) });
            }
        }
    }
    Ok((msg.bytes, fds))
}

/// Creates a fresh, empty network namespace and returns an fd for it. Call it on a thread of its
/// own that ends right after: unshare(CLONE_NEWNET) moves the calling thread into the new
/// namespace.
pub fn new_network_namespace() -> Result<OwnedFd, Errno> {
    nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET)?;
    let file = std::fs::File::open("/proc/thread-self/ns/net")
        .map_err(|e| Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)))?;
    Ok(OwnedFd::from(file))
}

/// Moves the calling thread into the network namespace `ns`.
pub fn enter_network_namespace(ns: BorrowedFd<'_>) -> Result<(), Errno> {
    nix::sched::setns(ns, nix::sched::CloneFlags::CLONE_NEWNET)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    /// A jail-init child whose supervisor dies before it says go must not wait forever (it
    /// would hold its host ids, its namespaces and the daemon's inherited fds): a daemon killed
    /// between clone and go leaves nothing behind.
    #[test]
    fn a_child_whose_supervisor_dies_before_go_goes_too() {
        // SAFETY: geteuid takes nothing.
        if unsafe { libc::geteuid() } != 0 {
            assert!(std::env::var_os("CI").is_none(), "CI runs the tests as root");
            eprintln!("skipped: cloning a jail needs root");
            return;
        }
        let mut control = [0; 2];
        let mut report = [0; 2];
        // SAFETY: both arrays are valid for two fds.
        unsafe {
            assert_eq!(
                libc::socketpair(libc::AF_UNIX, libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC, 0, control.as_mut_ptr()),
                0
            );
            assert_eq!(libc::pipe2(report.as_mut_ptr(), libc::O_CLOEXEC), 0);
        }
        // Everything the middle process (the "supervisor") uses is made before the fork: it
        // runs as a copy of this multi-threaded process and must not allocate.
        let path = c"/bin/true";
        let argv = [path.as_ptr(), std::ptr::null()];
        let envp = [std::ptr::null()];
        let fds = [(control[1], 100), (100, 3)];
        let exec = ChildExec { path, argv: &argv, envp: &envp, fds: &fds[1..], wait_fd: 3, go: b'G', close_from: 4 };
        // SAFETY: the child only makes raw system calls on memory prepared above.
        let middle = unsafe { libc::fork() };
        assert!(middle >= 0);
        if middle == 0 {
            // SAFETY: raw system calls only; the middle process ends with _exit and never says
            // go (it keeps its end of the control socket open until it dies).
            unsafe {
                if libc::dup2(fds[0].0, fds[0].1) < 0 {
                    libc::_exit(2);
                }
                let flags = (libc::CLONE_NEWUSER | libc::CLONE_NEWPID) as libc::c_ulong;
                let pid = match clone_jail(flags, Owner { uid: 65_534, gid: 65_534 }, &exec) {
                    Ok((pid, _)) => pid,
                    Err(_) => libc::_exit(3),
                };
                libc::write(report[1], (&pid as *const i32).cast(), 4);
                // Long enough for the child to be waiting for its go.
                libc::usleep(100_000);
                libc::_exit(0);
            }
        }
        // SAFETY: closing our copies of the ends the middle process uses.
        unsafe {
            libc::close(report[1]);
            libc::close(control[1]);
        }
        let mut pid: i32 = 0;
        // SAFETY: reading 4 bytes into an i32.
        let n = unsafe { libc::read(report[0], (&mut pid as *mut i32).cast(), 4) };
        let mut status = 0;
        // SAFETY: waiting for our own child.
        assert_eq!(unsafe { libc::waitpid(middle, &mut status, 0) }, middle);
        assert_eq!((n, libc::WEXITSTATUS(status)), (4, 0), "the middle process could not clone");
        assert!(pid > 0);
        // The child is reparented to the host's init, which reaps it; a zombie is gone too.
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            let state = stat.rsplit(')').next().and_then(|rest| rest.split_whitespace().next());
            if matches!(state, None | Some("Z") | Some("X")) {
                break;
            }
            assert!(Instant::now() < deadline, "the orphaned jail child {pid} still waits: {stat}");
            std::thread::sleep(Duration::from_millis(10));
        }
        // SAFETY: closing fds of this test.
        unsafe {
            libc::close(control[0]);
            libc::close(report[0]);
        }
    }
}
