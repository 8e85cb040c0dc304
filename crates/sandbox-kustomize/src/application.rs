//! Argo CD's own way to scale a sandbox to zero without touching its
//! overlay: the Application's `spec.source.kustomize.replicas` override.
//! [`hibernate`] writes one `count: 0` entry per Deployment and
//! StatefulSet, keeps what was there in an annotation and marks the
//! Application; [`wake`] puts back exactly what was there, byte for byte.
//! Edits go through yaml-edit's lossless tree, so the rest of the file
//! (comments, order, quoting) is untouched.
//!
//! Argo CD's field: `KustomizeReplica` (`name`, `count` as an int or a
//! string) in argoproj/argo-cd `pkg/apis/application/v1alpha1/types.go`;
//! the repo server applies it in `util/kustomize/kustomize.go`
//! (`kustomize.Build`) by running `kustomize edit set replicas name=count`
//! in the source directory before building.

use crate::workloads::Workload;
use serde::Serialize;
use serde_json::Value;
use std::str::FromStr;
use yaml_edit::{Document, Mapping, ScalarValue};

/// Marks a hibernated Application: when it was put to sleep (UTC).
pub const HIBERNATED_AT: &str = "argo-sandbox.io/hibernated-at";
/// What `spec.source.kustomize` held before hibernation (JSON), for wake.
pub const SAVED_OVERRIDES: &str = "argo-sandbox.io/hibernated-overrides";
/// An Application annotated `"true"` is never hibernated.
pub const KEEP_AWAKE: &str = "argo-sandbox.io/keep-awake";

/// What the Application file says.
#[derive(Debug, Clone, Default)]
pub struct AppInfo {
    pub hibernated: bool,
    pub keep_awake: bool,
    pub revision: Option<String>,
    pub path: Option<String>,
    /// `spec.source.kustomize.replicas` as it is.
    pub replicas: Option<Value>,
}

impl AppInfo {
    pub fn parse(text: &str) -> Result<AppInfo, String> {
        let doc: Value = yaml_serde::from_str(text).map_err(|e| format!("not valid YAML: {e}"))?;
        if doc["kind"] != "Application" {
            return Err("not an Argo CD Application".into());
        }
        let annotations = &doc["metadata"]["annotations"];
        let source = &doc["spec"]["source"];
        if !source.is_object() {
            return Err("has no spec.source (multi-source Applications are not handled)".into());
        }
        Ok(AppInfo {
            hibernated: annotations.get(HIBERNATED_AT).is_some(),
            keep_awake: annotations[KEEP_AWAKE] == "true",
            revision: source["targetRevision"].as_str().map(str::to_string),
            path: source["path"].as_str().map(str::to_string),
            replicas: source["kustomize"].get("replicas").cloned(),
        })
    }
}

/// Why an Application file cannot be edited.
fn fail(what: impl std::fmt::Display) -> String {
    what.to_string()
}

fn mapping(m: &Mapping, key: &str) -> Option<Mapping> {
    m.get(key).and_then(|n| n.as_mapping().cloned())
}

/// The indentation of the mapping entries under `parent_key` in `text`
/// (two spaces unless the file says otherwise).
fn indent_unit(text: &str) -> usize {
    text.lines()
        .find(|l| !l.trim().is_empty() && l.starts_with(' ') && !l.trim_start().starts_with('#'))
        .map_or(2, |l| l.len() - l.trim_start().len())
}

/// A mapping parsed from text, so yaml-edit keeps its block layout.
fn block_mapping(key: &str, body: &str) -> Result<Mapping, String> {
    let doc = Document::from_str(&format!("{key}:\n{body}")).map_err(|e| e.to_string())?;
    doc.as_mapping()
        .and_then(|m| mapping(&m, key))
        .ok_or_else(|| format!("{key} is not a mapping"))
}

/// What hibernate keeps for wake: whether `spec.source.kustomize` and
/// `metadata.annotations` existed, and the replicas override that was set.
#[derive(Debug, Clone, PartialEq, serde::Deserialize, Serialize)]
pub struct Saved {
    /// `metadata.annotations` existed.
    pub annotations: bool,
    /// `spec.source.kustomize` existed.
    pub kustomize: bool,
    /// `spec.source.kustomize.replicas` as it was.
    pub replicas: Option<Value>,
}

