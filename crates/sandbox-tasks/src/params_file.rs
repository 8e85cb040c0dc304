//! Parameters given as an object — a `--params` file (JSON or YAML) or the
//! plugin's `params` — go through the same clap definitions as flags: each
//! key becomes `--kebab-key=value`, so one set of rules validates all three
//! ways in. A key that names no parameter is an error, not ignored.

use clap::parser::ValueSource;
use clap::{ArgAction, Command};
use sandbox_core::{Problem, TaskError};
use serde_json::{Map, Value};
use std::ffi::OsString;
use std::path::Path;

/// Arguments that configure the run itself; they are flags only.
const NOT_A_PARAMETER: &[&str] = &["params", "help", "version"];

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
            problems.push(Problem {
                field: key.clone(),
                rule: "unknown-parameter".into(),
                message: format!("{key} is not a parameter of {}", command.get_name()),
                value: None,
                fix: format!("remove it or use one of: {}", known()),
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
            match v {
                Value::Null => true,
                Value::Bool(b) if is_switch => {
                    if *b {
                        args.push(OsString::from(format!("--{long}")));
                    }
                    true
                }
                Value::Bool(b) => {
                    args.push(OsString::from(format!("--{long}={b}")));
                    true
                }
                Value::Number(n) => {
                    args.push(OsString::from(format!("--{long}={n}")));
                    true
                }
                Value::String(s) => {
                    args.push(OsString::from(format!("--{long}={s}")));
                    true
                }
                Value::Array(_) | Value::Object(_) => false,
            }
        };
        let ok = match value {
            Value::Array(items) => items.iter().all(&mut push),
            other => push(other),
        };
        if !ok {
            problems.push(Problem {
                field: key.clone(),
                rule: "params-type".into(),
                message: format!("{key} must be a string, number, boolean or list of them"),
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
