//! `patch-kustomize`: edit the environment's overlay on its branch —
//! namespace, name suffix, labels, images, generator literals, replacement
//! sources — or render it from a tera template, and push the result.
//!
//! With no edit flag it sets what every sandbox needs: the namespace of the
//! environment and the image tags of `--images-from`. The application's CI
//! calls the same binary to bump one image (`--set-image shop:1.4.2`), so it
//! does one fetch, one commit and one push, and logs one line.

use crate::args::{
    self, AuthorArgs, BranchArgs, EnvArgs, ImagesFromArgs, OverlayArgs, Refusals, RepoArgs,
    RepoPlan, VaultArgs, VaultPlan,
};
use crate::gitops;
use crate::{Context, OutputSpec, Task};
use clap::Args;
use sandbox_core::params::{BranchName, Invalid, Namespace, Problems, RepoPath};
use sandbox_core::{Classify, Outputs, TaskError};
use sandbox_git::{Author, EditError, GitError, TreeEdit};
use sandbox_kustomize::{
    Edit, ImageEdit, KUSTOMIZATION_FILE_NAMES, Kustomization, KustomizeError, LabelEdit,
    LiteralEdit, ReplacementSourceEdit, TemplateContext,
    render::{self, RenderCheck},
};
use std::path::{Path, PathBuf};

/// Edit the environment's Kustomize overlay on its branch and push it.
#[derive(Debug, Clone, Default, Args)]
#[command(
    about = "Edit the environment's kustomization.yaml on its branch (format-preserving) and push it"
)]
pub struct Params {
    #[command(flatten)]
    #[allow(missing_docs)]
    pub env: EnvArgs,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub repo: RepoArgs,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub author: AuthorArgs,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub branch: BranchArgs,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub overlay: OverlayArgs,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub images_from: ImagesFromArgs,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub vault: VaultArgs,
    /// Set an image: NAME:TAG, NAME@DIGEST or NAME=NEW_NAME[:TAG][@DIGEST]; repeatable.
    #[arg(
        long = "set-image",
        id = "set_image",
        env = "SANDBOX_SET_IMAGE",
        value_name = "IMAGE",
        value_delimiter = ','
    )]
    pub set_image: Vec<String>,
    /// Set a generator literal: GENERATOR/KEY=VALUE; repeatable, or one
    /// per line in one value (a literal may hold commas).
    #[arg(
        long = "set-literal",
        id = "set_literal",
        env = "SANDBOX_SET_LITERAL",
        value_name = "GENERATOR/KEY=VALUE",
        value_delimiter = '\n'
    )]
    pub set_literal: Vec<String>,
    /// Set a field of the source of the replacements whose source is named
    /// SOURCE: SOURCE/FIELD=VALUE; repeatable, or one per line in one value.
    #[arg(
        long = "set-replacement-source",
        id = "set_replacement_source",
        env = "SANDBOX_SET_REPLACEMENT_SOURCE",
        value_name = "SOURCE/FIELD=VALUE",
        value_delimiter = '\n'
    )]
    pub set_replacement_source: Vec<String>,
    /// Set `nameSuffix`.
    #[arg(long, env = "SANDBOX_NAME_SUFFIX", value_name = "SUFFIX")]
    pub name_suffix: Option<String>,
    /// Set a label: KEY=VALUE; repeatable.
    #[arg(
        long = "label",
        id = "label",
        env = "SANDBOX_LABEL",
        value_name = "KEY=VALUE",
        value_delimiter = ','
    )]
    pub label: Vec<String>,
    /// Render the kustomization from this tera template (a path in the
    /// repository) before the other edits.
    #[arg(long, env = "SANDBOX_OVERLAY_TEMPLATE", value_name = "PATH")]
    pub overlay_template: Option<String>,
    /// Run `kubectl kustomize` on the result before pushing; an overlay
    /// that does not render is refused (exit 3).
    #[arg(long, env = "SANDBOX_VERIFY_RENDER")]
    pub verify_render: bool,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub kubectl: crate::args::KubectlArgs,
}

/// The task.
pub struct PatchKustomize;

/// A validated run.
#[derive(Debug, Clone)]
struct Plan {
    environment: String,
    namespace: Namespace,
    branch: BranchName,
    overlay: RepoPath,
    images_from: Option<RepoPath>,
    template: Option<RepoPath>,
    edits: Vec<Edit>,
    verify_render: bool,
    kubectl: PathBuf,
}

