//! Pipelined requests carried out together where no client can tell.
//!
//! A Redis client may send many requests before reading any answer (a
//! pipeline). Carried out one after another, each pays its own round trips
//! to the owner and the replicas. Consecutive plain `GET`s are instead read
//! as one `MGET` is, and consecutive plain `SET`s (no condition, no
//! expiry) written as one `MSET` is ([`crate::dhash::batch`]): every key's
//! owner asked at once, every copy sent at once. The answers are the ones
//! each request would have had alone, in order: each key keeps the
//! guarantees of a single request, the same key written twice ends with
//! the later value, and a run never spans another command, so `SET k v`
//! then `INCR k` then `GET k` keep their order. Should the run fail as a
//! whole (a key too long, the ring moving), its requests are carried out
//! again one by one, and each gets its own answer; rewriting a value that
//! was written already stamps it again, which no reader can tell.

use super::execute::{answer, Session};
use super::Shared;
use crate::command::{Answer, Command, Refusal, SetExpiry, SetReply};
use crate::stats::Stats;

/// What a run of requests does.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Run {
    Reads,
    Writes,
}

/// Answers `parsed`, pipelined requests of one client, in order.
pub(super) fn answer_all(
    shared: &Shared,
    session: &mut Session,
    parsed: Vec<Result<Command, Refusal>>,
) -> Vec<Answer> {
    let mut answers = Vec::with_capacity(parsed.len());
    // A node alone makes no peer calls, so a run would save nothing there
    // and cost the batch's bookkeeping.
    let node = &shared.node;
    let alone = node.successor().addr == node.me().addr;
    let mut rest = parsed.into_iter().peekable();
    while let Some(first) = rest.next() {
        let Some(kind) = run_of(session, &first).filter(|_| !alone) else {
            answers.push(answer(shared, session, first));
            if matches!(answers.last(), Some(Answer::Bye)) {
                break;
            }
            continue;
        };
        let mut run = vec![first];
        while let Some(next) = rest.next_if(|next| run_of(session, next) == Some(kind)) {
            run.push(next);
        }
        let commands: Vec<Command> = run.into_iter().filter_map(Result::ok).collect();
        answers.extend(together(shared, session, kind, commands));
    }
    answers
}

/// The run a request may join, if any.
fn run_of(session: &Session, parsed: &Result<Command, Refusal>) -> Option<Run> {
    if !session.runs_commands_now() {
        return None;
    }
    match parsed {
        Ok(Command::Get { .. }) => Some(Run::Reads),
        Ok(Command::Set {
            only_if_exists: None,
            expiry: SetExpiry::Clear,
            reply: SetReply::Ok,
            ..
        }) => Some(Run::Writes),
        _ => None,
    }
}

/// Carries out a run of plain reads or writes together; one by one if
/// that fails, or if there is only one.
fn together(shared: &Shared, session: &mut Session, kind: Run, run: Vec<Command>) -> Vec<Answer> {
    let node = &shared.node;
    if run.len() > 1 {
        let keys = || {
            run.iter().filter_map(|c| match c {
                Command::Get { key } | Command::Set { key, .. } => Some(key.as_slice()),
                _ => None,
            })
        };
        // The run's answers, once what it wrote is as durable as --fsync
        // says; a run that fails, or cannot be made durable, is redone
        // one request at a time below.
        let done = node.keys().durably(|| match kind {
            Run::Reads => node
                .keys()
                .get_many(&keys().collect::<Vec<_>>())
                .map(|values| values.into_iter().map(Answer::Value).collect::<Vec<_>>()),
            Run::Writes => {
                let values = run.iter().filter_map(|c| match c {
                    Command::Set { value, .. } => Some(Some(value.as_slice())),
                    _ => None,
                });
                let writes: Vec<_> = keys().zip(values).collect();
                node.keys()
                    .write_many(&writes)
                    .map(|_| writes.iter().map(|_| Answer::Ok).collect())
            }
        });
        if let Ok(Ok(answers)) = done {
            Stats::add(&node.stats().client_requests, answers.len() as u64);
            return answers;
        }
    }
    run.into_iter()
        .map(|command| answer(shared, session, Ok(command)))
        .collect()
}
