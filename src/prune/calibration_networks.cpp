#include "prune/calibration_networks.h"

#include <set>
#include <string>

#include "core/complexity.h"
#include "core/error.h"
#include "prune/groups.h"
#include "prune/importance.h"

namespace vitnas::prune {

std::vector<ArchSpec> pruning_calibration_networks(const ArchSpec& base, const SelectOptions& options, int count,
                                                   uint64_t seed) {
  std::vector<ArchSpec> nets;
  if (count <= 0) return nets;
  nets.push_back(base);
  const auto dims = dimensions(base);
  const CostFn macs = [](const ArchSpec& a) { return double(complexity(a).macs); };
  const double full = macs(base);
  std::set<std::string> seen{arch_to_json(base).dump()};
  for (int k = 1; k < count; ++k) {
    const double fraction = count > 2 ? 0.95 - 0.65 * double(k - 1) / double(count - 2) : 0.6;
    try {
      ArchSpec a = select(base, dims, random_scores(dims, seed + uint64_t(k)), macs, fraction * full, options).arch;
      a.name = "prune-calib-" + std::to_string(k);
      ArchSpec unnamed = a;
      unnamed.name = base.name;
      if (seen.insert(arch_to_json(unnamed).dump()).second) nets.push_back(std::move(a));
    } catch (const InputError&) {
      // below the smallest network these options allow: the next targets are lower still
      break;
    }
  }
  return nets;
}

}  // namespace vitnas::prune
