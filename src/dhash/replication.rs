//! Replicas, and the repair that keeps R copies of every key while nodes
//! come and go: the paper's section "Failure and Replication" ("store
//! replicas of a key at the k nodes succeeding the key"), made concrete.
//!
//! A key lives on R nodes: its owner, `successor(id)`, and the next R - 1
//! nodes of the owner's successor list. Writes reach all R through the
//! coordinator ([`crate::dhash::kv`]). Everything else that keeps it so runs in
//! [`Dhash::repair`], once per maintenance round, after stabilization:
//!
//! 1. **Pull a grown arc.** When a node's predecessor fails and a node
//!    further back notifies it, the node owns the dead node's arc. It was a
//!    replica of that arc, but one that joined a moment ago may not have
//!    all of it yet, so it refuses those keys until it has copied the arc
//!    from its next R - 1 successors, the other replicas
//!    (`Handover::unsynced` in [`crate::chord::ring`]).
//! 2. **Anti-entropy.** Each owner compares its arc `(predecessor, n]` with
//!    each of its next R - 1 successors, by digests rather than by sending
//!    the arc: [`Store::digests`](crate::store::Store::digests) cuts a slice
//!    of the arc into buckets of at most [`BUCKET_ENTRIES`] entries and
//!    hashes each; the replica answers which buckets differ
//!    ([`crate::message::Request::Digest`]), and only those are exchanged, both ways
//!    ([`crate::message::Request::Reconcile`]). This finds and mends any divergence: a new
//!    replica that lacks the arc, a write that reached only some replicas,
//!    a tombstone one copy missed. We chose fixed-size buckets over a
//!    Merkle tree: one round trip per slice, no tree to keep up to date on
//!    every write, and the cost of an unchanged arc is one digest per 64
//!    keys. A slice is at most [`MAX_BUCKETS`] buckets; a larger arc is
//!    covered over several rounds, so a node with a million keys does a
//!    bounded amount of work per round. Buckets end between keys where
//!    one identifier holds many (a hash tag's keys), so none is unbounded.
//!    A pass that found the copies equal leaves them alone until either
//!    store changes (`Pass`), and a pass rests `REST_ROUNDS` rounds
//!    before the next while the stores keep changing. The exchange also carries both
//!    sides' `FLUSHALL` watermarks, so a node that missed a flush catches
//!    up with its neighbours (`dhash/flush.rs`).
//! 3. **Pass strays on.** A node holds keys it should not: it was a
//!    replica until a node joined before it, or an owner until a node
//!    joined before it took the arc. For each run of such keys it looks
//!    the owner up; if it is not among the first R nodes from the owner,
//!    it gives the run to all R of them ([`crate::message::Request::Replicate`]) and drops
//!    its copies only once every one of them has confirmed, and only those
//!    that did not change meanwhile. So a copy is never dropped before R
//!    nodes hold it.
//! 4. **Collect**: empty expired values into tombstones, and remove
//!    tombstones older than the hold period, a bounded number of
//!    identifiers per round.
//!
//! Failure detection stays as the ring has it: call timeouts and
//! `check_predecessor`, and a successor that fails is replaced from the
//! successor list at once, within `stabilize`.

use std::collections::HashMap;
use std::sync::Arc;

use log::{debug, info};

use super::{Dhash, CHUNK_BYTES};
use crate::chord::{CopyError, Keys};
use crate::id::{Id, NodeRef};
use crate::message::Response;
use crate::stats::Stats;
use crate::store::{Bucket, Item, Key, Point, Version};

/// The most entries one digest bucket covers (tombstones old enough to
/// be collected are not counted).
pub const BUCKET_ENTRIES: usize = 64;

/// The most buckets one anti-entropy exchange digests: with
/// [`BUCKET_ENTRIES`], at most 4,096 entries per replica per round. It is
/// also the most a peer may send ([`crate::message::MAX_BUCKETS`]).
pub use crate::message::MAX_BUCKETS;

/// How many digest buckets are computed under one hold of the store lock.
const BUCKETS_PER_HOLD: usize = 8;

/// The most entries the receiver of a digest looks at for one bucket under
/// one hold of the store lock; a bucket holding more here counts as
/// different, and reconciling it sorts that out.
const BUCKET_SCAN: usize = 4 * BUCKET_ENTRIES;

