//! chord against Redis, measured with Redis's own load generator
//! (`chord-lab bench`, run by `make bench`).
//!
//! The harness starts a `redis-server`, a single chord node and a ring of
//! chord nodes on free loopback ports, then runs `redis-benchmark` against
//! each with the same arguments: 100-byte values over 10,000 random keys.
//! Each case runs on Redis and then on chord, and the pair is repeated for
//! every round, so that the machine's drift falls on both alike; the table
//! gives the medians over the rounds, and the ratio is the median of the
//! rounds' ratios.
//!
//! Against the ring, clients are spread over the nodes: one
//! `redis-benchmark` per node, the connections and requests divided among
//! them; Redis gets the same processes, all aimed at its one port. The
//! throughput is their sum; p50 is their mean weighted by throughput, p99
//! the worst of them. "set+get" is the rate of an even mix of the two, as
//! both runs give it: two requests take 1/set + 1/get seconds. For the
//! ring, the table also gives the peer calls each client request made,
//! from the nodes' STATS.
//!
//! A chord ring answers Redis Cluster's `CLUSTER NODES` and `SLOTS`, so
//! `redis-benchmark --cluster` can load it as it loads Redis Cluster,
//! sending each key to its owner: the "slots" rows load the ring so, and
//! the "ring" rows with one plain redis-benchmark per node.
//!
//! Three copies of every key, on both sides: a Redis Cluster of 3 masters
//! with 2 replicas each (9 `redis-server` processes) against a ring of 9
//! chord nodes with R = 3, each loaded by one `redis-benchmark
//! --cluster`. The two do not promise the same:
//! Redis Cluster acknowledges a write before its replicas have it, chord
//! after R nodes hold it.
//!
//! Durable nodes, each side on disk: one chord node with `--data-dir`
//! against a redis-server with `appendonly yes`, under the same
//! `appendfsync` (`everysec`, then `always`).
//!
//! Every row also gives the servers' CPU time per request, all their
//! processes summed, read from `/proc` before and after the run.
//!
//! redis-benchmark and redis-server are not part of chord: when either is
//! missing the harness says how to install them and measures nothing.

use std::fmt::Write as _;
use std::fs;
use std::io;
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use super::nodes::{ring_settled, sum_stats, Nodes};

/// How to install what the harness runs, where it is missing.
const INSTALL: &str = "redis-benchmark and redis-server are needed to compare chord with \
     Redis; on Debian or Ubuntu: sudo apt-get install redis-tools redis-server";

/// What `chord-lab bench` measures.
#[derive(Clone, Debug)]
pub struct Options {
    /// The `chord` binary, which the nodes run.
    pub exe: PathBuf,
    /// How many times each case runs on each system.
    pub rounds: usize,
    /// Requests per run at 50 connections; other cases scale it.
    pub requests: usize,
    /// Nodes in the ring.
    pub ring_nodes: usize,
    /// Only the cases whose name contains this, if given.
    pub only: Option<String>,
}

/// Where a case's load goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Target {
    /// Redis, or one chord node.
    Single,
    /// Every node of the ring (Redis: its one port, as many times).
    Ring,
    /// The ring, loaded by one `redis-benchmark --cluster`, which reads
    /// the slot map and sends each key to its owner (Redis: its one port,
    /// one plain redis-benchmark).
    Slots,
    /// Every node of the 9-node ring with R = 3; Redis Cluster, 3 masters
    /// with 2 replicas each.
    Copies,
    /// One chord node with a data directory synced by this `--fsync`
    /// policy; Redis with its append-only file and the same `appendfsync`.
    Disk(&'static str),
}

/// The nodes of the three-copy comparison, on each side.
const COPIES_NODES: usize = 9;

/// One line of the table: a redis-benchmark test under one load.
struct Case {
    name: String,
    target: Target,
    /// `-t`'s argument.
    test: &'static str,
    /// The row redis-benchmark prints for it.
    row: &'static str,
    clients: usize,
    pipeline: usize,
    requests: usize,
}

