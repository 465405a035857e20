// Genotypes: every operator is a Decide callback for build_arch that records what it chose.
#include "search/genotype.h"

#include <algorithm>

#include "core/error.h"

namespace vitnas {

namespace {

// The index of `value` among the offered values; -1 when it is not offered.
int index_of(const std::vector<double>& values, double value) {
  const auto it = std::find(values.begin(), values.end(), value);
  return it == values.end() ? -1 : static_cast<int>(it - values.begin());
}

// The parent's choice at `path` when it has one the space offers here; -1 otherwise.
int inherited(const Genes& parent, const std::string& path, const std::vector<double>& values) {
  const auto it = parent.find(path);
  return it == parent.end() ? -1 : index_of(values, it->second);
}

size_t draw(std::mt19937_64& rng, size_t n) { return static_cast<size_t>(rng() % n); }

// Builds the network, recording every choice `choose(path, values)` makes.
template <typename Choose>
Genotype build(const SearchSpace& space, const Choose& choose) {
  Genotype g;
  g.arch = build_arch(space,
                      [&](const std::string& path, const std::vector<double>& values) {
                        const size_t i = choose(path, values);
                        g.genes[path] = values.at(i);
                        return i;
                      },
                      "candidate");
  return g;
}

// The crossover unit a choice belongs to: "stages[1].blocks[2]" for a block's choices,
// "stages[1]" for the stage's own, "img_size" for the input resolution.
std::string unit_of(const std::string& path) {
  const size_t blocks = path.find(".blocks[");
  if (blocks != std::string::npos) return path.substr(0, path.find(']', blocks) + 1);
  const size_t dot = path.find('.');
  return dot == std::string::npos ? path : path.substr(0, dot);
}

}  // namespace

double uniform01(std::mt19937_64& rng) { return static_cast<double>(rng() >> 11) * 0x1.0p-53; }

Genotype random_genotype(const SearchSpace& space, std::mt19937_64& rng) {
  return build(space, [&](const std::string&, const std::vector<double>& values) {
    return draw(rng, values.size());
  });
}

Genotype mutate(const SearchSpace& space, const Genotype& parent, double p, std::mt19937_64& rng) {
  return build(space, [&](const std::string& path, const std::vector<double>& values) {
    const int kept = inherited(parent.genes, path, values);
    // One uniform draw per choice, whether or not the parent has it: the rng sequence depends
    // on the child's structure only.
    const bool redraw = uniform01(rng) < p;
    return kept < 0 || redraw ? draw(rng, values.size()) : static_cast<size_t>(kept);
  });
}

Genotype crossover(const SearchSpace& space, const Genotype& a, const Genotype& b,
                   std::mt19937_64& rng) {
  std::map<std::string, bool> from_a;  // per unit, the first time it is met
  return build(space, [&](const std::string& path, const std::vector<double>& values) {
    const std::string unit = unit_of(path);
    auto it = from_a.find(unit);
    if (it == from_a.end()) it = from_a.emplace(unit, (rng() & 1) == 0).first;
    const Genes& first = it->second ? a.genes : b.genes;
    const Genes& second = it->second ? b.genes : a.genes;
    int i = inherited(first, path, values);
    if (i < 0) i = inherited(second, path, values);
    return i < 0 ? draw(rng, values.size()) : static_cast<size_t>(i);
  });
}

Genotype decode(const SearchSpace& space, const Genes& genes, const std::string& where) {
  Genotype g = build(space, [&](const std::string& path, const std::vector<double>& values) {
    const auto it = genes.find(path);
    require(it != genes.end(), where + ": no choice for " + path + " (not a network of this space)");
    const int i = index_of(values, it->second);
    require(i >= 0, where + ": " + path + ": " + std::to_string(it->second) +
                        " is not a choice of the space there");
    return static_cast<size_t>(i);
  });
  require(g.genes.size() == genes.size(),
          where + ": choices for paths the network does not have (not a network of this space)");
  return g;
}

}  // namespace vitnas
