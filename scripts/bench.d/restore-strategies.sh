#!/usr/bin/env bash
# scripts/bench restore-strategies [SCALE] [RUNS]: the three ways a sandbox
# gets its database, side by side in one run on one throwaway cluster:
# restore-db --strategy restore (stream the backup into psql/pg_restore),
# --strategy template (CREATE DATABASE … TEMPLATE … STRATEGY FILE_COPY of
# the template prepare-db --prepare template made) and --strategy pool
# (claim a member prepare-db --pool-size 1 made: a rename).
#
# A pgbench database (-s 50 by default, about 750 MB) is dumped in custom
# format to a backup directory (file://). The template is prepared once
# (timed: the nightly cost). Each run: restore into sbx_pr_1; prepare-db
# --pool-size 1 (timed on its own: the pool's nightly or refill cost);
# template into sbx_pr_3; pool into sbx_pr_2. RUNS times (default 3),
# medians reported, with the ratios to the restore. Every sandbox database
# is checked against the source (row counts of the four pgbench tables and
# an md5 of pgbench_accounts) and each run must report the strategy asked
# for (no silent fallback). Needs root (initdb runs as the postgres user)
# or a user that owns the cluster directory.
set -euo pipefail
SCALE=${1:-50}
RUNS=${2:-3}
: "${ROOT:?run through scripts/bench}"
declare -F install_test_tools >/dev/null || . "$ROOT/scripts/lib/tools.sh"

# shellcheck source=scripts/lib/pgbench.sh
. "$ROOT/scripts/lib/pgbench.sh"
pgbench_world restore-strategies "$SCALE"

CHECK="select (select count(*) from pgbench_accounts) || ' ' || (select count(*) from pgbench_branches) \
  || ' ' || (select count(*) from pgbench_tellers) || ' ' || (select count(*) from pgbench_history) \
  || ' ' || (select md5(string_agg(aid || ':' || abalance, ',' order by aid)) from pgbench_accounts)"
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
# Each timed step starts from a checkpoint, so none pays for the dirty
# buffers of the one before (FILE_COPY checkpoints itself: PostgreSQL
# src/backend/commands/dbcommands.c CreateDatabaseUsingFileCopy).
fresh() { dropdb --if-exists "$1" 2>/dev/null; psql -XqAtc CHECKPOINT postgres; }
strategy_was() {
  [ "$(cat "$WORK/out/strategy")" = "$1" ] \
    || { echo "asked for $1, got $(cat "$WORK/out/strategy"): $(cat "$WORK/out/fallback_reason")" >&2; exit 1; }
}
# Each sandbox database is checked, then dropped: few copies besides the
# source at a time, so the run fits a small disk.
checked() {
  [ "$(psql -XAtc "$CHECK" "$1")" = "$SOURCE" ] || { echo "$1 differs from the source" >&2; exit 1; }
  fresh "$1"
}
say "prepare-db --prepare template (once: the nightly job)"
psql -XqAtc CHECKPOINT postgres
timed prepare-template "$PREPARE" --prepare template
for run in $(seq 1 "$RUNS"); do
  say "run $run of $RUNS"
  fresh sbx_pr_1
  timed restore "$RESTORE" --pr-number 1 --strategy restore
  strategy_was restore
  checked sbx_pr_1
  timed prepare-pool "$PREPARE" --pool-size 1
  psql -XqAtc CHECKPOINT postgres
  timed template "$RESTORE" --pr-number 3 --strategy template
  strategy_was template
  checked sbx_pr_3
  timed pool "$RESTORE" --pr-number 2 --strategy pool
  strategy_was pool
  checked sbx_pr_2
done
echo "check: every sandbox database held the source's row counts and pgbench_accounts md5 ($SOURCE)"

median() { grep "^$1 " "$RESULTS" | awk '{print $2}' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
echo
echo "PostgreSQL $(psql -XAtc 'show server_version' postgres), scale $SCALE, $RUNS runs, medians (seconds):"
for label in restore template pool prepare-pool prepare-template; do
  printf '  %-22s %8.3f s   (%s)\n' "$label" "$(median "$label")" "$(grep "^$label " "$RESULTS" | awk '{printf "%.3f ", $2}')"
done
echo
R=$(median restore); T=$(median template); P=$(median pool)
printf 'ratio template/restore: %.3f (goal: <= 0.5)\n' "$(echo "scale=6; $T / $R" | bc)"
printf 'ratio pool/restore:     %.4f (goal: <= 0.05, and the claim <= 1 s: %.3f s)\n' "$(echo "scale=6; $P / $R" | bc)" "$P"
