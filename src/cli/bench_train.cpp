// vitnas bench-train --arch m0 --batch 32 --threads 1 [--baseline]: images per second of the
// training step `vitnas train` runs (ClassifierTrainer::step: forward, label-smoothing loss,
// backward, flat AdamW with clipping), on random images. --baseline also times, interleaved
// round by round in the same process, the step as a direct port of the official PyTorch loop
// writes it (torch::optim::AdamW over per-parameter tensors, clip_grad_norm_), and prints the
// ratio. benchmarks/train_step.sh times the official Python loop itself against this command.
#include <chrono>
#include <cstdio>
#include <functional>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include "cli/commands.h"
#include "cli/common.h"
#include "cli/limits.h"
#include "core/error.h"
#include "core/memory.h"
#include "profile/benchmark.h"
#include "train/classifier_trainer.h"
#include "train/losses.h"
#include "train/param_groups.h"

namespace vitnas::cli {

namespace {

struct BenchTrainOptions {
  CommonOptions common;
  std::string arch = "m0";
  int64_t batch = 32;
  int threads = 1;
  int steps = 4, rounds = 5, warmup = 2;
  bool baseline = false;
};

// img/s of `steps` calls of step().
double time_steps(const std::function<void()>& step, int steps, int64_t batch) {
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < steps; ++i) step();
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return double(steps * batch) / s;
}

void run_bench_train(const BenchTrainOptions& o) {
  apply_common_options(o.common);
  set_threads(o.threads);
  require(o.batch >= 1 && o.steps >= 1 && o.rounds >= 1 && o.warmup >= 0,
          "--batch, --steps, --rounds must be >= 1 and --warmup >= 0");
  TrainRecipe recipe;
  recipe.arch = load_arch(o.arch);
  require_memory(recipe.arch, o.batch, Workload::Training,
                 "bench-train --batch " + std::to_string(o.batch) + " of " + recipe.arch.name);
  recipe.batch_size = o.batch;
  recipe.clip_grad = 5.0;  // exercised, as most recipes clip
  ProcessGroup single(DistributedEnv{}, torch::kCPU);
  ClassifierTrainer trainer(recipe, TrainRuntime{}, single, /*steps_per_epoch=*/1000);

  torch::manual_seed(1);
  const auto& a = recipe.arch;
  torch::Tensor images = torch::randn({o.batch, a.in_chans, a.img_size, a.img_size});
  torch::Tensor labels = torch::randint(a.num_classes, {o.batch}, torch::kInt64);
  std::function<void()> vitnas_step = [&] { trainer.step(images, labels); };

  // The official loop, ported as written: per-parameter AdamW, clip_grad_norm_.
  Classifier eager = build_model(recipe.arch);
  torch::optim::AdamW adamw(
      split_weight_decay(eager->named_parameters()).adamw(recipe.lr, recipe.weight_decay));
  std::function<void()> eager_step = [&] {
    adamw.zero_grad();
    torch::Tensor loss =
        label_smoothing_cross_entropy(eager->forward(images), labels, recipe.smoothing);
    loss.backward();
    torch::nn::utils::clip_grad_norm_(eager->parameters(), recipe.clip_grad);
    adamw.step();
    loss.item<double>();
  };

  for (int i = 0; i < o.warmup; ++i) {
    vitnas_step();
    if (o.baseline) eager_step();
  }
  std::vector<double> ours, theirs;
  Progress bar("bench-train");
  for (int round = 0; round < o.rounds; ++round) {
    ours.push_back(time_steps(vitnas_step, o.steps, o.batch));
    if (o.baseline) theirs.push_back(time_steps(eager_step, o.steps, o.batch));
    bar.update(double(round + 1) / o.rounds);
  }
  nlohmann::json j = {{"arch", recipe.arch.name}, {"batch", o.batch},   {"threads", o.threads},
                      {"rounds", o.rounds},       {"steps", o.steps},   {"img_per_s", median(ours)}};
  if (o.baseline) {
    j["baseline_img_per_s"] = median(theirs);
    j["speedup"] = median(ours) / median(theirs);
  }
  if (o.common.json) return print_json(j);
  std::printf("%s batch %lld, %d thread(s): vitnas train step %.1f img/s", recipe.arch.name.c_str(),
              static_cast<long long>(o.batch), o.threads, median(ours));
  if (o.baseline)
    std::printf(", eager port %.1f img/s, %.2fx", median(theirs), median(ours) / median(theirs));
  std::printf(" (median of %d rounds)\n", o.rounds);
}

}  // namespace

void register_bench_train(CLI::App& root) {
  auto o = std::make_shared<BenchTrainOptions>();
  auto* sub = root.add_subcommand("bench-train", "images/s of the training step on random data");
  sub->add_option("--arch", o->arch, "preset or ArchSpec JSON")->capture_default_str();
  sub->add_option("--batch", o->batch, "images per step (>= 2: BatchNorm needs two)")->check(integer_in(2, kMaxBatch))->capture_default_str();
  sub->add_option("--threads", o->threads, "intra-op CPU threads")->check(thread_count(false))->capture_default_str();
  sub->add_option("--steps", o->steps, "timed steps per round")->check(integer_in(1, kMaxCount))->capture_default_str();
  sub->add_option("--rounds", o->rounds, "rounds; the median is reported")->check(integer_in(1, 1000))->capture_default_str();
  sub->add_option("--warmup", o->warmup, "untimed steps first")->check(integer_in(0, kMaxCount))->capture_default_str();
  sub->add_flag("--baseline", o->baseline,
                "also time the official loop's direct port (torch::optim::AdamW), interleaved");
  add_common_options(*sub, o->common);
  sub->callback([o] { run_bench_train(*o); });
}

}  // namespace vitnas::cli
