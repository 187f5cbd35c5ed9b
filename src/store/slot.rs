//! The keys that share one identifier. With m = 160 that is one key (a
//! second needs a SHA-1 collision), so it is held inline, with no map and
//! no allocation of its own; a map appears only when several keys share
//! an identifier, as they often do with the tiny m of tests. A map per key
//! cost about 700 bytes (a B-tree node), four times the key and value.

use std::collections::btree_map;
use std::collections::BTreeMap;
use std::ops::Bound;

use super::Entry;

/// A range of a slot's map.
type KeyRange<'a> = btree_map::Range<'a, Vec<u8>, Entry>;

/// The keys of one identifier, in key order.
#[derive(Clone, Debug, Default)]
pub(crate) enum Slot {
    /// None (only ever transient: an empty slot is removed).
    #[default]
    Empty,
    /// One key.
    One(Vec<u8>, Entry),
    /// Several keys.
    Many(BTreeMap<Vec<u8>, Entry>),
}

impl Slot {
    /// The entry of `key`.
    pub(crate) fn get(&self, key: &[u8]) -> Option<&Entry> {
        match self {
            Slot::Empty => None,
            Slot::One(k, entry) => (k == key).then_some(entry),
            Slot::Many(map) => map.get(key),
        }
    }

    /// The entry of `key`, to change it in place.
    pub(crate) fn get_mut(&mut self, key: &[u8]) -> Option<&mut Entry> {
        match self {
            Slot::Empty => None,
            Slot::One(k, entry) => (k == key).then_some(entry),
            Slot::Many(map) => map.get_mut(key),
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
                *self = Slot::Many(BTreeMap::from([(k, old), (key, entry)]));
                None
            }
            Slot::Many(map) => map.insert(key, entry),
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
                let removed = map.remove(key);
                if map.len() == 1 {
                    if let Some((k, entry)) = map.pop_first() {
                        *self = Slot::One(k, entry);
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
            Bound::Included(s) => k >= s,
            Bound::Excluded(s) => k > s,
        };
        let below = |k: &[u8]| match end {
            Bound::Unbounded => true,
            Bound::Included(e) => k <= e,
            Bound::Excluded(e) => k < e,
        };
        let (one, many): (Option<(&Vec<u8>, &Entry)>, Option<KeyRange<'_>>) = match self {
            Slot::Empty => (None, None),
            Slot::One(k, entry) => ((above(k) && below(k)).then_some((k, entry)), None),
            // BTreeMap::range panics on a start past the end.
            Slot::Many(_) if !ordered(start, end) => (None, None),
            Slot::Many(map) => (None, Some(map.range::<[u8], _>((start, end)))),
        };
        one.into_iter().chain(many.into_iter().flatten())
    }
}

/// Whether a range from `start` to `end` can hold a key: what
/// `BTreeMap::range` needs to not panic.
fn ordered(start: Bound<&[u8]>, end: Bound<&[u8]>) -> bool {
    match (start, end) {
        (Bound::Unbounded, _) | (_, Bound::Unbounded) => true,
        (Bound::Included(s), Bound::Included(e)) => s <= e,
        (Bound::Included(s) | Bound::Excluded(s), Bound::Included(e) | Bound::Excluded(e)) => s < e,
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
        let keys: Vec<&[u8]> = slot.iter().map(|(k, _)| k.as_slice()).collect();
        assert_eq!(keys, [b"a", b"b"], "key order");
        let after_a: Vec<&[u8]> = slot
            .range(Bound::Excluded(&b"a"[..]), Bound::Unbounded)
            .map(|(k, _)| k.as_slice())
            .collect();
        assert_eq!(after_a, [b"b"]);
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
}
