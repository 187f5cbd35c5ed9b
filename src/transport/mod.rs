//! How a node reaches other nodes. The protocol in [`crate::chord`] sees only
//! the [`Transport`] trait: "send this request to that address, give me the
//! answer". Two implementations:
//!
//! - [`TcpTransport`], for real nodes: each connection opens with the
//!   handshake of [`crate::auth`], connections are pooled per peer and
//!   reused, every call has a timeout, so a dead peer costs one timeout and
//!   never a hang, and concurrent reads, writes and copies to one peer
//!   share messages (`transport/lanes.rs`);
//! - [`MemoryNetwork`] (`transport/memory.rs`), for tests and the
//!   simulator: whole rings in one
//!   process, no sockets, no threads, deterministic. Messages still go
//!   through the frame codec, so both transports carry exactly the same
//!   bytes.

use std::collections::HashMap;
use std::io::{self, BufReader};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use crate::auth::{self, HandshakeError, Secret, Session};
use crate::codec::{self, CodecError, Frames};
use crate::message::{Request, Response};

mod lanes;
mod memory;

pub use memory::{Endpoint, MemoryNetwork};

/// Sends requests to other nodes.
pub trait Transport: Send + Sync {
    /// Sends `request` to the node at `addr` and waits for its answer.
    ///
    /// # Errors
    /// A [`TransportError`] saying whether the peer looked dead, slow, busy
    /// or confused.
    fn call(&self, addr: &str, request: Request) -> Result<Response, TransportError>;

    /// Sends each request to its address and waits for every answer,
    /// given in the same order. By default one call after another; a
    /// transport that can have them in flight together does, so that
    /// copies to R - 1 replicas take one round trip, not R - 1.
    fn call_all(&self, calls: Vec<(&str, Request)>) -> Vec<Result<Response, TransportError>> {
        calls
            .into_iter()
            .map(|(addr, request)| self.call(addr, request))
            .collect()
    }

    /// Drops whatever is cached for `addr`, a peer found dead.
    fn forget(&self, addr: &str);
}

/// What serves requests at the far end: a node, as the transport sees it.
pub trait Handler: Send + Sync {
    /// Answers one request from local state.
    fn handle(&self, request: Request) -> Response;
}

pub use crate::error::TransportError;

/// The client request a thread serves, if any: when it must be answered
/// by, and the calls to other nodes made for it so far.
#[derive(Clone, Copy)]
struct ClientRequest {
    deadline: Instant,
    calls: u64,
}

