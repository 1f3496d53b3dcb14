//! What the jail refused, as the report shows it: denied syscalls (the supervisor's own
//! evidence) and the runner's refusals, merged as they arrive and bounded.

use crate::report::Violation;
use crate::seccomp::DenialLevel;
use std::collections::BTreeMap;

/// Distinct denials itemized in a report; the rest are counted in one entry per kind.
pub(super) const MAX_DISTINCT_DENIALS: usize = 64;
/// Loud denials after which the run is stopped: its verdict is security_violation from the
/// first one, and answering a flood costs the supervisor CPU that no cgroup counts.
pub(super) const MAX_LOUD_DENIALS: u64 = 1000;
/// Denials of every kind, quiet ones included, after which the run is stopped: each is a
/// notification the supervisor answers outside the jail's cgroup, and a quiet probe repeated
/// without end is no probe. Interpreters make a handful per run.
pub(super) const MAX_DENIALS: u64 = 10_000;

/// What the jail refused, merged as it arrives, with a bounded number of distinct entries so a
/// script cannot grow the report (or the supervisor's memory) by varying its denied calls.
#[derive(Default)]
pub(super) struct Denials {
    items: BTreeMap<(String, String), Violation>,
    /// Per kind and syscall name: denials past the distinct-entry cap (count, and the highest
    /// level among them). Bounded by the number of syscall names (the runner's kinds are a closed
    /// list, RUNNER_VIOLATION_KINDS).
    overflow: BTreeMap<(String, String), (u64, DenialLevel)>,
    /// Denied syscalls at level `violation`: they count toward the verdict and the stop.
    pub(super) loud: u64,
    /// Every denied syscall the supervisor answered, quiet or loud.
    pub(super) answered: u64,
}

impl Denials {
    /// A syscall the supervisor denied.
    pub(super) fn record(&mut self, kind: &str, detail: String, level: DenialLevel) {
        self.answered += 1;
        if level == DenialLevel::Violation {
            self.loud += 1;
        }
        self.merge(kind, detail, level);
    }

    /// A refusal the runner reported (the language policy): shown, never counted as a denied
    /// syscall.
    pub(super) fn record_runner(&mut self, kind: &str, detail: String) {
        self.merge(kind, detail, DenialLevel::Report);
    }

    pub(super) fn merge(&mut self, kind: &str, detail: String, level: DenialLevel) {
        let key = (kind.to_string(), detail);
        if let Some(v) = self.items.get_mut(&key) {
            v.count += 1;
            v.level = v.level.max(level);
            v.quiet = v.level == DenialLevel::Quiet;
        } else if self.items.len() < MAX_DISTINCT_DENIALS {
            let (kind, detail) = key.clone();
            let quiet = level == DenialLevel::Quiet;
            self.items.insert(key, Violation { kind, detail, count: 1, quiet, level });
        } else {
            let (kind, detail) = key;
            // Bounded by the syscall table: numbers without a name ("syscall_999999") and other
            // ABIs' numbers count under one entry each.
            let name = detail.split('(').next().unwrap_or_default().trim_end();
            let name = if name.starts_with("syscall_") {
                "syscall_".to_string()
            } else if let Some((abi, _)) = name.split_once(" syscall") {
                format!("{abi} syscall")
            } else {
                name.to_string()
            };
            let o = self.overflow.entry((kind, name)).or_insert((0, DenialLevel::Quiet));
            o.0 += 1;
            o.1 = o.1.max(level);
        }
    }

    pub(super) fn into_vec(self) -> Vec<Violation> {
        let mut out: Vec<Violation> = self.items.into_values().collect();
        for ((kind, name), (count, level)) in self.overflow {
            // "ioctl(…)": more denials of this call with arguments not itemized one by one.
            let quiet = level == DenialLevel::Quiet;
            out.push(Violation { kind, detail: format!("{name}(…)"), count, quiet, level });
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn denials_are_merged_and_bounded_with_exact_counts() {
        let mut d = Denials::default();
        for i in 0..10_000u32 {
            d.record("syscall", format!("ioctl({i:#x})"), DenialLevel::Violation);
            d.record("syscall", "clone3".into(), DenialLevel::Quiet);
            d.record("syscall", "splice".into(), DenialLevel::Report);
        }
        assert_eq!((d.loud, d.answered), (10_000, 30_000), "only violations count toward the verdict");
        let v = d.into_vec();
        assert!(v.len() <= MAX_DISTINCT_DENIALS + 2, "{}", v.len());
        assert_eq!(v.iter().map(|x| x.count).sum::<u64>(), 30_000);
        let rest = v.iter().find(|x| x.detail == "ioctl(…)").expect("an entry for the rest");
        assert!(!rest.quiet && rest.level == DenialLevel::Violation);
        assert!(v
            .iter()
            .any(|x| x.detail == "clone3" && x.quiet && x.level == DenialLevel::Quiet && x.count == 10_000));
        assert!(v.iter().any(|x| x.detail == "splice" && !x.quiet && x.level == DenialLevel::Report));
    }

    #[test]
    fn one_entry_takes_the_highest_level_its_calls_had() {
        let mut d = Denials::default();
        d.record("syscall", "memfd_create".into(), DenialLevel::Quiet);
        d.record("syscall", "memfd_create".into(), DenialLevel::Violation);
        d.record("syscall", "memfd_create".into(), DenialLevel::Report);
        let v = d.into_vec();
        assert_eq!((v[0].count, v[0].level, v[0].quiet), (3, DenialLevel::Violation, false));
    }

    #[test]
    fn numbers_without_a_name_share_one_entry_past_the_cap() {
        let mut d = Denials::default();
        for i in 0..5_000u32 {
            d.record("syscall", format!("syscall_{}", 1000 + i), DenialLevel::Violation);
        }
        let v = d.into_vec();
        assert_eq!(v.len(), MAX_DISTINCT_DENIALS + 1, "{v:?}");
        assert!(v.iter().any(|x| x.detail == "syscall_(…)" && x.count == 5_000 - MAX_DISTINCT_DENIALS as u64));
    }
}
