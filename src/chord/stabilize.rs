//! Joining and keeping the ring correct: the paper's Figure 6, `create`,
//! `join`, `stabilize`, `notify`, `fix_fingers` and `check_predecessor`,
//! with the successor lists of "Failure and Replication" and Zave's
//! corrections (see [`crate::chord`] for each departure and why).

use log::{debug, error, info, warn};

use super::ring::{call_error, Adoption, Links, Lookup, Ring, Stabilized};
use super::{CopyError, Keys};
use crate::error::{Error, Result};
use crate::id::{Id, NodeRef};
use crate::message::{Request, Response};
use crate::peer::{CallError, Neighbours, Notice, Step};
use crate::stats::Stats;
use crate::transport::TransportError;

/// How many closer successors one `stabilize` may step to, beyond r.
const MAX_STABILIZE_STEPS: usize = 8;

impl Ring {
    /// Creates a new ring with this node alone in it.
    ///
    /// ```text
    /// n.create()
    ///   predecessor = nil;
    ///   successor = n;
    /// ```
    pub fn create(&self) {
        {
            let mut links = self.links.write();
            links.predecessor = None;
            links.successors = vec![self.me.clone()];
            links.member = true;
        }
        info!("{}: created a new ring", self.me.addr);
    }

    /// Joins the ring that the node at `known` belongs to.
    ///
    /// ```text
    /// n.join(n')
    ///   predecessor = nil;
    ///   successor = n'.find_successor(n);
    /// ```
    ///
    /// As Zave requires, the successor list is then copied from the
    /// successor itself, which also proves the successor is alive. The
    /// keys this node now owns arrive on its first `stabilize`, when the
    /// successor adopts it as predecessor. A node restarted before the ring
    /// noticed (the lookup ended at its previous incarnation, or its
    /// successor still has that as predecessor) gets no hand-over: it
    /// serves nothing until its first predecessor names the arc to copy
    /// back from the replicas (see `Handover::restarted`).
    ///
    /// # Errors
    /// [`Error::IdTaken`] if another node has our identifier,
    /// [`Error::SpaceMismatch`] if the ring uses another m, and transport or
    /// lookup errors if the ring cannot be reached.
    pub fn join(&self, known: &str) -> Result<()> {
        // successor = n'.find_successor(n);
        let lookup = self.find_successor_through(known)?;
        // Zave: the successor list is copied from a live successor.
        let restarting = self.in_our_old_place(&lookup);
        let (successor, its) = self.first_live_successor_of(&lookup, restarting, known)?;
        self.refuse_a_twin(its.predecessor.as_ref())?;
        // predecessor = nil;
        let restarted = restarting || its.predecessor.as_ref() == Some(&self.me);
        {
            let mut links = self.links.write();
            links.predecessor = None;
            links.successors = self.successor_list(&successor, &its.successors);
            links.fingers.set(1, successor.clone());
            links.handover.restarted = restarted.then(|| self.config.clock.elapsed());
        }
        if restarted {
            info!(
                "{}: restarted in the place of our previous incarnation; \
                 serving no key until it has been copied back from the replicas",
                self.me.addr
            );
        }
        info!(
            "{}: joined the ring through {known}; successor is {successor:?}",
            self.me.addr
        );
        Ok(())
    }

    /// `n'.find_successor(n)`, with `n'` the node at `known`, which is not
    /// yet a peer of ours: its first answer comes straight from the
    /// transport, and is checked here as [`Ring::call`] checks every other,
    /// and against our m.
    fn find_successor_through(&self, known: &str) -> Result<Lookup> {
        let first = self
            .transport
            .call(known, Request::FindSuccessor { id: self.me.id })?;
        let protocol = |detail: String| TransportError::Protocol {
            addr: known.to_string(),
            detail,
        };
        if first == Response::NotOwner {
            // It is joining (or restarting) itself: a moment later it can
            // answer, so this is worth waiting for.
            return Err(Error::Unavailable(format!(
                "{known} is not part of a ring yet (it is joining); asking again"
            )));
        }
        let (Response::Closer { candidates: nodes } | Response::Found { successors: nodes }) =
            &first
        else {
            return Err(protocol(format!("it answered a lookup with {first:?}")).into());
        };
        if let Some(other) = nodes.iter().find(|c| c.id.bits() != self.me.id.bits()) {
            return Err(Error::SpaceMismatch {
                ours: self.me.id.bits(),
                theirs: other.id.bits(),
                peer: known.to_string(),
            });
        }
        first
            .check(&self.checker())
            .map_err(|e| protocol(format!("its answer was refused: {e}")))?;
        let first = match first {
            Response::Found { successors } => Step::Found(successors),
            Response::Closer { candidates } => Step::Closer(candidates),
            _ => unreachable!("matched above"),
        };
        self.walk(self.me.id, first)
    }

