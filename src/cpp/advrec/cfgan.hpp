// advrec:model  (the include rule: see cmake/check_includes.cmake)
// CFGAN: vector-wise GAN collaborative filtering (Chae, Kang, Kim, Lee; CIKM 2018).
//
// Generator G (an MLP conditioned on the user's purchase vector c_u in {0,1}^I):
//   h_1 = act(W_in^T c_u + b_in), h_l = act(h_{l-1} W_l + b_l) (l = 2..Lg),
//   r^_u = sigmoid(W_out h_Lg + b_out)              (a real-valued purchase vector, I entries)
// Discriminator D (an MLP on the pair (x, c_u), x a real or generated vector):
//   a_1 = W_x^T x + W_c^T c_u + b_1, ..., D(x | c_u) = sigmoid(w_out . a_Ld + b_out)
// With the paper's masking, D sees the generated vector only at u's purchased items and at a
// sample of non-purchased items (partial masking, PM): x^ = r^_u * (e_u + k_u), while the real
// vector is r_u = e_u (1 at purchased items, 0 elsewhere, in particular 0 at the PM items).
// Zero reconstruction (ZR) adds alpha * sum_{j in ZR_u} (r^_uj - 0)^2 for another sample of
// non-purchased items. Objectives (paper eq. 5-7, with ZR/PM as in section 4):
//   D: minimise  -ln D(r_u | c_u) - ln(1 - D(x^_u | c_u))
//   G: minimise   ln(1 - D(x^_u | c_u)) + alpha * sum_{ZR} r^_uj^2
// |PM_u| = round(s_pm * (I - |c_u|)), |ZR_u| = round(s_zr * (I - |c_u|)), drawn uniformly without
// replacement for every user and step. Every computation touches only the rows of purchased,
// PM and ZR items, so one user's step costs O((|c_u| + |PM_u| + |ZR_u|) H + L H^2).
//
// Training: per-user steps (SGD or AdaGrad, L2 on the touched rows), users in a random order,
// threads share the weights without locks (Hogwild). Parameters live in two flat float32 arrays
// (generator, discriminator) whose layout CFGANShape defines.
//
// Ranking: sigmoid is monotone, so items rank by W_out_i . h_Lg(u) + b_out_i, with h computed from
// the full training vector: a dot product of [h_Lg, 1] and [W_out_i, b_out_i].
#pragma once

#include "advrec/common.hpp"
#include "advrec/csr.hpp"
#include "advrec/layers.hpp"
#include "advrec/types.hpp"

#include <cstdint>
#include <vector>

namespace advrec {

// Offsets of every block inside the flat generator and discriminator arrays.
struct CFGANShape {
  std::int32_t n_items = 0, hidden = 0, g_layers = 1, d_layers = 1;

  Index IH() const { return static_cast<Index>(n_items) * hidden; }
  Index HH() const { return static_cast<Index>(hidden) * hidden; }
  // generator: [W_in (I x H) | b_in (H) | W_l ((Lg-1) x H x H) | b_l ((Lg-1) x H) | W_out (I x H) | b_out (I)]
  Index g_in() const { return 0; }
  Index g_in_bias() const { return IH(); }
  Index g_hidden() const { return g_in_bias() + hidden; }
  Index g_hidden_bias() const { return g_hidden() + (g_layers - 1) * HH(); }
  Index g_out() const { return g_hidden_bias() + static_cast<Index>(g_layers - 1) * hidden; }
  Index g_out_bias() const { return g_out() + IH(); }
  Index g_size() const { return g_out_bias() + n_items; }
  // discriminator: [W_x (I x H) | W_c (I x H) | b_1 (H) | W_l ((Ld-1) x H x H) | b_l ((Ld-1) x H) |
  //                 w_out (H) | b_out (1)]
  Index d_in_x() const { return 0; }
  Index d_in_c() const { return IH(); }
  Index d_in_bias() const { return 2 * IH(); }
  Index d_hidden() const { return d_in_bias() + hidden; }
  Index d_hidden_bias() const { return d_hidden() + (d_layers - 1) * HH(); }
  Index d_out() const { return d_hidden_bias() + static_cast<Index>(d_layers - 1) * hidden; }
  Index d_out_bias() const { return d_out() + hidden; }
  Index d_size() const { return d_out_bias() + 1; }

