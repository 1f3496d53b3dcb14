//! The kernel as jail-init's filesystem and limit steps see it.
//!
//! A trait, so that the steps (what is mounted where with which flags, in which order; which
//! limits are written; what is refused) can be checked by unit tests without root, against a
//! recording implementation, the way youki's `syscall` module lets libcontainer's steps be
//! tested. [`Linux`] is the real one. The steps that change the process itself (capabilities,
//! ids, no_new_privs, Landlock, seccomp, the fork) call the kernel directly: only a real kernel
//! can say whether they held, and the jail tests run them there.

use nix::errno::Errno;
use nix::mount::{MntFlags, MsFlags};
use nix::sys::resource::Resource;
use nix::sys::statvfs::FsFlags;
use std::io;
use std::path::Path;

pub trait Syscall {
    fn sethostname(&self, name: &str) -> Result<(), Errno>;
    fn mount(
        &self,
        source: Option<&Path>,
        target: &Path,
        fstype: Option<&str>,
        flags: MsFlags,
        data: Option<&str>,
    ) -> Result<(), Errno>;
    fn umount(&self, target: &Path, flags: MntFlags) -> Result<(), Errno>;
    /// The flags the mount at `path` already has (statvfs).
    fn mount_flags(&self, path: &Path) -> Result<FsFlags, Errno>;
    fn pivot_root(&self, new_root: &Path, put_old: &Path) -> Result<(), Errno>;
    fn chdir(&self, path: &Path) -> Result<(), Errno>;
    fn getrlimit(&self, resource: Resource) -> Result<(u64, u64), Errno>;
    fn setrlimit(&self, resource: Resource, soft: u64, hard: u64) -> Result<(), Errno>;
    fn is_dir(&self, path: &Path) -> io::Result<bool>;
    fn create_dir_all(&self, path: &Path) -> io::Result<()>;
    /// Creates `path` as an empty file if it is not there (a bind target).
    fn touch(&self, path: &Path) -> io::Result<()>;
    fn write_file(&self, path: &Path, contents: &[u8]) -> io::Result<()>;
    fn set_mode(&self, path: &Path, mode: u32) -> io::Result<()>;
    fn symlink(&self, target: &Path, link: &Path) -> io::Result<()>;
}

/// The running kernel.
pub struct Linux;

impl Syscall for Linux {
    fn sethostname(&self, name: &str) -> Result<(), Errno> {
        nix::unistd::sethostname(name)
    }

    fn mount(
        &self,
        source: Option<&Path>,
        target: &Path,
        fstype: Option<&str>,
        flags: MsFlags,
        data: Option<&str>,
    ) -> Result<(), Errno> {
        nix::mount::mount(source, target, fstype, flags, data)
    }

    fn umount(&self, target: &Path, flags: MntFlags) -> Result<(), Errno> {
        nix::mount::umount2(target, flags)
    }

    fn mount_flags(&self, path: &Path) -> Result<FsFlags, Errno> {
        nix::sys::statvfs::statvfs(path).map(|s| s.flags())
    }

    fn pivot_root(&self, new_root: &Path, put_old: &Path) -> Result<(), Errno> {
        nix::unistd::pivot_root(new_root, put_old)
    }

    fn chdir(&self, path: &Path) -> Result<(), Errno> {
        nix::unistd::chdir(path)
    }

    fn getrlimit(&self, resource: Resource) -> Result<(u64, u64), Errno> {
        nix::sys::resource::getrlimit(resource)
    }

    fn setrlimit(&self, resource: Resource, soft: u64, hard: u64) -> Result<(), Errno> {
        nix::sys::resource::setrlimit(resource, soft, hard)
    }

    fn is_dir(&self, path: &Path) -> io::Result<bool> {
        std::fs::metadata(path).map(|m| m.is_dir())
    }

    fn create_dir_all(&self, path: &Path) -> io::Result<()> {
        std::fs::create_dir_all(path)
    }

    fn touch(&self, path: &Path) -> io::Result<()> {
        std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(path).map(drop)
    }

    fn write_file(&self, path: &Path, contents: &[u8]) -> io::Result<()> {
        std::fs::write(path, contents)
    }

    fn set_mode(&self, path: &Path, mode: u32) -> io::Result<()> {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
    }

    fn symlink(&self, target: &Path, link: &Path) -> io::Result<()> {
        std::os::unix::fs::symlink(target, link)
    }
}

/// A kernel that records what it is asked and answers from a script of its own: for the steps'
/// unit tests.
#[cfg(test)]
pub mod test {
    use super::*;
    use std::cell::RefCell;
    use std::collections::BTreeMap;
    use std::path::PathBuf;

