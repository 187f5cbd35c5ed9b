//! What leaves a store: expired values emptied into tombstones, tombstones
//! past the hold period collected (see "Versions and tombstones" and
//! "Expiry" in the module above), and copies handed to other nodes dropped
//! if they did not change meanwhile.

use std::ops::Bound;

use super::{Entry, Store, Version};
use crate::id::Id;

impl Store {
    /// Removes `key` if its version is still at most `version`: a copy handed
    /// to other nodes is dropped here unless it changed since. Whether it
    /// was removed.
    pub fn remove_if_not_newer(&mut self, id: Id, key: &[u8], version: Version) -> bool {
        match self.get(id, key) {
            Some(entry) if entry.version <= version => self.remove(id, key),
            _ => false,
        }
    }

    /// Empties the values expired at `now` into tombstones (same
    /// version, so that no copy of the value wins against them), and
    /// removes tombstones older than `horizon`, looking at no more than
    /// `budget` identifiers after `after` (from the start when `None`).
    /// Returns how many entries went or were emptied, and where the next
    /// call resumes (`None`: the end of the store was reached).
    pub fn collect(
        &mut self,
        after: Option<Id>,
        budget: usize,
        now: u64,
        horizon: u64,
    ) -> (usize, Option<Id>) {
        if self.counts.tombstones == 0 && self.counts.expiring == 0 {
            return (0, None);
        }
        let start = after.map_or(Bound::Unbounded, Bound::Excluded);
        let mut due: Vec<(Id, Vec<u8>)> = Vec::new();
        let (mut next, mut last) = (None, None);
        for (i, (id, keys)) in self.by_id.range((start, Bound::Unbounded)).enumerate() {
            if i == budget {
                next = last;
                break;
            }
            last = Some(*id);
            for (key, entry) in keys.iter() {
                if entry.collectable(horizon) || (entry.value.is_some() && entry.has_expired(now)) {
                    due.push((*id, key.to_vec()));
                }
            }
        }
        let mut changed = 0;
        for (id, key) in due {
            let emptied = self.put(id, &key[..], usize::MAX, |held| {
                let held = held.filter(|e| e.value.is_some())?;
                Some(Entry {
                    value: None,
                    version: held.version,
                    expires: held.expires,
                    update: held.update,
                })
            });
            changed += usize::from(matches!(emptied, Ok(true)) || self.remove(id, &key));
        }
        (changed, next)
    }
}

#[cfg(test)]
mod tests {
    use crate::store::tests::{put, space, store_with};
    use crate::store::Store;

    #[test]
    fn tombstones_are_collected_after_the_horizon_in_bounded_steps() {
        let mut store = store_with(&[1, 2, 3, 4, 5]);
        for i in [1, 3, 5] {
            store
                .write(
                    space().id(i),
                    format!("k{i}").as_bytes(),
                    (None, None),
                    200,
                    1,
                )
                .unwrap();
        }
        // Not yet expired: nothing goes.
        assert_eq!(store.collect(None, 100, 0, 200), (0, None));
        // Two identifiers per call: 1 and 2, then 3 and 4, then 5.
        let (removed, next) = store.collect(None, 2, 0, 201);
        assert_eq!((removed, next), (1, Some(space().id(2))));
        let (removed, next) = store.collect(next, 2, 0, 201);
        assert_eq!((removed, next), (1, Some(space().id(4))));
        let (removed, next) = store.collect(next, 2, 0, 201);
        assert_eq!((removed, next), (1, None));
        assert_eq!((store.len(), store.entries()), (2, 2));
    }

    #[test]
    fn a_handed_over_copy_is_removed_only_if_unchanged() {
        let mut store = Store::new();
        let first = put(&mut store, 5, "a", "1", 100);
        put(&mut store, 5, "a", "2", 100);
        assert!(!store.remove_if_not_newer(space().id(5), b"a", first.version));
        let now = store.get(space().id(5), b"a").unwrap().version;
        assert!(store.remove_if_not_newer(space().id(5), b"a", now));
        assert_eq!(store.entries(), 0);
    }
}
