// Parsing with libpg_query's protobuf output (pg_query_parse_protobuf): typed C structs, no JSON decoding.
// A statement's range (stmt_location, stmt_len) includes the comments before it; stmt_len 0 = to the end.
#include <pg_query.h>

#include <sched.h>

#include <atomic>
#include <cctype>
#include <algorithm>
#include <memory>
#include <thread>

#include "phasegate/sql.hpp"
#include "sql/facts.hpp"

namespace phasegate::sql {

namespace {

bool has_concurrently_param(const PgQuery__ReindexStmt* st) {
  for (size_t i = 0; i < st->n_params; ++i)
    if (st->params[i]->node_case == PG_QUERY__NODE__NODE_DEF_ELEM && st->params[i]->def_elem->defname &&
        std::string(st->params[i]->def_elem->defname) == "concurrently")
      return true;
  return false;
}

bool detaches_concurrently(const PgQuery__AlterTableStmt* st) {
  for (size_t i = 0; i < st->n_cmds; ++i) {
    const auto* c = st->cmds[i]->node_case == PG_QUERY__NODE__NODE_ALTER_TABLE_CMD ? st->cmds[i]->alter_table_cmd : nullptr;
    if (c && c->subtype == PG_QUERY__ALTER_TABLE_TYPE__AT_DetachPartition && c->def &&
        c->def->node_case == PG_QUERY__NODE__NODE_PARTITION_CMD && c->def->partition_cmd->concurrent)
      return true;
  }
  return false;
}

// Statements PostgreSQL refuses inside a transaction block.
bool never_in_transaction(const PgQuery__Node* n, const std::string& name) {
  switch (n->node_case) {
    case PG_QUERY__NODE__NODE_ALTER_TABLE_STMT: return detaches_concurrently(n->alter_table_stmt);
    case PG_QUERY__NODE__NODE_INDEX_STMT: return n->index_stmt->concurrent;
    case PG_QUERY__NODE__NODE_DROP_STMT: return n->drop_stmt->concurrent;
    case PG_QUERY__NODE__NODE_REINDEX_STMT:
      return has_concurrently_param(n->reindex_stmt) ||
             n->reindex_stmt->kind == PG_QUERY__REINDEX_OBJECT_TYPE__REINDEX_OBJECT_SYSTEM ||
             n->reindex_stmt->kind == PG_QUERY__REINDEX_OBJECT_TYPE__REINDEX_OBJECT_DATABASE;
    case PG_QUERY__NODE__NODE_VACUUM_STMT: return n->vacuum_stmt->is_vacuumcmd;
    default: break;
  }
  return name == "CreatedbStmt" || name == "DropdbStmt" || name == "CreateTableSpaceStmt" ||
         name == "DropTableSpaceStmt" || name == "AlterSystemStmt" || name == "CreateSubscriptionStmt" ||
         name == "DropSubscriptionStmt";
}

Statement describe(std::string_view script, const PgQuery__RawStmt* raw) {
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
  const PgQuery__Node* n = raw->stmt;
  if (!n) return st;
  st.node = node_name(n);
  st.transaction_control = n->node_case == PG_QUERY__NODE__NODE_TRANSACTION_STMT;
  st.allowed_in_transaction = !never_in_transaction(n, st.node) && !st.transaction_control;
  if (n->node_case == PG_QUERY__NODE__NODE_INDEX_STMT) {
    st.concurrently = n->index_stmt->concurrent;
    st.index_name = n->index_stmt->idxname ? n->index_stmt->idxname : "";
    if (n->index_stmt->relation && n->index_stmt->relation->schemaname) st.index_schema = n->index_stmt->relation->schemaname;
  } else if (n->node_case == PG_QUERY__NODE__NODE_DROP_STMT) {
    st.concurrently = n->drop_stmt->concurrent;
  } else if (n->node_case == PG_QUERY__NODE__NODE_REINDEX_STMT) {
    st.concurrently = has_concurrently_param(n->reindex_stmt);
  } else if (n->node_case == PG_QUERY__NODE__NODE_ALTER_TABLE_STMT) {
    st.concurrently = detaches_concurrently(n->alter_table_stmt);
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

// A bump allocator for protobuf-c's unpack: the unpacked tree lives only while describe() reads it, so its
// thousands of small allocations come from a few blocks freed at once instead of malloc/free each
// (free_unpacked alone was ~9% of linting a 20k-statement file; bench/lint).
class Arena {
 public:
  ProtobufCAllocator allocator() { return ProtobufCAllocator{&Arena::alloc, &Arena::release, this}; }

 private:
  static void* alloc(void* self, size_t size) { return static_cast<Arena*>(self)->take(size); }
  static void release(void*, void*) {}
  void* take(size_t size) {
    size = (size + 15) & ~size_t(15);
    if (blocks_.empty() || used_ + size > block_size_) {
      block_size_ = std::max(kBlock, size);
      blocks_.push_back(std::make_unique<std::byte[]>(block_size_));
      used_ = 0;
    }
    void* p = blocks_.back().get() + used_;
    used_ += size;
    return p;
  }
  static constexpr size_t kBlock = 256 * 1024;
  std::vector<std::unique_ptr<std::byte[]>> blocks_;
  size_t block_size_ = 0, used_ = 0;
};

ParseOutcome parse_one(const std::string& input) {
  PgQueryProtobufParseResult r = pg_query_parse_protobuf(input.c_str());
  std::unique_ptr<PgQueryProtobufParseResult, void (*)(PgQueryProtobufParseResult*)> guard(
      &r, [](PgQueryProtobufParseResult* p) { pg_query_free_protobuf_parse_result(*p); });
  ParseOutcome out;
  if (r.error) {
    size_t pos = r.error->cursorpos > 0 ? static_cast<size_t>(r.error->cursorpos - 1) : 0;
    out.error = SyntaxError{pos, r.error->message ? r.error->message : "syntax error"};
    return out;
  }
  Arena arena;
  ProtobufCAllocator allocator = arena.allocator();
  auto* tree = pg_query__parse_result__unpack(&allocator, r.parse_tree.len, reinterpret_cast<const uint8_t*>(r.parse_tree.data));
  Script script;
  script.statements.reserve(tree ? tree->n_stmts : 0);
  for (size_t i = 0; tree && i < tree->n_stmts; ++i) script.statements.push_back(describe(input, tree->stmts[i]));
  // No free_unpacked: the arena's blocks go with it.
  out.script = std::move(script);
  return out;
}

constexpr size_t kChunkBytes = 64 * 1024;  // a chunk's text: its parse trees stay a few MiB (peak memory)

// Byte offsets where chunks of whole statements of about kChunkBytes start, from the (cheap) scanner split.
// Fewer than two = do not chunk.
std::vector<size_t> chunk_starts(const std::string& input) {
  PgQuerySplitResult sr = pg_query_split_with_scanner(input.c_str());
  std::vector<size_t> starts;
  if (!sr.error && sr.n_stmts > 1) {
    starts.push_back(0);
    for (int i = 1; i < sr.n_stmts; ++i) {
      auto at = static_cast<size_t>(sr.stmts[i]->stmt_location);
      if (at - starts.back() >= kChunkBytes) starts.push_back(at);
    }
  }
  pg_query_free_split_result(sr);
  return starts;
}

// The CPUs this process may run on (taskset / cgroup cpusets), not the machine's.
size_t usable_cpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) == 0) return std::max(1, CPU_COUNT(&set));
  return std::max(1u, std::thread::hardware_concurrency());
}

}  // namespace

