//! A real partition, healed (`chord-lab partition`, `make partition`): eight
//! node processes in two network namespaces joined by a veth pair, one
//! ring; the link between the halves cut, writes on both sides, the link
//! restored; then the time until the halves are one ring again, and until
//! every key reads the same from every node (see [`chord::chord::merge`]).
//!
//! The halves are cut the way a failed switch or a firewall cuts them: by
//! default packets to the other side vanish, with no answer at all (each
//! namespace's neighbour entry for the other side points at a MAC address
//! no one has, so frames go out and are dropped by the other end's
//! interface). With `--cut unreachable`, `unreachable` routes make every
//! call across fail at once instead. The harness creates the namespaces,
//! the veth pair and the cut, and removes them when it ends, however it
//! ends. It needs root (`ip netns`), and says so without it.
//!
//! During the split, [`WRITERS`] threads on each side write through random
//! nodes of their own side, and the report gives, per side and per second
//! of the split, the writes attempted and acknowledged and the slowest.
//! The run passes when, after the first [`GRACE`] of the split, each side
//! acknowledged at least [`AVAILABLE`] of its writes, no write took longer
//! than the nodes' request timeout, and after the heal the ring is one and
//! every key agrees.
//!
//! The harness's own client connections enter a namespace per thread
//! (`setns(2)`); the nodes are started with `ip netns exec`.
//!
//! The checker: each side writes keys of its own, and both sides write a
//! set of shared keys, side A in the first half of the split and side B in
//! the second, so that B's writes are the later ones by any clock. After
//! the heal every key must read, from all eight nodes, the value of its
//! last acknowledged write (or of a later write that failed, which may
//! have landed); for shared keys that is B's.

use std::collections::HashMap;
use std::path::PathBuf;
use std::thread;
use std::time::{Duration, Instant};

use super::netns::{in_netns, ip, Network};
use super::nodes::{ring_size, Nodes, CALL_TIMEOUT};
use chord::client::Client;

/// How the halves are cut.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cut {
    /// Packets across vanish: no answer, no refusal (the default).
    Drop,
    /// Every packet across is refused at once (`ip route add unreachable`).
    Unreachable,
}

impl std::str::FromStr for Cut {
    type Err = String;

    fn from_str(text: &str) -> Result<Cut, String> {
        match text {
            "drop" => Ok(Cut::Drop),
            "unreachable" => Ok(Cut::Unreachable),
            other => Err(format!("--cut takes drop or unreachable, not {other:?}")),
        }
    }
}

/// Writer threads on each side during the split.
pub const WRITERS: usize = 4;

/// The start of the split that availability is not counted over: the
/// time to notice the other side is gone.
pub const GRACE: Duration = Duration::from_secs(5);

/// The share of writes each side must acknowledge after [`GRACE`].
pub const AVAILABLE: f64 = 0.95;

/// The nodes' request timeout: no write may take longer.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// What a run is asked to do.
#[derive(Clone)]
pub struct Settings {
    /// The `chord` binary the node processes run.
    pub exe: PathBuf,
    /// Nodes on each side.
    pub per_side: usize,
    /// How long the halves stay apart.
    pub split: Duration,
    /// Keys each side writes on its own, and keys both sides write.
    pub keys: usize,
    /// The nodes' stabilization period, in milliseconds.
    pub stabilize_ms: u64,
    /// Where node logs go.
    pub logs: String,
    /// How the halves are cut.
    pub cut: Cut,
}

/// The first port of each side's nodes; below 32768, in namespaces of
/// our own, so nothing else holds them.
const FIRST_PORT: u16 = 7001;

/// How long the heal may take, to one ring and to every key agreeing,
/// before the run gives up.
const HEAL_DEADLINE: Duration = Duration::from_secs(60);

/// Cuts the path between the sides as `how` says, or, with `cut`
/// false, restores it.
fn cut(network: &Network, how: Cut, cut: bool) -> Result<(), String> {
    for side in 0..2 {
        let ns = &network.sides[side];
        let other = &network.addrs[1 - side];
        match (how, cut) {
            (Cut::Unreachable, _) => {
                let verb = if cut { "add" } else { "del" };
                let route = format!("{other}/32");
                ip(&["-n", ns, "route", verb, "unreachable", &route])?;
            }
            // A locally administered MAC that no interface has: the
            // other end's veth drops every frame sent to it.
            (Cut::Drop, true) => ip(&[
                "-n",
                ns,
                "neigh",
                "replace",
                other,
                "lladdr",
                "02:00:00:00:0c:0d",
                "dev",
                &network.veth[side],
                "nud",
                "permanent",
            ])?,
            // Forgotten, the entry is learned again by ARP.
            (Cut::Drop, false) => {
                ip(&["-n", ns, "neigh", "del", other, "dev", &network.veth[side]])?;
            }
        }
    }
    Ok(())
}

