#include "export/report.h"

#include <cmath>
#include <filesystem>
#include <sstream>

#include <nlohmann/json.hpp>

#include "core/arch_spec.h"
#include "core/error.h"
#include "core/io.h"
#include "core/svg_plot.h"
#include "profile/latency_model.h"
#include "profile/latency_table.h"

namespace vitnas {

namespace {

using nlohmann::json;
namespace fs = std::filesystem;

const char* kBlue = "#1f77b4";
const char* kOrange = "#ff7f0e";
const char* kGreen = "#2ca02c";
const char* kRed = "#d62728";
const char* kGrey = "#b0b0b0";

std::string fmt(double v, int digits = 4) {
  std::ostringstream s;
  s.precision(digits);
  s << v;
  return s.str();
}

// A number field of a JSON object read from `file`; InputError naming both when it is not one.
double number(const json& j, const std::string& key, const std::string& file) {
  require(j.is_object() && j.contains(key) && j[key].is_number(),
          file + ": expected a number '" + key + "'");
  return j[key].get<double>();
}

std::string string_field(const json& j, const std::string& key, const std::string& file) {
  require(j.is_object() && j.contains(key) && j[key].is_string(),
          file + ": expected a string '" + key + "'");
  return j[key].get<std::string>();
}

// The objects of a JSON-lines file (blank lines skipped).
std::vector<json> read_json_lines(const std::string& path) {
  std::vector<json> rows;
  std::istringstream in(read_file(path));
  std::string line;
  for (int n = 1; std::getline(in, line); ++n)
    if (line.find_first_not_of(" \t\r") != std::string::npos)
      rows.push_back(parse_json(line, path + " line " + std::to_string(n)));
  return rows;
}

// One CSV record (RFC 4180 quoting; records do not span lines in vitnas's files).
std::vector<std::string> csv_fields(const std::string& line) {
  std::vector<std::string> fields(1);
  bool quoted = false;
  for (size_t i = 0; i < line.size(); ++i) {
    const char ch = line[i];
    if (quoted) {
      if (ch == '"' && i + 1 < line.size() && line[i + 1] == '"') fields.back() += '"', ++i;
      else if (ch == '"') quoted = false;
      else fields.back() += ch;
    } else if (ch == '"') quoted = true;
    else if (ch == ',') fields.emplace_back();
    else if (ch != '\r') fields.back() += ch;
  }
  return fields;
}

// A CSV file as rows of named fields; InputError when a needed column is missing.
std::vector<std::map<std::string, std::string>> read_csv(const std::string& path,
                                                         const std::vector<std::string>& needed,
                                                         const std::string& what) {
  std::istringstream in(read_file(path));
  std::string line;
  require(bool(std::getline(in, line)), path + ": empty; expected " + what);
  const auto header = csv_fields(line);
  for (const auto& column : needed)
    require(std::find(header.begin(), header.end(), column) != header.end(),
            path + ": no column '" + column + "'; expected " + what);
  std::vector<std::map<std::string, std::string>> rows;
  for (int n = 2; std::getline(in, line); ++n) {
    if (line.empty()) continue;
    const auto fields = csv_fields(line);
    require(fields.size() == header.size(),
            path + " line " + std::to_string(n) + ": " + std::to_string(fields.size()) +
                " fields, the header has " + std::to_string(header.size()));
    std::map<std::string, std::string> row;
    for (size_t i = 0; i < header.size(); ++i) row[header[i]] = fields[i];
    rows.push_back(std::move(row));
  }
  return rows;
}

double csv_number(const std::map<std::string, std::string>& row, const std::string& key,
                  const std::string& path) {
  try {
    size_t used = 0;
    const double v = std::stod(row.at(key), &used);
    if (used == row.at(key).size() && std::isfinite(v)) return v;
  } catch (const std::exception&) {
  }
  throw InputError(path + ": column '" + key + "' holds '" + row.at(key) + "', not a number");
}

std::string file_in(const std::string& dir, const std::string& name, const std::string& flag,
                    const std::string& what) {
  require(fs::is_directory(dir), flag + " " + dir + ": not a folder; expected " + what);
  const std::string path = (fs::path(dir) / name).string();
  require(fs::is_regular_file(path), flag + " " + dir + ": no " + name + "; expected " + what);
  return path;
}

struct Section {
  std::string title, html;
};

std::string table_html(const std::vector<std::string>& header,
                       const std::vector<std::vector<std::string>>& rows) {
  std::string o = "<table><tr>";
  for (const auto& h : header) o += "<th>" + xml_escape(h) + "</th>";
  o += "</tr>\n";
  for (const auto& r : rows) {
    o += "<tr>";
    for (const auto& c : r) o += "<td>" + xml_escape(c) + "</td>";
    o += "</tr>\n";
  }
  return o + "</table>\n";
}

// ---- the sections ----------------------------------------------------------------------------

Section search_section(const std::string& dir) {
  const std::string what = "the --out folder of `vitnas search`";
  const std::string path = file_in(dir, "front.json", "--search", what);
  const json f = read_json_file(path);
  require(f.is_object() && f.contains("front") && f["front"].is_array(), path + ": no 'front' list; expected " + what);
  const std::string unit = string_field(f, "unit", path);

  Plot plot{"Search: accuracy vs predicted latency", "predicted latency (" + unit + ")",
            "supernet top-1 (%)", {}, {}};
  const std::string history = (fs::path(dir) / "history.jsonl").string();
  if (fs::is_regular_file(history)) {
    PlotSeries all{"evaluated", kGrey, {}, {}, false, 2, {}};
    for (const json& h : read_json_lines(history)) {
      all.x.push_back(number(h, "latency", history));
      all.y.push_back(number(h, "accuracy", history));
    }
    plot.series.push_back(all);
  }
  PlotSeries front{"Pareto front", kBlue, {}, {}, true, 4, {}};
  std::vector<std::vector<std::string>> rows;
  std::vector<std::pair<double, json>> sorted;
  for (const json& p : f["front"]) sorted.emplace_back(number(p, "latency", path), p);
  std::sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  for (const auto& [latency, p] : sorted) {
    front.x.push_back(latency);
    front.y.push_back(number(p, "accuracy", path));
    rows.push_back({string_field(p, "name", path), fmt(number(p, "accuracy", path)), fmt(latency),
                    fmt(number(p, "params", path), 6), fmt(number(p, "macs", path) / 1e6)});
  }
  plot.series.push_back(front);
  if (f.contains("marks") && f["marks"].is_array() && !f["marks"].empty()) {
    PlotSeries marks{"reference networks", kRed, {}, {}, false, 5, {}};
    for (const json& m : f["marks"]) {
      marks.x.push_back(number(m, "latency", path));
      marks.y.push_back(number(m, "accuracy", path));
      marks.point_labels.push_back(string_field(m, "name", path));
    }
    plot.series.push_back(marks);
  }
  return {"Search (" + dir + ")",
          render_svg(plot) + table_html({"network", "top-1 (%)", "latency (" + unit + ")", "params", "MMACs"}, rows)};
}

Section latency_section(const std::string& table_path, const std::vector<std::string>& archs) {
  const LatencyTable table = load_table(table_path);
  const auto model = make_latency_model(table);
  const std::string unit = model->unit() == "ms"
                               ? "ms per batch of " + std::to_string(table.device.batch)
                               : model->unit() + " per image";
  std::string html = "<p>Device: " + xml_escape(to_string(table.device.kind)) + ", " +
                     xml_escape(table.device.model) + ", " + std::to_string(table.device.threads) +
                     " thread(s), " + xml_escape(table.device.library) + ".</p>\n";
  for (const auto& arch : archs) {
    const ArchSpec spec = load_arch(arch);
    const LatencyBreakdown b = model->breakdown(spec);
    BarChart chart{spec.name + ": " + fmt(b.total) + " " + unit + " predicted",
                   "predicted latency (" + unit + ")", {}};
    for (const auto& r : b.rows)
      chart.bars.push_back({r.name + " (" + r.type + ")", r.value, r.type == "block" ? kBlue : kOrange});
    if (b.overhead != 0) chart.bars.push_back({"overhead (calibration)", b.overhead, kGrey});
    html += render_bars_svg(chart);
  }
  return {"Latency per block (" + table_path + ")", html};
}

Section validation_section(const std::string& path) {
  const std::string what = "the --csv file of `vitnas latency validate`";
  require(fs::is_regular_file(path), "--validation " + path + ": not a file; expected " + what);
  const auto rows = read_csv(path, {"name", "predicted_ms", "measured_ms"}, what);
  require(!rows.empty(), path + ": no networks; expected " + what);
  PlotSeries points{"networks", kBlue, {}, {}, false, 3, {}};
  double lo = 1e300, hi = 0, ape = 0;
  for (const auto& r : rows) {
    const double predicted = csv_number(r, "predicted_ms", path), measured = csv_number(r, "measured_ms", path);
    points.x.push_back(measured);
    points.y.push_back(predicted);
    lo = std::min({lo, predicted, measured});
    hi = std::max({hi, predicted, measured});
    ape += std::abs(predicted - measured) / measured;
  }
  PlotSeries identity{"predicted = measured", kGrey, {lo, hi}, {lo, hi}, true, 0, {}};
  Plot plot{"Measured vs predicted latency, " + std::to_string(rows.size()) + " networks, MAPE " +
                fmt(100 * ape / double(rows.size()), 3) + "%",
            "measured latency (ms)", "predicted latency (ms)", {identity, points}, {}};
  return {"Latency validation (" + path + ")", render_svg(plot)};
}

Section prune_section(const std::string& dir) {
  const std::string what = "the --out folder of `vitnas prune` or `vitnas prune analyse`";
  require(fs::is_directory(dir), "--prune " + dir + ": not a folder; expected " + what);
  const std::string log = (fs::path(dir) / "prune_log.jsonl").string();
  const std::string kept = (fs::path(dir) / "kept.csv").string();
  if (fs::is_regular_file(log)) {
    const std::vector<json> steps = read_json_lines(log);
    require(!steps.empty(), log + ": no steps; expected " + what);
    const json& last = steps.back();
    require(last.contains("kept") && last["kept"].is_object(), log + ": no 'kept' widths; expected " + what);
    BarChart chart{"Kept after step " + std::to_string(int(number(last, "step", log))) + " (" +
                       string_field(last, "arch", log) + ")",
                   "kept fraction of the unpruned network's units", {}};
    for (const auto& [group, kt] : last["kept"].items()) {
      require(kt.is_array() && kt.size() == 2 && kt[0].is_number() && kt[1].is_number(),
              log + ": 'kept." + group + "' must be [kept, total]");
      const double total = kt[1].get<double>();
      chart.bars.push_back({group + " (" + fmt(kt[0].get<double>(), 6) + "/" + fmt(total, 6) + ")",
                            total > 0 ? kt[0].get<double>() / total : 0, kBlue});
    }
    std::vector<std::vector<std::string>> rows;
    for (const json& s : steps) {
      auto opt = [&](const char* key) {
        return s.contains(key) && s[key].is_number() ? fmt(s[key].get<double>()) : std::string("-");
      };
      rows.push_back({opt("step"), opt("target"), opt("predicted"), opt("measured"),
                      s.value("unit", std::string()), opt("macs"), opt("params"), opt("val_top1")});
    }
    return {"Pruning (" + dir + ")",
            render_bars_svg(chart) + table_html({"step", "target", "predicted", "measured", "unit",
                                                 "MACs", "params", "val top-1 (%)"}, rows)};
  }
  require(fs::is_regular_file(kept), "--prune " + dir + ": no prune_log.jsonl or kept.csv; expected " + what);
  const auto rows = read_csv(kept, {"row", "type", "kept_ratio"}, what);
  BarChart chart{"Kept widths under one global budget (prune analyse)", "kept fraction of the units", {}};
  for (const auto& r : rows)
    chart.bars.push_back({r.at("row") + " " + r.at("type"), csv_number(r, "kept_ratio", kept),
                          r.at("type") == "embed" ? kOrange : kBlue});
  return {"Pruning analysis (" + dir + ")", render_bars_svg(chart)};
}

Section train_section(const std::string& dir) {
  const std::string what = "the --out folder of `vitnas train` or `vitnas supernet train`";
  const std::string path = file_in(dir, "metrics.jsonl", "--train", what);
  const std::vector<json> epochs = read_json_lines(path);
  require(!epochs.empty(), path + ": no epochs yet; expected " + what);
  // Every "*_top1" and "*_loss" the run logged (train, val, test; a supernet's largest and
  // smallest subnets), against the epoch.
  std::map<std::string, PlotSeries> top1, loss;
  const char* colors[] = {kBlue, kOrange, kGreen, kRed, "#9467bd", "#8c564b"};
  for (const json& e : epochs) {
    const double epoch = number(e, "epoch", path);
    for (const auto& [key, v] : e.items()) {
      if (!v.is_number()) continue;
      auto ends = [&](const std::string& suffix) {
        return key.size() > suffix.size() && key.compare(key.size() - suffix.size(), suffix.size(), suffix) == 0;
      };
      auto* series = ends("_top1") ? &top1 : ends("_loss") ? &loss : nullptr;
      if (!series) continue;
      PlotSeries& s = (*series)[key];
      if (s.label.empty()) s = {key, colors[series->size() % 6], {}, {}, true, 2.5, {}};
      s.x.push_back(epoch);
      s.y.push_back(v.get<double>());
    }
  }
  std::string html;
  for (auto [map, title, axis] : {std::tuple{&top1, "Top-1 accuracy", "top-1 (%)"},
                                  std::tuple{&loss, "Loss", "cross-entropy loss (nats)"}}) {
    if (map->empty()) continue;
    Plot plot{title, "epoch", axis, {}, {}};
    for (const auto& [key, s] : *map) plot.series.push_back(s);
    html += render_svg(plot);
  }
  require(!html.empty(), path + ": no *_top1 or *_loss values; expected " + what);
  return {"Training (" + dir + ")", html};
}

}  // namespace

std::string render_report(const ReportInputs& in) {
  require(!in.search.empty() || !in.prune.empty() || !in.train.empty() || !in.table.empty() ||
              !in.validation.empty(),
          "nothing to report: give --search, --prune, --train, --table or --validation");
  require(in.archs.empty() || !in.table.empty(), "--arch draws per-block latency: it needs --table");
  std::vector<Section> sections;
  if (!in.search.empty()) sections.push_back(search_section(in.search));
  if (!in.table.empty()) sections.push_back(latency_section(in.table, in.archs));
  if (!in.validation.empty()) sections.push_back(validation_section(in.validation));
  if (!in.prune.empty()) sections.push_back(prune_section(in.prune));
  if (!in.train.empty()) sections.push_back(train_section(in.train));

  std::string o = "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>" +
                  xml_escape(in.title) + "</title>\n<style>\n"
                  "body { font-family: sans-serif; margin: 2em auto; max-width: 760px; color: #222; }\n"
                  "section { margin-bottom: 2.5em; } svg { display: block; margin: 1em 0; }\n"
                  "table { border-collapse: collapse; font-size: 13px; }\n"
                  "th, td { border: 1px solid #ccc; padding: 2px 8px; text-align: right; }\n"
                  "</style>\n</head>\n<body>\n<h1>" + xml_escape(in.title) + "</h1>\n";
  for (const auto& s : sections)
    o += "<section>\n<h2>" + xml_escape(s.title) + "</h2>\n" + s.html + "</section>\n";
  return o + "</body>\n</html>\n";
}

}  // namespace vitnas
