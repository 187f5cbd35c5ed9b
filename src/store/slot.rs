//! The keys that share one identifier. With m = 160 that is one key (a
//! second needs a SHA-1 collision), so it is held inline, with no map and
//! no allocation of its own; a map appears only when several keys share
//! an identifier, as a hash tag's keys do, and as any keys often do with
//! the tiny m of tests. A map per key cost about 700 bytes (a B-tree
//! node), four times the key and value.
//!
//! The map orders its keys by [`key_order`]: by a fixed hash of the key
//! first, then by its bytes. Any order every node agrees on would do:
//! digest buckets and reconciled spans end between two keys in it
//! ([`super::Point`]). Byte order was slow for the case the map exists
//! for. A tag's keys share a long prefix (`key:{tag}:0000...`), so each
//! comparison read two keys through their pointers, and a lookup among
//! 10,000 keys missed the cache some 28 times; that was a tenth of a
//! 10-key `MSET`'s CPU on every node.
//!
//! The map is keyed by the hash alone, a word, and each hash holds a
//! [`Bucket`] of its keys: one, but for a collision. A B-tree node's keys
//! sit together, apart from its values, so a search reads 8 bytes a key
//! instead of a 32-byte (hash, key) pair: two cache lines a node, not six.
//! Keys that collide are kept in a map of their own, ordered by bytes, so
//! a client that crafts colliding keys (the hash is unseeded) gets the
//! cost of a B-tree, not of a list. Every key is held as a [`Key`]: a
//! short one in place, where the search finds it.

use std::cmp::Ordering;
use std::collections::btree_map;
use std::collections::BTreeMap;
use std::ops::Bound;

use super::hash::key_hash;
use super::{Entry, Key};

/// The order of the keys of one identifier: by [`key_hash`], then, for
/// keys of equal hash, by their bytes.
pub(crate) fn key_order(a: &[u8], b: &[u8]) -> Ordering {
    key_hash(a).cmp(&key_hash(b)).then_with(|| a.cmp(b))
}

/// The keys of one identifier and one [`key_hash`], in byte order.
#[derive(Clone, Debug)]
pub(crate) enum Bucket {
    /// One key: all but always.
    One(Key, Entry),
    /// Keys whose hashes collide.
    More(BTreeMap<Key, Entry>),
}

impl Bucket {
    fn get(&self, key: &[u8]) -> Option<&Entry> {
        match self {
            Bucket::One(k, entry) => (k.as_bytes() == key).then_some(entry),
            Bucket::More(map) => map.get(key),
        }
    }

    fn get_mut(&mut self, key: &[u8]) -> Option<&mut Entry> {
        match self {
            Bucket::One(k, entry) => (k.as_bytes() == key).then_some(entry),
            Bucket::More(map) => map.get_mut(key),
        }
    }

    fn insert(&mut self, key: Key, entry: Entry) -> Option<Entry> {
        match self {
            Bucket::One(k, old) if *k == key => Some(std::mem::replace(old, entry)),
            Bucket::One(..) => {
                let placeholder = Bucket::More(BTreeMap::new());
                let Bucket::One(k, old) = std::mem::replace(self, placeholder) else {
                    unreachable!("matched One above")
                };
                *self = Bucket::More(BTreeMap::from([(k, old), (key, entry)]));
                None
            }
            Bucket::More(map) => map.insert(key, entry),
        }
    }

    /// Removes `key`; its entry, and whether the bucket is now empty. A
    /// bucket of several keys never empties: left with one, it becomes
    /// [`Bucket::One`].
    fn remove(&mut self, key: &[u8]) -> (Option<Entry>, bool) {
        match self {
            Bucket::One(k, _) if k.as_bytes() == key => {
                let placeholder = Bucket::More(BTreeMap::new());
                match std::mem::replace(self, placeholder) {
                    Bucket::One(_, entry) => (Some(entry), true),
                    Bucket::More(_) => unreachable!("matched One above"),
                }
            }
            Bucket::One(..) => (None, false),
            Bucket::More(map) => {
                let removed = map.remove(key);
                if map.len() == 1 {
                    if let Some((k, entry)) = map.pop_first() {
                        *self = Bucket::One(k, entry);
                    }
                }
                (removed, false)
            }
        }
    }

    /// Its keys and entries, in byte order.
    fn iter(&self) -> impl Iterator<Item = (&[u8], &Entry)> {
        let (one, more) = match self {
            Bucket::One(k, entry) => (Some((k.as_bytes(), entry)), None),
            Bucket::More(map) => (None, Some(map.iter())),
        };
        let more = more.into_iter().flatten().map(|(k, e)| (k.as_bytes(), e));
        one.into_iter().chain(more)
    }
}

