//! What makes a peer message well formed: the checks every request and
//! answer passes before a node uses it (see the module above for what they
//! refuse, and why).

use std::fmt;

use super::{
    Atomic, Op, OpAnswer, Request, Response, Update, MAX_ADDR, MAX_BATCH, MAX_BUCKETS,
    MAX_CLOCK_AHEAD, MAX_ITEMS, MAX_NODES,
};
use crate::id::{Id, IdSpace, NodeRef};
use crate::store::{Bucket, Cursor, Entry, Item, Point, MAX_FLOAT_TEXT, MAX_KEY, MAX_VALUE};

/// Why a message was refused. The `Display` text says what was wrong, for
/// the log of the node that refused it and for the peer that sent it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Invalid {
    /// An identifier of another space.
    WrongSpace {
        /// Its m.
        bits: u8,
        /// This ring's m.
        ours: u8,
    },
    /// A node whose identifier is not the hash of its address.
    NotItsAddress {
        /// The address it claims.
        addr: String,
    },
    /// An address that is empty, too long, or not printable.
    BadAddress {
        /// The start of the address, escaped.
        addr: String,
    },
    /// A key, value or address over its limit, or an empty address.
    BadLength {
        /// What it is.
        what: &'static str,
        /// Its length in bytes.
        len: usize,
        /// The least allowed.
        min: usize,
        /// The most allowed.
        max: usize,
    },
    /// More entries of a list than one message may carry, or none where
    /// one is needed.
    BadCount {
        /// What the list is.
        what: &'static str,
        /// How many came.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// Digest buckets that do not advance around the ring from `from`.
    OutOfOrder,
    /// A batch holding a request that may not be batched (a lookup step, a
    /// transfer, another batch), or an answer that is a batch itself.
    NotBatchable,
    /// An atomic request with a key whose identifier is not the request's.
    KeysApart,
    /// An increment that is not a finite float.
    NotFinite,
    /// A version stamped too far after this node's clock.
    FromTheFuture {
        /// The stamp, microseconds since the Unix epoch.
        stamp: u64,
        /// This node's clock.
        now: u64,
    },
}

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Invalid::WrongSpace { bits, ours } => {
                write!(f, "an identifier of {bits} bits sent to a {ours}-bit ring")
            }
            Invalid::NotItsAddress { addr } => write!(
                f,
                "node {addr:?} claims an identifier that is not the hash of its address"
            ),
            Invalid::BadAddress { addr } => write!(f, "address {addr:?} is not host:port"),
            Invalid::BadLength {
                what,
                len,
                min,
                max,
            } => {
                write!(f, "{what} of {len} bytes ({min} to {max} allowed)")
            }
            Invalid::BadCount { what, count, max } => {
                write!(f, "{count} {what} in one message (at most {max})")
            }
            Invalid::OutOfOrder => write!(f, "digest buckets out of ring order"),
            Invalid::NotBatchable => write!(f, "a batch holding what may not be batched"),
            Invalid::KeysApart => write!(f, "the keys of an atomic request have other identifiers"),
            Invalid::NotFinite => write!(f, "an increment that is not a finite float"),
            Invalid::FromTheFuture { stamp, now } => write!(
                f,
                "version stamped {} s after this node's clock (at most {} s allowed); check the clocks",
                stamp.saturating_sub(*now) / 1_000_000,
                MAX_CLOCK_AHEAD.as_secs()
            ),
        }
    }
}

impl std::error::Error for Invalid {}

/// What a message is checked against: the receiver's space and clock.
#[derive(Clone, Copy, Debug)]
pub struct Checker {
    space: IdSpace,
    /// The latest acceptable version stamp.
    latest: u64,
    /// The receiver's clock, for messages.
    now: u64,
}

