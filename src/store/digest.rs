//! Digests of arcs, for anti-entropy (see [`crate::dhash::replication`]):
//! what two nodes compare instead of sending an arc, and what they send
//! back when buckets differ. Each hold of the store lock looks at a
//! bounded number of entries.

use std::collections::HashMap;

use sha1::{Digest, Sha1};

use super::{Bucket, Entry, Item, Store, Version, CHUNK_ITEMS, SCAN_ENTRIES};
use crate::id::Id;

impl Store {
    /// Cuts the start of the arc `(from, to]` into buckets of about
    /// `bucket_entries` entries each (a bucket ends at an identifier, so
    /// keys sharing one stay together), at most `max_buckets` of them, and
    /// digests each. Tombstones older than `horizon` are left out. The
    /// buckets cover `(from, last.to]`; that is the whole arc when the last
    /// bucket ends at `to`. At most [`SCAN_ENTRIES`] entries are looked at.
    pub fn digests(
        &self,
        from: Id,
        to: Id,
        bucket_entries: usize,
        max_buckets: usize,
        horizon: u64,
    ) -> Vec<Bucket> {
        let mut buckets = Vec::new();
        let (mut digest, mut count, mut scanned) = (0, 0, 0);
        for (id, keys) in self.arc(from, to) {
            for (key, entry) in keys.iter() {
                scanned += 1;
                if !entry.collectable(horizon) {
                    digest ^= entry_hash(key, entry);
                    count += 1;
                }
            }
            if count >= bucket_entries || scanned >= SCAN_ENTRIES {
                buckets.push(Bucket { to: *id, digest });
                (digest, count) = (0, 0);
                if buckets.len() == max_buckets || *id == to || scanned >= SCAN_ENTRIES {
                    return buckets;
                }
            }
        }
        buckets.push(Bucket { to, digest });
        buckets
    }

    /// The digest of the arc `(from, to]`, as [`Store::digests`] computes it
    /// for one bucket; `None` when the arc holds more than `max_entries`
    /// entries, which the caller counts as a difference rather than spend
    /// the time (a peer's bucket may span the whole ring).
    pub fn digest(&self, from: Id, to: Id, horizon: u64, max_entries: usize) -> Option<u64> {
        let mut digest = 0;
        let entries = self.arc(from, to).flat_map(|(_, keys)| keys.iter());
        for (i, (key, entry)) in entries.enumerate() {
            if i == max_entries {
                return None;
            }
            if !entry.collectable(horizon) {
                digest ^= entry_hash(key, entry);
            }
        }
        Some(digest)
    }

    /// What this node holds in the arc `(from, to]` that another node, whose
    /// versions there are `theirs`, lacks or holds older: at most about
    /// `max_bytes` of it, from at most [`SCAN_ENTRIES`] entries looked at.
    /// Once they merge it (and we merge theirs), the arc is the same on
    /// both nodes, or closer to it for the next round.
    pub fn newer_than(
        &self,
        from: Id,
        to: Id,
        theirs: &HashMap<(Id, Vec<u8>), Version>,
        max_bytes: usize,
        horizon: u64,
    ) -> Vec<Item> {
        let mut back = Vec::new();
        let mut bytes = 0;
        let entries = self
            .arc(from, to)
            .flat_map(|(id, keys)| keys.iter().map(move |(key, entry)| (id, key, entry)))
            .take(SCAN_ENTRIES);
        for (id, key, entry) in entries {
            if entry.collectable(horizon)
                || theirs
                    .get(&(*id, key.clone()))
                    .is_some_and(|v| *v >= entry.version)
            {
                continue;
            }
            if bytes >= max_bytes || back.len() >= CHUNK_ITEMS {
                break;
            }
            bytes += entry.size(key);
            back.push(Item {
                key: key.clone(),
                entry: entry.clone(),
            });
        }
        back
    }
}

