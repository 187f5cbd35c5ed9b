//! Time as a node reads it: the stamps of new versions, the ages of
//! tombstones, and the check that a peer's version is not from the
//! future. One place, so that a virtual clock can take its place in tests
//! and the simulator.

/// Microseconds since the Unix epoch: the stamp of a new version.
pub fn now_micros() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
}
