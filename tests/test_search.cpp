// The search's parts: genotypes (every child is in the space; mutation and crossover keep what
// they should), NSGA-II's sorting, crowding and hypervolume against hand-computed cases, and the
// search job (deterministic per seed, a killed search resumes to the uninterrupted result, no
// network scored twice, budgets, bad state files).
#include <catch2/catch.hpp>

#include <cmath>
#include <filesystem>
#include <limits>
#include <random>
#include <set>

#include <nlohmann/json.hpp>

#include "core/complexity.h"
#include "core/error.h"
#include "core/io.h"
#include "core/search_space.h"
#include "search/front_report.h"
#include "search/genotype.h"
#include "search/nsga2.h"
#include "search/search_job.h"
#include "cli_runner.h"

using namespace vitnas;
using namespace vitnas::test;
using Catch::Matchers::Contains;

namespace {

std::string space_path(const std::string& name) {
  return std::string(VITNAS_SOURCE_DIR) + "/experiments/spaces/" + name + ".json";
}

std::string key(ArchSpec a) {
  a.name.clear();
  return arch_to_json(a).dump();
}

// A stand-in for the supernet and the latency table: latency grows with MACs and attention,
// "accuracy" with params, saturating; cheap and deterministic.
Scores toy_score(const ArchSpec& a) {
  const Complexity c = complexity(a);
  Scores s;
  s.params = double(c.params);
  s.macs = double(c.macs);
  s.latency = 1e-6 * double(c.macs) + 0.3 * attention_share(a);
  s.accuracy = 100.0 * (1.0 - std::exp(-double(c.params) / 2e5));
  return s;
}

SearchConfig toy_config(Strategy strategy, int population, int generations, uint64_t seed) {
  SearchConfig c;
  c.strategy = strategy;
  c.population = population;
  c.generations = generations;
  c.seed = seed;
  c.objectives = parse_objectives("accuracy,latency");
  return c;
}

}  // namespace

TEST_CASE("genotypes: random, mutated and crossed networks are always in the space", "[search]") {
  for (const char* name : {"small", "fmnist", "efficientvit_m"}) {
    const SearchSpace space = load_space(space_path(name));
    std::mt19937_64 rng(7);
    Genotype a = random_genotype(space, rng), b = random_genotype(space, rng);
    for (int i = 0; i < 300; ++i) {
      const Genotype m = mutate(space, a, 0.3, rng);
      const Genotype x = crossover(space, a, b, rng);
      INFO(name << " " << i);
      CHECK(outside(space, m.arch) == std::nullopt);
      CHECK(outside(space, x.arch) == std::nullopt);
      // The genes name the network: decoding them rebuilds it.
      CHECK(key(decode(space, x.genes, "x").arch) == key(x.arch));
      a = m;
      b = x;
    }
  }
}

TEST_CASE("genotypes: mutation with p = 0 copies the parent, p = 1 redraws every choice", "[search]") {
  const SearchSpace space = load_space(space_path("efficientvit_m"));
  std::mt19937_64 rng(3);
  const Genotype parent = random_genotype(space, rng);
  CHECK(key(mutate(space, parent, 0.0, rng).arch) == key(parent.arch));
  // p = 1: the child is a fresh uniform draw; over many children each choice of the first
  // stage's width shows up (the space offers 3), which copying never would.
  std::set<double> widths;
  for (int i = 0; i < 60; ++i) widths.insert(mutate(space, parent, 1.0, rng).genes.at("stages[0].embed_dim"));
  CHECK(widths.size() == space.stages[0].embed_dim.size());
}

TEST_CASE("genotypes: crossover takes every block whole from one parent", "[search]") {
  // One width and one depth per stage, so every block position exists in both parents and
  // offers the same choices: each child block must equal the parents' block there.
  nlohmann::json j = read_json_file(space_path("small"));
  for (auto& st : j["stages"]) {
    st["embed_dim"] = st["embed_dim"].is_array() ? st["embed_dim"].back() : st["embed_dim"];
    st["depth"] = st["depth"].is_array() ? st["depth"].back() : st["depth"];
  }
  const SearchSpace space = space_from_json(j);
  std::mt19937_64 rng(11);
  int from_a = 0, from_b = 0;
  for (int trial = 0; trial < 40; ++trial) {
    const Genotype a = random_genotype(space, rng), b = random_genotype(space, rng);
    const Genotype x = crossover(space, a, b, rng);
    const auto& sa = a.arch.efficientvit.stages;
    const auto& sb = b.arch.efficientvit.stages;
    const auto& sx = x.arch.efficientvit.stages;
    for (size_t s = 0; s < sx.size(); ++s)
      for (size_t k = 0; k < sx[s].blocks.size(); ++k) {
        const bool is_a = sx[s].blocks[k] == sa[s].blocks[k];
        const bool is_b = sx[s].blocks[k] == sb[s].blocks[k];
        CHECK((is_a || is_b));
        from_a += is_a && !is_b;
        from_b += is_b && !is_a;
      }
  }
  CHECK(from_a > 10);  // both parents contribute (a fair coin per block)
  CHECK(from_b > 10);
}

