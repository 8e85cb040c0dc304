# check-params offline, one process per run (as each workflow step starts
# it), against the shell glue it replaces: a bash script deriving the same
# names with sed and checking them with grep. Goal: median <= 20 ms.
set -euo pipefail
ensure_apt hyperfine hyperfine
cargo build --release --locked -q -p sandbox-tasks --bin check-params
bin=$TARGET_DIR/release/check-params
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
cat > "$work/shell-peer.sh" <<'SH'
pr=42; prefix=sbx-
echo "$pr" | grep -Eq '^[1-9][0-9]*$' || { echo "bad pr" >&2; exit 2; }
env="${prefix}pr-${pr}"
echo "$env" | grep -Eq '^[a-z0-9]([-a-z0-9]{0,56}[a-z0-9])?$' || exit 2
mkdir -p "$1"
echo "$env" > "$1/environment"; echo "apps-$env" > "$1/namespace"; echo "$env" > "$1/branch"
echo "$env" | sed 's/-/_/g' > "$1/database_name"
echo "gs://acme-sandbox-docs/$env/" | grep -Eq '^gs://[a-z0-9][-a-z0-9_.]{1,61}[a-z0-9]/' || exit 2
SH
runs=${RUNS:-100}
hyperfine -N --warmup 5 --runs "$runs" --export-json "$work/hf.json" \
  -n check-params "$bin --params $ROOT/examples/sandbox.yaml --outputs-dir $work/out --log-format json" \
  -n shell-glue "bash $work/shell-peer.sh $work/out-sh" >&2
python3 - "$work/hf.json" <<'PY'
import json, sys
r = {x["command"]: x for x in json.load(open(sys.argv[1]))["results"]}
ours, peer = r["check-params"], r["shell-glue"]
print(f"check-params median {ours['median']*1000:.2f} ms (mean {ours['mean']*1000:.2f} ± {ours['stddev']*1000:.2f}, {len(ours['times'])} runs)")
print(f"shell glue   median {peer['median']*1000:.2f} ms")
print(f"ratio ours/shell: {ours['median']/peer['median']:.2f}x; goal median <= 20 ms: {'met' if ours['median'] <= 0.020 else 'NOT met'}")
PY
