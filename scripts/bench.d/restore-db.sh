#!/usr/bin/env bash
# scripts/bench restore-db [SCALE] [RUNS]: restore-db from the GCS emulator
# against the best local method (psql -1 -f on the plain file, pg_restore
# -j 2 on the custom file) and against the naive sequence (download the
# whole object, then restore it), in one run on one throwaway cluster.
#
# A pgbench database (-s 50 by default, about 755 MB) is dumped as plain
# SQL, gzip -1 of plain SQL, and custom format, and uploaded to
# fake-gcs-server. Every method restores into a fresh database; each is
# timed RUNS times (default 3) and the median is reported, with restore-db's
# peak RSS. Needs root (initdb runs as the postgres user) or a user that
# owns the cluster directory.
set -euo pipefail
SCALE=${1:-50}
RUNS=${2:-3}
: "${ROOT:?run through scripts/bench}"
# scripts/bench execs a new bash, which does not inherit its functions.
declare -F install_test_tools >/dev/null || . "$ROOT/scripts/lib/tools.sh"

install_test_tools
ensure_apt /usr/bin/time time

export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
say "cargo build --release restore-db"
cargo build --release --locked -q -p sandbox-tasks --bin restore-db
BIN=$CARGO_TARGET_DIR/release/restore-db

PGBIN=${SANDBOX_PGBIN:-$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)}
export PATH=$PGBIN:$PATH SANDBOX_PGBIN=$PGBIN
WORK=$(mktemp -d /tmp/bench-restore-db.XXXXXX)
chmod 755 "$WORK"
AS=()
if [ "$(id -u)" = 0 ]; then AS=(runuser -u postgres --); chown postgres: "$WORK"; fi
free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }

