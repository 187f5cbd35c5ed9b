//! The updates a store applied lately, so that a retried one is answered
//! and not applied twice.
//!
//! An update (Redis's `INCR`, `SET NX`, `EXPIRE`...) is applied at the
//! key's owner, and the coordinator that asked retries it when no answer
//! came: the owner may be slow, or the answer lost. If the owner did apply
//! it, a second application would count an `INCR` twice, or answer a `SET
//! NX` that succeeded with "not set". So each update carries an
//! [`UpdateId`], fixed by its coordinator for all of its attempts, and the
//! store keeps a [`Record`] of what each recent one did. An attempt whose
//! id is here is answered from that record, whichever attempt came first.
//!
//! The record is bounded: the last [`MAX_RECORDS`] updates, the oldest
//! forgotten first. A node applying updates faster than that many per
//! retry window (a retry comes after a peer timeout and the suspicion that
//! follows it, two or three seconds) can forget one before its retry
//! comes.
//!
//! The record stays at the node that applied the update. For a retry that
//! reaches a different owner (the first died, or handed the key on,
//! between the attempts), the entry an update writes carries its id
//! ([`Entry::update`]) wherever the entry goes: replication, repair,
//! hand-over. The new owner holds that entry, finds the id in it, and
//! answers the retry with it. That fails only if another write of the
//! same key came between, at the new owner, or if the entry had not
//! reached it: then the retry is applied there again.
//!
//! The records sit in one queue per coordinator, in the order of its
//! counts, which is the order they mostly arrive in. Every update looks its
//! id up and adds one under the store's write lock, so this layout is
//! chosen for the cache: the recent end of a short queue, not a random
//! slot of a large hash table (which cost a quarter of pipelined `INCR`'s
//! rate when tried; this layout costs a twentieth to a tenth, and nothing
//! to plain `SET`s, which carry no id).

use std::cmp::Ordering;
use std::collections::{HashMap, VecDeque};
use std::num::NonZeroU64;

use serde::{Deserialize, Serialize};

use super::{Entry, Outcome, Version, Written};

/// The most updates remembered: 104 bytes each (a [`Record`], its count
/// and its place in the order), so about 7 MB when full.
pub const MAX_RECORDS: usize = 65_536;

/// Values up to this long are kept in the record itself (an `INCR`'s sum
/// always is), so that a retry gets exactly the entry its update wrote.
const INLINE: usize = 22;

/// One update, as its coordinator names it for every attempt: the
/// coordinator's incarnation and its count of updates. 16 bytes, and
/// `Option<UpdateId>` too (the origin is never 0), so that every entry can
/// carry one ([`Entry::update`]) without an allocation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct UpdateId {
    /// The incarnation of the node that coordinates the update (random per
    /// process start).
    pub origin: NonZeroU64,
    /// Which of that node's updates it is.
    pub seq: u64,
}

impl UpdateId {
    /// The id of update `seq` of the node with incarnation `origin` (an
    /// incarnation of 0 is taken as 1).
    pub fn new(origin: u64, seq: u64) -> UpdateId {
        UpdateId {
            origin: NonZeroU64::new(origin).unwrap_or(NonZeroU64::MIN),
            seq,
        }
    }
}

/// What an update did, in enough detail to answer a retry as the first
/// attempt was answered. Plain data: no allocation per record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Record {
    /// The condition did not hold: nothing was written. What the answer
    /// needed of the value then, for an update that answers with it.
    Unchanged {
        /// The value then, as kept here.
        previous: KeptValue,
    },
    /// It wrote this version.
    Wrote {
        /// The version written.
        version: Version,
        /// The expiry written.
        expires: Option<u64>,
        /// Whether the key had a value before.
        existed: bool,
        /// The value written, if it fits here; see [`Record::answer`].
        value: KeptValue,
        /// The value it replaced, for an update that answers with it
        /// (`GETSET`, `GETDEL`), if it fits here; `None` for the others.
        previous: KeptValue,
    },
}

/// A value an update wrote or replaced, as a [`Record`] keeps it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeptValue {
    /// None: the update deleted the key (an `EXPIRE` in the past), or
    /// there was none to replace.
    Deleted,
    /// These bytes: the first `len` of `bytes`.
    Inline {
        /// How many bytes.
        len: u8,
        /// The bytes, padded.
        bytes: [u8; INLINE],
    },
    /// Too long to keep here.
    Long,
}

