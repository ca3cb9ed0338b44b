#!/usr/bin/env bash
# Two operators acknowledged (SPEC §3.2) with real ed25519 keys: each way an approval must not count,
# and the quorum of two distinct verified principals that lets the run go.
source "$(dirname "$0")/lib.sh"
new_db e2e_approvals
new_project
P="$WORK/project"
mkdir -p "$P/ops" "$WORK/keys"
for who in alice bob mallory; do ssh-keygen -q -t ed25519 -N '' -C "$who" -f "$WORK/keys/$who"; done
{ echo "alice@example.com $(cat "$WORK/keys/alice.pub")"; echo "bob@example.com $(cat "$WORK/keys/bob.pub")"; } >"$P/ops/allowed_signers"
cat >>"$P/phasegate.toml" <<'TOML'
approvals = 2
[approvals]
allowed_signers = "ops/allowed_signers"
valid_for = "1h"
TOML
sed -i 's/^lock_retries = 1$/lock_retries = 1/' "$P/phasegate.toml"
plan 0001-books <<'TOML'
[plan]
description = "books"
[[expand.steps]]
name = "create"
sql = "CREATE TABLE books (id bigint PRIMARY KEY, title text)"
down = "DROP TABLE books"
TOML
approve() { pg approve 0001-books --key "$WORK/keys/$1" "${@:2}"; }
export PHASEGATE_PRINCIPAL=carol@example.com
# insert_signed PRINCIPAL KEY NAMESPACE DOCUMENT: stores a signature made outside phasegate (a forgery attempt).
insert_signed() {
  local sig
  sig=$(printf '%s\n' "$4" | ssh-keygen -q -Y sign -f "$WORK/keys/$2" -n "$3")
  "$PSQL" "$DATABASE_URL" -qAtX -v ON_ERROR_STOP=1 -v p="$1" -v d="$4"$'\n' -v s="$sig" >/dev/null <<'SQL'
INSERT INTO phasegate.approvals (plan_id, digest, target, principal, document, signature, expires_at)
VALUES ('0001-books', 'x', 'x', :'p', :'d', :'s', now() + interval '1 hour');
SQL
}
no_table() { check "$1: nothing applied" "$(q "SELECT to_regclass('books') IS NULL")" "t"; }

expect 75 pg run
contains "no approvals: blocked" "$ERR" "0 of 2 approval(s)"
contains "tells how to approve" "$ERR" "phasegate approve 0001-books --key"
check "no run created" "$(q "SELECT count(*) FROM phasegate.runs")" "0"
check "approval.requested recorded" "$(q "SELECT count(*) FROM phasegate.events WHERE kind = 'approval.requested'")" "1"

expect 0 approve alice --comment "reviewed in #4411"
contains "principal found from the key" "$OUT" "alice@example.com approves 0001-books"
contains "quorum after one" "$OUT" "1 of 2 approval(s) (alice@example.com)"
expect 75 pg run
contains "one approval: blocked" "$ERR" "1 of 2 approval(s) (alice@example.com)"
no_table "one approval"

expect 0 approve alice
expect 75 pg run
contains "same principal twice: blocked" "$ERR" "same principal as approval #1"

expect 2 approve mallory
contains "unknown key refused by approve" "$ERR" "this key is not in ops/allowed_signers"
expect 2 approve mallory --principal bob@example.com
contains "claiming bob with mallory's key refused" "$ERR" "does not verify for principal bob@example.com"
doc=$(q "SELECT document FROM phasegate.approvals WHERE approval_id = 1")
bobdoc=${doc/principal: alice@example.com/principal: bob@example.com}
insert_signed bob@example.com mallory phasegate-approval "$bobdoc"
expect 75 pg run
contains "forged row (unknown key) not counted" "$ERR" "bob@example.com: signature does not verify"
insert_signed bob@example.com bob other-namespace "$bobdoc"
expect 75 pg run
contains "wrong namespace not counted" "$ERR" "namespace"
no_table "forgeries"

expect 0 approve bob --valid-for 1s
sleep 2
expect 75 pg run
contains "expired approval not counted" "$ERR" "expired at"

expect 0 approve bob
expect 0 pg approvals 0001-books --json
check "approvals --json: quorum met for carol" "$(echo "$OUT" | python3 -c 'import json,sys; d=json.load(sys.stdin)["quorum"]; print(d["met"], [c["principal"] for c in d["counted"]])')" \
  "True ['alice@example.com', 'bob@example.com']"

expect 75 pg run --as alice@example.com
contains "initiator does not count" "$ERR" "initiator of the run does not count"

cp "$P/plans/0001-books.toml" "$WORK/plan.bak"
sed -i 's/title text/title text NOT NULL/' "$P/plans/0001-books.toml"
expect 75 pg run
contains "edited plan voids approvals" "$ERR" "the plan changed since it was approved"
cp "$WORK/plan.bak" "$P/plans/0001-books.toml"

# The same signed approvals copied into another database do not approve it.
main_url=$DATABASE_URL
PGOPTIONS="-c client_min_messages=warning" "$PSQL" "$PHASEGATE_TEST_URL" -qc "DROP DATABASE IF EXISTS e2e_approvals_b WITH (FORCE)" -c "CREATE DATABASE e2e_approvals_b"
other_url="$PHASEGATE_TEST_URL dbname=e2e_approvals_b"
DATABASE_URL=$other_url expect 0 pg approvals 0001-books   # creates the state schema there
"$PSQL" "$main_url" -qAtX -c "COPY (SELECT plan_id, digest, target, principal, document, signature, expires_at FROM phasegate.approvals WHERE revoked_at IS NULL) TO STDOUT" |
  "$PSQL" "$other_url" -qc "COPY phasegate.approvals (plan_id, digest, target, principal, document, signature, expires_at) FROM STDIN"
