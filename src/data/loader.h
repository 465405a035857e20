// DataLoader: batches of transformed samples, prepared ahead by worker threads.
//
// Reproducibility contract (training resumes exactly from a checkpoint that stores only the
// epoch and the next batch index): the epoch's sample order is a pure function of
// (seed, epoch), and each sample's augmentation draws come from an RNG seeded by
// (seed, epoch, position in the epoch's order). So a batch's contents do not depend on the
// thread count, on prefetching, or on where an interrupted run stopped.
//
// Sharding (data-parallel training, as PyTorch's DistributedSampler): the epoch's permutation of
// N samples is padded by repeating its start to a multiple of world_size; rank r takes
// positions r, r + world_size, ... Every rank gets ceil(N / world_size) samples.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include <torch/types.h>

#include "data/dataset.h"
#include "data/transforms.h"

namespace vitnas::data {

struct LoaderOptions {
  int64_t batch_size = 64;
  uint64_t seed = 0;
  bool shuffle = true;     // false: dataset order every epoch (evaluation)
  bool drop_last = false;  // drop this rank's final partial batch
  int threads = 2;         // worker threads; 0 = prepare each batch inside next()
  int prefetch = 4;        // batches prepared ahead of the consumer (>= 1; use >= threads)
  int64_t rank = 0, world_size = 1;
};

struct Batch {
  torch::Tensor images;  // float (B, in_chans, img_size, img_size), normalised
  torch::Tensor labels;  // int64 (B)
  int64_t index;         // batch number in the epoch: resume with begin_epoch(epoch, index + 1)
};

class DataLoader {
 public:
  // InputError for invalid options (batch_size < 1, rank outside [0, world_size), threads < 0,
  // prefetch < 1, or invalid TransformOptions).
  DataLoader(std::shared_ptr<const Dataset> dataset, TransformOptions transform,
             LoaderOptions options);
  ~DataLoader();  // stops and joins the workers
  DataLoader(const DataLoader&) = delete;
  DataLoader& operator=(const DataLoader&) = delete;

  // Starts (or restarts) an epoch at batch start_batch in [0, num_batches()]; work of a
  // previous epoch still in flight is discarded.
  void begin_epoch(int64_t epoch, int64_t start_batch = 0);

  // The next batch in order, or nullopt at the end of the epoch. A sample that fails to load
  // rethrows its InputError here, at its batch's turn.
  std::optional<Batch> next();

  int64_t num_batches() const;       // per epoch, for this rank
  int64_t samples_per_rank() const;  // ceil(N / world_size)
  // This rank's dataset indices for epoch, in order (what the batches hold, before drop_last).
  std::vector<int64_t> epoch_order(int64_t epoch) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace vitnas::data
