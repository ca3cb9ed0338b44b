#!/usr/bin/env bash
# examples/ci/k8s and examples/ci/systemd: the manifests parse and validate against the Kubernetes API schemas
# (npm kubernetes-models), their podFailurePolicy maps phasegate's exit codes as docs/ci.md says, and the
# container's command runs against the test PostgreSQL; the units pass systemd-analyze verify (when it can
# run here) and their ExecStart runs, with exit 75 counted as success.
source "$(dirname "$0")/ci_lib.sh"
CRON="$CI_DIR/k8s/cronjob.yaml"
PRE="$CI_DIR/k8s/predeploy-job.yaml"
SERVICE="$CI_DIR/systemd/phasegate-offpeak.service"
TIMER="$CI_DIR/systemd/phasegate-offpeak.timer"
expect 0 cx parse-all "$CRON" "$PRE"

if why=$(npm_tools kubernetes-models@5.1.0); then
  cat >"$WORK/validate.js" <<'JS'
// Validates each manifest (JSON from argv) with kubernetes-models' JSON schemas of the Kubernetes API.
const path = require('path');
let bad = 0;
for (const file of process.argv.slice(3)) {
  const d = JSON.parse(require('fs').readFileSync(file, 'utf8'));
  const [group, version] = d.apiVersion.split('/');
  const mod = require(path.join(process.argv[2], 'node_modules/kubernetes-models', group, version, d.kind));
  try { new mod[d.kind](d).validate(); console.log('valid ' + file); }
  catch (e) { bad++; console.log('INVALID ' + file + ': ' + e.message); }
}
process.exit(bad ? 1 : 0);
JS
  for m in "$CRON" "$PRE"; do "$PY" -c 'import json,sys,yaml; print(json.dumps(yaml.safe_load(open(sys.argv[1]))))' "$m" >"$WORK/$(basename "$m").json"; done
  expect 0 node "$WORK/validate.js" "$NPM_TOOLS" "$WORK/cronjob.yaml.json" "$WORK/predeploy-job.yaml.json"
  "$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); d["spec"]["concurrencyPolicy"]="Sometimes"; print(json.dumps(d))' "$WORK/cronjob.yaml.json" >"$WORK/bad.json"
  expect 1 node "$WORK/validate.js" "$NPM_TOOLS" "$WORK/bad.json"   # the validator can fail
  contains "an invalid manifest is named" "$OUT" "concurrencyPolicy"
else
  echo "SKIP: schema validation of the manifests: $why"
fi

