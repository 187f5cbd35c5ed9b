//! A node on the network: the accept thread (the lobby, `server/lobby.rs`), the worker
//! pool, the maintenance thread, and the loops that serve one connection
//! (`server/connection.rs`).
//!
//! The shape is the Rust Book's multithreaded server. One thread accepts
//! connections and, once each has shown what it is (a person, or a peer
//! that passed the handshake of [`crate::auth`]), hands it to a pool of at
//! most `--workers` workers over a rendezvous channel (a worker's thread
//! starts the first time no started one is free, and is kept; see
//! [`DEFAULT_WORKERS`] for why not all at once); a worker serves its connection
//! until the client closes it, goes idle, or the server stops. If no
//! worker takes a connection within a moment, it is answered busy and
//! closed, rather than left to wait behind connections that may stay open
//! for minutes; but first, if a peer connection sits idle, it is closed to
//! make room (the peer's pool simply reconnects). Idle connections are
//! closed after a timeout, so nobody pins a worker forever. Text clients
//! may hold all workers but a quarter (at most [`PEER_WORKERS`]), and connections that
//! have not authenticated hold none: the rest stay free for peers, so
//! people and strangers, however many and however idle, cannot cut a node
//! off from the ring.
//!
//! One address serves people and peers. The lobby tells them apart: a
//! connection whose first byte is the peer preamble's NUL
//! ([`crate::codec::MAGIC`]) speaks the peer protocol. For a person, one
//! function (`serve_person`) picks the protocol: a first byte `*` is the
//! Redis protocol (`server/resp.rs`), a first line that is an HTTP request
//! line gets a read-only page of the ring (`server/http.rs`), any other is
//! the text protocol (`server/text.rs`). Both command protocols parse into
//! the one [`crate::command::Command`], carried out once in
//! `server/execute.rs`. Clients must send `AUTH <password>` first when the
//! node has a password.
//!
//! # When a thread panics anyway
//!
//! Input is checked before use and fuzzed, but should a connection's
//! handler, the lobby's handling of one connection, or a maintenance round
//! panic, the panic is caught, logged at error level with its message,
//! counted (`panics` in STATS), and that one connection is closed (or that
//! round ends); the node goes on serving. We chose that over exiting,
//! which would hand whoever found the panic a switch that stops nodes;
//! locks are held only around short updates of plain data, which leave it
//! consistent at every step.
//!
//! Stopping is ordered and visible: stop the maintenance thread, stop
//! accepting, shut down every open connection (which wakes the workers
//! blocked reading them), close the channel, and join the workers.

mod cluster;
mod commandstats;
mod connection;
mod execute;
mod expiry;
mod http;
mod info;
mod lobby;
mod multi;
mod pipeline;
mod resp;
pub mod svg;
mod text;

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crossbeam_channel::{bounded, Receiver};
use log::{debug, info, warn};
use parking_lot::Mutex;
use sha2::{Digest, Sha256};

use crate::auth::{Secret, Session};
use crate::error::{Error, Result};
use crate::maintenance::Maintenance;
use crate::node::{Node, NodeConfig};
use crate::stats::{Stats, Throttled};
use crate::transport::{TcpTransport, TransportError};

pub use lobby::{FIRST_BYTE_WAIT, HANDSHAKE_DEADLINE, MAX_PENDING};

/// How long a peer connection may sit idle before the server closes it.
pub const PEER_IDLE_TIMEOUT: Duration = Duration::from_secs(5);

/// How long the accept thread waits for a free worker before `ERR busy`.
/// Short: the accept thread serves connections one at a time, and a peer
/// kept waiting past its call timeout would take this node for dead, where
/// a quick `ERR busy` shows it alive.
const HANDOFF_WAIT: Duration = Duration::from_millis(25);

/// How long the accept thread waits for a worker it has just started to
/// take a connection: a new thread on a loaded machine may take longer
/// than [`HANDOFF_WAIT`] to run, and one is sure to come.
const NEW_WORKER_WAIT: Duration = Duration::from_millis(250);

/// How long a write to a client may block (a client that does not read).
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// The most nodes a RING walk lists.
const RING_LIMIT: usize = 4096;

