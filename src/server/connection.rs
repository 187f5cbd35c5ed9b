//! One connection, from the worker that takes it to its end: the worker's
//! loop, a person's protocol picked from the first bytes, and the peer
//! protocol after the handshake. A panic in a connection's handler ends
//! that connection only (see "When a thread panics anyway" in the module
//! above).

use std::io::{self, BufReader, BufWriter, Write};
use std::net::TcpStream;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::Ordering;

use crossbeam_channel::Receiver;
use log::{debug, error};

use super::{execute, http, resp, text, Job, Open, Shared, PEER_IDLE_TIMEOUT, WRITE_TIMEOUT};
use crate::auth::{Session, ACK_SERVING};
use crate::codec::{self, CodecError, Frames};
use crate::message::{Request, Response};
use crate::stats::Stats;
use crate::transport::Handler;

/// A worker's loop: serve the connections handed over, one at a time,
/// until the pool's channel closes or the server stops.
pub(super) fn work(shared: &Shared, jobs: &Receiver<Job>) {
    while let Ok(job) = jobs.recv() {
        if shared.stopping.load(Ordering::SeqCst) {
            return;
        }
        let number = shared.next_connection.fetch_add(1, Ordering::Relaxed);
        let stream = match &job {
            Job::Text(stream) | Job::Peer(stream, _) => stream,
        };
        if let Ok(clone) = stream.try_clone() {
            let open = Open {
                stream: clone,
                idle_peer_since: None,
            };
            shared.open.lock().insert(number, open);
        }
        match panic::catch_unwind(AssertUnwindSafe(|| serve(shared, number, job))) {
            Ok(Ok(())) => {}
            Ok(Err(e)) => debug!("connection closed: {e}"),
            Err(panic) => {
                Stats::add(&shared.node.stats().panics, 1);
                let what = panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_default();
                error!(
                    "{}: a connection's handler panicked ({what}); it was closed and the node goes on",
                    shared.node.me().addr
                );
            }
        }
        shared.open.lock().remove(&number);
    }
}

/// Serves one connection, person or peer, until it ends.
fn serve(shared: &Shared, number: u64, job: Job) -> io::Result<()> {
    match job {
        Job::Text(stream) => {
            stream.set_read_timeout(Some(shared.idle_timeout))?;
            stream.set_write_timeout(Some(WRITE_TIMEOUT))?;
            let reader = BufReader::new(stream.try_clone()?);
            serve_text_within_limit(shared, number, reader, BufWriter::new(stream))
        }
        Job::Peer(stream, session) => {
            stream.set_read_timeout(Some(PEER_IDLE_TIMEOUT))?;
            stream.set_write_timeout(Some(WRITE_TIMEOUT))?;
            let reader = BufReader::new(stream.try_clone()?);
            let mut writer = BufWriter::new(stream);
            writer.write_all(&[ACK_SERVING])?;
            writer.flush()?;
            serve_peer(shared, number, reader, writer, session)
        }
    }
}

/// Serves a text client if text clients hold fewer than their share of the
/// workers; else answers `ERR busy`. The share keeps a crowd of idle telnet
/// sessions from cutting the node off from its peers.
fn serve_text_within_limit(
    shared: &Shared,
    number: u64,
    reader: BufReader<TcpStream>,
    mut writer: BufWriter<TcpStream>,
) -> io::Result<()> {
    let held = shared.text_clients.fetch_add(1, Ordering::SeqCst);
    let result = if held < shared.text_limit {
        serve_person(shared, number, reader, writer)
    } else {
        Stats::add(&shared.node.stats().busy_rejections, 1);
        writer.write_all(b"ERR busy\r\n")?;
        writer.flush()
    };
    shared.text_clients.fetch_sub(1, Ordering::SeqCst);
    result
}

/// Picks a person's protocol, in this one place, and serves it: a first
/// byte `*` is a RESP array, a Redis client; a first line that is an HTTP
/// request line asks for the ring's page; any other line is the text
/// protocol's first request.
fn serve_person(
    shared: &Shared,
    number: u64,
    mut reader: BufReader<TcpStream>,
    mut writer: BufWriter<TcpStream>,
) -> io::Result<()> {
    let session = execute::Session::new(shared, number, reader.get_ref());
    let _listed = execute::Listed(shared, number);
    if matches!(io::BufRead::fill_buf(&mut reader), Ok([b'*', ..])) {
        return resp::serve(shared, session, reader, writer);
    }
    let first = crate::text::read_line(&mut reader, crate::text::MAX_LINE);
    if let Ok(crate::text::Line::Complete(bytes)) = &first {
        if let Some((method, target)) = http::request_line(bytes) {
            let locked = shared.password.is_some();
            return http::serve(
                &shared.node,
                locked,
                &method,
                &target,
                &mut reader,
                &mut writer,
            );
        }
    }
    text::serve(shared, session, first, reader, writer)
}

/// The peer protocol after the handshake: answer frames until the peer
/// closes, idles out, or breaks the protocol (a malformed frame, a bad MAC,
/// or a request that fails its checks).
fn serve_peer(
    shared: &Shared,
    number: u64,
    mut reader: BufReader<TcpStream>,
    mut writer: BufWriter<TcpStream>,
    mut session: Session,
) -> io::Result<()> {
    let node = &shared.node;
    let mut frames = Frames::default();
    loop {
        shared.set_idle_peer(number, true);
        let request: Request = match codec::read_frame(&mut reader, &mut session) {
            Ok(request) => {
                shared.set_idle_peer(number, false);
                request
            }
            Err(CodecError::Closed) => return Ok(()),
            Err(CodecError::Io(e)) => return Err(e),
            Err(e) => {
                // The stream is out of step; say why and hang up.
                Stats::add(&node.stats().protocol_errors, 1);
                shared
                    .refusals
                    .warn(|| format!("{}: closed a peer connection: {e}", node.me().addr));
                let answer = Response::Error(e.to_string());
                let _ = codec::write_frame(&mut writer, &answer, &mut session);
                return Ok(());
            }
        };
        let response = node.handle(request);
        let refused = matches!(response, Response::Error(_));
        let written = frames
            .write(&mut writer, &response, &mut session)
            .and_then(|()| writer.flush().map_err(CodecError::Io));
        if let Err(e) = written {
            return Err(io::Error::other(e.to_string()));
        }
        if refused {
            // The request failed its checks (Node::handle logged why).
            return Ok(());
        }
    }
}
