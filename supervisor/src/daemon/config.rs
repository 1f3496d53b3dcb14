//! The daemon's configuration file (TOML, /etc/jaild/jaild.toml by default). Every key has a
//! safe default, so an empty file (or none) is a working configuration: root only, the jaild
//! group if it exists, one run per core. Unknown keys and bad values are refused with the file,
//! the line and the key named.
#![forbid(unsafe_code)]

use crate::profile::ByteSize;
use serde::Deserialize;
use std::path::{Path, PathBuf};

pub const DEFAULT_PATH: &str = "/etc/jaild/jaild.toml";
pub const DEFAULT_SOCKET: &str = "/run/jaild/jaild.sock";

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("failed to read the config file {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}:{line}: key `{key}`: {message}")]
    Invalid { path: PathBuf, line: usize, key: String, message: String },
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DaemonConfig {
    /// Where to listen when systemd does not pass a socket.
    pub socket: PathBuf,
    /// Permissions of the socket file jaild creates (not of one systemd passes).
    pub socket_mode: u32,
    /// Group owning the socket file jaild creates; ignored when the group does not exist.
    pub socket_group: Option<String>,
    /// Default: the library's discovery (the source tree's profiles/ in a checkout, else
    /// /etc/jaild/profiles).
    pub profiles_dir: Option<PathBuf>,
    pub interpreters_dir: Option<PathBuf>,
    /// Default: next to the jaild binary, else /usr/lib/jaild/jail-init.
    pub jail_init: Option<PathBuf>,
    /// Writable state: the digest and profile caches.
    pub state_dir: PathBuf,
    /// The run history database. Default: history.db in `state_dir` (/var/lib/jaild/history.db).
    pub store: Option<PathBuf>,
    /// Keep each run's code in the history (otherwise its sha256 and size only).
    pub keep_code: bool,
    /// Runs older than this many days are pruned from the history (hourly); 0 keeps all.
    pub retention_days: u64,
    /// Runs at once; 0 means the number of cores.
    pub concurrency: usize,
    /// Runs waiting to start, over all callers; past it, 429.
    pub queue_size: usize,
    /// Largest request body; past it, 413 before the body is read.
    pub max_body: ByteSize,
    /// On SIGTERM, how long running jobs may go on before they are cancelled.
    pub drain_timeout_ms: u64,
    /// First host uid/gid of the jails' ids: a jail in slot `s` maps its root onto
    /// `host_id_base + s` and its uid 1000 onto `host_id_base + 1000 + s` (crate::hostids).
    pub host_id_base: u32,
    /// Host id slots: jails holding ids at once (at least `concurrency`, at most 1000).
    pub host_id_slots: u32,
    pub callers: CallerPolicy,
    /// Warm jails (daemon/pool.rs): how many each profile keeps ready, and for how long.
    pub pool: PoolConfig,
}

/// `[pool]`: every profile's size and idle lifetime, and per-profile changes to them
/// (`[pool.profile.NAME]`).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct PoolConfig {
    /// Warm jails each profile keeps ready; 0 turns warm jails off.
    pub size: usize,
    /// A warm jail unused this long is replaced by a fresh one.
    pub idle_lifetime_s: u64,
    pub profile: std::collections::BTreeMap<String, PoolOverride>,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct PoolOverride {
    pub size: Option<usize>,
    pub idle_lifetime_s: Option<u64>,
}

impl Default for PoolConfig {
    fn default() -> Self {
        PoolConfig { size: 1, idle_lifetime_s: 600, profile: Default::default() }
    }
}

impl PoolConfig {
    /// The size of each of `profiles`' pools.
    pub fn sizes(&self, profiles: &[String]) -> std::collections::BTreeMap<String, super::pool::PoolSize> {
        profiles
            .iter()
            .map(|name| {
                let o = self.profile.get(name).cloned().unwrap_or_default();
                let size = super::pool::PoolSize {
                    size: o.size.unwrap_or(self.size),
                    idle_lifetime_s: o.idle_lifetime_s.unwrap_or(self.idle_lifetime_s),
                };
                (name.clone(), size)
            })
            .collect()
    }
}

