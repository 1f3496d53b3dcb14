//! The profile format (issue 3): `extends` one level deep, `interpreter = "name@version"`,
//! read-only data directories at /data/NAME (proved in real jails), the hash of the resolved
//! profile, the committed JSON Schemas, `jailctl profile list|show|import-seccomp` and
//! `jailctl interpreters list|verify|pin`.
// Test code: a failed unwrap is a failed test, with its location.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::*;

use jaild::profile::{self, ProfileError, ProfileFile};
use jaild::report::Status;
use jaild::seccomp::{self, Action, Op};
use jaild::{bpf, interpreter, oci_seccomp, plan, LimitOverrides, RunRequest, Supervisor};
use serde_json::Value;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::str::FromStr;
use syscalls::Sysno;

/// The datasets directory the shipped python-data profile mounts (interpreters/install.sh
/// creates it).
const DATASETS: &str = "/var/lib/jaild/datasets";

/// A temp dir holding copies of profiles/ and interpreters/.
struct Seeded {
    dir: tempfile::TempDir,
    profiles: PathBuf,
    interpreters: PathBuf,
}

fn seeded() -> Seeded {
    let dir = tempfile::tempdir().unwrap();
    let profiles = dir.path().join("profiles");
    let interpreters = dir.path().join("interpreters");
    copy_dir(&repo().join("profiles"), &profiles);
    copy_dir(&repo().join("interpreters"), &interpreters);
    Seeded { dir, profiles, interpreters }
}

/// Replaces the one occurrence of `from` in `path` by `to`; returns the new text.
fn edit(path: &Path, from: &str, to: &str) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    assert_eq!(text.matches(from).count(), 1, "{from:?} must occur exactly once in {}", path.display());
    let text = text.replacen(from, to, 1);
    std::fs::write(path, &text).unwrap();
    text
}

/// 1-based line of the only line of `text` that contains `needle`.
fn line_of(text: &str, needle: &str) -> usize {
    let hits: Vec<usize> = text.lines().enumerate().filter(|(_, l)| l.contains(needle)).map(|(i, _)| i + 1).collect();
    assert_eq!(hits.len(), 1, "{needle:?} must be on exactly one line, found on {hits:?}");
    hits[0]
}

/// An `Invalid` error with exactly this file, line and field; the message names all three.
fn assert_invalid(e: &ProfileError, path: &Path, line: usize, field: &str) {
    let msg = e.to_string();
    match e {
        ProfileError::Invalid { path: p, line: l, field: f, .. } => {
            assert_eq!(p, path, "{msg}");
            assert_eq!(f, field, "{msg}");
            assert_eq!(*l, line, "wrong line for {field}: {msg}");
        }
        other => panic!("expected ProfileError::Invalid for {field}, got {other:?}: {msg}"),
    }
    assert!(msg.contains(&format!("{}:{line}:", path.display())), "{msg}");
    assert!(msg.contains(field), "{msg}");
}

/// Whether the shipped datasets directory is there; under CI its absence is a failure.
fn datasets_installed() -> bool {
    if Path::new(DATASETS).is_dir() {
        return true;
    }
    assert!(!must_run(), "CI=true and {DATASETS} is missing: interpreters/install.sh creates it");
    eprintln!("SKIPPED: {DATASETS} is missing (run interpreters/install.sh)");
    false
}

// ---------------------------------------------------------------------------------------------
// extends
// ---------------------------------------------------------------------------------------------

#[test]
fn python_data_is_python_plus_one_read_only_data_dir() {
    if !datasets_installed() {
        return;
    }
    let dir = repo().join("profiles");
    let python = profile::load(&dir, "python").unwrap();
    let data = profile::load(&dir, "python-data").unwrap();
    assert_eq!(data.extends.as_deref(), Some(dir.join("python.toml").as_path()));
    assert_eq!(data.file.extends, None, "the resolved profile has no extends");
    assert_eq!(data.file.limits, python.file.limits);
    assert_eq!(data.file.filesystem.tmpfs, python.file.filesystem.tmpfs);
    assert_eq!(data.file.filesystem.workdir, python.file.filesystem.workdir);
    assert_eq!(data.file.seccomp, python.file.seccomp);
    assert_eq!(data.file.environment, python.file.environment);
    assert_eq!(data.file.language_policy, python.file.language_policy);
    assert_eq!(data.file.interpreter, python.file.interpreter);
    assert_ne!(data.file.description, python.file.description, "a child states its own purpose");
    assert_eq!(data.file.filesystem.data.len(), 1);
    let d = &data.file.filesystem.data[0];
    assert_eq!((d.name.as_str(), d.path.as_path()), ("datasets", Path::new(DATASETS)));
    assert!(python.file.filesystem.data.is_empty());
    // Values keep where they were written.
    assert_eq!(data.origins.file_of("limits.memory"), Some(dir.join("python.toml").as_path()));
    assert_eq!(data.origins.file_of("filesystem.data[0].path"), Some(dir.join("python-data.toml").as_path()));
}

#[test]
fn tables_merge_key_by_key_and_arrays_replace() {
    let s = seeded();
    let child = s.profiles.join("small.toml");
    std::fs::write(
        &child,
        "schema = 1\nname = \"small\"\ndescription = \"python with less memory and one scratch dir\"\nextends = \"python\"\n\
         [limits]\nmemory = \"64MiB\"\n\
         [[filesystem.tmpfs]]\npath = \"/work\"\nsize = \"4MiB\"\ninodes = 64\n\
         [environment]\nEXTRA = \"1\"\n",
    )
    .unwrap();
    let p = profile::load(&s.profiles, "small").unwrap();
    let python = profile::load(&s.profiles, "python").unwrap();
    assert_eq!(p.file.limits.memory.0, 64 << 20);
    assert_eq!(p.file.limits.pids, python.file.limits.pids, "other limits are the parent's");
    assert_eq!(p.file.filesystem.tmpfs.len(), 1, "the child's tmpfs array replaces the parent's");
    assert_eq!(p.file.filesystem.tmpfs[0].size.0, 4 << 20);
    assert_eq!(p.file.environment.get("EXTRA").map(String::as_str), Some("1"));
    assert_eq!(
        p.file.environment.get("PATH"),
        python.file.environment.get("PATH"),
        "tables merge: the parent's keys stay"
    );
}

