#!/usr/bin/env bash
# lint --format github (workflow commands escaped as GitHub's runner reads them, the $GITHUB_STEP_SUMMARY
# table) and --format gitlab (a Code Quality report that parses, with fingerprints that survive edits
# elsewhere in the file). docs/ci.md, docs/lint.md.
source "$(dirname "$0")/ci_lib.sh"
cd "$WORK"
# A file name with every character GitHub escapes in a property: , : %
NAME='we,ird:50%.sql'
printf 'CREATE INDEX books_title_idx ON books (title);\nALTER TABLE books ADD COLUMN n int NOT NULL;\n' >"$NAME"

export GITHUB_STEP_SUMMARY="$WORK/summary.md"
expect 3 "$PHASEGATE_BIN" lint "$NAME" --format github
contains "the file property is escaped" "$OUT" "file=we%2Cird%3A50%25.sql,line=1,col=1,title=require-concurrent-index::"
printf '%s\n' "$OUT" >"$WORK/commands"
cx github-annotations "$WORK/commands" >"$WORK/annotations"
check "GitHub reads the file name back" "$("$PY" -c 'import json,sys; print(sorted({json.loads(l)["props"]["file"] for l in open(sys.argv[1])}))' "$WORK/annotations")" "['we,ird:50%.sql']"
check "one annotation per finding" "$(grep -c . "$WORK/annotations")" "$(grep -c '^::' "$WORK/commands")"
contains "the summary's totals" "$(cat summary.md)" "### phasegate lint"
contains "a table row per finding" "$(cat summary.md)" "| error | \`require-concurrent-index\` | we,ird:50%.sql:1:1 |"
rows_before=$(grep -c '^| ' summary.md)
expect 3 "$PHASEGATE_BIN" lint "$NAME" --format github
check "the summary is appended to, as GitHub expects" "$(grep -c '^| ' summary.md)" "$((rows_before * 2))"
unset GITHUB_STEP_SUMMARY

fingerprints() {  # lint FILE as gitlab; prints "rule fingerprint" per entry, sorted
  expect "$2" "$PHASEGATE_BIN" lint "$1" --format gitlab
  printf '%s\n' "$OUT" >"$WORK/report.json"
  cx codequality "$WORK/report.json" | awk '{print $2, $4}' | sort
}
first=$(fingerprints "$NAME" 3)
contains "a Code Quality entry" "$first" "require-concurrent-index"
# Moved down by comments and blank lines: the lines change, the fingerprints do not.
{ printf -- '-- a comment\n\n\n'; cat "$NAME"; } >moved.sql
cp moved.sql "$NAME"
check "fingerprints survive edits elsewhere in the file" "$(fingerprints "$NAME" 3)" "$first"
check "the lines did move" "$(grep -o '"begin": [0-9]*' "$WORK/report.json" | head -1)" '"begin": 4'
# The same statement twice: a second, different fingerprint; the first stays.
printf 'CREATE INDEX books_title_idx ON books (title);\n' >>"$NAME"
twice=$(fingerprints "$NAME" 3)
check "an equal statement gets its own fingerprint" "$(grep -c require-concurrent-index <<<"$twice")" "2"
contains "the first one is unchanged" "$twice" "$(grep require-concurrent-index <<<"$first")"
# Another statement: another fingerprint.
printf 'CREATE INDEX books_other_idx ON books (title);\n' >other.sql
check "another statement, another fingerprint" "$(fingerprints other.sql 3 | grep -c "$(grep require-concurrent-index <<<"$first" | cut -d' ' -f2)")" "0"
printf 'SET lock_timeout = '"'"'1s'"'"';\nSELECT 1;\n' >clean.sql
check "no finding: an empty array" "$(fingerprints clean.sql 0)" ""
check "the empty report is JSON" "$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1])))' "$WORK/report.json")" "[]"
finish
