//! Errors as one line, with their causes: the daemon's replies and logs, jailctl's messages,
//! the cgroup layer's errors.

/// An error and its causes on one line: `a: b: c`.
pub fn error_chain(err: &dyn std::error::Error) -> String {
    let mut out = err.to_string();
    let mut cur = err.source();
    while let Some(e) = cur {
        out.push_str(": ");
        out.push_str(&e.to_string());
        cur = e.source();
    }
    out
}
