//! The churn harness: real node processes on loopback, a checked workload,
//! and nodes killed with SIGKILL and started while it runs (`chord churn`);
//! and the paper's massive-failure experiment (`chord massive`, section
//! "Simultaneous Node Failures").
//!
//! # The checker
//!
//! Each workload thread owns its keys, so writes to one key are sequential
//! and "the latest acknowledged value" is well defined. A value names the
//! write that made it (`<thread>.<sequence>`). A GET is *stale* when it
//! returns something older than the last write acknowledged before the
//! GET was sent: an older value, or NOT_FOUND where a value was
//! acknowledged, or a value where a delete was. A write that failed (no
//! answer in time) may or may not have happened, so its value is also
//! accepted until a later write is acknowledged. After the churn stops and
//! the ring settles, every key ever written is read once: any stale answer
//! there counts as "stale after settling", and a key still wrong after
//! repair has had a few more seconds counts as an acknowledged write lost.

use std::collections::HashMap;
use std::fs::{self, File};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use chord::client::Client;
use chord::harness::Rng;
use chord::{Id, IdSpace};

/// How long the harness waits for one answer from a node.
const CALL_TIMEOUT: Duration = Duration::from_secs(15);

/// How long one operation may take, retries at other nodes included.
const OP_DEADLINE: Duration = Duration::from_secs(15);

/// What a run is asked to do.
#[derive(Clone)]
pub struct Settings {
    pub nodes: usize,
    pub replicas: usize,
    pub duration: Duration,
    pub kill_every: Option<Duration>,
    pub join_every: Option<Duration>,
    pub at_once: usize,
    pub rate: u64,
    pub keys: usize,
    pub threads: usize,
    pub seed: u64,
    pub stabilize_ms: u64,
    pub logs: String,
}

/// The node processes this harness started, by address.
struct Nodes {
    exe: std::path::PathBuf,
    settings_flags: Vec<String>,
    /// The ring's secret, fresh for each run, given to every node through
    /// `CHORD_SECRET`: the harness's ring is closed like `make ring`'s.
    secret: String,
    logs: String,
    live: Mutex<Vec<(String, Child)>>,
}

impl Nodes {
    /// Nodes that will run with R = `replicas` and stabilize every
    /// `stabilize_ms`, logging into the directory `logs`.
    fn new(replicas: usize, stabilize_ms: u64, logs: &str) -> Result<Nodes, String> {
        let exe = std::env::current_exe().map_err(|e| format!("finding the chord binary: {e}"))?;
        fs::create_dir_all(logs).map_err(|e| format!("creating {logs}: {e}"))?;
        let mut secret = String::new();
        for _ in 0..2 {
            let bytes = chord::auth::nonce().map_err(|e| format!("a random secret: {e}"))?;
            secret.extend(bytes.iter().map(|b| format!("{b:02x}")));
        }
        Ok(Nodes {
            exe,
            secret,
            settings_flags: vec![
                "--replicas".into(),
                replicas.to_string(),
                "--stabilize-ms".into(),
                stabilize_ms.to_string(),
            ],
            logs: logs.to_string(),
            live: Mutex::new(Vec::new()),
        })
    }

