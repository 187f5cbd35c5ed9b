//! Harnesses: code that drives whole nodes from outside, as a user or an
//! attacker would, to measure them. Not part of a node; the `chord`
//! command line and the tests call it.
//!
//! - [`churn`]: node processes killed and started under a checked
//!   workload (`chord-lab churn`).
//! - [`massive`]: the paper's massive-failure experiment (`chord-lab massive`).
//! - [`crash`]: every node of a durable ring killed at once and started
//!   again; the acknowledged writes read back (`chord-lab crash`).
//! - [`nodes`]: the node processes those start, kill, restart, freeze
//!   and thaw.
//! - [`partition`]: a ring cut in two by network namespaces, written to
//!   on both sides and healed (`chord-lab partition`).
//! - [`attack`]: the attacks a stranger (or a member sending malformed
//!   frames) can make on a ring, each with the outcome that shows the ring
//!   withstood it.
//! - [`fuzz`]: random and mutated bytes fed to every parser a node has.
//! - [`locks`]: the longest the store lock is held, on a node with a
//!   million keys.
//! - [`versus`]: chord against Redis under redis-benchmark (`chord
//!   bench`).
//!
//! The crate's one random number generator, [`Rng`], lives in
//! [`chord::rng`]; it is re-exported here for the harnesses.

pub mod attack;
pub mod churn;
pub mod crash;
pub mod deploy;
pub mod fuzz;
pub mod locks;
pub mod massive;
mod netns;
pub mod nodes;
pub mod partition;
pub mod versus;

pub use chord::rng::Rng;

use std::sync::Arc;

use chord::node::{Node, NodeConfig};
use chord::transport::{Handler, MemoryNetwork};

/// Three nodes at `addrs` on a fresh in-memory network, in one ring: the
/// first creates it, the others join, and a few rounds of `stabilize`
/// link them. The settings must be valid.
pub(crate) fn memory_ring(addrs: [&str; 3], config: &NodeConfig) -> Vec<Arc<Node>> {
    let net = MemoryNetwork::new();
    let nodes: Vec<Arc<Node>> = addrs
        .iter()
        .map(|addr| {
            let node = Node::new(addr, config.clone(), net.clone())
                .unwrap_or_else(|e| unreachable!("a harness ring's settings: {e}"));
            let handler: Arc<dyn Handler> = node.clone();
            net.register(addr, &handler);
            node
        })
        .collect();
    nodes[0].create();
    for node in &nodes[1..] {
        let _ = node.join(addrs[0]);
    }
    for _ in 0..10 {
        for node in &nodes {
            let _ = node.stabilize();
        }
    }
    nodes
}
