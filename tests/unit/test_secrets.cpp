// Credentials are never echoed (docs/secrets.md): the conninfo password parser and the mask.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "phasegate/secrets.hpp"

using namespace phasegate;

namespace {
// The mask for the duration of a test, forgotten afterwards.
struct Remembered {
  explicit Remembered(const std::string& conninfo) { secrets::remember_conninfo(conninfo); }
  ~Remembered() { secrets::forget_all(); }
};
bool leaks(const std::string& text, const std::string& secret) { return text.find(secret) != std::string::npos; }
}  // namespace

TEST_SUITE("secrets") {
  TEST_CASE("the password of every conninfo form, as libpq reads it") {
    CHECK(secrets::conninfo_password("postgresql://u:S3cr3t@h/db") == "S3cr3t");
    CHECK(secrets::conninfo_password("postgres://u:p%40ss@h:5432/db?sslmode=require") == "p@ss");
    CHECK(secrets::conninfo_password("postgresql://u:p%zz@h/db") == "p%zz");  // malformed escape: as written
    CHECK(secrets::conninfo_password("postgresql://u:PW@[::1/x") == "PW");    // malformed host: still found
    CHECK(secrets::conninfo_password("postgresql://h/db?user=u&password=qq%20r") == "qq r");
    CHECK(secrets::conninfo_password("postgresql://u@h/db") == "");
    CHECK(secrets::conninfo_password("postgresql://h:5432/db") == "");
    CHECK(secrets::conninfo_password("host=h password=S3cr3t dbname=x") == "S3cr3t");
    CHECK(secrets::conninfo_password("host=h password = 'a b\\'c' dbname=x") == "a b'c");
    CHECK(secrets::conninfo_password("host=h dbname=postgresql://u:inner@h/db") == "inner");
    CHECK(secrets::conninfo_password("host=h user=u dbname=x") == "");
  }

  TEST_CASE("remembered passwords are masked verbatim, in every encoding they were written in") {
    Remembered r("postgresql://u:p%40ss-w%C3%B6rd@h/db");
    CHECK(secrets::redact("auth failed for p@ss-wörd and p%40ss-w%C3%B6rd") == "auth failed for **** and ****");
    Remembered kv("host=h password='quote\"d pass' dbname=x");
    std::string json_text = nlohmann::json{{"stdout", "pw=quote\"d pass"}}.dump();
    CHECK_FALSE_MESSAGE(leaks(secrets::redact(json_text), "quote\\\"d pass"), secrets::redact(json_text));
  }

  TEST_CASE("libpq's messages that quote a malformed conninfo are masked") {
    Remembered r1("postgresql://u:S3cr3t-zz-1@[::1/x");
    std::string m1 = "invalid connection string \"postgresql://u:S3cr3t-zz-1@[::1/x\": end of string reached when looking for matching \"]\"";
    CHECK_FALSE_MESSAGE(leaks(secrets::redact(m1), "S3cr3t-zz-1"), secrets::redact(m1));
    CHECK(secrets::redact(m1).find("postgresql://u:****@[::1/x") != std::string::npos);
    Remembered r2("postgresql://u:p%zz-S3cr3t@h/db");
    std::string m2 = "invalid percent-encoded token: \"p%zz-S3cr3t\"";
    CHECK(secrets::redact(m2) == "invalid percent-encoded token: \"****\"");
  }

  TEST_CASE("structural masking needs no registry: URI userinfo, password=, quoted values, PGPASSWORD=") {
    secrets::forget_all();
    CHECK(secrets::redact("see postgresql://app:hunter2@db/x for details") == "see postgresql://app:****@db/x for details");
    CHECK(secrets::redact("postgres://app@db/x") == "postgres://app@db/x");  // no password: untouched
    CHECK(secrets::redact("host=db password=hunter2 user=app") == "host=db password=**** user=app");
    CHECK(secrets::redact("host=db password='a b c' user=app") == "host=db password=**** user=app");
    CHECK(secrets::redact("postgresql://db/x?user=app&password=hunter2&sslmode=require") ==
          "postgresql://db/x?user=app&password=****&sslmode=require");
    CHECK(secrets::redact("PGPASSWORD=hunter2") == "PGPASSWORD=****");
    CHECK(secrets::redact("database.url contains a password; keep secrets out of the file") ==
          "database.url contains a password; keep secrets out of the file");
    // The key in any case, anywhere in the line, after other p/P bytes (the search jumps between candidates).
    CHECK(secrets::redact("PassWord=hunter2") == "PassWord=****");
    CHECK(secrets::redact("pp Pp PASSWORD=hunter2") == "pp Pp PASSWORD=****");
    CHECK(secrets::redact("app: PgPassword = hunter2") == "app: PgPassword = ****");
    CHECK(secrets::redact("passwor") == "passwor");
    CHECK(secrets::redact("a passwor") == "a passwor");
    CHECK(secrets::redact(std::string(300, 'p') + " password=x") == std::string(300, 'p') + " password=****");
    // Idempotent: masking a masked text changes nothing.
    std::string once = secrets::redact("postgresql://app:hunter2@db/x password=x");
    CHECK(secrets::redact(once) == once);
  }

  TEST_CASE("short passwords are masked where they sit, not everywhere") {
    Remembered r("host=h password=ab");
    CHECK(secrets::redact("about tables") == "about tables");
    CHECK(secrets::redact("host=h password=ab") == "host=h password=****");
  }

  TEST_CASE("redact_json masks inside strings and keys and keeps the document valid") {
    Remembered r("postgresql://u:S3cr3t-zz-2@h/db");
    std::string doc = nlohmann::json{{"stdout", "DATABASE_URL=postgresql://u:S3cr3t-zz-2@h/db\n"}, {"S3cr3t-zz-2", 1},
                                     {"n", {1, 2, "x S3cr3t-zz-2"}}}.dump();
    std::string out = secrets::redact_json(doc);
    CHECK_FALSE_MESSAGE(leaks(out, "S3cr3t-zz-2"), out);
    auto back = nlohmann::json::parse(out, nullptr, false);
    REQUIRE_FALSE(back.is_discarded());
    CHECK(back["stdout"] == "DATABASE_URL=postgresql://u:****@h/db\n");
    CHECK(back["n"][2] == "x ****");
    std::string clean = R"({"a": 1})";
    CHECK(secrets::redact_json(clean) == clean);  // nothing to mask: the text as it was
  }
}
