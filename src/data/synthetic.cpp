#include "data/synthetic.h"

#include <algorithm>
#include <cmath>
#include <random>

#include <torch/torch.h>

#include "core/error.h"
#include "data/rng.h"

namespace vitnas::data {

SyntheticDataset::SyntheticDataset(int64_t size, uint64_t seed, int64_t num_classes,
                                   int64_t channels, int64_t side)
    : size_(size), seed_(seed), num_classes_(num_classes), channels_(channels), side_(side) {
  require(size > 0, "synthetic: the sample count must be positive, got " + std::to_string(size));
  require(num_classes >= 2, "synthetic: need at least 2 classes");
  require(channels == 1 || channels == 3, "synthetic: channels must be 1 or 3");
  require(side >= 4 && side % 4 == 0, "synthetic: side must be a positive multiple of 4");
}

Sample SyntheticDataset::get(int64_t index) const {
  TORCH_CHECK(index >= 0 && index < size_, "SyntheticDataset::get: index out of range");
  const int64_t label = index % num_classes_;
  std::mt19937_64 tmpl(mix_seed(0x5EED7E3A11ull, static_cast<uint64_t>(label)));
  std::mt19937_64 noise(mix_seed(seed_, static_cast<uint64_t>(index)));
  double grid[3][4][4];
  for (int64_t c = 0; c < channels_; ++c)
    for (auto& row : grid[c])
      for (double& v : row) v = 255.0 * uniform01(tmpl);
  auto image = torch::empty({channels_, side_, side_}, torch::kUInt8);
  uint8_t* out = image.data_ptr<uint8_t>();
  const int64_t cell = side_ / 4;
  for (int64_t c = 0; c < channels_; ++c)
    for (int64_t y = 0; y < side_; ++y)
      for (int64_t x = 0; x < side_; ++x) {
        // Template at 70% contrast plus +-40 uniform noise keeps classes separable, not trivial.
        const double v = 38.0 + 0.7 * grid[c][y / cell][x / cell] + 80.0 * (uniform01(noise) - 0.5);
        *out++ = static_cast<uint8_t>(std::lround(std::clamp(v, 0.0, 255.0)));
      }
  return {image, label};
}

}  // namespace vitnas::data
