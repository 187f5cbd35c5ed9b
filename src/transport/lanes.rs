//! Concurrent calls to one peer share one message: group commit, as a
//! database batches its log writes.
//!
//! Under load, a node's client requests call the same peers at once:
//! reads and writes at the owner, copies for the replicas. Sent each on
//! its own connection, every call costs the peer a thread wake-up, a read
//! and a write, and on a small machine those, not the work, are most of a
//! peer call's cost (docs/design.md, "What a peer call costs"). So a node
//! keeps at most one batchable call ([`Request::batchable`]) in flight to
//! each peer: a lane. Calls made meanwhile queue in the lane; when the
//! call in flight is answered, the first caller queued takes the whole
//! queue and sends it as one [`Request::Batch`], answered in one
//! [`Response::Batch`]. A lone call goes at once, as if there were no
//! lanes, so an idle ring pays nothing; the calls one caller makes to one
//! peer at once (the keys of an `MSET` that node owns) go at once in one
//! message. A caller that leads a lane where
//! calls have been queueing lately yields its core once before it sends,
//! so that the calls other threads are about to make join its message: a
//! busy node sends fewer, fuller messages.
//!
//! Every caller keeps its own deadline. A batch is sent with the soonest
//! of its members', a member whose deadline passed while it queued leaves
//! the queue with a timeout, and a failed batch fails each member as the
//! call alone would have failed. Reads whose answers would overfill the
//! batch's answer are answered [`Response::Deferred`], and their callers
//! send them again alone.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

use crate::error::TransportError;
use crate::message::{Request, Response, MAX_BATCH};

/// The most bytes of keys and values one batch carries.
const BATCH_BYTES: usize = 256 * 1024;

/// How long after a call last queued behind another to the same peer the
/// lane counts as contended, and its leaders yield before sending.
const CONTENDED: Duration = Duration::from_millis(50);

/// The lanes of one node, one per peer address.
#[derive(Default)]
pub(super) struct Lanes {
    /// Each peer's lane. Guards only the queues, whether a call is in
    /// flight and when calls last queued; nobody holds it while a message
    /// is sent or awaited, or while its leader yields. Taken before any
    /// [`Slot`]'s lock, never after.
    lanes: Mutex<HashMap<String, Lane>>,
}

#[derive(Default)]
struct Lane {
    /// Whether a batch (or a lone call) to this peer is in flight, or
    /// handed to a queued caller to send.
    busy: bool,
    queue: VecDeque<Queued>,
    /// When a call last found the lane busy and queued.
    contended: Option<Instant>,
}

struct Queued {
    request: Request,
    bytes: usize,
    deadline: Instant,
    slot: Arc<Slot>,
}

/// Where one caller waits for its answer.
pub(super) struct Slot {
    state: Mutex<State>,
    ready: Condvar,
}

enum State {
    /// In its lane's queue.
    Queued,
    /// In a batch in flight.
    Sent,
    /// First in the queue when the lane came free: its caller sends the
    /// next batch.
    Lead,
    /// Answered.
    Done(Result<Response, TransportError>),
    /// Deferred by the peer: its caller sends this again alone.
    Again(Request),
}

/// Requests taken from a lane, to be sent as one message by the caller
/// holding this. Dropped unanswered (its sender panicked), it fails its
/// members and frees the lane, so that nobody waits for it forever.
pub(super) struct Batch<'a> {
    lanes: &'a Lanes,
    pub(super) addr: String,
    members: Vec<Arc<Slot>>,
    /// What to send, until [`Batch::message`] takes it.
    requests: Vec<Request>,
    /// The reads of a batch of several, kept to be sent again alone if
    /// the peer defers them; by member.
    reads: Vec<Option<Request>>,
    /// The soonest of the members' deadlines.
    pub(super) deadline: Instant,
}

/// What a caller's wait in its lane ended with.
pub(super) enum Waited<'a> {
    Answer(Result<Response, TransportError>),
    /// Its turn to send: this batch, which holds its own request.
    Lead(Batch<'a>),
    /// Deferred by the peer: send this alone.
    Again(Request),
}

