//! `wait-ready`: see `sandbox_tasks::wait_ready`.
fn main() -> std::process::ExitCode {
    sandbox_tasks::runner::main::<sandbox_tasks::wait_ready::WaitReady>()
}
