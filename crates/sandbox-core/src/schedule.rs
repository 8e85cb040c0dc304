//! Cron schedules as Argo's CronWorkflow reads them, and how many hours a
//! week a sandbox sleeps between a hibernate schedule and a wake schedule.
//!
//! The syntax is the standard five fields (minute, hour, day of month,
//! month, day of week) of robfig/cron v3's `ParseStandard`, which
//! argo-workflows uses to run and to validate a CronWorkflow
//! (`workflow/cron/operator.go`, `workflow/validate/validate.go`
//! ValidateCronWorkflow): `*`, `?`, numbers, ranges `a-b`, steps `*/s` and
//! `a-b/s`, lists, month and weekday names (`JAN`, `MON`), days of the
//! week 0-6 from Sunday, and the descriptors `@yearly`, `@monthly`, `@weekly`,
//! `@daily`, `@hourly`. As in robfig/cron (`spec.go` dayMatches), when both
//! day fields are restricted a day matches either of them.
//!
//! Sleep hours are counted in the schedules' own wall clock, so the time
//! zone does not change them (a daylight-saving week is an hour off).

use std::fmt;

/// A parsed five-field schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    minutes: u64,
    hours: u64,
    days: u64,
    months: u64,
    weekdays: u64,
    /// Day of month was `*` (or `?`).
    any_day: bool,
    /// Day of week was `*` (or `?`).
    any_weekday: bool,
}

/// Why a schedule does not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleError(String);

impl fmt::Display for ScheduleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ScheduleError {}

const MONTHS: [&str; 12] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];
const WEEKDAYS: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

impl Schedule {
    /// Parse a schedule such as `0 20 * * 1-5` or `@daily`.
    pub fn parse(text: &str) -> Result<Schedule, ScheduleError> {
        let expanded = match text.trim() {
            "@yearly" | "@annually" => "0 0 1 1 *",
            "@monthly" => "0 0 1 * *",
            "@weekly" => "0 0 * * 0",
            "@daily" | "@midnight" => "0 0 * * *",
            "@hourly" => "0 * * * *",
            other => other,
        };
        let fields: Vec<&str> = expanded.split_whitespace().collect();
        if fields.len() != 5 {
            return Err(ScheduleError(format!(
                "{text:?} has {} fields; a schedule has five (minute hour day-of-month month day-of-week), e.g. \"0 20 * * 1-5\"",
                fields.len()
            )));
        }
        let any = |f: &str| f == "*" || f == "?";
        let weekdays = field(fields[4], 0, 6, &WEEKDAYS, "day of week")?;
        Ok(Schedule {
            minutes: field(fields[0], 0, 59, &[], "minute")?,
            hours: field(fields[1], 0, 23, &[], "hour")?,
            days: field(fields[2], 1, 31, &[], "day of month")?,
            months: field(fields[3], 1, 12, &MONTHS, "month")?,
            weekdays,
            any_day: any(fields[2]),
            any_weekday: any(fields[4]),
        })
    }

    /// Whether the schedule fires at `minute` of `hour` on a day that is
    /// `weekday` (0 = Sunday), day `day` of month `month`.
    pub fn matches(&self, minute: u32, hour: u32, day: u32, month: u32, weekday: u32) -> bool {
        let bit = |set: u64, v: u32| set & (1u64 << v) != 0;
        let day_ok = if self.any_day || self.any_weekday {
            bit(self.days, day) && bit(self.weekdays, weekday)
        } else {
            bit(self.days, day) || bit(self.weekdays, weekday)
        };
        bit(self.minutes, minute) && bit(self.hours, hour) && bit(self.months, month) && day_ok
    }
}

