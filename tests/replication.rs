//! Replication and repair: the paper's section "Failure and Replication"
//! ("store replicas of a key at the k nodes succeeding the key") and this
//! crate's promise on top of it: an acknowledged write survives any R - 1
//! nodes dying at once, and a node that comes back with stale data does not
//! bring back what was overwritten or deleted. Scenarios over the
//! [`Cluster`] trait run with real TCP nodes and on the in-memory network.

mod common;

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use chord::id::NodeRef;
use chord::message::Request;
use chord::stats::Stats;
use chord::store::{Entry, Item, Version};
use chord::transport::Handler;
use chord::Node;
use common::{
    keys, keys_are_at_their_holders, node_at, put_all, ring_is_correct, sorted, successor_of,
    value_of, Cluster, Held, MemCluster, TcpCluster,
};

/// The value the scenarios overwrite every other key with.
fn newer(key: &str) -> String {
    format!("{}-newer", value_of(key))
}

/// The owner of `key` and the node after it: its first replica.
fn owner_and_replica(nodes: &[Arc<Node>], key: &str) -> (NodeRef, NodeRef) {
    let ring = sorted(nodes);
    let id = nodes[0].config().space.key(key.as_bytes());
    let owner = successor_of(&ring, id).clone();
    let at = ring.iter().position(|n| *n == owner).expect("the owner");
    (owner, ring[(at + 1) % ring.len()].clone())
}

/// A counter of `STATS`, summed over `nodes`.
fn total(nodes: &[Arc<Node>], counter: fn(&Stats) -> &AtomicU64) -> u64 {
    nodes
        .iter()
        .map(|n| counter(n.stats()).load(Ordering::Relaxed))
        .sum()
}

/// A ring of 8 with R = 3 loses two neighbouring nodes at once, with no
/// goodbye: the worst placement, since they can be two of a key's three
/// holders. Every acknowledged write still reads back with its latest
/// value, and repair restores three holders for every key.
fn two_kills_lose_no_acknowledged_write(cluster: &mut impl Cluster) {
    cluster.grow_to(8);
    cluster.settle();
    let nodes = cluster.live();
    assert_eq!(nodes[0].config().replicas, 3);
    let keys = keys("survivor", 120);
    put_all(&nodes[0], &keys);
    for key in keys.iter().step_by(2) {
        nodes[1].put(key, newer(key)).expect("overwrite");
    }
    let ring = sorted(&nodes);
    for victim in &ring[2..4] {
        cluster.kill(&victim.addr);
    }
    // The successors serve the arcs they took over a lease after they
    // took them (`Ring::serves`).
    cluster.settle_until("a correct ring of 6, serving", &|nodes| {
        ring_is_correct(nodes) && nodes.iter().all(|n| !n.view().taking_over)
    });
    let live = cluster.live();
    for (i, key) in keys.iter().enumerate() {
        let expected = if i % 2 == 0 {
            newer(key)
        } else {
            value_of(key)
        };
        let reader = &live[i % live.len()];
        assert_eq!(
            reader.get(key).expect("get"),
            Some(expected.into_bytes()),
            "{key}"
        );
    }
    cluster.settle_until("every key at its three holders again", &|nodes| {
        keys_are_at_their_holders(nodes, &keys)
    });
}

#[test]
fn tcp_two_kills_lose_no_acknowledged_write() {
    two_kills_lose_no_acknowledged_write(&mut TcpCluster::new(160));
}

#[test]
fn memory_two_kills_lose_no_acknowledged_write() {
    two_kills_lose_no_acknowledged_write(&mut MemCluster::new(160));
}

