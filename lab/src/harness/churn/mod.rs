//! The churn harness: real node processes on loopback, a checked workload,
//! and nodes killed with SIGKILL and started while it runs (`chord-lab churn`).
//! The node processes it starts serve [`super::massive`] too.
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
//!
//! Each thread also counts with `INCR` on a key of its own. Every
//! acknowledged increment must count exactly once; one that failed, or
//! whose attempt at some node got no answer, may count once or not at
//! all. So an answer, and the counter read after settling, must lie
//! between the acknowledged increments and those plus the uncertain ones:
//! below, an increment was lost; above, one counted twice.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

mod check;

use super::nodes::{holders, ring_settled, sum_stats, unsettled, Nodes, CALL_TIMEOUT};
use super::Rng;
use check::{Count, Counter, KeyState};
use chord::client::Client;

/// How long one operation may take, retries at other nodes included.
const OP_DEADLINE: Duration = Duration::from_secs(15);

/// What the harness does to a node every `kill_every`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// SIGKILL; a joining node replaces it (see `join_every`).
    Kill,
    /// SIGKILL, and a new node at once on the same port: with an empty
    /// store, or with its data directory (see [`Settings::durable`]).
    Restart,
    /// SIGSTOP for 5 to 15 s, then SIGCONT.
    Freeze,
}

/// The shortest and longest freeze, in milliseconds.
const FREEZE_MS: (usize, usize) = (5_000, 15_000);

/// How long a client waits for one answer when nodes freeze: a node can
/// freeze with a request in flight, and a client with failover gives up on
/// it and asks another. (Otherwise [`CALL_TIMEOUT`].)
const FREEZE_CALL_TIMEOUT: Duration = Duration::from_secs(2);

/// What a run is asked to do.
#[derive(Clone)]
pub struct Settings {
    /// The `chord` binary the node processes run.
    pub exe: PathBuf,
    /// Nodes at the start.
    pub nodes: usize,
    /// R, the nodes that hold each key.
    pub replicas: usize,
    /// How long the churn and the workload run.
    pub duration: Duration,
    /// How often nodes are killed with SIGKILL (or restarted, or frozen:
    /// see `fault`), if at all.
    pub kill_every: Option<Duration>,
    /// What happens to a node every `kill_every`.
    pub fault: Fault,
    /// How often a node is started, if at all.
    pub join_every: Option<Duration>,
    /// How many nodes each kill takes.
    pub at_once: usize,
    /// Workload operations a second, all threads together.
    pub rate: u64,
    /// Distinct keys the workload uses.
    pub keys: usize,
    /// Workload threads; each owns its keys.
    pub threads: usize,
    /// The seed of every random choice.
    pub seed: u64,
    /// The nodes' stabilization period, in milliseconds.
    pub stabilize_ms: u64,
    /// Where node logs go.
    pub logs: String,
    /// The `--fsync` policy of nodes that keep their keys in data
    /// directories (under `logs/data`), so that a restart brings them
    /// back; `None`: memory only.
    pub durable: Option<String>,
    /// Send each request first to the node that owns its key on a ring of
    /// the nodes running now, as a client holding the slot map does
    /// (`CLUSTER SLOTS`), rather than to a random node: most requests then
    /// meet a node answering for its own arc, without a lookup.
    pub to_owner: bool,
}

/// Counters shared by the workload threads.
#[derive(Default)]
struct Tally {
    puts: AtomicU64,
    puts_ok: AtomicU64,
    gets: AtomicU64,
    gets_ok: AtomicU64,
    stale: AtomicU64,
    /// The first stale reads, described for the report: which key, what
    /// was read, and what was acknowledged.
    stale_seen: Mutex<Vec<String>>,
    retries: AtomicU64,
    incrs: AtomicU64,
    incrs_ok: AtomicU64,
    /// Answers to INCR below or above what the checker allows.
    incrs_lost: AtomicU64,
    incrs_twice: AtomicU64,
    /// Why the last failed operation failed, for the report.
    last_failure: Mutex<String>,
    /// Latencies of successful operations, in microseconds.
    put_micros: Mutex<Vec<u64>>,
    get_micros: Mutex<Vec<u64>>,
    /// Latencies of the operations, successful or not, that started while
    /// a node was frozen, in microseconds.
    frozen_micros: Mutex<Vec<u64>>,
}

/// The answer to one operation, once some node gave one.
enum Outcome {
    Ok(Option<String>),
    Failed(String),
}

