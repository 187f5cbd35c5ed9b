//! Finding a key's owner: the paper's Figure 5, `find_successor` and
//! `closest_preceding_node`, walked iteratively (see [`crate::chord`] for
//! why), tolerating dead nodes on the way.

use std::cmp::Ordering;
use std::sync::Arc;

use log::debug;

use super::ring::{Links, Lookup, Ring};
use crate::error::{Error, Result};
use crate::id::{Id, NodeRef};
use crate::message::Response;
use crate::peer::Step;

/// How many next-hop candidates a lookup step offers.
const CANDIDATES: usize = 3;

impl Ring {
    /// Finds `successor(id)`, the node that owns identifier `id`, walking
    /// the ring from this node.
    ///
    /// ```text
    /// // ask node n to find the successor of id
    /// n.find_successor(id)
    ///   if (id ∈ (n, successor])
    ///     return successor;
    ///   else
    ///     n' = closest_preceding_node(id);
    ///     return n'.find_successor(id);
    /// ```
    ///
    /// Iteratively: this node takes the first step itself, then asks each
    /// next node for one step ([`Ring::find_successor_step`]) until one
    /// answers with its successor.
    ///
    /// # Errors
    /// [`Error::Unavailable`] when every next hop on offer failed, or the
    /// walk did not converge.
    pub fn find_successor(&self, id: Id) -> Result<Lookup> {
        let first = self.step_here(id);
        self.walk(id, first)
    }

    /// Follows steps from `step` until one names the successor.
    pub(crate) fn walk(&self, id: Id, mut step: Step) -> Result<Lookup> {
        let mut path = Vec::new();
        let mut failed: Vec<Arc<str>> = Vec::new();
        // Every step moves strictly closer to id, so m steps suffice in a
        // consistent ring; the slack covers failed hops and a moving ring.
        let limit = 2 * usize::from(self.config.space.bits()) + 2 * self.config.successors + 8;
        // The node whose answer is being followed.
        let mut from = self.me.clone();
        for _ in 0..limit {
            match step {
                Step::Found(successors) if !successors.is_empty() => {
                    let timeouts = u32::try_from(failed.len()).unwrap_or(u32::MAX);
                    return Ok(Lookup {
                        successors,
                        path,
                        timeouts,
                    });
                }
                Step::Found(_) => {
                    return Err(Error::Unavailable(format!(
                        "lookup of {id} found an empty successor list"
                    )))
                }
                Step::Closer(candidates) => {
                    let (asked, next) = match self.ask_next_hop(id, &candidates, &mut failed) {
                        Ok(hop) => hop,
                        Err(e) => self.past_the_dead(id, &from, &mut failed).ok_or(e)?,
                    };
                    path.push(asked.clone());
                    from = asked;
                    step = next;
                }
            }
        }
        Err(Error::Unavailable(format!(
            "lookup of {id} did not converge in {limit} hops"
        )))
    }

    /// When every next hop `from` offered has failed: goes on from the first
    /// successor of `from` that answers, as the paper's successor lists
    /// are meant to ("if a node's successor fails, it uses the next one in
    /// its list"). A node just before a dead one offers only that dead
    /// node, and without this a lookup of a key the dead node preceded
    /// would fail although a live successor is known.
    fn past_the_dead(
        &self,
        id: Id,
        from: &NodeRef,
        failed: &mut Vec<Arc<str>>,
    ) -> Option<(NodeRef, Step)> {
        let successors = if from.addr == self.me.addr {
            self.links.read().successors.clone()
        } else {
            self.peer(from).neighbours().ok()?.successors
        };
        for (i, next) in successors.iter().enumerate() {
            if failed.contains(&next.addr) || next.addr == from.addr {
                continue;
            }
            let peer = self.peer(next);
            // The key lies between `from` and its first successor still
            // standing: that one owns it now, if it answers, and unless it
            // was restarted or paused a moment ago: then `from`'s list may
            // be older than the ring, and skip nodes that joined before it.
            let answer = if id.in_open_closed(from.id, next.id) {
                match peer.neighbours() {
                    Ok(its) if its.settled => Ok(Step::Found(successors[i..].to_vec())),
                    Ok(_) => return None,
                    Err(e) => Err(e),
                }
            } else {
                peer.find_successor_step(id)
            };
            match answer {
                Ok(step) => return Some((next.clone(), step)),
                Err(e) => {
                    debug!("{}: lookup fallback {next:?} failed: {e}", self.me.addr);
                    failed.push(next.addr.clone());
                }
            }
        }
        None
    }

    /// Asks the first live candidate for the next step toward `id`; returns
    /// the node that answered and its step.
    fn ask_next_hop(
        &self,
        id: Id,
        candidates: &[NodeRef],
        failed: &mut Vec<Arc<str>>,
    ) -> Result<(NodeRef, Step)> {
        for candidate in candidates {
            if failed.contains(&candidate.addr) {
                continue;
            }
            match self.peer(candidate).find_successor_step(id) {
                Ok(step) => return Ok((candidate.clone(), step)),
                Err(e) => {
                    debug!("{}: lookup hop {candidate:?} failed: {e}", self.me.addr);
                    failed.push(candidate.addr.clone());
                    if Ring::call_failed(&e) {
                        self.forget_finger(candidate);
                    }
                }
            }
        }
        Err(Error::Unavailable(format!(
            "lookup of {id}: every next hop failed (tried {})",
            failed.join(", ")
        )))
    }

