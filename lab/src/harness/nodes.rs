//! The node processes a harness starts on loopback, and what it does to
//! them: kill (SIGKILL), restart on the same port, freeze (SIGSTOP) and
//! thaw (SIGCONT); plus the few questions a harness asks a running ring.
//! Used by [`super::churn`] and [`super::massive`].

use std::collections::HashMap;
use std::fs;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use chord::client::Client;
use chord::id::{Id, IdSpace};

/// How long a harness waits for one answer from a node.
pub(super) const CALL_TIMEOUT: Duration = Duration::from_secs(15);

/// How many free ports [`Nodes::start`] tries before it gives up.
const START_TRIES: usize = 5;

/// The node processes this harness started, by address.
pub(super) struct Nodes {
    exe: PathBuf,
    settings_flags: Vec<String>,
    /// The ring's secret, fresh for each run, given to every node through
    /// `CHORD_SECRET`: the harness's ring is closed like `make ring`'s.
    secret: String,
    logs: String,
    live: Mutex<Vec<(String, Child)>>,
    /// Where each node keeps its data directory (`DIR/PORT`), with the
    /// `--fsync` policy; `None`: memory only.
    data: Option<(String, String)>,
    /// Nodes stopped with SIGSTOP, by address, with when to resume them.
    /// They stay in `live`, but [`Nodes::addrs`] leaves them out: clients
    /// and kills pick among nodes that run, as a client behind a health
    /// check would.
    frozen: Mutex<HashMap<String, Instant>>,
}

