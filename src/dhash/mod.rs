//! The key layer over the ring: the paper's "application" on top of Chord
//! (what its authors built as DHash), which stores each key at the node
//! Chord maps it to and at the next R - 1 nodes.
//!
//! - this file: the [`Dhash`] of one node: its store, and the operations
//!   every part of the layer shares (merging copies, copying an arc from
//!   another node, giving keys away), plus the answers to peers' key
//!   requests;
//! - [`kv`]: GET, PUT, DEL, LOOKUP; `around.rs`: the same around a silent owner;
//! - [`batch`]: several keys at once (MSET, MGET, DEL of many), their
//!   first attempts in flight together;
//! - [`scan`]: SCAN and KEYS over the whole ring;
//! - [`replication`]: R copies of every key, and the repair that keeps
//!   them.
//!
//! It reads the ring's view through [`Ring`] (whether this node serves a
//! key now, its arc, its successors) and implements [`Keys`](crate::chord::Keys), through which
//! the ring moves keys when ownership moves.

mod around;
mod atomic;
pub mod batch;
mod flush;
mod handover;
pub mod kv;
pub mod replication;
pub mod scan;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use log::warn;
use parking_lot::{Mutex, RwLock, RwLockReadGuard, RwLockWriteGuard};

use crate::chord::{Lookup, Ring};
use crate::config::NodeConfig;
use crate::disk::Disk;
use crate::error::{Error, Result};
use crate::id::{Id, NodeRef};
use crate::message::{Expiry, Request, Response, Update, BATCH_ANSWER_BYTES};
use crate::stats::{Stats, Throttled, Timed};
use crate::store::{
    Content, Entry, Full, Item, KeptValue, Outcome, Record, Store, UpdateId, Usage,
};
use replication::RepairState;

/// The soft size limit of one chunk of keys handed between nodes.
pub(crate) const CHUNK_BYTES: usize = 256 * 1024;

/// The most bytes of entries a compaction copies under one hold of the
/// store lock: a quarter of a hand-over's chunk, so that its holds stay
/// as short as a maintenance round's while it reads a million keys.
const SNAPSHOT_CHUNK: usize = CHUNK_BYTES / 4;

/// How many copies one hold of the store lock merges.
const MERGE_BATCH: usize = 64;

/// Identifiers read per hold of the store lock when counting the keys a
/// node owns (RING's `owned=`).
const COUNT_PER_HOLD: usize = 4096;

/// What merging copies into the store did.
#[derive(Clone, Debug, Default)]
pub(crate) struct Merged {
    /// Entries that changed.
    pub(crate) changed: usize,
    /// Set when some copies were refused because the store is full.
    pub(crate) full: Option<Full>,
    /// Set, with why, when all were refused because the log cannot be
    /// written.
    pub(crate) unwritable: Option<String>,
}

impl Merged {
    /// The answer to a request that sent the copies.
    fn answer(self) -> Response {
        match (self.unwritable, self.full) {
            (Some(why), _) => Response::Unwritable(why),
            (None, None) => Response::Done,
            (None, Some(full)) => Response::Full {
                used: full.used as u64,
                limit: full.limit as u64,
            },
        }
    }
}

/// One node's key layer.
pub struct Dhash {
    ring: Arc<Ring>,
    /// The key-value pairs held here, as owner or replica. Reads share
    /// it, so that GETs on many connections do not queue behind each
    /// other; writes hold it alone. Taken after the ring's lock when both
    /// are needed ([`Ring::while_serving`]), through [`Dhash::store`] and
    /// [`Dhash::store_mut`], which time each hold; every use does a
    /// bounded amount of work under it.
    store: RwLock<Store>,
    /// Where replica repair resumes next round; held only to read or
    /// update those positions.
    repair: Mutex<RepairState>,
    /// Warns of copies refused for a full store, at most once a second.
    refusals: Throttled,
    /// How many updates this node has coordinated: the next one's
    /// [`UpdateId::seq`].
    updates: AtomicU64,
    /// The data directory that keeps the store across restarts, if the
    /// node has one (see [`crate::disk`]): the store reports its changes
    /// to it, and every answer that acknowledges one waits for the disk's
    /// commit ([`Dhash::durably`]).
    disk: Option<Arc<Disk>>,
}