#[test]
fn extending_a_profile_that_extends_is_refused_naming_both_files() {
    let s = seeded();
    let path = s.profiles.join("deeper.toml");
    let text = "schema = 1\nname = \"deeper\"\ndescription = \"two levels\"\nextends = \"python-data\"\n";
    std::fs::write(&path, text).unwrap();
    let e = load_err(&s.profiles, "deeper");
    assert_invalid(&e, &path, 4, "extends");
    let msg = e.to_string();
    assert!(
        msg.contains(&s.profiles.join("python-data.toml").display().to_string()),
        "the parent file is not named: {msg}"
    );
    assert!(msg.contains("one level"), "{msg}");
}

// ---------------------------------------------------------------------------------------------
// interpreter = "name@version"
// ---------------------------------------------------------------------------------------------

#[test]
fn interpreter_version_must_equal_the_manifests() {
    let s = seeded();
    let path = s.profiles.join("python.toml");
    let text = edit(&path, "interpreter = \"python3.11@3.11.2\"", "interpreter = \"python3.11@3.11.9\"");
    let p = profile::load(&s.profiles, "python").unwrap();
    let e = p.interpreter(&s.interpreters).unwrap_err();
    assert_invalid(&e, &path, line_of(&text, "interpreter = "), "interpreter");
    let msg = e.to_string();
    assert!(
        msg.contains(&s.interpreters.join("python3.11.toml").display().to_string()),
        "the manifest is not named: {msg}"
    );
    assert!(msg.contains("3.11.9") && msg.contains("3.11.2"), "{msg}");
    // The shipped ones match.
    for name in ["python", "javascript", "typescript"] {
        let p = profile::load(&repo().join("profiles"), name).unwrap();
        let i = p.interpreter(&repo().join("interpreters")).unwrap();
        assert_eq!(i.manifest.version, p.file.interpreter.version, "{name}");
    }
}

#[test]
fn a_run_with_a_mismatched_interpreter_version_is_refused() {
    require_jails!();
    let s = seeded();
    edit(&s.profiles.join("python.toml"), "interpreter = \"python3.11@3.11.2\"", "interpreter = \"python3.11@3.11.9\"");
    let sup = supervisor_over(&s.profiles, &s.interpreters);
    let r = run_with(&sup, "python", "result = 1", None, LimitOverrides::default());
    assert_eq!(r.status, Status::InternalError, "{}", show(&r));
    let m = r.message.unwrap_or_default();
    assert!(m.contains("python3.11@3.11.9") && m.contains("python3.11.toml") && m.contains("3.11.2"), "{m}");
}

fn supervisor_over(profiles: &Path, interpreters: &Path) -> Supervisor {
    let mut c = config();
    c.profiles_dir = profiles.to_path_buf();
    c.interpreters_dir = interpreters.to_path_buf();
    Supervisor::new(c).unwrap()
}

// ---------------------------------------------------------------------------------------------
// Data directories
// ---------------------------------------------------------------------------------------------

