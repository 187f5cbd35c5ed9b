//! Counters a node keeps about its own work, reported by the text
//! protocol's `STATS` command. Plain relaxed atomics: each counter is
//! independent and only ever read for display.
//!
//! Also here: [`Timed`], a lock guard that records the longest time its
//! lock was held, and [`Throttled`], a log line that a flood of bad input
//! cannot turn into a flood of log lines.

use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use parking_lot::Mutex;

/// One node's counters.
#[derive(Debug, Default)]
pub struct Stats {
    /// Text-protocol commands answered.
    pub client_requests: AtomicU64,
    /// Peer-protocol requests answered (a batch counts once).
    pub peer_requests: AtomicU64,
    /// Requests that came in batches of several (`transport/lanes.rs`).
    pub peer_batched: AtomicU64,
    /// Calls to other nodes made while serving client requests (lookup
    /// hops, the owner, replicas), not maintenance.
    pub client_peer_calls: AtomicU64,
    /// Key lookups started for clients (GET, PUT, DEL, LOOKUP).
    pub lookups: AtomicU64,
    /// Hops those lookups took, summed.
    pub lookup_hops: AtomicU64,
    /// Client operations that gave up after their deadline.
    pub failed_requests: AtomicU64,
    /// Times a request found the key's owner moving and looked again.
    pub retries: AtomicU64,
    /// Writes that went to the other holders because the owner did not
    /// answer or timed out a moment ago.
    pub writes_around: AtomicU64,
    /// Updates asked for again (a retry, after no answer came) that had
    /// been applied already, here or by the owner before this one, and
    /// were answered as then, not applied twice.
    pub updates_repeated: AtomicU64,
    /// Times a text connection's replies were sent (a batch of pipelined
    /// requests is answered in one).
    pub reply_flushes: AtomicU64,
    /// Keys received from a successor after becoming its predecessor.
    pub keys_received: AtomicU64,
    /// Keys handed to other nodes: to the successor when leaving, or to
    /// their holders when this node should not hold them.
    pub keys_handed_off: AtomicU64,
    /// Entries that anti-entropy found missing or older on one side and
    /// copied.
    pub keys_repaired: AtomicU64,
    /// Digest buckets anti-entropy compared with a replica. Flat once the
    /// copies agree and nothing changes: a ring at rest compares nothing.
    pub buckets_compared: AtomicU64,
    /// Digest buckets anti-entropy found different and exchanged.
    pub buckets_reconciled: AtomicU64,
    /// Connections accepted.
    pub connections: AtomicU64,
    /// Connections turned away with `ERR busy`.
    pub busy_rejections: AtomicU64,
    /// Connections closed for breaking the peer protocol, or peer
    /// messages refused as malformed.
    pub protocol_errors: AtomicU64,
    /// Peer connections refused at the handshake: a wrong or missing
    /// cluster secret, or a handshake that did not finish in time.
    pub handshakes_refused: AtomicU64,
    /// Text-protocol commands refused before `AUTH`.
    pub auth_required: AtomicU64,
    /// Writes and copies refused because the store was full.
    pub out_of_memory: AtomicU64,
    /// Connections or maintenance rounds that panicked, were logged and
    /// ended; the node kept serving.
    pub panics: AtomicU64,
    /// Pauses of this process seen (a stop, not load; see
    /// `chord::health`).
    pub pauses: AtomicU64,
    /// The longest the store lock was held, in microseconds.
    pub longest_store_lock_us: AtomicU64,
}

