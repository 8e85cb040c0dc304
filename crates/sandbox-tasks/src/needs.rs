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
}
