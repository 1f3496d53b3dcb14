//! The seccomp allowlist compiler: classic BPF with a binary search over syscall numbers.
//!
//! Written here rather than taken from seccompiler (which the tests keep as the reference the
//! output is checked against) for two reasons. seccompiler has no `SECCOMP_RET_USER_NOTIF`
//! action, which is how the supervisor learns the name of every denied syscall. And it emits
//! one linear chain of comparisons: when a filter is attached the kernel runs it once for
//! every syscall number to build its per-syscall action cache, so a linear 850-instruction
//! program cost about half a millisecond of every jail's start, and every syscall with an
//! argument filter walked the chain at run time. Here a syscall number is found in about
//! log2(n) comparisons.
//!
//! Layout:
//!
//! ```text
//!   arch != x86_64            → USER_NOTIF      (i386 `int 0x80` and any other ABI)
//!   nr has the x32 bit        → USER_NOTIF
//!   binary search on nr       → ALLOW           (allowed without conditions)
//!                             → ERRNO|0         (no effect without conditions)
//!                             → block for nr     (under argument conditions)
//!                             → USER_NOTIF       (everything else)
//!   blocks: alternatives of conditions on 64-bit arguments, in order, each ending in
//!           ALLOW or ERRNO|0; none holds → USER_NOTIF
//! ```
//!
//! Syscalls of another ABI go to the supervisor like any denied call, not to
//! `SECCOMP_RET_KILL_PROCESS`: a kill is silent (a child process killed that way never shows in
//! the report), while a notification carries the architecture and the number, so the supervisor
//! names the call by its own ABI (an i386 number is not an x86_64 one) and stops the whole run
//! without answering it (run.rs). A notification is never executed unless the supervisor says
//! so, which it never does; with no supervisor listening the kernel fails the call with ENOSYS.
//!
//! `ERRNO|0` (`SECCOMP_RET_ERRNO` with data 0) makes the syscall return 0 without running it:
//! the policy's `no_effect` action, decided here without a round trip to the supervisor.

use jail_init::plan::SockFilter;

pub const RET_ALLOW: u32 = 0x7fff_0000;
pub const RET_USER_NOTIF: u32 = 0x7fc0_0000;
pub const RET_KILL_PROCESS: u32 = 0x8000_0000;
/// `SECCOMP_RET_ERRNO`; the low 16 bits are the errno the syscall returns (negated).
pub const RET_ERRNO: u32 = 0x0005_0000;
/// `SECCOMP_RET_ERRNO` with errno 0: the syscall returns 0 and is not executed.
pub const RET_NO_EFFECT: u32 = RET_ERRNO;
pub const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;
pub const X32_SYSCALL_BIT: u32 = 0x4000_0000;

const LD_W_ABS: u16 = 0x20;
const ALU_AND_K: u16 = 0x54;
const JA: u16 = 0x05;
const JEQ_K: u16 = 0x15;
const JGT_K: u16 = 0x25;
const JGE_K: u16 = 0x35;
const JSET_K: u16 = 0x45;
const RET_K: u16 = 0x06;

const OFFSET_NR: u32 = 0;
const OFFSET_ARCH: u32 = 4;
const OFFSET_ARGS: u32 = 16;

/// A comparison of one 64-bit syscall argument with a constant (unsigned).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cmp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    /// `(arg & mask) == value`.
    MaskedEq(u64),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cond {
    pub arg: u8,
    pub cmp: Cmp,
    pub value: u64,
}

/// What the filter does when an alternative's conditions hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The kernel runs the syscall (`SECCOMP_RET_ALLOW`).
    Allow,
    /// The syscall returns 0 without being run (`SECCOMP_RET_ERRNO` with data 0).
    NoEffect,
}

impl Outcome {
    fn ret(self) -> u32 {
        match self {
            Outcome::Allow => RET_ALLOW,
            Outcome::NoEffect => RET_NO_EFFECT,
        }
    }
}

/// The alternatives for one syscall, tried in order: the first whose conditions all hold
/// decides with its outcome; none holds → the supervisor is notified. An empty condition list
/// holds always.
pub type Alternatives = Vec<(Vec<Cond>, Outcome)>;

