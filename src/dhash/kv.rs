//! What a client asks of any node: GET, PUT, DEL and LOOKUP of a key.
//!
//! The node that a person talks to acts as the coordinator: it looks the key
//! up with [`crate::chord::Ring::find_successor`] and acts at the owner.
//!
//! - **PUT and DEL** go to the owner, which stamps the write with a new
//!   version ([`crate::store::Version`]) and answers with the entry and its
//!   successor list. The coordinator then copies that exact entry to the
//!   next R - 1 nodes of the list, skipping any that do not answer, and
//!   answers `OK` only once R nodes hold it (or the owner and every other
//!   node its successor list names, when that list holds fewer than R - 1
//!   others: a ring of fewer than R nodes). An acknowledged write
//!   therefore survives any R - 1 nodes dying at once. The coordinator does the copying, not the owner, so no
//!   node serving a peer ever calls a third (see [`crate::chord`]).
//! - **GET** reads the owner's entry. When the owner times out (frozen, or
//!   cut off), the other R - 1 holders are read instead and the newest
//!   entry wins, so a read does not wait for a node that may come back.
//!   All of them must answer: a replica that joined a moment ago may lack
//!   its copy, and alone it would answer NOT_FOUND for a key that exists.
//!   An owner that refused the connection is gone, and the lookup that
//!   named it stale: the read looks again until stabilization has moved.
//!
//! - **A full node** (its `--max-memory` reached) refuses client writes
//!   at the owner, which changes nothing, and the coordinator answers
//!   [`Error::OutOfMemory`] at once rather than retrying. Replicas take
//!   copies up to an eighth past their bound (see [`crate::store`]), so a
//!   replica holding a little more than its owner does not fail the
//!   owner's writes; a replica past even that refuses the copy, and the
//!   write fails with [`Error::OutOfMemory`] too, though the owner (and
//!   any replica before it) keeps it, as with any write that fails
//!   halfway.
//!
//! - **Expiry.** A value may carry the time it expires
//!   ([`crate::store::Entry::expires`]), set by the write that stores it or
//!   by an [`Update::Expire`] at the owner, and copied with it like the
//!   value. Every node reads an expired value as no value, at the moment
//!   of the read, by its own clock; the store later empties it into a
//!   tombstone ([`crate::store::Store::collect`]). Nodes therefore agree
//!   on expiry only as well as their clocks agree.
//!
//! While the ring moves (a node joining, leaving or found dead), the owner
//! a lookup names may refuse the key ([`crate::message::Response::NotOwner`]) or not
//! answer; the coordinator then backs off briefly and tries again, until
//! the request's deadline ([`crate::NodeConfig::request_timeout`]). A write
//! retried this way is written again with a newer version; its value is
//! the same, so the retry is harmless. An update (`INCR`, `SET NX`,
//! `EXPIRE`...) applied twice would not be: it carries an id, the same for
//! every attempt, and an owner that applied it, or the next owner holding
//! the entry it wrote, answers a retry with what it did then
//! ([`crate::store::Store::repeated`]).

use std::sync::Arc;

use std::cell::Cell;
use std::time::Duration;

use log::debug;

use super::Dhash;
use crate::chord::Lookup;
use crate::error::{Error, Result};
use crate::id::{Id, NodeRef};
use crate::message::{ExpireIf, Expiry, Update};
use crate::peer::{self, CallError, Updated, Written};
use crate::stats::Stats;
use crate::store::{check_key, check_value, Entry, Full, Item, TooLong, UpdateId};
use crate::transport::TransportError;

/// The first pause before trying a key again; it doubles each time, up to
/// one stabilization period.
const FIRST_BACKOFF: Duration = Duration::from_millis(5);

/// Why one attempt at a key failed.
pub(super) enum Failure {
    /// Worth another attempt while the ring moves; the last one's text goes
    /// into the error.
    Retry(String),
    /// Final: another attempt would fail the same way.
    Final(Error),
}

impl From<String> for Failure {
    fn from(why: String) -> Failure {
        Failure::Retry(why)
    }
}

/// One attempt at a key.
pub(super) type Attempt<T> = std::result::Result<T, Failure>;

