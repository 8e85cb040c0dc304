//! The shipped pipelines as a real cluster runs them. Each test pins one
//! fact of upstream source (named in the test: repository, path, function)
//! that the YAML in `cluster-workflow-templates/`, `plugin/` and `install/`
//! must respect; `docs/cluster.md` explains each. They read the files only:
//! there is no cluster here, so what can be checked is that the manifests
//! provide what the upstream code demands.

use super::common;

use sandbox_cli::yaml;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Every YAML document below `dir`, with its file.
fn documents(dir: &Path) -> Vec<(PathBuf, Value)> {
    let mut out = Vec::new();
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(d) = dirs.pop() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(&d)
            .unwrap_or_else(|e| panic!("read {}: {e}", d.display()))
            .flatten()
            .map(|e| e.path())
            .collect();
        entries.sort();
        for path in entries {
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
                let text = std::fs::read_to_string(&path).expect("read");
                for doc in yaml::parse_documents(&text)
                    .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
                {
                    out.push((path.clone(), doc.to_json()));
                }
            }
        }
    }
    out
}

fn library() -> Vec<(PathBuf, Value)> {
    documents(&common::repo_root().join("cluster-workflow-templates"))
}

fn find<'a>(docs: &'a [(PathBuf, Value)], kind: &str, name: &str) -> &'a Value {
    docs.iter()
        .map(|(_, d)| d)
        .find(|d| d["kind"] == kind && d["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no {kind} {name} shipped"))
}

fn has(docs: &[(PathBuf, Value)], kind: &str, namespace: &str, name: &str) -> Option<Value> {
    docs.iter()
        .map(|(_, d)| d)
        .find(|d| {
            d["kind"] == kind
                && d["metadata"]["name"] == name
                && d["metadata"]["namespace"].as_str().unwrap_or("") == namespace
        })
        .cloned()
}

/// The workflow spec of a ClusterWorkflowTemplate or CronWorkflow.
fn spec(doc: &Value) -> &Value {
    if doc["kind"] == "CronWorkflow" {
        &doc["spec"]["workflowSpec"]
    } else {
        &doc["spec"]
    }
}

fn template<'a>(doc: &'a Value, name: &str) -> &'a Value {
    spec(doc)["templates"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|t| t["name"] == name)
        .unwrap_or_else(|| panic!("{} has no template {name}", doc["metadata"]["name"]))
}

/// Every step or DAG task of a workflow spec, by name.
fn steps(doc: &Value) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    for t in spec(doc)["templates"].as_array().into_iter().flatten() {
        for task in t["dag"]["tasks"].as_array().into_iter().flatten() {
            out.insert(
                task["name"].as_str().unwrap_or("").to_string(),
                task.clone(),
            );
        }
        for group in t["steps"].as_array().into_iter().flatten() {
            for step in group.as_array().into_iter().flatten() {
                out.insert(
                    step["name"].as_str().unwrap_or("").to_string(),
                    step.clone(),
                );
            }
        }
    }
    out
}

fn arg<'a>(step: &'a Value, name: &str) -> Option<&'a str> {
    step["arguments"]["parameters"]
        .as_array()?
        .iter()
        .find(|p| p["name"] == name)?["value"]
        .as_str()
}

const PIPELINES: &[&str] = &["sandbox-create", "sandbox-delete", "sandbox-init"];

fn pipelines(docs: &[(PathBuf, Value)]) -> Vec<&Value> {
    let mut out: Vec<&Value> = PIPELINES
        .iter()
        .map(|n| find(docs, "ClusterWorkflowTemplate", n))
        .collect();
    out.push(find(docs, "CronWorkflow", "sandbox-reap"));
    out
}

