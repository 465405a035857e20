// `vitnas search finetune`: the networks a search chose, trained with a standalone recipe, so
// that the front's proxy accuracies (inherited weights) become test accuracies. Under DIR:
//   DIR/<name>/init/arch.json, weights.safetensors   a front network extracted from the
//                     supernet, BN recalibrated (what `supernet extract` writes); not with
//                     --from-scratch, nor for reference networks
//   DIR/<name>/       a training run of it (train/run.h: metrics.jsonl, weights, checkpoint),
//                     from those weights or from scratch
//   DIR/finetune.json, finetune.csv   per network: what the search said of it (budget, supernet
//                     top-1, predicted latency, params, MACs) beside its final val and test
//                     top-1; rewritten after each network
// Every step resumes (--resume): a network whose run finished is reported, not retrained.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/arch_spec.h"
#include "train/run.h"
#include "train/supernet_dir.h"

namespace vitnas {

struct FinetuneNetwork {
  ArchSpec arch;            // arch.name is its directory's name ("cand0421")
  std::string role;         // "budget 6.05", "front", or "reference" (trained from scratch)
  bool from_supernet = false;  // start from the supernet's weights
  nlohmann::json searched;  // its front.json row (accuracy, latency, params, macs); {} if none
};

// The networks of a search directory (what `vitnas search` wrote): `which` is "budgets" (the
// budget picks, each once), "front" (every front network), or comma-separated names from
// front.json ("cand0421,cand2243"). InputError for a directory without front.json, an unknown
// name, or a search with no budget picks when "budgets" is asked.
std::vector<FinetuneNetwork> front_networks(const std::string& front_dir, const std::string& which);

struct FinetuneOptions {
  TrainRecipe recipe;         // data and schedule; arch and init_weights are set per network
  bool from_scratch = false;  // front networks too start from the seed's initialisation
  int64_t bn_batches = 10;    // recalibration batches of the extraction
};

// Trains every network in turn (see above) and returns finetune.json's content. `supernet` is
// needed unless every network is trained from scratch. Every input problem (a network outside
// the supernet's space, a recipe that does not fit a network, an earlier run in out_dir without
// `resume`) is an InputError before anything is written.
nlohmann::json run_finetune(const std::vector<FinetuneNetwork>& networks,
                            const FinetuneOptions& o, SupernetDir* supernet,
                            const TrainRuntime& runtime, const std::string& out_dir, bool resume,
                            ProcessGroup& group,
                            const std::function<ProgressCallback(const std::string&)>& progress);

}  // namespace vitnas
