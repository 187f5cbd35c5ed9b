//! The peer protocol: what one node asks another, and the answers, and
//! what makes one well formed. [`crate::codec`] puts them on the wire and
//! [`crate::node`] gives them meaning.
//!
//! # Nothing from the wire is used unchecked
//!
//! Decoding already refuses identifiers outside any space (see
//! [`Id`]). Before a node acts on a request, or on an answer to one of its
//! own, it runs [`Request::check`] or [`Response::check`], which refuse:
//! an identifier of another m; a node whose identifier is not the SHA-1 of
//! the address it advertises (consistent hashing: nobody picks their place
//! on the ring); keys, values and addresses over their limits; more items,
//! nodes or buckets than one message may carry; digest buckets out of ring
//! order; and a version stamped more than [`MAX_CLOCK_AHEAD`] after the
//! receiver's clock, which would otherwise win against every later write
//! and, as a tombstone, never expire. A request that fails is answered
//! with [`Response::Error`] and the connection is closed.
//!
//! Every request is answered from the receiving node's local state alone: no
//! handler calls a third node. That is what keeps the ring free of
//! deadlock (see [`crate::chord`]), and it is why `find_successor` is one
//! *step* here: the asking node walks the hops itself.

use std::ops::Deref;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::id::{Id, NodeRef};
use crate::store::{Bucket, Cursor, Entry, Item, Point, UpdateId};

/// How far after the receiver's clock a version may be stamped. Clocks of
/// a ring's nodes must agree to within this; a write stamped further
/// ahead is refused, so no version can sit unbeatable at the end of time.
pub const MAX_CLOCK_AHEAD: Duration = Duration::from_secs(60);

/// The longest advertised address, `host:port`, in bytes.
pub const MAX_ADDR: usize = 255;

/// The most nodes one message lists (successor lists, lookup candidates).
pub const MAX_NODES: usize = 64;

/// The most key-value items one message carries.
pub const MAX_ITEMS: usize = 4096;

/// The most buckets one anti-entropy digest carries.
pub const MAX_BUCKETS: usize = 64;

/// An atomic change at a key's owner ([`Request::Update`]): the owner
/// reads the entry it holds and writes the result under one hold of its
/// store lock. An expired value counts as no value.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Update {
    /// Add this to the key's value, read as a signed 64-bit integer (a
    /// missing key is 0), and store the sum. The expiry stays.
    Increment(i64),
    /// Redis's `SET` with the options that need the value held: `NX`,
    /// `XX`, `KEEPTTL`.
    Set {
        /// The new value.
        #[serde(with = "serde_bytes")]
        value: Vec<u8>,
        /// Store only if the key has a value (`Some(true)`: `XX`) or only
        /// if it has none (`Some(false)`: `NX`).
        exists: Option<bool>,
        /// What happens to the key's expiry.
        expiry: Expiry,
    },
    /// Redis's `EXPIRE` family and `PERSIST`: only the expiry of a key
    /// that has a value changes (`None`: never), if the condition holds.
    /// A time already passed deletes the key.
    Expire {
        /// The new expiry, in microseconds since the Unix epoch.
        at: Option<u64>,
        /// When to change it; `None`: always.
        only: Option<ExpireIf>,
    },
    /// Redis's `APPEND`: these bytes after the value (a missing key is
    /// empty). The expiry stays.
    Append(#[serde(with = "serde_bytes")] Vec<u8>),
    /// Redis's `SETRANGE`: these bytes over the value from `offset` on,
    /// the value padded with zero bytes to reach it. The expiry stays.
    SetRange {
        /// Where the bytes go.
        offset: u64,
        /// The bytes; never empty (an empty one changes nothing, and is
        /// answered without an update).
        #[serde(with = "serde_bytes")]
        value: Vec<u8>,
    },
    /// Redis's `INCRBYFLOAT`: add this float, as the client wrote it, to
    /// the value read as a float (a missing key is 0). The expiry stays.
    IncrementFloat(#[serde(with = "serde_bytes")] Vec<u8>),
    /// Redis's `SETBIT`: bit `offset` of the value (from the highest bit
    /// of the first byte) becomes `on`, the value growing with zero bytes
    /// to reach it; the answer gives the bit before. The expiry stays.
    SetBit {
        /// Which bit.
        offset: u64,
        /// Set or clear it.
        on: bool,
    },
    /// Redis's `GETSET`, `SET ... GET` and `GETDEL`: replace the value
    /// (`None`: delete it) and answer with the one it replaced. A delete
    /// of a key with no value writes nothing.
    Swap {
        /// The new value; `None` deletes.
        #[serde(with = "serde_bytes")]
        value: Option<Vec<u8>>,
        /// Replace only if the key has a value (`Some(true)`: `XX`) or only
        /// if it has none (`Some(false)`: `NX`); either way the answer is
        /// the value it had.
        exists: Option<bool>,
        /// What happens to the key's expiry.
        expiry: Expiry,
    },
}

/// The conditions of Redis 7's `EXPIRE key time NX|XX|GT|LT`. A key with
/// no expiry counts as expiring never, later than any time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ExpireIf {
    /// `NX`: the key has no expiry.
    None,
    /// `XX`: the key has an expiry.
    Some,
    /// `GT`: the new time is later than the key's.
    Later,
    /// `LT`: the new time is earlier than the key's.
    Earlier,
    /// `XX LT`: the key has an expiry, and the new time is earlier. (`XX
    /// GT` is `GT`: a key without an expiry expires never, later than any
    /// time.)
    SomeAndEarlier,
}

