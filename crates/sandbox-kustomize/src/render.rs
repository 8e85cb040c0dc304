//! The render check: does an overlay still build with `kubectl kustomize`
//! after an edit? Run before anything is pushed, so a broken overlay never
//! reaches the environment's branch.
//!
//! The overlay's files come from a [`Tree`] (a git branch being edited, in
//! `patch-kustomize`). Writing out a 5,000-file tree costs seconds, so the
//! first try writes only what the overlay can reach: the files of each
//! kustomization's directory and every path its values name, following
//! directories. A failure there is confirmed with the whole tree before
//! refusing, so a reference this walk cannot see never refuses a good
//! overlay.
//!
//! An overlay (or a base it reaches) with `helmCharts` or
//! `helmChartInflationGenerator` builds only with `--enable-helm` and a
//! `helm` v3 or v4 (kustomize `api/internal/builtins/HelmChartInflationGenerator.go`,
//! `Config`: "must specify --enable-helm", and `checkHelmVersion`); the
//! flags are kustomize's `kustomize/commands/build/flagenablehelm.go`
//! (`--enable-helm`, `--helm-command`). Such an overlay renders with helm
//! when one is on `PATH`, and is refused naming helm when none is. Charts
//! may live anywhere under the overlay (`chartHome`), so it renders from
//! the whole tree.

use crate::KUSTOMIZATION_FILE_NAMES;
use sandbox_core::{Classify, ErrorKind};
use serde::Deserialize;
use std::collections::BTreeSet;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How long `kubectl kustomize` may take: a local render takes ~0.1 s; a
/// remote base or a chart repository can hang on the network.
pub const RENDER_TIMEOUT: Duration = Duration::from_secs(120);

/// Keys of a kustomization that inflate Helm charts.
pub const HELM_KEYS: [&str; 2] = ["helmCharts", "helmChartInflationGenerator"];

/// The files an overlay is rendered from, by `/`-separated path from the
/// repository root.
pub trait Tree {
    /// Why the tree could not be read.
    type Error: std::error::Error + Classify + Send + Sync + 'static;
    /// A file's bytes, or None when there is no such file.
    fn read(&self, path: &str) -> Result<Option<Vec<u8>>, Self::Error>;
    /// The names of the files directly in `dir` (not subdirectories).
    fn list(&self, dir: &str) -> Result<Vec<String>, Self::Error>;
    /// Write every file of the tree under `dir`.
    fn materialize(&self, dir: &Path) -> Result<(), Self::Error>;
}

/// Why an overlay did not pass the render check.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// The tree could not be read.
    #[error("cannot read the files to render")]
    Tree {
        /// The tree error's kind.
        kind: ErrorKind,
        /// The tree error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The scratch copy could not be written.
    #[error("cannot write the tree to render")]
    Io(#[source] std::io::Error),
    /// kubectl could not be started.
    #[error("--verify-render: cannot run {} (install kubectl or pass --kubectl)", .program.display())]
    Spawn {
        /// The kubectl asked for.
        program: PathBuf,
        /// Why it did not start.
        #[source]
        source: std::io::Error,
    },
    /// The overlay inflates Helm charts and no helm is on `PATH`.
    #[error(
        "the patched overlay {overlay} inflates Helm charts ({key} in {file}), and rendering it needs helm, which is not on PATH; nothing pushed: install helm (v3 or v4) or leave out --verify-render"
    )]
    NeedsHelm {
        /// The overlay.
        overlay: String,
        /// The kustomization file naming the charts.
        file: String,
        /// The key naming them.
        key: &'static str,
    },
    /// kubectl refused the overlay.
    #[error("the patched overlay {overlay} does not render; nothing pushed: {message}")]
    DoesNotRender {
        /// The overlay.
        overlay: String,
        /// kubectl's error output, the scratch directory cut out.
        message: String,
    },
}

impl Classify for RenderError {
    fn kind(&self) -> ErrorKind {
        match self {
            RenderError::Tree { kind, .. } => *kind,
            _ => ErrorKind::Precondition,
        }
    }
}

