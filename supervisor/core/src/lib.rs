//! The jail, as a library of its own: profile → plan → spawn (cgroup, namespaces, jail-init) →
//! report (DESIGN.md, "Layers": the bottom layer). [`Supervisor::run`] takes a [`RunRequest`]
//! through the life of a run: validate, resolve the profile and the pinned interpreter, create
//! the run's cgroup, spawn jail-init into fresh namespaces, stream output with caps, enforce
//! time, answer denied syscalls, read usage back and return a [`report::Report`], whatever
//! happened.
//!
//! The service and the interfaces above it (the daemon with its HTTP API, store and metrics; the
//! audit tooling; jailctl) are the `jaild` crate: nothing here depends on an HTTP stack, SQLite
//! or a command-line parser.
#![deny(unsafe_code)]

pub mod bpf;
pub mod cache;
pub mod cgroup;
pub mod egress;
pub mod error_chain;
pub mod hostids;
pub mod interpreter;
pub mod plan;
pub mod profile;
pub mod report;
pub mod run;
pub mod seccomp;
pub mod supervisor;
pub mod toml_file;
// The one module that may hold unsafe code (see its header).
#[allow(unsafe_code)]
mod sys;

pub use error_chain::error_chain;
pub use run::{LimitOverrides, RunHooks, RunRequest, Stream};
pub use supervisor::{Config, SetupError, Supervisor, DEFAULT_HOST_ID_BASE};
