//! When a node serves keys: ownership of its arc, and the leases that keep
//! two nodes from serving one key at once while the ring moves.
//!
//! The paper's ring is right eventually; a store must be right meanwhile.
//! Stabilization can close a loop past live nodes that still point into
//! it (Zave's appendages), and the loop's node then takes their arcs for
//! its own while they go on owning them in their own eyes. So a node
//! serves on two leases, timed on its own clock ([`Ring::serves`]), and
//! answers for its arc without a lookup only while its predecessor vouches
//! for it ([`Ring::confirmed_owner`]).

use std::time::Duration;

use super::ring::{Links, Ring};
use crate::id::Id;

impl Ring {
    /// Whether this node serves reads and writes of `id` now: it owns it,
    /// its successor does not take its place (`Links::overlapped`), it is
    /// not taking keys over or leaving, and does not lack that part of its
    /// arc (see [`Handover`]).
    ///
    /// Two leases make sure two nodes never serve one key at once, though
    /// neither knows the whole ring. A node serves only within
    /// [`Ring::lease`] of the last stabilize that found it linked, its
    /// successor holding it as predecessor. A node whose arc grows past a
    /// failed predecessor serves the part it gained only a lease later
    /// (`Handover::grown`). Stabilization can close a loop past live
    /// nodes (Zave's appendages): the loop's node then takes their arcs
    /// for its own, and the appendages, whose successor died, cannot link
    /// again until it takes their notices. So each appendage stops serving
    /// before the loop's node starts (random hunt, seed 6241018618). A
    /// false suspicion is covered too: the suspected predecessor notifies
    /// again within a round, well inside the lease, and takes its arc back.
    pub(crate) fn serves(&self, links: &Links, id: Id) -> bool {
        let now = self.config.clock.elapsed();
        links.member
            && self.linked(links, now)
            && !self.settling(links, now, Some(id))
            && !links.overlapped
            && self.owns(links, id)
            && links.handover.allows(id)
            && !self.paused()
    }

    /// Whether the last stabilize that found this node linked was within
    /// a lease (see [`Ring::serves`]). A node alone needs none: no other
    /// node it knows can take its keys, and a lone node whose rounds come
    /// late under load must not stop serving for it.
    pub(super) fn linked(&self, links: &Links, now: Duration) -> bool {
        links.successors[0].addr == self.me.addr
            || links
                .linked_at
                .is_some_and(|at| now.saturating_sub(at) <= self.lease())
    }

    /// Whether this node still waits out the lease on the arc it gained
    /// last (`Handover::grown`): on `id`'s part of it, or with `None`, on
    /// any of it.
    pub(super) fn settling(&self, links: &Links, now: Duration, id: Option<Id>) -> bool {
        links.handover.grown.is_some_and(|((a, b), at)| {
            now < at + self.lease() && id.is_none_or(|id| id.in_open_closed(a, b))
        })
    }

    /// How long one link to the successor lets a node serve its arc, and
    /// how long a node waits before it serves an arc it gained: three
    /// stabilization periods, so that a round that comes late, or a
    /// successor that takes our notice a round after it found its
    /// predecessor failed, costs nothing. A successor that freezes makes
    /// the next round wait out a peer timeout, longer than a lease: its
    /// predecessor then stops serving until that round ends (about half a
    /// second with the defaults). Measured both ways, a lease long enough
    /// to cover that timeout made every failed node's arc wait it out
    /// instead, which cost more: in `make churn`, GET p99 1.8 s against
    /// 3.6 ms, and a third fewer operations done.
    pub(crate) fn lease(&self) -> Duration {
        self.config.stabilize_interval * 3
    }

    /// Whether this node serves `id` and its predecessor has named it its
    /// successor within a lease (its notify comes every round): then a
    /// walk of the ring for `id` would end here too, and this node answers
    /// without one. The test a request that arrived here must pass
    /// ([`Ring::serves`]) is not enough alone: a node that joined, or lost
    /// its successor, can hold a predecessor whose successor is another
    /// node, and own an arc in its own eyes that the ring gives to that
    /// other node until stabilization links it in. A node that took that
    /// predecessor past a failed one serves the gained arc only a lease
    /// later, so a lease is as long as the notices need be; two periods
    /// let loaded rounds, which come late, send one MSET in three down the
    /// slow path (measured: 2.1 to 4.5 peer calls an MSET).
    pub(crate) fn confirmed_owner(&self, links: &Links, id: Id) -> bool {
        let now = self.config.clock.elapsed();
        let lease = self.lease();
        let confirmed = match (&links.predecessor, &links.notified_by) {
            (Some(p), Some((by, at))) => by == p && now.saturating_sub(*at) <= lease,
            // Alone: the whole circle is ours.
            (None, _) => links.successors[0].addr == self.me.addr,
            _ => false,
        };
        confirmed && self.serves(links, id)
    }
}
