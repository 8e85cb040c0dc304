//! The guard rails of DESIGN §4, in one place: what a sandbox task may
//! write, delete or restore into. A refusal names its rule; tasks exit 5.

use crate::error::Problem;
use crate::params::{
    BranchName, BucketUrl, DatabaseName, EnvPrefix, EnvironmentName, Invalid, Namespace, PrNumber,
};

/// Branches never written, force-pushed or deleted. `release/*` protects
/// every branch below `release/`.
pub const PROTECTED_BRANCHES: &[&str] = &[
    "main",
    "master",
    "develop",
    "integration",
    "qa",
    "staging",
    "production",
    "prod",
    "release/*",
];

/// Databases never restored into or dropped.
pub const PROTECTED_DATABASES: &[&str] = &["postgres", "template0", "template1"];

/// Characters that delimit the environment's name inside a longer name.
const NAME_DELIMITERS: &[char] = &['-', '_', '/', '.'];

/// True when `name` contains the environment's name as a whole token: an
/// occurrence delimited on both sides by `-`, `_`, `/`, `.` or an end of
/// `name`. So for `sbx-pr-42`, `docs-sbx-pr-42` and `sbx-pr-42/` belong to
/// it, while `docs-sbx-pr-420` and `sbx-pr-4/` do not: containment alone
/// would let a cleanup for PR 42 delete PR 420's objects.
pub fn names_environment(name: &str, env: &EnvironmentName) -> bool {
    let token = env.as_str();
    if token.is_empty() {
        return false;
    }
    let delimited = |c: Option<char>| c.is_none_or(|c| NAME_DELIMITERS.contains(&c));
    name.match_indices(token).any(|(at, _)| {
        delimited(name[..at].chars().next_back())
            && delimited(name[at + token.len()..].chars().next())
    })
}

/// A guard rail that stopped a task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The rule's short name, e.g. `protected-branch`.
    pub rule: &'static str,
    /// Why, in a sentence.
    pub message: String,
    /// What to do instead.
    pub fix: String,
}

impl Refusal {
    fn new(rule: &'static str, message: String, fix: impl Into<String>) -> Self {
        Refusal {
            rule,
            message,
            fix: fix.into(),
        }
    }

    /// The refusal as a problem of `field` with its value.
    pub fn into_problem(self, field: &str, value: &str) -> Problem {
        Problem {
            field: field.to_string(),
            rule: self.rule.to_string(),
            message: self.message,
            value: Some(value.to_string()),
            fix: self.fix,
        }
    }
}

/// The guard rails, with the configurable prefix and extra protected names.
#[derive(Debug, Clone)]
pub struct Policy {
    prefix: EnvPrefix,
    protected_branches: Vec<String>,
    protected_databases: Vec<String>,
}

impl Default for Policy {
    fn default() -> Self {
        Policy::new(EnvPrefix::default())
    }
}

impl Policy {
    /// The default rails with the given environment prefix.
    pub fn new(prefix: EnvPrefix) -> Self {
        Policy {
            prefix,
            protected_branches: PROTECTED_BRANCHES.iter().map(|s| s.to_string()).collect(),
            protected_databases: PROTECTED_DATABASES.iter().map(|s| s.to_string()).collect(),
        }
    }

    /// Protect more branches (exact names, or `prefix/*`).
    pub fn protect_branches(mut self, extra: impl IntoIterator<Item = String>) -> Self {
        self.protected_branches.extend(extra);
        self
    }

    /// Protect more databases.
    pub fn protect_databases(mut self, extra: impl IntoIterator<Item = String>) -> Self {
        self.protected_databases.extend(extra);
        self
    }

    /// The environment prefix.
    pub fn prefix(&self) -> &EnvPrefix {
        &self.prefix
    }

    /// The environment of a pull request: `<prefix>pr-<N>`.
    pub fn environment_for(&self, pr: PrNumber) -> Result<EnvironmentName, Invalid> {
        EnvironmentName::parse(&format!("{}pr-{pr}", self.prefix.as_str()))
    }

