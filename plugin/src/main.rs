//! `sandbox-plugin`: serve the executor plugin, or print its ConfigMap.

use anyhow::Context as _;
use clap::Parser;
use sandbox_core::telemetry;
use sandbox_plugin::config::{Cli, Command, ServeArgs};
use sandbox_plugin::jobs::Registry;
use sandbox_plugin::{AppState, Stop, manifest, serve};
use std::process::ExitCode;
use std::sync::Arc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Some(Command::Manifest) => print_manifest(),
        None => run(cli.serve),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!("{error:#}");
            #[allow(clippy::print_stderr)] // logs may not be set up yet
            {
                eprintln!("sandbox-plugin: {error:#}");
            }
            ExitCode::FAILURE
        }
    }
}

#[allow(clippy::print_stdout)] // the manifest is this command's output
fn print_manifest() -> anyhow::Result<()> {
    print!("{}", manifest::configmap(manifest::PLUGIN_YAML)?);
    Ok(())
}

fn run(args: ServeArgs) -> anyhow::Result<()> {
    telemetry::init(args.log_format);
    // Multi-threaded: the agent calls with up to 16 workers at once, and a
    // task that does blocking work must not stall the answers to the others.
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if let Some(n) = args.workers {
        builder.worker_threads(n as usize);
    }
    let runtime = builder
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .with_context(|| format!("cannot listen on {}", args.listen))?;
        let state = AppState::new(&args, Arc::new(Registry));
        tracing::info!(
            listen = %listener.local_addr()?,
            token_file = %args.token_file.display(),
            tasks = ?sandbox_tasks::registry::TASKS,
            "serving"
        );
        serve(listener, state, shutdown_signal(), Stop::after(args.grace))
            .await
            .context("server failed")?;
        tracing::info!("stopped");
        Ok(())
    })
}

/// SIGTERM (Kubernetes stopping the pod) or Ctrl-C.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut sig) => {
                sig.recv().await;
            }
            Err(e) => {
                tracing::warn!("cannot watch SIGTERM: {e}");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        () = ctrl_c => tracing::info!("Ctrl-C"),
        () = term => tracing::info!("SIGTERM"),
    }
}
