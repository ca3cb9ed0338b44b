#!/usr/bin/env bash
# Smoke check that saves a real record through the application's HTTP API, then reads it back:
#   [smoke.save_book]
#   command = ["hooks/smoke-http-save.sh", "http://127.0.0.1:8080/books"]
# POSTs JSON to URL (default body: a record named after the run) and passes when the answer is 2xx; when the
# answer carries an "id", GET URL/ID must answer 200 too. Prints what it saved; on failure says why on stderr.
#
# Usage: smoke-http-save.sh URL [JSON]
set -euo pipefail
[[ $# -ge 1 ]] || { echo "usage: $0 URL [JSON]" >&2; exit 2; }
url=${1%/}
body=${2:-"{\"title\": \"phasegate smoke check, run ${PHASEGATE_RUN_ID:-0} $(date -u +%Y-%m-%dT%H:%M:%SZ)\", \"lexile\": 900}"}

if ! answer=$(curl -sS --max-time "${SMOKE_TIMEOUT:-10}" -w '\n%{http_code}' -H 'Content-Type: application/json' -d "$body" "$url" 2>&1); then
  echo "smoke: POST $url got no answer: $answer" >&2
  exit 1
fi
code=${answer##*$'\n'}
answer=${answer%$'\n'*}
if [[ $code != 2?? ]]; then
  echo "smoke: POST $url answered $code: $answer" >&2
  exit 1
fi
id=$(sed -nE 's/.*"id"[[:space:]]*:[[:space:]]*"?([A-Za-z0-9_.-]+)"?.*/\1/p' <<<"$answer" | head -n 1)
if [[ -n $id ]]; then
  code=$(curl -sS --max-time "${SMOKE_TIMEOUT:-10}" -o /dev/null -w '%{http_code}' "$url/$id" || true)
  if [[ $code != 200 ]]; then
    echo "smoke: saved $url/$id but reading it back answered $code" >&2
    exit 1
  fi
fi
echo "smoke: saved $url/${id:-?}: $answer"
