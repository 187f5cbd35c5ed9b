//! Voluntary departures: the paper's section "Voluntary Node Departures".
//! The leaving node hands its keys on (through the key layer, [`Keys`]),
//! then tells its neighbours, and each links past it.

use log::{debug, info, warn};

use super::ring::Ring;
use super::Keys;
use crate::error::{Error, Result};
use crate::id::NodeRef;

impl Ring {
    /// Leaves the ring gracefully, as the paper's "Voluntary Node
    /// Departures" describes: the leaving node transfers its keys to its
    /// successor (here to its first R live successors, so every key it held
    /// keeps R copies), then notifies its predecessor and its successor so
    /// they link to each other. From the first step on, this node refuses
    /// keys, so no write lands here after the handover.
    ///
    /// # Errors
    /// [`Error::Unavailable`] when there are successors but none accepted the
    /// keys; they are then lost with this node, and the message says how
    /// many. The last node of a ring leaves without error: there is nobody
    /// to hand keys to, and stopping the whole ring is a normal request.
    pub fn leave(&self, keys: &dyn Keys) -> Result<()> {
        // A fresh look at the successors first: ones that left or died a
        // moment ago are dropped, so the keys go to a live node.
        let _ = self.stabilize(keys);
        let (predecessor, successors) = {
            let mut links = self.links.write();
            links.handover.leaving = true;
            (links.predecessor.clone(), links.successors.clone())
        };
        let heirs: Vec<&NodeRef> = successors
            .iter()
            .filter(|s| s.addr != self.me.addr)
            .collect();
        let alone = heirs.is_empty();
        // Every key held here, as owner or replica, has its next holder
        // among our first R successors: giving them all a copy keeps R
        // copies of every key.
        let mut took: Vec<&NodeRef> = Vec::new();
        for heir in heirs {
            if took.len() == self.config.replicas {
                break;
            }
            if keys.hand_off(heir) {
                took.push(heir);
            }
        }
        let Some(heir) = took.first().copied() else {
            let held = keys.count();
            if alone {
                // The last node of the ring: stopping it stops the store.
                warn!(
                    "{}: the last node leaves; its {held} keys go with it",
                    self.me.addr
                );
                return Ok(());
            }
            return Err(Error::Unavailable(format!(
                "no successor took this node's {held} keys; they leave with it"
            )));
        };
        // Notices: their answers carry nothing we need, and a neighbour
        // that misses one finds out at its next stabilize. A node restarted
        // empty that has not copied its arc back did not hand it over: its
        // successor must find it gone, as after a crash, and pull the arc
        // from the replicas, rather than take it as handed.
        if self.refilling() {
            info!(
                "{}: leaving before our arc was copied back; {heir:?} will find us gone",
                self.me.addr
            );
        } else if let Err(e) = self
            .peer(heir)
            .predecessor_leaving(&self.me, predecessor.clone())
        {
            debug!("{}: {heir:?} did not take a notice: {e}", self.me.addr);
        }
        if let Some(p) = predecessor.filter(|p| p.addr != self.me.addr) {
            if let Err(e) = self
                .peer(&p)
                .successor_leaving(&self.me, successors.clone())
            {
                debug!("{}: {p:?} did not take a notice: {e}", self.me.addr);
            }
        }
        info!("{}: left the ring; keys handed to {heir:?}", self.me.addr);
        Ok(())
    }

    /// The answer to `PredecessorLeaving`: our predecessor `leaver` is
    /// leaving, and its own predecessor takes its place.
    pub(crate) fn predecessor_leaving(&self, leaver: &NodeRef, predecessor: Option<NodeRef>) {
        let left = {
            let mut links = self.links.write();
            let left = links.predecessor.as_ref() == Some(leaver);
            if left {
                // The leaver handed us its keys first: the arc grows
                // with its data here.
                links.predecessor = predecessor.filter(|p| p.addr != leaver.addr);
            }
            left
        };
        if left {
            info!("{}: predecessor {leaver:?} left", self.me.addr);
        }
    }

    /// The answer to `SuccessorLeaving`: our successor `leaver` is leaving;
    /// its successor list follows it.
    pub(crate) fn successor_leaving(&self, leaver: &NodeRef, successors: Vec<NodeRef>) {
        if self.successor() == *leaver {
            let rest: Vec<NodeRef> = successors.into_iter().filter(|s| s != leaver).collect();
            let next = rest.first().cloned().unwrap_or_else(|| self.me.clone());
            info!("{}: successor {leaver:?} left", self.me.addr);
            self.set_successors(&next, rest.get(1..).unwrap_or_default());
        }
    }
}
