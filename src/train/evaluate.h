// Accuracy of a model on a dataset: top-1 / top-5 and the plain cross-entropy, in eval mode.
// With several ranks each evaluates its own shard and the counts are summed, so every image is
// counted exactly once (no DistributedSampler padding).
#pragma once

#include <cstdint>
#include <memory>

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

}  // namespace vitnas
