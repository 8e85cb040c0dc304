# scripts/bench hibernate [SANDBOXES=100]: put every registered sandbox to
# sleep in one run, against a repository served by git daemon with
# SANDBOXES sandboxes (each overlay: 3 Deployments, 1 StatefulSet, 1
# CronJob), beside the shell a pipeline would run today: clone, and for
# each sandbox check out its branch, `kubectl kustomize` its overlay, grep
# the Deployment and StatefulSet names and sed a replicas override into its
# Application, then one commit and push. Ours also reads every file back
# for wake, guards the branches, and retries a rejected push. RUNS=N (>= 3).
# Goal (issue 17): 100 sandboxes under 10 s.
set -euo pipefail
# shellcheck source=scripts/lib/tools.sh
declare -F ensure_apt > /dev/null || . "$ROOT/scripts/lib/tools.sh"
N=${1:-100}
RUNS=${RUNS:-5}
ensure_apt hyperfine hyperfine
ensure_apt git git
command -v kubectl > /dev/null || { echo "kubectl is missing: it renders the overlays (see scripts/lib/tools.sh)" >&2; exit 1; }

export CARGO_TARGET_DIR=$TARGET_DIR
say "cargo build --release --bin hibernate --bin wake"
cargo build --release -q -p sandbox-tasks --bin hibernate --bin wake
BIN=$TARGET_DIR/release

W=$TARGET_DIR/bench/hibernate
rm -rf "$W"; mkdir -p "$W/root" "$W/tmp"
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
URL=git://127.0.0.1:$PORT/infra.git
REPO=$W/root/infra.git
git init -q --bare -b main "$REPO"
python3 scripts/bench.d/hibernate_repo.py "$URL" "$N" | git -C "$REPO" fast-import --quiet
BASE=$(git -C "$REPO" rev-parse main)
git daemon --reuseaddr --listen=127.0.0.1 --port="$PORT" --export-all --enable=receive-pack \
  --base-path="$W/root" "$W/root" > "$W/daemon.log" 2>&1 &
DAEMON=$!
trap 'kill "$DAEMON" 2>/dev/null || true' EXIT
for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break; sleep 0.1; done

cat > "$W/reset.sh" <<SH
git -C "$REPO" update-ref refs/heads/main "$BASE"
rm -rf "$W/tmp"; mkdir -p "$W/tmp"
SH

cat > "$W/baseline.sh" <<'SH'
set -e
export GIT_AUTHOR_NAME=ci GIT_AUTHOR_EMAIL=ci@example.invalid GIT_COMMITTER_NAME=ci GIT_COMMITTER_EMAIL=ci@example.invalid
git clone -q "$1" "$2/apps" && cd "$2/apps"
for app in apps/sandboxes/sbx-pr-*.yaml; do
  env=$(basename "$app" .yaml)
  mkdir -p "$2/$env"
  git archive "origin/$env" base "overlays/$env" | tar -x -C "$2/$env"
  names=$(kubectl kustomize "$2/$env/overlays/$env" |
    awk '/^kind: (Deployment|StatefulSet)$/ {k = 1} k && /^  name: / {print $2; k = 0}')
  block="    kustomize:\n      replicas:"
  for n in $names; do block="$block\n        - name: $n\n          count: 0"; done
  sed -i "s|^    path: \"overlays/$env\"\$|&\n$block|" "$app"
done
git commit -qam "hibernate"
git push -q origin HEAD:main
SH

cat > "$W/ours.sh" <<SH
set -e
"$BIN/hibernate" --repo-url "$URL" --forge none --outputs-dir "$W/tmp/out" --log-format json > "$W/tmp/result" 2>> "$W/ours.log"
SH
: > "$W/ours.log"

# Both sides do the work: every Application gets 4 count-0 entries.
check() {
  local bad
  bad=$(git -C "$REPO" ls-tree --name-only main apps/sandboxes/ | while read -r f; do
    [ "$(git -C "$REPO" show "main:$f" | grep -c 'count: 0')" = 4 ] || echo "$f"; done | wc -l)
  [ "$bad" = 0 ] || { echo "$1: $bad Applications without 4 overrides" >&2; exit 1; }
}
bash "$W/reset.sh"; bash "$W/baseline.sh" "$URL" "$W/tmp"; check baseline
bash "$W/reset.sh"; bash "$W/ours.sh"; check ours
[ "$(git -C "$REPO" rev-list --count "$BASE..main")" = 1 ] || { echo "ours: not one commit" >&2; exit 1; }

say "hyperfine, $RUNS runs each, $N sandboxes"
hyperfine --runs "$RUNS" --export-json "$W/hyperfine.json" \
  --prepare "bash $W/reset.sh" -n "baseline: clone + kubectl kustomize + sed per sandbox + one push" "bash $W/baseline.sh $URL $W/tmp" \
  --prepare "bash $W/reset.sh" -n "ours: hibernate (one run, one commit)" "bash $W/ours.sh"

say "wake of the same $N (one run each)"
bash "$W/reset.sh"; bash "$W/ours.sh"
start=$(date +%s.%N)
"$BIN/wake" --repo-url "$URL" --forge none --outputs-dir "$W/tmp/out" --log-format json > /dev/null 2>> "$W/ours.log"
end=$(date +%s.%N)
[ "$(git -C "$REPO" diff "$BASE" main --stat | wc -l)" = 0 ] || { echo "wake: files differ from before hibernate" >&2; exit 1; }
python3 -c "print(f'wake: {$end - $start:.2f} s, every file back byte for byte')"

python3 - "$W/hyperfine.json" <<'PY'
import json, sys
results = json.load(open(sys.argv[1]))["results"]
base = results[0]["median"]
print()
print("| variant | median s | min–max s | ratio to baseline |")
print("|---|---|---|---|")
for r in results:
    print(f"| {r['command']} | {r['median']:.2f} | {r['min']:.2f}–{r['max']:.2f} | {r['median'] / base:.2f}x |")
PY
