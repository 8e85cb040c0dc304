//! `sandbox-plugin manifest`: the ConfigMap `argo executor-plugin build`
//! makes from `plugin.yaml`, so installing the plugin needs no argo CLI.
//!
//! Argo's builder (`workflow/util/plugin/configmap.go` `ToConfigMap`,
//! written out by `cmd/argo/commands/executorplugin/io.go`) names the map
//! `<name>-executor-plugin`, labels it
//! `workflows.argoproj.io/configmap-type: <kind>`, copies the plugin's
//! labels and annotations, and stores the sidecar as two keys:
//! `sidecar.automountServiceAccountToken` ("true"/"false") and
//! `sidecar.container` (the container as YAML). Go's YAML writer sorts map
//! keys, and so do we, so the output reads the same.

use serde_json::{Map, Value};

/// `plugin/plugin.yaml`, compiled in so the binary prints its own manifest.
pub const PLUGIN_YAML: &str = include_str!("../plugin.yaml");

/// The header Argo's builder puts on the file.
const HEADER: &str = "# This is an auto-generated file. DO NOT EDIT\n";

/// A plugin.yaml that Argo would refuse.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    /// Not YAML, or not an object.
    #[error("plugin.yaml is not valid YAML")]
    Yaml(#[source] yaml_serde::Error),
    /// Missing or wrong field; Argo's `Plugin.Validate` and strict decoding
    /// reject the same.
    #[error("plugin.yaml: {0}")]
    Invalid(String),
}

/// The ConfigMap for `plugin_yaml`, as YAML text.
pub fn configmap(plugin_yaml: &str) -> Result<String, ManifestError> {
    let plugin: Value = yaml_serde::from_str(plugin_yaml).map_err(ManifestError::Yaml)?;
    let cm = to_configmap(&plugin)?;
    let text = yaml_serde::to_string(&sorted(cm)).map_err(ManifestError::Yaml)?;
    Ok(format!("{HEADER}{text}"))
}

fn invalid(message: impl Into<String>) -> ManifestError {
    ManifestError::Invalid(message.into())
}

fn object<'a>(value: &'a Value, at: &str) -> Result<&'a Map<String, Value>, ManifestError> {
    value
        .as_object()
        .ok_or_else(|| invalid(format!("{at} must be an object")))
}

/// Only the keys Argo's strict decoding knows.
fn only_keys(map: &Map<String, Value>, at: &str, allowed: &[&str]) -> Result<(), ManifestError> {
    match map.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(k) => Err(invalid(format!("unknown field {at}.{k}"))),
        None => Ok(()),
    }
}

fn to_configmap(plugin: &Value) -> Result<Value, ManifestError> {
    let top = object(plugin, "the document")?;
    only_keys(top, "", &["apiVersion", "kind", "metadata", "spec"])?;
    if top.get("apiVersion").and_then(Value::as_str) != Some("argoproj.io/v1alpha1") {
        return Err(invalid("apiVersion must be argoproj.io/v1alpha1"));
    }
    let kind = top.get("kind").and_then(Value::as_str).unwrap_or_default();
    if kind != "ExecutorPlugin" {
        return Err(invalid("kind must be ExecutorPlugin"));
    }
    let metadata = object(top.get("metadata").unwrap_or(&Value::Null), "metadata")?;
    let name = metadata
        .get("name")
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty())
        .ok_or_else(|| invalid("metadata.name is required"))?;
    let spec = object(top.get("spec").unwrap_or(&Value::Null), "spec")?;
    only_keys(spec, "spec", &["sidecar"])?;
    let sidecar = object(spec.get("sidecar").unwrap_or(&Value::Null), "spec.sidecar")?;
    only_keys(
        sidecar,
        "spec.sidecar",
        &["automountServiceAccountToken", "container"],
    )?;
    let automount = match sidecar.get("automountServiceAccountToken") {
        None => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => {
            return Err(invalid(
                "spec.sidecar.automountServiceAccountToken must be true or false",
            ));
        }
    };
    let container = sidecar
        .get("container")
        .ok_or_else(|| invalid("spec.sidecar.container is required"))?;
    validate_container(object(container, "spec.sidecar.container")?)?;

    let mut labels = metadata
        .get("labels")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    labels.insert(
        "workflows.argoproj.io/configmap-type".into(),
        Value::String(kind.into()),
    );
    let mut meta = Map::new();
    if let Some(annotations) = metadata.get("annotations").and_then(Value::as_object)
        && !annotations.is_empty()
    {
        meta.insert("annotations".into(), Value::Object(annotations.clone()));
    }
    // A zero metav1.Time marshals as null; Go writes it, so do we.
    meta.insert("creationTimestamp".into(), Value::Null);
    meta.insert("labels".into(), Value::Object(labels));
    meta.insert(
        "name".into(),
        Value::String(format!("{name}-executor-plugin")),
    );
    if let Some(ns) = metadata
        .get("namespace")
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty())
    {
        meta.insert("namespace".into(), Value::String(ns.into()));
    }
    let container_yaml =
        yaml_serde::to_string(&sorted(container.clone())).map_err(ManifestError::Yaml)?;
    let mut data = Map::new();
    data.insert(
        "sidecar.automountServiceAccountToken".into(),
        Value::String(automount.to_string()),
    );
    data.insert("sidecar.container".into(), Value::String(container_yaml));
    let mut cm = Map::new();
    cm.insert("apiVersion".into(), Value::String("v1".into()));
    cm.insert("kind".into(), Value::String("ConfigMap".into()));
    cm.insert("metadata".into(), Value::Object(meta));
    cm.insert("data".into(), Value::Object(data));
    Ok(Value::Object(cm))
}

