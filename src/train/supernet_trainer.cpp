#include "train/supernet_trainer.h"

#include <random>

#include <torch/torch.h>

#include "core/io.h"
#include "models/weights.h"
#include "train/losses.h"
#include "train/metrics.h"

namespace vitnas {

namespace {

Supernet build_seeded(const TrainRecipe& r) {
  torch::manual_seed(r.seed);
  return Supernet(*r.space);
}

}  // namespace

SupernetTrainer::SupernetTrainer(const TrainRecipe& recipe, const TrainRuntime& runtime,
                                 ProcessGroup& group, int64_t steps_per_epoch)
    : recipe_(recipe),
      net_(build_seeded(recipe)),
      ema_net_(recipe.ema_decay > 0 ? Supernet(*recipe.space) : nullptr),
      trainer_(net_.ptr(), trainer_options(recipe, runtime, steps_per_epoch), group,
               ema_net_ ? ema_net_.ptr() : nullptr),
      largest_(largest(*recipe.space)),
      smallest_(smallest(*recipe.space)) {}

std::vector<ArchSpec> SupernetTrainer::sandwich(int64_t step) const {
  std::vector<ArchSpec> subnets = {largest_, smallest_};
  std::seed_seq seq{uint64_t(recipe_.seed), uint64_t(step)};
  std::mt19937_64 rng(seq);
  for (int64_t i = 0; i < recipe_.random_subnets; ++i) subnets.push_back(sample(*recipe_.space, rng));
  return subnets;
}

StepResult SupernetTrainer::step(const torch::Tensor& images_in, const torch::Tensor& labels_in) {
  const torch::Tensor images = images_in.to(trainer_.device(), /*non_blocking=*/true);
  const torch::Tensor labels = labels_in.to(trainer_.device(), /*non_blocking=*/true);
  StepResult r;
  r.images = images.size(0);
  torch::Tensor teacher;  // the largest subnet's logits, detached
  const std::vector<ArchSpec> subnets = sandwich(trainer_.steps());
  for (size_t i = 0; i < subnets.size(); ++i) {
    r.loss += trainer_.accumulate([&] {
      const torch::Tensor logits = net_->forward(images, subnets[i]).to(torch::kFloat32);
      if (i > 0) return soft_distillation_loss(logits, teacher, 1.0);
      teacher = logits.detach();
      return label_smoothing_cross_entropy(logits, labels, recipe_.smoothing);
    });
  }
  const ApplyResult applied = trainer_.apply();
  r.lr = applied.lr;
  r.skipped = applied.skipped;
  r.correct = topk_correct(teacher, labels, {1})[0];
  return r;
}

void SupernetTrainer::evaluate(nlohmann::json& line, const EvalData& d) {
  // Every rank evaluates the whole split (the subnets are small; no collective is needed).
  const auto split = d.val ? d.val : d.test;
  const std::string name = d.val ? "val" : "test";
  const TensorBatches calibration = load_batches(d.train, d.transform, recipe_.batch_size,
                                                 recipe_.bn_batches, recipe_.seed, d.threads,
                                                 d.device);
  const TensorBatches eval = load_batches(split, d.transform, d.batch_size, -1, std::nullopt,
                                          d.threads, d.device);
  auto add = [&](SupernetImpl& net, const std::string& prefix) {
    SubnetEvaluator evaluator(net, calibration, eval);
    for (const auto& [subnet, label] : {std::pair{largest_, "largest"}, {smallest_, "smallest"}}) {
      const EvalResult e = evaluator(subnet);
      const std::string key = prefix + label + "_" + name;
      line[key + "_top1"] = e.top1;
      line[key + "_top5"] = e.top5;
      line[key + "_loss"] = e.loss;
    }
  };
  add(*net_, "");
  if (ema_net_) add(*ema_net_, "ema_");
}

void SupernetTrainer::save(const std::filesystem::path& dir, int64_t epochs_done) {
  const std::map<std::string, std::string> meta = {{"space", recipe_.space->name},
                                                   {"epoch", std::to_string(epochs_done)}};
  write_file_atomic((dir / "space.json").string(), space_to_json(*recipe_.space).dump(2) + "\n");
  write_file_atomic((dir / "recipe.json").string(), recipe_to_json(recipe_).dump(2) + "\n");
  save_weights(*net_, (dir / "supernet.safetensors").string(), meta);
  if (ema_net_) save_weights(*ema_net_, (dir / "supernet_ema.safetensors").string(), meta);
}

}  // namespace vitnas
