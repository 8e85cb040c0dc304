//! Durations as people write them in workflow parameters: `90s`, `15m`,
//! `2h`, `7d`, `1w`, and sums such as `1h30m`.

use super::Invalid;
use std::time::Duration;

/// Parse a duration such as `7d` or `1h30m`.
pub fn parse_duration(s: &str) -> Result<Duration, Invalid> {
    let invalid = || {
        Invalid::one(
            "duration",
            format!("{s:?} is not a duration"),
            "write a number followed by s, m, h, d or w, e.g. 30m, 7d or 1h30m",
        )
    };
    if s.is_empty() {
        return Err(invalid());
    }
    let mut total: u64 = 0;
    let mut digits = String::new();
    for c in s.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let unit: u64 = match c {
            's' => 1,
            'm' => 60,
            'h' => 3_600,
            'd' => 86_400,
            'w' => 604_800,
            _ => return Err(invalid()),
        };
        let n: u64 = digits.parse().map_err(|_| invalid())?;
        digits.clear();
        total = n
            .checked_mul(unit)
            .and_then(|secs| total.checked_add(secs))
            .ok_or_else(invalid)?;
    }
    if !digits.is_empty() {
        return Err(invalid());
    }
    Ok(Duration::from_secs(total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_and_sums() {
        assert_eq!(parse_duration("90s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("1h30m").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse_duration("7d").unwrap(), Duration::from_secs(604_800));
        for bad in ["", "7", "d", "1x", "-1d", "99999999999999999999w"] {
            assert!(parse_duration(bad).is_err(), "{bad:?}");
        }
    }
}