impl ExpireIf {
    /// Whether a key expiring at `held` may be set to expire at `new`.
    pub fn allows(self, held: Option<u64>, new: Option<u64>) -> bool {
        // `None` is never: later than every time.
        let never = |t: Option<u64>| t.map_or(u128::MAX, u128::from);
        match self {
            ExpireIf::None => held.is_none(),
            ExpireIf::Some => held.is_some(),
            ExpireIf::Later => never(new) > never(held),
            ExpireIf::Earlier => never(new) < never(held),
            ExpireIf::SomeAndEarlier => held.is_some() && never(new) < never(held),
        }
    }
}

/// What a [`Update::Set`] does to the key's expiry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Expiry {
    /// The value never expires (a plain `SET`).
    Clear,
    /// The expiry held stays (`KEEPTTL`).
    Keep,
    /// The value expires then, in microseconds since the Unix epoch.
    At(u64),
}

/// A request from one node to another.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Request {
    /// One step of an iterative `find_successor(id)`: answered with
    /// [`Response::Found`] when `id` lies in `(n, successor]`, else with
    /// [`Response::Closer`].
    FindSuccessor {
        /// The identifier being looked up.
        id: Id,
    },
    /// `stabilize` asks its successor for its predecessor and successor list.
    GetNeighbours,
    /// "`candidate` thinks it might be our predecessor" (Figure 6).
    Notify {
        /// The node that believes it precedes the receiver.
        candidate: NodeRef,
    },
    /// Is the receiver alive? (`check_predecessor`.)
    Ping,
    /// The receiver's identity, neighbours and key count (RING, NODE).
    Info,
    /// Copies of the pairs held in `(from, to]`, at most about `max_bytes`
    /// of them: a node that has just become the receiver's predecessor pulls
    /// the keys it now owns, and a node whose arc grew pulls the grown part
    /// from its replicas.
    TakeKeys {
        /// The arc starts after this identifier.
        from: Id,
        /// The arc ends at this identifier, inclusive.
        to: Id,
        /// Resume after this key, as the previous chunk said.
        after: Option<Cursor>,
        /// A soft limit on the size of one answer.
        max_bytes: u32,
    },
    /// Keep copies of these pairs: merge them, the newer version winning.
    /// A coordinator replicating a write, a leaving node handing its keys
    /// to its successor, and a node passing on keys it should not hold all
    /// send this.
    Replicate {
        /// The pairs, with their versions.
        items: Items,
    },
    /// Anti-entropy: the sender's digests of the start of the arc after
    /// `from`, bucket by bucket. Answered with the buckets that differ
    /// ([`Response::Differ`]).
    Digest {
        /// The slice starts after this point.
        from: Point,
        /// Consecutive buckets: the first covers the span from `from` to
        /// `buckets[0].end`.
        buckets: Vec<Bucket>,
        /// The sender's flush watermark ([`Request::Flush`]): the receiver
        /// flushes to it if it had not, so a flush reaches a node that
        /// missed it.
        flushed: u64,
    },
    /// `FLUSHALL`: forget every entry stamped at or before `through`
    /// (microseconds since the epoch), and refuse every copy of one from
    /// now on (see [`crate::store::Store::flush`]). Answered
    /// [`Response::Done`].
    Flush {
        /// The watermark.
        through: u64,
    },
    /// Anti-entropy: the sender's whole content of the span from `from`
    /// to `to` (one bucket or a run of them). The receiver merges it and
    /// answers with what it holds there that the sender lacks or holds
    /// older ([`Response::Keys`]).
    Reconcile {
        /// The span starts after this point.
        from: Point,
        /// The span ends at this point, inclusive.
        to: Point,
        /// The sender's pairs in the arc.
        items: Vec<Item>,
    },
    /// The receiver's predecessor `leaver` is leaving; its own predecessor
    /// takes its place (the paper's "Voluntary Node Departures").
    PredecessorLeaving {
        /// The node that leaves.
        leaver: NodeRef,
        /// The leaver's predecessor, if it knew one.
        predecessor: Option<NodeRef>,
    },
    /// The receiver's successor `leaver` is leaving; its successor list
    /// follows it.
    SuccessorLeaving {
        /// The node that leaves.
        leaver: NodeRef,
        /// The leaver's successor list, which the receiver adopts.
        successors: Vec<NodeRef>,
    },
    /// Read `key` at its owner.
    Get {
        /// The key.
        #[serde(with = "serde_bytes")]
        key: Vec<u8>,
    },
    /// Read the receiver's copy of `key`, owner or not: a GET whose owner
    /// does not answer reads the replicas.
    GetCopy {
        /// The key.
        #[serde(with = "serde_bytes")]
        key: Vec<u8>,
    },
    /// Write `key` at its owner, which stamps the new version; `None`
    /// deletes it (a tombstone).
    Write {
        /// The key.
        #[serde(with = "serde_bytes")]
        key: Vec<u8>,
        /// The new value, or `None` to delete.
        #[serde(with = "serde_bytes")]
        value: Option<Vec<u8>>,
        /// When the value expires, in microseconds since the Unix epoch.
        expires: Option<u64>,
    },
    /// `node` lives in another ring, seen after a partition healed: link
    /// it into ours near its identifier ([`crate::chord::merge`]).
    Consider {
        /// The node of the other ring.
        node: NodeRef,
    },
    /// Change `key` at its owner, atomically there: an increment, or a
    /// write that happens only if the key exists (or only if it does not).
    /// Answered like [`Request::Write`], or [`Response::Unchanged`]. An
    /// `id` the owner applied lately is answered as it was then, and not
    /// applied again (`store/applied.rs`).
    Update {
        /// The key.
        #[serde(with = "serde_bytes")]
        key: Vec<u8>,
        /// The change.
        update: Update,
        /// The same for every attempt at this one update.
        id: UpdateId,
    },
    /// Several operations on keys that share identifier `id`, and so an
    /// owner, applied there under one hold of its store lock: a
    /// transaction, `MSETNX`, `RENAME`, `COPY`. Answered
    /// [`Response::Applied`]; an `once` the owner applied lately is refused
    /// (its answers are not kept), never applied twice.
    Atomic {
        /// The identifier every key of `atomic` has.
        id: Id,
        /// What to do.
        atomic: Atomic,
        /// The same for every attempt.
        once: UpdateId,
    },
    /// Several reads, writes and copies from concurrent requests of the
    /// sender, each answered as if sent alone, in order, in one
    /// [`Response::Batch`]. Only [`Request::batchable`] ones; one message
    /// instead of many is one wake-up and two system calls at each end
    /// (`transport/lanes.rs`).
    Batch(Vec<Request>),
}

