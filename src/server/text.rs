//! The text protocol's side of a connection: the loop that reads a line
//! and writes its answer until QUIT, the end of the stream or an idle
//! timeout, and each command carried out at the node. The parsing and the
//! formatting are in [`crate::text`]; a connection whose first byte is `*`
//! is handed to the Redis protocol (`server/resp.rs`), and an HTTP request
//! line to the ring's page (`server/http.rs`).

use std::io::{self, BufReader, BufWriter, Write};
use std::net::TcpStream;

use super::{check_password, http, resp, Shared, RING_LIMIT};
use crate::error::Error;
use crate::node::Node;
use crate::stats::Stats;
use crate::store::{expiry_time, SECOND};
use crate::text::{self, Command, Line};

/// The text protocol: a line in, an answer out, until QUIT, EOF or idle.
pub(super) fn serve_text(
    shared: &Shared,
    mut reader: BufReader<TcpStream>,
    mut writer: BufWriter<TcpStream>,
) -> io::Result<()> {
    // A first byte `*` is a RESP array: a Redis client.
    if matches!(std::io::BufRead::fill_buf(&mut reader), Ok([b'*', ..])) {
        return resp::serve(shared, reader, writer);
    }
    let mut authenticated = shared.password.is_none();
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
        if let Line::Complete(bytes) = &line {
            if let Some((method, target)) = http::request_line(bytes) {
                let locked = shared.password.is_some();
                let node = &shared.node;
                return http::serve(node, locked, &method, &target, &mut reader, &mut writer);
            }
        }
        let answer = match line {
            Line::Eof => return Ok(()),
            Line::TooLong => {
                // The rest of the line was not read: no next line to find.
                writeln!(writer, "ERR {}; closing\r", text::ParseError::LineTooLong)?;
                return writer.flush();
            }
            Line::Complete(bytes) => match text::parse(&bytes) {
                Ok(Command::Quit) => {
                    writer.write_all(b"BYE\r\n")?;
                    return writer.flush();
                }
                Ok(Command::Auth { password }) => {
                    let (lines, ok) = check_password(shared, &password);
                    authenticated |= ok;
                    lines
                }
                Ok(command) if authenticated || command == Command::Help => {
                    answer(&shared.node, &command)
                }
                Ok(_) => {
                    Stats::add(&shared.node.stats().auth_required, 1);
                    vec!["ERR authentication required: send AUTH <password> first".into()]
                }
                Err(e) => vec![format!("ERR {e}")],
            },
        };
        Stats::add(&shared.node.stats().client_requests, 1);
        for line in answer {
            writer.write_all(line.as_bytes())?;
            writer.write_all(b"\r\n")?;
        }
        // Replies go out in batches: while another whole request is
        // already buffered (a pipelining client), answer it first.
        if !reader.buffer().contains(&b'\n') {
            Stats::add(&shared.node.stats().reply_flushes, 1);
            writer.flush()?;
        }
    }
}

