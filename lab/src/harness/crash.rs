//! The whole ring crashing at once (`chord-lab crash`, `make crash`): node
//! processes with data directories, written to by several clients, all
//! killed with SIGKILL within a few milliseconds, then all started again
//! on their ports; every write acknowledged before the crash is read back.
//!
//! SIGKILL stops the processes, not the machine: what a node wrote to its
//! log is in the kernel's page cache and reaches the disk whatever the
//! `--fsync` policy, so every policy should lose nothing here. What a
//! machine that stops (a power cut) would lose is what the nodes had
//! written but not synced at the crash; the harness asks each node for it
//! just before the kill (`STATS`: `disk_unsynced_bytes` and
//! `disk_longest_unsynced_ms`, the longest any write waited for its sync)
//! and reports it beside the count of writes lost.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use super::nodes::{ask, sum_stats, Nodes};
use chord::client::Client;

/// What a crash run is asked to do.
pub struct CrashSettings {
    /// The `chord` binary the node processes run.
    pub exe: PathBuf,
    /// Nodes in the ring.
    pub nodes: usize,
    /// R, the nodes that hold each key.
    pub replicas: usize,
    /// The `--fsync` policies to crash under, each `runs` times.
    pub policies: Vec<String>,
    /// Crashes per policy.
    pub runs: usize,
    /// Clients writing at once.
    pub writers: usize,
    /// How long they write before the crash.
    pub writing: Duration,
    /// The nodes' stabilization period, in milliseconds.
    pub stabilize_ms: u64,
    /// Where node logs (and, under `data`, the data directories) go.
    pub logs: String,
}

/// One crash, measured.
struct Crash {
    acknowledged: usize,
    lost: Vec<(String, Duration)>,
    /// From the first SIGKILL to the last.
    spread: Duration,
    /// Written and not synced at the crash, all nodes together.
    unsynced_bytes: u64,
    /// The longest any write had waited for its sync, at any node.
    longest_unsynced_ms: u64,
    /// From the restart to a ring of every node.
    rejoined: Duration,
    /// From the restart to the last acknowledged write read back.
    read_back: Duration,
}

/// `chord-lab crash`: see the module docs. Whether no acknowledged write
/// was lost.
pub fn crash(settings: &CrashSettings) -> Result<bool, String> {
    println!(
        "crash: {} nodes (R = {}), {} writers for {:?}, then every node killed with SIGKILL \
         and started again; {} runs per policy",
        settings.nodes, settings.replicas, settings.writers, settings.writing, settings.runs
    );
    let mut all_kept = true;
    for policy in &settings.policies {
        let mut lost_total = 0;
        for run in 1..=settings.runs {
            let crash = crash_once(settings, policy, run)?;
            let window = crash.lost.iter().map(|(_, age)| *age).max();
            let wait = match policy.as_str() {
                // The node never syncs: the kernel writes dirty pages
                // back once they are this old.
                "no" => format!(
                    "the kernel's to write back (dirty pages expire after {})",
                    std::fs::read_to_string("/proc/sys/vm/dirty_expire_centisecs")
                        .ok()
                        .and_then(|c| c.trim().parse::<u64>().ok())
                        .map_or("an unknown time".into(), |c| format!("{} s", c / 100))
                ),
                _ => format!("longest wait for a sync {} ms", crash.longest_unsynced_ms),
            };
            println!(
                "--fsync {policy} run {run}: acknowledged={} lost={}{} | killed within {:.1} ms; \
                 unsynced at the crash: {} bytes, {wait} | ring whole {:.2} s \
                 after the restart, every write read back at {:.2} s",
                crash.acknowledged,
                crash.lost.len(),
                window.map_or(String::new(), |w| format!(
                    " (acknowledged at most {} ms before the crash)",
                    w.as_millis()
                )),
                crash.spread.as_secs_f64() * 1000.0,
                crash.unsynced_bytes,
                crash.rejoined.as_secs_f64(),
                crash.read_back.as_secs_f64(),
            );
            for (key, age) in crash.lost.iter().take(3) {
                println!(
                    "  lost: {key}, acknowledged {} ms before the crash",
                    age.as_millis()
                );
            }
            lost_total += crash.lost.len();
        }
        println!(
            "--fsync {policy}: {lost_total} acknowledged writes lost in {} crashes",
            settings.runs
        );
        all_kept &= lost_total == 0;
    }
    Ok(all_kept)
}