/// What one run of a case measured.
#[derive(Clone, Copy, Debug, Default)]
struct Sample {
    rps: f64,
    p50_ms: f64,
    p99_ms: f64,
    /// Peer calls per client request, for chord's ring.
    peer_calls: Option<f64>,
    /// CPU time of all the servers' processes per request, in µs.
    cpu_us: f64,
}

/// A child process killed when dropped: redis-server, and its address.
struct Server(Child, String);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn cases(requests: usize) -> Vec<Case> {
    let case = |target, test, row, clients, pipeline, requests| {
        let load = if pipeline > 1 {
            format!("c={clients} P={pipeline}")
        } else {
            format!("c={clients}")
        };
        let place = match target {
            Target::Single => "node".to_string(),
            Target::Ring => "ring".to_string(),
            Target::Slots => "slots".to_string(),
            Target::Copies => "3-copy".to_string(),
            Target::Disk(fsync) => format!("disk {fsync}"),
        };
        Case {
            name: format!("{place} {test} {load}"),
            target,
            test,
            row,
            clients,
            pipeline,
            requests,
        }
    };
    let n = requests;
    let few = (n / 5).max(1000);
    use Target::{Copies, Disk, Ring, Single, Slots};
    vec![
        case(Single, "set", "SET", 1, 1, few),
        case(Single, "get", "GET", 1, 1, few),
        case(Single, "set", "SET", 50, 1, n),
        case(Single, "get", "GET", 50, 1, n),
        case(Single, "incr", "INCR", 50, 1, n),
        case(Single, "mset", "MSET (10 keys)", 50, 1, few),
        case(Single, "ping", "PING_MBULK", 50, 1, n),
        case(Single, "set", "SET", 1000, 1, n),
        case(Single, "get", "GET", 1000, 1, n),
        case(Single, "set", "SET", 50, 16, 4 * n),
        case(Single, "get", "GET", 50, 16, 4 * n),
        case(Ring, "set", "SET", 50, 1, n),
        case(Ring, "get", "GET", 50, 1, n),
        case(Ring, "incr", "INCR", 50, 1, few),
        case(Ring, "mset", "MSET (10 keys)", 50, 1, few / 5),
        case(Ring, "ping", "PING_MBULK", 50, 1, n),
        case(Ring, "set", "SET", 50, 16, 2 * n),
        case(Slots, "set", "SET", 50, 1, n),
        case(Slots, "get", "GET", 50, 1, n),
        // Half a run, not a fifth: at a fifth, Redis ran 0.3 s, too short to
        // measure a rate that connecting 50 cluster clients does not sway.
        case(Slots, "mset", "MSET (10 keys)", 50, 1, n / 2),
        case(Slots, "set", "SET", 50, 16, 2 * n),
        case(Copies, "set", "SET", 50, 1, n),
        case(Copies, "get", "GET", 50, 1, n),
        case(Disk("everysec"), "set", "SET", 50, 1, n),
        case(Disk("always"), "set", "SET", 50, 1, few),
    ]
}

/// Runs the comparison; the table, as text, and whether every case
/// passed. A case whose run reports an error (a busy machine can time one
/// out) is marked failed in its row, and the others are measured and shown
/// all the same.
///
/// # Errors
/// When redis-benchmark or redis-server is missing (saying how to install
/// them), or when a process cannot start.
pub fn run(options: &Options) -> Result<(String, bool), String> {
    for tool in ["redis-benchmark", "redis-server"] {
        match Command::new(tool).arg("--version").output() {
            Ok(out) if out.status.success() => {}
            _ => return Err(format!("{tool} is not installed. {INSTALL}")),
        }
    }
    // redis-benchmark at 1,000 connections needs more than the usual 1,024
    // descriptors; the children inherit the raised limit.
    chord::server::raise_open_file_limit().map_err(|e| format!("the open-file limit: {e}"))?;
    let logs = std::env::temp_dir().join(format!("chord-bench-{}", std::process::id()));
    let logs_text = logs.to_string_lossy().to_string();
    let result = compare(options, &logs_text);
    let _ = fs::remove_dir_all(&logs);
    result
}

