#!/usr/bin/env bash
# scripts/bench prepare-db [SCALE] [RUNS]: the time a sandbox waits for its
# database, restore-db --strategy restore against --strategy pool (a claim
# from a warm pool prepare-db filled beforehand), in one run on one
# throwaway cluster.
#
# A pgbench database (-s 20 by default, about 300 MB) is dumped in custom
# format to a backup directory (file://). Each run: restore-db --strategy
# restore into sbx_pr_1; prepare-db --pool-size 1 (timed on its own: the
# nightly job's cost, paid before anyone asks); restore-db --strategy pool
# into sbx_pr_2, which claims the member prepare-db made. RUNS times (default 5), medians
# reported. Both sandbox databases are checked against the source (row
# counts and an md5 of pgbench_accounts). Needs root (initdb runs as the
# postgres user) or a user that owns the cluster directory.
set -euo pipefail
SCALE=${1:-20}
RUNS=${2:-5}
: "${ROOT:?run through scripts/bench}"
declare -F install_test_tools >/dev/null || . "$ROOT/scripts/lib/tools.sh"

# shellcheck source=scripts/lib/pgbench.sh
. "$ROOT/scripts/lib/pgbench.sh"
pgbench_world prepare-db "$SCALE"

CHECK="select count(*) || ' ' || md5(string_agg(aid || ':' || abalance, ',' order by aid)) from pgbench_accounts"
SOURCE=$(psql -XAtc "$CHECK" src)
export DB_URL="postgres://postgres@127.0.0.1:$PGPORT/postgres"
export SANDBOX_DATABASE_URL=env:DB_URL SANDBOX_SOURCE_DATABASE=src \
  SANDBOX_BACKUP_URL="file://$BACKUPS" SANDBOX_LOG_FORMAT=json
RESULTS=$WORK/results
: > "$RESULTS"
record() { echo "$1 $2" >> "$RESULTS"; printf '  %-22s %8.3f s\n' "$1" "$2"; }
# timed LABEL BIN ARGS...: wall time of one task run; its outputs in $WORK/out
timed() {
  local label=$1; shift
  rm -rf "$WORK/out"
  local s e; s=$(date +%s.%N)
  "$@" --outputs-dir "$WORK/out" >"$WORK/task.json" 2>"$WORK/task.log" \
    || { cat "$WORK/task.json" "$WORK/task.log" >&2; exit 1; }
  e=$(date +%s.%N)
  record "$label" "$(echo "$e - $s" | bc)"
}
fresh() { dropdb --if-exists "$1" 2>/dev/null; psql -XqAtc CHECKPOINT postgres; }
# Each sandbox database is checked, then dropped: one copy besides the
# source at a time, so the run fits a small disk.
checked() {
  [ "$(psql -XAtc "$CHECK" "$1")" = "$SOURCE" ] || { echo "$1 differs from the source" >&2; exit 1; }
  fresh "$1"
}
for run in $(seq 1 "$RUNS"); do
  say "run $run of $RUNS"
  fresh sbx_pr_1
  timed restore "$RESTORE" --pr-number 1 --strategy restore
  checked sbx_pr_1
  timed prepare "$PREPARE" --pool-size 1
  timed pool "$RESTORE" --pr-number 2 --strategy pool
  [ "$(cat "$WORK/out/strategy")" = pool ] || { echo "the pool run restored: $(cat "$WORK/out/fallback_reason")" >&2; exit 1; }
  checked sbx_pr_2
done
echo "check: sbx_pr_1 and sbx_pr_2 hold the source's pgbench_accounts ($SOURCE) in every run"

median() { grep "^$1 " "$RESULTS" | awk '{print $2}' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
echo
echo "scale $SCALE, $RUNS runs, medians (seconds):"
for label in restore prepare pool; do
  printf '  %-22s %8.3f s\n' "$label" "$(median "$label")"
done
echo
printf 'ratio pool/restore: %s (goal: <= 0.05 and <= 1 s)\n' \
  "$(echo "scale=3; $(median pool) / $(median restore)" | bc)"
