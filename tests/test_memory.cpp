// The memory estimate the commands check before allocating (core/memory.h), against the
// documented count worked out by hand: per image, the largest part's activations (inference) or
// the sum of what autograd keeps (training), times the measured factor of the family, plus the
// weights (training: 4 copies). benchmarks/memory_bound.sh compares it with real runs.
#include <catch2/catch.hpp>

#include "core/arch_spec.h"
#include "core/memory.h"

using namespace vitnas;

TEST_CASE("memory: the estimate of m0 and deit_tiny, counted by hand", "[memory]") {
  SECTION("m0 inference: the stem's second conv is the widest part") {
    // stem 3 -> 8 -> 16 -> 32 -> 64. Conv 2 (8 -> 16, 112 -> 56): input 8 * 112^2 = 100,352,
    // im2col columns 8 * 9 * 56^2 = 225,792, output 16 * 56^2 = 50,176: 376,320 floats.
    const double weights = 4.0 * 2349436;
    CHECK(estimate_bytes(preset("m0"), 8, Workload::Weights) == int64_t(weights));
    CHECK(double(estimate_bytes(preset("m0"), 8, Workload::Inference)) ==
          Approx(weights + 1.2 * 4 * 376320 * 8).epsilon(1e-9));
  }
  SECTION("deit_tiny: 12 layers of 197 tokens, width 192, 3 heads of 64, MLP 768") {
    const double weights = 4.0 * 5717416;
    const double scores = 2.0 * 3 * 197 * 197;  // all heads' scores and their softmax
    // inference: a layer holds 197 x (2 x 192 + max(qkv 576, mlp 768)) plus the scores
    const double layer_live = 197.0 * (2 * 192 + 768) + scores;
    CHECK(double(estimate_bytes(preset("deit_tiny"), 8, Workload::Inference)) ==
          Approx(weights + 3.1 * 4 * layer_live * 8).epsilon(0).margin(1));  // whole bytes
    // training: patch embedding (the image and 197 tokens), 12 layers keeping
    // 197 x (5 x 192 + 2 x 576 + 2 x 768) plus the scores, the head (192 x 197 + 1000 logits)
    const double patch_embed = 3.0 * 224 * 224 + 192 * 197;
    const double layer_saved = 197.0 * (5 * 192 + 2 * 576 + 2 * 768) + scores;
    const double head = 192.0 * 197 + 1000;
    CHECK(double(estimate_bytes(preset("deit_tiny"), 8, Workload::Training)) ==
          Approx(4 * weights + 1.15 * 4 * (patch_embed + 12 * layer_saved + head) * 8)
              .epsilon(0).margin(1));  // whole bytes
  }
}
