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

  void stem(const Row&, const StemPart& p) override {
    double side = p.side;
    double previous = double(p.in_chans) * side * side;  // the image
    for (int w : *p.widths) {
      side = downsampled_side(int(side));
      const double out = double(w) * side * side;
      add(previous + out);
      previous = out;
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
    add(double(p.dim) * (p.side > 0 ? sq(p.side) : 1.0) + p.classes);
  }
  void patch_embed(const Row&, const PatchEmbedPart& p) override {
    add(double(p.in_chans) * sq(p.grid * p.patch) + double(p.dim) * p.tokens);
  }
  void vit_layer(const Row&, const ViTLayerPart& p) override {
    double qkv = 0;
    for (const ViTHeadSpec& h : p.layer->heads) qkv += 2.0 * h.qk_dim + h.v_dim;
    add(double(p.tokens) * (2.0 * p.dim + std::max(qkv, double(p.layer->mlp_hidden))) +
        sq(p.tokens));  // one head's scores
  }

 private:
  static double sq(double x) { return x * x; }
  void add(double elements) {
    peak = std::max(peak, elements);
    total += elements;
  }
};

}  // namespace

int64_t estimate_bytes(const ArchSpec& spec, int64_t batch, Workload workload) {
  const double weights = 4.0 * double(complexity(spec).params);
  if (workload == Workload::Weights) return int64_t(weights);
  ActivationCount count;
  walk(spec, count);
  const double per_image = workload == Workload::Training ? count.total : count.peak;
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

void require_memory(const ArchSpec& spec, int64_t batch, Workload workload,
                    const std::string& what) {
  const int64_t available = available_memory_bytes();
  if (available < 0) return;
  const int64_t needed = estimate_bytes(spec, batch, workload);
  require(needed <= available,
          what + " needs at least " + format_bytes(double(needed)) + " of memory (" +
              (workload == Workload::Training ? "training" :
               workload == Workload::Inference ? "inference" : "weights") +
              ", estimated from the architecture); this machine has " +
              format_bytes(double(available)) + " available: make it smaller");
}

}  // namespace vitnas
