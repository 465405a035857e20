// A network of a search space as the choices that built it (search_space.h's build_arch): the
// representation NSGA-II's variation works on. Mutation and crossover replay the construction,
// taking each choice from a parent where it has one, so every child is in the space by
// construction and a change of depth or head count keeps the rest of the network.
#pragma once

#include <cstdint>
#include <map>
#include <random>
#include <string>

#include "core/arch_spec.h"
#include "core/search_space.h"

namespace vitnas {

// Choice path -> the value taken (search_space.h's Decide: ratios as ratios, booleans 0/1, kinds
// by index).
using Genes = std::map<std::string, double>;

struct Genotype {
  Genes genes;
  ArchSpec arch;  // build_arch of the genes
};

// A uniform draw of every choice (the distribution of sample(), not its rng() sequence).
Genotype random_genotype(const SearchSpace& space, std::mt19937_64& rng);

// Each choice is redrawn uniformly with probability `p` (it may draw the same value); a choice
// the parent does not have (a block beyond its depth, a head beyond its count) is drawn.
Genotype mutate(const SearchSpace& space, const Genotype& parent, double p, std::mt19937_64& rng);

// Uniform crossover by unit: the input resolution, each stage's own choices (width, depth,
// downsample) and each block take all their choices from one parent, picked by a fair coin per
// unit. A choice the picked parent lacks comes from the other parent, and is drawn when neither
// has it (or a parent's value is not offered, e.g. a head count the new width does not allow).
Genotype crossover(const SearchSpace& space, const Genotype& a, const Genotype& b,
                   std::mt19937_64& rng);

// The network of saved genes. InputError naming `where` when the genes are not a network of the
// space (a missing choice, or a value the space does not offer there).
Genotype decode(const SearchSpace& space, const Genes& genes, const std::string& where);

// A uniform real in [0, 1) from one rng() draw (the same on every standard library).
double uniform01(std::mt19937_64& rng);

}  // namespace vitnas
