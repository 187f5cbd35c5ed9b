//! Typed calls to another node: one method per request, each returning the
//! answer it expects or a [`CallError`]. The protocol code then reads like
//! the paper (`let x = successor.neighbours()?.predecessor`) instead of
//! matching every possible [`Response`] at every call.
//!
//! A [`Peer`] is a node as seen through a [`Caller`], which does the
//! actual sending: the ring ([`crate::chord::Ring`]), which adds the
//! failure rule and checks every answer before it is used.

use std::fmt;
use std::sync::Arc;

use crate::id::{Id, NodeRef};
use crate::message::{Atomic, Items, OpAnswer, Request, Response, Update};
use crate::store::{Bucket, Content, Cursor, Entry, Full, Item, Point, UpdateId};
use crate::transport::TransportError;

/// What sends a request to a node and returns its answer.
pub trait Caller {
    /// Sends `request` to `to`; its answer, or why there was none.
    ///
    /// # Errors
    /// The transport's error.
    fn call(&self, to: &NodeRef, request: Request) -> Result<Response, TransportError>;

    /// Sends each request to its node, all in flight at once where the
    /// caller can; the answers in the same order. By default one call
    /// after another.
    fn call_all(&self, calls: Vec<(&NodeRef, Request)>) -> Vec<Result<Response, TransportError>> {
        calls
            .into_iter()
            .map(|(to, request)| self.call(to, request))
            .collect()
    }
}

/// Gives each of `targets` copies of `items`, all at once where the caller
/// can ([`Caller::call_all`]), their messages sharing the one list; each
/// one's result, in order, as [`Peer::replicate`] gives it.
pub fn replicate_all(
    caller: &dyn Caller,
    targets: &[NodeRef],
    items: &Arc<Vec<Item>>,
) -> Vec<Result<(), CallError>> {
    let calls = targets
        .iter()
        .map(|to| {
            let request = Request::Replicate {
                items: Items::Shared(items.clone()),
            };
            (to, request)
        })
        .collect();
    caller
        .call_all(calls)
        .into_iter()
        .map(|answer| done(answer?))
        .collect()
}

/// The answer to a [`Request::Write`], as [`Peer::write`] gives it; also
/// for a write the node answered itself.
///
/// # Errors
/// As [`Peer::write`].
pub fn written(answer: Response) -> Result<Written, CallError> {
    match refused(answer)? {
        Response::Written {
            entry,
            existed,
            successors,
            previous,
        } => Ok(Written {
            entry,
            existed,
            successors,
            previous,
        }),
        // A plain write has no condition to fail.
        other => Err(unexpected(&other)),
    }
}

/// The answer to a [`Request::Update`], as [`Peer::update`] gives it
/// (`None`: the update's condition did not hold); also for an update the
/// node answered itself.
///
/// # Errors
/// As [`Peer::update`].
pub fn updated(answer: Response) -> Result<Updated, CallError> {
    match answer {
        Response::Unchanged { previous } => Ok(Updated::Unchanged(previous)),
        answer => written(answer).map(Updated::Wrote),
    }
}

/// What an owner did with an update.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Updated {
    /// It wrote.
    Wrote(Written),
    /// Its condition did not hold: nothing was written. The value then,
    /// for an update that answers with it.
    Unchanged(Option<Vec<u8>>),
}

/// The answers that refuse a request, as errors.
fn refused(answer: Response) -> Result<Response, CallError> {
    match answer {
        Response::NotOwner => Err(CallError::NotOwner),
        Response::Syncing => Err(CallError::Syncing),
        Response::Full { used, limit } => Err(CallError::Full(Full {
            used: usize::try_from(used).unwrap_or(usize::MAX),
            limit: usize::try_from(limit).unwrap_or(usize::MAX),
        })),
        Response::Error(why) | Response::Unwritable(why) => Err(CallError::Refused(why)),
        answer => Ok(answer),
    }
}

/// The answer a request that changes something expects: done.
///
/// # Errors
/// A refusal, or an answer of another kind, as a [`CallError`].
pub fn done(answer: Response) -> Result<(), CallError> {
    match refused(answer)? {
        Response::Done => Ok(()),
        other => Err(unexpected(&other)),
    }
}

/// The answer to a [`Request::Get`], as [`Peer::get`] gives it.
///
/// # Errors
/// As [`Peer::get`].
pub fn value(answer: Response) -> Result<Option<Entry>, CallError> {
    match refused(answer)? {
        Response::Value(entry) => Ok(entry),
        other => Err(unexpected(&other)),
    }
}