/// Hibernate one Application file: `count: 0` for every workload, the old
/// override saved, the mark set. The result is checked to wake back to
/// `text` byte for byte.
pub fn hibernate(text: &str, workloads: &[Workload], at: &str) -> Result<String, String> {
    let info = AppInfo::parse(text)?;
    let doc = Document::from_str(text).map_err(fail)?;
    let root = doc.as_mapping().ok_or_else(|| fail("not a mapping"))?;
    let unit = indent_unit(text);
    let pad = |n: usize| " ".repeat(unit * n);
    let metadata = mapping(&root, "metadata").ok_or_else(|| fail("no metadata"))?;
    let source = mapping(&root, "spec")
        .and_then(|s| mapping(&s, "source"))
        .ok_or_else(|| fail("no spec.source"))?;
    let saved = Saved {
        annotations: metadata.get("annotations").is_some(),
        kustomize: source.get("kustomize").is_some(),
        replicas: info.replicas.clone(),
    };
    let saved_json = serde_json::to_string(&saved).map_err(fail)?;
    let mut entries = String::new();
    for w in workloads {
        entries.push_str(&format!(
            "{}- name: {}\n{}  count: 0\n",
            pad(1),
            serde_json::to_string(&w.name).map_err(fail)?,
            pad(1)
        ));
    }
    match mapping(&metadata, "annotations") {
        Some(a) => {
            a.set(HIBERNATED_AT, ScalarValue::double_quoted(at));
            a.set(SAVED_OVERRIDES, ScalarValue::single_quoted(&saved_json));
        }
        None => {
            let body = format!(
                "{p}{HIBERNATED_AT}: \"{at}\"\n{p}{SAVED_OVERRIDES}: '{}'\n",
                saved_json.replace('\'', "''"),
                p = pad(1)
            );
            let a = block_mapping("annotations", &body).map_err(fail)?;
            metadata.set_with_field_order(
                "annotations",
                a,
                ["name", "namespace", "labels", "annotations", "finalizers"],
            );
        }
    }
    let replicas = yaml_seq(&entries).map_err(fail)?;
    match mapping(&source, "kustomize") {
        Some(k) => {
            k.set("replicas", replicas);
        }
        None => {
            let k = block_mapping("kustomize", &format!("{}replicas:\n{entries}", pad(1)))
                .map_err(fail)?;
            source.set_with_field_order(
                "kustomize",
                k,
                ["repoURL", "targetRevision", "path", "kustomize"],
            );
        }
    }
    let out = doc.to_string();
    let back = wake(&out)?;
    if back != text {
        return Err(fail(
            "its hibernated form would not wake back to the same bytes; edit its kustomize block into block style",
        ));
    }
    Ok(out)
}

fn yaml_seq(entries: &str) -> Result<yaml_edit::Sequence, String> {
    let doc = Document::from_str(&format!("replicas:\n{entries}")).map_err(|e| e.to_string())?;
    doc.as_mapping()
        .and_then(|m| m.get_sequence("replicas"))
        .ok_or_else(|| "replicas is not a sequence".into())
}

/// Wake one Application file: the override that was there before
/// hibernation is back, the annotations gone. An Application that is not
/// hibernated is returned as it is.
pub fn wake(text: &str) -> Result<String, String> {
    let doc = Document::from_str(text).map_err(fail)?;
    let root = doc.as_mapping().ok_or_else(|| fail("not a mapping"))?;
    let metadata = mapping(&root, "metadata").ok_or_else(|| fail("no metadata"))?;
    let Some(annotations) = mapping(&metadata, "annotations") else {
        return Ok(text.to_string());
    };
    if annotations.get(HIBERNATED_AT).is_none() {
        return Ok(text.to_string());
    }
    let saved: Saved = annotations
        .get(SAVED_OVERRIDES)
        .and_then(|n| n.as_scalar().map(|s| s.as_string()))
        .and_then(|s| serde_json::from_str(&s).ok())
        .ok_or_else(|| {
            fail(format!("it is hibernated but {SAVED_OVERRIDES} is missing or unreadable; restore spec.source.kustomize by hand and remove {HIBERNATED_AT}"),
            )
        })?;
    let source = mapping(&root, "spec")
        .and_then(|s| mapping(&s, "source"))
        .ok_or_else(|| fail("no spec.source"))?;
    if !saved.kustomize {
        source.remove("kustomize");
    } else if let Some(k) = mapping(&source, "kustomize") {
        match &saved.replicas {
            None => {
                k.remove("replicas");
            }
            Some(v) => {
                let unit = indent_unit(text);
                let entries = replicas_block(v, unit).map_err(fail)?;
                let seq = yaml_seq(&entries).map_err(fail)?;
                k.set("replicas", seq);
            }
        }
    }
    if saved.annotations {
        annotations.remove(HIBERNATED_AT);
        annotations.remove(SAVED_OVERRIDES);
    } else {
        metadata.remove("annotations");
    }
    Ok(doc.to_string())
}

