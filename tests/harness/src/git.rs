//! Git servers on loopback over one directory of bare repositories: the git
//! daemon (git://, push enabled) and smart HTTP (lighttpd running
//! git-http-backend as CGI, basic auth on everything). libgit2 cannot fetch
//! shallow over file://, so tests of shallow fetches need one of these.

use crate::process::{ServiceProcess, port_open, scratch_dir, tool, wait_until};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// A directory of bare repositories that the servers export.
#[derive(Debug)]
pub struct GitRoot {
    dir: tempfile::TempDir,
}

impl Default for GitRoot {
    fn default() -> Self {
        Self::new()
    }
}

impl GitRoot {
    /// An empty root.
    pub fn new() -> Self {
        GitRoot {
            dir: scratch_dir("git-root"),
        }
    }

    /// The root directory.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Create a bare repository `<name>.git` whose default branch is `main`.
    pub fn create_bare(&self, name: &str) -> PathBuf {
        let path = self.dir.path().join(format!("{name}.git"));
        git(
            self.dir.path(),
            &["init", "-q", "--bare", "-b", "main"],
            Some(&path),
        );
        path
    }

    /// Create a bare repository `<name>.git` holding one commit on `main`
    /// with `files` (path, contents); returns its path.
    pub fn create_with_files(&self, name: &str, files: &[(&str, &str)]) -> PathBuf {
        let bare = self.create_bare(name);
        let work = tempfile::Builder::new()
            .prefix("sandbox-harness-seed-")
            .tempdir()
            .expect("tempdir");
        git(work.path(), &["init", "-q", "-b", "main"], None);
        for (path, contents) in files {
            let file = work.path().join(path);
            std::fs::create_dir_all(file.parent().expect("parent")).expect("mkdir");
            std::fs::write(file, contents).expect("write seed file");
        }
        git(work.path(), &["add", "-A"], None);
        git(work.path(), &["commit", "-q", "-m", "seed"], None);
        let out = Command::new("git")
            .current_dir(work.path())
            .args(["push", "-q"])
            .arg(&bare)
            .arg("main:main")
            .output()
            .expect("git push");
        assert!(
            out.status.success(),
            "seed push failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        bare
    }
}

/// Run git with a fixed identity; panics on failure. `extra` is appended.
pub fn git(dir: &Path, args: &[&str], extra: Option<&Path>) -> String {
    let mut cmd = Command::new("git");
    cmd.current_dir(dir)
        .args([
            "-c",
            "user.name=Harness",
            "-c",
            "user.email=harness@example.invalid",
            "-c",
            "init.defaultBranch=main",
        ])
        .args(args);
    if let Some(e) = extra {
        cmd.arg(e);
    }
    let out = cmd.output().expect("run git");
    assert!(
        out.status.success(),
        "git {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim_end().to_string()
}

/// `git daemon` exporting a [`GitRoot`] with receive-pack enabled.
#[derive(Debug)]
pub struct GitDaemon {
    process: ServiceProcess,
    port: u16,
    dir: tempfile::TempDir,
}

impl GitDaemon {
    /// Serve every repository under `root`.
    pub fn start(root: &GitRoot) -> Self {
        let dir = scratch_dir("git-daemon");
        let port = crate::free_port();
        let mut cmd = Command::new("git");
        cmd.arg("daemon")
            .args([
                "--reuseaddr",
                "--listen=127.0.0.1",
                "--export-all",
                "--enable=receive-pack",
                "--informative-errors",
            ])
            .arg(format!("--port={port}"))
            .arg(format!("--base-path={}", root.path().display()))
            .arg(root.path());
        let mut process = ServiceProcess::spawn("git-daemon", cmd, dir.path());
        wait_until("git daemon", Duration::from_secs(30), || {
            process.check_alive(dir.path());
            port_open(port)
        });
        GitDaemon { process, port, dir }
    }

    /// `git://127.0.0.1:<port>/<name>.git`
    pub fn url(&self, name: &str) -> String {
        format!("git://127.0.0.1:{}/{name}.git", self.port)
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Kill the daemon at once, as a crash would.
    pub fn kill(&mut self) {
        self.process.kill();
    }

    /// The scratch directory (log).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

/// Smart HTTP with basic auth: lighttpd + git-http-backend.
#[derive(Debug)]
pub struct GitHttp {
    process: ServiceProcess,
    port: u16,
    user: String,
    password: String,
    dir: tempfile::TempDir,
}

impl GitHttp {
    /// Serve every repository under `root` at `/git/<name>.git`, requiring
    /// `user`/`password`.
    pub fn start(root: &GitRoot, user: &str, password: &str) -> Self {
        let lighttpd = tool("lighttpd");
        let dir = scratch_dir("git-http");
        let port = crate::free_port();
        let exec_path = Command::new("git")
            .arg("--exec-path")
            .output()
            .expect("git --exec-path");
        let backend = PathBuf::from(String::from_utf8_lossy(&exec_path.stdout).trim())
            .join("git-http-backend");
        std::fs::write(dir.path().join("users"), format!("{user}:{password}\n"))
            .expect("write users");
        let conf = format!(
            r#"server.modules = ( "mod_alias", "mod_setenv", "mod_auth", "mod_authn_file", "mod_cgi" )
server.bind = "127.0.0.1"
server.port = {port}
server.document-root = "{root}"
server.errorlog = "{dir}/error.log"
server.max-request-size = 0
alias.url = ( "/git/" => "{backend}/" )
$HTTP["url"] =~ "^/git/" {{
  cgi.assign = ( "" => "" )
  setenv.add-environment = ( "GIT_PROJECT_ROOT" => "{root}", "GIT_HTTP_EXPORT_ALL" => "1" )
}}
auth.backend = "plain"
auth.backend.plain.userfile = "{dir}/users"
auth.require = ( "/git/" => ( "method" => "basic", "realm" => "git", "require" => "valid-user" ) )
"#,
            root = root.path().display(),
            dir = dir.path().display(),
            backend = backend.display(),
        );
        let conf_path = dir.path().join("lighttpd.conf");
        std::fs::write(&conf_path, conf).expect("write lighttpd.conf");
        let mut cmd = Command::new(lighttpd);
        cmd.arg("-D").arg("-f").arg(&conf_path);
        let mut process = ServiceProcess::spawn("lighttpd", cmd, dir.path());
        wait_until("lighttpd", Duration::from_secs(30), || {
            process.check_alive(dir.path());
            port_open(port)
        });
        GitHttp {
            process,
            port,
            user: user.to_string(),
            password: password.to_string(),
            dir,
        }
    }

    /// `http://127.0.0.1:<port>/git/<name>.git`, without credentials.
    pub fn url(&self, name: &str) -> String {
        format!("http://127.0.0.1:{}/git/{name}.git", self.port)
    }

    /// The same URL with the credentials in it, for the git CLI in tests.
    pub fn url_with_credentials(&self, name: &str) -> String {
        format!(
            "http://{}:{}@127.0.0.1:{}/git/{name}.git",
            self.user, self.password, self.port
        )
    }

    /// The user name.
    pub fn user(&self) -> &str {
        &self.user
    }

    /// The password.
    pub fn password(&self) -> &str {
        &self.password
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Kill the server at once, as a crash would.
    pub fn kill(&mut self) {
        self.process.kill();
    }

    /// The scratch directory (config, logs).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}
