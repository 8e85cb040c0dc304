//! Real reports of every common producer (`$SANDBOX_FIXTURES/junit`, see
//! its SOURCES.md): the counts each must give, where the failures are, and
//! the malformed ones named with their reason.

use sandbox_junit::{LocationSource, Outcome, Results, find_reports};
use std::path::PathBuf;

fn read(relative: &str) -> Option<Results> {
    let file = sandbox_harness::fixtures::path(format!("junit/{relative}"))?;
    Some(Results::read(&[file]))
}

/// (report, passed, failed, errored, skipped): counted from the testcase
/// elements of each file (`grep -c '<testcase'` and the status elements
/// inside them), not from the producers' own totals, which some get wrong
/// (SOURCES.md notes Surefire's flaky tests="1" with 2 testcases and
/// pytest's tests="15" with 10).
const EXPECTED: &[(&str, usize, usize, usize, usize)] = &[
    ("pytest/junit.fail.xml", 3, 1, 0, 1),
    ("pytest/junit.gloo.standalone.xml", 80, 0, 0, 17),
    ("pytest/python-xunit-pytest.xml", 6, 2, 0, 2),
    ("maven-surefire/TEST-com.shape.CircleTest.xml", 6, 1, 1, 0),
    ("maven-surefire/TEST-org.acme.FlakyTest.xml", 2, 0, 0, 0),
    (
        "maven-surefire/TEST-org.apache.maven.surefire.test.FailingTest.xml",
        0,
        2,
        0,
        0,
    ),
    (
        "maven-surefire/TEST-surefire.MyTest-nestedClass.xml",
        0,
        0,
        1,
        0,
    ),
    (
        "maven-surefire/TEST-classWithNoTests.NoMethodsTestCase.xml",
        0,
        0,
        0,
        0,
    ),
    ("jest-junit/jest-test-results.large.xml", 4207, 2, 0, 30),
    ("jest-junit/jest-junit.failures.xml", 1, 4, 0, 1),
    ("jest-junit/suite-failed-to-run.errors.xml", 0, 0, 2, 0),
    ("mocha-xunit/latex-utensils.xml", 109, 0, 0, 0),
    ("phpunit/phpunit.nested.xml", 10, 2, 0, 0),
    ("bazel/suite-logs.xml", 0, 0, 1, 0),
    (
        "scalatest/TEST-uk.co.gresearch.spark.diff.DiffOptionsSuite.xml",
        5,
        0,
        0,
        0,
    ),
    (
        "testng/TEST-org.apache.pulsar.AddMissingPatchVersionTest.xml",
        0,
        1,
        0,
        1,
    ),
    (
        "unittest-xml-reporting/python-xunit-unittest.xml",
        4,
        1,
        1,
        2,
    ),
];

#[test]
fn every_producer_gives_its_counts() {
    for &(file, passed, failed, errored, skipped) in EXPECTED {
        let Some(results) = read(file) else { return };
        assert!(results.broken.is_empty(), "{file}: {:?}", results.broken);
        let c = results.counts();
        assert_eq!(
            (c.passed, c.failed, c.errored, c.skipped),
            (passed, failed, errored, skipped),
            "{file}"
        );
        assert_eq!(results.passed(), failed + errored == 0, "{file}");
    }
}

#[test]
fn every_fixture_report_is_covered() {
    let Some(dir) = sandbox_harness::fixtures::path("junit") else {
        return;
    };
    let listed: Vec<PathBuf> = EXPECTED.iter().map(|e| dir.join(e.0)).collect();
    for file in find_reports(dir.to_str().unwrap()).unwrap() {
        if !file.starts_with(dir.join("malformed")) {
            assert!(
                listed.contains(&file),
                "{} has no expected counts",
                file.display()
            );
        }
    }
}