/// A saved replicas list as block YAML entries.
fn replicas_block(v: &Value, unit: usize) -> Result<String, String> {
    let pad = " ".repeat(unit);
    let items = v.as_array().ok_or("the saved replicas are not a list")?;
    let mut out = String::new();
    for item in items {
        let name = item["name"].as_str().ok_or("a saved replica has no name")?;
        let count = match &item["count"] {
            Value::Number(n) => n.to_string(),
            Value::String(s) => format!("\"{s}\""),
            _ => return Err("a saved replica has no count".into()),
        };
        out.push_str(&format!("{pad}- name: {name}\n{pad}  count: {count}\n"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PLAIN: &str = "# Written by register-app\napiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: sbx-pr-7\n  namespace: argocd\n  labels:\n    argo-sandbox.io/pr-number: \"7\"\n  finalizers:\n    - resources-finalizer.argocd.argoproj.io\nspec:\n  project: default\n  source:\n    repoURL: \"git://x/infra.git\"\n    targetRevision: \"sbx-pr-7\"\n    path: \"overlays/sbx-pr-7\"\n  destination:\n    namespace: apps-sbx-pr-7\n";

    fn workloads(names: &[&str]) -> Vec<Workload> {
        names
            .iter()
            .map(|n| Workload {
                kind: "Deployment".into(),
                name: (*n).into(),
                replicas: Some(1),
            })
            .collect()
    }

    fn replicas_of(text: &str) -> Value {
        let v: Value = yaml_serde::from_str(text).unwrap();
        v["spec"]["source"]["kustomize"]["replicas"].clone()
    }

    #[test]
    fn a_plain_application_hibernates_and_wakes_back_byte_for_byte() {
        let h = hibernate(PLAIN, &workloads(&["web", "db"]), "2026-12-02T20:00:00Z").unwrap();
        assert_eq!(
            replicas_of(&h),
            serde_json::json!([{"name": "web", "count": 0}, {"name": "db", "count": 0}]),
            "{h}"
        );
        let info = AppInfo::parse(&h).unwrap();
        assert!(info.hibernated);
        assert!(h.contains("# Written by register-app\n"), "{h}");
        assert_eq!(wake(&h).unwrap(), PLAIN);
        // Waking what is awake changes nothing.
        assert_eq!(wake(PLAIN).unwrap(), PLAIN);
    }

    #[test]
    fn existing_overrides_and_annotations_are_kept_and_restored() {
        let text = PLAIN.replace(
            "  finalizers:",
            "  annotations:\n    team: payments\n  finalizers:",
        ) .replace(
            "    path: \"overlays/sbx-pr-7\"\n",
            "    path: \"overlays/sbx-pr-7\"\n    kustomize:\n      namePrefix: a-\n      replicas:\n        - name: web\n          count: 3\n",
        );
        let h = hibernate(&text, &workloads(&["web", "worker"]), "t").unwrap();
        assert_eq!(
            replicas_of(&h),
            serde_json::json!([{"name": "web", "count": 0}, {"name": "worker", "count": 0}]),
            "{h}"
        );
        let v: Value = yaml_serde::from_str(&h).unwrap();
        assert_eq!(v["metadata"]["annotations"]["team"], "payments");
        assert_eq!(v["spec"]["source"]["kustomize"]["namePrefix"], "a-");
        let saved: Saved = serde_json::from_str(
            v["metadata"]["annotations"][SAVED_OVERRIDES]
                .as_str()
                .unwrap(),
        )
        .unwrap();
        assert_eq!(
            saved.replicas,
            Some(serde_json::json!([{"name": "web", "count": 3}]))
        );
        assert_eq!(wake(&h).unwrap(), text);
    }
}
