//! The Redis commands chord serves: a request's arguments parse into the
//! one [`Command`] every protocol shares; its answer is worded as Redis
//! words it in `resp/answer.rs` ([`super::format`]).
//!
//! What is served, and what is not yet (each refusal says so):
//! - `PING`, `ECHO`, `GET`, `SET key value [NX|XX] [EX s|PX ms|EXAT
//!   unix-s|PXAT unix-ms|KEEPTTL]`, `SETNX`, `SETEX`, `PSETEX`, `MGET`,
//!   `MSET`, `DEL`/`UNLINK` and `EXISTS` of many keys, `INCR`, `INCRBY`,
//!   `DECR`, `DECRBY`, `STRLEN`, `TYPE`, `APPEND`, `SETRANGE`, `GETRANGE`,
//!   `INCRBYFLOAT`, `GETEX`, `TOUCH`, `TIME`, `GETSET`, `GETDEL`, `SET ...
//!   GET` (with `NX` and `XX` too), `SETBIT`, `GETBIT`, `BITCOUNT`,
//!   `BITPOS`, `LCS` (not `IDX`), `RANDOMKEY`;
//! - expiry: `EXPIRE`, `PEXPIRE`, `EXPIREAT`, `PEXPIREAT` (with `NX`, `XX`,
//!   `GT`, `LT`, as Redis combines them), `PERSIST`, `TTL`, `PTTL`, `EXPIRETIME`,
//!   `PEXPIRETIME`; `INCR` keeps a key's expiry, `SET` and `MSET` clear it,
//!   as in Redis;
//! - the keyspace: `KEYS pattern` (refused past [`crate::command::KEYS_LIMIT`] matches:
//!   `SCAN` lists any number), `SCAN cursor [MATCH pattern] [COUNT n] [TYPE t]` over
//!   the whole ring, owner by owner in identifier order
//!   ([`crate::dhash::scan`]), `DBSIZE` (the keys this node holds, its own
//!   and its replica copies; the ring's total is `CHORD COUNT`);
//! - the connection and the server: `AUTH`, `HELLO` (RESP2 or RESP3, with
//!   `AUTH` and `SETNAME`), `SELECT 0`, `CLIENT SETNAME`/`GETNAME`/`ID`/`LIST`/
//!   `INFO`/`SETINFO`, `INFO [section...]`, `COMMAND` (answered empty,
//!   enough for redis-cli to start), `CONFIG GET`, `CONFIG SET maxmemory`,
//!   `CONFIG RESETSTAT`, `QUIT`;
//! - Redis Cluster's discovery: `CLUSTER SLOTS`, `CLUSTER NODES`, `CLUSTER
//!   INFO`, `CLUSTER MYID`, `CLUSTER KEYSLOT`, and `READONLY`, `READWRITE`
//!   and `ASKING` (answered OK): a cluster client sends each key to the node
//!   serving its slot, and any node still serves any key (no `MOVED`);
//! - the ring: `CHORD LOOKUP key`, `CHORD RING`, `CHORD NODE`, `CHORD
//!   FINGERS`, `CHORD STATS`, each an array of the text protocol's lines,
//!   and `CHORD COUNT`;
//! - keys, patterns and names are UTF-8 text; values are any bytes;
//! - `FLUSHALL` and `FLUSHDB` clear the whole ring ([`crate::dhash`]'s
//!   `flush.rs`), unless the node was started with `--no-flushall`;
//! - not yet: `SET ... IFEQ`, `BITOP`, `BITFIELD`, the
//!   commands that write several keys but `MSET` and `DEL`, transactions.

use super::words::{arity, is, syntax, Parsed};
use crate::command::{Command, Refusal, SetExpiry, SetReply, TtlForm, Unit, When};
use crate::message::ExpireIf;
use crate::store::{MAX_FLOAT_TEXT, MAX_VALUE};

/// Parses a request's arguments, the command's name first.
///
/// # Errors
/// A [`Refusal::Usage`] naming what is wrong: an unknown command, a wrong
/// number of arguments, an option or a number that does not parse.
pub fn parse(mut args: Vec<Vec<u8>>) -> Parsed {
    let typed = if args.is_empty() {
        Vec::new()
    } else {
        args.remove(0)
    };
    let name = String::from_utf8_lossy(&typed).to_ascii_uppercase();
    parse_named(&typed, &name, args)
}