impl Dhash {
    /// The value stored under `key`, if any.
    ///
    /// # Errors
    /// [`Error::Unavailable`] when neither the owner nor a replica could be
    /// read before the request deadline.
    pub fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        Ok(self.get_entry(key)?.and_then(|e| e.value))
    }

    /// The entry of `key` if it has a value now: its value, version and
    /// expiry.
    ///
    /// # Errors
    /// As [`Dhash::get`].
    pub fn get_entry(&self, key: &[u8]) -> Result<Option<Entry>> {
        let entry = self.retrying(key, |first| self.read_once(key, first))?;
        let clock = &self.config().clock;
        Ok(entry.filter(|e| e.is_live_then(|| clock.now_micros())))
    }

    /// Stores `value` under `key`, on R nodes, with no expiry.
    ///
    /// # Errors
    /// [`Error::Unavailable`] when the owner could not be reached, or fewer
    /// than R nodes took the write, before the request deadline.
    pub fn put(&self, key: &[u8], value: &[u8]) -> Result<()> {
        self.put_expiring(key, value, None)
    }

    /// Stores `value` under `key`, on R nodes, expiring at `expires`
    /// (microseconds since the Unix epoch; `None`: never).
    ///
    /// # Errors
    /// As [`Dhash::put`].
    pub fn put_expiring(&self, key: &[u8], value: &[u8], expires: Option<u64>) -> Result<()> {
        check_value(value, self.config().max_value).map_err(rejected)?;
        let said = Cell::new(false);
        self.retrying(key, |first| {
            self.write_once(key, (Some(value), expires), first, &said)
        })
        .map(|_| ())
    }

    /// Sets when the value of `key` expires (`None`: never), at its
    /// owner, if `only` allows; whether that changed anything: the key had
    /// a value, and for `None` an expiry. A time already passed deletes
    /// the key.
    ///
    /// # Errors
    /// As [`Dhash::put`].
    pub fn expire(&self, key: &[u8], at: Option<u64>, only: Option<ExpireIf>) -> Result<bool> {
        Ok(self.update(key, &Update::Expire { at, only })?.is_some())
    }

    /// Deletes `key` on R nodes; whether it had a value.
    ///
    /// # Errors
    /// As [`Dhash::put`].
    pub fn delete(&self, key: &[u8]) -> Result<bool> {
        // An owner that said the key had a value, on an attempt whose
        // copies then fell short, was right: a later attempt finds this
        // delete's own tombstone there.
        let said = Cell::new(false);
        self.retrying(key, |first| {
            self.write_once(key, (None, None), first, &said)
        })
        .map(|existed| existed || said.get())
    }

    /// The identifier of `key` and the lookup of its owner.
    ///
    /// # Errors
    /// As [`crate::chord::Ring::find_successor`].
    pub fn lookup(&self, key: &[u8]) -> Result<(Id, Lookup)> {
        let id = self.key_id(key);
        let lookup = self.find_successor(id)?;
        Stats::add(&self.stats().lookups, 1);
        Stats::add(&self.stats().lookup_hops, u64::from(lookup.hops()));
        Ok((id, lookup))
    }

    /// On a request's first attempt, the owner of identifier `id` as this
    /// node's successor list shows it, unless it timed out a
    /// moment ago: asking it at once saves the lookup's calls. Anything but
    /// the owner's own answer sends the request down the paper's walk,
    /// which alone chooses where a read falls back or a write goes around
    /// (see [`crate::chord::Ring::known_owner`]).
    pub(super) fn listed_owner(&self, id: Id, first: bool) -> Option<NodeRef> {
        if !first {
            return None;
        }
        self.ring
            .known_owner(id)
            .filter(|owner| !self.ring.is_suspect(owner))
    }

    /// Asks the owner [`Dhash::listed_owner`] names, if it names one, as
    /// [`Dhash::ask_owner`] does. The owner and its answer.
    pub(super) fn ask_listed_owner<T>(
        &self,
        id: Id,
        first: bool,
        here: impl FnOnce() -> std::result::Result<T, CallError>,
        there: impl FnOnce(&crate::peer::Peer<'_>) -> std::result::Result<T, CallError>,
    ) -> Option<(NodeRef, std::result::Result<T, CallError>)> {
        let owner = self.listed_owner(id, first)?;
        let answer = self.ask_owner(&owner, here, there);
        Some((owner, answer))
    }

    /// Runs `attempt` until it succeeds or the deadline passes, backing off
    /// between attempts; `attempt` is told whether it is the first. The
    /// peer calls it makes count as a client request's
    /// (`client_peer_calls`). A key the store cannot take is refused
    /// here, at once: no attempt could succeed
    /// ([`crate::store::check_key`]).
    pub(super) fn retrying<T>(
        &self,
        key: &[u8],
        attempt: impl FnMut(bool) -> Attempt<T>,
    ) -> Result<T> {
        check_key(key).map_err(rejected)?;
        self.serving_client(|| self.retry_loop(key, attempt))
    }

    /// Runs `work` as a client request that must be answered within the
    /// request timeout ([`crate::transport::serving_client`]), and counts
    /// the calls to other nodes it made (`client_peer_calls`).
    pub(super) fn serving_client<T>(&self, work: impl FnOnce() -> T) -> T {
        let answer_by = std::time::Instant::now() + self.config().request_timeout;
        let (result, calls) = crate::transport::serving_client(answer_by, work);
        Stats::add(&self.stats().client_peer_calls, calls);
        result
    }

    /// The loop of [`Dhash::retrying`].
    fn retry_loop<T>(&self, key: &[u8], mut attempt: impl FnMut(bool) -> Attempt<T>) -> Result<T> {
        // A request that waited out a pause of this process in its socket
        // buffer was given up by its client: do not act on it now.
        if self.ring.paused() {
            Stats::add(&self.stats().failed_requests, 1);
            return Err(Error::Paused);
        }
        let clock = &self.config().clock;
        // The request timeout counts from the start: a request that waited
        // on silent peers before its first failure has less time left.
        let deadline = clock.elapsed() + self.config().request_timeout;
        let mut backoff = FIRST_BACKOFF;
        let mut first = true;
        loop {
            let last = match attempt(std::mem::replace(&mut first, false)) {
                Ok(answer) => return Ok(answer),
                Err(Failure::Final(e)) => {
                    Stats::add(&self.stats().failed_requests, 1);
                    return Err(e);
                }
                Err(Failure::Retry(why)) => why,
            };
            let now = clock.elapsed();
            if now + backoff > deadline {
                Stats::add(&self.stats().failed_requests, 1);
                return Err(Error::Unavailable(format!(
                    "key \"{}\": no attempt succeeded within {:?}; last: {last}",
                    key.escape_ascii(),
                    self.config().request_timeout
                )));
            }
            Stats::add(&self.stats().retries, 1);
            debug!(
                "{}: retrying \"{}\": {last}",
                self.me().addr,
                key.escape_ascii()
            );
            clock.sleep(backoff);
            backoff = (backoff * 2).min(self.config().stabilize_interval);
        }
    }

    /// One read: the owner's entry, or, if the owner timed out (now or a
    /// moment ago) or does not hold the key's arc yet, the newest entry
    /// among the other holders ([`Dhash::newest_elsewhere`]).
    fn read_once(&self, key: &[u8], first: bool) -> Attempt<Option<Entry>> {
        let id = self.key_id(key);
        let here = || peer::value(self.owner_get(key));
        let listed = self.ask_listed_owner(id, first, here, |peer| peer.get(key));
        if let Some((_, Ok(entry))) = listed {
            return Ok(entry);
        }
        let (_, lookup) = self
            .lookup(key)
            .map_err(|e| Failure::Retry(e.to_string()))?;
        let owner = lookup.owner();
        let why = match self.ask_owner(owner, here, |peer| peer.get(key)) {
            Ok(entry) => return Ok(entry),
            // As for a write: an owner that timed out may be frozen, or cut
            // off, and its replicas are read instead. One that refused the
            // connection is gone, and the lookup that named it was stale;
            // so may be the list of replicas after it (nodes that joined
            // just before the dead one, that the lookup's last hop has not
            // heard of, hold the key): look again, once stabilization has
            // moved.
            Err(
                e @ (CallError::Transport(TransportError::Timeout { .. }) | CallError::Syncing),
            ) => e,
            Err(e) => return Err(owner_failed(owner, e)),
        };
        let mut holders = self.other_holders(&lookup, &why);
        // This node's own copy counts too: the lists can miss a live
        // holder (a restarted owner's new list skips nodes its join did not
        // see), and this node may be it. The newest answer wins, so an old
        // copy here changes nothing when a holder has a newer one.
        if holders
            .iter()
            .chain([owner])
            .all(|h| h.addr != self.me().addr)
        {
            holders.push(self.me().clone());
        }
        self.newest_elsewhere(key, owner, &holders, &why)
    }

    /// Asks the owner: with `here` when that is this node, which then
    /// calls its own key layer (no message is built), else with `there`,
    /// unless the owner timed out a moment ago: then the call is not made,
    /// and the caller goes to the other holders at once rather than wait
    /// out another timeout.
    pub(super) fn ask_owner<T>(
        &self,
        owner: &NodeRef,
        here: impl FnOnce() -> std::result::Result<T, CallError>,
        there: impl FnOnce(&crate::peer::Peer<'_>) -> std::result::Result<T, CallError>,
    ) -> std::result::Result<T, CallError> {
        if owner.addr == self.me().addr {
            return here();
        }
        if self.ring.is_suspect(owner) {
            return Err(CallError::Transport(TransportError::Timeout {
                addr: owner.addr.to_string(),
            }));
        }
        there(&self.ring.peer(owner))
    }

    /// One write: the owner stamps it, then the coordinator copies it to
    /// the owner's next R - 1 live successors. Whether the key had a value.
    ///
    /// The value is borrowed, and copied once, where it is stored or sent:
    /// every attempt of a retried write needs it again.
    fn write_once(
        &self,
        key: &[u8],
        (value, expires): (Option<&[u8]>, Option<u64>),
        first: bool,
        said: &Cell<bool>,
    ) -> Attempt<bool> {
        let id = self.key_id(key);
        let content = || (value.map(<[u8]>::to_vec), expires);
        let here = || peer::written(self.owner_write(id, key, content()));
        let there = |peer: &crate::peer::Peer<'_>| peer.write(key, content());
        let listed = self.ask_listed_owner(id, first, here, there);
        match listed {
            Some((owner, Ok(written))) => {
                let existed = written.existed;
                said.set(said.get() || existed);
                self.copy_written(key, &owner, written)?;
                return Ok(existed);
            }
            Some((owner, Err(CallError::Full(bound)))) => return Err(full(&owner, bound, "")),
            _ => {}
        }
        let (_, lookup) = self
            .lookup(key)
            .map_err(|e| Failure::Retry(e.to_string()))?;
        let owner = lookup.owner();
        let written = match self.ask_owner(owner, here, there) {
            Ok(written) => written,
            Err(CallError::Full(bound)) => return Err(full(owner, bound, "")),
            // Only a timeout: the owner may be frozen, and when it wakes
            // it copies its arc back before serving. A refused connection
            // means it is gone, and the lookup was stale: look again.
            Err(why @ CallError::Transport(TransportError::Timeout { .. })) => {
                return self.write_around(key, content(), &lookup, &why)
            }
            Err(e) => return Err(owner_failed(owner, e)),
        };
        let existed = written.existed;
        said.set(said.get() || existed);
        self.copy_written(key, owner, written)?;
        Ok(existed)
    }

    /// Copies what the owner wrote to the R - 1 replicas its answer named.
    fn copy_written(&self, key: &[u8], owner: &NodeRef, written: Written) -> Attempt<()> {
        let items = Arc::new(vec![Item {
            key: key.into(),
            entry: written.entry,
        }]);
        self.copy_to_replicas(&items, owner, written.successors)
    }

    /// Copies `items`, which `owner` wrote, to the R - 1 replicas among
    /// the `successors` its answer named.
    pub(super) fn copy_to_replicas(
        &self,
        items: &Arc<Vec<Item>>,
        owner: &NodeRef,
        successors: Vec<NodeRef>,
    ) -> Attempt<()> {
        let others: Vec<NodeRef> = successors
            .into_iter()
            .filter(|s| s.addr != owner.addr)
            .collect();
        let needed = (self.config().replicas - 1).min(others.len());
        self.copy_to(items, &others, needed, 1)
    }

    /// Applies `update` to `key` at its owner, atomically there (Redis's
    /// `INCR`, `SET NX`/`XX`/`KEEPTTL`, `EXPIRE`), and copies the result to
    /// the replicas; the entry written, or `None` when the update's
    /// condition did not hold. The owner is asked at once when the
    /// successor list names it, as reads and writes do. A timed-out owner
    /// is retried, not written around: the update must read the owner's
    /// value. Every attempt carries the same [`crate::store::UpdateId`], so
    /// an owner that applied the update before its answer was lost, or the
    /// next owner holding the entry it wrote, answers the retry with what
    /// it did then: an `INCR` counts once (within the bounds
    /// `store/applied.rs` states).
    ///
    /// # Errors
    /// [`Error::Rejected`] when the value cannot be incremented; else as
    /// [`Dhash::put`].
    pub fn update(&self, key: &[u8], update: &Update) -> Result<Option<Entry>> {
        Ok(self.apply(key, update)?.0)
    }

    /// Replaces the value of `key` with `value` (`None`: deletes it) at its
    /// owner, atomically there, and copies the result to the replicas: the
    /// value it replaced, `None` if there was none. Redis's `GETSET`,
    /// `SET ... GET` and `GETDEL`. A retry counts once, as
    /// [`Dhash::update`]'s do.
    ///
    /// # Errors
    /// As [`Dhash::update`].
    pub fn swap(
        &self,
        key: &[u8],
        value: Option<Vec<u8>>,
        exists: Option<bool>,
        expiry: Expiry,
    ) -> Result<Option<Vec<u8>>> {
        let swap = Update::Swap {
            value,
            exists,
            expiry,
        };
        Ok(self.apply(key, &swap)?.1)
    }

    /// Sets bit `offset` of the value of `key` (from the highest bit of
    /// the first byte) to `on` at its owner, atomically there (Redis's
    /// `SETBIT`); the bit before.
    ///
    /// # Errors
    /// As [`Dhash::update`].
    pub fn set_bit(&self, key: &[u8], offset: u64, on: bool) -> Result<bool> {
        let (_, bit) = self.apply(key, &Update::SetBit { offset, on })?;
        Ok(bit.as_deref() == Some(&[1]))
    }

    /// [`Dhash::update`]: the entry written (`None` when the condition did
    /// not hold), and what the answer needs of the value before (a swap's
    /// old value, `SETBIT`'s old bit).
    fn apply(&self, key: &[u8], update: &Update) -> Result<(Option<Entry>, Option<Vec<u8>>)> {
        if let Update::Set { value, .. }
        | Update::Append(value)
        | Update::Swap {
            value: Some(value), ..
        } = update
        {
            check_value(value, self.config().max_value).map_err(rejected)?;
        }
        let once = self.new_update_id();
        self.retrying(key, |first| {
            let listed = self.ask_listed_owner(
                self.key_id(key),
                first,
                || self.update_here(key, update, once),
                |peer| peer.update(key, update.clone(), once),
            );
            let (owner, answer) = match listed {
                // Not the owner after all, or no answer: the paper's walk.
                None
                | Some((
                    _,
                    Err(CallError::NotOwner | CallError::Syncing | CallError::Transport(_)),
                )) => self.update_at_lookup(key, update, once)?,
                Some(answered) => answered,
            };
            let owner = &owner;
            let written = match answer {
                Ok(Updated::Wrote(written)) => written,
                Ok(Updated::Unchanged(previous)) => return Ok((None, previous)),
                Err(CallError::Full(bound)) => return Err(full(owner, bound, "")),
                Err(e) => return Err(owner_failed(owner, e)),
            };
            let (entry, previous) = (written.entry.clone(), written.previous.clone());
            self.copy_written(key, owner, written)?;
            Ok((Some(entry), previous))
        })
    }

    /// Adds `by` to the integer stored under `key` (a key with no value
    /// counts as 0), atomically at its owner, and copies the sum to the
    /// replicas: Redis's `INCRBY`, and the text protocol's `INCR`. The
    /// sum.
    ///
    /// # Errors
    /// [`Error::Rejected`] when the value is not a signed 64-bit integer,
    /// or the sum would overflow; else as [`Dhash::update`].
    pub fn increment(&self, key: &[u8], by: i64) -> Result<i64> {
        let written = self.update(key, &Update::Increment(by))?;
        written
            .and_then(|entry| entry.value)
            .and_then(|value| std::str::from_utf8(&value).ok()?.parse().ok())
            .ok_or_else(|| {
                Error::Rejected("the owner's answer to an increment is no integer".into())
            })
    }

    /// [`Dhash::update`] applied here, as the owner.
    fn update_here(
        &self,
        key: &[u8],
        update: &Update,
        once: UpdateId,
    ) -> std::result::Result<Updated, CallError> {
        peer::updated(self.owner_update(key, update.clone(), once))
    }

    /// [`Dhash::update`] at the owner a lookup names.
    fn update_at_lookup(
        &self,
        key: &[u8],
        update: &Update,
        once: UpdateId,
    ) -> Attempt<(NodeRef, std::result::Result<Updated, CallError>)> {
        let (_, lookup) = self
            .lookup(key)
            .map_err(|e| Failure::Retry(e.to_string()))?;
        let owner = lookup.owner().clone();
        let answer = self.ask_owner(
            &owner,
            || self.update_here(key, update, once),
            |peer| peer.update(key, update.clone(), once),
        );
        Ok((owner, answer))
    }

    /// Copies `items` to the first `needed` of `targets` that take them
    /// all; `already` nodes hold them (for the messages).
    pub(super) fn copy_to(
        &self,
        items: &Arc<Vec<Item>>,
        targets: &[NodeRef],
        needed: usize,
        already: usize,
    ) -> Attempt<()> {
        if needed == 0 {
            return Ok(());
        }
        // In waves: as many targets at once as copies are still needed, so
        // that the usual case, every replica up, is one round trip.
        let mut holding = 0;
        let mut next = 0;
        // A target that refused the copies (its disk cannot take them, say)
        // is passed over like one that is down; if too few holders are
        // left, its reason is the write's, at once: a retry would meet it
        // again.
        let mut refused = None;
        while holding < needed && next < targets.len() {
            let wave = &targets[next..targets.len().min(next + needed - holding)];
            next += wave.len();
            let answers = peer::replicate_all(&*self.ring, wave, items);
            for (target, answer) in wave.iter().zip(answers) {
                match answer {
                    Ok(()) => holding += 1,
                    Err(CallError::Full(bound)) => {
                        let only = format!(
                            "; only {} of {} holders took it",
                            holding + already,
                            needed + already
                        );
                        return Err(full(target, bound, &only));
                    }
                    Err(CallError::Refused(why)) => refused = Some((target, why)),
                    Err(e) => debug!("{}: replica {}: {e}", self.me().addr, target.addr),
                }
            }
        }
        if let (true, Some((target, why))) = (holding < needed, refused) {
            return Err(Failure::Final(Error::Rejected(format!(
                "replica {} refused the write ({why}); only {} of {} holders took it",
                target.addr,
                holding + already,
                needed + already
            ))));
        }
        if holding < needed {
            return Err(format!(
                "only {} of {} nodes took the write",
                holding + already,
                needed + already
            )
            .into());
        }
        Ok(())
    }
}

/// What an owner's failed answer means for the request: a refusal is
/// final (the owner found the request itself wrong, and would again);
/// anything else is worth another attempt while the ring moves.
pub(super) fn owner_failed(owner: &NodeRef, e: CallError) -> Failure {
    match e {
        CallError::Refused(why) => Failure::Final(Error::Rejected(why)),
        e => Failure::Retry(format!("owner {}: {e}", owner.addr)),
    }
}

/// A key or value the store cannot take, as the request's error.
pub(super) fn rejected(e: TooLong) -> Error {
    Error::Rejected(e.to_string())
}

/// The final failure of a write that `node` refused as full.
pub(super) fn full(node: &NodeRef, bound: Full, more: &str) -> Failure {
    Failure::Final(Error::OutOfMemory(format!(
        "node {} {bound} (--max-memory){more}",
        node.addr
    )))
}
