//! A node on the network: the accept thread, the worker pool, the
//! maintenance thread, and the loop that serves one connection.
//!
//! The shape is the Rust Book's multithreaded server. One thread accepts
//! connections and hands each to a fixed pool of workers over a rendezvous
//! channel; a worker serves its connection until the client closes it,
//! goes idle, or the server stops. If no worker takes a new connection
//! within a moment, the accept thread answers `ERR busy` and closes it,
//! rather than letting it wait behind connections that may stay open for
//! minutes; but first, if a peer connection sits idle, it is closed to make
//! room (the peer's pool simply reconnects). Idle connections are closed
//! after a timeout, so nobody pins a worker forever. And text clients may hold at most three quarters of the
//! workers: the rest stay free for peers, so people, however many and
//! however idle, cannot cut a node off from the ring.
//!
//! One address serves people and peers: a connection whose first byte is
//! the peer preamble's NUL ([`crate::codec::MAGIC`]) speaks the peer
//! protocol, any other the text protocol.
//!
//! Stopping is ordered and visible: stop the maintenance thread, stop
//! accepting, shut down every open connection (which wakes the workers
//! blocked reading them), close the channel, and join the workers.

use std::collections::HashMap;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crossbeam_channel::{bounded, Receiver, SendTimeoutError, Sender};
use log::{debug, info, warn};
use parking_lot::Mutex;

use crate::codec::{self, CodecError};
use crate::maintenance::Maintenance;
use crate::message::{Request, Response};
use crate::node::{Node, NodeConfig};
use crate::stats::Stats;
use crate::text::{self, Command, Line};
use crate::transport::{Handler, TcpTransport};
use crate::{Error, Result};

/// How long a peer connection may sit idle before the server closes it.
pub const PEER_IDLE_TIMEOUT: Duration = Duration::from_secs(5);

/// How long a new connection may take to send its first byte before it is
/// taken for a person rather than a peer.
const FIRST_BYTE_WAIT: Duration = Duration::from_secs(1);

/// How long the accept thread waits for a free worker before `ERR busy`.
/// Short: the accept thread serves connections one at a time, and a peer
/// kept waiting past its call timeout would take this node for dead, where
/// a quick `ERR busy` shows it alive.
const HANDOFF_WAIT: Duration = Duration::from_millis(25);

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
    /// How many connections are served at once. Text clients may hold at
    /// most three quarters of them (all but one, with fewer than eight);
    /// the rest are kept for peers.
    pub workers: usize,
    /// How long a call to a peer may take before the peer counts as failed.
    pub rpc_timeout: Duration,
    /// How long a text client may stay silent before it is disconnected.
    pub idle_timeout: Duration,
}

impl ServerConfig {
    /// Defaults around `node`: 64 workers, 1 s peer calls, 5 minutes of
    /// client idleness.
    pub fn new(listen: &str, node: NodeConfig) -> ServerConfig {
        ServerConfig {
            listen: listen.to_string(),
            advertise: None,
            join: None,
            node,
            workers: 64,
            rpc_timeout: Duration::from_secs(1),
            idle_timeout: Duration::from_secs(300),
        }
    }
}

/// What the accept thread and the workers share.
struct Shared {
    node: Arc<Node>,
    idle_timeout: Duration,
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
    workers: Vec<JoinHandle<()>>,
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
        let io_error = |context: String| move |source| Error::Io { context, source };
        let listener = TcpListener::bind(&config.listen)
            .map_err(io_error(format!("cannot listen on {}", config.listen)))?;
        let local_addr = listener
            .local_addr()
            .map_err(io_error("reading the bound address".into()))?;
        let advertise = config
            .advertise
            .clone()
            .unwrap_or_else(|| local_addr.to_string());
        let transport = Arc::new(TcpTransport::new(config.rpc_timeout));
        let node = Node::new(&advertise, config.node.clone(), transport.clone());
        let shared = Arc::new(Shared {
            node: node.clone(),
            idle_timeout: config.idle_timeout,
            text_limit: config.workers - kept_for_peers(config.workers),
            text_clients: AtomicUsize::new(0),
            stopping: AtomicBool::new(false),
            next_connection: AtomicU64::new(0),
            open: Mutex::new(HashMap::new()),
        });
        let mut server = Server {
            shared: shared.clone(),
            transport,
            local_addr,
            accept: None,
            workers: Vec::new(),
            maintenance: None,
        };
        let (handoff, jobs) = bounded::<TcpStream>(0);
        for i in 0..config.workers {
            let (shared, jobs) = (shared.clone(), jobs.clone());
            let worker = thread::Builder::new()
                .name(format!("worker {i}"))
                .spawn(move || work(&shared, &jobs))
                .map_err(io_error("spawning a worker thread".into()))?;
            server.workers.push(worker);
        }
        let accept_shared = shared.clone();
        let accept = thread::Builder::new()
            .name("accept".into())
            .spawn(move || accept_loop(&listener, &accept_shared, &handoff))
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

