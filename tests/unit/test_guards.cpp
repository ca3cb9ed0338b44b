// Guards in the executor (SPEC §3) with fakes: windows, approvals, load, blockers; and the pure quorum.
#include <doctest/doctest.h>

#include <algorithm>

#include "fakes.hpp"

using namespace phasegate;
using namespace phasegate::test;

namespace {
TimePoint at(const char* rfc3339) { return *guards::parse_rfc3339(rfc3339); }

struct Rig {
  Project project;
  FakeDatabase db;
  FakeClock clock;
  FakeGuardProbe probe;
  Actor actor{"carol@example.com", "carol", "laptop"};
  PlanOutcome run(const Plan& plan, RunOptions opt = {}) {
    Executor ex(project, db, db, clock, actor);
    ex.set_guard_probe(&probe);
    return ex.run_plan(plan, opt);
  }
  // Every day 20:00-06:00 UTC.
  void nightly_window(const std::string& overrun = "finish-phase") {
    Window w;
    w.name = "night";
    w.timezone = "UTC";
    w.allow.push_back(WindowAllow{{0, 1, 2, 3, 4, 5, 6}, 20 * 60, 6 * 60});
    w.overrun = overrun;
    project.windows["night"] = w;
    project.guards.windows = std::vector<std::string>{"night"};
  }
};

Plan two_steps() {
  return make_plan("0007-lvl", {{Phase::expand, "a", "ALTER TABLE books ADD COLUMN a int"},
                                {Phase::expand, "b", "ALTER TABLE books ADD COLUMN b int"}});
}
int count(const std::vector<std::string>& v, const std::string& s) { return static_cast<int>(std::count(v.begin(), v.end(), s)); }

ApprovalRecord approval(int64_t id, const std::string& principal, const std::string& digest, const std::string& target,
                        TimePoint expires, const std::string& plan = "0007-lvl") {
  ApprovalRecord a;
  a.id = id;
  a.plan_id = plan;
  a.principal = principal;
  a.document = guards::render({plan, digest, target, principal, expires});
  a.signature = "-----BEGIN SSH SIGNATURE-----\n" + principal + std::to_string(id) + "\n-----END SSH SIGNATURE-----\n";
  a.signature_ok = true;
  a.created_at = expires - std::chrono::hours(12);  // recorded with a 12h valid_for
  return a;
}
}  // namespace

TEST_SUITE("guards::window in the executor") {
  TEST_CASE("closed window: exit 75 at once, no run created, guard.wait recorded") {
    Rig rig;
    rig.nightly_window();
    rig.clock.t = at("2026-11-21T12:00:00Z");
    auto out = rig.run(two_steps());
    CHECK(out.exit == Exit::blocked);
    CHECK(out.blocked_by == "window");
    CHECK(out.message.find("opens 2026-11-21T20:00:00Z") != std::string::npos);
    CHECK(rig.db.runs_.empty());
    CHECK(rig.db.executed.empty());
    CHECK(rig.db.kinds() == std::vector<std::string>{"guard.wait"});
    CHECK(rig.clock.sleeps.empty());
  }
  TEST_CASE("--wait sleeps through the clock until the window opens, then runs") {
    Rig rig;
    rig.nightly_window();
    rig.clock.t = at("2026-11-21T12:00:00Z");
    RunOptions opt;
    opt.wait = Millis::max();
    auto out = rig.run(two_steps(), opt);
    CHECK(out.exit == Exit::ok);
    CHECK(rig.clock.t >= at("2026-11-21T20:00:00Z"));
    CHECK(rig.clock.t < at("2026-11-21T20:01:00Z"));
    auto kinds = rig.db.kinds();
    CHECK(count(kinds, "guard.wait") == 1);
    CHECK(count(kinds, "guard.go") == 1);
    CHECK(rig.db.executed.size() == 2);
  }
  TEST_CASE("--wait=DUR gives up at its deadline with exit 75") {
    Rig rig;
    rig.nightly_window();
    rig.clock.t = at("2026-11-21T12:00:00Z");
    RunOptions opt;
    opt.wait = Millis(3'600'000);
    auto out = rig.run(two_steps(), opt);
    CHECK(out.exit == Exit::blocked);
    CHECK(out.message.find("Gave up after waiting 1h") != std::string::npos);
    CHECK(rig.clock.t == at("2026-11-21T13:00:00Z"));
    CHECK(rig.db.runs_.empty());
  }
  TEST_CASE("overrun: finish-phase completes the phase; finish-step pauses before the next step") {
    for (std::string overrun : {"finish-phase", "finish-step"}) {
      CAPTURE(overrun);
      Rig rig;
      rig.nightly_window(overrun);
      rig.clock.t = at("2026-11-22T05:59:59Z");
      // The first step takes two seconds: the window closes while it runs.
      rig.db.on_apply = [&](const std::string& sql) {
        if (sql.find(" a ") != std::string::npos) rig.clock.t += std::chrono::seconds(2);
      };
      auto out = rig.run(two_steps());
      if (overrun == "finish-phase") {
        CHECK(out.exit == Exit::ok);
        CHECK(rig.db.executed.size() == 2);
      } else {
        CHECK(out.exit == Exit::blocked);
        CHECK(out.status == RunStatus::blocked);
        CHECK(rig.db.executed.size() == 1);
        CHECK(rig.db.kinds().back() == "run.blocked");
        // The next night the same run resumes with the second step.
        rig.clock.t = at("2026-11-22T21:00:00Z");
        auto again = rig.run(two_steps());
        CHECK(again.exit == Exit::ok);
        CHECK(again.run_id == out.run_id);
        CHECK(rig.db.executed.size() == 2);
      }
    }
  }
}

