//! The Chord protocol of one node: the paper's Figures 5 and 6 and its
//! sections on successor lists, failures and voluntary departures, with
//! Zave's corrections. No sockets and no threads: other nodes are reached through
//! a [`Transport`], and the periodic functions are called by whoever drives
//! the node (the maintenance thread in production, a test loop in tests).
//!
//! # The paper's functions, and where they are
//!
//! | paper | here |
//! |---|---|
//! | `n.find_successor(id)` (Fig. 5) | [`Node::find_successor`], one step of it in [`Node::find_successor_step`] |
//! | `n.closest_preceding_node(id)` (Fig. 5) | [`Node::closest_preceding_node`] |
//! | `n.create()` (Fig. 6) | [`Node::create`] |
//! | `n.join(n')` (Fig. 6) | [`Node::join`] |
//! | `n.stabilize()` (Fig. 6, with the successor list of "Failure and Replication") | [`Node::stabilize`] |
//! | `n.notify(n')` (Fig. 6; Zave's `rectify`) | [`Node::notify`] |
//! | `n.fix_fingers()` (Fig. 6) | [`Node::fix_fingers`] |
//! | `n.check_predecessor()` (Fig. 6) | [`Node::check_predecessor`] |
//! | "Voluntary Node Departures" | [`Node::leave`] |
//!
//! # Iterative lookups, and why the ring cannot deadlock
//!
//! The paper writes `find_successor` recursively: each node forwards the
//! query to the next. Here the asking node walks the hops itself: it asks
//! a node for one *step* ("is `id` in `(you, your successor]`? if not, whom
//! should I ask next?"), and every node answers that from its own tables.
//! In fact no request a node serves for a peer ever calls a third node:
//! every handler in [`Node::handle`] reads or writes local state and
//! returns. The outgoing calls are made only by the maintenance thread and
//! by workers serving people (text-protocol clients). So a chain of waits
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
//! - **Failure is a refused or reset connection, or three timeouts in a
//!   row**, never a busy answer: under load a single timeout is more often
//!   an overloaded node than a dead one.
//! - **Notify's answer names the predecessor it replaced**, and the new
//!   predecessor takes it as its own: the original join's
//!   `predecessor = successor.predecessor`. Without it a new node accepts
//!   the first node that notifies it, which can lie beyond another
//!   newcomer, and then answers for that newcomer's keys.
//! - **Only members serve keys.** A node is a member once it created a ring
//!   or was adopted (as predecessor or successor). A node whose successors
//!   all failed goes on alone only if it was a member: one that never got
//!   in must not claim every key of a ring it cannot see.
//! - **Stabilize repeats its first step** while the successor's
//!   predecessor is a closer live node, instead of once per round: after
//!   many concurrent joins the ring then settles in a few rounds instead of
//!   one round per joiner (64 nodes joining at once, 250 ms rounds: 16 s
//!   with one step per round, about 1 s with this and the named
//!   predecessor above).
//! - **Identifiers are unique** (Zave assumes it; the original does not
//!   check): a node whose identifier is taken is refused at join, or when
//!   it links in ([`Node::link_in`], which a server runs after `join`), or
//!   by its maintenance thread if it joined at the very moment its twin
//!   did. A node restarted at its own address takes its old place at once.
//! - **Lookups tolerate dead nodes**: `closest_preceding_node` also looks at
//!   the successor list (as "Failure and Replication" suggests), and a step answers with a few candidates, so
//!   a lookup that meets a dead node tries the next best one.
//! - Zave proves correctness for rings of at least r + 1 nodes with a stable
//!   base of members; smaller rings work here but do not carry that proof.
//!
//! # Keys move with ownership
//!
//! A node serves a key only while it owns it: the key's identifier is in
//! `(predecessor, n]` (see `Node::owns` for a predecessor that failed or
//! was never known), and it is neither taking keys over nor leaving. Anything else is answered
//! [`Response::NotOwner`], and the asking node looks the key up again. When
//! `notify` makes a new node p the predecessor of s, s stops serving the
//! arc p took over and p pulls those keys ([`Request::TakeKeys`]) before it
//! serves anything, then tells s to drop them; a leaving node refuses all
//! keys, pushes them to its successor and tells both neighbours. So
//! ownership moves at one instant and a read never sees a key missing from
//! its new owner.

use std::cmp::Ordering;
use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};
use std::sync::Arc;
use std::time::Duration;

use log::{debug, error, info, warn};
use parking_lot::{Mutex, RwLock};

use crate::finger::FingerTable;
use crate::id::{Id, IdSpace, NodeRef};
use crate::message::{Checker, Request, Response, MAX_NODES};
use crate::replication::RepairState;
use crate::stats::{Stats, Throttled, Timed};
use crate::store::{Full, Item, Store};
use crate::transport::{Handler, Transport, TransportError};
use crate::{Error, Result};

/// How many next-hop candidates a lookup step offers.
const CANDIDATES: usize = 3;

/// How many calls to a node in a row must time out before it counts as
/// failed (a refused connection counts at once).
const TIMEOUTS_BEFORE_FAILED: u32 = 3;

/// How many closer successors one `stabilize` may step to, beyond r.
const MAX_STABILIZE_STEPS: usize = 8;

/// The soft size limit of one chunk of keys handed between nodes.
pub(crate) const CHUNK_BYTES: usize = 256 * 1024;

/// How many copies one hold of the store lock merges.
const MERGE_BATCH: usize = 64;

/// What merging copies into the store did.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Merged {
    /// Entries that changed.
    pub(crate) changed: usize,
    /// Set when some copies were refused because the store is full.
    pub(crate) full: Option<Full>,
}

impl Merged {
    /// The answer to a request that sent the copies.
    fn answer(self) -> Response {
        match self.full {
            None => Response::Done,
            Some(full) => Response::Full {
                used: full.used as u64,
                limit: full.limit as u64,
            },
        }
    }
}

/// The settings every node of a ring must agree on, and this node's timers.
#[derive(Clone, Debug)]
pub struct NodeConfig {
    /// The identifier space (m bits).
    pub space: IdSpace,
    /// r, the length of the successor list ("Failure and Replication").
    pub successors: usize,
    /// How often the maintenance thread runs stabilization.
    pub stabilize_interval: Duration,
    /// How long a client operation keeps retrying while the ring moves.
    pub request_timeout: Duration,
    /// R, how many nodes hold each key: its owner and the next R - 1 of the
    /// owner's successor list. At most r.
    pub replicas: usize,
    /// How long a delete's tombstone is kept, to win against stale copies,
    /// before it is collected.
    pub tombstone_hold: Duration,
    /// The most bytes of keys and values this node holds (see
    /// [`crate::store`] for how they are counted and what happens at the
    /// bound).
    pub max_memory: usize,
}

impl NodeConfig {
    /// Defaults: r = 8, R = 3, stabilize every 250 ms, give up on a request
    /// after 10 s, keep tombstones for 10 minutes, hold at most a quarter
    /// of the machine's memory ([`default_max_memory`]).
    pub fn new(space: IdSpace) -> NodeConfig {
        NodeConfig {
            space,
            successors: 8,
            stabilize_interval: Duration::from_millis(250),
            request_timeout: Duration::from_secs(10),
            replicas: 3,
            tombstone_hold: Duration::from_secs(600),
            max_memory: default_max_memory(),
        }
    }