/// Everything needed to start a node.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// The address to bind, `host:port`; port 0 picks a free one.
    pub listen: String,
    /// The address peers should dial, when it is not the bound one.
    pub advertise: Option<String>,
    /// A node of the ring to join; `None` creates a new ring.
    pub join: Option<String>,
    /// The protocol settings.
    pub node: NodeConfig,
    /// How many connections are served at once. Text clients may hold all
    /// but a quarter of them, and at most [`PEER_WORKERS`] are kept for
    /// peers (all but one, with fewer than eight).
    pub workers: usize,
    /// How long a call to a peer may take before the peer counts as failed.
    pub rpc_timeout: Duration,
    /// How long a text client may stay silent before it is disconnected.
    pub idle_timeout: Duration,
    /// The cluster secret every peer must prove ([`crate::auth`]); `None`
    /// runs the node open to anyone who can reach it.
    pub secret: Option<Secret>,
    /// The password text clients must send with `AUTH` before any other
    /// command; `None` asks for none.
    pub password: Option<String>,
    /// Whether clients may clear the ring with `FLUSHALL`. A ring that
    /// must never be cleared starts every node without it (Redis's
    /// `rename-command FLUSHALL ""`).
    pub flush_allowed: bool,
}

impl ServerConfig {
    /// Defaults around `node`: [`DEFAULT_WORKERS`] workers, 1 s peer
    /// calls, 5 minutes of client idleness.
    pub fn new(listen: &str, node: NodeConfig) -> ServerConfig {
        ServerConfig {
            listen: listen.to_string(),
            advertise: None,
            join: None,
            node,
            workers: DEFAULT_WORKERS,
            rpc_timeout: Duration::from_secs(1),
            idle_timeout: Duration::from_secs(300),
            secret: None,
            password: None,
            flush_allowed: true,
        }
    }
}

/// What a worker is given to serve.
enum Job {
    /// A person, on the text protocol.
    Text(TcpStream),
    /// A peer that passed the handshake; its frames use the `Session` given.
    Peer(TcpStream, Session),
}

/// The default pool: 1,024 text clients at once, and [`PEER_WORKERS`] kept
/// for peers. The pool's size is fixed, but its threads start as they are
/// first needed and are then kept (see `Pool` in this module), so an idle
/// node runs a handful: a machine's thread ids are few (Linux's default
/// `pid_max` is 32,768), and 64 nodes of 1,088 threads each would not
/// start.
pub const DEFAULT_WORKERS: usize = 1024 + PEER_WORKERS;

/// The workers a node starts with; the rest start when needed.
const FIRST_WORKERS: usize = 8;

/// The most workers kept for peers.
pub const PEER_WORKERS: usize = 64;

/// The stack of a worker thread. A worker's deepest path (a lookup, a
/// store operation, encoding a frame) needs far less; the default 2 MiB
/// would reserve 2 GiB of address space for the default pool.
pub const WORKER_STACK: usize = 256 * 1024;

/// Raises this process's limit on open files to the most it may have
/// (its hard limit), so that a node can hold the connections its pool is
/// sized for: a shell's default soft limit is often 1,024. Returns the
/// limit now in force.
///
/// # Errors
/// The operating system's, if the limits cannot be read or set.
pub fn raise_open_file_limit() -> io::Result<u64> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit read and write only the struct we
    // pass, which lives on this stack frame.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return Err(io::Error::last_os_error());
        }
        if limit.rlim_cur < limit.rlim_max {
            limit.rlim_cur = limit.rlim_max;
            if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) != 0 {
                return Err(io::Error::last_os_error());
            }
        }
    }
    Ok(limit.rlim_cur)
}

/// The worker pool: at most `max` threads, started when a connection finds
/// none idle, and kept until the server stops. A fixed bound, as the Rust
/// Book's pool has, without a thread per slot before it is used.
struct Pool {
    /// The most workers.
    max: usize,
    /// The workers started so far.
    started: AtomicUsize,
    /// Where workers take connections from; each new worker gets a clone.
    jobs: Receiver<Job>,
    /// The started workers, joined when the server stops. Held only to
    /// push a handle or drain them.
    handles: Mutex<Vec<JoinHandle<()>>>,
}

/// What the accept thread and the workers share.
struct Shared {
    /// The worker pool.
    pool: Pool,
    node: Arc<Node>,
    idle_timeout: Duration,
    secret: Option<Secret>,
    /// SHA-256 of the text clients' password, compared in constant time.
    password: Option<[u8; 32]>,
    /// [`ServerConfig::flush_allowed`].
    flush_allowed: bool,
    /// `INFO commandstats`.
    commands: commandstats::CommandStats,
    /// Warns of refused connections, at most once a second.
    refusals: Throttled,
    /// How many workers text clients may hold at once; the rest are kept
    /// for peers.
    text_limit: usize,
    /// How many workers text clients hold now.
    text_clients: AtomicUsize,
    stopping: AtomicBool,
    next_connection: AtomicU64,
    /// The open connections by number, so that stopping can shut them
    /// down and wake their workers, and a new connection can displace an
    /// idle peer connection. Held only to insert, mark, remove or drain.
    open: Mutex<HashMap<u64, Open>>,
    /// The Redis and text clients connected, by number, each as `CLIENT
    /// LIST` shows it. Held only to insert, replace, remove or copy a
    /// line.
    clients: Mutex<std::collections::BTreeMap<u64, String>>,
    /// The ring's nodes for `CLUSTER SLOTS` and `NODES`.
    ring_map: cluster::RingMap,
}

