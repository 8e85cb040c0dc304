//! `prepare-db`: see `sandbox_tasks::prepare_db`.
fn main() -> std::process::ExitCode {
    sandbox_tasks::runner::main::<sandbox_tasks::prepare_db::PrepareDb>()
}
