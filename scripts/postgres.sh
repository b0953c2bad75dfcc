#!/usr/bin/env bash
# A throwaway PostgreSQL server for the test suite (CI runs the suite on it as well as
# on SQLite). Installs Debian's postgresql if missing, then starts a cluster of its own
# in a folder outside the instance (not Debian's "main" cluster): trust authentication
# on 127.0.0.1 only, durability off (fsync) since its data is thrown away.
#
#   scripts/postgres.sh [start]   start it (or find it running) and print its URL
#   source scripts/postgres.sh    the same, and export LIVELITE_TEST_DATABASE_URL
#   scripts/postgres.sh url       print the URL of the running server
#   scripts/postgres.sh stop      stop it and delete its folder
#
# LIVELITE_PG_DIR (default /dev/shm/livelite-postgres, or /tmp/livelite-postgres) and
# LIVELITE_PG_PORT (default 5433, or the next free port) choose where. PostgreSQL refuses to run as root: as root the
# cluster belongs to the "postgres" user; as anyone else, to that user.

_livelite_pg() {
  local action=${1:-start}
  # In memory when the machine has /dev/shm: a test copies a database from a template,
  # which takes ~40 ms there and a second on a disk.
  local tmp=/tmp
  if [ -d /dev/shm ] && [ -w /dev/shm ] \
    && [ "$(df -Pk /dev/shm | awk 'NR == 2 { print $4 }')" -gt 1048576 ]; then
    tmp=/dev/shm
  fi
  local dir=${LIVELITE_PG_DIR:-$tmp/livelite-postgres}
  local data="$dir/data" sudo="" as=()
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  [ "$(id -u)" -eq 0 ] && as=(runuser -u postgres --)

  local bin
  bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
  if [ -z "$bin" ] || [ ! -x "$bin/initdb" ]; then
    [ "$action" = stop ] && { rm -rf "$dir"; return 0; }
    echo "Installing postgresql (Debian)..." >&2
    $sudo apt-get update -qq || return 1
    $sudo env DEBIAN_FRONTEND=noninteractive \
      apt-get install -y -qq --no-install-recommends postgresql >/dev/null || return 1
    bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
  fi

  _livelite_pg_running() { [ -f "$data/PG_VERSION" ] && "${as[@]}" "$bin/pg_ctl" status -D "$data" >/dev/null 2>&1; }
  _livelite_pg_port() { sed -n 's/^port = \([0-9]*\).*/\1/p' "$data/postgresql.conf" "$data/postgresql.auto.conf" | tail -n 1; }
  _livelite_pg_url() { echo "postgresql+psycopg://postgres@127.0.0.1:$(_livelite_pg_port)/postgres"; }

  case "$action" in
    stop)
      if _livelite_pg_running; then "${as[@]}" "$bin/pg_ctl" stop -D "$data" -m fast -s || return 1; fi
      rm -rf "$dir"
      return 0
      ;;
    url)
      _livelite_pg_running || { echo "No LiveLite PostgreSQL runs in $dir (scripts/postgres.sh start)." >&2; return 1; }
      _livelite_pg_url
      return 0
      ;;
    start) ;;
    *)
      echo "usage: scripts/postgres.sh [start|url|stop]" >&2
      return 2
      ;;
  esac

  if ! _livelite_pg_running; then
    if [ ! -f "$data/PG_VERSION" ]; then
      rm -rf "$dir"
      mkdir -p "$dir" || return 1
      [ "$(id -u)" -eq 0 ] && chown postgres: "$dir"
      "${as[@]}" "$bin/initdb" -D "$data" -U postgres -E UTF8 --locale=C.UTF-8 \
        --auth-local=peer --auth-host=reject >"$dir/initdb.log" 2>&1 \
        || { cat "$dir/initdb.log" >&2; return 1; }
      # Only TCP from this machine, without a password; the Unix socket (for the owner
      # alone) lives in the cluster's own folder, not in /var/run/postgresql.
      printf '%s\n' "local all all peer" "host all all 127.0.0.1/32 trust" \
        | "${as[@]}" tee "$data/pg_hba.conf" >/dev/null
      local port=${LIVELITE_PG_PORT:-5433}
      while (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do port=$((port + 1)); done
      printf '%s\n' "port = $port" "listen_addresses = '127.0.0.1'" \
        "unix_socket_directories = '$dir'" "max_connections = 300" \
        "fsync = off" "synchronous_commit = off" "full_page_writes = off" \
        "shared_buffers = 128MB" "min_wal_size = 32MB" "max_wal_size = 256MB" \
        | "${as[@]}" tee -a "$data/postgresql.auto.conf" >/dev/null
    fi
    "${as[@]}" "$bin/pg_ctl" start -D "$data" -l "$dir/server.log" -w -t 60 -s >/dev/null \
      || { tail -n 20 "$dir/server.log" >&2; return 1; }
  fi
  local _
  for _ in $(seq 1 60); do
    "$bin/pg_isready" -q -h 127.0.0.1 -p "$(_livelite_pg_port)" -U postgres && break
    sleep 0.5
  done
  "$bin/pg_isready" -q -h 127.0.0.1 -p "$(_livelite_pg_port)" -U postgres \
    || { echo "PostgreSQL did not accept connections (see $dir/server.log)." >&2; return 1; }
  if [ "${BASH_SOURCE[0]}" != "$0" ]; then
    export LIVELITE_TEST_DATABASE_URL
    LIVELITE_TEST_DATABASE_URL=$(_livelite_pg_url)
    echo "LIVELITE_TEST_DATABASE_URL=$LIVELITE_TEST_DATABASE_URL" >&2
  else
    _livelite_pg_url
  fi
}

if [ "${BASH_SOURCE[0]}" != "$0" ]; then
  # Sourced: "$@" would be the caller's own arguments, so always start.
  _livelite_pg start
  unset -f _livelite_pg_running _livelite_pg_port _livelite_pg_url
else
  set -uo pipefail
  _livelite_pg "$@"
  exit $?
fi