#[test]
fn a_key_whose_owner_died_reads_again_within_a_few_rounds() {
    // A short request timeout: a read that fails waits it out on the
    // virtual clock, with no heartbeat, and a long wait would look like a
    // pause of the process.
    let mut config = common::node_config(160);
    config.request_timeout = Duration::from_millis(5);
    let mut cluster = MemCluster::with_config(config);
    cluster.grow_to(8);
    cluster.settle();
    let keys = keys("fallback", 40);
    put_all(&cluster.live()[0], &keys);
    let (_, lookup) = cluster.live()[0].lookup(&keys[0]).expect("lookup");
    let owner = lookup.owner().addr.clone();
    cluster.kill(&owner);
    // No round has run: every node still names the dead owner. A read is
    // not answered from the replicas the stale lookup names (a node that
    // joined just before the dead one, and that the lookup's last hop has
    // not heard of, may be the real owner): it is unavailable, never wrong.
    let reader = cluster.live()[0].clone();
    match reader.get(&keys[0]) {
        Ok(got) => assert_eq!(got, Some(value_of(&keys[0]).into_bytes())),
        Err(e) => assert!(matches!(e, chord::Error::Unavailable(_)), "{e}"),
    }
    // Within a few stabilization rounds the successor has taken the dead
    // node's arc over from its replica copy, and once the lease on an arc
    // gained has passed (`Ring::serves`: three rounds here, where calls
    // never time out), the key reads again.
    let value = Some(value_of(&keys[0]).into_bytes());
    let rounds = cluster.rounds_until("the key readable again", &|_| {
        reader.get(&keys[0]).ok() == Some(value.clone())
    });
    let lease_rounds = 3;
    assert!(
        rounds <= 3 + lease_rounds,
        "readable again only after {rounds} rounds"
    );
    // Reference: section "Failure and Replication": if a node fails, the
    // replicas at its successors keep the key available.
}

#[test]
fn tcp_writes_during_joins_are_all_kept() {
    let mut cluster = TcpCluster::new(160);
    cluster.grow_to(3);
    cluster.settle();
    let writer_node = cluster.live()[0].clone();
    let keys = keys("during-joins", 300);
    let writer = {
        let keys = keys.clone();
        std::thread::spawn(move || {
            for key in &keys {
                writer_node
                    .put(key, value_of(key))
                    .expect("put during joins");
            }
        })
    };
    for _ in 0..5 {
        cluster.add_node();
    }
    writer.join().expect("the writer");
    cluster.settle_until("every key at its holders", &|nodes| {
        ring_is_correct(nodes) && keys_are_at_their_holders(nodes, &keys)
    });
    let nodes = cluster.live();
    for (i, key) in keys.iter().enumerate() {
        assert_eq!(
            nodes[i % nodes.len()].get(key).expect("get"),
            Some(value_of(key).into_bytes())
        );
    }
}

#[test]
fn a_node_cut_off_and_back_does_not_bring_back_stale_values() {
    let mut cluster = MemCluster::new(160);
    cluster.grow_to(8);
    cluster.settle();
    let keys = keys("stale", 150);
    put_all(&cluster.live()[0], &keys);
    let victim = cluster.live()[3].clone();
    let its_keys = victim.held();
    assert!(its_keys.len() >= 4, "pick more keys: {}", its_keys.len());
    // It stops answering, keeping its store; the ring routes around it.
    let away = cluster.cut_off(&victim.me().addr);
    cluster.settle_until("a ring without it, serving", &|nodes| {
        ring_is_correct(nodes) && nodes.iter().all(|n| !n.view().taking_over)
    });
    // Meanwhile half of its keys are overwritten and half deleted.
    let writer = cluster.live()[0].clone();
    let overwritten: Vec<&String> = its_keys.iter().step_by(2).collect();
    let deleted: Vec<&String> = its_keys.iter().skip(1).step_by(2).collect();
    for key in &overwritten {
        writer.put(key, newer(key)).expect("overwrite");
    }
    for key in &deleted {
        assert!(writer.delete(key).expect("delete"));
    }
    // It comes back with its old values and its old view of the ring.
    cluster.reconnect(away);
    let surviving: Vec<String> = keys
        .iter()
        .filter(|k| !deleted.contains(k))
        .cloned()
        .collect();
    cluster.settle_until("the ring with it back, keys at their holders", &|nodes| {
        ring_is_correct(nodes)
            && keys_are_at_their_holders(nodes, &surviving)
            && nodes.iter().all(|n| {
                let held = n.held();
                deleted.iter().all(|d| !held.contains(d))
            })
    });
    for node in cluster.live() {
        for key in &overwritten {
            assert_eq!(node.get(key).expect("get"), Some(newer(key).into_bytes()));
        }
        for key in &deleted {
            assert_eq!(node.get(key).expect("get"), None, "{key} came back");
        }
    }
}