/// A workload thread's connections, one per node, opened as needed.
struct Connections {
    open: HashMap<String, Client>,
    /// How long to wait for one answer.
    timeout: Duration,
    /// Requests sent that got no answer (the connection failed or timed
    /// out after the line went out): each may have taken effect.
    unanswered: u64,
    /// The node that gave the last answer, for the report.
    answered_by: String,
    /// [`Settings::to_owner`].
    to_owner: bool,
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
            let addrs = nodes.addrs();
            if addrs.is_empty() {
                thread::sleep(Duration::from_millis(10));
                continue;
            }
            let owner = line
                .split_whitespace()
                .nth(1)
                .filter(|_| first && self.to_owner)
                .and_then(|key| holders(&addrs, key, 1).pop());
            first = false;
            let addr = owner.unwrap_or_else(|| addrs[rng.below(addrs.len())].clone());
            let client = match self.open.get_mut(&addr) {
                Some(client) => client,
                None => match Client::connect(&addr, self.timeout) {
                    Ok(client) => self.open.entry(addr.clone()).or_insert(client),
                    Err(e) => {
                        last = format!("{addr}: {e}");
                        continue;
                    }
                },
            };
            let answer = client.line(line);
            if answer.is_ok() {
                self.answered_by.clone_from(&addr);
            }
            match answer {
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
                    self.unanswered += 1;
                    last = format!("{addr}: {e}");
                }
            }
        }
        Outcome::Failed(last)
    }
}

/// One workload thread: PUTs, GETs and a few DELs of its own keys, and
/// INCRs of its counter, paced to `rate` operations a second, checked as
/// it goes. Returns the counter as the checker knows it.
fn workload(
    thread_no: usize,
    settings: &Settings,
    nodes: &Nodes,
    tally: &Tally,
    keys: &Mutex<Vec<KeyState>>,
    stop: &AtomicBool,
) -> Counter {
    let mut rng = Rng::new(settings.seed ^ ((thread_no as u64 + 1) * 0x5851_F42D));
    let per_thread = (settings.rate as f64 / settings.threads as f64).max(0.1);
    let gap = Duration::from_secs_f64(1.0 / per_thread);
    let mut connections = Connections {
        open: HashMap::new(),
        timeout: match settings.fault {
            Fault::Freeze => FREEZE_CALL_TIMEOUT,
            Fault::Kill | Fault::Restart => CALL_TIMEOUT,
        },
        unanswered: 0,
        answered_by: String::new(),
        to_owner: settings.to_owner,
    };
    let mut counter = Counter::default();
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
        let during_freeze = nodes.frozen_count() > 0;
        let note = |tally: &Tally| {
            if during_freeze {
                tally
                    .frozen_micros
                    .lock()
                    .push(started.elapsed().as_micros() as u64);
            }
        };
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
                    let state = keys.lock()[index].clone();
                    if !state.accepts(&got) {
                        tally.stale.fetch_add(1, Ordering::Relaxed);
                        let mut seen = tally.stale_seen.lock();
                        if seen.len() < 10 {
                            seen.push(format!(
                                "{} GET {key} via {} read {got:?}; acknowledged before it: {state:?}",
                                clock_time(),
                                connections.answered_by
                            ));
                        }
                    }
                }
                Outcome::Failed(why) => *tally.last_failure.lock() = why,
            }
            note(tally);
            continue;
        }
        if (90..95).contains(&roll) {
            increment(
                thread_no,
                nodes,
                &mut rng,
                &mut connections,
                &mut counter,
                tally,
            );
            note(tally);
            continue;
        }
        // A PUT (40%) or a DEL (5%).
        let value = (roll < 90).then(|| format!("{thread_no}.{sequence}"));
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
                let mut keys = keys.lock();
                keys[index].acknowledged(sequence, value);
                keys[index].acked_at = format!("{} via {}", clock_time(), connections.answered_by);
            }
            Outcome::Failed(why) => {
                *tally.last_failure.lock() = why;
                keys.lock()[index].failed(value);
            }
        }
        note(tally);
    }
    counter
}

