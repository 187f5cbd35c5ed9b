//! Arcs changing hands: what the ring's protocol asks of the key layer
//! when a node joins, leaves or takes over a failed predecessor's arc
//! ([`Keys`]), and the chunked copy of a range that repair uses too.

use log::debug;

use super::{Dhash, CHUNK_BYTES};
use crate::chord::{CopyError, Keys};
use crate::id::{Id, NodeRef};
use crate::peer::CallError;
use crate::stats::Stats;
use crate::store::{Cursor, Point};

impl Dhash {
    /// Copies everything `source` holds from the point `from` through the
    /// identifier `to` into this node's store, chunk by chunk; how many
    /// entries came.
    ///
    /// # Errors
    /// [`CopyError::SourceRefilling`] when the source is copying its own
    /// arc back; [`CopyError::Stopped`] when it stopped answering, or this
    /// node could not take every entry.
    pub(crate) fn copy_range(
        &self,
        source: &NodeRef,
        from: &Point,
        to: Id,
    ) -> std::result::Result<u64, CopyError> {
        // A start among an identifier's keys is a cursor there.
        let mut after = from.key.clone().map(|key| Cursor { id: from.id, key });
        let from = from.id;
        let mut received = 0;
        let peer = self.ring.peer(source);
        loop {
            match peer.take_keys(from, to, after.take(), CHUNK_BYTES as u32) {
                Ok((items, more)) => {
                    received += items.len() as u64;
                    let merged = self.merge(items);
                    if merged.full.is_some() || merged.unwritable.is_some() {
                        return Err(CopyError::Stopped);
                    }
                    match more {
                        Some(cursor) => after = Some(cursor),
                        None => return Ok(received),
                    }
                }
                Err(CallError::Syncing) => return Err(CopyError::SourceRefilling),
                Err(e) => {
                    debug!(
                        "{}: copying keys from {source:?} stopped: {e}",
                        self.me().addr
                    );
                    return Err(CopyError::Stopped);
                }
            }
        }
    }
}

impl Keys for Dhash {
    /// Copies everything `source` holds in the arc `(from, to]` into this
    /// node's store; how many entries came. A node restarted with its data
    /// directory holds most of its arc already, and copies only the parts
    /// whose digests differ (`pull_differences`, `dhash/replication.rs`).
    fn copy_arc(&self, source: &NodeRef, from: Id, to: Id) -> std::result::Result<u64, CopyError> {
        let holds_some = || self.store().first_id_in(from, to).is_some();
        if self.disk.is_some() && to == self.me().id && from != to && holds_some() {
            return self.pull_differences(source, from);
        }
        self.copy_range(source, &Point::after(from), to)
    }

    /// Pushes every key held here to `heir`, in chunks. Whether it took all.
    fn hand_off(&self, heir: &NodeRef) -> bool {
        let everything = self.me().id;
        let mut after = None;
        let mut handed = 0;
        loop {
            let (items, more) =
                self.store()
                    .chunk(everything, everything, after.as_ref(), CHUNK_BYTES);
            let count = items.len() as u64;
            if !self.give(heir, items) {
                return false;
            }
            handed += count;
            match more {
                Some(cursor) => after = Some(cursor),
                None => break,
            }
        }
        Stats::add(&self.stats().keys_handed_off, handed);
        true
    }

    fn count(&self) -> usize {
        self.store().len()
    }
}
