#include "prune/width_signatures.h"

#include <map>
#include <set>

namespace vitnas::prune {

namespace {

class Grid final : public ArchVisitor {
 public:
  Grid(const ArchSpec& spec, const SelectOptions& o, int batch) : o_(o), batch_(batch) {
    // Each stage's stream widths: its embedding dimension's allowed widths, in stream channels.
    for (const Dimension& d : dimensions(spec)) {
      if (d.type != GroupType::Embed) continue;
      std::vector<int> ws;
      for (int w : allowed_widths(d, o)) ws.push_back(w * d.per_channel);
      streams_.push_back(std::move(ws));
    }
  }
  std::map<std::string, OpSignature> out;

  void begin_stage(const Stage& s) override { stage_ = s.stage - 1; }

  // Every combination of the stem's inner widths and the first stage's stream width.
  void stem(const Row&, const StemPart& p) override {
    std::vector<std::vector<int>> combos{{}};
    for (size_t i = 0; i < p.widths->size(); ++i) {
      const std::vector<int> ws = i + 1 < p.widths->size() ? width_grid((*p.widths)[i], o_.round_qk) : streams_[0];
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
  void dw(const Row& row, const DWPart& p) override {
    for (int c : streams_[size_t(stream_stage(row))]) {
      DWPart q = p;
      q.dim = c;
      add(dw_op(batch_, q));
    }
  }
  void head(const Row&, const HeadPart& p) override {
    for (int c : streams_.back()) {
      HeadPart q = p;
      q.dim = c;
      add(head_op(batch_, q));
    }
  }
  void ffn(const Row& row, const FFNPart& p) override {
    for (int c : streams_[size_t(stream_stage(row))])
      for (int h : width_grid(p.hidden, o_.round_to)) {
        FFNPart q = p;
        q.dim = c;
        q.hidden = h;
        add(ffn_op(batch_, q));
      }
  }
  void patch_merging(const Row&, const PatchMergingPart& p) override {
    for (int in : streams_[size_t(stage_ - 1)])
      for (int h : width_grid(p.hidden, o_.round_to))
        for (int out : streams_[size_t(stage_)]) {
          PatchMergingPart q = p;
          q.in = in;
          q.hidden = h;
          q.out = out;
          add(patch_merging_op(batch_, q));
        }
  }
  void attention(const Row&, const AttentionPart& a) override {
    for (int c : streams_[size_t(stage_)]) {
      AttentionSpec spec = *a.spec;
      tie_cascaded_v(spec, c);
      attention_at(AttentionPart(c, a.side, spec, a.geometry.window));
    }
  }

 private:
  void attention_at(const AttentionPart& a) {
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
  void add(const OpSignature& s) { out.emplace(s.key(), s); }

  const SelectOptions& o_;
  int batch_;
  std::vector<std::vector<int>> streams_;  // per stage
  int stage_ = 0;
};

}  // namespace

std::vector<OpSignature> width_signatures(const ArchSpec& spec, const SelectOptions& options, int batch) {
  require_op_family(spec);
  Grid g(spec, options, batch);
  walk(spec, g);
  std::vector<OpSignature> out;
  for (auto& [key, s] : g.out) out.push_back(s);
  return out;
}

}  // namespace vitnas::prune