/// Why a call did not return the answer it expects.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CallError {
    /// No answer: the node is down, slow, busy, or broke the protocol.
    Transport(TransportError),
    /// The node does not own that key now: look it up again.
    NotOwner,
    /// The node owns that key but does not hold it yet: read the other
    /// holders, or retry.
    Syncing,
    /// The node's store is full.
    Full(Full),
    /// The node refused the request, and said why.
    Refused(String),
    /// The node answered with something else than this request expects.
    Unexpected(String),
}

impl fmt::Display for CallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CallError::Transport(e) => write!(f, "{e}"),
            CallError::NotOwner => write!(f, "it does not own that key now"),
            CallError::Syncing => write!(f, "it owns that key but is still copying it"),
            CallError::Full(full) => write!(f, "it {full} (--max-memory)"),
            CallError::Refused(why) => write!(f, "it refused: {why}"),
            CallError::Unexpected(answer) => write!(f, "it answered {answer}"),
        }
    }
}

impl std::error::Error for CallError {}

impl From<TransportError> for CallError {
    fn from(e: TransportError) -> CallError {
        CallError::Transport(e)
    }
}

/// One step of a lookup at a node: the paper's `find_successor` answered
/// from that node's tables.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// The identifier lies in `(node, successor]`: its successor list,
    /// the owner first.
    Found(Vec<NodeRef>),
    /// Ask one of these next, best first.
    Closer(Vec<NodeRef>),
}

/// A node's answer to a digest of an arc ([`Peer::digest`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Differ {
    /// The indices of the buckets whose digests differ there, ascending.
    pub buckets: Vec<u32>,
    /// Its flush watermark.
    pub flushed: u64,
    /// Whether it was copying its own arc back, so that its digests cover
    /// only part of what it should hold.
    pub syncing: bool,
    /// Its incarnation and its store's count of changes as of these
    /// digests.
    pub store: (u64, u64),
}

/// A node's predecessor and successor list, as it told them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Neighbours {
    /// Its predecessor, if it knows one.
    pub predecessor: Option<NodeRef>,
    /// Its successor list, nearest first.
    pub successors: Vec<NodeRef>,
    /// Whether its view can be trusted (see [`Response::Neighbours`]).
    pub settled: bool,
}

/// A node's answer to `notify`, as [`Response::Notified`] carries it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notice {
    /// It took the candidate as its predecessor just now.
    pub adopted: bool,
    /// The predecessor the candidate replaced.
    pub replaced: Option<NodeRef>,
    /// It owned, and can hand over, all of the candidate's arc.
    pub whole: bool,
}

/// What a node said about itself (RING, and telling processes apart).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Info {
    /// The node.
    pub node: NodeRef,
    /// Its process's random incarnation number.
    pub incarnation: u64,
    /// Its successor list.
    pub successors: Vec<NodeRef>,
    /// How many keys it holds, its own and replica copies.
    pub keys: u64,
    /// How many of those it owns.
    pub owned: u64,
}

/// What an owner did with a write.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Written {
    /// The entry stored, with the owner's new version.
    pub entry: Entry,
    /// Whether the key had a value before.
    pub existed: bool,
    /// The owner's successor list: the replicas are the first R - 1.
    pub successors: Vec<NodeRef>,
    /// The value the write replaced, for an update that answers with it
    /// (`GETSET`); `None` for the others.
    pub previous: Option<Vec<u8>>,
}

/// What an owner did with an atomic request ([`Request::Atomic`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Applied {
    /// Each operation's answer, in order.
    pub answers: Vec<OpAnswer>,
    /// The entries it wrote, to copy to the replicas.
    pub written: Vec<Item>,
    /// The owner's successor list: the replicas are the first R - 1.
    pub successors: Vec<NodeRef>,
}

/// The answer to a [`Request::Atomic`], as [`Peer::atomic`] gives it; also
/// for one the node answered itself.
///
/// # Errors
/// A refusal, or an answer of another kind, as a [`CallError`].
pub fn applied(answer: Response) -> Result<Applied, CallError> {
    match refused(answer)? {
        Response::Applied {
            answers,
            written,
            successors,
        } => Ok(Applied {
            answers,
            written,
            successors,
        }),
        other => Err(unexpected(&other)),
    }
}

/// Another node, to call.
pub struct Peer<'a> {
    caller: &'a dyn Caller,
    node: &'a NodeRef,
}

