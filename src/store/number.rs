//! Numbers as Redis reads and writes them in values and arguments: the
//! integers `INCR` adds to, and the floats of `INCRBYFLOAT`. Values are
//! bytes; these say which bytes are a number.

/// The signed 64-bit integer `bytes` spell, as Redis reads one: an
/// optional `-`, then decimal digits, with no `+`, no leading zero (but
/// `0` itself), no `-0`, no space; `None` otherwise, or out of range.
pub fn integer(bytes: &[u8]) -> Option<i64> {
    let digits = bytes.strip_prefix(b"-").unwrap_or(bytes);
    let canonical = match digits {
        [] => false,
        [b'0'] => digits.len() == bytes.len(),
        [first, ..] => *first != b'0' && digits.iter().all(u8::is_ascii_digit),
    };
    if !canonical {
        return None;
    }
    std::str::from_utf8(bytes).ok()?.parse().ok()
}

/// The float `bytes` spell, as `INCRBYFLOAT` reads one: decimal, with an
/// optional exponent, finite; no space, no `inf` or `nan`.
pub fn float(bytes: &[u8]) -> Option<f64> {
    let text = std::str::from_utf8(bytes).ok()?;
    let allowed = |c: char| c.is_ascii_digit() || matches!(c, '-' | '+' | '.' | 'e' | 'E');
    if text.is_empty() || !text.chars().all(allowed) {
        return None;
    }
    text.parse::<f64>().ok().filter(|f| f.is_finite())
}

/// A float as `INCRBYFLOAT` stores it: the shortest decimal that reads
/// back as the same number, without an exponent and without trailing
/// zeros (`3`, `10.5`, `0.0001`).
pub fn float_text(f: f64) -> String {
    let text = format!("{f}");
    // Rust prints -0 as "-0"; Redis as "0".
    if text == "-0" {
        "0".into()
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_are_read_as_redis_reads_them() {
        for (text, value) in [
            ("0", Some(0)),
            ("42", Some(42)),
            ("-42", Some(-42)),
            ("9223372036854775807", Some(i64::MAX)),
            ("-9223372036854775808", Some(i64::MIN)),
            ("9223372036854775808", None),
            ("+1", None),
            ("01", None),
            ("-0", None),
            ("-", None),
            ("", None),
            (" 1", None),
            ("1 ", None),
            ("1.0", None),
        ] {
            assert_eq!(integer(text.as_bytes()), value, "{text:?}");
        }
    }

    #[test]
    fn floats_are_finite_decimals() {
        assert_eq!(float(b"10.5"), Some(10.5));
        assert_eq!(float(b"5.0e3"), Some(5000.0));
        assert_eq!(float(b"-.5"), Some(-0.5));
        for bad in ["", "inf", "nan", "1e999", " 1", "0x10", "1,5"] {
            assert_eq!(float(bad.as_bytes()), None, "{bad:?}");
        }
        assert_eq!(float_text(10.5 + 0.1), "10.6");
        assert_eq!(float_text(5000.0), "5000");
        assert_eq!(float_text(-0.0), "0");
        assert_eq!(float_text(0.0001), "0.0001");
    }
}
