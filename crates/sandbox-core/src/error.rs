//! Error kinds, their exit codes (DESIGN §3), and the problems an invalid or
//! refused parameter set is made of.

use serde::Serialize;
use std::error::Error as StdError;
use std::fmt;

/// What went wrong, as the workflow needs to know it: the kind decides the
/// exit code and whether a retry can help.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ErrorKind {
    /// A bug: exit 1.
    Internal,
    /// Bad input; nothing was touched: exit 2.
    InvalidParams,
    /// The world is not as the task needs it: exit 3.
    Precondition,
    /// Retried in-process and still failing; safe to retry: exit 4.
    Transient,
    /// A guard rail stopped it: exit 5.
    Refused,
}

impl ErrorKind {
    /// The process exit code of this kind.
    pub const fn exit_code(self) -> u8 {
        match self {
            ErrorKind::Internal => 1,
            ErrorKind::InvalidParams => 2,
            ErrorKind::Precondition => 3,
            ErrorKind::Transient => 4,
            ErrorKind::Refused => 5,
        }
    }

    /// The kebab-case name used in the JSON result.
    pub const fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Internal => "internal",
            ErrorKind::InvalidParams => "invalid-params",
            ErrorKind::Precondition => "precondition",
            ErrorKind::Transient => "transient",
            ErrorKind::Refused => "refused",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One thing wrong with one parameter: which, by what rule, and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// The parameter, in snake_case as in a `--params` file.
    pub field: String,
    /// A short, stable name of the rule (`dns-1123-label`, `protected-branch`).
    pub rule: String,
    /// What is wrong, in a sentence.
    pub message: String,
    /// The offending value; absent for credentials, which are never echoed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// How to fix it.
    pub fix: String,
}

/// Domain errors say which kind they are, so a task can turn any of them
/// into a [`TaskError`] with `?`.
pub trait Classify {
    /// The kind this error maps to.
    fn kind(&self) -> ErrorKind;
}

/// The failure of a task, as reported in its JSON result and exit code.
#[derive(Debug)]
pub struct TaskError {
    /// Decides the exit code.
    pub kind: ErrorKind,
    /// What failed, without repeating the source.
    pub message: String,
    /// Every problem found, for `invalid-params` and `refused`.
    pub details: Vec<Problem>,
    source: Option<Box<dyn StdError + Send + Sync>>,
}

impl TaskError {
    /// An error of `kind` with a message.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        TaskError {
            kind,
            message: message.into(),
            details: Vec::new(),
            source: None,
        }
    }

    /// Attach the underlying cause; it is printed after the message.
    pub fn with_source(mut self, source: impl Into<Box<dyn StdError + Send + Sync>>) -> Self {
        self.source = Some(source.into());
        self
    }

    /// Bad input: every problem found, nothing touched.
    pub fn invalid(problems: Vec<Problem>) -> Self {
        let message = summarize("invalid parameter", &problems);
        TaskError {
            details: problems,
            ..TaskError::new(ErrorKind::InvalidParams, message)
        }
    }

    /// A guard rail refusal: every rule that stopped the task.
    pub fn refused(problems: Vec<Problem>) -> Self {
        let message = summarize("refused by guard rail", &problems);
        TaskError {
            details: problems,
            ..TaskError::new(ErrorKind::Refused, message)
        }
    }

    /// Shorthand for a precondition failure.
    pub fn precondition(message: impl Into<String>) -> Self {
        TaskError::new(ErrorKind::Precondition, message)
    }

    /// Shorthand for a transient failure.
    pub fn transient(message: impl Into<String>) -> Self {
        TaskError::new(ErrorKind::Transient, message)
    }

    /// Shorthand for a bug.
    pub fn internal(message: impl Into<String>) -> Self {
        TaskError::new(ErrorKind::Internal, message)
    }

    /// The message followed by each cause once: `a: b: c`.
    pub fn full_message(&self) -> String {
        let mut out = self.message.clone();
        let mut next = self
            .source
            .as_deref()
            .map(|e| e as &(dyn StdError + 'static));
        while let Some(cause) = next {
            let text = cause.to_string();
            if !out.ends_with(&text) {
                out.push_str(": ");
                out.push_str(&text);
            }
            next = cause.source();
        }
        out
    }
}

fn summarize(what: &str, problems: &[Problem]) -> String {
    match problems {
        [] => what.to_string(),
        [one] => format!("{what}: {}: {} (rule {})", one.field, one.message, one.rule),
        many => {
            let mut named: Vec<String> = many
                .iter()
                .map(|p| format!("{} ({})", p.field, p.rule))
                .collect();
            named.dedup();
            format!("{} problems ({what}): {}", many.len(), named.join(", "))
        }
    }
}

impl fmt::Display for TaskError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl StdError for TaskError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn StdError + 'static))
    }
}

impl<E> From<E> for TaskError
where
    E: Classify + StdError + Send + Sync + 'static,
{
    fn from(error: E) -> Self {
        // The message is the error's own text; full_message() skips it when
        // walking the chain and prints only the causes below it.
        TaskError::new(error.kind(), error.to_string()).with_source(error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("push failed")]
    struct PushError(#[source] std::io::Error);

    impl Classify for PushError {
        fn kind(&self) -> ErrorKind {
            ErrorKind::Transient
        }
    }

    #[test]
    fn exit_codes_follow_the_contract() {
        let codes: Vec<u8> = [
            ErrorKind::Internal,
            ErrorKind::InvalidParams,
            ErrorKind::Precondition,
            ErrorKind::Transient,
            ErrorKind::Refused,
        ]
        .iter()
        .map(|k| k.exit_code())
        .collect();
        assert_eq!(codes, [1, 2, 3, 4, 5]);
    }

    #[test]
    fn classified_errors_keep_their_kind_and_print_each_cause_once() {
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionReset, "connection reset");
        let error: TaskError = PushError(io).into();
        assert_eq!(error.kind, ErrorKind::Transient);
        assert_eq!(error.full_message(), "push failed: connection reset");
    }
}
