//! `cleanup-bucket`: a step of the delete pipeline. Deletes exactly the
//! environment's objects in the destination seed-bucket wrote to: the
//! `<environment>/` prefix of a shared bucket, or a location whose bucket
//! or path carries the environment's name as a whole token. Never the
//! source, never another environment's prefix: the destination passes the
//! same guard rail as seed-bucket's (exit 5), and every listed object is
//! checked to lie under it before it is deleted.
//!
//! The listing is paged, deletes run `--delete-concurrency` at a time, and an
//! object already gone counts as deleted, so a rerun after an interruption
//! finishes the work; a location that does not exist (the bucket destroyed
//! already) has nothing left and succeeds.

use crate::args::{self, BucketArgs, EnvArgs, Refusals, StorageArgs};
use crate::{Context, OutputSpec, Task};
use clap::Args;
use futures_util::TryStreamExt;
use sandbox_core::params::{BucketUrl, EnvironmentName, Invalid, Problems};
use sandbox_core::{Outputs, TaskError};
use sandbox_storage::{Storage, StorageConfig};
use std::sync::atomic::{AtomicU64, Ordering};

/// The default number of deletes in flight.
const DEFAULT_CONCURRENCY: usize = 32;

/// How many times the location is listed and emptied before objects that
/// keep appearing (a copy still writing) stop the run.
const PASSES: usize = 3;

/// Delete the environment's objects from its destination bucket.
#[derive(Debug, Clone, Args)]
#[command(
    about = "Delete every object of the environment in its destination bucket (its <environment>/ prefix), never another's"
)]
pub struct Params {
    #[command(flatten)]
    #[allow(missing_docs)]
    pub env: EnvArgs,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub bucket: BucketArgs,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub storage: StorageArgs,
    // Not `--concurrency`: that is seed-bucket's own flag, and one name
    // means one thing in every task (args::agreement).
    /// Deletes in flight at once.
    #[arg(long, env = "SANDBOX_DELETE_CONCURRENCY", value_name = "N", default_value_t = DEFAULT_CONCURRENCY.to_string())]
    pub delete_concurrency: String,
}

impl Default for Params {
    fn default() -> Self {
        Params {
            env: EnvArgs::default(),
            bucket: BucketArgs::default(),
            storage: StorageArgs::default(),
            delete_concurrency: DEFAULT_CONCURRENCY.to_string(),
        }
    }
}

/// The task.
pub struct CleanupBucket;

/// A validated run.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The environment.
    pub environment: EnvironmentName,
    /// The location emptied (a bare bucket got `<environment>/`).
    pub dest: BucketUrl,
    /// How buckets are reached.
    pub storage: StorageConfig,
    /// Deletes in flight.
    pub concurrency: usize,
}

impl Task for CleanupBucket {
    const NAME: &'static str = "cleanup-bucket";
    const OUTPUTS: &'static [OutputSpec] = &[
        OutputSpec {
            name: "dest_bucket",
            description: "The location emptied, with the environment's prefix.",
        },
        OutputSpec {
            name: "objects_found",
            description: "Objects of the environment found there (deleted, or to delete on a dry run).",
        },
        OutputSpec {
            name: "bytes_found",
            description: "Their total size in bytes.",
        },
        OutputSpec {
            name: "objects_deleted",
            description: "Objects deleted by this run (0 on a dry run; ones already gone are not counted).",
        },
    ];
    type Params = Params;

    fn validate(params: &Params) -> Result<(), TaskError> {
        validate(params).map(drop)
    }

    #[tracing::instrument(name = "cleanup-bucket", skip_all)]
    async fn run(params: Params, ctx: Context) -> Result<Outputs, TaskError> {
        let plan = validate(&params)?;
        execute(plan, ctx).await
    }
}

fn parse_concurrency(s: &str) -> Result<usize, Invalid> {
    s.parse::<usize>()
        .ok()
        .filter(|n| (1..=1024).contains(n))
        .ok_or_else(|| {
            Invalid::one(
                "range",
                "delete_concurrency must be a whole number from 1 to 1024",
                "pass e.g. 32",
            )
        })
}