/// Starts a ring, writes, crashes it, starts it again and reads back.
fn crash_once(settings: &CrashSettings, policy: &str, run: usize) -> Result<Crash, String> {
    let mut nodes = Nodes::new(
        &settings.exe,
        settings.replicas,
        settings.stabilize_ms,
        &settings.logs,
    )?;
    nodes.keep_data(&format!("{}/data", settings.logs), policy)?;
    nodes.start_ring(settings.nodes)?;
    let addrs = nodes.addrs();

    // Writers, each on keys of its own, every node in turn.
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..settings.writers)
        .map(|w| {
            let (addrs, stop) = (addrs.clone(), stop.clone());
            let prefix = format!("crash-{policy}-{run}-{w}");
            thread::spawn(move || write_until(&addrs, &prefix, w, &stop))
        })
        .collect();
    thread::sleep(settings.writing);
    // Bytes add up over the nodes; the longest wait is the longest of any.
    let mut unsynced_bytes = 0;
    let mut longest_unsynced_ms = 0;
    for addr in &addrs {
        let names = ["disk_unsynced_bytes", "disk_longest_unsynced_ms"];
        if let [bytes, longest] = sum_stats(std::slice::from_ref(addr), &names)?[..] {
            unsynced_bytes += bytes;
            longest_unsynced_ms = longest_unsynced_ms.max(longest);
        }
    }
    let crashed_at = Instant::now();
    let spread = nodes.kill_all();
    stop.store(true, Ordering::Relaxed);
    let mut acknowledged: Vec<(String, Instant)> = Vec::new();
    for writer in writers {
        acknowledged.extend(writer.join().map_err(|_| "a writer panicked")?);
    }

    // The same nodes, on the same ports, with the same directories.
    let restarted = Instant::now();
    let mut order = addrs.iter();
    let head = order.next().ok_or("no nodes")?;
    nodes.start_at(head, None, None)?;
    nodes.wait_for(1, Duration::from_secs(10))?;
    for addr in order {
        nodes.start_at(addr, Some(head), None)?;
    }
    nodes.wait_for(settings.nodes, Duration::from_secs(60))?;
    let rejoined = restarted.elapsed();

    // Every acknowledged write, read back; one not found yet is asked for
    // again (the ring may still be copying arcs back) until a deadline.
    let mut clients: HashMap<String, Client> = HashMap::new();
    let mut missing: Vec<&(String, Instant)> = acknowledged.iter().collect();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut turn = 0;
    loop {
        missing.retain(|(key, _)| {
            turn += 1;
            let at = &addrs[turn % addrs.len()];
            let answer = ask(&mut clients, at, &format!("GET {key}"));
            if answer.is_err() {
                clients.remove(at);
            }
            answer.map_or(true, |a| a != format!("VALUE {key}"))
        });
        if missing.is_empty() || Instant::now() > deadline {
            break;
        }
        thread::sleep(Duration::from_millis(200));
    }
    let read_back = restarted.elapsed();
    let lost = missing
        .iter()
        .map(|(key, at)| (key.clone(), crashed_at.saturating_duration_since(*at)))
        .collect();
    Ok(Crash {
        acknowledged: acknowledged.len(),
        lost,
        spread,
        unsynced_bytes,
        longest_unsynced_ms,
        rejoined,
        read_back,
    })
}

/// Writes `PREFIX-i` = itself, i = 0, 1, ..., at the nodes in turn
/// (starting at the `first`th) until `stop`; each write acknowledged, with
/// when. A node that fails is left for the next.
fn write_until(
    addrs: &[String],
    prefix: &str,
    first: usize,
    stop: &AtomicBool,
) -> Vec<(String, Instant)> {
    let mut clients: HashMap<String, Client> = HashMap::new();
    let mut acknowledged = Vec::new();
    let mut i = 0usize;
    let mut turn = first;
    while !stop.load(Ordering::Relaxed) {
        let key = format!("{prefix}-{i}");
        turn += 1;
        let at = &addrs[turn % addrs.len()];
        match ask(&mut clients, at, &format!("PUT {key} {key}")) {
            Ok(answer) if answer == "OK" => {
                acknowledged.push((key, Instant::now()));
                i += 1;
            }
            Ok(_) => i += 1,
            Err(_) => {
                clients.remove(at);
                i += 1;
            }
        }
    }
    acknowledged
}
