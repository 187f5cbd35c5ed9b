//! RESP2, the Redis serialization protocol, as far as a server needs it:
//! reading requests (arrays of bulk strings, or inline commands) and
//! writing replies. Pure: no sockets, no node. The commands are parsed and
//! their answers worded in [`command`]; the connection loop is in
//! `server/resp.rs`.
//!
//! A request is `*<n>\r\n` followed by `n` bulk strings `$<len>\r\n<bytes>\r\n`;
//! an inline command is one line of words separated by spaces. Every
//! length is checked against a bound before anything is allocated for it:
//! at most [`MAX_ARGS`] arguments, each at most [`MAX_BULK`] bytes. An
//! argument longer than the node's own value bound, but within that, is
//! read past without being kept, and the request is refused with an error
//! that names the bound: the connection goes on.

use std::io::{self, BufRead, Read as _};

mod admin;
mod answer;
pub mod command;
mod words;

pub use answer::format;

use crate::command::Protocol;

use crate::store::{MAX_KEY, MAX_VALUE};
use crate::text::{read_line, Line};

/// The most arguments one request may have (`MSET` of 4,096 pairs).
pub const MAX_ARGS: usize = 1 + 2 * 4096;

/// The longest argument of any request: a key and a value of the longest
/// a node can be set to take. Longer closes the connection, as in Redis.
pub const MAX_BULK: usize = MAX_KEY + MAX_VALUE;

/// The longest line: a header, or an inline command.
const MAX_HEADER: usize = 64 * 1024;

/// What one read gave.
#[derive(Debug, PartialEq, Eq)]
pub enum Read {
    /// A request's arguments, the command name first.
    Request(Vec<Vec<u8>>),
    /// A request that breaks the protocol; the connection cannot find the
    /// next request after it, and is closed after the error is sent.
    Broken(String),
    /// A request with an argument longer than the node takes, read past
    /// and dropped; the text says so. The connection goes on.
    TooLong(String),
    /// The client closed the connection.
    Eof,
}

/// Reads one request, whose arguments may each be at most `max_value`
/// bytes and a key's length longer.
///
/// # Errors
/// The reader's, including a read timeout.
pub fn read_request<R: BufRead>(reader: &mut R, max_value: usize) -> io::Result<Read> {
    let count = match read_header(reader, b'*')? {
        // As Redis does: `*0` and `*-1` (or any negative count) are no
        // request, and are skipped without an answer.
        Header::Number(count) if count <= 0 => return Ok(Read::Request(Vec::new())),
        Header::Number(count) => count.unsigned_abs() as usize,
        Header::Eof => return Ok(Read::Eof),
        Header::TooLong(Some(b'*')) => {
            return Ok(Read::Broken(format!(
                "too big mbulk count string: a header line of more than {MAX_HEADER} bytes"
            )))
        }
        Header::TooLong(_) => {
            return Ok(Read::Broken(format!(
                "too big inline request: a line of more than {MAX_HEADER} bytes"
            )))
        }
        Header::Other(line) if line.first() == Some(&b'*') => {
            return Ok(Read::Broken("invalid multibulk length".into()))
        }
        Header::Other(line) => {
            // An inline command: words separated by spaces.
            let args: Vec<Vec<u8>> = line
                .split(|b| *b == b' ')
                .filter(|w| !w.is_empty())
                .map(<[u8]>::to_vec)
                .collect();
            if args.len() > MAX_ARGS {
                return Ok(Read::Broken("too many arguments".into()));
            }
            return Ok(Read::Request(args));
        }
    };
    if count > MAX_ARGS {
        return Ok(Read::Broken(format!(
            "invalid multibulk length {count}: at most {MAX_ARGS} arguments"
        )));
    }
    let taken = MAX_KEY + max_value.min(MAX_VALUE);
    let mut too_long = None;
    let mut args = Vec::with_capacity(count.min(64));
    for _ in 0..count {
        let len = match read_header(reader, b'$')? {
            Header::Number(len) if (0..=MAX_BULK as i64).contains(&len) => len as usize,
            Header::Number(len) if len < 0 => {
                return Ok(Read::Broken(format!("invalid bulk length {len}")))
            }
            Header::Number(len) => {
                return Ok(Read::Broken(format!(
                    "invalid bulk length {len}: an argument may be at most {MAX_BULK} bytes \
                     (a key of at most {MAX_KEY}, a value of at most {MAX_VALUE})"
                )))
            }
            Header::Eof => return Ok(Read::Eof),
            Header::TooLong(_) => {
                return Ok(Read::Broken(format!(
                    "too big bulk count string: a header line of more than {MAX_HEADER} bytes"
                )))
            }
            Header::Other(line) => {
                let got = line
                    .first()
                    .map_or(String::new(), |b| b.escape_ascii().to_string());
                return Ok(Read::Broken(format!("expected '$', got '{got}'")));
            }
        };
        if len > taken || too_long.is_some() {
            // Read past it, keeping nothing, and the rest of the request.
            let skipped = io::copy(&mut (&mut *reader).take(len as u64), &mut io::sink())?;
            if skipped < len as u64 {
                return Ok(Read::Eof);
            }
            too_long.get_or_insert(format!(
                "an argument of {len} bytes is longer than this node takes: values of at most \
                 {max_value} bytes (--max-value-mib), keys of at most {MAX_KEY}"
            ));
        } else {
            match read_bulk(reader, len)? {
                Some(bulk) => args.push(bulk),
                None => return Ok(Read::Eof),
            }
        }
        let mut end = [0u8; 2];
        if reader.read_exact(&mut end).is_err() {
            return Ok(Read::Eof);
        }
        if end != *b"\r\n" {
            return Ok(Read::Broken("a bulk string must end with CRLF".into()));
        }
    }
    Ok(too_long.map_or(Read::Request(args), Read::TooLong))
}

