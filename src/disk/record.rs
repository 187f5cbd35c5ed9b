//! The records of a data directory's files, how each is framed, and how a
//! file is read back: to its end, to a torn last record, or to damage.
//!
//! A file (a log or a snapshot) is a run of records. Each is framed as
//!
//! ```text
//! length: u32 LE | CRC-32 of the length: u32 LE | CRC-32 of the body: u32 LE | body
//! ```
//!
//! with a [`Record`] in postcard as the body. The length has a check of its
//! own so that a damaged length is told from a record cut short: a record
//! whose length checks out but runs past the end of the file was being
//! written when the process or the machine stopped (a *torn* record), while
//! a length that fails its check, with more than zeros after it, is damage.
//! A record whose body fails its check is torn if it is the file's last
//! (its body reached the disk only in part), damage if others follow.

use std::io::{self, Read};

use serde::{Deserialize, Serialize};

use crate::store::{Change, Entry, MAX_KEY, MAX_VALUE};

/// The version of this file format, in every file's header.
pub const FORMAT: u32 = 1;

/// The bytes of a record's frame before its body.
pub const FRAME: usize = 12;

/// The longest body a record may have: the longest key and value, with room
/// for the entry's other fields.
pub const MAX_BODY: usize = MAX_KEY + MAX_VALUE + 1024;

/// What a file is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Kind {
    /// Changes, in the order the store made them.
    Log,
    /// Every entry of the store, read while it kept changing (the log of
    /// the same generation has every change made meanwhile).
    Snapshot,
}

/// The first record of every file: what wrote it, so that a directory is
/// never read by a node of another ring.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    /// [`FORMAT`].
    pub format: u32,
    /// A log or a snapshot.
    pub kind: Kind,
    /// The file's generation (see [`super`]).
    pub generation: u64,
    /// The ring's m.
    pub bits: u8,
    /// A fingerprint of the ring's cluster secret (`None`: no secret), so
    /// that a directory of one ring is not loaded into another.
    pub ring: Option<[u8; 32]>,
}

/// One record, as read back.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub enum Record {
    /// The file's header: always first.
    Header(Header),
    /// `key` holds `entry`.
    Put {
        /// The key.
        #[serde(with = "serde_bytes")]
        key: Vec<u8>,
        /// Its entry: a value or a tombstone, with its version.
        entry: Entry,
    },
    /// `key` is no longer held.
    Remove {
        /// The key.
        #[serde(with = "serde_bytes")]
        key: Vec<u8>,
    },
    /// The flush watermark rose to `through`.
    Flush {
        /// The watermark.
        through: u64,
    },
    /// The end of a snapshot, with how many `Put`s it holds: a snapshot
    /// without it is incomplete.
    End {
        /// How many entries the snapshot holds.
        puts: u64,
    },
}

/// A record to write: [`Record`] by reference, encoded the same way (the
/// variants in the same order), so that writing copies nothing first.
#[derive(Serialize)]
pub enum RecordRef<'a> {
    /// See [`Record::Header`].
    Header(&'a Header),
    /// See [`Record::Put`].
    Put {
        /// The key.
        #[serde(with = "serde_bytes")]
        key: &'a [u8],
        /// Its entry.
        entry: &'a Entry,
    },
    /// See [`Record::Remove`].
    Remove {
        /// The key.
        #[serde(with = "serde_bytes")]
        key: &'a [u8],
    },
    /// See [`Record::Flush`].
    Flush {
        /// The watermark.
        through: u64,
    },
    /// See [`Record::End`].
    End {
        /// How many entries the snapshot holds.
        puts: u64,
    },
}

impl<'a> From<Change<'a>> for RecordRef<'a> {
    fn from(change: Change<'a>) -> RecordRef<'a> {
        match change {
            Change::Put { key, entry } => RecordRef::Put { key, entry },
            Change::Remove { key } => RecordRef::Remove { key },
            Change::Flush { through } => RecordRef::Flush { through },
        }
    }
}

