//! The kubectl that renders overlays, and who stays awake when sandboxes are hibernated: a pull-request label
//! (read from one listing of the open pull requests) or the Application
//! annotation `argo-sandbox.io/keep-awake: "true"`.

use clap::Args;
use sandbox_core::Problem;
use sandbox_core::params::Problems;
use std::path::PathBuf;

/// The label that keeps a sandbox awake, and the schedules the savings
/// are counted from.
#[derive(Debug, Clone, Args)]
pub struct SleepArgs {
    /// A PR label that keeps its sandbox awake when the others hibernate.
    #[arg(
        long,
        env = "SANDBOX_KEEP_AWAKE_LABEL",
        value_name = "LABEL",
        default_value = "keep-awake"
    )]
    pub keep_awake_label: String,
    /// When sandboxes are put to sleep (the sandbox-hibernate CronWorkflow's schedule), for the savings line.
    #[arg(
        long,
        env = "SANDBOX_SLEEP_SCHEDULE",
        value_name = "CRON",
        default_value = DEFAULT_SLEEP
    )]
    pub sleep_schedule: String,
    /// When they wake (the sandbox-wake CronWorkflow's schedule), for the savings line.
    #[arg(
        long,
        env = "SANDBOX_WAKE_SCHEDULE",
        value_name = "CRON",
        default_value = DEFAULT_WAKE
    )]
    pub wake_schedule: String,
}

/// Weekdays at 20:00.
const DEFAULT_SLEEP: &str = "0 20 * * 1-5";
/// Weekdays at 07:30.
const DEFAULT_WAKE: &str = "30 7 * * 1-5";

impl Default for SleepArgs {
    fn default() -> Self {
        SleepArgs {
            keep_awake_label: "keep-awake".into(),
            sleep_schedule: DEFAULT_SLEEP.into(),
            wake_schedule: DEFAULT_WAKE.into(),
        }
    }
}

/// A validated sleep group.
#[derive(Debug, Clone)]
pub struct SleepPlan {
    /// The keep-awake label.
    pub label: String,
    /// Hours a week a sandbox sleeps between the two schedules.
    pub hours_per_week: f64,
}

impl SleepArgs {
    /// The label (a GitHub label name: 1-50 characters) and the schedules
    /// (five-field cron, as a CronWorkflow takes them).
    pub fn validate(&self, problems: &mut Problems) -> Option<SleepPlan> {
        use sandbox_core::schedule::{Schedule, asleep_minutes_per_week};
        let mut schedule = |field: &str, text: &str, default: &str| match Schedule::parse(text) {
            Ok(s) => Some(s),
            Err(e) => {
                problems.push(Problem {
                    field: field.into(),
                    rule: "cron-schedule".into(),
                    message: format!("{field} is not a schedule: {e}"),
                    value: Some(text.to_string()),
                    fix: format!("pass the CronWorkflow's schedule, e.g. \"{default}\""),
                });
                None
            }
        };
        let sleep = schedule("sleep_schedule", &self.sleep_schedule, DEFAULT_SLEEP);
        let wake = schedule("wake_schedule", &self.wake_schedule, DEFAULT_WAKE);
        let label = self.keep_awake_label.trim();
        if label.is_empty() || label.chars().count() > 50 {
            problems.push(Problem {
                field: "keep_awake_label".into(),
                rule: "github-label".into(),
                message: "keep_awake_label must be a GitHub label name (1-50 characters)".into(),
                value: Some(self.keep_awake_label.clone()),
                fix: "keep the default keep-awake".into(),
            });
            return None;
        }
        Some(SleepPlan {
            label: label.to_string(),
            hours_per_week: f64::from(asleep_minutes_per_week(&sleep?, &wake?)) / 60.0,
        })
    }
}

/// The kubectl that renders overlays (`kubectl kustomize`).
#[derive(Debug, Clone, Args)]
pub struct KubectlArgs {
    /// The kubectl that renders overlays with `kubectl kustomize`.
    #[arg(
        long,
        env = "SANDBOX_KUBECTL",
        value_name = "PATH",
        default_value = "kubectl"
    )]
    pub kubectl: PathBuf,
}

impl Default for KubectlArgs {
    fn default() -> Self {
        KubectlArgs {
            kubectl: "kubectl".into(),
        }
    }
}
