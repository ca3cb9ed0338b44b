// The rule table, ignore comments, and the walk over units that keeps the plan's history.
#include <algorithm>
#include <memory>
#include <cctype>
#include <sstream>

#include "lint/context.hpp"
#include "phasegate/text.hpp"

namespace phasegate::lint {

namespace {
struct Family {
  RuleFn check;
};
// Every rule family, in the order findings are reported for one statement.
constexpr Family kFamilies[] = {{columns_rules}, {constraints_rules}, {indexes_rules}, {phases_rules},
                                {rewrite_rules},  {objects_rules},     {database_rules}, {advice_rules}};
// Once per statement, after the action families, with an empty action (statements without actions too).
constexpr Family kStatementFamilies[] = {{transactions_rules}, {advice_statement_rules}};

const RuleInfo* find_rule(std::string_view id) {
  for (const auto& r : rules())
    if (id == r.id) return &r;
  return nullptr;
}

struct Ignore {
  size_t offset = 0;  // of the comment in the unit text
  std::vector<std::string> rules;
  std::set<std::string> used;
};

// "-- phasegate:ignore rule-a,rule-b reason" on the line just before `offset`.
std::optional<Ignore> ignore_before(const std::string& text, size_t offset) {
  size_t line_start = offset == 0 ? 0 : text.rfind('\n', offset - 1);
  if (line_start == std::string::npos || line_start == 0) return std::nullopt;
  size_t prev_start = text.rfind('\n', line_start - 1);
  prev_start = prev_start == std::string::npos ? 0 : prev_start + 1;
  std::string prev = text.substr(prev_start, line_start - prev_start);
  // ^\s*--\s*phasegate:ignore\s+([a-z0-9,-]+), by hand: libstdc++'s std::regex recurses per character, and a long
  // ignore line overflowed the stack (validate and run crashed).
  auto space = [&](size_t i) { return i < prev.size() && std::isspace(static_cast<unsigned char>(prev[i])); };
  size_t i = 0;
  while (space(i)) ++i;
  if (prev.compare(i, 2, "--") != 0) return std::nullopt;
  const size_t dash = i;
  i += 2;
  while (space(i)) ++i;
  static constexpr std::string_view kIgnore = "phasegate:ignore";
  if (prev.compare(i, kIgnore.size(), kIgnore) != 0) return std::nullopt;
  i += kIgnore.size();
  const size_t gap = i;
  while (space(i)) ++i;
  const size_t first = i;
  auto rule_char = [&](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == ',' || c == '-'; };
  while (i < prev.size() && rule_char(prev[i])) ++i;
  if (first == gap || i == first) return std::nullopt;  // \s+ then at least one rule character
  Ignore ig;
  ig.offset = prev_start + dash;
  std::stringstream ss(prev.substr(first, i - first));
  std::string id;
  while (std::getline(ss, id, ','))
    if (!id.empty()) ig.rules.push_back(id);
  return ig;
}

// A timeout setting's value turns the timeout on unless it is zero ("0", "0s", '0ms', 0.0): 0 disables it.
bool timeout_on(const std::string& value) {
  size_t i = value.find_first_not_of(" \t");
  if (i == std::string::npos) return false;
  size_t end = value.find_first_not_of("0123456789.", i);
  std::string number = value.substr(i, end == std::string::npos ? std::string::npos : end - i);
  if (number.empty()) return true;  // not a number PostgreSQL reads as 0: assume a timeout
  return number.find_first_not_of("0.") != std::string::npos;
}

// SET / SET LOCAL / RESET of lock_timeout and statement_timeout (exactly those names: foo.lock_timeout is a
// custom setting). SET LOCAL lasts until the transaction ends and does nothing outside a block.
void apply_setting(History& h, const sql::Setting& s, const Transaction& tx) {
  auto apply = [&](const char* name, bool& session, std::optional<bool>& local) {
    if (s.name != name && !(s.name == "all" && s.reset)) return;
    const bool on = !s.reset && timeout_on(s.value);
    if (s.local) {
      if (tx.block) local = on;
      return;
    }
    session = on;
    local.reset();
  };
  apply("lock_timeout", h.lock_timeout_set, h.tx.lock_timeout);
  apply("statement_timeout", h.statement_timeout_set, h.tx.statement_timeout);
}

void update_history(History& h, const sql::Statement& st, const Transaction& tx) {
  if (st.setting) apply_setting(h, *st.setting, tx);
  for (const auto& a : st.actions) {
    if (a.lock == sql::Lock::access_exclusive && h.tx.access_exclusive.empty() && existed_before(a, h)) {
      h.tx.access_exclusive = target_of(a);
      h.tx.ddl = a.kind != "lock_table";
    }
    const std::string col = a.table + "." + a.column;
    if (a.kind == "create_table")
      for (size_t i = 0; i < a.columns.size() && i < a.types.size(); ++i) h.column_types[a.table + "." + a.columns[i]] = a.types[i];
    if (a.kind == "add_column" || a.kind == "alter_type") h.column_types[col] = a.type_name;
    if (a.kind == "drop_column") h.column_types.erase(col);
    if (a.kind == "rename_column")
      if (auto it = h.column_types.find(col); it != h.column_types.end()) {
        std::string type = it->second;
        h.column_types.erase(it);
        h.column_types[a.table + "." + a.name] = type;
      }
    if (a.kind == "add_enum_value") h.tx.new_enum_values[a.column] = a.name;
    if (a.kind == "create_table") h.created_tables.insert(a.table);
    if (a.kind == "create_index") {
      h.created_indexes.insert(a.name);
      h.created_index_columns[a.table].push_back(a.columns);
    }
    if (a.kind == "add_constraint") {
      if (a.not_valid) h.tx.not_valid.insert(a.table + "." + a.name);
      if (!a.not_null_check_column.empty()) {
        if (a.not_valid) h.pending_not_null_checks[a.table + "." + a.name] = a.not_null_check_column;
        else h.validated_checks.insert(a.table + "." + a.not_null_check_column);
      }
    }
    if (a.kind == "validate_constraint") {
      auto it = h.pending_not_null_checks.find(a.table + "." + a.name);
      if (it != h.pending_not_null_checks.end()) h.validated_checks.insert(a.table + "." + it->second);
    }
  }
}

// ALTER COLUMN ... TYPE with the old type known: the compatibility table decides (sql::type_change).
void resolve_type_changes(sql::Statement& st, const History& h, const Catalog* catalog) {
  for (auto& a : st.actions) {
    if (a.kind != "alter_type") continue;
    a.old_type = old_type_of(a, h, catalog);
    if (a.old_type.empty()) continue;
    auto change = sql::type_change(a.old_type, a.type_name);
    a.rewrite = change.rewrite;
    a.rewrite_why = change.why;
  }
}

}  // namespace

std::string old_type_of(const sql::Action& a, const History& h, const Catalog* catalog) {
  if (auto it = h.column_types.find(a.table + "." + a.column); it != h.column_types.end()) return it->second;
  if (!catalog) return "";
  auto it = catalog->column_types.find((a.schema.empty() ? a.table : a.schema + "." + a.table) + "." + a.column);
  if (it == catalog->column_types.end()) return "";
  return sql::normalize_type(it->second).value_or("");
}

std::vector<Transaction> transactions_of(const Unit& unit, const sql::Script& script, int& next_id) {
  std::vector<Transaction> out(script.statements.size());
  // A plan step runs in one transaction, as the executor decides (executor.cpp): the step's `transaction`, else
  // whether every statement may run in one.
  if (!unit.sql_file && unit.transaction.value_or(script.allowed_in_transaction())) {
    const int id = ++next_id;
    for (auto& t : out) t = Transaction{id, true, false, false};
    return out;
  }
  // Autocommit: each statement is its own transaction, except between BEGIN and COMMIT / ROLLBACK.
  bool open = false;
  int id = 0;
  size_t begin_at = 0;
  for (size_t i = 0; i < out.size(); ++i) {
    const auto& st = script.statements[i];
    auto& t = out[i];
    switch (st.tx) {
      case sql::TxKind::begin:
        if (open) t.nested = true;
        else {
          open = true;
          id = ++next_id;
          begin_at = i;
        }
        t.id = id;
        t.block = true;
        break;
      case sql::TxKind::commit:
      case sql::TxKind::rollback:
      case sql::TxKind::prepare:
        if (!open) {
          t.id = ++next_id;  // PostgreSQL warns "there is no transaction in progress"
          break;
        }
        t.id = id;
        t.block = true;
        if (st.tx_chain && st.tx != sql::TxKind::prepare) id = ++next_id;  // AND CHAIN: a new block at once
        else open = false;
        break;
      default:
        t.id = open ? id : ++next_id;
        t.block = open;
        break;
    }
  }
  if (open) out[begin_at].unterminated = true;
  return out;
}

const std::vector<RuleInfo>& rules() {
  static const std::vector<RuleInfo> table = {
      {"add-column-volatile-default", "error", "ADD COLUMN with a volatile default, SERIAL/IDENTITY or GENERATED STORED rewrites the table"},
      {"add-column-required", "error", "ADD COLUMN NOT NULL without a default fails on non-empty tables"},
      {"change-column-type", "error", "ALTER COLUMN TYPE that rewrites the table"},
      {"set-not-null", "error", "SET NOT NULL without a validated CHECK (col IS NOT NULL) earlier in the plan"},
      {"constraint-missing-not-valid", "error", "ADD FOREIGN KEY / CHECK without NOT VALID, or NOT VALID and VALIDATE in one transaction"},
      {"add-unique-constraint", "error", "ADD UNIQUE / PRIMARY KEY / EXCLUDE building an index under ACCESS EXCLUSIVE"},
      {"require-concurrent-index", "error", "CREATE / DROP INDEX or REINDEX without CONCURRENTLY on an existing table"},
      {"concurrent-in-transaction", "error", "CONCURRENTLY inside a transaction or combined with other statements in a step"},
      {"unnamed-concurrent-index", "error", "CREATE INDEX CONCURRENTLY without an index name"},
      {"rename", "error", "RENAME of a column or table outside the contract phase"},
      {"drop-in-expand", "error", "DROP COLUMN / TABLE / CONSTRAINT / NOT NULL outside the contract phase"},
      {"contract-irreversible", "warning", "a contract step without down and without irreversible = true"},
      {"missing-down", "warning", "an expand or migrate step without down and without irreversible = true (VALIDATE CONSTRAINT and ANALYZE need none)"},
      {"irreversible-rerun", "warning", "an expand or migrate step with irreversible = true that is not idempotent: a rollback leaves it, the next run applies it again"},
      {"table-rewrite", "error", "VACUUM FULL, CLUSTER, SET LOGGED/UNLOGGED, TRUNCATE on a used table"},
      {"missing-lock-timeout", "warning", "(plain .sql) a strong lock taken with no SET lock_timeout before it"},
      {"missing-statement-timeout", "warning", "(plain .sql) a rewrite, scan or index build under a write-blocking lock with no SET statement_timeout before it (once per stretch)"},
      {"ddl-then-dml", "error", "UPDATE / DELETE / INSERT in the transaction after DDL took ACCESS EXCLUSIVE on an existing table"},
      {"statements-after-access-exclusive", "warning", "further statements in a transaction that holds ACCESS EXCLUSIVE on an existing table"},
      {"enum-value-used-in-transaction", "error", "a value added by ALTER TYPE ... ADD VALUE used in the same transaction (fails)"},
      {"uncommitted-transaction", "error", "(plain .sql) a BEGIN with no COMMIT or ROLLBACK before the end of the file"},
      {"transaction-nesting", "warning", "(plain .sql) BEGIN inside an open transaction: PostgreSQL ignores it, the first COMMIT ends both"},
      {"big-table", "error", "(--db) a statement that rewrites or scans under a blocking lock a table over 100k rows / 1 GiB"},
      {"long-transactions", "warning", "(--db) sessions in a transaction older than 1 min on a table the plan locks"},
      {"detach-partition", "error", "DETACH PARTITION without CONCURRENTLY: ACCESS EXCLUSIVE on the parent and the partition"},
      {"trigger-ddl", "warning", "CREATE / DROP / ENABLE / DISABLE TRIGGER on a used table: a write-blocking lock"},
      {"lock-table", "error", "LOCK TABLE in a migration (warning below SHARE mode)"},
      {"refresh-materialized-view", "error", "REFRESH MATERIALIZED VIEW without CONCURRENTLY blocks its readers"},
      {"domain-constraint", "error", "ALTER DOMAIN ADD CONSTRAINT without NOT VALID (warning: CREATE DOMAIN with a CHECK)"},
      {"drop-cascade", "error", "DROP ... CASCADE drops dependents nobody listed"},
      {"drop-database", "error", "DROP DATABASE in a migration"},
      {"unbatched-dml", "error", "(--db) an UPDATE / DELETE the planner estimates to change over 100k rows in one transaction"},
      {"foreign-key-without-index", "warning", "(--db) a foreign key whose referencing columns no index leads with"},
      {"unused-ignore", "warning", "an ignore comment that silenced nothing"},
      {"identifier-too-long", "warning", "an identifier over 63 bytes, which PostgreSQL truncates without an error"},
      // Schema-design advice (issue #13): opt-in, [lint] enable = [...] or lint --enable.
      {"prefer-text", "warning", "varchar(n) column: prefer text (with a CHECK on length if needed)", true},
      {"prefer-bigint", "warning", "int / smallint primary key or foreign-key column: prefer bigint", true},
      {"prefer-identity", "warning", "serial / bigserial column: prefer GENERATED ... AS IDENTITY", true},
      {"prefer-timestamptz", "warning", "timestamp without time zone column: prefer timestamptz", true},
      {"ban-char", "warning", "char(n) column: blank-padded, prefer text", true},
      {"prefer-jsonb", "info", "json column: prefer jsonb", true},
      {"enum-value-position", "info", "ALTER TYPE ... ADD VALUE without BEFORE / AFTER", true},
      {"require-idempotent", "warning", "CREATE without IF NOT EXISTS / OR REPLACE, DROP without IF EXISTS", true},
  };
  return table;
}

std::optional<std::string> enable_problem(const std::string& id) {
  if (const RuleInfo* r = find_rule(id))
    return r->opt_in ? std::nullopt
                     : std::optional<std::string>("rule \"" + id + "\" is always on; enable lists the opt-in rules (" +
                                                  join(opt_in_rules(), ", ") + ")");
  std::vector<std::string> ids;
  for (const auto& r : rules()) ids.emplace_back(r.id);
  std::string close = id.size() <= 64 ? did_you_mean(id, ids) : "";  // edit distance is quadratic: short words only
  return "unknown rule \"" + truncate_utf8(id, 80) + "\"" + (close.empty() ? "" : " (did you mean \"" + close + "\"?)") +
         "; opt-in rules: " + join(opt_in_rules(), ", ");
}

std::vector<std::string> opt_in_rules() {
  std::vector<std::string> out;
  for (const auto& r : rules())
    if (r.opt_in) out.emplace_back(r.id);
  return out;
}

namespace {

// missing-statement-timeout is reported once per stretch of statements that run with no statement_timeout, on
// the first of them, with how many more follow: one SET before the first bounds them all (squawk's
// require-timeout-settings reports once per file). A 20,000-statement file without one had ~5,000 such findings.
class TimeoutStretch {
 public:
  static constexpr std::string_view kRule = "missing-statement-timeout";
  // Whether the finding of statement `i` is a later one of the open stretch (counted, not reported).
  bool absorbs(size_t i) {
    if (!finding_) return false;
    if (i != last_) ++more_;
    last_ = i;
    return true;
  }
  void opened(size_t finding, size_t i) {
    finding_ = finding;
    last_ = i;
  }
  // The stretch ends where a statement runs with a statement_timeout, and with the unit.
  void close(std::vector<Finding>& out) {
    if (finding_ && more_ > 0)
      out[*finding_].message += "; and " + std::to_string(more_) + (more_ == 1 ? " statement" : " statements") +
                                " like it after this one, before any statement_timeout is set (reported here once)";
    finding_.reset();
    more_ = 0;
  }

