#include "runtime/process_store.hpp"

#include "schema/sql.hpp"

namespace delta::runtime {

ProcessStore::ProcessStore(const std::string& schema)
    : control_channel_(internal::channel_name(schema, "control")) {
  const internal::StoreStatements statements("dp", "runtime", schema);
  heartbeat_ = statements.cached("heartbeat");
  stopped_ = statements.cached("mark_stopped");
  elect_ = statements.cached("elect");
  resign_ = statements.cached("resign");
  notify_ = statements.cached("notify");
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