    /// Whether the lookup of our identifier ended at our own address, and
    /// that address reaches this very process: then the node there was our
    /// previous incarnation, crashed and not yet noticed, and we take its
    /// place. If it reaches someone else, that is a live node we must not
    /// displace.
    fn in_our_old_place(&self, lookup: &Lookup) -> bool {
        lookup.owner().addr == self.me.addr && self.address_reaches_me()
    }

    /// The first node of the lookup's successor list that answers, with
    /// its predecessor and successor list: the list may still name nodes
    /// that left or died a moment ago. Our previous incarnation is skipped
    /// when `restarting`; any other node with our identifier is a twin.
    fn first_live_successor_of(
        &self,
        lookup: &Lookup,
        restarting: bool,
        known: &str,
    ) -> Result<(NodeRef, Neighbours)> {
        let mut last_error = None;
        for candidate in &lookup.successors {
            if restarting && candidate.addr == self.me.addr {
                continue;
            }
            if candidate.id == self.me.id {
                return Err(Error::IdTaken {
                    id: self.me.id,
                    holder: candidate.addr.to_string(),
                });
            }
            match self.peer(candidate).neighbours() {
                Ok(its) => return Ok((candidate.clone(), its)),
                Err(e) => last_error = Some(call_error(candidate, e)),
            }
        }
        Err(last_error.unwrap_or_else(|| {
            Error::Unavailable(format!(
                "the ring at {known} knows no node but this one's previous incarnation"
            ))
        }))
    }

    /// Refuses to join when our successor-to-be already has a predecessor
    /// with our identifier at another address: a twin that joined a
    /// moment ago, which the lookup can miss while it is not linked in.
    fn refuse_a_twin(&self, its_predecessor: Option<&NodeRef>) -> Result<()> {
        match its_predecessor.filter(|p| p.id == self.me.id && p.addr != self.me.addr) {
            Some(twin) => Err(Error::IdTaken {
                id: self.me.id,
                holder: twin.addr.to_string(),
            }),
            None => Ok(()),
        }
    }

    /// Whether a call to our advertised address reaches this very process.
    /// It goes through the transport, not [`Ring::call`], which would
    /// answer locally without asking the network.
    fn address_reaches_me(&self) -> bool {
        matches!(
            self.transport.call(&self.me.addr, Request::Info),
            Ok(Response::Info { incarnation, .. }) if incarnation == self.incarnation
        )
    }

    /// Runs `stabilize` until this node's successor has adopted it as
    /// predecessor: the node is then a member of the ring and holds its
    /// keys. Not in the paper, whose `join` returns at once and leaves the
    /// rest to the periodic `stabilize`; a server calls this right after
    /// [`Ring::join`] so that a node which cannot become a member says so
    /// at start-up instead of running outside the ring.
    ///
    /// # Errors
    /// [`Error::IdTaken`] when another node with our identifier joined at
    /// the same moment and holds our place; [`Error::Unavailable`] when the
    /// successor did not adopt us in a bounded number of attempts.
    pub fn link_in(&self, keys: &dyn Keys) -> Result<()> {
        let attempts = 2 * self.config.successors + MAX_STABILIZE_STEPS;
        for _ in 0..attempts {
            match self.stabilize(keys) {
                Stabilized::Linked => return Ok(()),
                Stabilized::Twin(twin) => {
                    return Err(Error::IdTaken {
                        id: self.me.id,
                        holder: twin.addr.to_string(),
                    })
                }
                Stabilized::Pending => {}
            }
        }
        Err(Error::Unavailable(format!(
            "joined, but successor {:?} did not take this node as its predecessor in {attempts} attempts",
            self.successor()
        )))
    }

