// PG_TRY for src/sql, against libpg_query's error state. libpg_query builds PostgreSQL with its error and memory
// state thread-local (__thread, so several threads can parse at once); the server headers declare the same
// variables without __thread, so their PG_TRY would not link (and must not: it would touch other memory). This TU
// includes no PostgreSQL header and declares the three variables as libpg_query defines them.
#include <csetjmp>

extern "C" {
extern __thread sigjmp_buf* PG_exception_stack;
extern __thread void* error_context_stack;
extern __thread void* CurrentMemoryContext;
void FlushErrorState(void);
}

namespace phasegate::sql {

bool pg_guarded(void (*fn)(void*), void* arg) {
  sigjmp_buf* const saved_stack = PG_exception_stack;
  void* const saved_context_stack = error_context_stack;
  void* const saved_memory = CurrentMemoryContext;
  sigjmp_buf local;
  if (sigsetjmp(local, 0) == 0) {
    PG_exception_stack = &local;
    fn(arg);
    PG_exception_stack = saved_stack;
    error_context_stack = saved_context_stack;
    return true;
  }
  // elog(ERROR) jumped here: restore what PG_CATCH restores, then drop the error (its data is in ErrorContext).
  PG_exception_stack = saved_stack;
  error_context_stack = saved_context_stack;
  CurrentMemoryContext = saved_memory;
  FlushErrorState();
  return false;
}

}  // namespace phasegate::sql