thread_local! {
    static SERVING: std::cell::Cell<Option<ClientRequest>> = const { std::cell::Cell::new(None) };
    /// Every call this thread has made for client requests.
    static MADE: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// How many calls to other nodes this thread has made for client requests
/// since it started: the difference across a request is what it made.
pub fn client_calls_made() -> u64 {
    MADE.with(std::cell::Cell::get)
}

/// Runs `work` as part of serving a client request that must be answered
/// by `deadline`; what it returned, and how many calls to other nodes it
/// made. No call waits past the deadline (the TCP transport cuts its
/// timeouts to it), so a request that meets dead or silent peers still
/// ends in time. A request already being served keeps its own deadline
/// (the sooner of the two), and its calls are counted once, by the
/// outermost `serving_client`, which alone gets a count that is not 0.
pub fn serving_client<T>(deadline: Instant, work: impl FnOnce() -> T) -> (T, u64) {
    /// Puts the outer state back however `work` ends, a caught panic
    /// included, keeping the calls made meanwhile for an outer request.
    struct Restore(Option<ClientRequest>);
    impl Drop for Restore {
        fn drop(&mut self) {
            let inner_calls = SERVING.with(|s| s.get().map_or(0, |r| r.calls));
            SERVING.with(|s| {
                s.set(self.0.map(|outer| ClientRequest {
                    calls: inner_calls,
                    ..outer
                }))
            });
        }
    }
    let outer = SERVING.with(std::cell::Cell::get);
    let restore = Restore(outer);
    SERVING.with(|s| {
        s.set(Some(match outer {
            Some(o) => ClientRequest {
                deadline: o.deadline.min(deadline),
                calls: o.calls,
            },
            None => ClientRequest { deadline, calls: 0 },
        }))
    });
    let result = work();
    let calls = SERVING.with(|s| s.get().map_or(0, |r| r.calls));
    drop(restore);
    (result, if outer.is_some() { 0 } else { calls })
}

/// When the client request this thread serves must be answered by, if it
/// serves one.
fn client_deadline() -> Option<Instant> {
    SERVING.with(|s| s.get().map(|r| r.deadline))
}

/// Counts `n` calls to other nodes for the client request this thread
/// serves, if any.
fn count_calls(n: usize) {
    SERVING.with(|s| {
        if let Some(mut request) = s.get() {
            request.calls += n as u64;
            s.set(Some(request));
            MADE.with(|m| m.set(m.get() + n as u64));
        }
    });
}

/// How long a pooled connection may sit idle before it is thrown away. It
/// is well under the server's idle limit for peers
/// ([`crate::server::PEER_IDLE_TIMEOUT`]), so we do not reuse a connection
/// the far end is about to close.
const POOL_IDLE: Duration = Duration::from_secs(2);

/// How many idle connections to keep per peer; more are closed on return.
/// As many as the client requests that may call one peer at once, so that
/// under load a call seldom pays for a connect and a handshake: with two,
/// an 8-node ring under 50 redis-benchmark connections opened a new
/// connection for one peer call in eleven. Each idle one holds a worker at
/// the peer until [`crate::server::PEER_IDLE_TIMEOUT`], and gives way when
/// the peer needs the worker.
const POOL_PER_PEER: usize = 8;

/// How far a call's socket timeouts may stray from its deadline before
/// they are set again.
const LIMIT_SLACK: Duration = Duration::from_millis(10);

/// A connection to a peer, past its handshake.
struct Connection {
    reader: BufReader<TcpStream>,
    frames: Frames,
    session: Session,
    /// The read and write timeout the socket has now.
    timeout: Duration,
}

impl Connection {
    /// Makes the socket's reads and writes give up at `deadline`, within
    /// [`LIMIT_SLACK`]: nearly every call has the full timeout, less the
    /// microseconds since it started, and setting the socket's timeouts
    /// for that difference would cost two system calls a call.
    fn limit(&mut self, addr: &str, deadline: Instant) -> Result<(), TransportError> {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(TransportError::Timeout {
                addr: addr.to_string(),
            });
        }
        if left + LIMIT_SLACK < self.timeout || left > self.timeout + LIMIT_SLACK {
            let stream = self.reader.get_ref();
            stream
                .set_read_timeout(Some(left))
                .and_then(|()| stream.set_write_timeout(Some(left)))
                .map_err(|e| io_error(addr, &e))?;
            self.timeout = left;
        }
        Ok(())
    }
}

struct Pooled {
    connection: Connection,
    last_used: Instant,
}

/// The transport real nodes use: TCP, pooled connections, bounded waits.
pub struct TcpTransport {
    timeout: Duration,
    /// The cluster secret every connection proves, if the ring has one.
    secret: Option<Secret>,
    /// Idle connections by peer address. Guards only the map: a connection
    /// is taken out before a call and put back after it, so the lock is
    /// never held while waiting on the network.
    idle: Mutex<HashMap<String, Vec<Pooled>>>,
    /// Each peer's queue of batchable calls (`transport/lanes.rs`).
    lanes: lanes::Lanes,
}

impl TcpTransport {
    /// A transport whose connects, reads and writes give up after
    /// `timeout`, and whose connections prove `secret` (or, with none,
    /// reach only nodes that run without one).
    pub fn new(timeout: Duration, secret: Option<Secret>) -> TcpTransport {
        TcpTransport {
            timeout,
            secret,
            idle: Mutex::new(HashMap::new()),
            lanes: lanes::Lanes::default(),
        }
    }

    /// Closes every pooled connection.
    pub fn close_all(&self) {
        self.idle.lock().clear();
    }