impl Default for DaemonConfig {
    fn default() -> Self {
        DaemonConfig {
            socket: PathBuf::from(DEFAULT_SOCKET),
            socket_mode: 0o660,
            socket_group: Some("jaild".into()),
            profiles_dir: None,
            interpreters_dir: None,
            jail_init: None,
            state_dir: PathBuf::from("/var/lib/jaild"),
            store: None,
            keep_code: false,
            retention_days: 30,
            concurrency: 0,
            queue_size: 256,
            max_body: ByteSize(16 << 20),
            drain_timeout_ms: 10_000,
            host_id_base: crate::supervisor::DEFAULT_HOST_ID_BASE,
            host_id_slots: crate::hostids::DEFAULT_SLOTS,
            callers: CallerPolicy::default(),
            pool: PoolConfig::default(),
        }
    }
}

/// A group by name or by gid.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum GroupRef {
    Gid(u32),
    Name(String),
}

impl GroupRef {
    /// The gid; None (with a warning) for a name the host does not know.
    pub fn resolve(&self) -> Option<u32> {
        match self {
            GroupRef::Gid(g) => Some(*g),
            GroupRef::Name(n) => match nix::unistd::Group::from_name(n) {
                Ok(Some(g)) => Some(g.gid.as_raw()),
                _ => {
                    tracing::warn!(group = %n, "group in the caller policy does not exist; ignored");
                    None
                }
            },
        }
    }
}

/// Who may use the socket, which profiles, how many runs.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CallerPolicy {
    /// Uids that may use the socket.
    pub allow_uids: Vec<u32>,
    /// Groups (names or gids) whose members may use the socket: the peer's gid or one of its
    /// supplementary groups.
    pub allow_groups: Vec<GroupRef>,
    /// Groups whose members see and cancel every caller's runs (root always does).
    pub admin_groups: Vec<GroupRef>,
    /// Profiles an allowed caller may use; "*" for all.
    pub profiles: Vec<String>,
    /// Runs one caller may have running at once; 0 for no limit but `concurrency`.
    pub max_running: usize,
    /// Runs one caller may have queued; 0 for no limit but `queue_size`.
    pub max_queued: usize,
    /// Per-uid or per-group settings; a caller that matches a rule may use the socket. The
    /// first rule naming the caller's uid wins, else the first naming one of its groups.
    #[serde(rename = "rule")]
    pub rules: Vec<CallerRule>,
}

