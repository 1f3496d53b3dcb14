//! The raw system calls jail-init needs that nix does not wrap (or wraps around owned fds that
//! the fixed fd layout makes awkward). Every `unsafe` block in jail-init lives here.

use nix::errno::Errno;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};

/// Takes ownership of an fd the supervisor handed to jail-init at a fixed number.
pub fn inherited(fd: RawFd) -> Result<OwnedFd, Errno> {
    // SAFETY: F_GETFD only inspects the descriptor table.
    if unsafe { libc::fcntl(fd, libc::F_GETFD) } < 0 {
        return Err(Errno::last());
    }
    // SAFETY: `fd` is open (checked above) and, by the layout in `jail_init::fds`, belongs to
    // jail-init alone; nothing else in this process wraps it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Borrows an fd of the fixed layout for one call.
pub fn borrow(fd: RawFd) -> std::os::fd::BorrowedFd<'static> {
    // SAFETY: the fds of `jail_init::fds` stay open until jail-init closes them explicitly,
    // after their last use.
    unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) }
}

/// `dup2(old, new)`; `new` loses O_CLOEXEC, so it survives exec.
pub fn dup2(old: RawFd, new: RawFd) -> Result<(), Errno> {
    // SAFETY: dup2 only manipulates the descriptor table; a bad fd is reported as EBADF.
    Errno::result(unsafe { libc::dup2(old, new) }).map(drop)
}

/// Duplicates `fd` to the lowest free number >= `min`, with O_CLOEXEC.
pub fn dup_cloexec_above(fd: RawFd, min: RawFd) -> Result<RawFd, Errno> {
    // SAFETY: F_DUPFD_CLOEXEC only manipulates the descriptor table.
    Errno::result(unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, min) })
}

pub fn close(fd: RawFd) {
    // SAFETY: callers pass descriptors they own and do not use afterwards; EBADF is harmless.
    unsafe { libc::close(fd) };
}

/// Marks every descriptor from `first` up close-on-exec.
pub fn cloexec_from(first: u32) -> Result<(), Errno> {
    // SAFETY: close_range with CLOSE_RANGE_CLOEXEC only sets flags in the descriptor table.
    Errno::result(unsafe { libc::syscall(libc::SYS_close_range, first, u32::MAX, libc::CLOSE_RANGE_CLOEXEC) }).map(drop)
}

/// Drops every capability from the bounding set (needs CAP_SETPCAP, so call it while root).
pub fn drop_bounding_set() -> Result<(), Errno> {
    for cap in 0..64 {
        // SAFETY: PR_CAPBSET_DROP takes a capability number and touches only this task.
        let rc = unsafe { libc::prctl(libc::PR_CAPBSET_DROP, cap, 0, 0, 0) };
        if rc < 0 {
            let err = Errno::last();
            // EINVAL: past the last capability this kernel knows.
            if err == Errno::EINVAL {
                break;
            }
            return Err(err);
        }
    }
    Ok(())
}

/// Locks the securebits so that no later uid change or exec can give capabilities back.
pub fn lock_securebits() -> Result<(), Errno> {
    const SECBIT_NOROOT: libc::c_ulong = 1 << 0;
    const SECBIT_NOROOT_LOCKED: libc::c_ulong = 1 << 1;
    const SECBIT_NO_SETUID_FIXUP: libc::c_ulong = 1 << 2;
    const SECBIT_NO_SETUID_FIXUP_LOCKED: libc::c_ulong = 1 << 3;
    const SECBIT_KEEP_CAPS_LOCKED: libc::c_ulong = 1 << 5;
    const SECBIT_NO_CAP_AMBIENT_RAISE: libc::c_ulong = 1 << 6;
    const SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED: libc::c_ulong = 1 << 7;
    let bits = SECBIT_NOROOT
        | SECBIT_NOROOT_LOCKED
        | SECBIT_NO_SETUID_FIXUP
        | SECBIT_NO_SETUID_FIXUP_LOCKED
        | SECBIT_KEEP_CAPS_LOCKED
        | SECBIT_NO_CAP_AMBIENT_RAISE
        | SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED;
    // SAFETY: PR_SET_SECUREBITS takes a plain integer and affects only this task.
    Errno::result(unsafe { libc::prctl(libc::PR_SET_SECUREBITS, bits, 0, 0, 0) }).map(drop)
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

/// Clears the effective, permitted and inheritable sets, and the ambient set.
pub fn clear_capabilities() -> Result<(), Errno> {
    let mut header = CapHeader { version: LINUX_CAPABILITY_VERSION_3, pid: 0 };
    let data = [CapData::default(); 2];
    // SAFETY: header and data are valid, properly laid out (v3 uses two data structs) and live
    // for the duration of the call.
    Errno::result(unsafe { libc::syscall(libc::SYS_capset, &mut header, data.as_ptr()) })?;
    // SAFETY: PR_CAP_AMBIENT_CLEAR_ALL takes no pointers and affects only this task.
    Errno::result(unsafe { libc::prctl(libc::PR_CAP_AMBIENT, libc::PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) }).map(drop)
}

/// True when this task holds no capability in any set.
pub fn has_no_capabilities() -> Result<bool, Errno> {
    let mut header = CapHeader { version: LINUX_CAPABILITY_VERSION_3, pid: 0 };
    let mut data = [CapData::default(); 2];
    // SAFETY: header and data are valid and writable for the call; capget fills `data`.
    Errno::result(unsafe { libc::syscall(libc::SYS_capget, &mut header, data.as_mut_ptr()) })?;
    Ok(data.iter().all(|d| d.effective == 0 && d.permitted == 0 && d.inheritable == 0))
}

const SECCOMP_SET_MODE_FILTER: libc::c_ulong = 1;
const SECCOMP_FILTER_FLAG_NEW_LISTENER: libc::c_ulong = 1 << 3;

/// Installs a classic BPF seccomp program and returns its user-notification listener.
/// no_new_privs must already be set.
pub fn install_seccomp_with_listener(program: &[libc::sock_filter]) -> Result<OwnedFd, Errno> {
    let len = u16::try_from(program.len()).map_err(|_| Errno::E2BIG)?;
    let prog = libc::sock_fprog { len, filter: program.as_ptr().cast_mut() };
    // SAFETY: `prog` points to `len` valid instructions that outlive the call; the kernel copies
    // the program. The return value is a new fd or -1.
    let fd = Errno::result(unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            SECCOMP_SET_MODE_FILTER,
            SECCOMP_FILTER_FLAG_NEW_LISTENER,
            &prog as *const libc::sock_fprog,
        )
    })?;
    let fd = RawFd::try_from(fd).map_err(|_| Errno::EBADF)?;
    // SAFETY: the kernel just returned this fd to us; nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// fork(2) whose child shares this process's descriptor table until it execs or exits, with
