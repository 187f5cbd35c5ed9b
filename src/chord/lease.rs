//! When a node serves keys: ownership of its arc, and the rules that keep
//! two nodes from serving one key at once while the ring moves.
//!
//! The paper's ring is right eventually; a store must be right meanwhile.
//! Stabilization can close a loop past live nodes that still point into
//! it (Zave's appendages), and the loop's node then takes their arcs for
//! its own while they go on owning them in their own eyes. So a node
//! serves only while its last stabilize found it linked, and an arc it
//! gained past a failed predecessor only after a lease, timed on its own
//! clock ([`Ring::serves`]); and it answers for its arc without a lookup
//! only while its predecessor vouches for it ([`Ring::confirmed_owner`]).

use std::time::Duration;

use super::ring::{Links, Ring};
use crate::id::Id;

impl Ring {
    /// Whether this node serves reads and writes of `id` now: it owns it,
    /// its successor does not take its place (`Links::linked`), it is
    /// not taking keys over or leaving, and does not lack that part of its
    /// arc (see [`Handover`]).
    ///
    /// Two rules keep two nodes from serving one key at once, though
    /// neither knows the whole ring. A node serves only while the last
    /// stabilize that reached a successor found that successor's arc
    /// starting at it or after it (`Links::linked`). And a node whose arc
    /// grows past a failed predecessor serves the part it gained only
    /// [`Ring::lease`] later (`Handover::grown`). Stabilization can close
    /// a loop past live nodes (Zave's appendages): the loop's node then
    /// takes their arcs for its own, and an appendage whose successor died
    /// finds, at its next round, a successor that has not taken its notice
    /// (or whose arc covers it) and stops; the lease gives it that round
    /// (random hunt, seed 6241018618). A false suspicion is covered too:
    /// the suspected predecessor notifies again within a round, well
    /// inside the lease, and takes its arc back. The first rule is not
    /// timed, so a node starved of CPU, whose rounds come late, goes on
    /// serving (tests/load.rs): a timed one stopped such nodes.
    pub(crate) fn serves(&self, links: &Links, id: Id) -> bool {
        let now = self.config.clock.elapsed();
        links.member
            && self.linked(links)
            && !self.settling(links, now, Some(id))
            && self.owns(links, id)
            && links.handover.allows(id)
            && !self.paused()
    }

    /// Whether the last stabilize that reached a successor found its arc
    /// starting at this node or after it (see [`Ring::serves`]), or the
    /// node is alone: no other node it knows can take its keys.
    pub(super) fn linked(&self, links: &Links) -> bool {
        links.successors[0].addr == self.me.addr || links.linked
    }

    /// Whether this node still waits out the lease on the arc it gained
    /// last (`Handover::grown`): on `id`'s part of it, or with `None`, on
    /// any of it.
    pub(super) fn settling(&self, links: &Links, now: Duration, id: Option<Id>) -> bool {
        links.handover.grown.is_some_and(|((a, b), at)| {
            now < at + self.lease() && id.is_none_or(|id| id.in_open_closed(a, b))
        })
    }

    /// How long a node waits before it serves an arc it gained, and how
    /// long its predecessor's notices vouch for it: three stabilization
    /// periods, so that a round that comes late, or a successor that takes
    /// our notice a round after it found its predecessor failed, costs
    /// nothing. Every failed node's arc waits it out: a longer one (three
    /// periods and a peer timeout) cost `make churn` a third of its
    /// operations, at a GET p99 of 1.8 s against 3.6 ms.
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
