//! The part of Go's `time.Parse` that Sensors reach: the layouts govaluate
//! tries on every string literal (`parsing.go` `tryParseTime`) and the
//! `15:04:05` of time filters (`pkg/shared/util/time.go` `ParseTime`).
//! Times are returned as Unix seconds and nanoseconds in UTC; a zone
//! abbreviation (`MST`) counts as offset 0, which is what Go does when the
//! process's local zone is UTC, as in the Argo Events images.

pub use sandbox_core::time::{civil_from_days, days_from_civil};

/// The layouts govaluate's `tryParseTime` tries, in its order.
pub const GOVALUATE_LAYOUTS: &[&str] = &[
    "Mon Jan _2 15:04:05 2006",            // time.ANSIC
    "Mon Jan _2 15:04:05 MST 2006",        // time.UnixDate
    "Mon Jan 02 15:04:05 -0700 2006",      // time.RubyDate
    "3:04PM",                              // time.Kitchen
    "2006-01-02T15:04:05Z07:00",           // time.RFC3339
    "2006-01-02T15:04:05.999999999Z07:00", // time.RFC3339Nano
    "2006-01-02",
    "2006-01-02 15:04",
    "2006-01-02 15:04:05",
    "2006-01-02 15:04:05-07:00",
    "2006-01-02T15Z0700",
    "2006-01-02T15:04Z0700",
    "2006-01-02T15:04:05Z0700",
    "2006-01-02T15:04:05.999999999Z0700",
];

/// A parsed instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Instant {
    /// Seconds since the Unix epoch (floored).
    pub secs: i64,
    /// Nanoseconds within the second.
    pub nanos: u32,
}

/// govaluate's `tryParseTime`: the first layout that parses.
pub fn try_parse_govaluate(candidate: &str) -> Option<Instant> {
    GOVALUATE_LAYOUTS
        .iter()
        .find_map(|layout| parse(layout, candidate).ok())
}

const STD: &[&str] = &[
    "Mon",
    "Jan",
    "2006",
    "_2",
    "01",
    "02",
    "15",
    "3",
    "04",
    "05",
    "PM",
    "MST",
    "-0700",
    "-07:00",
    "Z0700",
    "Z07:00",
    ".999999999",
];

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];
const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];

