//! Host identities of jails: every jail that runs at the same time maps onto host ids of its own.
//!
//! The kernel keeps some accounting per host user, whatever the namespace: file descriptors in
//! flight on unix sockets (`user_struct`), and, through the user namespace's owner, pending
//! signals, processes, inotify instances and watches, message queues and locked memory
//! (`ucounts`, charged at every level up to the initial namespace). Jails that shared one host
//! uid would share those budgets, so one jail could starve the others (a script parking
//! descriptors in flight made every jail started meanwhile fail to set up); user namespaces
//! created by host root would charge host root's.
//!
//! So host ids come in slots. Slot `s` of a supervisor with base `b` is:
//!
//! * `b + s`: the jail's root (jail-init) and the owner of the jail's user namespace, which the
//!   supervisor creates under this id (see `sys::clone_jail`): what the jail is charged with
//!   lands on it, not on host root;
//! * `b + 1000 + s`: the script's uid 1000 (and its processes).
//!
//! A slot serves one jail at a time. It is taken before the jail is made and given back only once
//! jail-init has been reaped (the PID namespace is empty then: every process of the jail is gone),
//! least recently used first, so that what the kernel releases late (unix-socket garbage,
//! signals of exiting tasks) is long gone before the ids come round again. Slots are exclusive
//! across processes too (jaild beside `jailctl run --local`, test suites side by side): each is
//! held with an `flock` on a file named for its root id in a root-only directory, which the
//! kernel releases if the holder dies.

use nix::fcntl::{Flock, FlockArg};
use std::collections::VecDeque;
use std::fs::File;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// The script's uid inside every jail; its host uid is `base + SCRIPT_OFFSET + slot`.
pub const SCRIPT_OFFSET: u32 = 1000;

/// At most this many slots: the jails' root ids (`base..base + slots`) must stay below the
/// scripts' (`base + 1000..`).
pub const MAX_SLOTS: u32 = SCRIPT_OFFSET;

/// Default number of slots: all there can be (the span base..base+1999), more than any host
/// runs at once, so that ids are reused only after many other runs.
pub const DEFAULT_SLOTS: u32 = MAX_SLOTS;

/// Where slot locks live unless configured otherwise.
pub const DEFAULT_LOCK_DIR: &str = "/run/jaild/ids";

#[derive(Debug, thiserror::Error)]
pub enum HostIdError {
    #[error("host_id_base {base} with {slots} slots is not usable: the jails map onto {base}..{last_root} (their root) and {first_script}..{last_script} (scripts), which must be unprivileged (base >= 1000), fit in 32 bits, and not overlap (at most {MAX_SLOTS} slots)", last_root = u64::from(*base) + u64::from(*slots).saturating_sub(1), first_script = u64::from(*base) + u64::from(SCRIPT_OFFSET), last_script = u64::from(*base) + u64::from(SCRIPT_OFFSET) + u64::from(*slots).saturating_sub(1))]
    Range { base: u32, slots: u32 },
    #[error("failed to create the host id lock directory {path}")]
    LockDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the host id lock directory {path} must be a directory owned by root and writable by nobody else (it is mode {mode:o}, owner {uid})")]
    LockDirUnsafe { path: PathBuf, mode: u32, uid: u32 },
    #[error("failed to lock host id slot {slot} ({path})")]
    Lock {
        slot: u32,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("all {slots} host id slots ({base}..) are in use by this and other supervisors; raise host_id_slots or lower concurrency")]
    Exhausted { base: u32, slots: u32 },
}

/// The host ids of one jail, held until dropped.
#[derive(Debug)]
pub struct Slot {
    index: u32,
    base: u32,
    _lock: Flock<File>,
    pool: Arc<Mutex<VecDeque<u32>>>,
}

impl Slot {
    /// The host uid and gid of the jail's root: jail-init, and the user namespace's owner.
    pub fn root_id(&self) -> u32 {
        self.base + self.index
    }

    /// The host uid and gid of the script (the jail's uid 1000).
    pub fn script_id(&self) -> u32 {
        self.base + SCRIPT_OFFSET + self.index
    }

    pub fn index(&self) -> u32 {
        self.index
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        // The lock file closes after this (field drop order), releasing the flock; in between
        // the slot is only back in this process's queue, where the next taker locks it again.
        if let Ok(mut free) = self.pool.lock() {
            free.push_back(self.index);
        }
    }
}

/// The slots of one supervisor.
#[derive(Debug)]
pub struct HostIds {
    base: u32,
    slots: u32,
    lock_dir: PathBuf,
    free: Arc<Mutex<VecDeque<u32>>>,
}

impl HostIds {
    pub fn new(base: u32, slots: u32, lock_dir: &Path) -> Result<HostIds, HostIdError> {
        check_range(base, slots)?;
        prepare_lock_dir(lock_dir)?;
        Ok(HostIds { base, slots, lock_dir: lock_dir.to_path_buf(), free: Arc::new(Mutex::new((0..slots).collect())) })
    }

    pub fn base(&self) -> u32 {
        self.base
    }

    pub fn slots(&self) -> u32 {
        self.slots
    }

