// A seeded synthetic dataset for tests and smoke runs: each class has a fixed random template
// (a coarse 4x4 colour grid upsampled to the image side); a sample is its class template plus
// per-pixel noise. Learnable in a few steps, needs no files, and every sample is a pure function
// of (seed, index), so get() is thread-safe and reproducible.
#pragma once

#include <cstdint>

#include "data/dataset.h"

namespace vitnas::data {

class SyntheticDataset : public Dataset {
 public:
  // Templates depend only on the class (training and evaluation sets share them); noise depends
  // on (seed, index). side must be a multiple of 4.
  SyntheticDataset(int64_t size, uint64_t seed, int64_t num_classes = 10, int64_t channels = 3,
                   int64_t side = 16);

  int64_t size() const override { return size_; }
  Sample get(int64_t index) const override;  // label = index % num_classes
  int64_t num_classes() const override { return num_classes_; }
  int64_t channels() const override { return channels_; }
  std::string name() const override { return "synthetic"; }

 private:
  int64_t size_;
  uint64_t seed_;
  int64_t num_classes_, channels_, side_;
};

}  // namespace vitnas::data
