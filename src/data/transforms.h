// Per-sample preprocessing: uint8 (C, H, W) image -> normalised float (in_chans, S, S).
//   train:  random resized crop ("rrc", as torchvision's RandomResizedCrop) or resize then
//           zero-pad-and-random-crop ("pad_crop", the CIFAR recipe) or plain resize ("none"),
//           then a horizontal flip with p = 0.5 (if flip).
//   eval:   resize the shorter side to S, centre crop S x S (square images: a plain resize).
// Channels: grey -> 3 by repetition when in_chans == 3; RGB -> 1 by ITU-R 601 luminance when
// in_chans == 1. Resizing is bilinear, antialiased when shrinking.
// Every random draw comes from rng, in a fixed order, so the output is a pure function of
// (image, options, rng state).
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include <torch/types.h>

namespace vitnas::data {

struct TransformOptions {
  int64_t img_size = 224;        // S: the architecture's input side
  int64_t in_chans = 3;          // the architecture's input channels: 1 or 3
  bool train = false;            // augment (below) and flip apply only when true
  std::string augment = "rrc";   // "rrc" | "pad_crop" | "none"
  bool flip = true;
  double rrc_min_scale = 0.08;   // rrc: crop area in [rrc_min_scale, 1] of the image
  int64_t pad = 4;               // pad_crop: zero padding per side, in output pixels
  std::vector<float> mean = {0.485f, 0.456f, 0.406f};  // 1 value (all channels) or in_chans
  std::vector<float> std = {0.229f, 0.224f, 0.225f};
};

// InputError naming the bad field (e.g. "transform: augment 'x' is not rrc, pad_crop or none").
void validate(const TransformOptions& options);

struct Normalization {
  std::vector<float> mean, std;
};
// The usual per-dataset statistics (mnist, fashion-mnist, cifar10, cifar100; ImageNet's for
// anything else), for TransformOptions::mean / std.
Normalization normalization_for(const std::string& dataset_name);

// image: uint8 (1 or 3, H, W) -> float (in_chans, img_size, img_size). Options must be valid.
torch::Tensor transform(const torch::Tensor& image, const TransformOptions& options,
                        std::mt19937_64& rng);

}  // namespace vitnas::data