    /// Every host id a jail of this supervisor may run as: (roots, scripts), inclusive ranges.
    pub fn ranges(&self) -> ((u32, u32), (u32, u32)) {
        let last = self.slots - 1;
        ((self.base, self.base + last), (self.base + SCRIPT_OFFSET, self.base + SCRIPT_OFFSET + last))
    }

    /// The least recently used slot that no other process holds.
    pub fn acquire(&self) -> Result<Slot, HostIdError> {
        let mut free = self.free.lock().unwrap_or_else(|p| p.into_inner());
        for _ in 0..free.len() {
            let Some(index) = free.pop_front() else { break };
            let path = self.lock_dir.join((self.base + index).to_string());
            match try_lock(&path) {
                Ok(Some(lock)) => {
                    return Ok(Slot { index, base: self.base, _lock: lock, pool: Arc::clone(&self.free) })
                }
                // Held by another process: try it again after the others.
                Ok(None) => free.push_back(index),
                Err(source) => {
                    free.push_back(index);
                    return Err(HostIdError::Lock { slot: index, path, source });
                }
            }
        }
        Err(HostIdError::Exhausted { base: self.base, slots: self.slots })
    }
}

pub fn check_range(base: u32, slots: u32) -> Result<(), HostIdError> {
    let last_script = u64::from(base) + u64::from(SCRIPT_OFFSET) + u64::from(slots);
    if base < 1000 || slots == 0 || slots > MAX_SLOTS || last_script > u64::from(u32::MAX) {
        return Err(HostIdError::Range { base, slots });
    }
    Ok(())
}

fn prepare_lock_dir(dir: &Path) -> Result<(), HostIdError> {
    use std::os::unix::fs::MetadataExt;
    match std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir) {
        Ok(()) => {}
        Err(source) => return Err(HostIdError::LockDir { path: dir.to_path_buf(), source }),
    }
    let meta =
        std::fs::symlink_metadata(dir).map_err(|source| HostIdError::LockDir { path: dir.to_path_buf(), source })?;
    // Anyone who could write here could hold every slot's lock, and stop every run.
    if !meta.is_dir() || meta.uid() != 0 || meta.mode() & 0o022 != 0 {
        return Err(HostIdError::LockDirUnsafe {
            path: dir.to_path_buf(),
            mode: meta.mode() & 0o7777,
            uid: meta.uid(),
        });
    }
    Ok(())
}

/// An exclusive, non-blocking flock on `path` (created if missing), held until the returned
/// guard is dropped; None when another open file holds it.
fn try_lock(path: &Path) -> std::io::Result<Option<Flock<File>>> {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)?;
    match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
        Ok(locked) => Ok(Some(locked)),
        Err((_, nix::errno::Errno::EWOULDBLOCK)) => Ok(None),
        Err((_, e)) => Err(std::io::Error::from(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir() -> tempfile::TempDir {
        tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"))
    }

    fn ids(d: &tempfile::TempDir, slots: u32) -> HostIds {
        HostIds::new(300_000, slots, d.path()).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn slots_come_back_least_recently_used_first() {
        if !nix::unistd::geteuid().is_root() {
            return; // the lock directory must be root's
        }
        let d = dir();
        let pool = ids(&d, 3);
        let a = pool.acquire().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((a.root_id(), a.script_id()), (300_000, 301_000));
        let b = pool.acquire().unwrap_or_else(|e| panic!("{e}"));
        drop(a);
        // 2 has waited longest, then 0 (just given back).
        let c = pool.acquire().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.index(), 2);
        let a2 = pool.acquire().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(a2.index(), 0);
        assert!(matches!(pool.acquire(), Err(HostIdError::Exhausted { slots: 3, .. })));
        drop((b, c, a2));
    }

    #[test]
    fn a_slot_held_elsewhere_is_skipped() {
        if !nix::unistd::geteuid().is_root() {
            return;
        }
        let d = dir();
        // Two supervisors over one lock directory, as two processes would be.
        let first = ids(&d, 2);
        let second = ids(&d, 2);
        let held = first.acquire().unwrap_or_else(|e| panic!("{e}"));
        let other = second.acquire().unwrap_or_else(|e| panic!("{e}"));
        assert_ne!(held.index(), other.index());
        assert!(matches!(second.acquire(), Err(HostIdError::Exhausted { .. })));
        drop(held);
        let again = second.acquire().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(again.index(), 0);
    }

    #[test]
    fn an_open_lock_directory_is_refused() {
        if !nix::unistd::geteuid().is_root() {
            return;
        }
        let d = dir();
        std::fs::set_permissions(d.path(), std::os::unix::fs::PermissionsExt::from_mode(0o777))
            .unwrap_or_else(|e| panic!("{e}"));
        let err = HostIds::new(300_000, 2, d.path()).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(err.contains("writable by nobody else"), "{err}");
    }

    #[test]
    fn ranges_must_stay_unprivileged_and_apart() {
        assert!(check_range(999, 1).is_err());
        assert!(check_range(200_000, 0).is_err());
        assert!(check_range(200_000, 1001).is_err());
        assert!(check_range(u32::MAX - 1500, 600).is_err());
        assert!(check_range(200_000, 1000).is_ok());
        let e = HostIdError::Range { base: 200_000, slots: 2000 }.to_string();
        assert!(e.contains("200000..201999") && e.contains("201000..202999"), "{e}");
    }
}
