// Parsing with libpg_query's pg_query_raw_parse: PostgreSQL's own parse tree, read in place (sql/pg_nodes.hpp).
// (pg_query_parse_protobuf packed that tree into protobuf for us to unpack again: ~37% of linting a 20k-statement
// file; bench/README.md.) A statement's range (stmt_location, stmt_len) includes the comments before it;
// stmt_len 0 = to the end.
#include <sched.h>

#include <condition_variable>
#include <mutex>

#include "sql/facts.hpp"

namespace phasegate::sql {

// PostgreSQL's defGetBoolean: no argument is true; true/on/1 true, false/off/0 false (case-insensitive).
bool option_on(const List* list, const char* name) {
  bool on = false;
  for (const Node* item : items(list)) {
    const auto* d = PG_AS(item, DefElem);
    if (!d || !d->defname || std::string_view(d->defname) != name) continue;
    const Node* arg = d->arg;
    if (!arg) { on = true; continue; }  // the last mention wins, as in PostgreSQL's option loops
    if (const auto* i = PG_AS(arg, Integer)) { on = i->ival != 0; continue; }
    if (const auto* b = PG_AS(arg, Boolean)) { on = b->boolval; continue; }
    std::string v = string_of(arg);
    for (auto& c : v) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    on = !(v == "false" || v == "off" || v == "0");
  }
  return on;
}

namespace {

// REINDEX (CONCURRENTLY [true|false]) ...: the option's value, not its presence. REINDEX SYSTEM never runs
// concurrently (PostgreSQL refuses it).
bool reindex_concurrently(const ReindexStmt* st) {
  return st->kind != REINDEX_OBJECT_SYSTEM && option_on(st->params, "concurrently");
}

TxKind tx_kind(TransactionStmtKind k) {
  switch (k) {
    case TRANS_STMT_BEGIN:
    case TRANS_STMT_START: return TxKind::begin;
    case TRANS_STMT_COMMIT: return TxKind::commit;
    case TRANS_STMT_ROLLBACK: return TxKind::rollback;
    case TRANS_STMT_SAVEPOINT: return TxKind::savepoint;
    case TRANS_STMT_RELEASE: return TxKind::release;
    case TRANS_STMT_ROLLBACK_TO: return TxKind::rollback_to;
    case TRANS_STMT_PREPARE: return TxKind::prepare;
    default: return TxKind::other;  // COMMIT / ROLLBACK PREPARED: outside any block
  }
}

Setting setting_of(const VariableSetStmt* v) {
  Setting out;
  out.name = v->kind == VAR_RESET_ALL ? "all" : str(v->name);
  out.local = v->is_local;
  out.reset = v->kind == VAR_RESET || v->kind == VAR_RESET_ALL || v->kind == VAR_SET_DEFAULT;
  if (const auto* c = v->args ? PG_AS(linitial(v->args), A_Const) : nullptr; c && !c->isnull) {
    switch (nodeTag(&c->val)) {
      case T_Integer: out.value = std::to_string(c->val.ival.ival); break;
      case T_Float: out.value = str(c->val.fval.fval); break;
      case T_String: out.value = str(c->val.sval.sval); break;
      default: break;
    }
  }
  return out;
}

bool detaches_concurrently(const AlterTableStmt* st) {
  for (const Node* n : items(st->cmds)) {
    const auto* c = PG_AS(n, AlterTableCmd);
    const auto* p = c && c->subtype == AT_DetachPartition ? PG_AS(c->def, PartitionCmd) : nullptr;
    if (p && p->concurrent) return true;
  }
  return false;
}

// Statements PostgreSQL refuses inside a transaction block.
bool never_in_transaction(const Node* n) {
  switch (nodeTag(n)) {
    case T_AlterTableStmt: return detaches_concurrently(PG_AS(n, AlterTableStmt));
    case T_IndexStmt: return PG_AS(n, IndexStmt)->concurrent;
    case T_DropStmt: return PG_AS(n, DropStmt)->concurrent;
    case T_ReindexStmt: {
      const auto* r = PG_AS(n, ReindexStmt);
      return reindex_concurrently(r) || r->kind == REINDEX_OBJECT_SCHEMA || r->kind == REINDEX_OBJECT_SYSTEM ||
             r->kind == REINDEX_OBJECT_DATABASE;
    }
    case T_VacuumStmt: return PG_AS(n, VacuumStmt)->is_vacuumcmd;
    case T_ClusterStmt: return !PG_AS(n, ClusterStmt)->relation;  // CLUSTER of every table
    case T_CreatedbStmt:
    case T_DropdbStmt:
    case T_CreateTableSpaceStmt:
    case T_DropTableSpaceStmt:
    case T_AlterSystemStmt:
    case T_CreateSubscriptionStmt:
    case T_DropSubscriptionStmt: return true;
    default: return false;
  }
}

Statement describe(std::string_view script, const RawStmt* raw) {
  Statement st;
  size_t loc = static_cast<size_t>(raw->stmt_location);
  size_t len = raw->stmt_len == 0 ? script.size() - loc : static_cast<size_t>(raw->stmt_len);
  std::string_view range = script.substr(loc, len);
  size_t i = 0;  // skip leading whitespace and comments that the range includes
  while (i < range.size()) {
    if (std::isspace(static_cast<unsigned char>(range[i]))) { ++i; continue; }
    if (range.compare(i, 2, "--") == 0) { while (i < range.size() && range[i] != '\n') ++i; continue; }
    if (range.compare(i, 2, "/*") == 0) {
      auto end = range.find("*/", i + 2);
      i = end == std::string_view::npos ? range.size() : end + 2;
      continue;
    }
    break;
  }
  size_t e = range.size();
  while (e > i && (std::isspace(static_cast<unsigned char>(range[e - 1])) || range[e - 1] == ';')) --e;
  st.text = std::string(range.substr(i, e - i));
  st.offset = loc + i;
  const Node* n = raw->stmt;
  if (!n) return st;
  st.node = node_name(n);
  if (const auto* t = PG_AS(n, TransactionStmt)) {
    st.transaction_control = true;
    st.tx = tx_kind(t->kind);
    st.tx_chain = t->chain;
  }
  if (const auto* v = PG_AS(n, VariableSetStmt)) st.setting = setting_of(v);
  st.allowed_in_transaction = !never_in_transaction(n) && !st.transaction_control;
  if (const auto* ix = PG_AS(n, IndexStmt)) {
    st.concurrently = ix->concurrent;
    st.index_name = str(ix->idxname);
    if (ix->relation && ix->relation->schemaname) st.index_schema = ix->relation->schemaname;
  } else if (const auto* d = PG_AS(n, DropStmt)) {
    st.concurrently = d->concurrent;
  } else if (const auto* r = PG_AS(n, ReindexStmt)) {
    st.concurrently = reindex_concurrently(r);
  } else if (const auto* a = PG_AS(n, AlterTableStmt)) {
    st.concurrently = detaches_concurrently(a);
  }
  st.actions = derive_actions(n);
  st.not_idempotent = not_idempotent(n);
  return st;
}

}  // namespace

bool Script::allowed_in_transaction() const {
  for (const auto& s : statements)
    if (!s.allowed_in_transaction) return false;
  return true;
}

namespace {

// Parses `input` (one chunk, or the whole text) and appends its statements to `into`, offsets moved by `base`.
std::optional<SyntaxError> parse_into(const std::string& input, size_t base, std::vector<Statement>& into) {
  ParseContext context;
  PgQueryInternalParsetreeAndError r = pg_query_raw_parse(input.c_str());
  free(r.stderr_buffer);  // malloc'ed outside the context (strdup); the parser prints nothing for us
  if (r.error) {
    size_t pos = r.error->cursorpos > 0 ? static_cast<size_t>(r.error->cursorpos - 1) : 0;
    SyntaxError error{base + pos, r.error->message ? r.error->message : "syntax error"};
    pg_query_free_error(r.error);
    return error;
  }
  if (into.empty()) into.reserve(items(r.tree).size());
  for (const Node* raw : items(r.tree))
    if (const auto* rs = PG_AS(raw, RawStmt)) {
      into.push_back(describe(input, rs));
      into.back().offset += base;
    }
  return std::nullopt;
}

ParseOutcome outcome(std::vector<Statement> statements, std::optional<SyntaxError> error) {
  ParseOutcome out;
  if (error) out.error = std::move(error);
  else out.script = Script{std::move(statements)};
  return out;
}

constexpr size_t kChunkBytes = 64 * 1024;  // a chunk's text: its parse trees stay a few MiB (peak memory)

// The CPUs this process may run on (taskset / cgroup cpusets), not the machine's.
size_t usable_cpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) == 0) return std::max(1, CPU_COUNT(&set));
  return std::max(1u, std::thread::hardware_concurrency());
}