    /// Verifies this node's successor and tells the successor about it;
    /// keeps the successor list ("Failure and Replication"). Called
    /// periodically.
    ///
    /// ```text
    /// // called periodically. verifies n's immediate
    /// // successor, and tells the successor about n.
    /// n.stabilize()
    ///   x = successor.predecessor;
    ///   if (x ∈ (n, successor))
    ///     successor = x;
    ///   successor.notify(n);
    /// ```
    ///
    /// With the successor list and Zave's corrections: a successor that
    /// does not answer is dropped and the next one in the list is tried at
    /// once; `x` is adopted only after it answers; the list becomes the
    /// successor followed by its own list, less the last entry. And the
    /// first step repeats, within one call, while `x` is a closer live
    /// node, so a chain of k nodes that joined at once settles in a few
    /// rounds rather than k.
    pub fn stabilize(&self, keys: &dyn Keys) -> Stabilized {
        let Some((mut successor, mut neighbours)) = self.first_live_successor() else {
            return Stabilized::Pending;
        };
        // The paper adopts x = successor.predecessor once per round. After
        // many concurrent joins the nodes that should sit between us and
        // our successor form a chain, and one step per round would take a
        // round per chain link; so repeat the step while it finds a closer
        // live node (bounded: each step is one call).
        for _ in 0..self.config.successors + MAX_STABILIZE_STEPS {
            let x = neighbours.predecessor.clone();
            if let Some(twin) = x
                .as_ref()
                .filter(|x| x.id == self.me.id && x.addr != self.me.addr)
            {
                // Two nodes joined at once with one identifier: the successor
                // took the other, and this node is outside the ring. Say so
                // loudly; it cannot be fixed from here.
                error!(
                    "{}: {twin:?} has our identifier and holds our place in the ring; \
                     this node is not part of it. Restart it with another --advertise address",
                    self.me.addr
                );
                return Stabilized::Twin(twin.clone());
            }
            let Some(x) = x.filter(|x| x.id.in_open(self.me.id, successor.id)) else {
                break;
            };
            // Zave: adopt x only once it has answered.
            match self.peer(&x).neighbours() {
                Ok(its) => {
                    successor = x;
                    neighbours = its;
                }
                Err(e) => {
                    debug!("{}: not adopting {x:?} as successor: {e}", self.me.addr);
                    break;
                }
            }
        }
        self.set_successors(&successor, &neighbours.successors);
        let linked = self.notify_successor(keys, &successor, neighbours.predecessor.as_ref());
        // Whether the successor's arc, from a node before us, takes us in.
        let covered = successor.addr != self.me.addr
            && neighbours
                .predecessor
                .as_ref()
                .is_some_and(|x| self.me.id.in_open(x.id, successor.id));
        let mut links = self.links.write();
        // We serve (`Ring::serves`) while our successor's arc starts at us
        // or after us: linked, or past a node between that did not answer
        // (a frozen successor not yet found failed).
        let known = successor.addr != self.me.addr && neighbours.predecessor.is_some();
        links.linked = linked || (known && !covered);
        if linked {
            links.member = true;
            Stabilized::Linked
        } else {
            Stabilized::Pending
        }
    }

    /// The first entry of the successor list that answers, with its
    /// predecessor and successor list. Dead entries are dropped on the way,
    /// and the node falls back on itself when every entry is dead.
    fn first_live_successor(&self) -> Option<(NodeRef, Neighbours)> {
        loop {
            let successor = self.successor();
            match self.peer(&successor).neighbours() {
                Ok(neighbours) => return Some((successor, neighbours)),
                Err(e) if !Ring::call_failed(&e) => {
                    debug!("{}: successor busy, slow or confused: {e}", self.me.addr);
                    return None;
                }
                Err(e) => self.successor_failed(&successor, &e),
            }
        }
    }

