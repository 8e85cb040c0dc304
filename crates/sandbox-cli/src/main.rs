//! `sandbox`: try the pipelines and check sandbox workflows and event wiring
//! without a cluster.
//!
//! Exit codes: `demo` 0 when every step succeeded (or was skipped, with the
//! reason) and nothing was left, 1 otherwise, 2 when it could not start;
//! `lint` 0 clean, 1 findings, 2 unreadable input;
//! `sensor-test` 0 whether or not anything fires, 2 unreadable input.

use anyhow::{Context as _, Result, bail};
use clap::{Parser, Subcommand, ValueEnum};
use sandbox_cli::{demo, lint, sensor, yaml};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Debug, Parser)]
#[command(
    name = "sandbox",
    version,
    about = "Try the sandbox pipelines and check their workflows and event wiring, without a cluster"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the create and delete pipelines for a sample pull request on a
    /// local world (Git repository, bucket directory, nightly backup), with
    /// the same task code as the workflows; no cluster, no network.
    #[command(
        after_help = "restore-db runs against --database-url, or a throwaway server started from the \
                            machine's PostgreSQL binaries; without either it is skipped with the reason.\n\
                            Exit codes: 0 every step succeeded or was skipped and nothing was left, \
                            1 a step failed or something was left, 2 the demo could not start."
    )]
    Demo {
        /// Build the world in this (new or empty) directory [default: a new temp dir].
        #[arg(long, value_name = "DIR")]
        world: Option<PathBuf>,
        /// Stop after the create pipeline and leave the sandbox in place.
        #[arg(long, conflicts_with = "delete")]
        keep: bool,
        /// Only run the delete pipeline, against the --world of an earlier run
        /// (after --keep, or a run that was interrupted); pass the same
        /// --pr-number and --database-url.
        #[arg(long, requires = "world")]
        delete: bool,
        /// The sample pull request's number.
        #[arg(long, value_name = "N", default_value_t = 42, value_parser = clap::value_parser!(u32).range(1..))]
        pr_number: u32,
        /// PostgreSQL server to restore into (a URL without a password).
        #[arg(long, env = "SANDBOX_DATABASE_URL", value_name = "URL")]
        database_url: Option<String>,
        /// Do not start a local PostgreSQL server; skip restore-db unless --database-url is given.
        #[arg(long)]
        no_local_postgres: bool,
        /// Show the tasks' own logs (SANDBOX_LOG_LEVEL, default warn).
        #[arg(long)]
        verbose: bool,
    },
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
        Command::Demo {
            world,
            keep,
            delete,
            pr_number,
            database_url,
            no_local_postgres,
            verbose,
        } => run_demo(
            world,
            (keep, delete),
            pr_number,
            database_url,
            no_local_postgres,
            verbose,
        )
        .map_err(Unreadable),
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
fn run_demo(
    world: Option<PathBuf>,
    (keep, delete): (bool, bool),
    pr_number: u32,
    database_url: Option<String>,
    no_local_postgres: bool,
    verbose: bool,
) -> Result<ExitCode> {
    if let Some(url) = &database_url {
        let has_password = url
            .split_once("://")
            .and_then(|(_, rest)| rest.split(['/', '?']).next())
            .and_then(|authority| authority.rsplit_once('@'))
            .is_some_and(|(user, _)| user.contains(':'));
        if has_password {
            bail!(
                "--database-url must not carry a password: use a local trust or peer login, or PGPASSWORD"
            );
        }
    }
    let scratch = world.clone().unwrap_or_else(|| {
        std::env::temp_dir().join(format!("sandbox-demo-{}", std::process::id()))
    });
    // restore-db runs when a server is reachable: the user's, or a
    // throwaway one from the machine's own PostgreSQL binaries.
    let mut local = None;
    // A kept sandbox's database lives on the server of the run that made
    // it: --delete never starts a new one.
    let no_local_postgres = no_local_postgres || delete;
    let database = match (&database_url, no_local_postgres) {
        (Some(url), _) => demo::Database::Url(url.clone()),
        (None, true) => demo::Database::Skipped("--no-local-postgres and no --database-url".into()),
        (None, false) => match demo::postgres::find_server_binaries() {
            None => demo::Database::Skipped(
                "no PostgreSQL server binaries (initdb, pg_ctl) found: install postgresql, or pass --database-url".into(),
            ),
            Some(bin) => {
                let dir = scratch.with_file_name(format!(
                    "{}-postgres",
                    scratch.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
                ));
                std::fs::create_dir_all(&dir).with_context(|| format!("create {}", dir.display()))?;
                let server = demo::postgres::LocalPostgres::start(&bin, &dir)?;
                let url = server.url();
                // The same version's psql and pg_restore for restore-db.
                set_env("SANDBOX_PGBIN", &server.bin);
                local = Some((server, dir));
                demo::Database::Url(url)
            }
        },
    };
    if !verbose && std::env::var_os("SANDBOX_LOG_LEVEL").is_none() {
        set_env("SANDBOX_LOG_LEVEL", std::path::Path::new("warn"));
    }
    sandbox_core::telemetry::init(sandbox_core::telemetry::LogFormat::Text);
    let options = demo::Options {
        world: Some(scratch),
        keep,
        delete_only: delete,
        pr_number,
        database,
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("start the async runtime")?;
    let mut stdout = std::io::stdout().lock();
    let result = runtime.block_on(demo::run(&options, &mut stdout));
    if let Some((server, dir)) = local {
        if keep {
            eprintln!(
                "sandbox demo: the local PostgreSQL server keeps running for --keep (data in {})",
                dir.display()
            );
        } else if let Err(e) = server.stop() {
            eprintln!("sandbox demo: {e}");
        }
    }
    let report = result?;
    Ok(if report.ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Set a variable for the tasks the demo runs in this process.
fn set_env(name: &str, value: &std::path::Path) {
    // SAFETY: called before the async runtime starts, while this process
    // has a single thread, so no other thread can read the environment.
    #[allow(unsafe_code)]
    unsafe {
        std::env::set_var(name, value);
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