/// A world-readable data directory with two files and a subdirectory, in /var/tmp: jail-init
/// builds the jail's root at /tmp, which hides the host's /tmp from binds.
fn data_dir() -> tempfile::TempDir {
    let d = tempfile::Builder::new().prefix("jaild-test-data").tempdir_in("/var/tmp").unwrap();
    std::fs::set_permissions(d.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::write(d.path().join("scores.csv"), "name,score\nada,3\nbob,4\n").unwrap();
    std::fs::create_dir(d.path().join("sub")).unwrap();
    std::fs::set_permissions(d.path().join("sub"), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::write(d.path().join("sub/x.json"), "{\"k\": 1}").unwrap();
    for f in ["scores.csv", "sub/x.json"] {
        std::fs::set_permissions(d.path().join(f), std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    d
}

/// python-data in a copy of profiles/, pointing at `data`.
fn python_data_over(data: &Path) -> Seeded {
    let s = seeded();
    edit(
        &s.profiles.join("python-data.toml"),
        &format!("path = \"{DATASETS}\""),
        &format!("path = \"{}\"", data.display()),
    );
    s
}

#[test]
fn the_plan_mounts_data_read_only_noexec_at_data_name() {
    let data = data_dir();
    let s = python_data_over(data.path());
    let p = profile::load(&s.profiles, "python-data").unwrap();
    let i = p.interpreter(&s.interpreters).unwrap();
    let plan = plan::build(&p, &i.manifest, &p.file.limits, 6);
    let binds: Vec<_> = plan
        .mounts
        .iter()
        .filter_map(|m| match m {
            // Binds are read-only by construction; noexec is the profile's to get right.
            jail_init::plan::Mount::Bind { src, dst, exec, .. } if dst.starts_with("/data") => {
                Some((src.clone(), dst.clone(), *exec))
            }
            _ => None,
        })
        .collect();
    assert_eq!(binds, vec![(data.path().to_path_buf(), PathBuf::from("/data/datasets"), false)]);
    let rules: Vec<_> = plan.landlock.rules.iter().filter(|r| r.path.starts_with("/data")).collect();
    assert_eq!(rules.len(), 1);
    use jail_init::plan::access;
    assert_eq!(rules[0].access, access::READ_FILE | access::READ_DIR, "Landlock: read only, no write, no execute");
    // The other profiles have nothing under /data.
    for name in ["python", "javascript", "typescript"] {
        let p = profile::load(&repo().join("profiles"), name).unwrap();
        let i = p.interpreter(&repo().join("interpreters")).unwrap();
        let plan = plan::build(&p, &i.manifest, &p.file.limits, 6);
        assert!(!plan.mounts.iter().any(|m| format!("{m:?}").contains("/data")), "{name} mounts something at /data");
    }
}

const DATA_PROBE: &str = r#"
import errno, os
def attempt(f):
    try:
        f()
        return "ok"
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e.errno))
def write_new():
    with open("/data/datasets/new.txt", "w") as f:
        f.write("x")
def append_existing():
    with open("/data/datasets/scores.csv", "a") as f:
        f.write("x")
mounts = [l.split() for l in open("/proc/self/mountinfo")]
opts = [m[5] for m in mounts if m[4] == "/data/datasets"]
result = {
    "listing": sorted(os.listdir("/data/datasets")),
    "csv": open("/data/datasets/scores.csv").read(),
    "nested": open("/data/datasets/sub/x.json").read(),
    "write_new": attempt(write_new),
    "append": attempt(append_existing),
    "mkdir": attempt(lambda: os.mkdir("/data/datasets/d")),
    "remove": attempt(lambda: os.remove("/data/datasets/scores.csv")),
    "chmod": attempt(lambda: os.chmod("/data/datasets/scores.csv", 0o777)),
    "mount_options": opts,
}
"#;

fn run_profile(sup: &Supervisor, profile: &str, code: &str) -> jaild::report::Report {
    let id = unique_id(profile);
    let r = sup.run(RunRequest {
        id: Some(id),
        profile: Some(profile.to_string()),
        code: code.as_bytes().to_vec(),
        ..Default::default()
    });
    assert_no_leftovers(&r);
    r
}

#[test]
fn python_data_reads_data_and_cannot_write_there() {
    require_jails!();
    let data = data_dir();
    let s = python_data_over(data.path());
    let sup = supervisor_over(&s.profiles, &s.interpreters);
    let r = run_profile(&sup, "python-data", DATA_PROBE);
    assert_eq!(r.status, Status::Ok, "{}", show(&r));
    let v = &r.result;
    assert_eq!(v["listing"], serde_json::json!(["scores.csv", "sub"]), "{}", show(&r));
    assert_eq!(v["csv"], "name,score\nada,3\nbob,4\n");
    assert_eq!(v["nested"], "{\"k\": 1}");
    for op in ["write_new", "append", "mkdir", "remove", "chmod"] {
        let got = v[op].as_str().unwrap_or_default();
        assert!(matches!(got, "EROFS" | "EACCES" | "EPERM"), "{op} in /data/datasets: {got} ({})", show(&r));
    }
    let opts = v["mount_options"][0].as_str().unwrap_or_default().split(',').map(String::from).collect::<Vec<_>>();
    for o in ["ro", "noexec", "nosuid", "nodev"] {
        assert!(opts.iter().any(|x| x == o), "/data/datasets is mounted without {o}: {opts:?}");
    }
    // Nothing on the host changed.
    let mut names: Vec<_> = std::fs::read_dir(data.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    names.sort();
    assert_eq!(names, vec!["scores.csv", "sub"]);
    assert_eq!(std::fs::read_to_string(data.path().join("scores.csv")).unwrap(), "name,score\nada,3\nbob,4\n");
}

#[test]
fn shipped_python_data_lists_its_datasets_and_cannot_write_there() {
    require_jails!();
    if !datasets_installed() {
        return;
    }
    let code = "import os\ntry:\n    open('/data/datasets/jaild-test-write', 'w')\n    w = 'ok'\nexcept OSError as e:\n    w = e.strerror\nresult = {'listing': sorted(os.listdir('/data/datasets')), 'write': w}\n";
    let r = run_profile(supervisor(), "python-data", code);
    assert_eq!(r.status, Status::Ok, "{}", show(&r));
    let mut host: Vec<String> =
        std::fs::read_dir(DATASETS).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    host.sort();
    assert_eq!(r.result["listing"], serde_json::json!(host));
    assert_ne!(r.result["write"], "ok", "{}", show(&r));
    assert!(!Path::new(DATASETS).join("jaild-test-write").exists());
    // The report's profile digest is the resolved profile's.
    let p = profile::load(&repo().join("profiles"), "python-data").unwrap();
    let info = r.profile.as_ref().unwrap();
    assert_eq!(info.name, "python-data");
    assert_eq!(info.sha256, p.sha256);
    assert_ne!(
        info.sha256,
        interpreter::sha256_file(&p.path).unwrap(),
        "the digest is of the resolved profile, not the file"
    );
    assert_eq!(info.seccomp_sha256, p.seccomp.sha256);
}

#[test]
fn other_profiles_do_not_see_data() {
    require_jails!();
    let r = run("python", "import os\nresult = [os.path.exists('/data')]");
    assert_eq!(r.status, Status::Ok, "{}", show(&r));
    assert_eq!(r.result[0], false, "{}", show(&r));
    for lang in ["javascript", "typescript"] {
        let r = run(lang, "const fs = require('fs'); return fs.existsSync('/data');");
        assert_eq!(r.status, Status::Ok, "{}", show(&r));
        assert_eq!(r.result, false, "{lang}: {}", show(&r));
    }
}

// ---------------------------------------------------------------------------------------------
// The hash of the resolved profile
// ---------------------------------------------------------------------------------------------

#[test]
fn files_that_resolve_to_the_same_profile_have_the_same_hash() {
    let data = data_dir();
    let s = python_data_over(data.path());
    let extended = profile::load(&s.profiles, "python-data").unwrap();
    // The resolved TOML written out as a standalone profile (no extends) hashes the same.
    let flat = seeded();
    std::fs::write(flat.profiles.join("python-data.toml"), extended.resolved_toml()).unwrap();
    let standalone = profile::load(&flat.profiles, "python-data").unwrap();
    assert_eq!(standalone.extends, None);
    assert_eq!(standalone.sha256, extended.sha256);
    assert_eq!(standalone.file, extended.file);
    // Comments, layout and the way sizes are written do not change it; a value does.
    let s2 = seeded();
    let path = s2.profiles.join("python.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    let stripped: String = text
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .map(|l| format!("{}\n", l.split(" #").next().unwrap().trim_end()))
        .collect();
    std::fs::write(&path, stripped.replace("memory = \"128MiB\"", "memory = 134217728")).unwrap();
    let original = profile::load(&repo().join("profiles"), "python").unwrap();
    assert_eq!(profile::load(&s2.profiles, "python").unwrap().sha256, original.sha256);
    edit(&path, "memory = 134217728", "memory = \"64MiB\"");
    assert_ne!(profile::load(&s2.profiles, "python").unwrap().sha256, original.sha256);
    // The digest is of the resolved TOML.
    assert_eq!(original.sha256, hex(&original.resolved_toml()));
}

fn hex(text: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(text.as_bytes()))
}

// ---------------------------------------------------------------------------------------------
// JSON Schemas
// ---------------------------------------------------------------------------------------------

fn schema_files() -> [(Value, PathBuf); 2] {
    [
        (profile::json_schema(), repo().join("profiles/schema/profile.schema.json")),
        (seccomp::json_schema(), repo().join("profiles/schema/seccomp.schema.json")),
    ]
}

#[test]
fn committed_schemas_match_the_rust_types() {
    let write = std::env::var("JAILD_WRITE_SCHEMA").is_ok_and(|v| v == "1");
    for (schema, path) in schema_files() {
        let text = serde_json::to_string_pretty(&schema).unwrap() + "\n";
        if write {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, &text).unwrap();
            continue;
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == text,
            "{} is out of date with the Rust types (or missing). Regenerate it with\n    JAILD_WRITE_SCHEMA=1 cargo test --test profile_format committed_schemas\nand commit it.",
            path.display()
        );
    }
}

/// A light structural check of `v` against `schema`: types, enums, required and unknown keys,
/// `$ref`, `anyOf`/`oneOf`, `if`/`else`, array items. (Patterns are not checked.)
fn check(root: &Value, schema: &Value, v: &Value, at: &str, errors: &mut Vec<String>) {
    if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
        let target = root.pointer(r.trim_start_matches('#')).unwrap_or_else(|| panic!("unresolved $ref {r}"));
        check(root, target, v, at, errors);
    }
    if let Some(t) = schema.get("type") {
        let types: Vec<&str> = match t {
            Value::String(s) => vec![s.as_str()],
            Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
            _ => vec![],
        };
        let ok = types.iter().any(|t| match *t {
            "object" => v.is_object(),
            "array" => v.is_array(),
            "string" => v.is_string(),
            "integer" => v.is_i64() || v.is_u64(),
            "number" => v.is_number(),
            "boolean" => v.is_boolean(),
            "null" => v.is_null(),
            _ => false,
        });
        if !ok {
            errors.push(format!("{at}: {v} is not of type {types:?}"));
            return;
        }
    }
    if let Some(e) = schema.get("enum").and_then(Value::as_array) {
        if !e.contains(v) {
            errors.push(format!("{at}: {v} is not one of {e:?}"));
        }
    }
    if let Some(c) = schema.get("const") {
        if c != v {
            errors.push(format!("{at}: {v} is not {c}"));
        }
    }
    for key in ["anyOf", "oneOf"] {
        if let Some(alts) = schema.get(key).and_then(Value::as_array) {
            let fits = alts.iter().any(|a| {
                let mut e = Vec::new();
                check(root, a, v, at, &mut e);
                e.is_empty()
            });
            if !fits {
                errors.push(format!("{at}: {v} fits none of {key}"));
            }
        }
    }
    if let Some(cond) = schema.get("if") {
        let mut e = Vec::new();
        check(root, cond, v, at, &mut e);
        let branch = if e.is_empty() { schema.get("then") } else { schema.get("else") };
        if let Some(b) = branch {
            check(root, b, v, at, errors);
        }
    }
    if let Some(obj) = v.as_object() {
        if let Some(req) = schema.get("required").and_then(Value::as_array) {
            for k in req.iter().filter_map(Value::as_str) {
                if !obj.contains_key(k) {
                    errors.push(format!("{at}: missing required key {k:?}"));
                }
            }
        }
        let props = schema.get("properties").and_then(Value::as_object);
        for (k, val) in obj {
            let here = format!("{at}.{k}");
            match props.and_then(|p| p.get(k)) {
                Some(s) => check(root, s, val, &here, errors),
                None => match schema.get("additionalProperties") {
                    Some(Value::Bool(false)) => errors.push(format!("{here}: unknown key")),
                    Some(s @ Value::Object(_)) => check(root, s, val, &here, errors),
                    _ => {}
                },
            }
        }
    }
    if let (Some(items), Some(arr)) = (schema.get("items"), v.as_array()) {
        for (i, item) in arr.iter().enumerate() {
            check(root, items, item, &format!("{at}[{i}]"), errors);
        }
    }
}

fn toml_json(text: &str) -> Value {
    serde_json::to_value(toml::from_str::<toml::Value>(text).unwrap()).unwrap()
}

fn schema_errors(schema: &Value, text: &str) -> Vec<String> {
    let mut errors = Vec::new();
    check(schema, schema, &toml_json(text), "", &mut errors);
    errors
}

#[test]
fn every_shipped_file_validates_against_its_schema_and_names_it() {
    let profile_schema = profile::json_schema();
    let seccomp_schema = seccomp::json_schema();
    let dir = repo().join("profiles");
    for name in profile::list(&dir) {
        let path = dir.join(format!("{name}.toml"));
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(
            text.lines().next(),
            Some("#:schema ./schema/profile.schema.json"),
            "{}: first line must point editors at the schema",
            path.display()
        );
        let errors = schema_errors(&profile_schema, &text);
        assert!(errors.is_empty(), "{}: {errors:#?}", path.display());
        if name != "python-data" || datasets_installed() {
            let resolved = profile::load(&dir, &name).unwrap().resolved_toml();
            let errors = schema_errors(&profile_schema, &resolved);
            assert!(errors.is_empty(), "{name} resolved: {errors:#?}");
        }
    }
    for e in std::fs::read_dir(dir.join("seccomp")).unwrap() {
        let path = e.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().next(), Some("#:schema ../schema/seccomp.schema.json"), "{}", path.display());
        let errors = schema_errors(&seccomp_schema, &text);
        assert!(errors.is_empty(), "{}: {errors:#?}", path.display());
    }
}

