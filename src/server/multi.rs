//! Transactions (`MULTI` ... `EXEC`) and the commands over several keys
//! that are atomic (`MSETNX`, `RENAME`, `RENAMENX`, `COPY`): each becomes
//! one [`Atomic`] request, applied at the owner of its keys under one hold
//! of its store lock (`dhash/atomic.rs` says how, and why the keys must
//! share one identifier: one hash tag).
//!
//! A transaction queues its commands at the node the client talks to, as
//! Redis queues them, and checks each as it comes: a command that cannot
//! run inside a transaction, or whose key has another identifier than the
//! first key's (`CROSSSLOT`), is refused at once, and `EXEC` then answers
//! `EXECABORT`, as Redis does for a command refused while queued. At
//! `EXEC` every queued command becomes operations of one request; the
//! answers are worded as each command alone would have been answered. A
//! command that fails at the owner (an `INCR` of text) answers its error
//! and the others still apply, as in Redis.
//!
//! Served inside a transaction: `GET`, `SET` (every option but `GET`),
//! `GETSET`, `GETDEL`, `DEL`, `EXISTS`, `MGET`, `MSET`, `INCR` and its
//! kin, `INCRBYFLOAT`, `APPEND`, `EXPIRE` and its kin, `PERSIST`. Other
//! commands are refused by name. `WATCH` is refused: chord keeps no
//! versions a client could watch across requests. Relative expiry times
//! are read by the clock at `EXEC`, as Redis reads them.

use super::expiry::{expiry_of, time};
use crate::command::{Answer, Command, Refusal, SetReply};
use crate::id::Id;
use crate::message::{Atomic, Op, OpAnswer, Pair, Update};
use crate::node::Node;

/// The refusal of a command a transaction does not take.
const NOT_IN_MULTI: &str = "this command is not served inside MULTI: a transaction takes GET, SET, \
     GETSET, GETDEL, DEL, EXISTS, MGET, MSET, INCR and its kin, INCRBYFLOAT, APPEND, EXPIRE and its \
     kin, and PERSIST";

/// A transaction being queued on one connection.
#[derive(Debug, Default)]
pub(super) struct Transaction {
    /// The commands queued, in order.
    commands: Vec<Command>,
    /// The identifier of the first key queued: every other must have it.
    id: Option<Id>,
    /// A command was refused as it was queued: `EXEC` discards them all.
    aborted: bool,
}

impl Transaction {
    /// Queues `command`, or refuses it (and with it the transaction).
    pub(super) fn queue(&mut self, node: &Node, command: Command) -> Answer {
        let Some(keys) = keys_of(&command) else {
            self.aborted = true;
            return Refusal::usage(NOT_IN_MULTI);
        };
        for key in keys {
            let id = node.keys().key_id(key);
            if *self.id.get_or_insert(id) != id {
                self.aborted = true;
                return crate::error::Error::CrossSlot.into();
            }
        }
        self.commands.push(command);
        Answer::Queued
    }

    /// A request was refused while queued: `EXEC` will discard the rest.
    pub(super) fn abort(&mut self) {
        self.aborted = true;
    }

    /// `EXEC`: every queued command, applied at once at their owner; each
    /// one's answer.
    pub(super) fn exec(self, node: &Node) -> Answer {
        if self.aborted {
            return Answer::Refused(Refusal::ExecAbort);
        }
        let mut ops = Vec::new();
        // Each command's count of operations and how its answer is made,
        // or its refusal (only a time out of range), in its place.
        let mut shapes: Vec<Result<(usize, Shape), Answer>> = Vec::new();
        for command in self.commands {
            shapes.push(plan(node, command).map(|(planned, shape)| {
                let count = planned.len();
                ops.extend(planned);
                (count, shape)
            }));
        }
        if ops.is_empty() {
            let answers = shapes
                .into_iter()
                .map(|s| s.map_or_else(|a| a, |(_, s)| s.answer(&[])));
            return Answer::Many(answers.collect());
        }
        let answers = match node.keys().atomic(&Atomic::Each(ops)) {
            Ok(answers) => answers,
            Err(e) => return e.into(),
        };
        let mut rest = answers.as_slice();
        let mut out = Vec::with_capacity(shapes.len());
        for planned in shapes {
            out.push(match planned {
                Ok((count, shape)) => {
                    let (mine, after) = rest.split_at(count.min(rest.len()));
                    rest = after;
                    shape.answer(mine)
                }
                Err(refused) => refused,
            });
        }
        Answer::Many(out)
    }
}

