//! Identifiers on the Chord ring: the paper's section "Consistent Hashing".
//!
//! Every node and every key gets an m-bit identifier. A node's is SHA-1 of
//! its advertised address `host:port`, the paper's base hash. A key's is
//! SHA-1 of its bytes too, under one prefix: the top 14 bits are the key's
//! Redis Cluster hash slot (see [`IdSpace::key`]), so that the ring can
//! tell Redis Cluster clients which node serves which slot, and they can
//! send each request straight to its owner. Identifiers live on a circle
//! modulo 2^m, so all the ring arithmetic the protocol needs is here and
//! nowhere else:
//!
//! - [`Id::add_pow2`] computes `n + 2^k mod 2^m`, which gives the finger
//!   starts `n + 2^(k-1)` of the paper's Table I;
//! - [`Id::in_open`] and [`Id::in_open_closed`] test membership in the
//!   circular intervals `(a, b)` and `(a, b]` that every pseudocode line of
//!   the paper uses.
//!
//! The intervals wrap around zero. When `a == b` the paper's convention (and
//! Zave's) is that `(a, a]` is the whole circle and `(a, a)` is the whole
//! circle except `a`: a lone node owns every key, and any other node lies
//! strictly between it and itself.
//!
//! This module is pure: no I/O, no locks. It is tested exhaustively for small
//! m against a plain-integer model and with property tests for m = 160.

use std::cmp::Ordering;
use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use sha1::{Digest, Sha1};

/// The widest identifier space: SHA-1's 160 bits.
pub const MAX_BITS: u8 = 160;

const BYTES: usize = 20;

/// The identifier space of one ring: identifiers are integers modulo 2^bits.
///
/// Every node of a ring must use the same space; a join checks it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IdSpace {
    bits: u8,
}

/// An m outside `1..=160`. Its own type, so that identifiers, at the bottom
/// of the crate, name nothing above them; it becomes
/// [`crate::error::Error::Config`] where a `Result` of the crate needs it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BitsOutOfRange(pub u8);

impl fmt::Display for BitsOutOfRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "--bits must be between 1 and {MAX_BITS}, not {}", self.0)
    }
}

impl std::error::Error for BitsOutOfRange {}

/// How many hash slots Redis Cluster divides its keys into.
pub const SLOTS: u16 = 1 << SLOT_BITS;

/// Bits of a hash slot: the top bits of a key's identifier.
const SLOT_BITS: u8 = 14;

/// The hash tag of `key`: the bytes between its first `{` and the first
/// `}` after it, if there are any.
pub fn hash_tag(key: &[u8]) -> Option<&[u8]> {
    let open = key.iter().position(|&b| b == b'{')?;
    let rest = &key[open + 1..];
    let close = rest.iter().position(|&b| b == b'}')?;
    Some(&rest[..close]).filter(|tag| !tag.is_empty())
}

/// The Redis Cluster hash slot of `key`: CRC-16 (XMODEM) of its hash tag,
/// if it has one, else of the whole key, modulo [`SLOTS`]; the same number
/// `CLUSTER KEYSLOT` gives on a Redis Cluster.
pub fn hash_slot(key: &[u8]) -> u16 {
    crc16(hash_tag(key).unwrap_or(key)) % SLOTS
}

/// CRC-16/XMODEM of `bytes`.
fn crc16(bytes: &[u8]) -> u16 {
    bytes.iter().fold(0, |crc, &byte| {
        (crc << 8) ^ CRC16[usize::from((crc >> 8) as u8 ^ byte)]
    })
}

/// CRC-16/XMODEM (polynomial 0x1021, initial value 0) by bytes, the CRC
/// Redis Cluster hashes keys with.
const CRC16: [u16; 256] = {
    let mut table = [0u16; 256];
    let mut i = 0;
    while i < 256 {
        let mut crc = (i as u16) << 8;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
            bit += 1;
        }
        table[i] = crc;
        i += 1;
    }
    table
};

impl IdSpace {
    /// The space of `bits`-bit identifiers, `1 <= bits <= 160`.
    ///
    /// # Errors
    /// [`BitsOutOfRange`] when `bits` is outside `1..=160`.
    pub fn new(bits: u8) -> Result<IdSpace, BitsOutOfRange> {
        if bits == 0 || bits > MAX_BITS {
            return Err(BitsOutOfRange(bits));
        }
        Ok(IdSpace { bits })
    }

