//! What a client asks of any node: GET, PUT, DEL and LOOKUP of a key.
//!
//! The node that a person talks to acts as the coordinator: it looks the key
//! up with [`crate::chord::Ring::find_successor`] and acts at the owner.
//!
//! - **PUT and DEL** go to the owner, which stamps the write with a new
//!   version ([`crate::store::Version`]) and answers with the entry and its
//!   successor list. The coordinator then copies that exact entry to the
//!   next R - 1 nodes of the list, skipping any that do not answer, and
//!   answers `OK` only once R nodes hold it (every node, in a ring of fewer
//!   than R). An acknowledged write therefore survives any R - 1 nodes
//!   dying at once. The coordinator does the copying, not the owner, so no
//!   node serving a peer ever calls a third (see [`crate::chord`]).
//! - **GET** reads the owner's entry. When the owner does not answer, the
//!   other R - 1 holders are read instead and the newest entry wins, so a
//!   read does not fail because one node died. All of them must answer: a
//!   replica that joined a moment ago may lack its copy, and alone it would
//!   answer NOT_FOUND for a key that exists.
//!
//! - **A full node** (its `--max-memory` reached) refuses client writes
//!   at the owner, which changes nothing, and the coordinator answers
//!   [`Error::OutOfMemory`] at once rather than retrying. Replicas take
//!   copies up to an eighth past their bound (see [`crate::store`]), so a
//!   replica holding a little more than its owner does not fail the
//!   owner's writes; a replica past even that refuses the copy, and the
//!   write fails with [`Error::OutOfMemory`] too, though the owner (and
//!   any replica before it) keeps it, as with any write that fails
//!   halfway.
//!
//! While the ring moves (a node joining, leaving or found dead), the owner
//! a lookup names may refuse the key ([`crate::message::Response::NotOwner`]) or not
//! answer; the coordinator then backs off briefly and tries again, until
//! the request's deadline ([`crate::NodeConfig::request_timeout`]). A write
//! retried this way is written again with a newer version; its value is
//! the same, so the retry is harmless.

use std::time::Duration;

use log::debug;

use super::Dhash;
use crate::chord::Lookup;
use crate::id::{Id, NodeRef};
use crate::peer::CallError;
use crate::stats::Stats;
use crate::store::{Entry, Full, Item};
use crate::{Error, Result};

/// The first pause before trying a key again; it doubles each time, up to
/// one stabilization period.
const FIRST_BACKOFF: Duration = Duration::from_millis(5);

/// Why one attempt at a key failed.
enum Failure {
    /// Worth another attempt while the ring moves; the last one's text goes
    /// into the error.
    Retry(String),
    /// Final: another attempt would fail the same way.
    Final(Error),
}

impl From<String> for Failure {
    fn from(why: String) -> Failure {
        Failure::Retry(why)
    }
}

/// One attempt at a key.
type Attempt<T> = std::result::Result<T, Failure>;

impl Dhash {
    /// The value stored under `key`, if any.
    ///
    /// # Errors
    /// [`Error::Unavailable`] when neither the owner nor a replica could be
    /// read before the request deadline.
    pub fn get(&self, key: &str) -> Result<Option<String>> {
        let entry = self.retrying(key, || self.read_once(key))?;
        Ok(entry.and_then(|e| e.value))
    }

    /// Stores `value` under `key`, on R nodes.
    ///
    /// # Errors
    /// [`Error::Unavailable`] when the owner could not be reached, or fewer
    /// than R nodes took the write, before the request deadline.
    pub fn put(&self, key: &str, value: &str) -> Result<()> {
        let value = Some(value.to_string());
        self.retrying(key, || self.write_once(key, value.clone()))
            .map(|_| ())
    }

    /// Deletes `key` on R nodes; whether it had a value.
    ///
    /// # Errors
    /// As [`Dhash::put`].
    pub fn delete(&self, key: &str) -> Result<bool> {
        self.retrying(key, || self.write_once(key, None))
    }

    /// The identifier of `key` and the lookup of its owner.
    ///
    /// # Errors
    /// As [`crate::chord::Ring::find_successor`].
    pub fn lookup(&self, key: &str) -> Result<(Id, Lookup)> {
        let id = self.config().space.hash(key.as_bytes());
        let lookup = self.find_successor(id)?;
        Stats::add(&self.stats().lookups, 1);
        Stats::add(&self.stats().lookup_hops, u64::from(lookup.hops()));
        Ok((id, lookup))
    }

    /// Runs `attempt` until it succeeds or the deadline passes, backing off
    /// between attempts.
    fn retrying<T>(&self, key: &str, mut attempt: impl FnMut() -> Attempt<T>) -> Result<T> {
        // A request that waited out a pause of this process in its socket
        // buffer was given up by its client: do not act on it now.
        if self.ring.paused() {
            Stats::add(&self.stats().failed_requests, 1);
            return Err(Error::Paused);
        }
        let clock = &self.config().clock;
        let deadline = clock.elapsed() + self.config().request_timeout;
        let mut backoff = FIRST_BACKOFF;
        loop {
            let last = match attempt() {
                Ok(answer) => return Ok(answer),
                Err(Failure::Final(e)) => {
                    Stats::add(&self.stats().failed_requests, 1);
                    return Err(e);
                }
                Err(Failure::Retry(why)) => why,
            };
            if clock.elapsed() + backoff > deadline {
                Stats::add(&self.stats().failed_requests, 1);
                return Err(Error::Unavailable(format!(
                    "key {key:?}: no attempt succeeded within {:?}; last: {last}",
                    self.config().request_timeout
                )));
            }
            Stats::add(&self.stats().retries, 1);
            debug!("{}: retrying {key:?}: {last}", self.me().addr);
            clock.sleep(backoff);
            backoff = (backoff * 2).min(self.config().stabilize_interval);
        }
    }