impl Default for CallerPolicy {
    fn default() -> Self {
        CallerPolicy {
            allow_uids: vec![0],
            allow_groups: vec![GroupRef::Name("jaild".into())],
            admin_groups: Vec::new(),
            profiles: vec!["*".into()],
            max_running: 0,
            max_queued: 0,
            rules: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CallerRule {
    pub uid: Option<u32>,
    pub group: Option<GroupRef>,
    /// Default: the policy's `profiles`.
    pub profiles: Option<Vec<String>>,
    pub max_running: Option<usize>,
    pub max_queued: Option<usize>,
}

impl DaemonConfig {
    /// Reads `path`; a missing file is an error (the caller decides whether defaults will do).
    pub fn load(path: &Path) -> Result<DaemonConfig, ConfigError> {
        let text =
            std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.to_path_buf(), source })?;
        DaemonConfig::parse(path, &text)
    }

    pub fn parse(path: &Path, text: &str) -> Result<DaemonConfig, ConfigError> {
        let config: DaemonConfig = toml::from_str(text).map_err(|e| toml_error(path, text, &e))?;
        config.validate(path, text)?;
        Ok(config)
    }

    fn validate(&self, path: &Path, text: &str) -> Result<(), ConfigError> {
        let bad = |section: Option<&str>, key: &str, message: String| ConfigError::Invalid {
            path: path.to_path_buf(),
            line: crate::toml_file::line_of(text, section, key),
            key: section.map_or(key.to_string(), |s| format!("{s}.{key}")),
            message,
        };
        let store = self.store_path();
        for (key, p) in [("socket", &self.socket), ("state_dir", &self.state_dir), ("store", &store)] {
            if !p.is_absolute() {
                return Err(bad(None, key, format!("{} must be an absolute path", p.display())));
            }
        }
        if self.socket.as_os_str().len() >= 108 {
            return Err(bad(None, "socket", "a Unix socket path must be shorter than 108 bytes".into()));
        }
        if self.socket_mode > 0o777 {
            return Err(bad(
                None,
                "socket_mode",
                format!("{:o} is not a permission mode (write it as 0o660)", self.socket_mode),
            ));
        }
        if self.concurrency > 1024 {
            return Err(bad(None, "concurrency", format!("{} is more than 1024 runs at once", self.concurrency)));
        }
        if self.queue_size == 0 || self.queue_size > 100_000 {
            return Err(bad(None, "queue_size", format!("{} is not between 1 and 100000", self.queue_size)));
        }
        if self.max_body.0 < 1024 {
            return Err(bad(
                None,
                "max_body",
                format!("{} is too small for any request (at least 1KiB)", self.max_body),
            ));
        }
        if self.drain_timeout_ms > 3_600_000 {
            return Err(bad(None, "drain_timeout_ms", "at most one hour (3600000)".into()));
        }
        if self.host_id_base < 1000 {
            return Err(bad(
                None,
                "host_id_base",
                format!("{} must be at least 1000 (an unprivileged id)", self.host_id_base),
            ));
        }
        if self.host_id_slots == 0 || self.host_id_slots > crate::hostids::MAX_SLOTS {
            return Err(bad(
                None,
                "host_id_slots",
                format!("{} is not between 1 and {}", self.host_id_slots, crate::hostids::MAX_SLOTS),
            ));
        }
        if let Err(e) = crate::hostids::check_range(self.host_id_base, self.host_id_slots) {
            return Err(bad(None, "host_id_base", e.to_string()));
        }
        if self.concurrency() > self.host_id_slots as usize {
            return Err(bad(
                None,
                "host_id_slots",
                format!(
                    "{} slots cannot hold {} runs at once (concurrency): every jail running needs host ids of its own",
                    self.host_id_slots,
                    self.concurrency()
                ),
            ));
        }
        let max = super::pool::MAX_SIZE;
        if self.pool.size > max {
            return Err(bad(
                Some("pool"),
                "size",
                format!("{} is more than {max} warm jails per profile", self.pool.size),
            ));
        }
        if self.pool.idle_lifetime_s == 0 {
            return Err(bad(Some("pool"), "idle_lifetime_s", "must be at least 1 second".into()));
        }
        for (name, o) in &self.pool.profile {
            let section = format!("pool.profile.{name}");
            if o.size.is_some_and(|s| s > max) {
                return Err(bad(
                    Some(&section),
                    "size",
                    format!("{} is more than {max} warm jails", o.size.unwrap_or(0)),
                ));
            }
            if o.idle_lifetime_s == Some(0) {
                return Err(bad(Some(&section), "idle_lifetime_s", "must be at least 1 second".into()));
            }
        }
        for (i, rule) in self.callers.rules.iter().enumerate() {
            if rule.uid.is_some() == rule.group.is_some() {
                return Err(ConfigError::Invalid {
                    path: path.to_path_buf(),
                    line: crate::toml_file::line_of_nth(text, Some("callers.rule"), i, "uid").max(1),
                    key: format!("callers.rule[{i}]"),
                    message: "a rule names exactly one of uid or group".into(),
                });
            }
        }
        Ok(())
    }

    /// Where the run history is.
    pub fn store_path(&self) -> PathBuf {
        self.store.clone().unwrap_or_else(|| self.state_dir.join("history.db"))
    }

    /// Runs at once: `concurrency`, or the number of cores.
    pub fn concurrency(&self) -> usize {
        if self.concurrency > 0 {
            self.concurrency
        } else {
            std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
        }
    }
}

/// Turns toml's error (a byte span and a message) into file, line and key.
fn toml_error(path: &Path, text: &str, e: &toml::de::Error) -> ConfigError {
    let message = e.message().trim().to_string();
    let offset = e.span().map_or(0, |s| s.start.min(text.len()));
    let line = text[..offset].matches('\n').count() + 1;
    let section = text[..offset].lines().rev().find_map(crate::toml_file::table_header);
    let key = between_backticks(&message, "unknown field `")
        .or_else(|| between_backticks(&message, "missing field `"))
        .or_else(|| {
            let l = text.lines().nth(line - 1).unwrap_or("");
            l.split_once('=')
                .map(|(k, _)| k.trim().trim_matches('"').to_string())
                .filter(|k| !k.is_empty() && !k.starts_with('['))
        })
        .unwrap_or_default();
    let key = match (section, key.is_empty()) {
        (Some(s), false) => format!("{s}.{key}"),
        (Some(s), true) => s.to_string(),
        (None, _) => key,
    };
    ConfigError::Invalid { path: path.to_path_buf(), line, key, message }
}

fn between_backticks(message: &str, prefix: &str) -> Option<String> {
    let rest = &message[message.find(prefix)? + prefix.len()..];
    Some(rest[..rest.find('`')?].to_string())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<DaemonConfig, String> {
        DaemonConfig::parse(Path::new("/etc/jaild/jaild.toml"), text).map_err(|e| e.to_string())
    }

    #[test]
    fn empty_file_is_the_safe_default() {
        let c = parse("").unwrap();
        assert_eq!(c.socket, Path::new(DEFAULT_SOCKET));
        assert_eq!(c.callers.allow_uids, [0]);
        assert_eq!(c.store_path(), Path::new("/var/lib/jaild/history.db"));
        let c = parse("state_dir = \"/srv/jaild\"").unwrap();
        assert_eq!(c.store_path(), Path::new("/srv/jaild/history.db"));
        assert!(!c.keep_code);
        assert!(c.concurrency() >= 1);
        assert_eq!(c.max_body, ByteSize(16 << 20));
    }

    #[test]
    fn full_file() {
        let c = parse(
            r#"
socket = "/tmp/j.sock"
concurrency = 3
queue_size = 10
max_body = "1MiB"
socket_mode = 0o600

[callers]
allow_uids = [0, 1000]
allow_groups = ["jaild", 1234]
max_queued = 5

[[callers.rule]]
uid = 1000
profiles = ["python"]
max_running = 1
"#,
        )
        .unwrap();
        assert_eq!(c.concurrency(), 3);
        assert_eq!(c.socket_mode, 0o600);
        assert_eq!(c.callers.allow_groups[1], GroupRef::Gid(1234));
        assert_eq!(c.callers.rules[0].max_running, Some(1));
    }

    #[test]
    fn unknown_key_names_file_line_and_key() {
        let e = parse("socket = \"/tmp/x\"\n\n[callers]\nallow_uid = [1]\n").unwrap_err();
        assert!(e.starts_with("/etc/jaild/jaild.toml:4: key `callers.allow_uid`: unknown field"), "{e}");
    }

    #[test]
    fn bad_type_names_the_key() {
        let e = parse("queue_size = \"many\"\n").unwrap_err();
        assert!(e.starts_with("/etc/jaild/jaild.toml:1: key `queue_size`:"), "{e}");
    }

    #[test]
    fn pool_sizes_and_lifetimes_are_bounded_naming_the_key() {
        let c = parse("[pool]\nsize = 2\nidle_lifetime_s = 30\n[pool.profile.typescript]\nsize = 4\n").unwrap();
        let sizes = c.pool.sizes(&["python".into(), "typescript".into()]);
        assert_eq!((sizes["python"].size, sizes["python"].idle_lifetime_s), (2, 30));
        assert_eq!((sizes["typescript"].size, sizes["typescript"].idle_lifetime_s), (4, 30));
        assert_eq!(parse("").unwrap().pool.sizes(&["python".into()])["python"].size, 1, "one warm jail by default");
        let e = parse("[pool]\nsize = 65\n").unwrap_err();
        assert!(e.contains("key `pool.size`: 65 is more than 64 warm jails per profile"), "{e}");
        let e = parse("[pool]\nidle_lifetime_s = 0\n").unwrap_err();
        assert!(e.contains("key `pool.idle_lifetime_s`: must be at least 1 second"), "{e}");
        let e = parse("[pool.profile.python]\nsize = 100\n").unwrap_err();
        assert!(e.contains("key `pool.profile.python.size`: 100 is more than 64 warm jails"), "{e}");
        let e = parse("[pool.profile.python]\nidle_lifetime_s = 0\n").unwrap_err();
        assert!(e.contains("key `pool.profile.python.idle_lifetime_s`"), "{e}");
        let e = parse("[pool.profile.python]\nsizes = 1\n").unwrap_err();
        assert!(e.contains("unknown field"), "{e}");
    }

    #[test]
    fn bad_value_names_the_key() {
        let e = parse("concurrency = 1\nqueue_size = 0\n").unwrap_err();
        assert!(e.starts_with("/etc/jaild/jaild.toml:2: key `queue_size`: 0 is not between"), "{e}");
        let e = parse("[[callers.rule]]\nprofiles = []\n").unwrap_err();
        assert!(e.contains("key `callers.rule[0]`: a rule names exactly one of uid or group"), "{e}");
        let e = parse("socket = \"relative.sock\"\n").unwrap_err();
        assert!(e.contains(":1: key `socket`"), "{e}");
    }
}