/// Validate every parameter (exit 2), then the guard rails (exit 5).
fn validate(params: &Params) -> Result<(Plan, RepoPlan, Author, VaultPlan), TaskError> {
    let mut problems = Problems::new();
    let env = params
        .env
        .validate(params.branch.branch.as_deref(), &mut problems);
    let name = env.as_ref().map(|e| &e.environment);
    let scope = params.vault.scope(&mut problems);
    let repo = params.repo.validate(true, name, &scope, &mut problems);
    let author = params.author.validate(&mut problems);
    let branch = params.branch.validate(&mut problems);
    let overlay = params.overlay.validate(true, &mut problems);
    let images_from = params.images_from.validate(&mut problems);
    let template = problems.parse_opt(
        "overlay_template",
        params.overlay_template.as_deref(),
        RepoPath::parse,
    );
    let name_suffix = problems.parse_opt(
        "name_suffix",
        params.name_suffix.as_deref(),
        parse_name_suffix,
    );
    let labels: Vec<LabelEdit> = params
        .label
        .iter()
        .filter_map(|l| problems.parse("label", l, LabelEdit::parse))
        .collect();
    let images: Vec<ImageEdit> = params
        .set_image
        .iter()
        .filter_map(|i| problems.parse("set_image", i, ImageEdit::parse))
        .collect();
    // A literal may be a secret's value: never echoed in a problem.
    let literals: Vec<LiteralEdit> = params
        .set_literal
        .iter()
        .filter_map(|l| problems.parse_secret("set_literal", l, LiteralEdit::parse))
        .collect();
    let replacements: Vec<ReplacementSourceEdit> = params
        .set_replacement_source
        .iter()
        .filter_map(|r| problems.parse("set_replacement_source", r, ReplacementSourceEdit::parse))
        .collect();
    let vault = params.vault.plan(
        scope,
        name,
        repo.iter().flat_map(RepoPlan::references),
        &mut problems,
    );
    let (Some(env), Some(repo), Some(author), Some(overlay_path), true) = (
        env,
        repo,
        author,
        overlay.overlay_path.clone(),
        problems.is_empty(),
    ) else {
        return Err(args::invalid(problems));
    };
    let branch = BranchArgs::resolve(branch, &env)?;
    let mut refusals = Refusals::new();
    overlay.refusals(&env, &mut refusals);
    refusals.finish()?;
    let own_namespace = Namespace::for_environment(&env.environment);
    let namespace = overlay.namespace;
    let overlay = overlay_path;

    // With no edit flag, what every sandbox needs: its namespace (the
    // images of --images-from are applied whenever it is given).
    let no_edit_flag = namespace.is_none()
        && name_suffix.is_none()
        && labels.is_empty()
        && images.is_empty()
        && literals.is_empty()
        && replacements.is_empty()
        && template.is_none();
    let mut edits = Vec::new();
    if let Some(ns) = namespace
        .clone()
        .or(no_edit_flag.then(|| own_namespace.clone()))
    {
        edits.push(Edit::Namespace(ns.to_string()));
    }
    if let Some(s) = &name_suffix {
        edits.push(Edit::NameSuffix(s.clone()));
    }
    edits.extend(labels.into_iter().map(Edit::Label));
    edits.extend(images.into_iter().map(Edit::Image));
    edits.extend(literals.into_iter().map(Edit::Literal));
    edits.extend(replacements.into_iter().map(Edit::ReplacementSource));
    let plan = Plan {
        environment: env.environment.to_string(),
        namespace: namespace.unwrap_or(own_namespace),
        branch,
        overlay,
        images_from,
        template,
        edits,
        verify_render: params.verify_render,
        kubectl: params.kubectl.kubectl.clone(),
    };
    Ok((plan, repo, author, vault))
}