/// FLUSHALL reaches every node it can; a node cut off meanwhile comes
/// back holding copies from before it, and they do not come back: it
/// learns the flush from its neighbours' repair rounds, and no node takes
/// its old copies. A write after the flush survives it.
#[test]
fn a_flushed_key_does_not_come_back_from_a_node_that_missed_the_flush() {
    let mut cluster = MemCluster::new(160);
    cluster.grow_to(8);
    cluster.settle();
    let keys = keys("flushed", 150);
    put_all(&cluster.live()[0], &keys);
    let victim = cluster.live()[3].clone();
    assert!(victim.held().len() >= 4, "pick more keys");
    let away = cluster.cut_off(&victim.me().addr);
    let asker = cluster.live()[0].clone();
    let reached = asker.keys().flush_all(100).expect("a flush");
    assert_eq!(reached, 7, "every node but the one cut off");
    asker.put("after", "kept").expect("a write after the flush");
    for node in cluster.live() {
        assert!(
            node.held().iter().all(|k| k == "after"),
            "{} kept keys through the flush",
            node.me().addr
        );
    }
    cluster.reconnect(away);
    let after = vec!["after".to_string()];
    cluster.settle_until("the ring with it back, and flushed", &|nodes| {
        ring_is_correct(nodes)
            && keys_are_at_their_holders(nodes, &after)
            && nodes
                .iter()
                .all(|n| n.held().iter().all(|k| *k == after[0]))
    });
    for node in cluster.live() {
        for key in keys.iter().step_by(10) {
            assert_eq!(node.get(key).expect("get"), None, "{key} came back");
        }
        assert_eq!(node.get("after").expect("get"), Some(b"kept".to_vec()));
    }
}

/// DEL of many keys counts every key that had a value, also when a
/// replica died a moment ago and the tables still name it: a key whose
/// copies fell short is deleted again alone, finds the batch's own
/// tombstone, and the count still takes what its owner said first.
#[test]
fn del_of_many_keys_counts_each_one_that_had_a_value_when_a_replica_just_died() {
    let mut cluster = MemCluster::new(160);
    cluster.grow_to(5);
    cluster.settle();
    let coordinator = cluster.live()[0].clone();
    let victim = cluster.live()[3].me().addr.to_string();
    // Keys the victim holds as a replica, not as their owner: no round
    // runs here, so nothing would ever take over the victim's own keys.
    let holders = |key: &String| -> Vec<String> {
        let (_, lookup) = coordinator.lookup(key).expect("a lookup");
        lookup
            .holders(3)
            .iter()
            .map(|n| n.addr.to_string())
            .collect()
    };
    let keys: Vec<String> = keys("counted", 200)
        .into_iter()
        .filter(|k| {
            let h = holders(k);
            h[0] != victim && h.contains(&victim)
        })
        .collect();
    assert!(keys.len() >= 10, "pick more keys: {}", keys.len());
    put_all(&coordinator, &keys);
    // It dies; no round runs, so every table still names it.
    cluster.kill(&victim);
    let deletes: Vec<(&[u8], Option<&[u8]>)> = keys.iter().map(|k| (k.as_bytes(), None)).collect();
    let existed = coordinator
        .keys()
        .write_many(&deletes)
        .expect("the deletes");
    assert!(existed.iter().all(|e| *e), "{existed:?}");
    for key in &keys {
        assert_eq!(coordinator.get(key).expect("a read"), None, "{key}");
    }
}

