//! The in-memory network: whole rings in one process, for the tests and
//! the simulator. No sockets, no threads, deterministic; messages still
//! go through the frame codec, so both transports carry the same bytes.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Weak};

use parking_lot::{Mutex, RwLock};

use super::{codec_error, count_calls, Handler, Transport, TransportError};
use crate::auth::Session;
use crate::codec;
use crate::message::{Request, Response};
use crate::rng::Rng;

/// An in-process network of nodes: calls are direct function calls on the
/// caller's thread. Safe because handlers answer from local state and never
/// call out (see [`crate::chord`]).
#[derive(Default)]
pub struct MemoryNetwork {
    /// The nodes by address. Weak, so that a dropped node simply
    /// disappears from the network. Read for each call, written when nodes
    /// come and go; never held while a handler runs.
    nodes: RwLock<HashMap<String, Weak<dyn Handler>>>,
    /// Addresses that stopped answering: killed, or cut off for a while.
    down: RwLock<HashSet<String>>,
    /// Addresses whose calls time out instead: frozen processes, whose
    /// sockets still accept but never answer.
    frozen: RwLock<HashSet<String>>,
    /// A partition: the side of each address named in it; a call through
    /// an [`Endpoint`] from one side to another times out, as packets
    /// dropped between two halves of a network would. Addresses not named
    /// are on side 0. Empty: one network.
    sides: RwLock<HashMap<String, u8>>,
    /// Message loss: each message (request or reply) is lost with this
    /// probability, drawn from the seeded generator, and the caller sees a
    /// timeout. `None`: nothing is lost.
    loss: Mutex<Option<(f64, Rng)>>,
}

impl MemoryNetwork {
    /// An empty network.
    pub fn new() -> Arc<MemoryNetwork> {
        Arc::new(MemoryNetwork::default())
    }

    /// Makes `handler` reachable at `addr`.
    pub fn register(&self, addr: &str, handler: &Arc<dyn Handler>) {
        self.nodes
            .write()
            .insert(addr.to_string(), Arc::downgrade(handler));
        self.down.write().remove(addr);
    }

    /// The node at `addr` stops answering at once, with no goodbye: the
    /// in-memory counterpart of SIGKILL or a cut cable.
    pub fn stop(&self, addr: &str) {
        self.down.write().insert(addr.to_string());
    }

    /// The node at `addr` answers again, with whatever state it kept.
    pub fn resume(&self, addr: &str) {
        self.down.write().remove(addr);
        self.frozen.write().remove(addr);
    }

    /// Splits the network in two: `side` on one side, every other address
    /// on the other. Calls through [`MemoryNetwork::endpoint`]s across the
    /// split time out until [`MemoryNetwork::heal`].
    pub fn partition(&self, side: &[String]) {
        *self.sides.write() = side.iter().map(|a| (a.clone(), 1)).collect();
    }

    /// Joins the halves again.
    pub fn heal(&self) {
        self.sides.write().clear();
    }

    /// The network as the node at `from` reaches it: the same nodes,
    /// except across a partition.
    pub fn endpoint(self: &Arc<Self>, from: &str) -> Arc<dyn Transport> {
        Arc::new(Endpoint {
            net: self.clone(),
            from: from.to_string(),
        })
    }

    /// Whether a partition separates `from` and `to`.
    fn cut(&self, from: &str, to: &str) -> bool {
        let sides = self.sides.read();
        !sides.is_empty()
            && sides.get(from).copied().unwrap_or(0) != sides.get(to).copied().unwrap_or(0)
    }

    /// Calls to the node at `addr` time out until [`MemoryNetwork::resume`]:
    /// the in-memory counterpart of SIGSTOP.
    pub fn freeze(&self, addr: &str) {
        self.frozen.write().insert(addr.to_string());
    }

    /// From now on each message, request or reply, is lost with
    /// `probability`, drawn from a generator seeded with `seed`; 0 loses
    /// nothing. Deterministic when calls are made from one thread, as the
    /// simulator makes them.
    pub fn set_loss(&self, probability: f64, seed: u64) {
        *self.loss.lock() = (probability > 0.0).then(|| (probability, Rng::new(seed)));
    }

    /// Whether the next message is lost.
    fn lose(&self) -> bool {
        let mut loss = self.loss.lock();
        let Some((probability, rng)) = loss.as_mut() else {
            return false;
        };
        rng.unit() < *probability
    }

    /// Whether `addr` is answering.
    pub fn is_up(&self, addr: &str) -> bool {
        !self.down.read().contains(addr) && self.nodes.read().contains_key(addr)
    }
}

impl Transport for MemoryNetwork {
    fn call(&self, addr: &str, request: Request) -> Result<Response, TransportError> {
        count_calls(1);
        let unreachable = |reason: &str| TransportError::Unreachable {
            addr: addr.to_string(),
            reason: reason.to_string(),
        };
        if self.down.read().contains(addr) {
            return Err(unreachable("stopped"));
        }
        let handler = self.nodes.read().get(addr).and_then(Weak::upgrade);
        let handler = handler.ok_or_else(|| unreachable("no such node"))?;
        let timeout = || TransportError::Timeout {
            addr: addr.to_string(),
        };
        if self.frozen.read().contains(addr) || self.lose() {
            return Err(timeout());
        }
        let request = round_trip(addr, &request)?;
        let response = handler.handle(request);
        if self.lose() {
            return Err(timeout());
        }
        round_trip(addr, &response)
    }

    fn forget(&self, _addr: &str) {}
}

/// One node's way into a [`MemoryNetwork`]: calls go from its address,
/// so a partition can stop them.
pub struct Endpoint {
    net: Arc<MemoryNetwork>,
    from: String,
}

impl Transport for Endpoint {
    fn call(&self, addr: &str, request: Request) -> Result<Response, TransportError> {
        if self.net.cut(&self.from, addr) {
            return Err(TransportError::Timeout {
                addr: addr.to_string(),
            });
        }
        self.net.call(addr, request)
    }

    fn forget(&self, addr: &str) {
        self.net.forget(addr);
    }
}

/// Encodes and decodes a message as the TCP transport would, so the
/// in-memory network exercises the same codec and size limits.
fn round_trip<T>(addr: &str, message: &T) -> Result<T, TransportError>
where
    T: serde::Serialize + serde::de::DeserializeOwned,
{
    let frame = codec::encode(message, &mut Session::open()).map_err(|e| codec_error(addr, e))?;
    codec::decode(&frame[4..]).map_err(|e| codec_error(addr, e))
}
