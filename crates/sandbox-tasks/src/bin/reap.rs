//! `reap`: see `sandbox_tasks::reap`.
fn main() -> std::process::ExitCode {
    sandbox_tasks::runner::main::<sandbox_tasks::reap::Reap>()
}
