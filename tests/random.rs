//! Randomised scenarios on the in-memory network, repeatable by seed: joins
//! (linked in at once, or left to stabilization), graceful leaves, writes,
//! overwrites, deletes and stabilization rounds, interleaved at random.
//! After every step, every acknowledged write must be read back, at any
//! node: the promise of "Node Joins and Stabilization" and "Voluntary Node
//! Departures" that keys move with the ring and none is lost.
//!
//! Crashes are left out on purpose: without replication a crashed node's
//! keys are lost; the replication work brings its own randomised tests.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use chord::Node;

use common::{Cluster, MemCluster, Rng};

/// Seeds per run; `CHORD_SEEDS=3000 cargo test --release --test random`
/// hunts longer.
const SEEDS: u64 = 200;
const STEPS: usize = 200;

/// Reads `key` at `reader`: it may be unavailable while the ring moves
/// (in memory the ring moves only when the test runs rounds), but it must
/// never be wrong.
fn check_read(reader: &Node, key: &str, expected: Option<&String>, context: &str) -> bool {
    match reader.get(key) {
        Ok(got) => {
            assert_eq!(
                got.as_ref(),
                expected,
                "{context}: GET {key} at {:?}",
                reader.me()
            );
            true
        }
        Err(chord::Error::Unavailable(_)) => false,
        Err(e) => panic!("{context}: GET {key}: {e}"),
    }
}

fn scenario(seed: u64) {
    let mut rng = Rng::new(seed);
    // m = 8 keeps identifiers small, so keys crowd together; a short
    // request timeout, because nothing moves between rounds in memory.
    let mut config = common::node_config(8);
    config.request_timeout = Duration::from_millis(5);
    let mut cluster = MemCluster::with_config(config);
    cluster.grow_to(3);
    cluster.settle();
    let mut expected: BTreeMap<String, Option<String>> = BTreeMap::new();
    let mut joined = 0;
    for step in 0..STEPS {
        let context = format!("seed {seed}, step {step}");
        let nodes = cluster.live();
        let at = &nodes[rng.below(nodes.len())];
        let key = format!("key-{}", rng.below(60));
        let op = rng.below(100);
        match op {
            0..=39 => {
                let value = format!("v{step}");
                // Unacknowledged writes were not applied: the owner answers
                // Done only after writing.
                if at.put(&key, &value).is_ok() {
                    expected.insert(key, Some(value));
                }
            }
            40..=49 => {
                if let Ok(was) = at.delete(&key) {
                    let had = expected.insert(key.clone(), None).flatten().is_some();
                    assert_eq!(was, had, "{context}: DEL {key} found it: {was}");
                }
            }
            50..=59 if nodes.len() < 12 => {
                cluster.add_node();
            }
            60..=64 if nodes.len() < 12 => {
                // Joined by the paper's join only: stabilization links it in.
                // (Twins are tested on their own; none are made here.)
                joined += 1;
                let addr = format!("late-{seed}-{joined}");
                let id = at.config().space.hash(addr.as_bytes());
                if nodes.iter().all(|n| n.me().id != id) {
                    let _ = cluster.add_named(&addr);
                }
            }
            // Members leave, and the ring keeps at least two of them.
            65..=72 if at.is_member() && nodes.iter().filter(|n| n.is_member()).count() > 2 => {
                let addr = at.me().addr.clone();
                cluster.leave(&addr);
            }
            _ => cluster.round(),
        }
        // Safety, at every step: a read is right or unavailable.
        let nodes = cluster.live();
        for (key, value) in expected.iter().take(5) {
            check_read(
                &nodes[rng.below(nodes.len())],
                key,
                value.as_ref(),
                &context,
            );
        }
        // Liveness, every tenth step: once the ring settles, every
        // acknowledged write reads back, at any node.
        if step % 10 == 9 {
            cluster.settle_until("a correct ring", &|nodes| common::ring_is_correct(nodes));
            let nodes = cluster.live();
            for (key, value) in &expected {
                let reader = &nodes[rng.below(nodes.len())];
                let answered = check_read(reader, key, value.as_ref(), &context);
                assert!(
                    answered,
                    "{context}: GET {key} unavailable in a settled ring"
                );
            }
        }
    }
}

#[test]
fn acknowledged_writes_survive_random_joins_and_leaves() {
    let seeds = std::env::var("CHORD_SEEDS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(SEEDS);
    for seed in 1..=seeds {
        scenario(seed);
    }
}
