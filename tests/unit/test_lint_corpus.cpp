// Runs every case of tests/data/lint/corpus.sql through the linter and compares rule ids.
#include <doctest/doctest.h>

#include <algorithm>
#include <fstream>
#include <filesystem>
#include <map>
#include <set>
#include <sstream>

#include "phasegate/lint.hpp"
#include "phasegate/text.hpp"

using namespace phasegate;

namespace {
struct Case {
  std::string name, expect, sql;
  std::map<std::string, std::string> opts;
};

std::vector<Case> read_corpus() {
  std::ifstream in(std::string(PHASEGATE_TEST_DATA) + "/lint/corpus.sql");
  std::vector<Case> out;
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("-- case: ", 0) == 0) {
      out.push_back(Case{line.substr(9), "", "", {}});
    } else if (!out.empty() && line.rfind("-- ", 0) == 0 && out.back().sql.empty() && line.find(": ") != std::string::npos) {
      auto colon = line.find(": ");
      std::string key = line.substr(3, colon - 3), value = line.substr(colon + 2);
      if (key == "expect") out.back().expect = value == "none" ? "" : value;
      else out.back().opts[key] = value;
    } else if (!out.empty()) {
      out.back().sql += line + "\n";
    }
  }
  return out;
}
}  // namespace

TEST_CASE("lint corpus: every case yields exactly its expected rules") {
  auto corpus = read_corpus();
  REQUIRE(corpus.size() >= 60);
  for (const auto& c : corpus) {
    CAPTURE(c.name);
    lint::Unit u;
    if (c.opts.count("kind") && c.opts.at("kind") == "file") {
      u = lint::unit_of_sql_file("case.sql", c.sql);
    } else {
      u.file = "case.toml";
      u.step = c.name;
      u.phase = parse_phase(c.opts.count("phase") ? c.opts.at("phase") : "expand").value_or(Phase::expand);
      u.has_down = !(c.opts.count("down") && c.opts.at("down") == "no");
      u.irreversible = c.opts.count("irreversible") > 0;
      if (c.opts.count("transaction")) u.transaction = c.opts.at("transaction") == "true";
      u.text = c.sql;
      u.locate = [](size_t off) { return SourcePos{"case.toml", 1, static_cast<int>(off) + 1}; };
    }
    std::set<std::string> enable;  // -- enable: opt-in rules for this case
    if (c.opts.count("enable")) {
      std::stringstream es(c.opts.at("enable"));
      for (std::string id; std::getline(es, id, ',');)
        if (!trim(id).empty()) {
          CHECK_MESSAGE(!lint::enable_problem(trim(id)), "-- enable: " << id);
          enable.insert(trim(id));
        }
    }
    lint::Summary s;
    std::vector<std::string> got;
    for (const auto& f : lint::lint_units({u}, s, nullptr, enable)) got.push_back(f.rule);
    std::sort(got.begin(), got.end());
    got.erase(std::unique(got.begin(), got.end()), got.end());
    std::vector<std::string> want;
    std::stringstream ss(c.expect);
    std::string id;
    while (std::getline(ss, id, ','))
      if (!trim(id).empty()) want.push_back(trim(id));
    std::sort(want.begin(), want.end());
    CHECK_MESSAGE(got == want, "got: " << join(got, ",") << " want: " << join(want, ","));
  }
}

TEST_CASE("lint corpus: every opt-in rule has a case that fires it when enabled, and never fires when not") {
  auto corpus = read_corpus();
  for (const auto& id : lint::opt_in_rules()) {
    CAPTURE(id);
    bool fired = false;
    for (const auto& c : corpus) {
      bool expected = ("," + c.expect + ",").find("," + id + ",") != std::string::npos;
      bool enabled = c.opts.count("enable") && ("," + c.opts.at("enable") + ",").find("," + id + ",") != std::string::npos;
      if (expected) CHECK_MESSAGE(enabled, c.name << " expects " << id << " without enabling it");
      fired = fired || expected;
    }
    CHECK(fired);
  }
}

TEST_CASE("every rule has its docs/rules page") {
  for (const auto& r : lint::rules()) {
    CAPTURE(r.id);
    CHECK(std::filesystem::exists(std::string(PHASEGATE_TEST_DATA) + "/../../docs/rules/" + r.id + ".md"));
  }
}
