//! Durable nodes: a node's pairs kept in a data directory, so that they
//! outlive the process, a crash, or the whole ring stopping.
//!
//! Chord's replication survives R - 1 nodes failing at once, but not every
//! node stopping: a node with `--data-dir` keeps, besides its store in
//! memory, every change to it on disk, and rebuilds the store from them
//! when it starts. The design is Redis's append-only file, with its
//! `appendfsync` choices.
//!
//! # The files
//!
//! A data directory holds, numbered by *generation*:
//! - `log-G`: the store's changes ([`crate::store::Change`]), in the order
//!   the store made them, each a record framed with its length and a
//!   CRC-32 ([`record`]). A change says what a key holds afterwards, so
//!   replay sets each key to its last record;
//! - `snapshot-G`: every entry of the store, written in the background by
//!   a compaction; the logs of generation G and later hold every change
//!   made since it began;
//! - `LOCK`: held (`flock`) for as long as a node uses the directory, with
//!   that node's process id, so that two nodes never share one.
//!
//! Every file opens with a [`record::Header`]: the format, m, and a
//! fingerprint of the ring's cluster secret. A directory written with
//! another m, or by another ring, is refused with a message that says so.
//!
//! # When a write is on disk
//!
//! The store reports each change under its lock ([`crate::store::Journal`]);
//! this module frames it into a buffer then, and writes the buffer to the
//! log outside that lock. Before a node acknowledges anything (a client's
//! command, or a peer's request that changed its store) it calls
//! [`Disk::commit`], which, by the `--fsync` policy:
//! - [`Fsync::Always`]: writes the buffer and `fdatasync`s the log. A
//!   write is acknowledged once it is on disk at its owner and at every
//!   replica that took it;
//! - [`Fsync::EverySec`] (the default): writes the buffer; a thread
//!   `fdatasync`s once a second. A process killed loses nothing (the
//!   kernel has the bytes); a machine that stops loses at most about the
//!   last second of writes, and then only keys whose every holder stopped;
//! - [`Fsync::No`]: writes the buffer; the kernel decides when it reaches
//!   the disk (Linux: within about 30 seconds).
//!
//! Concurrent commits share one write (a group commit): whoever takes the
//! log's lock writes what every caller before it buffered. Under
//! [`Fsync::Always`] they share one `fdatasync` too: one commit leads,
//! and the others wait for it rather than queue for the lock.
//!
//! # Recovery
//!
//! On start, in order:
//! 1. the newest complete snapshot is loaded (`snapshot-G.tmp` files, left
//!    by a compaction that did not finish, are removed);
//! 2. the logs of generation G and later are replayed, oldest first;
//! 3. a torn last record (a crash while writing it) is cut off, with a
//!    warning: it was never acknowledged, or the kernel still had it;
//! 4. damage with records after it stops the node, with a message naming
//!    the file and the byte. `--keep-before-damage` keeps the records
//!    before it and drops the rest, which the ring then copies back;
//! 5. a new log, of the next generation, takes the node's changes;
//! 6. the node joins, and the ring's versions merge what others hold: a
//!    key written while the node was down wins over its older copy. A node
//!    restarted at its old place still takes its arc back from its
//!    successors before serving it ([`crate::chord`]'s restart rule),
//!    since it missed the writes made while it was down; holding most of
//!    it, it copies only the parts whose digests differ
//!    (`Dhash::pull_differences`, `dhash/replication.rs`).
//!
//! # Compaction
//!
//! Once the logs since the last snapshot outgrow it (and at least
//! [`DataDir::compact_at`] bytes), a thread of the server compacts:
//! under the log's lock it starts generation G + 1, then reads the store
//! a chunk at a time (64 KiB or 512 entries under each hold of the
//! store's lock, a quarter of a hand-over's chunk), writes `snapshot-(G+1).tmp`, syncs it, renames it,
//! and removes the files of earlier generations. The snapshot is not of
//! one instant, and need not be: every change made while it was read is
//! in `log-(G+1)`, replayed after it. The directory thus stays under
//! about twice the live data.
//!
//! # When the disk fails
//!
//! A write to the log that fails (a full disk) fails the commits that
//! wait on it: their requests get an error, and are not acknowledged.
//! Until a later write succeeds (the sync thread retries each second),
//! the node refuses writes and copies, with that error, and keeps serving
//! reads. A failed `fdatasync` leaves the node refusing writes until it is
//! restarted: after one, what the disk holds is unknown.

