#include "bulk.hpp"

#include <cstdint>
#include <cstdio>
#include <iostream>
#include <optional>
#include <string>

#include <fmt/format.h>
#include <unistd.h>

#include "cli.hpp"

namespace delta_cli {

namespace {

std::string would(const BulkAction& action, std::int64_t count) {
  return "would " + fmt::format(fmt::runtime(action.verb.would), count_of(count, action.noun));
}

void print_result(const BulkAction& action, const delta::BulkResult& result, Format format) {
  if (format == Format::json) {
    print_json({{"action", action.name},
                {"dry_run", result.dry_run},
                {"changed", result.changed},
                {"batches", result.batches}});
    return;
  }
  fmt::print("{}\n", result.dry_run ? would(action, result.changed)
                                    : fmt::format(fmt::runtime(action.verb.done),
                                                  count_of(result.changed, action.noun)));
}

bool confirmed() {
  fmt::print(stderr, "Proceed? [y/N] ");
  std::fflush(stderr);
  std::string answer;
  if (!std::getline(std::cin, answer)) return false;
  return answer == "y" || answer == "Y" || answer == "yes" || answer == "YES" || answer == "Yes";
}

}  // namespace

void add_bulk_flags(CLI::App* command, BulkFlags& flags) {
  command->add_flag("--dry-run", flags.dry_run, "Only count what would change");
  command->add_flag("-y,--yes", flags.yes, "Do it without asking");
  add_output_option(command, flags.format);
}

int run_bulk(const BulkAction& action, const BulkRun& run, const BulkFlags& flags) {
  std::optional<std::int64_t> expected;
  if (flags.dry_run || !flags.yes) {
    const auto counted = run({.dry_run = true, .progress = {}});
    if (flags.dry_run) {
      print_result(action, counted, flags.format);
      return kExitOk;
    }
    if (counted.changed == 0) {
      print_result(action, {.changed = 0, .batches = 0, .dry_run = false}, flags.format);
      return kExitOk;
    }
    fmt::print(stderr, "{}\n", would(action, counted.changed));
    if (::isatty(STDIN_FILENO) == 0) {
      throw UsageError(fmt::format(
          "standard input is not a terminal, so delta cannot ask: pass --yes to go ahead "
          "(or --dry-run to only count)"));
    }
    if (!confirmed()) {
      fmt::print(stderr, "aborted: nothing changed\n");
      return kExitRuntime;
    }
    expected = counted.changed;
  }

  delta::BulkOptions options;
  bool progress_shown = false;
  if (::isatty(STDERR_FILENO) != 0) {
    options.progress = [&](std::int64_t changed) {
      const std::string of = expected ? " of " + with_commas(*expected) : std::string();
      fmt::print(stderr, "\r{}",
                 fmt::format(fmt::runtime(action.verb.done),
                             fmt::format("{}{} {}s", with_commas(changed), of, action.noun)));
      std::fflush(stderr);
      progress_shown = true;
    };
  }
  const auto result = run(options);
  if (progress_shown) fmt::print(stderr, "\n");
  print_result(action, result, flags.format);
  return kExitOk;
}

}  // namespace delta_cli
