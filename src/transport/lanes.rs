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
//!
//! A caller waits for all its calls at once, in one [`Waiter`]: it is
//! woken when the last of them is answered, or when one needs it (to lead
//! its lane, or to send a deferred read again), not once per answer. A
//! write's copies go to two lanes, whose answers come at different times;
//! woken for each, a third of the writes of a 3-copy ring slept twice.

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
    slot: Slot,
}

/// Where one caller waits for the answers to its calls in lanes, one
/// [`State`] a call. Only its caller waits on it.
pub(super) struct Waiter {
    /// The state of each call, by the index of its [`Slot`]. Taken after
    /// the lanes' lock, never before it.
    states: Mutex<Vec<State>>,
    ready: Condvar,
}

/// One call's place in its caller's [`Waiter`].
#[derive(Clone)]
pub(super) struct Slot {
    waiter: Arc<Waiter>,
    index: usize,
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
    members: Vec<Slot>,
    /// What to send, until [`Batch::message`] takes it.
    requests: Vec<Request>,
    /// The reads of a batch of several, kept to be sent again alone if
    /// the peer defers them; by member.
    reads: Vec<Option<Request>>,
    /// The soonest of the members' deadlines.
    pub(super) deadline: Instant,
}

/// What a caller's wait in its lanes ended with.
pub(super) enum Waited<'a> {
    /// Every call answered: the answers, by the index of their slots.
    Answers(Vec<Result<Response, TransportError>>),
    /// Its turn to send: this batch, which holds one of its requests.
    Lead(Batch<'a>),
    /// The call of this index was deferred by the peer: send this alone,
    /// and [`Waiter::settle`] it with the answer.
    Again(usize, Request),
}

