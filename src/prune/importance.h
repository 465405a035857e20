// How much each group matters (DESIGN.md, "Prune"). Scores are per channel of every Dimension
// (prune/groups.h), in its order:
//   taylor     first-order Taylor (Molchanov et al. 2019): per minibatch, (sum over the group's
//              weights of w * dL/dw)^2, summed over the batches; the loss is the plain
//              cross-entropy of the network in eval mode (the network as it is deployed)
//   magnitude  the L2 norm of the group's weights (the usual baseline)
//   random     uniform in [0, 1) from the seed (the ablation floor)
// A unit's group is every weight of its modules. normalise_per_type() divides each score by the
// mean of its group type, so that one knapsack can weigh FFN channels against q.k channels.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "models/classifier.h"
#include "prune/groups.h"
#include "train/evaluate.h"

namespace vitnas::prune {

enum class ImportanceKind { Taylor, Magnitude, Random };
ImportanceKind importance_from_string(const std::string& name);  // InputError naming the choices
std::string to_string(ImportanceKind k);

using Scores = std::vector<std::vector<double>>;  // [dimension][channel]

Scores taylor_scores(ClassifierImpl& model, const std::vector<Dimension>& dims, const TensorBatches& batches);
// The first-order prediction of the loss change when a group's weights are zeroed,
// -(sum of w * dL/dw), the gradient averaged over the batches (signed: what the oracle measures).
Scores first_order_loss_change(ClassifierImpl& model, const std::vector<Dimension>& dims, const TensorBatches& batches);
Scores magnitude_scores(ClassifierImpl& model, const std::vector<Dimension>& dims);
Scores random_scores(const std::vector<Dimension>& dims, uint64_t seed);

// Any kind; taylor reads `batches`, random `seed`.
Scores importance(ImportanceKind kind, ClassifierImpl& model, const std::vector<Dimension>& dims,
                  const TensorBatches& batches, uint64_t seed);

void normalise_per_type(Scores& scores, const std::vector<Dimension>& dims);

// One line per group: dimension,type,channel,score (atomic write).
void write_scores_csv(const std::string& path, const std::vector<Dimension>& dims, const Scores& scores);

}  // namespace vitnas::prune