/// The rounds a whole pass of anti-entropy waits before the next one, once
/// the stores have changed since (2 s at the default period). Under a
/// steady load of writes the stores change every round, and digesting the
/// arc every round was a twentieth of a 10-key `MSET`'s CPU; the writes
/// themselves reach every replica before they are acknowledged, so what a
/// pass finds then is what failed, and that waits a little. A new arc, a
/// new replica, or a replica that restarted or refills starts a pass at
/// once.
const REST_ROUNDS: u32 = 8;

/// The most lookups one round spends finding the owners of strays.
const STRAY_LOOKUPS: usize = 8;

/// The most identifiers one round looks at for expired values and old
/// tombstones.
const COLLECT_SCAN: usize = 4096;

/// Where the repair of one node resumes from round to round.
#[derive(Debug, Default)]
pub(crate) struct RepairState {
    /// For each replica (by address), how far anti-entropy has come.
    passes: HashMap<Arc<str>, Pass>,
    /// Where the next scan for expired values and old tombstones starts.
    next_collect: Option<Id>,
    /// Since when (on the node's clock) a grown arc has waited with fewer
    /// than R - 1 nodes to copy it from.
    short_since: Option<std::time::Duration>,
}

/// Anti-entropy with one replica: passes over this node's arc, a slice a
/// round. A pass that finds every bucket equal, while neither store
/// changed, leaves the two quiet: later rounds only ask the replica
/// whether its store changed (a digest of no buckets), and compare no
/// more until one of the two stores, or the arc, does. Two copies that
/// agreed and have not changed still agree, so this skips no repair; it
/// is what keeps a ring at rest from digesting every arc every few
/// rounds.
#[derive(Debug, Clone)]
struct Pass {
    /// Where the next slice starts.
    next: Point,
    /// What the pass under way has seen, while every slice of it found
    /// the copies equal under the same marks.
    clean: Option<Marks>,
    /// Marks under which a whole pass found the copies equal.
    quiet: Option<Marks>,
    /// After a whole pass: the marks it ended under, and the rounds left
    /// before the next pass may start while the stores keep changing.
    rest: Option<(Marks, u32)>,
}

/// The state of both copies of an arc, as anti-entropy saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Marks {
    /// The arc starts after this identifier.
    from: Id,
    /// This node's count of store changes.
    ours: u64,
    /// The replica's incarnation and count of store changes.
    theirs: (u64, u64),
}

/// What one slice of anti-entropy found.
struct Slice {
    /// Where the part done ends.
    end: Point,
    /// Whether any bucket differed, or the replica was refilling.
    differed: bool,
    /// The replica's incarnation and count of store changes.
    theirs: (u64, u64),
}

/// What this node needs to know, read at one instant, to repair its arc.
struct ArcView {
    /// The arc this node owns starts after this identifier.
    from: Id,
    /// Its next R - 1 successors: the replicas of its arc.
    replicas: Vec<NodeRef>,
}

impl Dhash {
    /// One round of replica repair; see the module docs for the four steps.
    /// Called periodically, after `stabilize`.
    pub fn repair(&self) {
        self.ring.begin_refill();
        self.pull_grown_arc();
        self.anti_entropy();
        self.pass_strays_on();
        self.collect();
    }

    /// The arc this node owns and the replicas of it, if it is settled
    /// enough to repair: a member, not taking keys over, not leaving, with
    /// a predecessor (known or failed) other than itself.
    fn arc_view(&self) -> Option<ArcView> {
        let (from, successors) = self.ring.repair_view()?;
        let replicas = self.replicas_in(&successors);
        Some(ArcView { from, replicas })
    }

    /// The first R - 1 nodes of a successor list other than this one.
    fn replicas_in(&self, successors: &[NodeRef]) -> Vec<NodeRef> {
        successors
            .iter()
            .filter(|s| s.addr != self.me().addr)
            .take(self.config().replicas - 1)
            .cloned()
            .collect()
    }

