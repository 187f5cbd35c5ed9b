//! A small blocking client for the text protocol, used by the `chord`
//! command line and by the tests: send a line, read the answer (one line,
//! or lines up to `END` for the commands that list things).

use std::io::{self, BufRead, BufReader, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use crate::text;

/// A connection to one node's text protocol.
pub struct Client {
    reader: BufReader<TcpStream>,
}

impl Client {
    /// Connects to `addr`; reads and writes give up after `timeout`.
    ///
    /// # Errors
    /// The connect error, or `NotFound` when `addr` resolves to nothing.
    pub fn connect(addr: &str, timeout: Duration) -> io::Result<Client> {
        let target = addr.to_socket_addrs()?.next().ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::NotFound,
                format!("{addr} resolves to no address"),
            )
        })?;
        let stream = TcpStream::connect_timeout(&target, timeout)?;
        stream.set_read_timeout(Some(timeout))?;
        stream.set_write_timeout(Some(timeout))?;
        Ok(Client {
            reader: BufReader::new(stream),
        })
    }

    /// Sends one request line and returns the answer's lines, without line
    /// endings and without the closing `END`.
    ///
    /// # Errors
    /// I/O errors, and `UnexpectedEof` when the node closes mid-answer.
    pub fn request(&mut self, line: &str) -> io::Result<Vec<String>> {
        self.reader
            .get_mut()
            .write_all(format!("{line}\r\n").as_bytes())?;
        let multiline = text::parse(line.as_bytes()).is_ok_and(|c| text::is_multiline(&c));
        let mut lines = Vec::new();
        loop {
            let mut answer = String::new();
            if self.reader.read_line(&mut answer)? == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the node closed the connection",
                ));
            }
            let answer = answer.trim_end_matches(['\r', '\n']).to_string();
            let first_is_error = lines.is_empty() && answer.starts_with("ERR");
            if !multiline || first_is_error {
                lines.push(answer);
                return Ok(lines);
            }
            if answer == "END" {
                return Ok(lines);
            }
            lines.push(answer);
        }
    }

    /// Sends one request line and returns its single answer line.
    ///
    /// # Errors
    /// As [`Client::request`].
    pub fn line(&mut self, line: &str) -> io::Result<String> {
        Ok(self.request(line)?.join("\n"))
    }
}

/// The RING walk from the node at `addr`, with whole identifiers: one
/// `<id> <host:port> owned=<n> replicas=<n>` line per node, by successor.
///
/// # Errors
/// The connection's error, or the node's `ERR` answer.
pub fn ring(addr: &str, timeout: Duration) -> Result<Vec<String>, String> {
    let mut client = Client::connect(addr, timeout).map_err(|e| format!("{addr}: {e}"))?;
    let lines = client
        .request("RING FULL")
        .map_err(|e| format!("{addr}: {e}"))?;
    match lines.first() {
        Some(first) if first.starts_with("ERR") => Err(format!("{addr}: {first}")),
        _ => Ok(lines),
    }
}
