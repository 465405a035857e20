// The parts a space can produce are made up here (one of each shape), and turned into op
// signatures by the same factories as a network's parts (op_signature.h).
#include "profile/space_signatures.h"

#include <algorithm>
#include <map>

namespace vitnas {

namespace {

class Collector {
 public:
  explicit Collector(int batch) : batch(batch) {}
  const int batch;

  void add(const OpSignature& s) { found_.emplace(s.key(), s); }

  // DW + FFN pairs on (side, dim) with each hidden width.
  void dw_ffns(int side, int dim, const std::vector<int>& hiddens) {
    add(dw_op(batch, {dim, side, 0}));
    for (int h : hiddens) add(ffn_op(batch, {dim, h, side, 0}));
  }

  std::vector<OpSignature> result() const {
    std::vector<OpSignature> out;
    for (const auto& kv : found_) out.push_back(kv.second);
    return out;
  }

 private:
  std::map<std::string, OpSignature> found_;
};

bool any_positive(const std::vector<int>& counts) {
  return std::any_of(counts.begin(), counts.end(), [](int c) { return c > 0; });
}

// The attention ops of one stage at one width: per heads choice, the frame (v_dim = dim / heads
// for every head), and every head the per-head choices make, with and without the cascade add.
void attention_ops(Collector& c, const StageChoices& st, int side, int dim) {
  const bool cascade = std::find(st.cascade.begin(), st.cascade.end(), true) != st.cascade.end();
  for (int heads : head_choices(st, dim)) {
    AttentionSpec spec;
    spec.cascade = cascade;
    spec.heads.assign(size_t(heads), HeadSpec{st.key_dim[0], dim / heads, st.kernel[0], st.kinds[0]});
    const AttentionPart part(dim, side, spec, st.window);
    c.add(attn_frame_op(c.batch, part));
    for (int kd : st.key_dim)
      for (int k : st.kernel)
        for (AttentionKind kind : st.kinds)
          for (bool add : {false, true}) {
            if (add && !(cascade && heads > 1)) continue;
            c.add(attn_head_op(c.batch, part, HeadSpec{kd, dim / heads, k, kind}, add));
          }
  }
}

}  // namespace

std::vector<OpSignature> space_signatures(const SearchSpace& space, int batch) {
  Collector c(batch);
  for (int img : space.img_size) {
    const std::vector<int> sides = stage_sides(space, img);
    for (int e0 : space.stages[0].embed_dim) {
      std::vector<int> widths;
      for (int d : space.stem_divisors) widths.push_back(e0 / d);
      c.add(stem_op(batch, {space.in_chans, &widths, img}));
    }
    for (size_t k = 0; k < space.stages.size(); ++k) {
      const StageChoices& st = space.stages[k];
      const int side = sides[k];
      for (int dim : st.embed_dim) {
        if (any_positive(st.ffn_before) || any_positive(st.ffn_after) ||
            (k > 0 && any_positive(st.downsample_ffn_after)))
          c.dw_ffns(side, dim, hidden_choices(st.ffn_ratio, dim));
        if (std::find(st.attention.begin(), st.attention.end(), true) != st.attention.end())
          attention_ops(c, st, side, dim);
        if (k == 0) continue;
        const StageChoices& prev = space.stages[k - 1];
        for (int pdim : prev.embed_dim) {
          if (any_positive(st.downsample_ffn_before))
            c.dw_ffns(sides[k - 1], pdim, hidden_choices(prev.ffn_ratio, pdim));
          for (int hidden : hidden_choices(st.downsample_ratio, pdim))
            c.add(patch_merging_op(batch, {pdim, hidden, dim, sides[k - 1], side}));
        }
      }
    }
    for (int dim : space.stages.back().embed_dim)
      c.add(head_op(batch, {dim, space.num_classes, sides.back(), false}));
  }
  return c.result();
}

std::vector<OpSignature> arch_signatures(const std::vector<ArchSpec>& archs, int batch) {
  Collector c(batch);
  for (const ArchSpec& a : archs) for_each_op(a, batch, [&](int, const OpSignature& s) { c.add(s); });
  return c.result();
}

}  // namespace vitnas
