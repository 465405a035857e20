#include "search/objectives.h"

#include <sstream>

#include "core/error.h"

namespace vitnas {

namespace {
constexpr Metric kMetrics[] = {Metric::accuracy, Metric::latency, Metric::params, Metric::macs};
}

std::string to_string(Metric m) {
  switch (m) {
    case Metric::accuracy: return "accuracy";
    case Metric::latency: return "latency";
    case Metric::params: return "params";
    case Metric::macs: return "macs";
  }
  return "?";
}

double value(const Scores& s, Metric m) {
  switch (m) {
    case Metric::accuracy: return s.accuracy;
    case Metric::latency: return s.latency;
    case Metric::params: return s.params;
    case Metric::macs: return s.macs;
  }
  return 0;
}

std::vector<Objective> parse_objectives(const std::string& list) {
  std::vector<Objective> out;
  std::stringstream ss(list);
  for (std::string item; std::getline(ss, item, ',');) {
    const size_t colon = item.find(':');
    const std::string name = item.substr(0, colon);
    const std::string dir = colon == std::string::npos ? "" : item.substr(colon + 1);
    require(dir.empty() || dir == "max" || dir == "min",
            "--objectives: \"" + item + "\": the direction is max or min");
    bool found = false;
    for (Metric m : kMetrics) {
      if (to_string(m) != name) continue;
      for (const auto& o : out)
        require(o.metric != m, "--objectives: " + name + " is given twice");
      out.push_back({m, dir.empty() ? m == Metric::accuracy : dir == "max"});
      found = true;
    }
    require(found, "--objectives: unknown objective \"" + name +
                       "\" (valid: accuracy, latency, params, macs)");
  }
  require(out.size() >= 2, "--objectives: give at least two objectives (e.g. accuracy,latency)");
  return out;
}

std::string objectives_text(const std::vector<Objective>& objectives) {
  std::string s;
  for (const auto& o : objectives) {
    if (!s.empty()) s += ",";
    s += to_string(o.metric);
    if (o.maximise != (o.metric == Metric::accuracy)) s += o.maximise ? ":max" : ":min";
  }
  return s;
}

Objectives point(const Scores& s, const std::vector<Objective>& objectives, const Scores& scale) {
  Objectives p;
  for (const auto& o : objectives) {
    const double denom = o.metric == Metric::accuracy ? 100.0 : value(scale, o.metric);
    const double x = value(s, o.metric) / denom;
    p.push_back(o.maximise ? -x : x);
  }
  return p;
}

Objectives reference_point(const std::vector<Objective>& objectives) {
  Objectives r;
  for (const auto& o : objectives) r.push_back(o.maximise ? 0.0 : 1.0);
  return r;
}

double violation(const Scores& s, const Constraints& c) {
  double v = 0;
  auto excess = [&](double x, double limit) {
    if (limit > 0 && x > limit) v += (x - limit) / limit;
  };
  excess(s.params, c.max_params);
  excess(s.macs, c.max_macs);
  excess(s.latency, c.max_latency);
  return v;
}

}  // namespace vitnas
