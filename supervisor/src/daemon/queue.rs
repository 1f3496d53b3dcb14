//! The run queue: bounded, FIFO per caller, round-robin across callers, with a global
//! concurrency limit and per-caller limits on running and queued runs.
//!
//! Pure bookkeeping, no I/O and no clock: the scheduler (`runs`) calls [`FairQueue::push`] when
//! a run is submitted, [`FairQueue::start_next`] to pick what starts next whenever a slot may be free,
//! and [`FairQueue::finished`] when a run ends.
//!
//! Fairness: `start_next` starts the oldest run of the caller served least recently among those that
//! may start a run now (under their own running limit); a caller that has never been served (or
//! has been idle) goes first, ties by arrival. That is round-robin across callers: a caller
//! that floods the queue gets one start per turn like everyone else, and its backlog delays
//! only itself; a caller arriving in the middle of a flood is served at the next start.
#![forbid(unsafe_code)]

use std::collections::{BTreeMap, VecDeque};

/// Who a run belongs to for fairness and limits: the caller's uid.
pub type CallerId = u32;

/// One caller's limits; 0 means no limit of its own (the global ones still apply).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CallerLimits {
    pub max_running: usize,
    pub max_queued: usize,
}

/// Why a run was not queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The queue holds `capacity` runs.
    Full,
    /// This caller has `max_queued` runs queued.
    CallerFull,
}

#[derive(Debug)]
struct Caller<T> {
    queued: VecDeque<T>,
    running: usize,
    limits: CallerLimits,
    /// The turn at which this caller last had a run started (0: never since it arrived).
    last_served: u64,
    /// When the caller (re)appeared, to break ties.
    arrived: u64,
}

#[derive(Debug)]
pub struct FairQueue<T> {
    capacity: usize,
    concurrency: usize,
    callers: BTreeMap<CallerId, Caller<T>>,
    /// Counts starts and arrivals.
    turn: u64,
    queued: usize,
    running: usize,
}

impl<T> FairQueue<T> {
    /// A queue holding at most `capacity` waiting runs, starting at most `concurrency` at once.
    pub fn new(capacity: usize, concurrency: usize) -> FairQueue<T> {
        FairQueue {
            capacity,
            concurrency: concurrency.max(1),
            callers: BTreeMap::new(),
            turn: 0,
            queued: 0,
            running: 0,
        }
    }

    /// Queues `item` at the back of `caller`'s FIFO. The limits given replace the caller's
    /// previous ones (the policy may have been re-read).
    pub fn push(&mut self, caller: CallerId, limits: CallerLimits, item: T) -> Result<(), (Refusal, T)> {
        if self.queued >= self.capacity {
            return Err((Refusal::Full, item));
        }
        self.turn += 1;
        let turn = self.turn;
        let entry = self.callers.entry(caller).or_insert_with(|| Caller {
            queued: VecDeque::new(),
            running: 0,
            limits,
            last_served: 0,
            arrived: turn,
        });
        entry.limits = limits;
        if limits.max_queued > 0 && entry.queued.len() >= limits.max_queued {
            self.forget_if_idle(caller);
            return Err((Refusal::CallerFull, item));
        }
        entry.queued.push_back(item);
        self.queued += 1;
        Ok(())
    }

    /// The next run to start, if a slot is free and some caller may start one; it counts as
    /// running from now until [`FairQueue::finished`].
    pub fn start_next(&mut self) -> Option<(CallerId, T)> {
        if self.running >= self.concurrency {
            return None;
        }
        let (&id, _) = self
            .callers
            .iter()
            .filter(|(_, c)| !c.queued.is_empty() && (c.limits.max_running == 0 || c.running < c.limits.max_running))
            .min_by_key(|(_, c)| (c.last_served, c.arrived))?;
        self.turn += 1;
        let caller = self.callers.get_mut(&id)?;
        let item = caller.queued.pop_front()?;
        caller.running += 1;
        caller.last_served = self.turn;
        self.queued -= 1;
        self.running += 1;
        Some((id, item))
    }

    /// A run of `caller` that [`FairQueue::start_next`] returned has ended.
    pub fn finished(&mut self, caller: CallerId) {
        if let Some(c) = self.callers.get_mut(&caller) {
            if c.running > 0 {
                c.running -= 1;
                self.running -= 1;
            }
        }
        self.forget_if_idle(caller);
    }

    /// Takes the first queued run that `matches` out of the queue (a cancel).
    pub fn remove(&mut self, mut matches: impl FnMut(&T) -> bool) -> Option<(CallerId, T)> {
        let (id, index) =
            self.callers.iter().find_map(|(id, c)| c.queued.iter().position(&mut matches).map(|i| (*id, i)))?;
        let caller = self.callers.get_mut(&id)?;
        let item = caller.queued.remove(index)?;
        self.queued -= 1;
        self.forget_if_idle(id);
        Some((id, item))
    }

    /// Empties the queue (shutdown); running runs stay counted.
    pub fn drain(&mut self) -> Vec<(CallerId, T)> {
        let mut out = Vec::with_capacity(self.queued);
        for (id, c) in self.callers.iter_mut() {
            out.extend(c.queued.drain(..).map(|item| (*id, item)));
        }
        self.queued = 0;
        self.callers.retain(|_, c| c.running > 0);
        out
    }

