//! Faults beyond a clean crash, on the in-memory network: a node
//! restarted at once with an empty store, a node frozen and woken, a
//! network cut in two and healed, and answers lost on the way back.

mod common;

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use chord::chord::health::{pause_limit, SUSPECT_FOR};
use chord::message::{Expiry, Request, Response, Update};
use chord::store::UpdateId;
use chord::transport::Handler;
use chord::Node;
use common::{
    keys, node_config, put_all, sorted, successor_of, value_of, Cluster, Held, MemCluster,
};

/// The keys of `keys` that `node` owns in the ring of `nodes`.
fn owned_by(node: &Node, nodes: &[Arc<Node>], keys: &[String]) -> Vec<String> {
    let ring = sorted(nodes);
    keys.iter()
        .filter(|k| successor_of(&ring, node.config().space.key(k.as_bytes())) == node.me())
        .cloned()
        .collect()
}

/// A node killed and restarted at once on its address, with an empty
/// store, before the ring has noticed it was gone: no read of a key it
/// owned answers NOT_FOUND or a stale value, from any node, and once it
/// has pulled its arc back it serves it again.
#[test]
fn a_restarted_node_serves_no_key_until_it_holds_it_again() {
    let mut cluster = MemCluster::new(160);
    cluster.grow_to(8);
    cluster.settle();
    let keys = keys("restart", 200);
    put_all(&cluster.live()[0], &keys);
    let victim = cluster.live()[3].clone();
    let owned = owned_by(&victim, &cluster.live(), &keys);
    assert!(owned.len() >= 5, "pick more keys: {}", owned.len());
    let addr = victim.me().addr.clone();
    drop(victim);
    let restarted = cluster.restart(&addr);
    for reader in cluster.live() {
        for key in &owned {
            assert_eq!(
                reader
                    .get(key)
                    .unwrap_or_else(|e| panic!("GET {key} at {}: {e}", reader.me().addr)),
                Some(value_of(key).into_bytes()),
                "GET {key} at {} just after the restart",
                reader.me().addr
            );
        }
    }
    cluster.settle_until("the restarted node holding its keys", &|_| {
        let held = restarted.held();
        owned.iter().all(|k| held.contains(k))
    });
    for key in &owned {
        assert_eq!(
            restarted.get(key).expect("get"),
            Some(value_of(key).into_bytes())
        );
    }
}

/// A node frozen while its keys are overwritten, and woken before the
/// ring noticed it was gone: not one read through any node answers with a
/// value from before the freeze. The others read the other holders while
/// the woken node catches up; the woken node takes no client request
/// until then; afterwards it serves the newer values.
#[test]
fn a_woken_node_never_serves_a_value_from_before_its_freeze() {
    let mut cluster = MemCluster::new(160);
    cluster.grow_to(8);
    cluster.settle();
    let keys = keys("freeze", 200);
    put_all(&cluster.live()[0], &keys);
    let victim = cluster.live()[5].clone();
    let owned = owned_by(&victim, &cluster.live(), &keys);
    assert!(owned.len() >= 5, "pick more keys: {}", owned.len());
    let frozen = cluster.freeze(&victim.me().addr);
    // While it is away, and before any round: the writes go around it.
    let writer = cluster.live()[0].clone();
    for key in &owned {
        writer
            .put(key, newer(key))
            .expect("a write while it is frozen");
    }
    cluster.advance(Duration::from_secs(5));
    cluster.reconnect(frozen.clone());
    for key in &owned {
        assert!(
            matches!(frozen.get(key), Err(chord::Error::Paused)),
            "the woken node took a client request before catching up"
        );
        for reader in cluster.live().iter().filter(|n| n.me() != frozen.me()) {
            let got = reader
                .get(key)
                .unwrap_or_else(|e| panic!("GET {key} at {}: {e}", reader.me().addr));
            assert_eq!(
                got,
                Some(newer(key).into_bytes()),
                "GET {key} at {}",
                reader.me().addr
            );
        }
    }
    cluster.settle_until("the woken node caught up", &|nodes| {
        common::ring_is_correct(nodes) && nodes.iter().all(|n| !n.view().taking_over)
    });
    for key in &owned {
        assert_eq!(frozen.get(key).expect("get"), Some(newer(key).into_bytes()));
    }
}

fn newer(key: &str) -> String {
    format!("{key}-newer")
}