 private:
  std::optional<size_t> finding_;
  size_t last_ = 0, more_ = 0;
};

}  // namespace

std::vector<Finding> lint_units(const std::vector<Unit>& units, Summary& summary, const Catalog* catalog,
                                const std::set<std::string>& enable) {
  std::vector<Finding> out;
  History history;
  int next_tx = 0;
  for (const auto& unit : units) {
    auto parsed = sql::parse(unit.text);
    if (!parsed.script) {
      out.push_back({"syntax-error", unit.step, "error", unit.locate(parsed.error->offset), "", "", "", parsed.error->message, ""});
      continue;
    }
    auto& statements = parsed.script->statements;
    summary.statements += static_cast<int>(statements.size());
    const auto txs = transactions_of(unit, *parsed.script, next_tx);
    // Asked of the whole step before its statements are released below (plan steps only).
    const bool plan_step = !unit.sql_file;
    const bool no_undo_needed = plan_step && !unit.has_down && !unit.irreversible && needs_no_undo(*parsed.script);
    const bool rerun_ok = plan_step && unit.irreversible && rerun_safe(*parsed.script);
    std::vector<Ignore> ignores;
    TimeoutStretch stretch;
    for (size_t i = 0; i < statements.size(); ++i) {
      if (history.tx.id != txs[i].id) {  // a new transaction: nothing of the last one holds
        history.tx = TxState{};
        history.tx.id = txs[i].id;
      }
      if (history.tx.statement_timeout.value_or(history.statement_timeout_set)) stretch.close(out);
      // Each statement's facts are released once it is linted (no rule looks back at an earlier statement's; the
      // history keeps what they need): the findings of a 20,000-statement file grow while the facts shrink.
      const sql::Statement st = [&] {
        sql::Statement taken = std::move(statements[i]);
        if (std::any_of(taken.actions.begin(), taken.actions.end(), [](const sql::Action& a) { return a.kind == "alter_type"; }))
          resolve_type_changes(taken, history, catalog);
        return taken;
      }();
      auto ignore = ignore_before(unit.text, st.offset);
      std::set<std::string> reported;  // rule + message: a multi-action statement reports each finding once
      auto sink = [&](const char* rule, std::string message, std::string help, const char* level, const sql::Action* a) {
        const RuleInfo* info = find_rule(rule);
        if (info && info->opt_in && !enable.count(rule)) return;  // a disabled rule never reports
        if (!reported.insert(std::string(rule) + '\n' + message).second) return;
        if (ignore && std::find(ignore->rules.begin(), ignore->rules.end(), rule) != ignore->rules.end()) {
          ignore->used.insert(rule);
          return;
        }
        const bool timeout_rule = rule == TimeoutStretch::kRule;
        if (timeout_rule && stretch.absorbs(i)) return;
        Finding f{rule, unit.step, level ? level : info ? info->level : "error", unit.locate(st.offset), st.text, "", "", std::move(message), std::move(help)};
        if (a && a->lock != sql::Lock::none) {
          f.lock = sql::lock_name(a->lock);
          f.blocks = sql::lock_blocks(a->lock);
        }
        out.push_back(std::move(f));
        if (timeout_rule) stretch.opened(out.size() - 1, i);
      };
      if (i == 0 && plan_step && !unit.has_down && !unit.irreversible) {
        if (unit.phase == Phase::contract)
          sink("contract-irreversible", "contract step \"" + unit.step + "\" has no down and is not marked irreversible",
               "add down = \"...\" that undoes it, or irreversible = true to say there is none on purpose", nullptr, nullptr);
        else if (unit.phase == Phase::expand || !no_undo_needed)
          sink("missing-down", std::string(phase_name(unit.phase)) + " step \"" + unit.step +
                   "\" has no down, so a rollback cannot undo it (and a re-run after a rollback would apply it again)",
               "add down = \"...\", or irreversible = true to say there is none on purpose", nullptr, nullptr);
      }
      if (i == 0 && plan_step && unit.irreversible && unit.phase != Phase::contract && !rerun_ok)
        sink("irreversible-rerun", std::string(phase_name(unit.phase)) + " step \"" + unit.step +
                 "\" is irreversible = true: a rollback leaves its effect and marks it pending, so the next run applies it again",
             "make it idempotent (IF NOT EXISTS, IF EXISTS, CREATE OR REPLACE), or give it a down", nullptr, nullptr);
      for (const auto& action : st.actions) {
        Context cx{unit, st, action, history, statements.size(), txs[i], catalog,
                   [&](const char* r, std::string m, std::string h, const char* lvl) { sink(r, std::move(m), std::move(h), lvl, &action); },
                   &enable};
        for (const auto& fam : kFamilies) fam.check(cx);
      }
      sql::Action held;  // the findings about the lock the transaction holds show it; the others no lock
      if (!history.tx.access_exclusive.empty()) held.lock = sql::Lock::access_exclusive;
      const sql::Action none;
      Context scx{unit, st, none, history, statements.size(), txs[i], catalog,
                  [&](const char* r, std::string m, std::string h, const char* lvl) {
                    const std::string_view rule(r);
                    const bool about_held = rule == "ddl-then-dml" || rule == "statements-after-access-exclusive";
                    sink(r, std::move(m), std::move(h), lvl, about_held ? &held : nullptr);
                  },
                  &enable};
      for (const auto& fam : kStatementFamilies) fam.check(scx);
      update_history(history, st, txs[i]);
      if (ignore) ignores.push_back(std::move(*ignore));
    }
    stretch.close(out);
    for (const auto& ig : ignores)
      for (const auto& id : ig.rules) {
        if (ig.used.count(id)) continue;
        const RuleInfo* rule = find_rule(id);
        if (rule && rule->opt_in && !enable.count(id)) continue;  // silences a rule this lint does not apply
        bool known = rule != nullptr;
        out.push_back({"unused-ignore", unit.step, "warning", unit.locate(ig.offset), "", "", "",
                       known ? "ignore comment for " + id + " silenced nothing" : "ignore comment names unknown rule \"" + id + "\"",
                       known ? "remove it" : "rule ids: phasegate lint --help, or docs/lint.md"});
      }
  }
  for (const auto& f : out) {
    if (f.level == "error") ++summary.errors;
    else if (f.level == "warning") ++summary.warnings;
    else ++summary.infos;
  }
  return out;
}

namespace {
template <class Fn>
void for_each_action(const std::vector<Unit>& units, Fn fn) {
  for (const auto& u : units)
    if (auto parsed = sql::parse(u.text); parsed.script)
      for (const auto& st : parsed.script->statements)
        for (const auto& a : st.actions) fn(a);
}
}  // namespace

std::set<std::string> tables_of(const std::vector<Unit>& units) {
  std::set<std::string> out;
  for_each_action(units, [&](const sql::Action& a) {
    if (!a.table.empty()) out.insert(a.schema.empty() ? a.table : a.schema + "." + a.table);
  });
  return out;
}

std::set<std::string> dml_statements_of(const std::vector<Unit>& units) {
  std::set<std::string> out;
  for (const auto& u : units)
    if (auto parsed = sql::parse(u.text); parsed.script)
      for (const auto& st : parsed.script->statements)
        if (std::any_of(st.actions.begin(), st.actions.end(), [](const sql::Action& a) { return a.kind == "update" || a.kind == "delete"; }))
          out.insert(st.text);
  return out;
}

std::set<std::string> default_functions_of(const std::vector<Unit>& units) {
  std::set<std::string> out;
  for_each_action(units, [&](const sql::Action& a) { out.insert(a.default_functions.begin(), a.default_functions.end()); });
  return out;
}

std::vector<Unit> units_of_plan(const Plan& plan) {
  std::vector<Unit> out;
  for (const Step* s : plan.steps()) {
    if (s->sql.empty()) continue;
    Unit u;
    u.file = plan.file;
    u.step = s->name;
    u.phase = s->phase;
    u.has_down = !s->down.empty();
    u.irreversible = s->irreversible;
    u.transaction = s->transaction;
    u.text = s->sql;
    u.locate = [source = plan.source, pos = s->sql_pos](size_t off) { return locate_in_string(source, pos, off); };
    out.push_back(std::move(u));
  }
  return out;
}

Unit unit_of_sql_file(const std::string& file, const std::string& text) {
  Unit u;
  u.file = file;
  u.sql_file = true;
  u.phase = Phase::expand;
  u.irreversible = true;  // missing-down does not apply to plain files
  u.text = text;
  // A line index built once: locating a finding is a binary search, not a scan from the start.
  auto starts = std::make_shared<std::vector<size_t>>(1, 0);
  for (size_t i = 0; i < text.size(); ++i)
    if (text[i] == '\n') starts->push_back(i + 1);
  u.locate = [file, starts](size_t off) {
    auto it = std::upper_bound(starts->begin(), starts->end(), off);
    size_t line = static_cast<size_t>(it - starts->begin());
    return SourcePos{file, static_cast<int>(line), static_cast<int>(off - (*starts)[line - 1]) + 1};
  };
  return u;
}

}  // namespace phasegate::lint
