//! check-params and every task agree on every shared parameter: the same
//! hostile value gets the same verdict from both (accepted, invalid or
//! refused), because both validate it with the same group. And one name
//! means one thing everywhere: a key is declared with the same help,
//! default and choices in every task that takes it.

use crate::registry;
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

/// One sandbox's whole parameter set: every task runs with it.
fn baseline() -> Map<String, Value> {
    let text = include_str!("../../../../examples/sandbox.yaml");
    let mut map: Map<String, Value> = yaml_serde::from_str(text).unwrap();
    map.insert("state".into(), json!("success"));
    // wait-ready's commit, an output of patch-kustomize in the pipeline.
    map.insert(
        "revision".into(),
        json!("6dcb09b5b57875f334f61aebed695e2e4193db5e"),
    );
    map
}

/// Values that break one rule or another, by key. Some are valid (a
/// `{environment}` template, a release pattern): agreement on those
/// matters as much.
const HOSTILE: &[(&str, &[&str])] = &[
    ("pr_number", &["0", "-1", "abc", "42x", "99999999999"]),
    (
        "env_prefix",
        &[
            "SBX-",
            "a/b",
            "sandbox-of-a-very-long-prefix-name-that-never-fits-",
        ],
    ),
    (
        "environment",
        &["Prod", "main", "sbx-pr-420", "a..b", "prod", "sbx-pr-4"],
    ),
    ("protected_branches", &["a..b", "release/*", "sbx-pr-42"]),
    ("protected_databases", &["Bad-Name", "x;drop", "sbx_pr_42"]),
    (
        "repo_url",
        &[
            "https://u:p@h.example/x.git",
            "ftp://x.example/y",
            "not a url",
        ],
    ),
    (
        "git_token",
        &[
            "plain-token",
            "vault://secret/other/x#t",
            "vault://secret/sandboxes/{environment}/git#token",
            "file:",
            "vault://secret/sandboxes/../x#t",
        ],
    ),
    ("git_user", &["a:b", "a@b", "a/b"]),
    ("ssh_key_passphrase", &["vault://x", "env:"]),
    ("git_author_name", &["<x>", "a\nb", " "]),
    ("git_author_email", &["a>b"]),
    (
        "branch",
        &["main", "a..b", "sbx-pr-420", "release/1.2", "sbx-pr-42/x"],
    ),
    ("base_branch", &["a..b", "-x", "HEAD"]),
    ("if_exists", &["overwrite"]),
    (
        "overlay_path",
        &["../x", "/etc", ".git/hooks", "overlays/../../x"],
    ),
    (
        "namespace",
        &["kube-system", "apps-sbx-pr-420", "Bad", "apps-sbx-pr-4"],
    ),
    ("images_from", &["../x", "/abs"]),
    ("apps_path", &["../x", "/abs"]),
    ("apps_branch", &["a..b", "release/1.2"]),
    (
        "app_name",
        &["prod-app", "Bad_Name", "sbx-pr-420", "sbx-pr-4"],
    ),
    ("source_bucket", &["gs://UP", "s3://x", "gs://a_"]),
    (
        "dest_bucket",
        &[
            "gs://docs-sbx-pr-420",
            "gs://acme-integration-docs/reference/",
            "gs://a_",
            "gs://docs/sbx-pr-420/",
            "gs://docs/sbx-pr-42/",
        ],
    ),
    ("endpoint", &["http://[::1", "http://127.0.0.1:4443"]),
    ("backup_url", &["gs://UP", "http://x.example/backups"]),
    ("backup_object", &["../x", "/abs", "a//b"]),
    ("name_pattern", &["db-%Q", "nightly-%Y%m%d.sql"]),
    ("max_age", &["soon", "-1h", "36h"]),
    (
        "database_name",
        &[
            "postgres",
            "template0",
            "sbx_pr_420",
            "Bad-Name",
            "sbx_pr_4",
        ],
    ),
    ("source_database", &["Bad-Name", "sbx_pr_42"]),
    (
        "database_url",
        &[
            "postgres://u:pw@h/db",
            "vault://secret/other#url",
            "postgres://u@h/db",
        ],
    ),
    ("forge", &["gitlab", "none"]),
    ("github_repo", &["acme", "a/b/c", "a b/c"]),
    ("github_api_url", &["not a url", "ftp://x.example"]),
    ("github_token", &["vault://secret/other/x#t", "file:"]),
    (
        "vault_addr",
        &[
            "https://u:p@vault.example",
            "vault:8200",
            "http://vault.example?x=1",
        ],
    ),
    ("vault_role", &["a/b", "a b"]),
    ("vault_auth", &["ldap", "token"]),
    (
        "vault_base",
        &["secret", "../x", "secret/sandboxes,secret/shared"],
    ),
    (
        "vault_path",
        &[
            "secret/sandboxes/{environment}",
            "secret",
            "secret/sandboxes/sbx-pr-420",
            "secret/../x",
            "secret/sandboxes/sbx-pr-42",
        ],
    ),
    ("vault_auth_mount", &["a//b", "../x"]),
    ("vault_namespace", &["a..b", "team a"]),
];

