//! The `chord-lab` command line: measure a ring from outside. The
//! measurements themselves live in the `chord-lab` crate (`lab/`); what
//! remains here is the glue of each command, and `hops`'s measurement.
//!
//! - `chord-lab hops`: LOOKUP random keys at random nodes and report the
//!   mean hop count next to the paper's ½·log2 N.
//! - `chord-lab churn`: start node processes, run a checked workload while
//!   killing and starting nodes, report lost writes, stale reads,
//!   availability and latency (see [`chord_lab::harness::churn`]).
//! - `chord-lab partition`: cut a ring in two, write on both sides, heal.
//! - `chord-lab deploy`: the docs' recipe for several machines, over IPv6 between namespaces.
//! - `chord-lab massive`: the paper's simultaneous-failure experiment.
//! - `chord-lab crash`: a durable ring killed whole, started again, read back.
//! - `chord-lab attack`: run the attacks of [`chord_lab::harness::attack`]
//!   against a running ring and report what each achieved.
//! - `chord-lab fill`: write large values until a node answers out of
//!   memory.
//! - `chord-lab fuzz`: feed random and mutated bytes to every parser.
//! - `chord-lab locks`: the longest store-lock hold at a node with many
//!   keys.
//! - `chord-lab bench`: chord against Redis under redis-benchmark.
//! - `chord-lab sim`: the paper's simulation experiments, as CSV and SVG.
//! - `chord-lab draw`: a running ring as SVG.
//!
//! The harnesses start the `chord` binary beside this one as their nodes.

use std::process::ExitCode;
use std::thread;
use std::time::{Duration, Instant};

mod common;

use chord::auth::Secret;
use chord::client::{self, Client};
use chord::IdSpace;
use chord_lab::harness::{churn, crash, massive};
use common::{optional, print_lines, required, switch, with_default, Command, Parsed, Program};

fn main() -> ExitCode {
    // Fuzzed nodes log every refusal: format every line, as a node does,
    // so that printing what came from the wire is fuzzed too, but write it
    // nowhere.
    common::main(
        &LAB,
        |name| name == "fuzz",
        |parsed| match parsed.command.name {
            "hops" => hops(parsed),
            "churn" => run_churn(parsed),
            "partition" => run_partition(parsed),
            "deploy" => run_deploy(parsed),
            "massive" => run_massive(parsed),
            "crash" => run_crash(parsed),
            "attack" => attack(parsed),
            "fill" => fill(parsed),
            "fuzz" => fuzz(parsed),
            "locks" => locks(parsed),
            "bench" => bench(parsed),
            "sim" => sim(parsed),
            "draw" => draw(parsed),
            other => Err(format!(
                "chord-lab {other} is in the table but not wired up"
            )),
        },
    )
}