/// The most requests one [`Request::Batch`] carries.
pub const MAX_BATCH: usize = 64;

/// The most bytes of keys and values a request may carry to be batched;
/// bigger ones go alone, so that a batch stays small.
pub const BATCHED_BYTES: usize = 64 * 1024;

impl Request {
    /// The bytes of keys and values this request carries, if it is one a
    /// [`Request::Batch`] may hold: a read at the owner or of a copy, a
    /// write at the owner, copies for a replica. Each is answered from the
    /// receiver's own state, without a call of its own, so a batch is
    /// answered in the time of its parts.
    pub fn batchable(&self) -> Option<usize> {
        let bytes = match self {
            Request::Get { key } | Request::GetCopy { key } => key.len(),
            Request::Write { key, value, .. } => key.len() + value.as_ref().map_or(0, Vec::len),
            Request::Replicate { items } => items
                .iter()
                .map(|i| i.key.len() + i.entry.value.as_ref().map_or(0, Vec::len))
                .sum(),
            _ => return None,
        };
        (bytes <= BATCHED_BYTES).then_some(bytes)
    }
}

/// What a [`Request::Atomic`] does, at the owner of all its keys.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Atomic {
    /// `MULTI` ... `EXEC`: each operation in order, each answered; one
    /// that fails (an `INCR` of text) says why, and the others still
    /// apply, as in Redis.
    Each(Vec<Op>),
    /// `MSETNX`: every pair written (no expiry), or none when any of the
    /// keys has a value.
    SetIfNone(Vec<Pair>),
    /// `RENAME` and `RENAMENX`: `from`'s value and expiry move to `to`;
    /// with `only_if_absent`, only when `to` has no value.
    Rename {
        /// The key renamed.
        #[serde(with = "serde_bytes")]
        from: Vec<u8>,
        /// Its new name.
        #[serde(with = "serde_bytes")]
        to: Vec<u8>,
        /// `RENAMENX`.
        only_if_absent: bool,
    },
    /// `COPY`: `from`'s value and expiry copied to `to`, replacing a value
    /// there only when `replace`.
    Copy {
        /// The key copied.
        #[serde(with = "serde_bytes")]
        from: Vec<u8>,
        /// Where to.
        #[serde(with = "serde_bytes")]
        to: Vec<u8>,
        /// `REPLACE`.
        replace: bool,
    },
}

