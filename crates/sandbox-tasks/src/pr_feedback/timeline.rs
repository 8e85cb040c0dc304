//! Time to ready, measured: the pipeline's own step timings (Argo's
//! `{{tasks.<name>.startedAt}}` / `{{tasks.<name>.finishedAt}}`, RFC 3339,
//! set for every finished task a DAG task depends on: argo-workflows
//! `workflow/controller/operator.go` `buildLocalScope`, `docs/variables.md`
//! "DAG Templates") and the time of the event that started it, turned into
//! a Mermaid `gantt` block GitHub renders and a table of the numbers.

use sandbox_core::params::Invalid;
use serde::{Deserialize, Serialize};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// One step of the pipeline, as the `timings` parameter gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Step {
    /// The DAG task's name.
    pub(crate) name: String,
    /// When it started.
    pub(crate) start: SystemTime,
    /// When it finished.
    pub(crate) end: SystemTime,
}

/// A time as Argo and GitHub write them: RFC 3339 (`2026-12-02T10:04:05Z`).
pub(crate) fn parse_time(s: &str) -> Result<SystemTime, Invalid> {
    sandbox_storage::parse_rfc3339(s.trim()).ok_or_else(|| {
        Invalid::one(
            "rfc3339",
            format!("{s:?} is not an RFC 3339 time"),
            "give a time such as 2026-12-02T10:04:05Z (Argo's {{workflow.creationTimestamp}}, a webhook's updated_at)",
        )
    })
}

/// A step name that cannot break the gantt block or the table: what Argo
/// allows in a task name and little more.
fn check_name(name: &str) -> Result<(), Invalid> {
    let ok = !name.is_empty()
        && name.len() <= 63
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ' '));
    if ok {
        Ok(())
    } else {
        Err(Invalid::one(
            "step-name",
            format!(
                "step name {name:?} is not a task name (letters, digits, - _ . and spaces, at most 63)"
            ),
            "name each step after its DAG task, e.g. create-branch",
        ))
    }
}

/// Parse the `timings` parameter: a JSON list of `{"step", "start",
/// "end"}` objects. An entry whose start or end is empty (a task that did
/// not run) is left out; anything else malformed is an error.
pub(crate) fn parse_timings(s: &str) -> Result<Vec<Step>, Invalid> {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Raw {
        step: String,
        #[serde(default)]
        start: String,
        #[serde(default)]
        end: String,
    }
    let fix = r#"pass a JSON list such as [{"step":"create-branch","start":"2026-12-02T10:04:05Z","end":"2026-12-02T10:04:09Z"}]"#;
    let raw: Vec<Raw> = serde_json::from_str(s)
        .map_err(|e| Invalid::one("json", format!("not a JSON list of step timings: {e}"), fix))?;
    let mut steps = Vec::new();
    for r in raw {
        check_name(&r.step)?;
        if r.start.trim().is_empty() || r.end.trim().is_empty() {
            continue;
        }
        let (start, end) = (parse_time(&r.start)?, parse_time(&r.end)?);
        if end < start {
            return Err(Invalid::one(
                "end-before-start",
                format!("step {} ends before it starts", r.step),
                fix,
            ));
        }
        steps.push(Step {
            name: r.step,
            start,
            end,
        });
    }
    steps.sort_by_key(|s| s.start);
    Ok(steps)
}

/// One row of the table.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Row {
    /// The step.
    pub(crate) step: String,
    /// When it started, from the origin (`+1 min 05 s`).
    pub(crate) at: String,
    /// How long it took.
    pub(crate) took: String,
}

/// What the comment shows of the timings.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Timeline {
    /// From the event (else the first step) to the end of the last step.
    pub(crate) total: String,
    /// The same, in seconds.
    pub(crate) total_seconds: u64,
    /// Whether the origin is the triggering event.
    pub(crate) from_event: bool,
    /// The Mermaid block, fenced.
    pub(crate) gantt: String,
    /// The numbers.
    pub(crate) rows: Vec<Row>,
}

