#!/usr/bin/env bash
# seed-bucket against its peers, all against one fake-gcs-server (memory
# backend) in one run: rclone (Debian package, environment-only config,
# --transfers = our --concurrency) and `gsutil -m cp -r` (PyPI, through the
# emulator's HTTPS port). Each run is measured with /usr/bin/time -v: wall
# time, client CPU (user + sys, children included), peak RSS.
#
# usage: scripts/bench seed-bucket [RUNS=3]
# env:   CONCURRENCY (32), N_SMALL (2000), N_LARGE (20000), N_LISTED (100000),
#        SETS ("small large": which copy sets to time),
#        GSUTIL_LARGE=1 also times gsutil on the large set (slow).
set -euo pipefail
RUNS=${1:-3}
CONCURRENCY=${CONCURRENCY:-32}
N_SMALL=${N_SMALL:-2000}
N_LARGE=${N_LARGE:-20000}
N_LISTED=${N_LISTED:-100000}

# scripts/bench sources the helpers, but exec'd scripts do not inherit
# shell functions: source them here too.
: "${ROOT:=$(cd "$(dirname "$0")/../.." && pwd)}"
# shellcheck source=scripts/lib/tools.sh
. "$ROOT/scripts/lib/tools.sh"
install_test_tools
ensure_apt rclone rclone
ensure_apt /usr/bin/time time
ensure_venv venv-gsutil "gsutil==5.38"
GSUTIL=$TOOLS/venv-gsutil/bin/gsutil

say "cargo build --release seed-bucket"
cargo build -q --release -p sandbox-tasks --bin seed-bucket
SEED=$TARGET_DIR/release/seed-bucket

WORK=$(mktemp -d "${TMPDIR:-/tmp}/bench-seed-bucket.XXXXXX")
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
PORT=$(free_port)
HTTPS_PORT=$(free_port)
"$SANDBOX_TOOLS_DIR/fake-gcs-server" -scheme both -port "$HTTPS_PORT" -port-http "$PORT" \
  -host 127.0.0.1 -backend memory -public-host "127.0.0.1:$PORT" \
  -external-url "http://127.0.0.1:$PORT" -log-level warn >"$WORK/fake-gcs.log" 2>&1 &
GCS_PID=$!
trap 'kill $GCS_PID 2>/dev/null || true; rm -rf "$WORK"' EXIT
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$PORT/storage/v1/b" >/dev/null && break; sleep 0.1; done
ENDPOINT=http://127.0.0.1:$PORT

# rclone: a remote named "gcs" from the environment alone.
export RCLONE_CONFIG=/dev/null
export RCLONE_CONFIG_GCS_TYPE="google cloud storage"
export RCLONE_CONFIG_GCS_ANONYMOUS=true
export RCLONE_CONFIG_GCS_ENDPOINT="$ENDPOINT/storage/v1/"
export RCLONE_CONFIG_GCS_PROJECT_NUMBER=bench
export RCLONE_CONFIG_GCS_BUCKET_POLICY_ONLY=true
# gsutil: the JSON API over the HTTPS port, certificate checks off.
cat >"$WORK/boto.cfg" <<BOTO
[Credentials]
gs_json_host = 127.0.0.1
gs_json_port = $HTTPS_PORT
gs_host = 127.0.0.1
gs_port = $HTTPS_PORT
[Boto]
https_validate_certificates = False
num_retries = 1
[GSUtil]
prefer_api = json
default_project_id = bench
parallel_process_count = 2
parallel_thread_count = $((CONCURRENCY / 2))
check_hashes = never
disable_analytics_prompt = True
BOTO
export BOTO_CONFIG=$WORK/boto.cfg
unset STORAGE_EMULATOR_HOST

bucket() { curl -sf -o /dev/null -X POST -H 'content-type: application/json' -d "{\"name\":\"$1\"}" "$ENDPOINT/storage/v1/b"; }

