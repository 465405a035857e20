#include "data/memory_dataset.h"

#include <utility>

#include <torch/torch.h>

#include "core/error.h"

namespace vitnas::data {

MemoryDataset::MemoryDataset(torch::Tensor images, torch::Tensor labels, int64_t num_classes,
                             std::string name)
    : images_(images.contiguous()),
      labels_(labels.to(torch::kInt64).contiguous()),
      label_data_(labels_.data_ptr<int64_t>()),
      num_classes_(num_classes),
      name_(std::move(name)) {
  TORCH_CHECK(images_.dim() == 4 && images_.scalar_type() == torch::kUInt8,
              "MemoryDataset: images must be uint8 (N, C, H, W)");
  TORCH_CHECK(labels_.dim() == 1 && labels_.size(0) == images_.size(0),
              "MemoryDataset: labels must be (N)");
}

int64_t MemoryDataset::size() const { return images_.size(0); }

int64_t MemoryDataset::channels() const { return images_.size(1); }

Sample MemoryDataset::get(int64_t index) const {
  TORCH_CHECK(index >= 0 && index < size(), "MemoryDataset::get: index out of range");
  return {images_[index], label_data_[index]};
}

void check_labels(const torch::Tensor& labels, int64_t num_classes, const std::string& file) {
  const auto l = labels.to(torch::kInt64).contiguous();
  const int64_t* p = l.data_ptr<int64_t>();
  for (int64_t i = 0; i < l.numel(); ++i)
    require(p[i] >= 0 && p[i] < num_classes,
            file + ": label " + std::to_string(p[i]) + " at index " + std::to_string(i) +
                " is out of range [0, " + std::to_string(num_classes) + ")");
}

}  // namespace vitnas::data