TEST_CASE("genotypes: saved genes that are not a network of the space are refused", "[search]") {
  const SearchSpace space = load_space(space_path("small"));
  std::mt19937_64 rng(5);
  Genes genes = random_genotype(space, rng).genes;
  Genes bad = genes;
  bad["stages[0].embed_dim"] = 12345;
  CHECK_THROWS_WITH(decode(space, bad, "state.json"), Contains("stages[0].embed_dim") && Contains("state.json"));
  Genes missing = genes;
  missing.erase("img_size");
  CHECK_THROWS_WITH(decode(space, missing, "state.json"), Contains("img_size"));
  Genes extra = genes;
  extra["stages[0].blocks[9].attention"] = 1;
  CHECK_THROWS_AS(decode(space, extra, "state.json"), InputError);
}

TEST_CASE("nsga2: non-dominated sorting and constrained domination, by hand", "[search]") {
  const std::vector<Objectives> f = {{1, 5}, {2, 3}, {3, 1}, {2, 4}, {4, 4}, {5, 5}};
  const std::vector<double> feasible(6, 0.0);
  const auto fronts = non_dominated_sort(f, feasible);
  REQUIRE(fronts.size() == 4);
  CHECK(fronts[0] == std::vector<size_t>{0, 1, 2});
  CHECK(fronts[1] == std::vector<size_t>{3});
  CHECK(fronts[2] == std::vector<size_t>{4});
  CHECK(fronts[3] == std::vector<size_t>{5});
  // Point 0 violates a constraint: every feasible point now dominates it, whatever its objectives.
  const auto constrained = non_dominated_sort(f, {0.5, 0, 0, 0, 0, 0});
  CHECK(constrained.back() == std::vector<size_t>{0});
  CHECK(dominates({9, 9}, 0.0, {1, 1}, 0.1));
  CHECK(dominates({9, 9}, 0.1, {1, 1}, 0.2));
  CHECK_FALSE(dominates({1, 2}, 0.0, {2, 1}, 0.0));
}

TEST_CASE("nsga2: crowding distance and survivor selection, by hand", "[search]") {
  const std::vector<Objectives> f = {{1, 5}, {2, 3}, {3, 1}, {2.5, 2.5}};
  const auto d = crowding_distance(f, {0, 1, 2});
  CHECK(std::isinf(d[0]));
  CHECK(std::isinf(d[2]));
  // (3 - 1) / (3 - 1) + (5 - 1) / (5 - 1)
  CHECK(d[1] == Approx(2.0));
  // All four are non-dominated; the two extremes and then the widest gap survive: point 1's
  // neighbours (1,5) and (2.5,2.5) span 1.5/2 + 2.5/4 = 1.375, point 3's (2,3) and (3,1) span
  // 1/2 + 2/4 = 1.0.
  const auto keep = select_survivors(f, std::vector<double>(4, 0.0), 3);
  CHECK(std::set<size_t>(keep.begin(), keep.end()) == std::set<size_t>{0, 1, 2});
}

TEST_CASE("nsga2: hypervolume, by hand in 2 and 3 dimensions", "[search]") {
  // Staircase of (1,3), (2,2), (3,1) under (4,4): 1*1 + 2*1 + 3*1.
  CHECK(hypervolume({{1, 3}, {2, 2}, {3, 1}}, {4, 4}) == Approx(6.0));
  // A dominated point and one outside the box change nothing.
  CHECK(hypervolume({{1, 3}, {2, 2}, {3, 1}, {3, 3}, {5, 0}}, {4, 4}) == Approx(6.0));
  // Two boxes in 3-D: inclusion-exclusion, 0.16 + 0.28 - 0.1.
  CHECK(hypervolume({{0.2, 0.5, 0.6}, {0.5, 0.2, 0.3}}, {1, 1, 1}) == Approx(0.34));
  CHECK(hypervolume({}, {1, 1}) == 0.0);
}

TEST_CASE("search: attention share counts every FFN (m4: 6 mixers, 16 FFNs)", "[search]") {
  // m4: depths 1, 2, 3, each block DW+FFN, CGA, DW+FFN; two downsamples with one FFN each side.
  CHECK(attention_share(preset("m4")) == Approx(6.0 / 22.0));
}

