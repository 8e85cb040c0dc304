# report-tests reading JUnit XML: `report-tests --dry-run` (one process:
# find the reports, parse, count, locate every failure in its traceback,
# build the summary and the annotations) against Python's junitparser
# reading the same file and counting outcomes (one process). Reports of
# 2,000 tests / 300 failures (the check-run case of issue 15) and 50,000
# tests / 3,000 failures, pytest-shaped. Goal: the 2,000-test report well
# under the 1 s the whole publication may take.
set -euo pipefail
ensure_apt hyperfine hyperfine
ensure_venv venv-pytest "pytest==$PYTEST_VERSION" "junitparser==$JUNITPARSER_VERSION"
cargo build --release --locked -q -p sandbox-tasks --bin report-tests
bin=$TARGET_DIR/release/report-tests
python=$TOOLS/venv-pytest/bin/python
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
cat > "$work/make.py" <<'PY'
import sys
tests, failures, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
with open(out, "w") as f:
    f.write('<?xml version="1.0" encoding="utf-8"?>\n<testsuites><testsuite name="pytest">\n')
    for i in range(tests):
        m = i % 40
        f.write(f'<testcase classname="tests.test_shop_{m}" name="test_case_{i}" time="0.{i % 1000:03d}"')
        if i < failures:
            kind = "error" if i % 7 == 0 else "failure"
            f.write(f'><{kind} message="assert {i} == 0">def test_case_{i}():\n    value = {i}\n&gt;   assert value == 0\nE   assert {i} == 0\n\ntests/test_shop_{m}.py:{10 + i}: AssertionError</{kind}></testcase>\n')
        else:
            f.write("/>\n")
    f.write("</testsuite></testsuites>\n")
PY
cat > "$work/peer.py" <<'PY'
import sys
from junitparser import JUnitXml, Failure, Error, Skipped
counts = {"passed": 0, "failed": 0, "errored": 0, "skipped": 0}
xml = JUnitXml.fromfile(sys.argv[1])
suites = [xml] if xml._tag == "testsuite" else list(xml)
for suite in suites:
    for case in suite:
        kinds = {type(r) for r in case.result}
        if Error in kinds: counts["errored"] += 1
        elif Failure in kinds: counts["failed"] += 1
        elif Skipped in kinds: counts["skipped"] += 1
        else: counts["passed"] += 1
print(counts)
PY
runs=${RUNS:-20}
for size in "2000 300" "50000 3000"; do
  set -- $size
  dir=$work/r$1; mkdir -p "$dir"
  "$python" "$work/make.py" "$1" "$2" "$dir/junit.xml"
  # Both must count the same before they are timed.
  ours=$("$bin" --dry-run --environment sbx-pr-1 --github-repo acme/shop --head-sha 0000000000000000000000000000000000000000 \
    --junit-path "$dir" --outputs-dir "$work/out" --log-format json 2>/dev/null | tail -1)
  peer=$("$python" "$work/peer.py" "$dir/junit.xml")
  echo "$1 tests: report-tests $(echo "$ours" | python3 -c 'import json,sys; o=json.load(sys.stdin)["outputs"]; print({k: int(o["tests_"+k]) for k in ["passed","failed","errored","skipped"]})'); junitparser $peer" >&2
  hyperfine -N --warmup 2 --runs "$runs" --export-json "$work/hf$1.json" \
    -n report-tests "$bin --dry-run --environment sbx-pr-1 --github-repo acme/shop --head-sha 0000000000000000000000000000000000000000 --junit-path $dir --outputs-dir $work/out --log-format json" \
    -n junitparser "$python $work/peer.py $dir/junit.xml" >&2
  python3 - "$work/hf$1.json" "$1" <<'PY'
import json, sys
r = {x["command"]: x for x in json.load(open(sys.argv[1]))["results"]}
ours, peer = r["report-tests"], r["junitparser"]
print(f"{sys.argv[2]} tests: report-tests median {ours['median']*1000:.1f} ms ({len(ours['times'])} runs), junitparser median {peer['median']*1000:.1f} ms, ratio {ours['median']/peer['median']:.2f}x")
PY
done
