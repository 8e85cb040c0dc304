//! `drop-db`: see `sandbox_tasks::drop_db`.
fn main() -> std::process::ExitCode {
    sandbox_tasks::runner::main::<sandbox_tasks::drop_db::DropDb>()
}
