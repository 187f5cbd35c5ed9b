//! Reading an arc of the ring out of a store: the identifiers in
//! `(from, to]` in ring order (wrapping past zero), counted, or read in
//! chunks that resume where they stopped. Hand-over, repair and `SCAN`
//! read arcs this way.

use std::ops::Bound;

use serde::{Deserialize, Serialize};

use super::slot::key_order;
use super::{Entry, Item, Slot, Store, CHUNK_ITEMS};
use crate::id::Id;

/// Where a chunked read of an arc resumes: after `key` among the keys of
/// identifier `id`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    /// The identifier of the last key read.
    pub id: Id,
    /// The last key read.
    #[serde(with = "serde_bytes")]
    pub key: Vec<u8>,
}

/// A point of the ring between two entries, in ring order and, among the
/// keys of one identifier, in their order (by a hash of each key first;
/// see `store/slot.rs`): just after key `key` of
/// identifier `id`, or, with no key, just after all of `id`'s keys. A
/// span of an arc runs from one point, exclusive, to another, inclusive;
/// from a point to itself is the whole ring.
///
/// Points that fall between keys matter where many keys share an
/// identifier (a hash tag's keys do): a digest bucket or a reconciled
/// span can then end inside the identifier, so its size stays bounded.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Point {
    /// The identifier.
    pub id: Id,
    /// The last key of `id` before the point; `None`: all of them.
    #[serde(with = "serde_bytes")]
    pub key: Option<Vec<u8>>,
}

impl Point {
    /// Just after all the keys of `id`.
    pub fn after(id: Id) -> Point {
        Point { id, key: None }
    }

    /// Whether `later` is further on among the keys of this point's own
    /// identifier, without going round the ring.
    pub fn precedes_within(&self, later: &Point) -> bool {
        self.id == later.id
            && match (&self.key, &later.key) {
                (Some(key), Some(after)) => key_order(key, after).is_lt(),
                (Some(_), None) => true,
                (None, _) => false,
            }
    }
}

/// The identifiers of an arc with their keys, in ring order.
type Arc<'a> = std::iter::Chain<
    std::collections::btree_map::Range<'a, Id, Slot>,
    std::collections::btree_map::Range<'a, Id, Slot>,
>;

