//! Where a failed test failed: the report's `file`/`line` attributes when
//! the producer writes them, else the first useful frame of the traceback
//! in the failure's text. Three traceback shapes are read:
//!
//! - Python: `File "tests/test_x.py", line 12, in test_y` (unittest,
//!   tracebacks) and pytest's `tests/test_x.py:12: AssertionError`; the
//!   innermost frame outside site-packages wins (Python prints the
//!   innermost last).
//! - Java/Kotlin/Scala: `at com.acme.FooTest.bar(FooTest.java:42)`; the
//!   frame of the test's own class wins, else the first frame outside the
//!   JDK and the test frameworks. The path is the package as directories
//!   (`com/acme/FooTest.java`), relative to the source root.
//! - JavaScript/TypeScript: `at Object.<anonymous> (src/a.test.js:10:5)`
//!   or `at src/a.test.js:10:5`; the first frame outside node_modules and
//!   node's internals wins.

use regex::Regex;
use std::sync::LazyLock;

/// A place in the sources.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The file, relative when the producer wrote it so (`./` removed).
    pub path: String,
    /// 1-based line.
    pub line: u64,
    /// Where this was read from.
    pub source: LocationSource,
}

/// Where a [`Location`] was read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LocationSource {
    /// The testcase's `file` and `line` attributes.
    Attributes,
    /// A frame of the traceback in the failure's text.
    Traceback,
}

/// What a report says about one failed test.
#[derive(Debug, Clone, Copy)]
pub struct Hints<'a> {
    /// The testcase's (or its suite's) `file` attribute.
    pub file: Option<&'a str>,
    /// The testcase's `line` attribute.
    pub line: Option<u64>,
    /// The testcase's class name (Java frames of this class win).
    pub classname: &'a str,
    /// The texts to search for a traceback, in order (details, message).
    pub texts: &'a [&'a str],
}

static PYTHON_FRAME: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#"File "([^"\n]+)", line (\d+)"#).expect("valid regex"));
static PYTEST_FRAME: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?m)^[ \t]*([^\s:][^:\n]*\.py):(\d+): \S").expect("valid regex"));
static JAVA_FRAME: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"at ((?:[\w$]+\.)*)([\w$]+)\.[\w$<>]+\(([\w$-]+\.(?:java|kt|scala|groovy)):(\d+)\)")
        .expect("valid regex")
});
static JS_FRAME: LazyLock<Regex> = LazyLock::new(|| {
    // Not anchored to "at": junit-parser 1.7 drops entity references from
    // element text, so `at Object.&lt;anonymous&gt; (a.js:1:2)` reaches us
    // as `at Object.\nanonymous\n(a.js:1:2)`. A path with line and column
    // is specific enough on its own.
    Regex::new(r"((?:[A-Za-z]:)?[^\s():]+\.(?:[cm]?[jt]sx?)):(\d+):\d+").expect("valid regex")
});

/// The location of a failure, if the report or the traceback tells it.
pub fn locate(hints: &Hints<'_>) -> Option<Location> {
    if let (Some(file), Some(line)) = (hints.file, hints.line)
        && !file.is_empty()
        && line > 0
    {
        return Some(Location {
            path: clean(file),
            line,
            source: LocationSource::Attributes,
        });
    }
    let from_trace = hints
        .texts
        .iter()
        .find_map(|t| traceback(t, hints.classname));
    match (from_trace, hints.file) {
        (Some(found), _) => Some(found),
        // A file but no line (jest-junit's file attribute, PHPUnit suites):
        // the file's first line still puts the annotation on the file.
        (None, Some(file)) if !file.is_empty() => Some(Location {
            path: clean(file),
            line: 1,
            source: LocationSource::Attributes,
        }),
        _ => None,
    }
}

/// The most useful frame of a traceback in `text`, in any of the shapes
/// this module reads.
pub fn traceback(text: &str, classname: &str) -> Option<Location> {
    python(text)
        .or_else(|| java(text, classname))
        .or_else(|| javascript(text))
}

fn python(text: &str) -> Option<Location> {
    let frames = PYTHON_FRAME
        .captures_iter(text)
        .chain(PYTEST_FRAME.captures_iter(text))
        .filter_map(|c| Some((c.get(0)?.start(), c[1].to_string(), c[2].parse().ok()?)))
        .filter(|(_, path, _): &(usize, String, u64)| {
            !path.contains("site-packages")
                && !path.contains("dist-packages")
                && !path.starts_with('<')
                && !path.contains("/lib/python")
        });
    let (_, path, line) = frames.max_by_key(|(at, _, _)| *at)?;
    Some(traced(&path, line))
}