/// Redis's words for a command it does not know: the name as typed and
/// the first arguments, each quoted, up to 128 bytes.
fn unknown(typed: &[u8], args: &[Vec<u8>]) -> Refusal {
    let mut shown = String::new();
    for arg in args {
        if shown.len() >= 128 {
            break;
        }
        let room = 128 - shown.len();
        let arg = String::from_utf8_lossy(&arg[..arg.len().min(room)]).into_owned();
        shown += &format!("'{arg}' ");
    }
    let typed = String::from_utf8_lossy(&typed[..typed.len().min(128)]).into_owned();
    Refusal::Unknown(format!(
        "unknown command '{typed}', with args beginning with: {shown}"
    ))
}

fn parse_named(typed: &[u8], name: &str, mut args: Vec<Vec<u8>>) -> Parsed {
    // Arguments are moved into the command, never copied: a value may be
    // 64 KiB, and a key is copied once more into the store.
    let one_key = |args: Vec<Vec<u8>>| match <[Vec<u8>; 1]>::try_from(args) {
        Ok([key]) => Ok(key),
        Err(_) => Err(arity(name)),
    };
    let command = match name {
        "GET" => Command::Get {
            key: one_key(args)?,
        },
        "SET" if args.len() >= 2 => {
            let options = args.split_off(2);
            let [key, value] = pair(args);
            set("set", key, value, &options, SetReply::Ok)?
        }
        "SETNX" if args.len() == 2 => {
            let [key, value] = pair(args);
            set("setnx", key, value, &[b"NX".to_vec()], SetReply::Integer)?
        }
        "SETEX" | "PSETEX" if args.len() == 3 => {
            let value = args.pop().unwrap_or_default();
            let [key, time] = pair(args);
            let (command, unit) = if name == "SETEX" {
                ("setex", "EX")
            } else {
                ("psetex", "PX")
            };
            set(command, key, value, &[unit.into(), time], SetReply::Ok)?
        }
        "SET" | "SETNX" | "SETEX" | "PSETEX" => return Err(arity(name)),
        "GETSET" if args.len() == 2 => {
            let [key, value] = pair(args);
            Command::Swap {
                key,
                value: Some(value),
                only_if_exists: None,
                expiry: SetExpiry::Clear,
            }
        }
        "GETDEL" => Command::Swap {
            key: one_key(args)?,
            value: None,
            only_if_exists: None,
            expiry: SetExpiry::Clear,
        },
        "GETSET" => return Err(arity(name)),
        "DEL" | "UNLINK" => Command::Delete {
            keys: some_keys(name, args)?,
        },
        "EXISTS" => Command::Exists {
            keys: some_keys(name, args)?,
        },
        "MGET" => Command::GetMany {
            keys: some_keys(name, args)?,
        },
        "MSET" if !args.is_empty() && args.len().is_multiple_of(2) => {
            let mut pairs = Vec::with_capacity(args.len() / 2);
            let mut args = args.into_iter();
            while let (Some(key), Some(value)) = (args.next(), args.next()) {
                pairs.push((key, value));
            }
            Command::SetMany { pairs }
        }
        "MSET" => return Err(arity(name)),
        "INCR" | "DECR" | "INCRBY" | "DECRBY" => increment(name, &args)?,
        "EXPIRE" | "PEXPIRE" | "EXPIREAT" | "PEXPIREAT" => expire(name, &args)?,
        "PERSIST" => Command::Persist {
            key: one_key(args)?,
        },
        "TTL" | "PTTL" | "EXPIRETIME" | "PEXPIRETIME" => Command::Ttl {
            key: one_key(args)?,
            form: TtlForm {
                unit: if name.starts_with('P') {
                    Unit::Millis
                } else {
                    Unit::Seconds
                },
                absolute: name.ends_with("TIME"),
            },
        },
        "GETEX" if !args.is_empty() => {
            let options = args.split_off(1);
            getex(&args[0], &options)?
        }
        "APPEND" if args.len() == 2 => {
            let [key, value] = pair(args);
            if value.len() > MAX_VALUE {
                return Err(too_big());
            }
            Command::Append {
                key: key.to_vec(),
                value,
            }
        }
        "SETRANGE" if args.len() == 3 => {
            let value = args.pop().unwrap_or_default();
            let [key, offset] = pair(args);
            let offset = u64::try_from(integer(&offset)?)
                .map_err(|_| Refusal::Usage("offset is out of range".into()))?;
            let end = usize::try_from(offset)
                .ok()
                .and_then(|o| o.checked_add(value.len()));
            if !value.is_empty() && end.is_none_or(|end| end > MAX_VALUE) {
                return Err(too_big());
            }
            Command::SetRange {
                key: key.to_vec(),
                offset,
                value,
            }
        }
        "GETRANGE" | "SUBSTR" => match args.as_slice() {
            [key, start, end] => Command::GetRange {
                key: key.to_vec(),
                start: integer(start)?,
                end: integer(end)?,
            },
            _ => return Err(arity(name)),
        },
        "INCRBYFLOAT" => match args.as_slice() {
            [key, by] if by.len() <= MAX_FLOAT_TEXT && crate::store::float(by).is_some() => {
                Command::IncrementFloat {
                    key: key.to_vec(),
                    by: by.clone(),
                }
            }
            [_, _] => return Err(Refusal::Usage("value is not a valid float".into())),
            _ => return Err(arity(name)),
        },
        "GETBIT" => match args.as_slice() {
            [key, offset] => Command::GetBit {
                key: key.to_vec(),
                offset: bit_offset(offset)?,
            },
            _ => return Err(arity(name)),
        },
        "SETBIT" => match args.as_slice() {
            [key, offset, on] => Command::SetBit {
                key: key.to_vec(),
                offset: bit_offset(offset)?,
                on: match on.as_slice() {
                    b"0" => false,
                    b"1" => true,
                    _ => {
                        return Err(Refusal::Usage(
                            "bit is not an integer or out of range".into(),
                        ))
                    }
                },
            },
            _ => return Err(arity(name)),
        },
        "BITCOUNT" => match args.as_slice() {
            [key] => Command::BitCount {
                key: key.to_vec(),
                range: None,
                bits: false,
            },
            [key, start, end, unit @ ..] if unit.len() <= 1 => Command::BitCount {
                key: key.to_vec(),
                range: Some((integer(start)?, integer(end)?)),
                bits: bit_unit(unit.first())?,
            },
            [] => return Err(arity(name)),
            _ => return Err(syntax()),
        },
        "BITPOS" => match args.as_slice() {
            [key, on, rest @ ..] if rest.len() <= 3 => {
                let on = match integer(on)? {
                    0 => false,
                    1 => true,
                    _ => return Err(Refusal::Usage("The bit argument must be 1 or 0.".into())),
                };
                let start = rest.first().map(|s| integer(s)).transpose()?;
                let end = rest.get(1).map(|e| integer(e)).transpose()?;
                Command::BitPos {
                    key: key.to_vec(),
                    on,
                    start,
                    end,
                    bits: bit_unit(rest.get(2))?,
                }
            }
            [_, _, ..] => return Err(syntax()),
            _ => return Err(arity(name)),
        },
        "LCS" => match args.as_slice() {
            [a, b, options @ ..] => {
                let len = match options {
                    [] => false,
                    [option] if is(option, "LEN") => true,
                    [option, ..] if is(option, "IDX") || options.iter().any(|o| is(o, "IDX")) => {
                        return Err(Refusal::Usage(
                            "LCS option IDX is not supported by chord yet".into(),
                        ))
                    }
                    _ => return Err(syntax()),
                };
                Command::Lcs {
                    keys: [a.to_vec(), b.to_vec()],
                    len,
                }
            }
            _ => return Err(arity(name)),
        },
        "RANDOMKEY" if args.is_empty() => Command::RandomKey,
        "RANDOMKEY" => return Err(arity(name)),
        "TOUCH" => Command::Touch {
            keys: some_keys(name, args)?,
        },
        "TIME" if args.is_empty() => Command::Time,
        "GETEX" | "APPEND" | "SETRANGE" | "TIME" => return Err(arity(name)),
        "TYPE" => Command::Type {
            key: one_key(args)?,
        },
        "STRLEN" => Command::Strlen {
            key: one_key(args)?,
        },
        "KEYS" => match <[Vec<u8>; 1]>::try_from(args) {
            Ok([pattern]) => Command::Keys {
                pattern: Some(pattern),
            },
            Err(_) => return Err(arity(name)),
        },
        "SCAN" => scan(&args)?,
        "DBSIZE" if args.is_empty() => Command::DbSize,
        "MSETNX" if !args.is_empty() && args.len().is_multiple_of(2) => {
            let mut pairs = Vec::with_capacity(args.len() / 2);
            let mut args = args.into_iter();
            while let (Some(key), Some(value)) = (args.next(), args.next()) {
                pairs.push((key, value));
            }
            Command::SetIfNone { pairs }
        }
        "RENAME" | "RENAMENX" if args.len() == 2 => {
            let [from, to] = pair(args);
            Command::Rename {
                from,
                to,
                only_if_absent: name == "RENAMENX",
            }
        }
        "COPY" if args.len() >= 2 => copy(args)?,
        "MULTI" if args.is_empty() => Command::Multi,
        "EXEC" if args.is_empty() => Command::Exec,
        "DISCARD" if args.is_empty() => Command::Discard,
        "WATCH" if !args.is_empty() => Command::Watch,
        "UNWATCH" if args.is_empty() => Command::Unwatch,
        "MSETNX" | "RENAME" | "RENAMENX" | "COPY" | "MULTI" | "EXEC" | "DISCARD" | "WATCH"
        | "UNWATCH" => return Err(arity(name)),
        "FLUSHALL" | "FLUSHDB" => match args.as_slice() {
            [] => Command::FlushAll,
            [mode] if mode.eq_ignore_ascii_case(b"ASYNC") || mode.eq_ignore_ascii_case(b"SYNC") => {
                Command::FlushAll
            }
            [_] => return Err(syntax()),
            _ => return Err(arity(name)),
        },
        "INFO" => Command::Info {
            sections: args
                .iter()
                .map(|s| String::from_utf8_lossy(s).to_ascii_lowercase())
                .collect(),
        },
        "PING" => match <[Vec<u8>; 1]>::try_from(args) {
            Ok([message]) => Command::Ping {
                message: Some(message),
            },
            Err(args) if args.is_empty() => Command::Ping { message: None },
            Err(_) => return Err(arity(name)),
        },
        "ECHO" => match <[Vec<u8>; 1]>::try_from(args) {
            Ok([message]) => Command::Echo { message },
            Err(_) => return Err(arity(name)),
        },
        // AUTH password, or AUTH user password (the user is ignored).
        "AUTH" => match args.as_slice() {
            [.., password] if args.len() <= 2 => Command::Auth {
                password: String::from_utf8_lossy(password).into_owned(),
            },
            _ => return Err(arity(name)),
        },
        "HELLO" => super::admin::hello(&args)?,
        "SELECT" => Command::Select {
            db: String::from_utf8_lossy(&single(name, args)?).into_owned(),
        },
        "CLIENT" => super::admin::client(&args)?,
        "COMMAND" => Command::Introspect {
            count: args.first().is_some_and(|sub| is(sub, "COUNT")),
        },
        "CONFIG" => super::admin::config(&args)?,
        "CHORD" => super::admin::chord(&args)?,
        "CLUSTER" => super::admin::cluster(&args)?,
        "READONLY" | "READWRITE" | "ASKING" if args.is_empty() => Command::ClusterMode,
        "READONLY" | "READWRITE" | "ASKING" => return Err(arity(name)),
        "QUIT" => Command::Quit,
        "DBSIZE" => return Err(arity(name)),
        _ => return Err(unknown(typed, &args)),
    };
    Ok(command)
}

