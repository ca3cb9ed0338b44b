#!/usr/bin/env bash
# Master rollback through the CI server's API, for [rollback] master = { kind = "command", ... }:
#   master = { kind = "command", command = ["hooks/rollback-master-ci.sh"] }
# Reverts PHASEGATE_RELEASE_COMMIT on BRANCH with GitLab's "revert a commit" API
# (POST /projects/:id/repository/commits/:sha/revert), which creates the revert commit on the server and
# starts the branch's pipeline as any push would; nothing is checked out here.
#
# Environment: CI_API_URL (e.g. https://gitlab.example.com/api/v4), CI_PROJECT_ID (numeric id or
# group/project), CI_TOKEN (a token with the api scope), BRANCH (default: main). phasegate sets
# PHASEGATE_RELEASE_COMMIT, PHASEGATE_PLAN and PHASEGATE_RUN_ID.
set -euo pipefail
: "${PHASEGATE_RELEASE_COMMIT:?no release commit to revert}" "${CI_API_URL:?set CI_API_URL}" \
  "${CI_PROJECT_ID:?set CI_PROJECT_ID}" "${CI_TOKEN:?set CI_TOKEN}"
branch=${BRANCH:-main}
project=$(printf '%s' "$CI_PROJECT_ID" | sed 's|/|%2F|g')
url="${CI_API_URL%/}/projects/$project/repository/commits/$PHASEGATE_RELEASE_COMMIT/revert"
if ! answer=$(curl -sS --max-time "${CI_TIMEOUT:-30}" -w '\n%{http_code}' -X POST -H "PRIVATE-TOKEN: $CI_TOKEN" \
                   --data-urlencode "branch=$branch" "$url" 2>&1); then
  echo "rollback-master-ci: POST $url got no answer: $answer" >&2
  exit 1
fi
code=${answer##*$'\n'}
answer=${answer%$'\n'*}
if [[ $code != 201 ]]; then
  echo "rollback-master-ci: reverting $PHASEGATE_RELEASE_COMMIT on $branch answered $code: $answer" >&2
  exit 1
fi
echo "rollback-master-ci: reverted $PHASEGATE_RELEASE_COMMIT on $branch (plan ${PHASEGATE_PLAN:-?}, run ${PHASEGATE_RUN_ID:-?}): $answer"
