//! Profiles: one TOML file per profile in the profiles directory, the single source of truth for
//! what a jail may do. Loading refuses anything unknown, out of range or contradictory, naming
//! the file, the line and the field.
//!
//! A profile may extend one other profile (`extends = "python"`), one level deep: the parent's
//! tables are merged key by key under the child's, arrays (and arrays of tables) are replaced
//! whole. The *resolved* profile is what is validated, run, hashed and audited; every value keeps
//! the file and line it was written at, so an error still points where the value came from.

use crate::interpreter::{self, Interpreter, InterpreterError};
/// A profile names its language and its interpreter with these. They are defined with the
/// interpreters, which this module builds on and whose manifests name languages too; the
/// old paths (`profile::Language`) stay.
pub use crate::interpreter::{InterpreterRef, Language};
use crate::seccomp::{self, SeccompPolicy};
use crate::toml_file;
use jail_init::plan::{STAGING, SYNTHESIZED_ETC};
use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use toml::de::{DeTable, DeValue};
use toml::Spanned;

pub const SCHEMA: u32 = 1;

/// Where a jail sees the profile's data directories: `/data/NAME`.
pub const DATA_DIR: &str = "/data";

#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    #[error("failed to read profile {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
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
    #[error(transparent)]
    Interpreter(Box<InterpreterError>),
}

impl From<InterpreterError> for ProfileError {
    fn from(e: InterpreterError) -> Self {
        ProfileError::Interpreter(Box::new(e))
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
        let n: u64 = digits
            .replace('_', "")
            .parse()
            .map_err(|_| format!("{s:?} is not a size such as 65536, \"64KiB\" or \"128MiB\""))?;
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

    /// Serializes as the string a person would write ("128MiB"), which [`ByteSize::parse`] reads
    /// back: the resolved profile (`jailctl profile show`) stays readable.
    fn serialize_human<S: Serializer>(v: &ByteSize, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&v.to_string())
    }
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Size;
        impl serde::de::Visitor<'_> for Size {
            type Value = ByteSize;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a size: a byte count such as 65536 or a string such as \"64KiB\" or \"128MiB\"")
            }
            fn visit_u64<E: serde::de::Error>(self, n: u64) -> Result<ByteSize, E> {
                Ok(ByteSize(n))
            }
            fn visit_i64<E: serde::de::Error>(self, n: i64) -> Result<ByteSize, E> {
                u64::try_from(n).map(ByteSize).map_err(|_| {
                    E::custom(format!("{n} is negative; expected a size such as 65536, \"64KiB\" or \"128MiB\""))
                })
            }
            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<ByteSize, E> {
                ByteSize::parse(s).map_err(E::custom)
            }
        }
        // A missing field stays "missing field `memory`" (serde asks through deserialize_any).
        d.deserialize_any(Size)
    }
}

impl JsonSchema for ByteSize {
    fn schema_name() -> Cow<'static, str> {
        "ByteSize".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "A size in bytes: an integer, or a string with a unit (B, KiB, MiB, GiB, kB, MB, GB), e.g. \"128MiB\".",
            "anyOf": [
                { "type": "integer", "minimum": 0 },
                { "type": "string", "pattern": "^[0-9][0-9_]* ?(B|KiB|MiB|GiB|kB|KB|MB|GB)?$" }
            ]
        })
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

/// A jaild profile: what a jail may do. The file as written may extend one other profile; the
/// resolved profile (tables merged, arrays replaced) has no `extends`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "jaild profile")]
pub struct ProfileFile {
    /// Format version of this file; this jaild reads 1.
    pub schema: u32,
    /// Must equal the file name without .toml.
    pub name: String,
    /// The profile's purpose, in one sentence.
    pub description: String,
    /// A profile in the same directory whose values this one starts from (one level: that
    /// profile may not extend another). Tables merge key by key; arrays are replaced whole.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extends: Option<String>,
    pub language: Language,
    /// Interpreter manifest and exact version: "NAME@VERSION" (interpreters/NAME.toml).
    pub interpreter: InterpreterRef,
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

/// The ranges a limit may take, (lowest, highest): in a profile, and, for the limits a run may
/// tighten, in a request (a run may go down to the lowest, never above its profile). One table
/// for both (crate::run::request::tighten).
pub mod limit_range {
    pub const WALL_TIME_MS: (u64, u64) = (10, 3_600_000);
    pub const CPU_TIME_MS: (u64, u64) = (10, 3_600_000);
    pub const MEMORY: (u64, u64) = (8 << 20, 64 << 30);
    pub const PIDS: (u64, u64) = (1, 65_536);
    /// stdout and stderr.
    pub const OUTPUT: (u64, u64) = (0, 1 << 30);
    /// The runner's result is JSON: `{}` at least.
    pub const RESULT: (u64, u64) = (2, 1 << 30);
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, expecting = "the [limits] table")]
pub struct Limits {
    /// Wall-clock time from start to kill (status timeout).
    pub wall_time_ms: u64,
    /// CPU time, user + system, of every process in the jail (status cpu_limit).
    pub cpu_time_ms: u64,
    /// CPU bandwidth: how many cores' worth of time per period the jail may use.
    pub cpu_cores: f64,
    /// Memory, no swap (status memory_limit).
    #[serde(serialize_with = "ByteSize::serialize_human")]
    pub memory: ByteSize,
    /// Processes and threads (status pids_limit).
    pub pids: u64,
    /// Captured stdout beyond which the run is stopped (status output_limit).
    #[serde(serialize_with = "ByteSize::serialize_human")]
    pub stdout: ByteSize,
    /// Captured stderr beyond which the run is stopped (status output_limit).
    #[serde(serialize_with = "ByteSize::serialize_human")]
    pub stderr: ByteSize,
    /// The result's JSON beyond which the run is stopped (status output_limit).
    #[serde(serialize_with = "ByteSize::serialize_human")]
    pub result: ByteSize,
    /// RLIMIT_NOFILE.
    pub open_files: u64,
    /// RLIMIT_FSIZE: the largest file the script can write.
    #[serde(serialize_with = "ByteSize::serialize_human")]
    pub file_size: ByteSize,
    /// Larger scripts are refused before anything starts (status rejected).
    #[serde(serialize_with = "ByteSize::serialize_human")]
    pub script: ByteSize,
    /// Larger inputs are refused before anything starts (status rejected).
    #[serde(serialize_with = "ByteSize::serialize_human")]
    pub input: ByteSize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, expecting = "the [filesystem] table")]
