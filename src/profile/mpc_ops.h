// What the secret ops of a network cost under a cost table (mpc_cost_table.h), in rounds and
// bytes. Formulas (n = elements; "bcast(r, c)" = an r x c matrix times a per-row secret value,
// each operand opened once: multiply.rounds, multiply.bytes_per_elem / 2 * (r c + r)):
//   elementwise op           op.rounds, op.bytes_per_elem * n  (relu, exp, reciprocal, ...)
//   matmul A(m x k) B(k x p) matmul.rounds, matmul.bytes_per_elem * (m k + k p)
//   row max, rows x N        rounds_base + rounds_per_ln_step * floor(ln N) (CrypTen's
//                            log_reduction: int(ln N) halving steps, then one all-pairs step);
//                            bytes/elem piecewise linear in ln N between the anchors, clamped
//                            outside them (the tree's per-element cost is only known there);
//                            N = 1 is free
//   softmax (N x N)          row max + exp(N^2) + reciprocal(N) + bcast(N, N); the max
//                            subtraction and the row sums are free
//   relu_softmax (N x N)     relu(N^2) + reciprocal(N) + bcast(N, N)
//   scaling                  S / N is free; A V uses the cheaper (in bytes) of (Q K^T) V and
//                            Q (K^T V) (a public relative-position bias B adds B V: free)
//   LayerNorm (M rows x D)   square(M D) + inv_sqrt(M) + bcast(M, D)  (mean subtraction free)
//   GeLU                     the "gelu" op (erf form) or "gelu_tanh" when gelu_form = "tanh"
//   sigmoid (SE gate)        CrypTen: s = reciprocal(1 + exp(-|x|)), |x| = sign(x) x,
//                            out = where(x < 0, 1 - s, s): compare + multiply + exp +
//                            reciprocal + multiply per value
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
MpcCost matmul_cost(const CostTable& t, double m, double k, double p);
MpcCost bcast_multiply_cost(const CostTable& t, double rows, double cols);
MpcCost row_max_cost(int64_t rows, int64_t n, const CostTable& t);
MpcCost softmax_cost(int64_t n, const CostTable& t);       // one N x N matrix
MpcCost relu_softmax_cost(int64_t n, const CostTable& t);  // one N x N matrix
MpcCost layer_norm_cost(const CostTable& t, double rows, double width);
MpcCost sigmoid_cost(const CostTable& t, double n);
MpcCost activation_cost(const CostTable& t, Activation a, double n);

// One attention head on `copies` windows of n tokens (qk and v channels): scores, the kind's
// map, times V. Windows run together, so only bytes scale with copies.
MpcCost head_cost(const CostTable& t, AttentionKind kind, int64_t n, int64_t qk, int64_t v,
                  int64_t copies);

}  // namespace vitnas
