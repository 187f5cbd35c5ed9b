//! A node's ring state and what every part of the protocol needs around
//! it: the node itself, its settings, the lock that guards its view of the
//! ring, calls to other nodes and the rule that says when one has failed.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize};
use std::sync::{Arc, OnceLock, Weak};
use std::time::Duration;

use log::info;
use parking_lot::{Mutex, RwLock};

use crate::config::NodeConfig;
use crate::error::{Error, Result};
use crate::finger::FingerTable;
use crate::id::{Id, NodeRef};
use crate::message::{Checker, Request, Response};
use crate::peer::{CallError, Caller, Peer};
use crate::stats::Stats;
use crate::transport::{Handler, Transport, TransportError};

/// The result of a lookup: the key's owner and who follows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lookup {
    /// The successor list of the owner's predecessor: the owner first.
    pub successors: Vec<NodeRef>,
    /// The nodes the lookup asked, in order (not counting the node that
    /// started it, which took the first step from its own tables).
    pub path: Vec<NodeRef>,
    /// How many nodes on the way did not answer and were passed over: the
    /// paper's "timeouts per lookup".
    pub timeouts: u32,
}

impl Lookup {
    /// The node the identifier maps to: `successor(id)`.
    pub fn owner(&self) -> &NodeRef {
        &self.successors[0]
    }

