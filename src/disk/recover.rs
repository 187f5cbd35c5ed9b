//! Opening a data directory: its lock, its files, and loading them back
//! into a store, by the rules of "Recovery" in the module above.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write as _};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use log::warn;

use super::record::{self, End, Header, Kind, Record, RecordRef};
use super::DataDir;
use crate::error::{Error, Result};
use crate::id::IdSpace;
use crate::store::Store;

/// The files of a data directory, by generation.
#[derive(Debug, Default)]
pub(super) struct Files {
    pub(super) logs: Vec<u64>,
    pub(super) snapshots: Vec<u64>,
    /// The newest complete snapshot.
    pub(super) snapshot: Option<u64>,
    /// The highest generation of any file (0: none).
    pub(super) newest: u64,
}

impl Files {
    /// Lists `dir`, sorted, removing the snapshots a compaction left
    /// unfinished.
    pub(super) fn list(dir: &Path) -> io::Result<Files> {
        let mut files = Files::default();
        for item in fs::read_dir(dir)? {
            let item = item?;
            let name = item.file_name();
            let Some(name) = name.to_str() else { continue };
            if name.starts_with("snapshot-") && name.ends_with(".tmp") {
                fs::remove_file(item.path())?;
                continue;
            }
            let number = |prefix: &str| name.strip_prefix(prefix)?.parse::<u64>().ok();
            if let Some(g) = number("log-") {
                files.logs.push(g);
            } else if let Some(g) = number("snapshot-") {
                files.snapshots.push(g);
            }
        }
        files.logs.sort_unstable();
        files.snapshots.sort_unstable();
        files.snapshot = files.snapshots.last().copied();
        files.newest = files
            .logs
            .iter()
            .chain(&files.snapshots)
            .copied()
            .max()
            .unwrap_or(0);
        Ok(files)
    }
}

/// Takes the directory's lock, and writes this process's id in it.
pub(super) fn lock(dir: &Path) -> Result<File> {
    let path = dir.join("LOCK");
    let io = |source| Error::Io {
        context: format!("opening {}", path.display()),
        source,
    };
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(&path)
        .map_err(io)?;
    match file.try_lock() {
        Ok(()) => {}
        Err(fs::TryLockError::WouldBlock) => {
            let holder = fs::read_to_string(&path).unwrap_or_default();
            return Err(Error::Config(format!(
                "the data directory {} is in use by another node (process {}); give each node \
                 its own --data-dir",
                dir.display(),
                holder.trim()
            )));
        }
        Err(fs::TryLockError::Error(e)) => return Err(io(e)),
    }
    file.set_len(0).map_err(io)?;
    writeln!(file, "{}", std::process::id()).map_err(io)?;
    Ok(file)
}

/// Creates `log-G` of `header`'s generation with its header, synced with
/// the directory.
pub(super) fn new_log(dir: &Path, header: &Header) -> io::Result<File> {
    let path = dir.join(format!("log-{}", header.generation));
    let mut file = private_file(&path)?;
    let mut bytes = Vec::new();
    record::frame(&RecordRef::Header(header), &mut bytes).map_err(io::Error::other)?;
    file.write_all(&bytes)?;
    file.sync_all()?;
    sync_dir(dir)?;
    Ok(file)
}

/// Opens `path` to write, made if missing, readable by this user alone
/// (it holds keys and values), and emptied.
pub(super) fn private_file(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .mode(0o600)
        .open(path)
}

/// Syncs a directory, so that the files made or renamed in it stay.
pub(super) fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

pub(super) fn size(path: &Path) -> u64 {
    fs::metadata(path).map_or(0, |m| m.len())
}

/// Checks a file's header against the node's.
fn check_header(
    path: &Path,
    found: &Header,
    ours: &Header,
    kind: Kind,
    generation: u64,
) -> Result<()> {
    let wrong = |why: String| Err(Error::Config(format!("{}: {why}", path.display())));
    if found.format != record::FORMAT {
        return wrong(format!(
            "written in format {} of this program's files, and this version reads format {}",
            found.format,
            record::FORMAT
        ));
    }
    if found.kind != kind || found.generation != generation {
        return wrong(format!(
            "its header says {:?} of generation {}, not its name; the file was moved or altered",
            found.kind, found.generation
        ));
    }
    if found.bits != ours.bits {
        return wrong(format!(
            "written by a node with --bits {}; start this node with --bits {} or another --data-dir",
            found.bits, found.bits
        ));
    }
    if found.ring != ours.ring {
        let secret = |ring: &Option<[u8; 32]>| match ring {
            Some(_) => "with a cluster secret",
            None => "without a cluster secret",
        };
        return wrong(format!(
            "written by a node of another ring ({}; this node runs {}); give it the same \
             cluster secret, or another --data-dir",
            secret(&found.ring),
            secret(&ours.ring)
        ));
    }
    Ok(())
}

