// ALTER COLUMN ... TYPE: which conversions PostgreSQL 15 makes without touching the rows. The one table of them;
// tests/unit/test_sql.cpp has a case per row and tests/e2e/test_trace.sh checks rows against relfilenode.
// PostgreSQL skips the rewrite when the conversion is binary coercible (pg_cast method 'b': varchar -> text,
// cidr -> inet, citext's casts) or a length/precision coercion whose support function proves it a no-op
// (varchar_support, numeric_support, TemporalSimplify, interval_support); anything else rewrites the table and
// rebuilds its indexes.
#include "sql/facts.hpp"

namespace phasegate::sql {

namespace {

struct Type {
  std::string base;
  std::vector<long> mods;
  bool array = false;
};

std::optional<Type> split(std::string_view t) {
  Type out;
  while (t.size() >= 2 && t.substr(t.size() - 2) == "[]") {
    out.array = true;
    t.remove_suffix(2);
  }
  auto paren = t.find('(');
  out.base = std::string(t.substr(0, paren));
  if (out.base.empty()) return std::nullopt;
  if (paren == std::string_view::npos) return out;
  if (t.back() != ')') return std::nullopt;
  std::string_view mods = t.substr(paren + 1, t.size() - paren - 2);
  while (!mods.empty()) {
    auto comma = mods.find(',');
    std::string part(mods.substr(0, comma));
    if (part.empty() || part.size() > 9 || part.find_first_not_of("0123456789") != std::string::npos) return std::nullopt;
    out.mods.push_back(std::stol(part));
    if (comma == std::string_view::npos) break;
    mods.remove_prefix(comma + 1);
  }
  return out;
}

// Built-in types whose conversions this table knows: between two of them, a pair not listed below rewrites.
const std::set<std::string>& known_types() {
  static const std::set<std::string> names = {
      "int2", "int4", "int8", "float4", "float8", "numeric", "text", "varchar", "bpchar", "citext", "bool", "date",
      "time", "timetz", "timestamp", "timestamptz", "interval", "uuid", "json", "jsonb", "bytea", "inet", "cidr",
      "macaddr", "macaddr8", "money"};
  return names;
}

constexpr long kIntervalFullRange = 0x7FFF;  // INTERVAL_FULL_RANGE: interval(p) without YEAR / DAY TO ... fields
constexpr long kMaxPrecision = 6;             // MAX_TIMESTAMP_PRECISION, MAX_TIME_PRECISION, MAX_INTERVAL_PRECISION

// TemporalSimplify: a no-op when the new precision is unconstrained, the maximum, or not below the old one.
bool precision_kept(long old_p, long new_p) { return new_p < 0 || new_p == kMaxPrecision || (old_p >= 0 && new_p >= old_p); }

std::string arrow(std::string_view from, std::string_view to) { return std::string(from) + " to " + std::string(to); }

}  // namespace

TypeChange type_change(std::string_view from, std::string_view to) {
  const std::string what = arrow(from, to);
  if (from == to) return {Rewrite::no, "the column already is " + std::string(to) + ": nothing to convert"};
  auto f = split(from), t = split(to);
  if (!f || !t) return {Rewrite::maybe, "phasegate cannot read the types of " + what};
  const TypeChange none{Rewrite::no, what + " is binary compatible: no rewrite, no scan"};
  const TypeChange rewrite{Rewrite::yes, what + " rewrites every row"};
  if (f->array || t->array)
    return {Rewrite::maybe, "phasegate does not know whether " + what + " is binary compatible"};
  const std::string &a = f->base, &b = t->base;
  const auto old_mod = [&](size_t i) { return i < f->mods.size() ? f->mods[i] : -1L; };
  const auto new_mod = [&](size_t i) { return i < t->mods.size() ? t->mods[i] : -1L; };
  const bool texty = a == "varchar" || a == "text" || a == "citext";
  if (a == "citext" && b == "text")
    return {Rewrite::no, what + " is binary compatible (no rewrite), but every index on the column is rebuilt for "
                                "text's operator class", true};
  if (texty && b == "text") return none;  // pg_cast 'b' (relabel)
  if ((a == "varchar" || a == "text") && b == "citext")  // citext: WITHOUT FUNCTION casts, but its own operator class
    return {Rewrite::no, what + " is binary compatible (no rewrite), but every index on the column is rebuilt for "
                                "citext's operator class", true};
  if (texty && b == "varchar") {
    if (t->mods.empty() && a == "citext")
      return {Rewrite::no, what + " is binary compatible (no rewrite), but every index on the column is rebuilt", true};
    if (t->mods.empty()) return none;  // varchar without a limit: a relabel
    if (a == "varchar" && !f->mods.empty() && new_mod(0) >= old_mod(0))
      return {Rewrite::no, what + " only raises the length limit: no rewrite, no scan"};
    return {Rewrite::yes, what + " lowers or adds a length limit: every value is checked and the table rewritten"};
  }
  if (a == "numeric" && b == "numeric") {
    if (t->mods.empty()) return {Rewrite::no, what + " drops the precision limit: no rewrite, no scan"};
    if (f->mods.empty()) return {Rewrite::yes, what + " adds a precision limit: every value is rounded and the table rewritten"};
    const long old_scale = f->mods.size() > 1 ? f->mods[1] : 0, new_scale = t->mods.size() > 1 ? t->mods[1] : 0;
    if (old_scale != new_scale) return {Rewrite::yes, what + " changes the scale: every value is rounded and the table rewritten"};
    if (new_mod(0) >= old_mod(0)) return {Rewrite::no, what + " raises the precision at the same scale: no rewrite, no scan"};
    return {Rewrite::yes, what + " lowers the precision: every value is checked and the table rewritten"};
  }
  if (a == b && (a == "timestamp" || a == "timestamptz" || a == "time")) {
    if (precision_kept(old_mod(0), new_mod(0))) return {Rewrite::no, what + " keeps or raises the fractional-second precision: no rewrite"};
    return {Rewrite::yes, what + " lowers the fractional-second precision: every value is rounded and the table rewritten"};
  }
  if (a == "interval" && b == "interval") {
    if (t->mods.empty()) return {Rewrite::no, what + " drops the interval's limits: no rewrite"};
    const bool full = (f->mods.empty() || old_mod(0) == kIntervalFullRange) && new_mod(0) == kIntervalFullRange;
    if (!full) return {Rewrite::maybe, "phasegate does not know whether " + what + " (interval fields) rewrites"};
    if (precision_kept(old_mod(1), new_mod(1))) return {Rewrite::no, what + " keeps or raises the fractional-second precision: no rewrite"};
    return {Rewrite::yes, what + " lowers the fractional-second precision: every value is rounded and the table rewritten"};
  }
  if (a == "cidr" && b == "inet") return none;
  if ((a == "timestamp" && b == "timestamptz") || (a == "timestamptz" && b == "timestamp"))
    return {Rewrite::maybe, what + " rewrites the table unless the session TimeZone is UTC (PostgreSQL 12+ skips the "
                                   "rewrite only then; phasegate cannot know the server's setting)"};
  if (known_types().count(a) && known_types().count(b)) return rewrite;
  return {Rewrite::maybe, "phasegate does not know whether " + what + " is binary compatible"};
}

Rewrite rewrite_to(std::string_view to) {
  static const std::set<std::string> reachable = {"text", "varchar", "citext", "numeric", "timestamp", "timestamptz",
                                                  "time", "interval", "inet"};
  auto t = split(to);
  return t && reachable.count(t->base) ? Rewrite::maybe : Rewrite::yes;
}

std::optional<std::string> normalize_type(std::string_view sql_type) {
  if (sql_type.empty() || sql_type.size() > 200) return std::nullopt;
  const std::string query = "SELECT NULL::" + std::string(sql_type);
  ParseContext context;
  PgQueryInternalParsetreeAndError r = pg_query_raw_parse(query.c_str());
  free(r.stderr_buffer);
  if (r.error) {
    pg_query_free_error(r.error);
    return std::nullopt;
  }
  std::string out;  // a plain string: GCC 12 warns (maybe-uninitialized) on an optional<string> built up here
  const auto* raw = items(r.tree).size() == 1 ? PG_AS(linitial(r.tree), RawStmt) : nullptr;
  const auto* sel = raw ? PG_AS(raw->stmt, SelectStmt) : nullptr;
  if (sel && items(sel->targetList).size() == 1)
    if (const auto* target = PG_AS(linitial(sel->targetList), ResTarget))
      if (const auto* cast = PG_AS(target->val, TypeCast)) out = type_name_of(cast->typeName);
  if (out.empty()) return std::nullopt;
  return out;
}

}  // namespace phasegate::sql