/// Issue 12, item 1. argo-cd `controller/sync_namespace.go` `syncNamespace`
/// creates a missing namespace for `CreateNamespace=true` but leaves its
/// tracking commented out (`resourceTracking.SetAppInstance`), and
/// `docs/user-guide/sync-options.md` ("Namespace Metadata") says the
/// namespace is not tracked: the Application's finalizer never deletes it.
/// So the delete pipeline deletes `apps-<env>` itself and waits until it is
/// gone (argo-workflows `workflow/executor/resource.go`
/// `getKubectlArguments` runs `kubectl delete --ignore-not-found` plus the
/// template's flags).
#[test]
fn delete_removes_the_namespace_argo_cd_sync_namespace_never_tracks() {
    let docs = library();
    let create = find(&docs, "ClusterWorkflowTemplate", "sandbox-create");
    let namespace = template(create, "namespace");
    assert_eq!(namespace["resource"]["action"], "apply");
    assert!(
        namespace["resource"]["manifest"]
            .as_str()
            .unwrap()
            .contains("kind: Namespace")
    );

    let delete = find(&docs, "ClusterWorkflowTemplate", "sandbox-delete");
    let step = &steps(delete)["remove-namespace"];
    assert_eq!(step["template"], "remove-namespace");
    assert_eq!(
        arg(step, "namespace"),
        Some("{{steps.check-params.outputs.parameters.namespace}}")
    );
    let remove = template(delete, "remove-namespace");
    assert_eq!(remove["resource"]["action"], "delete");
    let manifest = remove["resource"]["manifest"].as_str().unwrap();
    assert!(manifest.contains("kind: Namespace"), "{manifest}");
    let flags: Vec<&str> = remove["resource"]["flags"]
        .as_array()
        .expect("flags")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(flags.contains(&"--wait=true"), "{flags:?}");
    assert!(
        flags.iter().any(|f| f.starts_with("--timeout=")),
        "{flags:?}"
    );
    assert!(
        remove["activeDeadlineSeconds"].is_string() || remove["activeDeadlineSeconds"].is_number()
    );

    // The namespace goes before the data it used, after the Application.
    let order: Vec<String> = template(delete, "delete")["steps"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|g| g.as_array().unwrap().iter())
        .map(|s| s["name"].as_str().unwrap().to_string())
        .collect();
    let at = |n: &str| order.iter().position(|s| s == n).unwrap();
    assert!(at("unregister-app") < at("remove-namespace"));
    assert!(at("remove-namespace") < at("drop-db"));

    // And the delete pipeline may do it: namespaces delete + watch.
    let role = find(&docs, "ClusterRole", "sandbox-delete");
    let rule = role["rules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["resources"][0] == "namespaces")
        .expect("a namespaces rule");
    for verb in ["delete", "get", "watch"] {
        assert!(
            rule["verbs"].as_array().unwrap().iter().any(|v| v == verb),
            "{verb}"
        );
    }
}

fn token_secret_ok(secret: &Value, sa: &str) -> bool {
    secret["type"] == "kubernetes.io/service-account-token"
        && secret["metadata"]["annotations"]["kubernetes.io/service-account.name"] == sa
}

/// Issue 12, item 2. argo-workflows `workflow/controller/agent.go`
/// `createAgentPod` mounts a Secret volume for the workflow's service
/// account, named by `serviceaccount.go` `getServiceAccountTokenVolume` →
/// `util/secrets/secret_name.go` `TokenNameForServiceAccount` /
/// `TokenName`: `<sa>.service-account-token`. No controller creates it on
/// Kubernetes ≥ 1.24, and `assessAgentPodStatus` treats the Pending pod as
/// healthy. Every pipeline's account has it shipped; sandbox-init's is made
/// by sandbox-create in the new namespace, with the rights to do so.
#[test]
fn every_pipeline_account_has_the_token_secret_agent_go_create_agent_pod_mounts() {
    let docs = library();
    for doc in pipelines(&docs) {
        let name = doc["metadata"]["name"].as_str().unwrap();
        let sa = spec(doc)["serviceAccountName"]
            .as_str()
            .unwrap_or_else(|| panic!("{name} names no serviceAccountName"));
        if name == "sandbox-init" {
            continue; // made in the sandbox's namespace, below
        }
        assert_eq!(
            doc["metadata"]["namespace"].as_str().unwrap_or("argo"),
            "argo"
        );
        assert!(
            has(&docs, "ServiceAccount", "argo", sa).is_some(),
            "{name}: no ServiceAccount {sa} in argo"
        );
        let secret = has(
            &docs,
            "Secret",
            "argo",
            &format!("{sa}.service-account-token"),
        )
        .unwrap_or_else(|| panic!("{name}: no Secret {sa}.service-account-token in argo"));
        assert!(token_secret_ok(&secret, sa), "{secret}");
    }
    // The plugin's own account (automountServiceAccountToken), in argo.
    let secret = has(
        &docs,
        "Secret",
        "argo",
        "sandbox-executor-plugin.service-account-token",
    )
    .expect("plugin token Secret in argo");
    assert!(token_secret_ok(&secret, "sandbox-executor-plugin"));

    // sandbox-create makes sandbox-init's and the plugin's in apps-<env>.
    let create = find(&docs, "ClusterWorkflowTemplate", "sandbox-create");
    let all = steps(create);
    let token = template(create, "token-secret");
    let manifest = token["resource"]["manifest"].as_str().unwrap();
    assert!(
        manifest.contains("name: \"{{inputs.parameters.service_account}}.service-account-token\"")
    );
    assert!(manifest.contains("type: kubernetes.io/service-account-token"));
    assert!(
        manifest.contains(
            "kubernetes.io/service-account.name: \"{{inputs.parameters.service_account}}\""
        )
    );
    let made: BTreeSet<&str> = all
        .values()
        .filter(|s| s["template"] == "token-secret")
        .filter_map(|s| arg(s, "service_account"))
        .collect();
    assert_eq!(
        made,
        BTreeSet::from(["sandbox-executor-plugin", "sandbox-init"])
    );
    // …before the child is submitted.
    let depends = all["run-init"]["depends"].as_str().unwrap();
    assert!(
        depends.contains("init-token")
            && depends.contains("plugin-token")
            && depends.contains("role-binding")
    );
    let role = find(&docs, "ClusterRole", "sandbox-create");
    assert!(
        role["rules"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["resources"][0] == "secrets"
                && r["verbs"].as_array().unwrap().iter().any(|v| v == "create")),
        "sandbox-create may not create Secrets"
    );
}

/// Issue 12, item 3 (the pod side; `sandbox-tasks` `catalog` tests derive
/// each plugin variant's needs from the tasks). argo-workflows
/// `workflow/controller/agent.go` `createAgentPod` sets
/// `AutomountServiceAccountToken: false` and gives sidecars only
/// `/var/run/argo`; `getExecutorPluginComponents` mounts the token of
/// `<plugin>-executor-plugin` only with `automountServiceAccountToken`,
/// and `pkg/plugins/spec/plugin_types.go` `Sidecar` has no volumes.
#[test]
fn the_plugin_sidecar_gets_a_token_and_a_writable_tmp_get_executor_plugin_components() {
    let text = std::fs::read_to_string(common::repo_root().join("plugin/plugin.yaml")).unwrap();
    let plugin = yaml::parse_documents(&text).unwrap().remove(0).to_json();
    assert_eq!(
        plugin["spec"]["sidecar"]["automountServiceAccountToken"],
        true
    );
    let sc = &plugin["spec"]["sidecar"]["container"]["securityContext"];
    assert_eq!(sc["readOnlyRootFilesystem"], false);
    // The Vault login reads the token where the controller mounts it
    // (workflow/common/common.go ServiceAccountTokenMountPath).
    for (_, doc) in library() {
        for t in doc["spec"]["templates"].as_array().into_iter().flatten() {
            for p in t["inputs"]["parameters"].as_array().into_iter().flatten() {
                if p["name"] == "vault_token_file" {
                    assert_eq!(
                        p["value"],
                        "/var/run/secrets/kubernetes.io/serviceaccount/token"
                    );
                }
            }
        }
    }
    // The configmap the controller reads is the plugin's (regenerated).
    let cm = std::fs::read_to_string(
        common::repo_root().join("plugin/sandbox-executor-plugin-configmap.yaml"),
    )
    .unwrap();
    assert!(
        cm.contains("sidecar.automountServiceAccountToken: 'true'"),
        "{cm}"
    );
    assert!(cm.contains("readOnlyRootFilesystem: false"), "{cm}");
}

/// Issue 12, item 4. Every default credential is a `vault://` reference,
/// and a task without `--vault-addr` (or `VAULT_ADDR`, which no template
/// sets) cannot resolve it. Each pipeline declares `vault_addr` and hands
/// it to every step whose template takes it, children included.
#[test]
fn vault_addr_reaches_every_step_that_takes_it() {
    let docs = library();
    let takes_vault_addr = |name: &str, tpl: &str| {
        let cwt = find(&docs, "ClusterWorkflowTemplate", name);
        template(cwt, tpl)["inputs"]["parameters"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|p| p["name"] == "vault_addr")
    };
    let mut checked = 0;
    for doc in pipelines(&docs) {
        let name = doc["metadata"]["name"].as_str().unwrap();
        let declared = spec(doc)["arguments"]["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["name"] == "vault_addr");
        assert!(declared, "{name} declares no vault_addr");
        for (step_name, step) in steps(doc) {
            let Some(r) = step.get("templateRef") else {
                continue;
            };
            let (cwt, tpl) = (r["name"].as_str().unwrap(), r["template"].as_str().unwrap());
            if PENDING_TASKS.contains(&cwt) && !shipped(&docs, cwt) {
                assert_eq!(
                    arg(&step, "vault_addr"),
                    Some("{{workflow.parameters.vault_addr}}")
                );
                continue;
            }
            if takes_vault_addr(cwt, tpl) {
                assert_eq!(
                    arg(&step, "vault_addr"),
                    Some("{{workflow.parameters.vault_addr}}"),
                    "{name}/{step_name} does not pass vault_addr"
                );
                checked += 1;
            }
        }
    }
    assert!(checked >= 10, "only {checked} steps checked");
    // The children: sandbox-init from sandbox-create, sandbox-delete from reap.
    let create = find(&docs, "ClusterWorkflowTemplate", "sandbox-create");
    let reap = find(&docs, "CronWorkflow", "sandbox-reap");
    for (doc, tpl) in [(create, "run-init"), (reap, "submit-delete")] {
        let child = manifest(template(doc, tpl));
        assert_eq!(
            arg(&child["spec"], "vault_addr"),
            Some("{{workflow.parameters.vault_addr}}"),
            "{tpl}"
        );
    }
}

/// The manifest of a resource template, parsed.
fn manifest(t: &Value) -> Value {
    let text = t["resource"]["manifest"].as_str().expect("a manifest");
    yaml::parse_documents(text)
        .expect("YAML")
        .remove(0)
        .to_json()
}

/// Removers that the task library gains separately (issue 12's drop-db and
/// cleanup-bucket): referenced by sandbox-delete before their generated
/// templates exist.
const PENDING_TASKS: &[&str] = &["sandbox-drop-db", "sandbox-cleanup-bucket"];

fn shipped(docs: &[(PathBuf, Value)], cwt: &str) -> bool {
    docs.iter()
        .any(|(_, d)| d["kind"] == "ClusterWorkflowTemplate" && d["metadata"]["name"] == cwt)
}

/// Issue 12, item 5. argo-workflows `workflow/executor/executor.go`
/// `loadArtifact` unpacks the checkout in the init container and changes
/// its mode only when `mode` is set (`chmod`, recursively with
/// `recurseMode`); the step runs as uid 65532. The git artifact takes its
/// credentials from `usernameSecret`/`passwordSecret`. Apply and destroy
/// are one template, run as one ServiceAccount (Workload Identity), with the
/// state in `terraform_state_bucket` under a per-environment prefix.
#[test]
fn terraform_has_a_writable_checkout_credentials_remote_state_and_one_identity() {
    let docs = library();
    let tf = find(&docs, "ClusterWorkflowTemplate", "sandbox-terraform");
    let t = template(tf, "terraform");
    assert_eq!(t["serviceAccountName"], "sandbox-terraform");
    let art = &t["inputs"]["artifacts"][0];
    assert_eq!(art["mode"], 0o777);
    assert_eq!(art["recurseMode"], true);
    assert_eq!(art["git"]["usernameSecret"]["name"], "sandbox-git");
    assert_eq!(art["git"]["passwordSecret"]["name"], "sandbox-git");
    assert_eq!(t["container"]["securityContext"]["runAsUser"], 65532);
    let script = t["container"]["args"][0].as_str().unwrap();
    assert!(script.contains("-backend-config=\"bucket=$STATE_BUCKET\""));
    assert!(script.contains("-backend-config=\"prefix=$STATE_PREFIX\""));
    assert!(
        script.contains("terraform workspace delete"),
        "destroy leaves no state"
    );
    let env = |n: &str| {
        t["container"]["env"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["name"] == n)
            .map(|e| e["value"].as_str().unwrap().to_string())
    };
    assert_eq!(
        env("STATE_PREFIX").as_deref(),
        Some("{{inputs.parameters.state_prefix}}/{{inputs.parameters.environment}}")
    );
    assert!(has(&docs, "ServiceAccount", "argo", "sandbox-terraform").is_some());

    for (pipeline, step, command) in [
        ("sandbox-create", "terraform-apply", "apply"),
        ("sandbox-delete", "terraform-destroy", "destroy"),
    ] {
        let doc = find(&docs, "ClusterWorkflowTemplate", pipeline);
        let s = &steps(doc)[step];
        assert_eq!(s["templateRef"]["name"], "sandbox-terraform", "{pipeline}");
        assert_eq!(s["templateRef"]["template"], "terraform");
        assert_eq!(arg(s, "command"), Some(command));
        assert_eq!(
            arg(s, "state_bucket"),
            Some("{{workflow.parameters.terraform_state_bucket}}")
        );
        assert!(
            arg(s, "environment")
                .unwrap()
                .contains("outputs.parameters.environment")
        );
    }
    // The example module keeps its state where the pipeline points it.
    let module = std::fs::read_to_string(
        common::repo_root().join("examples/demo-world/infra/terraform/sandbox/main.tf"),
    )
    .unwrap();
    assert!(module.contains("backend \"gcs\""), "{module}");
}

/// Issue 12, item 6. argo-workflows `workflow/controller/operator.go`:
/// `setExecWorkflow` → `substituteGlobalVariables` substitutes the spec
/// (templates aside) before `operate` calls `syncManager.TryAcquire`, so a
/// mutex named after `{{workflow.parameters.pr_number}}` is one lock per
/// pull request. Create and delete take the same one.
#[test]
fn create_and_delete_of_one_pr_share_a_mutex_taken_after_substitution() {
    let docs = library();
    let name = |p: &str| {
        let doc = find(&docs, "ClusterWorkflowTemplate", p);
        assert_eq!(
            doc["metadata"]["annotations"]["workflows.argoproj.io/version"], ">= 3.6.0",
            "{p}: synchronization.mutexes is 3.6+"
        );
        doc["spec"]["synchronization"]["mutexes"][0]["name"]
            .as_str()
            .unwrap_or_else(|| panic!("{p} has no mutex"))
            .to_string()
    };
    let create = name("sandbox-create");
    assert!(
        create.contains("{{workflow.parameters.pr_number}}"),
        "{create}"
    );
    assert_eq!(create, name("sandbox-delete"));
}

/// Issue 12, item 7. A controller started with `--namespaced` or
/// `--managed-namespace` watches one namespace; the child in `apps-<env>`
/// never starts. The wait has a deadline (the template's
/// `activeDeadlineSeconds`, which argo-workflows
/// `workflow/controller/workflowpod.go` makes the resource pod's deadline),
/// and a failed or timed-out wait ends in a message that names the cause.
#[test]
fn the_child_wait_has_a_deadline_and_says_why_it_failed() {
    let docs = library();
    let create = find(&docs, "ClusterWorkflowTemplate", "sandbox-create");
    let wait = template(create, "run-init");
    assert_eq!(
        wait["activeDeadlineSeconds"],
        "{{workflow.parameters.init_timeout_seconds}}"
    );
    let all = steps(create);
    let explain = &all["init-did-not-finish"];
    assert_eq!(explain["depends"], "run-init.Failed || run-init.Errored");
    let script = template(create, "init-did-not-finish")["container"]["args"][0]
        .as_str()
        .unwrap();
    assert!(script.contains("--namespaced") && script.contains("--managed-namespace"));
    assert!(script.contains("/dev/termination-log") && script.contains("exit 1"));
    assert_eq!(
        all["register-app"]["depends"],
        "run-init.Succeeded && patch-kustomize"
    );
    let install = std::fs::read_to_string(common::repo_root().join("docs/install.md")).unwrap();
    assert!(install.contains("--namespaced") && install.contains("--managed-namespace"));
}

/// Issue 12, item 8. Plugin nodes have no exit code; argo-workflows
/// `workflow/controller/operator.go` `buildRetryStrategyLocalScope` offers
/// the node's message as `lastRetry.message` (3.5+), and the plugin's
/// failure messages say `(transient)`.
#[test]
fn plugin_variants_retry_on_last_retry_message() {
    let docs = documents(&common::repo_root().join("cluster-workflow-templates/tasks"));
    let mut variants = 0;
    for (file, doc) in &docs {
        for t in doc["spec"]["templates"].as_array().into_iter().flatten() {
            if t.get("plugin").is_none() {
                continue;
            }
            variants += 1;
            let r = &t["retryStrategy"];
            assert_eq!(
                r["expression"],
                "lastRetry.message contains '(transient)'",
                "{}: {}",
                file.display(),
                t["name"]
            );
            assert_eq!(r["limit"], "3");
        }
    }
    assert!(variants >= 9, "only {variants} plugin variants");
}

/// Issue 12, item 9: the smaller truths.
/// - `plugin.yaml` needs 3.5 (`lastRetry.message`, above).
/// - argo-events `pkg/eventsources/sources/github/start.go`
///   `Router.PostInactivate` deletes the hooks it created only with
///   `deleteHookOnFinish: true`.
/// - The reap CronWorkflow runs in `argo`, where its account exists, and
///   submits sandbox-delete there.
#[test]
fn smaller_truths_plugin_version_webhook_removal_reap_namespace() {
    let text = std::fs::read_to_string(common::repo_root().join("plugin/plugin.yaml")).unwrap();
    let plugin = yaml::parse_documents(&text).unwrap().remove(0).to_json();
    assert_eq!(
        plugin["metadata"]["annotations"]["workflows.argoproj.io/version"],
        ">= v3.5"
    );
    let docs = library();
    let es = find(&docs, "EventSource", "sandbox-github");
    for (_, source) in es["spec"]["github"].as_object().unwrap() {
        assert_eq!(source["deleteHookOnFinish"], true);
    }
    let reap = find(&docs, "CronWorkflow", "sandbox-reap");
    assert_eq!(reap["metadata"]["namespace"], "argo");
    assert!(has(&docs, "ServiceAccount", "argo", "sandbox-reap").is_some());
    let child = template(reap, "submit-delete")["resource"]["manifest"]
        .as_str()
        .unwrap();
    assert!(child.contains("namespace: argo"), "{child}");
    // The documented retry window and patch rate are upstream's.
    let cluster = std::fs::read_to_string(common::repo_root().join("docs/cluster.md")).unwrap();
    for fact in [
        "ARGO_AGENT_PATCH_RATE",
        "about 15 s",
        "executor/plugins/rpc/plugin.go",
        "taskset.go",
    ] {
        assert!(
            cluster.contains(fact),
            "docs/cluster.md does not state {fact}"
        );
    }
}

// ---------------------------------------------------------------------------
// The ledger: what the create pipelines make, and which delete step removes it.

/// One ledger line: `<step> <kind> <name pattern>`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Entry {
    step: String,
    kind: String,
    name: String,
}

fn ledger(doc: &Value, annotation: &str) -> Vec<Entry> {
    doc["metadata"]["annotations"][annotation]
        .as_str()
        .unwrap_or("")
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let mut words = l.split_whitespace();
            let (Some(step), Some(kind), Some(name), None) =
                (words.next(), words.next(), words.next(), words.next())
            else {
                panic!("ledger line {l:?} is not `<step> <kind> <name>`");
            };
            Entry {
                step: step.into(),
                kind: kind.into(),
                name: name.into(),
            }
        })
        .collect()
}