/// A key and a value, as [`Atomic::SetIfNone`] writes them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pair {
    /// The key.
    #[serde(with = "serde_bytes")]
    pub key: Vec<u8>,
    /// The value.
    #[serde(with = "serde_bytes")]
    pub value: Vec<u8>,
}

/// One operation of an [`Atomic::Each`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Op {
    /// Read the key's value.
    Get {
        /// The key.
        #[serde(with = "serde_bytes")]
        key: Vec<u8>,
    },
    /// Apply the update to the key, as [`Request::Update`] would.
    Update {
        /// The key.
        #[serde(with = "serde_bytes")]
        key: Vec<u8>,
        /// The change.
        update: Update,
    },
}

impl Op {
    /// The key it reads or changes.
    pub fn key(&self) -> &[u8] {
        match self {
            Op::Get { key } | Op::Update { key, .. } => key,
        }
    }
}

impl Atomic {
    /// Every key it reads or changes.
    pub fn keys(&self) -> Vec<&[u8]> {
        match self {
            Atomic::Each(ops) => ops.iter().map(Op::key).collect(),
            Atomic::SetIfNone(pairs) => pairs.iter().map(|p| p.key.as_slice()).collect(),
            Atomic::Rename { from, to, .. } | Atomic::Copy { from, to, .. } => vec![from, to],
        }
    }
}