fn compare(options: &Options, logs: &str) -> Result<(String, bool), String> {
    let cases: Vec<Case> = cases(options.requests)
        .into_iter()
        .filter(|c| options.only.as_ref().is_none_or(|o| c.name.contains(o)))
        .collect();
    if cases.is_empty() {
        return Err("no case matches --only".into());
    }
    let redis_addr = free_addr()?;
    let redis = start_redis(&redis_addr, None, None)?;
    let redis_pids = vec![redis.0.id()];
    let wanted = |t: Target| cases.iter().any(|c| c.target == t);
    let (cluster, cluster_ring) = if wanted(Target::Copies) {
        let cluster = start_redis_cluster(logs)?;
        let ring = Nodes::new(&options.exe, 3, 250, &format!("{logs}/copies"))?;
        start_ring(&ring, COPIES_NODES)?;
        (cluster, Some(ring))
    } else {
        (Vec::new(), None)
    };
    let cluster_pids: Vec<u32> = cluster.iter().map(|s| s.0.id()).collect();
    let single = Nodes::new(&options.exe, 3, 250, &format!("{logs}/single"))?;
    single.start(None)?;
    single.wait_for(1, Duration::from_secs(10))?;
    let ring = Nodes::new(&options.exe, 3, 250, &format!("{logs}/ring"))?;
    if wanted(Target::Ring) || wanted(Target::Slots) {
        start_ring(&ring, options.ring_nodes)?;
    }
    // A durable pair per policy: a chord node and a redis-server, each on
    // disk in the run's directory.
    let mut disks: Vec<(&str, Server, Nodes)> = Vec::new();
    for case in &cases {
        let Target::Disk(fsync) = case.target else {
            continue;
        };
        if disks.iter().any(|(f, _, _)| *f == fsync) {
            continue;
        }
        let dir = format!("{logs}/disk-{fsync}");
        let redis = start_redis(&free_addr()?, None, Some((&format!("{dir}/redis"), fsync)))?;
        let mut node = Nodes::new(&options.exe, 3, 250, &dir)?;
        node.keep_data(&format!("{dir}/chord"), fsync)?;
        node.start(None)?;
        node.wait_for(1, Duration::from_secs(10))?;
        disks.push((fsync, redis, node));
    }
    let disk_pids: Vec<(&str, Vec<u32>)> = disks
        .iter()
        .map(|(fsync, redis, _)| (*fsync, vec![redis.0.id()]))
        .collect();
    let mut samples: Vec<[Vec<Sample>; 2]> = cases.iter().map(|_| [vec![], vec![]]).collect();
    let mut failures: Vec<Vec<String>> = cases.iter().map(|_| Vec::new()).collect();
    let started = std::time::Instant::now();
    let total = options.rounds * cases.len();
    let mut done = 0;
    // What is left, at the pace so far: printed after each case.
    let left = |done: usize| {
        let per = started.elapsed().as_secs_f64() / done.max(1) as f64;
        format!("about {:.0} s left", per * (total - done) as f64)
    };
    for round in 0..options.rounds {
        for ((case, got), failed) in cases.iter().zip(samples.iter_mut()).zip(&mut failures) {
            let (chord_nodes, redis_run) = match case.target {
                Target::Single | Target::Ring | Target::Slots => {
                    let nodes = if case.target == Target::Single {
                        &single
                    } else {
                        &ring
                    };
                    // One process against Redis where chord gets one.
                    let processes = if case.target == Target::Slots {
                        1
                    } else {
                        nodes.addrs().len()
                    };
                    let run = Run {
                        targets: vec![redis_addr.clone(); processes],
                        cluster: false,
                        pids: &redis_pids,
                    };
                    (nodes, run)
                }
                Target::Copies => match &cluster_ring {
                    Some(nodes) => {
                        let run = Run {
                            targets: cluster.iter().take(1).map(|s| s.1.clone()).collect(),
                            cluster: true,
                            pids: &cluster_pids,
                        };
                        (nodes, run)
                    }
                    None => return Err("the three-copy systems did not start".into()),
                },
                Target::Disk(fsync) => {
                    let (_, redis, node) = disks
                        .iter()
                        .find(|(f, _, _)| *f == fsync)
                        .ok_or("the durable pair did not start")?;
                    let pids = disk_pids
                        .iter()
                        .find(|(f, _)| *f == fsync)
                        .map(|(_, p)| p.as_slice())
                        .unwrap_or_default();
                    let run = Run {
                        targets: vec![redis.1.clone()],
                        cluster: false,
                        pids,
                    };
                    (node, run)
                }
            };
            // Slot maps: one redis-benchmark --cluster, which reads the
            // map and sends each key to its owner.
            let cluster = matches!(case.target, Target::Copies | Target::Slots);
            let all = chord_nodes.addrs();
            let chord_pids = chord_nodes.pids();
            let chord_run = Run {
                targets: all
                    .iter()
                    .take(if cluster { 1 } else { all.len() })
                    .cloned()
                    .collect(),
                cluster,
                pids: &chord_pids,
            };
            let count = matches!(case.target, Target::Ring | Target::Slots | Target::Copies);
            // Peer calls are counted on every node of the ring, whichever
            // the load went to. A round of a case counts only when both
            // sides finished it: the ratio compares a pair.
            let counted = count.then_some(all.as_slice());
            let pair = measure(case, &redis_run, None)
                .and_then(|redis| measure(case, &chord_run, counted).map(|c| (redis, c)));
            done += 1;
            match pair {
                Ok((redis, chord)) => {
                    eprintln!(
                        "round {} of {}: {:<22} redis {:>8.0}/s  chord {:>8.0}/s  ({})",
                        round + 1,
                        options.rounds,
                        case.name,
                        redis.rps,
                        chord.rps,
                        left(done)
                    );
                    got[0].push(redis);
                    got[1].push(chord);
                }
                Err(e) => {
                    eprintln!(
                        "round {} of {}: {:<22} FAILED: {e}  ({})",
                        round + 1,
                        options.rounds,
                        case.name,
                        left(done)
                    );
                    failed.push(e);
                }
            }
        }
    }
    let table = table(&cases, &samples, &failures, options);
    Ok((table, failures.iter().all(Vec::is_empty)))
}

