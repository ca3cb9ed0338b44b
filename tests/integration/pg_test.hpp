#pragma once
// Shared by the integration tests: the server scripts/pg.sh started (PHASEGATE_TEST_URL) and a fresh database
// per test.
#include <cstdlib>
#include <pqxx/pqxx>
#include <string>

namespace phasegate::test {
inline std::string admin_url() {
  const char* u = std::getenv("PHASEGATE_TEST_URL");
  return u ? u : "";
}

// A fresh database `name` on the test server; returns its conninfo.
inline std::string fresh_database(const std::string& name) {
  pqxx::connection admin(admin_url());
  pqxx::nontransaction n(admin);
  n.exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)");
  n.exec("CREATE DATABASE " + name);
  return admin_url() + " dbname=" + name;
}
}  // namespace phasegate::test
