//! Pinned interpreters: manifests in interpreters/ with exact version and binary sha256. A binary
//! whose digest no longer matches its manifest is refused.

use crate::cache::FileKey;
use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

pub const SCHEMA: u32 = 1;

#[derive(Debug, thiserror::Error)]
pub enum InterpreterError {
    #[error("unknown interpreter {name:?}: no manifest {path}")]
    Unknown { name: String, path: PathBuf },
    #[error("failed to read interpreter manifest {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("interpreter {name}: binary {binary} is not installed ({source}); install it with: {install}")]
    Missing {
        name: String,
        binary: PathBuf,
        install: String,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "interpreter {name}: {binary} has sha256 {actual}, but its manifest pins {expected}; \
             the binary changed since it was pinned (a package upgrade?). Review it, then re-pin by \
             setting sha256 = \"{actual}\" in {manifest}, or reinstall the pinned version with interpreters/install.sh"
    )]
    DigestMismatch { name: String, binary: PathBuf, expected: String, actual: String, manifest: PathBuf },
    #[error("interpreter {name}@{wanted}: {manifest} pins version {pinned}, not {wanted}")]
    VersionMismatch { name: String, wanted: String, pinned: String, manifest: PathBuf },
    #[error("interpreter {name}: failed to run {binary} --version")]
    RunVersion {
        name: String,
        binary: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("interpreter {name}: {binary} reports version {reported}, but {manifest} says {pinned}; nothing was changed. \
             Review the upgrade, then run `jailctl interpreters pin {name} --accept-version` to pin both the digest and the version \
             (and update every profile's interpreter = \"{name}@...\")")]
    VersionChanged { name: String, binary: PathBuf, reported: String, pinned: String, manifest: PathBuf },
    #[error("failed to rewrite {path}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: no top-level line `{key} = \"...\"` to rewrite")]
    NoLine { path: PathBuf, key: String },
}

// The language of a script: what a profile runs and what a manifest says its interpreter runs
// (`languages`). Defined here, with the interpreters, because a profile names an interpreter
// and so imports this module, never the other way round. (A `//` comment, not a doc comment:
// the derived JSON Schema of profiles would take a doc comment as the type's description.)
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
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

/// An interpreter by name and exact version, written `"python3.11@3.11.2"`: the name of a
/// manifest in interpreters/ and the version that manifest must pin.
///
/// A profile's `interpreter` key holds one, but it is defined here, not in `profile`: this
/// module resolves it ([`ManifestRef`], [`load`]), and a profile sits above its interpreter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InterpreterRef {
    pub name: String,
    pub version: String,
}

impl InterpreterRef {
    pub fn parse(s: &str) -> Result<InterpreterRef, String> {
        let bad = || {
            format!("{s:?} is not NAME@VERSION: name an interpreter manifest and its exact version, e.g. \"python3.11@3.11.2\" or \"node24@24.21.0\"")
        };
        let (name, version) = s.split_once('@').ok_or_else(bad)?;
        let plain = |p: &str| {
            !p.is_empty() && p.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '+'))
        };
        if !plain(name) || !plain(version) || name.starts_with('.') {
            return Err(bad());
        }
        Ok(InterpreterRef { name: name.to_string(), version: version.to_string() })
    }
}

impl std::fmt::Display for InterpreterRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}@{}", self.name, self.version)
    }
}

/// Code that names interpreters by manifest name (`profile.file.interpreter == "python3.11"`,
/// `names.contains(&profile.file.interpreter)`) compares and borrows the name: a profile's
/// interpreter *is* that manifest, at the version `profile::Profile::interpreter` checks.
impl std::ops::Deref for InterpreterRef {
    type Target = String;
    fn deref(&self) -> &String {
        &self.name
    }
}

impl PartialEq<String> for InterpreterRef {
    fn eq(&self, other: &String) -> bool {
        &self.name == other
    }
}