    /// Starts a node on a free loopback port, joining through `join`.
    fn start(&self, join: Option<&str>) -> Result<String, String> {
        let probe = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("a free port: {e}"))?;
        let addr = probe
            .local_addr()
            .map_err(|e| format!("a free port: {e}"))?
            .to_string();
        drop(probe);
        let port = addr.rsplit(':').next().unwrap_or("0");
        let log_path = format!("{}/node-{port}.log", self.logs);
        let log = File::create(&log_path).map_err(|e| format!("creating {log_path}: {e}"))?;
        let mut command = Command::new(&self.exe);
        command
            .args(["node", "--listen", &addr])
            .args(&self.settings_flags);
        if let Some(join) = join {
            command.args(["--join", join]);
        }
        let child = command
            .env("RUST_LOG", "warn")
            .env("CHORD_SECRET", &self.secret)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(|e| format!("starting a node: {e}"))?;
        self.live.lock().push((addr.clone(), child));
        Ok(addr)
    }

    fn addrs(&self) -> Vec<String> {
        self.live.lock().iter().map(|(a, _)| a.clone()).collect()
    }

    /// SIGKILLs the node at `addr` (a child of this process) and reaps it.
    fn kill(&self, addr: &str) {
        let child = {
            let mut live = self.live.lock();
            let Some(i) = live.iter().position(|(a, _)| a == addr) else {
                return;
            };
            live.remove(i).1
        };
        let mut child = child;
        let _ = child.kill();
        let _ = child.wait();
    }

    /// Stops every node left, with SIGKILL: the run is over.
    fn stop_all(&self) {
        for addr in self.addrs() {
            self.kill(&addr);
        }
    }

    /// Waits until a RING walk from the first node lists `n` nodes.
    fn wait_for(&self, n: usize, timeout: Duration) -> Result<(), String> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Some(first) = self.addrs().first() {
                if ring_size(first) == Some(n) {
                    return Ok(());
                }
            }
            thread::sleep(Duration::from_millis(50));
        }
        Err(format!("the ring did not reach {n} nodes in {timeout:?}"))
    }
}

impl Drop for Nodes {
    fn drop(&mut self) {
        self.stop_all();
    }
}

/// How many nodes a RING walk from `addr` lists.
fn ring_size(addr: &str) -> Option<usize> {
    let mut client = Client::connect(addr, CALL_TIMEOUT).ok()?;
    let lines = client.request("RING").ok()?;
    (!lines.first()?.starts_with("ERR")).then_some(lines.len())
}

/// The identifier space of the nodes the harness starts (m = 160).
fn space() -> IdSpace {
    IdSpace::new(160).expect("160 bits is a valid identifier size")
}

/// The nodes at `addrs` as they should stand on the ring: by identifier.
fn ring_of(addrs: &[String]) -> Vec<(Id, &String)> {
    let mut ring: Vec<(Id, &String)> = addrs
        .iter()
        .map(|a| (space().hash(a.as_bytes()), a))
        .collect();
    ring.sort();
    ring
}

/// Sends one line to `at`, over a connection kept in `clients`.
fn ask(clients: &mut HashMap<String, Client>, at: &str, line: &str) -> std::io::Result<String> {
    let client = match clients.get_mut(at) {
        Some(client) => client,
        None => {
            let client = Client::connect(at, CALL_TIMEOUT)?;
            clients.entry(at.to_string()).or_insert(client)
        }
    };
    client.line(line)
}

/// Whether every live node's predecessor and successor are the live nodes
/// before and after it by identifier: the ring has settled.
fn ring_settled(addrs: &[String]) -> bool {
    let ring = ring_of(addrs);
    for (i, (_, addr)) in ring.iter().enumerate() {
        let next = ring[(i + 1) % ring.len()].1;
        let previous = ring[(i + ring.len() - 1) % ring.len()].1;
        let Ok(mut client) = Client::connect(addr, CALL_TIMEOUT) else {
            return false;
        };
        let Ok(lines) = client.request("NODE") else {
            return false;
        };
        let field = |name: &str| {
            lines
                .iter()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|rest| rest.split_whitespace().last())
                .map(str::to_string)
        };
        let single = ring.len() == 1;
        if field("successor 1 ").as_deref() != Some(next.as_str()) {
            return false;
        }
        if !single && field("predecessor ").as_deref() != Some(previous.as_str()) {
            return false;
        }
    }
    true
}

/// One key's history, as the checker knows it.
#[derive(Default)]
struct KeyState {
    /// The last acknowledged write: `(sequence, value)`, `None` for a
    /// delete. `None` until something is acknowledged.
    acked: Option<(u64, Option<String>)>,
    /// Writes after it that failed and may or may not have happened.
    maybe: Vec<Option<String>>,
}

