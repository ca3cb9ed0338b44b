#include <doctest/doctest.h>

#include "phasegate/duration.hpp"
#include "phasegate/text.hpp"

using namespace phasegate;

TEST_SUITE("core::duration") {
  TEST_CASE("parses units and sums") {
    CHECK(parse_duration("250ms") == Millis(250));
    CHECK(parse_duration("2s") == Millis(2000));
    CHECK(parse_duration("30m") == Millis(30 * 60'000));
    CHECK(parse_duration("2h") == Millis(7'200'000));
    CHECK(parse_duration("7d") == Millis(7LL * 86'400'000));
    CHECK(parse_duration("1h30m") == Millis(5'400'000));
  }
  TEST_CASE("rejects junk") {
    CHECK_FALSE(parse_duration(""));
    CHECK_FALSE(parse_duration("2"));
    CHECK_FALSE(parse_duration("ms"));
    CHECK_FALSE(parse_duration("2 s"));
    CHECK_FALSE(parse_duration("2w"));
    CHECK_FALSE(parse_duration("-2s"));
  }
  TEST_CASE("totals above kMaxDuration are refused, never overflow") {
    std::string big;
    for (int i = 0; i < 20; ++i) big += "999999999d";  // used to overflow a long long (undefined behaviour)
    CHECK_FALSE(parse_duration(big));
    CHECK(parse_duration("3650d") == kMaxDuration);
    CHECK_FALSE(parse_duration("3650d1ms"));
  }
  TEST_CASE("a lock_timeout of 0 is shown as none") {
    CHECK(format_timeout(Millis(0)) == "none");
    CHECK(format_timeout(Millis(1500)) == "1s500ms");
  }
  TEST_CASE("formats back") {
    CHECK(format_duration(Millis(90'000)) == "1m30s");
    CHECK(format_duration(Millis(250)) == "250ms");
  }
}

TEST_SUITE("core::text") {
  TEST_CASE("did you mean") {
    CHECK(did_you_mean("lock_timout", {"lock_timeout", "lock_retries", "windows"}) == "lock_timeout");
    CHECK(did_you_mean("zzzzzz", {"lock_timeout", "windows"}).empty());
  }
  TEST_CASE("truncate_utf8 cuts at a character boundary") {
    CHECK(truncate_utf8("abc", 5) == "abc");
    CHECK(truncate_utf8("abcdef", 3) == "abc...");
    CHECK(truncate_utf8("a\xC3\xA9" "b", 2) == "a...");  // never half of the é
    CHECK(truncate_utf8("a\xC3\xA9" "b", 3) == "a\xC3\xA9...");
  }
  TEST_CASE("sha256 of a known vector") {
    CHECK(sha256_hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  }
}
