// advrec:model  (the include rule: see cmake/check_includes.cmake)
// Content-aware BPR models: VBPR, AMR and a content-only (DUIF-style) model.
//
// Score (one formula covers the three models):
//   y(u, i) = p_u . q_i  +  theta_u . (E c_i)  +  b_i  +  b' . c_i
// * VBPR (He & McAuley 2016; AMR paper eq. 2): separate p_u (dim) and theta_u (vdim), optional
//   item bias b_i and visual bias b'.
// * AMR model (AMR paper eq. 4): theta_u == p_u (one user vector, dim == vdim), i.e.
//   y = p_u . (q_i + E c_i). Trained with the adversarial objective on the features (eq. 7-13):
//   l(u,i,j) + lambda * l'(u,i,j) where l' is the BPR loss with c_i + Delta_i and c_j + Delta_j,
//   Delta = eps * Gamma / ||Gamma|| per item feature vector, Gamma = d l' / d Delta at Delta = 0.
// * Content-only (DUIF-style): no ID part (dim == 0), y = theta_u . (E c_i) (+ b' . c_i).
//
// E is stored transposed, as `projection` of shape (n_features, vdim) row-major, so that the item
// content vectors of all items are F @ projection.
#pragma once

#include "advrec/adversary.hpp"
#include "advrec/common.hpp"
#include "advrec/csr.hpp"
#include "advrec/types.hpp"

#include <cstdint>
#include <vector>

namespace advrec {

struct VBPRTrainConfig {
  float lr = 0.05f;
  float reg = 0.0f;             // L2 on the user/item rows a triple touches (p_u, q_i, q_j, theta_u)
  float reg_bias = 0.0f;        // L2 on item biases b_i, b_j
  float reg_projection = 0.0f;  // L2 on E and b' (every triple touches them)
  Optimizer optimizer = Optimizer::Adagrad;
  // Adversarial regulariser on the content features (AMR). Inactive when eps == 0 or reg_adv == 0:
  // either reproduces plain VBPR training bit for bit.
  AdversarialTerm adv;
  // 1: per-triple SGD, Hogwild on every parameter including E. > 1: each thread takes mini-batches
  // of this size, sums gradients (E's as one GEMM) and applies one optimiser step per touched row
  // and one to E; the adversary's Delta_i is normalised from the gradient summed over the batch
  // (AMR section 3.3).
  int batch_size = 1;
  // Negatives are drawn uniformly among the items with at least one training interaction that the
  // user never interacted with (AMR section 4.1.2: cold-start items are not used as negatives).
  // true: among all items instead.
  bool cold_negatives = false;
  Index n_samples = -1;  // samples in this call; -1 = one epoch = number of training pairs
  int num_threads = 0;
  std::uint64_t seed = 0;
  std::uint64_t epoch = 0;

  void validate() const;
};

// Views of caller-owned memory (NumPy). All row-major float32.
struct VBPRParams {
  std::int32_t n_users = 0, n_items = 0;
  std::int32_t dim = 0;         // ID factors (0: content-only model, no p_u / q_i)
  std::int32_t vdim = 0;        // content factors (rows of theta_u and columns of projection)
  std::int32_t n_features = 0;  // D
  const float* features = nullptr;  // n_items x D
  float* user_factors = nullptr;    // n_users x dim (null when dim == 0)
  float* item_factors = nullptr;    // n_items x dim (null when dim == 0)
  // n_users x vdim. Equal to user_factors for the AMR model (then dim == vdim).
  float* user_visual = nullptr;
  float* projection = nullptr;   // D x vdim (E transposed)
  float* item_bias = nullptr;    // n_items, optional
  float* visual_bias = nullptr;  // D, optional
  // Adagrad accumulators, same shapes (null for SGD). user_visual_accum == user_accum when shared.
  float* user_accum = nullptr;
  float* item_accum = nullptr;
  float* user_visual_accum = nullptr;
  float* projection_accum = nullptr;
  float* bias_accum = nullptr;
  float* visual_bias_accum = nullptr;

  bool shared_user() const { return user_visual == user_factors; }
  void validate(const VBPRTrainConfig* config) const;
};

// One pass of stochastic training (see VBPRTrainConfig::batch_size). Throws NumericalError when
// parameters become non-finite.
EpochStats train_vbpr(VBPRParams& params, const CsrView& train, const VBPRTrainConfig& config);

// Trains on the given triples in order on the calling thread, in batches of config.batch_size.
// Deterministic; used by tests.
EpochStats train_vbpr_on_triples(VBPRParams& params, const std::int32_t* users, const std::int32_t* pos,
                                 const std::int32_t* neg, Index n_triples, const VBPRTrainConfig& config);

// Gradient of the full training objective over the triples taken as ONE batch, parameters fixed:
//   sum_t [ l_t + reg_adv * l'_t(Delta) ] + reg terms (0.5 * reg * ||row||^2 per touch, ...)
// Every output has the shape of its parameter and is overwritten (null outputs are skipped;
// grad_user_visual is ignored for the shared-user model, whose whole gradient goes to
// grad_users). `delta_out` (n_items x D, optional) receives the adversary's Delta (zero rows for
// items not in the triples). Returns the objective without regularisation.
struct VBPRGradients {
  float* users = nullptr;
  float* items = nullptr;
  float* user_visual = nullptr;
  float* projection = nullptr;
  float* item_bias = nullptr;
  float* visual_bias = nullptr;
  float* delta = nullptr;
};
double vbpr_objective_gradients(const VBPRParams& params, const std::int32_t* users, const std::int32_t* pos,
                                const std::int32_t* neg, Index n_triples, const VBPRTrainConfig& config,
                                VBPRGradients& out);

// The adversary's gradient: d/dc_k of sum_t -ln sigma(y(u,i) - y(u,j)) evaluated at the features
// F + delta (delta may be null = 0), for every item k. grad (n_items x D) is overwritten. Returns
// the summed loss; `correct` (optional) receives the count of triples with y(u,i) > y(u,j).
double vbpr_feature_gradients(const VBPRParams& params, const float* delta, const std::int32_t* users,
                              const std::int32_t* pos, const std::int32_t* neg, Index n_triples, float* grad,
                              Index* correct, int num_threads);

// Content part of the item vectors: out_v (n_items x vdim) = (F + delta) E, and, when the model has
// a visual bias, out_b (n_items) = (F + delta) . b'. delta may be null.
void vbpr_item_content(const VBPRParams& params, const float* delta, float* out_v, float* out_b, int num_threads);

}  // namespace advrec