/// One side of a case: the addresses a redis-benchmark each goes to
/// (one, in cluster mode, which finds the rest), and the servers' pids.
struct Run<'a> {
    targets: Vec<String>,
    cluster: bool,
    pids: &'a [u32],
}

/// A loopback address with a port free a moment ago.
fn free_addr() -> Result<String, String> {
    let probe = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("a free port: {e}"))?;
    probe
        .local_addr()
        .map(|a| a.to_string())
        .map_err(|e| format!("a free port: {e}"))
}

/// A redis-server on `addr`; in `cluster` mode (a directory for its
/// cluster file), a node of a Redis Cluster yet to be formed; with `aof`
/// (a directory and an `appendfsync` policy), keeping an append-only file
/// there.
fn start_redis(
    addr: &str,
    cluster: Option<&str>,
    aof: Option<(&str, &str)>,
) -> Result<Server, String> {
    let port = addr.rsplit(':').next().unwrap_or("0");
    let mut command = Command::new("redis-server");
    command
        .args(["--port", port, "--bind", "127.0.0.1", "--save", ""])
        .args(["--maxclients", "4000"]);
    match aof {
        Some((dir, fsync)) => {
            fs::create_dir_all(dir).map_err(|e| format!("creating {dir}: {e}"))?;
            command
                .args(["--appendonly", "yes", "--appendfsync", fsync])
                .args(["--dir", dir]);
        }
        None => {
            command.args(["--appendonly", "no"]);
        }
    }
    if let Some(dir) = cluster {
        command
            .args(["--cluster-enabled", "yes", "--dir", dir])
            .args(["--cluster-config-file", &format!("nodes-{port}.conf")]);
    }
    let child = command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("starting redis-server: {e}"))?;
    let server = Server(child, addr.to_string());
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(addr).is_err() {
        if Instant::now() > deadline {
            return Err(format!("redis-server did not listen on {addr} in 10 s"));
        }
        thread::sleep(Duration::from_millis(20));
    }
    Ok(server)
}

