//! The committed ConfigMap is what `sandbox-plugin manifest` prints from
//! plugin.yaml, and the sidecar it installs keeps DESIGN §5's rules.

use sandbox_plugin::manifest::{PLUGIN_YAML, configmap};
use serde_json::Value;

const COMMITTED: &str = include_str!("../../sandbox-executor-plugin-configmap.yaml");

#[test]
fn committed_configmap_is_in_sync_with_plugin_yaml() {
    assert_eq!(
        configmap(PLUGIN_YAML).unwrap(),
        COMMITTED,
        "plugin/sandbox-executor-plugin-configmap.yaml is stale: run \
         `cargo run -p sandbox-plugin -- manifest > plugin/sandbox-executor-plugin-configmap.yaml`"
    );
}

#[test]
fn configmap_installs_a_locked_down_sidecar_the_agent_can_reach() {
    let cm: Value = yaml_serde::from_str(COMMITTED).unwrap();
    assert_eq!(cm["kind"], "ConfigMap");
    assert_eq!(cm["metadata"]["name"], "sandbox-executor-plugin");
    assert_eq!(
        cm["metadata"]["labels"]["workflows.argoproj.io/configmap-type"],
        "ExecutorPlugin"
    );
    assert!(cm["data"]["sidecar.automountServiceAccountToken"].is_string());
    let container: Value =
        yaml_serde::from_str(cm["data"]["sidecar.container"].as_str().unwrap()).unwrap();
    let plugin: Value = yaml_serde::from_str(PLUGIN_YAML).unwrap();
    assert_eq!(
        container, plugin["spec"]["sidecar"]["container"],
        "the container is plugin.yaml's"
    );

    let port = container["ports"][0]["containerPort"].as_u64().unwrap();
    assert!(
        port > 10_000,
        "Argo asks unpublished plugins for a port above 10000"
    );
    let args: Vec<&str> = container["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert!(
        args.contains(&format!("--listen=127.0.0.1:{port}").as_str()),
        "listens on the declared port: {args:?}"
    );
    assert!(
        args.contains(&"--token-file=/var/run/argo/token"),
        "{args:?}"
    );

    let sc = &container["securityContext"];
    assert_eq!(
        sc["runAsUser"], 8737,
        "the agent's uid, to read the 0440 token file"
    );
    // Writable: the git tasks need a TMPDIR and a plugin cannot declare
    // volumes (argo-workflows pkg/plugins/spec/plugin_types.go Sidecar).
    assert_eq!(sc["readOnlyRootFilesystem"], false);
    assert_eq!(sc["allowPrivilegeEscalation"], false);
    assert_eq!(sc["capabilities"]["drop"], serde_json::json!(["ALL"]));
    for key in ["requests", "limits"] {
        assert!(
            container["resources"][key]["cpu"].is_string()
                && container["resources"][key]["memory"].is_string(),
            "{key}"
        );
    }
}