// Chunks parsed by `threads` workers while this thread appends each finished chunk, in order, to `into` and frees
// it: only the chunks parsed ahead of the one being appended wait in `parts`. A syntax error stops the workers at
// their next chunk (the caller then parses the whole text for the error's exact position).
std::optional<SyntaxError> parse_parallel(std::string_view input, const std::vector<size_t>& starts, size_t threads,
                                          std::vector<Statement>& into) {
  struct Part {
    std::vector<Statement> statements;
    std::optional<SyntaxError> error;
    bool done = false;
  };
  std::vector<Part> parts(starts.size());
  std::mutex m;
  std::condition_variable finished;
  std::atomic<size_t> next{0};
  std::vector<std::thread> workers;
  for (size_t t = 0; t < threads; ++t)
    workers.emplace_back([&] {
      for (size_t c; (c = next++) < starts.size();) {
        const size_t end = c + 1 < starts.size() ? starts[c + 1] : input.size();
        Part part;
        part.error = parse_into(std::string(input.substr(starts[c], end - starts[c])), starts[c], part.statements);
        part.done = true;
        {
          std::lock_guard lock(m);
          parts[c] = std::move(part);
        }
        finished.notify_all();
      }
    });
  std::optional<SyntaxError> error;
  for (size_t c = 0; c < parts.size() && !error; ++c) {
    std::unique_lock lock(m);
    finished.wait(lock, [&] { return parts[c].done; });
    Part part = std::move(parts[c]);
    lock.unlock();
    error = std::move(part.error);  // the first chunk with an error holds the earliest one
    if (error) next = starts.size();  // the workers take no further chunk
    for (auto& st : part.statements) into.push_back(std::move(st));
  }
  for (auto& w : workers) w.join();
  return error;
}

}  // namespace