    /// The owner of `id` as this node's links show it, when they do: this
    /// node, when it is the confirmed owner (`Ring::confirmed_owner`), or
    /// the successor whose `id` falls between two neighbouring entries of
    /// the successor list. Not
    /// in the paper, whose lookups always walk. The key layer asks it
    /// first and uses it only to reach the owner: if that node does not
    /// answer as the owner, the request walks the paper's way before
    /// anything else (a stale list must not choose the replicas a read
    /// falls back to). In a ring no bigger than the successor list, every
    /// identifier is covered, and no request needs a lookup.
    ///
    /// Fingers are not used, though `finger[k].node` is meant to be
    /// `successor(finger[k].start)`: a finger is refreshed one per round,
    /// and a stale one still names a node that was frozen and has come
    /// back before its successor links it in again. Such a node serves its
    /// old arc while the ring's walk already ends at its successor, so
    /// requests sent to it split the arc's writes between two owners. With
    /// fingers in use, one churn run with freezes in six (`make churn
    /// CHURN_FLAGS=--freeze`) read stale values and lost an acknowledged
    /// write, which no run without them has; this is the likely way. The
    /// successor list, refreshed every round from the successor, drops
    /// such a node at once.
    pub fn known_owner(&self, id: Id) -> Option<NodeRef> {
        let links = self.links.read();
        // This node itself, when it serves `id` and its predecessor has
        // lately named it its successor: the walk from here would cost a
        // call to the predecessor and end here.
        if self.confirmed_owner(&links, id) {
            return Some(self.me.clone());
        }
        let mut previous = &self.me;
        for node in &links.successors {
            if id.in_open_closed(previous.id, node.id) {
                return Some(node.clone());
            }
            previous = node;
        }
        None
    }

    /// One step of `find_successor(id)` as the answer to a peer. A node
    /// that is not a member answers [`Response::NotOwner`]: before its
    /// join it sees itself alone, the successor of every identifier, and a
    /// lookup that took that answer would end at a node that owns nothing
    /// (a restarted node is asked at its old place in others' tables).
    pub fn find_successor_step(&self, id: Id) -> Response {
        if !self.links.read().member {
            return Response::NotOwner;
        }
        match self.step_here(id) {
            Step::Found(successors) => Response::Found { successors },
            Step::Closer(candidates) => Response::Closer { candidates },
        }
    }

    /// One step of `find_successor(id)`, answered from this node's tables:
    /// the first `if` of the paper's pseudocode, or the candidates for the
    /// recursive call.
    pub fn step_here(&self, id: Id) -> Step {
        let links = self.links.read();
        if id.in_open_closed(self.me.id, links.successors[0].id) {
            let mut successors = links.successors.clone();
            // A list shorter than r came back round to this node: the ring
            // is that small, and this node follows the last entry.
            let wrapped = successors.len() < self.config.successors;
            if wrapped && successors.iter().all(|s| s.addr != self.me.addr) {
                successors.push(self.me.clone());
            }
            Step::Found(successors)
        } else {
            Step::Closer(self.closest_preceding_nodes(&links, id, CANDIDATES))
        }
    }

    /// The node in this node's tables that most closely precedes `id`.
    ///
    /// ```text
    /// // search the local table for the highest predecessor of id
    /// n.closest_preceding_node(id)
    ///   for i = m downto 1
    ///     if (finger[i] ∈ (n, id))
    ///       return finger[i];
    ///   return n;
    /// ```
    pub fn closest_preceding_node(&self, id: Id) -> NodeRef {
        let links = self.links.read();
        self.first_preceding(links.fingers.from_farthest(), id)
            .cloned()
            .unwrap_or_else(|| self.me.clone())
    }