/// this process suspended until then: `clone(CLONE_FILES | CLONE_VFORK | SIGCHLD)`, no CLONE_VM
/// (the child has its own copy of memory, as after fork). exec gives the child a table of its
/// own (closing its close-on-exec descriptors there); this process keeps the shared one.
pub fn fork_sharing_files() -> Result<nix::unistd::ForkResult, Errno> {
    let flags = (libc::CLONE_FILES | libc::CLONE_VFORK | libc::SIGCHLD) as libc::c_ulong;
    let (stack, unused) = (std::ptr::null_mut::<libc::c_void>(), 0usize);
    // jail-init is single-threaded (it was exec'd fresh and never starts a thread), so no lock
    // can be held by another thread at the clone and the child may allocate freely. glibc keeps
    // working in such a child as in a vfork child (raise and abort ask the kernel for the thread
    // id instead of trusting the cached one).
    // SAFETY: without CLONE_VM and with a NULL stack, raw clone is fork (the child runs on its
    // own copy of this stack), in a single-threaded process: no lock can be held at the clone.
    let ret = unsafe { libc::syscall(libc::SYS_clone, flags, stack, unused, unused, unused) };
    match ret {
        -1 => Err(Errno::last()),
        0 => Ok(nix::unistd::ForkResult::Child),
        pid => Ok(nix::unistd::ForkResult::Parent { child: nix::unistd::Pid::from_raw(pid as i32) }),
    }
}

/// Closes every descriptor from `first` to `last` (inclusive).
pub fn close_range(first: u32, last: u32) -> Result<(), Errno> {
    // SAFETY: close_range only closes descriptors; callers keep none of these in use.
    Errno::result(unsafe { libc::syscall(libc::SYS_close_range, first, last, 0u32) }).map(drop)
}

/// The seccomp user-notification listener in this process's descriptor table, if there is one.
pub fn find_seccomp_listener() -> Result<Option<OwnedFd>, Errno> {
    let io = |e: std::io::Error| Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO));
    for entry in std::fs::read_dir("/proc/self/fd").map_err(io)? {
        let entry = entry.map_err(io)?;
        let Some(fd) = entry.file_name().to_str().and_then(|n| n.parse::<RawFd>().ok()) else { continue };
        if std::fs::read_link(entry.path()).is_ok_and(|t| t.as_os_str() == "anon_inode:seccomp notify") {
            return inherited(fd).map(Some);
        }
    }
    Ok(None)
}

/// Every signal's disposition back to the default and the signal mask emptied: an ignored
/// disposition and the mask survive exec, so without this the script would inherit whatever
/// jail-init was started with (SIGPIPE ignored by the Rust runtime, SIGINT or SIGHUP ignored
/// by a shell's `nohup … &` around `jailctl run`, even the two signals glibc reserves for its
/// threads, which some launchers ignore). Signals 1 to 64 (the kernel's _NSIG), through the raw
/// system call: glibc's `signal` refuses its reserved ones. SIGKILL and SIGSTOP cannot change.
pub fn reset_signals() -> Result<(), Errno> {
    for sig in 1..=64 {
        if sig == libc::SIGKILL || sig == libc::SIGSTOP {
            continue;
        }
        set_default_disposition(sig)?;
    }
    // SAFETY: an empty set, built by sigemptyset, and no old set asked for.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        Errno::result(libc::sigprocmask(libc::SIG_SETMASK, &set, std::ptr::null_mut())).map(drop)
    }
}

fn set_default_disposition(sig: i32) -> Result<(), Errno> {
    let act = jail_init::KernelSigaction::DEFAULT;
    // SAFETY: `act` is a valid kernel sigaction for the call; SIG_DFL needs no restorer; the
    // old action is not asked for; 8 is the size of the kernel's signal set.
    Errno::result(unsafe {
        libc::syscall(
            libc::SYS_rt_sigaction,
            sig,
            &act as *const jail_init::KernelSigaction,
            std::ptr::null::<u8>(),
            8usize,
        )
    })
    .map(drop)
}
