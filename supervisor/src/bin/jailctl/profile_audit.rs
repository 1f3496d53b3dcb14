//! `jailctl profile explain | diff | lint | verify`: auditing a profile (see jaild::audit and
//! jaild::verify). Every command takes a profile name (profiles/NAME.toml) or a path to a
//! profile file.

use jaild::audit::{self, lint, Severity};
use jaild::Config;

#[derive(clap::Args)]
pub struct ExplainArgs {
    /// Profile name or path to a profile file.
    pub profile: String,
}

#[derive(clap::Args)]
#[command(
    after_help = "Exit status: 0 when both grant the same, 1 when they differ, 2 when a profile cannot be loaded (like diff(1))."
)]
pub struct DiffArgs {
    /// The old profile: a name or a path (e.g. the last release's file).
    pub old: String,
    /// The new profile: a name or a path.
    pub new: String,
    /// Print the changes as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(clap::Args)]
#[command(
    after_help = "Exit status: 0 when no finding reaches --fail-on (default high), 1 when one does, 2 when a profile cannot be loaded."
)]
pub struct LintArgs {
    /// Profile names or paths; all profiles in the profiles directory when none is given.
    pub profiles: Vec<String>,
    /// The lowest severity that makes lint fail: high, medium, low or info.
    #[arg(long, default_value = "high", value_parser = parse_severity)]
    pub fail_on: Severity,
    /// Print the findings as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(clap::Args)]
#[command(
    after_help = "Exit status: 0 when every claim holds, 1 when one fails or the profile grants more than the jaild baseline, 2 when a profile cannot be loaded, 10 when jails cannot run here (verify needs root)."
)]
pub struct VerifyArgs {
    /// Profile names or paths; all profiles in the profiles directory when none is given.
    pub profiles: Vec<String>,
    /// Print only the claims that did not pass, and the summary.
    #[arg(long)]
    pub failures_only: bool,
    /// Print the checks as JSON.
    #[arg(long)]
    pub json: bool,
}

fn parse_severity(s: &str) -> Result<Severity, String> {
    Severity::parse(s).ok_or_else(|| format!("{s:?} is not a severity (high, medium, low, info)"))
}

fn load(config: &Config, spec: &str) -> anyhow::Result<audit::Subject> {
    audit::load(config, spec).map_err(|e| {
        // An I/O failure says why (no such file, a directory, permissions).
        let why = match &e {
            audit::AuditError::Read { source, .. } | audit::AuditError::Stage { source, .. } => format!(": {source}"),
            _ => String::new(),
        };
        crate::usage(format!("profile {spec}: {e}{why}"))
    })
}

fn all_or(config: &Config, given: Vec<String>) -> Vec<String> {
    if given.is_empty() {
        jaild::profile::list(&config.profiles_dir)
    } else {
        given
    }
}

pub fn explain(args: ExplainArgs) -> anyhow::Result<i32> {
    let s = load(&Config::discover(), &args.profile)?;
    print!("{}", audit::explain::explain(&s));
    Ok(0)
}

pub fn diff(args: DiffArgs) -> anyhow::Result<i32> {
    let config = Config::discover();
    let a = load(&config, &args.old)?;
    let b = load(&config, &args.new)?;
    let changes = audit::diff::diff(&a, &b);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&changes)?);
    } else {
        print!("{}", audit::diff::render(&a, &b, &changes));
    }
    Ok(if changes.is_empty() { 0 } else { 1 })
}

pub fn lint(args: LintArgs) -> anyhow::Result<i32> {
    let config = Config::discover();
    let mut failed = false;
    let mut all = Vec::new();
    for spec in all_or(&config, args.profiles) {
        let s = load(&config, &spec)?;
        let findings = lint::lint(&s);
        failed |= findings.iter().any(|f| f.severity >= args.fail_on);
        if args.json {
            all.push(serde_json::json!({ "profile": s.name(), "file": s.source_path, "findings": findings }));
        } else {
            print!("{}", lint::render(&s, &findings));
        }
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&all)?);
    }
    Ok(i32::from(failed))
}

pub fn verify(args: VerifyArgs) -> anyhow::Result<i32> {
    let config = Config::discover();
    let mut failed = false;
    let mut all = Vec::new();
    for spec in all_or(&config, args.profiles) {
        // A profile that does not load is the caller's mistake (2); a jail that cannot run is not.
        audit::load(&config, &spec).map_err(|e| crate::usage(format!("profile {spec}: {e}")))?;
        let v = jaild::verify::verify(&config, &spec)?;
        failed |= !v.passed();
        if args.json {
            all.push(serde_json::to_value(&v)?);
        } else {
            print!("{}", jaild::verify::render(&v, args.failures_only));
        }
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&all)?);
    }
    Ok(i32::from(failed))
}