    /// True when `branch` matches a protected name or pattern.
    pub fn is_protected_branch(&self, branch: &BranchName) -> bool {
        let name = branch.as_str();
        self.protected_branches
            .iter()
            .any(|p| match p.strip_suffix("/*") {
                Some(dir) => name.starts_with(&format!("{dir}/")),
                None => name == p,
            })
    }

    /// An environment must carry the sandbox prefix, so no task ever mistakes
    /// a shared environment for a sandbox.
    pub fn check_environment(&self, env: &EnvironmentName) -> Result<(), Refusal> {
        if env.as_str().starts_with(self.prefix.as_str()) && env.as_str() != self.prefix.as_str() {
            Ok(())
        } else {
            Err(Refusal::new(
                "environment-prefix",
                format!(
                    "environment {env} does not start with the sandbox prefix {}",
                    self.prefix.as_str()
                ),
                "use a name such as <prefix>pr-<N>, or set --env-prefix",
            ))
        }
    }

    /// A branch a sandbox task writes or deletes: never protected, and named
    /// after the environment.
    pub fn check_branch(&self, branch: &BranchName, env: &EnvironmentName) -> Result<(), Refusal> {
        if self.is_protected_branch(branch) {
            return Err(Refusal::new(
                "protected-branch",
                format!(
                    "branch {branch} is protected: sandbox tasks never write, force-push or delete it"
                ),
                "target the environment's own branch (the default is the environment name)",
            ));
        }
        let name = branch.as_str();
        if name != env.as_str() && !name.starts_with(&format!("{env}/")) {
            return Err(Refusal::new(
                "foreign-branch",
                format!("branch {branch} does not belong to environment {env}"),
                format!("use {env} or a branch below {env}/"),
            ));
        }
        Ok(())
    }

    /// A namespace a sandbox creates or deletes must be the environment's.
    pub fn check_namespace(&self, ns: &Namespace, env: &EnvironmentName) -> Result<(), Refusal> {
        if ns == &Namespace::for_environment(env) {
            Ok(())
        } else {
            Err(Refusal::new(
                "foreign-namespace",
                format!("namespace {ns} is not the environment's namespace"),
                format!(
                    "use {} or leave it to be derived",
                    Namespace::for_environment(env)
                ),
            ))
        }
    }

    /// An Argo CD Application a sandbox registers or removes must be named
    /// after the environment.
    pub fn check_app_name(&self, app: &str, env: &EnvironmentName) -> Result<(), Refusal> {
        if app == env.as_str() || app.starts_with(&format!("{env}-")) {
            Ok(())
        } else {
            Err(Refusal::new(
                "foreign-app",
                format!("application {app} does not belong to environment {env}"),
                format!("use {env} or leave it to be derived"),
            ))
        }
    }

    /// A database restored into or dropped: never protected, never the
    /// restore source, and only the environment's own.
    pub fn check_database(
        &self,
        db: &DatabaseName,
        env: &EnvironmentName,
        source: Option<&DatabaseName>,
    ) -> Result<(), Refusal> {
        if self.protected_databases.iter().any(|p| p == db.as_str()) {
            return Err(Refusal::new(
                "protected-database",
                format!("database {db} is protected"),
                "restore into the environment's own database (leave database_name to be derived)",
            ));
        }
        if source == Some(db) {
            return Err(Refusal::new(
                "restore-source",
                format!("database {db} is the restore source"),
                "restore into the environment's own database",
            ));
        }
        match DatabaseName::for_environment(env) {
            Ok(own) if own == *db => Ok(()),
            Ok(own) => Err(Refusal::new(
                "foreign-database",
                format!("database {db} does not belong to environment {env}"),
                format!("use {own} or leave it to be derived"),
            )),
            Err(_) => Err(Refusal::new(
                "foreign-database",
                format!("environment {env} has no valid database name"),
                "choose an environment name that starts with a letter",
            )),
        }
    }

