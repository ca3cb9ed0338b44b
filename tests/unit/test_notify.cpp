// Notifications (docs/notify.md): routing globs, bodies, signatures, the retry policy and the dispatcher over a
// fake outbox and a sender that fails on demand.
#include <doctest/doctest.h>

#include <deque>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>

#include "fakes.hpp"
#include "phasegate/notify.hpp"
#include "phasegate/secrets.hpp"

using namespace phasegate;
using nlohmann::json;

namespace {
notify::Delivery sample(const std::string& kind = "run.failed") {
  notify::Delivery d;
  d.event_id = 42;
  d.sink = "slack";
  d.kind = kind;
  d.at = "2026-12-02T05:00:00.000Z";
  d.run_id = 7;
  d.plan_id = "0042-reading-level";
  d.phase = "expand";
  d.step = "add <col> & index";
  d.principal = "alice";
  d.os_user = "deploy";
  d.host = "ci-1";
  d.payload = R"({"error":"lock timeout on books"})";
  d.hash = std::string(64, 'a');
  return d;
}

// An outbox in memory whose every call can be made to fail (like leveldb's ErrorEnv).
class FakeOutbox final : public notify::Outbox {
 public:
  std::deque<notify::Delivery> due;
  std::vector<notify::Delivery> sent, retried, given_up;
  std::vector<Millis> retry_after;
  std::vector<Event> events;
  bool fail_claim = false, fail_mark = false;
  Result<std::vector<notify::Delivery>> claim(int limit, Millis) override {
    if (fail_claim) return fail(Exit::unavailable, "claim: server closed the connection");
    std::vector<notify::Delivery> out;
    while (!due.empty() && static_cast<int>(out.size()) < limit) {
      out.push_back(due.front());
      due.pop_front();
    }
    return out;
  }
  Result<void> delivered(const notify::Delivery& d) override {
    if (fail_mark) return fail(Exit::unavailable, "mark: server closed the connection");
    sent.push_back(d);
    return {};
  }
  Result<void> retry(const notify::Delivery& d, Millis after, const std::string&) override {
    retried.push_back(d);
    retry_after.push_back(after);
    return {};
  }
  Result<void> give_up(const notify::Delivery& d, const std::string&, const Event& failed) override {
    given_up.push_back(d);
    events.push_back(failed);
    return {};
  }
  Result<long long> pending() override { return static_cast<long long>(due.size()); }
};

class ScriptedSender final : public notify::Sender {
 public:
  std::deque<notify::Outcome> outcomes;  // then: delivered
  std::vector<std::string> seen;
  notify::Outcome send(const notify::Delivery& d) override {
    seen.push_back(d.sink + ":" + std::to_string(d.event_id));
    if (outcomes.empty()) return notify::Outcome{true, false, ""};
    auto o = outcomes.front();
    outcomes.pop_front();
    return o;
  }
};
}  // namespace