GCS_PID=
cleanup() {
  "${AS[@]}" "$PGBIN/pg_ctl" -D "$WORK/data" -m fast -w stop >/dev/null 2>&1 || true
  [ -n "$GCS_PID" ] && kill "$GCS_PID" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

say "cluster and pgbench -i -s $SCALE"
PGPORT=$(free_port)
mkdir -p "$WORK/sock" && { [ ${#AS[@]} = 0 ] || chown postgres: "$WORK/sock"; }
"${AS[@]}" "$PGBIN/initdb" -D "$WORK/data" -A trust -U postgres -E UTF8 --locale=C.UTF-8 --no-sync --no-instructions >/dev/null
"${AS[@]}" "$PGBIN/pg_ctl" -D "$WORK/data" -l "$WORK/server.log" -w -t 60 \
  -o "-c listen_addresses=127.0.0.1 -c port=$PGPORT -c unix_socket_directories=$WORK/sock" start >/dev/null
export PGHOST=127.0.0.1 PGPORT PGUSER=postgres
createdb src
pgbench -i -q -s "$SCALE" src >/dev/null 2>&1
echo "database size: $(psql -XAtc "select pg_size_pretty(pg_database_size('src'))" src)"

DUMPS=$WORK/dumps
mkdir -p "$DUMPS" && chmod 777 "$DUMPS"
pg_dump -Fp -f "$DUMPS/src.sql" src
pg_dump -Fp src | gzip -1 > "$DUMPS/src.sql.gz"
pg_dump -Fc -f "$DUMPS/src.dump" src
for f in src.sql src.sql.gz src.dump; do
  printf '%-12s %8.1f MiB\n' "$f" "$(echo "$(stat -c %s "$DUMPS/$f") / 1048576" | bc -l)"
done

say "fake-gcs-server"
GCS_PORT=$(free_port)
ENDPOINT=http://127.0.0.1:$GCS_PORT
"$SANDBOX_TOOLS_DIR/fake-gcs-server" -scheme http -host 127.0.0.1 -port "$GCS_PORT" -backend memory \
  -public-host "127.0.0.1:$GCS_PORT" -external-url "$ENDPOINT" -log-level warn >"$WORK/gcs.log" 2>&1 &
GCS_PID=$!
for _ in $(seq 1 100); do curl -sf "$ENDPOINT/storage/v1/b" >/dev/null && break; sleep 0.1; done
curl -sf -X POST -H 'content-type: application/json' -d '{"name":"bench"}' "$ENDPOINT/storage/v1/b" >/dev/null
for f in src.sql src.sql.gz src.dump; do
  curl -sf -X POST -H 'content-type: application/octet-stream' --data-binary "@$DUMPS/$f" \
    "$ENDPOINT/upload/storage/v1/b/bench/o?uploadType=media&name=nightly/$f" >/dev/null
done

export DB_URL="postgres://postgres@127.0.0.1:$PGPORT/postgres"
RESULTS=$WORK/results
: > "$RESULTS"
# A fresh target, and a checkpoint so no method pays for the last one's WAL.
fresh() {
  dropdb --if-exists "$1" 2>/dev/null
  [ "${2:-}" = create ] && createdb "$1"
  psql -XqAtc CHECKPOINT postgres
}
# record LABEL SECONDS [RSS_KB]
record() { echo "$1 $2 ${3:-}" >> "$RESULTS"; printf '  %-34s %7.2f s %s\n' "$1" "$2" "${3:+$(( $3 / 1024 )) MiB RSS}"; }
timed() { # timed LABEL CMD...: wall time of a shell command
  local label=$1; shift
  local s e; s=$(date +%s.%N); bash -c "$*" >/dev/null; e=$(date +%s.%N)
  record "$label" "$(echo "$e - $s" | bc)"
}
ours() { # ours LABEL OBJECT [ARGS...]
  local label=$1 object=$2; shift 2
  fresh sbx_pr_1
  /usr/bin/time -f '%e %M' -o "$WORK/time" "$BIN" --pr-number 1 --database-url env:DB_URL \
    --backup-url gs://bench/nightly/ --backup-object "$object" --endpoint "$ENDPOINT" \
    --outputs-dir "$WORK/out" --log-format json "$@" >"$WORK/ours.json" 2>"$WORK/ours.log" \
    || { cat "$WORK/ours.json" "$WORK/ours.log" >&2; exit 1; }
  read -r secs rss < "$WORK/time"
  record "$label" "$secs" "$rss"
}
PSQL="psql -X -q -1 -v ON_ERROR_STOP=1 -o /dev/null"
DL="curl -sf -o $WORK/download"
for run in $(seq 1 "$RUNS"); do
  say "run $run of $RUNS"
  # plain SQL
  ours "plain.ours" src.sql
  fresh dst create; timed "plain.local(psql-1-f)" "$PSQL -f $DUMPS/src.sql dst"
  fresh dst create; timed "plain.naive" "$DL '$ENDPOINT/storage/v1/b/bench/o/nightly%2Fsrc.sql?alt=media' && $PSQL -f $WORK/download dst"
  # gzip of plain SQL (the best local method restores the uncompressed file)
  ours "gzip.ours" src.sql.gz
  fresh dst create; timed "gzip.local(gunzip|psql-1)" "gunzip -c $DUMPS/src.sql.gz | $PSQL dst"
  fresh dst create; timed "gzip.naive" "$DL '$ENDPOINT/storage/v1/b/bench/o/nightly%2Fsrc.sql.gz?alt=media' && gunzip -c $WORK/download | $PSQL dst"
  # custom format
  ours "custom.ours" src.dump
  ours "custom.ours(-j2)" src.dump --jobs 2
  fresh dst create; timed "custom.local(pg_restore-j2)" "pg_restore -j 2 -d dst $DUMPS/src.dump"
  fresh dst create; timed "custom.naive" "$DL '$ENDPOINT/storage/v1/b/bench/o/nightly%2Fsrc.dump?alt=media' && pg_restore -j 2 -d dst $WORK/download"
  rm -f "$WORK/download"
done
psql -XAtc "select 'check: ' || count(*) || ' rows in sbx_pr_1.pgbench_accounts' from pgbench_accounts" sbx_pr_1

median() { grep "^$1 " "$RESULTS" | awk '{print $2}' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
max_rss() { grep "^$1 " "$RESULTS" | awk '{print $3}' | sort -n | tail -1; }
ratio() { echo "scale=2; $1 / $2" | bc; }
echo
echo "scale $SCALE, $RUNS runs, medians (seconds):"
for f in plain gzip custom; do
  for label in $(awk '{print $1}' "$RESULTS" | grep "^$f\." | sort -u); do
    printf '  %-34s %7.2f s%s\n' "$label" "$(median "$label")" \
      "$( [ -n "$(max_rss "$label")" ] && echo "   peak RSS $(( $(max_rss "$label") / 1024 )) MiB")"
  done
done
best_local_plain=$(median "plain.local(psql-1-f)")
echo
echo "ratios (goal: <= 1.10 vs best local, <= 0.70 vs naive):"
printf '  plain  ours/best-local %s  ours/naive %s\n' "$(ratio "$(median plain.ours)" "$best_local_plain")" "$(ratio "$(median plain.ours)" "$(median plain.naive)")"
printf '  gzip   ours/best-local %s  ours/naive %s\n' "$(ratio "$(median gzip.ours)" "$best_local_plain")" "$(ratio "$(median gzip.ours)" "$(median gzip.naive)")"
printf '  custom ours/best-local %s  ours/naive %s  (streamed, no -j)\n' "$(ratio "$(median custom.ours)" "$(median "custom.local(pg_restore-j2)")")" "$(ratio "$(median custom.ours)" "$(median custom.naive)")"
printf '  custom ours/best-local %s  ours/naive %s  (--jobs 2)\n' "$(ratio "$(median "custom.ours(-j2)")" "$(median "custom.local(pg_restore-j2)")")" "$(ratio "$(median "custom.ours(-j2)")" "$(median custom.naive)")"