/// Appends `record`, framed, to `out`.
///
/// # Errors
/// The encoder's, which only an entry too large for a record gives.
pub fn frame(record: &RecordRef<'_>, out: &mut Vec<u8>) -> Result<(), postcard::Error> {
    let start = out.len();
    out.extend_from_slice(&[0; FRAME]);
    let encoded = postcard::to_io(record, &mut *out).map(|_| ());
    let len = out.len() - start - FRAME;
    match encoded {
        Ok(()) if len <= MAX_BODY => {}
        // Leave what was framed before untouched.
        Ok(_) => {
            out.truncate(start);
            return Err(postcard::Error::SerializeBufferFull);
        }
        Err(e) => {
            out.truncate(start);
            return Err(e);
        }
    }
    let len_bytes = (len as u32).to_le_bytes();
    let body_crc = crc32fast::hash(&out[start + FRAME..]);
    out[start..start + 4].copy_from_slice(&len_bytes);
    out[start + 4..start + 8].copy_from_slice(&crc32fast::hash(&len_bytes).to_le_bytes());
    out[start + 8..start + 12].copy_from_slice(&body_crc.to_le_bytes());
    Ok(())
}

/// How reading a file ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum End {
    /// At the end of the file, after a whole record.
    Clean,
    /// At a record cut short, at byte `at`: what a crash while writing
    /// leaves. Everything before `at` was read.
    Torn {
        /// Where the torn record starts.
        at: u64,
    },
    /// At damage, at byte `at`, with more of the file after it.
    Damaged {
        /// Where the damaged record starts.
        at: u64,
        /// What was wrong.
        why: String,
    },
}

/// Reads the records of a file of `len` bytes from `reader`, giving each
/// to `each` in order, and says how the file ended. Stops early when
/// `each` fails, with its error.
///
/// # Errors
/// A read that fails, or `each`'s error.
pub fn read<R: Read, E: From<io::Error>>(
    mut reader: R,
    len: u64,
    mut each: impl FnMut(Record) -> Result<(), E>,
) -> Result<End, E> {
    let mut at = 0u64;
    let mut body = Vec::new();
    loop {
        let left = len - at;
        if left == 0 {
            return Ok(End::Clean);
        }
        if left < FRAME as u64 {
            return Ok(End::Torn { at });
        }
        let mut frame = [0u8; FRAME];
        reader.read_exact(&mut frame)?;
        let word =
            |i: usize| u32::from_le_bytes([frame[i], frame[i + 1], frame[i + 2], frame[i + 3]]);
        let (body_len, len_crc, body_crc) = (word(0), word(4), word(8));
        if crc32fast::hash(&frame[..4]) != len_crc {
            // A file the filesystem extended with zeros, past what was
            // written before a crash, is torn; anything else is damage.
            let rest_zero =
                frame.iter().all(|&b| b == 0) && zeros(&mut reader, left - FRAME as u64)?;
            return Ok(if rest_zero {
                End::Torn { at }
            } else {
                End::Damaged {
                    at,
                    why: "a record's length fails its check".into(),
                }
            });
        }
        let body_len = body_len as usize;
        if body_len > MAX_BODY {
            return Ok(End::Damaged {
                at,
                why: format!("a record claims {body_len} bytes, more than any record has"),
            });
        }
        if (FRAME + body_len) as u64 > left {
            return Ok(End::Torn { at });
        }
        body.resize(body_len, 0);
        reader.read_exact(&mut body)?;
        let last = (FRAME + body_len) as u64 == left;
        if crc32fast::hash(&body) != body_crc {
            return Ok(if last {
                End::Torn { at }
            } else {
                End::Damaged {
                    at,
                    why: "a record's bytes fail their check".into(),
                }
            });
        }
        match postcard::from_bytes::<Record>(&body) {
            Ok(record) => each(record)?,
            Err(e) => {
                return Ok(End::Damaged {
                    at,
                    why: format!("a record checks out but is not one this version reads: {e}"),
                })
            }
        }
        at += (FRAME + body_len) as u64;
    }
}

