// Classification accuracy and the running averages the trainer logs (loss, accuracy, img/s).
#pragma once

#include <cstdint>
#include <vector>

#include <torch/types.h>

namespace vitnas {

// For each k in `ks`: how many samples have their label among the k largest logits. k is clamped
// to [1, num_classes] (top-5 of a 3-class problem counts as top-3, i.e. every sample).
// logits (B, C); target (B,) class indices, or (B, C) soft targets (mixup), whose argmax is the
// label. Ties in the logits are broken by torch::topk. InputError on mismatched shapes.
std::vector<int64_t> topk_correct(const torch::Tensor& logits, const torch::Tensor& target,
                                  const std::vector<int64_t>& ks);

struct TopkCounts {
  int64_t top1 = 0, top5 = 0, total = 0;
};
TopkCounts top1_top5(const torch::Tensor& logits, const torch::Tensor& target);

// timm's AverageMeter: last value and the n-weighted running mean (e.g. a batch loss with
// n = batch size, or a batch accuracy in percent).
class AverageMeter {
 public:
  void update(double value, int64_t n = 1);
  void reset() { *this = AverageMeter(); }
  double last() const { return last_; }
  double sum() const { return sum_; }
  int64_t count() const { return count_; }
  double avg() const { return count_ > 0 ? sum_ / static_cast<double>(count_) : 0.0; }

 private:
  double last_ = 0.0, sum_ = 0.0;
  int64_t count_ = 0;
};

// Images per second as total images / total seconds (not a mean of per-batch rates, which
// would over-weight fast small batches).
class ThroughputMeter {
 public:
  void update(int64_t images, double seconds);
  void reset() { *this = ThroughputMeter(); }
  double last() const { return last_; }  // the latest batch's rate
  double rate() const { return seconds_ > 0 ? static_cast<double>(images_) / seconds_ : 0.0; }
  int64_t images() const { return images_; }
  double seconds() const { return seconds_; }

 private:
  int64_t images_ = 0;
  double seconds_ = 0.0, last_ = 0.0;
};

}  // namespace vitnas