  void validate() const;
};

enum class CFGANPlayer : int { Discriminator = 0, Generator = 1 };

// The generator's adversarial term. Saturating: ln(1 - D(x^)), the paper's eq. 7 (the minimax
// objective); its gradient in D's logit t is -sigmoid(t), which vanishes exactly when D rejects the
// fake vectors confidently. NonSaturating: -ln D(x^), the same fixed point with gradient
// -(1 - sigmoid(t)), large when D wins (Goodfellow et al. 2014, section 3).
enum class CFGANGeneratorLoss : int { Saturating = 0, NonSaturating = 1 };

struct CFGANConfig {
  float lr = 0.01f;
  float reg = 0.0f;      // L2 on the rows a step touches
  float alpha = 0.1f;    // weight of the zero-reconstruction term
  float s_zr = 0.1f;     // fraction of non-purchased items sampled for ZR, in [0, 1]
  float s_pm = 0.1f;     // fraction sampled for partial masking, in [0, 1]
  CFGANGeneratorLoss g_loss = CFGANGeneratorLoss::Saturating;
  Activation activation = Activation::Sigmoid;
  Optimizer optimizer = Optimizer::Adagrad;
  int num_threads = 0;
  std::uint64_t seed = 0;
  std::uint64_t epoch = 0;