    /// Step 1: copies the arc this node took over from a failed predecessor
    /// from its replicas, then serves it. It needs R - 1 replicas to answer
    /// in full, or, after two periods with fewer, one; with none left, the
    /// node's own copy is all there is.
    fn pull_grown_arc(&self) {
        let Some((grown, successors)) = self.ring.unsynced_arc() else {
            return;
        };
        let (from, to) = grown;
        // Copy from every successor in the list, not only the next R - 1:
        // while nodes join, restart and die, the copies can sit on the
        // holders of a moment ago, further down. A successor refilling
        // after its own restart holds nothing to give and does not count.
        // This runs only when an arc grows or comes back, so the extra
        // copies are rare.
        let (mut sources, mut refilling, mut received) = (0, 0, 0);
        for node in successors.iter().filter(|s| s.addr != self.me().addr) {
            match self.copy_arc(node, from, to) {
                Ok(count) => {
                    sources += 1;
                    received += count;
                }
                Err(CopyError::SourceRefilling) => refilling += 1,
                Err(CopyError::Stopped) => {}
            }
        }
        // With some that did not answer, try again next round. With no
        // other node, or only nodes refilling themselves, our copy may be
        // all there is; but a successor list that ran out may only have
        // been stale: nodes that joined after its last refresh are alive
        // and hold the arc, and one that has us as successor notifies us
        // within a round or two. So our own copy is taken as all only
        // after two periods of that.
        let others = successors
            .iter()
            .filter(|s| s.addr != self.me().addr)
            .count();
        // Fewer than R - 1 sources is a short list's answer too: the list
        // of a node that joined beside one restarted empty can name fewer
        // nodes than hold the arc (random hunt, seed 4242005216).
        let short = sources < self.config().replicas - 1;
        if (sources == 0 && refilling < others) || (short && !self.short_long_enough()) {
            return;
        }
        self.repair_state().lock().short_since = None;
        self.ring.arc_synced(grown);
        info!(
            "{}: serving ({from}, {to}] after copying {received} entries from {sources} nodes",
            self.me().addr
        );
    }

    /// Whether a grown arc has found fewer than R - 1 nodes to copy it
    /// from for two stabilization periods; the clock starts at the first
    /// call.
    fn short_long_enough(&self) -> bool {
        let now = self.config().clock.elapsed();
        let since = *self.repair_state().lock().short_since.get_or_insert(now);
        now.saturating_sub(since) >= 2 * self.config().stabilize_interval
    }

    /// Step 2: compares one slice of this node's arc with each replica and
    /// exchanges the buckets that differ.
    fn anti_entropy(&self) {
        let Some(view) = self.arc_view() else {
            return;
        };
        for replica in &view.replicas {
            let pass = self
                .repair_state()
                .lock()
                .passes
                .get(&replica.addr)
                .cloned();
            let pass = self.pass_with(replica, view.from, pass);
            self.repair_state()
                .lock()
                .passes
                .insert(replica.addr.clone(), pass);
        }
        let mut state = self.repair_state().lock();
        state
            .passes
            .retain(|addr, _| view.replicas.iter().any(|r| r.addr == *addr));
    }