/// Puts one record read back into `store`.
fn apply(record: Record, space: IdSpace, store: &mut Store) {
    match record {
        Record::Put { key, entry } => store.restore(space.key(&key), key, Some(entry)),
        Record::Remove { key } => store.restore(space.key(&key), key, None),
        Record::Flush { through } => {
            store.flush(through);
        }
        Record::Header(_) | Record::End { .. } => {}
    }
}

/// What reading one file gave.
struct Read {
    end: End,
    /// Records read, the header included.
    records: u64,
    /// The snapshot's `End` count, if it had one.
    puts: Option<u64>,
    /// `Put` records read.
    put_records: u64,
}

/// Reads the file at `path` into `store`, checking its header.
fn read_file(
    path: &Path,
    ours: &Header,
    kind: Kind,
    generation: u64,
    space: IdSpace,
    store: &mut Store,
) -> Result<Read> {
    let io = |source| Error::Io {
        context: format!("reading {}", path.display()),
        source,
    };
    let file = File::open(path).map_err(io)?;
    let len = file.metadata().map_err(io)?.len();
    let mut read = Read {
        end: End::Clean,
        records: 0,
        puts: None,
        put_records: 0,
    };
    let reader = io::BufReader::with_capacity(1 << 20, file);
    read.end = record::read(reader, len, |record| -> std::result::Result<(), Stop> {
        if read.records == 0 {
            let Record::Header(found) = &record else {
                return Err(Stop::Refused(Error::Config(format!(
                    "{}: the file does not start with a header; it is not this program's",
                    path.display()
                ))));
            };
            check_header(path, found, ours, kind, generation).map_err(Stop::Refused)?;
        }
        match record {
            Record::End { puts } => read.puts = Some(puts),
            Record::Put { .. } => read.put_records += 1,
            _ => {}
        }
        read.records += 1;
        apply(record, space, store);
        Ok(())
    })
    .map_err(|e| match e {
        Stop::Read(source) => io(source),
        Stop::Refused(e) => e,
    })?;
    Ok(read)
}

/// Why reading a file stopped early.
enum Stop {
    Read(io::Error),
    Refused(Error),
}

impl From<io::Error> for Stop {
    fn from(e: io::Error) -> Stop {
        Stop::Read(e)
    }
}

/// Loads `snapshot-G`, checking that it is whole.
pub(super) fn load_snapshot(
    path: &Path,
    generation: u64,
    ours: &Header,
    space: IdSpace,
    store: &mut Store,
) -> Result<()> {
    let read = read_file(path, ours, Kind::Snapshot, generation, space, store)?;
    match (read.end, read.puts) {
        (End::Clean, Some(puts)) if puts == read.put_records => Ok(()),
        (end, _) => Err(Error::Config(format!(
            "{}: the snapshot is incomplete or damaged ({end:?}), though it was synced before \
             it was named; move the data directory away to start this node empty (the ring \
             then copies its keys back from the replicas)",
            path.display()
        ))),
    }
}

