//! The `chord` command line: run a node, talk to one, or measure a ring.
//!
//! - `chord node`: run one node until SIGINT or SIGTERM, then leave the
//!   ring gracefully and exit 0.
//! - `chord send`: send text-protocol lines to a node and print the answers.
//! - `chord wait`: wait until a RING walk lists a number of nodes (used by
//!   `make ring`).
//! - `chord hops`: LOOKUP random keys at random nodes and report the mean
//!   hop count next to the paper's ½·log2 N.
//!
//! All logic lives in the library; this file only parses arguments.

use std::io::{self, BufRead};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use std::thread;

use clap::{Args, Parser, Subcommand};
use crossbeam_channel::{bounded, select};
use log::{error, info};
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

use chord::client::Client;
use chord::{IdSpace, NodeConfig, Server, ServerConfig};

#[derive(Parser)]
#[command(name = "chord", version, about = "A Chord distributed hash table")]
struct Cli {
    #[command(subcommand)]
    command: Commands,
}

#[derive(Subcommand)]
enum Commands {
    /// Run one node: create a ring, or join one with --join.
    Node(NodeArgs),
    /// Send text-protocol lines to a node (from the arguments, else from
    /// standard input) and print the answers.
    Send {
        /// The node to talk to, host:port.
        #[arg(long)]
        addr: String,
        /// The lines to send, one request each.
        lines: Vec<String>,
    },
    /// Wait until a RING walk from a node lists N nodes, then print it.
    Wait {
        /// The node to walk from, host:port.
        #[arg(long)]
        addr: String,
        /// How many nodes the ring should have.
        #[arg(long)]
        nodes: usize,
        /// Give up after this many seconds.
        #[arg(long, default_value_t = 30)]
        timeout_s: u64,
    },
    /// LOOKUP random keys at random nodes of a ring; print the mean hops.
    Hops {
        /// Any node of the ring, host:port.
        #[arg(long)]
        addr: String,
        /// How many keys to look up.
        #[arg(long, default_value_t = 1000)]
        keys: usize,
        /// Seed for the random keys and nodes.
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
}

#[derive(Args)]
struct NodeArgs {
    /// The address to listen on, host:port (port 0 picks one).
    #[arg(long)]
    listen: String,
    /// Join the ring that this node (host:port) belongs to.
    #[arg(long)]
    join: Option<String>,
    /// The address peers should dial, when not the listen address.
    #[arg(long)]
    advertise: Option<String>,
    /// m: identifiers have this many bits (1..=160).
    #[arg(long, default_value_t = 160)]
    bits: u8,
    /// r: the length of the successor list.
    #[arg(long, default_value_t = 8)]
    successors: usize,
    /// How many connections are served at once (text clients may hold
    /// three quarters of them; the rest are kept for peers).
    #[arg(long, default_value_t = 64)]
    workers: usize,
    /// The stabilization period, in milliseconds.
    #[arg(long, default_value_t = 250)]
    stabilize_ms: u64,
    /// How long a call to a peer may take before it counts as failed.
    #[arg(long, default_value_t = 1000)]
    rpc_timeout_ms: u64,
    /// How long a client request keeps retrying while the ring moves.
    #[arg(long, default_value_t = 10_000)]
    request_timeout_ms: u64,
    /// Disconnect a text client silent for this many seconds.
    #[arg(long, default_value_t = 300)]
    idle_timeout_s: u64,
}

fn main() -> ExitCode {
    let env = env_logger::Env::default().default_filter_or("info");
    env_logger::Builder::from_env(env).init();
    let result = match Cli::parse().command {
        Commands::Node(args) => run_node(args),
        Commands::Send { addr, lines } => send(&addr, lines),
        Commands::Wait {
            addr,
            nodes,
            timeout_s,
        } => wait(&addr, nodes, Duration::from_secs(timeout_s)),
        Commands::Hops { addr, keys, seed } => hops(&addr, keys, seed),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            error!("{message}");
            ExitCode::FAILURE
        }
    }
}