/// A range of a slot's map.
type HashRange<'a> = btree_map::Range<'a, u64, Bucket>;

/// The keys of one identifier, in [`key_order`].
#[derive(Clone, Debug, Default)]
pub(crate) enum Slot {
    /// None (only ever transient: an empty slot is removed).
    #[default]
    Empty,
    /// One key.
    One(Key, Entry),
    /// Several keys, by hash.
    Many(BTreeMap<u64, Bucket>),
}

impl Slot {
    /// The entry of `key`.
    pub(crate) fn get(&self, key: &[u8]) -> Option<&Entry> {
        match self {
            Slot::Empty => None,
            Slot::One(k, entry) => (k.as_bytes() == key).then_some(entry),
            Slot::Many(map) => map.get(&key_hash(key))?.get(key),
        }
    }

    /// The entry of `key`, to change it in place.
    pub(crate) fn get_mut(&mut self, key: &[u8]) -> Option<&mut Entry> {
        match self {
            Slot::Empty => None,
            Slot::One(k, entry) => (k.as_bytes() == key).then_some(entry),
            Slot::Many(map) => map.get_mut(&key_hash(key))?.get_mut(key),
        }
    }

    /// Puts `entry` under `key`; the entry it replaced.
    pub(crate) fn insert(&mut self, key: Key, entry: Entry) -> Option<Entry> {
        match self {
            Slot::Empty => {
                *self = Slot::One(key, entry);
                None
            }
            Slot::One(k, old) if *k == key => Some(std::mem::replace(old, entry)),
            Slot::One(..) => {
                let Slot::One(k, old) = std::mem::take(self) else {
                    unreachable!("matched One above")
                };
                let mut map = BTreeMap::new();
                for (k, e) in [(k, old), (key, entry)] {
                    Slot::put(&mut map, k, e);
                }
                *self = Slot::Many(map);
                None
            }
            Slot::Many(map) => Slot::put(map, key, entry),
        }
    }

    fn put(map: &mut BTreeMap<u64, Bucket>, key: Key, entry: Entry) -> Option<Entry> {
        match map.entry(key_hash(&key)) {
            btree_map::Entry::Vacant(vacant) => {
                vacant.insert(Bucket::One(key, entry));
                None
            }
            btree_map::Entry::Occupied(mut bucket) => bucket.get_mut().insert(key, entry),
        }
    }

    /// Removes `key`; its entry.
    pub(crate) fn remove(&mut self, key: &[u8]) -> Option<Entry> {
        match self {
            Slot::One(k, _) if k.as_bytes() == key => match std::mem::take(self) {
                Slot::One(_, entry) => Some(entry),
                _ => unreachable!("matched One above"),
            },
            Slot::Many(map) => {
                let hash = key_hash(key);
                let (removed, emptied) = map.get_mut(&hash)?.remove(key);
                if emptied {
                    map.remove(&hash);
                }
                let last = match map.first_key_value() {
                    Some((_, Bucket::One(..))) if map.len() == 1 => map.pop_first(),
                    _ => None,
                };
                if let Some((_, Bucket::One(k, entry))) = last {
                    *self = Slot::One(k, entry);
                }
                removed
            }
            _ => None,
        }
    }

    /// Whether it holds no key.
    pub(crate) fn is_empty(&self) -> bool {
        match self {
            Slot::Empty => true,
            Slot::One(..) => false,
            Slot::Many(map) => map.is_empty(),
        }
    }

