//! Shared helpers for the integration tests.
//!
//! - [`TcpCluster`]: real nodes (accept thread, workers, maintenance thread)
//!   in this process, on ephemeral loopback ports, with short timers.
//! - [`MemCluster`]: the same protocol over the in-memory network, driven
//!   round by round from the test thread: deterministic, no sockets.
//! - Both implement [`Cluster`], so every scenario is written once and run
//!   over both transports.
//! - The expected ring is computed from the sorted identifiers alone, the
//!   way one would by hand: [`ring_is_correct`], [`fingers_are_correct`].
//!
//! Nothing here sleeps to guess: [`Cluster::settle_until`] waits for a
//! condition, with a deadline (TCP) or a bound on rounds (memory).

#![allow(dead_code)] // each test file uses a different part of this module

use std::sync::Arc;
use std::time::{Duration, Instant};

use chord::clock::VirtualClock;
use chord::id::{Id, IdSpace, NodeRef};
use chord::node::{Node, NodeConfig};
use chord::transport::{Handler, MemoryNetwork};
use chord::{Server, ServerConfig};

/// How long a test waits for a server to listen or a reply to come.
const TIMEOUT: Duration = Duration::from_secs(10);

/// r, the successor list length used by the tests (the paper's r; R, as
/// in the README, is the number of replicas).
pub const SUCCESSOR_LIST: usize = 4;

/// A ring under test.
pub trait Cluster {
    /// The nodes that are up, in the order they were started.
    fn live(&self) -> Vec<Arc<Node>>;
    /// Starts a node and joins it through the first live node.
    fn add_node(&mut self) -> Arc<Node>;
    /// Stops the node at `addr` abruptly: no goodbye, no handover.
    fn kill(&mut self, addr: &str);
    /// Makes the node at `addr` leave gracefully.
    fn leave(&mut self, addr: &str);
    /// Lets the ring run until `done` holds for the live nodes; panics,
    /// naming `what` and showing the ring, if it does not in time.
    fn settle_until(&mut self, what: &str, done: &dyn Fn(&[Arc<Node>]) -> bool);

    /// Starts `n` nodes, one after another.
    fn grow_to(&mut self, n: usize) {
        while self.live().len() < n {
            self.add_node();
        }
    }

    /// Waits for correct successors, predecessors, successor lists and
    /// fingers everywhere, and every node serving its arc (none copying
    /// keys or waiting out a lease).
    fn settle(&mut self) {
        self.settle_until("a correct ring with correct fingers", &|nodes| {
            ring_is_correct(nodes)
                && fingers_are_correct(nodes)
                && nodes.iter().all(|n| !n.view().taking_over)
        });
    }
}

/// Node settings for tests: m bits, r = [`SUCCESSOR_LIST`], short timers.
pub fn node_config(bits: u8) -> NodeConfig {
    let mut config = NodeConfig::new(IdSpace::new(bits).expect("valid bits"));
    config.successors = SUCCESSOR_LIST;
    config.stabilize_interval = Duration::from_millis(20);
    config.request_timeout = Duration::from_secs(5);
    config
}

/// The secret of every [`TcpCluster`].
pub fn cluster_secret() -> chord::auth::Secret {
    chord::auth::Secret::new(b"the test cluster's secret").expect("long enough")
}

/// Real nodes on 127.0.0.1, ports chosen by the kernel.
pub struct TcpCluster {
    bits: u8,
    workers: usize,
    secret: Option<chord::auth::Secret>,
    max_memory: Option<usize>,
    servers: Vec<Server>,
}

impl TcpCluster {
    /// An empty cluster whose nodes use m = `bits`.
    pub fn new(bits: u8) -> TcpCluster {
        TcpCluster::with_workers(bits, 48)
    }

    /// A settled ring of `n` nodes with m = 160.
    pub fn settled(n: usize) -> TcpCluster {
        let mut cluster = TcpCluster::new(160);
        cluster.grow_to(n);
        cluster.settle();
        cluster
    }

    /// An empty cluster whose nodes use m = `bits` and `workers` workers.
    pub fn with_workers(bits: u8, workers: usize) -> TcpCluster {
        TcpCluster {
            bits,
            workers,
            secret: Some(cluster_secret()),
            max_memory: None,
            servers: Vec::new(),
        }
    }

