#include "profile/space_signatures.h"

#include <algorithm>
#include <map>

namespace vitnas {

namespace {

class Collector {
 public:
  explicit Collector(int batch) : batch_(batch) {}

  BlockSignature make(OpKind op, int res, int in) const { return BlockSignature::of(op, batch_, res, in); }
  void add(const BlockSignature& s) { found_.emplace(s.key(), s); }

  // DW + FFN pairs on (res, dim) with each hidden width.
  void dw_ffns(int res, int dim, const std::vector<int>& hiddens) {
    add(make(OpKind::DW, res, dim));
    for (int h : hiddens) {
      auto ffn = make(OpKind::FFN, res, dim);
      ffn.hidden = h;
      add(ffn);
    }
  }

  std::vector<BlockSignature> result() const {
    std::vector<BlockSignature> out;
    for (const auto& kv : found_) out.push_back(kv.second);
    return out;
  }

 private:
  int batch_;
  std::map<std::string, BlockSignature> found_;
};

bool any_positive(const std::vector<int>& counts) {
  return std::any_of(counts.begin(), counts.end(), [](int c) { return c > 0; });
}

// The attention ops of one stage at one width: the frame per heads choice, and every head.
void attention_ops(Collector& c, const StageChoices& st, int side, int dim) {
  const int window = std::min(st.window, side);
  const bool cascade = std::find(st.cascade.begin(), st.cascade.end(), true) != st.cascade.end();
  for (int heads : head_choices(st, dim)) {
    auto frame = c.make(OpKind::AttnFrame, side, dim);
    frame.window = window;
    frame.heads = heads;
    frame.hidden = dim;  // v_dim = dim / heads for every head
    c.add(frame);
    for (int kd : st.key_dim)
      for (int k : st.kernel)
        for (AttentionKind kind : st.kinds)
          for (bool add : {false, true}) {
            if (add && !(cascade && heads > 1)) continue;
            auto h = c.make(OpKind::AttnHead, side, dim / heads);
            h.window = window;
            h.hidden = kd;
            h.out = dim / heads;
            h.kernel = k;
            h.kind = kind;
            h.cascade_add = add;
            c.add(h);
          }
  }
}

}  // namespace

std::vector<BlockSignature> space_signatures(const SearchSpace& space, int batch) {
  Collector c(batch);
  for (int img : space.img_size) {
    const std::vector<int> sides = stage_sides(space, img);
    for (int e0 : space.stages[0].embed_dim) {
      auto stem = c.make(OpKind::Stem, img, space.in_chans);
      for (int d : space.stem_divisors) stem.stem[size_t(stem.stem_len++)] = e0 / d;
      c.add(stem);
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
          for (int hidden : hidden_choices(st.downsample_ratio, pdim)) {
            auto pm = c.make(OpKind::PatchMerging, sides[k - 1], pdim);
            pm.hidden = hidden;
            pm.out = dim;
            c.add(pm);
          }
        }
      }
    }
    for (int dim : space.stages.back().embed_dim) {
      auto head = c.make(OpKind::Head, sides.back(), dim);
      head.out = space.num_classes;
      c.add(head);
    }
  }
  return c.result();
}

std::vector<BlockSignature> arch_signatures(const std::vector<ArchSpec>& archs, int batch) {
  Collector c(batch);
  for (const ArchSpec& a : archs) for_each_op(a, batch, [&](int, const BlockSignature& s) { c.add(s); });
  return c.result();
}

}  // namespace vitnas
