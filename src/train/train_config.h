// Everything that decides what a training run computes (the recipe), and the runtime settings
// that do not change its result (threads, device, logging). A checkpoint stores the recipe, and
// a resumed run must present the same one: resuming with another learning rate, architecture
// or batch size would silently train something else.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/arch_spec.h"
#include "core/search_space.h"

namespace vitnas {

// Defaults follow the DeiT / EfficientViT recipe (AdamW, cosine with warm-up, label smoothing
// 0.1), shortened for small datasets: 1 warm-up epoch, batch 128 per process.
struct TrainRecipe {
  ArchSpec arch;
  std::string data = "fashion-mnist";  // data::open_dataset spec
  int64_t epochs = 10;
  int64_t batch_size = 128;  // per process; the global batch is batch_size x world_size
  int64_t world_size = 1;    // data-parallel processes (part of the recipe: it sets the batch)
  uint64_t seed = 0;         // initialisation, data order, augmentation, drop path

  // Optimiser and schedule (per step; warm-up given in epochs, as timm's configs do).
  double lr = 1e-3, min_lr = 1e-5, warmup_lr = 1e-6;
  double warmup_epochs = 1.0;
  double weight_decay = 0.025;  // AdamW; never on norms, biases, attention biases
  double clip_grad = 0.0;       // max global L2 gradient norm; 0 = off
  double smoothing = 0.1;       // label smoothing
  double drop_path = 0.0;       // stochastic depth rate of the last block
  double ema_decay = 0.0;       // model EMA; 0 = off

  // Data.
  double val_fraction = 0.1;      // of the training set, held out for validation (0: none)
  int64_t train_images = 0;       // train on this many images of the train split (0: all);
                                  // a random subset fixed by the seed, for short experiments
  int64_t test_images = 0;        // test on this many images (0: all); one random subset for
                                  // every seed, so that runs compare on the same images
  std::string augment = "auto";   // rrc | pad_crop | none | auto (pad_crop below 64 px, else rrc)
  bool flip = true;
  double rrc_min_scale = 0.08;

  // Distillation (DeiT / EfficientViT; MPCViT's token term for the vit family).
  std::string teacher, teacher_weights;  // teacher arch (preset or JSON) and its weights
  double distill_alpha = 0.5, distill_temperature = 1.0, distill_token_beta = 0.0;
  bool distill_hard = false;

  bool amp = false;  // CUDA only: float16 autocast with dynamic loss scaling

  std::string init_weights;  // start from these weights (safetensors), not the seed's init

  // A supernet (`vitnas supernet train`): the space it holds, and the sandwich rule's random
  // subnets per step besides the largest and smallest; arch is then largest(*space) (its
  // resolution, channels and classes set the data). bn_batches: recalibration batches before
  // each epoch's evaluation of the largest and smallest subnets.
  std::optional<SearchSpace> space;
  int64_t random_subnets = 2;
  int64_t bn_batches = 10;

  // MPCViT's head-kind search (`vitnas search-mpc`): every head of arch runs
  // alpha RSAttn + (1 - alpha) ScaleAttn (models/kind_search.h) and the loss adds
  //   lambda * sum_h (alpha_h relu_softmax_s[h] + (1 - alpha_h) scaling_s[h])   cost "latency"
  //   lambda * sum_h |alpha_h|                                                  cost "l1"
  // with each head's MPC seconds in head_kinds(arch) order (profile/mpc_model.h). With
  // activation_s (vit, one per layer: its MLP activation's MPC seconds), MPCViT+'s linearisation
  // search too: every MLP mixes beta act(h) + (1 - beta) h and the loss adds
  // lambda * sum_l beta_l activation_s[l] (l1: |beta_l|). With softmax_s (per head), softmax is
  // a third candidate: every head runs gamma Softmax + (1 - gamma) (the mix above) and costs
  // gamma softmax_s[h] + (1 - gamma) (its cost above) (l1: |alpha_h| + |gamma_h|).
  struct KindSearch {
    double lambda = 0;
    std::string cost = "latency";
    std::vector<double> relu_softmax_s, scaling_s;
    std::vector<double> activation_s;  // empty: no linearisation search
    std::vector<double> softmax_s;     // empty: softmax is not a candidate
  };
  std::optional<KindSearch> kind_search;
};

// Settings that change speed and output, not the numbers trained.
struct TrainRuntime {
  std::string device = "cpu";
  int threads = 0;         // intra-op threads, set by the CLI; 0: cores / local processes
  int loader_threads = 2;  // data-loading worker threads per process
  bool progress = true;    // progress bar on stderr (when it is a terminal)
};

// InputError naming the setting (e.g. "--lr: must be > 0"), for values no run can use.
void validate(const TrainRecipe& recipe);

// The recipe as JSON: every field, the architecture in full. Stored in checkpoints.
nlohmann::json recipe_to_json(const TrainRecipe& recipe);

// The first difference between a checkpoint's recipe and this run's, as a one-line message
// ("lr: 0.001 in the checkpoint, 0.002 now"), or "" when they agree.
std::string recipe_difference(const nlohmann::json& saved, const nlohmann::json& now);

// The transform's augmentation for "auto".
std::string resolved_augment(const TrainRecipe& recipe);

}  // namespace vitnas