/// A Redis Cluster on loopback: 3 masters with 2 replicas each, formed
/// by `redis-cli --cluster create`, ready when every slot is served.
fn start_redis_cluster(logs: &str) -> Result<Vec<Server>, String> {
    let dir = format!("{logs}/redis-cluster");
    fs::create_dir_all(&dir).map_err(|e| format!("creating {dir}: {e}"))?;
    let mut servers = Vec::new();
    for _ in 0..COPIES_NODES {
        servers.push(start_redis(&free_addr()?, Some(&dir), None)?);
    }
    let created = Command::new("redis-cli")
        .args(["--cluster", "create"])
        .args(servers.iter().map(|s| s.1.as_str()))
        .args(["--cluster-replicas", "2", "--cluster-yes"])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("redis-cli --cluster create: {e} ({INSTALL})"))?;
    if !created.status.success() {
        return Err(format!(
            "redis-cli --cluster create failed: {}",
            String::from_utf8_lossy(&created.stdout)
        ));
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    let (host, port) = servers[0].1.rsplit_once(':').unwrap_or(("127.0.0.1", "0"));
    loop {
        let info = Command::new("redis-cli")
            .args(["-h", host, "-p", port, "cluster", "info"])
            .output()
            .map_err(|e| format!("redis-cli: {e}"))?;
        let info = String::from_utf8_lossy(&info.stdout);
        if info.contains("cluster_state:ok") && info.contains("cluster_slots_ok:16384") {
            return Ok(servers);
        }
        if Instant::now() > deadline {
            return Err(format!("the Redis Cluster was not ready in 30 s: {info}"));
        }
        thread::sleep(Duration::from_millis(100));
    }
}

/// CPU time used so far by the processes `pids`, in µs, from `/proc`.
fn cpu_us(pids: &[u32]) -> u64 {
    // SAFETY: sysconf(3) has no preconditions.
    let ticks = u64::try_from(unsafe { libc::sysconf(libc::_SC_CLK_TCK) })
        .unwrap_or(100)
        .max(1);
    pids.iter()
        .filter_map(|pid| fs::read_to_string(format!("/proc/{pid}/stat")).ok())
        .map(|stat| {
            // After the command's name, which may hold spaces: utime and
            // stime are the 12th and 13th fields.
            let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
            let fields: Vec<u64> = rest
                .split_whitespace()
                .skip(11)
                .take(2)
                .filter_map(|f| f.parse().ok())
                .collect();
            fields.iter().sum::<u64>() * 1_000_000 / ticks
        })
        .sum()
}

fn start_ring(nodes: &Nodes, n: usize) -> Result<Vec<String>, String> {
    nodes.start_ring(n)?;
    let deadline = Instant::now() + Duration::from_secs(60);
    let addrs = nodes.addrs();
    while !ring_settled(&addrs) {
        if Instant::now() > deadline {
            return Err("the ring did not settle in 60 s".into());
        }
        thread::sleep(Duration::from_millis(100));
    }
    Ok(addrs)
}

