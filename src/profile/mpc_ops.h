// What the secret ops of a network cost under a cost table (mpc_cost_table.h), in rounds and
// bytes, derived from the table's primitive ops the way CrypTen computes each op (n = elements;
// "bcast(r, c)" = an r x c matrix times a per-row secret value, each operand opened once:
// multiply.rounds, multiply.bytes_per_elem / 2 * (r c + r)):
//   primitive op             op.rounds, op.bytes_per_elem * n  (multiply, exp, reciprocal, ...)
//   ReLU                     x * (x >= 0): compare + multiply
//   signed reciprocal        sign (compare), |x| = x sign (multiply), reciprocal, times the sign
//                            (multiply)
//   GeLU, erf form           0.5 x (1 + erf(x / sqrt 2)): erf + multiply
//   GeLU, tanh form          x^2 (square), x^3 (multiply), tanh (= 2 sigmoid(2x) - 1: sigmoid),
//                            times x (multiply)
//   matmul A(m x k) B(k x p) matmul.rounds, matmul.bytes_per_elem * (m k + k p)
//   row max, rows x N        CrypTen's log_reduction (functions/maximum.py), per row:
//                            floor(ln N) halving steps, each comparing m/2 pairs (compare) and
//                            selecting with where(c, x, y) = x c + y (1 - c) (two multiplies,
//                            one after the other); on the m left, all (m - 1) m comparisons, their
//                            product over m - 1 (a tree of ceil(log2(m - 1)) multiplies; above 127
//                            a sum and one more compare instead), the weighted_index tie-break
//                            (random per row, times the row total: multiply, then compare on m)
//                            and max = sum(x * one-hot) (multiply). row_max "argmax" (CrypTen's
//                            x.max(dim), what its softmax calls) also builds the one-hot argmax of
//                            the N inputs: equal on N, then weighted_index over N. N = 1 is free.
//   softmax, rows x N        row max + exp(rows N) + reciprocal(rows) + bcast(rows, N); the max
//                            subtraction and the row sums are free
//   relu_softmax, rows x N   ReLU(rows N) + reciprocal(rows) (or the signed one) + bcast(rows, N)
//   scaling                  S / N is free; A V uses the cheaper (in bytes) of (Q K^T) V and
//                            Q (K^T V) (a public relative-position bias B adds B V: free)
//   LayerNorm (M rows x D)   square(M D) + inv_sqrt(M) + bcast(M, D)  (mean subtraction free)
//   sigmoid (SE gate)        the sigmoid op
// Linear layers, convolutions, BN, biases, adds, means and multiplications by public values are
// local (free): weights are public, activations secret-shared.
#pragma once

#include <cstdint>
#include <string>

#include "core/arch_spec.h"
#include "profile/mpc_cost_table.h"
#include "profile/mpc_link.h"

namespace vitnas {

MpcCost elementwise_cost(const CostTable& t, const std::string& op, double n);  // 0 when n <= 0
MpcCost relu_cost(const CostTable& t, double n);
MpcCost reciprocal_signed_cost(const CostTable& t, double n);
MpcCost gelu_cost(const CostTable& t, const std::string& form, double n);  // "erf" or "tanh"
MpcCost matmul_cost(const CostTable& t, double m, double k, double p);
MpcCost bcast_multiply_cost(const CostTable& t, double rows, double cols);
MpcCost row_max_cost(int64_t rows, int64_t n, const CostTable& t);  // t.row_max's form
MpcCost softmax_cost(int64_t rows, int64_t n, const CostTable& t);
MpcCost relu_softmax_cost(int64_t rows, int64_t n, const CostTable& t,
                          bool signed_reciprocal = false);
MpcCost layer_norm_cost(const CostTable& t, double rows, double width);
MpcCost sigmoid_cost(const CostTable& t, double n);
MpcCost activation_cost(const CostTable& t, Activation a, double n);

// One attention head on `copies` windows of n tokens (qk and v channels): the two matmuls
// (scores and A V, or K^T V and Q (K^T V)) and the kind's map (none for scaling). Windows run
// together, so only bytes scale with copies.
struct HeadCost {
  MpcCost matmuls, map;
  MpcCost total() const { return matmuls + map; }
};
HeadCost head_cost(const CostTable& t, AttentionKind kind, int64_t n, int64_t qk, int64_t v,
                   int64_t copies);

}  // namespace vitnas
