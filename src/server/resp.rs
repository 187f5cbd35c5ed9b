//! The Redis protocol on the node's one port: a connection whose first
//! byte is `*` speaks RESP2 ([`crate::resp`]), so `redis-cli`,
//! `redis-benchmark` and Redis client libraries talk to any node of a
//! ring. Each command maps onto the same node operations as the text
//! protocol; replies go out in batches, flushed only when no request is
//! left in the input buffer.
//!
//! What is served, and what is not yet (each refusal says so):
//! - `PING`, `ECHO`, `GET`, `SET key value [NX|XX]` (checked and written
//!   atomically at the key's owner), `INCR`, `INCRBY`, `DECR`, `DECRBY` (added
//!   atomically at the owner, then copied to the replicas, so concurrent
//!   increments through any nodes lose none), `DEL` and
//!   `EXISTS` of many keys, `MGET`, `MSET`, `SETNX`, `STRLEN`, `TYPE`,
//!   `KEYS pattern` (refused past [`KEYS_LIMIT`] matches: `SCAN` lists any
//!   number), `DBSIZE`, `INFO`, `SELECT 0`,
//!   `CLIENT SETNAME`/`GETNAME`, `HELLO 2` (and a clear error for 3),
//!   `COMMAND` (enough for redis-cli to start), `QUIT`, `AUTH`;
//! - the Chord commands `CHORD LOOKUP key`, `CHORD RING`, `CHORD NODE`,
//!   `CHORD FINGERS`, each an array of the text protocol's lines;
//! - `SCAN cursor [MATCH pattern] [COUNT n]` over the whole ring, owner by
//!   owner in identifier order ([`crate::dhash::scan`]);
//! - key expiry ([`expiry`]): `SET` with `EX`, `PX`, `EXAT`, `PXAT` or
//!   `KEEPTTL`, `SETEX`, `PSETEX`, `EXPIRE`, `PEXPIRE`, `EXPIREAT`,
//!   `PEXPIREAT` (each with one of `NX`, `XX`, `GT`, `LT`), `PERSIST`, `TTL`, `PTTL`, `EXPIRETIME`, `PEXPIRETIME`;
//!   `INCR` keeps a key's expiry, and `SET` and `MSET` clear it, as in
//!   Redis;
//! - values are bytes, whatever a client sends; keys are UTF-8 text;
//! - not yet: `SET ... GET` (the refusal names the option).
//!
//! `DBSIZE` counts the keys this node holds, its own and its replica
//! copies, an expired one until the node empties it; the ring's total is
//! in `CHORD COUNT`.

use std::io::{self, BufReader, BufWriter, Write};
use std::net::TcpStream;

use super::{check_password, Shared, RING_LIMIT};
use crate::resp::{read_request, Read, Reply};
use crate::text::KEYS_LIMIT;

mod expiry;
use crate::error::Error;
use crate::stats::Stats;
use crate::text;

/// One connection's state.
struct Session {
    authenticated: bool,
    name: Option<String>,
}

/// Serves one RESP connection until the client closes it or says QUIT.
pub(super) fn serve(
    shared: &Shared,
    mut reader: BufReader<TcpStream>,
    mut writer: BufWriter<TcpStream>,
) -> io::Result<()> {
    let mut session = Session {
        authenticated: shared.password.is_none(),
        name: None,
    };
    let mut out = Vec::new();
    loop {
        let args = match read_request(&mut reader) {
            Ok(Read::Request(args)) => args,
            Ok(Read::Eof) => return writer.flush(),
            Ok(Read::Broken(why)) => {
                Reply::err(format!("Protocol error: {why}")).encode(&mut out);
                writer.write_all(&out)?;
                return writer.flush();
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                return writer.flush();
            }
            Err(e) => return Err(e),
        };
        if args.is_empty() {
            continue;
        }
        Stats::add(&shared.node.stats().client_requests, 1);
        let name = String::from_utf8_lossy(&args[0]).to_ascii_uppercase();
        let quit = name == "QUIT";
        let reply = if quit {
            Reply::ok()
        } else {
            command(shared, &mut session, &name, &args[1..])
        };
        out.clear();
        reply.encode(&mut out);
        writer.write_all(&out)?;
        if quit {
            return writer.flush();
        }
        if reader.buffer().is_empty() {
            Stats::add(&shared.node.stats().reply_flushes, 1);
            writer.flush()?;
        }
    }
}

