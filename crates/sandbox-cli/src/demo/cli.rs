//! `sandbox demo` as a command: its flags, the database it restores into
//! (the user's, a throwaway local server, or none), the tasks' log level,
//! and the exit code of the run.

use super::{Database, Options, postgres};
use clap::Args;
use sandbox_core::env_vars;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// The flags of `sandbox demo`.
#[derive(Debug, Clone, Args)]
#[command(
    after_help = "restore-db runs against --database-url, or a throwaway server started from the \
                  machine's PostgreSQL binaries; without either it is skipped with the reason.\n\
                  Exit codes: 0 every step succeeded or was skipped and nothing was left, \
                  1 a step failed or something was left, 2 the demo could not start."
)]
pub struct DemoArgs {
    /// Build the world in this (new or empty) directory [default: a new temp dir].
    #[arg(long, value_name = "DIR")]
    pub world: Option<PathBuf>,
    /// Stop after the create pipeline and leave the sandbox in place.
    #[arg(long, conflicts_with = "delete")]
    pub keep: bool,
    /// Only run the delete pipeline, against the --world of an earlier run
    /// (after --keep, or a run that was interrupted); pass the same
    /// --pr-number and --database-url.
    #[arg(long, requires = "world")]
    pub delete: bool,
    /// The sample pull request's number.
    #[arg(long, value_name = "N", default_value_t = 42, value_parser = clap::value_parser!(u32).range(1..))]
    pub pr_number: u32,
    /// PostgreSQL server to restore into (a URL without a password).
    #[arg(long, env = env_vars::DATABASE_URL, value_name = "URL")]
    pub database_url: Option<String>,
    /// Do not start a local PostgreSQL server; skip restore-db unless --database-url is given.
    #[arg(long)]
    pub no_local_postgres: bool,
    /// Show the tasks' own logs (SANDBOX_LOG_LEVEL, default warn).
    #[arg(long)]
    pub verbose: bool,
    /// Print each step's time on stdout in this format (the report goes to stderr).
    #[arg(long, value_name = "FORMAT", value_enum)]
    pub timings: Option<Timings>,
}

/// How `--timings` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Timings {
    /// One JSON document: every step's time in ms, and restore-db's
    /// strategy beside what a restore of the same backup took.
    Json,
}

/// Run the demo: 0 when every step succeeded or was skipped and nothing
/// was left, 1 when a step failed, something was left or the report could
/// not be written, 2 when the demo could not start (bad flags, a world
/// directory that is not empty, a local server that would not start).
#[allow(clippy::print_stderr)]
pub fn run(args: DemoArgs) -> ExitCode {
    match start_and_run(args) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(Failure::CouldNotStart(message)) => {
            eprintln!("sandbox demo: could not start: {message}");
            ExitCode::from(2)
        }
        Err(Failure::Run(message)) => {
            eprintln!("sandbox demo: {message}");
            ExitCode::from(1)
        }
    }
}

enum Failure {
    CouldNotStart(String),
    Run(String),
}

#[allow(clippy::print_stderr)]
fn start_and_run(args: DemoArgs) -> Result<bool, Failure> {
    if let Some(url) = &args.database_url
        && url_has_password(url)
    {
        return Err(Failure::CouldNotStart(
            "--database-url must not carry a password: use a local trust or peer login, or PGPASSWORD"
                .into(),
        ));
    }
    let scratch = args.world.clone().unwrap_or_else(|| {
        std::env::temp_dir().join(format!("sandbox-demo-{}", std::process::id()))
    });
    // restore-db runs when a server is reachable: the user's, or a
    // throwaway one from the machine's own PostgreSQL binaries. A kept
    // sandbox's database lives on the server of the run that made it:
    // --delete never starts a new one.
    let no_local_postgres = args.no_local_postgres || args.delete;
    let mut local = None;
    let database = match (&args.database_url, no_local_postgres) {
        (Some(url), _) => Database::Url(url.clone()),
        (None, true) => Database::Skipped("--no-local-postgres and no --database-url".into()),
        (None, false) => match postgres::find_server_binaries() {
            None => Database::Skipped(
                "no PostgreSQL server binaries (initdb, pg_ctl) found: install postgresql, or pass --database-url".into(),
            ),
            Some(bin) => {
                let dir = scratch.with_file_name(format!(
                    "{}-postgres",
                    scratch
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_default()
                ));
                std::fs::create_dir_all(&dir).map_err(|e| {
                    Failure::CouldNotStart(format!("cannot create {}: {e}", dir.display()))
                })?;
                let server = postgres::LocalPostgres::start(&bin, &dir)
                    .map_err(|e| Failure::CouldNotStart(format!("{e:#}")))?;
                let url = server.url();
                // The same version's psql and pg_restore for restore-db.
                set_env(env_vars::PGBIN, &server.bin);
                local = Some((server, dir));
                Database::Url(url)
            }
        },
    };
    if !args.verbose && std::env::var_os(env_vars::LOG_LEVEL).is_none() {
        set_env(env_vars::LOG_LEVEL, Path::new("warn"));
    }
    sandbox_core::telemetry::init(sandbox_core::telemetry::LogFormat::Text);
    let options = Options {
        world: Some(scratch),
        keep: args.keep,
        delete_only: args.delete,
        pr_number: args.pr_number,
        database,
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::CouldNotStart(format!("cannot start the async runtime: {e}")))?;
    // With --timings the report goes to stderr and stdout holds only the
    // timings, for a script to read.
    let result = if args.timings.is_some() {
        let mut stderr = std::io::stderr().lock();
        runtime.block_on(super::run(&options, &mut stderr))
    } else {
        let mut stdout = std::io::stdout().lock();
        runtime.block_on(super::run(&options, &mut stdout))
    };
    if let (Some(Timings::Json), Ok(report)) = (args.timings, &result) {
        let mut stdout = std::io::stdout().lock();
        writeln!(stdout, "{}", report.timings_json())
            .map_err(|e| Failure::Run(format!("cannot write the timings: {e}")))?;
    }
    if let Some((server, dir)) = local {
        if args.keep {
            eprintln!(
                "sandbox demo: the local PostgreSQL server keeps running for --keep (data in {})",
                dir.display()
            );
        } else if let Err(e) = server.stop() {
            eprintln!("sandbox demo: {e}");
        }
    }
    match result {
        Ok(report) => Ok(report.ok()),
        Err(super::DemoError::Setup(message)) => Err(Failure::CouldNotStart(message)),
        Err(e @ super::DemoError::Output(_)) => Err(Failure::Run(format!("{e}"))),
    }
}

/// `postgres://user:password@…`: a password the demo would print.
fn url_has_password(url: &str) -> bool {
    url.split_once("://")
        .and_then(|(_, rest)| rest.split(['/', '?']).next())
        .and_then(|authority| authority.rsplit_once('@'))
        .is_some_and(|(user, _)| user.contains(':'))
}

/// Set a variable for the tasks the demo runs in this process.
fn set_env(name: &str, value: &Path) {
    // SAFETY: called before the async runtime starts, while this process
    // has a single thread, so no other thread can read the environment.
    #[allow(unsafe_code)]
    unsafe {
        std::env::set_var(name, value);
    }
}

#[cfg(test)]
mod tests {
    use super::url_has_password;

    #[test]
    fn a_password_in_the_database_url_is_spotted() {
        assert!(url_has_password("postgres://u:p@127.0.0.1:5432/db"));
        assert!(!url_has_password("postgres://u@127.0.0.1:5432/db"));
        assert!(!url_has_password("postgres:///db?host=/run/postgresql"));
    }
}