impl KeptValue {
    /// A value the answer needs back, as kept: none, or the bytes.
    ///
    /// # Errors
    /// When it was too long to keep.
    fn value(self) -> Result<Option<Vec<u8>>, &'static str> {
        match self {
            KeptValue::Deleted => Ok(None),
            KeptValue::Inline { len, bytes } => Ok(Some(bytes[..usize::from(len)].to_vec())),
            KeptValue::Long => Err(
                "this update was applied, but the long value its answer needs is no longer \
                 known: read the key again",
            ),
        }
    }

    /// `value` as a record keeps it.
    pub(crate) fn of(value: Option<&[u8]>) -> KeptValue {
        match value {
            None => KeptValue::Deleted,
            Some(v) if v.len() <= INLINE => {
                let mut bytes = [0; INLINE];
                bytes[..v.len()].copy_from_slice(v);
                KeptValue::Inline {
                    len: v.len() as u8,
                    bytes,
                }
            }
            Some(_) => KeptValue::Long,
        }
    }
}

impl Record {
    /// The record of what `written` did.
    pub fn of(written: &Written) -> Record {
        Record::Wrote {
            version: written.entry.version,
            expires: written.entry.expires,
            existed: written.existed,
            value: KeptValue::of(written.entry.value.as_deref()),
            previous: KeptValue::of(written.previous.as_deref()),
        }
    }

    /// The answer to a retry of the update `id`: what it wrote (`None`:
    /// nothing), given the entry held now. That is the entry the update wrote
    /// whenever it can be rebuilt: it is still held, or its value was
    /// kept here. Otherwise, a long value since overwritten, the entry
    /// held now stands in: it is newer, so copying it to the replicas is
    /// safe, and the answer the client gets from a write that is not an
    /// increment says only that it was written.
    ///
    /// # Errors
    /// When the update wrote a long value and the key is not held at all
    /// now (its tombstone collected: far longer than any retry waits), or
    /// it replaced a long value that its answer must give (`GETSET`).
    pub fn answer(&self, id: UpdateId, now: Option<&Entry>) -> Result<Outcome, &'static str> {
        let (version, expires, existed, value, previous) = match *self {
            Record::Unchanged { previous } => return Ok(Outcome::Unchanged(previous.value()?)),
            Record::Wrote {
                version,
                expires,
                existed,
                value,
                previous,
            } => (version, expires, existed, value, previous.value()?),
        };
        let held = now.filter(|e| e.version == version);
        let entry = match (held, value) {
            (Some(entry), _) => entry.clone(),
            (None, KeptValue::Deleted) => Entry {
                value: None,
                version,
                expires,
                update: Some(id),
            },
            (None, KeptValue::Inline { len, bytes }) => Entry {
                value: Some(bytes[..usize::from(len)].to_vec()),
                version,
                expires,
                update: Some(id),
            },
            (None, KeptValue::Long) => now
                .cloned()
                .ok_or("this update was applied, but what it wrote is no longer held")?,
        };
        Ok(Outcome::Wrote(Written {
            entry,
            existed,
            previous,
        }))
    }
}

impl super::Store {
    /// The answer to another attempt at the update `once` of `key`
    /// (identifier `id`), if this store knows the update: from its record
    /// of the updates it applied, or from the entry it holds, which carries
    /// the id of the update that wrote it (the owner before this one applied
    /// it, the entry came here with the key, and nothing has written it
    /// since). `None`: the update is new here. `swaps`: the update answers
    /// with the value it replaced (`GETSET`).
    ///
    /// # Errors
    /// As [`Record::answer`], and for an update that `swaps` known only
    /// from the entry.
    pub fn repeated(
        &self,
        once: UpdateId,
        id: crate::id::Id,
        key: &[u8],
        swaps: bool,
    ) -> Option<Result<Outcome, &'static str>> {
        let held = self.get(id, key);
        if let Some(record) = self.applied.get(&once) {
            return Some(record.answer(once, held));
        }
        let entry = held.filter(|e| e.update == Some(once))?;
        // Applied by the owner before this one: the value it replaced
        // did not travel with the entry.
        if swaps {
            return Some(Err(
                "this update was applied by the key's previous owner, and \
                             the value it replaced is not known here: read the key again",
            ));
        }
        // Whether the key had a value before is not known here; no
        // update's answer uses it.
        Some(Ok(Outcome::Wrote(Written {
            entry: entry.clone(),
            existed: true,
            previous: None,
        })))
    }
}

/// The recent updates of one store: per coordinator, a queue ordered by
/// its count; and the order they were added in, to forget the oldest.
#[derive(Debug, Default)]
pub struct Applied {
    by_origin: HashMap<u64, VecDeque<(u64, Record)>>,
    /// The coordinator of each record, oldest first.
    order: VecDeque<u64>,
}

