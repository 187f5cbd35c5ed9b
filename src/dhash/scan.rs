//! A scan of the whole ring's keys, for Redis's `SCAN`: it walks the
//! owners' arcs in identifier order, a piece of one arc per call, so each
//! key is seen once. As with Redis, a key that moves between owners while
//! a scan runs may be seen twice, and one written meanwhile may be missed;
//! a key that exists for the whole scan is always seen.
//!
//! The cursor is a scan position: the top 64 bits of an identifier
//! ([`Id::position`]). A call reads the keys of the owner of the cursor's
//! identifier from there to the owner's own identifier (at most one chunk),
//! and returns the position to go on from; 0 when the scan has come round.

use super::{Dhash, CHUNK_BYTES};
use crate::chord::ring::call_error;
use crate::error::Result;
use crate::id::Id;

impl Dhash {
    /// The keys of the whole ring that match `pattern` (every key without
    /// one), sorted, at most `limit` of them; and whether that is all of
    /// them. A scan to the end, stopped early once `limit` are found, so
    /// that a stranger's `KEYS *` costs a bounded amount of memory.
    ///
    /// # Errors
    /// As [`Dhash::scan`].
    pub fn keys_matching(
        &self,
        pattern: Option<&[u8]>,
        limit: usize,
    ) -> Result<(Vec<Vec<u8>>, bool)> {
        let mut keys = Vec::new();
        let mut cursor = 0;
        loop {
            let (next, found) = self.scan(cursor, 256, pattern)?;
            keys.extend(found);
            cursor = next;
            if cursor == 0 || keys.len() > limit {
                break;
            }
        }
        keys.sort();
        keys.dedup();
        let complete = cursor == 0 && keys.len() <= limit;
        keys.truncate(limit);
        Ok((keys, complete))
    }

    /// About `count` keys from scan position `cursor` on, those matching
    /// `pattern` (a Redis glob) if one is given, and the cursor to go on
    /// from: 0 when the scan is done.
    ///
    /// # Errors
    /// The lookup's or the owner's, as a read's.
    pub fn scan(
        &self,
        cursor: u64,
        count: usize,
        pattern: Option<&[u8]>,
    ) -> Result<(u64, Vec<Vec<u8>>)> {
        let space = self.config().space;
        let start = space.at_position(cursor);
        let lookup = self.find_successor(start)?;
        let owner = lookup.owner().clone();
        // The owner's arc ends at its identifier; an owner below the start
        // is the first node, and the scan ends at the top of the circle.
        let wraps = owner.id < start;
        let end = if wraps { space.id(0).prev() } else { owner.id };
        let max_bytes = (count.max(1) * 256).clamp(4 * 1024, CHUNK_BYTES);
        let take = |node: &crate::id::NodeRef, from: Id, to: Id| {
            self.ring
                .peer(node)
                .take_keys(from, to, None, max_bytes as u32)
                .map_err(|e| call_error(node, e))
        };
        let (mut items, more) = take(&owner, start.prev(), end)?;
        let next = match more {
            // The chunk ended inside the arc: go on from its last key's
            // position (that key may come again; none is skipped).
            Some(last) => {
                let at = last.id.position();
                if at > cursor {
                    at
                } else {
                    cursor + 1
                }
            }
            None if wraps || end.position() == u64::MAX || end == space.id(0).prev() => 0,
            None => {
                let after = end.position() + 1;
                // Identifiers between the owner's and the next position
                // (when m > 64, a position covers many) belong to the next
                // node: read them now, or they would be skipped.
                let gap_end = space.at_position(after).prev();
                if gap_end != end {
                    if let Some(next_node) = lookup.successors.get(1) {
                        items.extend(take(next_node, end, gap_end)?.0);
                    }
                }
                after
            }
        };
        let now = self.config().clock.now_micros();
        let keys = items
            .into_iter()
            .filter(|item| item.entry.is_live(now))
            .map(|item| item.key.into_vec())
            .filter(|key| pattern.is_none_or(|p| glob(p, key)))
            .collect();
        Ok((next, keys))
    }
}

/// Whether `text` matches the Redis glob `pattern`: `*` any run, `?` any
/// byte, `[abc]`, `[a-z]` and `[^a]` one byte of (or not of) a set, `\x`
/// the byte x. Iterative, backtracking only to the last `*`: time
/// proportional to the lengths' product at worst, whatever the pattern.
pub fn glob(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    // Where the last `*` was: the pattern after it, and the text it has
    // swallowed up to.
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() {
            if pattern[p] == b'*' {
                star = Some((p + 1, t));
                p += 1;
                continue;
            }
            if let Some(len) = one(&pattern[p..], text[t]) {
                p += len;
                t += 1;
                continue;
            }
        }
        let Some((after, swallowed)) = star else {
            return false;
        };
        star = Some((after, swallowed + 1));
        p = after;
        t = swallowed + 1;
    }
    pattern[p..].iter().all(|b| *b == b'*')
}

/// If the pattern element that `pattern` starts with matches `byte`, its
/// length in the pattern.
fn one(pattern: &[u8], byte: u8) -> Option<usize> {
    match pattern[0] {
        b'?' => Some(1),
        b'\\' if pattern.len() > 1 => (pattern[1] == byte).then_some(2),
        b'[' => {
            let Some(close) = pattern.iter().skip(1).position(|b| *b == b']') else {
                return (byte == b'[').then_some(1);
            };
            let set = &pattern[1..=close];
            let (negated, set) = match set.split_first() {
                Some((b'^', rest)) => (true, rest),
                _ => (false, set),
            };
            let mut inside = false;
            let mut i = 0;
            while i < set.len() {
                if i + 2 < set.len() && set[i + 1] == b'-' {
                    inside |= (set[i]..=set[i + 2]).contains(&byte);
                    i += 3;
                } else {
                    inside |= set[i] == byte;
                    i += 1;
                }
            }
            (inside != negated).then_some(close + 2)
        }
        c => (c == byte).then_some(1),
    }
}

#[cfg(test)]
mod tests {
    use super::glob;

    #[test]
    fn globs_match_as_redis_documents() {
        for (pattern, text, matches) in [
            ("*", "anything", true),
            ("h?llo", "hello", true),
            ("h?llo", "hllo", false),
            ("h*llo", "heeeello", true),
            ("h[ae]llo", "hallo", true),
            ("h[ae]llo", "hillo", false),
            ("h[^e]llo", "hallo", true),
            ("h[^e]llo", "hello", false),
            ("h[a-b]llo", "hbllo", true),
            ("user:\\*", "user:*", true),
            ("user:\\*", "user:1", false),
            ("key-1*", "key-17", true),
            ("key-1*", "key-2", false),
            ("*a*a*a*a*a*a*a*b", &"a".repeat(200), false),
        ] {
            assert_eq!(
                glob(pattern.as_bytes(), text.as_bytes()),
                matches,
                "{pattern} {text}"
            );
        }
    }
}