    /// m, the number of bits of every identifier in this space.
    pub fn bits(self) -> u8 {
        self.bits
    }

    /// The identifier of some bytes: SHA-1 of them, reduced modulo 2^m.
    pub fn hash(self, data: &[u8]) -> Id {
        let digest = Sha1::digest(data);
        let mut bytes = [0u8; BYTES];
        bytes.copy_from_slice(&digest);
        Id::masked(bytes, self.bits)
    }

    /// The identifier of a key: SHA-1 of its hash tag, if it has one, else
    /// of the whole key, with the key's [`hash_slot`] written over its top
    /// 14 bits (for m < 14, the slot's top m bits are the identifier).
    ///
    /// This is where keys depart from the paper, which takes SHA-1 alone.
    /// The identifier is still a fixed hash of the key, spread evenly over
    /// the circle, so consistent hashing is unchanged; what the prefix buys
    /// is that each hash slot is one arc of the circle, so a node can name
    /// the slots it serves ([`IdSpace::slot_start`]) and a Redis Cluster
    /// client can send each key to its owner, without a hop. A tag, as
    /// Redis Cluster reads tags, is what lies between the key's first `{`
    /// and the first `}` after it, when that is not empty: `{user:42}:name`
    /// and `{user:42}:mail` share one identifier, so one owner and the same
    /// replicas.
    pub fn key(self, key: &[u8]) -> Id {
        let placed = hash_tag(key).unwrap_or(key);
        self.in_slot(crc16(placed) % SLOTS, self.hash(placed))
    }

    /// The first identifier of hash slot `slot`'s arc. The node that owns
    /// it serves the slot: all of it, unless a node's identifier falls
    /// inside the slot (see `server/cluster.rs`).
    pub fn slot_start(self, slot: u16) -> Id {
        self.in_slot(slot, self.id(0))
    }

    /// `low` with its top 14 bits replaced by `slot`'s 14 bits; in a space
    /// of fewer bits, the slot's top m bits.
    fn in_slot(self, slot: u16, low: Id) -> Id {
        let m = i32::from(self.bits);
        let mut bytes = Id::masked(low.bytes, self.bits.saturating_sub(SLOT_BITS)).bytes;
        for j in 0..i32::from(SLOT_BITS) {
            let bit = m - i32::from(SLOT_BITS) + j;
            if bit >= 0 && slot >> j & 1 == 1 {
                let bit = bit as usize;
                bytes[BYTES - 1 - bit / 8] |= 1 << (bit % 8);
            }
        }
        Id::masked(bytes, self.bits)
    }

    /// The first identifier at scan position `position` (see
    /// [`Id::position`]): `position` in the top 64 bits, zeros below.
    pub fn at_position(self, position: u64) -> Id {
        let shift = usize::from(self.bits.saturating_sub(64));
        let mut bytes = [0u8; BYTES];
        for j in 0..64 {
            let i = shift + j;
            if position >> j & 1 == 1 && i < usize::from(self.bits) {
                bytes[BYTES - 1 - i / 8] |= 1 << (i % 8);
            }
        }
        Id::masked(bytes, self.bits)
    }

    /// The first name `<prefix><i>`, for `i` below `tries`, whose hash is
    /// `id`: how the paper's small example rings, whose identifiers are
    /// given, are built from addresses that hash to them. Only small spaces
    /// can be searched; `None` when no `i` is found.
    pub fn name_for(self, prefix: &str, id: Id, tries: u32) -> Option<String> {
        first_name(prefix, tries, |name| self.hash(name) == id)
    }

    /// The first key `<prefix><i>`, for `i` below `tries`, whose identifier
    /// ([`IdSpace::key`]) is `id`: the keys of the paper's examples.
    pub fn key_for(self, prefix: &str, id: Id, tries: u32) -> Option<String> {
        first_name(prefix, tries, |name| self.key(name) == id)
    }

    /// The identifier with numeric value `value mod 2^m`; for tests and for
    /// reproducing the paper's small examples by hand.
    pub fn id(self, value: u64) -> Id {
        let mut bytes = [0u8; BYTES];
        bytes[BYTES - 8..].copy_from_slice(&value.to_be_bytes());
        Id::masked(bytes, self.bits)
    }
}

/// The first `<prefix><i>`, for `i` below `tries`, that `wanted` accepts.
fn first_name(prefix: &str, tries: u32, wanted: impl Fn(&[u8]) -> bool) -> Option<String> {
    (0..tries)
        .map(|i| format!("{prefix}{i}"))
        .find(|name| wanted(name.as_bytes()))
}

