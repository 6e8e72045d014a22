// advrec:model  (the include rule: see cmake/check_includes.cmake)
// IRGAN for item recommendation (Wang, Yu, Zhang, Gong, Xu, Wang, Zhang, Zhang; SIGIR 2017), the
// pointwise setting of the paper's section 3.2 / its released code.
//
// Both players are matrix factorisations:
//   generator      p_theta(i | u) = softmax_i( (g_u . g_i + gb_i) / tau )   over all items
//   discriminator  f_phi(u, i) = d_u . d_i + db_i,  D(i | u) = sigmoid(f_phi(u, i))
// Discriminator step (eq. 3, maximised by D): for every user, its training items are the true
// pairs (label 1) and as many items drawn from p_theta(. | u) the generated ones (label 0); loss
// = binary cross-entropy, SGD.
// Generator step (eq. 5, policy gradient): the generator maximises E_{i ~ p_theta}[ reward(u, i) ]
// with reward = ln(1 + exp(f_phi(u, i))) (the paper's -ln(1 - D)) or, as the released code,
// 2 * (sigmoid(f_phi) - 0.5). Items are drawn from the mixture
//   pn = (1 - lambda) p_theta + lambda * uniform(u's training items)
// (the released code's importance sampling, `sample_lambda`), `g_samples` per training item, each
// weighted by p_theta / pn; the surrogate minimised is -(1/S) sum_s w_s r_s ln p_theta(i_s | u).
// Its gradient with respect to the logit of item k is gamma_k = -(c_k - R p_k) / (S tau), where
// c_k sums w_s r_s over samples equal to k and R over all samples (irgan_logit_coefficients).
//
// Each thread takes mini-batches of users (one GEMM for the batch's logits over all items, one for
// the generator's item gradient) and writes the shared matrices without locks (Hogwild). Both
// players rank by a dot product, so either can serve recommendations.
#pragma once

#include "advrec/common.hpp"
#include "advrec/csr.hpp"
#include "advrec/layers.hpp"
#include "advrec/types.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

namespace advrec {

enum class IRGANReward : int { Paper = 0, Centered = 1 };

struct IRGANConfig {
  float lr_g = 0.001f;
  float lr_d = 0.001f;
  float reg = 0.0f;            // L2 on the rows a step touches (user rows, item rows, biases)
  float temperature = 1.0f;    // tau of the generator's softmax
  float sample_lambda = 0.2f;  // weight of the uniform-over-positives part of the sampling mixture
  int g_samples = 2;           // generator samples per training item of the user
  IRGANReward reward = IRGANReward::Paper;
  int batch_size = 32;         // users per mini-batch (per thread)
  int num_threads = 0;
  std::uint64_t seed = 0;
  std::uint64_t epoch = 0;

  void validate() const;
};

// Views of NumPy-owned float32 row-major arrays.
struct IRGANParams {
  std::int32_t n_users = 0, n_items = 0, dim = 0;
  float* g_users = nullptr;  // n_users x dim
  float* g_items = nullptr;  // n_items x dim
  float* g_bias = nullptr;   // n_items
  float* d_users = nullptr;
  float* d_items = nullptr;
  float* d_bias = nullptr;

  void validate() const;
};

// One discriminator pass over all users with a training item. EpochStats: samples = entries
// (true + generated), loss = mean cross-entropy, accuracy = fraction classified right before the
// step.
EpochStats train_irgan_discriminator(IRGANParams& params, const CsrView& train, const IRGANConfig& config);

// One generator pass. EpochStats: samples = generated items, loss = mean surrogate per sample,
// adv_loss = mean reward, accuracy = fraction of the samples drawn from p_theta (not the mixture)
// that are training items of the user.
EpochStats train_irgan_generator(IRGANParams& params, const CsrView& train, const IRGANConfig& config);

// ---- templated pieces, shared with the gradient checks -------------------------------------------
// Softmax of logits / tau in place over n entries (max-subtracted).
template <class T>
inline void irgan_softmax(T* x, Index n, T tau) {
  T mx = x[0] / tau;
  for (Index k = 1; k < n; ++k) mx = std::max(mx, x[k] / tau);
  T sum = T(0);
  for (Index k = 0; k < n; ++k) {
    x[k] = std::exp(x[k] / tau - mx);
    sum += x[k];
  }
  for (Index k = 0; k < n; ++k) x[k] /= sum;
}

// gamma (n_items) = d surrogate / d logit for the samples (items, weights w_s r_s), given the
// policy's probabilities p. Returns the surrogate -(1/S) sum_s w_s r_s ln p[i_s].
template <class T>
inline T irgan_logit_coefficients(const T* p, Index n_items, const std::int32_t* samples, const T* weighted_reward,
                                  Index S, T tau, T* gamma) {
  T R = T(0), surrogate = T(0);
  for (Index s = 0; s < S; ++s) R += weighted_reward[s];
  const T scale = T(1) / (static_cast<T>(S) * tau);
  for (Index k = 0; k < n_items; ++k) gamma[k] = R * p[k] * scale;
  for (Index s = 0; s < S; ++s) {
    gamma[samples[s]] -= weighted_reward[s] * scale;
    surrogate -= weighted_reward[s] * std::log(p[samples[s]]);
  }
  return surrogate / static_cast<T>(S);
}

// The discriminator's cross-entropy over one user's entries and its gradients (without L2):
// grad_user (dim), grad_items (n x dim, row e for entry e), grad_bias (n).
template <class T>
inline T irgan_discriminator_gradients(const T* d_user, const T* d_items, const T* d_bias, int dim,
                                       const std::int32_t* items, const T* labels, Index n, T* grad_user,
                                       T* grad_items, T* grad_bias, Index* correct = nullptr) {
  T loss = T(0);
  for (int k = 0; k < dim; ++k) grad_user[k] = T(0);
  for (Index e = 0; e < n; ++e) {
    const T* q = d_items + static_cast<Index>(items[e]) * dim;
    T f = d_bias[items[e]];
    for (int k = 0; k < dim; ++k) f += d_user[k] * q[k];
    loss += layers::softplus(f) - labels[e] * f;
    if (correct) *correct += (f > T(0)) == (labels[e] > T(0.5));
    const T g = layers::sigmoid(f) - labels[e];
    for (int k = 0; k < dim; ++k) {
      grad_user[k] += g * q[k];
      grad_items[e * dim + k] = g * d_user[k];
    }
    grad_bias[e] = g;
  }
  return loss;
}

}  // namespace advrec
