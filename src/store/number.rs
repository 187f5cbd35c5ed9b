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

/// The most bytes of a float `INCRBYFLOAT` takes.
pub const MAX_FLOAT_TEXT: usize = 64;

/// `held + by`, as `INCRBYFLOAT` stores the sum. Redis adds in a C `long
/// double` and prints 17 decimals with the trailing zeros cut, so a sum of
/// plain decimals reads as a person expects (0.1 + 0.2 is 0.3). Two plain
/// decimals of at most 17 places and 20 integer digits are added exactly
/// here, which gives the same text; anything else (an exponent, more
/// digits) is added as an `f64` and printed as the shortest text that
/// reads back as it.
///
/// # Errors
/// Redis's words: a value or increment that is no float, or a sum that is
/// not finite.
pub fn add_floats(held: &[u8], by: &[u8]) -> Result<String, &'static str> {
    let (a, b) = (
        float(held).ok_or("value is not a valid float")?,
        float(by).ok_or("value is not a valid float")?,
    );
    if let (Some(x), Some(y)) = (Decimal::of(held), Decimal::of(by)) {
        if let Some(sum) = x.units.checked_add(y.units) {
            return Ok(Decimal { units: sum }.text());
        }
    }
    let sum = a + b;
    if !sum.is_finite() {
        return Err("increment would produce NaN or Infinity");
    }
    let text = format!("{sum}");
    // Rust prints -0 as "-0"; Redis as "0".
    Ok(if text == "-0" { "0".into() } else { text })
}

/// A plain decimal, exactly: `units` of 10^-17.
struct Decimal {
    units: i128,
}

impl Decimal {
    const PLACES: usize = 17;

    /// `-12.5`, `3`, `.25`: digits, one point at most, a sign only in
    /// front; at most 17 places and 20 integer digits.
    fn of(bytes: &[u8]) -> Option<Decimal> {
        let text = std::str::from_utf8(bytes).ok()?;
        let (negative, text) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text.strip_prefix('+').unwrap_or(text)),
        };
        let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
        let digits = |s: &str| s.chars().all(|c| c.is_ascii_digit());
        if (whole.is_empty() && fraction.is_empty())
            || !digits(whole)
            || !digits(fraction)
            || whole.len() > 20
            || fraction.len() > Self::PLACES
        {
            return None;
        }
        let padded = format!("{whole}{fraction:0<17}");
        let units: i128 = padded.parse().ok()?;
        Some(Decimal {
            units: if negative { -units } else { units },
        })
    }

    /// The number without trailing zeros or a bare point: `12.5`, `3`.
    fn text(&self) -> String {
        let digits = format!("{:018}", self.units.unsigned_abs());
        let (whole, fraction) = digits.split_at(digits.len() - Self::PLACES);
        let fraction = fraction.trim_end_matches('0');
        let sign = if self.units < 0 { "-" } else { "" };
        if fraction.is_empty() {
            format!("{sign}{whole}")
        } else {
            format!("{sign}{whole}.{fraction}")
        }
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
        let add = |a: &str, b: &str| add_floats(a.as_bytes(), b.as_bytes());
        assert_eq!(add("10.5", "0.1"), Ok("10.6".into()));
        assert_eq!(add("0.1", "0.2"), Ok("0.3".into()));
        assert_eq!(add("10.5", "-10.5"), Ok("0".into()));
        assert_eq!(add("-1", "0.25"), Ok("-0.75".into()));
        assert_eq!(add("5.0e3", "2.0e2"), Ok("5200".into()));
        assert_eq!(add("3", "1"), Ok("4".into()));
        assert_eq!(
            add("1.7e308", "1.7e308"),
            Err("increment would produce NaN or Infinity")
        );
        assert_eq!(add("x", "1"), Err("value is not a valid float"));
    }
}
