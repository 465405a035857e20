#include "train/metrics.h"

#include <algorithm>

#include <torch/torch.h>

#include "core/error.h"

namespace vitnas {

std::vector<int64_t> topk_correct(const torch::Tensor& logits, const torch::Tensor& target,
                                  const std::vector<int64_t>& ks) {
  require(logits.dim() == 2 && logits.size(1) > 0, "accuracy: logits must be (batch, classes)");
  const auto labels = target.dim() == 2 ? target.argmax(1) : target;
  require(labels.dim() == 1 && labels.size(0) == logits.size(0),
          "accuracy: " + std::to_string(labels.numel()) + " targets for " +
              std::to_string(logits.size(0)) + " samples");
  const int64_t classes = logits.size(1);
  int64_t kmax = 1;
  for (auto k : ks) kmax = std::max(kmax, std::clamp<int64_t>(k, 1, classes));
  // (B, kmax) indices of the largest logits, best first; compare each column with the label.
  const auto pred = std::get<1>(logits.detach().topk(kmax, 1, /*largest=*/true, /*sorted=*/true));
  const auto hit = pred.eq(labels.to(pred.device(), torch::kLong).unsqueeze(1));
  const auto per_k = hit.to(torch::kLong).sum(0).cumsum(0).cpu();  // hits within the first j+1
  std::vector<int64_t> out;
  for (auto k : ks) out.push_back(per_k[std::clamp<int64_t>(k, 1, classes) - 1].item<int64_t>());
  return out;
}

TopkCounts top1_top5(const torch::Tensor& logits, const torch::Tensor& target) {
  const auto c = topk_correct(logits, target, {1, 5});
  return {c[0], c[1], logits.size(0)};
}

void AverageMeter::update(double value, int64_t n) {
  last_ = value;
  sum_ += value * static_cast<double>(n);
  count_ += n;
}

void ThroughputMeter::update(int64_t images, double seconds) {
  images_ += images;
  seconds_ += seconds;
  last_ = seconds > 0 ? static_cast<double>(images) / seconds : 0.0;
}

}  // namespace vitnas