impl Dhash {
    /// The key layer over `ring`, holding at most `max_memory` bytes, and
    /// what its data directory holds, if it has one.
    ///
    /// # Errors
    /// As [`Disk::open`].
    pub fn new(ring: Arc<Ring>) -> Result<Dhash> {
        let config = ring.config();
        let mut store = Store::with_limit(config.max_memory);
        let disk = match &config.data {
            Some(dir) => {
                let disk = Disk::open(dir, config.space, &mut store)?;
                store.set_journal(disk.clone());
                if store.bytes() > store.limit() {
                    warn!(
                        "{}: loaded {} MiB of keys and values, more than --max-memory ({} MiB): \
                         client writes are refused until deletes bring it below",
                        dir.path.display(),
                        store.bytes() >> 20,
                        store.limit() >> 20
                    );
                }
                Some(disk)
            }
            None => None,
        };
        Ok(Dhash {
            ring,
            store: RwLock::new(store),
            repair: Mutex::new(RepairState::default()),
            refusals: Throttled::default(),
            updates: AtomicU64::new(0),
            disk,
        })
    }

    /// Does `work`, then makes what it changed (and whatever else changed
    /// meanwhile) as durable as `--fsync` says, before its result can
    /// acknowledge anything (see [`crate::disk`]). Work that changed
    /// nothing waits for nothing, so reads go on while the disk fails.
    ///
    /// # Errors
    /// [`Error::Rejected`] saying why the log could not be written: the
    /// result is not to be given.
    pub fn durably<T>(&self, work: impl FnOnce() -> T) -> Result<T> {
        let Some(disk) = &self.disk else {
            return Ok(work());
        };
        let before = disk.position();
        let result = work();
        if disk.position() != before {
            disk.commit().map_err(|why| self.unwritten(why))?;
        }
        Ok(result)
    }

    /// Why this node takes no write now: its log cannot be written.
    fn unwritable(&self) -> Option<String> {
        self.disk.as_ref()?.refusal()
    }

    fn unwritten(&self, why: String) -> Error {
        Error::Rejected(format!("node {}: {why}", self.me().addr))
    }

    /// The data directory, if the node has one.
    pub fn disk(&self) -> Option<&Disk> {
        self.disk.as_deref()
    }

    /// Compacts the data directory if its logs have outgrown the last
    /// snapshot: see [`crate::disk`], "Compaction". The store is read a
    /// chunk at a time, each under one short hold of its lock.
    pub fn compact_if_due(&self) {
        let Some(disk) = &self.disk else {
            return;
        };
        if !disk.compaction_due() {
            return;
        }
        let everything = self.me().id;
        let _ = disk.compact(
            || self.store().flushed(),
            |after| {
                self.store()
                    .chunk(everything, everything, after, SNAPSHOT_CHUNK)
            },
        );
    }

    fn me(&self) -> &NodeRef {
        self.ring.me()
    }

    fn config(&self) -> &NodeConfig {
        self.ring.config()
    }

    fn stats(&self) -> &Stats {
        self.ring.stats()
    }

    fn find_successor(&self, id: Id) -> Result<Lookup> {
        self.ring.find_successor(id)
    }

    fn repair_state(&self) -> &Mutex<RepairState> {
        &self.repair
    }

    /// A name for a new update, unique to it: every attempt at it carries
    /// this one.
    pub(super) fn new_update_id(&self) -> UpdateId {
        UpdateId::new(
            self.ring.incarnation,
            self.updates.fetch_add(1, Ordering::Relaxed),
        )
    }

    /// The keys held here, sorted: for tests and inspection.
    pub fn held_keys(&self) -> Vec<Vec<u8>> {
        self.store().keys()
    }

    /// The copy of `key` held here, owner or not, a tombstone included:
    /// for tests and inspection.
    pub fn held_entry(&self, key: &[u8]) -> Option<Entry> {
        let id = self.key_id(key);
        self.store().get(id, key).cloned()
    }

    /// What the store holds: keys, entries, bytes and the bound on them.
    pub fn store_usage(&self) -> Usage {
        self.store().usage()
    }

    /// Sets the bound on what client writes may fill the store to
    /// (`--max-memory`, or `CONFIG SET maxmemory`).
    pub fn set_max_memory(&self, bytes: usize) {
        self.store_mut().set_limit(bytes);
    }

