// Accuracy of a model on a dataset: top-1 / top-5 and the plain cross-entropy, in eval mode.
// With several ranks each evaluates its own shard and the counts are summed, so every image is
// counted exactly once (no DistributedSampler padding).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include <nlohmann/json.hpp>
#include <torch/types.h>

#include "data/dataset.h"
#include "data/transforms.h"
#include "models/classifier.h"
#include "train/distributed.h"

namespace vitnas {

struct EvalResult {
  double loss = 0.0;          // mean cross-entropy
  double top1 = 0.0, top5 = 0.0;  // percent
  int64_t images = 0;
};

nlohmann::json to_json(const EvalResult& r);  // {"loss", "top1", "top5", "images"}

// dataset: the whole split to evaluate (every rank passes the same one); transform: eval mode.
EvalResult evaluate(ClassifierImpl& model, const std::shared_ptr<const data::Dataset>& dataset,
                    const data::TransformOptions& transform, int64_t batch_size, int threads,
                    torch::Device device, ProcessGroup& group);

// Batches held in memory (on one device), for what is evaluated over and over: the subnets of a
// supernet (train/subnet_eval.h).
struct TensorBatches {
  std::vector<torch::Tensor> images, labels;  // labels empty for calibration batches
  int64_t count() const { return int64_t(images.size()); }
};
// Up to max_batches (-1: all) batches of `batch_size` from the dataset, in the order of a
// DataLoader with this seed (shuffle) or in dataset order (no seed), moved to `device`.
TensorBatches load_batches(const std::shared_ptr<const data::Dataset>& dataset,
                           const data::TransformOptions& transform, int64_t batch_size,
                           int64_t max_batches, std::optional<uint64_t> seed, int threads,
                           torch::Device device);

// The same measure for any forward function on batches in memory, in this process alone. `model`
// is put in eval mode for the duration.
EvalResult evaluate(torch::nn::Module& model,
                    const std::function<torch::Tensor(const torch::Tensor&)>& forward,
                    const TensorBatches& batches);

}  // namespace vitnas