pub mod record;
mod recover;

use std::fs::{self, File};
use std::io::{self, BufWriter, Write as _};
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use crossbeam_channel::{bounded, Receiver, RecvTimeoutError, Sender};
use log::{info, warn};
use parking_lot::{Condvar, Mutex};

use crate::error::{Error, Result};
use crate::id::IdSpace;
use crate::store::{Change, Cursor, Item, Journal, Store};
use record::{Header, Kind, RecordRef};
use recover::{load_snapshot, lock, new_log, private_file, replay_log, size, sync_dir, Files};

/// How often the sync thread writes what is buffered and, with
/// [`Fsync::EverySec`], syncs the log.
pub const SYNC_INTERVAL: Duration = Duration::from_secs(1);

/// The smallest log that is worth compacting, by default.
pub const COMPACT_AT: u64 = 16 << 20;

/// When the log reaches the disk: Redis's `appendfsync` choices.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fsync {
    /// Before every acknowledgement.
    Always,
    /// Once a second.
    EverySec,
    /// When the kernel decides.
    No,
}

impl FromStr for Fsync {
    type Err = String;

    fn from_str(text: &str) -> std::result::Result<Fsync, String> {
        match text {
            "always" => Ok(Fsync::Always),
            "everysec" => Ok(Fsync::EverySec),
            "no" => Ok(Fsync::No),
            _ => Err(format!(
                "--fsync takes always, everysec or no, not {text:?}"
            )),
        }
    }
}

impl std::fmt::Display for Fsync {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Fsync::Always => "always",
            Fsync::EverySec => "everysec",
            Fsync::No => "no",
        })
    }
}

/// A node's data directory and how it uses it.
#[derive(Clone, Debug)]
pub struct DataDir {
    /// The directory (made if missing).
    pub path: PathBuf,
    /// When the log reaches the disk.
    pub fsync: Fsync,
    /// The smallest log since the last snapshot that is compacted.
    pub compact_at: u64,
    /// Keep the records before damage in a log, instead of refusing to
    /// start.
    pub keep_before_damage: bool,
    /// The fingerprint of the ring's cluster secret (`None`: none), set by
    /// the server.
    pub ring: Option<[u8; 32]>,
}

impl DataDir {
    /// `path`, synced once a second, compacted from [`COMPACT_AT`].
    pub fn new(path: impl Into<PathBuf>) -> DataDir {
        DataDir {
            path: path.into(),
            fsync: Fsync::EverySec,
            compact_at: COMPACT_AT,
            keep_before_damage: false,
            ring: None,
        }
    }
}

/// What a data directory is doing, for `INFO persistence`.
#[derive(Clone, Debug, Default)]
pub struct Status {
    /// The `--fsync` policy.
    pub fsync: String,
    /// The generation of the log being written.
    pub generation: u64,
    /// Bytes of the newest snapshot (0: none yet).
    pub snapshot_bytes: u64,
    /// Bytes of the logs since it.
    pub log_bytes: u64,
    /// Compactions done since the node started.
    pub compactions: u64,
    /// How long the last one took.
    pub last_compaction: Duration,
    /// Whether one runs now.
    pub compacting: bool,
    /// `fdatasync` calls made on the log.
    pub syncs: u64,
    /// Why the node refuses writes now, if it does.
    pub failure: Option<String>,
    /// How long loading the directory took at start.
    pub loaded_in: Duration,
    /// Entries (values and tombstones) the store held once loaded.
    pub loaded: u64,
    /// Bytes written to the log and not yet synced: what a machine that
    /// stopped now would lose (a process killed loses none of it).
    pub unsynced_bytes: u64,
    /// How long the oldest of them has waited.
    pub unsynced_for: Duration,
    /// The longest any write waited to be synced: the window of writes a
    /// machine that stops can lose, as measured.
    pub longest_unsynced: Duration,
}

/// Records framed but not yet written.
#[derive(Debug, Default)]
struct Pending {
    bytes: Vec<u8>,
    /// Bytes ever framed: the position a commit waits for.
    total: u64,
}

/// The log being written.
#[derive(Debug)]
struct Open {
    file: File,
    generation: u64,
    /// Bytes taken from [`Pending`] and not yet written, when a write
    /// failed part way; they go first next time.
    unwritten: Vec<u8>,
    /// A cleared buffer to swap into [`Pending`], so that framing reuses
    /// its capacity.
    spare: Vec<u8>,
    /// Bytes of the logs since the newest snapshot.
    log_bytes: u64,
    /// Bytes of the newest snapshot.
    snapshot_bytes: u64,
}

