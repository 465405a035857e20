#include "profile/predictor.h"

#include "core/complexity.h"
#include "core/error.h"
#include "profile/calibration.h"
#include "profile/block_signature.h"

namespace vitnas {

OpGroup group_of(OpKind op) {
  switch (op) {
    case OpKind::Stem: return OpGroup::Stem;
    case OpKind::AttnFrame:
    case OpKind::AttnHead: return OpGroup::Attention;
    default: return OpGroup::Conv;
  }
}

Predictor::Predictor(const LatencyTable& table)
    : batch_(table.device.batch), calibration_(table.calibration.value_or(LatencyCalibration{})) {
  require(table.device.kind != "mpc", "this is an mpc table: use the MPC cost model");
  size_t size = 16;
  while (size < 2 * table.entries.size()) size *= 2;
  keys_.assign(size, 0);
  values_.assign(size, 0.0);
  mask_ = size - 1;
  for (const auto& [key, entry] : table.entries) {
    const uint64_t h = parse_signature(key).hash() | 1;  // never 0, the empty mark
    uint64_t i = h & mask_;
    while (keys_[i] != 0 && keys_[i] != h) i = (i + 1) & mask_;
    keys_[i] = h;
    values_[i] = entry.median_ms;
  }
}

double Predictor::lookup(const BlockSignature& s) const {
  const uint64_t h = s.hash() | 1;
  for (uint64_t i = h & mask_;; i = (i + 1) & mask_) {
    if (keys_[i] == h) return values_[i];
    if (keys_[i] == 0)
      throw InputError("the latency table has no entry '" + s.key() +
                       "': profile a space or arch that contains it (vitnas profile ... --resume)");
  }
}

std::array<double, kOpGroups> Predictor::group_sums(const ArchSpec& spec) const {
  std::array<double, kOpGroups> sums{};
  for_each_op(spec, batch_, [&](int, const BlockSignature& s) {
    sums[size_t(group_of(s.op))] += lookup(s);
  });
  return sums;
}

double Predictor::predict_ms(const ArchSpec& spec) const {
  return calibrated_ms(calibration_, group_sums(spec));
}

Prediction Predictor::breakdown(const ArchSpec& spec) const {
  Prediction p;
  for (const BlockCost& row : complexity(spec).blocks) p.blocks.push_back({row.name, row.type, 0, 0});
  for_each_op(spec, batch_, [&](int block, const BlockSignature& s) {
    const double ms = lookup(s);
    const auto g = size_t(group_of(s.op));
    p.group_ms[g] += ms;
    p.blocks[size_t(block)].raw_ms += ms;
    p.blocks[size_t(block)].calibrated_ms += calibration_.scale[g] * ms;
  });
  for (double ms : p.group_ms) p.raw_ms += ms;
  p.ms = calibrated_ms(calibration_, p.group_ms);
  return p;
}

}  // namespace vitnas