/// Runs `case` as `run` says, one redis-benchmark per target, and sums
/// them.
fn measure(case: &Case, run: &Run, counted: Option<&[String]>) -> Result<Sample, String> {
    let targets = &run.targets;
    let before = counted.map(peer_calls).transpose()?;
    let cpu_before = cpu_us(run.pids);
    let k = targets.len();
    let children: Vec<(String, io::Result<Child>)> = targets
        .iter()
        .enumerate()
        .map(|(i, addr)| {
            // Divide connections and requests as evenly as they go.
            let clients = case.clients / k + usize::from(i < case.clients % k);
            let requests = case.requests / k + usize::from(i < case.requests % k);
            let (host, port) = addr.rsplit_once(':').unwrap_or((addr, "0"));
            let mut command = Command::new("redis-benchmark");
            if run.cluster {
                command.arg("--cluster");
            }
            let child = command
                .args(["-h", host, "-p", port, "-t", case.test, "--csv"])
                .args(["-d", "100", "-r", "10000"])
                .args(["-c", &clients.max(1).to_string()])
                .args(["-n", &requests.max(1).to_string()])
                .args(["-P", &case.pipeline.to_string()])
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn();
            (addr.clone(), child)
        })
        .collect();
    let mut parts = Vec::new();
    for (addr, child) in children {
        let child = child.map_err(|e| format!("starting redis-benchmark: {e}"))?;
        let output = child
            .wait_with_output()
            .map_err(|e| format!("redis-benchmark: {e}"))?;
        parts.push(parse(case, &addr, &output)?);
    }
    let cpu = cpu_us(run.pids).saturating_sub(cpu_before);
    let rps: f64 = parts.iter().map(|s| s.rps).sum();
    let mut sample = Sample {
        rps,
        p50_ms: parts.iter().map(|s| s.p50_ms * s.rps).sum::<f64>() / rps.max(f64::MIN_POSITIVE),
        p99_ms: parts.iter().map(|s| s.p99_ms).fold(0.0, f64::max),
        peer_calls: None,
        cpu_us: cpu as f64 / case.requests.max(1) as f64,
    };
    if let (Some((requests, calls)), Some(counted)) = (before, counted) {
        let (requests_after, calls_after) = peer_calls(counted)?;
        let requests = requests_after.saturating_sub(requests).max(1);
        sample.peer_calls = Some(calls_after.saturating_sub(calls) as f64 / requests as f64);
    }
    Ok(sample)
}

/// The row of `case` in redis-benchmark's CSV; any error it reported
/// fails the run.
fn parse(case: &Case, addr: &str, output: &Output) -> Result<Sample, String> {
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let complaint = stderr
        .lines()
        .chain(stdout.lines())
        .find(|l| l.contains("rror") || l.starts_with("ERR") || l.contains("-ERR"));
    if !output.status.success() || complaint.is_some() {
        return Err(format!(
            "redis-benchmark against {addr} ({}): {}",
            case.name,
            complaint.unwrap_or(stderr.trim())
        ));
    }
    let quoted = format!("\"{}\"", case.row);
    let fields: Vec<f64> = stdout
        .lines()
        .find(|l| l.starts_with(&quoted))
        .ok_or_else(|| format!("redis-benchmark printed no {quoted} row: {stdout}"))?
        .rsplit("\",\"")
        .map(|f| f.trim_matches('"').parse().unwrap_or(f64::NAN))
        .collect();
    // Reversed: max, p99, p95, p50, min, avg, rps, then the name.
    match fields.as_slice() {
        [_, p99, _, p50, _, _, rps, ..] => Ok(Sample {
            rps: *rps,
            p50_ms: *p50,
            p99_ms: *p99,
            peer_calls: None,
            cpu_us: 0.0,
        }),
        _ => Err(format!(
            "a row of redis-benchmark's CSV that is not: {stdout}"
        )),
    }
}

/// Client requests and the peer calls they made, summed over `targets`.
fn peer_calls(targets: &[String]) -> Result<(u64, u64), String> {
    let sums = sum_stats(targets, &["client_requests", "client_peer_calls"])?;
    Ok((sums[0], sums[1]))
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    match values.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => values[n / 2],
        n => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    }
}