pub struct Filesystem {
    /// Working directory of the script; must be one of the tmpfs mounts.
    pub workdir: PathBuf,
    /// Writable, size-limited scratch mounts that vanish with the run.
    pub tmpfs: Vec<TmpfsMount>,
    /// Extra read-only paths beyond what the interpreter manifest needs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub read_only: Vec<ReadOnlyPath>,
    /// Read-only data directories: each host directory is mounted read-only and noexec at
    /// /data/NAME, and Landlock grants only reading there.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub data: Vec<DataDir>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, expecting = "a [[filesystem.tmpfs]] entry: path, size, inodes")]
pub struct TmpfsMount {
    /// Where the scratch tmpfs is mounted in the jail.
    pub path: PathBuf,
    /// Its size limit.
    #[serde(serialize_with = "ByteSize::serialize_human")]
    pub size: ByteSize,
    /// Its limit on files and directories.
    pub inodes: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, expecting = "a [[filesystem.read_only]] entry: path, at, comment")]
pub struct ReadOnlyPath {
    /// Host path.
    pub path: PathBuf,
    /// Where it appears in the jail (default: the same path).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<PathBuf>,
    /// Why the jail needs it.
    pub comment: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, expecting = "a [[filesystem.data]] entry: name, path, comment")]
pub struct DataDir {
    /// The directory's name in the jail: /data/NAME. Letters, digits, '-' and '_'.
    pub name: String,
    /// The host directory; it must exist and be a directory (its mounts below are not included).
    pub path: PathBuf,
    /// What the data is and why scripts under this profile read it.
    pub comment: String,
}

impl DataDir {
    /// Where the jail sees it.
    pub fn jail_path(&self) -> PathBuf {
        Path::new(DATA_DIR).join(&self.name)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, expecting = "the [network] table: mode = \"none\"")]
pub struct Network {
    /// Only "none" exists: an empty network namespace, no socket family but AF_UNIX.
    pub mode: NetworkMode,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum NetworkMode {
    None,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, expecting = "the [seccomp] table: policy = \"seccomp/NAME.toml\"")]
pub struct SeccompRef {
    /// Policy file, relative to the profiles directory.
    pub policy: PathBuf,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, expecting = "the [landlock] table: minimum_abi")]
pub struct LandlockPolicy {
    /// The lowest Landlock ABI whose rights this profile requires; on an older kernel the run is
    /// refused, naming the rights it lacks.
    pub minimum_abi: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, expecting = "the [language_policy] table")]
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

/// A profile loaded, resolved, validated, with its seccomp policy.
#[derive(Debug, Clone)]
pub struct Profile {
    /// The resolved profile (no `extends`).
    pub file: ProfileFile,
    pub path: PathBuf,
    /// The profile file this one extends, if any.
    pub extends: Option<PathBuf>,
    /// sha256 of [`Profile::resolved_toml`]: two files that resolve to the same profile have
    /// the same digest.
    pub sha256: String,
    pub seccomp: SeccompPolicy,
    /// Where each value was written.
    pub origins: Origins,
}

impl Profile {
    pub fn name(&self) -> &str {
        &self.file.name
    }

    /// The resolved profile as canonical TOML (what `jailctl profile show` prints and
    /// `sha256` digests).
    pub fn resolved_toml(&self) -> String {
        canonical_toml(&self.file)
    }

