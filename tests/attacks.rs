//! The attacks a stranger or a member can make, made on rings in
//! this process (`make attack` makes the same ones on a `make ring`):
//!
//! - a ring with a cluster secret, attacked by a stranger: nothing gets
//!   past the handshake, and nothing changes;
//! - an open ring (no secret): the malformed frames get in, and the checks
//!   of `chord::message` must refuse each;
//! - a member sending malformed frames: refused the same way;
//! - a node at its memory bound: refuses writes, keeps serving reads.
//!
//! Each attack's outcome says whether the ring withstood it; the canaries,
//! written before and read after, say whether any acknowledged key changed.

mod common;

use chord::id::IdSpace;
use chord_lab::harness::attack::{self, Outcome, Target};
use common::{cluster_secret, Cluster, TcpCluster};

fn ring(mut cluster: TcpCluster, n: usize) -> TcpCluster {
    cluster.grow_to(n);
    cluster.settle();
    attack::plant_canaries(&cluster.addrs()).expect("canaries written");
    cluster
}

fn target(cluster: &TcpCluster, secret: Option<chord::auth::Secret>) -> Target {
    Target {
        addrs: cluster.addrs(),
        space: IdSpace::new(160).unwrap(),
        secret,
        stalls: 500,
    }
}

fn assert_withstood(outcomes: &[Outcome]) {
    for o in outcomes {
        assert!(o.withstood, "{}: {}", o.name, o.detail);
    }
}

#[test]
fn a_stranger_gets_nothing_past_the_handshake_of_a_closed_ring() {
    let cluster = ring(TcpCluster::new(160), 4);
    let t = target(&cluster, None);
    let outcomes = attack::run_all(&t);
    assert_withstood(&outcomes);
    for o in &outcomes {
        assert_eq!(o.past_handshake, 0, "{}: {}", o.name, o.detail);
    }
    assert_eq!(attack::canaries_changed(&t.addrs), 0);
    // Every refusal was counted where it happened.
    let stats = chord::client::Client::connect(&t.addrs[0], std::time::Duration::from_secs(5))
        .and_then(|mut c| c.request("STATS"))
        .unwrap();
    let refused: u64 = stats
        .iter()
        .find_map(|l| l.strip_prefix("handshakes_refused="))
        .and_then(|n| n.parse().ok())
        .unwrap();
    assert!(refused >= 500, "{stats:?}");
}

#[test]
fn malformed_frames_are_refused_by_an_open_ring() {
    let cluster = ring(TcpCluster::open(160), 4);
    let t = target(&cluster, None);
    let outcomes = [
        attack::crash_frame(&t),
        attack::future_version(&t),
        attack::fake_peer(&t),
        attack::wide_digest(&t),
        attack::stall_flood(&t),
        attack::trickle(&t),
    ];
    assert_withstood(&outcomes);
    // They did get in: it is the checks that refused them.
    assert!(outcomes[0].past_handshake == 4, "{:?}", outcomes[0]);
    assert!(
        outcomes[0].detail.contains("malformed frame"),
        "{:?}",
        outcomes[0]
    );
    assert_eq!(attack::canaries_changed(&t.addrs), 0);
}

#[test]
fn a_member_sending_malformed_frames_is_refused_too() {
    let cluster = ring(TcpCluster::new(160), 3);
    let t = target(&cluster, Some(cluster_secret()));
    let outcomes = [
        attack::crash_frame(&t),
        attack::future_version(&t),
        attack::fake_peer(&t),
        attack::wide_digest(&t),
    ];
    assert_withstood(&outcomes);
    assert!(outcomes.iter().all(|o| o.past_handshake > 0));
    assert_eq!(attack::canaries_changed(&t.addrs), 0);
}

#[test]
fn a_full_ring_refuses_writes_and_keeps_serving_reads() {
    let mut cluster = TcpCluster::new(160);
    cluster.set_max_memory(2 << 20);
    cluster.grow_to(3);
    cluster.settle();
    let addr = cluster.addrs()[1].clone();
    let (acknowledged, refusal, failed) = attack::fill(&addr, 64 * 1024, 1000, 1).unwrap();
    // 2 MiB holds about 31 values of 64 KiB; with R = 3 on three nodes,
    // every node holds every key, so the bound is reached at about that.
    assert!(
        (20..=32).contains(&acknowledged),
        "{acknowledged} writes fit"
    );
    assert!(refusal.starts_with("ERR out of memory: "), "{refusal}");
    assert_eq!(failed, 0, "rewrites of the same size, and reads, all work");
    // Deletes still work, and make room again.
    let mut client =
        chord::client::Client::connect(&addr, std::time::Duration::from_secs(5)).unwrap();
    for i in 0..4 {
        assert_eq!(client.line(&format!("DEL fill-{i}")).unwrap(), "OK");
    }
    let value = "v".repeat(64 * 1024);
    assert_eq!(client.line(&format!("PUT again {value}")).unwrap(), "OK");
    for server in cluster.servers() {
        let view = server.node().view();
        assert!(view.keys <= 32, "{} holds {} keys", view.me.addr, view.keys);
    }
}
