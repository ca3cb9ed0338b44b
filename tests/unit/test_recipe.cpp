// Recipes (src/config/recipe.cpp, plans/*.toml): placeholders, quoting, --set checks, and every shipped recipe
// instantiated — with an awkward table name — loads, validates and lints with no finding.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <unistd.h>

#include "phasegate/config.hpp"
#include "phasegate/lint.hpp"
#include "phasegate/recipe.hpp"

using namespace phasegate;
namespace fs = std::filesystem;

namespace {

const std::string kMini = R"R([recipe]
summary = "mini"
[recipe.vars]
table = { help = "the table" }
column = { help = "the column" }
type = { kind = "sql", help = "its type", default = "text" }
index = { help = "index name", default = "${table}_${column}_idx" }
cols = { kind = "columns", help = "columns", default = "a, B" }
rows = { kind = "integer", help = "batch", default = "10" }

[plan]
description = "${table:text} ${column:literal}"
[expand]
[[expand.steps]]
name = "add ${column:text}"
sql = "ALTER TABLE ${table} ADD COLUMN ${column} ${type}; CREATE INDEX CONCURRENTLY ${index} ON ${table} (${cols})"
# rows: ${rows}
)R";

recipe::Recipe mini() {
  auto r = recipe::parse("mini", "plans/mini.toml", kMini);
  REQUIRE_MESSAGE(r, (r ? "" : r.error().message));
  return *r;
}

std::string source_plans() { return std::string(PHASEGATE_TEST_DATA) + "/../../plans"; }

std::string read(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The values each shipped recipe needs, with a table name that must be quoted.
std::map<std::string, std::string> sample_values(const recipe::Recipe& r) {
  std::map<std::string, std::string> v;
  for (const auto& var : r.vars) {
    if (var.default_value) continue;
    if (var.name == "table") v[var.name] = "Order Items";
    else if (var.name == "ref_table") v[var.name] = "orders";
    else if (var.name == "columns") v[var.name] = "sku, Line No";
    else if (var.name == "new_name") v[var.name] = "quantity";
    else if (var.name == "type") v[var.name] = "bigint";
    else if (var.name == "default" || var.name == "fill") v[var.name] = "0";
    else v[var.name] = "qty";
  }
  return v;
}

}  // namespace

