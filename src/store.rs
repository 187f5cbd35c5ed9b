//! The key-value pairs one node holds, indexed by the keys' identifiers.
//!
//! Chord itself only maps a key to a node (the paper's section 3); storing
//! the pair at that node is the application on top, the paper's "DHash"
//! layer. Pairs are kept in a map ordered by the key's identifier, so that
//! the arc of the ring a joining or leaving node takes over, `(a, b]`, is a
//! range query and not a scan. Several keys can share one identifier (a
//! small m makes that common), so each identifier holds a small map of its
//! own.
//!
//! Every value carries a version that its owner raises on each write, so a
//! copy that arrives twice, or late, never replaces a newer one: merging
//! keeps the higher version.

use std::collections::BTreeMap;
use std::ops::Bound;

use serde::{Deserialize, Serialize};

use crate::id::Id;

/// A stored value and the version that orders writes to its key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// The value, as the client wrote it.
    pub value: String,
    /// Raised by one on every write at the owner; the higher version wins.
    pub version: u64,
}

/// A key with its stored entry, as it travels between nodes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Item {
    /// The key, as the client wrote it.
    pub key: String,
    /// Its value and version.
    pub entry: Entry,
}

/// Where a chunked read of an arc resumes: after `key` among the keys of
/// identifier `id`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    /// The identifier of the last key read.
    pub id: Id,
    /// The last key read.
    pub key: String,
}

/// One node's pairs. Pure data: the caller holds the lock.
#[derive(Debug, Default)]
pub struct Store {
    by_id: BTreeMap<Id, BTreeMap<String, Entry>>,
    len: usize,
}

impl Store {
    /// An empty store.
    pub fn new() -> Store {
        Store::default()
    }

    /// How many keys are held.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no key is held.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Every key held, sorted.
    pub fn keys(&self) -> Vec<String> {
        let mut keys: Vec<String> = self
            .by_id
            .values()
            .flat_map(|k| k.keys().cloned())
            .collect();
        keys.sort();
        keys
    }

    /// The entry of `key`, whose identifier is `id`.
    pub fn get(&self, id: Id, key: &str) -> Option<&Entry> {
        self.by_id.get(&id).and_then(|keys| keys.get(key))
    }

    /// Writes `value` under `key` with the next version; returns it.
    pub fn put(&mut self, id: Id, key: &str, value: String) -> u64 {
        let version = self.get(id, key).map_or(1, |e| e.version + 1);
        self.insert(id, key.to_string(), Entry { value, version });
        version
    }

    /// Removes `key`; whether it was there.
    pub fn delete(&mut self, id: Id, key: &str) -> bool {
        let Some(keys) = self.by_id.get_mut(&id) else {
            return false;
        };
        let removed = keys.remove(key).is_some();
        if keys.is_empty() {
            self.by_id.remove(&id);
        }
        if removed {
            self.len -= 1;
        }
        removed
    }

    /// Keeps `entry` for `key` unless a newer version is held already.
    /// Returns whether the store changed.
    pub fn merge(&mut self, id: Id, key: String, entry: Entry) -> bool {
        match self.get(id, &key) {
            Some(held) if held.version >= entry.version => false,
            _ => {
                self.insert(id, key, entry);
                true
            }
        }
    }

    fn insert(&mut self, id: Id, key: String, entry: Entry) {
        if self
            .by_id
            .entry(id)
            .or_default()
            .insert(key, entry)
            .is_none()
        {
            self.len += 1;
        }
    }

    /// The identifiers held in the arc `(from, to]`, in ring order starting
    /// just after `from`.
    fn ids_in(&self, from: Id, to: Id) -> Vec<Id> {
        let after = (Bound::Excluded(from), Bound::Unbounded);
        if from < to {
            let upto = (Bound::Excluded(from), Bound::Included(to));
            return self.by_id.range(upto).map(|(id, _)| *id).collect();
        }
        // The arc wraps past zero (or is the whole ring, when from == to).
        let wrapped = (Bound::Unbounded, Bound::Included(to));
        self.by_id
            .range(after)
            .chain(self.by_id.range(wrapped))
            .map(|(id, _)| *id)
            .collect()
    }

    /// The items in the arc `(from, to]`, in ring order, stopping once about
    /// `max_bytes` of keys and values are gathered. With `after`, the read
    /// resumes there instead: the keys of `after.id` that sort after
    /// `after.key`, then the identifiers in `(after.id, to]`. Returns the
    /// items and, if it stopped early, the cursor to resume from.
    pub fn chunk(
        &self,
        from: Id,
        to: Id,
        after: Option<&Cursor>,
        max_bytes: usize,
    ) -> (Vec<Item>, Option<Cursor>) {
        let mut items = Vec::new();
        let mut bytes = 0;
        let mut buckets: Vec<(Id, Bound<&str>)> = Vec::new();
        let rest_from = match after {
            Some(cursor) => {
                buckets.push((cursor.id, Bound::Excluded(cursor.key.as_str())));
                cursor.id
            }
            None => from,
        };
        // Resuming at the arc's last identifier leaves nothing after it;
        // asking for (to, to] would mean the whole ring again.
        if after.is_none() || rest_from != to {
            let rest = self.ids_in(rest_from, to);
            buckets.extend(rest.into_iter().map(|id| (id, Bound::Unbounded)));
        }
        let mut last_id = from;
        for (id, start) in buckets {
            let Some(keys) = self.by_id.get(&id) else {
                continue;
            };
            for (key, entry) in keys.range::<str, _>((start, Bound::Unbounded)) {
                if bytes >= max_bytes {
                    let resume = items.last().map(|item: &Item| Cursor {
                        id: last_id,
                        key: item.key.clone(),
                    });
                    return (items, resume);
                }
                bytes += key.len() + entry.value.len();
                last_id = id;
                items.push(Item {
                    key: key.clone(),
                    entry: entry.clone(),
                });
            }
        }
        (items, None)
    }

