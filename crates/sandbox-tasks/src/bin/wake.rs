//! `wake`: see `sandbox_tasks::wake`.
fn main() -> std::process::ExitCode {
    sandbox_tasks::runner::main::<sandbox_tasks::wake::Wake>()
}
