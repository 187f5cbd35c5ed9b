//! Counters a node keeps about its own work, reported by the text
//! protocol's `STATS` command. Plain relaxed atomics: each counter is
//! independent and only ever read for display.

use std::sync::atomic::{AtomicU64, Ordering};

/// One node's counters.
#[derive(Debug, Default)]
pub struct Stats {
    /// Text-protocol commands answered.
    pub client_requests: AtomicU64,
    /// Peer-protocol requests answered.
    pub peer_requests: AtomicU64,
    /// Key lookups started for clients (GET, PUT, DEL, LOOKUP).
    pub lookups: AtomicU64,
    /// Hops those lookups took, summed.
    pub lookup_hops: AtomicU64,
    /// Client operations that gave up after their deadline.
    pub failed_requests: AtomicU64,
    /// Times a request found the key's owner moving and looked again.
    pub retries: AtomicU64,
    /// Keys received from a successor after becoming its predecessor.
    pub keys_received: AtomicU64,
    /// Keys handed to other nodes: to the successor when leaving, or to
    /// their holders when this node should not hold them.
    pub keys_handed_off: AtomicU64,
    /// Entries that anti-entropy found missing or older on one side and
    /// copied.
    pub keys_repaired: AtomicU64,
    /// Connections accepted.
    pub connections: AtomicU64,
    /// Connections turned away with `ERR busy`.
    pub busy_rejections: AtomicU64,
    /// Connections closed for breaking the peer protocol.
    pub protocol_errors: AtomicU64,
}

impl Stats {
    /// Adds `n` to `counter`.
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
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
        let counters = [
            ("client_requests", &self.client_requests),
            ("peer_requests", &self.peer_requests),
            ("lookups", &self.lookups),
            ("lookup_hops", &self.lookup_hops),
            ("failed_requests", &self.failed_requests),
            ("retries", &self.retries),
            ("keys_received", &self.keys_received),
            ("keys_handed_off", &self.keys_handed_off),
            ("keys_repaired", &self.keys_repaired),
            ("connections", &self.connections),
            ("busy_rejections", &self.busy_rejections),
            ("protocol_errors", &self.protocol_errors),
        ];
        let mut rows: Vec<(&'static str, String)> = counters
            .iter()
            .map(|(name, c)| (*name, get(c).to_string()))
            .collect();
        rows.push(("mean_hops", format!("{mean:.3}")));
        rows
    }
}
