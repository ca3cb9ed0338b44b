// A deterministic, seeded mutation fuzzer for the project config + plan loaders (issue #12).
//
// It starts from the valid example projects (examples/*, tests/data/loader/good) and an invalid one
// (tests/data/loader/bad), applies random byte / line / token mutations (delete, duplicate, swap and move lines,
// quotes, brackets, NUL and control bytes, huge numbers, deep nesting, truncation) and sometimes replaces a plan
// file by a FIFO, a directory or a dangling symlink. Each input goes through the real load_project /
// load_plans / validate_* and must end in either
//   - a valid result, which then also has to be usable the way `run` uses it: lint, digests, the window
//     evaluator, the backfill batch statement — none of them may refuse what validate accepted; or
//   - diagnostics (the CLI turns any into exit 2, load_all): each names its file, and one about the file's
//     content carries a line:column inside it.
// An exception escaping the loaders (the CLI's exit 70), a crash (ASan/UBSan in CI) or a hang (ctest's TIMEOUT
// for this test; no wall-clock assertions here) is a failure.
//
// The loaders have no database handle: loading and validating never touch a database, so this runs anywhere.
//
// PHASEGATE_FUZZ_ITERATIONS (default 3000), PHASEGATE_FUZZ_SEED (default fixed), PHASEGATE_FUZZ_FROM (first
// iteration; with ITERATIONS=1 it replays one input). A failure prints the seed, the iteration, the replay line
// and the mutated input. With PHASEGATE_BIN (ctest sets it) every 25th input also goes through the real
// `phasegate --json validate` (exit 0/2, one JSON document). While an input is loaded it sits in the work directory printed at the start, so a
// hang leaves it there.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "phasegate/backfill.hpp"
#include "phasegate/config.hpp"
#include "phasegate/engine.hpp"
#include "phasegate/guards.hpp"
#include "phasegate/lint.hpp"
#include "phasegate/sql.hpp"

using namespace phasegate;
namespace fs = std::filesystem;

namespace {

// splitmix64: the same sequence on every platform and standard library (std distributions are not).
struct Rng {
  uint64_t state;
  uint64_t next() {
    uint64_t z = (state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }
  size_t below(size_t n) { return n ? static_cast<size_t>(next() % n) : 0; }
  bool chance(int percent) { return below(100) < static_cast<size_t>(percent); }
};

long long env_number(const char* name, long long fallback) {
  const char* v = std::getenv(name);
  if (!v || !*v) return fallback;
  char* end = nullptr;
  long long n = std::strtoll(v, &end, 10);
  return end && *end == '\0' ? n : fallback;
}

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}
void write_file(const fs::path& p, const std::string& text) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << text;
}

// Pieces mutations insert: TOML syntax, values the loaders special-case, and the refusals of issue #12.
const char* const kTokens[] = {
    "\"", "'", "\"\"\"", "'''", "[", "]", "[[", "]]", "{", "}", "=", ",", ".", "\n", "\r\n", "\\", "\\u0000", "\\U0010FFFF",
    "\\x", "#", " ", "\t", "-", "+", "0", "-1", "1e400", "nan", "inf", "true", "99999999999999999999",
    "9223372036854775807", "\"0s\"", "\"none\"", "\"999999999d999999999d999999999d\"", "\"1000000000d\"", "\"after:72h\"",
    "\"after:9999999999d\"", "\"Mars/Olympus\"", "\"UTC+10\"", "\"Etc/GMT+10\"", "\"2026-02-30\"", "\"2026-13-01\"",
    "\"61 9 * * 1\"", "\"*/0 * * * *\"", "\"0 9 * * 8\"", "\"@daily\"", "\"pg_catalog\"", "\"public\"", "\"select\"",
    "\"\"", "\" \"", "--", "/*", "*/", ";", "$1", ")", "(", "\"a) OR (true\"", "2026-12-24", "20:00", "\"mon-fri\"",
    "\"sun-sat\"", "name", "id", "sql", "down", "check", "backfill", "command", "table", "set", "where", "timezone",
    "allow", "deny", "cron", "duration", "from", "to", "lock_timeout", "statement_timeout", "state_schema", "plans_dir",
    "windows", "services", "smoke", "kind", "restart", "health", "transaction", "irreversible", "start", "steps",
    "[expand]", "[[expand.steps]]", "[[migrate.steps]]", "[[contract.steps]]", "[plan]", "[guards]", "[windows.w]",
    "[project]", "CONCURRENTLY", "BEGIN;", "SELECT", "DROP TABLE x", "\"\"\"\nSELECT 1\n\"\"\"",
    "\\n-- phasegate:ignore ", "\n-- phasegate:ignore rename,", "https://", "postgresql://u:p@h/d", "password="};

