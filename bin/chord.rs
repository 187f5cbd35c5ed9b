//! The `chord` command line: run a node, talk to one, or measure a ring.
//!
//! - `chord node`: run one node until SIGINT or SIGTERM, then leave the
//!   ring gracefully and exit 0.
//! - `chord cli`: talk to a node, with a prompt, history and line editing
//!   (rustyline) at a terminal, line by line from a pipe.
//! - `chord send`: send text-protocol lines to a node and print the answers.
//! - `chord wait`: wait until a RING walk lists a number of nodes (used by
//!   `make ring`).
//! - `chord hops`: LOOKUP random keys at random nodes and report the mean
//!   hop count next to the paper's ½·log2 N.
//! - `chord churn`: start node processes, run a checked workload while
//!   killing and starting nodes, report lost writes, stale reads,
//!   availability and latency (see [`chord::harness::churn`]).
//! - `chord massive`: the paper's simultaneous-failure experiment.
//! - `chord attack`: run the attacks of [`chord::harness::attack`] against
//!   a running ring and report what each achieved.
//! - `chord fill`: write large values until a node answers out of memory.
//! - `chord fuzz`: feed random and mutated bytes to every parser.
//! - `chord locks`: the longest store-lock hold at a node with many keys.
//! - `chord sim`: the paper's simulation experiments, as CSV and SVG.
//! - `chord draw`: a running ring as SVG.
//!
//! Arguments are parsed in `cli.rs`. The protocol, the attacks, the fuzzer
//! and the lock measurement live in the library; what remains here is the
//! glue of each command (and `hops`'s measurement).

use std::io::{self, BufRead, Write};
use std::process::ExitCode;
use std::thread;
use std::time::{Duration, Instant};

use crossbeam_channel::{bounded, select};
use log::{error, info};
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

mod cli;

use chord::auth::Secret;
use chord::client::Client;
use chord::harness::{churn, massive};
use chord::{IdSpace, NodeConfig, Server, ServerConfig};
use cli::{parse, Parsed, Request};

/// Makes glibc's malloc use one arena for every thread. By default each
/// thread that allocates gets an arena of its own (up to eight per core);
/// a value one worker stores and another later frees then leaves a hole in
/// the first one's arena, and a node whose clients kept rewriting 64 KiB
/// values grew from 75 MB to 225 MB of RSS with its store steady at 64 MiB.
/// With one arena it stays at 75 MB (`make memory` measures it). Must run
/// before any thread is started.
fn one_malloc_arena() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets a tuning parameter of glibc's allocator;
    // it is called before this process starts any other thread.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 1);
    }
}