/// Validate every parameter (exit 2), then the guard rails (exit 5). The
/// source bucket is optional here; when given, the destination must not
/// overlap it.
pub fn validate(p: &Params) -> Result<Plan, TaskError> {
    let mut problems = Problems::new();
    let env = p.env.validate(None, &mut problems);
    let buckets = p
        .bucket
        .validate(false, env.as_ref().map(|e| &e.environment), &mut problems);
    if p.bucket.dest_bucket.is_none() {
        problems.missing(
            "dest_bucket",
            "pass --dest-bucket gs://<bucket>/<environment>/ (where seed-bucket copied to)",
        );
    }
    let storage = p.storage.validate(&mut problems);
    let concurrency = problems.parse(
        "delete_concurrency",
        &p.delete_concurrency,
        parse_concurrency,
    );
    let (Some(env), Some(dest), Some(storage), Some(concurrency), true) = (
        env,
        buckets.dest.clone(),
        storage,
        concurrency,
        problems.is_empty(),
    ) else {
        return Err(args::invalid(problems));
    };
    let mut refusals = Refusals::new();
    env.refusals(&mut refusals);
    buckets.refusals(&env, &mut refusals);
    refusals.finish()?;
    Ok(Plan {
        environment: env.environment,
        dest,
        storage,
        concurrency,
    })
}

/// One listed object to delete: its key under the location, its size.
type Listed = (String, u64);

/// Every object under the location; a missing location holds none. Each
/// full name is checked to lie under the location's prefix, so a listing
/// bug can never delete a neighbour.
async fn list(storage: &Storage, dest: &BucketUrl) -> Result<Vec<Listed>, TaskError> {
    if !storage.location_exists(dest).await? {
        tracing::info!(location = %dest, "the location does not exist; nothing is left");
        return Ok(Vec::new());
    }
    let prefix = match dest {
        BucketUrl::Gs { prefix, .. } => prefix.as_str(),
        BucketUrl::File { .. } => "",
    };
    let mut objects = Vec::new();
    let mut listing = storage.list(dest);
    while let Some(object) = listing.try_next().await? {
        if !object.name.starts_with(prefix) || object.key.is_empty() {
            return Err(TaskError::internal(format!(
                "listing {dest} returned {}, which is outside it",
                object.name
            )));
        }
        objects.push((object.key, object.size));
    }
    Ok(objects)
}

