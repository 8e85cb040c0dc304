//! `seed-bucket`: see `sandbox_tasks::seed_bucket`.
fn main() -> std::process::ExitCode {
    sandbox_tasks::runner::main::<sandbox_tasks::seed_bucket::SeedBucket>()
}