    /// The nodes that hold the key with `replicas` = R: the owner and the
    /// next R - 1 distinct nodes after it (fewer in a smaller ring).
    pub fn holders(&self, replicas: usize) -> Vec<&NodeRef> {
        let mut holders: Vec<&NodeRef> = Vec::with_capacity(replicas.min(self.successors.len()));
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

/// What [`Ring::notify`] decided.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Adoption {
    /// The candidate is now our predecessor; it replaced this one.
    Adopted {
        /// The predecessor before the candidate, if one was known.
        replaced: Option<NodeRef>,
        /// Whether this node owned all of the candidate's arc: not when
        /// its predecessor had failed (see [`Response::Notified`]).
        whole: bool,
    },
    /// The candidate is not our predecessor (or is ourselves).
    Refused,
}

/// What one call of [`Ring::stabilize`] achieved.
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

/// A node's view of the ring: the paper's predecessor, successor list and
/// fingers, Zave's membership, and the hand-over of keys.
#[derive(Debug)]
pub(crate) struct Links {
    pub(crate) predecessor: Option<NodeRef>,
    /// The predecessor `check_predecessor` last found failed, while no new
    /// one is known. It bounds the keys this node serves: a suspicion can
    /// be false, so the arc grows only when a live node becomes the
    /// predecessor (see `Ring::owns`).
    pub(crate) failed_predecessor: Option<NodeRef>,
    /// Never empty; `[self]` when the node is alone.
    pub(crate) successors: Vec<NodeRef>,
    pub(crate) fingers: FingerTable,
    /// Keys this node is taking over or giving up, and so does not serve
    /// yet or any more.
    pub(crate) handover: Handover,
    /// The node is part of a ring: it created one, or a successor adopted it
    /// as predecessor. Only a member serves keys, answers lookup steps and
    /// neighbours questions and adopts a predecessor, and only a member
    /// whose successors all failed concludes it is alone: a node that
    /// never got in must not claim every key of a ring it cannot see.
    pub(crate) member: bool,
    /// The last node that notified us while it was, or became, our
    /// predecessor, and when (on the node's clock): it then named us its
    /// successor. See [`Ring::confirmed_owner`].
    pub(crate) notified_by: Option<(NodeRef, Duration)>,
    /// Whether the last stabilize that reached a successor found its arc
    /// starting at this node or after it. Only then does the node serve
    /// keys: see [`Ring::serves`]. When it does not (the successor did not
    /// take our notice and holds a predecessor before us), the ring's walk
    /// ends at the successor for our arc too: a loop closed past us, and
    /// we are Zave's "appendage".
    pub(crate) linked: bool,
}

/// Keys a node is taking over or giving up: state of the key layer, kept
/// under the ring's `links` lock because it changes at the same instant as
/// the predecessor (a notify that moves the arc also marks what must be
/// copied before it is served), and a key's ownership and its hand-over
/// must be read together ([`Ring::while_serving`]). The ring sets it as
/// stabilization moves arcs; the key layer clears it as it copies them
/// ([`Ring::arc_synced`]).
#[derive(Debug, Default)]
pub(crate) struct Handover {
    /// A pull of keys from the successor is due: refuse keys until done.
    pub(crate) receiving: bool,
    /// The arc `(a, b]` this node took over when its predecessor was found
    /// failed and a node further back became the predecessor. This node
    /// holds it as a replica, but a replica that joined lately may lack
    /// some of it, so it refuses those keys until it has pulled the arc
    /// from its successors (see [`crate::dhash::replication`]).
    pub(crate) unsynced: Option<(Id, Id)>,
    /// The arc this node's own arc last grew by, past a failed
    /// predecessor, and when (on the node's clock). Whatever it pulls, it
    /// serves none of it for [`Ring::lease`] from then: the live nodes that
    /// stabilization had not yet linked in front of us may still serve
    /// part of it, and they stop within that time ([`Ring::serves`]).
    pub(crate) grown: Option<((Id, Id), Duration)>,
    /// The node is leaving: refuse keys.
    pub(crate) leaving: bool,
    /// When (on the node's clock) the node was restarted at the address of
    /// a member the ring had not yet found dead, taking that member's place
    /// with an empty store (or, with a data directory, one that missed the
    /// writes made while it was down); or when it joined in front of such
    /// a node and got nothing from it. It serves no key until it has a
    /// predecessor and a whole stabilization period has passed, so that
    /// every node that takes it as successor has notified it and the
    /// closest won; then it pulls the arc `(predecessor, n]` from its
    /// successors (as `unsynced`, with `refilling`): see
    /// [`Ring::begin_refill`].
    pub(crate) restarted: Option<Duration>,
    /// The `unsynced` arc is one this node restarted without: it holds
    /// none of it (or, from its data directory, a copy that may be stale),
    /// so readers should go to the other holders rather than wait. (An
    /// arc taken over from a failed predecessor is one this node mostly
    /// holds already, as a replica: readers wait for the pull.)
    pub(crate) refilling: bool,
}

impl Handover {
    /// Whether nothing stops the node serving `id`, a key it owns: it is
    /// not pulling keys from its successor, not leaving, not restarted
    /// empty, and not lacking that part of its arc.
    pub(super) fn allows(&self, id: Id) -> bool {
        !self.receiving
            && !self.leaving
            && self.restarted.is_none()
            && !self.unsynced.is_some_and(|(a, b)| id.in_open_closed(a, b))
    }
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
    /// join, or from replicas after its predecessor failed, a restart or a
    /// pause), or not linked or waiting out a lease (`Ring::serves`),
    /// refusing them until done.
    pub taking_over: bool,
}

/// The liveness state of a node ([`crate::chord::health`] reads and
/// writes it). Atomics and one short-held lock; never
/// held across a call.
#[derive(Debug, Default)]
pub(crate) struct Health {
    /// The node's clock at the last heartbeat, in microseconds.
    pub(super) beat: AtomicU64,
    /// A pause was seen and the arc has not been marked for copying back.
    pub(super) paused: AtomicBool,
    /// When (on the node's clock) the last pause was seen.
    pub(super) woke: AtomicU64,
    /// Peers that timed out, by address, with the time they stop being
    /// suspected. Held only to look up or update an entry.
    pub(super) suspects: Mutex<HashMap<String, Duration>>,
    /// How many entries `suspects` has, written under its lock: every
    /// client request asks about a suspect, and while there are none (as
    /// nearly always) the answer needs no lock that all workers share.
    pub(super) suspect_count: AtomicUsize,
    /// Set by a signal handler when the process is resumed after a stop
    /// (see [`Ring::watch_resumes`]); unset where no one listens.
    pub(super) resumed: OnceLock<Arc<AtomicBool>>,
}

/// A node seen and lost, and when to probe it next.
#[derive(Clone, Debug)]
pub(super) struct Lost {
    pub(super) node: NodeRef,
    /// When (on the node's clock) to probe it next.
    pub(super) due: Duration,
    pub(super) backoff: Duration,
    /// Given with `--join`: never leaves the list.
    pub(super) seed: bool,
}

/// The passive list ([`crate::chord::merge`]), and a foreign node another node asked us to link in.
#[derive(Debug, Default)]
pub(crate) struct Passive {
    pub(super) lost: Vec<Lost>,
    pub(super) candidate: Option<NodeRef>,
}

/// The Chord ring as one node sees it, and how it reaches the others.
pub struct Ring {
    pub(crate) me: NodeRef,
    /// A random number drawn at start-up: tells this process apart from an
    /// earlier one at the same address.
    pub(crate) incarnation: u64,
    pub(crate) config: NodeConfig,
    pub(crate) transport: Arc<dyn Transport>,
    /// Predecessor, successor list, finger table and the hand-over flags.
    /// Held only to read or write those fields, never across a call to
    /// another node; taken before the key layer's store when both are
    /// needed ([`Ring::while_serving`]), so a key's ownership and its value
    /// are read at one instant.
    pub(crate) links: RwLock<Links>,
    /// Pauses of this process and peers that timed out a moment ago (see
    /// [`crate::chord::health`]).
    pub(crate) health: Health,
    /// Nodes seen and lost, to probe for a healed partition, and a node of
    /// another ring to link in (see [`crate::chord::merge`]). Held only to
    /// read or update the list.
    pub(crate) passive: Mutex<Passive>,
    pub(crate) stats: Arc<Stats>,
    /// The whole node this ring belongs to, which answers the requests
    /// this node sends itself (set once, by [`Ring::serve_locally`]).
    local: OnceLock<Weak<dyn Handler>>,
}

impl Ring {
    /// The ring state of a node with identity `me`, not yet in any ring.
    pub fn new(
        me: NodeRef,
        config: NodeConfig,
        transport: Arc<dyn Transport>,
        stats: Arc<Stats>,
    ) -> Ring {
        let links = Links {
            predecessor: None,
            failed_predecessor: None,
            successors: vec![me.clone()],
            fingers: FingerTable::new(me.id),
            handover: Handover::default(),
            member: false,
            notified_by: None,
            linked: false,
        };
        Ring {
            me,
            incarnation: config.clock.random(),
            config,
            transport,
            links: RwLock::new(links),
            health: Health::default(),
            passive: Mutex::new(Passive::default()),
            stats,
            local: OnceLock::new(),
        }
    }

