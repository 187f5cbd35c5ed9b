//! The simulator: the paper's "Simulation Results" from the same node code
//! that runs in production, over the in-memory network, on a virtual
//! clock, in one process. The same seed gives the same output, byte for
//! byte.
//!
//! A ring of N nodes is built settled ([`SimRing::settled`]): each node's
//! predecessor, successor list and fingers are set to what stabilization
//! converges to, computed from the sorted identifiers, instead of joining
//! 10^4 nodes one by one. Lookups then run the real `find_successor`, hop
//! by hop through the in-memory network.
//!
//! The experiments ([`figures`]) write CSV:
//!
//! - `path-length`: hops per lookup against N = 2^3 ... 2^14, mean and 1st
//!   and 99th percentiles, beside the paper's ½·log2 N, and the
//!   distribution at N = 2^12;
//! - `load`: keys per node with 10^4 nodes against the number of keys,
//!   and with virtual nodes;
//! - `failures`: failed lookups, and timeouts (dead nodes tried) per
//!   lookup, against the fraction of nodes that fail at once, before any
//!   stabilization.
//!
//! - `churn`: lookups while nodes join and fail at a rate, with latency
//!   accounted per message ([`churn`]).
//!
//! Messages can be lost ([`MemoryNetwork::set_loss`]; the churn runs
//! use it).
//!
//! Identifiers here have m = 64 bits, not 160: a finger table per node is
//! then 64 entries, which keeps 16,384 nodes in a few hundred megabytes;
//! with 2^64 points and at most 2^14 nodes the ring is as sparse as the
//! paper's for every quantity measured.

pub mod churn;
pub mod figures;
pub mod paper;
pub mod plot;

use std::sync::Arc;

use chord::chord::Lookup;
use chord::clock::VirtualClock;
use chord::config::NodeConfig;
use chord::id::{Id, IdSpace, NodeRef};
use chord::node::Node;
use chord::rng::Rng;
use chord::transport::{Handler, MemoryNetwork};

/// The bits of the simulator's identifiers.
pub const BITS: u8 = 64;

/// r, the successor list length, as the nodes' default.
pub const SUCCESSORS: usize = 8;

/// A settled ring of real nodes on an in-memory network.
pub struct SimRing {
    net: Arc<MemoryNetwork>,
    space: IdSpace,
    /// r, the length of every node's successor list.
    successors: usize,
    /// The nodes, in the order they were made.
    nodes: Vec<Arc<Node>>,
    /// The nodes sorted by identifier: the ring as it is.
    sorted: Vec<NodeRef>,
}

impl SimRing {
    /// `n` nodes (`n` >= 1) at the addresses `sim-<i>`, settled; randomness
    /// from `seed`.
    pub fn settled(n: usize, seed: u64) -> SimRing {
        let mut config = NodeConfig::new(space());
        config.successors = SUCCESSORS;
        config.clock = Arc::new(VirtualClock::new(seed));
        SimRing::settled_on(n, &config, &MemoryNetwork::new())
    }

    /// `n` nodes with `config` on `net`, settled.
    pub(crate) fn settled_on(n: usize, config: &NodeConfig, net: &Arc<MemoryNetwork>) -> SimRing {
        SimRing::settled_at((0..n).map(|i| format!("sim-{i}")), config, net)
    }

    /// Nodes at `addresses` with `config` on `net`, settled; each node's
    /// successor list is `config.successors` long.
    pub(crate) fn settled_at(
        addresses: impl Iterator<Item = String>,
        config: &NodeConfig,
        net: &Arc<MemoryNetwork>,
    ) -> SimRing {
        let nodes: Vec<Arc<Node>> = addresses
            .map(|addr| {
                let node = Node::new(&addr, config.clone(), net.clone())
                    .unwrap_or_else(|e| unreachable!("the simulator's settings: {e}"));
                let handler: Arc<dyn Handler> = node.clone();
                net.register(&addr, &handler);
                node
            })
            .collect();
        let mut sorted: Vec<NodeRef> = nodes.iter().map(|n| n.me().clone()).collect();
        sorted.sort_by_key(|r| r.id);
        sorted.dedup_by(|a, b| a.id == b.id);
        let ring = SimRing {
            net: net.clone(),
            space: config.space,
            successors: config.successors,
            nodes,
            sorted,
        };
        ring.install();
        ring
    }