/// What one operation of an atomic request did, at the owner.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum OpAnswer {
    /// An [`Op::Get`]: the value, if the key has one.
    Value(#[serde(with = "serde_bytes")] Option<Vec<u8>>),
    /// It wrote.
    Wrote {
        /// The value written; `None` for a delete.
        #[serde(with = "serde_bytes")]
        value: Option<Vec<u8>>,
        /// The value before, if the key had one.
        #[serde(with = "serde_bytes")]
        previous: Option<Vec<u8>>,
    },
    /// Its condition did not hold: nothing was written. The value then.
    Unchanged(#[serde(with = "serde_bytes")] Option<Vec<u8>>),
    /// It was refused, and nothing was written; the text says why.
    Failed(String),
}

/// A node's answer to a [`Request`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Response {
    /// `id` lies in `(n, successor]`: the first entry is its successor, the
    /// owner; the rest of the answering node's successor list follows it.
    Found {
        /// The answering node's successor list.
        successors: Vec<NodeRef>,
    },
    /// Ask one of these next: the answering node's closest preceding nodes
    /// of `id`, best first.
    Closer {
        /// Candidates for the next hop.
        candidates: Vec<NodeRef>,
    },
    /// The answer to [`Request::GetNeighbours`].
    Neighbours {
        /// The predecessor, if known.
        predecessor: Option<NodeRef>,
        /// The successor list, nearest first.
        successors: Vec<NodeRef>,
        /// False while the node was restarted empty, or paused, and has
        /// not yet taken its place again: its predecessor and successor
        /// list may be a stale view's, so it is no one's proof of who owns
        /// what.
        settled: bool,
    },
    /// The answer to [`Request::Notify`].
    Notified {
        /// The candidate became the receiver's predecessor just now, so it
        /// should pull the keys it took over.
        adopted: bool,
        /// The predecessor the candidate replaced: the candidate takes it as
        /// its own predecessor.
        replaced: Option<NodeRef>,
        /// Whether the receiver owned, and so can hand over, all of the
        /// arc the candidate now owns. Not when the receiver's predecessor
        /// had failed: the part before it was the dead node's, of which
        /// the receiver holds only a replica's copy, perhaps incomplete;
        /// a newcomer then copies its arc from the replicas too.
        whole: bool,
    },
    /// The answer to [`Request::Ping`].
    Pong,
    /// The answer to [`Request::Info`].
    Info {
        /// The node itself.
        node: NodeRef,
        /// A random number the node drew at start-up, telling it apart from
        /// an earlier process at the same address.
        incarnation: u64,
        /// Its predecessor.
        predecessor: Option<NodeRef>,
        /// Its successor list.
        successors: Vec<NodeRef>,
        /// How many keys it holds, its own and replica copies.
        keys: u64,
        /// How many of those lie in its own arc: the keys it owns.
        owned: u64,
    },
    /// A chunk of [`Request::TakeKeys`], or what a [`Request::Reconcile`]
    /// sends back; `more` names where to resume.
    Keys {
        /// The pairs.
        items: Vec<Item>,
        /// `Some(cursor)`: ask again after it; `None`: the arc is done.
        more: Option<Cursor>,
    },
    /// A write or a notice was applied.
    Done,
    /// The answer to [`Request::Get`] and [`Request::GetCopy`]: the entry
    /// held (a tombstone for a deleted key), or `None`.
    Value(Option<Entry>),
    /// The answer to [`Request::Write`] at the owner.
    Written {
        /// The entry stored, with the version the owner gave it: the
        /// coordinator replicates exactly this.
        entry: Entry,
        /// Whether the key had a value before.
        existed: bool,
        /// The owner's successor list: the replicas are the first R - 1.
        successors: Vec<NodeRef>,
        /// What the update's answer needs of the value before: the value
        /// a [`Update::Swap`] replaced, or the bit a [`Update::SetBit`]
        /// changed (one byte, 0 or 1); `None` for the others.
        #[serde(with = "serde_bytes")]
        previous: Option<Vec<u8>>,
    },
    /// The answer to [`Request::Digest`]: the indices of the buckets whose
    /// digests differ here.
    Differ {
        /// Bucket indices, ascending.
        buckets: Vec<u32>,
        /// The receiver's flush watermark, for the sender to flush to.
        flushed: u64,
        /// Whether the receiver was copying its own arc back (restarted in
        /// its place): its digests then cover only part of what it should
        /// hold, and a node that means to copy from it must not take
        /// "equal" for "nothing to copy".
        syncing: bool,
        /// The receiver's store as of these digests: its process's
        /// incarnation and the store's count of changes
        /// ([`crate::store::Store::changes`]). While both stay the same,
        /// so do its digests.
        store: (u64, u64),
    },
    /// The receiver does not own that key right now (the ring is moving, or
    /// the receiver is taking keys over or leaving): look it up again. Also
    /// the answer of a node that is not yet a member of a ring to a lookup
    /// step or a neighbours question: ask another node.
    NotOwner,
    /// The receiver owns that key but does not hold its arc yet: it was
    /// restarted with an empty store and is copying the arc back. Read the
    /// other holders instead; retry a write.
    Syncing,
    /// The receiver's store is full: the write, or some of the copies, were
    /// refused (see [`crate::store`]).
    Full {
        /// The bytes it holds.
        used: u64,
        /// The limit the write would have crossed.
        limit: u64,
    },
    /// The request could not be served; the text says why.
    Error(String),
    /// The receiver cannot write its data directory (a full disk, say):
    /// it refused the write or the copies, or could not make them durable
    /// before answering; the text says why (see [`crate::disk`]).
    Unwritable(String),
    /// The answer to a [`Request::Atomic`]: each operation's answer (one for
    /// `MSETNX`, `RENAME` and `COPY`), the entries it wrote, for the
    /// coordinator to copy to the replicas, and the owner's successor list.
    Applied {
        /// In order.
        answers: Vec<OpAnswer>,
        /// The new entries.
        written: Vec<Item>,
        /// The owner's successor list: the replicas are the first R - 1.
        successors: Vec<NodeRef>,
    },
    /// The answer to an [`Request::Update`] whose condition did not hold:
    /// nothing was written.
    Unchanged {
        /// The value then, for an update that answers with it (`SET ...
        /// NX GET`); `None` for the others.
        #[serde(with = "serde_bytes")]
        previous: Option<Vec<u8>>,
    },
    /// The answers to a [`Request::Batch`], in its order.
    Batch(Vec<Response>),
    /// A request of a batch left unanswered, because the answers before it
    /// filled the message ([`BATCH_ANSWER_BYTES`]): send it again alone.
    Deferred,
}

