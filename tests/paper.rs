//! One test per claim of the paper: Stoica et al., "Chord: A Scalable
//! Peer-to-peer Lookup Protocol for Internet Applications", IEEE/ACM ToN
//! 2003. Each test ends with the section or figure it checks. Sections are
//! named by title, which reads the same in the ToN and SIGCOMM versions.
//!
//! All run on the in-memory network, driven round by round, so they are
//! deterministic: the same identifiers, the same rounds, the same answers.

mod common;

use std::collections::HashMap;

use chord::id::IdSpace;
use common::{
    fingers_are_correct, keys, keys_are_at_their_holders, node_at, node_config, put_all,
    ring_is_correct, sorted, successor_of, value_of, Cluster, Held, MemCluster,
};

/// An address that SHA-1 maps to each wanted identifier in a `bits`-bit
/// space, so a test can build the paper's example rings.
fn addresses_for(bits: u8, wanted: &[u64]) -> HashMap<u64, String> {
    let space = IdSpace::new(bits).unwrap();
    wanted
        .iter()
        .map(|&id| (id, space.name_for("node-", space.id(id), 100_000).unwrap()))
        .collect()
}

/// A key whose identifier ([`IdSpace::key`]) is `id` in a `bits`-bit space.
fn key_for(bits: u8, id: u64) -> String {
    let space = IdSpace::new(bits).unwrap();
    space.key_for("key-", space.id(id), 100_000).unwrap()
}

/// The ten-node ring of m = 6 that the paper's Figures 2 to 4 draw.
const PAPER_RING: [u64; 10] = [1, 8, 14, 21, 32, 38, 42, 48, 51, 56];

fn paper_ring() -> (MemCluster, HashMap<u64, String>) {
    let addrs = addresses_for(6, &PAPER_RING);
    let mut cluster = MemCluster::new(6);
    for id in PAPER_RING {
        cluster.add_named(&addrs[&id]).expect("join");
    }
    cluster.settle();
    (cluster, addrs)
}

fn id_of(cluster: &MemCluster, addr: &str) -> u64 {
    node_at(&cluster.live(), addr).me().id.to_u64().unwrap()
}

#[test]
fn figure_4a_the_finger_table_of_node_8() {
    let (cluster, addrs) = paper_ring();
    let n8 = node_at(&cluster.live(), &addrs[&8]);
    let table: Vec<(u64, u64)> = n8
        .view()
        .fingers
        .iter()
        .map(|(_, start, node)| {
            (
                start.to_u64().unwrap(),
                node.as_ref().unwrap().id.to_u64().unwrap(),
            )
        })
        .collect();
    // Copied from the figure: N8+1 -> N14, N8+2 -> N14, N8+4 -> N14,
    // N8+8 -> N21, N8+16 -> N32, N8+32 -> N42.
    assert_eq!(
        table,
        vec![(9, 14), (10, 14), (12, 14), (16, 21), (24, 32), (40, 42)]
    );
    // Reference: Figure 4(a), and Table I's definition of finger[k].
}

#[test]
fn figure_4b_the_query_for_key_54_from_node_8() {
    let (cluster, addrs) = paper_ring();
    let n8 = node_at(&cluster.live(), &addrs[&8]);
    let (id, lookup) = n8.lookup(key_for(6, 54)).unwrap();
    assert_eq!(id.to_u64(), Some(54));
    let path: Vec<u64> = lookup
        .path
        .iter()
        .map(|n| id_of(&cluster, &n.addr))
        .collect();
    // N8 forwards to N42 (its farthest finger before 54), N42 to N51, and
    // N51 finds 54 in (51, 56]: the owner is N56.
    assert_eq!(path, vec![42, 51]);
    assert_eq!(lookup.owner().id.to_u64(), Some(56));
    // Reference: Figure 4(b), and find_successor in Figure 5.
}