TEST_SUITE("notify") {
  TEST_CASE("globs over event kinds") {
    CHECK(notify::glob_match("run.*", "run.failed"));
    CHECK(notify::glob_match("*", "backfill.progress"));
    CHECK(notify::glob_match("*.failed", "rollback.failed"));
    CHECK(notify::glob_match("run.failed", "run.failed"));
    CHECK_FALSE(notify::glob_match("run.*", "rollback.started"));
    CHECK_FALSE(notify::glob_match("run.failed", "run.failed.x"));
    CHECK_FALSE(notify::glob_match("run", "run.failed"));
    CHECK(notify::glob_match("r*n.*ed", "run.failed"));
    CHECK(notify::glob_problem("run.*").empty());
    auto why = notify::glob_problem("run.faild");
    CHECK(why.find("matches no event kind") != std::string::npos);
    CHECK(why.find("did you mean \"run.failed\"") != std::string::npos);
  }

  TEST_CASE("every event kind the sources record can be routed") {
    // The list in notify.cpp is what `events` globs are checked against: a kind recorded somewhere but missing
    // there could never be subscribed to.
    std::set<std::string> known(notify::event_kinds().begin(), notify::event_kinds().end());
    const std::filesystem::path src = std::filesystem::path(PHASEGATE_TEST_DATA) / ".." / ".." / "src";
    const std::regex kind_re(R"re("((run|phase|step|guard|approval|service|smoke|rollback|backfill|status|notify)\.[a-z_]+)")re");
    int found = 0;
    for (const auto& f : std::filesystem::recursive_directory_iterator(src)) {
      if (f.path().extension() != ".cpp") continue;
      std::ifstream in(f.path());
      std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      for (std::sregex_iterator it(text.begin(), text.end(), kind_re), end; it != end; ++it) {
        ++found;
        INFO(f.path().string(), ": ", (*it)[1].str());
        CHECK(known.contains((*it)[1].str()));
      }
    }
    CHECK(found > 30);  // the scan itself works
    // and docs/notify.md lists every kind
    std::ifstream doc(std::filesystem::path(PHASEGATE_TEST_DATA) / ".." / ".." / "docs" / "notify.md");
    std::string text((std::istreambuf_iterator<char>(doc)), std::istreambuf_iterator<char>());
    REQUIRE(!text.empty());
    for (const auto& k : known) CHECK_MESSAGE(text.find("`" + k + "`") != std::string::npos, k);
  }

  TEST_CASE("routing: a notify.failed event never goes back to the sink that failed") {
    std::vector<notify::Route> routes = {{"slack", {"run.*", "notify.failed"}}, {"pager", {"*.failed"}}};
    CHECK(notify::sinks_for(routes, "run.failed") == std::vector<std::string>{"slack", "pager"});
    CHECK(notify::sinks_for(routes, "run.completed") == std::vector<std::string>{"slack"});
    CHECK(notify::sinks_for(routes, "step.started").empty());
    CHECK(notify::sinks_for(routes, "notify.failed", "slack") == std::vector<std::string>{"pager"});
    CHECK(notify::sinks_for(routes, "notify.failed", "pager") == std::vector<std::string>{"slack"});
  }

  TEST_CASE("the Slack body: text and blocks naming plan, run, phase, step, who, what happened and what to do") {
    auto d = sample();
    auto j = json::parse(notify::slack_body(d, "bookbot"));
    REQUIRE(j["text"].is_string());
    CHECK(j["text"].get<std::string>().find("run.failed") != std::string::npos);
    CHECK(j["text"].get<std::string>().find("lock timeout on books") != std::string::npos);
    std::string all = j["blocks"].dump();
    for (const char* want : {"0042-reading-level", "expand", "alice (deploy@ci-1)", "What happened", "What to do", "phasegate log 7",
                             "add &lt;col&gt; &amp; index", "bookbot"})
      CHECK_MESSAGE(all.find(want) != std::string::npos, want);
    CHECK(all.find("add <col>") == std::string::npos);  // mrkdwn control characters escaped
    CHECK(j["blocks"][0]["type"] == "header");
  }

  TEST_CASE("the JSON body carries every field of the event") {
    auto j = json::parse(notify::json_body(sample(), "bookbot"));
    CHECK(j["id"] == 42);
    CHECK(j["kind"] == "run.failed");
    CHECK(j["run_id"] == 7);
    CHECK(j["plan_id"] == "0042-reading-level");
    CHECK(j["phase"] == "expand");
    CHECK(j["actor"]["principal"] == "alice");
    CHECK(j["payload"]["error"] == "lock timeout on books");
    CHECK(j["hash"] == std::string(64, 'a'));
    CHECK(j["project"] == "bookbot");
  }

  TEST_CASE("secrets in an event never reach a body") {
    secrets::remember("hunter2-webhook-token");
    auto d = sample();
    d.payload = R"({"error":"psql: postgresql://app:hunter2-webhook-token@db/x refused"})";
    CHECK(notify::slack_body(d, "p").find("hunter2") == std::string::npos);
    CHECK(notify::json_body(d, "p").find("hunter2") == std::string::npos);
    secrets::forget_all();
  }

  TEST_CASE("HMAC-SHA256 (RFC 4231 test case 2) and the idempotency key") {
    CHECK(notify::hmac_sha256_hex("Jefe", "what do ya want for nothing?") ==
          "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    CHECK(notify::idempotency_key(sample()) == "42.aaaaaaaaaaaaaaaa");
  }

  TEST_CASE("backoff: 1 s, 2 s, 4 s, then 5 s") {
    CHECK(notify::retry_delay(1) == Millis(1000));
    CHECK(notify::retry_delay(2) == Millis(2000));
    CHECK(notify::retry_delay(3) == Millis(4000));
    CHECK(notify::retry_delay(4) == Millis(5000));
    CHECK(notify::retry_delay(30) == Millis(5000));
  }

  TEST_CASE("dispatch: delivered, retried after a 5xx, given up after the last try or at once when permanent") {
    FakeOutbox box;
    ScriptedSender sender;
    test::FakeClock clock;
    std::map<std::string, notify::SinkSettings> sinks = {{"slack", {3, Millis(1000)}}, {"pager", {3, Millis(1000)}}};
    auto a = sample(), b = sample(), c = sample(), d = sample();
    b.event_id = 43;
    c.event_id = 44;
    c.attempts = 2;  // its third try
    d.event_id = 45;
    d.sink = "pager";
    box.due = {a, b, c, d};
    sender.outcomes = {{true, false, ""}, {false, false, "webhook answered HTTP 500"}, {false, false, "no response"}, {false, true, "HTTP 404"}};
    auto n = notify::dispatch_due(box, sender, sinks, clock);
    REQUIRE(n);
    CHECK(*n == 4);
    REQUIRE(box.sent.size() == 1);
    CHECK(box.sent[0].event_id == 42);
    REQUIRE(box.retried.size() == 1);
    CHECK(box.retried[0].event_id == 43);
    CHECK(box.retry_after[0] == Millis(1000));
    REQUIRE(box.given_up.size() == 2);
    CHECK(box.given_up[0].event_id == 44);  // tries exhausted
    CHECK(box.given_up[1].event_id == 45);  // a 404 is not worth retrying
    REQUIRE(box.events.size() == 2);
    auto p = json::parse(box.events[0].payload);
    CHECK(box.events[0].kind == "notify.failed");
    CHECK(box.events[0].run_id == 7);
    CHECK(p["sink"] == "slack");
    CHECK(p["event_id"] == 44);
    CHECK(p["attempts"] == 3);
    CHECK(p["error"] == "no response");
    CHECK(json::parse(box.events[1].payload)["attempts"] == 1);
  }

  TEST_CASE("dispatch: a sink removed from the config is given up; outbox errors come back, nothing is lost") {
    FakeOutbox box;
    ScriptedSender sender;
    test::FakeClock clock;
    auto gone = sample();
    gone.sink = "old";
    box.due = {gone};
    auto n = notify::dispatch_due(box, sender, {{"slack", {}}}, clock);
    REQUIRE(n);
    CHECK(sender.seen.empty());
    REQUIRE(box.given_up.size() == 1);
    CHECK(json::parse(box.events[0].payload)["error"] == "sink removed");

    FakeOutbox broken;
    broken.fail_claim = true;
    auto r = notify::dispatch_due(broken, sender, {{"slack", {}}}, clock);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == Exit::unavailable);

    FakeOutbox unmarkable;
    unmarkable.fail_mark = true;
    unmarkable.due = {sample()};
    auto m = notify::dispatch_due(unmarkable, sender, {{"slack", {}}}, clock);
    REQUIRE_FALSE(m);  // sent but not marked: its lease runs out and it is sent again (receivers dedupe by key)
    CHECK(unmarkable.sent.empty());
  }
}