    /// An empty cluster whose nodes run without a secret, open to anyone.
    pub fn open(bits: u8) -> TcpCluster {
        TcpCluster {
            secret: None,
            ..TcpCluster::new(bits)
        }
    }

    /// The server config for a new node of this cluster: every node proves
    /// [`cluster_secret`], unless the cluster is open.
    pub fn server_config(&self) -> ServerConfig {
        let mut config = ServerConfig::new("127.0.0.1:0", node_config(self.bits));
        config.workers = self.workers;
        config.secret = self.secret.clone();
        if let Some(bytes) = self.max_memory {
            config.node.max_memory = bytes;
        }
        config.join = self.servers.first().map(Server::addr);
        config
    }

    /// The running servers.
    pub fn servers(&self) -> &[Server] {
        &self.servers
    }

    /// The addresses of the running servers.
    pub fn addrs(&self) -> Vec<String> {
        self.servers.iter().map(Server::addr).collect()
    }

    /// Sets the memory bound of the nodes started from now on.
    pub fn set_max_memory(&mut self, bytes: usize) {
        self.max_memory = Some(bytes);
    }

    fn take(&mut self, addr: &str) -> Server {
        let i = self
            .servers
            .iter()
            .position(|s| s.addr() == addr)
            .expect("a running node");
        self.servers.remove(i)
    }
}

impl Cluster for TcpCluster {
    fn live(&self) -> Vec<Arc<Node>> {
        self.servers.iter().map(|s| s.node().clone()).collect()
    }

    /// With a small m two ports can hash to one identifier. Twins are tested
    /// on purpose elsewhere; here the harness picks a port whose identifier
    /// is free before starting the node, so rings are built without them.
    fn add_node(&mut self) -> Arc<Node> {
        let space = IdSpace::new(self.bits).expect("valid bits");
        let taken: Vec<Id> = self.servers.iter().map(|s| s.node().me().id).collect();
        for _ in 0..200 {
            let probe = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
            let addr = probe.local_addr().expect("bound").to_string();
            if taken.contains(&space.hash(addr.as_bytes())) {
                continue;
            }
            drop(probe);
            let mut config = self.server_config();
            config.listen = addr;
            match Server::start(config) {
                Ok(server) => {
                    let node = server.node().clone();
                    self.servers.push(server);
                    return node;
                }
                // Someone took the port in the meantime: try another.
                Err(chord::Error::Io { .. }) => continue,
                Err(e) => panic!("starting a node: {e}"),
            }
        }
        panic!("found no port with a free identifier in 200 tries");
    }

    fn kill(&mut self, addr: &str) {
        self.take(addr).kill();
    }

    fn leave(&mut self, addr: &str) {
        self.take(addr).leave().expect("a graceful leave");
    }

