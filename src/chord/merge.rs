//! Rings that merge after a partition heals. Not in the Stoica et al.
//! paper: there, a ring cut in two stays two rings for good, since each
//! half's stabilization only ever looks at nodes it can reach.
//!
//! We follow the *passive list* and *ring unification* of Shafaat, Ghodsi
//! and Haridi ("Dealing with Network Partitions in Structured Overlay
//! Networks", 2009), in their simple, serial form:
//!
//! - **The passive list.** A node remembers, in a bounded list, the nodes
//!   it has seen and lost: a successor, predecessor or finger found failed
//!   (`Ring::note_lost`). The addresses it joined through stay on the
//!   list for good ([`Ring::add_seed`]). Each maintenance round it probes
//!   one entry that is due, with a backoff that doubles up to
//!   [`MAX_BACKOFF`] while the entry stays silent.
//! - **Detection.** A probed node that answers is looked up in this node's
//!   ring. If the lookup names it, it is back in our ring (or never left)
//!   and leaves the list (a seed stays). If not, it lives in another ring.
//! - **Unification.** For a node `q` of another ring, the node `n` of ours
//!   with `q ∈ (n, successor(n))` takes `q` as its successor, once `q`
//!   answers (`Ring::consider`, carried by `Request::Consider`). And `q`
//!   is told about us, so its ring does the same for us. From that pair of
//!   links on, stabilization zips the two rings together: each node finds
//!   its successor's new predecessor closer than its successor and adopts
//!   it, and `notify` does the rest. Every node that lost nodes to the
//!   partition keeps probing them, so any stretch the zipping misses is
//!   linked again by another pair; the passive list empties as the lost
//!   nodes show up in the ring again.
//!
//! Data converges by the key layer's repair, with the highest version of
//! each key winning on every holder, tombstones included (see
//! [`crate::dhash::replication`]): last writer wins.
//!
//! Handlers never call out (see [`crate::chord`]), so `Consider` only
//! records the candidate; the next maintenance round acts on it.

use std::time::Duration;

use log::{debug, info};

use super::ring::{Lost, Ring};
use crate::id::NodeRef;

/// The most nodes on a passive list.
pub const MAX_PASSIVE: usize = 16;

/// The first wait before probing a lost node again.
pub const FIRST_BACKOFF: Duration = Duration::from_millis(500);

/// The longest wait between two probes of a lost node.
pub const MAX_BACKOFF: Duration = Duration::from_secs(8);

impl Ring {
    /// Remembers `node`, found failed, to probe later.
    pub(crate) fn note_lost(&self, node: &NodeRef) {
        if node.addr == self.me.addr {
            return;
        }
        let due = self.config.clock.elapsed() + FIRST_BACKOFF;
        let mut passive = self.passive.lock();
        if passive.lost.iter().any(|l| l.node.addr == node.addr) {
            return;
        }
        if passive.lost.len() >= MAX_PASSIVE {
            // The oldest that is not a seed makes room.
            let Some(oldest) = passive.lost.iter().position(|l| !l.seed) else {
                return;
            };
            passive.lost.remove(oldest);
        }
        passive.lost.push(Lost {
            node: node.clone(),
            due,
            backoff: FIRST_BACKOFF,
            seed: false,
        });
    }

    /// Keeps the node at `addr`, which this node joined through, on the
    /// passive list for good.
    pub fn add_seed(&self, addr: &str) {
        let node = NodeRef::new(self.config.space, addr);
        if node.addr == self.me.addr {
            return;
        }
        let mut passive = self.passive.lock();
        passive.lost.retain(|l| l.node.addr != node.addr);
        passive.lost.push(Lost {
            node,
            due: Duration::ZERO,
            backoff: MAX_BACKOFF,
            seed: true,
        });
        if passive.lost.len() > MAX_PASSIVE {
            passive.lost.remove(0);
        }
    }

    /// The answer to `Consider`: `node` lives in another ring and should be
    /// linked into ours near its identifier. Recorded for the next round.
    pub(crate) fn consider(&self, node: NodeRef) {
        if node.addr != self.me.addr {
            self.passive.lock().candidate = Some(node);
        }
    }

    /// One round of unification: acts on a candidate another node sent,
    /// then probes one due node of the passive list. Called by the
    /// maintenance round after stabilization.
    pub fn merge_round(&self) {
        let candidate = self.passive.lock().candidate.take();
        if let Some(q) = candidate {
            self.link_foreign(&q);
        }
        let now = self.config.clock.elapsed();
        let due = {
            let passive = self.passive.lock();
            passive
                .lost
                .iter()
                .filter(|l| l.due <= now)
                .min_by_key(|l| l.due)
                .map(|l| l.node.clone())
        };
        let Some(q) = due else {
            return;
        };
        let alive = self.peer(&q).ping().is_ok();
        let in_our_ring = alive
            && self
                .find_successor(q.id)
                .is_ok_and(|lookup| lookup.owner().addr == q.addr);
        let mut passive = self.passive.lock();
        let Some(at) = passive.lost.iter().position(|l| l.node.addr == q.addr) else {
            return;
        };
        let entry = &mut passive.lost[at];
        if in_our_ring {
            if entry.seed {
                entry.due = now + MAX_BACKOFF;
            } else {
                passive.lost.remove(at);
            }
            return;
        }
        if !alive {
            entry.backoff = (entry.backoff * 2).min(MAX_BACKOFF);
            entry.due = now + entry.backoff;
            return;
        }
        // Alive, and in another ring: link it in here, tell it to link us
        // in there, and look again soon, until it shows up in our ring.
        entry.backoff = FIRST_BACKOFF;
        entry.due = now + FIRST_BACKOFF;
        drop(passive);
        info!(
            "{}: {q:?} answers but is not in our ring; merging the two rings",
            self.me.addr
        );
        self.link_foreign(&q);
        if let Err(e) = self.peer(&q).consider(&self.me) {
            debug!("{}: {q:?} did not take our notice: {e}", self.me.addr);
        }
    }

    /// Links `q`, a node of another ring, into ours: adopts it as successor
    /// if it falls between this node and its successor and answers, or
    /// passes it to the node of our ring it falls after.
    fn link_foreign(&self, q: &NodeRef) {
        let successor = self.successor();
        if q.id.in_open(self.me.id, successor.id) || successor.addr == self.me.addr {
            match self.peer(q).neighbours() {
                Ok(its) => {
                    self.set_successors(q, &its.successors);
                    info!(
                        "{}: successor is now {q:?}, from another ring",
                        self.me.addr
                    );
                }
                Err(e) => debug!("{}: {q:?} did not answer: {e}", self.me.addr),
            }
            return;
        }
        let Ok(lookup) = self.find_successor(q.id) else {
            return;
        };
        if lookup.owner().addr == q.addr {
            return;
        }
        // The last node asked answered with its successor list: q falls
        // between it and its successor.
        let Some(before) = lookup.path.last().filter(|n| n.addr != self.me.addr) else {
            return;
        };
        if let Err(e) = self.peer(before).consider(q) {
            debug!("{}: {before:?} did not take {q:?}: {e}", self.me.addr);
        }
    }
}
