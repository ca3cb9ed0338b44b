// The postmortem model and its renderings (src/report, docs/report.md) over hand-written event lists: a run that
// completed, one that failed and rolled back, one aborted, one whose rollback was incomplete, one resumed after a
// crash, guard waits, a tampered log — and that no rendering carries a credential or unescaped markup.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "phasegate/report.hpp"
#include "phasegate/secrets.hpp"

using namespace phasegate;
using json = nlohmann::json;

namespace {

struct Story {
  report::Input in;
  int64_t next = 100;
  Story(RunStatus status, const std::string& plan = "0042-reading-level") {
    in.run.run.id = 7;
    in.run.run.plan_id = plan;
    in.run.run.digest = "ab12cd34ef56ab12cd34ef56ab12cd34ef56ab12cd34ef56ab12cd34ef56ab12";
    in.run.run.status = status;
    in.run.run.initiator = "carol@example.com";
    in.run.os_user = "carol";
    in.run.host = "laptop";
    in.run.created_at = "2026-11-22T01:00:00Z";
    in.description = "Add books.reading_level";
  }
  // One event at 01:MM:SS.mmm (seconds since 01:00:00 as a double).
  Story& ev(double at_s, const std::string& kind, const std::string& phase, const std::string& step, json payload = json::object()) {
    EventRow e;
    e.id = next++;
    long long ms = static_cast<long long>(at_s * 1000 + 0.5);
    char at[40];
    std::snprintf(at, sizeof at, "2026-11-22T%02lld:%02lld:%02lld.%03lldZ", 1 + ms / 3'600'000, ms / 60'000 % 60, ms / 1000 % 60, ms % 1000);
    e.at = at;
    e.run_id = 7;
    e.plan_id = in.run.run.plan_id;
    e.phase = phase;
    e.step = step;
    e.kind = kind;
    e.principal = "carol@example.com";
    e.os_user = "carol";
    e.host = "laptop";
    e.payload = payload.dump();
    in.events.push_back(e);
    return *this;
  }
  Story& record(const std::string& step, const std::string& phase, int ordinal, StepStatus st) {
    StepRecord r;
    r.plan_id = in.run.run.plan_id;
    r.step = step;
    r.phase = phase;
    r.ordinal = ordinal;
    r.status = st;
    in.steps.push_back(r);
    return *this;
  }
  report::Postmortem build() const { return report::build(in); }
};

const report::StepReport* step_of(const report::Postmortem& pm, const std::string& name) {
  for (const auto& s : pm.steps)
    if (s.name == name) return &s;
  return nullptr;
}

bool has(const std::string& hay, const std::string& needle) { return hay.find(needle) != std::string::npos; }

// Every rendering of pm, each checked for the things every rendering must hold.
std::vector<std::string> renderings(const report::Postmortem& pm) {
  std::vector<std::string> all{report::render_markdown(pm), report::render_html(pm), report::render_json(pm)};
  const json doc = json::parse(all[2]);  // throws (fails the test) when it is not JSON
  CHECK(doc["$schema"] == report::kSchemaId);
  CHECK(doc["run"]["id"] == pm.run_id);
  CHECK_MESSAGE(!has(all[1], "<script"), "the HTML has a script element");
  CHECK(has(all[1], "Content-Security-Policy"));
  return all;
}

json approval_payload() { return {{"approved_by", json::array({{{"id", 1}, {"principal", "alice"}}, {{"id", 2}, {"principal", "bob"}}})}}; }

}  // namespace

TEST_SUITE("report::model") {
  TEST_CASE("a run that completed: steps, lock retries and who blocked, backfill rate, restart with pid and health time, smoke") {
    Story s(RunStatus::completed);
    s.record("add reading_level", "expand", 1, StepStatus::completed).record("backfill reading_level", "migrate", 2, StepStatus::completed);
    s.ev(0, "run.created", "", "", {{"digest", s.in.run.run.digest}, {"release_commit", "0123456789abcdef"}})
        .ev(0.010, "run.started", "", "", approval_payload())
        .ev(0.020, "phase.started", "expand", "", {{"steps", 1}})
        .ev(0.030, "step.started", "expand", "add reading_level", {{"attempt", 1}})
        .ev(1.030, "step.retrying", "expand", "add reading_level",
            {{"attempt", 1}, {"wait_ms", 180}, {"error", "canceling statement due to lock timeout"},
             {"blockers", json::array({{{"pid", 4242}, {"user", "app"}, {"application", "psql"}, {"state", "idle in transaction"},
                                        {"query", "UPDATE books SET title = title"}, {"transaction_age_s", 12.5}}})}})
        .ev(1.530, "step.completed", "expand", "add reading_level", {{"duration_ms", 1500}, {"transaction", true}})
        .ev(1.600, "service.restarting", "expand", "", {{"service", "api"}, {"kind", "command"}, {"argv", {"hooks/restart.sh"}}})
        .ev(2.600, "service.healthy", "expand", "",
            {{"service", "api"}, {"checks", 3}, {"elapsed_ms", 1000},
             {"process", {{"pid", 31337}, {"exit", 0}, {"elapsed_ms", 600}, {"stdout", "stopping\nrestarted app/api.py: pid 41 -> 57\n"}}}})
        .ev(3.000, "smoke.passed", "expand", "", {{"smoke", "save_book"}, {"passes", 3}, {"failures", 0}, {"failure_limit", 0}})
        .ev(3.010, "phase.completed", "expand", "")
        .ev(3.020, "phase.started", "migrate", "", {{"steps", 1}})
        .ev(3.030, "step.started", "migrate", "backfill reading_level", {{"attempt", 1}})
        .ev(13.030, "step.completed", "migrate", "backfill reading_level",
            {{"duration_ms", 10000}, {"backfill", {{"scanned", 50000}, {"updated", 49000}, {"batches", 12}}}})
        .ev(13.040, "phase.completed", "migrate", "")
        .ev(13.050, "run.completed", "", "", {{"steps_applied", 2}});
    ApprovalRecord a;
    a.id = 1;
    a.plan_id = s.in.run.run.plan_id;
    a.principal = "alice";
    a.document = "phasegate-approval-v1\nplan: 0042-reading-level\ndigest: sha256:" + s.in.run.run.digest +
                 "\ntarget: 1/app\nprincipal: alice\nexpires: 2026-11-22T12:00:00Z\n";
    a.comment = "looked at the lock plan";
    a.created_at = TimePoint(std::chrono::seconds(1795300000));
    s.in.approvals = {a};
    auto pm = s.build();
    CHECK(pm.title == "Run 7 of plan 0042-reading-level: completed");
    CHECK(pm.started_by == "carol@example.com (carol@laptop)");
    CHECK(!pm.failure);
    CHECK(!pm.rollback);
    CHECK(pm.open_items.empty());
    REQUIRE(pm.approvals.size() == 2);
    CHECK(pm.approvals_known);
    CHECK(pm.approvals[0].principal == "alice");
    CHECK(pm.approvals[0].counted);
    CHECK(pm.approvals[0].comment == "looked at the lock plan");
    CHECK(pm.times.run_ms == 13050);
    CHECK(!pm.times.detect_ms);
    auto* add = step_of(pm, "add reading_level");
    REQUIRE(add);
    CHECK(add->outcome == "completed");
    CHECK(add->duration_ms == 1500);
    REQUIRE(add->lock_retries.size() == 1);
    CHECK(add->lock_retries[0].blockers.at(0).pid == 4242);
    CHECK(add->lock_retries[0].wait_ms == 180);
    auto* fill = step_of(pm, "backfill reading_level");
    REQUIRE(fill);
    REQUIRE(fill->backfill);
    CHECK(fill->backfill->updated == 49000);
    CHECK(fill->backfill->rows_per_s == doctest::Approx(5000.0));
    REQUIRE(pm.restarts.size() == 1);
    const auto& r = pm.restarts[0];
    CHECK(r.healthy);
    CHECK(r.pid_before == 41);
    CHECK(r.pid_after == 57);
    CHECK(r.restart_ms == 600);
    CHECK(r.health_ms == 400);
    CHECK(r.checks == 3);
    CHECK(r.said == "restarted app/api.py: pid 41 -> 57");
    REQUIRE(pm.smoke.size() == 1);
    CHECK(pm.smoke[0].passed);
    CHECK(pm.timeline.size() == s.in.events.size());
    CHECK(pm.timeline[4].tone == report::Tone::warn);
    CHECK(pm.timeline[4].offset_ms == 1030);
    auto out = renderings(pm);
    for (const auto& text : out) {
      CHECK(has(text, "add reading"));
      CHECK(has(text, "4242"));
      CHECK(has(text, "pid 41 -"));
    }
    CHECK(has(out[0], "| Approved by | alice (approval #1"));
    CHECK(has(out[0], "| Run duration | 13.1 s |"));
    CHECK_MESSAGE(!has(out[0], "Time to detect"), "nothing failed: no time to detect");
    CHECK(has(out[0], "## What we expected"));
    CHECK(has(out[0], "## What we will change"));
    CHECK(has(out[1], "id=\"what_we_will_change\""));
    auto doc = json::parse(out[2]);
    CHECK(doc["failure"].is_null());
    CHECK(doc["what_we_expected"] == json::array());
    CHECK(doc["steps"][1]["backfill"]["updated"] == 49000);
    CHECK(doc["times"]["run_ms"] == 13050);
  }

  TEST_CASE("a run that failed on a real error and rolled back: the SQLSTATE, the rollback step by step, the times") {
    Story s(RunStatus::rolled_back);
    s.in.run.run.cause = "failed";
    s.record("add reading_level", "expand", 1, StepStatus::pending).record("unique isbn", "expand", 2, StepStatus::pending);
    s.ev(0, "run.created", "", "", {{"digest", "x"}})
        .ev(0.01, "run.started", "", "")
        .ev(0.02, "phase.started", "expand", "", {{"steps", 2}})
        .ev(0.03, "step.started", "expand", "add reading_level")
        .ev(0.05, "step.completed", "expand", "add reading_level", {{"duration_ms", 20}})
        .ev(0.06, "step.started", "expand", "unique isbn")
        .ev(2.56, "step.failed", "expand", "unique isbn",
            {{"reason", "sql"}, {"error", "could not create unique index \"books_isbn\""}, {"sqlstate", "23505"}})
        .ev(2.57, "phase.failed", "expand", "unique isbn", {{"error", "could not create unique index"}})
        .ev(2.58, "run.failed", "expand", "", {{"error", "plan 0042: could not create unique index \"books_isbn\""}, {"sqlstate", "23505"}, {"rollback", true}})
        .ev(2.59, "rollback.started", "expand", "", {{"reason", "could not create unique index"}, {"steps", {"add reading_level"}}, {"master", "git"}, {"services", {"api"}}})
        .ev(2.70, "rollback.step", "expand", "add reading_level", {{"action", "down"}, {"ok", true}, {"duration_ms", 90}})
        .ev(3.50, "rollback.step", "expand", "", {{"action", "master"}, {"ok", true}, {"kind", "git"}, {"release_commit", "abc"}, {"result", "reverted"},
                                                 {"revert_commit", "fedcba9876543210"}})
        .ev(3.60, "service.restarting", "expand", "", {{"service", "api"}})
        .ev(4.60, "service.healthy", "expand", "", {{"service", "api"}, {"elapsed_ms", 1000}, {"checks", 1}, {"process", {{"elapsed_ms", 700}, {"pid", 99}}}})
        .ev(4.61, "rollback.step", "expand", "", {{"action", "restart"}, {"service", "api"}, {"ok", true}})
        .ev(4.62, "rollback.completed", "expand", "",
            {{"undone", {"undid step \"add reading_level\""}}, {"notes", json::array()}, {"left", json::array()}, {"database_ms", 120},
             {"master_ms", 920}, {"services_ms", 2030}, {"total_ms", 2040}});
    auto pm = s.build();
    CHECK(pm.title == "Run 7 of plan 0042-reading-level: failed and rolled back");
    REQUIRE(pm.failure);
    CHECK(pm.failure->kind == "step");
    CHECK(pm.failure->step == "unique isbn");
    CHECK(pm.failure->sqlstate == "23505");
    CHECK(pm.failure->message == "plan 0042: could not create unique index \"books_isbn\"");
    CHECK(pm.times.detect_ms == 2500);  // step.started -> step.failed
    CHECK(pm.times.undo_ms == 120);
    CHECK(pm.times.revert_ms == 920);
    CHECK(pm.times.restart_ms == 2030);
    CHECK(pm.times.recover_ms == 2040);
    REQUIRE(pm.rollback);
    CHECK(pm.rollback->outcome == "completed");
    REQUIRE(pm.rollback->actions.size() == 3);
    CHECK(pm.rollback->actions[0].action == "down");
    CHECK(pm.rollback->actions[1].revert_commit == "fedcba9876543210");
    CHECK(pm.rollback->actions[2].target == "api");
    REQUIRE(pm.restarts.size() == 1);
    CHECK(pm.restarts[0].during_rollback);
    CHECK(step_of(pm, "add reading_level")->undo == "undid step \"add reading_level\" in 90 ms");
    CHECK(step_of(pm, "unique isbn")->outcome == "failed");
    REQUIRE(pm.open_items.size() == 1);
    CHECK(has(pm.open_items[0], "pending again"));
    auto out = renderings(pm);
    CHECK(has(out[0], "SQLSTATE 23505"));
    CHECK(has(out[0], "revert commit fedcba987654"));
    CHECK(has(out[1], "SQLSTATE 23505"));
    auto doc = json::parse(out[2]);
    CHECK(doc["failure"]["sqlstate"] == "23505");
    CHECK(doc["times"]["detect_ms"] == 2500);
    CHECK(doc["rollback"]["actions"].size() == 3);
  }

  TEST_CASE("an aborted run: who aborted, time to act on it") {
    Story s(RunStatus::rolled_back);
    s.in.run.run.cause = "aborted";
    s.ev(0, "run.created", "", "")
        .ev(0.01, "run.started", "", "")
        .ev(0.02, "step.started", "migrate", "backfill")
        .ev(5.0, "run.abort_requested", "migrate", "", {{"by", "dave (dave@ops)"}})
        .ev(5.4, "run.aborted", "migrate", "", {{"error", "plan p: run 7 aborted by dave (dave@ops)"}, {"rollback", true}})
        .ev(5.5, "rollback.started", "migrate", "", {{"steps", json::array()}})
        .ev(5.6, "rollback.completed", "migrate", "", {{"database_ms", nullptr}, {"total_ms", 200}});
    auto pm = s.build();
    CHECK(pm.title == "Run 7 of plan 0042-reading-level: aborted and rolled back");
    REQUIRE(pm.failure);
    CHECK(pm.failure->kind == "abort");
    CHECK(pm.failure->aborted_by == "dave (dave@ops)");
    CHECK(pm.times.detect_ms == 400);
    CHECK(!pm.times.undo_ms);
    CHECK(pm.times.recover_ms == 200);
    CHECK(has(pm.outcome, "Aborted by dave"));
    auto out = renderings(pm);
    CHECK(has(out[0], "aborted by dave"));
  }

  TEST_CASE("a rollback left incomplete: what is left, the mark instruction, the steps that may be part-applied") {
    Story s(RunStatus::rollback_incomplete);
    s.record("add col", "expand", 1, StepStatus::completed).record("make idx", "expand", 2, StepStatus::failed);
    s.ev(0, "run.created", "", "")
        .ev(0.01, "run.started", "", "")
        .ev(0.02, "step.started", "expand", "add col")
        .ev(0.03, "step.completed", "expand", "add col", {{"duration_ms", 10}})
        .ev(0.04, "step.started", "expand", "make idx")
        .ev(0.50, "step.failed", "expand", "make idx", {{"error", "deadlock detected"}, {"sqlstate", "40P01"}})
        .ev(0.51, "run.failed", "expand", "", {{"error", "deadlock detected"}, {"sqlstate", "40P01"}})
        .ev(0.52, "rollback.started", "expand", "")
        .ev(0.60, "rollback.step", "expand", "add col", {{"action", "down"}, {"ok", false}, {"skipped", true}, {"reason", "no down"}})
        .ev(0.61, "rollback.step", "expand", "", {{"action", "master"}, {"ok", false}, {"skipped", true}, {"reason", "no release commit known"}})
        .ev(0.62, "rollback.failed", "expand", "",
            {{"left", {"step \"add col\" has no down and stays completed; undo it by hand"}}, {"database_ms", nullptr}, {"total_ms", 110}});
    auto pm = s.build();
    CHECK(pm.title == "Run 7 of plan 0042-reading-level: failed; rollback INCOMPLETE");
    REQUIRE(pm.rollback);
    CHECK(pm.rollback->outcome == "incomplete");
    CHECK(pm.failure->sqlstate == "40P01");
    std::string items;
    for (const auto& i : pm.open_items) items += i + "\n";
    CHECK_MESSAGE(has(items, "has no down and stays completed"), items);
    CHECK_MESSAGE(has(items, "phasegate mark 0042-reading-level STEP --pending --yes"), items);
    CHECK_MESSAGE(has(items, "master was not reverted"), items);
    CHECK_MESSAGE(has(items, "step \"make idx\" is failed"), items);
    // Not the plan's latest run: its step records are some later run's story, not this one's.
    s.in.latest = false;
    auto older = s.build();
    for (const auto& i : older.open_items) CHECK_MESSAGE(!has(i, "make idx"), i);
    renderings(pm);
  }

  TEST_CASE("a run resumed after a crash: the step that was cut short is attempted twice, the interruption is told") {
    Story s(RunStatus::completed);
    s.ev(0, "run.created", "", "")
        .ev(0.01, "run.started", "", "")
        .ev(0.02, "step.started", "expand", "idx", {{"attempt", 1}})
        .ev(60.0, "run.resumed", "", "")
        .ev(60.1, "step.started", "expand", "idx", {{"attempt", 2}})
        .ev(61.0, "step.completed", "expand", "idx", {{"duration_ms", 900}})
        .ev(61.1, "run.completed", "", "", {{"steps_applied", 1}});
    auto pm = s.build();
    auto* idx = step_of(pm, "idx");
    REQUIRE(idx);
    CHECK(idx->attempts == 2);
    CHECK(idx->outcome == "completed");
    REQUIRE(pm.interruptions.size() == 1);
    CHECK_MESSAGE(has(pm.interruptions[0], "step \"idx\" had started and not ended"), pm.interruptions[0]);
    CHECK(!pm.failure);
    auto out = renderings(pm);
    CHECK(has(out[0], "## Interruptions"));
  }

  TEST_CASE("a run that waited for its next phase on purpose: resumed, not interrupted") {
    Story s(RunStatus::completed);
    s.ev(0, "run.created", "", "")
        .ev(0.01, "run.started", "", "")
        .ev(0.02, "run.blocked", "expand", "", {{"reason", "phase expand finished; continue with phasegate run p"}})
        .ev(90, "run.resumed", "migrate", "")
        .ev(91, "run.completed", "", "");
    auto pm = s.build();
    CHECK(pm.interruptions.empty());
    CHECK(pm.timeline[2].text == "run waits: phase expand finished; continue with phasegate run p");
    CHECK(pm.timeline[2].tone == report::Tone::info);
  }

  TEST_CASE("a rollback cut short: its times come from the actions that happened") {
    Story s(RunStatus::rolling_back);
    s.ev(0, "run.created", "", "")
        .ev(0.01, "step.started", "expand", "a")
        .ev(1.00, "step.failed", "expand", "a", {{"error", "boom"}, {"sqlstate", "XX000"}})
        .ev(1.01, "run.failed", "expand", "", {{"error", "boom"}})
        .ev(1.02, "rollback.started", "expand", "")
        .ev(1.50, "rollback.step", "expand", "b", {{"action", "down"}, {"ok", true}});
    auto pm = s.build();
    CHECK(pm.rollback->outcome == "cut short");
    CHECK(pm.times.undo_ms == 500);
    CHECK(!pm.times.recover_ms);
    CHECK(has(pm.open_items.at(0), "the rollback was cut short"));
  }

  TEST_CASE("guard waits: one that went on, one that stopped the run") {
    Story s(RunStatus::blocked);
    s.ev(0, "run.created", "", "")
        .ev(0.01, "guard.wait", "", "", {{"guard", "window"}, {"reason", "window offpeak is closed"}, {"waiting", true}})
        .ev(3600, "guard.go", "", "", {{"guard", "window"}, {"waited_ms", 3599990}})
        .ev(3600.1, "run.started", "", "")
        .ev(3600.2, "guard.wait", "expand", "", {{"guard", "replication_lag"}, {"reason", "lag 30s > 10s"}, {"waiting", true}})
        .ev(3700, "run.blocked", "expand", "", {{"guard", "replication_lag"}, {"error", "gave up after waiting 1m40s"}});
    auto pm = s.build();
    REQUIRE(pm.guard_waits.size() == 2);
    CHECK(pm.guard_waits[0].outcome == "went on");
    CHECK(pm.guard_waits[0].waited_ms == 3599990);
    CHECK(pm.guard_waits[1].outcome == "run stopped (exit 75)");
    CHECK(pm.title == "Run 7 of plan 0042-reading-level: stopped by a guard, resumable");
    CHECK(has(pm.open_items.at(0), "phasegate abort 7"));
    auto out = renderings(pm);
    CHECK(has(out[0], "## Guard waits"));
    CHECK(has(out[0], "1 h 00 min"));
  }

  TEST_CASE("a notification given up is left for a human") {
    Story s(RunStatus::rolled_back);
    s.ev(0, "run.created", "", "")
        .ev(1, "run.failed", "", "", {{"error", "boom"}})
        .ev(5, "notify.failed", "", "", {{"sink", "oncall"}, {"event_id", 101}, {"event_kind", "run.failed"}, {"attempts", 3}, {"error", "connection refused"}});
    auto pm = s.build();
    std::string items;
    for (const auto& i : pm.open_items) items += i + "\n";
    CHECK_MESSAGE(has(items, "the notification of run.failed to sink oncall was never delivered (connection refused)"), items);
    CHECK(pm.timeline.back().tone == report::Tone::warn);
  }

  TEST_CASE("a tampered event log is said first and fails the JSON's ok") {
    Story s(RunStatus::completed);
    s.ev(0, "run.created", "", "").ev(1, "run.completed", "", "");
    s.in.log_problems = {"event #101 (run.completed) does not verify"};
    auto pm = s.build();
    CHECK(!pm.log_verified);
    CHECK(has(pm.open_items.at(0), "altered outside phasegate"));
    auto doc = json::parse(report::render_json(pm));
    CHECK(doc["ok"] == false);
    CHECK(doc["exit"] == 5);
    CHECK(doc["event_log"]["problems"].size() == 1);
  }
}

TEST_SUITE("report::renderings") {
  TEST_CASE("no credential reaches any rendering: remembered passwords and conninfo passwords in errors, names, output") {
    secrets::forget_all();
    secrets::remember_conninfo("postgresql://app:Rem3mbered-Pw@db/app");
    Story s(RunStatus::rolled_back);
    s.in.run.run.error = "postgresql://app:Rem3mbered-Pw@db/app";
    s.ev(0, "run.created", "", "")
        .ev(0.1, "step.started", "expand", "step Rem3mbered-Pw")
        .ev(0.2, "step.failed", "expand", "step Rem3mbered-Pw",
            {{"error", "could not connect to postgresql://u:Unknown-Pw-77@h/db; password=KeyValuePw9 host=x"}, {"sqlstate", "08006"}})
        .ev(0.3, "run.failed", "expand", "", {{"error", "dbname='host=db password=QuotedPw4'"}})
        .ev(0.4, "service.healthy", "expand", "", {{"service", "api"}, {"process", {{"stdout", "DATABASE_URL=postgresql://app:Rem3mbered-Pw@db/app"}}}});
    s.in.events.back().principal = "Rem3mbered-Pw";
    auto pm = report::build(s.in);
    for (const auto& text : renderings(pm))
      for (const char* pw : {"Rem3mbered-Pw", "Unknown-Pw-77", "KeyValuePw9", "QuotedPw4"}) CHECK_MESSAGE(!has(text, pw), pw << " leaked into:\n" << text.substr(0, 400));
    secrets::forget_all();
  }

  TEST_CASE("markup in names and messages is escaped in HTML and shown as text in Markdown") {
    Story s(RunStatus::rolled_back);
    s.ev(0, "run.created", "", "")
        .ev(0.1, "step.started", "expand", "<script>alert(1)</script>")
        .ev(0.2, "step.failed", "expand", "<script>alert(1)</script>", {{"error", "a | b *c* [x](http://e) <img src=x onerror=alert(2)> reading_level _em_"}})
        .ev(0.3, "run.failed", "expand", "", {{"error", "bad \"quote\" & 'apostrophe'"}});
    auto pm = report::build(s.in);
    auto out = renderings(pm);
    CHECK(has(out[1], "&lt;script&gt;alert(1)&lt;/script&gt;"));
    CHECK(!has(out[1], "<img"));
    CHECK(has(out[1], "&quot;quote&quot; &amp; &#39;apostrophe&#39;"));
    CHECK(!has(out[0], "<script>"));
    CHECK(!has(out[0], "<img"));
    CHECK(has(out[0], "a \\| b \\*c\\* \\[x\\](http://e)"));
    CHECK(has(out[0], "reading_level \\_em\\_"));
  }

  TEST_CASE("durations for people") {
    CHECK(report::human_ms(850) == "850 ms");
    CHECK(report::human_ms(1200) == "1.2 s");
    CHECK(report::human_ms(185'000) == "3 min 05 s");
    CHECK(report::human_ms(7'800'000) == "2 h 10 min");
  }
}