impl KeyState {
    /// Whether a read that returned `got` is as new as the last
    /// acknowledged write.
    fn accepts(&self, got: &Option<String>) -> bool {
        let acked = self.acked.as_ref().map_or(&None, |(_, v)| v);
        got == acked || self.maybe.contains(got)
    }
}

/// Counters shared by the workload threads.
#[derive(Default)]
struct Tally {
    puts: AtomicU64,
    puts_ok: AtomicU64,
    gets: AtomicU64,
    gets_ok: AtomicU64,
    stale: AtomicU64,
    retries: AtomicU64,
    /// Why the last failed operation failed, for the report.
    last_failure: Mutex<String>,
    /// Latencies of successful operations, in microseconds.
    put_micros: Mutex<Vec<u64>>,
    get_micros: Mutex<Vec<u64>>,
}

/// The answer to one operation, once some node gave one.
enum Outcome {
    Ok(Option<String>),
    Failed(String),
}

/// A workload thread's connections, one per node, opened as needed.
struct Connections {
    open: HashMap<String, Client>,
}

impl Connections {
    /// Sends `line` to random live nodes until one answers without a
    /// transport error or a busy refusal, or the deadline passes.
    fn send(&mut self, nodes: &Nodes, rng: &mut Rng, line: &str, tally: &Tally) -> Outcome {
        let deadline = Instant::now() + OP_DEADLINE;
        let mut last = String::from("no node to ask");
        let mut first = true;
        while Instant::now() < deadline {
            if !first {
                tally.retries.fetch_add(1, Ordering::Relaxed);
            }
            first = false;
            let addrs = nodes.addrs();
            if addrs.is_empty() {
                thread::sleep(Duration::from_millis(10));
                continue;
            }
            let addr = addrs[rng.below(addrs.len())].clone();
            let client = match self.open.get_mut(&addr) {
                Some(client) => client,
                None => match Client::connect(&addr, CALL_TIMEOUT) {
                    Ok(client) => self.open.entry(addr.clone()).or_insert(client),
                    Err(e) => {
                        last = format!("{addr}: {e}");
                        continue;
                    }
                },
            };
            match client.line(line) {
                Ok(answer) if answer.starts_with("ERR busy") => {
                    last = answer;
                    thread::sleep(Duration::from_millis(5));
                }
                Ok(answer) if answer.starts_with("ERR") => return Outcome::Failed(answer),
                Ok(answer) if answer == "NOT_FOUND" => return Outcome::Ok(None),
                Ok(answer) => {
                    let value = answer.strip_prefix("VALUE ").map(str::to_string);
                    return Outcome::Ok(value.or(Some(answer)));
                }
                Err(e) => {
                    self.open.remove(&addr);
                    last = format!("{addr}: {e}");
                }
            }
        }
        Outcome::Failed(last)
    }
}