    /// Makes `node` (the whole node: ring and keys) answer the requests
    /// this node sends to itself, as a peer would.
    pub fn serve_locally(&self, node: Weak<dyn Handler>) {
        let _ = self.local.set(node);
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

    /// Its current successor, `finger[1]` in the paper.
    pub fn successor(&self) -> NodeRef {
        self.links.read().successors[0].clone()
    }

    /// A snapshot of its view of the ring.
    pub fn view(&self, keys: usize) -> View {
        let now = self.config.clock.elapsed();
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
            keys,
            taking_over: links.handover.receiving
                || links.handover.unsynced.is_some()
                || self.settling(&links, now, None)
                || (links.member && !self.linked(&links))
                || links.handover.restarted.is_some()
                || self.paused(),
        }
    }

    /// What a message from a peer is checked against: our space, our clock.
    pub(crate) fn checker(&self) -> Checker {
        Checker::new(self.config.space, self.config.clock.now_micros())
    }

    /// `node`, to call with typed requests (this node itself is answered
    /// locally).
    pub fn peer<'a>(&'a self, node: &'a NodeRef) -> Peer<'a> {
        Peer::new(self, node)
    }

    /// Whether a failed call shows that the node called has failed (the
    /// failure rule of `Ring::has_failed`); answers that refuse or do not
    /// fit the request never do.
    pub(crate) fn call_failed(e: &CallError) -> bool {
        matches!(e, CallError::Transport(t) if Ring::has_failed(t))
    }

    /// Calls `to`, or answers locally when `to` is this node; counts the
    /// call for the failure rule and checks the answer before it is used.
    pub(crate) fn call(
        &self,
        to: &NodeRef,
        request: Request,
    ) -> std::result::Result<Response, TransportError> {
        if to.addr == self.me.addr {
            // This node itself: answered here, by the whole node (ring and
            // keys), without the network.
            let local = self.local.get().and_then(Weak::upgrade);
            return local.map(|node| node.handle(request)).ok_or_else(|| {
                TransportError::Unreachable {
                    addr: to.addr.to_string(),
                    reason: "this node is not serving".into(),
                }
            });
        }
        let answer = self.transport.call(&to.addr, request);
        self.answered(to, answer)
    }

