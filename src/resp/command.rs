//! The Redis commands chord serves: a request's arguments parse into the
//! one [`Command`] every protocol shares, and its [`Answer`] is worded as
//! Redis words it ([`format()`]).
//!
//! What is served, and what is not yet (each refusal says so):
//! - `PING`, `ECHO`, `GET`, `SET key value [NX|XX] [EX s|PX ms|EXAT
//!   unix-s|PXAT unix-ms|KEEPTTL]`, `SETNX`, `SETEX`, `PSETEX`, `MGET`,
//!   `MSET`, `DEL`/`UNLINK` and `EXISTS` of many keys, `INCR`, `INCRBY`,
//!   `DECR`, `DECRBY`, `STRLEN`, `TYPE`, `APPEND`, `SETRANGE`, `GETRANGE`,
//!   `INCRBYFLOAT`, `GETEX`, `TOUCH`, `TIME`, `GETSET`, `GETDEL`, and `SET
//!   ... GET` (not yet with `NX` or `XX`);
//! - expiry: `EXPIRE`, `PEXPIRE`, `EXPIREAT`, `PEXPIREAT` (with `NX`, `XX`,
//!   `GT`, `LT`, as Redis combines them), `PERSIST`, `TTL`, `PTTL`, `EXPIRETIME`,
//!   `PEXPIRETIME`; `INCR` keeps a key's expiry, `SET` and `MSET` clear it,
//!   as in Redis;
//! - the keyspace: `KEYS pattern` (refused past [`KEYS_LIMIT`] matches:
//!   `SCAN` lists any number), `SCAN cursor [MATCH pattern] [COUNT n] [TYPE t]` over
//!   the whole ring, owner by owner in identifier order
//!   ([`crate::dhash::scan`]), `DBSIZE` (the keys this node holds, its own
//!   and its replica copies; the ring's total is `CHORD COUNT`);
//! - the connection and the server: `AUTH`, `HELLO` (RESP2 or RESP3, with
//!   `AUTH` and `SETNAME`), `SELECT 0`, `CLIENT SETNAME`/`GETNAME`/`ID`/
//!   `INFO`/`SETINFO`, `INFO [section...]`, `COMMAND` (answered empty,
//!   enough for redis-cli to start), `CONFIG GET`, `CONFIG SET maxmemory`,
//!   `CONFIG RESETSTAT`, `QUIT`;
//! - the ring: `CHORD LOOKUP key`, `CHORD RING`, `CHORD NODE`, `CHORD
//!   FINGERS`, `CHORD STATS`, each an array of the text protocol's lines,
//!   and `CHORD COUNT`;
//! - keys, patterns and names are UTF-8 text; values are any bytes;
//! - not yet: `SET ... GET` with `NX` or `XX`, the bit commands, the
//!   commands over several keys but `MGET`, `MSET`, `DEL`, `EXISTS` and
//!   `TOUCH`, transactions, `FLUSHALL`.

use super::Reply;
use crate::command::{
    Answer, Command, LibInfo, Protocol, Refusal, SetExpiry, SetReply, Ttl, TtlForm, Unit, When,
    KEYS_LIMIT,
};
use crate::error::Error;
use crate::message::ExpireIf;
use crate::store::{MAX_FLOAT_TEXT, MAX_VALUE};

/// A request's command, or why it is none.
type Parsed = Result<Command, Refusal>;

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
    Refusal::Usage(format!(
        "unknown command '{typed}', with args beginning with: {shown}"
    ))
}

/// The refusal of a request with too few or too many arguments.
fn arity(name: &str) -> Refusal {
    Refusal::Usage(format!(
        "wrong number of arguments for '{}' command",
        name.to_ascii_lowercase()
    ))
}

