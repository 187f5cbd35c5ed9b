//! The finger table: the paper's Table I and the section "Scalable Key
//! Location".
//!
//! Node n keeps m fingers. Finger k (counted from 1, as the paper does)
//! starts at `n + 2^(k-1) mod 2^m` and points at `successor(start)`, the
//! first node at or after that point. Finger 1 is therefore n's immediate
//! successor, and each finger covers twice the arc of the one before, which
//! is what makes a lookup halve its remaining distance at every hop.
//!
//! The table itself is plain data; [`crate::chord`] fills it (`fix_fingers`)
//! and reads it (`closest_preceding_node`).

use crate::id::{Id, NodeRef};

/// m fingers of one node, and the paper's `next`: the finger that
/// `fix_fingers` refreshes on its next call.
#[derive(Clone, Debug)]
pub struct FingerTable {
    owner: Id,
    /// `entries[k - 1]` is finger k; `None` until it is first fixed, or after
    /// the node it named was found dead.
    entries: Vec<Option<NodeRef>>,
    next: usize,
}

impl FingerTable {
    /// An empty table for the node with identifier `owner`.
    pub fn new(owner: Id) -> FingerTable {
        FingerTable {
            owner,
            entries: vec![None; usize::from(owner.bits())],
            next: 0,
        }
    }

    /// m, the number of fingers.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Always false: a table has m >= 1 fingers.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// `finger[k].start = (n + 2^(k-1)) mod 2^m`, for `1 <= k <= m`.
    pub fn start(&self, k: usize) -> Id {
        assert!(k >= 1 && k <= self.len(), "finger {k} of {}", self.len());
        self.owner.add_pow2((k - 1) as u8)
    }

    /// `finger[k].node`, if known.
    pub fn node(&self, k: usize) -> Option<&NodeRef> {
        self.entries[k - 1].as_ref()
    }

    /// Sets `finger[k].node`.
    pub fn set(&mut self, k: usize, node: NodeRef) {
        self.entries[k - 1] = Some(node);
    }

    /// Sets finger k to `node`, and also every following finger whose start
    /// lies in `(n, node]`: successor(start) is `node` for all of them, so a
    /// lookup of their own would only find it again. Returns the last finger
    /// set. With m = 160 and N nodes this leaves about log2 N distinct
    /// fingers to look up instead of 160.
    pub fn set_run(&mut self, k: usize, node: &NodeRef) -> usize {
        let mut last = k;
        self.set(k, node.clone());
        while last < self.len() && self.start(last + 1).in_open_closed(self.owner, node.id) {
            last += 1;
            self.set(last, node.clone());
        }
        last
    }

    /// The paper's `next = next + 1; if (next > m) next = 1;`: the finger to
    /// fix now.
    pub fn advance_next(&mut self) -> usize {
        self.next += 1;
        if self.next > self.len() {
            self.next = 1;
        }
        self.next
    }

    /// Moves `next` on to finger `k`, so that the fingers up to `k` are not
    /// looked up again in this sweep.
    pub fn skip_to(&mut self, k: usize) {
        self.next = k;
    }

    /// Forgets every finger that points at `addr`, a node found dead.
    pub fn forget(&mut self, addr: &str) {
        for entry in &mut self.entries {
            if entry.as_ref().is_some_and(|n| *n.addr == *addr) {
                *entry = None;
            }
        }
    }

    /// The fingers from m down to 1, the order `closest_preceding_node`
    /// scans them in.
    pub fn from_farthest(&self) -> impl Iterator<Item = &NodeRef> {
        self.entries.iter().rev().flatten()
    }

    /// `(k, start, node)` for every finger, k from 1.
    pub fn rows(&self) -> impl Iterator<Item = (usize, Id, Option<&NodeRef>)> {
        (1..=self.len()).map(move |k| (k, self.start(k), self.node(k)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::id::IdSpace;

    fn node(space: IdSpace, id: u64) -> NodeRef {
        NodeRef {
            id: space.id(id),
            addr: format!("n{id}").into(),
        }
    }

    #[test]
    fn starts_are_n_plus_powers_of_two_as_in_table_one() {
        // The paper's Figure 3 uses m = 3; node 1's starts are 2, 3, 5.
        let space = IdSpace::new(3).unwrap();
        let table = FingerTable::new(space.id(1));
        let starts: Vec<u64> = (1..=3).map(|k| table.start(k).to_u64().unwrap()).collect();
        assert_eq!(starts, vec![2, 3, 5]);
        // Node 3's starts wrap: 4, 5, 7; node 6's: 7, 0, 2.
        let table = FingerTable::new(space.id(6));
        let starts: Vec<u64> = (1..=3).map(|k| table.start(k).to_u64().unwrap()).collect();
        assert_eq!(starts, vec![7, 0, 2]);
    }

    #[test]
    fn set_run_fills_the_fingers_that_share_a_successor() {
        let space = IdSpace::new(6).unwrap();
        let mut table = FingerTable::new(space.id(8));
        // Starts of node 8: 9, 10, 12, 16, 24, 40. Node 14 covers 9, 10, 12.
        let last = table.set_run(1, &node(space, 14));
        assert_eq!(last, 3);
        assert_eq!(table.node(3).unwrap().id, space.id(14));
        assert!(table.node(4).is_none());
    }

    #[test]
    fn next_wraps_from_m_back_to_one() {
        let space = IdSpace::new(2).unwrap();
        let mut table = FingerTable::new(space.id(0));
        assert_eq!(table.advance_next(), 1);
        assert_eq!(table.advance_next(), 2);
        assert_eq!(table.advance_next(), 1);
    }

    #[test]
    fn forget_clears_every_finger_of_a_dead_node() {
        let space = IdSpace::new(6).unwrap();
        let mut table = FingerTable::new(space.id(8));
        table.set_run(1, &node(space, 14));
        table.set(4, node(space, 21));
        table.forget("n14");
        assert_eq!(table.from_farthest().count(), 1);
    }
}