/// The two arguments of `args`, which holds two.
fn pair(args: Vec<Vec<u8>>) -> [Vec<u8>; 2] {
    let mut args = args.into_iter();
    [
        args.next().unwrap_or_default(),
        args.next().unwrap_or_default(),
    ]
}

/// The one argument of a command that takes one.
fn single(name: &str, args: Vec<Vec<u8>>) -> Result<Vec<u8>, Refusal> {
    <[Vec<u8>; 1]>::try_from(args)
        .map(|[arg]| arg)
        .map_err(|_| arity(name))
}

/// `COPY source destination [DB destination-db] [REPLACE]`: the ring has
/// database 0 only.
fn copy(args: Vec<Vec<u8>>) -> Parsed {
    let mut args = args.into_iter();
    let (Some(from), Some(to)) = (args.next(), args.next()) else {
        return Err(arity("COPY"));
    };
    let mut replace = false;
    while let Some(option) = args.next() {
        if is(&option, "REPLACE") {
            replace = true;
        } else if is(&option, "DB") {
            match args.next() {
                Some(db) if db == b"0" => {}
                Some(_) => return Err(Refusal::Usage("DB index is out of range".into())),
                None => return Err(syntax()),
            }
        } else {
            return Err(syntax());
        }
    }
    if from == to {
        return Err(Refusal::Usage(
            "source and destination objects are the same".into(),
        ));
    }
    Ok(Command::Copy { from, to, replace })
}

