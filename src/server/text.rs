//! The text protocol's side of a connection: the loop that reads a line,
//! parses it into the shared command ([`crate::text`]), carries it out
//! once ([`execute`]) and writes its lines, until QUIT, the end of the
//! stream or an idle timeout.

use std::io::{self, BufReader, BufWriter, Write};
use std::net::TcpStream;

use super::execute::{answer, Session};
use super::Shared;
use crate::command::{Answer, Refusal};
use crate::text::{self, Line};

/// The text protocol: a line in, an answer out, until QUIT, EOF or idle.
/// `line` is the first line, already read to tell text from HTTP.
pub(super) fn serve(
    shared: &Shared,
    mut session: Session,
    mut line: io::Result<Line>,
    mut reader: BufReader<TcpStream>,
    mut writer: BufWriter<TcpStream>,
) -> io::Result<()> {
    loop {
        let (answer, multiline) = match line {
            Ok(Line::Complete(bytes)) => {
                let parsed = text::parse(&bytes).map_err(|e| match e {
                    text::ParseError::Unknown(word) => redis_hint(shared, word),
                    e => Refusal::Usage(e.to_string()),
                });
                let multiline = parsed.as_ref().is_ok_and(text::is_multiline);
                (answer(shared, &mut session, parsed), multiline)
            }
            Ok(Line::Eof) => return Ok(()),
            Ok(Line::TooLong) => {
                // The rest of the line was not read: no next line to find.
                writeln!(writer, "ERR {}; closing\r", text::ParseError::LineTooLong)?;
                return writer.flush();
            }
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
        let quit = matches!(answer, Answer::Bye);
        for line in text::format(answer, multiline) {
            writer.write_all(line.as_bytes())?;
            writer.write_all(b"\r\n")?;
        }
        if quit {
            return writer.flush();
        }
        // Replies go out in batches: while another whole request is
        // already buffered (a pipelining client), answer it first.
        if !reader.buffer().contains(&b'\n') {
            super::count_flush(shared);
            writer.flush()?;
        }
        line = text::read_line(&mut reader, text::MAX_LINE);
    }
}

/// The refusal of a word the text protocol does not know. A Redis
/// command's name gets a pointer to the Redis protocol, which the same
/// port speaks, and to the text protocol's own word where there is one.
fn redis_hint(shared: &Shared, word: String) -> Refusal {
    let known = !matches!(
        crate::resp::command::parse(vec![word.clone().into_bytes()]),
        Err(Refusal::Unknown(_))
    );
    if !known {
        return Refusal::Usage(text::ParseError::Unknown(word).to_string());
    }
    let ours = match word.as_str() {
        "SET" => "here a write is PUT <key> <value>; ",
        _ => "the text protocol has no such command; ",
    };
    let port = shared
        .node
        .me()
        .addr
        .rsplit(':')
        .next()
        .unwrap_or("")
        .to_string();
    Refusal::Usage(format!(
        "{word} is a Redis command: {ours}this port also speaks Redis \
         (redis-cli -p {port}); type HELP for the text protocol's commands"
    ))
}
