//! Every branch name `BranchName` accepts is one the real git CLI accepts
//! (`git check-ref-format --branch`), on generated samples that mix plain
//! names with every character git treats specially.

use proptest::prelude::*;
use sandbox_core::params::BranchName;
use std::process::Command;

fn git_accepts(name: &str) -> bool {
    Command::new("git")
        .args(["check-ref-format", "--branch", name])
        .output()
        .expect("git is needed: run scripts/test, which installs it")
        .status
        .success()
}

#[test]
fn accepted_branch_names_pass_git_check_ref_format() {
    let strategy = prop_oneof![
        "[a-zA-Z0-9._/-]{1,30}",
        "[a-z0-9./@{}~^:?*\\[\\\\ -]{1,12}",
        "(release|sbx-pr-[0-9]{1,3})(/[a-z.]{0,6}){0,3}(\\.lock)?",
    ];
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases: 400,
        ..ProptestConfig::default()
    });
    let checked = std::cell::Cell::new(0);
    runner
        .run(&strategy, |name| {
            if BranchName::parse(&name).is_ok() {
                checked.set(checked.get() + 1);
                prop_assert!(git_accepts(&name), "accepted {name:?} but git refuses it");
            }
            Ok(())
        })
        .unwrap();
    // The generator must produce enough accepted names to mean something.
    assert!(
        checked.get() >= 100,
        "only {} accepted samples were checked",
        checked.get()
    );
}

#[test]
fn the_samples_exercise_both_outcomes() {
    // Guard against a generator that only ever produces one kind of name.
    let accepted = ["sbx-pr-1", "release/1.2", "a.b/c_d"];
    let refused = ["a..b", "a.lock", "-a", "a b", "a@{1}"];
    for name in accepted {
        assert!(
            BranchName::parse(name).is_ok() && git_accepts(name),
            "{name}"
        );
    }
    for name in refused {
        assert!(
            BranchName::parse(name).is_err() && !git_accepts(name),
            "{name}"
        );
    }
}
