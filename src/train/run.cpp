#include "train/run.h"

#include <chrono>
#include <cmath>
#include <filesystem>
#include <memory>

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include "core/error.h"
#include "core/io.h"
#include "core/memory.h"
#include "data/loader.h"
#include "data/split.h"
#include "models/weights.h"
#include "train/checkpoint.h"
#include "train/classifier_trainer.h"
#include "train/supernet_trainer.h"
#include "train/evaluate.h"
#include "train/metrics.h"

namespace vitnas {

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

}  // namespace

Datasets open_datasets(const TrainRecipe& r) {
  std::shared_ptr<const data::Dataset> full = data::open_dataset(r.data, /*train=*/true);
  Datasets d;
  d.name = full->name();
  d.test = data::open_dataset(r.data, /*train=*/false);
  require(r.arch.num_classes >= full->num_classes(),
          "--data " + r.data + " has " + std::to_string(full->num_classes()) +
              " classes but the architecture predicts " + std::to_string(r.arch.num_classes) +
              ": set num_classes in its ArchSpec");
  if (r.arch.num_classes > full->num_classes())
    spdlog::warn("the architecture predicts {} classes, --data {} has {}", r.arch.num_classes,
                 r.data, full->num_classes());
  if (r.val_fraction > 0) {
    data::Split split = data::split_by_fraction(full->size(), r.val_fraction, r.seed);
    d.train = std::make_shared<data::Subset>(full, std::move(split.train));
    d.val = std::make_shared<data::Subset>(full, std::move(split.val));
  } else {
    d.train = full;
  }
  if (r.train_images > 0 && r.train_images < d.train->size()) {
    // A random subset of the train part (the validation split is unchanged): the images kept
    // are the "held out" side of a seeded split of the train part.
    std::vector<int64_t> kept =
        data::split_by_count(d.train->size(), r.train_images, r.seed + 1).val;
    d.train = std::make_shared<data::Subset>(d.train, std::move(kept));
  }
  if (r.test_images > 0 && r.test_images < d.test->size())
    d.test = std::make_shared<data::Subset>(
        d.test, data::split_by_count(d.test->size(), r.test_images, /*seed=*/0).val);
  return d;
}

data::TransformOptions transform_options(const TrainRecipe& r, const std::string& dataset,
                                         bool train) {
  data::TransformOptions t;
  t.img_size = r.arch.img_size;
  t.in_chans = r.arch.in_chans;
  t.train = train;
  t.augment = resolved_augment(r);
  t.flip = r.flip;
  t.rrc_min_scale = r.rrc_min_scale;
  t.pad = std::max<int64_t>(1, r.arch.img_size / 8);  // CIFAR's 4 px at 32 px
  data::Normalization n = data::normalization_for(dataset);
  t.mean = n.mean;
  t.std = n.std;
  return t;
}

namespace {

void write_metrics(const fs::path& path, const nlohmann::json& metrics) {
  std::string text;
  for (const auto& line : metrics) text += line.dump() + "\n";
  write_file_atomic(path.string(), text);
}

std::unique_ptr<TrainTask> make_task(const TrainRecipe& recipe, const TrainRuntime& runtime,
                                     ProcessGroup& group, int64_t steps_per_epoch) {
  if (recipe.space)
    return std::make_unique<SupernetTrainer>(recipe, runtime, group, steps_per_epoch);
  return std::make_unique<ClassifierTrainer>(recipe, runtime, group, steps_per_epoch);
}

}  // namespace