#[test]
fn after_a_massive_failure_only_keys_whose_holders_all_died_are_lost() {
    let mut cluster = MemCluster::new(160);
    cluster.grow_to(32);
    cluster.settle();
    let keys = keys("massive", 600);
    put_all(&cluster.live()[0], &keys);
    let nodes = cluster.live();
    let ring = sorted(&nodes);
    let space = nodes[0].config().space;
    // A quarter of the nodes fail at once: three neighbours, and five more
    // spread round the ring.
    let victims: Vec<String> = ring[..3]
        .iter()
        .chain(ring[5..].iter().step_by(5))
        .map(|n| n.addr.to_string())
        .collect();
    let holders_of = |key: &String| -> Vec<String> {
        let id = space.key(key.as_bytes());
        let at = ring.iter().position(|n| n.id >= id).unwrap_or(0);
        (0..3)
            .map(|i| ring[(at + i) % ring.len()].addr.to_string())
            .collect()
    };
    let doomed: Vec<&String> = keys
        .iter()
        .filter(|k| holders_of(k).iter().all(|h| victims.contains(h)))
        .collect();
    for victim in &victims {
        cluster.kill(victim);
    }
    cluster.settle_until("a correct ring", &|nodes| ring_is_correct(nodes));
    let reader = cluster.live()[0].clone();
    let lost: Vec<&String> = keys
        .iter()
        .filter(|k| reader.get(k).expect("get") != Some(value_of(k).into_bytes()))
        .collect();
    assert!(
        !doomed.is_empty(),
        "pick more keys: none had all holders die"
    );
    assert_eq!(lost, doomed);
    // Reference: section "Failure and Replication", and the experiment of
    // "Simultaneous Node Failures": with replicas on the successor list a
    // key is lost only if all of its R holders fail together.
}

/// Expiry travels with the value: a key written to expire is held, with
/// its expiry, by all R holders; once the time passes, every node reads no
/// value, and each holder empties its own copy into a tombstone of the
/// same version, so no stale copy can bring the value back.
#[test]
fn memory_an_expiring_key_expires_at_every_holder() {
    let mut cluster = MemCluster::new(160);
    cluster.grow_to(5);
    cluster.settle();
    let nodes = cluster.live();
    let at = nodes[0].config().clock.now_micros() + 5_000_000;
    nodes[0]
        .keys()
        .put_expiring(b"brief", b"soon gone", Some(at))
        .expect("put");
    nodes[1].put("lasting", "stays").expect("put");
    let copies = |cluster: &MemCluster| {
        let nodes = cluster.live();
        let (_, lookup) = nodes[2].lookup("brief").expect("lookup");
        let holders = lookup.holders(nodes[2].config().replicas);
        assert_eq!(holders.len(), 3);
        holders
            .into_iter()
            .map(|h| nodes[2].ring().peer(h).get_copy(b"brief").expect("a copy"))
            .collect::<Vec<_>>()
    };
    for copy in copies(&cluster) {
        assert_eq!(copy.map(|c| c.expires), Some(Some(at)));
    }
    assert_eq!(
        nodes[3].get("brief").expect("get"),
        Some(b"soon gone".to_vec())
    );

    // Rounds go on meanwhile: a node serves only while stabilization
    // renews its lease.
    cluster.rounds_until("the expiry passed", &|nodes| {
        nodes[0].config().clock.now_micros() > at
    });
    for node in &cluster.live() {
        assert_eq!(node.get("brief").expect("get"), None, "{}", node.me().addr);
        assert_eq!(node.get("lasting").expect("get"), Some(b"stays".to_vec()));
    }
    cluster.round();
    for copy in copies(&cluster) {
        let copy = copy.expect("the emptied copy stays as a tombstone");
        assert!(copy.is_tombstone() && copy.expires == Some(at), "{copy:?}");
    }
}

/// Keys that share a hash tag share an identifier, and one identifier can
/// hold thousands of keys. A replica that missed every write to such a
/// tag gets them all from its owner's anti-entropy, which cuts
/// buckets between keys, not only between identifiers; and once the
/// copies agree, a round exchanges no keys at all.
#[test]
fn a_replica_that_missed_thousands_of_keys_under_one_tag_gets_them_all() {
    let mut cluster = MemCluster::new(160);
    cluster.grow_to(4);
    cluster.settle();
    let keys: Vec<String> = (0..3000).map(|i| format!("{{crowd}}:{i}")).collect();
    let (_, replica) = owner_and_replica(&cluster.live(), &keys[0]);
    put_all(&cluster.live()[0], &keys);
    let away = cluster.cut_off(&replica.addr);
    cluster.settle_until("a ring without it, serving", &|nodes| {
        ring_is_correct(nodes) && nodes.iter().all(|n| !n.view().taking_over)
    });
    // The last keys of the tag, in key order, change while it is away.
    let mut in_order = keys.clone();
    in_order.sort();
    let writer = cluster.live()[0].clone();
    for key in &in_order[2000..] {
        writer.put(key, newer(key)).expect("overwrite");
    }
    cluster.reconnect(away);
    cluster.settle_until("every key of the tag at its holders", &|nodes| {
        ring_is_correct(nodes) && keys_are_at_their_holders(nodes, &keys)
    });
    let reconciled = |nodes: &[Arc<Node>]| total(nodes, |s| &s.buckets_reconciled);
    let before = reconciled(&cluster.live());
    for _ in 0..20 {
        cluster.round();
    }
    assert_eq!(
        reconciled(&cluster.live()),
        before,
        "agreeing copies exchange nothing"
    );
}

