//! The `chord` command line: run a node, or talk to one.
//!
//! - `chord node`: run one node until SIGINT or SIGTERM, then leave the
//!   ring gracefully and exit 0.
//! - `chord cli`: talk to a node, with a prompt, history and line editing
//!   (rustyline) at a terminal, line by line from a pipe.
//! - `chord send`: send text-protocol lines to a node and print the answers.
//! - `chord wait`: wait until a RING walk lists a number of nodes (used by
//!   `make ring`).
//! - `chord ports`: check that ports are free (used by `make ring`).
//!
//! What measures a ring (churn, partitions, attacks, the simulator, the
//! benchmark) is the other command, `chord-lab` (`bin/lab.rs`). The two
//! share their argument parser and log format (`common.rs`).

use std::io::{self, BufRead};
use std::process::ExitCode;
use std::thread;
use std::time::{Duration, Instant};

use crossbeam_channel::{bounded, select};
use log::info;
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

mod common;

use chord::auth::Secret;
use chord::client::Client;
use chord::disk::DataDir;
use chord::{IdSpace, NodeConfig, Server, ServerConfig};
use common::{optional, print_lines, required, switch, with_default, Command, Parsed, Program};

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
    common::main(
        &CHORD,
        |_| false,
        |parsed| match parsed.command.name {
            "node" => run_node(parsed),
            "send" => send(parsed),
            "cli" => cli(parsed),
            "wait" => wait(parsed),
            "ports" => ports(parsed),
            other => Err(format!("chord {other} is in the table but not wired up")),
        },
    )
}

/// The commands and their flags.
const CHORD: Program = Program {
    name: "chord",
    about: "a Chord distributed hash table",
    commands: &[
        Command {
            name: "node",
            about: "Run one node: create a ring, or join one with --join",
            flags: &[
                required("listen", "HOST:PORT", "the address to listen on (port 0 picks one)"),
                optional("join", "HOST:PORT", "join the ring this node belongs to"),
                optional("advertise", "HOST:PORT", "the address peers dial, if not --listen"),
                with_default("bits", "M", "identifiers have M bits, 1 to 160", "160"),
                with_default("successors", "r", "the length of the successor list", "8"),
                with_default(
                    "replicas",
                    "R",
                    "nodes that hold each key: the owner and R-1 successors",
                    "3",
                ),
                with_default(
                    "tombstone-hold-s",
                    "S",
                    "keep a deleted key's tombstone this long",
                    "600",
                ),
                with_default(
                    "workers",
                    "N",
                    "connections served at once (all but a quarter, at most 64, for text clients)",
                    "1088",
                ),
                with_default("stabilize-ms", "MS", "the stabilization period", "250"),
                with_default("rpc-timeout-ms", "MS", "a peer call slower than this fails", "1000"),
                with_default(
                    "request-timeout-ms",
                    "MS",
                    "how long a client request retries while the ring moves",
                    "10000",
                ),
                with_default("idle-timeout-s", "S", "disconnect a text client silent this long", "300"),
                optional(
                    "secret-file",
                    "PATH",
                    "the cluster secret every node of the ring shares (or set CHORD_SECRET)",
                ),
                optional(
                    "password-file",
                    "PATH",
                    "text clients must send AUTH with this password first",
                ),
                switch(
                    "no-flushall",
                    "refuse FLUSHALL from clients (start every node so, for a ring never to be cleared)",
                ),
                optional(
                    "max-memory",
                    "MIB",
                    "hold at most this many MiB of keys and values [default: a quarter of RAM]",
                ),
                optional(
                    "data-dir",
                    "DIR",
                    "keep the node's keys in DIR, so that they outlive a restart [default: memory only]",
                ),
                with_default(
                    "fsync",
                    "POLICY",
                    "with --data-dir: when a write reaches the disk: always, everysec or no",
                    "everysec",
                ),
                with_default(
                    "compact-mib",
                    "MIB",
                    "with --data-dir: compact once the log passes this size and the last snapshot's",
                    "16",
                ),
                switch(
                    "keep-before-damage",
                    "with --data-dir: load a damaged log up to the damage, not refuse to start",
                ),
                with_default(
                    "max-value-mib",
                    "MIB",
                    "take values of at most this many MiB from clients (at most 512)",
                    "16",
                ),
            ],
            free: None,
        },
        Command {
            name: "cli",
            about: "Talk to a node interactively: a prompt, history, line editing (line by line from a pipe)",
            flags: &[with_default(
                "addr",
                "HOST:PORT",
                "the node to talk to",
                "127.0.0.1:4000",
            )],
            free: None,
        },
        Command {
            name: "send",
            about: "Send text-protocol lines to a node (the arguments, else standard input) and print the answers",
            flags: &[required("addr", "HOST:PORT", "the node to talk to")],
            free: Some("LINE..."),
        },
        Command {
            name: "wait",
            about: "Wait until a RING walk from a node lists N nodes, then print it",
            flags: &[
                required("addr", "HOST:PORT", "the node to walk from"),
                required("nodes", "N", "how many nodes the ring should have"),
                with_default("timeout-s", "S", "give up after this long", "30"),
            ],
            free: None,
        },
        Command {
            name: "ports",
            about: "Check that COUNT ports from PORT on HOST are free; name each one taken",
            flags: &[
                required("host", "HOST", "the address to bind"),
                required("port", "PORT", "the first port"),
                with_default("count", "N", "how many ports", "1"),
            ],
            free: None,
        },
    ],
};

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
    let max_value: usize = args.at_least("max-value-mib", 1)?;
    if max_value > chord::store::MAX_VALUE >> 20 {
        return Err(format!(
            "--max-value-mib must be at most {}, not {max_value}",
            chord::store::MAX_VALUE >> 20
        ));
    }
    node.max_value = max_value << 20;
    node.data = match args.optional("data-dir") {
        Some(path) => {
            let mut data = DataDir::new(path);
            data.fsync = args.get::<String>("fsync")?.parse()?;
            data.compact_at = args.get::<u64>("compact-mib")?.saturating_mul(1 << 20);
            data.keep_before_damage = args.is_on("keep-before-damage");
            Some(data)
        }
        None => None,
    };
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
    config.flush_allowed = !args.is_on("no-flushall");
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

fn wait(args: &Parsed) -> Result<(), String> {
    let addr: String = args.get("addr")?;
    let nodes: usize = args.get("nodes")?;
    let timeout = Duration::from_secs(args.get("timeout-s")?);
    let deadline = Instant::now() + timeout;
    let mut last = String::from("no answer yet");
    while Instant::now() < deadline {
        match chord::client::ring(&addr, CLIENT_TIMEOUT) {
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
