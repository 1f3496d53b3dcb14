//! The supervisor as a whole: where its parts are ([`Config`]), the host facilities it found at
//! start ([`Supervisor`]: cgroups, Landlock, host id slots, its own network namespace), and why
//! it may refuse to start ([`SetupError`]). What it does with them is in `run`.

use crate::{cgroup, hostids, sys};
use std::path::{Path, PathBuf};

/// Where the supervisor finds its parts and what host ids jails map to.
#[derive(Debug, Clone)]
pub struct Config {
    pub profiles_dir: PathBuf,
    pub interpreters_dir: PathBuf,
    /// The jail-init binary.
    pub jail_init: PathBuf,
    /// Writable state (the interpreter digest cache); None to keep nothing.
    pub state_dir: Option<PathBuf>,
    /// First host uid/gid of the jails' ids: a jail in slot `s` maps its root onto `base + s`
    /// and its uid 1000 onto `base + 1000 + s` (see [`hostids`]). All of them must be
    /// unprivileged and unused on the host.
    pub host_id_base: u32,
    /// How many jails may hold host ids at once (each runs under ids of its own).
    pub host_id_slots: u32,
    /// Where slots are locked, across every supervisor on the host (root's alone).
    pub host_id_lock_dir: PathBuf,
}

pub const DEFAULT_HOST_ID_BASE: u32 = 200_000;

impl Config {
    /// Defaults: the source tree's profiles/ and interpreters/ when the running binary was
    /// built in (and runs from) a checkout, else /etc/jaild; jail-init next to the running
    /// binary; state in /var/lib/jaild. An installed binary never reads the checkout it was
    /// built from.
    pub fn discover() -> Config {
        // This crate is supervisor/core/ of the checkout.
        let tree = Path::new(env!("CARGO_MANIFEST_DIR")).ancestors().nth(2).map(Path::to_path_buf);
        let exe = std::env::current_exe().unwrap_or_default();
        let from_checkout = tree.as_ref().is_some_and(|t| exe.starts_with(t.join("target")) || exe.starts_with(t));
        let pick = |sub: &str, installed: &str| {
            tree.as_ref()
                .filter(|_| from_checkout)
                .map(|t| t.join(sub))
                .filter(|p| p.is_dir())
                .unwrap_or_else(|| PathBuf::from(installed))
        };
        Config {
            profiles_dir: std::env::var_os("JAILD_PROFILES")
                .map(PathBuf::from)
                .unwrap_or_else(|| pick("profiles", "/etc/jaild/profiles")),
            interpreters_dir: std::env::var_os("JAILD_INTERPRETERS")
                .map(PathBuf::from)
                .unwrap_or_else(|| pick("interpreters", "/etc/jaild/interpreters")),
            jail_init: std::env::var_os("JAILD_JAIL_INIT").map(PathBuf::from).unwrap_or_else(find_jail_init),
            state_dir: Some(
                std::env::var_os("JAILD_STATE").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("/var/lib/jaild")),
            ),
            host_id_base: DEFAULT_HOST_ID_BASE,
            host_id_slots: hostids::DEFAULT_SLOTS,
            host_id_lock_dir: PathBuf::from(hostids::DEFAULT_LOCK_DIR),
        }
    }
}

/// jail-init sits next to the running binary (target/debug/, /usr/lib/jaild/), or one level up
/// for test binaries in target/debug/deps/.
fn find_jail_init() -> PathBuf {
    let exe = std::env::current_exe().unwrap_or_default();
    let mut dir = exe.parent().map(Path::to_path_buf);
    while let Some(d) = dir {
        let candidate = d.join("jail-init");
        if candidate.is_file() {
            return candidate;
        }
        dir = d.parent().filter(|p| p.ends_with("target") || p.join("jail-init").is_file()).map(Path::to_path_buf);
    }
    PathBuf::from("/usr/lib/jaild/jail-init")
}