/// A node's data directory, open. See the module docs.
#[derive(Debug)]
pub struct Disk {
    dir: PathBuf,
    fsync: Fsync,
    compact_at: u64,
    header: Header,
    /// Held for the life of the node: the directory's lock.
    _lock: File,
    /// The records framed but not yet written. Taken under the store's
    /// write lock (the store reports changes there), and held only to
    /// frame one record or to take the buffer: never across I/O.
    pending: Mutex<Pending>,
    /// The log file, and what was taken from `pending` but not written.
    /// Held while writing and syncing it (disk I/O), so never with the
    /// store's lock; taken before `pending` when both are needed.
    open: Mutex<Open>,
    /// Whether a commit is writing the log now, for the others to wait
    /// on (with `led`) instead of queueing for `open`. Held only to read
    /// or flip it.
    leader: Mutex<bool>,
    /// Signalled when a leading commit is done.
    led: Condvar,
    /// Bytes written to the log (a position in `Pending::total`).
    written: AtomicU64,
    /// Bytes written and synced.
    synced: AtomicU64,
    /// A copy of `Pending::total`, read without the lock.
    framed: AtomicU64,
    /// Why writes are refused now; held to read or set it.
    failure: Mutex<Option<Failure>>,
    /// Set while a compaction runs.
    compacting: AtomicBool,
    /// Counters for [`Status`]; held briefly.
    counts: Mutex<Counts>,
    /// Dropped with the disk, which stops the sync thread.
    _stop: Sender<()>,
}

#[derive(Clone, Debug)]
struct Failure {
    why: String,
    /// Cleared by the next write that succeeds (a full disk), or never (a
    /// failed sync).
    lasting: bool,
}

#[derive(Clone, Copy, Debug, Default)]
struct Counts {
    compactions: u64,
    last_compaction: Duration,
    syncs: u64,
    loaded_in: Duration,
    loaded: u64,
    /// When the oldest write not yet synced was written.
    unsynced_since: Option<Instant>,
    longest_unsynced: Duration,
}

