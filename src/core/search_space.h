// A search space around EfficientViT: per stage, the choices every block may take. A space is a
// JSON file (experiments/spaces/*.json); sample() draws ArchSpecs from it, contains() checks
// whether an ArchSpec could have been drawn (e.g. a preset, or a pruned network).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "core/arch_spec.h"

namespace vitnas {

// Sampling picks each choice uniformly and independently (per block, per FFN for ffn_ratio, and
// per head for key_dim, kernel, kind). Every list is a set of choices: non-empty, no repeats.
struct StageChoices {
  std::vector<int> embed_dim;          // stage width
  std::vector<int> depth;              // blocks in the stage
  int window = 7;                      // attention window side (fixed per stage)
  std::vector<int> heads;              // per block; only those dividing the stage width are drawn
  std::vector<int> key_dim;            // per head
  std::vector<int> kernel;             // q depthwise kernel, per head (odd)
  std::vector<AttentionKind> kinds;    // per head
  std::vector<bool> cascade;           // per block; v_dim = embed_dim / heads always
  std::vector<bool> attention;         // per block: has a mixer or not
  std::vector<double> ffn_ratio;       // each FFN's hidden = round(ratio * embed_dim), per FFN
  std::vector<int> ffn_before, ffn_after;  // number of DW+FFN pairs before / after the mixer (>= 0)
  // The downsample into this stage (must be empty for the first stage): PatchMerging hidden =
  // round(ratio * previous width); DW+FFN pairs before (on the previous width, previous stage's
  // ffn_ratio choices) and after (this width, this stage's ffn_ratio choices).
  std::vector<double> downsample_ratio;
  std::vector<int> downsample_ffn_before, downsample_ffn_after;
};

struct SearchSpace {
  std::string name;
  std::vector<int> img_size;                   // input resolutions
  int in_chans = 3, num_classes = 1000;
  std::vector<int> stem_divisors{8, 4, 2, 1};  // stem widths = stages[0] width / d; last must be 1
  std::vector<StageChoices> stages;
};

// JSON keys equal the field names; kinds are "softmax", "relu_softmax", "scaling". A choice list
// may be written as a single value (`"img_size": 224` == `[224]`). in_chans, num_classes and
// stem_divisors are optional (defaults above); the first stage must not have downsample_* keys,
// every later stage must. Unknown keys are rejected; errors start with the JSON path.
SearchSpace space_from_json(const nlohmann::json& j);  // parse + validate
nlohmann::json space_to_json(const SearchSpace& s);    // canonical form (lists, all keys)
SearchSpace load_space(const std::string& path);       // errors name the file, then the path

// Throws InputError naming the JSON path: empty or repeated choices, non-positive values (ffn
// counts may be 0), even kernels, an embed_dim no heads choice divides, a stem divisor that does
// not divide every first-stage width, a ratio that rounds to 0, downsample fields on stage 0.
void validate(const SearchSpace& s);

// A valid ArchSpec named "sample" (family efficientvit, no distillation head). Draws are
// rng() % n (identical on every standard library), in this fixed order:
//   img_size; then per stage: embed_dim, depth, [stage > 0: downsample_ratio,
//   downsample_ffn_before count, downsample_ffn_after count, one ffn_ratio per FFN before, one per
//   FFN after]; then per block: ffn_before count, ffn_after count, one ffn_ratio per FFN (before,
//   then after), attention; only if attention: cascade, heads, then per head key_dim, kernel, kind.
// Every draw consumes one rng() value, even from a one-element list.
ArchSpec sample(const SearchSpace& s, std::mt19937_64& rng);

// `count` draws from std::mt19937_64(seed), named prefix0, prefix1, ..., skipping any network
// already drawn or in `exclude` (compared without names). Fewer if the space runs out (after
// 100 x count draws). The profiler's calibration networks and validate's held-out ones.
std::vector<ArchSpec> sample_distinct(const SearchSpace& s, int count, uint64_t seed,
                                      const std::vector<ArchSpec>& exclude, const std::string& prefix);

// Whether sample() can produce `a` (the name is ignored; a distillation head is outside).
bool contains(const SearchSpace& s, const ArchSpec& a);
// Why it cannot: the first value of `a` the space does not offer, as "JSON path: value is not a
// choice of the space (choices)", e.g. "stages[1].blocks[0].attention.heads[2].key_dim: 24 is
// not a choice of the space (8, 16)"; nullopt when contains(s, a).
std::optional<std::string> outside(const SearchSpace& s, const ArchSpec& a);

// The sandwich rule's extremes: what sample() builds when every choice is its largest (or
// smallest): widths, depths, FFN counts and ratios, heads, key_dim, kernel by value; attention
// and cascade on (off) when offered; the kind by cost (softmax > relu_softmax > scaling).
// Named "largest" and "smallest".
ArchSpec largest(const SearchSpace& s);
ArchSpec smallest(const SearchSpace& s);

// ---- construction choice by choice (search's mutation and crossover) ---------------------

// One choice of the construction: its JSON path in the ArchSpec, as outside() names it
// ("img_size", "stages[1].embed_dim", "stages[1].blocks" for the depth, "stages[1].downsample
// .hidden" for the ratio, "stages[1].blocks[0].ffn_before" for a count and ".ffn_before[2]" for
// that FFN's ratio, ".attention" present or not, ".attention.cascade", ".attention.heads" for the
// count, ".attention.heads[2].key_dim", ".kernel", ".kind"), and the values offered as numbers
// (ratios as ratios, booleans 0/1, kinds by their index in kAttentionKinds). Returns the index
// chosen. Choices come in sample()'s draw order.
using Decide = std::function<size_t(const std::string& path, const std::vector<double>& values)>;
// The network those choices build (always in the space).
ArchSpec build_arch(const SearchSpace& s, const Decide& decide, const std::string& name);

// ---- helpers shared with the profiler: what blocks can a space produce? -----------------

// round(ratio * width), halves away from zero.
int scaled_width(double ratio, int width);
// The distinct hidden widths a list of ratios gives at one width, ascending.
std::vector<int> hidden_choices(const std::vector<double>& ratios, int width);
// The heads choices that divide embed_dim, in the order of stage.heads (what sample() draws from).
std::vector<int> head_choices(const StageChoices& stage, int embed_dim);
// Feature-map side at each stage for one input resolution (same rule as stage_resolutions).
std::vector<int> stage_sides(const SearchSpace& s, int img_size);

// Rough log10 of the number of architectures (independent choices multiplied, depth summed
// over; rounding collisions ignored). For logs only.
int64_t space_size_log10(const SearchSpace& s);

}  // namespace vitnas
