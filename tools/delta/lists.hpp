// What list and get commands share (bulk commands too): states by name, pages and how
// they print, and the plain `list` command.
#pragma once

#include <algorithm>
#include <array>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <delta/admin.hpp>
#include <delta/jobs.hpp>
#include <delta/resource.hpp>

#include "cli.hpp"
#include "views.hpp"

namespace delta_cli {

// The states `names` (the values of --state) name, in `known`; throws UsageError naming
// `what` ("resource", "job") and the states there are for a name that is none of them.
template <class State, std::size_t N>
std::vector<State> parse_states(const std::vector<std::string>& names,
                                const std::array<State, N>& known, std::string_view what) {
  std::vector<State> states;
  for (const auto& name : names) {
    const auto found = std::find_if(known.begin(), known.end(),
                                    [&](State state) { return to_string(state) == name; });
    if (found == known.end()) {
      std::vector<std::string_view> valid;
      for (State state : known)
        valid.push_back(to_string(state));
      throw UsageError(fmt::format("--state: \"{}\" is not a {} state (one of {})", name, what,
                                   fmt::join(valid, ", ")));
    }
    states.push_back(*found);
  }
  return states;
}

// --limit, --cursor and --order of a list command.
struct PageArgs {
  int limit = 100;
  std::string cursor;
  std::string order = "newest";

  delta::Page page() const;
};

void add_page_options(CLI::App* command, PageArgs& args);

// What a paged list command is given: its filter options (FilterArgs), the page, --output.
template <class FilterArgs>
struct ListArgs {
  FilterArgs filter;
  PageArgs page;
  Format format = Format::table;
};

// `list` under `group`, a paged listing: `add_filters(command, filter)` adds its filter
// options, then --limit, --cursor, --order and --output; `run(globals, args)` runs it.
template <class FilterArgs, class AddFilters, class Run>
void add_paged_list_command(CLI::App& group, Cli& cli, const std::string& description,
                            AddFilters add_filters, Run run) {
  auto args = std::make_shared<ListArgs<FilterArgs>>();
  auto* command = add_command(group, "list", description);
  add_filters(command, args->filter);
  add_page_options(command, args->page);
  add_output_option(command, args->format);
  on_run(command, cli, [&cli, args, run] { return run(cli.globals, *args); });
}

// One page of a listing: listing_json(), or the table `to_table` makes of its rows and, on
// a line of its own, how to ask for the next page.
template <class Row, class ToJson, class ToTable>
void print_page(const delta::Listing<Row>& page, Format format, ToJson to_json, ToTable to_table) {
  if (format == Format::json) {
    print_json(listing_json(json_rows(page.rows, to_json), page.next_cursor));
    return;
  }
  fmt::print("{}", to_table(page.rows).render());
  if (!page.next_cursor.empty()) fmt::print("\nnext page: --cursor {}\n", page.next_cursor);
}

// One thing (`get`): its JSON object, or the text `to_text` makes of it.
template <class Item, class ToJson, class ToText>
void print_one(const Item& item, Format format, ToJson to_json, ToText to_text) {
  if (format == Format::json) {
    print_json(to_json(item));
  } else {
    fmt::print("{}", to_text(item));
  }
}

// `list` under `group`, printing what `read(admin)` returns with `to_json` (each item) or
// `to_table` (all of them); a listing without pages.
template <class Read, class ToJson, class ToTable>
void add_list_command(CLI::App& group, Cli& cli, const std::string& description, Read read,
                      ToJson to_json, ToTable to_table) {
  auto format = std::make_shared<Format>(Format::table);
  auto* command = add_command(group, "list", description);
  add_output_option(command, *format);
  on_run(command, cli, [&cli, format, read, to_json, to_table] {
    auto admin = open_admin(cli.globals);
    auto items = read(*admin);
    using Item = typename decltype(items)::value_type;
    print_page(delta::Listing<Item>{std::move(items), {}}, *format, to_json, to_table);
    return kExitOk;
  });
}

}  // namespace delta_cli