impl Checker {
    /// Checks against `space` at `now`, microseconds since the Unix epoch.
    pub fn new(space: IdSpace, now: u64) -> Checker {
        let ahead = u64::try_from(MAX_CLOCK_AHEAD.as_micros()).unwrap_or(u64::MAX);
        Checker {
            space,
            latest: now.saturating_add(ahead),
            now,
        }
    }

    fn id(&self, id: Id) -> Result<(), Invalid> {
        if id.bits() == self.space.bits() {
            Ok(())
        } else {
            Err(Invalid::WrongSpace {
                bits: id.bits(),
                ours: self.space.bits(),
            })
        }
    }

    fn node(&self, node: &NodeRef) -> Result<(), Invalid> {
        let addr = &node.addr;
        length("address", addr.len(), 1, MAX_ADDR)?;
        if !addr.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(Invalid::BadAddress {
                addr: addr.escape_debug().take(64).collect(),
            });
        }
        self.id(node.id)?;
        if self.space.hash(addr.as_bytes()) != node.id {
            return Err(Invalid::NotItsAddress {
                addr: addr.to_string(),
            });
        }
        Ok(())
    }

    fn nodes(&self, what: &'static str, nodes: &[NodeRef], min: usize) -> Result<(), Invalid> {
        count(what, nodes.len(), min, MAX_NODES)?;
        nodes.iter().try_for_each(|n| self.node(n))
    }

    fn key(&self, key: &[u8]) -> Result<(), Invalid> {
        length("key", key.len(), 0, MAX_KEY)
    }

    fn entry(&self, entry: &Entry) -> Result<(), Invalid> {
        if let Some(value) = &entry.value {
            length("value", value.len(), 0, MAX_VALUE)?;
        }
        self.stamp(entry.version.stamp)
    }

    /// A version stamp or flush watermark, at most [`MAX_CLOCK_AHEAD`]
    /// after our clock: a stamp far ahead would win against every write
    /// for that long (and a watermark would flush them).
    fn stamp(&self, stamp: u64) -> Result<(), Invalid> {
        if stamp > self.latest {
            return Err(Invalid::FromTheFuture {
                stamp,
                now: self.now,
            });
        }
        Ok(())
    }

    fn items(&self, items: &[Item]) -> Result<(), Invalid> {
        count("items", items.len(), 0, MAX_ITEMS)?;
        items.iter().try_for_each(|item| {
            self.key(&item.key)?;
            self.entry(&item.entry)
        })
    }

    fn point(&self, point: &Point) -> Result<(), Invalid> {
        self.id(point.id)?;
        point.key.as_ref().map_or(Ok(()), |key| self.key(key))
    }

    fn cursor(&self, cursor: Option<&Cursor>) -> Result<(), Invalid> {
        cursor.map_or(Ok(()), |c| {
            self.id(c.id)?;
            self.key(&c.key)
        })
    }

    /// An update's lengths and numbers.
    fn update(&self, update: &Update) -> Result<(), Invalid> {
        match update {
            Update::Increment(_) | Update::Expire { .. } => Ok(()),
            Update::Set { value, .. }
            | Update::Append(value)
            | Update::Swap {
                value: Some(value), ..
            } => length("value", value.len(), 0, MAX_VALUE),
            Update::Swap { value: None, .. } => Ok(()),
            Update::SetBit { offset, .. } => {
                let byte = usize::try_from(offset / 8).unwrap_or(usize::MAX);
                length("the bit's byte", byte.saturating_add(1), 1, MAX_VALUE)
            }
            Update::SetRange { offset, value } => {
                let end = usize::try_from(*offset)
                    .ok()
                    .and_then(|o| o.checked_add(value.len()))
                    .unwrap_or(usize::MAX);
                length("value", value.len(), 1, MAX_VALUE)?;
                length("the range's end", end, 1, MAX_VALUE)
            }
            Update::IncrementFloat(by) => {
                length("a float", by.len(), 1, MAX_FLOAT_TEXT)?;
                crate::store::float(by).map(drop).ok_or(Invalid::NotFinite)
            }
        }
    }

    /// An atomic request: every key its identifier's, and each operation
    /// as its own request would be checked.
    fn atomic(&self, id: Id, atomic: &Atomic) -> Result<(), Invalid> {
        self.id(id)?;
        match atomic {
            Atomic::Each(ops) => {
                count("operations", ops.len(), 1, MAX_ITEMS)?;
                for op in ops {
                    if let Op::Update { update, .. } = op {
                        self.update(update)?;
                    }
                }
            }
            Atomic::SetIfNone(pairs) => {
                count("pairs", pairs.len(), 1, MAX_ITEMS)?;
                for pair in pairs {
                    length("value", pair.value.len(), 0, MAX_VALUE)?;
                }
            }
            Atomic::Rename { .. } | Atomic::Copy { .. } => {}
        }
        for key in atomic.keys() {
            self.key(key)?;
            if self.space.key(key) != id {
                return Err(Invalid::KeysApart);
            }
        }
        Ok(())
    }

    /// Buckets must each end further round the ring from `from`, without
    /// passing its identifier: together they cover part of the ring from
    /// `from` once. Within one identifier, a later key is further.
    fn buckets(&self, from: &Point, buckets: &[Bucket]) -> Result<(), Invalid> {
        count("buckets", buckets.len(), 0, MAX_BUCKETS)?;
        self.point(from)?;
        let mut previous = from;
        for (i, bucket) in buckets.iter().enumerate() {
            let end = &bucket.end;
            self.point(end)?;
            let full_circle = i > 0 && previous == from;
            // The first bucket may be the whole ring: from `from` to itself.
            let ahead = previous.precedes_within(end)
                || (end.id != previous.id && end.id.in_open_closed(previous.id, from.id))
                || (i == 0 && end == from);
            if full_circle || !ahead {
                return Err(Invalid::OutOfOrder);
            }
            previous = end;
        }
        Ok(())
    }
}

