# scripts/bench patch-kustomize [RUNS=5] [COMMITS=20000] [FILES=5000]
#
# The application's CI bumping one image on a sandbox branch: patch-kustomize
# (warm workdir, and cold) against the shell it replaces (git clone, sed,
# git commit, git push; warm = an existing clone that fetches and resets).
# A synthetic repository of COMMITS commits and FILES files, served by git
# daemon on loopback. Prints medians, ratios and patch-kustomize's peak RSS.
set -euo pipefail
# scripts/bench sources tools.sh, then execs a new bash, which does not
# inherit shell functions: source it again here.
# shellcheck source=scripts/lib/tools.sh
. "$ROOT/scripts/lib/tools.sh"
RUNS=${1:-5}
COMMITS=${2:-20000}
FILES=${3:-5000}

ensure_apt hyperfine hyperfine
ensure_apt git git
ensure_apt /usr/bin/time time

say "cargo build --release --bin patch-kustomize"
cargo build -q --release -p sandbox-tasks --bin patch-kustomize
BIN=$TARGET_DIR/release/patch-kustomize

WORK=$(mktemp -d /tmp/bench-patch-kustomize.XXXXXX)
DAEMON_PID=
cleanup() {
  if [ -n "$DAEMON_PID" ]; then kill "$DAEMON_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

say "generating a repository of $COMMITS commits and $FILES files"
mkdir -p "$WORK/root"
git init -q --bare -b main "$WORK/root/infra.git"
python3 - "$COMMITS" "$FILES" <<'EOF' | git -C "$WORK/root/infra.git" fast-import --quiet
# A deterministic history: every file in the first commit (with a Kustomize
# base and a sandbox overlay), then commits touching 1-3 files each.
import random, sys
commits, files = int(sys.argv[1]), int(sys.argv[2])
rnd = random.Random(7)
out = sys.stdout.buffer
def blob(text):
    b = text.encode()
    out.write(b"data %d\n" % len(b) + b + b"\n")
def line():
    return " ".join("%04x" % rnd.randrange(65536) for _ in range(12)) + "\n"
kustomize = {
    "base/kustomization.yaml": "resources:\n  - deployment.yaml\n",
    "base/deployment.yaml": "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: shop\nspec:\n  selector:\n    matchLabels: {app: shop}\n  template:\n    metadata:\n      labels: {app: shop}\n    spec:\n      containers:\n        - name: shop\n          image: ghcr.io/acme/shop:0.0.1\n",
    "overlays/sandbox/kustomization.yaml": "# Sandbox overlay\napiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamespace: apps-sbx-pr-1   # per sandbox\nresources:\n  - ../../base\nimages:\n  - name: ghcr.io/acme/shop\n    newTag: \"0.0.1\"\n",
}
paths = ["src/m%03d/f%05d.txt" % (i // 100, i) for i in range(files)]
body = {}
for c in range(commits):
    out.write(b"commit refs/heads/main\ncommitter Bench <bench@example.invalid> %d +0000\n" % (1600000000 + 60 * c))
    blob("commit %d\n" % c)
    if c == 0:
        for p, text in kustomize.items():
            out.write(("M 100644 inline %s\n" % p).encode()); blob(text)
        touched = range(files)
    else:
        touched = rnd.sample(range(files), rnd.randint(1, 3))
    for i in touched:
        body[i] = (body.get(i, "") if c else "".join(line() for _ in range(rnd.randint(5, 40)))) + (line() if c else "")
        out.write(("M 100644 inline %s\n" % paths[i]).encode()); blob(body[i])
    out.write(b"\n")
EOF
git -C "$WORK/root/infra.git" repack -adq
git -C "$WORK/root/infra.git" branch sbx-pr-1 main

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
git daemon --reuseaddr --listen=127.0.0.1 --port="$PORT" --export-all --enable=receive-pack \
  --base-path="$WORK/root" "$WORK/root" 2>"$WORK/daemon.log" &
DAEMON_PID=$!
for _ in $(seq 100); do
  if git ls-remote "git://127.0.0.1:$PORT/infra.git" >/dev/null 2>&1; then break; fi
  sleep 0.1
done
URL=git://127.0.0.1:$PORT/infra.git

# The warm shell clone and the warm workdir exist before timing starts.
git clone -q --branch sbx-pr-1 "$URL" "$WORK/warm-clone"
git -C "$WORK/warm-clone" config user.name bench
git -C "$WORK/warm-clone" config user.email bench@example.invalid
"$BIN" --repo-url "$URL" --environment sbx-pr-1 --overlay-path overlays/sandbox \
  --set-image ghcr.io/acme/shop:warmup --workdir "$WORK/workdir" --outputs-dir "$WORK/out" \
  >/dev/null 2>&1

# Every run sets a new tag, so every run commits and pushes.
TAG='t$(date +%s%N)'
SED="sed -i '/name: ghcr.io\/acme\/shop/{n;s/newTag: .*/newTag: \"'$TAG'\"/}' overlays/sandbox/kustomization.yaml"
GIT_ID="-c user.name=bench -c user.email=bench@example.invalid"
PK="$BIN --repo-url $URL --environment sbx-pr-1 --overlay-path overlays/sandbox --outputs-dir $WORK/out --log-format json"

say "timing ($RUNS runs each)"
hyperfine --style basic --runs "$RUNS" --export-json "$WORK/hf.json" \
  -n 'patch-kustomize warm' "$PK --workdir $WORK/workdir --set-image ghcr.io/acme/shop:$TAG >/dev/null 2>&1" \
  -n 'shell warm (fetch, reset, sed, commit, push)' \
    "cd $WORK/warm-clone && git fetch -q origin sbx-pr-1 && git reset -q --hard FETCH_HEAD && $SED && git $GIT_ID commit -qam bump && git push -q origin HEAD:sbx-pr-1" \
  -n 'patch-kustomize warm --verify-render' "$PK --workdir $WORK/workdir --verify-render --set-image ghcr.io/acme/shop:$TAG >/dev/null 2>&1" \
  -n 'patch-kustomize cold' "$PK --set-image ghcr.io/acme/shop:$TAG >/dev/null 2>&1" \
  -n 'shell cold (clone, sed, commit, push)' \
    "rm -rf $WORK/cold && git clone -q --branch sbx-pr-1 $URL $WORK/cold && cd $WORK/cold && $SED && git $GIT_ID commit -qam bump && git push -q origin HEAD:sbx-pr-1" \
  >&2

rss() {
  /usr/bin/time -f '%M' "$@" 2>&1 >/dev/null | tail -1
}
RSS_WARM=$(rss $BIN --repo-url "$URL" --environment sbx-pr-1 --overlay-path overlays/sandbox \
  --outputs-dir "$WORK/out" --log-format json --workdir "$WORK/workdir" --set-image "ghcr.io/acme/shop:rss$$")
RSS_COLD=$(rss $BIN --repo-url "$URL" --environment sbx-pr-1 --overlay-path overlays/sandbox \
  --outputs-dir "$WORK/out" --log-format json --set-image "ghcr.io/acme/shop:rsscold$$")

python3 - "$WORK/hf.json" "$RSS_WARM" "$RSS_COLD" "$COMMITS" "$FILES" <<'EOF'
import json, sys
results = {r["command"]: r for r in json.load(open(sys.argv[1]))["results"]}
med = {name: r["median"] for name, r in results.items()}
print(f"repository: {sys.argv[4]} commits, {sys.argv[5]} files, git daemon on loopback")
for name, r in results.items():
    print(f"{name:48s} median {r['median']*1000:8.1f} ms  (min {r['min']*1000:.1f}, max {r['max']*1000:.1f}, runs {len(r['times'])})")
warm = med["patch-kustomize warm"] / med["shell warm (fetch, reset, sed, commit, push)"]
cold = med["patch-kustomize cold"] / med["shell cold (clone, sed, commit, push)"]
print(f"ratio warm: patch-kustomize / shell = {warm:.2f}x")
print(f"ratio cold: patch-kustomize / shell = {cold:.2f}x")
print(f"ratio patch-kustomize warm / shell cold = {med['patch-kustomize warm'] / med['shell cold (clone, sed, commit, push)']:.3f}x")
print(f"peak RSS patch-kustomize: warm {int(sys.argv[2])/1024:.1f} MiB, cold {int(sys.argv[3])/1024:.1f} MiB")
EOF
