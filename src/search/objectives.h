// What a search scores a candidate on: accuracy (the supernet's top-1 with inherited weights),
// latency (the device's latency model), params and MACs; which of them are objectives, in which
// direction; and the constraints (--max-params, --max-macs, --max-latency).
#pragma once

#include <string>
#include <vector>

#include "search/nsga2.h"

namespace vitnas {

enum class Metric { accuracy, latency, params, macs };
std::string to_string(Metric m);

struct Scores {
  double accuracy = 0;  // top-1 %, 0 when the search has no supernet
  double latency = 0;   // in the latency model's unit
  double params = 0, macs = 0;
};
double value(const Scores& s, Metric m);

struct Objective {
  Metric metric;
  bool maximise;
};

// "accuracy,latency" or "macs:max,latency": accuracy is maximised, the others minimised unless
// written "name:max" (or "name:min"). InputError naming the item for an unknown name, a repeat,
// or fewer than two objectives.
std::vector<Objective> parse_objectives(const std::string& list);
std::string objectives_text(const std::vector<Objective>& objectives);  // parse_objectives' form

// Scores as an NSGA-II point: each objective divided by `scale` (the reference network's value;
// 100 for accuracy) and negated when maximised, so the hypervolume box is [-1, 0] per maximised
// and [0, 1] per minimised objective.
Objectives point(const Scores& s, const std::vector<Objective>& objectives, const Scores& scale);
// The hypervolume's reference point in that space: 0 for maximised, 1 for minimised objectives.
Objectives reference_point(const std::vector<Objective>& objectives);

struct Constraints {
  double max_params = 0, max_macs = 0, max_latency = 0;  // 0: none
};
// The relative excess over every limit, summed: 0 when feasible.
double violation(const Scores& s, const Constraints& c);

}  // namespace vitnas
