// advrec:model  (the include rule: see cmake/check_includes.cmake)
// NeuMF: neural matrix factorisation (He, Liao, Zhang, Nie, Hu, Chua, WWW 2017).
//
//   GMF:    phi_G = p^G_u (*) q^G_i                                  (element-wise product, dim g)
//   MLP:    z_0 = [p^M_u ; q^M_i] (2e),  z_l = relu(W_l z_{l-1} + b_l), l = 1..L
//   logit:  h_G . phi_G + h_M . z_L + b      (mode GMF: the first term only; MLP: the second only)
//   loss:   -y ln sigma(logit) - (1 - y) ln(1 - sigma(logit))   (log loss, y in {0, 1})
//
// Training instances: every training pair (u, i) as a positive and `negatives` items the user
// never interacted with, drawn uniformly, as negatives. Pre-training (the paper's section 3.4.1)
// trains GMF and MLP separately with Adam (modes GMF and MLP on one parameter set: each mode
// reads its own half of h and its own output bias) and then fuses them:
// h = [alpha h_G ; (1 - alpha) h_M], b = alpha b_G + (1 - alpha) b_M (neumf_fuse).
//
// The per-pair layers are templates on the scalar so that the tests check their gradients in
// double precision against finite differences; the engine runs them in float.
#pragma once

#include "advrec/common.hpp"
#include "advrec/csr.hpp"
#include "advrec/types.hpp"

#include <cmath>
#include <cstdint>
#include <vector>

namespace advrec {

enum class NeuMFMode : int { GMF = 0, MLP = 1, NeuMF = 2 };
enum class NeuMFOptimizer : int { SGD = 0, Adam = 1 };

// Offsets of the dense parameters in one flat array: W_1, b_1, ..., W_L, b_L, h (g + h_L),
// out_bias[2] (GMF's, MLP's; NeuMF uses the first after fusion). W_l is h_l x h_{l-1}, row-major.
struct NeuMFLayout {
  int gmf_dim = 0, mlp_dim = 0;       // g and e (the MLP embedding; z_0 has 2e values)
  std::vector<int> hidden;            // h_1..h_L
  std::vector<Index> w_offset, b_offset;
  Index h_offset = 0, bias_offset = 0, size = 0;

  NeuMFLayout() = default;
  NeuMFLayout(int gmf_dim, int mlp_dim, std::vector<int> hidden);
  int layer_in(std::size_t l) const { return l == 0 ? 2 * mlp_dim : hidden[l - 1]; }
  int last() const { return hidden.empty() ? 2 * mlp_dim : hidden.back(); }
  int widest() const;
};

struct NeuMFConfig {
  NeuMFMode mode = NeuMFMode::NeuMF;
  NeuMFOptimizer optimizer = NeuMFOptimizer::Adam;
  float lr = 0.001f;
  float beta1 = 0.9f, beta2 = 0.999f, adam_eps = 1e-7f;
  float reg = 0.0f;         // L2 on the embedding rows a mini-batch touches
  float reg_dense = 0.0f;   // L2 on the weight matrices and h
  int negatives = 4;        // negatives per positive
  int batch_size = 256;     // instances per optimiser step (positives and negatives together)
  int num_threads = 0;      // 0 = all cores; each thread trains its own mini-batches (Hogwild)
  std::uint64_t seed = 0;
  std::uint64_t epoch = 0;  // mixes into the streams so successive epochs differ, reproducibly