impl Lanes {
    /// Queues `requests` for `addr`, each with its bytes and the slot its
    /// answer will come to ([`Slot::new`], made before the lanes' lock is
    /// taken); the batch to send at once if the lane was free. One
    /// caller's requests to one peer (the keys of an `MSET` that one node
    /// owns) so go in one message. A caller in several lanes must await
    /// its slots in the order it joined them: it may be told to lead one
    /// lane while it waits in another, and two callers with opposite orders
    /// could each wait for the other's lead until their deadlines.
    pub(super) fn join(
        &self,
        addr: &str,
        requests: impl IntoIterator<Item = (Request, usize, Arc<Slot>)>,
        deadline: Instant,
    ) -> Option<Batch<'_>> {
        let mut lanes = self.lanes.lock();
        let lane = lane_of(&mut lanes, addr);
        for (request, bytes, slot) in requests {
            lane.queue.push_back(Queued {
                request,
                bytes,
                deadline,
                slot,
            });
        }
        let now = Instant::now();
        if lane.busy {
            lane.contended = Some(now);
            return None;
        }
        lane.busy = true;
        // The lane is ours to lead. If calls to this peer have been
        // queueing lately, let the other threads that can run on this core
        // run first: they are client requests about to call the same peer,
        // and they join this batch instead of waiting for the next
        // (docs/design.md, "Peer calls share messages", has the figures).
        // Not otherwise: a node starved of CPU by other processes would
        // give its core away on every call.
        if lane
            .contended
            .is_some_and(|at| now.duration_since(at) < CONTENDED)
        {
            drop(lanes);
            std::thread::yield_now();
            lanes = self.lanes.lock();
        }
        let lane = lane_of(&mut lanes, addr);
        Some(self.take(addr, lane))
    }

    /// Takes the first queued requests of `lane`, as many as one batch
    /// carries; members whose deadline passed are answered with a timeout
    /// instead.
    fn take(&self, addr: &str, lane: &mut Lane) -> Batch<'_> {
        let now = Instant::now();
        let mut batch = Batch {
            lanes: self,
            addr: addr.to_string(),
            members: Vec::new(),
            requests: Vec::new(),
            reads: Vec::new(),
            deadline: now,
        };
        let mut bytes = 0;
        while let Some(next) = lane.queue.front() {
            let full = batch.members.len() == MAX_BATCH
                || (!batch.members.is_empty() && bytes + next.bytes > BATCH_BYTES);
            if full {
                break;
            }
            let Some(queued) = lane.queue.pop_front() else {
                break;
            };
            if queued.deadline <= now {
                queued.slot.finish(Err(TransportError::Timeout {
                    addr: addr.to_string(),
                }));
                continue;
            }
            bytes += queued.bytes;
            batch.deadline = if batch.members.is_empty() {
                queued.deadline
            } else {
                batch.deadline.min(queued.deadline)
            };
            *queued.slot.state.lock() = State::Sent;
            batch.members.push(queued.slot);
            batch.requests.push(queued.request);
        }
        batch
    }

    /// The lane of `addr` is free again: the first queued caller is told to
    /// send the next batch, or the lane idles.
    fn release(&self, addr: &str) {
        let mut lanes = self.lanes.lock();
        let Some(lane) = lanes.get_mut(addr) else {
            return;
        };
        match lane.queue.front() {
            Some(next) => next.slot.set(State::Lead),
            // Kept while contended lately, to remember it; else forgotten.
            None if lane.contended.is_some_and(|at| at.elapsed() < CONTENDED) => {
                lane.busy = false;
            }
            None => {
                lanes.remove(addr);
            }
        }
    }

    /// Waits for `slot`'s answer, or its turn to lead, or its deadline.
    pub(super) fn wait<'a>(
        &'a self,
        addr: &str,
        slot: &Arc<Slot>,
        deadline: Instant,
    ) -> Waited<'a> {
        let mut state = slot.state.lock();
        loop {
            match std::mem::replace(&mut *state, State::Sent) {
                State::Again(request) => return Waited::Again(request),
                State::Done(answer) => return Waited::Answer(answer),
                State::Lead => {
                    drop(state);
                    let mut lanes = self.lanes.lock();
                    let lane = lane_of(&mut lanes, addr);
                    return Waited::Lead(self.take(addr, lane));
                }
                State::Queued => {
                    *state = State::Queued;
                    if slot.ready.wait_until(&mut state, deadline).timed_out() {
                        drop(state);
                        if let Some(timeout) = self.leave(addr, slot) {
                            return Waited::Answer(timeout);
                        }
                        state = slot.state.lock();
                    }
                }
                // In flight: the batch's deadline is no later than ours,
                // so its answer comes in time.
                State::Sent => slot.ready.wait(&mut state),
            }
        }
    }

    /// Takes `slot` out of its lane's queue if it is still there: a
    /// timeout for its caller.
    fn leave(&self, addr: &str, slot: &Arc<Slot>) -> Option<Result<Response, TransportError>> {
        let mut lanes = self.lanes.lock();
        let lane = lanes.get_mut(addr)?;
        let state = slot.state.lock();
        if !matches!(*state, State::Queued) {
            return None;
        }
        lane.queue.retain(|q| !Arc::ptr_eq(&q.slot, slot));
        Some(Err(TransportError::Timeout {
            addr: addr.to_string(),
        }))
    }
}

