//! Time and chance as a node reads them, injected so that a run can be
//! repeated: the [`SystemClock`] in production, a [`VirtualClock`] in the
//! in-memory tests and the simulator, where time moves only when the
//! driver says so and every random number comes from a seed.
//!
//! A node reads time for the stamps of new versions, the ages of
//! tombstones, the check that a peer's version is not from the future,
//! and the deadlines and pauses of a client request that retries while
//! the ring moves; and chance for the incarnation number that tells a
//! restarted process from the one before it. Sockets keep their own real
//! timeouts: they exist only in production.

use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use crate::rng::Rng;

/// Where a node reads the time and draws random numbers.
pub trait Clock: Send + Sync + fmt::Debug {
    /// Microseconds since the Unix epoch: the stamp of a new version.
    fn now_micros(&self) -> u64;

    /// Time since some fixed start, never going back: for deadlines.
    fn elapsed(&self) -> Duration;

    /// Waits for `pause`; a virtual clock moves on by it instead.
    fn sleep(&self, pause: Duration);

    /// A random number.
    fn random(&self) -> u64;
}

/// The machine's clocks and the operating system's randomness.
#[derive(Debug)]
pub struct SystemClock {
    start: Instant,
}

impl SystemClock {
    /// The real clock.
    pub fn new() -> SystemClock {
        SystemClock {
            start: Instant::now(),
        }
    }
}

impl Default for SystemClock {
    fn default() -> SystemClock {
        SystemClock::new()
    }
}

impl Clock for SystemClock {
    fn now_micros(&self) -> u64 {
        now_micros()
    }

    fn elapsed(&self) -> Duration {
        self.start.elapsed()
    }

    fn sleep(&self, pause: Duration) {
        std::thread::sleep(pause);
    }

    fn random(&self) -> u64 {
        std::collections::hash_map::RandomState::new()
            .build_hasher()
            .finish()
    }
}

/// Microseconds since the Unix epoch, by the machine's clock.
pub fn now_micros() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
}

/// A clock that moves only when told to ([`VirtualClock::advance`], or a
/// node's [`Clock::sleep`]), with seeded randomness: the same seed and the
/// same steps give the same run.
#[derive(Debug)]
pub struct VirtualClock {
    /// Microseconds since the start.
    elapsed: AtomicU64,
    /// What `now_micros` reads at the start.
    epoch: u64,
    /// Held only to draw a number.
    rng: Mutex<Rng>,
}

impl VirtualClock {
    /// The Unix time, in microseconds, at which every virtual clock
    /// starts: 2026-01-01T00:00:00Z.
    pub const EPOCH: u64 = 1_767_225_600_000_000;

    /// A clock at [`VirtualClock::EPOCH`] whose random numbers come from
    /// `seed`.
    pub fn new(seed: u64) -> VirtualClock {
        VirtualClock {
            elapsed: AtomicU64::new(0),
            epoch: Self::EPOCH,
            rng: Mutex::new(Rng::new(seed)),
        }
    }

    /// Moves the clock on by `step`.
    pub fn advance(&self, step: Duration) {
        let micros = u64::try_from(step.as_micros()).unwrap_or(u64::MAX);
        self.elapsed.fetch_add(micros, Ordering::SeqCst);
    }
}

impl Clock for VirtualClock {
    fn now_micros(&self) -> u64 {
        self.epoch
            .saturating_add(self.elapsed.load(Ordering::SeqCst))
    }

    fn elapsed(&self) -> Duration {
        Duration::from_micros(self.elapsed.load(Ordering::SeqCst))
    }

    fn sleep(&self, pause: Duration) {
        self.advance(pause);
    }

    fn random(&self) -> u64 {
        self.rng.lock().next_u64()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_virtual_clock_moves_only_when_told_and_repeats_for_a_seed() {
        let clock = VirtualClock::new(7);
        assert_eq!(clock.now_micros(), VirtualClock::EPOCH);
        clock.sleep(Duration::from_millis(5));
        clock.advance(Duration::from_secs(1));
        assert_eq!(clock.elapsed(), Duration::from_millis(1005));
        assert_eq!(clock.now_micros(), VirtualClock::EPOCH + 1_005_000);
        let again = VirtualClock::new(7);
        assert_eq!(
            (clock.random(), clock.random()),
            (again.random(), again.random())
        );
    }

    #[test]
    fn the_system_clock_is_the_machines() {
        let clock = SystemClock::new();
        let before = now_micros();
        let read = clock.now_micros();
        assert!(read >= before && read - before < 1_000_000);
        assert_ne!(clock.random(), clock.random());
    }
}
