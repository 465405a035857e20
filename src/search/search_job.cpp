#include "search/search_job.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <numeric>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/io.h"

namespace vitnas {

using nlohmann::json;

namespace {

constexpr const char* kFormat = "vitnas-search-state";

// The archive's canonical key of a network: its ArchSpec without the name.
std::string key_of(ArchSpec a) {
  a.name.clear();
  return arch_to_json(a).dump();
}

std::mt19937_64 generation_rng(uint64_t seed, int generation) {
  std::seed_seq seq{static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32),
                    static_cast<uint32_t>(generation)};
  return std::mt19937_64(seq);
}

json scores_to_json(const Scores& s) {
  return {{"accuracy", s.accuracy}, {"latency", s.latency}, {"params", s.params}, {"macs", s.macs}};
}

Scores scores_from_json(const json& j) {
  Scores s;
  s.accuracy = j.at("accuracy").get<double>();
  s.latency = j.at("latency").get<double>();
  s.params = j.at("params").get<double>();
  s.macs = j.at("macs").get<double>();
  return s;
}

// The search's identity: a state file resumes only the same search (more generations allowed).
json identity(const SearchSpace& space, const SearchConfig& c) {
  json j = config_to_json(c);
  j.erase("generations");
  j["space"] = space_to_json(space);
  return j;
}

class Job {
 public:
  Job(const SearchSpace& space, const SearchConfig& config, const ScoreFn& score,
      const SearchJob& job, const SearchProgress& progress)
      : space_(space), c_(config), score_(score), job_(job), progress_(progress) {}

  SearchState run() {
    validate(c_);
    std::filesystem::create_directories(job_.out);
    const std::string state_file = job_.out + "/state.json";
    if (job_.resume && std::filesystem::exists(state_file)) {
      load(state_file);
    } else {
      require(!std::filesystem::exists(state_file),
              state_file + " exists: give --resume to continue that search, or another --out");
      s_.scale = score_(largest(space_));
    }
    last_save_ = now();
    for (int g = s_.generation + 1; g <= c_.generations; ++g) {
      std::vector<size_t> children = make_generation(g);
      std::vector<size_t> pool = s_.population;
      pool.insert(pool.end(), children.begin(), children.end());
      s_.population = survivors(pool);
      s_.generation = g;
      save();
    }
    report(1.0);
    return s_;
  }

 private:
  // Generation g's new networks, scored (from the archive when a resumed run already did).
  std::vector<size_t> make_generation(int g) {
    std::mt19937_64 rng = generation_rng(c_.seed, g);
    const bool evolve = g > 0 && c_.strategy == Strategy::nsga2;
    Ranking ranking;
    if (evolve) {
      std::vector<Objectives> f;
      std::vector<double> v;
      for (size_t i : s_.population) {
        f.push_back(point(s_.archive[i].scores, c_.objectives, s_.scale));
        v.push_back(s_.archive[i].violation);
      }
      ranking = rank_points(f, v);
    }
    std::vector<size_t> children;
    std::map<std::string, bool> taken;
    const int max_tries = 100 * c_.population;
    for (int tries = 0; int(children.size()) < c_.population && tries < max_tries; ++tries) {
      Genotype child;
      if (evolve) {
        const Genotype& a = s_.archive[s_.population[tournament(ranking, rng)]].genotype;
        const Genotype& b = s_.archive[s_.population[tournament(ranking, rng)]].genotype;
        child = uniform01(rng) < c_.crossover_prob ? crossover(space_, a, b, rng) : a;
        child = mutate(space_, child, c_.mutation_prob, rng);
      } else {
        child = random_genotype(space_, rng);
      }
      const std::string key = key_of(child.arch);
      const auto seen = keys_.find(key);
      if (taken.count(key) || (seen != keys_.end() && s_.archive[seen->second].generation < g))
        continue;
      taken[key] = true;
      children.push_back(evaluate(std::move(child), key, g));
      report(progress_fraction(g, children.size()));
    }
    return children;
  }