impl PartialEq<InterpreterRef> for String {
    fn eq(&self, other: &InterpreterRef) -> bool {
        self == &other.name
    }
}

impl PartialEq<str> for InterpreterRef {
    fn eq(&self, other: &str) -> bool {
        self.name == other
    }
}

impl Serialize for InterpreterRef {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for InterpreterRef {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        InterpreterRef::parse(&s).map_err(serde::de::Error::custom)
    }
}

impl JsonSchema for InterpreterRef {
    fn schema_name() -> Cow<'static, str> {
        "InterpreterRef".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "NAME@VERSION: an interpreter manifest (interpreters/NAME.toml) and the exact version it must pin, e.g. \"python3.11@3.11.2\".",
            "type": "string",
            "pattern": "^[A-Za-z0-9_+-][A-Za-z0-9._+-]*@[A-Za-z0-9._+-]+$"
        })
    }
}

/// What names an interpreter: a manifest name ("python3.11"), or a profile's reference
/// ("python3.11@3.11.2"), whose version the manifest must pin.
pub trait ManifestRef {
    fn manifest_name(&self) -> &str;
    fn pinned_version(&self) -> Option<&str> {
        None
    }
}

impl ManifestRef for str {
    fn manifest_name(&self) -> &str {
        self
    }
}

impl ManifestRef for String {
    fn manifest_name(&self) -> &str {
        self
    }
}

impl ManifestRef for InterpreterRef {
    fn manifest_name(&self) -> &str {
        &self.name
    }
    fn pinned_version(&self) -> Option<&str> {
        Some(&self.version)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub schema: u32,
    pub name: String,
    pub languages: Vec<Language>,
    pub version: String,
    /// Absolute path on the host, and inside the jail.
    pub binary: PathBuf,
    pub sha256: String,
    /// The ELF interpreter (PT_INTERP) of the binary.
    pub loader: PathBuf,
    pub source: String,
    pub install: String,
    /// Flags placed before the runner's path.
    #[serde(default)]
    pub args: Vec<String>,
    /// Read-only bind mounts the interpreter needs, each at the same path inside the jail.
    #[serde(default, rename = "mount")]
    pub mounts: Vec<ManifestMount>,
    /// Other names of the binary inside the jail (`/usr/bin/python3` beside `python3.11`):
    /// symlinks to `binary` in the jail's root, never the host's files of that name (which may
    /// be another interpreter altogether).
    #[serde(default)]
    pub aliases: Vec<PathBuf>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManifestMount {
    pub path: PathBuf,
    /// Code is mapped executable from here (shared objects); otherwise noexec.
    #[serde(default)]
    pub exec: bool,
    pub comment: String,
}

#[derive(Debug, Clone)]
pub struct Interpreter {
    pub manifest: Manifest,
    pub path: PathBuf,
}

/// Loads `dir/NAME.toml`; for a `name@version` reference, refused unless the manifest pins
/// exactly that version.
pub fn load<R: ManifestRef + ?Sized>(dir: &Path, reference: &R) -> Result<Interpreter, InterpreterError> {
    let name = reference.manifest_name();
    if name.is_empty()
        || !name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
        || name.starts_with('.')
    {
        return Err(InterpreterError::Unknown { name: name.to_string(), path: dir.join(name) });
    }
    let path = dir.join(format!("{name}.toml"));
    if !path.is_file() {
        return Err(InterpreterError::Unknown { name: name.to_string(), path });
    }
    let text =
        std::fs::read_to_string(&path).map_err(|source| InterpreterError::Read { path: path.clone(), source })?;
    let manifest: Manifest = toml::from_str(&text)
        .map_err(|e| InterpreterError::Parse { path: path.clone(), message: e.to_string().trim_end().to_string() })?;
    let bad = |message: String| InterpreterError::Parse { path: path.clone(), message };
    if manifest.schema != SCHEMA {
        return Err(bad(format!("schema {} is not supported; this jaild reads schema {SCHEMA}", manifest.schema)));
    }
    if manifest.name != name {
        return Err(bad(format!("name {:?} must match the file name {name:?}", manifest.name)));
    }
    if manifest.sha256.len() != 64 || !manifest.sha256.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(bad("sha256 must be 64 hex digits".into()));
    }
    for p in std::iter::once(&manifest.binary)
        .chain(std::iter::once(&manifest.loader))
        .chain(manifest.mounts.iter().map(|m| &m.path))
        .chain(&manifest.aliases)
    {
        if !p.is_absolute() || p.components().any(|c| matches!(c, std::path::Component::ParentDir)) {
            return Err(bad(format!("{} must be an absolute path without '..'", p.display())));
        }
    }
    for alias in &manifest.aliases {
        // A name must be a file of its own in the jail's root: not a path that is (or lies
        // inside) something bound from the host, where the symlink could not be made.
        let taken = std::iter::once(&manifest.binary)
            .chain(std::iter::once(&manifest.loader))
            .chain(manifest.mounts.iter().map(|m| &m.path))
            .find(|p| alias.starts_with(p) || p.starts_with(alias));
        if let Some(p) = taken {
            return Err(bad(format!(
                "aliases: {} collides with {}, which is bound from the host",
                alias.display(),
                p.display()
            )));
        }
    }
    if let Some(wanted) = reference.pinned_version() {
        if wanted != manifest.version {
            return Err(InterpreterError::VersionMismatch {
                name: name.to_string(),
                wanted: wanted.to_string(),
                pinned: manifest.version,
                manifest: path,
            });
        }
    }
    Ok(Interpreter { manifest, path })
}

/// Names of the interpreter manifests in `dir`.
pub fn list(dir: &Path) -> Vec<String> {
    crate::toml_file::names(dir)
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct CacheEntry {
    key: FileKey,
    sha256: String,
}

pub fn sha256_file(path: &Path) -> std::io::Result<String> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex::encode(hasher.finalize()))
}