    /// [`Ring::call`] to several nodes at once: the remote calls are in
    /// flight together ([`crate::transport::Transport::call_all`]). The
    /// answers come in the order of `calls`.
    pub(crate) fn call_all(
        &self,
        calls: Vec<(&NodeRef, Request)>,
    ) -> Vec<std::result::Result<Response, TransportError>> {
        let mut answers: Vec<Option<std::result::Result<Response, TransportError>>> =
            Vec::with_capacity(calls.len());
        // The remote calls, each with its place and node, go out together.
        let mut remote = Vec::with_capacity(calls.len());
        let mut sent = Vec::with_capacity(calls.len());
        for (place, (to, request)) in calls.into_iter().enumerate() {
            if to.addr == self.me.addr {
                answers.push(Some(self.call(to, request)));
            } else {
                answers.push(None);
                remote.push((&*to.addr, request));
                sent.push((place, to));
            }
        }
        if !remote.is_empty() {
            for ((place, to), answer) in sent.into_iter().zip(self.transport.call_all(remote)) {
                answers[place] = Some(self.answered(to, answer));
            }
        }
        answers
            .into_iter()
            .map(|answer| {
                answer.unwrap_or_else(|| {
                    Err(TransportError::Unreachable {
                        addr: self.me.addr.to_string(),
                        reason: "the transport gave fewer answers than calls".into(),
                    })
                })
            })
            .collect()
    }

    /// What a remote call's answer teaches: a timeout makes the node a
    /// suspect, an answer clears it; the answer is checked before use.
    fn answered(
        &self,
        to: &NodeRef,
        answer: std::result::Result<Response, TransportError>,
    ) -> std::result::Result<Response, TransportError> {
        let answer = match answer {
            Ok(answer) => answer,
            Err(e) => {
                if matches!(e, TransportError::Timeout { .. }) {
                    self.suspect(&to.addr);
                }
                return Err(e);
            }
        };
        self.clear_suspect(&to.addr);
        answer.check(&self.checker()).map_err(|e| {
            Stats::add(&self.stats.protocol_errors, 1);
            TransportError::Protocol {
                addr: to.addr.to_string(),
                detail: format!("its answer was refused: {e}"),
            }
        })?;
        Ok(answer)
    }

    /// Whether a failed call shows that `node` has failed. A refused or
    /// reset connection does: on a LAN or loopback the process is gone. So
    /// does a timeout: in a partition that drops packets, silence is all a
    /// dead peer gives, and waiting for several timeouts in a row left
    /// lookups and successor lists pointing across the cut for seconds
    /// while clients waited. Failure here changes routing, not ownership
    /// (a failed predecessor still bounds the arc until a live node
    /// notifies; see `Ring::owns`), so a live node wrongly dropped, only
    /// overloaded or slow, costs a round: it gets back in as any joiner
    /// does, through `notify` and stabilization. A protocol error (an
    /// answer that fails its MAC, does not decode, or is refused by the
    /// checker) counts as failed too: a peer whose answers cannot be used
    /// is no better as a successor or finger than a dead one. A busy
    /// answer never does.
    pub(crate) fn has_failed(e: &TransportError) -> bool {
        !matches!(e, TransportError::Busy { .. })
    }