impl Response {
    /// The bytes of values this answer carries, roughly its size: what
    /// [`BATCH_ANSWER_BYTES`] counts.
    pub fn value_bytes(&self) -> usize {
        let len = |v: &Option<Vec<u8>>| v.as_ref().map_or(0, Vec::len);
        match self {
            Response::Value(Some(entry)) => len(&entry.value),
            Response::Written {
                entry, previous, ..
            } => len(&entry.value) + len(previous),
            Response::Unchanged { previous } => len(previous),
            _ => 0,
        }
    }
}

/// Past this many bytes of answers, a batch's remaining requests are
/// answered [`Response::Deferred`]: one value may be large, and a batch's
/// answer must not be 64 of them.
pub const BATCH_ANSWER_BYTES: usize = 1024 * 1024;

mod check;
pub use check::{Checker, Invalid};

/// The pairs a [`Request::Replicate`] carries. A write's copies for its
/// R - 1 replicas share one list, instead of a copy of every key and value
/// each. Encoded as a list either way, so the wire does not tell them
/// apart; decoded, they are owned.
#[derive(Clone, Debug)]
pub enum Items {
    /// A list of this message's own.
    Owned(Vec<Item>),
    /// A list several messages share.
    Shared(Arc<Vec<Item>>),
}

impl Items {
    /// The list, owned: copied only if another message still shares it.
    pub fn into_vec(self) -> Vec<Item> {
        match self {
            Items::Owned(items) => items,
            Items::Shared(items) => Arc::unwrap_or_clone(items),
        }
    }
}