/// The commands and their flags.
const LAB: Program = Program {
    name: "chord-lab",
    about: "what measures a chord ring: churn, partitions, attacks, the paper's simulations",
    commands: &[
        Command {
            name: "hops",
            about: "LOOKUP random keys at random nodes of a ring; print the mean hop count",
            flags: &[
                required("addr", "HOST:PORT", "any node of the ring"),
                with_default("keys", "N", "how many keys to look up", "1000"),
                with_default("seed", "N", "seed for the random keys and nodes", "1"),
                with_default(
                    "settle-s",
                    "S",
                    "first wait up to this long for every finger table to be correct",
                    "60",
                ),
            ],
            free: None,
        },
        Command {
            name: "churn",
            about: "Start nodes on loopback, run a checked workload, kill and start nodes meanwhile; report",
            flags: &[
                with_default("nodes", "N", "nodes at the start", "16"),
                with_default("replicas", "R", "nodes that hold each key", "3"),
                with_default("duration-s", "S", "how long the churn and workload run", "60"),
                with_default("kill-every-ms", "MS", "SIGKILL nodes this often (0: never)", "2000"),
                with_default("join-every-ms", "MS", "start a node this often (0: never)", "2000"),
                with_default("at-once", "K", "nodes killed each time", "1"),
                switch(
                    "freeze",
                    "stop nodes with SIGSTOP for 5 to 15 s and resume them, instead of killing them",
                ),
                switch(
                    "restart",
                    "start each killed node again at once on its port, with an empty store",
                ),
                switch(
                    "durable",
                    "give each node a data directory (under --logs), and restart killed nodes with it",
                ),
                with_default("fsync", "POLICY", "with --durable: the nodes' --fsync", "everysec"),
                switch(
                    "to-owner",
                    "send each request first to its key's owner among the running nodes, as a cluster client does",
                ),
                with_default("rate", "OPS", "workload operations a second, all threads", "200"),
                with_default("keys", "N", "distinct keys the workload uses", "2000"),
                with_default("threads", "T", "workload threads (each owns its keys)", "4"),
                with_default("seed", "N", "seed for every random choice", "1"),
                with_default("stabilize-ms", "MS", "the nodes' stabilization period", "250"),
                with_default("logs", "DIR", "where node logs go", ".churn"),
            ],
            free: None,
        },
        Command {
            name: "deploy",
            about: "Follow the docs' recipe for a ring on several machines, over IPv6 between two network namespaces (root)",
            flags: &[with_default("logs", "DIR", "where the nodes' logs and the secret go", ".deploy")],
            free: None,
        },
        Command {
            name: "partition",
            about: "Split a ring between two network namespaces, write on both sides, heal; time the merge (root)",
            flags: &[
                with_default("per-side", "N", "nodes on each side", "4"),
                with_default("split-s", "S", "how long the sides stay apart", "40"),
                with_default(
                    "cut",
                    "HOW",
                    "drop (packets vanish) or unreachable (refused at once)",
                    "drop",
                ),
                with_default("keys", "N", "keys in each set (each side's, and shared)", "50"),
                with_default("stabilize-ms", "MS", "the nodes' stabilization period", "250"),
                with_default("logs", "DIR", "where node logs go", ".churn"),
            ],
            free: None,
        },
        Command {
            name: "massive",
            about: "Kill a fraction of a ring's nodes at once; report failed lookups and lost keys",
            flags: &[
                with_default("nodes", "N", "nodes in the ring", "32"),
                with_default("replicas", "R", "nodes that hold each key", "3"),
                with_default("fraction", "P", "the share of nodes killed at once", "0.25"),
                with_default("keys", "N", "keys written before the failure", "2000"),
                with_default("lookups", "N", "lookups in each phase", "1000"),
                with_default("seed", "N", "seed for every random choice", "1"),
                with_default("stabilize-ms", "MS", "the nodes' stabilization period", "250"),
                with_default("logs", "DIR", "where node logs go", ".churn"),
            ],
            free: None,
        },
        Command {
            name: "crash",
            about: "Kill every node of a durable ring at once, start them again, and read back every acknowledged write",
            flags: &[
                with_default("nodes", "N", "nodes in the ring", "8"),
                with_default("replicas", "R", "nodes that hold each key", "3"),
                with_default(
                    "fsync",
                    "POLICIES",
                    "the --fsync policies to crash under, comma-separated",
                    "always,everysec,no",
                ),
                with_default("runs", "N", "crashes per policy", "3"),
                with_default("writers", "N", "clients writing at once", "4"),
                with_default("writing-s", "S", "how long they write before the crash", "5"),
                with_default("stabilize-ms", "MS", "the nodes' stabilization period", "250"),
                with_default("logs", "DIR", "where node logs and data directories go", ".churn"),
            ],
            free: None,
        },
        Command {
            name: "attack",
            about: "Attack a running ring as a stranger would; report what each attack achieved",
            flags: &[
                required("addr", "HOST:PORT", "any node of the ring"),
                with_default("bits", "M", "the ring's identifiers have M bits", "160"),
                optional(
                    "as-member",
                    "PATH",
                    "attack as a member holding this secret file (malformed frames only)",
                ),
                with_default("stalls", "N", "connections that send NUL and stall", "500"),
            ],
            free: None,
        },
        Command {
            name: "fill",
            about: "Write values through a node until it answers out of memory; then read some back",
            flags: &[
                required("addr", "HOST:PORT", "the node to write through"),
                with_default("kib", "K", "the size of each value, KiB (at most 64)", "64"),
                with_default("limit", "N", "stop after this many writes", "100000"),
                with_default(
                    "rewrites",
                    "N",
                    "then write every acknowledged key again, N times",
                    "3",
                ),
            ],
            free: None,
        },
        Command {
            name: "draw",
            about: "Draw a running ring as SVG on standard output: nodes, arcs, one node's fingers",
            flags: &[
                optional("addr", "HOST:PORT", "any node of the ring"),
                switch(
                    "paper",
                    "draw the paper's own ring instead (m = 6, Figures 2 and 4), rebuilt in memory",
                ),
                optional("bits", "M", "draw as if identifiers had M bits [default: the node's m]"),
                optional("fingers-of", "HOST:PORT", "whose fingers to draw [default: --addr]"),
                with_default("size", "PIXELS", "the picture's width and height", "1000"),
            ],
            free: None,
        },
        Command {
            name: "sim",
            about: "Run the paper's simulation experiments on the in-memory network; write CSV and SVG",
            flags: &[
                with_default("figure", "NAME", "path-length, load, failures, churn, or all", "all"),
                with_default("seed", "N", "seed for every random choice", "1"),
                with_default("out", "DIR", "where the CSV and SVG files go", "figures"),
                with_default("scale", "SCALE", "paper (the paper's sizes) or small", "paper"),
            ],
            free: None,
        },
        Command {
            name: "bench",
            about: "Run redis-benchmark against redis-server, one node and a ring, alternating; print ratios",
            flags: &[
                with_default("rounds", "N", "runs of each case on each system", "3"),
                with_default("requests", "N", "requests per run at 50 connections", "100000"),
                with_default("ring-nodes", "N", "nodes in the ring", "8"),
                optional("only", "TEXT", "only the cases whose name contains TEXT, e.g. \"node set\""),
            ],
            free: None,
        },
        Command {
            name: "locks",
            about: "Measure the longest store-lock hold of each kind of work at a node with many keys",
            flags: &[with_default("keys", "N", "keys each node holds", "1000000")],
            free: None,
        },
        Command {
            name: "fuzz",
            about: "Feed random and mutated bytes to every parser; save inputs that panic",
            flags: &[
                with_default("target", "NAME", "frame, peer, text, handshake, or all", "all"),
                with_default("inputs", "N", "inputs per target", "1000000"),
                with_default("seed", "N", "seed for the inputs", "1"),
                with_default("crashes", "DIR", "where inputs that panic are saved", "tests/fuzz"),
            ],
            free: None,
        },
    ],
};

