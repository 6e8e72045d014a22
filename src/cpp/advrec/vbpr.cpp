#include "advrec/vbpr.hpp"

#include "advrec/epoch.hpp"
#include "advrec/kernels.hpp"
#include "advrec/rng.hpp"

#include <algorithm>
#include <cmath>
#include <string>

namespace advrec {
namespace {

using namespace kernels;

template <class T>
T* row(T* base, Index r, int d) {
  return base ? base + r * d : nullptr;
}

struct Triple {
  std::int32_t u, i, j;
};

// Prefetch distances (triples / rows ahead), measured on ml-latest-small with 384-d features: the
// feature rows come from L3 (24 lines each); the optimiser rows of apply() from L2/L3.
#ifndef ADVREC_VBPR_FEATURE_PREFETCH
#define ADVREC_VBPR_FEATURE_PREFETCH 4
#endif
#ifndef ADVREC_VBPR_ROW_PREFETCH
#define ADVREC_VBPR_ROW_PREFETCH 4
#endif
constexpr int kFeaturePrefetch = ADVREC_VBPR_FEATURE_PREFETCH;
constexpr int kRowPrefetch = ADVREC_VBPR_ROW_PREFETCH;

// ---- per-triple step (Hogwild on every parameter, E included) ----------------------------------
class VSampleStep {
 public:
  VSampleStep(VBPRParams& p, const VBPRTrainConfig& c)
      : p_(p), c_(c), D_(p.n_features), K_(p.dim), V_(p.vdim), diffc_(D_), a_(D_), r_(D_), w_(V_), er_(V_), ge_(V_),
        gu_(std::max(K_, 1)), gi_(std::max(K_, 1)), gj_(std::max(K_, 1)), qd_(std::max(K_, 1)), gth_(V_) {}

  void operator()(const Triple& s, ThreadTotals& tot) {
    const int D = D_, K = K_, V = V_;
    const bool adv = c_.adv.active();
    const bool shared = p_.shared_user();
    const float* ci = p_.features + static_cast<Index>(s.i) * D;
    const float* cj = p_.features + static_cast<Index>(s.j) * D;
    float* __restrict diffc = diffc_.data();
    float* __restrict a = a_.data();
    float* __restrict r = r_.data();
    float* __restrict w = w_.data();
    float* __restrict er = er_.data();
    float* th = p_.user_visual + static_cast<Index>(s.u) * V;
    const float* bvis = p_.visual_bias;
    float* E = p_.projection;

#pragma omp simd
    for (int d = 0; d < D; ++d) diffc[d] = ci[d] - cj[d];
    // Pass 1 over E: w = E (c_i - c_j); adversarial: a = E^T theta_u + b' (d y / d c).
    std::fill_n(w, V, 0.0f);
    for (int d = 0; d < D; ++d) {
      const float* e = E + static_cast<Index>(d) * V;
      if (diffc[d] != 0.0f) axpy(w, diffc[d], e, V);
      if (adv) a[d] = dot(e, th, V) + (bvis ? bvis[d] : 0.0f);
    }
    float x = dot(th, w, V);
    float *pu = nullptr, *qi = nullptr, *qj = nullptr;
    if (K) {
      pu = p_.user_factors + static_cast<Index>(s.u) * K;
      qi = p_.item_factors + static_cast<Index>(s.i) * K;
      qj = p_.item_factors + static_cast<Index>(s.j) * K;
#pragma omp simd
      for (int k = 0; k < K; ++k) qd_[k] = qi[k] - qj[k];
      x += dot(pu, qd_.data(), K);
    }
    if (p_.item_bias) x += p_.item_bias[s.i] - p_.item_bias[s.j];
    if (bvis) x += dot(bvis, diffc, D);
    const float g = sigmoid(-x);
    tot.loss += softplus(-x);
    tot.correct += x > 0.0f;

    // Adversary, one triple: Gamma_i = -g a, Gamma_j = +g a, so Delta_i = -eps a/|a| = -Delta_j and
    // y'(u,i) - y'(u,j) = x + a . (Delta_i - Delta_j) = x - 2 eps |a|.
    float g_adv = 0.0f, dscale = 0.0f;
    if (adv) {
      const float na = std::sqrt(dot(a, a, D));
      dscale = 0.0f - 2.0f * fgm_scale(na, c_.adv.eps);  // (Delta_i - Delta_j) = dscale * a
      const float x_adv = x - 2.0f * c_.adv.eps * na;
      g_adv = c_.adv.reg_adv * sigmoid(-x_adv);
      tot.adv_loss += softplus(-x_adv);
    }
    const float G = g + g_adv;
    // r = -(d objective / d b'): G (c_i - c_j) + g_adv (Delta_i - Delta_j). dE = -theta_u r^T.
    if (adv) {
      const float gs = g_adv * dscale;
#pragma omp simd
      for (int d = 0; d < D; ++d) r[d] = G * diffc[d] + gs * a[d];
    } else {
#pragma omp simd
      for (int d = 0; d < D; ++d) r[d] = G * diffc[d];
    }

    // Pass 2 over E: er = E r (with E before this step), then E's rows step.
    const Optimizer opt = c_.optimizer;
    const float lr = c_.lr;
    const float regE = c_.reg_projection;
    std::fill_n(er, V, 0.0f);
    float* __restrict ge = ge_.data();
    for (int d = 0; d < D; ++d) {
      const float rd = r[d];
      if (rd == 0.0f && regE == 0.0f) continue;  // zero gradient: the step is a no-op
      float* e = E + static_cast<Index>(d) * V;
      axpy(er, rd, e, V);
#pragma omp simd
      for (int k = 0; k < V; ++k) ge[k] = -rd * th[k] + regE * e[k];
      apply_row(e, row(p_.projection_accum, d, V), ge, V, lr, opt);
    }
    if (bvis) {
      for (int d = 0; d < D; ++d) {
        if (r[d] == 0.0f && regE == 0.0f) continue;
        apply_scalar(p_.visual_bias[d], row(p_.visual_bias_accum, d, 1), -r[d] + regE * bvis[d], lr, opt);
      }
    }
    const float reg = c_.reg;
    if (K) {
      float* __restrict gu = gu_.data();
      float* __restrict gi = gi_.data();
      float* __restrict gj = gj_.data();
      const float* qd = qd_.data();
#pragma omp simd
      for (int k = 0; k < K; ++k) {
        gu[k] = -G * qd[k] + reg * pu[k];
        gi[k] = -G * pu[k] + reg * qi[k];
        gj[k] = G * pu[k] + reg * qj[k];
      }
      if (shared) {
        for (int k = 0; k < K; ++k) gu[k] -= er[k];
      }
      apply_row(pu, row(p_.user_accum, s.u, K), gu, K, lr, opt);
      apply_row(qi, row(p_.item_accum, s.i, K), gi, K, lr, opt);
      apply_row(qj, row(p_.item_accum, s.j, K), gj, K, lr, opt);
    }
    if (!shared) {
      float* __restrict gth = gth_.data();
#pragma omp simd
      for (int k = 0; k < V; ++k) gth[k] = -er[k] + reg * th[k];
      apply_row(th, row(p_.user_visual_accum, s.u, V), gth, V, lr, opt);
    }
    if (p_.item_bias) {
      apply_scalar(p_.item_bias[s.i], row(p_.bias_accum, s.i, 1), -G + c_.reg_bias * p_.item_bias[s.i], lr, opt);
      apply_scalar(p_.item_bias[s.j], row(p_.bias_accum, s.j, 1), G + c_.reg_bias * p_.item_bias[s.j], lr, opt);
    }
  }