/// A header line, `*<n>` or `$<n>`.
enum Header {
    /// The line was the expected prefix and a number.
    Number(i64),
    /// Any other line, without its line ending.
    Other(Vec<u8>),
    /// The connection ended first.
    Eof,
    /// The line is longer than [`MAX_HEADER`]; its first byte.
    TooLong(Option<u8>),
}

/// Reads a header line that should be `prefix` and a number. Parsed where
/// it lies in the reader's buffer when it is whole there, as it nearly
/// always is, so that the usual request allocates only its arguments.
fn read_header<R: BufRead>(reader: &mut R, prefix: u8) -> io::Result<Header> {
    let parse = |line: &[u8]| {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        line.strip_prefix(&[prefix]).and_then(number)
    };
    let mut first = None;
    match reader.fill_buf() {
        Ok(buf) => {
            first = buf.first().copied();
            let newline = buf.iter().take(MAX_HEADER).position(|&b| b == b'\n');
            if let Some((i, n)) = newline.and_then(|i| Some((i, parse(&buf[..i])?))) {
                reader.consume(i + 1);
                return Ok(Header::Number(n));
            }
        }
        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
        Err(e) => return Err(e),
    }
    Ok(match read_line(reader, MAX_HEADER)? {
        Line::Eof => Header::Eof,
        Line::TooLong => Header::TooLong(first),
        Line::Complete(line) => match parse(&line) {
            Some(n) => Header::Number(n),
            None => Header::Other(trim_cr(line)),
        },
    })
}

/// Reads `len` bytes of a bulk string; `None` if the connection ends
/// first. The buffer grows with the bytes that arrive, not the length
/// announced.
fn read_bulk<R: BufRead>(reader: &mut R, len: usize) -> io::Result<Option<Vec<u8>>> {
    match reader.fill_buf() {
        Ok(buf) if buf.len() >= len => {
            let bulk = buf[..len].to_vec();
            reader.consume(len);
            return Ok(Some(bulk));
        }
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
        Err(e) => return Err(e),
    }
    let mut bulk = Vec::with_capacity(len.min(64 * 1024));
    let read = (&mut *reader).take(len as u64).read_to_end(&mut bulk)?;
    Ok((read == len).then_some(bulk))
}

fn trim_cr(mut line: Vec<u8>) -> Vec<u8> {
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    line
}

fn number(digits: &[u8]) -> Option<i64> {
    std::str::from_utf8(digits).ok()?.parse().ok()
}

/// A reply, written in RESP2 or, to a client that asked for it with
/// `HELLO 3`, in RESP3.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reply {
    /// `+text`
    Simple(&'static str),
    /// `-text`: the text starts with the error's kind, `ERR` or another.
    Error(String),
    /// `:n`
    Integer(i64),
    /// `$len bytes`; none is `$-1` in RESP2 and `_` in RESP3.
    Bulk(Option<Vec<u8>>),
    /// `*n` replies.
    Array(Vec<Reply>),
    /// Names and values: `%n` pairs in RESP3, a flat array of `2n`
    /// replies in RESP2.
    Map(Vec<(Reply, Reply)>),
}

impl Reply {
    /// `+OK`.
    pub fn ok() -> Reply {
        Reply::Simple("OK")
    }

    /// `-ERR text`.
    pub fn err(text: impl Into<String>) -> Reply {
        Reply::Error(format!("ERR {}", text.into()))
    }

    /// A bulk string of `text`.
    pub fn text(text: impl Into<String>) -> Reply {
        Reply::Bulk(Some(text.into().into_bytes()))
    }

    /// Appends the reply's bytes, in `protocol`, to `out`.
    pub fn encode(&self, protocol: Protocol, out: &mut Vec<u8>) {
        match self {
            Reply::Simple(text) => line(out, b'+', text),
            Reply::Error(text) => line(out, b'-', text),
            Reply::Integer(n) => line(out, b':', &n.to_string()),
            Reply::Bulk(None) if protocol == Protocol::Resp3 => out.extend_from_slice(b"_\r\n"),
            Reply::Bulk(None) => out.extend_from_slice(b"$-1\r\n"),
            Reply::Bulk(Some(bytes)) => {
                line(out, b'$', &bytes.len().to_string());
                out.extend_from_slice(bytes);
                out.extend_from_slice(b"\r\n");
            }
            Reply::Array(items) => {
                line(out, b'*', &items.len().to_string());
                for item in items {
                    item.encode(protocol, out);
                }
            }
            Reply::Map(pairs) => {
                match protocol {
                    Protocol::Resp3 => line(out, b'%', &pairs.len().to_string()),
                    Protocol::Resp2 => line(out, b'*', &(2 * pairs.len()).to_string()),
                }
                for (name, value) in pairs {
                    name.encode(protocol, out);
                    value.encode(protocol, out);
                }
            }
        }
    }
}