TEST_CASE("search: deterministic per seed, nothing scored twice, every network in the space",
          "[search]") {
  const SearchSpace space = load_space(space_path("efficientvit_m"));
  auto run = [&](const std::string& dir, uint64_t seed) {
    const SearchState s = run_search(space, toy_config(Strategy::nsga2, 12, 4, seed), toy_score,
                                     {scratch_path(dir), false, 0});
    return s;
  };
  const SearchState a = run("det_a", 1), b = run("det_b", 1), c = run("det_c", 2);
  CHECK(read_text(scratch_path("det_a/history.jsonl")) == read_text(scratch_path("det_b/history.jsonl")));
  CHECK(read_text(scratch_path("det_a/history.jsonl")) != read_text(scratch_path("det_c/history.jsonl")));
  REQUIRE(a.archive.size() == 12 * 5);
  std::set<std::string> keys;
  for (const auto& cand : a.archive) {
    keys.insert(key(cand.genotype.arch));
    CHECK(contains(space, cand.genotype.arch));
    const Scores s = toy_score(cand.genotype.arch);  // cached scores are the network's
    CHECK(cand.scores.latency == s.latency);
  }
  CHECK(keys.size() == a.archive.size());
  CHECK(a.population.size() == 12);
  CHECK(b.generation == 4);
}

TEST_CASE("search: NSGA-II's front beats random search's at the same number of evaluations",
          "[search]") {
  const SearchSpace space = load_space(space_path("efficientvit_m"));
  const auto nsga = run_search(space, toy_config(Strategy::nsga2, 20, 10, 0), toy_score,
                               {scratch_path("hv_nsga"), false, 0});
  const auto rnd = run_search(space, toy_config(Strategy::random, 20, 10, 0), toy_score,
                              {scratch_path("hv_random"), false, 0});
  REQUIRE(nsga.archive.size() == rnd.archive.size());
  CHECK(front_hypervolume(nsga, toy_config(Strategy::nsga2, 20, 10, 0)) >
        front_hypervolume(rnd, toy_config(Strategy::random, 20, 10, 0)));
}

TEST_CASE("search: a search killed mid-generation resumes to the uninterrupted result", "[search]") {
  const SearchSpace space = load_space(space_path("small"));
  const SearchConfig config = toy_config(Strategy::nsga2, 10, 3, 4);
  run_search(space, config, toy_score, {scratch_path("whole"), false, 0});

  // Dies on its 25th score (generation 2), having saved after every score.
  int calls = 0;
  const ScoreFn dying = [&](const ArchSpec& a) {
    if (++calls == 25) throw std::runtime_error("killed");
    return toy_score(a);
  };
  CHECK_THROWS(run_search(space, config, dying, {scratch_path("cut"), false, 0}));
  int rescored = 0;
  const ScoreFn counting = [&](const ArchSpec& a) {
    ++rescored;
    return toy_score(a);
  };
  run_search(space, config, counting, {scratch_path("cut"), true, 0});
  CHECK(rescored == 10 * 4 - 23);  // the 23 networks scored before the kill are not rescored
  CHECK(read_text(scratch_path("cut/history.jsonl")) == read_text(scratch_path("whole/history.jsonl")));

  // More generations continue a finished search.
  SearchConfig longer = config;
  longer.generations = 5;
  run_search(space, longer, toy_score, {scratch_path("cut"), true, 0});
  run_search(space, longer, toy_score, {scratch_path("whole5"), false, 0});
  CHECK(read_text(scratch_path("cut/history.jsonl")) == read_text(scratch_path("whole5/history.jsonl")));
}

TEST_CASE("search: bad state files and a second search into the same directory are refused",
          "[search]") {
  const SearchSpace space = load_space(space_path("small"));
  const SearchConfig config = toy_config(Strategy::nsga2, 6, 1, 0);
  const std::string dir = scratch_path("bad_state");
  run_search(space, config, toy_score, {dir, false, 0});
  CHECK_THROWS_WITH(run_search(space, config, toy_score, {dir, false, 0}), Contains("--resume"));
  SearchConfig other = config;
  other.seed = 9;
  CHECK_THROWS_WITH(run_search(space, other, toy_score, {dir, true, 0}), Contains("different search"));
  const std::string state = read_text(dir + "/state.json");
  write_text(dir + "/state.json", state.substr(0, state.size() / 2));  // truncated
  CHECK_THROWS_AS(run_search(space, config, toy_score, {dir, true, 0}), InputError);
  CHECK(read_text(dir + "/state.json") == state.substr(0, state.size() / 2));  // left as it was
}

TEST_CASE("search: the best network under each budget, by hand", "[search]") {
  SearchState s;
  const double acc[] = {70, 80, 75, 90};
  const double lat[] = {1.0, 2.0, 1.5, 3.0};
  for (size_t i = 0; i < 4; ++i) {
    Candidate c;
    c.index = i;
    c.scores.accuracy = acc[i];
    c.scores.latency = lat[i];
    s.archive.push_back(c);
  }
  s.archive[1].violation = 0.2;  // infeasible: never picked
  const auto picks = budget_picks(s, toy_config(Strategy::nsga2, 4, 0, 0), {0.5, 1.0, 2.5, 10});
  CHECK_FALSE(picks[0].has_value());
  CHECK(picks[1] == std::optional<size_t>(0));
  CHECK(picks[2] == std::optional<size_t>(2));
  CHECK(picks[3] == std::optional<size_t>(3));
}
