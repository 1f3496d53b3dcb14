//! `jailctl profile ...`: what a profile allows, in words a reviewer can check.
//!
//! One variant and one match arm per subcommand; each subcommand is a function of its own.

#[path = "profile_audit.rs"]
mod audit_cmds;

use crate::usage;
use jaild::profile::{self, Profile, ProfileError};
use jaild::{oci_seccomp, Config};
use std::path::{Path, PathBuf};

#[derive(clap::Subcommand)]
pub enum ProfileCmd {
    /// The profiles in the profiles directory, each with its purpose.
    List,
    /// The resolved profile (after `extends`) as TOML, with its seccomp policy and interpreter.
    Show {
        /// Profile name (profiles/NAME.toml).
        name: String,
    },
    /// Convert an OCI / Docker seccomp profile (JSON) into this project's policy format.
    ImportSeccomp(ImportSeccompArgs),
    /// Everything a profile allows, and what it cannot do, in plain words.
    Explain(audit_cmds::ExplainArgs),
    /// Every grant added or removed and every limit changed between two profiles.
    Diff(audit_cmds::DiffArgs),
    /// Dangerous grants, with severity, file and line; fails on high findings.
    Lint(audit_cmds::LintArgs),
    /// Proves each claim of a profile in real jails: declared versus observed.
    Verify(audit_cmds::VerifyArgs),
}

#[derive(clap::Args)]
pub struct ImportSeccompArgs {
    /// OCI / Docker seccomp profile (JSON), e.g. Docker's default profile.
    file: PathBuf,
    /// The interpreter manifest the policy is for (interpreters/NAME.toml): a profile may only
    /// use the policy with that interpreter.
    #[arg(long)]
    interpreter: String,
    /// Write the policy to this file instead of standard output.
    #[arg(short, long)]
    output: Option<PathBuf>,
}

pub fn main(cmd: ProfileCmd) -> anyhow::Result<i32> {
    let config = Config::discover();
    match cmd {
        ProfileCmd::List => list(&config),
        ProfileCmd::Show { name } => show(&config, &name),
        ProfileCmd::ImportSeccomp(args) => import_seccomp(&config, args),
        ProfileCmd::Explain(args) => audit_cmds::explain(args),
        ProfileCmd::Diff(args) => audit_cmds::diff(args),
        ProfileCmd::Lint(args) => audit_cmds::lint(args),
        ProfileCmd::Verify(args) => audit_cmds::verify(args),
    }
}

/// A profile by name; an unknown or malformed name is the caller's mistake (exit status 2).
fn load(config: &Config, name: &str) -> anyhow::Result<Result<Profile, ProfileError>> {
    match profile::load(&config.profiles_dir, name) {
        Err(e @ (ProfileError::Unknown { .. } | ProfileError::BadName { .. })) => Err(usage(e.to_string())),
        other => Ok(other),
    }
}

fn list(config: &Config) -> anyhow::Result<i32> {
    let names = profile::list(&config.profiles_dir);
    let width = names.iter().map(String::len).max().unwrap_or(0);
    let mut broken = 0;
    for name in &names {
        match profile::load(&config.profiles_dir, name) {
            Ok(p) => {
                let extends = p
                    .extends
                    .as_deref()
                    .and_then(Path::file_stem)
                    .map(|s| format!(" (extends {})", s.to_string_lossy()))
                    .unwrap_or_default();
                println!("{name:width$}  {}{extends}", p.file.description);
            }
            Err(e) => {
                broken += 1;
                println!("{name:width$}  DOES NOT LOAD: {}", e.to_string().lines().next().unwrap_or_default());
            }
        }
    }
    Ok(if broken > 0 { 1 } else { 0 })
}

fn show(config: &Config, name: &str) -> anyhow::Result<i32> {
    let p = match load(config, name)? {
        Ok(p) => p,
        Err(e) => {
            eprintln!("jailctl: {e}");
            return Ok(1);
        }
    };
    let toml = p.resolved_toml();
    println!("# Profile {}, resolved from {}", p.name(), p.path.display());
    if let Some(parent) = &p.extends {
        println!("#   extends {} (its tables merged key by key under this file's, arrays replaced)", parent.display());
    }
    println!(
        "# This is what jails run with. sha256 of the TOML below (no comment lines), the report's profile.sha256:"
    );
    println!("#   {}", p.sha256);
    println!("# seccomp.policy resolves to {}", p.seccomp.path.display());
    println!(
        "#   sha256 {} (the report's profile.seccomp_sha256), {} syscall entries, default errno {}",
        p.seccomp.sha256,
        p.seccomp.file.syscall.len(),
        p.seccomp.file.default.errno
    );
    let code = match p.interpreter(&config.interpreters_dir) {
        Ok(i) => {
            println!(
                "# interpreter {} is {} (binary {}, pinned sha256 {})",
                p.file.interpreter,
                i.path.display(),
                i.manifest.binary.display(),
                i.manifest.sha256
            );
            0
        }
        Err(e) => {
            println!("# interpreter {}: NOT USABLE: {}", p.file.interpreter, e.to_string().replace('\n', " "));
            eprintln!("jailctl: {e}");
            1
        }
    };
    for d in &p.file.filesystem.data {
        println!("# data directory {} is mounted read-only at {}", d.path.display(), d.jail_path().display());
    }
    print!("{toml}");
    Ok(code)
}

fn import_seccomp(config: &Config, args: ImportSeccompArgs) -> anyhow::Result<i32> {
    if let Err(e) = jaild::interpreter::load(&config.interpreters_dir, args.interpreter.as_str()) {
        return Err(usage(format!("--interpreter {}: {e}", args.interpreter)));
    }
    let import = match oci_seccomp::import_file(&args.file, &args.interpreter) {
        Ok(i) => i,
        Err(e @ oci_seccomp::ImportError::Read { .. }) => return Err(usage(e.to_string())),
        Err(e) => {
            eprintln!("jailctl: {e}");
            return Ok(1);
        }
    };
    match &args.output {
        Some(out) => {
            std::fs::write(out, &import.toml).map_err(|e| anyhow::anyhow!("writing {}: {e}", out.display()))?;
        }
        None => print!("{}", import.toml),
    }
    for w in &import.warnings {
        eprintln!("jailctl: WARNING: {w}");
    }
    eprintln!(
        "jailctl: imported {} syscall entries from {}{}; {} rules or names not imported (listed at the top of the policy)",
        import.policy.syscall.len(),
        args.file.display(),
        args.output.as_ref().map(|o| format!(" into {}", o.display())).unwrap_or_default(),
        import.notes.len()
    );
    Ok(0)
}
