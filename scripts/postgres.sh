#!/usr/bin/env bash
# A throwaway PostgreSQL server for the storage tests, from Debian's postgresql-15.
#
#   scripts/postgres.sh start   initdb a cluster in a fresh temp dir owned by `postgres`, start it
#                               on 127.0.0.1 at a free port (trust auth, no TLS), and print
#                               `export TONGXIN_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:PORT/postgres`
#                               (so: eval "$(scripts/postgres.sh start)"); the data dir is
#                               remembered in $TONGXIN_PG_STATE (default /tmp/tongxin-postgres.state).
#   scripts/postgres.sh stop    stop that server and delete its directory.
#
# Runs the server as the `postgres` user (via runuser when we are root), as PostgreSQL refuses
# to run as root. Durability settings stay at their defaults (fsync on, synchronous_commit on):
# the tests check acknowledged writes, so the server must not lie about them.
set -euo pipefail

PG_BIN="${PG_BIN:-/usr/lib/postgresql/15/bin}"
STATE="${TONGXIN_PG_STATE:-/tmp/tongxin-postgres.state}"

as_postgres() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u postgres -- "$@"
  elif [ "$(id -un)" = postgres ]; then
    "$@"
  else
    sudo -u postgres -- "$@"
  fi
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

start() {
  [ -x "$PG_BIN/initdb" ] || { echo "postgres.sh: $PG_BIN/initdb not found (apt-get install postgresql-15)" >&2; exit 1; }
  if [ -f "$STATE" ]; then
    stop >/dev/null 2>&1 || true
  fi
  local dir port
  dir="$(mktemp -d /tmp/tongxin-pg.XXXXXX)"
  chown postgres:postgres "$dir" 2>/dev/null || true
  chmod 700 "$dir"
  port="$(free_port)"
  as_postgres "$PG_BIN/initdb" -D "$dir/data" -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 \
    || { cat "$dir/initdb.log" >&2; exit 1; }
  as_postgres mkdir -p "$dir/socket"
  as_postgres "$PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$dir/socket -c max_connections=200 -c fsync=on" \
    start >/dev/null \
    || { cat "$dir/server.log" >&2; exit 1; }
  printf '%s\n%s\n' "$dir" "$port" >"$STATE"
  echo "export TONGXIN_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:$port/postgres"
}

stop() {
  [ -f "$STATE" ] || return 0
  local dir
  dir="$(sed -n 1p "$STATE")"
  if [ -d "$dir/data" ]; then
    as_postgres "$PG_BIN/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
  fi
  rm -rf "$dir" "$STATE"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