/// A point on the identifier circle: an integer in `[0, 2^m)`.
///
/// The value is kept as 20 big-endian bytes so that the derived ordering is
/// the numeric one; `bits` travels with it so that an identifier prints
/// itself the way the paper does (decimal for small rings, hex for SHA-1
/// sized ones) and so that identifiers of different spaces never compare
/// equal.
///
/// Decoding checks what the wire says: `bits` in `1..=160` and a value
/// below 2^bits. Whether it is *this ring's* m is for the receiver to
/// check ([`crate::message::Request::check`]).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "WireId")]
pub struct Id {
    bytes: [u8; BYTES],
    bits: u8,
}

/// An identifier as it arrives, before it is checked.
#[derive(Deserialize)]
struct WireId {
    bytes: [u8; BYTES],
    bits: u8,
}

impl TryFrom<WireId> for Id {
    type Error = String;

    fn try_from(wire: WireId) -> Result<Id, String> {
        if wire.bits == 0 || wire.bits > MAX_BITS {
            return Err(format!("an identifier of {} bits", wire.bits));
        }
        let id = Id::masked(wire.bytes, wire.bits);
        if id.bytes != wire.bytes {
            return Err(format!("an identifier not below 2^{}", wire.bits));
        }
        Ok(id)
    }
}

impl Id {
    fn masked(mut bytes: [u8; BYTES], bits: u8) -> Id {
        let clear = usize::from(MAX_BITS - bits);
        for (i, byte) in bytes.iter_mut().enumerate() {
            let first_bit = i * 8;
            if first_bit + 8 <= clear {
                *byte = 0;
            } else if first_bit < clear {
                *byte &= 0xff >> (clear - first_bit);
            }
        }
        Id { bytes, bits }
    }

    /// m, the size in bits of the space this identifier belongs to.
    pub fn bits(self) -> u8 {
        self.bits
    }

    /// `self + 2^k mod 2^m`. The paper's finger `k` (counted from 1) starts
    /// at `n.add_pow2(k - 1)`.
    ///
    /// # Panics
    /// When `k >= m`: such a power is zero modulo 2^m, and asking for it is a
    /// bug in the caller, not a property of the input.
    pub fn add_pow2(self, k: u8) -> Id {
        assert!(k < self.bits, "2^{k} is outside a {}-bit space", self.bits);
        let mut bytes = self.bytes;
        let mut index = BYTES - 1 - usize::from(k / 8);
        let mut carry = u16::from(1u8 << (k % 8));
        loop {
            let sum = u16::from(bytes[index]) + carry;
            bytes[index] = (sum & 0xff) as u8;
            carry = sum >> 8;
            if carry == 0 || index == 0 {
                break;
            }
            index -= 1;
        }
        Id::masked(bytes, self.bits)
    }

    /// Whether `self` lies in the open interval `(a, b)` of the circle.
    /// `(a, a)` is the whole circle except `a`.
    pub fn in_open(self, a: Id, b: Id) -> bool {
        if a < b {
            a < self && self < b
        } else {
            // Wraps past zero, or a == b: everything except the endpoints.
            (a < self || self < b) && self != a
        }
    }

    /// Whether `self` lies in the half-open interval `(a, b]` of the circle.
    /// `(a, a]` is the whole circle.
    pub fn in_open_closed(self, a: Id, b: Id) -> bool {
        if a == b {
            return true;
        }
        self == b || self.in_open(a, b)
    }

    /// The value's bit `i` (0: the lowest).
    fn bit(self, i: usize) -> bool {
        self.bytes[BYTES - 1 - i / 8] >> (i % 8) & 1 == 1
    }

    /// The top 64 bits of the value (all of it when m <= 64): where a
    /// ring-wide scan stands, as a number a client can carry (`SCAN`'s
    /// cursor).
    pub fn position(self) -> u64 {
        let shift = usize::from(self.bits.saturating_sub(64));
        let width = usize::from(self.bits.min(64));
        (0..width).fold(0u64, |acc, j| acc | (u64::from(self.bit(shift + j)) << j))
    }

    /// `self - 1 mod 2^m`.
    pub fn prev(self) -> Id {
        let mut bytes = self.bytes;
        for byte in bytes.iter_mut().rev() {
            let (value, borrow) = byte.overflowing_sub(1);
            *byte = value;
            if !borrow {
                break;
            }
        }
        Id::masked(bytes, self.bits)
    }

