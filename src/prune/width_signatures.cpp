#include "prune/width_signatures.h"

#include <map>
#include <set>

namespace vitnas::prune {

namespace {

class Grid final : public ArchVisitor {
 public:
  Grid(const SelectOptions& o, int batch) : o_(o), batch_(batch) {}
  std::map<std::string, OpSignature> out;

  // Every combination of the stem's inner widths (the last is the embedding, not pruned).
  void stem(const Row&, const StemPart& p) override {
    std::vector<std::vector<int>> combos{{}};
    for (size_t i = 0; i < p.widths->size(); ++i) {
      const std::vector<int> ws = i + 1 < p.widths->size() ? width_grid((*p.widths)[i], o_.round_qk)
                                                           : std::vector<int>{(*p.widths)[i]};
      std::vector<std::vector<int>> next;
      for (const auto& c : combos)
        for (int w : ws) {
          next.push_back(c);
          next.back().push_back(w);
        }
      combos = std::move(next);
    }
    for (const auto& widths : combos) {
      StemPart q = p;
      q.widths = &widths;
      add(stem_op(batch_, q));
    }
  }
  void dw(const Row&, const DWPart& p) override { add(dw_op(batch_, p)); }
  void head(const Row&, const HeadPart& p) override { add(head_op(batch_, p)); }
  void ffn(const Row&, const FFNPart& p) override {
    for (int h : width_grid(p.hidden, o_.round_to)) {
      FFNPart q = p;
      q.hidden = h;
      add(ffn_op(batch_, q));
    }
  }
  void patch_merging(const Row&, const PatchMergingPart& p) override {
    for (int h : width_grid(p.hidden, o_.round_to)) {
      PatchMergingPart q = p;
      q.hidden = h;
      add(patch_merging_op(batch_, q));
    }
  }
  void attention(const Row&, const AttentionPart& a) override {
    const auto& heads = a.spec->heads;
    std::set<int> v_totals{0};  // every sum of the heads' v widths
    for (size_t i = 0; i < heads.size(); ++i) {
      const std::vector<int> vs = a.spec->cascade ? std::vector<int>{heads[i].v_dim}
                                                  : width_grid(heads[i].v_dim, o_.round_to);
      std::set<int> next;
      for (int t : v_totals)
        for (int v : vs) next.insert(t + v);
      v_totals = std::move(next);
      for (int kd : width_grid(heads[i].key_dim, o_.round_qk))
        for (int v : vs) {
          HeadSpec h = heads[i];
          h.key_dim = kd;
          h.v_dim = v;
          add(attn_head_op(batch_, a, h, a.spec->cascade && i > 0));
        }
    }
    for (int t : v_totals) {
      AttentionPart b = a;
      b.v_total = t;
      add(attn_frame_op(batch_, b));
    }
  }

 private:
  void add(const OpSignature& s) { out.emplace(s.key(), s); }
  const SelectOptions& o_;
  int batch_;
};

}  // namespace

std::vector<OpSignature> width_signatures(const ArchSpec& spec, const SelectOptions& options, int batch) {
  require_op_family(spec);
  Grid g(options, batch);
  walk(spec, g);
  std::vector<OpSignature> out;
  for (auto& [key, s] : g.out) out.push_back(s);
  return out;
}

}  // namespace vitnas::prune
