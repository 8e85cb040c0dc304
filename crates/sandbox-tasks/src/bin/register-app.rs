//! `register-app`: see `sandbox_tasks::register_app`.
fn main() -> std::process::ExitCode {
    sandbox_tasks::runner::main::<sandbox_tasks::register_app::RegisterApp>()
}