const CLIENT_TIMEOUT: Duration = Duration::from_secs(30);

/// An identifier as printed (decimal for m <= 64, else fixed-width hex),
/// padded so that string order is numeric order within one ring.
fn ring_order(id: &str) -> String {
    format!("{id:0>48}")
}

/// Whether every finger of every node is `successor(start)` on the ring
/// that `ring` lists (`<id> <addr> owned=<n> replicas=<n>` lines).
fn fingers_settled(ring: &[String]) -> Result<bool, String> {
    let mut ids: Vec<String> = ring
        .iter()
        .filter_map(|line| line.split_whitespace().next().map(ring_order))
        .collect();
    ids.sort();
    let successor = |start: &str| {
        let start = ring_order(start);
        ids.iter()
            .find(|id| **id >= start)
            .unwrap_or(&ids[0])
            .clone()
    };
    for line in ring {
        let addr = line
            .split_whitespace()
            .nth(1)
            .ok_or("a RING line without an address")?;
        let mut client =
            Client::connect(addr, CLIENT_TIMEOUT).map_err(|e| format!("{addr}: {e}"))?;
        for finger in client
            .request("FINGERS FULL")
            .map_err(|e| format!("{addr}: {e}"))?
        {
            let words: Vec<&str> = finger.split_whitespace().collect();
            match words.as_slice() {
                [_, start, node, _] if ring_order(node) == successor(start) => {}
                _ => return Ok(false),
            }
        }
    }
    Ok(true)
}

