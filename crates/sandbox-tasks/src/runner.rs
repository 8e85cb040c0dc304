//! The doorway every task binary goes through (DESIGN §3): parse flags,
//! environment and `--params`, run the task, write the outputs, print one
//! JSON result on stdout, exit with the code of its outcome.

use crate::{Context, Task, params_file};
use clap::{Args, Command, FromArgMatches};
use sandbox_core::telemetry::{self, LogFormat};
use sandbox_core::{Outputs, Problem, TaskError, env_vars};
use serde_json::{Value, json};
use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

/// Flags every task binary has; they configure the run, not the task.
#[derive(Debug, Clone, Args)]
pub struct CommonArgs {
    /// Read parameters from a JSON or YAML object of snake_case keys; flags
    /// and SANDBOX_* environment variables win over it.
    #[arg(long, env = "SANDBOX_PARAMS", value_name = "FILE")]
    pub params: Option<PathBuf>,
    /// Write each output parameter to <DIR>/<name>.
    #[arg(long, env = env_vars::OUTPUTS_DIR, value_name = "DIR", default_value = "/tmp/outputs")]
    pub outputs_dir: PathBuf,
    /// Log format on stderr: text, json, or auto (json unless stderr is a terminal).
    #[arg(long, env = env_vars::LOG_FORMAT, value_name = "FORMAT", default_value = "auto")]
    pub log_format: LogFormat,
    /// Say what would be done (the task's plan, in its outputs and logs) and change nothing.
    #[arg(long, env = "SANDBOX_DRY_RUN")]
    pub dry_run: bool,
}

/// What parsing produced: the arguments, or an early exit.
pub enum Parsed<P> {
    /// Ready to run.
    Run(CommonArgs, P),
    /// `--help` or `--version` was printed.
    Exit,
}

/// The clap command of a task: its parameters plus the common flags.
pub fn command<T: Task>() -> Command {
    let cmd = Command::new(T::NAME)
        .version(env!("CARGO_PKG_VERSION"))
        .after_help(
            "Every flag also reads SANDBOX_<FLAG_NAME> from the environment.\n\
             Exit codes: 0 succeeded, 1 internal error, 2 invalid parameters, 3 precondition failed,\n\
             4 transient failure (safe to retry), 5 refused by a guard rail.",
        );
    T::Params::augment_args(CommonArgs::augment_args(cmd))
}

/// Parse `argv` (program name first) and the `--params` file it names.
pub fn parse<T: Task>(argv: Vec<OsString>) -> Result<Parsed<T::Params>, TaskError> {
    let mut cmd = ignore_empty_env(command::<T>());
    let matches = match cmd.try_get_matches_from_mut(argv.iter()) {
        Ok(m) => m,
        Err(e) => return clap_outcome(e),
    };
    let matches = match matches.get_one::<PathBuf>("params") {
        Some(file) => {
            let object = params_file::read(file)?;
            let mut all = argv;
            all.extend(params_file::to_args(&cmd, &object, Some(&matches))?);
            match cmd.try_get_matches_from_mut(all) {
                Ok(m) => m,
                Err(e) => return clap_outcome(e),
            }
        }
        None => matches,
    };
    let common = CommonArgs::from_arg_matches(&matches).map_err(|e| clap_problem(&e))?;
    let params = T::Params::from_arg_matches(&matches).map_err(|e| clap_problem(&e))?;
    Ok(Parsed::Run(common, params))
}

/// Build a task's parameters from an object (the plugin's `params`), with
/// the same rules as the binary's `--params` file; the run's flags it may
/// carry (`dry_run`) come back beside them.
pub fn params_from_object<T: Task>(
    object: &serde_json::Map<String, Value>,
) -> Result<(T::Params, CommonArgs), TaskError> {
    let mut cmd = command::<T>();
    let mut argv = vec![OsString::from(T::NAME)];
    argv.extend(params_file::to_args(&cmd, object, None)?);
    let matches = cmd
        .try_get_matches_from_mut(argv)
        .map_err(|e| clap_problem(&e))?;
    let common = CommonArgs::from_arg_matches(&matches).map_err(|e| clap_problem(&e))?;
    let params = T::Params::from_arg_matches(&matches).map_err(|e| clap_problem(&e))?;
    Ok((params, common))
}

/// A `SANDBOX_*` variable set to "" counts as unset: container templates
/// pass every optional input through the environment, empty when not given.
fn ignore_empty_env(cmd: Command) -> Command {
    let empty: Vec<String> = cmd
        .get_arguments()
        .filter(|a| {
            a.get_env()
                .is_some_and(|e| std::env::var_os(e).is_some_and(|v| v.is_empty()))
        })
        .map(|a| a.get_id().to_string())
        .collect();
    empty
        .into_iter()
        .fold(cmd, |cmd, id| cmd.mut_arg(id, |a| a.env(None)))
}

