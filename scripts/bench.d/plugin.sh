#!/usr/bin/env bash
# sandbox-plugin against a Python stdlib executor plugin of the shape
# Argo's docs teach (plugin/bench/python_plugin.py), in the same run, on
# loopback, with wrk:
#   - "not mine" (plugin: {other: {}}): requests/s and p50/p99 at full load;
#   - check-params (a new job per request: unique workflow uid): requests/s
#     at full load, and p50/p99 paced at about 1k requests/s;
#   - start-up time (spawn to first answered call), idle and loaded RSS.
# Goals: not mine >= 50k req/s, check-params p99 <= 2 ms at 1k req/s, idle
# RSS <= 15 MB, >= 10x the Python plugin's throughput.
# Usage: scripts/bench plugin   (or scripts/bench.d/plugin.sh)
# Env: RUNS (rounds, default 3), DURATION (seconds per wrk run, default 10),
# PROFILE (cargo profile, default release; the image uses release-small).
set -euo pipefail

if ! declare -F ensure_apt >/dev/null; then
  ROOT=$(cd "$(dirname "$0")/../.." && pwd)
  export ROOT
  # shellcheck source=scripts/lib/tools.sh
  . "$ROOT/scripts/lib/tools.sh"
fi
cd "$ROOT"

ensure_apt wrk wrk
ensure_apt python3 python3
PROFILE=${PROFILE:-release}
cargo build --profile "$PROFILE" --locked -q -p sandbox-plugin --bin sandbox-plugin

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# A token of the agent's shape: 32 random lowercase letters.
python3 -c 'import random, string; print("".join(random.choices(string.ascii_lowercase, k=32)), end="")' > "$work/token"

cat > "$work/common.lua" <<'LUA'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("BENCH_TOKEN")
LUA
cat > "$work/notmine.lua" <<'LUA'
dofile(os.getenv("BENCH_DIR") .. "/common.lua")
wrk.path = "/api/v1/template.execute"
wrk.body = '{"workflow":{"metadata":{"name":"notify-x1","namespace":"argo","uid":"6f1c"}},' ..
  '"template":{"name":"notify","inputs":{},"outputs":{},"metadata":{},"plugin":{"other":{"text":"hi"}}}}'
LUA
cat > "$work/checkparams.lua" <<'LUA'
dofile(os.getenv("BENCH_DIR") .. "/common.lua")
-- Each request is a new workflow run (unique uid), so every call starts
-- and finishes a real check-params job instead of reading a cached result.
local threads = 0
function setup(thread) threads = threads + 1; thread:set("tid", threads) end
local n = 0
local pace = tonumber(os.getenv("BENCH_DELAY_MS") or "0")
if pace > 0 then function delay() return pace end end
function request()
  n = n + 1
  local body = string.format('{"workflow":{"metadata":{"name":"sandbox-create","namespace":"argo","uid":"t%d-%d"}},' ..
    '"template":{"name":"check","inputs":{"parameters":[{"name":"pr_number","value":"%d"}]},"metadata":{},' ..
    '"plugin":{"sandbox":{"task":"check-params","params":{"pr_number":"%d"}}}}}', tid, n, n % 9999 + 1, n % 9999 + 1)
  return wrk.format("POST", "/api/v1/template.execute", nil, body)
end
LUA

export BENCH_DIR=$work BENCH_TOKEN
BENCH_TOKEN=$(cat "$work/token")
python3 - "$TARGET_DIR/$PROFILE/sandbox-plugin" "$ROOT/plugin/bench/python_plugin.py" "$work" \
  "${RUNS:-3}" "${DURATION:-10}" <<'PY'
import json, os, re, socket, statistics, subprocess, sys, time

ours_bin, peer_py, work, runs, duration = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
token = open(f"{work}/token").read()
NOT_MINE = json.dumps({"workflow": {"metadata": {"name": "w", "namespace": "argo", "uid": "u"}},
                       "template": {"name": "t", "plugin": {"other": {}}}}).encode()

def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]; s.close(); return port

