//! What a profile's jails need before any request: the pinned interpreter (its digest checked),
//! the Landlock coverage on this kernel, and the fully resolved plan jail-init carries out. Nothing
//! here depends on a request, so it can be made ahead and used for many jails.

use crate::interpreter::Interpreter;
use crate::plan;
use crate::profile::Profile;
use crate::report::{CoveredRight, Enforcement, InterpreterInfo, ProfileInfo};
use crate::supervisor::Supervisor;
use jail_init::plan::{access, Plan};

/// A profile, ready for jails.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub profile: Profile,
    pub interpreter: Interpreter,
    pub interpreter_sha256: String,
    /// Landlock rights this kernel lacks and what covers each (plan::landlock_coverage).
    pub landlock_covered: Vec<CoveredRight>,
    /// The plan, for the profile's own limits: the rlimits in it are the profile's (RLIMIT_CPU
    /// is a backstop; the supervisor holds each run to its own CPU time).
    pub plan: Plan,
}

/// Why a profile cannot have jails on this host (the operator's problem, not the caller's).
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct PrepareError(pub String);

impl Supervisor {
    /// Resolves `profile` into what its jails need on this host.
    pub fn prepare(&self, profile: &Profile) -> Result<Prepared, PrepareError> {
        let landlock_covered = plan::landlock_coverage(profile, self.landlock_abi)
            .map_err(|message| PrepareError(format!("landlock: {message}")))?;
        let interpreter =
            profile.interpreter(&self.config.interpreters_dir).map_err(|e| PrepareError(e.to_string()))?;
        if !interpreter.manifest.languages.contains(&profile.file.language) {
            return Err(PrepareError(format!(
                "interpreter {} does not run {}",
                interpreter.manifest.name,
                profile.file.language.as_str()
            )));
        }
        let interpreter_sha256 =
            interpreter.verify(self.config.state_dir.as_deref()).map_err(|e| PrepareError(e.to_string()))?;
        let plan = plan::build(profile, &interpreter.manifest, &profile.file.limits, self.landlock_abi);
        Ok(Prepared { profile: profile.clone(), interpreter, interpreter_sha256, landlock_covered, plan })
    }
}

impl Prepared {
    pub fn profile_info(&self) -> ProfileInfo {
        ProfileInfo {
            name: self.profile.name().to_string(),
            sha256: self.profile.sha256.clone(),
            seccomp_sha256: self.profile.seccomp.sha256.clone(),
        }
    }

    pub fn interpreter_info(&self) -> InterpreterInfo {
        InterpreterInfo {
            name: self.interpreter.manifest.name.clone(),
            version: self.interpreter.manifest.version.clone(),
            sha256: self.interpreter_sha256.clone(),
        }
    }

    /// What enforces a jail of this profile, as the report says it (the hugetlb line comes from
    /// the run's cgroup, see `spawn`).
    pub fn enforcement(&self, cgroup: crate::cgroup::CgroupVersion, landlock_abi: u32) -> Enforcement {
        let plan = &self.plan;
        Enforcement {
            cgroup: Some(match cgroup {
                crate::cgroup::CgroupVersion::V1 => "v1".into(),
                crate::cgroup::CgroupVersion::V2 => "v2".into(),
            }),
            landlock_abi: Some(landlock_abi),
            landlock_rights: access::fs_names(plan.landlock.handled_fs).into_iter().map(String::from).collect(),
            landlock_scopes: [
                (access::SCOPE_ABSTRACT_UNIX_SOCKET, "abstract_unix_socket"),
                (access::SCOPE_SIGNAL, "signal"),
            ]
            .iter()
            .filter(|(bit, _)| plan.landlock.scoped & bit != 0)
            .map(|(_, n)| n.to_string())
            .collect(),
            landlock_net: [(access::NET_BIND_TCP, "bind_tcp"), (access::NET_CONNECT_TCP, "connect_tcp")]
                .iter()
                .filter(|(bit, _)| plan.landlock.handled_net & bit != 0)
                .map(|(_, n)| n.to_string())
                .collect(),
            landlock_covered: self.landlock_covered.clone(),
            seccomp: Some("allowlist, denials answered by the supervisor (user notification)".into()),
            hugetlb: None,
            namespaces: ["user", "mount", "pid", "network", "ipc", "uts", "cgroup"]
                .iter()
                .map(|s| s.to_string())
                .collect(),
        }
    }
}

/// What keeps huge pages (not charged to the memory limit) away from the run, in the report's
/// words; an error, refusing the run, when nothing does.
pub(super) fn hugetlb_enforcement(
    cgroup_sizes: &[String],
    policy: &crate::seccomp::SeccompPolicy,
) -> Result<String, String> {
    let seccomp = policy.denies_hugetlb();
    let cgroup = (!cgroup_sizes.is_empty())
        .then(|| format!("the run's cgroup allows 0 huge pages ({})", cgroup_sizes.join(", ")));
    let filter = "seccomp denies mmap(MAP_HUGETLB), memfd_create(MFD_HUGETLB) and shmget(SHM_HUGETLB)";
    match (cgroup, seccomp) {
        (Some(c), true) => Ok(format!("{c}; {filter}")),
        (Some(c), false) => Ok(format!("{c}; the seccomp policy lets huge pages be requested")),
        (None, true) => Ok(format!("{filter}; no hugetlb cgroup controller in this host's cgroups")),
        (None, false) => Err(format!(
            "hugetlb: the seccomp policy {} lets a script request huge pages ({}) and this host's cgroups have no hugetlb controller to \
             limit them; huge pages are not charged to the memory limit, so the run is refused",
            policy.path.display(),
            policy.hugetlb_openings().join(", ")
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hugetlb_is_covered_by_a_layer_or_the_run_is_refused() {
        let policy = |mmap_args: &str| {
            let src = format!(
                "schema = 1\ninterpreter = \"t\"\ndescription = \"t\"\n[default]\nerrno = \"EPERM\"\n[[syscall]]\nname = \"mmap\"\naction = \"allow\"\n{mmap_args}comment = \"m\"\n"
            );
            let file = toml::from_str(&src).unwrap();
            crate::seccomp::compile_policy(file, std::path::Path::new("/p/open.toml"), &src, String::new()).unwrap()
        };
        let closed = policy("args = [{ index = 3, op = \"masked_eq\", mask = 0x40000, value = 0 }]\n");
        let open = policy("");
        let sizes = vec!["1GB".to_string(), "2MB".to_string()];
        let both = hugetlb_enforcement(&sizes, &closed).unwrap();
        assert!(
            both.contains("0 huge pages (1GB, 2MB)") && both.contains("seccomp denies mmap(MAP_HUGETLB)"),
            "{both}"
        );
        let seccomp_only = hugetlb_enforcement(&[], &closed).unwrap();
        assert!(
            seccomp_only.starts_with("seccomp denies") && seccomp_only.contains("no hugetlb cgroup controller"),
            "{seccomp_only}"
        );
        let cgroup_only = hugetlb_enforcement(&sizes, &open).unwrap();
        assert!(cgroup_only.contains("lets huge pages be requested"), "{cgroup_only}");
        let refused = hugetlb_enforcement(&[], &open).unwrap_err();
        assert!(
            refused.contains("/p/open.toml") && refused.contains("mmap(MAP_HUGETLB)") && refused.contains("refused"),
            "{refused}"
        );
    }
}
