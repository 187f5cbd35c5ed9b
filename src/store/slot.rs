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
//! 10-key `MSET`'s CPU on every node. Most comparisons now read one word
//! held in the tree's node.

use std::cmp::Ordering;
use std::collections::btree_map;
use std::collections::BTreeMap;
use std::ops::Bound;

use super::hash::key_hash;
use super::Entry;

/// The order of the keys of one identifier: by [`key_hash`], then, for
/// keys of equal hash, by their bytes.
pub(crate) fn key_order(a: &[u8], b: &[u8]) -> Ordering {
    key_hash(a).cmp(&key_hash(b)).then_with(|| a.cmp(b))
}

/// A key in a slot's map, ordered as [`key_order`] orders keys.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Ordered {
    /// [`key_hash`] of `key`; compared first.
    hash: u64,
    key: Vec<u8>,
}

impl Ordered {
    fn new(key: Vec<u8>) -> Ordered {
        Ordered {
            hash: key_hash(&key),
            key,
        }
    }

    /// Where the keys of hash `hash` begin, without allocating a key: an
    /// empty `Vec` sorts before every key of that hash.
    fn first_of(hash: u64) -> Ordered {
        Ordered {
            hash,
            key: Vec::new(),
        }
    }
}

/// A range of a slot's map.
type KeyRange<'a> = btree_map::Range<'a, Ordered, Entry>;

/// The keys of one identifier, in [`key_order`].
#[derive(Clone, Debug, Default)]
pub(crate) enum Slot {
    /// None (only ever transient: an empty slot is removed).
    #[default]
    Empty,
    /// One key.
    One(Vec<u8>, Entry),
    /// Several keys.
    Many(BTreeMap<Ordered, Entry>),
}

impl Slot {
    /// The entry of `key`.
    pub(crate) fn get(&self, key: &[u8]) -> Option<&Entry> {
        match self {
            Slot::Empty => None,
            Slot::One(k, entry) => (k == key).then_some(entry),
            Slot::Many(map) => {
                let hash = key_hash(key);
                map.range(Ordered::first_of(hash)..)
                    .take_while(|(k, _)| k.hash == hash)
                    .find(|(k, _)| k.key == key)
                    .map(|(_, entry)| entry)
            }
        }
    }

    /// The entry of `key`, to change it in place.
    pub(crate) fn get_mut(&mut self, key: &[u8]) -> Option<&mut Entry> {
        match self {
            Slot::Empty => None,
            Slot::One(k, entry) => (k == key).then_some(entry),
            Slot::Many(map) => {
                let hash = key_hash(key);
                map.range_mut(Ordered::first_of(hash)..)
                    .take_while(|(k, _)| k.hash == hash)
                    .find(|(k, _)| k.key == key)
                    .map(|(_, entry)| entry)
            }
        }
    }

    /// Puts `entry` under `key`; the entry it replaced.
    pub(crate) fn insert(&mut self, key: Vec<u8>, entry: Entry) -> Option<Entry> {
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
                *self = Slot::Many(BTreeMap::from([
                    (Ordered::new(k), old),
                    (Ordered::new(key), entry),
                ]));
                None
            }
            Slot::Many(map) => map.insert(Ordered::new(key), entry),
        }
    }

    /// Removes `key`; its entry.
    pub(crate) fn remove(&mut self, key: &[u8]) -> Option<Entry> {
        match self {
            Slot::One(k, _) if k == key => match std::mem::take(self) {
                Slot::One(_, entry) => Some(entry),
                _ => unreachable!("matched One above"),
            },
            Slot::Many(map) => {
                let removed = map.remove(&Ordered::new(key.to_vec()));
                if map.len() == 1 {
                    if let Some((k, entry)) = map.pop_first() {
                        *self = Slot::One(k.key, entry);
                    }
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
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&Vec<u8>, &Entry)> {
        self.range(Bound::Unbounded, Bound::Unbounded)
    }

    /// Its keys and entries between `start` and `end`, in key order. A
    /// range whose start is past its end is empty.
    pub(crate) fn range(
        &self,
        start: Bound<&[u8]>,
        end: Bound<&[u8]>,
    ) -> impl Iterator<Item = (&Vec<u8>, &Entry)> {
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
        let (one, many): (Option<(&Vec<u8>, &Entry)>, Option<KeyRange<'_>>) = match self {
            Slot::Empty => (None, None),
            Slot::One(k, entry) => ((above(k) && below(k)).then_some((k, entry)), None),
            // BTreeMap::range panics on a start past the end.
            Slot::Many(_) if !ordered(start, end) => (None, None),
            Slot::Many(map) => {
                let bound = |b: Bound<&[u8]>| b.map(|k| Ordered::new(k.to_vec()));
                (None, Some(map.range((bound(start), bound(end)))))
            }
        };
        one.into_iter()
            .chain(many.into_iter().flatten().map(|(k, entry)| (&k.key, entry)))
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
    use crate::store::Version;

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
        assert_eq!(slot.insert(b"b".to_vec(), entry(1)), None);
        assert!(matches!(slot, Slot::One(..)));
        assert_eq!(slot.insert(b"b".to_vec(), entry(2)), Some(entry(1)));
        assert_eq!(slot.insert(b"a".to_vec(), entry(3)), None);
        assert!(matches!(slot, Slot::Many(_)));
        let (first, second): (&[u8], &[u8]) = if key_order(b"a", b"b").is_lt() {
            (b"a", b"b")
        } else {
            (b"b", b"a")
        };
        let keys: Vec<&[u8]> = slot.iter().map(|(k, _)| k.as_slice()).collect();
        assert_eq!(keys, [first, second], "key order");
        let after_first: Vec<&[u8]> = slot
            .range(Bound::Excluded(first), Bound::Unbounded)
            .map(|(k, _)| k.as_slice())
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
    fn a_tags_keys_are_found_and_ranged_in_key_order() {
        let keys: Vec<Vec<u8>> = (0..500)
            .map(|i| format!("key:{{t}}:{i:012}").into_bytes())
            .collect();
        let mut slot = Slot::default();
        for (i, key) in keys.iter().enumerate() {
            assert_eq!(slot.insert(key.clone(), entry(i as u64)), None);
        }
        for (i, key) in keys.iter().enumerate() {
            assert_eq!(slot.get(key), Some(&entry(i as u64)));
            assert_eq!(slot.get_mut(key).map(|e| e.version.stamp), Some(i as u64));
        }
        assert_eq!(slot.get(b"key:{t}:000000000500"), None);
        let mut sorted = keys.clone();
        sorted.sort_by(|a, b| key_order(a, b));
        let held: Vec<&Vec<u8>> = slot.iter().map(|(k, _)| k).collect();
        assert_eq!(held, sorted.iter().collect::<Vec<_>>());
        // A range between two held keys, in either kind of bound, is the
        // sorted keys between them; one that starts past its end is empty.
        let (from, to) = (&sorted[100], &sorted[300]);
        let between: Vec<&Vec<u8>> = slot
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
        assert!(matches!(&slot, Slot::One(k, _) if *k == keys[499]));
    }
}