/// Equal when they hold the same pairs, owned or shared.
impl PartialEq for Items {
    fn eq(&self, other: &Items) -> bool {
        **self == **other
    }
}

impl Eq for Items {}

impl Deref for Items {
    type Target = [Item];

    fn deref(&self) -> &[Item] {
        match self {
            Items::Owned(items) => items,
            Items::Shared(items) => items,
        }
    }
}

impl From<Vec<Item>> for Items {
    fn from(items: Vec<Item>) -> Items {
        Items::Owned(items)
    }
}

impl FromIterator<Item> for Items {
    fn from_iter<I: IntoIterator<Item = Item>>(items: I) -> Items {
        Items::Owned(items.into_iter().collect())
    }
}

impl Serialize for Items {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        (**self).serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Items {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Items, D::Error> {
        Vec::deserialize(deserializer).map(Items::Owned)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Version;

    #[test]
    fn shared_items_encode_as_a_list_and_decode_owned() {
        let items = vec![Item {
            key: b"k".into(),
            entry: Entry {
                value: Some(b"v".to_vec()),
                version: Version {
                    stamp: 7,
                    writer: 1,
                },
                expires: None,
                update: None,
            },
        }];
        let list = postcard::to_stdvec(&items).unwrap();
        let shared = Arc::new(items.clone());
        for request in [
            Request::Replicate {
                items: Items::Shared(shared.clone()),
            },
            Request::Replicate {
                items: items.clone().into(),
            },
        ] {
            let bytes = postcard::to_stdvec(&request).unwrap();
            assert!(bytes.ends_with(&list), "the items go as a plain list");
            let Request::Replicate { items: decoded } = postcard::from_bytes(&bytes).unwrap()
            else {
                panic!("a Replicate decodes as one")
            };
            assert!(matches!(&decoded, Items::Owned(v) if *v == items));
        }
        assert_eq!(Items::Shared(shared.clone()), Items::Owned(items.clone()));
        // A list still shared is copied out; the last holder takes it.
        let other = Items::Shared(shared.clone());
        assert_eq!(other.into_vec(), items);
        assert_eq!(Arc::strong_count(&shared), 1);
        assert_eq!(Items::Shared(shared).into_vec(), items);
    }

    #[test]
    fn expire_conditions_take_no_expiry_as_never() {
        use ExpireIf::{Earlier, Later, None as Unset, Some as Set};
        let (soon, later) = (Some(10), Some(20));
        assert!(Unset.allows(None, soon) && !Unset.allows(soon, later));
        assert!(Set.allows(soon, later) && !Set.allows(None, soon));
        assert!(Later.allows(soon, later) && !Later.allows(later, soon));
        assert!(!Later.allows(None, later), "nothing is later than never");
        assert!(!Later.allows(soon, soon) && !Earlier.allows(soon, soon));
        assert!(Earlier.allows(None, later) && Earlier.allows(later, soon));
        assert!(Later.allows(soon, None) && !Earlier.allows(soon, None));
    }
}