 private:
  VBPRParams& p_;
  const VBPRTrainConfig& c_;
  const int D_, K_, V_;
  std::vector<float> diffc_, a_, r_, w_, er_, ge_, gu_, gi_, gj_, qd_, gth_;
};

// ---- mini-batch step: E's work as GEMMs ----------------------------------------------------------
class VBatchStep {
 public:
  VBatchStep(const VBPRParams& p, const VBPRTrainConfig& c, int max_batch)
      : p_(p), c_(c), D_(p.n_features), K_(p.dim), V_(p.vdim), B_(max_batch), users_(p.n_users), items_(p.n_items),
        diffc_(B_, D_), th_(B_, V_), w_(B_, V_), a_(c.adv.active() ? B_ : 0, D_), r_(c.adv.active() ? B_ : 0, D_),
        er_(B_, V_), pa_(c.adv.active() ? B_ : 0, V_), gram_(V_, V_),
        ge_(D_, V_), gvb_(D_) {
    slot_u_.resize(static_cast<size_t>(B_));
    slot_i_.resize(static_cast<size_t>(B_));
    slot_j_.resize(static_cast<size_t>(B_));
    G_.resize(static_cast<size_t>(B_));
  }

  // Computes the batch's gradients (parameters fixed) into the slot buffers. Returns nothing; the
  // losses go to tot.
  void compute(const Triple* batch, int n, ThreadTotals& tot) {
    const int D = D_, K = K_, V = V_;
    const bool adv = c_.adv.active();
    const bool shared = p_.shared_user();
    users_.clear();
    items_.clear();
    for (int s = 0; s < n; ++s) {
      slot_u_[s] = users_.get(batch[s].u);
      slot_i_[s] = items_.get(batch[s].i);
      slot_j_[s] = items_.get(batch[s].j);
    }
    const int nu = users_.size(), ni = items_.size();
    const int KU = shared ? 0 : V;  // separate theta gradient width
    gu_.assign(static_cast<size_t>(nu) * K, 0.0f);
    gth_.assign(static_cast<size_t>(nu) * KU, 0.0f);
    gq_.assign(static_cast<size_t>(ni) * K, 0.0f);
    gb_.assign(static_cast<size_t>(ni), 0.0f);
    cnt_u_.assign(static_cast<size_t>(nu), 0);
    cnt_i_.assign(static_cast<size_t>(ni), 0);

    // c_i - c_j per triple, with the visual-bias term b' . (c_i - c_j) of x fused into the same
    // pass. Feature rows are random rows of an (n_items x D) matrix: prefetch kFeaturePrefetch
    // triples ahead (the batch is drawn before compute, so the ids are known).
    const float* __restrict bvis = p_.visual_bias;
    x_.resize(static_cast<size_t>(n));
    for (int s = 0; s < n; ++s) {
      if (kFeaturePrefetch > 0 && s + kFeaturePrefetch < n) {
        prefetch_floats(p_.features + static_cast<Index>(batch[s + kFeaturePrefetch].i) * D, D);
        prefetch_floats(p_.features + static_cast<Index>(batch[s + kFeaturePrefetch].j) * D, D);
      }
      const float* __restrict ci = p_.features + static_cast<Index>(batch[s].i) * D;
      const float* __restrict cj = p_.features + static_cast<Index>(batch[s].j) * D;
      float* __restrict dc = diffc_.row(s).data();
      float xb = 0.0f;
      if (bvis) {
#pragma omp simd reduction(+ : xb)
        for (int d = 0; d < D; ++d) {
          dc[d] = ci[d] - cj[d];
          xb += bvis[d] * dc[d];
        }
      } else {
#pragma omp simd
        for (int d = 0; d < D; ++d) dc[d] = ci[d] - cj[d];
      }
      x_[s] = xb;
      std::copy_n(p_.user_visual + static_cast<Index>(batch[s].u) * V, V, th_.row(s).data());
    }
    ConstMatrixMapF E(p_.projection, D, V);
    auto DC = diffc_.topRows(n);
    auto TH = th_.topRows(n);
    w_.topRows(n).noalias() = DC * E;
    if (adv) {
      a_.topRows(n).noalias() = TH * E.transpose();
      if (p_.visual_bias) a_.topRows(n).rowwise() += ConstVectorMapF(p_.visual_bias, D).transpose();
    }
    // Scores. Without the adversary G_s = sigma(-x_s) is final here, so the ID rows' gradients are
    // accumulated while p_u, q_i, q_j are in L1 (with it, G needs the batch's Delta first).
    for (int s = 0; s < n; ++s) {
      const Triple& t = batch[s];
      float x = dot(th_.row(s).data(), w_.row(s).data(), V);
      if (K) {
        if (kRowPrefetch > 0 && s + kRowPrefetch < n) {
          const Triple& f = batch[s + kRowPrefetch];
          prefetch_floats(p_.user_factors + static_cast<Index>(f.u) * K, K);
          prefetch_floats(p_.item_factors + static_cast<Index>(f.i) * K, K);
          prefetch_floats(p_.item_factors + static_cast<Index>(f.j) * K, K);
        }
        const float* __restrict pu = p_.user_factors + static_cast<Index>(t.u) * K;
        const float* __restrict qi = p_.item_factors + static_cast<Index>(t.i) * K;
        const float* __restrict qj = p_.item_factors + static_cast<Index>(t.j) * K;
        float xid = 0.0f;
#pragma omp simd reduction(+ : xid)
        for (int k = 0; k < K; ++k) xid += pu[k] * (qi[k] - qj[k]);
        x += xid;
      }
      if (p_.item_bias) x += p_.item_bias[t.i] - p_.item_bias[t.j];
      x += x_[s];  // b' . (c_i - c_j), from the pass above
      x_[s] = x;
      tot.loss += softplus(-x);
      tot.correct += x > 0.0f;
      if (K && !adv) accumulate_id_gradients(t, s, sigmoid(-x));
    }
    if (adv) {
      // Gamma per item, summed over the batch (AMR section 3.3), at Delta = 0.
      delta_.setZero(ni, D);
      for (int s = 0; s < n; ++s) {
        const float g = sigmoid(-x_[s]);
        delta_.row(slot_i_[s]) -= g * a_.row(s);
        delta_.row(slot_j_[s]) += g * a_.row(s);
      }
      // Eigen's norm here (not fgm_row's kernels::dot): its summation order is what the AMR
      // checksums in benchmarks/results/param_checksums.json were recorded with.
      // E^T Delta_k without an (items x D x V) product: Delta_k = s_k Gamma_k with
      // Gamma_k = sum_t (+-g_t) a_t and E^T a_t = (E^T E) theta_t + E^T b', so
      // E^T Delta_k = s_k sum_t (+-g_t) (M theta_t + E^T b') with the V x V Gram matrix M = E^T E.
      // It feeds E^T r_s below (the user rows' gradient), which then needs no GEMM over D.
      gram_.noalias() = E.transpose() * E;
      pa_.topRows(n).noalias() = TH * gram_;
      if (p_.visual_bias)
        pa_.topRows(n).rowwise() += (E.transpose() * ConstVectorMapF(p_.visual_bias, D)).transpose();
      dproj_.setZero(ni, V);
      for (int s = 0; s < n; ++s) {
        const float g = sigmoid(-x_[s]);
        dproj_.row(slot_i_[s]) -= g * pa_.row(s);
        dproj_.row(slot_j_[s]) += g * pa_.row(s);
      }
      for (int k = 0; k < ni; ++k) {
        const float scale = fgm_scale(delta_.row(k).norm(), c_.adv.eps);
        delta_.row(k) *= scale;
        dproj_.row(k) *= scale;
      }
    }
    for (int s = 0; s < n; ++s) {
      const float g = sigmoid(-x_[s]);
      float G = g;
      if (adv) {
        const float x_adv = x_[s] + a_.row(s).dot(delta_.row(slot_i_[s]) - delta_.row(slot_j_[s]));
        const float g_adv = c_.adv.reg_adv * sigmoid(-x_adv);
        tot.adv_loss += softplus(-x_adv);
        G += g_adv;
        r_.row(s) = G * diffc_.row(s) + g_adv * (delta_.row(slot_i_[s]) - delta_.row(slot_j_[s]));
        // E^T r_s = G w_s + g_adv E^T (Delta_i - Delta_j).
        er_.row(s) = G * w_.row(s) + g_adv * (dproj_.row(slot_i_[s]) - dproj_.row(slot_j_[s]));
      }
      G_[s] = G;
    }
    if (adv) {
      auto R = r_.topRows(n);
      // E's gradient for the whole batch: -sum_s r_s theta_s^T (+ reg per triple), as one GEMM.
      ge_.noalias() = -(R.transpose() * TH);
      if (p_.visual_bias) gvb_ = -R.colwise().sum().transpose();
    } else {
      // Without the adversary r_s = G_s (c_i - c_j), so (E fixed during compute):
      //   E^T r_s = G_s w_s           (no GEMM: w is the forward pass's projection),
      //   dE = -sum_s r_s theta_s^T = -DC^T (G o Theta)   (scale Theta's rows, not DC's),
      //   db' = -sum_s r_s = -DC^T G.
      // Two GEMMs per batch instead of three, and no n x D matrix R.
      ConstVectorMapF Gv(G_.data(), n);
      for (int s = 0; s < n; ++s) {
        er_.row(s) = G_[s] * w_.row(s);
        th_.row(s) *= G_[s];  // th_ is a copy; TH is not read again below
      }
      ge_.noalias() = -(DC.transpose() * TH);
      if (p_.visual_bias) gvb_.noalias() = -(DC.transpose() * Gv);
    }
    if (c_.reg_projection > 0.0f) ge_ += (c_.reg_projection * static_cast<float>(n)) * E;
    if (p_.visual_bias && c_.reg_projection > 0.0f)
      gvb_ += (c_.reg_projection * static_cast<float>(n)) * ConstVectorMapF(p_.visual_bias, D);
    const float reg = c_.reg;
    for (int s = 0; s < n; ++s) {
      const Triple& t = batch[s];
      const float G = G_[s];
      const int su = slot_u_[s], si = slot_i_[s], sj = slot_j_[s];
      ++cnt_u_[su];
      ++cnt_i_[si];
      ++cnt_i_[sj];
      gb_[si] -= G;
      gb_[sj] += G;
      const float* __restrict er = er_.row(s).data();
      if (K && adv) accumulate_id_gradients(t, s, G);
      if (K && shared) axpy(gu_.data() + static_cast<Index>(su) * K, -1.0f, er, K);
      if (!shared) axpy(gth_.data() + static_cast<Index>(su) * V, -1.0f, er, V);
    }
    // Regularisation: reg * row per touch.
    for (int k = 0; k < nu; ++k) {
      const Index u = users_.rows()[static_cast<size_t>(k)];
      const float c = reg * static_cast<float>(cnt_u_[k]);
      if (c == 0.0f) continue;
      if (K) axpy(gu_.data() + static_cast<Index>(k) * K, c, p_.user_factors + u * K, K);
      if (!shared) axpy(gth_.data() + static_cast<Index>(k) * V, c, p_.user_visual + u * V, V);
    }
    for (int k = 0; k < ni; ++k) {
      const Index i = items_.rows()[static_cast<size_t>(k)];
      if (K && reg > 0.0f) axpy(gq_.data() + static_cast<Index>(k) * K, reg * static_cast<float>(cnt_i_[k]), p_.item_factors + i * K, K);
      if (p_.item_bias) gb_[k] += c_.reg_bias * static_cast<float>(cnt_i_[k]) * p_.item_bias[i];
    }
  }

