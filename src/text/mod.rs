//! The line protocol people type into `telnet` or `nc`: a line parses into
//! the one [`Command`] every protocol shares, and its [`Answer`] is worded
//! in lines ([`format()`]). Pure: the connection loop is in
//! [`crate::server`].
//!
//! [`Answer`]: crate::command::Answer
//!
//! One request per line, ended by `\n` or `\r\n`; command words are
//! case-insensitive; a key is one token without white space, 1 to 256
//! bytes; a value is the rest of the line after one space, 1 byte to 64 KiB.
//!
//! ```text
//! PUT <key> <value>   -> OK
//! GET <key>           -> VALUE <value>   or  BYTES <escaped>  or  NOT_FOUND
//! DEL <key>           -> OK              or  NOT_FOUND
//! EXPIRE <key> <s>    -> OK              or  NOT_FOUND   (0 or less deletes)
//! PERSIST <key>       -> OK              or  NOT_FOUND   (no value, or no expiry to remove)
//! TTL <key>           -> TTL <seconds>   or  TTL none    or  NOT_FOUND
//! INCR <key> [<n>]    -> VALUE <sum>
//! LOOKUP <key>        -> <key id> <owner id> <owner host:port> hops=<n> replicas=<host:port>,... held=<host:port>@<version>,...
//! KEYS [pattern]      -> the keys of the ring matching a glob, at most 1000; END
//! NODE [FULL]         -> this node's id, address, predecessor, successors, keys; END
//! FINGERS [FULL]      -> k, start, node id, node address per run of fingers; END
//! RING [FULL]         -> <id> <host:port> owned=<n> replicas=<n> per node, by successor; END
//! COUNT               -> COUNT <keys of the ring> nodes=<n>
//! STATS               -> name=value counters; END
//! HELP                -> the commands; END
//! PING                -> +PONG
//! AUTH <password>     -> OK, or ERR; needed first when the node has a password
//! QUIT                -> BYE, and the connection closes
//! anything else       -> ERR <what was wrong>; the connection stays usable
//! ```
//!
//! Values are bytes. A value typed here is text, but one written through
//! the Redis protocol may be anything; a GET shows such a value, when it
//! is not UTF-8 or holds a line break, as `BYTES` and the value escaped
//! the way Rust escapes a byte string (`\n`, `\x00`, `\\`), so that a
//! reply is always one line and a reader can tell text from escapes.

use std::fmt;
use std::io::{self, BufRead};

use crate::command::{Command, SetExpiry, SetReply, TtlForm, Unit, When};

use crate::store::TooLong;
pub use crate::store::MAX_KEY;

/// The longest value a line can carry: 1 MiB. A line is read whole before
/// it is parsed, so this bounds what each text client can make a node
/// hold; bigger values (up to the node's `--max-value-mib`) go through the
/// Redis protocol, which reads a value as its length says.
pub const MAX_TEXT_VALUE: usize = 1024 * 1024;

/// The longest line, in bytes, without its line ending: a PUT with the
/// longest key and value, and room for the command word.
pub const MAX_LINE: usize = 16 + MAX_KEY + MAX_TEXT_VALUE;