    /// One read: the owner's entry, or, if the owner does not answer or
    /// does not hold the key's arc yet, the newest entry among the
    /// replicas, all of which must answer.
    fn read_once(&self, key: &str) -> Attempt<Option<Entry>> {
        let (_, lookup) = self
            .lookup(key)
            .map_err(|e| Failure::Retry(e.to_string()))?;
        let owner = lookup.owner();
        let unreachable = match self.ring.peer(owner).get(key) {
            Ok(entry) => return Ok(entry),
            Err(e @ (CallError::Transport(_) | CallError::Syncing)) => e,
            Err(e) => return Err(Failure::Retry(format!("owner {}: {e}", owner.addr))),
        };
        // Every other holder must answer: one that joined a moment ago may
        // not have its copy yet, and alone it would read as NOT_FOUND. The
        // rest of the owner's successor list is asked too, answering or
        // not: while nodes join, the copies can still sit on the holders of
        // a moment ago, further along (repair moves them only once the new
        // holders have them, and those may be the ones just joined).
        // And at least one must have answered: a lookup that came round a
        // dead node can name the owner alone.
        // An owner that answered Syncing is alive: its own successor list
        // is fresher than the one the lookup ended on, so it comes first.
        let mut holders: Vec<NodeRef> = match unreachable {
            CallError::Syncing => self
                .ring
                .peer(owner)
                .neighbours()
                .map(|n| n.successors)
                .unwrap_or_default(),
            _ => Vec::new(),
        };
        holders.extend(lookup.successors.iter().skip(1).cloned());
        let mut seen = vec![owner.addr.clone()];
        holders.retain(|h| {
            let fresh = !seen.contains(&h.addr);
            seen.push(h.addr.clone());
            fresh
        });
        let required = self.config().replicas - 1;
        let mut newest: Option<Entry> = None;
        let mut answered = 0;
        for (i, holder) in holders.iter().enumerate() {
            match self.ring.peer(holder).get_copy(key) {
                Ok(Some(entry)) => {
                    answered += 1;
                    if newest.as_ref().is_none_or(|n| entry.version > n.version) {
                        newest = Some(entry);
                    }
                }
                Ok(None) => answered += 1,
                Err(_) if i >= required => {}
                Err(_) => {
                    return Err(Failure::Retry(format!(
                        "owner {} did not answer ({unreachable}), nor did replica {}",
                        owner.addr, holder.addr
                    )))
                }
            }
        }
        if answered == 0 {
            return Err(Failure::Retry(format!(
                "owner {} did not answer ({unreachable}), and the lookup named no replica",
                owner.addr
            )));
        }
        Ok(newest)
    }

    /// One write: the owner stamps it, then the coordinator copies it to
    /// the owner's next R - 1 live successors. Whether the key had a value.
    fn write_once(&self, key: &str, value: Option<String>) -> Attempt<bool> {
        let (_, lookup) = self
            .lookup(key)
            .map_err(|e| Failure::Retry(e.to_string()))?;
        let owner = lookup.owner();
        let written = match self.ring.peer(owner).write(key, value) {
            Ok(written) => written,
            Err(CallError::Full(bound)) => return Err(full(owner, bound, "")),
            Err(e) => return Err(format!("owner {}: {e}", owner.addr).into()),
        };
        let (entry, existed, successors) = (written.entry, written.existed, written.successors);
        let others: Vec<&NodeRef> = successors.iter().filter(|s| s.addr != owner.addr).collect();
        let needed = (self.config().replicas - 1).min(others.len());
        let item = Item {
            key: key.to_string(),
            entry,
        };
        let mut holding = 0;
        for replica in others {
            if holding == needed {
                break;
            }
            match self.ring.peer(replica).replicate(vec![item.clone()]) {
                Ok(()) => holding += 1,
                Err(CallError::Full(bound)) => {
                    let only = format!("; only {} of {} holders took it", holding + 1, needed + 1);
                    return Err(full(replica, bound, &only));
                }
                Err(e) => debug!("{}: replica {}: {e}", self.me().addr, replica.addr),
            }
        }
        if holding < needed {
            return Err(format!(
                "only {} of {} nodes took the write",
                holding + 1,
                needed + 1
            )
            .into());
        }
        Ok(existed)
    }
}

/// The final failure of a write that `node` refused as full.
fn full(node: &NodeRef, bound: Full, more: &str) -> Failure {
    Failure::Final(Error::OutOfMemory(format!(
        "node {} {bound} (--max-memory){more}",
        node.addr
    )))
}
