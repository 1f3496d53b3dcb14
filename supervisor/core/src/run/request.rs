//! A run as a caller asks for it, and the one place where it is checked.
//!
//! [`validate`] turns a [`RunRequest`] into a [`ValidRun`]: the profile resolved and loaded, the
//! limits tightened, the code, input and file name checked, every mistake named by its field. The
//! daemon's API decodes its JSON into a [`RunRequest`] and maps a [`RequestError`] to an HTTP
//! reply; `jailctl run` and [`crate::supervisor::Supervisor::run`] use the same function, so a request is held
//! to the same rules whichever way it comes in (Firecracker's `parsed_request.rs` does this for
//! its API).

use crate::profile::{self, interpreter_name, ByteSize, Language, Limits, Profile};
use serde::Deserialize;
use std::path::Path;

/// Per-run limits, each only as tight as or tighter than the profile's.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "an object of limits, such as {\"wall_time_ms\": 1000, \"memory\": \"64MiB\"}"
)]
pub struct LimitOverrides {
    pub wall_time_ms: Option<u64>,
    pub cpu_time_ms: Option<u64>,
    pub memory: Option<ByteSize>,
    pub pids: Option<u64>,
    pub stdout: Option<ByteSize>,
    pub stderr: Option<ByteSize>,
    pub result: Option<ByteSize>,
}

#[derive(Debug, Clone, Default)]
pub struct RunRequest {
    /// Run id; generated when absent.
    pub id: Option<String>,
    /// Profile name; defaults to the language's name, or to the one profile that runs
    /// `interpreter`.
    pub profile: Option<String>,
    pub language: Option<Language>,
    /// An interpreter manifest's name (`python3.11`): picks the profile that runs it when no
    /// profile is named, and must match the named one's otherwise.
    pub interpreter: Option<String>,
    /// Name shown in tracebacks.
    pub filename: Option<String>,
    pub code: Vec<u8>,
    /// Input as JSON text (null when absent).
    pub input: Option<String>,
    pub limits: LimitOverrides,
}

/// A request that passed every check: what a jail is given.
#[derive(Debug, Clone)]
pub struct ValidRun {
    pub id: String,
    pub profile: Profile,
    pub language: Language,
    pub filename: String,
    pub code: String,
    pub input: serde_json::Value,
    /// Bytes of the input as JSON text (4 for an absent input, "null").
    pub input_size: u64,
    /// The profile's limits, tightened by the request.
    pub limits: Limits,
}

/// What is wrong with a request, and which field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestErrorKind {
    /// A value the caller gave is not acceptable (HTTP 400).
    Invalid,
    /// The code or the input is larger than the profile allows (HTTP 413).
    TooLarge,
    /// No such profile (HTTP 404).
    UnknownProfile,
    /// The caller may not use the profile (HTTP 403).
    Forbidden,
    /// The profile exists but does not load: the operator's mistake, not the caller's (HTTP 500).
    BrokenProfile,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct RequestError {
    pub kind: RequestErrorKind,
    /// The request field at fault (`limits.memory`, `code`, `profile`, ...).
    pub field: String,
    pub message: String,
}

fn invalid(field: &str, message: impl std::fmt::Display) -> RequestError {
    RequestError { kind: RequestErrorKind::Invalid, field: field.to_string(), message: message.to_string() }
}

/// Where the profiles are, and who may use which.
pub struct Profiles<'a> {
    pub dir: &'a Path,
    /// Compiled seccomp policies are cached here.
    pub cache_dir: Option<&'a Path>,
    /// Whether the caller may use the profile of this name (asked before it is loaded).
    pub may_use: &'a dyn Fn(&str) -> Result<(), String>,
}

/// The longest run id, and what one is made of.
pub const MAX_RUN_ID: usize = 64;

/// A run id as every interface takes it: 1-64 letters, digits, '-' and '_'.
pub fn valid_run_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= MAX_RUN_ID && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// A new run id: 16 random hex digits.
pub fn new_run_id() -> String {
    let mut bytes = [0u8; 8];
    let random = std::fs::File::open("/dev/urandom").and_then(|mut f| std::io::Read::read_exact(&mut f, &mut bytes));
    if random.is_err() {
        let nanos =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
        bytes = (nanos as u64 ^ u64::from(std::process::id()) << 32).to_le_bytes();
    }
    hex::encode(bytes)
}