/// Why a line is not a request. The `Display` text follows `ERR `.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ParseError {
    /// The line was empty or only white space.
    Empty,
    /// The first word is no command.
    Unknown(String),
    /// The command needs a key.
    MissingKey(&'static str),
    /// PUT needs a value after the key.
    MissingValue,
    /// AUTH needs a password.
    MissingPassword,
    /// The key is longer than [`MAX_KEY`].
    KeyTooLong(usize),
    /// The value is longer than [`MAX_TEXT_VALUE`].
    ValueTooLong(usize),
    /// The command takes fewer words than were given.
    ExtraArguments(&'static str),
    /// EXPIRE needs a whole number of seconds after the key.
    BadSeconds,
    /// INCR takes a whole number (a signed 64-bit one) after the key.
    BadIncrement,
    /// The line is not UTF-8.
    NotUtf8,
    /// The line is longer than [`MAX_LINE`].
    LineTooLong,
    /// A quoted word whose quote does not close, or closes against the next.
    BadQuote,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseError::Empty => write!(f, "empty line; type HELP for the commands"),
            ParseError::BadQuote => write!(
                f,
                "a quote that does not close, or is not followed by a space; quote as redis-cli \
                 does: \"a b\" (with \\n, \\xff, \\\" inside) or 'a b'"
            ),
            ParseError::Unknown(word) => {
                write!(f, "unknown command {word:?}; type HELP for the commands")
            }
            ParseError::MissingKey(cmd) => write!(f, "{cmd} needs a key: {}", usage(cmd)),
            ParseError::MissingValue => write!(f, "PUT needs a value: {}", usage("PUT")),
            ParseError::MissingPassword => write!(f, "AUTH needs a password: {}", usage("AUTH")),
            // Worded as the store words it, as every protocol answers.
            ParseError::KeyTooLong(len) => TooLong {
                what: "key",
                len: *len,
                max: MAX_KEY,
            }
            .fmt(f),
            ParseError::ValueTooLong(len) => TooLong {
                what: "value",
                len: *len,
                max: MAX_TEXT_VALUE,
            }
            .fmt(f),
            ParseError::ExtraArguments(cmd) => {
                write!(f, "too many arguments: {}", usage(cmd))
            }
            ParseError::BadSeconds => {
                write!(f, "EXPIRE needs whole seconds: {}", usage("EXPIRE"))
            }
            ParseError::BadIncrement => write!(
                f,
                "INCR adds a whole number from -2^63 to 2^63 - 1: {}",
                usage("INCR")
            ),
            ParseError::NotUtf8 => write!(f, "the line is not valid UTF-8"),
            ParseError::LineTooLong => write!(f, "line longer than {MAX_LINE} bytes"),
        }
    }
}

impl std::error::Error for ParseError {}

/// The commands with their arguments, as `HELP` lists them.
pub const HELP: &[&str] = &[
    "PUT <key> <value>   store a value (the rest of the line)",
    "GET <key>           read a value: VALUE <value> or NOT_FOUND",
    "DEL <key>           delete a key: OK or NOT_FOUND",
    "INCR <key> [<n>]    add n (default 1; negative subtracts) to an integer value, 0 if none: VALUE <sum>",
    "EXPIRE <key> <s>    the value expires in s seconds (0 or less deletes it): OK or NOT_FOUND",
    "PERSIST <key>       the value never expires: OK, or NOT_FOUND when it had no value or no expiry",
    "TTL <key>           seconds until the value expires: TTL <s>, TTL none, or NOT_FOUND",
    "LOOKUP <key>        <key id> <owner id> <owner address> hops=<n> replicas=<addresses>",
    "                    held=<address>@<version>,...: each holder's copy (d deleted, x expired, - none, ? no answer)",
    "NODE [FULL]         this node: id, address, predecessor, successors, keys",
    "FINGERS [FULL]      this node's finger table: k (or a run k-k'), start, node id, address",
    "RING [FULL]         every node (keys owned, replica copies held), walking successor pointers from here",
    "COUNT               the keys of the whole ring, each once (the owned counts of RING, summed)",
    "FLUSHALL            delete every key of the whole ring: OK",
    "STATS               this node's counters",
    "KEYS [pattern]      keys of the whole ring matching a glob (* ? [a-z]), at most 1000",
    "HELP                this list",
    "AUTH <password>     authenticate, when the node has a password (--password-file)",
    "PING                +PONG (as Redis answers an inline PING)",
    "QUIT                close the connection",
];

fn usage(cmd: &str) -> &'static str {
    let word = cmd.to_ascii_uppercase();
    HELP.iter()
        .find(|line| line.split_whitespace().next() == Some(word.as_str()))
        .map_or("type HELP", |line| line.split("   ").next().unwrap_or(line))
}