    fn take_idle(&self, addr: &str) -> Option<Connection> {
        let mut idle = self.idle.lock();
        let conns = idle.get_mut(addr)?;
        while let Some(conn) = conns.pop() {
            if conn.last_used.elapsed() < POOL_IDLE {
                return Some(conn.connection);
            }
        }
        None
    }

    fn give_back(&self, addr: &str, connection: Connection) {
        let mut idle = self.idle.lock();
        let conns = idle.entry(addr.to_string()).or_default();
        if conns.len() < POOL_PER_PEER {
            conns.push(Pooled {
                connection,
                last_used: Instant::now(),
            });
        }
    }

    /// When calls made now must have their answers: one timeout from now,
    /// or sooner if the client request this thread serves ends sooner
    /// ([`serving_client`]): no peer call outlasts the
    /// request it serves.
    fn deadline(&self) -> Instant {
        let full = Instant::now() + self.timeout;
        client_deadline().map_or(full, |d| d.min(full))
    }

    fn connect(&self, addr: &str, deadline: Instant) -> Result<Connection, TransportError> {
        let unreachable = |reason: String| TransportError::Unreachable {
            addr: addr.to_string(),
            reason,
        };
        let target = addr
            .to_socket_addrs()
            .map_err(|e| unreachable(format!("cannot resolve: {e}")))?
            .next()
            .ok_or_else(|| unreachable("resolves to no address".into()))?;
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(TransportError::Timeout {
                addr: addr.to_string(),
            });
        }
        let stream = TcpStream::connect_timeout(&target, left).map_err(|e| io_error(addr, &e))?;
        let configure = |s: &TcpStream| -> io::Result<()> {
            s.set_nodelay(true)?;
            s.set_read_timeout(Some(left))?;
            s.set_write_timeout(Some(left))
        };
        configure(&stream).map_err(|e| io_error(addr, &e))?;
        let mut stream = stream;
        let session =
            auth::client_handshake(&mut stream, self.secret.as_ref()).map_err(|e| match e {
                HandshakeError::Busy => TransportError::Busy {
                    addr: addr.to_string(),
                },
                HandshakeError::Refused(detail) => TransportError::Protocol {
                    addr: addr.to_string(),
                    detail,
                },
                HandshakeError::Io(e) => io_error(addr, &e),
            })?;
        Ok(Connection {
            reader: BufReader::new(stream),
            frames: Frames::default(),
            session,
            timeout: left,
        })
    }

    fn send(connection: &mut Connection, request: &Request) -> Result<(), CodecError> {
        let stream = connection.reader.get_mut();
        connection
            .frames
            .write(stream, request, &mut connection.session)
    }

    fn receive(connection: &mut Connection) -> Result<Response, CodecError> {
        codec::read_frame(&mut connection.reader, &mut connection.session)
    }

    /// A call on a new connection, pooled afterwards.
    fn call_fresh(
        &self,
        addr: &str,
        request: &Request,
        deadline: Instant,
    ) -> Result<Response, TransportError> {
        let mut conn = self.connect(addr, deadline)?;
        let response = TcpTransport::send(&mut conn, request)
            .and_then(|()| TcpTransport::receive(&mut conn))
            .map_err(|e| codec_error(addr, e))?;
        self.give_back(addr, conn);
        Ok(response)
    }
}

/// A request of [`TcpTransport::call_all`] between sending and its answer.
enum Pending<'a> {
    /// Sent on `connection`, which came from the pool unless `fresh`.
    Sent {
        addr: &'a str,
        request: Request,
        connection: Connection,
        fresh: bool,
    },
    /// The pooled connection was found closed: call again on a new one.
    Stale { addr: &'a str, request: Request },
    /// It failed for good.
    Failed(TransportError),
}

fn io_error(addr: &str, e: &io::Error) -> TransportError {
    match e.kind() {
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => TransportError::Timeout {
            addr: addr.to_string(),
        },
        _ => TransportError::Unreachable {
            addr: addr.to_string(),
            reason: e.to_string(),
        },
    }
}

