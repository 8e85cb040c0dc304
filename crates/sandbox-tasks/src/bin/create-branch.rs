//! `create-branch`: see `sandbox_tasks::create_branch`.
fn main() -> std::process::ExitCode {
    sandbox_tasks::runner::main::<sandbox_tasks::create_branch::CreateBranch>()
}
