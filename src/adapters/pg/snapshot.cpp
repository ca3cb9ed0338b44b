// What `phasegate serve` reads on its interval (serve.hpp): the state schema's rows and the metrics' aggregates, in
// one REPEATABLE READ, READ ONLY transaction — one consistent picture per interval, whatever the HTTP traffic.
#include <string>

#include "adapters/pg/impl.hpp"
#include "phasegate/serve.hpp"

namespace phasegate {

using pg::guarded;

namespace {
// The state schema's tables by name (PgDatabase::Impl is private to the class).
struct Tables {
  const std::string& schema;
  std::string t(const char* table) const { return schema + "." + table; }
};

constexpr const char* kUtc = "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'";
std::string utc(const std::string& column) { return "coalesce(to_char(" + column + " AT TIME ZONE 'UTC', " + kUtc + "), '')"; }

// Observations per metric and label, bucketed by serve::kBuckets (cumulative: v <= le).
std::string histogram_sql(const Tables& db) {
  std::string buckets;
  for (double le : serve::kBuckets) buckets += ", count(*) FILTER (WHERE v <= " + std::to_string(le) + ")";
  return "WITH samples(metric, label, v) AS ("
         " SELECT 'run_duration', status, extract(epoch FROM finished_at - created_at)::float8 FROM " + db.t("runs") +
         " WHERE finished_at IS NOT NULL"
         " UNION ALL SELECT 'guard_wait', coalesce(payload->>'guard', ''), (payload->>'waited_ms')::float8 / 1000 FROM " + db.t("events") +
         " WHERE kind = 'guard.go' AND payload ? 'waited_ms'"
         " UNION ALL SELECT 'step_duration', coalesce(phase, ''), (payload->>'duration_ms')::float8 / 1000 FROM " + db.t("events") +
         " WHERE kind = 'step.completed' AND payload ? 'duration_ms')"
         " SELECT metric, label, count(*), coalesce(sum(v), 0)" + buckets + " FROM samples GROUP BY metric, label ORDER BY 1, 2";
}

// Rows backfills updated: the largest count each step reported (its progress events, its completion, and the cursor
// of one still running) per "epoch" of the step — a rollback of the step starts a new one, so a step filled, rolled
// back and filled again counts twice, and a resumed one (whose cursor goes on counting) once.
std::string backfill_rows_sql(const Tables& db) {
  auto epoch = [&](const char* alias, const char* before) {
    return "(SELECT count(*) FROM " + db.t("events") + " r WHERE r.kind = 'rollback.step' AND r.plan_id = " + alias +
           ".plan_id AND r.step = " + alias + ".step" + before + ")";
  };
  return "SELECT coalesce(sum(m), 0)::bigint FROM (SELECT max(u) AS m FROM ("
         " SELECT e.plan_id, e.step, " + epoch("e", " AND r.event_id < e.event_id") + " AS epoch,"
         " coalesce((e.payload->>'updated')::bigint, (e.payload->'backfill'->>'updated')::bigint, 0) AS u FROM " + db.t("events") + " e"
         " WHERE (e.kind = 'backfill.progress' AND e.payload ? 'updated') OR (e.kind = 'step.completed' AND e.payload ? 'backfill')"
         " UNION ALL SELECT s.plan_id, s.step, " + epoch("s", "") + ", coalesce((s.cursor->>'updated')::bigint, 0) FROM " + db.t("steps") + " s"
         " WHERE s.status = 'running' AND s.cursor ? 'updated') x GROUP BY plan_id, step, epoch) y";
}

void read_current(pqxx::transaction_base& w, const Tables& db, serve::Reading& out) {
  auto r = w.exec(std::string("SELECT ") + pg::kRunColumns + ", " + utc("created_at") + " FROM " + db.t("runs") +
                  " WHERE status IN ('created', 'running', 'rolling_back') ORDER BY run_id DESC LIMIT 1");
  if (r.empty()) return;
  serve::Reading::Current c;
  c.run = pg::read_run(r[0]);
  c.started_at = r[0][9].as<std::string>();
  // runs.phase is written at the run's transitions; the events say which phase it is in now.
  auto p = w.exec_params("SELECT phase FROM " + db.t("events") + " WHERE run_id = $1::bigint AND phase IS NOT NULL ORDER BY event_id DESC LIMIT 1",
                         c.run.id);
  if (!p.empty()) c.run.phase = p[0][0].as<std::string>();
  auto e = w.exec_params("SELECT step, kind, " + utc("at") + " FROM " + db.t("events") +
                             " WHERE run_id = $1::bigint AND step IS NOT NULL ORDER BY event_id DESC LIMIT 1",
                         c.run.id);
  if (!e.empty()) {
    c.step = e[0][0].as<std::string>();
    c.step_event = e[0][1].as<std::string>();
    c.step_at = e[0][2].as<std::string>();
    auto b = w.exec_params("SELECT payload::text FROM " + db.t("events") +
                               " WHERE run_id = $1::bigint AND step = $2 AND kind = 'backfill.progress' ORDER BY event_id DESC LIMIT 1",
                           c.run.id, c.step);
    if (!b.empty()) c.backfill = b[0][0].as<std::string>();
  }
  out.current = c;
}

void read_metrics(pqxx::transaction_base& w, const Tables& db, serve::Reading& out) {
  for (const auto& row : w.exec(histogram_sql(db))) {
    serve::Histogram h;
    h.count = row[2].as<long long>();
    h.sum = row[3].as<double>();
    for (size_t i = 0; i < serve::kBucketCount; ++i) h.cumulative.push_back(row[static_cast<int>(4 + i)].as<long long>());
    out.histograms[row[0].as<std::string>()][row[1].as<std::string>()] = h;
  }
  auto c = w.exec("SELECT (SELECT count(*) FROM " + db.t("events") + " WHERE kind = 'step.retrying'), (" + backfill_rows_sql(db) + ")");
  out.lock_retries = c[0][0].as<long long>();
  out.backfill_rows = c[0][1].as<long long>();
  for (const auto& row : w.exec("SELECT coalesce(payload->>'smoke', ''), count(*) FROM " + db.t("events") +
                                " WHERE kind = 'smoke.failed' AND run_id IS NOT NULL GROUP BY 1"))
    out.run_smoke_failures[row[0].as<std::string>()] = row[1].as<long long>();
}

void read_smoke(pqxx::transaction_base& w, const Tables& db, serve::Reading& out) {
  for (const auto& row : w.exec("SELECT name, ok, last_ok, consecutive_failures, checks, failures, (extract(epoch FROM since) * 1000)::bigint,"
                                " (extract(epoch FROM last_at) * 1000)::bigint, last_reason, deploy_run FROM " + db.t("smoke_status") +
                                " ORDER BY name")) {
    SmokeRecord s;
    s.name = row[0].as<std::string>();
    s.ok = row[1].as<bool>();
    s.last_ok = row[2].as<bool>();
    s.consecutive_failures = row[3].as<int>();
    s.checks = row[4].as<long long>();
    s.failures = row[5].as<long long>();
    s.since = pg::from_ms(row[6]);
    s.last_at = pg::from_ms(row[7]);
    s.last_reason = row[8].as<std::string>();
    s.deploy_run = row[9].as<int64_t>();
    out.smoke.push_back(std::move(s));
  }
}
}  // namespace

Result<serve::Reading> PgDatabase::reading() {
  return guarded([&]() -> Result<serve::Reading> {
    serve::Reading out;
    pqxx::transaction<pqxx::repeatable_read, pqxx::read_only> w(*impl_->conn);
    out.schema = w.exec_params("SELECT to_regclass($1) IS NOT NULL", impl_->schema + ".smoke_status")[0][0].as<bool>();
    if (!out.schema) return out;
    auto b = w.exec("SELECT level, message, (extract(epoch FROM until) * 1000)::bigint, coalesce(updated_by, ''), run_id,"
                    " (extract(epoch FROM since) * 1000)::bigint FROM " + impl_->t("broadcast") + " WHERE id = 1");
    if (!b.empty()) {
      out.broadcast.level = b[0][0].as<std::string>();
      out.broadcast.message = b[0][1].as<std::string>();
      out.broadcast.until = pg::from_ms(b[0][2]);
      out.broadcast.by = b[0][3].as<std::string>();
      out.broadcast.run_id = b[0][4].as<int64_t>();
      out.broadcast.since = pg::from_ms(b[0][5]);
    }
    out.steps = pg::read_steps_rows(w.exec(std::string("SELECT ") + pg::kStepColumns + " FROM " + impl_->t("steps") + " ORDER BY plan_id, ordinal"));
    for (const auto& row : w.exec(std::string("SELECT DISTINCT ON (plan_id) ") + pg::kRunColumns + " FROM " + impl_->t("runs") +
                                  " ORDER BY plan_id, run_id DESC"))
      out.latest_runs.push_back(pg::read_run(row));
    read_current(w, Tables{impl_->schema}, out);
    auto d = w.exec("SELECT run_id, plan_id, " + utc("finished_at") + " FROM " + impl_->t("runs") +
                    " WHERE status = 'completed' ORDER BY finished_at DESC NULLS LAST, run_id DESC LIMIT 1");
    if (!d.empty()) {
      out.deployed_run = d[0][0].as<int64_t>();
      out.deployed_plan = d[0][1].as<std::string>();
      out.deployed_at = d[0][2].as<std::string>();
    }
    read_metrics(w, Tables{impl_->schema}, out);
    read_smoke(w, Tables{impl_->schema}, out);
    w.commit();
    return out;
  });
}

}  // namespace phasegate