/// Arguments that must all be text, as [`utf8`].
fn texts(args: &[Vec<u8>]) -> Result<Vec<&str>, Reply> {
    args.iter().map(|arg| utf8(arg)).collect()
}

/// An argument that must be text: a key, a pattern, a name. Values are
/// bytes and never pass through here.
fn utf8(arg: &[u8]) -> Result<&str, Reply> {
    std::str::from_utf8(arg).map_err(|_| Reply::err("keys, patterns and names must be UTF-8 text"))
}

fn wrong_arity(name: &str) -> Reply {
    Reply::err(format!(
        "wrong number of arguments for '{}' command",
        name.to_ascii_lowercase()
    ))
}

/// A node error in Redis's form.
fn error(e: &Error) -> Reply {
    match e {
        Error::OutOfMemory(text) => Reply::Error(format!("OOM {text}")),
        Error::Paused => Reply::Error(format!("BUSY {}", e)),
        other => Reply::err(other.to_string()),
    }
}

fn command(shared: &Shared, session: &mut Session, name: &str, args: &[Vec<u8>]) -> Reply {
    match name {
        "AUTH" => {
            // AUTH password, or AUTH user password (the user is ignored).
            let Some(password) = args.last().filter(|_| args.len() <= 2) else {
                return wrong_arity(name);
            };
            let (lines, ok) = check_password(shared, &String::from_utf8_lossy(password));
            session.authenticated |= ok;
            if ok {
                Reply::ok()
            } else {
                Reply::Error(lines.concat())
            }
        }
        "HELLO" => hello(args),
        "PING" | "COMMAND" | "CONFIG" => open_command(name, args),
        _ if !session.authenticated => {
            Stats::add(&shared.node.stats().auth_required, 1);
            Reply::Error("NOAUTH Authentication required.".into())
        }
        _ => match key_command(shared, session, name, args) {
            Ok(reply) | Err(reply) => reply,
        },
    }
}

/// Commands served before AUTH: they reveal nothing.
fn open_command(name: &str, args: &[Vec<u8>]) -> Reply {
    match (name, args) {
        ("PING", []) => Reply::Simple("PONG".into()),
        ("PING", [message]) => Reply::Bulk(Some(message.clone())),
        ("PING", _) => wrong_arity(name),
        // redis-benchmark reads the server's settings; there are none to
        // report, and it goes on without them.
        ("CONFIG", [sub, ..]) if sub.eq_ignore_ascii_case(b"GET") => Reply::Array(Vec::new()),
        // redis-cli asks for the command table at start; an empty one
        // gives it no hints, and it works on.
        ("COMMAND", [sub, ..]) if sub.eq_ignore_ascii_case(b"COUNT") => Reply::Integer(0),
        _ => Reply::Array(Vec::new()),
    }
}

fn hello(args: &[Vec<u8>]) -> Reply {
    match args.first().map(|v| String::from_utf8_lossy(v).to_string()) {
        None => {}
        Some(version) if version == "2" => {}
        Some(version) if version == "3" => {
            return Reply::Error(
                "NOPROTO this server speaks RESP2 only; use HELLO 2 or none".into(),
            )
        }
        Some(version) => {
            return Reply::Error(format!("NOPROTO unsupported protocol version {version}"))
        }
    }
    let pairs = [
        ("server", Reply::text("chord")),
        ("version", Reply::text(env!("CARGO_PKG_VERSION"))),
        ("proto", Reply::Integer(2)),
        ("mode", Reply::text("cluster")),
        ("role", Reply::text("master")),
        ("modules", Reply::Array(Vec::new())),
    ];
    Reply::Array(
        pairs
            .into_iter()
            .flat_map(|(k, v)| [Reply::text(k), v])
            .collect(),
    )
}

