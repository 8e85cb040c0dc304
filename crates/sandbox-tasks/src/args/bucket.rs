//! Buckets: where the environment's documents come from and go to, and how
//! buckets are reached; their remote checks.

use super::{EnvPlan, Refusals};
use crate::remote::RemoteCheck;
use clap::Args;
use sandbox_core::params::{BucketUrl, EnvironmentName, Invalid, Problems};
use sandbox_storage::{Storage, StorageConfig};

/// How buckets are reached.
#[derive(Debug, Clone, Default, Args)]
pub struct StorageArgs {
    /// GCS endpoint (anonymous), e.g. an emulator; STORAGE_EMULATOR_HOST also works.
    #[arg(long, env = "SANDBOX_ENDPOINT", value_name = "URL")]
    pub endpoint: Option<String>,
}

impl StorageArgs {
    /// The endpoint must be a URL.
    pub fn validate(&self, problems: &mut Problems) -> Option<StorageConfig> {
        if let Some(e) = &self.endpoint {
            problems.parse("endpoint", e, |e| {
                url::Url::parse(&sandbox_storage::normalize_endpoint(e))
                    .map(drop)
                    .map_err(|_| {
                        Invalid::one(
                            "url",
                            "endpoint is not a URL",
                            "pass e.g. http://127.0.0.1:4443",
                        )
                    })
            })?;
        }
        Some(StorageConfig::from_env(self.endpoint.as_deref()))
    }
}

/// Where the documents are copied from and to.
#[derive(Debug, Clone, Default, Args)]
pub struct BucketArgs {
    /// Where the documents are: gs://bucket/prefix or file:///dir.
    #[arg(long, env = "SANDBOX_SOURCE_BUCKET", value_name = "URL")]
    pub source_bucket: Option<String>,
    /// Where they go; a bare gs://bucket gets the prefix <environment>/.
    #[arg(long, env = "SANDBOX_DEST_BUCKET", value_name = "URL")]
    pub dest_bucket: Option<String>,
}

/// [`BucketArgs`], validated.
#[derive(Debug, Clone, Default)]
pub struct BucketPlan {
    /// Documents source.
    pub source: Option<BucketUrl>,
    /// Documents destination, with the environment's prefix when the
    /// bucket was given bare.
    pub dest: Option<BucketUrl>,
}

impl BucketArgs {
    /// Validate; a missing source or destination is a problem only when
    /// `required`. A bare destination bucket gets `<environment>/`.
    pub fn validate(
        &self,
        required: bool,
        environment: Option<&EnvironmentName>,
        problems: &mut Problems,
    ) -> BucketPlan {
        if required && self.source_bucket.is_none() {
            problems.missing(
                "source_bucket",
                "pass --source-bucket gs://<bucket>/<prefix>",
            );
        }
        if required && self.dest_bucket.is_none() {
            problems.missing(
                "dest_bucket",
                "pass --dest-bucket gs://<bucket>/<environment>/",
            );
        }
        let source = problems.parse_opt(
            "source_bucket",
            self.source_bucket.as_deref(),
            BucketUrl::parse,
        );
        let dest = problems
            .parse_opt("dest_bucket", self.dest_bucket.as_deref(), BucketUrl::parse)
            .map(|d| match (d, environment) {
                (BucketUrl::Gs { bucket, prefix }, Some(env)) if prefix.is_empty() => {
                    BucketUrl::Gs {
                        bucket,
                        prefix: format!("{env}/"),
                    }
                }
                (other, _) => other,
            });
        BucketPlan { source, dest }
    }
}

impl BucketPlan {
    /// The destination must be the environment's and must not overlap the
    /// source.
    pub fn refusals(&self, env: &EnvPlan, refusals: &mut Refusals) {
        if let Some(dest) = &self.dest {
            refusals.check(
                "dest_bucket",
                &dest.to_string(),
                env.policy
                    .check_destination(dest, &env.environment, self.source.as_ref()),
            );
        }
    }

    /// `check-params --check-remote`: the source can be listed, the
    /// destination's bucket exists.
    pub async fn remote_checks(&self, storage: Option<&StorageConfig>) -> Vec<RemoteCheck> {
        let mut checks = Vec::new();
        if self.source.is_none() && self.dest.is_none() {
            return checks;
        }
        let storage = match storage.cloned().map(Storage::new) {
            Some(Ok(s)) => s,
            Some(Err(e)) => {
                checks.push(RemoteCheck::failed(
                    "storage-client",
                    "endpoint",
                    format!("cannot build the storage client: {e}"),
                    "check --endpoint",
                ));
                return checks;
            }
            None => return checks,
        };
        if let Some(source) = &self.source {
            checks.push(match storage.check_readable(source).await {
                Ok(()) => RemoteCheck::passed(
                    "source-bucket-readable",
                    "source_bucket",
                    format!("{source} can be listed as {}", storage.identity()),
                ),
                Err(e) => RemoteCheck::failed(
                    "source-bucket-readable",
                    "source_bucket",
                    format!("{source} cannot be listed: {e}"),
                    "grant the identity storage.objects.list on the bucket, or fix the name",
                ),
            });
        }
        if let Some(dest) = &self.dest {
            checks.push(match storage.check_bucket_exists(dest).await {
                Ok(()) => RemoteCheck::passed(
                    "dest-bucket-exists",
                    "dest_bucket",
                    format!("the bucket of {dest} exists"),
                ),
                Err(e) => RemoteCheck::failed(
                    "dest-bucket-exists",
                    "dest_bucket",
                    format!("the bucket of {dest} is not usable: {e}"),
                    "create the bucket (terraform) or fix the name",
                ),
            });
        }
        checks
    }
}