/// What Argo's `Sidecar.Validate` requires.
fn validate_container(c: &Map<String, Value>) -> Result<(), ManifestError> {
    let ports = c.get("ports").and_then(Value::as_array).map_or(0, Vec::len);
    if ports == 0 {
        return Err(invalid(
            "sidecar is invalid: at least one port is mandatory",
        ));
    }
    let resources = c.get("resources").and_then(Value::as_object);
    for (key, what) in [
        ("requests", "resources requests"),
        ("limits", "resources limits"),
    ] {
        if resources
            .and_then(|r| r.get(key))
            .is_none_or(Value::is_null)
        {
            return Err(invalid(format!("sidecar is invalid: {what} are mandatory")));
        }
    }
    if c.get("securityContext").is_none_or(Value::is_null) {
        return Err(invalid("sidecar is invalid: security context is mandatory"));
    }
    Ok(())
}

/// The value with every object's keys in sorted order, as Go's YAML writer
/// emits maps.
fn sorted(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(String, Value)> = map.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(entries.into_iter().map(|(k, v)| (k, sorted(v))).collect())
        }
        Value::Array(items) => Value::Array(items.into_iter().map(sorted).collect()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = "apiVersion: argoproj.io/v1alpha1
kind: ExecutorPlugin
metadata: {name: hello}
spec:
  sidecar:
    container:
      name: hello-executor-plugin
      image: python:alpine3.23
      ports: [{containerPort: 4355}]
      securityContext: {runAsUser: 1000}
      resources: {requests: {cpu: 100m}, limits: {cpu: 200m}}
";

    #[test]
    fn argo_rejects_what_we_reject() {
        assert!(configmap(MINIMAL).is_ok());
        let cases = [
            (
                "      ports: [{containerPort: 4355}]\n",
                "port is mandatory",
            ),
            (
                "      securityContext: {runAsUser: 1000}\n",
                "security context",
            ),
            (
                "      resources: {requests: {cpu: 100m}, limits: {cpu: 200m}}\n",
                "requests",
            ),
        ];
        for (line, want) in cases {
            let yaml = MINIMAL.replace(line, "");
            let error = configmap(&yaml).unwrap_err().to_string();
            assert!(error.contains(want), "{error}");
        }
        let error =
            configmap(&MINIMAL.replace("kind: ExecutorPlugin", "kind: Plugin")).unwrap_err();
        assert!(error.to_string().contains("ExecutorPlugin"));
        let error =
            configmap(&MINIMAL.replace("  sidecar:", "  extra: 1\n  sidecar:")).unwrap_err();
        assert!(
            error.to_string().contains("unknown field spec.extra"),
            "{error}"
        );
    }

    #[test]
    fn configmap_has_argo_name_label_and_keys() {
        let text = configmap(MINIMAL).unwrap();
        assert!(text.starts_with(HEADER));
        let cm: Value = yaml_serde::from_str(&text).unwrap();
        assert_eq!(cm["metadata"]["name"], "hello-executor-plugin");
        assert_eq!(
            cm["metadata"]["labels"]["workflows.argoproj.io/configmap-type"],
            "ExecutorPlugin"
        );
        assert_eq!(cm["data"]["sidecar.automountServiceAccountToken"], "false");
        let container: Value =
            yaml_serde::from_str(cm["data"]["sidecar.container"].as_str().unwrap()).unwrap();
        assert_eq!(container["ports"][0]["containerPort"], 4355);
        let keys: Vec<&String> = container.as_object().unwrap().keys().collect();
        let mut want = keys.clone();
        want.sort();
        assert_eq!(keys, want, "keys are sorted as Go writes them");
    }
}
