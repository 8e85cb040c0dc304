//! `seed-bucket`: copy a chosen subset of the reference documents into the
//! sandbox's bucket, server-side (`rewriteTo`), resumable and idempotent.
//!
//! The source and destination listings are both in name order, so they are
//! merged as two streams: an object already at the destination with the
//! same size and checksum is skipped, and memory stays flat however many
//! objects there are. Listing is paged and pipelined with copying. Nothing
//! at the destination is ever deleted, and an object there that is not a
//! copy of its source (someone changed it) is left alone unless
//! `--overwrite-changed`.

use crate::args::{self, BucketArgs, EnvArgs, Refusals, StorageArgs};
use crate::{Context, OutputSpec, Task};
use clap::Args;
use sandbox_core::params::{BucketUrl, EnvironmentName, Invalid, Problems, parse_duration};
use sandbox_core::retry::Backoff;
use sandbox_core::{Outputs, TaskError};
use sandbox_storage::glob::Glob;
use sandbox_storage::sync::{self, Observer, SyncOptions, SyncReport};
use sandbox_storage::{ObjectInfo, Storage, StorageConfig};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// How many copies run at once unless told: server-side copies cost the
/// client one small request each, so more in flight hides latency.
pub const DEFAULT_CONCURRENCY: usize = 32;
/// How often progress is logged.
const PROGRESS_EVERY: Duration = Duration::from_secs(5);

/// Copy reference documents into the sandbox's bucket.
#[derive(Debug, Clone, Default, Args)]
#[command(
    about = "Copy a chosen subset of reference documents into the sandbox's bucket, server-side"
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
    /// Copy only keys (relative to the source prefix) matching one of these
    /// globs (`*` within a segment, `**` across); repeatable.
    #[arg(
        long = "include",
        id = "include",
        env = "SANDBOX_INCLUDE",
        value_name = "GLOB",
        value_delimiter = ','
    )]
    pub include: Vec<String>,
    /// Skip keys matching any of these globs; repeatable.
    #[arg(
        long = "exclude",
        id = "exclude",
        env = "SANDBOX_EXCLUDE",
        value_name = "GLOB",
        value_delimiter = ','
    )]
    pub exclude: Vec<String>,
    /// Select at most this many objects (the first in name order).
    #[arg(long, env = "SANDBOX_MAX_OBJECTS", value_name = "N")]
    pub max_objects: Option<String>,
    /// Select objects in name order until the next would pass this many
    /// bytes (e.g. 500MB, 2GiB).
    #[arg(long, env = "SANDBOX_MAX_BYTES", value_name = "SIZE")]
    pub max_bytes: Option<String>,
    /// Select only objects updated within this long (e.g. 30d, 12h).
    #[arg(long, env = "SANDBOX_NEWER_THAN", value_name = "DURATION")]
    pub newer_than: Option<String>,
    /// Copies in flight at once.
    #[arg(long, env = "SANDBOX_CONCURRENCY", value_name = "N", default_value_t = DEFAULT_CONCURRENCY.to_string())]
    pub concurrency: String,
    /// How many names the dry run shows.
    #[arg(long, env = "SANDBOX_SHOW", value_name = "N", default_value = "20")]
    pub show: String,
    /// Fail (exit 3) when the selection is empty, instead of succeeding with
    /// nothing copied.
    #[arg(long, env = "SANDBOX_REQUIRE_OBJECTS")]
    pub require_objects: bool,
    /// Replace a destination object that differs from its source (by
    /// default it is left alone and reported).
    #[arg(long, env = "SANDBOX_OVERWRITE_CHANGED")]
    pub overwrite_changed: bool,
    /// Attempts per request on 429, 5xx and connection errors.
    #[arg(
        long,
        env = "SANDBOX_RETRY_ATTEMPTS",
        value_name = "N",
        default_value = "6"
    )]
    pub retry_attempts: String,
}

/// The task.
pub struct SeedBucket;

/// A validated request.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The sandbox.
    pub environment: EnvironmentName,
    /// Documents source.
    pub source: BucketUrl,
    /// Documents destination, owned by the environment.
    pub dest: BucketUrl,
    /// What to copy.
    pub selection: Selection,
    /// Copies in flight.
    pub concurrency: usize,
    /// Names the dry run shows.
    pub show: usize,
    /// Retries of each request.
    pub backoff: Backoff,
    /// How buckets are reached.
    pub storage: StorageConfig,
}

/// Which source objects are selected.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    /// Any must match (none: all).
    pub include: Vec<Glob>,
    /// None may match.
    pub exclude: Vec<Glob>,
    /// Most objects.
    pub max_objects: Option<u64>,
    /// Most bytes.
    pub max_bytes: Option<u64>,
    /// Updated at or after this time.
    pub newer_than: Option<SystemTime>,
}