// Large scripts (a 20,000-statement migration corpus) are parsed in chunks of whole statements of about
// 64 KiB, by up to four threads (no more than the CPUs we may use): libpg_query is thread-safe and statements
// parse independently; offsets are rebased so the result is identical to one parse. Chunks bound the memory
// (one parse tree of a whole 1 MiB file and its protobuf copies were most of a 116 MiB peak). Small scripts
// take the single-parse path.
ParseOutcome parse(std::string_view text) {
  std::string input(text);
  auto starts = input.size() >= 2 * kChunkBytes ? chunk_starts(input) : std::vector<size_t>{};
  if (starts.size() < 2) return parse_one(input);
  std::vector<ParseOutcome> parts(starts.size());
  auto chunk = [&](size_t c) {
    size_t end = c + 1 < starts.size() ? starts[c + 1] : input.size();
    parts[c] = parse_one(input.substr(starts[c], end - starts[c]));
  };
  const size_t threads = std::min<size_t>({4, usable_cpus(), starts.size()});
  if (threads <= 1) {
    for (size_t c = 0; c < starts.size(); ++c) chunk(c);
  } else {
    std::atomic<size_t> next{0};
    std::vector<std::thread> workers;
    for (size_t t = 0; t < threads; ++t)
      workers.emplace_back([&] {
        for (size_t c; (c = next++) < starts.size();) chunk(c);
      });
    for (auto& w : workers) w.join();
  }
  ParseOutcome out;
  Script script;
  for (size_t c = 0; c < parts.size(); ++c) {
    if (parts[c].error) {
      out.error = SyntaxError{parts[c].error->offset + starts[c], parts[c].error->message};
      return out;  // the first chunk with an error holds the earliest one
    }
    for (auto& st : parts[c].script->statements) {
      st.offset += starts[c];
      script.statements.push_back(std::move(st));
    }
  }
  out.script = std::move(script);
  return out;
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
