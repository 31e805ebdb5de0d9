#include "schema/statements.hpp"

#include <algorithm>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include <delta/errors.hpp>

#include "pg/connection.hpp"

namespace delta::schema {

namespace {

std::string_view trim(std::string_view text) {
  const auto first = text.find_first_not_of(" \t\n");
  if (first == std::string_view::npos) return {};
  const auto last = text.find_last_not_of(" \t\n");
  return text.substr(first, last - first + 1);
}

[[noreturn]] void fail(std::string_view source, std::string_view why) {
  throw Error(fmt::format("{}: {}", source, why));
}

// How deep /* include */ may nest (a fragment that includes itself is an error).
constexpr int kMaxIncludeDepth = 8;

std::string render_sql(std::string_view sql, std::string_view schema,
                       std::span<const Condition> conditions, std::string_view source,
                       int depth = 0) {
  const std::string quoted = pg::quote_identifier(schema);
  // The open /* if */ blocks, innermost last, and how many of them are dropped.
  std::vector<std::pair<std::string_view, bool>> blocks;
  std::size_t dropped = 0;
  std::string out;
  out.reserve(sql.size() + sql.size() / 8);
  const auto line_breaks = [](std::string_view text) {
    return static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n'));
  };
  const auto emit = [&](std::string_view text) {
    if (dropped == 0) {
      out.append(text);
    } else {
      out.append(line_breaks(text), '\n');
    }
  };

  std::size_t pos = 0;
  for (;;) {
    const std::size_t open = sql.find("/*", pos);
    if (open == std::string_view::npos) break;
    emit(sql.substr(pos, open - pos));
    const std::size_t close = sql.find("*/", open + 2);
    if (close == std::string_view::npos) fail(source, "a block comment is not closed");
    const std::string_view placeholder = sql.substr(open, close + 2 - open);
    const std::size_t line = sql.rfind('\n', open);
    const std::size_t line_start = line == std::string_view::npos ? 0 : line + 1;
    if (sql.substr(line_start, open - line_start).find("--") != std::string_view::npos) {
      fail(source, fmt::format("placeholder {} inside a -- comment", placeholder));
    }
    const std::string_view directive = trim(sql.substr(open + 2, close - open - 2));
    if (directive == "schema") {
      emit(quoted + ".");
    } else if (directive == "schema_name") {
      emit(quoted);
    } else if (directive.starts_with("if ")) {
      const std::string_view name = trim(directive.substr(3));
      const auto condition = std::find_if(conditions.begin(), conditions.end(),
                                          [&](const Condition& c) { return c.name == name; });
      if (condition == conditions.end()) {
        fail(source, fmt::format("unknown condition \"{}\" in {}", name, placeholder));
      }
      blocks.emplace_back(name, condition->on);
      if (!condition->on) ++dropped;
    } else if (directive.starts_with("include ")) {
      const std::string_view name = trim(directive.substr(8));
      if (depth >= kMaxIncludeDepth) {
        fail(source,
             fmt::format("{} nests includes deeper than {}", placeholder, kMaxIncludeDepth));
      }
      // Looked up even inside a dropped part, so that a bad name is an error whatever the
      // conditions.
      std::string_view fragment = query(name);
      while (!fragment.empty() && fragment.back() == '\n')
        fragment.remove_suffix(1);
      if (dropped == 0) {
        out += render_sql(fragment, schema, conditions, fmt::format("sql/queries/{}.sql", name),
                          depth + 1);
      }
    } else if (directive == "end") {
      if (blocks.empty()) fail(source, "/* end */ without an /* if */");
      if (!blocks.back().second) --dropped;
      blocks.pop_back();
    } else {
      fail(source, fmt::format("unknown placeholder {}", placeholder));
    }
    // A placeholder written over several lines leaves its line breaks too.
    out.append(line_breaks(placeholder), '\n');
    pos = close + 2;
  }
  emit(sql.substr(pos));
  if (!blocks.empty())
    fail(source, fmt::format("/* if {} */ without an /* end */", blocks.back().first));
  return out;
}

}  // namespace

std::string_view query(std::string_view name) {
  const auto queries = embedded_queries();
  const auto found =
      std::lower_bound(queries.begin(), queries.end(), name,
                       [](const Query& q, std::string_view n) { return q.name < n; });
  if (found == queries.end() || found->name != name) {
    throw Error(fmt::format("there is no SQL query \"{}\" (sql/queries/{}.sql)", name, name));
  }
  return found->sql;
}

std::string render(std::string_view sql, std::string_view schema,
                   std::initializer_list<Condition> conditions) {
  return render_sql(sql, schema, {conditions.begin(), conditions.size()}, "SQL");
}

std::string render_query(std::string_view name, std::string_view schema,
                         std::initializer_list<Condition> conditions) {
  return render_query(name, schema,
                      std::span<const Condition>(conditions.begin(), conditions.size()));
}

std::string render_query(std::string_view name, std::string_view schema,
                         std::span<const Condition> conditions) {
  return render_sql(query(name), schema, conditions, fmt::format("sql/queries/{}.sql", name));
}

}  // namespace delta::schema