/// `MSETNX`: every pair, or none.
pub(super) fn set_if_none(node: &Node, pairs: Vec<(Vec<u8>, Vec<u8>)>) -> Answer {
    let pairs = pairs
        .into_iter()
        .map(|(key, value)| Pair { key, value })
        .collect();
    run(node, &Atomic::SetIfNone(pairs), Shape::Changed)
}

/// `RENAME` (OK) and `RENAMENX` (1 or 0).
pub(super) fn rename(node: &Node, from: Vec<u8>, to: Vec<u8>, only_if_absent: bool) -> Answer {
    let shape = if only_if_absent {
        Shape::Changed
    } else {
        Shape::Ok
    };
    let rename = Atomic::Rename {
        from,
        to,
        only_if_absent,
    };
    run(node, &rename, shape)
}

/// `COPY`: 1 or 0.
pub(super) fn copy(node: &Node, from: Vec<u8>, to: Vec<u8>, replace: bool) -> Answer {
    run(node, &Atomic::Copy { from, to, replace }, Shape::Changed)
}

/// One atomic request, its answer made as `shape` says.
fn run(node: &Node, atomic: &Atomic, shape: Shape) -> Answer {
    match node.keys().atomic(atomic) {
        Ok(answers) => shape.answer(&answers),
        Err(e) => e.into(),
    }
}

/// How a command's answer is made from its operations' answers.
enum Shape {
    /// A read's value.
    Value,
    /// `SET`: whether it wrote, worded as asked.
    Set(SetReply),
    /// The value before (`GETSET`, `GETDEL`).
    Previous,
    /// How many deletes found a value.
    Deleted,
    /// How many reads found a value.
    Exists,
    /// Every read's value.
    Values,
    /// `OK` unless refused.
    Ok,
    /// The integer written.
    Sum,
    /// The value written, as a bulk string (`INCRBYFLOAT`).
    Written,
    /// The length of the value written.
    Length,
    /// Whether it wrote (`EXPIRE`, `PERSIST`, `MSETNX`, `COPY`, `RENAMENX`).
    Changed,
}

impl Shape {
    fn answer(self, answers: &[OpAnswer]) -> Answer {
        if let Some(why) = answers.iter().find_map(|a| match a {
            OpAnswer::Failed(why) => Some(why),
            _ => None,
        }) {
            return Refusal::usage(why.clone());
        }
        let wrote = |a: &OpAnswer| matches!(a, OpAnswer::Wrote { .. });
        let first = answers.first();
        match self {
            Shape::Value => Answer::Value(match first {
                Some(OpAnswer::Value(value)) => value.clone(),
                _ => None,
            }),
            Shape::Set(reply) => Answer::Written(first.is_some_and(wrote), reply),
            Shape::Previous => Answer::Value(match first {
                Some(OpAnswer::Wrote { previous, .. } | OpAnswer::Unchanged(previous)) => {
                    previous.clone()
                }
                _ => None,
            }),
            Shape::Deleted => Answer::Deleted(answers.iter().filter(|a| wrote(a)).count() as i64),
            Shape::Exists => Answer::Integer(
                answers
                    .iter()
                    .filter(|a| matches!(a, OpAnswer::Value(Some(_))))
                    .count() as i64,
            ),
            Shape::Values => Answer::Values(
                answers
                    .iter()
                    .map(|a| match a {
                        OpAnswer::Value(value) => value.clone(),
                        _ => None,
                    })
                    .collect(),
            ),
            Shape::Ok => Answer::Ok,
            Shape::Sum => match first {
                Some(OpAnswer::Wrote {
                    value: Some(value), ..
                }) => std::str::from_utf8(value)
                    .ok()
                    .and_then(|text| text.parse().ok())
                    .map_or_else(
                        || Refusal::usage("the owner's sum is no integer"),
                        Answer::Sum,
                    ),
                _ => Refusal::usage("the owner wrote no sum"),
            },
            Shape::Written => Answer::Value(match first {
                Some(OpAnswer::Wrote { value, .. }) => value.clone(),
                _ => None,
            }),
            Shape::Length => Answer::Integer(match first {
                Some(OpAnswer::Wrote {
                    value: Some(value), ..
                }) => value.len() as i64,
                _ => 0,
            }),
            Shape::Changed => Answer::Changed(first.is_some_and(wrote)),
        }
    }
}