/// Templates of the task library that create something when a step calls
/// them (the ledger must name such steps).
const CREATING_TASKS: &[&str] = &[
    "sandbox-create-branch",
    "sandbox-register-app",
    "sandbox-seed-bucket",
    "sandbox-restore-db",
];

/// What is wrong with the ledger of the library in `dir`; empty when every
/// created thing has a remover that is a real step of sandbox-delete.
fn ledger_gaps(dir: &Path) -> Vec<String> {
    let docs = documents(dir);
    let mut gaps = Vec::new();
    let delete = find(&docs, "ClusterWorkflowTemplate", "sandbox-delete");
    let delete_steps = steps(delete);
    let removes = ledger(delete, "argo-sandbox/removes");
    for r in &removes {
        if !delete_steps.contains_key(&r.step) {
            gaps.push(format!(
                "sandbox-delete names {} as the remover of {} {}, but has no such step",
                r.step, r.kind, r.name
            ));
        }
    }
    let mut created = 0;
    for creator in ["sandbox-create", "sandbox-init"] {
        let doc = find(&docs, "ClusterWorkflowTemplate", creator);
        let entries = ledger(doc, "argo-sandbox/creates");
        let all = steps(doc);
        for e in &entries {
            created += 1;
            if !all.contains_key(&e.step) {
                gaps.push(format!("{creator} declares step {} but has none", e.step));
            }
            if !removes.iter().any(|r| r.kind == e.kind && r.name == e.name) {
                gaps.push(format!(
                    "{creator}/{} creates {} {} and no step of sandbox-delete removes it",
                    e.step, e.kind, e.name
                ));
            }
        }
        // Every step that creates must say so.
        for (name, step) in &all {
            let creates = match (step.get("templateRef"), step["template"].as_str()) {
                (Some(r), _) => {
                    CREATING_TASKS.contains(&r["name"].as_str().unwrap_or(""))
                        || (r["name"] == "sandbox-terraform"
                            && arg(step, "command") == Some("apply"))
                }
                (None, Some(t)) => matches!(
                    template(doc, t)["resource"]["action"].as_str(),
                    Some("create" | "apply")
                ),
                _ => false,
            };
            if creates && !entries.iter().any(|e| &e.step == name) {
                gaps.push(format!(
                    "{creator}/{name} creates something the ledger does not declare"
                ));
            }
        }
    }
    if created == 0 {
        gaps.push("no ledger at all".into());
    }
    gaps
}