    /// The store, locked for reading (shared with other readers); the
    /// hold is timed into the `longest_store_lock_us` counter.
    pub(crate) fn store(&self) -> Timed<'_, RwLockReadGuard<'_, Store>> {
        Timed::new(self.store.read(), &self.stats().longest_store_lock_us)
    }

    /// The store, locked for reading to look one key up: not timed. The
    /// hold is one map lookup and a clone, bounded whatever the store
    /// holds, and timing it took two clock reads on every GET; with the
    /// expiry check's read (see [`Entry::is_live_then`]), they cost
    /// pipelined GETs 5 to 10% of their rate (A/B, 7 and 9 rounds).
    fn store_for_one_key(&self) -> RwLockReadGuard<'_, Store> {
        self.store.read()
    }

    /// The store, locked for writing (alone); timed like [`Dhash::store`].
    pub(crate) fn store_mut(&self) -> Timed<'_, RwLockWriteGuard<'_, Store>> {
        Timed::new(self.store.write(), &self.stats().longest_store_lock_us)
    }

    /// Gives `to` copies of `items`; whether it took them all. A holder
    /// that refuses them (its store is full) is logged, and the keys stay
    /// here.
    pub(crate) fn give(&self, to: &NodeRef, items: Vec<Item>) -> bool {
        match self.ring.peer(to).replicate(items) {
            Ok(()) => true,
            Err(e) => {
                warn!("{}: handing keys to {to:?} failed: {e}", self.me().addr);
                false
            }
        }
    }

    /// Merges copies into the store; the newer version of each key wins.
    /// The lock is taken for [`MERGE_BATCH`] items at a time, so a large
    /// message does not hold it long. Says how many entries changed, and
    /// whether the store was full for some of them.
    pub(crate) fn merge(&self, items: Vec<Item>) -> Merged {
        let horizon = self.horizon();
        let mut merged = Merged::default();
        if let Some(why) = self.unwritable() {
            // Refused whole: the sender keeps its copies.
            merged.unwritable = Some(why);
            return merged;
        }
        let mut items = items.into_iter().peekable();
        let space = self.config().space;
        while items.peek().is_some() {
            // Hash before taking the lock: SHA-1 need not hold up readers.
            let batch: Vec<(Id, Item)> = items
                .by_ref()
                .take(MERGE_BATCH)
                .map(|item| (space.key(&item.key), item))
                .collect();
            let mut store = self.store_mut();
            for (id, item) in batch {
                match store.merge(id, item.key, item.entry, horizon) {
                    Ok(changed) => merged.changed += usize::from(changed),
                    Err(full) => merged.full = Some(full),
                }
            }
        }
        if let Some(full) = merged.full {
            Stats::add(&self.stats().out_of_memory, 1);
            self.refusals.warn(|| {
                format!(
                    "{}: refusing copies of keys: the store {full} (--max-memory)",
                    self.me().addr
                )
            });
        }
        merged
    }

    /// Tombstones stamped before this (microseconds since the Unix epoch)
    /// have been kept long enough: `now - tombstone_hold`.
    pub(crate) fn horizon(&self) -> u64 {
        let hold = u64::try_from(self.config().tombstone_hold.as_micros()).unwrap_or(u64::MAX);
        self.config().clock.now_micros().saturating_sub(hold)
    }

    /// Reads `key` as its owner: the entry, a tombstone included, so the
    /// coordinator can compare it with replicas.
    fn owner_get(&self, key: &[u8]) -> Response {
        let id = self.key_id(key);
        match self.owner_read(id, key) {
            Some(entry) => Response::Value(entry),
            None => self.refusal(id),
        }
    }

    /// The entry of `key` (identifier `id`) as its owner holds it; `None`
    /// when this node does not serve `id` now.
    pub(crate) fn owner_read(&self, id: Id, key: &[u8]) -> Option<Option<Entry>> {
        self.ring
            .while_serving(id, |_| self.store_for_one_key().get(id, key).cloned())
    }

    /// The identifier of `key`.
    pub(crate) fn key_id(&self, key: &[u8]) -> Id {
        self.config().space.key(key)
    }

    /// Why this node does not serve `id`: it is not the owner, or it is
    /// but lacks the key's arc for now.
    pub(super) fn refusal(&self, id: Id) -> Response {
        if self.ring.syncing(id) {
            Response::Syncing
        } else {
            Response::NotOwner
        }
    }

    /// Writes `key` as its owner: stamps the new version, which the
    /// coordinator then copies to the replicas this answer names.
    pub(crate) fn owner_write(&self, id: Id, key: &[u8], content: Content) -> Response {
        self.owner_apply(id, key, None, |_, _| Ok(Some(content)))
    }

    /// Applies `update` to `key` as its owner, atomically: the value is
    /// read and written under one hold of the store lock. An update `once`
    /// names that was applied here lately is answered as it was then.
    fn owner_update(&self, key: &[u8], update: Update, once: UpdateId) -> Response {
        let max = self.config().max_value;
        let before = before_of(&update);
        self.owner_apply(self.key_id(key), key, Some((once, before)), |held, now| {
            changed(update, held, now, max)
        })
    }

    /// Writes what `change` makes of the entry held for `key` at time
    /// `now` (`None`: no write, the condition did not hold; `Err`:
    /// refused, and why), as its owner: stamps the new version, which the
    /// coordinator then copies to the replicas this answer names.
    ///
    /// An update names itself (`once`, with what its answer needs of the
    /// value before, if anything): what it did is remembered with the
    /// store, under the same hold of its lock, and an attempt at an update
    /// the store knows ([`Store::repeated`]) gets that outcome again
    /// instead of a second application, whichever attempt came first.
    fn owner_apply(
        &self,
        id: Id,
        key: &[u8],
        once: Option<(UpdateId, Option<Before>)>,
        change: impl FnOnce(Option<&Entry>, u64) -> std::result::Result<Option<Content>, &'static str>,
    ) -> Response {
        if let Some(why) = self.unwritable() {
            return Response::Unwritable(why);
        }
        let writer = self.ring.incarnation;
        let now = self.config().clock.now_micros();
        let mut repeated = false;
        let (once, before) = match once {
            Some((once, before)) => (Some(once), before),
            None => (None, None),
        };
        let swaps = before.is_some();
        let written = self.ring.while_serving(id, |successors| {
            let mut store = self.store_mut();
            if let Some(answer) = once.and_then(|once| store.repeated(once, id, key, swaps)) {
                repeated = true;
                return answer.map(|answer| match answer {
                    Outcome::Wrote(w) => Step::Wrote(Ok(w), successors.to_vec()),
                    Outcome::Unchanged(previous) => Step::Unchanged(previous),
                });
            }
            // What the answer needs of the value before, read under the
            // same hold.
            let previous = before.and_then(|before| {
                let live = store.get(id, key).filter(|e| e.is_live(now));
                before(live.and_then(|e| e.value.as_deref()))
            });
            let content = match change(store.get(id, key), now) {
                Ok(Some(content)) => content,
                Ok(None) => {
                    if let Some(once) = once {
                        let previous = KeptValue::of(previous.as_deref());
                        store.applied.remember(once, Record::Unchanged { previous });
                    }
                    return Ok(Step::Unchanged(previous));
                }
                Err(why) => return Err(why),
            };
            let written = store
                .write_by(id, key, content, now, writer, once)
                .map(|written| crate::store::Written {
                    previous,
                    ..written
                });
            if let (Some(once), Ok(written)) = (once, &written) {
                store.applied.remember(once, Record::of(written));
            }
            drop(store);
            Ok(Step::Wrote(written, successors.to_vec()))
        });
        if repeated {
            Stats::add(&self.stats().updates_repeated, 1);
        }
        match written {
            None => self.refusal(id),
            Some(Err(why)) => Response::Error(why.into()),
            Some(Ok(Step::Unchanged(previous))) => Response::Unchanged { previous },
            Some(Ok(Step::Wrote(Ok(written), successors))) => Response::Written {
                entry: written.entry,
                existed: written.existed,
                successors,
                previous: written.previous,
            },
            Some(Ok(Step::Wrote(Err(full), _))) => {
                Stats::add(&self.stats().out_of_memory, 1);
                Response::Full {
                    used: full.used as u64,
                    limit: full.limit as u64,
                }
            }
        }
    }

    /// Answers a peer's request for keys (the dispatch in
    /// [`crate::node`] sends the others to the ring), once what it changed
    /// is as durable as `--fsync` says: an answer acknowledges it.
    pub(crate) fn handle(&self, request: Request) -> Response {
        // A batch that could not be made durable is refused member by
        // member, so that each caller hears why, as it would alone.
        let members = match &request {
            Request::Batch(requests) => Some(requests.len()),
            _ => None,
        };
        self.durably(|| self.answer(request)).unwrap_or_else(|e| {
            let refused = Response::Unwritable(e.to_string());
            match members {
                Some(n) => Response::Batch(vec![refused; n]),
                None => refused,
            }
        })
    }

    fn answer(&self, request: Request) -> Response {
        match request {
            // A node restarted empty has nothing to give until it has
            // copied its arc back; saying so sends the asker elsewhere.
            Request::TakeKeys { .. } if self.ring.refilling() => Response::Syncing,
            Request::TakeKeys {
                from,
                to,
                after,
                max_bytes,
            } => {
                // A peer may ask for any size; answer at most what fits a
                // frame, and a bounded number of entries (Store::chunk).
                let max = (max_bytes as usize).min(4 * CHUNK_BYTES);
                let (items, more) = self.store().chunk(from, to, after.as_ref(), max);
                Response::Keys { items, more }
            }
            Request::Replicate { items } => self.merge(items.into_vec()).answer(),
            Request::Digest {
                from,
                buckets,
                flushed,
            } => self.compare_digests(&from, &buckets, flushed),
            Request::Atomic { id, atomic, once } => self.owner_atomic(id, atomic, once),
            Request::Flush { through } => {
                self.flush(through);
                Response::Done
            }
            Request::Reconcile { from, to, items } => self.reconcile(&from, &to, items),
            Request::Get { key } => self.owner_get(&key),
            // A node restarted empty has lost every copy it held: its
            // "none here" would outvote the replica that still holds the
            // key. Saying so makes the reader count it as unanswered.
            Request::GetCopy { .. } if self.ring.refilling() => Response::Syncing,
            Request::GetCopy { key } => {
                let id = self.key_id(&key);
                Response::Value(self.store_for_one_key().get(id, &key).cloned())
            }
            Request::Write {
                key,
                value,
                expires,
            } => self.owner_write(self.key_id(&key), &key, (value, expires)),
            Request::Update { key, update, id } => self.owner_update(&key, update, id),
            Request::Batch(requests) => {
                Stats::add(&self.stats().peer_batched, requests.len() as u64);
                let mut bytes = 0;
                let answers = requests.into_iter().map(|request| {
                    let read = matches!(request, Request::Get { .. } | Request::GetCopy { .. });
                    if read && bytes > BATCH_ANSWER_BYTES {
                        return Response::Deferred;
                    }
                    let answer = self.answer(request);
                    bytes += answer.value_bytes();
                    answer
                });
                Response::Batch(answers.collect())
            }
            other => Response::Error(format!("not a request for keys: {other:?}")),
        }
    }
}

