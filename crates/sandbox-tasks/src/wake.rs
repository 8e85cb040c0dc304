//! `wake`: undo `hibernate`. Each hibernated sandbox's Application file gets
//! back exactly the `spec.source.kustomize` it had (the override kept in
//! `argo-sandbox.io/hibernated-overrides`), and loses the hibernation
//! annotations; Argo CD then scales the workloads back up. A sandbox that
//! is not hibernated is left as it is, so waking twice changes nothing.
//!
//! Which sandboxes: one (`pr_number`/`environment`) or every one under
//! `apps_path`; with `--forge github`, sandboxes whose pull request is no
//! longer open stay asleep (the reaper deletes them). One commit for all,
//! pushed with fetch-reapply-retry.

use crate::fleet::{
    FleetArgs, Scope, Select, Skipped, edit_error, edit_failed, open_pulls, push_all, sandbox_pr,
    tell_prs, to_json, utc,
};
use crate::gitops::{self, ACTION};
use crate::{Context, OutputSpec, Task};
use clap::Args;
use sandbox_core::{Outputs, TaskError};
use sandbox_kustomize::application::{AppInfo, HIBERNATED_AT, wake};
use serde::Serialize;

/// Wake hibernated sandboxes: restore their Applications' replica overrides.
#[derive(Debug, Clone, Default, Args)]
#[command(
    about = "Wake hibernated sandboxes: restore their Argo CD Applications' replica overrides"
)]
pub struct Params {
    #[command(flatten)]
    #[allow(missing_docs)]
    pub fleet: FleetArgs,
}

fn scope(p: &Params) -> Result<Scope, TaskError> {
    p.fleet.validate(|_| {})
}

/// One entry of the `woken` output.
#[derive(Debug, Clone, Serialize)]
pub struct Woken {
    /// The sandbox.
    pub environment: String,
    /// Its Application file.
    pub app_file: String,
    /// When it had been put to sleep.
    pub hibernated_at: String,
}

/// The task.
pub struct Wake;

impl Task for Wake {
    const NAME: &'static str = "wake";
    const NEEDS: &'static [crate::Need] = crate::needs::GIT;
    const OUTPUTS: &'static [OutputSpec] = &[
        OutputSpec {
            name: "woken",
            description: "JSON array of the sandboxes woken: {\"environment\",\"app_file\",\"hibernated_at\"}.",
        },
        OutputSpec {
            name: "skipped",
            description: "JSON array of the sandboxes left as they are: {\"environment\",\"reason\": not-hibernated|pr-closed|not-registered|not-an-application,\"detail\"}.",
        },
        OutputSpec {
            name: "count",
            description: "How many sandboxes were woken (would be, on a dry run).",
        },
        OutputSpec {
            name: "comments",
            description: "How many pull requests' sticky comments now say the sandbox is awake (with --forge github).",
        },
        OutputSpec {
            name: "commit",
            description: "The commit on the apps branch (empty on a dry run or when nothing changed).",
        },
        OutputSpec {
            name: "action",
            description: "What happened: pushed, unchanged or planned (dry run).",
        },
    ];
    type Params = Params;

    fn validate(params: &Params) -> Result<(), TaskError> {
        scope(params).map(drop)
    }

    #[tracing::instrument(name = "wake", skip_all)]
    async fn run(params: Params, ctx: Context) -> Result<Outputs, TaskError> {
        let scope = scope(&params)?;
        let creds = scope.vault.credentials(&ctx);
        let ws = scope.repo.open(&creds, scope.author.clone()).await?;
        let (ws, apps) = {
            let select = Select::of(&scope);
            gitops::blocking(move || {
                let apps = select.read(&ws)?;
                Ok((ws, apps))
            })
            .await?
        };
        // One listing of the open pull requests for the whole run, and
        // none when there is nothing to decide.
        let pulls = if apps.is_empty() {
            None
        } else {
            open_pulls(&scope, &ctx).await?
        };
        let mut skipped = Vec::new();
        let mut woken = Vec::new();
        let mut files = Vec::new();
        for app in &apps {
            let skip = |reason, detail: Option<String>| Skipped {
                environment: app.environment.to_string(),
                reason,
                detail,
            };
            let info = match AppInfo::parse(&app.text) {
                Ok(i) => i,
                Err(e) => {
                    skipped.push(skip("not-an-application", Some(e)));
                    continue;
                }
            };
            if !info.hibernated {
                skipped.push(skip("not-hibernated", None));
                continue;
            }
            if let Some(pulls) = &pulls
                && let Some(pr) = sandbox_pr(&scope.policy, app.environment.as_str())
                && !pulls.contains_key(&u64::from(pr.get()))
            {
                skipped.push(skip("pr-closed", None));
                continue;
            }
            // Checked before anything is pushed.
            wake(&app.text).map_err(|e| edit_failed(edit_error(&app.file, e)))?;
            let hibernated_at = yaml_serde::from_str::<serde_json::Value>(&app.text)
                .ok()
                .and_then(|v| {
                    v["metadata"]["annotations"][HIBERNATED_AT]
                        .as_str()
                        .map(str::to_string)
                })
                .unwrap_or_default();
            woken.push(Woken {
                environment: app.environment.to_string(),
                app_file: app.file.clone(),
                hibernated_at,
            });
            files.push(app.file.clone());
        }
        if apps.is_empty()
            && let Some((env, _)) = &scope.single
        {
            skipped.push(Skipped {
                environment: env.environment.to_string(),
                reason: "not-registered",
                detail: None,
            });
        }
        let mut out = Outputs::new();
        out.set("woken", to_json(&woken)?)
            .set("skipped", to_json(&skipped)?)
            .set("count", woken.len());
        if ctx.dry_run {
            for w in &woken {
                tracing::info!(environment = %w.environment, file = %w.app_file, "dry run: would wake");
            }
            out.set("commit", "")
                .set(ACTION, "planned")
                .set("comments", 0);
            return Ok(out);
        }
        if files.is_empty() {
            out.set("commit", "")
                .set(ACTION, "unchanged")
                .set("comments", 0);
            return Ok(out);
        }
        let notes: Vec<(String, String)> = {
            let now = utc(std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default()
                .as_secs());
            woken
                .iter()
                .map(|w| {
                    (
                        w.environment.clone(),
                        format!(
                            "☀️ **Awake** since {} UTC ({}), after sleeping since {}.",
                            &now[11..16],
                            &now[..10],
                            w.hibernated_at
                        ),
                    )
                })
                .collect()
        };
        let message = format!("wake: {} sandbox(es)", files.len());
        let branch = scope.apps_branch.clone();
        let outcome = gitops::blocking(move || {
            push_all(&ws, &branch, &message, files, |file, text| {
                wake(text).map(Some).map_err(|e| edit_error(file, e))
            })
        })
        .await?;
        out.set(
            "commit",
            if outcome.pushed() {
                outcome.commit()
            } else {
                ""
            },
        )
        .set(
            ACTION,
            if outcome.pushed() {
                "pushed"
            } else {
                "unchanged"
            },
        );
        let told = if outcome.pushed() {
            tell_prs(&scope, &ctx, pulls.as_ref(), notes).await
        } else {
            0
        };
        out.set("comments", told);
        Ok(out)
    }
}
