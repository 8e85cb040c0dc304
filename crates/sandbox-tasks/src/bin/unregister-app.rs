//! `unregister-app`: see `sandbox_tasks::unregister_app`.
fn main() -> std::process::ExitCode {
    sandbox_tasks::runner::main::<sandbox_tasks::unregister_app::UnregisterApp>()
}