/// The keys a command reads or writes, if a transaction takes it.
fn keys_of(command: &Command) -> Option<Vec<&[u8]>> {
    Some(match command {
        Command::Get { key }
        | Command::Set { key, .. }
        | Command::Swap { key, .. }
        | Command::Increment { key, .. }
        | Command::IncrementFloat { key, .. }
        | Command::Append { key, .. }
        | Command::Expire { key, .. }
        | Command::Persist { key } => vec![key.as_slice()],
        Command::Delete { keys } | Command::Exists { keys } | Command::GetMany { keys } => {
            keys.iter().map(Vec::as_slice).collect()
        }
        Command::SetMany { pairs } => pairs.iter().map(|(k, _)| k.as_slice()).collect(),
        _ => return None,
    })
}

/// A command's operations and how its answer is made of theirs; or its
/// refusal, for a time out of range.
fn plan(node: &Node, command: Command) -> Result<(Vec<Op>, Shape), Answer> {
    let update = |key: Vec<u8>, update: Update| Op::Update { key, update };
    let delete = || Update::Swap {
        value: None,
        exists: None,
        expiry: crate::message::Expiry::Clear,
    };
    let set = |value: Vec<u8>| Update::Set {
        value,
        exists: None,
        expiry: crate::message::Expiry::Clear,
    };
    Ok(match command {
        Command::Get { key } => (vec![Op::Get { key }], Shape::Value),
        Command::Set {
            key,
            value,
            only_if_exists,
            expiry,
            reply,
        } => {
            let expiry = expiry_of(node, expiry)?;
            let set = Update::Set {
                value,
                exists: only_if_exists,
                expiry,
            };
            let shape = match (only_if_exists, reply) {
                (None, SetReply::Ok) => Shape::Ok,
                (_, reply) => Shape::Set(reply),
            };
            (vec![update(key, set)], shape)
        }
        Command::Swap {
            key,
            value,
            only_if_exists,
            expiry,
        } => {
            let swap = Update::Swap {
                value,
                exists: only_if_exists,
                expiry: expiry_of(node, expiry)?,
            };
            (vec![update(key, swap)], Shape::Previous)
        }
        Command::Delete { keys } => (
            keys.into_iter().map(|k| update(k, delete())).collect(),
            Shape::Deleted,
        ),
        Command::Exists { keys } => (
            keys.into_iter().map(|key| Op::Get { key }).collect(),
            Shape::Exists,
        ),
        Command::GetMany { keys } => (
            keys.into_iter().map(|key| Op::Get { key }).collect(),
            Shape::Values,
        ),
        Command::SetMany { pairs } => (
            pairs.into_iter().map(|(k, v)| update(k, set(v))).collect(),
            Shape::Ok,
        ),
        Command::Increment { key, by } => (vec![update(key, Update::Increment(by))], Shape::Sum),
        Command::IncrementFloat { key, by } => (
            vec![update(key, Update::IncrementFloat(by))],
            Shape::Written,
        ),
        Command::Append { key, value } => (vec![update(key, Update::Append(value))], Shape::Length),
        Command::Expire { key, when, only } => {
            let Some(at) = time(node, when) else {
                return Err(Answer::Refused(Refusal::BadTime {
                    command: when.command,
                }));
            };
            let expire = Update::Expire { at: Some(at), only };
            (vec![update(key, expire)], Shape::Changed)
        }
        Command::Persist { key } => {
            let persist = Update::Expire {
                at: None,
                only: None,
            };
            (vec![update(key, persist)], Shape::Changed)
        }
        // Refused as it was queued (keys_of): never planned.
        _ => return Err(Refusal::usage(NOT_IN_MULTI)),
    })
}