    /// Drops a dead successor from the list; the next entry takes its place.
    fn successor_failed(&self, dead: &NodeRef, e: &CallError) {
        self.note_lost(dead);
        let next = {
            let mut links = self.links.write();
            links.successors.retain(|s| s.addr != dead.addr);
            if links.successors.is_empty() {
                links.successors.push(self.me.clone());
            }
            links.fingers.forget(&dead.addr);
            let next = links.successors[0].clone();
            links.fingers.set(1, next.clone());
            next
        };
        self.transport.forget(&dead.addr);
        info!(
            "{}: successor {dead:?} failed ({e}); successor is now {next:?}",
            self.me.addr
        );
    }

    /// `successor` followed by its list `rest`: cut where the list comes
    /// back around to this node (a ring smaller than r + 1), without
    /// repeats, at most r long.
    fn successor_list(&self, successor: &NodeRef, rest: &[NodeRef]) -> Vec<NodeRef> {
        let mut list = vec![successor.clone()];
        for node in rest {
            if node.addr == self.me.addr || list.len() == self.config.successors {
                break;
            }
            if !list.iter().any(|n| n.addr == node.addr) {
                list.push(node.clone());
            }
        }
        list
    }

    /// Installs a new successor list headed by `successor`. A list shorter
    /// than r says the ring is that small as the successor sees it; our
    /// predecessor then follows its last entry (it may have joined since
    /// the successor last looked), so it is appended: replicas and a
    /// leaving node's heirs are chosen from this list, and a ring of three
    /// must not look like a ring of two.
    pub(crate) fn set_successors(&self, successor: &NodeRef, rest: &[NodeRef]) {
        let mut list = self.successor_list(successor, rest);
        let old = {
            let mut links = self.links.write();
            if list.len() < self.config.successors && successor.addr != self.me.addr {
                if let Some(p) = links
                    .predecessor
                    .as_ref()
                    .filter(|p| p.addr != self.me.addr && list.iter().all(|n| n.addr != p.addr))
                {
                    list.push(p.clone());
                }
            }
            links.fingers.set(1, successor.clone());
            std::mem::replace(&mut links.successors, list)
        };
        if old[0] != *successor {
            info!(
                "{}: successor changed from {:?} to {successor:?}",
                self.me.addr, old[0]
            );
        }
    }

    /// `successor.notify(n)`, then the key handover it may start: when the
    /// successor adopts this node as its predecessor, this node now owns
    /// the arc between the old predecessor and itself, and pulls those keys
    /// before serving any key. `its_predecessor` is the successor's
    /// predecessor as it told us a moment ago.
    fn notify_successor(
        &self,
        keys: &dyn Keys,
        successor: &NodeRef,
        its_predecessor: Option<&NodeRef>,
    ) -> bool {
        if successor.addr == self.me.addr {
            // Alone: a member that outlived its successors goes on as a ring
            // of one; a node that never got in stays out.
            self.notify(&self.me);
            return self.links.read().member;
        }
        // Other nodes may route keys to us as soon as the successor adopts
        // us, so from before the notify until the pull is done we refuse
        // keys. The flag stays up while a pull is due (an interrupted pull
        // is retried on the next round).
        let becoming = its_predecessor.is_none_or(|p| p.addr != self.me.addr);
        let (pull_due, restarted) = {
            let mut links = self.links.write();
            let restarted = self.took_old_place(&links, becoming);
            if restarted {
                links.handover.restarted = Some(self.config.clock.elapsed());
            }
            links.handover.receiving |= becoming;
            (links.handover.receiving, restarted)
        };
        if restarted {
            info!(
                "{}: our successor {successor:?} has our previous incarnation as its \
                 predecessor; serving no key until it has been copied back from the replicas",
                self.me.addr
            );
        }
        let notified = self.peer(successor).notify(&self.me);
        if !pull_due {
            if let Err(e) = notified {
                debug!("{}: {successor:?} did not take a notice: {e}", self.me.addr);
            }
            return true;
        }
        match notified {
            Ok(Notice { adopted: false, .. }) if becoming => {
                // Another node sits between us; nothing is ours to pull.
                self.links.write().handover.receiving = false;
                false
            }
            Ok(notice) => {
                if let Some(named) = notice.replaced {
                    self.take_named_predecessor(named);
                }
                self.pull_keys(keys, successor, notice.whole);
                true
            }
            Err(e) => {
                debug!("{}: notify {successor:?} failed: {e}", self.me.addr);
                false
            }
        }
    }

