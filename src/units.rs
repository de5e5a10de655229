//! Parsing of human token counts ("32k", "1M") and byte-unit conversions.
//!
//! Token suffixes are binary: `k` = 1,024 and `M` = 1,048,576 tokens, as context lengths are quoted
//! ("128k" = 131,072, DeepSeek-V4's "1M" = 1,048,576). Byte outputs are in GiB (2^30) unless a
//! field says GB (10^9).

use crate::error::{Error, Result};

/// Bytes in one GiB.
pub const GIB: f64 = 1_073_741_824.0;

/// Parses a token count: a plain integer, or a number with a `k`/`K` (×1024) or `m`/`M` (×1024²) suffix.
/// Fractions are allowed with a suffix ("1.5k" = 1536) but must give a whole number of tokens.
pub fn parse_tokens(field: &str, text: &str) -> Result<u64> {
    let t = text.trim().replace('_', "");
    let bad = || {
        Error::field(
            "command line",
            field,
            format!("`{text}`"),
            "a positive token count such as 8192, 32k or 1M",
        )
    };
    let (num, mult) = match t.chars().last() {
        Some('k' | 'K') => (&t[..t.len() - 1], 1024u64),
        Some('m' | 'M') => (&t[..t.len() - 1], 1024 * 1024),
        _ => (t.as_str(), 1),
    };
    let value = if let Ok(v) = num.parse::<u64>() {
        v.checked_mul(mult).ok_or_else(bad)?
    } else {
        let f: f64 = num.parse().map_err(|_| bad())?;
        let v = f * mult as f64;
        if !v.is_finite() || v.fract() != 0.0 || v > 1e15 {
            return Err(bad());
        }
        v as u64
    };
    if value == 0 {
        return Err(bad());
    }
    Ok(value)
}

/// Converts a GiB figure given by a user to bytes, rejecting NaN, infinities and negatives.
pub fn gib_to_bytes(field: &str, gib: f64) -> Result<u64> {
    if !gib.is_finite() || !(0.0..=1e9).contains(&gib) {
        return Err(Error::field(
            "command line",
            field,
            gib,
            "a finite, non-negative size in GiB",
        ));
    }
    Ok((gib * GIB).round() as u64)
}

/// An integer with thousands separators: 671,026,404,352.
pub fn thousands(n: u64) -> String {
    use num_format::{Locale, ToFormattedString};
    n.to_formatted_string(&Locale::en)
}

/// A token count as users write it when it is a whole number of k (1,024) or M (1,048,576):
/// 32768 → "32k", 1048576 → "1M", 1000 → "1000".
pub fn tokens_label(n: u64) -> String {
    match n {
        n if n >= 1 << 20 && n % (1 << 20) == 0 => format!("{}M", n >> 20),
        n if n >= 1 << 10 && n % (1 << 10) == 0 => format!("{}k", n >> 10),
        n => n.to_string(),
    }
}

/// A token count on a chart axis, to one decimal: 1536 → "1.5k".
pub fn tokens_axis_label(v: f64) -> String {
    match v {
        v if v >= 1048576.0 => format!("{}M", (v / 1048576.0 * 10.0).round() / 10.0),
        v if v >= 1024.0 => format!("{}k", (v / 1024.0 * 10.0).round() / 10.0),
        v => format!("{v:.0}"),
    }
}

/// Bytes as GiB, for display.
pub fn to_gib(bytes: u64) -> f64 {
    bytes as f64 / GIB
}

/// `bytes` in GiB with a fixed number of decimals, written as `format!("{:.N$}", to_gib(bytes))`
/// writes it — the exact decimal value of `bytes / 2^30` rounded half to even — but from
/// integers, without the float formatter (every evaluation's warnings carry such figures).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GibFixed {
    pub bytes: u64,
    pub decimals: u32,
}

impl GibFixed {
    pub fn new(bytes: u64, decimals: u32) -> GibFixed {
        GibFixed { bytes, decimals }
    }
}

impl std::fmt::Display for GibFixed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.write_to(f)
    }
}

