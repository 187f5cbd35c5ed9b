//! Durable nodes ([`chord::disk`]): a node started again with its data
//! directory has its keys back, takes what it missed from the ring, shares
//! its directory with no other node, and refuses writes, but serves reads,
//! when its disk is full.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use chord::disk::{DataDir, Fsync};
use chord::{Server, ServerConfig};
use common::{cluster_secret, node_config, Scratch};

/// A server at `listen` (port 0: any) keeping its keys in `dir`, joining
/// `join` if given.
fn start(listen: &str, dir: &Path, join: Option<String>) -> chord::Result<Server> {
    let mut config = ServerConfig::new(listen, node_config(160));
    config.workers = 16;
    config.secret = Some(cluster_secret());
    config.join = join;
    let mut data = DataDir::new(dir);
    data.fsync = Fsync::Always;
    config.node.data = Some(data);
    Server::start(config)
}

fn wait_until(what: &str, done: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done() {
        assert!(Instant::now() < deadline, "not within 30 s: {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn a_node_started_again_with_its_directory_has_every_key_back() {
    let dir = Scratch::new("alone");
    let server = start("127.0.0.1:0", &dir.0, None).expect("starts");
    let addr = server.addr();
    let node = server.node().clone();
    for i in 0..1_000 {
        node.put(format!("k{i}"), format!("v{i}")).expect("a write");
    }
    for i in 0..100 {
        assert!(node.delete(format!("k{i}")).expect("a delete"));
    }
    let held = node.store_usage();
    drop(node);
    server.kill();

    let server = start(&addr, &dir.0, None).expect("starts again");
    let node = server.node().clone();
    let disk = node.keys().disk().expect("a data directory").status();
    assert_eq!(disk.loaded, held.entries as u64, "tombstones too");
    for i in 0..1_000 {
        let expected = (i >= 100).then(|| format!("v{i}").into_bytes());
        assert_eq!(node.get(format!("k{i}")).expect("a read"), expected, "k{i}");
    }
}

/// Reference: the module docs of `chord::disk`, "Recovery", step 6.
#[test]
fn a_node_restarted_at_its_place_keeps_its_keys_and_takes_the_newer_versions_of_its_successors() {
    let dirs: Vec<Scratch> = (0..3).map(|i| Scratch::new(&format!("ring{i}"))).collect();
    let first = start("127.0.0.1:0", &dirs[0].0, None).expect("starts");
    let mut servers = vec![first];
    for dir in &dirs[1..] {
        let join = Some(servers[0].addr());
        servers.push(start("127.0.0.1:0", &dir.0, join).expect("joins"));
    }
    let nodes: Vec<_> = servers.iter().map(|s| s.node().clone()).collect();
    wait_until("a ring of three", || {
        nodes.iter().all(|n| n.view().successors.len() >= 2)
    });
    let keys: Vec<String> = (0..200).map(|i| format!("key{i}")).collect();
    for key in &keys {
        nodes[0].put(key, "old").expect("a write");
    }
    // R = 3 on three nodes: every node holds every key.
    wait_until("every key at every node", || {
        nodes.iter().all(|n| n.store_usage().keys == keys.len())
    });
    let restarted = servers.remove(2);
    let addr = restarted.addr();
    drop(nodes);
    restarted.kill();
    for key in &keys[..100] {
        servers[0]
            .node()
            .put(key, "new")
            .expect("a write with one node down");
    }
    let again = start(&addr, &dirs[2].0, Some(servers[0].addr())).expect("restarts");
    let node = again.node().clone();
    let loaded = node.keys().disk().expect("a directory").status().loaded;
    assert_eq!(loaded, keys.len() as u64, "its own copies, from its log");
    wait_until("the restarted node holds every newer version", || {
        keys.iter().enumerate().all(|(i, key)| {
            let want: &[u8] = if i < 100 { b"new" } else { b"old" };
            node.keys()
                .held_entry(key.as_bytes())
                .and_then(|e| e.value)
                .as_deref()
                == Some(want)
        })
    });
    for (i, key) in keys.iter().enumerate() {
        let want = if i < 100 { "new" } else { "old" };
        assert_eq!(
            node.get(key).expect("a read"),
            Some(want.as_bytes().to_vec())
        );
    }
}

#[test]
fn two_nodes_never_share_a_directory() {
    let dir = Scratch::new("shared");
    let _first = start("127.0.0.1:0", &dir.0, None).expect("starts");
    let second = start("127.0.0.1:0", &dir.0, None);
    let message = second.err().map(|e| e.to_string()).unwrap_or_default();
    assert!(message.contains("in use by another node"), "{message}");
}

/// A 1 MiB tmpfs of its own, unmounted (then removed) when dropped: a
/// disk that fills. Mounting needs root; without it, `None`, and the test
/// says it did not run.
struct SmallDisk(Scratch);

impl SmallDisk {
    fn new(name: &str) -> Option<SmallDisk> {
        let dir = Scratch::new(name);
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=1m", "tmpfs"])
            .arg(&dir.0)
            .status()
            .is_ok_and(|s| s.success());
        if !mounted {
            eprintln!("not run: mounting a small tmpfs needs root");
        }
        mounted.then_some(SmallDisk(dir))
    }

    fn path(&self) -> &Path {
        &self.0 .0
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.path()).status();
    }
}

/// A full disk refuses writes with an error that says so, loses nothing
/// acknowledged, and the node keeps serving reads; once there is room, it
/// takes writes again. It needs a small filesystem of its own, so it runs
/// as root (as CI does) and says so otherwise.
#[test]
fn a_full_disk_refuses_writes_clearly_and_keeps_serving_reads() {
    let Some(disk) = SmallDisk::new("full") else {
        return;
    };
    let server = start("127.0.0.1:0", disk.path(), None).expect("starts");
    let addr = server.addr();
    let node = server.node().clone();
    let value = vec![b'x'; 16 * 1024];
    let mut acknowledged = Vec::new();
    let refusal = loop {
        let key = format!("k{}", acknowledged.len());
        match node.put(&key, &value) {
            Ok(()) => acknowledged.push(key),
            Err(e) => break e.to_string(),
        }
        assert!(acknowledged.len() < 1_000, "1 MiB took 16 MiB of writes");
    };
    assert!(
        refusal.contains("cannot write the log") && refusal.contains("No space left"),
        "{refusal}"
    );
    // Refused at once now, and reads go on.
    let again = node.put("another", "small").expect_err("still full");
    assert!(again.to_string().contains("refusing writes"), "{again}");
    for key in &acknowledged {
        assert_eq!(node.get(key).expect("a read").as_deref(), Some(&value[..]));
    }
    // Room again: the sync thread writes what waited, and writes resume.
    let grown = Command::new("mount")
        .args(["-o", "remount,size=8m"])
        .arg(disk.path())
        .status();
    assert!(grown.is_ok_and(|s| s.success()), "remounting larger");
    wait_until("writes taken again", || node.put("after", "room").is_ok());
    drop(node);
    server.kill();
    let server = start(&addr, disk.path(), None).expect("starts again");
    for key in &acknowledged {
        assert_eq!(
            server.node().get(key).expect("a read").as_deref(),
            Some(&value[..]),
            "{key}"
        );
    }
    assert_eq!(
        server.node().get("after").expect("a read"),
        Some(b"room".to_vec())
    );
    drop(server);
}

/// Compaction runs while clients write: the snapshot is read a chunk at a
/// time as the store changes under it, and the log of its generation
/// holds every change made meanwhile. A node started again from what that
/// leaves has every key at the last value acknowledged for it.
#[test]
fn compactions_during_writes_lose_no_acknowledged_value() {
    let dir = Scratch::new("compacting");
    let mut config = ServerConfig::new("127.0.0.1:0", node_config(160));
    config.workers = 16;
    let mut data = DataDir::new(&dir.0);
    data.compact_at = 64 * 1024;
    config.node.data = Some(data.clone());
    let server = Server::start(config).expect("starts");
    let addr = server.addr();
    let node = server.node().clone();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    // Each writer overwrites its 300 keys round after round until two
    // compactions have run.
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let (node, stop) = (node.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut last = std::collections::HashMap::new();
                let mut round = 0;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    for i in 0..300 {
                        let key = format!("w{w}-{i}");
                        let value = format!("{round}-{}", "x".repeat(64));
                        node.put(&key, &value).expect("a write");
                        last.insert(key, value);
                    }
                    round += 1;
                }
                last
            })
        })
        .collect();
    let disk = || node.keys().disk().expect("a directory").status();
    wait_until("two compactions during the writes", || {
        disk().compactions >= 2
    });
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let last: Vec<(String, String)> = writers
        .into_iter()
        .flat_map(|w| w.join().expect("a writer"))
        .collect();
    assert_eq!(last.len(), 1_200);
    drop(node);
    server.kill();

    let mut config = ServerConfig::new(&addr, node_config(160));
    config.workers = 16;
    config.node.data = Some(data);
    let server = Server::start(config).expect("starts again");
    for (key, value) in &last {
        assert_eq!(
            server.node().get(key).expect("a read").as_deref(),
            Some(value.as_bytes()),
            "{key}"
        );
    }
}