/// Parses one line, without its line ending (a trailing `\r` is allowed).
///
/// # Errors
/// A [`ParseError`] naming what is wrong.
pub fn parse(line: &[u8]) -> Result<Command, ParseError> {
    let line = std::str::from_utf8(line).map_err(|_| ParseError::NotUtf8)?;
    let line = line.strip_suffix('\r').unwrap_or(line);
    if line.len() > MAX_LINE {
        return Err(ParseError::LineTooLong);
    }
    let line = line.trim_start();
    if line.trim_end().is_empty() {
        return Err(ParseError::Empty);
    }
    let (word, rest) = line.split_once(' ').unwrap_or((line, ""));
    let word = word.trim_end().to_ascii_uppercase();
    let no_arguments = |command: Command, name: &'static str| {
        if rest.trim().is_empty() {
            Ok(command)
        } else {
            Err(ParseError::ExtraArguments(name))
        }
    };
    match word.as_str() {
        "PUT" => {
            let (key, after) = word_of(rest)?.ok_or(ParseError::MissingKey("PUT"))?;
            let key = check_key(key, "PUT")?;
            // The value is the rest of the line after one space, or one
            // quoted word.
            let rest = after.strip_prefix(' ').unwrap_or(after);
            let value = if rest.starts_with(['"', '\'']) {
                match word_of(rest)? {
                    Some((value, after)) if after.trim().is_empty() => value,
                    _ => return Err(ParseError::ExtraArguments("PUT")),
                }
            } else {
                rest.as_bytes().to_vec()
            };
            if value.is_empty() {
                return Err(ParseError::MissingValue);
            }
            if value.len() > MAX_TEXT_VALUE {
                return Err(ParseError::ValueTooLong(value.len()));
            }
            Ok(Command::Set {
                key,
                value,
                only_if_exists: None,
                expiry: SetExpiry::Clear,
                reply: SetReply::Ok,
            })
        }
        "GET" => single_key(rest, "GET").map(|key| Command::Get { key }),
        "DEL" => single_key(rest, "DEL").map(|key| Command::Delete { keys: vec![key] }),
        "EXPIRE" => {
            let (key, seconds) = rest.trim().rsplit_once(' ').unwrap_or((rest.trim(), ""));
            let key = single_key(key, "EXPIRE")?;
            let amount = seconds.parse().map_err(|_| ParseError::BadSeconds)?;
            let when = When {
                amount,
                unit: Unit::Seconds,
                absolute: false,
                command: "expire",
            };
            Ok(Command::Expire {
                key,
                when,
                only: None,
            })
        }
        "INCR" => {
            let (key, after) = word_of(rest)?.ok_or(ParseError::MissingKey("INCR"))?;
            let key = check_key(key, "INCR")?;
            let mut words = after.split_whitespace();
            let by = match words.next() {
                None => 1,
                Some(by) => crate::store::integer(by.as_bytes()).ok_or(ParseError::BadIncrement)?,
            };
            if words.next().is_some() {
                return Err(ParseError::ExtraArguments("INCR"));
            }
            Ok(Command::Increment { key, by })
        }
        "PERSIST" => single_key(rest, "PERSIST").map(|key| Command::Persist { key }),
        "TTL" => single_key(rest, "TTL").map(|key| Command::Ttl {
            key,
            form: TtlForm {
                unit: Unit::Seconds,
                absolute: false,
            },
        }),
        "LOOKUP" => single_key(rest, "LOOKUP").map(|key| Command::Lookup { key }),
        "NODE" => full_flag(rest, "NODE").map(|full| Command::Node { full }),
        "FINGERS" => full_flag(rest, "FINGERS").map(|full| Command::Fingers { full }),
        "RING" => full_flag(rest, "RING").map(|full| Command::Ring { full }),
        "STATS" => no_arguments(Command::Stats, "STATS"),
        "COUNT" => no_arguments(Command::Count, "COUNT"),
        "FLUSHALL" => no_arguments(Command::FlushAll, "FLUSHALL"),
        "KEYS" => {
            let mut words = rest.split_whitespace();
            let pattern = words.next().map(|p| p.as_bytes().to_vec());
            if words.next().is_some() {
                return Err(ParseError::ExtraArguments("KEYS"));
            }
            Ok(Command::Keys { pattern })
        }
        "HELP" => no_arguments(Command::Help, "HELP"),
        "AUTH" => {
            let password = rest.trim_end();
            if password.is_empty() {
                return Err(ParseError::MissingPassword);
            }
            Ok(Command::Auth {
                password: password.to_string(),
            })
        }
        "QUIT" => no_arguments(Command::Quit, "QUIT"),
        "PING" => no_arguments(Command::Ping { message: None }, "PING"),
        _ => Err(ParseError::Unknown(word.chars().take(32).collect())),
    }
}