impl GibFixed {
    /// What `Display` writes, to any writer (a `String` without the formatter machinery).
    pub fn write_to(&self, f: &mut impl std::fmt::Write) -> std::fmt::Result {
        let d = self.decimals;
        // Exact while `bytes as f64` is (below 2^53) and 10^d stays small; else the float path.
        if self.bytes >= 1 << 53 || d > 9 {
            return write!(f, "{:.*}", d as usize, to_gib(self.bytes));
        }
        let scale = 10u128.pow(d);
        let n = self.bytes as u128 * scale;
        let (mut q, r) = (n >> 30, n & ((1 << 30) - 1));
        let half = 1u128 << 29;
        if r > half || (r == half && q % 2 == 1) {
            q += 1;
        }
        // q < 2^53 · 10^9 / 2^30 < 2^53: the quotient and remainder in 64 bits.
        let (q, scale) = (q as u64, scale as u64);
        let (whole, mut frac) = (q / scale, q % scale);
        // The digits into one buffer, written at once (no formatter machinery per part).
        let mut buf = [0u8; 32];
        let mut digits = itoa::Buffer::new();
        let w = digits.format(whole).as_bytes();
        buf[..w.len()].copy_from_slice(w);
        let mut len = w.len();
        if d > 0 {
            buf[len] = b'.';
            for i in (0..d as usize).rev() {
                buf[len + 1 + i] = b'0' + (frac % 10) as u8;
                frac /= 10;
            }
            len += 1 + d as usize;
        }
        // Only ASCII digits and a point were written.
        f.write_str(std::str::from_utf8(&buf[..len]).map_err(|_| std::fmt::Error)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The integer GiB figures are the float formatter's, digit for digit: ties (x.xx5 exactly,
    /// rounded half to even: 0.125 GiB is "0.12", 0.375 GiB "0.38"), their neighbours, and a
    /// spread of sizes from bytes to petabytes.
    #[test]
    fn gib_fixed_matches_the_float_formatter() {
        let check = |b: u64| {
            for d in 0..=4u32 {
                assert_eq!(
                    GibFixed::new(b, d).to_string(),
                    format!("{:.*}", d as usize, to_gib(b)),
                    "{b} B at {d} decimals"
                );
            }
        };
        assert_eq!(GibFixed::new(1 << 27, 2).to_string(), "0.12");
        assert_eq!(GibFixed::new(3 << 27, 2).to_string(), "0.38");
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        for i in 0..20_000u64 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let b = x >> (i % 64);
            check(b);
            // Exact ties at 1–3 decimals (multiples of 2^30 / 2^k / 10^d … ± 1).
            let tie = (b >> 20).wrapping_mul(1 << 27) | (1 << 26);
            for t in [tie, tie.wrapping_sub(1), tie.wrapping_add(1)] {
                check(t);
            }
        }
        for b in [0, 1, (1 << 53) - 1, 1 << 53, u64::MAX, 557 << 30] {
            check(b);
        }
    }

    #[test]
    fn suffixes_are_binary() {
        assert_eq!(parse_tokens("context", "32k").unwrap(), 32_768);
        assert_eq!(parse_tokens("context", "128K").unwrap(), 131_072);
        assert_eq!(parse_tokens("context", "1M").unwrap(), 1_048_576);
        assert_eq!(parse_tokens("context", "8192").unwrap(), 8192);
        assert_eq!(parse_tokens("context", "1.5k").unwrap(), 1536);
    }

    #[test]
    fn rejects_garbage() {
        for bad in [
            "",
            "0",
            "-5",
            "abc",
            "1.3",
            "k",
            "nan",
            "1e30",
            "99999999999999999999",
        ] {
            let e = parse_tokens("context", bad).unwrap_err();
            assert!(e.to_string().contains("context"), "{bad}: {e}");
        }
    }

    #[test]
    fn labels() {
        assert_eq!(thousands(671_026_404_352), "671,026,404,352");
        assert_eq!(thousands(999), "999");
        assert_eq!(tokens_label(32_768), "32k");
        assert_eq!(tokens_label(1 << 20), "1M");
        assert_eq!(tokens_label(1000), "1000");
        assert_eq!(tokens_axis_label(1536.0), "1.5k");
    }

    #[test]
    fn gib_rejects_nan_and_negative() {
        assert!(gib_to_bytes("x", f64::NAN).is_err());
        assert!(gib_to_bytes("x", -1.0).is_err());
        assert_eq!(gib_to_bytes("x", 1.0).unwrap(), 1 << 30);
    }
}
