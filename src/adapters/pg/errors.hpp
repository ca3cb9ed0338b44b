#pragma once
// How libpqxx exceptions become our Errors (private to src/adapters/pg): library exceptions stop here.
#include <pqxx/except>

#include <stdexcept>
#include <string>

#include "phasegate/error.hpp"
#include "phasegate/secrets.hpp"

namespace phasegate::pg {

// Drops libpq's "ERROR:  " prefix and trailing newlines; folds DETAIL/HINT lines onto one line; masks credentials
// (libpq quotes a malformed URI, or a password's bad %-escape, verbatim: docs/secrets.md).
inline std::string clean_message(std::string m) {
  if (m.rfind("ERROR:  ", 0) == 0) m = m.substr(8);
  while (!m.empty() && (m.back() == '\n' || m.back() == ' ')) m.pop_back();
  for (auto& c : m)
    if (c == '\n') c = ' ';
  return secrets::redact(m);
}

// Thrown inside a transaction when the run is no longer in the state the change expects (another process
// moved it): the transaction rolls back and the command changes nothing.
struct RunMoved : std::runtime_error {
  explicit RunMoved(long long run_id)
      : std::runtime_error("run " + std::to_string(run_id) +
                           " changed under this command (another phasegate process moved it); nothing was changed by this command") {}
};

// A continuous smoke check's record moved under us (another serve measured it): nothing of the change lands.
struct SmokeMoved : std::runtime_error {
  explicit SmokeMoved(const std::string& name)
      : std::runtime_error("the record of smoke check " + name + " changed under this process (another phasegate serve?)") {}
};

// Runs fn; SQL errors keep their SQLSTATE, a lost connection is 08006, anything else gets `other`.
template <class Fn>
auto guarded(Fn&& fn, Exit other = Exit::internal) -> decltype(fn()) {
  try {
    return fn();
  } catch (const pqxx::sql_error& e) {
    return std::unexpected(Error{Exit::failed, clean_message(e.what()), e.sqlstate()});
  } catch (const RunMoved& e) {
    return std::unexpected(Error{Exit::blocked, e.what()});
  } catch (const SmokeMoved& e) {
    return std::unexpected(Error{Exit::blocked, e.what()});
  } catch (const pqxx::broken_connection& e) {
    return std::unexpected(Error{Exit::failed, "lost the connection to the database: " + clean_message(e.what()), "08006"});
  } catch (const std::exception& e) {
    return std::unexpected(Error{other, "database adapter: " + clean_message(e.what())});
  }
}

}  // namespace phasegate::pg
