//! Parameters given as an object — a `--params` file (JSON or YAML) or the
//! plugin's `params` — go through the same clap definitions as flags: each
//! key becomes `--kebab-key=value`, so one set of rules validates all three
//! ways in. One file serves a whole sandbox: a key of the shared vocabulary
//! (a parameter of some task) that this task does not take is ignored and
//! logged at debug; a key that is no task's parameter is an error with the
//! nearest known key. An empty string or null means the parameter was not
//! given (Argo passes every parameter as a string, and unset optional
//! inputs as "").

use clap::parser::ValueSource;
use clap::{ArgAction, Command};
use sandbox_core::{Problem, TaskError};
use serde_json::{Map, Value};
use std::ffi::OsString;
use std::path::Path;

/// Arguments that configure the run itself; they are flags only.
const NOT_A_PARAMETER: &[&str] = &["params", "help", "version"];

/// The key of `vocabulary` nearest to `key` (edit distance at most a
/// third of its length), for a "did you mean".
pub fn nearest<'a>(key: &str, vocabulary: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let limit = (key.len() / 3).max(2);
    vocabulary
        .into_iter()
        .map(|known| (edit_distance(key, known), known))
        .filter(|(d, _)| *d <= limit)
        .min()
        .map(|(_, known)| known)
}

/// Levenshtein distance over bytes (keys are ASCII snake_case).
fn edit_distance(a: &str, b: &str) -> usize {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (diagonal + usize::from(ca != cb))
                .min(row[j] + 1)
                .min(above + 1);
            diagonal = above;
        }
    }
    row[b.len()]
}

/// Read a JSON or YAML object from `path`.
pub fn read(path: &Path) -> Result<Map<String, Value>, TaskError> {
    let problem = |message: String| {
        TaskError::invalid(vec![Problem {
            field: "params".into(),
            rule: "params-file".into(),
            message,
            value: Some(path.display().to_string()),
            fix: "give a readable JSON or YAML file holding one object of snake_case keys".into(),
        }])
    };
    let text = std::fs::read_to_string(path)
        .map_err(|e| problem(format!("cannot read the params file: {e}")))?;
    // YAML is a superset of JSON, so one parser reads both.
    let value: Value = yaml_serde::from_str(&text)
        .map_err(|e| problem(format!("the params file is not valid JSON or YAML: {e}")))?;
    match value {
        Value::Object(map) => Ok(map),
        Value::Null => Ok(Map::new()),
        _ => Err(problem(
            "the params file must hold an object of key: value pairs".into(),
        )),
    }
}

/// Turn an object into flags for `command`, skipping every key already set
/// on the command line or from the environment (`explicit`). Every key that
/// is not a parameter, or whose value has the wrong shape, is reported.
pub fn to_args(
    command: &Command,
    object: &Map<String, Value>,
    explicit: Option<&clap::ArgMatches>,
) -> Result<Vec<OsString>, TaskError> {
    let mut args = Vec::new();
    let mut problems = Vec::new();
    let known = || {
        command
            .get_arguments()
            .filter(|a| a.get_long().is_some() && !NOT_A_PARAMETER.contains(&a.get_id().as_str()))
            .map(|a| a.get_id().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    for (key, value) in object {
        let arg = command
            .get_arguments()
            .find(|a| a.get_id() == key.as_str() && !NOT_A_PARAMETER.contains(&key.as_str()));
        let Some((arg, long)) = arg.and_then(|a| a.get_long().map(|l| (a, l))) else {
            let vocabulary = crate::registry::vocabulary();
            if vocabulary.iter().any(|k| k == key) {
                tracing::debug!(
                    parameter = %key,
                    "{key} is a sandbox parameter {} does not take; ignored",
                    command.get_name()
                );
                continue;
            }
            let fix = match nearest(key, vocabulary.iter().map(String::as_str)) {
                Some(k) => format!("did you mean {k}?"),
                None => format!("remove it; {} takes: {}", command.get_name(), known()),
            };
            problems.push(Problem {
                field: key.clone(),
                rule: "unknown-parameter".into(),
                message: format!("{key} is not a parameter of any sandbox task"),
                value: None,
                fix,
            });
            continue;
        };
        let set_explicitly = explicit
            .and_then(|m| m.value_source(key))
            .is_some_and(|s| matches!(s, ValueSource::CommandLine | ValueSource::EnvVariable));
        if set_explicitly {
            continue;
        }
        let is_switch = matches!(arg.get_action(), ArgAction::SetTrue | ArgAction::SetFalse);
        let mut push = |v: &Value| -> bool {
            // Workflow parameters are strings, and an optional input left
            // unset arrives as "": an empty value means "not given".
            let text = match v {
                Value::Null => return true,
                Value::String(s) if s.is_empty() => return true,
                Value::Bool(b) => b.to_string(),
                Value::Number(n) => n.to_string(),
                Value::String(s) => s.clone(),
                Value::Array(_) | Value::Object(_) => return false,
            };
            if is_switch {
                match text.as_str() {
                    "true" => args.push(OsString::from(format!("--{long}"))),
                    "false" => {}
                    _ => return false,
                }
            } else {
                args.push(OsString::from(format!("--{long}={text}")));
            }
            true
        };
        let ok = match value {
            Value::Array(items) => items.iter().all(&mut push),
            other => push(other),
        };
        if !ok {
            problems.push(Problem {
                field: key.clone(),
                rule: "params-type".into(),
                message: format!("{key} must be a string, number, boolean or list of them (a switch takes true or false)"),
                value: None,
                fix: "give a plain value".into(),
            });
        }
    }
    if problems.is_empty() {
        Ok(args)
    } else {
        Err(TaskError::invalid(problems))
    }
}

#[cfg(test)]
mod tests {
    use crate::registry;
    use serde_json::{Map, Value, json};

    fn object(value: Value) -> Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    /// One file for a whole sandbox: restore-db takes no branch, but a
    /// branch in the shared file is no error for it.
    #[test]
    fn another_tasks_key_is_ignored() {
        let params = object(json!({"pr_number": 7, "branch": "sbx-pr-7", "set_image": ["a:1"]}));
        assert!(registry::check("restore-db", &params).is_ok());
        assert!(registry::check("cleanup-secrets", &params).is_ok());
    }

    #[test]
    fn a_key_of_no_task_is_an_error_with_the_nearest_key() {
        let error = registry::check("restore-db", &object(json!({"brnach": "x"}))).unwrap_err();
        assert_eq!(error.details[0].field, "brnach");
        assert_eq!(error.details[0].rule, "unknown-parameter");
        assert_eq!(error.details[0].fix, "did you mean branch?");
        let error = registry::check("reap", &object(json!({"colour": "red"}))).unwrap_err();
        assert!(
            error.details[0].fix.starts_with("remove it; reap takes: "),
            "{error:?}"
        );
    }

    #[test]
    fn nearest_keys_are_close_ones_only() {
        let vocabulary = ["database_url", "database_name", "pr_number"];
        assert_eq!(
            super::nearest("databse_url", vocabulary),
            Some("database_url")
        );
        assert_eq!(super::nearest("pr", vocabulary), None);
        assert_eq!(super::nearest("zzzzzzzzzz", vocabulary), None);
    }
}