/// The commands that read or change keys, or describe the ring.
fn key_command(
    shared: &Shared,
    session: &mut Session,
    name: &str,
    args: &[Vec<u8>],
) -> Result<Reply, Reply> {
    let node = &shared.node;
    let reply = match (name, args) {
        ("ECHO", [message]) => Reply::Bulk(Some(message.clone())),
        ("GET", [key]) => match node.get(utf8(key)?) {
            Ok(value) => Reply::Bulk(value),
            Err(e) => error(&e),
        },
        ("SET", [key, value]) => match node.put(utf8(key)?, value) {
            Ok(()) => Reply::ok(),
            Err(e) => error(&e),
        },
        ("SET", [key, value, options @ ..]) => expiry::set(node, key, value, options)?,
        ("SETEX", [key, seconds, value]) => {
            expiry::set(node, key, value, &[b"EX".to_vec(), seconds.clone()])?
        }
        ("PSETEX", [key, millis, value]) => {
            expiry::set(node, key, value, &[b"PX".to_vec(), millis.clone()])?
        }
        ("EXPIRE" | "PEXPIRE" | "EXPIREAT" | "PEXPIREAT", args) => {
            expiry::expire(node, name, args)?
        }
        ("PERSIST", [key]) => expiry::persist(node, key)?,
        ("TTL" | "PTTL" | "EXPIRETIME" | "PEXPIRETIME", [key]) => expiry::ttl(node, name, key)?,
        ("DEL" | "UNLINK", keys) if !keys.is_empty() => {
            let deletes = keys
                .iter()
                .map(|key| Ok((utf8(key)?, None)))
                .collect::<Result<Vec<_>, Reply>>()?;
            match node.keys().write_many(&deletes) {
                Ok(existed) => Reply::Integer(existed.iter().map(|&e| i64::from(e)).sum()),
                Err(e) => error(&e),
            }
        }
        ("EXISTS", keys) if !keys.is_empty() => match node.keys().get_many(&texts(keys)?) {
            Ok(values) => Reply::Integer(values.iter().map(|v| i64::from(v.is_some())).sum()),
            Err(e) => error(&e),
        },
        ("MGET", keys) if !keys.is_empty() => match node.keys().get_many(&texts(keys)?) {
            Ok(values) => Reply::Array(values.into_iter().map(Reply::Bulk).collect()),
            Err(e) => error(&e),
        },
        ("MSET", pairs) if !pairs.is_empty() && pairs.len() % 2 == 0 => {
            let writes = pairs
                .chunks(2)
                .map(|pair| Ok((utf8(&pair[0])?, Some(pair[1].as_slice()))))
                .collect::<Result<Vec<_>, Reply>>()?;
            match node.keys().write_many(&writes) {
                Ok(_) => Reply::ok(),
                Err(e) => error(&e),
            }
        }
        ("INCR", [key]) => increment(node, key, 1)?,
        ("DECR", [key]) => increment(node, key, -1)?,
        ("INCRBY", [key, by]) => increment(node, key, integer(by)?)?,
        ("DECRBY", [key, by]) => {
            let by = integer(by)?
                .checked_neg()
                .ok_or_else(|| Reply::err("decrement would overflow"))?;
            increment(node, key, by)?
        }
        ("DBSIZE", []) => Reply::Integer(node.store_usage().keys as i64),
        ("KEYS", [pattern]) => match node.keys().keys_matching(Some(pattern), KEYS_LIMIT) {
            Ok((keys, true)) => Reply::Array(keys.into_iter().map(Reply::text).collect()),
            Ok((_, false)) => Reply::err(format!(
                "more than {KEYS_LIMIT} keys match; SCAN lists any number (redis-cli --scan)"
            )),
            Err(e) => error(&e),
        },
        ("TYPE", [key]) => match node.get(utf8(key)?) {
            Ok(value) => Reply::Simple(if value.is_some() { "string" } else { "none" }.into()),
            Err(e) => error(&e),
        },
        ("STRLEN", [key]) => match node.get(utf8(key)?) {
            Ok(value) => Reply::Integer(value.map_or(0, |v| v.len() as i64)),
            Err(e) => error(&e),
        },
        // SET NX's answer as 1 (set) or 0 (the key had a value).
        ("SETNX", [key, value]) => match expiry::set(node, key, value, &[b"NX".to_vec()])? {
            Reply::Bulk(None) => Reply::Integer(0),
            set if set == Reply::ok() => Reply::Integer(1),
            refused => refused,
        },
        ("SCAN", [cursor, options @ ..]) => scan(node, cursor, options)?,
        ("SELECT", [db]) if db.as_slice() == b"0" => Reply::ok(),
        ("SELECT", [_]) => Reply::err("DB index is out of range (chord has database 0 only)"),
        ("CLIENT", [sub, client]) if sub.eq_ignore_ascii_case(b"SETNAME") => {
            session.name = Some(utf8(client)?.to_string());
            Reply::ok()
        }
        ("CLIENT", [sub]) if sub.eq_ignore_ascii_case(b"GETNAME") => {
            Reply::Bulk(session.name.clone().map(String::into_bytes))
        }
        ("CLIENT", [sub, ..]) => Reply::err(format!(
            "unknown subcommand '{}'; chord serves CLIENT SETNAME and CLIENT GETNAME",
            String::from_utf8_lossy(sub)
        )),
        ("INFO", _) => Reply::Bulk(Some(info(shared).into_bytes())),
        ("CHORD", [sub, rest @ ..]) => chord(shared, &String::from_utf8_lossy(sub), rest)?,
        (
            "ECHO" | "GET" | "SET" | "DEL" | "UNLINK" | "EXISTS" | "MGET" | "MSET" | "DBSIZE"
            | "SELECT" | "CLIENT" | "CHORD" | "INCR" | "DECR" | "INCRBY" | "DECRBY" | "SCAN"
            | "SETEX" | "PSETEX" | "PERSIST" | "TTL" | "PTTL" | "EXPIRETIME" | "PEXPIRETIME"
            | "KEYS" | "TYPE" | "STRLEN" | "SETNX",
            _,
        ) => wrong_arity(name),
        _ => Reply::err(format!(
            "unknown command '{}'; chord speaks a subset of Redis (see docs/protocols.md)",
            name.to_ascii_lowercase()
        )),
    };
    Ok(reply)
}