/// One workload thread: PUTs, GETs and a few DELs of its own keys, paced
/// to `rate` operations a second, checked as it goes.
fn workload(
    thread_no: usize,
    settings: &Settings,
    nodes: &Nodes,
    tally: &Tally,
    keys: &Mutex<Vec<KeyState>>,
    stop: &AtomicBool,
) {
    let mut rng = Rng::new(settings.seed ^ ((thread_no as u64 + 1) * 0x5851_F42D));
    let per_thread = (settings.rate as f64 / settings.threads as f64).max(0.1);
    let gap = Duration::from_secs_f64(1.0 / per_thread);
    let mut connections = Connections {
        open: HashMap::new(),
    };
    let mut next = Instant::now();
    let mut sequence = 0u64;
    while !stop.load(Ordering::Relaxed) {
        let now = Instant::now();
        if now < next {
            thread::sleep(next - now);
        }
        next += gap;
        let index = rng.below(keys.lock().len());
        let key = key_name(thread_no, index);
        let roll = rng.below(100);
        sequence += 1;
        let started = Instant::now();
        if roll < 50 {
            // A GET, checked against what was acknowledged before it.
            tally.gets.fetch_add(1, Ordering::Relaxed);
            match connections.send(nodes, &mut rng, &format!("GET {key}"), tally) {
                Outcome::Ok(got) => {
                    tally.gets_ok.fetch_add(1, Ordering::Relaxed);
                    tally
                        .get_micros
                        .lock()
                        .push(started.elapsed().as_micros() as u64);
                    if !keys.lock()[index].accepts(&got) {
                        tally.stale.fetch_add(1, Ordering::Relaxed);
                    }
                }
                Outcome::Failed(why) => *tally.last_failure.lock() = why,
            }
            continue;
        }
        // A PUT (45%) or a DEL (5%).
        let value = (roll < 95).then(|| format!("{thread_no}.{sequence}"));
        let line = match &value {
            Some(v) => format!("PUT {key} {v}"),
            None => format!("DEL {key}"),
        };
        tally.puts.fetch_add(1, Ordering::Relaxed);
        match connections.send(nodes, &mut rng, &line, tally) {
            Outcome::Ok(_) => {
                tally.puts_ok.fetch_add(1, Ordering::Relaxed);
                tally
                    .put_micros
                    .lock()
                    .push(started.elapsed().as_micros() as u64);
                let state = &mut keys.lock()[index];
                state.acked = Some((sequence, value));
                state.maybe.clear();
            }
            Outcome::Failed(why) => {
                *tally.last_failure.lock() = why;
                keys.lock()[index].maybe.push(value);
            }
        }
    }
}

fn key_name(thread_no: usize, index: usize) -> String {
    format!("churn-{thread_no}-{index}")
}

/// The `q` quantile of `samples` in milliseconds.
fn quantile_ms(samples: &mut [u64], q: f64) -> f64 {
    if samples.is_empty() {
        return 0.0;
    }
    samples.sort_unstable();
    let i = ((samples.len() as f64 - 1.0) * q).round() as usize;
    samples[i] as f64 / 1000.0
}

fn share(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        return 100.0;
    }
    100.0 * part as f64 / whole as f64
}

/// Reads every key of every thread once, through random live nodes;
/// returns how many keys read older than acknowledged, and which.
fn read_everything(
    settings: &Settings,
    nodes: &Nodes,
    keys: &[Mutex<Vec<KeyState>>],
    tally: &Tally,
) -> Vec<(usize, usize)> {
    let mut rng = Rng::new(settings.seed ^ 0xDEAD_BEEF);
    let mut connections = Connections {
        open: HashMap::new(),
    };
    let mut wrong = Vec::new();
    for (thread_no, states) in keys.iter().enumerate() {
        let states = states.lock();
        for (index, state) in states.iter().enumerate() {
            if state.acked.is_none() && state.maybe.is_empty() {
                continue;
            }
            let line = format!("GET {}", key_name(thread_no, index));
            let good = match connections.send(nodes, &mut rng, &line, tally) {
                Outcome::Ok(got) => state.accepts(&got),
                Outcome::Failed(_) => false,
            };
            if !good {
                wrong.push((thread_no, index));
            }
        }
    }
    wrong
}

