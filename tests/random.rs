//! Randomised scenarios on the in-memory network, repeatable by seed: joins
//! (linked in at once, or left to stabilization), graceful leaves, abrupt
//! kills, writes (some with an expiry, which must travel with the value),
//! overwrites, deletes, increments of counters, and stabilization rounds,
//! interleaved
//! at random. After every step a read must be right or unavailable, at any
//! node; every tenth step, once the ring settles, every key must read back
//! and sit at exactly its R holders (a deleted one, as a tombstone), and every counter must have counted
//! each acknowledged increment once (and each failed one at most once).
//! At most min(R, N) - 1 nodes leave or
//! die between those settled points, N the nodes at the last one: that is
//! the promise of replication ("an acknowledged write survives any R - 1
//! of its holders dying at once"; a ring of N < R nodes holds N copies,
//! and a newcomer holds its copies only once repair has run), together
//! with "Node Joins and Stabilization" and "Voluntary Node Departures". (A
//! leave counts: it hands keys to the successors it knows, and with joins
//! not yet stabilized it may know fewer than R.) Kills also strike nodes
//! that joined by the paper's join and are not yet linked in, and members
//! while such joins are pending.
//!
//! `CHORD_SEED_FIRST=n CHORD_SEED_COUNT=k cargo test --release --test
//! random` runs seeds n to n + k - 1 (defaults: 1 and 200). A run is a
//! function of its seed: clock and randomness are virtual, and each run
//! keeps a trace of every step and its outcome, the same twice for one
//! seed (tested below). `CHORD_TRACE=1` prints the trace as it is made,
//! with the nodes' log lines at the level `RUST_LOG` sets, so a failing
//! seed shows the steps that led to it; `CHORD_TRACE_KEY=key-13` adds, after
//! every step, each node's view and its copy of that key.
//!
//! Beside the fixed first seeds, every run takes a fresh window of seeds
//! from the clock and prints it, and replays the seeds that once failed.
//! `make hunt SEEDS=n FIRST=k` runs many on both cores.

mod common;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use chord::Node;

use chord::rng::Rng;
use common::{Cluster, MemCluster};

/// Seeds per run unless `CHORD_SEED_COUNT` says otherwise.
const SEEDS: u64 = 200;
const STEPS: usize = 200;

/// What a key may read as now: its last acknowledged state first (`None`:
/// deleted or never written), then any later writes that failed, since a
/// failed write may still have reached some nodes.
type Possible = Vec<Option<String>>;

/// A counter as the scenario knows it: increments acknowledged, and
/// increments that failed (each may have counted once, or not at all).
#[derive(Clone, Copy, Debug, Default)]
struct Counted {
    acked: u64,
    failed: u64,
}

impl Counted {
    /// Whether the counter may read `sum` now.
    fn allows(&self, sum: u64) -> bool {
        (self.acked..=self.acked + self.failed).contains(&sum)
    }
}

/// Reads counter `key` at `reader`: unavailable, or within its bounds.
fn check_counter(reader: &Node, key: &str, counted: Counted, context: &str) -> bool {
    match reader.get(key) {
        Ok(got) => {
            let sum = got.map_or(0, |v| {
                String::from_utf8(v)
                    .expect("a number")
                    .parse()
                    .expect("a number")
            });
            assert!(
                counted.allows(sum),
                "{context}: counter {key} at {:?} reads {sum}, not within {counted:?}",
                reader.me()
            );
            true
        }
        Err(chord::Error::Unavailable(_)) => false,
        Err(e) => panic!("{context}: GET {key}: {e}"),
    }
}

/// Microseconds since the epoch, far beyond any run's virtual clock: the
/// expiries written here never pass, so they must simply survive.
const FAR: u64 = 4_000_000_000_000_000;

/// The expiry a value was written with: `e<step>` values expire at
/// [`FAR`] plus the step, so that a copy with a stale or lost expiry shows;
/// `v<step>` values never do.
fn expiry_of(value: &str) -> Option<u64> {
    let step: u64 = value.strip_prefix('e')?.parse().expect("e<step>");
    Some(FAR + step)
}

