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
use crate::store::{Cursor, Item};

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
    /// the keys it now owns.
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
    /// The keys in `(from, to]` were copied to their new owner: the receiver
    /// may drop those it no longer owns.
    DropKeys {
        /// The arc starts after this identifier.
        from: Id,
        /// The arc ends at this identifier, inclusive.
        to: Id,
    },
    /// A leaving predecessor hands its keys over; the receiver merges them.
    Handoff {
        /// The pairs, with their versions.
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
    /// Write `key` at its owner.
    Put {
        /// The key.
        key: String,
        /// The value.
        value: String,
    },
    /// Delete `key` at its owner.
    Del {
        /// The key.
        key: String,
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
    /// A chunk of [`Request::TakeKeys`]; `more` names where to resume.
    Keys {
        /// The pairs.
        items: Vec<Item>,
        /// `Some(cursor)`: ask again after it; `None`: the arc is done.
        more: Option<Cursor>,
    },
    /// A write or a notice was applied.
    Done,
    /// The answer to [`Request::Get`]: the value, or `None` when absent.
    Value(Option<String>),
    /// The answer to [`Request::Del`]: whether the key was there.
    Deleted(bool),
    /// The receiver does not own that key right now (the ring is moving, or
    /// the receiver is taking keys over or leaving): look it up again.
    NotOwner,
    /// The request could not be served; the text says why.
    Error(String),
}