impl Selection {
    /// True when `object` passes the globs and the age filter (the limits
    /// are applied over the stream).
    pub fn matches(&self, object: &ObjectInfo) -> bool {
        (self.include.is_empty() || self.include.iter().any(|g| g.matches(&object.key)))
            && !self.exclude.iter().any(|g| g.matches(&object.key))
            && self
                .newer_than
                .is_none_or(|since| object.updated.is_some_and(|u| u >= since))
    }
}

fn positive(what: &'static str) -> impl Fn(&str) -> Result<u64, Invalid> {
    move |s| {
        s.parse::<u64>().ok().filter(|n| *n > 0).ok_or_else(|| {
            Invalid::one(
                "positive-integer",
                format!("{what} must be a whole number of at least 1"),
                "pass e.g. 100",
            )
        })
    }
}

/// A size such as `1048576`, `500MB`, `2GiB`.
pub fn parse_size(s: &str) -> Result<u64, Invalid> {
    let invalid = || {
        Invalid::one(
            "size",
            format!("{s:?} is not a size"),
            "write bytes or a number with KB, MB, GB, TB (or KiB, MiB, GiB, TiB), e.g. 500MB",
        )
    };
    let t = s.trim();
    let digits = t.bytes().take_while(u8::is_ascii_digit).count();
    let n: u64 = t[..digits].parse().map_err(|_| invalid())?;
    let unit: u64 = match t[digits..].trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" => 1_000,
        "m" | "mb" => 1_000_000,
        "g" | "gb" => 1_000_000_000,
        "t" | "tb" => 1_000_000_000_000,
        "ki" | "kib" => 1 << 10,
        "mi" | "mib" => 1 << 20,
        "gi" | "gib" => 1 << 30,
        "ti" | "tib" => 1 << 40,
        _ => return Err(invalid()),
    };
    n.checked_mul(unit).filter(|v| *v > 0).ok_or_else(invalid)
}

/// Validate every field (all problems at once, exit 2), then the guard
/// rails (exit 5).
pub fn validate(p: &Params) -> Result<Plan, TaskError> {
    let mut problems = Problems::new();
    let env = p.env.validate(None, &mut problems);
    let buckets = p
        .bucket
        .validate(true, env.as_ref().map(|e| &e.environment), &mut problems);
    let storage = p.storage.validate(&mut problems);
    let include: Vec<Glob> = p
        .include
        .iter()
        .filter_map(|g| problems.parse("include", g, glob))
        .collect();
    let exclude: Vec<Glob> = p
        .exclude
        .iter()
        .filter_map(|g| problems.parse("exclude", g, glob))
        .collect();
    let max_objects = problems.parse_opt(
        "max_objects",
        p.max_objects.as_deref(),
        positive("max_objects"),
    );
    let max_bytes = problems.parse_opt("max_bytes", p.max_bytes.as_deref(), parse_size);
    let newer_than = problems.parse_opt("newer_than", p.newer_than.as_deref(), parse_duration);
    let concurrency = problems.parse("concurrency", &p.concurrency, |s| {
        positive("concurrency")(s).and_then(|n| {
            if n <= 1024 {
                Ok(n as usize)
            } else {
                Err(Invalid::one(
                    "range",
                    "concurrency must be at most 1024",
                    "pass e.g. 32",
                ))
            }
        })
    });
    let show = problems.parse("show", &p.show, |s| {
        s.parse::<usize>()
            .map_err(|_| Invalid::one("integer", "show must be a whole number", "pass e.g. 20"))
    });
    let attempts = problems.parse("retry_attempts", &p.retry_attempts, |s| {
        positive("retry_attempts")(s).map(|n| n.min(100) as u32)
    });
    let (
        Some(env),
        Some(source),
        Some(dest),
        Some(storage),
        Some(concurrency),
        Some(show),
        Some(attempts),
        true,
    ) = (
        env,
        buckets.source.clone(),
        buckets.dest.clone(),
        storage,
        concurrency,
        show,
        attempts,
        problems.is_empty(),
    )
    else {
        return Err(args::invalid(problems));
    };
    let mut refusals = Refusals::new();
    env.refusals(&mut refusals);
    buckets.refusals(&env, &mut refusals);
    refusals.finish()?;
    let environment = env.environment;
    Ok(Plan {
        environment,
        source,
        dest,
        storage,
        selection: Selection {
            include,
            exclude,
            max_objects,
            max_bytes,
            newer_than: newer_than.map(|d| {
                SystemTime::now()
                    .checked_sub(d)
                    .unwrap_or(SystemTime::UNIX_EPOCH)
            }),
        },
        concurrency,
        show,
        backoff: Backoff {
            attempts,
            ..Backoff::default()
        },
    })
}