/// Whether `arg` is `word`, in any case.
fn is(arg: &[u8], word: &str) -> bool {
    arg.eq_ignore_ascii_case(word.as_bytes())
}

fn integer(arg: &[u8]) -> Result<i64, Reply> {
    utf8(arg)?
        .parse()
        .map_err(|_| Reply::err("value is not an integer or out of range"))
}

/// `SCAN cursor [MATCH pattern] [COUNT n]` over the whole ring (see
/// [`crate::dhash::scan`]): the next cursor, and keys.
fn scan(node: &crate::Node, cursor: &[u8], options: &[Vec<u8>]) -> Result<Reply, Reply> {
    let cursor: u64 = utf8(cursor)?
        .parse()
        .map_err(|_| Reply::err("invalid cursor"))?;
    let (mut pattern, mut count) = (None, 10usize);
    for pair in options.chunks(2) {
        match pair {
            [name, value] if is(name, "MATCH") => pattern = Some(value.as_slice()),
            [name, value] if is(name, "COUNT") => {
                count = usize::try_from(integer(value)?)
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| Reply::err("COUNT must be positive"))?;
            }
            _ => {
                return Err(Reply::err(
                    "syntax error: SCAN cursor [MATCH pattern] [COUNT n]",
                ))
            }
        }
    }
    let reply = match node.keys().scan(cursor, count, pattern) {
        Ok((next, keys)) => Reply::Array(vec![
            Reply::text(next.to_string()),
            Reply::Array(keys.into_iter().map(Reply::text).collect()),
        ]),
        Err(e) => error(&e),
    };
    Ok(reply)
}

