// The building blocks of the dashboard's pages: escaping, query strings and the charts,
// drawn as inline SVG on the server (no script, nothing from outside the machine).
// Pure functions: nothing here touches the database or the network.
//
//   std::string cell = "<td>" + html::escape(row.object_id) + "</td>";
//   std::string chart = html::bar_chart({.series = {{"synced", "#2e7d32", counts}}, ...});
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace delta_ui::html {

// `text` safe as element content and as a quoted attribute value: & < > " ' escaped.
std::string escape(std::string_view text);

// `text` percent-encoded for a query string component (RFC 3986 unreserved kept).
std::string url_encode(std::string_view text);

// Name-value pairs as a query string, "a=1&b=x%20y" (no leading '?'); empty values are
// left out.
using Params = std::vector<std::pair<std::string, std::string>>;
std::string query_string(const Params& params);
// `path` with `params` as its query ("/resources?kind=user"); `path` when none is left.
std::string link(std::string_view path, const Params& params);

// The smallest of 1, 2, 5 times a power of ten that is >= `value` (1 for 0 or less): the
// top of a chart's axis.
std::int64_t nice_ceiling(std::int64_t value);

// One series of a bar chart: a bar per slot, in `color` (a CSS color of delta's own).
struct Series {
  std::string name;
  std::string color;
  std::vector<std::int64_t> values;
};

struct BarChart {
  std::string title;                    // the chart's accessible name
  std::vector<Series> series;           // drawn side by side in each slot
  std::vector<std::string> slots;       // a label per slot, for the bars' tooltips
  std::vector<std::string> axis_ticks;  // a label per slot, shown under it when not empty
  int width = 720;
  int height = 180;
};

// An <svg> of grouped bars: a slot per entry of `slots`, one bar per series in it, a y
// axis from 0 to nice_ceiling(largest value) with its top labelled, a legend with each
// series' total, and a <title> tooltip on every bar ("12:34: 5 synced"). Series shorter
// than `slots` are drawn as zeros past their end.
std::string bar_chart(const BarChart& chart);

// One segment of a stacked bar.
struct Segment {
  std::string label;
  std::string color;
  std::int64_t value = 0;
};

// An <svg> bar `width` wide whose segments are proportional to their values (each with a
// <title> tooltip "label: value"); an empty grey bar when they sum to 0.
std::string stacked_bar(const std::vector<Segment>& segments, int width = 240, int height = 14);

}  // namespace delta_ui::html
