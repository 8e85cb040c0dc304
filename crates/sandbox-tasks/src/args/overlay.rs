//! The environment's Kustomize overlay and the namespace it deploys to.

use super::{EnvPlan, Refusals};
use clap::Args;
use sandbox_core::params::{Namespace, Problems, RepoPath};

/// The overlay and its namespace.
#[derive(Debug, Clone, Default, Args)]
pub struct OverlayArgs {
    /// The environment's Kustomize overlay, relative to the repository root.
    #[arg(long, env = "SANDBOX_OVERLAY_PATH", value_name = "PATH")]
    pub overlay_path: Option<String>,
    /// The environment's namespace [default: apps-<environment>].
    #[arg(long, env = "SANDBOX_NAMESPACE", value_name = "NAME")]
    pub namespace: Option<String>,
}

/// [`OverlayArgs`], validated.
#[derive(Debug, Clone, Default)]
pub struct OverlayPlan {
    /// The overlay, when given.
    pub overlay_path: Option<RepoPath>,
    /// The namespace, when given.
    pub namespace: Option<Namespace>,
}

impl OverlayArgs {
    /// Validate; `overlay_path` is a problem when missing only if `required`.
    pub fn validate(&self, required: bool, problems: &mut Problems) -> OverlayPlan {
        if required && self.overlay_path.is_none() {
            problems.missing(
                "overlay_path",
                "pass --overlay-path PATH, e.g. overlays/sandbox",
            );
        }
        OverlayPlan {
            overlay_path: problems.parse_opt(
                "overlay_path",
                self.overlay_path.as_deref(),
                RepoPath::parse,
            ),
            namespace: problems.parse_opt("namespace", self.namespace.as_deref(), Namespace::parse),
        }
    }
}

impl OverlayPlan {
    /// The namespace given, or the environment's own.
    pub fn namespace_for(&self, env: &EnvPlan) -> Namespace {
        self.namespace
            .clone()
            .unwrap_or_else(|| Namespace::for_environment(&env.environment))
    }

    /// A given namespace must be the environment's.
    pub fn refusals(&self, env: &EnvPlan, refusals: &mut Refusals) {
        if let Some(ns) = &self.namespace {
            refusals.check(
                "namespace",
                ns.as_str(),
                env.policy.check_namespace(ns, &env.environment),
            );
        }
    }
}

/// Where a new sandbox's image tags come from.
#[derive(Debug, Clone, Default, Args)]
pub struct ImagesFromArgs {
    /// Overlay whose images (new name, tag, digest) a new sandbox starts with.
    #[arg(long, env = "SANDBOX_IMAGES_FROM", value_name = "PATH")]
    pub images_from: Option<String>,
}

impl ImagesFromArgs {
    /// The overlay, validated (`None` when not given).
    pub fn validate(&self, problems: &mut Problems) -> Option<RepoPath> {
        problems.parse_opt("images_from", self.images_from.as_deref(), RepoPath::parse)
    }
}
