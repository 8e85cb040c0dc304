//! What a task needs from the pod it runs in besides its own code. A task
//! image provides it by construction; the plugin's agent pod must provide
//! it too (Argo's agent pod gives the sidecar no token, no writable disk
//! and no tools of its own), so templates and the plugin image are checked
//! against these declarations.

/// One thing a task needs at run time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// A program on `PATH`, e.g. `kubectl`, `psql`.
    Tool(&'static str),
    /// A writable temporary directory (`TMPDIR`).
    WritableTmp,
    /// The pod's service-account token (a Vault kubernetes or jwt login).
    ServiceAccountToken,
    /// The Kubernetes API as the workflow's own service account, with its
    /// rights (wait-ready reads Applications). The plugin's sidecar holds
    /// the token of `sandbox-executor-plugin`, which has no rights.
    KubernetesApi,
}

impl Need {
    /// The need as the word the generated templates carry in their
    /// `argo-sandbox/needs` annotation: `tool:<name>`, `writable-tmp`,
    /// `service-account-token`.
    pub fn label(self) -> String {
        match self {
            Need::Tool(name) => format!("tool:{name}"),
            Need::WritableTmp => "writable-tmp".to_string(),
            Need::ServiceAccountToken => "service-account-token".to_string(),
            Need::KubernetesApi => "kubernetes-api".to_string(),
        }
    }
}

/// What the plugin's agent pod gives every task it runs, and how (see
/// `docs/cluster.md`, "The plugin sidecar"):
///
/// - the token: `plugin/plugin.yaml` sets `automountServiceAccountToken`,
///   so the controller mounts the Secret of the `sandbox-executor-plugin`
///   ServiceAccount at `/var/run/secrets/kubernetes.io/serviceaccount`
///   (argo-workflows `workflow/controller/agent.go`
///   `getExecutorPluginComponents`);
/// - a writable `/tmp`: plugins cannot declare volumes
///   (`pkg/plugins/spec/plugin_types.go` `Sidecar`), so the sidecar's root
///   file system is writable and the image's `/tmp` is world-writable;
/// - `kubectl`: `images/plugin.Dockerfile` copies it into the image.
///
/// `psql` and `pg_restore` are not there: restore-db runs in its own pod.
pub const PLUGIN_PROVIDES: &[Need] = &[
    Need::ServiceAccountToken,
    Need::WritableTmp,
    Need::Tool("kubectl"),
];

/// True when the plugin's agent pod provides every need.
pub fn plugin_provides(needs: &[Need]) -> bool {
    needs.iter().all(|n| PLUGIN_PROVIDES.contains(n))
}

/// A task that clones a repository into `TMPDIR` and may read its token
/// through a `vault://` reference (Vault's kubernetes login).
pub const GIT: &[Need] = &[Need::WritableTmp, Need::ServiceAccountToken];

/// A task that may read a credential through a `vault://` reference.
pub const VAULT: &[Need] = &[Need::ServiceAccountToken];

/// patch-kustomize: a GitOps task that renders with `kubectl kustomize`
/// under `--verify-render`.
pub const PATCH_KUSTOMIZE: &[Need] = &[
    Need::WritableTmp,
    Need::ServiceAccountToken,
    Need::Tool("kubectl"),
];

/// wait-ready: reads an Application with the workflow's service account.
pub const KUBERNETES_API: &[Need] = &[Need::KubernetesApi];

/// restore-db: streams into `psql` or `pg_restore`, downloads a parallel
/// restore's dump to a temporary file, reads a `vault://` database URL.
pub const RESTORE_DB: &[Need] = &[
    Need::Tool("psql"),
    Need::Tool("pg_restore"),
    Need::WritableTmp,
    Need::ServiceAccountToken,
];