fn length(what: &'static str, len: usize, min: usize, max: usize) -> Result<(), Invalid> {
    if len < min || len > max {
        return Err(Invalid::BadLength {
            what,
            len,
            min,
            max,
        });
    }
    Ok(())
}

fn count(what: &'static str, count: usize, min: usize, max: usize) -> Result<(), Invalid> {
    if count < min || count > max {
        return Err(Invalid::BadCount { what, count, max });
    }
    Ok(())
}

impl Request {
    /// Whether this request is well formed for a node checking with `c`;
    /// see the module docs for what is refused.
    ///
    /// # Errors
    /// The first thing found wrong.
    pub fn check(&self, c: &Checker) -> Result<(), Invalid> {
        match self {
            Request::FindSuccessor { id } => c.id(*id),
            Request::GetNeighbours | Request::Ping | Request::Info => Ok(()),
            Request::Notify { candidate } => c.node(candidate),
            Request::TakeKeys {
                from, to, after, ..
            } => {
                c.id(*from)?;
                c.id(*to)?;
                c.cursor(after.as_ref())
            }
            Request::Replicate { items } => c.items(items),
            Request::Digest {
                from,
                buckets,
                flushed,
            } => {
                c.stamp(*flushed)?;
                c.buckets(from, buckets)
            }
            Request::Flush { through } => c.stamp(*through),
            Request::Reconcile { from, to, items } => {
                c.point(from)?;
                c.point(to)?;
                c.items(items)
            }
            Request::Consider { node } => c.node(node),
            Request::PredecessorLeaving {
                leaver,
                predecessor,
            } => {
                c.node(leaver)?;
                predecessor.as_ref().map_or(Ok(()), |p| c.node(p))
            }
            Request::SuccessorLeaving { leaver, successors } => {
                c.node(leaver)?;
                c.nodes("successors", successors, 0)
            }
            Request::Get { key } | Request::GetCopy { key } => c.key(key),
            Request::Write { key, value, .. } => {
                c.key(key)?;
                value
                    .as_ref()
                    .map_or(Ok(()), |v| length("value", v.len(), 0, MAX_VALUE))
            }
            Request::Update { key, update, .. } => {
                c.key(key)?;
                c.update(update)
            }
            Request::Atomic { id, atomic, .. } => c.atomic(*id, atomic),
            Request::Batch(requests) => {
                count("batched requests", requests.len(), 1, MAX_BATCH)?;
                for request in requests {
                    if request.batchable().is_none() {
                        return Err(Invalid::NotBatchable);
                    }
                    request.check(c)?;
                }
                Ok(())
            }
        }
    }
}