/// One key or more.
fn some_keys(name: &str, args: Vec<Vec<u8>>) -> Result<Vec<Vec<u8>>, Refusal> {
    if args.is_empty() {
        return Err(arity(name));
    }
    Ok(args)
}

fn integer(arg: &[u8]) -> Result<i64, Refusal> {
    crate::store::integer(arg)
        .ok_or_else(|| Refusal::Usage("value is not an integer or out of range".into()))
}

/// `SET key value [NX|XX] [EX s|PX ms|EXAT unix-s|PXAT unix-ms|KEEPTTL]`,
/// and the commands that are a `SET` with options (`command`).
fn set(
    command: &'static str,
    key: Vec<u8>,
    value: Vec<u8>,
    options: &[Vec<u8>],
    reply: SetReply,
) -> Parsed {
    let (mut only_if_exists, mut expiry, mut get) = (None, None, false);
    let mut rest = options.iter();
    while let Some(option) = rest.next() {
        let word = String::from_utf8_lossy(option).to_ascii_uppercase();
        match word.as_str() {
            "NX" | "XX" if only_if_exists.is_none() => only_if_exists = Some(word == "XX"),
            "KEEPTTL" if expiry.is_none() => expiry = Some(SetExpiry::Keep),
            "EX" | "PX" | "EXAT" | "PXAT" if expiry.is_none() => {
                let amount = integer(rest.next().ok_or_else(syntax)?)?;
                if amount <= 0 {
                    return Err(Refusal::BadTime { command });
                }
                expiry = Some(SetExpiry::At(when(command, &word, amount)));
            }
            "GET" if !get => get = true,
            "IFEQ" => {
                return Err(Refusal::Usage(
                    "SET option IFEQ is not supported by chord yet".into(),
                ))
            }
            _ => return Err(syntax()),
        }
    }
    if get {
        return Ok(Command::Swap {
            key,
            value: Some(value),
            only_if_exists,
            expiry: expiry.unwrap_or(SetExpiry::Clear),
        });
    }
    Ok(Command::Set {
        key,
        value,
        only_if_exists,
        expiry: expiry.unwrap_or(SetExpiry::Clear),
        reply,
    })
}