    /// Checks the settings agree with each other.
    ///
    /// # Errors
    /// [`Error::Config`] naming the setting to change.
    pub fn check(&self) -> Result<()> {
        if self.successors == 0 || self.successors > MAX_NODES {
            return Err(Error::Config(format!(
                "--successors must be between 1 and {MAX_NODES}, not {}",
                self.successors
            )));
        }
        if self.replicas == 0 || self.replicas > self.successors {
            return Err(Error::Config(format!(
                "--replicas must be between 1 and --successors ({}), not {}",
                self.successors, self.replicas
            )));
        }
        Ok(())
    }
}

/// A quarter of the machine's memory, as `/proc/meminfo` gives it; 1 GiB
/// where that cannot be read.
pub fn default_max_memory() -> usize {
    let total_kib = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|text| {
            let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
            line.split_whitespace().nth(1)?.parse::<usize>().ok()
        });
    total_kib.map_or(1 << 30, |kib| kib.saturating_mul(1024) / 4)
}

/// The result of a lookup: the key's owner and who follows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lookup {
    /// The successor list of the owner's predecessor: the owner first.
    pub successors: Vec<NodeRef>,
    /// The nodes the lookup asked, in order (not counting the node that
    /// started it, which took the first step from its own tables).
    pub path: Vec<NodeRef>,
}

impl Lookup {
    /// The node the identifier maps to: `successor(id)`.
    pub fn owner(&self) -> &NodeRef {
        &self.successors[0]
    }

    /// The nodes that hold the key with `replicas` = R: the owner and the
    /// next R - 1 distinct nodes after it (fewer in a smaller ring).
    pub fn holders(&self, replicas: usize) -> Vec<&NodeRef> {
        let mut holders: Vec<&NodeRef> = Vec::with_capacity(replicas);
        for node in &self.successors {
            if holders.len() == replicas {
                break;
            }
            if holders.iter().all(|h| h.addr != node.addr) {
                holders.push(node);
            }
        }
        holders
    }

    /// The hop count: how many other nodes the lookup asked. The paper's
    /// "path length" (section 6.4), about ½·log2 N on average.
    pub fn hops(&self) -> u32 {
        self.path.len() as u32
    }
}

/// What [`Node::notify`] decided.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Adoption {
    /// The candidate is now our predecessor; it replaced this one.
    Adopted {
        /// The predecessor before the candidate, if one was known.
        replaced: Option<NodeRef>,
    },
    /// The candidate is not our predecessor (or is ourselves).
    Refused,
}

/// What one call of [`Node::stabilize`] achieved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Stabilized {
    /// The successor has this node as its predecessor: it is in the ring.
    Linked,
    /// Not yet: the successor was busy or unreachable, or another node
    /// sits between us; a later round goes on.
    Pending,
    /// Another node with our identifier holds our place in the ring.
    Twin(NodeRef),
}

/// What a node's successor told it in `stabilize`.
struct Neighbours {
    predecessor: Option<NodeRef>,
    successors: Vec<NodeRef>,
}

/// A node's view of the ring.
#[derive(Debug)]
pub(crate) struct Links {
    pub(crate) predecessor: Option<NodeRef>,
    /// The predecessor `check_predecessor` last found failed, while no new
    /// one is known. It bounds the keys this node serves: a suspicion can
    /// be false, so the arc grows only when a live node becomes the
    /// predecessor (see `Node::owns`).
    pub(crate) failed_predecessor: Option<NodeRef>,
    /// Never empty; `[self]` when the node is alone.
    pub(crate) successors: Vec<NodeRef>,
    fingers: FingerTable,
    /// A pull of keys from the successor is due: refuse keys until done.
    pub(crate) receiving: bool,
    /// The arc `(a, b]` this node took over when its predecessor was found
    /// failed and a node further back became the predecessor. This node
    /// holds it as a replica, but a replica that joined lately may lack
    /// some of it, so it refuses those keys until it has pulled the arc
    /// from its successors (see [`crate::replication`]).
    pub(crate) unsynced: Option<(Id, Id)>,
    /// The node is leaving: refuse keys.
    pub(crate) leaving: bool,
    /// The node is part of a ring: it created one, or a successor adopted it
    /// as predecessor, or another node adopted it as successor. Only a
    /// member serves keys, and only a member whose successors all failed
    /// concludes it is alone: a node that never got in must not claim
    /// every key of a ring it cannot see.
    pub(crate) member: bool,
}

/// One Chord node: its place on the ring, its tables and its keys.
pub struct Node {
    me: NodeRef,
    /// A random number drawn at start-up: tells this process apart from an
    /// earlier one at the same address.
    incarnation: u64,
    config: NodeConfig,
    transport: Arc<dyn Transport>,
    /// Predecessor, successor list, finger table and the handover flags.
    /// Held only to read or write those fields, never across a call to
    /// another node; taken before `store` when both are needed, so a key's
    /// ownership and its value are read at one instant.
    pub(crate) links: RwLock<Links>,
    /// The key-value pairs held here, as owner or replica. Taken after
    /// `links` when both are needed, through [`Node::store`], which times
    /// each hold; every use does a bounded amount of work under it.
    store: Mutex<Store>,
    /// Warns of refused peer messages, at most once a second.
    refusals: Throttled,
    /// Calls in a row that timed out, by peer address; see
    /// `Node::has_failed`. Held only to count.
    timeouts: Mutex<HashMap<String, u32>>,
    /// Where replica repair resumes next round; held only to read or
    /// update those positions.
    repair: Mutex<RepairState>,
    stats: Stats,
}

/// A snapshot of a node's view, for display and tests.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct View {
    /// The node itself.
    pub me: NodeRef,
    /// Its predecessor, if known.
    pub predecessor: Option<NodeRef>,
    /// Its successor list.
    pub successors: Vec<NodeRef>,
    /// `(k, start, node)` for its fingers.
    pub fingers: Vec<(usize, Id, Option<NodeRef>)>,
    /// How many keys it holds.
    pub keys: usize,
    /// Whether it is copying keys it took over (from its successor after a
    /// join, or from replicas after its predecessor failed), refusing them
    /// until done.
    pub taking_over: bool,
}

impl Node {
    /// A node advertised at `addr`, not yet in any ring: call
    /// [`Node::create`] or [`Node::join`] next.
    ///
    /// # Errors
    /// [`Error::Config`] when the settings disagree ([`NodeConfig::check`]).
    pub fn new(addr: &str, config: NodeConfig, transport: Arc<dyn Transport>) -> Result<Arc<Node>> {
        config.check()?;
        let me = NodeRef::new(config.space, addr);
        Ok(Node::with_identity(me, config, transport))
    }

    /// A node with a given identity; [`Node::new`] hashes the address, and
    /// unit tests choose identifiers by hand.
    fn with_identity(me: NodeRef, config: NodeConfig, transport: Arc<dyn Transport>) -> Arc<Node> {
        let links = Links {
            predecessor: None,
            failed_predecessor: None,
            successors: vec![me.clone()],
            fingers: FingerTable::new(me.id),
            receiving: false,
            unsynced: None,
            leaving: false,
            member: false,
        };
        let max_memory = config.max_memory;
        Arc::new(Node {
            me,
            incarnation: RandomState::new().build_hasher().finish(),
            config,
            transport,
            links: RwLock::new(links),
            store: Mutex::new(Store::with_limit(max_memory)),
            refusals: Throttled::default(),
            timeouts: Mutex::new(HashMap::new()),
            repair: Mutex::new(RepairState::default()),
            stats: Stats::default(),
        })
    }