/// `INCR` and its kin: the owner adds `by` atomically; the new value.
fn increment(node: &crate::Node, key: &[u8], by: i64) -> Result<Reply, Reply> {
    let reply = match node.keys().increment(utf8(key)?, by) {
        Ok(sum) => Reply::Integer(sum),
        Err(Error::Rejected(why)) => Reply::err(why),
        Err(e) => error(&e),
    };
    Ok(reply)
}

/// `CHORD LOOKUP key`, `CHORD RING`, `CHORD NODE`, `CHORD FINGERS`: the
/// text protocol's lines, as an array; `CHORD COUNT`: the ring's keys, each
/// counted once.
fn chord(shared: &Shared, sub: &str, args: &[Vec<u8>]) -> Result<Reply, Reply> {
    let node = &shared.node;
    let lines = |lines: Vec<String>| Reply::Array(lines.into_iter().map(Reply::text).collect());
    let reply = match (sub.to_ascii_uppercase().as_str(), args) {
        ("LOOKUP", [key]) => match node.lookup(utf8(key)?) {
            Ok((id, lookup)) => lines(vec![text::lookup_line(
                &id,
                &lookup,
                node.config().replicas,
            )]),
            Err(e) => error(&e),
        },
        ("RING", []) => match node.walk_ring(RING_LIMIT) {
            Ok(entries) => lines(entries.iter().map(|e| text::ring_line(e, false)).collect()),
            Err(e) => error(&e),
        },
        ("COUNT", []) => match node.walk_ring(RING_LIMIT) {
            Ok(entries) => Reply::Integer(
                entries
                    .iter()
                    .map(|e| e.owned)
                    .sum::<u64>()
                    .try_into()
                    .unwrap_or(i64::MAX),
            ),
            Err(e) => error(&e),
        },
        ("NODE", []) => lines(text::node_lines(&node.view(), false)),
        ("FINGERS", []) => lines(text::finger_lines(&node.view(), false)),
        _ => Reply::err("CHORD takes LOOKUP <key>, RING, COUNT, NODE or FINGERS"),
    };
    Ok(reply)
}

/// `INFO`: the usual sections, as far as they mean something here, and a
/// `chord` section.
fn info(shared: &Shared) -> String {
    let node = &shared.node;
    let view = node.view();
    let held = node.store_usage();
    let id = |n: &crate::id::NodeRef| format!("{}@{}", n.id, n.addr);
    let successors: Vec<String> = view.successors.iter().map(id).collect();
    let fingers_set = view.fingers.iter().filter(|(_, _, n)| n.is_some()).count();
    let mut text = String::new();
    text += "# Server\r\nredis_version:7.0.0\r\n";
    text += &format!("chord_version:{}\r\n", env!("CARGO_PKG_VERSION"));
    text += &format!(
        "tcp_port:{}\r\n",
        node.me().addr.rsplit(':').next().unwrap_or("")
    );
    text += "\r\n# Clients\r\n";
    text += &format!(
        "connected_clients:{}\r\n",
        shared
            .text_clients
            .load(std::sync::atomic::Ordering::Relaxed)
    );
    text += "\r\n# Memory\r\n";
    text += &format!("used_memory:{}\r\nmaxmemory:{}\r\n", held.bytes, held.limit);
    text += "\r\n# Keyspace\r\n";
    text += &format!("db0:keys={},expires={}\r\n", held.keys, held.expiring);
    text += "\r\n# Chord\r\n";
    text += &format!("id:{}\r\n", view.me.id);
    text += &format!("address:{}\r\n", view.me.addr);
    text += &format!(
        "predecessor:{}\r\n",
        view.predecessor.as_ref().map_or("none".to_string(), id)
    );
    text += &format!("successors:{}\r\n", successors.join(","));
    text += &format!("fingers_set:{fingers_set}\r\n");
    text += &format!("keys_held:{}\r\n", view.keys);
    text
}
