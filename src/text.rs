//! The line protocol people type into `telnet` or `nc`: parsing requests
//! and formatting answers. Pure: the connection loop is in
//! [`crate::server`], and this module only turns bytes into a [`Command`]
//! and results into lines.
//!
//! One request per line, ended by `\n` or `\r\n`; command words are
//! case-insensitive; a key is one token without white space, 1 to 256
//! bytes; a value is the rest of the line after one space, 1 byte to 64 KiB.
//!
//! ```text
//! PUT <key> <value>   -> OK
//! GET <key>           -> VALUE <value>   or  NOT_FOUND
//! DEL <key>           -> OK              or  NOT_FOUND
//! LOOKUP <key>        -> <key id> <owner id> <owner host:port> hops=<n> replicas=<host:port>,...
//! NODE                -> this node's id, address, predecessor, successors, keys; END
//! FINGERS             -> k, start, node id, node address per finger; END
//! RING                -> <id> <host:port> keys=<n> per node, by successor; END
//! STATS               -> name=value counters; END
//! HELP                -> the commands; END
//! AUTH <password>     -> OK, or ERR; needed first when the node has a password
//! QUIT                -> BYE, and the connection closes
//! anything else       -> ERR <what was wrong>; the connection stays usable
//! ```

use std::fmt;
use std::io::{self, BufRead};

use crate::id::Id;
use crate::kv::RingEntry;
use crate::node::{Lookup, View};

pub use crate::store::{MAX_KEY, MAX_VALUE};

/// The longest line, in bytes, without its line ending: a PUT with the
/// longest key and value, and room for the command word.
pub const MAX_LINE: usize = 16 + MAX_KEY + MAX_VALUE;

/// A parsed request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    /// `PUT <key> <value>`
    Put {
        /// The key.
        key: String,
        /// The value: the rest of the line.
        value: String,
    },
    /// `GET <key>`
    Get {
        /// The key.
        key: String,
    },
    /// `DEL <key>`
    Del {
        /// The key.
        key: String,
    },
    /// `LOOKUP <key>`
    Lookup {
        /// The key.
        key: String,
    },
    /// `NODE`
    Node,
    /// `FINGERS`
    Fingers,
    /// `RING`
    Ring,
    /// `STATS`
    Stats,
    /// `HELP`
    Help,
    /// `AUTH <password>`
    Auth {
        /// The password: the rest of the line.
        password: String,
    },
    /// `QUIT`
    Quit,
}

impl Command {
    /// Whether the answer is several lines closed by `END`.
    pub fn is_multiline(&self) -> bool {
        matches!(
            self,
            Command::Node | Command::Fingers | Command::Ring | Command::Stats | Command::Help
        )
    }
}

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
    /// The value is longer than [`MAX_VALUE`].
    ValueTooLong(usize),
    /// The command takes fewer words than were given.
    ExtraArguments(&'static str),
    /// The line is not UTF-8.
    NotUtf8,
    /// The line is longer than [`MAX_LINE`].
    LineTooLong,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseError::Empty => write!(f, "empty line; type HELP for the commands"),
            ParseError::Unknown(word) => {
                write!(f, "unknown command {word:?}; type HELP for the commands")
            }
            ParseError::MissingKey(cmd) => write!(f, "{cmd} needs a key: {}", usage(cmd)),
            ParseError::MissingValue => write!(f, "PUT needs a value: {}", usage("PUT")),
            ParseError::MissingPassword => write!(f, "AUTH needs a password: {}", usage("AUTH")),
            ParseError::KeyTooLong(len) => {
                write!(f, "key of {len} bytes is longer than {MAX_KEY}")
            }
            ParseError::ValueTooLong(len) => {
                write!(f, "value of {len} bytes is longer than {MAX_VALUE}")
            }
            ParseError::ExtraArguments(cmd) => {
                write!(f, "too many arguments: {}", usage(cmd))
            }
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
    "LOOKUP <key>        <key id> <owner id> <owner address> hops=<n> replicas=<addresses>",
    "NODE                this node: id, address, predecessor, successors, keys",
    "FINGERS             this node's finger table: k, start, node id, address",
    "RING                every node, walking successor pointers from here",
    "STATS               this node's counters",
    "HELP                this list",
    "AUTH <password>     authenticate, when the node has a password (--password-file)",
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
            let rest = rest.trim_start_matches(' ');
            let (key, value) = rest.split_once(' ').unwrap_or((rest, ""));
            let key = check_key(key, "PUT")?;
            if value.is_empty() {
                return Err(ParseError::MissingValue);
            }
            if value.len() > MAX_VALUE {
                return Err(ParseError::ValueTooLong(value.len()));
            }
            Ok(Command::Put {
                key,
                value: value.to_string(),
            })
        }
        "GET" => single_key(rest, "GET").map(|key| Command::Get { key }),
        "DEL" => single_key(rest, "DEL").map(|key| Command::Del { key }),
        "LOOKUP" => single_key(rest, "LOOKUP").map(|key| Command::Lookup { key }),
        "NODE" => no_arguments(Command::Node, "NODE"),
        "FINGERS" => no_arguments(Command::Fingers, "FINGERS"),
        "RING" => no_arguments(Command::Ring, "RING"),
        "STATS" => no_arguments(Command::Stats, "STATS"),
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
        _ => Err(ParseError::Unknown(word.chars().take(32).collect())),
    }
}