    /// The node itself.
    pub fn me(&self) -> &NodeRef {
        &self.me
    }

    /// Its settings.
    pub fn config(&self) -> &NodeConfig {
        &self.config
    }

    /// Its counters.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// Where replica repair resumes; see [`crate::replication`].
    pub(crate) fn repair_state(&self) -> &Mutex<RepairState> {
        &self.repair
    }

    /// Its current successor, `finger[1]` in the paper.
    pub fn successor(&self) -> NodeRef {
        self.links.read().successors[0].clone()
    }

    /// A snapshot of its view of the ring.
    pub fn view(&self) -> View {
        let links = self.links.read();
        let fingers = links
            .fingers
            .rows()
            .map(|(k, start, node)| (k, start, node.cloned()))
            .collect();
        View {
            me: self.me.clone(),
            predecessor: links.predecessor.clone(),
            successors: links.successors.clone(),
            fingers,
            keys: self.store().len(),
            taking_over: links.receiving || links.unsynced.is_some(),
        }
    }

    /// The keys held here, sorted: for tests and inspection.
    pub fn held_keys(&self) -> Vec<String> {
        self.store().keys()
    }

    /// What the store holds: entries (tombstones included), bytes as the
    /// store counts them, and the bound on them (`--max-memory`).
    pub fn store_usage(&self) -> (usize, usize, usize) {
        let store = self.store();
        (store.entries(), store.bytes(), store.limit())
    }

