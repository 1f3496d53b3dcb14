//! The raw system calls of the daemon that no crate wraps: SO_PEERGROUPS, and taking over the
//! descriptor socket activation passes. Every `unsafe` block of the `jaild` crate is in this
//! module (the crate denies `unsafe_code` everywhere else); the one call of an `unsafe fn` from
//! here is daemon/systemd.rs's [`take_inherited_fd`], whose safety only the sd_listen_fds(3)
//! protocol checked there can vouch for.

use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

/// SO_PEERGROUPS (asm-generic and most architectures; sparc numbers it differently).
#[cfg(not(target_arch = "sparc64"))]
const SO_PEERGROUPS: libc::c_int = 59;
#[cfg(target_arch = "sparc64")]
const SO_PEERGROUPS: libc::c_int = 0x003d;

/// The peer's supplementary groups as they were at connect(2) (Linux 4.13+). Neither libc nor
/// nix wraps this option, hence the raw getsockopt.
pub fn peer_groups(fd: BorrowedFd<'_>) -> std::io::Result<Vec<u32>> {
    let mut groups = vec![0 as libc::gid_t; 64];
    loop {
        let mut len = (groups.len() * std::mem::size_of::<libc::gid_t>()) as libc::socklen_t;
        // SAFETY: `fd` is a live socket borrowed for the call; the buffer is `len` bytes of
        // writable gid_t storage that outlives the call; the kernel writes at most `len` bytes
        // and stores the length it needs (or wrote) in `len`.
        let rc = unsafe {
            libc::getsockopt(fd.as_raw_fd(), libc::SOL_SOCKET, SO_PEERGROUPS, groups.as_mut_ptr().cast(), &mut len)
        };
        let n = len as usize / std::mem::size_of::<libc::gid_t>();
        if rc == 0 {
            groups.truncate(n);
            return Ok(groups);
        }
        let err = std::io::Error::last_os_error();
        if err.raw_os_error() == Some(libc::ERANGE) && n > groups.len() && n <= 65_536 {
            groups.resize(n, 0);
            continue;
        }
        return Err(err);
    }
}

/// Takes ownership of a descriptor this process was started with (socket activation's fd 3).
///
/// # Safety
/// `fd` must be open and owned by nothing else in the process: no other `OwnedFd`, `File` or
/// socket wraps it, now or later.
pub unsafe fn take_inherited_fd(fd: RawFd) -> OwnedFd {
    // SAFETY: the caller guarantees `fd` is open and unowned.
    unsafe { OwnedFd::from_raw_fd(fd) }
}
