#include "prune/shrink.h"

#include <cmath>
#include <map>

#include <torch/torch.h>

#include "models/weights.h"

namespace vitnas::prune {

int kept_width(const std::vector<Dimension>& dims, const Plan& plan, size_t i) {
  if (dims[i].type != GroupType::SEHidden) return plan.widths[i];
  for (size_t m = 0; m < dims.size(); ++m)
    if (dims[m].type == GroupType::MergeHidden && dims[m].row == dims[i].row) return se_width(plan.widths[m]);
  return plan.widths[i];
}

namespace {

// The positions of `slices` that channels `channels` of a dimension of `size` own.
void add_positions(std::vector<AxisCut>& out, const std::vector<Slice>& slices, int size,
                   const std::vector<int64_t>& channels) {
  if (channels.empty()) return;
  for (const Slice& s : slices) {
    const int64_t span = s.length / size;
    AxisCut c{s.key, s.axis, {}};
    for (int64_t j : channels)
      for (int64_t k = 0; k < span; ++k) c.indices.push_back(s.offset + j * span + k);
    out.push_back(std::move(c));
  }
}

struct Cut {
  std::vector<AxisCut> cuts;
  std::vector<std::string> modules;  // removed whole
};

// What the plan drops: `slices_of` picks a dimension's coupled weights (to cut) or its mask (to
// zero).
template <typename SlicesOf>
Cut plan_cut(const std::vector<Dimension>& dims, const Plan& plan, const Scores& scores, SlicesOf slices_of) {
  Cut cut;
  for (size_t i = 0; i < dims.size(); ++i) {
    if (!is_active(dims, plan, i)) continue;
    const Dimension& d = dims[i];
    const std::vector<int64_t> kept = kept_channels(scores[i], kept_width(dims, plan, i));
    std::vector<int64_t> dropped;
    for (int64_t j = 0, k = 0; j < d.size; ++j) {
      if (k < int64_t(kept.size()) && kept[size_t(k)] == j) ++k;
      else dropped.push_back(j);
    }
    add_positions(cut.cuts, slices_of(d), d.size, dropped);
    if (!dropped.empty()) cut.modules.insert(cut.modules.end(), d.modules.begin(), d.modules.end());
  }
  return cut;
}

// The weights, copied, with each cut q.k dimension's q_scale slices times sqrt(kept / size).
safetensors::TensorList rescaled_q(ClassifierImpl& model, const std::vector<Dimension>& dims, const Plan& plan) {
  torch::NoGradGuard no_grad;
  safetensors::TensorList tensors = state_dict(model);
  std::map<std::string, torch::Tensor*> by_key;
  for (auto& [k, t] : tensors) {
    t = t.clone();
    by_key[k] = &t;
  }
  for (size_t i = 0; i < dims.size(); ++i) {
    const Dimension& d = dims[i];
    if (d.q_scale.empty() || plan.widths[i] == d.size || !is_active(dims, plan, i)) continue;
    const double f = std::sqrt(double(plan.widths[i]) / double(d.size));
    for (const Slice& s : d.q_scale) by_key.at(s.key)->narrow(s.axis, s.offset, s.length).mul_(f);
  }
  return tensors;
}

}  // namespace

Classifier shrink(ClassifierImpl& model, const std::vector<Dimension>& dims, const Plan& plan,
                  const Scores& scores) {
  const Cut c = plan_cut(dims, plan, scores, [](const Dimension& d) -> const std::vector<Slice>& { return d.coupled; });
  Classifier pruned = build_model(apply(model.spec(), dims, plan));
  load_cut(*pruned, cut(rescaled_q(model, dims, plan), c.cuts, c.modules));
  pruned->train(model.is_training());
  return pruned;
}

safetensors::TensorList masked(ClassifierImpl& model, const std::vector<Dimension>& dims,
                               const Plan& plan, const Scores& scores) {
  const Cut c = plan_cut(dims, plan, scores, [](const Dimension& d) -> const std::vector<Slice>& { return d.mask; });
  return zeroed(state_dict(model), c.cuts);
}

}  // namespace vitnas::prune