    /// The store, locked; the hold is timed into the
    /// `longest_store_lock_us` counter.
    pub(crate) fn store(&self) -> Timed<'_, Store> {
        Timed::lock(&self.store, &self.stats.longest_store_lock_us)
    }

    /// What a message from a peer is checked against: our space, our clock.
    fn checker(&self) -> Checker {
        Checker::new(self.config.space, now_micros())
    }

    /// Calls `to`, or answers locally when `to` is this node.
    pub(crate) fn call(
        &self,
        to: &NodeRef,
        request: Request,
    ) -> std::result::Result<Response, TransportError> {
        if to.addr == self.me.addr {
            return Ok(self.handle(request));
        }
        let answer = self.transport.call(&to.addr, request)?;
        {
            let mut timeouts = self.timeouts.lock();
            if !timeouts.is_empty() {
                timeouts.remove(&to.addr);
            }
        }
        answer.check(&self.checker()).map_err(|e| {
            Stats::add(&self.stats.protocol_errors, 1);
            TransportError::Protocol {
                addr: to.addr.clone(),
                detail: format!("its answer was refused: {e}"),
            }
        })?;
        Ok(answer)
    }

    /// Whether a failed call shows that `node` has failed. A refused or
    /// reset connection does at once: on a LAN or loopback the process is
    /// gone. A busy answer never does. A timeout may only mean the node is
    /// overloaded, and declaring a live node dead moves its keys' ownership,
    /// so it takes [`TIMEOUTS_BEFORE_FAILED`] in a row; any answer in
    /// between starts the count again.
    fn has_failed(&self, node: &NodeRef, e: &TransportError) -> bool {
        match e {
            TransportError::Busy { .. } => false,
            TransportError::Timeout { .. } => {
                let mut timeouts = self.timeouts.lock();
                let count = timeouts.entry(node.addr.clone()).or_insert(0);
                *count += 1;
                if *count < TIMEOUTS_BEFORE_FAILED {
                    return false;
                }
                timeouts.remove(&node.addr);
                true
            }
            TransportError::Unreachable { .. } | TransportError::Protocol { .. } => {
                self.timeouts.lock().remove(&node.addr);
                true
            }
        }
    }

    /// Creates a new ring with this node alone in it.
    ///
    /// ```text
    /// n.create()
    ///   predecessor = nil;
    ///   successor = n;
    /// ```
    pub fn create(&self) {
        {
            let mut links = self.links.write();
            links.predecessor = None;
            links.successors = vec![self.me.clone()];
            links.member = true;
        }
        info!("{}: created a new ring", self.me.addr);
    }

    /// Joins the ring that the node at `known` belongs to.
    ///
    /// ```text
    /// n.join(n')
    ///   predecessor = nil;
    ///   successor = n'.find_successor(n);
    /// ```
    ///
    /// As Zave requires, the successor list is then copied from the
    /// successor itself, which also proves the successor is alive. The
    /// keys this node now owns arrive on its first `stabilize`, when the
    /// successor adopts it as predecessor.
    ///
    /// # Errors
    /// [`Error::IdTaken`] if another node has our identifier,
    /// [`Error::SpaceMismatch`] if the ring uses another m, and transport or
    /// lookup errors if the ring cannot be reached.
    pub fn join(&self, known: &str) -> Result<()> {
        let first = self
            .transport
            .call(known, Request::FindSuccessor { id: self.me.id })?;
        if let Response::Closer { candidates }
        | Response::Found {
            successors: candidates,
        } = &first
        {
            if let Some(other) = candidates.iter().find(|c| c.id.bits() != self.me.id.bits()) {
                return Err(Error::SpaceMismatch {
                    ours: self.me.id.bits(),
                    theirs: other.id.bits(),
                    peer: known.to_string(),
                });
            }
        }
        // A node at our own address is this node's previous incarnation,
        // crashed and not yet noticed, if that address now reaches us: then
        // it is gone and we take its place. If it reaches someone else, that
        // is a live node we must not displace.
        let lookup = self.walk(self.me.id, first)?;
        let restarting = lookup.owner().addr == self.me.addr && self.address_reaches_me();
        // Zave: the successor list is copied from a live successor. The
        // lookup's list may still name nodes that left or died a moment ago,
        // so take the first that answers.
        let mut last_error = None;
        let mut found = None;
        for candidate in &lookup.successors {
            if restarting && candidate.addr == self.me.addr {
                continue;
            }
            if candidate.id == self.me.id {
                return Err(Error::IdTaken {
                    id: self.me.id,
                    holder: candidate.addr.clone(),
                });
            }
            match self.call(candidate, Request::GetNeighbours) {
                Ok(Response::Neighbours {
                    predecessor,
                    successors,
                }) => {
                    found = Some((candidate.clone(), predecessor, successors));
                    break;
                }
                Ok(other) => last_error = Some(unexpected(candidate, &other)),
                Err(e) => last_error = Some(e.into()),
            }
        }
        let Some((successor, its_predecessor, rest)) = found else {
            return Err(last_error.unwrap_or_else(|| {
                Error::Unavailable(format!(
                    "the ring at {known} knows no node but this one's previous incarnation"
                ))
            }));
        };
        // The lookup can miss a twin that joined a moment ago and is not yet
        // linked in; its successor already knows it as predecessor.
        if let Some(twin) = its_predecessor.filter(|p| p.id == self.me.id && p.addr != self.me.addr)
        {
            return Err(Error::IdTaken {
                id: self.me.id,
                holder: twin.addr,
            });
        }
        {
            let mut links = self.links.write();
            links.predecessor = None;
            links.successors = self.successor_list(&successor, &rest);
            links.fingers.set(1, successor.clone());
        }
        info!(
            "{}: joined the ring through {known}; successor is {successor:?}",
            self.me.addr
        );
        Ok(())
    }

    /// Whether a call to our advertised address reaches this very process.
    /// It goes through the transport, not [`Node::call`], which would
    /// answer locally without asking the network.
    fn address_reaches_me(&self) -> bool {
        matches!(
            self.transport.call(&self.me.addr, Request::Info),
            Ok(Response::Info { incarnation, .. }) if incarnation == self.incarnation
        )
    }

    /// Runs `stabilize` until this node's successor has adopted it as
    /// predecessor: the node is then a member of the ring and holds its
    /// keys. Not in the paper, whose `join` returns at once and leaves the
    /// rest to the periodic `stabilize`; a server calls this right after
    /// [`Node::join`] so that a node which cannot become a member says so
    /// at start-up instead of running outside the ring.
    ///
    /// # Errors
    /// [`Error::IdTaken`] when another node with our identifier joined at
    /// the same moment and holds our place; [`Error::Unavailable`] when the
    /// successor did not adopt us in a bounded number of attempts.
    pub fn link_in(&self) -> Result<()> {
        let attempts = 2 * self.config.successors + MAX_STABILIZE_STEPS;
        for _ in 0..attempts {
            match self.stabilize() {
                Stabilized::Linked => return Ok(()),
                Stabilized::Twin(twin) => {
                    return Err(Error::IdTaken {
                        id: self.me.id,
                        holder: twin.addr,
                    })
                }
                Stabilized::Pending => {}
            }
        }
        Err(Error::Unavailable(format!(
            "joined, but successor {:?} did not take this node as its predecessor in {attempts} attempts",
            self.successor()
        )))
    }

    /// Finds `successor(id)`, the node that owns identifier `id`, walking
    /// the ring from this node.
    ///
    /// ```text
    /// // ask node n to find the successor of id
    /// n.find_successor(id)
    ///   if (id ∈ (n, successor])
    ///     return successor;
    ///   else
    ///     n' = closest_preceding_node(id);
    ///     return n'.find_successor(id);
    /// ```
    ///
    /// Iteratively: this node takes the first step itself, then asks each
    /// next node for one step ([`Node::find_successor_step`]) until one
    /// answers with its successor.
    ///
    /// # Errors
    /// [`Error::Unavailable`] when every next hop on offer failed, or the
    /// walk did not converge.
    pub fn find_successor(&self, id: Id) -> Result<Lookup> {
        let first = self.find_successor_step(id);
        self.walk(id, first)
    }

    /// Follows step answers from `answer` until one names the successor.
    fn walk(&self, id: Id, mut answer: Response) -> Result<Lookup> {
        let mut path = Vec::new();
        let mut failed: Vec<String> = Vec::new();
        // Every step moves strictly closer to id, so m steps suffice in a
        // consistent ring; the slack covers failed hops and a moving ring.
        let limit = 2 * usize::from(self.config.space.bits()) + 2 * self.config.successors + 8;
        for _ in 0..limit {
            match answer {
                Response::Found { successors } if !successors.is_empty() => {
                    return Ok(Lookup { successors, path });
                }
                Response::Closer { candidates } => {
                    let (asked, next) = self.ask_next_hop(id, &candidates, &mut failed)?;
                    path.push(asked);
                    answer = next;
                }
                other => {
                    return Err(Error::Unavailable(format!(
                        "lookup of {id} got an unexpected answer: {other:?}"
                    )))
                }
            }
        }
        Err(Error::Unavailable(format!(
            "lookup of {id} did not converge in {limit} hops"
        )))
    }

    /// Asks the first live candidate for the next step toward `id`; returns
    /// the node that answered and its answer.
    fn ask_next_hop(
        &self,
        id: Id,
        candidates: &[NodeRef],
        failed: &mut Vec<String>,
    ) -> Result<(NodeRef, Response)> {
        for candidate in candidates {
            if failed.contains(&candidate.addr) {
                continue;
            }
            match self.call(candidate, Request::FindSuccessor { id }) {
                Ok(answer) => return Ok((candidate.clone(), answer)),
                Err(e) => {
                    debug!("{}: lookup hop {candidate:?} failed: {e}", self.me.addr);
                    failed.push(candidate.addr.clone());
                    if self.has_failed(candidate, &e) {
                        self.forget_finger(candidate);
                    }
                }
            }
        }
        Err(Error::Unavailable(format!(
            "lookup of {id}: every next hop failed (tried {})",
            failed.join(", ")
        )))
    }

    /// One step of `find_successor(id)`, answered from this node's tables:
    /// the first `if` of the paper's pseudocode, or the candidates for the
    /// recursive call.
    pub fn find_successor_step(&self, id: Id) -> Response {
        let links = self.links.read();
        if id.in_open_closed(self.me.id, links.successors[0].id) {
            let mut successors = links.successors.clone();
            // A list shorter than r came back round to this node: the ring
            // is that small, and this node follows the last entry.
            let wrapped = successors.len() < self.config.successors;
            if wrapped && successors.iter().all(|s| s.addr != self.me.addr) {
                successors.push(self.me.clone());
            }
            Response::Found { successors }
        } else {
            Response::Closer {
                candidates: self.closest_preceding_nodes(&links, id, CANDIDATES),
            }
        }
    }

    /// The node in this node's tables that most closely precedes `id`.
    ///
    /// ```text
    /// // search the local table for the highest predecessor of id
    /// n.closest_preceding_node(id)
    ///   for i = m downto 1
    ///     if (finger[i] ∈ (n, id))
    ///       return finger[i];
    ///   return n;
    /// ```
    pub fn closest_preceding_node(&self, id: Id) -> NodeRef {
        let links = self.links.read();
        self.closest_preceding_nodes(&links, id, 1)
            .pop()
            .unwrap_or_else(|| self.me.clone())
    }

    /// The `limit` known nodes in `(n, id)` closest to `id`, best first.
    /// Fingers as in the paper, plus the successor list as the section
    /// "Failure and Replication" suggests,
    /// so a lookup can route around a dead finger.
    fn closest_preceding_nodes(&self, links: &Links, id: Id, limit: usize) -> Vec<NodeRef> {
        let n = self.me.id;
        let mut found: Vec<NodeRef> = links
            .fingers
            .from_farthest()
            .chain(links.successors.iter())
            .filter(|node| node.id.in_open(n, id))
            .cloned()
            .collect();
        // Farthest from n (so closest to id) first.
        found.sort_by(|a, b| {
            if a.id == b.id {
                Ordering::Equal
            } else if b.id.in_open(n, a.id) {
                Ordering::Less
            } else {
                Ordering::Greater
            }
        });
        found.dedup_by(|a, b| a.addr == b.addr);
        found.truncate(limit);
        found
    }

    /// Verifies this node's successor and tells the successor about it;
    /// keeps the successor list ("Failure and Replication"). Called
    /// periodically.
    ///
    /// ```text
    /// // called periodically. verifies n's immediate
    /// // successor, and tells the successor about n.
    /// n.stabilize()
    ///   x = successor.predecessor;
    ///   if (x ∈ (n, successor))
    ///     successor = x;
    ///   successor.notify(n);
    /// ```
    ///
    /// With the successor list and Zave's corrections: a successor that
    /// does not answer is dropped and the next one in the list is tried at
    /// once; `x` is adopted only after it answers; the list becomes the
    /// successor followed by its own list, less the last entry. And the
    /// first step repeats, within one call, while `x` is a closer live
    /// node, so a chain of k nodes that joined at once settles in a few
    /// rounds rather than k.
    pub fn stabilize(&self) -> Stabilized {
        let Some((mut successor, mut neighbours)) = self.first_live_successor() else {
            return Stabilized::Pending;
        };
        // The paper adopts x = successor.predecessor once per round. After
        // many concurrent joins the nodes that should sit between us and
        // our successor form a chain, and one step per round would take a
        // round per chain link; so repeat the step while it finds a closer
        // live node (bounded: each step is one call).
        for _ in 0..self.config.successors + MAX_STABILIZE_STEPS {
            let x = neighbours.predecessor.clone();
            if let Some(twin) = x
                .as_ref()
                .filter(|x| x.id == self.me.id && x.addr != self.me.addr)
            {
                // Two nodes joined at once with one identifier: the successor
                // took the other, and this node is outside the ring. Say so
                // loudly; it cannot be fixed from here.
                error!(
                    "{}: {twin:?} has our identifier and holds our place in the ring; \
                     this node is not part of it. Restart it with another --advertise address",
                    self.me.addr
                );
                return Stabilized::Twin(twin.clone());
            }
            let Some(x) = x.filter(|x| x.id.in_open(self.me.id, successor.id)) else {
                break;
            };
            // Zave: adopt x only once it has answered.
            match self.call(&x, Request::GetNeighbours) {
                Ok(Response::Neighbours {
                    predecessor,
                    successors,
                }) => {
                    successor = x;
                    neighbours = Neighbours {
                        predecessor,
                        successors,
                    };
                }
                Ok(other) => {
                    warn!("{}: {}", self.me.addr, unexpected(&x, &other));
                    break;
                }
                Err(e) => {
                    debug!("{}: not adopting {x:?} as successor: {e}", self.me.addr);
                    break;
                }
            }
        }
        self.set_successors(&successor, &neighbours.successors);
        if self.notify_successor(&successor, neighbours.predecessor.as_ref()) {
            self.links.write().member = true;
            Stabilized::Linked
        } else {
            Stabilized::Pending
        }
    }

    /// The first entry of the successor list that answers, with its
    /// predecessor and successor list. Dead entries are dropped on the way,
    /// and the node falls back on itself when every entry is dead.
    fn first_live_successor(&self) -> Option<(NodeRef, Neighbours)> {
        loop {
            let successor = self.successor();
            match self.call(&successor, Request::GetNeighbours) {
                Ok(Response::Neighbours {
                    predecessor,
                    successors,
                }) => {
                    let neighbours = Neighbours {
                        predecessor,
                        successors,
                    };
                    return Some((successor, neighbours));
                }
                Ok(other) => {
                    warn!("{}: {}", self.me.addr, unexpected(&successor, &other));
                    return None;
                }
                Err(e) if !self.has_failed(&successor, &e) => {
                    debug!("{}: successor busy or slow: {e}", self.me.addr);
                    return None;
                }
                Err(e) => self.successor_failed(&successor, &e),
            }
        }
    }

    /// Drops a dead successor from the list; the next entry takes its place.
    fn successor_failed(&self, dead: &NodeRef, e: &TransportError) {
        let next = {
            let mut links = self.links.write();
            links.successors.retain(|s| s.addr != dead.addr);
            if links.successors.is_empty() {
                links.successors.push(self.me.clone());
            }
            links.fingers.forget(&dead.addr);
            let next = links.successors[0].clone();
            links.fingers.set(1, next.clone());
            next
        };
        self.transport.forget(&dead.addr);
        info!(
            "{}: successor {dead:?} failed ({e}); successor is now {next:?}",
            self.me.addr
        );
    }

    /// `successor` followed by its list `rest`: cut where the list comes
    /// back around to this node (a ring smaller than r + 1), without
    /// repeats, at most r long.
    fn successor_list(&self, successor: &NodeRef, rest: &[NodeRef]) -> Vec<NodeRef> {
        let mut list = vec![successor.clone()];
        for node in rest {
            if node.addr == self.me.addr || list.len() == self.config.successors {
                break;
            }
            if !list.iter().any(|n| n.addr == node.addr) {
                list.push(node.clone());
            }
        }
        list
    }

    /// Installs a new successor list headed by `successor`. A list shorter
    /// than r says the ring is that small as the successor sees it; our
    /// predecessor then follows its last entry (it may have joined since
    /// the successor last looked), so it is appended: replicas and a
    /// leaving node's heirs are chosen from this list, and a ring of three
    /// must not look like a ring of two.
    fn set_successors(&self, successor: &NodeRef, rest: &[NodeRef]) {
        let mut list = self.successor_list(successor, rest);
        let old = {
            let mut links = self.links.write();
            if list.len() < self.config.successors && successor.addr != self.me.addr {
                if let Some(p) = links
                    .predecessor
                    .as_ref()
                    .filter(|p| p.addr != self.me.addr && list.iter().all(|n| n.addr != p.addr))
                {
                    list.push(p.clone());
                }
            }
            links.fingers.set(1, successor.clone());
            std::mem::replace(&mut links.successors, list)
        };
        if old[0] != *successor {
            info!(
                "{}: successor changed from {:?} to {successor:?}",
                self.me.addr, old[0]
            );
        }
    }

    /// `successor.notify(n)`, then the key handover it may start: when the
    /// successor adopts this node as its predecessor, this node now owns
    /// the arc between the old predecessor and itself, and pulls those keys
    /// before serving any key. `its_predecessor` is the successor's
    /// predecessor as it told us a moment ago.
    fn notify_successor(&self, successor: &NodeRef, its_predecessor: Option<&NodeRef>) -> bool {
        if successor.addr == self.me.addr {
            // Alone: a member that outlived its successors goes on as a ring
            // of one; a node that never got in stays out.
            self.notify(&self.me);
            return self.links.read().member;
        }
        // Other nodes may route keys to us as soon as the successor adopts
        // us, so from before the notify until the pull is done we refuse
        // keys. The flag stays up while a pull is due (an interrupted pull
        // is retried on the next round).
        let becoming = its_predecessor.is_none_or(|p| p.addr != self.me.addr);
        let pull_due = {
            let mut links = self.links.write();
            links.receiving |= becoming;
            links.receiving
        };
        let notice = Request::Notify {
            candidate: self.me.clone(),
        };
        if !pull_due {
            self.tell(successor, notice);
            return true;
        }
        match self.call(successor, notice) {
            Ok(Response::Notified { adopted: false, .. }) if becoming => {
                // Another node sits between us; nothing is ours to pull.
                self.links.write().receiving = false;
                false
            }
            Ok(Response::Notified { replaced, .. }) => {
                if let Some(named) = replaced {
                    self.take_named_predecessor(named);
                }
                self.pull_keys(successor);
                true
            }
            Ok(other) => {
                warn!("{}: {}", self.me.addr, unexpected(successor, &other));
                false
            }
            Err(e) => {
                debug!("{}: notify {successor:?} failed: {e}", self.me.addr);
                false
            }
        }
    }

    /// Sends a request whose answer carries nothing we need; logs failures.
    fn tell(&self, to: &NodeRef, request: Request) {
        if let Err(e) = self.call(to, request) {
            debug!("{}: {to:?} did not take a notice: {e}", self.me.addr);
        }
    }

    /// Copies the keys this node took over from `successor`, the arc
    /// `(successor, n]`, and then serves keys again. The successor keeps
    /// its copies: it is now a replica of them, and whichever node no
    /// longer should hold them passes them on ([`crate::replication`]). On
    /// failure the pull stays due and the next `stabilize` retries it.
    fn pull_keys(&self, successor: &NodeRef) {
        let Some(received) = self.copy_arc(successor, successor.id, self.me.id) else {
            return;
        };
        self.links.write().receiving = false;
        Stats::add(&self.stats.keys_received, received);
        if received > 0 {
            info!(
                "{}: took over {received} keys from {successor:?}",
                self.me.addr
            );
        }
    }

    /// Copies everything `source` holds in the arc `(from, to]` into this
    /// node's store, chunk by chunk; how many entries came, or `None` if
    /// `source` stopped answering.
    pub(crate) fn copy_arc(&self, source: &NodeRef, from: Id, to: Id) -> Option<u64> {
        let mut after = None;
        let mut received = 0;
        loop {
            let request = Request::TakeKeys {
                from,
                to,
                after: after.take(),
                max_bytes: CHUNK_BYTES as u32,
            };
            match self.call(source, request) {
                Ok(Response::Keys { items, more }) => {
                    received += items.len() as u64;
                    if self.merge(items).full.is_some() {
                        return None;
                    }
                    match more {
                        Some(cursor) => after = Some(cursor),
                        None => return Some(received),
                    }
                }
                Ok(other) => {
                    warn!("{}: {}", self.me.addr, unexpected(source, &other));
                    return None;
                }
                Err(e) => {
                    debug!(
                        "{}: copying keys from {source:?} stopped: {e}",
                        self.me.addr
                    );
                    return None;
                }
            }
        }
    }

    /// Sends `items` to `to` in a [`Request::Replicate`]; whether it took
    /// them.
    pub(crate) fn give(&self, to: &NodeRef, items: Vec<Item>) -> bool {
        match self.call(to, Request::Replicate { items }) {
            Ok(Response::Done) => true,
            Ok(Response::Full { used, limit }) => {
                let full = Full {
                    used: used as usize,
                    limit: limit as usize,
                };
                warn!("{}: {to:?} refused keys: it {full}", self.me.addr);
                false
            }
            Ok(other) => {
                warn!("{}: {}", self.me.addr, unexpected(to, &other));
                false
            }
            Err(e) => {
                warn!("{}: handing keys to {to:?} failed: {e}", self.me.addr);
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
        let mut items = items.into_iter().peekable();
        while items.peek().is_some() {
            let mut store = self.store();
            for item in items.by_ref().take(MERGE_BATCH) {
                let id = self.config.space.hash(item.key.as_bytes());
                match store.merge(id, item.key, item.entry, horizon) {
                    Ok(changed) => merged.changed += usize::from(changed),
                    Err(full) => merged.full = Some(full),
                }
            }
        }
        if let Some(full) = merged.full {
            Stats::add(&self.stats.out_of_memory, 1);
            self.refusals.warn(|| {
                format!(
                    "{}: refusing copies of keys: the store {full} (--max-memory)",
                    self.me.addr
                )
            });
        }
        merged
    }

    /// Tombstones stamped before this (microseconds since the Unix epoch)
    /// have been kept long enough: `now - tombstone_hold`.
    pub(crate) fn horizon(&self) -> u64 {
        let hold = u64::try_from(self.config.tombstone_hold.as_micros()).unwrap_or(u64::MAX);
        now_micros().saturating_sub(hold)
    }

    /// `candidate` thinks it might be our predecessor.
    ///
    /// ```text
    /// // n' thinks it might be our predecessor.
    /// n.notify(n')
    ///   if (predecessor is nil or n' ∈ (predecessor, n))
    ///     predecessor = n';
    /// ```
    ///
    /// Says whether `candidate` became the predecessor just now (and is
    /// another node), so that it pulls the keys it took over, and which
    /// predecessor it replaced, so that it can take that one as its own. A
    /// candidate with our identifier but another address is refused:
    /// identifiers are unique.
    pub fn notify(&self, candidate: &NodeRef) -> Adoption {
        if candidate.id == self.me.id && candidate.addr != self.me.addr {
            warn!(
                "{}: refusing {candidate:?} as predecessor: it has our identifier",
                self.me.addr
            );
            return Adoption::Refused;
        }
        let mut links = self.links.write();
        // While keys are arriving, a newcomer would pull an incomplete arc
        // from us; it tries again next round.
        if links.leaving || links.receiving || links.unsynced.is_some() {
            return Adoption::Refused;
        }
        if !self.precedes_better(&links, candidate) {
            return Adoption::Refused;
        }
        let mut grown = None;
        if candidate.addr != self.me.addr {
            if let Some(failed) = links.failed_predecessor.clone() {
                // Only possible once the predecessor was found failed: the
                // arc grows back past it.
                grown = self.note_growth(&mut links, candidate.id, failed.id);
            }
        }
        let old = links.predecessor.replace(candidate.clone());
        links.failed_predecessor = None;
        if candidate.addr != self.me.addr {
            // A node that takes us as its successor has let us in.
            links.member = true;
        }
        drop(links);
        if let Some((from, to)) = grown {
            info!(
                "{}: took over ({from}, {to}]; pulling it from the replicas before serving it",
                self.me.addr
            );
        }
        if candidate.addr == self.me.addr {
            // A lone node adopting itself: nothing to hand over.
            return Adoption::Refused;
        }
        info!(
            "{}: predecessor is now {candidate:?} (was {old:?})",
            self.me.addr
        );
        Adoption::Adopted { replaced: old }
    }

    /// Records that the arc this node owns now starts after `new_from`
    /// instead of after `old_from`: the keys in `(new_from, old_from]` are
    /// refused until pulled from the replicas. Returns the arc now
    /// refused, or `None` when the arc did not grow.
    fn note_growth(&self, links: &mut Links, new_from: Id, old_from: Id) -> Option<(Id, Id)> {
        if new_from == old_from || new_from.in_open(old_from, self.me.id) {
            return None;
        }
        let to = links.unsynced.map_or(old_from, |(_, to)| to);
        links.unsynced = Some((new_from, to));
        links.unsynced
    }

    /// The test of the paper's `notify`, which taking a named predecessor
    /// shares: `predecessor is nil or n' ∈ (predecessor, n)`.
    fn precedes_better(&self, links: &Links, candidate: &NodeRef) -> bool {
        match &links.predecessor {
            None => true,
            Some(p) => candidate.id.in_open(p.id, self.me.id),
        }
    }

    /// Takes `named`, the predecessor our successor just replaced with us,
    /// as our own predecessor: it is the closest node before us that our
    /// successor knew. This is the original join's
    /// `predecessor = successor.predecessor`; without it a new node would
    /// accept the first node that notifies it, which can lie beyond another
    /// newcomer that already holds keys, and it would then answer for that
    /// newcomer's keys.
    fn take_named_predecessor(&self, named: NodeRef) {
        if named.id == self.me.id {
            return;
        }
        let taken = {
            let mut links = self.links.write();
            let better = self.precedes_better(&links, &named);
            if better {
                links.predecessor = Some(named.clone());
                links.failed_predecessor = None;
            }
            better
        };
        if taken {
            info!(
                "{}: predecessor is now {named:?}, as our successor named it",
                self.me.addr
            );
        }
    }

    /// Refreshes one finger. Called periodically.
    ///
    /// ```text
    /// // called periodically. refreshes finger table entries.
    /// // next stores the index of the next finger to fix.
    /// n.fix_fingers()
    ///   next = next + 1;
    ///   if (next > m)
    ///     next = 1;
    ///   finger[next] = find_successor(n + 2^(next-1));
    /// ```
    ///
    /// The following fingers whose starts lie before the node found share
    /// it, so they are set too and skipped ([`FingerTable::set_run`]): a
    /// full sweep costs about log2 N lookups instead of m.
    pub fn fix_fingers(&self) {
        let (next, start) = {
            let mut links = self.links.write();
            let next = links.fingers.advance_next();
            (next, links.fingers.start(next))
        };
        match self.find_successor(start) {
            Ok(lookup) => {
                let mut links = self.links.write();
                let last = links.fingers.set_run(next, lookup.owner());
                links.fingers.skip_to(last);
            }
            Err(e) => debug!("{}: fix_fingers({next}): {e}", self.me.addr),
        }
    }

    /// Clears the predecessor if it has failed. Called periodically.
    ///
    /// ```text
    /// // called periodically. checks whether predecessor has failed.
    /// n.check_predecessor()
    ///   if (predecessor has failed)
    ///     predecessor = nil;
    /// ```
    ///
    /// "Failed" means the ping's connection was refused or reset, or it
    /// timed out several rounds in a row (see `Node::has_failed`).
    pub fn check_predecessor(&self) {
        let predecessor = self.links.read().predecessor.clone();
        let Some(p) = predecessor.filter(|p| p.addr != self.me.addr) else {
            return;
        };
        let Err(e) = self.call(&p, Request::Ping) else {
            return;
        };
        if !self.has_failed(&p, &e) {
            return;
        }
        {
            let mut links = self.links.write();
            if links.predecessor.as_ref() == Some(&p) {
                links.failed_predecessor = links.predecessor.take();
            }
            links.fingers.forget(&p.addr);
        }
        self.transport.forget(&p.addr);
        info!("{}: predecessor {p:?} failed ({e})", self.me.addr);
    }

    /// Leaves the ring gracefully, as the paper's "Voluntary Node
    /// Departures" describes: the leaving node transfers its keys to its
    /// successor (here to its first R live successors, so every key it held
    /// keeps R copies), then notifies its predecessor and its successor so
    /// they link to each other. From the first step on, this node refuses
    /// keys, so no write lands here after the handover.
    ///
    /// # Errors
    /// [`Error::Unavailable`] when there are successors but none accepted the
    /// keys; they are then lost with this node, and the message says how
    /// many. The last node of a ring leaves without error: there is nobody
    /// to hand keys to, and stopping the whole ring is a normal request.
    pub fn leave(&self) -> Result<()> {
        // A fresh look at the successors first: ones that left or died a
        // moment ago are dropped, so the keys go to a live node.
        let _ = self.stabilize();
        let (predecessor, successors) = {
            let mut links = self.links.write();
            links.leaving = true;
            (links.predecessor.clone(), links.successors.clone())
        };
        let heirs: Vec<&NodeRef> = successors
            .iter()
            .filter(|s| s.addr != self.me.addr)
            .collect();
        let alone = heirs.is_empty();
        // Every key held here, as owner or replica, has its next holder
        // among our first R successors: giving them all a copy keeps R
        // copies of every key.
        let mut took: Vec<&NodeRef> = Vec::new();
        for heir in heirs {
            if took.len() == self.config.replicas {
                break;
            }
            if self.hand_off_keys(heir) {
                took.push(heir);
            }
        }
        let Some(heir) = took.first().copied() else {
            let held = self.store().len();
            if alone {
                // The last node of the ring: stopping it stops the store.
                warn!(
                    "{}: the last node leaves; its {held} keys go with it",
                    self.me.addr
                );
                return Ok(());
            }
            return Err(Error::Unavailable(format!(
                "no successor took this node's {held} keys; they leave with it"
            )));
        };
        let notice = Request::PredecessorLeaving {
            leaver: self.me.clone(),
            predecessor: predecessor.clone(),
        };
        self.tell(heir, notice);
        if let Some(p) = predecessor.filter(|p| p.addr != self.me.addr) {
            let notice = Request::SuccessorLeaving {
                leaver: self.me.clone(),
                successors: successors.clone(),
            };
            self.tell(&p, notice);
        }
        info!("{}: left the ring; keys handed to {heir:?}", self.me.addr);
        Ok(())
    }

    /// Pushes every key held here to `heir`, in chunks. Whether it took all.
    fn hand_off_keys(&self, heir: &NodeRef) -> bool {
        let everything = self.me.id;
        let mut after = None;
        let mut handed = 0;
        loop {
            let (items, more) =
                self.store()
                    .chunk(everything, everything, after.as_ref(), CHUNK_BYTES);
            let count = items.len() as u64;
            if !self.give(heir, items) {
                return false;
            }
            handed += count;
            match more {
                Some(cursor) => after = Some(cursor),
                None => break,
            }
        }
        Stats::add(&self.stats.keys_handed_off, handed);
        true
    }

    /// Forgets a finger that failed to answer.
    fn forget_finger(&self, dead: &NodeRef) {
        self.links.write().fingers.forget(&dead.addr);
        self.transport.forget(&dead.addr);
    }

    /// Whether this node owns `id` on the ring: it lies in
    /// `(predecessor, n]`.
    ///
    /// When the predecessor was found failed, the arc stays
    /// `(failed predecessor, n]` until a live node notifies us: a timeout
    /// under load can suspect a live node, and if we took over its keys at
    /// once we would answer NOT_FOUND for keys it still holds. If it really
    /// died, its own predecessor notifies us within a round and the arc
    /// grows then. A node that has never had a predecessor owns every key
    /// only while it is alone.
    fn owns(&self, links: &Links, id: Id) -> bool {
        match (&links.predecessor, &links.failed_predecessor) {
            (Some(p), _) | (None, Some(p)) => id.in_open_closed(p.id, self.me.id),
            (None, None) => links.successors[0].addr == self.me.addr,
        }
    }

    /// Whether this node serves reads and writes of `id` now: it owns it,
    /// is not taking keys over or leaving, and does not lack that part of
    /// its arc (see `Links::unsynced`).
    fn serves(&self, links: &Links, id: Id) -> bool {
        links.member
            && !links.receiving
            && !links.leaving
            && self.owns(links, id)
            && !links.unsynced.is_some_and(|(a, b)| id.in_open_closed(a, b))
    }

    /// Whether this node is part of a ring (see `Links::member`).
    pub fn is_member(&self) -> bool {
        self.links.read().member
    }

    /// Reads `key` as its owner: the entry, a tombstone included, so the
    /// coordinator can compare it with replicas.
    fn owner_get(&self, key: &str) -> Response {
        let id = self.config.space.hash(key.as_bytes());
        let links = self.links.read();
        if !self.serves(&links, id) {
            return Response::NotOwner;
        }
        Response::Value(self.store().get(id, key).cloned())
    }

    /// Writes `key` as its owner: stamps the new version, which the
    /// coordinator then copies to the replicas this answer names.
    fn owner_write(&self, key: &str, value: Option<String>) -> Response {
        let id = self.config.space.hash(key.as_bytes());
        let links = self.links.read();
        if !self.serves(&links, id) {
            return Response::NotOwner;
        }
        let written = self
            .store()
            .write(id, key, value, now_micros(), self.incarnation);
        match written {
            Ok(written) => Response::Written {
                entry: written.entry,
                existed: written.existed,
                successors: links.successors.clone(),
            },
            Err(full) => {
                Stats::add(&self.stats.out_of_memory, 1);
                Response::Full {
                    used: full.used as u64,
                    limit: full.limit as u64,
                }
            }
        }
    }

    fn info(&self) -> Response {
        let links = self.links.read();
        Response::Info {
            node: self.me.clone(),
            incarnation: self.incarnation,
            predecessor: links.predecessor.clone(),
            successors: links.successors.clone(),
            keys: self.store().len() as u64,
        }
    }
}

/// Microseconds since the Unix epoch: the stamp of a new version.
pub fn now_micros() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
}