impl Disk {
    /// Opens (and locks) the data directory `config.path` for a node of
    /// identifier space `space`, loads what it holds into `store`, and
    /// starts a new log: see the module docs, "Recovery".
    ///
    /// # Errors
    /// [`Error::Config`] when another node holds the directory, when it was
    /// written with another m or by another ring, or when a file is damaged
    /// (the message says what to do); [`Error::Io`] when it cannot be read
    /// or written.
    pub fn open(config: &DataDir, space: IdSpace, store: &mut Store) -> Result<Arc<Disk>> {
        let started = Instant::now();
        let dir = config.path.clone();
        let io = |what: String| {
            move |source| Error::Io {
                context: what,
                source,
            }
        };
        // Every key and value is in there: the node's user alone reads it.
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)
            .map_err(io(format!("making the data directory {}", dir.display())))?;
        let lock = lock(&dir)?;
        let header = Header {
            format: record::FORMAT,
            kind: Kind::Log,
            generation: 0,
            bits: space.bits(),
            ring: config.ring,
        };
        let files = Files::list(&dir).map_err(io(format!("reading {}", dir.display())))?;
        let mut snapshot_bytes = 0;
        let from = match files.snapshot {
            Some(generation) => {
                let path = dir.join(format!("snapshot-{generation}"));
                load_snapshot(&path, generation, &header, space, store)?;
                snapshot_bytes = size(&path);
                generation
            }
            None => 0,
        };
        let mut log_bytes = 0;
        for &generation in files.logs.iter().filter(|&&g| g >= from) {
            let path = dir.join(format!("log-{generation}"));
            replay_log(&path, generation, &header, config, space, store)?;
            log_bytes += size(&path);
        }
        let generation = files.newest + 1;
        let log_header = Header {
            generation,
            ..header.clone()
        };
        let file = new_log(&dir, &log_header)
            .map_err(io(format!("starting a log in {}", dir.display())))?;
        log_bytes += size(&dir.join(format!("log-{generation}")));
        let (stop, stopped) = bounded(0);
        let disk = Arc::new(Disk {
            dir,
            fsync: config.fsync,
            compact_at: config.compact_at,
            header,
            _lock: lock,
            pending: Mutex::new(Pending::default()),
            open: Mutex::new(Open {
                file,
                generation,
                unwritten: Vec::new(),
                spare: Vec::new(),
                log_bytes,
                snapshot_bytes,
            }),
            leader: Mutex::new(false),
            led: Condvar::new(),
            written: AtomicU64::new(0),
            synced: AtomicU64::new(0),
            framed: AtomicU64::new(0),
            failure: Mutex::new(None),
            compacting: AtomicBool::new(false),
            counts: Mutex::new(Counts {
                loaded_in: started.elapsed(),
                loaded: store.entries() as u64,
                ..Counts::default()
            }),
            _stop: stop,
        });
        let weak = Arc::downgrade(&disk);
        std::thread::Builder::new()
            .name("disk-sync".into())
            .spawn(move || sync_loop(&weak, &stopped))
            .map_err(io("starting the disk's sync thread".into()))?;
        info!(
            "data directory {}: {} keys and tombstones loaded in {:.2?}; fsync {}",
            disk.dir.display(),
            store.entries(),
            started.elapsed(),
            disk.fsync
        );
        Ok(disk)
    }

    /// Makes every change buffered so far as durable as the policy says,
    /// before an acknowledgement: written, and with [`Fsync::Always`]
    /// synced. Callers that find the work done by another return at once.
    ///
    /// # Errors
    /// Why the log could not be written or synced.
    pub fn commit(&self) -> std::result::Result<(), String> {
        let target = self.framed.load(Ordering::Acquire);
        let done = match self.fsync {
            Fsync::Always => &self.synced,
            Fsync::EverySec | Fsync::No => &self.written,
        };
        if done.load(Ordering::Acquire) >= target {
            return Ok(());
        }
        if self.fsync != Fsync::Always {
            // A write(2) alone holds the log's lock for microseconds:
            // queueing for it costs less than waiting for a leader.
            let mut open = self.open.lock();
            if done.load(Ordering::Acquire) >= target {
                return Ok(());
            }
            return self.write_out(&mut open);
        }
        // With a sync to wait for, one committer at a time writes and
        // syncs (the leader); the others wait for it and find their bytes
        // synced with its own, or lead the next round. Waiting on the
        // log's lock instead would wake them one by one, each after the
        // one before had the lock: a queue that grouped no more than two
        // writes a sync.
        let mut leading = self.leader.lock();
        loop {
            if done.load(Ordering::Acquire) >= target {
                return Ok(());
            }
            if !*leading {
                break;
            }
            self.led.wait(&mut leading);
        }
        *leading = true;
        drop(leading);
        let result = {
            let mut open = self.open.lock();
            self.write_out(&mut open)
                .and_then(|()| self.sync(&mut open))
        };
        *self.leader.lock() = false;
        self.led.notify_all();
        result
    }

    /// How many bytes of changes have been framed: a commit after a piece
    /// of work is needed only if this moved.
    pub fn position(&self) -> u64 {
        self.framed.load(Ordering::Acquire)
    }

    /// Why writes are refused now, if they are (see "When the disk fails").
    pub fn refusal(&self) -> Option<String> {
        self.failure.lock().as_ref().map(|f| f.why.clone())
    }

    /// Writes what is buffered to the log.
    fn write_out(&self, open: &mut Open) -> std::result::Result<(), String> {
        let total = {
            let mut pending = self.pending.lock();
            if open.unwritten.is_empty() {
                std::mem::swap(&mut open.unwritten, &mut pending.bytes);
                std::mem::swap(&mut pending.bytes, &mut open.spare);
            } else {
                open.unwritten.extend_from_slice(&pending.bytes);
                pending.bytes.clear();
            }
            pending.total
        };
        let mut done = 0;
        while done < open.unwritten.len() {
            match open.file.write(&open.unwritten[done..]) {
                Ok(0) => {
                    return Err(self.failed_write(open, done, io::ErrorKind::WriteZero.into()))
                }
                Ok(n) => done += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(self.failed_write(open, done, e)),
            }
        }
        open.log_bytes += done as u64;
        open.spare = std::mem::take(&mut open.unwritten);
        open.spare.clear();
        if total > self.written.load(Ordering::Acquire) {
            self.counts
                .lock()
                .unsynced_since
                .get_or_insert_with(Instant::now);
        }
        self.written.store(total, Ordering::Release);
        let mut failure = self.failure.lock();
        if failure.as_ref().is_some_and(|f| !f.lasting) {
            info!(
                "{}: the log is written again; taking writes",
                self.dir.display()
            );
            *failure = None;
        }
        Ok(())
    }

    /// Keeps what a failed write left, and refuses writes until one works.
    fn failed_write(&self, open: &mut Open, done: usize, e: io::Error) -> String {
        open.unwritten.drain(..done);
        open.log_bytes += done as u64;
        let why = format!(
            "cannot write the log in {}: {e}; refusing writes until it can",
            self.dir.display()
        );
        self.fail(&why, false);
        why
    }

    /// Syncs the log, and counts everything written as synced.
    fn sync(&self, open: &mut Open) -> std::result::Result<(), String> {
        let written = self.written.load(Ordering::Acquire);
        if let Err(e) = open.file.sync_data() {
            let why = format!(
                "cannot sync the log in {}: {e}; what the disk holds is unknown, so this node \
                 refuses writes until it is restarted",
                self.dir.display()
            );
            self.fail(&why, true);
            return Err(why);
        }
        self.synced.store(written, Ordering::Release);
        let mut counts = self.counts.lock();
        counts.syncs += 1;
        if let Some(since) = counts.unsynced_since.take() {
            counts.longest_unsynced = counts.longest_unsynced.max(since.elapsed());
        }
        Ok(())
    }

    fn fail(&self, why: &str, lasting: bool) {
        let mut failure = self.failure.lock();
        if failure.as_ref().is_none_or(|f| !f.lasting) {
            if failure.is_none() {
                warn!("{why}");
            }
            *failure = Some(Failure {
                why: why.to_string(),
                lasting,
            });
        }
    }

    /// One round of the sync thread: write what maintenance buffered (its
    /// changes are not committed by any request), and sync.
    fn sync_round(&self) {
        let mut open = self.open.lock();
        if self.write_out(&mut open).is_ok() && self.fsync != Fsync::No {
            let _ = self.sync(&mut open);
        }
    }

    /// Writes and syncs everything buffered, whatever the policy: for a
    /// node that stops in order, so that it loses nothing.
    ///
    /// # Errors
    /// Why the log could not be written or synced.
    pub fn close(&self) -> std::result::Result<(), String> {
        let mut open = self.open.lock();
        self.write_out(&mut open)?;
        self.sync(&mut open)
    }

    /// Whether the logs since the last snapshot have outgrown it (and
    /// [`DataDir::compact_at`]).
    pub fn compaction_due(&self) -> bool {
        let open = self.open.lock();
        open.log_bytes > open.snapshot_bytes.max(self.compact_at)
    }

    /// Compacts: starts a new generation, writes a snapshot of the store
    /// as `chunks` reads it (from the start when given `None`, then from
    /// each cursor it returns, until it returns none) with the flush
    /// watermark `flushed` reads after the switch, and removes the files
    /// it replaces. See the module docs, "Compaction".
    ///
    /// # Errors
    /// Why a file could not be written; the files of the generations
    /// before stay, and recovery uses them.
    pub fn compact(
        &self,
        flushed: impl FnOnce() -> u64,
        mut chunks: impl FnMut(Option<&Cursor>) -> (Vec<Item>, Option<Cursor>),
    ) -> io::Result<()> {
        if self.compacting.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        let started = Instant::now();
        let result = (|| {
            let generation = self.next_generation()?;
            let header = Header {
                kind: Kind::Snapshot,
                generation,
                ..self.header.clone()
            };
            let tmp = self.dir.join(format!("snapshot-{generation}.tmp"));
            let mut out = BufWriter::new(private_file(&tmp)?);
            let mut bytes = Vec::new();
            let mut put = |record: &RecordRef<'_>, out: &mut BufWriter<File>| -> io::Result<()> {
                bytes.clear();
                record::frame(record, &mut bytes).map_err(io::Error::other)?;
                out.write_all(&bytes)
            };
            put(&RecordRef::Header(&header), &mut out)?;
            put(&RecordRef::Flush { through: flushed() }, &mut out)?;
            let mut puts = 0u64;
            let mut after = None;
            loop {
                let (items, more) = chunks(after.as_ref());
                for item in &items {
                    put(
                        &RecordRef::Put {
                            key: &item.key,
                            entry: &item.entry,
                        },
                        &mut out,
                    )?;
                }
                puts += items.len() as u64;
                match more {
                    Some(cursor) => after = Some(cursor),
                    None => break,
                }
            }
            put(&RecordRef::End { puts }, &mut out)?;
            let file = out.into_inner().map_err(|e| e.into_error())?;
            file.sync_all()?;
            let path = self.dir.join(format!("snapshot-{generation}"));
            fs::rename(&tmp, &path)?;
            sync_dir(&self.dir)?;
            let files = Files::list(&self.dir)?;
            for old in files.logs.iter().filter(|&&g| g < generation) {
                fs::remove_file(self.dir.join(format!("log-{old}")))?;
            }
            for old in files.snapshots.iter().filter(|&&g| g < generation) {
                fs::remove_file(self.dir.join(format!("snapshot-{old}")))?;
            }
            let snapshot_bytes = size(&path);
            let mut open = self.open.lock();
            open.snapshot_bytes = snapshot_bytes;
            open.log_bytes = size(&self.dir.join(format!("log-{}", open.generation)));
            Ok((puts, snapshot_bytes))
        })();
        self.compacting.store(false, Ordering::Release);
        let took = started.elapsed();
        match result {
            Ok((puts, bytes)) => {
                let mut counts = self.counts.lock();
                counts.compactions += 1;
                counts.last_compaction = took;
                drop(counts);
                info!(
                    "{}: compacted into a snapshot of {puts} entries ({bytes} bytes) in {took:.2?}",
                    self.dir.display()
                );
                Ok(())
            }
            Err(e) => {
                warn!(
                    "{}: compaction failed: {e}; keeping the logs",
                    self.dir.display()
                );
                Err(e)
            }
        }
    }

    /// Writes and syncs the log of this generation, then starts the next:
    /// every change from now on goes to the new log. Its number.
    fn next_generation(&self) -> io::Result<u64> {
        let mut open = self.open.lock();
        self.write_out(&mut open).map_err(io::Error::other)?;
        self.sync(&mut open).map_err(io::Error::other)?;
        let generation = open.generation + 1;
        let header = Header {
            generation,
            ..self.header.clone()
        };
        open.file = new_log(&self.dir, &header)?;
        open.generation = generation;
        Ok(generation)
    }

    /// What the directory is doing.
    pub fn status(&self) -> Status {
        let (generation, snapshot_bytes, log_bytes) = {
            let open = self.open.lock();
            (open.generation, open.snapshot_bytes, open.log_bytes)
        };
        let counts = *self.counts.lock();
        Status {
            fsync: self.fsync.to_string(),
            generation,
            snapshot_bytes,
            log_bytes,
            compactions: counts.compactions,
            last_compaction: counts.last_compaction,
            compacting: self.compacting.load(Ordering::Acquire),
            syncs: counts.syncs,
            failure: self.refusal(),
            loaded_in: counts.loaded_in,
            loaded: counts.loaded,
            unsynced_bytes: self
                .written
                .load(Ordering::Acquire)
                .saturating_sub(self.synced.load(Ordering::Acquire)),
            unsynced_for: counts
                .unsynced_since
                .map_or(Duration::ZERO, |s| s.elapsed()),
            longest_unsynced: counts.longest_unsynced,
        }
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.dir
    }
}

impl Journal for Disk {
    fn record(&self, change: Change<'_>) {
        let mut pending = self.pending.lock();
        let before = pending.bytes.len();
        if let Err(e) = record::frame(&RecordRef::from(change), &mut pending.bytes) {
            drop(pending);
            self.fail(&format!("cannot encode a change for the log: {e}"), true);
            return;
        }
        pending.total += (pending.bytes.len() - before) as u64;
        self.framed.store(pending.total, Ordering::Release);
    }
}

impl Drop for Disk {
    /// Writes and syncs what is left, whatever the policy: a node that
    /// stops in order loses nothing.
    fn drop(&mut self) {
        let _ = self.close();
    }
}

/// The sync thread: a round each [`SYNC_INTERVAL`] until the disk is
/// dropped.
fn sync_loop(disk: &Weak<Disk>, stopped: &Receiver<()>) {
    loop {
        match stopped.recv_timeout(SYNC_INTERVAL) {
            Err(RecvTimeoutError::Timeout) => {}
            _ => return,
        }
        let Some(disk) = disk.upgrade() else {
            return;
        };
        disk.sync_round();
    }
}