  // The archive index of the network: scored now, or found from before an interruption.
  size_t evaluate(Genotype child, const std::string& key, int g) {
    const auto done = keys_.find(key);
    if (done != keys_.end()) return done->second;  // scored before the run was interrupted
    Candidate c;
    c.genotype = std::move(child);
    c.generation = g;
    c.scores = score_(c.genotype.arch);
    add(std::move(c));
    if (now() - last_save_ >= job_.save_every_s) save();
    return s_.archive.size() - 1;
  }

  std::vector<size_t> survivors(const std::vector<size_t>& pool) {
    std::vector<Objectives> f;
    std::vector<double> v;
    for (size_t i : pool) {
      f.push_back(point(s_.archive[i].scores, c_.objectives, s_.scale));
      v.push_back(s_.archive[i].violation);
    }
    std::vector<size_t> out;
    for (size_t k : select_survivors(f, v, size_t(c_.population))) out.push_back(pool[k]);
    return out;
  }

  double progress_fraction(int g, size_t done) const {
    const double total = double(c_.generations + 1) * c_.population;
    return std::min(1.0, (double(g) * c_.population + double(done)) / total);
  }

  void report(double fraction) {
    if (!progress_) return;
    const auto now_s = now();
    if (fraction < 1.0 && now_s - last_report_ < 1.0) return;  // the hypervolume costs O(n^2)
    last_report_ = now_s;
    char status[96];
    std::snprintf(status, sizeof status, "gen %d/%d  evaluated %zu  hv %.4f",
                  std::max(0, s_.generation + 1), c_.generations, s_.archive.size(),
                  front_hypervolume(s_, c_));
    progress_(fraction, status);
  }

  void save() {
    json archive = json::array();
    for (const auto& c : s_.archive)
      archive.push_back({{"genes", c.genotype.genes},
                         {"generation", c.generation},
                         {"scores", scores_to_json(c.scores)}});
    const json state = {{"format", kFormat},
                        {"search", identity(space_, c_)},
                        {"generation", s_.generation},
                        {"scale", scores_to_json(s_.scale)},
                        {"population", s_.population},
                        {"archive", archive}};
    write_file_atomic(job_.out + "/state.json", state.dump());  // compact: thousands of networks
    write_history();
    last_save_ = now();
  }

  // history.jsonl: one line per scored network, in order (rewritten whole, atomically).
  void write_history() const {
    std::string text;
    for (const auto& line : history_) text += line + "\n";
    write_file_atomic(job_.out + "/history.jsonl", text);
  }

  static std::string history_line(const Candidate& c) {
    json line = {{"index", c.index},
                 {"name", c.name()},
                 {"generation", c.generation},
                 {"feasible", c.violation == 0}};
    line.update(scores_to_json(c.scores));
    if (c.violation > 0) line["violation"] = c.violation;
    ArchSpec a = c.genotype.arch;
    a.name = c.name();
    line["arch"] = arch_to_json(a);
    return line.dump();
  }

  void load(const std::string& file) {
    const std::string where = file;
    json j;
    try {
      j = read_json_file(file);
      require(j.value("format", "") == kFormat, where + ": not a search state file");
      require(j.at("search") == identity(space_, c_),
              where + ": made by a different search (space, strategy, seed, population, "
                      "objectives or constraints differ); give another --out");
      s_.generation = j.at("generation").get<int>();
      require(s_.generation <= c_.generations,
              where + ": already has " + std::to_string(s_.generation) +
                  " generations; --generations must be at least that");
      s_.scale = scores_from_json(j.at("scale"));
      s_.population = j.at("population").get<std::vector<size_t>>();
      const json& archive = j.at("archive");
      for (size_t i = 0; i < archive.size(); ++i) {
        Candidate c;
        c.genotype = decode(space_, archive[i].at("genes").get<Genes>(),
                            where + ": archive[" + std::to_string(i) + "]");
        c.generation = archive[i].at("generation").get<int>();
        c.scores = scores_from_json(archive[i].at("scores"));
        add(std::move(c));
      }
      for (size_t i : s_.population)
        require(i < s_.archive.size(), where + ": population names a network not in the archive");
    } catch (const json::exception& e) {
      throw InputError(where + ": corrupt search state (" + std::string(e.what()) +
                       "); delete it to start again");
    }
  }