/// Go's `time.Parse(layout, value)` for the layout elements above.
pub fn parse(layout: &str, value: &str) -> Result<Instant, String> {
    let bad = || format!("parsing time {value:?} as {layout:?}: cannot parse");
    let mut v = value;
    let mut l = layout;
    let (mut year, mut month, mut day) = (0_i64, -1_i64, -1_i64);
    let (mut hour, mut minute, mut second, mut nanos) = (0_i64, 0_i64, 0_i64, 0_u32);
    let mut offset = 0_i64;
    let (mut pm, mut am) = (false, false);
    while !l.is_empty() {
        // The next element of the layout, or one literal character.
        let std = STD.iter().find(|s| l.starts_with(**s)).copied();
        let Some(std) = std else {
            let c = l.chars().next().unwrap_or(' ');
            l = &l[c.len_utf8()..];
            if c == ' ' {
                // Runs of spaces match runs of spaces (Go's `skip`).
                if !v.is_empty() && !v.starts_with(' ') {
                    return Err(bad());
                }
                l = l.trim_start_matches(' ');
                v = v.trim_start_matches(' ');
                continue;
            }
            v = v.strip_prefix(c).ok_or_else(bad)?;
            continue;
        };
        l = &l[std.len()..];
        match std {
            "Mon" => {
                let name = DAYS
                    .iter()
                    .find(|d| v.len() >= 3 && v[..3].eq_ignore_ascii_case(d))
                    .ok_or_else(bad)?;
                v = &v[name.len()..];
            }
            "Jan" => {
                let i = MONTHS
                    .iter()
                    .position(|m| {
                        v.len() >= 3 && v.is_char_boundary(3) && v[..3].eq_ignore_ascii_case(m)
                    })
                    .ok_or_else(bad)?;
                month = i as i64 + 1;
                v = &v[3..];
            }
            "2006" => {
                if v.len() < 4 || !v.as_bytes()[..4].iter().all(u8::is_ascii_digit) {
                    return Err(bad());
                }
                year = v[..4].parse().map_err(|_| bad())?;
                v = &v[4..];
            }
            "_2" | "02" | "01" | "15" | "3" | "04" | "05" => {
                if std == "_2" && v.starts_with(' ') {
                    v = &v[1..];
                }
                let fixed = matches!(std, "02" | "01" | "04" | "05");
                let (n, rest) = getnum(v, fixed).ok_or_else(bad)?;
                v = rest;
                match std {
                    "_2" | "02" => day = n,
                    "01" => {
                        if !(1..=12).contains(&n) {
                            return Err(format!("parsing time {value:?}: month out of range"));
                        }
                        month = n;
                    }
                    "15" => {
                        if n >= 24 {
                            return Err(format!("parsing time {value:?}: hour out of range"));
                        }
                        hour = n;
                    }
                    "3" => {
                        if n > 12 {
                            return Err(format!("parsing time {value:?}: hour out of range"));
                        }
                        hour = n;
                    }
                    "04" => {
                        if n >= 60 {
                            return Err(format!("parsing time {value:?}: minute out of range"));
                        }
                        minute = n;
                    }
                    _ => {
                        if n >= 60 {
                            return Err(format!("parsing time {value:?}: second out of range"));
                        }
                        second = n;
                        // A fractional second the layout does not ask for.
                        let b = v.as_bytes();
                        if b.len() >= 2
                            && (b[0] == b'.' || b[0] == b',')
                            && b[1].is_ascii_digit()
                            && !l.starts_with(".999999999")
                        {
                            let n = 1 + b[1..].iter().take_while(|c| c.is_ascii_digit()).count();
                            nanos = parse_nanos(&v[1..n]);
                            v = &v[n..];
                        }
                    }
                }
            }
            ".999999999" => {
                let b = v.as_bytes();
                if b.len() >= 2 && (b[0] == b'.' || b[0] == b',') && b[1].is_ascii_digit() {
                    let n = 1 + b[1..].iter().take_while(|c| c.is_ascii_digit()).count();
                    nanos = parse_nanos(&v[1..n]);
                    v = &v[n..];
                }
            }
            "PM" => {
                if v.len() < 2 {
                    return Err(bad());
                }
                match v.get(..2) {
                    Some("PM") => pm = true,
                    Some("AM") => am = true,
                    _ => return Err(bad()),
                }
                v = &v[2..];
            }
            "MST" => {
                if v.starts_with("UTC") {
                    v = &v[3..];
                } else {
                    let n = v.bytes().take_while(u8::is_ascii_uppercase).count();
                    let ok = n == 3 || ((n == 4 || n == 5) && v.as_bytes()[n - 1] == b'T');
                    if !ok {
                        return Err(bad());
                    }
                    v = &v[n..];
                }
            }
            _ => {
                // Numeric zones: -0700, -07:00, Z0700, Z07:00.
                if std.starts_with('Z') && v.starts_with('Z') {
                    v = &v[1..];
                    continue;
                }
                let colon = std.contains(':');
                let len = if colon { 6 } else { 5 };
                if v.len() < len || !v.is_char_boundary(len) {
                    return Err(bad());
                }
                let text = &v[..len];
                let sign = match text.as_bytes()[0] {
                    b'+' => 1,
                    b'-' => -1,
                    _ => return Err(bad()),
                };
                let (hh, mm) = if colon {
                    if text.as_bytes()[3] != b':' {
                        return Err(bad());
                    }
                    (&text[1..3], &text[4..6])
                } else {
                    (&text[1..3], &text[3..5])
                };
                let hh = getnum(hh, true)
                    .filter(|(_, r)| r.is_empty())
                    .ok_or_else(bad)?
                    .0;
                let mm = getnum(mm, true)
                    .filter(|(_, r)| r.is_empty())
                    .ok_or_else(bad)?
                    .0;
                offset = sign * (hh * 3600 + mm * 60);
                v = &v[len..];
            }
        }
    }
    if !v.is_empty() {
        return Err(format!("parsing time {value:?}: extra text: {v:?}"));
    }
    if pm && hour < 12 {
        hour += 12;
    } else if am && hour == 12 {
        hour = 0;
    }
    if month < 0 {
        month = 1;
    }
    if day < 0 {
        day = 1;
    }
    if day < 1 || day > days_in(month, year) {
        return Err(format!("parsing time {value:?}: day out of range"));
    }
    let secs =
        days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second - offset;
    Ok(Instant { secs, nanos })
}

