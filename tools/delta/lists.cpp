#include "lists.hpp"

#include <cstdio>

namespace delta_cli {

delta::Page PageArgs::page() const {
  return {
      .limit = limit,
      .cursor = cursor,
      .order = order == "oldest" ? delta::SortOrder::oldest_first : delta::SortOrder::newest_first};
}

void add_page_options(CLI::App* command, PageArgs& args) {
  command->add_option("--limit", args.limit, "Rows per page (1 to 1000)")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000));
  command->add_option("--cursor", args.cursor, "Where the previous page ended (its next cursor)");
  command->add_option("--order", args.order, "newest (first) or oldest (first)")
      ->capture_default_str()
      ->check(CLI::IsMember({"newest", "oldest"}));
}

}  // namespace delta_cli