impl Interpreter {
    /// Checks the binary against the pinned digest. Hashing a 100 MB binary on every run would
    /// cost more than the run, so digests are cached in `cache_dir` keyed by the file's identity.
    pub fn verify(&self, cache_dir: Option<&Path>) -> Result<String, InterpreterError> {
        let m = &self.manifest;
        let missing = |source| InterpreterError::Missing {
            name: m.name.clone(),
            binary: m.binary.clone(),
            install: m.install.clone(),
            source,
        };
        let meta = std::fs::metadata(&m.binary).map_err(missing)?;
        let key = FileKey::from_metadata(&meta);
        let cache_path = cache_dir.map(|d| d.join("digests.json"));
        let mut cache: BTreeMap<PathBuf, CacheEntry> = cache_path
            .as_ref()
            .and_then(|p| std::fs::read(p).ok())
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default();
        let actual = match cache.get(&m.binary) {
            Some(e) if e.key == key => e.sha256.clone(),
            _ => {
                let digest = sha256_file(&m.binary).map_err(missing)?;
                if let Some(p) = &cache_path {
                    cache.insert(m.binary.clone(), CacheEntry { key, sha256: digest.clone() });
                    store_cache(p, &cache);
                }
                digest
            }
        };
        if !actual.eq_ignore_ascii_case(&m.sha256) {
            return Err(InterpreterError::DigestMismatch {
                name: m.name.clone(),
                binary: m.binary.clone(),
                expected: m.sha256.clone(),
                actual,
                manifest: self.path.clone(),
            });
        }
        Ok(actual)
    }
}