TEST_SUITE("guards::approvals") {
  const std::string digest = "sha256:abc";
  const std::string target = "7000000000000000001/app";
  TimePoint now = at("2026-11-21T12:00:00Z");
  TimePoint later = at("2026-11-22T00:00:00Z");
  guards::QuorumQuestion question() { return {2, "0007-lvl", "sha256:abc", "7000000000000000001/app", "carol@example.com", false, at("2026-11-21T12:00:00Z")}; }

  TEST_CASE("the document renders as SPEC §3.2 and parses back") {
    guards::ApprovalDocument d{"0042-reading-level", "ff", "123/bookbot", "alice@example.com", at("2026-11-22T04:00:00Z")};
    CHECK(guards::render(d) ==
          "phasegate-approval-v1\nplan: 0042-reading-level\ndigest: sha256:ff\ntarget: 123/bookbot\n"
          "principal: alice@example.com\nexpires: 2026-11-22T04:00:00Z\n");
    auto back = guards::parse_approval(guards::render(d));
    REQUIRE(back);
    CHECK(back->principal == "alice@example.com");
    CHECK(!guards::parse_approval("phasegate-approval-v1\nplan: x\n"));
    CHECK(!guards::parse_approval(guards::render(d) + "extra: 1\n"));
  }
  TEST_CASE("two distinct valid principals meet the quorum") {
    auto q = guards::count_approvals(question(), {approval(1, "alice", digest, target, later), approval(2, "bob", digest, target, later)});
    CHECK(q.met());
    CHECK(q.counted.size() == 2);
  }
  TEST_CASE("each way an approval must not count") {
    std::vector<ApprovalRecord> one{approval(1, "alice", digest, target, later)};
    auto with = [&](ApprovalRecord second, const std::string& why) {
      auto all = one;
      second.id = 2;
      all.push_back(second);
      auto q = guards::count_approvals(question(), all);
      CHECK_MESSAGE(!q.met(), why);
      REQUIRE(q.rejected.size() == 1);
      CHECK_MESSAGE(q.rejected[0].reason.find(why) != std::string::npos, q.rejected[0].reason);
    };
    with(approval(0, "alice", digest, target, later), "same principal");
    auto unknown = approval(0, "mallory", digest, target, later);
    unknown.signature_ok = false;
    unknown.signature_problem = "no principal matched";
    with(unknown, "does not verify");
    with(approval(0, "bob", digest, target, now - std::chrono::seconds(1)), "expired");
    with(approval(0, "bob", "sha256:old", target, later), "the plan changed");
    with(approval(0, "bob", digest, "7000000000000000002/app", later), "another database");
    with(approval(0, "carol@example.com", digest, target, later), "initiator");
    auto revoked = approval(0, "bob", digest, target, later);
    revoked.revoked_at = now;
    with(revoked, "revoked");
    auto other_plan = approval(0, "bob", digest, target, later, "0008-other");
    other_plan.plan_id = "0007-lvl";
    with(other_plan, "approves plan 0008-other");
    auto stolen = approval(0, "bob", digest, target, later);
    stolen.principal = "dave";  // stored under another name than the signed document says
    with(stolen, "document names principal bob");
  }
  TEST_CASE("the 7d cap holds when counting, not only when signing") {
    auto one = approval(1, "alice", digest, target, later);
    auto rejected = [&](ApprovalRecord a) {
      a.id = 2;
      auto q = guards::count_approvals(question(), {one, a});
      CHECK_MESSAGE(!q.met(), "an approval over the cap counted");
      return q.rejected.empty() ? std::string("<nothing rejected>") : q.rejected[0].reason;
    };
    // Inserted by hand: recorded now, valid for 8 days.
    auto long_lived = approval(0, "bob", digest, target, now + std::chrono::hours(8 * 24));
    long_lived.created_at = now;
    CHECK_MESSAGE(rejected(long_lived).find("valid for 8d after it was recorded") != std::string::npos, rejected(long_lived));
    // Its recorded time forged to make the lifetime look short: still more than 7d from now.
    auto forged_time = approval(0, "bob", digest, target, now + std::chrono::hours(30 * 24));
    forged_time.created_at = now + std::chrono::hours(29 * 24);
    CHECK_MESSAGE(rejected(forged_time).find("more than the 7d maximum from now") != std::string::npos, rejected(forged_time));
    // Exactly 7d, and 7d plus a clock skew inside the slack, count.
    for (auto extra : {Millis(0), Millis(60'000)}) {
      auto at_cap = approval(2, "bob", digest, target, now + guards::kMaxApprovalLifetime + extra);
      at_cap.created_at = now;
      CHECK_MESSAGE(guards::count_approvals(question(), {one, at_cap}).met(), "extra ms: " << extra.count());
    }
  }
  TEST_CASE("principals compare without case: initiator and distinct approvers") {
    auto q = question();
    q.initiator = "Carol@Example.COM";
    auto r = guards::count_approvals(q, {approval(1, "alice", digest, target, later), approval(2, "carol@example.com", digest, target, later)});
    CHECK_FALSE(r.met());
    REQUIRE(r.rejected.size() == 1);
    CHECK_MESSAGE(r.rejected[0].reason.find("initiator") != std::string::npos, r.rejected[0].reason);
    auto twice = guards::count_approvals(question(), {approval(1, "Bob@example.com", digest, target, later),
                                                      approval(2, "bob@example.com", digest, target, later)});
    CHECK_FALSE(twice.met());
    REQUIRE(twice.rejected.size() == 1);
    CHECK_MESSAGE(twice.rejected[0].reason.find("same principal as approval #1") != std::string::npos, twice.rejected[0].reason);
    CHECK(guards::same_principal("ALICE@example.com", "alice@EXAMPLE.com"));
    CHECK_FALSE(guards::same_principal("alice", "alice2"));
  }
  TEST_CASE("the revocation document renders and parses back") {
    guards::RevocationDocument d{"0042-x", "123/app", "bob@example.com", 7, "ab12", at("2026-11-21T12:00:00Z")};
    CHECK(guards::render(d) == "phasegate-revocation-v1\nplan: 0042-x\ntarget: 123/app\nprincipal: bob@example.com\napproval: 7\n"
                               "approval-signature: sha256:ab12\nrevoked: 2026-11-21T12:00:00Z\n");
    auto back = guards::parse_revocation(guards::render(d));
    REQUIRE(back);
    CHECK(back->approval == 7);
    CHECK(back->approval_signature == "ab12");
    CHECK_FALSE(guards::parse_revocation(guards::render(d) + "extra: 1\n"));
    CHECK_FALSE(guards::parse_revocation("phasegate-approval-v1\nplan: 0042-x\n"));
  }
  TEST_CASE("every sign of a revocation withdraws; the reason says how far it can be trusted") {
    auto one = approval(1, "alice", digest, target, later);
    auto reason = [&](ApprovalRecord a) {
      auto q = guards::count_approvals(question(), {one, a});
      CHECK_MESSAGE(!q.met(), "a revoked approval counted");
      return q.rejected.empty() ? std::string("<nothing rejected>") : q.rejected[0].reason;
    };
    auto bob = approval(2, "bob", digest, target, later);
    auto signed_revocation = [&](ApprovalRecord a, int64_t names, const std::string& by) {
      a.revocation = guards::render(guards::RevocationDocument{"0007-lvl", target, by, names, guards::approval_fingerprint(a.signature), now});
      a.revocation_signature = "sig";
      a.revocation_ok = true;
      a.revoked_at = now;
      return a;
    };
    auto genuine = signed_revocation(bob, 2, "Bob");
    CHECK_MESSAGE(reason(genuine).find("signed by Bob") != std::string::npos, reason(genuine));
    auto unverified = genuine;
    unverified.revocation_ok = false;
    unverified.revocation_problem = "Signature verification failed";
    CHECK_MESSAGE(reason(unverified).find("its revocation does not verify (Signature verification failed)") != std::string::npos, reason(unverified));
    auto moved = signed_revocation(bob, 9, "bob");  // a genuine revocation of another approval copied onto this row
    CHECK_MESSAGE(reason(moved).find("it names another approval (#9") != std::string::npos, reason(moved));
    auto cleared = genuine;
    cleared.revoked_at.reset();  // someone un-revoked the row but left the signed revocation
    CHECK_MESSAGE(reason(cleared).find("revoked_at was cleared by hand") != std::string::npos, reason(cleared));
    auto unsigned_row = bob;
    unsigned_row.revoked_at = now;  // revoked_at written by hand (or by a phasegate before v4)
    CHECK_MESSAGE(reason(unsigned_row).find("unsigned revocation") != std::string::npos, reason(unsigned_row));
    auto undone = bob;
    undone.revoked_event = 41;  // the row forgot, the event log did not
    CHECK_MESSAGE(reason(undone).find("revoked by event #41, but its approvals row no longer says so") != std::string::npos, reason(undone));
  }
  TEST_CASE("the initiator counts with allow_initiator") {
    auto q = question();
    q.allow_initiator = true;
    CHECK(guards::count_approvals(q, {approval(1, "alice", digest, target, later), approval(2, "carol@example.com", digest, target, later)}).met());
  }
  TEST_CASE("the executor refuses without the quorum (exit 75, approval.requested) and runs with it") {
    Rig rig;
    rig.project.guards.approvals = 2;
    rig.project.approvals = ApprovalSettings{};
    auto plan = two_steps();
    auto d = plan_digest(plan);
    rig.probe.records = {approval(1, "alice", d, rig.probe.target, later)};
    rig.clock.t = now;
    auto out = rig.run(plan);
    CHECK(out.exit == Exit::blocked);
    CHECK(out.blocked_by == "approvals");
    CHECK(out.message.find("1 of 2 approval(s) (alice)") != std::string::npos);
    CHECK(rig.db.runs_.empty());
    CHECK(count(rig.db.kinds(), "approval.requested") == 1);
    rig.probe.records.push_back(approval(2, "bob", d, rig.probe.target, later));
    auto ok = rig.run(plan);
    CHECK(ok.exit == Exit::ok);
    CHECK(rig.db.executed.size() == 2);
    // run.started names the approvals that counted: the postmortem's "who approved" (docs/report.md).
    auto started = std::find_if(rig.db.events_.begin(), rig.db.events_.end(), [](const Event& e) { return e.kind == "run.started"; });
    REQUIRE(started != rig.db.events_.end());
    CHECK_MESSAGE(started->payload == R"({"approved_by":[{"id":1,"principal":"alice"},{"id":2,"principal":"bob"}]})", started->payload);
  }
}

TEST_SUITE("guards::load and lock blockers") {
  TEST_CASE("high replication lag waits with growing backoff, records why once, then goes") {
    Rig rig;
    rig.project.guards.max_replication_lag = Millis(10'000);
    LoadFacts lagging;
    lagging.standbys = 1;
    lagging.replication_lag = Millis(45'000);
    LoadFacts fine;
    fine.standbys = 1;
    fine.replication_lag = Millis(200);
    rig.probe.loads = {lagging, lagging, lagging, fine};
    auto out = rig.run(two_steps());
    CHECK(out.exit == Exit::ok);
    CHECK(rig.clock.sleeps == std::vector<Millis>{Millis(1000), Millis(2000), Millis(4000)});
    auto kinds = rig.db.kinds();
    CHECK(count(kinds, "guard.wait") == 1);
    CHECK(count(kinds, "guard.go") == 1);
    auto wait = std::find_if(rig.db.events_.begin(), rig.db.events_.end(), [](const Event& e) { return e.kind == "guard.wait"; });
    CHECK(wait->payload.find("replication lag 45s > max_replication_lag 10s") != std::string::npos);
  }
  TEST_CASE("throttle_query and max_active_connections trip the load guard") {
    Rig rig;
    rig.project.guards.max_active_connections = 100;
    rig.project.guards.throttle_query = "SELECT busy FROM app_load";
    LoadFacts busy;
    busy.active_connections = 150;
    LoadFacts throttled;
    throttled.active_connections = 10;
    throttled.throttle = true;
    LoadFacts fine;
    fine.active_connections = 10;
    fine.throttle = false;
    rig.probe.loads = {busy, throttled, fine};
    RunOptions opt;
    auto out = rig.run(two_steps(), opt);
    CHECK(out.exit == Exit::ok);
    std::vector<std::string> guards_seen;
    for (const auto& e : rig.db.events_)
      if (e.kind == "guard.wait") guards_seen.push_back(e.payload);
    REQUIRE(guards_seen.size() == 2);
    CHECK(guards_seen[0].find("active_connections") != std::string::npos);
    CHECK(guards_seen[1].find("throttle_query") != std::string::npos);
  }
  TEST_CASE("load waits are bounded by --wait=DUR") {
    Rig rig;
    rig.project.guards.throttle_query = "SELECT true";
    LoadFacts throttled;
    throttled.throttle = true;
    rig.probe.loads = {throttled};
    RunOptions opt;
    opt.wait = Millis(10'000);
    auto out = rig.run(two_steps(), opt);
    CHECK(out.exit == Exit::blocked);
    CHECK(out.status == RunStatus::blocked);
    CHECK(rig.db.executed.empty());
  }
  TEST_CASE("a lock timeout names its blockers; exhausted retries exit 75 naming them") {
    Rig rig;
    rig.project.guards.lock_retries = 2;
    rig.db.lock_timeouts["ALTER TABLE books ADD COLUMN a int"] = 99;
    rig.db.blockers = {Blocker{4242, "report", "psql", "idle in transaction", "SELECT count(*) FROM books", 312.5}};
    auto out = rig.run(two_steps());
    CHECK(out.exit == Exit::blocked);
    CHECK(out.blocked_by == "lock");
    CHECK(out.message.find("blocked by pid 4242 (user report, application 'psql', idle in transaction, transaction open 312.5s)") !=
          std::string::npos);
    CHECK(out.message.find("cancel_blockers = true") != std::string::npos);
    auto retry = std::find_if(rig.db.events_.begin(), rig.db.events_.end(), [](const Event& e) { return e.kind == "step.retrying"; });
    REQUIRE(retry != rig.db.events_.end());
    CHECK(retry->payload.find("\"pid\":4242") != std::string::npos);
    CHECK(rig.db.cancelled.empty());
  }
  TEST_CASE("cancel_blockers cancels them once after the last retry, then applies") {
    Rig rig;
    rig.project.guards.lock_retries = 2;
    rig.project.guards.cancel_blockers = true;
    rig.db.lock_timeouts["ALTER TABLE books ADD COLUMN a int"] = 99;
    rig.db.blockers = {Blocker{4242, "report", "psql", "active", "SELECT pg_sleep(600)", 30}};
    auto out = rig.run(two_steps());
    CHECK(out.exit == Exit::ok);
    CHECK(rig.db.cancelled == std::vector<int>{4242});
    SUBCASE("and stops with 75 when cancelling did not free the lock") {
      Rig stuck;
      stuck.project.guards.lock_retries = 1;
      stuck.project.guards.cancel_blockers = true;
      stuck.db.cancel_frees_locks = false;
      stuck.db.lock_timeouts["ALTER TABLE books ADD COLUMN a int"] = 99;
      stuck.db.blockers = rig.db.blockers;
      auto o = stuck.run(two_steps());
      CHECK(o.exit == Exit::blocked);
      CHECK(stuck.db.cancelled.size() == 1);
      CHECK(stuck.db.executed.empty());
    }
  }
}
