//! JUnit XML reports read into test results, for the `report-tests` task.
//!
//! The XML is parsed by the `junit-parser` crate (quick-xml underneath),
//! which reads what the common producers write: a `<testsuites>` or a bare
//! `<testsuite>` root (Surefire, mocha's xunit, unittest-xml-reporting),
//! suites nested in suites (PHPUnit), `<failure>` vs `<error>` vs
//! `<skipped>`, properties, `file`/`line` attributes (pytest's xunit1,
//! PHPUnit, unittest-xml-reporting) and Surefire's flaky reruns. This crate
//! adds what a check run needs on top: one flat list of results, counts,
//! the slowest tests, and where each failure is — from the attributes or,
//! when a producer writes none, from its traceback ([`locate`]).
//!
//! A report that cannot be read is never skipped: it is kept as a
//! [`Broken`] file with the reason, and makes the run's conclusion a failure.
#![warn(missing_docs)]

pub mod files;
pub mod locate;
pub mod summary;

pub use files::{FilesError, find_reports};
pub use locate::{Location, LocationSource};

use std::io::BufReader;
use std::path::{Path, PathBuf};

/// How a test ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Outcome {
    /// Passed (a flaky test that passed on a rerun counts here).
    Passed,
    /// An assertion failed (`<failure>`).
    Failed,
    /// The test could not run to its end (`<error>`: an exception outside
    /// an assertion, a fixture, a suite that failed to load).
    Errored,
    /// Skipped (`<skipped>`, including pytest's xfail).
    Skipped,
}

impl Outcome {
    /// `passed`, `failed`, `errored` or `skipped`.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Passed => "passed",
            Outcome::Failed => "failed",
            Outcome::Errored => "errored",
            Outcome::Skipped => "skipped",
        }
    }
}

/// One test case of one report.
#[derive(Debug, Clone, PartialEq)]
pub struct TestResult {
    /// The innermost suite that holds it.
    pub suite: String,
    /// Its `classname` (empty when the producer writes none, as jest-junit
    /// may).
    pub classname: String,
    /// Its `name`.
    pub name: String,
    /// Seconds, from its `time` attribute (0 when absent).
    pub time: f64,
    /// How it ended.
    pub outcome: Outcome,
    /// The failure's or error's `message` attribute (or skip reason).
    pub message: String,
    /// The element's text: the traceback, usually.
    pub details: String,
    /// Where it failed, when that can be told.
    pub location: Option<Location>,
    /// The report it was read from.
    pub report: PathBuf,
}

impl TestResult {
    /// `classname.name`, or `name` alone without a class name.
    pub fn full_name(&self) -> String {
        if self.classname.is_empty() {
            self.name.clone()
        } else {
            format!("{}.{}", self.classname, self.name)
        }
    }
}

/// A report that could not be read, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Broken {
    /// The file.
    pub file: PathBuf,
    /// What is wrong with it, in one line.
    pub reason: String,
}

/// Everything read from a set of reports.
#[derive(Debug, Clone, Default)]
pub struct Results {
    /// Every test case, in report order.
    pub tests: Vec<TestResult>,
    /// The reports that could not be read.
    pub broken: Vec<Broken>,
    /// Every report read or tried.
    pub files: Vec<PathBuf>,
}

/// Test counts by outcome.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Passed.
    pub passed: usize,
    /// Failed.
    pub failed: usize,
    /// Errored.
    pub errored: usize,
    /// Skipped.
    pub skipped: usize,
}

impl Counts {
    /// Every test counted.
    pub fn total(&self) -> usize {
        self.passed + self.failed + self.errored + self.skipped
    }
}

impl Results {
    /// Read every file; a file that cannot be read is recorded as
    /// [`Broken`], never an error of the whole.
    pub fn read(files: &[PathBuf]) -> Self {
        let mut results = Results::default();
        for file in files {
            results.add_file(file);
        }
        results
    }

    /// Read one report file into the results.
    pub fn add_file(&mut self, file: &Path) {
        self.files.push(file.to_path_buf());
        let parsed = std::fs::File::open(file)
            .map_err(|e| format!("cannot be opened: {e}"))
            .and_then(|f| {
                let len = f.metadata().map(|m| m.len()).unwrap_or(0);
                if len == 0 {
                    return Err("is empty (0 bytes): the test run wrote no report".into());
                }
                parse(BufReader::new(f), file)
            });
        match parsed {
            Ok(tests) => self.tests.extend(tests),
            Err(reason) => self.broken.push(Broken {
                file: file.to_path_buf(),
                reason,
            }),
        }
    }

    /// Counts by outcome.
    pub fn counts(&self) -> Counts {
        let mut c = Counts::default();
        for t in &self.tests {
            match t.outcome {
                Outcome::Passed => c.passed += 1,
                Outcome::Failed => c.failed += 1,
                Outcome::Errored => c.errored += 1,
                Outcome::Skipped => c.skipped += 1,
            }
        }
        c
    }

    /// The sum of the tests' times, in seconds.
    pub fn duration(&self) -> f64 {
        self.tests.iter().fold(0.0, |sum, t| sum + t.time)
    }

    /// The `n` slowest tests, slowest first.
    pub fn slowest(&self, n: usize) -> Vec<&TestResult> {
        let mut all: Vec<&TestResult> = self.tests.iter().collect();
        all.sort_by(|a, b| b.time.total_cmp(&a.time));
        all.truncate(n);
        all
    }

