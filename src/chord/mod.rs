//! The Chord ring of one node: the paper's Figures 5 and 6 and its
//! sections on successor lists, failures and voluntary departures, with
//! Zave's corrections, and nothing else: no store. No sockets and no
//! threads either: other nodes are reached through a [`crate::transport::Transport`], and the
//! periodic functions are called by whoever drives the node (the
//! maintenance thread in production, a test loop in tests). A student can
//! read this module alone, with the paper open, and find all of Chord.
//!
//! - [`ring`]: a node's ring state (predecessor, successor list, fingers,
//!   the hand-over flags) and the lock that guards it; calls to peers and
//!   the failure rule; the RING walk.
//! - [`lookup`]: `find_successor` and `closest_preceding_node` (Figure 5).
//! - [`stabilize`]: `create`, `join`, `stabilize`, `notify`, `fix_fingers`,
//!   `check_predecessor` (Figure 6, with successor lists and Zave).
//! - [`leave`]: voluntary departures.
//!
//! Two modules go beyond the paper, for faults its nodes do not have, and
//! say so: [`health`] (a pause of this process, peers that timed out a
//! moment ago) and [`merge`] (rings that merge when a partition heals,
//! after Shafaat, Ghodsi and Haridi).
//!
//! The keys stored on the ring live one layer up, in [`crate::dhash`]. The
//! ring moves them through the [`Keys`] trait when ownership moves (a node
//! joins and takes over part of its successor's arc; a node leaves), and
//! the key layer reads the ring's view (whether this node serves a key now,
//! its arc, its successors); nothing here imports it.
//!
//! # The paper's functions, and where they are
//!
//! | paper | here |
//! |---|---|
//! | `n.find_successor(id)` (Fig. 5) | [`Ring::find_successor`], one step of it in [`Ring::find_successor_step`] |
//! | `n.closest_preceding_node(id)` (Fig. 5) | [`Ring::closest_preceding_node`] |
//! | `n.create()` (Fig. 6) | [`Ring::create`] |
//! | `n.join(n')` (Fig. 6) | [`Ring::join`] |
//! | `n.stabilize()` (Fig. 6, with the successor list of "Failure and Replication") | [`Ring::stabilize`] |
//! | `n.notify(n')` (Fig. 6; Zave's `rectify`) | [`Ring::notify`] |
//! | `n.fix_fingers()` (Fig. 6) | [`Ring::fix_fingers`] |
//! | `n.check_predecessor()` (Fig. 6) | [`Ring::check_predecessor`] |
//! | "Voluntary Node Departures" | [`Ring::leave`] |
//! | (not in the paper) ring unification after a partition | [`Ring::merge_round`] |
//!
//! # Iterative lookups, and why the ring cannot deadlock
//!
//! The paper writes `find_successor` recursively: each node forwards the
//! query to the next. Here the asking node walks the hops itself: it asks
//! a node for one *step* ("is `id` in `(you, your successor]`? if not, whom
//! should I ask next?"), and every node answers that from its own tables.
//! In fact no request a node serves for a peer ever calls a third node:
//! every handler (`crate::node::Node::handle`) reads or writes local state and
//! returns. The outgoing calls are made only by the maintenance thread and
//! by workers serving people (text, Redis and HTTP clients). So a chain of waits
//! has at most one link: a worker or the maintenance thread waits on a peer
//! handler, which waits on nothing but a local lock. A cycle of waits, and
//! so a deadlock, is impossible even if every worker of every node is busy;
//! a node whose workers are all busy answers a new connection `ERR busy` at
//! once rather than queueing it, and the caller retries.
//!
//! # Where we depart from the paper
//!
//! - **Stabilize checks the new successor is alive** before adopting it, and
//!   copies the successor list from a node it has just heard from (Zave:
//!   the original adopts `successor.predecessor` unchecked, and a dead
//!   predecessor there breaks the ring).
//! - **Notify adopts a candidate when the predecessor is unknown**, which
//!   `check_predecessor` arranges when the predecessor dies. Zave's
//!   `rectify` checks the old predecessor's liveness inside notify; doing it
//!   in `check_predecessor` instead keeps handlers free of outgoing calls
//!   (see above) and has the same effect one maintenance period later.
//! - **A failed predecessor still bounds the keys a node serves** until a
//!   live node notifies it: failure is only ever suspected, and taking over
//!   a live node's keys would answer NOT_FOUND for keys it holds.
//! - **Failure is a refused or reset connection, or a timeout**, never a
//!   busy answer. In a partition that drops packets silence is all a dead
//!   node gives; a live node taken for dead only loses its place in
//!   routing for a round (ownership moves only when a live node notifies).
//! - **Notify's answer names the predecessor it replaced**, and the new
//!   predecessor takes it as its own: the original join's
//!   `predecessor = successor.predecessor`. Without it a new node accepts
//!   the first node that notifies it, which can lie beyond another
//!   newcomer, and then answers for that newcomer's keys.
//! - **Only members take part.** A node is a member once it created a
//!   ring or its successor adopted it as predecessor. A node whose
//!   successors all failed goes on alone only if it was a member: one that
//!   never got in must not claim every key of a ring it cannot see. Before
//!   that, a node answers no lookup step, gives no neighbours and adopts
//!   no predecessor: it would answer as a node alone, and a node restarted
//!   at its old address is asked at its old place in others' tables. (A
//!   newcomer that took such a node as successor took over an empty arc
//!   as if it were whole, and answered "no such key" for acknowledged
//!   writes until the ring healed.)
//! - **Stabilize repeats its first step** while the successor's
//!   predecessor is a closer live node, instead of once per round: after
//!   many concurrent joins the ring then settles in a few rounds instead of
//!   one round per joiner (64 nodes joining at once, 250 ms rounds: 16 s
//!   with one step per round, about 1 s with this and the named
//!   predecessor above).
//! - **Identifiers are unique** (Zave assumes it; the original does not
//!   check): a node whose identifier is taken is refused at join, or when
//!   it links in ([`Ring::link_in`], which a server runs after `join`), or
//!   by its maintenance thread if it joined at the very moment its twin
//!   did. A node restarted at its own address takes its old place at once.
//! - **Lookups tolerate dead nodes**: a lookup step runs
//!   `closest_preceding_node`'s loop over the successor list as well as the
//!   fingers (as "Failure and Replication" suggests), and answers with a
//!   few candidates, so a lookup that meets a dead node tries the next best
//!   one; when all of them are dead, it goes on from the answering node's
//!   successor list (`Ring::past_the_dead`).
//! - **`join` copies the successor list from the first successor that
//!   answers**, not simply the first one named: tables can still name a
//!   node that left a moment ago. The server retries the join for a few
//!   periods while the ring is still catching up.
//! - **`fix_fingers` sets every following finger whose start lies before
//!   the node it found**, so a sweep costs about log2 N lookups instead of
//!   m.
//! - **A read or write first asks the owner this node's successor list
//!   shows** ([`Ring::known_owner`]), saving the lookup's calls. Only the
//!   owner's own answer is taken from that shortcut; anything else sends
//!   the request down the paper's walk, which alone picks the replicas a
//!   read falls back to (the random hunt found reads through a stale list
//!   answering NOT_FOUND). Fingers are not used for it: a stale finger
//!   can name a node that was frozen and came back before its successor
//!   linked it in again. A node is its own shortcut for its own arc only
//!   while its predecessor's notices of the last two rounds name it
//!   successor (`Ring::confirmed_owner`): the random hunt found a node
//!   whose successor had left, holding a predecessor that pointed past it,
//!   answering for an arc the ring gave its successor.
//! - **A node serves keys only while linked, and a gained arc only after a
//!   lease** (`Ring::serves`), so that two nodes never serve one key at
//!   once. Stabilization can close a loop
//!   past live nodes that still point into it (Zave's appendages): the
//!   loop's node then owns their arcs as the ring's walk sees it, while
//!   the appendages, whose successor died, go on owning them in their own
//!   eyes. The paper's ring is eventually right, but a store must be right
//!   meanwhile: the random hunt found appendages answering reads from
//!   copies the loop no longer wrote to (seeds 8420143160, 6241018618).
//!   So a node serves only while its last stabilize found its successor's
//!   arc starting at it or after it, and a node whose arc grows past a
//!   failed predecessor serves the part it gained only a lease (three
//!   stabilization periods) later. An appendage whose successor died
//!   finds at its next round a successor that has not taken its notice,
//!   and stops, before the loop's node starts. The price: a failed node's
//!   arc is served again a lease after its successor takes over, not at
//!   once.
//! - **A key's identifier starts with its Redis Cluster hash slot**
//!   ([`crate::id::IdSpace::key`]): the top 14 bits are CRC-16 of the key
//!   modulo 16384, the rest SHA-1 of it. Each slot is then one arc, so a
//!   node can tell Redis Cluster clients which slots it serves
//!   (`CLUSTER SLOTS`), and they send each key to its owner without a
//!   lookup. A key with a hash tag is placed by its tag: `{user:42}:name`
//!   and `{user:42}:mail` hash as `user:42`, so they share an owner and
//!   its replicas, as they share a slot in Redis Cluster; so a transaction
//!   or a `RENAME` over them runs at one owner, atomically. The paper
//!   takes SHA-1 alone; any fixed hash spreading keys evenly keeps its
//!   consistent hashing, and Redis Cluster relies on CRC-16 spreading them
//!   over slots.
//! - Zave proves correctness for rings of at least r + 1 nodes with a stable
//!   base of members; smaller rings work here but do not carry that proof.
//!
//! # Keys move with ownership
//!
//! A node serves a key only while it owns it: the key's identifier is in
//! `(predecessor, n]` (see `Ring::owns` for a predecessor that failed or
//! was never known), and it is neither taking keys over nor leaving. Anything else is answered
//! `NotOwner`, and the asking node looks the key up again. When
//! `notify` makes a new node p the predecessor of s, s stops serving the
//! arc p took over and p pulls those keys (`TakeKeys`) before it
//! serves anything, then tells s to drop them; a leaving node refuses all
//! keys, pushes them to its successor and tells both neighbours. So
//! ownership moves at one instant and a read never sees a key missing from
//! its new owner.

pub mod health;
mod lease;
pub mod leave;
pub mod lookup;
pub mod merge;
pub mod ring;
pub mod stabilize;

pub use ring::{Adoption, Lookup, Ring, RingEntry, Stabilized, View};

use crate::id::{Id, NodeRef};

/// Why a copy of an arc did not finish.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CopyError {
    /// The source stopped answering, or this node's store is full: try
    /// again later.
    Stopped,
    /// The source was restarted with an empty store and is copying its own
    /// arc back: it holds nothing to give.
    SourceRefilling,
}

/// What the ring asks of the layer that stores keys on it
/// ([`crate::dhash`]) when ownership moves.
pub trait Keys {
    /// Copies what `source` holds in the arc `(from, to]` into this node's
    /// store; how many entries came.
    ///
    /// # Errors
    /// [`CopyError`]: `source` stopped answering, this node could not take
    /// every entry, or `source` does not hold the arc at all.
    fn copy_arc(&self, source: &NodeRef, from: Id, to: Id) -> Result<u64, CopyError>;

    /// Gives every key held here to `heir`; whether it took them all.
    fn hand_off(&self, heir: &NodeRef) -> bool;

    /// How many keys are held here.
    fn count(&self) -> usize;
}
