//! jaild: a process jail supervisor for untrusted Python and JavaScript/TypeScript scripts.
//!
//! [`Supervisor::run`] takes a [`RunRequest`] through the life of a run: validate, resolve the
//! profile and the pinned interpreter, create the run's cgroup, spawn jail-init into fresh
//! namespaces, stream output with caps, enforce time, answer denied syscalls, read usage back
//! and return a [`report::Report`], whatever happened.
#![deny(unsafe_code)]

pub mod audit;
pub mod bpf;
pub mod cache;
pub mod cgroup;
pub mod daemon;
pub mod error_chain;
pub mod hostids;
pub mod interpreter;
pub mod oci_seccomp;
pub mod plan;
pub mod profile;
pub mod report;
pub mod run;
pub mod seccomp;
pub mod supervisor;
pub mod toml_file;
pub mod verify;
// The one module that may hold unsafe code (see its header).
#[allow(unsafe_code)]
mod sys;

pub use error_chain::error_chain;
pub use run::{LimitOverrides, RunHooks, RunRequest, Stream};
pub use supervisor::{Config, SetupError, Supervisor, DEFAULT_HOST_ID_BASE};
