//! A node's settings: the ones every node of a ring must agree on (m, r,
//! R) and its own timers and bounds. Checked once, by [`NodeConfig::check`],
//! before a node uses them.

use std::sync::Arc;
use std::time::Duration;

use crate::clock::{Clock, SystemClock};
use crate::disk::DataDir;
use crate::error::{Error, Result};
use crate::id::IdSpace;
use crate::message::MAX_NODES;

/// The settings every node of a ring must agree on, and this node's timers.
#[derive(Clone, Debug)]
pub struct NodeConfig {
    /// The identifier space (m bits).
    pub space: IdSpace,
    /// r, the length of the successor list ("Failure and Replication").
    pub successors: usize,
    /// How often the maintenance thread runs stabilization.
    pub stabilize_interval: Duration,
    /// How long a client operation keeps retrying while the ring moves.
    pub request_timeout: Duration,
    /// R, how many nodes hold each key: its owner and the next R - 1 of the
    /// owner's successor list. At most r.
    pub replicas: usize,
    /// How long a delete's tombstone is kept, to win against stale copies,
    /// before it is collected.
    pub tombstone_hold: Duration,
    /// The most bytes of keys and values this node holds (see
    /// [`crate::store`] for how they are counted and what happens at the
    /// bound).
    pub max_memory: usize,
    /// The longest value this node takes from a client, in bytes: at most
    /// [`crate::store::MAX_VALUE`], 16 MiB unless raised.
    pub max_value: usize,
    /// Where the node reads the time and draws random numbers: the
    /// machine's, or a virtual clock for repeatable runs.
    pub clock: Arc<dyn Clock>,
    /// The directory that keeps the node's pairs across restarts (see
    /// [`crate::disk`]); `None`: memory only.
    pub data: Option<DataDir>,
}

impl NodeConfig {
    /// Defaults: r = 8, R = 3, stabilize every 250 ms, give up on a request
    /// after 10 s, keep tombstones for 10 minutes, hold at most a quarter
    /// of the machine's memory ([`default_max_memory`]), the machine's
    /// clock, memory only.
    pub fn new(space: IdSpace) -> NodeConfig {
        NodeConfig {
            space,
            successors: 8,
            stabilize_interval: Duration::from_millis(250),
            request_timeout: Duration::from_secs(10),
            replicas: 3,
            tombstone_hold: Duration::from_secs(600),
            max_memory: default_max_memory(),
            max_value: crate::store::DEFAULT_MAX_VALUE,
            clock: Arc::new(SystemClock::new()),
            data: None,
        }
    }

    /// Checks the settings agree with each other.
    ///
    /// # Errors
    /// [`Error::Config`] naming the setting to change.
    pub fn check(&self) -> Result<()> {
        if self.successors == 0 || self.successors > MAX_NODES {
            return Err(Error::Config(format!(
                "--successors must be between 1 and {MAX_NODES}, not {}",
                self.successors
            )));
        }
        if self.replicas == 0 || self.replicas > self.successors {
            return Err(Error::Config(format!(
                "--replicas must be between 1 and --successors ({}), not {}",
                self.successors, self.replicas
            )));
        }
        Ok(())
    }
}

/// A quarter of the machine's memory, as `/proc/meminfo` gives it; 1 GiB
/// where that cannot be read.
pub fn default_max_memory() -> usize {
    let total_kib = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|text| {
            let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
            line.split_whitespace().nth(1)?.parse::<usize>().ok()
        });
    total_kib.map_or(1 << 30, |kib| kib.saturating_mul(1024) / 4)
}