fn codec_error(addr: &str, e: CodecError) -> TransportError {
    match e {
        CodecError::Io(e) => io_error(addr, &e),
        CodecError::Closed | CodecError::Truncated => TransportError::Unreachable {
            addr: addr.to_string(),
            reason: e.to_string(),
        },
        CodecError::TooLarge { .. } | CodecError::Malformed(_) | CodecError::BadMac => {
            TransportError::Protocol {
                addr: addr.to_string(),
                detail: e.to_string(),
            }
        }
    }
}

/// Whether a failure on a reused connection means only that the far end had
/// closed it while it sat in the pool: then a fresh connection is worth one
/// try. Timeouts are not retried: the peer may be slow, and waiting twice
/// would double the cost of a dead peer.
fn stale(e: &CodecError) -> bool {
    match e {
        CodecError::Closed | CodecError::Truncated => true,
        CodecError::Io(e) => !matches!(
            e.kind(),
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
        ),
        _ => false,
    }
}

impl Transport for TcpTransport {
    /// One call is [`TcpTransport::call_all`] of one request.
    fn call(&self, addr: &str, request: Request) -> Result<Response, TransportError> {
        match self.call_all(vec![(addr, request)]).pop() {
            Some(answer) => answer,
            None => Err(TransportError::Unreachable {
                addr: addr.to_string(),
                reason: "no answer was read".into(),
            }),
        }
    }

    /// Every request is written before any answer is read, each on its own
    /// connection, so the peers work on them at the same time, and all of
    /// them share one deadline: peers that do not answer cost one timeout
    /// together, not one each.
    ///
    /// A request is sent again on a fresh connection only when a pooled one
    /// turned out closed by the far end, which happens while it is idle,
    /// so the request was almost always never read. In the rare race where
    /// it was, the repeat is harmless for every request but two, and those
    /// two are harmless enough: a `Write` is stamped again with a newer
    /// version of the same value, and a repeated delete may answer
    /// NOT_FOUND where the first one deleted.
    ///
    /// Reads, writes and copies go through the peer's lane
    /// (`transport/lanes.rs`): alone when no other is in flight to that
    /// peer, else in the next batch.
    fn call_all(&self, calls: Vec<(&str, Request)>) -> Vec<Result<Response, TransportError>> {
        count_calls(calls.len());
        let deadline = self.deadline();
        /// How each call went: the index of its direct answer, or its
        /// answer through a lane.
        enum Way {
            Direct(usize),
            Answer(Result<Response, TransportError>),
        }
        let mut ways: Vec<Option<Way>> = (0..calls.len()).map(|_| None).collect();
        let mut direct = Vec::new();
        // The batchable calls, each with its place in `calls`, by peer: one
        // caller's calls to one peer join its lane together.
        let mut batchable = Vec::new();
        for (place, (addr, request)) in calls.into_iter().enumerate() {
            match request.batchable() {
                Some(bytes) => batchable.push((addr, place, request, bytes)),
                None => {
                    ways[place] = Some(Way::Direct(direct.len()));
                    direct.push((addr, request));
                }
            }
        }
        batchable.sort_by_key(|(addr, ..)| *addr);
        let (waiter, slots) = lanes::Waiter::new(batchable.len());
        let (addrs, places): (Vec<&str>, Vec<usize>) = batchable
            .iter()
            .map(|(addr, place, ..)| (*addr, *place))
            .unzip();
        let mut leading = Vec::new();
        let mut rest = batchable.into_iter().zip(slots).peekable();
        while let Some(&((addr, ..), _)) = rest.peek() {
            let run = std::iter::from_fn(|| rest.next_if(|((a, ..), _)| *a == addr))
                .map(|((_, _, request, bytes), slot)| (request, bytes, slot));
            leading.extend(self.lanes.join(addr, run, deadline));
        }
        let mut answers = self.send_with_batches(direct, leading, deadline);
        if !addrs.is_empty() {
            let waited = self.await_lanes(&waiter, &addrs, deadline);
            for (place, answer) in places.into_iter().zip(waited) {
                ways[place] = Some(Way::Answer(answer));
            }
        }
        ways.into_iter()
            .map(|way| match way {
                Some(Way::Direct(i)) => answers[i]
                    .take()
                    .unwrap_or_else(|| Err(unanswered("a call"))),
                Some(Way::Answer(answer)) => answer,
                None => Err(unanswered("a call")),
            })
            .collect()
    }