/// Reads `key` at `reader`: it may be unavailable while the ring moves
/// (in memory the ring moves only when the test runs rounds), but it must
/// never be wrong.
fn check_read(reader: &Node, key: &str, possible: &Possible, context: &str) -> bool {
    match reader.get(key) {
        Ok(got) => {
            let got = got.map(|v| String::from_utf8(v).expect("the tests write text"));
            assert!(
                possible.contains(&got),
                "{context}: GET {key} at {:?} read {got:?}, not one of {possible:?}",
                reader.me()
            );
            true
        }
        Err(chord::Error::Unavailable(_)) => false,
        Err(e) => panic!("{context}: GET {key}: {e}"),
    }
}

/// Prints each node's view and its copy of `key`: what `CHORD_TRACE_KEY`
/// adds to the trace.
fn trace_key(nodes: &[std::sync::Arc<Node>], key: &str) {
    for node in nodes {
        let view = node.view();
        let successors: Vec<&str> = view.successors.iter().map(|s| &*s.addr).collect();
        eprintln!(
            "   {:?}: pred {:?}, successors {successors:?}, holds {:?}",
            view.me,
            view.predecessor,
            node.keys().held_entry(key.as_bytes())
        );
    }
}

/// Runs the scenario of `seed`; its trace, one line per step.
fn scenario(seed: u64) -> Vec<String> {
    let mut trace = Vec::with_capacity(STEPS);
    let tracing = std::env::var_os("CHORD_TRACE").is_some();
    let traced_key = std::env::var("CHORD_TRACE_KEY").ok();
    if tracing {
        // The nodes' own log lines too, at the level RUST_LOG sets.
        let _ = env_logger::builder().is_test(true).try_init();
    }
    let mut rng = Rng::new(seed);
    // m = 8 keeps identifiers small, so keys crowd together; a short
    // request timeout, because nothing moves between rounds in memory.
    let mut config = common::node_config(8);
    config.request_timeout = Duration::from_millis(5);
    let mut cluster = MemCluster::with_config(config);
    cluster.grow_to(3);
    cluster.settle();
    let mut expected: BTreeMap<String, Possible> = BTreeMap::new();
    let mut counters: BTreeMap<String, Counted> = BTreeMap::new();
    let replicas = cluster.live()[0].config().replicas;
    let mut departures = 0;
    // A key has min(R, members) copies once the ring settles: that many
    // less one may go before repair has made copies on newcomers.
    let mut may_depart = replicas.min(3) - 1;
    let mut joined = 0;
    for step in 0..STEPS {
        let context = format!("seed {seed}, step {step}");
        let nodes = cluster.live();
        let at = &nodes[rng.below(nodes.len())];
        let key = format!("key-{}", rng.below(60));
        let op = rng.below(100);
        let members = nodes.iter().filter(|n| n.is_member()).count();
        let joining: Vec<&Node> = nodes
            .iter()
            .filter(|n| !n.is_member())
            .map(|n| &**n)
            .collect();
        let mut line = format!("{step}: op {op} at {}", at.me().addr);
        match op {
            // PUT (0 to 39; from 30, with an expiry) or DEL (40 to 49).
            0..=49 => {
                let value = (op < 40).then(|| format!("{}{step}", if op < 30 { 'v' } else { 'e' }));
                let possible = expected.entry(key.clone()).or_insert_with(|| vec![None]);
                let result = match &value {
                    Some(v) => at
                        .keys()
                        .put_expiring(key.as_bytes(), v.as_bytes(), expiry_of(v))
                        .map(|()| None),
                    None => at.delete(&key).map(Some),
                };
                let _ = write!(line, " {key} {value:?} -> {result:?}");
                match result {
                    Ok(found) => {
                        if let Some(was) = found {
                            let could = if was {
                                possible.iter().any(Option::is_some)
                            } else {
                                possible.contains(&None)
                            };
                            assert!(
                                could,
                                "{context}: DEL {key} found it: {was}, but it could be {possible:?}"
                            );
                        }
                        *possible = vec![value];
                    }
                    // A failed write may have reached the owner.
                    Err(_) => possible.push(value),
                }
            }
            50..=59 if nodes.len() < 12 => {
                let node = cluster.add_node();
                let _ = write!(line, " add {}", node.me().addr);
            }
            60..=64 if nodes.len() < 12 => {
                // Joined by the paper's join only: stabilization links it in.
                // (Twins are tested on their own; none are made here.)
                joined += 1;
                let addr = format!("late-{seed}-{joined}");
                let id = at.config().space.hash(addr.as_bytes());
                if nodes.iter().all(|n| n.me().id != id) {
                    let joined = cluster.add_named(&addr).map(|_| ());
                    let _ = write!(line, " join {addr} -> {joined:?}");
                }
            }
            // Members leave or die, at most R - 1 between settled points,
            // and the ring keeps at least two of them.
            65..=78 if departures < may_depart && at.is_member() && members > 2 => {
                departures += 1;
                let addr = at.me().addr.clone();
                if op <= 72 {
                    cluster.leave(&addr);
                    let _ = write!(line, " leave {addr}");
                } else {
                    cluster.kill(&addr);
                    let _ = write!(line, " kill {addr}");
                }
            }
            // A kill while a join is not yet stabilized: the joiner itself,
            // which may already hold keys it pulled from its successor.
            79..=83 if departures < may_depart && !joining.is_empty() => {
                departures += 1;
                let addr = joining[rng.below(joining.len())].me().addr.clone();
                cluster.kill(&addr);
                let _ = write!(line, " kill joiner {addr}");
            }
            // A kill and an immediate restart at the same address, with an
            // empty store: its copies are gone, so it counts as a departure.
            84..=87 if departures < may_depart && at.is_member() && members > 2 => {
                departures += 1;
                let addr = at.me().addr.clone();
                cluster.restart(&addr);
                let _ = write!(line, " restart {addr}");
            }
            // INCR of one of three counters.
            88..=91 => {
                let counter = format!("count-{}", op % 3);
                let result = at.keys().increment(counter.as_bytes(), 1);
                let _ = write!(line, " INCR {counter} -> {result:?}");
                let counted = counters.entry(counter.clone()).or_default();
                match result {
                    Ok(sum) => {
                        counted.acked += 1;
                        let sum = u64::try_from(sum).expect("counters only grow");
                        assert!(
                            counted.allows(sum),
                            "{context}: INCR {counter} answered {sum}, not within {counted:?}"
                        );
                    }
                    Err(e @ chord::Error::Rejected(_)) => panic!("{context}: INCR {counter}: {e}"),
                    Err(_) => counted.failed += 1,
                }
            }
            _ => {
                cluster.round();
                line.push_str(" round");
            }
        }
        // Safety, at every step: a read is right or unavailable.
        if tracing {
            // The step before its reads, so that a failing read follows it.
            eprintln!("{line}");
            if let Some(key) = &traced_key {
                trace_key(&cluster.live(), key);
            }
        }
        let nodes = cluster.live();
        for (key, possible) in expected.iter().take(5) {
            let read = check_read(&nodes[rng.below(nodes.len())], key, possible, &context);
            let _ = write!(line, " {key}:{read}");
        }
        trace.push(line);
        // Liveness, every tenth step: once the ring settles and repair has
        // run, every key reads back, at any node, and sits at exactly its
        // R holders.
        if step % 10 == 9 {
            let live: Vec<String> = expected
                .iter()
                // Every key that has a value, whichever of its possible
                // ones (a failed write may have landed or not).
                .filter(|(_, p)| p.iter().all(Option::is_some))
                .map(|(k, _)| k.clone())
                .chain(
                    counters
                        .iter()
                        .filter(|(_, c)| c.acked > 0)
                        .map(|(k, _)| k.clone()),
                )
                .collect();
            // Every key whose last acknowledged write deleted it, and no
            // write after failed: its tombstone.
            let deleted: Vec<String> = expected
                .iter()
                .filter(|(_, p)| p.as_slice() == [None])
                .map(|(k, _)| k.clone())
                .collect();
            let what = format!("{context}: a correct ring with every key at its holders");
            cluster.settle_until(&what, &|nodes| {
                common::ring_is_correct(nodes)
                    && nodes.iter().all(|n| !n.view().taking_over)
                    && common::keys_are_at_their_holders(nodes, &live)
                    && common::deletes_are_at_their_holders(nodes, &deleted)
            });
            departures = 0;
            let nodes = cluster.live();
            may_depart = replicas.min(nodes.len()) - 1;
            for (key, possible) in &expected {
                let reader = &nodes[rng.below(nodes.len())];
                let answered = check_read(reader, key, possible, &context);
                assert!(
                    answered,
                    "{context}: GET {key} unavailable in a settled ring"
                );
                // The expiry travels with the value through every hand-over.
                if let Ok(Some(entry)) = reader.keys().get_entry(key.as_bytes()) {
                    let value = String::from_utf8(entry.value.unwrap_or_default()).unwrap();
                    let expiry = expiry_of(&value);
                    assert_eq!(entry.expires, expiry, "{context}: {key} = {value}");
                }
            }
            for (key, counted) in &counters {
                let reader = &nodes[rng.below(nodes.len())];
                let answered = check_counter(reader, key, *counted, &context);
                assert!(
                    answered,
                    "{context}: counter {key} unavailable in a settled ring"
                );
            }
            let settled = format!("{step}: settled\n{}", common::describe(&nodes));
            if tracing {
                eprintln!("{settled}");
            }
            trace.push(settled);
        }
    }
    trace
}

