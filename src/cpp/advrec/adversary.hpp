// The APR adversary (He et al. 2018), written once for every model and every attack:
//
//   objective   l(Theta) + reg_adv * l(Theta + Delta_adv)
//   Delta_adv   eps * Gamma / ||Gamma||  per perturbed vector (row), Gamma = d l / d Delta at 0
//               (the fast gradient method; rows with Gamma = 0 are not perturbed)
//
// AMF (mf.cpp), AMR (vbpr.cpp) and ASASRec (sasrec.cpp) embed an AdversarialTerm in their config
// and scale rows with the helpers below; the attacks (FGM/FGSM, iterative/PGD) use the same
// normalisation and the projection onto the eps-ball. Where a model has a closed form for one
// sample (the direction of Delta is known without forming Gamma), it still takes the scale factor
// from fgm_scale so that "eps / ||Gamma||, 0 for a zero row" has one definition.
//
// Shared layer: includes no model header.
#pragma once

#include "advrec/common.hpp"
#include "advrec/kernels.hpp"

#include <cmath>
#include <string>

namespace advrec {

// The adversarial term of a training objective. Inactive when eps == 0 or reg_adv == 0, so that
// either reproduces the clean model exactly.
struct AdversarialTerm {
  float eps = 0.0f;      // budget: L2 norm of each perturbed vector
  float reg_adv = 0.0f;  // lambda: weight of the loss at the perturbed parameters

  bool active() const { return eps > 0.0f && reg_adv > 0.0f; }
  // Throws InvalidArgument naming the field ("eps must be >= 0, got -1.000000").
  void validate() const;
};

// Throws InvalidArgument unless eps is a finite number >= 0 (the attacks' budget check).
void check_budget(float eps, const char* name = "eps");

// The fast gradient method's scale for a row of norm `norm`: eps / norm, and 0 for a zero row.
ADVREC_INLINE float fgm_scale(float norm, float eps) { return norm > 0.0f ? eps / norm : 0.0f; }

// Rescales one row in place to L2 norm eps (a zero row stays zero). Single-precision norm through
// kernels::dot, the arithmetic every float trainer and attack uses.
ADVREC_INLINE void fgm_row(float* row, int d, float eps) {
  const float scale = fgm_scale(std::sqrt(kernels::dot(row, row, d)), eps);
#pragma omp simd
  for (int k = 0; k < d; ++k) row[k] *= scale;
}

// out = g scaled to L2 norm eps (0 when g = 0): Delta from its gradient Gamma, out of place.
ADVREC_INLINE void fgm_row_from(float* __restrict out, const float* __restrict g, int d, float eps) {
  const float scale = fgm_scale(std::sqrt(kernels::dot(g, g, d)), eps);
#pragma omp simd
  for (int k = 0; k < d; ++k) out[k] = g[k] * scale;
}

// Rescales every row of m (rows x dim) to L2 norm eps (rows of norm 0 stay 0): the fast gradient
// method's per-vector normalisation. With sign == true, uses eps * sign(row) instead (FGSM).
void fgm_normalise_rows(float* m, Index rows, int dim, float eps, bool sign, int num_threads);

// Projects every row of delta onto the L2 ball (or L-inf box when linf) of radius eps.
void project_rows(float* delta, Index rows, int dim, float eps, bool linf, int num_threads);

}  // namespace advrec
