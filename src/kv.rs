//! What a client asks of any node: GET, PUT, DEL and LOOKUP of a key.
//!
//! The node that a person talks to acts as the coordinator: it looks the key
//! up with [`Node::find_successor`] and sends the operation to the owner.
//! While the ring moves (a node joining, leaving or found dead), the owner
//! a lookup names may refuse the key ([`Response::NotOwner`]) or not
//! answer; the coordinator then backs off briefly and looks again, until
//! the request's deadline ([`crate::NodeConfig::request_timeout`]). Because
//! a node serves a key only while it owns it (see [`crate::node`]), a read
//! after an acknowledged write returns that write, wherever either was sent.

use std::thread;
use std::time::{Duration, Instant};

use log::debug;

use crate::id::{Id, NodeRef};
use crate::message::{Request, Response};
use crate::node::{Lookup, Node};
use crate::stats::Stats;
use crate::{Error, Result};

/// The first pause before looking a key up again; it doubles each time, up
/// to one stabilization period.
const FIRST_BACKOFF: Duration = Duration::from_millis(5);

impl Node {
    /// The value stored under `key`, if any.
    ///
    /// # Errors
    /// [`Error::Unavailable`] when no owner could be reached before the
    /// request deadline.
    pub fn get(&self, key: &str) -> Result<Option<String>> {
        let request = Request::Get {
            key: key.to_string(),
        };
        match self.at_owner(key, request)? {
            Response::Value(value) => Ok(value),
            other => Err(confused(key, &other)),
        }
    }

    /// Stores `value` under `key`.
    ///
    /// # Errors
    /// As [`Node::get`].
    pub fn put(&self, key: &str, value: &str) -> Result<()> {
        let request = Request::Put {
            key: key.to_string(),
            value: value.to_string(),
        };
        match self.at_owner(key, request)? {
            Response::Done => Ok(()),
            other => Err(confused(key, &other)),
        }
    }

    /// Deletes `key`; whether it was there.
    ///
    /// # Errors
    /// As [`Node::get`].
    pub fn delete(&self, key: &str) -> Result<bool> {
        let request = Request::Del {
            key: key.to_string(),
        };
        match self.at_owner(key, request)? {
            Response::Deleted(found) => Ok(found),
            other => Err(confused(key, &other)),
        }
    }

    /// The identifier of `key` and the lookup of its owner.
    ///
    /// # Errors
    /// As [`Node::find_successor`].
    pub fn lookup(&self, key: &str) -> Result<(Id, Lookup)> {
        let id = self.config().space.hash(key.as_bytes());
        let lookup = self.find_successor(id)?;
        Stats::add(&self.stats().lookups, 1);
        Stats::add(&self.stats().lookup_hops, u64::from(lookup.hops()));
        Ok((id, lookup))
    }

    /// Sends `request` about `key` to the key's owner, looking again while
    /// the owner refuses or is unreachable, until the deadline.
    fn at_owner(&self, key: &str, request: Request) -> Result<Response> {
        let deadline = Instant::now() + self.config().request_timeout;
        let mut backoff = FIRST_BACKOFF;
        loop {
            let last = match self.try_owner(key, &request) {
                Ok(answer) => return Ok(answer),
                Err(why) => why,
            };
            if Instant::now() + backoff > deadline {
                Stats::add(&self.stats().failed_requests, 1);
                return Err(Error::Unavailable(format!(
                    "no owner of key {key:?} answered within {:?}; last: {last}",
                    self.config().request_timeout
                )));
            }
            Stats::add(&self.stats().retries, 1);
            debug!("{}: retrying {key:?}: {last}", self.me().addr);
            thread::sleep(backoff);
            backoff = (backoff * 2).min(self.config().stabilize_interval);
        }
    }

    /// One attempt: look the key up, then ask the owner, or the next nodes
    /// of the successor list if the owner does not answer (one of them has
    /// taken over if the owner died). Returns why the attempt failed.
    fn try_owner(&self, key: &str, request: &Request) -> std::result::Result<Response, String> {
        let (_, lookup) = self.lookup(key).map_err(|e| e.to_string())?;
        let mut why = String::new();
        for holder in &lookup.successors {
            match self.call(holder, request.clone()) {
                Ok(Response::NotOwner) => {
                    return Err(format!("{} does not own it now", holder.addr))
                }
                Ok(Response::Error(text)) => return Err(format!("{}: {text}", holder.addr)),
                Ok(answer) => return Ok(answer),
                Err(e) => why = e.to_string(),
            }
        }
        Err(why)
    }
}

fn confused(key: &str, answer: &Response) -> Error {
    Error::Unavailable(format!("the owner of {key:?} answered {answer:?}"))
}

/// One node as a RING walk found it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RingEntry {
    /// The node.
    pub node: NodeRef,
    /// How many keys it holds.
    pub keys: u64,
}

impl Node {
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
                if let Ok(Response::Info {
                    node,
                    successors,
                    keys,
                    ..
                }) = self.call(candidate, Request::Info)
                {
                    answered = Some((RingEntry { node, keys }, successors));
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
}
