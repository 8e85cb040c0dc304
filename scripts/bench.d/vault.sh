# Vault, against the shell glue it replaces, on an OpenBao dev server:
#  1. reading one credential: check-params --check-remote with a vault://
#     database URL (one process: validate, log in, read, redact) against
#     `bao kv get -field=url` (hyperfine, RUNS runs each);
#  2. cleanup-secrets of an environment tree of N secrets (default 200, in
#     10 folders) against a bash walk of `bao kv list` + `bao kv metadata
#     delete` per secret; the tree is planted anew before each of 3 runs.
set -euo pipefail
# scripts/bench sources the helpers, then execs a new bash: source them here.
# shellcheck source=scripts/lib/tools.sh
. "$ROOT/scripts/lib/tools.sh"
install_test_tools
ensure_apt hyperfine hyperfine
cargo build --release --locked -q -p sandbox-tasks --bin check-params --bin cleanup-secrets
bin=$TARGET_DIR/release
bao=$SANDBOX_TOOLS_DIR/bao
work=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
HOME=$work "$bao" server -dev -dev-no-store-token -dev-root-token-id=bench-root \
  -dev-listen-address="127.0.0.1:$port" >"$work/bao.log" 2>&1 &
bao_pid=$!
trap 'kill $bao_pid 2>/dev/null || true; rm -rf "$work"' EXIT
export VAULT_ADDR=http://127.0.0.1:$port BAO_ADDR=http://127.0.0.1:$port
export VAULT_TOKEN=bench-root BAO_TOKEN=bench-root HOME=$work
for _ in $(seq 100); do curl -sf "$VAULT_ADDR/v1/sys/health" >/dev/null && break; sleep 0.1; done

"$bao" kv put -mount=secret sandboxes/sbx-pr-1/db url=postgres://bench:bench-password@db/x >/dev/null
runs=${RUNS:-30}
hyperfine -N --warmup 3 --runs "$runs" --export-json "$work/read.json" \
  -n check-params "$bin/check-params --environment sbx-pr-1 --database-url vault://secret/sandboxes/{environment}/db#url --check-remote --vault-auth token --outputs-dir $work/out --log-format json" \
  -n bao-kv-get "$bao kv get -mount=secret -field=url sandboxes/sbx-pr-1/db" >&2

n=${SECRETS:-200}
plant() {
  # N secrets in 10 folders, written with curl four at a time.
  seq 0 $((n - 1)) | xargs -P 4 -I{} sh -c \
    'curl -sf -o /dev/null -H "X-Vault-Token: $VAULT_TOKEN" -d "{\"data\":{\"v\":\"x{}\"}}" "$VAULT_ADDR/v1/secret/data/sandboxes/sbx-pr-2/f$(({} % 10))/s{}"'
}
cat >"$work/glue.sh" <<'SH'
# The shell glue: walk the tree, delete every secret's metadata.
del_tree() {
  local path=$1 key
  for key in $(bao kv list -mount=secret "$path" 2>/dev/null | tail -n +3); do
    case $key in
      */) del_tree "$path/${key%/}" ;;
      *) bao kv metadata delete -mount=secret "$path/$key" >/dev/null ;;
    esac
  done
}
del_tree "$1"
SH
now() { date +%s%N; }
: >"$work/cleanup.txt"
for _ in 1 2 3; do
  plant
  t0=$(now)
  "$bin/cleanup-secrets" --environment sbx-pr-2 --vault-auth token --outputs-dir "$work/out" --log-format json >/dev/null 2>&1
  t1=$(now)
  test "$(cat "$work/out/secrets_deleted")" = "$n"
  plant
  t2=$(now)
  PATH=$(dirname "$bao"):$PATH bash "$work/glue.sh" sandboxes/sbx-pr-2
  t3=$(now)
  ! "$bao" kv list -mount=secret sandboxes/sbx-pr-2 >/dev/null 2>&1
  echo "$(( (t1 - t0) / 1000000 )) $(( (t3 - t2) / 1000000 ))" >>"$work/cleanup.txt"
done

python3 - "$work/read.json" "$work/cleanup.txt" "$n" <<'PY'
import json, statistics, sys
r = {x["command"]: x for x in json.load(open(sys.argv[1]))["results"]}
ours, peer = r["check-params"], r["bao-kv-get"]
print(f"read one credential: check-params --check-remote median {ours['median']*1000:.1f} ms, "
      f"bao kv get median {peer['median']*1000:.1f} ms ({len(ours['times'])} runs each); "
      f"ratio ours/bao {ours['median']/peer['median']:.2f}x")
rows = [tuple(map(int, l.split())) for l in open(sys.argv[2]) if l.strip()]
o = statistics.median(a for a, _ in rows); g = statistics.median(b for _, b in rows)
print(f"cleanup {sys.argv[3]} secrets: cleanup-secrets median {o} ms, shell glue (bao CLI) median {g} ms "
      f"(runs: {rows}); ratio ours/glue {o/g:.3f}x")
PY
