// Held-out validation split of a training set (search scores candidates on it, so the test set
// stays unseen), and a Subset view that presents chosen indices of a dataset as a dataset.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "data/dataset.h"

namespace vitnas::data {

struct Split {
  std::vector<int64_t> train, val;  // disjoint, together 0..size-1, each sorted ascending
};

// val_count random indices (a pure function of (size, val_count, seed)) go to val, the rest to
// train. InputError unless 0 <= val_count < size.
Split split_by_count(int64_t size, int64_t val_count, uint64_t seed);

// val_count = round(val_fraction * size); InputError unless 0 <= val_fraction < 1 and at least
// one sample stays in train.
Split split_by_fraction(int64_t size, double val_fraction, uint64_t seed);

class Subset : public Dataset {
 public:
  // InputError if an index is outside [0, base->size()).
  Subset(std::shared_ptr<const Dataset> base, std::vector<int64_t> indices);

  int64_t size() const override { return static_cast<int64_t>(indices_.size()); }
  Sample get(int64_t index) const override;  // base->get(indices[index])
  int64_t num_classes() const override { return base_->num_classes(); }
  int64_t channels() const override { return base_->channels(); }
  std::string name() const override { return base_->name(); }  // keeps normalization_for's key
  const std::vector<int64_t>& indices() const { return indices_; }

 private:
  std::shared_ptr<const Dataset> base_;
  std::vector<int64_t> indices_;
};

}  // namespace vitnas::data