def answered(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
            s.sendall(b"POST /api/v1/template.execute HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                      b"Authorization: Bearer " + token.encode() + b"\r\nContent-Length: "
                      + str(len(NOT_MINE)).encode() + b"\r\n\r\n" + NOT_MINE)
            return s.recv(64).startswith((b"HTTP/1.1 200", b"HTTP/1.0 200"))
    except OSError:
        return False

def start(kind):
    port = free_port()
    if kind == "ours":
        cmd = [ours_bin, "--listen", f"127.0.0.1:{port}", "--token-file", f"{work}/token", "--log-format", "json"]
    else:
        cmd = [sys.executable, peer_py, str(port), f"{work}/token"]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while not answered(port):
        if time.perf_counter() - t0 > 10 or proc.poll() is not None:
            raise SystemExit(f"{kind} did not start")
        time.sleep(0.0005)
    return proc, port, (time.perf_counter() - t0) * 1000

def rss_mb(pid, field="VmRSS"):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024

UNIT = {"us": 0.001, "ms": 1.0, "s": 1000.0}
def wrk(port, script, connections, delay_ms=0):
    env = dict(os.environ, BENCH_DELAY_MS=str(delay_ms))
    out = subprocess.run(["wrk", "-t2", f"-c{connections}", f"-d{duration}s", "--timeout", "5s", "--latency",
                          "-s", f"{work}/{script}", f"http://127.0.0.1:{port}/api/v1/template.execute"],
                         env=env, capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    lat = {p: float(v) * UNIT[u] for p, v, u in re.findall(r"^\s+(50|99)%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)}
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    return {"rps": rps, "p50": lat["50"], "p99": lat["99"], "non2xx": int(bad.group(1)) if bad else 0,
            "socket_errors": errors.group(1) if errors else ""}

results = {"ours": [], "python": []}
for r in range(runs):
    for kind in ("ours", "python"):
        startups = []
        for _ in range(5):
            proc, port, ms = start(kind); startups.append(ms); proc.kill(); proc.wait()
        proc, port, _ = start(kind)
        time.sleep(1)
        row = {"startup_ms": statistics.median(startups), "idle_rss": rss_mb(proc.pid)}
        row["notmine"] = wrk(port, "notmine.lua", 32)
        row["check"] = wrk(port, "checkparams.lua", 32)
        # 10 connections, each waiting 10 ms between calls: about 1k calls/s.
        row["paced"] = wrk(port, "checkparams.lua", 10, delay_ms=10)
        row["loaded_rss"] = rss_mb(proc.pid)
        row["peak_rss"] = rss_mb(proc.pid, "VmHWM")
        proc.kill(); proc.wait()
        results[kind].append(row)
        print(f"round {r + 1} {kind}: {json.dumps(row)}", file=sys.stderr)

def med(kind, *path):
    vals = []
    for row in results[kind]:
        v = row
        for p in path: v = v[p]
        vals.append(v)
    return statistics.median(vals)

o, p = "ours", "python"
print(f"\nmedians of {runs} rounds, {duration} s per wrk run, wrk -t2 on the same 2 cores\n")
print("| measure | sandbox-plugin | python plugin | ratio |")
print("|---|---|---|---|")
def line(name, path, unit, fmt="{:.0f}", better_high=True):
    a, b = med(o, *path), med(p, *path)
    ratio = a / b if better_high else b / a
    print(f"| {name} | {fmt.format(a)} {unit} | {fmt.format(b)} {unit} | {ratio:.1f}x |")
line("not mine: req/s (32 conns)", ("notmine", "rps"), "req/s")
line("not mine: p50", ("notmine", "p50"), "ms", "{:.3f}", False)
line("not mine: p99", ("notmine", "p99"), "ms", "{:.3f}", False)
line("check-params: req/s (32 conns)", ("check", "rps"), "req/s")
line("check-params: p99 at full load", ("check", "p99"), "ms", "{:.3f}", False)
line("check-params paced: req/s", ("paced", "rps"), "req/s")
line("check-params paced: p50", ("paced", "p50"), "ms", "{:.3f}", False)
line("check-params paced: p99", ("paced", "p99"), "ms", "{:.3f}", False)
line("start-up to first answer", ("startup_ms",), "ms", "{:.1f}", False)
line("idle RSS", ("idle_rss",), "MB", "{:.1f}", False)
line("RSS after load", ("loaded_rss",), "MB", "{:.1f}", False)
line("peak RSS", ("peak_rss",), "MB", "{:.1f}", False)
errs = [(k, i, x["socket_errors"], x["non2xx"]) for k in results for i, row in enumerate(results[k])
        for x in (row["notmine"], row["check"], row["paced"]) if x["socket_errors"] or x["non2xx"]]
if errs:
    print(f"\nwrk errors (kind, round, socket errors, non-2xx): {errs}")
goals = [
    ("not mine >= 50k req/s", med(o, "notmine", "rps") >= 50_000),
    ("check-params p99 <= 2 ms at ~1k req/s", med(o, "paced", "p99") <= 2.0),
    ("idle RSS <= 15 MB", med(o, "idle_rss") <= 15),
    (">= 10x python (not mine req/s)", med(o, "notmine", "rps") >= 10 * med(p, "notmine", "rps")),
]
print("\n" + "; ".join(f"{g}: {'met' if ok else 'NOT met'}" for g, ok in goals))
PY
