#!/usr/bin/env bash
# A throwaway PostgreSQL cluster: initdb in a temp dir, a free port on 127.0.0.1, its own socket dir,
# run as the postgres user when invoked as root.
#   eval "$(scripts/pg.sh start)"   # exports PHASEGATE_PG_DIR and PHASEGATE_TEST_URL (a libpq conninfo);
#                                   # PHASEGATE_PG_OPTS="-c name=value ..." adds server settings
#   eval "$(scripts/pg.sh replica)" # a streaming standby of it: PHASEGATE_REPLICA_DIR, PHASEGATE_REPLICA_URL
#   scripts/pg.sh stop [DIR]        # DIR defaults to $PHASEGATE_PG_DIR
set -euo pipefail
bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[[ -n "$bindir" ]] || { echo "pg.sh: PostgreSQL server binaries not found; run scripts/deps.sh" >&2; exit 2; }

as_pg() {
  if [[ $(id -u) -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()' 2>/dev/null && return
  for p in $(seq 55432 55532); do (echo >"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }; done
}

# new_dir PREFIX: a directory for a cluster (socket dir inside), owned by postgres when we are root.
new_dir() {
  local dir
  dir=$(mktemp -d "/tmp/$1.XXXXXX")
  chmod 755 "$dir"
  mkdir -p "$dir/sock"
  [[ $(id -u) -eq 0 ]] && chown -R postgres:postgres "$dir"
  echo "$dir"
}

# launch DIR EXTRA_OPTS: starts the cluster in DIR/data on a free port (three tries); prints the port.
launch() {
  local dir=$1 opts=$2 port
  for attempt in 1 2 3; do
    port=$(free_port)
    if as_pg "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
        -o "-p $port -k $dir/sock -c listen_addresses=127.0.0.1 -c max_connections=200 $opts" start >&2; then
      echo "$port"
      return
    fi
    [[ $attempt -eq 3 ]] && { cat "$dir/server.log" >&2; exit 1; }
  done
}

start() {
  local dir port
  dir=$(new_dir phasegate-pg)
  as_pg "$bindir/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 ||
    { cat "$dir/initdb.log" >&2; exit 1; }
  port=$(launch "$dir" "-c fsync=off ${PHASEGATE_PG_OPTS:-}") || exit 1
  echo "export PHASEGATE_PG_DIR='$dir'"
  echo "export PHASEGATE_TEST_URL='host=127.0.0.1 port=$port user=postgres dbname=postgres'"
  echo "export PHASEGATE_PG_BIN='$bindir'"
}

# replica: a streaming standby of the running cluster ($PHASEGATE_PG_DIR, $PHASEGATE_TEST_URL) made with
# pg_basebackup on another free port. Prints PHASEGATE_REPLICA_DIR and PHASEGATE_REPLICA_URL exports.
replica() {
  local primary=${PHASEGATE_TEST_URL:?start the primary first} dir port pport
  pport=$(sed -E 's/.*port=([0-9]+).*/\1/' <<<"$primary")
  dir=$(new_dir phasegate-replica)
  as_pg "$bindir/pg_basebackup" -h 127.0.0.1 -p "$pport" -U postgres -D "$dir/data" -R -X stream -c fast >"$dir/basebackup.log" 2>&1 ||
    { cat "$dir/basebackup.log" >&2; exit 1; }
  port=$(launch "$dir" "-c hot_standby=on") || exit 1
  echo "export PHASEGATE_REPLICA_DIR='$dir'"
  echo "export PHASEGATE_REPLICA_URL='host=127.0.0.1 port=$port user=postgres dbname=postgres'"
}

stop() {
  local dir=${1:-${PHASEGATE_PG_DIR:-}}
  [[ -n "$dir" && -d "$dir/data" ]] || { echo "pg.sh: no cluster to stop" >&2; return 0; }
  as_pg "$bindir/pg_ctl" -D "$dir/data" -m fast -w stop >&2 || true
  rm -rf "$dir"
}

case "${1:-}" in
  start) start ;;
  replica) replica ;;
  stop) stop "${2:-}" ;;
  *) echo "usage: scripts/pg.sh start|replica|stop [DIR]" >&2; exit 2 ;;
esac