  void validate() const;
};

struct CFGANParams {
  CFGANShape shape;
  std::int32_t n_users = 0;
  float* g = nullptr;  // shape.g_size()
  float* d = nullptr;  // shape.d_size()
  float* g_accum = nullptr;
  float* d_accum = nullptr;
};

// One pass of `player` steps over all users with a training item. EpochStats: samples = users,
// loss = mean objective of that player; accuracy = fraction of D's decisions (real > 0.5, fake
// < 0.5) that are right, before the step.
EpochStats train_cfgan(CFGANParams& params, const CsrView& train, const CFGANConfig& config, CFGANPlayer player);

// out (n x hidden) = h_Lg(u) of the generator for users[0..n), from their training vectors.
void cfgan_encode(const CFGANParams& params, const CsrView& train, Activation activation, const std::int32_t* users,
                  Index n, float* out, int num_threads);

// ---- the per-user forward/backward, templated on the scalar --------------------------------------
// One user's sets: outputs `out` = purchased items, then PM items, then ZR-only items (distinct);
// n_mask = |purchased| + |PM| (what D sees), zr = positions in `out` of the ZR items.
struct CFGANUserSets {
  const std::int32_t* out = nullptr;
  Index n_purchased = 0, n_mask = 0, n_out = 0;
  const Index* zr = nullptr;
  Index n_zr = 0;
};

// Gradients of one step in compact form. Generator: rows W_in[purchased] and b_in get g_pre; the
// hidden stack g_hw/g_hb; W_out[out[e]] row e of g_out, b_out[out[e]] g_outb[e]. Discriminator:
// W_x[purchased] gets d_pre_real (x = 1 there), W_x[out[e]] for e < n_mask gets r^_e * d_pre_fake,
// W_c[purchased] and b_1 get d_pre_real + d_pre_fake; the stack d_hw/d_hb; w_out d_wout, b_out
// d_bout.
template <class T>
struct CFGANWork {
  std::vector<T> hg, r, hd, hd2, g, scratch;
  std::vector<T> g_pre, g_hw, g_hb, g_out, g_outb;
  std::vector<T> d_pre_real, d_pre_fake, d_hw, d_hb, d_hw2, d_hb2, d_wout;
  T d_bout = T(0);
  Index correct = 0;
};

namespace cfgan_detail {

// h (Lg x H) and r (n_out): the generator's forward pass at the output rows `out`.
template <class T>
void generator_forward(const CFGANShape& s, const T* G, const std::int32_t* purchased, Index n_p, const std::int32_t* out,
                       Index n_out, Activation act, std::vector<T>& h, std::vector<T>& r) {
  const int H = s.hidden;
  h.assign(static_cast<size_t>(s.g_layers) * H, T(0));
  for (int k = 0; k < H; ++k) h[k] = G[s.g_in_bias() + k];
  layers::add_sparse_rows(h.data(), G + s.g_in(), H, purchased, n_p, T(1));
  layers::mlp_forward(G + s.g_hidden(), G + s.g_hidden_bias(), s.g_layers, H, act, h.data());
  const T* top = h.data() + static_cast<Index>(s.g_layers - 1) * H;
  r.resize(static_cast<size_t>(n_out));
  for (Index e = 0; e < n_out; ++e) {
    const T* w = G + s.g_out() + static_cast<Index>(out[e]) * H;
    T a = G[s.g_out_bias() + out[e]];
    for (int k = 0; k < H; ++k) a += w[k] * top[k];
    r[static_cast<size_t>(e)] = layers::sigmoid(a);
  }
}

// D's logit for x (values xv at items xi, zero elsewhere) and condition c = purchased; h (Ld x H).
template <class T>
T discriminator_forward(const CFGANShape& s, const T* D, const std::int32_t* xi, const T* xv, Index n_x,
                        const std::int32_t* purchased, Index n_p, Activation act, std::vector<T>& h) {
  const int H = s.hidden;
  h.assign(static_cast<size_t>(s.d_layers) * H, T(0));
  for (int k = 0; k < H; ++k) h[k] = D[s.d_in_bias() + k];
  for (Index e = 0; e < n_x; ++e) {
    const T* w = D + s.d_in_x() + static_cast<Index>(xi[e]) * H;
    for (int k = 0; k < H; ++k) h[k] += xv[e] * w[k];
  }
  layers::add_sparse_rows(h.data(), D + s.d_in_c(), H, purchased, n_p, T(1));
  layers::mlp_forward(D + s.d_hidden(), D + s.d_hidden_bias(), s.d_layers, H, act, h.data());
  const T* top = h.data() + static_cast<Index>(s.d_layers - 1) * H;
  T t = D[s.d_out_bias()];
  for (int k = 0; k < H; ++k) t += D[s.d_out() + k] * top[k];
  return t;
}

// Backward of discriminator_forward from d loss / d logit = dt: pre (H) = d loss / d a_1, the
// stack's gradients into hw/hb, w_out's into wout (all overwritten).
template <class T>
void discriminator_backward(const CFGANShape& s, const T* D, Activation act, const std::vector<T>& h, T dt,
                            std::vector<T>& pre, std::vector<T>& hw, std::vector<T>& hb, std::vector<T>& wout,
                            std::vector<T>& scratch) {
  const int H = s.hidden;
  const T* top = h.data() + static_cast<Index>(s.d_layers - 1) * H;
  pre.resize(static_cast<size_t>(H));
  wout.resize(static_cast<size_t>(H));
  hw.resize(static_cast<size_t>((s.d_layers - 1) * s.HH()));
  hb.resize(static_cast<size_t>((s.d_layers - 1) * H));
  scratch.resize(static_cast<size_t>(H));
  for (int k = 0; k < H; ++k) {
    wout[k] = dt * top[k];
    pre[k] = dt * D[s.d_out() + k];
  }
  layers::mlp_backward(D + s.d_hidden(), s.d_layers, H, act, h.data(), pre.data(), hw.data(), hb.data(),
                       scratch.data());
}

}  // namespace cfgan_detail

// The generator's step for one user: returns ln(1 - D(x^)) (Saturating) or -ln D(x^)
// (NonSaturating), plus alpha sum_ZR r^^2, and fills the generator's gradients in w (D is held
// fixed).
template <class T>
T cfgan_generator_step(const CFGANShape& s, const T* G, const T* D, const std::int32_t* purchased,
                       const CFGANUserSets& u, T alpha, Activation act, CFGANWork<T>& w,
                       CFGANGeneratorLoss kind = CFGANGeneratorLoss::Saturating) {
  using namespace cfgan_detail;
  const int H = s.hidden;
  generator_forward(s, G, purchased, u.n_purchased, u.out, u.n_out, act, w.hg, w.r);
  const T t = discriminator_forward(s, D, u.out, w.r.data(), u.n_mask, purchased, u.n_purchased, act, w.hd);
  const bool saturating = kind == CFGANGeneratorLoss::Saturating;
  // ln(1 - sigmoid(t)) = -softplus(t);  -ln sigmoid(t) = softplus(-t).
  T loss = saturating ? -layers::softplus(t) : layers::softplus(-t);
  const T dt = saturating ? -layers::sigmoid(t) : layers::sigmoid(t) - T(1);
  w.correct += t < T(0);
  discriminator_backward(s, D, act, w.hd, dt, w.d_pre_fake, w.d_hw, w.d_hb, w.d_wout, w.scratch);
  // d loss / d r^_e, then through the output sigmoid: g_outb[e] = d loss / d (output pre-activation).
  w.g_outb.assign(static_cast<size_t>(u.n_out), T(0));
  for (Index e = 0; e < u.n_mask; ++e) {
    const T* wx = D + s.d_in_x() + static_cast<Index>(u.out[e]) * H;
    T dx = T(0);
    for (int k = 0; k < H; ++k) dx += w.d_pre_fake[k] * wx[k];
    w.g_outb[e] = dx;
  }
  for (Index z = 0; z < u.n_zr; ++z) {
    const T rz = w.r[static_cast<size_t>(u.zr[z])];
    loss += alpha * rz * rz;
    w.g_outb[static_cast<size_t>(u.zr[z])] += T(2) * alpha * rz;
  }
  const T* top = w.hg.data() + static_cast<Index>(s.g_layers - 1) * H;
  w.g.assign(static_cast<size_t>(H), T(0));
  w.g_out.resize(static_cast<size_t>(u.n_out) * H);
  for (Index e = 0; e < u.n_out; ++e) {
    const T re = w.r[static_cast<size_t>(e)];
    const T d = w.g_outb[static_cast<size_t>(e)] * re * (T(1) - re);
    w.g_outb[static_cast<size_t>(e)] = d;
    const T* wo = G + s.g_out() + static_cast<Index>(u.out[e]) * H;
    for (int k = 0; k < H; ++k) {
      w.g_out[static_cast<size_t>(e * H + k)] = d * top[k];
      w.g[k] += d * wo[k];
    }
  }
  w.g_hw.resize(static_cast<size_t>((s.g_layers - 1) * s.HH()));
  w.g_hb.resize(static_cast<size_t>((s.g_layers - 1) * H));
  w.scratch.resize(static_cast<size_t>(H));
  layers::mlp_backward(G + s.g_hidden(), s.g_layers, H, act, w.hg.data(), w.g.data(), w.g_hw.data(), w.g_hb.data(),
                       w.scratch.data());
  w.g_pre = w.g;
  return loss;
}

// The discriminator's step for one user: returns -ln D(r_u) - ln(1 - D(x^)) and fills the
// discriminator's gradients in w (G is held fixed; r^ is left in w.r).
template <class T>
T cfgan_discriminator_step(const CFGANShape& s, const T* G, const T* D, const std::int32_t* purchased,
                           const CFGANUserSets& u, Activation act, CFGANWork<T>& w) {
  using namespace cfgan_detail;
  generator_forward(s, G, purchased, u.n_purchased, u.out, u.n_out, act, w.hg, w.r);
  // Real: x = 1 at the purchased items.
  w.scratch.assign(static_cast<size_t>(u.n_purchased), T(1));
  const std::vector<T> ones(w.scratch);
  const T tr = discriminator_forward(s, D, purchased, ones.data(), u.n_purchased, purchased, u.n_purchased, act, w.hd);
  const T tf = discriminator_forward(s, D, u.out, w.r.data(), u.n_mask, purchased, u.n_purchased, act, w.hd2);
  w.correct += (tr > T(0)) + (tf < T(0));
  std::vector<T> wout_f;
  discriminator_backward(s, D, act, w.hd, layers::sigmoid(tr) - T(1), w.d_pre_real, w.d_hw, w.d_hb, w.d_wout,
                         w.scratch);
  discriminator_backward(s, D, act, w.hd2, layers::sigmoid(tf), w.d_pre_fake, w.d_hw2, w.d_hb2, wout_f, w.scratch);
  for (size_t k = 0; k < w.d_hw.size(); ++k) w.d_hw[k] += w.d_hw2[k];
  for (size_t k = 0; k < w.d_hb.size(); ++k) w.d_hb[k] += w.d_hb2[k];
  for (size_t k = 0; k < w.d_wout.size(); ++k) w.d_wout[k] += wout_f[k];
  w.d_bout = layers::sigmoid(tr) - T(1) + layers::sigmoid(tf);
  return layers::softplus(-tr) + layers::softplus(tf);
}

}  // namespace advrec
