#include "search/nsga2.h"

#include <algorithm>
#include <limits>
#include <numeric>

namespace vitnas {

bool dominates(const Objectives& a, double violation_a, const Objectives& b, double violation_b) {
  if (violation_a > 0 || violation_b > 0) return violation_a < violation_b;
  bool better = false;
  for (size_t k = 0; k < a.size(); ++k) {
    if (a[k] > b[k]) return false;
    better = better || a[k] < b[k];
  }
  return better;
}

std::vector<std::vector<size_t>> non_dominated_sort(const std::vector<Objectives>& f,
                                                    const std::vector<double>& violation) {
  const size_t n = f.size();
  std::vector<std::vector<size_t>> dominated(n);  // whom i dominates
  std::vector<int> count(n, 0);                   // how many dominate i
  for (size_t i = 0; i < n; ++i)
    for (size_t j = i + 1; j < n; ++j) {
      if (dominates(f[i], violation[i], f[j], violation[j])) {
        dominated[i].push_back(j);
        ++count[j];
      } else if (dominates(f[j], violation[j], f[i], violation[i])) {
        dominated[j].push_back(i);
        ++count[i];
      }
    }
  std::vector<std::vector<size_t>> fronts;
  std::vector<size_t> current;
  for (size_t i = 0; i < n; ++i)
    if (count[i] == 0) current.push_back(i);
  while (!current.empty()) {
    std::vector<size_t> next;
    for (size_t i : current)
      for (size_t j : dominated[i])
        if (--count[j] == 0) next.push_back(j);
    std::sort(next.begin(), next.end());
    fronts.push_back(std::move(current));
    current = std::move(next);
  }
  return fronts;
}

std::vector<double> crowding_distance(const std::vector<Objectives>& f,
                                      const std::vector<size_t>& front) {
  const double inf = std::numeric_limits<double>::infinity();
  std::vector<double> d(front.size(), 0.0);
  if (front.empty()) return d;
  std::vector<size_t> order(front.size());
  for (size_t k = 0; k < f[front[0]].size(); ++k) {
    std::iota(order.begin(), order.end(), size_t(0));
    std::stable_sort(order.begin(), order.end(),
                     [&](size_t a, size_t b) { return f[front[a]][k] < f[front[b]][k]; });
    const double lo = f[front[order.front()]][k], hi = f[front[order.back()]][k];
    d[order.front()] = d[order.back()] = inf;
    if (hi == lo) continue;
    for (size_t i = 1; i + 1 < order.size(); ++i)
      d[order[i]] += (f[front[order[i + 1]]][k] - f[front[order[i - 1]]][k]) / (hi - lo);
  }
  return d;
}

Ranking rank_points(const std::vector<Objectives>& f, const std::vector<double>& violation) {
  Ranking r;
  r.rank.assign(f.size(), 0);
  r.crowding.assign(f.size(), 0.0);
  const auto fronts = non_dominated_sort(f, violation);
  for (size_t k = 0; k < fronts.size(); ++k) {
    const std::vector<double> d = crowding_distance(f, fronts[k]);
    for (size_t i = 0; i < fronts[k].size(); ++i) {
      r.rank[fronts[k][i]] = static_cast<int>(k);
      r.crowding[fronts[k][i]] = d[i];
    }
  }
  return r;
}

bool crowded_better(const Ranking& r, size_t a, size_t b) {
  if (r.rank[a] != r.rank[b]) return r.rank[a] < r.rank[b];
  if (r.crowding[a] != r.crowding[b]) return r.crowding[a] > r.crowding[b];
  return a < b;
}

size_t tournament(const Ranking& r, std::mt19937_64& rng) {
  const size_t a = static_cast<size_t>(rng() % r.rank.size());
  const size_t b = static_cast<size_t>(rng() % r.rank.size());
  return crowded_better(r, a, b) ? a : b;
}

std::vector<size_t> select_survivors(const std::vector<Objectives>& f,
                                     const std::vector<double>& violation, size_t n) {
  std::vector<size_t> order(f.size());
  std::iota(order.begin(), order.end(), size_t(0));
  const Ranking r = rank_points(f, violation);
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return crowded_better(r, a, b); });
  order.resize(std::min(n, order.size()));
  return order;
}

namespace {

// Dimension sweep: slices along the last objective, each the (d-1)-volume of the points below.
double volume(std::vector<Objectives> p, const Objectives& ref, size_t d) {
  if (p.empty()) return 0.0;
  if (d == 1) {
    double best = ref[0];
    for (const auto& x : p) best = std::min(best, x[0]);
    return ref[0] - best;
  }
  std::sort(p.begin(), p.end(), [&](const Objectives& a, const Objectives& b) {
    return a[d - 1] < b[d - 1];
  });
  double total = 0.0;
  std::vector<Objectives> below;
  for (size_t i = 0; i < p.size(); ++i) {
    below.push_back(p[i]);
    const double top = i + 1 < p.size() ? p[i + 1][d - 1] : ref[d - 1];
    if (top > p[i][d - 1]) total += (top - p[i][d - 1]) * volume(below, ref, d - 1);
  }
  return total;
}

}  // namespace

double hypervolume(const std::vector<Objectives>& points, const Objectives& reference) {
  std::vector<Objectives> inside;
  for (const auto& x : points) {
    bool below = true;
    for (size_t k = 0; k < reference.size(); ++k) below = below && x[k] < reference[k];
    if (below) inside.push_back(x);
  }
  // Only the non-dominated points bound the volume; dropping the rest keeps the sweep small.
  const std::vector<double> feasible(inside.size(), 0.0);
  const auto fronts = non_dominated_sort(inside, feasible);
  std::vector<Objectives> front;
  if (!fronts.empty())
    for (size_t i : fronts[0]) front.push_back(inside[i]);
  return volume(front, reference, reference.size());
}

}  // namespace vitnas
