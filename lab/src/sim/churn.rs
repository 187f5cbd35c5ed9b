//! Lookups under churn, as a discrete-event simulation over real nodes:
//! nodes join and fail at a rate, every node runs the paper's periodic
//! functions on its own schedule, and lookups are made all along (the
//! paper's "Lookups During Stabilization").
//!
//! Time is virtual. Events (a join, a failure, one node's maintenance
//! round, a lookup) run one at a time in time order, each at once: the
//! calls it makes are answered on the spot over the in-memory network.
//! Latency is accounted, not waited for: each call that is answered adds
//! a round trip drawn from an exponential distribution (mean
//! [`MEAN_RTT_MS`]), each call to a failed node a [`TIMEOUT_MS`] timeout,
//! and a lookup's latency is the sum along its path. Messages in flight do
//! not overlap other events; that is the simplification, and it makes the
//! results exact functions of the seed.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use super::{space, SUCCESSORS};
use chord::clock::{Clock, VirtualClock};
use chord::config::NodeConfig;
use chord::id::{Id, NodeRef};
use chord::node::Node;
use chord::rng::Rng;
use chord::transport::{Handler, MemoryNetwork};

/// The mean round trip of one call, in milliseconds.
pub const MEAN_RTT_MS: f64 = 50.0;

/// What a call to a failed node costs before it gives up, in milliseconds.
pub const TIMEOUT_MS: f64 = 500.0;

/// What one run is asked to do.
#[derive(Clone, Copy, Debug)]
pub struct Setting {
    /// Nodes at the start.
    pub nodes: usize,
    /// Joins a second, and as many failures a second.
    pub rate: f64,
    /// The mean time between two maintenance rounds of one node.
    pub stabilize_s: f64,
    /// Lookups a second.
    pub lookups_per_s: f64,
    /// How long the run lasts, in virtual seconds.
    pub seconds: f64,
    /// The probability that a message is lost.
    pub loss: f64,
}

