//! Bytes as a POST /v1/runs body, through `jaild::daemon::api::decode_run`: the function the
//! daemon's handler calls on every body (JSON decoding, field checks, profile resolution against
//! the shipped profiles, limits, sizes), as root (who may use every profile). Any panic is a
//! crash; so is a refusal that is not a 4xx (bad input is never the daemon's failure), an
//! `invalid` refusal that does not name its field, and an accepted request that breaks what
//! the library's check promises (code within the script limit, no NUL, input within its limit,
//! limits only tightened, a valid run id).
#![no_main]

use jaild::daemon::api::{decode_run, DecodeContext};
use jaild::daemon::config::CallerPolicy;
use jaild::daemon::peer::{Peer, Policy, Rights};
use libfuzzer_sys::fuzz_target;
use std::path::PathBuf;
use std::sync::OnceLock;

struct Setup {
    _cache: tempfile::TempDir,
    cache: PathBuf,
    profiles: PathBuf,
    rights: Rights,
}

fn setup() -> &'static Setup {
    static SETUP: OnceLock<Setup> = OnceLock::new();
    SETUP.get_or_init(|| {
        let cache = tempfile::Builder::new().prefix("jaild-fuzz-request").tempdir().expect("temp dir");
        let root = Peer { uid: 0, gid: 0, pid: 1, groups: Vec::new() };
        let rights = Policy::new(&CallerPolicy::default()).admit(&root).expect("the default policy admits root");
        Setup {
            cache: cache.path().to_path_buf(),
            _cache: cache,
            profiles: PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../profiles"),
            rights,
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let s = setup();
    let ctx = DecodeContext { profiles_dir: &s.profiles, cache_dir: Some(&s.cache), rights: &s.rights };
    match decode_run(data, &ctx) {
        Ok(decoded) => {
            let run = decoded.run;
            let profile =
                jaild::profile::load(&s.profiles, run.profile.name()).expect("an accepted run's profile loads");
            assert_eq!(profile.sha256, run.profile.sha256, "the queued profile differs from the shipped one");
            let profile_limits = &profile.file.limits;
            assert!(run.code.len() as u64 <= profile_limits.script.0, "accepted code over the script limit");
            assert!(!run.code.contains('\0'), "accepted code with a NUL byte");
            assert!(run.input_size <= profile_limits.input.0, "accepted input over the input limit");
            assert!(
                run.limits.wall_time_ms <= profile_limits.wall_time_ms && run.limits.memory <= profile_limits.memory,
                "accepted looser limits"
            );
            assert!(jaild::run::valid_run_id(&run.id), "a queued run id that is not one");
        }
        Err(e) => {
            assert!(e.status().is_client_error(), "bad input answered with {e}");
            assert!(!e.message().is_empty(), "an empty message: {e}");
            if e.code() == "invalid" {
                let field = e.field_name().unwrap_or_else(|| panic!("an invalid field without its name: {e}"));
                assert!(e.message().starts_with(field), "the message does not start with the field {field}: {e}");
            }
        }
    }
});
