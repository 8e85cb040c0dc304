//! The task library as Argo sees it, generated from the tasks themselves: one
//! ClusterWorkflowTemplate per task (`sandbox-<task>`) holding a container
//! template and a plugin template of the same task. Input parameters are the
//! task's flags (name, help, default, closed sets as `enum`), outputs are its
//! declared [`OutputSpec`](crate::OutputSpec)s, so a template cannot drift
//! from the binary it runs. `cluster-workflow-templates/tasks/` holds the
//! generated files; a test fails when they differ.

use crate::Task;
use crate::runner;
use clap::{Arg, ArgAction};
use sandbox_core::env_vars::flag_env;
use std::fmt::Write;

/// Registry and repository of the task images.
pub const IMAGE_REPOSITORY: &str = "ghcr.io/argo-sandbox";
/// The release every generated template pins.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
/// Where task binaries write outputs inside their container.
pub const OUTPUTS_DIR: &str = "/tmp/outputs";
/// Flags of the runner, not of the task: never template inputs.
const RUNNER_FLAGS: &[&str] = &["params", "outputs_dir", "log_format", "help", "version"];

/// The pinned image of a task binary.
pub fn image(task: &str) -> String {
    format!("{IMAGE_REPOSITORY}/{task}:{VERSION}")
}

/// A task's input parameter, as a template declares it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Input {
    /// snake_case name (the params key).
    pub name: String,
    /// The flag's help.
    pub description: String,
    /// The default; "" means "not given".
    pub default: String,
    /// Closed set of values, if any.
    pub choices: Vec<String>,
}

/// The inputs of task `T`, in flag order.
pub fn inputs<T: Task>() -> Vec<Input> {
    runner::command::<T>()
        .get_arguments()
        .filter(|a| a.get_long().is_some() && !RUNNER_FLAGS.contains(&a.get_id().as_str()))
        .map(input)
        .collect()
}

