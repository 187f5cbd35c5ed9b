//! The store's two fixed 64-bit hashes: of a key, which orders the keys
//! that share one identifier ([`super::slot::key_order`]), and of an
//! entry, which digests XOR together ([`super::digest`]). Both must come
//! out the same on every node, so neither is seeded.
//!
//! They take eight bytes a step, as FxHash does, and end with
//! MurmurHash3's 64-bit finalizer, so that every input bit moves every
//! output bit (XOR sums need that). Neither is a cryptographic hash: SHA-1
//! for digests was most of an idle ring's CPU. Peers are authenticated, so
//! nobody picks entries to collide; an accidental collision of two
//! different buckets is a 2^-64 chance, and only delays a repair to that
//! bucket's next change. A client can pick keys whose hashes collide, but
//! that costs nothing but order: keys of equal hash are ordered by their
//! bytes.

use super::Entry;

/// The hash of `key`.
pub(super) fn key_hash(key: &[u8]) -> u64 {
    Words::of(key).finish()
}

/// The hash of one entry: of the key, the version and whether it is a
/// tombstone.
pub(super) fn entry_hash(key: &[u8], entry: &Entry) -> u64 {
    Words::of(key)
        .word(entry.version.stamp)
        .word(entry.version.writer)
        .word(u64::from(entry.is_tombstone()))
        .finish()
}

/// A hash being computed, one 64-bit word at a time.
struct Words(u64);

impl Words {
    const K: u64 = 0x517c_c1b7_2722_0a95;

    /// The hash of `bytes` so far, their length included.
    fn of(bytes: &[u8]) -> Words {
        let mut h = Words(bytes.len() as u64);
        let mut words = bytes.chunks_exact(8);
        for word in words.by_ref() {
            let word: [u8; 8] = word.try_into().unwrap_or_default();
            h = h.word(u64::from_le_bytes(word));
        }
        // The last few bytes, one at a time: a copy of a slice of unknown
        // length is a call to memcpy, which cost more than the hash.
        let tail = words
            .remainder()
            .iter()
            .fold(0, |w, &b| w << 8 | u64::from(b));
        h.word(tail)
    }

    fn word(self, word: u64) -> Words {
        Words((self.0.rotate_left(5) ^ word).wrapping_mul(Self::K))
    }

    /// The finalizer of MurmurHash3 (fmix64).
    fn finish(self) -> u64 {
        let mut h = self.0;
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^= h >> 33;
        h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        h ^ (h >> 33)
    }
}

/// A 16-byte key that begins with the word `first` and has the hash of
/// `key`, also 16 bytes: the unseeded hash's collisions take one step to
/// make, which is why keys of equal hash must cost no more than others
/// (`store/slot.rs`).
#[cfg(test)]
pub(super) fn colliding(key: [u8; 16], first: u64) -> [u8; 16] {
    let word = |i: usize| {
        let mut w = [0u8; 8];
        w.copy_from_slice(&key[i * 8..i * 8 + 8]);
        u64::from_le_bytes(w)
    };
    let theirs = Words(16).word(word(0)).0.rotate_left(5) ^ word(1);
    let second = Words(16).word(first).0.rotate_left(5) ^ theirs;
    let mut out = [0u8; 16];
    out[..8].copy_from_slice(&first.to_le_bytes());
    out[8..].copy_from_slice(&second.to_le_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Version;

    #[test]
    fn colliding_keys_are_made_in_one_step() {
        let key = *b"key:{t}:00000001";
        for first in 0..100 {
            let twin = colliding(key, first);
            assert_ne!(twin, key);
            assert_eq!(key_hash(&twin), key_hash(&key));
        }
    }

    #[test]
    fn an_entry_hash_sees_the_key_the_version_and_a_delete() {
        let entry = |stamp, writer, value: Option<&str>| Entry {
            value: value.map(|v| v.as_bytes().to_vec()),
            version: Version { stamp, writer },
            expires: None,
            update: None,
        };
        let base = entry_hash(b"key", &entry(5, 1, Some("a")));
        // The value itself is not hashed: the version stands for it.
        assert_eq!(base, entry_hash(b"key", &entry(5, 1, Some("b"))));
        for other in [
            entry_hash(b"kez", &entry(5, 1, Some("a"))),
            entry_hash(b"key", &entry(6, 1, Some("a"))),
            entry_hash(b"key", &entry(5, 2, Some("a"))),
            entry_hash(b"key", &entry(5, 1, None)),
        ] {
            assert_ne!(base, other);
        }
    }

    #[test]
    fn a_key_hash_sees_every_byte_and_the_length() {
        assert_ne!(
            key_hash(b"key:{t}:000000000001"),
            key_hash(b"key:{t}:000000000002")
        );
        assert_ne!(
            key_hash(b"key:{t}:000000000001"),
            key_hash(b"kex:{t}:000000000001")
        );
        assert_ne!(key_hash(b"k"), key_hash(b"k\0"));
    }
}
