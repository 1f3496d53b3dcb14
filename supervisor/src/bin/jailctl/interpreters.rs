//! `jailctl interpreters ...`: the pinned interpreters.

use crate::usage;
use jaild::interpreter::{self, InterpreterError};
use jaild::{profile, Config};

#[derive(clap::Subcommand)]
pub enum InterpretersCmd {
    /// The interpreter manifests: name, version, binary, sha256, where it comes from, how it is installed.
    List,
    /// Check every installed interpreter against its manifest: binary sha256, reported version,
    /// the paths bound into jails. Exits 1 on any mismatch or missing binary.
    Verify,
    /// Record the sha256 of the installed binary in NAME's manifest (after a reviewed host
    /// package upgrade), saying what changed.
    Pin {
        /// Interpreter manifest name (interpreters/NAME.toml).
        name: String,
        /// Also accept (and record) a version change; without it a changed version is refused.
        #[arg(long)]
        accept_version: bool,
    },
}

pub fn main(cmd: InterpretersCmd) -> anyhow::Result<i32> {
    let config = Config::discover();
    match cmd {
        InterpretersCmd::List => list(&config),
        InterpretersCmd::Verify => verify(&config),
        InterpretersCmd::Pin { name, accept_version } => pin(&config, &name, accept_version),
    }
}

fn list(config: &Config) -> anyhow::Result<i32> {
    let mut broken = 0;
    for name in interpreter::list(&config.interpreters_dir) {
        match interpreter::load(&config.interpreters_dir, name.as_str()) {
            Ok(i) => {
                let m = &i.manifest;
                let langs: Vec<&str> = m.languages.iter().map(|l| l.as_str()).collect();
                println!("{}@{}  ({})", m.name, m.version, langs.join(", "));
                println!("  binary:  {}", m.binary.display());
                println!("  sha256:  {}", m.sha256);
                println!("  source:  {}", m.source);
                println!("  install: {}", m.install);
                println!("  mounts:  {} read-only paths besides the loader", m.mounts.len());
            }
            Err(e) => {
                broken += 1;
                println!("{name}  DOES NOT LOAD: {e}");
            }
        }
    }
    Ok(if broken > 0 { 1 } else { 0 })
}

fn verify(config: &Config) -> anyhow::Result<i32> {
    let names = interpreter::list(&config.interpreters_dir);
    let mut failed = 0;
    for name in &names {
        let interp = match interpreter::load(&config.interpreters_dir, name.as_str()) {
            Ok(i) => i,
            Err(e) => {
                failed += 1;
                println!("{name}: FAILED\n  - {e}");
                continue;
            }
        };
        let c = interp.check();
        if c.ok() {
            println!(
                "{}: OK  version {}, {} sha256 {}, {} bound paths present",
                c.name,
                c.pinned_version,
                c.binary.display(),
                c.actual_sha256.as_deref().unwrap_or("?"),
                c.paths
            );
        } else {
            failed += 1;
            println!("{}: FAILED ({})", c.name, c.manifest.display());
            for p in &c.problems {
                println!("  - {p}");
            }
        }
    }
    if failed > 0 {
        println!(
            "{failed} of {} interpreters do not match their manifests: jails refuse a binary whose sha256 differs",
            names.len()
        );
        Ok(1)
    } else {
        println!("all {} interpreters match their manifests", names.len());
        Ok(0)
    }
}

fn pin(config: &Config, name: &str, accept_version: bool) -> anyhow::Result<i32> {
    let interp = match interpreter::load(&config.interpreters_dir, name) {
        Ok(i) => i,
        Err(e @ InterpreterError::Unknown { .. }) => return Err(usage(e.to_string())),
        Err(e) => return Err(e.into()),
    };
    let pinned = match interp.pin(accept_version) {
        Ok(p) => p,
        Err(e @ InterpreterError::VersionChanged { .. }) => {
            eprintln!("jailctl: REFUSED: {e}");
            return Ok(1);
        }
        Err(e) => return Err(e.into()),
    };
    let m = &interp.manifest;
    if !pinned.digest_changed && !pinned.version_changed {
        println!(
            "{name}: already pinned: {} has sha256 {} and reports version {}; nothing changed",
            m.binary.display(),
            pinned.new_sha256,
            pinned.reported_version
        );
        return Ok(0);
    }
    println!("!!! {name}: PIN CHANGED in {} !!!", interp.path.display());
    println!("  binary:  {}", m.binary.display());
    if pinned.digest_changed {
        println!("  sha256:  was {}", pinned.old_sha256);
        println!("           now {}   <- CHANGED: jails run this binary from now on", pinned.new_sha256);
    } else {
        println!("  sha256:  {} (unchanged)", pinned.new_sha256);
    }
    if pinned.version_changed {
        println!(
            "  version: was {}, now {}   <- CHANGED (accepted with --accept-version)",
            pinned.manifest_version, pinned.reported_version
        );
        for p in profile::list(&config.profiles_dir) {
            if let Ok(prof) = profile::load(&config.profiles_dir, &p) {
                if prof.file.interpreter.name == name {
                    println!(
                        "  profile {p} asks for {}: it is refused until it says interpreter = \"{name}@{}\"",
                        prof.file.interpreter, pinned.reported_version
                    );
                }
            }
        }
    } else {
        println!("  version: {} (the manifest's and what the binary reports)", pinned.reported_version);
    }
    println!("  the libraries and standard library the manifest mounts are not digested: check them with `jailctl interpreters verify` and the jail's tests");
    Ok(0)
}