    fn settle_until(&mut self, what: &str, done: &dyn Fn(&[Arc<Node>]) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let nodes = self.live();
            if done(&nodes) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "no {what} within 60 s:\n{}",
                describe(&nodes)
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

/// Nodes on an in-memory network, stabilized round by round by the test,
/// on a virtual clock that moves one stabilization period per round: a
/// run repeats exactly.
pub struct MemCluster {
    net: Arc<MemoryNetwork>,
    clock: Arc<VirtualClock>,
    config: NodeConfig,
    nodes: Vec<Arc<Node>>,
    started: usize,
}

impl MemCluster {
    /// An empty cluster whose nodes use m = `bits`.
    pub fn new(bits: u8) -> MemCluster {
        MemCluster::with_config(node_config(bits))
    }

    /// An empty cluster whose nodes use `config`, with the cluster's
    /// virtual clock in place of its own.
    pub fn with_config(mut config: NodeConfig) -> MemCluster {
        let clock = Arc::new(VirtualClock::new(1));
        config.clock = clock.clone();
        MemCluster {
            net: MemoryNetwork::new(),
            clock,
            config,
            nodes: Vec::new(),
            started: 0,
        }
    }

    /// The network, to stop and resume nodes by address.
    pub fn net(&self) -> &Arc<MemoryNetwork> {
        &self.net
    }

    /// Adds a node advertised at exactly `addr`; joins it through the first
    /// live node, or creates the ring.
    ///
    /// # Errors
    /// The join's error (an identifier already taken, say).
    pub fn add_named(&mut self, addr: &str) -> chord::Result<Arc<Node>> {
        let node = Node::new(addr, self.config.clone(), self.net.endpoint(addr))?;
        let handler: Arc<dyn Handler> = node.clone();
        self.net.register(addr, &handler);
        match self.nodes.first() {
            Some(first) => {
                let known = first.me().addr.clone();
                if let Err(e) = node.join(&known) {
                    self.net.stop(addr);
                    return Err(e);
                }
            }
            None => node.create(),
        }
        self.nodes.push(node.clone());
        Ok(node)
    }

    /// One round of maintenance at every live node, in start order: the
    /// periodic functions of Figure 6, as the maintenance thread runs them.
    pub fn round(&mut self) {
        self.clock.advance(self.config.stabilize_interval);
        // A server's heartbeat ticks many times a round; here once, before
        // anything else: a node cut off and back sees its pause now.
        for node in &self.nodes {
            node.ring().heartbeat(Duration::ZERO);
        }
        for node in &self.nodes {
            node.ring().resync_after_pause();
            let _ = node.stabilize();
        }
        // A node that joined but lost every contact before it got in can
        // never get in; a server's link-in gives up and the process exits.
        let (stranded, kept): (Vec<_>, Vec<_>) = self
            .nodes
            .drain(..)
            .partition(|n| !n.is_member() && n.successor() == *n.me());
        self.nodes = kept;
        for node in stranded {
            self.net.stop(&node.me().addr);
        }
        for node in &self.nodes {
            node.fix_fingers();
            node.check_predecessor();
            node.ring().merge_round();
            node.repair();
        }
    }

    /// Lets `time` pass with no round run, the heartbeats of the nodes in
    /// the cluster ticking: a node cut off meanwhile has been paused.
    pub fn advance(&mut self, time: Duration) {
        let step = chord::maintenance::HEARTBEAT;
        let mut left = time;
        while !left.is_zero() {
            let now = left.min(step);
            self.clock.advance(now);
            left -= now;
            for node in &self.nodes {
                node.ring().heartbeat(Duration::ZERO);
            }
        }
    }

    /// Cuts the node at `addr` off: it stops answering at once and is not
    /// driven, but keeps its store and its view, to come back with them
    /// through [`MemCluster::reconnect`].
    pub fn cut_off(&mut self, addr: &str) -> Arc<Node> {
        self.net.stop(addr);
        self.take(addr)
    }

    /// Freezes the node at `addr`: calls to it time out, and it is not
    /// driven (no rounds, no heartbeat), but keeps its store and its view,
    /// to wake with them through [`MemCluster::reconnect`].
    pub fn freeze(&mut self, addr: &str) -> Arc<Node> {
        self.net.freeze(addr);
        self.take(addr)
    }

    /// Lets a node that was cut off answer and run again, with whatever
    /// store and view it had.
    pub fn reconnect(&mut self, node: Arc<Node>) {
        self.net.resume(&node.me().addr);
        self.nodes.push(node);
    }

    /// Kills the node at `addr` and at once starts a new one at the same
    /// address with an empty store, as a process restarted on its port:
    /// it joins and links in before any other node runs a round.
    /// (When the ring is too busy for the join or the link-in, it runs
    /// rounds in between, as a server would retry.)
    pub fn restart(&mut self, addr: &str) -> Arc<Node> {
        self.kill(addr);
        for _ in 0..100 {
            match self.add_named(addr) {
                Ok(node) => {
                    for _ in 0..100 {
                        match node.link_in() {
                            Ok(()) => return node,
                            Err(chord::Error::Unavailable(_)) => self.round(),
                            Err(e) => panic!("linking in restarted {addr}: {e}"),
                        }
                    }
                    panic!("restarted {addr} never linked in");
                }
                Err(chord::Error::Unavailable(_) | chord::Error::Transport(_)) => self.round(),
                Err(e) => panic!("restarting {addr}: {e}"),
            }
        }
        panic!("restarted {addr} could not join in 100 tries");
    }

    fn take(&mut self, addr: &str) -> Arc<Node> {
        let i = self
            .nodes
            .iter()
            .position(|n| *n.me().addr == *addr)
            .expect("a live node");
        self.nodes.remove(i)
    }
}

impl Cluster for MemCluster {
    fn live(&self) -> Vec<Arc<Node>> {
        self.nodes.clone()
    }

    /// Joins one node and links it in, as a server does at start-up,
    /// retrying after a round when the ring is still catching up (the
    /// paper's tests of concurrent joins call [`MemCluster::add_named`],
    /// which stops after the paper's `join`).
    fn add_node(&mut self) -> Arc<Node> {
        for _ in 0..100 {
            self.started += 1;
            let addr = format!("mem-{}", self.started);
            // No twins by accident (they are tested on purpose elsewhere): a
            // node not yet linked in is invisible to a join's checks.
            let id = self.config.space.hash(addr.as_bytes());
            if self.nodes.iter().any(|n| n.me().id == id) {
                continue;
            }
            match self.add_named(&addr) {
                Ok(node) => {
                    for _ in 0..100 {
                        match node.link_in() {
                            Ok(()) => return node,
                            Err(chord::Error::Unavailable(_)) => self.round(),
                            // A node with its identifier died a moment ago
                            // and still holds its place (m = 8 makes such
                            // collisions common): as an operator would, give
                            // up this address and take another.
                            Err(chord::Error::IdTaken { .. }) => {
                                self.kill(&addr);
                                break;
                            }
                            Err(e) => panic!("linking in {addr}: {e}"),
                        }
                    }
                    if self.nodes.iter().any(|n| *n.me().addr == *addr) {
                        panic!("{addr} never linked in");
                    }
                }
                Err(chord::Error::IdTaken { .. }) => continue,
                // Tables still name nodes that just left: as a server
                // would, wait a round and try again.
                Err(chord::Error::Unavailable(_) | chord::Error::Transport(_)) => self.round(),
                Err(e) => panic!("starting {addr}: {e}"),
            }
        }
        panic!("no node could join in 100 tries");
    }

    fn kill(&mut self, addr: &str) {
        self.net.stop(addr);
        self.take(addr);
    }

    fn leave(&mut self, addr: &str) {
        let node = self.take(addr);
        node.leave().expect("a graceful leave");
        self.net.stop(addr);
    }

    fn settle_until(&mut self, what: &str, done: &dyn Fn(&[Arc<Node>]) -> bool) {
        self.rounds_until(what, done);
    }
}

impl MemCluster {
    /// Runs rounds until `done` holds; how many it took. Panics, naming
    /// `what` and showing the ring, after 2,000.
    pub fn rounds_until(&mut self, what: &str, done: &dyn Fn(&[Arc<Node>]) -> bool) -> usize {
        const ROUNDS: usize = 2000;
        for rounds in 0..ROUNDS {
            if done(&self.nodes) {
                return rounds;
            }
            self.round();
        }
        panic!(
            "no {what} after {ROUNDS} rounds:\n{}",
            describe(&self.nodes)
        );
    }
}

/// The nodes' references, sorted by identifier: the ring as it should be.
pub fn sorted(nodes: &[Arc<Node>]) -> Vec<NodeRef> {
    let mut refs: Vec<NodeRef> = nodes.iter().map(|n| n.me().clone()).collect();
    refs.sort_by_key(|r| r.id);
    refs
}

/// `successor(id)` over the sorted ring: the first node at or after `id`.
pub fn successor_of(ring: &[NodeRef], id: Id) -> &NodeRef {
    ring.iter().find(|n| n.id >= id).unwrap_or(&ring[0])
}

/// Whether every node has the right successor, predecessor and successor
/// list: the successor invariant of the paper's section 4.4.
pub fn ring_is_correct(nodes: &[Arc<Node>]) -> bool {
    let ring = sorted(nodes);
    let n = ring.len();
    nodes.iter().all(|node| {
        let view = node.view();
        let i = ring.iter().position(|r| *r == view.me).expect("a member");
        let r = node.config().successors;
        let expected: Vec<NodeRef> = (1..=r.min(n.max(2) - 1))
            .map(|k| ring[(i + k) % n].clone())
            .collect();
        let predecessor_ok = view.predecessor.as_ref() == Some(&ring[(i + n - 1) % n]);
        view.successors == expected && predecessor_ok
    })
}

/// Whether every finger k of every node is `successor(n + 2^(k-1))`.
pub fn fingers_are_correct(nodes: &[Arc<Node>]) -> bool {
    let ring = sorted(nodes);
    nodes.iter().all(|node| {
        node.view()
            .fingers
            .iter()
            .all(|(_, start, finger)| finger.as_ref() == Some(successor_of(&ring, *start)))
    })
}

/// Whether every key is held by exactly its R holders: its owner,
/// `successor(hash(key))` (the key placement of the paper's section 4.2),
/// and the next R - 1 nodes on the ring (section "Failure and
/// Replication"); every node when there are fewer than R. The holders
/// agree on its version: a holder with an older copy (a stray that became
/// a holder when the ring shrank) would bring the old value back if the
/// others were lost.
pub fn keys_are_at_their_holders(nodes: &[Arc<Node>], keys: &[String]) -> bool {
    let held: Vec<(NodeRef, Vec<String>)> =
        nodes.iter().map(|n| (n.me().clone(), n.held())).collect();
    keys.iter().all(|key| {
        let holders = holders_of(nodes, key);
        held.iter()
            .all(|(node, keys)| keys.binary_search(key).is_ok() == holders.contains(node))
            && holders_agree(nodes, &holders, key)
    })
}

/// Whether each deleted key's tombstone sits at its R holders, at one
/// version: a holder that missed the delete, or kept an older value,
/// would bring the value back if the holders of the delete were lost.
pub fn deletes_are_at_their_holders(nodes: &[Arc<Node>], keys: &[String]) -> bool {
    keys.iter().all(|key| {
        let holders = holders_of(nodes, key);
        nodes.iter().filter(|n| holders.contains(n.me())).all(|n| {
            n.keys()
                .held_entry(key.as_bytes())
                .is_some_and(|e| e.value.is_none())
        }) && holders_agree(nodes, &holders, key)
    })
}

/// The R nodes that should hold `key` in the ring of `nodes`: its owner,
/// `successor(hash(key))`, and the next R - 1 (every node when there are
/// fewer).
fn holders_of(nodes: &[Arc<Node>], key: &str) -> Vec<NodeRef> {
    let ring = sorted(nodes);
    let space = nodes[0].config().space;
    let replicas = nodes[0].config().replicas.min(ring.len());
    let owner = successor_of(&ring, space.key(key.as_bytes()));
    let at = ring.iter().position(|n| n == owner).unwrap_or(0);
    (0..replicas)
        .map(|i| ring[(at + i) % ring.len()].clone())
        .collect()
}

/// Whether `holders` hold `key` at one version.
fn holders_agree(nodes: &[Arc<Node>], holders: &[NodeRef], key: &str) -> bool {
    let versions: Vec<_> = nodes
        .iter()
        .filter(|n| holders.contains(n.me()))
        .map(|n| n.keys().held_entry(key.as_bytes()).map(|e| e.version))
        .collect();
    versions.windows(2).all(|w| w[0] == w[1])
}

/// The ring as each node sees it, for failure messages.
pub fn describe(nodes: &[Arc<Node>]) -> String {
    let ring = sorted(nodes);
    let mut out = format!(
        "expected order: {:?}\n",
        ring.iter().map(|r| &*r.addr).collect::<Vec<_>>()
    );
    for node in nodes {
        let view = node.view();
        out += &format!(
            "{:?}: pred {:?}, successors {:?}, keys {}\n",
            view.me, view.predecessor, view.successors, view.keys
        );
    }
    out
}

/// A raw peer connection to `addr`, past the handshake (proving `secret`,
/// if given): for tests that send the node bytes of their own making.
pub fn peer_connection(addr: &str, secret: Option<&chord::auth::Secret>) -> std::net::TcpStream {
    let mut stream = std::net::TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("a timeout");
    chord::auth::client_handshake(&mut stream, secret).expect("a handshake");
    stream
}

/// The node advertised at `addr`.
pub fn node_at(nodes: &[Arc<Node>], addr: &str) -> Arc<Node> {
    nodes
        .iter()
        .find(|n| *n.me().addr == *addr)
        .cloned()
        .unwrap_or_else(|| panic!("no live node at {addr}"))
}

/// Stores every key with [`value_of`] it, through `node`.
pub fn put_all(node: &Node, keys: &[String]) {
    for key in keys {
        node.put(key, value_of(key))
            .unwrap_or_else(|e| panic!("put {key}: {e}"));
    }
}

/// `count` distinct keys with a common prefix.
pub fn keys(prefix: &str, count: usize) -> Vec<String> {
    (0..count).map(|i| format!("{prefix}-{i}")).collect()
}

/// The value the tests store under `key`.
pub fn value_of(key: &str) -> String {
    format!("value of {key}")
}

/// A `redis-server` on a free loopback port, stopped (by its pid) when
/// dropped; `None` when redis-server is not installed.
pub struct RedisServer {
    child: std::process::Child,
    /// Its address.
    pub addr: String,
}

impl RedisServer {
    /// Starts one with no persistence, and waits until it listens.
    pub fn start() -> Option<RedisServer> {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
        let addr = probe.local_addr().expect("its address").to_string();
        drop(probe);
        let port = addr.rsplit(':').next().unwrap_or("0").to_string();
        let child = std::process::Command::new("redis-server")
            .args(["--port", &port, "--bind", "127.0.0.1", "--save", ""])
            .args(["--appendonly", "no"])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .ok()?;
        let server = RedisServer { child, addr };
        let deadline = Instant::now() + TIMEOUT;
        while std::net::TcpStream::connect(&server.addr).is_err() {
            assert!(Instant::now() < deadline, "redis-server did not listen");
            std::thread::sleep(Duration::from_millis(20));
        }
        Some(server)
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A raw RESP2 connection: requests as arrays of bulk strings, replies as
/// text that shows their exact type and bytes (`+OK`, `-ERR ...`, `:1`,
/// `$"v"`, `$nil`, `*[...]`), so two servers' answers compare byte for
/// byte.
pub struct Resp {
    reader: std::io::BufReader<std::net::TcpStream>,
}

impl Resp {
    /// Connects to `addr`.
    pub fn connect(addr: &str) -> Resp {
        let stream = std::net::TcpStream::connect(addr).expect("connect");
        stream.set_read_timeout(Some(TIMEOUT)).expect("a timeout");
        Resp {
            reader: std::io::BufReader::new(stream),
        }
    }

    /// Sends `args` and reads the reply.
    pub fn call(&mut self, args: &[&[u8]]) -> String {
        use std::io::Write;
        let mut out = format!("*{}\r\n", args.len()).into_bytes();
        for arg in args {
            out.extend(format!("${}\r\n", arg.len()).into_bytes());
            out.extend_from_slice(arg);
            out.extend_from_slice(b"\r\n");
        }
        self.reader
            .get_mut()
            .write_all(&out)
            .expect("a request sent");
        self.reply()
    }

    fn line(&mut self) -> String {
        use std::io::BufRead;
        let mut line = String::new();
        self.reader.read_line(&mut line).expect("a reply line");
        line.trim_end_matches(['\r', '\n']).to_string()
    }

    fn reply(&mut self) -> String {
        use std::io::Read;
        let line = self.line();
        let (kind, rest) = line.split_at(1.min(line.len()));
        match kind {
            "+" | "-" | ":" => line,
            "$" if rest == "-1" => "$nil".into(),
            "$" => {
                let len: usize = rest.parse().expect("a bulk length");
                let mut bytes = vec![0; len + 2];
                self.reader.read_exact(&mut bytes).expect("a bulk string");
                bytes.truncate(len);
                format!("${:?}", String::from_utf8_lossy(&bytes))
            }
            "*" if rest == "-1" => "*nil".into(),
            "*" => {
                let n: usize = rest.parse().expect("an array length");
                let items: Vec<String> = (0..n).map(|_| self.reply()).collect();
                format!("*[{}]", items.join(", "))
            }
            _ => panic!("not a RESP2 reply: {line:?}"),
        }
    }
}

/// The keys a node holds, as text: the tests write text keys.
pub trait Held {
    /// [`Node::held_keys`], each key as text.
    fn held(&self) -> Vec<String>;
}

impl Held for Node {
    fn held(&self) -> Vec<String> {
        self.held_keys()
            .into_iter()
            .map(|key| String::from_utf8_lossy(&key).into_owned())
            .collect()
    }
}

/// A fresh directory under the system's temporary one, removed when
/// dropped: a node's data directory in tests.
pub struct Scratch(pub std::path::PathBuf);

impl Scratch {
    /// An empty directory named after this process and `name`.
    pub fn new(name: &str) -> Scratch {
        let path = std::env::temp_dir().join(format!("chord-test-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("a scratch directory");
        Scratch(path)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