    /// Whether this node, not yet a member and pulling nothing, finds its
    /// successor already naming this address as predecessor: that is our
    /// previous incarnation, crashed and not yet noticed, found only now
    /// because the lookup in `join` ended at a node before it. No hand-over
    /// will come, as for the restart `join` detects.
    fn took_old_place(&self, links: &Links, becoming: bool) -> bool {
        !becoming
            && !links.member
            && !links.handover.receiving
            && links.handover.restarted.is_none()
            && !links.handover.refilling
    }

    /// Copies the keys this node took over from `successor`, the arc
    /// `(successor, n]`, and then serves keys again. The successor keeps
    /// its copies: it is now a replica of them, and whichever node no
    /// longer should hold them passes them on ([`crate::dhash`]). On
    /// failure the pull stays due and the next `stabilize` retries it.
    ///
    /// A successor restarted empty has nothing to hand over: then this
    /// node, if it holds nothing either (a newcomer), refills its arc from
    /// the replicas once its predecessor names the arc (as a restarted
    /// node does; see `Handover::restarted`). So does a newcomer whose
    /// successor did not own the `whole` arc it takes (its predecessor had
    /// failed), after taking what the successor has.
    fn pull_keys(&self, keys: &dyn Keys, successor: &NodeRef, whole: bool) {
        let received = match keys.copy_arc(successor, successor.id, self.me.id) {
            Ok(received) => received,
            Err(CopyError::Stopped) => return,
            Err(CopyError::SourceRefilling) if self.links.read().member => {
                // A member already holds its arc: the restarted successor
                // took it as its first predecessor. (Holding some keys is
                // no proof: a newcomer may have been given replicas.)
                self.links.write().handover.receiving = false;
                return;
            }
            Err(CopyError::SourceRefilling) => {
                {
                    let mut links = self.links.write();
                    links.handover.receiving = false;
                    links.handover.restarted = Some(self.config.clock.elapsed());
                }
                info!(
                    "{}: successor {successor:?} restarted empty; \
                     copying our arc from the replicas instead",
                    self.me.addr
                );
                return;
            }
        };
        let refill = {
            let mut links = self.links.write();
            links.handover.receiving = false;
            let refill = !whole && !links.member;
            if refill {
                links.handover.restarted = Some(self.config.clock.elapsed());
            }
            refill
        };
        if refill {
            info!(
                "{}: successor {successor:?} lost its predecessor, part of our arc; \
                 copying our arc from the replicas too",
                self.me.addr
            );
        }
        Stats::add(&self.stats.keys_received, received);
        if received > 0 {
            info!(
                "{}: took over {received} keys from {successor:?}",
                self.me.addr
            );
        }
    }