#[test]
fn failures_are_located_from_attributes_or_the_traceback() {
    let cases: &[(&str, &str, &str, u64, LocationSource)] = &[
        // pytest xunit1 (0-based lines) and unittest-xml-reporting write file and line.
        (
            "pytest/junit.fail.xml",
            "test_rsh_events",
            "test/test_spark.py",
            820,
            LocationSource::Attributes,
        ),
        (
            "unittest-xml-reporting/python-xunit-unittest.xml",
            "test_error",
            "tests/test_lib.py",
            30,
            LocationSource::Attributes,
        ),
        // pytest xunit2 (the default) writes neither: `tests/test_lib.py:25: AssertionError`.
        (
            "pytest/python-xunit-pytest.xml",
            "test_always_fail",
            "tests/test_lib.py",
            25,
            LocationSource::Traceback,
        ),
        // Surefire: the frame of the test's own class.
        (
            "maven-surefire/TEST-com.shape.CircleTest.xml",
            "testRadius",
            "com/shape/CircleTest.java",
            34,
            LocationSource::Traceback,
        ),
        (
            "testng/TEST-org.apache.pulsar.AddMissingPatchVersionTest.xml",
            "testVersionStrings",
            "org/apache/pulsar/AddMissingPatchVersionTest.java",
            29,
            LocationSource::Traceback,
        ),
        // jest: the first frame outside node_modules.
        (
            "jest-junit/jest-junit.failures.xml",
            "Failing test",
            "C:/Users/Michal/Workspace/dorny/test-check/reports/jest/__tests__/main.test.js",
            10,
            LocationSource::Traceback,
        ),
    ];
    for &(file, name, path, line, source) in cases {
        let Some(results) = read(file) else { return };
        let test = results
            .tests
            .iter()
            .find(|t| t.name == name && matches!(t.outcome, Outcome::Failed | Outcome::Errored))
            .unwrap_or_else(|| panic!("{file}: no failed {name}"));
        let at = test
            .location
            .as_ref()
            .unwrap_or_else(|| panic!("{file} {name}: no location"));
        assert_eq!(
            (at.path.as_str(), at.line, at.source),
            (path, line, source),
            "{file} {name}"
        );
    }
}

#[test]
fn malformed_reports_are_broken_with_their_file_and_reason_never_green() {
    let cases = [
        ("malformed/corrupt-xml.truncated.xml", "truncated"),
        ("malformed/non-xml.xml", "not a JUnit XML report"),
        ("malformed/non-junit.xml", "not a JUnit XML report"),
        ("malformed/empty.xml", "empty"),
    ];
    for (file, why) in cases {
        let Some(results) = read(file) else { return };
        assert_eq!(results.broken.len(), 1, "{file}");
        assert!(results.broken[0].file.ends_with(file));
        assert!(
            results.broken[0].reason.contains(why),
            "{file}: {}",
            results.broken[0].reason
        );
        assert!(!results.passed(), "{file} must not pass");
    }
    // A good report beside a broken one: the good one is counted, the run fails.
    let Some(dir) = sandbox_harness::fixtures::path("junit") else {
        return;
    };
    let results = Results::read(&[
        dir.join("mocha-xunit/latex-utensils.xml"),
        dir.join("malformed/non-xml.xml"),
    ]);
    assert_eq!(results.counts().passed, 109);
    assert!(!results.passed());
    // No report at all is not a pass either.
    assert!(!Results::read(&[]).passed());
}

#[test]
fn properties_do_not_become_tests_and_slowest_come_first() {
    let Some(results) = read("jest-junit/jest-test-results.large.xml") else {
        return;
    };
    let slowest = results.slowest(5);
    assert_eq!(slowest.len(), 5);
    assert!(slowest.windows(2).all(|w| w[0].time >= w[1].time));
    assert!(slowest[0].time >= results.tests.iter().map(|t| t.time).fold(0.0, f64::max));
    let Some(surefire) = read("maven-surefire/TEST-com.shape.CircleTest.xml") else {
        return;
    };
    assert_eq!(surefire.tests.len(), 8);
}
