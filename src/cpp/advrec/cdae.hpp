// advrec:model  (the include rule: see cmake/check_includes.cmake)
// CDAE: Collaborative Denoising Auto-Encoder (Wu, DuBois, Zheng, Ester; WSDM 2016).
//
// For user u with training vector y_u in {0,1}^I:
//   corrupted input   y~_u: every 1 of y_u is dropped with probability q, kept ones become 1/(1-q)
//   hidden            z_u  = h(W^T y~_u + V_u + b)            W: I x K, V_u: the user node, b: K
//   output            y^_ui = f(W'_i . z_u + b'_i)            W': I x K, b': I
//   objective         sum_u sum_{i in O_u u S_u} l(y_ui, y^_ui) + lambda/2 * ||parameters||^2
// O_u are u's training items (label 1), S_u negatives drawn uniformly (with replacement) among the
// items u never interacted with, `negatives` per positive: the paper's negative sampling of the
// zero entries, which makes one user's step cost O((|y_u| + |O_u u S_u|) K) instead of O(I K).
// h is identity or sigmoid (any Activation is accepted), f identity or sigmoid; l is the square
// loss, or the logistic (cross-entropy) loss, which needs f = sigmoid.
//
// Training is the paper's Algorithm 1: users in a random order, one stochastic step per user (SGD
// or AdaGrad, as in the paper), L2 applied to the rows a step touches; threads take disjoint
// slices of the user order and update the shared matrices without locks (Hogwild).
//
// Ranking: f is monotone, so items rank by a_ui = W'_i . z_u + b'_i, a dot product of
// [z_u, 1] and [W'_i, b'_i], where z_u is computed from the UNcorrupted y_u (cdae_encode).
#pragma once

#include "advrec/common.hpp"
#include "advrec/csr.hpp"
#include "advrec/layers.hpp"
#include "advrec/types.hpp"

#include <cstdint>
#include <vector>

namespace advrec {

enum class CDAELoss : int { Square = 0, Logistic = 1 };

struct CDAEConfig {
  float lr = 0.1f;
  float reg = 0.0f;          // lambda: L2 on every row a step touches (and on b)
  float corruption = 0.2f;   // q in [0, 1)
  int negatives = 5;         // |S_u| = negatives * |O_u|
  Activation hidden = Activation::Sigmoid;
  Activation output = Activation::Sigmoid;  // identity or sigmoid
  CDAELoss loss = CDAELoss::Logistic;
  Optimizer optimizer = Optimizer::Adagrad;
  int num_threads = 0;
  std::uint64_t seed = 0;
  std::uint64_t epoch = 0;

  // Value checks; messages name the Python argument.
  void validate() const;
};

// Views of caller-owned (NumPy) float32 row-major arrays. Accumulators (AdaGrad) have the shapes of
// their parameters and may be null for SGD.
struct CDAEParams {
  std::int32_t n_users = 0, n_items = 0, dim = 0;
  float* item_in = nullptr;      // W   (n_items x dim)
  float* user_node = nullptr;    // V   (n_users x dim)
  float* hidden_bias = nullptr;  // b   (dim)
  float* item_out = nullptr;     // W'  (n_items x dim)
  float* out_bias = nullptr;     // b'  (n_items)
  float* item_in_accum = nullptr;
  float* user_node_accum = nullptr;
  float* hidden_bias_accum = nullptr;
  float* item_out_accum = nullptr;
  float* out_bias_accum = nullptr;