fn run_node(args: NodeArgs) -> Result<(), String> {
    let space = IdSpace::new(args.bits).map_err(|e| e.to_string())?;
    let mut node = NodeConfig::new(space);
    node.successors = args.successors;
    node.stabilize_interval = Duration::from_millis(args.stabilize_ms.max(1));
    node.request_timeout = Duration::from_millis(args.request_timeout_ms);
    let mut config = ServerConfig::new(&args.listen, node);
    config.join = args.join;
    config.advertise = args.advertise;
    config.workers = args.workers;
    config.rpc_timeout = Duration::from_millis(args.rpc_timeout_ms.max(1));
    config.idle_timeout = Duration::from_secs(args.idle_timeout_s.max(1));
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

fn send(addr: &str, lines: Vec<String>) -> Result<(), String> {
    let mut client =
        Client::connect(addr, CLIENT_TIMEOUT).map_err(|e| format!("connecting to {addr}: {e}"))?;
    let lines: Vec<String> = if lines.is_empty() {
        io::stdin().lock().lines().map_while(Result::ok).collect()
    } else {
        lines
    };
    for line in lines {
        for answer in client.request(&line).map_err(|e| format!("{addr}: {e}"))? {
            println!("{answer}");
        }
    }
    Ok(())
}

/// The RING walk from `addr`, as lines.
fn ring(addr: &str) -> Result<Vec<String>, String> {
    let mut client = Client::connect(addr, CLIENT_TIMEOUT).map_err(|e| e.to_string())?;
    let lines = client.request("RING").map_err(|e| e.to_string())?;
    match lines.first() {
        Some(first) if first.starts_with("ERR") => Err(first.clone()),
        _ => Ok(lines),
    }
}

fn wait(addr: &str, nodes: usize, timeout: Duration) -> Result<(), String> {
    let deadline = Instant::now() + timeout;
    let mut last = String::from("no answer yet");
    while Instant::now() < deadline {
        match ring(addr) {
            Ok(lines) if lines.len() == nodes => {
                for line in lines {
                    println!("{line}");
                }
                return Ok(());
            }
            Ok(lines) => last = format!("the ring walk lists {} nodes", lines.len()),
            Err(e) => last = e,
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Err(format!(
        "the ring at {addr} did not reach {nodes} nodes in {timeout:?}: {last}"
    ))
}

/// A small xorshift generator: enough to pick keys and nodes repeatably.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn hops(addr: &str, keys: usize, seed: u64) -> Result<(), String> {
    let nodes: Vec<String> = ring(addr)?
        .iter()
        .filter_map(|line| line.split_whitespace().nth(1).map(str::to_string))
        .collect();
    if nodes.is_empty() {
        return Err(format!("the ring walk from {addr} listed no nodes"));
    }
    let mut clients = Vec::new();
    for node in &nodes {
        clients.push(Client::connect(node, CLIENT_TIMEOUT).map_err(|e| format!("{node}: {e}"))?);
    }
    let mut rng = Rng(seed.max(1).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let mut samples: Vec<u32> = Vec::with_capacity(keys);
    for _ in 0..keys {
        let key = format!("key-{:016x}", rng.next());
        let at = (rng.next() % nodes.len() as u64) as usize;
        let line = clients[at]
            .line(&format!("LOOKUP {key}"))
            .map_err(|e| e.to_string())?;
        let hops = line
            .rsplit("hops=")
            .next()
            .and_then(|n| n.trim().parse::<u32>().ok())
            .ok_or_else(|| format!("{}: unexpected answer {line:?}", nodes[at]))?;
        samples.push(hops);
    }
    samples.sort_unstable();
    let mean = samples.iter().map(|&h| f64::from(h)).sum::<f64>() / samples.len() as f64;
    let n = nodes.len() as f64;
    println!("nodes={} lookups={}", nodes.len(), samples.len());
    println!(
        "mean_hops={mean:.3} median_hops={} p99_hops={} max_hops={}",
        samples[samples.len() / 2],
        samples[(samples.len() * 99 / 100).min(samples.len() - 1)],
        samples[samples.len() - 1]
    );
    println!(
        "paper_half_log2_n={:.3} ratio={:.3}",
        0.5 * n.log2(),
        mean / (0.5 * n.log2())
    );
    Ok(())
}
