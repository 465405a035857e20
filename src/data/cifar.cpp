#include "data/cifar.h"

#include <cstring>
#include <filesystem>
#include <vector>

#include <torch/torch.h>

#include "core/error.h"
#include "core/io.h"
#include "data/memory_dataset.h"

namespace vitnas::data {

std::unique_ptr<Dataset> open_cifar(const std::string& dir, int classes, bool train) {
  namespace fs = std::filesystem;
  TORCH_CHECK(classes == 10 || classes == 100, "open_cifar: classes must be 10 or 100");
  const std::string name = classes == 10 ? "cifar10" : "cifar100";
  require(fs::is_directory(dir), name + ": dataset folder " + dir + " not found");
  const fs::path sub = dir + (classes == 10 ? "/cifar-10-batches-bin" : "/cifar-100-binary");
  const fs::path root = fs::is_directory(sub) ? sub : fs::path(dir);

  std::vector<std::string> files;
  if (classes == 10) {
    if (train)
      for (int i = 1; i <= 5; ++i) files.push_back("data_batch_" + std::to_string(i) + ".bin");
    else
      files.push_back("test_batch.bin");
  } else {
    files.push_back(train ? "train.bin" : "test.bin");
  }

  const int64_t label_bytes = classes == 10 ? 1 : 2;
  constexpr int64_t kPixels = 3 * 32 * 32;
  const int64_t record = label_bytes + kPixels;
  std::vector<torch::Tensor> images, labels;
  for (const auto& f : files) {
    const std::string path = (root / f).string();
    require(fs::is_regular_file(path), path + ": file not found");
    const std::string bytes = read_file(path);
    const auto size = static_cast<int64_t>(bytes.size());
    require(size > 0 && size % record == 0,
            path + ": truncated or not a " + name + " binary batch (" + std::to_string(size) +
                " bytes is not a whole number of " + std::to_string(record) + "-byte records)");
    const int64_t n = size / record;
    auto raw = torch::empty({n, record}, torch::kUInt8);
    std::memcpy(raw.data_ptr<uint8_t>(), bytes.data(), bytes.size());
    auto lab = raw.select(1, label_bytes - 1).to(torch::kInt64);  // the fine label for CIFAR-100
    check_labels(lab, classes, path);
    labels.push_back(lab);
    images.push_back(raw.narrow(1, label_bytes, kPixels).reshape({n, 3, 32, 32}));
  }
  return std::make_unique<MemoryDataset>(torch::cat(images), torch::cat(labels), classes, name);
}

}  // namespace vitnas::data