impl Handler for Node {
    /// Answers a peer's request from local state only; see the module
    /// docs for why no handler calls another node.
    ///
    /// A request that fails [`Request::check`] is answered
    /// [`Response::Error`], and the server closes the connection.
    fn handle(&self, request: Request) -> Response {
        Stats::add(&self.stats.peer_requests, 1);
        if let Err(e) = request.check(&self.checker()) {
            Stats::add(&self.stats.protocol_errors, 1);
            self.refusals
                .warn(|| format!("{}: refused a peer message: {e}", self.me.addr));
            return Response::Error(format!("refused: {e}"));
        }
        match request {
            Request::FindSuccessor { id } => self.find_successor_step(id),
            Request::GetNeighbours => {
                let links = self.links.read();
                Response::Neighbours {
                    predecessor: links.predecessor.clone(),
                    successors: links.successors.clone(),
                }
            }
            Request::Notify { candidate } => match self.notify(&candidate) {
                Adoption::Adopted { replaced } => Response::Notified {
                    adopted: true,
                    replaced,
                },
                Adoption::Refused => Response::Notified {
                    adopted: false,
                    replaced: None,
                },
            },
            Request::Ping => Response::Pong,
            Request::Info => self.info(),
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
            Request::Replicate { items } => self.merge(items).answer(),
            Request::Digest { from, buckets } => self.compare_digests(from, &buckets),
            Request::Reconcile { from, to, items } => self.reconcile(from, to, items),
            Request::PredecessorLeaving {
                leaver,
                predecessor,
            } => {
                let left = {
                    let mut links = self.links.write();
                    let left = links.predecessor.as_ref() == Some(&leaver);
                    if left {
                        // The leaver handed us its keys first: the arc grows
                        // with its data here.
                        links.predecessor = predecessor.filter(|p| p.addr != leaver.addr);
                    }
                    left
                };
                if left {
                    info!("{}: predecessor {leaver:?} left", self.me.addr);
                }
                Response::Done
            }
            Request::SuccessorLeaving { leaver, successors } => {
                if self.successor() == leaver {
                    let rest: Vec<NodeRef> =
                        successors.into_iter().filter(|s| *s != leaver).collect();
                    let next = rest.first().cloned().unwrap_or_else(|| self.me.clone());
                    info!("{}: successor {leaver:?} left", self.me.addr);
                    self.set_successors(&next, rest.get(1..).unwrap_or_default());
                }
                Response::Done
            }
            Request::Get { key } => self.owner_get(&key),
            Request::GetCopy { key } => {
                let id = self.config.space.hash(key.as_bytes());
                Response::Value(self.store().get(id, &key).cloned())
            }
            Request::Write { key, value } => self.owner_write(&key, value),
        }
    }
}

