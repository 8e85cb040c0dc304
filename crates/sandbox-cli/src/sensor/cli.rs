//! `sandbox sensor-test` as a command: read the Sensor and the event,
//! evaluate, print text or JSON.

use crate::yaml;
use anyhow::{Context as _, Result};
use clap::{Args, ValueEnum};
use std::io::Write as _;
use std::path::Path;
use std::path::PathBuf;
use std::process::ExitCode;

/// The flags of `sandbox sensor-test`.
#[derive(Debug, Clone, Args)]
#[command(
    after_help = "Exit codes: 0 evaluated (whether or not anything fires), 2 unreadable input."
)]
pub struct SensorTestArgs {
    /// The Sensor (YAML; the first Sensor document is used).
    #[arg(long, value_name = "FILE")]
    pub sensor: PathBuf,
    /// The event: Argo Events event data ({"headers":…,"body":…}) or a
    /// raw GitHub webhook body.
    #[arg(long, value_name = "FILE")]
    pub event: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// The X-GitHub-Event a raw GitHub body is wrapped with.
    #[arg(long, value_name = "EVENT", default_value = "pull_request")]
    pub github_event: String,
    /// The event file is the event's data exactly as the Sensor sees it
    /// (a non-GitHub payload): do not wrap it.
    #[arg(long, conflicts_with = "github_event")]
    pub as_event_data: bool,
}

/// How the result is printed.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Format {
    /// For people.
    Text,
    /// The JSON shape of DESIGN §6.
    Json,
}

/// Evaluate and print; 2 when an input cannot be read.
#[allow(clippy::print_stderr)]
pub fn run(args: SensorTestArgs) -> ExitCode {
    let wrap = (!args.as_event_data).then_some(args.github_event.as_str());
    match evaluate_files(&args.sensor, &args.event, args.format, wrap) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("sandbox sensor-test: {error:#}");
            ExitCode::from(2)
        }
    }
}

fn evaluate_files(
    sensor_file: &Path,
    event_file: &Path,
    format: Format,
    github_event: Option<&str>,
) -> Result<ExitCode> {
    let text = std::fs::read_to_string(sensor_file)
        .with_context(|| format!("cannot read {}", sensor_file.display()))?;
    let docs = yaml::parse_documents(&text)
        .with_context(|| format!("{} is not YAML", sensor_file.display()))?;
    let sensor = docs
        .iter()
        .find(|d| d.get("kind").and_then(yaml::Node::as_str) == Some("Sensor"))
        .with_context(|| format!("{} has no Sensor document", sensor_file.display()))?
        .to_json();
    let event_text = std::fs::read_to_string(event_file)
        .with_context(|| format!("cannot read {}", event_file.display()))?;
    let event: serde_json::Value = serde_json::from_str(&event_text)
        .with_context(|| format!("{} is not JSON", event_file.display()))?;
    let data = match github_event {
        Some(github_event) => super::event::event_data(event, github_event),
        None => event,
    };
    let evaluation = super::evaluate(&sensor, &data);
    let out = match format {
        Format::Text => super::render_text(&evaluation),
        Format::Json => {
            serde_json::to_string_pretty(&evaluation).context("encode the result")? + "\n"
        }
    };
    std::io::stdout()
        .lock()
        .write_all(out.as_bytes())
        .context("write the result")?;
    Ok(ExitCode::SUCCESS)
}
