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
/// be written only costs time.
pub fn store<T: Serialize>(dir: Option<&Path>, kind: &str, source: &Path, value: &T) {
    let (Some(dir), Some(binary)) = (dir, own_binary()) else { return };
    let Ok(file) = FileKey::of(source) else { return };
    let write = || -> std::io::Result<()> {
        std::fs::create_dir_all(dir)?;
        let path = entry_path(dir, kind, source);
        let tmp = path.with_extension(format!("tmp.{}", std::process::id()));
        let bytes = serde_json::to_vec(&Entry { file, binary: binary.clone(), value }).map_err(std::io::Error::other)?;
        std::fs::write(&tmp, bytes)?;
        std::fs::rename(&tmp, &path)
    };
    if let Err(e) = write() {
        tracing::debug!(dir = %dir.display(), error = %e, "cache not written");
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
}