fn tree_error<E: std::error::Error + Classify + Send + Sync + 'static>(e: E) -> RenderError {
    RenderError::Tree {
        kind: e.kind(),
        source: Box::new(e),
    }
}

/// How to render: the kubectl to run, and the helm it may use.
#[derive(Debug, Clone)]
pub struct RenderCheck {
    /// `kubectl` (or a path to it).
    pub kubectl: PathBuf,
    /// The helm passed as `--helm-command` to overlays with charts; None
    /// refuses them.
    pub helm: Option<PathBuf>,
    /// Most time one render may take.
    pub timeout: Duration,
}

impl RenderCheck {
    /// A check with `kubectl` and the `helm` on `PATH`, if any.
    pub fn new(kubectl: impl Into<PathBuf>) -> Self {
        RenderCheck {
            kubectl: kubectl.into(),
            helm: find_on_path("helm"),
            timeout: RENDER_TIMEOUT,
        }
    }

    /// The arguments of `kubectl` to render the overlay at `dir`, with
    /// Helm when `helm` is given.
    pub fn args(dir: &Path, helm: Option<&Path>) -> Vec<OsString> {
        let mut args: Vec<OsString> = vec!["kustomize".into()];
        if let Some(helm) = helm {
            args.push("--enable-helm".into());
            args.push("--helm-command".into());
            args.push(helm.into());
        }
        args.push(dir.into());
        args
    }

    /// Check that `overlay` renders from `tree`, with `overlay_file`
    /// (path, text) written over the tree when given.
    pub fn verify<T: Tree>(
        &self,
        tree: &T,
        overlay: &str,
        overlay_file: Option<(&str, &str)>,
    ) -> Result<(), RenderError> {
        let started = Instant::now();
        let whole_tree = |dir: &Path| -> Result<(), RenderError> {
            tree.materialize(dir).map_err(tree_error)?;
            if let Some((path, text)) = overlay_file {
                write_file(dir, path, text.as_bytes())?;
            }
            Ok(())
        };
        let mut charts = None;
        let quick = self.render_in(overlay, None, |dir| {
            charts = write_reachable(tree, overlay, overlay_file, dir)?;
            Ok(charts.is_none())
        })?;
        if let Some((file, key)) = charts {
            let Some(helm) = &self.helm else {
                return Err(RenderError::NeedsHelm {
                    overlay: overlay.to_string(),
                    file,
                    key,
                });
            };
            tracing::debug!(%file, helm = %helm.display(), "the overlay inflates Helm charts; rendering the whole tree with helm");
            return self
                .render_in(overlay, Some(helm), |dir| whole_tree(dir).map(|()| true))?
                .map_err(|message| does_not_render(overlay, message));
        }
        let Err(_) = quick else {
            tracing::debug!(
                overlay,
                ms = started.elapsed().as_millis() as u64,
                "overlay renders"
            );
            return Ok(());
        };
        tracing::debug!(
            "the overlay does not render from the files it names; trying the whole tree"
        );
        self.render_in(overlay, None, |dir| whole_tree(dir).map(|()| true))?
            .map_err(|message| does_not_render(overlay, message))
    }

