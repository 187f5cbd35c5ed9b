//! The updates a store applied lately, so that a retried one is answered
//! and not applied twice.
//!
//! An update (Redis's `INCR`, `SET NX`, `EXPIRE`...) is applied at the
//! key's owner, and the coordinator that asked retries it when no answer
//! came: the owner may be slow, or the answer lost. If the owner did apply
//! it, a second application would count an `INCR` twice, or answer a `SET
//! NX` that succeeded with "not set". So each update carries an
//! [`UpdateId`], fixed by its coordinator for all of its attempts, and the
//! store keeps what each recent one wrote. An attempt whose id is here is
//! answered with that record, whichever attempt arrived first.
//!
//! The record is bounded: at most [`MAX_RECORDS`] updates and
//! [`MAX_RECORD_BYTES`] of their values, the oldest forgotten first. A
//! node applying updates faster than that many per retry window (up to the
//! request deadline, 10 s by default) can forget one before its retry
//! comes. The record stays at the node that applied the update: a retry
//! that reaches a different owner, because the first one died or handed
//! the key on between the attempts, is applied there again.

use std::collections::{HashMap, VecDeque};

use serde::{Deserialize, Serialize};

use super::Written;

/// The most updates remembered.
pub const MAX_RECORDS: usize = 65_536;

/// The most bytes of written values remembered (keys are not kept).
pub const MAX_RECORD_BYTES: usize = 8 * 1024 * 1024;

/// One update, as its coordinator names it for every attempt: the
/// coordinator's incarnation and its count of updates.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct UpdateId {
    /// The incarnation of the node that coordinates the update (random per
    /// process start).
    pub origin: u64,
    /// Which of that node's updates it is.
    pub seq: u64,
}

/// What an update did: what it wrote, or `None` when its condition did
/// not hold and nothing was written.
pub type Outcome = Option<Written>;

/// The recent updates of one store, oldest first.
#[derive(Debug, Default)]
pub struct Applied {
    outcomes: HashMap<UpdateId, Outcome>,
    order: VecDeque<UpdateId>,
    /// The bytes of the values in `outcomes`.
    bytes: usize,
}

impl Applied {
    /// What the update `id` did here, if it was applied lately.
    pub fn get(&self, id: &UpdateId) -> Option<&Outcome> {
        self.outcomes.get(id)
    }

    /// Remembers what the update `id` did, forgetting the oldest past the
    /// bounds.
    pub fn remember(&mut self, id: UpdateId, outcome: Outcome) {
        let bytes = value_bytes(&outcome);
        if let Some(old) = self.outcomes.insert(id, outcome) {
            // Not through the key layer, which looks an id up and
            // remembers it under one hold of the store lock; but should it
            // happen, the counts stay right.
            self.bytes -= value_bytes(&old);
        } else {
            self.order.push_back(id);
        }
        self.bytes += bytes;
        while self.order.len() > MAX_RECORDS || self.bytes > MAX_RECORD_BYTES {
            let Some(oldest) = self.order.pop_front() else {
                break;
            };
            if let Some(old) = self.outcomes.remove(&oldest) {
                self.bytes -= value_bytes(&old);
            }
        }
    }

    /// How many updates are remembered.
    pub fn len(&self) -> usize {
        self.order.len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }
}

fn value_bytes(outcome: &Outcome) -> usize {
    outcome
        .as_ref()
        .and_then(|w| w.entry.value.as_ref())
        .map_or(0, Vec::len)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Entry, Version};

    fn id(seq: u64) -> UpdateId {
        UpdateId { origin: 7, seq }
    }

    fn wrote(value: Vec<u8>) -> Outcome {
        Some(Written {
            entry: Entry {
                value: Some(value),
                version: Version {
                    stamp: 1,
                    writer: 7,
                },
                expires: None,
            },
            existed: false,
        })
    }

    #[test]
    fn an_update_is_remembered_with_what_it_did() {
        let mut applied = Applied::default();
        applied.remember(id(1), wrote(b"5".to_vec()));
        applied.remember(id(2), None);
        assert_eq!(applied.get(&id(1)), Some(&wrote(b"5".to_vec())));
        assert_eq!(applied.get(&id(2)), Some(&None));
        assert_eq!(applied.get(&id(3)), None);
        let other = UpdateId { origin: 8, seq: 1 };
        assert_eq!(applied.get(&other), None, "another coordinator's update");
    }

    #[test]
    fn the_oldest_go_first_past_the_count() {
        let mut applied = Applied::default();
        for seq in 0..MAX_RECORDS as u64 + 10 {
            applied.remember(id(seq), None);
        }
        assert_eq!(applied.len(), MAX_RECORDS);
        assert_eq!(applied.get(&id(9)), None);
        assert_eq!(applied.get(&id(10)), Some(&None));
    }

    #[test]
    fn the_oldest_go_first_past_the_bytes() {
        let mut applied = Applied::default();
        let big = MAX_RECORD_BYTES / 4;
        for seq in 0..6 {
            applied.remember(id(seq), wrote(vec![0; big]));
        }
        assert_eq!(applied.len(), 4);
        assert_eq!(applied.get(&id(1)), None);
        assert!(applied.get(&id(2)).is_some());
        assert_eq!(applied.bytes, 4 * big);
    }

    #[test]
    fn the_same_id_twice_keeps_the_counts_right() {
        let mut applied = Applied::default();
        applied.remember(id(1), wrote(vec![0; 100]));
        applied.remember(id(1), wrote(vec![0; 10]));
        assert_eq!((applied.len(), applied.bytes), (1, 10));
    }
}