#[test]
fn figure_2_keys_are_stored_at_their_successor() {
    let (cluster, _) = paper_ring();
    let nodes = cluster.live();
    // The figure's keys K10, K24, K30, K38, K54 live at N14, N32, N32,
    // N38, N56; with R = 3 the next two nodes hold replicas.
    let expected = [
        (10, [14, 21, 32]),
        (24, [32, 38, 42]),
        (30, [32, 38, 42]),
        (38, [38, 42, 48]),
        (54, [56, 1, 8]),
    ];
    assert_eq!(nodes[0].config().replicas, 3);
    for (key_id, expected) in expected {
        let key = key_for(6, key_id);
        nodes[0].put(&key, value_of(&key)).unwrap();
        let (_, lookup) = nodes[0].lookup(&key).unwrap();
        assert_eq!(lookup.owner().id.to_u64(), Some(expected[0]), "K{key_id}");
        let mut holders: Vec<u64> = nodes
            .iter()
            .filter(|n| n.held().contains(&key))
            .map(|n| n.me().id.to_u64().unwrap())
            .collect();
        let mut expected = expected.to_vec();
        holders.sort_unstable();
        expected.sort_unstable();
        assert_eq!(holders, expected, "K{key_id}");
    }
    // Reference: Figure 2, and section "Consistent Hashing": key k is
    // assigned to the first node whose identifier is equal to or follows
    // k's identifier on the circle, successor(k). Section "Failure and
    // Replication": replicas at the nodes that succeed it.
}

#[test]
fn keys_are_assigned_to_successor_k_in_a_160_bit_ring() {
    let mut cluster = MemCluster::new(160);
    cluster.grow_to(16);
    cluster.settle();
    let nodes = cluster.live();
    let keys = keys("placement", 200);
    for (i, key) in keys.iter().enumerate() {
        nodes[i % 16].put(key, value_of(key)).unwrap();
    }
    assert!(keys_are_at_their_holders(&nodes, &keys));
    // Reference: section "Consistent Hashing".
}

#[test]
fn concurrent_joins_converge_to_the_successor_invariant() {
    let mut cluster = MemCluster::new(160);
    cluster.add_node();
    // Sixteen nodes join through the same node before any of them has run
    // stabilize once: their successor pointers start out all wrong.
    for i in 0..16 {
        cluster.add_named(&format!("concurrent-{i}")).unwrap();
    }
    cluster.settle_until("the successor invariant", &|nodes| ring_is_correct(nodes));
    // Reference: section "Node Joins and Stabilization", the theorem that
    // any sequence of joins interleaved with stabilization ends, some time
    // after the last join, with successor pointers forming one cycle over
    // all nodes.
}

#[test]
fn fix_fingers_establishes_the_finger_invariant() {
    let mut cluster = MemCluster::new(160);
    cluster.grow_to(24);
    cluster.settle_until("correct successors", &|nodes| ring_is_correct(nodes));
    cluster.settle_until("correct fingers", &|nodes| fingers_are_correct(nodes));
    // Reference: Table I ("finger[k]: first node on circle that succeeds
    // (n + 2^(k-1)) mod 2^m") and fix_fingers in Figure 6.
}

#[test]
fn lookups_take_about_half_log2_n_hops() {
    let n = 64;
    let mut cluster = MemCluster::new(160);
    cluster.grow_to(n);
    cluster.settle();
    let nodes = cluster.live();
    let ring = sorted(&nodes);
    let space = nodes[0].config().space;
    let mut total = 0u32;
    let mut longest = 0u32;
    let lookups = 1000;
    for (i, key) in keys("hops", lookups).iter().enumerate() {
        let (id, lookup) = nodes[(i * 7) % n].lookup(key).unwrap();
        assert_eq!(id, space.key(key.as_bytes()));
        assert_eq!(lookup.owner(), successor_of(&ring, id));
        total += lookup.hops();
        longest = longest.max(lookup.hops());
    }
    let mean = f64::from(total) / lookups as f64;
    let half_log = 0.5 * (n as f64).log2();
    assert!(
        (0.6 * half_log..=1.4 * half_log).contains(&mean),
        "mean {mean:.2} hops, paper ½·log2 N = {half_log}"
    );
    assert!(
        f64::from(longest) <= 2.0 * (n as f64).log2(),
        "longest {longest}"
    );
    // Reference: section "Scalable Key Location", the theorem that a lookup
    // contacts O(log N) nodes, and the simulation section's path-length
    // results (Figure 10): the mean path length is about ½·log2 N.
}