/// The lane of `addr`, made if there is none; the address is copied only
/// then, not on every call.
fn lane_of<'a>(lanes: &'a mut HashMap<String, Lane>, addr: &str) -> &'a mut Lane {
    if !lanes.contains_key(addr) {
        lanes.insert(addr.to_string(), Lane::default());
    }
    lanes
        .get_mut(addr)
        .unwrap_or_else(|| unreachable!("inserted above"))
}

impl Slot {
    /// A slot for a request about to join a lane.
    pub(super) fn new() -> Arc<Slot> {
        Arc::new(Slot {
            state: Mutex::new(State::Queued),
            ready: Condvar::new(),
        })
    }

    fn set(&self, state: State) {
        *self.state.lock() = state;
        self.ready.notify_one();
    }

    fn finish(&self, answer: Result<Response, TransportError>) {
        self.set(State::Done(answer));
    }
}

impl Batch<'_> {
    /// The message to send: the lone request itself, or a batch of them;
    /// `None` when every member had timed out.
    pub(super) fn message(&mut self) -> Option<Request> {
        match self.requests.len() {
            0 => None,
            1 => self.requests.pop(),
            _ => {
                // Outside the lanes' lock, and only for a batch: a lone
                // read is never deferred, so it costs no copy.
                self.reads = self
                    .requests
                    .iter()
                    .map(|r| {
                        matches!(r, Request::Get { .. } | Request::GetCopy { .. })
                            .then(|| r.clone())
                    })
                    .collect();
                Some(Request::Batch(std::mem::take(&mut self.requests)))
            }
        }
    }

    /// Hands each member its part of `answer`, the reply to
    /// [`Batch::message`], and frees the lane.
    pub(super) fn answer(mut self, answer: Result<Response, TransportError>) {
        let members = std::mem::take(&mut self.members);
        match (members.len(), answer) {
            (0, _) => {}
            (1, answer) => members[0].finish(answer),
            (n, Ok(Response::Batch(answers))) if answers.len() == n => {
                let reads = std::mem::take(&mut self.reads);
                for ((member, answer), read) in members.iter().zip(answers).zip(reads) {
                    match (answer, read) {
                        (Response::Deferred, Some(read)) => member.set(State::Again(read)),
                        (Response::Deferred, None) => {
                            member.finish(Err(TransportError::Protocol {
                                addr: self.addr.clone(),
                                detail: "a write was deferred in a batch".into(),
                            }))
                        }
                        (answer, _) => member.finish(Ok(answer)),
                    }
                }
            }
            (n, Ok(other)) => {
                let e = TransportError::Protocol {
                    addr: self.addr.clone(),
                    detail: format!(
                        "a batch of {n} was answered with {}",
                        match other {
                            Response::Batch(answers) => format!("{} answers", answers.len()),
                            Response::Error(why) => format!("an error: {why}"),
                            _ => "a single answer".into(),
                        }
                    ),
                };
                members.iter().for_each(|m| m.finish(Err(e.clone())));
            }
            (_, Err(e)) => members.iter().for_each(|m| m.finish(Err(e.clone()))),
        }
        // Drop frees the lane.
    }
}

