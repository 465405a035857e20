// Every distinct op signature a search space (or a list of networks) can produce: what
// `vitnas profile` measures so that any network drawn from the space can be predicted.
#pragma once

#include <vector>

#include "core/arch_spec.h"
#include "core/search_space.h"
#include "profile/op_signature.h"

namespace vitnas {

// In a fixed order (sorted by key), without repeats.
std::vector<OpSignature> space_signatures(const SearchSpace& space, int batch);
std::vector<OpSignature> arch_signatures(const std::vector<ArchSpec>& archs, int batch);

}  // namespace vitnas