DATABASE_URL=$other_url expect 75 pg run
contains "another target database not counted" "$ERR" "approves another database"
export DATABASE_URL=$main_url

expect 0 pg revoke 0001-books --key "$WORK/keys/bob"
contains "revoke: every row stored under bob (two forgeries, expired, valid)" "$OUT" "revoked 4 approval(s) of bob@example.com"
expect 75 pg run
contains "revoked approval not counted" "$ERR" "revoked at"
no_table "after revoke"

# --- revocations are signed documents (issue #12) ---
check "each revocation is a signed document stored with its approval" \
  "$(q "SELECT count(*) FROM phasegate.approvals WHERE revocation LIKE 'phasegate-revocation-v1%' AND revocation_signature LIKE '-----BEGIN SSH SIGNATURE-----%'")" "4"
bob_valid=$(q "SELECT max(approval_id) FROM phasegate.approvals WHERE principal = 'bob@example.com'")
contains "the revoked event names the approvals and carries the signed documents" \
  "$(q "SELECT payload->>'approvals' || ' ' || (payload->'revocations'->0->>'document') FROM phasegate.events WHERE kind = 'approval.revoked'")" \
  "$bob_valid] phasegate-revocation-v1"
expect 0 pg approvals 0001-books
contains "a verified revocation says who signed it" "$OUT" "#$bob_valid bob@example.com: revoked at"
contains "... signed by bob" "$OUT" "(signed by bob@example.com)"
# Undoing a revocation by hand (the row cleared): the hash-chained event still withdraws the approval.
q "UPDATE phasegate.approvals SET revoked_at = NULL, revocation = NULL, revocation_signature = NULL WHERE approval_id = $bob_valid"
revoked_event=$(q "SELECT event_id FROM phasegate.events WHERE kind = 'approval.revoked'")
expect 75 pg run
contains "an un-revoked row does not count again" "$ERR" "#$bob_valid bob@example.com: revoked by event #$revoked_event, but its approvals row no longer says so"
no_table "after the revocation was undone by hand"
# A revocation forged without the key (revoked_at set by hand, or a document with a signature that does not
# verify) cannot add an approval, only take one away: it withdraws, and says it is not trusted.
q "UPDATE phasegate.approvals SET revoked_at = now() WHERE approval_id = 2"
q "UPDATE phasegate.approvals SET revoked_at = now(), revocation = (SELECT revocation FROM phasegate.approvals WHERE approval_id = 4),
   revocation_signature = (SELECT revocation_signature FROM phasegate.approvals WHERE approval_id = 4) WHERE approval_id = 1"
expect 0 pg approvals 0001-books
contains "an unsigned revocation withdraws, and says so" "$OUT" "#2 alice@example.com: revoked at"
contains "... unsigned" "$OUT" "unsigned revocation"
contains "a revocation copied from another approval is not trusted, and withdraws" "$OUT" "#1 alice@example.com: revoked at"
contains "... names another approval" "$OUT" "it names another approval (#4 of bob@example.com"

# --- the 7d cap holds for stored approvals, not only when signing ---
doc=$(q "SELECT document FROM phasegate.approvals WHERE approval_id = 1")
far=$(date -u -d '+30 days' +%Y-%m-%dT%H:%M:%SZ)
longdoc=$(sed -e "s/^expires: .*/expires: $far/" -e "s/^principal: .*/principal: bob@example.com/" <<<"$doc")
insert_signed bob@example.com bob phasegate-approval "$longdoc"
expect 75 pg run
contains "an approval signed for 30 days and inserted by hand does not count" "$ERR" "more than the 7d maximum"
expect 2 approve alice --valid-for 8d
contains "approve refuses more than 7d" "$ERR" "--valid-for: at most 7d"
no_table "after the long-lived approval"

expect 0 approve alice --comment "again, after the forged revocations"
expect 0 approve bob --comment "second look"
# --- principals compare without case ---
expect 75 pg run --as ALICE@Example.COM
contains "the initiator in other case does not count either" "$ERR" "initiator of the run does not count"
echo "BOB@example.com $(cat "$WORK/keys/bob.pub")" >>"$P/ops/allowed_signers"
expect 0 approve bob --principal BOB@example.com
expect 0 pg approvals 0001-books --json
check "BOB and bob are one approver" "$(echo "$OUT" | python3 -c 'import json,sys; d=json.load(sys.stdin)["quorum"]; print([c["principal"] for c in d["counted"]], [r["reason"].startswith("same principal as approval #") for r in d["not_counted"] if r["principal"] == "BOB@example.com"])')" \
  "['alice@example.com', 'bob@example.com'] [True]"
expect 0 pg run
check "two valid approvals: applied" "$(q "SELECT to_regclass('books') IS NOT NULL")" "t"
check "events: recorded and revoked" "$(q "SELECT string_agg(DISTINCT kind, ',' ORDER BY kind) FROM phasegate.events WHERE kind LIKE 'approval.%'")" \
  "approval.recorded,approval.requested,approval.revoked"
finish