    /// One round of anti-entropy with `replica` over our arc after `from`,
    /// which `pass` left off; where it leaves off now.
    fn pass_with(&self, replica: &NodeRef, from: Id, pass: Option<Pass>) -> Pass {
        let me = self.me().id;
        let whole = Point::after(from);
        // A point inside the arc: the start of a slice left off there.
        let inside = |p: &Point| p.id.in_open(from, me) || (p.id == me && p.key.is_some());
        let ours = self.store().changes();
        let waiting = |rest| Pass {
            next: whole.clone(),
            clean: None,
            quiet: None,
            rest,
        };
        // The rest after the last whole pass counts down in every round.
        let rest = pass
            .as_ref()
            .and_then(|p| p.rest)
            .map(|(marks, left)| (marks, left.saturating_sub(1)));
        if let Some(quiet) = pass.as_ref().and_then(|p| p.quiet) {
            if quiet.from == from && quiet.ours == ours {
                // A replica that does not answer the probe would not answer
                // a slice either: one timeout a round, not two.
                let still = self
                    .probe(replica, from)
                    .map(|p| p == (false, quiet.theirs));
                return Pass {
                    quiet: still.and_then(|same| same.then_some(quiet)),
                    ..waiting(rest)
                };
            }
        }
        if let Some((marks, left)) = pass.as_ref().and_then(|p| p.rest) {
            if marks.from == from && left > 0 {
                // Only a replica that restarted (or refills) ends the rest
                // early; one that does not answer waits with the rest.
                let (syncing, (incarnation, _)) =
                    self.probe(replica, from).unwrap_or((false, marks.theirs));
                if !syncing && incarnation == marks.theirs.0 {
                    return waiting(rest);
                }
            }
        }
        let (start, clean) = match pass {
            Some(p) if inside(&p.next) => (p.next, p.clean),
            _ => (whole.clone(), None),
        };
        let Some(slice) = self.sync_slice(replica, start.clone()) else {
            return waiting(None);
        };
        let marks = Marks {
            from,
            ours,
            theirs: slice.theirs,
        };
        // A pass stays clean while every slice finds the copies equal
        // under the marks its first slice saw.
        let clean = if slice.differed {
            None
        } else if start == whole {
            Some(marks)
        } else {
            clean.filter(|c| *c == marks)
        };
        if inside(&slice.end) {
            Pass {
                next: slice.end,
                clean,
                quiet: None,
                rest: None,
            }
        } else {
            Pass {
                quiet: clean,
                ..waiting(Some((marks, REST_ROUNDS)))
            }
        }
    }

    /// What `replica` says of its store in a digest of no buckets (`None`:
    /// it did not answer): whether it is refilling its arc, and its
    /// incarnation and count of store changes. The answer also carries
    /// both flush watermarks.
    fn probe(&self, replica: &NodeRef, from: Id) -> Option<(bool, (u64, u64))> {
        let flushed = self.store().flushed();
        let answer = self
            .ring
            .peer(replica)
            .digest(Point::after(from), Vec::new(), flushed)
            .ok()?;
        self.flush(answer.flushed);
        Some((answer.syncing, answer.store))
    }

    /// Digests the slice of our arc after `start`, asks `replica` which
    /// buckets differ, and reconciles those, at most about a megabyte of
    /// them. What it found (`None` when the replica did not answer).
    fn sync_slice(&self, replica: &NodeRef, start: Point) -> Option<Slice> {
        let buckets = self.digest_slice(&start);
        let peer = self.ring.peer(replica);
        let flushed = self.store().flushed();
        // A replica copying its own arc back is compared all the same:
        // what it lacks here is sent to it.
        let answer = match peer.digest(start.clone(), buckets.clone(), flushed) {
            Ok(answer) => answer,
            Err(e) => {
                debug!("{}: anti-entropy with {replica:?}: {e}", self.me().addr);
                return None;
            }
        };
        self.flush(answer.flushed);
        Stats::add(&self.stats().buckets_compared, buckets.len() as u64);
        let found = |end: Point| Slice {
            end,
            differed: answer.syncing || !answer.buckets.is_empty(),
            theirs: answer.store,
        };
        let mut sent = 0;
        for &index in &answer.buckets {
            let Some(bucket) = buckets.get(index as usize) else {
                break;
            };
            let from = match index {
                0 => start.clone(),
                i => buckets[i as usize - 1].end.clone(),
            };
            if sent >= 4 * CHUNK_BYTES {
                // Enough for one round: the next starts at this bucket.
                return Some(found(from));
            }
            Stats::add(&self.stats().buckets_reconciled, 1);
            let (items, _) = self
                .store()
                .chunk_between(&from, &bucket.end, 4 * CHUNK_BYTES);
            sent += items.iter().map(Item::size).sum::<usize>();
            match peer.reconcile(from.clone(), bucket.end.clone(), items) {
                Ok(items) => {
                    let merged = self.merge(items);
                    Stats::add(&self.stats().keys_repaired, merged.changed as u64);
                }
                Err(_) => return Some(found(from)),
            }
        }
        buckets.last().map(|b| found(b.end.clone()))
    }

