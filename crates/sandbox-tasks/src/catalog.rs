//! The task library as Argo sees it, generated from the tasks themselves: one
//! ClusterWorkflowTemplate per task (`sandbox-<task>`) holding a container
//! template and a plugin template of the same task. Input parameters are the
//! task's flags (name, help, default, closed sets as `enum`), outputs are its
//! declared [`OutputSpec`](crate::OutputSpec)s, so a template cannot drift
//! from the binary it runs. `cluster-workflow-templates/tasks/` holds the
//! generated files; a test fails when they differ.

use crate::Task;
use crate::needs;
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
    let plugin = has_plugin_variant::<T>();
    let variants = if plugin {
        format!(
            "Template {name} runs the task in its own pod; {name}-plugin runs it in the workflow's agent through sandbox-plugin, with no pod."
        )
    } else {
        format!(
            "Template {name} runs the task in its own pod. There is no plugin variant: the plugin's agent pod lacks {}.",
            T::NEEDS
                .iter()
                .filter(|n| !needs::PLUGIN_PROVIDES.contains(n))
                .map(|n| n.label())
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
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
         \x20   {NEEDS_ANNOTATION}: {needs}\n\
         spec:\n  templates:\n",
        about = q(&format!("{about}. {variants}")),
        needs = q(&T::NEEDS
            .iter()
            .map(|n| n.label())
            .collect::<Vec<_>>()
            .join(",")),
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
    if !plugin {
        return y;
    }
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
    // A plugin node has no exit code; its message starts with
    // `<task> failed (<kind>)`, and Argo >= 3.5 offers it to the retry
    // expression as `lastRetry.message` (argo-workflows
    // workflow/controller/operator.go `buildRetryStrategyLocalScope`).
    let _ = write!(
        y,
        "      retryStrategy:\n        limit: \"3\"\n        retryPolicy: Always\n        expression: {PLUGIN_RETRY_EXPRESSION}\n"
    );
    write_outputs::<T>(&mut y, |_| "supplied: {}".to_string());
    y
}

/// The annotation of a generated template that lists what the task needs
/// from its pod ([`Need::label`](crate::Need::label), comma-separated).
pub const NEEDS_ANNOTATION: &str = "argo-sandbox/needs";

/// The retry expression of every plugin variant: retry a transient failure,
/// told by the node's message (the plugin's `<task> failed (transient): …`).
pub const PLUGIN_RETRY_EXPRESSION: &str = "\"lastRetry.message contains '(transient)'\"";

/// True when task `T` gets a plugin variant: the plugin's agent pod
/// provides everything the task declares it needs.
pub fn has_plugin_variant<T: Task>() -> bool {
    needs::plugin_provides(T::NEEDS)
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

    fn yaml_file(path: &Path) -> serde_json::Value {
        let text = std::fs::read_to_string(path).unwrap();
        yaml_serde::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    /// What the plugin's agent pod actually gives a task, read from the
    /// files that make it: `plugin/plugin.yaml` (the sidecar), the plugin
    /// image's Dockerfile, and the pipelines' token Secrets and accounts.
    /// argo-workflows `workflow/controller/agent.go` `createAgentPod` gives
    /// the sidecar no token (`AutomountServiceAccountToken: false`) and only
    /// `/var/run/argo`; `getExecutorPluginComponents` mounts the token of
    /// `<plugin>-executor-plugin` only with `automountServiceAccountToken`;
    /// `pkg/plugins/spec/plugin_types.go` `Sidecar` cannot add volumes.
    fn agent_pod_provides(root: &Path) -> Vec<(crate::Need, Result<(), String>)> {
        let plugin = yaml_file(&root.join("plugin/plugin.yaml"));
        let sidecar = &plugin["spec"]["sidecar"];
        let dockerfile = std::fs::read_to_string(root.join("images/plugin.Dockerfile")).unwrap();
        let token = if sidecar["automountServiceAccountToken"] != true {
            Err("plugin/plugin.yaml: automountServiceAccountToken is not true, the sidecar gets no token".to_string())
        } else {
            let rbac = std::fs::read_to_string(
                root.join("cluster-workflow-templates/rbac/sandbox-executor-plugin.yaml"),
            )
            .unwrap_or_default();
            let create = std::fs::read_to_string(
                root.join("cluster-workflow-templates/sandbox-create.yaml"),
            )
            .unwrap_or_default();
            if !rbac.contains("name: sandbox-executor-plugin.service-account-token") {
                Err("no Secret sandbox-executor-plugin.service-account-token in argo".into())
            } else if !create.contains("value: sandbox-executor-plugin") {
                Err("sandbox-create does not make sandbox-executor-plugin's token Secret in the sandbox namespace".into())
            } else {
                Ok(())
            }
        };
        let tmp = if sidecar["container"]["securityContext"]["readOnlyRootFilesystem"] == true {
            Err("plugin/plugin.yaml: the sidecar's root file system is read-only and it can mount no volume".to_string())
        } else if sidecar["container"]["env"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|e| e["name"] == "TMPDIR")
        {
            Err("plugin/plugin.yaml: TMPDIR moved off the image's /tmp".to_string())
        } else {
            Ok(())
        };
        let mut out = vec![
            (crate::Need::ServiceAccountToken, token),
            (crate::Need::WritableTmp, tmp),
        ];
        for need in crate::needs::PLUGIN_PROVIDES {
            if let crate::Need::Tool(tool) = need {
                let installed = dockerfile.lines().any(|l| {
                    l.starts_with("COPY ")
                        && l.trim_end().ends_with(&format!("/usr/local/bin/{tool}"))
                });
                out.push((
                    *need,
                    if installed {
                        Ok(())
                    } else {
                        Err(format!("images/plugin.Dockerfile does not install {tool}"))
                    },
                ));
            }
        }
        out
    }

    /// The needs of a generated template, from its annotation.
    fn declared_needs(yaml: &str) -> Vec<String> {
        let doc: serde_json::Value = yaml_serde::from_str(yaml).unwrap();
        doc["metadata"]["annotations"][super::NEEDS_ANNOTATION]
            .as_str()
            .unwrap()
            .split(',')
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect()
    }

    /// Issue 12, item 3: each plugin variant is shipped only when the agent
    /// pod provides everything its task declares in `Task::NEEDS`, and what
    /// `needs::PLUGIN_PROVIDES` promises is true of the plugin manifest, the
    /// image and the pipelines' accounts.
    #[test]
    fn every_plugin_variant_gets_what_its_task_needs() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let provided = agent_pod_provides(&root);
        for (need, ok) in &provided {
            if let Err(why) = ok {
                panic!("the agent pod does not provide {}: {why}", need.label());
            }
        }
        let promised: Vec<String> = crate::needs::PLUGIN_PROVIDES
            .iter()
            .map(|n| n.label())
            .collect();
        for need in &promised {
            assert!(
                provided.iter().any(|(n, _)| &n.label() == need),
                "PLUGIN_PROVIDES has {need}, which nothing checks"
            );
        }
        let mut with_plugin = 0;
        for (file, yaml) in registry::task_templates() {
            let needs = declared_needs(&yaml);
            let doc: serde_json::Value = yaml_serde::from_str(&yaml).unwrap();
            let plugin = doc["spec"]["templates"]
                .as_array()
                .unwrap()
                .iter()
                .any(|t| t.get("plugin").is_some());
            let unmet: Vec<&String> = needs.iter().filter(|n| !promised.contains(n)).collect();
            if plugin {
                with_plugin += 1;
                assert!(
                    unmet.is_empty(),
                    "{file}: plugin variant shipped, but the agent pod lacks {unmet:?}"
                );
            } else {
                assert!(
                    !unmet.is_empty(),
                    "{file}: no plugin variant, though the agent pod provides {needs:?}"
                );
            }
        }
        assert!(
            with_plugin >= 9,
            "only {with_plugin} tasks have a plugin variant"
        );
    }

    /// The check above fails when the pod loses what a task needs: a copy
    /// of the plugin manifest without the token, and of the image without
    /// kubectl, are both caught.
    #[test]
    fn the_needs_check_fails_when_the_agent_pod_lacks_something() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let copy = tempfile::tempdir().unwrap();
        for dir in ["plugin", "images", "cluster-workflow-templates/rbac"] {
            std::fs::create_dir_all(copy.path().join(dir)).unwrap();
        }
        for file in [
            "plugin/plugin.yaml",
            "images/plugin.Dockerfile",
            "cluster-workflow-templates/rbac/sandbox-executor-plugin.yaml",
            "cluster-workflow-templates/sandbox-create.yaml",
        ] {
            std::fs::copy(root.join(file), copy.path().join(file)).unwrap();
        }
        let failing = |p: &Path| -> Vec<String> {
            agent_pod_provides(p)
                .into_iter()
                .filter(|(_, ok)| ok.is_err())
                .map(|(n, _)| n.label())
                .collect()
        };
        assert!(failing(copy.path()).is_empty());
        let plugin = std::fs::read_to_string(root.join("plugin/plugin.yaml")).unwrap();
        std::fs::write(
            copy.path().join("plugin/plugin.yaml"),
            plugin
                .replace(
                    "automountServiceAccountToken: true",
                    "automountServiceAccountToken: false",
                )
                .replace(
                    "readOnlyRootFilesystem: false",
                    "readOnlyRootFilesystem: true",
                ),
        )
        .unwrap();
        let docker = std::fs::read_to_string(root.join("images/plugin.Dockerfile")).unwrap();
        std::fs::write(
            copy.path().join("images/plugin.Dockerfile"),
            docker.replace(
                "COPY --from=kubectl /bin/kubectl /usr/local/bin/kubectl\n",
                "",
            ),
        )
        .unwrap();
        assert_eq!(
            failing(copy.path()),
            ["service-account-token", "writable-tmp", "tool:kubectl"]
        );
    }

    /// Generated templates: restore-db (psql, pg_restore) has no plugin
    /// variant; every plugin variant retries on `lastRetry.message`
    /// (argo-workflows `workflow/controller/operator.go`
    /// `buildRetryStrategyLocalScope`, 3.5+); every template takes
    /// `vault_addr` when its task reads `vault://` references.
    #[test]
    fn generated_templates_follow_the_needs_and_retry_plugin_nodes() {
        let templates: std::collections::BTreeMap<String, String> =
            registry::task_templates().into_iter().collect();
        let restore = &templates["sandbox-restore-db.yaml"];
        assert!(!restore.contains("restore-db-plugin"));
        assert!(restore.contains(
            "There is no plugin variant: the plugin's agent pod lacks tool:psql, tool:pg_restore."
        ));
        assert_eq!(
            declared_needs(restore),
            [
                "tool:psql",
                "tool:pg_restore",
                "writable-tmp",
                "service-account-token"
            ]
        );
        let patch = &templates["sandbox-patch-kustomize.yaml"];
        assert!(patch.contains("    - name: patch-kustomize-plugin\n"));
        assert!(declared_needs(patch).contains(&"tool:kubectl".to_string()));
        for (file, yaml) in &templates {
            let doc: serde_json::Value = yaml_serde::from_str(yaml).unwrap();
            for t in doc["spec"]["templates"].as_array().unwrap() {
                if t.get("plugin").is_some() {
                    assert_eq!(
                        t["retryStrategy"]["expression"],
                        "lastRetry.message contains '(transient)'",
                        "{file}"
                    );
                }
                let takes = |n: &str| {
                    t["inputs"]["parameters"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .any(|p| p["name"] == n)
                };
                if declared_needs(yaml).contains(&"service-account-token".to_string()) {
                    assert!(
                        takes("vault_addr"),
                        "{file}: {} takes no vault_addr",
                        t["name"]
                    );
                }
            }
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