  // The ID part's gradient of triple s (batch slot order), weight G = -d l / d x:
  // d/dp_u = -G (q_i - q_j), d/dq_i = -G p_u, d/dq_j = G p_u (regularisation is added per row later).
  ADVREC_INLINE void accumulate_id_gradients(const Triple& t, int s, float G) {
    const int K = K_;
    const float* __restrict pu = p_.user_factors + static_cast<Index>(t.u) * K;
    const float* __restrict qi = p_.item_factors + static_cast<Index>(t.i) * K;
    const float* __restrict qj = p_.item_factors + static_cast<Index>(t.j) * K;
    float* __restrict gu = gu_.data() + static_cast<Index>(slot_u_[s]) * K;
#pragma omp simd
    for (int k = 0; k < K; ++k) gu[k] -= G * (qi[k] - qj[k]);
    // Two loops: gi and gj are distinct slots (i != j), but the loops need not rely on it.
    axpy(gq_.data() + static_cast<Index>(slot_i_[s]) * K, -G, pu, K);
    axpy(gq_.data() + static_cast<Index>(slot_j_[s]) * K, G, pu, K);
  }

  // One optimiser step per touched row and one for E (Hogwild writes across threads).
  void apply(VBPRParams& p) {
    const Optimizer opt = c_.optimizer;
    const float lr = c_.lr;
    const int D = D_, K = K_, V = V_;
    const bool shared = p.shared_user();
    for (int d = 0; d < D; ++d)
      apply_row(p.projection + static_cast<Index>(d) * V, row(p.projection_accum, d, V), ge_.row(d).data(), V, lr, opt);
    if (p.visual_bias) apply_row(p.visual_bias, p.visual_bias_accum, gvb_.data(), D, lr, opt);
    const std::vector<std::int32_t>& urows = users_.rows();
    for (int k = 0; k < users_.size(); ++k) {
      const Index u = urows[static_cast<size_t>(k)];
      if (k + kRowPrefetch < users_.size()) {
        const Index up = urows[static_cast<size_t>(k + kRowPrefetch)];
        if (K) prefetch_floats(p.user_factors + up * K, K);
        if (K && p.user_accum) prefetch_floats(p.user_accum + up * K, K);
        if (!shared) prefetch_floats(p.user_visual + up * V, V);
        if (!shared && p.user_visual_accum) prefetch_floats(p.user_visual_accum + up * V, V);
      }
      if (K) apply_row(p.user_factors + u * K, row(p.user_accum, u, K), gu_.data() + static_cast<Index>(k) * K, K, lr, opt);
      if (!shared)
        apply_row(p.user_visual + u * V, row(p.user_visual_accum, u, V), gth_.data() + static_cast<Index>(k) * V, V, lr, opt);
    }
    const std::vector<std::int32_t>& irows = items_.rows();
    for (int k = 0; k < items_.size(); ++k) {
      const Index i = irows[static_cast<size_t>(k)];
      if (K && k + kRowPrefetch < items_.size()) {
        const Index ip = irows[static_cast<size_t>(k + kRowPrefetch)];
        prefetch_floats(p.item_factors + ip * K, K);
        if (p.item_accum) prefetch_floats(p.item_accum + ip * K, K);
      }
      if (K) apply_row(p.item_factors + i * K, row(p.item_accum, i, K), gq_.data() + static_cast<Index>(k) * K, K, lr, opt);
      if (p.item_bias) apply_scalar(p.item_bias[i], row(p.bias_accum, i, 1), gb_[static_cast<size_t>(k)], lr, opt);
    }
  }

