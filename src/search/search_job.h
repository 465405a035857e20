// The search (DESIGN.md, "Search"): NSGA-II, or random search with the same evaluation budget,
// over a space's networks, scored by a latency model and optionally a supernet's accuracy.
//
// Generation 0 is `population` distinct random networks. Each later generation makes
// `population` new networks (NSGA-II: binary tournaments, crossover, mutation; random: fresh
// draws), never one evaluated before (compared as canonical ArchSpecs), scores them, and keeps
// the best `population` of parents and children (rank, then crowding distance). Every draw of
// generation g comes from std::mt19937_64 seeded with (seed, g), so a seed names the search,
// whatever the threads. Every evaluated network stays in the archive: the front is the archive's
// non-dominated feasible networks.
//
// The job saves its state (the archive as genes + scores, the population, the generation)
// atomically to out/state.json every `save_every_s` and after every generation; with resume it
// continues from there, re-scoring nothing already in the archive, and reaches the same result
// as an uninterrupted run.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "core/search_space.h"
#include "search/genotype.h"
#include "search/objectives.h"

namespace vitnas {

enum class Strategy { nsga2, random };
Strategy strategy_of(const std::string& name);  // "nsga2" | "random"; InputError otherwise
std::string to_string(Strategy s);

struct SearchConfig {
  Strategy strategy = Strategy::nsga2;
  int population = 100;
  int generations = 30;  // after generation 0: (generations + 1) * population evaluations
  uint64_t seed = 0;
  double crossover_prob = 0.9;
  double mutation_prob = 0.1;  // per choice
  std::vector<Objective> objectives;
  Constraints constraints;
};

// InputError naming the flag: population < 2, generations < 0, a probability outside [0, 1],
// fewer than two objectives. run_search() checks it too.
void validate(const SearchConfig& c);

struct Candidate {
  Genotype genotype;
  Scores scores;
  int generation = 0;
  double violation = 0;  // of the constraints; 0: feasible
  size_t index = 0;      // in the archive
  std::string name() const;  // "cand0042"
};

struct SearchState {
  int generation = -1;              // the last generation completed
  std::vector<Candidate> archive;   // every network scored, in order
  std::vector<size_t> population;   // archive indices of the current population
  Scores scale;                     // the space's largest network: the hypervolume's scale
};

// Scores one network (latency, params, MACs; accuracy when the search has a supernet).
using ScoreFn = std::function<Scores(const ArchSpec&)>;
// Fraction of the search done and a status line ("gen 3/30 hv 0.4123").
using SearchProgress = std::function<void(double fraction, const std::string& status)>;

struct SearchJob {
  std::string out;          // directory: state.json, history.jsonl
  bool resume = false;      // continue out/state.json (it must be this search's)
  double save_every_s = 10;
};

SearchState run_search(const SearchSpace& space, const SearchConfig& config, const ScoreFn& score,
                       const SearchJob& job, const SearchProgress& progress = {});

// Archive indices of the non-dominated feasible networks, fastest first.
std::vector<size_t> pareto_front(const SearchState& state, const SearchConfig& config);
// The hypervolume of those networks' points (objectives.h's normalised box).
double front_hypervolume(const SearchState& state, const SearchConfig& config);

nlohmann::json config_to_json(const SearchConfig& c);

}  // namespace vitnas
