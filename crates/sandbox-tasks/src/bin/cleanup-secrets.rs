//! `cleanup-secrets`: see `sandbox_tasks::cleanup_secrets`.
fn main() -> std::process::ExitCode {
    sandbox_tasks::runner::main::<sandbox_tasks::cleanup_secrets::CleanupSecrets>()
}
