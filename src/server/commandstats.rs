//! `INFO commandstats`: how often each Redis command was called on this
//! node, the time spent in it, and how many calls were refused before
//! running (`rejected_calls`: a wrong number of arguments, a syntax error)
//! or failed while running (`failed_calls`), as Redis reports them.
//!
//! Beside Redis's counts, each row has the CPU time the serving thread
//! spent in the command (`cpu_usec_per_call`) and the calls to other nodes
//! it made (`peer_calls`), so that a ring's cost per request shows by
//! kind: what a `SET` costs in peer calls against a `GET`. The CPU is this
//! node's thread only; what the peers spent answering is in their own
//! counts. Reading a thread's CPU time is a system call: made for every
//! request, it added 1.5 to 3 µs of CPU to a 15 µs `SET` on one node. So
//! a connection's first batch of requests, then one in [`CPU_SAMPLE`], is
//! timed, and the CPU per call is the mean over those. Requests carried
//! out together (a pipelined run) share their cost evenly.
//!
//! Counted under the name the client typed, lower case, and only for
//! names the parser knows: a name it does not know is refused without a
//! count, so the table holds at most one row per command chord serves,
//! whatever a client sends. A row is made once, under the write lock;
//! every later call takes the read lock and adds with atomics.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use parking_lot::RwLock;

/// One command's counts.
#[derive(Debug, Default)]
struct Row {
    calls: AtomicU64,
    usec: AtomicU64,
    /// CPU µs of the calls whose CPU was read (see [`CPU_SAMPLE`]).
    cpu_usec: AtomicU64,
    /// How many calls those were.
    cpu_calls: AtomicU64,
    peer_calls: AtomicU64,
    rejected: AtomicU64,
    failed: AtomicU64,
}

impl Row {
    fn add(&self, cost: Cost, outcome: Outcome) {
        self.calls.fetch_add(1, Ordering::Relaxed);
        self.usec.fetch_add(micros(cost.took), Ordering::Relaxed);
        if let Some(cpu) = cost.cpu {
            self.cpu_usec.fetch_add(micros(cpu), Ordering::Relaxed);
            self.cpu_calls.fetch_add(1, Ordering::Relaxed);
        }
        self.peer_calls
            .fetch_add(cost.peer_calls, Ordering::Relaxed);
        let counter = match outcome {
            Outcome::Done => return,
            Outcome::Rejected => &self.rejected,
            Outcome::Failed => &self.failed,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// The mean CPU µs of the calls whose CPU was read.
    fn cpu_per_call(&self) -> f64 {
        per(
            self.cpu_usec.load(Ordering::Relaxed),
            self.cpu_calls.load(Ordering::Relaxed),
        )
    }
}

/// What one call cost this node.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Cost {
    /// From the start of carrying it out to its answer.
    pub(super) took: Duration,
    /// CPU time of the serving thread meanwhile, if it was read.
    pub(super) cpu: Option<Duration>,
    /// Calls to other nodes made for it.
    pub(super) peer_calls: u64,
}

impl Cost {
    /// The cost of each of `n` calls carried out together at `total`;
    /// the peer calls that do not divide evenly go to the first.
    pub(super) fn shares(total: Cost, n: usize) -> impl Iterator<Item = Cost> {
        let n = n.max(1);
        let parts = u32::try_from(n).unwrap_or(u32::MAX);
        let calls = total.peer_calls / n as u64;
        let extra = total.peer_calls % n as u64;
        (0..n).map(move |i| Cost {
            took: total.took / parts,
            cpu: total.cpu.map(|cpu| cpu / parts),
            peer_calls: calls + if i == 0 { extra } else { 0 },
        })
    }
}

/// One batch of requests in this many has its CPU time read.
pub(super) const CPU_SAMPLE: u64 = 16;

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

/// The CPU time this thread has used, from the kernel
/// (`CLOCK_THREAD_CPUTIME_ID`); zero where it cannot be read.
pub(super) fn thread_cpu() -> Duration {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec, which `now` is, and reads
    // nothing else of ours.
    let read = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut now) };
    if read != 0 {
        return Duration::ZERO;
    }
    let secs = u64::try_from(now.tv_sec).unwrap_or(0);
    let nanos = u32::try_from(now.tv_nsec).unwrap_or(0);
    Duration::new(secs, nanos)
}

/// How a call ended, for its count.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Outcome {
    /// It ran and answered.
    Done,
    /// It was refused before running.
    Rejected,
    /// It ran and was refused.
    Failed,
}

/// The counts of every command called on this node.
#[derive(Debug, Default)]
pub(super) struct CommandStats {
    /// By lower-case name. Held briefly: to find a row (read) or add one
    /// (write).
    rows: RwLock<BTreeMap<String, Row>>,
}

