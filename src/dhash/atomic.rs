//! Operations over several keys at once, atomically: a transaction
//! (`MULTI` ... `EXEC`), `MSETNX`, `RENAME`, `RENAMENX`, `COPY`.
//!
//! Atomic means one owner, so every key must have the same identifier:
//! keys that share a hash tag (`{user:42}:name`, `{user:42}:mail`; see
//! [`crate::id::IdSpace::key`]) do, whichever node owns them and however
//! the ring moves. Keys of different identifiers are refused before
//! anything is sent, as Redis Cluster refuses keys of different slots
//! (`CROSSSLOT`), even when one node owns them both for now: whether a
//! request works must not depend on where the ring happens to stand.
//!
//! The coordinator sends the whole request to the owner in one message;
//! the owner applies it under one hold of its store lock, so no other
//! write falls between its operations, and answers with each operation's
//! answer and the entries it wrote. The coordinator copies those to the
//! replicas, as for a single write, before it answers: R copies of every
//! write before OK.
//!
//! A retry carries the same [`UpdateId`], and an owner that already
//! applied it (it remembers the id, or holds an entry the request wrote)
//! refuses it rather than applying it twice. The answers are not kept, so
//! the client then gets an error saying the request was applied and to
//! read the keys again: at most once, never twice.

use std::sync::Arc;

use super::kv::{full, owner_failed, Attempt};
use super::{before_of, changed, Dhash};
use crate::error::{Error, Result};
use crate::id::{Id, NodeRef};
use crate::message::{Atomic, Op, OpAnswer, Response};
use crate::peer::{self, Applied, CallError, Peer};
use crate::store::{Content, Entry, Item, KeptValue, Record, Store, UpdateId};

impl Dhash {
    /// Applies `atomic` at the owner of its keys, atomically there, and
    /// copies what it wrote to the replicas; each operation's answer.
    ///
    /// # Errors
    /// [`Error::CrossSlot`] when its keys have more than one identifier;
    /// else as [`Dhash::update`].
    pub fn atomic(&self, atomic: &Atomic) -> Result<Vec<OpAnswer>> {
        let keys = atomic.keys();
        let Some(first) = keys.first().copied() else {
            return Ok(Vec::new());
        };
        let id = self.key_id(first);
        if keys.iter().any(|key| self.key_id(key) != id) {
            return Err(Error::CrossSlot);
        }
        let once = self.new_update_id();
        let request = |peer: &Peer<'_>| peer.atomic(id, atomic.clone(), once);
        let here = || peer::applied(self.owner_atomic(id, atomic.clone(), once));
        self.retrying(first, |first_attempt| {
            let listed = self.ask_listed_owner(id, first_attempt, here, request);
            let (owner, answer) = match listed {
                None
                | Some((
                    _,
                    Err(CallError::NotOwner | CallError::Syncing | CallError::Transport(_)),
                )) => {
                    let (_, lookup) = self
                        .lookup(first)
                        .map_err(|e| super::kv::Failure::Retry(e.to_string()))?;
                    let owner = lookup.owner().clone();
                    let answer = self.ask_owner(&owner, here, request);
                    (owner, answer)
                }
                Some(answered) => answered,
            };
            self.copy_applied(&owner, answer)
        })
    }

    /// Copies what the owner wrote to its replicas; the answers.
    fn copy_applied(
        &self,
        owner: &NodeRef,
        answer: std::result::Result<Applied, CallError>,
    ) -> Attempt<Vec<OpAnswer>> {
        let applied = match answer {
            Ok(applied) => applied,
            Err(CallError::Full(bound)) => return Err(full(owner, bound, "")),
            Err(e) => return Err(owner_failed(owner, e)),
        };
        if !applied.written.is_empty() {
            let written = Arc::new(applied.written);
            self.copy_to_replicas(&written, owner, applied.successors)?;
        }
        Ok(applied.answers)
    }

    /// Applies `atomic` as the owner of identifier `id`, under one hold of
    /// the store lock.
    pub(crate) fn owner_atomic(&self, id: Id, atomic: Atomic, once: UpdateId) -> Response {
        if let Some(why) = self.unwritable() {
            return Response::Unwritable(why);
        }
        let owner = Owner {
            id,
            now: self.config().clock.now_micros(),
            writer: self.ring.incarnation,
            once,
            max: self.config().max_value,
            written: Vec::new(),
        };
        let answered = self.ring.while_serving(id, |successors| {
            let mut store = self.store_mut();
            let seen = store.applied.get(&once).is_some()
                || atomic
                    .keys()
                    .iter()
                    .any(|key| store.get(id, key).is_some_and(|e| e.update == Some(once)));
            if seen {
                return Response::Error(
                    "this request was applied, but its answers are no longer known: \
                     read the keys again"
                        .into(),
                );
            }
            let mut owner = owner;
            let answers = owner.apply(&mut store, atomic);
            store.applied.remember(
                once,
                Record::Unchanged {
                    previous: KeptValue::Deleted,
                },
            );
            Response::Applied {
                answers,
                written: owner.written,
                successors: successors.to_vec(),
            }
        });
        answered.unwrap_or_else(|| self.refusal(id))
    }
}

