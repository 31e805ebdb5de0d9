// Object types for tests whose controllers decide everything: a key, or a key and a value.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include <delta/object.hpp>

// Defines object type `Type` of kind `Kind` with a `key` (its id) and nothing else,
// worked `Parallelism` at a time per process, with no periodic informer runs.
#define DELTA_KEYED_OBJECT(Type, Kind, Parallelism)                                          \
  struct Type {                                                                              \
    std::string key;                                                                         \
    static constexpr std::string_view kind = Kind;                                           \
    std::string id() const { return key; }                                                   \
    static delta::ObjectSettings settings() {                                                \
      return {.parallelism = Parallelism, .inform_interval = std::chrono::milliseconds(-1)}; \
    }                                                                                        \
  };                                                                                         \
  NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Type, key)

// The same with an int `value` besides the key.
#define DELTA_KEYED_VALUE_OBJECT(Type, Kind, Parallelism)                                    \
  struct Type {                                                                              \
    std::string key;                                                                         \
    int value = 0;                                                                           \
    static constexpr std::string_view kind = Kind;                                           \
    std::string id() const { return key; }                                                   \
    static delta::ObjectSettings settings() {                                                \
      return {.parallelism = Parallelism, .inform_interval = std::chrono::milliseconds(-1)}; \
    }                                                                                        \
  };                                                                                         \
  NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Type, key, value)