/// Run a validated plan.
pub async fn execute(plan: Plan, ctx: Context) -> Result<Outputs, TaskError> {
    let mut config = plan.storage.clone();
    config.max_idle_connections = plan.concurrency;
    let storage = Storage::new(config)?;
    tracing::info!(
        dest = %plan.dest,
        environment = %plan.environment,
        identity = %storage.identity(),
        dry_run = ctx.dry_run,
        "cleaning up"
    );
    let mut found = list(&storage, &plan.dest).await?;
    let objects_found = found.len() as u64;
    let bytes_found: u64 = found.iter().map(|(_, size)| size).sum();
    let mut outputs = Outputs::new();
    outputs
        .set("dest_bucket", plan.dest.to_string())
        .set("objects_found", objects_found)
        .set("bytes_found", bytes_found);
    if ctx.dry_run {
        for (key, _) in found.iter().take(20) {
            tracing::info!(object = %key, "would delete");
        }
        tracing::info!(
            objects = objects_found,
            bytes = bytes_found,
            "dry run: nothing deleted"
        );
        outputs.set("objects_deleted", 0);
        return Ok(outputs);
    }
    ctx.progress.set_total(objects_found);
    let deleted = AtomicU64::new(0);
    let mut pass = 0;
    while !found.is_empty() {
        pass += 1;
        if pass > PASSES {
            return Err(TaskError::precondition(format!(
                "{} object(s) keep appearing under {} after {PASSES} passes; \
                 stop what writes there (a seed-bucket still running?) and run again",
                found.len(),
                plan.dest
            )));
        }
        if pass > 1 {
            tracing::warn!(
                objects = found.len(),
                pass,
                "objects appeared while deleting"
            );
            let (done, total) = ctx.progress.get();
            ctx.progress.set_total(total.max(done + found.len() as u64));
        }
        futures_util::stream::iter(found.iter().map(Ok::<_, TaskError>))
            .try_for_each_concurrent(plan.concurrency, |(key, _)| {
                let storage = &storage;
                let deleted = &deleted;
                let ctx = &ctx;
                let dest = &plan.dest;
                async move {
                    if storage.delete(dest, key).await? {
                        deleted.fetch_add(1, Ordering::Relaxed);
                    }
                    ctx.progress.advance(1);
                    Ok(())
                }
            })
            .await?;
        // What was written while the listing ran is not in it: look again.
        found = list(&storage, &plan.dest).await?;
    }
    if !storage.remove_location_if_empty(&plan.dest).await? {
        tracing::warn!(location = %plan.dest, "an object appeared at the end; its directory stays");
    }
    let deleted = deleted.load(Ordering::Relaxed);
    tracing::info!(objects = deleted, location = %plan.dest, "deleted");
    outputs.set("objects_deleted", deleted);
    Ok(outputs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sandbox_core::ErrorKind;

    fn params(env: &str, dest: Option<&str>, source: Option<&str>) -> Params {
        Params {
            env: EnvArgs {
                environment: Some(env.into()),
                ..EnvArgs::default()
            },
            bucket: BucketArgs {
                source_bucket: source.map(str::to_string),
                dest_bucket: dest.map(str::to_string),
            },
            storage: StorageArgs {
                endpoint: Some("http://127.0.0.1:1".into()),
            },
            ..Params::default()
        }
    }

    #[test]
    fn a_bare_bucket_gets_the_environments_prefix_and_no_source_is_needed() {
        let plan = validate(&params("sbx-pr-42", Some("gs://docs"), None)).unwrap();
        assert_eq!(plan.dest.to_string(), "gs://docs/sbx-pr-42/");
    }

    #[test]
    fn only_the_environments_own_location_passes() {
        for dest in [
            "gs://docs/sbx-pr-42/",
            "gs://docs-sbx-pr-42/x/",
            "gs://docs/a/sbx-pr-42/b/",
        ] {
            assert!(
                validate(&params("sbx-pr-42", Some(dest), None)).is_ok(),
                "{dest}"
            );
        }
        for dest in [
            "gs://docs/sbx-pr-420/",
            "gs://docs/sbx-pr-4/",
            "gs://docs-sbx-pr-420/x/",
            "gs://docs/integration/",
            "file:///buckets/sbx-pr-420",
        ] {
            let err = validate(&params("sbx-pr-42", Some(dest), None)).unwrap_err();
            assert_eq!(err.kind, ErrorKind::Refused, "{dest}");
            assert_eq!(err.details[0].rule, "foreign-destination", "{dest}");
        }
        let err = validate(&params(
            "sbx-pr-42",
            Some("gs://docs/sbx-pr-42/"),
            Some("gs://docs/"),
        ))
        .unwrap_err();
        assert_eq!(err.details[0].rule, "destination-overlaps-source");
    }

    #[test]
    fn a_missing_destination_and_a_bad_concurrency_are_named() {
        let mut p = params("sbx-pr-42", None, None);
        p.delete_concurrency = "0".into();
        let err = validate(&p).unwrap_err();
        assert_eq!(err.kind, ErrorKind::InvalidParams);
        let fields: Vec<&str> = err.details.iter().map(|d| d.field.as_str()).collect();
        assert!(fields.contains(&"dest_bucket"), "{fields:?}");
        assert!(fields.contains(&"delete_concurrency"), "{fields:?}");
    }
}