/// Go's `getnum`: one or two digits (exactly two when `fixed`).
fn getnum(s: &str, fixed: bool) -> Option<(i64, &str)> {
    let b = s.as_bytes();
    if !b.first().is_some_and(u8::is_ascii_digit) {
        return None;
    }
    if !b.get(1).is_some_and(u8::is_ascii_digit) {
        if fixed {
            return None;
        }
        return Some((i64::from(b[0] - b'0'), &s[1..]));
    }
    Some((
        i64::from(b[0] - b'0') * 10 + i64::from(b[1] - b'0'),
        &s[2..],
    ))
}

fn parse_nanos(digits: &str) -> u32 {
    let mut padded: String = digits.chars().take(9).collect();
    while padded.len() < 9 {
        padded.push('0');
    }
    padded.parse().unwrap_or(0)
}

fn is_leap(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn days_in(month: i64, year: i64) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// RFC 3339 as Go's `time.Time` JSON reads it (what an event's
/// `context.time` holds).
pub fn parse_rfc3339(text: &str) -> Result<Instant, String> {
    parse("2006-01-02T15:04:05Z07:00", text)
}

/// RFC 3339 in UTC, seconds precision, as `metav1.Time` marshals it.
pub fn format_rfc3339(t: Instant) -> String {
    let days = t.secs.div_euclid(86_400);
    let rem = t.secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// A time zone read from the system's zoneinfo files, as Go's
/// `time.LoadLocation` reads them (`$ZONEINFO`, then `/usr/share/zoneinfo`
/// and the other Unix directories): transitions and their UTC offsets.
#[derive(Debug, Clone)]
pub struct Zone {
    /// (transition time, offset in seconds from it on), ascending.
    transitions: Vec<(i64, i64)>,
    /// The offset before the first transition.
    initial: i64,
}

const ZONEINFO_DIRS: &[&str] = &[
    "/usr/share/zoneinfo/",
    "/usr/share/lib/zoneinfo/",
    "/usr/lib/locale/TZ/",
    "/etc/zoneinfo/",
];

impl Zone {
    /// `time.LoadLocation(name)`: `Err` names the zone Go would not know
    /// ("unknown time zone") or that this machine has no file for.
    pub fn load(name: &str) -> Result<Zone, String> {
        if name == "UTC" || name.is_empty() {
            return Ok(Zone {
                transitions: Vec::new(),
                initial: 0,
            });
        }
        if name.contains("..") || name.starts_with('/') {
            return Err(format!("unknown time zone {name}"));
        }
        let mut dirs: Vec<String> = std::env::var("ZONEINFO").ok().into_iter().collect();
        dirs.extend(ZONEINFO_DIRS.iter().map(|d| (*d).to_string()));
        for dir in dirs {
            let path = std::path::Path::new(&dir).join(name);
            if let Ok(bytes) = std::fs::read(&path) {
                return Zone::parse(&bytes).ok_or_else(|| format!("unknown time zone {name}"));
            }
        }
        Err(format!("unknown time zone {name}"))
    }

    /// Whether this machine has a zoneinfo directory at all (else a zone's
    /// absence says nothing about Argo Events' image, which has one).
    pub fn database_present() -> bool {
        std::env::var("ZONEINFO")
            .ok()
            .into_iter()
            .chain(ZONEINFO_DIRS.iter().map(|d| (*d).to_string()))
            .any(|d| std::path::Path::new(&d).join("UTC").exists())
    }

    /// Read a TZif file (version 1 data, or the 64-bit data of version 2+).
    fn parse(b: &[u8]) -> Option<Zone> {
        fn be32(b: &[u8], at: usize) -> Option<i64> {
            Some(i64::from(i32::from_be_bytes(
                b.get(at..at + 4)?.try_into().ok()?,
            )))
        }
        fn counts(b: &[u8], at: usize) -> Option<[usize; 6]> {
            let mut c = [0_usize; 6];
            for (i, slot) in c.iter_mut().enumerate() {
                *slot = usize::try_from(be32(b, at + 20 + 4 * i)?).ok()?;
            }
            Some(c)
        }
        if b.get(..4)? != b"TZif" {
            return None;
        }
        let version = *b.get(4)?;
        let [isut, isstd, leap, timecnt, typecnt, charcnt] = counts(b, 0)?;
        let (base, width) = if version >= b'2' {
            let v1_len = 44 + timecnt * 5 + typecnt * 6 + charcnt + leap * 8 + isstd + isut;
            (v1_len, 8)
        } else {
            (0, 4)
        };
        let [_, _, _, timecnt, _, _] = if width == 8 {
            counts(b, base)?
        } else {
            [isut, isstd, leap, timecnt, typecnt, charcnt]
        };
        let data = base + 44;
        let times = data;
        let indices = times + timecnt * width;
        let types = indices + timecnt;
        let offset_of = |t: usize| -> Option<i64> { be32(b, types + 6 * t) };
        let mut transitions = Vec::with_capacity(timecnt);
        for i in 0..timecnt {
            let at = times + i * width;
            let time = if width == 8 {
                i64::from_be_bytes(b.get(at..at + 8)?.try_into().ok()?)
            } else {
                be32(b, at)?
            };
            let kind = usize::from(*b.get(indices + i)?);
            transitions.push((time, offset_of(kind)?));
        }
        Some(Zone {
            transitions,
            initial: offset_of(0)?,
        })
    }

    /// The UTC offset in force at `secs`.
    pub fn offset_at(&self, secs: i64) -> i64 {
        match self.transitions.partition_point(|(t, _)| *t <= secs) {
            0 => self.initial,
            n => self.transitions[n - 1].1,
        }
    }

    /// Go's `time.Date` in this zone: the instant whose wall clock here is
    /// `wall` (given as if it were UTC seconds).
    pub fn from_wall(&self, wall: i64) -> i64 {
        let offset = self.offset_at(wall);
        let utc = wall - offset;
        let actual = self.offset_at(utc);
        if actual == offset { utc } else { wall - actual }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(text: &str) -> Option<i64> {
        try_parse_govaluate(text).map(|t| t.secs)
    }

    #[test]
    fn govaluate_date_literals() {
        assert_eq!(secs("2014-01-02"), Some(1_388_620_800));
        assert_eq!(secs("2014-01-02 14:12"), Some(1_388_671_920));
        assert_eq!(secs("2014-01-02 14:12:22"), Some(1_388_671_942));
        assert_eq!(secs("2014-01-02T14:12:22+01:00"), Some(1_388_668_342));
        assert_eq!(secs("2014-01-02T14:12:22.5Z"), Some(1_388_671_942));
        assert_eq!(secs("2014-01-02T14Z"), Some(1_388_671_200));
        assert_eq!(secs("2014-01-02T14:12-0100"), Some(1_388_675_520));
        assert_eq!(secs("Thu Jan  2 14:12:22 2014"), Some(1_388_671_942));
        assert_eq!(secs("Thu Jan 02 14:12:22 +0000 2014"), Some(1_388_671_942));
        assert_eq!(secs("Thu Jan  2 14:12:22 PST 2014"), Some(1_388_671_942));
        // Kitchen: a time of day on 1 January of year 0.
        assert_eq!(secs("3:04PM"), Some(-62_167_164_960));
        assert_eq!(secs("2014-02-30"), None);
        assert_eq!(secs("2014-1-02"), None);
        assert_eq!(secs("opened"), None);
        assert_eq!(secs("2014-01-02x"), None);
    }

    #[test]
    fn zoneinfo_offsets() {
        let Ok(zone) = Zone::load("America/New_York") else {
            // No zoneinfo on this machine: the time filter says unsupported.
            return;
        };
        let summer = parse_rfc3339("2024-07-15T14:00:00Z").unwrap().secs;
        assert_eq!(zone.offset_at(summer), -4 * 3600);
        let winter = parse_rfc3339("2024-01-15T14:00:00Z").unwrap().secs;
        assert_eq!(zone.offset_at(winter), -5 * 3600);
        let nine_local = parse_rfc3339("2024-07-15T09:00:00Z").unwrap().secs;
        assert_eq!(
            zone.from_wall(nine_local),
            parse_rfc3339("2024-07-15T13:00:00Z").unwrap().secs
        );
        assert!(Zone::load("Invalid/Timezone").is_err());
        assert!(Zone::load("../etc/passwd").is_err());
    }

    #[test]
    fn rfc3339_round_trip() {
        let t = parse_rfc3339("2024-02-29T23:59:58Z").unwrap();
        assert_eq!(format_rfc3339(t), "2024-02-29T23:59:58Z");
        let t = parse_rfc3339("2024-03-01T00:30:00+01:00").unwrap();
        assert_eq!(format_rfc3339(t), "2024-02-29T23:30:00Z");
    }
}
