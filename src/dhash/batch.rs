//! Several keys at once: Redis's `MSET`, `MGET` and `DEL` of many keys.
//!
//! Each key keeps the guarantees of a single request ([`super::kv`]): a
//! write is acknowledged once R nodes hold it, a read asks the owner. What
//! changes is only that the first attempts of all the keys are in flight
//! together ([`crate::transport::Transport::call_all`]): every owner at once, then
//! every replica copy at once, the copies for one node in one message. So
//! ten keys cost about two round trips instead of thirty. A key whose first
//! attempt does not go through, because its owner is not known from this
//! node's tables, did not answer as the owner, or a copy failed, is then
//! done on its own, exactly as [`Dhash::put`] or [`Dhash::get`] does it.
//! The keys are not written atomically, as Redis's `MSET` is: a failure
//! part way leaves the keys before it written. A batch that names a key
//! twice is written one key after another, in order, so the last value
//! wins as in Redis.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use super::kv::rejected;
use super::Dhash;
use crate::error::Result;
use crate::id::{Id, NodeRef};
use crate::message::{Items, Request};
use crate::peer::{self, CallError, Written};
use crate::store::{check_key, check_value, Content, Entry, Item};

/// A key whose owner this node's tables name
/// ([`crate::chord::Ring::known_owner`]).
struct Placed<'a> {
    /// Where the key is in the caller's list.
    place: usize,
    key: &'a [u8],
    id: Id,
    owner: NodeRef,
}

impl Dhash {
    /// Writes each `(key, value)` (`None` deletes the key) on R nodes;
    /// for each, whether it had a value before.
    ///
    /// # Errors
    /// As [`Dhash::put`], for the first key that fails; the keys before it
    /// are written.
    pub fn write_many(&self, writes: &[(&[u8], Option<&[u8]>)]) -> Result<Vec<bool>> {
        // One key or value the store cannot take refuses the whole batch,
        // before any of it is written.
        for (key, value) in writes {
            check_key(key).map_err(rejected)?;
            value
                .map(|value| check_value(value, self.config().max_value))
                .transpose()
                .map_err(rejected)?;
        }
        let mut existed: Vec<Option<bool>> = vec![None; writes.len()];
        // What an owner said of a key it wrote when the copies then fell
        // short: the key is written again alone, and finds this batch's own
        // tombstone there; whether it had a value is what the owner said.
        let mut owner_said: Vec<bool> = vec![false; writes.len()];
        // Writes of one key in flight together could land in any order; a
        // key named twice must end as the last one says, so such a batch
        // goes one key after another.
        let distinct: HashSet<&[u8]> = writes.iter().map(|(key, _)| *key).collect();
        if distinct.len() == writes.len() && !self.ring.paused() {
            self.serving_client(|| self.first_writes(writes, &mut existed, &mut owner_said));
        }
        writes
            .iter()
            .zip(existed)
            .zip(owner_said)
            .map(|(((key, value), done), said)| match done {
                Some(existed) => Ok(existed),
                None => match value {
                    Some(value) => self.put(key, value).map(|()| true),
                    None => self.delete(key).map(|existed| existed || said),
                },
            })
            .collect()
    }

    /// The values of `keys`, in order.
    ///
    /// # Errors
    /// As [`Dhash::get`], for the first key that fails.
    pub fn get_many(&self, keys: &[&[u8]]) -> Result<Vec<Option<Vec<u8>>>> {
        for key in keys {
            check_key(key).map_err(rejected)?;
        }
        let mut read: Vec<Option<Option<Entry>>> = vec![None; keys.len()];
        if !self.ring.paused() {
            self.serving_client(|| self.first_reads(keys, &mut read));
        }
        let clock = &self.config().clock;
        keys.iter()
            .zip(read)
            .map(|(key, done)| match done {
                Some(entry) => Ok(entry
                    .filter(|e| e.is_live_then(|| clock.now_micros()))
                    .and_then(|e| e.value)),
                None => self.get(key),
            })
            .collect()
    }