    /// For a node restarted with its data directory, which holds most of
    /// its arc `(from, n]` already: compares its copy with `source`'s slice
    /// by slice, by digests, and copies only the runs of buckets that
    /// differ, where a node with nothing copies the arc whole. A node down
    /// a moment ago thus copies about the writes it missed; one that missed
    /// writes all over its arc copies about all of it, as the whole copy
    /// would, plus the digests. How many entries came.
    ///
    /// # Errors
    /// As [`Dhash::copy_range`]: the ranges are copied with it.
    pub(super) fn pull_differences(&self, source: &NodeRef, from: Id) -> Result<u64, CopyError> {
        let end = Point::after(self.me().id);
        let peer = self.ring.peer(source);
        let (mut start, mut received) = (Point::after(from), 0);
        loop {
            let buckets = self.digest_slice(&start);
            let flushed = self.store().flushed();
            let answer = match peer.digest(start.clone(), buckets.clone(), flushed) {
                Ok(answer) if answer.syncing => return Err(CopyError::SourceRefilling),
                Ok(answer) => answer,
                Err(e) => {
                    debug!("{}: comparing with {source:?}: {e}", self.me().addr);
                    return Err(CopyError::Stopped);
                }
            };
            self.flush(answer.flushed);
            for (first, last) in runs(answer.buckets, buckets.len()) {
                let range_from = match first {
                    0 => &start,
                    i => &buckets[i - 1].end,
                };
                // Through all of the run's last identifier: a little more
                // than the run, where it ends among that identifier's keys.
                received += self.copy_range(source, range_from, buckets[last].end.id)?;
            }
            match buckets.last() {
                Some(bucket) if bucket.end != end => start = bucket.end.clone(),
                _ => return Ok(received),
            }
        }
    }

    /// The digests of up to [`MAX_BUCKETS`] buckets of our arc after
    /// `start`, computed [`BUCKETS_PER_HOLD`] buckets per hold of the store
    /// lock.
    fn digest_slice(&self, start: &Point) -> Vec<Bucket> {
        let horizon = self.horizon();
        let end = Point::after(self.me().id);
        let mut buckets: Vec<Bucket> = Vec::with_capacity(MAX_BUCKETS);
        while buckets.len() < MAX_BUCKETS {
            let from = buckets.last().map_or(start, |b| &b.end);
            let wanted = BUCKETS_PER_HOLD.min(MAX_BUCKETS - buckets.len());
            let more = self
                .store()
                .digests(from, &end, BUCKET_ENTRIES, wanted, horizon);
            buckets.extend(more);
            if buckets.last().is_none_or(|b| b.end == end) {
                break;
            }
        }
        buckets
    }

    /// The answer to [`crate::message::Request::Digest`]: which of the sender's buckets
    /// differ from ours. The store lock is taken bucket by bucket, and a
    /// bucket is looked at for at most [`BUCKET_SCAN`] entries.
    pub(crate) fn compare_digests(
        &self,
        from: &Point,
        buckets: &[Bucket],
        flushed: u64,
    ) -> Response {
        // Read first: a node that finishes copying its arc while this
        // runs computed some digests over part of it.
        let syncing = self.ring.refilling();
        // Flushed first, so that the digests compare what both keep.
        self.flush(flushed);
        // Before the digests: a change while they are computed shows as a
        // different count next time.
        let store = (self.ring.incarnation, self.store().changes());
        let horizon = self.horizon();
        let mut start = from;
        let mut differ = Vec::new();
        for (i, bucket) in buckets.iter().enumerate() {
            let ours = self
                .store()
                .digest(start, &bucket.end, horizon, BUCKET_SCAN);
            if ours != Some(bucket.digest) {
                differ.push(i as u32);
            }
            start = &bucket.end;
        }
        Response::Differ {
            buckets: differ,
            flushed: self.store().flushed(),
            syncing,
            store,
        }
    }

    /// The answer to [`crate::message::Request::Reconcile`]: merge the sender's copy of the
    /// arc and send back what it lacks.
    pub(crate) fn reconcile(&self, from: &Point, to: &Point, items: Vec<Item>) -> Response {
        let horizon = self.horizon();
        let space = self.config().space;
        let theirs: HashMap<(Id, Key), Version> = items
            .iter()
            .map(|item| {
                let id = space.key(&item.key);
                ((id, item.key.clone()), item.entry.version)
            })
            .collect();
        let merged = self.merge(items);
        Stats::add(&self.stats().keys_repaired, merged.changed as u64);
        let back = self
            .store()
            .newer_than(from, to, &theirs, 4 * CHUNK_BYTES, horizon);
        Response::Keys {
            items: back,
            more: None,
        }
    }

