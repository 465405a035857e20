// Latency prediction from a table: the sum of a network's op entries, grouped, plus the fitted
// correction. predict_ms() is the hot path of search (millions of calls): it walks the spec's
// ops without allocating and looks each signature up by its 64-bit hash in an open-addressing
// table.
#pragma once

#include <array>
#include <string>
#include <vector>

#include "core/arch_spec.h"
#include "profile/block_signature.h"
#include "profile/latency_table.h"

namespace vitnas {

struct BlockPrediction {
  std::string name;  // complexity() row, e.g. "blocks2.3"
  std::string type;
  double raw_ms = 0;        // sum of the table entries of its ops
  double calibrated_ms = 0; // with the group scales applied (the constant is not per block)
};

struct Prediction {
  double ms = 0;      // calibrated whole-network latency per batch
  double raw_ms = 0;  // plain sum of entries
  std::array<double, kOpGroups> group_ms{};  // raw sums per op group
  std::vector<BlockPrediction> blocks;
};

OpGroup group_of(OpKind op);

class Predictor {
 public:
  explicit Predictor(const LatencyTable& table);  // cpu / cuda tables

  // Calibrated latency per batch in ms. InputError naming the signature if the table lacks one.
  double predict_ms(const ArchSpec& spec) const;
  // Raw sums of entries per op group (what the calibration is fitted on).
  std::array<double, kOpGroups> group_sums(const ArchSpec& spec) const;
  Prediction breakdown(const ArchSpec& spec) const;

  int batch() const { return batch_; }

 private:
  double lookup(const BlockSignature& s) const;

  int batch_;
  LatencyCalibration calibration_;
  std::vector<uint64_t> keys_;  // open addressing, power-of-two size; 0 = empty slot
  std::vector<double> values_;
  uint64_t mask_ = 0;
};

}  // namespace vitnas
