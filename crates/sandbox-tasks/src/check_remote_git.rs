//! The repository checks of `check-params --check-remote`: the repository
//! is reachable with the given credentials, the base branch exists, the
//! environment branch is absent (or present and `--if-exists reuse`), and
//! fewer than `--max-sandboxes` sandboxes are registered in the app-of-apps
//! directory. Read-only: one ref listing and one shallow fetch of the apps
//! branch.

use crate::Context;
use crate::check_params::{CheckStatus, Params, Plan, RemoteCheck};
use crate::create_branch::IfExistsArg;
use crate::gitops::{self, GitArgs, GitPlan};
use sandbox_core::{ErrorKind, Problem, TaskError};

/// The checks run, and the error the task fails with when one failed.
#[derive(Debug)]
pub struct GitChecks {
    /// Every check, passed or failed.
    pub checks: Vec<RemoteCheck>,
    /// The most severe failure: refused (limit reached) before precondition
    /// before transient.
    pub failure: Option<TaskError>,
}

/// The repository flags of check-params, as the GitOps tasks take them.
pub fn git_args(p: &Params) -> GitArgs {
    GitArgs {
        repo_url: p.repo_url.clone(),
        git_token: p.git_token.clone(),
        git_user: p.git_user.clone(),
        ssh_key: p.ssh_key.clone(),
        ssh_key_passphrase: p.ssh_key_passphrase.clone(),
        ssh_known_hosts: p.ssh_known_hosts.clone(),
        workdir: p.workdir.clone(),
        git_author_name: sandbox_git::DEFAULT_AUTHOR_NAME.into(),
        git_author_email: sandbox_git::DEFAULT_AUTHOR_EMAIL.into(),
        vault: p.vault.clone(),
    }
}

struct Failed {
    check: &'static str,
    kind: ErrorKind,
    message: String,
}

/// Run the repository checks.
pub async fn run(plan: &Plan, git: &GitPlan, if_exists: IfExistsArg, ctx: &Context) -> GitChecks {
    let mut checks = Vec::new();
    let mut failed = Vec::new();
    let mut record =
        |check: &'static str, outcome: Result<String, (ErrorKind, String)>| match outcome {
            Ok(detail) => checks.push(RemoteCheck {
                check,
                status: CheckStatus::Passed,
                detail,
                kind: None,
                fix: String::new(),
                field: "repo_url",
            }),
            Err((kind, message)) => {
                checks.push(RemoteCheck {
                    check,
                    status: CheckStatus::Failed,
                    detail: message.clone(),
                    kind: None,
                    fix: String::new(),
                    field: "repo_url",
                });
                failed.push(Failed {
                    check,
                    kind,
                    message,
                });
            }
        };
    let url = git.redacted_url();
    let ws = match git.open(ctx).await {
        Ok(ws) => ws,
        Err(e) => {
            record(
                "repo-reachable",
                Err((e.kind, ctx.redactor.mask(&e.full_message()))),
            );
            return verdict(checks, failed);
        }
    };
    let apps = (plan.apps_branch.clone(), plan.apps_path.to_string());
    let own_file = format!("{}.yaml", plan.names.app_name);
    let want_count = plan.max_sandboxes.is_some();
    let result = gitops::blocking(move || {
        let heads = ws.remote_heads().map_err(TaskError::from)?;
        let registered = if want_count {
            let (branch, dir) = &apps;
            Some(
                ws.read_branch(branch, |tree| Ok(tree.list(dir)?))
                    .map(|names| {
                        names
                            .into_iter()
                            .filter(|n| n.ends_with(".yaml") || n.ends_with(".yml"))
                            .collect::<Vec<_>>()
                    })
                    .map_err(TaskError::from),
            )
        } else {
            None
        };
        Ok((heads, registered))
    })
    .await;
    let (heads, registered) = match result {
        Ok(found) => found,
        Err(e) => {
            record(
                "repo-reachable",
                Err((e.kind, ctx.redactor.mask(&e.full_message()))),
            );
            return verdict(checks, failed);
        }
    };
    record(
        "repo-reachable",
        Ok(format!("{url} answered with {} branches", heads.len())),
    );
    let base = plan.base_branch.as_str();
    record(
        "base-branch-present",
        match heads.get(base) {
            Some(tip) => Ok(format!("{base} is at {tip}")),
            None => Err((
                ErrorKind::Precondition,
                format!("base branch {base} is not on {url}"),
            )),
        },
    );
    let branch = plan.names.branch.as_str();
    record(
        "environment-branch-absent",
        match (heads.get(branch), if_exists) {
            (None, _) => Ok(format!("{branch} does not exist yet")),
            (Some(tip), IfExistsArg::Reuse) => {
                Ok(format!("{branch} exists at {tip} and will be reused"))
            }
            (Some(tip), IfExistsArg::Fail) => Err((
                ErrorKind::Precondition,
                format!("{branch} already exists at {tip} and --if-exists is fail"),
            )),
        },
    );
    if let (Some(max), Some(registered)) = (plan.max_sandboxes, registered) {
        record(
            "live-sandboxes-under-max",
            match registered {
                Ok(files) => {
                    let others = files.iter().filter(|f| **f != own_file).count();
                    let already = files.len() != others;
                    if already || (others as u64) < u64::from(max) {
                        Ok(format!(
                            "{others} other sandboxes registered in {}, limit {max}{}",
                            plan.apps_path,
                            if already {
                                "; this one is registered already"
                            } else {
                                ""
                            }
                        ))
                    } else {
                        Err((
                            ErrorKind::Refused,
                            format!(
                                "{others} sandboxes are registered in {} on {}, the limit is {max}",
                                plan.apps_path, plan.apps_branch
                            ),
                        ))
                    }
                }
                // An apps branch that does not exist yet holds no sandboxes.
                Err(e) if e.message.contains("not found on") => Ok(format!(
                    "{} has no registered sandboxes yet (branch absent)",
                    plan.apps_branch
                )),
                Err(e) => Err((e.kind, ctx.redactor.mask(&e.full_message()))),
            },
        );
    }
    verdict(checks, failed)
}

fn verdict(checks: Vec<RemoteCheck>, failed: Vec<Failed>) -> GitChecks {
    let severity = |k: ErrorKind| match k {
        ErrorKind::Refused => 0,
        ErrorKind::Precondition => 1,
        ErrorKind::Transient => 2,
        _ => 3,
    };
    let failure = failed
        .iter()
        .map(|f| f.kind)
        .min_by_key(|k| severity(*k))
        .map(|kind| {
            let problems: Vec<Problem> = failed
                .iter()
                .map(|f| Problem {
                    field: "repo_url".into(),
                    rule: f.check.into(),
                    message: f.message.clone(),
                    value: None,
                    fix: match f.check {
                        "live-sandboxes-under-max" => {
                            "delete finished sandboxes or raise --max-sandboxes".into()
                        }
                        "environment-branch-absent" => {
                            "pass --if-exists reuse, or delete the branch".into()
                        }
                        _ => {
                            "check the repository URL, its credentials and the branch names".into()
                        }
                    },
                })
                .collect();
            let summary = failed
                .iter()
                .map(|f| f.check)
                .collect::<Vec<_>>()
                .join(", ");
            let mut error = TaskError::new(kind, format!("remote checks failed: {summary}"));
            error.details = problems;
            error
        });
    GitChecks { checks, failure }
}
