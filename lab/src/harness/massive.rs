//! The paper's massive-failure experiment (section "Simultaneous Node
//! Failures"), on real node processes: a ring of N nodes holding keys, a
//! fraction p killed at once, then lookups before and after the ring
//! stabilizes, and the keys lost beside the p^R the paper expects.

use std::collections::HashMap;
use std::path::PathBuf;
use std::thread;
use std::time::{Duration, Instant};

use super::churn::share;
use super::nodes::{ask, holders, ring_settled, Nodes, CALL_TIMEOUT};
use super::Rng;
use chord::client::Client;

/// What the massive-failure experiment is asked to do.
pub struct MassiveSettings {
    /// The `chord` binary the node processes run.
    pub exe: PathBuf,
    /// Nodes in the ring.
    pub nodes: usize,
    /// R, the nodes that hold each key.
    pub replicas: usize,
    /// The share of nodes killed at once.
    pub fraction: f64,
    /// Keys written before the failure.
    pub keys: usize,
    /// Lookups in each phase.
    pub lookups: usize,
    /// The seed of every random choice.
    pub seed: u64,
    /// The nodes' stabilization period, in milliseconds.
    pub stabilize_ms: u64,
    /// Where node logs go.
    pub logs: String,
}

/// `lookups` LOOKUPs of random written keys at random live nodes; the
/// share that failed: an error, or an owner that is not the live
/// successor of the key.
fn failed_lookups(nodes: &Nodes, keys: &[String], lookups: usize, rng: &mut Rng) -> f64 {
    let addrs = nodes.addrs();
    let mut failed = 0;
    let mut clients: HashMap<String, Client> = HashMap::new();
    for _ in 0..lookups {
        let key = &keys[rng.below(keys.len())];
        let owner = holders(&addrs, key, 1);
        let at = &addrs[rng.below(addrs.len())];
        let answer = ask(&mut clients, at, &format!("LOOKUP {key}"));
        let right = answer
            .is_ok_and(|line| line.split_whitespace().nth(2) == owner.first().map(String::as_str));
        if !right {
            failed += 1;
        }
    }
    share(failed, lookups as u64)
}

/// `chord-lab massive`: the paper's experiment of section "Simultaneous Node
/// Failures": a fraction p of the nodes fails at once; how many lookups
/// fail before and after stabilization, and how many keys are lost next
/// to what R predicts.
pub fn massive(settings: &MassiveSettings) -> Result<(), String> {
    let nodes = Nodes::new(
        &settings.exe,
        settings.replicas,
        settings.stabilize_ms,
        &settings.logs,
    )?;
    let first = nodes.start_ring(settings.nodes)?;
    let mut rng = Rng::new(settings.seed);
    let keys: Vec<String> = (0..settings.keys).map(|i| format!("massive-{i}")).collect();
    let mut client = Client::connect(&first, CALL_TIMEOUT).map_err(|e| e.to_string())?;
    for key in &keys {
        let answer = client
            .line(&format!("PUT {key} {key}"))
            .map_err(|e| e.to_string())?;
        if answer != "OK" {
            return Err(format!("PUT {key}: {answer}"));
        }
    }
    let wait_settled = |what: &str| -> Result<Duration, String> {
        let started = Instant::now();
        while !ring_settled(&nodes.addrs()) {
            if started.elapsed() > Duration::from_secs(120) {
                return Err(format!("the ring did not settle {what} within 120 s"));
            }
            thread::sleep(Duration::from_millis(20));
        }
        Ok(started.elapsed())
    };
    wait_settled("before the failure")?;
    let before = failed_lookups(&nodes, &keys, settings.lookups, &mut rng);
    // Kill a fraction p of the nodes, chosen at random, at once.
    let count = (settings.fraction * settings.nodes as f64).round() as usize;
    let all = nodes.addrs();
    let mut addrs = all.clone();
    let mut victims = Vec::new();
    for _ in 0..count.min(addrs.len().saturating_sub(1)) {
        let victim = addrs.remove(rng.below(addrs.len()));
        nodes.kill(&victim);
        victims.push(victim);
    }
    let doomed = keys
        .iter()
        .filter(|k| {
            holders(&all, k, settings.replicas)
                .iter()
                .all(|h| victims.contains(h))
        })
        .count();
    let just_after = failed_lookups(&nodes, &keys, settings.lookups, &mut rng);
    let settled = wait_settled("after the failure")?;
    let after = failed_lookups(&nodes, &keys, settings.lookups, &mut rng);
    // Then every key, read once through random live nodes.
    let live = nodes.addrs();
    let mut lost = 0;
    let mut clients: HashMap<String, Client> = HashMap::new();
    for key in &keys {
        let at = &live[rng.below(live.len())];
        let answer = ask(&mut clients, at, &format!("GET {key}")).map_err(|e| e.to_string())?;
        if answer != format!("VALUE {key}") {
            lost += 1;
            if lost <= 3 {
                println!("lost: GET {key} at {at}: {answer}");
            }
        }
    }
    let p = settings.fraction;
    let r = settings.replicas as i32;
    // Consecutive holders, k of N nodes killed without replacement.
    let n = settings.nodes as f64;
    let k = count as f64;
    let exact: f64 = (0..r)
        .map(|i| (k - f64::from(i)) / (n - f64::from(i)))
        .product();
    println!("--- massive failure (seed {}) ---", settings.seed);
    println!(
        "nodes={} killed={count} (p={p}) R={} keys={} lookups per phase={}",
        settings.nodes, settings.replicas, settings.keys, settings.lookups
    );
    println!("failed lookups: before the failure {before:.2}%, just after {just_after:.2}%, after stabilization {after:.2}%");
    println!("ring settled {} ms after the failure", settled.as_millis());
    println!(
        "keys lost: {lost} of {} = {:.2}%; R predicts p^R = {:.2}% ({:.2}% for {count} of {} without replacement)",
        keys.len(),
        share(lost, keys.len() as u64),
        100.0 * p.powi(r),
        100.0 * exact.max(0.0),
        settings.nodes
    );
    println!(
        "keys whose {} holders all died in this placement: {doomed}",
        settings.replicas
    );
    Ok(())
}
