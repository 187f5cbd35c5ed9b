//! What a node knows about liveness beyond the paper's failure rule: its
//! own (was this process paused, so that its view may be stale?) and its
//! peers' (which ones timed out a moment ago?). Not in the paper, whose
//! nodes either answer or are dead; real processes also freeze (SIGSTOP,
//! a swapped-out host, a long GC pause elsewhere) and come back.
//!
//! - **Pauses.** A heartbeat ([`Ring::heartbeat`]), ticked every
//!   [`crate::maintenance::HEARTBEAT`] by a thread of its own in a server and once per round in
//!   the in-memory tests, notes the node's clock. A gap longer than
//!   [`pause_limit`] means the process did not run for that long, unless
//!   the heartbeat's thread spent that time waiting for a CPU: on a busy
//!   machine a thread can be ready to run and not be run for seconds, and
//!   that is load, not a pause. So the heartbeat is told how long its
//!   thread waited to run (a server reads it from the kernel's scheduler
//!   statistics), and only the gap beyond that counts. A stopped process
//!   (SIGSTOP) waits for no CPU, so its whole gap counts; and a server
//!   also hears the SIGCONT that resumes it ([`Ring::watch_resumes`]),
//!   which tells its workers at once, before the heartbeat runs again.
//!   (In the in-memory tests, with no signals, a worker that sees the beat
//!   overdue takes it for a pause.) From the
//!   moment a pause is seen the node serves no key and
//!   coordinates no client request, and its next maintenance round marks
//!   its whole arc for copying back from its successors, newest version
//!   winning ([`Ring::resync_after_pause`]). So a node that wakes never
//!   answers with a value from before the freeze, and never acts on a
//!   client request that waited out the freeze in its socket buffer (the
//!   client gave up on it; running it now could overwrite a newer
//!   acknowledged write).
//! - **Suspects.** A peer whose call timed out is avoided for
//!   [`SUSPECT_FOR`]: lookups offer it last, and reads and writes whose
//!   owner it is go straight to the other holders. Any answer clears it.
//!   This is softer than the failure rule (`Ring::has_failed`), which
//!   changes ownership and so waits for several timeouts in a row.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use log::warn;

use super::ring::Ring;
use crate::id::NodeRef;

/// How long a peer that timed out is avoided.
pub const SUSPECT_FOR: Duration = Duration::from_secs(2);

/// The most suspects remembered: a bound on what timeouts can make a node
/// keep.
const MAX_SUSPECTS: usize = 1024;

