//! Digests of arcs, for anti-entropy (see [`crate::dhash::replication`]):
//! what two nodes compare instead of sending an arc, and what they send
//! back when buckets differ. Each hold of the store lock looks at a
//! bounded number of entries.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::hash::entry_hash;
use super::{Item, Key, Point, Store, Version, CHUNK_ITEMS, SCAN_ENTRIES};
use crate::id::Id;

/// One bucket of a digest: the entries after the previous bucket's end (or
/// the slice's start), up to and including the point `end`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bucket {
    /// Where the bucket ends.
    pub end: Point,
    /// XOR of the hashes of the bucket's entries (0 when empty).
    pub digest: u64,
}

impl Store {
    /// Cuts the start of the span from `start` to `end` (see
    /// [`Point`]) into buckets of `bucket_entries` entries each, at
    /// most `max_buckets` of them, and digests each. A bucket ends after
    /// its last entry: between two identifiers, or between two keys of one
    /// identifier when the next entry shares it (written without the key
    /// otherwise, so the common case stays short on the wire). Tombstones
    /// older than `horizon` are left out. The buckets
    /// cover the span up to the last one's end; that is the whole span
    /// when it ends at `end`. At most [`SCAN_ENTRIES`] entries are looked
    /// at.
    pub fn digests(
        &self,
        start: &Point,
        end: &Point,
        bucket_entries: usize,
        max_buckets: usize,
        horizon: u64,
    ) -> Vec<Bucket> {
        let mut buckets = Vec::new();
        let (mut digest, mut count, mut scanned) = (0, 0, 0);
        let mut entries = self.span(start, end).peekable();
        while let Some((id, key, entry)) = entries.next() {
            scanned += 1;
            if !entry.collectable(horizon) {
                digest ^= entry_hash(key, entry);
                count += 1;
            }
            if count >= bucket_entries || scanned >= SCAN_ENTRIES {
                // The last bucket of the span ends where the span does.
                let end = match entries.peek() {
                    None => end.clone(),
                    Some((next, _, _)) => Point {
                        id,
                        key: (*next == id).then(|| key.to_vec()),
                    },
                };
                buckets.push(Bucket { end, digest });
                (digest, count) = (0, 0);
                if buckets.len() == max_buckets
                    || entries.peek().is_none()
                    || scanned >= SCAN_ENTRIES
                {
                    return buckets;
                }
            }
        }
        buckets.push(Bucket {
            end: end.clone(),
            digest,
        });
        buckets
    }

    /// The digest of the span from `start` to `end`, as [`Store::digests`]
    /// computes it for one bucket; `None` when it holds more than
    /// `max_entries` entries, which the caller counts as a difference
    /// rather than spend the time (a peer's bucket may span the whole
    /// ring).
    pub fn digest(
        &self,
        start: &Point,
        end: &Point,
        horizon: u64,
        max_entries: usize,
    ) -> Option<u64> {
        let mut digest = 0;
        for (i, (_, key, entry)) in self.span(start, end).enumerate() {
            if i == max_entries {
                return None;
            }
            if !entry.collectable(horizon) {
                digest ^= entry_hash(key, entry);
            }
        }
        Some(digest)
    }