impl Lanes {
    /// Queues `requests` for `addr`, each with its bytes and the slot its
    /// answer will come to ([`Waiter::new`], made before the lanes' lock
    /// is taken); the batch to send at once if the lane was free. One
    /// caller's requests to one peer (the keys of an `MSET` that one node
    /// owns) so go in one message.
    pub(super) fn join(
        &self,
        addr: &str,
        requests: impl IntoIterator<Item = (Request, usize, Slot)>,
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
            queued.slot.set(State::Sent);
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

    /// Waits until every call of `waiter` is answered, or one needs its
    /// caller: to lead its lane, or to be sent again alone. `addrs` names
    /// the peer of each call, by slot index. A call still queued at
    /// `deadline` leaves its lane with a timeout; one in flight is waited
    /// for, as its batch's deadline is no later.
    pub(super) fn wait<'a>(
        &'a self,
        waiter: &Waiter,
        addrs: &[&str],
        deadline: Instant,
    ) -> Waited<'a> {
        let mut states = waiter.states.lock();
        loop {
            let needed = states
                .iter()
                .position(|s| matches!(s, State::Lead | State::Again(_)));
            if let Some(index) = needed {
                match std::mem::replace(&mut states[index], State::Sent) {
                    State::Again(request) => return Waited::Again(index, request),
                    _ => {
                        drop(states);
                        let mut lanes = self.lanes.lock();
                        let lane = lane_of(&mut lanes, addrs[index]);
                        return Waited::Lead(self.take(addrs[index], lane));
                    }
                }
            }
            if states.iter().all(|s| matches!(s, State::Done(_))) {
                let answers = std::mem::take(&mut *states).into_iter().map(|s| match s {
                    State::Done(answer) => answer,
                    _ => Err(super::unanswered("a lane")),
                });
                return Waited::Answers(answers.collect());
            }
            if !states.iter().any(|s| matches!(s, State::Queued)) {
                waiter.ready.wait(&mut states);
            } else if waiter.ready.wait_until(&mut states, deadline).timed_out() {
                drop(states);
                for (index, addr) in addrs.iter().enumerate() {
                    self.leave(addr, waiter, index);
                }
                states = waiter.states.lock();
            }
        }
    }

    /// Takes call `index` of `waiter` out of its lane's queue if it is
    /// still there, answered with a timeout.
    fn leave(&self, addr: &str, waiter: &Waiter, index: usize) {
        let mut lanes = self.lanes.lock();
        let mut states = waiter.states.lock();
        if !matches!(states[index], State::Queued) {
            return;
        }
        if let Some(lane) = lanes.get_mut(addr) {
            lane.queue
                .retain(|q| !(std::ptr::eq(&*q.slot.waiter, waiter) && q.slot.index == index));
        }
        states[index] = State::Done(Err(TransportError::Timeout {
            addr: addr.to_string(),
        }));
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

/// Whether a caller whose call `changed` just took its state in `states`
/// must be woken: for its turn to act, or for the last answer.
fn wakes(states: &[State], changed: usize) -> bool {
    match states[changed] {
        State::Queued | State::Sent => false,
        State::Lead | State::Again(_) => true,
        State::Done(_) => states.iter().all(|s| matches!(s, State::Done(_))),
    }
}

impl Waiter {
    /// A waiter for `calls` requests about to join lanes; a slot each.
    pub(super) fn new(calls: usize) -> (Arc<Waiter>, impl Iterator<Item = Slot>) {
        let waiter = Arc::new(Waiter {
            states: Mutex::new((0..calls).map(|_| State::Queued).collect()),
            ready: Condvar::new(),
        });
        let shared = waiter.clone();
        let slots = (0..calls).map(move |index| Slot {
            waiter: shared.clone(),
            index,
        });
        (waiter, slots)
    }

    /// Gives call `index` the answer its caller got by sending it alone.
    pub(super) fn settle(&self, index: usize, answer: Result<Response, TransportError>) {
        self.states.lock()[index] = State::Done(answer);
    }
}

impl Slot {
    /// Moves the call on, and wakes its caller if that is what it waits
    /// for: its turn to act, or the last answer.
    fn set(&self, state: State) {
        let mut states = self.waiter.states.lock();
        states[self.index] = state;
        let wake = wakes(&states, self.index);
        drop(states);
        if wake {
            self.waiter.ready.notify_one();
        }
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

    /// One caller's reads of `keys`, all joining lane "p"; its waiter, and
    /// the batch to send if the lane was free.
    fn join<'a>(
        lanes: &'a Lanes,
        keys: &[&str],
        deadline: Instant,
    ) -> (Arc<Waiter>, Option<Batch<'a>>) {
        let (waiter, slots) = Waiter::new(keys.len());
        let requests = keys.iter().zip(slots).map(|(k, s)| (get(k), 1, s));
        (waiter, lanes.join("p", requests, deadline))
    }

    /// Waits for the answers of a caller whose calls all went to lane "p".
    fn answers(lanes: &Lanes, waiter: &Waiter, deadline: Instant) -> Vec<Response> {
        let addrs = vec!["p"; waiter.states.lock().len()];
        match lanes.wait(waiter, &addrs, deadline) {
            Waited::Answers(answers) => {
                answers.into_iter().map(|a| a.expect("an answer")).collect()
            }
            _ => panic!("expected the answers"),
        }
    }

    #[test]
    fn one_callers_requests_to_a_free_lane_go_in_one_batch() {
        let lanes = Lanes::default();
        let later = Instant::now() + Duration::from_secs(5);
        let (waiter, batch) = join(&lanes, &["a", "b", "c"], later);
        let mut batch = batch.expect("a free lane sends at once");
        assert_eq!(
            batch.message(),
            Some(Request::Batch(vec![get("a"), get("b"), get("c")]))
        );
        let sent = [Response::Done, Response::NotOwner, Response::Syncing];
        batch.answer(Ok(Response::Batch(sent.to_vec())));
        assert_eq!(answers(&lanes, &waiter, later), sent);
    }

    #[test]
    fn a_lone_call_goes_at_once_and_later_ones_wait_for_the_next_batch() {
        let lanes = Lanes::default();
        let later = Instant::now() + Duration::from_secs(5);
        let (first, batch) = join(&lanes, &["a"], later);
        let mut batch = batch.expect("a free lane sends at once");
        assert_eq!(batch.message(), Some(get("a")));
        let (second, none) = join(&lanes, &["b"], later);
        let (third, _) = join(&lanes, &["c"], later);
        assert!(none.is_none(), "the lane is busy");
        batch.answer(Ok(Response::Value(None)));
        assert_eq!(answers(&lanes, &first, later), [Response::Value(None)]);
        // The second caller leads, with the third's request in its batch.
        let Waited::Lead(mut next) = lanes.wait(&second, &["p"], later) else {
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
        assert_eq!(answers(&lanes, &second, later), [Response::Value(None)]);
        let Waited::Again(0, again) = lanes.wait(&third, &["p"], later) else {
            panic!("a deferred read is sent again alone");
        };
        assert_eq!(again, get("c"));
        third.settle(0, Ok(Response::Value(None)));
        assert_eq!(answers(&lanes, &third, later), [Response::Value(None)]);
        // The lane idles, remembered as contended a moment ago: its next
        // leader lets other callers join first.
        let idle = lanes.lanes.lock();
        let lane = idle.get("p").expect("a lane contended a moment ago");
        assert!(!lane.busy && lane.queue.is_empty(), "the lane idles");
        assert!(lane.contended.is_some());
    }

    #[test]
    fn a_caller_queued_in_two_lanes_leads_each_and_gets_both_answers() {
        let lanes = Lanes::default();
        let later = Instant::now() + Duration::from_secs(5);
        // Another caller holds both lanes busy.
        let (_, busy_p) = join(&lanes, &["x"], later);
        let (other, other_slots) = Waiter::new(1);
        let busy_q = lanes.join(
            "q",
            other_slots.into_iter().map(|s| (get("y"), 1, s)),
            later,
        );
        let (mut busy_p, mut busy_q) = (busy_p.expect("free"), busy_q.expect("free"));
        let (_, _) = (busy_p.message(), busy_q.message());
        // Ours queue in both, behind them.
        let (waiter, slots) = Waiter::new(2);
        let mut slots = slots.into_iter();
        let ours_p = slots.next().map(|s| (get("a"), 1, s));
        let ours_q = slots.next().map(|s| (get("b"), 1, s));
        assert!(lanes.join("p", ours_p, later).is_none());
        assert!(lanes.join("q", ours_q, later).is_none());
        // Each busy lane, freed, passes to us to lead, whichever frees
        // first; we answer our own batches, and return once both are in.
        std::thread::scope(|scope| {
            let woken = scope.spawn(|| {
                let mut leads = 0;
                loop {
                    match lanes.wait(&waiter, &["p", "q"], later) {
                        Waited::Lead(mut batch) => {
                            leads += 1;
                            let _ = batch.message();
                            batch.answer(Ok(Response::Value(None)));
                        }
                        Waited::Answers(answers) => return (leads, answers.len()),
                        Waited::Again(..) => panic!("nothing was deferred"),
                    }
                }
            });
            busy_p.answer(Ok(Response::Done));
            busy_q.answer(Ok(Response::Done));
            assert_eq!(woken.join().expect("the caller returns"), (2, 2));
        });
        assert_eq!(answers(&lanes, &other, later), [Response::Done]);
    }

    #[test]
    fn a_caller_is_woken_by_its_last_answer_or_its_turn_and_by_nothing_else() {
        let done = || State::Done(Ok(Response::Done));
        // One answer of two: the caller sleeps on.
        assert!(!wakes(&[done(), State::Sent], 0));
        assert!(!wakes(&[State::Queued, done()], 1));
        assert!(wakes(&[done(), done()], 1));
        // Its turn to lead, or a read to send again, wakes it at once.
        assert!(wakes(&[State::Lead, State::Sent], 0));
        assert!(wakes(&[State::Sent, State::Again(get("a"))], 1));
        // A call taken into a batch is no news.
        assert!(!wakes(&[State::Sent, done()], 0));
    }

    #[test]
    fn a_lane_nobody_queued_in_is_forgotten_once_free() {
        let lanes = Lanes::default();
        let later = Instant::now() + Duration::from_secs(5);
        let (waiter, batch) = join(&lanes, &["a"], later);
        batch
            .expect("a free lane")
            .answer(Ok(Response::Value(None)));
        assert_eq!(answers(&lanes, &waiter, later), [Response::Value(None)]);
        assert!(lanes.lanes.lock().is_empty());
    }

    #[test]
    fn a_queued_caller_leaves_at_its_deadline_and_a_dropped_batch_fails_its_members() {
        let lanes = Lanes::default();
        let later = Instant::now() + Duration::from_secs(5);
        let (_, batch) = join(&lanes, &["a"], later);
        let soon = Instant::now() + Duration::from_millis(20);
        let (waiting, _) = join(&lanes, &["b"], soon);
        let Waited::Answers(timed_out) = lanes.wait(&waiting, &["p"], soon) else {
            panic!("a queued call times out");
        };
        assert!(matches!(
            timed_out[..],
            [Err(TransportError::Timeout { .. })]
        ));
        let (third, _) = join(&lanes, &["c"], later);
        drop(batch);
        let Waited::Lead(next) = lanes.wait(&third, &["p"], later) else {
            panic!("the lane passes on when a batch is dropped");
        };
        drop(next);
        let Waited::Answers(gone) = lanes.wait(&third, &["p"], later) else {
            panic!("a dropped batch answers its members");
        };
        assert!(matches!(
            gone[..],
            [Err(TransportError::Unreachable { .. })]
        ));
    }
}
