#!/usr/bin/env bash
# Source from .ci/run:  . .ci/postgres.sh ; start_postgres
#
# Starts a throwaway PostgreSQL (Debian's `postgresql` package, installed with
# apt-get when missing) on a loopback port (PG_PORT, default 55432, or the
# next free one when that is taken and PG_PORT was not set), in a data
# directory under /tmp, run by the `postgres` user (the server refuses to run
# as root; created when missing, and removed again when this script created
# it), with a role and a database `blocksmith` (PG_DB). Exports
# BLOCKSMITH_POSTGRES_URL; an EXIT trap stops the server and removes the
# directory, and a reaper process does the same if the shell dies without
# running its trap (SIGKILL).
#
# Authentication is `trust`, which is acceptable here only because the
# cluster is a throwaway: it listens on 127.0.0.1 alone (no other interface)
# and on a Unix socket inside its own 0700 data directory, holds nothing but
# test tables, and lives as long as the CI job that started it, on a
# single-use container. On a shared host or a developer machine any local
# user could connect as its superuser over loopback TCP (and from there run
# programs as the server's user): do not leave it running there.
# Also usable by hand, briefly:
#   bash -c '. .ci/postgres.sh; start_postgres; echo "$BLOCKSMITH_POSTGRES_URL"; read -r _'
set -euo pipefail
PG_PORT_SET="${PG_PORT:+1}"
PG_PORT="${PG_PORT:-55432}"
PG_DB="${PG_DB:-blocksmith}"
PG_RUN_USER="${PG_RUN_USER:-postgres}"
PG_CREATED_USER=""

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

# Adds a command to the EXIT trap, keeping whatever is there (the S3
# server's). `trap -p` prints the trap as a command that would set it again,
# quoted for the shell: parsing it back with `eval` keeps any quotes inside.
add_exit_trap() {
  local cur old=""
  cur=$(trap -p EXIT)
  if [ -n "$cur" ]; then
    old=$(eval "set -- ${cur#trap -- }"; printf '%s' "$1")
  fi
  # shellcheck disable=SC2064
  trap -- "$1${old:+; $old}" EXIT
}

stop_postgres() {
  if [ -n "${PG_DATA:-}" ] && [ -d "$PG_DATA" ]; then
    as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -m immediate -w stop >/dev/null 2>&1 || true
    rm -rf "$PG_DATA"
  fi
  if [ -n "$PG_CREATED_USER" ]; then
    userdel "$PG_RUN_USER" >/dev/null 2>&1 || true
    PG_CREATED_USER=""
  fi
}

# Whether something accepts connections on 127.0.0.1:$1.
port_in_use() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# Stops the server and removes its directory once the shell that started it
# is gone, whether or not its EXIT trap ran (a SIGKILL runs none). In a
# session of its own, so killing the shell's process group spares it.
start_reaper() {
  local run=(setsid)
  command -v setsid >/dev/null || run=()
  "${run[@]}" bash -c '
    parent=$1 bin=$2 data=$3 user=$4
    while kill -0 "$parent" 2>/dev/null; do sleep 2; done
    [ -d "$data" ] || exit 0
    if [ "$(id -un)" = "$user" ]; then
      "$bin/pg_ctl" -D "$data" -m immediate -w stop
    else
      runuser -u "$user" -- "$bin/pg_ctl" -D "$data" -m immediate -w stop
    fi
    rm -rf "$data"
  ' blocksmith-pg-reaper "$$" "$PG_BIN" "$PG_DATA" "$PG_RUN_USER" </dev/null >/dev/null 2>&1 &
}

start_postgres() {
  # Written into SQL and the URL: a plain identifier only.
  if ! [[ "$PG_DB" =~ ^[a-z_][a-z0-9_]{0,62}$ ]]; then
    echo "PG_DB must match [a-z_][a-z0-9_]* (at most 63 bytes): $PG_DB" >&2
    return 1
  fi
  install_postgres
  PG_BIN=$(pg_bindir)
  if ! id "$PG_RUN_USER" >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ]; then
      useradd --system --no-create-home --shell /usr/sbin/nologin "$PG_RUN_USER"
      PG_CREATED_USER=1   # removed again by stop_postgres
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
  start_reaper
  # initdb wants an empty directory: its log goes to a file of our own
  # (mktemp, 0600), removed whatever happens.
  local log
  log=$(mktemp /tmp/blocksmith-initdb.XXXXXX)
  if ! as_pg "$PG_BIN/initdb" -D "$PG_DATA" -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 >"$log" 2>&1; then
    cat "$log" >&2
    rm -f "$log"
    return 1
  fi
  rm -f "$log"
  # Loopback only; the socket in the data directory (Debian's default
  # /var/run/postgresql may not exist or belong to someone else). A port
  # someone else holds: the next one, unless PG_PORT was asked for.
  local attempt
  for attempt in $(seq 1 20); do
    if [ -z "$PG_PORT_SET" ]; then
      while port_in_use "$PG_PORT"; do PG_PORT=$((PG_PORT + 1)); done
    fi
    # This attempt's messages only (truncated, so it keeps its owner).
    if [ -f "$PG_DATA/server.log" ]; then : >"$PG_DATA/server.log"; fi
    if as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$PG_DATA/server.log" -w -t 60 \
      -o "-c listen_addresses=127.0.0.1 -p $PG_PORT -k $PG_DATA -c max_connections=200" start >/dev/null; then
      break
    fi
    if [ -n "$PG_PORT_SET" ] || [ "$attempt" = 20 ] \
      || ! grep -q "could not bind\|Address already in use" "$PG_DATA/server.log"; then
      cat "$PG_DATA/server.log" >&2
      return 1
    fi
    PG_PORT=$((PG_PORT + 1))   # taken between the look and the start
  done
  local i
  for i in $(seq 1 100); do   # up to ~20 s
    if as_pg "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT"; then
      break
    fi
    [ "$i" = 100 ] && { cat "$PG_DATA/server.log" >&2; echo "postgres did not start" >&2; return 1; }
    sleep 0.2
  done
  as_pg "$PG_BIN/psql" -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres \
    -c "CREATE ROLE blocksmith LOGIN" -c "CREATE DATABASE \"$PG_DB\" OWNER blocksmith" >/dev/null
  export BLOCKSMITH_POSTGRES_URL="postgres://blocksmith@127.0.0.1:$PG_PORT/$PG_DB"
  # The crash test starts a server of its own with these tools, as this user.
  export BLOCKSMITH_POSTGRES_BIN="$PG_BIN" BLOCKSMITH_POSTGRES_RUN_AS="$PG_RUN_USER"
  export PG_BIN PG_DATA PG_PORT
}
