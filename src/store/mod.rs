//! The key-value pairs one node holds, indexed by the keys' identifiers.
//!
//! Chord itself only maps a key to a node (the paper's section 3); storing
//! the pair there, and at the next nodes as replicas (the paper's section
//! "Failure and Replication" suggests the successor list for that), is the
//! application on top, the paper's "DHash" layer. Pairs are kept in a map
//! ordered by the key's identifier, so that an arc of the ring, `(a, b]`, is
//! a range query and not a scan. Several keys can share one identifier (a
//! small m makes that common), so each identifier holds a small map of its
//! own.
//!
//! # Versions and tombstones
//!
//! Every entry carries a [`Version`]: the owner stamps each write with its
//! clock in microseconds, raised past the stamp it already holds for that
//! key, and with its own identity to break ties. Copies merge by keeping
//! the higher version, so replicas that saw writes in different orders, or
//! twice, or late, converge on the latest. A delete writes a *tombstone*,
//! an entry without a value, so that it too wins against older copies. A
//! tombstone older than the hold period (the *horizon* the caller passes)
//! has done its job: it is collected, leaves digests, and is not merged
//! again. A copy that comes back after being cut off for longer than the
//! hold can bring a deleted value back; the hold is the bound on that.
//!
//! # Expiry
//!
//! An entry may carry the time its value expires ([`Entry::expires`]).
//! Readers pass the time they read at, and an expired value reads as none
//! ([`Entry::is_live`]). [`Store::collect`] later empties it into a
//! tombstone of the same version, which ages from the expiry time and
//! wins against a copy of the value it replaced ([`Entry::supersedes`]):
//! the expiry needs no message between nodes, only their clocks.
//!
//! # A bounded store
//!
//! A store counts the bytes it holds, roughly: each entry's key and value
//! plus [`ENTRY_OVERHEAD`] for the maps and headers around them. A write
//! from a client ([`Store::write`]) that would take the count past the
//! store's limit is refused with [`Full`] and changes nothing. Copies from
//! other nodes ([`Store::merge`]: replication, hand-over, repair) may use a
//! further eighth of the limit, [`Store::hard_limit`], so that a replica
//! holding a little more than its owner still takes the owner's writes;
//! past that they are refused too, and the sender keeps its copy. Deletes
//! of keys that exist always succeed: they shrink the store.
//!
//! # Updates applied once
//!
//! A store also remembers what the updates it applied lately wrote
//! ([`Applied`], `store/applied.rs`), under the same lock as the pairs, so
//! that looking an update up and applying it are one step: a retried
//! `INCR` is answered with its first result, not counted twice. And the
//! entry an update writes carries the update's id ([`Entry::update`]), so
//! a node that holds the entry after the key changed owners knows the
//! update too ([`Store::repeated`]).
//!
//! # Digests
//!
//! Anti-entropy (see [`crate::dhash::replication`]) compares two nodes' copies of
//! an arc without sending it: [`Store::digests`] cuts the arc into buckets
//! of a bounded number of entries and sums each bucket into a 64-bit XOR of
//! per-entry hashes; the other side computes [`Store::digest`] over the
//! same bounds, and only buckets that differ are sent (`store/digest.rs`).

use std::collections::BTreeMap;

use crate::id::Id;

mod applied;
mod arc;
mod collect;
mod digest;
mod entry;
mod flush;
mod hash;
mod journal;
mod key;
mod limits;
mod number;
mod slot;
pub mod strings;

pub use applied::{Applied, KeptValue, Record, UpdateId, MAX_RECORDS};
pub use arc::{Cursor, Point};
pub use digest::Bucket;
pub use entry::{Content, Entry, Item, Version};
pub use journal::{Change, Journal};
pub use key::Key;
pub use limits::{
    check_key, check_value, Full, TooLong, Usage, DEFAULT_MAX_VALUE, MAX_KEY, MAX_VALUE,
};
pub use number::{add_floats, float, integer, MAX_FLOAT_TEXT};
use slot::Slot;

/// What one entry costs beyond its key and value bytes, as the store
/// counts its size: an estimate of the map nodes, string headers and
/// version around them.
pub const ENTRY_OVERHEAD: usize = 96;

/// The most entries one [`Store::chunk`] returns, whatever their size, so
/// that a chunk of tiny entries or tombstones holds the lock briefly too.
pub const CHUNK_ITEMS: usize = 512;

