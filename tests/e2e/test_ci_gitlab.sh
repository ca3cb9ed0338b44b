#!/usr/bin/env bash
# examples/ci/gitlab/.gitlab-ci.yml: parses, uses only known keys (no validator of GitLab's published schema
# runs offline here: docs/ci.md), and each job's script runs as GitLab's runner runs it (one bash, set -eo
# pipefail) in a fake CI environment against the test PostgreSQL: exit 0, 75 (allowed failure), 5 (a page),
# the deploy freeze, the Code Quality report.
source "$(dirname "$0")/ci_lib.sh"
CI="$CI_DIR/gitlab/.gitlab-ci.yml"
expect 0 cx parse-all "$CI"
expect 0 cx gitlab-keys "$CI"

# job NAME [VAR=VALUE...]: runs the job's script in the project; $rc, $OUT; its variables, rules and
# allow_failure in $JOB_META.
job() {
  local name=$1; shift
  JOB_META=$(cx gitlab-job "$CI" "$name" "$WORK/job.sh")
  set +e
  (cd "$WORK/project" && env DATABASE_URL="$DATABASE_URL" PHASEGATE_WAIT=1s PAGER_WEBHOOK_URL="$RECEIVER" \
    CI_PROJECT_PATH=acme/bookbot CI_PIPELINE_ID=7 CI_COMMIT_SHA= PHASEGATE_PRINCIPAL=ci@gitlab "$@" \
    bash --noprofile --norc "$WORK/job.sh") >"$WORK/out" 2>"$WORK/err"
  rc=$?
  set -e
  OUT=$(cat "$WORK/out")
}
receiver_start

scenario ok
job phasegate-migrate
check "migrate job applies the plan: exit" "$rc" "0"
check "the plan was applied" "$(note_column)" "1"
contains "the job's variables" "$JOB_META" 'var PHASEGATE_RELEASE_COMMIT=$CI_COMMIT_SHA'
check "75 is an allowed failure" "$(sed -n 's/^allow_failure //p' <<<"$JOB_META")" "75"
job deploy-app
check "deploy job: gate passes, the app is deployed" "$rc $(deployed)" "0 yes"
contains "deploy is skipped in a freeze" "$JOB_META" 'rule $CI_DEPLOY_FREEZE -> never'

scenario blocked
job phasegate-migrate
check "migrate job when a guard says not now: exit" "$rc" "75"
contains "it says why" "$OUT" "a guard said not now"
job deploy-app
check "deploy job: the gate stops the rollout" "$rc $(deployed)" "4 no"

scenario ok
job phasegate-migrate CI_DEPLOY_FREEZE=true
check "migrate job in a deploy freeze: exit" "$rc" "75"
check "nothing applied in the freeze" "$(note_column)" "0"

scenario human
job phasegate-migrate
check "migrate job when a human must act: exit" "$rc" "5"
check "one page sent" "$(pages)" "1"
contains "the page names the pipeline" "$(page_text)" "acme/bookbot, pipeline 7"

scenario lint-error
job phasegate-lint
check "lint job with an error finding exits" "$rc" "3"
contains "the job log shows the readable findings" "$OUT" "error[require-concurrent-index]"
check "the report is the artifact GitLab reads" "$(sed -n 's/^report //p' <<<"$JOB_META")" "codequality=gl-code-quality-report.json"
expect 0 cx codequality "$WORK/project/gl-code-quality-report.json"
contains "a Code Quality entry at the plan's line" "$OUT" "major require-concurrent-index plans/0001-index.toml:4"
scenario ok
job phasegate-lint
check "lint job on a clean plan exits" "$rc" "0"
check "an empty report" "$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1])))' "$WORK/project/gl-code-quality-report.json")" "[]"
finish