/// A ring of 5 holding `count` keys named from `prefix`, run until every
/// key is at its holders and a dozen rounds in a row compare no digests:
/// longer than anti-entropy rests between passes.
fn quiet_ring(prefix: &str, count: usize) -> (MemCluster, Vec<String>) {
    let mut cluster = MemCluster::new(160);
    cluster.grow_to(5);
    cluster.settle();
    let keys = keys(prefix, count);
    put_all(&cluster.live()[0], &keys);
    let (last, same) = (Cell::new(u64::MAX), Cell::new(0));
    cluster.settle_until("rounds that compare no digests", &|nodes| {
        let now = compared(nodes);
        same.set(if last.replace(now) == now {
            same.get() + 1
        } else {
            0
        });
        keys_are_at_their_holders(nodes, &keys) && same.get() >= 12
    });
    (cluster, keys)
}

/// Digest buckets compared so far, over `nodes`.
fn compared(nodes: &[Arc<Node>]) -> u64 {
    total(nodes, |s| &s.buckets_compared)
}

/// Anti-entropy leaves copies that agree alone: once a pass finds them
/// equal, a ring at rest compares no more digests. A change on either side
/// wakes it: a copy that reached only a replica is carried to the owner
/// and the other replica.
#[test]
fn copies_that_agree_are_left_alone_until_one_changes() {
    let (mut cluster, keys) = quiet_ring("quiet", 200);
    let before = compared(&cluster.live());
    for _ in 0..10 {
        cluster.round();
    }
    assert_eq!(
        compared(&cluster.live()),
        before,
        "a ring at rest compares nothing"
    );
    // A newer copy of one key lands on one replica only.
    let key = &keys[0];
    let (owner, replica) = owner_and_replica(&cluster.live(), key);
    let replica = node_at(&cluster.live(), &replica.addr);
    let held = replica
        .keys()
        .held_entry(key.as_bytes())
        .expect("a replica's copy");
    let newer = Entry {
        value: Some(b"only one replica got this".to_vec()),
        version: Version {
            stamp: held.version.stamp + 1,
            writer: held.version.writer,
        },
        ..held
    };
    replica.handle(Request::Replicate {
        items: vec![Item {
            key: key.as_bytes().into(),
            entry: newer,
        }]
        .into(),
    });
    cluster.settle_until("the newer copy at all three holders", &|nodes| {
        keys_are_at_their_holders(nodes, &keys)
            && nodes.iter().all(|n| {
                n.keys()
                    .held_entry(key.as_bytes())
                    .is_none_or(|e| e.version.stamp == held.version.stamp + 1)
            })
    });
    let owner = node_at(&cluster.live(), &owner.addr);
    assert_eq!(
        owner.get(key).expect("get"),
        Some(b"only one replica got this".to_vec())
    );
}

/// Under a steady load of writes the stores change every round, yet
/// anti-entropy does not digest every arc every round: a whole pass rests
/// some rounds before the next. Over 18 rounds with a write in each, each
/// owner and replica compare their arc at most three times (here an arc
/// is one bucket), not every round.
#[test]
fn a_ring_under_writes_digests_each_arc_once_a_rest() {
    let (mut cluster, keys) = quiet_ring("steady", 100);
    let nodes = cluster.live();
    let pairs = nodes.len() as u64 * (nodes[0].config().replicas as u64 - 1);
    let before = compared(&nodes);
    for (round, key) in keys.iter().cycle().take(18).enumerate() {
        nodes[round % nodes.len()]
            .put(key, format!("write {round}"))
            .expect("put");
        cluster.round();
    }
    let during = compared(&cluster.live()) - before;
    assert!(during > 0, "a ring whose stores change compares them");
    assert!(
        during <= 3 * pairs,
        "{during} buckets compared in 18 rounds by {pairs} pairs of copies"
    );
}