impl CommandStats {
    /// Counts one call of `name` (as typed, any case, at most 16 bytes:
    /// longer is cut) that cost `cost`. Lower-cased on the stack and looked
    /// up under the read lock: no allocation but a new row's.
    pub(super) fn count(&self, name: &[u8], cost: Cost, outcome: Outcome) {
        let mut lower = [0u8; 16];
        let len = name.len().min(lower.len());
        for (to, from) in lower.iter_mut().zip(&name[..len]) {
            *to = from.to_ascii_lowercase();
        }
        let name = String::from_utf8_lossy(&lower[..len]);
        if let Some(row) = self.rows.read().get(name.as_ref()) {
            row.add(cost, outcome);
            return;
        }
        self.rows
            .write()
            .entry(name.into_owned())
            .or_default()
            .add(cost, outcome);
    }

    /// `INFO commandstats`' lines, by name: Redis's fields, then
    /// chord's.
    pub(super) fn lines(&self) -> Vec<String> {
        self.rows
            .read()
            .iter()
            .map(|(name, row)| {
                let calls = row.calls.load(Ordering::Relaxed);
                let usec = row.usec.load(Ordering::Relaxed);
                let peer = row.peer_calls.load(Ordering::Relaxed);
                format!(
                    "cmdstat_{name}:calls={calls},usec={usec},usec_per_call={:.2},\
                     rejected_calls={},failed_calls={},cpu_usec_per_call={:.2},\
                     peer_calls={peer},peer_calls_per_call={:.2}",
                    per(usec, calls),
                    row.rejected.load(Ordering::Relaxed),
                    row.failed.load(Ordering::Relaxed),
                    row.cpu_per_call(),
                    per(peer, calls)
                )
            })
            .collect()
    }

    /// `STATS`' lines for each command: calls, and the CPU µs and peer
    /// calls of each.
    pub(super) fn stats(&self) -> Vec<String> {
        let rows = self.rows.read();
        let mut lines = Vec::with_capacity(3 * rows.len());
        for (name, row) in rows.iter() {
            let calls = row.calls.load(Ordering::Relaxed);
            let peer = row.peer_calls.load(Ordering::Relaxed);
            lines.push(format!("command_{name}_calls={calls}"));
            lines.push(format!("command_{name}_cpu_us={:.1}", row.cpu_per_call()));
            lines.push(format!("command_{name}_peer_calls={:.2}", per(peer, calls)));
        }
        lines
    }

    /// `CONFIG RESETSTAT`: every count back to nothing.
    pub(super) fn reset(&self) {
        self.rows.write().clear();
    }
}

/// `total / calls`, 0 for no calls.
fn per(total: u64, calls: u64) -> f64 {
    if calls == 0 {
        0.0
    } else {
        total as f64 / calls as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_are_counted_by_name_in_any_case() {
        let stats = CommandStats::default();
        let cost = |took: u64, cpu: Option<u64>, peer_calls: u64| Cost {
            took: Duration::from_micros(took),
            cpu: cpu.map(Duration::from_micros),
            peer_calls,
        };
        stats.count(b"SET", cost(10, Some(6), 3), Outcome::Done);
        stats.count(b"set", cost(30, Some(10), 2), Outcome::Failed);
        stats.count(b"set", cost(20, None, 1), Outcome::Done);
        stats.count(b"Get", cost(5, Some(4), 1), Outcome::Rejected);
        assert_eq!(
            stats.lines(),
            [
                "cmdstat_get:calls=1,usec=5,usec_per_call=5.00,rejected_calls=1,failed_calls=0,\
                 cpu_usec_per_call=4.00,peer_calls=1,peer_calls_per_call=1.00",
                "cmdstat_set:calls=3,usec=60,usec_per_call=20.00,rejected_calls=0,failed_calls=1,\
                 cpu_usec_per_call=8.00,peer_calls=6,peer_calls_per_call=2.00",
            ]
        );
        assert_eq!(
            stats.stats()[3..],
            [
                "command_set_calls=3",
                "command_set_cpu_us=8.0",
                "command_set_peer_calls=2.00"
            ]
        );
        stats.reset();
        assert!(stats.lines().is_empty());
    }
}

#[cfg(test)]
mod shares {
    use super::*;

    #[test]
    fn calls_carried_out_together_share_their_cost_and_lose_none() {
        let total = Cost {
            took: Duration::from_micros(90),
            cpu: Some(Duration::from_micros(30)),
            peer_calls: 7,
        };
        let parts: Vec<Cost> = Cost::shares(total, 3).collect();
        assert_eq!(parts.len(), 3);
        assert!(parts.iter().all(|p| p.took == Duration::from_micros(30)));
        assert_eq!(parts.iter().map(|p| p.peer_calls).sum::<u64>(), 7);
        assert_eq!(parts[0].peer_calls, 3);
    }
}