#[test]
fn the_schema_catches_what_the_loader_refuses() {
    let schema = profile::json_schema();
    let python = std::fs::read_to_string(repo().join("profiles/python.toml")).unwrap();
    let unknown = python.replace("pids = 16 ", "pids = 16\nmax_threads = 4 ");
    assert!(
        schema_errors(&schema, &unknown).iter().any(|e| e.contains("limits.max_threads: unknown key")),
        "{:?}",
        schema_errors(&schema, &unknown)
    );
    let mistyped = python.replace("pids = 16 ", "pids = \"many\" ");
    assert!(schema_errors(&schema, &mistyped).iter().any(|e| e.contains(".limits.pids")));
    let bad_enum = python.replace("mode = \"none\"", "mode = \"host\"");
    assert!(schema_errors(&schema, &bad_enum).iter().any(|e| e.contains(".network.mode")));
    // Without extends, every section and every key of a table must be there; with it, not.
    let no_pids: String = python.lines().filter(|l| !l.starts_with("pids")).map(|l| format!("{l}\n")).collect();
    assert!(
        schema_errors(&schema, &no_pids).iter().any(|e| e.contains("\"pids\"")),
        "{:?}",
        schema_errors(&schema, &no_pids)
    );
    let partial = "schema = 1\nname = \"x\"\ndescription = \"d\"\nextends = \"python\"\n[limits]\nmemory = \"64MiB\"\n";
    assert_eq!(schema_errors(&schema, partial), Vec::<String>::new());
    let partial_without_extends = partial.replace("extends = \"python\"\n", "");
    assert!(!schema_errors(&schema, &partial_without_extends).is_empty());
    // Array entries are replaced whole, so they are complete even under extends.
    let half_entry = format!("{partial}[[filesystem.data]]\nname = \"d\"\n");
    assert!(
        schema_errors(&schema, &half_entry).iter().any(|e| e.contains("\"path\"")),
        "{:?}",
        schema_errors(&schema, &half_entry)
    );
}

