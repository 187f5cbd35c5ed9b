//! RESP2, the Redis serialization protocol, as far as a server needs it:
//! reading requests (arrays of bulk strings, or inline commands) and
//! writing replies. Pure: no sockets, no node. The commands themselves are
//! answered in `server/resp.rs`.
//!
//! A request is `*<n>\r\n` followed by `n` bulk strings `$<len>\r\n<bytes>\r\n`;
//! an inline command is one line of words separated by spaces. Every
//! length is checked against a bound before anything is allocated for it:
//! at most [`MAX_ARGS`] arguments, each at most [`MAX_BULK`] bytes.

use std::io::{self, BufRead, Read as _};

use crate::store::{MAX_KEY, MAX_VALUE};
use crate::text::{read_line, Line};

/// The most arguments one request may have (`MSET` of 4,096 pairs).
pub const MAX_ARGS: usize = 1 + 2 * 4096;

/// The longest argument: a value, with room to spare.
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
    /// The client closed the connection.
    Eof,
}

/// Reads one request.
///
/// # Errors
/// The reader's, including a read timeout.
pub fn read_request<R: BufRead>(reader: &mut R) -> io::Result<Read> {
    let header = match read_line(reader, MAX_HEADER)? {
        Line::Eof => return Ok(Read::Eof),
        Line::TooLong => return Ok(Read::Broken("too big inline request".into())),
        Line::Complete(line) => trim_cr(line),
    };
    let Some(count) = header.strip_prefix(b"*") else {
        // An inline command: words separated by spaces.
        let args: Vec<Vec<u8>> = header
            .split(|b| *b == b' ')
            .filter(|w| !w.is_empty())
            .map(<[u8]>::to_vec)
            .collect();
        if args.len() > MAX_ARGS {
            return Ok(Read::Broken("too many arguments".into()));
        }
        return Ok(Read::Request(args));
    };
    let Some(count) = number(count).filter(|n| *n <= MAX_ARGS) else {
        return Ok(Read::Broken("invalid multibulk length".into()));
    };
    let mut args = Vec::with_capacity(count.min(64));
    for _ in 0..count {
        let header = match read_line(reader, MAX_HEADER)? {
            Line::Complete(line) => trim_cr(line),
            Line::Eof => return Ok(Read::Eof),
            Line::TooLong => return Ok(Read::Broken("invalid bulk length".into())),
        };
        let Some(len) = header
            .strip_prefix(b"$")
            .and_then(number)
            .filter(|n| *n <= MAX_BULK)
        else {
            return Ok(Read::Broken(format!(
                "expected '$' and a length of at most {MAX_BULK}"
            )));
        };
        // The buffer grows with the bytes that arrive, not the length
        // announced.
        let mut bulk = Vec::with_capacity(len.min(64 * 1024));
        let read = (&mut *reader).take(len as u64).read_to_end(&mut bulk)?;
        let mut end = [0u8; 2];
        if read < len || reader.read_exact(&mut end).is_err() {
            return Ok(Read::Eof);
        }
        if end != *b"\r\n" {
            return Ok(Read::Broken("a bulk string must end with CRLF".into()));
        }
        args.push(bulk);
    }
    Ok(Read::Request(args))
}

fn trim_cr(mut line: Vec<u8>) -> Vec<u8> {
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    line
}

fn number(digits: &[u8]) -> Option<usize> {
    std::str::from_utf8(digits).ok()?.parse().ok()
}

/// A RESP2 reply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reply {
    /// `+text`
    Simple(String),
    /// `-text`: the text starts with the error's kind, `ERR` or another.
    Error(String),
    /// `:n`
    Integer(i64),
    /// `$len bytes`, or `$-1` for none.
    Bulk(Option<Vec<u8>>),
    /// `*n` replies.
    Array(Vec<Reply>),
}

impl Reply {
    /// `+OK`.
    pub fn ok() -> Reply {
        Reply::Simple("OK".into())
    }

    /// `-ERR text`.
    pub fn err(text: impl Into<String>) -> Reply {
        Reply::Error(format!("ERR {}", text.into()))
    }

    /// A bulk string of `text`.
    pub fn text(text: impl Into<String>) -> Reply {
        Reply::Bulk(Some(text.into().into_bytes()))
    }

    /// Appends the reply's bytes to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Reply::Simple(text) => line(out, b'+', text),
            Reply::Error(text) => line(out, b'-', text),
            Reply::Integer(n) => line(out, b':', &n.to_string()),
            Reply::Bulk(None) => out.extend_from_slice(b"$-1\r\n"),
            Reply::Bulk(Some(bytes)) => {
                line(out, b'$', &bytes.len().to_string());
                out.extend_from_slice(bytes);
                out.extend_from_slice(b"\r\n");
            }
            Reply::Array(items) => {
                line(out, b'*', &items.len().to_string());
                for item in items {
                    item.encode(out);
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

    fn read(bytes: &[u8]) -> Read {
        read_request(&mut &bytes[..]).unwrap()
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
        .encode(&mut out);
        assert_eq!(
            out,
            b"*5\r\n+OK\r\n-ERR no  such\r\n:-3\r\n$-1\r\n$1\r\nv\r\n"
        );
    }
}