/// Checks `req` against the profile it names, in the order a caller fixes mistakes: which
/// profile, may they use it, does it load, then the limits, the code, the input, the file name.
pub fn validate(req: &RunRequest, profiles: &Profiles<'_>) -> Result<ValidRun, RequestError> {
    let id = match &req.id {
        Some(id) if !valid_run_id(id) => {
            return Err(invalid("id", format!("{id:?} is not 1-64 characters of letters, digits, '-' and '_'")));
        }
        Some(id) => id.clone(),
        None => new_run_id(),
    };
    let name = profile_name(req, profiles)?;
    (profiles.may_use)(&name).map_err(|message| RequestError {
        kind: RequestErrorKind::Forbidden,
        field: "profile".into(),
        message,
    })?;
    let profile = profile::load_cached(profiles.dir, &name, profiles.cache_dir).map_err(|e| match e {
        profile::ProfileError::Unknown { .. } | profile::ProfileError::BadName { .. } => {
            RequestError { kind: RequestErrorKind::UnknownProfile, field: "profile".into(), message: e.to_string() }
        }
        other => RequestError {
            kind: RequestErrorKind::BrokenProfile,
            field: "profile".into(),
            message: format!("profile {name}: {other}"),
        },
    })?;
    if let Some(l) = req.language {
        if l != profile.file.language {
            return Err(invalid(
                "language",
                format!("profile {name} runs {}, not {}", profile.file.language.as_str(), l.as_str()),
            ));
        }
    }
    if let Some(i) = &req.interpreter {
        if *i != interpreter_name(&profile) {
            return Err(invalid(
                "interpreter",
                format!("profile {name} runs interpreter {}, not {i}", interpreter_name(&profile)),
            ));
        }
    }
    let limits = tighten(&profile.file.limits, &req.limits)?;
    let too_large =
        |field: &str, message: String| RequestError { kind: RequestErrorKind::TooLarge, field: field.into(), message };
    if req.code.len() as u64 > limits.script.0 {
        return Err(too_large(
            "code",
            format!("{} bytes exceed profile {name}'s script limit of {}", req.code.len(), limits.script),
        ));
    }
    let code = std::str::from_utf8(&req.code).map_err(|e| invalid("code", format!("not valid UTF-8 ({e})")))?;
    if code.contains('\0') {
        return Err(invalid("code", "contains a NUL byte"));
    }
    let input_text = req.input.as_deref().unwrap_or("null");
    let input_size = input_text.len() as u64;
    if input_size > limits.input.0 {
        return Err(too_large(
            "input",
            format!("{input_size} bytes exceed profile {name}'s input limit of {}", limits.input),
        ));
    }
    let input: serde_json::Value =
        serde_json::from_str(input_text).map_err(|e| invalid("input", format!("not valid JSON: {e}")))?;
    let filename = match &req.filename {
        Some(f) => f.clone(),
        None => match profile.file.language {
            Language::Python => "script.py",
            Language::Javascript => "script.js",
            Language::Typescript => "script.ts",
        }
        .to_string(),
    };
    if filename.is_empty() || filename.len() > 255 || filename.contains(['/', '\0', '\n']) {
        return Err(invalid("filename", "must be a plain file name (1-255 bytes, no '/', NUL or newline)"));
    }
    let language = profile.file.language;
    Ok(ValidRun { id, profile, language, filename, code: code.to_string(), input, input_size, limits })
}

