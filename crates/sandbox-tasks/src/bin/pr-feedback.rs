//! `pr-feedback`: see `sandbox_tasks::pr_feedback`.
fn main() -> std::process::ExitCode {
    sandbox_tasks::runner::main::<sandbox_tasks::pr_feedback::PrFeedback>()
}