    /// A bucket location written to: it must name the environment, and must
    /// not overlap the source.
    pub fn check_destination(
        &self,
        dest: &BucketUrl,
        env: &EnvironmentName,
        source: Option<&BucketUrl>,
    ) -> Result<(), Refusal> {
        if source.is_some_and(|s| s.overlaps(dest)) {
            return Err(Refusal::new(
                "destination-overlaps-source",
                format!("destination {dest} overlaps the source"),
                "copy into a prefix of its own, e.g. gs://<bucket>/<environment>/",
            ));
        }
        let (owned, other) = match dest {
            BucketUrl::Gs { bucket, prefix } => (
                names_environment(bucket, env) || names_environment(prefix, env),
                self.other_environment(bucket, env)
                    .or_else(|| self.other_environment(prefix, env)),
            ),
            BucketUrl::File { path } => {
                let path = path.to_string_lossy();
                (
                    names_environment(&path, env),
                    self.other_environment(&path, env),
                )
            }
        };
        if let Some(other) = other {
            return Err(Refusal::new(
                "foreign-destination",
                format!("destination {dest} belongs to environment {other}, not {env}"),
                format!("use a bucket or prefix of {env}'s own, e.g. gs://<bucket>/{env}/"),
            ));
        }
        if !owned {
            return Err(Refusal::new(
                "foreign-destination",
                format!("destination {dest} does not belong to environment {env}"),
                format!(
                    "use a bucket or prefix that names {env} as a whole word, e.g. gs://<bucket>/{env}/"
                ),
            ));
        }
        Ok(())
    }

    /// The first name of another sandbox of this prefix (`<prefix>pr-<N>`,
    /// delimited like [`names_environment`]) that `name` carries, if any: a
    /// bucket `docs-sbx-pr-420` is PR 420's, even with a prefix of PR 42's.
    fn other_environment(&self, name: &str, env: &EnvironmentName) -> Option<String> {
        let start = format!("{}pr-", self.prefix().as_str());
        let delimited = |c: Option<char>| c.is_none_or(|c| NAME_DELIMITERS.contains(&c));
        name.match_indices(&start).find_map(|(at, _)| {
            let digits: String = name[at + start.len()..]
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            let end = at + start.len() + digits.len();
            let candidate = &name[at..end];
            (!digits.is_empty()
                && delimited(name[..at].chars().next_back())
                && delimited(name[end..].chars().next())
                && candidate != env.as_str())
            .then(|| candidate.to_string())
        })
    }