fn hops(args: &Parsed) -> Result<(), String> {
    let addr: String = args.get("addr")?;
    let keys: usize = args.get("keys")?;
    let seed: u64 = args.get("seed")?;
    let settle = Duration::from_secs(args.get("settle-s")?);
    let ring_lines = client::ring(&addr, CLIENT_TIMEOUT)?;
    let nodes: Vec<String> = ring_lines
        .iter()
        .filter_map(|line| line.split_whitespace().nth(1).map(str::to_string))
        .collect();
    if nodes.is_empty() || keys == 0 {
        return Err(format!(
            "nothing to measure: {} nodes, {keys} keys",
            nodes.len()
        ));
    }
    // Path length is a property of a settled ring: wait until every finger
    // table is what the ring's membership says it should be.
    let started = Instant::now();
    while !fingers_settled(&ring_lines)? {
        if started.elapsed() > settle {
            return Err(format!("finger tables still changing after {settle:?}"));
        }
        thread::sleep(Duration::from_millis(100));
    }
    let settled_after = started.elapsed();
    let mut clients = Vec::new();
    for node in &nodes {
        clients.push(Client::connect(node, CLIENT_TIMEOUT).map_err(|e| format!("{node}: {e}"))?);
    }
    let mut rng = chord_lab::harness::Rng::new(seed);
    let mut samples: Vec<u32> = Vec::with_capacity(keys);
    for _ in 0..keys {
        let key = format!("key-{:016x}", rng.next_u64());
        let at = rng.below(nodes.len());
        let line = clients[at]
            .line(&format!("LOOKUP {key}"))
            .map_err(|e| e.to_string())?;
        let hops = line
            .split_whitespace()
            .find_map(|word| word.strip_prefix("hops="))
            .and_then(|n| n.parse::<u32>().ok())
            .ok_or_else(|| format!("{}: unexpected answer {line:?}", nodes[at]))?;
        samples.push(hops);
    }
    samples.sort_unstable();
    let mean = samples.iter().map(|&h| f64::from(h)).sum::<f64>() / samples.len() as f64;
    let half_log = 0.5 * (nodes.len() as f64).log2();
    let report = [
        format!(
            "nodes={} lookups={} fingers_settled_after_ms={}",
            nodes.len(),
            samples.len(),
            settled_after.as_millis()
        ),
        format!(
            "mean_hops={mean:.3} median_hops={} p99_hops={} max_hops={}",
            samples[samples.len() / 2],
            samples[(samples.len() * 99 / 100).min(samples.len() - 1)],
            samples[samples.len() - 1]
        ),
        format!(
            "paper_half_log2_n={half_log:.3} ratio={:.3}",
            mean / half_log
        ),
    ];
    print_lines(report.iter().map(String::as_str))
}

/// An optional period: 0 means never.
fn every(args: &Parsed, name: &str) -> Result<Option<Duration>, String> {
    let ms: u64 = args.get(name)?;
    Ok((ms > 0).then(|| Duration::from_millis(ms)))
}

/// The `chord` binary beside this one, which the harnesses start as node
/// processes.
fn chord_binary() -> Result<std::path::PathBuf, String> {
    let me = std::env::current_exe().map_err(|e| format!("finding chord-lab: {e}"))?;
    let chord = me.with_file_name("chord");
    if chord.is_file() {
        Ok(chord)
    } else {
        Err(format!(
            "{} is missing: the harnesses run it as their nodes; build both with cargo build --release",
            chord.display()
        ))
    }
}

fn run_churn(args: &Parsed) -> Result<(), String> {
    let settings = churn::Settings {
        exe: chord_binary()?,
        nodes: args.at_least("nodes", 1)?,
        replicas: args.get("replicas")?,
        duration: Duration::from_secs(args.get("duration-s")?),
        kill_every: every(args, "kill-every-ms")?,
        fault: match (
            args.is_on("freeze"),
            args.is_on("restart") || args.is_on("durable"),
        ) {
            (true, true) => return Err("--freeze does not go with --restart or --durable".into()),
            (true, false) => churn::Fault::Freeze,
            (false, true) => churn::Fault::Restart,
            (false, false) => churn::Fault::Kill,
        },
        durable: args
            .is_on("durable")
            .then(|| args.get::<String>("fsync"))
            .transpose()?,
        join_every: every(args, "join-every-ms")?,
        at_once: args.get("at-once")?,
        rate: args.get("rate")?,
        keys: args.at_least("keys", 1)?,
        threads: args.at_least("threads", 1)?,
        seed: args.get("seed")?,
        stabilize_ms: args.at_least("stabilize-ms", 1)?,
        logs: args.get("logs")?,
        to_owner: args.is_on("to-owner"),
    };
    if churn::churn(&settings)? {
        Ok(())
    } else {
        Err("acknowledged writes were lost".into())
    }
}

