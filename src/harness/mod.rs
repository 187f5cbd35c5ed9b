//! Harnesses: code that drives whole nodes from outside, as a user or an
//! attacker would, to measure them. Not part of a node; the `chord`
//! command line and the tests call it.
//!
//! - [`churn`]: node processes killed and started under a checked
//!   workload (`chord churn`).
//! - [`massive`]: the paper's massive-failure experiment (`chord massive`).
//! - [`attack`]: the attacks a stranger (or a member sending malformed
//!   frames) can make on a ring, each with the outcome that shows the ring
//!   withstood it.
//! - [`fuzz`]: random and mutated bytes fed to every parser a node has.
//! - [`locks`]: the longest the store lock is held, on a node with a
//!   million keys.
//! - [`Rng`]: the crate's one random number generator: small, seeded, and
//!   repeatable, for harnesses and tests (not for secrets: those come from
//!   the operating system, see [`crate::auth::nonce`]).

pub mod attack;
pub mod churn;
pub mod fuzz;
pub mod locks;
pub mod massive;

use std::sync::Arc;

use crate::node::{Node, NodeConfig};
use crate::transport::{Handler, MemoryNetwork};

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

/// A small xorshift64* generator: the same numbers for the same seed.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator for `seed` (any value).
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    /// The next number.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in `0..bound`; 0 when `bound` is 0.
    pub fn below(&mut self, bound: usize) -> usize {
        if bound == 0 {
            return 0;
        }
        (self.next_u64() >> 33) as usize % bound
    }

    /// `n` random bytes.
    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next_u64() as u8).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_numbers() {
        let (mut a, mut b) = (Rng::new(7), Rng::new(7));
        let xs: Vec<u64> = (0..5).map(|_| a.next_u64()).collect();
        assert_eq!(xs, (0..5).map(|_| b.next_u64()).collect::<Vec<_>>());
        assert_ne!(Rng::new(8).next_u64(), xs[0]);
        let mut r = Rng::new(1);
        assert!((0..1000).all(|_| r.below(10) < 10));
        assert_eq!(r.below(0), 0);
    }
}