// ---------------------------------------------------------------------------------------------
// import-seccomp
// ---------------------------------------------------------------------------------------------

fn fixture() -> PathBuf {
    repo().join("tests/fixtures/docker-default.json")
}

fn allowed(p: &seccomp::SeccompPolicy, name: &str, args: [u64; 6]) -> bool {
    let nr = Sysno::from_str(name).unwrap().id() as u32;
    bpf::run(&p.program, bpf::AUDIT_ARCH_X86_64, nr, args).unwrap() == bpf::RET_ALLOW
}

#[test]
fn docker_default_converts_into_a_policy_that_loads() {
    let import = oci_seccomp::import_file(&fixture(), "python3.11").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("docker.toml");
    std::fs::write(&out, &import.toml).unwrap();
    let p = seccomp::load_policy(&out).unwrap_or_else(|e| panic!("{e}\n{}", import.toml));
    assert_eq!(p.file.interpreter, "python3.11");
    assert_eq!(p.default_errno, libc::EPERM, "defaultErrnoRet 1");
    assert!(import.warnings.is_empty());

    // The plain allow list, minus the names that are not x86_64 syscalls.
    for name in ["read", "write", "openat", "mmap", "futex", "exit_group", "arch_prctl", "modify_ldt"] {
        assert!(allowed(&p, name, [0; 6]), "{name} should be allowed");
    }
    let foreign = import.notes.iter().find(|n| n.starts_with("not x86_64 syscalls")).expect("a note on foreign names");
    for name in ["_llseek", "socketcall", "fstat64", "waitpid", "futex_time64"] {
        assert!(foreign.contains(name), "{foreign}");
        assert!(!p.file.syscall.iter().any(|s| s.name == name));
    }
    // Capability-only rules are left out, with a note naming the capability.
    for name in [
        "bpf",
        "mount",
        "unshare",
        "setns",
        "reboot",
        "init_module",
        "kcmp",
        "iopl",
        "settimeofday",
        "open_by_handle_at",
    ] {
        assert!(!allowed(&p, name, [0; 6]), "{name} is allowed only with a capability in the source");
    }
    assert!(import
        .notes
        .iter()
        .any(|n| n.contains("CAP_SYS_ADMIN") && n.contains("no capabilities") && n.contains("unshare")));
    // Other architectures' rules are left out.
    assert!(import.notes.iter().any(|n| n.contains("s390_pci_mmio_read") && n.contains("s390")));
    assert!(!p.file.syscall.iter().any(|s| s.name.starts_with("s390") || s.name == "cacheflush"));
    // clone: the masked rule (excludes CAP_SYS_ADMIN, so it applies to a jail), not the s390 one.
    const CLONE_NEWUSER: u64 = 0x1000_0000;
    let thread_flags = 0x3d0f00; // CLONE_VM|FS|FILES|SIGHAND|THREAD|SYSVSEM|SETTLS|PARENT_SETTID|CHILD_CLEARTID
    assert!(allowed(&p, "clone", [thread_flags, 0, 0, 0, 0, 0]));
    assert!(!allowed(&p, "clone", [CLONE_NEWUSER, 0, 0, 0, 0, 0]), "clone(CLONE_NEWUSER) must not be allowed");
    let clone: Vec<_> = p.file.syscall.iter().filter(|s| s.name == "clone").collect();
    assert_eq!(clone.len(), 1);
    assert_eq!(
        (clone[0].args[0].op, clone[0].args[0].mask, clone[0].args[0].value),
        (Op::MaskedEq, Some(2114060288), 0)
    );
    // clone3 gets ENOSYS (errnoRet 38), so libc falls back to clone.
    assert_eq!(p.denial(i64::from(Sysno::clone3.id())).errno, libc::ENOSYS);
    let clone3 = p.file.syscall.iter().find(|s| s.name == "clone3").unwrap();
    assert_eq!((clone3.action, clone3.errno.as_deref()), (Action::Errno, Some("ENOSYS")));
    // personality: five alternatives.
    assert_eq!(p.file.syscall.iter().filter(|s| s.name == "personality").count(), 5);
    for ok in [0u64, 8, 0x20000, 0x20008, 0xffff_ffff] {
        assert!(allowed(&p, "personality", [ok, 0, 0, 0, 0, 0]), "personality({ok:#x})");
    }
    assert!(!allowed(&p, "personality", [0x0040000, 0, 0, 0, 0, 0]), "ADDR_NO_RANDOMIZE is not in the list");
    // socket: every family but AF_VSOCK; the source's comment is kept.
    assert!(allowed(&p, "socket", [1, 1, 0, 0, 0, 0]));
    assert!(!allowed(&p, "socket", [40, 1, 0, 0, 0, 0]));
    let socket = p.file.syscall.iter().find(|s| s.name == "socket").unwrap();
    assert!(socket.comment.starts_with("AF_VSOCK sockets reach the host"), "{}", socket.comment);
    // minKernel rules are imported, saying so.
    let ptrace = p.file.syscall.iter().find(|s| s.name == "ptrace").unwrap();
    assert!(ptrace.comment.contains("Linux >= 4.8"), "{}", ptrace.comment);
    // Entries without a comment in the source say where they come from.
    let read = p.file.syscall.iter().find(|s| s.name == "read").unwrap();
    assert_eq!(read.comment, "imported from docker-default.json: allowed (no comment in the source)");
    // The notes are in the file, for the reviewer.
    assert!(import.toml.contains("# Not imported:\n"));
    for n in &import.notes {
        assert!(import.toml.contains(&format!("#   - {n}\n")), "note missing from the file: {n}");
    }
}