# The CronJob's schedule: never two at once, a missed start waits, the window's timezone.
spec() { "$PY" -c 'import sys,yaml; d=yaml.safe_load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$CRON" "$1"; }
check "concurrencyPolicy" "$(spec 'd["spec"]["concurrencyPolicy"]')" "Forbid"
check "timeZone" "$(spec 'd["spec"]["timeZone"]')" "Australia/Brisbane"
check "startingDeadlineSeconds" "$(spec 'd["spec"]["startingDeadlineSeconds"]')" "600"
# The schedules start inside the window they are for: SPEC's [windows.offpeak], asked with `phasegate window
# --at` at the CronJob's next five starts (computed in its timeZone) and the timer's (systemd-analyze calendar).
mkdir -p "$WORK/offpeak/plans"
cat >"$WORK/offpeak/phasegate.toml" <<'TOML'
[project]
name = "offpeak"
[windows.offpeak]
timezone = "Australia/Brisbane"
allow = [ { days = "mon-fri", start = "20:00", end = "06:00" }, { days = "sat,sun" } ]
TOML
cron_starts() {  # the next five instants (UTC, RFC 3339) of a 5-field "M H * * DOW" schedule in TZ
  "$PY" - "$1" "$2" <<'PY'
import datetime, sys, zoneinfo
minute, hour, _, _, dow = sys.argv[1].split()
lo, hi = (int(x) for x in dow.split("-"))
tz = zoneinfo.ZoneInfo(sys.argv[2])
day = datetime.datetime(2026, 1, 5, int(hour), int(minute), tzinfo=tz)
n = 0
while n < 5:
    if lo <= day.isoweekday() % 7 <= hi:
        print(day.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")); n += 1
    day += datetime.timedelta(days=1)
PY
}
# window_open_at WHAT INSTANT...: every instant must be inside the window (exit 0 of `phasegate window --at`).
window_open_at() {
  local what=$1 n=0 closed=""; shift
  for at in "$@"; do
    n=$((n + 1))
    "$PHASEGATE_BIN" -C "$WORK/offpeak" window offpeak --at "$at" >/dev/null || closed+=" $at"
  done
  check "$what starts when the window is open ($n starts asked)" "$n${closed:+ closed at$closed}" "5"
}
window_open_at "the CronJob" $(cron_starts "$(spec 'd["spec"]["schedule"]')" "$(spec 'd["spec"]["timeZone"]')")
if command -v systemd-analyze >/dev/null && systemd-analyze --version >/dev/null 2>&1; then
  window_open_at "the timer" $(TZ=UTC systemd-analyze calendar --iterations=5 "$(cx unit-key "$TIMER" Timer OnCalendar)" |
    sed -nE 's/^ *(Next elapse|Iter\. #[0-9]+): [A-Za-z]+ ([0-9-]+) ([0-9:]+) UTC$/\2T\3Z/p')
fi

# What each Job does with each of phasegate's exit codes.
for code in 0 1 2 5 6 69 70 75; do
  want=FailJob; [[ $code == 0 ]] && want=Succeeded; [[ $code == 69 ]] && want=Count
  check "cronjob: exit $code" "$(cx k8s-action "$CRON" "$code")" "$want"
done
for code in 0 4 75 5 69; do
  want=FailJob; [[ $code == 0 ]] && want=Succeeded; [[ $code == 69 ]] && want=Count
  check "predeploy job: exit $code" "$(cx k8s-action "$PRE" "$code")" "$want"
done

# container ARGV...: runs a container's command as the pod would, the image's /srv/app being the project.
container() {
  local line
  line=$(cx k8s-command "$1")
  line=${line%%$'\n'*}
  line=${line//\/srv\/app/$WORK/project}
  line=${line//--wait=15m/--wait=1s}
  set +e
  (cd "$WORK/project" && eval "env DATABASE_URL=\"\$DATABASE_URL\" PHASEGATE_PRINCIPAL=k8s PHASEGATE_WAIT=1s $line") >"$WORK/out" 2>"$WORK/err"
  rc=$?
  set -e
}
scenario ok
container "$CRON"
check "cronjob container, a pending plan: exit" "$rc $(note_column)" "0 1"
scenario blocked
container "$CRON"
check "cronjob container, window closed: exit, next time" "$rc $(cx k8s-action "$CRON" "$rc")" "75 FailJob"
container "$PRE"
check "predeploy container, window closed: the rollout is held" "$rc $(cx k8s-action "$PRE" "$rc") $(note_column)" "75 FailJob 0"
scenario ok
container "$PRE"
check "predeploy container: applied, then status --check" "$rc $(note_column)" "0 1"

# systemd: verify the units as installed (ExecStart pointing at this build), then run ExecStart.
mkdir -p "$WORK/units"
sed "s|/usr/bin/phasegate|$PHASEGATE_BIN|" "$SERVICE" >"$WORK/units/phasegate-offpeak.service"
cp "$TIMER" "$WORK/units/"
check "the service is a oneshot" "$(cx unit-key "$SERVICE" Service Type)" "oneshot"
check "exit 75 counts as success" "$(cx unit-key "$SERVICE" Service SuccessExitStatus)" "75"
check "the timer starts the service" "$(cx unit-key "$TIMER" Timer Unit)" "phasegate-offpeak.service"
if command -v systemd-analyze >/dev/null && systemd-analyze --version >/dev/null 2>&1; then
  expect 0 systemd-analyze verify "$WORK/units/phasegate-offpeak.service" "$WORK/units/phasegate-offpeak.timer"
  check "systemd-analyze verify says nothing" "$OUT$ERR" ""
  expect 0 systemd-analyze calendar "$(cx unit-key "$TIMER" Timer OnCalendar)"
  contains "the timer's calendar is in the window's timezone" "$OUT" "Australia/Brisbane"
  sed 's/^Type=oneshot/Tpye=oneshot/' "$WORK/units/phasegate-offpeak.service" >"$WORK/units/broken.service"
  expect 0 systemd-analyze verify "$WORK/units/broken.service"
  contains "verify names a misspelt key (so the check above can fail)" "$ERR" "Unknown key 'Tpye'"
else
  echo "SKIP: systemd-analyze cannot run here; the units' keys were checked by parsing only"
fi
exec_start() {
  local line
  line=$(cx unit-key "$WORK/units/phasegate-offpeak.service" Service ExecStart)
  line=${line//\/srv\/bookbot/$WORK/project}
  line=${line//--wait=15m/--wait=1s}
  set +e
  (cd "$WORK/project" && env DATABASE_URL="$DATABASE_URL" $line) >"$WORK/out" 2>"$WORK/err"
  rc=$?
  set -e
}
unit_result() { [[ $1 == 0 || " $(cx unit-key "$SERVICE" Service SuccessExitStatus) " == *" $1 "* ]] && echo success || echo failed; }
scenario blocked
exec_start
check "ExecStart, window closed: exit, unit result" "$rc $(unit_result "$rc")" "75 success"
scenario human
exec_start
check "ExecStart, a human must act: exit, unit result" "$rc $(unit_result "$rc")" "5 failed"
scenario ok
exec_start
check "ExecStart, a pending plan: exit, unit result" "$rc $(unit_result "$rc") $(note_column)" "0 success 1"
finish