impl Task for PatchKustomize {
    const NAME: &'static str = "patch-kustomize";
    const NEEDS: &'static [crate::Need] = crate::needs::PATCH_KUSTOMIZE;
    const OUTPUTS: &'static [OutputSpec] = &[
        OutputSpec {
            name: "commit",
            description: "The environment branch's commit after the edit.",
        },
        OutputSpec {
            name: "changed",
            description: "true when the edit changed the overlay, false when it was already so.",
        },
        OutputSpec {
            name: "overlay_path",
            description: "The overlay that was edited.",
        },
        OutputSpec {
            name: "diff",
            description: "The unified diff of the overlay (secret values masked; set on a dry run).",
        },
    ];
    type Params = Params;

    fn validate(params: &Params) -> Result<(), TaskError> {
        validate(params).map(drop)
    }

    #[tracing::instrument(name = "patch-kustomize", skip_all)]
    async fn run(params: Params, ctx: Context) -> Result<Outputs, TaskError> {
        let (plan, repo, author, vault) = validate(&params)?;
        let creds = vault.credentials(&ctx);
        let ws = repo.open(&creds, author).await?;
        let redactor = ctx.redactor.clone();
        let dry_run = ctx.dry_run;
        let (outcome, patched) = gitops::blocking(move || {
            if dry_run {
                let tip = ws.fetch(&plan.branch)?.unwrap_or_default();
                let patched = ws.read_branch(&plan.branch, |tree| {
                    let patched = patch(tree, &plan)?;
                    if plan.verify_render && patched.changed() {
                        verify_render(tree, Some((&patched.path, &patched.new)), &plan)?;
                    }
                    Ok(patched)
                })?;
                return Ok((
                    Outcome {
                        commit: tip,
                        pushed: false,
                    },
                    patched,
                ));
            }
            let mut last = None;
            let message = commit_message(&plan);
            let pushed = ws.commit_and_push(&plan.branch, &message, |tree| {
                let patched = patch(tree, &plan)?;
                if patched.changed() {
                    tree.write(&patched.path, patched.new.clone());
                    if plan.verify_render {
                        verify_render(tree, None, &plan)?;
                    }
                }
                last = Some(patched);
                Ok(())
            })?;
            let patched = last.ok_or_else(|| TaskError::internal("the edit never ran"))?;
            Ok((
                Outcome {
                    commit: pushed.commit().to_string(),
                    pushed: pushed.pushed(),
                },
                patched,
            ))
        })
        .await?;
        for secret in &patched.secrets {
            redactor.add(secret);
        }

        let mut out = Outputs::new();
        out.set("commit", &outcome.commit)
            .set("changed", patched.changed())
            .set("overlay_path", &patched.overlay);
        if dry_run {
            let diff = redactor.mask(&sandbox_kustomize::unified_diff(
                &patched.path,
                &patched.old,
                &patched.new,
            ));
            tracing::info!(path = %patched.path, changed = patched.changed(), "dry run: nothing pushed\n{diff}");
            out.set("diff", diff);
        } else {
            tracing::info!(
                path = %patched.path,
                commit = %outcome.commit,
                pushed = outcome.pushed,
                "{}",
                if outcome.pushed { "overlay patched and pushed" } else { "overlay already up to date" }
            );
        }
        Ok(out)
    }
}

struct Outcome {
    commit: String,
    pushed: bool,
}

/// The overlay file before and after.
#[derive(Debug, Clone)]
struct Patched {
    /// The overlay directory.
    overlay: String,
    /// The kustomization file's path in the repository.
    path: String,
    old: String,
    new: String,
    /// Values written into a secretGenerator, masked in what is printed.
    secrets: Vec<String>,
}

impl Patched {
    fn changed(&self) -> bool {
        self.old != self.new
    }
}

/// Compute the new overlay file from the branch's tree.
fn patch(tree: &TreeEdit<'_>, plan: &Plan) -> Result<Patched, EditError> {
    let overlay = plan.overlay.as_str();
    let existing = find_kustomization(tree, overlay)?;
    let images = match &plan.images_from {
        Some(from) => {
            let Some((path, text)) = find_kustomization(tree, from.as_str())? else {
                return Err(EditError::precondition(format!(
                    "images_from: {from} has no kustomization.yaml on branch {}",
                    plan.branch
                )));
            };
            Kustomization::parse(&text)
                .and_then(|k| k.images())
                .map_err(|e| in_file(&path, e))?
        }
        None => Vec::new(),
    };
    let (path, old, mut text) = match (&plan.template, existing) {
        (Some(template), existing) => {
            let source = tree.read_string(template.as_str())?.ok_or_else(|| {
                EditError::precondition(format!(
                    "template {template} is not on branch {}",
                    plan.branch
                ))
            })?;
            let ctx = TemplateContext {
                environment: plan.environment.clone(),
                namespace: plan.namespace.to_string(),
                branch: plan.branch.to_string(),
                overlay_path: overlay.to_string(),
                labels: plan
                    .edits
                    .iter()
                    .filter_map(|e| match e {
                        Edit::Label(l) => Some((l.key.clone(), l.value.clone())),
                        _ => None,
                    })
                    .collect(),
                name_suffix: plan.edits.iter().find_map(|e| match e {
                    Edit::NameSuffix(s) => Some(s.clone()),
                    _ => None,
                }),
                ..TemplateContext::default()
            }
            .with_images(images.clone());
            let rendered = sandbox_kustomize::render_template(template.as_str(), &source, &ctx)
                .map_err(|e| in_file(template.as_str(), e))?;
            let (path, old) = existing.unwrap_or_else(|| {
                (
                    format!("{overlay}/{}", KUSTOMIZATION_FILE_NAMES[0]),
                    String::new(),
                )
            });
            (path, old, rendered)
        }
        (None, Some((path, old))) => {
            let text = old.clone();
            (path, old, text)
        }
        (None, None) => {
            return Err(EditError::precondition(format!(
                "overlay {overlay} has no kustomization.yaml on branch {}",
                plan.branch
            )));
        }
    };
    let mut edits: Vec<Edit> = images
        .iter()
        .filter_map(|i| i.to_edit().map(Edit::Image))
        .collect();
    edits.extend(plan.edits.iter().cloned());
    let mut k = Kustomization::parse(&text).map_err(|e| in_file(&path, e))?;
    for e in &edits {
        k.apply(e).map_err(|e| in_file(&path, e))?;
    }
    let secret_generators = k.secret_generators();
    text = k.to_string();
    let secrets = plan
        .edits
        .iter()
        .filter_map(|e| match e {
            Edit::Literal(l) if secret_generators.contains(&l.generator) => Some(l.value.clone()),
            _ => None,
        })
        .collect();
    Ok(Patched {
        overlay: overlay.to_string(),
        path,
        old,
        new: text,
        secrets,
    })
}

