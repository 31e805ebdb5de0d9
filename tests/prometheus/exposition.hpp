// A strict reader of Prometheus's text exposition format (version 0.0.4) for the tests:
// it rejects what a Prometheus server would reject and checks what the format promises
// beyond syntax (TYPE before a family's samples, a family's samples together, histogram
// buckets increasing and cumulative, ending in +Inf equal to _count).
#pragma once

#include <cmath>
#include <cstdlib>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace delta::testing {

struct ExpositionSample {
  std::string name;  // with its suffix (_bucket, _sum, _count) for histograms
  std::map<std::string, std::string> labels;
  double value = 0;
};

struct ExpositionFamily {
  std::string type;
  std::string help;
  std::vector<ExpositionSample> samples;
};

struct Exposition {
  std::map<std::string, ExpositionFamily> families;
  std::string error;  // empty: the text is valid

  // The value of family `family`'s sample `name` whose labels include `labels`; NaN when
  // there is none.
  double value(const std::string& family, const std::string& name,
               const std::map<std::string, std::string>& labels = {}) const {
    auto it = families.find(family);
    if (it == families.end()) return std::nan("");
    for (const auto& sample : it->second.samples) {
      if (sample.name != name) continue;
      bool all = true;
      for (const auto& [label, wanted] : labels) {
        auto found = sample.labels.find(label);
        all = all && found != sample.labels.end() && found->second == wanted;
      }
      if (all) return sample.value;
    }
    return std::nan("");
  }
};

namespace exposition_detail {

inline bool parse_value(const std::string& text, double& value) {
  if (text == "+Inf") return value = HUGE_VAL, true;
  if (text == "-Inf") return value = -HUGE_VAL, true;
  if (text == "NaN") return value = std::nan(""), true;
  static const std::regex number(R"([-+]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][-+]?[0-9]+)?)");
  if (!std::regex_match(text, number)) return false;
  value = std::strtod(text.c_str(), nullptr);
  return true;
}

// Parses `{a="x",b="y"}` starting at text[pos] == '{'; pos ends after the '}'.
inline bool parse_labels(const std::string& text, std::size_t& pos,
                         std::map<std::string, std::string>& labels, std::string& error) {
  static const std::regex label_name("[a-zA-Z_][a-zA-Z0-9_]*");
  ++pos;
  while (pos < text.size() && text[pos] != '}') {
    const auto equals = text.find('=', pos);
    if (equals == std::string::npos) return error = "label without '='", false;
    const std::string name = text.substr(pos, equals - pos);
    if (!std::regex_match(name, label_name)) return error = "bad label name '" + name + "'", false;
    pos = equals + 1;
    if (pos >= text.size() || text[pos] != '"') return error = "label value not quoted", false;
    ++pos;
    std::string value;
    for (;;) {
      if (pos >= text.size()) return error = "unterminated label value", false;
      const char c = text[pos++];
      if (c == '"') break;
      if (c == '\n') return error = "raw newline in a label value", false;
      if (c == '\\') {
        if (pos >= text.size()) return error = "dangling escape", false;
        const char escaped = text[pos++];
        if (escaped == 'n') {
          value += '\n';
        } else if (escaped == '\\' || escaped == '"') {
          value += escaped;
        } else {
          return error = std::string("bad escape \\") + escaped, false;
        }
        continue;
      }
      value += c;
    }
    if (!labels.emplace(name, value).second) return error = "label " + name + " twice", false;
    if (pos < text.size() && text[pos] == ',') ++pos;
  }
  if (pos >= text.size()) return error = "unterminated label set", false;
  ++pos;
  return true;
}

// The family a sample named `name` belongs to, given the histogram families seen.
inline std::string family_of(const std::string& name,
                             const std::map<std::string, std::string>& types) {
  for (const char* suffix : {"_bucket", "_sum", "_count"}) {
    const std::string s(suffix);
    if (name.size() > s.size() && name.compare(name.size() - s.size(), s.size(), s) == 0) {
      const std::string base = name.substr(0, name.size() - s.size());
      auto it = types.find(base);
      if (it != types.end() && it->second == "histogram") return base;
    }
  }
  return name;
}

inline std::string check_histogram(const std::string& name, const ExpositionFamily& family) {
  // Per label set without le: the buckets in order, and the count.
  std::map<std::map<std::string, std::string>, std::vector<std::pair<double, double>>> buckets;
  std::map<std::map<std::string, std::string>, double> counts;
  for (const auto& sample : family.samples) {
    auto labels = sample.labels;
    if (sample.name == name + "_bucket") {
      auto le = labels.find("le");
      if (le == labels.end()) return name + "_bucket without le";
      double bound = 0;
      if (!parse_value(le->second, bound)) return name + ": bad le " + le->second;
      labels.erase(le);
      buckets[labels].emplace_back(bound, sample.value);
    } else if (sample.name == name + "_count") {
      counts[labels] = sample.value;
    } else if (sample.name != name + "_sum") {
      return name + ": unexpected sample " + sample.name;
    }
  }
  for (const auto& [labels, series] : buckets) {
    for (std::size_t i = 1; i < series.size(); ++i) {
      if (!(series[i - 1].first < series[i].first)) return name + ": le not increasing";
      if (series[i - 1].second > series[i].second) return name + ": buckets not cumulative";
    }
    if (series.empty() || !std::isinf(series.back().first)) return name + ": no +Inf bucket";
    auto count = counts.find(labels);
    if (count == counts.end()) return name + ": no _count";
    if (count->second != series.back().second) return name + ": +Inf bucket != _count";
  }
  return {};
}

}  // namespace exposition_detail

