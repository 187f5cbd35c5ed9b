//! Where a store reports its changes, so that they can outlive the process.
//!
//! A store is plain data in memory. A node with a data directory (see
//! [`crate::disk`]) gives its store a [`Journal`], and every change to the
//! pairs is reported to it as a [`Change`], under the store's lock, in the
//! order the changes are made: whatever writes the journal to disk then
//! writes them in that order, and replaying them rebuilds the store.
//!
//! A change says what a key holds afterwards, not how it got there: replay
//! sets each key to its last reported entry, so a change reported twice,
//! or replayed over a snapshot that already has it, does no harm.

use super::{Entry, Key, Store};
use crate::id::Id;

/// One change to a store, as the store reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change<'a> {
    /// `key` now holds `entry` (a value or a tombstone).
    Put {
        /// The key.
        key: &'a [u8],
        /// What it holds now.
        entry: &'a Entry,
    },
    /// `key` is no longer held at all (a tombstone collected, or a copy
    /// handed on).
    Remove {
        /// The key.
        key: &'a [u8],
    },
    /// Every entry stamped at or before `through` is gone (`FLUSHALL`; see
    /// `store/flush.rs`).
    Flush {
        /// The flush watermark.
        through: u64,
    },
}

/// Takes a store's changes as they are made.
pub trait Journal: Send + Sync + std::fmt::Debug {
    /// Takes one change. Called under the store's write lock, so it must
    /// be quick: copy the change out, and do any I/O later.
    fn record(&self, change: Change<'_>);
}

impl Store {
    /// Reports every later change to `journal`.
    pub fn set_journal(&mut self, journal: std::sync::Arc<dyn Journal>) {
        self.journal = Some(journal);
    }

    /// Reports `change` to the journal, if there is one.
    pub(super) fn note(&self, change: Change<'_>) {
        if let Some(journal) = &self.journal {
            journal.record(change);
        }
    }

    /// Sets `key` (of identifier `id`) to `entry`, or removes it (`None`),
    /// whatever it held and whatever the limit: replay of a journal, which
    /// only repeats changes the store once made.
    pub fn restore(&mut self, id: Id, key: Vec<u8>, entry: Option<Entry>) {
        match entry {
            Some(entry) => {
                let _ = self.put(id, Key::from(key), usize::MAX, |_| Some(entry));
            }
            None => {
                self.remove(id, &key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use parking_lot::Mutex;

    use super::*;
    use crate::store::tests::{put, space, value};

    /// A change as an owned copy: the key and its entry (`None`: removed),
    /// or a flush's watermark.
    type Copy = (Vec<u8>, Option<Entry>, Option<u64>);

    /// A journal that keeps what it is told.
    #[derive(Debug, Default)]
    struct Kept(Mutex<Vec<Copy>>);

    impl Journal for Kept {
        fn record(&self, change: Change<'_>) {
            let copy = match change {
                Change::Put { key, entry } => (key.to_vec(), Some(entry.clone()), None),
                Change::Remove { key } => (key.to_vec(), None, None),
                Change::Flush { through } => (Vec::new(), None, Some(through)),
            };
            self.0.lock().push(copy);
        }
    }

    #[test]
    fn replaying_what_a_store_reported_rebuilds_it() {
        let kept = Arc::new(Kept::default());
        let mut store = Store::new();
        store.set_journal(kept.clone());
        let s = space();
        put(&mut store, 1, "a", "1", 10);
        put(&mut store, 2, "b", "2", 20);
        put(&mut store, 1, "a", "3", 30);
        store
            .write(s.id(2), b"b", (None, None), 40, 7)
            .expect("a delete fits");
        store.collect(None, 100, 50, u64::MAX);
        put(&mut store, 3, "c", "4", 60);
        store.flush(55);

        let mut again = Store::new();
        for (key, entry, flush) in kept.0.lock().drain(..) {
            match flush {
                Some(through) => {
                    again.flush(through);
                }
                None => {
                    let id = s.id(match key.as_slice() {
                        b"a" => 1,
                        b"b" => 2,
                        _ => 3,
                    });
                    again.restore(id, key, entry);
                }
            }
        }
        assert_eq!(value(&again, 1, "a"), None, "stamped before the flush");
        assert_eq!(value(&again, 3, "c").as_deref(), Some("4"));
        assert_eq!(again.entries(), store.entries());
        assert_eq!(again.bytes(), store.bytes());
        assert_eq!(again.flushed(), store.flushed());
    }
}
