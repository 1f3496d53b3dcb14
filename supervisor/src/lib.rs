//! jaild: a process jail supervisor for untrusted Python and JavaScript/TypeScript scripts.
//!
//! The jail itself is the `jaild-core` crate (re-exported here module by module, so that
//! `jaild::profile` and `jaild::Supervisor` name what they always named). This crate holds what
//! stands on it: the daemon (its HTTP API over a Unix socket, queue, store, metrics), the
//! audit tooling (`jailctl profile explain | diff | lint | verify`, the OCI seccomp import) and
//! the binaries.
#![deny(unsafe_code)]

pub use jaild_core::{
    bpf, cache, cgroup, egress, error_chain, hostids, interpreter, plan, profile, report, run, seccomp, supervisor,
    toml_file,
};
pub use jaild_core::{
    Config, LimitOverrides, RunHooks, RunRequest, SetupError, Stream, Supervisor, DEFAULT_HOST_ID_BASE,
};

pub mod audit;
pub mod daemon;
pub mod oci_seccomp;
pub mod verify;