    /// A Vault path whose secrets are read or deleted for the environment
    /// must have the environment as one of its segments.
    pub fn check_vault_path(&self, path: &str, env: &EnvironmentName) -> Result<(), Refusal> {
        if path.split('/').any(|s| s == env.as_str()) {
            Ok(())
        } else {
            Err(Refusal::new(
                "foreign-secret-path",
                format!("vault path {path} does not belong to environment {env}"),
                format!("use a path that ends in /{env}, e.g. secret/sandboxes/{env}"),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env() -> EnvironmentName {
        EnvironmentName::parse("sbx-pr-7").unwrap()
    }

    fn rule<T>(r: Result<T, Refusal>) -> &'static str {
        r.err().map_or("allowed", |r| r.rule)
    }

    #[test]
    fn protected_branches_and_patterns() {
        let policy = Policy::default().protect_branches(["hotfix/*".to_string()]);
        for b in ["main", "release/1.2", "prod", "hotfix/x"] {
            let branch = BranchName::parse(b).unwrap();
            assert_eq!(
                rule(policy.check_branch(&branch, &env())),
                "protected-branch",
                "{b}"
            );
        }
        assert_eq!(
            rule(policy.check_branch(&BranchName::parse("releases").unwrap(), &env())),
            "foreign-branch"
        );
        assert_eq!(
            rule(policy.check_branch(&BranchName::parse("sbx-pr-7").unwrap(), &env())),
            "allowed"
        );
    }

    #[test]
    fn databases() {
        let p = Policy::default();
        let db = |s: &str| DatabaseName::parse(s).unwrap();
        assert_eq!(
            rule(p.check_database(&db("postgres"), &env(), None)),
            "protected-database"
        );
        assert_eq!(
            rule(p.check_database(&db("template1"), &env(), None)),
            "protected-database"
        );
        assert_eq!(
            rule(p.check_database(&db("sbx_pr_7"), &env(), Some(&db("sbx_pr_7")))),
            "restore-source"
        );
        assert_eq!(
            rule(p.check_database(&db("sbx_pr_8"), &env(), None)),
            "foreign-database"
        );
        assert_eq!(
            rule(p.check_database(&db("sbx_pr_7"), &env(), Some(&db("integration")))),
            "allowed"
        );
    }

    #[test]
    fn destinations() {
        let p = Policy::default();
        let url = |s: &str| BucketUrl::parse(s).unwrap();
        let src = url("gs://docs-int/");
        assert_eq!(
            rule(p.check_destination(&url("gs://docs-int/"), &env(), Some(&src))),
            "destination-overlaps-source"
        );
        assert_eq!(
            rule(p.check_destination(&url("gs://docs-sbx/x/"), &env(), Some(&src))),
            "foreign-destination"
        );
        assert_eq!(
            rule(p.check_destination(&url("gs://docs-sbx/sbx-pr-7/"), &env(), Some(&src))),
            "allowed"
        );
    }

    #[test]
    fn environment_prefix() {
        let p = Policy::new(EnvPrefix::parse("tmp-").unwrap());
        assert_eq!(
            p.environment_for(PrNumber::parse("3").unwrap())
                .unwrap()
                .as_str(),
            "tmp-pr-3"
        );
        assert_eq!(rule(p.check_environment(&env())), "environment-prefix");
    }

    /// PR 42's guard rails against the names of PR 420 and PR 4: every
    /// ownership decision matches the environment's name as a whole token.
    mod whole_name {
        use super::*;

        fn pr(n: u32) -> EnvironmentName {
            Policy::default()
                .environment_for(PrNumber::parse(&n.to_string()).unwrap())
                .unwrap()
        }

        #[test]
        fn a_name_is_a_token_delimited_by_separators_or_ends() {
            let env = pr(42);
            for own in [
                "sbx-pr-42",
                "docs-sbx-pr-42",
                "sbx-pr-42/",
                "a/sbx-pr-42/b",
                "x.sbx-pr-42.y",
                "x_sbx-pr-42_y",
                "sbx-pr-420-and-sbx-pr-42",
            ] {
                assert!(names_environment(own, &env), "{own} is PR 42's");
            }
            for foreign in [
                "docs-sbx-pr-420",
                "sbx-pr-420/",
                "sbx-pr-4/",
                "xsbx-pr-42",
                "sbx-pr-42x",
                "",
            ] {
                assert!(
                    !names_environment(foreign, &env),
                    "{foreign} is not PR 42's"
                );
            }
            assert!(!names_environment("sbx-pr-42/", &pr(4)));
            assert!(!names_environment("sbx-pr-42/", &pr(420)));
        }

        #[test]
        fn destinations_of_pr_420_and_pr_4_are_refused_for_pr_42() {
            let p = Policy::default();
            let url = |s: &str| BucketUrl::parse(s).unwrap();
            let src = url("gs://docs-int/");
            for foreign in [
                "gs://docs-sbx-pr-420/",
                "gs://docs/sbx-pr-420/",
                "gs://docs-sbx-pr-4/",
                "gs://docs/sbx-pr-4/",
                "gs://docs/sbx-pr-420x/",
                "file:///data/sbx-pr-420/",
                // PR 420's bucket, even with PR 42's prefix in it.
                "gs://docs-sbx-pr-420/sbx-pr-42/",
                "gs://docs/sbx-pr-42/sbx-pr-4/",
            ] {
                assert_eq!(
                    rule(p.check_destination(&url(foreign), &pr(42), Some(&src))),
                    "foreign-destination",
                    "{foreign}"
                );
            }
            for own in [
                "gs://docs-sbx-pr-42/",
                "gs://docs/sbx-pr-42/",
                "gs://sbx-pr-42.docs/",
                "file:///data/sbx-pr-42/",
            ] {
                assert_eq!(
                    rule(p.check_destination(&url(own), &pr(42), Some(&src))),
                    "allowed",
                    "{own}"
                );
            }
            // And the other way round: PR 4 and PR 420 do not own PR 42's.
            for other in [4, 420] {
                assert_eq!(
                    rule(p.check_destination(&url("gs://docs/sbx-pr-42/"), &pr(other), None)),
                    "foreign-destination"
                );
            }
        }

        #[test]
        fn branches_of_pr_420_and_pr_4_are_refused_for_pr_42() {
            let p = Policy::default();
            let b = |s: &str| BranchName::parse(s).unwrap();
            for foreign in [
                "sbx-pr-420",
                "sbx-pr-4",
                "sbx-pr-420/x",
                "sbx-pr-4/x",
                "sbx-pr-42x",
            ] {
                assert_eq!(
                    rule(p.check_branch(&b(foreign), &pr(42))),
                    "foreign-branch",
                    "{foreign}"
                );
            }
            assert_eq!(rule(p.check_branch(&b("sbx-pr-42"), &pr(42))), "allowed");
            assert_eq!(rule(p.check_branch(&b("sbx-pr-42/x"), &pr(42))), "allowed");
        }

        #[test]
        fn namespaces_of_pr_420_and_pr_4_are_refused_for_pr_42() {
            let p = Policy::default();
            for other in [420, 4] {
                let ns = Namespace::for_environment(&pr(other));
                assert_eq!(
                    rule(p.check_namespace(&ns, &pr(42))),
                    "foreign-namespace",
                    "{ns}"
                );
            }
            let own = Namespace::for_environment(&pr(42));
            assert_eq!(rule(p.check_namespace(&own, &pr(42))), "allowed");
        }

        #[test]
        fn applications_of_pr_420_and_pr_4_are_refused_for_pr_42() {
            let p = Policy::default();
            for foreign in [
                "sbx-pr-420",
                "sbx-pr-4",
                "sbx-pr-420-web",
                "sbx-pr-4-web",
                "x-sbx-pr-42",
            ] {
                assert_eq!(
                    rule(p.check_app_name(foreign, &pr(42))),
                    "foreign-app",
                    "{foreign}"
                );
            }
            assert_eq!(rule(p.check_app_name("sbx-pr-42", &pr(42))), "allowed");
            assert_eq!(rule(p.check_app_name("sbx-pr-42-web", &pr(42))), "allowed");
        }

        #[test]
        fn databases_of_pr_420_and_pr_4_are_refused_for_pr_42() {
            let p = Policy::default();
            let db = |s: &str| DatabaseName::parse(s).unwrap();
            for foreign in ["sbx_pr_420", "sbx_pr_4", "sbx_pr_42x"] {
                assert_eq!(
                    rule(p.check_database(&db(foreign), &pr(42), None)),
                    "foreign-database",
                    "{foreign}"
                );
            }
            assert_eq!(
                rule(p.check_database(&db("sbx_pr_42"), &pr(42), None)),
                "allowed"
            );
        }

        #[test]
        fn vault_paths_of_pr_420_and_pr_4_are_refused_for_pr_42() {
            let p = Policy::default();
            for foreign in [
                "secret/sandboxes/sbx-pr-420",
                "secret/sandboxes/sbx-pr-4",
                "secret/sandboxes/sbx-pr-420/db",
                "secret/sandboxes/x-sbx-pr-42",
            ] {
                assert_eq!(
                    rule(p.check_vault_path(foreign, &pr(42))),
                    "foreign-secret-path",
                    "{foreign}"
                );
            }
            assert_eq!(
                rule(p.check_vault_path("secret/sandboxes/sbx-pr-42", &pr(42))),
                "allowed"
            );
        }

        #[test]
        fn the_environment_check_accepts_every_pr_of_the_prefix() {
            let p = Policy::default();
            for n in [4, 42, 420] {
                assert_eq!(rule(p.check_environment(&pr(n))), "allowed");
            }
        }
    }
}