    /// `candidate` thinks it might be our predecessor.
    ///
    /// ```text
    /// // n' thinks it might be our predecessor.
    /// n.notify(n')
    ///   if (predecessor is nil or n' ∈ (predecessor, n))
    ///     predecessor = n';
    /// ```
    ///
    /// Says whether `candidate` became the predecessor just now (and is
    /// another node), so that it pulls the keys it took over, and which
    /// predecessor it replaced, so that it can take that one as its own. A
    /// candidate with our identifier but another address is refused:
    /// identifiers are unique.
    pub fn notify(&self, candidate: &NodeRef) -> Adoption {
        if candidate.id == self.me.id && candidate.addr != self.me.addr {
            warn!(
                "{}: refusing {candidate:?} as predecessor: it has our identifier",
                self.me.addr
            );
            return Adoption::Refused;
        }
        let mut links = self.links.write();
        // Zave: only members are in the ring. A node that has not joined
        // yet (or a restarted one before its join) sees itself alone and
        // would hand an empty arc, as the "whole" arc, to its new
        // predecessor.
        if !links.member && candidate.addr != self.me.addr {
            return Adoption::Refused;
        }
        // Our predecessor names us its successor (see `confirmed_owner`).
        let now = self.config.clock.elapsed();
        if links.predecessor.as_ref() == Some(candidate) {
            links.notified_by = Some((candidate.clone(), now));
        }
        // While keys are arriving, a newcomer would pull an incomplete arc
        // from us; it tries again next round.
        if links.handover.leaving || links.handover.receiving || links.handover.unsynced.is_some() {
            return Adoption::Refused;
        }
        if !self.precedes_better(&links, candidate) {
            return Adoption::Refused;
        }
        let mut grown = None;
        // With a failed predecessor, part of the candidate's arc was the
        // dead node's.
        let whole = links.failed_predecessor.is_none();
        if candidate.addr != self.me.addr {
            if let Some(failed) = links.failed_predecessor.clone() {
                // Only possible once the predecessor was found failed: the
                // arc grows back past it.
                grown = self.note_growth(&mut links, candidate.id, failed.id);
            }
        }
        let old = links.predecessor.replace(candidate.clone());
        links.notified_by = Some((candidate.clone(), now));
        links.failed_predecessor = None;
        drop(links);
        if let Some((from, to)) = grown {
            info!(
                "{}: took over ({from}, {to}]; pulling it from the replicas before serving it",
                self.me.addr
            );
        }
        if candidate.addr == self.me.addr {
            // A lone node adopting itself: nothing to hand over.
            return Adoption::Refused;
        }
        info!(
            "{}: predecessor is now {candidate:?} (was {})",
            self.me.addr,
            old.as_ref()
                .map_or("none".to_string(), |old| format!("{old:?}"))
        );
        Adoption::Adopted {
            replaced: old,
            whole,
        }
    }

    /// Records that the arc this node owns now starts after `new_from`
    /// instead of after `old_from`: the keys in `(new_from, old_from]` are
    /// refused until pulled from the replicas. Returns the arc now
    /// refused, or `None` when the arc did not grow.
    fn note_growth(&self, links: &mut Links, new_from: Id, old_from: Id) -> Option<(Id, Id)> {
        if new_from == old_from || new_from.in_open(old_from, self.me.id) {
            return None;
        }
        let to = links.handover.unsynced.map_or(old_from, |(_, to)| to);
        links.handover.unsynced = Some((new_from, to));
        links.handover.grown = Some(((new_from, to), self.config.clock.elapsed()));
        links.handover.unsynced
    }

    /// The test of the paper's `notify`, which taking a named predecessor
    /// shares: `predecessor is nil or n' ∈ (predecessor, n)`.
    fn precedes_better(&self, links: &Links, candidate: &NodeRef) -> bool {
        match &links.predecessor {
            None => true,
            Some(p) => candidate.id.in_open(p.id, self.me.id),
        }
    }

    /// Takes `named`, the predecessor our successor just replaced with us,
    /// as our own predecessor: it is the closest node before us that our
    /// successor knew. This is the original join's
    /// `predecessor = successor.predecessor`; without it a new node would
    /// accept the first node that notifies it, which can lie beyond another
    /// newcomer that already holds keys, and it would then answer for that
    /// newcomer's keys.
    fn take_named_predecessor(&self, named: NodeRef) {
        if named.id == self.me.id {
            return;
        }
        let taken = {
            let mut links = self.links.write();
            let better = self.precedes_better(&links, &named);
            if better {
                links.predecessor = Some(named.clone());
                links.failed_predecessor = None;
            }
            better
        };
        if taken {
            info!(
                "{}: predecessor is now {named:?}, as our successor named it",
                self.me.addr
            );
        }
    }