/// Carries out one text command at `node`; the answer's lines.
fn answer(node: &Node, command: &Command) -> Vec<String> {
    let err = |e: Error| vec![format!("ERR {e}")];
    let found = |found: bool| vec![if found { "OK" } else { "NOT_FOUND" }.to_string()];
    let with_end = |mut lines: Vec<String>| {
        lines.push("END".to_string());
        lines
    };
    match command {
        Command::Put { key, value } => node
            .put(key, value)
            .map_or_else(err, |()| vec!["OK".into()]),
        Command::Get { key } => node.get(key).map_or_else(err, |value| match value {
            Some(value) => vec![text::value_line(&value)],
            None => vec!["NOT_FOUND".into()],
        }),
        Command::Del { key } => node.delete(key).map_or_else(err, found),
        Command::Incr { key, by } => node
            .keys()
            .increment(key, *by)
            .map_or_else(err, |sum| vec![format!("VALUE {sum}")]),
        Command::Expire { key, seconds } => {
            let now = node.config().clock.now_micros();
            match expiry_time(*seconds, SECOND, now) {
                Some(at) => node
                    .keys()
                    .expire(key, Some(at), None)
                    .map_or_else(err, found),
                None => vec![format!("ERR {seconds} seconds is too far away")],
            }
        }
        // OK when the key has a value, whether or not it had an expiry.
        Command::Persist { key } => match node.keys().expire(key, None, None) {
            Ok(true) => found(true),
            Ok(false) => node.get(key).map_or_else(err, |v| found(v.is_some())),
            Err(e) => err(e),
        },
        Command::Ttl { key } => node.keys().get_entry(key).map_or_else(err, |entry| {
            let now = node.config().clock.now_micros();
            vec![match entry.map(|e| e.expires) {
                None => "NOT_FOUND".into(),
                Some(None) => "TTL none".into(),
                Some(Some(at)) => format!("TTL {}", at.saturating_sub(now).div_ceil(SECOND)),
            }]
        }),
        Command::Lookup { key } => node.lookup(key).map_or_else(err, |(id, lookup)| {
            // Which of the holders hold it now, and at which version.
            let now = node.config().clock.now_micros();
            let held: Vec<String> = lookup
                .holders(node.config().replicas)
                .iter()
                .map(|h| {
                    let copy = match node.ring().peer(h).get_copy(key) {
                        Ok(Some(e)) if e.is_tombstone() => format!("{}d", e.version.stamp),
                        Ok(Some(e)) if !e.is_live(now) => format!("{}x", e.version.stamp),
                        Ok(Some(e)) => e.version.stamp.to_string(),
                        Ok(None) => "-".into(),
                        Err(_) => "?".into(),
                    };
                    format!("{}@{copy}", h.addr)
                })
                .collect();
            vec![format!(
                "{} held={}",
                text::lookup_line(&id, &lookup, node.config().replicas),
                held.join(",")
            )]
        }),
        Command::Node { full } => with_end(text::node_lines(&node.view(), *full)),
        Command::Fingers { full } => with_end(text::finger_lines(&node.view(), *full)),
        Command::Ring { full } => node.walk_ring(RING_LIMIT).map_or_else(err, |entries| {
            with_end(entries.iter().map(|e| text::ring_line(e, *full)).collect())
        }),
        Command::Count => node.walk_ring(RING_LIMIT).map_or_else(err, |entries| {
            let owned: u64 = entries.iter().map(|e| e.owned).sum();
            vec![format!("COUNT {owned} nodes={}", entries.len())]
        }),
        Command::Stats => {
            let held = node.store_usage();
            let usage = [
                ("keys", held.keys),
                ("entries", held.entries),
                ("expiring", held.expiring),
                ("stored_bytes", held.bytes),
                ("max_memory_bytes", held.limit),
            ];
            with_end(
                node.stats()
                    .report()
                    .into_iter()
                    .chain(usage.map(|(name, n)| (name, n.to_string())))
                    .map(|(name, value)| format!("{name}={value}"))
                    .collect(),
            )
        }
        Command::Help => with_end(text::HELP.iter().map(|s| s.to_string()).collect()),
        Command::Quit => vec!["BYE".into()],
        Command::Ping => vec!["+PONG".into()],
        Command::Keys { pattern } => {
            let pattern = pattern.as_deref().map(str::as_bytes);
            match node.keys().keys_matching(pattern, text::KEYS_LIMIT) {
                Ok((mut keys, complete)) => {
                    if !complete {
                        keys.push(format!(
                            "(the first {} only; SCAN through redis-cli lists them all)",
                            text::KEYS_LIMIT
                        ));
                    }
                    with_end(keys)
                }
                Err(e) => err(e),
            }
        }
        Command::Auth { .. } => vec!["ERR AUTH is answered by the connection".into()],
    }
}
