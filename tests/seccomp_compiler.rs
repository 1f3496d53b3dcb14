//! The allowlist compiler (supervisor/core/src/bpf.rs) against seccompiler, the reference it
//! replaced: for every shipped policy, every syscall number and arguments around every constant
//! the policy compares with, both must give the same answer. seccompiler has one match action
//! per filter, so the reference is two filters: the `allow` entries (→ ALLOW) and the
//! `no_effect` entries (→ ERRNO with errno 0); a call either allows is decided by it (the
//! loader refuses entries of both kinds that match the same call), anything else is notified.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use jaild::bpf::{self, RET_ALLOW, RET_NO_EFFECT, RET_USER_NOTIF};
use jaild::seccomp::{load_policy, Action, Op};
use seccompiler::{
    SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter, SeccompRule, TargetArch,
};
use std::collections::BTreeMap;
use std::path::Path;
use syscalls::Sysno;

const MARK: u32 = 0x0a11;

fn reference(policy: &jaild::seccomp::PolicyFile, action: Action) -> Vec<jail_init::plan::SockFilter> {
    let mut rules: BTreeMap<i64, Vec<SeccompRule>> = BTreeMap::new();
    for e in policy.syscall.iter().filter(|e| e.action == action) {
        let nr = i64::from(e.name.parse::<Sysno>().unwrap().id());
        let slot = rules.entry(nr).or_default();
        if e.args.is_empty() {
            continue;
        }
        let conds = e
            .args
            .iter()
            .map(|c| {
                let op = match c.op {
                    Op::Eq => SeccompCmpOp::Eq,
                    Op::Ne => SeccompCmpOp::Ne,
                    Op::Lt => SeccompCmpOp::Lt,
                    Op::Le => SeccompCmpOp::Le,
                    Op::Gt => SeccompCmpOp::Gt,
                    Op::Ge => SeccompCmpOp::Ge,
                    Op::MaskedEq => SeccompCmpOp::MaskedEq(c.mask.unwrap()),
                };
                SeccompCondition::new(c.index, SeccompCmpArgLen::Qword, op, c.value).unwrap()
            })
            .collect();
        slot.push(SeccompRule::new(conds).unwrap());
    }
    let on_match = if action == Action::NoEffect { SeccompAction::Errno(0) } else { SeccompAction::Allow };
    let filter = SeccompFilter::new(rules, SeccompAction::Trace(MARK), on_match, TargetArch::x86_64).unwrap();
    let prog: seccompiler::BpfProgram = filter.try_into().unwrap();
    prog.iter()
        .map(|f| jail_init::plan::SockFilter {
            code: f.code,
            jt: f.jt,
            jf: f.jf,
            // seccompiler has no user-notification action: a marked TRACE stands for it.
            k: if f.code == 0x06 && f.k == (0x7ff0_0000 | MARK) { RET_USER_NOTIF } else { f.k },
        })
        .collect()
}

fn samples(policy: &jaild::seccomp::PolicyFile) -> Vec<u64> {
    let mut s = vec![0, 1, 2, u64::MAX, 1 << 32, 0xffff_ffff, 0x8000_0000_0000_0000];
    for e in &policy.syscall {
        for c in &e.args {
            for v in [c.value, c.value | 1 << 32, c.value | 1 << 63, c.mask.unwrap_or(0), !c.value] {
                s.extend([v, v.wrapping_add(1), v.wrapping_sub(1)]);
            }
        }
    }
    s.sort();
    s.dedup();
    s
}

#[test]
fn shipped_policies_compile_to_the_same_decisions_as_seccompiler() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    for name in ["python", "node"] {
        let policy = load_policy(&root.join(format!("profiles/seccomp/{name}.toml"))).unwrap();
        let ours = &policy.program;
        let theirs = reference(&policy.file, Action::Allow);
        let theirs_no_effect = reference(&policy.file, Action::NoEffect);
        let samples = samples(&policy.file);
        let mut no_effect = 0;
        let mut checked = 0;
        for nr in 0..=470u32 {
            for (i, s) in samples.iter().enumerate() {
                // Vary one argument at a time, the others taking a neighbouring sample.
                for arg in 0..6 {
                    let mut args = [samples[(i + 1) % samples.len()]; 6];
                    args[arg] = *s;
                    let a = bpf::run(ours, bpf::AUDIT_ARCH_X86_64, nr, args).unwrap();
                    let b = match bpf::run(&theirs, bpf::AUDIT_ARCH_X86_64, nr, args).unwrap() {
                        RET_ALLOW => RET_ALLOW,
                        _ => bpf::run(&theirs_no_effect, bpf::AUDIT_ARCH_X86_64, nr, args).unwrap(),
                    };
                    assert_eq!(a, b, "{name}: nr {nr} ({:?}) args {args:x?}", Sysno::new(nr as usize));
                    assert!(a == RET_ALLOW || a == RET_NO_EFFECT || a == RET_USER_NOTIF);
                    no_effect += usize::from(a == RET_NO_EFFECT);
                    checked += 1;
                }
            }
        }
        assert!(checked > 100_000, "{checked}");
        // The shipped policies answer lock calls without effect: the comparison saw them.
        assert!(no_effect > 0, "{name}: no no_effect decision among {checked}");
        let reference_len = theirs.len() + theirs_no_effect.len();
        assert!(ours.len() < reference_len, "{name}: {} vs {reference_len} instructions", ours.len());
        eprintln!(
            "{name}: {} instructions (seccompiler: {} + {}), {checked} decisions compared, {no_effect} without effect",
            ours.len(),
            theirs.len(),
            theirs_no_effect.len()
        );
    }
}
