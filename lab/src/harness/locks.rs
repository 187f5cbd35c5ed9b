//! How long the store lock is held on a node with many keys: every request
//! and every round of maintenance must do a bounded amount of work under
//! it, so that no peer (honest or not) can stall a node's reads.
//!
//! Three nodes on the in-memory network, R = 3, so each holds every key;
//! filled with `keys` keys; then each kind of work is done and the longest
//! hold of the store lock during it read from the node's
//! `longest_store_lock_us` counter (see [`chord::stats::Timed`]).
//!
//! Then a fourth node, with a data directory, is filled alike and
//! compacted ([`compaction`]): the longest hold while its snapshot is
//! read, the directory's size beside the data it holds, and how long a
//! node takes to load it again.

use std::sync::atomic::Ordering;
use std::time::Instant;

use chord::clock::now_micros;
use chord::id::{IdSpace, NodeRef};
use chord::message::{Request, MAX_BUCKETS, MAX_ITEMS};
use chord::node::NodeConfig;
use chord::store::{Bucket, Entry, Item, Point, Version};
use chord::transport::Handler;

/// The longest hold of the store lock during one kind of work.
#[derive(Clone, Debug)]
pub struct Hold {
    /// The work.
    pub work: &'static str,
    /// The longest hold, microseconds.
    pub longest_us: u64,
}

/// Key `i` of a fill: a 100-byte value, stamped `now`.
fn item(i: usize, now: u64) -> Item {
    Item {
        key: format!("key-{i:08}").into_bytes().into(),
        entry: Entry {
            value: Some(format!("{i:0>100}").into_bytes()),
            version: Version {
                stamp: now,
                writer: 1,
            },
            expires: None,
            update: None,
        },
    }
}

/// Fills a three-node ring with `keys` keys of 100-byte values and measures
/// the longest store-lock hold of each kind of work; also how long the
/// fill took, in seconds.
pub fn measure(keys: usize) -> (Vec<Hold>, f64) {
    let space = IdSpace::new(160).unwrap_or_else(|_| unreachable!("160 bits is valid"));
    let nodes = super::memory_ring(["locks-a", "locks-b", "locks-c"], &NodeConfig::new(space));
    let started = Instant::now();
    let now = now_micros();
    let item = |i: usize| item(i, now);
    for start in (0..keys).step_by(MAX_ITEMS) {
        let items: Vec<Item> = (start..(start + MAX_ITEMS).min(keys)).map(item).collect();
        for node in &nodes {
            node.handle(Request::Replicate {
                items: items.clone().into(),
            });
        }
    }
    let filled = started.elapsed().as_secs_f64();
    let target = &nodes[0];
    let me = target.me().id;
    let other = NodeRef::new(space, "locks-b").id;
    let mut holds = Vec::new();
    let mut measure = |work: &'static str, run: &mut dyn FnMut()| {
        for node in &nodes {
            node.stats()
                .longest_store_lock_us
                .store(0, Ordering::Relaxed);
        }
        run();
        let longest = nodes
            .iter()
            .map(|n| n.stats().longest_store_lock_us.load(Ordering::Relaxed))
            .max()
            .unwrap_or(0);
        holds.push(Hold {
            work,
            longest_us: longest,
        });
    };
    measure(
        "maintenance rounds (stabilize, fingers, repair)",
        &mut || {
            for _ in 0..20 {
                for node in &nodes {
                    let _ = node.stabilize();
                    node.fix_fingers();
                    node.check_predecessor();
                    node.repair();
                }
            }
        },
    );
    measure("TakeKeys of the whole ring, 20 chunks", &mut || {
        let mut after = None;
        for _ in 0..20 {
            let answer = target.handle(Request::TakeKeys {
                from: me,
                to: me,
                after: after.take(),
                max_bytes: u32::MAX,
            });
            match answer {
                chord::message::Response::Keys { more, .. } => after = more,
                _ => break,
            }
        }
    });
    measure(
        "Digest: one whole-ring bucket, then 64 wide ones",
        &mut || {
            // One bucket may cover the circle...
            target.handle(Request::Digest {
                from: Point::after(other),
                buckets: vec![Bucket {
                    end: Point::after(other),
                    digest: 1,
                }],
                flushed: 0,
            });
            // ...or 64 may, each a 64th of it.
            let mut ends = Vec::with_capacity(MAX_BUCKETS);
            let mut at = other;
            let step = space.bits() - 6;
            for _ in 0..MAX_BUCKETS {
                at = at.add_pow2(step);
                ends.push(Bucket {
                    end: Point::after(at),
                    digest: 1,
                });
            }
            target.handle(Request::Digest {
                from: Point::after(other),
                buckets: ends,
                flushed: 0,
            });
        },
    );
    measure("Reconcile of the whole ring with 4,096 items", &mut || {
        let items: Vec<Item> = (0..MAX_ITEMS).map(|i| item(i * 7)).collect();
        target.handle(Request::Reconcile {
            from: Point::after(me),
            to: Point::after(me),
            items,
        });
    });
    measure("Replicate of 4,096 items", &mut || {
        let items: Vec<Item> = (0..MAX_ITEMS).map(|i| item(keys + i)).collect();
        target.handle(Request::Replicate {
            items: items.into(),
        });
    });
    // A GET's hold is not timed (see `Dhash::store_for_one_key`): these
    // are the PUTs' holds.
    measure("1,000 client GETs and PUTs", &mut || {
        for i in 0..500 {
            let _ = target.get(format!("key-{:08}", i * 13));
            let _ = target.put(format!("key-{:08}", i * 17), "changed");
        }
    });
    (holds, filled)
}