    /// The node this server runs.
    pub fn node(&self) -> &Arc<Node> {
        &self.shared.node
    }

    /// The address the node advertises.
    pub fn addr(&self) -> String {
        self.shared.node.me().addr.clone()
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
            // Wake the accept thread blocked in accept().
            let _ = TcpStream::connect_timeout(&wake_address(self.local_addr), HANDOFF_WAIT);
            if accept.join().is_err() {
                log::error!("the accept thread panicked");
            }
        }
        for (_, open) in self.shared.open.lock().drain() {
            let _ = open.stream.shutdown(Shutdown::Both);
        }
        for worker in self.workers.drain(..) {
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
            Err(Error::Transport(e)) if Instant::now() < deadline => {
                debug!("{}: not in the ring yet: {e}", node.me().addr);
            }
            done => return done,
        }
        thread::sleep(config.stabilize_interval);
    }
}

/// How many of `workers` text clients may never take: a quarter, and at
/// least one when there are two or more. Peer requests never wait on
/// anything, so a worker they can always get keeps every request in the
/// ring moving, however many people are connected.
fn kept_for_peers(workers: usize) -> usize {
    if workers < 2 {
        0
    } else {
        (workers / 4).max(1)
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

fn accept_loop(listener: &TcpListener, shared: &Shared, handoff: &Sender<TcpStream>) {
    for stream in listener.incoming() {
        if shared.stopping.load(Ordering::SeqCst) {
            return;
        }
        let mut stream = match stream {
            Ok(stream) => stream,
            Err(e) => {
                // Out of file descriptors, say: back off instead of spinning.
                warn!("accept failed: {e}");
                thread::sleep(HANDOFF_WAIT);
                continue;
            }
        };
        Stats::add(&shared.node.stats().connections, 1);
        let mut evicted = false;
        loop {
            match handoff.send_timeout(stream, HANDOFF_WAIT) {
                Ok(()) => break,
                Err(SendTimeoutError::Disconnected(_)) => return,
                // No worker is free: free the one an idle peer holds longest.
                Err(SendTimeoutError::Timeout(back)) if !evicted && shared.evict_idle_peer() => {
                    stream = back;
                    evicted = true;
                }
                Err(SendTimeoutError::Timeout(mut back)) => {
                    Stats::add(&shared.node.stats().busy_rejections, 1);
                    let _ = back.set_write_timeout(Some(HANDOFF_WAIT));
                    let _ = back.write_all(b"ERR busy\r\n");
                    break;
                }
            }
        }
    }
}

fn work(shared: &Shared, jobs: &Receiver<TcpStream>) {
    while let Ok(stream) = jobs.recv() {
        if shared.stopping.load(Ordering::SeqCst) {
            return;
        }
        let number = shared.next_connection.fetch_add(1, Ordering::Relaxed);
        if let Ok(clone) = stream.try_clone() {
            let open = Open {
                stream: clone,
                idle_peer_since: None,
            };
            shared.open.lock().insert(number, open);
        }
        if let Err(e) = serve_connection(shared, number, stream) {
            debug!("connection closed: {e}");
        }
        shared.open.lock().remove(&number);
    }
}

/// Serves one connection, peer or person, until it ends.
///
/// A peer sends its preamble as soon as it connects; a connection whose
/// first byte has not come within [`FIRST_BYTE_WAIT`] is a person (or
/// nobody), and waits for its first line like any text client, within the
/// text clients' share of the workers.
fn serve_connection(shared: &Shared, number: u64, stream: TcpStream) -> io::Result<()> {
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(FIRST_BYTE_WAIT))?;
    stream.set_write_timeout(Some(WRITE_TIMEOUT))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let writer = BufWriter::new(stream);
    let first = match io::BufRead::fill_buf(&mut reader) {
        Ok(bytes) => bytes.first().copied(),
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
            ) =>
        {
            Some(b'\n')
        }
        Err(e) => return Err(e),
    };
    match first {
        None => Ok(()),
        Some(byte) if byte == codec::MAGIC[0] => serve_peer(shared, number, reader, writer),
        Some(_) => {
            reader
                .get_ref()
                .set_read_timeout(Some(shared.idle_timeout))?;
            serve_text_within_limit(shared, reader, writer)
        }
    }
}

