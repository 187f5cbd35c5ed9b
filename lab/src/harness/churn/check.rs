//! The churn harness's checker: what a read of a key, and the answer to an
//! increment, may be, given what was acknowledged before (see "The
//! checker" in the module above).

/// One key's history, as the checker knows it.
#[derive(Clone, Debug, Default)]
pub(super) struct KeyState {
    /// The last acknowledged write: `(sequence, value)`, `None` for a
    /// delete. `None` until something is acknowledged.
    acked: Option<(u64, Option<String>)>,
    /// Writes after it that failed and may or may not have happened.
    maybe: Vec<Option<String>>,
    /// When and through which node the last acknowledged write went, for
    /// the report of a stale read (to find it in the nodes' logs).
    pub(super) acked_at: String,
}

impl KeyState {
    /// Whether a read that returned `got` is as new as the last
    /// acknowledged write.
    pub(super) fn accepts(&self, got: &Option<String>) -> bool {
        let acked = self.acked.as_ref().map_or(&None, |(_, v)| v);
        got == acked || self.maybe.contains(got)
    }

    /// Whether a write of the key was acknowledged.
    pub(super) fn has_acknowledged(&self) -> bool {
        self.acked.is_some()
    }

    /// Whether a write of the key was tried, acknowledged or not.
    pub(super) fn was_written(&self) -> bool {
        self.acked.is_some() || !self.maybe.is_empty()
    }

    /// Write `sequence` (a value, or `None` for a delete) was
    /// acknowledged: nothing older is acceptable from now on.
    pub(super) fn acknowledged(&mut self, sequence: u64, value: Option<String>) {
        self.acked = Some((sequence, value));
        self.maybe.clear();
    }

    /// A write failed: it may or may not have happened, so its value is
    /// acceptable too, until a later write is acknowledged.
    pub(super) fn failed(&mut self, value: Option<String>) {
        self.maybe.push(value);
    }
}

/// One thread's counter, as the checker knows it: that thread alone
/// increments it, one `INCR` at a time.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Counter {
    /// Increments acknowledged.
    pub(super) acked: u64,
    /// Attempts that may or may not have counted: sent to a node that gave
    /// no answer, or answered with an error.
    pub(super) uncertain: u64,
    /// The largest sum an acknowledged increment answered.
    last: u64,
}

/// How a counter's value compares with what the checker allows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Count {
    /// Within bounds.
    Right,
    /// Below the acknowledged increments (or not above an earlier
    /// answer): an increment was lost.
    Lost,
    /// Above every increment that may have counted: one counted twice.
    Twice,
}

impl Counter {
    /// Where a sum read now stands.
    pub(super) fn judge(&self, sum: u64) -> Count {
        if sum < self.acked {
            Count::Lost
        } else if sum > self.acked + self.uncertain {
            Count::Twice
        } else {
            Count::Right
        }
    }

    /// An increment answered `sum`, after `unanswered` of its attempts
    /// got no answer; where that answer stands.
    pub(super) fn acknowledged(&mut self, sum: u64, unanswered: u64) -> Count {
        self.acked += 1;
        self.uncertain += unanswered;
        let count = match self.judge(sum) {
            Count::Right if sum <= self.last => Count::Lost,
            count => count,
        };
        self.last = self.last.max(sum);
        count
    }

    /// An increment failed after `attempts` attempts that may have counted.
    pub(super) fn failed(&mut self, attempts: u64) {
        self.uncertain += attempts;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn some(v: &str) -> Option<String> {
        Some(v.to_string())
    }

    #[test]
    fn a_read_must_be_as_new_as_the_last_acknowledged_write() {
        let mut key = KeyState::default();
        // Nothing written: only NOT_FOUND is right.
        assert!(key.accepts(&None));
        assert!(!key.accepts(&some("0.1")));
        key.acknowledged(1, some("0.1"));
        assert!(key.accepts(&some("0.1")));
        assert!(!key.accepts(&None), "NOT_FOUND after an acknowledged write");
        key.acknowledged(2, some("0.2"));
        assert!(!key.accepts(&some("0.1")), "an older value is stale");
        // A delete, acknowledged: only NOT_FOUND again.
        key.acknowledged(3, None);
        assert!(key.accepts(&None));
        assert!(!key.accepts(&some("0.2")));
    }

    #[test]
    fn a_counter_counts_each_acknowledged_increment_once() {
        let mut counter = Counter::default();
        assert_eq!(counter.judge(0), Count::Right);
        assert_eq!(counter.acknowledged(1, 0), Count::Right);
        assert_eq!(counter.acknowledged(2, 0), Count::Right);
        assert_eq!(counter.judge(1), Count::Lost);
        assert_eq!(counter.judge(3), Count::Twice);
        // An answer must move past the last one.
        let mut again = counter;
        assert_eq!(again.acknowledged(2, 1), Count::Lost);
        assert_eq!(counter.acknowledged(4, 0), Count::Twice);
    }

    #[test]
    fn an_increment_that_got_no_answer_may_have_counted() {
        let mut counter = Counter::default();
        counter.acknowledged(1, 0);
        counter.failed(1);
        // One attempt unanswered, then acknowledged: 3 at most.
        assert_eq!(counter.acknowledged(3, 1), Count::Right);
        assert_eq!((counter.acked, counter.uncertain), (2, 2));
        for sum in 2..=4 {
            assert_eq!(counter.judge(sum), Count::Right, "{sum}");
        }
        assert_eq!(counter.judge(5), Count::Twice);
        assert_eq!(counter.judge(1), Count::Lost);
    }

    #[test]
    fn a_failed_write_may_or_may_not_have_happened() {
        let mut key = KeyState::default();
        key.acknowledged(1, some("0.1"));
        key.failed(some("0.2"));
        key.failed(None);
        // The acknowledged value, or either failed write, is right...
        for got in [some("0.1"), some("0.2"), None] {
            assert!(key.accepts(&got), "{got:?}");
        }
        assert!(!key.accepts(&some("0.9")), "a value never written");
        // ...until a later write is acknowledged.
        key.acknowledged(4, some("0.4"));
        for got in [some("0.1"), some("0.2"), None] {
            assert!(!key.accepts(&got), "{got:?}");
        }
    }
}
