//! Reports written by a real pytest (`scripts/test` installs it): its
//! default xunit2 family (no file/line attributes: the location comes from
//! the traceback) and xunit1 (with them), failures vs errors (an error in a
//! fixture is `<error>`), skips, xfail and a crash outside assertions.

use sandbox_junit::{LocationSource, Outcome, Results};
use std::path::Path;
use std::process::Command;

const SUITE: &str = r#"
import pytest

@pytest.fixture
def broken():
    raise RuntimeError("fixture broke")

def test_ok():
    assert 1 + 1 == 2

def test_fails():
    value = 41
    assert value == 42

def helper():
    raise KeyError("missing")

def test_raises():
    helper()

def test_fixture_error(broken):
    pass

@pytest.mark.skip(reason="not today")
def test_skipped():
    pass

@pytest.mark.xfail(reason="known")
def test_xfail():
    assert False

@pytest.mark.parametrize("n", [1, 2, 3])
def test_param(n):
    assert n < 3
"#;

fn run_pytest(dir: &Path, family: &str) -> Results {
    std::fs::write(dir.join("test_sample.py"), SUITE).unwrap();
    let report = dir.join(format!("report-{family}.xml"));
    let output = Command::new(sandbox_harness::tool("pytest"))
        .current_dir(dir)
        .args(["-q", "-p", "no:cacheprovider", "-o"])
        .arg(format!("junit_family={family}"))
        .arg(format!("--junitxml={}", report.display()))
        .arg("test_sample.py")
        .output()
        .unwrap();
    // pytest exits 1 when tests failed: the report is what we test.
    assert_eq!(
        output.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&output.stdout)
    );
    Results::read(&[report])
}

fn find<'a>(r: &'a Results, name: &str) -> &'a sandbox_junit::TestResult {
    r.tests
        .iter()
        .find(|t| t.name == name)
        .unwrap_or_else(|| panic!("no {name}"))
}

#[test]
fn a_real_pytest_report_in_both_families() {
    for family in ["xunit2", "xunit1"] {
        let dir = tempfile::tempdir().unwrap();
        let r = run_pytest(dir.path(), family);
        assert!(r.broken.is_empty(), "{:?}", r.broken);
        let c = r.counts();
        // ok, param[1], param[2] pass; fails, raises, param[3] fail;
        // the fixture error errors; skip and xfail are skipped.
        assert_eq!(
            (c.passed, c.failed, c.errored, c.skipped),
            (3, 3, 1, 2),
            "{family}"
        );
        assert!(!r.passed());
        assert_eq!(find(&r, "test_fixture_error").outcome, Outcome::Errored);
        assert_eq!(find(&r, "test_xfail").outcome, Outcome::Skipped);
        assert_eq!(find(&r, "test_fails").classname, "test_sample");
        let fails = find(&r, "test_fails").location.clone().unwrap();
        let raises = find(&r, "test_raises").location.clone().unwrap();
        if family == "xunit1" {
            // The attributes point at the test's definition (pytest writes
            // it 0-based; read 1-based).
            assert_eq!(fails.source, LocationSource::Attributes);
            assert_eq!((fails.path.as_str(), fails.line), ("test_sample.py", 11));
        } else {
            // The traceback points at the failing line itself.
            assert_eq!(fails.source, LocationSource::Traceback);
            assert_eq!((fails.path.as_str(), fails.line), ("test_sample.py", 13));
            // An exception raised in a helper: the innermost frame.
            assert_eq!((raises.path.as_str(), raises.line), ("test_sample.py", 16));
        }
        assert!(
            find(&r, "test_fails").message.contains("assert 41 == 42"),
            "{}",
            find(&r, "test_fails").message
        );
    }
}