/// Whether the next `count` bytes of `reader` are all zero.
fn zeros<R: Read>(reader: &mut R, count: u64) -> io::Result<bool> {
    let mut buf = [0u8; 8192];
    let mut left = count;
    while left > 0 {
        let n = left.min(buf.len() as u64) as usize;
        reader.read_exact(&mut buf[..n])?;
        if buf[..n].iter().any(|&b| b != 0) {
            return Ok(false);
        }
        left -= n as u64;
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Version;

    fn entry(value: &str, stamp: u64) -> Entry {
        Entry {
            value: Some(value.as_bytes().to_vec()),
            version: Version { stamp, writer: 3 },
            expires: Some(stamp + 1_000),
            update: None,
        }
    }

    fn header() -> Header {
        Header {
            format: FORMAT,
            kind: Kind::Log,
            generation: 4,
            bits: 160,
            ring: Some([7; 32]),
        }
    }

    /// A log of a header and `n` puts; the offsets where each record
    /// starts.
    fn log(n: u64) -> (Vec<u8>, Vec<usize>) {
        let mut bytes = Vec::new();
        let mut starts = vec![0];
        frame(&RecordRef::Header(&header()), &mut bytes).expect("a header encodes");
        for i in 0..n {
            starts.push(bytes.len());
            let key = format!("key{i}");
            let e = entry(&"v".repeat(i as usize), 100 + i);
            frame(
                &RecordRef::Put {
                    key: key.as_bytes(),
                    entry: &e,
                },
                &mut bytes,
            )
            .expect("encodes");
        }
        (bytes, starts)
    }

    fn read_all(bytes: &[u8]) -> (Vec<Record>, End) {
        let mut records = Vec::new();
        let end = read::<_, io::Error>(bytes, bytes.len() as u64, |r| {
            records.push(r);
            Ok(())
        })
        .expect("reading memory does not fail");
        (records, end)
    }

    #[test]
    fn records_read_back_as_they_were_written() {
        let mut bytes = Vec::new();
        let e = entry("hello", 5);
        let tomb = Entry {
            value: None,
            ..entry("", 6)
        };
        for write in [
            RecordRef::Header(&header()),
            RecordRef::Put {
                key: b"a",
                entry: &e,
            },
            RecordRef::Put {
                key: b"b",
                entry: &tomb,
            },
            RecordRef::Remove { key: b"a" },
            RecordRef::Flush { through: 9 },
            RecordRef::End { puts: 2 },
        ] {
            frame(&write, &mut bytes).expect("encodes");
        }
        let (records, end) = read_all(&bytes);
        assert_eq!(end, End::Clean);
        assert_eq!(
            records,
            vec![
                Record::Header(header()),
                Record::Put {
                    key: b"a".to_vec(),
                    entry: e
                },
                Record::Put {
                    key: b"b".to_vec(),
                    entry: tomb
                },
                Record::Remove { key: b"a".to_vec() },
                Record::Flush { through: 9 },
                Record::End { puts: 2 },
            ]
        );
    }

    #[test]
    fn a_log_cut_at_any_byte_of_its_last_records_reads_to_the_last_whole_one() {
        let (bytes, starts) = log(6);
        let from = starts[starts.len() - 3];
        for cut in from..=bytes.len() {
            let (records, end) = read_all(&bytes[..cut]);
            let whole = starts.iter().filter(|&&s| s < cut).count();
            // The records that end at or before the cut are all read.
            let complete = starts
                .iter()
                .skip(1)
                .chain(std::iter::once(&bytes.len()))
                .filter(|&&e| e <= cut)
                .count();
            assert_eq!(records.len(), complete, "cut at {cut}");
            if complete == whole {
                assert_eq!(end, End::Clean, "cut at {cut}");
            } else {
                assert_eq!(
                    end,
                    End::Torn {
                        at: starts[complete] as u64
                    },
                    "cut at {cut}"
                );
            }
        }
    }

    #[test]
    fn a_tail_of_zeros_is_torn_but_a_changed_byte_before_the_end_is_damage() {
        let (mut bytes, starts) = log(5);
        let len = bytes.len();
        bytes.extend_from_slice(&[0; 100]);
        let (records, end) = read_all(&bytes);
        assert_eq!((records.len(), end), (6, End::Torn { at: len as u64 }));

        for place in [starts[2] + 1, starts[3] + 5, starts[3] + FRAME + 2] {
            let (mut bytes, _) = log(5);
            bytes[place] ^= 0x40;
            let (records, end) = read_all(&bytes);
            let record = starts
                .iter()
                .rposition(|&s| s <= place)
                .expect("in a record");
            assert_eq!(records.len(), record, "damage at {place}");
            assert!(
                matches!(end, End::Damaged { at, .. } if at == starts[record] as u64),
                "damage at {place}: {end:?}"
            );
        }
    }

    #[test]
    fn the_last_record_with_a_changed_body_is_torn() {
        let (mut bytes, starts) = log(3);
        let last = *starts.last().expect("records");
        let end = bytes.len() - 1;
        bytes[end] ^= 1;
        let (records, how) = read_all(&bytes);
        assert_eq!((records.len(), how), (3, End::Torn { at: last as u64 }));
    }
}