/// A time in `unit` given to `command`: `EX`/`PX` from now,
/// `EXAT`/`PXAT` from the epoch.
fn when(command: &'static str, unit: &str, amount: i64) -> When {
    When {
        command,
        amount,
        unit: if unit.starts_with('P') {
            Unit::Millis
        } else {
            Unit::Seconds
        },
        absolute: unit.ends_with("AT"),
    }
}

/// A bit offset, as Redis takes one: 0 to 2^32 - 1.
fn bit_offset(arg: &[u8]) -> Result<u64, Refusal> {
    crate::store::integer(arg)
        .and_then(|n| u64::try_from(n).ok())
        .filter(|&n| n < 1 << 32)
        .ok_or_else(|| Refusal::Usage("bit offset is not an integer or out of range".into()))
}

/// `BYTE` (or none) or `BIT`: whether a range counts bits.
fn bit_unit(arg: Option<&Vec<u8>>) -> Result<bool, Refusal> {
    match arg {
        None => Ok(false),
        Some(unit) if is(unit, "BYTE") => Ok(false),
        Some(unit) if is(unit, "BIT") => Ok(true),
        Some(_) => Err(syntax()),
    }
}

/// Redis's words for a value longer than the store takes.
fn too_big() -> Refusal {
    Refusal::Usage("string exceeds maximum allowed size (proto-max-bulk-len)".into())
}

