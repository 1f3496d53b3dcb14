//! The fully resolved plan for one jail. Everything here was decided by the supervisor from the
//! profile and the interpreter manifest; jail-init only executes it.

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Where jail-init builds the jail's new root ([`Plan::staging`] of every plan the supervisor
/// makes), in its own mount namespace: host paths below it are hidden from it, so a profile
/// cannot bind them. Defined here, with the plan, because both the supervisor's plan builder
/// (which fills it in) and its profile validation (which refuses binds below it) need it, and
/// a profile is validated before any plan is built from it.
pub const STAGING: &str = "/tmp";

/// The files of the jail's own minimal /etc, written by the supervisor's plan (never the host's):
/// what the C library and the interpreters read to name users and groups, resolve `localhost`
/// and look up services and protocols. Defined here for the same reason as [`STAGING`]: a
/// profile may not bind anything over them.
pub const SYNTHESIZED_ETC: [&str; 6] =
    ["/etc/passwd", "/etc/group", "/etc/hosts", "/etc/nsswitch.conf", "/etc/services", "/etc/protocols"];

/// One run's jail, resolved.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Plan {
    /// Hostname inside the UTS namespace.
    pub hostname: String,
    /// Limits of the jail's own user namespace (`/proc/sys/user/NAME` = value, written by
    /// jail-init as the namespace's root before anything else): how many namespaces, inotify
    /// instances and watches, fanotify groups and marks the jail's users may hold. The kernel
    /// checks them at this level and at every level above (up to the host's own limits, charged
    /// to the namespace's unprivileged owner).
    pub user_namespace_limits: Vec<(String, u64)>,
    /// Directory (in the new mount namespace) on which the new root tmpfs is built.
    pub staging: PathBuf,
    /// Size of the root tmpfs, which only holds mount points and the runner; read-only once built.
    pub root_size_bytes: u64,
    /// Mounts and files, in order, with destinations relative to the new root.
    pub mounts: Vec<Mount>,
    /// rlimits set on the script's process before exec.
    pub rlimits: Vec<Rlimit>,
    /// uid and gid the script runs as inside the jail (never 0).
    pub uid: u32,
    pub gid: u32,
    /// Landlock ruleset.
    pub landlock: LandlockPlan,
    /// Compiled seccomp program (classic BPF) installed with a user-notification listener.
    pub seccomp: Vec<SockFilter>,
    /// Program to exec: absolute path inside the jail and argv (argv[0] included).
    pub exec: PathBuf,
    pub argv: Vec<String>,
    /// The complete environment of the script.
    pub env: Vec<(String, String)>,
    /// Working directory of the script.
    pub cwd: PathBuf,
    /// How many cgroup files the script's process writes "0" to, moving itself into the run's
    /// cgroup, at fds `CGROUP_FIRST..`. jail-init itself stays outside the run's cgroup: it is
    /// trusted, runs no script code, and its exit (which tears the namespaces down) is then not
    /// on the way to removing the cgroup.
    pub cgroup_fds: u32,
}

/// One step of building the filesystem view. Destinations are absolute paths inside the jail.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Mount {
    /// Read-only bind mount of a host file or directory (not recursive: submounts stay out).
    /// Always read-only, device nodes included: writing to a device does not need a writable
    /// mount, while changing its timestamps or mode would (and would change the host's node).
    Bind {
        src: PathBuf,
        dst: PathBuf,
        /// Leave executable mappings possible (shared objects, the interpreter). Otherwise noexec.
        exec: bool,
        /// Device nodes (only for the minimal /dev); otherwise nodev.
        dev: bool,
    },
    /// A size-limited tmpfs.
    Tmpfs { dst: PathBuf, size_bytes: u64, inodes: u64, mode: u32, uid: u32, gid: u32 },
    /// A fresh procfs for the jail's PID namespace.
    Proc { dst: PathBuf },
    /// A directory in the root tmpfs.
    Dir { dst: PathBuf, mode: u32 },
    /// A regular file in the root tmpfs with the given contents (the runner, for instance).
    File { dst: PathBuf, contents: String, mode: u32 },
    /// A symlink in the root tmpfs.
    Symlink { target: PathBuf, dst: PathBuf },
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Rlimit {
    /// `libc::RLIMIT_*` resource number.
    pub resource: u32,
    pub soft: u64,
    pub hard: u64,
}