/// The version a binary reports for `BINARY --version` ("Python 3.11.2", "v24.21.0"): the first
/// word that starts with a digit, after an optional "v". Run with an empty environment, as
/// nobody (uid/gid 65534) when called as root, for at most 10 seconds: the binary may be one
/// that no longer matches its pin.
pub fn reported_version(binary: &Path) -> std::io::Result<String> {
    use std::os::unix::process::CommandExt;
    let mut cmd = std::process::Command::new(binary);
    cmd.arg("--version")
        .env_clear()
        .current_dir("/")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    if nix::unistd::geteuid().is_root() {
        cmd.uid(65534).gid(65534);
    }
    let mut child = cmd.spawn()?;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while child.try_wait()?.is_none() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(std::io::Error::new(std::io::ErrorKind::TimedOut, "--version did not finish within 10 s"));
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let out = child.wait_with_output()?;
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    text.split_whitespace()
        .map(|w| w.strip_prefix('v').unwrap_or(w))
        .find(|w| w.starts_with(|c: char| c.is_ascii_digit()))
        .map(str::to_string)
        .ok_or_else(|| {
            std::io::Error::new(std::io::ErrorKind::InvalidData, format!("no version in the output {:?}", text.trim()))
        })
}

/// The state of one installed interpreter against its manifest (`jailctl interpreters verify`).
#[derive(Debug, Clone)]
pub struct Check {
    pub name: String,
    pub manifest: PathBuf,
    pub binary: PathBuf,
    pub pinned_sha256: String,
    /// None when the binary cannot be read.
    pub actual_sha256: Option<String>,
    pub pinned_version: String,
    pub reported_version: Option<String>,
    /// Number of paths (loader and mounts) the jail binds.
    pub paths: usize,
    /// Everything that does not match, in words.
    pub problems: Vec<String>,
}

impl Check {
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }
}

impl Interpreter {
    /// Checks the installed interpreter against its manifest, reading the binary afresh (no
    /// cache): its sha256, the version it reports, and that every path the jail binds exists.
    /// The contents of the libraries and the standard library are not digested.
    pub fn check(&self) -> Check {
        let m = &self.manifest;
        let mut problems = Vec::new();
        let actual = match sha256_file(&m.binary) {
            Ok(d) => Some(d),
            Err(e) => {
                problems.push(format!(
                    "binary {} cannot be read ({e}); install it with: {}",
                    m.binary.display(),
                    m.install
                ));
                None
            }
        };
        if let Some(a) = &actual {
            if !a.eq_ignore_ascii_case(&m.sha256) {
                problems.push(format!("binary {} has sha256 {a}, the manifest pins {}", m.binary.display(), m.sha256));
            }
        }
        let reported = if actual.is_some() {
            match reported_version(&m.binary) {
                Ok(v) => {
                    if v != m.version {
                        problems.push(format!("binary reports version {v}, the manifest says {}", m.version));
                    }
                    Some(v)
                }
                Err(e) => {
                    problems.push(format!("{} --version failed: {e}", m.binary.display()));
                    None
                }
            }
        } else {
            None
        };
        let mut paths = 0;
        for p in std::iter::once(&m.loader).chain(m.mounts.iter().map(|m| &m.path)) {
            paths += 1;
            if !p.exists() {
                problems.push(format!("{} (bound into the jail) does not exist", p.display()));
            }
        }
        Check {
            name: m.name.clone(),
            manifest: self.path.clone(),
            binary: m.binary.clone(),
            pinned_sha256: m.sha256.clone(),
            actual_sha256: actual,
            pinned_version: m.version.clone(),
            reported_version: reported,
            paths,
            problems,
        }
    }