populate() { # populate BUCKET N MIN_BYTES MAX_BYTES
  local dir=$WORK/src-$1
  python3 - "$dir" "$2" "$3" "$4" <<'PY'
import os, random, sys
d, n, lo, hi = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
r = random.Random(42)
for i in range(n):
    p = os.path.join(d, f"dir-{i % 100:03d}", f"doc-{i:06d}.txt")
    os.makedirs(os.path.dirname(p), exist_ok=True)
    with open(p, "wb") as f:
        f.write(r.randbytes(r.randint(lo, hi)))
PY
  bucket "$1"
  rclone copy "$dir" "gcs:$1/ref" --transfers 16 --checkers 16 -q
  rm -rf "$dir"
  say "populated gs://$1/ref with $2 objects"
}

RESULTS=$WORK/results.tsv
: >"$RESULTS"
measure() { # measure CASE TOOL RUN COMMAND...
  local case=$1 tool=$2 run=$3; shift 3
  /usr/bin/time -v -o "$WORK/time.txt" "$@" >"$WORK/out.txt" 2>"$WORK/err.txt" || {
    echo "FAILED: $*" >&2; tail -n 20 "$WORK/err.txt" >&2; tail -n 5 "$WORK/out.txt" >&2; exit 1; }
  python3 - "$WORK/time.txt" "$case" "$tool" "$run" >>"$RESULTS" <<'PY'
import sys
t = {}
for line in open(sys.argv[1]):
    k, _, v = line.strip().rpartition(": ")
    t[k] = v
h, m, s = (["0"] + ["0"] + t["Elapsed (wall clock) time (h:mm:ss or m:ss)"].split(":"))[-3:]
wall = int(h) * 3600 + int(m) * 60 + float(s)
cpu = float(t["User time (seconds)"]) + float(t["System time (seconds)"])
print(f"{sys.argv[2]}\t{sys.argv[3]}\t{sys.argv[4]}\t{wall:.3f}\t{cpu:.3f}\t{int(t['Maximum resident set size (kbytes)'])}")
PY
  tail -1 "$RESULTS" >&2
}

SETS=${SETS:-small large}
case " $SETS " in *" small "*) populate src-small "$N_SMALL" 1024 51200 ;; esac
case " $SETS " in *" large "*) populate src-large "$N_LARGE" 1024 51200 ;; esac

OURS=("$SEED" --endpoint "$ENDPOINT" --environment sbx-bench --concurrency "$CONCURRENCY"
  --outputs-dir "$WORK/outputs" --log-format text)

for set in $SETS; do
  for run in $(seq 1 "$RUNS"); do
    bucket "ours-$set-$run"; bucket "rclone-$set-$run"
    measure "copy-$set" seed-bucket "$run" "${OURS[@]}" \
      --source-bucket "gs://src-$set/ref" --dest-bucket "gs://ours-$set-$run/sbx-bench/"
    measure "copy-$set" rclone "$run" rclone copy "gcs:src-$set/ref" "gcs:rclone-$set-$run/sbx-bench" \
      --transfers "$CONCURRENCY" --checkers "$CONCURRENCY"
    measure "rerun-$set" seed-bucket "$run" "${OURS[@]}" \
      --source-bucket "gs://src-$set/ref" --dest-bucket "gs://ours-$set-$run/sbx-bench/"
    measure "rerun-$set" rclone "$run" rclone copy "gcs:src-$set/ref" "gcs:rclone-$set-$run/sbx-bench" \
      --transfers "$CONCURRENCY" --checkers "$CONCURRENCY"
    if [ "$set" = small ] || [ -n "${GSUTIL_LARGE:-}" ]; then
      bucket "gsutil-$set-$run"
      measure "copy-$set" gsutil "$run" "$GSUTIL" -q -m cp -r "gs://src-$set/ref/*" "gs://gsutil-$set-$run/sbx-bench/"
    fi
  done
done

