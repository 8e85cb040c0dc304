//! The README's parameter tables, generated from the code: each argument
//! group once with its flags, then each task by the groups it takes and its
//! own flags, so no flag is listed twice. A test keeps the README in sync.

use crate::args::GROUPS;
use crate::{Task, runner};
use std::collections::BTreeSet;

/// Flags of the runner that every task has; the tables name them once.
const RUNNER_FLAGS: &[&str] = &[
    "params",
    "outputs_dir",
    "log_format",
    "dry_run",
    "help",
    "version",
];

fn flag(key: &str) -> String {
    format!("`--{}`", key.replace('_', "-"))
}

/// The groups table: one row per argument group.
pub fn groups_table() -> String {
    let mut table = String::from("| group | what it says | flags |\n|---|---|---|\n");
    for group in GROUPS {
        let keys: Vec<String> = group.keys().iter().map(|k| flag(k)).collect();
        table.push_str(&format!(
            "| {} | {} | {} |\n",
            group.name,
            group.about,
            keys.join(" ")
        ));
    }
    table.push_str(&format!(
        "\nEvery task also takes {} (and `--help`).\n\n",
        RUNNER_FLAGS[..4]
            .iter()
            .map(|k| flag(k))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    table
}

/// The groups a task takes (the largest that fit), and its own flags.
pub fn groups_of<T: Task>() -> (Vec<&'static str>, Vec<String>) {
    let command = runner::command::<T>();
    let mut left: BTreeSet<String> = command
        .get_arguments()
        .map(|a| a.get_id().to_string())
        .filter(|id| !RUNNER_FLAGS.contains(&id.as_str()))
        .collect();
    let mut taken = Vec::new();
    for group in GROUPS {
        let keys = group.keys();
        if keys.iter().all(|k| left.contains(k)) {
            for k in &keys {
                left.remove(k);
            }
            taken.push(group.name);
        }
    }
    // Own flags in the order the task declares them.
    let own = command
        .get_arguments()
        .map(|a| a.get_id().to_string())
        .filter(|id| left.contains(id))
        .collect();
    (taken, own)
}

/// One Markdown row per task: what it does, its groups, its own flags,
/// its outputs.
pub fn task_row<T: Task>() -> String {
    let about = runner::command::<T>()
        .get_about()
        .map(|a| a.to_string())
        .unwrap_or_default();
    let (groups, own) = groups_of::<T>();
    let list = |items: Vec<String>| {
        if items.is_empty() {
            "—".to_string()
        } else {
            items.join(" ")
        }
    };
    format!(
        "| `{}` | {about} | {} | {} | {} |",
        T::NAME,
        list(groups.iter().map(|g| g.to_string()).collect()),
        list(own.iter().map(|k| flag(k)).collect()),
        list(T::OUTPUTS.iter().map(|o| format!("`{}`", o.name)).collect()),
    )
}

/// The header of the task table.
pub const TASK_TABLE_HEADER: &str =
    "| task | what it does | groups | own flags | outputs |\n|---|---|---|---|---|\n";

#[cfg(test)]
mod tests {
    use crate::registry;
    use std::path::Path;

    /// The README's parameter tables are generated from the tasks; rewrite
    /// them with SANDBOX_UPDATE_TEMPLATES=1 like the templates.
    #[test]
    fn readme_task_table_matches_the_tasks() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md");
        let readme = std::fs::read_to_string(&path).unwrap();
        let (begin, end) = ("<!-- tasks:begin -->\n", "<!-- tasks:end -->");
        let start = readme.find(begin).expect("README has a tasks:begin marker") + begin.len();
        let stop = readme.find(end).expect("README has a tasks:end marker");
        let table = registry::readme_table();
        if std::env::var_os(sandbox_core::env_vars::UPDATE_TEMPLATES).is_some() {
            std::fs::write(
                &path,
                format!("{}{table}{}", &readme[..start], &readme[stop..]),
            )
            .unwrap();
        } else {
            assert_eq!(
                &readme[start..stop],
                table,
                "README task table is stale: run SANDBOX_UPDATE_TEMPLATES=1 cargo test -p sandbox-tasks readme"
            );
        }
    }

    /// Every flag is listed once: in its group's row, or as a task's own.
    #[test]
    fn no_flag_is_listed_twice() {
        let table = registry::readme_table();
        let mut seen = std::collections::BTreeMap::new();
        for line in table.lines().filter(|l| l.starts_with("| ")) {
            let cells: Vec<&str> = line.split(" | ").collect();
            // groups: flags in the 3rd cell; tasks: own flags in the 4th.
            let cell = if cells.len() == 3 {
                cells[2]
            } else {
                cells.get(3).copied().unwrap_or("")
            };
            for flag in cell.split(' ').filter(|f| f.starts_with("`--")) {
                let flag = flag.trim_end_matches(" |");
                if let Some(first) = seen.insert(flag.to_string(), line.to_string()) {
                    let nested = first.starts_with("| environment") || first.starts_with("| apps ");
                    assert!(nested, "{flag} is listed twice:\n{first}\n{line}");
                }
            }
        }
        assert!(seen.len() > 40, "{seen:?}");
    }
}