/// Serves a text client if text clients hold fewer than their share of the
/// workers; else answers `ERR busy`. The share keeps a crowd of idle telnet
/// sessions from cutting the node off from its peers.
fn serve_text_within_limit(
    shared: &Shared,
    reader: BufReader<TcpStream>,
    mut writer: BufWriter<TcpStream>,
) -> io::Result<()> {
    let held = shared.text_clients.fetch_add(1, Ordering::SeqCst);
    let result = if held < shared.text_limit {
        serve_text(shared, reader, writer)
    } else {
        Stats::add(&shared.node.stats().busy_rejections, 1);
        writer.write_all(b"ERR busy\r\n")?;
        writer.flush()
    };
    shared.text_clients.fetch_sub(1, Ordering::SeqCst);
    result
}

/// The peer protocol: echo the preamble, then answer frames until the peer
/// closes, idles out, or breaks the protocol.
fn serve_peer(
    shared: &Shared,
    number: u64,
    mut reader: BufReader<TcpStream>,
    mut writer: BufWriter<TcpStream>,
) -> io::Result<()> {
    let node = &shared.node;
    reader.get_ref().set_read_timeout(Some(PEER_IDLE_TIMEOUT))?;
    let mut preamble = [0u8; 5];
    reader.read_exact(&mut preamble)?;
    writer.write_all(&codec::preamble())?;
    writer.flush()?;
    if preamble[..4] != codec::MAGIC || preamble[4] != codec::VERSION {
        Stats::add(&node.stats().protocol_errors, 1);
        return Ok(());
    }
    loop {
        shared.set_idle_peer(number, true);
        let request: Request = match codec::read_frame(&mut reader) {
            Ok(request) => {
                shared.set_idle_peer(number, false);
                request
            }
            Err(CodecError::Closed) => return Ok(()),
            Err(CodecError::Io(e)) => return Err(e),
            Err(e) => {
                // The stream is out of step; say why and hang up.
                Stats::add(&node.stats().protocol_errors, 1);
                let _ = codec::write_frame(&mut writer, &Response::Error(e.to_string()));
                return Ok(());
            }
        };
        let response = node.handle(request);
        if let Err(e) = codec::write_frame(&mut writer, &response) {
            return Err(io::Error::other(e.to_string()));
        }
    }
}

/// The text protocol: a line in, an answer out, until QUIT, EOF or idle.
fn serve_text(
    shared: &Shared,
    mut reader: BufReader<TcpStream>,
    mut writer: BufWriter<TcpStream>,
) -> io::Result<()> {
    loop {
        let line = match text::read_line(&mut reader, text::MAX_LINE) {
            Ok(line) => line,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                writer.write_all(b"ERR idle for too long; closing\r\n")?;
                return writer.flush();
            }
            Err(e) => return Err(e),
        };
        let answer = match line {
            Line::Eof => return Ok(()),
            Line::TooLong => vec![format!("ERR {}", text::ParseError::LineTooLong)],
            Line::Complete(bytes) => match text::parse(&bytes) {
                Ok(Command::Quit) => {
                    writer.write_all(b"BYE\r\n")?;
                    return writer.flush();
                }
                Ok(command) => answer(&shared.node, &command),
                Err(e) => vec![format!("ERR {e}")],
            },
        };
        Stats::add(&shared.node.stats().client_requests, 1);
        for line in answer {
            writer.write_all(line.as_bytes())?;
            writer.write_all(b"\r\n")?;
        }
        writer.flush()?;
    }
}

/// Carries out one text command at `node`; the answer's lines.
fn answer(node: &Node, command: &Command) -> Vec<String> {
    let err = |e: Error| vec![format!("ERR {e}")];
    let with_end = |mut lines: Vec<String>| {
        lines.push("END".to_string());
        lines
    };
    match command {
        Command::Put { key, value } => node
            .put(key, value)
            .map_or_else(err, |()| vec!["OK".into()]),
        Command::Get { key } => node.get(key).map_or_else(err, |value| match value {
            Some(value) => vec![format!("VALUE {value}")],
            None => vec!["NOT_FOUND".into()],
        }),
        Command::Del { key } => node.delete(key).map_or_else(err, |found| {
            vec![if found { "OK" } else { "NOT_FOUND" }.to_string()]
        }),
        Command::Lookup { key } => node.lookup(key).map_or_else(err, |(id, lookup)| {
            vec![text::lookup_line(&id, &lookup, node.config().replicas)]
        }),
        Command::Node => with_end(text::node_lines(&node.view())),
        Command::Fingers => with_end(text::finger_lines(&node.view())),
        Command::Ring => node.walk_ring(RING_LIMIT).map_or_else(err, |entries| {
            with_end(entries.iter().map(text::ring_line).collect())
        }),
        Command::Stats => with_end(
            node.stats()
                .report()
                .into_iter()
                .map(|(name, value)| format!("{name}={value}"))
                .collect(),
        ),
        Command::Help => with_end(text::HELP.iter().map(|s| s.to_string()).collect()),
        Command::Quit => vec!["BYE".into()],
    }
}
