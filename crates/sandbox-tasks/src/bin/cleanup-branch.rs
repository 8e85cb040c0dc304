//! `cleanup-branch`: see `sandbox_tasks::cleanup_branch`.
fn main() -> std::process::ExitCode {
    sandbox_tasks::runner::main::<sandbox_tasks::cleanup_branch::CleanupBranch>()
}
