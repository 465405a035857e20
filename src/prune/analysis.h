// `vitnas prune analyse`: the pruning analysis of EfficientViT's section 3 (Taylor structured
// pruning under one global budget shows which widths a trained network needs: the paper found
// q.k and FFN pruned hard, v almost kept, early stages kept wide), and the check of the
// importance itself against the oracle (the loss increase when a group is really removed).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "models/classifier.h"
#include "prune/groups.h"
#include "prune/importance.h"
#include "prune/selection.h"
#include "train/evaluate.h"

namespace vitnas::prune {

// Kept channels of one group type in one row of the walk ("blocks2.3", "blocks.4").
struct KeptRow {
  std::string row;
  int depth = 0;  // the row's ordinal among the rows that have groups
  int stage = 0;  // efficientvit stage (1-based); 0 for vit
  std::string type;
  int64_t kept = 0, total = 0;
  double ratio() const { return total > 0 ? double(kept) / double(total) : 0.0; }
};

// Per row and channel group type (units and the SE, which follows its merge width, left out).
std::vector<KeptRow> kept_by_row(const std::vector<Dimension>& dims, const Plan& plan);

void write_kept_csv(const std::string& path, const std::vector<KeptRow>& rows);
// One line per group type over depth; stage boundaries marked.
void write_kept_svg(const std::string& path, const std::vector<KeptRow>& rows, const std::string& title);

// One sampled group: its scores and the loss increase when it alone is zeroed (its mask).
struct OracleSample {
  size_t dim = 0;
  int64_t channel = 0;
  double taylor = 0, magnitude = 0;  // raw scores (not normalised)
  double first_order = 0;  // -(sum of w * dL/dw) on the oracle's own batches: the predicted increase
  double loss_increase = 0;
};

struct OracleResult {
  double base_loss = 0;
  std::vector<OracleSample> samples;
  // Against the signed loss increase (removing a group may lower the loss) ...
  double spearman_taylor = 0, spearman_magnitude = 0, spearman_first_order = 0;
  // ... and against its size |increase|, Molchanov et al.'s oracle ((dL)^2 ranks the same); the
  // first-order change by its size too.
  double abs_spearman_taylor = 0, abs_spearman_magnitude = 0, abs_spearman_first_order = 0;
};

// `count` channel groups drawn uniformly (seeded) over every channel of every non-unit dimension;
// the loss is the mean cross-entropy over `batches`.
OracleResult importance_oracle(ClassifierImpl& model, const std::vector<Dimension>& dims, const Scores& taylor,
                               const Scores& magnitude, const TensorBatches& batches, int count, uint64_t seed);

// Spearman's rank correlation (average ranks for ties).
double spearman(const std::vector<double>& a, const std::vector<double>& b);

void write_oracle_csv(const std::string& path, const std::vector<Dimension>& dims, const OracleResult& r);

}  // namespace vitnas::prune

namespace vitnas::prune {

struct AnalyseConfig {
  std::string arch, weights, data = "fashion-mnist", out;
  double val_fraction = 0.1;
  uint64_t seed = 0;
  double macs_ratio = 0.5;  // the global budget: this fraction of the network's MACs
  // Fine widths, no units: the per-block ratios are the point. The embedding (--embed) in steps
  // of 8: off by default, because normalised per type its channels (each spanning a whole stage)
  // save the most MACs per unit of score, so the knapsack takes them before anything else.
  SelectOptions select{4, 2, false, false, 8};
  int importance_batches = 16, batch_size = 64;
  int oracle_groups = 64, oracle_batches = 8;  // 0 groups: no oracle check
  bool normalise = true;  // per group type (what prune uses); false: raw Taylor across types
  std::string device = "cpu";
  int loader_threads = 2;
};

// Writes OUT/kept.csv, kept.svg, scores.csv, oracle.csv and analysis.json (returned): the kept
// fraction per group type overall and per stage, and the oracle's Spearman correlations.
nlohmann::json run_analysis(const AnalyseConfig& c);

}  // namespace vitnas::prune