    /// The loop of `closest_preceding_node` over `table`, whose entries
    /// come from the farthest from n to the nearest: the first in
    /// `(n, id)`.
    fn first_preceding<'a>(
        &self,
        mut table: impl Iterator<Item = &'a NodeRef>,
        id: Id,
    ) -> Option<&'a NodeRef> {
        table.find(|node| node.id.in_open(self.me.id, id))
    }

    /// `closest_preceding_node` as a lookup step uses it, refined for
    /// failures: the same loop, over the fingers and the successor list
    /// together (as the section "Failure and Replication" suggests), run up
    /// to `limit` times, each time without the nodes it already gave, so
    /// that a lookup meeting a dead node has the next best at hand. Nodes
    /// that timed out a moment ago are offered only after all the others.
    fn closest_preceding_nodes(&self, links: &Links, id: Id, limit: usize) -> Vec<NodeRef> {
        let n = self.me.id;
        // The whole table, farthest from n first, as the loop reads it.
        let mut table: Vec<&NodeRef> = links
            .fingers
            .from_farthest()
            .chain(links.successors.iter())
            .collect();
        table.sort_by(|a, b| {
            if a.id == b.id {
                Ordering::Equal
            } else if b.id.in_open(n, a.id) {
                Ordering::Less
            } else {
                Ordering::Greater
            }
        });
        let mut chosen: Vec<NodeRef> = Vec::with_capacity(limit);
        for suspects in [false, true] {
            while chosen.len() < limit {
                let unchosen = table.iter().copied().filter(|node| {
                    chosen.iter().all(|c| c.addr != node.addr) && self.is_suspect(node) == suspects
                });
                match self.first_preceding(unchosen, id) {
                    Some(next) => chosen.push(next.clone()),
                    None => break,
                }
            }
        }
        chosen
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::config::NodeConfig;
    use crate::id::IdSpace;
    use crate::stats::Stats;
    use crate::transport::MemoryNetwork;
    use std::sync::Arc;

    /// Node `n` of a 6-bit ring, with fingers and successors set by hand:
    /// nothing is reachable, so only local logic runs.
    pub(crate) fn node(n: u64, fingers: &[u64], successors: &[u64]) -> Ring {
        let space = IdSpace::new(6).unwrap();
        let reference = |id: u64| NodeRef {
            id: space.id(id),
            addr: format!("n{id}").into(),
        };
        let config = NodeConfig::new(space);
        let stats = Arc::new(Stats::default());
        let node = Ring::new(reference(n), config, MemoryNetwork::new(), stats);
        {
            let mut links = node.links.write();
            for (k, &f) in fingers.iter().enumerate() {
                links.fingers.set(k + 1, reference(f));
            }
            links.successors = successors.iter().map(|&s| reference(s)).collect();
            links.member = true;
        }
        node
    }

    pub(crate) fn id(node: &NodeRef) -> u64 {
        node.id.to_u64().unwrap()
    }

    /// Node 8 of the paper's Figure 4(a).
    fn n8() -> Ring {
        node(8, &[14, 14, 14, 21, 32, 42], &[14, 21, 32])
    }

    #[test]
    fn closest_preceding_node_is_the_farthest_finger_before_the_id() {
        let n8 = n8();
        let space = n8.config.space;
        assert_eq!(id(&n8.closest_preceding_node(space.id(54))), 42);
        assert_eq!(id(&n8.closest_preceding_node(space.id(40))), 32);
        assert_eq!(id(&n8.closest_preceding_node(space.id(20))), 14);
        // The interval is open: a finger at the id itself does not precede it.
        assert_eq!(id(&n8.closest_preceding_node(space.id(42))), 32);
        // Wrapping past zero: 3 is after 42 going round from 8.
        assert_eq!(id(&n8.closest_preceding_node(space.id(3))), 42);
        // Nothing lies in (8, 10) but 9: the node returns itself.
        assert_eq!(id(&n8.closest_preceding_node(space.id(10))), 8);
    }

    #[test]
    fn a_lookup_step_also_uses_the_successor_list() {
        // No fingers known yet, only the successor list: Figure 5's loop
        // finds nothing and returns the node itself; the step's refinement
        // reads the list too.
        let n = node(8, &[], &[14, 21, 32]);
        let target = n.config.space.id(30);
        assert_eq!(id(&n.closest_preceding_node(target)), 8);
        match n.find_successor_step(target) {
            Response::Closer { candidates } => {
                assert_eq!(candidates.iter().map(id).collect::<Vec<_>>(), [21, 14]);
            }
            other => panic!("expected candidates, got {other:?}"),
        }
    }

    #[test]
    fn a_lookup_step_offers_distinct_candidates_best_first() {
        let n8 = n8();
        match n8.find_successor_step(n8.config.space.id(54)) {
            Response::Closer { candidates } => {
                let ids: Vec<u64> = candidates.iter().map(id).collect();
                assert_eq!(ids, vec![42, 32, 21]);
            }
            other => panic!("expected candidates, got {other:?}"),
        }
    }

    #[test]
    fn the_owner_is_known_where_the_successor_list_covers_the_id() {
        let n8 = n8();
        let owner = |target: u64| n8.known_owner(n8.config.space.id(target)).map(|n| id(&n));
        // Between two entries of the successor list 14, 21, 32.
        assert_eq!(owner(9), Some(14));
        assert_eq!(owner(20), Some(21));
        assert_eq!(owner(32), Some(32));
        // Past the list: not known, not even where a finger points (the
        // 6th starts at 40 and is 42), since fingers go stale.
        assert_eq!(owner(35), None);
        assert_eq!(owner(40), None);
        assert_eq!(owner(45), None);
    }

    #[test]
    fn a_lookup_step_answers_when_the_id_is_up_to_the_successor() {
        let n8 = n8();
        for target in [9, 14] {
            match n8.find_successor_step(n8.config.space.id(target)) {
                Response::Found { successors } => assert_eq!(id(&successors[0]), 14),
                other => panic!("{target}: expected the successor, got {other:?}"),
            }
        }
    }
}
