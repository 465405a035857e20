// `vitnas search-mpc`: MPCViT's MPC-aware search of each head's attention kind (REFERENCE.md
// section 2), for both families, in three resumable phases under one directory:
//   DIR/search/     the search: every head alpha RSAttn + (1 - alpha) ScaleAttn (with
//                   --softmax-candidates, gamma Softmax + (1 - gamma) that; with
//                   --linearise, every MLP beta GeLU + (1 - beta) identity too), the loss
//                   CE + lambda * the MPC cost (train_config.h's KindSearch); a training run
//                   (checkpoint, metrics.jsonl, alphas.json)
//   DIR/mu<mu>/     per mu: arch.json, the binarised network (search/mpc_kinds.h; with
//                   --linearise, its N lowest-beta layers linear, the same in the baselines); with
//                   retraining, a training run of it from scratch, with distillation from the
//                   all-softmax teacher when one is given
//   DIR/mu<mu>_random<s>/  the same count of RSAttn (and softmax) heads at random positions
//                   (seed s), the baseline the search must beat
//   DIR/all-<kind>/ the all-softmax, all-RSAttn and all-ScaleAttn networks (MPCViT's table's
//                   rows): arch.json; with --retrain-baselines, a training run like the others'
//   DIR/front.json, front.csv, front.svg   every network: RSAttn and softmax heads, predicted
//                   MPC seconds,
//                   test top-1 after retraining and inherited (the search's weights, before any
//                   retraining: the placement's effect alone), and the three baselines
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "profile/latency_table.h"
#include "train/run.h"

namespace vitnas {

struct MpcSearchOptions {
  TrainRecipe recipe;         // arch (its kinds are ignored), data, schedule of the search phase
  std::vector<double> mu;     // RSAttn (with softmax candidates: nonlinear-map) ratios, in (0, 1]
  double lambda = 1e-1;       // weight of the MPC cost (seconds) in the search loss
  std::string cost = "latency";  // "latency" or "l1" (MPCViT's sum |alpha|)
  int64_t retrain_epochs = 0;    // 0: search and binarise only
  std::string teacher_weights;   // the all-softmax network's weights, for distillation
  int random_baselines = 0;      // random placements retrained per mu (seeds 1..N)
  int linearise = 0;  // MPCViT+ (vit): search betas too and make the N lowest layers linear
  bool retrain_baselines = false;  // retrain all-softmax, all-RSAttn and all-ScaleAttn too
  bool softmax_candidates = false;  // softmax as a third candidate per head (not in MPCViT)
};

// Runs (or, with resume, continues) the phases and writes front.*; returns front.json's
// content. InputError for a non-mpc table, a mu outside (0, 1], an arch whose heads the table
// cannot cost, a teacher of another shape, or a run directory of another search, before
// anything is overwritten.
nlohmann::json run_mpc_search(const MpcSearchOptions& o, const LatencyTable& table,
                              const TrainRuntime& runtime, const std::string& out_dir,
                              bool resume, ProcessGroup& group,
                              const std::function<ProgressCallback(const std::string&)>& progress);

}  // namespace vitnas