/// The kustomization file of `dir` in the tree, under any name Kustomize
/// accepts: its path and text.
fn find_kustomization(
    tree: &TreeEdit<'_>,
    dir: &str,
) -> Result<Option<(String, String)>, EditError> {
    for name in KUSTOMIZATION_FILE_NAMES {
        let path = format!("{dir}/{name}");
        if let Some(text) = tree.read_string(&path)? {
            return Ok(Some((path, text)));
        }
    }
    Ok(None)
}

/// The branch being edited, as the render check reads it.
struct Branch<'a, 'r>(&'a TreeEdit<'r>);

impl render::Tree for Branch<'_, '_> {
    type Error = GitError;
    fn read(&self, path: &str) -> Result<Option<Vec<u8>>, GitError> {
        self.0.read(path)
    }
    fn list(&self, dir: &str) -> Result<Vec<String>, GitError> {
        self.0.list(dir)
    }
    fn materialize(&self, dir: &Path) -> Result<(), GitError> {
        self.0.materialize(dir)
    }
}

/// Render the edited overlay with `kubectl kustomize` (with `overlay_file`
/// written over the tree, when given); an overlay that does not render,
/// or needs a helm that is not there, is a precondition error.
fn verify_render(
    tree: &TreeEdit<'_>,
    overlay_file: Option<(&str, &str)>,
    plan: &Plan,
) -> Result<(), EditError> {
    RenderCheck::new(&plan.kubectl)
        .verify(&Branch(tree), plan.overlay.as_str(), overlay_file)
        .map_err(|e| {
            let error = EditError::new(e.kind(), e.to_string());
            match std::error::Error::source(&e) {
                Some(cause) => error.with_source(cause.to_string()),
                None => error,
            }
        })
}

/// The commit message: what changed, never a literal's value.
fn commit_message(plan: &Plan) -> String {
    let mut lines = vec![format!(
        "{}: patch {}/kustomization",
        plan.environment, plan.overlay
    )];
    lines.push(String::new());
    if let Some(t) = &plan.template {
        lines.push(format!("- rendered from {t}"));
    }
    if let Some(from) = &plan.images_from {
        lines.push(format!("- images from {from}"));
    }
    for e in &plan.edits {
        lines.push(match e {
            Edit::Namespace(ns) => format!("- namespace {ns}"),
            Edit::NameSuffix(s) => format!("- nameSuffix {s}"),
            Edit::Label(l) => format!("- label {}={}", l.key, l.value),
            Edit::Image(i) => format!("- image {i}"),
            Edit::Literal(l) => format!("- literal {}/{}", l.generator, l.key),
            Edit::ReplacementSource(r) => format!("- replacement source {}/{}", r.source, r.field),
        });
    }
    lines.join("\n")
}

/// A name suffix keeps every resource name a DNS-1123 name: lowercase
/// letters, digits and '-', at most 63 characters.
fn parse_name_suffix(s: &str) -> Result<String, Invalid> {
    let ok = !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.ends_with('-');
    if ok {
        Ok(s.to_string())
    } else {
        Err(Invalid::one(
            "name-suffix",
            "name suffix must be 1-63 lowercase letters, digits or '-', not ending with '-'",
            "give e.g. -pr-42",
        ))
    }
}

/// A kustomization error, naming the file it is about.
fn in_file(path: &str, e: KustomizeError) -> EditError {
    let mut causes = Vec::new();
    let mut next = std::error::Error::source(&e);
    while let Some(cause) = next {
        causes.push(cause.to_string());
        next = cause.source();
    }
    let error = EditError::new(e.kind(), format!("{path}: {e}"));
    if causes.is_empty() {
        error
    } else {
        error.with_source(causes.join(": "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_suffixes_keep_names_dns_labels() {
        assert!(parse_name_suffix("-pr-42").is_ok());
        for bad in ["", "-PR", "-x_y", "-x-", &"a".repeat(64)] {
            assert!(parse_name_suffix(bad).is_err(), "{bad:?}");
        }
    }
}