/// The profile a request names: its own, its language's, or the one that runs its interpreter.
fn profile_name(req: &RunRequest, profiles: &Profiles<'_>) -> Result<String, RequestError> {
    match (&req.profile, req.language, &req.interpreter) {
        (Some(p), _, _) => Ok(p.clone()),
        (None, Some(l), _) => Ok(l.as_str().to_string()),
        (None, None, Some(i)) => {
            let users: Vec<String> = profile::list(profiles.dir)
                .into_iter()
                .filter(|n| {
                    profile::load_cached(profiles.dir, n, profiles.cache_dir).is_ok_and(|p| interpreter_name(&p) == *i)
                })
                .collect();
            // Several: the one named after its language (python3.11 → python), if that is one.
            let named: Vec<&String> =
                users.iter().filter(|n| Language::parse(n).is_some_and(|l| l.as_str() == n.as_str())).collect();
            match users.as_slice() {
                [one] => Ok(one.clone()),
                [_, _, ..] if named.len() == 1 => Ok(named[0].clone()),
                [] => Err(invalid("interpreter", format!("no profile uses interpreter {i:?} (GET /v1/interpreters)"))),
                many => Err(invalid(
                    "interpreter",
                    format!("{i:?} is used by profiles {}; name the profile or the language", many.join(", ")),
                )),
            }
        }
        (None, None, None) => {
            Err(invalid("language", "give a language (python, javascript, typescript), a profile or an interpreter"))
        }
    }
}

/// The profile's limits, tightened by the request: a run may only tighten, and not below the
/// minimums.
pub fn tighten(profile: &Limits, o: &LimitOverrides) -> Result<Limits, RequestError> {
    let mut l = *profile;
    fn apply<T: PartialOrd + Copy + std::fmt::Display>(
        field: &str,
        slot: &mut T,
        want: Option<T>,
        min: T,
    ) -> Result<(), RequestError> {
        if let Some(v) = want {
            let field = format!("limits.{field}");
            if v > *slot {
                return Err(invalid(
                    &field,
                    format!("{v} is looser than the profile's {}; a run may only tighten limits", *slot),
                ));
            }
            if v < min {
                return Err(invalid(&field, format!("{v} is below the minimum {min}")));
            }
            *slot = v;
        }
        Ok(())
    }
    use crate::profile::limit_range as r;
    apply("wall_time_ms", &mut l.wall_time_ms, o.wall_time_ms, r::WALL_TIME_MS.0)?;
    apply("cpu_time_ms", &mut l.cpu_time_ms, o.cpu_time_ms, r::CPU_TIME_MS.0)?;
    apply("memory", &mut l.memory, o.memory, ByteSize(r::MEMORY.0))?;
    apply("pids", &mut l.pids, o.pids, r::PIDS.0)?;
    apply("stdout", &mut l.stdout, o.stdout, ByteSize(r::OUTPUT.0))?;
    apply("stderr", &mut l.stderr, o.stderr, ByteSize(r::OUTPUT.0))?;
    apply("result", &mut l.result, o.result, ByteSize(r::RESULT.0))?;
    Ok(l)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> Limits {
        toml::from_str(
            "wall_time_ms = 5000\ncpu_time_ms = 5000\ncpu_cores = 1.0\nmemory = \"128MiB\"\npids = 16\nstdout = \"1MiB\"\n\
             stderr = \"1MiB\"\nresult = \"1MiB\"\nopen_files = 64\nfile_size = \"16MiB\"\nscript = \"1MiB\"\ninput = \"8MiB\"\n",
        )
        .unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn limits_only_tighten() {
        let l = limits();
        assert_eq!(
            tighten(&l, &LimitOverrides { wall_time_ms: Some(100), ..Default::default() }).map(|t| t.wall_time_ms),
            Ok(100)
        );
        let e = tighten(&l, &LimitOverrides { wall_time_ms: Some(6000), ..Default::default() }).unwrap_err();
        assert_eq!((e.field.as_str(), e.kind), ("limits.wall_time_ms", RequestErrorKind::Invalid));
        assert!(e.message.contains("looser than the profile's 5000"), "{e}");
        let e = tighten(&l, &LimitOverrides { memory: Some(ByteSize(1 << 20)), ..Default::default() }).unwrap_err();
        assert_eq!(e.to_string(), "limits.memory: 1MiB is below the minimum 8MiB");
    }

    #[test]
    fn run_ids_are_plain_words() {
        assert!(valid_run_id("a-b_C9"));
        assert!(!valid_run_id(""));
        assert!(!valid_run_id("../x"));
        assert!(!valid_run_id(&"x".repeat(65)));
        assert!(valid_run_id(&new_run_id()));
    }
}
