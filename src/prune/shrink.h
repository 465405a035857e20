// A plan made physical: the pruned ArchSpec's model with the kept channels' weights, no masks
// left (models/surgery does the tensor work). masked() is the same cut as zeros in the unpruned
// network: the pruned network's output equals the masked one's, which is how the cut is tested.
#pragma once

#include <string>
#include <vector>

#include "core/safetensors.h"
#include "models/classifier.h"
#include "models/surgery.h"
#include "prune/groups.h"
#include "prune/importance.h"
#include "prune/selection.h"

namespace vitnas::prune {

// Channels dimension i keeps under the plan (the SE follows se_width of its merge width).
int kept_width(const std::vector<Dimension>& dims, const Plan& plan, size_t i);

// The pruned network (built from apply(base, dims, plan)) with the kept weights of `model`.
Classifier shrink(ClassifierImpl& model, const std::vector<Dimension>& dims, const Plan& plan,
                  const Scores& scores);

// The weights of `model` with every dropped channel and removed unit zeroed through its mask.
safetensors::TensorList masked(ClassifierImpl& model, const std::vector<Dimension>& dims,
                               const Plan& plan, const Scores& scores);

}  // namespace vitnas::prune