fn main() -> ExitCode {
    one_malloc_arena();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let env = env_logger::Env::default().default_filter_or("info");
    let mut logger = env_logger::Builder::from_env(env);
    if args.first().is_some_and(|a| a == "fuzz") {
        // Fuzzed nodes log every refusal: format every line, as a node
        // does, so that printing what came from the wire is fuzzed too,
        // but write it nowhere.
        logger
            .filter_level(log::LevelFilter::Trace)
            .target(env_logger::Target::Pipe(Box::new(io::sink())));
    }
    logger
        .format(|out, record| {
            // RFC 3339 in UTC, to the millisecond, from env_logger (with
            // humantime): 2026-11-25T12:58:01.691Z.
            let now = out.timestamp_millis();
            writeln!(
                out,
                "[{now} {:<5} {}] {}",
                record.level(),
                record.target(),
                record.args()
            )
        })
        .init();
    let result = match parse(&args) {
        Ok(Request::Help(text)) => {
            print!("{text}");
            Ok(())
        }
        Ok(Request::Run(parsed)) => match parsed.command.name {
            "node" => run_node(&parsed),
            "send" => send(&parsed),
            "cli" => cli(&parsed),
            "wait" => wait(&parsed),
            "ports" => ports(&parsed),
            "hops" => hops(&parsed),
            "churn" => run_churn(&parsed),
            "partition" => run_partition(&parsed),
            "massive" => run_massive(&parsed),
            "attack" => attack(&parsed),
            "fill" => fill(&parsed),
            "fuzz" => fuzz(&parsed),
            "locks" => locks(&parsed),
            "bench" => bench(&parsed),
            "sim" => sim(&parsed),
            "draw" => draw(&parsed),
            other => Err(format!("chord {other} is in the table but not wired up")),
        },
        Err(message) => {
            eprintln!("chord: {message}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            error!("{message}");
            ExitCode::FAILURE
        }
    }
}

fn run_node(args: &Parsed) -> Result<(), String> {
    let space = IdSpace::new(args.get("bits")?).map_err(|e| e.to_string())?;
    let mut node = NodeConfig::new(space);
    node.successors = args.get("successors")?;
    node.replicas = args.get("replicas")?;
    node.tombstone_hold = Duration::from_secs(args.get("tombstone-hold-s")?);
    node.stabilize_interval = Duration::from_millis(args.at_least("stabilize-ms", 1)?);
    node.request_timeout = Duration::from_millis(args.get("request-timeout-ms")?);
    if let Some(mib) = args.optional("max-memory") {
        let mib: usize = mib
            .parse()
            .map_err(|_| format!("--max-memory takes MIB, not {mib:?}"))?;
        if mib == 0 {
            return Err("--max-memory must be at least 1 MiB".into());
        }
        node.max_memory = mib.saturating_mul(1024 * 1024);
    }
    let mut config = ServerConfig::new(&args.get::<String>("listen")?, node);
    config.join = args.optional("join");
    config.advertise = args.optional("advertise");
    config.workers = args.get("workers")?;
    config.rpc_timeout = Duration::from_millis(args.at_least("rpc-timeout-ms", 1)?);
    config.idle_timeout = Duration::from_secs(args.at_least("idle-timeout-s", 1)?);
    config.secret = match (args.optional("secret-file"), std::env::var("CHORD_SECRET")) {
        (Some(path), _) => Some(Secret::from_file(path.as_ref()).map_err(|e| e.to_string())?),
        (None, Ok(text)) => Some(Secret::new(text.as_bytes()).map_err(|e| e.to_string())?),
        (None, Err(_)) => None,
    };
    if let Some(path) = args.optional("password-file") {
        let text = std::fs::read_to_string(&path)
            .map_err(|e| format!("reading the password file {path}: {e}"))?;
        let password = text.trim();
        if password.is_empty() {
            return Err(format!("the password file {path} is empty"));
        }
        config.password = Some(password.to_string());
    }
    // Each connection is a file: the pool is sized for about a thousand
    // clients, more than a shell's usual 1,024 open files allow.
    match chord::server::raise_open_file_limit() {
        Ok(limit) if (limit as usize) < config.workers + 64 => log::warn!(
            "at most {limit} open files (ulimit -n): fewer than the {} workers can use",
            config.workers
        ),
        Ok(_) => {}
        Err(e) => log::warn!("could not raise the open file limit: {e}"),
    }
    // Register for signals before joining, so none is missed.
    let mut signals =
        Signals::new([SIGINT, SIGTERM]).map_err(|e| format!("installing signal handlers: {e}"))?;
    let server = Server::start(config).map_err(|e| e.to_string())?;
    let me = server.node().me().clone();
    info!("node {} listening on {}", me.id, me.addr);
    let (signalled, signal) = bounded::<i32>(1);
    thread::spawn(move || {
        for number in signals.forever() {
            let _ = signalled.send(number);
        }
    });
    select! {
        recv(signal) -> number => {
            info!("{}: signal {}: leaving the ring", me.addr, number.unwrap_or_default());
            server.leave().map_err(|e| e.to_string())
        }
        recv(server.faults()) -> fault => {
            server.kill();
            Err(format!(
                "{}: stopping: {}; restart it with another --advertise address",
                me.addr,
                fault.unwrap_or_default()
            ))
        }
    }
}

const CLIENT_TIMEOUT: Duration = Duration::from_secs(30);

/// Prints lines to standard output. A reader that went away (`| head`)
/// ends the output quietly, as Unix tools do.
fn print_lines<'a>(lines: impl IntoIterator<Item = &'a str>) -> Result<(), String> {
    let mut out = io::stdout().lock();
    for line in lines {
        match writeln!(out, "{line}") {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => std::process::exit(0),
            Err(e) => return Err(format!("writing the output: {e}")),
        }
    }
    Ok(())
}

fn send(args: &Parsed) -> Result<(), String> {
    let addr: String = args.get("addr")?;
    let mut client =
        Client::connect(&addr, CLIENT_TIMEOUT).map_err(|e| format!("connecting to {addr}: {e}"))?;
    if !args.free.is_empty() {
        for line in &args.free {
            let answer = client.request(line).map_err(|e| format!("{addr}: {e}"))?;
            print_lines(answer.iter().map(String::as_str))?;
        }
        return Ok(());
    }
    // Each line is answered as it is read, so a person or a script can
    // talk through a pipe.
    for line in io::stdin().lock().lines() {
        let line = line.map_err(|e| format!("reading standard input: {e}"))?;
        let answer = client.request(&line).map_err(|e| format!("{addr}: {e}"))?;
        print_lines(answer.iter().map(String::as_str))?;
    }
    Ok(())
}

