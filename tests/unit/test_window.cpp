// Off-peak windows across DST (SPEC §3.1). Expected instants are worked out by hand in the comments.
#include <doctest/doctest.h>

#include "phasegate/guards.hpp"

using namespace phasegate;
using namespace phasegate::guards;

namespace {
TimePoint at(const char* s) { return *parse_rfc3339(s); }
Window window(const char* tz, std::vector<int> days, std::optional<int> start, std::optional<int> end) {
  Window w;
  w.name = "w";
  w.timezone = tz;
  w.allow.push_back(WindowAllow{std::move(days), start, end});
  return w;
}
int hm(int h, int m) { return h * 60 + m; }
std::string s(const std::optional<TimePoint>& t) { return t ? rfc3339(*t) : "none"; }
constexpr int SUN = 0, MON = 1, SAT = 6;
}  // namespace

TEST_SUITE("guards::window") {
  TEST_CASE("America/New_York spring forward: a start inside the gap opens at the first valid instant") {
    // 2026-03-08 02:00 EST -> 03:00 EDT. 02:30 does not exist: the window opens at 03:00 EDT = 07:00Z.
    auto w = window("America/New_York", {SUN}, hm(2, 30), hm(4, 0));
    auto before = *evaluate(w, at("2026-03-08T06:30:00Z"));  // 01:30 EST
    CHECK_FALSE(before.open);
    CHECK(s(before.next_open) == "2026-03-08T07:00:00Z");
    auto inside = *evaluate(w, at("2026-03-08T07:10:00Z"));
    CHECK(inside.open);
    CHECK(s(inside.next_close) == "2026-03-08T08:00:00Z");  // 04:00 EDT
  }
  TEST_CASE("America/New_York fall back: the repeated hour neither closes nor reopens") {
    // 2026-11-01 02:00 EDT -> 01:00 EST. Window 00:30-01:30 closes at the first 01:30 (EDT = 05:30Z).
    auto w = window("America/New_York", {SUN}, hm(0, 30), hm(1, 30));
    auto open = *evaluate(w, at("2026-11-01T05:00:00Z"));  // 01:00 EDT
    CHECK(open.open);
    CHECK(s(open.next_close) == "2026-11-01T05:30:00Z");
    auto repeat = *evaluate(w, at("2026-11-01T06:15:00Z"));  // 01:15 EST, the second 01:15
    CHECK_FALSE(repeat.open);
    CHECK(s(repeat.next_open) == "2026-11-08T05:30:00Z");  // next Sunday 00:30 EST
  }
  TEST_CASE("Europe/Berlin: spring gap and autumn repeat, window crossing midnight") {
    // 2026-03-29 02:00 CET -> 03:00 CEST: a daily 02:15-05:00 window opens at 03:00 CEST = 01:00Z.
    auto daily = window("Europe/Berlin", {0, 1, 2, 3, 4, 5, 6}, hm(2, 15), hm(5, 0));
    auto gap = *evaluate(daily, at("2026-03-29T00:50:00Z"));
    CHECK_FALSE(gap.open);
    CHECK(s(gap.next_open) == "2026-03-29T01:00:00Z");
    // 2026-10-25 03:00 CEST -> 02:00 CET. Sat 22:00 -> Sun 02:30 closes at the first 02:30 (CEST = 00:30Z).
    auto night = window("Europe/Berlin", {SAT}, hm(22, 0), hm(2, 30));
    auto in = *evaluate(night, at("2026-10-24T21:00:00Z"));
    CHECK(in.open);
    CHECK(s(in.next_close) == "2026-10-25T00:30:00Z");
    CHECK_FALSE(evaluate(night, at("2026-10-25T01:15:00Z"))->open);  // 02:15 CET, the repeated hour
  }
  TEST_CASE("Australia/Sydney: DST starts and ends") {
    // 2026-10-04 02:00 AEST -> 03:00 AEDT: a window from 02:00 opens at the transition, 16:00Z on the 3rd.
    auto start = window("Australia/Sydney", {SUN}, hm(2, 0), hm(6, 0));
    auto before = *evaluate(start, at("2026-10-03T15:00:00Z"));
    CHECK(s(before.next_open) == "2026-10-03T16:00:00Z");
    CHECK(s(evaluate(start, at("2026-10-03T16:30:00Z"))->next_close) == "2026-10-03T19:00:00Z");  // 06:00 AEDT
    // 2026-04-05 03:00 AEDT -> 02:00 AEST: 01:00-02:30 closes at 02:30 AEDT = 15:30Z, not reopened at 02:30 AEST.
    auto end = window("Australia/Sydney", {SUN}, hm(1, 0), hm(2, 30));
    CHECK(s(evaluate(end, at("2026-04-04T14:30:00Z"))->next_close) == "2026-04-04T15:30:00Z");
    CHECK_FALSE(evaluate(end, at("2026-04-04T16:10:00Z"))->open);  // 02:10 AEST
  }
  TEST_CASE("Australia/Lord_Howe: the 30-minute shift") {
    // 2026-10-04 02:00 LHST(+10:30) -> 02:30 LHDT(+11): 02:10 does not exist; opens at 02:00 LHST = 15:30Z.
    auto w = window("Australia/Lord_Howe", {SUN}, hm(2, 10), hm(3, 0));
    auto before = *evaluate(w, at("2026-10-03T15:00:00Z"));
    CHECK_FALSE(before.open);
    CHECK(s(before.next_open) == "2026-10-03T15:30:00Z");
    CHECK(s(evaluate(w, at("2026-10-03T15:40:00Z"))->next_close) == "2026-10-03T16:00:00Z");  // 03:00 LHDT
    // 2026-04-05 02:00 LHDT -> 01:30 LHST: 01:00-01:45 closes at 01:45 LHDT = 14:45Z; the repeat stays closed.
    auto back = window("Australia/Lord_Howe", {SUN}, hm(1, 0), hm(1, 45));
    CHECK(s(evaluate(back, at("2026-04-04T14:10:00Z"))->next_close) == "2026-04-04T14:45:00Z");
    CHECK_FALSE(evaluate(back, at("2026-04-04T15:05:00Z"))->open);  // 01:35 LHST, second time
  }
  TEST_CASE("deny by dates beats allow; whole local days, both ends included") {
    auto w = window("Australia/Brisbane", {0, 1, 2, 3, 4, 5, 6}, std::nullopt, std::nullopt);
    w.deny.push_back(WindowDeny{"2026-12-24", "2026-12-27", std::nullopt, std::nullopt});
    auto xmas = *evaluate(w, at("2026-12-25T01:00:00Z"));
    CHECK_FALSE(xmas.open);
    CHECK(xmas.reason == "inside a deny range");
    CHECK(s(xmas.next_open) == "2026-12-27T14:00:00Z");  // Dec 28 00:00 AEST
    auto eve = *evaluate(w, at("2026-12-23T10:00:00Z"));  // Dec 23 20:00 AEST
    CHECK(eve.open);
    CHECK(s(eve.next_close) == "2026-12-23T14:00:00Z");  // Dec 24 00:00 AEST
  }
  TEST_CASE("deny by cron + duration") {
    auto w = window("Australia/Brisbane", {0, 1, 2, 3, 4, 5, 6}, std::nullopt, std::nullopt);
    w.deny.push_back(WindowDeny{std::nullopt, std::nullopt, "0 9 * * 1", Millis(2 * 3'600'000)});
    // Monday 2026-11-23 09:00 AEST = 2026-11-22T23:00Z, for two hours.
    CHECK(s(evaluate(w, at("2026-11-22T22:00:00Z"))->next_close) == "2026-11-22T23:00:00Z");
    auto denied = *evaluate(w, at("2026-11-22T23:30:00Z"));
    CHECK_FALSE(denied.open);
    CHECK(s(denied.next_open) == "2026-11-23T01:00:00Z");
  }
  TEST_CASE("weekday evenings crossing midnight plus whole weekends merge into one open stretch") {
    Window w = window("Australia/Brisbane", {MON, 2, 3, 4, 5}, hm(20, 0), hm(6, 0));
    w.allow.push_back(WindowAllow{{SAT, SUN}, std::nullopt, std::nullopt});
    // Friday 2026-11-27 21:00 AEST: Fri 20:00-Sat 06:00, then all of Sat and Sun, merged: open until Monday
    // 00:00 AEST (2026-11-29T14:00Z). Mon 00:00-06:00 would need a Sunday evening range; mon-fri has none.
    auto fri = *evaluate(w, at("2026-11-27T11:00:00Z"));
    CHECK(fri.open);
    CHECK(s(fri.next_close) == "2026-11-29T14:00:00Z");
    auto tue_noon = *evaluate(w, at("2026-12-01T02:00:00Z"));
    CHECK_FALSE(tue_noon.open);
    CHECK(s(tue_noon.next_open) == "2026-12-01T10:00:00Z");  // Tue 20:00 AEST
  }
  TEST_CASE("unknown zones and bad times are errors, RFC 3339 round-trips") {
    auto w = window("Mars/Olympus_Mons", {SUN}, std::nullopt, std::nullopt);
    CHECK(evaluate(w, at("2026-01-01T00:00:00Z")).error().code == Exit::invalid);
    CHECK(rfc3339(*parse_rfc3339("2026-11-22T14:00:00+10:00")) == "2026-11-22T04:00:00Z");
    CHECK_FALSE(parse_rfc3339("yesterday"));
  }
}
