//! Branch names: every rule of `git check-ref-format --branch`, plus a
//! length limit and ASCII only (some hosting services and filesystems choke
//! on the rest).

use super::{Invalid, Violation};
use serde::Serialize;
use std::fmt;

/// A branch name git accepts (`refs/heads/<name>` is a valid ref).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct BranchName(String);

const FIX: &str = "use letters, digits, '-', '_', '.' and '/' between path components";

impl BranchName {
    /// Git refuses longer ref components on most filesystems; GitHub at 255 bytes.
    pub const MAX_LEN: usize = 255;

    /// Validate a branch name.
    pub fn parse(s: &str) -> Result<Self, Invalid> {
        let mut v = Vec::new();
        let mut rule = |rule: &'static str, message: &str| {
            v.push(Violation::new(rule, message, FIX));
        };
        if s.is_empty() {
            rule("git-ref-format", "branch name is empty");
            return Err(Invalid(v));
        }
        if s.len() > Self::MAX_LEN {
            rule(
                "length",
                &format!(
                    "branch name is {} bytes, the limit is {}",
                    s.len(),
                    Self::MAX_LEN
                ),
            );
        }
        if !s.is_ascii() {
            rule("ascii", "branch name must be ASCII");
        }
        if s.starts_with('-') {
            rule("git-ref-format", "branch name must not start with '-'");
        }
        if s == "@" || s == "HEAD" {
            rule("git-ref-format", "'@' and 'HEAD' are not branch names");
        }
        if s.contains("..") {
            rule("git-ref-format", "branch name must not contain '..'");
        }
        if s.contains("@{") {
            rule("git-ref-format", "branch name must not contain '@{'");
        }
        if s.bytes().any(|b| b < 0x20 || b == 0x7f) {
            rule(
                "git-ref-format",
                "branch name must not contain control characters",
            );
        }
        if let Some(c) = s
            .chars()
            .find(|c| matches!(c, ' ' | '~' | '^' | ':' | '?' | '*' | '[' | '\\'))
        {
            rule(
                "git-ref-format",
                &format!("branch name must not contain {c:?}"),
            );
        }
        if s.starts_with('/') || s.ends_with('/') || s.contains("//") {
            rule(
                "git-ref-format",
                "branch name must not start or end with '/' or contain '//'",
            );
        }
        if s.ends_with('.') {
            rule("git-ref-format", "branch name must not end with '.'");
        }
        for component in s.split('/').filter(|c| !c.is_empty()) {
            if component.starts_with('.') {
                rule(
                    "git-ref-format",
                    &format!("path component {component:?} must not start with '.'"),
                );
            }
            if component.ends_with(".lock") {
                rule(
                    "git-ref-format",
                    &format!("path component {component:?} must not end with '.lock'"),
                );
            }
        }
        Invalid::check(v)?;
        Ok(BranchName(s.to_string()))
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The full ref, `refs/heads/<name>`.
    pub fn full_ref(&self) -> String {
        format!("refs/heads/{}", self.0)
    }
}

impl fmt::Display for BranchName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_names_are_refused() {
        for name in [
            "a..b", "a@{1}", "a~1", "a^", "a:b", "a b", "-a", "a.lock", "a/b.lock", ".a", "a/.b",
            "a/", "/a", "a//b", "a.", "@", "a\\b", "a?", "a*", "a[", "a\u{7f}",
        ] {
            assert!(BranchName::parse(name).is_err(), "{name:?} was accepted");
        }
        assert!(BranchName::parse(&"a".repeat(256)).is_err());
    }

    #[test]
    fn ordinary_names_are_accepted() {
        for name in ["main", "sbx-pr-42", "release/1.2", "feature/x_y.z", "a@b"] {
            assert!(BranchName::parse(name).is_ok(), "{name:?} was refused");
        }
    }
}