impl Response {
    /// Whether this answer is well formed for a node checking with `c`.
    ///
    /// # Errors
    /// The first thing found wrong.
    pub fn check(&self, c: &Checker) -> Result<(), Invalid> {
        match self {
            Response::Found { successors } => c.nodes("successors", successors, 1),
            Response::Closer { candidates } => c.nodes("candidates", candidates, 0),
            Response::Neighbours {
                predecessor,
                successors,
                ..
            } => {
                predecessor.as_ref().map_or(Ok(()), |p| c.node(p))?;
                c.nodes("successors", successors, 1)
            }
            Response::Notified { replaced, .. } => replaced.as_ref().map_or(Ok(()), |p| c.node(p)),
            Response::Info {
                node,
                predecessor,
                successors,
                ..
            } => {
                c.node(node)?;
                predecessor.as_ref().map_or(Ok(()), |p| c.node(p))?;
                c.nodes("successors", successors, 1)
            }
            Response::Keys { items, more } => {
                c.items(items)?;
                c.cursor(more.as_ref())
            }
            Response::Value(entry) => entry.as_ref().map_or(Ok(()), |e| c.entry(e)),
            Response::Written {
                entry,
                successors,
                previous,
                ..
            } => {
                c.entry(entry)?;
                if let Some(previous) = previous {
                    length("value", previous.len(), 0, MAX_VALUE)?;
                }
                c.nodes("successors", successors, 1)
            }
            Response::Applied {
                answers,
                written,
                successors,
            } => {
                count("answers", answers.len(), 1, MAX_ITEMS)?;
                for answer in answers {
                    match answer {
                        OpAnswer::Value(Some(v)) | OpAnswer::Unchanged(Some(v)) => {
                            length("value", v.len(), 0, MAX_VALUE)?;
                        }
                        OpAnswer::Wrote { value, previous } => {
                            for v in value.iter().chain(previous) {
                                length("value", v.len(), 0, MAX_VALUE)?;
                            }
                        }
                        OpAnswer::Failed(why) => length("an error", why.len(), 0, 1024)?,
                        OpAnswer::Value(None) | OpAnswer::Unchanged(None) => {}
                    }
                }
                c.items(written)?;
                c.nodes("successors", successors, 1)
            }
            Response::Differ {
                buckets, flushed, ..
            } => {
                c.stamp(*flushed)?;
                count("buckets", buckets.len(), 0, MAX_BUCKETS)
            }
            Response::Unchanged {
                previous: Some(previous),
            } => length("value", previous.len(), 0, MAX_VALUE),
            Response::Batch(answers) => {
                count("batched answers", answers.len(), 1, MAX_BATCH)?;
                for answer in answers {
                    if matches!(answer, Response::Batch(_)) {
                        return Err(Invalid::NotBatchable);
                    }
                    answer.check(c)?;
                }
                Ok(())
            }
            Response::Pong
            | Response::Deferred
            | Response::Done
            | Response::NotOwner
            | Response::Syncing
            | Response::Unchanged { previous: None }
            | Response::Full { .. }
            | Response::Error(_)
            | Response::Unwritable(_) => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::store::Version;

    const NOW: u64 = 1_800_000_000_000_000;

    fn space() -> IdSpace {
        IdSpace::new(16).unwrap()
    }

    fn checker() -> Checker {
        Checker::new(space(), NOW)
    }

    fn item(stamp: u64) -> Item {
        Item {
            key: b"k".into(),
            entry: Entry {
                value: Some("v".into()),
                version: Version { stamp, writer: 1 },
                expires: None,
                update: None,
            },
        }
    }

    #[test]
    fn a_node_must_sit_where_its_address_hashes() {
        let honest = NodeRef::new(space(), "127.0.0.1:4000");
        let notify = |candidate| Request::Notify { candidate };
        assert_eq!(notify(honest.clone()).check(&checker()), Ok(()));
        let placed = NodeRef {
            id: honest.id.add_pow2(3),
            ..honest.clone()
        };
        assert!(matches!(
            notify(placed).check(&checker()),
            Err(Invalid::NotItsAddress { .. })
        ));
        let other_space = NodeRef::new(IdSpace::new(160).unwrap(), "127.0.0.1:4000");
        assert!(matches!(
            notify(other_space).check(&checker()),
            Err(Invalid::WrongSpace { .. })
        ));
        let spaced = NodeRef::new(space(), "host 4000");
        assert!(matches!(
            notify(spaced).check(&checker()),
            Err(Invalid::BadAddress { .. })
        ));
    }

    #[test]
    fn versions_far_in_the_future_are_refused() {
        let ahead = u64::try_from(MAX_CLOCK_AHEAD.as_micros()).unwrap();
        let ok = Request::Replicate {
            items: vec![item(NOW + ahead)].into(),
        };
        assert_eq!(ok.check(&checker()), Ok(()));
        for stamp in [NOW + ahead + 1, u64::MAX] {
            let attack = Request::Replicate {
                items: vec![item(stamp)].into(),
            };
            assert!(matches!(
                attack.check(&checker()),
                Err(Invalid::FromTheFuture { .. })
            ));
            // A flush watermark that far ahead would flush every write
            // until then.
            let flush = Request::Flush { through: stamp };
            assert!(matches!(
                flush.check(&checker()),
                Err(Invalid::FromTheFuture { .. })
            ));
        }
        assert_eq!(Request::Flush { through: NOW }.check(&checker()), Ok(()));
    }

    #[test]
    fn lengths_and_counts_are_bounded() {
        let long_key = Request::Get {
            key: "k".repeat(MAX_KEY + 1).into_bytes(),
        };
        assert!(long_key.check(&checker()).is_err());
        // The empty key is a key, as in Redis.
        let empty_key = Request::Get {
            key: Vec::<u8>::new(),
        };
        assert!(empty_key.check(&checker()).is_ok());
        let many = Request::Replicate {
            items: vec![item(NOW); MAX_ITEMS + 1].into(),
        };
        assert!(matches!(
            many.check(&checker()),
            Err(Invalid::BadCount { .. })
        ));
        let no_owner = Response::Found { successors: vec![] };
        assert!(no_owner.check(&checker()).is_err());
    }

    #[test]
    fn digest_buckets_must_advance_once_round_the_ring() {
        let id = |v| space().id(v);
        let digest = |from, ends: &[u64]| Request::Digest {
            from: Point::after(id(from)),
            buckets: ends
                .iter()
                .map(|&to| Bucket {
                    end: Point::after(id(to)),
                    digest: 0,
                })
                .collect(),
            flushed: 0,
        };
        assert_eq!(digest(100, &[200, 300, 50, 100]).check(&checker()), Ok(()));
        // One bucket may cover the whole circle, but nothing may follow it.
        assert_eq!(digest(100, &[100]).check(&checker()), Ok(()));
        for bad in [&[100, 200][..], &[300, 200], &[200, 200], &[50, 150]] {
            assert_eq!(
                digest(100, bad).check(&checker()),
                Err(Invalid::OutOfOrder),
                "{bad:?}"
            );
        }
    }
}