/// An open connection, as the server tracks it.
struct Open {
    /// A clone of the socket, to shut it down from another thread.
    stream: TcpStream,
    /// Since when a peer connection has been waiting for its next request;
    /// `None` while it serves one, and always for people.
    idle_peer_since: Option<Instant>,
}

impl Shared {
    /// Starts one more worker, if the pool has room; whether it did.
    ///
    /// # Errors
    /// The operating system's, when it cannot start a thread.
    fn start_worker(self: &Arc<Self>) -> io::Result<bool> {
        let pool = &self.pool;
        let Ok(i) = pool
            .started
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                (n < pool.max).then_some(n + 1)
            })
        else {
            return Ok(false);
        };
        let (shared, jobs) = (self.clone(), pool.jobs.clone());
        let spawned = thread::Builder::new()
            .name(format!("worker {i}"))
            .stack_size(WORKER_STACK)
            .spawn(move || connection::work(&shared, &jobs));
        match spawned {
            Ok(handle) => {
                pool.handles.lock().push(handle);
                Ok(true)
            }
            Err(e) => {
                pool.started.fetch_sub(1, Ordering::SeqCst);
                Err(e)
            }
        }
    }

    /// When a connection finds no worker waiting: starts one, while the
    /// pool has room; whether one was started. A thread that cannot be
    /// started is logged (at most once a second); the connection then
    /// waits for a worker, or is answered busy, as when the pool is full.
    fn make_room(self: &Arc<Self>) -> bool {
        match self.start_worker() {
            Ok(started) => started,
            Err(e) => {
                let me = &self.node.me().addr;
                self.refusals
                    .warn(|| format!("{me}: could not start a worker thread: {e}"));
                false
            }
        }
    }

    /// Whether a text client may take a worker now.
    fn text_has_room(&self) -> bool {
        self.text_clients.load(Ordering::SeqCst) < self.text_limit
    }

    /// Marks peer connection `number` as waiting for a request, or not.
    fn set_idle_peer(&self, number: u64, idle: bool) {
        if let Some(open) = self.open.lock().get_mut(&number) {
            open.idle_peer_since = idle.then(Instant::now);
        }
    }

    /// Shuts down the peer connection that has been idle the longest, which
    /// frees its worker; whether there was one. The peer's pool sees the
    /// connection closed and opens a fresh one when it next calls, so
    /// nothing is lost but a reconnect. People are never evicted.
    fn evict_idle_peer(&self) -> bool {
        let mut open = self.open.lock();
        let Some(oldest) = open
            .values_mut()
            .filter(|o| o.idle_peer_since.is_some())
            .min_by_key(|o| o.idle_peer_since)
        else {
            return false;
        };
        oldest.idle_peer_since = None;
        let _ = oldest.stream.shutdown(Shutdown::Both);
        true
    }
}

/// A running node: call [`Server::leave`] to leave gracefully, or
/// [`Server::kill`] to vanish as a crashed process would.
pub struct Server {
    shared: Arc<Shared>,
    transport: Arc<TcpTransport>,
    local_addr: SocketAddr,
    accept: Option<JoinHandle<()>>,
    maintenance: Option<Maintenance>,
}