fn run_deploy(args: &Parsed) -> Result<(), String> {
    let logs: String = args.get("logs")?;
    if chord_lab::harness::deploy::deploy(&chord_binary()?, std::path::Path::new(&logs))? {
        Ok(())
    } else {
        Err("the recipe did not work as the docs say: see the lines marked FAIL".into())
    }
}

fn run_partition(args: &Parsed) -> Result<(), String> {
    let settings = chord_lab::harness::partition::Settings {
        exe: chord_binary()?,
        per_side: args.at_least("per-side", 1)?,
        split: Duration::from_secs(args.at_least("split-s", 1)?),
        keys: args.at_least("keys", 1)?,
        stabilize_ms: args.at_least("stabilize-ms", 1)?,
        logs: args.get("logs")?,
        cut: args.get("cut")?,
    };
    if chord_lab::harness::partition::partition(&settings)? {
        Ok(())
    } else {
        Err("the partition run failed: see the report above".into())
    }
}

fn run_crash(args: &Parsed) -> Result<(), String> {
    let policies: Vec<String> = args
        .get::<String>("fsync")?
        .split(',')
        .map(str::to_string)
        .collect();
    for policy in &policies {
        policy.parse::<chord::disk::Fsync>()?;
    }
    let settings = crash::CrashSettings {
        exe: chord_binary()?,
        nodes: args.at_least("nodes", 1)?,
        replicas: args.get("replicas")?,
        policies,
        runs: args.at_least("runs", 1)?,
        writers: args.at_least("writers", 1)?,
        writing: Duration::from_secs(args.get("writing-s")?),
        stabilize_ms: args.at_least("stabilize-ms", 1)?,
        logs: args.get("logs")?,
    };
    if crash::crash(&settings)? {
        Ok(())
    } else {
        Err("acknowledged writes were lost".into())
    }
}

fn run_massive(args: &Parsed) -> Result<(), String> {
    let fraction: f64 = args.get("fraction")?;
    if !(0.0..1.0).contains(&fraction) {
        return Err(format!("--fraction must be in [0, 1), not {fraction}"));
    }
    massive::massive(&massive::MassiveSettings {
        exe: chord_binary()?,
        nodes: args.at_least("nodes", 2)?,
        replicas: args.get("replicas")?,
        fraction,
        keys: args.at_least("keys", 1)?,
        lookups: args.at_least("lookups", 1)?,
        seed: args.get("seed")?,
        stabilize_ms: args.at_least("stabilize-ms", 1)?,
        logs: args.get("logs")?,
    })
}

fn attack(args: &Parsed) -> Result<(), String> {
    use chord_lab::harness::attack;
    let addr: String = args.get("addr")?;
    let space = IdSpace::new(args.get("bits")?).map_err(|e| e.to_string())?;
    let secret = match args.optional("as-member") {
        Some(path) => Some(Secret::from_file(path.as_ref()).map_err(|e| e.to_string())?),
        None => None,
    };
    let addrs: Vec<String> = client::ring(&addr, CLIENT_TIMEOUT)?
        .iter()
        .filter_map(|line| line.split_whitespace().nth(1).map(str::to_string))
        .collect();
    attack::plant_canaries(&addrs)?;
    let target = attack::Target {
        addrs: addrs.clone(),
        space,
        secret,
        stalls: args.get("stalls")?,
    };
    let outcomes = attack::run_all(&target);
    let changed = attack::canaries_changed(&addrs);
    let mut lines = Vec::new();
    for o in &outcomes {
        let verdict = if o.withstood { "withstood" } else { "FAILED" };
        lines.push(format!(
            "{verdict:<9} {:<44} past_handshake={} {}",
            o.name, o.past_handshake, o.detail
        ));
    }
    lines.push(format!(
        "canaries changed or lost: {changed} of {}",
        attack::CANARIES
    ));
    print_lines(lines.iter().map(String::as_str))?;
    if changed > 0 || outcomes.iter().any(|o| !o.withstood) {
        return Err("the ring did not withstand every attack".into());
    }
    Ok(())
}

