//! An Argo CD Application's status, as much of it as the readiness verdict
//! reads, and the verdict itself.
//!
//! Field names and meanings are Argo CD's (argoproj/argo-cd
//! `pkg/apis/application/v1alpha1/types.go`):
//! - `status.sync` is `SyncStatus`: `status` a `SyncStatusCode` (`Synced`,
//!   `OutOfSync`, `Unknown`), `revision` the revision the comparison was
//!   made against, `revisions` the same for multi-source Applications;
//! - `status.health` is `AppHealthStatus`, `status.resources[]` are
//!   `ResourceStatus` (group, kind, namespace, name, a `health` that is
//!   absent for kinds without a health check);
//! - `status.operationState` is `OperationState`: `phase` one of gitops-engine's
//!   `OperationPhase` values (`Running`, `Terminating`, `Failed`, `Error`,
//!   `Succeeded`, `gitops-engine/pkg/sync/common/types.go`), its `message`
//!   and the `syncResult` with the revision and per-resource results;
//! - `status.resourceHealthSource` is `appTree` when the controller keeps
//!   resource health out of the Application (`controller/health.go`
//!   `setApplicationHealth`): then `resources[].health` is empty and only
//!   the Application's health is known.
//!
//! Health codes are gitops-engine's `HealthStatusCode`
//! (`gitops-engine/pkg/health/health.go`): `Healthy`, `Progressing`,
//! `Suspended`, `Degraded`, `Missing`, `Unknown`.

use serde::{Deserialize, Serialize};
use std::fmt;

/// An Application, as `GET …/applications/<name>` returns it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Application {
    /// Name and namespace.
    pub metadata: Metadata,
    /// What the controller observed.
    pub status: ApplicationStatus,
}

/// The object's name.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Metadata {
    /// The Application's name.
    pub name: String,
    /// Its namespace (`argocd` unless apps in any namespace are used).
    pub namespace: String,
}

/// `ApplicationStatus`, partly.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ApplicationStatus {
    /// Every managed resource.
    pub resources: Vec<ResourceStatus>,
    /// Sync state and revision.
    pub sync: SyncStatus,
    /// The Application's health.
    pub health: Health,
    /// Errors and warnings of the controller (ComparisonError, SyncError, …).
    pub conditions: Vec<Condition>,
    /// The last or current sync operation.
    pub operation_state: Option<OperationState>,
    /// `appTree` when resource health is not kept in `resources[]`.
    pub resource_health_source: String,
}

/// `SyncStatus`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct SyncStatus {
    /// `Synced`, `OutOfSync` or `Unknown`.
    pub status: String,
    /// The revision the live state was compared with (one source).
    pub revision: String,
    /// The same, per source (multi-source Applications).
    pub revisions: Vec<String>,
}

/// A health status (the Application's `AppHealthStatus` or a resource's
/// `HealthStatus`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Health {
    /// The code.
    pub status: HealthCode,
    /// Why, when the check says (e.g. a Deployment's progress deadline).
    pub message: String,
}

/// gitops-engine's `HealthStatusCode`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
pub enum HealthCode {
    /// Resource is 100 % healthy.
    Healthy,
    /// Not healthy yet, may still get there.
    Progressing,
    /// Suspended or paused (a suspended CronJob).
    Suspended,
    /// Failed, or could not become healthy in time.
    Degraded,
    /// Not in the cluster.
    Missing,
    /// Health assessment failed; also any code this version does not know.
    #[default]
    #[serde(other)]
    Unknown,
}

impl HealthCode {
    /// The code as Argo CD spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            HealthCode::Healthy => "Healthy",
            HealthCode::Progressing => "Progressing",
            HealthCode::Suspended => "Suspended",
            HealthCode::Degraded => "Degraded",
            HealthCode::Missing => "Missing",
            HealthCode::Unknown => "Unknown",
        }
    }
}

impl fmt::Display for HealthCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `ResourceStatus`, partly.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ResourceStatus {
    /// API group (empty for the core group).
    pub group: String,
    /// Kind.
    pub kind: String,
    /// Namespace (empty for cluster-scoped kinds).
    pub namespace: String,
    /// Name.
    pub name: String,
    /// Sync state of this resource.
    pub status: String,
    /// Health; absent for kinds Argo CD has no health check for.
    pub health: Option<Health>,
}

