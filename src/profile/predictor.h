// The cpu/cuda latency model: a network's latency is the sum of its ops' table entries, grouped,
// plus the fitted correction (calibration.h). cost() is the hot path of search (millions of
// calls): it walks the spec's ops (op_signature.h) without allocating and looks each signature up
// by its 64-bit hash in an open-addressing table.
#pragma once

#include <array>
#include <string>
#include <vector>

#include "core/arch_spec.h"
#include "profile/latency_model.h"
#include "profile/latency_table.h"
#include "profile/op_signature.h"

namespace vitnas {

OpGroup group_of(OpKind op);

// One row of the walk: the raw sum of its ops' entries and the same with the group scales.
struct RowPrediction {
  std::string name;  // complexity() row, e.g. "blocks2.3"
  std::string type;
  double raw_ms = 0;
  double calibrated_ms = 0;  // the constant is not per row
};

struct Prediction {
  double ms = 0;      // calibrated whole-network latency per batch
  double raw_ms = 0;  // plain sum of entries
  std::array<double, kOpGroups> group_ms{};  // raw sums per op group
  std::vector<RowPrediction> rows;
};

class Predictor : public LatencyModel {
 public:
  explicit Predictor(const LatencyTable& table);  // cpu / cuda tables

  DeviceKind kind() const override { return kind_; }
  std::string unit() const override { return "ms"; }
  double units_per_second() const override { return 1e3; }
  // Calibrated latency per batch in ms. InputError naming the signature if the table lacks one.
  double cost(const ArchSpec& spec) const override;
  LatencyBreakdown breakdown(const ArchSpec& spec) const override;
  nlohmann::json prediction_json(const ArchSpec& spec) const override;
  std::string prediction_text(const nlohmann::json& prediction) const override;

  // Raw sums of entries per op group (what the calibration is fitted on).
  std::array<double, kOpGroups> group_sums(const ArchSpec& spec) const;
  Prediction prediction(const ArchSpec& spec) const;
  // The table's entry of one op; InputError naming the signature if it has none.
  double entry_ms(const OpSignature& s) const {
    const uint64_t h = s.hash() | 1;  // never 0, the empty mark
    for (uint64_t i = h & mask_;; i = (i + 1) & mask_) {
      if (keys_[i] == h) return values_[i];
      if (keys_[i] == 0) missing_entry(s);
    }
  }

  int batch() const { return batch_; }

 private:
  [[noreturn]] void missing_entry(const OpSignature& s) const;

  DeviceKind kind_;
  int batch_;
  LatencyCalibration calibration_;
  std::vector<uint64_t> keys_;  // open addressing, power-of-two size; 0 = empty slot
  std::vector<double> values_;
  uint64_t mask_ = 0;
};

}  // namespace vitnas