    /// The pinned interpreter this profile names, refused unless the manifest pins exactly the
    /// version the profile asks for and runs the profile's language.
    pub fn interpreter(&self, interpreters_dir: &Path) -> Result<Interpreter, ProfileError> {
        let want = &self.file.interpreter;
        let (path, line) = self.origins.of("interpreter");
        let interp = interpreter::load(interpreters_dir, want.name.as_str()).map_err(|e| match e {
            // A name no manifest has is this file's mistake; a broken manifest is the manifest's.
            InterpreterError::Unknown { .. } => ProfileError::Invalid {
                path: path.clone(),
                line,
                field: "interpreter".into(),
                message: format!("{e} (the manifests are {})", interpreter::list(interpreters_dir).join(", ")),
            },
            other => other.into(),
        })?;
        if interp.manifest.version != want.version {
            return Err(ProfileError::Invalid {
                path,
                line,
                field: "interpreter".into(),
                message: format!(
                    "asks for {want}, but {} pins {}@{}; the profile and the manifest must name the same version",
                    interp.path.display(),
                    interp.manifest.name,
                    interp.manifest.version
                ),
            });
        }
        if !interp.manifest.languages.contains(&self.file.language) {
            return Err(ProfileError::Invalid {
                path,
                line,
                field: "interpreter".into(),
                message: format!("{} ({}) does not run {}", want, interp.path.display(), self.file.language.as_str()),
            });
        }
        Ok(interp)
    }
}

/// The name of the interpreter manifest a profile runs (its `interpreter` may pin a version
/// too, as NAME@VERSION).
///
/// In `profile`, not in the daemon's API: the API's request checks and the daemon's start-up
/// checks (`daemon::checks`) both ask it, and the daemon's other modules stay below its API.
pub fn interpreter_name(p: &Profile) -> String {
    let full = p.file.interpreter.to_string();
    full.split('@').next().unwrap_or_default().to_string()
}

/// The canonical text of a resolved profile: serde's field order, no comments.
fn canonical_toml(file: &ProfileFile) -> String {
    toml::to_string(file).unwrap_or_else(|e| format!("# unserializable profile: {e}\n"))
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Where the values of a resolved profile were written: file and line by dotted key
/// (`limits.memory`, `filesystem.tmpfs[1].size`, `environment.PATH`).
#[derive(Debug, Clone, Default)]
pub struct Origins {
    files: Vec<PathBuf>,
    at: BTreeMap<String, (usize, usize)>,
}

impl Origins {
    /// The file and line where `key` was written; for a key nobody wrote (a default), the
    /// nearest enclosing table that was, else the first line of the profile's own file.
    pub fn of(&self, key: &str) -> (PathBuf, usize) {
        let mut k = key;
        loop {
            if let Some(&(file, line)) = self.at.get(k) {
                return (self.files[file].clone(), line);
            }
            match k.rfind(['.', '[']) {
                Some(i) => k = &k[..i],
                None => return (self.files.first().cloned().unwrap_or_default(), 1),
            }
        }
    }

    /// The file `key` was written in, if it was written.
    pub fn file_of(&self, key: &str) -> Option<&Path> {
        self.at.get(key).map(|&(f, _)| self.files[f].as_path())
    }
}

/// One profile file's text and where it starts in the shared span space (the child at 0, its
/// parent after it).
struct Source<'a> {
    path: &'a Path,
    text: &'a str,
    offset: usize,
}

impl Source<'_> {
    fn contains(&self, pos: usize) -> bool {
        pos >= self.offset && pos <= self.offset + self.text.len()
    }

    /// 1-based line and column of a shared-space offset.
    fn line_col(&self, pos: usize) -> (usize, usize) {
        let local = pos.saturating_sub(self.offset).min(self.text.len());
        let before = &self.text[..floor_char_boundary(self.text, local)];
        let line = before.matches('\n').count() + 1;
        let col = before.rsplit('\n').next().map(|l| l.chars().count()).unwrap_or(0) + 1;
        (line, col)
    }
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn source_at<'s, 'a>(sources: &'s [Source<'a>], pos: usize) -> &'s Source<'a> {
    sources.iter().rev().find(|s| s.contains(pos)).unwrap_or(&sources[0])
}

/// A deserialization error rendered like a parse error: line, column, the line itself.
fn render(src: &Source, span: Option<std::ops::Range<usize>>, message: &str) -> String {
    let Some(span) = span else { return message.to_string() };
    let (line, col) = src.line_col(span.start);
    let text = src.text.lines().nth(line - 1).unwrap_or("");
    let w = line.to_string().len();
    format!("line {line}, column {col}: {message}\n{:w$} |\n{line} | {text}", "")
}

