//! `FLUSHALL` over the ring: a watermark every node forgets up to (see
//! [`crate::store::Store::flush`] for what it means for one store).
//!
//! The node asked picks the watermark, its clock now, and walks the ring
//! by successor pointers, giving it to every node it finds. A node the
//! walk misses (frozen, cut off, or joining at that moment) learns it
//! from the first repair round with a neighbour that has it: the digest
//! exchange carries both sides' watermarks ([`crate::dhash::replication`]).
//! Until then such a node can still answer for a flushed key it owns;
//! once it has the watermark, no copy of one comes back from anywhere.
//!
//! A write that an owner stamps after it learned the watermark survives
//! it. A write acknowledged while the flush was on its way round, at an
//! owner it had not reached yet, is flushed with the rest: the two were
//! concurrent, and in Redis too one of them comes first.

use log::{info, warn};

use super::Dhash;
use crate::error::Result;

impl Dhash {
    /// Forgets every entry stamped at or before `through` here. The map
    /// that held them is freed after the store lock is released.
    pub(crate) fn flush(&self, through: u64) {
        if through <= self.store().flushed() {
            return;
        }
        let (gone, old) = self.store_mut().flush(through);
        drop(old);
        info!(
            "{}: flushed {gone} entries stamped at or before {through}",
            self.me().addr
        );
    }

    /// `FLUSHALL`: flushes every node of the ring, found by walking it
    /// from here (at most `limit` nodes). Returns how many nodes took the
    /// watermark; those that did not answer get it from their neighbours.
    ///
    /// # Errors
    /// Those of [`crate::chord::Ring::walk_ring`]: no node of the ring
    /// could be reached, and nothing was flushed beyond this node.
    pub fn flush_all(&self, limit: usize) -> Result<usize> {
        let through = self.config().clock.now_micros();
        self.flush(through);
        let mut reached = 1;
        for entry in self.ring.walk_ring(limit)? {
            let node = entry.node;
            if node.addr == self.me().addr {
                continue;
            }
            match self.ring.peer(&node).flush(through) {
                Ok(()) => reached += 1,
                Err(e) => warn!(
                    "{}: FLUSHALL did not reach {node:?} ({e}); it will flush when a neighbour's \
                     repair round reaches it",
                    self.me().addr
                ),
            }
        }
        Ok(reached)
    }
}