    /// The keys whose owners this node's tables name, with them.
    fn placed<'a>(&self, keys: impl Iterator<Item = &'a [u8]>) -> Vec<Placed<'a>> {
        // Sized for every key at once: grown as it filled, the vector
        // was reallocated three times for a 10-key `MSET`.
        let mut placed = Vec::with_capacity(keys.size_hint().0);
        placed.extend(keys.enumerate().filter_map(|(place, key)| {
            let id = self.key_id(key);
            let owner = self.listed_owner(id, true)?;
            Some(Placed {
                place,
                key,
                id,
                owner,
            })
        }));
        placed
    }

    /// Reads every key whose owner is known, all at once; fills `read` for
    /// those the owner answered.
    fn first_reads(&self, keys: &[&[u8]], read: &mut [Option<Option<Entry>>]) {
        let placed = self.placed(keys.iter().copied());
        let (local, remote): (Vec<_>, Vec<_>) =
            placed.iter().partition(|p| p.owner.addr == self.me().addr);
        for p in local {
            read[p.place] = self.owner_read(p.id, p.key);
        }
        let calls = remote
            .iter()
            .map(|p| {
                let request = Request::Get {
                    key: p.key.to_vec(),
                };
                (&p.owner, request)
            })
            .collect();
        for (p, answer) in remote.iter().zip(self.ring.call_all(calls)) {
            if let Ok(entry) = answer.map_err(CallError::from).and_then(peer::value) {
                read[p.place] = Some(entry);
            }
        }
    }

    /// Writes every key whose owner is known at its owner, all at once,
    /// then sends every replica copy at once; fills `existed` for the keys
    /// that R nodes now hold, and `owner_said` for those an owner wrote
    /// but whose copies fell short.
    fn first_writes(
        &self,
        writes: &[(&[u8], Option<&[u8]>)],
        existed: &mut [Option<bool>],
        owner_said: &mut [bool],
    ) {
        let placed = self.placed(writes.iter().map(|(key, _)| *key));
        let value = |p: &Placed| writes[p.place].1.map(<[u8]>::to_vec);
        let me = &self.me().addr;
        let mut answers: Vec<Option<Written>> = placed.iter().map(|_| None).collect();
        let (local, remote): (Vec<usize>, Vec<usize>) =
            (0..placed.len()).partition(|&i| placed[i].owner.addr == *me);
        let (written, own_successors) = self.owner_write_all(
            local
                .iter()
                .map(|&i| (placed[i].id, placed[i].key, (value(&placed[i]), None)))
                .collect(),
        );
        for (&i, written) in local.iter().zip(written) {
            answers[i] = written.map(|(entry, existed)| Written {
                entry,
                existed,
                // This node's own list, `own_successors`, names them.
                successors: Vec::new(),
                previous: None,
            });
        }
        let calls = remote
            .iter()
            .map(|&i| {
                let p = &placed[i];
                let request = Request::Write {
                    key: p.key.to_vec(),
                    value: value(p),
                    expires: None,
                };
                (&p.owner, request)
            })
            .collect();
        for (&i, answer) in remote.iter().zip(self.ring.call_all(calls)) {
            answers[i] = answer.map_err(CallError::from).and_then(peer::written).ok();
        }
        // The copies: the R - 1 replicas each owner named, gathered by node:
        // the keys each gets, by their index in `placed`.
        let mut copies: HashMap<&str, (&NodeRef, Vec<usize>)> = HashMap::new();
        let mut pending: Vec<(usize, bool, usize)> = Vec::with_capacity(placed.len());
        for (i, (p, answer)) in placed.iter().zip(&answers).enumerate() {
            let Some(written) = answer else { continue };
            let successors = if p.owner.addr == *me {
                &own_successors
            } else {
                &written.successors
            };
            let replicas = successors
                .iter()
                .filter(|s| s.addr != p.owner.addr)
                .take(self.config().replicas - 1);
            let mut needed = 0;
            for replica in replicas {
                copies
                    .entry(&*replica.addr)
                    .or_insert_with(|| (replica, Vec::with_capacity(placed.len())))
                    .1
                    .push(i);
                needed += 1;
            }
            pending.push((p.place, written.existed, needed));
        }
        // Replicas that get the same keys (all of them, when one node owns
        // the batch, as a hash tag's keys) share one list of copies: the
        // distinct lists of keys, and who gets each.
        let mut lists: Vec<(Vec<usize>, Vec<NodeRef>)> = Vec::new();
        for (to, keys) in copies.into_values() {
            match lists.iter_mut().find(|(same, _)| *same == keys) {
                Some((_, to_all)) => to_all.push(to.clone()),
                None => lists.push((keys, vec![to.clone()])),
            }
        }
        // A key's entry moves into the last list that has it, and is
        // copied into the others.
        let mut uses = vec![0usize; placed.len()];
        for &i in lists.iter().flat_map(|(keys, _)| keys) {
            uses[i] += 1;
        }
        let mut entries: Vec<Option<Entry>> =
            answers.into_iter().map(|a| a.map(|w| w.entry)).collect();
        let mut calls = Vec::with_capacity(lists.iter().map(|(_, to)| to.len()).sum());
        // The list each call carries, in the order of `calls`.
        let mut carried = Vec::with_capacity(calls.capacity());
        for (list, (keys, to_all)) in lists.iter().enumerate() {
            let items: Vec<Item> = keys
                .iter()
                .filter_map(|&i| {
                    uses[i] -= 1;
                    let entry = match uses[i] {
                        0 => entries[i].take()?,
                        _ => entries[i].clone()?,
                    };
                    Some(Item {
                        key: placed[i].key.into(),
                        entry,
                    })
                })
                .collect();
            let items = Arc::new(items);
            for to in to_all {
                calls.push((
                    to,
                    Request::Replicate {
                        items: Items::Shared(items.clone()),
                    },
                ));
                carried.push(list);
            }
        }
        let mut copied: HashMap<usize, usize> = HashMap::new();
        for (list, answer) in carried.into_iter().zip(self.ring.call_all(calls)) {
            if answer.map_err(CallError::from).and_then(peer::done).is_ok() {
                for &i in &lists[list].0 {
                    *copied.entry(placed[i].place).or_default() += 1;
                }
            }
        }
        for (place, had, needed) in pending {
            if copied.get(&place).copied().unwrap_or(0) == needed {
                existed[place] = Some(had);
            } else {
                owner_said[place] = had;
            }
        }
    }

    /// Writes `writes`, keys this node's tables say it owns, as their
    /// owner: what [`Dhash::owner_write`] does for each, but under one
    /// hold of the ring's and the store's locks, with the successor list
    /// copied once, not once a key. For each, the entry written and
    /// whether the key had a value; `None` for a key this node does not
    /// serve now or cannot take (a full store, a log that cannot be
    /// written): it is then written alone, which says why.
    fn owner_write_all(
        &self,
        writes: Vec<(Id, &[u8], Content)>,
    ) -> (Vec<Option<(Entry, bool)>>, Vec<NodeRef>) {
        if writes.is_empty() || self.unwritable().is_some() {
            return (vec![None; writes.len()], Vec::new());
        }
        let writer = self.ring.incarnation;
        let now = self.config().clock.now_micros();
        let ids: Vec<Id> = writes.iter().map(|(id, _, _)| *id).collect();
        self.ring.while_serving_each(&ids, |serving, successors| {
            let mut store = self.store_mut();
            let written = writes
                .into_iter()
                .zip(serving)
                .map(|((id, key, content), &serves)| {
                    if !serves {
                        return None;
                    }
                    let written = store.write_by(id, key, content, now, writer, None).ok()?;
                    Some((written.entry, written.existed))
                })
                .collect();
            (written, successors.to_vec())
        })
    }
}