    /// Its keys and entries, in key order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&[u8], &Entry)> {
        self.range(Bound::Unbounded, Bound::Unbounded)
    }

    /// Its keys and entries between `start` and `end`, in key order. A
    /// range whose start is past its end is empty.
    pub(crate) fn range<'s, 'b>(
        &'s self,
        start: Bound<&'b [u8]>,
        end: Bound<&'b [u8]>,
    ) -> impl Iterator<Item = (&'s [u8], &'s Entry)> + use<'s, 'b> {
        let above = |k: &[u8]| match start {
            Bound::Unbounded => true,
            Bound::Included(s) => key_order(k, s).is_ge(),
            Bound::Excluded(s) => key_order(k, s).is_gt(),
        };
        let below = |k: &[u8]| match end {
            Bound::Unbounded => true,
            Bound::Included(e) => key_order(k, e).is_le(),
            Bound::Excluded(e) => key_order(k, e).is_lt(),
        };
        // The hashes the range runs between. Only the buckets of these two
        // can hold keys outside it.
        let (first, last) = (bound_hash(start), bound_hash(end));
        let (one, many): (Option<(&[u8], &Entry)>, Option<HashRange<'_>>) = match self {
            Slot::Empty => (None, None),
            Slot::One(k, entry) => {
                let k = k.as_bytes();
                ((above(k) && below(k)).then_some((k, entry)), None)
            }
            // BTreeMap::range panics on a start past the end.
            Slot::Many(_) if !ordered(start, end) => (None, None),
            Slot::Many(map) => {
                let hashes = (
                    first.map_or(Bound::Unbounded, Bound::Included),
                    last.map_or(Bound::Unbounded, Bound::Included),
                );
                (None, Some(map.range(hashes)))
            }
        };
        let within = move |hash: u64, k: &[u8]| {
            let after_start = match (first, start) {
                (Some(h), Bound::Included(s)) if h == hash => k >= s,
                (Some(h), Bound::Excluded(s)) if h == hash => k > s,
                _ => true,
            };
            let before_end = match (last, end) {
                (Some(h), Bound::Included(e)) if h == hash => k <= e,
                (Some(h), Bound::Excluded(e)) if h == hash => k < e,
                _ => true,
            };
            after_start && before_end
        };
        one.into_iter().chain(
            many.into_iter().flatten().flat_map(move |(&hash, bucket)| {
                bucket.iter().filter(move |(k, _)| within(hash, k))
            }),
        )
    }
}

/// The hash of a bound's key, if it has one.
fn bound_hash(bound: Bound<&[u8]>) -> Option<u64> {
    match bound {
        Bound::Included(k) | Bound::Excluded(k) => Some(key_hash(k)),
        Bound::Unbounded => None,
    }
}

