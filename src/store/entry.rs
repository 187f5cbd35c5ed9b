//! One key's entry: its value (or a tombstone), the version that orders
//! its writes, and when it expires. This is what a [`super::Store`] holds
//! for a key and what travels between nodes in an [`Item`]; the rules
//! that make copies converge (a higher version wins, and at one version a
//! tombstone does: [`Entry::supersedes`]) live here, beside the data.

use serde::{Deserialize, Serialize};

use super::{Key, UpdateId, ENTRY_OVERHEAD};

/// Orders the writes to one key: the owner's clock, then the writer.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct Version {
    /// Microseconds since the Unix epoch at the owner, raised past the
    /// previous version of the key, so it grows with every write.
    pub stamp: u64,
    /// The writing node, to break ties between two nodes that both believed
    /// they owned the key at the same microsecond.
    pub writer: u64,
}

/// What a write leaves at a key: the value (`None`: deleted) and when it
/// expires (`None`: never), as in [`Entry`].
pub type Content = (Option<Vec<u8>>, Option<u64>);

/// A stored value, or a tombstone, and the version that orders it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// The value as the client wrote it; `None` for a deleted key.
    #[serde(with = "serde_bytes")]
    pub value: Option<Vec<u8>>,
    /// The higher version wins.
    pub version: Version,
    /// When the value expires, in microseconds since the Unix epoch (the
    /// scale of [`Version::stamp`]); `None`: never. Setting or clearing it
    /// is a write like any other, with a new version.
    pub expires: Option<u64>,
    /// The update that wrote this version, if an update did (`INCR`,
    /// `SET NX`...). It travels with the entry to the replicas, through
    /// repair and hand-over, so that a node that becomes the key's owner
    /// between two attempts at that update answers the retry instead of
    /// applying it again (see `store/applied.rs`). 16 bytes in every
    /// entry, and no allocation.
    pub update: Option<UpdateId>,
}

impl Entry {
    /// Whether this entry records a delete, or an expired value the store
    /// has since emptied.
    pub fn is_tombstone(&self) -> bool {
        self.value.is_none()
    }

    /// Whether the key has a value at `now` (microseconds since the
    /// epoch): not deleted, and not expired.
    pub fn is_live(&self, now: u64) -> bool {
        self.value.is_some() && !self.has_expired(now)
    }

    /// [`Entry::is_live`], reading the time (`now`) only when the value
    /// has an expiry. Most values never expire, and on a GET's path a
    /// clock read is a measurable share of the work.
    pub fn is_live_then(&self, now: impl FnOnce() -> u64) -> bool {
        self.value.is_some() && self.expires.is_none_or(|at| at > now())
    }

    /// Whether the entry's expiry time has passed at `now`.
    pub fn has_expired(&self, now: u64) -> bool {
        self.expires.is_some_and(|at| at <= now)
    }

    /// Whether a copy of this entry replaces `held`: its version is
    /// higher, or the same and it is a tombstone while `held` is not. Two
    /// entries of one version are one write, and that write left a
    /// tombstone only if its value expired and a node emptied it (a
    /// delete has a version of its own); so the emptied copy wins, and
    /// the other holders need not wait for their own collect to agree.
    pub fn supersedes(&self, held: &Entry) -> bool {
        match self.version.cmp(&held.version) {
            std::cmp::Ordering::Greater => true,
            std::cmp::Ordering::Equal => self.is_tombstone() && !held.is_tombstone(),
            std::cmp::Ordering::Less => false,
        }
    }

    /// Whether this is a tombstone older than `horizon`: collected, and not
    /// worth sending or keeping. An expired value counts from its expiry.
    pub(super) fn collectable(&self, horizon: u64) -> bool {
        let since = self.version.stamp.max(self.expires.unwrap_or(0));
        self.is_tombstone() && since < horizon
    }

    /// The size this entry adds to a chunk, roughly its bytes on the wire.
    pub(super) fn size(&self, key: &[u8]) -> usize {
        key.len() + self.value.as_ref().map_or(0, Vec::len) + 32
    }

    /// The bytes this entry counts for in a store.
    pub(super) fn cost(&self, key: &[u8]) -> usize {
        key.len() + self.value.as_ref().map_or(0, Vec::len) + ENTRY_OVERHEAD
    }
}

impl Item {
    /// Roughly its bytes on the wire: what chunk limits count.
    pub fn size(&self) -> usize {
        self.entry.size(&self.key)
    }
}

/// A key with its stored entry, as it travels between nodes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Item {
    /// The key, as the client wrote it.
    pub key: Key,
    /// Its value and version.
    pub entry: Entry,
}