/// What validation said about `key`: the kind of an error that names it,
/// else accepted.
fn verdict(task: &str, params: &Map<String, Value>, key: &str) -> String {
    match registry::validate(task, params) {
        Ok(()) => "accepted".into(),
        Err(e) if e.details.iter().any(|d| d.field == key) => format!("{}", e.kind),
        // A refusal about another parameter (a protected list that now
        // covers the environment's database) says nothing about this key.
        Err(_) => "accepted".into(),
    }
}

fn keys_of(task: &str) -> Vec<String> {
    registry::command(task)
        .unwrap()
        .get_arguments()
        .map(|a| a.get_id().to_string())
        .collect()
}

#[test]
fn the_baseline_is_valid_for_every_task() {
    for task in registry::TASKS {
        assert_eq!(
            verdict(task, &baseline(), "-"),
            "accepted",
            "{task} rejects examples/sandbox.yaml"
        );
    }
}

#[test]
fn check_params_and_every_task_agree_on_hostile_values() {
    let check_keys = keys_of("check-params");
    let mut compared = 0;
    let mut disagreements = Vec::new();
    for task in registry::TASKS.iter().filter(|t| **t != "check-params") {
        let keys = keys_of(task);
        // reap works across environments: a `{environment}` reference
        // means nothing there, and it says so (exit 2).
        let has_environment = keys.iter().any(|k| k == "environment");
        for (key, values) in HOSTILE {
            if !keys.iter().any(|k| k == key) {
                continue;
            }
            assert!(
                check_keys.iter().any(|k| k == key),
                "{task} takes {key}, check-params does not"
            );
            for value in values
                .iter()
                .filter(|v| has_environment || !v.contains("{environment}"))
            {
                let mut params = baseline();
                params.insert((*key).into(), json!(value));
                let ours = verdict("check-params", &params, key);
                let theirs = verdict(task, &params, key);
                compared += 1;
                // check-params may only be stricter where the task never
                // looks (none today); any difference is a disagreement.
                if ours != theirs {
                    disagreements.push(format!(
                        "{key}={value:?}: check-params {ours}, {task} {theirs}"
                    ));
                }
            }
        }
    }
    assert!(compared > 150, "only {compared} comparisons");
    assert!(
        disagreements.is_empty(),
        "{} disagreements:\n{}",
        disagreements.len(),
        disagreements.join("\n")
    );
}

#[test]
fn every_hostile_table_key_is_a_parameter() {
    let vocabulary = registry::vocabulary();
    for (key, _) in HOSTILE {
        assert!(vocabulary.iter().any(|k| k == key), "{key}");
    }
}

/// DESIGN §4, one vocabulary: a key means the same in every task — the
/// same help, default, choices and value name — because it is declared
/// once, in its group.
#[test]
fn one_name_means_one_thing_everywhere() {
    let mut seen: BTreeMap<String, (String, String)> = BTreeMap::new();
    for task in registry::TASKS {
        for arg in registry::command(task).unwrap().get_arguments() {
            let id = arg.get_id().to_string();
            let shape = format!(
                "{:?} {:?} {:?} {:?}",
                arg.get_help().map(ToString::to_string),
                arg.get_default_values(),
                arg.get_possible_values()
                    .iter()
                    .map(|v| v.get_name().to_string())
                    .collect::<Vec<_>>(),
                arg.get_value_names()
            );
            match seen.get(&id) {
                Some((first_task, first)) => assert_eq!(
                    first, &shape,
                    "{id} differs between {first_task} and {task}"
                ),
                None => {
                    seen.insert(id, (task.to_string(), shape));
                }
            }
        }
    }
}

/// Issue 12, "belongs to the environment means the whole name": for PR
/// 42, the branch, namespace, Application, database, bucket prefix and
/// secrets of PR 420 and PR 4 are another environment's, and every task
/// that takes such a target refuses it (exit 5) naming the parameter.
#[test]
fn pr_42_never_touches_what_is_pr_420s_or_pr_4s() {
    const FOREIGN: &[(&str, &[&str])] = &[
        ("branch", &["sbx-pr-420", "sbx-pr-4", "sbx-pr-420/x"]),
        ("namespace", &["apps-sbx-pr-420", "apps-sbx-pr-4"]),
        ("app_name", &["sbx-pr-420", "sbx-pr-4"]),
        (
            "database_name",
            &["sbx_pr_420", "sbx_pr_4", "sbx_pr_420_stg"],
        ),
        (
            "dest_bucket",
            &[
                "gs://docs/sbx-pr-420/",
                "gs://docs-sbx-pr-420",
                "gs://docs/sbx-pr-4/",
                "gs://docs-sbx-pr-4",
            ],
        ),
        (
            "vault_path",
            &["secret/sandboxes/sbx-pr-420", "secret/sandboxes/sbx-pr-4"],
        ),
    ];
    let mut refused = 0;
    for task in registry::TASKS {
        let keys = keys_of(task);
        for (key, values) in FOREIGN {
            if !keys.iter().any(|k| k == key) {
                continue;
            }
            for value in *values {
                let mut params = baseline();
                params.insert((*key).into(), json!(value));
                assert_eq!(
                    verdict(task, &params, key),
                    "refused",
                    "{task} takes {key}={value} for PR 42"
                );
                refused += 1;
            }
        }
    }
    assert!(refused >= 40, "only {refused} cases");
}
