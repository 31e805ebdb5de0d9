// What a client process is, whatever engines it runs: its id, schema, clock and logger,
// and how it heartbeats, elects a leader and wakes other processes.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include <delta/hooks.hpp>
#include <delta/log.hpp>
#include <delta/time.hpp>

namespace delta::runtime {

using std::chrono::milliseconds;

struct Options {
  std::string schema = "delta";
  std::string id{};  // empty: "<host>-<pid>-<random>" (with_defaults)
  Logger logger{};   // empty: info and above to stderr (with_defaults)
  // Called around every work attempt, informer run and job attempt (delta/hooks.hpp).
  std::vector<std::shared_ptr<Hooks>> hooks{};
  // Empty: the database's now() decides every time (see delta::Config::clock).
  std::function<Timestamp()> clock{};
  milliseconds poll_interval{1000};
  milliseconds notify_rate_limit{10};
  milliseconds heartbeat_interval{5000};
  milliseconds client_ttl{15000};
  milliseconds leader_ttl{15000};
  milliseconds leader_renew_interval{5000};
  milliseconds cluster_metrics_interval{5000};  // 0: no cluster-wide gauges
  // Stored with each heartbeat (what this process runs: queues, kinds).
  nlohmann::json metadata = nlohmann::json::object();

  // Every problem with these options, in the order of the fields (empty: none).
  std::vector<std::string> check() const;
  // A copy with the id and logger filled in where empty.
  Options with_defaults() const;
};

}  // namespace delta::runtime
