//! Go duration strings (`5s`, `1m30s`, `250ms`), the form Argo reads a
//! reply's `requeue` in (`metav1.Duration`, parsed by `time.ParseDuration`)
//! and the form this plugin's own duration flags take, so one vocabulary
//! serves both.

use std::time::Duration;

/// Format `d` as Go's `time.Duration.String()` does for the values a plugin
/// sends: whole seconds as `1h2m3s` / `1m30s` / `5s`, anything finer in
/// milliseconds (`1500ms`), which `time.ParseDuration` accepts as well.
pub fn format(d: Duration) -> String {
    if d.is_zero() {
        return "0s".into();
    }
    if d.subsec_nanos() != 0 {
        // Sub-millisecond requeues are meaningless to the agent; never
        // round a positive duration down to 0, which would stop the requeue.
        return format!("{}ms", d.as_millis().max(1));
    }
    let secs = d.as_secs();
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    // Go prints inner zero units once a larger unit is present: 1h0m0s.
    match (h, m) {
        (0, 0) => format!("{s}s"),
        (0, _) => format!("{m}m{s}s"),
        _ => format!("{h}h{m}m{s}s"),
    }
}

/// Parse a non-negative Go duration made of whole numbers with units `ms`,
/// `s`, `m` or `h`, e.g. `250ms`, `5s`, `1h30m`.
pub fn parse(s: &str) -> Result<Duration, String> {
    let bad = || format!("{s:?} is not a duration: write e.g. 250ms, 5s, 15m or 1h30m");
    if s.is_empty() {
        return Err(bad());
    }
    let mut total = Duration::ZERO;
    let mut rest = s;
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
        if digits == 0 {
            return Err(bad());
        }
        let n: u64 = rest[..digits].parse().map_err(|_| bad())?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let part = match &rest[..unit_len] {
            "ms" => Duration::from_millis(n),
            "s" => Duration::from_secs(n),
            "m" => Duration::from_secs(n.checked_mul(60).ok_or_else(bad)?),
            "h" => Duration::from_secs(n.checked_mul(3600).ok_or_else(bad)?),
            _ => return Err(bad()),
        };
        total = total.checked_add(part).ok_or_else(bad)?;
        rest = &rest[unit_len..];
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_go() {
        let cases = [
            (Duration::from_secs(5), "5s"),
            (Duration::from_secs(90), "1m30s"),
            (Duration::from_secs(3600), "1h0m0s"),
            (Duration::from_millis(1500), "1500ms"),
            (Duration::from_micros(10), "1ms"),
            (Duration::ZERO, "0s"),
        ];
        for (d, want) in cases {
            assert_eq!(format(d), want, "{d:?}");
        }
    }

    #[test]
    fn parses_what_it_formats_and_rejects_the_rest() {
        for secs in [1, 5, 59, 60, 61, 3599, 3600, 86_400] {
            let d = Duration::from_secs(secs);
            assert_eq!(parse(&format(d)).unwrap(), d);
        }
        assert_eq!(parse("250ms").unwrap(), Duration::from_millis(250));
        for bad in [
            "",
            "5",
            "s",
            "5x",
            "-5s",
            "1.5s",
            "5s ",
            "99999999999999999999h",
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
    }
}