impl Applied {
    /// What the update `id` did here, if it was applied lately.
    pub fn get(&self, id: &UpdateId) -> Option<&Record> {
        let queue = self.by_origin.get(&id.origin.get())?;
        let at = position(queue, id.seq).ok()?;
        queue.get(at).map(|(_, record)| record)
    }

    /// Remembers what the update `id` did, forgetting the oldest past
    /// [`MAX_RECORDS`].
    pub fn remember(&mut self, id: UpdateId, record: Record) {
        let queue = self.by_origin.entry(id.origin.get()).or_default();
        match position(queue, id.seq) {
            // Not through the key layer, which looks an id up and
            // remembers it under one hold of the store lock.
            Ok(at) => {
                queue[at].1 = record;
                return;
            }
            Err(at) => queue.insert(at, (id.seq, record)),
        }
        self.order.push_back(id.origin.get());
        while self.order.len() > MAX_RECORDS {
            self.forget_oldest();
        }
    }

    /// Forgets the oldest record: the lowest count of the coordinator that
    /// added the oldest one (the same record but when a coordinator's
    /// updates came out of order).
    fn forget_oldest(&mut self) {
        let Some(origin) = self.order.pop_front() else {
            return;
        };
        if let Some(queue) = self.by_origin.get_mut(&origin) {
            queue.pop_front();
            if queue.is_empty() {
                self.by_origin.remove(&origin);
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

/// Where `seq` is in `queue` (ordered by count), or where it would go.
/// The search starts from the newest end and widens by doubling, since a
/// lookup is nearly always for one of the last few (or a new) counts: it
/// touches the few entries last written, where a binary search over the
/// whole queue would touch cold ones.
fn position(queue: &VecDeque<(u64, Record)>, seq: u64) -> Result<usize, usize> {
    let len = queue.len();
    // Everything from `high` on is past `seq`.
    let mut high = len;
    let mut step = 1;
    let low = loop {
        let low = len.saturating_sub(step);
        if low == 0 || queue[low].0 <= seq {
            break low;
        }
        high = low;
        step *= 2;
    };
    let (mut low, mut high) = (low, high);
    while low < high {
        let middle = low + (high - low) / 2;
        match queue[middle].0.cmp(&seq) {
            Ordering::Equal => return Ok(middle),
            Ordering::Less => low = middle + 1,
            Ordering::Greater => high = middle,
        }
    }
    Err(low)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(origin: u64, seq: u64) -> UpdateId {
        UpdateId::new(origin, seq)
    }

    /// The update the tests' entries were written by.
    const BY: UpdateId = UpdateId {
        origin: NonZeroU64::new(7).unwrap(),
        seq: 1,
    };

    fn written(value: Option<&[u8]>, stamp: u64) -> Written {
        Written {
            entry: Entry {
                value: value.map(<[u8]>::to_vec),
                version: Version { stamp, writer: 7 },
                expires: Some(99),
                update: Some(BY),
            },
            existed: true,
            previous: None,
        }
    }

    #[test]
    fn an_update_is_remembered_with_what_it_did() {
        let mut applied = Applied::default();
        applied.remember(id(1, 5), Record::of(&written(Some(b"5"), 1)));
        applied.remember(
            id(1, 6),
            Record::Unchanged {
                previous: KeptValue::Deleted,
            },
        );
        applied.remember(
            id(2, 5),
            Record::Unchanged {
                previous: KeptValue::Deleted,
            },
        );
        assert_eq!(
            applied.get(&id(1, 5)),
            Some(&Record::of(&written(Some(b"5"), 1)))
        );
        assert_eq!(
            applied.get(&id(1, 6)),
            Some(&Record::Unchanged {
                previous: KeptValue::Deleted,
            })
        );
        assert_eq!(
            applied.get(&id(2, 5)),
            Some(&Record::Unchanged {
                previous: KeptValue::Deleted,
            })
        );
        assert_eq!(applied.get(&id(1, 7)), None);
        assert_eq!(applied.get(&id(3, 5)), None, "another coordinator's update");
    }

    #[test]
    fn updates_that_arrive_out_of_order_are_found() {
        let mut applied = Applied::default();
        for seq in [4, 1, 9, 2, 7] {
            applied.remember(
                id(1, seq),
                Record::Unchanged {
                    previous: KeptValue::Deleted,
                },
            );
        }
        for seq in [1, 2, 4, 7, 9] {
            assert!(applied.get(&id(1, seq)).is_some(), "{seq}");
        }
        for seq in [0, 3, 5, 8, 10] {
            assert_eq!(applied.get(&id(1, seq)), None, "{seq}");
        }
        assert_eq!(applied.len(), 5);
        let queue = &applied.by_origin[&1];
        let order: Vec<u64> = queue.iter().map(|(seq, _)| *seq).collect();
        assert_eq!(order, [1, 2, 4, 7, 9]);
    }

    #[test]
    fn the_oldest_go_first_past_the_bound() {
        let mut applied = Applied::default();
        for seq in 0..MAX_RECORDS as u64 + 10 {
            // Two coordinators, taking turns.
            applied.remember(
                id(seq % 2, seq),
                Record::Unchanged {
                    previous: KeptValue::Deleted,
                },
            );
        }
        assert_eq!(applied.len(), MAX_RECORDS);
        assert_eq!(applied.get(&id(1, 9)), None);
        assert!(applied.get(&id(0, 10)).is_some());
        assert!(applied.get(&id(1, MAX_RECORDS as u64 + 9)).is_some());
    }

    #[test]
    fn a_retry_gets_the_entry_its_update_wrote() {
        let first = written(Some(b"41"), 10);
        let record = Record::of(&first);
        // Still held: that very entry.
        assert_eq!(
            record.answer(BY, Some(&first.entry)),
            Ok(Outcome::Wrote(first.clone()))
        );
        // Overwritten since: rebuilt from the record, not the newer value.
        let newer = written(Some(b"42"), 11);
        assert_eq!(
            record.answer(BY, Some(&newer.entry)),
            Ok(Outcome::Wrote(first))
        );
        // A deletion is rebuilt too.
        let deleted = written(None, 12);
        assert_eq!(
            Record::of(&deleted).answer(BY, None),
            Ok(Outcome::Wrote(deleted))
        );
        assert_eq!(
            Record::Unchanged {
                previous: KeptValue::Deleted,
            }
            .answer(BY, Some(&newer.entry)),
            Ok(Outcome::Unchanged(None))
        );
    }

    #[test]
    fn a_long_value_overwritten_since_answers_with_the_newer_entry() {
        let long = vec![b'x'; INLINE + 1];
        let record = Record::of(&written(Some(&long), 10));
        let newer = written(Some(b"short"), 11);
        let Ok(Outcome::Wrote(answer)) = record.answer(BY, Some(&newer.entry)) else {
            panic!("the newer entry stands in for the long one");
        };
        assert_eq!(answer.entry, newer.entry);
        assert!(answer.existed);
        assert!(
            record.answer(BY, None).is_err(),
            "nothing to stand in for it"
        );
        // Exactly INLINE bytes still fit.
        let fits = written(Some(&long[..INLINE]), 10);
        assert_eq!(Record::of(&fits).answer(BY, None), Ok(Outcome::Wrote(fits)));
    }

    #[test]
    fn the_search_from_the_newest_end_agrees_with_a_binary_search() {
        for len in 0..40u64 {
            let queue: VecDeque<(u64, Record)> = (0..len)
                .map(|i| {
                    (
                        3 * i,
                        Record::Unchanged {
                            previous: KeptValue::Deleted,
                        },
                    )
                })
                .collect();
            for seq in 0..3 * len + 3 {
                let expected = queue.binary_search_by_key(&seq, |(s, _)| *s);
                assert_eq!(position(&queue, seq), expected, "len {len}, seq {seq}");
            }
        }
    }

    #[test]
    fn a_retried_swap_gets_the_value_it_replaced_or_an_error_for_a_long_one() {
        let short = Written {
            previous: Some(b"before".to_vec()),
            ..written(Some(b"after"), 3)
        };
        assert_eq!(
            Record::of(&short).answer(BY, None),
            Ok(Outcome::Wrote(short.clone()))
        );
        let long = Written {
            previous: Some(vec![b'x'; INLINE + 1]),
            ..written(Some(b"after"), 4)
        };
        let answer = Record::of(&long).answer(BY, Some(&long.entry));
        assert!(answer.is_err_and(|why| why.contains("no longer known")));
        // What is not a swap keeps no previous value.
        let plain = written(Some(b"v"), 5);
        assert_eq!(
            Record::of(&plain).answer(BY, None),
            Ok(Outcome::Wrote(plain.clone()))
        );
    }

    #[test]
    fn a_record_costs_104_bytes_and_an_entrys_id_16_as_the_docs_say() {
        let per_record = std::mem::size_of::<(u64, Record)>() + std::mem::size_of::<u64>();
        assert_eq!(per_record, 104);
        assert_eq!(std::mem::size_of::<Option<UpdateId>>(), 16);
    }
}
