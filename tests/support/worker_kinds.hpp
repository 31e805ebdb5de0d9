// The job kind and the object kinds that the worker programs (job_worker_proc,
// resource_worker_proc) work, shared with the tests that insert and inform them, so that
// both sides agree on each kind's name and JSON form.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include <delta/object.hpp>

namespace delta::testing {

// The job job_worker_proc works.
struct ProcJob {
  std::int64_t n = 0;
  static constexpr std::string_view kind = "proc_job";
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(ProcJob, n)

// The table job_worker_proc records one row per execution of a job in (the test creates
// it): CREATE TABLE <schema>.proc_execution, `schema` given as a quoted identifier.
inline std::string proc_execution_ddl(std::string_view schema) {
  return "CREATE TABLE " + std::string(schema) + R"(.proc_execution (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  token text NOT NULL UNIQUE,
  job_id bigint NOT NULL,
  kind text NOT NULL,
  attempt integer NOT NULL,
  client_id text NOT NULL,
  pid integer NOT NULL,
  started_at timestamptz NOT NULL,
  finished_at timestamptz NOT NULL
))";
}

// The parallelism and the inform interval (negative: no periodic informer runs) of every
// WorkerObject kind in this process: resource_worker_proc sets them from its command line
// before it builds its client.
inline int worker_object_parallelism = 4;
inline std::chrono::milliseconds worker_object_inform_interval{-1};
// Their default flow limits (unset: none).
inline std::optional<int> worker_object_max_concurrency;
inline std::optional<delta::RateLimit> worker_object_rate;

// An object resource_worker_proc works: kind Tag::name, JSON {"key": ..., "value": ...}.
template <class Tag>
struct WorkerObject {
  std::string key;
  std::int64_t value = 0;
  static constexpr std::string_view kind = Tag::name;
  std::string id() const { return key; }
  static delta::ObjectSettings settings() {
    return {.parallelism = worker_object_parallelism,
            .inform_interval = worker_object_inform_interval,
            .max_concurrency = worker_object_max_concurrency,
            .rate_limit = worker_object_rate};
  }
};
template <class Tag>
void to_json(nlohmann::json& json, const WorkerObject<Tag>& object) {
  json = nlohmann::json{{"key", object.key}, {"value", object.value}};
}
template <class Tag>
void from_json(const nlohmann::json& json, WorkerObject<Tag>& object) {
  json.at("key").get_to(object.key);
  json.at("value").get_to(object.value);
}

struct ItemTag {
  static constexpr std::string_view name = "item";
};
struct AlphaTag {
  static constexpr std::string_view name = "alpha";
};
struct BetaTag {
  static constexpr std::string_view name = "beta";
};
struct GammaTag {
  static constexpr std::string_view name = "gamma";
};
using Item = WorkerObject<ItemTag>;
using Alpha = WorkerObject<AlphaTag>;
using Beta = WorkerObject<BetaTag>;
using Gamma = WorkerObject<GammaTag>;

}  // namespace delta::testing