    /// The identifier's value as a u64, when it fits (always when m <= 64).
    pub fn to_u64(self) -> Option<u64> {
        if self.bytes[..BYTES - 8].iter().any(|&b| b != 0) {
            return None;
        }
        let mut low = [0u8; 8];
        low.copy_from_slice(&self.bytes[BYTES - 8..]);
        Some(u64::from_be_bytes(low))
    }
}

/// The order of the numbers: the big-endian bytes, then the space's size.
/// Written out because a store keeps its keys in a map by identifier, and
/// comparing the first eight bytes as one word decides nearly every
/// comparison without a call to `memcmp`.
impl Ord for Id {
    fn cmp(&self, other: &Id) -> Ordering {
        fn head(id: &Id) -> u64 {
            let mut word = [0; 8];
            word.copy_from_slice(&id.bytes[..8]);
            u64::from_be_bytes(word)
        }
        head(self)
            .cmp(&head(other))
            .then_with(|| self.bytes[8..].cmp(&other.bytes[8..]))
            .then(self.bits.cmp(&other.bits))
    }
}

impl PartialOrd for Id {
    fn partial_cmp(&self, other: &Id) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for Id {
    /// Decimal for spaces of up to 64 bits, like the paper's figures;
    /// zero-padded hex of ceil(m/4) digits above that.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.bits <= 64 {
            if let Some(value) = self.to_u64() {
                return write!(f, "{value}");
            }
        }
        let digits = usize::from(self.bits).div_ceil(4);
        let hex: String = self.bytes.iter().map(|b| format!("{b:02x}")).collect();
        f.write_str(&hex[hex.len().saturating_sub(digits)..])
    }
}

impl fmt::Debug for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// A node as other nodes know it: its identifier and the address to dial.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct NodeRef {
    /// The node's identifier, SHA-1 of `addr` reduced to m bits.
    pub id: Id,
    /// The advertised `host:port` that peers and people connect to.
    /// Shared, not owned: a node's references are copied on every write
    /// (its successor list goes with each answer), and a copy is then a
    /// count, not an allocation. Encoded as a string.
    pub addr: Arc<str>,
}

impl NodeRef {
    /// The reference of the node advertised at `addr` in `space`.
    pub fn new(space: IdSpace, addr: &str) -> NodeRef {
        NodeRef {
            id: space.hash(addr.as_bytes()),
            addr: addr.into(),
        }
    }
}

impl fmt::Display for NodeRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.id, self.addr)
    }
}

