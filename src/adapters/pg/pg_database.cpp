// libpqxx 6.4 implementation of StateStore, Target and the run lock. Library exceptions stop here.
#include <pqxx/pqxx>

#include <nlohmann/json.hpp>

#include "adapters/pg/errors.hpp"
#include "adapters/pg/impl.hpp"
#include "adapters/pg/schema.hpp"
#include "phasegate/interrupt.hpp"
#include "phasegate/pg.hpp"
#include "phasegate/text.hpp"

namespace phasegate {

using pg::clean_message;
using pg::guarded;
using pg::kRunColumns;
using pg::read_run;
using pg::read_steps_rows;


std::string event_hash_suffix(const std::string& kind, long long at_ms, int64_t run_id, const std::string& plan_id,
                              const std::string& phase, const std::string& step, const Actor& actor,
                              const std::string& payload) {
  std::string canonical_payload = nlohmann::json::parse(payload.empty() ? "{}" : payload).dump();
  return "\x1f" + join({kind, std::to_string(at_ms), std::to_string(run_id), plan_id, phase, step, actor.principal,
                        actor.os_user, actor.host, canonical_payload},
                       "\x1f");
}

std::string event_hash(const std::string& prev_hash, const std::string& kind, long long at_ms, int64_t run_id,
                       const std::string& plan_id, const std::string& phase, const std::string& step,
                       const Actor& actor, const std::string& payload) {
  return sha256_hex(prev_hash + event_hash_suffix(kind, at_ms, run_id, plan_id, phase, step, actor, payload));
}

PgDatabase::PgDatabase(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
PgDatabase::~PgDatabase() = default;

namespace {
// A session as phasegate wants it: named, never silently re-established by libpqxx, and (PG 14+) noticing a
// vanished client while a query runs.
std::unique_ptr<pqxx::connection> open_session(const std::string& url, const std::string& application_name) {
  auto conn = std::make_unique<pqxx::connection>(url);
  // A lost connection must stay lost: libpqxx 6 would silently reconnect — a new session without our run
  // lock, our session settings or our open transaction — and a runner that lost its lock would go on
  // writing next to the one that took it over. Deprecated in 6.4 but the only switch it has. Reconnecting
  // is ours (PgDatabase::reconnect): it takes the run lock again before anything else.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
  conn->inhibit_reactivation(true);
#pragma GCC diagnostic pop
  pqxx::nontransaction n(*conn);
  n.exec("SET application_name = " + n.quote(application_name.substr(0, 63)));
  // A runner killed with -9 leaves its backend (and our advisory lock) behind until the server notices
  // the socket is gone; PostgreSQL 14+ checks every interval while a query runs.
  if (conn->server_version() >= 140000) n.exec("SET client_connection_check_interval = '2s'");
  return conn;
}
}  // namespace

Result<std::unique_ptr<PgDatabase>> PgDatabase::connect(const std::string& url, const std::string& schema,
                                                        const std::string& application_name) {
  secrets::remember_conninfo(url);  // libpq may quote it in an error: masked from now on (docs/secrets.md)
  return guarded([&]() -> Result<std::unique_ptr<PgDatabase>> {
    auto impl = std::make_unique<Impl>();
    try {
      impl->conn = open_session(url, application_name);
    } catch (const pqxx::broken_connection& e) {
      return fail(Exit::unavailable, "cannot reach the target database (" + clean_message(e.what()) +
                                         "); nothing was changed. Retry when it is up, or check the connection settings");
    }
    impl->schema = schema;
    impl->url = url;
    impl->application_name = application_name;
    impl->backend_pid = impl->conn->backendpid();
    return std::unique_ptr<PgDatabase>(new PgDatabase(std::move(impl)));
  });
}

PgDatabase::Endpoint PgDatabase::endpoint() {
  std::lock_guard lock(impl_->conn_mu);
  Endpoint e;
  if (!impl_->conn) return e;
  auto text = [](const char* v) { return std::string(v ? v : ""); };
  e.host = text(impl_->conn->hostname());
  e.port = text(impl_->conn->port());
  e.database = text(impl_->conn->dbname());
  e.user = text(impl_->conn->username());
  return e;
}

bool PgDatabase::connected() {
  std::lock_guard lock(impl_->conn_mu);
  return impl_->conn && impl_->conn->is_open();
}

// A new session after the old one broke (SPEC §1.1 reconnect_timeout): tried with exponential backoff
// (250 ms doubling to 5 s) within `budget`; the run lock taken again when the old session held it — a
// runner that finds it held by someone else (who took over meanwhile) gives up: Exit::blocked.
Result<void> PgDatabase::reconnect(Millis budget) {
  using Steady = std::chrono::steady_clock;
  const auto deadline = Steady::now() + budget;
  Millis wait{250};
  std::string last = "no attempt within reconnect_timeout";
  for (int attempt = 1;; ++attempt) {
    try {
      auto conn = open_session(impl_->url, impl_->application_name);
      bool locked = true;
      if (impl_->holds_run_lock) {
        pqxx::nontransaction n(*conn);
        locked = n.exec_params("SELECT pg_try_advisory_lock($1::int, hashtext($2))", kRunLockClass, impl_->schema)[0][0].as<bool>();
      }
      if (locked) {
        std::lock_guard lock(impl_->conn_mu);
        impl_->conn = std::move(conn);
        impl_->prepared = false;
        impl_->previous_backend_pid = impl_->backend_pid;
        impl_->backend_pid = impl_->conn->backendpid();
        return {};
      }
      // The old session's backend may not have noticed it is gone yet (it keeps the lock until then), or
      // another runner took over: wait for the lock within the budget.
      last = "the run lock is held by another session (the old one not yet gone, or another runner took over)";
    } catch (const std::exception& e) {
      last = clean_message(e.what());
    }
    auto now = Steady::now();
    if (now >= deadline)
      return fail(last.starts_with("the run lock") ? Exit::blocked : Exit::unavailable,
                  "could not reconnect to the target database within reconnect_timeout (" + std::to_string(attempt) +
                      " attempts): " + last);
    std::this_thread::sleep_for(std::min(wait, std::chrono::duration_cast<Millis>(deadline - now)));
    wait = std::min(wait * 2, Millis(5000));
    if (interrupt_pending()) return fail(Exit::interrupted, "interrupted while reconnecting to the target database");
  }
}

Result<bool> PgDatabase::reclaim_run(int64_t run_id) {
  return guarded([&]() -> Result<bool> {
    pqxx::nontransaction n(*impl_->conn);
    auto r = n.exec_params("UPDATE " + impl_->t("runs") + " SET runner_pid = pg_backend_pid() WHERE run_id = $1"
                           " AND status IN ('running', 'rolling_back') AND runner_pid = $2",
                           run_id, impl_->previous_backend_pid);
    return r.affected_rows() == 1;
  });
}

// From another thread (the signal watcher): cancels the statement in flight, if any (PQcancel).
void PgDatabase::cancel_current() {
  std::lock_guard lock(impl_->conn_mu);
  try {
    if (impl_->conn && impl_->conn->is_open()) impl_->conn->cancel_query();
  } catch (const std::exception&) {
  }
}

void PgDatabase::set_actor(const Actor& actor) { impl_->actor = actor; }
void PgDatabase::set_crash_point(CrashPoint crash) { impl_->crash = std::move(crash); }

Result<void> PgDatabase::lock_runs() {
  return guarded([&]() -> Result<void> {
    pqxx::nontransaction n(*impl_->conn);
    auto r = n.exec_params("SELECT pg_try_advisory_lock($1::int, hashtext($2))", kRunLockClass, impl_->schema);
    if (r[0][0].as<bool>()) {
      impl_->holds_run_lock = true;
      return {};
    }
    auto h = n.exec_params(
        "SELECT a.pid, coalesce(a.application_name, ''), coalesce(a.usename::text, ''), "
        "coalesce(a.client_addr::text, 'local'), coalesce(to_char(a.backend_start AT TIME ZONE 'UTC', "
        "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), '') FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid WHERE " +
            std::string(kRunLockHolder),
        kRunLockClass, impl_->schema);
    std::string who = "another phasegate run";
    if (!h.empty())
      who = "\"" + h[0][1].as<std::string>() + "\" (backend pid " + h[0][0].as<std::string>() + ", user " +
            h[0][2].as<std::string>() + ", from " + h[0][3].as<std::string>() + ", since " + h[0][4].as<std::string>() + ")";
    return fail(Exit::blocked, "another run holds the phasegate lock on this database: " + who +
                                   ". Nothing was changed; retry when it finishes");
  });
}

Result<bool> PgDatabase::schema_exists() {
  return guarded([&]() -> Result<bool> {
    pqxx::nontransaction n(*impl_->conn);
    auto r = n.exec_params("SELECT to_regclass($1) IS NOT NULL", impl_->schema + ".schema_version");
    return r[0][0].as<bool>();
  });
}

Result<void> PgDatabase::ensure_schema() {
  auto r = guarded([&]() -> Result<void> {
    auto migrations = pg::schema_migrations(impl_->schema);
    pqxx::work w(*impl_->conn);
    w.exec_params("SELECT pg_advisory_xact_lock($1::int, hashtext($2))", kSchemaLockClass, impl_->schema);
    w.exec("CREATE SCHEMA IF NOT EXISTS " + impl_->schema);
    w.exec("CREATE TABLE IF NOT EXISTS " + impl_->t("schema_version") +
           " (version int PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())");
    auto v = w.exec("SELECT coalesce(max(version), 0) FROM " + impl_->t("schema_version"))[0][0].as<int>();
    if (v > static_cast<int>(migrations.size()))
      return fail(Exit::invalid, "the state schema " + impl_->schema + " is at version " + std::to_string(v) +
                                     ", newer than this phasegate understands (" + std::to_string(migrations.size()) +
                                     "); upgrade phasegate");
    for (size_t i = static_cast<size_t>(v); i < migrations.size(); ++i) {
      w.exec(migrations[i]);
      w.exec_params("INSERT INTO " + impl_->t("schema_version") + " (version) VALUES ($1::int)", static_cast<int>(i + 1));
    }
    w.commit();
    return {};
  });
  // A replica or a database in read-only mode (SQLSTATE 25006): the target cannot be written at all.
  if (!r && r.error().sqlstate == "25006")
    return fail(Exit::unavailable, "the target database is read-only (a standby, or default_transaction_read_only): " +
                                       r.error().message + "; nothing was changed. Point DATABASE_URL at the primary");
  return r;
}

Result<std::vector<StepRecord>> PgDatabase::steps(const std::string& plan_id) {
  return guarded([&]() -> Result<std::vector<StepRecord>> {
    pqxx::nontransaction n(*impl_->conn);
    auto r = n.exec_params(
        std::string("SELECT ") + pg::kStepColumns + " FROM " + impl_->t("steps") + " WHERE plan_id = $1 ORDER BY ordinal",
        plan_id);
    return read_steps_rows(r);
  });
}

namespace pg {
std::vector<StepRecord> read_steps_rows(const pqxx::result& r) {
    std::vector<StepRecord> out;
    for (const auto& row : r) {
      StepRecord s;
      s.plan_id = row[0].as<std::string>();
      s.step = row[1].as<std::string>();
      s.phase = row[2].as<std::string>();
      s.ordinal = row[3].as<int>();
      s.status = parse_step_status(row[4].as<std::string>()).value_or(StepStatus::pending);
      s.attempts = row[5].as<int>();
      s.checksum = row[6].as<std::string>();
      s.run_id = row[7].as<int64_t>();
      s.applied_by = row[8].as<std::string>();
      s.started_at = from_ms(row[9]);
      s.finished_at = from_ms(row[10]);
      s.error = row[11].as<std::string>();
      s.cursor = row[12].as<std::string>();
      s.down_checksum = row[13].as<std::string>();
      s.partial = row[14].as<bool>();
      out.push_back(std::move(s));
    }
    return out;
}
}  // namespace pg


Result<std::vector<KnownPlan>> PgDatabase::known_plans() {
  return guarded([&]() -> Result<std::vector<KnownPlan>> {
    pqxx::nontransaction n(*impl_->conn);
    auto r = n.exec(
        std::string("SELECT ") + pg::kStepColumns + " FROM " + impl_->t("steps") + " WHERE plan_id IN (SELECT plan_id FROM " + impl_->t("steps") + " WHERE status <> 'pending') ORDER BY plan_id, ordinal");
    std::vector<KnownPlan> out;
    for (auto& s : read_steps_rows(r)) {
      if (out.empty() || out.back().plan_id != s.plan_id) out.push_back(KnownPlan{s.plan_id, {}});
      out.back().steps.push_back(std::move(s));
    }
    return out;
  });
}

namespace pg {
RunRecord read_run(const pqxx::row& row) {
  RunRecord r;
  r.id = row[0].as<int64_t>();
  r.plan_id = row[1].as<std::string>();
  r.digest = row[2].as<std::string>();
  r.status = parse_run_status(row[3].as<std::string>()).value_or(RunStatus::failed);
  r.phase = row[4].as<std::string>();
  r.initiator = row[5].is_null() ? "" : row[5].as<std::string>();
  r.error = row[6].is_null() ? "" : row[6].as<std::string>();
  r.release_commit = row[7].is_null() ? "" : row[7].as<std::string>();
  r.cause = row[8].is_null() ? "" : row[8].as<std::string>();
  return r;
}
}  // namespace pg

Result<std::optional<RunRecord>> PgDatabase::open_run(const std::string& plan_id) {
  return guarded([&]() -> Result<std::optional<RunRecord>> {
    pqxx::nontransaction n(*impl_->conn);
    auto r = n.exec_params(std::string("SELECT ") + kRunColumns + " FROM " + impl_->t("runs") +
                               " WHERE plan_id = $1 AND status IN ('created', 'running', 'waiting', 'blocked', 'rolling_back')"
                               " ORDER BY run_id DESC LIMIT 1",
                           plan_id);
    if (r.empty()) return std::optional<RunRecord>{};
    return std::optional<RunRecord>{read_run(r[0])};
  });
}

Result<std::optional<RunRecord>> PgDatabase::latest_run(const std::string& plan_id) {
  return guarded([&]() -> Result<std::optional<RunRecord>> {
    pqxx::nontransaction n(*impl_->conn);
    auto r = n.exec_params(std::string("SELECT ") + kRunColumns + " FROM " + impl_->t("runs") +
                               " WHERE plan_id = $1 ORDER BY run_id DESC LIMIT 1",
                           plan_id);
    if (r.empty()) return std::optional<RunRecord>{};
    return std::optional<RunRecord>{read_run(r[0])};
  });
}

Result<bool> PgDatabase::phase_completed(int64_t run_id, const std::string& phase) {
  return guarded([&]() -> Result<bool> {
    pqxx::nontransaction n(*impl_->conn);
    auto r = n.exec_params("SELECT EXISTS (SELECT 1 FROM " + impl_->t("events") +
                               " WHERE run_id = $1::bigint AND phase = $2 AND kind = 'phase.completed')",
                           run_id, phase);
    return r[0][0].as<bool>();
  });
}

Result<RunRecord> PgDatabase::create_run(const RunRecord& run, const Actor& actor, Event created) {
  return guarded([&]() -> Result<RunRecord> {
    pqxx::work w(*impl_->conn);
    auto r = w.exec_params(std::string("INSERT INTO ") + impl_->t("runs") +
                               " (plan_id, digest, status, initiator, os_user, host, release_commit, cause)"
                               " VALUES ($1, $2, 'created', NULLIF($3, ''), $4, $5, NULLIF($6, ''), NULLIF($7, '')) RETURNING " + kRunColumns,
                           run.plan_id, run.digest, actor.principal, actor.os_user, actor.host, run.release_commit, run.cause);
    RunRecord out = read_run(r[0]);
    created.run_id = out.id;
    impl_->append_event_in(w, created);
    w.commit();
    return out;
  });
}

Result<void> PgDatabase::commit(const StateChange& change) {
  return guarded([&]() -> Result<void> {
    pqxx::work w(*impl_->conn);
    impl_->commit_in(w, change);
    w.commit();
    return {};
  });
}

Result<bool> PgDatabase::check(const std::string& sql, const Timeouts& t) {
  return guarded([&]() -> Result<bool> {
    pqxx::work w(*impl_->conn);
    w.exec("SET TRANSACTION READ ONLY");
    w.exec(timeouts_sql(t, true));
    auto r = w.exec(sql);
    if (r.size() != 1 || r.columns() != 1 || r[0][0].is_null())
      return fail(Exit::failed, "check must return exactly one non-null boolean, got " + std::to_string(r.size()) + " rows");
    return r[0][0].as<bool>();
  });
}

Result<void> PgDatabase::apply_atomically(const std::string& sql, const Timeouts& t,
                                          const std::function<StateChange()>& completion) {
  auto watch = impl_->watch_blockers(t);
  return guarded([&]() -> Result<void> {
    pqxx::work w(*impl_->conn);
    // One round trip: the timeouts, the step, and lifting statement_timeout for our bookkeeping after it.
    w.exec(timeouts_sql(t, true) + ";\n" + sql + "\n;RESET statement_timeout");
    StateChange c = completion();
    impl_->commit_in(w, c);
    if (impl_->crash && !c.steps.empty()) impl_->crash("before-commit:" + c.steps.front().step);
    w.commit();
    return {};
  });
}

Result<void> PgDatabase::apply_autocommit(const std::vector<std::string>& statements, const Timeouts& t) {
  auto r = [&] {
    auto watch = impl_->watch_blockers(t);
    return guarded([&]() -> Result<void> {
      pqxx::nontransaction n(*impl_->conn);
      n.exec(timeouts_sql(t, false));
      for (const auto& s : statements) n.exec(s);
      return {};
    });
  }();
  (void)guarded([&]() -> Result<void> {
    pqxx::nontransaction n(*impl_->conn);
    n.exec("RESET lock_timeout; RESET statement_timeout");
    return {};
  });
  return r;
}

std::vector<Blocker> PgDatabase::last_blockers() { return impl_->blockers ? impl_->blockers->seen() : std::vector<Blocker>{}; }

Result<int> PgDatabase::cancel_backends(const std::vector<int>& pids) {
  return guarded([&]() -> Result<int> {
    pqxx::nontransaction n(*impl_->conn);
    int sent = 0;
    for (int pid : pids)
      if (n.exec_params("SELECT pg_cancel_backend($1)", pid)[0][0].as<bool>()) ++sent;
    return sent;
  });
}

Result<IndexState> PgDatabase::index_state(const std::string& schema, const std::string& name) {
  return guarded([&]() -> Result<IndexState> {
    pqxx::nontransaction n(*impl_->conn);
    auto r = n.exec_params(
        "SELECT i.indisvalid AND i.indisready FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
        " JOIN pg_namespace ns ON ns.oid = c.relnamespace WHERE c.relname = $1"
        " AND (ns.nspname = $2 OR ($2 = '' AND pg_catalog.pg_table_is_visible(c.oid)))",
        name, schema);
    if (r.empty()) return IndexState::absent;
    return r[0][0].as<bool>() ? IndexState::valid : IndexState::invalid;
  });
}

Result<std::vector<EventRow>> PgDatabase::events(std::optional<int64_t> run_id) {
  return guarded([&]() -> Result<std::vector<EventRow>> {
    pqxx::nontransaction n(*impl_->conn);
    // lag() runs over the whole chain (each link needs its predecessor); only the asked-for run is sent back.
    auto r = n.exec_params(
        "SELECT * FROM (SELECT event_id, to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), coalesce(run_id, 0) AS run,"
        " coalesce(plan_id, ''), coalesce(phase, ''), coalesce(step, ''), kind, coalesce(principal, ''), os_user, host,"
        " payload::text, prev_hash, hash, at_ms, lag(hash) OVER (ORDER BY event_id) FROM " + impl_->t("events") +
            ") chain WHERE $1::bigint = 0 OR run = $1::bigint ORDER BY event_id",
        run_id.value_or(0));
    std::vector<EventRow> out;
    for (const auto& row : r) {
      EventRow e;
      e.id = row[0].as<int64_t>();
      e.at = row[1].as<std::string>();
      e.run_id = row[2].as<int64_t>();
      e.plan_id = row[3].as<std::string>();
      e.phase = row[4].as<std::string>();
      e.step = row[5].as<std::string>();
      e.kind = row[6].as<std::string>();
      e.principal = row[7].as<std::string>();
      e.os_user = row[8].as<std::string>();
      e.host = row[9].as<std::string>();
      e.payload = row[10].as<std::string>();
      e.prev_hash = row[11].as<std::string>();
      e.hash = row[12].as<std::string>();
      std::string expected_prev = row[14].is_null() ? std::string(64, '0') : row[14].as<std::string>();
      Actor a{e.principal, e.os_user, e.host};
      e.chain_ok = e.prev_hash == expected_prev &&
                   e.hash == event_hash(e.prev_hash, e.kind, row[13].as<long long>(), e.run_id, e.plan_id, e.phase,
                                        e.step, a, e.payload);
      out.push_back(std::move(e));
    }
    return out;
  });
}

Result<std::vector<RunRow>> PgDatabase::runs(const std::string& plan_id) {
  return guarded([&]() -> Result<std::vector<RunRow>> {
    pqxx::nontransaction n(*impl_->conn);
    auto r = n.exec_params(std::string("SELECT ") + kRunColumns +
                               ", coalesce(os_user, ''), coalesce(host, ''),"
                               " to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),"
                               " coalesce(to_char(finished_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), '')"
                               " FROM " + impl_->t("runs") + " WHERE $1 = '' OR plan_id = $1 ORDER BY run_id",
                           plan_id);
    std::vector<RunRow> out;
    for (const auto& row : r) {
      RunRow rr;
      rr.run = read_run(row);
      rr.initiator = rr.run.initiator;
      rr.os_user = row[9].as<std::string>();
      rr.host = row[10].as<std::string>();
      rr.created_at = row[11].as<std::string>();
      rr.finished_at = row[12].as<std::string>();
      out.push_back(std::move(rr));
    }
    return out;
  });
}

}  // namespace phasegate
