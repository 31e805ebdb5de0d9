// Namespaces: groups of resources worked, expired and cleaned under one policy.
#pragma once

#include <chrono>
#include <optional>

#include <delta/export.hpp>
#include <delta/rate_limit.hpp>

DELTA_PUBLIC_BEGIN

namespace delta {

// One namespace this client works. Unset retention/expiry fields take Config's defaults.
struct NamespaceConfig {
  // Resources of this namespace worked at the same time by this client (1 .. 10,000;
  // default 10); each kind's parallelism caps it further.
  int max_workers = 10;
  // Synced resources older than this become expired and are worked again; unset:
  // Config::resource_expiry (default: never). Cannot be combined with synced_retention.
  std::optional<std::chrono::milliseconds> resource_expiry{};
  // How long synced, deleted and degraded resources are kept before the cleaner removes
  // them; unset: Config's retention defaults.
  std::optional<std::chrono::milliseconds> synced_retention{};
  std::optional<std::chrono::milliseconds> deleted_retention{};
  std::optional<std::chrono::milliseconds> degraded_retention{};
  // Flow control across every process and every kind of the namespace
  // (docs/flow-control.md): at most this many of its resources claimed at once
  // (1 .. 1,000,000) and at most rate_limit->count work starts per rate_limit->per. Unset:
  // no limit. Defaults: the value in force lives in the database (`delta namespaces limit`).
  std::optional<int> max_concurrency{};
  std::optional<RateLimit> rate_limit{};
  // Its share of a kind's slots in this process, against other namespaces with resources
  // of the kind due (Config::fair_namespaces; 1 .. 1000, default 1): a namespace of weight
  // 3 gets three times the slots of one of weight 1 while both have work waiting.
  int weight = 1;
};

}  // namespace delta

DELTA_PUBLIC_END
