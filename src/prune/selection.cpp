#include "prune/selection.h"

#include <algorithm>
#include <limits>
#include <numeric>
#include <optional>

#include "core/error.h"

namespace vitnas::prune {

Plan full_plan(const std::vector<Dimension>& dims) {
  Plan p;
  for (const Dimension& d : dims) p.widths.push_back(d.size);
  return p;
}

ArchSpec apply(const ArchSpec& base, const std::vector<Dimension>& dims, const Plan& plan) {
  ArchSpec s = base;
  for (size_t i = 0; i < dims.size(); ++i)
    if (!is_unit(dims[i].type)) set_width(s, dims[i], plan.widths[i]);
  // Units last: a removed unit's channel widths are then moot.
  for (size_t i = 0; i < dims.size(); ++i)
    if (is_unit(dims[i].type) && plan.widths[i] == 0) set_width(s, dims[i], 0);
  compact(s);
  return s;
}

std::vector<int64_t> kept_channels(const std::vector<double>& scores, int k) {
  std::vector<int64_t> order(scores.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return scores[a] > scores[b]; });
  order.resize(size_t(std::clamp<int>(k, 0, int(order.size()))));
  std::sort(order.begin(), order.end());
  return order;
}

void validate(const SelectOptions& o) {
  require(o.round_to >= 1 && o.round_qk >= 1 && o.round_embed >= 1,
          "--round-to, --round-qk, --round-embed: must be >= 1");
}

std::vector<int> width_grid(int size, int step) {
  std::vector<int> w;
  for (int k = std::max(1, step); k < size; k += std::max(1, step)) w.push_back(k);
  w.push_back(size);
  return w;
}

bool is_active(const std::vector<Dimension>& dims, const Plan& plan, size_t i) {
  for (int p = dims[i].parent; p >= 0; p = dims[size_t(p)].parent)
    if (plan.widths[size_t(p)] == 0) return false;
  return true;
}

std::vector<int> allowed_widths(const Dimension& d, const SelectOptions& o) {
  if (is_unit(d.type)) return o.units ? std::vector<int>{0, 1} : std::vector<int>{1};
  if (d.type == GroupType::SEHidden) return {d.size};  // follows the merge width
  if (d.type == GroupType::Embed || d.type == GroupType::ViTEmbed)
    return o.embed ? width_grid(d.size, std::max(1, o.round_embed / d.per_channel)) : std::vector<int>{d.size};
  const bool narrow = d.type == GroupType::QK || d.type == GroupType::ViTQK || d.type == GroupType::StemHidden;
  return width_grid(d.size, narrow ? o.round_qk : o.round_to);
}

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// The greedy knapsack's state: the plan, its network and cost, and each dimension's value at
// every width (prefix sums of its scores, highest first).
class Knapsack {
 public:
  Knapsack(const ArchSpec& base, const std::vector<Dimension>& dims, const Scores& scores,
           const CostFn& cost, const SelectOptions& o)
      : base_(base), dims_(dims), cost_(cost), plan_(full_plan(dims)) {
    for (size_t i = 0; i < dims.size(); ++i) {
      std::vector<double> s = scores.at(i);
      std::sort(s.begin(), s.end(), std::greater<double>());
      std::vector<double> prefix(1, 0.0);
      for (double x : s) prefix.push_back(prefix.back() + x);
      prefix_.push_back(std::move(prefix));
      widths_.push_back(allowed_widths(dims[i], o));
    }
    arch_ = apply(base_, dims_, plan_);
    cost_now_ = cost_(arch_);
  }

  double cost() const { return cost_now_; }
  const Plan& plan() const { return plan_; }
  const ArchSpec& arch() const { return arch_; }
  double value(size_t i, int width) const { return prefix_[i][size_t(width)]; }
  double kept_value() const {
    double v = 0;
    for (size_t i = 0; i < dims_.size(); ++i)
      if (active(i)) v += value(i, plan_.widths[i]);
    return v;
  }

  bool active(size_t i) const { return is_active(dims_, plan_, i); }

  struct Move {
    size_t dim = 0;
    int width = -1;
    double delta_cost = 0, delta_value = 0;
    ArchSpec arch;
  };

  // The network with dimension i at `width`, if it is one.
  std::optional<Move> try_width(size_t i, int width) const {
    Plan p = plan_;
    p.widths[i] = width;
    try {
      Move m;
      m.dim = i;
      m.width = width;
      m.arch = apply(base_, dims_, p);
      m.delta_cost = cost_(m.arch) - cost_now_;
      m.delta_value = value(i, width) - value(i, plan_.widths[i]);
      return m;
    } catch (const InputError&) {
      return std::nullopt;  // not a network (e.g. a vit layer without heads)
    }
  }