impl<'a> Peer<'a> {
    /// `node`, called through `caller`.
    pub fn new(caller: &'a dyn Caller, node: &'a NodeRef) -> Peer<'a> {
        Peer { caller, node }
    }

    /// The node called.
    pub fn node(&self) -> &NodeRef {
        self.node
    }

    fn call(&self, request: Request) -> Result<Response, CallError> {
        refused(self.caller.call(self.node, request)?)
    }

    /// `node.find_successor(id)`, one step of it.
    ///
    /// # Errors
    /// A [`CallError`].
    pub fn find_successor_step(&self, id: Id) -> Result<Step, CallError> {
        match self.call(Request::FindSuccessor { id })? {
            Response::Found { successors } => Ok(Step::Found(successors)),
            Response::Closer { candidates } => Ok(Step::Closer(candidates)),
            other => Err(unexpected(&other)),
        }
    }

    /// Its predecessor and successor list (`successor.predecessor` in
    /// `stabilize`).
    ///
    /// # Errors
    /// A [`CallError`].
    pub fn neighbours(&self) -> Result<Neighbours, CallError> {
        match self.call(Request::GetNeighbours)? {
            Response::Neighbours {
                predecessor,
                successors,
                settled,
            } => Ok(Neighbours {
                predecessor,
                successors,
                settled,
            }),
            other => Err(unexpected(&other)),
        }
    }

    /// `node.notify(candidate)`: whether it adopted `candidate` as its
    /// predecessor, which predecessor it replaced, and whether it can hand
    /// over the candidate's whole arc.
    ///
    /// # Errors
    /// A [`CallError`].
    pub fn notify(&self, candidate: &NodeRef) -> Result<Notice, CallError> {
        let request = Request::Notify {
            candidate: candidate.clone(),
        };
        match self.call(request)? {
            Response::Notified {
                adopted,
                replaced,
                whole,
            } => Ok(Notice {
                adopted,
                replaced,
                whole,
            }),
            other => Err(unexpected(&other)),
        }
    }

    /// Whether it answers (`check_predecessor`).
    ///
    /// # Errors
    /// A [`CallError`].
    pub fn ping(&self) -> Result<(), CallError> {
        match self.call(Request::Ping)? {
            Response::Pong => Ok(()),
            other => Err(unexpected(&other)),
        }
    }

    /// What it says about itself.
    ///
    /// # Errors
    /// A [`CallError`].
    pub fn info(&self) -> Result<Info, CallError> {
        match self.call(Request::Info)? {
            Response::Info {
                node,
                incarnation,
                successors,
                keys,
                owned,
                ..
            } => Ok(Info {
                node,
                incarnation,
                successors,
                keys,
                owned,
            }),
            other => Err(unexpected(&other)),
        }
    }

    /// A chunk of what it holds in `(from, to]`, resuming after `after`;
    /// the items, and where to resume if there is more.
    ///
    /// # Errors
    /// A [`CallError`].
    pub fn take_keys(
        &self,
        from: Id,
        to: Id,
        after: Option<Cursor>,
        max_bytes: u32,
    ) -> Result<(Vec<Item>, Option<Cursor>), CallError> {
        let request = Request::TakeKeys {
            from,
            to,
            after,
            max_bytes,
        };
        match self.call(request)? {
            Response::Keys { items, more } => Ok((items, more)),
            other => Err(unexpected(&other)),
        }
    }

    /// Gives it copies of `items`.
    ///
    /// # Errors
    /// [`CallError::Full`] when it refused some for a full store, else a
    /// [`CallError`].
    pub fn replicate(&self, items: Vec<Item>) -> Result<(), CallError> {
        self.done(Request::Replicate {
            items: items.into(),
        })
    }

    /// Which of these digest buckets of the span after `from` differ there,
    /// and its flush watermark; `flushed` is ours.
    ///
    /// # Errors
    /// A [`CallError`].
    pub fn digest(
        &self,
        from: Point,
        buckets: Vec<Bucket>,
        flushed: u64,
    ) -> Result<Differ, CallError> {
        match self.call(Request::Digest {
            from,
            buckets,
            flushed,
        })? {
            Response::Differ {
                buckets,
                flushed,
                syncing,
                store,
            } => Ok(Differ {
                buckets,
                flushed,
                syncing,
                store,
            }),
            other => Err(unexpected(&other)),
        }
    }

    /// Flushes every entry stamped at or before `through` there.
    ///
    /// # Errors
    /// A [`CallError`].
    pub fn flush(&self, through: u64) -> Result<(), CallError> {
        self.done(Request::Flush { through })
    }

    /// Gives it our copy of the span from `from` to `to`; what it holds
    /// there that we lack or hold older.
    ///
    /// # Errors
    /// A [`CallError`].
    pub fn reconcile(
        &self,
        from: Point,
        to: Point,
        items: Vec<Item>,
    ) -> Result<Vec<Item>, CallError> {
        match self.call(Request::Reconcile { from, to, items })? {
            Response::Keys { items, .. } => Ok(items),
            other => Err(unexpected(&other)),
        }
    }

    /// Tells it that its predecessor `leaver` leaves, and who was before.
    ///
    /// # Errors
    /// A [`CallError`].
    pub fn predecessor_leaving(
        &self,
        leaver: &NodeRef,
        predecessor: Option<NodeRef>,
    ) -> Result<(), CallError> {
        self.done(Request::PredecessorLeaving {
            leaver: leaver.clone(),
            predecessor,
        })
    }

    /// Tells it that `node` lives in another ring, to link in.
    ///
    /// # Errors
    /// A [`CallError`].
    pub fn consider(&self, node: &NodeRef) -> Result<(), CallError> {
        self.done(Request::Consider { node: node.clone() })
    }

    /// Tells it that its successor `leaver` leaves, and what came after.
    ///
    /// # Errors
    /// A [`CallError`].
    pub fn successor_leaving(
        &self,
        leaver: &NodeRef,
        successors: Vec<NodeRef>,
    ) -> Result<(), CallError> {
        self.done(Request::SuccessorLeaving {
            leaver: leaver.clone(),
            successors,
        })
    }

    fn done(&self, request: Request) -> Result<(), CallError> {
        done(self.call(request)?)
    }

    /// Its entry for `key` as the owner (a tombstone included).
    ///
    /// # Errors
    /// [`CallError::NotOwner`] when it does not own `key` now, else a
    /// [`CallError`].
    pub fn get(&self, key: &[u8]) -> Result<Option<Entry>, CallError> {
        self.value(Request::Get { key: key.to_vec() })
    }

    /// Its copy of `key`, owner or not.
    ///
    /// # Errors
    /// A [`CallError`].
    pub fn get_copy(&self, key: &[u8]) -> Result<Option<Entry>, CallError> {
        self.value(Request::GetCopy { key: key.to_vec() })
    }

    fn value(&self, request: Request) -> Result<Option<Entry>, CallError> {
        value(self.call(request)?)
    }

    /// Writes `key` (`None` deletes it), expiring at `expires`, at its
    /// owner, which stamps the version.
    ///
    /// # Errors
    /// [`CallError::NotOwner`], [`CallError::Full`], or another
    /// [`CallError`].
    pub fn write(&self, key: &[u8], (value, expires): Content) -> Result<Written, CallError> {
        written(self.call(Request::Write {
            key: key.to_vec(),
            value,
            expires,
        })?)
    }

    /// Applies `update` to `key` at its owner; what was written, or `None`
    /// when the update's condition did not hold.
    ///
    /// # Errors
    /// As [`Peer::write`]; [`CallError::Refused`] when the value is not an
    /// integer an increment can use.
    pub fn update(&self, key: &[u8], update: Update, id: UpdateId) -> Result<Updated, CallError> {
        updated(self.call(Request::Update {
            key: key.to_vec(),
            update,
            id,
        })?)
    }

    /// Applies `atomic`, whose keys all have identifier `id`, there as
    /// their owner (see [`crate::dhash`]'s `atomic.rs`).
    ///
    /// # Errors
    /// A [`CallError`]: [`CallError::NotOwner`] when it does not own `id`.
    pub fn atomic(&self, id: Id, atomic: Atomic, once: UpdateId) -> Result<Applied, CallError> {
        applied(self.call(Request::Atomic { id, atomic, once })?)
    }
}

