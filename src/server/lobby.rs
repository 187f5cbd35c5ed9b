//! The lobby: the accept thread, which holds every new connection until it
//! is known to be a person or an authenticated peer, and only then hands it
//! to a worker.
//!
//! A connection costs a worker only once it has earned one. Until then it
//! waits here, in one thread, with up to [`MAX_PENDING`] others: the thread
//! waits for any of them to become readable with `poll(2)`, reads what each
//! has sent without blocking, and closes those that take too long. So a
//! crowd of connections that send a NUL byte and stall, or nothing at all,
//! holds no worker, least of all those kept for peers:
//!
//! - a connection whose first byte is the peer preamble's NUL must finish
//!   the handshake of [`crate::auth`] within [`HANDSHAKE_DEADLINE`], or it
//!   is closed (and counted, and logged at most once a second);
//! - a connection whose first byte is anything else is a person, handed to
//!   a worker within the text clients' share, or answered `ERR busy`;
//! - a connection that sends nothing for [`FIRST_BYTE_WAIT`] is a person
//!   who has not typed yet, and is treated as one;
//! - past [`MAX_PENDING`] connections waiting, the one that has waited
//!   longest is closed to make room.

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{SendTimeoutError, Sender, TrySendError};
use log::{error, warn};

use super::{Job, Shared, HANDOFF_WAIT, NEW_WORKER_WAIT};
use crate::auth::{self, ServerHandshake, Step, ACK_BUSY};
use crate::codec::MAGIC;
use crate::stats::Stats;

/// How long a connection that opened the peer handshake has to finish it.
pub const HANDSHAKE_DEADLINE: Duration = Duration::from_millis(500);

/// How long a new connection may take to send its first byte before it is
/// taken for a person rather than a peer.
pub const FIRST_BYTE_WAIT: Duration = Duration::from_secs(1);

/// The most connections waiting in the lobby at once.
pub const MAX_PENDING: usize = 1024;

/// The longest one wait in `poll` lasts, so that a stop is seen promptly.
const TICK: Duration = Duration::from_millis(100);

/// The most connections accepted in one go before serving the others.
const ACCEPT_BURST: usize = 64;

// One buffer of TAG bytes holds the longest message a handshake reads.
const _: () = assert!(auth::CLIENT_HELLO <= auth::TAG);

/// A connection waiting in the lobby.
struct Pending {
    stream: TcpStream,
    since: Instant,
    /// `None` until the first byte shows it is a peer.
    handshake: Option<ServerHandshake>,
}

/// What became of a pending connection after it was read from.
enum Next {
    Wait,
    Close,
    Text,
    Peer(auth::Session),
}

/// Runs the lobby until the server stops. The listener must be
/// non-blocking.
pub(super) fn run(listener: &TcpListener, shared: &Arc<Shared>, handoff: &Sender<Job>) {
    let mut pending: VecDeque<Pending> = VecDeque::new();
    let mut fds: Vec<libc::pollfd> = Vec::new();
    loop {
        if shared.stopping.load(Ordering::SeqCst) {
            return;
        }
        fds.clear();
        fds.push(readable(listener.as_raw_fd()));
        fds.extend(pending.iter().map(|p| readable(p.stream.as_raw_fd())));
        if let Err(e) = poll(&mut fds, next_deadline(&pending)) {
            warn!("poll failed: {e}");
            std::thread::sleep(HANDOFF_WAIT);
            continue;
        }
        // Serve the connections that have something to read, back to front
        // so that removing one leaves the others' indices alone.
        for i in (0..pending.len()).rev() {
            if fds[i + 1].revents == 0 {
                continue;
            }
            let next = panic::catch_unwind(AssertUnwindSafe(|| progress(shared, &mut pending[i])))
                .unwrap_or_else(|_| {
                    Stats::add(&shared.node.stats().panics, 1);
                    error!(
                        "a connection in the lobby panicked; it was closed and the node goes on"
                    );
                    Next::Close
                });
            if !matches!(next, Next::Wait) {
                if let Some(p) = pending.remove(i) {
                    dispatch(shared, handoff, p.stream, next);
                }
            }
        }
        expire(shared, handoff, &mut pending);
        if fds[0].revents != 0 {
            accept(listener, shared, &mut pending);
        }
    }
}

