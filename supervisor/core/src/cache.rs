//! A cache of work derived from files (digests, compiled seccomp programs), keyed by the
//! identity of the file it was derived from and of the supervisor binary that derived it.
//!
//! A file's identity is (device, inode, size, mtime, ctime): new content changes mtime and
//! ctime (ctime cannot be set from user space), a replaced file changes the inode. The
//! supervisor's own identity is part of the key so that a rebuilt or upgraded jaild never
//! reuses what an older one derived. The cache lives in the supervisor's root-owned state
//! directory; whoever can write there can also change the profiles themselves.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::OnceLock;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileKey {
    dev: u64,
    ino: u64,
    size: u64,
    mtime_ns: i128,
    ctime_ns: i128,
}

impl FileKey {
    pub fn of(path: &Path) -> std::io::Result<FileKey> {
        Ok(FileKey::from_metadata(&std::fs::metadata(path)?))
    }

    pub fn from_metadata(meta: &std::fs::Metadata) -> FileKey {
        FileKey {
            dev: meta.dev(),
            ino: meta.ino(),
            size: meta.size(),
            mtime_ns: i128::from(meta.mtime()) * 1_000_000_000 + i128::from(meta.mtime_nsec()),
            ctime_ns: i128::from(meta.ctime()) * 1_000_000_000 + i128::from(meta.ctime_nsec()),
        }
    }
}

fn own_binary() -> Option<&'static FileKey> {
    static KEY: OnceLock<Option<FileKey>> = OnceLock::new();
    KEY.get_or_init(|| std::env::current_exe().ok().and_then(|p| FileKey::of(&p).ok())).as_ref()
}

#[derive(Serialize, Deserialize)]
struct Entry<T> {
    file: FileKey,
    binary: FileKey,
    value: T,
}

fn entry_path(dir: &Path, kind: &str, source: &Path) -> PathBuf {
    let name = hex::encode(&Sha256::digest(source.as_os_str().as_encoded_bytes())[..12]);
    dir.join(format!("{kind}-{name}.json"))
}

/// The value derived from `source` earlier, if neither `source` nor this binary changed since.
pub fn load<T: DeserializeOwned>(dir: Option<&Path>, kind: &str, source: &Path) -> Option<T> {
    let dir = dir?;
    let binary = own_binary()?;
    let file = FileKey::of(source).ok()?;
    let bytes = std::fs::read(entry_path(dir, kind, source)).ok()?;
    let entry: Entry<T> = serde_json::from_slice(&bytes).ok()?;
    (entry.file == file && &entry.binary == binary).then_some(entry.value)
}

/// Remembers `value` as derived from `source` as it is now. Best effort: a cache that cannot
/// be written only costs time (and says so, see [`written`]).
pub fn store<T: Serialize>(dir: Option<&Path>, kind: &str, source: &Path, value: &T) {
    let (Some(dir), Some(binary)) = (dir, own_binary()) else { return };
    let Ok(file) = FileKey::of(source) else { return };
    let path = entry_path(dir, kind, source);
    let result = serde_json::to_vec(&Entry { file, binary: binary.clone(), value })
        .map_err(std::io::Error::other)
        .and_then(|bytes| write_atomically(&path, &bytes));
    written(&path, result);
}

/// Writes `bytes` to `path` (creating its directory) through a temporary file next to it and a
/// rename, so that a reader finds the old entry or the new one, never part of one. A temporary
/// file that could not be completed (a full disk) is removed, not left to fill the disk further.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    static N: AtomicU64 = AtomicU64::new(0);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    // Unique per write: two threads of one process may write the same entry at once.
    let tmp = path.with_extension(format!("tmp.{}.{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed)));
    let result = std::fs::write(&tmp, bytes).and_then(|()| std::fs::rename(&tmp, path));
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Logs how a cache write went. A cache only saves time, but a state directory that takes no
/// writes (full, read-only) is the operator's to fix: the first failure after a success is a
/// warning naming the file and the error, the failures after it are debug (every run would
/// repeat it), and the first success after them says the cache is written again.
pub(crate) fn written(path: &Path, result: std::io::Result<()>) {
    static FAILING: AtomicBool = AtomicBool::new(false);
    match result {
        Ok(()) => {
            if FAILING.swap(false, Ordering::Relaxed) {
                tracing::info!(path = %path.display(), "cache written again");
            }
        }
        Err(e) => {
            if FAILING.swap(true, Ordering::Relaxed) {
                tracing::debug!(path = %path.display(), error = %e, "cache not written");
            } else {
                tracing::warn!(
                    path = %path.display(),
                    error = %e,
                    "cache not written: what it holds is derived again on every use until it can be"
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn follows_changes_of_the_source() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("src");
        std::fs::write(&src, "one").unwrap();
        store(Some(dir.path()), "t", &src, &1u32);
        assert_eq!(load::<u32>(Some(dir.path()), "t", &src), Some(1));
        std::thread::sleep(std::time::Duration::from_millis(10));
        std::fs::write(&src, "two").unwrap();
        assert_eq!(load::<u32>(Some(dir.path()), "t", &src), None);
        assert_eq!(load::<u32>(None, "t", &src), None);
    }

    #[test]
    fn a_write_that_fails_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        // The target is a directory: the temporary file is written, the rename fails.
        let target = dir.path().join("entry.json");
        std::fs::create_dir(&target).unwrap();
        std::fs::write(target.join("x"), "").unwrap();
        assert!(write_atomically(&target, b"{}").is_err());
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names, ["entry.json"]);
        write_atomically(&dir.path().join("ok.json"), b"{}").unwrap();
        assert_eq!(std::fs::read(dir.path().join("ok.json")).unwrap(), b"{}");
    }
}