/// The dotted field a deserialization error is about (`limits.pids`, `filesystem.tmpfs.size`,
/// `limits.max_threads` for an unknown key): the keys toml records on the way down (shown as
/// "in `a.b`" by an error without its source text), then the key an unknown, missing or
/// duplicate field message names.
fn deserialize_field(e: &toml::de::Error) -> Option<String> {
    let shown = e.to_string();
    let keys = shown.lines().rev().find_map(|l| l.strip_prefix("in `")?.strip_suffix('`')).unwrap_or_default();
    let message = e.message();
    let named = ["unknown field `", "missing field `", "duplicate field `"].iter().find_map(|p| {
        let rest = &message[message.find(p)? + p.len()..];
        Some(&rest[..rest.find('`')?])
    });
    let field = match named {
        Some(n) if keys.is_empty() => n.to_string(),
        Some(n) if keys != n && !keys.ends_with(&format!(".{n}")) => format!("{keys}.{n}"),
        _ => keys.to_string(),
    };
    (!field.is_empty()).then_some(field)
}

/// Loads `dir/NAME.toml` (and the profile it extends) and its seccomp policy.
pub fn load(dir: &Path, name: &str) -> Result<Profile, ProfileError> {
    load_cached(dir, name, None)
}

fn plain_name(name: &str) -> bool {
    !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// [`load`], with compiled seccomp policies cached in `cache_dir`.
pub fn load_cached(dir: &Path, name: &str, cache_dir: Option<&Path>) -> Result<Profile, ProfileError> {
    if !plain_name(name) {
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
    toml_file::names(dir)
}

pub fn load_file(dir: &Path, path: &Path) -> Result<Profile, ProfileError> {
    load_file_cached(dir, path, None)
}

fn read_text(path: &Path) -> Result<String, ProfileError> {
    let bytes = std::fs::read(path).map_err(|source| ProfileError::Read { path: path.to_path_buf(), source })?;
    String::from_utf8(bytes).map_err(|e| {
        let bad = e.utf8_error().valid_up_to();
        let before = &e.as_bytes()[..bad];
        let line = before.iter().filter(|b| **b == b'\n').count() + 1;
        let column = bad - before.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1) + 1;
        ProfileError::Parse {
            path: path.to_path_buf(),
            message: format!(
                "line {line}, column {column}: not UTF-8 (byte 0x{:02x}); a profile is UTF-8 text",
                e.as_bytes()[bad]
            ),
        }
    })
}

fn parse_table<'a>(path: &Path, text: &'a str) -> Result<Spanned<DeTable<'a>>, ProfileError> {
    DeTable::parse(text)
        .map_err(|e| ProfileError::Parse { path: path.to_path_buf(), message: e.to_string().trim_end().to_string() })
}

/// Moves every span of `value` by `by`, so spans of a parent file do not collide with the
/// child's.
fn shift_value<'a>(value: Spanned<DeValue<'a>>, by: usize) -> Spanned<DeValue<'a>> {
    let span = value.span();
    let inner = match value.into_inner() {
        DeValue::Table(t) => DeValue::Table(shift_table(t, by)),
        DeValue::Array(mut a) => {
            for item in a.iter_mut() {
                let old = std::mem::replace(item, Spanned::new(0..0, DeValue::Boolean(false)));
                *item = shift_value(old, by);
            }
            DeValue::Array(a)
        }
        other => other,
    };
    Spanned::new(span.start + by..span.end + by, inner)
}

fn shift_table(table: DeTable<'_>, by: usize) -> DeTable<'_> {
    let mut out = DeTable::new();
    let entries: Vec<_> = table.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    for (k, v) in entries {
        let span = k.span();
        out.insert(Spanned::new(span.start + by..span.end + by, k.into_inner()), shift_value(v, by));
    }
    out
}

/// Merges `child` over `parent`: tables key by key, anything else (arrays included) replaced.
fn merge<'a>(parent: &mut DeTable<'a>, child: DeTable<'a>) {
    let entries: Vec<_> = child.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    for (k, v) in entries {
        let both_tables =
            v.get_ref().is_table() && parent.get(k.get_ref().as_ref()).is_some_and(|p| p.get_ref().is_table());
        if both_tables {
            let Some(existing) = parent.get_mut(k.get_ref().as_ref()) else { continue };
            if let (DeValue::Table(p), DeValue::Table(c)) = (existing.get_mut(), v.into_inner()) {
                merge(p, c);
            }
        } else {
            parent.remove(k.get_ref().as_ref());
            parent.insert(k, v);
        }
    }
}

/// Records where every key of `table` was written.
fn record(origins: &mut BTreeMap<String, (usize, usize)>, sources: &[Source], prefix: &str, table: &DeTable) {
    for (k, v) in table.iter() {
        let key = if prefix.is_empty() { k.get_ref().to_string() } else { format!("{prefix}.{}", k.get_ref()) };
        record_value(origins, sources, key, k.span().start, v);
    }
}

