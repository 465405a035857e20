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

// weighted_index over m values: r = random * the row total, then compare the cumulative sums
// with r (functions/sampling.py).
MpcCost weighted_index_row(const CostTable& t, double m) {
  return elementwise_cost(t, "random", 1) + elementwise_cost(t, "multiply", 1) + elementwise_cost(t, "compare", m);
}

// The max of m values by all pairwise comparisons (maximum.py, _argmax_helper_pairwise), then
// max = sum(x * one-hot).
MpcCost pairwise_max_row(const CostTable& t, int64_t m) {
  const int64_t len = m > 1 ? m : 2;
  MpcCost c = elementwise_cost(t, "compare", double(len - 1) * m);
  if (len - 1 < 128) {  // product of the m - 1 comparisons, a tree of halvings
    for (int64_t s = len - 1; s > 1; s = s / 2 + s % 2) c = c + elementwise_cost(t, "multiply", double(s / 2) * m);
  } else {  // sum, then one compare with m - 1
    c = c + elementwise_cost(t, "compare", m);
  }
  return c + weighted_index_row(t, m) + elementwise_cost(t, "multiply", m);
}

// One row of the row max (mpc_ops.h); the caller multiplies bytes by the rows.
MpcCost row_max_row(int64_t n, const CostTable& t) {
  MpcCost c;
  int64_t m = n;
  const int steps = static_cast<int>(std::log(static_cast<double>(n)));  // Python's int(log(n))
  for (int i = 0; i < steps; ++i) {
    const double pairs = static_cast<double>(m / 2);
    c = c + elementwise_cost(t, "compare", pairs) + elementwise_cost(t, "multiply", pairs) +
        elementwise_cost(t, "multiply", pairs);  // where(c, x, y): x c, then y (1 - c)
    m = m / 2 + m % 2;
  }
  c = c + pairwise_max_row(t, m);
  if (t.row_max == "argmax")
    c = c + elementwise_cost(t, "equal", double(n)) + weighted_index_row(t, double(n));
  return c;
}

}  // namespace

MpcCost elementwise_cost(const CostTable& t, const std::string& op, double n) {
  if (n <= 0) return {};
  const MpcOpCost& c = op_of(t, op);
  return {c.rounds, c.bytes_per_elem * n};
}

MpcCost relu_cost(const CostTable& t, double n) {
  return elementwise_cost(t, "compare", n) + elementwise_cost(t, "multiply", n);
}

MpcCost reciprocal_signed_cost(const CostTable& t, double n) {
  return elementwise_cost(t, "compare", n) + elementwise_cost(t, "multiply", n) +
         elementwise_cost(t, "reciprocal", n) + elementwise_cost(t, "multiply", n);
}

MpcCost gelu_cost(const CostTable& t, const std::string& form, double n) {
  if (form == "tanh")
    return elementwise_cost(t, "square", n) + elementwise_cost(t, "multiply", n) +
           elementwise_cost(t, "sigmoid", n) + elementwise_cost(t, "multiply", n);
  return elementwise_cost(t, "erf", n) + elementwise_cost(t, "multiply", n);
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
  if (t.row_max != "argmax" && t.row_max != "tree")
    throw InputError("cost table '" + t.name + "': row_max must be \"argmax\" or \"tree\"");
  MpcCost c = row_max_row(n, t);
  c.bytes *= static_cast<double>(rows);
  return c;
}

MpcCost softmax_cost(int64_t rows, int64_t n, const CostTable& t) {
  const double R = static_cast<double>(rows), N = static_cast<double>(n);
  return row_max_cost(rows, n, t) + elementwise_cost(t, "exp", R * N) +
         elementwise_cost(t, "reciprocal", R) + bcast_multiply_cost(t, R, N);
}

MpcCost relu_softmax_cost(int64_t rows, int64_t n, const CostTable& t, bool signed_reciprocal) {
  const double R = static_cast<double>(rows), N = static_cast<double>(n);
  return relu_cost(t, R * N) +
         (signed_reciprocal ? reciprocal_signed_cost(t, R) : elementwise_cost(t, "reciprocal", R)) +
         bcast_multiply_cost(t, R, N);
}

MpcCost layer_norm_cost(const CostTable& t, double rows, double width) {
  return elementwise_cost(t, "square", rows * width) + elementwise_cost(t, "inv_sqrt", rows) +
         bcast_multiply_cost(t, rows, width);
}

MpcCost sigmoid_cost(const CostTable& t, double n) { return elementwise_cost(t, "sigmoid", n); }

MpcCost activation_cost(const CostTable& t, Activation a, double n) {
  switch (a) {
    case Activation::GELU: return gelu_cost(t, t.gelu_form, n);
    case Activation::ReLU: return relu_cost(t, n);
    case Activation::Identity: return {};
  }
  throw std::logic_error("activation_cost: invalid Activation");
}

HeadCost head_cost(const CostTable& t, AttentionKind kind, int64_t n, int64_t qk, int64_t v,
                   int64_t copies) {
  const double N = static_cast<double>(n);
  HeadCost c;
  c.matmuls = matmul_cost(t, N, qk, N) + matmul_cost(t, N, N, v);  // scores, A V
  switch (kind) {
    case AttentionKind::Softmax: c.map = softmax_cost(n, n, t); break;
    case AttentionKind::ReluSoftmax: c.map = relu_softmax_cost(n, n, t); break;
    case AttentionKind::Scaling: {
      const MpcCost reassoc = matmul_cost(t, qk, N, v) + matmul_cost(t, N, qk, v);  // K^T V, Q (.)
      if (reassoc.bytes < c.matmuls.bytes) c.matmuls = reassoc;
      break;
    }
  }
  c.matmuls.bytes *= static_cast<double>(copies);
  c.map.bytes *= static_cast<double>(copies);
  return c;
}

}  // namespace vitnas