/// What compacting a data directory of many keys measured.
#[derive(Clone, Debug)]
pub struct Compaction {
    /// The longest hold of the store lock while the snapshot was read.
    pub longest_us: u64,
    /// How long the compaction took, in seconds.
    pub seconds: f64,
    /// The bytes of keys and values held, as the store counts them.
    pub live_bytes: u64,
    /// The directory's size before and after compacting.
    pub disk_before: u64,
    /// After.
    pub disk_after: u64,
    /// How long a node took to load the directory again, in seconds.
    pub load_seconds: f64,
}

/// A node with a data directory (under the system's temporary one),
/// filled with `keys` keys of 100-byte values and compacted; then opened
/// again by a new node.
///
/// # Errors
/// When the directory cannot be made, written or loaded.
pub fn compaction(keys: usize) -> Result<Compaction, String> {
    use chord::disk::DataDir;
    use chord::transport::MemoryNetwork;
    let space = IdSpace::new(160).unwrap_or_else(|_| unreachable!("160 bits is valid"));
    let dir = std::env::temp_dir().join(format!("chord-locks-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut config = NodeConfig::new(space);
    let mut data = DataDir::new(&dir);
    data.compact_at = 1;
    config.data = Some(data);
    let size = |dir: &std::path::Path| -> u64 {
        std::fs::read_dir(dir)
            .map(|entries| {
                entries
                    .filter_map(|e| e.ok()?.metadata().ok())
                    .map(|m| m.len())
                    .sum()
            })
            .unwrap_or(0)
    };
    let result = (|| {
        let net = MemoryNetwork::new();
        let node =
            chord::Node::new("locks-d", config.clone(), net.clone()).map_err(|e| e.to_string())?;
        node.create();
        let now = now_micros();
        for start in (0..keys).step_by(MAX_ITEMS) {
            let items: Vec<Item> = (start..(start + MAX_ITEMS).min(keys))
                .map(|i| item(i, now))
                .collect();
            node.handle(Request::Replicate {
                items: items.into(),
            });
        }
        let live_bytes = node.store_usage().bytes as u64;
        let disk_before = size(&dir);
        node.stats()
            .longest_store_lock_us
            .store(0, Ordering::Relaxed);
        let started = Instant::now();
        node.keys().compact_if_due();
        let seconds = started.elapsed().as_secs_f64();
        let longest_us = node.stats().longest_store_lock_us.load(Ordering::Relaxed);
        let compacted = node.keys().disk().map_or(0, |d| d.status().compactions);
        if compacted != 1 {
            return Err(format!("expected one compaction, saw {compacted}"));
        }
        let disk_after = size(&dir);
        drop(node);
        let started = Instant::now();
        let again = chord::Node::new("locks-d", config.clone(), net).map_err(|e| e.to_string())?;
        let load_seconds = started.elapsed().as_secs_f64();
        if again.store_usage().keys != keys {
            return Err(format!(
                "loaded {} keys of {keys}",
                again.store_usage().keys
            ));
        }
        Ok(Compaction {
            longest_us,
            seconds,
            live_bytes,
            disk_before,
            disk_after,
            load_seconds,
        })
    })();
    let _ = std::fs::remove_dir_all(&dir);
    result
}