    /// Refreshes one finger. Called periodically.
    ///
    /// ```text
    /// // called periodically. refreshes finger table entries.
    /// // next stores the index of the next finger to fix.
    /// n.fix_fingers()
    ///   next = next + 1;
    ///   if (next > m)
    ///     next = 1;
    ///   finger[next] = find_successor(n + 2^(next-1));
    /// ```
    ///
    /// The following fingers whose starts lie before the node found share
    /// it, so they are set too and skipped ([`crate::finger::FingerTable::set_run`]): a
    /// full sweep costs about log2 N lookups instead of m.
    pub fn fix_fingers(&self) {
        let (next, start) = {
            let mut links = self.links.write();
            let next = links.fingers.advance_next();
            (next, links.fingers.start(next))
        };
        match self.find_successor(start) {
            Ok(lookup) => {
                let mut links = self.links.write();
                let last = links.fingers.set_run(next, lookup.owner());
                links.fingers.skip_to(last);
            }
            Err(e) => debug!("{}: fix_fingers({next}): {e}", self.me.addr),
        }
    }

    /// Clears the predecessor if it has failed. Called periodically.
    ///
    /// ```text
    /// // called periodically. checks whether predecessor has failed.
    /// n.check_predecessor()
    ///   if (predecessor has failed)
    ///     predecessor = nil;
    /// ```
    ///
    /// "Failed" means the ping's connection was refused or reset, or it
    /// timed out several rounds in a row (see `Ring::has_failed`).
    pub fn check_predecessor(&self) {
        let predecessor = self.links.read().predecessor.clone();
        let Some(p) = predecessor.filter(|p| p.addr != self.me.addr) else {
            return;
        };
        let Err(e) = self.peer(&p).ping() else {
            return;
        };
        if !Ring::call_failed(&e) {
            return;
        }
        self.note_lost(&p);
        {
            let mut links = self.links.write();
            if links.predecessor.as_ref() == Some(&p) {
                links.failed_predecessor = links.predecessor.take();
            }
            links.fingers.forget(&p.addr);
        }
        self.transport.forget(&p.addr);
        info!("{}: predecessor {p:?} failed ({e})", self.me.addr);
    }
}

#[cfg(test)]
mod tests {
    use crate::chord::lookup::tests::{id, node};
    use crate::chord::Adoption;
    use crate::id::NodeRef;
    use crate::message::Response;

    #[test]
    fn notify_adopts_as_the_paper_says() {
        let n = node(32, &[], &[38]);
        let space = n.config.space;
        let candidate = |i: u64| NodeRef {
            id: space.id(i),
            addr: format!("n{i}").into(),
        };
        // predecessor is nil: adopt.
        assert_eq!(
            n.notify(&candidate(14)),
            Adoption::Adopted {
                replaced: None,
                whole: true
            }
        );
        // n' in (predecessor, n): adopt, and say whom it replaced.
        let replaced = Some(candidate(14));
        let whole = true;
        assert_eq!(
            n.notify(&candidate(21)),
            Adoption::Adopted { replaced, whole }
        );
        // n' not in (predecessor, n): keep the predecessor.
        assert_eq!(n.notify(&candidate(14)), Adoption::Refused);
        assert_eq!(id(n.view(0).predecessor.as_ref().unwrap()), 21);
        // Our identifier at another address: refused, identifiers are unique.
        let twin = NodeRef {
            id: space.id(32),
            addr: "elsewhere".into(),
        };
        assert_eq!(n.notify(&twin), Adoption::Refused);
        assert_eq!(id(n.view(0).predecessor.as_ref().unwrap()), 21);
    }

    #[test]
    fn a_node_not_yet_in_a_ring_takes_no_part_in_one() {
        // Node 32 listening at its old address before its join: its links
        // are a lone node's. It must not answer as the owner of everything.
        let n = node(32, &[], &[32]);
        n.links.write().member = false;
        let space = n.config.space;
        assert_eq!(n.find_successor_step(space.id(40)), Response::NotOwner);
        assert_eq!(n.neighbours(), Response::NotOwner);
        let newcomer = NodeRef {
            id: space.id(50),
            addr: "n50".into(),
        };
        assert_eq!(n.notify(&newcomer), Adoption::Refused);
        assert!(n.view(0).predecessor.is_none());
        // Once a member, it answers as the paper says.
        n.links.write().member = true;
        assert!(matches!(
            n.find_successor_step(space.id(40)),
            Response::Found { .. }
        ));
        assert!(matches!(n.notify(&newcomer), Adoption::Adopted { .. }));
    }
}