#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("cgroups are not usable")]
    Cgroup(#[from] cgroup::CgroupError),
    #[error("jail-init not found at {path} (build it with `cargo build`, or set JAILD_JAIL_INIT)")]
    JailInit { path: PathBuf },
    #[error("failed to drop the supervisor's supplementary groups (they would leak into every jail)")]
    Groups(#[source] nix::Error),
    #[error(transparent)]
    HostIds(#[from] hostids::HostIdError),
    #[error("failed to make the supervisor non-dumpable (jails are created under unprivileged ids, and their /proc files must stay root's)")]
    Dumpable(#[source] nix::Error),
    #[error("failed to open the supervisor's network namespace")]
    Netns(#[source] std::io::Error),
    #[error("the supervisor must run as root to create user namespaces with a mapped range and cgroups (running as uid {uid})")]
    NotRoot { uid: u32 },
    #[error("the supervisor lacks {missing}: {why} (systemd: CapabilityBoundingSet= in jaild.service)")]
    Capabilities { missing: String, why: &'static str },
}

/// The in-process supervisor: detected host facilities plus configuration.
pub struct Supervisor {
    pub config: Config,
    pub(crate) cgroups: Box<dyn cgroup::Cgroups>,
    pub(crate) host_ids: hostids::HostIds,
    pub(crate) landlock_abi: u32,
    /// The supervisor's own network namespace, to return to after spawning a jail in a fresh
    /// one.
    pub(crate) host_netns: std::os::fd::OwnedFd,
}

/// The Landlock ABI version of the running kernel, 0 without Landlock.
pub fn kernel_landlock_abi() -> u32 {
    sys::landlock_abi()
}

impl Supervisor {
    pub fn new(config: Config) -> Result<Supervisor, SetupError> {
        let uid = nix::unistd::geteuid().as_raw();
        if uid != 0 {
            return Err(SetupError::NotRoot { uid });
        }
        // What the supervisor does with each capability; without one, runs would go wrong in the
        // middle (a jail that cannot be killed outlives its limits), so refuse to start.
        let effective = sys::effective_capabilities().map_err(|e| SetupError::Capabilities {
            missing: format!("a readable capability set ({e})"),
            why: "capget failed",
        })?;
        // Capability numbers from linux/capability.h.
        for (bit, name, why) in [
            (21, "CAP_SYS_ADMIN", "each run's network namespace and cgroup, and the id maps of its user namespace"),
            (7, "CAP_SETUID", "each jail's user namespace is created under its slot's host uid, which its uid map then names"),
            (6, "CAP_SETGID", "the same for groups, and dropping the supervisor's supplementary groups"),
            (5, "CAP_KILL", "the jails run as other host uids in user namespaces the supervisor does not own: without it neither a limit, a cancel nor the supervisor's own death could kill them"),
        ] {
            if effective & (1u64 << bit) == 0 {
                return Err(SetupError::Capabilities { missing: name.into(), why });
            }
        }
        // The jails' ids: never host root, never a system account, no wrap-around, a slot each.
        hostids::check_range(config.host_id_base, config.host_id_slots)?;
        if !config.jail_init.is_file() {
            return Err(SetupError::JailInit { path: config.jail_init.clone() });
        }
        // setgroups is denied inside the jail's user namespace, so supplementary groups would
        // stay with the jail for good; the supervisor (root) has no use for them.
        if !nix::unistd::getgroups().map(|g| g.is_empty()).unwrap_or(false) {
            nix::unistd::setgroups(&[]).map_err(SetupError::Groups)?;
        }
        // Jails are cloned under their slot's unprivileged id (sys::clone_jail), which would
        // make a dumpable supervisor's children's /proc files (uid_map) that id's: keep every
        // /proc file of the supervisor and of its children before exec root's. It also keeps
        // callers' code and input out of core dumps.
        nix::sys::prctl::set_dumpable(false).map_err(SetupError::Dumpable)?;
        let host_ids = hostids::HostIds::new(config.host_id_base, config.host_id_slots, &config.host_id_lock_dir)?;
        let cgroups = cgroup::detect(&cgroup::HostPaths::default())?;
        match cgroups.remove_stale() {
            Ok(removed) if !removed.is_empty() => {
                tracing::info!(count = removed.len(), ?removed, "removed stale run cgroups")
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "could not remove stale run cgroups"),
        }
        let host_netns = std::fs::File::open("/proc/thread-self/ns/net")
            .map(std::os::fd::OwnedFd::from)
            .map_err(SetupError::Netns)?;
        Ok(Supervisor { config, cgroups, host_ids, landlock_abi: sys::landlock_abi(), host_netns })
    }

    pub fn landlock_abi(&self) -> u32 {
        self.landlock_abi
    }

    /// Plans every run as on a kernel with Landlock ABI `abi` (lower than this kernel's): the
    /// ruleset handles only that ABI's rights, and the profile's coverage rules for the rest
    /// apply as on such a kernel (plan::landlock_coverage). For proving those rules on a newer
    /// kernel; neither jaild nor jailctl offers it. Raising the ABI is refused.
    pub fn limit_landlock_abi(&mut self, abi: u32) -> Result<(), String> {
        if abi > self.landlock_abi {
            return Err(format!("this kernel has Landlock ABI {}, cannot plan runs for ABI {abi}", self.landlock_abi));
        }
        self.landlock_abi = abi;
        Ok(())
    }

    /// The jails' host id slots.
    pub fn host_ids(&self) -> &hostids::HostIds {
        &self.host_ids
    }

    pub fn cgroup_version(&self) -> cgroup::CgroupVersion {
        self.cgroups.version()
    }
}