/// `chord cli`: at a terminal, a prompt with history and line editing; from
/// a pipe, `chord send` (each line answered as it is read). A dropped
/// connection is opened again for the next line.
fn cli(args: &Parsed) -> Result<(), String> {
    use std::io::IsTerminal;
    if !io::stdin().is_terminal() {
        return send(args);
    }
    let addr: String = args.get("addr")?;
    let mut editor = rustyline::DefaultEditor::new().map_err(|e| format!("the terminal: {e}"))?;
    let mut client: Option<Client> = None;
    println!("Connected to {addr}: HELP lists the commands, QUIT or Ctrl-D leaves.");
    loop {
        let line = match editor.readline(&format!("{addr}> ")) {
            Ok(line) => line,
            Err(rustyline::error::ReadlineError::Interrupted) => continue,
            Err(rustyline::error::ReadlineError::Eof) => return Ok(()),
            Err(e) => return Err(format!("the terminal: {e}")),
        };
        if line.trim().is_empty() {
            continue;
        }
        let _ = editor.add_history_entry(line.as_str());
        let connection = match client.as_mut() {
            Some(c) => c,
            None => match Client::connect(&addr, CLIENT_TIMEOUT) {
                Ok(c) => client.insert(c),
                Err(e) => {
                    println!("(cannot reach {addr}: {e})");
                    continue;
                }
            },
        };
        match connection.request(&line) {
            Ok(answer) => print_lines(answer.iter().map(String::as_str))?,
            Err(e) => {
                println!("(connection to {addr} lost: {e})");
                client = None;
            }
        }
        if line.trim().eq_ignore_ascii_case("QUIT") {
            return Ok(());
        }
    }
}

/// The RING walk from `addr`, as lines, with whole identifiers.
fn ring(addr: &str) -> Result<Vec<String>, String> {
    let mut client = Client::connect(addr, CLIENT_TIMEOUT).map_err(|e| e.to_string())?;
    let lines = client.request("RING FULL").map_err(|e| e.to_string())?;
    match lines.first() {
        Some(first) if first.starts_with("ERR") => Err(first.clone()),
        _ => Ok(lines),
    }
}

fn wait(args: &Parsed) -> Result<(), String> {
    let addr: String = args.get("addr")?;
    let nodes: usize = args.get("nodes")?;
    let timeout = Duration::from_secs(args.get("timeout-s")?);
    let deadline = Instant::now() + timeout;
    let mut last = String::from("no answer yet");
    while Instant::now() < deadline {
        match ring(&addr) {
            Ok(lines) if lines.len() == nodes => {
                return print_lines(lines.iter().map(String::as_str))
            }
            Ok(lines) => last = format!("the ring walk lists {} nodes", lines.len()),
            Err(e) => last = e,
        }
        thread::sleep(Duration::from_millis(100));
    }
    Err(format!(
        "the ring at {addr} did not reach {nodes} nodes in {timeout:?}: {last}"
    ))
}

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
    let ring_lines = ring(&addr)?;
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
    let mut rng = chord::harness::Rng::new(seed);
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

/// This program, which the harnesses start as node processes.
fn this_binary() -> Result<std::path::PathBuf, String> {
    std::env::current_exe().map_err(|e| format!("finding the chord binary: {e}"))
}

fn run_churn(args: &Parsed) -> Result<(), String> {
    let settings = churn::Settings {
        exe: this_binary()?,
        nodes: args.at_least("nodes", 1)?,
        replicas: args.get("replicas")?,
        duration: Duration::from_secs(args.get("duration-s")?),
        kill_every: every(args, "kill-every-ms")?,
        fault: match (args.is_on("freeze"), args.is_on("restart")) {
            (true, true) => return Err("--freeze and --restart do not go together".into()),
            (true, false) => churn::Fault::Freeze,
            (false, true) => churn::Fault::Restart,
            (false, false) => churn::Fault::Kill,
        },
        join_every: every(args, "join-every-ms")?,
        at_once: args.get("at-once")?,
        rate: args.get("rate")?,
        keys: args.at_least("keys", 1)?,
        threads: args.at_least("threads", 1)?,
        seed: args.get("seed")?,
        stabilize_ms: args.at_least("stabilize-ms", 1)?,
        logs: args.get("logs")?,
    };
    if churn::churn(&settings)? {
        Ok(())
    } else {
        Err("acknowledged writes were lost".into())
    }
}