  // Dense outputs for vbpr_objective_gradients.
  void scatter(VBPRGradients& out) const {
    const int D = D_, K = K_, V = V_;
    const bool shared = p_.shared_user();
    if (out.projection) MatrixMapF(out.projection, D, V) = ge_;
    if (out.visual_bias && p_.visual_bias) VectorMapF(out.visual_bias, D) = gvb_;
    if (out.users && K) std::fill_n(out.users, static_cast<Index>(p_.n_users) * K, 0.0f);
    if (out.user_visual && !shared) std::fill_n(out.user_visual, static_cast<Index>(p_.n_users) * V, 0.0f);
    if (out.items && K) std::fill_n(out.items, static_cast<Index>(p_.n_items) * K, 0.0f);
    if (out.item_bias && p_.item_bias) std::fill_n(out.item_bias, p_.n_items, 0.0f);
    if (out.delta) std::fill_n(out.delta, static_cast<Index>(p_.n_items) * D, 0.0f);
    for (int k = 0; k < users_.size(); ++k) {
      const Index u = users_.rows()[static_cast<size_t>(k)];
      if (out.users && K) std::copy_n(gu_.data() + static_cast<Index>(k) * K, K, out.users + u * K);
      if (out.user_visual && !shared) std::copy_n(gth_.data() + static_cast<Index>(k) * V, V, out.user_visual + u * V);
    }
    for (int k = 0; k < items_.size(); ++k) {
      const Index i = items_.rows()[static_cast<size_t>(k)];
      if (out.items && K) std::copy_n(gq_.data() + static_cast<Index>(k) * K, K, out.items + i * K);
      if (out.item_bias && p_.item_bias) out.item_bias[i] = gb_[static_cast<size_t>(k)];
      if (out.delta && c_.adv.active()) std::copy_n(delta_.row(k).data(), D, out.delta + i * D);
    }
  }

