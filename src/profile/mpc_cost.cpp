// The MPC network cost: a visitor of the architecture walk that prices each part (mpc_cost.h).
#include "profile/mpc_cost.h"

#include <algorithm>

#include "core/arch_walk.h"
#include "core/error.h"

namespace vitnas {

namespace {

// Accumulates one row part by part (parts run in sequence).
struct RowSum {
  MpcCost cost;
  std::vector<MpcCost> head_shares;
  KindSeconds attention_seconds = {0, 0, 0};
  double attention_step_seconds = 0;  // the analytic seconds of the attention steps
  void then(const MpcCost& c) { cost = cost + c; }
};

// The heads of one mixer as one step. Together (ViT, EfficientViT with cascade: false): the
// matmuls of all heads run in one call, the heads of one kind share their map's call, and the
// maps of different kinds run one after another (CrypTen's convention,
// ../shared/reference/mpc/README.md); each head is attributed an equal share of the step's
// rounds. In sequence (a cascade): rounds add, each head owns its rounds. Each head is
// attributed its own bytes.
class HeadsStep {
 public:
  HeadsStep(RowSum& row, const LinkProfile& link, bool sequential, int heads)
      : row_(row), link_(link), sequential_(sequential),
        share_(sequential ? 1.0 : 1.0 / static_cast<double>(heads)) {}

  void head(AttentionKind kind, const HeadCost& h) {
    const MpcCost c = h.total();
    const int k = static_cast<int>(kind);
    if (sequential_) {
      step_.rounds += c.rounds;
    } else {
      matmul_rounds_ = std::max(matmul_rounds_, h.matmuls.rounds);
      map_rounds_[k] = std::max(map_rounds_[k], h.map.rounds);
    }
    step_.bytes += c.bytes;
    const MpcCost attributed{c.rounds * share_, c.bytes};
    row_.head_shares.push_back(attributed);
    row_.attention_seconds[k] += attributed.seconds(link_);
  }

  void finish() {
    if (!sequential_) step_.rounds = matmul_rounds_ + map_rounds_[0] + map_rounds_[1] + map_rounds_[2];
    row_.attention_step_seconds += step_.seconds(link_);
    row_.then(step_);
  }

 private:
  RowSum& row_;
  const LinkProfile& link_;
  bool sequential_;
  double share_;
  MpcCost step_;
  double matmul_rounds_ = 0;
  double map_rounds_[3] = {0, 0, 0};  // per kind, the longest map's rounds
};

class NetworkCost : public ArchVisitor {
 public:
  NetworkCost(const ArchSpec& spec, const CostTable& t, const LinkProfile& link, bool keep_rows)
      : family_(spec.family), t_(t), link_(link), keep_rows_(keep_rows) {}
  MpcBreakdown out;

  void begin_row(const Row&) override { row_ = {}; }

  void end_row(const Row& row) override {
    MpcRow r;
    r.cost = row_.cost;
    r.seconds = row_.cost.seconds(link_);
    for (int k = 0; k < 3; ++k) r.attention_seconds[k] = row_.attention_seconds[k];
    r.rest_seconds = r.seconds - row_.attention_step_seconds;
    out.head_shares.insert(out.head_shares.end(), row_.head_shares.begin(), row_.head_shares.end());
    out.total = out.total + r.cost;
    out.seconds += r.seconds;
    for (int k = 0; k < 3; ++k) out.attention_seconds[k] += r.attention_seconds[k];
    out.rest_seconds += r.rest_seconds;
    if (!keep_rows_) return;
    r.name = row.name();
    r.type = to_string(row.type);
    out.rows.push_back(std::move(r));
  }

  // ---- efficientvit ----

  void stem(const Row&, const StemPart& p) override {
    int side = p.side;
    for (size_t i = 0; i < p.widths->size(); ++i) {
      side = downsampled_side(side);
      if (i + 1 < p.widths->size())  // no ReLU after the last conv
        row_.then(relu(double(side) * side * (*p.widths)[i]));
    }
  }

  // dw: a depthwise conv on public weights is free.

  void ffn(const Row&, const FFNPart& p) override { row_.then(relu(double(p.side) * p.side * p.hidden)); }

  void attention(const Row&, const AttentionPart& a) override {
    const WindowGeometry& g = a.geometry;
    HeadsStep step(row_, link_, /*sequential=*/a.spec->cascade, a.heads);
    for (const HeadSpec& h : a.spec->heads)
      step.head(h.kind, head_cost(t_, h.kind, g.tokens(), h.key_dim, h.v_dim, g.count()));
    step.finish();
    row_.then(relu(static_cast<double>(int64_t(g.padded) * g.padded * a.v_total)));  // before proj
  }

  void patch_merging(const Row&, const PatchMergingPart& p) override {
    const double r = p.side, r2 = p.out_side;
    row_.then(relu(r * r * p.hidden));    // after the 1x1 expand
    row_.then(relu(r2 * r2 * p.hidden));  // after the stride-2 depthwise
    row_.then(relu(p.se()));              // SE hidden
    row_.then(sigmoid_cost(t_, p.hidden));               // SE gate
    row_.then(bcast_multiply_cost(t_, p.hidden, r2 * r2));  // map x gate
  }

  // efficientvit: pool, BN, linear are all local; vit: the final LayerNorm on every token,
  // then the CLS/mean pick.
  void head(const Row&, const HeadPart& p) override {
    if (family_ == Family::ViT) row_.then(layer_norm_cost(t_, p.side, p.dim));
  }

  // ---- vit ----

  // patch_embed: the patch conv and the position embedding add are local.

  void vit_layer(const Row&, const ViTLayerPart& l) override {
    const double n = l.tokens, dim = l.dim;
    row_.then(layer_norm_cost(t_, n, dim));  // LN0
    HeadsStep step(row_, link_, /*sequential=*/false, static_cast<int>(l.layer->heads.size()));
    for (const ViTHeadSpec& h : l.layer->heads)
      step.head(h.kind, head_cost(t_, h.kind, l.tokens, h.qk_dim, h.v_dim, 1));
    step.finish();
    row_.then(layer_norm_cost(t_, n, dim));  // LN1 (either style)
    const MpcCost act = activation_cost(t_, l.layer->act, n * l.layer->mlp_hidden);
    out.activation_costs.push_back(act);
    row_.then(act);
  }

 private:
  MpcCost relu(double n) const { return relu_cost(t_, n); }

  Family family_;
  const CostTable& t_;
  const LinkProfile& link_;
  bool keep_rows_;
  RowSum row_;
};

MpcBreakdown network_cost(const ArchSpec& spec, const CostTable& t, const LinkProfile& link,
                          bool keep_rows) {
  validate(spec);  // the shapes assume a buildable network
  require(link.bandwidth_bits_per_s > 0, "link " + link.name + ": bandwidth must be positive");
  NetworkCost cost(spec, t, link, keep_rows);
  walk(spec, cost);
  return std::move(cost.out);
}

}  // namespace

MpcBreakdown mpc_cost(const ArchSpec& spec, const CostTable& t, const LinkProfile& link) {
  return network_cost(spec, t, link, /*keep_rows=*/true);
}

MpcBreakdown mpc_total(const ArchSpec& spec, const CostTable& t, const LinkProfile& link) {
  return network_cost(spec, t, link, /*keep_rows=*/false);
}

}  // namespace vitnas
