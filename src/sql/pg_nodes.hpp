#pragma once
// PostgreSQL 15's own parse tree (nodes/parsenodes.h), as libpg_query's pg_query_raw_parse builds it. Private to
// src/sql: the server headers are C with macros (foreach, lfirst, printf -> pg_printf ...), so the standard headers
// src/sql needs come first and no public header includes this one. The include dir is a SYSTEM one (CMakeLists.txt):
// the headers are not -Wpedantic clean C++ (flexible array members).
#include <algorithm>
#include <atomic>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

extern "C" {
#include <pg_query.h>
// clang-format off: postgres.h first, as every PostgreSQL source does
#include "postgres.h"
#include "nodes/parsenodes.h"
#include "nodes/pg_list.h"
#include <pg_query/pg_query_internal.h>
// clang-format on
}

namespace phasegate::sql {

// `n` as a T when its tag is `tag`, else nullptr: PG_AS(n, AlterTableStmt).
template <typename T>
const T* node_as(const void* n, NodeTag tag) {
  return n && nodeTag(n) == tag ? static_cast<const T*>(n) : nullptr;
}
#define PG_AS(n, Type) ::phasegate::sql::node_as<Type>((n), T_##Type)

// The nodes of a List (NIL: none): for (const Node* x : items(list)).
class Items {
 public:
  explicit Items(const List* l) : l_(l) {}
  struct It {
    const ListCell* c;
    const Node* operator*() const { return static_cast<const Node*>(lfirst(c)); }
    It& operator++() { ++c; return *this; }
    bool operator!=(const It& o) const { return c != o.c; }
  };
  It begin() const { return {l_ ? l_->elements : nullptr}; }
  It end() const { return {l_ ? l_->elements + l_->length : nullptr}; }
  size_t size() const { return l_ ? static_cast<size_t>(l_->length) : 0; }
  bool empty() const { return size() == 0; }

 private:
  const List* l_;
};
inline Items items(const List* l) { return Items(l); }

// libpg_query keeps its memory context and error state per thread: a tree from pg_query_raw_parse lives in the
// context entered here and is deleted with it.
class ParseContext {
 public:
  ParseContext() : ctx_(pg_query_enter_memory_context()) {}
  ~ParseContext() { pg_query_exit_memory_context(ctx_); }
  ParseContext(const ParseContext&) = delete;
  ParseContext& operator=(const ParseContext&) = delete;

 private:
  MemoryContext ctx_;
};

// Runs fn(arg) as PG_TRY would: false when PostgreSQL code inside raised an ERROR (a longjmp past fn's frames, so
// fn and what it calls must hold no object with a destructor while they call into PostgreSQL). pg_guard.cpp.
bool pg_guarded(void (*fn)(void*), void* arg);
// nodeFuncs.c's walker over raw (unanalyzed) expression trees, exported by libpg_query; typed here, not through
// nodes/nodeFuncs.h, whose K&R-style `bool (*walker) ()` declares a function of no arguments in C++.
extern "C" bool raw_expression_tree_walker(Node* node, bool (*walker)(Node*, void*), void* context);

inline std::string str(const char* c) { return c ? c : ""; }
// A String node's text ("" for anything else).
inline std::string string_of(const Node* n) {
  const auto* v = PG_AS(n, String);
  return v ? str(v->sval) : "";
}

}  // namespace phasegate::sql
