#include "core/memory.h"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <string>

#include "core/arch_walk.h"
#include "core/complexity.h"
#include "core/error.h"

namespace vitnas {
namespace {

// Elements per image of each part's activations: the largest part (inference peak) and the sum
// (what autograd keeps for backward). Doubles: a hostile spec must not overflow the count.
class ActivationCount : public ArchVisitor {
 public:
  double peak = 0, total = 0;

  // The stem's 3x3 convs after the first run through im2col: a (C_in * 9, side^2) column buffer
  // per image, 9x the input, lives beside input and output (the widest part of m1..m5). The
  // first conv (3 input channels) has a direct kernel in the fused network.
  void stem(const Row&, const StemPart& p) override {
    double side = p.side;
    double in_chans = p.in_chans;
    double previous = in_chans * side * side;  // the image
    for (size_t i = 0; i < p.widths->size(); ++i) {
      side = downsampled_side(int(side));
      const double out = double((*p.widths)[i]) * side * side;
      const double columns = i == 0 ? 0.0 : in_chans * 9.0 * side * side;
      add(previous + columns + out);
      previous = out;
      in_chans = (*p.widths)[i];
    }
  }
  void dw(const Row&, const DWPart& p) override { add(2.0 * p.dim * sq(p.side)); }
  void ffn(const Row&, const FFNPart& p) override {
    add((2.0 * p.dim + p.hidden) * sq(p.side));
  }
  void attention(const Row&, const AttentionPart& p) override {
    const double map = sq(p.geometry.padded);
    double widest_head = 0;
    for (const HeadSpec& h : p.spec->heads)
      widest_head = std::max(widest_head, double(2 * h.key_dim + h.v_dim));
    const double scores = double(p.geometry.count()) * sq(p.geometry.tokens());  // one head
    add(2.0 * p.dim * map + widest_head * map + scores);
  }
  void patch_merging(const Row&, const PatchMergingPart& p) override {
    add(double(p.in) * sq(p.side) + double(p.hidden) * sq(p.side) +
        double(p.out) * sq(p.out_side));
  }
  void head(const Row&, const HeadPart& p) override {
    // efficientvit pools a side x side map; a vit reads its `side` tokens (a line, not a square)
    const double positions = vit_ ? double(p.side) : p.side > 0 ? sq(p.side) : 1.0;
    add(double(p.dim) * positions + p.classes);
  }
  void patch_embed(const Row&, const PatchEmbedPart& p) override {
    vit_ = true;
    add(double(p.in_chans) * sq(p.grid * p.patch) + double(p.dim) * p.tokens);
  }
  // A vit layer computes all heads' scores at once, (H, N, N), and their softmax beside them.
  // Training keeps, per token: both LayerNorms' inputs and outputs and the projection's input
  // (5 x dim), q, k, v and their per-head copies (2 x qkv), the MLP's hidden before and after
  // the activation (2 x hidden).
  void vit_layer(const Row&, const ViTLayerPart& p) override {
    double qkv = 0;
    for (const ViTHeadSpec& h : p.layer->heads) qkv += 2.0 * h.qk_dim + h.v_dim;
    const double hidden = p.layer->mlp_hidden;
    const double scores = 2.0 * double(p.layer->heads.size()) * sq(p.tokens);
    add(double(p.tokens) * (2.0 * p.dim + std::max(qkv, hidden)) + scores,
        double(p.tokens) * (5.0 * p.dim + 2.0 * qkv + 2.0 * hidden) + scores);
  }

 private:
  static double sq(double x) { return x * x; }
  bool vit_ = false;
  // live: what one part holds at once (inference); saved: what autograd keeps of it for
  // backward (training), the same unless a part says otherwise.
  void add(double live, double saved = -1) {
    peak = std::max(peak, live);
    total += saved < 0 ? live : saved;
  }
};

// What a run really holds per image over the count above: LibTorch keeps more than each part's
// inputs and outputs (BN and activation outputs, the attention's intermediate products, copies
// of permuted heads, allocator slack). Measured by benchmarks/memory_bound.sh as the peak RSS
// growth from batch 1 (training: 2) to 32 and 128; the largest ratio of each family and workload
// on m0, m5, vit_7_4_32 and deit_tiny, so that the estimate bounds what those runs use. On the
// networks held out (m2, m4, vit_9_12_64) a run uses 0.54-1.03x the estimate
// (experiments/results/memory_bound.csv).
double activation_factor(Family family, Workload workload) {
  const bool training = workload == Workload::Training;
  // (EfficientViT inference: the LibTorch path's ratio; the oneDNN path holds less, 0.53-0.93x)
  if (family == Family::EfficientViT) return training ? 1.75 : 1.2;
  return training ? 1.15 : 3.1;
}

}  // namespace

int64_t estimate_bytes(const ArchSpec& spec, int64_t batch, Workload workload) {
  const double weights = 4.0 * double(complexity(spec).params);
  if (workload == Workload::Weights) return int64_t(weights);
  ActivationCount count;
  walk(spec, count);
  const double per_image = activation_factor(spec.family, workload) *
                           (workload == Workload::Training ? count.total : count.peak);
  const double bytes = (workload == Workload::Training ? 4.0 : 1.0) * weights +
                       4.0 * per_image * double(batch);
  return bytes > 9e18 ? int64_t(9e18) : int64_t(bytes);
}

int64_t available_memory_bytes() {
  std::ifstream in("/proc/meminfo");
  std::string key;
  int64_t kb = 0;
  std::string unit;
  while (in >> key >> kb >> unit)
    if (key == "MemAvailable:") return kb * 1024;
  return -1;
}

std::string format_bytes(double bytes) {
  char text[32];
  if (bytes >= 1e12)
    std::snprintf(text, sizeof text, "%.1f TB", bytes / 1e12);
  else if (bytes >= 1e9)
    std::snprintf(text, sizeof text, "%.1f GB", bytes / 1e9);
  else
    std::snprintf(text, sizeof text, "%.0f MB", bytes / 1e6);
  return text;
}

void require_memory_bytes(int64_t bytes, const std::string& what, const std::string& why,
                          const std::string& fix) {
  const int64_t available = available_memory_bytes();
  if (available < 0) return;
  require(bytes <= available, what + " needs about " + format_bytes(double(bytes)) +
                                  " of memory (" + why + "); this machine has " +
                                  format_bytes(double(available)) + " available: " + fix);
}

void require_memory(const ArchSpec& spec, int64_t batch, Workload workload,
                    const std::string& what) {
  require_memory_bytes(estimate_bytes(spec, batch, workload), what,
                       std::string(workload == Workload::Training    ? "training"
                                   : workload == Workload::Inference ? "inference"
                                                                     : "weights") +
                           ", estimated from the architecture",
                       "make it smaller");
}

}  // namespace vitnas