    fn forget(&self, addr: &str) {
        self.idle.lock().remove(addr);
    }
}

impl TcpTransport {
    /// Sends `direct` and the `batches` this caller leads, all in flight
    /// together; the direct calls' answers, in order. Each batch is
    /// answered to its members.
    fn send_with_batches(
        &self,
        direct: Vec<(&str, Request)>,
        batches: Vec<lanes::Batch<'_>>,
        deadline: Instant,
    ) -> Vec<Option<Result<Response, TransportError>>> {
        let count = direct.len();
        let mut soonest = deadline;
        let mut sent = Vec::new();
        let (mut addrs, mut messages) = (Vec::new(), Vec::new());
        for mut batch in batches {
            // A batch whose members all timed out is dropped: that frees
            // its lane.
            if let Some(message) = batch.message() {
                soonest = soonest.min(batch.deadline);
                addrs.push(batch.addr.clone());
                messages.push(message);
                sent.push(batch);
            }
        }
        let mut calls = direct;
        calls.extend(addrs.iter().map(String::as_str).zip(messages));
        let mut answers: Vec<Option<_>> = self
            .send_all(calls, soonest)
            .into_iter()
            .map(Some)
            .collect();
        for (batch, answer) in sent.into_iter().zip(answers.drain(count..)) {
            batch.answer(answer.unwrap_or_else(|| Err(unanswered("a batch"))));
        }
        answers
    }

    /// The answers to the calls of `waiter`, waiting in the lanes of
    /// `addrs` (by slot index): sending a lane's next batch first when it
    /// is this caller's turn, and a request again alone when the peer
    /// deferred it.
    fn await_lanes(
        &self,
        waiter: &lanes::Waiter,
        addrs: &[&str],
        deadline: Instant,
    ) -> Vec<Result<Response, TransportError>> {
        loop {
            match self.lanes.wait(waiter, addrs, deadline) {
                lanes::Waited::Answers(answers) => return answers,
                lanes::Waited::Lead(batch) => {
                    self.send_with_batches(Vec::new(), vec![batch], deadline);
                }
                lanes::Waited::Again(index, request) => {
                    let addr = addrs[index];
                    let mut answers = self.send_all(vec![(addr, request)], deadline);
                    let answer = answers.pop().unwrap_or_else(|| Err(unanswered(addr)));
                    waiter.settle(index, answer);
                }
            }
        }
    }

    /// Sends each request on its own connection, all written before any
    /// answer is read; see [`Transport::call_all`].
    fn send_all(
        &self,
        calls: Vec<(&str, Request)>,
        deadline: Instant,
    ) -> Vec<Result<Response, TransportError>> {
        let pending: Vec<Pending> = calls
            .into_iter()
            .map(|(addr, request)| {
                let (mut connection, fresh) = match self.take_idle(addr) {
                    Some(pooled) => (pooled, false),
                    None => match self.connect(addr, deadline) {
                        Ok(new) => (new, true),
                        Err(e) => return Pending::Failed(e),
                    },
                };
                if let Err(e) = connection.limit(addr, deadline) {
                    return Pending::Failed(e);
                }
                match TcpTransport::send(&mut connection, &request) {
                    Ok(()) => Pending::Sent {
                        addr,
                        request,
                        connection,
                        fresh,
                    },
                    Err(e) if !fresh && stale(&e) => Pending::Stale { addr, request },
                    Err(e) => Pending::Failed(codec_error(addr, e)),
                }
            })
            .collect();
        pending
            .into_iter()
            .map(|p| match p {
                Pending::Failed(e) => Err(e),
                Pending::Stale { addr, request } => self.call_fresh(addr, &request, deadline),
                Pending::Sent {
                    addr,
                    request,
                    mut connection,
                    fresh,
                } => {
                    connection.limit(addr, deadline)?;
                    match TcpTransport::receive(&mut connection) {
                        Ok(response) => {
                            self.give_back(addr, connection);
                            Ok(response)
                        }
                        Err(e) if !fresh && stale(&e) => self.call_fresh(addr, &request, deadline),
                        Err(e) => Err(codec_error(addr, e)),
                    }
                }
            })
            .collect()
    }
}

