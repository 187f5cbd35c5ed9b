//! What a node knows about liveness beyond the paper's failure rule: its
//! own (was this process paused, so that its view may be stale?) and its
//! peers' (which ones timed out a moment ago?). Not in the paper, whose
//! nodes either answer or are dead; real processes also freeze (SIGSTOP,
//! a swapped-out host, a long GC pause elsewhere) and come back.
//!
//! - **Pauses.** A heartbeat ([`Ring::heartbeat`]), ticked every
//!   [`HEARTBEAT`] by a thread of its own in a server and once per round in
//!   the in-memory tests, notes the node's clock. A gap longer than
//!   [`pause_limit`] means the process did not run for that long. From the
//!   moment a gap is visible (to anyone: a worker sees the stale beat
//!   before the heartbeat thread runs again) the node serves no key and
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

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use log::warn;
use parking_lot::Mutex;

use super::ring::Ring;
use crate::id::NodeRef;

/// How often a server's heartbeat ticks.
pub const HEARTBEAT: Duration = Duration::from_millis(100);

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

/// The liveness state of a node. Atomics and one short-held lock; never
/// held across a call.
#[derive(Debug, Default)]
pub(crate) struct Health {
    /// The node's clock at the last heartbeat, in microseconds.
    beat: AtomicU64,
    /// A pause was seen and the arc has not been marked for copying back.
    paused: AtomicBool,
    /// When (on the node's clock) the last pause was seen.
    woke: AtomicU64,
    /// Peers that timed out, by address, with the time they stop being
    /// suspected. Held only to look up or update an entry.
    suspects: Mutex<HashMap<String, Duration>>,
    /// How many entries `suspects` has, written under its lock: every
    /// client request asks about a suspect, and while there are none (as
    /// nearly always) the answer needs no lock that all workers share.
    suspect_count: AtomicUsize,
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

impl Ring {
    /// Notes that the node is running now; a gap since the last note
    /// longer than [`pause_limit`] is a pause, logged and acted on.
    pub fn heartbeat(&self) {
        let now = micros(self.config.clock.elapsed());
        let last = self.health.beat.load(Ordering::Acquire);
        let gap = now.saturating_sub(last);
        if last != 0 && gap > micros(self.pause_limit()) {
            // The flag first, then the beat: whoever reads a fresh beat
            // also sees the flag.
            self.health.woke.store(now, Ordering::Release);
            self.health.paused.store(true, Ordering::Release);
            warn!(
                "{}: this process did not run for {:.1} s; serving no key until its arc is copied back",
                self.me.addr,
                gap as f64 / 1e6
            );
        }
        self.health.beat.store(now, Ordering::Release);
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
        (beat != 0 && now.saturating_sub(beat) > limit)
            || (woke != 0 && now.saturating_sub(woke) < limit)
    }

    /// After a pause: marks the whole arc for copying back from the
    /// successors before it is served again (as a restart does; see
    /// `Links::restarted`). Called at the start of a maintenance round.
    pub fn resync_after_pause(&self) {
        if !self.health.paused.swap(false, Ordering::AcqRel) {
            return;
        }
        let now = self.config.clock.elapsed();
        let mut links = self.links.write();
        // Wait for a predecessor and a full period, as after a restart:
        // the ring may have moved on while this node was away.
        links.restarted = Some(now);
        links.unsynced = None;
        links.refilling = false;
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
            .get(&node.addr)
            .is_some_and(|until| *until > self.config.clock.elapsed())
    }
}