fn record_value(
    origins: &mut BTreeMap<String, (usize, usize)>,
    sources: &[Source],
    key: String,
    at: usize,
    v: &Spanned<DeValue>,
) {
    let index = sources.iter().rposition(|s| s.contains(at)).unwrap_or(0);
    origins.insert(key.clone(), (index, sources[index].line_col(at).0));
    match v.get_ref() {
        DeValue::Table(t) => record(origins, sources, &key, t),
        DeValue::Array(a) => {
            for (i, item) in a.iter().enumerate() {
                record_value(origins, sources, format!("{key}[{i}]"), item.span().start, item);
            }
        }
        _ => {}
    }
}

fn load_file_cached(dir: &Path, path: &Path, cache_dir: Option<&Path>) -> Result<Profile, ProfileError> {
    let text = read_text(path)?;
    let mut table = parse_table(path, &text)?;
    let root_span = table.span();
    let invalid_at = |src: &Source, at: usize, field: &str, message: String| ProfileError::Invalid {
        path: src.path.to_path_buf(),
        line: src.line_col(at).0,
        field: field.to_string(),
        message,
    };

    // extends: one level, a plain name of a profile in the same directory.
    let child = Source { path, text: &text, offset: 0 };
    let mut sources = vec![child];
    let parent_text;
    let parent_path;
    let mut extends = None;
    if let Some(ext) = table.get_mut().remove("extends") {
        let at = ext.span().start;
        let Some(parent_name) = ext.get_ref().as_str().map(str::to_string) else {
            return Err(invalid_at(
                &sources[0],
                at,
                "extends",
                "must be the name of a profile in the same directory, e.g. extends = \"python\"".into(),
            ));
        };
        let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or_default();
        if !plain_name(&parent_name) || parent_name == stem {
            return Err(invalid_at(
                &sources[0],
                at,
                "extends",
                format!("{parent_name:?} is not another profile's name (letters, digits, '-', '_')"),
            ));
        }
        parent_path = path.with_file_name(format!("{parent_name}.toml"));
        if !parent_path.is_file() {
            return Err(invalid_at(
                &sources[0],
                at,
                "extends",
                format!(
                    "no profile {parent_name:?} ({} does not exist); known profiles: {}",
                    parent_path.display(),
                    list(dir).join(", ")
                ),
            ));
        }
        for own in ["schema", "name", "description"] {
            if !table.get_ref().contains_key(own) {
                return Err(invalid_at(
                    &sources[0],
                    0,
                    own,
                    format!("a profile that extends another must state its own `{own}`"),
                ));
            }
        }
        parent_text = read_text(&parent_path)?;
        let parent = parse_table(&parent_path, &parent_text)?;
        let offset = text.len() + 1;
        let parent_src = Source { path: &parent_path, text: &parent_text, offset: 0 };
        if let Some(grand) = parent.get_ref().get("extends") {
            let grand = grand.get_ref().as_str().unwrap_or("?");
            return Err(invalid_at(
                &sources[0],
                at,
                "extends",
                format!(
                    "{} itself extends {grand:?} (line {}); extends is one level deep: make {} a complete profile, or extend {grand:?} directly",
                    parent_path.display(),
                    parent_src.line_col(parent.get_ref().get_key_value("extends").map(|(k, _)| k.span().start).unwrap_or(0)).0,
                    parent_path.display()
                ),
            ));
        }
        if let Some(schema) = parent.get_ref().get("schema") {
            if schema.get_ref().as_integer().map(|i| i.as_str()) != Some(&SCHEMA.to_string()) {
                return Err(invalid_at(
                    &parent_src,
                    schema.span().start,
                    "schema",
                    format!("this jaild reads schema {SCHEMA}"),
                ));
            }
        }
        let mut merged = shift_table(parent.into_inner(), offset);
        merge(&mut merged, table.into_inner());
        table = Spanned::new(root_span, merged);
        sources.push(Source { path: &parent_path, text: &parent_text, offset });
        extends = Some(parent_path.clone());
    }

    let file = ProfileFile::deserialize(toml::de::Deserializer::from(table.clone())).map_err(|e| {
        let span = e.span();
        let src = span.as_ref().map(|s| source_at(&sources, s.start)).unwrap_or(&sources[0]);
        let message = e.message().trim_end();
        match deserialize_field(&e) {
            Some(field) => ProfileError::Invalid {
                path: src.path.to_path_buf(),
                line: span.map_or(1, |s| src.line_col(s.start).0),
                field,
                message: message.to_string(),
            },
            None => ProfileError::Parse { path: src.path.to_path_buf(), message: render(src, span, message) },
        }
    })?;
    let mut at = BTreeMap::new();
    record(&mut at, &sources, "", table.get_ref());
    let origins = Origins { files: sources.iter().map(|s| s.path.to_path_buf()).collect(), at };

    validate(&file, path, &origins)?;
    let seccomp_path = dir.join(&file.seccomp.policy);
    let seccomp = seccomp::load_policy_cached(&seccomp_path, cache_dir).map_err(|e| match e {
        // The policy's own mistakes name the policy file; one that is not there is this file's.
        seccomp::PolicyError::Read { path: policy, source } => {
            let (path, line) = origins.of("seccomp.policy");
            ProfileError::Invalid {
                path,
                line,
                field: "seccomp.policy".into(),
                message: format!("{} cannot be read ({source})", policy.display()),
            }
        }
        other => other.into(),
    })?;
    if seccomp.file.interpreter != file.interpreter.name {
        let (p, line) = origins.of("seccomp.policy");
        return Err(ProfileError::Invalid {
            path: p,
            line,
            field: "seccomp.policy".into(),
            message: format!(
                "{} is the policy for interpreter {:?}, but this profile runs {}",
                file.seccomp.policy.display(),
                seccomp.file.interpreter,
                file.interpreter
            ),
        });
    }
    // The jail's setup execs the interpreter right after installing the filter, before the
    // supervisor holds the filter's listener (jail-init hands it over once the exec is done):
    // a denied execve would wait for an answer that cannot come.
    if !seccomp.allows_unconditionally("execve") {
        let (p, line) = origins.of("seccomp.policy");
        return Err(ProfileError::Invalid {
            path: p,
            line,
            field: "seccomp.policy".into(),
            message: format!(
                "{} must allow execve without argument conditions: the jail execs the interpreter right after installing the filter",
                file.seccomp.policy.display()
            ),
        });
    }
    let sha256 = sha256_hex(canonical_toml(&file).as_bytes());
    Ok(Profile { file, path: path.to_path_buf(), extends, sha256, seccomp, origins })
}