/// The optional `FULL` after NODE, FINGERS or RING.
fn full_flag(rest: &str, command: &'static str) -> Result<bool, ParseError> {
    match rest.trim() {
        "" => Ok(false),
        word if word.eq_ignore_ascii_case("FULL") => Ok(true),
        _ => Err(ParseError::ExtraArguments(command)),
    }
}

fn single_key(rest: &str, command: &'static str) -> Result<Vec<u8>, ParseError> {
    let (key, after) = word_of(rest)?.ok_or(ParseError::MissingKey(command))?;
    if !after.trim().is_empty() {
        return Err(ParseError::ExtraArguments(command));
    }
    check_key(key, command)
}

fn check_key(key: Vec<u8>, command: &'static str) -> Result<Vec<u8>, ParseError> {
    if key.is_empty() {
        return Err(ParseError::MissingKey(command));
    }
    if key.len() > MAX_KEY {
        return Err(ParseError::KeyTooLong(key.len()));
    }
    Ok(key)
}

/// The first word of `rest` and what follows it; `None` when there is
/// none. A word is what runs to white space, or a quoted string as
/// redis-cli reads one, so that any key redis-cli wrote can be named:
/// `"..."` with `\"`, `\\`, `\'`, `\n`, `\r`, `\t` and `\xHH` inside,
/// or `'...'` with only `\'`. A closing quote must end the word.
fn word_of(rest: &str) -> Result<Option<(Vec<u8>, &str)>, ParseError> {
    let rest = rest.trim_start();
    let Some(quote) = rest.bytes().next() else {
        return Ok(None);
    };
    if quote != b'"' && quote != b'\'' {
        let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        return Ok(Some((rest.as_bytes()[..end].to_vec(), &rest[end..])));
    }
    let bytes = rest.as_bytes();
    let mut word = Vec::new();
    let mut i = 1;
    while i < bytes.len() {
        match (bytes[i], bytes.get(i + 1).copied()) {
            (b, _) if b == quote => {
                let after = &rest[i + 1..];
                if !after.is_empty() && !after.starts_with(char::is_whitespace) {
                    return Err(ParseError::BadQuote);
                }
                return Ok(Some((word, after)));
            }
            (b'\\', Some(b'\'')) if quote == b'\'' => {
                word.push(b'\'');
                i += 2;
            }
            (b'\\', Some(escaped)) if quote == b'"' => {
                let hex = || {
                    let digits = rest.get(i + 2..i + 4)?;
                    u8::from_str_radix(digits, 16).ok()
                };
                match escaped {
                    b'n' => word.push(b'\n'),
                    b'r' => word.push(b'\r'),
                    b't' => word.push(b'\t'),
                    b'x' => match hex() {
                        Some(byte) => {
                            word.push(byte);
                            i += 2;
                        }
                        None => word.extend_from_slice(b"\\x"),
                    },
                    other => word.push(other),
                }
                i += 2;
            }
            (b, _) => {
                word.push(b);
                i += 1;
            }
        }
    }
    Err(ParseError::BadQuote)
}

