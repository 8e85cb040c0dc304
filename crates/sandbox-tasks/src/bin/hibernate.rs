//! `hibernate`: see `sandbox_tasks::hibernate`.
fn main() -> std::process::ExitCode {
    sandbox_tasks::runner::main::<sandbox_tasks::hibernate::Hibernate>()
}
