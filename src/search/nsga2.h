// NSGA-II's selection (Deb et al. 2002) on plain objective vectors, every objective minimised:
// constrained domination, fast non-dominated sorting, crowding distance, the crowded-comparison
// tournament and environmental selection; and the hypervolume a front dominates. No search
// state here: search_job.h owns the population.
#pragma once

#include <cstddef>
#include <random>
#include <vector>

namespace vitnas {

using Objectives = std::vector<double>;  // minimised

// Deb's constrained domination: of a feasible (violation 0) and an infeasible point the
// feasible one dominates; of two infeasible ones the smaller violation; of two feasible ones
// Pareto dominance (no objective worse, one better).
bool dominates(const Objectives& a, double violation_a, const Objectives& b, double violation_b);

// Fronts of indices into f: front 0 is non-dominated, front 1 is non-dominated once front 0 is
// removed, ... Indices ascend within a front.
std::vector<std::vector<size_t>> non_dominated_sort(const std::vector<Objectives>& f,
                                                    const std::vector<double>& violation);

// Each front member's crowding distance (same order as `front`): the sum over objectives of the
// normalised gap between its neighbours; infinite for each objective's extremes.
std::vector<double> crowding_distance(const std::vector<Objectives>& f,
                                      const std::vector<size_t>& front);

struct Ranking {
  std::vector<int> rank;         // front number of each point
  std::vector<double> crowding;  // within its front
};
Ranking rank_points(const std::vector<Objectives>& f, const std::vector<double>& violation);

// The crowded-comparison operator: lower rank, then larger crowding, then lower index.
bool crowded_better(const Ranking& r, size_t a, size_t b);

// Binary tournament: two uniform draws, the crowded-better wins.
size_t tournament(const Ranking& r, std::mt19937_64& rng);

// The n survivors: whole fronts while they fit, then the most crowding-distant of the next.
// In order of preference.
std::vector<size_t> select_survivors(const std::vector<Objectives>& f,
                                     const std::vector<double>& violation, size_t n);

// The volume dominated by the points inside the box [-inf, reference]: points not below the
// reference in every objective add nothing. Exact (dimension sweep).
double hypervolume(const std::vector<Objectives>& points, const Objectives& reference);

}  // namespace vitnas
