//! Pinned interpreters: manifests in interpreters/ with exact version and binary sha256. A binary
//! whose digest no longer matches its manifest is refused.

use crate::profile::Language;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::io::Read;
use crate::cache::FileKey;
use std::path::{Path, PathBuf};

pub const SCHEMA: u32 = 1;

#[derive(Debug, thiserror::Error)]
pub enum InterpreterError {
    #[error("unknown interpreter {name:?}: no manifest {path}")]
    Unknown { name: String, path: PathBuf },
    #[error("failed to read interpreter manifest {path}")]
    Read { path: PathBuf, #[source] source: std::io::Error },
    #[error("{path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("interpreter {name}: binary {binary} is not installed ({source}); install it with: {install}")]
    Missing { name: String, binary: PathBuf, install: String, #[source] source: std::io::Error },
    #[error("interpreter {name}: {binary} has sha256 {actual}, but its manifest pins {expected}; \
             the binary changed since it was pinned (a package upgrade?). Review it, then re-pin by \
             setting sha256 = \"{actual}\" in {manifest}, or reinstall the pinned version with interpreters/install.sh")]
    DigestMismatch { name: String, binary: PathBuf, expected: String, actual: String, manifest: PathBuf },
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

pub fn load(dir: &Path, name: &str) -> Result<Interpreter, InterpreterError> {
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_')) || name.starts_with('.') {
        return Err(InterpreterError::Unknown { name: name.to_string(), path: dir.join(name) });
    }
    let path = dir.join(format!("{name}.toml"));
    if !path.is_file() {
        return Err(InterpreterError::Unknown { name: name.to_string(), path });
    }
    let text = std::fs::read_to_string(&path).map_err(|source| InterpreterError::Read { path: path.clone(), source })?;
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
    for p in std::iter::once(&manifest.binary).chain(std::iter::once(&manifest.loader)).chain(manifest.mounts.iter().map(|m| &m.path)) {
        if !p.is_absolute() || p.components().any(|c| matches!(c, std::path::Component::ParentDir)) {
            return Err(bad(format!("{} must be an absolute path without '..'", p.display())));
        }
    }
    Ok(Interpreter { manifest, path })
}

pub fn list(dir: &Path) -> Vec<String> {
    crate::profile::list(dir)
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
        let missing = |source| InterpreterError::Missing { name: m.name.clone(), binary: m.binary.clone(), install: m.install.clone(), source };
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

fn store_cache(path: &Path, cache: &BTreeMap<PathBuf, CacheEntry>) {
    let write = || -> std::io::Result<()> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let tmp = path.with_extension(format!("tmp.{}", std::process::id()));
        std::fs::write(&tmp, serde_json::to_vec(cache).unwrap_or_default())?;
        std::fs::rename(&tmp, path)
    };
    if let Err(e) = write() {
        tracing::debug!(path = %path.display(), error = %e, "digest cache not written");
    }
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
            },
            path: "t.toml".into(),
        }
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