/// The most entries a digest or reconcile looks at under one hold of the
/// lock: a bucket that covers more (a peer's bucket can be as wide as the
/// ring) simply counts as different.
pub const SCAN_ENTRIES: usize = 1024;

/// What a write at the owner did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Written {
    /// The entry now stored, with its new version.
    pub entry: Entry,
    /// Whether the key had a value before (a DEL of a missing key still
    /// writes a tombstone, so that it wins against stale copies).
    pub existed: bool,
    /// The value it replaced, for an update that answers with it
    /// (`GETSET`, `GETDEL`); `None` for every other write.
    pub previous: Option<Vec<u8>>,
}

/// What an update did at the owner: wrote, or found its condition false
/// and wrote nothing, with what its answer needs of the value before
/// (`GETSET`'s old value), if anything.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// It wrote.
    Wrote(Written),
    /// Its condition did not hold: nothing was written.
    Unchanged(Option<Vec<u8>>),
}

/// One node's pairs. Pure data: the caller holds the lock.
#[derive(Debug)]
pub struct Store {
    by_id: BTreeMap<Id, Slot>,
    counts: Counts,
    /// The most bytes client writes may take the store to.
    limit: usize,
    /// What the updates applied here lately did, so that a retried one
    /// is answered, not applied again (`store/applied.rs`).
    pub(crate) applied: Applied,
    /// The flush watermark: entries stamped at or before it are gone (see
    /// `store/flush.rs`); 0 when the ring was never flushed.
    flushed: u64,
    /// Where every change is reported, for a node that keeps its pairs on
    /// disk (`store/journal.rs`); `None` for one that keeps them in memory
    /// only.
    journal: Option<std::sync::Arc<dyn Journal>>,
    /// How many times the entries held have changed: anti-entropy skips
    /// comparing two copies that agreed and have not changed since.
    changes: u64,
}

/// A store's running counts of what it holds, kept as entries come and go.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Counts {
    /// Entries held, tombstones included.
    entries: usize,
    /// Tombstones among them.
    tombstones: usize,
    /// Values with an expiry time: what [`Store::collect`] looks for
    /// besides tombstones.
    expiring: usize,
    /// The bytes held, as [`Entry::cost`] counts them.
    bytes: usize,
}

impl Counts {
    /// Counts `entry` of `key` in.
    fn add(&mut self, key: &[u8], entry: &Entry) {
        self.entries += 1;
        self.tombstones += usize::from(entry.is_tombstone());
        self.expiring += usize::from(!entry.is_tombstone() && entry.expires.is_some());
        self.bytes += entry.cost(key);
    }

    /// Counts `entry` of `key` out.
    fn remove(&mut self, key: &[u8], entry: &Entry) {
        self.entries -= 1;
        self.tombstones -= usize::from(entry.is_tombstone());
        self.expiring -= usize::from(!entry.is_tombstone() && entry.expires.is_some());
        self.bytes -= entry.cost(key);
    }
}

impl Default for Store {
    fn default() -> Store {
        Store::with_limit(usize::MAX)
    }
}

impl Store {
    /// An empty store with no limit on its size.
    pub fn new() -> Store {
        Store::default()
    }

    /// An empty store that client writes may fill to `limit` bytes.
    pub fn with_limit(limit: usize) -> Store {
        Store {
            by_id: BTreeMap::new(),
            counts: Counts::default(),
            limit,
            applied: Applied::default(),
            flushed: 0,
            journal: None,
            changes: 0,
        }
    }

    /// The bytes held, roughly: keys, values and [`ENTRY_OVERHEAD`] each.
    pub fn bytes(&self) -> usize {
        self.counts.bytes
    }

    /// How many times the entries held have changed since the store was
    /// made: each write, merged copy, removal and flush counts.
    pub fn changes(&self) -> u64 {
        self.changes
    }

    /// The limit client writes may fill the store to.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Sets the limit client writes may fill the store to. A store already
    /// past it keeps what it holds, and refuses writes until it is below.
    pub fn set_limit(&mut self, limit: usize) {
        self.limit = limit;
    }

    /// The limit copies from other nodes may fill the store to: an eighth
    /// more than [`Store::limit`].
    pub fn hard_limit(&self) -> usize {
        self.limit.saturating_add(self.limit / 8)
    }

    /// What the store holds.
    pub fn usage(&self) -> Usage {
        Usage {
            keys: self.len(),
            entries: self.counts.entries,
            expiring: self.counts.expiring,
            bytes: self.counts.bytes,
            limit: self.limit,
        }
    }