/// Where a jump goes.
#[derive(Debug, Clone, Copy)]
enum To {
    Next,
    Label(usize),
}

#[derive(Debug, Clone, Copy)]
enum Ins {
    Stmt { code: u16, k: u32 },
    Jump { code: u16, k: u32, jt: To, jf: To },
    Ja(usize),
    Bind(usize),
}

#[derive(Default)]
struct Asm {
    ins: Vec<Ins>,
    labels: usize,
}

impl Asm {
    fn label(&mut self) -> usize {
        self.labels += 1;
        self.labels - 1
    }
    fn bind(&mut self, l: usize) {
        self.ins.push(Ins::Bind(l));
    }
    fn stmt(&mut self, code: u16, k: u32) {
        self.ins.push(Ins::Stmt { code, k });
    }
    fn jump(&mut self, code: u16, k: u32, jt: To, jf: To) {
        self.ins.push(Ins::Jump { code, k, jt, jf });
    }
    fn ja(&mut self, l: usize) {
        self.ins.push(Ins::Ja(l));
    }
    fn ret(&mut self, k: u32) {
        self.stmt(RET_K, k);
    }

    fn finish(self) -> Result<Vec<SockFilter>, String> {
        let mut at = vec![usize::MAX; self.labels];
        let mut pos = 0;
        for i in &self.ins {
            match i {
                Ins::Bind(l) => at[*l] = pos,
                _ => pos += 1,
            }
        }
        let mut out = Vec::with_capacity(pos);
        for i in &self.ins {
            let here = out.len();
            let offset = |to: To| -> Result<u8, String> {
                match to {
                    To::Next => Ok(0),
                    To::Label(l) => at
                        .get(l)
                        .and_then(|&t| t.checked_sub(here + 1))
                        .and_then(|d| u8::try_from(d).ok())
                        .ok_or_else(|| format!("jump from {here} to label {l} is out of reach")),
                }
            };
            match *i {
                Ins::Bind(_) => {}
                Ins::Stmt { code, k } => out.push(SockFilter { code, jt: 0, jf: 0, k }),
                Ins::Jump { code, k, jt, jf } => out.push(SockFilter { code, jt: offset(jt)?, jf: offset(jf)?, k }),
                Ins::Ja(l) => {
                    let d = at[l].checked_sub(here + 1).ok_or("backward jump")?;
                    out.push(SockFilter { code: JA, jt: 0, jf: 0, k: u32::try_from(d).map_err(|e| e.to_string())? });
                }
            }
        }
        Ok(out)
    }
}

/// Compiles the allowlist: syscall number → alternatives. Everything else, and every syscall
/// of another ABI, is answered by the supervisor (`SECCOMP_RET_USER_NOTIF`).
pub fn compile(allow: &[(u32, Alternatives)]) -> Result<Vec<SockFilter>, String> {
    let mut entries: Vec<&(u32, Alternatives)> = allow.iter().collect();
    entries.sort_by_key(|(nr, _)| *nr);
    entries.dedup_by_key(|(nr, _)| *nr);
    if entries.len() != allow.len() {
        return Err("a syscall appears twice".into());
    }

    let mut asm = Asm::default();
    asm.stmt(LD_W_ABS, OFFSET_ARCH);
    // Another ABI (i386 `int 0x80`, and x32 numbers below): its numbers mean other syscalls,
    // so no allowlist decision applies; the supervisor names it and stops the run.
    let arch_ok = asm.label();
    asm.jump(JEQ_K, AUDIT_ARCH_X86_64, To::Label(arch_ok), To::Next);
    asm.ret(RET_USER_NOTIF);
    asm.bind(arch_ok);
    asm.stmt(LD_W_ABS, OFFSET_NR);
    let not_x32 = asm.label();
    asm.jump(JSET_K, X32_SYSCALL_BIT, To::Next, To::Label(not_x32));
    asm.ret(RET_USER_NOTIF);
    asm.bind(not_x32);

    let mut blocks = Vec::new();
    tree(&mut asm, &entries, &mut blocks);
    for (label, alternatives) in blocks {
        asm.bind(label);
        block(&mut asm, alternatives);
    }
    let program = asm.finish()?;
    if program.len() > 4096 {
        return Err(format!("{} instructions exceed the kernel's limit of 4096", program.len()));
    }
    Ok(program)
}

