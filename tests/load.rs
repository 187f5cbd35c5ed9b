//! A busy machine is not a paused process: with CPU burners at the highest
//! priority starving the nodes' threads for seconds, every node still
//! answers every GET and SET, and none declares itself paused. A test
//! binary of its own, so that its burners slow no other test.

mod common;

use std::process::{Child, Command, Stdio};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use common::{Cluster, TcpCluster};
use redis::Commands;

/// Busy-loop processes, stopped (by their pids) when dropped.
struct Burners(Vec<Child>);

impl Burners {
    /// `count` shell loops at nice -20 (the highest priority; as root), or
    /// at the default priority where that is not allowed.
    fn start(count: usize) -> Burners {
        let spawn = |nice: &str| {
            Command::new("nice")
                .args(["-n", nice, "sh", "-c", "while :; do :; done"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("a burner")
        };
        let probe = Command::new("nice")
            .args(["-n", "-20", "true"])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        let nice = if probe { "-20" } else { "0" };
        Burners((0..count).map(|_| spawn(nice)).collect())
    }
}

impl Drop for Burners {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

#[test]
fn a_node_starved_of_cpu_serves_every_request_and_sees_no_pause() {
    let cluster = TcpCluster::settled(3);
    let addrs = cluster.addrs();
    let mut clients: Vec<redis::Connection> = addrs
        .iter()
        .map(|addr| {
            redis::Client::open(format!("redis://{addr}/"))
                .expect("a client")
                .get_connection()
                .expect("a connection")
        })
        .collect();
    let burners = Burners::start(8);
    let start = Instant::now();
    let (mut answered, mut failed) = (0, Vec::new());
    let mut i = 0;
    while start.elapsed() < Duration::from_secs(8) {
        let client = &mut clients[i % addrs.len()];
        let key = format!("load-{}", i % 50);
        let set: redis::RedisResult<()> = client.set(&key, i);
        let get: redis::RedisResult<Option<String>> = client.get(&key);
        for result in [set.map(|_| ()), get.map(|_| ())] {
            match result {
                Ok(()) => answered += 1,
                Err(e) => failed.push(e.to_string()),
            }
        }
        i += 1;
    }
    drop(burners);
    let pauses: u64 = cluster
        .live()
        .iter()
        .map(|n| n.stats().pauses.load(Ordering::Relaxed))
        .sum();
    assert!(answered > 0, "no request was answered");
    assert!(
        failed.is_empty(),
        "{} of {} requests failed under load, first: {}",
        failed.len(),
        answered + failed.len(),
        failed[0]
    );
    assert_eq!(pauses, 0, "a node took load for a pause");
}
