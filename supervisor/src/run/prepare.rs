//! What a profile's jails need before any request: the pinned interpreter (its digest checked),
//! the Landlock coverage on this kernel, and the fully resolved plan jail-init carries out. Nothing
//! here depends on a request, so it can be made ahead and used for many jails.

use crate::interpreter::Interpreter;
use crate::plan;
use crate::profile::Profile;
use crate::report::{CoveredRight, Enforcement, InterpreterInfo, ProfileInfo};
use crate::Supervisor;
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
        let landlock_covered =
            plan::landlock_coverage(profile, self.landlock_abi).map_err(|message| PrepareError(format!("landlock: {message}")))?;
        let interpreter = profile.interpreter(&self.config.interpreters_dir).map_err(|e| PrepareError(e.to_string()))?;
        if !interpreter.manifest.languages.contains(&profile.file.language) {
            return Err(PrepareError(format!(
                "interpreter {} does not run {}",
                interpreter.manifest.name,
                profile.file.language.as_str()
            )));
        }
        let interpreter_sha256 = interpreter.verify(self.config.state_dir.as_deref()).map_err(|e| PrepareError(e.to_string()))?;
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
            landlock_scopes: [(access::SCOPE_ABSTRACT_UNIX_SOCKET, "abstract_unix_socket"), (access::SCOPE_SIGNAL, "signal")]
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
            namespaces: ["user", "mount", "pid", "network", "ipc", "uts", "cgroup"].iter().map(|s| s.to_string()).collect(),
        }
    }
}
