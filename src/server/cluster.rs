//! The ring as a Redis Cluster client sees it: `CLUSTER SLOTS`, `NODES`,
//! `INFO`, `MYID` and `KEYSLOT`.
//!
//! A key's identifier carries its hash slot in its top 14 bits
//! ([`crate::id::IdSpace::key`]), so each slot is one arc of the circle,
//! and the node that owns the start of that arc serves the slot. A slot
//! that a node's identifier splits is so listed with that node, and every
//! node's first slot is whole. That matters to tools that take one slot
//! per node: redis-benchmark `--cluster` sends all of a node's keys under
//! one hash tag of its first slot, and when the map listed a split slot
//! with the owner of its middle, a ring often had a node whose first slot
//! was split, and every request of its share could hop (2.8 to 3.6 peer
//! calls per tagged `MSET` on 8 nodes, where 2.08 is the rule now). A
//! cluster client (redis-cli -c, redis-benchmark --cluster, the cluster
//! modes of client libraries) reads the slot map once and then sends each
//! key straight to its owner: a GET costs no peer call, and a SET only its
//! copies.
//!
//! The map is a hint, never a rule. Any node still serves any key, by a
//! lookup, and never answers `MOVED` or `ASK`: a client with an old map, or
//! a key in one of the few slots a node's identifier splits, costs a hop
//! and nothing else. Each chord node is a master with its own slots; the
//! copies on its successors are not Redis replicas a client could read
//! from, so none are listed. The map is built by walking the ring
//! ([`crate::node::Node::walk_ring`]), one call per node, and kept for
//! [`MAP_FRESH`]: clients ask once when they start and again after errors,
//! and a flood of `CLUSTER SLOTS` costs the ring one walk a second.

use std::time::{Duration, Instant};

use parking_lot::Mutex;
use sha1::{Digest, Sha1};

use super::RING_LIMIT;
use crate::command::{Answer, ClusterNode, ClusterQuery, SlotRun};
use crate::error::Result;
use crate::id::{hash_slot, Id, IdSpace, NodeRef, SLOTS};
use crate::node::Node;

/// How long a walk of the ring answers `CLUSTER` queries: the map is a
/// hint, and a stabilization period or four is soon enough to see a join.
const MAP_FRESH: Duration = Duration::from_secs(1);

/// The nodes of the ring as the last walk found them.
#[derive(Default)]
pub(super) struct RingMap {
    /// The walk's nodes and when it ended. Held to read or replace them,
    /// never during the walk.
    last: Mutex<Option<(Instant, Vec<NodeRef>)>>,
}

impl RingMap {
    /// The ring's nodes, walked again if the last walk is stale.
    fn nodes(&self, node: &Node) -> Result<Vec<NodeRef>> {
        if let Some((at, ring)) = &*self.last.lock() {
            if at.elapsed() < MAP_FRESH {
                return Ok(ring.clone());
            }
        }
        let ring: Vec<NodeRef> = node
            .walk_ring(RING_LIMIT)?
            .into_iter()
            .map(|e| e.node)
            .collect();
        *self.last.lock() = Some((Instant::now(), ring.clone()));
        Ok(ring)
    }
}

/// Answers one `CLUSTER` query.
pub(super) fn answer(node: &Node, map: &RingMap, query: ClusterQuery) -> Answer {
    let space = node.config().space;
    match query {
        ClusterQuery::KeySlot(key) => Answer::Integer(hash_slot(&key).into()),
        ClusterQuery::MyId => Answer::Value(Some(name(&node.me().addr).into_bytes())),
        ClusterQuery::Slots | ClusterQuery::Nodes | ClusterQuery::Info => {
            let ring = match map.nodes(node) {
                Ok(ring) => ring,
                Err(e) => return e.into(),
            };
            let runs = slot_runs(space, &ring);
            match query {
                ClusterQuery::Slots => Answer::Slots(runs),
                ClusterQuery::Nodes => Answer::Text(nodes_text(node.me(), &ring, &runs)),
                _ => Answer::Text(info_text(&ring, &runs)),
            }
        }
    }
}

/// The runs of slots, in slot order, and the node serving each run: the
/// owner of the slot's first identifier, `successor(start)`.
pub fn slot_runs(space: IdSpace, ring: &[NodeRef]) -> Vec<SlotRun> {
    let mut nodes: Vec<(Id, ClusterNode)> = ring.iter().map(|n| (n.id, cluster_node(n))).collect();
    nodes.sort_by_key(|(id, _)| *id);
    nodes.dedup_by_key(|(id, _)| *id);
    let mut runs: Vec<SlotRun> = Vec::new();
    let Some(first) = nodes.first() else {
        return runs;
    };
    for slot in 0..SLOTS {
        let start = space.slot_start(slot);
        let owner = &nodes.iter().find(|(id, _)| *id >= start).unwrap_or(first).1;
        match runs.last_mut() {
            Some(run) if run.node == *owner => run.last = slot,
            _ => runs.push(SlotRun {
                first: slot,
                last: slot,
                node: owner.clone(),
            }),
        }
    }
    runs
}