  void add(Candidate c) {
    c.violation = violation(c.scores, c_.constraints);
    c.index = s_.archive.size();
    keys_.emplace(key_of(c.genotype.arch), c.index);
    history_.push_back(history_line(c));
    s_.archive.push_back(std::move(c));
  }

  static double now() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }

  const SearchSpace& space_;
  const SearchConfig& c_;
  const ScoreFn& score_;
  const SearchJob& job_;
  const SearchProgress& progress_;
  SearchState s_;
  std::map<std::string, size_t> keys_;  // canonical key -> archive index
  std::vector<std::string> history_;    // history.jsonl's lines
  double last_save_ = 0, last_report_ = -1e9;
};

}  // namespace

void validate(const SearchConfig& c) {
  require(c.population >= 2, "--population: must be >= 2");
  require(c.generations >= 0, "--generations: must be >= 0");
  require(c.mutation_prob >= 0 && c.mutation_prob <= 1, "--mutation-prob: in [0, 1]");
  require(c.crossover_prob >= 0 && c.crossover_prob <= 1, "--crossover-prob: in [0, 1]");
  require(c.objectives.size() >= 2, "--objectives: give at least two objectives");
}

Strategy strategy_of(const std::string& name) {
  if (name == "nsga2") return Strategy::nsga2;
  if (name == "random") return Strategy::random;
  throw InputError("--strategy: unknown strategy \"" + name + "\" (valid: nsga2, random)");
}

std::string to_string(Strategy s) { return s == Strategy::nsga2 ? "nsga2" : "random"; }

std::string Candidate::name() const {
  char buf[32];
  std::snprintf(buf, sizeof buf, "cand%04zu", index);
  return buf;
}

SearchState run_search(const SearchSpace& space, const SearchConfig& config, const ScoreFn& score,
                       const SearchJob& job, const SearchProgress& progress) {
  return Job(space, config, score, job, progress).run();
}

std::vector<size_t> pareto_front(const SearchState& state, const SearchConfig& config) {
  std::vector<size_t> feasible;
  std::vector<Objectives> f;
  for (size_t i = 0; i < state.archive.size(); ++i) {
    if (state.archive[i].violation > 0) continue;
    feasible.push_back(i);
    f.push_back(point(state.archive[i].scores, config.objectives, state.scale));
  }
  std::vector<size_t> front;
  const auto fronts = non_dominated_sort(f, std::vector<double>(f.size(), 0.0));
  if (!fronts.empty())
    for (size_t k : fronts[0]) front.push_back(feasible[k]);
  std::stable_sort(front.begin(), front.end(), [&](size_t a, size_t b) {
    return state.archive[a].scores.latency < state.archive[b].scores.latency;
  });
  return front;
}

double front_hypervolume(const SearchState& state, const SearchConfig& config) {
  std::vector<Objectives> points;
  for (size_t i : pareto_front(state, config))
    points.push_back(point(state.archive[i].scores, config.objectives, state.scale));
  return hypervolume(points, reference_point(config.objectives));
}

json config_to_json(const SearchConfig& c) {
  return {{"strategy", to_string(c.strategy)},
          {"population", c.population},
          {"generations", c.generations},
          {"seed", c.seed},
          {"crossover_prob", c.crossover_prob},
          {"mutation_prob", c.mutation_prob},
          {"objectives", objectives_text(c.objectives)},
          {"max_params", c.constraints.max_params},
          {"max_macs", c.constraints.max_macs},
          {"max_latency", c.constraints.max_latency}};
}

}  // namespace vitnas
