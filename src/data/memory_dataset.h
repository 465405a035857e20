// A dataset held in memory as one uint8 tensor: what the IDX and CIFAR readers produce (both
// formats are small enough to decode once: Fashion-MNIST 47 MB, CIFAR 150 MB).
#pragma once

#include <string>

#include "data/dataset.h"

namespace vitnas::data {

class MemoryDataset : public Dataset {
 public:
  // images: uint8 (N, C, H, W); labels: int64 (N), already checked to lie in [0, num_classes).
  MemoryDataset(torch::Tensor images, torch::Tensor labels, int64_t num_classes, std::string name);

  int64_t size() const override;
  Sample get(int64_t index) const override;  // image is a view into the shared tensor
  int64_t num_classes() const override { return num_classes_; }
  int64_t channels() const override;
  std::string name() const override { return name_; }

 private:
  torch::Tensor images_, labels_;
  const int64_t* label_data_;
  int64_t num_classes_;
  std::string name_;
};

// InputError "<file>: label L at index I is out of range [0, num_classes)" for the first bad one.
void check_labels(const torch::Tensor& labels, int64_t num_classes, const std::string& file);

}  // namespace vitnas::data