/// The paper's ring cut in two stays two rings; ours merges. Eight nodes,
/// interleaved into two sides of four, cut apart until each side is a
/// ring of its own; writes on both sides, some to the same keys; then the
/// network heals. The two rings become one, every key reads the same from
/// every node, a key written on one side only is readable everywhere, and
/// a key written on both sides keeps its later write.
#[test]
fn two_rings_merge_after_a_partition_heals() {
    let mut cluster = MemCluster::new(160);
    cluster.grow_to(8);
    cluster.settle();
    let side_a = every_other(&cluster);
    let on_a = |n: &Arc<Node>| side_a.contains(&n.me().addr.to_string());
    let before = keys("before", 60);
    put_all(&cluster.live()[0], &before);

    cluster.net().partition(&side_a);
    cluster.settle_until("two rings of four", &|nodes| {
        let (a, b): (Vec<Arc<Node>>, Vec<Arc<Node>>) = nodes.iter().cloned().partition(|n| on_a(n));
        common::ring_is_correct(&a) && common::ring_is_correct(&b)
    });
    let live = cluster.live();
    let writer_a = live
        .iter()
        .find(|n| on_a(n))
        .expect("a node on side A")
        .clone();
    let writer_b = live
        .iter()
        .find(|n| !on_a(n))
        .expect("a node on side B")
        .clone();
    let only_a = keys("only-a", 40);
    let only_b = keys("only-b", 40);
    let both = keys("both", 20);
    put_all(&writer_a, &only_a);
    put_all(&writer_b, &only_b);
    for key in &both {
        writer_a
            .put(key, format!("{key}-from-a"))
            .expect("a write on side A");
    }
    cluster.round();
    for key in &both {
        writer_b
            .put(key, format!("{key}-from-b"))
            .expect("a later write on side B");
    }

    cluster.net().heal();
    let mut expected: Vec<(String, String)> = Vec::new();
    for key in before.iter().chain(&only_a).chain(&only_b) {
        expected.push((key.clone(), value_of(key)));
    }
    for key in &both {
        expected.push((key.clone(), format!("{key}-from-b")));
    }
    // A round is one stabilization period: 120 rounds are 30 s at the
    // default 250 ms, the bound `make partition` holds real nodes to.
    let merged = cluster.rounds_until("one ring of eight", &|nodes| common::ring_is_correct(nodes));
    assert!(merged <= 120, "one ring only after {merged} rounds");
    let agreed = cluster.rounds_until("every key the same from every node", &|nodes| {
        nodes.iter().all(|n| {
            expected
                .iter()
                .all(|(k, v)| n.get(k).ok() == Some(Some(v.clone().into_bytes())))
        })
    });
    eprintln!("merged in {merged} rounds; keys agreed {agreed} rounds later");
}

/// A partition that drops packets: calls across neither answer nor
/// refuse, they time out. Each side serves every key of its own within a
/// few rounds: a peer that times out is routed around as fast as one that
/// refuses, so the sides become two rings and take over each other's
/// arcs from the replicas they hold.
#[test]
fn both_sides_of_a_silent_partition_serve_within_a_few_rounds() {
    // A short request timeout: a request that fails waits it out on the
    // virtual clock, with no heartbeat, and a long wait would look like a
    // pause of the process.
    let mut config = node_config(160);
    config.request_timeout = Duration::from_millis(5);
    let mut cluster = MemCluster::with_config(config);
    cluster.grow_to(8);
    cluster.settle();
    let side_a = every_other(&cluster);
    let on_a = |n: &Arc<Node>| side_a.contains(&n.me().addr.to_string());
    let probes = keys("probe", 40);
    cluster.net().partition(&side_a);
    let mut rounds = 0;
    loop {
        cluster.round();
        rounds += 1;
        let live = cluster.live();
        let served = [true, false].iter().all(|&a| {
            let writer = live
                .iter()
                .find(|n| on_a(n) == a)
                .expect("a node on each side");
            probes
                .iter()
                .all(|key| writer.put(key, value_of(key)).is_ok())
                && probes.iter().all(|key| writer.get(key).is_ok())
        });
        if served {
            break;
        }
        assert!(
            rounds <= 4,
            "a side still refused keys after {rounds} rounds"
        );
    }
    eprintln!("both sides served every key after {rounds} rounds");
}

/// Every other node of the ring, in ring order: one side of a partition
/// that interleaves the two halves.
fn every_other(cluster: &MemCluster) -> Vec<String> {
    sorted(&cluster.live())
        .iter()
        .step_by(2)
        .map(|n| n.addr.to_string())
        .collect()
}

/// The owner of `key` among `nodes`, and another node to coordinate from.
fn owner_and_other(nodes: &[Arc<Node>], key: &str) -> (Arc<Node>, Arc<Node>) {
    let ring = sorted(nodes);
    let id = nodes[0].config().space.key(key.as_bytes());
    let owner = successor_of(&ring, id).addr.clone();
    let find = |same: bool| {
        nodes
            .iter()
            .find(|n| (n.me().addr == owner) == same)
            .expect("a node")
            .clone()
    };
    (find(true), find(false))
}