  // Throws InvalidArgument naming the first invalid field.
  void validate() const;
};

// Views of caller-owned (NumPy) float32 memory. Adam moments (m, v) have the parameters' shapes;
// they may be null for SGD. `step` counts Adam steps (bias correction), shared by all threads.
template <class T>
struct NeuMFTensors {
  T* gmf_user = nullptr;  // n_users x g
  T* gmf_item = nullptr;  // n_items x g
  T* mlp_user = nullptr;  // n_users x e
  T* mlp_item = nullptr;  // n_items x e
  T* dense = nullptr;     // layout.size
};

struct NeuMFParams {
  std::int32_t n_users = 0, n_items = 0;
  NeuMFLayout layout;
  NeuMFTensors<float> w, m, v;
  std::int64_t* step = nullptr;
};

struct NeuMFStats {
  Index instances = 0;
  double loss = 0.0;      // mean log loss
  double accuracy = 0.0;  // fraction of instances with sign(logit) matching the label
};

// ---- the per-pair model (templated on the scalar) ------------------------------------------------
// Scratch for one pair: every layer's activations z_0..z_L and a backward buffer.
template <class T>
struct NeuMFScratch {
  std::vector<std::vector<T>> z;
  std::vector<T> dz, dprev, gmf;
  explicit NeuMFScratch(const NeuMFLayout& L) : z(L.hidden.size() + 1) {
    for (std::size_t l = 0; l <= L.hidden.size(); ++l) z[l].resize(static_cast<std::size_t>(l == 0 ? 2 * L.mlp_dim : L.hidden[l - 1]));
    dz.resize(static_cast<std::size_t>(L.widest()));
    dprev.resize(static_cast<std::size_t>(L.widest()));
    gmf.resize(static_cast<std::size_t>(L.gmf_dim));
  }
};

// The logit of (user vectors, item vectors). pg/qg: GMF rows (g), pm/qm: MLP rows (e).
template <class T>
T neumf_forward(const NeuMFLayout& L, NeuMFMode mode, const T* dense, const T* pg, const T* qg, const T* pm,
                const T* qm, NeuMFScratch<T>& s) {
  const T* h = dense + L.h_offset;
  T logit = 0;
  if (mode != NeuMFMode::MLP) {
    for (int k = 0; k < L.gmf_dim; ++k) {
      s.gmf[k] = pg[k] * qg[k];
      logit += h[k] * s.gmf[k];
    }
  }
  if (mode != NeuMFMode::GMF) {
    std::vector<T>& z0 = s.z[0];
    for (int k = 0; k < L.mlp_dim; ++k) {
      z0[k] = pm[k];
      z0[L.mlp_dim + k] = qm[k];
    }
    for (std::size_t l = 0; l < L.hidden.size(); ++l) {
      const int in = L.layer_in(l), out = L.hidden[l];
      const T* W = dense + L.w_offset[l];
      const T* b = dense + L.b_offset[l];
      const T* x = s.z[l].data();
      T* y = s.z[l + 1].data();
      for (int o = 0; o < out; ++o) {
        T a = b[o];
        const T* row = W + static_cast<Index>(o) * in;
        for (int k = 0; k < in; ++k) a += row[k] * x[k];
        y[o] = a > T(0) ? a : T(0);
      }
    }
    const T* zl = s.z.back().data();
    for (int k = 0; k < L.last(); ++k) logit += h[L.gmf_dim + k] * zl[k];
  }
  logit += dense[L.bias_offset + (mode == NeuMFMode::MLP ? 1 : 0)];
  return logit;
}

// Adds dlogit * d logit / d theta to the gradient buffers (same shapes as the parameters; the
// row buffers belong to this pair's user and item). Call after neumf_forward on the same pair.
template <class T>
void neumf_backward(const NeuMFLayout& L, NeuMFMode mode, const T* dense, const T* pg, const T* qg, T dlogit,
                    NeuMFScratch<T>& s, T* g_dense, T* g_pg, T* g_qg, T* g_pm, T* g_qm) {
  const T* h = dense + L.h_offset;
  T* gh = g_dense + L.h_offset;
  g_dense[L.bias_offset + (mode == NeuMFMode::MLP ? 1 : 0)] += dlogit;
  if (mode != NeuMFMode::MLP) {
    for (int k = 0; k < L.gmf_dim; ++k) {
      gh[k] += dlogit * s.gmf[k];
      const T d = dlogit * h[k];
      g_pg[k] += d * qg[k];
      g_qg[k] += d * pg[k];
    }
  }
  if (mode != NeuMFMode::GMF) {
    const int last = L.last();
    T* dz = s.dz.data();
    const T* zl = s.z.back().data();
    for (int k = 0; k < last; ++k) {
      gh[L.gmf_dim + k] += dlogit * zl[k];
      dz[k] = dlogit * h[L.gmf_dim + k];
    }
    for (std::size_t l = L.hidden.size(); l-- > 0;) {
      const int in = L.layer_in(l), out = L.hidden[l];
      const T* W = dense + L.w_offset[l];
      T* gW = g_dense + L.w_offset[l];
      T* gb = g_dense + L.b_offset[l];
      const T* x = s.z[l].data();
      const T* y = s.z[l + 1].data();
      T* dx = s.dprev.data();
      for (int k = 0; k < in; ++k) dx[k] = T(0);
      for (int o = 0; o < out; ++o) {
        if (!(y[o] > T(0))) continue;  // relu'(a) = 0 for a <= 0
        const T da = dz[o];
        gb[o] += da;
        const T* row = W + static_cast<Index>(o) * in;
        T* grow = gW + static_cast<Index>(o) * in;
        for (int k = 0; k < in; ++k) {
          grow[k] += da * x[k];
          dx[k] += da * row[k];
        }
      }
      for (int k = 0; k < in; ++k) dz[k] = dx[k];
    }
    for (int k = 0; k < L.mlp_dim; ++k) {
      g_pm[k] += dz[k];
      g_qm[k] += dz[L.mlp_dim + k];
    }
  }
}

// Log loss of a logit for label y and its derivative sigma(logit) - y, without overflow.
template <class T>
T log_loss(T logit, bool positive, T& dlogit) {
  const T x = positive ? logit : -logit;  // loss = softplus(-x)
  const T e = std::exp(-std::fabs(x));
  const T sig = x >= T(0) ? T(1) / (T(1) + e) : e / (T(1) + e);  // sigma(x)
  dlogit = positive ? sig - T(1) : T(1) - sig;
  return x >= T(0) ? std::log1p(e) : -x + std::log1p(e);
}

// ---- engine entry points ----------------------------------------------------------------------
// One epoch: every training pair once as a positive with `negatives` fresh negatives.
// Throws NumericalError if the parameters become non-finite.
NeuMFStats train_neumf(NeuMFParams& params, const CsrView& train, const NeuMFConfig& config);

// out[r * n_items + c] = logit of (users[r], items[c]) for a block of users x items.
void neumf_score_block(const NeuMFParams& params, NeuMFMode mode, const std::int32_t* users, Index n_users,
                       const std::int32_t* items, Index n_items, float* out, int num_threads);

// out[k] = logit of (users[k], items[k]).
void neumf_score_pairs(const NeuMFParams& params, NeuMFMode mode, const std::int32_t* users,
                       const std::int32_t* items, Index n, float* out, int num_threads);

// The paper's fusion of pre-trained GMF and MLP (in place on dense): h_G *= alpha,
// h_M *= 1 - alpha, out_bias[0] = alpha out_bias[0] + (1 - alpha) out_bias[1].
void neumf_fuse(const NeuMFLayout& layout, float* dense, float alpha);

}  // namespace advrec