 private:
  const VBPRParams& p_;
  const VBPRTrainConfig& c_;
  const int D_, K_, V_, B_;
  RowSlots users_, items_;
  RowMatrixF diffc_, th_, w_, a_, r_, er_, pa_, gram_, ge_, delta_, dproj_;
  Eigen::VectorXf gvb_;
  std::vector<int> slot_u_, slot_i_, slot_j_, cnt_u_, cnt_i_;
  std::vector<float> x_, G_, gu_, gth_, gq_, gb_;
};

// ---- sampling -------------------------------------------------------------------------------------
// Negative candidates: items with a training interaction (or every item).
std::vector<std::int32_t> negative_pool(const CsrView& train, bool cold_negatives) {
  std::vector<std::int32_t> pool;
  if (cold_negatives) {
    pool.resize(static_cast<size_t>(train.n_cols));
    for (std::int32_t k = 0; k < train.n_cols; ++k) pool[static_cast<size_t>(k)] = k;
    return pool;
  }
  std::vector<char> warm(static_cast<size_t>(train.n_cols), 0);
  for (Index e = 0; e < train.nnz(); ++e) warm[static_cast<size_t>(train.indices[e])] = 1;
  for (std::int32_t k = 0; k < train.n_cols; ++k)
    if (warm[static_cast<size_t>(k)]) pool.push_back(k);
  return pool;
}

// Draws a training pair uniformly and a negative uniformly from the pool minus the user's items.
// false when the user holds every pool item (no negative exists).
inline bool draw(const CsrView& train, const std::vector<UserItem>& pairs, const std::vector<std::int32_t>& pool, Rng& rng,
                 Triple& t) {
  const UserItem pr = pairs[static_cast<size_t>(rng.uniform(static_cast<std::uint64_t>(pairs.size())))];
  t.u = pr.u;
  t.i = pr.i;
  if (train.row_size(pr.u) >= static_cast<Index>(pool.size())) return false;
  do {
    t.j = pool[static_cast<size_t>(rng.uniform(static_cast<std::uint64_t>(pool.size())))];
  } while (train.contains(pr.u, t.j));
  return true;
}

void check_finite(const VBPRParams& p, double loss, const VBPRTrainConfig& c) {
  const Index K = p.dim, V = p.vdim, D = p.n_features;
  bool ok = std::isfinite(loss) && all_finite(p.projection, D * V) && all_finite(p.user_visual, p.n_users * V);
  if (K) ok = ok && all_finite(p.user_factors, p.n_users * K) && all_finite(p.item_factors, p.n_items * K);
  if (p.item_bias) ok = ok && all_finite(p.item_bias, p.n_items);
  if (p.visual_bias) ok = ok && all_finite(p.visual_bias, D);
  check_divergence(ok, c.epoch, c.lr, "scale the item features down");
}

void check_triples(const VBPRParams& p, const std::int32_t* users, const std::int32_t* pos, const std::int32_t* neg,
                   Index n) {
  for (Index t = 0; t < n; ++t) {
    require(users[t] >= 0 && users[t] < p.n_users && pos[t] >= 0 && pos[t] < p.n_items && neg[t] >= 0 &&
                neg[t] < p.n_items,
            "triple " + std::to_string(t) + " has an id out of range");
  }
}

}  // namespace

void VBPRTrainConfig::validate() const {
  require(std::isfinite(lr) && lr > 0.0f, "lr must be a positive finite number, got " + std::to_string(lr));
  require(std::isfinite(reg) && reg >= 0.0f, "reg must be >= 0, got " + std::to_string(reg));
  require(std::isfinite(reg_bias) && reg_bias >= 0.0f, "reg_bias must be >= 0");
  require(std::isfinite(reg_projection) && reg_projection >= 0.0f, "reg_projection must be >= 0");
  adv.validate();
  require(batch_size >= 1, "batch_size must be >= 1");
  require(num_threads >= 0, "num_threads must be >= 0");
}

void VBPRParams::validate(const VBPRTrainConfig* config) const {
  require(n_users > 0 && n_items > 0, "model must have at least one user and item");
  require(vdim > 0 && n_features > 0, "content factors and feature dimension must be positive");
  require(dim >= 0, "dim must be >= 0");
  require(features && projection && user_visual, "features, projection and user visual factors are required");
  require(dim == 0 || (user_factors && item_factors), "ID factor matrices are missing");
  require(!shared_user() || dim == vdim, "a shared user vector needs dim == vdim");
  if (config && config->optimizer == Optimizer::Adagrad) {
    require(projection_accum && user_visual_accum && (dim == 0 || (user_accum && item_accum)),
            "Adagrad needs accumulator arrays");
    require(!item_bias || bias_accum, "Adagrad needs a bias accumulator");
    require(!visual_bias || visual_bias_accum, "Adagrad needs a visual bias accumulator");
    require(!shared_user() || user_visual_accum == user_accum, "shared user vector needs a shared accumulator");
  }
}

EpochStats train_vbpr(VBPRParams& params, const CsrView& train, const VBPRTrainConfig& config) {
  config.validate();
  params.validate(&config);
  require(train.n_rows == params.n_users && train.n_cols == params.n_items,
          "training data has " + std::to_string(train.n_rows) + " users x " + std::to_string(train.n_cols) +
              " items but the model has " + std::to_string(params.n_users) + " x " + std::to_string(params.n_items));
  require(train.nnz() > 0, "training data is empty");
  const std::vector<UserItem> pairs = interaction_pairs(train);
  const std::vector<std::int32_t> pool = negative_pool(train, config.cold_negatives);
  const Index total = config.n_samples < 0 ? train.nnz() : config.n_samples;
  const EpochStats out = run_hogwild_epoch(
      total, config.num_threads, mix_seed(config.seed, config.epoch, 0x7B9Bu),
      [&](Rng rng, Index begin, Index end, ThreadTotals& tot) {
        auto next = [&](Triple& t) { return draw(train, pairs, pool, rng, t); };
        std::vector<Triple> batch;
        if (config.batch_size == 1) {
          VSampleStep step(params, config);
          run_batches(begin, end, 1, batch, tot, next, [&](const Triple* b, int, ThreadTotals& t) { step(b[0], t); });
        } else {
          VBatchStep step(params, config, config.batch_size);
          run_batches(begin, end, config.batch_size, batch, tot, next, [&](const Triple* b, int n, ThreadTotals& t) {
            step.compute(b, n, t);
            step.apply(params);
          });
        }
      });
  check_finite(params, out.loss, config);
  return out;
}

EpochStats train_vbpr_on_triples(VBPRParams& params, const std::int32_t* users, const std::int32_t* pos,
                                 const std::int32_t* neg, Index n_triples, const VBPRTrainConfig& config) {
  config.validate();
  params.validate(&config);
  check_triples(params, users, pos, neg, n_triples);
  std::vector<ThreadTotals> totals(1);
  ThreadTotals& tot = totals[0];
  VSampleStep sample_step(params, config);
  VBatchStep batch_step(params, config, config.batch_size);
  std::vector<Triple> batch(static_cast<size_t>(config.batch_size));
  for (Index t = 0; t < n_triples;) {
    int n = 0;
    for (; t < n_triples && n < config.batch_size; ++t) {
      require(pos[t] != neg[t], "triple " + std::to_string(t) + " has i == j");
      batch[static_cast<size_t>(n++)] = Triple{users[t], pos[t], neg[t]};
    }
    if (config.batch_size == 1) {
      sample_step(batch[0], tot);
    } else {
      batch_step.compute(batch.data(), n, tot);
      batch_step.apply(params);
    }
    tot.samples += n;
  }
  EpochStats out = summarise(totals);
  check_finite(params, out.loss, config);
  return out;
}

double vbpr_objective_gradients(const VBPRParams& params, const std::int32_t* users, const std::int32_t* pos,
                                const std::int32_t* neg, Index n_triples, const VBPRTrainConfig& config,
                                VBPRGradients& out) {
  config.validate();
  params.validate(nullptr);
  check_triples(params, users, pos, neg, n_triples);
  require(n_triples > 0 && n_triples < (Index(1) << 30), "need between 1 and 2^30 triples");
  std::vector<Triple> batch(static_cast<size_t>(n_triples));
  for (Index t = 0; t < n_triples; ++t) batch[static_cast<size_t>(t)] = Triple{users[t], pos[t], neg[t]};
  VBatchStep step(params, config, static_cast<int>(n_triples));
  ThreadTotals tot;
  step.compute(batch.data(), static_cast<int>(n_triples), tot);
  step.scatter(out);
  return tot.loss + config.adv.reg_adv * tot.adv_loss;
}

void vbpr_item_content(const VBPRParams& p, const float* delta, float* out_v, float* out_b, int num_threads) {
  p.validate(nullptr);
  const Index D = p.n_features, V = p.vdim;
  const int n_chunks = resolve_threads(num_threads);
  ConstMatrixMapF E(p.projection, D, V);
  // Blocks of items so that F + delta never has to exist as a whole.
  const Index block = 256;
  const Index n_blocks = (p.n_items + block - 1) / block;
#pragma omp parallel for num_threads(n_chunks) schedule(dynamic, 1)
  for (Index b = 0; b < n_blocks; ++b) {
    const Index lo = b * block, hi = std::min<Index>(p.n_items, lo + block);
    RowMatrixF C = ConstMatrixMapF(p.features + lo * D, hi - lo, D);
    if (delta) C += ConstMatrixMapF(delta + lo * D, hi - lo, D);
    MatrixMapF(out_v + lo * V, hi - lo, V).noalias() = C * E;
    if (out_b && p.visual_bias) VectorMapF(out_b + lo, hi - lo).noalias() = C * ConstVectorMapF(p.visual_bias, D);
  }
}

double vbpr_feature_gradients(const VBPRParams& p, const float* delta, const std::int32_t* users,
                              const std::int32_t* pos, const std::int32_t* neg, Index n_triples, float* grad,
                              Index* correct, int num_threads) {
  p.validate(nullptr);
  check_triples(p, users, pos, neg, n_triples);
  const int K = p.dim, V = p.vdim, D = p.n_features;
  // Item content vectors at the perturbed features, then per triple only dot products. The
  // gradient w.r.t. c_k is E^T m_k + n_k b', with m_k = sum_t (+-g_t theta_u) and n_k = sum_t +-g_t:
  // accumulate (m, n) per item, then one GEMM.
  RowMatrixF vis(p.n_items, V);
  Eigen::VectorXf vb = Eigen::VectorXf::Zero(p.n_items);
  vbpr_item_content(p, delta, vis.data(), p.visual_bias ? vb.data() : nullptr, num_threads);
  const int n_chunks = resolve_threads(num_threads);
  std::vector<RowMatrixF> M(static_cast<size_t>(n_chunks));
  std::vector<Eigen::VectorXf> N(static_cast<size_t>(n_chunks));
  std::vector<double> losses(static_cast<size_t>(n_chunks), 0.0);
  std::vector<Index> corrects(static_cast<size_t>(n_chunks), 0);
  ExceptionCarrier carrier;
#pragma omp parallel for num_threads(n_chunks) schedule(static, 1)
  for (int chunk = 0; chunk < n_chunks; ++chunk) {
    carrier.run([&] {
      RowMatrixF& m = M[static_cast<size_t>(chunk)];
      Eigen::VectorXf& nn = N[static_cast<size_t>(chunk)];
      m = RowMatrixF::Zero(p.n_items, V);
      nn = Eigen::VectorXf::Zero(p.n_items);
      const Index begin = n_triples * chunk / n_chunks, end = n_triples * (chunk + 1) / n_chunks;
      for (Index t = begin; t < end; ++t) {
        const std::int32_t u = users[t], i = pos[t], j = neg[t];
        const float* th = p.user_visual + static_cast<Index>(u) * V;
        float x = 0.0f;
        for (int k = 0; k < V; ++k) x += th[k] * (vis(i, k) - vis(j, k));
        if (K) {
          const float* pu = p.user_factors + static_cast<Index>(u) * K;
          const float* qi = p.item_factors + static_cast<Index>(i) * K;
          const float* qj = p.item_factors + static_cast<Index>(j) * K;
          for (int k = 0; k < K; ++k) x += pu[k] * (qi[k] - qj[k]);
        }
        if (p.item_bias) x += p.item_bias[i] - p.item_bias[j];
        x += vb[i] - vb[j];
        losses[static_cast<size_t>(chunk)] += softplus(-x);
        corrects[static_cast<size_t>(chunk)] += x > 0.0f;
        const float g = sigmoid(-x);
        float* mi = m.row(i).data();
        float* mj = m.row(j).data();
        for (int k = 0; k < V; ++k) {
          mi[k] -= g * th[k];
          mj[k] += g * th[k];
        }
        nn[i] -= g;
        nn[j] += g;
      }
    });
  }
  carrier.rethrow();
  for (int c = 1; c < n_chunks; ++c) {
    M[0] += M[static_cast<size_t>(c)];
    N[0] += N[static_cast<size_t>(c)];
  }
  MatrixMapF out(grad, p.n_items, D);
  out.noalias() = M[0] * ConstMatrixMapF(p.projection, D, V).transpose();
  if (p.visual_bias) out.noalias() += N[0] * ConstVectorMapF(p.visual_bias, D).transpose();
  double loss = 0.0;
  Index corr = 0;
  for (int c = 0; c < n_chunks; ++c) {
    loss += losses[static_cast<size_t>(c)];
    corr += corrects[static_cast<size_t>(c)];
  }
  if (correct) *correct = corr;
  return loss;
}

}  // namespace advrec
