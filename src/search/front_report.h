// What `vitnas search` writes when it is done (out/): the front as front.json and front.csv, one
// ArchSpec file per front network (front/cand0042.json, ready for `train --arch`), the best
// network under each latency budget, and front.svg (the front, every network scored, budgets and
// reference networks).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "core/arch_spec.h"
#include "search/search_job.h"

namespace vitnas {

// A network drawn for comparison (--mark): a preset or file, scored like the candidates
// (accuracy only when it is in the space and the search has a supernet).
struct MarkedNetwork {
  ArchSpec arch;
  Scores scores;
  bool has_accuracy = false;
};

struct Measured {
  double latency = 0;  // measured on the table's device, in the model's unit
  double spread = 0;
};

struct FrontReport {
  std::string space, table, unit;  // unit: the latency model's ("ms", "s")
  std::string supernet;            // the supernet directory accuracy came from ("" without)
  bool has_accuracy = false;
  std::vector<double> budgets;
  std::vector<MarkedNetwork> marks;
  std::map<size_t, Measured> measured;  // by archive index (--measure)
};

// The archive index of the best network under each budget: the highest first non-latency
// objective (accuracy when searched) among feasible networks at most that latency; nullopt when
// none is that fast.
std::vector<std::optional<size_t>> budget_picks(const SearchState& s, const SearchConfig& c,
                                                const std::vector<double>& budgets);

// Attention mixers / (mixers + FFNs), every FFN counted (downsample ones too): a plain ViT has
// 50%, an EfficientViT block 33% (the paper's MHSA:FFN finding).
double attention_share(const ArchSpec& a);

// Writes every file; returns front.json's content (also the command's --json output).
nlohmann::json write_front(const std::string& out, const SearchState& s, const SearchConfig& c,
                           const FrontReport& r);

}  // namespace vitnas
