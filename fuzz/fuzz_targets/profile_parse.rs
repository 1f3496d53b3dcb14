//! Bytes as a profile file, through the loader the supervisor and jaild use
//! (`jaild::profile::load_cached`): TOML parsing, `extends` resolution against a copy of the
//! shipped profiles (the input may extend python, python-data, ...), validation, the seccomp
//! policy it names. Any panic is a crash; so is an error that does not say where:
//! an `Invalid` error must name a field and a line of a file that exists. A profile that loads
//! must load again from its resolved TOML, with the same digest.
#![no_main]

use jaild::profile::{self, ProfileError};
use libfuzzer_sys::fuzz_target;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

struct Dirs {
    _tmp: tempfile::TempDir,
    /// A copy of profiles/ (with seccomp/) where the input is written as fuzzed.toml.
    profiles: PathBuf,
    /// Another copy, for the resolved profile of an input that loaded.
    resolved: PathBuf,
    cache: PathBuf,
}

fn copy_dir(src: &Path, dst: &Path) {
    std::fs::create_dir_all(dst).expect("create the copy");
    for e in std::fs::read_dir(src).expect("read profiles/").flatten() {
        let to = dst.join(e.file_name());
        if e.file_type().is_ok_and(|t| t.is_dir()) {
            copy_dir(&e.path(), &to);
        } else {
            std::fs::copy(e.path(), &to).expect("copy a profile");
        }
    }
}

fn dirs() -> &'static Dirs {
    static DIRS: OnceLock<Dirs> = OnceLock::new();
    DIRS.get_or_init(|| {
        // tmpfs when there is one: every input is a file write.
        let base = if Path::new("/dev/shm").is_dir() { Path::new("/dev/shm") } else { Path::new("/tmp") };
        let tmp = tempfile::Builder::new().prefix("jaild-fuzz-profile").tempdir_in(base).expect("temp dir");
        let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("../profiles");
        let profiles = tmp.path().join("profiles");
        let resolved = tmp.path().join("resolved");
        copy_dir(&shipped, &profiles);
        copy_dir(&shipped, &resolved);
        let cache = tmp.path().join("cache");
        std::fs::create_dir_all(&cache).expect("cache dir");
        Dirs { _tmp: tmp, profiles, resolved, cache }
    })
}

fuzz_target!(|data: &[u8]| {
    let d = dirs();
    let path = d.profiles.join("fuzzed.toml");
    std::fs::write(&path, data).expect("write the input");
    match profile::load_cached(&d.profiles, "fuzzed", Some(&d.cache)) {
        Ok(p) => {
            // What is hashed and audited is the resolved profile: it must stand on its own.
            let text = p.resolved_toml();
            std::fs::write(d.resolved.join("fuzzed.toml"), &text).expect("write the resolved profile");
            match profile::load_cached(&d.resolved, "fuzzed", Some(&d.cache)) {
                Ok(again) => assert_eq!(again.sha256, p.sha256, "the resolved profile resolves differently:\n{text}"),
                Err(e) => panic!("the resolved profile of an input that loaded does not load: {e}\n{text}"),
            }
        }
        Err(e) => {
            let message = e.to_string();
            assert!(!message.trim().is_empty(), "an empty error: {e:?}");
            if let ProfileError::Invalid { path, line, field, .. } = &e {
                assert!(!field.is_empty(), "an Invalid error without a field: {message}");
                assert!(*line >= 1, "line 0: {message}");
                assert!(path.is_file(), "the error names {} which is not a file: {message}", path.display());
            }
        }
    }
});
