// Object types keyed by a string `key`: the members they all have, and types with a key
// (and a value) only, for tests whose controllers decide everything.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include <delta/object.hpp>

// The members of an object type with a `key` member (its id) of kind `Kind`, worked
// `Parallelism` at a time per process, with no periodic informer runs.
#define DELTA_KEYED_MEMBERS(Kind, Parallelism)                                             \
  static constexpr std::string_view kind = Kind;                                           \
  std::string id() const {                                                                 \
    return key;                                                                            \
  }                                                                                        \
  static delta::ObjectSettings settings() {                                                \
    return {.parallelism = Parallelism, .inform_interval = std::chrono::milliseconds(-1)}; \
  }

// Defines object type `Type` with a key and nothing else (DELTA_KEYED_MEMBERS).
#define DELTA_KEYED_OBJECT(Type, Kind, Parallelism) \
  struct Type {                                     \
    std::string key;                                \
    DELTA_KEYED_MEMBERS(Kind, Parallelism)          \
  };                                                \
  NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Type, key)

// The same with an int `value` besides the key.
#define DELTA_KEYED_VALUE_OBJECT(Type, Kind, Parallelism) \
  struct Type {                                           \
    std::string key;                                      \
    int value = 0;                                        \
    DELTA_KEYED_MEMBERS(Kind, Parallelism)                \
  };                                                      \
  NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Type, key, value)