impl Stats {
    /// Adds `n` to `counter`.
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    /// Every counter, by the name `STATS` gives it.
    fn counters(&self) -> [(&'static str, &AtomicU64); 25] {
        [
            ("client_requests", &self.client_requests),
            ("peer_requests", &self.peer_requests),
            ("client_peer_calls", &self.client_peer_calls),
            ("peer_batched", &self.peer_batched),
            ("lookups", &self.lookups),
            ("lookup_hops", &self.lookup_hops),
            ("failed_requests", &self.failed_requests),
            ("retries", &self.retries),
            ("writes_around", &self.writes_around),
            ("updates_repeated", &self.updates_repeated),
            ("reply_flushes", &self.reply_flushes),
            ("keys_received", &self.keys_received),
            ("keys_handed_off", &self.keys_handed_off),
            ("keys_repaired", &self.keys_repaired),
            ("buckets_compared", &self.buckets_compared),
            ("buckets_reconciled", &self.buckets_reconciled),
            ("connections", &self.connections),
            ("busy_rejections", &self.busy_rejections),
            ("protocol_errors", &self.protocol_errors),
            ("handshakes_refused", &self.handshakes_refused),
            ("auth_required", &self.auth_required),
            ("out_of_memory", &self.out_of_memory),
            ("panics", &self.panics),
            ("pauses", &self.pauses),
            ("longest_store_lock_us", &self.longest_store_lock_us),
        ]
    }

    /// Sets every counter back to 0 (`CONFIG RESETSTAT`).
    pub fn reset(&self) {
        for (_, counter) in self.counters() {
            counter.store(0, Ordering::Relaxed);
        }
    }

    /// Every counter as `(name, value)`, then the derived `mean_hops`.
    pub fn report(&self) -> Vec<(&'static str, String)> {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let lookups = get(&self.lookups);
        let hops = get(&self.lookup_hops);
        let mean = if lookups == 0 {
            0.0
        } else {
            hops as f64 / lookups as f64
        };
        let counters = self.counters();
        let mut rows: Vec<(&'static str, String)> = counters
            .iter()
            .map(|(name, c)| (*name, get(c).to_string()))
            .collect();
        rows.push(("mean_hops", format!("{mean:.3}")));
        let requests = get(&self.client_requests);
        let per_request = if requests == 0 {
            0.0
        } else {
            get(&self.client_peer_calls) as f64 / requests as f64
        };
        rows.push(("peer_calls_per_client_request", format!("{per_request:.2}")));
        rows
    }
}

/// A lock guard (`G`: a mutex's, or a read or write guard of a
/// read-write lock) that, when dropped, raises `longest` to the time the
/// lock was held in microseconds, if that is longer.
pub struct Timed<'a, G> {
    guard: G,
    since: Instant,
    longest: &'a AtomicU64,
}

impl<'a, G> Timed<'a, G> {
    /// Times the hold of `guard`, just taken, into `longest`.
    pub fn new(guard: G, longest: &'a AtomicU64) -> Timed<'a, G> {
        Timed {
            guard,
            since: Instant::now(),
            longest,
        }
    }
}

impl<G: Deref> Deref for Timed<'_, G> {
    type Target = G::Target;
    fn deref(&self) -> &G::Target {
        &self.guard
    }
}

impl<G: DerefMut> DerefMut for Timed<'_, G> {
    fn deref_mut(&mut self) -> &mut G::Target {
        &mut self.guard
    }
}

impl<G> Drop for Timed<'_, G> {
    fn drop(&mut self) {
        let held = u64::try_from(self.since.elapsed().as_micros()).unwrap_or(u64::MAX);
        self.longest.fetch_max(held, Ordering::Relaxed);
    }
}

/// A warning logged at most once per [`Throttled::PERIOD`]; the next one
/// says how many were held back meanwhile. Refusals of bad input use it,
/// so that whoever sends the input cannot fill the disk with our log.
#[derive(Debug, Default)]
pub struct Throttled {
    /// When the last line was written. Held only to read and set it.
    last: Mutex<Option<Instant>>,
    held_back: AtomicU64,
}

impl Throttled {
    /// The least time between two lines.
    pub const PERIOD: Duration = Duration::from_secs(1);

    /// Logs `message()` at warn level under the target `chord::refused`
    /// (so `RUST_LOG=chord::refused=off` silences refusals alone), unless a
    /// line went out less than [`Throttled::PERIOD`] ago.
    pub fn warn(&self, message: impl FnOnce() -> String) {
        {
            let mut last = self.last.lock();
            if last.is_some_and(|at| at.elapsed() < Self::PERIOD) {
                self.held_back.fetch_add(1, Ordering::Relaxed);
                return;
            }
            *last = Some(Instant::now());
        }
        let text = message();
        match self.held_back.swap(0, Ordering::Relaxed) {
            0 => log::warn!(target: "chord::refused", "{text}"),
            n => log::warn!(target: "chord::refused", "{text} ({n} more like it held back)"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_timed_lock_records_its_longest_hold() {
        let lock = parking_lot::RwLock::new(0);
        let longest = AtomicU64::new(0);
        {
            let mut guard = Timed::new(lock.write(), &longest);
            *guard += 1;
            let start = Instant::now();
            while start.elapsed() < Duration::from_millis(2) {}
        }
        assert!(longest.load(Ordering::Relaxed) >= 2_000);
        drop(Timed::new(lock.read(), &longest));
        assert!(
            longest.load(Ordering::Relaxed) >= 2_000,
            "a short hold keeps the longest"
        );
    }

    #[test]
    fn throttled_lines_are_held_back_within_a_period() {
        let log = Throttled::default();
        let mut made = 0;
        for _ in 0..100 {
            log.warn(|| {
                made += 1;
                "refused".into()
            });
        }
        assert_eq!(made, 1);
        assert_eq!(log.held_back.load(Ordering::Relaxed), 99);
    }
}
