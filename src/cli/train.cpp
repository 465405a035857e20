// vitnas train --arch A --data D --epochs E --out DIR [--resume] [--nproc N] [--json]: trains a
// network (train/run.h does the work) with a progress bar; --init-weights starts from trained
// weights (e.g. a subnet from `supernet extract`).
#include <memory>

#include "cli/commands.h"
#include "cli/train_options.h"

namespace vitnas::cli {

void register_train(CLI::App& root) {
  auto o = std::make_shared<TrainCliOptions>();
  auto arch = std::make_shared<std::string>();
  auto* sub = root.add_subcommand("train", "train a network (AdamW, cosine, label smoothing, "
                                           "EMA, distillation, data-parallel)");
  sub->add_option("--arch", *arch, "preset or ArchSpec JSON")->required();
  sub->add_option("--init-weights", o->recipe.init_weights,
                  "start from these weights (safetensors, e.g. from supernet extract)");
  add_training_options(*sub, *o, /*classifier=*/true);
  sub->callback([o, arch] {
    TrainRecipe recipe = o->recipe;
    recipe.arch = load_arch(*arch);
    run_training_command(*o, recipe);
  });
}

}  // namespace vitnas::cli
