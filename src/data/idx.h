// IDX files (http://yann.lecun.com/exdb/mnist/), the format of MNIST and Fashion-MNIST: a magic
// 0x00 0x00 <type> <ndims>, ndims big-endian uint32 sizes, then the data. Files may be gzip'd
// (read through zlib, which reads plain files too). Only type 0x08 (uint8) is used by either set.
#pragma once

#include <memory>
#include <string>

#include <torch/types.h>

#include "data/dataset.h"

namespace vitnas::data {

// The file's data as a uint8 tensor of its dimensions. InputError naming the file if it is
// missing, not gzip/IDX (bad magic), of a type other than uint8, truncated, or longer than the
// header says.
torch::Tensor read_idx(const std::string& path);

// images: (N, H, W) IDX; labels: (N) IDX with values in [0, num_classes). The counts must agree.
std::unique_ptr<Dataset> load_idx_dataset(const std::string& images_path,
                                          const std::string& labels_path,
                                          int64_t num_classes, const std::string& name);

// The standard file names in dir: {train,t10k}-{images-idx3,labels-idx1}-ubyte, each with or
// without ".gz". name is "mnist" or "fashion-mnist" (10 classes either way).
std::unique_ptr<Dataset> open_mnist_dir(const std::string& dir, bool train,
                                        const std::string& name);

}  // namespace vitnas::data