fn validate(p: &ProfileFile, path: &Path, origins: &Origins) -> Result<(), ProfileError> {
    // `field` is what the message names ("filesystem.tmpfs.size"), `key` where it was written
    // ("filesystem.tmpfs[1].size").
    let invalid_key = |field: &str, key: &str, message: String| {
        let (path, line) = origins.of(key);
        ProfileError::Invalid { path, line, field: field.to_string(), message }
    };
    let invalid = |field: &str, message: String| invalid_key(field, field, message);
    if p.schema != SCHEMA {
        return Err(invalid(
            "schema",
            format!("schema {} is not supported; this jaild reads schema {SCHEMA}", p.schema),
        ));
    }
    let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or_default();
    if p.name != stem {
        return Err(invalid("name", format!("name {:?} must match the file name {stem:?}", p.name)));
    }
    if p.description.trim().is_empty() {
        return Err(invalid("description", "say what the profile is for".into()));
    }
    let l = &p.limits;
    let range = |key: &str, v: u64, lo: u64, hi: u64, unit: &str| {
        if v < lo || v > hi {
            Err(invalid(&format!("limits.{key}"), format!("{v}{unit} is out of range ({lo}{unit}..={hi}{unit})")))
        } else {
            Ok(())
        }
    };
    use limit_range as r;
    range("wall_time_ms", l.wall_time_ms, r::WALL_TIME_MS.0, r::WALL_TIME_MS.1, " ms")?;
    range("cpu_time_ms", l.cpu_time_ms, r::CPU_TIME_MS.0, r::CPU_TIME_MS.1, " ms")?;
    range("memory", l.memory.0, r::MEMORY.0, r::MEMORY.1, " bytes")?;
    range("pids", l.pids, r::PIDS.0, r::PIDS.1, "")?;
    range("stdout", l.stdout.0, r::OUTPUT.0, r::OUTPUT.1, " bytes")?;
    range("stderr", l.stderr.0, r::OUTPUT.0, r::OUTPUT.1, " bytes")?;
    range("result", l.result.0, r::RESULT.0, r::RESULT.1, " bytes")?;
    range("open_files", l.open_files, 16, 1 << 20, "")?;
    range("file_size", l.file_size.0, 0, 64 << 30, " bytes")?;
    range("script", l.script.0, 1, 64 << 20, " bytes")?;
    range("input", l.input.0, 2, 1 << 30, " bytes")?;
    if !(l.cpu_cores > 0.0 && l.cpu_cores <= 1024.0) {
        return Err(invalid("limits.cpu_cores", format!("{} is out of range (0 < cpu_cores <= 1024)", l.cpu_cores)));
    }

    let fs = &p.filesystem;
    if fs.tmpfs.is_empty() {
        return Err(invalid("filesystem.tmpfs", "at least one scratch tmpfs is needed for the work dir".into()));
    }
    for (i, t) in fs.tmpfs.iter().enumerate() {
        let invalid = |key: &str, message: String| {
            invalid_key(&format!("filesystem.tmpfs.{key}"), &format!("filesystem.tmpfs[{i}].{key}"), message)
        };
        // /dev/shm is the one place under /dev a scratch tmpfs may go: POSIX shared memory and
        // semaphores live there (multiprocessing's Lock, Queue and Pool, where a profile allows
        // processes), and it is scratch like any other.
        if !is_clean_absolute(&t.path) || (is_reserved(&t.path) && t.path != Path::new("/dev/shm")) {
            return Err(invalid(
                "path",
                format!(
                    "{} must be an absolute, normalized path outside /proc, /dev (but /dev/shm), /jaild, the jail's own /etc files and the interpreter's paths",
                    t.path.display()
                ),
            ));
        }
        if t.size.0 < 4096 || t.size.0 > 16 << 30 {
            return Err(invalid("size", format!("{} for {} is out of range (4KiB..=16GiB)", t.size, t.path.display())));
        }
        if t.inodes < 16 || t.inodes > 1 << 24 {
            return Err(invalid(
                "inodes",
                format!("{} for {} is out of range (16..=16777216)", t.inodes, t.path.display()),
            ));
        }
    }
    if !fs.tmpfs.iter().any(|t| t.path == fs.workdir) {
        return Err(invalid("filesystem.workdir", format!("{} is not one of the tmpfs mounts", fs.workdir.display())));
    }
    let overlaps = |a: &Path, b: &Path| a.starts_with(b) || b.starts_with(a);
    for (i, r) in fs.read_only.iter().enumerate() {
        let invalid = |key: &str, message: String| {
            invalid_key(&format!("filesystem.read_only.{key}"), &format!("filesystem.read_only[{i}].{key}"), message)
        };
        if !is_clean_absolute(&r.path) {
            return Err(invalid("path", format!("{} must be absolute and normalized", r.path.display())));
        }
        if !r.path.exists() {
            return Err(invalid("path", format!("{} does not exist on this host", r.path.display())));
        }
        let at = r.at.as_ref().unwrap_or(&r.path);
        if !is_clean_absolute(at) || is_reserved(at) {
            // Without `at` the path is bound where it is: the path is what is wrong.
            return Err(invalid(
                if r.at.is_some() { "at" } else { "path" },
                format!(
                    "{} must be an absolute, normalized path outside /proc, /dev, /jaild and the jail's own /etc files",
                    at.display()
                ),
            ));
        }
        if fs.tmpfs.iter().any(|t| overlaps(at, &t.path)) {
            return Err(invalid(
                "path",
                format!("{} overlaps a writable tmpfs: a path cannot be both read-only and writable", at.display()),
            ));
        }
        if r.path.starts_with(STAGING) {
            return Err(invalid(
                "path",
                format!(
                    "{} cannot be bound: jail-init builds the jail's root at {} and hides what is below it",
                    r.path.display(),
                    STAGING
                ),
            ));
        }
    }
    for (i, d) in fs.data.iter().enumerate() {
        let invalid = |key: &str, message: String| {
            invalid_key(&format!("filesystem.data.{key}"), &format!("filesystem.data[{i}].{key}"), message)
        };
        if !plain_name(&d.name) || d.name.len() > 64 {
            return Err(invalid("name", format!("{:?} is not a plain name (1-64 letters, digits, '-', '_'); the directory appears at {DATA_DIR}/NAME", d.name)));
        }
        if let Some(j) = fs.data[..i].iter().position(|o| o.name == d.name) {
            return Err(invalid(
                "name",
                format!(
                    "{:?} is also the name of data directory {} ({}): each needs its own /data/NAME",
                    d.name,
                    j + 1,
                    fs.data[j].path.display()
                ),
            ));
        }
        if d.comment.trim().is_empty() {
            return Err(invalid("comment", "say what the data is and why scripts read it".into()));
        }
        if !is_clean_absolute(&d.path) {
            return Err(invalid("path", format!("{} must be an absolute, normalized host path", d.path.display())));
        }
        if d.path.starts_with(STAGING) {
            return Err(invalid(
                "path",
                format!(
                    "{} cannot be bound: jail-init builds the jail's root at {} and hides what is below it",
                    d.path.display(),
                    STAGING
                ),
            ));
        }
        match std::fs::metadata(&d.path) {
            Err(e) => return Err(invalid("path", format!("{} does not exist on this host ({e}); create it (interpreters/install.sh creates the shipped one) or point the profile elsewhere", d.path.display()))),
            Ok(m) if !m.is_dir() => return Err(invalid("path", format!("{} is not a directory", d.path.display()))),
            Ok(_) => {}
        }
        let at = d.jail_path();
        if let Some(t) = fs.tmpfs.iter().find(|t| overlaps(&at, &t.path)) {
            return Err(invalid(
                "name",
                format!(
                    "{} overlaps the writable tmpfs {}: a path cannot be both read-only and writable",
                    at.display(),
                    t.path.display()
                ),
            ));
        }
        if let Some(r) = fs.read_only.iter().find(|r| overlaps(&at, r.at.as_ref().unwrap_or(&r.path))) {
            return Err(invalid(
                "name",
                format!("{} overlaps the read-only path {}", at.display(), r.at.as_ref().unwrap_or(&r.path).display()),
            ));
        }
    }
    let policy = &p.seccomp.policy;
    if policy.as_os_str().is_empty() || !policy.components().all(|c| matches!(c, std::path::Component::Normal(_))) {
        return Err(invalid(
            "seccomp.policy",
            format!("{:?} must be a path inside the profiles directory, relative to it and without '..' (e.g. \"seccomp/python.toml\")", policy.display().to_string()),
        ));
    }
    if p.landlock.minimum_abi == 0 || p.landlock.minimum_abi > 7 {
        return Err(invalid(
            "landlock.minimum_abi",
            format!("{} is not a Landlock ABI this jaild knows (1..=7)", p.landlock.minimum_abi),
        ));
    }
    for (k, v) in &p.environment {
        if k.is_empty() || k.contains('=') || k.contains('\0') || v.contains('\0') {
            return Err(invalid_key(
                &format!("environment.{k}"),
                &format!("environment.{k}"),
                "names must be non-empty without '=' and values without NUL".into(),
            ));
        }
    }
    Ok(())
}

