// The statements every client process runs on its own behalf: heartbeats, the leader
// lease, and wake-ups.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include <delta/time.hpp>

#include "pg/connection.hpp"

namespace delta::runtime {

class ProcessStore {
 public:
  explicit ProcessStore(const std::string& schema);

  // The control channel: leader resignations ("leader_resigned") and job cancellations
  // ("cancel:<id>").
  const std::string& control_channel() const noexcept { return control_channel_; }

  // Heartbeat upsert of this client's row (clears stopped_at).
  void heartbeat(pg::Connection& conn, const std::string& client_id, const std::string& host,
                 int pid, const nlohmann::json& metadata, std::optional<Timestamp> now);
  void mark_stopped(pg::Connection& conn, const std::string& client_id,
                    std::optional<Timestamp> now);
  // Takes or renews the leadership; true when `client_id` is (still) the leader.
  bool elect(pg::Connection& conn, const std::string& client_id, std::int64_t ttl_ms,
             std::optional<Timestamp> now);
  // Gives the leadership up and tells the others on the control channel.
  void resign(pg::Connection& conn, const std::string& client_id);
  // Sends `payload` on `channel` (outside the statement that made work runnable:
  // trailing wake-ups, single-row operations).
  void notify(pg::Connection& conn, const std::string& channel, const std::string& payload);

 private:
  std::string control_channel_;
  pg::Statement heartbeat_, stopped_, elect_, resign_, notify_;
};

}  // namespace delta::runtime