    /// Records the digest of the installed binary in the manifest (`jailctl interpreters pin`),
    /// editing the one `sha256 = "..."` line in place (comments and layout stay). Refused, with
    /// nothing written, when the binary reports another version than the manifest's, unless
    /// `accept_version`: then the `version` line is rewritten too.
    pub fn pin(&self, accept_version: bool) -> Result<Pinned, InterpreterError> {
        let m = &self.manifest;
        let missing = |source| InterpreterError::Missing {
            name: m.name.clone(),
            binary: m.binary.clone(),
            install: m.install.clone(),
            source,
        };
        let new_sha = sha256_file(&m.binary).map_err(missing)?;
        let reported = reported_version(&m.binary).map_err(|source| InterpreterError::RunVersion {
            name: m.name.clone(),
            binary: m.binary.clone(),
            source,
        })?;
        if reported != m.version && !accept_version {
            return Err(InterpreterError::VersionChanged {
                name: m.name.clone(),
                binary: m.binary.clone(),
                reported,
                pinned: m.version.clone(),
                manifest: self.path.clone(),
            });
        }
        let text = std::fs::read_to_string(&self.path)
            .map_err(|source| InterpreterError::Read { path: self.path.clone(), source })?;
        let mut new_text = set_top_level_string(&text, "sha256", &new_sha)
            .ok_or_else(|| InterpreterError::NoLine { path: self.path.clone(), key: "sha256".into() })?;
        let version_changed = reported != m.version;
        if version_changed {
            new_text = set_top_level_string(&new_text, "version", &reported)
                .ok_or_else(|| InterpreterError::NoLine { path: self.path.clone(), key: "version".into() })?;
        }
        let digest_changed = !new_sha.eq_ignore_ascii_case(&m.sha256);
        if new_text != text {
            write_in_place(&self.path, &new_text)
                .map_err(|source| InterpreterError::Write { path: self.path.clone(), source })?;
        }
        Ok(Pinned {
            old_sha256: m.sha256.clone(),
            new_sha256: new_sha,
            manifest_version: m.version.clone(),
            reported_version: reported,
            digest_changed,
            version_changed,
        })
    }
}

/// What `pin` found and wrote.
#[derive(Debug, Clone)]
pub struct Pinned {
    pub old_sha256: String,
    pub new_sha256: String,
    /// The version the manifest said before.
    pub manifest_version: String,
    pub reported_version: String,
    pub digest_changed: bool,
    /// The manifest's version was rewritten (only with `accept_version`).
    pub version_changed: bool,
}

/// `text` with the string value of the top-level `key = "..."` line replaced (whatever follows
/// the closing quote, such as a comment, stays); None when there is no such line.
fn set_top_level_string(text: &str, key: &str, value: &str) -> Option<String> {
    let mut out = String::with_capacity(text.len() + 64);
    let mut done = false;
    let mut top_level = true;
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim_start();
        if trimmed.starts_with('[') {
            top_level = false;
        }
        if top_level && !done {
            if let Some(rest) = trimmed.strip_prefix(key) {
                let rest = rest.trim_start();
                if let Some(after_eq) = rest.strip_prefix('=') {
                    let after_eq = after_eq.trim_start();
                    if let Some(inner) = after_eq.strip_prefix('"') {
                        if let Some(close) = inner.find('"') {
                            let indent = &line[..line.len() - trimmed.len()];
                            out.push_str(&format!("{indent}{key} = \"{value}\"{}", &inner[close + 1..]));
                            done = true;
                            continue;
                        }
                    }
                }
            }
        }
        out.push_str(line);
    }
    done.then_some(out)
}