impl Dhash {
    /// How many of its keys this node owns (those in its arc, with a
    /// value now), read [`COUNT_PER_HOLD`] identifiers per hold of the
    /// store lock, so a large store never holds it long.
    pub(crate) fn owned_count(&self) -> usize {
        let Some((from, to)) = self.ring.own_arc() else {
            return 0;
        };
        let now = self.config().clock.now_micros();
        let (mut total, mut at) = (0, from);
        loop {
            let (count, more) = self.store().count_in(at, to, COUNT_PER_HOLD, now);
            total += count;
            match more {
                Some(last) => at = last,
                None => return total,
            }
        }
    }
}

/// What the answer to `update` needs of the value before it: all of it
/// for a swap, the one bit for `SETBIT`; `None` for the others.
pub(crate) fn before_of(update: &Update) -> Option<Before> {
    match *update {
        Update::Swap { .. } => Some(Box::new(|value| value.map(<[u8]>::to_vec))),
        Update::SetBit { offset, .. } => Some(Box::new(move |value| {
            Some(vec![u8::from(crate::store::strings::bit(
                value.unwrap_or(&[]),
                offset,
            ))])
        })),
        _ => None,
    }
}

/// What `update` makes of the entry `held` at time `now`, for a node that
/// takes values of at most `max` bytes: the new content, `None` when its
/// condition does not hold (nothing is written), or why it is refused.
/// Pure: the owner calls it under the store lock.
pub(crate) fn changed(
    update: Update,
    held: Option<&Entry>,
    now: u64,
    max: usize,
) -> std::result::Result<Option<Content>, &'static str> {
    // The entry as the update sees it: an expired value is none.
    let live = held.filter(|e| e.is_live(now));
    let held_expiry = live.and_then(|e| e.expires);
    match update {
        Update::Increment(by) => {
            let value = live.and_then(|e| e.value.as_deref()).unwrap_or(b"0");
            let sum = crate::store::integer(value)
                .ok_or("value is not an integer or out of range")?
                .checked_add(by)
                .ok_or("increment or decrement would overflow")?;
            Ok(Some((Some(sum.to_string().into_bytes()), held_expiry)))
        }
        Update::Set {
            value,
            exists,
            expiry,
        } => {
            if exists.is_some_and(|exists| exists != live.is_some()) {
                return Ok(None);
            }
            let expires = match expiry {
                Expiry::Clear => None,
                Expiry::Keep => held_expiry,
                Expiry::At(at) => Some(at),
            };
            Ok(Some((Some(value), expires)))
        }
        Update::Append(tail) => {
            let mut value = live.and_then(|e| e.value.clone()).unwrap_or_default();
            value.extend_from_slice(&tail);
            fits(&value, max)?;
            Ok(Some((Some(value), held_expiry)))
        }
        Update::SetRange {
            offset,
            value: part,
        } => {
            let mut value = live.and_then(|e| e.value.clone()).unwrap_or_default();
            let start = usize::try_from(offset).map_err(|_| TOO_BIG)?;
            let end = start.checked_add(part.len()).ok_or(TOO_BIG)?;
            if end > max {
                return Err(TOO_BIG);
            }
            if value.len() < end {
                value.resize(end, 0);
            }
            value[start..end].copy_from_slice(&part);
            Ok(Some((Some(value), held_expiry)))
        }
        Update::IncrementFloat(by) => {
            let value = live.and_then(|e| e.value.as_deref()).unwrap_or(b"0");
            let sum = crate::store::add_floats(value, &by)?;
            Ok(Some((Some(sum.into_bytes()), held_expiry)))
        }
        Update::SetBit { offset, on } => {
            let byte = usize::try_from(offset / 8).map_err(|_| TOO_BIG)?;
            if byte >= max {
                return Err(TOO_BIG);
            }
            let mut value = live.and_then(|e| e.value.clone()).unwrap_or_default();
            crate::store::strings::set_bit(&mut value, byte, offset, on);
            Ok(Some((Some(value), held_expiry)))
        }
        // A delete of nothing writes nothing; a value replaces
        // whatever was there.
        Update::Swap { value: None, .. } if live.is_none() => Ok(None),
        Update::Swap { exists, .. } if exists.is_some_and(|e| e != live.is_some()) => Ok(None),
        Update::Swap { value, expiry, .. } => {
            let expires = match (value.is_some(), expiry) {
                (false, _) | (true, Expiry::Clear) => None,
                (true, Expiry::Keep) => held_expiry,
                (true, Expiry::At(at)) => Some(at),
            };
            Ok(Some((value, expires)))
        }
        Update::Expire { at, only } => {
            // PERSIST of a key without an expiry changes nothing.
            let Some(live) = live
                .filter(|e| at.is_some() || e.expires.is_some())
                .filter(|e| only.is_none_or(|only| only.allows(e.expires, at)))
            else {
                return Ok(None);
            };
            if at.is_some_and(|at| at <= now) {
                return Ok(Some((None, None)));
            }
            Ok(Some((live.value.clone(), at)))
        }
    }
}

/// Redis's words for a value an update would make longer than the store
/// takes.
const TOO_BIG: &str = "string exceeds maximum allowed size (proto-max-bulk-len)";

/// Whether an updated value fits the node's bound, `max`.
fn fits(value: &[u8], max: usize) -> std::result::Result<(), &'static str> {
    if value.len() > max {
        return Err(TOO_BIG);
    }
    Ok(())
}

/// What an update's answer needs of the value before it: Redis's
/// `GETSET` answers the whole old value, `SETBIT` the old bit.
type Before = Box<dyn FnOnce(Option<&[u8]>) -> Option<Vec<u8>>>;

/// What an owner's update did, under its store lock: wrote (or found the
/// store full), with the successors to copy to; or wrote nothing, with
/// what the answer needs of the value then.
enum Step {
    Wrote(
        std::result::Result<crate::store::Written, Full>,
        Vec<NodeRef>,
    ),
    Unchanged(Option<Vec<u8>>),
}