impl Nodes {
    /// Nodes that will run with R = `replicas` and stabilize every
    /// `stabilize_ms`, logging into the directory `logs`.
    pub(super) fn new(
        exe: &Path,
        replicas: usize,
        stabilize_ms: u64,
        logs: &str,
    ) -> Result<Nodes, String> {
        let exe = exe.to_path_buf();
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
            data: None,
            live: Mutex::new(Vec::new()),
            frozen: Mutex::new(HashMap::new()),
        })
    }

    /// Gives every node started from now on a data directory, `dir/PORT`
    /// (emptied first), synced by `fsync`: a node restarted on its port
    /// comes back with its keys.
    pub(super) fn keep_data(&mut self, dir: &str, fsync: &str) -> Result<(), String> {
        match fs::remove_dir_all(dir) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(format!("emptying {dir}: {e}")),
        }
        self.data = Some((dir.to_string(), fsync.to_string()));
        Ok(())
    }

    /// Starts a node on a free loopback port, joining through `join`.
    ///
    /// The port is found free by binding it and letting it go, so another
    /// process may take it before the node binds it: an outgoing
    /// connection of the nodes already running, which the kernel gives a
    /// port from the same range. A node that exits before it listens is
    /// started again on another port.
    pub(super) fn start(&self, join: Option<&str>) -> Result<String, String> {
        for _ in 0..START_TRIES {
            let probe =
                TcpListener::bind("127.0.0.1:0").map_err(|e| format!("a free port: {e}"))?;
            let addr = probe
                .local_addr()
                .map_err(|e| format!("a free port: {e}"))?
                .to_string();
            drop(probe);
            self.start_at(&addr, join, None)?;
            if self.listens(&addr)? {
                return Ok(addr);
            }
        }
        Err(format!(
            "no node stayed up on a free port in {START_TRIES} tries; see the logs in {}",
            self.logs
        ))
    }

    /// Waits until the node just started at `addr` accepts connections
    /// (true), or has exited (false; it is reaped and forgotten).
    fn listens(&self, addr: &str) -> Result<bool, String> {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if TcpStream::connect(addr).is_ok() {
                return Ok(true);
            }
            let mut live = self.live.lock();
            if let Some(i) = live.iter().position(|(a, _)| a == addr) {
                if let Ok(Some(_)) = live[i].1.try_wait() {
                    live.remove(i);
                    return Ok(false);
                }
            }
            drop(live);
            thread::sleep(Duration::from_millis(10));
        }
        Err(format!("the node at {addr} did not listen within 10 s"))
    }

    /// Starts a ring of `n` nodes on free loopback ports (the first
    /// creates it, the others join it) and waits until a walk of it lists
    /// them all; the first node's address.
    pub(super) fn start_ring(&self, n: usize) -> Result<String, String> {
        let first = self.start(None)?;
        self.wait_for(1, Duration::from_secs(10))?;
        for _ in 1..n {
            self.start(Some(&first))?;
        }
        self.wait_for(n, Duration::from_secs(60))?;
        Ok(first)
    }

    /// Kills the node at `addr` and at once starts a new one on the same
    /// address, joining through `join`: with an empty store, or with what
    /// its data directory kept (see [`Nodes::keep_data`]).
    pub(super) fn restart(&self, addr: &str, join: &str) -> Result<(), String> {
        self.kill(addr);
        self.start_at(addr, Some(join), None)
    }

    /// Starts a node listening on `addr`, joining through `join`, in the
    /// network namespace `netns` if one is named (through `ip netns exec`,
    /// which execs the node: the child is the node).
    pub(super) fn start_at(
        &self,
        addr: &str,
        join: Option<&str>,
        netns: Option<&str>,
    ) -> Result<(), String> {
        let port = addr.rsplit(':').next().unwrap_or("0");
        let log_path = format!("{}/node-{port}.log", self.logs);
        // Appended to: a node restarted on its port goes on in the same log.
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .map_err(|e| format!("creating {log_path}: {e}"))?;
        let mut command = match netns {
            Some(netns) => {
                let mut ip = Command::new("ip");
                ip.args(["netns", "exec", netns]).arg(&self.exe);
                ip
            }
            None => Command::new(&self.exe),
        };
        command
            .args(["node", "--listen", addr])
            .args(&self.settings_flags);
        if let Some(join) = join {
            command.args(["--join", join]);
        }
        if let Some((dir, fsync)) = &self.data {
            command
                .arg("--data-dir")
                .arg(format!("{dir}/{port}"))
                .args(["--fsync", fsync]);
        }
        // Nodes log warnings only, unless CHORD_NODE_LOG asks for more
        // (`CHORD_NODE_LOG=info make churn ...` to trace a failure).
        let level = std::env::var("CHORD_NODE_LOG").unwrap_or_else(|_| "warn".into());
        let child = command
            .env("RUST_LOG", level)
            .env("CHORD_SECRET", &self.secret)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(|e| format!("starting a node: {e}"))?;
        self.live.lock().push((addr.to_string(), child));
        Ok(())
    }

    /// The process ids of the nodes started and not killed.
    pub(super) fn pids(&self) -> Vec<u32> {
        self.live.lock().iter().map(|(_, c)| c.id()).collect()
    }

    /// The nodes that run: started, not killed, not frozen.
    pub(super) fn addrs(&self) -> Vec<String> {
        let frozen = self.frozen.lock();
        self.live
            .lock()
            .iter()
            .map(|(a, _)| a.clone())
            .filter(|a| !frozen.contains_key(a))
            .collect()
    }

    /// How many nodes are frozen now.
    pub(super) fn frozen_count(&self) -> usize {
        self.frozen.lock().len()
    }

    /// Stops the node at `addr` with SIGSTOP until `until` (see
    /// [`Nodes::thaw_due`]). Whether it was stopped.
    pub(super) fn freeze(&self, addr: &str, until: Instant) -> bool {
        if !self.signal(addr, libc::SIGSTOP) {
            return false;
        }
        self.frozen.lock().insert(addr.to_string(), until);
        true
    }

    /// Resumes, with SIGCONT, every frozen node whose time has come (all
    /// of them with `all`); how many.
    pub(super) fn thaw_due(&self, all: bool) -> usize {
        let now = Instant::now();
        let due: Vec<String> = self
            .frozen
            .lock()
            .iter()
            .filter(|(_, until)| all || **until <= now)
            .map(|(a, _)| a.clone())
            .collect();
        for addr in &due {
            self.signal(addr, libc::SIGCONT);
            self.frozen.lock().remove(addr);
        }
        due.len()
    }

    /// Sends `signal` to the node process at `addr`, a child of this
    /// process. Whether it was sent.
    fn signal(&self, addr: &str, signal: libc::c_int) -> bool {
        let live = self.live.lock();
        let Some((_, child)) = live.iter().find(|(a, _)| a == addr) else {
            return false;
        };
        let Ok(pid) = libc::pid_t::try_from(child.id()) else {
            return false;
        };
        // SAFETY: kill(2) takes a pid and a signal number and touches no
        // memory of ours; the pid is our own child, not yet reaped (it is
        // still in `live`), so it cannot name another process.
        unsafe { libc::kill(pid, signal) == 0 }
    }

    /// SIGKILLs the node at `addr` (a child of this process) and reaps it.
    pub(super) fn kill(&self, addr: &str) {
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

    /// SIGKILLs every node at once (all signalled, then all reaped), as a
    /// machine or a data centre that loses power would; the time from the
    /// first signal to the last.
    pub(super) fn kill_all(&self) -> Duration {
        let mut live = std::mem::take(&mut *self.live.lock());
        self.frozen.lock().clear();
        let first = Instant::now();
        for (_, child) in &mut live {
            let _ = child.kill();
        }
        let spread = first.elapsed();
        for (_, child) in &mut live {
            let _ = child.wait();
        }
        spread
    }

    /// Stops every node left, with SIGKILL: the run is over.
    pub(super) fn stop_all(&self) {
        self.thaw_due(true);
        for addr in self.addrs() {
            self.kill(&addr);
        }
    }

    /// Waits until a RING walk from the first node lists `n` nodes.
    pub(super) fn wait_for(&self, n: usize, timeout: Duration) -> Result<(), String> {
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
pub(super) fn ring_size(addr: &str) -> Option<usize> {
    let mut client = Client::connect(addr, CALL_TIMEOUT).ok()?;
    let lines = client.request("RING").ok()?;
    (!lines.first()?.starts_with("ERR")).then_some(lines.len())
}

/// The identifier space of the nodes the harness starts (m = 160).
pub(super) fn space() -> IdSpace {
    IdSpace::new(160).expect("160 bits is a valid identifier size")
}

/// The nodes at `addrs` as they should stand on the ring: by identifier.
pub(super) fn ring_of(addrs: &[String]) -> Vec<(Id, &String)> {
    let mut ring: Vec<(Id, &String)> = addrs
        .iter()
        .map(|a| (space().hash(a.as_bytes()), a))
        .collect();
    ring.sort();
    ring
}

/// The addresses of the `replicas` nodes that hold `key` in a ring of
/// `addrs`: its successor and the nodes after it.
pub(super) fn holders(addrs: &[String], key: &str, replicas: usize) -> Vec<String> {
    let ring = ring_of(addrs);
    let id = space().key(key.as_bytes());
    let at = ring.iter().position(|(n, _)| *n >= id).unwrap_or(0);
    (0..replicas.min(ring.len()))
        .map(|i| ring[(at + i) % ring.len()].1.clone())
        .collect()
}

/// Sends one line to `at`, over a connection kept in `clients`.
pub(super) fn ask(
    clients: &mut HashMap<String, Client>,
    at: &str,
    line: &str,
) -> std::io::Result<String> {
    let client = match clients.get_mut(at) {
        Some(client) => client,
        None => {
            let client = Client::connect(at, CALL_TIMEOUT)?;
            clients.entry(at.to_string()).or_insert(client)
        }
    };
    client.line(line)
}

/// The STATS counters `names`, each summed over the nodes at `targets`
/// (a counter a node does not report counts 0).
///
/// # Errors
/// The first node that could not be asked, and why.
pub(super) fn sum_stats(targets: &[String], names: &[&str]) -> Result<Vec<u64>, String> {
    let mut sums = vec![0; names.len()];
    for addr in targets {
        let lines = Client::connect(addr, CALL_TIMEOUT)
            .and_then(|mut c| c.request("STATS"))
            .map_err(|e| format!("STATS at {addr}: {e}"))?;
        for (sum, name) in sums.iter_mut().zip(names) {
            *sum += lines
                .iter()
                .find_map(|l| l.strip_prefix(name)?.strip_prefix('='))
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0);
        }
    }
    Ok(sums)
}

/// Whether every live node's predecessor and successor are the live nodes
/// before and after it by identifier: the ring has settled.
pub(super) fn ring_settled(addrs: &[String]) -> bool {
    unsettled(addrs).is_empty()
}

/// Each live node whose successor or predecessor is not the live node
/// after or before it by identifier, with what it has and should have.
pub(super) fn unsettled(addrs: &[String]) -> Vec<String> {
    let ring = ring_of(addrs);
    let mut wrong = Vec::new();
    for (i, (_, addr)) in ring.iter().enumerate() {
        let next = ring[(i + 1) % ring.len()].1;
        let previous = ring[(i + ring.len() - 1) % ring.len()].1;
        let lines = match Client::connect(addr, CALL_TIMEOUT).and_then(|mut c| c.request("NODE")) {
            Ok(lines) => lines,
            Err(e) => {
                wrong.push(format!("{addr}: NODE failed: {e}"));
                continue;
            }
        };
        let field = |name: &str| {
            lines
                .iter()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|rest| rest.split_whitespace().last())
                .map(str::to_string)
        };
        let successor = field("successor 1 ");
        if successor.as_deref() != Some(next.as_str()) {
            wrong.push(format!("{addr}: successor {successor:?}, not {next}"));
        }
        let predecessor = field("predecessor ");
        if ring.len() > 1 && predecessor.as_deref() != Some(previous.as_str()) {
            wrong.push(format!(
                "{addr}: predecessor {predecessor:?}, not {previous}"
            ));
        }
    }
    wrong
}