    fn install(&self) {
        let len = self.sorted.len();
        for node in &self.nodes {
            let Ok(at) = self.sorted.binary_search_by_key(&node.me().id, |r| r.id) else {
                continue;
            };
            let predecessor = self.sorted[(at + len - 1) % len].clone();
            let successors = (1..=self.successors.min(len.max(2) - 1))
                .map(|k| self.sorted[(at + k) % len].clone())
                .collect();
            node.ring().install(predecessor, successors, |start| {
                self.successor(start).clone()
            });
        }
    }

    /// `successor(id)` on this ring: the first node at or after `id`.
    pub fn successor(&self, id: Id) -> &NodeRef {
        let at = self.sorted.partition_point(|r| r.id < id);
        &self.sorted[at % self.sorted.len()]
    }

    /// The nodes.
    pub fn nodes(&self) -> &[Arc<Node>] {
        &self.nodes
    }

    /// The identifier space.
    pub fn space(&self) -> IdSpace {
        self.space
    }

    /// Makes the node at index `i` stop answering, as a crash would.
    pub fn fail(&self, i: usize) {
        self.net.stop(&self.nodes[i].me().addr);
    }

    /// Who answers for `lookup`'s key, and the dead nodes passed first
    /// (see `first_live`).
    pub fn answered_by<'a>(&self, lookup: &'a Lookup) -> (Option<&'a NodeRef>, u64) {
        first_live(&self.net, lookup)
    }

    /// Whether the node at index `i` answers.
    pub fn is_up(&self, i: usize) -> bool {
        self.net.is_up(&self.nodes[i].me().addr)
    }

    /// `successor(id)` among the nodes that still answer.
    pub fn live_successor(&self, id: Id) -> Option<&NodeRef> {
        let len = self.sorted.len();
        let at = self.sorted.partition_point(|r| r.id < id);
        (0..len)
            .map(|k| &self.sorted[(at + k) % len])
            .find(|r| self.net.is_up(&r.addr))
    }

    /// A random key's identifier.
    pub fn random_key(&self, rng: &mut Rng) -> Id {
        self.space
            .hash(format!("key-{:016x}", rng.next_u64()).as_bytes())
    }
}

/// Who answers for a lookup's key: the first node of the returned
/// successor list that is up, as whoever made the lookup contacts the
/// owner named and, if it does not answer, the next (the key layer does
/// the same). Also how many dead entries were passed: a timeout each.
pub(crate) fn first_live<'a>(
    net: &MemoryNetwork,
    lookup: &'a Lookup,
) -> (Option<&'a NodeRef>, u64) {
    let dead = lookup
        .successors
        .iter()
        .take_while(|s| !net.is_up(&s.addr))
        .count();
    (lookup.successors.get(dead), dead as u64)
}

/// The simulator's identifier space.
pub fn space() -> IdSpace {
    IdSpace::new(BITS).unwrap_or_else(|_| unreachable!("64 bits is a valid space"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chord::rng::Rng;

    #[test]
    fn a_settled_ring_answers_every_lookup_with_the_true_successor() {
        let ring = SimRing::settled(200, 1);
        let mut rng = Rng::new(2);
        for _ in 0..300 {
            let key = ring.random_key(&mut rng);
            let from = &ring.nodes()[rng.below(200)];
            let lookup = from.find_successor(key).expect("a lookup");
            assert_eq!(lookup.owner(), ring.successor(key));
            assert!(lookup.hops() <= 16, "{} hops", lookup.hops());
        }
    }

    #[test]
    fn a_key_just_after_a_dead_node_is_found_at_its_live_successor() {
        // The node before the dead one offers only the dead one as the next
        // hop: the lookup must go on from that node's successor list.
        let ring = SimRing::settled(50, 5);
        ring.fail(7);
        let key = ring.nodes()[7].me().id.add_pow2(0);
        let expected = ring.live_successor(key).unwrap().clone();
        for (i, node) in ring.nodes().iter().enumerate().filter(|(i, _)| *i != 7) {
            let lookup = node
                .find_successor(key)
                .unwrap_or_else(|e| panic!("from {i}: {e}"));
            assert_eq!(lookup.owner(), &expected, "from {i}");
        }
    }

    #[test]
    fn failed_nodes_are_routed_around_or_the_lookup_says_so() {
        let ring = SimRing::settled(100, 3);
        for i in (0..100).step_by(4) {
            ring.fail(i);
        }
        assert!(!ring.is_up(0) && ring.is_up(1));
        let mut rng = Rng::new(4);
        let from = &ring.nodes()[1];
        let key = ring.random_key(&mut rng);
        if let Ok(lookup) = from.find_successor(key) {
            assert!(lookup.timeouts <= 16);
        }
    }
}