#[test]
fn an_imported_policy_can_back_a_profile() {
    let s = seeded();
    let import = oci_seccomp::import_file(&fixture(), "python3.11").unwrap();
    std::fs::write(s.profiles.join("seccomp/docker.toml"), &import.toml).unwrap();
    edit(&s.profiles.join("python.toml"), "policy = \"seccomp/python.toml\"", "policy = \"seccomp/docker.toml\"");
    let p = profile::load(&s.profiles, "python").unwrap();
    assert!(p.seccomp.path.ends_with("seccomp/docker.toml"));
    // For another interpreter it is refused, as every policy is.
    let js = s.profiles.join("javascript.toml");
    edit(&js, "policy = \"seccomp/node.toml\"", "policy = \"seccomp/docker.toml\"");
    assert!(load_err(&s.profiles, "javascript").to_string().contains("python3.11"));
}

#[test]
fn import_refuses_an_allowing_default_and_keeps_errnos() {
    let allow =
        r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["ptrace"], "action": "SCMP_ACT_ERRNO"}]}"#;
    let e = oci_seccomp::convert(Path::new("deny.json"), allow, "python3.11").unwrap_err();
    assert!(e.to_string().contains("allowlists"), "{e}");
    let kill = r#"{"defaultAction": "SCMP_ACT_KILL_PROCESS", "syscalls": [
        {"names": ["read", "write"], "action": "SCMP_ACT_ALLOW", "comment": "I/O"},
        {"names": ["uname"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38},
        {"names": ["ptrace"], "action": "SCMP_ACT_KILL"},
        {"names": ["mount"], "action": "SCMP_ACT_NOTIFY"}]}"#;
    let i = oci_seccomp::convert(Path::new("k.json"), kill, "node24").unwrap();
    assert_eq!(i.policy.default.errno, "EPERM");
    assert!(i.warnings[0].contains("SCMP_ACT_KILL_PROCESS"), "{:?}", i.warnings);
    assert!(i.toml.contains("# WARNING: defaultAction SCMP_ACT_KILL_PROCESS"));
    let by_name = |n: &str| i.policy.syscall.iter().find(|s| s.name == n).unwrap().clone();
    assert_eq!(by_name("read").comment, "I/O");
    assert_eq!(by_name("uname").errno.as_deref(), Some("ENOSYS"));
    assert_eq!(by_name("ptrace").action, Action::Errno);
    assert!(i.notes.iter().any(|n| n.contains("mount") && n.contains("SCMP_ACT_NOTIFY")));
}

