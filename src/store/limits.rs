//! How long a key and a value may be: the one check every client request
//! passes where it enters, in every protocol, and the limits the peer
//! protocol's checks use too; and what a store reports of its own bound.

/// The longest key, in bytes: 64 KiB.
pub const MAX_KEY: usize = 64 * 1024;

/// The longest value any node takes, in bytes: 512 MiB, Redis's own
/// ceiling (`proto-max-bulk-len`). The peer protocol checks values against
/// it; each node takes at most its own bound,
/// [`crate::config::NodeConfig::max_value`], [`DEFAULT_MAX_VALUE`] unless
/// raised.
pub const MAX_VALUE: usize = 512 * 1024 * 1024;

/// A node's value bound unless it was started with another: 16 MiB.
pub const DEFAULT_MAX_VALUE: usize = 16 * 1024 * 1024;

/// A key or value longer than the store takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TooLong {
    /// "key" or "value".
    pub what: &'static str,
    /// Its length in bytes.
    pub len: usize,
    /// The most allowed.
    pub max: usize,
}

impl std::fmt::Display for TooLong {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let TooLong { what, len, max } = self;
        write!(f, "{what} of {len} bytes is longer than the {max} allowed")
    }
}

impl std::error::Error for TooLong {}

/// Whether the store takes `key`: at most [`MAX_KEY`] bytes. The empty
/// key is a key, as in Redis. Every client request is checked here where
/// it enters, at the node a client talks to, so one request gets one
/// answer in every protocol and in a ring of any size; a peer's messages
/// are checked again on arrival ([`crate::message`]).
///
/// # Errors
/// [`TooLong`], naming the key's length and the limit.
pub fn check_key(key: &[u8]) -> Result<(), TooLong> {
    bounded("key", key.len(), MAX_KEY)
}

/// Whether a node whose bound is `max` takes `value`: at most `max`
/// bytes. The empty value is a value, as in Redis.
///
/// # Errors
/// [`TooLong`], naming the value's length and the limit.
pub fn check_value(value: &[u8], max: usize) -> Result<(), TooLong> {
    bounded("value", value.len(), max)
}

fn bounded(what: &'static str, len: usize, max: usize) -> Result<(), TooLong> {
    if len > max {
        return Err(TooLong { what, len, max });
    }
    Ok(())
}

/// A write refused because the store is full.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Full {
    /// The bytes held, as the store counts them.
    pub used: usize,
    /// The limit the write would have crossed.
    pub limit: usize,
}

impl std::fmt::Display for Full {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        const MIB: f64 = 1024.0 * 1024.0;
        write!(
            f,
            "holds {:.1} MiB of its {:.1} MiB",
            self.used as f64 / MIB,
            self.limit as f64 / MIB
        )
    }
}

/// What a store holds, as [`super::Store::usage`] reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Usage {
    /// Keys with a value, an expired one included until it is emptied.
    pub keys: usize,
    /// Entries, tombstones included.
    pub entries: usize,
    /// Values with an expiry time.
    pub expiring: usize,
    /// The bytes held, roughly (see [`super::ENTRY_OVERHEAD`]).
    pub bytes: usize,
    /// The bound client writes stop at (`--max-memory`).
    pub limit: usize,
}