fn parse_named(typed: &[u8], name: &str, mut args: Vec<Vec<u8>>) -> Parsed {
    let one_key = |args: &[Vec<u8>]| match args {
        [key] => key_text(key),
        _ => Err(arity(name)),
    };
    let command = match name {
        "GET" => Command::Get {
            key: one_key(&args)?,
        },
        // The value is moved into the command, never copied: it may be
        // 64 KiB.
        "SET" if args.len() >= 2 => {
            let options = args.split_off(2);
            let [key, value] = pair(args);
            set("set", &key, value, &options, SetReply::Ok)?
        }
        "SETNX" if args.len() == 2 => {
            let [key, value] = pair(args);
            set("setnx", &key, value, &[b"NX".to_vec()], SetReply::Integer)?
        }
        "SETEX" | "PSETEX" if args.len() == 3 => {
            let value = args.pop().unwrap_or_default();
            let [key, time] = pair(args);
            let (command, unit) = if name == "SETEX" {
                ("setex", "EX")
            } else {
                ("psetex", "PX")
            };
            set(command, &key, value, &[unit.into(), time], SetReply::Ok)?
        }
        "SET" | "SETNX" | "SETEX" | "PSETEX" => return Err(arity(name)),
        "GETSET" if args.len() == 2 => {
            let [key, value] = pair(args);
            Command::Swap {
                key: key_text(&key)?,
                value: Some(value),
                expiry: SetExpiry::Clear,
            }
        }
        "GETDEL" => Command::Swap {
            key: one_key(&args)?,
            value: None,
            expiry: SetExpiry::Clear,
        },
        "GETSET" => return Err(arity(name)),
        "DEL" | "UNLINK" => Command::Delete {
            keys: some_keys(name, &args)?,
        },
        "EXISTS" => Command::Exists {
            keys: some_keys(name, &args)?,
        },
        "MGET" => Command::GetMany {
            keys: some_keys(name, &args)?,
        },
        "MSET" if !args.is_empty() && args.len() % 2 == 0 => {
            let mut pairs = Vec::with_capacity(args.len() / 2);
            let mut args = args.into_iter();
            while let (Some(key), Some(value)) = (args.next(), args.next()) {
                pairs.push((key_text(&key)?, value));
            }
            Command::SetMany { pairs }
        }
        "MSET" => return Err(arity(name)),
        "INCR" | "DECR" | "INCRBY" | "DECRBY" => increment(name, &args)?,
        "EXPIRE" | "PEXPIRE" | "EXPIREAT" | "PEXPIREAT" => expire(name, &args)?,
        "PERSIST" => Command::Persist {
            key: one_key(&args)?,
        },
        "TTL" | "PTTL" | "EXPIRETIME" | "PEXPIRETIME" => Command::Ttl {
            key: one_key(&args)?,
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
                key: key_text(&key)?,
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
                key: key_text(&key)?,
                offset,
                value,
            }
        }
        "GETRANGE" => match args.as_slice() {
            [key, start, end] => Command::GetRange {
                key: key_text(key)?,
                start: integer(start)?,
                end: integer(end)?,
            },
            _ => return Err(arity(name)),
        },
        "INCRBYFLOAT" => match args.as_slice() {
            [key, by] if by.len() <= MAX_FLOAT_TEXT && crate::store::float(by).is_some() => {
                Command::IncrementFloat {
                    key: key_text(key)?,
                    by: by.clone(),
                }
            }
            [_, _] => return Err(Refusal::Usage("value is not a valid float".into())),
            _ => return Err(arity(name)),
        },
        "TOUCH" => Command::Touch {
            keys: some_keys(name, &args)?,
        },
        "TIME" if args.is_empty() => Command::Time,
        "GETEX" | "APPEND" | "SETRANGE" | "TIME" => return Err(arity(name)),
        "TYPE" => Command::Type {
            key: one_key(&args)?,
        },
        "STRLEN" => Command::Strlen {
            key: one_key(&args)?,
        },
        "KEYS" => match <[Vec<u8>; 1]>::try_from(args) {
            Ok([pattern]) => Command::Keys {
                pattern: Some(pattern),
            },
            Err(_) => return Err(arity(name)),
        },
        "SCAN" => scan(&args)?,
        "DBSIZE" if args.is_empty() => Command::DbSize,
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
        "HELLO" => hello(&args)?,
        "SELECT" => Command::Select {
            db: String::from_utf8_lossy(&single(name, args)?).into_owned(),
        },
        "CLIENT" => client(&args)?,
        "COMMAND" => Command::Introspect {
            count: args.first().is_some_and(|sub| is(sub, "COUNT")),
        },
        "CONFIG" => config(&args)?,
        "CHORD" => chord(&args)?,
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

/// A key, a pattern or a name: UTF-8 text. Values are bytes and never
/// pass through here.
fn key_text(arg: &[u8]) -> Result<String, Refusal> {
    String::from_utf8(arg.to_vec())
        .map_err(|_| Refusal::Usage("keys, patterns and names must be UTF-8 text".into()))
}

/// One key or more.
fn some_keys(name: &str, args: &[Vec<u8>]) -> Result<Vec<String>, Refusal> {
    if args.is_empty() {
        return Err(arity(name));
    }
    args.iter().map(|key| key_text(key)).collect()
}

/// Whether `arg` is `word`, in any case.
fn is(arg: &[u8], word: &str) -> bool {
    arg.eq_ignore_ascii_case(word.as_bytes())
}

fn integer(arg: &[u8]) -> Result<i64, Refusal> {
    crate::store::integer(arg)
        .ok_or_else(|| Refusal::Usage("value is not an integer or out of range".into()))
}

fn syntax() -> Refusal {
    Refusal::Usage("syntax error".into())
}

/// `SET key value [NX|XX] [EX s|PX ms|EXAT unix-s|PXAT unix-ms|KEEPTTL]`,
/// and the commands that are a `SET` with options (`command`).
fn set(
    command: &'static str,
    key: &[u8],
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
        if only_if_exists.is_some() {
            return Err(Refusal::Usage(
                "SET with GET and NX or XX is not supported by chord yet".into(),
            ));
        }
        return Ok(Command::Swap {
            key: key_text(key)?,
            value: Some(value),
            expiry: expiry.unwrap_or(SetExpiry::Clear),
        });
    }
    Ok(Command::Set {
        key: key_text(key)?,
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
        key: key_text(key)?,
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
        key: key_text(key)?,
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
        key: key_text(key)?,
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

/// `CLIENT SETNAME name`, `GETNAME`, `ID`, `INFO`, `SETINFO attr value`.
fn client(args: &[Vec<u8>]) -> Parsed {
    let lossy = |arg: &[u8]| String::from_utf8_lossy(arg).into_owned();
    match args {
        [sub, name] if is(sub, "SETNAME") => Ok(Command::SetName { name: lossy(name) }),
        [sub] if is(sub, "GETNAME") => Ok(Command::GetName),
        [sub] if is(sub, "ID") => Ok(Command::ClientId),
        [sub] if is(sub, "INFO") => Ok(Command::ClientInfo),
        [sub, attribute, value] if is(sub, "SETINFO") => {
            let attribute = if is(attribute, "LIB-NAME") {
                LibInfo::Name
            } else if is(attribute, "LIB-VER") {
                LibInfo::Version
            } else {
                return Err(Refusal::Usage(format!(
                    "Unrecognized option '{}'",
                    lossy(attribute)
                )));
            };
            Ok(Command::SetInfo {
                attribute,
                value: lossy(value),
            })
        }
        [sub, ..]
            if ["SETNAME", "GETNAME", "ID", "INFO", "SETINFO"]
                .iter()
                .any(|s| is(sub, s)) =>
        {
            Err(Refusal::Usage(format!(
                "wrong number of arguments for 'client|{}' command",
                lossy(sub).to_ascii_lowercase()
            )))
        }
        [sub, ..] => Err(Refusal::Usage(format!(
            "unknown subcommand '{}'. Try CLIENT HELP.",
            lossy(sub)
        ))),
        [] => Err(arity("CLIENT")),
    }
}

/// `HELLO [protover [AUTH username password] [SETNAME clientname]]`.
fn hello(args: &[Vec<u8>]) -> Parsed {
    let Some((version, mut rest)) = args.split_first() else {
        return Ok(Command::Hello {
            protocol: None,
            password: None,
            name: None,
        });
    };
    let protocol = match crate::store::integer(version) {
        Some(2) => Protocol::Resp2,
        Some(3) => Protocol::Resp3,
        Some(_) => return Err(Refusal::NoProto("unsupported protocol version".into())),
        None => {
            return Err(Refusal::Usage(
                "Protocol version is not an integer or out of range".into(),
            ))
        }
    };
    let (mut password, mut name) = (None, None);
    loop {
        match rest {
            [] => break,
            [option, _user, pass, more @ ..] if is(option, "AUTH") => {
                password = Some(String::from_utf8_lossy(pass).into_owned());
                rest = more;
            }
            [option, client, more @ ..] if is(option, "SETNAME") => {
                name = Some(String::from_utf8_lossy(client).into_owned());
                rest = more;
            }
            [option, ..] => {
                return Err(Refusal::Usage(format!(
                    "Syntax error in HELLO option '{}'",
                    String::from_utf8_lossy(option)
                )))
            }
        }
    }
    Ok(Command::Hello {
        protocol: Some(protocol),
        password,
        name,
    })
}

/// `CONFIG GET pattern...`, `CONFIG SET name value`, `CONFIG RESETSTAT`.
fn config(args: &[Vec<u8>]) -> Parsed {
    let lower = |arg: &[u8]| String::from_utf8_lossy(arg).to_ascii_lowercase();
    match args {
        [sub, patterns @ ..] if is(sub, "GET") && !patterns.is_empty() => Ok(Command::ConfigGet {
            patterns: patterns.iter().map(|p| lower(p).into_bytes()).collect(),
        }),
        [sub, name, value] if is(sub, "SET") => Ok(Command::ConfigSet {
            name: lower(name),
            value: String::from_utf8_lossy(value).into_owned(),
        }),
        [sub] if is(sub, "RESETSTAT") => Ok(Command::ResetStats),
        [sub, ..] if ["GET", "SET", "RESETSTAT"].iter().any(|s| is(sub, s)) => {
            Err(Refusal::Usage(format!(
                "wrong number of arguments for 'config|{}' command",
                lower(sub)
            )))
        }
        [sub, ..] => Err(Refusal::Usage(format!(
            "unknown subcommand '{}'. Try CONFIG HELP.",
            String::from_utf8_lossy(sub)
        ))),
        [] => Err(arity("CONFIG")),
    }
}

/// `CHORD LOOKUP key`, `CHORD RING`, `CHORD COUNT`, `CHORD NODE`, `CHORD
/// FINGERS`, `CHORD STATS`.
fn chord(args: &[Vec<u8>]) -> Parsed {
    let sub = args
        .first()
        .map(|s| String::from_utf8_lossy(s).to_ascii_uppercase());
    Ok(match (sub.as_deref(), &args[args.len().min(1)..]) {
        (Some("LOOKUP"), [key]) => Command::Lookup {
            key: key_text(key)?,
        },
        (Some("RING"), []) => Command::Ring { full: false },
        (Some("COUNT"), []) => Command::Count,
        (Some("NODE"), []) => Command::Node { full: false },
        (Some("FINGERS"), []) => Command::Fingers { full: false },
        (Some("STATS"), []) => Command::Stats,
        _ => {
            return Err(Refusal::Usage(
                "CHORD takes LOOKUP <key>, RING, COUNT, NODE, FINGERS or STATS".into(),
            ))
        }
    })
}

/// The answer as Redis words it.
pub fn format(answer: Answer) -> Reply {
    let texts = |lines: Vec<String>| Reply::Array(lines.into_iter().map(Reply::text).collect());
    match answer {
        Answer::Ok | Answer::Bye => Reply::ok(),
        Answer::Pong => Reply::Simple("PONG".into()),
        Answer::Value(value) => Reply::Bulk(value),
        Answer::Values(values) => Reply::Array(values.into_iter().map(Reply::Bulk).collect()),
        Answer::Integer(n) | Answer::Deleted(n) | Answer::Sum(n) => Reply::Integer(n),
        Answer::Written(written, SetReply::Ok) => {
            if written {
                Reply::ok()
            } else {
                Reply::Bulk(None)
            }
        }
        Answer::Written(written, SetReply::Integer) | Answer::Changed(written) => {
            Reply::Integer(i64::from(written))
        }
        Answer::Ttl(Ttl::NoValue) => Reply::Integer(-2),
        Answer::Ttl(Ttl::Never) => Reply::Integer(-1),
        Answer::Ttl(Ttl::In(n)) => Reply::Integer(n),
        Answer::Type(name) => Reply::Simple(name.into()),
        Answer::Keys {
            keys,
            complete: true,
        } => texts(keys),
        // A client would take a part for the whole.
        Answer::Keys { .. } => Reply::err(format!(
            "more than {KEYS_LIMIT} keys match; SCAN lists any number (redis-cli --scan)"
        )),
        Answer::Scan { next, keys } => {
            Reply::Array(vec![Reply::text(next.to_string()), texts(keys)])
        }
        Answer::Count { keys, .. } => Reply::Integer(i64::try_from(keys).unwrap_or(i64::MAX)),
        Answer::Lines(lines) => texts(lines),
        Answer::Text(text) => Reply::text(text),
        Answer::Hello { id, protocol } => hello_reply(id, protocol),
        Answer::Pairs(pairs) => Reply::Map(
            pairs
                .into_iter()
                .map(|(name, value)| (Reply::text(name), Reply::text(value)))
                .collect(),
        ),
        Answer::Introspection { count: true } => Reply::Integer(0),
        Answer::Introspection { count: false } => Reply::Array(Vec::new()),
        Answer::Refused(why) => refusal(&why),
    }
}

/// A refusal with Redis's error kind first, in Redis's words where a
/// client or a test matches them.
fn refusal(why: &Refusal) -> Reply {
    let kind = match why {
        Refusal::Node(Error::OutOfMemory(_)) => "OOM",
        Refusal::Node(Error::Paused) => "BUSY",
        Refusal::NoAuth => return Reply::Error("NOAUTH Authentication required.".into()),
        Refusal::HelloNoAuth => "NOAUTH",
        Refusal::WrongPassword => {
            return Reply::Error(
                "WRONGPASS invalid username-password pair or user is disabled.".into(),
            )
        }
        Refusal::NoPassword => {
            return Reply::err(
                "AUTH <password> called without any password configured for the default \
                 user. Are you sure your configuration is correct?",
            )
        }
        Refusal::NoProto(_) => "NOPROTO",
        _ => "ERR",
    };
    Reply::Error(format!("{kind} {}", why.text()))
}

/// `HELLO`'s map, with the fields Redis gives: chord is one server, not a
/// cluster of the Redis Cluster protocol, so its mode is `standalone`.
fn hello_reply(id: u64, protocol: Protocol) -> Reply {
    let proto = match protocol {
        Protocol::Resp2 => 2,
        Protocol::Resp3 => 3,
    };
    let pairs = [
        ("server", Reply::text("chord")),
        ("version", Reply::text(env!("CARGO_PKG_VERSION"))),
        ("proto", Reply::Integer(proto)),
        ("id", Reply::Integer(i64::try_from(id).unwrap_or(i64::MAX))),
        ("mode", Reply::text("standalone")),
        ("role", Reply::text("master")),
        ("modules", Reply::Array(Vec::new())),
    ];
    Reply::Map(
        pairs
            .into_iter()
            .map(|(k, v)| (Reply::text(k), v))
            .collect(),
    )
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
        assert!(refusal(&["SET", "k", "v", "XX", "GET"]).contains("GET and NX or XX"));
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
            refusal(&["FlushAll", "async"]),
            "unknown command 'FlushAll', with args beginning with: 'async' "
        );
        assert_eq!(
            refusal(&[]),
            "unknown command '', with args beginning with: "
        );
    }
}