    fn forget_if_idle(&mut self, id: CallerId) {
        if self.callers.get(&id).is_some_and(|c| c.running == 0 && c.queued.is_empty()) {
            self.callers.remove(&id);
        }
    }

    pub fn queued(&self) -> usize {
        self.queued
    }

    pub fn running(&self) -> usize {
        self.running
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    pub fn concurrency(&self) -> usize {
        self.concurrency
    }

    pub fn queued_by(&self, caller: CallerId) -> usize {
        self.callers.get(&caller).map_or(0, |c| c.queued.len())
    }

    pub fn running_by(&self, caller: CallerId) -> usize {
        self.callers.get(&caller).map_or(0, |c| c.running)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const FREE: CallerLimits = CallerLimits { max_running: 0, max_queued: 0 };

    fn start_all<T>(q: &mut FairQueue<T>) -> Vec<(CallerId, T)> {
        std::iter::from_fn(|| q.start_next()).collect()
    }

    #[test]
    fn fifo_for_one_caller() {
        let mut q = FairQueue::new(10, 1);
        for i in 0..3 {
            q.push(7, FREE, i).unwrap();
        }
        let mut order = Vec::new();
        while let Some((c, i)) = q.start_next() {
            order.push(i);
            q.finished(c);
        }
        assert_eq!(order, [0, 1, 2]);
        assert_eq!((q.queued(), q.running()), (0, 0));
    }

    #[test]
    fn round_robin_across_callers_a_flood_does_not_starve_others() {
        let mut q = FairQueue::new(100, 1);
        for i in 0..50 {
            q.push(1, FREE, format!("a{i}")).unwrap();
        }
        q.push(2, FREE, "b0".to_string()).unwrap();
        q.push(3, FREE, "c0".to_string()).unwrap();
        q.push(2, FREE, "b1".to_string()).unwrap();
        let mut order = Vec::new();
        while let Some((c, item)) = q.start_next() {
            order.push(item);
            q.finished(c);
        }
        assert_eq!(&order[..6], ["a0", "b0", "c0", "a1", "b1", "a2"]);
        assert_eq!(order.len(), 53);
    }

    #[test]
    fn a_late_caller_is_served_next_turn() {
        let mut q = FairQueue::new(100, 1);
        for i in 0..10 {
            q.push(1, FREE, i).unwrap();
        }
        let (c, first) = q.start_next().unwrap();
        assert_eq!((c, first), (1, 0));
        // Caller 2 arrives while caller 1's flood runs: it goes next, not after the flood.
        q.push(2, FREE, 100).unwrap();
        q.finished(1);
        assert_eq!(q.start_next().unwrap(), (2, 100));
    }

    #[test]
    fn concurrency_limit() {
        let mut q = FairQueue::new(10, 2);
        for i in 0..5 {
            q.push(i, FREE, i).unwrap();
        }
        assert_eq!(start_all(&mut q).len(), 2);
        assert_eq!(q.running(), 2);
        q.finished(0);
        assert_eq!(q.start_next().unwrap(), (2, 2));
        assert!(q.start_next().is_none());
    }

    #[test]
    fn per_caller_running_limit_lets_others_pass() {
        let mut q = FairQueue::new(10, 4);
        let one = CallerLimits { max_running: 1, max_queued: 0 };
        for i in 0..3 {
            q.push(1, one, i).unwrap();
        }
        q.push(2, FREE, 10).unwrap();
        q.push(2, FREE, 11).unwrap();
        let started = start_all(&mut q);
        // Caller 1 gets one slot; caller 2 takes the rest it has.
        assert_eq!(started, [(1, 0), (2, 10), (2, 11)]);
        assert_eq!(q.running_by(1), 1);
        assert_eq!(q.queued_by(1), 2);
        q.finished(1);
        assert_eq!(q.start_next().unwrap(), (1, 1));
    }

    #[test]
    fn capacity_and_per_caller_queue_limit() {
        let mut q = FairQueue::new(3, 1);
        let two = CallerLimits { max_running: 0, max_queued: 2 };
        q.push(1, two, 0).unwrap();
        q.push(1, two, 1).unwrap();
        assert_eq!(q.push(1, two, 2).unwrap_err().0, Refusal::CallerFull);
        q.push(2, FREE, 3).unwrap();
        assert_eq!(q.push(3, FREE, 4).unwrap_err().0, Refusal::Full);
        // Running runs do not take queue places.
        let (c, _) = q.start_next().unwrap();
        assert_eq!(c, 1);
        q.push(3, FREE, 4).unwrap();
        assert_eq!(q.queued(), 3);
    }

    #[test]
    fn remove_and_drain() {
        let mut q = FairQueue::new(10, 1);
        q.push(1, FREE, "a").unwrap();
        q.push(1, FREE, "b").unwrap();
        q.push(2, FREE, "c").unwrap();
        assert_eq!(q.remove(|x| *x == "c"), Some((2, "c")));
        assert_eq!(q.remove(|x| *x == "zzz"), None);
        assert_eq!(q.queued(), 2);
        let (c, a) = q.start_next().unwrap();
        assert_eq!(a, "a");
        assert_eq!(q.drain(), [(1, "b")]);
        assert_eq!(q.queued(), 0);
        assert!(q.start_next().is_none());
        q.finished(c);
        assert_eq!(q.running(), 0);
        assert!(q.callers.is_empty());
    }
}