inline Exposition parse_exposition(const std::string& text) {
  using namespace exposition_detail;
  static const std::regex metric_name("[a-zA-Z_:][a-zA-Z0-9_:]*");
  static const std::set<std::string> kTypes{"counter", "gauge", "histogram", "summary", "untyped"};
  Exposition out;
  std::map<std::string, std::string> types;
  std::set<std::string> finished;  // families whose samples have ended
  std::string current;             // the family of the last sample
  std::istringstream lines(text);
  std::string line;
  int number = 0;
  auto fail = [&](const std::string& why) {
    out.error = "line " + std::to_string(number) + ": " + why + ": " + line;
    return out;
  };
  if (!text.empty() && text.back() != '\n') {
    out.error = "the text does not end with a newline";
    return out;
  }
  while (std::getline(lines, line)) {
    ++number;
    if (line.empty()) continue;
    if (line[0] == '#') {
      std::istringstream words(line);
      std::string hash, keyword, name;
      words >> hash >> keyword >> name;
      if (keyword != "HELP" && keyword != "TYPE") continue;  // a plain comment
      if (!std::regex_match(name, metric_name)) return fail("bad metric name");
      std::string rest;
      std::getline(words, rest);
      if (!rest.empty() && rest[0] == ' ') rest.erase(0, 1);
      if (keyword == "TYPE") {
        if (!kTypes.count(rest)) return fail("unknown type");
        if (types.count(name)) return fail("TYPE twice");
        if (out.families.count(name) && !out.families[name].samples.empty()) {
          return fail("TYPE after the family's samples");
        }
        types[name] = rest;
        out.families[name].type = rest;
      } else {
        out.families[name].help = rest;
      }
      continue;
    }
    std::size_t pos = 0;
    while (pos < line.size() && line[pos] != '{' && line[pos] != ' ')
      ++pos;
    ExpositionSample sample;
    sample.name = line.substr(0, pos);
    if (!std::regex_match(sample.name, metric_name)) return fail("bad metric name");
    if (pos < line.size() && line[pos] == '{') {
      std::string error;
      if (!parse_labels(line, pos, sample.labels, error)) return fail(error);
    }
    if (pos >= line.size() || line[pos] != ' ') return fail("no value");
    std::istringstream rest(line.substr(pos + 1));
    std::string value_text, timestamp, extra;
    rest >> value_text >> timestamp >> extra;
    if (!extra.empty()) return fail("trailing text");
    if (!parse_value(value_text, sample.value)) return fail("bad value");
    const std::string family = family_of(sample.name, types);
    if (!types.count(family)) return fail("sample before its TYPE");
    if (family != current) {
      if (finished.count(family)) return fail("the family's samples are not together");
      if (!current.empty()) finished.insert(current);
      current = family;
    }
    const std::string& type = types[family];
    if ((type == "counter" || type == "gauge") && sample.name != family) {
      return fail("a " + type + " sample named apart from its family");
    }
    if (type == "counter" && !(sample.value >= 0)) return fail("negative counter");
    out.families[family].samples.push_back(std::move(sample));
  }
  for (const auto& [name, family] : out.families) {
    if (family.type == "histogram") {
      if (auto problem = check_histogram(name, family); !problem.empty()) {
        out.error = problem;
        return out;
      }
    }
  }
  return out;
}

}  // namespace delta::testing