    /// How many keys have a value (tombstones are not counted).
    pub fn len(&self) -> usize {
        self.counts.entries - self.counts.tombstones
    }

    /// Whether no key has a value.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How many entries are held, tombstones included.
    pub fn entries(&self) -> usize {
        self.counts.entries
    }

    /// Every key that has a value, sorted.
    pub fn keys(&self) -> Vec<Vec<u8>> {
        let mut keys: Vec<Vec<u8>> = self
            .by_id
            .values()
            .flat_map(|k| k.iter().filter(|(_, e)| !e.is_tombstone()))
            .map(|(key, _)| key.to_vec())
            .collect();
        keys.sort();
        keys
    }

    /// The entry of `key`, whose identifier is `id`; a tombstone if the key
    /// was deleted lately.
    pub fn get(&self, id: Id, key: &[u8]) -> Option<&Entry> {
        self.by_id.get(&id).and_then(|keys| keys.get(key))
    }

    /// Writes `value` under `key` (`None` deletes it), expiring at
    /// `expires`, as the owner: the new version is stamped `now`, or just
    /// past the version held if that is later, so the new write wins
    /// against every copy of an older one. `existed` says whether the key
    /// had a value at `now`.
    ///
    /// # Errors
    /// [`Full`] when a value would take the store past [`Store::limit`],
    /// or a tombstone past [`Store::hard_limit`]; nothing changes then.
    pub fn write(
        &mut self,
        id: Id,
        key: &[u8],
        content: Content,
        now: u64,
        writer: u64,
    ) -> Result<Written, Full> {
        self.write_by(id, key, content, now, writer, None)
    }

    /// [`Store::write`] for the update `update` (`None`: a plain write),
    /// whose id the new entry carries ([`Entry::update`]).
    ///
    /// # Errors
    /// As [`Store::write`].
    pub fn write_by(
        &mut self,
        id: Id,
        key: &[u8],
        (value, expires): Content,
        now: u64,
        writer: u64,
        update: Option<UpdateId>,
    ) -> Result<Written, Full> {
        let limit = if value.is_none() {
            self.hard_limit()
        } else {
            self.limit
        };
        let mut written = None;
        // Past the flush watermark too: a write after a flush must not be
        // taken for one before it, whatever this node's clock says.
        let now = now.max(self.flushed.saturating_add(1));
        self.put(id, key, limit, |held| {
            let stamp = held.map_or(now, |e| now.max(e.version.stamp.saturating_add(1)));
            let entry = Entry {
                value,
                version: Version { stamp, writer },
                expires,
                update,
            };
            written = Some(Written {
                entry: entry.clone(),
                existed: held.is_some_and(|e| e.is_live(now)),
                previous: None,
            });
            Some(entry)
        })?;
        Ok(written.expect("put calls make once"))
    }

    /// Keeps `entry` for `key` if it supersedes the entry held (see
    /// [`Entry::supersedes`]) and was stamped after the flush watermark. A
    /// tombstone older than `horizon` is not kept, but still removes an
    /// older value. Returns whether the store changed.
    ///
    /// # Errors
    /// [`Full`] when the copy would take the store past
    /// [`Store::hard_limit`]; nothing changes then.
    pub fn merge(&mut self, id: Id, key: Key, entry: Entry, horizon: u64) -> Result<bool, Full> {
        if entry.version.stamp <= self.flushed {
            // A copy from before a flush, from a node that missed it.
            return Ok(false);
        }
        if entry.collectable(horizon) {
            let older = self
                .get(id, &key)
                .is_some_and(|held| held.version < entry.version);
            return Ok(older && self.remove(id, &key));
        }
        let limit = self.hard_limit();
        self.put(id, key, limit, |held| {
            let newer = held.is_none_or(|held| entry.supersedes(held));
            newer.then_some(entry)
        })
    }