/// One key's acceptable values: the last acknowledged write, and later
/// writes that failed.
#[derive(Clone, Debug, Default)]
struct Expected {
    acceptable: Vec<String>,
}

/// What one second of the split saw on one side.
#[derive(Clone, Copy, Debug, Default)]
struct Second {
    attempted: u64,
    acked: u64,
    slowest: Duration,
}

/// The writes of one side, second by second from `since`.
#[derive(Clone, Debug, Default)]
struct Tally {
    seconds: Vec<Second>,
}

impl Tally {
    /// Counts a write that started at `at` and took `took`.
    fn add(&mut self, since: Instant, at: Instant, took: Duration, acked: bool) {
        let second = at.saturating_duration_since(since).as_secs() as usize;
        if self.seconds.len() <= second {
            self.seconds.resize(second + 1, Second::default());
        }
        let s = &mut self.seconds[second];
        s.attempted += 1;
        s.acked += u64::from(acked);
        s.slowest = s.slowest.max(took);
    }

    fn merge(&mut self, other: &Tally) {
        if self.seconds.len() < other.seconds.len() {
            self.seconds.resize(other.seconds.len(), Second::default());
        }
        for (mine, theirs) in self.seconds.iter_mut().zip(&other.seconds) {
            mine.attempted += theirs.attempted;
            mine.acked += theirs.acked;
            mine.slowest = mine.slowest.max(theirs.slowest);
        }
    }

    /// Writes acknowledged and attempted from second `from` on.
    fn after(&self, from: usize) -> (u64, u64) {
        self.seconds
            .iter()
            .skip(from)
            .fold((0, 0), |(a, t), s| (a + s.acked, t + s.attempted))
    }

    fn slowest(&self) -> Duration {
        self.seconds
            .iter()
            .map(|s| s.slowest)
            .max()
            .unwrap_or_default()
    }
}

/// Writes `keys` over and over until `until`, each through a node of
/// `nodes` picked at random (from inside the namespace the caller is in),
/// with `tag` in each value. Each write is counted in `tally` at its
/// second since `since`; `expected` keeps each key's acceptable values.
#[allow(clippy::too_many_arguments)]
fn write_keys(
    nodes: &[String],
    keys: &[String],
    tag: &str,
    seed: u64,
    since: Instant,
    until: Instant,
    expected: &mut HashMap<String, Expected>,
    tally: &mut Tally,
) {
    let mut clients: HashMap<String, Client> = HashMap::new();
    let mut rng = chord::rng::Rng::new(seed);
    let mut sequence = 0u64;
    while Instant::now() < until {
        for key in keys {
            if Instant::now() >= until {
                break;
            }
            sequence += 1;
            let value = format!("{tag}.{sequence}");
            let at = &nodes[rng.below(nodes.len())];
            let start = Instant::now();
            let answer = match clients.get_mut(at) {
                Some(c) => c.line(&format!("PUT {key} {value}")),
                None => match Client::connect(at, CALL_TIMEOUT) {
                    Ok(mut c) => {
                        let answer = c.line(&format!("PUT {key} {value}"));
                        clients.insert(at.clone(), c);
                        answer
                    }
                    Err(e) => Err(e),
                },
            };
            let entry = expected.entry(key.clone()).or_default();
            let acked = matches!(&answer, Ok(a) if a == "OK");
            tally.add(since, start, start.elapsed(), acked);
            match answer {
                Ok(_) if acked => entry.acceptable = vec![value],
                Ok(_) => entry.acceptable.push(value),
                Err(_) => {
                    clients.remove(at);
                    entry.acceptable.push(value);
                }
            }
            thread::sleep(Duration::from_millis(10));
        }
    }
}

/// Reads every key of `expected` from every node of `nodes`; how many
/// keys do not read the same acceptable value everywhere.
fn disagreeing(nodes: &[String], expected: &HashMap<String, Expected>) -> usize {
    let mut clients: HashMap<String, Client> = HashMap::new();
    let mut wrong = 0;
    for (key, want) in expected {
        let mut seen: Option<String> = None;
        let mut agree = true;
        for at in nodes {
            let client = match clients.get_mut(at) {
                Some(c) => c,
                None => match Client::connect(at, CALL_TIMEOUT) {
                    Ok(c) => clients.entry(at.clone()).or_insert(c),
                    Err(_) => {
                        agree = false;
                        break;
                    }
                },
            };
            let got = client
                .line(&format!("GET {key}"))
                .unwrap_or_default()
                .strip_prefix("VALUE ")
                .map(str::to_string);
            let fine = got.as_ref().is_some_and(|v| want.acceptable.contains(v))
                && (seen.is_none() || seen == got);
            if !fine {
                agree = false;
                break;
            }
            seen = got;
        }
        if !agree {
            wrong += 1;
        }
    }
    wrong
}

