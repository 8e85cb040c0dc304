//! The GitOps tasks over SSH with a deploy key and a known_hosts file,
//! against a real SSH server on loopback (asyncssh running git-upload-pack
//! and git-receive-pack; `scripts/test` installs it).

use super::support;
use sandbox_harness::git::git;
use sandbox_harness::{GitRoot, free_port, tool};
use serde_json::Value;
use std::path::Path;
use std::time::{Duration, Instant};

struct SshServer {
    child: std::process::Child,
    port: u16,
}

impl SshServer {
    fn start(root: &Path, host_key: &Path, authorized: &Path, log: &Path) -> Self {
        let port = free_port();
        let script =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/support_files/ssh_git_server.py");
        let child = std::process::Command::new(tool("python-asyncssh"))
            .arg(script)
            .arg(port.to_string())
            .args([root, host_key, authorized])
            .stdout(std::process::Stdio::null())
            .stderr(std::fs::File::create(log).expect("create the server log"))
            .spawn()
            .expect("start the SSH server");
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "SSH server did not start: {}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        SshServer { child, port }
    }
}

impl Drop for SshServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn keygen(path: &Path) -> String {
    let out = std::process::Command::new(tool("ssh-keygen"))
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "test", "-f"])
        .arg(path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let public = std::fs::read_to_string(path.with_extension("pub")).unwrap();
    public
        .split_whitespace()
        .take(2)
        .collect::<Vec<_>>()
        .join(" ")
}

fn create_branch(url: &str, key: &Path, known: &Path, pr: &str) -> (i32, Value) {
    let run = support::task("create-branch")
        .args(["--repo-url", url, "--pr-number", pr])
        .args([std::ffi::OsStr::new("--ssh-key"), key.as_os_str()])
        .args([std::ffi::OsStr::new("--ssh-known-hosts"), known.as_os_str()])
        .run();
    (run.code, run.result)
}

#[test]
fn a_deploy_key_and_known_hosts_reach_an_ssh_remote_and_a_wrong_host_key_is_refused() {
    let root = GitRoot::new();
    let bare = root.create_with_files("infra", &[("README", "infra\n")]);
    let keys = tempfile::tempdir().unwrap();
    let host_pub = keygen(&keys.path().join("host"));
    let client_pub = keygen(&keys.path().join("client"));
    let stranger_pub = keygen(&keys.path().join("stranger"));
    std::fs::write(keys.path().join("authorized"), format!("{client_pub}\n")).unwrap();
    let server = SshServer::start(
        root.path(),
        &keys.path().join("host"),
        &keys.path().join("authorized"),
        &keys.path().join("server.log"),
    );
    let url = format!("ssh://git@127.0.0.1:{}/infra.git", server.port);
    let known = keys.path().join("known_hosts");
    std::fs::write(&known, format!("[127.0.0.1]:{} {host_pub}\n", server.port)).unwrap();

    let (code, result) = create_branch(&url, &keys.path().join("client"), &known, "5");
    assert_eq!(code, 0, "{result}");
    assert_eq!(
        git(&bare, &["rev-parse", "sbx-pr-5"], None),
        git(&bare, &["rev-parse", "main"], None)
    );

    // The server presents a key other than the one in known_hosts.
    let wrong = keys.path().join("wrong_known_hosts");
    std::fs::write(
        &wrong,
        format!("[127.0.0.1]:{} {stranger_pub}\n", server.port),
    )
    .unwrap();
    let (code, result) = create_branch(&url, &keys.path().join("client"), &wrong, "6");
    assert_eq!(code, 3, "{result}");
    let message = result["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("host key verification failed"),
        "{message}"
    );

    // A key the server does not authorize.
    let (code, result) = create_branch(&url, &keys.path().join("stranger"), &known, "6");
    assert_eq!(code, 3, "{result}");
    assert!(
        result["error"]["message"]
            .as_str()
            .unwrap()
            .contains("SSH key was rejected"),
        "{result}"
    );
    assert!(!git(&bare, &["branch", "--list"], None).contains("sbx-pr-6"));
}