#[test]
fn a_successor_list_keeps_the_ring_when_half_the_nodes_fail() {
    let mut config = node_config(160);
    config.successors = 8; // r = O(log N): log2 32 = 5
    let mut cluster = MemCluster::with_config(config);
    cluster.grow_to(32);
    cluster.settle();
    // Every node fails with probability ½: here, a fixed pseudo-random half.
    let victims: Vec<String> = cluster
        .live()
        .iter()
        .filter(|n| n.me().id.to_string().as_bytes()[0] % 2 == 0)
        .map(|n| n.me().addr.to_string())
        .collect();
    assert!(
        (8..=24).contains(&victims.len()),
        "{} victims",
        victims.len()
    );
    for victim in &victims {
        cluster.kill(victim);
    }
    cluster.settle_until("a ring of the survivors", &|nodes| ring_is_correct(nodes));
    let nodes = cluster.live();
    let ring = sorted(&nodes);
    for key in keys("after-failures", 100) {
        let (id, lookup) = nodes[0].lookup(&key).unwrap();
        assert_eq!(lookup.owner(), successor_of(&ring, id));
    }
    // Reference: section "Failure and Replication", the theorem that with
    // successor lists of length r = O(log N) in a stable ring, if every
    // node then fails with probability ½, find_successor still returns the
    // closest living successor (with high probability).
}

#[test]
fn a_joining_node_takes_over_keys_from_its_successor() {
    let mut cluster = MemCluster::new(160);
    cluster.grow_to(4);
    cluster.settle();
    let keys = keys("join", 200);
    put_all(&cluster.live()[0], &keys);
    let newcomer = cluster.add_node();
    cluster.settle_until("the newcomer linked in", &|nodes| ring_is_correct(nodes));
    let nodes = cluster.live();
    let ring = sorted(&nodes);
    let space = nodes[0].config().space;
    let mine: Vec<&String> = keys
        .iter()
        .filter(|k| successor_of(&ring, space.key(k.as_bytes())) == newcomer.me())
        .collect();
    assert!(
        !mine.is_empty(),
        "pick more keys: none maps to the newcomer"
    );
    let held = newcomer.held();
    assert!(mine.iter().all(|k| held.contains(k)));
    assert!(keys_are_at_their_holders(&nodes, &keys));
    // Reference: section "Node Joins and Stabilization": when n joins, some
    // keys previously assigned to n's successor become assigned to n.
}

#[test]
fn a_leaving_node_hands_its_keys_to_its_successor() {
    let mut cluster = MemCluster::new(160);
    cluster.grow_to(6);
    cluster.settle();
    let keys = keys("depart", 200);
    put_all(&cluster.live()[0], &keys);
    let leaver = cluster.live()[3].clone();
    let successor = leaver.successor();
    let its_keys = leaver.held();
    assert!(!its_keys.is_empty());
    cluster.leave(&leaver.me().addr);
    // At once, before any stabilization round: the successor holds them.
    let heir = node_at(&cluster.live(), &successor.addr);
    let held = heir.held();
    assert!(its_keys.iter().all(|k| held.contains(k)));
    for key in &keys {
        assert_eq!(
            cluster.live()[0].get(key).unwrap(),
            Some(value_of(key).into_bytes())
        );
    }
    // Reference: section "Voluntary Node Departures": the leaving node
    // transfers its keys to its successor before it goes.
}

#[test]
fn identifiers_are_sha1_of_the_address_reduced_to_m_bits() {
    // SHA-1("10.0.0.1:4000"), computed apart from this crate (Python's
    // hashlib), so the test does not compare our hash with itself.
    const SHA1: &str = "2b45b454da1ba888d6d1ea26af6d3c263656af04";
    let mut cluster = MemCluster::new(160);
    let node = cluster.add_named("10.0.0.1:4000").unwrap();
    assert_eq!(node.me().id.to_string(), SHA1);
    // Reduced to m = 16 bits: the low four hex digits, 0xaf04.
    let mut small = MemCluster::new(16);
    let node = small.add_named("10.0.0.1:4000").unwrap();
    assert_eq!(node.me().id.to_u64(), Some(0xaf04));
    // Reference: section "Consistent Hashing": a node's identifier is the
    // hash of its address, a key's the hash of the key.
}