    /// The failed and errored tests, in report order.
    pub fn problems(&self) -> impl Iterator<Item = &TestResult> {
        self.tests
            .iter()
            .filter(|t| matches!(t.outcome, Outcome::Failed | Outcome::Errored))
    }

    /// True when the run passed: no failed or errored test, no broken
    /// report, and at least one report read.
    pub fn passed(&self) -> bool {
        let c = self.counts();
        c.failed == 0 && c.errored == 0 && self.broken.is_empty() && !self.files.is_empty()
    }
}

/// Parse one report from `reader`; `file` names it in the results. The
/// error is the reason, in one line.
pub fn parse<R: std::io::BufRead>(reader: R, file: &Path) -> Result<Vec<TestResult>, String> {
    let suites = junit_parser::from_reader(reader).map_err(describe)?;
    let mut out = Vec::new();
    for suite in &suites.suites {
        flatten(suite, file, &mut out);
    }
    Ok(out)
}

/// junit-parser's errors say "Error while parsing XML"; the cause says
/// what and where.
fn describe(e: junit_parser::Error) -> String {
    match e {
        junit_parser::Error::UnexpectedEndOfFile(element) if element == "testsuites" => {
            "is not a JUnit XML report: no <testsuites> or <testsuite> element".into()
        }
        junit_parser::Error::UnexpectedEndOfFile(element) => {
            format!("ends before its <{element}> element is closed (truncated?)")
        }
        other => {
            let mut text = format!("is not valid JUnit XML: {other}");
            let mut source = std::error::Error::source(&other);
            while let Some(s) = source {
                text.push_str(": ");
                text.push_str(&s.to_string());
                source = s.source();
            }
            text
        }
    }
}

fn flatten(suite: &junit_parser::TestSuite, file: &Path, out: &mut Vec<TestResult>) {
    for case in &suite.cases {
        out.push(result(suite, case, file));
    }
    for inner in &suite.suites {
        flatten(inner, file, out);
    }
}

fn result(
    suite: &junit_parser::TestSuite,
    case: &junit_parser::TestCase,
    file: &Path,
) -> TestResult {
    use junit_parser::TestStatus;
    let (outcome, message, details) = match &case.status {
        TestStatus::Success => (Outcome::Passed, String::new(), String::new()),
        TestStatus::Failure(f) => (Outcome::Failed, f.message.clone(), f.text.clone()),
        TestStatus::Error(e) => (Outcome::Errored, e.message.clone(), e.text.clone()),
        TestStatus::Skipped(s) => (Outcome::Skipped, s.message.clone(), s.text.clone()),
    };
    let classname = case.classname.clone().unwrap_or_default();
    let location = match outcome {
        Outcome::Failed | Outcome::Errored => locate::locate(&locate::Hints {
            file: case.file.as_deref().or(suite.file.as_deref()),
            // pytest writes its items' 0-based line (`_pytest/junitxml.py`,
            // `record_testreport`: `testreport.location[1]`); its suite is
            // named `pytest` unless `junit_suite_name` says otherwise. The
            // real-pytest test pins this.
            line: case
                .line
                .map(|l| if suite.name == "pytest" { l + 1 } else { l }),
            classname: &classname,
            texts: &[&details, &message],
        }),
        _ => None,
    };
    TestResult {
        suite: suite.name.clone(),
        classname,
        name: case.original_name.clone(),
        time: if case.time.is_finite() && case.time > 0.0 {
            case.time
        } else {
            0.0
        },
        outcome,
        message,
        details,
        location,
        report: file.to_path_buf(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(xml: &str) -> Result<Vec<TestResult>, String> {
        parse(xml.as_bytes(), Path::new("r.xml"))
    }

    #[test]
    fn nested_suites_errors_failures_and_skips_are_told_apart() {
        let tests = read(
            r#"<testsuites><testsuite name="outer"><testsuite name="inner">
                 <testcase classname="a.B" name="ok" time="0.5"/>
                 <testcase classname="a.B" name="bad" time="1.5"><failure message="no">x</failure></testcase>
                 <testcase classname="a.B" name="boom"><error message="E">y</error></testcase>
                 <testcase classname="a.B" name="later"><skipped/></testcase>
               </testsuite><testcase name="top"/></testsuite></testsuites>"#,
        )
        .unwrap();
        let outcomes: Vec<_> = tests.iter().map(|t| (t.name.as_str(), t.outcome)).collect();
        assert_eq!(
            outcomes,
            [
                ("top", Outcome::Passed),
                ("ok", Outcome::Passed),
                ("bad", Outcome::Failed),
                ("boom", Outcome::Errored),
                ("later", Outcome::Skipped)
            ]
        );
        assert_eq!(tests[2].suite, "inner");
        assert_eq!(tests[2].full_name(), "a.B.bad");
    }

    #[test]
    fn unreadable_reports_say_why_in_one_line() {
        let not_junit = read("<suites><suite><case/></suite></suites>").unwrap_err();
        assert!(not_junit.contains("not a JUnit XML report"), "{not_junit}");
        let truncated = read("<testsuite name=\"s\"><testcase name=\"a\">").unwrap_err();
        assert!(truncated.contains("truncated"), "{truncated}");
        let bad_time = read("<testsuite name=\"s\" time=\"fast\"/>").unwrap_err();
        assert!(bad_time.contains("not valid JUnit XML"), "{bad_time}");
        assert!(!bad_time.contains('\n'));
    }
}
