//! The peer protocol: what one node asks another, and the answers. Types
//! only; [`crate::codec`] puts them on the wire and [`crate::node`] gives
//! them meaning.
//!
//! Every request is answered from the receiving node's local state alone: no
//! handler calls a third node. That is what keeps the ring free of
//! deadlock (see [`crate::node`]), and it is why `find_successor` is one
//! *step* here: the asking node walks the hops itself.

use serde::{Deserialize, Serialize};

use crate::id::{Id, NodeRef};
use crate::store::{Bucket, Cursor, Entry, Item};

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
        items: Vec<Item>,
    },
    /// Anti-entropy: the sender's digests of the start of the arc after
    /// `from`, bucket by bucket. Answered with the buckets that differ
    /// ([`Response::Differ`]).
    Digest {
        /// The arc starts after this identifier.
        from: Id,
        /// Consecutive buckets: the first covers `(from, buckets[0].to]`.
        buckets: Vec<Bucket>,
    },
    /// Anti-entropy: the sender's whole content of the arc `(from, to]`.
    /// The receiver merges it and answers with what it holds there that
    /// the sender lacks or holds older ([`Response::Keys`]).
    Reconcile {
        /// The arc starts after this identifier.
        from: Id,
        /// The arc ends at this identifier, inclusive.
        to: Id,
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
        key: String,
    },
    /// Read the receiver's copy of `key`, owner or not: a GET whose owner
    /// does not answer reads the replicas.
    GetCopy {
        /// The key.
        key: String,
    },
    /// Write `key` at its owner, which stamps the new version; `None`
    /// deletes it (a tombstone).
    Write {
        /// The key.
        key: String,
        /// The new value, or `None` to delete.
        value: Option<String>,
    },
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
    },
    /// The answer to [`Request::Notify`].
    Notified {
        /// The candidate became the receiver's predecessor just now, so it
        /// should pull the keys it took over.
        adopted: bool,
        /// The predecessor the candidate replaced: the candidate takes it as
        /// its own predecessor.
        replaced: Option<NodeRef>,
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
        /// How many keys it holds.
        keys: u64,
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
    },
    /// The answer to [`Request::Digest`]: the indices of the buckets whose
    /// digests differ here.
    Differ {
        /// Bucket indices, ascending.
        buckets: Vec<u32>,
    },
    /// The receiver does not own that key right now (the ring is moving, or
    /// the receiver is taking keys over or leaving): look it up again.
    NotOwner,
    /// The request could not be served; the text says why.
    Error(String),
}
