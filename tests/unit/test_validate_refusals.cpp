// Issue #12: everything `run` would refuse, `validate` refuses first — at file:line:col, before any database.
// Each case writes a small project to a temp directory and goes through the real loaders and validators.
#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <filesystem>
#include <fstream>

#include "phasegate/config.hpp"

using namespace phasegate;
namespace fs = std::filesystem;

namespace {

const char* const kProject = "[project]\nname = \"t\"\n";
const char* const kPlan = "[[expand.steps]]\nname = \"a\"\nsql = \"CREATE TABLE a (id int)\"\ndown = \"DROP TABLE a\"\n";

// "line:col" (1-based) of the first occurrence of needle in text; the test fails loudly when it is missing.
std::string at(const std::string& text, const std::string& needle) {
  auto off = text.find(needle);
  REQUIRE_MESSAGE(off != std::string::npos, "test bug: \"" << needle << "\" is not in the file");
  int line = 1, col = 1;
  for (size_t i = 0; i < off; ++i) {
    if (text[i] == '\n') { ++line; col = 1; }
    else ++col;
  }
  return std::to_string(line) + ":" + std::to_string(col);
}

std::string all(const Diagnostics& diags) {
  std::string out;
  for (const auto& d : diags) out += d.str() + "\n";
  return out.empty() ? "(no diagnostics)" : out;
}

bool has(const Diagnostics& diags, const std::string& needle) {
  return std::any_of(diags.begin(), diags.end(), [&](const Diagnostic& d) { return d.str().find(needle) != std::string::npos; });
}

// A project in a fresh temp directory: phasegate.toml plus plans/.
struct TempProject {
  fs::path root;
  explicit TempProject(const std::string& project = kProject) {
    static int n = 0;
    root = fs::temp_directory_path() / ("phasegate-refusals-" + std::to_string(::getpid()) + "-" + std::to_string(n++));
    fs::remove_all(root);
    fs::create_directories(root / "plans");
    write("phasegate.toml", project);
  }
  ~TempProject() {
    std::error_code ec;
    fs::remove_all(root, ec);
  }
  void write(const std::string& rel, const std::string& text) const {
    std::ofstream out(root / rel, std::ios::binary);
    out << text;
  }
  // load_project + validate_project + load_plans + validate_plan, as `validate` and `run` do.
  Diagnostics load(std::vector<Plan>* plans_out = nullptr, Project* project_out = nullptr) const {
    Diagnostics diags;
    auto project = load_project((root / "phasegate.toml").string(), diags);
    if (!project) return diags;
    validate_project(*project, diags);
    auto plans = load_plans(*project, diags);
    for (const auto& p : plans) validate_plan(*project, p, diags);
    if (plans_out) *plans_out = plans;
    if (project_out) *project_out = *project;
    return diags;
  }
};

// The diagnostics for a project whose phasegate.toml is kProject + extra (and one valid plan).
Diagnostics project_with(const std::string& extra) {
  TempProject p(std::string(kProject) + extra);
  p.write("plans/0001-a.toml", kPlan);
  return p.load();
}
// The diagnostics for plans/0001-a.toml = text.
Diagnostics plan_with(const std::string& text) {
  TempProject p;
  p.write("plans/0001-a.toml", text);
  return p.load();
}

// Each text (a plan, or the extra part of phasegate.toml) is refused with a diagnostic containing its needle.
struct Case {
  std::string text, needle;
};
void plans_refused(const std::vector<Case>& cases) {
  for (const auto& c : cases) {
    auto d = plan_with(c.text);
    CHECK_MESSAGE(has(d, c.needle), "want: " << c.needle << "\ngot: " << all(d));
  }
}
void projects_refused(const std::vector<Case>& cases) {
  for (const auto& c : cases) {
    auto d = project_with(c.text);
    CHECK_MESSAGE(has(d, c.needle), "want: " << c.needle << "\ngot: " << all(d));
  }
}

// A watchdog for the FIFO cases: opening a FIFO for reading waits for a writer, so a loader that opens one would
// hang the suite; this turns that into a failure with a message. Loading takes microseconds; 120 s is no timing bound.
struct Watchdog {
  Watchdog() {
    std::signal(SIGALRM, [](int) {
      const char m[] = "FAIL: the loader blocked opening a FIFO (it must check the file type before opening)\n";
      (void)!::write(2, m, sizeof m - 1);
      ::_exit(1);
    });
    ::alarm(120);
  }
  ~Watchdog() { ::alarm(0); }
};

}  // namespace

