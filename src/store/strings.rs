//! What Redis's string commands compute from a value, as Redis documents
//! it: ranges with indexes counted from the end when negative, bits
//! counted from the most significant bit of the first byte, and the
//! longest common subsequence. Pure: the server's executor reads a value
//! and calls these, or a key's owner applies an update with them.

/// A range of `len` units, `start` to `end` both included, each counted
/// from the end when negative and clamped to the value; `None` when it is
/// empty. As `GETRANGE` and `BITCOUNT` read their arguments.
fn clamp(len: i64, start: i64, end: i64) -> Option<(usize, usize)> {
    if (start < 0 && end < 0 && start > end) || len == 0 {
        return None;
    }
    let from_end = |i: i64| if i < 0 { (len + i).max(0) } else { i };
    let (start, end) = (from_end(start), from_end(end).min(len - 1));
    (start <= end).then_some((start as usize, end as usize))
}

/// `GETRANGE`: the bytes from `start` to `end`.
pub fn range(value: &[u8], start: i64, end: i64) -> &[u8] {
    match clamp(value.len() as i64, start, end) {
        Some((start, end)) => &value[start..=end],
        None => &[],
    }
}

/// Bit `offset` of `value`, 0 past its end.
pub fn bit(value: &[u8], offset: u64) -> bool {
    let byte = usize::try_from(offset / 8).unwrap_or(usize::MAX);
    value
        .get(byte)
        .is_some_and(|b| b & (0x80 >> (offset % 8)) != 0)
}

/// Sets bit `offset` of `value` to `on`, growing it with zero bytes.
pub fn set_bit(value: &mut Vec<u8>, byte: usize, offset: u64, on: bool) {
    if value.len() <= byte {
        value.resize(byte + 1, 0);
    }
    let mask = 0x80 >> (offset % 8);
    if on {
        value[byte] |= mask;
    } else {
        value[byte] &= !mask;
    }
}

/// `BITCOUNT`: the bits set in the value, or in a range of its bytes
/// (`bits`: of its bits).
pub fn bit_count(value: &[u8], range: Option<(i64, i64)>, bits: bool) -> i64 {
    let Some((start, end)) = range else {
        return value.iter().map(|b| i64::from(b.count_ones())).sum();
    };
    let unit = if bits { 1 } else { 8 };
    let Some((start, end)) = clamp(value.len() as i64 * (8 / unit), start, end) else {
        return 0;
    };
    let (first, last) = (
        start * unit as usize,
        end * unit as usize + unit as usize - 1,
    );
    (first..=last).filter(|&i| bit(value, i as u64)).count() as i64
}

/// `BITPOS`: the first bit equal to `on` in the value, or in a range of
/// its bytes (`bits`: of its bits); -1 when there is none. Looking for a
/// clear bit with no end given, a value of set bits answers the first bit
/// past its end, as if the value went on with zeros.
pub fn bit_position(
    value: &[u8],
    on: bool,
    start: Option<i64>,
    end: Option<i64>,
    bits: bool,
) -> i64 {
    if value.is_empty() {
        return if on { -1 } else { 0 };
    }
    let unit: usize = if bits { 1 } else { 8 };
    let len = value.len() as i64 * (8 / unit as i64);
    let Some((first, last)) = clamp(len, start.unwrap_or(0), end.unwrap_or(-1)) else {
        return -1;
    };
    let (first, last) = (first * unit, last * unit + unit - 1);
    match (first..=last).find(|&i| bit(value, i as u64) == on) {
        Some(i) => i as i64,
        None if !on && end.is_none() => (last + 1) as i64,
        None => -1,
    }
}

/// The most cells `LCS` fills: its table has one per pair of bytes, 4
/// bytes each, so one request takes at most 4 MiB, and all the workers a
/// crowd of clients can hold at once (1,024) at most 4 GiB.
pub const MAX_LCS_CELLS: usize = 1 << 20;

/// `LCS`: the longest common subsequence of `a` and `b`; `None` when
/// their lengths multiplied pass [`MAX_LCS_CELLS`].
pub fn lcs(a: &[u8], b: &[u8]) -> Option<Vec<u8>> {
    if a.len().saturating_mul(b.len()) > MAX_LCS_CELLS {
        return None;
    }
    let width = b.len() + 1;
    // lengths[i * width + j]: the LCS length of a[i..] and b[j..].
    let mut lengths = vec![0u32; (a.len() + 1) * width];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            lengths[i * width + j] = if a[i] == b[j] {
                lengths[(i + 1) * width + j + 1] + 1
            } else {
                lengths[(i + 1) * width + j].max(lengths[i * width + j + 1])
            };
        }
    }
    let (mut i, mut j, mut common) = (0, 0, Vec::new());
    while i < a.len() && j < b.len() {
        if a[i] == b[j] {
            common.push(a[i]);
            i += 1;
            j += 1;
        } else if lengths[(i + 1) * width + j] >= lengths[i * width + j + 1] {
            i += 1;
        } else {
            j += 1;
        }
    }
    Some(common)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_count_from_the_end_when_negative() {
        let v = b"This is a string";
        assert_eq!(range(v, 0, 3), b"This");
        assert_eq!(range(v, -3, -1), b"ing");
        assert_eq!(range(v, 10, 100), b"string");
        assert_eq!(range(v, 5, 3), b"");
        assert_eq!(range(b"", 0, -1), b"");
    }

    #[test]
    fn bits_are_counted_from_the_first_bytes_highest() {
        // "foobar", as Redis's documentation counts it.
        let v = b"foobar";
        assert_eq!(bit_count(v, None, false), 26);
        assert_eq!(bit_count(v, Some((0, 0)), false), 4);
        assert_eq!(bit_count(v, Some((1, 1)), false), 6);
        assert_eq!(bit_count(v, Some((1, 1)), true), 1);
        assert_eq!(bit_count(v, Some((5, 30)), true), 17);
        let mut value = Vec::new();
        set_bit(&mut value, 0, 7, true);
        assert_eq!(value, vec![1]);
        assert!(bit(&value, 7) && !bit(&value, 6) && !bit(&value, 100));
        assert_eq!(bit_position(b"\xff\xf0\x00", false, None, None, false), 12);
        assert_eq!(bit_position(b"\x00\xff\xf0", true, Some(0), None, false), 8);
        assert_eq!(
            bit_position(b"\x00\xff\xf0", true, Some(2), None, false),
            16
        );
        assert_eq!(bit_position(b"\xff\xff\xff", false, None, None, false), 24);
        assert_eq!(
            bit_position(b"\xff\xff\xff", false, Some(0), Some(-1), false),
            -1
        );
        assert_eq!(bit_position(b"", true, None, None, false), -1);
        assert_eq!(bit_position(b"", false, None, None, false), 0);
    }

    #[test]
    fn the_longest_common_subsequence_is_found() {
        assert_eq!(lcs(b"ohmytext", b"mynewtext"), Some(b"mytext".to_vec()));
        assert_eq!(lcs(b"", b"abc"), Some(Vec::new()));
        let long = vec![b'a'; 5000];
        assert_eq!(lcs(&long, &long), None);
    }
}