fn glob(s: &str) -> Result<Glob, Invalid> {
    Glob::new(s).map_err(|e| {
        Invalid::one(
            "glob",
            e.message,
            "use *, **, ? and [a-z] only; close every '['",
        )
    })
}

impl Task for SeedBucket {
    const NAME: &'static str = "seed-bucket";
    const NEEDS: &'static [crate::Need] = &[];
    const OUTPUTS: &'static [OutputSpec] = &[
        OutputSpec {
            name: "objects_copied",
            description: "Objects copied server-side (0 on a dry run).",
        },
        OutputSpec {
            name: "objects_skipped",
            description: "Objects already at the destination with the same size and checksum.",
        },
        OutputSpec {
            name: "bytes_copied",
            description: "Bytes copied (0 on a dry run).",
        },
        OutputSpec {
            name: "objects_conflicting",
            description: "Objects at the destination that differ from the source and were left alone.",
        },
        OutputSpec {
            name: "objects_selected",
            description: "Objects the globs and limits selected.",
        },
        OutputSpec {
            name: "bytes_selected",
            description: "Bytes the selection holds.",
        },
        OutputSpec {
            name: "dest_bucket",
            description: "The destination, with the environment's prefix.",
        },
        OutputSpec {
            name: "objects_to_copy",
            description: "Objects a run would copy (dry run).",
        },
        OutputSpec {
            name: "bytes_to_copy",
            description: "Bytes a run would copy (dry run).",
        },
        OutputSpec {
            name: "first_objects",
            description: "JSON list of the first objects a run would copy (dry run).",
        },
        OutputSpec {
            name: "objects_not_utf8",
            description: "Selected source files (file:// only) left out because their path is not UTF-8, which no object name can hold.",
        },
        OutputSpec {
            name: "not_utf8_names",
            description: "JSON list of the first 100 of those paths; each byte that is not UTF-8 written as a hex escape.",
        },
    ];
    type Params = Params;

    fn validate(params: &Params) -> Result<(), TaskError> {
        validate(params).map(drop)
    }

    #[tracing::instrument(name = "seed-bucket", skip_all)]
    async fn run(params: Params, ctx: Context) -> Result<Outputs, TaskError> {
        let plan = validate(&params)?;
        let mut config = plan.storage.clone();
        config.backoff = plan.backoff;
        config.max_idle_connections = plan.concurrency;
        let storage = Storage::new(config)?;
        tracing::info!(
            source = %plan.source,
            dest = %plan.dest,
            environment = %plan.environment,
            identity = %storage.identity(),
            dry_run = ctx.dry_run,
            "seeding"
        );
        seed(&storage, &plan, &params, &ctx).await
    }
}

/// The plugin's `N/M`: objects selected so far, objects decided.
struct StepProgress(crate::Progress);

impl Observer for StepProgress {
    fn selected(&self, total: u64) {
        self.0.set_total(total);
    }
    fn decided(&self, _key: &str, _decision: sync::Decision) {
        self.0.advance(1);
    }
}

/// Megabytes, one decimal.
fn mb(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1e6)
}

async fn seed(
    storage: &Storage,
    plan: &Plan,
    params: &Params,
    ctx: &Context,
) -> Result<Outputs, TaskError> {
    let selection = plan.selection.clone();
    let options = SyncOptions {
        concurrency: plan.concurrency,
        overwrite_changed: params.overwrite_changed,
        dry_run: ctx.dry_run,
        max_objects: plan.selection.max_objects,
        max_bytes: plan.selection.max_bytes,
        names_kept: plan.show,
        progress_every: PROGRESS_EVERY,
        ..SyncOptions::default()
    };
    let report = sync::sync(
        storage,
        &plan.source,
        &plan.dest,
        Arc::new(move |o| selection.matches(o)),
        &options,
        Arc::new(StepProgress(ctx.progress.clone())),
    )
    .await?;
    let SyncReport {
        selected,
        selected_bytes,
        copied,
        bytes_copied,
        skipped,
        conflicts,
        ..
    } = report;
    if selected == 0 {
        let message = format!(
            "no object under {} matches the selection{}",
            plan.source,
            describe(params)
        );
        if params.require_objects {
            return Err(TaskError::precondition(message));
        }
        tracing::warn!("{message}; nothing to copy");
    }
    if report.not_utf8_count > 0 {
        tracing::warn!(
            "{} selected files under {} were left out because their path is not UTF-8 (see the not_utf8_names output); rename them to copy them",
            report.not_utf8_count,
            plan.source
        );
    }
    let mut out = Outputs::new();
    if ctx.dry_run {
        tracing::info!(
            "dry run: {selected} objects selected ({}); {copied} to copy ({}), {skipped} already there, {conflicts} differing left alone",
            mb(selected_bytes),
            mb(bytes_copied),
        );
        for name in &report.first_copied {
            tracing::info!("would copy {}{name} to {}{name}", plan.source, plan.dest);
        }
        out.set("objects_to_copy", copied)
            .set("bytes_to_copy", bytes_copied)
            .set(
                "first_objects",
                serde_json::to_string(&report.first_copied).unwrap_or_default(),
            )
            .set("objects_copied", 0)
            .set("bytes_copied", 0);
    } else {
        tracing::info!(
            "done: {copied} copied ({}), {skipped} already there, {conflicts} differing left alone, in {:.1}s",
            mb(bytes_copied),
            report.elapsed.as_secs_f64()
        );
        out.set("objects_copied", copied)
            .set("bytes_copied", bytes_copied);
    }
    out.set("objects_skipped", skipped)
        .set("objects_conflicting", conflicts)
        .set("objects_selected", selected)
        .set("bytes_selected", selected_bytes)
        .set("objects_not_utf8", report.not_utf8_count)
        .set(
            "not_utf8_names",
            serde_json::to_string(&report.not_utf8).unwrap_or_default(),
        )
        .set("dest_bucket", &plan.dest);
    Ok(out)
}

