//! What `FLUSHALL` leaves in a store.
//!
//! `FLUSHALL` is a watermark, not a walk over the keys of every node: the
//! store forgets every entry whose version was stamped at or before it
//! ([`Store::flush`]), refuses every copy of such an entry that arrives
//! later ([`Store::merge`]), and stamps every later write past it. A copy
//! held by a node the flush did not reach (frozen, or cut off) therefore
//! cannot come back once that node has heard of the watermark, and the key
//! layer spreads the watermark with its repair rounds
//! ([`crate::dhash::replication`]).

use super::{Counts, Entry, Id, Key, Store};

impl Store {
    /// The flush watermark, in microseconds since the epoch: every entry
    /// stamped at or before it is gone; 0 when never flushed.
    pub fn flushed(&self) -> u64 {
        self.flushed
    }

    /// Forgets every entry stamped at or before `through` (and, from now
    /// on, every copy of one), keeping the few stamped after it: writes
    /// that reached this node after the flush began elsewhere. Returns
    /// how many entries were forgotten, and the map that held them, so
    /// that the caller frees its memory after releasing the lock (a
    /// million entries take longer to free than to sort out).
    pub fn flush(&mut self, through: u64) -> (usize, impl Send) {
        self.flushed = self.flushed.max(through);
        let through = self.flushed;
        self.note(super::Change::Flush { through });
        let survivors: Vec<(Id, Key, Entry)> = self
            .by_id
            .iter()
            .flat_map(|(id, slot)| slot.iter().map(move |(key, entry)| (id, key, entry)))
            .filter(|(_, _, entry)| entry.version.stamp > through)
            .map(|(id, key, entry)| (*id, Key::from(key), entry.clone()))
            .collect();
        let gone = self.counts.entries - survivors.len();
        self.changes += 1;
        let old = std::mem::take(&mut self.by_id);
        self.counts = Counts::default();
        for (id, key, entry) in survivors {
            self.counts.add(&key, &entry);
            self.by_id.entry(id).or_default().insert(key, entry);
        }
        (gone, old)
    }
}

#[cfg(test)]
mod tests {
    use crate::store::tests::{put, space, value};
    use crate::store::Store;

    #[test]
    fn a_flush_forgets_what_came_before_it_and_refuses_its_copies() {
        let mut store = Store::new();
        let old = put(&mut store, 5, "old", "1", 100);
        put(&mut store, 6, "gone", "2", 150);
        put(&mut store, 7, "late", "3", 300);
        let (gone, _) = store.flush(200);
        assert_eq!((gone, store.len(), store.flushed()), (2, 1, 200));
        assert_eq!(value(&store, 7, "late").as_deref(), Some("3"));
        assert_eq!(
            store.bytes(),
            store.get(space().id(7), b"late").unwrap().cost(b"late")
        );
        // A copy from a node that missed the flush does not come back.
        let merged = store.merge(space().id(5), b"old".into(), old, 0);
        assert_eq!(merged, Ok(false));
        assert_eq!(value(&store, 5, "old"), None);
        // A write after the flush is stamped past it, even by a clock
        // behind the flusher's, so no later flush of the same mark takes it.
        let after = put(&mut store, 5, "old", "4", 50);
        assert_eq!(after.version.stamp, 201);
        assert_eq!(store.flush(200).0, 0);
        assert_eq!(value(&store, 5, "old").as_deref(), Some("4"));
        // An older watermark changes nothing.
        store.flush(10);
        assert_eq!(store.flushed(), 200);
    }
}
