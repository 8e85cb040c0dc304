//! `sandbox sensor-test` as a command: read the Sensor and the event,
//! evaluate, print text or JSON.

use super::event::{self, Event, Target};
use crate::yaml;
use anyhow::{Context as _, Result};
use clap::{Args, ValueEnum};
use std::io::Write as _;
use std::path::Path;
use std::path::PathBuf;
use std::process::ExitCode;

/// Exit code with `--strict` when something could not be evaluated.
pub const EXIT_UNSUPPORTED: u8 = 3;

/// The flags of `sandbox sensor-test`.
#[derive(Debug, Clone, Args)]
#[command(
    after_help = "Exit codes: 0 evaluated (whether or not anything fires), \
2 unreadable input, 3 with --strict when anything was unsupported (a filter's \
`why` or a trigger's warning starting `unsupported:`)."
)]
pub struct SensorTestArgs {
    /// The Sensor (YAML; the first Sensor document is used).
    #[arg(long, value_name = "FILE")]
    pub sensor: PathBuf,
    /// An event, repeatable, delivered in the order given. `FILE` reaches
    /// every dependency; `SOURCE:NAME=FILE` only the dependencies with that
    /// `eventSourceName` and `eventName` (`SOURCE=FILE` or `SOURCE:*=FILE`:
    /// any event name). The file is Argo Events event data
    /// ({"headers":…,"body":…}), an event with its context
    /// ({"context":{"type","source","subject","time",…},"data":…}), or a raw
    /// GitHub webhook body.
    #[arg(long, value_name = "[SOURCE:NAME=]FILE", required = true)]
    pub event: Vec<String>,
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
    /// Exit 3 when anything could not be evaluated.
    #[arg(long)]
    pub strict: bool,
}

/// How the result is printed.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Format {
    /// For people.
    Text,
    /// The JSON shape of DESIGN §6.
    Json,
}

/// Evaluate and print; 2 when an input cannot be read, 3 with `--strict`
/// when anything was unsupported.
#[allow(clippy::print_stderr)]
pub fn run(args: SensorTestArgs) -> ExitCode {
    match evaluate_files(&args) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("sandbox sensor-test: {error:#}");
            ExitCode::from(2)
        }
    }
}

/// Split `--event [SOURCE:NAME=]FILE`: a value that names an existing file
/// is a file, whatever it holds.
fn event_arg(arg: &str) -> (Option<Target>, PathBuf) {
    if !Path::new(arg).exists()
        && let Some((name, file)) = arg.split_once('=')
    {
        return (Some(Target::parse(name)), PathBuf::from(file));
    }
    (None, PathBuf::from(arg))
}

fn evaluate_files(args: &SensorTestArgs) -> Result<ExitCode> {
    let sensor_file = &args.sensor;
    let text = std::fs::read_to_string(sensor_file)
        .with_context(|| format!("cannot read {}", sensor_file.display()))?;
    let docs = yaml::parse_documents(&text)
        .with_context(|| format!("{} is not YAML", sensor_file.display()))?;
    let sensor = docs
        .iter()
        .find(|d| d.get("kind").and_then(yaml::Node::as_str) == Some("Sensor"))
        .with_context(|| format!("{} has no Sensor document", sensor_file.display()))?
        .to_json();
    let wrap = (!args.as_event_data).then_some(args.github_event.as_str());
    let mut events = Vec::new();
    for arg in &args.event {
        let (target, file) = event_arg(arg);
        let event_text = std::fs::read_to_string(&file)
            .with_context(|| format!("--event {arg}: cannot read {}", file.display()))?;
        let (context, data) = event::load(&event_text, wrap)
            .map_err(anyhow::Error::msg)
            .with_context(|| format!("--event {arg}: {}", file.display()))?;
        events.push(Event {
            label: arg.clone(),
            target,
            context,
            data,
        });
    }
    let evaluation = super::evaluate(&sensor, &events);
    let out = match args.format {
        Format::Text => super::render_text(&evaluation),
        Format::Json => {
            serde_json::to_string_pretty(&evaluation).context("encode the result")? + "\n"
        }
    };
    std::io::stdout()
        .lock()
        .write_all(out.as_bytes())
        .context("write the result")?;
    if args.strict && evaluation.has_unsupported() {
        return Ok(ExitCode::from(EXIT_UNSUPPORTED));
    }
    Ok(ExitCode::SUCCESS)
}