/// One field as a bit set of the values it allows.
fn field(text: &str, min: u32, max: u32, names: &[&str], what: &str) -> Result<u64, ScheduleError> {
    let bad = |why: String| {
        ScheduleError(format!(
            "the {what} field {text:?} {why}; it takes *, {min}-{max}, ranges a-b, steps */n and lists a,b"
        ))
    };
    let value = |s: &str| -> Result<u32, ScheduleError> {
        if let Some(i) = names.iter().position(|n| n.eq_ignore_ascii_case(s)) {
            // Month names start at 1, weekday names at 0.
            return Ok(i as u32 + min);
        }
        let v: u32 = s
            .parse()
            .map_err(|_| bad(format!("has {s:?}, not a number")))?;
        if v < min || v > max {
            return Err(bad(format!("has {v}, outside {min}-{max}")));
        }
        Ok(v)
    };
    let mut set = 0u64;
    for part in text.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((r, s)) => {
                let step: u32 = s
                    .parse()
                    .ok()
                    .filter(|s| *s > 0)
                    .ok_or_else(|| bad(format!("has step {s:?}, not a positive number")))?;
                (r, step)
            }
            None => (part, 1),
        };
        let (lo, hi) = if range == "*" || range == "?" {
            (min, max)
        } else if let Some((a, b)) = range.split_once('-') {
            (value(a)?, value(b)?)
        } else {
            let v = value(range)?;
            // `a/s` runs from a to the end, as in robfig/cron.
            (v, if part.contains('/') { max } else { v })
        };
        if lo > hi {
            return Err(bad(format!(
                "has the range {lo}-{hi}, which runs backwards"
            )));
        }
        let mut v = lo;
        while v <= hi {
            set |= 1 << v;
            v += step;
        }
    }
    Ok(set)
}

/// Minutes of a week asleep, when hibernate runs on `sleep` and wake on
/// `wake`: a week of wall-clock minutes (a 30-day month, starting on a
/// Monday, 1 January) is walked twice so the state at its start is known,
/// and the second pass counts. A minute both schedules fire on wakes.
pub fn asleep_minutes_per_week(sleep: &Schedule, wake: &Schedule) -> u32 {
    const WEEK: u32 = 7 * 24 * 60;
    let mut asleep = false;
    let mut count = 0;
    for i in 0..2 * WEEK {
        let m = i % WEEK;
        let (day_index, minute_of_day) = (m / (24 * 60), m % (24 * 60));
        // Monday 1 January: weekday 1.
        let weekday = (day_index + 1) % 7;
        let (hour, minute) = (minute_of_day / 60, minute_of_day % 60);
        let day = day_index + 1;
        if wake.matches(minute, hour, day, 1, weekday) {
            asleep = false;
        } else if sleep.matches(minute, hour, day, 1, weekday) {
            asleep = true;
        }
        if asleep && i >= WEEK {
            count += 1;
        }
    }
    count
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hours(sleep: &str, wake: &str) -> f64 {
        f64::from(asleep_minutes_per_week(
            &Schedule::parse(sleep).unwrap(),
            &Schedule::parse(wake).unwrap(),
        )) / 60.0
    }

    #[test]
    fn weekday_evenings_to_mornings_and_the_weekend() {
        // Mon-Thu nights 11.5 h each, Friday 20:00 to Monday 07:30 59.5 h.
        assert_eq!(hours("0 20 * * 1-5", "30 7 * * 1-5"), 4.0 * 11.5 + 59.5);
        assert_eq!(hours("0 20 * * MON-FRI", "30 7 * * mon-fri"), 105.5);
        // Every night 22:00 to 06:00.
        assert_eq!(hours("0 22 * * *", "0 6 * * *"), 56.0);
        // Never woken: asleep all week; never put to sleep: never.
        assert_eq!(hours("@daily", "0 0 30 2 *"), 168.0);
        assert_eq!(hours("0 0 30 2 *", "@daily"), 0.0);
    }

    #[test]
    fn fields_follow_robfig_cron() {
        let s = Schedule::parse("*/15 9-17/4 * * 0,SUN").unwrap();
        assert!(s.matches(45, 13, 3, 1, 0));
        assert!(!s.matches(45, 14, 3, 1, 0));
        assert!(!s.matches(45, 13, 3, 1, 6));
        // Both day fields restricted: either matches.
        let s = Schedule::parse("0 0 1 * 1").unwrap();
        assert!(s.matches(0, 0, 1, 5, 3) && s.matches(0, 0, 9, 5, 1));
        assert!(!s.matches(0, 0, 9, 5, 3));
        // One of them `*`: both must match.
        let s = Schedule::parse("0 0 * * 1").unwrap();
        assert!(!s.matches(0, 0, 1, 5, 3));
    }

    #[test]
    fn bad_schedules_say_which_field_and_why() {
        for (text, says) in [
            ("0 20 * *", "five"),
            ("60 20 * * *", "minute field"),
            ("0 25 * * *", "hour field"),
            ("0 20 * * MON-XYZ", "day of week"),
            ("0 20 5-1 * *", "backwards"),
            ("*/0 * * * *", "step"),
            // robfig/cron's day of week stops at 6 (Saturday).
            ("0 20 * * 7", "day of week"),
        ] {
            let e = Schedule::parse(text).unwrap_err().to_string();
            assert!(e.contains(says), "{text}: {e}");
        }
    }
}
