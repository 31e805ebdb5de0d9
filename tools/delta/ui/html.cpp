#include "ui/html.hpp"

#include <algorithm>

#include <fmt/format.h>

namespace delta_ui::html {

std::string escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string url_encode(std::string_view text) {
  std::string out;
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if ((byte >= 'a' && byte <= 'z') || (byte >= 'A' && byte <= 'Z') ||
        (byte >= '0' && byte <= '9') || byte == '-' || byte == '_' || byte == '.' || byte == '~') {
      out += c;
    } else {
      out += fmt::format("%{:02X}", byte);
    }
  }
  return out;
}

std::string query_string(const Params& params) {
  std::string out;
  for (const auto& [name, value] : params) {
    if (value.empty()) continue;
    if (!out.empty()) out += '&';
    out += url_encode(name) + '=' + url_encode(value);
  }
  return out;
}

std::string link(std::string_view path, const Params& params) {
  const auto query = query_string(params);
  return query.empty() ? std::string(path) : std::string(path) + '?' + query;
}

std::int64_t nice_ceiling(std::int64_t value) {
  if (value <= 1) return 1;
  std::int64_t power = 1;
  for (;;) {
    for (const std::int64_t step : {1, 2, 5}) {
      if (step * power >= value) return step * power;
    }
    power *= 10;
  }
}

std::string bar_chart(const BarChart& chart) {
  constexpr int kLeft = 44;    // room for the axis labels
  constexpr int kBottom = 18;  // room for the ticks
  constexpr int kTop = 22;     // room for the legend
  const int plot_width = chart.width - kLeft - 4;
  const int plot_height = chart.height - kBottom - kTop;
  std::int64_t largest = 0;
  for (const auto& series : chart.series) {
    for (const auto value : series.values)
      largest = std::max(largest, value);
  }
  const auto top = nice_ceiling(largest);
  const std::size_t slots = chart.slots.size();
  const double slot_width = slots == 0 ? 0.0 : static_cast<double>(plot_width) / slots;
  const std::size_t bars = std::max<std::size_t>(chart.series.size(), 1);
  const double bar_width = std::max(1.0, (slot_width - 1.0) / bars);

  std::string out = fmt::format(
      R"(<svg class="chart" xmlns="http://www.w3.org/2000/svg" width="{0}" height="{1}" )"
      R"(viewBox="0 0 {0} {1}" role="img" aria-label="{2}">)",
      chart.width, chart.height, escape(chart.title));
  // The axis: 0 and the top, a grid line at each.
  const int base_y = kTop + plot_height;
  out += fmt::format(
      R"(<line x1="{0}" y1="{1}" x2="{2}" y2="{1}" stroke="#999"/>)"
      R"(<line x1="{0}" y1="{3}" x2="{2}" y2="{3}" stroke="#ddd"/>)"
      R"(<text x="{4}" y="{5}" text-anchor="end" font-size="11" fill="#555">0</text>)"
      R"(<text x="{4}" y="{6}" text-anchor="end" font-size="11" fill="#555">{7}</text>)",
      kLeft, base_y, kLeft + plot_width, kTop, kLeft - 4, base_y + 4, kTop + 4, top);
  // The legend, with each series' total.
  int legend_x = kLeft;
  for (const auto& series : chart.series) {
    std::int64_t total = 0;
    for (const auto value : series.values)
      total += value;
    const auto label = fmt::format("{} ({})", series.name, total);
    out += fmt::format(R"(<rect x="{}" y="4" width="10" height="10" fill="{}"/>)", legend_x,
                       escape(series.color));
    out += fmt::format(R"(<text x="{}" y="13" font-size="12" fill="#222">{}</text>)", legend_x + 14,
                       escape(label));
    legend_x += 24 + static_cast<int>(label.size()) * 7;
  }
  for (std::size_t slot = 0; slot < slots; ++slot) {
    const double slot_x = kLeft + slot * slot_width;
    for (std::size_t series_idx = 0; series_idx < chart.series.size(); ++series_idx) {
      const auto& series = chart.series[series_idx];
      const std::int64_t value = slot < series.values.size() ? series.values[slot] : 0;
      if (value <= 0) continue;
      const double height = static_cast<double>(value) / top * plot_height;
      out += fmt::format(
          R"(<rect class="bar" x="{:.1f}" y="{:.1f}" width="{:.1f}" height="{:.1f}" fill="{}">)"
          R"(<title>{}: {} {}</title></rect>)",
          slot_x + 0.5 + series_idx * bar_width, base_y - height, bar_width, height,
          escape(series.color), escape(chart.slots[slot]), value, escape(series.name));
    }
    if (slot < chart.axis_ticks.size() && !chart.axis_ticks[slot].empty()) {
      out += fmt::format(
          R"(<text x="{:.1f}" y="{}" text-anchor="middle" font-size="11" fill="#555">{}</text>)",
          slot_x + slot_width / 2, chart.height - 4, escape(chart.axis_ticks[slot]));
    }
  }
  out += "</svg>";
  return out;
}

std::string stacked_bar(const std::vector<Segment>& segments, int width, int height) {
  std::int64_t total = 0;
  for (const auto& segment : segments)
    total += std::max<std::int64_t>(segment.value, 0);
  std::string out = fmt::format(
      R"(<svg class="stack" xmlns="http://www.w3.org/2000/svg" width="{0}" height="{1}" )"
      R"(viewBox="0 0 {0} {1}" role="img" aria-label="states">)"
      R"(<rect x="0" y="0" width="{0}" height="{1}" fill="#eee"/>)",
      width, height);
  double x = 0;
  for (const auto& segment : segments) {
    if (total == 0 || segment.value <= 0) continue;
    const double segment_width = static_cast<double>(segment.value) / total * width;
    out += fmt::format(
        R"(<rect x="{:.2f}" y="0" width="{:.2f}" height="{}" fill="{}"><title>{}: {}</title></rect>)",
        x, segment_width, height, escape(segment.color), escape(segment.label), segment.value);
    x += segment_width;
  }
  out += "</svg>";
  return out;
}

}  // namespace delta_ui::html
