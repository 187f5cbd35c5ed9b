//! The maintenance thread: every stabilization period it runs the paper's
//! periodic functions, `stabilize`, `fix_fingers` and `check_predecessor`
//! (Figure 6, "called periodically"), until told to stop.
//!
//! It waits on two channels at once, a ticker and a stop channel, so a stop
//! takes effect at once rather than after the current period.

use std::io;
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::Duration;

use crossbeam_channel::{bounded, select, tick, Sender};

use crate::node::Node;

/// A running maintenance thread.
pub struct Maintenance {
    stop: Sender<()>,
    thread: JoinHandle<()>,
}

impl Maintenance {
    /// Starts running the periodic functions of `node` every `period`.
    ///
    /// # Errors
    /// The operating system's error when the thread cannot be spawned.
    pub fn start(node: Arc<Node>, period: Duration) -> io::Result<Maintenance> {
        let (stop, stopped) = bounded::<()>(1);
        let thread = thread::Builder::new()
            .name(format!("maintenance {}", node.me().addr))
            .spawn(move || {
                let ticker = tick(period);
                loop {
                    select! {
                        recv(ticker) -> _ => {
                            node.stabilize();
                            node.fix_fingers();
                            node.check_predecessor();
                        }
                        recv(stopped) -> _ => return,
                    }
                }
            })?;
        Ok(Maintenance { stop, thread })
    }

    /// Stops the thread and waits for the round in progress to end.
    pub fn stop(self) {
        // A full channel means a stop is already pending; either way the
        // thread sees it, or sees the sender dropped.
        let _ = self.stop.try_send(());
        drop(self.stop);
        if self.thread.join().is_err() {
            log::error!("the maintenance thread panicked");
        }
    }
}
