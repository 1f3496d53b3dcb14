//! Start-up checks: what every run will need, checked once before the daemon serves. The
//! supervisor itself ([`Supervisor::new`]) already refused a host without root, usable cgroups
//! (v2 with a delegated subtree, or the v1/hybrid layout) or jail-init, and removed stale run
//! cgroups; here: user namespaces, every profile loads, every interpreter matches its pinned
//! digest, and the kernel's Landlock ABI covers every profile's minimum.
#![forbid(unsafe_code)]

use crate::supervisor::Supervisor;
use crate::{interpreter, plan, profile};
use std::path::Path;

#[derive(Debug, Default)]
pub struct HostReport {
    /// Each one names what is missing; any means the daemon does not start.
    pub problems: Vec<String>,
    pub profiles: Vec<String>,
    pub interpreters: Vec<String>,
}

pub fn host(sup: &Supervisor) -> HostReport {
    let mut r = HostReport::default();
    user_namespaces(Path::new("/proc"), &mut r.problems);

    let dir = &sup.config.interpreters_dir;
    let mut verified = Vec::new();
    for name in interpreter::list(dir) {
        let checked = match interpreter::load(dir, &name) {
            Ok(i) => i.verify(sup.config.state_dir.as_deref()).map(|_| i),
            Err(e) => Err(e),
        };
        match checked {
            Ok(i) => {
                r.interpreters.push(format!("{} {}", i.manifest.name, i.manifest.version));
                verified.push(i);
            }
            Err(e) => r.problems.push(format!("interpreter {name}: {e}")),
        }
    }

    let dir = &sup.config.profiles_dir;
    let names = profile::list(dir);
    if names.is_empty() {
        r.problems.push(format!("no profiles in {} (profiles_dir)", dir.display()));
    }
    for name in names {
        let p = match profile::load(dir, &name) {
            Ok(p) => p,
            Err(e) => {
                r.problems.push(format!("profile {name}: {e}"));
                continue;
            }
        };
        if let Err(e) = plan::landlock_coverage(&p, sup.landlock_abi()) {
            r.problems.push(e);
        }
        let wanted = profile::interpreter_name(&p);
        match verified.iter().find(|i| i.manifest.name == wanted) {
            Some(i) if !i.manifest.languages.contains(&p.file.language) => r.problems.push(format!(
                "profile {name}: interpreter {} does not run {}",
                wanted,
                p.file.language.as_str()
            )),
            Some(_) => {}
            None if !interpreter::list(&sup.config.interpreters_dir).contains(&wanted) => r.problems.push(format!(
                "profile {name}: interpreter {wanted} has no manifest in {}",
                sup.config.interpreters_dir.display()
            )),
            None => {} // its failure is reported above
        }
        r.profiles.push(name);
    }
    r
}

/// User namespaces must be available to root: the `user` namespace file exists and
/// user.max_user_namespaces is not 0.
fn user_namespaces(proc: &Path, problems: &mut Vec<String>) {
    if !proc.join("self/ns/user").exists() {
        problems.push("user namespaces: the kernel has none (CONFIG_USER_NS)".into());
        return;
    }
    if let Ok(max) = std::fs::read_to_string(proc.join("sys/user/max_user_namespaces")) {
        if max.trim() == "0" {
            problems.push("user namespaces are disabled (sysctl user.max_user_namespaces = 0)".into());
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn user_namespaces_disabled_is_named() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("self/ns")).unwrap();
        std::fs::write(dir.path().join("self/ns/user"), "").unwrap();
        std::fs::create_dir_all(dir.path().join("sys/user")).unwrap();
        std::fs::write(dir.path().join("sys/user/max_user_namespaces"), "0\n").unwrap();
        let mut problems = Vec::new();
        user_namespaces(dir.path(), &mut problems);
        assert_eq!(problems.len(), 1);
        assert!(problems[0].contains("max_user_namespaces = 0"));
        std::fs::write(dir.path().join("sys/user/max_user_namespaces"), "1000\n").unwrap();
        problems.clear();
        user_namespaces(dir.path(), &mut problems);
        assert!(problems.is_empty());
        std::fs::remove_file(dir.path().join("self/ns/user")).unwrap();
        user_namespaces(dir.path(), &mut problems);
        assert!(problems[0].contains("CONFIG_USER_NS"));
    }
}
