//! Profiles: one TOML file per profile in the profiles directory, the single source of truth for
//! what a jail may do. Loading refuses anything unknown, out of range or contradictory, naming
//! the file, the line and the field.

use crate::seccomp::{self, SeccompPolicy};
use serde::{Deserialize, Deserializer, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub const SCHEMA: u32 = 1;

#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    #[error("failed to read profile {path}")]
    Read { path: PathBuf, #[source] source: std::io::Error },
    #[error("{path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("{path}:{line}: field `{field}`: {message}")]
    Invalid { path: PathBuf, line: usize, field: String, message: String },
    #[error("unknown profile {name:?}; known profiles: {known}")]
    Unknown { name: String, known: String },
    #[error("profile name {name:?} is not a plain name (letters, digits, '-', '_')")]
    BadName { name: String },
    #[error(transparent)]
    Seccomp(#[from] seccomp::PolicyError),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    Python,
    Javascript,
    Typescript,
}

impl Language {
    pub fn as_str(self) -> &'static str {
        match self {
            Language::Python => "python",
            Language::Javascript => "javascript",
            Language::Typescript => "typescript",
        }
    }

    pub fn parse(s: &str) -> Option<Language> {
        match s {
            "python" | "py" => Some(Language::Python),
            "javascript" | "js" => Some(Language::Javascript),
            "typescript" | "ts" => Some(Language::Typescript),
            _ => None,
        }
    }

    /// The language a script file's extension says.
    pub fn from_extension(path: &Path) -> Option<Language> {
        match path.extension()?.to_str()? {
            "py" => Some(Language::Python),
            "js" | "mjs" | "cjs" => Some(Language::Javascript),
            "ts" | "mts" | "cts" => Some(Language::Typescript),
            _ => None,
        }
    }
}

/// A byte count written as an integer or as "64MiB", "1 GiB", "512KiB", "100kB".
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct ByteSize(pub u64);

impl ByteSize {
    pub fn parse(s: &str) -> Result<ByteSize, String> {
        let s = s.trim();
        let split = s.find(|c: char| !c.is_ascii_digit() && c != '_').unwrap_or(s.len());
        let (digits, unit) = s.split_at(split);
        let n: u64 = digits.replace('_', "").parse().map_err(|_| format!("{s:?} is not a size such as 65536, \"64KiB\" or \"128MiB\""))?;
        let mult: u64 = match unit.trim() {
            "" | "B" => 1,
            "KiB" => 1 << 10,
            "MiB" => 1 << 20,
            "GiB" => 1 << 30,
            "kB" | "KB" => 1_000,
            "MB" => 1_000_000,
            "GB" => 1_000_000_000,
            other => return Err(format!("unknown unit {other:?} (use B, KiB, MiB, GiB, kB, MB, GB)")),
        };
        n.checked_mul(mult).map(ByteSize).ok_or_else(|| format!("{s:?} is too large"))
    }
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Int(u64),
            Str(String),
        }
        match Raw::deserialize(d)? {
            Raw::Int(n) => Ok(ByteSize(n)),
            Raw::Str(s) => ByteSize::parse(&s).map_err(serde::de::Error::custom),
        }
    }
}

impl std::fmt::Display for ByteSize {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.0;
        if n >= 1 << 30 && n.is_multiple_of(1 << 30) {
            write!(f, "{}GiB", n >> 30)
        } else if n >= 1 << 20 && n.is_multiple_of(1 << 20) {
            write!(f, "{}MiB", n >> 20)
        } else if n >= 1 << 10 && n.is_multiple_of(1 << 10) {
            write!(f, "{}KiB", n >> 10)
        } else {
            write!(f, "{n}B")
        }
    }
}