/// `ApplicationCondition`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Condition {
    /// `ComparisonError`, `SyncError`, `InvalidSpecError`, …
    #[serde(rename = "type")]
    pub kind: String,
    /// The controller's message.
    pub message: String,
}

/// `OperationState`, partly.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct OperationState {
    /// `Running`, `Terminating`, `Failed`, `Error` or `Succeeded`.
    pub phase: String,
    /// Usually the error of a failed operation.
    pub message: String,
    /// The sync's result.
    pub sync_result: Option<SyncOperationResult>,
}

/// `SyncOperationResult`, partly.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct SyncOperationResult {
    /// The revision synced.
    pub revision: String,
    /// What happened to each resource.
    pub resources: Vec<ResourceResult>,
}

/// `ResourceResult`, partly.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ResourceResult {
    /// API group.
    pub group: String,
    /// Kind.
    pub kind: String,
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// `Synced`, `SyncFailed`, `Pruned`, `PruneSkipped`.
    pub status: String,
    /// What the sync said about it.
    pub message: String,
    /// A hook's phase (`Failed`, `Error` for a failed hook).
    pub hook_phase: String,
}

/// A resource that is not healthy, named for the person reading the PR.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UnhealthyResource {
    /// Kind.
    pub kind: String,
    /// Namespace (empty when cluster-scoped).
    pub namespace: String,
    /// Name.
    pub name: String,
    /// Its health code, or the sync result (`SyncFailed`).
    pub status: String,
    /// Why.
    pub message: String,
}

impl fmt::Display for UnhealthyResource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ", self.kind)?;
        if !self.namespace.is_empty() {
            write!(f, "{}/", self.namespace)?;
        }
        write!(f, "{} is {}", self.name, self.status)?;
        if !self.message.is_empty() {
            write!(f, ": {}", self.message)?;
        }
        Ok(())
    }
}

/// Why the Application is not ready, when that is final.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Failure {
    /// One sentence.
    pub summary: String,
    /// The resources to look at.
    pub resources: Vec<UnhealthyResource>,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.summary)?;
        for (i, r) in self.resources.iter().enumerate() {
            f.write_str(if i == 0 { ": " } else { "; " })?;
            write!(f, "{r}")?;
        }
        Ok(())
    }
}

/// What the status says about readiness at one revision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Synced at the revision and Healthy.
    Ready,
    /// Not yet; the reason, for the log and the deadline's message.
    Waiting(String),
    /// Degraded at the revision: waiting longer will not help.
    Failed(Failure),
}

impl Application {
    /// True when the last comparison was made against `revision`.
    pub fn at_revision(&self, revision: &str) -> bool {
        let sync = &self.status.sync;
        same_revision(&sync.revision, revision)
            || sync.revisions.iter().any(|r| same_revision(r, revision))
    }

    /// The revision the comparison was made against, for messages.
    pub fn compared_revision(&self) -> &str {
        let sync = &self.status.sync;
        if sync.revision.is_empty() {
            sync.revisions.first().map_or("", String::as_str)
        } else {
            &sync.revision
        }
    }

    /// Every resource whose health is known and not Healthy (resources
    /// without a health check are left out), then every resource the last
    /// sync failed to apply and every failed hook.
    pub fn unhealthy_resources(&self) -> Vec<UnhealthyResource> {
        let mut out: Vec<UnhealthyResource> = self
            .status
            .resources
            .iter()
            .filter_map(|r| {
                let health = r.health.as_ref()?;
                (health.status != HealthCode::Healthy).then(|| UnhealthyResource {
                    kind: r.kind.clone(),
                    namespace: r.namespace.clone(),
                    name: r.name.clone(),
                    status: health.status.to_string(),
                    message: health.message.clone(),
                })
            })
            .collect();
        out.extend(self.failed_sync_resources());
        out
    }

