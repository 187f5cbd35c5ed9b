//! Redis Cluster clients on a chord ring: a node answers `CLUSTER SLOTS`,
//! `NODES`, `INFO`, `MYID` and `KEYSLOT` from the ring it walks, so a
//! cluster client (here redis-rs's) sends each key to the node serving its
//! slot, and that node answers without a lookup.

mod common;

use std::collections::BTreeSet;

use common::{Resp, TcpCluster};
use redis::Commands;

/// Each node's count of a command kind and its peer calls in all, from
/// `CHORD STATS` (which gives calls and peer calls per call).
fn command_cost(addrs: &[String], command: &str) -> (f64, f64) {
    let mut calls = 0.0;
    let mut peer_calls = 0.0;
    for addr in addrs {
        let stats = Resp::connect(addr).call(&[b"CHORD", b"STATS"]);
        let field = |name: &str| -> f64 {
            let prefix = format!("command_{command}_{name}=");
            stats
                .split('"')
                .find_map(|f| f.strip_prefix(&prefix)?.parse().ok())
                .unwrap_or(0.0)
        };
        calls += field("calls");
        peer_calls += field("calls") * field("peer_calls");
    }
    (calls, peer_calls)
}

#[test]
fn a_redis_cluster_client_sends_each_key_to_its_owner_without_a_lookup() {
    let cluster = TcpCluster::settled(4);
    let addrs = cluster.addrs();
    let client = redis::cluster::ClusterClient::new(vec![format!("redis://{}", addrs[0])]).unwrap();
    let mut con = client.get_connection().expect("a cluster connection");
    for i in 0..200 {
        let () = con.set(format!("slot-key-{i}"), i).unwrap();
    }
    for i in 0..200 {
        let got: i64 = con.get(format!("slot-key-{i}")).unwrap();
        assert_eq!(got, i);
    }
    // Keys that share a hash tag share a slot, so a multi-key command
    // goes to one node, as in Redis Cluster.
    let () = redis::cmd("MSET")
        .arg("{user:7}:name")
        .arg("ada")
        .arg("{user:7}:mail")
        .arg("ada@example.org")
        .query(&mut con)
        .unwrap();
    let both: Vec<String> = con.mget(&["{user:7}:name", "{user:7}:mail"]).unwrap();
    assert_eq!(both, ["ada", "ada@example.org"]);
    // A SET costs its R - 1 = 2 copies and nothing more; a GET nothing.
    // A lookup is allowed now and then: a node answers alone only while
    // its predecessor's notice of the last rounds vouches for its arc, and
    // a test machine can delay a round.
    let (sets, set_calls) = command_cost(&addrs, "set");
    let (gets, get_calls) = command_cost(&addrs, "get");
    assert_eq!((sets, gets), (200.0, 200.0));
    let per_set = set_calls / sets;
    let per_get = get_calls / gets;
    assert!(
        (1.99..=2.1).contains(&per_set),
        "a SET made {per_set} peer calls"
    );
    assert!(per_get <= 0.1, "a GET made {per_get} peer calls");
}

#[test]
fn the_slot_map_gives_every_slot_to_one_node_of_the_ring() {
    let cluster = TcpCluster::settled(5);
    let addrs = cluster.addrs();
    let mut con = redis::Client::open(format!("redis://{}", addrs[2]))
        .unwrap()
        .get_connection()
        .unwrap();
    type Run = (u16, u16, (String, u16, String));
    let runs: Vec<Run> = redis::cmd("CLUSTER").arg("SLOTS").query(&mut con).unwrap();
    let mut next = 0u32;
    let mut serving = BTreeSet::new();
    for (first, last, (host, port, name)) in &runs {
        assert_eq!(u32::from(*first), next, "{runs:?}");
        assert!(last >= first);
        next = u32::from(*last) + 1;
        assert_eq!(name.len(), 40);
        serving.insert(format!("{host}:{port}"));
    }
    assert_eq!(next, 16384);
    let ring: BTreeSet<String> = addrs.iter().cloned().collect();
    assert_eq!(serving, ring, "each node serves some slots");

    // CLUSTER NODES: one line per node, this one marked myself.
    let nodes: String = redis::cmd("CLUSTER").arg("NODES").query(&mut con).unwrap();
    assert_eq!(nodes.lines().count(), 5, "{nodes}");
    let me = nodes.lines().find(|l| l.contains("myself")).unwrap();
    assert!(me.contains(&format!(" {}@", addrs[2])), "{me}");
    let myid: String = redis::cmd("CLUSTER").arg("MYID").query(&mut con).unwrap();
    assert!(me.starts_with(&myid), "{me} is not {myid}");

    let info: String = redis::cmd("CLUSTER").arg("INFO").query(&mut con).unwrap();
    assert!(info.contains("cluster_state:ok"), "{info}");
    assert!(info.contains("cluster_known_nodes:5"), "{info}");
    let slot: u16 = redis::cmd("CLUSTER")
        .arg("KEYSLOT")
        .arg("foo")
        .query(&mut con)
        .unwrap();
    assert_eq!(slot, 12182, "Redis Cluster's slot of foo");
    let ok: String = redis::cmd("READONLY").query(&mut con).unwrap();
    assert_eq!(ok, "OK");
    let refused = redis::cmd("CLUSTER")
        .arg("ADDSLOTS")
        .arg("1")
        .query::<String>(&mut con)
        .unwrap_err();
    assert!(
        refused.to_string().contains("unknown subcommand"),
        "{refused}"
    );
}
