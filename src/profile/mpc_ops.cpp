#include "profile/mpc_ops.h"

#include <cmath>
#include <stdexcept>

#include "core/error.h"

namespace vitnas {

namespace {

const MpcOpCost& op_of(const CostTable& t, const std::string& name) {
  const auto it = t.ops.find(name);
  if (it == t.ops.end()) throw InputError("cost table '" + t.name + "': op " + name + " missing");
  return it->second;
}

double row_max_bytes_per_elem(double n, const CostTable& t) {
  const auto& a = t.row_max_anchors;
  if (a.empty()) throw InputError("cost table '" + t.name + "': row_max.anchors missing");
  if (n <= a.front().n) return a.front().bytes_per_elem;
  if (n >= a.back().n) return a.back().bytes_per_elem;
  size_t i = 1;
  while (a[i].n < n) ++i;
  const double f = std::log(n / a[i - 1].n) / std::log(a[i].n / a[i - 1].n);
  return a[i - 1].bytes_per_elem + f * (a[i].bytes_per_elem - a[i - 1].bytes_per_elem);
}

}  // namespace

MpcCost elementwise_cost(const CostTable& t, const std::string& op, double n) {
  if (n <= 0) return {};
  const MpcOpCost& c = op_of(t, op);
  return {c.rounds, c.bytes_per_elem * n};
}

MpcCost matmul_cost(const CostTable& t, double m, double k, double p) {
  const MpcOpCost& op = op_of(t, "matmul");
  return {op.rounds, op.bytes_per_elem * (m * k + k * p)};
}

// One Beaver round opening each operand once: half a full multiply's bytes per operand element.
MpcCost bcast_multiply_cost(const CostTable& t, double rows, double cols) {
  const MpcOpCost& op = op_of(t, "multiply");
  return {op.rounds, op.bytes_per_elem / 2 * (rows * cols + rows)};
}

MpcCost row_max_cost(int64_t rows, int64_t n, const CostTable& t) {
  if (n <= 1 || rows <= 0) return {};  // the max of one value is the value
  const double N = static_cast<double>(n);
  return {t.row_max_rounds_base + t.row_max_rounds_per_ln_step * std::floor(std::log(N)),
          row_max_bytes_per_elem(N, t) * static_cast<double>(rows) * N};
}

MpcCost softmax_cost(int64_t n, const CostTable& t) {
  const double N = static_cast<double>(n);
  return row_max_cost(n, n, t) + elementwise_cost(t, "exp", N * N) +
         elementwise_cost(t, "reciprocal", N) + bcast_multiply_cost(t, N, N);
}

MpcCost relu_softmax_cost(int64_t n, const CostTable& t) {
  const double N = static_cast<double>(n);
  return elementwise_cost(t, "relu", N * N) + elementwise_cost(t, "reciprocal", N) +
         bcast_multiply_cost(t, N, N);
}

MpcCost layer_norm_cost(const CostTable& t, double rows, double width) {
  return elementwise_cost(t, "square", rows * width) + elementwise_cost(t, "inv_sqrt", rows) +
         bcast_multiply_cost(t, rows, width);
}

// CrypTen's sigmoid: where(x < 0, 1 - s, s), s = reciprocal(1 + exp(-sign(x) x)).
MpcCost sigmoid_cost(const CostTable& t, double n) {
  return elementwise_cost(t, "compare", n) + elementwise_cost(t, "multiply", n) +
         elementwise_cost(t, "exp", n) + elementwise_cost(t, "reciprocal", n) +
         elementwise_cost(t, "multiply", n);
}

MpcCost activation_cost(const CostTable& t, Activation a, double n) {
  switch (a) {
    case Activation::GELU:
      return elementwise_cost(t, t.gelu_form == "tanh" ? "gelu_tanh" : "gelu", n);
    case Activation::ReLU: return elementwise_cost(t, "relu", n);
    case Activation::Identity: return {};
  }
  throw std::logic_error("activation_cost: invalid Activation");
}

MpcCost head_cost(const CostTable& t, AttentionKind kind, int64_t n, int64_t qk, int64_t v,
                  int64_t copies) {
  const double N = static_cast<double>(n);
  const MpcCost scores = matmul_cost(t, N, qk, N);
  const MpcCost av = matmul_cost(t, N, N, v);
  MpcCost c;
  switch (kind) {
    case AttentionKind::Softmax: c = scores + softmax_cost(n, t) + av; break;
    case AttentionKind::ReluSoftmax: c = scores + relu_softmax_cost(n, t) + av; break;
    case AttentionKind::Scaling: {
      const MpcCost reassoc = matmul_cost(t, qk, N, v) + matmul_cost(t, N, qk, v);  // K^T V, Q (.)
      c = reassoc.bytes < (scores + av).bytes ? reassoc : scores + av;
      break;
    }
  }
  c.bytes *= static_cast<double>(copies);
  return c;
}

}  // namespace vitnas
