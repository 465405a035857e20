// The accuracy of a supernet's subnets with inherited weights, as search asks for it thousands
// of times. Each subnet is extracted as a standalone network (supernet.h's extract: the same
// output), its BN statistics are recalibrated on fixed training batches (the same statistics as
// recalibrating inside the supernet: test "BN recalibration of a subnet equals a standalone
// network's"), and it is evaluated fused (the BN folded in, the fast inference network) on a
// fixed evaluation set. Both sets of batches are held in memory, and the supernet is only read,
// so an answer does not depend on which subnets were asked before.
#pragma once

#include "core/arch_spec.h"
#include "models/classifier.h"
#include "models/elastic/supernet.h"
#include "train/evaluate.h"

namespace vitnas {

class SubnetEvaluator {
 public:
  // calibration: the recalibration batches (images only; none: the supernet's statistics as
  // they are); eval: images and labels. Both on the supernet's device.
  SubnetEvaluator(SupernetImpl& supernet, TensorBatches calibration, TensorBatches eval);

  // Extracts, recalibrates and evaluates one subnet. InputError for a subnet outside the space.
  EvalResult operator()(const ArchSpec& subnet);
  // The subnet as a standalone network with its recalibrated statistics, in eval mode.
  Classifier extract(const ArchSpec& subnet);

 private:
  SupernetImpl& net_;
  TensorBatches calibration_, eval_;
};

}  // namespace vitnas
