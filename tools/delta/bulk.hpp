// The bulk commands (`delta resources retry ...`, `delta jobs cancel ...`): count first,
// confirm, then act in batches.
#pragma once

#include <functional>
#include <string>

#include <CLI/CLI.hpp>

#include <delta/admin.hpp>

#include "output.hpp"

namespace delta_cli {

// The flags every bulk command takes.
struct BulkFlags {
  bool dry_run = false;
  bool yes = false;
  Format format = Format::table;
};

// --dry-run, --yes, --output.
void add_bulk_flags(CLI::App* command, BulkFlags& flags);

// How a bulk command speaks of what it does to "{}" (a count of rows).
struct Verb {
  std::string would;  // "retry {}", "schedule {} now"
  std::string done;   // "retried {}", "scheduled {} now"
};

struct BulkAction {
  std::string name;  // the command: "retry", "schedule-now"
  Verb verb;
  std::string noun;  // what it counts: "resource"
};

// Runs the action (or counts, for a dry run).
using BulkRun = std::function<delta::BulkResult(const delta::BulkOptions&)>;

// Runs `action` (`run`) as `flags` say. Without --yes it first counts what would change (printed
// to standard error), then asks "Proceed? [y/N]" when standard input is a terminal and
// throws UsageError when it is not; --dry-run only prints the count. Progress goes to
// standard error when it is a terminal. Returns the exit code: 1 when the answer is no.
int run_bulk(const BulkAction& action, const BulkRun& run, const BulkFlags& flags);

}  // namespace delta_cli
