//! The maintenance thread: every stabilization period it runs the paper's
//! periodic functions, `stabilize`, `fix_fingers` and `check_predecessor`
//! (Figure 6, "called periodically"), probes the passive list for another
//! ring to merge with ([`crate::chord::merge`]), then repairs replicas
//! ([`crate::dhash::replication`]), until told to stop. A round starts by
//! catching up after a pause of the process, if the heartbeat thread
//! beside it saw one ([`crate::chord::health`]).
//!
//! It waits on two channels at once, a ticker and a stop channel, so a stop
//! takes effect at once rather than after the current period. When a round
//! finds that the node can never be a member of the ring (another node with
//! its identifier holds its place), the thread reports that on its fault
//! channel and ends: whoever runs the node decides to stop it.
//!
//! A round that panics is caught, logged and counted, and the next round
//! runs as usual (see [`crate::server`] for why a node goes on).
//!
//! A node with a data directory has a third thread, which compacts it when
//! its logs have grown ([`crate::disk`], "Compaction"): writing a snapshot
//! takes seconds at a million keys, longer than a round may.

use std::io;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::Duration;

use crossbeam_channel::{bounded, select, tick, Receiver, Sender};
use signal_hook::consts::SIGCONT;

use crate::node::{Node, Stabilized};
use crate::stats::Stats;

/// How often the compaction thread looks at the size of the logs.
const COMPACTION_CHECK: Duration = Duration::from_secs(1);

/// How often a server's heartbeat ticks: a thread's cadence, so it is
/// set here, not in the paper's layer.
pub const HEARTBEAT: Duration = Duration::from_millis(100);

/// One round of the periodic functions; a fault that ends the node's
/// membership, if one was found. The maintenance thread calls it on the
/// wall clock; the simulator, on its virtual one.
pub fn round(node: &Node) -> Option<String> {
    node.ring().resync_after_pause();
    if let Stabilized::Twin(twin) = node.stabilize() {
        return Some(format!(
            "{} has this node's identifier {} and holds its place in the ring",
            twin.addr, twin.id
        ));
    }
    node.fix_fingers();
    node.check_predecessor();
    node.ring().merge_round();
    node.repair();
    None
}

/// A running maintenance thread, and the heartbeat thread beside it.
pub struct Maintenance {
    /// The compaction thread, for a node with a data directory.
    compaction: Option<JoinHandle<()>>,
    stop: Sender<()>,
    faults: Receiver<String>,
    thread: JoinHandle<()>,
    heartbeat: JoinHandle<()>,
    /// The SIGCONT handler that tells the node it was stopped and resumed.
    resumes: Option<signal_hook::SigId>,
}

/// How long the calling thread has waited, ready to run, for a CPU since it
/// started: the second field of Linux's `/proc/thread-self/schedstat`, in
/// nanoseconds. `None` where the kernel does not say.
fn time_waiting_to_run() -> Option<Duration> {
    let stats = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let waited: u64 = stats.split_whitespace().nth(1)?.parse().ok()?;
    Some(Duration::from_nanos(waited))
}

impl Maintenance {
    /// Starts running the periodic functions of `node` every `period`.
    ///
    /// # Errors
    /// The operating system's error when the thread cannot be spawned.
    pub fn start(node: Arc<Node>, period: Duration) -> io::Result<Maintenance> {
        let (stop, stopped) = bounded::<()>(1);
        let (report, faults) = bounded::<String>(1);
        // The heartbeat has a thread of its own: a round can take seconds
        // when peers time out, and that must not look like a pause. It
        // ends when the stop sender is dropped. Each beat says how long the
        // thread waited for a CPU since the last: on a loaded machine that
        // is most of a late beat, and it is not a pause.
        let beating = node.clone();
        let beat_stopped = stopped.clone();
        let heartbeat = thread::Builder::new()
            .name(format!("heartbeat {}", node.me().addr))
            .spawn(move || {
                let ticker = tick(HEARTBEAT);
                let mut waited = time_waiting_to_run();
                loop {
                    select! {
                        recv(ticker) -> _ => {
                            let now = time_waiting_to_run();
                            let since = match (waited, now) {
                                (Some(before), Some(now)) => now.saturating_sub(before),
                                _ => Duration::ZERO,
                            };
                            waited = now;
                            beating.ring().heartbeat(since);
                        }
                        recv(beat_stopped) -> _ => return,
                    }
                }
            })?;
        // A stopped process is resumed by SIGCONT: the surest sign of a
        // pause, and one the workers see before the heartbeat runs again.
        let resumed = Arc::new(AtomicBool::new(false));
        let resumes = signal_hook::flag::register(SIGCONT, resumed.clone())
            .map_err(|e| log::warn!("{}: no SIGCONT handler: {e}", node.me().addr))
            .ok();
        if resumes.is_some() {
            node.ring().watch_resumes(resumed);
        }
        let compaction = match node.keys().disk() {
            Some(_) => {
                let compacting = node.clone();
                let compact_stopped = stopped.clone();
                Some(
                    thread::Builder::new()
                        .name(format!("compaction {}", node.me().addr))
                        .spawn(move || {
                            let ticker = tick(COMPACTION_CHECK);
                            loop {
                                select! {
                                    recv(ticker) -> _ => compacting.keys().compact_if_due(),
                                    recv(compact_stopped) -> _ => return,
                                }
                            }
                        })?,
                )
            }
            None => None,
        };
        let thread = thread::Builder::new()
            .name(format!("maintenance {}", node.me().addr))
            .spawn(move || {
                let ticker = tick(period);
                loop {
                    select! {
                        recv(ticker) -> _ => {
                            let round = panic::catch_unwind(AssertUnwindSafe(|| round(&node)));
                            match round {
                                Ok(Some(fault)) => {
                                    let _ = report.send(fault);
                                    return;
                                }
                                Ok(None) => {}
                                Err(_) => {
                                    Stats::add(&node.stats().panics, 1);
                                    log::error!(
                                        "{}: a maintenance round panicked; the next one runs as usual",
                                        node.me().addr
                                    );
                                }
                            }
                        }
                        recv(stopped) -> _ => return,
                    }
                }
            })?;
        Ok(Maintenance {
            stop,
            compaction,
            faults,
            thread,
            heartbeat,
            resumes,
        })
    }

    /// Receives a message when the node can never be a member of the ring;
    /// the thread has ended by then.
    pub fn faults(&self) -> &Receiver<String> {
        &self.faults
    }

    /// Stops the thread and waits for the round in progress to end.
    pub fn stop(self) {
        if let Some(id) = self.resumes {
            signal_hook::low_level::unregister(id);
        }
        // A full channel means a stop is already pending; either way the
        // thread sees it, or sees the sender dropped.
        let _ = self.stop.try_send(());
        drop(self.stop);
        if self.thread.join().is_err() {
            log::error!("the maintenance thread panicked");
        }
        if self.heartbeat.join().is_err() {
            log::error!("the heartbeat thread panicked");
        }
        if self.compaction.is_some_and(|c| c.join().is_err()) {
            log::error!("the compaction thread panicked");
        }
    }
}