/// `kind text CRLF`, with any CR or LF in `text` made a space, so a reply
/// line can never be split.
fn line(out: &mut Vec<u8>, kind: u8, text: &str) {
    out.push(kind);
    out.extend(
        text.bytes()
            .map(|b| if b == b'\r' || b == b'\n' { b' ' } else { b }),
    );
    out.extend_from_slice(b"\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::DEFAULT_MAX_VALUE;

    fn read(bytes: &[u8]) -> Read {
        read_request(&mut &bytes[..], DEFAULT_MAX_VALUE).unwrap()
    }

    #[test]
    fn an_argument_past_the_nodes_bound_is_read_past_and_refused() {
        let long = MAX_KEY + 5;
        let mut wire = format!("*3\r\n$3\r\nSET\r\n${long}\r\n").into_bytes();
        wire.extend(std::iter::repeat_n(b'k', long));
        wire.extend_from_slice(b"\r\n$1\r\nv\r\n*1\r\n$4\r\nPING\r\n");
        let mut reader = &wire[..];
        match read_request(&mut reader, 4).unwrap() {
            Read::TooLong(why) => assert!(why.contains("values of at most 4 bytes"), "{why}"),
            other => panic!("{other:?}"),
        }
        // The rest of that request was read past too: the next one is whole.
        let next = read_request(&mut reader, 4).unwrap();
        assert_eq!(next, Read::Request(vec![b"PING".to_vec()]));
    }

    #[test]
    fn arrays_and_inline_commands_parse() {
        assert_eq!(
            read(b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n"),
            Read::Request(vec![b"GET".to_vec(), b"k".to_vec()])
        );
        assert_eq!(
            read(b"*2\r\n$3\r\nSET\r\n$4\r\na\r\nb\r\n"),
            Read::Request(vec![b"SET".to_vec(), b"a\r\nb".to_vec()]),
            "a bulk string is binary: CRLF inside is data"
        );
        assert_eq!(
            read(b"PING  hello\r\n"),
            Read::Request(vec![b"PING".to_vec(), b"hello".to_vec()])
        );
        assert_eq!(read(b""), Read::Eof);
    }

    /// A reader that gives one byte per read, as a slow network might.
    struct Trickle<'a>(&'a [u8]);

    impl io::Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let Some((first, rest)) = self.0.split_first() else {
                return Ok(0);
            };
            buf[0] = *first;
            self.0 = rest;
            Ok(1)
        }
    }

    #[test]
    fn requests_split_anywhere_parse_as_whole_ones_do() {
        let bytes: &[u8] =
            b"*3\r\n$3\r\nSET\r\n$12\r\nkey:00000042\r\n$5\r\nva\r\nl\r\n*1\r\n$4\r\nPING\r\nECHO x\r\n";
        let whole = {
            let mut reader = io::BufReader::new(bytes);
            [(); 4].map(|()| read_request(&mut reader, DEFAULT_MAX_VALUE).unwrap())
        };
        for capacity in [1, 2, 3, 5, 8, 13, 64] {
            let mut reader = io::BufReader::with_capacity(capacity, Trickle(bytes));
            let split = [(); 4].map(|()| read_request(&mut reader, DEFAULT_MAX_VALUE).unwrap());
            assert_eq!(split, whole, "buffer of {capacity}");
        }
        assert_eq!(whole[3], Read::Eof);
        assert_eq!(
            whole[1],
            Read::Request(vec![b"PING".to_vec()]),
            "pipelined requests follow each other"
        );
    }

    #[test]
    fn broken_requests_are_named_and_nothing_big_is_allocated() {
        assert!(matches!(read(b"*x\r\n"), Read::Broken(_)));
        assert!(matches!(read(b"*99999999\r\n"), Read::Broken(_)));
        assert!(matches!(read(b"*1\r\n$999999999999\r\n"), Read::Broken(_)));
        assert!(matches!(read(b"*1\r\n:3\r\n"), Read::Broken(_)));
        assert!(matches!(read(b"*1\r\n$1\r\nabc\r\n"), Read::Broken(_)));
        // A length announced but not sent is a closed connection.
        assert_eq!(read(b"*1\r\n$10\r\nabc"), Read::Eof);
    }

    #[test]
    fn replies_encode_as_resp2() {
        let mut out = Vec::new();
        Reply::Array(vec![
            Reply::ok(),
            Reply::err("no\r\nsuch"),
            Reply::Integer(-3),
            Reply::Bulk(None),
            Reply::text("v"),
        ])
        .encode(Protocol::Resp2, &mut out);
        assert_eq!(
            out,
            b"*5\r\n+OK\r\n-ERR no  such\r\n:-3\r\n$-1\r\n$1\r\nv\r\n"
        );
    }
}