/// Replaces `path` by `text` atomically (a temporary file in the same directory, renamed),
/// keeping its permissions.
fn write_in_place(path: &Path, text: &str) -> std::io::Result<()> {
    let perms = std::fs::metadata(path)?.permissions();
    let tmp = path.with_extension(format!("toml.tmp.{}", std::process::id()));
    std::fs::write(&tmp, text)?;
    std::fs::set_permissions(&tmp, perms)?;
    std::fs::rename(&tmp, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}

fn store_cache(path: &Path, cache: &BTreeMap<PathBuf, CacheEntry>) {
    let result = serde_json::to_vec(cache)
        .map_err(std::io::Error::other)
        .and_then(|bytes| crate::cache::write_atomically(path, &bytes));
    crate::cache::written(path, result);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest_for(bin: &Path, sha: &str) -> Interpreter {
        Interpreter {
            manifest: Manifest {
                schema: 1,
                name: "t".into(),
                languages: vec![Language::Python],
                version: "1".into(),
                binary: bin.to_path_buf(),
                sha256: sha.into(),
                loader: "/lib64/ld-linux-x86-64.so.2".into(),
                source: "test".into(),
                install: "test".into(),
                args: vec![],
                mounts: vec![],
                aliases: vec![],
            },
            path: "t.toml".into(),
        }
    }

    #[test]
    fn interpreter_refs() {
        assert_eq!(
            InterpreterRef::parse("python3.11@3.11.2"),
            Ok(InterpreterRef { name: "python3.11".into(), version: "3.11.2".into() })
        );
        assert!(InterpreterRef::parse("python3.11").is_err());
        assert!(InterpreterRef::parse("@3").is_err());
        assert!(InterpreterRef::parse("../x@1").is_err());
        assert!(InterpreterRef::parse("a@b@c").is_err());
    }

    #[test]
    fn an_alias_is_a_name_of_its_own_never_a_bound_path() {
        let dir = tempfile::tempdir().unwrap();
        let write = |aliases: &str| {
            std::fs::write(
                dir.path().join("t.toml"),
                format!("schema = 1\nname = \"t\"\nlanguages = [\"python\"]\nversion = \"1\"\nbinary = \"/usr/bin/t1\"\nsha256 = \"{}\"\nloader = \"/lib64/ld\"\nsource = \"s\"\ninstall = \"i\"\naliases = [{aliases}]\n[[mount]]\npath = \"/usr/lib/t\"\ncomment = \"c\"\n", "a".repeat(64)),
            )
            .unwrap();
            load(dir.path(), "t")
        };
        assert_eq!(write("\"/usr/bin/t\"").unwrap().manifest.aliases, vec![PathBuf::from("/usr/bin/t")]);
        for (bad, says) in [
            ("\"usr/bin/t\"", "absolute"),
            ("\"/usr/bin/../t\"", "absolute"),
            ("\"/usr/bin/t1\"", "collides with /usr/bin/t1"),
            ("\"/usr/lib/t/x\"", "collides with /usr/lib/t"),
            ("\"/usr/lib\"", "collides with /usr/lib/t"),
        ] {
            let e = write(bad).unwrap_err().to_string();
            assert!(e.contains(says), "{bad}: {e}");
        }
    }

    #[test]
    fn rewrites_only_the_top_level_line() {
        let text = "# c\nsha256 = \"aa\"   # pinned\nversion = \"1\"\n[[mount]]\nsha256 = \"x\"\n";
        let out = set_top_level_string(text, "sha256", "bb").unwrap();
        assert_eq!(out, "# c\nsha256 = \"bb\"   # pinned\nversion = \"1\"\n[[mount]]\nsha256 = \"x\"\n");
        assert!(set_top_level_string("[t]\nsha256 = \"a\"\n", "sha256", "b").is_none());
        assert!(set_top_level_string("sha256_x = \"a\"\n", "sha256", "b").is_none());
    }

    #[test]
    fn digest_mismatch_is_refused_and_cache_follows_changes() {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("bin");
        std::fs::write(&bin, b"one").unwrap();
        let good = sha256_file(&bin).unwrap();
        let interp = manifest_for(&bin, &good);
        assert_eq!(interp.verify(Some(dir.path())).unwrap(), good);
        // Cached now; change the content: the cache key changes, so the new digest is computed.
        std::thread::sleep(std::time::Duration::from_millis(10));
        std::fs::write(&bin, b"two").unwrap();
        let err = interp.verify(Some(dir.path())).unwrap_err().to_string();
        assert!(err.contains("re-pin"), "{err}");
    }
}