/// Binary search over sorted syscall numbers; the accumulator holds the number. Every path
/// ends in a return or a jump to a block, so subtrees can be laid out one after the other.
fn tree<'a>(asm: &mut Asm, entries: &[&'a (u32, Alternatives)], blocks: &mut Vec<(usize, &'a Alternatives)>) {
    if entries.len() <= 4 {
        for (nr, alternatives) in entries.iter().map(|e| (e.0, &e.1)) {
            let miss = asm.label();
            asm.jump(JEQ_K, nr, To::Next, To::Label(miss));
            if let Some((_, outcome)) = alternatives.first().filter(|(conds, _)| conds.is_empty()) {
                // The first alternative always holds: it decides.
                asm.ret(outcome.ret());
            } else {
                let b = asm.label();
                blocks.push((b, alternatives));
                asm.ja(b);
            }
            asm.bind(miss);
        }
        asm.ret(RET_USER_NOTIF);
        return;
    }
    let (left, right) = entries.split_at(entries.len() / 2);
    let right_label = asm.label();
    let left_label = asm.label();
    // nr >= first of the right half → the right half (far away: an unconditional jump).
    asm.jump(JGE_K, right[0].0, To::Next, To::Label(left_label));
    asm.ja(right_label);
    asm.bind(left_label);
    tree(asm, left, blocks);
    asm.bind(right_label);
    tree(asm, right, blocks);
}

fn block(asm: &mut Asm, alternatives: &Alternatives) {
    for (conditions, outcome) in alternatives {
        let fail = asm.label();
        for c in conditions {
            condition(asm, c, fail);
        }
        asm.ret(outcome.ret());
        asm.bind(fail);
    }
    asm.ret(RET_USER_NOTIF);
}

/// Falls through when the condition holds, jumps to `fail` when it does not. 64-bit values are
/// compared as high word, then low word (x86_64 is little-endian: the low word comes first).
fn condition(asm: &mut Asm, c: &Cond, fail: usize) {
    let lo_at = OFFSET_ARGS + 8 * u32::from(c.arg);
    let hi_at = lo_at + 4;
    let (v_hi, v_lo) = ((c.value >> 32) as u32, c.value as u32);
    let pass = asm.label();
    let (f, p) = (To::Label(fail), To::Label(pass));
    match c.cmp {
        Cmp::Eq => {
            asm.stmt(LD_W_ABS, hi_at);
            asm.jump(JEQ_K, v_hi, To::Next, f);
            asm.stmt(LD_W_ABS, lo_at);
            asm.jump(JEQ_K, v_lo, To::Next, f);
        }
        Cmp::Ne => {
            asm.stmt(LD_W_ABS, hi_at);
            asm.jump(JEQ_K, v_hi, To::Next, p);
            asm.stmt(LD_W_ABS, lo_at);
            asm.jump(JEQ_K, v_lo, f, To::Next);
        }
        Cmp::MaskedEq(mask) => {
            let (m_hi, m_lo) = ((mask >> 32) as u32, mask as u32);
            asm.stmt(LD_W_ABS, hi_at);
            asm.stmt(ALU_AND_K, m_hi);
            asm.jump(JEQ_K, v_hi, To::Next, f);
            asm.stmt(LD_W_ABS, lo_at);
            asm.stmt(ALU_AND_K, m_lo);
            asm.jump(JEQ_K, v_lo, To::Next, f);
        }
        Cmp::Gt | Cmp::Ge => {
            asm.stmt(LD_W_ABS, hi_at);
            asm.jump(JGT_K, v_hi, p, To::Next);
            asm.jump(JEQ_K, v_hi, To::Next, f);
            asm.stmt(LD_W_ABS, lo_at);
            asm.jump(if c.cmp == Cmp::Gt { JGT_K } else { JGE_K }, v_lo, To::Next, f);
        }
        Cmp::Lt | Cmp::Le => {
            asm.stmt(LD_W_ABS, hi_at);
            asm.jump(JGT_K, v_hi, f, To::Next);
            asm.jump(JEQ_K, v_hi, To::Next, p);
            asm.stmt(LD_W_ABS, lo_at);
            // lo < v ⇔ !(lo >= v); lo <= v ⇔ !(lo > v)
            asm.jump(if c.cmp == Cmp::Lt { JGE_K } else { JGT_K }, v_lo, f, To::Next);
        }
    }
    asm.bind(pass);
}