TEST_SUITE("config::recipe") {
  TEST_CASE("identifiers are quoted as PostgreSQL's quote_ident would, keywords too") {
    CHECK(recipe::quote_ident("orders") == "orders");
    CHECK(recipe::quote_ident("order_items2") == "order_items2");
    CHECK(recipe::quote_ident("Order Items") == "\"Order Items\"");
    CHECK(recipe::quote_ident("Orders") == "\"Orders\"");
    CHECK(recipe::quote_ident("select") == "\"select\"");
    CHECK(recipe::quote_ident("user") == "\"user\"");
    CHECK(recipe::quote_ident("2fa") == "\"2fa\"");
    CHECK(recipe::quote_ident("a\"b") == "\"a\"\"b\"");
    CHECK(recipe::quote_literal("it's") == "'it''s'");
  }

  TEST_CASE("placeholders take their kind's form; defaults are built from the other values") {
    auto text = recipe::instantiate(mini(), {{"table", "Order Items"}, {"column", "note"}}, "phasegate new x --recipe mini");
    REQUIRE_MESSAGE(text, (text ? "" : text.error().message));
    CHECK(text->find("# Made by: phasegate new x --recipe mini\n") == 0);
    CHECK(text->find(R"(description = "Order Items 'note'")") != std::string::npos);
    CHECK(text->find(R"(name = "add note")") != std::string::npos);
    // The quoted name is escaped for the TOML string it stands in.
    CHECK(text->find(R"(ALTER TABLE \"Order Items\" ADD COLUMN note text;)") != std::string::npos);
    CHECK(text->find(R"(CREATE INDEX CONCURRENTLY \"Order Items_note_idx\" ON \"Order Items\" (a, \"B\"))") != std::string::npos);
    CHECK(text->find("# rows: 10") != std::string::npos);
  }

  TEST_CASE("unknown and missing --set keys and bad values are refused, naming them") {
    auto r = mini();
    auto unknown = recipe::instantiate(r, {{"table", "t"}, {"colum", "c"}}, "");
    REQUIRE(!unknown);
    CHECK(unknown.error().code == Exit::invalid);
    CHECK(unknown.error().message.find("no variable \"colum\" (did you mean \"column\"?)") != std::string::npos);
    auto missing = recipe::instantiate(r, {{"table", "t"}}, "");
    REQUIRE(!missing);
    CHECK(missing.error().message.find("needs --set for: column (the column)") != std::string::npos);
    auto empty = recipe::instantiate(r, {{"table", ""}, {"column", "c"}}, "");
    REQUIRE(!empty);
    CHECK(empty.error().message.find("--set table is empty") != std::string::npos);
    auto rows = recipe::instantiate(r, {{"table", "t"}, {"column", "c"}, {"rows", "ten"}}, "");
    REQUIRE(!rows);
    CHECK(rows.error().message.find("--set rows must be a positive whole number") != std::string::npos);
    // A default built from long names would be cut by PostgreSQL: refused, saying it was the default.
    auto long_name = recipe::instantiate(r, {{"table", std::string(40, 't')}, {"column", std::string(30, 'c')}}, "");
    REQUIRE(!long_name);
    CHECK(long_name.error().message.find("--set index") != std::string::npos);
    CHECK(long_name.error().message.find("(its default") != std::string::npos);
    auto nul = recipe::instantiate(r, {{"table", std::string("a\0b", 3)}, {"column", "c"}}, "");
    REQUIRE(!nul);
    CHECK(nul.error().message.find("NUL") != std::string::npos);
  }

  TEST_CASE("a recipe whose placeholders name no variable is refused at its file:line") {
    std::string bad = kMini + "sql2 = \"${tabel}\"\n";
    auto r = recipe::parse("mini", "plans/mini.toml", bad);
    REQUIRE(!r);
    CAPTURE(r.error().message);
    CHECK(r.error().message.find("plans/mini.toml:18: ${tabel} names no variable") != std::string::npos);
    auto form = recipe::parse("mini", "plans/mini.toml", kMini + "x = \"${table:raw}\"\n");
    REQUIRE(!form);
    CHECK(form.error().message.find("unknown form \":raw\"") != std::string::npos);
    auto no_plan = recipe::parse("mini", "plans/mini.toml", "[recipe]\nsummary = \"x\"\n");
    REQUIRE(!no_plan);
    CHECK(no_plan.error().message.find("no [plan] line") != std::string::npos);
    auto kind = recipe::parse("mini", "f.toml", "[recipe]\nsummary = \"x\"\n[recipe.vars]\nt = { kind = \"name\", help = \"h\" }\n[plan]\n");
    REQUIRE(!kind);
    CHECK(kind.error().message.find("unknown kind \"name\"") != std::string::npos);
  }

  TEST_CASE("every shipped recipe makes a valid plan that lint finds nothing in") {
    auto found = recipe::find_all({source_plans()});
    REQUIRE(found.size() >= 7);
    fs::path dir = fs::temp_directory_path() / ("phasegate-recipe-test-" + std::to_string(::getpid()));
    fs::create_directories(dir / "plans");
    { std::ofstream(dir / "phasegate.toml") << "[project]\nname = \"t\"\n"; }
    Diagnostics pdiags;
    auto project = load_project((dir / "phasegate.toml").string(), pdiags);
    REQUIRE(project);
    for (const auto& [name, file] : found) {
      CAPTURE(name);
      auto r = recipe::parse(name, file, read(file));
      REQUIRE_MESSAGE(r, (r ? "" : r.error().message));
      auto text = recipe::instantiate(*r, sample_values(*r), "phasegate new x --recipe " + name);
      REQUIRE_MESSAGE(text, (text ? "" : text.error().message));
      std::string path = (dir / "plans" / ("0001-" + name + ".toml")).string();
      { std::ofstream(path) << *text; }
      Diagnostics diags;
      auto plan = load_plan(path, diags);
      REQUIRE(plan);
      validate_plan(*project, *plan, diags);
      std::string problems;
      for (const auto& d : diags) problems += d.str() + "\n";
      problems += *text;
      CHECK_MESSAGE(diags.empty(), problems);
      lint::Summary summary;
      auto findings = lint::lint_units(lint::units_of_plan(*plan), summary);
      std::string listed;
      for (const auto& f : findings) listed += f.pos.str() + ": " + f.rule + ": " + f.message + "\n";
      CHECK_MESSAGE(findings.empty(), listed);
      fs::remove(path);
    }
    fs::remove_all(dir);
  }

  TEST_CASE("a backfill of a column an earlier down drops needs no undo, whatever the table's spelling") {
    for (const auto& [table, set] : std::vector<std::pair<std::string, std::string>>{
             {"public.\"Order Items\"", "qty_new = qty::bigint"}, {"\"Order Items\"", "\"qty_new\" = 1"}, {"orders", "qty_new = 1"}}) {
      CAPTURE(table);
      Step add;
      add.name = "add";
      add.down = table == "orders" ? "ALTER TABLE Orders DROP COLUMN qty_new" : "ALTER TABLE public.\"Order Items\" DROP COLUMN IF EXISTS qty_new";
      Step fill;
      fill.name = "fill";
      fill.backfill = Backfill{table, set, "", 1000, Millis(200), Millis(0)};
      CHECK(lint::why_no_undo(fill, {&add}).has_value());
      add.down = "ALTER TABLE public.\"Order Items\" DROP COLUMN IF EXISTS other";  // another column: an undo is needed
      CHECK(!lint::why_no_undo(fill, {&add}).has_value());
    }
  }
}