// One random mutation of text.
void mutate(std::string& text, Rng& rng) {
  auto pos = [&] { return rng.below(text.size() + 1); };
  auto lines_of = [&] {
    std::vector<std::string> lines;
    std::string line;
    std::istringstream in(text);
    while (std::getline(in, line)) lines.push_back(line);
    return lines;
  };
  auto join_lines = [&](const std::vector<std::string>& lines) {
    std::string out;
    for (const auto& l : lines) out += l + "\n";
    text = out;
  };
  switch (rng.below(14)) {
    case 0: {  // delete a byte range
      size_t at = pos(), n = 1 + rng.below(rng.chance(70) ? 4 : 64);
      if (at < text.size()) text.erase(at, n);
      break;
    }
    case 1: {  // duplicate a byte range
      size_t at = pos(), n = 1 + rng.below(32);
      if (at < text.size()) text.insert(at, text.substr(at, n));
      break;
    }
    case 2:  // insert a random byte (control bytes, NUL, invalid UTF-8 included)
      text.insert(pos(), 1, static_cast<char>(rng.below(256)));
      break;
    case 3:
    case 4:
    case 5:  // insert a token
      text.insert(pos(), kTokens[rng.below(std::size(kTokens))]);
      break;
    case 6: {  // replace a quoted value by a token
      size_t q = text.find('"', pos());
      size_t e = q == std::string::npos ? q : text.find('"', q + 1);
      if (e != std::string::npos) text.replace(q, e - q + 1, kTokens[rng.below(std::size(kTokens))]);
      break;
    }
    case 7: {  // delete a line
      auto lines = lines_of();
      if (!lines.empty()) lines.erase(lines.begin() + static_cast<long>(rng.below(lines.size())));
      join_lines(lines);
      break;
    }
    case 8: {  // duplicate a line
      auto lines = lines_of();
      if (!lines.empty()) {
        size_t i = rng.below(lines.size());
        lines.insert(lines.begin() + static_cast<long>(i), lines[i]);
      }
      join_lines(lines);
      break;
    }
    case 9: {  // swap two lines
      auto lines = lines_of();
      if (lines.size() > 1) std::swap(lines[rng.below(lines.size())], lines[rng.below(lines.size())]);
      join_lines(lines);
      break;
    }
    case 10: {  // move a line elsewhere
      auto lines = lines_of();
      if (lines.size() > 1) {
        size_t from = rng.below(lines.size());
        std::string l = lines[from];
        lines.erase(lines.begin() + static_cast<long>(from));
        lines.insert(lines.begin() + static_cast<long>(rng.below(lines.size() + 1)), l);
      }
      join_lines(lines);
      break;
    }
    case 11:  // truncate
      text.resize(pos());
      break;
    case 12: {  // deep nesting: arrays or inline tables
      size_t depth = 1 + rng.below(rng.chance(50) ? 20 : 2000);
      std::string open, close;
      bool arrays = rng.chance(50);
      for (size_t i = 0; i < depth; ++i) {
        open += arrays ? "[" : "{a=";
        close += arrays ? "]" : "}";
      }
      text.insert(pos(), "\nnested = " + open + "1" + close + "\n");
      break;
    }
    default: {  // a huge value: a long string or a long run of one byte
      std::string big(1 + rng.below(70'000), "ax\"'[{ 9"[rng.below(8)]);
      text.insert(pos(), big);
      break;
    }
  }
}

// A copy of one seed project in the work directory, with its pristine texts.
struct SeedProject {
  std::string name;
  fs::path root;                                 // the work copy
  std::vector<std::pair<fs::path, std::string>> files;  // phasegate.toml and plans/*.toml, original text
};

std::string printable(const std::string& s, size_t limit = 6000) {
  std::string out;
  for (unsigned char c : s.substr(0, limit)) {
    if (c == '\n' || c == '\t' || (c >= 0x20 && c < 0x7f)) out += static_cast<char>(c);
    else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    }
  }
  if (s.size() > limit) out += "\n... (" + std::to_string(s.size() - limit) + " more bytes)";
  return out;
}

// Messages whose subject is a file or directory as a whole (its type, its readability), not its content:
// they need no line.
bool about_the_file_itself(const Diagnostic& d) {
  for (const char* p : {"is a ", "is not a regular file", "cannot read", "plans directory", "cannot list the plans directory"})
    if (d.message.rfind(p, 0) == 0) return true;
  return false;
}

// Diagnostics reach `--json` output, whose encoder refuses invalid UTF-8 (the CLI would exit 70).
bool valid_utf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    auto c = static_cast<unsigned char>(s[i]);
    size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
    if (n == 0 || i + n > s.size()) return false;
    for (size_t k = 1; k < n; ++k)
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
    i += n;
  }
  return true;
}

// The real binary: `phasegate -C root --json validate`, stdout into out_file. Returns its exit code (-1: did not
// exit normally).
int run_validate(const std::string& bin, const fs::path& root, const fs::path& out_file) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, out_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
  std::string dir = root.string();
  std::vector<char*> argv{const_cast<char*>(bin.c_str()), const_cast<char*>("-C"), dir.data(), const_cast<char*>("--json"),
                          const_cast<char*>("validate"), nullptr};
  pid_t pid = 0;
  int rc = posix_spawn(&pid, bin.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) return -1;
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

size_t line_count(const std::string& text) { return static_cast<size_t>(std::count(text.begin(), text.end(), '\n')) + 1; }

// What `run` does with a validated project, none of which may refuse it: returns the problem, or "".
std::string use_like_run(const Project& project, const std::vector<Plan>& plans) {
  TimePoint at = *guards::parse_rfc3339("2026-11-22T04:00:00Z");
  for (const auto& [name, w] : project.windows) {
    auto st = guards::evaluate(w, at);
    if (!st) return "validated window " + name + " does not evaluate: " + st.error().message;
  }
  for (const auto& plan : plans) {
    Guards g = merge_guards(project.guards, plan.guards);
    for (const auto& w : g.windows)
      if (!project.windows.count(w)) return "plan " + plan.id + " names window " + w + " that does not exist";
    lint::Summary summary;
    (void)lint::lint_units(lint::units_of_plan(plan), summary);
    (void)plan_digest(plan);
    for (const Step* s : plan.steps()) {
      if (!s->sql.empty() && !sql::parse(s->sql).script) return "step " + s->name + ": validated sql does not parse";
      if (!s->backfill) continue;
      BackfillTable t{"public." + sql::quote_ident(s->backfill->table), {{"id", "bigint"}}, 0};
      for (bool cursor : {false, true}) {
        auto parsed = sql::parse(backfill::batch_sql(t, *s->backfill, cursor).update);
        if (!parsed.script || parsed.script->statements.size() != 1)
          return "step " + s->name + ": the batch UPDATE of a validated backfill does not parse" +
                 (parsed.error ? ": " + parsed.error->message : std::string(" as one statement"));
      }
    }
  }
  return "";
}

}  // namespace