    /// Removes `key` if its version is still at most `version`: a copy handed
    /// to another node is dropped here unless it changed since. Whether it
    /// was removed.
    pub fn remove_if_not_newer(&mut self, id: Id, key: &str, version: u64) -> bool {
        match self.get(id, key) {
            Some(entry) if entry.version <= version => self.delete(id, key),
            _ => false,
        }
    }

    /// Removes every key in the arc `(from, to]` for which `drop(id)` says
    /// so; returns how many went.
    pub fn remove_where(&mut self, from: Id, to: Id, drop: impl Fn(Id) -> bool) -> usize {
        let mut removed = 0;
        for id in self.ids_in(from, to) {
            if drop(id) {
                if let Some(keys) = self.by_id.remove(&id) {
                    removed += keys.len();
                }
            }
        }
        self.len -= removed;
        removed
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::id::IdSpace;

    fn space() -> IdSpace {
        IdSpace::new(6).unwrap()
    }

    fn store_with(ids: &[u64]) -> Store {
        let mut store = Store::new();
        for &i in ids {
            store.put(space().id(i), &format!("k{i}"), format!("v{i}"));
        }
        store
    }

    fn ids(items: &[Item]) -> Vec<String> {
        items.iter().map(|i| i.key.clone()).collect()
    }

    #[test]
    fn put_raises_the_version_and_delete_removes() {
        let mut store = Store::new();
        let id = space().id(5);
        assert_eq!(store.put(id, "a", "1".into()), 1);
        assert_eq!(store.put(id, "a", "2".into()), 2);
        assert_eq!(store.get(id, "a").unwrap().value, "2");
        assert_eq!(store.len(), 1);
        assert!(store.delete(id, "a"));
        assert!(!store.delete(id, "a"));
        assert!(store.is_empty());
    }

    #[test]
    fn keys_that_share_an_identifier_are_kept_apart() {
        let mut store = Store::new();
        let id = space().id(5);
        store.put(id, "a", "1".into());
        store.put(id, "b", "2".into());
        assert_eq!(store.len(), 2);
        assert_eq!(store.get(id, "b").unwrap().value, "2");
    }

    #[test]
    fn merge_keeps_the_newer_version() {
        let mut store = Store::new();
        let id = space().id(5);
        store.put(id, "a", "1".into());
        store.put(id, "a", "2".into());
        let old = Entry {
            value: "old".into(),
            version: 1,
        };
        assert!(!store.merge(id, "a".into(), old));
        let new = Entry {
            value: "new".into(),
            version: 3,
        };
        assert!(store.merge(id, "a".into(), new));
        assert_eq!(store.get(id, "a").unwrap().value, "new");
    }

    #[test]
    fn chunk_reads_an_arc_in_ring_order_including_wraparound() {
        let store = store_with(&[1, 10, 20, 40, 63]);
        let (items, more) = store.chunk(space().id(10), space().id(40), None, usize::MAX);
        assert_eq!(ids(&items), vec!["k20", "k40"]);
        assert_eq!(more, None);
        let (items, _) = store.chunk(space().id(40), space().id(10), None, usize::MAX);
        assert_eq!(ids(&items), vec!["k63", "k1", "k10"]);
        // (a, a] is the whole ring, starting after a.
        let (items, _) = store.chunk(space().id(20), space().id(20), None, usize::MAX);
        assert_eq!(ids(&items), vec!["k40", "k63", "k1", "k10", "k20"]);
    }

    /// Reads the whole arc `(from, to]` in chunks of about `max_bytes`.
    fn read_in_chunks(store: &Store, from: Id, to: Id, max_bytes: usize) -> Vec<String> {
        let mut seen = Vec::new();
        let mut after = None;
        for _ in 0..1000 {
            let (items, more) = store.chunk(from, to, after.as_ref(), max_bytes);
            seen.extend(ids(&items));
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
        assert_eq!(whole, vec!["k40", "k63", "k1", "k10", "k20"]);
    }

    #[test]
    fn keys_that_share_an_identifier_can_be_split_between_chunks() {
        // With m = 1 every key has identifier 0 or 1: buckets are huge.
        let space = IdSpace::new(1).unwrap();
        let mut store = Store::new();
        let keys: Vec<String> = (0..50).map(|i| format!("key-{i:02}")).collect();
        for key in &keys {
            store.put(space.hash(key.as_bytes()), key, "v".repeat(100));
        }
        let (first, _) = store.chunk(space.id(0), space.id(0), None, 500);
        assert!(
            first.len() < 10,
            "a chunk holds about 500 bytes, not a whole bucket"
        );
        let mut seen = read_in_chunks(&store, space.id(0), space.id(0), 500);
        seen.sort();
        assert_eq!(seen, keys);
    }

    #[test]
    fn a_handed_over_copy_is_removed_only_if_unchanged() {
        let mut store = Store::new();
        let id = space().id(5);
        store.put(id, "a", "1".into());
        store.put(id, "a", "2".into());
        assert!(!store.remove_if_not_newer(id, "a", 1));
        assert!(store.remove_if_not_newer(id, "a", 2));
        assert!(store.is_empty());
    }

    #[test]
    fn remove_where_drops_only_what_the_predicate_names() {
        let mut store = store_with(&[1, 10, 20, 40]);
        let removed = store.remove_where(space().id(0), space().id(30), |id| id != space().id(10));
        assert_eq!(removed, 2);
        assert_eq!(store.len(), 2);
        assert!(store.get(space().id(10), "k10").is_some());
    }
}