/// A gap between heartbeats longer than this is a pause: four periods of
/// stabilization, and never under a second (a busy machine delays
/// threads by tens of milliseconds, not seconds).
pub fn pause_limit(stabilize_interval: Duration) -> Duration {
    (4 * stabilize_interval).max(Duration::from_secs(1))
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

impl Ring {
    /// Notes that the node is running now. A gap since the last note
    /// longer than [`pause_limit`] is a pause, logged and acted on; of the
    /// gap, the time the heartbeat's thread spent `waiting` for a CPU since
    /// the last note does not count: that was load.
    pub fn heartbeat(&self, waiting: Duration) {
        let now = micros(self.config.clock.elapsed());
        let last = self.health.beat.load(Ordering::Acquire);
        let gap = now.saturating_sub(last).saturating_sub(micros(waiting));
        if last != 0 && gap > micros(self.pause_limit()) {
            self.note_pause(now, &format!("did not run for {:.1} s", gap as f64 / 1e6));
        }
        self.health.beat.store(now, Ordering::Release);
    }

    /// Records a pause seen at `now`: the flag first, then the beat, so
    /// that whoever reads a fresh beat also sees the flag.
    fn note_pause(&self, now: u64, what: &str) {
        self.health.woke.store(now, Ordering::Release);
        self.health.paused.store(true, Ordering::Release);
        crate::stats::Stats::add(&self.stats.pauses, 1);
        warn!(
            "{}: this process {what}; serving no key until its arc is copied back",
            self.me.addr
        );
    }

    /// Hands the node a flag that a SIGCONT handler sets: the process was
    /// stopped and now runs again. Workers then see the pause at once,
    /// and an overdue heartbeat alone no longer counts as one (it may be
    /// load). Set once; later calls are ignored.
    pub fn watch_resumes(&self, resumed: Arc<AtomicBool>) {
        let _ = self.health.resumed.set(resumed);
    }

    fn pause_limit(&self) -> Duration {
        pause_limit(self.config.stabilize_interval)
    }

    /// Whether this node may have been paused and not yet caught up: a
    /// pause was seen, or the heartbeat is overdue (the process may just
    /// have woken, before its heartbeat thread ran), or a pause was seen
    /// less than one pause limit ago (requests that waited out the pause
    /// in socket buffers are still being read).
    pub(crate) fn paused(&self) -> bool {
        if self.health.paused.load(Ordering::Acquire) {
            return true;
        }
        let now = micros(self.config.clock.elapsed());
        let limit = micros(self.pause_limit());
        let beat = self.health.beat.load(Ordering::Acquire);
        let woke = self.health.woke.load(Ordering::Acquire);
        let overdue = match self.health.resumed.get() {
            Some(resumed) => {
                if resumed.swap(false, Ordering::AcqRel) {
                    self.note_pause(now, "was stopped and resumed (SIGCONT)");
                    return true;
                }
                false
            }
            None => beat != 0 && now.saturating_sub(beat) > limit,
        };
        overdue || (woke != 0 && now.saturating_sub(woke) < limit)
    }

    /// After a pause: marks the whole arc for copying back from the
    /// successors before it is served again (as a restart does; see
    /// `Handover::restarted`). Called at the start of a maintenance round.
    pub fn resync_after_pause(&self) {
        if !self.health.paused.swap(false, Ordering::AcqRel) {
            return;
        }
        let now = self.config.clock.elapsed();
        let mut links = self.links.write();
        // Wait for a predecessor and a full period, as after a restart:
        // the ring may have moved on while this node was away.
        links.handover.restarted = Some(now);
        links.handover.unsynced = None;
        links.handover.refilling = false;
    }

    /// Records that a call to `addr` timed out: it is avoided for
    /// [`SUSPECT_FOR`].
    pub(crate) fn suspect(&self, addr: &str) {
        let until = self.config.clock.elapsed() + SUSPECT_FOR;
        let mut suspects = self.health.suspects.lock();
        if suspects.len() >= MAX_SUSPECTS {
            let now = self.config.clock.elapsed();
            suspects.retain(|_, u| *u > now);
        }
        if suspects.len() < MAX_SUSPECTS {
            suspects.insert(addr.to_string(), until);
        }
        self.health
            .suspect_count
            .store(suspects.len(), Ordering::Release);
    }

    /// Records that `addr` answered.
    pub(crate) fn clear_suspect(&self, addr: &str) {
        if self.health.suspect_count.load(Ordering::Acquire) == 0 {
            return;
        }
        let mut suspects = self.health.suspects.lock();
        suspects.remove(addr);
        self.health
            .suspect_count
            .store(suspects.len(), Ordering::Release);
    }

    /// Whether `node` timed out a moment ago.
    pub(crate) fn is_suspect(&self, node: &NodeRef) -> bool {
        if self.health.suspect_count.load(Ordering::Acquire) == 0 {
            return false;
        }
        let suspects = self.health.suspects.lock();
        suspects
            .get(&*node.addr)
            .is_some_and(|until| *until > self.config.clock.elapsed())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    use std::time::Duration;

    use super::pause_limit;
    use crate::chord::ring::Ring;
    use crate::clock::VirtualClock;
    use crate::config::NodeConfig;
    use crate::id::{IdSpace, NodeRef};
    use crate::stats::Stats;
    use crate::transport::MemoryNetwork;

    fn ring_on(clock: &Arc<VirtualClock>) -> Ring {
        let space = IdSpace::new(8).unwrap();
        let mut config = NodeConfig::new(space);
        config.clock = clock.clone();
        let me = NodeRef::new(space, "n1");
        Ring::new(me, config, MemoryNetwork::new(), Arc::new(Stats::default()))
    }

    #[test]
    fn a_late_beat_is_a_pause_only_for_the_time_not_spent_waiting_to_run() {
        let clock = Arc::new(VirtualClock::new(1));
        let ring = ring_on(&clock);
        let limit = pause_limit(ring.config.stabilize_interval);
        ring.heartbeat(Duration::ZERO);
        // Five limits late, but the thread was ready to run all along: load.
        clock.advance(5 * limit);
        ring.heartbeat(5 * limit - Duration::from_millis(10));
        assert!(!ring.paused(), "load was taken for a pause");
        // As late, and it was not waiting to run: the process was stopped.
        clock.advance(5 * limit);
        ring.heartbeat(Duration::ZERO);
        assert!(ring.paused());
        assert_eq!(ring.stats.pauses.load(Ordering::Relaxed), 1);
    }

    #[test]
    fn a_resume_is_seen_at_once_and_an_overdue_beat_alone_is_not() {
        let clock = Arc::new(VirtualClock::new(1));
        let ring = ring_on(&clock);
        let limit = pause_limit(ring.config.stabilize_interval);
        let resumed = Arc::new(AtomicBool::new(false));
        ring.watch_resumes(resumed.clone());
        ring.heartbeat(Duration::ZERO);
        // The heartbeat thread starved past the limit: a worker asking now
        // cannot tell, and must not refuse clients for it.
        clock.advance(2 * limit);
        assert!(!ring.paused(), "an overdue beat was taken for a pause");
        // SIGCONT: stopped and resumed, seen before the next beat.
        resumed.store(true, Ordering::Release);
        assert!(ring.paused());
    }
}
