#include "data/transforms.h"

#include <algorithm>
#include <cmath>

#include <torch/torch.h>

#include "core/error.h"
#include "data/rng.h"

namespace vitnas::data {
namespace {

namespace F = torch::nn::functional;

// (C, H, W) float -> (C, h, w); bilinear, half-pixel centres, antialiased when shrinking
// (what torchvision's Resize does on tensors with antialias=True).
torch::Tensor resize(const torch::Tensor& x, int64_t h, int64_t w) {
  if (x.size(1) == h && x.size(2) == w) return x;
  const bool shrink = h < x.size(1) || w < x.size(2);
  return F::interpolate(x.unsqueeze(0), F::InterpolateFuncOptions()
                                            .size(std::vector<int64_t>{h, w})
                                            .mode(torch::kBilinear)
                                            .align_corners(false)
                                            .antialias(shrink))
      .squeeze(0);
}

struct Box {
  int64_t top, left, height, width;
};

// torchvision's RandomResizedCrop.get_params with ratio (3/4, 4/3).
Box random_resized_crop(int64_t H, int64_t W, double min_scale, std::mt19937_64& rng) {
  const double area = static_cast<double>(H * W);
  const double log_lo = std::log(3.0 / 4.0), log_hi = std::log(4.0 / 3.0);
  for (int attempt = 0; attempt < 10; ++attempt) {
    const double target = area * (min_scale + (1.0 - min_scale) * uniform01(rng));
    const double aspect = std::exp(log_lo + (log_hi - log_lo) * uniform01(rng));
    const auto w = static_cast<int64_t>(std::lround(std::sqrt(target * aspect)));
    const auto h = static_cast<int64_t>(std::lround(std::sqrt(target / aspect)));
    if (w > 0 && w <= W && h > 0 && h <= H) {
      const int64_t top = uniform_int(rng, H - h + 1);
      const int64_t left = uniform_int(rng, W - w + 1);
      return {top, left, h, w};
    }
  }
  // Fallback: the largest centred crop within the ratio range.
  const double ratio = static_cast<double>(W) / static_cast<double>(H);
  int64_t w = W, h = H;
  if (ratio < 3.0 / 4.0)
    h = std::min<int64_t>(H, std::lround(static_cast<double>(W) * 4.0 / 3.0));
  else if (ratio > 4.0 / 3.0)
    w = std::min<int64_t>(W, std::lround(static_cast<double>(H) * 4.0 / 3.0));
  return {(H - h) / 2, (W - w) / 2, h, w};
}

torch::Tensor crop(const torch::Tensor& x, const Box& b) {
  return x.narrow(1, b.top, b.height).narrow(2, b.left, b.width);
}

// Shorter side to S (aspect kept), then the centred S x S crop.
torch::Tensor resize_center_crop(const torch::Tensor& x, int64_t S) {
  const int64_t H = x.size(1), W = x.size(2);
  if (H == W) return resize(x, S, S);
  const int64_t h = H < W ? S : std::lround(static_cast<double>(H) * S / W);
  const int64_t w = H < W ? std::lround(static_cast<double>(W) * S / H) : S;
  return crop(resize(x, h, w), {(h - S) / 2, (w - S) / 2, S, S});
}

}  // namespace

void validate(const TransformOptions& o) {
  require(o.img_size >= 1 && o.img_size <= 4096,
          "transform: img_size must be in [1, 4096], got " + std::to_string(o.img_size));
  require(o.in_chans == 1 || o.in_chans == 3,
          "transform: in_chans must be 1 or 3, got " + std::to_string(o.in_chans));
  require(o.augment == "rrc" || o.augment == "pad_crop" || o.augment == "none",
          "transform: augment '" + o.augment + "' is not rrc, pad_crop or none");
  require(o.rrc_min_scale > 0.0 && o.rrc_min_scale <= 1.0,
          "transform: rrc_min_scale must be in (0, 1]");
  require(o.pad >= 0 && o.pad <= o.img_size, "transform: pad must be in [0, img_size]");
  auto sized = [&](const std::vector<float>& v) {
    return v.size() == 1 || static_cast<int64_t>(v.size()) == o.in_chans;
  };
  require(sized(o.mean) && sized(o.std),
          "transform: mean and std need 1 or in_chans (" + std::to_string(o.in_chans) +
              ") values");
  for (float s : o.std) require(s > 0.0f, "transform: std values must be positive");
}

Normalization normalization_for(const std::string& name) {
  if (name == "mnist") return {{0.1307f}, {0.3081f}};
  if (name == "fashion-mnist") return {{0.2860f}, {0.3530f}};
  if (name == "cifar10") return {{0.4914f, 0.4822f, 0.4465f}, {0.2470f, 0.2435f, 0.2616f}};
  if (name == "cifar100") return {{0.5071f, 0.4865f, 0.4409f}, {0.2673f, 0.2564f, 0.2762f}};
  return {{0.485f, 0.456f, 0.406f}, {0.229f, 0.224f, 0.225f}};
}

torch::Tensor transform(const torch::Tensor& image, const TransformOptions& o,
                        std::mt19937_64& rng) {
  TORCH_CHECK(image.dim() == 3 && image.scalar_type() == torch::kUInt8 &&
                  (image.size(0) == 1 || image.size(0) == 3) && image.size(1) > 0 &&
                  image.size(2) > 0,
              "transform: image must be uint8 (1 or 3, H, W), got ", image.sizes());
  const int64_t S = o.img_size;
  torch::Tensor x = image.to(torch::kFloat32);  // (C, H, W), 0..255
  if (x.size(0) == 3 && o.in_chans == 1)  // reduce first: later steps touch 1 plane, not 3
    x = (0.299f * x[0] + 0.587f * x[1] + 0.114f * x[2]).unsqueeze(0);

  if (o.train && o.augment == "rrc") {
    x = resize(crop(x, random_resized_crop(x.size(1), x.size(2), o.rrc_min_scale, rng)), S, S);
  } else if (o.train && o.augment == "pad_crop") {
    x = resize(x, S, S);
    if (o.pad > 0) {
      x = torch::constant_pad_nd(x, {o.pad, o.pad, o.pad, o.pad}, 0.0);
      const int64_t top = uniform_int(rng, 2 * o.pad + 1);
      const int64_t left = uniform_int(rng, 2 * o.pad + 1);
      x = crop(x, {top, left, S, S});
    }
  } else if (o.train) {
    x = resize(x, S, S);
  } else {
    x = resize_center_crop(x, S);
  }
  if (o.train && o.flip && uniform01(rng) < 0.5) x = x.flip({2});
  if (x.size(0) == 1 && o.in_chans == 3) x = x.expand({3, S, S});

  auto stat = [&](const std::vector<float>& v) {
    return torch::tensor(v).view({-1, 1, 1});  // (1 or C, 1, 1), broadcasts over channels
  };
  return ((x * (1.0f / 255.0f) - stat(o.mean)) / stat(o.std)).contiguous();
}

}  // namespace vitnas::data