// Large scripts (a 20,000-statement migration corpus) are parsed in chunks of whole statements of about
// 64 KiB (chunks.cpp says where), by up to four threads (no more than the CPUs we may use): libpg_query is
// thread-safe and statements parse independently; offsets are rebased so the result is identical to one parse.
// Chunks bound the memory (one parse tree of a whole 1 MiB file was most of a 116 MiB peak), and the result is
// reserved once. A chunk that does not parse sends the whole text through one parse: the error it reports (at its
// offset) is the one a single parse finds. Small scripts take the single-parse path.
ParseOutcome parse(std::string_view text) {
  std::vector<Statement> statements;
  ChunkPlan chunks = text.size() >= 2 * kChunkBytes ? plan_chunks(text, kChunkBytes) : ChunkPlan{};
  const auto& starts = chunks.starts;
  auto whole = [&] {
    statements.clear();
    auto error = parse_into(std::string(text), 0, statements);
    return outcome(std::move(statements), std::move(error));
  };
  if (starts.size() < 2) return whole();
  statements.reserve(chunks.statements);
  const size_t threads = std::min<size_t>({4, usable_cpus(), starts.size()});
  if (threads > 1) {
    if (parse_parallel(text, starts, threads, statements)) return whole();
    return outcome(std::move(statements), std::nullopt);
  }
  for (size_t c = 0; c < starts.size(); ++c) {
    const size_t end = c + 1 < starts.size() ? starts[c + 1] : text.size();
    if (parse_into(std::string(text.substr(starts[c], end - starts[c])), starts[c], statements)) return whole();
  }
  return outcome(std::move(statements), std::nullopt);
}

std::string quote_ident(std::string_view ident) {
  bool plain = !ident.empty() && (std::islower(static_cast<unsigned char>(ident[0])) || ident[0] == '_');
  for (char c : ident)
    if (!(std::islower(static_cast<unsigned char>(c)) || std::isdigit(static_cast<unsigned char>(c)) || c == '_')) plain = false;
  if (plain) return std::string(ident);
  std::string out = "\"";
  for (char c : ident) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

}  // namespace phasegate::sql