TrainResult run_training(const TrainRecipe& recipe, const TrainRuntime& runtime,
                         const std::string& out_dir, bool resume, ProcessGroup& group,
                         const ProgressCallback& progress) {
  validate(recipe);
  require(recipe.world_size == group.world_size(),
          "the recipe is for " + std::to_string(recipe.world_size) + " processes, " +
              std::to_string(group.world_size()) + " are running");
  const fs::path dir(out_dir);
  const fs::path checkpoint_path = dir / "checkpoint.safetensors";
  const torch::Device device(runtime.device);
  if (device.is_cpu())
    require_memory(recipe.arch, recipe.batch_size, Workload::Training,
                   "training " + recipe.arch.name + " with --batch " +
                       std::to_string(recipe.batch_size));

  // Everything that can be wrong with the input is checked before the first write.
  Datasets data = open_datasets(recipe);
  data::LoaderOptions lo;
  lo.batch_size = recipe.batch_size;
  lo.seed = recipe.seed;
  lo.drop_last = true;  // equal-sized steps (timm's training loader)
  lo.threads = runtime.loader_threads;
  lo.prefetch = std::max(2, 2 * runtime.loader_threads);
  lo.rank = group.rank();
  lo.world_size = group.world_size();
  data::DataLoader loader(data.train, transform_options(recipe, data.name, true), lo);
  require(loader.num_batches() > 0,
          "--batch " + std::to_string(recipe.batch_size) + " is larger than the " +
              std::to_string(loader.samples_per_rank()) + " training images per process");
  const auto eval_transform = transform_options(recipe, data.name, false);
  const int64_t eval_batch = std::max<int64_t>(recipe.batch_size, 256);

  std::unique_ptr<TrainTask> task = make_task(recipe, runtime, group, loader.num_batches());
  Trainer& trainer = task->trainer();
  const EvalData eval_data{data.train, data.val, data.test, eval_transform, eval_batch,
                           runtime.loader_threads, device, &group};
  const nlohmann::json recipe_json = recipe_to_json(recipe);
  Checkpoint state;
  state.recipe = recipe_json;
  if (fs::exists(checkpoint_path)) {
    require(resume, checkpoint_path.string() +
                        " exists: pass --resume to continue that run, or choose another --out");
    state = load_checkpoint(checkpoint_path.string());
    const std::string diff = recipe_difference(state.recipe, recipe_json);
    require(diff.empty(), checkpoint_path.string() + ": " + diff +
                              "; resume with the run's own settings, or choose another --out");
    trainer.restore(state, checkpoint_path.string());
    spdlog::info("resuming {} after epoch {} (step {})", checkpoint_path.string(), state.epoch,
                 state.step);
  }

  if (group.is_main()) {
    std::error_code ec;
    fs::create_directories(dir, ec);
    require(!ec, "--out " + out_dir + ": cannot create the directory (" + ec.message() + ")");
  }

  TrainResult result;
  result.first_epoch = state.epoch;
  for (int64_t epoch = state.epoch; epoch < recipe.epochs; ++epoch) {
    const auto epoch_start = Clock::now();
    task->begin_epoch(epoch);
    loader.begin_epoch(epoch);
    AverageMeter loss;
    int64_t correct = 0;
    while (auto batch = loader.next()) {
      StepResult r = task->step(batch->images, batch->labels);
      // A non-finite loss only gets worse (NaN weights from here on): stop before any file
      // takes them, so metrics and the checkpoint stay at the last good epoch.
      require(std::isfinite(r.loss),
              fmt::format("epoch {} step {}: the training loss is {} (the run diverged: lower "
                          "--lr or set --clip-grad); {}",
                          epoch + 1, batch->index + 1, r.loss,
                          epoch > 0 ? fmt::format("{} still holds epoch {}", out_dir, epoch)
                                    : std::string("nothing was written")));
      loss.update(r.loss, r.images);
      correct += r.correct;
      if (progress && group.is_main()) {
        const double s = seconds_since(epoch_start);
        progress({epoch, recipe.epochs, batch->index + 1, loader.num_batches(), loss.avg(),
                  100.0 * double(correct) / double(loss.count()),
                  s > 0 ? double(loss.count()) / s : 0.0});
      }
    }
    const double train_seconds = seconds_since(epoch_start);
    // [loss sum, top-1 hits, images] over all ranks.
    torch::Tensor sums =
        torch::tensor({loss.sum(), double(correct), double(loss.count())}, torch::kFloat64)
            .to(device);
    group.allreduce_sum_(sums);
    sums = sums.cpu();
    auto s = sums.accessor<double, 1>();

    nlohmann::json line = {{"epoch", epoch + 1},
                           {"step", trainer.steps()},
                           {"lr", trainer.lr()},
                           {"train_loss", s[0] / s[2]},
                           {"train_top1", 100.0 * s[1] / s[2]},
                           {"img_per_s", s[2] / train_seconds},
                           {"train_seconds", train_seconds}};
    task->evaluate(line, eval_data);
    const double epoch_seconds = seconds_since(epoch_start);
    state.seconds += epoch_seconds;
    line["epoch_seconds"] = epoch_seconds;
    line["seconds"] = state.seconds;
    state.metrics.push_back(line);

    if (group.is_main()) {
      task->save(dir, epoch + 1);
      write_metrics(dir / "metrics.jsonl", state.metrics);
      Checkpoint c = trainer.checkpoint();
      c.epoch = epoch + 1;
      c.seconds = state.seconds;
      c.recipe = recipe_json;
      c.metrics = state.metrics;
      save_checkpoint(checkpoint_path.string(), c);  // last: the other files are never behind it
    }
    group.barrier();
    std::string evals;  // every evaluation's top-1: "val_top1 91.20%, test_top1 90.85%"
    for (const auto& [key, value] : line.items())
      if (key != "train_top1" && key.size() > 5 && key.substr(key.size() - 5) == "_top1")
        evals += fmt::format(", {} {:.2f}%", key, value.get<double>());
    spdlog::info("epoch {}/{}: loss {:.4f}, train top-1 {:.2f}%{}, {:.0f} img/s, {:.1f} s",
                 epoch + 1, recipe.epochs, line["train_loss"].get<double>(),
                 line["train_top1"].get<double>(), evals, line["img_per_s"].get<double>(),
                 epoch_seconds);
    ++result.epochs_run;
  }
  result.seconds = state.seconds;
  if (!state.metrics.empty()) result.last = state.metrics.back();
  return result;
}

}  // namespace vitnas