/// In a ring, a node whose disk is full refuses what it cannot log, as
/// owner or as replica, and the writer hears why at once: not after the
/// request timeout, even when the refused calls travelled in one batch.
/// Every write acknowledged before is still read. Root only, as the test
/// above.
#[test]
fn a_full_disk_in_a_ring_fails_writes_at_once_and_loses_none_acknowledged() {
    let Some(disk) = SmallDisk::new("ring-full") else {
        return;
    };
    let roomy: Vec<Scratch> = (0..2)
        .map(|i| Scratch::new(&format!("ring-roomy{i}")))
        .collect();
    let first = start("127.0.0.1:0", &roomy[0].0, None).expect("starts");
    let second = start("127.0.0.1:0", &roomy[1].0, Some(first.addr())).expect("joins");
    let third = start("127.0.0.1:0", disk.path(), Some(first.addr())).expect("joins");
    let node = first.node().clone();
    wait_until("a ring of three", || {
        [&first, &second, &third]
            .iter()
            .all(|s| s.node().view().successors.len() >= 2)
    });
    // Four writers at once, so that calls to one peer share messages.
    let value = vec![b'v'; 16 * 1024];
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let (node, value) = (node.clone(), value.clone());
            std::thread::spawn(move || {
                let mut acknowledged = Vec::new();
                for i in 0..200 {
                    let key = format!("w{w}-{i}");
                    let started = Instant::now();
                    match node.put(&key, &value) {
                        Ok(()) => acknowledged.push(key),
                        Err(e) => return (acknowledged, Some((e.to_string(), started.elapsed()))),
                    }
                }
                (acknowledged, None)
            })
        })
        .collect();
    for writer in writers {
        let (acknowledged, refusal) = writer.join().expect("a writer");
        let (why, took) = refusal.expect("1 MiB cannot hold 200 writes of 16 KiB");
        assert!(
            took < Duration::from_secs(3),
            "refused after {took:?}: {why}"
        );
        assert!(
            why.contains("cannot write the log") || why.contains("refusing writes"),
            "{why}"
        );
        for key in &acknowledged {
            assert_eq!(
                node.get(key).expect("a read").as_deref(),
                Some(&value[..]),
                "{key}"
            );
        }
    }
    drop(node);
    drop((first, second, third));
}