  // The cheapest cut of dimension i: least value lost per cost saved, over every lower width.
  std::optional<Move> best_cut(size_t i) const {
    std::optional<Move> best;
    double best_ratio = kInf;
    if (!active(i)) return best;
    for (int w : widths_[i]) {
      if (w >= plan_.widths[i]) break;
      auto m = try_width(i, w);
      if (!m || m->delta_cost >= 0) continue;
      const double ratio = -m->delta_value / -m->delta_cost;
      if (ratio < best_ratio) best_ratio = ratio, best = std::move(m);
    }
    return best;
  }

  // The next width up of dimension i, if it keeps the cost within `target`.
  std::optional<Move> give_back(size_t i, double target) const {
    if (!active(i)) return std::nullopt;
    const auto& w = widths_[i];
    const auto next = std::upper_bound(w.begin(), w.end(), plan_.widths[i]);
    if (next == w.end()) return std::nullopt;
    auto m = try_width(i, *next);
    if (!m || cost_now_ + m->delta_cost > target) return std::nullopt;
    return m;
  }

  // A cached move's arch and delta were made from the plan of its time: its delta still holds
  // (the cost is a sum over rows and only its row's moves were re-priced since), its arch does
  // not (it lacks every cut taken in other rows since), so the network is rebuilt from the plan.
  void take(const Move& m) {
    plan_.widths[m.dim] = m.width;
    arch_ = apply(base_, dims_, plan_);
    cost_now_ += m.delta_cost;
  }

 private:
  const ArchSpec& base_;
  const std::vector<Dimension>& dims_;
  const CostFn& cost_;
  Plan plan_;
  ArchSpec arch_;
  double cost_now_ = 0;
  std::vector<std::vector<double>> prefix_;
  std::vector<std::vector<int>> widths_;
};

}  // namespace

Selection select(const ArchSpec& base, const std::vector<Dimension>& dims, const Scores& scores,
                 const CostFn& cost, double target, const SelectOptions& options) {
  require(scores.size() == dims.size(), "importance scores do not match the network's groups");
  Knapsack k(base, dims, scores, cost, options);
  const double total = k.kept_value();

  // Cut: every dimension's best cut is cached; a cut changes the cost of its own row only (the
  // cost is a sum over rows), so only the cuts of that row, and of the widths every row shares,
  // are re-priced (all of them after a cut of a shared width).
  std::vector<std::optional<Knapsack::Move>> cuts(dims.size());
  for (size_t i = 0; i < dims.size(); ++i) cuts[i] = k.best_cut(i);
  while (k.cost() > target) {
    size_t best = dims.size();
    double best_ratio = kInf;
    for (size_t i = 0; i < dims.size(); ++i) {
      if (!cuts[i]) continue;
      const double ratio = -cuts[i]->delta_value / -cuts[i]->delta_cost;
      if (ratio < best_ratio) best_ratio = ratio, best = i;
    }
    if (best == dims.size())
      throw InputError("target " + std::to_string(target) + " is below the smallest network this pruning reaches (" +
                       std::to_string(k.cost()) + ": every width at its minimum" +
                       (options.units ? ", units removed where the network allows" : "") + ")");
    const std::string row = dims[best].row;
    const bool everywhere = dims[best].shared;
    k.take(*cuts[best]);
    for (size_t i = 0; i < dims.size(); ++i)
      if (everywhere || dims[i].shared || dims[i].row == row) cuts[i] = k.best_cut(i);
  }

  // Give back: while some cut can be undone one width step within the target, undo the one that
  // regains the most value per cost.
  for (;;) {
    std::optional<Knapsack::Move> best;
    double best_ratio = -kInf;
    for (size_t i = 0; i < dims.size(); ++i) {
      auto m = k.give_back(i, target);
      if (!m) continue;
      const double ratio = m->delta_cost <= 0 ? kInf : m->delta_value / m->delta_cost;
      if (ratio > best_ratio) best_ratio = ratio, best = std::move(m);
    }
    if (!best) break;
    k.take(*best);
  }

  Selection s;
  s.plan = k.plan();
  s.arch = k.arch();
  s.cost = k.cost();
  s.kept_value = k.kept_value();
  s.total_value = total;
  return s;
}

}  // namespace vitnas::prune