/// `chord churn`: see the module docs.
pub fn churn(settings: &Settings) -> Result<bool, String> {
    let nodes = Arc::new(Nodes::new(
        settings.replicas,
        settings.stabilize_ms,
        &settings.logs,
    )?);
    let first = nodes.start(None)?;
    nodes.wait_for(1, Duration::from_secs(10))?;
    for _ in 1..settings.nodes {
        nodes.start(Some(&first))?;
    }
    nodes.wait_for(settings.nodes, Duration::from_secs(60))?;
    println!(
        "churn: {} nodes up (R = {}, stabilize every {} ms); running {:?} of workload at {} ops/s{}{}",
        settings.nodes,
        settings.replicas,
        settings.stabilize_ms,
        settings.duration,
        settings.rate,
        settings
            .kill_every
            .map(|d| format!(", killing {} every {d:?}", settings.at_once))
            .unwrap_or_default(),
        settings
            .join_every
            .map(|d| format!(", joining one every {d:?}"))
            .unwrap_or_default(),
    );
    let per_thread = settings.keys.div_ceil(settings.threads).max(1);
    let keys: Arc<Vec<Mutex<Vec<KeyState>>>> = Arc::new(
        (0..settings.threads)
            .map(|_| Mutex::new((0..per_thread).map(|_| KeyState::default()).collect()))
            .collect(),
    );
    let tally = Arc::new(Tally::default());
    let stop = Arc::new(AtomicBool::new(false));
    let settings = Arc::new(settings.clone());
    let mut workers = Vec::new();
    for thread_no in 0..settings.threads {
        let (settings, nodes, tally, keys, stop) = (
            settings.clone(),
            nodes.clone(),
            tally.clone(),
            keys.clone(),
            stop.clone(),
        );
        workers.push(thread::spawn(move || {
            workload(
                thread_no,
                &settings,
                &nodes,
                &tally,
                &keys[thread_no],
                &stop,
            )
        }));
    }
    // The churn itself, on this thread, with a progress line a second.
    let mut rng = Rng::new(settings.seed);
    let started = Instant::now();
    let (mut kills, mut joins) = (0usize, 0usize);
    let mut next_kill = settings.kill_every.map(|d| started + d);
    let mut next_join = settings.join_every.map(|d| started + d);
    let mut next_report = started + Duration::from_secs(1);
    // The kill whose healing is being timed, and the times measured.
    let mut unsettled_since: Option<Instant> = None;
    let mut next_settle_check = started;
    let mut settle_times: Vec<Duration> = Vec::new();
    while started.elapsed() < settings.duration {
        let now = Instant::now();
        if let (Some(at), Some(every)) = (next_kill, settings.kill_every) {
            if now >= at {
                for _ in 0..settings.at_once {
                    let addrs = nodes.addrs();
                    if addrs.len() > settings.replicas {
                        nodes.kill(&addrs[rng.below(addrs.len())]);
                        kills += 1;
                    }
                }
                unsettled_since = Some(Instant::now());
                next_kill = Some(at + every);
            }
        }
        if let (Some(at), Some(every)) = (next_join, settings.join_every) {
            if now >= at {
                let addrs = nodes.addrs();
                let through = addrs[rng.below(addrs.len())].clone();
                nodes.start(Some(&through))?;
                joins += 1;
                next_join = Some(at + every);
            }
        }
        if let Some(since) = unsettled_since.filter(|_| now >= next_settle_check) {
            if ring_settled(&nodes.addrs()) {
                settle_times.push(since.elapsed());
                unsettled_since = None;
            }
            next_settle_check = now + Duration::from_millis(50);
        }
        if now >= next_report {
            println!(
                "t={:>3}s nodes={:>2} kills={kills} joins={joins} puts={}/{} gets={}/{} stale={} retries={}",
                started.elapsed().as_secs(),
                nodes.addrs().len(),
                tally.puts_ok.load(Ordering::Relaxed),
                tally.puts.load(Ordering::Relaxed),
                tally.gets_ok.load(Ordering::Relaxed),
                tally.gets.load(Ordering::Relaxed),
                tally.stale.load(Ordering::Relaxed),
                tally.retries.load(Ordering::Relaxed),
            );
            next_report += Duration::from_secs(1);
        }
        thread::sleep(Duration::from_millis(5));
    }
    stop.store(true, Ordering::Relaxed);
    for worker in workers {
        let _ = worker.join();
    }
    // Settling: the ring's pointers agree with its membership.
    let settle_deadline = Instant::now() + Duration::from_secs(60);
    while !ring_settled(&nodes.addrs()) {
        if Instant::now() > settle_deadline {
            return Err("the ring did not settle within 60 s of the churn ending".into());
        }
        thread::sleep(Duration::from_millis(20));
    }
    if let Some(since) = unsettled_since {
        settle_times.push(since.elapsed());
    }
    let check = Tally::default();
    let stale_after = read_everything(&settings, &nodes, &keys, &check);
    // Anything still wrong gets a few more seconds of repair, then counts
    // as lost.
    let mut lost = stale_after.len();
    if lost > 0 {
        thread::sleep(Duration::from_millis(20 * settings.stabilize_ms));
        lost = read_everything(&settings, &nodes, &keys, &check).len();
    }
    let written = keys
        .iter()
        .map(|k| k.lock().iter().filter(|s| s.acked.is_some()).count())
        .sum::<usize>();
    let (puts, puts_ok) = (
        tally.puts.load(Ordering::Relaxed),
        tally.puts_ok.load(Ordering::Relaxed),
    );
    let (gets, gets_ok) = (
        tally.gets.load(Ordering::Relaxed),
        tally.gets_ok.load(Ordering::Relaxed),
    );
    let mut put_micros = std::mem::take(&mut *tally.put_micros.lock());
    let mut get_micros = std::mem::take(&mut *tally.get_micros.lock());
    println!("--- churn report (seed {}) ---", settings.seed);
    println!(
        "nodes at start={} end={} kills={kills} joins={joins}",
        settings.nodes,
        nodes.addrs().len()
    );
    println!("writes acknowledged={puts_ok} (keys with an acknowledged write: {written})");
    println!("acknowledged writes lost={lost}");
    println!(
        "stale reads during churn={} after settling={}",
        tally.stale.load(Ordering::Relaxed),
        stale_after.len()
    );
    println!(
        "availability during churn: GET {:.3}% ({gets_ok}/{gets}), PUT/DEL {:.3}% ({puts_ok}/{puts}), retries at another node={}",
        share(gets_ok, gets),
        share(puts_ok, puts),
        tally.retries.load(Ordering::Relaxed)
    );
    println!(
        "latency ms: GET p50={:.2} p99={:.2}, PUT/DEL p50={:.2} p99={:.2}",
        quantile_ms(&mut get_micros, 0.5),
        quantile_ms(&mut get_micros, 0.99),
        quantile_ms(&mut put_micros, 0.5),
        quantile_ms(&mut put_micros, 0.99)
    );
    let failure = tally.last_failure.lock().clone();
    if !failure.is_empty() {
        println!("last failed operation: {failure}");
    }
    let last = settle_times.last().copied().unwrap_or_default();
    settle_times.sort();
    let median = settle_times
        .get(settle_times.len() / 2)
        .copied()
        .unwrap_or_default();
    println!(
        "ring settled after a kill: last kill {} ms, median {} ms, max {} ms (a join may overlap)",
        last.as_millis(),
        median.as_millis(),
        settle_times.last().copied().unwrap_or_default().as_millis()
    );
    Ok(lost == 0)
}