/// `GETEX key [EX s|PX ms|EXAT unix-s|PXAT unix-ms|PERSIST]`.
fn getex(key: &[u8], options: &[Vec<u8>]) -> Parsed {
    let word = |arg: &Vec<u8>| String::from_utf8_lossy(arg).to_ascii_uppercase();
    let change = match options {
        [] => None,
        [persist] if word(persist) == "PERSIST" => Some(None),
        [unit, amount] if matches!(word(unit).as_str(), "EX" | "PX" | "EXAT" | "PXAT") => {
            let amount = integer(amount)?;
            if amount <= 0 {
                return Err(Refusal::BadTime { command: "getex" });
            }
            Some(Some(when("getex", &word(unit), amount)))
        }
        _ => return Err(syntax()),
    };
    Ok(Command::GetEx {
        key: key.to_vec(),
        change,
    })
}

/// `INCR key`, `DECR key`, `INCRBY key n`, `DECRBY key n`.
fn increment(name: &str, args: &[Vec<u8>]) -> Parsed {
    let (key, by) = match (name, args) {
        ("INCR", [key]) => (key, 1),
        ("DECR", [key]) => (key, -1),
        ("INCRBY", [key, by]) => (key, integer(by)?),
        ("DECRBY", [key, by]) => (
            key,
            integer(by)?
                .checked_neg()
                .ok_or_else(|| Refusal::Usage("decrement would overflow".into()))?,
        ),
        _ => return Err(arity(name)),
    };
    Ok(Command::Increment {
        key: key.to_vec(),
        by,
    })
}

/// `EXPIRE key seconds [NX|XX|GT|LT]`, `PEXPIRE key ms`, `EXPIREAT key
/// unix-s`, `PEXPIREAT key unix-ms`.
fn expire(name: &str, args: &[Vec<u8>]) -> Parsed {
    let [key, amount, options @ ..] = args else {
        return Err(arity(name));
    };
    let only = expire_condition(options)?;
    let (command, unit) = match name {
        "EXPIRE" => ("expire", "EX"),
        "PEXPIRE" => ("pexpire", "PX"),
        "EXPIREAT" => ("expireat", "EXAT"),
        _ => ("pexpireat", "PXAT"),
    };
    Ok(Command::Expire {
        key: key.to_vec(),
        when: when(command, unit, integer(amount)?),
        only,
    })
}

/// The condition of `EXPIRE`'s options, any of `NX`, `XX`, `GT` and
/// `LT`, checked as Redis 7.0 checks them.
fn expire_condition(options: &[Vec<u8>]) -> Result<Option<ExpireIf>, Refusal> {
    let (mut nx, mut xx, mut gt, mut lt) = (false, false, false, false);
    for option in options {
        match String::from_utf8_lossy(option)
            .to_ascii_uppercase()
            .as_str()
        {
            "NX" => nx = true,
            "XX" => xx = true,
            "GT" => gt = true,
            "LT" => lt = true,
            _ => {
                return Err(Refusal::Usage(format!(
                    "Unsupported option {}",
                    String::from_utf8_lossy(option)
                )))
            }
        }
    }
    if nx && (xx || gt || lt) {
        return Err(Refusal::Usage(
            "NX and XX, GT or LT options at the same time are not compatible".into(),
        ));
    }
    if gt && lt {
        return Err(Refusal::Usage(
            "GT and LT options at the same time are not compatible".into(),
        ));
    }
    Ok(match (nx, xx, gt, lt) {
        (true, ..) => Some(ExpireIf::None),
        (_, _, true, _) => Some(ExpireIf::Later),
        (_, true, _, true) => Some(ExpireIf::SomeAndEarlier),
        (_, _, _, true) => Some(ExpireIf::Earlier),
        (_, true, _, _) => Some(ExpireIf::Some),
        _ => None,
    })
}

