//! One node: the Chord ring ([`crate::chord`]) and the key layer over it
//! ([`crate::dhash`]), and the one dispatch from peer requests to the two.
//!
//! [`Node`] is the face the server, the tests and the harnesses use: it
//! runs the paper's functions on the ring with the key layer at hand (the
//! ring moves keys through it when ownership moves), and answers every
//! peer request after checking it ([`Request::check`]). No handler calls
//! another node (see [`crate::chord`] for why the ring cannot deadlock).

use std::sync::{Arc, Weak};

pub use crate::chord::{Adoption, Lookup, RingEntry, Stabilized, View};
use crate::chord::{Keys, Ring};
use crate::dhash::Dhash;
use crate::error::Result;
use crate::id::{Id, NodeRef};
use crate::message::{Request, Response};
use crate::stats::{Stats, Throttled};
use crate::store::Usage;
use crate::transport::{Handler, Transport};

pub use crate::config::{default_max_memory, NodeConfig};

/// One Chord node: its place on the ring, its tables and its keys.
pub struct Node {
    ring: Arc<Ring>,
    keys: Dhash,
    /// Warns of refused peer messages, at most once a second.
    refusals: Throttled,
}

impl Node {
    /// A node advertised at `addr`, not yet in any ring: call
    /// [`Node::create`] or [`Node::join`] next.
    ///
    /// # Errors
    /// [`crate::error::Error::Config`] when the settings disagree
    /// ([`NodeConfig::check`]).
    pub fn new(addr: &str, config: NodeConfig, transport: Arc<dyn Transport>) -> Result<Arc<Node>> {
        config.check()?;
        let me = NodeRef::new(config.space, addr);
        let ring = Arc::new(Ring::new(me, config, transport, Arc::new(Stats::default())));
        let keys = Dhash::new(ring.clone())?;
        Ok(Arc::new_cyclic(|node: &Weak<Node>| {
            let handler: Weak<dyn Handler> = node.clone();
            ring.serve_locally(handler);
            Node {
                ring,
                keys,
                refusals: Throttled::default(),
            }
        }))
    }

    /// The node itself.
    pub fn me(&self) -> &NodeRef {
        self.ring.me()
    }

    /// Its settings.
    pub fn config(&self) -> &NodeConfig {
        self.ring.config()
    }

    /// Its counters.
    pub fn stats(&self) -> &Stats {
        self.ring.stats()
    }

    /// Its ring state and the paper's functions.
    pub fn ring(&self) -> &Ring {
        &self.ring
    }

    /// Its key layer.
    pub fn keys(&self) -> &Dhash {
        &self.keys
    }

    /// Its current successor, `finger[1]` in the paper.
    pub fn successor(&self) -> NodeRef {
        self.ring.successor()
    }

    /// A snapshot of its view of the ring.
    pub fn view(&self) -> View {
        self.ring.view(self.keys.count())
    }

    /// Whether this node is part of a ring.
    pub fn is_member(&self) -> bool {
        self.ring.is_member()
    }

    /// The keys held here, sorted: for tests and inspection.
    pub fn held_keys(&self) -> Vec<Vec<u8>> {
        self.keys.held_keys()
    }

    /// What the store holds: keys, entries, bytes, and the bound on them.
    pub fn store_usage(&self) -> Usage {
        self.keys.store_usage()
    }

    /// `n.create()` (Figure 6): see [`Ring::create`].
    pub fn create(&self) {
        self.ring.create();
    }

    /// `n.join(n')` (Figure 6): see [`Ring::join`].
    ///
    /// # Errors
    /// As [`Ring::join`].
    pub fn join(&self, known: &str) -> Result<()> {
        self.ring.join(known)?;
        self.ring.add_seed(known);
        Ok(())
    }

    /// Runs `stabilize` until adopted: see [`Ring::link_in`].
    ///
    /// # Errors
    /// As [`Ring::link_in`].
    pub fn link_in(&self) -> Result<()> {
        self.ring.link_in(&self.keys)
    }

    /// `n.stabilize()` (Figure 6): see [`Ring::stabilize`].
    pub fn stabilize(&self) -> Stabilized {
        self.ring.stabilize(&self.keys)
    }

    /// `n.notify(n')` (Figure 6): see [`Ring::notify`].
    pub fn notify(&self, candidate: &NodeRef) -> Adoption {
        self.ring.notify(candidate)
    }

