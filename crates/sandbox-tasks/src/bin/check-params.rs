//! `check-params`: see `sandbox_tasks::check_params`.
fn main() -> std::process::ExitCode {
    sandbox_tasks::runner::main::<sandbox_tasks::check_params::CheckParams>()
}
