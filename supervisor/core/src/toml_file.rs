//! The TOML files jaild reads as an operator wrote them (profiles, seccomp policies, interpreter
//! manifests, the daemon's configuration): which of them a directory holds, and on which line a
//! key was written, for error messages that name the line.
//!
//! Below every module that reads such a file, so that `profile`, `seccomp`, `interpreter` and
//! `daemon::config` share these helpers without importing each other (they used to live in
//! `profile`, which made `seccomp` and `interpreter` import the module that imports them).

use std::path::Path;

/// Names (file stems, sorted) of the `.toml` files in `dir`: the profiles of a profiles
/// directory, the manifests of an interpreters directory. Subdirectories are not entered.
pub fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let p = e.path();
            (p.extension()? == "toml" && p.is_file()).then(|| p.file_stem()?.to_str().map(String::from))?
        })
        .collect();
    names.sort();
    names
}

/// The table header a line opens, if it is one: `[a.b]` or `[[a.b]]`, comments ignored.
pub fn table_header(line: &str) -> Option<&str> {
    let t = line.split('#').next().unwrap_or("").trim();
    let inner = t
        .strip_prefix("[[")
        .and_then(|r| r.strip_suffix("]]"))
        .or_else(|| t.strip_prefix('[').and_then(|r| r.strip_suffix(']')))?;
    Some(inner.trim())
}

/// The line (1-based) of `key =` inside `[section]` (or at top level), for error messages.
/// For an array of tables (`[[section]]`), `index` picks the entry.
pub fn line_of(source: &str, section: Option<&str>, key: &str) -> usize {
    line_of_nth(source, section, 0, key)
}

pub fn line_of_nth(source: &str, section: Option<&str>, index: usize, key: &str) -> usize {
    let mut in_section = section.is_none();
    let mut seen = 0;
    let mut section_line = 1;
    for (i, line) in source.lines().enumerate() {
        if let Some(name) = table_header(line) {
            in_section = false;
            if Some(name) == section {
                if seen == index {
                    in_section = true;
                    section_line = i + 1;
                }
                seen += 1;
            }
            continue;
        }
        if in_section {
            if let Some(rest) = line.trim().strip_prefix(key) {
                if rest.trim_start().starts_with('=') {
                    return i + 1;
                }
            }
        }
    }
    section_line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_lookup_finds_key_in_section() {
        let src = "schema = 1\n[limits]  # c\nwall_time_ms = 5\n[other]\nwall_time_ms = 9\n";
        assert_eq!(line_of(src, Some("limits"), "wall_time_ms"), 3);
        assert_eq!(line_of(src, None, "schema"), 1);
        let arr = "[[t]]\nsize = 1\n[[t]] # second\nsize = 2\n";
        assert_eq!(line_of_nth(arr, Some("t"), 1, "size"), 4);
    }
}