    /// Resources the last sync operation failed to apply, and failed hooks.
    pub fn failed_sync_resources(&self) -> Vec<UnhealthyResource> {
        let Some(result) = self
            .status
            .operation_state
            .as_ref()
            .and_then(|o| o.sync_result.as_ref())
        else {
            return Vec::new();
        };
        result
            .resources
            .iter()
            .filter(|r| {
                r.status == "SyncFailed" || matches!(r.hook_phase.as_str(), "Failed" | "Error")
            })
            .map(|r| UnhealthyResource {
                kind: r.kind.clone(),
                namespace: r.namespace.clone(),
                name: r.name.clone(),
                status: if r.status == "SyncFailed" || r.status.is_empty() {
                    "SyncFailed".to_string()
                } else {
                    format!("hook {}", r.hook_phase)
                },
                message: r.message.clone(),
            })
            .collect()
    }

    /// The last sync operation, when it failed or errored.
    pub fn failed_operation(&self) -> Option<&OperationState> {
        self.status
            .operation_state
            .as_ref()
            .filter(|o| matches!(o.phase.as_str(), "Failed" | "Error"))
    }

    /// The controller's conditions, one line.
    pub fn conditions_line(&self) -> Option<String> {
        let parts: Vec<String> = self
            .status
            .conditions
            .iter()
            .map(|c| format!("{}: {}", c.kind, c.message))
            .collect();
        (!parts.is_empty()).then(|| parts.join("; "))
    }
}

/// Git revisions compare by their full hex name, case aside.
fn same_revision(a: &str, b: &str) -> bool {
    !a.is_empty() && a.eq_ignore_ascii_case(b)
}

/// The verdict on `app` for `revision`: ready when `status.sync.status` is
/// `Synced` at the revision and `status.health.status` is `Healthy`;
/// failed when the Application is `Degraded` at the revision (the new
/// state is applied and broken: a crash-looping pod, a Deployment past its
/// progress deadline); waiting otherwise, with the reason.
pub fn verdict(app: &Application, revision: &str) -> Verdict {
    let status = &app.status;
    let at = app.at_revision(revision);
    let health = status.health.status;
    if at && status.sync.status == "Synced" && health == HealthCode::Healthy {
        return Verdict::Ready;
    }
    if at && health == HealthCode::Degraded {
        let mut summary = format!(
            "Application {} is Degraded at revision {}",
            app.metadata.name,
            short(revision)
        );
        if !status.health.message.is_empty() {
            summary.push_str(&format!(" ({})", status.health.message));
        }
        let resources = app.unhealthy_resources();
        if resources.is_empty() && status.resource_health_source == "appTree" {
            summary.push_str(
                "; the controller keeps resource health in its app tree (resourceHealthSource: appTree), see the Application's page",
            );
        }
        return Verdict::Failed(Failure { summary, resources });
    }
    let mut reason = if !at {
        let compared = app.compared_revision();
        if compared.is_empty() {
            format!(
                "not compared with a revision yet, waiting for {}",
                short(revision)
            )
        } else {
            format!(
                "at revision {}, waiting for {}",
                short(compared),
                short(revision)
            )
        }
    } else {
        let sync = if status.sync.status.is_empty() {
            "Unknown"
        } else {
            status.sync.status.as_str()
        };
        let mut r = format!("sync {sync}, health {health}");
        if !status.health.message.is_empty() {
            r.push_str(&format!(" ({})", status.health.message));
        }
        r
    };
    if let Some(op) = &status.operation_state
        && !op.phase.is_empty()
        && op.phase != "Succeeded"
    {
        reason.push_str(&format!("; last operation {}", op.phase));
        if !op.message.is_empty() {
            reason.push_str(&format!(": {}", op.message));
        }
    }
    if let Some(conditions) = app.conditions_line() {
        reason.push_str(&format!("; {conditions}"));
    }
    Verdict::Waiting(reason)
}

