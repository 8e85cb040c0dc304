//! Validated newtypes for every parameter a task takes (STYLE 3: parse, then
//! validate into a typed plan). Each `parse` reports every rule a value
//! breaks, not only the first, and [`Problems`] gathers them across fields.

mod bucket;
mod commit;
mod database;
mod duration;
mod environment;
mod git_branch;
mod git_remote;
mod github_repo;
mod image;
mod pr_number;
mod repo_path;

pub use bucket::BucketUrl;
pub use commit::parse_commit;
pub use database::DatabaseName;
pub use duration::parse_duration;
pub use environment::{EnvPrefix, EnvironmentName, Namespace};
pub use git_branch::BranchName;
pub use git_remote::GitRemote;
pub use github_repo::GithubRepo;
pub use image::ImageRef;
pub use pr_number::PrNumber;
pub use repo_path::RepoPath;

use crate::error::Problem;
use std::fmt;

/// One rule a value breaks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// Short stable rule name, e.g. `dns-1123-label`.
    pub rule: &'static str,
    /// What is wrong.
    pub message: String,
    /// How to fix it.
    pub fix: String,
}

impl Violation {
    /// A violation of `rule`.
    pub fn new(rule: &'static str, message: impl Into<String>, fix: impl Into<String>) -> Self {
        Violation {
            rule,
            message: message.into(),
            fix: fix.into(),
        }
    }
}

/// Every rule a value breaks (never empty).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid(pub Vec<Violation>);

impl Invalid {
    /// A single violation.
    pub fn one(rule: &'static str, message: impl Into<String>, fix: impl Into<String>) -> Self {
        Invalid(vec![Violation::new(rule, message, fix)])
    }

    /// `Ok(())` when nothing was found, else every violation.
    pub fn check(violations: Vec<Violation>) -> Result<(), Invalid> {
        if violations.is_empty() {
            Ok(())
        } else {
            Err(Invalid(violations))
        }
    }
}

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let messages: Vec<&str> = self.0.iter().map(|v| v.message.as_str()).collect();
        f.write_str(&messages.join("; "))
    }
}

impl std::error::Error for Invalid {}

/// Gathers the problems of a whole parameter set so a task reports all of
/// them at once.
#[derive(Debug, Default)]
pub struct Problems(Vec<Problem>);

impl Problems {
    /// An empty collection.
    pub fn new() -> Self {
        Problems::default()
    }

    /// Parse `value` of `field`; on failure record each violation, echoing
    /// the value.
    pub fn parse<T>(
        &mut self,
        field: &str,
        value: &str,
        parse: impl FnOnce(&str) -> Result<T, Invalid>,
    ) -> Option<T> {
        self.parse_inner(field, value, Some(value), parse)
    }

    /// Like [`Problems::parse`] for credentials: the value is never echoed.
    pub fn parse_secret<T>(
        &mut self,
        field: &str,
        value: &str,
        parse: impl FnOnce(&str) -> Result<T, Invalid>,
    ) -> Option<T> {
        self.parse_inner(field, value, None, parse)
    }

    /// Parse an optional value; `None` stays `None` without a problem.
    pub fn parse_opt<T>(
        &mut self,
        field: &str,
        value: Option<&str>,
        parse: impl FnOnce(&str) -> Result<T, Invalid>,
    ) -> Option<T> {
        value.and_then(|v| self.parse(field, v, parse))
    }

    fn parse_inner<T>(
        &mut self,
        field: &str,
        value: &str,
        echo: Option<&str>,
        parse: impl FnOnce(&str) -> Result<T, Invalid>,
    ) -> Option<T> {
        match parse(value) {
            Ok(parsed) => Some(parsed),
            Err(Invalid(violations)) => {
                for v in violations {
                    self.0.push(Problem {
                        field: field.to_string(),
                        rule: v.rule.to_string(),
                        message: v.message,
                        value: echo.map(str::to_string),
                        fix: v.fix,
                    });
                }
                None
            }
        }
    }

    /// Record a missing required parameter.
    pub fn missing(&mut self, field: &str, fix: impl Into<String>) {
        self.0.push(Problem {
            field: field.to_string(),
            rule: "required".to_string(),
            message: format!("{field} is required"),
            value: None,
            fix: fix.into(),
        });
    }

    /// Record any other problem.
    pub fn push(&mut self, problem: Problem) {
        self.0.push(problem);
    }

    /// True when nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The recorded problems.
    pub fn into_vec(self) -> Vec<Problem> {
        self.0
    }
}

/// Characters that make a value unsafe to print or to pass on.
pub(crate) fn has_control(s: &str) -> bool {
    s.chars().any(char::is_control)
}