    #[derive(Debug, Clone, PartialEq, Eq)]
    pub enum Call {
        Sethostname(String),
        Mount { source: Option<PathBuf>, target: PathBuf, fstype: Option<String>, flags: MsFlags, data: Option<String> },
        Umount(PathBuf, MntFlags),
        PivotRoot(PathBuf, PathBuf),
        Chdir(PathBuf),
        Setrlimit(Resource, u64, u64),
        Mkdir(PathBuf),
        Touch(PathBuf),
        Write(PathBuf, Vec<u8>),
        Mode(PathBuf, u32),
        Symlink(PathBuf, PathBuf),
    }

    #[derive(Default)]
    pub struct Recorder {
        pub calls: RefCell<Vec<Call>>,
        /// Paths that are directories (everything else is a file).
        pub dirs: Vec<PathBuf>,
        /// Flags statvfs reports for a path (default: none).
        pub flags: BTreeMap<PathBuf, FsFlags>,
        /// Hard limits inherited, per resource (default: unlimited).
        pub hard: BTreeMap<u32, u64>,
        /// A write that fails: (path, errno).
        pub failing_write: Option<(PathBuf, i32)>,
    }

    impl Recorder {
        fn push(&self, c: Call) {
            self.calls.borrow_mut().push(c);
        }

        pub fn mounts(&self) -> Vec<(Option<PathBuf>, PathBuf, MsFlags, Option<String>)> {
            self.calls
                .borrow()
                .iter()
                .filter_map(|c| match c {
                    Call::Mount { source, target, flags, data, .. } => {
                        Some((source.clone(), target.clone(), *flags, data.clone()))
                    }
                    _ => None,
                })
                .collect()
        }
    }

    impl Syscall for Recorder {
        fn sethostname(&self, name: &str) -> Result<(), Errno> {
            self.push(Call::Sethostname(name.into()));
            Ok(())
        }

        fn mount(
            &self,
            source: Option<&Path>,
            target: &Path,
            fstype: Option<&str>,
            flags: MsFlags,
            data: Option<&str>,
        ) -> Result<(), Errno> {
            self.push(Call::Mount {
                source: source.map(Path::to_path_buf),
                target: target.to_path_buf(),
                fstype: fstype.map(String::from),
                flags,
                data: data.map(String::from),
            });
            Ok(())
        }

        fn umount(&self, target: &Path, flags: MntFlags) -> Result<(), Errno> {
            self.push(Call::Umount(target.to_path_buf(), flags));
            Ok(())
        }

        fn mount_flags(&self, path: &Path) -> Result<FsFlags, Errno> {
            Ok(self.flags.get(path).copied().unwrap_or(FsFlags::empty()))
        }

        fn pivot_root(&self, new_root: &Path, put_old: &Path) -> Result<(), Errno> {
            self.push(Call::PivotRoot(new_root.to_path_buf(), put_old.to_path_buf()));
            Ok(())
        }

        fn chdir(&self, path: &Path) -> Result<(), Errno> {
            self.push(Call::Chdir(path.to_path_buf()));
            Ok(())
        }

        fn getrlimit(&self, resource: Resource) -> Result<(u64, u64), Errno> {
            let hard = self.hard.get(&(resource as u32)).copied().unwrap_or(u64::MAX);
            Ok((hard, hard))
        }

        fn setrlimit(&self, resource: Resource, soft: u64, hard: u64) -> Result<(), Errno> {
            self.push(Call::Setrlimit(resource, soft, hard));
            Ok(())
        }

        fn is_dir(&self, path: &Path) -> io::Result<bool> {
            Ok(self.dirs.iter().any(|d| d == path))
        }

        fn create_dir_all(&self, path: &Path) -> io::Result<()> {
            self.push(Call::Mkdir(path.to_path_buf()));
            Ok(())
        }

        fn touch(&self, path: &Path) -> io::Result<()> {
            self.push(Call::Touch(path.to_path_buf()));
            Ok(())
        }

        fn write_file(&self, path: &Path, contents: &[u8]) -> io::Result<()> {
            if let Some((p, errno)) = &self.failing_write {
                if p == path {
                    return Err(io::Error::from_raw_os_error(*errno));
                }
            }
            self.push(Call::Write(path.to_path_buf(), contents.to_vec()));
            Ok(())
        }

        fn set_mode(&self, path: &Path, mode: u32) -> io::Result<()> {
            self.push(Call::Mode(path.to_path_buf(), mode));
            Ok(())
        }

        fn symlink(&self, target: &Path, link: &Path) -> io::Result<()> {
            self.push(Call::Symlink(target.to_path_buf(), link.to_path_buf()));
            Ok(())
        }
    }
}
