# sandbox lint over the shipped library (cluster-workflow-templates/) plus
# 200 example files, one process per run as a CI step or pre-commit hook
# starts it. Goal: median < 1 s.
#
# The examples: the first 200 YAML files under $ARGO_EXAMPLES when it is
# set (a checkout of argo-workflows `examples/`, which lint reads whole),
# otherwise 200 copies of the project's own lint test inputs and the
# upstream examples in the fixtures, each renamed so references stay
# unambiguous.
#
# The peer, `argo lint --offline FILE...` (argo-workflows
# cmd/argo/commands/lint.go, cmd/argo/lint/lint.go), is not installable
# here, so it is described, not timed: one Go process walks the files
# (fileutil.WalkManifests), splits each on "\n---"
# (workflow/common/parse.go ParseObjects), converts every document with
# sigs.k8s.io/yaml YAMLToJSONStrict (duplicate keys rejected) and decodes it
# strictly (unknown fields rejected), then hands each object to the offline
# client, which runs workflow/validate's Workflow / WorkflowTemplate /
# ClusterWorkflowTemplate / CronWorkflow with Opts{Lint: true}, references
# resolved from the files given. Each object stops at its first error;
# errors carry no line numbers.
set -euo pipefail
ensure_apt hyperfine hyperfine
cargo build --release --locked -q -p sandbox-cli --bin sandbox
bin=$TARGET_DIR/release/sandbox
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
mkdir -p "$work/examples"
if [ -n "${ARGO_EXAMPLES:-}" ]; then
  find "$ARGO_EXAMPLES" -name '*.yaml' -o -name '*.yml' | sort | head -200 |
    while read -r f; do cp "$f" "$work/examples/$(echo "${f#"$ARGO_EXAMPLES"/}" | tr / _)"; done
  source="first 200 files of $ARGO_EXAMPLES"
else
  inputs=("$ROOT"/crates/sandbox-cli/tests/lint/ok/*.yaml "$ROOT"/crates/sandbox-cli/tests/lint/broken/*.yaml)
  if [ -d "${SANDBOX_FIXTURES:-/work/shared/fixtures}/argo/examples" ]; then
    inputs+=("${SANDBOX_FIXTURES:-/work/shared/fixtures}"/argo/examples/*.yaml)
  fi
  for i in $(seq 0 199); do
    f=${inputs[$((i % ${#inputs[@]}))]}
    # Unique names per copy: `name: demo-x` -> `name: demo-x-c17`.
    sed -E "s/^(  name: [a-z0-9-]+)$/\1-c$i/" "$f" > "$work/examples/$i-$(basename "$f")"
  done
  source="200 copies of the lint test inputs and fixture examples"
fi
files=$(find "$work/examples" -type f | wc -l)
docs=$("$bin" lint --skip unpinned-image "$ROOT/cluster-workflow-templates" "$work/examples" 2>&1 >/dev/null | tail -1 || true)
echo "input: cluster-workflow-templates/ + $files example files ($source); $docs" >&2
runs=${RUNS:-20}
# Exit 1 (findings) is expected on the broken inputs: -i keeps timing.
hyperfine -N -i --warmup 2 --runs "$runs" --export-json "$work/hf.json" \
  -n "sandbox lint" "$bin lint $ROOT/cluster-workflow-templates $work/examples" >&2
python3 - "$work/hf.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["results"][0]
print(f"sandbox lint median {r['median']*1000:.1f} ms (mean {r['mean']*1000:.1f} ± {r['stddev']*1000:.1f}, {len(r['times'])} runs)")
print("argo lint --offline: not timed (not installable here); see the description in scripts/bench.d/lint.sh")
print(f"goal median < 1 s: {'met' if r['median'] < 1.0 else 'NOT met'}")
PY
