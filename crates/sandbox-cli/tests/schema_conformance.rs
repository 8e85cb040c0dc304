//! Every document we ship validates against the upstream JSON schemas in
//! the fixtures, unknown keys forbidden and required keys enforced (the
//! schemas' int-or-string types widened, see the schema module). The
//! Workflows the Sensors submit are validated against the Argo schema too.

mod common;

use sandbox_cli::schema::{Family, Mode, Schema};
use sandbox_cli::yaml::{self, Node};
use std::path::{Path, PathBuf};

fn schema(fixtures: &Path, family: Family) -> Schema {
    let text =
        std::fs::read_to_string(fixtures.join(family.fixture_schema())).expect("read schema");
    Schema::from_json_schema(family, &serde_json::from_str(&text).expect("JSON")).expect("derive")
}

fn yaml_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(yaml_files(&path));
        } else if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            out.push(path);
        }
    }
    out.sort();
    out
}

#[test]
fn shipped_documents_validate_against_the_fixture_schemas() {
    let Some(fixtures) = common::fixtures() else {
        return;
    };
    let schemas = [
        schema(&fixtures, Family::Argo),
        schema(&fixtures, Family::Events),
    ];
    let validate = |kind: &str, node: &Node, what: &str, problems: &mut Vec<String>| {
        let Some((schema, root)) = schemas
            .iter()
            .find_map(|s| s.roots.get(kind).map(|r| (s, r)))
        else {
            return false;
        };
        for p in schema.check(root, node, Mode::Strict) {
            problems.push(format!("{what}:{}: {p}", p.line()));
        }
        true
    };
    let mut problems = Vec::new();
    let mut checked = 0;
    let files = yaml_files(&common::repo_root().join("cluster-workflow-templates"));
    for file in &files {
        let text = std::fs::read_to_string(file).expect("read");
        for doc in yaml::parse_documents(&text).expect("YAML") {
            let Some(kind) = doc.get("kind").and_then(Node::as_str) else {
                continue;
            };
            let what = file.display().to_string();
            if validate(kind, &doc, &what, &mut problems) {
                checked += 1;
            }
            for trigger in doc
                .at(&["spec", "triggers"])
                .map(Node::items)
                .unwrap_or_default()
            {
                if let Some(resource) = trigger.at(&["template", "k8s", "source", "resource"]) {
                    let kind = resource
                        .get("kind")
                        .and_then(Node::as_str)
                        .unwrap_or_default();
                    assert!(
                        validate(kind, resource, &what, &mut problems),
                        "{what}: trigger resource of kind {kind:?}"
                    );
                    checked += 1;
                }
            }
        }
    }
    assert!(checked >= 5, "only {checked} documents checked");
    assert!(
        problems.is_empty(),
        "schema problems:\n{}",
        problems.join("\n")
    );
}

/// The validator itself: it rejects unknown keys and wrong types, and
/// accepts the upstream Sensor examples, as Python's jsonschema does.
#[test]
fn the_validator_agrees_with_upstream_examples() {
    let Some(fixtures) = common::fixtures() else {
        return;
    };
    let events = schema(&fixtures, Family::Events);
    for file in yaml_files(&fixtures.join("argo-events/sensors")) {
        let doc = yaml::parse_documents(&std::fs::read_to_string(&file).expect("read"))
            .expect("YAML")
            .remove(0);
        let problems = events.check(&events.roots["Sensor"], &doc, Mode::Strict);
        assert!(problems.is_empty(), "{}: {problems:?}", file.display());
    }
    let bad = yaml::parse_documents("apiVersion: argoproj.io/v1alpha1\nkind: Sensor\nmetadata: {name: x}\nspec:\n  dependencies: 3\n  triggerz: []\n")
        .expect("YAML")
        .remove(0);
    let problems: Vec<String> = events
        .check(&events.roots["Sensor"], &bad, Mode::Strict)
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        problems,
        [
            "spec.dependencies must be a list",
            "unknown key spec.triggerz (SensorSpec has no such key; did you mean \"triggers\"?)",
            "spec.triggers is required in SensorSpec",
        ]
    );
}
