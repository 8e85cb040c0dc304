# scripts/bench gitops [COMMITS=20000] [FILES=5000]: create-branch +
# register-app (+ patch-kustomize when the binary exists) end to end against
# a synthetic repository served by git daemon, beside the shell baseline
# such pipelines run today (full git clone, sed, git commit, git push — twice).
# Variants: cold (empty workdir), cold without --workdir (each step its own
# temporary clone), warm (workdir kept from an earlier run). RUNS=N (>= 3).
set -euo pipefail
# scripts/bench sources tools.sh and then execs a new bash, which loses the
# functions: source it again here.
# shellcheck source=scripts/lib/tools.sh
declare -F ensure_apt > /dev/null || . "$ROOT/scripts/lib/tools.sh"
COMMITS=${1:-20000}
FILES=${2:-5000}
RUNS=${RUNS:-5}
ensure_apt hyperfine hyperfine
ensure_apt /usr/bin/time time
ensure_apt git git

export CARGO_TARGET_DIR=$TARGET_DIR
bins=(--bin create-branch --bin register-app)
patch=
if [ -f crates/sandbox-tasks/src/bin/patch-kustomize.rs ]; then
  bins+=(--bin patch-kustomize)
  patch=1
fi
say "cargo build --release ${bins[*]}"
cargo build --release -q -p sandbox-tasks "${bins[@]}"
BIN=$TARGET_DIR/release

W=$TARGET_DIR/bench/gitops
REPO=$W/root/infra.git
mkdir -p "$W/root"
if [ ! -f "$W/root/.ready-$COMMITS-$FILES" ]; then
  say "generating a repository of $COMMITS commits and $FILES files"
  rm -rf "$REPO" "$W"/root/.ready-*
  git init -q --bare -b main "$REPO"
  python3 scripts/bench.d/gitops_repo.py "$COMMITS" "$FILES" | git -C "$REPO" fast-import --quiet
  git -C "$REPO" repack -adq
  git -C "$REPO" rev-parse main > "$W/root/.ready-$COMMITS-$FILES"
fi
BASE=$(cat "$W/root/.ready-$COMMITS-$FILES")
say "repository: $(git -C "$REPO" rev-list --count main) commits, $(git -C "$REPO" ls-tree -r main | wc -l) files, $(du -sh "$REPO" | cut -f1)"

PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
git daemon --reuseaddr --listen=127.0.0.1 --port="$PORT" --export-all --enable=receive-pack \
  --base-path="$W/root" "$W/root" > "$W/daemon.log" 2>&1 &
DAEMON=$!
trap 'kill "$DAEMON" 2>/dev/null || true' EXIT
for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break; sleep 0.1; done
URL=git://127.0.0.1:$PORT/infra.git

# Every run starts from the same remote: main at its generated tip, no sandbox branch.
cat > "$W/reset.sh" <<SH
git -C "$REPO" update-ref refs/heads/main "$BASE"
git -C "$REPO" update-ref -d refs/heads/sbx-pr-1 2>/dev/null || true
rm -rf "$W/tmp"; mkdir -p "$W/tmp"
SH

cat > "$W/baseline.sh" <<SH
set -e
export GIT_AUTHOR_NAME=ci GIT_AUTHOR_EMAIL=ci@example.invalid GIT_COMMITTER_NAME=ci GIT_COMMITTER_EMAIL=ci@example.invalid
git clone -q "$URL" "$W/tmp/env" && cd "$W/tmp/env"
git checkout -q -b sbx-pr-1
sed -i 's/^namespace: .*/namespace: apps-sbx-pr-1/' overlays/sandbox/kustomization.yaml
git commit -qam "sbx-pr-1: overlay"
git push -q origin sbx-pr-1
git clone -q "$URL" "$W/tmp/apps" && cd "$W/tmp/apps"
sed 's/sbx-pr-900/sbx-pr-1/g' apps/sandboxes/sbx-pr-900.yaml > apps/sandboxes/sbx-pr-1.yaml
git add apps/sandboxes/sbx-pr-1.yaml
git commit -qm "register sbx-pr-1"
git push -q origin main
SH