    /// Step 3: passes on keys this node holds but should not, run by run:
    /// the keys in `(n, predecessor]` are not ours as owner, and each run
    /// of them up to its owner is ours to keep only if we are among the
    /// first R nodes from that owner. At most [`STRAY_LOOKUPS`] lookups and
    /// one chunk of keys per round.
    fn pass_strays_on(&self) {
        let Some(view) = self.arc_view() else {
            return;
        };
        let me = self.me().id;
        let end = view.from;
        let mut at = me;
        for _ in 0..STRAY_LOOKUPS {
            let Some(first) = self.store().first_id_in(at, end) else {
                return;
            };
            let Ok(lookup) = self.find_successor(first) else {
                return;
            };
            let owner = lookup.owner().clone();
            if owner.addr == self.me().addr {
                return; // Our view and the ring's disagree; next round.
            }
            // Every identifier from `first` up to the owner is the owner's.
            let run_end = if owner.id.in_open_closed(at, end) {
                owner.id
            } else {
                end
            };
            let holders: Vec<NodeRef> = lookup
                .holders(self.config().replicas)
                .into_iter()
                .cloned()
                .collect();
            if holders.iter().all(|h| h.addr != self.me().addr) {
                self.hand_over(at, run_end, &holders);
                return;
            }
            if run_end == end {
                return;
            }
            at = run_end;
        }
    }

    /// Gives one chunk of the keys in `(from, to]` to every holder, then
    /// drops the copies here that every holder took and that did not
    /// change meanwhile.
    fn hand_over(&self, from: Id, to: Id, holders: &[NodeRef]) {
        let (items, _) = self.store().chunk(from, to, None, CHUNK_BYTES);
        let versions: Vec<(Key, Version)> = items
            .iter()
            .map(|i| (i.key.clone(), i.entry.version))
            .collect();
        for holder in holders {
            if !self.give(holder, items.clone()) {
                return;
            }
        }
        let space = self.config().space;
        let mut store = self.store_mut();
        for (key, version) in &versions {
            store.remove_if_not_newer(space.key(key), key, *version);
        }
        drop(store);
        Stats::add(&self.stats().keys_handed_off, versions.len() as u64);
        info!(
            "{}: passed {} keys of ({from}, {to}] on to their {} holders",
            self.me().addr,
            versions.len(),
            holders.len()
        );
    }

    /// Step 4: empties expired values into tombstones and removes
    /// tombstones older than the hold, a bounded scan per round.
    fn collect(&self) {
        let (now, horizon) = (self.config().clock.now_micros(), self.horizon());
        let after = self.repair_state().lock().next_collect;
        let (changed, next) = self.store_mut().collect(after, COLLECT_SCAN, now, horizon);
        self.repair_state().lock().next_collect = next;
        if changed > 0 {
            debug!("{}: emptied or removed {changed} entries", self.me().addr);
        }
    }
}

/// The runs of consecutive bucket indices among `differ` (a peer's
/// answer: out-of-range ones are dropped), as `(first, last)`.
fn runs(mut differ: Vec<u32>, buckets: usize) -> Vec<(usize, usize)> {
    differ.sort_unstable();
    differ.dedup();
    let mut runs: Vec<(usize, usize)> = Vec::new();
    for index in differ
        .into_iter()
        .map(|i| i as usize)
        .filter(|&i| i < buckets)
    {
        match runs.last_mut() {
            Some((_, last)) if *last + 1 == index => *last = index,
            _ => runs.push((index, index)),
        }
    }
    runs
}

#[cfg(test)]
mod tests {
    use super::runs;

    #[test]
    fn differing_buckets_are_copied_in_runs_and_a_peers_nonsense_is_dropped() {
        assert_eq!(
            runs(vec![5, 1, 2, 3, 9, 9, 70], 10),
            vec![(1, 3), (5, 5), (9, 9)]
        );
        assert!(runs(Vec::new(), 10).is_empty());
    }
}