    /// What this node holds in the span from `start` to `end` that another
    /// node, whose versions there are `theirs`, lacks or holds older: at
    /// most about `max_bytes` of it, from at most [`SCAN_ENTRIES`] entries
    /// looked at. Once they merge it (and we merge theirs), the span is
    /// the same on both nodes, or closer to it for the next round.
    pub fn newer_than(
        &self,
        start: &Point,
        end: &Point,
        theirs: &HashMap<(Id, Key), Version>,
        max_bytes: usize,
        horizon: u64,
    ) -> Vec<Item> {
        let mut back = Vec::new();
        let mut bytes = 0;
        for (id, key, entry) in self.span(start, end).take(SCAN_ENTRIES) {
            if entry.collectable(horizon)
                || theirs
                    .get(&(id, Key::from(key)))
                    .is_some_and(|v| *v >= entry.version)
            {
                continue;
            }
            if bytes >= max_bytes || back.len() >= CHUNK_ITEMS {
                break;
            }
            bytes += entry.size(key);
            back.push(Item {
                key: key.into(),
                entry: entry.clone(),
            });
        }
        back
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{keys, put, space, store_with, value};
    use super::*;
    use crate::id::IdSpace;

    /// Which of `buckets`, a slice from `start`, match in `theirs`.
    fn compare(theirs: &Store, start: &Point, buckets: &[Bucket]) -> Vec<bool> {
        let mut from = start;
        buckets
            .iter()
            .map(|b| {
                let same = theirs.digest(from, &b.end, 0, 100) == Some(b.digest);
                from = &b.end;
                same
            })
            .collect()
    }

    #[test]
    fn digests_cover_the_arc_and_match_exactly_when_the_copies_do() {
        let ids = [1, 3, 10, 20, 40, 41, 63];
        let ours = store_with(&ids);
        let mut theirs = store_with(&ids);
        let (from, to) = (Point::after(space().id(2)), Point::after(space().id(1)));
        let buckets = ours.digests(&from, &to, 2, 100, 0);
        // Two entries a bucket: (2,10], (10,40], (40,63], then (63,1].
        let ends: Vec<Point> = buckets.iter().map(|b| b.end.clone()).collect();
        assert_eq!(ends, [10, 40, 63, 1].map(|i| Point::after(space().id(i))));
        assert_eq!(compare(&theirs, &from, &buckets), [true; 4]);
        // A newer version of k20 shows in its bucket only.
        put(&mut theirs, 20, "k20", "changed", 500);
        assert_eq!(compare(&theirs, &from, &buckets), [true, false, true, true]);
        // So does a key the other side lacks, and a tombstone.
        let mut other = store_with(&ids);
        put(&mut other, 62, "extra", "x", 1);
        other
            .write(space().id(1), b"k1", (None, None), 900, 1)
            .unwrap();
        assert_eq!(compare(&other, &from, &buckets), [true, true, false, false]);
        // At most max_buckets: the slice ends early, at a bucket boundary.
        let slice = ours.digests(&from, &to, 2, 2, 0);
        assert_eq!(slice.last().map(|b| b.end.id), Some(space().id(40)));
        // An empty arc is one empty bucket up to its end.
        let empty = Store::new().digests(&from, &to, 2, 100, 0);
        assert_eq!(
            empty,
            vec![Bucket {
                end: to.clone(),
                digest: 0
            }]
        );
    }

    /// One identifier holding many keys, as a hash tag's do: buckets end
    /// between its keys, a difference among them shows in one bucket, and
    /// a slice resumes among them.
    #[test]
    fn buckets_end_between_the_keys_of_a_crowded_identifier() {
        // With m = 1 every key has identifier 0 or 1.
        let space = IdSpace::new(1).unwrap();
        let crowd: Vec<Vec<u8>> = (0..100).map(|i| format!("k{i:03}").into_bytes()).collect();
        let (mut ours, mut theirs) = (Store::new(), Store::new());
        for key in &crowd {
            for store in [&mut ours, &mut theirs] {
                store
                    .write(space.key(key), key, (Some(b"v".to_vec()), None), 1, 1)
                    .unwrap();
            }
        }
        let (from, to) = (Point::after(space.id(0)), Point::after(space.id(0)));
        let buckets = ours.digests(&from, &to, 10, 100, 0);
        assert!(buckets.len() >= 10, "{} buckets", buckets.len());
        assert!(buckets.iter().any(|b| b.end.key.is_some()));
        assert_eq!(compare(&theirs, &from, &buckets), vec![true; buckets.len()]);
        // Every bucket holds at most 10 entries, the entries once.
        let mut start = &from;
        let mut seen = 0;
        for b in &buckets {
            let (items, _) = ours.chunk_between(start, &b.end, usize::MAX);
            assert!(items.len() <= 10, "{} entries in a bucket", items.len());
            seen += items.len();
            start = &b.end;
        }
        assert_eq!(seen, crowd.len());
        // A key changed deep in the crowd shows in one bucket only.
        let key = &crowd[77];
        theirs
            .write(space.key(key), key, (Some(b"new".to_vec()), None), 9, 1)
            .unwrap();
        let same = compare(&theirs, &from, &buckets);
        assert_eq!(same.iter().filter(|s| !**s).count(), 1, "{same:?}");
        // A slice cut short resumes where it stopped, among the keys.
        let first = ours.digests(&from, &to, 10, 3, 0);
        let rest = ours.digests(&first[2].end, &to, 10, 100, 0);
        assert_eq!([first, rest].concat(), buckets);
    }

    #[test]
    fn reconcile_makes_both_copies_of_an_arc_equal() {
        let mut ours = store_with(&[10, 20, 30]);
        let mut theirs = store_with(&[20, 30, 40]);
        put(&mut theirs, 30, "k30", "newer", 500);
        let (from, to) = (Point::after(space().id(0)), Point::after(space().id(50)));
        let id_of = |item: &Item| {
            space().id(std::str::from_utf8(&item.key[1..])
                .unwrap()
                .parse()
                .unwrap())
        };
        let (sent, _) = theirs.chunk_between(&from, &to, usize::MAX);
        let versions = sent
            .iter()
            .map(|i| ((id_of(i), i.key.clone()), i.entry.version))
            .collect();
        let mut changed = 0;
        for item in sent {
            changed += usize::from(ours.merge(id_of(&item), item.key, item.entry, 0).unwrap());
        }
        let back = ours.newer_than(&from, &to, &versions, usize::MAX, 0);
        // k40 arrived and k30 was replaced; k10 goes back, they lack it.
        assert_eq!(changed, 2);
        assert_eq!(keys(&back), vec!["k10"]);
        for item in back {
            theirs.merge(id_of(&item), item.key, item.entry, 0).unwrap();
        }
        assert_eq!(
            ours.digest(&from, &to, 0, 100),
            theirs.digest(&from, &to, 0, 100)
        );
        assert_eq!(value(&ours, 30, "k30").as_deref(), Some("newer"));
    }

    #[test]
    fn a_wide_bucket_counts_as_different_instead_of_being_scanned() {
        let store = store_with(&(0..40).collect::<Vec<_>>());
        let whole = Point::after(space().id(63));
        assert!(store.digest(&whole, &whole, 0, 40).is_some());
        assert_eq!(store.digest(&whole, &whole, 0, 39), None);
    }
}
