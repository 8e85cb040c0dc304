//! `cleanup-bucket`: see `sandbox_tasks::cleanup_bucket`.
fn main() -> std::process::ExitCode {
    sandbox_tasks::runner::main::<sandbox_tasks::cleanup_bucket::CleanupBucket>()
}