impl fmt::Debug for NodeRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.id, self.addr)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The plain-integer model: `(x - a) mod 2^m`.
    fn distance(a: u64, x: u64, m: u8) -> u64 {
        x.wrapping_sub(a) & ((1u64 << m) - 1)
    }

    #[test]
    fn identifiers_order_as_their_bytes_do() {
        let space = IdSpace::new(160).unwrap();
        let mut ids: Vec<Id> = (0..200u32).map(|i| space.hash(&i.to_be_bytes())).collect();
        // Pairs that agree in the first eight bytes and differ after them.
        for i in 0..20 {
            let mut twin = ids[i];
            twin.bytes[8 + i % 12] ^= 1;
            ids.push(twin);
        }
        for a in &ids {
            for b in &ids {
                assert_eq!(a.cmp(b), a.bytes.cmp(&b.bytes), "{a:?} {b:?}");
            }
        }
    }

    #[test]
    fn intervals_match_the_integer_model_exhaustively_for_small_m() {
        for m in 1..=6u8 {
            let space = IdSpace::new(m).unwrap();
            let size = 1u64 << m;
            for a in 0..size {
                for b in 0..size {
                    for x in 0..size {
                        let (ia, ib, ix) = (space.id(a), space.id(b), space.id(x));
                        let (dx, db) = (distance(a, x, m), distance(a, b, m));
                        let open = if a == b { x != a } else { 0 < dx && dx < db };
                        let open_closed = if a == b { true } else { 0 < dx && dx <= db };
                        assert_eq!(ix.in_open(ia, ib), open, "m={m} {x} in ({a},{b})");
                        assert_eq!(
                            ix.in_open_closed(ia, ib),
                            open_closed,
                            "m={m} {x} in ({a},{b}]"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn add_pow2_matches_the_integer_model_exhaustively_for_small_m() {
        for m in 1..=8u8 {
            let space = IdSpace::new(m).unwrap();
            for n in 0..(1u64 << m) {
                for k in 0..m {
                    let expected = (n + (1 << k)) % (1 << m);
                    assert_eq!(space.id(n).add_pow2(k), space.id(expected));
                }
            }
        }
    }

    #[test]
    fn bits_out_of_range_are_refused() {
        assert!(IdSpace::new(0).is_err());
        assert!(IdSpace::new(161).is_err());
        assert!(IdSpace::new(1).is_ok());
        assert!(IdSpace::new(160).is_ok());
    }

    #[test]
    fn hash_is_sha1_reduced_modulo_2_to_the_m() {
        // SHA-1("abc") = a9993e364706816aba3e25717850c26c9cd0d89d.
        let full = IdSpace::new(160).unwrap().hash(b"abc");
        assert_eq!(full.to_string(), "a9993e364706816aba3e25717850c26c9cd0d89d");
        // The low 8 bits are 0x9d = 157; the low 6 bits are 0x1d = 29.
        assert_eq!(IdSpace::new(8).unwrap().hash(b"abc").to_u64(), Some(157));
        assert_eq!(IdSpace::new(6).unwrap().hash(b"abc").to_u64(), Some(29));
        assert_eq!(IdSpace::new(6).unwrap().hash(b"abc").to_string(), "29");
    }

    #[test]
    fn decoding_refuses_identifiers_outside_their_space() {
        let decode = |bytes: [u8; BYTES], bits: u8| {
            #[derive(Serialize)]
            struct Raw {
                bytes: [u8; BYTES],
                bits: u8,
            }
            let wire = postcard::to_stdvec(&Raw { bytes, bits }).unwrap();
            postcard::from_bytes::<Id>(&wire)
        };
        // The frame that once crashed every node: bits = 255.
        assert!(decode([0; BYTES], 255).is_err());
        assert!(decode([0; BYTES], 0).is_err());
        // A value of 2^6 in a 6-bit space.
        let mut too_big = [0; BYTES];
        too_big[BYTES - 1] = 64;
        assert!(decode(too_big, 6).is_err());
        too_big[BYTES - 1] = 63;
        assert_eq!(decode(too_big, 6).unwrap(), IdSpace::new(6).unwrap().id(63));
    }

    #[test]
    fn add_pow2_carries_across_the_whole_160_bits() {
        let space = IdSpace::new(160).unwrap();
        let all_ones = Id::masked([0xff; BYTES], 160);
        assert_eq!(all_ones.add_pow2(0), space.id(0));
        let top = space.id(0).add_pow2(159);
        assert_eq!(top.add_pow2(159), space.id(0));
    }

    fn arb_id() -> impl Strategy<Value = Id> {
        any::<[u8; BYTES]>().prop_map(|bytes| Id::masked(bytes, 160))
    }

    proptest! {
        #[test]
        fn distinct_endpoints_split_the_circle_in_two(a in arb_id(), b in arb_id(), x in arb_id()) {
            prop_assume!(a != b);
            prop_assert!(x.in_open_closed(a, b) != x.in_open_closed(b, a));
        }

        #[test]
        fn open_is_open_closed_without_the_right_end(a in arb_id(), b in arb_id(), x in arb_id()) {
            prop_assert_eq!(x.in_open(a, b), x.in_open_closed(a, b) && x != b);
        }

        #[test]
        fn endpoints_are_where_the_paper_puts_them(a in arb_id(), b in arb_id()) {
            prop_assert!(b.in_open_closed(a, b));
            prop_assert!(!a.in_open(a, b));
            prop_assert!(!b.in_open(a, b));
        }

        #[test]
        fn doubling_a_power_is_adding_it_twice(n in arb_id(), k in 0u8..159) {
            prop_assert_eq!(n.add_pow2(k).add_pow2(k), n.add_pow2(k + 1));
        }

        #[test]
        fn a_finger_start_lies_after_its_node(n in arb_id(), k in 0u8..160) {
            // n + 2^k is never n itself, so it lies in (n, n + 2^k].
            let start = n.add_pow2(k);
            prop_assert!(start != n);
            prop_assert!(start.in_open_closed(n, start));
            prop_assert!(!n.in_open_closed(n, start));
        }
    }

    #[test]
    fn scan_positions_are_the_top_64_bits_and_prev_wraps() {
        // m <= 64: the position is the value itself.
        let small = IdSpace::new(8).unwrap();
        assert_eq!(small.id(200).position(), 200);
        assert_eq!(small.at_position(200), small.id(200));
        assert_eq!(small.id(0).prev(), small.id(255));
        assert_eq!(small.id(7).prev(), small.id(6));
        // m = 160: the top 64 bits; the first identifier of a position has
        // zeros below them, and every identifier lies at or after its own
        // position's first one.
        let big = IdSpace::new(160).unwrap();
        let id = big.hash(b"somewhere");
        let at = big.at_position(id.position());
        assert_eq!(at.position(), id.position());
        assert!(at <= id);
        assert!(id < big.at_position(id.position() + 1) || id.position() == u64::MAX);
        assert_eq!(big.id(0).prev().position(), u64::MAX);
        assert_eq!(big.id(1).prev(), big.id(0));
    }

    #[test]
    fn a_key_is_placed_by_its_hash_tag_as_redis_cluster_reads_tags() {
        for (key, tag) in [
            ("{user1000}.following", Some("user1000")),
            ("{user1000}.followers", Some("user1000")),
            ("foo{}{bar}", None),
            ("foo{{bar}}zap", Some("{bar")),
            ("foo{bar}{zap}", Some("bar")),
            ("no tag", None),
            ("{unclosed", None),
        ] {
            assert_eq!(hash_tag(key.as_bytes()), tag.map(str::as_bytes), "{key}");
        }
        let space = IdSpace::new(160).unwrap();
        assert_eq!(space.key(b"{u}:a"), space.key(b"{u}:b"));
        assert_ne!(space.key(b"{u}:a"), space.key(b"{v}:a"));
    }

    #[test]
    fn hash_slots_are_those_redis_cluster_gives() {
        // CLUSTER KEYSLOT on a Redis 7 cluster node, for each key.
        for (key, slot) in [
            ("foo", 12182),
            ("bar", 5061),
            ("123456789", 12739), // CRC-16/XMODEM check value 0x31c3
            ("{user1000}.following", 3443),
            ("foo{}{bar}", 8363),
            ("foo{{bar}}zap", 4015),
            ("foo{bar}{zap}", 5061),
            ("key:000000000042", 7803),
            ("", 0),
        ] {
            assert_eq!(hash_slot(key.as_bytes()), slot, "{key}");
        }
    }

    #[test]
    fn a_key_identifier_is_its_slot_over_its_sha1() {
        let sha1 = IdSpace::new(160).unwrap().hash(b"foo");
        let key = IdSpace::new(160).unwrap().key(b"foo");
        // The top 14 bits are slot 12182; the 146 below are SHA-1's.
        assert_eq!(key.bytes[0], (12182u16 >> 6) as u8);
        assert_eq!(key.bytes[1] >> 2, (12182u16 & 0x3f) as u8);
        assert_eq!(key.bytes[1] & 3, sha1.bytes[1] & 3);
        assert_eq!(key.bytes[2..], sha1.bytes[2..]);
        // In a small space, the slot's top bits alone.
        let small = IdSpace::new(6).unwrap();
        assert_eq!(small.key(b"foo"), small.id(u64::from(12182u16 >> 8)));
        let start = IdSpace::new(160).unwrap().slot_start(12182);
        assert_eq!(start.bytes[0], key.bytes[0]);
        assert_eq!(start.bytes[1], key.bytes[1] & 0xfc);
        assert!(start.bytes[2..].iter().all(|&b| b == 0));
    }

    #[test]
    fn every_key_of_a_slot_lies_in_its_arc_from_the_slot_start() {
        for bits in [6u8, 14, 15, 16, 32, 160] {
            let space = IdSpace::new(bits).unwrap();
            for i in 0..2000 {
                let key = format!("key:{i}");
                let slot = hash_slot(key.as_bytes());
                let id = space.key(key.as_bytes());
                // Slots in order are arcs in order: the key lies from its
                // slot's start up to the next slot's.
                let start = space.slot_start(slot);
                let next = space.slot_start((slot + 1) % SLOTS);
                if bits > 14 {
                    assert!(
                        id == start || id.in_open(start, next),
                        "{key} at m = {bits}"
                    );
                } else {
                    assert_eq!(id, start, "{key} at m = {bits}");
                }
            }
        }
    }
}