fn is_clean_absolute(p: &Path) -> bool {
    p.is_absolute()
        && p.components().all(|c| matches!(c, std::path::Component::RootDir | std::path::Component::Normal(_)))
        && p != Path::new("/")
}

/// Paths a profile may not mount anything at: the jail's own /proc, /dev and runner directory,
/// and its synthesized /etc files (nor a directory above one of them, such as /etc itself).
fn is_reserved(p: &Path) -> bool {
    ["/proc", "/dev", "/jaild"].iter().any(|r| p.starts_with(r))
        || SYNTHESIZED_ETC.iter().any(|f| Path::new(f).starts_with(p) || p.starts_with(f))
}

/// The JSON Schema of a profile file as written (profiles/schema/profile.schema.json),
/// generated from [`ProfileFile`].
///
/// Tables merge key by key under `extends`, so a profile that extends another may leave out
/// any key of a table; one that does not must write them all (the `if`/`else` at the top).
/// Entries of arrays of tables are replaced whole, so they are always complete.
pub fn json_schema() -> serde_json::Value {
    let mut root = schemars::schema_for!(ProfileFile).to_value();
    let all_required = root.get_mut("required").map(serde_json::Value::take).unwrap_or_default();
    let table_refs: Vec<(String, String)> = root["properties"]
        .as_object()
        .map(|props| {
            props
                .iter()
                .filter_map(|(k, v)| Some((k.clone(), v.get("$ref")?.as_str()?.strip_prefix("#/$defs/")?.to_string())))
                .collect()
        })
        .unwrap_or_default();
    let mut complete = serde_json::Map::new();
    for (prop, def) in table_refs {
        if let Some(required) = root["$defs"][&def].as_object_mut().and_then(|d| d.remove("required")) {
            complete.insert(prop, serde_json::json!({ "required": required }));
        }
    }
    let Some(obj) = root.as_object_mut() else { return root };
    obj.insert("$id".into(), "https://jaild.invalid/schema/profile.schema.json".into());
    obj.insert("required".into(), serde_json::json!(["schema", "name", "description"]));
    obj.insert("if".into(), serde_json::json!({ "required": ["extends"] }));
    obj.insert("else".into(), serde_json::json!({ "required": all_required, "properties": complete }));
    root
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
        assert_eq!(ByteSize::parse(&ByteSize(1000).to_string()), Ok(ByteSize(1000)));
    }

    #[test]
    fn merge_replaces_arrays_and_merges_tables() {
        let parent_text = "a = 1\n[t]\nx = 1\ny = 2\n[[arr]]\nv = 1\n[[arr]]\nv = 2\n";
        let child_text = "[t]\ny = 3\n[[arr]]\nv = 9\n";
        let parent = DeTable::parse(parent_text).unwrap().into_inner();
        let child = DeTable::parse(child_text).unwrap().into_inner();
        let mut merged = shift_table(parent, child_text.len() + 1);
        merge(&mut merged, child);
        let sources = [
            Source { path: Path::new("child"), text: child_text, offset: 0 },
            Source { path: Path::new("parent"), text: parent_text, offset: child_text.len() + 1 },
        ];
        let mut at = BTreeMap::new();
        record(&mut at, &sources, "", &merged);
        let o = Origins { files: vec!["child".into(), "parent".into()], at };
        assert_eq!(o.of("a"), (PathBuf::from("parent"), 1));
        assert_eq!(o.of("t.x"), (PathBuf::from("parent"), 3));
        assert_eq!(o.of("t.y"), (PathBuf::from("child"), 2));
        assert_eq!(o.of("arr[0].v"), (PathBuf::from("child"), 4));
        assert_eq!(o.of("arr[1].v"), (PathBuf::from("child"), 3), "the parent's second entry is gone; falls back");
        let v: toml::Table =
            toml::Table::deserialize(toml::de::Deserializer::from(Spanned::new(0..0, merged))).unwrap();
        assert_eq!(v["t"]["y"].as_integer(), Some(3));
        assert_eq!(v["arr"].as_array().map(Vec::len), Some(1));
    }
}