// ---------------------------------------------------------------------------------------------
// jailctl profile ... and jailctl interpreters ...
// ---------------------------------------------------------------------------------------------

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

impl std::fmt::Display for Out {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "exit {}\n--- stdout\n{}\n--- stderr\n{}", self.code, self.stdout, self.stderr)
    }
}

/// Runs jailctl with JAILD_PROFILES / JAILD_INTERPRETERS set to these directories.
fn jailctl(args: &[&str], profiles: &Path, interpreters: &Path) -> Out {
    let out = Command::new(env!("CARGO_BIN_EXE_jailctl"))
        .args(args)
        .current_dir(repo())
        .env("JAILD_PROFILES", profiles)
        .env("JAILD_INTERPRETERS", interpreters)
        .env_remove("JAILD_LOG")
        .stdin(Stdio::null())
        .output()
        .expect("jailctl starts");
    let out = Out {
        code: out.status.code().expect("jailctl exited"),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    assert!(!out.stderr.contains("panicked"), "{out}");
    out
}

fn shipped(args: &[&str]) -> Out {
    jailctl(args, &repo().join("profiles"), &repo().join("interpreters"))
}

#[test]
fn profile_list_names_each_profile_with_its_purpose() {
    let data = data_dir();
    let s = python_data_over(data.path());
    let out = jailctl(&["profile", "list"], &s.profiles, &s.interpreters);
    assert_eq!(out.code, 0, "{out}");
    let lines: Vec<&str> = out.stdout.lines().collect();
    let names = profile::list(&s.profiles);
    assert_eq!(lines.len(), names.len(), "{out}");
    for (line, name) in lines.iter().zip(&names) {
        let p = profile::load(&s.profiles, name).unwrap();
        assert!(line.starts_with(name.as_str()) && line.contains(&p.file.description), "{line}");
    }
    let data = lines.iter().find(|l| l.starts_with("python-data ")).expect("python-data is listed");
    assert!(data.ends_with("(extends python)"), "{data}");
    // A profile that does not load is listed as such, and the exit status says so.
    std::fs::write(s.profiles.join("broken.toml"), "schema = 1\nname = \"broken\"\n").unwrap();
    let out = jailctl(&["profile", "list"], &s.profiles, &s.interpreters);
    assert_eq!(out.code, 1, "{out}");
    assert!(out.stdout.lines().any(|l| l.starts_with("broken") && l.contains("DOES NOT LOAD")), "{out}");
}

#[test]
fn profile_show_prints_the_resolved_profile_and_its_digest() {
    let data = data_dir();
    let s = python_data_over(data.path());
    let out = jailctl(&["profile", "show", "python-data"], &s.profiles, &s.interpreters);
    assert_eq!(out.code, 0, "{out}");
    let p = profile::load(&s.profiles, "python-data").unwrap();
    let body: String = out.stdout.lines().filter(|l| !l.starts_with('#')).map(|l| format!("{l}\n")).collect();
    assert_eq!(body, p.resolved_toml());
    assert_eq!(hex(&body), p.sha256, "the digest in the report is that of the printed TOML");
    assert!(out.stdout.contains(&p.sha256), "{out}");
    let resolved: ProfileFile = toml::from_str(&body).unwrap();
    assert_eq!(resolved.extends, None);
    assert_eq!(resolved.filesystem.data.len(), 1);
    assert_eq!(resolved.limits, profile::load(&s.profiles, "python").unwrap().file.limits);
    assert!(out.stdout.contains(&format!("extends {}", s.profiles.join("python.toml").display())), "{out}");
    assert!(
        out.stdout
            .contains(&format!("seccomp.policy resolves to {}", s.profiles.join("seccomp/python.toml").display())),
        "{out}"
    );
    assert!(out.stdout.contains(&p.seccomp.sha256), "{out}");
    assert!(out.stdout.contains("mounted read-only at /data/datasets"), "{out}");

    let unknown = jailctl(&["profile", "show", "nope"], &s.profiles, &s.interpreters);
    assert_eq!(unknown.code, 2, "{unknown}");
    assert!(unknown.stderr.contains("unknown profile \"nope\""), "{unknown}");
    // A profile whose interpreter version does not match is shown, and the exit status says so.
    edit(&s.profiles.join("python.toml"), "python3.11@3.11.2", "python3.11@3.11.9");
    let bad = jailctl(&["profile", "show", "python"], &s.profiles, &s.interpreters);
    assert_eq!(bad.code, 1, "{bad}");
    assert!(bad.stdout.contains("NOT USABLE") && bad.stderr.contains("3.11.9"), "{bad}");
}

#[test]
fn profile_import_seccomp_writes_a_policy_that_loads() {
    let dir = tempfile::tempdir().unwrap();
    let out_path = dir.path().join("docker.toml");
    let fx = fixture();
    let out = shipped(&[
        "profile",
        "import-seccomp",
        fx.to_str().unwrap(),
        "--interpreter",
        "python3.11",
        "-o",
        out_path.to_str().unwrap(),
    ]);
    assert_eq!(out.code, 0, "{out}");
    assert!(out.stdout.is_empty(), "{out}");
    assert!(out.stderr.contains("imported") && out.stderr.contains("not imported"), "{out}");
    let p = seccomp::load_policy(&out_path).unwrap();
    assert_eq!(p.file.interpreter, "python3.11");
    let to_stdout = shipped(&["profile", "import-seccomp", fx.to_str().unwrap(), "--interpreter", "python3.11"]);
    assert_eq!(to_stdout.code, 0, "{to_stdout}");
    assert_eq!(to_stdout.stdout, std::fs::read_to_string(&out_path).unwrap());
    // Usage mistakes exit 2.
    for args in [
        vec!["profile", "import-seccomp", fx.to_str().unwrap()],
        vec!["profile", "import-seccomp", fx.to_str().unwrap(), "--interpreter", "ruby3"],
        vec!["profile", "import-seccomp", "/nonexistent.json", "--interpreter", "python3.11"],
    ] {
        let out = shipped(&args);
        assert_eq!(out.code, 2, "{args:?}: {out}");
    }
}

#[test]
fn interpreters_list_shows_each_manifest() {
    let out = shipped(&["interpreters", "list"]);
    assert_eq!(out.code, 0, "{out}");
    for name in interpreter::list(&repo().join("interpreters")) {
        let m = interpreter::load(&repo().join("interpreters"), name.as_str()).unwrap().manifest;
        assert!(out.stdout.contains(&format!("{}@{}", m.name, m.version)), "{out}");
        for s in [m.binary.display().to_string(), m.sha256.clone(), m.source.clone(), m.install.clone()] {
            assert!(out.stdout.contains(&s), "{s} missing: {out}");
        }
    }
}

#[test]
fn interpreters_verify_passes_on_the_installed_ones() {
    require_jails!();
    let out = shipped(&["interpreters", "verify"]);
    assert_eq!(out.code, 0, "{out}");
    assert!(out.stdout.contains("python3.11: OK") && out.stdout.contains("node24: OK"), "{out}");
}

const ZEROS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

#[test]
fn pin_rewrites_a_wrong_digest_and_verify_then_passes() {
    require_jails!();
    let s = seeded();
    let path = s.interpreters.join("python3.11.toml");
    let real = interpreter::load(&repo().join("interpreters"), "python3.11").unwrap().manifest.sha256;
    let original = std::fs::read_to_string(&path).unwrap();
    edit(&path, &format!("sha256 = \"{real}\""), &format!("sha256 = \"{ZEROS}\""));

    let before = jailctl(&["interpreters", "verify"], &s.profiles, &s.interpreters);
    assert_eq!(before.code, 1, "{before}");
    assert!(
        before.stdout.contains("python3.11: FAILED") && before.stdout.contains(&real) && before.stdout.contains(ZEROS),
        "{before}"
    );
    assert!(before.stdout.contains("node24: OK"), "{before}");

    let pin = jailctl(&["interpreters", "pin", "python3.11"], &s.profiles, &s.interpreters);
    assert_eq!(pin.code, 0, "{pin}");
    assert!(pin.stdout.contains("PIN CHANGED"), "{pin}");
    assert!(pin.stdout.contains(&format!("was {ZEROS}")) && pin.stdout.contains(&format!("now {real}")), "{pin}");
    assert!(pin.stdout.contains("3.11.2"), "{pin}");
    // Only the digest changed: comments and layout stay.
    assert_eq!(std::fs::read_to_string(&path).unwrap(), original);

    let after = jailctl(&["interpreters", "verify"], &s.profiles, &s.interpreters);
    assert_eq!(after.code, 0, "{after}");
    let again = jailctl(&["interpreters", "pin", "python3.11"], &s.profiles, &s.interpreters);
    assert_eq!(again.code, 0, "{again}");
    assert!(again.stdout.contains("nothing changed"), "{again}");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), original);
}

