//! The Redis protocol's side of a connection: a connection whose first
//! byte is `*` speaks RESP (RESP2, or RESP3 after `HELLO 3`), so `redis-cli`, `redis-benchmark` and Redis
//! client libraries talk to any node of a ring. Each request is read
//! ([`crate::resp`]), parsed into the shared command
//! ([`crate::resp::command`]), carried out once ([`execute`]) and worded as
//! Redis words it. Replies go out in batches, flushed only when no request
//! is left in the input buffer.

use std::io::{self, BufReader, BufWriter, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use super::commandstats::Outcome;
use super::execute::{answer, Session};
use super::Shared;
use crate::command::{Answer, Refusal};
use crate::resp::{command, format, read_request, Read, Reply};

/// The longest an answer waits in a pipeline before it is sent.
const PIPELINE_FLUSH: Duration = Duration::from_millis(100);

/// Serves one RESP connection until the client closes it or says QUIT.
pub(super) fn serve(
    shared: &Shared,
    mut session: Session,
    mut reader: BufReader<TcpStream>,
    mut writer: BufWriter<TcpStream>,
) -> io::Result<()> {
    let mut out = Vec::new();
    // Answers are flushed when no request waits behind them; during a long
    // pipeline, also when the oldest unsent one has waited this long, so a
    // client reading with a timeout (redis-py's is 5 s) hears from us.
    let mut unsent_since: Option<Instant> = None;
    loop {
        let args = match read_request(&mut reader, shared.node.config().max_value) {
            Ok(Read::Request(args)) => args,
            Ok(Read::TooLong(why)) => {
                out.clear();
                Reply::err(why).encode(session.protocol, &mut out);
                writer.write_all(&out)?;
                writer.flush()?;
                continue;
            }
            Ok(Read::Eof) => return writer.flush(),
            Ok(Read::Broken(why)) => {
                Reply::err(format!("Protocol error: {why}")).encode(session.protocol, &mut out);
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
        // The name as typed, for INFO commandstats: a copy on the stack
        // (every name chord knows is shorter), not an allocation.
        let mut name = [0u8; 16];
        let len = args[0].len().min(name.len());
        name[..len].copy_from_slice(&args[0][..len]);
        let parsed = command::parse(args);
        let rejected = match &parsed {
            Err(Refusal::Unknown(_)) => None,
            Err(_) => Some(true),
            Ok(_) => Some(false),
        };
        let started = Instant::now();
        let answer = answer(shared, &mut session, parsed);
        if let Some(rejected) = rejected {
            let outcome = match (&answer, rejected) {
                (_, true) => Outcome::Rejected,
                (Answer::Refused(_), false) => Outcome::Failed,
                _ => Outcome::Done,
            };
            shared
                .commands
                .count(&name[..len], started.elapsed(), outcome);
        }
        let quit = matches!(answer, Answer::Bye);
        out.clear();
        format(answer).encode(session.protocol, &mut out);
        writer.write_all(&out)?;
        if quit {
            return writer.flush();
        }
        if reader.buffer().is_empty()
            || unsent_since.get_or_insert_with(Instant::now).elapsed() >= PIPELINE_FLUSH
        {
            super::count_flush(shared);
            writer.flush()?;
            unsent_since = None;
        }
    }
}