/// The 64-bit hash of one entry that digests XOR together: SHA-1 of the
/// key, the version and whether it is a tombstone.
fn entry_hash(key: &[u8], entry: &Entry) -> u64 {
    let mut hasher = Sha1::new();
    hasher.update(key);
    hasher.update(entry.version.stamp.to_be_bytes());
    hasher.update(entry.version.writer.to_be_bytes());
    hasher.update([u8::from(entry.is_tombstone())]);
    let digest = hasher.finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    u64::from_be_bytes(first)
}

#[cfg(test)]
mod tests {
    use super::super::tests::{keys, put, space, store_with, value};
    use super::*;

    #[test]
    fn digests_cover_the_arc_and_match_exactly_when_the_copies_do() {
        let ids = [1, 3, 10, 20, 40, 41, 63];
        let ours = store_with(&ids);
        let mut theirs = store_with(&ids);
        let (from, to) = (space().id(2), space().id(1));
        let buckets = ours.digests(from, to, 2, 100, 0);
        // Two entries a bucket: (2,10], (10,40], (40,63], then (63,1].
        let ends: Vec<Id> = buckets.iter().map(|b| b.to).collect();
        assert_eq!(ends, [10, 40, 63, 1].map(|i| space().id(i)));
        let compare = |theirs: &Store| -> Vec<bool> {
            let mut start = from;
            buckets
                .iter()
                .map(|b| {
                    let same = theirs.digest(start, b.to, 0, 100) == Some(b.digest);
                    start = b.to;
                    same
                })
                .collect()
        };
        assert_eq!(compare(&theirs), [true; 4]);
        // A newer version of k20 shows in its bucket only.
        put(&mut theirs, 20, "k20", "changed", 500);
        assert_eq!(compare(&theirs), [true, false, true, true]);
        // So does a key the other side lacks, and a tombstone.
        let mut other = store_with(&ids);
        put(&mut other, 62, "extra", "x", 1);
        other
            .write(space().id(1), b"k1", (None, None), 900, 1)
            .unwrap();
        assert_eq!(compare(&other), [true, true, false, false]);
        // At most max_buckets: the slice ends early, at a bucket boundary.
        let slice = ours.digests(from, to, 2, 2, 0);
        assert_eq!(slice.last().map(|b| b.to), Some(space().id(40)));
        // An empty arc is one empty bucket up to its end.
        let empty = Store::new().digests(from, to, 2, 100, 0);
        assert_eq!(empty, vec![Bucket { to, digest: 0 }]);
    }

    #[test]
    fn reconcile_makes_both_copies_of_an_arc_equal() {
        let mut ours = store_with(&[10, 20, 30]);
        let mut theirs = store_with(&[20, 30, 40]);
        put(&mut theirs, 30, "k30", "newer", 500);
        let (from, to) = (space().id(0), space().id(50));
        let id_of = |item: &Item| {
            space().id(std::str::from_utf8(&item.key[1..])
                .unwrap()
                .parse()
                .unwrap())
        };
        let (sent, _) = theirs.chunk(from, to, None, usize::MAX);
        let versions = sent
            .iter()
            .map(|i| ((id_of(i), i.key.clone()), i.entry.version))
            .collect();
        let mut changed = 0;
        for item in sent {
            changed += usize::from(ours.merge(id_of(&item), item.key, item.entry, 0).unwrap());
        }
        let back = ours.newer_than(from, to, &versions, usize::MAX, 0);
        // k40 arrived and k30 was replaced; k10 goes back, they lack it.
        assert_eq!(changed, 2);
        assert_eq!(keys(&back), vec!["k10"]);
        for item in back {
            theirs.merge(id_of(&item), item.key, item.entry, 0).unwrap();
        }
        assert_eq!(
            ours.digest(from, to, 0, 100),
            theirs.digest(from, to, 0, 100)
        );
        assert_eq!(value(&ours, 30, "k30").as_deref(), Some("newer"));
    }

    #[test]
    fn a_wide_bucket_counts_as_different_instead_of_being_scanned() {
        let store = store_with(&(0..40).collect::<Vec<_>>());
        let whole = space().id(63);
        assert!(store.digest(whole, whole, 0, 40).is_some());
        assert_eq!(store.digest(whole, whole, 0, 39), None);
    }
}