/// The filters, for the "nothing matched" message.
fn describe(p: &Params) -> String {
    let mut parts = Vec::new();
    if !p.include.is_empty() {
        parts.push(format!("--include {}", p.include.join(",")));
    }
    if !p.exclude.is_empty() {
        parts.push(format!("--exclude {}", p.exclude.join(",")));
    }
    if let Some(n) = &p.newer_than {
        parts.push(format!("--newer-than {n}"));
    }
    if parts.is_empty() {
        " (the source is empty)".into()
    } else {
        format!(" ({})", parts.join(" "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params() -> Params {
        Params {
            bucket: BucketArgs {
                source_bucket: Some("gs://docs-int/ref/".into()),
                dest_bucket: Some("gs://docs-sbx".into()),
            },
            env: EnvArgs {
                pr_number: Some("7".into()),
                ..EnvArgs::default()
            },
            concurrency: "8".into(),
            show: "20".into(),
            retry_attempts: "3".into(),
            ..Params::default()
        }
    }

    #[test]
    fn a_bare_destination_bucket_gets_the_environment_prefix() {
        let plan = validate(&params()).unwrap();
        assert_eq!(plan.dest.to_string(), "gs://docs-sbx/sbx-pr-7/");
        assert_eq!(plan.environment.as_str(), "sbx-pr-7");
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let p = Params {
            bucket: BucketArgs {
                source_bucket: Some("gs://Bad_Bucket/../x".into()),
                dest_bucket: None,
            },
            include: vec!["[oops".into()],
            max_objects: Some("0".into()),
            max_bytes: Some("lots".into()),
            newer_than: Some("yesterday".into()),
            concurrency: "0".into(),
            ..params()
        };
        let err = validate(&p).unwrap_err();
        assert_eq!(err.kind, sandbox_core::ErrorKind::InvalidParams);
        let fields: std::collections::BTreeSet<&str> =
            err.details.iter().map(|d| d.field.as_str()).collect();
        assert_eq!(
            fields.into_iter().collect::<Vec<_>>(),
            [
                "concurrency",
                "dest_bucket",
                "include",
                "max_bytes",
                "max_objects",
                "newer_than",
                "source_bucket"
            ]
        );
    }

    #[test]
    fn destinations_outside_the_environment_or_on_the_source_are_refused() {
        let onto_source = Params {
            bucket: BucketArgs {
                dest_bucket: Some("gs://docs-int/ref/".into()),
                ..params().bucket
            },
            ..params()
        };
        let err = validate(&onto_source).unwrap_err();
        assert_eq!(err.kind, sandbox_core::ErrorKind::Refused);
        assert_eq!(err.details[0].rule, "destination-overlaps-source");
        let foreign = Params {
            bucket: BucketArgs {
                dest_bucket: Some("gs://docs-sbx/shared/".into()),
                ..params().bucket
            },
            ..params()
        };
        assert_eq!(
            validate(&foreign).unwrap_err().details[0].rule,
            "foreign-destination"
        );
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("1024").unwrap(), 1024);
        assert_eq!(parse_size("500MB").unwrap(), 500_000_000);
        assert_eq!(parse_size("2GiB").unwrap(), 2 << 30);
        for bad in ["", "0", "MB", "1XB", "-1"] {
            assert!(parse_size(bad).is_err(), "{bad}");
        }
    }
}
