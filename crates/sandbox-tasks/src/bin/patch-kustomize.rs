//! `patch-kustomize`: see `sandbox_tasks::patch_kustomize`.
fn main() -> std::process::ExitCode {
    sandbox_tasks::runner::main::<sandbox_tasks::patch_kustomize::PatchKustomize>()
}