/// A number from the environment variable `name`, or `default`.
fn env_number(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(text) => text
            .parse()
            .unwrap_or_else(|_| panic!("{name}={text:?} is not a number")),
        Err(_) => default,
    }
}

#[test]
fn acknowledged_writes_survive_random_joins_leaves_and_kills() {
    for old in ["CHORD_SEED", "CHORD_SEEDS"] {
        assert!(
            std::env::var(old).is_err(),
            "{old} is gone: set CHORD_SEED_FIRST (the first seed) and CHORD_SEED_COUNT (how many)"
        );
    }
    let first = env_number("CHORD_SEED_FIRST", 1);
    let count = env_number("CHORD_SEED_COUNT", SEEDS);
    let mut joiners_killed = 0;
    for seed in first..first.saturating_add(count) {
        let trace = scenario(seed);
        joiners_killed += trace.iter().filter(|l| l.contains("kill joiner")).count();
    }
    if count >= 50 {
        assert!(joiners_killed > 0, "no seed killed a joiner");
    }
    eprintln!(
        "{count} seeds from {first}: {joiners_killed} joiners killed before they were linked in"
    );
}

/// Seeds that once failed, each at the mechanism named, fixed there:
/// - 12153, 17510: a node restarted at its address, joining through a node
///   before its old successor, took its old place unnoticed and served
///   its arc empty (`took_old_place` in `chord::stabilize`);
/// - 17789: a holder that kept an older copy through the ring's shrinking
///   outlived the newer copies (the settled ring now requires the holders
///   to agree on the version, which repair must reach);
/// - 24011: a restarted node's "no copy here" outvoted the one replica that
///   held the key (`GetCopy` answers `Syncing` while refilling);
/// - 27851: a newcomer took an arc whose owner had died from a successor
///   that held only a replica's copy of it (`Notified::whole`);
/// - 1983, 2470: a read around a dead owner went to the replicas a stale
///   list named, not to the nodes that joined after the owner
///   (`Dhash::successors_of`);
/// - 27230: a read around an owner that refused the connection trusted a
///   lookup whose last hop had not heard of two nodes that joined just
///   before it, one of them the real owner (such a read now looks again);
/// - 315358: a delete's tombstone had not reached a holder that kept an
///   older value when the ring was called settled; two departures later
///   the value came back (a settled ring now has every delete at its
///   holders too);
/// - 307588: a lookup past a dead node took a node restarted a moment ago
///   for the owner, and readers took its stale successors for the
///   holders (a lookup now confirms the node it ends on is settled);
/// - 98956: a node whose stale successor list ran out took itself for
///   alone and served a dead neighbour's arc from its own empty copy (a
///   grown arc with no node to copy from now waits two periods);
/// - 4455676787: for a change that made a node copying its arc back
///   refuse digests (its owners' repair then skipped it), a GET at step 98
///   read an acknowledged write as missing; a node now answers digests
///   whatever it is doing, and says whether it is copying its arc back;
/// - 7310454564: for a change that let a node answer for its own arc
///   without a lookup, a node whose successor had left, holding a
///   predecessor whose successor was another node, read a key of that
///   arc from its own empty copy; a node now answers alone only while its
///   predecessor's notices name it successor (`Ring::confirmed_owner`);
/// - 9133520642: a node restarted in its place joined with a successor
///   past a live node (its lookup met its own old incarnation and a dead
///   node), and a read around it, while it copied its arc back, asked
///   the holders its new list named, which had never held the key, and
///   read an acknowledged write as missing; a read around an owner now
///   counts the asking node's own copy too.
/// - 8420143160: a ring that had just grown from two nodes to four lost
///   one of the two old ones before the other's one-entry successor list
///   was refreshed; the survivor went on alone, a newcomer joined it, and
///   for a few rounds a node outside that small ring served an arc the
///   ring had taken over, reading an acknowledged write as its old value;
///   a node whose successor's arc covers it now serves nothing until the
///   successor takes its notice (`Links::linked`).
/// - 6241018618: the same split seen from the other side. A loop of three
///   nodes closed past two live ones whose successor had died; the loop's
///   node took their arcs, pulled them and served them, while the last of
///   the two, linked to no one since, answered a read of that arc from its
///   own copy, missing a write the loop had acknowledged. A node now
///   serves only while its last stabilize found it linked to its
///   successor, and an arc gained past a failed predecessor only a lease
///   after (`Ring::serves`).
/// - 2718201661 (failed on the code before the leases too): a node
///   restarted in its place, whose fresh successor list named one node,
///   was the owner a stale lookup found; it answered that it was copying
///   its arc back, and the read around it asked that one node, which had
///   no copy, and read an acknowledged write as missing. A read around an
///   owner now needs R - 1 holders' answers, however short the list.
/// - 4242005216, 9900013652 (both failed on the code before the leases
///   too): newcomers joined beside a node restarted empty, and one that
///   had to copy its arc back from the replicas did so from the one node
///   its short list named, and served the arc without keys still held
///   further on; copying an arc back now needs R - 1 sources, or two
///   periods with fewer.
///
/// A seed names a scenario under the key placement of its day: since keys
/// are placed by hash slot, the seeds before 7310454564 play other
/// scenarios than the ones that failed, and are kept as seeds that pass.
const ONCE_FAILED: [u64; 19] = [
    1983, 2470, 12153, 17510, 17789, 24011, 27230, 27851, 98956, 307588, 315358, 4455676787,
    7310454564, 9133520642, 8420143160, 6241018618, 2718201661, 4242005216, 9900013652,
];

#[test]
fn the_seeds_that_once_failed_pass() {
    for seed in ONCE_FAILED {
        scenario(seed);
    }
}

/// Seeds far past the fixed ones, a new window each run, taken from the
/// clock and printed: over many runs the hunt meets seeds no one tuned it
/// on. A failure prints the window, to replay with `CHORD_SEED_FIRST` and
/// `CHORD_SEED_COUNT` (the panic names the seed).
#[test]
fn a_fresh_window_of_seeds_passes() {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let first = 1_000_000 + (now % 1_000_000_000) * 100;
    let count = 100;
    eprintln!("fresh seeds: CHORD_SEED_FIRST={first} CHORD_SEED_COUNT={count}");
    for seed in first..first + count {
        scenario(seed);
    }
}

#[test]
fn a_seed_replays_the_same_trace() {
    let seed = env_number("CHORD_SEED_FIRST", 1);
    let once = scenario(seed);
    assert_eq!(once.len(), STEPS + STEPS / 10);
    assert_eq!(once, scenario(seed));
}
