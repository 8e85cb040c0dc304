//! `restore-db`: see `sandbox_tasks::restore_db`.
fn main() -> std::process::ExitCode {
    sandbox_tasks::runner::main::<sandbox_tasks::restore_db::RestoreDb>()
}
