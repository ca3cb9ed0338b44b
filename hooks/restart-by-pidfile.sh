#!/usr/bin/env bash
# Restart a process that keeps its pid in a file, for [services.NAME] kind = "command":
#   restart = ["hooks/restart-by-pidfile.sh", "run/api.pid", "--", "python3", "app/api.py"]
# Sends SIGTERM to the pid in PIDFILE, waits for it to exit (SIGKILL after --stop-timeout), starts COMMAND
# detached in its own session (stdin from /dev/null, output appended to --log), writes the new pid to PIDFILE
# and fails when the new process dies within its first half second. Also starts a service that is not running.
#
# Usage: restart-by-pidfile.sh PIDFILE [--log FILE] [--stop-timeout SECONDS] -- COMMAND [ARG...]
set -euo pipefail
usage() { echo "usage: $0 PIDFILE [--log FILE] [--stop-timeout SECONDS] -- COMMAND [ARG...]" >&2; exit 2; }
[[ $# -ge 3 ]] || usage
pidfile=$1; shift
log="${pidfile%.pid}.log"
stop_timeout=10
while [[ $# -gt 0 && $1 != "--" ]]; do
  case $1 in
    --log) log=$2; shift 2 ;;
    --stop-timeout) stop_timeout=$2; shift 2 ;;
    *) usage ;;
  esac
done
[[ ${1:-} == "--" && $# -ge 2 ]] || usage
shift

# Running = it exists and is not a zombie (a process that exited but whose parent has not reaped it yet: in
# containers whose init reaps slowly, kill -0 keeps succeeding on it for seconds).
running() {
  kill -0 "$1" 2>/dev/null || return 1
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 0   # no /proc: trust kill -0
  [[ ${stat##*) } != Z* ]]
}

old=""
if [[ -s $pidfile ]]; then
  old=$(<"$pidfile")
  if running "$old"; then
    kill -TERM "$old"
    deadline=$((SECONDS + stop_timeout))
    while running "$old" && [[ $SECONDS -lt $deadline ]]; do sleep 0.1; done
    if running "$old"; then
      echo "restart-by-pidfile: pid $old ignored SIGTERM for ${stop_timeout}s; sending SIGKILL" >&2
      kill -KILL "$old" 2>/dev/null || true
    fi
  else
    old="$old (not running)"
  fi
fi

mkdir -p "$(dirname "$pidfile")" "$(dirname "$log")"
# Job control is off in a script, so the background child is not a process-group leader and setsid(1)
# calls setsid() itself instead of forking: $! is the service's pid.
setsid "$@" >>"$log" 2>&1 </dev/null &
new=$!
echo "$new" >"$pidfile.tmp" && mv "$pidfile.tmp" "$pidfile"
sleep 0.5
if ! running "$new"; then
  echo "restart-by-pidfile: $1 (pid $new) exited at once; the end of $log:" >&2
  tail -n 5 "$log" >&2 || true
  exit 1
fi
echo "restarted $1: pid ${old:-none} -> $new"
