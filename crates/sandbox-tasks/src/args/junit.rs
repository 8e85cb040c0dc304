//! Where a test run's JUnit XML reports are.

use clap::Args;
use sandbox_core::params::{Invalid, Problems};

/// The reports `report-tests` reads.
#[derive(Debug, Clone, Default, Args)]
pub struct JunitArgs {
    /// JUnit XML reports: a file, a directory (every *.xml below it) or a glob (reports/**/TEST-*.xml).
    #[arg(long, env = "SANDBOX_JUNIT_PATH", value_name = "PATH")]
    pub junit_path: Option<String>,
}

fn parse_path(s: &str) -> Result<String, Invalid> {
    let fix = "give a file, a directory or a glob, e.g. /reports or /reports/**/*.xml";
    if s.trim().is_empty() || s.chars().any(char::is_control) {
        return Err(Invalid::one(
            "path",
            "junit_path is empty or has control characters",
            fix,
        ));
    }
    if sandbox_junit::files::is_glob(s)
        && let Err(e) = globset::Glob::new(s)
    {
        return Err(Invalid::one(
            "glob",
            format!("junit_path is not a valid glob: {}", e.kind()),
            fix,
        ));
    }
    Ok(s.to_string())
}

impl JunitArgs {
    /// Validate (no I/O: whether anything matches is the run's business,
    /// and no match is a failed check, not a bad parameter).
    pub fn validate(&self, problems: &mut Problems) -> Option<String> {
        if self.junit_path.is_none() {
            problems.missing(
                "junit_path",
                "pass --junit-path /reports (a file, a directory or a glob)",
            );
        }
        problems.parse_opt("junit_path", self.junit_path.as_deref(), parse_path)
    }
}