/// One line read from a client, bounded in size.
#[derive(Debug, PartialEq, Eq)]
pub enum Line {
    /// A line, without its `\n`.
    Complete(Vec<u8>),
    /// A line longer than the limit. Reading stopped where it crossed the
    /// limit, without waiting for an end that may never come, so the
    /// connection cannot find the next line: answer, then close it.
    TooLong,
    /// The client closed the connection.
    Eof,
}

/// Reads one line of at most `max` bytes, never buffering more than that,
/// and never reading past the limit: a line that crosses it is
/// [`Line::TooLong`] at once, however much more the client sends.
///
/// # Errors
/// The reader's error, including a read timeout.
pub fn read_line<R: BufRead>(reader: &mut R, max: usize) -> io::Result<Line> {
    let mut line = Vec::new();
    loop {
        let buf = match reader.fill_buf() {
            Ok(buf) => buf,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if buf.is_empty() {
            return Ok(if line.is_empty() {
                Line::Eof
            } else {
                Line::Complete(line)
            });
        }
        let (chunk, end) = match buf.iter().position(|&b| b == b'\n') {
            Some(i) => (&buf[..i], Some(i + 1)),
            None => (buf, None),
        };
        // One byte of slack for a '\r' before the '\n'.
        if line.len() + chunk.len() > max + 1 {
            return Ok(Line::TooLong);
        }
        line.extend_from_slice(chunk);
        let used = end.unwrap_or(chunk.len());
        reader.consume(used);
        if end.is_some() {
            return Ok(Line::Complete(line));
        }
    }
}

mod format;
pub use format::{
    finger_lines, format, id_text, is_multiline, lookup_line, node_lines, ring_line, value_line,
};

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(line: &str) -> Command {
        parse(line.as_bytes()).unwrap()
    }

    fn err(line: &str) -> ParseError {
        parse(line.as_bytes()).unwrap_err()
    }

    fn put(key: &str, value: &str) -> Command {
        Command::Set {
            key: key.into(),
            value: value.as_bytes().to_vec(),
            only_if_exists: None,
            expiry: SetExpiry::Clear,
            reply: SetReply::Ok,
        }
    }

    #[test]
    fn commands_parse_case_insensitively() {
        assert_eq!(ok("get a"), Command::Get { key: "a".into() });
        assert_eq!(ok("GeT a\r"), Command::Get { key: "a".into() });
        assert_eq!(
            ok("DEL a"),
            Command::Delete {
                keys: vec!["a".into()]
            }
        );
        assert_eq!(ok("lookup a"), Command::Lookup { key: "a".into() });
        for (line, command) in [
            ("NODE", Command::Node { full: false }),
            ("fingers", Command::Fingers { full: false }),
            ("Ring full", Command::Ring { full: true }),
            ("STATS", Command::Stats),
            ("count", Command::Count),
            ("help", Command::Help),
            ("QUIT", Command::Quit),
            ("ping", Command::Ping { message: None }),
            ("KEYS", Command::Keys { pattern: None }),
            (
                "keys user:*",
                Command::Keys {
                    pattern: Some(b"user:*".to_vec()),
                },
            ),
        ] {
            assert_eq!(ok(line), command);
        }
    }

    #[test]
    fn expire_takes_a_key_and_whole_seconds() {
        let expire = |key: &str, amount| Command::Expire {
            key: key.into(),
            when: When {
                amount,
                unit: Unit::Seconds,
                absolute: false,
                command: "expire",
            },
            only: None,
        };
        assert_eq!(ok("EXPIRE session 30"), expire("session", 30));
        assert_eq!(ok("expire  session   -1 "), expire("session", -1));
        assert_eq!(
            ok("TTL session"),
            Command::Ttl {
                key: "session".into(),
                form: TtlForm {
                    unit: Unit::Seconds,
                    absolute: false
                }
            }
        );
        assert_eq!(ok("persist s"), Command::Persist { key: "s".into() });
        assert_eq!(err("EXPIRE session"), ParseError::BadSeconds);
        assert_eq!(err("EXPIRE session soon"), ParseError::BadSeconds);
        assert_eq!(err("EXPIRE session 1.5"), ParseError::BadSeconds);
        assert_eq!(err("EXPIRE"), ParseError::MissingKey("EXPIRE"));
        assert_eq!(err("EXPIRE a b 3"), ParseError::ExtraArguments("EXPIRE"));
        assert_eq!(err("TTL a b"), ParseError::ExtraArguments("TTL"));
        assert!(err("EXPIRE a").to_string().contains("EXPIRE <key> <s>"));
    }

    #[test]
    fn incr_takes_a_key_and_an_optional_whole_number() {
        let incr = |key: &str, by| Command::Increment {
            key: key.into(),
            by,
        };
        assert_eq!(ok("INCR hits"), incr("hits", 1));
        assert_eq!(ok("incr  hits  -5 "), incr("hits", -5));
        assert_eq!(ok("INCR hits 9223372036854775807"), incr("hits", i64::MAX));
        assert_eq!(
            err("INCR hits 9223372036854775808"),
            ParseError::BadIncrement
        );
        assert_eq!(err("INCR hits 1.5"), ParseError::BadIncrement);
        assert_eq!(err("INCR hits one"), ParseError::BadIncrement);
        assert_eq!(err("INCR"), ParseError::MissingKey("INCR"));
        assert_eq!(err("INCR a 1 2"), ParseError::ExtraArguments("INCR"));
        assert!(err("INCR a b").to_string().contains("INCR <key> [<n>]"));
    }

    #[test]
    fn a_value_is_the_rest_of_the_line() {
        assert_eq!(
            ok("PUT k hello there  world"),
            put("k", "hello there  world")
        );
        assert_eq!(ok("put answer 42\r"), put("answer", "42"));
    }

    #[test]
    fn keys_and_values_can_be_quoted_as_redis_cli_quotes_them() {
        let set = |line: &str| match parse(line.as_bytes()) {
            Ok(Command::Set { key, value, .. }) => (key, value),
            other => panic!("{line:?} parsed as {other:?}"),
        };
        assert_eq!(
            set("PUT \"my key\" a value"),
            (b"my key".to_vec(), b"a value".to_vec())
        );
        assert_eq!(
            set("PUT \"k\\x00\\xff\\n\" \"two\\r\\nlines \\\"q\\\"\""),
            (b"k\x00\xff\n".to_vec(), b"two\r\nlines \"q\"".to_vec())
        );
        assert_eq!(err("PUT 'it''s' x"), ParseError::BadQuote);
        assert_eq!(set("PUT 'it\\'s' x"), (b"it's".to_vec(), b"x".to_vec()));
        // Unquoted, a value is the rest of the line, quotes and all.
        assert_eq!(
            set("PUT k say \"hi\""),
            (b"k".to_vec(), b"say \"hi\"".to_vec())
        );
        assert_eq!(
            parse(b"GET \"a b\""),
            Ok(Command::Get {
                key: b"a b".to_vec()
            })
        );
        assert_eq!(err("GET \"open"), ParseError::BadQuote);
        assert_eq!(err("GET \"a\"b"), ParseError::BadQuote);
        assert_eq!(err("GET \"a\" b"), ParseError::ExtraArguments("GET"));
        assert_eq!(err("PUT k \"v\" more"), ParseError::ExtraArguments("PUT"));
    }

    #[test]
    fn every_error_case_is_named() {
        assert_eq!(err(""), ParseError::Empty);
        assert_eq!(err("   "), ParseError::Empty);
        assert_eq!(err("FROB x"), ParseError::Unknown("FROB".into()));
        assert_eq!(err("GET"), ParseError::MissingKey("GET"));
        assert_eq!(err("DEL "), ParseError::MissingKey("DEL"));
        assert_eq!(err("LOOKUP"), ParseError::MissingKey("LOOKUP"));
        assert_eq!(err("PUT"), ParseError::MissingKey("PUT"));
        assert_eq!(err("PUT k"), ParseError::MissingValue);
        assert_eq!(err("PUT k "), ParseError::MissingValue);
        assert_eq!(err("GET a b"), ParseError::ExtraArguments("GET"));
        assert_eq!(err("GET a\tb"), ParseError::ExtraArguments("GET"));
        assert_eq!(err("NODE x"), ParseError::ExtraArguments("NODE"));
        assert_eq!(err("RING FULL x"), ParseError::ExtraArguments("RING"));
        let long_key = "k".repeat(MAX_KEY + 1);
        assert_eq!(
            err(&format!("GET {long_key}")),
            ParseError::KeyTooLong(MAX_KEY + 1)
        );
        assert!(parse(format!("GET {}", "k".repeat(MAX_KEY)).as_bytes()).is_ok());
        let long_value = "v".repeat(MAX_TEXT_VALUE + 1);
        assert_eq!(
            err(&format!("PUT k {long_value}")),
            ParseError::ValueTooLong(MAX_TEXT_VALUE + 1)
        );
        assert!(parse(format!("PUT k {}", "v".repeat(MAX_TEXT_VALUE)).as_bytes()).is_ok());
        assert_eq!(parse(b"GET \xff\xfe"), Err(ParseError::NotUtf8));
        let huge = "x".repeat(MAX_LINE + 1);
        assert_eq!(err(&huge), ParseError::LineTooLong);
    }

    #[test]
    fn error_messages_say_how_to_do_it_right() {
        assert_eq!(err("GET").to_string(), "GET needs a key: GET <key>");
        assert!(err("PUT k").to_string().contains("PUT <key> <value>"));
        assert!(err("frob").to_string().contains("HELP"));
    }

    #[test]
    fn read_line_splits_on_newlines_and_keeps_a_final_partial_line() {
        let mut input: &[u8] = b"GET a\r\nPUT b 1\nlast";
        assert_eq!(
            read_line(&mut input, 100).unwrap(),
            Line::Complete(b"GET a\r".to_vec())
        );
        assert_eq!(
            read_line(&mut input, 100).unwrap(),
            Line::Complete(b"PUT b 1".to_vec())
        );
        assert_eq!(
            read_line(&mut input, 100).unwrap(),
            Line::Complete(b"last".to_vec())
        );
        assert_eq!(read_line(&mut input, 100).unwrap(), Line::Eof);
    }

    #[test]
    fn an_overlong_line_is_refused_without_reading_to_its_end() {
        // A line with no end in sight: the reader must stop at the limit,
        // not read on waiting for a newline.
        let endless = vec![b'x'; 1 << 20];
        let mut input = io::BufReader::with_capacity(8, &endless[..]);
        assert_eq!(read_line(&mut input, 10).unwrap(), Line::TooLong);
        let mut rest = Vec::new();
        io::Read::read_to_end(&mut input, &mut rest).unwrap();
        assert!(
            rest.len() > endless.len() - 32,
            "read {} bytes past a 10-byte limit",
            endless.len() - rest.len()
        );
        // A line within the limit, then one past it.
        let mut input = io::BufReader::with_capacity(8, &b"GET a\nxxxxxxxxxxxxxxxxxxxxx\n"[..]);
        assert_eq!(
            read_line(&mut input, 10).unwrap(),
            Line::Complete(b"GET a".to_vec())
        );
        assert_eq!(read_line(&mut input, 10).unwrap(), Line::TooLong);
    }
}