TEST_SUITE("config::validate refusals (issue #12)") {
  TEST_CASE("the base project is valid (every refusal below is the one change it makes)") {
    auto diags = project_with("");
    CHECK_MESSAGE(diags.empty(), all(diags));
  }

  TEST_CASE("1. timezone: unknown IANA names and fixed offsets are refused at the value; UTC is fine") {
    for (const char* tz : {"UTC", "Etc/UTC", "Australia/Brisbane", "America/New_York"}) {
      auto diags = project_with(std::string("[windows.w]\ntimezone = \"") + tz + "\"\nallow = [ { days = \"mon\" } ]\n");
      CHECK_MESSAGE(diags.empty(), tz << ": " << all(diags));
    }
    std::string toml = std::string(kProject) + "[windows.w]\ntimezone = \"Mars/Olympus\"\n";
    auto diags = project_with("[windows.w]\ntimezone = \"Mars/Olympus\"\n");
    INFO(all(diags));
    CHECK(has(diags, "phasegate.toml:" + at(toml, "\"Mars") + ": unknown time zone \"Mars/Olympus\""));
    auto typo = project_with("[windows.w]\ntimezone = \"Australia/Brisbame\"\n");
    CHECK_MESSAGE(has(typo, "unknown time zone \"Australia/Brisbame\" (did you mean \"Australia/Brisbane\"?)"), all(typo));
    for (const char* tz : {"+10:00", "-0530", "UTC+10", "GMT+1", "utc-3", "Etc/GMT+10", "GMT0"}) {
      auto d = project_with(std::string("[windows.w]\ntimezone = \"") + tz + "\"\n");
      CHECK_MESSAGE(has(d, "phasegate.toml:4:12: timezone \"" + std::string(tz) + "\" is a fixed UTC offset"), tz << ": " << all(d));
    }
    projects_refused({
        {"[windows.w]\ntimezone = \"localtime\"\n", "phasegate.toml:4:12: timezone \"localtime\" is whatever zone the machine"},
        {"[windows.w]\ntimezone = \"\"\n", "phasegate.toml:4:12: timezone must not be empty"},
    });
  }

  TEST_CASE("2. deny dates: impossible days and backwards ranges") {
    std::string deny = "[windows.w]\ntimezone = \"UTC\"\ndeny = [ { from = \"2026-02-30\", to = \"2026-03-02\" } ]\n";
    auto diags = project_with(deny);
    CHECK_MESSAGE(has(diags, "phasegate.toml:" + at(kProject + deny, "\"2026-02-30") +
                                 ": invalid date \"2026-02-30\": February 2026 has 28 days"), all(diags));
    auto month = project_with("[windows.w]\ntimezone = \"UTC\"\ndeny = [ { from = \"2026-13-01\" } ]\n");
    CHECK_MESSAGE(has(month, "invalid date \"2026-13-01\": there is no month 13"), all(month));
    auto leap = project_with("[windows.w]\ntimezone = \"UTC\"\ndeny = [ { from = \"2028-02-29\", to = \"2028-02-29\" } ]\n");
    CHECK_MESSAGE(leap.empty(), all(leap));
    std::string backwards = "[windows.w]\ntimezone = \"UTC\"\ndeny = [ { from = \"2026-12-27\", to = \"2026-12-24\" } ]\n";
    auto back = project_with(backwards);
    CHECK_MESSAGE(has(back, "phasegate.toml:" + at(kProject + backwards, "\"2026-12-24") +
                                ": deny range ends (2026-12-24) before it starts (2026-12-27)"), all(back));
  }

  TEST_CASE("3. cron deny entries: field count, ranges, steps, syntax, and a positive duration") {
    auto cron = [](const std::string& spec, const std::string& duration = "\"2h\"") {
      return project_with("[windows.w]\ntimezone = \"UTC\"\ndeny = [ { cron = \"" + spec + "\", duration = " + duration + " } ]\n");
    };
    for (const char* ok : {"0 9 * * 1", "*/15 0-6 * * *", "0 22 1,15 * 1-5", "30 2 * 12 0,7", "0-30/10 * * * *"}) {
      auto d = cron(ok);
      CHECK_MESSAGE(d.empty(), ok << ": " << all(d));
    }
    struct Bad { const char* spec; const char* message; };
    for (const Bad& b : {Bad{"0 9 * *", "has 4 fields; it needs 5"}, Bad{"0 9 * * 1 2", "has 6 fields"},
                         Bad{"61 9 * * 1", "minute field \"61\": 61 is out of range 0-59"},
                         Bad{"0 24 * * 1", "hour field \"24\": 24 is out of range 0-23"},
                         Bad{"0 9 0 * 1", "day-of-month field \"0\": 0 is out of range 1-31"},
                         Bad{"0 9 * 13 1", "month field \"13\": 13 is out of range 1-12"},
                         Bad{"0 9 * * 8", "day-of-week field \"8\": 8 is out of range 0-7"},
                         Bad{"*/0 9 * * 1", "step \"0\" must be a number from 1 to 60"},
                         Bad{"5/2 9 * * 1", "a step needs * or a range before it"},
                         Bad{"1- 9 * * 1", "\"1-\" is not a number"}, Bad{"1x 9 * * 1", "\"1x\" is not a number"},
                         Bad{"1,,2 9 * * 1", "empty list item"}, Bad{"30-10 9 * * 1", "range 30-10 runs backwards"},
                         Bad{"@daily", "nicknames like @daily are not supported"}, Bad{"0 9 * * mon", "\"mon\" is not a number"}}) {
      auto d = cron(b.spec);
      CHECK_MESSAGE(has(d, "phasegate.toml:5:19: cron \"" + std::string(b.spec) + "\""), b.spec << ": " << all(d));
      CHECK_MESSAGE(has(d, b.message), b.spec << ": " << all(d));
    }
    auto missing = project_with("[windows.w]\ntimezone = \"UTC\"\ndeny = [ { cron = \"0 9 * * 1\" } ]\n");
    CHECK_MESSAGE(has(missing, "phasegate.toml:5:10: a cron deny entry needs a duration"), all(missing));
    auto zero = cron("0 9 * * 1", "\"0s\"");
    CHECK_MESSAGE(has(zero, "\"duration\" must be more than 0, got \"0s\""), all(zero));
  }

  TEST_CASE("4. backfill set/where: comments, ';', unbalanced parentheses and $n are refused where they are") {
    auto backfill = [](const std::string& set, const std::string& where) {
      return std::string(kPlan) + "[[migrate.steps]]\nname = \"fill\"\nbackfill = { table = \"a\", set = \"" + set + "\"" +
             (where.empty() ? "" : ", where = \"" + where + "\"") + " }\n";
    };
    auto ok = plan_with(backfill("lvl = lexile / 150", "lvl IS NULL AND note <> '--x;' AND (a OR b)"));
    CHECK_MESSAGE(ok.empty(), all(ok));
    struct Bad { std::string set, where, needle, message; };
    for (const Bad& b : {Bad{"lvl = 1 -- all rows", "", "-- all", "backfill.set of step \"fill\": remove the comment"},
                         Bad{"lvl = 1", "lvl IS NULL -- c", "-- c", "backfill.where of step \"fill\": remove the comment"},
                         Bad{"lvl = 1 /* c */", "", "/* c", "remove the comment"},
                         Bad{"lvl = 1", "lvl IS NULL; DROP TABLE a", "; DROP", "';' is not allowed"},
                         Bad{"lvl = $1", "", "$1", "positional parameters ($1, ...) are not allowed"},
                         Bad{"lvl = 1", "lvl IS NULL) OR (true", ") OR", "unbalanced ')'"}}) {
      std::string text = backfill(b.set, b.where);
      auto d = plan_with(text);
      CHECK_MESSAGE(has(d, "0001-a.toml:" + at(text, b.needle) + ": "), b.set << " / " << b.where << ": " << all(d));
      CHECK_MESSAGE(has(d, b.message), b.set << " / " << b.where << ": " << all(d));
    }
    // Parts of the batch statement after SET: parse as one UPDATE on their own, not inside the batch.
    auto shape = plan_with(backfill("lvl = 1 WHERE false", ""));
    CHECK_MESSAGE(has(shape, "backfill.set of step \"fill\": syntax error"), all(shape));
    auto empty_table = plan_with(std::string(kPlan) + "[[migrate.steps]]\nname = \"fill\"\nbackfill = { table = \"\", set = \"x = 1\" }\n");
    CHECK_MESSAGE(has(empty_table, "backfill.table must name a table"), all(empty_table));
    auto empty_set = plan_with(backfill(" ", ""));
    CHECK_MESSAGE(has(empty_set, "backfill.set must say what to set"), all(empty_set));
  }

  TEST_CASE("5. state_schema: system schemas, public and reserved words are refused") {
    for (const char* s : {"pg_catalog", "pg_toast", "pg_temp", "pg_phasegate", "information_schema"}) {
      TempProject p(std::string("[project]\nname = \"t\"\nstate_schema = \"") + s + "\"\n");
      p.write("plans/0001-a.toml", kPlan);
      auto d = p.load();
      CHECK_MESSAGE(has(d, "phasegate.toml:3:16: state_schema \"" + std::string(s) + "\" is a PostgreSQL system schema"), s << ": " << all(d));
    }
    TempProject pub("[project]\nname = \"t\"\nstate_schema = \"public\"\n");
    pub.write("plans/0001-a.toml", kPlan);
    auto d = pub.load();
    CHECK_MESSAGE(has(d, "phasegate.toml:3:16: state_schema \"public\" is the application's schema"), all(d));
    TempProject word("[project]\nname = \"t\"\nstate_schema = \"select\"\n");
    word.write("plans/0001-a.toml", kPlan);
    auto w = word.load();
    CHECK_MESSAGE(has(w, "state_schema \"select\" is a reserved SQL word"), all(w));
  }

  TEST_CASE("6. lock_timeout: \"0s\" is refused with a pointer to \"none\"; \"none\" means PostgreSQL's 0") {
    auto zero = project_with("[guards]\nlock_timeout = \"0s\"\n");
    CHECK_MESSAGE(has(zero, "phasegate.toml:4:16: lock_timeout = \"0s\" would disable the lock timeout"), all(zero));
    CHECK_MESSAGE(has(zero, "Write lock_timeout = \"none\" if you really want no timeout"), all(zero));
    {
      TempProject p(std::string(kProject) + "[guards]\nlock_timeout = \"none\"\n");
      p.write("plans/0001-a.toml", kPlan);
      std::vector<Plan> plans;
      Project project;
      auto d = p.load(&plans, &project);
      REQUIRE_MESSAGE(d.empty(), all(d));
      REQUIRE(plans.size() == 1);
      CHECK(merge_guards(project.guards, plans[0].guards).lock_timeout == Millis(0));
    }
    plans_refused({
        {"[[expand.steps]]\nname = \"a\"\nsql = \"SELECT 1\"\nlock_timeout = \"0ms\"\n", "0001-a.toml:4:16: lock_timeout = \"0ms\" would disable"},
        {std::string("[guards]\nlock_timeout = \"0h\"\n") + kPlan, "0001-a.toml:2:16: lock_timeout = \"0h\" would disable"},
    });
    // statement_timeout: 0 disables it too, and phasegate bounds command steps and rollbacks with it: refused, "none" too.
    // Above PostgreSQL's int milliseconds the SET fails mid-run: refused here.
    projects_refused({
        {"[guards]\nstatement_timeout = \"0s\"\n", "phasegate.toml:4:21: statement_timeout = \"0s\" would disable the statement timeout"},
        {"[guards]\nstatement_timeout = \"none\"\n", "phasegate.toml:4:21: \"statement_timeout\" cannot be \"none\""},
        {"[guards]\nstatement_timeout = \"25d\"\n", "statement_timeout = \"25d\" is above PostgreSQL's limit"},
    });
  }

  TEST_CASE("7. names: empty or blank step names and plan ids, control characters") {
    const std::string sql = "\nsql = \"SELECT 1\"\n";
    plans_refused({
        {"[[expand.steps]]\nname = \"\"" + sql, "0001-a.toml:2:8: step name must not be empty"},
        {"[[expand.steps]]\nname = \"  \"" + sql, "0001-a.toml:2:8: step name must not be blank"},
        {"[[expand.steps]]\nname = \"a\\nstep.completed\"" + sql,
         "0001-a.toml:2:8: step name must not contain control characters (U+000A at character 2)"},
        {"[[expand.steps]]\nname = \"a\\u0007\"" + sql, "U+0007"},
        {std::string("[plan]\nid = \"\"\n") + kPlan, "0001-a.toml:2:6: plan id must not be empty"},
        {std::string("[plan]\nid = \"x\\ty\"\n") + kPlan, "0001-a.toml:2:6: plan id must not contain control characters (U+0009"},
    });
    TempProject dot;
    dot.write("plans/.toml", kPlan);
    auto d = dot.load();
    CHECK_MESSAGE(has(d, ".toml:1:1: plan id (the file name without .toml) must not be empty"), all(d));
    projects_refused({{"[services.\"a\\nb\"]\nkind = \"systemd\"\nunit = \"a.service\"\n",
                       "the name of [services.\"a\nb\"] must not contain control characters"}});
  }

  TEST_CASE("8. NUL bytes in SQL and argv strings") {
    std::string text = "[[expand.steps]]\nname = \"a\"\nsql = \"CREATE TABLE a (id int)\\u0000; DROP TABLE b\"\n";
    auto d = plan_with(text);
    CHECK_MESSAGE(has(d, "0001-a.toml:3:7: \"expand.steps.sql\" contains a NUL byte (\\u0000) at character 24"), all(d));
    auto down = plan_with(std::string(kPlan).replace(std::string(kPlan).find("down = \"DROP"), 12, "down = \"\\u0000DROP"));
    CHECK_MESSAGE(has(down, "\"expand.steps.down\" contains a NUL byte"), all(down));
    auto argv = plan_with("[[expand.steps]]\nname = \"a\"\ncommand = [\"/bin/true\", \"x\\u0000y\"]\n");
    CHECK_MESSAGE(has(argv, "an item of \"expand.steps.command\" contains a NUL byte"), all(argv));
  }

  TEST_CASE("9. plans_dir entries that are not files are refused by name, never opened") {
    TempProject p;
    p.write("plans/0001-a.toml", kPlan);
    fs::create_symlink(p.root / "plans" / "missing.toml", p.root / "plans" / "0002-dangling.toml");
    REQUIRE(::mkfifo((p.root / "plans" / "0003-fifo.toml").c_str(), 0600) == 0);  // opening it would block
    Watchdog watchdog;
    fs::create_directory(p.root / "plans" / "0004-dir.toml");
    fs::create_symlink(p.root / "plans" / "0001-a.toml", p.root / "plans" / "0005-link.toml");
    fs::create_symlink("nobody@host.1234:1700000000", p.root / "plans" / ".#0001-a.toml");  // an editor's lock file
    p.write("plans/README.md", "not a plan");
    std::vector<Plan> plans;
    auto d = p.load(&plans);
    INFO(all(d));
    CHECK(has(d, "0002-dangling.toml: is a dangling symlink"));
    CHECK(has(d, "0003-fifo.toml: is a FIFO (named pipe), not a file"));
    CHECK(has(d, "0004-dir.toml: is a directory, not a file"));
    CHECK(d.size() == 3);
    CHECK(plans.size() == 2);  // 0001-a and 0005-link: a symlink to a regular file is a plan; .#* and README.md are not
  }

  TEST_CASE("phasegate.toml itself: a FIFO is refused, not opened") {
    auto dir = fs::temp_directory_path() / ("phasegate-refusals-fifo-" + std::to_string(::getpid()));
    fs::remove_all(dir);
    fs::create_directories(dir);
    REQUIRE(::mkfifo((dir / "phasegate.toml").c_str(), 0600) == 0);
    Watchdog watchdog;
    Diagnostics d;
    CHECK_FALSE(load_project((dir / "phasegate.toml").string(), d));
    CHECK_MESSAGE(has(d, "phasegate.toml: is a FIFO (named pipe), not a file"), all(d));
    fs::remove_all(dir);
  }

  TEST_CASE("long values do not overflow the stack (libstdc++'s std::regex recurses per character; found by the fuzzer)") {
    std::string long_url = "postgresql://app:" + std::string(200'000, 'x') + "@db/app";
    auto pw = project_with("[database]\nurl = \"" + long_url + "\"\n");
    CHECK_MESSAGE(has(pw, "phasegate.toml:4:7: database.url contains a password"), all(pw));
    auto no_pw = project_with("[database]\nurl = \"host=db " + std::string(200'000, 'y') + "\"\n");
    CHECK_MESSAGE(no_pw.empty(), all(no_pw).substr(0, 300));
    for (const char* url : {"postgres://u:p@h/d", "host=db password=x", "host=db password = x", "postgresql://h/d?sslmode=require&password=x"}) {
      auto d = project_with(std::string("[database]\nurl = \"") + url + "\"\n");
      CHECK_MESSAGE(has(d, "database.url contains a password"), url << ": " << all(d));
    }
    for (const char* url : {"postgresql://u@h/d", "host=db user=app", "host=db passwordfile=x"}) {
      auto d = project_with(std::string("[database]\nurl = \"") + url + "\"\n");
      CHECK_MESSAGE(d.empty(), url << ": " << all(d));
    }
    TempProject p("[project]\nname = \"t\"\nstate_schema = \"" + std::string(100'000, 'a') + "\"\n");
    p.write("plans/0001-a.toml", kPlan);
    CHECK(has(p.load(), "state_schema must be a lowercase SQL identifier"));
    auto day = project_with("[windows.w]\ntimezone = \"UTC\"\nallow = [ { days = \"mon\", start = \"" + std::string(100'000, '1') +
                            "\", end = \"06:00\" } ]\ndeny = [ { from = \"" + std::string(100'000, '2') + "\" } ]\n");
    CHECK(has(day, "invalid time"));
    CHECK(has(day, "invalid date"));
    auto table = plan_with(std::string(kPlan) + "[[migrate.steps]]\nname = \"f\"\nbackfill = { table = \"" + std::string(10'000, 't') +
                           "\", set = \"x = 1\" }\n");
    CHECK_MESSAGE(has(table, "backfill.table is longer than a PostgreSQL table name can be"), all(table).substr(0, 300));
  }

  TEST_CASE("http checks: what the HTTP adapter would refuse at run time is refused here") {
    for (const char* url : {"ftp://x/", "http://", "http:///path", "localhost:8080/health", "http://x/\\u0007"}) {
      auto d = project_with(std::string("[smoke.s]\nhttp = \"") + url + "\"\n");
      CHECK_MESSAGE(has(d, "phasegate.toml:4:8: http must be an http:// or https:// URL with a host"), url << ": " << all(d));
    }
    auto ok = project_with("[smoke.s]\nhttp = \"https://api.example.com:8443/health?x=1#top\"\n");
    CHECK_MESSAGE(ok.empty(), all(ok));
    auto health = project_with("[services.api]\nkind = \"systemd\"\nunit = \"api.service\"\nhealth = { http = \"api/health\" }\n");
    CHECK_MESSAGE(has(health, "http must be an http:// or https:// URL"), all(health));
  }

  TEST_CASE("problems about the content carry a line: plans_dir, rollback.master") {
    TempProject p(std::string(kProject) + "plans_dir = \"nowhere\"\n[rollback]\nmaster = { kind = \"command\", command = [\"hooks/missing.sh\"] }\n");
    auto d = p.load();
    CHECK_MESSAGE(has(d, "phasegate.toml:3:13: plans directory"), all(d));
    CHECK_MESSAGE(has(d, "phasegate.toml:5:10: rollback.master: hook hooks/missing.sh does not exist"), all(d));
  }

  TEST_CASE("a plan's [guards] is checked like the project's: approvals need [approvals], throttle_query must parse") {
    auto approvals = plan_with(std::string("[guards]\napprovals = 2\n") + kPlan);
    CHECK_MESSAGE(has(approvals, "0001-a.toml:1:1: guards.approvals > 0 needs an [approvals] table"), all(approvals));
    auto throttle = plan_with(std::string("[guards]\nthrottle_query = \"SELEC false\"\n") + kPlan);
    CHECK_MESSAGE(has(throttle, "0001-a.toml:1:1: guards.throttle_query does not parse"), all(throttle));
  }

  TEST_CASE("durations: zero timeouts and overflowing totals") {
    auto health = project_with("[services.api]\nkind = \"systemd\"\nunit = \"api.service\"\nhealth = { http = \"http://x/\", timeout = \"0s\" }\n");
    CHECK_MESSAGE(has(health, "\"timeout\" must be more than 0"), all(health));
    // 1e9 days summed 20 times used to overflow a long long (undefined behaviour); now it is simply too long.
    std::string big;
    for (int i = 0; i < 20; ++i) big += "999999999d";
    auto over = project_with("[rollback]\ntimeout = \"" + big + "\"\n");
    CHECK_MESSAGE(has(over, "is longer than the 3650d phasegate accepts"), all(over));
  }
}