fn clap_outcome<P>(e: clap::Error) -> Result<Parsed<P>, TaskError> {
    use clap::error::ErrorKind as K;
    match e.kind() {
        K::DisplayHelp | K::DisplayVersion | K::DisplayHelpOnMissingArgumentOrSubcommand => {
            // Help is what the user asked for: it goes to stdout.
            let _ = e.print();
            Ok(Parsed::Exit)
        }
        _ => Err(clap_problem(&e)),
    }
}

/// A clap error as one invalid-params problem naming the parameter.
fn clap_problem(e: &clap::Error) -> TaskError {
    use clap::error::ContextKind;
    let flag = e
        .get(ContextKind::InvalidArg)
        .map(|a| a.to_string())
        .unwrap_or_default();
    let field = flag
        .trim_start_matches('-')
        .split([' ', '=', '<'])
        .next()
        .unwrap_or_default()
        .replace('-', "_");
    let rendered = e.render().to_string();
    let message = rendered
        .lines()
        .next()
        .unwrap_or("invalid arguments")
        .trim_start_matches("error: ")
        .to_string();
    TaskError::invalid(vec![Problem {
        field: if field.is_empty() {
            "arguments".into()
        } else {
            field
        },
        rule: "cli".into(),
        message,
        value: None,
        fix: "see --help".into(),
    }])
}

/// The JSON result line of DESIGN §3.
pub fn result_json(
    task: &str,
    result: &Result<Outputs, TaskError>,
    duration_ms: u128,
    ctx: &Context,
) -> Value {
    match result {
        Ok(outputs) => json!({
            "task": task,
            "status": "succeeded",
            "outputs": outputs,
            "duration_ms": duration_ms,
        }),
        Err(error) => {
            let details: Vec<Value> = error
                .details
                .iter()
                .map(|p| {
                    let mut p = p.clone();
                    p.message = ctx.redactor.mask(&p.message);
                    p.value = p.value.map(|v| ctx.redactor.mask(&v));
                    serde_json::to_value(p).unwrap_or(Value::Null)
                })
                .collect();
            json!({
                "task": task,
                "status": "failed",
                "error": {
                    "kind": error.kind,
                    "message": ctx.redactor.mask(&error.full_message()),
                    "details": details,
                },
                "duration_ms": duration_ms,
            })
        }
    }
}

/// Run a task and hold it to its declaration (`T::OUTPUTS`): a declared
/// output the run did not set is written empty (a dry run has no commit, a
/// kept branch no deletion), so templates can always read every one with
/// `valueFrom`; an undeclared output is a bug.
pub async fn run_checked<T: Task>(params: T::Params, ctx: Context) -> Result<Outputs, TaskError> {
    let produced = T::run(params, ctx).await?;
    let undeclared: Vec<&str> = produced
        .iter()
        .map(|(name, _)| name)
        .filter(|name| !T::OUTPUTS.iter().any(|o| o.name == *name))
        .collect();
    if !undeclared.is_empty() {
        return Err(TaskError::internal(format!(
            "{} wrote outputs it does not declare: {undeclared:?}",
            T::NAME
        )));
    }
    let mut outputs = Outputs::new();
    for spec in T::OUTPUTS {
        outputs.set(spec.name, produced.get(spec.name).unwrap_or_default());
    }
    Ok(outputs)
}

/// Run task `T` as a process: the whole body of every task binary.
pub fn main<T: Task>() -> ExitCode {
    let started = Instant::now();
    let mut ctx = Context::default();
    let (common, params) = match parse::<T>(std::env::args_os().collect()) {
        Ok(Parsed::Run(common, params)) => (common, params),
        Ok(Parsed::Exit) => return ExitCode::SUCCESS,
        Err(error) => return finish::<T>(Err(error), started, &ctx),
    };
    ctx.dry_run = common.dry_run;
    telemetry::init(common.log_format);
    // One task, one thread: a current-thread runtime starts faster and uses
    // less memory than the multi-threaded one, and the tasks' concurrency is
    // I/O (many requests in flight), not CPU.
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            let error = TaskError::internal("cannot start the async runtime").with_source(e);
            return finish::<T>(Err(error), started, &ctx);
        }
    };
    let result = runtime
        .block_on(T::run(params, ctx.clone()))
        .and_then(|outputs| {
            outputs
                .write_to(&common.outputs_dir)
                .map_err(|e| {
                    TaskError::internal(format!(
                        "cannot write outputs to {}",
                        common.outputs_dir.display()
                    ))
                    .with_source(e)
                })
                .map(|()| outputs)
        });
    finish::<T>(result, started, &ctx)
}

#[allow(clippy::print_stdout)] // the one line of data a task prints
fn finish<T: Task>(
    result: Result<Outputs, TaskError>,
    started: Instant,
    ctx: &Context,
) -> ExitCode {
    if let Err(error) = &result {
        tracing::error!(kind = %error.kind, "{}", ctx.redactor.mask(&error.full_message()));
    }
    let code = result.as_ref().map_or_else(|e| e.kind.exit_code(), |_| 0);
    println!(
        "{}",
        result_json(T::NAME, &result, started.elapsed().as_millis(), ctx)
    );
    ExitCode::from(code)
}
