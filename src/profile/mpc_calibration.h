// Calibration of the analytic MPC model to a measured MPC framework, in one of two forms:
//
// "link" (the default): the framework is taken to run the model's rounds and bytes on an
// effective link,
//   calibrated = rtt_scale * rounds * RTT + bytes_scale * bytes * 8 / bandwidth,
// i.e. effective RTT = rtt_scale * RTT and effective bandwidth = bandwidth / bytes_scale. Two
// numbers whose meaning carries to any shape: on MPCViT's published SPU points (README) fitted on
// one backbone it predicts the other within ~20% (per-kind scales: ~65%).
//
// "kinds": calibrated = rest_scale * rest_seconds + sum_k kind_scale[k] * attention_seconds[k].
// A head is attributed its own bytes / bandwidth plus its own rounds * RTT, divided by the
// number of heads when the heads run together (undivided when cascaded). A layer of one kind thus
// gets exactly its analytic attention time, and the attribution is linear in head counts. In a
// layer that mixes kinds the analytic step runs each kind's map once (the kinds one after
// another) while the attribution sums per-head shares of each head's own rounds (mean rounds);
// MPCViT's measured mu networks are linear in the number of RSAttn heads, which the mean
// reproduces (sharing the step would charge scaling heads the RSAttn rounds).
//
// With as many points as kinds (MPCViT's three single-kind networks) the fit is exact on them,
// and a network that mixes kinds is predicted by interpolating between them: a check of the
// linear attribution, not of the model's transfer to other shapes (see the README).
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "profile/measured_points.h"
#include "profile/mpc_cost.h"

namespace vitnas {

struct MpcCalibration {
  std::string form = "kinds";  // "link" or "kinds"; files without a form are "kinds"
  double rtt_scale = 1, bytes_scale = 1;  // form "link"
  double rest_scale = 1;                  // form "kinds"
  double kind_scale[3] = {1, 1, 1};  // indexed by int(AttentionKind)
  int points = 0;
  double max_rel_error = 0;
};

// Least squares on relative errors (each point weighted by 1 / its seconds). Form "link": the
// two scales (two points at least). Form "kinds": kind_scale of every kind present in the
// points, plus rest_scale only if there are more points than kind unknowns (otherwise
// rest_scale = 1); absent kinds keep 1. InputError for another form, too few points, points
// that cannot tell the unknowns apart, or a scale <= 0.
MpcCalibration fit_mpc_calibration(const std::vector<MeasuredPoint>& points, const CostTable& t,
                                   const LinkProfile& link, const std::string& form = "link");
// The link's RTT and bandwidth are the ones the breakdown was costed on.
double calibrated_seconds(const MpcBreakdown& b, const MpcCalibration& c, const LinkProfile& link);
double calibrated_seconds(const MpcRow& r, const MpcCalibration& c,
                          const LinkProfile& link);  // rows add up to the total
// One head's attributed cost (MpcBreakdown::head_shares) in calibrated seconds, for a head of
// `kind`; without a calibration (null) the analytic seconds.
double calibrated_head_seconds(const MpcCost& share, AttentionKind kind, const MpcCalibration* c,
                               const LinkProfile& link);
// The same for a part outside attention (the kinds form scales it by rest_scale).
double calibrated_rest_seconds(const MpcCost& cost, const MpcCalibration* c,
                               const LinkProfile& link);
// "link: RTT x0.9310 (37.2 ms), bytes x13.0480 (30.7 Mbit/s)" with the link, or
// "rest x1.0000, softmax x2.5812, relu_softmax x4.1100, scaling x33.9300"
std::string describe_calibration(const MpcCalibration& c, const LinkProfile& link);
nlohmann::json calibration_to_json(const MpcCalibration& c);
MpcCalibration calibration_from_json(const nlohmann::json& j);

}  // namespace vitnas