/// A call or batch that got no answer at all: cannot happen, as every
/// send answers each request, but said plainly if it did.
fn unanswered(what: &str) -> TransportError {
    TransportError::Unreachable {
        addr: what.to_string(),
        reason: "no answer was read".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    struct Echo;
    impl Handler for Echo {
        fn handle(&self, _request: Request) -> Response {
            Response::Pong
        }
    }

    #[test]
    fn memory_network_delivers_and_stops() {
        let net = MemoryNetwork::new();
        let echo: Arc<dyn Handler> = Arc::new(Echo);
        net.register("a", &echo);
        assert_eq!(net.call("a", Request::Ping), Ok(Response::Pong));
        net.stop("a");
        assert!(matches!(
            net.call("a", Request::Ping),
            Err(TransportError::Unreachable { .. })
        ));
        net.resume("a");
        assert_eq!(net.call("a", Request::Ping), Ok(Response::Pong));
        assert!(net.call("b", Request::Ping).is_err());
    }

    #[test]
    fn lost_messages_time_out_at_the_rate_set_and_repeat_for_a_seed() {
        let net = MemoryNetwork::new();
        let echo: Arc<dyn Handler> = Arc::new(Echo);
        net.register("a", &echo);
        let outcomes = |net: &MemoryNetwork| -> Vec<bool> {
            net.set_loss(0.2, 9);
            (0..2_000)
                .map(|_| match net.call("a", Request::Ping) {
                    Ok(_) => true,
                    Err(TransportError::Timeout { .. }) => false,
                    Err(e) => panic!("{e}"),
                })
                .collect()
        };
        let first = outcomes(&net);
        // A call is lost when its request or its reply is: 1 - 0.8².
        let lost = first.iter().filter(|ok| !**ok).count();
        assert!((600..840).contains(&lost), "{lost} of 2000 lost");
        assert_eq!(first, outcomes(&net));
        net.set_loss(0.0, 9);
        assert_eq!(net.call("a", Request::Ping), Ok(Response::Pong));
    }

    #[test]
    fn a_dropped_node_leaves_the_network() {
        let net = MemoryNetwork::new();
        let echo: Arc<dyn Handler> = Arc::new(Echo);
        net.register("a", &echo);
        drop(echo);
        assert!(net.call("a", Request::Ping).is_err());
    }

    #[test]
    fn a_refused_connection_is_unreachable_not_a_hang() {
        // Bind then drop a listener to get a port nobody listens on.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let transport = TcpTransport::new(Duration::from_millis(500), None);
        let result = transport.call(&format!("127.0.0.1:{port}"), Request::Ping);
        assert!(matches!(result, Err(TransportError::Unreachable { .. })));
    }

    #[test]
    fn a_client_request_counts_its_calls_once_and_keeps_the_sooner_deadline() {
        let soon = Instant::now() + Duration::from_secs(1);
        let later = soon + Duration::from_secs(60);
        count_calls(5); // serving no request: counted nowhere
        let ((inner, inner_calls), calls) = serving_client(soon, || {
            count_calls(2);
            let inner = serving_client(later, || {
                count_calls(3);
                client_deadline()
            });
            count_calls(1);
            inner
        });
        assert_eq!(
            inner,
            Some(soon),
            "an inner request keeps the outer deadline"
        );
        assert_eq!(inner_calls, 0, "an inner request's calls are the outer's");
        assert_eq!(calls, 6);
        assert_eq!(client_deadline(), None);
    }
}