/// The Landlock ruleset, as access bit masks of the kernel ABI (`LANDLOCK_ACCESS_FS_*`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct LandlockPlan {
    /// Filesystem rights the ruleset handles (denied unless a rule grants them).
    pub handled_fs: u64,
    /// Network rights the ruleset handles (`LANDLOCK_ACCESS_NET_*`); 0 for none.
    pub handled_net: u64,
    /// Scopes (`LANDLOCK_SCOPE_*`); 0 for none.
    pub scoped: u64,
    /// Path rules, paths inside the jail.
    pub rules: Vec<LandlockRule>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct LandlockRule {
    pub path: PathBuf,
    pub access: u64,
}

/// One classic BPF instruction (`struct sock_filter`).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub struct SockFilter {
    pub code: u16,
    pub jt: u8,
    pub jf: u8,
    pub k: u32,
}

/// Landlock filesystem access rights (`LANDLOCK_ACCESS_FS_*` from linux/landlock.h).
pub mod access {
    pub const EXECUTE: u64 = 1 << 0;
    pub const WRITE_FILE: u64 = 1 << 1;
    pub const READ_FILE: u64 = 1 << 2;
    pub const READ_DIR: u64 = 1 << 3;
    pub const REMOVE_DIR: u64 = 1 << 4;
    pub const REMOVE_FILE: u64 = 1 << 5;
    pub const MAKE_CHAR: u64 = 1 << 6;
    pub const MAKE_DIR: u64 = 1 << 7;
    pub const MAKE_REG: u64 = 1 << 8;
    pub const MAKE_SOCK: u64 = 1 << 9;
    pub const MAKE_FIFO: u64 = 1 << 10;
    pub const MAKE_BLOCK: u64 = 1 << 11;
    pub const MAKE_SYM: u64 = 1 << 12;
    /// ABI 2.
    pub const REFER: u64 = 1 << 13;
    /// ABI 3.
    pub const TRUNCATE: u64 = 1 << 14;
    /// ABI 5.
    pub const IOCTL_DEV: u64 = 1 << 15;

    /// `LANDLOCK_ACCESS_NET_BIND_TCP` (ABI 4).
    pub const NET_BIND_TCP: u64 = 1 << 0;
    /// `LANDLOCK_ACCESS_NET_CONNECT_TCP` (ABI 4).
    pub const NET_CONNECT_TCP: u64 = 1 << 1;

    /// `LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET` (ABI 6).
    pub const SCOPE_ABSTRACT_UNIX_SOCKET: u64 = 1 << 0;
    /// `LANDLOCK_SCOPE_SIGNAL` (ABI 6).
    pub const SCOPE_SIGNAL: u64 = 1 << 1;

    /// Rights that only make sense on directories.
    pub const DIR_ONLY: u64 = READ_DIR
        | REMOVE_DIR
        | REMOVE_FILE
        | MAKE_CHAR
        | MAKE_DIR
        | MAKE_REG
        | MAKE_SOCK
        | MAKE_FIFO
        | MAKE_BLOCK
        | MAKE_SYM
        | REFER;

    /// Every filesystem right a kernel of the given Landlock ABI knows.
    pub fn fs_rights_of_abi(abi: u32) -> u64 {
        let mut all = (1 << 13) - 1;
        if abi >= 2 {
            all |= REFER;
        }
        if abi >= 3 {
            all |= TRUNCATE;
        }
        if abi >= 5 {
            all |= IOCTL_DEV;
        }
        all
    }

    /// Names of rights, for reports and errors.
    pub fn fs_names(mask: u64) -> Vec<&'static str> {
        const NAMES: [&str; 16] = [
            "execute",
            "write_file",
            "read_file",
            "read_dir",
            "remove_dir",
            "remove_file",
            "make_char",
            "make_dir",
            "make_reg",
            "make_sock",
            "make_fifo",
            "make_block",
            "make_sym",
            "refer",
            "truncate",
            "ioctl_dev",
        ];
        (0..16).filter(|bit| mask & (1 << bit) != 0).map(|bit| NAMES[bit]).collect()
    }
}