impl Store {
    /// The identifiers held in the arc `(from, to]` with their keys, in ring
    /// order starting just after `from`; `(a, a]` is the whole ring.
    pub(super) fn arc(&self, from: Id, to: Id) -> Arc<'_> {
        if from < to {
            let upto = (Bound::Excluded(from), Bound::Included(to));
            let nothing = (Bound::Excluded(to), Bound::Included(to));
            return self.by_id.range(upto).chain(self.by_id.range(nothing));
        }
        let after = (Bound::Excluded(from), Bound::Unbounded);
        let wrapped = (Bound::Unbounded, Bound::Included(to));
        self.by_id.range(after).chain(self.by_id.range(wrapped))
    }

    /// How many entries the first `budget` identifiers of the arc
    /// `(from, to]` hold with a value at `now` (not deleted, not expired);
    /// and the last identifier read, if the budget ran out before the arc
    /// did.
    pub fn count_in(&self, from: Id, to: Id, budget: usize, now: u64) -> (usize, Option<Id>) {
        let mut ids = self.arc(from, to);
        let (mut count, mut last) = (0, None);
        for (id, keys) in ids.by_ref().take(budget.max(1)) {
            count += keys.iter().filter(|(_, e)| e.is_live(now)).count();
            last = Some(*id);
        }
        (count, last.filter(|_| ids.next().is_some()))
    }

    /// The first identifier held in the arc `(from, to]`, if any.
    pub fn first_id_in(&self, from: Id, to: Id) -> Option<Id> {
        self.arc(from, to).next().map(|(id, _)| *id)
    }

    /// The entries after the point `start` up to and including the point
    /// `end`, in ring order, then key order within an identifier;
    /// `start == end` is the whole ring.
    pub(super) fn span<'a>(
        &'a self,
        start: &'a Point,
        end: &'a Point,
    ) -> impl Iterator<Item = (Id, &'a [u8], &'a Entry)> + 'a {
        let last = |id: Id| match (&end.key, id == end.id) {
            (Some(key), true) => Bound::Included(key.as_slice()),
            _ => Bound::Unbounded,
        };
        // A span that starts and ends among one identifier's keys, the end
        // after the start, does not go round the ring.
        let within = start.precedes_within(end);
        // The keys of `start.id` after its key, if the span starts among them.
        let head = start.key.as_deref().and_then(|key| {
            let upto = if within {
                last(start.id)
            } else {
                Bound::Unbounded
            };
            self.by_id
                .get(&start.id)
                .map(|slot| (start.id, slot, Bound::Excluded(key), upto))
        });
        let rest = (!within).then(|| self.arc(start.id, end.id));
        let rest = rest
            .into_iter()
            .flatten()
            .map(move |(id, slot)| (*id, slot, Bound::Unbounded, last(*id)));
        head.into_iter()
            .chain(rest)
            .flat_map(|(id, slot, from, upto)| {
                slot.range(from, upto)
                    .map(move |(key, entry)| (id, key, entry))
            })
    }

    /// The items in the arc `(from, to]`, tombstones included, in ring
    /// order, stopping once about `max_bytes` or [`CHUNK_ITEMS`] are
    /// gathered. With `after`,
    /// the read resumes there instead: the keys of `after.id` that sort
    /// after `after.key`, then the identifiers in `(after.id, to]`. Returns
    /// the items and, if it stopped early, the cursor to resume from.
    pub fn chunk(
        &self,
        from: Id,
        to: Id,
        after: Option<&Cursor>,
        max_bytes: usize,
    ) -> (Vec<Item>, Option<Cursor>) {
        let start = match after {
            Some(cursor) => Point {
                id: cursor.id,
                key: Some(cursor.key.clone()),
            },
            None => Point::after(from),
        };
        self.chunk_between(&start, &Point::after(to), max_bytes)
    }

    /// [`Store::chunk`] of the span from the point `start` to the point
    /// `end` (see [`Point`]).
    pub fn chunk_between(
        &self,
        start: &Point,
        end: &Point,
        max_bytes: usize,
    ) -> (Vec<Item>, Option<Cursor>) {
        let mut items = Vec::new();
        let mut bytes = 0;
        let mut last_id = start.id;
        for (id, key, entry) in self.span(start, end) {
            if bytes >= max_bytes || items.len() >= CHUNK_ITEMS {
                let resume = items.last().map(|item: &Item| Cursor {
                    id: last_id,
                    key: item.key.to_vec(),
                });
                return (items, resume);
            }
            bytes += entry.size(key);
            last_id = id;
            items.push(Item {
                key: key.into(),
                entry: entry.clone(),
            });
        }
        (items, None)
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{keys, space, store_with};
    use super::*;
    use crate::id::IdSpace;

    #[test]
    fn chunk_reads_an_arc_in_ring_order_including_wraparound() {
        let store = store_with(&[1, 10, 20, 40, 63]);
        let (items, more) = store.chunk(space().id(10), space().id(40), None, usize::MAX);
        assert_eq!(keys(&items), vec!["k20", "k40"]);
        assert_eq!(more, None);
        let (items, _) = store.chunk(space().id(40), space().id(10), None, usize::MAX);
        assert_eq!(keys(&items), vec!["k63", "k1", "k10"]);
        // (a, a] is the whole ring, starting after a.
        let (items, _) = store.chunk(space().id(20), space().id(20), None, usize::MAX);
        assert_eq!(keys(&items), vec!["k40", "k63", "k1", "k10", "k20"]);
        assert_eq!(
            store.first_id_in(space().id(40), space().id(10)),
            Some(space().id(63))
        );
        assert_eq!(store.first_id_in(space().id(41), space().id(62)), None);
    }

    /// Reads the whole arc `(from, to]` in chunks of about `max_bytes`.
    fn read_in_chunks(store: &Store, from: Id, to: Id, max_bytes: usize) -> Vec<String> {
        let mut seen = Vec::new();
        let mut after = None;
        for _ in 0..1000 {
            let (items, more) = store.chunk(from, to, after.as_ref(), max_bytes);
            seen.extend(keys(&items));
            match more {
                Some(cursor) => after = Some(cursor),
                None => return seen,
            }
        }
        panic!("the chunks never ended");
    }

    #[test]
    fn chunks_resume_where_they_stopped() {
        let store = store_with(&[1, 10, 20, 40, 63]);
        let all = vec!["k40", "k63", "k1", "k10", "k20"];
        assert_eq!(
            read_in_chunks(&store, space().id(30), space().id(20), 1),
            all
        );
        // The whole ring, (a, a], ends at a and does not start over.
        let whole = read_in_chunks(&store, space().id(20), space().id(20), 1);
        assert_eq!(whole, all);
    }

    #[test]
    fn a_span_runs_between_points_among_an_identifiers_keys() {
        let space = IdSpace::new(1).unwrap();
        let mut store = Store::new();
        for key in ["a", "b", "c", "d"] {
            let content = (Some(b"v".to_vec()), None);
            store
                .write(space.id(0), key.as_bytes(), content, 1, 1)
                .unwrap();
        }
        // The keys as the store orders them within their identifier.
        let mut k = ["a", "b", "c", "d"];
        k.sort_by(|x, y| key_order(x.as_bytes(), y.as_bytes()));
        let at = |key: Option<&str>| Point {
            id: space.id(0),
            key: key.map(|k| k.as_bytes().to_vec()),
        };
        let span = |start, end| -> Vec<String> {
            store
                .span(&start, &end)
                .map(|(_, k, _)| String::from_utf8_lossy(k).into_owned())
                .collect()
        };
        assert_eq!(span(at(Some(k[0])), at(Some(k[2]))), [k[1], k[2]]);
        assert_eq!(span(at(Some(k[1])), at(None)), [k[2], k[3]]);
        // Backwards within one identifier goes round the ring.
        assert_eq!(span(at(Some(k[2])), at(Some(k[0]))), [k[3], k[0]]);
        assert_eq!(span(at(None), at(Some(k[1]))), [k[0], k[1]]);
        // From a point to itself is the whole ring.
        assert_eq!(
            span(at(Some(k[1])), at(Some(k[1]))),
            [k[2], k[3], k[0], k[1]]
        );
        assert_eq!(span(at(None), at(None)), k);
    }

    #[test]
    fn keys_that_share_an_identifier_can_be_split_between_chunks() {
        // With m = 1 every key has identifier 0 or 1: buckets are huge.
        let space = IdSpace::new(1).unwrap();
        let mut store = Store::new();
        let keys: Vec<Vec<u8>> = (0..50)
            .map(|i| format!("key-{i:02}").into_bytes())
            .collect();
        for key in &keys {
            store
                .write(space.key(key), key, (Some(vec![b'v'; 100]), None), 1, 1)
                .unwrap();
        }
        let (first, _) = store.chunk(space.id(0), space.id(0), None, 500);
        assert!(
            first.len() < 10,
            "a chunk holds about 500 bytes, not a whole bucket"
        );
        let mut seen = read_in_chunks(&store, space.id(0), space.id(0), 500);
        seen.sort();
        assert_eq!(
            seen,
            keys.iter()
                .map(|k| String::from_utf8_lossy(k))
                .collect::<Vec<_>>()
        );
    }
}
