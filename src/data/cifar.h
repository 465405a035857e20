// CIFAR-10 / CIFAR-100 binary versions (https://www.cs.toronto.edu/~kriz/cifar.html): records of
// <label byte(s)> + 3072 bytes (R plane, G plane, B plane, 32x32 each, row-major).
//   CIFAR-10:  data_batch_1..5.bin (train), test_batch.bin; 1 label byte.
//   CIFAR-100: train.bin, test.bin; a coarse then a fine label byte (the fine one, 100 classes,
//              is used).
#pragma once

#include <memory>
#include <string>

#include "data/dataset.h"

namespace vitnas::data {

// classes is 10 or 100. dir may be the extracted archive's parent (the batches are then looked up
// in cifar-10-batches-bin / cifar-100-binary). InputError naming the file if one is missing, its
// size is not a whole number of records (truncated), or a label is out of range.
std::unique_ptr<Dataset> open_cifar(const std::string& dir, int classes, bool train);

}  // namespace vitnas::data
