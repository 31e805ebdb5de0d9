// Objects: the things delta keeps in step.
//
// An object is a plain C++ struct with a kind, an id and a JSON form. delta stores one
// row per (kind, id) and hands it to the controller of that kind until it is synced.
//
//   struct User {
//     std::string email;
//     std::string name;
//     static constexpr std::string_view kind = "user";   // required
//     std::string id() const { return email; }           // required, 1..254 bytes
//     // optional hooks, detected at compile time:
//     int compare(const User& stored) const;             // >0 newer, 0 same, <0 older
//     std::optional<delta::Timestamp> created_at() const;  // advances the informer cursor
//     static delta::ObjectSettings settings();           // {parallelism, inform_interval}
//     delta::InformOpts inform_opts() const;             // default namespace, tags, ...
//   };
//   NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(User, email, name)  // how it is stored (jsonb)
//
// A hook whose signature is wrong is a compile error with a message naming the hook, not
// a hook that is silently ignored. (An overloaded hook is used when one overload has the
// right form; a set of overloads none of which fits cannot be told apart from no hook.)
#pragma once

#include <chrono>
#include <concepts>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include <nlohmann/json.hpp>

#include <delta/export.hpp>
#include <delta/rate_limit.hpp>
#include <delta/time.hpp>

DELTA_PUBLIC_BEGIN