/// The profile file as written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileFile {
    pub schema: u32,
    pub name: String,
    pub description: String,
    pub language: Language,
    /// Interpreter manifest name (interpreters/NAME.toml).
    pub interpreter: String,
    pub limits: Limits,
    pub filesystem: Filesystem,
    pub network: Network,
    pub seccomp: SeccompRef,
    pub landlock: LandlockPolicy,
    #[serde(default)]
    pub language_policy: LanguagePolicy,
    /// The script's entire environment; nothing is inherited.
    #[serde(default)]
    pub environment: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// Wall-clock time from start to kill (status timeout).
    pub wall_time_ms: u64,
    /// CPU time, user + system, of every process in the jail (status cpu_limit).
    pub cpu_time_ms: u64,
    /// CPU bandwidth: how many cores' worth of time per period the jail may use.
    pub cpu_cores: f64,
    /// Memory, no swap (status memory_limit).
    pub memory: ByteSize,
    /// Processes and threads (status pids_limit).
    pub pids: u64,
    /// Captured output beyond which the run is stopped (status output_limit).
    pub stdout: ByteSize,
    pub stderr: ByteSize,
    pub result: ByteSize,
    /// RLIMIT_NOFILE.
    pub open_files: u64,
    /// RLIMIT_FSIZE: the largest file the script can write.
    pub file_size: ByteSize,
    /// Refused before anything starts (status rejected).
    pub script: ByteSize,
    pub input: ByteSize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Filesystem {
    /// Working directory of the script; must be one of the tmpfs mounts.
    pub workdir: PathBuf,
    /// Writable, size-limited scratch mounts that vanish with the run.
    pub tmpfs: Vec<TmpfsMount>,
    /// Extra read-only paths beyond what the interpreter manifest needs.
    #[serde(default)]
    pub read_only: Vec<ReadOnlyPath>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TmpfsMount {
    pub path: PathBuf,
    pub size: ByteSize,
    pub inodes: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReadOnlyPath {
    /// Host path.
    pub path: PathBuf,
    /// Where it appears in the jail (default: the same path).
    pub at: Option<PathBuf>,
    pub comment: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Network {
    /// Only "none" exists: an empty network namespace, no socket family but AF_UNIX.
    pub mode: NetworkMode,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NetworkMode {
    None,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeccompRef {
    /// Policy file, relative to the profiles directory.
    pub policy: PathBuf,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LandlockPolicy {
    /// The lowest Landlock ABI whose rights this profile requires; on an older kernel the run is
    /// refused, naming the rights it lacks.
    pub minimum_abi: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LanguagePolicy {
    /// Modules the runner refuses to import (a policy layer inside the jail, not the boundary).
    #[serde(default)]
    pub blocked_modules: Vec<String>,
    /// eval / exec / Function and friends.
    #[serde(default = "yes")]
    pub dynamic_code: bool,
}

fn yes() -> bool {
    true
}

/// A profile loaded, validated and resolved with its seccomp policy.
#[derive(Debug, Clone)]
pub struct Profile {
    pub file: ProfileFile,
    pub path: PathBuf,
    pub sha256: String,
    pub seccomp: SeccompPolicy,
}

impl Profile {
    pub fn name(&self) -> &str {
        &self.file.name
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The table header a line opens, if it is one: `[a.b]` or `[[a.b]]`, comments ignored.
pub(crate) fn table_header(line: &str) -> Option<&str> {
    let t = line.split('#').next().unwrap_or("").trim();
    let inner = t.strip_prefix("[[").and_then(|r| r.strip_suffix("]]")).or_else(|| t.strip_prefix('[').and_then(|r| r.strip_suffix(']')))?;
    Some(inner.trim())
}

/// The line (1-based) of `key =` inside `[section]` (or at top level), for error messages.
/// For an array of tables (`[[section]]`), `index` picks the entry.
pub fn line_of(source: &str, section: Option<&str>, key: &str) -> usize {
    line_of_nth(source, section, 0, key)
}

pub fn line_of_nth(source: &str, section: Option<&str>, index: usize, key: &str) -> usize {
    let mut in_section = section.is_none();
    let mut seen = 0;
    let mut section_line = 1;
    for (i, line) in source.lines().enumerate() {
        if let Some(name) = table_header(line) {
            in_section = false;
            if Some(name) == section {
                if seen == index {
                    in_section = true;
                    section_line = i + 1;
                }
                seen += 1;
            }
            continue;
        }
        if in_section {
            if let Some(rest) = line.trim().strip_prefix(key) {
                if rest.trim_start().starts_with('=') {
                    return i + 1;
                }
            }
        }
    }
    section_line
}

/// Loads `dir/NAME.toml` and its seccomp policy.
pub fn load(dir: &Path, name: &str) -> Result<Profile, ProfileError> {
    load_cached(dir, name, None)
}

/// [`load`], with compiled seccomp policies cached in `cache_dir`.
pub fn load_cached(dir: &Path, name: &str, cache_dir: Option<&Path>) -> Result<Profile, ProfileError> {
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
        return Err(ProfileError::BadName { name: name.to_string() });
    }
    let path = dir.join(format!("{name}.toml"));
    if !path.is_file() {
        return Err(ProfileError::Unknown { name: name.to_string(), known: list(dir).join(", ") });
    }
    load_file_cached(dir, &path, cache_dir)
}

/// Names of the profiles in `dir`.
pub fn list(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let p = e.path();
            (p.extension()? == "toml" && p.is_file()).then(|| p.file_stem()?.to_str().map(String::from))?
        })
        .collect();
    names.sort();
    names
}

pub fn load_file(dir: &Path, path: &Path) -> Result<Profile, ProfileError> {
    load_file_cached(dir, path, None)
}

fn load_file_cached(dir: &Path, path: &Path, cache_dir: Option<&Path>) -> Result<Profile, ProfileError> {
    let bytes = std::fs::read(path).map_err(|source| ProfileError::Read { path: path.to_path_buf(), source })?;
    let source = String::from_utf8(bytes.clone())
        .map_err(|_| ProfileError::Parse { path: path.to_path_buf(), message: "not UTF-8".into() })?;
    let file: ProfileFile = toml::from_str(&source)
        .map_err(|e| ProfileError::Parse { path: path.to_path_buf(), message: e.to_string().trim_end().to_string() })?;
    validate(&file, path, &source)?;
    let seccomp_path = dir.join(&file.seccomp.policy);
    let seccomp = seccomp::load_policy_cached(&seccomp_path, cache_dir)?;
    if seccomp.file.interpreter != file.interpreter {
        return Err(ProfileError::Invalid {
            path: path.to_path_buf(),
            line: line_of(&source, Some("seccomp"), "policy"),
            field: "seccomp.policy".into(),
            message: format!(
                "{} is the policy for interpreter {:?}, but this profile runs {:?}",
                file.seccomp.policy.display(),
                seccomp.file.interpreter,
                file.interpreter
            ),
        });
    }
    Ok(Profile { file, path: path.to_path_buf(), sha256: sha256_hex(&bytes), seccomp })
}

fn validate(p: &ProfileFile, path: &Path, source: &str) -> Result<(), ProfileError> {
    let invalid_nth = |section: Option<&str>, index: usize, key: &str, message: String| {
        let field = match section {
            Some(s) => format!("{s}.{key}"),
            None => key.to_string(),
        };
        ProfileError::Invalid { path: path.to_path_buf(), line: line_of_nth(source, section, index, key), field, message }
    };
    let invalid = |section: Option<&str>, key: &str, message: String| invalid_nth(section, 0, key, message);
    if p.schema != SCHEMA {
        return Err(invalid(None, "schema", format!("schema {} is not supported; this jaild reads schema {SCHEMA}", p.schema)));
    }
    let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or_default();
    if p.name != stem {
        return Err(invalid(None, "name", format!("name {:?} must match the file name {stem:?}", p.name)));
    }
    let l = &p.limits;
    let range = |key: &str, v: u64, lo: u64, hi: u64, unit: &str| {
        if v < lo || v > hi {
            Err(invalid(Some("limits"), key, format!("{v}{unit} is out of range ({lo}{unit}..={hi}{unit})")))
        } else {
            Ok(())
        }
    };
    range("wall_time_ms", l.wall_time_ms, 10, 3_600_000, " ms")?;
    range("cpu_time_ms", l.cpu_time_ms, 10, 3_600_000, " ms")?;
    range("memory", l.memory.0, 8 << 20, 64 << 30, " bytes")?;
    range("pids", l.pids, 1, 65_536, "")?;
    range("stdout", l.stdout.0, 0, 1 << 30, " bytes")?;
    range("stderr", l.stderr.0, 0, 1 << 30, " bytes")?;
    range("result", l.result.0, 2, 1 << 30, " bytes")?;
    range("open_files", l.open_files, 16, 1 << 20, "")?;
    range("file_size", l.file_size.0, 0, 64 << 30, " bytes")?;
    range("script", l.script.0, 1, 64 << 20, " bytes")?;
    range("input", l.input.0, 2, 1 << 30, " bytes")?;
    if !(l.cpu_cores > 0.0 && l.cpu_cores <= 1024.0) {
        return Err(invalid(Some("limits"), "cpu_cores", format!("{} is out of range (0 < cpu_cores <= 1024)", l.cpu_cores)));
    }

    let fs = &p.filesystem;
    if fs.tmpfs.is_empty() {
        return Err(invalid(Some("filesystem"), "tmpfs", "at least one scratch tmpfs is needed for the work dir".into()));
    }
    for (i, t) in fs.tmpfs.iter().enumerate() {
        let invalid = |key: &str, message: String| invalid_nth(Some("filesystem.tmpfs"), i, key, message);
        if !is_clean_absolute(&t.path) || is_reserved(&t.path) {
            return Err(invalid("path", format!("{} must be an absolute, normalized path outside /proc, /dev, /jaild and the interpreter's paths", t.path.display())));
        }
        if t.size.0 < 4096 || t.size.0 > 16 << 30 {
            return Err(invalid("size", format!("{} for {} is out of range (4KiB..=16GiB)", t.size, t.path.display())));
        }
        if t.inodes < 16 || t.inodes > 1 << 24 {
            return Err(invalid("inodes", format!("{} for {} is out of range (16..=16777216)", t.inodes, t.path.display())));
        }
    }
    if !fs.tmpfs.iter().any(|t| t.path == fs.workdir) {
        return Err(invalid(Some("filesystem"), "workdir", format!("{} is not one of the tmpfs mounts", fs.workdir.display())));
    }
    for (i, r) in fs.read_only.iter().enumerate() {
        let invalid = |_: Option<&str>, key: &str, message: String| invalid_nth(Some("filesystem.read_only"), i, key, message);
        if !is_clean_absolute(&r.path) {
            return Err(invalid(Some("filesystem.read_only"), "path", format!("{} must be absolute and normalized", r.path.display())));
        }
        if !r.path.exists() {
            return Err(invalid(Some("filesystem.read_only"), "path", format!("{} does not exist on this host", r.path.display())));
        }
        let at = r.at.as_ref().unwrap_or(&r.path);
        if !is_clean_absolute(at) || is_reserved(at) {
            return Err(invalid(Some("filesystem.read_only"), "at", format!("{} must be an absolute, normalized path outside /proc, /dev and /jaild", at.display())));
        }
        if fs.tmpfs.iter().any(|t| at.starts_with(&t.path) || t.path.starts_with(at)) {
            return Err(invalid(Some("filesystem.read_only"), "path", format!("{} overlaps a writable tmpfs: a path cannot be both read-only and writable", at.display())));
        }
    }
    if p.landlock.minimum_abi == 0 || p.landlock.minimum_abi > 7 {
        return Err(invalid(Some("landlock"), "minimum_abi", format!("{} is not a Landlock ABI this jaild knows (1..=7)", p.landlock.minimum_abi)));
    }
    for (k, v) in &p.environment {
        if k.is_empty() || k.contains('=') || k.contains('\0') || v.contains('\0') {
            return Err(invalid(Some("environment"), k, "names must be non-empty without '=' and values without NUL".into()));
        }
    }
    Ok(())
}

fn is_clean_absolute(p: &Path) -> bool {
    p.is_absolute()
        && p.components().all(|c| matches!(c, std::path::Component::RootDir | std::path::Component::Normal(_)))
        && p != Path::new("/")
}

fn is_reserved(p: &Path) -> bool {
    ["/proc", "/dev", "/jaild"].iter().any(|r| p.starts_with(r))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_sizes() {
        assert_eq!(ByteSize::parse("128MiB"), Ok(ByteSize(128 << 20)));
        assert_eq!(ByteSize::parse("64 KiB"), Ok(ByteSize(64 << 10)));
        assert_eq!(ByteSize::parse("1_000"), Ok(ByteSize(1000)));
        assert!(ByteSize::parse("12 parsecs").is_err());
        assert!(ByteSize::parse("-5MiB").is_err());
        assert_eq!(ByteSize(128 << 20).to_string(), "128MiB");
    }

    #[test]
    fn line_lookup_finds_key_in_section() {
        let src = "schema = 1\n[limits]  # c\nwall_time_ms = 5\n[other]\nwall_time_ms = 9\n";
        assert_eq!(line_of(src, Some("limits"), "wall_time_ms"), 3);
        assert_eq!(line_of(src, None, "schema"), 1);
        let arr = "[[t]]\nsize = 1\n[[t]] # second\nsize = 2\n";
        assert_eq!(line_of_nth(arr, Some("t"), 1, "size"), 4);
    }
}