/// "Nothing left behind": every thing sandbox-create and sandbox-init
/// create (branch, Terraform state and resources, namespace and what is in
/// it, child workflows, app-of-apps file and Application, documents,
/// databases with a killed restore's leftovers) has a remover in
/// sandbox-delete, and that remover is a real step.
#[test]
fn ledger_every_created_thing_has_a_remover() {
    let gaps = ledger_gaps(&common::repo_root().join("cluster-workflow-templates"));
    assert!(gaps.is_empty(), "ledger gaps:\n{}", gaps.join("\n"));
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap().flatten() {
        let path = entry.path();
        let target = to.join(entry.file_name());
        if path.is_dir() {
            copy_dir(&path, &target);
        } else {
            std::fs::copy(&path, &target).unwrap();
        }
    }
}

/// The ledger test is not vacuous: on a copy of the library whose delete
/// pipeline lost one remover (the cleanup-bucket step, or its ledger line),
/// it fails and names what is left behind.
#[test]
fn ledger_fails_on_a_copy_with_one_remover_deleted() {
    let root = common::repo_root().join("cluster-workflow-templates");
    let original = std::fs::read_to_string(root.join("sandbox-delete.yaml")).unwrap();

    // 1. The step is gone (its ledger line stays).
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&root, dir.path());
    let start = original
        .find("          - name: cleanup-bucket\n")
        .expect("the step");
    let end = original[start..]
        .find("        - - name: terraform-destroy")
        .expect("the next step")
        + start;
    let without_step = format!("{}{}", &original[..start], &original[end..]);
    std::fs::write(dir.path().join("sandbox-delete.yaml"), &without_step).unwrap();
    let gaps = ledger_gaps(dir.path());
    assert_eq!(
        gaps,
        [
            "sandbox-delete names cleanup-bucket as the remover of objects <dest_bucket>/<env>/, but has no such step"
        ]
    );

    // 2. The ledger line is gone (the step stays).
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&root, dir.path());
    let line = "      cleanup-bucket objects <dest_bucket>/<env>/\n";
    assert!(original.contains(line));
    std::fs::write(
        dir.path().join("sandbox-delete.yaml"),
        original.replace(line, ""),
    )
    .unwrap();
    assert_eq!(
        ledger_gaps(dir.path()),
        [
            "sandbox-init/seed-bucket creates objects <dest_bucket>/<env>/ and no step of sandbox-delete removes it"
        ]
    );

    // 3. A creating step the ledger does not mention.
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&root, dir.path());
    let create = std::fs::read_to_string(root.join("sandbox-create.yaml")).unwrap();
    let line = "      namespace Namespace apps-<env>\n";
    std::fs::write(
        dir.path().join("sandbox-create.yaml"),
        create.replace(line, ""),
    )
    .unwrap();
    assert_eq!(
        ledger_gaps(dir.path()),
        ["sandbox-create/namespace creates something the ledger does not declare"]
    );
}

