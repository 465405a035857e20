#include "data/split.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <utility>

#include <torch/torch.h>

#include "core/error.h"
#include "data/rng.h"

namespace vitnas::data {

Split split_by_count(int64_t size, int64_t val_count, uint64_t seed) {
  require(val_count >= 0 && val_count < size,
          "split: validation count " + std::to_string(val_count) + " must be in [0, " +
              std::to_string(size) + ") for a training set of " + std::to_string(size));
  // Partial Fisher-Yates: the first val_count slots of a seeded permutation.
  std::vector<int64_t> perm(static_cast<size_t>(size));
  std::iota(perm.begin(), perm.end(), int64_t{0});
  std::mt19937_64 rng(mix_seed(seed, 0x5b117ull));
  for (int64_t i = 0; i < val_count; ++i)
    std::swap(perm[static_cast<size_t>(i)],
              perm[static_cast<size_t>(i + uniform_int(rng, size - i))]);
  Split s;
  s.val.assign(perm.begin(), perm.begin() + val_count);
  s.train.assign(perm.begin() + val_count, perm.end());
  std::sort(s.val.begin(), s.val.end());
  std::sort(s.train.begin(), s.train.end());
  return s;
}

Split split_by_fraction(int64_t size, double val_fraction, uint64_t seed) {
  require(val_fraction >= 0.0 && val_fraction < 1.0,
          "split: validation fraction must be in [0, 1), got " + std::to_string(val_fraction));
  return split_by_count(size, std::llround(val_fraction * static_cast<double>(size)), seed);
}

Subset::Subset(std::shared_ptr<const Dataset> base, std::vector<int64_t> indices)
    : base_(std::move(base)), indices_(std::move(indices)) {
  TORCH_CHECK(base_ != nullptr, "Subset: null base dataset");
  for (size_t i = 0; i < indices_.size(); ++i)
    require(indices_[i] >= 0 && indices_[i] < base_->size(),
            "subset: index " + std::to_string(indices_[i]) + " at position " + std::to_string(i) +
                " is outside the " + base_->name() + " dataset of " +
                std::to_string(base_->size()));
}

Sample Subset::get(int64_t index) const {
  TORCH_CHECK(index >= 0 && index < size(), "Subset::get: index out of range");
  return base_->get(indices_[static_cast<size_t>(index)]);
}

}  // namespace vitnas::data