  void validate(const CDAEConfig* config) const;
};

// One epoch: every user with at least one training item takes one step, in a random order drawn
// from (seed, epoch). EpochStats: samples = users trained, skipped = users without training items,
// loss = mean l over output entries (without L2), accuracy = fraction of output entries on the
// right side of the decision threshold (f = 0.5) before the step. Throws NumericalError when the
// parameters become non-finite.
EpochStats train_cdae(CDAEParams& params, const CsrView& train, const CDAEConfig& config);

// out (n x dim) = z_u for users[0..n), from the uncorrupted training vectors, with hidden
// activation h.
void cdae_encode(const CDAEParams& params, const CsrView& train, Activation hidden, const std::int32_t* users, Index n,
                 float* out, int num_threads);

// ---- the per-user forward/backward, templated on the scalar (float in training, double in the
// gradient checks of cpp/tests) ---------------------------------------------------------------------
template <class T>
struct CDAEView {
  std::int32_t n_users = 0, n_items = 0, dim = 0;
  const T* item_in = nullptr;
  const T* user_node = nullptr;
  const T* hidden_bias = nullptr;
  const T* item_out = nullptr;
  const T* out_bias = nullptr;
};

// One user's step: kept inputs (with their common value 1/(1-q)) and the output entries with labels.
template <class T>
struct CDAEUserBatch {
  std::int32_t user = 0;
  const std::int32_t* in_items = nullptr;
  Index n_in = 0;
  T in_value = T(1);
  const std::int32_t* out_items = nullptr;
  const T* labels = nullptr;
  Index n_out = 0;
};

// Gradients of the data term sum_o l(y_o, y^_o) (no L2): the gradient of W_j for a kept input j is
// in_value * pre (the same vector for every j), of V_u and b it is pre; of W'_{out[o]} row o of
// out, of b'_{out[o]} out_bias[o].
template <class T>
struct CDAEUserGrad {
  std::vector<T> z, pre, out, out_bias;
  void resize(int dim, Index n_out) {
    z.resize(static_cast<size_t>(dim));
    pre.resize(static_cast<size_t>(dim));
    out.resize(static_cast<size_t>(n_out) * dim);
    out_bias.resize(static_cast<size_t>(n_out));
  }
};

// Loss of one output entry with pre-activation a and label y, and d loss / d a.
template <class T>
inline T cdae_entry_loss(CDAELoss loss, Activation output, T a, T y, T& dloss) {
  if (loss == CDAELoss::Logistic) {  // -y ln s(a) - (1-y) ln(1-s(a)) = softplus(a) - y a
    dloss = layers::sigmoid(a) - y;
    return layers::softplus(a) - y * a;
  }
  const T s = layers::activate(output, a);
  dloss = (s - y) * layers::activation_grad_from_output(output, s);
  return T(0.5) * (s - y) * (s - y);
}

// z = h(in_value * sum_j W_j + V_u + b), written to `z` (dim).
template <class T>
inline void cdae_hidden(const CDAEView<T>& m, Activation hidden, std::int32_t user, const std::int32_t* in_items,
                        Index n_in, T in_value, T* z) {
  const int K = m.dim;
  const T* v = m.user_node + static_cast<Index>(user) * K;
  for (int k = 0; k < K; ++k) z[k] = v[k] + m.hidden_bias[k];
  layers::add_sparse_rows(z, m.item_in, K, in_items, n_in, in_value);
  layers::activate_inplace(hidden, z, K);
}

// Forward and backward for one user; returns the data loss. `correct` (optional) is incremented by
// the number of output entries on the right side of f = 0.5.
template <class T>
T cdae_user_gradients(const CDAEView<T>& m, const CDAEConfig& c, const CDAEUserBatch<T>& b, CDAEUserGrad<T>& g,
                      Index* correct = nullptr) {
  const int K = m.dim;
  g.resize(K, b.n_out);
  T* z = g.z.data();
  T* pre = g.pre.data();
  cdae_hidden(m, c.hidden, b.user, b.in_items, b.n_in, b.in_value, z);
  for (int k = 0; k < K; ++k) pre[k] = T(0);
  T total = T(0);
  Index right = 0;
  for (Index o = 0; o < b.n_out; ++o) {
    const Index i = b.out_items[o];
    const T* w = m.item_out + i * K;
    T a = m.out_bias[i];
    for (int k = 0; k < K; ++k) a += w[k] * z[k];
    T d;
    total += cdae_entry_loss(c.loss, c.output, a, b.labels[o], d);
    right += (layers::activate(c.output, a) > T(0.5)) == (b.labels[o] > T(0.5));
    T* go = g.out.data() + o * K;
    for (int k = 0; k < K; ++k) {
      go[k] = d * z[k];
      pre[k] += d * w[k];
    }
    g.out_bias[static_cast<size_t>(o)] = d;
  }
  layers::backprop_activation(c.hidden, z, pre, K);
  if (correct) *correct += right;
  return total;
}

}  // namespace advrec
