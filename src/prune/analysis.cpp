#include "prune/analysis.h"

#include <algorithm>
#include <filesystem>
#include <optional>
#include <cmath>
#include <map>
#include <numeric>
#include <random>
#include <sstream>

#include <torch/torch.h>

#include "core/complexity.h"
#include "core/error.h"
#include "core/io.h"
#include "core/memory.h"
#include "core/svg_plot.h"
#include "models/weights.h"
#include "prune/shrink.h"
#include "train/distributed.h"
#include "train/run.h"

namespace vitnas::prune {

std::vector<KeptRow> kept_by_row(const std::vector<Dimension>& dims, const Plan& plan) {
  std::vector<KeptRow> rows;
  std::map<std::string, int> depth;  // row -> ordinal
  for (const Dimension& d : dims)
    if (!d.shared && !depth.count(d.row)) depth.emplace(d.row, int(depth.size()));
  // A shared width (an embedding) sits at the first row it spans: its stage's, or the network's.
  for (const Dimension& d : dims) {
    if (!d.shared || depth.count(d.row)) continue;
    int first = -1;
    for (const auto& [row, k] : depth)
      if (row.rfind(d.row + ".", 0) == 0 && (first < 0 || k < first)) first = k;
    depth.emplace(d.row, std::max(first, 0));
  }
  for (size_t i = 0; i < dims.size(); ++i) {
    const Dimension& d = dims[i];
    if (is_unit(d.type) || d.type == GroupType::SEHidden) continue;
    const std::string type = to_string(d.type);
    auto it = std::find_if(rows.begin(), rows.end(),
                           [&](const KeptRow& r) { return r.row == d.row && r.type == type; });
    if (it == rows.end()) {
      KeptRow r;
      r.row = d.row;
      r.depth = depth[d.row];
      r.stage = d.site.stage + 1;
      r.type = type;
      rows.push_back(r);
      it = rows.end() - 1;
    }
    it->kept += plan.widths[i];
    it->total += d.size;
  }
  return rows;
}

void write_kept_csv(const std::string& path, const std::vector<KeptRow>& rows) {
  std::ostringstream out;
  out << "row,depth,stage,type,kept,total,kept_ratio\n";
  for (const KeptRow& r : rows)
    out << r.row << ',' << r.depth << ',' << r.stage << ',' << r.type << ',' << r.kept << ',' << r.total << ','
        << r.ratio() << '\n';
  write_file_atomic(path, out.str());
}

void write_kept_svg(const std::string& path, const std::vector<KeptRow>& rows, const std::string& title) {
  static const std::map<std::string, std::string> colors{
      {"qk", "#d62728"},     {"vit_qk", "#d62728"},     {"v", "#2ca02c"},   {"vit_v", "#2ca02c"},
      {"ffn_hidden", "#1f77b4"}, {"vit_mlp", "#1f77b4"}, {"merge_hidden", "#9467bd"}, {"stem_hidden", "#8c564b"}};
  Plot plot;
  plot.title = title;
  plot.x_label = "depth (row of the network)";
  plot.y_label = "kept fraction";
  std::map<std::string, PlotSeries> series;
  int last_stage = 0;
  for (const KeptRow& r : rows) {
    PlotSeries& s = series[r.type];
    s.label = r.type;
    s.color = colors.count(r.type) ? colors.at(r.type) : "#7f7f7f";
    s.line = true;
    s.x.push_back(r.depth);
    s.y.push_back(r.ratio());
    if (r.stage > 1 && r.stage != last_stage) plot.markers.push_back({r.depth - 0.5, "stage " + std::to_string(r.stage)});
    last_stage = std::max(last_stage, r.stage);
  }
  for (auto& [type, s] : series) plot.series.push_back(std::move(s));
  write_file_atomic(path, render_svg(plot));
}

double spearman(const std::vector<double>& a, const std::vector<double>& b) {
  const auto ranks = [](const std::vector<double>& v) {
    std::vector<size_t> order(v.size());
    std::iota(order.begin(), order.end(), 0);
    std::sort(order.begin(), order.end(), [&](size_t x, size_t y) { return v[x] < v[y]; });
    std::vector<double> r(v.size());
    for (size_t i = 0; i < order.size();) {
      size_t j = i;
      while (j + 1 < order.size() && v[order[j + 1]] == v[order[i]]) ++j;
      for (size_t k = i; k <= j; ++k) r[order[k]] = 0.5 * double(i + j);  // average rank of ties
      i = j + 1;
    }
    return r;
  };
  const std::vector<double> ra = ranks(a), rb = ranks(b);
  const double n = double(ra.size());
  const double ma = std::accumulate(ra.begin(), ra.end(), 0.0) / n, mb = std::accumulate(rb.begin(), rb.end(), 0.0) / n;
  double sab = 0, saa = 0, sbb = 0;
  for (size_t i = 0; i < ra.size(); ++i) {
    sab += (ra[i] - ma) * (rb[i] - mb);
    saa += (ra[i] - ma) * (ra[i] - ma);
    sbb += (rb[i] - mb) * (rb[i] - mb);
  }
  return saa > 0 && sbb > 0 ? sab / std::sqrt(saa * sbb) : 0.0;
}

OracleResult importance_oracle(ClassifierImpl& model, const std::vector<Dimension>& dims, const Scores& taylor,
                               const Scores& magnitude, const TensorBatches& batches, int count, uint64_t seed) {
  // Every channel group, then a seeded sample of them.
  std::vector<std::pair<size_t, int64_t>> groups;
  for (size_t i = 0; i < dims.size(); ++i)
    if (!is_unit(dims[i].type))
      for (int64_t j = 0; j < dims[i].size; ++j) groups.emplace_back(i, j);
  std::mt19937_64 rng(seed);
  std::shuffle(groups.begin(), groups.end(), rng);
  groups.resize(std::min(groups.size(), size_t(std::max(count, 0))));

  const auto forward = [&](const torch::Tensor& x) { return model.forward(x); };
  const safetensors::TensorList original = state_dict(model);
  std::vector<std::pair<std::string, torch::Tensor>> saved;
  for (const auto& [k, t] : original) saved.emplace_back(k, t.clone());

  OracleResult r;
  const Scores first_order = first_order_loss_change(model, dims, batches);
  r.base_loss = evaluate(model, forward, batches).loss;
  for (const auto& [i, j] : groups) {
    Plan plan = full_plan(dims);
    std::vector<double> s(size_t(dims[i].size), 1.0);
    s[size_t(j)] = 0.0;  // the one channel to drop
    plan.widths[i] = dims[i].size - 1;
    Scores scores;
    for (const Dimension& d : dims) scores.emplace_back(size_t(d.size), 1.0);
    scores[i] = s;
    load_state_dict(model, masked(model, dims, plan, scores), "oracle");
    OracleSample o;
    o.dim = i;
    o.channel = j;
    o.taylor = taylor[i][size_t(j)];
    o.magnitude = magnitude[i][size_t(j)];
    o.first_order = first_order[i][size_t(j)];
    o.loss_increase = evaluate(model, forward, batches).loss - r.base_loss;
    r.samples.push_back(o);
    load_state_dict(model, saved, "oracle");
  }
  std::vector<double> t, m, f, l;
  for (const auto& o : r.samples) {
    t.push_back(o.taylor);
    m.push_back(o.magnitude);
    f.push_back(o.first_order);
    l.push_back(o.loss_increase);
  }
  r.spearman_taylor = spearman(t, l);
  r.spearman_magnitude = spearman(m, l);
  r.spearman_first_order = spearman(f, l);
  const auto abs_of = [](std::vector<double> v) {
    for (double& x : v) x = std::abs(x);
    return v;
  };
  r.abs_spearman_taylor = spearman(t, abs_of(l));
  r.abs_spearman_magnitude = spearman(m, abs_of(l));
  r.abs_spearman_first_order = spearman(abs_of(f), abs_of(l));
  return r;
}

void write_oracle_csv(const std::string& path, const std::vector<Dimension>& dims, const OracleResult& r) {
  std::ostringstream out;
  out.precision(9);
  out << "dimension,type,channel,taylor,magnitude,first_order,loss_increase\n";
  for (const auto& o : r.samples)
    out << dims[o.dim].name << ',' << to_string(dims[o.dim].type) << ',' << o.channel << ',' << o.taylor << ','
        << o.magnitude << ',' << o.first_order << ',' << o.loss_increase << '\n';
  write_file_atomic(path, out.str());
}

}  // namespace vitnas::prune

