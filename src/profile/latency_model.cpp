#include "profile/latency_model.h"

#include <stdexcept>

#include "core/error.h"
#include "profile/mpc_model.h"
#include "profile/predictor.h"
#include "profile/profile_job.h"
#include "profile/calibration.h"

namespace vitnas {

std::unique_ptr<LatencyModel> make_latency_model(const LatencyTable& table) {
  switch (table.device.kind) {
    case DeviceKind::cpu:
    case DeviceKind::cuda: return std::make_unique<Predictor>(table);
    case DeviceKind::mpc: return std::make_unique<MpcModel>(table);
  }
  throw std::logic_error("make_latency_model: invalid DeviceKind");
}

namespace {

// Seconds measured on one link say nothing about another.
void require_same_link(const LatencyTable& table, const Measurements& m) {
  if (table.device.kind != DeviceKind::mpc) return;
  const LinkProfile& link = table.mpc->link;
  require(m.link.has_value(), m.path + ": say which link the seconds were measured on (\"link\": "
                                       "\"wan\", \"lan\" or {\"bandwidth_mbit_per_s\", \"rtt_ms\"})");
  require(same_link(*m.link, link),
          m.path + " was measured on link '" + m.link->name + "' but the table models link '" +
              link.name + "': make an mpc table with that link (vitnas profile --device mpc --link ...)");
}

// cpu/cuda: the points replace the table's calibration networks (named by their labels).
LatencyTable refit_measured(const LatencyTable& table, const Measurements& m) {
  LatencyTable t = table;
  t.networks.clear();
  for (const auto& p : m.points) {
    t.networks.push_back({p.arch, {p.seconds * 1e3, 0, 1, 0}});
    t.networks.back().arch.name = p.label;
  }
  fit_table_calibration(t);
  return t;
}

// mpc: the calibration of that form, on the link the points were measured on.
LatencyTable refit_mpc(const LatencyTable& table, const Measurements& m, const std::string& form) {
  require_same_link(table, m);
  LatencyTable t = table;
  t.mpc->calibration = fit_mpc_calibration(m.points, t.mpc->costs, t.mpc->link, form);
  return t;
}

}  // namespace

std::vector<PredictedPoint> predict_measured(const LatencyTable& table, const Measurements& measured) {
  require_same_link(table, measured);
  const auto model = make_latency_model(table);
  std::vector<PredictedPoint> out;
  for (const auto& p : measured.points)
    out.push_back({p.label, p.seconds, model->cost(p.arch) / model->units_per_second()});
  return out;
}

CalibratedTable calibrate(const LatencyTable& table, const Measurements& measured,
                          const std::string& mpc_form) {
  require(!measured.points.empty(), measured.path + ": no points");
  CalibratedTable out;
  switch (table.device.kind) {
    case DeviceKind::cpu:
    case DeviceKind::cuda:
      require(mpc_form.empty(), "--form is for mpc tables; a " +
                                    std::string(table.device.kind == DeviceKind::cpu ? "cpu" : "cuda") +
                                    " table refits its group scales and constant");
      out.table = refit_measured(table, measured);
      out.fitted = describe_calibration(*out.table.calibration);
      break;
    case DeviceKind::mpc:
      out.table = refit_mpc(table, measured, mpc_form.empty() ? "link" : mpc_form);
      out.fitted = describe_calibration(*out.table.mpc->calibration, out.table.mpc->link);
      break;
  }
  out.points = predict_measured(out.table, measured);
  return out;
}

std::vector<PredictedPoint> leave_one_out(const LatencyTable& table, const Measurements& measured,
                                          const std::string& mpc_form) {
  std::vector<PredictedPoint> out;
  for (size_t i = 0; i < measured.points.size(); ++i) {
    Measurements rest = measured;
    rest.points.erase(rest.points.begin() + static_cast<std::ptrdiff_t>(i));
    Measurements one = measured;
    one.points = {measured.points[i]};
    try {
      out.push_back(predict_measured(calibrate(table, rest, mpc_form).table, one).front());
    } catch (const InputError& e) {
      throw InputError("leave-one-out without " + measured.points[i].label + ": " + e.what());
    }
  }
  return out;
}

}  // namespace vitnas