namespace delta {

// Per-kind settings, from an object type's optional `static ObjectSettings settings()`.
struct ObjectSettings {
  // How many resources of this kind one process works at the same time (1 .. 10,000;
  // default 1). Each namespace's max_workers caps it further.
  int parallelism = 1;
  // How often the kind's informer runs; unset: Config::inform_interval; negative:
  // never periodically.
  std::optional<std::chrono::milliseconds> inform_interval{};
  // Flow control across every process (docs/flow-control.md): at most this many resources
  // of the kind claimed at once (1 .. 1,000,000), and at most rate_limit->count work starts
  // per rate_limit->per. Unset: no limit. These are defaults: the first process to
  // register the kind writes them to the database, where the value in force lives (an
  // operator may override it with `delta controllers limit`).
  std::optional<int> max_concurrency{};
  std::optional<RateLimit> rate_limit{};
  // A new or changed resource of the kind is due only once this long has passed without
  // a newer change (each new generation moves it; the stored object is always the
  // latest): an object changed ten times a second is worked once it settles. 0: at once;
  // at most 1 day. Informs from every process are debounced (the value lives in
  // delta_controller, written by the processes that register the kind).
  std::chrono::milliseconds debounce{0};
};

// The class a resource is due in (docs/flow-control.md, "Fresh changes first"): a claim
// takes every due resource of a kind in class `fresh` before any in class `background`;
// within a class the oldest due first.
enum class Priority {
  // Informed new or changed (or forced by an explicit inform): the default of an inform.
  fresh,
  // Due again because of a retry after a failure, an expiry, an invalidation, a rescue
  // or a process_existing resync; or informed with this priority (e.g. a backfill that
  // should not hold up live changes).
  background,
};
std::string_view to_string(Priority priority) noexcept;

// Options of one inform. Every field left at its default falls back to the object's
// `inform_opts()` hook, then to delta's default.
struct InformOpts {
  // The namespace the resource lives in (default "default"). Kinds and namespaces match
  // ^[a-z0-9]+([_-][a-z0-9]+)*$, at most 64 characters.
  std::string namespace_name{};
  // Free-form data stored with the resource; must be a JSON object. Default {}.
  std::optional<nlohmann::json> metadata{};
  // Failed attempts before the resource is degraded (1 .. 32,767); 0: default 10.
  int max_attempts = 0;
  // Each ^\w[\w-]+\w$, at most 255 characters.
  std::vector<std::string> tags{};
  // Schedule the resource for work even when its content did not change.
  bool force = false;
  // The class the resource is due in when this inform schedules it (new, changed or
  // forced). Unset: fresh, except an unchanged resource forced by a process_existing
  // informer run, which is background work.
  std::optional<Priority> priority{};
};

namespace detail {

// A hook is "declared" when its name is a single member (so a wrong signature can be
// reported) or when a call of the right form compiles (overloads, templates).
template <class T>
concept names_compare = requires {
  &T::compare;
};
template <class T>
concept names_created_at = requires {
  &T::created_at;
};
template <class T>
concept names_settings = requires {
  &T::settings;
};
template <class T>
concept names_inform_opts = requires {
  &T::inform_opts;
};

template <class T>
concept valid_compare = requires(const T& object, const T& stored) {
  { object.compare(stored) } -> std::convertible_to<int>;
};
template <class T>
concept valid_created_at = requires(const T& object) {
  { object.created_at() } -> std::convertible_to<std::optional<Timestamp>>;
};
template <class T>
concept valid_settings = requires {
  { T::settings() } -> std::convertible_to<ObjectSettings>;
};
template <class T>
concept valid_inform_opts = requires(const T& object) {
  { object.inform_opts() } -> std::convertible_to<InformOpts>;
};

template <class T>
concept declares_compare = names_compare<T> || valid_compare<T>;
template <class T>
concept declares_created_at = names_created_at<T> || valid_created_at<T>;
template <class T>
concept declares_settings = names_settings<T> || valid_settings<T>;
template <class T>
concept declares_inform_opts = names_inform_opts<T> || valid_inform_opts<T>;

}  // namespace detail

// What delta needs of an object type: a kind, an id, and a JSON form (nlohmann-json
// to_json/from_json, e.g. NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE).
template <class T>
concept Object = requires {
  { T::kind } -> std::convertible_to<std::string_view>;
}
&&requires(const T& object, const nlohmann::json& json) {
  { object.id() } -> std::convertible_to<std::string>;
  nlohmann::json(object);
  json.get<T>();
};

namespace detail {

// Fails compilation, naming the hook, when T declares a hook with the wrong signature.
template <Object T>
constexpr bool check_hooks() {
  static_assert(!declares_compare<T> || valid_compare<T>,
                "delta: an object's compare hook must be `int compare(const T& stored) const`");
  static_assert(!declares_created_at<T> || valid_created_at<T>,
                "delta: an object's created_at hook must be "
                "`std::optional<delta::Timestamp> created_at() const`");
  static_assert(!declares_settings<T> || valid_settings<T>,
                "delta: an object's settings hook must be "
                "`static delta::ObjectSettings settings()`");
  static_assert(!declares_inform_opts<T> || valid_inform_opts<T>,
                "delta: an object's inform_opts hook must be "
                "`delta::InformOpts inform_opts() const`");
  return true;
}

// An object as the engine sees it, without its C++ type.
struct ObjectData {
  std::string_view kind;
  std::string id;
  nlohmann::json json;
  std::optional<Timestamp> created_at;
  InformOpts opts;  // the call's options merged over the object's inform_opts()
  // Set when the type has a compare hook: compares this object with a stored one
  // (throws if the stored JSON does not parse as the type).
  std::function<int(const nlohmann::json& stored)> compare;
};

// The call's options, with unset fields taken from `object`.
inline InformOpts merge_opts(const InformOpts& call, InformOpts object) {
  if (!call.namespace_name.empty()) object.namespace_name = call.namespace_name;
  if (call.metadata) object.metadata = call.metadata;
  if (call.max_attempts != 0) object.max_attempts = call.max_attempts;
  if (!call.tags.empty()) object.tags = call.tags;
  object.force = object.force || call.force;
  if (call.priority) object.priority = call.priority;
  return object;
}

template <Object T>
ObjectData describe(const T& object, const InformOpts& opts) {
  static_assert(check_hooks<T>());
  ObjectData data;
  data.kind = std::string_view(T::kind);
  data.id = std::string(object.id());
  data.json = nlohmann::json(object);
  if constexpr (declares_created_at<T>) data.created_at = object.created_at();
  if constexpr (declares_inform_opts<T>) {
    data.opts = merge_opts(opts, object.inform_opts());
  } else {
    data.opts = opts;
  }
  if constexpr (declares_compare<T>) {
    data.compare = [object](const nlohmann::json& stored) {
      return static_cast<int>(object.compare(stored.get<T>()));
    };
  }
  return data;
}

template <Object T>
ObjectSettings settings_of() {
  static_assert(check_hooks<T>());
  if constexpr (declares_settings<T>) {
    return T::settings();
  } else {
    return ObjectSettings{};
  }
}

}  // namespace detail

}  // namespace delta

DELTA_PUBLIC_END