/// The label of the time between the event and the first step (the
/// Sensor, the controller, the per-PR mutex).
const QUEUED: &str = "event to first step";

/// The timeline of `steps`, measured from `triggered_at` when it is
/// before the first step; `None` without steps.
pub(crate) fn timeline(triggered_at: Option<SystemTime>, steps: &[Step]) -> Option<Timeline> {
    let first = steps.iter().map(|s| s.start).min()?;
    let last = steps.iter().map(|s| s.end).max()?;
    let from_event = triggered_at.is_some_and(|t| t <= first);
    let origin = if from_event {
        triggered_at.unwrap_or(first)
    } else {
        first
    };
    let mut bars: Vec<(&str, SystemTime, SystemTime)> = Vec::new();
    if from_event && origin < first {
        bars.push((QUEUED, origin, first));
    }
    bars.extend(steps.iter().map(|s| (s.name.as_str(), s.start, s.end)));

    let total = since(origin, last);
    let mut gantt = String::from("```mermaid\ngantt\n");
    gantt.push_str(&format!(
        "    title Time to ready: {} (UTC)\n",
        human(total)
    ));
    // Times are written and shown as the same wall-clock digits, so the
    // chart reads in UTC whatever the reader's time zone.
    gantt.push_str("    dateFormat YYYY-MM-DD HH:mm:ss.SSS\n");
    gantt.push_str(if total < Duration::from_secs(600) {
        "    axisFormat %H:%M:%S\n"
    } else {
        "    axisFormat %H:%M\n"
    });
    gantt.push_str("    section sandbox-create\n");
    // A bar of zero length is not drawn; a two-hundredth of the whole
    // (at least a millisecond) makes it visible.
    let least = (total / 200).max(Duration::from_millis(1));
    for (name, start, end) in &bars {
        let end = (*end).max(*start + least);
        gantt.push_str(&format!(
            "    {name} :{}, {}\n",
            wall_clock(*start),
            wall_clock(end)
        ));
    }
    gantt.push_str("```");
    let rows = bars
        .iter()
        .map(|(name, start, end)| Row {
            step: (*name).to_string(),
            at: format!("+{}", human(since(origin, *start))),
            took: human(since(*start, *end)),
        })
        .collect();
    Some(Timeline {
        total: human(total),
        total_seconds: total.as_secs(),
        from_event,
        gantt,
        rows,
    })
}

fn since(from: SystemTime, to: SystemTime) -> Duration {
    to.duration_since(from).unwrap_or_default()
}

/// `250 ms`, `45 s`, `7 min 05 s`, `1 h 02 min`.
pub(crate) fn human(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0 => format!("{} ms", d.as_millis()),
        1..=59 => format!("{s} s"),
        60..=3599 => format!("{} min {:02} s", s / 60, s % 60),
        _ => format!("{} h {:02} min", s / 3600, (s % 3600) / 60),
    }
}

/// `2026-12-02 10:04:05.250`, UTC.
fn wall_clock(t: SystemTime) -> String {
    let millis = t
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .subsec_millis();
    format!(
        "{}.{millis:03}",
        sandbox_core::time::rfc3339(t)
            .replace('T', " ")
            .trim_end_matches('Z')
    )
}

