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

use super::commandstats::{thread_cpu, Cost, Outcome, CPU_SAMPLE};
use super::execute::Session;
use super::Shared;
use crate::command::{Answer, Refusal};
use crate::resp::{command, format, read_request, Read, Reply};

/// The longest an answer waits in a pipeline before it is sent.
const PIPELINE_FLUSH: Duration = Duration::from_millis(100);

/// The most pipelined requests read before any is answered.
const PIPELINE_BATCH: usize = 64;

/// How reading a pipeline stopped, other than with a request.
enum Stop {
    /// A request over a limit, read past and refused; the connection goes on.
    TooLong(String),
    /// The client closed the connection, or went silent past its timeout.
    Closed,
    /// The stream is out of step: say why and hang up.
    Broken(String),
}

/// What is kept of a request as read, to count it once answered: its name
/// as typed (for INFO commandstats: a copy on the stack, as every name
/// chord knows is shorter), its length, and whether it was refused before
/// running (`None`: an unknown command).
type Described = ([u8; 16], usize, Option<bool>);

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
    // Batches answered: the first, then one in CPU_SAMPLE, is timed.
    let mut batches: u64 = 0;
    // The requests of a batch, kept from one batch to the next.
    let mut described: Vec<Described> = Vec::new();
    loop {
        // What the client has sent already, up to PIPELINE_BATCH requests,
        // answered together (`server/pipeline.rs`).
        let mut parsed = Vec::new();
        let stop = loop {
            match read_request(&mut reader, shared.node.config().max_value) {
                Ok(Read::Request(args)) if args.is_empty() => {}
                Ok(Read::Request(args)) => {
                    let mut name = [0u8; 16];
                    let len = args[0].len().min(name.len());
                    name[..len].copy_from_slice(&args[0][..len]);
                    let request = command::parse(args);
                    let rejected = match &request {
                        Err(Refusal::Unknown(_)) => None,
                        Err(_) => Some(true),
                        Ok(_) => Some(false),
                    };
                    described.push((name, len, rejected));
                    parsed.push(request);
                }
                Ok(Read::TooLong(why)) => break Some(Stop::TooLong(why)),
                Ok(Read::Eof) => break Some(Stop::Closed),
                Ok(Read::Broken(why)) => break Some(Stop::Broken(why)),
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    break Some(Stop::Closed)
                }
                Err(e) => return Err(e),
            }
            if reader.buffer().is_empty() || parsed.len() >= PIPELINE_BATCH {
                break None;
            }
        };
        let started = Instant::now();
        let cpu_before = batches.is_multiple_of(CPU_SAMPLE).then(thread_cpu);
        batches += 1;
        let calls_before = crate::transport::client_calls_made();
        let answers = super::pipeline::answer_all(shared, &mut session, parsed);
        let total = Cost {
            took: started.elapsed(),
            cpu: cpu_before.map(|before| thread_cpu().saturating_sub(before)),
            peer_calls: crate::transport::client_calls_made() - calls_before,
        };
        let costs = Cost::shares(total, answers.len());
        let mut quit = false;
        for (((name, len, rejected), answer), each) in described.drain(..).zip(answers).zip(costs) {
            if let Some(rejected) = rejected {
                let outcome = match (&answer, rejected) {
                    (_, true) => Outcome::Rejected,
                    (Answer::Refused(_), false) => Outcome::Failed,
                    _ => Outcome::Done,
                };
                shared.commands.count(&name[..len], each, outcome);
            }
            quit = matches!(answer, Answer::Bye);
            out.clear();
            format(answer).encode(session.protocol, &mut out);
            writer.write_all(&out)?;
            if quit {
                break;
            }
        }
        if quit {
            return writer.flush();
        }
        match stop {
            None => {}
            Some(Stop::TooLong(why)) => {
                out.clear();
                Reply::err(why).encode(session.protocol, &mut out);
                writer.write_all(&out)?;
                writer.flush()?;
                unsent_since = None;
                continue;
            }
            Some(Stop::Closed) => return writer.flush(),
            Some(Stop::Broken(why)) => {
                out.clear();
                Reply::err(format!("Protocol error: {why}")).encode(session.protocol, &mut out);
                writer.write_all(&out)?;
                return writer.flush();
            }
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