    /// Forgets a finger that failed to answer.
    pub(crate) fn forget_finger(&self, dead: &NodeRef) {
        self.note_lost(dead);
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
    pub(crate) fn owns(&self, links: &Links, id: Id) -> bool {
        self.arc(links)
            .is_some_and(|(a, b)| id.in_open_closed(a, b))
    }

    /// The arc `(p, n]` this node owns, `p` being its predecessor or the
    /// one it found failed (see [`Ring::owns`]); the whole circle `(n, n]`
    /// when it has had no predecessor and is alone; else none.
    fn arc(&self, links: &Links) -> Option<(Id, Id)> {
        match links
            .predecessor
            .as_ref()
            .or(links.failed_predecessor.as_ref())
        {
            Some(p) => Some((p.id, self.me.id)),
            None if links.successors[0].addr == self.me.addr => Some((self.me.id, self.me.id)),
            None => None,
        }
    }

    /// Whether this node is part of a ring (see `Links::member`).
    pub fn is_member(&self) -> bool {
        self.links.read().member
    }

    pub(crate) fn info(&self, keys: usize, owned: usize) -> Response {
        let links = self.links.read();
        Response::Info {
            node: self.me.clone(),
            incarnation: self.incarnation,
            predecessor: links.predecessor.clone(),
            successors: links.successors.clone(),
            keys: keys as u64,
            owned: owned as u64,
        }
    }

    /// The arc this node owns, `(predecessor, n]`, if it knows its
    /// predecessor (or is alone: then the whole circle).
    pub(crate) fn own_arc(&self) -> Option<(Id, Id)> {
        self.arc(&self.links.read())
    }

    /// Walks the ring by successor pointers from this node, asking each
    /// node for its identity, successor list and key count, until the walk
    /// comes back here or has visited `limit` nodes. A node that does not
    /// answer is skipped using the previous node's successor list.
    ///
    /// # Errors
    /// [`Error::Unavailable`] when a node and its whole successor list fail.
    pub fn walk_ring(&self, limit: usize) -> Result<Vec<RingEntry>> {
        let mut entries: Vec<RingEntry> = Vec::new();
        let mut next = vec![self.me().clone()];
        while entries.len() < limit {
            let mut answered = None;
            for candidate in &next {
                if let Ok(info) = self.peer(candidate).info() {
                    let entry = RingEntry {
                        node: info.node,
                        keys: info.keys,
                        owned: info.owned,
                    };
                    answered = Some((entry, info.successors));
                    break;
                }
            }
            let Some((entry, successors)) = answered else {
                return Err(Error::Unavailable(format!(
                    "ring walk stopped after {} nodes: none of {:?} answered",
                    entries.len(),
                    next
                )));
            };
            entries.push(entry);
            let back_home = successors.first().is_none_or(|s| *s == *self.me());
            let looped = entries.iter().any(|e| Some(&e.node) == successors.first());
            if back_home || looped {
                break;
            }
            next = successors;
        }
        Ok(entries)
    }

    /// Whether this node was restarted empty and has not yet copied its arc
    /// back: it has nothing to hand over.
    pub(crate) fn refilling(&self) -> bool {
        let links = self.links.read();
        links.handover.restarted.is_some() || links.handover.refilling
    }

    /// For a node restarted empty (see `Handover::restarted`): once it has a
    /// predecessor and a stabilization period has passed, marks its arc
    /// for copying back from the replicas. Called before repair.
    pub(crate) fn begin_refill(&self) {
        let now = self.config.clock.elapsed();
        let mut links = self.links.write();
        let Some(since) = links.handover.restarted else {
            return;
        };
        let Some(p) = links.predecessor.clone() else {
            return;
        };
        if now.saturating_sub(since) < self.config.stabilize_interval {
            return;
        }
        links.handover.restarted = None;
        links.handover.refilling = true;
        links.handover.unsynced = Some((p.id, self.me.id));
        drop(links);
        info!(
            "{}: restarted in its place; copying ({}, {}] back from the replicas before serving it (an empty store, or one that missed the writes made while it was down)",
            self.me.addr, p.id, self.me.id
        );
    }

    /// Whether this node was paused, or restarted empty and has not yet
    /// copied back the part of its arc where `id` lies. The key layer then
    /// answers
    /// [`Response::Syncing`], and readers go to the other holders.
    pub(crate) fn syncing(&self, id: Id) -> bool {
        if self.paused() {
            return true;
        }
        let links = self.links.read();
        links.handover.restarted.is_some()
            || (links.handover.refilling
                && links
                    .handover
                    .unsynced
                    .is_some_and(|(a, b)| id.in_open_closed(a, b)))
    }

    /// Runs `f` with this node's successor list if it serves `id` now,
    /// holding the ring's lock meanwhile, so that whatever `f` reads or
    /// writes in the store happens while ownership cannot move. `None`
    /// when it does not serve `id`.
    pub(crate) fn while_serving<T>(&self, id: Id, f: impl FnOnce(&[NodeRef]) -> T) -> Option<T> {
        let links = self.links.read();
        self.serves(&links, id).then(|| f(&links.successors))
    }

    /// [`Ring::while_serving`] for many keys under one hold of the lock:
    /// runs `f` with whether this node serves each of `ids` now, and its
    /// successor list.
    pub(crate) fn while_serving_each<T>(
        &self,
        ids: &[Id],
        f: impl FnOnce(&[bool], &[NodeRef]) -> T,
    ) -> T {
        let links = self.links.read();
        let serving: Vec<bool> = ids.iter().map(|&id| self.serves(&links, id)).collect();
        f(&serving, &links.successors)
    }

    /// The answer to `GetNeighbours`: the predecessor and successor list,
    /// and whether they are a settled node's (not one restarted empty, or
    /// paused, that has not yet taken its place again). A node that is not
    /// a member answers [`Response::NotOwner`]: its links are a lone
    /// node's, and a predecessor that took them would drop its successor
    /// list.
    pub(crate) fn neighbours(&self) -> Response {
        let paused = self.paused();
        let links = self.links.read();
        if !links.member {
            return Response::NotOwner;
        }
        Response::Neighbours {
            predecessor: links.predecessor.clone(),
            successors: links.successors.clone(),
            settled: links.handover.restarted.is_none() && !paused,
        }
    }

    /// The start of the arc this node owns and its successor list, if it is
    /// settled enough to repair its replicas: a member, not taking keys
    /// over, not leaving, with a predecessor (known or failed) other than
    /// itself.
    pub(crate) fn repair_view(&self) -> Option<(Id, Vec<NodeRef>)> {
        let links = self.links.read();
        if !links.member || links.handover.receiving || links.handover.leaving {
            return None;
        }
        // (n, n] is a node alone, or its own predecessor: no one to repair.
        let (from, _) = self.arc(&links).filter(|(p, n)| p != n)?;
        Some((from, links.successors.clone()))
    }

    /// The arc this node took over from a failed predecessor and refuses
    /// until it has copied it from the replicas, with the successor list.
    pub(crate) fn unsynced_arc(&self) -> Option<((Id, Id), Vec<NodeRef>)> {
        let links = self.links.read();
        links
            .handover
            .unsynced
            .map(|arc| (arc, links.successors.clone()))
    }

    /// The key layer has copied `arc`: serve it.
    pub(crate) fn arc_synced(&self, arc: (Id, Id)) {
        let mut links = self.links.write();
        if links.handover.unsynced == Some(arc) {
            links.handover.unsynced = None;
            links.handover.refilling = false;
        }
    }

    /// Sets this node's view to the one stabilization converges to, given
    /// the whole ring: `predecessor`, `successors`, and for each finger k
    /// the node `successor(n + 2^(k-1))` that `find` names. The simulator
    /// builds rings of 10^4 nodes this way instead of joining them one by
    /// one; the tests check that both reach the same tables.
    pub fn install(
        &self,
        predecessor: NodeRef,
        successors: Vec<NodeRef>,
        find: impl Fn(Id) -> NodeRef,
    ) {
        let mut links = self.links.write();
        for k in 1..=links.fingers.len() {
            let start = links.fingers.start(k);
            links.fingers.set(k, find(start));
        }
        let now = self.config.clock.elapsed();
        links.notified_by = Some((predecessor.clone(), now));
        links.linked = true;
        links.predecessor = Some(predecessor);
        links.failed_predecessor = None;
        links.successors = successors;
        links.member = true;
    }
}

impl Caller for Ring {
    fn call(
        &self,
        to: &NodeRef,
        request: Request,
    ) -> std::result::Result<Response, TransportError> {
        Ring::call(self, to, request)
    }

    fn call_all(
        &self,
        calls: Vec<(&NodeRef, Request)>,
    ) -> Vec<std::result::Result<Response, TransportError>> {
        Ring::call_all(self, calls)
    }
}

/// One node as a RING walk found it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RingEntry {
    /// The node.
    pub node: NodeRef,
    /// How many keys it holds, its own and replica copies.
    pub keys: u64,
    /// How many of those it owns.
    pub owned: u64,
}

/// A failed call to `peer` as this crate's [`Error`].
pub(crate) fn call_error(peer: &NodeRef, e: CallError) -> Error {
    match e {
        CallError::Transport(e) => Error::Transport(e),
        other => Error::Transport(TransportError::Protocol {
            addr: peer.addr.to_string(),
            detail: other.to_string(),
        }),
    }
}
