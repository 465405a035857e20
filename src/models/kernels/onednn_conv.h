// A convolution of the fused network run by oneDNN directly, on channels-last maps, with its
// epilogue fused in: y = relu?(conv(x) + bias [+ residual]).
//
// LibTorch reaches the same oneDNN kernels through at::conv2d, but pays for it on every call:
// dispatch, a fresh reorder of the weights into the kernel's layout, and a separate pass over
// the output for each ReLU or residual add. Here the primitive is created once per input shape,
// the weights are reordered once, and ReLU and the residual add are oneDNN post-ops (vitnas_microbench
// MapConv, 2-core AVX2 EPYC, 1 thread: a 3x3 depthwise conv on a (16, 4, 4, 192) map 18.0 vs 56.5 us, a
// 192 -> 384 1x1 conv at batch 1 26.6 vs 50.9 us). oneDNN picks the kernel for the CPU it runs on
// (AVX-512, AVX2, SSE4.1); DNNL_MAX_CPU_ISA caps it, which the tests use to run each path.
//
// Built only with oneDNN (libdnnl-dev) and used only for float32 CPU tensors; otherwise, and
// for CUDA, at::conv2d does the same computation (`available()` says which one runs).
#pragma once

#include <array>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <torch/types.h>

namespace vitnas::kernels {

class OneDnnConv {
 public:
  // weight (out, in / groups, k, k), bias (out): a folded conv.
  OneDnnConv(const torch::Tensor& weight, const torch::Tensor& bias, int64_t stride,
             int64_t padding, int64_t groups);
  ~OneDnnConv();

  // Whether x runs through oneDNN (this build has it, x is float32 on the CPU).
  static bool available(const torch::Tensor& x);

  // x (B, H, W, in) float32 CPU -> relu?(conv(x) + bias + residual) (B, H', W', out), contiguous;
  // residual (B, H', W', out) or undefined. Requires available(x).
  torch::Tensor operator()(const torch::Tensor& x, const torch::Tensor& residual = {},
                           bool relu = false) const;

  // Which oneDNN kernel runs x (e.g. "jit_1x1:avx2"), for tests.
  std::string implementation(const torch::Tensor& x, bool with_residual = false,
                             bool relu = false) const;

 private:
  struct Compiled;  // a primitive and its reordered weights, per input shape and epilogue
  using Key = std::array<int64_t, 5>;  // B, H, W, with residual, relu
  const Compiled& compiled(const torch::Tensor& x, bool with_residual, bool relu) const;

  torch::Tensor weight_, bias_;
  int64_t stride_, padding_, groups_;
  mutable std::mutex mutex_;
  mutable std::map<Key, std::unique_ptr<Compiled>> compiled_;
};

// Convs one after another with ReLU between them, from NCHW images to a channels-last map: the
// stem. Each conv's output stays in the blocked layout oneDNN picks for it (nChw8c on AVX2) and
// only the last is reordered to channels-last: oneDNN's 3x3 convs run slower on nhwc maps, and
// a conv from one layout to the other gets its reference kernel (`ref:any`), so the chain keeps
// one layout until the end. Where a picked layout has no fast kernel for the next conv (on
// AVX-512, 8 channels in a 16-channel block), those two convs meet in channels-last instead.
class OneDnnConvChain {
 public:
  struct Conv {
    torch::Tensor weight, bias;  // (out, in, k, k), (out): folded, groups 1
    int64_t stride = 1, padding = 0;
  };
  explicit OneDnnConvChain(std::vector<Conv> convs);
  ~OneDnnConvChain();

  // images (B, C, H, W) float32 CPU (OneDnnConv::available) -> (B, H', W', C') contiguous.
  torch::Tensor operator()(const torch::Tensor& images) const;
  // Which oneDNN kernel runs each conv on these images (e.g. "brgconv:avx512_core"), for tests.
  std::vector<std::string> implementations(const torch::Tensor& images) const;

 private:
  struct Compiled;  // primitives, reordered weights and the final reorder, per input shape
  const Compiled& compiled(const torch::Tensor& images) const;

  std::vector<Conv> convs_;
  mutable std::mutex mutex_;
  mutable std::map<std::array<int64_t, 3>, std::unique_ptr<Compiled>> compiled_;
};

}  // namespace vitnas::kernels
