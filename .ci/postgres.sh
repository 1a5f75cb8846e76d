#!/usr/bin/env bash
# Source from .ci/run:  . .ci/postgres.sh ; start_postgres
#
# Starts a throwaway PostgreSQL (Debian's `postgresql` package, installed with
# apt-get when missing) on a loopback port, in a data directory under /tmp,
# run by the `postgres` user (created when missing: the server refuses to run
# as root), with a role and a database `blocksmith` (trust authentication on
# loopback only). Exports BLOCKSMITH_POSTGRES_URL; an EXIT trap stops the
# server and removes the directory. Also usable by hand:
#   bash -c '. .ci/postgres.sh; start_postgres; echo "$BLOCKSMITH_POSTGRES_URL"; sleep infinity'
set -euo pipefail
PG_PORT="${PG_PORT:-55432}"
PG_DB="${PG_DB:-blocksmith}"
PG_RUN_USER="${PG_RUN_USER:-postgres}"

pg_bindir() {
  local d
  # The newest installed major version (Debian puts each under its own directory).
  d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
  [ -n "$d" ] && [ -x "$d/initdb" ] && echo "$d"
}

install_postgres() {
  if [ -n "$(pg_bindir)" ]; then
    return 0
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  [ -n "$(pg_bindir)" ] || { echo "postgresql installed but no initdb found" >&2; return 1; }
}

# Runs a command as the server's user (directly when that is who we are).
as_pg() {
  if [ "$(id -un)" = "$PG_RUN_USER" ]; then
    "$@"
  else
    runuser -u "$PG_RUN_USER" -- "$@"
  fi
}

# Adds a command to the EXIT trap, keeping whatever is there (the S3 server's).
add_exit_trap() {
  local old
  old=$(trap -p EXIT | sed -e "s/^trap -- '//" -e "s/' EXIT\$//")
  # shellcheck disable=SC2064
  trap "$1${old:+; $old}" EXIT
}

stop_postgres() {
  if [ -n "${PG_DATA:-}" ] && [ -d "$PG_DATA" ]; then
    as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -m immediate -w stop >/dev/null 2>&1 || true
    rm -rf "$PG_DATA"
  fi
}

start_postgres() {
  install_postgres
  PG_BIN=$(pg_bindir)
  if ! id "$PG_RUN_USER" >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ]; then
      useradd --system --no-create-home --shell /usr/sbin/nologin "$PG_RUN_USER"
    else
      PG_RUN_USER=$(id -un)   # not root: run the server as ourselves
    fi
  fi
  if [ "$(id -u)" != 0 ] && [ "$(id -un)" != "$PG_RUN_USER" ]; then
    PG_RUN_USER=$(id -un)
  fi
  PG_DATA=$(mktemp -d /tmp/blocksmith-pg.XXXXXX)
  chown "$PG_RUN_USER" "$PG_DATA"
  chmod 700 "$PG_DATA"
  add_exit_trap stop_postgres
  as_pg "$PG_BIN/initdb" -D "$PG_DATA" -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 >"$PG_DATA.initdb.log" 2>&1 \
    || { cat "$PG_DATA.initdb.log" >&2; return 1; }
  rm -f "$PG_DATA.initdb.log"
  # Loopback only; the socket in the data directory (Debian's default
  # /var/run/postgresql may not exist or belong to someone else).
  as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$PG_DATA/server.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $PG_PORT -k $PG_DATA -c max_connections=200" start >/dev/null \
    || { cat "$PG_DATA/server.log" >&2; return 1; }
  local i
  for i in $(seq 1 100); do   # up to ~20 s
    if as_pg "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT"; then
      break
    fi
    [ "$i" = 100 ] && { cat "$PG_DATA/server.log" >&2; echo "postgres did not start" >&2; return 1; }
    sleep 0.2
  done
  as_pg "$PG_BIN/psql" -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres \
    -c "CREATE ROLE blocksmith LOGIN" -c "CREATE DATABASE $PG_DB OWNER blocksmith" >/dev/null
  export BLOCKSMITH_POSTGRES_URL="postgres://blocksmith@127.0.0.1:$PG_PORT/$PG_DB"
  # The crash test starts a server of its own with these tools, as this user.
  export BLOCKSMITH_POSTGRES_BIN="$PG_BIN" BLOCKSMITH_POSTGRES_RUN_AS="$PG_RUN_USER"
  export PG_BIN PG_DATA PG_PORT
}