TEST_CASE("fuzz: mutated configs and plans load to a valid result or to positioned diagnostics") {
  const uint64_t seed = static_cast<uint64_t>(env_number("PHASEGATE_FUZZ_SEED", 20261122));
  const long long iterations = env_number("PHASEGATE_FUZZ_ITERATIONS", 3000);
  const long long from = env_number("PHASEGATE_FUZZ_FROM", 0);
  const fs::path src = PHASEGATE_SOURCE_DIR;
  const std::string bin = std::getenv("PHASEGATE_BIN") ? std::getenv("PHASEGATE_BIN") : "";  // set by ctest
  const fs::path work = fs::temp_directory_path() / ("phasegate-fuzz-" + std::to_string(::getpid()));
  fs::remove_all(work);
  fs::create_directories(work);
  if (bin.empty()) std::cerr << "fuzz: PHASEGATE_BIN is not set: the every-25th check through the binary is skipped\n";
  std::cerr << "fuzz: seed " << seed << ", iterations " << from << ".." << from + iterations - 1 << ", work dir " << work.string()
            << " (holds the input being loaded if this hangs)\n";

  std::vector<SeedProject> seeds;
  std::vector<fs::path> roots;
  for (const auto& e : fs::directory_iterator(src / "examples"))
    if (fs::exists(e.path() / "phasegate.toml")) roots.push_back(e.path());
  roots.push_back(src / "tests/data/loader/good");
  roots.push_back(src / "tests/data/loader/bad");
  std::sort(roots.begin(), roots.end());
  for (const auto& r : roots) {
    SeedProject sp;
    sp.name = fs::relative(r, src).string();
    sp.root = work / std::to_string(seeds.size());
    fs::copy(r, sp.root, fs::copy_options::recursive);
    sp.files.push_back({sp.root / "phasegate.toml", read_file(sp.root / "phasegate.toml")});
    std::vector<fs::path> plans;
    for (const auto& e : fs::directory_iterator(sp.root / "plans"))
      if (e.path().extension() == ".toml") plans.push_back(e.path());
    std::sort(plans.begin(), plans.end());
    for (const auto& p : plans) sp.files.push_back({p, read_file(p)});
    seeds.push_back(std::move(sp));
  }
  REQUIRE(seeds.size() >= 3);

  long long valid = 0, invalid = 0, failures = 0;  // the first 5 failures are printed in full
  for (long long i = from; i < from + iterations; ++i) {
    Rng rng{seed * 0x100000001B3ULL + static_cast<uint64_t>(i)};
    SeedProject& sp = seeds[rng.below(seeds.size())];
    // Mutate one file (sometimes two); sometimes turn a plan into something that is not a file.
    std::vector<size_t> touched{rng.below(sp.files.size())};
    if (rng.chance(20)) touched.push_back(rng.below(sp.files.size()));
    std::string shown;
    std::optional<fs::path> special;
    for (size_t f : touched) {
      std::string text = sp.files[f].second;
      for (size_t n = rng.chance(60) ? 1 : 2 + rng.below(3); n > 0; --n) mutate(text, rng);
      write_file(sp.files[f].first, text);
      shown += "--- " + fs::relative(sp.files[f].first, sp.root).string() + " (from " + sp.name + ")\n" + printable(text) + "\n";
    }
    if (rng.chance(3)) {
      special = sp.root / "plans" / "0500-special.toml";
      switch (rng.below(3)) {
        case 0: REQUIRE(::mkfifo(special->c_str(), 0600) == 0); shown += "--- plans/0500-special.toml: a FIFO\n"; break;
        case 1: fs::create_directory(*special); shown += "--- plans/0500-special.toml: a directory\n"; break;
        default: fs::create_symlink("gone.toml", *special); shown += "--- plans/0500-special.toml: a dangling symlink\n"; break;
      }
    }
    const std::string context = "seed " + std::to_string(seed) + ", iteration " + std::to_string(i) +
                                " (replay: PHASEGATE_FUZZ_SEED=" + std::to_string(seed) + " PHASEGATE_FUZZ_FROM=" +
                                std::to_string(i) + " PHASEGATE_FUZZ_ITERATIONS=1 phasegate_fuzz_loader)\n" + shown;

    Diagnostics diags;
    std::optional<Project> project;
    std::vector<Plan> plans;
    std::string problem;
    try {
      project = load_project(sp.files[0].first.string(), diags);
      if (project) {
        validate_project(*project, diags);
        plans = load_plans(*project, diags);
        for (const auto& p : plans) validate_plan(*project, p, diags);
      } else if (diags.empty()) {
        problem = "load_project returned nothing and reported nothing";
      }
      if (problem.empty() && diags.empty()) problem = use_like_run(*project, plans);
    } catch (const std::exception& e) {
      problem = std::string("an exception escaped (the CLI would exit 70): ") + e.what();
    }
    for (const auto& d : diags) {
      if (!problem.empty()) break;
      if (d.pos.file.empty()) problem = "a diagnostic names no file: " + d.message;
      else if (!valid_utf8(d.message) || !valid_utf8(d.pos.file)) problem = "a diagnostic is not valid UTF-8 (--json would fail): " + d.str();
      else if (d.message.empty()) problem = "an empty diagnostic at " + d.pos.str();
      else if (d.pos.line <= 0 && !about_the_file_itself(d)) problem = "a diagnostic without line:col: " + d.str();
      else if (d.pos.line > 0) {
        // The line must exist in the file the diagnostic names (when it is one of ours).
        for (const auto& [path, original] : sp.files)
          if (fs::path(d.pos.file).filename() == path.filename() && fs::exists(path) && fs::is_regular_file(path) &&
              static_cast<size_t>(d.pos.line) > line_count(read_file(path)) + 1)
            problem = "a diagnostic past the end of its file: " + d.str();
        if (d.pos.column <= 0) problem = "a diagnostic without a column: " + d.str();
      }
    }
    // Every 25th input also through the real binary (when ctest says where it is): `validate --json` exits 0 or 2
    // as the diagnostics say (plus duplicate plan ids, which the CLI checks), with one JSON document that agrees.
    if (problem.empty() && !bin.empty() && i % 25 == 0) {
      std::set<std::string> ids;
      bool duplicate = false;
      for (const auto& p : plans) duplicate |= !ids.insert(p.id).second;
      const int want = diags.empty() && !duplicate && project ? 0 : 2;
      const fs::path out = work / "validate.json";
      const int got = run_validate(bin, sp.root, out);
      auto doc = nlohmann::json::parse(read_file(out), nullptr, false);
      if (got != want) problem = "phasegate --json validate exited " + std::to_string(got) + ", want " + std::to_string(want);
      else if (!doc.is_object() || doc.value("exit", -1) != want) problem = "phasegate --json validate printed no JSON document with \"exit\": " + std::to_string(want) + ": " + printable(read_file(out), 400);
    }
    if (!problem.empty() && ++failures <= 5) {
      std::string listed;
      for (const auto& d : diags) listed += "  " + d.str() + "\n";
      FAIL_CHECK(problem << "\n" << context << "diagnostics:\n" << listed);
    }
    (diags.empty() ? valid : invalid) += 1;
    // Restore the seed project for the next iteration.
    if (special) fs::remove_all(*special);
    for (size_t f : touched) write_file(sp.files[f].first, sp.files[f].second);
  }
  std::cerr << "fuzz: " << valid << " valid, " << invalid << " refused with diagnostics\n";
  CHECK(valid + invalid == iterations);
  CHECK_MESSAGE(failures == 0, failures << " of " << iterations << " inputs failed (the first 5 are printed above)");
  fs::remove_all(work);
}
