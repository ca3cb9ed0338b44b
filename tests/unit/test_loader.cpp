#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>

#include "phasegate/config.hpp"

using namespace phasegate;

namespace {
std::string data(const std::string& rel) { return std::string(PHASEGATE_TEST_DATA) + "/" + rel; }

bool has(const Diagnostics& diags, const std::string& needle, int line = -1) {
  return std::any_of(diags.begin(), diags.end(), [&](const Diagnostic& d) {
    return d.str().find(needle) != std::string::npos && (line < 0 || d.pos.line == line);
  });
}
std::string all(const Diagnostics& diags) {
  std::string out;
  for (const auto& d : diags) out += d.str() + "\n";
  return out;
}
}  // namespace

TEST_SUITE("config::loader") {
  TEST_CASE("the full SPEC example loads and validates cleanly") {
    Diagnostics diags;
    auto project = load_project(data("loader/good/phasegate.toml"), diags);
    REQUIRE(project);
    auto plans = load_plans(*project, diags);
    validate_project(*project, diags);
    for (const auto& p : plans) validate_plan(*project, p, diags);
    CHECK_MESSAGE(diags.empty(), all(diags));
    REQUIRE(plans.size() == 1);
    const auto& plan = plans[0];
    CHECK(plan.id == "0042-reading-level");
    CHECK(plan.steps().size() == 4);
    CHECK(plan.phases[2].start == "after:72h");
    CHECK(plan.phases[1].steps[0].backfill->batch_rows == 5000);
    CHECK(project->windows.at("offpeak").allow[0].days == std::vector<int>{1, 2, 3, 4, 5});
    CHECK(project->windows.at("offpeak").allow[0].start_minute == 20 * 60);
    Guards g = merge_guards(project->guards, plan.guards);
    CHECK(g.lock_timeout == Millis(1000));          // the plan overrides
    CHECK(g.statement_timeout == Millis(1'800'000));  // the project default
    CHECK(g.lock_retry_backoff.max == Millis(30'000));
    CHECK(project->lint.enable == std::vector<std::string>{"prefer-text", "require-idempotent"});
  }

  TEST_CASE("every problem is reported with file:line:col, not just the first") {
    Diagnostics diags;
    auto project = load_project(data("loader/bad/phasegate.toml"), diags);
    REQUIRE(project);
    validate_project(*project, diags);
    auto plans = load_plans(*project, diags);
    for (const auto& p : plans) validate_plan(*project, p, diags);
    INFO(all(diags));
    CHECK(has(diags, "phasegate.toml:5:7: database.url contains a password"));
    CHECK(has(diags, "phasegate.toml:8:1: unknown key \"lock_timout\" in [guards] (did you mean \"lock_timeout\"?)"));
    CHECK(has(diags, "invalid duration \"30 minutes\"", 9));
    CHECK(has(diags, "not-executable.sh is not executable"));
    CHECK(has(diags, "hooks/missing.sh does not exist"));
    CHECK(has(diags, "unknown service \"apii\" (did you mean \"api\"?)"));
    CHECK(has(diags, "unknown smoke check \"nope\""));
    // SQL errors point inside the TOML string: the string opens at 10:7, the parser stops at "int" (col 38).
    CHECK(has(diags, "0001-broken.toml:10:38: sql of step \"typo in sql\": syntax error at or near \"int\""));
    // In a multi-line string the error is on the string's second line (file line 16).
    CHECK(has(diags, "0001-broken.toml:16:38: sql of step \"typo in sql\": syntax error at or near \"DEFALT\""));
    CHECK(has(diags, "duplicate step name \"typo in sql\""));
    CHECK(has(diags, "needs exactly one of sql, backfill or command"));
    CHECK(has(diags, "unknown key \"transactoin\" in [expand.steps] (did you mean \"transaction\"?)"));
    // [lint] enable: each rule id at its own column; an unknown one with a did-you-mean, an always-on one refused.
    CHECK(has(diags, "phasegate.toml:20:11: lint.enable: unknown rule \"prefer-txt\" (did you mean \"prefer-text\"?)"));
    CHECK(has(diags, "phasegate.toml:20:25: lint.enable: rule \"rename\" is always on"));
    CHECK(has(diags, "phasegate.toml:21:1: unknown key \"enabled\" in [lint] (did you mean \"enable\"?)"));
    CHECK(project->lint.enable == std::vector<std::string>{"prefer-bigint"});
  }

  TEST_CASE("TOML syntax errors carry their position") {
    auto dir = std::filesystem::temp_directory_path() / "phasegate-loader-test";
    std::filesystem::create_directories(dir);
    auto file = (dir / "phasegate.toml").string();
    FILE* f = std::fopen(file.c_str(), "w");
    std::fputs("[project]\nname = \"x\nfoo = 1\n", f);
    std::fclose(f);
    Diagnostics diags;
    CHECK_FALSE(load_project(file, diags));
    REQUIRE(diags.size() == 1);
    CHECK(diags[0].pos.line == 2);
    CHECK(diags[0].message.find("invalid TOML") == 0);
  }

  TEST_CASE("locate_in_string handles escapes and literal strings") {
    std::string src = "a = \"x\\ty\"\nb = 'p\\q'\n";
    CHECK(locate_in_string(src, SourcePos{"f", 1, 5}, 3).column == 10);  // past the 2-byte escape
    CHECK(locate_in_string(src, SourcePos{"f", 2, 5}, 2).column == 8);   // literal: backslash is one byte
  }
}