namespace vitnas::prune {

nlohmann::json run_analysis(const AnalyseConfig& c) {
  require(c.macs_ratio > 0 && c.macs_ratio < 1, "--macs-ratio: must be in (0, 1)");
  require(c.importance_batches >= 1 && c.batch_size >= 1, "--importance-batches, --batch: must be >= 1");
  require(c.oracle_groups >= 0 && c.oracle_batches >= 1, "--oracle-groups >= 0, --oracle-batches >= 1");
  require(!c.out.empty(), "--out: the output directory is required");
  validate(c.select);
  TrainRecipe recipe;
  recipe.arch = load_arch(c.arch);
  // The Taylor scores run forward and backward on --batch images.
  require_memory(recipe.arch, c.batch_size, Workload::Training,
                 "prune analyse --batch " + std::to_string(c.batch_size) + " of " +
                     recipe.arch.name);
  recipe.data = c.data;
  recipe.val_fraction = c.val_fraction;
  recipe.seed = c.seed;
  Classifier model = build_model(recipe.arch);
  load_weights(*model, c.weights);
  const torch::Device device(c.device);
  model->to(device);
  const Datasets data = open_datasets(recipe);
  const auto eval_transform = transform_options(recipe, data.name, /*train=*/false);
  std::filesystem::create_directories(c.out);

  const auto dims = dimensions(recipe.arch);
  const TensorBatches train = load_batches(data.train, eval_transform, c.batch_size, c.importance_batches, c.seed,
                                           c.loader_threads, device);
  const Scores taylor = taylor_scores(*model, dims, train), magnitude = magnitude_scores(*model, dims);
  Scores normalised = taylor;
  if (c.normalise) normalise_per_type(normalised, dims);
  write_scores_csv(c.out + "/scores.csv", dims, normalised);

  const double macs = double(complexity(recipe.arch).macs);
  const CostFn cost = [](const ArchSpec& a) { return double(complexity(a).macs); };
  const Selection sel = select(recipe.arch, dims, normalised, cost, c.macs_ratio * macs, c.select);
  const std::vector<KeptRow> rows = kept_by_row(dims, sel.plan);
  write_kept_csv(c.out + "/kept.csv", rows);
  write_kept_svg(c.out + "/kept.svg", rows,
                 recipe.arch.name + ": kept widths at " + std::to_string(int(std::lround(100 * c.macs_ratio))) +
                     "% of the MACs (Taylor" + (c.normalise ? ", normalised per type)" : ", raw)"));

  // Kept fraction per type, overall and per stage (vit: first and second half of the layers).
  nlohmann::json by_type = nlohmann::json::object(), by_stage = nlohmann::json::object();
  std::map<std::string, std::pair<int64_t, int64_t>> all;
  std::map<std::string, std::map<int, std::pair<int64_t, int64_t>>> staged;
  const int depth = rows.empty() ? 1 : rows.back().depth + 1;
  for (const KeptRow& r : rows) {
    all[r.type].first += r.kept;
    all[r.type].second += r.total;
    const int part = r.stage > 0 ? r.stage : (2 * r.depth < depth ? 1 : 2);
    staged[r.type][part].first += r.kept;
    staged[r.type][part].second += r.total;
  }
  for (const auto& [type, kt] : all) by_type[type] = double(kt.first) / double(kt.second);
  for (const auto& [type, parts] : staged)
    for (const auto& [part, kt] : parts) by_stage[type][std::to_string(part)] = double(kt.first) / double(kt.second);

  nlohmann::json summary{{"arch", recipe.arch.name},
                         {"normalised_per_type", c.normalise},
                         {"embed", c.select.embed},
                         {"macs", macs},
                         {"budget_macs", c.macs_ratio * macs},
                         {"pruned_macs", sel.cost},
                         {"kept_by_type", by_type},
                         {"kept_by_stage", by_stage},
                         {"pruned_arch", arch_to_json(sel.arch)}};
  if (c.oracle_groups > 0) {
    const TensorBatches val = load_batches(data.val ? data.val : data.test, eval_transform, 128, c.oracle_batches,
                                           std::nullopt, c.loader_threads, device);
    const OracleResult o = importance_oracle(*model, dims, taylor, magnitude, val, c.oracle_groups, c.seed);
    write_oracle_csv(c.out + "/oracle.csv", dims, o);
    int64_t images = 0;
    for (const auto& x : val.images) images += x.size(0);
    summary["oracle"] = {{"groups", o.samples.size()},
                         {"images", images},
                         {"base_loss", o.base_loss},
                         {"spearman_taylor", o.spearman_taylor},
                         {"spearman_magnitude", o.spearman_magnitude},
                         {"spearman_first_order", o.spearman_first_order},
                         {"abs_spearman_taylor", o.abs_spearman_taylor},
                         {"abs_spearman_magnitude", o.abs_spearman_magnitude},
                         {"abs_spearman_first_order", o.abs_spearman_first_order},
                         {"negative_increases", std::count_if(o.samples.begin(), o.samples.end(),
                                                              [](const OracleSample& x) { return x.loss_increase < 0; })}};
  }
  write_json_file_atomic(c.out + "/analysis.json", summary);
  return summary;
}

}  // namespace vitnas::prune