/// `SCAN cursor [MATCH pattern] [COUNT n] [TYPE type]`.
fn scan(args: &[Vec<u8>]) -> Parsed {
    let [cursor, options @ ..] = args else {
        return Err(arity("SCAN"));
    };
    let cursor = std::str::from_utf8(cursor)
        .ok()
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| Refusal::Usage("invalid cursor".into()))?;
    let (mut pattern, mut count, mut strings) = (None, 10usize, true);
    for pair in options.chunks(2) {
        match pair {
            [name, value] if is(name, "MATCH") => pattern = Some(value.clone()),
            // Every key is a string: another type matches none.
            [name, value] if is(name, "TYPE") => strings = is(value, "string"),
            [name, value] if is(name, "COUNT") => {
                count = usize::try_from(integer(value)?)
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| Refusal::Usage("COUNT must be positive".into()))?;
            }
            _ => return Err(syntax()),
        }
    }
    Ok(Command::Scan {
        cursor,
        pattern,
        count,
        strings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(words: &[&str]) -> Parsed {
        parse(words.iter().map(|w| w.as_bytes().to_vec()).collect())
    }

    fn refusal(words: &[&str]) -> String {
        match parsed(words) {
            Err(why) => why.text(),
            Ok(command) => panic!("{words:?} parsed as {command:?}"),
        }
    }

    #[test]
    fn the_set_family_parses_into_one_set() {
        let set = |value: &str, only_if_exists, expiry, reply| Command::Set {
            key: "k".into(),
            value: value.as_bytes().to_vec(),
            only_if_exists,
            expiry,
            reply,
        };
        let in_seconds = |command, amount| {
            SetExpiry::At(When {
                amount,
                unit: Unit::Seconds,
                absolute: false,
                command,
            })
        };
        assert_eq!(
            parsed(&["set", "k", "v"]).unwrap(),
            set("v", None, SetExpiry::Clear, SetReply::Ok)
        );
        assert_eq!(
            parsed(&["SET", "k", "v", "xx", "EX", "10"]).unwrap(),
            set("v", Some(true), in_seconds("set", 10), SetReply::Ok)
        );
        assert_eq!(
            parsed(&["SETEX", "k", "10", "v"]).unwrap(),
            set("v", None, in_seconds("setex", 10), SetReply::Ok)
        );
        assert_eq!(
            parsed(&["SETNX", "k", "v"]).unwrap(),
            set("v", Some(false), SetExpiry::Clear, SetReply::Integer)
        );
        assert_eq!(
            parsed(&["MSET", "a", "1", "b", "2"]).unwrap(),
            Command::SetMany {
                pairs: vec![("a".into(), b"1".to_vec()), ("b".into(), b"2".to_vec())]
            }
        );
    }

    #[test]
    fn each_refusal_names_what_is_wrong() {
        assert_eq!(
            refusal(&["GET"]),
            "wrong number of arguments for 'get' command"
        );
        assert_eq!(
            refusal(&["SETEX", "k", "v"]),
            "wrong number of arguments for 'setex' command"
        );
        assert_eq!(
            refusal(&["MSET", "a", "1", "b"]),
            "wrong number of arguments for 'mset' command"
        );
        assert_eq!(refusal(&["SET", "k", "v", "NX", "XX"]), "syntax error");
        assert_eq!(
            refusal(&["SET", "k", "v", "EX", "0"]),
            "invalid expire time in 'set' command"
        );
        assert!(refusal(&["SET", "k", "v", "IFEQ", "w"]).contains("IFEQ"));
        assert!(refusal(&["INCRBY", "k", "x"]).contains("not an integer"));
        for not_redis_integers in ["+1", "01", "-0", " 1"] {
            assert!(refusal(&["INCRBY", "k", not_redis_integers]).contains("not an integer"));
        }
        assert_eq!(
            refusal(&["SETEX", "k", "0", "v"]),
            "invalid expire time in 'setex' command"
        );
        assert_eq!(
            refusal(&["EXPIRE", "k", "1", "FOO"]),
            "Unsupported option FOO"
        );
        assert_eq!(
            refusal(&["Frob", "now"]),
            "unknown command 'Frob', with args beginning with: 'now' "
        );
        assert_eq!(refusal(&["FLUSHALL", "later"]), "syntax error");
        assert_eq!(
            refusal(&[]),
            "unknown command '', with args beginning with: "
        );
    }
}