fn fill(args: &Parsed) -> Result<(), String> {
    let addr: String = args.get("addr")?;
    let kib: usize = args.at_least("kib", 1)?;
    let started = Instant::now();
    let (acknowledged, refusal, failed) = chord_lab::harness::attack::fill(
        &addr,
        kib * 1024,
        args.get("limit")?,
        args.get("rewrites")?,
    )?;
    print_lines([
        format!(
            "acknowledged={acknowledged} seconds={:.1}",
            started.elapsed().as_secs_f64()
        )
        .as_str(),
        format!("refusal={refusal}").as_str(),
        format!("failed_rewrites_or_reads={failed}").as_str(),
    ])
}

fn draw(args: &Parsed) -> Result<(), String> {
    use chord::server::svg::{position, ring_svg, Point};
    if args.is_on("paper") {
        let svg = chord_lab::sim::paper::figure(args.at_least("size", 200)?)?;
        return print_lines([svg.as_str()]);
    }
    let addr: String = args
        .optional("addr")
        .ok_or("give --addr HOST:PORT, a node of the ring to draw, or --paper")?;
    let chosen = args.optional("fingers-of").unwrap_or_else(|| addr.clone());
    let mut client = Client::connect(&chosen, CLIENT_TIMEOUT)
        .map_err(|e| format!("cannot reach {chosen} ({e}); is a node running there?"))?;
    let node = client
        .request("NODE")
        .map_err(|e| format!("{chosen}: {e}"))?;
    let theirs: Option<u8> = node
        .iter()
        .find_map(|line| line.strip_prefix("bits ")?.parse().ok());
    let bits: u8 = match (args.optional("bits"), theirs) {
        (None, Some(m)) => m,
        (None, None) => return Err(format!("{chosen} did not say its ring's m; give --bits")),
        (Some(given), theirs) => {
            let given: u8 = given
                .parse()
                .map_err(|_| format!("--bits takes a number of bits, not {given:?}"))?;
            if let Some(m) = theirs.filter(|m| *m != given) {
                eprintln!("chord-lab draw: warning: --bits {given}, but the ring's m is {m}; the nodes will be placed as if it were {given}");
            }
            given
        }
    };
    let place = |id: &str| position(id, bits).ok_or_else(|| format!("not an identifier: {id:?}"));
    let mut nodes = Vec::new();
    for line in client::ring(&addr, CLIENT_TIMEOUT)? {
        let words: Vec<&str> = line.split_whitespace().collect();
        let [id, node, owned, replicas] = words[..] else {
            return Err(format!("an unexpected RING line: {line:?}"));
        };
        let count = |word: &str, name: &str| {
            word.strip_prefix(name)
                .and_then(|k| k.parse().ok())
                .unwrap_or(0)
        };
        let keys = Some(count(owned, "owned=") + count(replicas, "replicas="));
        let short: String = id.chars().take(6).collect();
        let port = node.rsplit(':').next().unwrap_or(node);
        let label = format!("{short} :{port}");
        nodes.push((
            node.to_string(),
            Point {
                at: place(id)?,
                label,
                keys,
            },
        ));
    }
    nodes.sort_by(|a, b| a.1.at.total_cmp(&b.1.at));
    let mut targets: Vec<f64> = Vec::new();
    for line in client
        .request("FINGERS FULL")
        .map_err(|e| format!("{chosen}: {e}"))?
    {
        if let Some(id) = line.split_whitespace().nth(2).filter(|w| *w != "none") {
            let at = place(id)?;
            if !targets.contains(&at) {
                targets.push(at);
            }
        }
    }
    let index = nodes.iter().position(|(a, _)| *a == chosen);
    let points: Vec<Point> = nodes.into_iter().map(|(_, p)| p).collect();
    let svg = ring_svg(
        &points,
        index.map(|i| (i, targets)),
        args.at_least("size", 200)?,
    )?;
    print_lines([svg.as_str()])
}

