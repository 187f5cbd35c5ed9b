//! Expiry times as clients give them, made absolute by this node's clock
//! before they leave for the owner: one place for every command that
//! takes one, queued in a transaction or not.

use crate::command::{Answer, Refusal, SetExpiry, When};
use crate::message::Expiry;
use crate::node::Node;

/// `when` as microseconds since the Unix epoch, by this node's clock, the
/// store's scale; a time before the epoch is the epoch, long passed, and a
/// time past the store's last microsecond is that one. `None`: out of the
/// range Redis takes ([`When::millis`]).
pub(super) fn time(node: &Node, when: When) -> Option<u64> {
    let now_ms = i64::try_from(node.config().clock.now_micros() / 1000).unwrap_or(i64::MAX);
    let ms = when.millis(now_ms)?;
    Some(u64::try_from(ms).unwrap_or(0).saturating_mul(1000))
}

/// What `SET`'s expiry options come to at the owner: a time given
/// relative to now made absolute by this node's clock.
pub(super) fn expiry_of(node: &Node, expiry: SetExpiry) -> Result<Expiry, Answer> {
    Ok(match expiry {
        SetExpiry::Clear => Expiry::Clear,
        SetExpiry::Keep => Expiry::Keep,
        SetExpiry::At(when) => {
            Expiry::At(time(node, when).ok_or(Answer::Refused(Refusal::BadTime {
                command: when.command,
            }))?)
        }
    })
}