/// The first 12 characters of a revision, for messages.
pub fn short(revision: &str) -> &str {
    &revision[..revision.len().min(12)]
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const REV: &str = "6dcb09b5b57875f334f61aebed695e2e4193db5e";
    const OLD: &str = "7638417db6d59f3c431d3e1f261cc637155684cd";

    fn app(sync: &str, revision: &str, health: &str) -> serde_json::Value {
        json!({
            "metadata": {"name": "sbx-pr-42", "namespace": "argocd"},
            "status": {
                "sync": {"status": sync, "revision": revision},
                "health": {"status": health},
                "resources": [
                    {"group": "apps", "version": "v1", "kind": "Deployment", "namespace": "apps-sbx-pr-42", "name": "web", "status": sync, "health": {"status": health}},
                    {"version": "v1", "kind": "ConfigMap", "namespace": "apps-sbx-pr-42", "name": "web-config", "status": "Synced"}
                ]
            }
        })
    }

    fn decide(v: serde_json::Value) -> Verdict {
        verdict(&serde_json::from_value(v).unwrap(), REV)
    }

    #[test]
    fn synced_and_healthy_at_the_revision_is_ready() {
        assert_eq!(decide(app("Synced", REV, "Healthy")), Verdict::Ready);
        // The revision's case does not matter; a multi-source app lists it.
        assert_eq!(
            decide(app("Synced", &REV.to_uppercase(), "Healthy")),
            Verdict::Ready
        );
        let mut multi = app("Synced", "", "Healthy");
        multi["status"]["sync"]["revisions"] = json!([OLD, REV]);
        assert_eq!(decide(multi), Verdict::Ready);
    }

    #[test]
    fn healthy_at_another_revision_keeps_waiting() {
        let Verdict::Waiting(why) = decide(app("Synced", OLD, "Healthy")) else {
            panic!("not waiting");
        };
        assert_eq!(why, "at revision 7638417db6d5, waiting for 6dcb09b5b578");
        let Verdict::Waiting(why) = decide(app("OutOfSync", REV, "Progressing")) else {
            panic!("not waiting");
        };
        assert!(
            why.starts_with("sync OutOfSync, health Progressing"),
            "{why}"
        );
        // Degraded at an older revision: the new one may fix it.
        assert!(matches!(
            decide(app("Synced", OLD, "Degraded")),
            Verdict::Waiting(_)
        ));
        // Nothing observed yet (a fresh Application has no status).
        let Verdict::Waiting(why) = decide(json!({"metadata": {"name": "x"}})) else {
            panic!("not waiting");
        };
        assert!(why.starts_with("not compared with a revision yet"), "{why}");
    }

    #[test]
    fn degraded_at_the_revision_fails_naming_the_resources() {
        let mut v = app("Synced", REV, "Degraded");
        v["status"]["resources"][0]["health"]["message"] =
            json!("Deployment \"web\" exceeded its progress deadline");
        let Verdict::Failed(failure) = decide(v) else {
            panic!("not failed");
        };
        // The ConfigMap has no health check: not named.
        assert_eq!(failure.resources.len(), 1);
        assert_eq!(
            failure.to_string(),
            "Application sbx-pr-42 is Degraded at revision 6dcb09b5b578: Deployment apps-sbx-pr-42/web is Degraded: Deployment \"web\" exceeded its progress deadline"
        );
    }

    #[test]
    fn a_failed_sync_names_what_it_could_not_apply() {
        let mut v = app("OutOfSync", REV, "Missing");
        v["status"]["operationState"] = json!({
            "phase": "Failed",
            "message": "one or more objects failed to apply",
            "startedAt": "2026-12-02T10:00:00Z",
            "operation": {"sync": {"revision": REV}},
            "syncResult": {"revision": REV, "resources": [
                {"group": "apps", "version": "v1", "kind": "Deployment", "namespace": "apps-sbx-pr-42", "name": "web", "status": "SyncFailed", "message": "spec.replicas: Invalid value: -1"},
                {"group": "", "version": "v1", "kind": "Service", "namespace": "apps-sbx-pr-42", "name": "web", "status": "Synced", "message": "service/web created"}
            ]}
        });
        let a: Application = serde_json::from_value(v).unwrap();
        let Verdict::Waiting(why) = verdict(&a, REV) else {
            panic!("not waiting");
        };
        assert!(
            why.contains("last operation Failed: one or more objects failed to apply"),
            "{why}"
        );
        assert!(a.failed_operation().is_some());
        let failed = a.failed_sync_resources();
        assert_eq!(failed.len(), 1);
        assert_eq!(
            failed[0].to_string(),
            "Deployment apps-sbx-pr-42/web is SyncFailed: spec.replicas: Invalid value: -1"
        );
    }

    #[test]
    fn unknown_health_codes_read_as_unknown() {
        let a: Application = serde_json::from_value(app("Synced", REV, "SomethingNew")).unwrap();
        assert_eq!(a.status.health.status, HealthCode::Unknown);
        assert!(matches!(verdict(&a, REV), Verdict::Waiting(_)));
    }
}