    /// Puts what `make` returns for the entry held for `key` (`None`:
    /// leave it), if the store stays within `limit` or does not grow;
    /// whether it put one. `make` is called exactly once. A key already
    /// held is looked up once and replaced in place: this is most of an
    /// owner write's work under the store lock.
    fn put(
        &mut self,
        id: Id,
        key: impl AsRef<[u8]> + Into<Key>,
        limit: usize,
        make: impl FnOnce(Option<&Entry>) -> Option<Entry>,
    ) -> Result<bool, Full> {
        let used = self.counts.bytes;
        let bytes = key.as_ref();
        let fits = |old: usize, new: usize| {
            if new <= old || used.saturating_add(new - old) <= limit {
                Ok(())
            } else {
                Err(Full { used, limit })
            }
        };
        if let Some(held) = self.by_id.get_mut(&id).and_then(|slot| slot.get_mut(bytes)) {
            let Some(entry) = make(Some(held)) else {
                return Ok(false);
            };
            fits(held.cost(bytes), entry.cost(bytes))?;
            self.counts.remove(bytes, held);
            self.counts.add(bytes, &entry);
            self.changes += 1;
            *held = entry;
            if let Some(journal) = &self.journal {
                journal.record(Change::Put {
                    key: bytes,
                    entry: held,
                });
            }
            return Ok(true);
        }
        let Some(entry) = make(None) else {
            return Ok(false);
        };
        fits(0, entry.cost(bytes))?;
        self.counts.add(bytes, &entry);
        self.changes += 1;
        self.note(Change::Put {
            key: bytes,
            entry: &entry,
        });
        self.by_id.entry(id).or_default().insert(key.into(), entry);
        Ok(true)
    }