/// Runs a seccomp program on one syscall, as the kernel would: for tests and for `verify`.
pub fn run(program: &[SockFilter], arch: u32, nr: u32, args: [u64; 6]) -> Result<u32, String> {
    let mut data = [0u8; 64];
    data[0..4].copy_from_slice(&nr.to_le_bytes());
    data[4..8].copy_from_slice(&arch.to_le_bytes());
    for (i, a) in args.iter().enumerate() {
        data[16 + 8 * i..24 + 8 * i].copy_from_slice(&a.to_le_bytes());
    }
    let mut acc: u32 = 0;
    let mut pc = 0usize;
    for _ in 0..program.len() + 1 {
        let f = program.get(pc).ok_or_else(|| format!("fell off the program at {pc}"))?;
        pc += 1;
        match f.code {
            LD_W_ABS => {
                let at = f.k as usize;
                let word = data.get(at..at + 4).ok_or("load out of range")?;
                acc = u32::from_le_bytes([word[0], word[1], word[2], word[3]]);
            }
            ALU_AND_K => acc &= f.k,
            JA => pc += f.k as usize,
            JEQ_K | JGT_K | JGE_K | JSET_K => {
                let taken = match f.code {
                    JEQ_K => acc == f.k,
                    JGT_K => acc > f.k,
                    JGE_K => acc >= f.k,
                    _ => acc & f.k != 0,
                };
                pc += usize::from(if taken { f.jt } else { f.jf });
            }
            RET_K => return Ok(f.k),
            other => return Err(format!("unsupported instruction {other:#x}")),
        }
    }
    Err("no return".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cond(arg: u8, cmp: Cmp, value: u64) -> Cond {
        Cond { arg, cmp, value }
    }

    fn allow(conds: Vec<Cond>) -> (Vec<Cond>, Outcome) {
        (conds, Outcome::Allow)
    }

    #[test]
    fn other_abis_and_unknown_numbers_are_notified() {
        let p = compile(&[(0, vec![allow(vec![])]), (1, vec![(vec![], Outcome::NoEffect)])]).unwrap();
        assert_eq!(run(&p, AUDIT_ARCH_X86_64, 0, [0; 6]).unwrap(), RET_ALLOW);
        assert_eq!(run(&p, AUDIT_ARCH_X86_64, 1, [0; 6]).unwrap(), RET_NO_EFFECT);
        // i386 0 and 1 (restart_syscall, exit) are not x86_64's read and write: no allowlist
        // decision applies to them, nor to an x32 number.
        for nr in [0, 1, 2] {
            assert_eq!(run(&p, 0x4000_0003, nr, [0; 6]).unwrap(), RET_USER_NOTIF); // i386
            assert_eq!(run(&p, AUDIT_ARCH_X86_64, X32_SYSCALL_BIT | nr, [0; 6]).unwrap(), RET_USER_NOTIF);
        }
        assert_eq!(run(&p, AUDIT_ARCH_X86_64, 2, [0; 6]).unwrap(), RET_USER_NOTIF);
    }

    #[test]
    fn alternatives_decide_in_order_with_their_outcome() {
        // fcntl-like: 1 and 2 allowed, 6 and 7 without effect, the rest notified.
        let alts = vec![
            allow(vec![cond(1, Cmp::Eq, 1)]),
            (vec![cond(1, Cmp::Eq, 6)], Outcome::NoEffect),
            allow(vec![cond(1, Cmp::Eq, 2)]),
            (vec![cond(1, Cmp::Eq, 7)], Outcome::NoEffect),
        ];
        let p = compile(&[(72, alts)]).unwrap();
        let r = |cmd| run(&p, AUDIT_ARCH_X86_64, 72, [3, cmd, 0, 0, 0, 0]).unwrap();
        assert_eq!(
            [r(1), r(2), r(6), r(7), r(8)],
            [RET_ALLOW, RET_ALLOW, RET_NO_EFFECT, RET_NO_EFFECT, RET_USER_NOTIF]
        );
        // An unconditional first alternative decides alone, whatever follows.
        let p = compile(&[(73, vec![(vec![], Outcome::NoEffect)])]).unwrap();
        assert_eq!(run(&p, AUDIT_ARCH_X86_64, 73, [9; 6]).unwrap(), RET_NO_EFFECT);
    }

    #[test]
    fn comparisons_are_64_bit_and_unsigned() {
        let big = 0x1_0000_0005u64;
        let cases: Vec<(Cmp, u64)> = vec![
            (Cmp::Eq, big),
            (Cmp::Ne, big),
            (Cmp::Lt, big),
            (Cmp::Le, big),
            (Cmp::Gt, big),
            (Cmp::Ge, big),
            (Cmp::MaskedEq(0xffff_0000_0000_00ff), 0x0001_0000_0000_0005),
        ];
        let samples = [0, 4, 5, 6, big - 1, big, big + 1, 0x5, 0x2_0000_0005, u64::MAX, 0x0001_0000_1234_5605];
        for (cmp, value) in cases {
            let p = compile(&[(7, vec![allow(vec![cond(2, cmp, value)])])]).unwrap();
            for s in samples {
                let expect = match cmp {
                    Cmp::Eq => s == value,
                    Cmp::Ne => s != value,
                    Cmp::Lt => s < value,
                    Cmp::Le => s <= value,
                    Cmp::Gt => s > value,
                    Cmp::Ge => s >= value,
                    Cmp::MaskedEq(m) => s & m == value,
                };
                let got = run(&p, AUDIT_ARCH_X86_64, 7, [0, 0, s, 0, 0, 0]).unwrap();
                assert_eq!(got == RET_ALLOW, expect, "{cmp:?} {value:#x} on {s:#x}");
            }
        }
    }

    #[test]
    fn alternatives_are_ored_and_conditions_anded() {
        let alts = vec![allow(vec![cond(0, Cmp::Eq, 1), cond(1, Cmp::Eq, 2)]), allow(vec![cond(0, Cmp::Eq, 9)])];
        let p = compile(&[(3, alts)]).unwrap();
        let r = |a0, a1| run(&p, AUDIT_ARCH_X86_64, 3, [a0, a1, 0, 0, 0, 0]).unwrap();
        assert_eq!(r(1, 2), RET_ALLOW);
        assert_eq!(r(1, 3), RET_USER_NOTIF);
        assert_eq!(r(9, 0), RET_ALLOW);
        assert_eq!(r(2, 2), RET_USER_NOTIF);
    }

    #[test]
    fn large_tables_stay_in_reach_and_find_every_number() {
        let allow: Vec<(u32, Alternatives)> = (0..450u32)
            .filter(|n| n % 3 != 0)
            .map(|n| {
                (n, if n % 5 == 0 { vec![allow(vec![cond(0, Cmp::Eq, u64::from(n))])] } else { vec![allow(vec![])] })
            })
            .collect();
        let p = compile(&allow).unwrap();
        for n in 0..460u32 {
            let expect_allowed = n < 450 && n % 3 != 0;
            let got = run(&p, AUDIT_ARCH_X86_64, n, [u64::from(n), 0, 0, 0, 0, 0]).unwrap();
            assert_eq!(got == RET_ALLOW, expect_allowed, "nr {n}");
            if expect_allowed && n % 5 == 0 {
                assert_eq!(
                    run(&p, AUDIT_ARCH_X86_64, n, [0; 6]).unwrap(),
                    if n == 0 { RET_ALLOW } else { RET_USER_NOTIF }
                );
            }
        }
    }
}
