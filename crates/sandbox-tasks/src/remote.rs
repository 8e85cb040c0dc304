//! Remote checks (`check-params --check-remote`): what each found, and the
//! one verdict over all of them. Each argument group's plan runs its own
//! checks (`RepoPlan::remote_checks`, `BucketPlan::remote_checks`, …); this
//! module only says how they are reported and what exit they lead to.

use sandbox_core::{ErrorKind, Problem, TaskError};
use serde::Serialize;

/// The outcome of one remote check.
#[derive(Debug, Clone, Serialize)]
pub struct RemoteCheck {
    /// What was checked, e.g. `repo-reachable`.
    pub check: &'static str,
    /// The parameter it is about.
    #[serde(skip)]
    pub field: &'static str,
    /// Its outcome.
    pub status: CheckStatus,
    /// What was found, in a sentence.
    pub detail: String,
    /// The kind of the failure, when it failed (none: a precondition).
    #[serde(skip)]
    pub kind: Option<ErrorKind>,
    /// How to fix a failure.
    #[serde(skip)]
    pub fix: String,
}

/// The outcome of a remote check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CheckStatus {
    /// Checked and fine.
    Passed,
    /// Checked and not fine.
    Failed,
}

impl RemoteCheck {
    /// A check that passed.
    pub fn passed(check: &'static str, field: &'static str, detail: impl Into<String>) -> Self {
        RemoteCheck {
            check,
            field,
            status: CheckStatus::Passed,
            detail: detail.into(),
            kind: None,
            fix: String::new(),
        }
    }

    /// A check that failed as a precondition, with how to fix it.
    pub fn failed(
        check: &'static str,
        field: &'static str,
        detail: impl Into<String>,
        fix: impl Into<String>,
    ) -> Self {
        RemoteCheck {
            check,
            field,
            status: CheckStatus::Failed,
            detail: detail.into(),
            kind: None,
            fix: fix.into(),
        }
    }

    /// The same check, failed with `kind` (transient, refused, …).
    pub fn with_kind(mut self, kind: ErrorKind) -> Self {
        self.kind = Some(kind);
        self
    }

    /// The kind a failure counts as.
    fn failure_kind(&self) -> ErrorKind {
        self.kind.unwrap_or(ErrorKind::Precondition)
    }
}

/// The verdict over every check: success when none failed; otherwise
/// refused (exit 5) when a limit refused, transient (exit 4) when every
/// failure was transient — retrying helps only then —, else a
/// precondition (exit 3). Every failure is a detail naming its parameter.
pub fn verdict(checks: &[RemoteCheck]) -> Result<(), TaskError> {
    let failed: Vec<&RemoteCheck> = checks
        .iter()
        .filter(|c| c.status == CheckStatus::Failed)
        .collect();
    if failed.is_empty() {
        return Ok(());
    }
    let kind = if failed
        .iter()
        .any(|c| c.failure_kind() == ErrorKind::Refused)
    {
        ErrorKind::Refused
    } else if failed
        .iter()
        .all(|c| c.failure_kind() == ErrorKind::Transient)
    {
        ErrorKind::Transient
    } else {
        ErrorKind::Precondition
    };
    let mut error = TaskError::new(
        kind,
        format!(
            "remote checks failed: {}",
            failed
                .iter()
                .map(|c| format!("{} ({})", c.check, c.detail))
                .collect::<Vec<_>>()
                .join("; ")
        ),
    );
    error.details = failed
        .iter()
        .map(|c| Problem {
            field: c.field.to_string(),
            rule: c.check.to_string(),
            message: c.detail.clone(),
            value: None,
            fix: c.fix.clone(),
        })
        .collect();
    Err(error)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failed(kind: Option<ErrorKind>) -> RemoteCheck {
        let check = RemoteCheck::failed("c", "f", "down", "fix it");
        match kind {
            Some(k) => check.with_kind(k),
            None => check,
        }
    }

    #[test]
    fn the_verdict_is_as_severe_as_the_worst_failure() {
        let ok = RemoteCheck::passed("c", "f", "fine");
        assert!(verdict(std::slice::from_ref(&ok)).is_ok());
        let kind = |checks: &[RemoteCheck]| verdict(checks).unwrap_err().kind;
        assert_eq!(
            kind(&[ok.clone(), failed(Some(ErrorKind::Transient))]),
            ErrorKind::Transient
        );
        assert_eq!(
            kind(&[failed(Some(ErrorKind::Transient)), failed(None)]),
            ErrorKind::Precondition
        );
        assert_eq!(
            kind(&[
                failed(Some(ErrorKind::Transient)),
                failed(Some(ErrorKind::Refused))
            ]),
            ErrorKind::Refused
        );
        let error = verdict(&[failed(None), ok]).unwrap_err();
        assert_eq!(error.details.len(), 1);
        assert_eq!(error.details[0].field, "f");
        assert_eq!(error.details[0].fix, "fix it");
    }
}
