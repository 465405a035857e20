// What run_training (run.h) trains: one optimizer step per batch, an evaluation after each
// epoch, the files that hold the result. ClassifierTrainer (`vitnas train`) and SupernetTrainer
// (`vitnas supernet train`) are the two tasks; the epoch loop, data, checkpoints, resume and
// data-parallel processes are run_training's and shared.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>

#include <nlohmann/json.hpp>
#include <torch/types.h>

#include "data/dataset.h"
#include "data/transforms.h"
#include "train/distributed.h"
#include "train/trainer.h"

namespace vitnas {

struct StepResult {
  double loss = 0.0;     // the batch's total loss (this process)
  int64_t correct = 0;   // top-1 hits on the batch (the class head; a supernet's largest subnet)
  int64_t images = 0;
  double lr = 0.0;
  bool skipped = false;  // AMP: gradients overflowed, the step was skipped
};

// The data an epoch's evaluation may use (val is null without a validation split).
struct EvalData {
  std::shared_ptr<const data::Dataset> train, val, test;
  data::TransformOptions transform;  // eval mode
  int64_t batch_size = 256;
  int threads = 2;
  torch::Device device = torch::kCPU;
  ProcessGroup* group = nullptr;
};

class TrainTask {
 public:
  virtual ~TrainTask() = default;
  virtual void begin_epoch(int64_t epoch) = 0;
  // One optimizer step on a batch (moved to the device by the task).
  virtual StepResult step(const torch::Tensor& images, const torch::Tensor& labels) = 0;
  virtual Trainer& trainer() = 0;
  // After an epoch: adds the evaluation to the metrics line ("val_top1", ...); every rank calls it.
  virtual void evaluate(nlohmann::json& line, const EvalData& data) = 0;
  // Rank 0, after an epoch: writes what the run produced (description and weights) into dir.
  virtual void save(const std::filesystem::path& dir, int64_t epochs_done) = 0;
};

}  // namespace vitnas