/// The removers issue 12 adds to the task library are called as their
/// generated templates will be: `sandbox-drop-db`/`drop-db` with restore-db's
/// parameters, `sandbox-cleanup-bucket`/`cleanup-bucket` with seed-bucket's.
/// Once the templates exist, every argument must be one of their inputs.
#[test]
fn drop_db_and_cleanup_bucket_are_called_with_their_creators_parameters() {
    let docs = library();
    let delete = find(&docs, "ClusterWorkflowTemplate", "sandbox-delete");
    let all = steps(delete);
    for (step, cwt, tpl, params) in [
        (
            "drop-db",
            "sandbox-drop-db",
            "drop-db",
            &[
                "pr_number",
                "database_url",
                "database_name",
                "vault_role",
                "vault_addr",
            ][..],
        ),
        (
            "cleanup-bucket",
            "sandbox-cleanup-bucket",
            "cleanup-bucket",
            // Buckets are reached with the pod's own identity (Application
            // Default Credentials), not through Vault: no vault_* inputs.
            &["pr_number", "dest_bucket"][..],
        ),
    ] {
        let s = &all[step];
        assert_eq!(s["templateRef"]["name"], cwt);
        assert_eq!(s["templateRef"]["template"], tpl);
        assert_eq!(s["templateRef"]["clusterScope"], true);
        for p in params {
            assert!(arg(s, p).is_some(), "{step} does not pass {p}");
        }
        if shipped(&docs, cwt) {
            let inputs: Vec<&str> =
                template(find(&docs, "ClusterWorkflowTemplate", cwt), tpl)["inputs"]["parameters"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter_map(|p| p["name"].as_str())
                    .collect();
            for p in params {
                assert!(inputs.contains(p), "{cwt}/{tpl} takes no {p}");
            }
        } else {
            eprintln!("{cwt} is not generated yet; checked the call only");
        }
    }
    // seed-bucket and cleanup-bucket see the same destination.
    let create = find(&docs, "ClusterWorkflowTemplate", "sandbox-create");
    assert_eq!(
        arg(&steps(create)["run-init"], "dest_bucket"),
        Some("{{tasks.check-params.outputs.parameters.dest_bucket}}")
    );
    assert_eq!(
        arg(&all["cleanup-bucket"], "dest_bucket"),
        Some("{{steps.check-params.outputs.parameters.dest_bucket}}")
    );
}

/// The savings line of hibernate counts the hours between its
/// `sleep_schedule` and `wake_schedule` parameters; they must be the
/// schedules the two CronWorkflows run on (CronWorkflowSpec `schedules`,
/// argo-workflows pkg/apis/workflow/v1alpha1/cron_workflow_types.go).
#[test]
fn hibernate_counts_savings_from_the_schedules_the_cron_workflows_run_on() {
    let docs = library();
    let param = |doc: &Value, name: &str| -> String {
        doc["spec"]["workflowSpec"]["arguments"]["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name)
            .and_then(|p| p["value"].as_str())
            .unwrap_or_else(|| panic!("no parameter {name}"))
            .to_string()
    };
    let hibernate = find(&docs, "CronWorkflow", "sandbox-hibernate");
    let wake = find(&docs, "CronWorkflow", "sandbox-wake");
    assert_eq!(
        hibernate["spec"]["schedules"],
        serde_json::json!([param(hibernate, "sleep_schedule")])
    );
    assert_eq!(
        wake["spec"]["schedules"],
        serde_json::json!([param(hibernate, "wake_schedule")])
    );
    assert_eq!(hibernate["spec"]["timezone"], wake["spec"]["timezone"]);
}

/// The task names a `depends` expression mentions.
fn depends_on(step: &Value) -> BTreeSet<String> {
    step["depends"]
        .as_str()
        .unwrap_or("")
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '.'))
        .filter(|w| !w.is_empty())
        .map(|w| w.split('.').next().unwrap().to_string())
        .collect()
}