# ours.sh [WORKDIR]: the pipeline's git steps, as the workflow runs them.
cat > "$W/ours.sh" <<SH
set -e
wd=()
if [ -n "\${1:-}" ]; then wd=(--workdir "\$1"); fi
common=(--repo-url "$URL" --pr-number 1 --outputs-dir "$W/tmp/out" --log-format json "\${wd[@]}")
"$BIN/create-branch" "\${common[@]}" > /dev/null 2>> "$W/ours.log"
if [ -n "$patch" ]; then
  "$BIN/patch-kustomize" "\${common[@]}" --overlay-path overlays/sandbox --images-from overlays/integration > /dev/null 2>> "$W/ours.log"
fi
"$BIN/register-app" "\${common[@]}" --overlay-path overlays/sandbox > /dev/null 2>> "$W/ours.log"
SH
: > "$W/ours.log"

# Check once that both sides do the work, then warm the kept workdir.
bash "$W/reset.sh"; bash "$W/baseline.sh"
git -C "$REPO" show main:apps/sandboxes/sbx-pr-1.yaml > /dev/null
bash "$W/reset.sh"; rm -rf "$W/wd-warm"; bash "$W/ours.sh" "$W/wd-warm"
git -C "$REPO" show main:apps/sandboxes/sbx-pr-1.yaml | grep -q 'targetRevision: "sbx-pr-1"'
git -C "$REPO" rev-parse --verify -q refs/heads/sbx-pr-1 > /dev/null
if [ -n "$patch" ]; then
  git -C "$REPO" show sbx-pr-1:overlays/sandbox/kustomization.yaml | grep -q 'namespace: apps-sbx-pr-1'
fi

say "hyperfine, $RUNS runs each"
hyperfine --runs "$RUNS" --export-json "$W/hyperfine.json" \
  --prepare "bash $W/reset.sh" -n "baseline: git clone + sed + commit + push, twice" "bash $W/baseline.sh" \
  --prepare "bash $W/reset.sh; rm -rf $W/wd-cold" -n "ours cold (empty --workdir)" "bash $W/ours.sh $W/wd-cold" \
  --prepare "bash $W/reset.sh" -n "ours cold (no --workdir: a temporary clone per step)" "bash $W/ours.sh" \
  --prepare "bash $W/reset.sh" -n "ours warm (--workdir kept)" "bash $W/ours.sh $W/wd-warm"

say "peak RSS (/usr/bin/time -v, one cold run each)"
rss() { /usr/bin/time -v "$@" 2>&1 >/dev/null | awk -F': ' '/Maximum resident/ {print $2}'; }
bash "$W/reset.sh"
echo "git clone (baseline step):  $(rss git clone -q "$URL" "$W/tmp/rss-clone") KiB"
bash "$W/reset.sh"; rm -rf "$W/wd-rss"
echo "create-branch (cold):       $(rss "$BIN/create-branch" --repo-url "$URL" --pr-number 1 --workdir "$W/wd-rss" --outputs-dir "$W/tmp/out" --log-format json) KiB"
echo "register-app (same workdir): $(rss "$BIN/register-app" --repo-url "$URL" --pr-number 1 --overlay-path overlays/sandbox --workdir "$W/wd-rss" --outputs-dir "$W/tmp/out" --log-format json) KiB"
bash "$W/reset.sh"
echo "register-app (warm):        $(rss "$BIN/register-app" --repo-url "$URL" --pr-number 1 --overlay-path overlays/sandbox --workdir "$W/wd-warm" --outputs-dir "$W/tmp/out" --log-format json) KiB"

python3 - "$W/hyperfine.json" "$patch" <<'PY'
import json, sys
results = json.load(open(sys.argv[1]))["results"]
base = results[0]["median"]
print()
print("| variant | median s | min–max s | ratio to baseline |")
print("|---|---|---|---|")
for r in results:
    print(f"| {r['command']} | {r['median']:.3f} | {r['min']:.3f}–{r['max']:.3f} | {r['median'] / base:.2f}× |")
print("\nours runs create-branch + " + ("patch-kustomize + " if sys.argv[2] else "") + "register-app"
      + ("" if sys.argv[2] else " (patch-kustomize is not built on this branch)"))
PY
