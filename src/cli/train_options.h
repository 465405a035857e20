// The flags and the command of a training run, shared by `vitnas train` (a network) and
// `vitnas supernet train` (a search space's supernet): the recipe's flags, the run directory,
// --resume, and --nproc N, which re-runs the same command line as N local data-parallel
// processes, as torchrun --standalone would. train/run.h does the work.
#pragma once

#include <string>

#include <CLI/CLI.hpp>

#include "cli/common.h"
#include "train/run.h"
#include "train/train_config.h"

namespace vitnas::cli {

struct TrainCliOptions {
  CommonOptions common;
  std::string out;
  TrainRecipe recipe;
  TrainRuntime runtime;
  bool resume = false;
  int nproc = 1;
  // --warmup-epochs, to tell its default (shortened to fit a short run) from a given value
  // (kept, so a wrong one is still refused).
  const CLI::Option* warmup_epochs_flag = nullptr;
};

// The recipe's and runtime's flags, --out, --resume, --nproc and the common ones (the caller adds
// what it trains: --arch or --space). classifier: also the teacher's (distillation) flags.
void add_training_options(CLI::App& sub, TrainCliOptions& o, bool classifier);

// --warmup-epochs not given: its default, shortened to at most `epochs` - 1 so that a short run
// (or the shortest phase of a command that trains several times) still leaves the warm-up.
void fit_default_warmup(const TrainCliOptions& o, TrainRecipe& recipe, int64_t epochs);

// What a training run's progress bar shows after each step (epoch, loss, top-1, img/s).
ProgressCallback training_progress(Progress& bar);

// Validates the recipe, becomes the launcher under --nproc N, else trains with a progress bar
// and prints the --json summary.
void run_training_command(const TrainCliOptions& o, TrainRecipe recipe);

}  // namespace vitnas::cli
