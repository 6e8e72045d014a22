// advrec:model  (the include rule: see cmake/check_includes.cmake)
// Matrix factorisation trained with BPR, optionally with the APR adversarial regulariser (AMF).
//
// Score:      y(u, i) = p_u . q_i (+ b_i)
// BPR loss:   l(u, i, j) = -ln sigma(y(u, i) - y(u, j))
// APR:        l + lambda * l(Theta + Delta_adv), Delta_adv = eps * Gamma / ||Gamma|| per embedding
//             vector, Gamma = d l / d Delta at Delta = 0 (fast gradient method, He et al. 2018).
#pragma once

#include "advrec/adversary.hpp"
#include "advrec/common.hpp"
#include "advrec/csr.hpp"
#include "advrec/sampler.hpp"
#include "advrec/types.hpp"

#include <cstdint>
#include <vector>

namespace advrec {

// Plain configuration (fastText style); every field has the papers' default or a neutral value.
struct MFTrainConfig {
  float lr = 0.05f;
  float reg = 0.0f;          // L2 weight: gradient += reg * theta for every row a sample touches
  float reg_bias = 0.0f;     // L2 weight on item biases
  Optimizer optimizer = Optimizer::Adagrad;
  // Adversarial regulariser (APR) on the embeddings: users (p_u), items (q_i, q_j) or both.
  AdversarialTerm adv;
  bool perturb_users = true;
  bool perturb_items = true;
  // 1: per-sample SGD as in APR Algorithm 1. > 1: each thread takes mini-batches of this size,
  // sums gradients per row (an item positive in one triple and negative in another receives both)
  // and applies one optimiser step per touched row (APR section 3.4).
  int batch_size = 1;
  Index n_samples = -1;      // samples in this call; -1 = one epoch = number of training pairs
  // How negatives are drawn: uniformly (the BPR/APR papers) or by popularity (implicit's default).
  NegativeSampling negatives = NegativeSampling::Uniform;
  int num_threads = 0;       // 0 = all cores
  std::uint64_t seed = 0;
  std::uint64_t epoch = 0;   // mixes into the RNG streams so successive calls differ, reproducibly

  bool adversarial() const { return adv.active() && (perturb_users || perturb_items); }
  void validate() const;
};

// Views of parameter memory owned by the caller (NumPy). All matrices are row-major float32.
struct MFParams {
  std::int32_t n_users = 0, n_items = 0, dim = 0;
  float* user_factors = nullptr;   // n_users x dim
  float* item_factors = nullptr;   // n_items x dim
  float* item_bias = nullptr;      // n_items, or null when the model has no bias
  // Adagrad accumulators with the same shapes (null for SGD).
  float* user_accum = nullptr;
  float* item_accum = nullptr;
  float* bias_accum = nullptr;
};

// One pass of stochastic training. Hogwild: threads update shared rows without locks.
// Throws NumericalError if the parameters become non-finite.
EpochStats train_mf(MFParams& params, const TrainingIndex& train, const MFTrainConfig& config);
// The same, building the index for this one call (a fit builds it once: see TrainingIndex).
EpochStats train_mf(MFParams& params, const CsrView& train, const MFTrainConfig& config);

// Trains on the given triples in order, on the calling thread: batches of config.batch_size
// (1 = sample by sample). Deterministic; used by tests against reference implementations and by
// callers that build their own samples. Returns the same statistics as train_mf.
EpochStats train_mf_on_triples(MFParams& params, const std::int32_t* users, const std::int32_t* pos,
                               const std::int32_t* neg, Index n_triples, const MFTrainConfig& config);

// Draws, for each training pair (u, i) (or n per pair), a negative item j the user never
// interacted with. Deterministic for a seed, independent of the thread count.
struct Triples {
  std::vector<std::int32_t> users, pos, neg;
};
Triples sample_triples(const CsrView& train, std::uint64_t seed, int negatives_per_pair, int num_threads);

// Gradient of sum_t -ln sigma(y_uij) w.r.t. user and item factors (Delta = 0 of the perturbed
// model whose factors are given). Outputs are overwritten. Either output may be null to skip it.
// Returns the summed loss; `correct` (optional) receives the number of triples with y_uij > 0.
double bpr_gradients(const MFParams& params, const std::int32_t* users, const std::int32_t* pos,
                     const std::int32_t* neg, Index n_triples, float* grad_users, float* grad_items,
                     Index* correct, int num_threads);

}  // namespace advrec