/// Binds each port in turn: one that something (anything) holds is named.
fn ports(args: &Parsed) -> Result<(), String> {
    let host: String = args.get("host")?;
    let first: u16 = args.get("port")?;
    let count: u16 = args.at_least("count", 1)?;
    let taken: Vec<String> = (0..count)
        .filter_map(|i| {
            let port = first.checked_add(i)?;
            std::net::TcpListener::bind((host.as_str(), port))
                .err()
                .map(|e| format!("{host}:{port} ({e})"))
        })
        .collect();
    if taken.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "taken: {}. Pick another PORT, or stop what holds it",
            taken.join(", ")
        ))
    }
}

fn run_partition(args: &Parsed) -> Result<(), String> {
    let settings = chord::harness::partition::Settings {
        exe: this_binary()?,
        per_side: args.at_least("per-side", 1)?,
        split: Duration::from_secs(args.at_least("split-s", 1)?),
        keys: args.at_least("keys", 1)?,
        stabilize_ms: args.at_least("stabilize-ms", 1)?,
        logs: args.get("logs")?,
        cut: args.get("cut")?,
    };
    if chord::harness::partition::partition(&settings)? {
        Ok(())
    } else {
        Err("the partition run failed: see the report above".into())
    }
}

fn run_massive(args: &Parsed) -> Result<(), String> {
    let fraction: f64 = args.get("fraction")?;
    if !(0.0..1.0).contains(&fraction) {
        return Err(format!("--fraction must be in [0, 1), not {fraction}"));
    }
    massive::massive(&massive::MassiveSettings {
        exe: this_binary()?,
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
    use chord::harness::attack;
    let addr: String = args.get("addr")?;
    let space = IdSpace::new(args.get("bits")?).map_err(|e| e.to_string())?;
    let secret = match args.optional("as-member") {
        Some(path) => Some(Secret::from_file(path.as_ref()).map_err(|e| e.to_string())?),
        None => None,
    };
    let addrs: Vec<String> = ring(&addr)?
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
    let (acknowledged, refusal, failed) =
        chord::harness::attack::fill(&addr, kib * 1024, args.get("limit")?, args.get("rewrites")?)?;
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
    use chord::draw::{position, ring_svg, Point};
    let addr: String = args.get("addr")?;
    let bits: u8 = args.get("bits")?;
    let chosen = args.optional("fingers-of").unwrap_or_else(|| addr.clone());
    let place = |id: &str| position(id, bits).ok_or_else(|| format!("not an identifier: {id:?}"));
    let mut nodes = Vec::new();
    for line in ring(&addr)? {
        let words: Vec<&str> = line.split_whitespace().collect();
        let [id, node, owned, replicas] = words[..] else {
            return Err(format!("an unexpected RING line: {line:?}"));
        };
        let count = |word: &str, name: &str| {
            word.strip_prefix(name)
                .and_then(|k| k.parse().ok())
                .unwrap_or(0)
        };
        let keys = count(owned, "owned=") + count(replicas, "replicas=");
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
    let mut client =
        Client::connect(&chosen, CLIENT_TIMEOUT).map_err(|e| format!("{chosen}: {e}"))?;
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
    use chord::sim::figures::{self, Scale, FIGURES};
    use chord::sim::plot;
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
                let svg = path.with_extension("svg");
                std::fs::write(&svg, plot::draw(chart, &output.csv)?)
                    .map_err(|e| format!("writing {}: {e}", svg.display()))?;
                println!("{}", svg.display());
            }
        }
        let seconds = started.elapsed().as_secs_f64();
        // On standard error: the speed varies from run to run, the files
        // must not.
        eprintln!(
            "{name}: {seconds:.1} s, {events} simulated events ({:.0} a second)",
            events as f64 / seconds.max(1e-9)
        );
    }
    Ok(())
}

fn bench(args: &Parsed) -> Result<(), String> {
    let options = chord::harness::versus::Options {
        exe: this_binary()?,
        rounds: args.at_least("rounds", 1)?,
        requests: args.at_least("requests", 1000)?,
        ring_nodes: args.at_least("ring-nodes", 1)?,
        only: args.optional("only"),
    };
    let (table, passed) = chord::harness::versus::run(&options)?;
    print_lines(table.lines())?;
    if passed {
        Ok(())
    } else {
        Err("some cases failed: see their rows".into())
    }
}

fn locks(args: &Parsed) -> Result<(), String> {
    let keys: usize = args.at_least("keys", 1)?;
    let (holds, filled) = chord::harness::locks::measure(keys);
    let mut lines = vec![format!("keys={keys} fill_seconds={filled:.1}")];
    for hold in &holds {
        lines.push(format!("{:>8} us  {}", hold.longest_us, hold.work));
    }
    print_lines(lines.iter().map(String::as_str))
}

fn fuzz(args: &Parsed) -> Result<(), String> {
    use chord::harness::fuzz;
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
