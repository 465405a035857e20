#include "profile/predictor.h"

#include <nlohmann/json.hpp>

#include "core/complexity.h"
#include "core/error.h"
#include "profile/calibration.h"
#include "profile/text.h"

namespace vitnas {

OpGroup group_of(OpKind op) {
  switch (op) {
    case OpKind::Stem: return OpGroup::Stem;
    case OpKind::AttnFrame:
    case OpKind::AttnHead: return OpGroup::Attention;
    case OpKind::DW:
    case OpKind::FFN:
    case OpKind::PatchMerging:
    case OpKind::Head: return OpGroup::Conv;
  }
  throw std::logic_error("group_of: invalid OpKind");
}

Predictor::Predictor(const LatencyTable& table)
    : kind_(table.device.kind),
      batch_(table.device.batch),
      calibration_(table.calibration.value_or(LatencyCalibration{})) {
  require(kind_ != DeviceKind::mpc, "this is an mpc table: use the MPC cost model");
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

void Predictor::missing_entry(const OpSignature& s) const {
  throw InputError("the latency table has no entry '" + s.key() +
                   "': profile a space or arch that contains it (vitnas profile ... --resume)");
}

// The hot path: op by op of the walk, nothing allocated.
std::array<double, kOpGroups> Predictor::group_sums(const ArchSpec& spec) const {
  std::array<double, kOpGroups> sums{};
  walk_ops(spec, batch_, [&](const Row&, const OpSignature& s) {
    sums[size_t(group_of(s.op))] += entry_ms(s);
  });
  return sums;
}

double Predictor::cost(const ArchSpec& spec) const {
  return calibrated_ms(calibration_, group_sums(spec));
}

// The same sums, also per row (with the group scales applied to each row).
Prediction Predictor::prediction(const ArchSpec& spec) const {
  Prediction p;
  for (const BlockCost& row : complexity(spec).blocks) p.rows.push_back({row.name, row.type, 0, 0});
  walk_ops(spec, batch_, [&](const Row& row, const OpSignature& s) {
    const double ms = entry_ms(s);
    const auto g = size_t(group_of(s.op));
    p.group_ms[g] += ms;
    p.rows[size_t(row.index)].raw_ms += ms;
    p.rows[size_t(row.index)].calibrated_ms += calibration_.scale[g] * ms;
  });
  for (double ms : p.group_ms) p.raw_ms += ms;
  p.ms = calibrated_ms(calibration_, p.group_ms);
  return p;
}

LatencyBreakdown Predictor::breakdown(const ArchSpec& spec) const {
  const Prediction p = prediction(spec);
  LatencyBreakdown b;
  b.total = p.ms;
  b.overhead = calibration_.constant_ms;
  for (const auto& r : p.rows) b.rows.push_back({r.name, r.type, r.calibrated_ms});
  return b;
}

nlohmann::json Predictor::prediction_json(const ArchSpec& spec) const {
  const Prediction p = prediction(spec);
  nlohmann::json rows = nlohmann::json::array();
  for (const auto& r : p.rows)
    rows.push_back({{"name", r.name}, {"type", r.type}, {"raw_ms", r.raw_ms}, {"ms", r.calibrated_ms}});
  return {{"arch", spec.name}, {"ms", p.ms}, {"raw_ms", p.raw_ms},
          {"img_per_s", batch_ / (p.ms / 1e3)}, {"blocks", rows}};
}

std::string Predictor::prediction_text(const nlohmann::json& j) const {
  std::string s = j["arch"].get<std::string>() + "\n";
  s += printf_string("  %-14s %-14s %10s\n", "block", "type", "ms");
  for (const auto& b : j["blocks"])
    s += printf_string("  %-14s %-14s %10.3f\n", b["name"].get<std::string>().c_str(),
                       b["type"].get<std::string>().c_str(), b["ms"].get<double>());
  s += printf_string("  total: %.3f ms per batch (%.1f img/s; sum of entries %.3f ms)\n",
                     j["ms"].get<double>(), j["img_per_s"].get<double>(), j["raw_ms"].get<double>());
  return s;
}

}  // namespace vitnas