/// Issue 15/16: every step waits only for what it needs, and the report of
/// a ready sandbox reads only timings Argo gives it. `{{tasks.X.startedAt}}`
/// resolves for the ancestors of the task using it (argo-workflows
/// `workflow/controller/dag.go` `resolveDependencyReferences` →
/// `buildLocalScopeFromTask`, `workflow/common/ancestry.go`
/// `GetTaskAncestry`); any other name would fail the step.
#[test]
fn the_create_dag_waits_only_for_what_each_step_needs() {
    let docs = library();
    let create = find(&docs, "ClusterWorkflowTemplate", "sandbox-create");
    let all = steps(create);
    let deps = |name: &str| depends_on(&all[name]);
    let set = |names: &[&str]| names.iter().map(|n| n.to_string()).collect::<BTreeSet<_>>();
    // The namespace and what lives in it do not wait for the overlay or Terraform.
    assert_eq!(deps("namespace"), set(&["check-params"]));
    assert_eq!(deps("role-binding"), set(&["namespace"]));
    assert_eq!(deps("terraform-apply"), set(&["create-branch"]));
    assert_eq!(
        deps("run-init"),
        set(&[
            "role-binding",
            "init-token",
            "plugin-token",
            "terraform-apply"
        ])
    );
    // pending first (nothing before it), wait-ready after register-app.
    assert!(deps("pending").is_empty());
    assert_eq!(arg(&all["pending"], "state"), Some("pending"));
    assert_eq!(deps("wait-ready"), set(&["register-app"]));
    assert_eq!(
        arg(&all["wait-ready"], "revision"),
        Some("{{tasks.patch-kustomize.outputs.parameters.commit}}")
    );
    assert_eq!(deps("ready"), set(&["wait-ready", "pending"]));
    // Every timing the ready report reads is of one of its ancestors.
    let mut ancestors = BTreeSet::new();
    let mut todo: Vec<String> = deps("ready").into_iter().collect();
    while let Some(t) = todo.pop() {
        if ancestors.insert(t.clone()) {
            todo.extend(deps(&t));
        }
    }
    let timings: Value = serde_json::from_str(arg(&all["ready"], "timings").unwrap()).unwrap();
    let named: Vec<&str> = timings
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["step"].as_str().unwrap())
        .collect();
    assert!(named.len() >= 12, "{named:?}");
    for t in timings.as_array().unwrap() {
        let step = t["step"].as_str().unwrap();
        assert!(
            ancestors.contains(step),
            "{step} is not an ancestor of ready"
        );
        assert_eq!(t["start"], format!("{{{{tasks.{step}.startedAt}}}}"));
        assert_eq!(t["end"], format!("{{{{tasks.{step}.finishedAt}}}}"));
    }
    // The exit handler reports only a run that did not succeed, with its failures.
    let report = &all["pr-feedback"];
    assert_eq!(report["when"], "{{workflow.status}} != Succeeded");
    assert_eq!(arg(report, "failures"), Some("{{workflow.failures}}"));
    // sandbox-create may read Applications in argocd, nothing more there.
    let role = has(&docs, "Role", "argocd", "sandbox-create-applications")
        .expect("a Role in argocd for sandbox-create");
    assert_eq!(
        role["rules"],
        serde_json::json!([{"apiGroups": ["argoproj.io"], "resources": ["applications"], "verbs": ["get"]}])
    );
    let binding = has(
        &docs,
        "RoleBinding",
        "argocd",
        "sandbox-create-applications",
    )
    .expect("its RoleBinding");
    assert_eq!(binding["subjects"][0]["name"], "sandbox-create");
    assert_eq!(binding["subjects"][0]["namespace"], "argo");
}
