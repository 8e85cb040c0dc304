# Sourced by the database benchmarks (scripts/bench.d/prepare-db.sh,
# restore-strategies.sh): pgbench_world NAME SCALE builds restore-db and
# prepare-db in release, starts a throwaway PostgreSQL cluster on a free
# loopback port (as the postgres user when run as root), fills database
# `src` with `pgbench -i -s SCALE` and dumps it in custom format to
# $BACKUPS/nightly.dump. It sets RESTORE, PREPARE, PGBIN, WORK, AS, BACKUPS
# and PGHOST/PGPORT/PGUSER, and stops the cluster on exit.
pgbench_world() {
  local name=$1 scale=$2
  install_test_tools
  export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
  say "cargo build --release restore-db prepare-db"
  cargo build --release --locked -q -p sandbox-tasks --bin restore-db --bin prepare-db
  RESTORE=$CARGO_TARGET_DIR/release/restore-db
  PREPARE=$CARGO_TARGET_DIR/release/prepare-db

  PGBIN=${SANDBOX_PGBIN:-$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)}
  export PATH=$PGBIN:$PATH SANDBOX_PGBIN=$PGBIN
  WORK=$(mktemp -d "/tmp/bench-$name.XXXXXX")
  chmod 755 "$WORK"
  AS=()
  if [ "$(id -u)" = 0 ]; then AS=(runuser -u postgres --); chown postgres: "$WORK"; fi
  trap pgbench_world_stop EXIT

  say "cluster and pgbench -i -s $scale"
  PGPORT=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
  mkdir -p "$WORK/sock" && { [ ${#AS[@]} = 0 ] || chown postgres: "$WORK/sock"; }
  "${AS[@]}" "$PGBIN/initdb" -D "$WORK/data" -A trust -U postgres -E UTF8 --locale=C.UTF-8 --no-sync --no-instructions >/dev/null
  "${AS[@]}" "$PGBIN/pg_ctl" -D "$WORK/data" -l "$WORK/server.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -c port=$PGPORT -c unix_socket_directories=$WORK/sock" start >/dev/null
  export PGHOST=127.0.0.1 PGPORT PGUSER=postgres
  createdb src
  pgbench -i -q -s "$scale" src >/dev/null 2>&1
  echo "database size: $(psql -XAtc "select pg_size_pretty(pg_database_size('src'))" src)"
  BACKUPS=$WORK/backups
  mkdir -p "$BACKUPS" && chmod 777 "$BACKUPS"
  pg_dump -Fc -f "$BACKUPS/nightly.dump" src
  printf 'nightly.dump %8.1f MiB\n' "$(echo "$(stat -c %s "$BACKUPS/nightly.dump") / 1048576" | bc -l)"
}

pgbench_world_stop() {
  "${AS[@]}" "$PGBIN/pg_ctl" -D "$WORK/data" -m fast -w stop >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