    /// `n.fix_fingers()` (Figure 6): see [`Ring::fix_fingers`].
    pub fn fix_fingers(&self) {
        self.ring.fix_fingers();
    }

    /// `n.check_predecessor()` (Figure 6): see [`Ring::check_predecessor`].
    pub fn check_predecessor(&self) {
        self.ring.check_predecessor();
    }

    /// One round of replica repair: see [`Dhash::repair`].
    pub fn repair(&self) {
        self.keys.repair();
    }

    /// Leaves the ring gracefully: see [`Ring::leave`].
    ///
    /// # Errors
    /// As [`Ring::leave`].
    pub fn leave(&self) -> Result<()> {
        self.ring.leave(&self.keys)
    }

    /// `n.find_successor(id)` (Figure 5): see [`Ring::find_successor`].
    ///
    /// # Errors
    /// As [`Ring::find_successor`].
    pub fn find_successor(&self, id: Id) -> Result<Lookup> {
        self.ring.find_successor(id)
    }

    /// The value stored under `key`: see [`Dhash::get`].
    ///
    /// # Errors
    /// As [`Dhash::get`].
    pub fn get(&self, key: impl AsRef<[u8]>) -> Result<Option<Vec<u8>>> {
        self.keys.get(key.as_ref())
    }

    /// Stores `value` under `key` on R nodes: see [`Dhash::put`]. With a
    /// data directory, returns once this node's part is durable too.
    ///
    /// # Errors
    /// As [`Dhash::put`] and [`Dhash::durably`].
    pub fn put(&self, key: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> Result<()> {
        self.keys
            .durably(|| self.keys.put(key.as_ref(), value.as_ref()))?
    }

    /// Deletes `key`; whether it had a value: see [`Dhash::delete`]. With
    /// a data directory, returns once this node's part is durable too.
    ///
    /// # Errors
    /// As [`Dhash::delete`] and [`Dhash::durably`].
    pub fn delete(&self, key: impl AsRef<[u8]>) -> Result<bool> {
        self.keys.durably(|| self.keys.delete(key.as_ref()))?
    }

    /// The identifier of `key` and the lookup of its owner.
    ///
    /// # Errors
    /// As [`Ring::find_successor`].
    pub fn lookup(&self, key: impl AsRef<[u8]>) -> Result<(Id, Lookup)> {
        self.keys.lookup(key.as_ref())
    }

    /// The RING walk: see [`Ring::walk_ring`].
    ///
    /// # Errors
    /// As [`Ring::walk_ring`].
    pub fn walk_ring(&self, limit: usize) -> Result<Vec<RingEntry>> {
        self.ring.walk_ring(limit)
    }
}

impl Handler for Node {
    /// Answers a peer's request from local state only: the ring's requests
    /// to the ring, the key requests to the key layer.
    ///
    /// A request that fails [`Request::check`] is answered
    /// [`Response::Error`], and the server closes the connection.
    fn handle(&self, request: Request) -> Response {
        let ring = &self.ring;
        Stats::add(&ring.stats().peer_requests, 1);
        if let Err(e) = request.check(&ring.checker()) {
            Stats::add(&ring.stats().protocol_errors, 1);
            self.refusals
                .warn(|| format!("{}: refused a peer message: {e}", ring.me().addr));
            return Response::Error(e.to_string());
        }
        match request {
            Request::FindSuccessor { id } => ring.find_successor_step(id),
            Request::GetNeighbours => ring.neighbours(),
            Request::Notify { candidate } => match ring.notify(&candidate) {
                Adoption::Adopted { replaced, whole } => Response::Notified {
                    adopted: true,
                    replaced,
                    whole,
                },
                Adoption::Refused => Response::Notified {
                    adopted: false,
                    replaced: None,
                    whole: true,
                },
            },
            Request::Ping => Response::Pong,
            Request::Consider { node } => {
                ring.consider(node);
                Response::Done
            }
            Request::Info => ring.info(self.keys.count(), self.keys.owned_count()),
            Request::PredecessorLeaving {
                leaver,
                predecessor,
            } => {
                ring.predecessor_leaving(&leaver, predecessor);
                Response::Done
            }
            Request::SuccessorLeaving { leaver, successors } => {
                ring.successor_leaving(&leaver, successors);
                Response::Done
            }
            keys => self.keys.handle(keys),
        }
    }
}