fn unexpected(answer: &Response) -> CallError {
    let text = format!("{answer:?}");
    CallError::Unexpected(text.chars().take(200).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::id::IdSpace;

    /// Answers every call with the same response.
    struct Always(Response);

    impl Caller for Always {
        fn call(&self, _: &NodeRef, _: Request) -> Result<Response, TransportError> {
            Ok(self.0.clone())
        }
    }

    #[test]
    fn answers_become_values_or_typed_errors() {
        let node = NodeRef::new(IdSpace::new(8).unwrap(), "n");
        let ask = |answer: Response| Always(answer);
        let pong = ask(Response::Pong);
        assert_eq!(Peer::new(&pong, &node).ping(), Ok(()));
        let not_owner = ask(Response::NotOwner);
        assert_eq!(
            Peer::new(&not_owner, &node).get(b"k"),
            Err(CallError::NotOwner)
        );
        let full = ask(Response::Full { used: 9, limit: 8 });
        assert_eq!(
            Peer::new(&full, &node).replicate(vec![]),
            Err(CallError::Full(Full { used: 9, limit: 8 }))
        );
        let refused = ask(Response::Error("no".into()));
        assert_eq!(
            Peer::new(&refused, &node).neighbours(),
            Err(CallError::Refused("no".into()))
        );
        // The wrong kind of answer is an error, not a panic or a default.
        assert!(matches!(
            Peer::new(&pong, &node).neighbours(),
            Err(CallError::Unexpected(_))
        ));
    }
}