/// What one run measured.
#[derive(Clone, Debug, Default)]
pub struct Measured {
    /// Lookups made.
    pub lookups: usize,
    /// Lookups that erred or named a node other than the key's live
    /// successor.
    pub failed: usize,
    /// Mean hops of the lookups that succeeded.
    pub mean_hops: f64,
    /// Mean timeouts per lookup.
    pub mean_timeouts: f64,
    /// Mean latency of a lookup, in milliseconds.
    pub mean_latency_ms: f64,
    /// Events run (joins, failures, maintenance rounds, lookups): the
    /// simulator's unit of work, for its speed.
    pub events: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Event {
    Join,
    Fail,
    Maintain(usize),
    Lookup,
}

/// Runs one simulation of `setting` from `seed`.
pub fn run(setting: Setting, seed: u64) -> Measured {
    let mut rng = Rng::new(seed);
    let net = MemoryNetwork::new();
    let clock = Arc::new(VirtualClock::new(seed));
    let mut config = NodeConfig::new(space());
    config.successors = SUCCESSORS;
    config.clock = clock.clone();
    let ring = super::SimRing::settled_on(setting.nodes, &config, &net);
    net.set_loss(setting.loss, seed ^ 0x1055);
    let mut nodes: Vec<Option<Arc<Node>>> = ring.nodes.iter().cloned().map(Some).collect();
    let mut live: Vec<NodeRef> = ring.sorted.clone();
    let mut queue: BinaryHeap<Reverse<(u64, u64, Event)>> = BinaryHeap::new();
    let mut sequence = 0u64;
    let micros = |s: f64| (s * 1e6) as u64;
    let mut push = |queue: &mut BinaryHeap<_>, at: u64, event: Event| {
        sequence += 1;
        queue.push(Reverse((at, sequence, event)));
    };
    let exponential = |rng: &mut Rng, mean: f64| rng.exponential(mean);
    for i in 0..nodes.len() {
        let first = exponential(&mut rng, setting.stabilize_s);
        push(&mut queue, micros(first), Event::Maintain(i));
    }
    if setting.rate > 0.0 {
        push(
            &mut queue,
            micros(exponential(&mut rng, 1.0 / setting.rate)),
            Event::Join,
        );
        push(
            &mut queue,
            micros(exponential(&mut rng, 1.0 / setting.rate)),
            Event::Fail,
        );
    }
    push(
        &mut queue,
        micros(exponential(&mut rng, 1.0 / setting.lookups_per_s)),
        Event::Lookup,
    );
    let end = micros(setting.seconds);
    let (mut hops, mut timeouts, mut latency) = (0u64, 0u64, 0f64);
    let mut measured = Measured::default();
    let mut joined = 0usize;
    while let Some(Reverse((at, _, event))) = queue.pop() {
        if at > end {
            break;
        }
        let now = clock.elapsed().as_micros() as u64;
        clock.advance(Duration::from_micros(at.saturating_sub(now)));
        measured.events += 1;
        match event {
            Event::Maintain(i) => {
                if let Some(node) = &nodes[i] {
                    let _ = chord::maintenance::round(node);
                    let next = at + micros(exponential(&mut rng, setting.stabilize_s));
                    push(&mut queue, next, Event::Maintain(i));
                }
            }
            Event::Join => {
                joined += 1;
                let addr = format!("sim-join-{joined}");
                if let Ok(node) = Node::new(&addr, config.clone(), net.clone()) {
                    let handler: Arc<dyn Handler> = node.clone();
                    net.register(&addr, &handler);
                    let known = &live[rng.below(live.len())].addr;
                    if node.join(known).is_ok() {
                        let me = node.me().clone();
                        let at_sorted = live.partition_point(|r| r.id < me.id);
                        live.insert(at_sorted, me);
                        nodes.push(Some(node));
                        let first = at + micros(exponential(&mut rng, setting.stabilize_s));
                        push(&mut queue, first, Event::Maintain(nodes.len() - 1));
                    } else {
                        net.stop(&addr);
                    }
                }
                let next = at + micros(exponential(&mut rng, 1.0 / setting.rate));
                push(&mut queue, next, Event::Join);
            }
            Event::Fail => {
                let alive: Vec<usize> = (0..nodes.len()).filter(|i| nodes[*i].is_some()).collect();
                if alive.len() > 1 {
                    let i = alive[rng.below(alive.len())];
                    if let Some(node) = nodes[i].take() {
                        net.stop(&node.me().addr);
                        live.retain(|r| r.addr != node.me().addr);
                    }
                }
                let next = at + micros(exponential(&mut rng, 1.0 / setting.rate));
                push(&mut queue, next, Event::Fail);
            }
            Event::Lookup => {
                let alive: Vec<&Arc<Node>> = nodes.iter().flatten().collect();
                let from = alive[rng.below(alive.len())];
                let key = space().hash(format!("key-{:016x}", rng.next_u64()).as_bytes());
                let expected = successor(&live, key);
                measured.lookups += 1;
                match from.find_successor(key) {
                    Ok(lookup) => {
                        let answered = lookup.hops() as usize + 1;
                        for _ in 0..answered {
                            latency += exponential(&mut rng, MEAN_RTT_MS);
                        }
                        let (owner, dead_owners) = super::first_live(&net, &lookup);
                        let missed = u64::from(lookup.timeouts) + dead_owners;
                        latency += missed as f64 * TIMEOUT_MS;
                        timeouts += missed;
                        if owner.is_some() && owner == expected {
                            hops += u64::from(lookup.hops());
                        } else {
                            measured.failed += 1;
                        }
                    }
                    Err(_) => {
                        measured.failed += 1;
                        latency += TIMEOUT_MS;
                    }
                }
                let next = at + micros(exponential(&mut rng, 1.0 / setting.lookups_per_s));
                push(&mut queue, next, Event::Lookup);
            }
        }
    }
    let ok = measured.lookups - measured.failed;
    measured.mean_hops = if ok == 0 {
        0.0
    } else {
        hops as f64 / ok as f64
    };
    if measured.lookups > 0 {
        measured.mean_timeouts = timeouts as f64 / measured.lookups as f64;
        measured.mean_latency_ms = latency / measured.lookups as f64;
    }
    measured
}

/// `successor(id)` among the live nodes, sorted by identifier.
fn successor(live: &[NodeRef], id: Id) -> Option<&NodeRef> {
    if live.is_empty() {
        return None;
    }
    let at = live.partition_point(|r| r.id < id);
    Some(&live[at % live.len()])
}

/// The churn figure: one row per (rate of joins and failures a second,
/// message loss) pair; and the events run, for the simulator's speed.
pub fn figure(seed: u64, nodes: usize, seconds: f64, rows: &[(f64, f64)]) -> (String, u64) {
    let mut csv = String::from(
        "rate_per_s,loss,lookups,failed_lookups,mean_hops,mean_timeouts,mean_latency_ms\n",
    );
    let mut events = 0;
    for (i, (rate, loss)) in rows.iter().enumerate() {
        let setting = Setting {
            nodes,
            rate: *rate,
            stabilize_s: 30.0,
            lookups_per_s: 1.0,
            seconds,
            loss: *loss,
        };
        let m = run(setting, seed.wrapping_add(i as u64));
        events += m.events;
        let _ = writeln!(
            csv,
            "{rate:.2},{loss:.2},{},{:.4},{:.3},{:.3},{:.1}",
            m.lookups,
            m.failed as f64 / m.lookups.max(1) as f64,
            m.mean_hops,
            m.mean_timeouts,
            m.mean_latency_ms
        );
    }
    (csv, events)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_churn_every_lookup_succeeds_and_with_it_some_fail() {
        let quiet = Setting {
            nodes: 64,
            rate: 0.0,
            stabilize_s: 30.0,
            lookups_per_s: 1.0,
            seconds: 200.0,
            loss: 0.0,
        };
        let m = run(quiet, 1);
        assert!(m.lookups > 100, "{m:?}");
        assert_eq!(m.failed, 0, "{m:?}");
        assert_eq!(m.mean_timeouts, 0.0);
        let busy = Setting { rate: 0.5, ..quiet };
        let m = run(busy, 1);
        assert!(m.mean_timeouts > 0.0, "{m:?}");
        let lossy = Setting { loss: 0.1, ..quiet };
        let m = run(lossy, 1);
        assert!(m.mean_timeouts > 0.0, "{m:?}");
        let rows = [(0.1, 0.0), (0.1, 0.05)];
        assert_eq!(figure(3, 32, 100.0, &rows), figure(3, 32, 100.0, &rows));
    }

    #[test]
    fn joiners_get_linked_in_under_churn() {
        // Regression: maintenance without replica repair left every joiner
        // after a failure unlinked, and failures grew to 30% in an hour.
        let setting = Setting {
            nodes: 200,
            rate: 0.05,
            stabilize_s: 30.0,
            lookups_per_s: 1.0,
            seconds: 3_600.0,
            loss: 0.0,
        };
        let m = run(setting, 2);
        let failed = m.failed as f64 / m.lookups as f64;
        assert!(failed < 0.05, "{failed}: {m:?}");
    }
}