impl Server {
    /// Binds, starts serving, then creates a ring or joins one, and starts
    /// the maintenance thread.
    ///
    /// # Errors
    /// [`Error::Config`] for bad settings, [`Error::Io`] when the address
    /// cannot be bound, and the errors of [`Node::join`].
    pub fn start(config: ServerConfig) -> Result<Server> {
        if config.workers == 0 {
            return Err(Error::Config("--workers must be at least 1".into()));
        }
        config.node.check()?;
        let has_port = config
            .listen
            .rsplit_once(':')
            .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok());
        if !has_port {
            return Err(Error::Config(format!(
                "--listen takes HOST:PORT (port 0 picks a free one), not {:?}",
                config.listen
            )));
        }
        let io_error = |context: String| move |source| Error::Io { context, source };
        let listener = TcpListener::bind(&config.listen)
            .map_err(io_error(format!("cannot listen on {}", config.listen)))?;
        let local_addr = listener
            .local_addr()
            .map_err(io_error("reading the bound address".into()))?;
        // Every interface is no address a peer can dial.
        if config.advertise.is_none() && local_addr.ip().is_unspecified() {
            return Err(Error::Config(format!(
                "--listen {} listens on every interface, but peers need one address to reach \
                 this node; add --advertise <host or ip>:{}",
                config.listen,
                local_addr.port()
            )));
        }
        let advertise = config
            .advertise
            .clone()
            .unwrap_or_else(|| local_addr.to_string());
        listener
            .set_nonblocking(true)
            .map_err(io_error("configuring the listener".into()))?;
        warn_if_open(&config, local_addr);
        let transport = Arc::new(TcpTransport::new(config.rpc_timeout, config.secret.clone()));
        let mut node_config = config.node.clone();
        if let Some(data) = node_config.data.as_mut() {
            data.ring = config.secret.as_ref().map(Secret::fingerprint);
        }
        let node = Node::new(&advertise, node_config, transport.clone())?;
        let (handoff, jobs) = bounded::<Job>(0);
        let shared = Arc::new(Shared {
            pool: Pool {
                max: config.workers,
                started: AtomicUsize::new(0),
                jobs,
                handles: Mutex::new(Vec::new()),
            },
            node: node.clone(),
            idle_timeout: config.idle_timeout,
            secret: config.secret.clone(),
            password: config.password.as_deref().map(hash_password),
            flush_allowed: config.flush_allowed,
            commands: commandstats::CommandStats::default(),
            refusals: Throttled::default(),
            text_limit: config.workers - kept_for_peers(config.workers),
            text_clients: AtomicUsize::new(0),
            stopping: AtomicBool::new(false),
            next_connection: AtomicU64::new(0),
            open: Mutex::new(HashMap::new()),
            clients: Mutex::new(std::collections::BTreeMap::new()),
            ring_map: cluster::RingMap::default(),
        });
        let mut server = Server {
            shared: shared.clone(),
            transport,
            local_addr,
            accept: None,
            maintenance: None,
        };
        for _ in 0..config.workers.min(FIRST_WORKERS) {
            shared
                .start_worker()
                .map_err(io_error("spawning a worker thread".into()))?;
        }
        let accept_shared = shared.clone();
        let accept = thread::Builder::new()
            .name("accept".into())
            .spawn(move || lobby::run(&listener, &accept_shared, &handoff))
            .map_err(io_error("spawning the accept thread".into()))?;
        server.accept = Some(accept);
        match &config.join {
            Some(known) => {
                retry_while_the_ring_moves(&node, &config.node, || node.join(known))?;
                retry_while_the_ring_moves(&node, &config.node, || node.link_in())?;
            }
            None => node.create(),
        }
        let maintenance = Maintenance::start(node, config.node.stabilize_interval)
            .map_err(io_error("spawning the maintenance thread".into()))?;
        server.maintenance = Some(maintenance);
        info!("{}: serving on {local_addr}", advertise);
        Ok(server)
    }

    /// How many worker threads have started: they start as connections
    /// first need them, up to `--workers`.
    pub fn workers_started(&self) -> usize {
        self.shared.pool.started.load(Ordering::SeqCst)
    }

    /// The node this server runs.
    pub fn node(&self) -> &Arc<Node> {
        &self.shared.node
    }

    /// The address the node advertises.
    pub fn addr(&self) -> String {
        self.shared.node.me().addr.to_string()
    }

    /// Receives a message if the node finds it can never be a member of the
    /// ring (see [`crate::maintenance`]); the owner should then stop it.
    pub fn faults(&self) -> Receiver<String> {
        match &self.maintenance {
            Some(maintenance) => maintenance.faults().clone(),
            None => crossbeam_channel::never(),
        }
    }

    /// The address the listener is bound to.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Leaves the ring gracefully, handing keys to the successor and telling
    /// the neighbours, then stops.
    ///
    /// # Errors
    /// As [`Node::leave`]; the server stops either way.
    pub fn leave(mut self) -> Result<()> {
        if let Some(maintenance) = self.maintenance.take() {
            maintenance.stop();
        }
        let left = self.shared.node.leave();
        self.stop();
        // The process may exit before the node is dropped: what
        // maintenance changed since the last sync goes to disk now.
        if let Some(disk) = self.shared.node.keys().disk() {
            if let Err(why) = disk.close() {
                warn!("{}: {why}", self.shared.node.me().addr);
            }
        }
        left
    }

    /// Stops at once with no goodbye, as a killed process would: the
    /// listener closes and every connection is cut.
    pub fn kill(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        if let Some(maintenance) = self.maintenance.take() {
            maintenance.stop();
        }
        self.shared.stopping.store(true, Ordering::SeqCst);
        if let Some(accept) = self.accept.take() {
            // The lobby polls with a short tick and sees the flag within
            // it; a connection makes its poll return at once.
            let _ = TcpStream::connect_timeout(&wake_address(self.local_addr), HANDOFF_WAIT);
            if accept.join().is_err() {
                log::error!("the accept thread panicked");
            }
        }
        for (_, open) in self.shared.open.lock().drain() {
            let _ = open.stream.shutdown(Shutdown::Both);
        }
        // The accept thread, which starts workers, has ended: the list is
        // complete.
        let workers: Vec<JoinHandle<()>> = self.shared.pool.handles.lock().drain(..).collect();
        for worker in workers {
            if worker.join().is_err() {
                log::error!("a worker thread panicked");
            }
        }
        self.transport.close_all();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Runs a step of joining (`join`, then `link_in`) until it succeeds, giving
/// the ring a few stabilization periods to clear what stands in the way:
/// nodes that left or died a moment ago, still named in its tables. Errors
/// that waiting cannot fix (an identifier taken, another m) return at once.
fn retry_while_the_ring_moves(
    node: &Node,
    config: &NodeConfig,
    mut step: impl FnMut() -> Result<()>,
) -> Result<()> {
    let deadline = Instant::now() + config.request_timeout;
    loop {
        match step() {
            Err(Error::Unavailable(why)) if Instant::now() < deadline => {
                debug!("{}: not in the ring yet: {why}", node.me().addr);
            }
            // A peer that refuses our handshake (another secret, another
            // version) will refuse it again: say so at once.
            Err(Error::Transport(e))
                if Instant::now() < deadline && !matches!(e, TransportError::Protocol { .. }) =>
            {
                debug!("{}: not in the ring yet: {e}", node.me().addr);
            }
            done => return done,
        }
        thread::sleep(config.stabilize_interval);
    }
}

/// How many of `workers` text clients may never take: a quarter, at least
/// one when there are two or more, and at most [`PEER_WORKERS`]. Peer
/// requests never wait on anything, so a worker they can always get keeps
/// every request in the ring moving, however many people are connected;
/// and they are quick, so a few dozen serve any ring.
fn kept_for_peers(workers: usize) -> usize {
    if workers < 2 {
        0
    } else {
        (workers / 4).clamp(1, PEER_WORKERS)
    }
}

/// Where to connect to reach our own listener.
fn wake_address(bound: SocketAddr) -> SocketAddr {
    let mut addr = bound;
    if addr.ip().is_unspecified() {
        addr.set_ip(match addr {
            SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
            SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
        });
    }
    addr
}

/// Counts a flush of replies: with `client_requests`, how well replies
/// are batched.
fn count_flush(shared: &Shared) {
    Stats::add(&shared.node.stats().reply_flushes, 1);
}

/// The text clients' password as the server keeps it.
fn hash_password(password: &str) -> [u8; 32] {
    Sha256::digest(password.as_bytes()).into()
}

/// Checks `AUTH`'s password; why it is refused. Hashes of the two are
/// compared in constant time, so the answer's timing tells nothing.
fn check_password(
    shared: &Shared,
    given: &str,
) -> std::result::Result<(), crate::command::Refusal> {
    let Some(expected) = shared.password else {
        return Err(crate::command::Refusal::NoPassword);
    };
    let given = hash_password(given);
    let differ = expected
        .iter()
        .zip(given.iter())
        .fold(0u8, |acc, (a, b)| acc | (a ^ b));
    if differ == 0 {
        return Ok(());
    }
    shared
        .refusals
        .warn(|| format!("{}: a client sent a wrong password", shared.node.me().addr));
    Err(crate::command::Refusal::WrongPassword)
}

/// Warns once at start-up of what a node without a secret or a password
/// lets others do.
fn warn_if_open(config: &ServerConfig, bound: SocketAddr) {
    if config.secret.is_none() {
        warn!(
            "{bound}: running without a cluster secret: anyone who can reach this port can join \
             the ring and read or change any key. Give every node the same --secret-file"
        );
    }
    let loopback = match bound.ip() {
        IpAddr::V4(ip) => ip.is_loopback(),
        IpAddr::V6(ip) => ip.is_loopback(),
    };
    if config.password.is_none() && !loopback {
        warn!(
            "{bound}: listening beyond loopback with no password for text clients: \
             anyone who can reach this port can read and write keys (--password-file)"
        );
    }
}