    fn remove(&mut self, id: Id, key: &[u8]) -> bool {
        let Some(keys) = self.by_id.get_mut(&id) else {
            return false;
        };
        let Some(old) = keys.remove(key) else {
            return false;
        };
        if keys.is_empty() {
            self.by_id.remove(&id);
        }
        self.counts.remove(key, &old);
        self.changes += 1;
        self.note(Change::Remove { key });
        true
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::id::IdSpace;

    pub(crate) fn space() -> IdSpace {
        IdSpace::new(6).unwrap()
    }

    /// Writes `value` under `key` at identifier `id`, at time `now`, with
    /// no expiry.
    pub(crate) fn put(store: &mut Store, id: u64, key: &str, value: &str, now: u64) -> Entry {
        let value = Some(value.as_bytes().to_vec());
        store
            .write(space().id(id), key.as_bytes(), (value, None), now, 1)
            .unwrap()
            .entry
    }

    pub(crate) fn store_with(ids: &[u64]) -> Store {
        let mut store = Store::new();
        for &i in ids {
            put(&mut store, i, &format!("k{i}"), &format!("v{i}"), 100);
        }
        store
    }

    pub(crate) fn keys(items: &[Item]) -> Vec<String> {
        items
            .iter()
            .map(|i| String::from_utf8_lossy(&i.key).into_owned())
            .collect()
    }

    pub(crate) fn value(store: &Store, id: u64, key: &str) -> Option<String> {
        let value = store.get(space().id(id), key.as_bytes())?.value.clone()?;
        Some(String::from_utf8(value).expect("the tests write text"))
    }

    #[test]
    fn a_write_is_versioned_past_the_clock_and_the_previous_version() {
        let mut store = Store::new();
        let first = put(&mut store, 5, "a", "1", 100);
        assert_eq!(first.version.stamp, 100);
        // A clock that stood still (or went back) still moves the version on.
        let second = put(&mut store, 5, "a", "2", 90);
        assert_eq!(second.version.stamp, 101);
        assert_eq!(value(&store, 5, "a").as_deref(), Some("2"));
    }

    #[test]
    fn a_delete_leaves_a_tombstone_that_is_not_a_key() {
        let mut store = store_with(&[5]);
        let written = store
            .write(space().id(5), b"k5", (None, None), 200, 1)
            .unwrap();
        assert!(written.existed);
        assert!(written.entry.is_tombstone());
        assert_eq!((store.len(), store.entries()), (0, 1));
        assert!(store.keys().is_empty());
        // Deleting a missing key still writes a tombstone, and says so.
        let again = store
            .write(space().id(7), b"k7", (None, None), 200, 1)
            .unwrap();
        assert!(!again.existed);
        assert_eq!(store.entries(), 2);
    }

    #[test]
    fn merge_keeps_the_newer_version_whatever_the_order() {
        let old = Entry {
            value: Some("old".into()),
            version: Version {
                stamp: 1,
                writer: 9,
            },
            expires: None,
            update: None,
        };
        let new = Entry {
            value: Some("new".into()),
            version: Version {
                stamp: 2,
                writer: 1,
            },
            expires: None,
            update: None,
        };
        let gone = Entry {
            value: None,
            version: Version {
                stamp: 3,
                writer: 1,
            },
            expires: None,
            update: None,
        };
        let orders = [
            [&old, &new, &gone],
            [&gone, &new, &old],
            [&new, &gone, &old],
        ];
        for order in orders {
            let mut store = Store::new();
            for entry in order {
                store
                    .merge(space().id(5), b"a".into(), entry.clone(), 0)
                    .unwrap();
            }
            assert_eq!(store.get(space().id(5), b"a"), Some(&gone), "{order:?}");
        }
        // Equal stamps: the writer breaks the tie, the same way everywhere.
        let mut store = Store::new();
        let tie = Entry {
            value: Some("tie".into()),
            version: Version {
                stamp: 1,
                writer: 10,
            },
            expires: None,
            update: None,
        };
        store
            .merge(space().id(5), b"a".into(), tie.clone(), 0)
            .unwrap();
        assert_eq!(store.merge(space().id(5), b"a".into(), old, 0), Ok(false));
        assert_eq!(store.get(space().id(5), b"a"), Some(&tie));
    }

    #[test]
    fn an_expired_tombstone_is_not_kept_but_still_removes_an_older_value() {
        let mut store = store_with(&[5]);
        let gone = Entry {
            value: None,
            version: Version {
                stamp: 150,
                writer: 1,
            },
            expires: None,
            update: None,
        };
        assert_eq!(
            store.merge(space().id(5), b"k5".into(), gone.clone(), 1_000),
            Ok(true)
        );
        assert_eq!(store.entries(), 0);
        assert_eq!(
            store.merge(space().id(5), b"k5".into(), gone, 1_000),
            Ok(false)
        );
        assert_eq!(store.entries(), 0);
    }

    #[test]
    fn client_writes_stop_at_the_limit_and_copies_at_an_eighth_more() {
        let cost = |value: &str| 2 + value.len() + ENTRY_OVERHEAD;
        let value = "v".repeat(100);
        let mut store = Store::with_limit(3 * cost(&value));
        for i in 0..3 {
            put(&mut store, i, &format!("k{i}"), &value, 1);
        }
        assert_eq!(store.bytes(), 3 * cost(&value));
        // A fourth value does not fit: refused, and nothing changes.
        let refused = store.write(
            space().id(3),
            b"k3",
            (Some(value.clone().into_bytes()), None),
            1,
            1,
        );
        assert_eq!(
            refused,
            Err(Full {
                used: store.bytes(),
                limit: store.limit()
            })
        );
        assert_eq!(store.get(space().id(3), b"k3"), None);
        // Overwriting with a value no larger still works, and so does a
        // delete, which shrinks the store.
        put(&mut store, 0, "k0", "small", 2);
        store
            .write(space().id(1), b"k1", (None, None), 2, 1)
            .unwrap();
        assert_eq!(store.bytes(), cost("small") + cost("") + cost(&value));
        // Copies from other nodes may use an eighth more: one tombstone
        // fits, then the hard limit refuses a value.
        let copy = |stamp| Entry {
            value: Some(value.clone().into_bytes()),
            version: Version { stamp, writer: 2 },
            expires: None,
            update: None,
        };
        store
            .merge(space().id(4), b"k4".into(), copy(3), 0)
            .unwrap();
        assert!(store.bytes() > store.limit());
        assert!(store
            .merge(space().id(5), b"k5".into(), copy(3), 0)
            .is_err());
        // Removing counts the bytes out again.
        store.remove(space().id(4), b"k4");
        store.remove(space().id(0), b"k0");
        store.remove(space().id(1), b"k1");
        store.remove(space().id(2), b"k2");
        assert_eq!((store.bytes(), store.entries()), (0, 0));
    }

    #[test]
    fn a_version_at_the_end_of_time_does_not_wrap() {
        let mut store = Store::new();
        let last = Entry {
            value: Some("v".into()),
            version: Version {
                stamp: u64::MAX,
                writer: 1,
            },
            expires: None,
            update: None,
        };
        store.merge(space().id(5), b"a".into(), last, 0).unwrap();
        let next = put(&mut store, 5, "a", "w", 100);
        assert_eq!(next.version.stamp, u64::MAX);
        assert_eq!(value(&store, 5, "a").as_deref(), Some("w"));
    }

    /// The store's running counts, recounted from what it holds.
    fn recount(store: &Store) -> Counts {
        let mut counts = Counts::default();
        for slot in store.by_id.values() {
            for (key, entry) in slot.iter() {
                counts.add(key, entry);
            }
        }
        counts
    }

    #[test]
    fn the_counts_follow_every_kind_of_change() {
        let mut store = Store::new();
        let copy = |value: Option<&str>, stamp| Entry {
            value: value.map(|v| v.as_bytes().to_vec()),
            version: Version { stamp, writer: 2 },
            expires: None,
            update: None,
        };
        // Ids 5 and 6 hold two keys each, as a small m makes common.
        put(&mut store, 5, "a", "one", 10);
        put(&mut store, 5, "b", "two", 10);
        put(&mut store, 5, "a", "a longer value in place", 20);
        store
            .write(space().id(5), b"b", (None, None), 30, 1)
            .unwrap();
        put(&mut store, 5, "b", "back", 40);
        store
            .write(space().id(6), b"c", (None, None), 50, 1)
            .unwrap();
        let merge = |store: &mut Store, entry, horizon| {
            store
                .merge(space().id(6), b"d".into(), entry, horizon)
                .unwrap()
        };
        merge(&mut store, copy(Some("x"), 60), 0);
        merge(&mut store, copy(None, 70), 0);
        merge(&mut store, copy(Some("old"), 65), 0);
        let a_deleted_long_ago = copy(None, 80);
        store
            .merge(space().id(5), b"a".into(), a_deleted_long_ago, 90)
            .unwrap();
        let soon = Some(b"soon".to_vec());
        store
            .write(space().id(7), b"e", (soon, Some(500)), 100, 1)
            .unwrap();
        assert_eq!(store.counts, recount(&store));
        assert_eq!(store.counts.expiring, 1);
        assert_eq!(
            (store.len(), store.entries()),
            (2, 4),
            "b, e; tombstones c, d"
        );

        // At 600, e has expired: emptied, then collected past its expiry.
        store.collect(None, 100, 600, 0);
        assert_eq!(store.counts, recount(&store));
        assert_eq!((store.len(), store.counts.expiring), (1, 0));
        let e = store.get(space().id(7), b"e").unwrap();
        assert!(
            e.is_tombstone() && e.expires == Some(500),
            "same version, value gone"
        );
        store.collect(None, 100, 600, u64::MAX);
        assert_eq!(store.counts, recount(&store));
        let b = store.get(space().id(5), b"b").unwrap().cost(b"b");
        assert_eq!(
            (store.counts.bytes, store.entries()),
            (b, 1),
            "only b is left"
        );
    }

    #[test]
    fn an_expired_value_is_no_value_but_keeps_its_version() {
        let mut store = Store::new();
        let id = space().id(3);
        let later = |v: &str| (Some(v.as_bytes().to_vec()), Some(1_000));
        let first = store.write(id, b"k", later("v"), 100, 1).unwrap();
        assert!(!first.existed);
        assert!(first.entry.is_live(999) && !first.entry.is_live(1_000));
        assert!(first.entry.is_live_then(|| 999) && !first.entry.is_live_then(|| 1_000));
        // A value that never expires is live without asking the time.
        let lasting = Store::new().write(space().id(4), b"n", (Some(b"v".to_vec()), None), 100, 1);
        let lasting = lasting.unwrap().entry;
        assert!(lasting.is_live_then(|| unreachable!("no expiry: no clock read")));
        // Written again after it expired: the key had no value.
        let again = store.write(id, b"k", later("w"), 2_000, 1).unwrap();
        assert!(
            !again.existed,
            "an expired value does not count as existing"
        );
        // Emptied, the entry refuses a copy of the value it held: the
        // version is the same.
        let mut other = Store::new();
        other
            .merge(id, b"k".into(), again.entry.clone(), 0)
            .unwrap();
        store.collect(None, 10, 2_000, 0);
        assert_eq!(store.len(), 0);
        assert_eq!(store.merge(id, b"k".into(), again.entry, 0), Ok(false));
        let emptied = store.get(id, b"k").unwrap().clone();
        assert!(emptied.is_tombstone());
        // And a holder that has not emptied its copy yet takes the
        // emptied one: both now agree, whatever their collect has done.
        assert_eq!(other.merge(id, b"k".into(), emptied.clone(), 0), Ok(true));
        assert_eq!(other.get(id, b"k"), Some(&emptied));
        assert_eq!(other.merge(id, b"k".into(), emptied, 0), Ok(false), "once");
    }
}
