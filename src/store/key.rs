//! A key as a store holds it and as it travels between nodes: a short one
//! in place, with its length, a longer one on the heap. Either way it
//! takes the 24 bytes a `Vec` would.
//!
//! In place, a lookup compares a key where the search found it, without
//! following a pointer to memory it would likely miss in the cache, and a
//! key costs no allocation of its own: not when a replica decodes a copy,
//! not when the store keeps it, not when an owner builds the copies it
//! sends. Allocations were a fifth of a 10-key `MSET`'s CPU, and keys
//! held in a `Vec` on their way (decoded by each replica, built by the
//! owner for its copies: 30 of the 165 allocations an `MSET` caused
//! across the ring) were a fifth of those.

use std::fmt;
use std::ops::Deref;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

/// The longest key held in place, not on the heap: redis-benchmark's keys
/// (`key:{tag}:000000001234`) are this long, and most keys are shorter.
const SHORT: usize = 22;

/// A key's bytes, short ones in place. Dereferences to `[u8]`, and
/// compares, orders and hashes as its bytes do; on the wire it is a byte
/// string, the same bytes a `Vec<u8>` sent as bytes would be.
#[derive(Clone)]
pub struct Key(Repr);

#[derive(Clone)]
enum Repr {
    Short(u8, [u8; SHORT]),
    Long(Box<[u8]>),
}

impl Key {
    /// The key's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        match &self.0 {
            Repr::Short(len, bytes) => &bytes[..usize::from(*len)],
            Repr::Long(bytes) => bytes,
        }
    }

    /// The key's bytes, owned.
    pub fn into_vec(self) -> Vec<u8> {
        match self.0 {
            Repr::Short(..) => self.as_bytes().to_vec(),
            Repr::Long(bytes) => bytes.into_vec(),
        }
    }

    /// A short key in place, if `bytes` is short.
    fn short(bytes: &[u8]) -> Option<Key> {
        let len = u8::try_from(bytes.len())
            .ok()
            .filter(|&l| usize::from(l) <= SHORT)?;
        let mut inline = [0; SHORT];
        inline[..bytes.len()].copy_from_slice(bytes);
        Some(Key(Repr::Short(len, inline)))
    }
}

impl From<&[u8]> for Key {
    fn from(bytes: &[u8]) -> Key {
        Key::short(bytes).unwrap_or_else(|| Key(Repr::Long(bytes.into())))
    }
}

impl<const N: usize> From<&[u8; N]> for Key {
    fn from(bytes: &[u8; N]) -> Key {
        Key::from(&bytes[..])
    }
}

/// Takes over the vector's buffer when the key is long.
impl From<Vec<u8>> for Key {
    fn from(bytes: Vec<u8>) -> Key {
        Key::short(&bytes).unwrap_or_else(|| Key(Repr::Long(bytes.into_boxed_slice())))
    }
}

impl Deref for Key {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl PartialEq for Key {
    fn eq(&self, other: &Key) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl Eq for Key {}

impl PartialOrd for Key {
    fn partial_cmp(&self, other: &Key) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Key {
    fn cmp(&self, other: &Key) -> std::cmp::Ordering {
        self.as_bytes().cmp(other.as_bytes())
    }
}

impl std::hash::Hash for Key {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_bytes().hash(state);
    }
}

/// Lets a map of keys be searched with a borrowed `[u8]`: a key compares
/// as its bytes do.
impl std::borrow::Borrow<[u8]> for Key {
    fn borrow(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl AsRef<[u8]> for Key {
    fn as_ref(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\"{}\"", self.as_bytes().escape_ascii())
    }
}

impl Serialize for Key {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bytes(self.as_bytes())
    }
}

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Key, D::Error> {
        /// Builds the key straight from the decoder's bytes.
        struct Bytes;

        impl Visitor<'_> for Bytes {
            type Value = Key;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a key's bytes")
            }

            fn visit_bytes<E: de::Error>(self, bytes: &[u8]) -> Result<Key, E> {
                Ok(Key::from(bytes))
            }

            fn visit_byte_buf<E: de::Error>(self, bytes: Vec<u8>) -> Result<Key, E> {
                Ok(Key::from(bytes))
            }
        }

        deserializer.deserialize_bytes(Bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_keys_sit_in_place_and_long_ones_on_the_heap() {
        assert_eq!(std::mem::size_of::<Key>(), std::mem::size_of::<Vec<u8>>());
        for len in [0, 1, SHORT, SHORT + 1, 300] {
            let bytes: Vec<u8> = (0..len).map(|i| i as u8).collect();
            let key = Key::from(bytes.clone());
            assert_eq!(key.as_bytes(), &bytes[..]);
            assert_eq!(Key::from(&bytes[..]), key);
            assert_eq!(
                matches!(key.0, Repr::Short(..)),
                len <= SHORT,
                "{len} bytes"
            );
            assert_eq!(key.into_vec(), bytes);
        }
    }

    #[test]
    fn on_the_wire_a_key_is_the_byte_string_a_vec_would_be() {
        #[derive(Serialize)]
        struct AsVec(#[serde(with = "serde_bytes")] Vec<u8>);
        for len in [0, 5, SHORT, SHORT + 1, 1000] {
            let bytes = vec![b'k'; len];
            let ours = postcard::to_allocvec(&Key::from(bytes.clone())).unwrap();
            assert_eq!(ours, postcard::to_allocvec(&AsVec(bytes.clone())).unwrap());
            let back: Key = postcard::from_bytes(&ours).unwrap();
            assert_eq!(back.as_bytes(), &bytes[..]);
        }
    }
}