fn java(text: &str, classname: &str) -> Option<Location> {
    let mut first = None;
    for c in JAVA_FRAME.captures_iter(text) {
        let package = c[1].trim_end_matches('.');
        let class = &c[2];
        let Ok(line) = c[4].parse::<u64>() else {
            continue;
        };
        let qualified = if package.is_empty() {
            class.to_string()
        } else {
            format!("{package}.{class}")
        };
        let outer = qualified.split('$').next().unwrap_or(&qualified);
        let path = if package.is_empty() {
            c[3].to_string()
        } else {
            format!("{}/{}", package.replace('.', "/"), &c[3])
        };
        if !classname.is_empty() && (qualified == classname || outer == classname) {
            return Some(traced(&path, line));
        }
        let framework = [
            "java.",
            "javax.",
            "jdk.",
            "sun.",
            "org.junit.",
            "junit.",
            "org.testng.",
            "org.apache.maven.",
            "org.scalatest.",
            "scala.",
            "kotlin.",
            "org.opentest4j.",
        ]
        .iter()
        .any(|p| qualified.starts_with(p));
        if first.is_none() && !framework {
            first = Some(traced(&path, line));
        }
    }
    first
}

fn javascript(text: &str) -> Option<Location> {
    JS_FRAME.captures_iter(text).find_map(|c| {
        let path = &c[1];
        if path.contains("node_modules")
            || path.starts_with("node:")
            || path.starts_with("internal/")
        {
            return None;
        }
        Some(traced(path, c[2].parse().ok()?))
    })
}

fn traced(path: &str, line: u64) -> Location {
    Location {
        path: clean(path),
        line: line.max(1),
        source: LocationSource::Traceback,
    }
}

/// `./a/b.py` → `a/b.py`; Windows separators become `/` (GitHub paths).
fn clean(path: &str) -> String {
    let path = path.replace('\\', "/");
    path.trim_start_matches("./").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str, classname: &str) -> Option<(String, u64)> {
        traceback(text, classname).map(|l| (l.path, l.line))
    }

    #[test]
    fn python_frames_take_the_innermost_outside_the_libraries() {
        let text = "Traceback (most recent call last):\n  File \"tests/test_api.py\", line 12, in test_get\n    check(r)\n  File \"tests/helpers.py\", line 40, in check\n    assert r.ok\n  File \"/usr/lib/python3.12/site-packages/requests/x.py\", line 9, in ok\nAssertionError";
        assert_eq!(at(text, ""), Some(("tests/helpers.py".into(), 40)));
        let pytest = "def test_x():\n>       assert 1 == 2\nE       assert 1 == 2\n\ntests/test_x.py:3: AssertionError";
        assert_eq!(at(pytest, ""), Some(("tests/test_x.py".into(), 3)));
    }

    #[test]
    fn java_frames_prefer_the_test_class() {
        let text = "java.lang.AssertionError: expected:<1> but was:<2>\n\tat org.junit.Assert.fail(Assert.java:88)\n\tat com.acme.util.Check.that(Check.java:7)\n\tat com.acme.FooTest.bar(FooTest.java:42)\n";
        assert_eq!(
            at(text, "com.acme.FooTest"),
            Some(("com/acme/FooTest.java".into(), 42))
        );
        assert_eq!(
            at(text, "x.Other"),
            Some(("com/acme/util/Check.java".into(), 7))
        );
        let inner = "\tat com.acme.FooTest$Inner.run(FooTest.java:9)";
        assert_eq!(
            at(inner, "com.acme.FooTest"),
            Some(("com/acme/FooTest.java".into(), 9))
        );
    }

    #[test]
    fn javascript_frames_skip_node_modules() {
        let text = "Error: expect(received).toBe(expected)\n    at Object.toBe (node_modules/expect/build/index.js:10:3)\n    at Object.<anonymous> (src/__tests__/main.test.ts:21:18)\n    at node:internal/process/task_queues:95:5";
        assert_eq!(
            at(text, ""),
            Some(("src/__tests__/main.test.ts".into(), 21))
        );
        assert_eq!(
            at("    at ./lib/a.spec.js:4:2", ""),
            Some(("lib/a.spec.js".into(), 4))
        );
        let mangled = "Received: false\n    at Object.\nanonymous\n(src/main.test.js:10:21)";
        assert_eq!(at(mangled, ""), Some(("src/main.test.js".into(), 10)));
        let windows = "Received: false\n    at Object.<anonymous> (C:\\w\\__tests__\\main.test.js:10:21)\n    at Object.asyncJestTest (C:\\w\\node_modules\\j\\a.js:106:37)";
        assert_eq!(
            at(windows, ""),
            Some(("C:/w/__tests__/main.test.js".into(), 10))
        );
    }

    #[test]
    fn attributes_win_and_a_file_alone_points_at_its_first_line() {
        let hints = Hints {
            file: Some("./tests/test_a.py"),
            line: Some(7),
            classname: "",
            texts: &["File \"other.py\", line 3"],
        };
        let l = locate(&hints).unwrap();
        assert_eq!(
            (l.path.as_str(), l.line, l.source),
            ("tests/test_a.py", 7, LocationSource::Attributes)
        );
        let l = locate(&Hints {
            line: None,
            texts: &["no trace"],
            ..hints
        })
        .unwrap();
        assert_eq!((l.path.as_str(), l.line), ("tests/test_a.py", 1));
        assert_eq!(
            locate(&Hints {
                file: None,
                line: None,
                classname: "",
                texts: &["nothing"]
            }),
            None
        );
    }
}
