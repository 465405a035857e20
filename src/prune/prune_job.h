// `vitnas prune`: a trained network made to fit a budget, in steps (HALP's iterative schedule).
// Each step s of K: Taylor (or magnitude, random) importance of the current network's groups on
// training batches, the knapsack to the step's target (the start cost moved linearly to the
// final target), the physical shrink, then a fine-tune distilled from the unpruned network
// (--finetune-epochs between steps, the recipe's --epochs after the last). Costs come from the
// latency model of the table (widths the table lacks are measured first, on this machine), or
// from MACs.
//
//   DIR/prune.json            the configuration (a resumed run must present the same)
//   DIR/table.json            the table with the widths pruning needs measured in
//   DIR/prune_log.jsonl       one line per step (0: the unpruned network): target, predicted and
//                             measured latency, MACs, params, kept channels by group type, val top-1
//   DIR/steps/S/              arch.json, pruned.safetensors (the cut), scores.csv, finetune/,
//                             closed_loop.json (the last step with --closed-loop: every cut timed)
//   DIR/arch.json, DIR/weights.safetensors, DIR/scores.csv   the result (after the last step)
// Every file is written atomically; a step's log line is written last, so a run killed anywhere
// resumes (--resume) at the step it was in, its fine-tune from its last epoch checkpoint.
//
// The closed loop (--closed-loop N, cpu/cuda tables of this machine): the table misprices some
// pruned shapes by 10-15%, always in the same direction, so the last step times its cut together
// with the unpruned network (the same round-robin as `latency validate`), moves the knapsack's
// target (scaled by goal / measured ratio; once cuts on both sides of the goal were timed,
// interpolated between the nearest two) and cuts again, up to N times, keeping the cut nearest the goal
// (the goal: --target-ratio, or --target-ms over the unpruned network's measured latency). Its
// choices depend on timings, so a run with it is not repeatable bit for bit; without it (the
// default) the same seed gives the same cuts.
#pragma once

#include <functional>
#include <string>

#include <nlohmann/json.hpp>

#include "prune/importance.h"
#include "prune/selection.h"
#include "train/train_config.h"

namespace vitnas::prune {

struct PruneConfig {
  std::string arch, weights;  // the trained network
  std::string table;          // latency table JSON; empty: MACs are the cost
  double target_ms = 0, target_ratio = 0, target_macs = 0;  // exactly one is set
  std::string importance = "taylor";
  int importance_batches = 16, importance_batch_size = 64;
  SelectOptions select;
  int steps = 1;
  int64_t finetune_epochs = 0;  // between steps; after the last, recipe.epochs
  TrainRecipe recipe;           // data and fine-tune settings; arch, init and teacher are set here
  TrainRuntime runtime;
  bool profile_missing = true;     // measure the widths the table lacks (on this machine)
  int calibration_networks = 12;   // the table calibrated on the network and its random cuts
                                   // (prune/calibration_networks.h); 0: the table's calibration
  bool measure = true;             // time each step's network on the table's device
  double measure_seconds = 2.0;
  int closed_loop = 0;                 // re-cuts of the last step against measured latency
  double closed_loop_tolerance = 0.02;  // stop when measured / goal is within 1 +- this
  bool allow_foreign_table = false;  // a cpu/cuda table of another machine: no measuring
  std::string out;
  bool resume = false;
};

// InputError naming the flag.
void validate(const PruneConfig& c);
nlohmann::json config_to_json(const PruneConfig& c);

using PruneProgress = std::function<void(double fraction, const std::string& what)>;

// Runs (or resumes) the job; returns the last log line.
nlohmann::json run_prune(const PruneConfig& c, const PruneProgress& progress = {});

}  // namespace vitnas::prune