/// What the massive-failure experiment is asked to do.
pub struct MassiveSettings {
    pub nodes: usize,
    pub replicas: usize,
    pub fraction: f64,
    pub keys: usize,
    pub lookups: usize,
    pub seed: u64,
    pub stabilize_ms: u64,
    pub logs: String,
}

/// The addresses of the `replicas` nodes that hold `key` in a ring of
/// `addrs`: its successor and the nodes after it.
fn holders(addrs: &[String], key: &str, replicas: usize) -> Vec<String> {
    let ring = ring_of(addrs);
    let id = space().hash(key.as_bytes());
    let at = ring.iter().position(|(n, _)| *n >= id).unwrap_or(0);
    (0..replicas.min(ring.len()))
        .map(|i| ring[(at + i) % ring.len()].1.clone())
        .collect()
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

/// `chord massive`: the paper's experiment of section "Simultaneous Node
/// Failures": a fraction p of the nodes fails at once; how many lookups
/// fail before and after stabilization, and how many keys are lost next
/// to what R predicts.
pub fn massive(settings: &MassiveSettings) -> Result<(), String> {
    let nodes = Nodes::new(settings.replicas, settings.stabilize_ms, &settings.logs)?;
    let first = nodes.start(None)?;
    nodes.wait_for(1, Duration::from_secs(10))?;
    for _ in 1..settings.nodes {
        nodes.start(Some(&first))?;
    }
    nodes.wait_for(settings.nodes, Duration::from_secs(60))?;
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