fn readable(fd: i32) -> libc::pollfd {
    libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    }
}

/// Waits until one of `fds` is readable (or hung up), or `timeout` passes.
fn poll(fds: &mut [libc::pollfd], timeout: Duration) -> io::Result<()> {
    let ms = libc::c_int::try_from(timeout.as_millis()).unwrap_or(libc::c_int::MAX);
    let count = libc::nfds_t::try_from(fds.len()).unwrap_or(libc::nfds_t::MAX);
    // SAFETY: `fds` is a valid, exclusively borrowed array of `count`
    // pollfd structs for the whole call; poll only writes their `revents`.
    let ready = unsafe { libc::poll(fds.as_mut_ptr(), count, ms) };
    if ready < 0 {
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
    Ok(())
}

/// How long until the first pending connection's time is up, at most
/// [`TICK`].
fn next_deadline(pending: &VecDeque<Pending>) -> Duration {
    pending
        .iter()
        .map(|p| deadline(p).saturating_duration_since(Instant::now()))
        .min()
        .unwrap_or(TICK)
        .min(TICK)
}

fn deadline(p: &Pending) -> Instant {
    let wait = match p.handshake {
        Some(_) => HANDSHAKE_DEADLINE,
        None => FIRST_BYTE_WAIT,
    };
    p.since + wait
}

/// Accepts what is waiting on the listener, making room as needed.
fn accept(listener: &TcpListener, shared: &Shared, pending: &mut VecDeque<Pending>) {
    for _ in 0..ACCEPT_BURST {
        let stream = match listener.accept() {
            Ok((stream, _)) => stream,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
            Err(e) => {
                // Out of file descriptors, say: the next round tries again.
                warn!("accept failed: {e}");
                return;
            }
        };
        Stats::add(&shared.node.stats().connections, 1);
        if stream.set_nonblocking(true).is_err() || stream.set_nodelay(true).is_err() {
            continue;
        }
        if pending.len() >= MAX_PENDING {
            if let Some(oldest) = pending.pop_front() {
                refuse(shared, &oldest.stream, "the lobby was full");
            }
        }
        pending.push_back(Pending {
            stream,
            since: Instant::now(),
            handshake: None,
        });
    }
}

/// Reads what a pending connection has sent and moves it on.
fn progress(shared: &Shared, p: &mut Pending) -> Next {
    if p.handshake.is_none() {
        let mut first = [0u8; 1];
        match p.stream.peek(&mut first) {
            Ok(0) => return Next::Close,
            Ok(_) if first[0] != MAGIC[0] => return Next::Text,
            Ok(_) => match auth::nonce() {
                Ok(nonce) => {
                    p.handshake = Some(ServerHandshake::new(shared.secret.clone(), nonce));
                }
                Err(e) => {
                    error!("no randomness for a handshake nonce: {e}");
                    return Next::Close;
                }
            },
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Next::Wait,
            Err(_) => return Next::Close,
        }
    }
    let Some(handshake) = p.handshake.as_mut() else {
        return Next::Close;
    };
    let mut buf = [0u8; auth::TAG];
    let want = handshake.wants();
    let read = match p.stream.read(&mut buf[..want]) {
        Ok(0) => return Next::Close,
        Ok(n) => n,
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Next::Wait,
        Err(_) => return Next::Close,
    };
    let (reply, next) = match handshake.receive(&buf[..read]) {
        Step::Reply(reply) => (reply, Next::Wait),
        Step::Ready(reply, session) => (reply, Next::Peer(session)),
        Step::Refuse(reply, why) => {
            let _ = send_all(&p.stream, &reply);
            refuse(shared, &p.stream, &why);
            return Next::Close;
        }
    };
    // A reply is a few dozen bytes into a fresh socket's empty send buffer:
    // it goes at once, or the connection is not worth keeping.
    if send_all(&p.stream, &reply).is_err() {
        return Next::Close;
    }
    next
}

/// Writes all of `bytes` to a non-blocking stream without waiting.
fn send_all(mut stream: &TcpStream, bytes: &[u8]) -> io::Result<()> {
    if bytes.is_empty() {
        return Ok(());
    }
    match stream.write(bytes) {
        Ok(n) if n == bytes.len() => Ok(()),
        Ok(_) => Err(io::ErrorKind::WriteZero.into()),
        Err(e) => Err(e),
    }
}

/// Counts and logs (at most once a second) a peer connection turned away,
/// and closes it.
fn refuse(shared: &Shared, stream: &TcpStream, why: &str) {
    Stats::add(&shared.node.stats().handshakes_refused, 1);
    let from = stream
        .peer_addr()
        .map_or_else(|_| "?".to_string(), |a| a.to_string());
    shared.refusals.warn(|| {
        format!(
            "{}: refused a connection from {from}: {why}",
            shared.node.me().addr
        )
    });
    let _ = stream.shutdown(Shutdown::Both);
}

/// Closes handshakes past their deadline, and hands connections that never
/// spoke to workers as people.
fn expire(shared: &Arc<Shared>, handoff: &Sender<Job>, pending: &mut VecDeque<Pending>) {
    let now = Instant::now();
    for i in (0..pending.len()).rev() {
        if deadline(&pending[i]) > now {
            continue;
        }
        let Some(p) = pending.remove(i) else {
            continue;
        };
        if p.handshake.is_some() {
            refuse(shared, &p.stream, "the handshake did not finish in time");
        } else {
            dispatch(shared, handoff, p.stream, Next::Text);
        }
    }
}

/// Hands a connection on: to a worker, or closed.
fn dispatch(shared: &Arc<Shared>, handoff: &Sender<Job>, stream: TcpStream, next: Next) {
    if stream.set_nonblocking(false).is_err() {
        return;
    }
    let job = match next {
        Next::Wait | Next::Close => return,
        Next::Text if !shared.text_has_room() => {
            busy(shared, &stream, b"ERR busy\r\n");
            return;
        }
        Next::Text => Job::Text(stream),
        Next::Peer(session) => Job::Peer(stream, session),
    };
    // A worker waiting now takes it at once; if none does, start one.
    let job = match handoff.try_send(job) {
        Ok(()) | Err(TrySendError::Disconnected(_)) => return,
        Err(TrySendError::Full(job)) => job,
    };
    let mut wait = if shared.make_room() {
        NEW_WORKER_WAIT
    } else {
        HANDOFF_WAIT
    };
    let mut job = job;
    let mut evicted = false;
    loop {
        match handoff.send_timeout(job, std::mem::replace(&mut wait, HANDOFF_WAIT)) {
            Ok(()) => return,
            Err(SendTimeoutError::Disconnected(_)) => return,
            // No worker is free: free the one an idle peer holds longest.
            Err(SendTimeoutError::Timeout(back)) if !evicted && shared.evict_idle_peer() => {
                job = back;
                evicted = true;
            }
            Err(SendTimeoutError::Timeout(back)) => {
                let (stream, answer): (TcpStream, &[u8]) = match back {
                    Job::Text(stream) => (stream, b"ERR busy\r\n"),
                    Job::Peer(stream, _) => (stream, &[ACK_BUSY]),
                };
                busy(shared, &stream, answer);
                return;
            }
        }
    }
}

fn busy(shared: &Shared, mut stream: &TcpStream, answer: &[u8]) {
    Stats::add(&shared.node.stats().busy_rejections, 1);
    let _ = stream.set_write_timeout(Some(HANDOFF_WAIT));
    let _ = stream.write_all(answer);
}