/// Whether a range from `start` to `end` can hold a key: what
/// `BTreeMap::range` needs to not panic.
fn ordered(start: Bound<&[u8]>, end: Bound<&[u8]>) -> bool {
    match (start, end) {
        (Bound::Unbounded, _) | (_, Bound::Unbounded) => true,
        (Bound::Included(s), Bound::Included(e)) => key_order(s, e).is_le(),
        (Bound::Included(s) | Bound::Excluded(s), Bound::Included(e) | Bound::Excluded(e)) => {
            key_order(s, e).is_lt()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::hash::colliding;
    use crate::store::Version;

    #[test]
    fn keys_of_one_hash_share_a_bucket_and_keep_key_order() {
        let base = *b"key:{t}:00000000";
        let twins: Vec<Vec<u8>> = (0..300).map(|i| colliding(base, i).to_vec()).collect();
        let others: Vec<Vec<u8>> = (0..300)
            .map(|i| format!("key:{{t}}:{i:08}").into_bytes())
            .collect();
        let mut slot = Slot::default();
        for (i, key) in twins.iter().chain(&others).enumerate() {
            assert_eq!(slot.insert(key.clone().into(), entry(i as u64)), None);
        }
        let Slot::Many(map) = &slot else {
            panic!("several keys make a map")
        };
        assert!(map.len() <= others.len() + 1, "the twins share one bucket");
        for (i, key) in twins.iter().chain(&others).enumerate() {
            assert_eq!(slot.get(key), Some(&entry(i as u64)));
        }
        let mut sorted: Vec<&[u8]> = twins.iter().chain(&others).map(Vec::as_slice).collect();
        sorted.sort_by(|a, b| key_order(a, b));
        let held: Vec<&[u8]> = slot.iter().map(|(k, _)| k).collect();
        assert_eq!(held, sorted);
        // A range that starts and ends among the twins.
        let (from, to) = (&twins[10], &twins[20]);
        let (from, to) = if key_order(from, to).is_lt() {
            (from, to)
        } else {
            (to, from)
        };
        let between: Vec<&[u8]> = slot
            .range(Bound::Excluded(from), Bound::Excluded(to))
            .map(|(k, _)| k)
            .collect();
        let want: Vec<&[u8]> = sorted
            .iter()
            .copied()
            .filter(|k| key_order(k, from).is_gt() && key_order(k, to).is_lt())
            .collect();
        assert_eq!(between, want);
        for key in twins.iter().chain(&others[..299]) {
            assert!(slot.remove(key).is_some());
        }
        assert!(matches!(&slot, Slot::One(k, _) if k.as_bytes() == others[299]));
    }

    fn entry(stamp: u64) -> Entry {
        Entry {
            value: Some(format!("v{stamp}").into_bytes()),
            version: Version { stamp, writer: 1 },
            expires: None,
            update: None,
        }
    }

    #[test]
    fn one_key_inline_several_in_a_map_back_to_one() {
        let mut slot = Slot::default();
        assert!(slot.is_empty());
        assert_eq!(slot.insert(b"b".into(), entry(1)), None);
        assert!(matches!(slot, Slot::One(..)));
        assert_eq!(slot.insert(b"b".into(), entry(2)), Some(entry(1)));
        assert_eq!(slot.insert(b"a".into(), entry(3)), None);
        assert!(matches!(slot, Slot::Many(_)));
        let (first, second): (&[u8], &[u8]) = if key_order(b"a", b"b").is_lt() {
            (b"a", b"b")
        } else {
            (b"b", b"a")
        };
        let keys: Vec<&[u8]> = slot.iter().map(|(k, _)| k).collect();
        assert_eq!(keys, [first, second], "key order");
        let after_first: Vec<&[u8]> = slot
            .range(Bound::Excluded(first), Bound::Unbounded)
            .map(|(k, _)| k)
            .collect();
        assert_eq!(after_first, [second]);
        assert_eq!(slot.get(b"a"), Some(&entry(3)));
        assert_eq!(slot.remove(b"a"), Some(entry(3)));
        assert!(matches!(slot, Slot::One(..)));
        assert_eq!(slot.remove(b"zzz"), None);
        assert_eq!(slot.remove(b"b"), Some(entry(2)));
        assert!(slot.is_empty());
        assert_eq!(
            slot.range(Bound::Excluded(&b""[..]), Bound::Unbounded)
                .count(),
            0
        );
    }

    #[test]
    fn keys_short_and_long_move_between_one_and_many() {
        let keys: Vec<Vec<u8>> = [0, 1, 21, 22, 23, 300]
            .iter()
            .map(|&n| vec![b'k'; n])
            .collect();
        // One key alone, then among others, then alone again.
        for key in &keys {
            let mut slot = Slot::default();
            slot.insert(key.clone().into(), entry(1));
            assert_eq!(slot.get(key), Some(&entry(1)));
            for (i, other) in keys.iter().enumerate().filter(|(_, o)| *o != key) {
                slot.insert(other.clone().into(), entry(i as u64 + 2));
            }
            let mut sorted: Vec<&[u8]> = keys.iter().map(Vec::as_slice).collect();
            sorted.sort_by(|a, b| key_order(a, b));
            assert_eq!(slot.iter().map(|(k, _)| k).collect::<Vec<_>>(), sorted);
            for other in keys.iter().filter(|o| *o != key) {
                assert!(slot.remove(other).is_some());
            }
            assert!(matches!(&slot, Slot::One(k, _) if k.as_bytes() == key.as_slice()));
            assert_eq!(slot.remove(key), Some(entry(1)));
        }
    }

    #[test]
    fn a_tags_keys_are_found_and_ranged_in_key_order() {
        let keys: Vec<Vec<u8>> = (0..500)
            .map(|i| format!("key:{{t}}:{i:012}").into_bytes())
            .collect();
        let mut slot = Slot::default();
        for (i, key) in keys.iter().enumerate() {
            assert_eq!(slot.insert(key.clone().into(), entry(i as u64)), None);
        }
        for (i, key) in keys.iter().enumerate() {
            assert_eq!(slot.get(key), Some(&entry(i as u64)));
            assert_eq!(slot.get_mut(key).map(|e| e.version.stamp), Some(i as u64));
        }
        assert_eq!(slot.get(b"key:{t}:000000000500"), None);
        let mut sorted = keys.clone();
        sorted.sort_by(|a, b| key_order(a, b));
        let held: Vec<&[u8]> = slot.iter().map(|(k, _)| k).collect();
        assert_eq!(held, sorted.iter().collect::<Vec<_>>());
        // A range between two held keys, in either kind of bound, is the
        // sorted keys between them; one that starts past its end is empty.
        let (from, to) = (&sorted[100], &sorted[300]);
        let between: Vec<&[u8]> = slot
            .range(Bound::Excluded(from), Bound::Included(to))
            .map(|(k, _)| k)
            .collect();
        assert_eq!(between, sorted[101..=300].iter().collect::<Vec<_>>());
        assert_eq!(
            slot.range(Bound::Included(from), Bound::Excluded(to))
                .count(),
            200
        );
        assert_eq!(
            slot.range(Bound::Excluded(to), Bound::Included(from))
                .count(),
            0
        );
        for key in &keys[..499] {
            assert!(slot.remove(key).is_some());
        }
        assert!(matches!(&slot, Slot::One(k, _) if k.as_bytes() == keys[499]));
    }
}
