//! `sandbox`: check sandbox workflows and event wiring without a cluster.
//!
//! Exit codes: `lint` 0 clean, 1 findings, 2 unreadable input;
//! `sensor-test` 0 whether or not anything fires, 2 unreadable input.

use anyhow::{Context as _, Result, bail};
use clap::{Parser, Subcommand, ValueEnum};
use sandbox_cli::{lint, sensor, yaml};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Debug, Parser)]
#[command(
    name = "sandbox",
    version,
    about = "Check sandbox workflows and event wiring without a cluster"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Lint Argo Workflows / Argo Events YAML: unknown keys, dangling
    /// templateRefs, arguments, references, plugin steps, images, filters.
    #[command(after_help = "Prints file:line: rule: message per finding.\n\
                            Exit codes: 0 clean, 1 findings, 2 unreadable input.")]
    Lint {
        /// Files or directories (searched recursively for *.yaml and *.yml).
        #[arg(required = true, value_name = "PATH")]
        paths: Vec<PathBuf>,
        /// Do not report this rule (repeatable): unknown-key, wrong-type,
        /// template-ref, missing-argument, unknown-argument,
        /// unknown-reference, plugin, unpinned-image, hyphen-in-expression,
        /// unanchored-filter.
        #[arg(long, value_name = "RULE")]
        skip: Vec<String>,
    },
    /// Evaluate a Sensor against one event as Argo Events would: filters,
    /// triggers, and the resource each trigger submits.
    #[command(
        after_help = "Exit codes: 0 evaluated (whether or not anything fires), 2 unreadable input."
    )]
    SensorTest {
        /// The Sensor (YAML; the first Sensor document is used).
        #[arg(long, value_name = "FILE")]
        sensor: PathBuf,
        /// The event: Argo Events event data ({"headers":…,"body":…}) or a
        /// raw GitHub webhook body.
        #[arg(long, value_name = "FILE")]
        event: PathBuf,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
        /// The X-GitHub-Event a raw GitHub body is wrapped with.
        #[arg(long, value_name = "EVENT", default_value = "pull_request")]
        github_event: String,
        /// The event file is the event's data exactly as the Sensor sees it
        /// (a non-GitHub payload): do not wrap it.
        #[arg(long, conflicts_with = "github_event")]
        as_event_data: bool,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Format {
    Text,
    Json,
}

/// Input that could not be read: exit 2.
#[derive(Debug)]
struct Unreadable(anyhow::Error);

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(error) => {
            #[allow(clippy::print_stderr)]
            {
                eprintln!("sandbox: {:#}", error.0);
            }
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode, Unreadable> {
    match cli.command {
        Command::Lint { paths, skip } => run_lint(&paths, skip).map_err(Unreadable),
        Command::SensorTest {
            sensor,
            event,
            format,
            github_event,
            as_event_data,
        } => {
            let wrap = (!as_event_data).then_some(github_event.as_str());
            run_sensor_test(&sensor, &event, format, wrap).map_err(Unreadable)
        }
    }
}

#[allow(clippy::print_stderr)]
fn run_lint(paths: &[PathBuf], skip: Vec<String>) -> Result<ExitCode> {
    if let Some(unknown) = skip.iter().find(|s| !lint::RULES.contains(&s.as_str())) {
        bail!(
            "--skip {unknown}: no such rule (rules: {})",
            lint::RULES.join(", ")
        );
    }
    let report = lint::lint_paths(paths, &lint::Options { skip });
    let mut stdout = std::io::stdout().lock();
    for finding in &report.findings {
        writeln!(stdout, "{finding}").context("write findings")?;
    }
    for unreadable in &report.unreadable {
        eprintln!("{unreadable}");
    }
    eprintln!(
        "sandbox lint: {} finding(s) in {} document(s){}",
        report.findings.len(),
        report.documents,
        if report.unreadable.is_empty() {
            String::new()
        } else {
            format!(", {} unreadable file(s)", report.unreadable.len())
        }
    );
    Ok(if !report.unreadable.is_empty() {
        ExitCode::from(2)
    } else if report.findings.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn run_sensor_test(
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
        Some(github_event) => sensor::event::event_data(event, github_event),
        None => event,
    };
    let evaluation = sensor::evaluate(&sensor, &data);
    let out = match format {
        Format::Text => sensor::render_text(&evaluation),
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
