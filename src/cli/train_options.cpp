#include "cli/train_options.h"

#include <algorithm>
#include <cstdlib>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "cli/limits.h"
#include "core/error.h"
#include "train/distributed.h"
#include "train/launch.h"
#include "train/run.h"

namespace vitnas::cli {

void add_training_options(CLI::App& sub, TrainCliOptions& o, bool classifier) {
  TrainRecipe& r = o.recipe;
  sub.add_option("--data", r.data,
                  "fashion-mnist[:DIR] | mnist:DIR | cifar10:DIR | cifar100:DIR | folder:DIR | "
                  "synthetic[:N]")
      ->capture_default_str();
  sub.add_option("--out", o.out, "run directory (arch, weights, metrics, checkpoint)")
      ->required();
  sub.add_flag("--resume", o.resume, "continue the run in --out from its checkpoint");
  sub.add_option("--epochs", r.epochs, "training epochs")->check(integer_in(0, kMaxEpochs))->capture_default_str();
  sub.add_option("--batch", r.batch_size, "images per step and process")->check(integer_in(1, kMaxBatch))->capture_default_str();
  sub.add_option("--seed", r.seed, "seed of the initialisation, split, shuffling and augmentation")->capture_default_str();
  sub.add_option("--lr", r.lr, "peak AdamW learning rate")->check(number_in(0, 1e6))->capture_default_str();
  sub.add_option("--min-lr", r.min_lr, "where the cosine ends")->check(number_in(0, 1e6))->capture_default_str();
  sub.add_option("--warmup-lr", r.warmup_lr, "learning rate the linear warm-up starts from")->check(number_in(0, 1e6))->capture_default_str();
  o.warmup_epochs_flag = sub.add_option("--warmup-epochs", r.warmup_epochs, "epochs of linear warm-up (default 1, at most --epochs - 1)")->check(number_in(0, kMaxEpochs))->capture_default_str();
  sub.add_option("--weight-decay", r.weight_decay, "AdamW (not on norms, biases, attention biases)")->check(number_in(0, 1e3))
      ->capture_default_str();
  sub.add_option("--clip-grad", r.clip_grad, "max gradient L2 norm, 0 = off")->check(number_in(0, 1e12))->capture_default_str();
  sub.add_option("--smoothing", r.smoothing, "label smoothing")->check(number_in(0, 0.99))->capture_default_str();
  sub.add_option("--ema-decay", r.ema_decay, "model EMA decay, 0 = off")->check(number_in(0, 0.999999))->capture_default_str();
  sub.add_option("--val-fraction", r.val_fraction, "training images held out for validation")->check(number_in(0, 0.99))
      ->capture_default_str();
  sub.add_option("--train-images", r.train_images,
                 "train on a random subset of this many images of the train split (0: all), "
                 "for short experiments")
      ->check(integer_in(0, int64_t{1} << 40))
      ->capture_default_str();
  sub.add_option("--test-images", r.test_images,
                 "test on a random subset of this many test images (0: all), the same subset "
                 "for every seed")
      ->check(integer_in(0, int64_t{1} << 40))
      ->capture_default_str();
  sub.add_option("--augment", r.augment, "auto | rrc | pad_crop | none")->capture_default_str();
  sub.add_flag("--flip,!--no-flip", r.flip, "random horizontal flips")->capture_default_str();
  sub.add_option("--rrc-min-scale", r.rrc_min_scale, "random-resized-crop: smallest area fraction")->check(number_in(0.01, 1))->capture_default_str();
  if (classifier) {
    sub.add_option("--drop-path", r.drop_path, "stochastic depth of the last block")->check(number_in(0, 0.99))
        ->capture_default_str();
    sub.add_option("--teacher", r.teacher, "teacher architecture (preset or JSON)");
    sub.add_option("--teacher-weights", r.teacher_weights, "the teacher's safetensors weights");
    sub.add_option("--distill-alpha", r.distill_alpha, "weight of the distillation loss")->check(number_in(0, 1))
        ->capture_default_str();
    sub.add_option("--distill-temperature", r.distill_temperature, "softmax temperature of the distillation loss")->check(number_in(0.01, 100))->capture_default_str();
    sub.add_flag("--distill-hard", r.distill_hard, "DeiT hard distillation (teacher's argmax)");
    sub.add_option("--distill-token-beta", r.distill_token_beta,
                    "MPCViT: weight of the MSE between final tokens (vit family)")->check(number_in(0, 1e6))
        ->capture_default_str();
  }
  sub.add_flag("--amp", r.amp, "float16 mixed precision (CUDA)");
  sub.add_option("--device", o.runtime.device, "cpu or cuda[:N]")->capture_default_str();
  sub.add_option("--threads", o.runtime.threads, "intra-op CPU threads per process (0: cores / processes)")->check(thread_count(true))
      ->capture_default_str();
  sub.add_option("--loader-threads", o.runtime.loader_threads, "data-loading threads per process")->check(integer_in(0, kMaxLoaderThreads))
      ->capture_default_str();
  sub.add_flag("--progress,!--no-progress", o.runtime.progress, "progress bar on stderr")
      ->capture_default_str();
  sub.add_option("--nproc", o.nproc, "launch N local data-parallel processes (Gloo)")->check(integer_in(1, machine_cores()))
      ->capture_default_str();
  add_common_options(sub, o.common);
}

void fit_default_warmup(const TrainCliOptions& o, TrainRecipe& recipe, int64_t epochs) {
  if (o.warmup_epochs_flag != nullptr && o.warmup_epochs_flag->count() == 0)
    recipe.warmup_epochs = std::max(0.0, std::min(recipe.warmup_epochs, double(epochs - 1)));
}

ProgressCallback training_progress(Progress& bar) {
  return [&bar](const TrainProgress& p) {
    bar.update(double(p.epoch * p.batches + p.batch) / double(p.epochs * p.batches),
               fmt::format("epoch {}/{} loss {:.3f} top-1 {:.1f}% {:.0f} img/s", p.epoch + 1,
                           p.epochs, p.loss, p.top1, p.img_per_s));
  };
}

void run_training_command(const TrainCliOptions& o, TrainRecipe recipe) {
  apply_common_options(o.common);
  require(o.nproc >= 1, "--nproc: must be >= 1");
  fit_default_warmup(o, recipe, recipe.epochs);
  // Checked here, once, before any process is launched (otherwise every rank says it).
  parse_device(o.runtime.device);
  validate(recipe);

  // --nproc N from a plain shell: become the launcher. The children see WORLD_SIZE and train.
  if (o.nproc > 1 && std::getenv("WORLD_SIZE") == nullptr) {
    std::vector<std::string> argv = command_line();
    argv[0] = current_executable();
    spdlog::info("launching {} local processes", o.nproc);
    const int code = launch_local_processes(o.nproc, argv);
    if (code != 0) std::exit(code);  // the failing rank already printed its error
    return;
  }

  die_with_launcher();  // a rank never outlives its launcher (kill -9 included)
  const DistributedEnv env = distributed_env_from_environment();
  require(o.nproc == 1 || o.nproc == env.world_size,
          "--nproc " + std::to_string(o.nproc) + " disagrees with WORLD_SIZE=" +
              std::to_string(env.world_size));
  if (env.rank != 0) spdlog::set_level(spdlog::level::warn);  // one rank speaks
  // Default: the cores shared out between the local processes.
  const int cores = machine_cores();
  set_threads(o.runtime.threads > 0 ? o.runtime.threads
                                    : std::max(1, cores / int(env.world_size)));

  recipe.world_size = env.world_size;
  ProcessGroup group(env, torch::Device(o.runtime.device));

  Progress bar("train");
  TrainResult result = run_training(recipe, o.runtime, o.out, o.resume, group,
                                    o.runtime.progress ? training_progress(bar) : nullptr);
  if (group.is_main()) {
    spdlog::info("{} epochs in {:.1f} s ({} this run); wrote {}", recipe.epochs, result.seconds,
                 result.epochs_run, o.out);
    if (o.common.json)
      print_json({{"out", o.out},
                  {"arch", recipe.arch.name},
                  {"space", recipe.space ? recipe.space->name : ""},
                  {"epochs", recipe.epochs},
                  {"first_epoch", result.first_epoch},
                  {"epochs_run", result.epochs_run},
                  {"seconds", result.seconds},
                  {"world_size", group.world_size()},
                  {"last", result.last}});
  }
}

}  // namespace vitnas::cli
