//! `report-tests`: see `sandbox_tasks::report_tests`.
fn main() -> std::process::ExitCode {
    sandbox_tasks::runner::main::<sandbox_tasks::report_tests::ReportTests>()
}
