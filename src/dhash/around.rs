//! Around an owner that does not answer: which nodes may hold its keys,
//! the newest copy among them for a read, and where a write goes instead
//! ([`super::kv`] tries the owner first; this is its fallback).

use std::sync::Arc;

use super::kv::{Attempt, Failure};
use super::Dhash;
use crate::chord::Lookup;
use crate::id::NodeRef;
use crate::peer::CallError;
use crate::stats::Stats;
use crate::store::{Content, Entry, Item, Version};

impl Dhash {
    /// The nodes after the owner that may hold its keys, nearest first.
    /// An owner that answered `Syncing` is alive, and its own successor
    /// list is fresher than the one the lookup ended on, so it comes first.
    /// An owner that did not answer cannot say: its successors are then
    /// checked against their predecessors ([`Dhash::successors_of`]).
    pub(super) fn other_holders(&self, lookup: &Lookup, why: &CallError) -> Vec<NodeRef> {
        let owner = lookup.owner();
        let listed = lookup.successors.iter().skip(1).cloned();
        let mut holders: Vec<NodeRef> = match why {
            CallError::Syncing => {
                let mut own = self
                    .ring
                    .peer(owner)
                    .neighbours()
                    .map(|n| n.successors)
                    .unwrap_or_default();
                own.extend(listed);
                own
            }
            _ => self.successors_of(owner, listed.collect()),
        };
        let mut seen = vec![owner.addr.clone()];
        holders.retain(|h| {
            let fresh = !seen.contains(&h.addr);
            seen.push(h.addr.clone());
            fresh
        });
        holders
    }

    /// The nodes that follow `owner` on the ring, nearest first, as their
    /// own predecessors show them. `listed` is the successor list a lookup
    /// ended on: the view of the owner's predecessor, which can miss nodes
    /// that joined right after the owner a moment ago. Those hold the
    /// owner's newest writes as its first replicas, so a read or write
    /// around an owner that does not answer would, skipping them, read
    /// older copies, or none.
    /// Predecessor pointers are the freshest links of the ring (a node
    /// holds no key before its successor has taken it as predecessor), so
    /// each listed node is asked for its predecessor, and one that lies
    /// between it and the node before is put in front of it. The first
    /// R - 1 are checked so; the rest of the list follows unchecked, as
    /// nodes that may still hold copies. A node that does not answer keeps
    /// its place: it may be a holder, and the read counts it as silent.
    fn successors_of(&self, owner: &NodeRef, listed: Vec<NodeRef>) -> Vec<NodeRef> {
        let wanted = self.config().replicas - 1;
        let mut pending: std::collections::VecDeque<NodeRef> = listed.into();
        let mut checked: Vec<NodeRef> = Vec::with_capacity(wanted);
        let mut before = owner.clone();
        // Each call either checks a node or finds one more between: bounded.
        let mut calls = 2 * wanted + 2;
        while checked.len() < wanted && calls > 0 {
            let Some(next) = pending.pop_front() else {
                break;
            };
            if next.addr == owner.addr || checked.iter().any(|c| c.addr == next.addr) {
                continue;
            }
            calls -= 1;
            let between = match self.ring.peer(&next).neighbours() {
                Ok(its) => its
                    .predecessor
                    .filter(|p| p.addr != before.addr && p.addr != next.addr)
                    .filter(|p| p.id.in_open(before.id, next.id)),
                Err(_) => None,
            };
            match between {
                Some(missed) => {
                    pending.push_front(next);
                    pending.push_front(missed);
                }
                None => {
                    before = next.clone();
                    checked.push(next);
                }
            }
        }
        checked.extend(pending);
        checked
    }

    /// The newest entry for `key` among `holders`, the nodes after an owner
    /// that could not answer (`why`). The first R - 1 must answer: one that
    /// joined a moment ago may not have its copy yet, and alone it would
    /// read as NOT_FOUND. The rest are asked too, answering or not: while
    /// nodes join, the copies can still sit on the holders of a moment ago,
    /// further along (repair moves them only once the new holders have
    /// them). And at least R - 1 must answer, and one with R = 1: a lookup
    /// that came round a dead node can name the owner alone, and a list
    /// shorter than R - 1 comes from a view that missed nodes. So in a
    /// ring of fewer than R nodes a read waits for its owner.
    pub(super) fn newest_elsewhere(
        &self,
        key: &[u8],
        owner: &NodeRef,
        holders: &[NodeRef],
        why: &CallError,
    ) -> Attempt<Option<Entry>> {
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
                        "owner {} did not answer ({why}), nor did replica {}",
                        owner.addr, holder.addr
                    )))
                }
            }
        }
        // Fewer than R - 1 listed is no answer either: the list came from
        // a view that missed nodes (a restarted node's own, say, which
        // names only the successor its join found), and the holders it
        // missed may have the newest copy (random hunt, seed 2718201661).
        if answered == 0 || answered < required {
            return Err(Failure::Retry(format!(
                "owner {} did not answer ({why}), and only {answered} of the {required} \
                 replicas a read needs did",
                owner.addr
            )));
        }
        Ok(newest)
    }

    /// A write whose owner timed out (now or a moment ago): it
    /// goes to R live nodes after the owner instead, stamped here past the
    /// newest copy they hold. With R = 3 that is the owner's two replicas
    /// and the node after them, which keeps the extra copy until repair
    /// passes it on. So a frozen owner does not stall writes; when it
    /// wakes, it copies its arc back before serving it (see
    /// [`crate::chord::health`]), and the newest version wins. A write
    /// stamped here and one stamped by the owner at the same time are
    /// ordered by their stamps, as every write is (last writer wins).
    pub(super) fn write_around(
        &self,
        key: &[u8],
        (value, expires): Content,
        lookup: &Lookup,
        why: &CallError,
    ) -> Attempt<bool> {
        let owner = lookup.owner();
        let holders = self.other_holders(lookup, why);
        let newest = self.newest_elsewhere(key, owner, &holders, why)?;
        let now = self.config().clock.now_micros();
        let stamp = newest
            .as_ref()
            .map_or(now, |e| now.max(e.version.stamp.saturating_add(1)));
        let existed = newest.is_some_and(|e| e.is_live(now));
        let entry = Entry {
            value,
            version: Version {
                stamp,
                writer: self.ring.incarnation,
            },
            expires,
            update: None,
        };
        let needed = self.config().replicas.min(holders.len());
        if needed == 0 {
            return Err(format!(
                "owner {} did not answer ({why}), and no other node is known",
                owner.addr
            )
            .into());
        }
        Stats::add(&self.stats().writes_around, 1);
        let items = Arc::new(vec![Item {
            key: key.into(),
            entry,
        }]);
        self.copy_to(&items, &holders, needed, 0)?;
        Ok(existed)
    }
}