fn single_key(rest: &str, command: &'static str) -> Result<String, ParseError> {
    let mut words = rest.split_whitespace();
    let key = check_key(words.next().unwrap_or(""), command)?;
    if words.next().is_some() {
        return Err(ParseError::ExtraArguments(command));
    }
    Ok(key)
}

fn check_key(key: &str, command: &'static str) -> Result<String, ParseError> {
    if key.is_empty() {
        return Err(ParseError::MissingKey(command));
    }
    if key.len() > MAX_KEY {
        return Err(ParseError::KeyTooLong(key.len()));
    }
    // A tab or other white space inside the token would make it two.
    if key.chars().any(char::is_whitespace) {
        return Err(ParseError::ExtraArguments(command));
    }
    Ok(key.to_string())
}

/// One line read from a client, bounded in size.
#[derive(Debug, PartialEq, Eq)]
pub enum Line {
    /// A line, without its `\n`.
    Complete(Vec<u8>),
    /// A line longer than the limit; it was read and thrown away up to its
    /// end, so the connection can go on.
    TooLong,
    /// The client closed the connection.
    Eof,
}

/// Reads one line of at most `max` bytes, never buffering more than that.
///
/// # Errors
/// The reader's error, including a read timeout.
pub fn read_line<R: BufRead>(reader: &mut R, max: usize) -> io::Result<Line> {
    let mut line = Vec::new();
    let mut too_long = false;
    loop {
        let buf = match reader.fill_buf() {
            Ok(buf) => buf,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if buf.is_empty() {
            return Ok(match (too_long, line.is_empty()) {
                (true, _) => Line::TooLong,
                (false, true) => Line::Eof,
                (false, false) => Line::Complete(line),
            });
        }
        let (chunk, end) = match buf.iter().position(|&b| b == b'\n') {
            Some(i) => (&buf[..i], Some(i + 1)),
            None => (buf, None),
        };
        if !too_long && line.len() + chunk.len() > max + 1 {
            // One byte of slack for a '\r' before the '\n'.
            too_long = true;
            line = Vec::new();
        }
        if !too_long {
            line.extend_from_slice(chunk);
        }
        let used = end.unwrap_or(buf.len());
        reader.consume(used);
        if end.is_some() {
            return Ok(if too_long {
                Line::TooLong
            } else {
                Line::Complete(line)
            });
        }
    }
}

/// The answer to `LOOKUP`: `<key id> <owner id> <owner host:port> hops=<n>
/// replicas=<host:port>,...`, the replicas being the R - 1 holders after
/// the owner.
pub fn lookup_line(key_id: &Id, lookup: &Lookup, replicas: usize) -> String {
    let others: Vec<&str> = lookup
        .holders(replicas)
        .iter()
        .skip(1)
        .map(|n| n.addr.as_str())
        .collect();
    format!(
        "{key_id} {} hops={} replicas={}",
        lookup.owner(),
        lookup.hops(),
        others.join(",")
    )
}

/// The lines of `NODE`, before `END`.
pub fn node_lines(view: &View) -> Vec<String> {
    let mut lines = vec![
        format!("id {}", view.me.id),
        format!("address {}", view.me.addr),
        match &view.predecessor {
            Some(p) => format!("predecessor {p}"),
            None => "predecessor none".to_string(),
        },
    ];
    for (i, s) in view.successors.iter().enumerate() {
        lines.push(format!("successor {} {s}", i + 1));
    }
    lines.push(format!("keys {}", view.keys));
    lines
}

/// The lines of `FINGERS`, before `END`: `<k> <start> <node id> <address>`,
/// or `<k> <start> none` for a finger not yet fixed.
pub fn finger_lines(view: &View) -> Vec<String> {
    view.fingers
        .iter()
        .map(|(k, start, node)| match node {
            Some(n) => format!("{k} {start} {n}"),
            None => format!("{k} {start} none"),
        })
        .collect()
}

/// One line of `RING`: `<id> <host:port> keys=<n>`.
pub fn ring_line(entry: &RingEntry) -> String {
    format!("{} keys={}", entry.node, entry.keys)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(line: &str) -> Command {
        parse(line.as_bytes()).unwrap()
    }

    fn err(line: &str) -> ParseError {
        parse(line.as_bytes()).unwrap_err()
    }

    #[test]
    fn commands_parse_case_insensitively() {
        assert_eq!(ok("get a"), Command::Get { key: "a".into() });
        assert_eq!(ok("GeT a\r"), Command::Get { key: "a".into() });
        assert_eq!(ok("DEL a"), Command::Del { key: "a".into() });
        assert_eq!(ok("lookup a"), Command::Lookup { key: "a".into() });
        for (line, command) in [
            ("NODE", Command::Node),
            ("fingers", Command::Fingers),
            ("Ring", Command::Ring),
            ("STATS", Command::Stats),
            ("help", Command::Help),
            ("QUIT", Command::Quit),
        ] {
            assert_eq!(ok(line), command);
        }
    }

    #[test]
    fn a_value_is_the_rest_of_the_line() {
        assert_eq!(
            ok("PUT k hello there  world"),
            Command::Put {
                key: "k".into(),
                value: "hello there  world".into()
            }
        );
        assert_eq!(
            ok("put answer 42\r"),
            Command::Put {
                key: "answer".into(),
                value: "42".into()
            }
        );
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
        let long_key = "k".repeat(MAX_KEY + 1);
        assert_eq!(err(&format!("GET {long_key}")), ParseError::KeyTooLong(257));
        assert!(parse(format!("GET {}", "k".repeat(MAX_KEY)).as_bytes()).is_ok());
        let long_value = "v".repeat(MAX_VALUE + 1);
        assert_eq!(
            err(&format!("PUT k {long_value}")),
            ParseError::ValueTooLong(MAX_VALUE + 1)
        );
        assert!(parse(format!("PUT k {}", "v".repeat(MAX_VALUE)).as_bytes()).is_ok());
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
    fn an_overlong_line_is_skipped_and_the_next_one_read() {
        let mut data = vec![b'x'; 50];
        data.extend_from_slice(b"\nGET a\n");
        let mut input = io::BufReader::with_capacity(8, &data[..]);
        assert_eq!(read_line(&mut input, 10).unwrap(), Line::TooLong);
        assert_eq!(
            read_line(&mut input, 10).unwrap(),
            Line::Complete(b"GET a".to_vec())
        );
    }
}
