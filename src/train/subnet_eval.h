// The accuracy of a supernet's subnets with inherited weights, as search asks for it thousands
// of times: BN recalibration on fixed training batches, then top-1 on a fixed evaluation set,
// both held in memory. The supernet's own BN statistics are put back after every subnet, so an
// answer does not depend on which subnets were asked before.
#pragma once

#include "core/arch_spec.h"
#include "models/elastic/supernet.h"
#include "train/evaluate.h"

namespace vitnas {

class SubnetEvaluator {
 public:
  // calibration: the recalibration batches (images only; none: the supernet's statistics as
  // they are); eval: images and labels. Both on the supernet's device.
  SubnetEvaluator(SupernetImpl& supernet, TensorBatches calibration, TensorBatches eval);

  // Recalibrates the subnet's BN statistics, evaluates it, restores the statistics.
  // InputError for a subnet outside the supernet's space.
  EvalResult operator()(const ArchSpec& subnet);
  // The subnet as a standalone network (supernet.h's extract) holding its recalibrated statistics.
  Classifier extract(const ArchSpec& subnet);

 private:
  // Runs f with the subnet's statistics recalibrated, then restores the supernet's.
  template <typename F>
  auto recalibrated(const ArchSpec& subnet, F f);

  SupernetImpl& net_;
  TensorBatches calibration_, eval_;
};

}  // namespace vitnas