/// `10:04`, UTC.
pub(crate) fn hour_minute(t: SystemTime) -> String {
    let secs = t.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs() % 86_400;
    format!("{:02}:{:02}", secs / 3600, (secs % 3600) / 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> SystemTime {
        parse_time(s).unwrap()
    }

    const TIMINGS: &str = r#"[
        {"step": "create-branch", "start": "2026-12-02T10:04:10Z", "end": "2026-12-02T10:04:14Z"},
        {"step": "check-params", "start": "2026-12-02T10:04:02Z", "end": "2026-12-02T10:04:08Z"},
        {"step": "init-did-not-finish", "start": "", "end": ""},
        {"step": "wait-ready", "start": "2026-12-02T10:09:00Z", "end": "2026-12-02T10:11:30Z"}
    ]"#;

    #[test]
    fn the_gantt_starts_at_the_event_and_lists_each_step() {
        let steps = parse_timings(TIMINGS).unwrap();
        // Sorted by start; the task that did not run is left out.
        assert_eq!(
            steps.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(),
            ["check-params", "create-branch", "wait-ready"]
        );
        let t = timeline(Some(at("2026-12-02T10:03:50Z")), &steps).unwrap();
        assert_eq!(t.total, "7 min 40 s");
        assert_eq!(t.total_seconds, 460);
        assert!(t.from_event);
        assert_eq!(
            t.gantt,
            "```mermaid\ngantt\n    title Time to ready: 7 min 40 s (UTC)\n    dateFormat YYYY-MM-DD HH:mm:ss.SSS\n    axisFormat %H:%M:%S\n    section sandbox-create\n    event to first step :2026-12-02 10:03:50.000, 2026-12-02 10:04:02.000\n    check-params :2026-12-02 10:04:02.000, 2026-12-02 10:04:08.000\n    create-branch :2026-12-02 10:04:10.000, 2026-12-02 10:04:14.000\n    wait-ready :2026-12-02 10:09:00.000, 2026-12-02 10:11:30.000\n```"
        );
        let rows: Vec<(String, String, String)> = t
            .rows
            .iter()
            .map(|r| (r.step.clone(), r.at.clone(), r.took.clone()))
            .collect();
        assert_eq!(
            rows[0],
            ("event to first step".into(), "+0 ms".into(), "12 s".into())
        );
        assert_eq!(
            rows[3],
            (
                "wait-ready".into(),
                "+5 min 10 s".into(),
                "2 min 30 s".into()
            )
        );
    }

    #[test]
    fn without_the_event_the_first_step_is_the_origin() {
        let steps = parse_timings(TIMINGS).unwrap();
        let t = timeline(None, &steps).unwrap();
        assert_eq!(t.total, "7 min 28 s");
        assert!(!t.from_event && !t.gantt.contains("event to first step"));
        // An event after the first step (a clock off, a later label) is ignored.
        let t = timeline(Some(at("2026-12-02T10:05:00Z")), &steps).unwrap();
        assert_eq!(t.total, "7 min 28 s");
        assert!(timeline(None, &[]).is_none());
    }

    #[test]
    fn malformed_timings_say_what_is_wrong() {
        let rule = |s: &str| parse_timings(s).unwrap_err().0[0].rule;
        assert_eq!(rule("not json"), "json");
        assert_eq!(rule(r#"{"step": "x"}"#), "json");
        assert_eq!(
            rule(r#"[{"step": "x", "start": "yesterday", "end": "2026-12-02T10:04:14Z"}]"#),
            "rfc3339"
        );
        assert_eq!(
            rule(r#"[{"step": "a: b", "start": "", "end": ""}]"#),
            "step-name"
        );
        assert_eq!(
            rule(
                r#"[{"step": "x", "start": "2026-12-02T10:04:14Z", "end": "2026-12-02T10:04:10Z"}]"#
            ),
            "end-before-start"
        );
        assert_eq!(rule(r#"[{"step": "x", "begin": ""}]"#), "json");
    }

    #[test]
    fn durations_read_like_people_say_them() {
        assert_eq!(human(Duration::from_millis(250)), "250 ms");
        assert_eq!(human(Duration::from_secs(45)), "45 s");
        assert_eq!(human(Duration::from_secs(425)), "7 min 05 s");
        assert_eq!(human(Duration::from_secs(3720)), "1 h 02 min");
        assert_eq!(hour_minute(at("2026-12-02T10:04:59+02:00")), "08:04");
    }
}