#[test]
fn pin_refuses_a_version_change_unless_accepted() {
    require_jails!();
    let s = seeded();
    let path = s.interpreters.join("node24.toml");
    let original = std::fs::read_to_string(&path).unwrap();
    let changed = edit(&path, "version = \"24.21.0\"", "version = \"24.20.0\"");
    let refused = jailctl(&["interpreters", "pin", "node24"], &s.profiles, &s.interpreters);
    assert_eq!(refused.code, 1, "{refused}");
    assert!(
        refused.stderr.contains("REFUSED") && refused.stderr.contains("24.21.0") && refused.stderr.contains("24.20.0"),
        "{refused}"
    );
    assert!(refused.stderr.contains("--accept-version"), "{refused}");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), changed, "nothing is written when refused");

    let accepted = jailctl(&["interpreters", "pin", "node24", "--accept-version"], &s.profiles, &s.interpreters);
    assert_eq!(accepted.code, 0, "{accepted}");
    assert!(accepted.stdout.contains("version: was 24.20.0, now 24.21.0"), "{accepted}");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), original);
}

#[test]
fn verify_fails_on_a_missing_binary() {
    let s = seeded();
    let path = s.interpreters.join("python3.11.toml");
    edit(&path, "binary = \"/usr/bin/python3.11\"", "binary = \"/nonexistent/python3.11\"");
    let out = jailctl(&["interpreters", "verify"], &s.profiles, &s.interpreters);
    assert_eq!(out.code, 1, "{out}");
    assert!(out.stdout.contains("python3.11: FAILED"), "{out}");
    assert!(
        out.stdout.contains("/nonexistent/python3.11") && out.stdout.contains("apt-get install -y python3.11"),
        "{out}"
    );
    let pin = jailctl(&["interpreters", "pin", "python3.11"], &s.profiles, &s.interpreters);
    assert_ne!(pin.code, 0, "{pin}");
    assert!(pin.stderr.contains("/nonexistent/python3.11"), "{pin}");
    let _ = &s.dir;
}