impl Drop for Batch<'_> {
    fn drop(&mut self) {
        let gone = TransportError::Unreachable {
            addr: self.addr.clone(),
            reason: "the batch's sender stopped before its answer".into(),
        };
        for member in self.members.drain(..) {
            member.finish(Err(gone.clone()));
        }
        self.lanes.release(&self.addr);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn get(key: &str) -> Request {
        Request::Get {
            key: key.as_bytes().to_vec(),
        }
    }

    /// Joins lane "p" with reads of `keys`; their slots, in order.
    fn join<'a>(
        lanes: &'a Lanes,
        keys: &[&str],
        deadline: Instant,
    ) -> (Vec<Arc<Slot>>, Option<Batch<'a>>) {
        let slots: Vec<Arc<Slot>> = keys.iter().map(|_| Slot::new()).collect();
        let requests = keys.iter().zip(&slots).map(|(k, s)| (get(k), 1, s.clone()));
        let batch = lanes.join("p", requests, deadline);
        (slots, batch)
    }

    /// Joins lane "p" with one read of `key`.
    fn one<'a>(lanes: &'a Lanes, key: &str, deadline: Instant) -> (Arc<Slot>, Option<Batch<'a>>) {
        let (mut slots, batch) = join(lanes, &[key], deadline);
        (slots.remove(0), batch)
    }

    #[test]
    fn one_callers_requests_to_a_free_lane_go_in_one_batch() {
        let lanes = Lanes::default();
        let later = Instant::now() + Duration::from_secs(5);
        let (slots, batch) = join(&lanes, &["a", "b", "c"], later);
        let mut batch = batch.expect("a free lane sends at once");
        assert_eq!(
            batch.message(),
            Some(Request::Batch(vec![get("a"), get("b"), get("c")]))
        );
        let answers = [Response::Done, Response::NotOwner, Response::Syncing];
        batch.answer(Ok(Response::Batch(answers.to_vec())));
        for (slot, answer) in slots.iter().zip(answers) {
            assert!(matches!(lanes.wait("p", slot, later), Waited::Answer(Ok(a)) if a == answer));
        }
    }

    #[test]
    fn a_lone_call_goes_at_once_and_later_ones_wait_for_the_next_batch() {
        let lanes = Lanes::default();
        let later = Instant::now() + Duration::from_secs(5);
        let (first, batch) = one(&lanes, "a", later);
        let mut batch = batch.expect("a free lane sends at once");
        assert_eq!(batch.message(), Some(get("a")));
        let (second, none) = one(&lanes, "b", later);
        let (third, _) = one(&lanes, "c", later);
        assert!(none.is_none(), "the lane is busy");
        batch.answer(Ok(Response::Value(None)));
        assert!(matches!(
            lanes.wait("p", &first, later),
            Waited::Answer(Ok(Response::Value(None)))
        ));
        // The second caller leads, with the third's request in its batch.
        let Waited::Lead(mut next) = lanes.wait("p", &second, later) else {
            panic!("the first queued caller leads");
        };
        assert_eq!(
            next.message(),
            Some(Request::Batch(vec![get("b"), get("c")]))
        );
        next.answer(Ok(Response::Batch(vec![
            Response::Value(None),
            Response::Deferred,
        ])));
        assert!(matches!(
            lanes.wait("p", &second, later),
            Waited::Answer(Ok(_))
        ));
        assert!(matches!(lanes.wait("p", &third, later), Waited::Again(r) if r == get("c")));
        // The lane idles, remembered as contended a moment ago: its next
        // leader lets other callers join first.
        let idle = lanes.lanes.lock();
        let lane = idle.get("p").expect("a lane contended a moment ago");
        assert!(!lane.busy && lane.queue.is_empty(), "the lane idles");
        assert!(lane.contended.is_some());
    }

    #[test]
    fn a_lane_nobody_queued_in_is_forgotten_once_free() {
        let lanes = Lanes::default();
        let later = Instant::now() + Duration::from_secs(5);
        let (slot, batch) = one(&lanes, "a", later);
        batch
            .expect("a free lane")
            .answer(Ok(Response::Value(None)));
        assert!(matches!(
            lanes.wait("p", &slot, later),
            Waited::Answer(Ok(_))
        ));
        assert!(lanes.lanes.lock().is_empty());
    }

    #[test]
    fn a_queued_caller_leaves_at_its_deadline_and_a_dropped_batch_fails_its_members() {
        let lanes = Lanes::default();
        let later = Instant::now() + Duration::from_secs(5);
        let (_, batch) = one(&lanes, "a", later);
        let soon = Instant::now() + Duration::from_millis(20);
        let (waiting, _) = one(&lanes, "b", soon);
        assert!(matches!(
            lanes.wait("p", &waiting, soon),
            Waited::Answer(Err(TransportError::Timeout { .. }))
        ));
        let (third, _) = one(&lanes, "c", later);
        drop(batch);
        let Waited::Lead(next) = lanes.wait("p", &third, later) else {
            panic!("the lane passes on when a batch is dropped");
        };
        drop(next);
        assert!(matches!(
            lanes.wait("p", &third, later),
            Waited::Answer(Err(TransportError::Unreachable { .. }))
        ));
    }
}
