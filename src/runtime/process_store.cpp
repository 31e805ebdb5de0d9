#include "runtime/process_store.hpp"

#include <fmt/format.h>

#include "schema/migrations.hpp"
#include "schema/sql.hpp"

namespace delta::runtime {

using internal::now_param;

ProcessStore::ProcessStore(const std::string& schema)
    : control_channel_(internal::channel_name(schema, "control")) {
  const std::string prefix = internal::statement_prefix("dp", schema);
  auto make = [&](const char* name, const std::string& sql) {
    return internal::cached_statement(prefix + name, schema::render(sql, schema));
  };

  heartbeat_ = make("heartbeat", fmt::format(R"(
INSERT INTO {{{{schema}}}}.delta_client AS c (id, hostname, pid, started_at, heartbeat_at, metadata)
VALUES ($1, $2, $3, {now}, {now}, $4)
ON CONFLICT (id) DO UPDATE SET heartbeat_at = EXCLUDED.heartbeat_at, stopped_at = NULL,
                               metadata = EXCLUDED.metadata)",
                                             fmt::arg("now", now_param(5))));

  stopped_ = make(
      "stopped", fmt::format("UPDATE {{{{schema}}}}.delta_client SET stopped_at = {} WHERE id = $1",
                             now_param(2)));

  elect_ = make("elect", fmt::format(R"(
INSERT INTO {{{{schema}}}}.delta_leader AS l (name, leader_id, elected_at, expires_at)
VALUES ('default', $1, {now}, {now} + $2 * interval '1 millisecond')
ON CONFLICT (name) DO UPDATE SET
  leader_id = EXCLUDED.leader_id,
  elected_at = CASE WHEN l.leader_id = EXCLUDED.leader_id THEN l.elected_at
                    ELSE EXCLUDED.elected_at END,
  expires_at = EXCLUDED.expires_at
WHERE l.leader_id = EXCLUDED.leader_id OR l.expires_at < EXCLUDED.elected_at
RETURNING leader_id)",
                                     fmt::arg("now", now_param(3))));

  resign_ = make("resign", R"(
WITH d AS (
  DELETE FROM {{schema}}.delta_leader WHERE name = 'default' AND leader_id = $1 RETURNING 1
)
SELECT (SELECT count(pg_notify($2, 'leader_resigned')) FROM d))");

  notify_ = make("notify", "SELECT pg_notify($1, $2)");
}

void ProcessStore::heartbeat(pg::Connection& conn, const std::string& client_id,
                             const std::string& host, int pid, const nlohmann::json& metadata,
                             std::optional<Timestamp> now) {
  conn.exec_prepared(heartbeat_, pg::Params(client_id, host, std::int32_t{pid}, metadata, now));
}

void ProcessStore::mark_stopped(pg::Connection& conn, const std::string& client_id,
                                std::optional<Timestamp> now) {
  conn.exec_prepared(stopped_, pg::Params(client_id, now));
}

bool ProcessStore::elect(pg::Connection& conn, const std::string& client_id, std::int64_t ttl_ms,
                         std::optional<Timestamp> now) {
  return !conn.exec_prepared(elect_, pg::Params(client_id, ttl_ms, now)).empty();
}

void ProcessStore::resign(pg::Connection& conn, const std::string& client_id) {
  conn.exec_prepared(resign_, pg::Params(client_id, control_channel_));
}

void ProcessStore::notify(pg::Connection& conn, const std::string& channel,
                          const std::string& payload) {
  conn.exec_prepared(notify_, pg::Params(channel, payload));
}

}  // namespace delta::runtime
