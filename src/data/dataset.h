// The dataset interface every reader implements, and open_dataset(), which turns a spec string
// (the CLI's --data value) into a dataset. Readers return raw uint8 images; resizing, channel
// conversion, augmentation and normalisation happen later, in transforms.h, so a reader never
// needs to know the network's input size.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include <torch/types.h>

namespace vitnas::data {

struct Sample {
  torch::Tensor image;  // uint8 (C, H, W), C = channels(); H, W may vary per sample (ImageFolder)
  int64_t label;        // in [0, num_classes())
};

// Read-only and thread-safe: get() is called concurrently from the loader's worker threads.
class Dataset {
 public:
  virtual ~Dataset() = default;
  virtual int64_t size() const = 0;
  // index in [0, size()); InputError (naming the file) if the sample cannot be read or decoded.
  virtual Sample get(int64_t index) const = 0;
  virtual int64_t num_classes() const = 0;
  virtual int64_t channels() const = 0;  // 1 (grey) or 3 (RGB)
  // "fashion-mnist", "mnist", "cifar10", "cifar100", "folder" or "synthetic": the key
  // normalization_for() (transforms.h) looks up.
  virtual std::string name() const = 0;
};

// The default Fashion-MNIST folder: where Debian's `dataset-fashion-mnist` package installs it.
inline constexpr const char* kDefaultFashionMnistDir = "/usr/share/datasets/fashion-mnist";

// spec is NAME[:ARG]:
//   fashion-mnist[:DIR]  IDX files (gzip or raw), DIR defaults to kDefaultFashionMnistDir
//   mnist:DIR            IDX files, same layout
//   cifar10:DIR          CIFAR-10 binary batches (DIR or DIR/cifar-10-batches-bin)
//   cifar100:DIR         CIFAR-100 binary train.bin/test.bin (DIR or DIR/cifar-100-binary)
//   folder:DIR           DIR/train/<class>/*.{jpg,jpeg,png}; evaluation reads DIR/val or DIR/test
//   synthetic[:N]        seeded, learnable 10-class 3x16x16 images; N training samples
//                        (default 2048), N/4 evaluation samples
// train selects the training or the evaluation part. Throws InputError for an unknown name, a
// missing ARG, or any problem with the files (named in the message).
std::unique_ptr<Dataset> open_dataset(const std::string& spec, bool train);

}  // namespace vitnas::data
