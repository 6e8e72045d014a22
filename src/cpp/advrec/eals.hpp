// advrec:model  (the include rule: see cmake/check_includes.cmake)
// MF-eALS: matrix factorisation with popularity-weighted missing data, trained by element-wise
// alternating least squares (He, Zhang, Kan, Chua, SIGIR 2016).
//
// Score:   y(u, i) = p_u . q_i
// Loss:    L = sum_{(u,i) in R} w (1 - y_ui)^2 + sum_u sum_{i not in R_u} c_i y_ui^2
//              + reg (sum_u |p_u|^2 + sum_i |q_i|^2)
// Missing-data weights: c_i = c0 * f_i^alpha / sum_j f_j^alpha, f_i = the item's share of the
// training interactions (alpha = 0: every item weighs c0 / n_items).
//
// One iteration updates every user (each coordinate p_uf in turn, f = 0..d-1) with Q fixed, then
// every item with P fixed. The coordinate update is the exact minimiser of L in that coordinate:
//   p_uf = [sum_{i in R_u} (w - (w - c_i) yhat^f_ui) q_if - sum_{k != f} p_uk S^q_kf]
//          / [sum_{i in R_u} (w - c_i) q_if^2 + S^q_ff + reg],
//   yhat^f_ui = y_ui - p_uf q_if,   S^q = sum_i c_i q_i q_i^T (d x d, cached per iteration),
// and symmetrically for q_if with S^p = sum_u p_u p_u^T:
//   q_if = [sum_{u in R_i} (w - (w - c_i) yhat^f_ui) p_uf - c_i sum_{k != f} q_ik S^p_kf]
//          / [sum_{u in R_i} (w - c_i) p_uf^2 + c_i S^p_ff + reg].
// The Gram matrices stand in for the sum over all missing entries, so an iteration costs
// O(|R| d + (|U| + |I|) d^2), within the paper's O((|R| + |U| + |I|) d^2).
//
// Rows are independent within a half-iteration, so users (then items) are spread over threads and
// the result does not depend on the thread count or schedule.
#pragma once

#include "advrec/common.hpp"
#include "advrec/csr.hpp"
#include "advrec/types.hpp"

#include <cstdint>
#include <vector>

namespace advrec {

struct EALSConfig {
  float reg = 0.01f;          // L2 weight (lambda)
  float weight = 1.0f;        // w: weight of every observed entry (target 1)
  float c0 = 512.0f;          // total weight of the missing data
  float alpha = 0.4f;         // popularity exponent of the missing-data weights
  bool compute_loss = true;   // evaluate L after the iteration (one extra O(|R| d + |U| d^2) pass)
  int num_threads = 0;        // 0 = all cores

  // Throws InvalidArgument naming the first invalid field.
  void validate() const;
};

// Views of caller-owned (NumPy) memory, row-major float32.
struct EALSParams {
  std::int32_t n_users = 0, n_items = 0, dim = 0;
  float* user_factors = nullptr;  // n_users x dim
  float* item_factors = nullptr;  // n_items x dim
};

struct EALSStats {
  double loss = 0.0;  // L after the iteration (NaN when compute_loss is false)
  Index nnz = 0;      // observed entries
};

// c_i for every item of `train` (n_cols values), as defined above.
std::vector<float> eals_missing_weights(const CsrView& train, float c0, float alpha);

// One full iteration (all users, then all items). Throws NumericalError if a factor becomes
// non-finite.
EALSStats train_eals(EALSParams& params, const CsrView& train, const EALSConfig& config);

// The objective L at the current parameters (double precision; for tests and monitoring).
double eals_loss(const EALSParams& params, const CsrView& train, const EALSConfig& config);

}  // namespace advrec