/// The error for a peer that answered with the wrong kind of response.
fn unexpected(peer: &NodeRef, answer: &Response) -> Error {
    Error::Transport(TransportError::Protocol {
        addr: peer.addr.clone(),
        detail: format!("unexpected answer {answer:?}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::MemoryNetwork;

    /// Node `n` of a 6-bit ring, with fingers and successors set by hand:
    /// nothing is reachable, so only local logic runs.
    fn node(n: u64, fingers: &[u64], successors: &[u64]) -> Arc<Node> {
        let space = IdSpace::new(6).unwrap();
        let reference = |id: u64| NodeRef {
            id: space.id(id),
            addr: format!("n{id}"),
        };
        let config = NodeConfig::new(space);
        let node = Node::with_identity(reference(n), config, MemoryNetwork::new());
        {
            let mut links = node.links.write();
            for (k, &f) in fingers.iter().enumerate() {
                links.fingers.set(k + 1, reference(f));
            }
            links.successors = successors.iter().map(|&s| reference(s)).collect();
        }
        node
    }

    fn id(node: &NodeRef) -> u64 {
        node.id.to_u64().unwrap()
    }

    /// Node 8 of the paper's Figure 4(a).
    fn n8() -> Arc<Node> {
        node(8, &[14, 14, 14, 21, 32, 42], &[14, 21, 32])
    }

    #[test]
    fn closest_preceding_node_is_the_farthest_finger_before_the_id() {
        let n8 = n8();
        let space = n8.config.space;
        assert_eq!(id(&n8.closest_preceding_node(space.id(54))), 42);
        assert_eq!(id(&n8.closest_preceding_node(space.id(40))), 32);
        assert_eq!(id(&n8.closest_preceding_node(space.id(20))), 14);
        // The interval is open: a finger at the id itself does not precede it.
        assert_eq!(id(&n8.closest_preceding_node(space.id(42))), 32);
        // Wrapping past zero: 3 is after 42 going round from 8.
        assert_eq!(id(&n8.closest_preceding_node(space.id(3))), 42);
        // Nothing lies in (8, 10) but 9: the node returns itself.
        assert_eq!(id(&n8.closest_preceding_node(space.id(10))), 8);
    }

    #[test]
    fn closest_preceding_node_also_uses_the_successor_list() {
        // No fingers known yet, only the successor list.
        let n = node(8, &[], &[14, 21, 32]);
        assert_eq!(id(&n.closest_preceding_node(n.config.space.id(30))), 21);
    }

    #[test]
    fn a_lookup_step_offers_distinct_candidates_best_first() {
        let n8 = n8();
        match n8.find_successor_step(n8.config.space.id(54)) {
            Response::Closer { candidates } => {
                let ids: Vec<u64> = candidates.iter().map(id).collect();
                assert_eq!(ids, vec![42, 32, 21]);
            }
            other => panic!("expected candidates, got {other:?}"),
        }
    }

    #[test]
    fn a_lookup_step_answers_when_the_id_is_up_to_the_successor() {
        let n8 = n8();
        for target in [9, 14] {
            match n8.find_successor_step(n8.config.space.id(target)) {
                Response::Found { successors } => assert_eq!(id(&successors[0]), 14),
                other => panic!("{target}: expected the successor, got {other:?}"),
            }
        }
    }

    #[test]
    fn notify_adopts_as_the_paper_says() {
        let n = node(32, &[], &[38]);
        let space = n.config.space;
        let candidate = |i: u64| NodeRef {
            id: space.id(i),
            addr: format!("n{i}"),
        };
        // predecessor is nil: adopt.
        assert_eq!(
            n.notify(&candidate(14)),
            Adoption::Adopted { replaced: None }
        );
        // n' in (predecessor, n): adopt, and say whom it replaced.
        let replaced = Some(candidate(14));
        assert_eq!(n.notify(&candidate(21)), Adoption::Adopted { replaced });
        // n' not in (predecessor, n): keep the predecessor.
        assert_eq!(n.notify(&candidate(14)), Adoption::Refused);
        assert_eq!(id(n.view().predecessor.as_ref().unwrap()), 21);
        // Our identifier at another address: refused, identifiers are unique.
        let twin = NodeRef {
            id: space.id(32),
            addr: "elsewhere".into(),
        };
        assert_eq!(n.notify(&twin), Adoption::Refused);
        assert_eq!(id(n.view().predecessor.as_ref().unwrap()), 21);
    }
}