    /// Fill a scratch directory with `fill` and, when it says so, run
    /// `kubectl kustomize` on the overlay in it: `Ok(Err(message))` when it
    /// does not render (or was not run).
    fn render_in(
        &self,
        overlay: &str,
        helm: Option<&Path>,
        fill: impl FnOnce(&Path) -> Result<bool, RenderError>,
    ) -> Result<Result<(), String>, RenderError> {
        let dir = tempfile::Builder::new()
            .prefix("sandbox-render-")
            .tempdir()
            .map_err(RenderError::Io)?;
        let tree_dir = dir.path().join("tree");
        std::fs::create_dir(&tree_dir).map_err(RenderError::Io)?;
        if !fill(&tree_dir)? {
            return Ok(Err("not rendered".into()));
        }
        // kubectl's errors go to a file: a pipe nobody reads while waiting
        // would stall a chatty kubectl.
        let stderr_path = dir.path().join("stderr");
        let stderr = std::fs::File::create(&stderr_path).map_err(RenderError::Io)?;
        let started = Instant::now();
        let mut child = Command::new(&self.kubectl)
            .args(Self::args(&tree_dir.join(overlay), helm))
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .map_err(|source| RenderError::Spawn {
                program: self.kubectl.clone(),
                source,
            })?;
        // Bounded by the timeout; kubectl cannot be awaited with one.
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) if started.elapsed() < self.timeout => {
                    std::thread::sleep(Duration::from_millis(5));
                }
                Ok(None) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Ok(Err(format!(
                        "kubectl kustomize did not finish in {}s",
                        self.timeout.as_secs()
                    )));
                }
                Err(e) => return Err(RenderError::Io(e)),
            }
        };
        if status.success() {
            return Ok(Ok(()));
        }
        let message = std::fs::read_to_string(&stderr_path).unwrap_or_default();
        let message = message.replace(&format!("{}/", tree_dir.display()), "");
        Ok(Err(message.trim().chars().take(2000).collect()))
    }
}

fn does_not_render(overlay: &str, message: String) -> RenderError {
    RenderError::DoesNotRender {
        overlay: overlay.to_string(),
        message,
    }
}

/// The first file named `name` in a directory of `PATH`.
pub fn find_on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

/// Write what the kustomization in `overlay` can reach: the files directly
/// in each directory, every file a value of its kustomization names (also
/// the `path` of `KEY=path`), and, recursively, every directory one names.
/// Returns the first kustomization file that inflates Helm charts, and its
/// key. A reference this walk cannot see is missing from `out`: render
/// from the whole tree ([`Tree::materialize`]) when this one fails.
pub fn write_reachable<T: Tree>(
    tree: &T,
    overlay: &str,
    overlay_file: Option<(&str, &str)>,
    out: &Path,
) -> Result<Option<(String, &'static str)>, RenderError> {
    let mut dirs = vec![overlay.to_string()];
    let mut seen = BTreeSet::new();
    let mut written = BTreeSet::new();
    let mut charts = None;
    let read = |path: &str| -> Result<Option<Vec<u8>>, RenderError> {
        match overlay_file {
            Some((p, text)) if p == path => Ok(Some(text.as_bytes().to_vec())),
            _ => tree.read(path).map_err(tree_error),
        }
    };
    // Bounded: each directory is visited once, and the tree is finite.
    while let Some(dir) = dirs.pop() {
        if !seen.insert(dir.clone()) {
            continue;
        }
        let mut names = tree.list(&dir).map_err(tree_error)?;
        if let Some((p, _)) = overlay_file
            && let Some(name) = p.strip_prefix(&format!("{dir}/"))
            && !name.contains('/')
            && !names.iter().any(|n| n == name)
        {
            names.push(name.to_string());
        }
        let mut references = Vec::new();
        for name in names {
            let path = format!("{dir}/{name}");
            let Some(bytes) = read(&path)? else { continue };
            if KUSTOMIZATION_FILE_NAMES.contains(&name.as_str()) {
                let text = String::from_utf8_lossy(&bytes);
                for doc in yaml_serde::Deserializer::from_str(&text) {
                    if let Ok(value) = serde_json::Value::deserialize(doc) {
                        if charts.is_none()
                            && let Some(key) = helm_key(&value)
                        {
                            charts = Some((path.clone(), key));
                        }
                        strings_in(&value, &mut references);
                    }
                }
            }
            if written.insert(path.clone()) {
                write_file(out, &path, &bytes)?;
            }
        }
        for reference in references {
            let candidates = [
                Some(reference.as_str()),
                reference.split_once('=').map(|(_, p)| p),
            ];
            for candidate in candidates.into_iter().flatten() {
                let Some(path) = join_in_repo(&dir, candidate) else {
                    continue;
                };
                if let Some(bytes) = read(&path)? {
                    if written.insert(path.clone()) {
                        write_file(out, &path, &bytes)?;
                    }
                } else if !seen.contains(&path) && !tree.list(&path).map_err(tree_error)?.is_empty()
                {
                    dirs.push(path);
                }
            }
        }
    }
    Ok(charts)
}

