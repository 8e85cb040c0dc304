//! The render check with the real `kubectl kustomize`, over overlays
//! written to a directory.

use sandbox_core::{Classify, ErrorKind};
use sandbox_kustomize::render::{RenderCheck, RenderError, Tree};
use std::path::{Path, PathBuf};

/// A directory standing in for the branch's tree.
struct Dir(PathBuf);

/// A directory read never fails here.
#[derive(Debug)]
struct Unreadable;

impl std::fmt::Display for Unreadable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("unreadable")
    }
}

impl std::error::Error for Unreadable {}

impl Classify for Unreadable {
    fn kind(&self) -> ErrorKind {
        ErrorKind::Internal
    }
}

impl Tree for Dir {
    type Error = Unreadable;
    fn read(&self, path: &str) -> Result<Option<Vec<u8>>, Self::Error> {
        Ok(std::fs::read(self.0.join(path)).ok())
    }
    fn list(&self, dir: &str) -> Result<Vec<String>, Self::Error> {
        let mut names: Vec<String> = std::fs::read_dir(self.0.join(dir))
            .into_iter()
            .flatten()
            .flatten()
            .filter(|e| e.path().is_file())
            .filter_map(|e| e.file_name().into_string().ok())
            .collect();
        names.sort();
        Ok(names)
    }
    fn materialize(&self, dir: &Path) -> Result<(), Self::Error> {
        copy_dir(&self.0, dir);
        Ok(())
    }
}

fn copy_dir(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).unwrap().flatten() {
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            std::fs::create_dir_all(&target).unwrap();
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::write(&target, std::fs::read(entry.path()).unwrap()).unwrap();
        }
    }
}

fn tree(files: &[(&str, &str)]) -> (tempfile::TempDir, Dir) {
    let dir = tempfile::tempdir().unwrap();
    for (path, text) in files {
        let file = dir.path().join(path);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(file, text).unwrap();
    }
    let root = dir.path().to_path_buf();
    (dir, Dir(root))
}

const DEPLOYMENT: &str = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: shop\nspec:\n  template:\n    spec:\n      containers:\n        - name: shop\n          image: shop:1.0\n";

fn kubectl() -> RenderCheck {
    RenderCheck {
        helm: None,
        ..RenderCheck::new("kubectl")
    }
}

#[test]
fn an_overlay_that_builds_passes_and_one_that_does_not_is_refused() {
    let (_dir, tree) = tree(&[
        (
            "base/kustomization.yaml",
            "resources:\n  - deployment.yaml\n",
        ),
        ("base/deployment.yaml", DEPLOYMENT),
        (
            "overlays/sbx/kustomization.yaml",
            "resources:\n  - ../../base\nnamespace: apps-sbx-pr-1\n",
        ),
    ]);
    kubectl().verify(&tree, "overlays/sbx", None).unwrap();

    let broken = "resources:\n  - ../../base\n  - missing.yaml\n";
    let err = kubectl()
        .verify(
            &tree,
            "overlays/sbx",
            Some(("overlays/sbx/kustomization.yaml", broken)),
        )
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Precondition);
    let text = err.to_string();
    assert!(
        matches!(err, RenderError::DoesNotRender { .. })
            && text.contains("nothing pushed")
            && text.contains("missing.yaml"),
        "{text}"
    );
}

/// Regression: `--verify-render` could never pass an overlay with
/// `helmCharts` (kubectl renders charts only with `--enable-helm`:
/// kustomize `api/internal/builtins/HelmChartInflationGenerator.go`,
/// `Config`). Without helm it is refused naming helm. Issue 12, "Real
/// repositories".
#[test]
fn charts_without_helm_are_refused_naming_helm() {
    let (_dir, tree) = tree(&[
        (
            "base/kustomization.yaml",
            "helmCharts:\n  - name: podinfo\n    version: 6.0.0\n    releaseName: podinfo\n",
        ),
        (
            "overlays/sbx/kustomization.yaml",
            "resources:\n  - ../../base\nnamespace: apps-sbx-pr-1\n",
        ),
    ]);
    let err = kubectl().verify(&tree, "overlays/sbx", None).unwrap_err();
    assert!(
        matches!(
            err,
            RenderError::NeedsHelm {
                key: "helmCharts",
                ..
            }
        ),
        "refused before kubectl runs: {err}"
    );
    assert_eq!(err.kind(), ErrorKind::Precondition, "exit 3");
    let text = err.to_string();
    assert!(
        text.contains("helm")
            && text.contains("base/kustomization.yaml")
            && text.contains("helmCharts")
            && text.contains("nothing pushed"),
        "{text}"
    );

    // The legacy key needs helm just the same.
    let legacy = "helmChartInflationGenerator:\n  - chartName: podinfo\n";
    let err = kubectl()
        .verify(
            &tree,
            "overlays/sbx",
            Some(("overlays/sbx/kustomization.yaml", legacy)),
        )
        .unwrap_err();
    assert!(
        matches!(
            err,
            RenderError::NeedsHelm {
                key: "helmChartInflationGenerator",
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn a_missing_kubectl_is_named() {
    let (_dir, tree) = tree(&[("o/kustomization.yaml", "namespace: x\n")]);
    let check = RenderCheck {
        helm: None,
        ..RenderCheck::new("/nonexistent/kubectl")
    };
    let err = check.verify(&tree, "o", None).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Precondition);
    assert!(err.to_string().contains("/nonexistent/kubectl"), "{err}");
}