# Memory with many objects listed: a dry run merging a listing of
# N_LISTED objects with an empty destination. fake-gcs-server slows down
# with the number of objects in a bucket (see BENCHMARKS.md), so the
# listing comes from a stub that serves the JSON API's list pages only.
LIST_PORT=$(free_port)
python3 - "$LIST_PORT" "$N_LISTED" >"$WORK/list-stub.log" 2>&1 <<'PY' &
import json, sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse
port, total = int(sys.argv[1]), int(sys.argv[2])
class Pages(BaseHTTPRequestHandler):
    def do_GET(self):
        url = urlparse(self.path)
        q = parse_qs(url.query)
        start = int(q.get("pageToken", ["0"])[0])
        size = int(q.get("maxResults", ["1000"])[0])
        items = []
        if url.path.startswith("/storage/v1/b/src-listed/o"):
            end = min(total, start + size)
            items = [{"name": f"ref/dir-{i // 1000:03d}/doc-{i:07d}.txt", "size": "10",
                      "contentType": "text/plain", "crc32c": "AAAAAA==",
                      "md5Hash": "AAAAAAAAAAAAAAAAAAAAAA==", "generation": "1",
                      "updated": "2026-11-27T00:00:00.000Z"} for i in range(start, end)]
            items.sort(key=lambda o: o["name"])
        body = {"kind": "storage#objects", "items": items}
        if items and start + size < total:
            body["nextPageToken"] = str(start + size)
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
    def log_message(self, *args):
        pass
ThreadingHTTPServer(("127.0.0.1", port), Pages).serve_forever()
PY
STUB_PID=$!
trap 'kill $GCS_PID $STUB_PID 2>/dev/null || true; rm -rf "$WORK"' EXIT
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$LIST_PORT/storage/v1/b/x/o" >/dev/null && break; sleep 0.1; done
for run in $(seq 1 "$RUNS"); do
  measure "list-listed" seed-bucket "$run" "$SEED" --endpoint "http://127.0.0.1:$LIST_PORT" \
    --environment sbx-bench --outputs-dir "$WORK/outputs" --log-format text \
    --source-bucket gs://src-listed/ref --dest-bucket gs://ours-listed/sbx-bench/ --dry-run
done

python3 - "$RESULTS" "$N_SMALL" "$N_LARGE" "$N_LISTED" "$CONCURRENCY" "$RUNS" <<'PY'
import statistics, sys
from collections import defaultdict
rows = [l.split("\t") for l in open(sys.argv[1]) if l.strip()]
n = {"small": int(sys.argv[2]), "large": int(sys.argv[3]), "listed": int(sys.argv[4])}
by = defaultdict(list)
for case, tool, run, wall, cpu, rss in rows:
    by[(case, tool)].append((float(wall), float(cpu), int(rss)))
med = {k: tuple(statistics.median(x[i] for x in v) for i in range(3)) for k, v in by.items()}
print(f"\nseed-bucket benchmark: concurrency {sys.argv[5]}, medians of {sys.argv[6]} runs, fake-gcs-server memory backend\n")
print("| case | tool | wall s | objects/s | client CPU s | peak RSS MB |")
print("|---|---|---:|---:|---:|---:|")
for (case, tool), (wall, cpu, rss) in sorted(med.items()):
    objects = n[case.split("-")[1]]
    print(f"| {case} | {tool} | {wall:.2f} | {objects / wall:.0f} | {cpu:.2f} | {rss / 1024:.1f} |")
print()
for case in sorted({c for c, _ in med}):
    ours = med.get((case, "seed-bucket"))
    for peer in ("rclone", "gsutil"):
        p = med.get((case, peer))
        if ours and p:
            print(f"{case}: wall {ours[0] / p[0]:.2f}x {peer}, CPU {ours[1] / p[1]:.2f}x {peer}, speed {p[0] / ours[0]:.1f}x {peer}'s")
PY