fn input(arg: &Arg) -> Input {
    let switch = matches!(arg.get_action(), ArgAction::SetTrue);
    let default = match arg.get_default_values() {
        [] if switch => "false".to_string(),
        [] => String::new(),
        values => values
            .iter()
            .map(|v| v.to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join(","),
    };
    let choices = if switch {
        vec!["true".into(), "false".into()]
    } else {
        arg.get_possible_values()
            .iter()
            .map(|v| v.get_name().to_string())
            .collect()
    };
    Input {
        name: arg.get_id().to_string(),
        description: arg.get_help().map(|h| h.to_string()).unwrap_or_default(),
        default,
        choices,
    }
}

/// A YAML scalar: JSON's double-quoted form is valid YAML and never
/// ambiguous (`"false"` stays a string, `{{…}}` is not a flow mapping).
fn q(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_default()
}

/// The ClusterWorkflowTemplate of task `T`.
pub fn task_template<T: Task>() -> String {
    let name = T::NAME;
    let about = runner::command::<T>()
        .get_about()
        .map(|a| a.to_string())
        .unwrap_or_default();
    let inputs = inputs::<T>();
    let mut y = String::new();
    let _ = write!(
        y,
        "# Generated from the {name} task by `cargo test -p sandbox-tasks` with\n\
         # SANDBOX_UPDATE_TEMPLATES=1; edit the task, not this file.\n\
         apiVersion: argoproj.io/v1alpha1\n\
         kind: ClusterWorkflowTemplate\n\
         metadata:\n  name: sandbox-{name}\n  labels:\n    app.kubernetes.io/part-of: argo-sandbox\n  annotations:\n\
         \x20   workflows.argoproj.io/description: {about}\n\
         \x20   workflows.argoproj.io/version: \">= 3.5.0\"\n\
         spec:\n  templates:\n",
        about = q(&format!(
            "{about}. Template {name} runs the task in its own pod; {name}-plugin runs it in the workflow's agent through sandbox-plugin, with no pod."
        )),
    );
    // The container variant: inputs through the environment (an empty value
    // means not given), outputs from files, retried only on exit code 4.
    let _ = writeln!(y, "    - name: {name}");
    write_inputs(&mut y, &inputs);
    let _ = write!(
        y,
        "      container:\n        image: {image}\n        env:\n",
        image = image(name)
    );
    for input in &inputs {
        let _ = write!(
            y,
            "          - name: {}\n            value: {}\n",
            flag_env(&input.name),
            q(&format!("{{{{inputs.parameters.{}}}}}", input.name))
        );
    }
    let _ = write!(
        y,
        "          - name: SANDBOX_OUTPUTS_DIR\n            value: {OUTPUTS_DIR}\n\
         \x20         - name: SANDBOX_LOG_FORMAT\n            value: json\n\
         \x20       resources:\n          requests:\n            cpu: 50m\n            memory: 32Mi\n          limits:\n            memory: 256Mi\n\
         \x20       securityContext:\n          runAsNonRoot: true\n          allowPrivilegeEscalation: false\n          readOnlyRootFilesystem: true\n          capabilities:\n            drop:\n              - ALL\n\
         \x20       volumeMounts:\n          - name: tmp\n            mountPath: /tmp\n\
         \x20     volumes:\n        - name: tmp\n          emptyDir: {{}}\n\
         \x20     retryStrategy:\n        limit: \"3\"\n        retryPolicy: Always\n        expression: \"asInt(lastRetry.exitCode) == 4\"\n"
    );
    write_outputs::<T>(&mut y, |o| format!("path: {OUTPUTS_DIR}/{}", o));
    // The plugin variant: the same parameters as the task's params object.
    let _ = writeln!(y, "    - name: {name}-plugin");
    write_inputs(&mut y, &inputs);
    let _ = write!(
        y,
        "      plugin:\n        sandbox:\n          task: {name}\n          params:\n"
    );
    for input in &inputs {
        let _ = writeln!(
            y,
            "            {}: {}",
            input.name,
            q(&format!("{{{{inputs.parameters.{}}}}}", input.name))
        );
    }
    write_outputs::<T>(&mut y, |_| "supplied: {}".to_string());
    y
}

fn write_inputs(y: &mut String, inputs: &[Input]) {
    if inputs.is_empty() {
        return;
    }
    let _ = write!(y, "      inputs:\n        parameters:\n");
    for input in inputs {
        let _ = write!(
            y,
            "          - name: {}\n            description: {}\n            value: {}\n",
            input.name,
            q(&input.description),
            q(&input.default)
        );
        if !input.choices.is_empty() {
            let _ = writeln!(y, "            enum:");
            for choice in &input.choices {
                let _ = writeln!(y, "              - {}", q(choice));
            }
        }
    }
}

fn write_outputs<T: Task>(y: &mut String, value_from: impl Fn(&str) -> String) {
    if T::OUTPUTS.is_empty() {
        return;
    }
    let _ = write!(y, "      outputs:\n        parameters:\n");
    for o in T::OUTPUTS {
        let _ = write!(
            y,
            "          - name: {}\n            description: {}\n            valueFrom:\n              {}\n",
            o.name,
            q(o.description),
            value_from(o.name)
        );
    }
}

/// One Markdown row per task for the README: flags, outputs, exit codes.
pub fn markdown_row<T: Task>() -> String {
    let about = runner::command::<T>()
        .get_about()
        .map(|a| a.to_string())
        .unwrap_or_default();
    let flags: Vec<String> = inputs::<T>()
        .iter()
        .map(|i| format!("`--{}`", i.name.replace('_', "-")))
        .collect();
    let outputs: Vec<String> = T::OUTPUTS.iter().map(|o| format!("`{}`", o.name)).collect();
    format!(
        "| `{}` | {about} | {} | {} |",
        T::NAME,
        flags.join(" "),
        if outputs.is_empty() {
            "—".to_string()
        } else {
            outputs.join(" ")
        }
    )
}

#[cfg(test)]
mod tests {
    use crate::registry;
    use std::path::Path;

    /// The committed templates are exactly what the tasks generate. Run
    /// with SANDBOX_UPDATE_TEMPLATES=1 to rewrite them after changing a task.
    #[test]
    fn committed_task_templates_match_the_tasks() {
        let dir =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../cluster-workflow-templates/tasks");
        let update = std::env::var_os(sandbox_core::env_vars::UPDATE_TEMPLATES).is_some();
        let mut stale = Vec::new();
        for (file, yaml) in registry::task_templates() {
            let path = dir.join(&file);
            if update {
                std::fs::create_dir_all(&dir).unwrap();
                std::fs::write(&path, &yaml).unwrap();
            } else if std::fs::read_to_string(&path).ok().as_deref() != Some(yaml.as_str()) {
                stale.push(file);
            }
        }
        assert!(
            stale.is_empty(),
            "stale task templates {stale:?}: run SANDBOX_UPDATE_TEMPLATES=1 cargo test -p sandbox-tasks catalog"
        );
        // The library's kustomization installs every one of them.
        let kustomization = std::fs::read_to_string(dir.join("../kustomization.yaml")).unwrap();
        for (file, _) in registry::task_templates() {
            assert!(
                kustomization.contains(&format!("  - tasks/{file}\n")),
                "cluster-workflow-templates/kustomization.yaml does not install tasks/{file}"
            );
        }
        // No template for a task that no longer exists.
        let expected: Vec<String> = registry::task_templates()
            .into_iter()
            .map(|(f, _)| f)
            .collect();
        for entry in std::fs::read_dir(&dir).unwrap() {
            let name = entry.unwrap().file_name().to_string_lossy().into_owned();
            assert!(expected.contains(&name), "{name} has no task behind it");
        }
    }

    /// The README's task table is generated from the tasks; rewrite it with
    /// SANDBOX_UPDATE_TEMPLATES=1 like the templates.
    #[test]
    fn readme_task_table_matches_the_tasks() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md");
        let readme = std::fs::read_to_string(&path).unwrap();
        let (begin, end) = ("<!-- tasks:begin -->\n", "<!-- tasks:end -->");
        let start = readme.find(begin).expect("README has a tasks:begin marker") + begin.len();
        let stop = readme.find(end).expect("README has a tasks:end marker");
        let table = registry::readme_table();
        if std::env::var_os(sandbox_core::env_vars::UPDATE_TEMPLATES).is_some() {
            std::fs::write(
                &path,
                format!("{}{table}{}", &readme[..start], &readme[stop..]),
            )
            .unwrap();
        } else {
            assert_eq!(
                &readme[start..stop],
                table,
                "README task table is stale: run SANDBOX_UPDATE_TEMPLATES=1 cargo test -p sandbox-tasks catalog"
            );
        }
    }

    /// Every task has an image recipe in images/images.tsv under the name
    /// its template pins, and every argo-sandbox image referenced anywhere
    /// in the templates or the plugin manifest has one too.
    #[test]
    fn every_referenced_image_has_a_recipe() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let table = std::fs::read_to_string(root.join("images/images.tsv")).unwrap();
        let rows: Vec<Vec<&str>> = table
            .lines()
            .filter(|l| !l.starts_with('#'))
            .map(|l| l.split('\t').collect())
            .collect();
        for row in &rows {
            assert_eq!(
                row.len(),
                3,
                "images.tsv row {row:?} needs image, Dockerfile, arguments"
            );
            assert!(
                root.join(row[1]).is_file(),
                "{} names a missing Dockerfile {}",
                row[0],
                row[1]
            );
        }
        let known = |image: &str| rows.iter().any(|r| r[0] == image);
        for task in registry::TASKS {
            let image = super::image(task);
            assert!(known(&image), "no images.tsv row for {image}");
        }
        let mut referenced = Vec::new();
        let mut dirs = vec![root.join("cluster-workflow-templates"), root.join("plugin")];
        while let Some(dir) = dirs.pop() {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for entry in entries.flatten() {
                let path = entry.path();
                if path.is_dir() {
                    dirs.push(path);
                } else if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
                    let text = std::fs::read_to_string(&path).unwrap();
                    for word in text.split(|c: char| c.is_whitespace() || c == '"' || c == '\'') {
                        if word.starts_with(super::IMAGE_REPOSITORY) {
                            referenced.push((path.display().to_string(), word.to_string()));
                        }
                    }
                }
            }
        }
        assert!(!referenced.is_empty(), "found no image references at all");
        for (file, image) in referenced {
            assert!(
                known(&image),
                "{file} references {image}, which images/images.tsv does not build"
            );
        }
    }

    #[test]
    fn multi_valued_flags_can_come_from_one_string() {
        // A workflow parameter is one string: lists need a delimiter.
        for task in registry::TASKS {
            let cmd = registry::command(task).unwrap();
            for arg in cmd.get_arguments() {
                if matches!(arg.get_action(), clap::ArgAction::Append) {
                    assert!(
                        arg.get_value_delimiter().is_some(),
                        "{task}: --{:?} is repeatable without a delimiter",
                        arg.get_long()
                    );
                }
            }
        }
    }
}