/// One INCR of the thread's counter, checked against `counter`.
fn increment(
    thread_no: usize,
    nodes: &Nodes,
    rng: &mut Rng,
    connections: &mut Connections,
    counter: &mut Counter,
    tally: &Tally,
) {
    tally.incrs.fetch_add(1, Ordering::Relaxed);
    connections.unanswered = 0;
    let line = format!("INCR {}", counter_name(thread_no));
    let outcome = connections.send(nodes, rng, &line, tally);
    let unanswered = std::mem::take(&mut connections.unanswered);
    let answer = match outcome {
        Outcome::Ok(answer) => answer.unwrap_or_default(),
        Outcome::Failed(why) => {
            *tally.last_failure.lock() = why;
            // The error may come after the owner applied it.
            counter.failed(unanswered + 1);
            return;
        }
    };
    let Ok(sum) = answer.parse::<u64>() else {
        *tally.last_failure.lock() = format!("INCR answered {answer:?}");
        counter.failed(unanswered + 1);
        return;
    };
    tally.incrs_ok.fetch_add(1, Ordering::Relaxed);
    match counter.acknowledged(sum, unanswered) {
        Count::Right => {}
        Count::Lost => {
            tally.incrs_lost.fetch_add(1, Ordering::Relaxed);
        }
        Count::Twice => {
            tally.incrs_twice.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// The time of day in UTC to the millisecond, as the nodes' logs show it.
fn clock_time() -> String {
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let (secs, millis) = (since.as_secs() % 86_400, since.subsec_millis());
    format!(
        "{:02}:{:02}:{:02}.{millis:03}",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

fn key_name(thread_no: usize, index: usize) -> String {
    format!("churn-{thread_no}-{index}")
}

fn counter_name(thread_no: usize) -> String {
    format!("churn-{thread_no}-counter")
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

pub(super) fn share(part: u64, whole: u64) -> f64 {
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
        timeout: CALL_TIMEOUT,
        unanswered: 0,
        answered_by: String::new(),
        to_owner: settings.to_owner,
    };
    let mut wrong = Vec::new();
    for (thread_no, states) in keys.iter().enumerate() {
        let states = states.lock();
        for (index, state) in states.iter().enumerate() {
            if !state.was_written() {
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

/// Reads every thread's counter once, through random live nodes; how each
/// stands (a counter that cannot be read counts as lost).
fn read_counters(settings: &Settings, nodes: &Nodes, counters: &[(usize, Counter)]) -> Vec<Count> {
    let mut rng = Rng::new(settings.seed ^ 0xC0_FFEE);
    let mut connections = Connections {
        open: HashMap::new(),
        timeout: CALL_TIMEOUT,
        unanswered: 0,
        answered_by: String::new(),
        to_owner: settings.to_owner,
    };
    let check = Tally::default();
    counters
        .iter()
        .map(|(thread_no, counter)| {
            let line = format!("GET {}", counter_name(*thread_no));
            match connections.send(nodes, &mut rng, &line, &check) {
                Outcome::Ok(None) => counter.judge(0),
                Outcome::Ok(Some(sum)) => sum.parse().map_or(Count::Lost, |sum| counter.judge(sum)),
                Outcome::Failed(_) => Count::Lost,
            }
        })
        .collect()
}

/// `chord-lab churn`: see the module docs.
pub fn churn(settings: &Settings) -> Result<bool, String> {
    let mut nodes = Nodes::new(
        &settings.exe,
        settings.replicas,
        settings.stabilize_ms,
        &settings.logs,
    )?;
    if let Some(fsync) = &settings.durable {
        nodes.keep_data(&format!("{}/data", settings.logs), fsync)?;
    }
    let nodes = Arc::new(nodes);
    nodes.start_ring(settings.nodes)?;
    println!(
        "churn: {} nodes up (R = {}, stabilize every {} ms); running {:?} of workload at {} ops/s{}{}",
        settings.nodes,
        settings.replicas,
        settings.stabilize_ms,
        settings.duration,
        settings.rate,
        settings
            .kill_every
            .map(|d| {
                let verb = match settings.fault {
                    Fault::Kill => "killing",
                    Fault::Restart if settings.durable.is_some() => {
                        "restarting (with its data directory, same port)"
                    }
                    Fault::Restart => "restarting (empty, same port)",
                    Fault::Freeze => "freezing for 5 to 15 s",
                };
                format!(", {verb} {} every {d:?}", settings.at_once)
            })
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
    let (mut kills, mut joins, mut thaws) = (0usize, 0usize, 0usize);
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
                    // Freezes come one at a time (with `at_once`, that many):
                    // more frozen nodes than R - 1 at once could hold every
                    // copy of a key, and no design serves it then.
                    let busy =
                        settings.fault == Fault::Freeze && nodes.frozen_count() >= settings.at_once;
                    if addrs.len() <= settings.replicas || busy {
                        continue;
                    }
                    let victim = &addrs[rng.below(addrs.len())];
                    match settings.fault {
                        Fault::Kill => nodes.kill(victim),
                        Fault::Restart => {
                            let through = addrs.iter().find(|a| *a != victim).unwrap_or(victim);
                            nodes.restart(victim, through)?;
                        }
                        Fault::Freeze => {
                            let (shortest, longest) = FREEZE_MS;
                            let ms = shortest + rng.below(longest - shortest + 1);
                            let until = Instant::now() + Duration::from_millis(ms as u64);
                            if !nodes.freeze(victim, until) {
                                continue;
                            }
                        }
                    }
                    kills += 1;
                }
                unsettled_since = Some(Instant::now());
                next_kill = Some(at + every);
            }
        }
        thaws += nodes.thaw_due(false);
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
    let counters: Vec<(usize, Counter)> = workers
        .into_iter()
        .enumerate()
        .filter_map(|(thread_no, worker)| Some((thread_no, worker.join().ok()?)))
        .collect();
    thaws += nodes.thaw_due(true);
    // Settling: the ring's pointers agree with its membership.
    let settle_deadline = Instant::now() + Duration::from_secs(60);
    while !ring_settled(&nodes.addrs()) {
        if Instant::now() > settle_deadline {
            let wrong = unsettled(&nodes.addrs());
            return Err(format!(
                "the ring did not settle within 60 s of the churn ending: {}",
                wrong.join("; ")
            ));
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
    // Counters, likewise, with a second look for any out of bounds.
    let mut counts = read_counters(&settings, &nodes, &counters);
    if counts.iter().any(|c| *c != Count::Right) {
        thread::sleep(Duration::from_millis(20 * settings.stabilize_ms));
        counts = read_counters(&settings, &nodes, &counters);
    }
    let counted = |kind: Count| counts.iter().filter(|c| **c == kind).count();
    let (counters_lost, counters_twice) = (counted(Count::Lost), counted(Count::Twice));
    let written = keys
        .iter()
        .map(|k| k.lock().iter().filter(|s| s.has_acknowledged()).count())
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
    let faults = match settings.fault {
        Fault::Kill => "kills",
        Fault::Restart => "restarts",
        Fault::Freeze => "freezes",
    };
    println!(
        "nodes at start={} end={} {faults}={kills} joins={joins} thawed={thaws}",
        settings.nodes,
        nodes.addrs().len()
    );
    println!("writes acknowledged={puts_ok} (keys with an acknowledged write: {written})");
    println!("acknowledged writes lost={lost}");
    let (incrs, incrs_ok) = (
        tally.incrs.load(Ordering::Relaxed),
        tally.incrs_ok.load(Ordering::Relaxed),
    );
    let uncertain: u64 = counters.iter().map(|(_, c)| c.uncertain).sum();
    // Retries inside the ring that the owner answered from its record of
    // applied updates, at the nodes still up (a killed node's count is gone).
    let repeated = sum_stats(&nodes.addrs(), &["updates_repeated"])
        .map_or_else(|e| format!("unknown ({e})"), |sums| sums[0].to_string());
    println!(
        "increments acknowledged={incrs_ok}/{incrs} (attempts that may have counted: {uncertain}); \
         answers that lost one={} counted one twice={}; retries answered from the owner's record={repeated}",
        tally.incrs_lost.load(Ordering::Relaxed),
        tally.incrs_twice.load(Ordering::Relaxed),
    );
    println!(
        "counters after settling: {} of {} right, {counters_lost} lost an increment, {counters_twice} counted one twice",
        counted(Count::Right),
        counts.len()
    );
    println!(
        "stale reads during churn={} after settling={}",
        tally.stale.load(Ordering::Relaxed),
        stale_after.len()
    );
    for seen in tally.stale_seen.lock().iter() {
        println!("  stale: {seen}");
    }
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
    let mut frozen_micros = std::mem::take(&mut *tally.frozen_micros.lock());
    if !frozen_micros.is_empty() {
        println!(
            "while a node was frozen: {} operations, latency ms p50={:.2} p99={:.2} max={:.2}",
            frozen_micros.len(),
            quantile_ms(&mut frozen_micros, 0.5),
            quantile_ms(&mut frozen_micros, 0.99),
            quantile_ms(&mut frozen_micros, 1.0)
        );
    }
    println!(
        "operations that succeeded: {:.3}% ({}/{})",
        share(gets_ok + puts_ok + incrs_ok, gets + puts + incrs),
        gets_ok + puts_ok + incrs_ok,
        gets + puts + incrs
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
    let wrong_answers =
        tally.incrs_lost.load(Ordering::Relaxed) + tally.incrs_twice.load(Ordering::Relaxed);
    Ok(lost == 0 && counters_lost == 0 && counters_twice == 0 && wrong_answers == 0)
}