/// Replays `log-G`, cutting off a torn last record, and damage too when
/// the node was started to keep what precedes it.
pub(super) fn replay_log(
    path: &Path,
    generation: u64,
    ours: &Header,
    config: &DataDir,
    space: IdSpace,
    store: &mut Store,
) -> Result<()> {
    let read = read_file(path, ours, Kind::Log, generation, space, store)?;
    let cut = |at: u64| -> Result<()> {
        let file = OpenOptions::new().write(true).open(path);
        file.and_then(|f| {
            f.set_len(at)?;
            f.sync_all()
        })
        .map_err(|source| Error::Io {
            context: format!("cutting {} at byte {at}", path.display()),
            source,
        })
    };
    match read.end {
        End::Clean => Ok(()),
        End::Torn { at } => {
            warn!(
                "{}: cut a torn last record at byte {at} (a crash while writing it), after {} records",
                path.display(),
                read.records
            );
            cut(at)
        }
        End::Damaged { at, why } if config.keep_before_damage => {
            warn!(
                "{}: damaged at byte {at} ({why}); kept the {} records before it and dropped the \
                 rest (--keep-before-damage): the ring copies back what this node misses",
                path.display(),
                read.records
            );
            cut(at)
        }
        End::Damaged { at, why } => Err(Error::Config(format!(
            "{}: damaged at byte {at}: {why}. {} records before it are whole. Start the node \
             with --keep-before-damage to keep them and drop the rest (the ring copies back \
             what this node then misses), or move the data directory away to start it empty",
            path.display(),
            read.records
        ))),
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;
    use std::sync::Arc;

    use super::super::{DataDir, Disk};
    use crate::id::IdSpace;
    use crate::store::{Change, Journal, Store};

    /// A fresh directory under the system's temporary one, removed when
    /// dropped.
    struct Scratch(PathBuf);

    impl Scratch {
        fn new(name: &str) -> Scratch {
            let path =
                std::env::temp_dir().join(format!("chord-disk-unit-{}-{name}", std::process::id()));
            let _ = std::fs::remove_dir_all(&path);
            Scratch(path)
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn space() -> IdSpace {
        IdSpace::new(16).expect("valid bits")
    }

    /// Opens `dir` into a new store with its journal attached.
    fn open(dir: &DataDir) -> crate::error::Result<(Arc<Disk>, Store)> {
        let mut store = Store::new();
        let disk = Disk::open(dir, space(), &mut store)?;
        store.set_journal(disk.clone());
        Ok((disk, store))
    }

    /// What `store` holds, as sorted text: key=value or key=- for a
    /// tombstone.
    fn contents(store: &Store) -> Vec<String> {
        let everything = space().id(0);
        let (items, _) = store.chunk(everything, everything, None, usize::MAX);
        let mut text: Vec<String> = items
            .iter()
            .map(|i| {
                let value = i
                    .entry
                    .value
                    .as_deref()
                    .map_or("-".into(), |v| String::from_utf8_lossy(v).into_owned());
                format!("{}={value}", String::from_utf8_lossy(&i.key))
            })
            .collect();
        text.sort();
        text
    }

    /// Writes `n` keys (then deletes key 0) into a store kept in `dir`,
    /// committing each; the log's bytes and where each record starts.
    fn write_log(dir: &DataDir, n: u64) -> (Vec<u8>, Vec<u64>) {
        let (disk, mut store) = open(dir).expect("a new directory opens");
        let s = space();
        let size = || std::fs::metadata(dir.path.join("log-1")).map_or(0, |m| m.len());
        let mut starts = Vec::new();
        for i in 0..=n {
            starts.push(size());
            let (key, value) = match i {
                i if i == n => ("k0".to_string(), None),
                i => (format!("k{i}"), Some(format!("v{i}").into_bytes())),
            };
            store
                .write(
                    s.key(key.as_bytes()),
                    key.as_bytes(),
                    (value, None),
                    100 + i,
                    1,
                )
                .expect("fits");
            disk.commit().expect("the log is written");
        }
        drop(store);
        drop(disk);
        let bytes = std::fs::read(dir.path.join("log-1")).expect("the log");
        (bytes, starts)
    }

    #[test]
    fn a_log_cut_at_every_byte_of_its_last_records_loads_every_whole_one() {
        let scratch = Scratch::new("cut");
        let dir = DataDir::new(&scratch.0);
        let (bytes, starts) = write_log(&dir, 6);
        let ends: Vec<u64> = starts
            .iter()
            .skip(1)
            .copied()
            .chain([bytes.len() as u64])
            .collect();
        for cut in starts[starts.len() - 3]..=bytes.len() as u64 {
            let _ = std::fs::remove_dir_all(&scratch.0);
            std::fs::create_dir_all(&scratch.0).expect("a directory");
            std::fs::write(scratch.0.join("log-1"), &bytes[..cut as usize]).expect("written");
            let (disk, store) = open(&dir).unwrap_or_else(|e| panic!("cut at {cut}: {e}"));
            let whole = ends.iter().filter(|&&e| e <= cut).count();
            let mut expected: Vec<String> =
                (0..whole.min(6)).map(|i| format!("k{i}=v{i}")).collect();
            if whole == 7 {
                expected[0] = "k0=-".into();
            }
            expected.sort();
            assert_eq!(contents(&store), expected, "cut at {cut}");
            let kept = std::fs::metadata(scratch.0.join("log-1"))
                .expect("kept")
                .len();
            let boundary = starts.iter().chain(&ends).filter(|&&b| b <= cut).max();
            assert_eq!(Some(&kept), boundary, "the torn record is cut off");
            drop(disk);
        }
    }

    #[test]
    fn damage_before_the_last_record_stops_the_node_unless_told_to_keep_what_precedes_it() {
        let scratch = Scratch::new("damage");
        let mut dir = DataDir::new(&scratch.0);
        let (mut bytes, starts) = write_log(&dir, 6);
        bytes[starts[3] as usize + 14] ^= 0x10;
        std::fs::write(scratch.0.join("log-1"), &bytes).expect("written");
        let refused = open(&dir).expect_err("a damaged log is refused");
        let message = refused.to_string();
        assert!(
            message.contains(&format!("damaged at byte {}", starts[3]))
                && message.contains("--keep-before-damage"),
            "{message}"
        );
        dir.keep_before_damage = true;
        let (_disk, store) = open(&dir).expect("kept up to the damage");
        assert_eq!(contents(&store), vec!["k0=v0", "k1=v1", "k2=v2"]);
    }

    #[test]
    fn a_directory_is_locked_and_tied_to_its_m_and_its_ring() {
        let scratch = Scratch::new("lock");
        let mut dir = DataDir::new(&scratch.0);
        dir.ring = Some([1; 32]);
        let (disk, store) = open(&dir).expect("opens");
        let taken = open(&dir).expect_err("held by the first");
        let pid = std::process::id().to_string();
        assert!(
            taken.to_string().contains("in use by another node")
                && taken.to_string().contains(&pid),
            "{taken}"
        );
        // The store's journal holds the disk too.
        drop((store, disk));
        let mut store = Store::new();
        let other_m =
            Disk::open(&dir, IdSpace::new(20).expect("bits"), &mut store).expect_err("another m");
        assert!(other_m.to_string().contains("--bits 16"), "{other_m}");
        dir.ring = Some([2; 32]);
        let other_ring = open(&dir).expect_err("another ring");
        assert!(
            other_ring.to_string().contains("another ring"),
            "{other_ring}"
        );
    }

    #[test]
    fn compaction_replaces_the_logs_with_a_snapshot_and_loses_no_change_made_meanwhile() {
        let scratch = Scratch::new("compact");
        let mut dir = DataDir::new(&scratch.0);
        dir.compact_at = 1;
        let (disk, mut store) = open(&dir).expect("opens");
        let s = space();
        let put = |store: &mut Store, key: &str, value: &str, now: u64| {
            let value = Some(value.as_bytes().to_vec());
            store
                .write(s.key(key.as_bytes()), key.as_bytes(), (value, None), now, 1)
                .expect("fits");
        };
        for round in 0..5u64 {
            for i in 0..50 {
                put(
                    &mut store,
                    &format!("k{i}"),
                    &format!("v{round}"),
                    10 * round + 1,
                );
            }
        }
        disk.commit().expect("written");
        assert!(disk.compaction_due());
        let everything = s.id(0);
        let store = std::cell::RefCell::new(store);
        let mut chunks = 0;
        disk.compact(
            || store.borrow().flushed(),
            |after| {
                chunks += 1;
                if chunks == 2 {
                    // A change while the snapshot is being read.
                    put(&mut store.borrow_mut(), "k0", "during", 999);
                }
                store.borrow().chunk(everything, everything, after, 256)
            },
        )
        .expect("compacts");
        assert!(chunks > 2, "read in several chunks");
        let mut store = store.into_inner();
        put(&mut store, "late", "x", 1_000);
        disk.commit().expect("written");
        let files: Vec<String> = std::fs::read_dir(&scratch.0)
            .expect("listed")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .filter(|name| name != "LOCK")
            .collect();
        let mut files = files;
        files.sort();
        assert_eq!(files, vec!["log-2", "snapshot-2"]);
        let before = contents(&store);
        drop(store);
        drop(disk);
        let (_disk, again) = open(&dir).expect("reopens");
        assert_eq!(contents(&again), before);
    }

    #[test]
    fn a_change_the_store_reports_is_framed_at_once_and_written_by_commit() {
        let scratch = Scratch::new("commit");
        let dir = DataDir::new(&scratch.0);
        let (disk, _store) = open(&dir).expect("opens");
        let before = disk.position();
        disk.record(Change::Flush { through: 5 });
        assert!(disk.position() > before);
        let size = || {
            std::fs::metadata(scratch.0.join("log-1"))
                .expect("log")
                .len()
        };
        let unwritten = size();
        disk.commit().expect("written");
        assert_eq!(size(), unwritten + (disk.position() - before));
        // Keys and values are for the node's user alone.
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &std::path::Path| std::fs::metadata(p).expect("there").permissions().mode();
        assert_eq!(mode(&scratch.0) & 0o777, 0o700);
        assert_eq!(mode(&scratch.0.join("log-1")) & 0o777, 0o600);
    }
}
