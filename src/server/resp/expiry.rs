//! Key expiry over RESP: `SET`'s options (`EX`, `PX`, `EXAT`, `PXAT`,
//! `KEEPTTL`, with `NX` and `XX`), `SETEX`, `PSETEX`, the `EXPIRE` family,
//! `PERSIST`, `TTL`, `PTTL`, `EXPIRETIME` and `PEXPIRETIME`, with Redis's
//! replies. A time given relative to now is made absolute here, by this
//! node's clock, and travels with the value as microseconds since the Unix
//! epoch; how nodes read it is in [`crate::dhash::kv`].

use super::{error, integer, utf8, wrong_arity};
use crate::message::{ExpireIf, Expiry, Update};
use crate::resp::Reply;
use crate::store::{expiry_time, SECOND};
use crate::Node;

/// Microseconds in a millisecond.
const MILLI: u64 = 1_000;

/// `SET key value [NX|XX] [EX s|PX ms|EXAT unix-s|PXAT unix-ms|KEEPTTL]`.
/// A plain write, with or without an expiry, goes the way every write
/// goes; `NX`, `XX` and `KEEPTTL` need the value held, so the owner
/// applies them ([`Update::Set`]).
pub(super) fn set(
    node: &Node,
    key: &[u8],
    value: &[u8],
    options: &[Vec<u8>],
) -> Result<Reply, Reply> {
    let (mut exists, mut expiry) = (None, None);
    let mut rest = options.iter();
    while let Some(option) = rest.next() {
        let word = String::from_utf8_lossy(option).to_ascii_uppercase();
        match word.as_str() {
            "NX" | "XX" if exists.is_none() => exists = Some(word == "XX"),
            "KEEPTTL" if expiry.is_none() => expiry = Some(Expiry::Keep),
            "EX" | "PX" | "EXAT" | "PXAT" if expiry.is_none() => {
                let amount = integer(rest.next().ok_or_else(syntax)?)?;
                if amount <= 0 {
                    return Err(Reply::err("invalid expire time in 'set' command"));
                }
                expiry = Some(Expiry::At(time(node, &word, amount, "set")?));
            }
            "GET" | "IFEQ" => {
                return Err(Reply::err(format!(
                    "SET option {word} is not supported by chord yet"
                )))
            }
            _ => return Err(syntax()),
        }
    }
    let key = utf8(key)?;
    let reply = match (exists, expiry.unwrap_or(Expiry::Clear)) {
        (None, Expiry::Clear) => node.put(key, value).map(|()| Reply::ok()),
        (None, Expiry::At(at)) => node
            .keys()
            .put_expiring(key, value, Some(at))
            .map(|()| Reply::ok()),
        (exists, expiry) => {
            let update = Update::Set {
                value: value.to_vec(),
                exists,
                expiry,
            };
            node.keys()
                .update(key, &update)
                .map(|written| written.map_or(Reply::Bulk(None), |_| Reply::ok()))
        }
    };
    Ok(reply.unwrap_or_else(|e| error(&e)))
}

/// `EXPIRE key seconds [NX|XX|GT|LT]`, `PEXPIRE key ms`, `EXPIREAT key
/// unix-s`, `PEXPIREAT key unix-ms`: 1 if the key has a value, the
/// condition holds ([`ExpireIf`]) and the key now expires then (a time
/// already passed deletes it), else 0.
pub(super) fn expire(node: &Node, name: &str, args: &[Vec<u8>]) -> Result<Reply, Reply> {
    let [key, amount, options @ ..] = args else {
        return Ok(wrong_arity(name));
    };
    let only = match options {
        [] => None,
        [option] => Some(
            match String::from_utf8_lossy(option)
                .to_ascii_uppercase()
                .as_str()
            {
                "NX" => ExpireIf::None,
                "XX" => ExpireIf::Some,
                "GT" => ExpireIf::Later,
                "LT" => ExpireIf::Earlier,
                other => return Err(Reply::err(format!("unsupported option {other}"))),
            },
        ),
        _ => {
            return Err(Reply::err(
                "chord takes one of the options NX, XX, GT and LT, not several",
            ))
        }
    };
    let unit = match name {
        "EXPIRE" => "EX",
        "PEXPIRE" => "PX",
        "EXPIREAT" => "EXAT",
        _ => "PXAT",
    };
    let at = time(node, unit, integer(amount)?, &name.to_ascii_lowercase())?;
    expire_at(node, key, Some(at), only)
}

/// `PERSIST key`: 1 if the key had an expiry and now has none, else 0.
pub(super) fn persist(node: &Node, key: &[u8]) -> Result<Reply, Reply> {
    expire_at(node, key, None, None)
}

/// `TTL`, `PTTL` (what is left, rounded), `EXPIRETIME`, `PEXPIRETIME` (the
/// Unix time): -2 for a key with no value, -1 for one that never expires.
pub(super) fn ttl(node: &Node, name: &str, key: &[u8]) -> Result<Reply, Reply> {
    let entry = match node.keys().get_entry(utf8(key)?) {
        Ok(entry) => entry,
        Err(e) => return Ok(error(&e)),
    };
    let Some(entry) = entry else {
        return Ok(Reply::Integer(-2));
    };
    let Some(at) = entry.expires else {
        return Ok(Reply::Integer(-1));
    };
    let left = at.saturating_sub(now(node));
    let answer = match name {
        "TTL" => left.saturating_add(SECOND / 2) / SECOND,
        "PTTL" => left.saturating_add(MILLI / 2) / MILLI,
        "EXPIRETIME" => at / SECOND,
        _ => at / MILLI,
    };
    Ok(Reply::Integer(i64::try_from(answer).unwrap_or(i64::MAX)))
}

/// [`crate::dhash::Dhash::expire`]: 1 if it changed the key, else 0.
fn expire_at(
    node: &Node,
    key: &[u8],
    at: Option<u64>,
    only: Option<ExpireIf>,
) -> Result<Reply, Reply> {
    Ok(match node.keys().expire(utf8(key)?, at, only) {
        Ok(changed) => Reply::Integer(i64::from(changed)),
        Err(e) => error(&e),
    })
}

/// `amount` in `unit` (`EX`, `PX`: relative to now; `EXAT`, `PXAT`: Unix
/// time) as microseconds since the Unix epoch; a time before the epoch is
/// the epoch, long passed.
fn time(node: &Node, unit: &str, amount: i64, command: &str) -> Result<u64, Reply> {
    let (scale, from) = match unit {
        "EX" => (SECOND, now(node)),
        "PX" => (MILLI, now(node)),
        "EXAT" => (SECOND, 0),
        _ => (MILLI, 0),
    };
    expiry_time(amount, scale, from)
        .ok_or_else(|| Reply::err(format!("invalid expire time in '{command}' command")))
}

fn now(node: &Node) -> u64 {
    node.config().clock.now_micros()
}

fn syntax() -> Reply {
    Reply::err("syntax error")
}
