//! `INFO commandstats`: how often each Redis command was called on this
//! node, the time spent in it, and how many calls were refused before
//! running (`rejected_calls`: a wrong number of arguments, a syntax error)
//! or failed while running (`failed_calls`), as Redis reports them.
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
    rejected: AtomicU64,
    failed: AtomicU64,
}

impl Row {
    fn add(&self, usec: u64, outcome: Outcome) {
        self.calls.fetch_add(1, Ordering::Relaxed);
        self.usec.fetch_add(usec, Ordering::Relaxed);
        let counter = match outcome {
            Outcome::Done => return,
            Outcome::Rejected => &self.rejected,
            Outcome::Failed => &self.failed,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }
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
    /// longer is cut) that took `took`. Lower-cased on the stack and looked
    /// up under the read lock: no allocation but a new row's.
    pub(super) fn count(&self, name: &[u8], took: Duration, outcome: Outcome) {
        let mut lower = [0u8; 16];
        let len = name.len().min(lower.len());
        for (to, from) in lower.iter_mut().zip(&name[..len]) {
            *to = from.to_ascii_lowercase();
        }
        let name = String::from_utf8_lossy(&lower[..len]);
        let usec = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        if let Some(row) = self.rows.read().get(name.as_ref()) {
            row.add(usec, outcome);
            return;
        }
        self.rows
            .write()
            .entry(name.into_owned())
            .or_default()
            .add(usec, outcome);
    }

    /// `INFO commandstats`' lines, by name.
    pub(super) fn lines(&self) -> Vec<String> {
        self.rows
            .read()
            .iter()
            .map(|(name, row)| {
                let calls = row.calls.load(Ordering::Relaxed);
                let usec = row.usec.load(Ordering::Relaxed);
                let per_call = if calls == 0 {
                    0.0
                } else {
                    usec as f64 / calls as f64
                };
                format!(
                    "cmdstat_{name}:calls={calls},usec={usec},usec_per_call={per_call:.2},\
                     rejected_calls={},failed_calls={}",
                    row.rejected.load(Ordering::Relaxed),
                    row.failed.load(Ordering::Relaxed)
                )
            })
            .collect()
    }

    /// `CONFIG RESETSTAT`: every count back to nothing.
    pub(super) fn reset(&self) {
        self.rows.write().clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_are_counted_by_name_in_any_case() {
        let stats = CommandStats::default();
        stats.count(b"SET", Duration::from_micros(10), Outcome::Done);
        stats.count(b"set", Duration::from_micros(30), Outcome::Failed);
        stats.count(b"Get", Duration::from_micros(5), Outcome::Rejected);
        assert_eq!(
            stats.lines(),
            [
                "cmdstat_get:calls=1,usec=5,usec_per_call=5.00,rejected_calls=1,failed_calls=0",
                "cmdstat_set:calls=2,usec=40,usec_per_call=20.00,rejected_calls=0,failed_calls=1",
            ]
        );
        stats.reset();
        assert!(stats.lines().is_empty());
    }
}