/// A node's name: 40 hex digits of SHA-1 of its address, as a Redis
/// Cluster node's name is 40 hex digits. Unlike its identifier, it does
/// not depend on m, and two addresses never share one.
fn name(addr: &str) -> String {
    Sha1::digest(addr.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// `host:port` split for clients; an address without a port (never
/// advertised, as a node's address is checked at start) gets port 0.
fn cluster_node(node: &NodeRef) -> ClusterNode {
    let (host, port) = node
        .addr
        .rsplit_once(':')
        .map_or((&*node.addr, 0), |(h, p)| (h, p.parse().unwrap_or(0)));
    ClusterNode {
        host: host.trim_matches(['[', ']']).to_string(),
        port,
        name: name(&node.addr),
    }
}

/// `CLUSTER NODES`: a line per node, as Redis writes them: name,
/// `host:port@bus-port` (chord's peers and clients share one port), flags,
/// no master, ping and pong times, epoch, link state, then its slots.
fn nodes_text(me: &NodeRef, ring: &[NodeRef], runs: &[SlotRun]) -> String {
    let mut text = String::new();
    for node in ring {
        let cluster = cluster_node(node);
        let flags = if node == me {
            "myself,master"
        } else {
            "master"
        };
        text.push_str(&format!(
            "{} {}:{}@{} {flags} - 0 0 0 connected",
            cluster.name, cluster.host, cluster.port, cluster.port
        ));
        for run in runs.iter().filter(|r| r.node == cluster) {
            if run.first == run.last {
                text.push_str(&format!(" {}", run.first));
            } else {
                text.push_str(&format!(" {}-{}", run.first, run.last));
            }
        }
        text.push('\n');
    }
    text
}

/// `CLUSTER INFO`: every slot is served while the ring answers.
fn info_text(ring: &[NodeRef], runs: &[SlotRun]) -> String {
    let serving = ring
        .iter()
        .filter(|n| {
            let cluster = cluster_node(n);
            runs.iter().any(|r| r.node == cluster)
        })
        .count();
    format!(
        "cluster_enabled:1\r\ncluster_state:ok\r\ncluster_slots_assigned:{SLOTS}\r\n\
         cluster_slots_ok:{SLOTS}\r\ncluster_slots_pfail:0\r\ncluster_slots_fail:0\r\n\
         cluster_known_nodes:{}\r\ncluster_size:{serving}\r\ncluster_current_epoch:0\r\n\
         cluster_my_epoch:0\r\n",
        ring.len()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ring(space: IdSpace, n: u16) -> Vec<NodeRef> {
        (0..n)
            .map(|i| NodeRef::new(space, &format!("127.0.0.1:{}", 7000 + i)))
            .collect()
    }

    #[test]
    fn every_slot_is_served_once_and_keys_go_to_their_slots_node() {
        for bits in [6u8, 16, 160] {
            let space = IdSpace::new(bits).unwrap();
            let ring = ring(space, 9);
            let runs = slot_runs(space, &ring);
            assert_eq!(runs.first().map(|r| r.first), Some(0));
            assert_eq!(runs.last().map(|r| r.last), Some(SLOTS - 1));
            for pair in runs.windows(2) {
                assert_eq!(pair[0].last + 1, pair[1].first);
                assert_ne!(pair[0].node, pair[1].node);
            }
            // The map sends a key to the node that owns it, save for the
            // few slots a node's identifier splits.
            let mut sorted: Vec<&NodeRef> = ring.iter().collect();
            sorted.sort_by_key(|n| n.id);
            let (mut right, total) = (0, 10_000);
            for i in 0..total {
                let key = format!("key:{i}");
                let id = space.key(key.as_bytes());
                let owner = sorted.iter().find(|n| n.id >= id).unwrap_or(&sorted[0]);
                let slot = hash_slot(key.as_bytes());
                let run = runs.iter().find(|r| (r.first..=r.last).contains(&slot));
                if run.map(|r| &r.node) == Some(&cluster_node(owner)) {
                    right += 1;
                }
            }
            assert!(
                right >= total * 999 / 1000,
                "m = {bits}: {right} of {total}"
            );
            // Each node's first slot is whole: no identifier falls in it.
            if bits == 160 {
                for run in &runs {
                    let start = space.slot_start(run.first);
                    let next = space.slot_start((run.first + 1) % SLOTS);
                    assert!(ring
                        .iter()
                        .all(|n| n.id != start && !n.id.in_open(start, next)));
                }
            }
        }
    }

    #[test]
    fn nodes_lines_are_what_redis_benchmark_and_clients_parse() {
        let space = IdSpace::new(160).unwrap();
        let ring = ring(space, 3);
        let runs = slot_runs(space, &ring);
        let text = nodes_text(&ring[1], &ring, &runs);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3);
        let mut slots = 0;
        for (line, node) in lines.iter().zip(&ring) {
            let fields: Vec<&str> = line.split(' ').collect();
            assert_eq!(fields[0].len(), 40);
            assert_eq!(fields[1], format!("{}@{}", node.addr, &node.addr[10..]));
            assert_eq!(fields[2] == "myself,master", node == &ring[1]);
            assert_eq!(fields[3..8], ["-", "0", "0", "0", "connected"]);
            for range in &fields[8..] {
                let (a, b) = range.split_once('-').unwrap_or((range, range));
                slots += b.parse::<u32>().unwrap() - a.parse::<u32>().unwrap() + 1;
            }
        }
        assert_eq!(slots, u32::from(SLOTS));
    }
}
