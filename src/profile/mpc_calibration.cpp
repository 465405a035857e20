#include "profile/mpc_calibration.h"

#include <algorithm>
#include <cmath>
#include <string>

#include <Eigen/Dense>

#include "core/error.h"
#include "profile/mpc_json.h"
#include "profile/text.h"

namespace vitnas {

using nlohmann::json;
using namespace mpc_json;

namespace {

// The link form: the rounds on the effective RTT, the bytes on the effective bandwidth.
double link_seconds(const MpcCost& cost, const MpcCalibration& c, const LinkProfile& link) {
  return c.rtt_scale * cost.rounds * link.rtt_s +
         c.bytes_scale * cost.bytes * 8.0 / link.bandwidth_bits_per_s;
}

double calibrated(const MpcCost& cost, double rest_seconds, const KindSeconds& attention_seconds,
                  const MpcCalibration& c, const LinkProfile& link) {
  if (c.form == "link") return link_seconds(cost, c, link);
  double s = c.rest_scale * rest_seconds;
  for (int k = 0; k < 3; ++k) s += c.kind_scale[k] * attention_seconds[k];
  return s;
}

void set_max_rel_error(MpcCalibration& c, const std::vector<MeasuredPoint>& points,
                       const std::vector<MpcBreakdown>& b, const LinkProfile& link) {
  c.points = static_cast<int>(points.size());
  c.max_rel_error = 0;
  for (size_t i = 0; i < points.size(); ++i) {
    const double err = std::abs(calibrated_seconds(b[i], c, link) - points[i].seconds);
    c.max_rel_error = std::max(c.max_rel_error, err / points[i].seconds);
  }
}

// Form "link": seconds = x0 * (rounds * RTT) + x1 * (bytes / bandwidth), relative least squares.
MpcCalibration fit_link(const std::vector<MeasuredPoint>& points,
                        const std::vector<MpcBreakdown>& b, const LinkProfile& link) {
  const int P = static_cast<int>(points.size());
  require(P >= 2, "calibration: " + std::to_string(P) +
                      " measured point for the link form's 2 scales (RTT and bytes); add points");
  Eigen::MatrixXd A(P, 2);
  Eigen::VectorXd y = Eigen::VectorXd::Ones(P);
  for (int i = 0; i < P; ++i) {
    const double w = 1.0 / points[i].seconds;
    A(i, 0) = b[i].total.rounds * link.rtt_s * w;
    A(i, 1) = b[i].total.bytes * 8.0 / link.bandwidth_bits_per_s * w;
  }
  const Eigen::ColPivHouseholderQR<Eigen::MatrixXd> qr(A);
  require(qr.rank() == 2,
          "calibration: the measured points cannot tell rounds from bytes apart (link RTT 0, or "
          "points in proportion); add points of other shapes or use --form kinds");
  const Eigen::VectorXd x = qr.solve(y);
  require(x(0) > 0 && x(1) > 0,
          "calibration: fitted link scales RTT x" + std::to_string(x(0)) + ", bytes x" +
              std::to_string(x(1)) + ": not both positive; the points contradict rounds and "
              "bytes as the model counts them (check the points' seconds and link, or use --form "
              "kinds)");
  MpcCalibration c;
  c.form = "link";
  c.rtt_scale = x(0);
  c.bytes_scale = x(1);
  set_max_rel_error(c, points, b, link);
  return c;
}

}  // namespace

double calibrated_seconds(const MpcBreakdown& b, const MpcCalibration& c, const LinkProfile& link) {
  return calibrated(b.total, b.rest_seconds, b.attention_seconds, c, link);
}

double calibrated_seconds(const MpcRow& r, const MpcCalibration& c, const LinkProfile& link) {
  return calibrated(r.cost, r.rest_seconds, r.attention_seconds, c, link);
}

double calibrated_head_seconds(const MpcCost& share, AttentionKind kind, const MpcCalibration* c,
                               const LinkProfile& link) {
  if (!c || c->form == "link") return calibrated_rest_seconds(share, c, link);  // no kind factor
  return c->kind_scale[static_cast<int>(kind)] * share.seconds(link);
}

double calibrated_rest_seconds(const MpcCost& cost, const MpcCalibration* c,
                               const LinkProfile& link) {
  if (!c) return cost.seconds(link);
  if (c->form == "link") return link_seconds(cost, *c, link);
  return c->rest_scale * cost.seconds(link);
}

MpcCalibration fit_mpc_calibration(const std::vector<MeasuredPoint>& points, const CostTable& t,
                                   const LinkProfile& link, const std::string& form) {
  require(form == "link" || form == "kinds",
          "calibration: unknown form \"" + form + "\" (valid: link, kinds)");
  require(!points.empty(), "calibration: no measured points");
  std::vector<MpcBreakdown> b;
  for (const auto& p : points) b.push_back(mpc_total(p.arch, t, link));
  if (form == "link") return fit_link(points, b, link);

  std::vector<int> kinds;  // kinds with attention time in some point
  for (int k = 0; k < 3; ++k)
    if (std::any_of(b.begin(), b.end(), [k](const MpcBreakdown& x) {
          return x.attention_seconds[k] > 0;
        }))
      kinds.push_back(k);
  const int P = static_cast<int>(points.size());
  const bool fit_rest = P > static_cast<int>(kinds.size());
  const int U = static_cast<int>(kinds.size()) + (fit_rest ? 1 : 0);
  require(U > 0, "calibration: nothing to fit");
  require(P >= U, "calibration: " + std::to_string(P) + " measured points for " +
                      std::to_string(U) + " unknown scales; add points");

  // Scale rows by 1/measured so the fit minimises relative, not absolute, errors.
  Eigen::MatrixXd A(P, U);
  Eigen::VectorXd y(P);
  for (int i = 0; i < P; ++i) {
    const double w = 1.0 / points[i].seconds;
    for (size_t c = 0; c < kinds.size(); ++c) A(i, c) = b[i].attention_seconds[kinds[c]] * w;
    if (fit_rest) A(i, U - 1) = b[i].rest_seconds * w;
    y(i) = (points[i].seconds - (fit_rest ? 0.0 : b[i].rest_seconds)) * w;
  }
  const Eigen::ColPivHouseholderQR<Eigen::MatrixXd> qr(A);
  require(qr.rank() == U,
          "calibration: the measured points cannot tell the unknown scales apart; add points "
          "with other mixes of attention kinds");
  const Eigen::VectorXd x = qr.solve(y);

  MpcCalibration c;
  for (size_t i = 0; i < kinds.size(); ++i) {
    const std::string name = to_string(kAttentionKinds[kinds[i]]);
    require(x(i) > 0, "calibration: fitted kind_scale." + name + " = " + std::to_string(x(i)) +
                          " <= 0; the points contradict the analytic model (check the link "
                          "profile and the points' seconds)");
    c.kind_scale[kinds[i]] = x(i);
  }
  if (fit_rest) {
    require(x(U - 1) > 0, "calibration: fitted rest_scale = " + std::to_string(x(U - 1)) +
                              " <= 0; the points contradict the analytic model");
    c.rest_scale = x(U - 1);
  }
  set_max_rel_error(c, points, b, link);
  return c;
}

std::string describe_calibration(const MpcCalibration& c, const LinkProfile& link) {
  if (c.form == "link")
    return printf_string("link: RTT x%.4f (%.1f ms), bytes x%.4f (%.1f Mbit/s)", c.rtt_scale,
                         c.rtt_scale * link.rtt_s * 1e3, c.bytes_scale,
                         link.bandwidth_bits_per_s / c.bytes_scale / 1e6);
  return printf_string("rest x%.4f, softmax x%.4f, relu_softmax x%.4f, scaling x%.4f", c.rest_scale,
                       c.kind_scale[0], c.kind_scale[1], c.kind_scale[2]);
}

json calibration_to_json(const MpcCalibration& c) {
  if (c.form == "link")
    return {{"form", "link"},
            {"rtt_scale", c.rtt_scale},
            {"bytes_scale", c.bytes_scale},
            {"points", c.points},
            {"max_rel_error", c.max_rel_error}};
  json scales = json::object();
  for (AttentionKind k : kAttentionKinds) scales[to_string(k)] = c.kind_scale[static_cast<int>(k)];
  return {{"form", "kinds"},
          {"rest_scale", c.rest_scale},
          {"kind_scale", scales},
          {"points", c.points},
          {"max_rel_error", c.max_rel_error}};
}

namespace {

void read_kind_scales(const json& j, MpcCalibration& c) {
  c.rest_scale = positive(required(j, "", "rest_scale"), "rest_scale");
  const json& scales = object(required(j, "", "kind_scale"), "kind_scale",
                              {"softmax", "relu_softmax", "scaling"});
  for (AttentionKind k : kAttentionKinds) {
    const std::string key = to_string(k);
    c.kind_scale[static_cast<int>(k)] =
        positive(required(scales, "kind_scale", key), "kind_scale." + key);
  }
}

void read_fit_figures(const json& j, MpcCalibration& c) {
  if (j.contains("points")) {
    const json& p = j.at("points");
    // as_int: 5e9 must not wrap to some other int.
    c.points = as_int(p, "points");
    if (c.points < 0) fail("points", "expected a non-negative integer, got " + describe(p));
  }
  if (j.contains("max_rel_error"))
    c.max_rel_error = non_negative(j.at("max_rel_error"), "max_rel_error");
}

}  // namespace

MpcCalibration calibration_from_json(const json& j) {
  MpcCalibration c;
  if (j.is_object() && j.contains("form")) c.form = as_string(j.at("form"), "form");
  if (c.form == "link") {
    object(j, "", {"form", "rtt_scale", "bytes_scale", "points", "max_rel_error"});
    c.rtt_scale = positive(required(j, "", "rtt_scale"), "rtt_scale");
    c.bytes_scale = positive(required(j, "", "bytes_scale"), "bytes_scale");
  } else {
    if (c.form != "kinds") fail("form", "expected \"link\" or \"kinds\", got \"" + c.form + "\"");
    object(j, "", {"form", "rest_scale", "kind_scale", "points", "max_rel_error"});
    read_kind_scales(j, c);
  }
  read_fit_figures(j, c);
  return c;
}

}  // namespace vitnas