/// Runs the experiment; whether every key agreed after the heal.
///
/// # Errors
/// Not root, `ip` missing, a node that would not start, a ring that never
/// formed.
pub fn partition(settings: &Settings) -> Result<bool, String> {
    // SAFETY: geteuid(2) has no arguments and cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        return Err(
            "make partition needs root: it creates network namespaces and a veth pair (ip netns). \
             Run it as root, or in a container that allows it"
                .into(),
        );
    }
    let network = Network::create(["10.231.7.1", "10.231.7.2"], 24)?;
    let nodes = Nodes::new(&settings.exe, 3, settings.stabilize_ms, &settings.logs)?;
    let mut sides: [Vec<String>; 2] = [Vec::new(), Vec::new()];
    for (side, ns) in network.sides.iter().enumerate() {
        for i in 0..settings.per_side {
            let port = FIRST_PORT + i as u16;
            let addr = format!("{}:{port}", network.addrs[side]);
            let join = sides[0].first().cloned();
            nodes.start_at(&addr, join.as_deref(), Some(ns))?;
            sides[side].push(addr);
            if join.is_none() {
                thread::sleep(Duration::from_millis(300));
            }
        }
    }
    let all: Vec<String> = sides.concat();
    let first = all[0].clone();
    let total = all.len();
    let ring_of = |side: usize, addr: String| -> Result<usize, String> {
        in_netns(&network.sides[side], move || ring_size(&addr).unwrap_or(0))
    };
    let formed = Instant::now() + Duration::from_secs(60);
    while ring_of(0, first.clone())? != total {
        if Instant::now() > formed {
            return Err(format!("the ring of {total} did not form in 60 s"));
        }
        thread::sleep(Duration::from_millis(100));
    }
    println!(
        "partition: {total} nodes, {} in {} and {} in {}, one ring",
        settings.per_side, network.sides[0], settings.per_side, network.sides[1]
    );
    let key_set = |prefix: &str| -> Vec<String> {
        (0..settings.keys)
            .map(|i| format!("{prefix}-{i}"))
            .collect()
    };
    // Before the split: keys written while the ring is whole.
    let mut expected: HashMap<String, Expected> = HashMap::new();
    {
        let (nodes_a, keys) = (sides[0].clone(), key_set("before"));
        let now = Instant::now();
        let until = now + Duration::from_secs(2);
        let written = in_netns(&network.sides[0], move || {
            let (mut mine, mut tally) = (HashMap::new(), Tally::default());
            write_keys(
                &nodes_a, &keys, "before", 0, now, until, &mut mine, &mut tally,
            );
            mine
        })?;
        expected.extend(written);
    }
    cut(&network, settings.cut, true)?;
    let split_at = Instant::now();
    println!(
        "split for {:?} ({}); {WRITERS} writers on each side",
        settings.split,
        match settings.cut {
            Cut::Drop => "packets across dropped",
            Cut::Unreachable => "routes across unreachable",
        }
    );
    let half = split_at + settings.split / 2;
    let end = split_at + settings.split;
    let mut writers = Vec::new();
    for (side, (ns, side_nodes)) in network.sides.iter().zip(&sides).enumerate() {
        for writer in 0..WRITERS {
            let (ns, side_nodes) = (ns.clone(), side_nodes.clone());
            let name = if side == 0 { "a" } else { "b" };
            let own = key_set(&format!("only-{name}{writer}"));
            // One writer on each side writes the shared keys: side A's in
            // the first half, side B's in the second, so B's are the later
            // writes.
            let shared = if writer == 0 {
                key_set("both")
            } else {
                Vec::new()
            };
            let tag = format!("{name}{writer}");
            let seed = (side * WRITERS + writer) as u64 + 1;
            writers.push((
                side,
                thread::spawn(move || {
                    in_netns(&ns, move || {
                        let (mut mine, mut tally) = (HashMap::new(), Tally::default());
                        let (first_keys, second_keys) = if side == 0 {
                            ([own.clone(), shared].concat(), own)
                        } else {
                            (own.clone(), [own, shared].concat())
                        };
                        let (mine_ref, tally_ref) = (&mut mine, &mut tally);
                        write_keys(
                            &side_nodes,
                            &first_keys,
                            &tag,
                            seed,
                            split_at,
                            half,
                            mine_ref,
                            tally_ref,
                        );
                        write_keys(
                            &side_nodes,
                            &second_keys,
                            &tag,
                            seed,
                            split_at,
                            end,
                            mine_ref,
                            tally_ref,
                        );
                        (tally, mine)
                    })
                }),
            ));
        }
    }
    let mut tallies = [Tally::default(), Tally::default()];
    let mut shared_from_a: HashMap<String, Expected> = HashMap::new();
    for (side, writer) in writers {
        let (tally, mine) = writer
            .join()
            .map_err(|_| "a writer thread panicked".to_string())??;
        tallies[side].merge(&tally);
        for (key, want) in mine {
            if side == 0 && key.starts_with("both-") {
                shared_from_a.insert(key, want);
            } else {
                expected.insert(key, want);
            }
        }
    }
    // A shared key B never managed to write keeps A's value.
    for (key, want) in shared_from_a {
        expected.entry(key).or_insert(want);
    }
    let during = [
        ring_of(0, sides[0][0].clone())?,
        ring_of(1, sides[1][0].clone())?,
    ];
    cut(&network, settings.cut, false)?;
    let healed = Instant::now();
    println!(
        "healed; during the split the rings had {} and {} nodes",
        during[0], during[1]
    );
    let mut one_ring: Option<Duration> = None;
    let mut agreed: Option<Duration> = None;
    let mut wrong = expected.len();
    while healed.elapsed() < HEAL_DEADLINE && agreed.is_none() {
        if one_ring.is_none()
            && ring_of(0, sides[0][0].clone())? == total
            && ring_of(1, sides[1][0].clone())? == total
        {
            one_ring = Some(healed.elapsed());
            println!(
                "one ring of {total} after {:.1} s",
                healed.elapsed().as_secs_f64()
            );
        }
        if one_ring.is_some() {
            let (everyone, keys) = (all.clone(), expected.clone());
            wrong = in_netns(&network.sides[0], move || disagreeing(&everyone, &keys))?;
            if wrong == 0 {
                agreed = Some(healed.elapsed());
            }
        }
        thread::sleep(Duration::from_millis(250));
    }
    let seconds = |d: Option<Duration>| {
        d.map_or("never (60 s)".to_string(), |d| {
            format!("{:.1} s", d.as_secs_f64())
        })
    };
    println!("--- partition report ---");
    println!("split {:?}, {} keys per set", settings.split, settings.keys);
    report_seconds(&tallies);
    let grace = GRACE.as_secs() as usize;
    let mut available = true;
    for (side, tally) in tallies.iter().enumerate() {
        let (acked, attempted) = tally.after(grace);
        let share = acked as f64 / attempted.max(1) as f64;
        let slowest = tally.slowest();
        println!(
            "side {}: after the first {grace} s, {acked} of {attempted} writes acknowledged ({:.1}%); \
             slowest write {:.2} s",
            ["A", "B"][side],
            100.0 * share,
            slowest.as_secs_f64()
        );
        available &= share >= AVAILABLE && slowest <= REQUEST_TIMEOUT;
    }
    println!("heal to one ring: {}", seconds(one_ring));
    println!(
        "heal to every key agreeing on all {total} nodes: {}",
        seconds(agreed)
    );
    println!(
        "keys checked={} disagreeing or wrong at the end={wrong}",
        expected.len()
    );
    if !available {
        println!(
            "FAILED: a side acknowledged fewer than {:.0}% of its writes after {grace} s, \
             or a write took longer than the request timeout ({} s)",
            100.0 * AVAILABLE,
            REQUEST_TIMEOUT.as_secs()
        );
    }
    drop(nodes);
    drop(network);
    Ok(agreed.is_some() && available)
}

/// Prints, per second of the split, each side's writes attempted and
/// acknowledged and its slowest.
fn report_seconds(tallies: &[Tally; 2]) {
    println!("second   side A: tried  acked  slowest ms   side B: tried  acked  slowest ms");
    let seconds = tallies[0].seconds.len().max(tallies[1].seconds.len());
    for second in 0..seconds {
        let cell = |t: &Tally| {
            let s = t.seconds.get(second).copied().unwrap_or_default();
            format!(
                "{:>13} {:>6} {:>10}",
                s.attempted,
                s.acked,
                s.slowest.as_millis()
            )
        };
        println!("{second:>6} {}   {}", cell(&tallies[0]), cell(&tallies[1]));
    }
}