/// An atomic request being applied at the owner, under the store lock.
struct Owner {
    id: Id,
    now: u64,
    writer: u64,
    once: UpdateId,
    max: usize,
    /// The entries written so far.
    written: Vec<Item>,
}

impl Owner {
    fn apply(&mut self, store: &mut Store, atomic: Atomic) -> Vec<OpAnswer> {
        match atomic {
            Atomic::Each(ops) => ops.into_iter().map(|op| self.op(store, op)).collect(),
            Atomic::SetIfNone(pairs) => {
                if pairs.iter().any(|p| self.live(store, &p.key).is_some()) {
                    return vec![OpAnswer::Unchanged(None)];
                }
                for pair in &pairs {
                    if let Err(why) = self.write(store, &pair.key, (Some(pair.value.clone()), None))
                    {
                        return vec![OpAnswer::Failed(why)];
                    }
                }
                vec![OpAnswer::Wrote {
                    value: None,
                    previous: None,
                }]
            }
            Atomic::Rename {
                from,
                to,
                only_if_absent,
            } => {
                let Some(moved) = self.live(store, &from) else {
                    return vec![OpAnswer::Failed("no such key".into())];
                };
                if only_if_absent && self.live(store, &to).is_some() {
                    return vec![OpAnswer::Unchanged(None)];
                }
                if from != to {
                    let content = (moved.value.clone(), moved.expires);
                    if let Err(why) = self.write(store, &to, content) {
                        return vec![OpAnswer::Failed(why)];
                    }
                    if let Err(why) = self.write(store, &from, (None, None)) {
                        return vec![OpAnswer::Failed(why)];
                    }
                }
                vec![OpAnswer::Wrote {
                    value: None,
                    previous: None,
                }]
            }
            Atomic::Copy { from, to, replace } => {
                let Some(copied) = self.live(store, &from) else {
                    return vec![OpAnswer::Unchanged(None)];
                };
                if !replace && self.live(store, &to).is_some() {
                    return vec![OpAnswer::Unchanged(None)];
                }
                let content = (copied.value.clone(), copied.expires);
                match self.write(store, &to, content) {
                    Ok(()) => vec![OpAnswer::Wrote {
                        value: None,
                        previous: None,
                    }],
                    Err(why) => vec![OpAnswer::Failed(why)],
                }
            }
        }
    }

    /// One operation of a transaction.
    fn op(&mut self, store: &mut Store, op: Op) -> OpAnswer {
        match op {
            Op::Get { key } => OpAnswer::Value(self.live(store, &key).and_then(|e| e.value)),
            Op::Update { key, update } => {
                let previous = before_of(&update).and_then(|before| {
                    before(
                        self.live(store, &key)
                            .as_ref()
                            .and_then(|e| e.value.as_deref()),
                    )
                });
                match changed(update, store.get(self.id, &key), self.now, self.max) {
                    Ok(Some(content)) => {
                        let value = content.0.clone();
                        match self.write(store, &key, content) {
                            Ok(()) => OpAnswer::Wrote { value, previous },
                            Err(why) => OpAnswer::Failed(why),
                        }
                    }
                    Ok(None) => OpAnswer::Unchanged(previous),
                    Err(why) => OpAnswer::Failed(why.into()),
                }
            }
        }
    }

    /// The entry of `key` if it has a value now.
    fn live(&self, store: &Store, key: &[u8]) -> Option<Entry> {
        store
            .get(self.id, key)
            .filter(|e| e.is_live(self.now))
            .cloned()
    }

    /// Writes `content` under `key`, as the owner, and keeps the entry to
    /// copy to the replicas.
    fn write(
        &mut self,
        store: &mut Store,
        key: &[u8],
        content: Content,
    ) -> std::result::Result<(), String> {
        let written = store
            .write_by(
                self.id,
                key,
                content,
                self.now,
                self.writer,
                Some(self.once),
            )
            .map_err(|full| format!("out of memory: this node {full} (--max-memory)"))?;
        self.written.push(Item {
            key: key.into(),
            entry: written.entry,
        });
        Ok(())
    }
}