fn sim(args: &Parsed) -> Result<(), String> {
    use chord_lab::sim::figures::{self, Scale, FIGURES};
    use chord_lab::sim::plot;
    let figure: String = args.get("figure")?;
    let seed: u64 = args.get("seed")?;
    let out: String = args.get("out")?;
    let scale = match args.get::<String>("scale")?.as_str() {
        "paper" => Scale::Paper,
        "small" => Scale::Small,
        other => return Err(format!("--scale takes paper or small, not {other:?}")),
    };
    let names: Vec<&str> = if figure == "all" {
        FIGURES.to_vec()
    } else {
        vec![figure.as_str()]
    };
    std::fs::create_dir_all(&out).map_err(|e| format!("creating {out}: {e}"))?;
    for name in names {
        let started = Instant::now();
        let mut events = 0;
        for output in figures::run(name, seed, scale)? {
            events += output.events;
            let path = std::path::Path::new(&out).join(&output.file);
            std::fs::write(&path, &output.csv)
                .map_err(|e| format!("writing {}: {e}", path.display()))?;
            println!("{}", path.display());
            for chart in plot::CHARTS.iter().filter(|c| c.csv == output.file) {
                let svg = std::path::Path::new(&out).join(chart.svg);
                std::fs::write(&svg, plot::draw(chart, &output.csv)?)
                    .map_err(|e| format!("writing {}: {e}", svg.display()))?;
                println!("{}", svg.display());
            }
        }
        let seconds = started.elapsed().as_secs_f64();
        // On standard error: the speed varies from run to run, the files
        // must not.
        if events == 0 {
            // The load figure places keys by identifier: no network.
            eprintln!("{name}: {seconds:.1} s");
        } else {
            eprintln!(
                "{name}: {seconds:.1} s, {events} simulated events ({:.0} a second)",
                events as f64 / seconds.max(1e-9)
            );
        }
    }
    Ok(())
}

fn bench(args: &Parsed) -> Result<(), String> {
    let options = chord_lab::harness::versus::Options {
        exe: chord_binary()?,
        rounds: args.at_least("rounds", 1)?,
        requests: args.at_least("requests", 1000)?,
        ring_nodes: args.at_least("ring-nodes", 1)?,
        only: args.optional("only"),
    };
    let (table, passed) = chord_lab::harness::versus::run(&options)?;
    print_lines(table.lines())?;
    if passed {
        Ok(())
    } else {
        Err("some cases failed: see their rows".into())
    }
}

fn locks(args: &Parsed) -> Result<(), String> {
    let keys: usize = args.at_least("keys", 1)?;
    let (holds, filled) = chord_lab::harness::locks::measure(keys);
    let mut lines = vec![format!("keys={keys} fill_seconds={filled:.1}")];
    for hold in &holds {
        lines.push(format!("{:>8} us  {}", hold.longest_us, hold.work));
    }
    let compaction = chord_lab::harness::locks::compaction(keys)?;
    let mib = |bytes: u64| bytes as f64 / f64::from(1 << 20);
    lines.push(format!(
        "{:>8} us  compaction of a data directory: a snapshot of every key, in {:.1} s",
        compaction.longest_us, compaction.seconds
    ));
    lines.push(format!(
        "data directory: {:.1} MiB of keys and values held; {:.1} MiB on disk before \
         compacting (the log), {:.1} MiB after ({:.2} times the data); loaded again in {:.2} s",
        mib(compaction.live_bytes),
        mib(compaction.disk_before),
        mib(compaction.disk_after),
        compaction.disk_after as f64 / compaction.live_bytes.max(1) as f64,
        compaction.load_seconds
    ));
    print_lines(lines.iter().map(String::as_str))
}

fn fuzz(args: &Parsed) -> Result<(), String> {
    use chord_lab::harness::fuzz;
    let target: String = args.get("target")?;
    let targets: Vec<&str> = if target == "all" {
        fuzz::TARGETS.to_vec()
    } else {
        vec![target.as_str()]
    };
    let crashes: String = args.get("crashes")?;
    let mut reports = Vec::new();
    for target in targets {
        let report = fuzz::run(
            target,
            args.get("inputs")?,
            args.get("seed")?,
            crashes.as_ref(),
        )?;
        for path in &report.saved {
            eprintln!("{target}: an input panicked; saved as {}", path.display());
        }
        print!("{}", fuzz::summary(std::slice::from_ref(&report)));
        reports.push(report);
    }
    if reports.iter().any(|r| r.panics > 0) {
        return Err("inputs panicked; they were saved as regression tests".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printed_identifiers_order_numerically() {
        // Decimal (m <= 64) and fixed-width hex both order as numbers.
        assert!(ring_order("9") < ring_order("10"));
        assert!(ring_order("63") > ring_order("8"));
        assert!(ring_order("0a") < ring_order("f0"));
    }
}
