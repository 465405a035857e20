#include "search/front_report.h"

#include <cmath>
#include <filesystem>
#include <sstream>

#include <nlohmann/json.hpp>

#include "core/io.h"
#include "core/svg_plot.h"

namespace vitnas {

using nlohmann::json;

namespace {

// The metric the front is drawn and budgets are picked by: the first objective besides latency.
Objective quality_objective(const SearchConfig& c) {
  for (const auto& o : c.objectives)
    if (o.metric != Metric::latency) return o;
  return c.objectives.front();
}

bool better(const Scores& a, const Scores& b, const Objective& q) {
  return q.maximise ? value(a, q.metric) > value(b, q.metric)
                    : value(a, q.metric) < value(b, q.metric);
}

std::string axis_label(Metric m, const std::string& unit) {
  switch (m) {
    case Metric::accuracy: return "top-1 % (supernet, inherited weights)";
    case Metric::latency: return "predicted latency (" + unit + ")";
    case Metric::params: return "params";
    case Metric::macs: return "MACs";
  }
  return "";
}

json row_json(const Candidate& c, const FrontReport& r) {
  json j = {{"name", c.name()},
            {"file", "front/" + c.name() + ".json"},
            {"generation", c.generation},
            {"latency", c.scores.latency},
            {"params", c.scores.params},
            {"macs", c.scores.macs},
            {"attention_share", attention_share(c.genotype.arch)}};
  if (r.has_accuracy) j["accuracy"] = c.scores.accuracy;
  const auto m = r.measured.find(c.index);
  if (m != r.measured.end()) {
    j["measured_latency"] = m->second.latency;
    j["measured_spread"] = m->second.spread;
    j["error_pct"] = 100.0 * (c.scores.latency - m->second.latency) / m->second.latency;
  }
  return j;
}

std::string csv_text(const json& rows, bool has_accuracy, bool measured) {
  std::ostringstream out;
  out << "name,file," << (has_accuracy ? "accuracy," : "")
      << "latency,params,macs,attention_share" << (measured ? ",measured_latency,error_pct" : "")
      << "\n";
  for (const auto& r : rows) {
    out << r["name"].get<std::string>() << ',' << r["file"].get<std::string>() << ',';
    if (has_accuracy) out << r["accuracy"].get<double>() << ',';
    out << r["latency"].get<double>() << ',' << r["params"].get<double>() << ','
        << r["macs"].get<double>() << ',' << r["attention_share"].get<double>();
    if (measured) {
      if (r.contains("measured_latency"))
        out << ',' << r["measured_latency"].get<double>() << ',' << r["error_pct"].get<double>();
      else
        out << ",,";
    }
    out << "\n";
  }
  return out.str();
}

std::string front_svg(const SearchState& s, const SearchConfig& c, const FrontReport& r,
                      const std::vector<size_t>& front) {
  const Objective q = quality_objective(c);
  PlotSeries all{"every network scored", "#bbbbbb", {}, {}, false, 2, {}};
  for (const auto& cand : s.archive) {
    all.x.push_back(cand.scores.latency);
    all.y.push_back(value(cand.scores, q.metric));
  }
  PlotSeries line{"front (" + to_string(c.strategy) + ")", "#d62728", {}, {}, true, 3.5, {}};
  for (size_t i : front) {
    line.x.push_back(s.archive[i].scores.latency);
    line.y.push_back(value(s.archive[i].scores, q.metric));
  }
  Plot plot;
  plot.title = r.space + ": " + to_string(q.metric) + " vs latency (" + r.table + ")";
  plot.x_label = axis_label(Metric::latency, r.unit);
  plot.y_label = axis_label(q.metric, r.unit);
  plot.series = {all, line};
  PlotSeries marked{"reference networks", "#1f77b4", {}, {}, false, 4.5, {}};
  for (const auto& m : r.marks) {
    if (q.metric == Metric::accuracy && !m.has_accuracy) {
      plot.markers.push_back({m.scores.latency, m.arch.name});  // outside the space: latency only
      continue;
    }
    marked.x.push_back(m.scores.latency);
    marked.y.push_back(value(m.scores, q.metric));
    marked.point_labels.push_back(m.arch.name);
  }
  if (!marked.x.empty()) plot.series.push_back(marked);
  for (double b : r.budgets) plot.markers.push_back({b, "budget " + json(b).dump()});
  return render_svg(plot);
}

}  // namespace

std::vector<std::optional<size_t>> budget_picks(const SearchState& s, const SearchConfig& c,
                                                const std::vector<double>& budgets) {
  const Objective q = quality_objective(c);
  std::vector<std::optional<size_t>> picks;
  for (double b : budgets) {
    std::optional<size_t> best;
    for (const auto& cand : s.archive) {
      if (cand.violation > 0 || cand.scores.latency > b) continue;
      if (!best || better(cand.scores, s.archive[*best].scores, q) ||
          (value(cand.scores, q.metric) == value(s.archive[*best].scores, q.metric) &&
           cand.scores.latency < s.archive[*best].scores.latency))
        best = cand.index;
    }
    picks.push_back(best);
  }
  return picks;
}

double attention_share(const ArchSpec& a) {
  int mixers = 0, ffns = 0;
  for (const auto& st : a.efficientvit.stages) {
    if (st.downsample) ffns += int(st.downsample->ffn_before.size() + st.downsample->ffn_after.size());
    for (const auto& b : st.blocks) {
      mixers += b.attention ? 1 : 0;
      ffns += int(b.ffn_before.size() + b.ffn_after.size());
    }
  }
  return mixers + ffns == 0 ? 0.0 : double(mixers) / double(mixers + ffns);
}

json write_front(const std::string& out, const SearchState& s, const SearchConfig& c,
                 const FrontReport& r) {
  const std::vector<size_t> front = pareto_front(s, c);
  const auto picks = budget_picks(s, c, r.budgets);
  std::filesystem::create_directories(out + "/front");
  auto write_arch = [&](size_t i) {
    ArchSpec a = s.archive[i].genotype.arch;
    a.name = s.archive[i].name();
    save_arch(a, out + "/front/" + a.name + ".json");
  };
  json rows = json::array();
  for (size_t i : front) {
    write_arch(i);
    rows.push_back(row_json(s.archive[i], r));
  }
  json budgets = json::array();
  for (size_t k = 0; k < r.budgets.size(); ++k) {
    json b = {{"budget", r.budgets[k]}};
    if (picks[k]) {
      write_arch(*picks[k]);
      b.update(row_json(s.archive[*picks[k]], r));
    } else {
      b["name"] = nullptr;
    }
    budgets.push_back(b);
  }
  json marks = json::array();
  for (const auto& m : r.marks) {
    json j = {{"name", m.arch.name}, {"latency", m.scores.latency}, {"params", m.scores.params},
              {"macs", m.scores.macs}, {"attention_share", attention_share(m.arch)}};
    if (m.has_accuracy) j["accuracy"] = m.scores.accuracy;
    marks.push_back(j);
  }
  const json result = {{"space", r.space},
                       {"table", r.table},
                       {"supernet", r.supernet.empty() ? json() : json(r.supernet)},
                       {"unit", r.unit},
                       {"search", config_to_json(c)},
                       {"generations_done", s.generation},
                       {"evaluated", s.archive.size()},
                       {"hypervolume", front_hypervolume(s, c)},
                       {"front", rows},
                       {"budgets", budgets},
                       {"marks", marks}};
  write_json_file_atomic(out + "/front.json", result);
  write_file_atomic(out + "/front.csv", csv_text(rows, r.has_accuracy, !r.measured.empty()));
  write_file_atomic(out + "/front.svg", front_svg(s, c, r, front));
  return result;
}

}  // namespace vitnas
