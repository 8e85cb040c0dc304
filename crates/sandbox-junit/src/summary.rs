//! What a run of reports says to a person: one line (a commit status's
//! description), and a Markdown summary (a check run's summary, or the
//! tests section of the pull request's comment) with the counts, the
//! duration, the slowest tests, the failures and the reports that could
//! not be read. Any code that reports on a test run calls these.

use crate::Results;
use std::fmt::Write;

/// How much a summary lists.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Slowest tests shown.
    pub slowest: usize,
    /// Failed or errored tests listed by name.
    pub failures: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            slowest: 10,
            failures: 50,
        }
    }
}

/// The run's verdict in a few words: `no test report found`, `2 reports
/// unreadable`, `3 failed, 1 errored`, `no tests ran` or `120 passed`.
pub fn headline(results: &Results) -> String {
    let c = results.counts();
    if results.files.is_empty() {
        return "no test report found".into();
    }
    let mut parts = Vec::new();
    if !results.broken.is_empty() {
        let n = results.broken.len();
        parts.push(format!("{n} report{} unreadable", plural(n)));
    }
    if c.failed > 0 {
        parts.push(format!("{} failed", c.failed));
    }
    if c.errored > 0 {
        parts.push(format!("{} errored", c.errored));
    }
    if parts.is_empty() {
        if c.total() == 0 {
            return "no tests ran".into();
        }
        return format!("{} passed{}", c.passed, skipped(c.skipped));
    }
    format!(
        "{}, {} passed{}",
        parts.join(", "),
        c.passed,
        skipped(c.skipped)
    )
}

fn skipped(n: usize) -> String {
    if n == 0 {
        String::new()
    } else {
        format!(", {n} skipped")
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// A duration in seconds as people read it: `850 ms`, `12.3 s`, `4 min 05 s`.
pub fn human_duration(seconds: f64) -> String {
    if seconds < 1.0 {
        format!("{:.0} ms", seconds * 1000.0)
    } else if seconds < 60.0 {
        format!("{seconds:.1} s")
    } else {
        let s = seconds.round() as u64;
        format!("{} min {:02} s", s / 60, s % 60)
    }
}

/// Markdown table cells cannot hold `|` or newlines.
fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace(['\n', '\r'], " ")
}

/// The Markdown summary of `results`. `junit_path` names where the reports
/// were looked for (said when none was found).
pub fn markdown(results: &Results, junit_path: &str, limits: Limits) -> String {
    let c = results.counts();
    let mut s = String::new();
    let _ = writeln!(s, "**{}**\n", headline(results));
    let _ = writeln!(s, "| passed | failed | errored | skipped | duration |");
    let _ = writeln!(s, "|---:|---:|---:|---:|---:|");
    let _ = writeln!(
        s,
        "| {} | {} | {} | {} | {} |",
        c.passed,
        c.failed,
        c.errored,
        c.skipped,
        human_duration(results.duration())
    );
    if results.files.is_empty() {
        let _ = writeln!(
            s,
            "\nNo JUnit XML report matched `{}`: did the tests run, and write their report there?",
            cell(junit_path)
        );
    }
    if !results.broken.is_empty() {
        let _ = writeln!(s, "\n### Reports that could not be read\n");
        for b in &results.broken {
            let _ = writeln!(
                s,
                "- `{}` {}",
                cell(&b.file.display().to_string()),
                cell(&b.reason)
            );
        }
    }
    let problems: Vec<_> = results.problems().collect();
    if !problems.is_empty() {
        let _ = writeln!(s, "\n### Failed and errored\n");
        let _ = writeln!(s, "| test | outcome | where | message |");
        let _ = writeln!(s, "|---|---|---|---|");
        for t in problems.iter().take(limits.failures) {
            let place = t
                .location
                .as_ref()
                .map(|l| format!("`{}:{}`", cell(&l.path), l.line))
                .unwrap_or_default();
            let message: String = first_line(&t.message, &t.details)
                .chars()
                .take(200)
                .collect();
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} |",
                cell(&t.full_name()),
                t.outcome.as_str(),
                place,
                cell(&message)
            );
        }
        if problems.len() > limits.failures {
            let _ = writeln!(s, "\n…and {} more.", problems.len() - limits.failures);
        }
    }
    let slowest: Vec<_> = results
        .slowest(limits.slowest)
        .into_iter()
        .filter(|t| t.time > 0.0)
        .collect();
    if !slowest.is_empty() {
        let _ = writeln!(
            s,
            "\n<details><summary>Slowest {} test{}</summary>\n",
            slowest.len(),
            plural(slowest.len())
        );
        let _ = writeln!(s, "| test | outcome | time |");
        let _ = writeln!(s, "|---|---|---:|");
        for t in slowest {
            let _ = writeln!(
                s,
                "| {} | {} | {} |",
                cell(&t.full_name()),
                t.outcome.as_str(),
                human_duration(t.time)
            );
        }
        let _ = writeln!(s, "\n</details>");
    }
    s
}

/// The message of a failure in one line: its `message`, else the first
/// non-empty line of its text.
pub fn first_line<'a>(message: &'a str, details: &'a str) -> &'a str {
    let from = if message.trim().is_empty() {
        details
    } else {
        message
    };
    from.lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn headlines_and_durations() {
        assert_eq!(headline(&Results::default()), "no test report found");
        let mut r = Results::default();
        r.files.push("a.xml".into());
        assert_eq!(headline(&r), "no tests ran");
        r.tests = crate::parse(
            r#"<testsuite name="s"><testcase name="a" time="75"/><testcase name="b"><failure message="x|y"/></testcase><testcase name="c"><skipped/></testcase></testsuite>"#.as_bytes(),
            Path::new("a.xml"),
        )
        .unwrap();
        assert_eq!(headline(&r), "1 failed, 1 passed, 1 skipped");
        let md = markdown(&r, "reports/", Limits::default());
        assert!(md.contains("| 1 | 1 | 0 | 1 | 1 min 15 s |"), "{md}");
        assert!(md.contains("| b | failed |  | x\\|y |"), "{md}");
        assert!(md.contains("Slowest 1 test"), "{md}");
        assert_eq!(human_duration(0.25), "250 ms");
        assert_eq!(human_duration(12.34), "12.3 s");
    }
}