/// The table: per case, medians over the rounds for each system.
fn table(
    cases: &[Case],
    samples: &[[Vec<Sample>; 2]],
    failures: &[Vec<String>],
    options: &Options,
) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "redis-benchmark, 100-byte values, 10,000 keys; Redis {} and chord \
         (one node, and a ring of {}); medians of {} rounds, alternated. \
         The ratio is the median of each round's ratio, so it need not be \
         the quotient of the two medians beside it. 3-copy rows: Redis \
         Cluster (3 masters, 2 replicas each; it acknowledges a write before \
         its replicas have it) against {COPIES_NODES} chord nodes with R = 3 \
         (acknowledged once 3 nodes hold it); both are loaded by one \
         redis-benchmark --cluster. ring rows: one redis-benchmark per node; \
         slots rows: the same ring, loaded by one redis-benchmark --cluster, \
         which sends each key to its owner. cpu: the servers' CPU µs per \
         request, all their processes",
        redis_version(),
        options.ring_nodes,
        options.rounds
    );
    let _ = writeln!(
        out,
        "{:<22} {:>10} {:>10} {:>6}  {:>14} {:>14}  {:>14}  {:>10}",
        "case",
        "redis/s",
        "chord/s",
        "ratio",
        "p50 ms r/c",
        "p99 ms r/c",
        "cpu µs r/c",
        "peer calls"
    );
    let row = |out: &mut String, name: &str, r: &[Sample], c: &[Sample]| {
        let ratio = median(r.iter().zip(c).map(|(r, c)| c.rps / r.rps).collect());
        let m = |s: &[Sample], f: fn(&Sample) -> f64| median(s.iter().map(f).collect());
        let calls = c.iter().filter_map(|s| s.peer_calls).collect::<Vec<_>>();
        let _ = writeln!(
            out,
            "{:<22} {:>10.0} {:>10.0} {:>6.2}  {:>6.2} / {:<6.2} {:>6.2} / {:<6.2}  {:>6.1} / {:<6.1} {:>10}",
            name,
            m(r, |s| s.rps),
            m(c, |s| s.rps),
            ratio,
            m(r, |s| s.p50_ms),
            m(c, |s| s.p50_ms),
            m(r, |s| s.p99_ms),
            m(c, |s| s.p99_ms),
            m(r, |s| s.cpu_us),
            m(c, |s| s.cpu_us),
            if calls.is_empty() {
                "-".to_string()
            } else {
                format!("{:.2}", median(calls))
            }
        );
    };
    for ((case, [redis, chord]), failed) in cases.iter().zip(samples).zip(failures) {
        if redis.is_empty() {
            let _ = writeln!(out, "{:<22} FAILED in every round", case.name);
        } else {
            row(&mut out, &case.name, redis, chord);
        }
        if let Some(first) = failed.first() {
            let _ = writeln!(
                out,
                "{:<22} FAILED in {} of {} rounds: {first}",
                "",
                failed.len(),
                options.rounds
            );
        }
    }
    // An even mix of SET and GET, from the two runs of each round.
    for place in ["node", "ring", "slots", "3-copy"] {
        let find = |test: &str| {
            cases
                .iter()
                .position(|c| c.name == format!("{place} {test} c=50"))
        };
        if let (Some(set), Some(get)) = (find("set"), find("get")) {
            let mix = |i: usize| -> Vec<Sample> {
                samples[set][i]
                    .iter()
                    .zip(&samples[get][i])
                    .map(|(s, g)| Sample {
                        rps: 2.0 / (1.0 / s.rps + 1.0 / g.rps),
                        p50_ms: (s.p50_ms + g.p50_ms) / 2.0,
                        p99_ms: s.p99_ms.max(g.p99_ms),
                        peer_calls: s.peer_calls.zip(g.peer_calls).map(|(a, b)| (a + b) / 2.0),
                        cpu_us: (s.cpu_us + g.cpu_us) / 2.0,
                    })
                    .collect()
            };
            row(&mut out, &format!("{place} set+get c=50"), &mix(0), &mix(1));
        }
    }
    out
}

fn redis_version() -> String {
    Command::new("redis-server")
        .arg("--version")
        .output()
        .ok()
        .and_then(|o| {
            String::from_utf8_lossy(&o.stdout)
                .split_whitespace()
                .find_map(|w| w.strip_prefix("v=").map(str::to_string))
        })
        .unwrap_or_else(|| "?".into())
}
