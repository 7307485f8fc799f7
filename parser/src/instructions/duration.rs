//! Go's duration syntax (`time.ParseDuration`), used by HEALTHCHECK flags:
//! an optional sign, then one or more decimal numbers each with a unit
//! (`ns`, `us`, `µs`, `μs`, `ms`, `s`, `m`, `h`), e.g. `1h30m`, `1.5s`,
//! `-2ms`; a bare `0` is allowed. [`parse_go_duration`] returns signed
//! nanoseconds, [`DurationError`] carries Go's messages.

use std::fmt;

/// Why a duration does not parse, worded as Go's `time` package does.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    #[error("time: invalid duration {}", TimeQuote(.0))]
    Invalid(String),
    #[error("time: missing unit in duration {}", TimeQuote(.0))]
    MissingUnit(String),
    #[error("time: unknown unit {} in duration {}", TimeQuote(.unit), TimeQuote(.input))]
    UnknownUnit { unit: String, input: String },
}

const LIMIT: u64 = 1 << 63;

/// Parses a Go duration into nanoseconds.
pub fn parse_go_duration(input: &str) -> Result<i64, DurationError> {
    let invalid = || DurationError::Invalid(input.to_string());
    let mut s = input.as_bytes();
    let mut negative = false;
    if let [sign @ (b'-' | b'+'), rest @ ..] = s {
        negative = *sign == b'-';
        s = rest;
    }
    if s == b"0" {
        return Ok(0);
    }
    if s.is_empty() {
        return Err(invalid());
    }
    let mut total: u64 = 0;
    while !s.is_empty() {
        if !(s[0] == b'.' || s[0].is_ascii_digit()) {
            return Err(invalid());
        }
        let digits = s.iter().take_while(|b| b.is_ascii_digit()).count();
        let whole = leading_int(&s[..digits]).ok_or_else(invalid)?;
        s = &s[digits..];
        let mut fraction = (0u64, 1f64);
        let mut fraction_digits = 0;
        if let [b'.', rest @ ..] = s {
            fraction_digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
            fraction = leading_fraction(&rest[..fraction_digits]);
            s = &rest[fraction_digits..];
        }
        if digits == 0 && fraction_digits == 0 {
            return Err(invalid());
        }
        let unit_len = s
            .iter()
            .take_while(|b| !(**b == b'.' || b.is_ascii_digit()))
            .count();
        if unit_len == 0 {
            return Err(DurationError::MissingUnit(input.to_string()));
        }
        let unit_text = String::from_utf8_lossy(&s[..unit_len]).into_owned();
        s = &s[unit_len..];
        let unit: u64 = match unit_text.as_str() {
            "ns" => 1,
            "us" | "\u{b5}s" | "\u{3bc}s" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            _ => {
                return Err(DurationError::UnknownUnit {
                    unit: unit_text,
                    input: input.to_string(),
                })
            }
        };
        if whole > LIMIT / unit {
            return Err(invalid());
        }
        let mut value = whole * unit;
        if fraction.0 > 0 {
            // Float arithmetic on purpose: Go rounds the same way.
            value += (fraction.0 as f64 * (unit as f64 / fraction.1)) as u64;
            if value > LIMIT {
                return Err(invalid());
            }
        }
        total = total
            .checked_add(value)
            .filter(|t| *t <= LIMIT)
            .ok_or_else(invalid)?;
    }
    if negative {
        return Ok((total as i64).wrapping_neg());
    }
    i64::try_from(total).map_err(|_| invalid())
}

/// The integer of leading digits, `None` on overflow past 2^63.
fn leading_int(digits: &[u8]) -> Option<u64> {
    let mut x: u64 = 0;
    for d in digits {
        if x > LIMIT / 10 {
            return None;
        }
        x = x * 10 + u64::from(d - b'0');
        if x > LIMIT {
            return None;
        }
    }
    Some(x)
}

/// The fraction digits as an integer and its scale; digits past what fits
/// are dropped.
fn leading_fraction(digits: &[u8]) -> (u64, f64) {
    let mut x: u64 = 0;
    let mut scale = 1f64;
    let mut overflow = false;
    for d in digits {
        if overflow {
            continue;
        }
        if x > (LIMIT - 1) / 10 {
            overflow = true;
            continue;
        }
        let y = x * 10 + u64::from(d - b'0');
        if y > LIMIT {
            overflow = true;
            continue;
        }
        x = y;
        scale *= 10.0;
    }
    (x, scale)
}

/// The `time` package's own quoting: `"` and `\` escaped, bytes of control
/// and non-ASCII characters as `\xNN`.
struct TimeQuote<'a>(&'a str);

impl fmt::Display for TimeQuote<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\"")?;
        for c in self.0.chars() {
            if c < ' ' || !c.is_ascii() {
                let mut buf = [0u8; 4];
                for b in c.encode_utf8(&mut buf).bytes() {
                    write!(f, "\\x{b:02x}")?;
                }
            } else {
                if c == '"' || c == '\\' {
                    f.write_str("\\")?;
                }
                write!(f, "{c}")?;
            }
        }
        f.write_str("\"")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid() {
        let cases = [
            ("0", 0),
            ("-0", 0),
            ("1ns", 1),
            ("1.5s", 1_500_000_000),
            ("1h30m", 5_400_000_000_000),
            (".5ms", 500_000),
            ("5.s", 5_000_000_000),
            ("-2ms", -2_000_000),
            ("+3us", 3_000),
            ("1µs", 1_000),
            ("1μs", 1_000),
            ("9223372036854775807ns", i64::MAX),
            ("-9223372036854775808ns", i64::MIN),
        ];
        for (s, want) in cases {
            assert_eq!(parse_go_duration(s), Ok(want), "{s}");
        }
    }

    #[test]
    fn invalid() {
        let msg = |s| parse_go_duration(s).unwrap_err().to_string();
        assert_eq!(msg(""), "time: invalid duration \"\"");
        assert_eq!(msg("abc"), "time: invalid duration \"abc\"");
        assert_eq!(msg("."), "time: invalid duration \".\"");
        assert_eq!(msg("1"), "time: missing unit in duration \"1\"");
        assert_eq!(msg("10x"), "time: unknown unit \"x\" in duration \"10x\"");
        assert_eq!(
            msg("1é"),
            "time: unknown unit \"\\xc3\\xa9\" in duration \"1\\xc3\\xa9\""
        );
        assert_eq!(
            msg("9223372036854775808ns"),
            "time: invalid duration \"9223372036854775808ns\""
        );
        assert_eq!(msg("3000000h"), "time: invalid duration \"3000000h\"");
    }
}