/// The key of a kustomization that inflates Helm charts, if it has a
/// non-empty one.
pub fn helm_key(kustomization: &serde_json::Value) -> Option<&'static str> {
    HELM_KEYS.into_iter().find(|key| {
        kustomization
            .get(*key)
            .is_some_and(|v| v.as_array().is_none_or(|a| !a.is_empty()) && !v.is_null())
    })
}

/// Every string in a YAML value that could be a relative path.
fn strings_in(value: &serde_json::Value, out: &mut Vec<String>) {
    match value {
        serde_json::Value::String(s)
            if !s.contains("://") && !s.contains('\n') && !s.is_empty() =>
        {
            out.push(s.clone());
        }
        serde_json::Value::Array(items) => items.iter().for_each(|v| strings_in(v, out)),
        serde_json::Value::Object(map) => map.values().for_each(|v| strings_in(v, out)),
        _ => {}
    }
}

/// `dir/relative` normalized, when it stays inside the repository.
pub fn join_in_repo(dir: &str, relative: &str) -> Option<String> {
    if relative.starts_with('/') {
        return None;
    }
    let mut parts: Vec<&str> = dir.split('/').filter(|p| !p.is_empty()).collect();
    for part in relative.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            p => parts.push(p),
        }
    }
    (!parts.is_empty()).then(|| parts.join("/"))
}

fn write_file(root: &Path, path: &str, bytes: &[u8]) -> Result<(), RenderError> {
    let file = root.join(path);
    if let Some(parent) = file.parent() {
        std::fs::create_dir_all(parent).map_err(RenderError::Io)?;
    }
    std::fs::write(file, bytes).map_err(RenderError::Io)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_resolve_inside_the_repository_only() {
        assert_eq!(
            join_in_repo("overlays/sbx", "../../base").as_deref(),
            Some("base")
        );
        assert_eq!(
            join_in_repo("overlays/sbx", "./patches/a.yaml").as_deref(),
            Some("overlays/sbx/patches/a.yaml")
        );
        assert_eq!(join_in_repo("overlays/sbx", "../../../etc"), None);
        assert_eq!(join_in_repo("overlays/sbx", "/etc/passwd"), None);
        assert_eq!(join_in_repo("overlays", ".."), None);
    }

    #[test]
    fn helm_is_asked_for_only_when_a_chart_is_named() {
        let json = |s: &str| serde_json::from_str::<serde_json::Value>(s).unwrap();
        assert_eq!(
            helm_key(&json(r#"{"helmCharts":[{"name":"x"}]}"#)),
            Some("helmCharts")
        );
        assert_eq!(
            helm_key(&json(
                r#"{"helmChartInflationGenerator":[{"chartName":"x"}]}"#
            )),
            Some("helmChartInflationGenerator")
        );
        assert_eq!(helm_key(&json(r#"{"helmCharts":[]}"#)), None);
        assert_eq!(helm_key(&json(r#"{"helmCharts":null}"#)), None);
        assert_eq!(helm_key(&json(r#"{"resources":["a.yaml"]}"#)), None);
    }

    #[test]
    fn helm_flags_come_before_the_directory() {
        let args = RenderCheck::args(Path::new("/t/overlay"), Some(Path::new("/opt/helm")));
        assert_eq!(
            args,
            [
                "kustomize",
                "--enable-helm",
                "--helm-command",
                "/opt/helm",
                "/t/overlay"
            ]
            .map(OsString::from)
        );
        assert_eq!(
            RenderCheck::args(Path::new("/t/overlay"), None),
            ["kustomize", "/t/overlay"].map(OsString::from)
        );
    }
}