/// An update sent to its owner twice under one id, as a coordinator
/// retries one whose answer was lost, is applied once; the second attempt
/// gets the first one's answer. A new id is a new update.
#[test]
fn an_update_asked_twice_under_one_id_is_applied_once() {
    let mut cluster = MemCluster::new(160);
    cluster.grow_to(4);
    cluster.settle();
    let (owner, other) = owner_and_other(&cluster.live(), "counter");
    let incr = |seq: u64| Request::Update {
        key: "counter".into(),
        update: Update::Increment(5),
        id: UpdateId::new(42, seq),
    };
    let first = owner.handle(incr(1));
    assert!(matches!(first, Response::Written { .. }), "{first:?}");
    assert_eq!(owner.handle(incr(1)), first, "the retry's answer");
    assert_eq!(owner.stats().updates_repeated.load(Ordering::Relaxed), 1);
    assert_eq!(other.get("counter").expect("get"), Some(b"5".to_vec()));
    owner.handle(incr(2));
    assert_eq!(other.get("counter").expect("get"), Some(b"10".to_vec()));
    // SET NX that succeeded is not answered "not set" on its retry.
    let set_nx = Request::Update {
        key: "fresh".into(),
        update: Update::Set {
            value: b"v".to_vec(),
            exists: Some(false),
            expiry: Expiry::Clear,
        },
        id: UpdateId::new(42, 3),
    };
    let (owner, _) = owner_and_other(&cluster.live(), "fresh");
    let first = owner.handle(set_nx.clone());
    assert!(matches!(first, Response::Written { .. }), "{first:?}");
    assert_eq!(owner.handle(set_nx), first);
}

/// INCRs through a network that loses a fifth of all messages, requests
/// and answers alike: an answer lost after the owner applied an increment
/// makes the coordinator retry it, and the retry must not count again. The
/// counter ends at the acknowledged increments, plus at most those whose
/// client was told they failed (their outcome is unknown), and no two
/// acknowledged increments saw the same value.
///
/// On the virtual clock a retry's wait is time that passes with no
/// heartbeat (a server's heartbeat thread would tick through it), so the
/// stabilization period is long enough here that no increment's retries
/// look like a pause of the process ([`pause_limit`]), and a round runs
/// after each, with nothing lost.
#[test]
fn increments_retried_through_a_lossy_network_count_once() {
    let mut config = node_config(160);
    config.stabilize_interval = Duration::from_secs(2);
    assert!(pause_limit(config.stabilize_interval) > config.request_timeout + SUSPECT_FOR);
    let mut cluster = MemCluster::with_config(config);
    cluster.grow_to(4);
    cluster.settle();
    let (owner, coordinator) = owner_and_other(&cluster.live(), "counter");
    let (mut acked, mut failed) = (Vec::new(), 0u64);
    for seed in 0..100 {
        cluster.net().set_loss(0.2, seed);
        match coordinator.keys().update(b"counter", &Update::Increment(1)) {
            Ok(Some(entry)) => acked.push(entry.value.expect("a value")),
            Ok(None) => panic!("an increment always writes"),
            Err(_) => failed += 1,
        }
        // The heartbeats tick once a round, and only then.
        cluster.net().set_loss(0.0, seed);
        cluster.round();
    }
    let repeated = owner.stats().updates_repeated.load(Ordering::Relaxed);
    assert!(
        repeated > 0,
        "no answer was lost after the owner applied it"
    );
    let value: u64 = String::from_utf8(coordinator.get("counter").expect("get").expect("set"))
        .expect("text")
        .parse()
        .expect("a number");
    let count = acked.len() as u64;
    assert!(
        (count..=count + failed).contains(&value),
        "{count} acknowledged and {failed} failed increments ended at {value} \
         ({repeated} retries answered from the record)"
    );
    let mut seen = acked.clone();
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), acked.len(), "two increments saw one value");
}

/// The value of a `Written` answer, as text.
fn written_value(answer: &Response) -> String {
    match answer {
        Response::Written { entry, .. } => {
            String::from_utf8(entry.value.clone().expect("a value")).expect("text")
        }
        other => panic!("not a write's answer: {other:?}"),
    }
}

/// An owner applies an update and dies before its answer gets back, after
/// repair has copied what it wrote. The retry reaches the next owner,
/// which holds that entry with the update's id: it answers the retry as
/// the first owner would have, and does not apply it again.
#[test]
fn an_update_retried_at_the_next_owner_after_a_failure_is_applied_once() {
    let mut cluster = MemCluster::new(160);
    cluster.grow_to(4);
    cluster.settle();
    let (owner, _) = owner_and_other(&cluster.live(), "counter");
    let incr = Request::Update {
        key: "counter".into(),
        update: Update::Increment(5),
        id: UpdateId::new(42, 1),
    };
    let first = owner.handle(incr.clone());
    assert_eq!(written_value(&first), "5");
    let counter = vec!["counter".to_string()];
    cluster.settle_until("the counter copied to its holders", &|nodes| {
        common::keys_are_at_their_holders(nodes, &counter)
    });
    let dead = owner.me().addr.clone();
    drop(owner);
    cluster.kill(&dead);
    cluster.settle();
    let (next, other) = owner_and_other(&cluster.live(), "counter");
    assert_ne!(next.me().addr, dead);
    let retry = next.handle(incr);
    assert_eq!(written_value(&retry), "5", "the retry's answer");
    assert_eq!(next.stats().updates_repeated.load(Ordering::Relaxed), 1);
    assert_eq!(other.get("counter").expect("get"), Some(b"5".to_vec()));
}
