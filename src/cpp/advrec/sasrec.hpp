// advrec:model  (the include rule: see cmake/check_includes.cmake)
// SASRec (Kang & McAuley, ICDM 2018) and SAO / ASASRec (Manotumruksa & Yilmaz, SIGIR 2020).
//
// Network for one user sequence x_0..x_{n-1} (the most recent n <= maxlen items, left padded to
// maxlen: position of x_t is o + t with o = maxlen - n; padded slots are skipped entirely, which is
// what the reference's padding masks achieve):
//   E_t   = drop(sqrt(d) * M[x_t] + P[o + t] + DeltaIn_t)                         (eq. 1 / 9)
// (the reference scales item embeddings by sqrt(d); eq. 9 adds Delta to the sum M + P, so the
// input perturbation has norm eps whatever d is)
//   blocks x:  X <- X + MHA(LN1(X))     causal multi-head self-attention, dropout on the weights
//              X <- X + drop(relu(LN2(X) W1 + b1) drop) W2 + b2)                  (eq. 2-3)
//   Z     = LN_final(X)
//   y_t(j) = Z_t . (M[j] + Delta_j,t)                                             (eq. 4 / 9)
// Loss: sum_t softplus(-y_t(target_t)) + softplus(y_t(neg_t)), target_t = x_{t+1}, one negative
// per position never in the user's history (eq. 5), normalised by the number of positions of the
// mini-batch as in the reference implementation. SAO: L + lambda * L(Theta + Delta) with
// Delta = eps * Gamma / ||Gamma|| per perturbed vector (eq. 6-11).
//
// The layer code is templated on the scalar type so that the C++ tests can check every gradient
// against finite differences in double precision; training runs in float.
#pragma once

#include "advrec/adversary.hpp"
#include "advrec/common.hpp"
#include "advrec/csr.hpp"
#include "advrec/rng.hpp"
#include "advrec/types.hpp"

#include <Eigen/Core>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

namespace advrec {

enum class SeqPerturb : int { Paper = 0, Output = 1 };

// Plain configuration; defaults are the reference SASRec settings (Adam beta2 = 0.98).
struct SASRecConfig {
  int dim = 64;
  int maxlen = 50;
  int blocks = 2;
  int heads = 1;
  float dropout = 0.2f;
  float lr = 0.001f;
  float beta1 = 0.9f;
  float beta2 = 0.98f;
  float adam_eps = 1e-8f;
  float l2 = 0.0f;        // L2 on the item rows used in a mini-batch and on positional embeddings
  int batch_size = 128;   // sequences per optimiser step
  // SAO: inactive when eps == 0 or reg_adv == 0, which then reproduces SASRec exactly.
  AdversarialTerm adv;
  SeqPerturb perturb = SeqPerturb::Paper;
  bool sync = false;       // false: Hogwild (each thread its own mini-batches); true: data parallel
  bool lazy_adam = false;  // true: Adam moves only the item rows a mini-batch touched
  int num_threads = 0;
  std::uint64_t seed = 0;
  std::uint64_t epoch = 0;

  void validate() const;
};

// Offsets of every dense (non item-table) parameter in one flat vector.
struct SASRecLayout {
  Index dim = 0, maxlen = 0, blocks = 0;
  SASRecLayout() = default;
  SASRecLayout(int d, int L, int b) : dim(d), maxlen(L), blocks(b) {}
  Index block_size() const { return 5 * dim * dim + 9 * dim; }
  Index pos() const { return 0; }
  Index block(Index b) const { return maxlen * dim + b * block_size(); }
  Index ln1_g(Index b) const { return block(b); }
  Index ln1_b(Index b) const { return block(b) + dim; }
  Index wq(Index b) const { return block(b) + 2 * dim; }
  Index bq(Index b) const { return wq(b) + dim * dim; }
  Index wk(Index b) const { return bq(b) + dim; }
  Index bk(Index b) const { return wk(b) + dim * dim; }
  Index wv(Index b) const { return bk(b) + dim; }
  Index bv(Index b) const { return wv(b) + dim * dim; }
  Index ln2_g(Index b) const { return bv(b) + dim; }
  Index ln2_b(Index b) const { return ln2_g(b) + dim; }
  Index w1(Index b) const { return ln2_b(b) + dim; }
  Index b1(Index b) const { return w1(b) + dim * dim; }
  Index w2(Index b) const { return b1(b) + dim; }
  Index b2(Index b) const { return w2(b) + dim * dim; }
  Index final_g() const { return block(blocks); }
  Index final_b() const { return final_g() + dim; }
  Index size() const { return final_b() + dim; }
};

// Views of parameter memory owned by the caller (NumPy), float32 row-major.
struct SASRecParams {
  std::int32_t n_items = 0;
  float* item_emb = nullptr;    // n_items x dim, shared by input and output
  float* dense = nullptr;       // SASRecLayout::size()
  // Adam state (same shapes); required for training only.
  float* item_m = nullptr;
  float* item_v = nullptr;
  float* dense_m = nullptr;
  float* dense_v = nullptr;
  std::int64_t* step = nullptr;  // Adam step counter (one value)
};

// Training sequences: `seqs` is a CSR of each user's items oldest first (not sorted); `history`
// is the same interactions as sorted CSR (negative sampling checks membership there). In the
// returned figures a sample is one position (losses and accuracy are per position).
EpochStats train_sasrec(SASRecParams& params, const CsrView& seqs, const CsrView& history,
                         const SASRecConfig& config);

// The last position's output Z for each user (out: n_users_asked x dim), dropout off. Users with
// an empty sequence get a zero vector.
void sasrec_encode(const SASRecParams& params, const CsrView& seqs, const std::int32_t* users, Index n_users,
                   const SASRecConfig& config, float* out);

// Loss summed over every training position of `users` (dropout off) with explicit negatives
// `neg` aligned with seqs.indices (neg[k] is the negative of the position whose target is
// seqs.indices[k]; -1 skips that position), at item table item_emb + item_delta (item_delta may be
// null). Writes d loss / d item table into grad_items (n_items x dim, overwritten) and, if
// grad_dense is not null, d loss / d dense parameters. Returns the loss; `correct` receives the
// number of positions with y(target) > y(neg).
double sasrec_loss_gradients(const SASRecParams& params, const CsrView& seqs, const std::int32_t* neg,
                             const std::int32_t* users, Index n_users, const float* item_delta,
                             const SASRecConfig& config, float* grad_items, float* grad_dense, Index* correct,
                             int num_threads);

// ------------------------------------------------------------------------------------------------
// Layers (templated on the scalar type; exposed for the gradient checks in cpp/tests).
// ------------------------------------------------------------------------------------------------
namespace seq {

template <class S>
using Mat = Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
template <class S>
using Col = Eigen::Matrix<S, Eigen::Dynamic, 1>;
template <class S>
using RowMap = Eigen::Map<const Eigen::Matrix<S, 1, Eigen::Dynamic>>;
template <class S>
using MatMap = Eigen::Map<const Mat<S>>;

constexpr double kLayerNormEps = 1e-8;

// Several sequences are packed row-wise into one matrix so that the position-wise layers
// (LayerNorm, projections, feed-forward) run as one matrix product per mini-batch; attention
// works within each segment.
struct Segment {
  Index row0 = 0;  // first row in the packed matrices
  Index n = 0;     // rows (positions) of this sequence
};
using Segments = std::vector<Segment>;
inline Segments one_segment(Index n) { return Segments{Segment{0, n}}; }

// Sequences of several users packed row-wise: inputs x, and for training the targets (the next
// item of every input). Used by training, encoding and the loss gradients alike.
struct PackedBatch {
  Segments segs;
  std::vector<std::int32_t> x, tgt;

  void clear() {
    segs.clear();
    x.clear();
    tgt.clear();
  }
  Index rows() const { return static_cast<Index>(x.size()); }
  // Appends user u's last n = min(m - 1, maxlen) training positions (inputs x_{m-1-n..m-2},
  // targets x_{m-n..m-1}) as one segment; returns n (0 appends nothing).
  Index add_training(const CsrView& seqs, std::int32_t u, Index maxlen) {
    const Index m = seqs.row_size(u);
    const Index n = std::min<Index>(m - 1, maxlen);
    if (n <= 0) return 0;
    const std::int32_t* s = seqs.row_data(u);
    segs.push_back(Segment{rows(), n});
    x.insert(x.end(), s + (m - 1 - n), s + (m - 1));
    tgt.insert(tgt.end(), s + (m - n), s + m);
    return n;
  }
  // Appends user u's last min(m, maxlen) items as inputs (encoding: no targets); returns the count.
  Index add_inputs(const CsrView& seqs, std::int32_t u, Index maxlen) {
    const Index m = seqs.row_size(u);
    const Index n = std::min<Index>(m, maxlen);
    if (n <= 0) return 0;
    segs.push_back(Segment{rows(), n});
    x.insert(x.end(), seqs.row_data(u) + (m - n), seqs.row_data(u) + m);
    return n;
  }
};

// Y = gamma * (X - mean) / sqrt(var + eps) + beta, row by row.
template <class S>
struct LayerNormCache {
  Mat<S> xhat;
  Col<S> rstd;
};

template <class S>
void layernorm_forward(const Mat<S>& X, const S* gamma, const S* beta, Mat<S>& Y, LayerNormCache<S>& c) {
  const Index n = X.rows(), d = X.cols();
  c.xhat.resize(n, d);
  c.rstd.resize(n);
  Y.resize(n, d);
  RowMap<S> g(gamma, d), b(beta, d);
  for (Index t = 0; t < n; ++t) {
    const S mean = X.row(t).mean();
    const S var = (X.row(t).array() - mean).square().mean();
    const S r = S(1) / std::sqrt(var + S(kLayerNormEps));
    c.rstd(t) = r;
    c.xhat.row(t) = (X.row(t).array() - mean) * r;
    Y.row(t) = c.xhat.row(t).cwiseProduct(g) + b;
  }
}

// dX (overwritten) from dY; parameter gradients accumulated into dgamma/dbeta.
template <class S>
void layernorm_backward(const Mat<S>& dY, const S* gamma, const LayerNormCache<S>& c, Mat<S>& dX, S* dgamma,
                        S* dbeta) {
  const Index n = dY.rows(), d = dY.cols();
  dX.resize(n, d);
  RowMap<S> g(gamma, d);
  Eigen::Map<Eigen::Matrix<S, 1, Eigen::Dynamic>> dg(dgamma, d), db(dbeta, d);
  for (Index t = 0; t < n; ++t) {
    dg += dY.row(t).cwiseProduct(c.xhat.row(t));
    db += dY.row(t);
    Eigen::Matrix<S, 1, Eigen::Dynamic> gy = dY.row(t).cwiseProduct(g);
    const S m1 = gy.mean();
    const S m2 = gy.cwiseProduct(c.xhat.row(t)).mean();
    dX.row(t) = (gy.array() - m1 - c.xhat.row(t).array() * m2) * c.rstd(t);
  }
}

// Causal multi-head self-attention without output projection (as the reference SASRec):
// Q = Y Wq + bq, K = Y Wk + bk, V = Y Wv + bv; per head h, A_h = softmax(Q_h K_h^T / sqrt(d_h))
// with position t attending to s <= t only; O_h = drop(A_h) V_h.
template <class S>
struct AttentionCache {
  Mat<S> Q, K, V;
  std::vector<Mat<S>> A;   // per head, n x n, zero above the diagonal
  std::vector<Mat<S>> Ad;  // after dropout (aliases A when there is no dropout mask)
};

struct AttentionWeights {
  Index wq, bq, wk, bk, wv, bv;
};

// `mask` ([segment * heads + head], n x n multipliers 0 or 1/(1-p)) may be empty: no dropout.
template <class S>
void attention_forward(const Mat<S>& Y, const S* dense, const AttentionWeights& w, int heads, const Segments& segs,
                       const std::vector<Mat<S>>& mask, Mat<S>& O, AttentionCache<S>& c) {
  const Index N = Y.rows(), d = Y.cols(), dh = d / heads;
  MatMap<S> Wq(dense + w.wq, d, d), Wk(dense + w.wk, d, d), Wv(dense + w.wv, d, d);
  RowMap<S> bq(dense + w.bq, d), bk(dense + w.bk, d), bv(dense + w.bv, d);
  c.Q.noalias() = Y * Wq;
  c.Q.rowwise() += bq;
  c.K.noalias() = Y * Wk;
  c.K.rowwise() += bk;
  c.V.noalias() = Y * Wv;
  c.V.rowwise() += bv;
  const size_t n_att = segs.size() * heads;
  c.A.resize(n_att);
  c.Ad.resize(n_att);
  O.resize(N, d);
  const S scale = S(1) / std::sqrt(S(dh));
  for (size_t g = 0; g < segs.size(); ++g) {
    const Index r0 = segs[g].row0, n = segs[g].n;
    for (int h = 0; h < heads; ++h) {
      const size_t a = g * heads + h;
      Mat<S>& A = c.A[a];
      A.setZero(n, n);
      auto Qh = c.Q.block(r0, h * dh, n, dh);
      auto Kh = c.K.block(r0, h * dh, n, dh);
      for (Index t = 0; t < n; ++t) {
        S mx = -std::numeric_limits<S>::infinity();
        for (Index s2 = 0; s2 <= t; ++s2) {
          const S v = Qh.row(t).dot(Kh.row(s2)) * scale;
          A(t, s2) = v;
          mx = std::max(mx, v);
        }
        S sum = 0;
        for (Index s2 = 0; s2 <= t; ++s2) {
          A(t, s2) = std::exp(A(t, s2) - mx);
          sum += A(t, s2);
        }
        const S inv = S(1) / sum;
        for (Index s2 = 0; s2 <= t; ++s2) A(t, s2) *= inv;
      }
      if (!mask.empty()) {
        c.Ad[a] = A.cwiseProduct(mask[a]);
        O.block(r0, h * dh, n, dh).noalias() = c.Ad[a] * c.V.block(r0, h * dh, n, dh);
      } else {
        O.block(r0, h * dh, n, dh).noalias() = A * c.V.block(r0, h * dh, n, dh);
      }
    }
  }
}

template <class S>
void attention_forward(const Mat<S>& Y, const S* dense, const AttentionWeights& w, int heads,
                       const std::vector<Mat<S>>& mask, Mat<S>& O, AttentionCache<S>& c) {
  attention_forward(Y, dense, w, heads, one_segment(Y.rows()), mask, O, c);
}

// dY (overwritten) from dO; weight gradients accumulated into ddense (same layout as dense).
template <class S>
void attention_backward(const Mat<S>& dO, const Mat<S>& Y, const S* dense, const AttentionWeights& w, int heads,
                        const Segments& segs, const std::vector<Mat<S>>& mask, const AttentionCache<S>& c, Mat<S>& dY,
                        S* ddense) {
  const Index N = Y.rows(), d = Y.cols(), dh = d / heads;
  const S scale = S(1) / std::sqrt(S(dh));
  Mat<S> dQ(N, d), dK(N, d), dV(N, d);
  Mat<S> dA, dS;
  for (size_t g = 0; g < segs.size(); ++g) {
    const Index r0 = segs[g].row0, n = segs[g].n;
    for (int h = 0; h < heads; ++h) {
      const size_t a = g * heads + h;
      const Mat<S>& A = c.A[a];
      const Mat<S>& Ad = mask.empty() ? A : c.Ad[a];
      auto dOh = dO.block(r0, h * dh, n, dh);
      dV.block(r0, h * dh, n, dh).noalias() = Ad.transpose() * dOh;
      dA.noalias() = dOh * c.V.block(r0, h * dh, n, dh).transpose();
      if (!mask.empty()) dA = dA.cwiseProduct(mask[a]);
      // softmax backward, restricted to the causal triangle (A is 0 above it)
      dS.setZero(n, n);
      for (Index t = 0; t < n; ++t) {
        S dot = 0;
        for (Index s2 = 0; s2 <= t; ++s2) dot += dA(t, s2) * A(t, s2);
        for (Index s2 = 0; s2 <= t; ++s2) dS(t, s2) = A(t, s2) * (dA(t, s2) - dot) * scale;
      }
      dQ.block(r0, h * dh, n, dh).noalias() = dS * c.K.block(r0, h * dh, n, dh);
      dK.block(r0, h * dh, n, dh).noalias() = dS.transpose() * c.Q.block(r0, h * dh, n, dh);
    }
  }
  using MMap = Eigen::Map<Mat<S>>;
  using RMap = Eigen::Map<Eigen::Matrix<S, 1, Eigen::Dynamic>>;
  MMap(ddense + w.wq, d, d).noalias() += Y.transpose() * dQ;
  MMap(ddense + w.wk, d, d).noalias() += Y.transpose() * dK;
  MMap(ddense + w.wv, d, d).noalias() += Y.transpose() * dV;
  RMap(ddense + w.bq, d) += dQ.colwise().sum();
  RMap(ddense + w.bk, d) += dK.colwise().sum();
  RMap(ddense + w.bv, d) += dV.colwise().sum();
  MatMap<S> Wq(dense + w.wq, d, d), Wk(dense + w.wk, d, d), Wv(dense + w.wv, d, d);
  dY.noalias() = dQ * Wq.transpose();
  dY.noalias() += dK * Wk.transpose();
  dY.noalias() += dV * Wv.transpose();
}

template <class S>
void attention_backward(const Mat<S>& dO, const Mat<S>& Y, const S* dense, const AttentionWeights& w, int heads,
                        const std::vector<Mat<S>>& mask, const AttentionCache<S>& c, Mat<S>& dY, S* ddense) {
  attention_backward(dO, Y, dense, w, heads, one_segment(Y.rows()), mask, c, dY, ddense);
}

// Point-wise feed-forward: F = drop2(drop1(relu(Y W1 + b1)) W2 + b2).
template <class S>
struct FFNCache {
  Mat<S> H;   // relu output after dropout 1
  Mat<S> Hm;  // relu output before dropout (for the relu mask)
};

struct FFNWeights {
  Index w1, b1, w2, b2;
};

// m1, m2: n x d dropout multipliers, or empty matrices for no dropout.
template <class S>
void ffn_forward(const Mat<S>& Y, const S* dense, const FFNWeights& w, const Mat<S>& m1, const Mat<S>& m2, Mat<S>& F,
                 FFNCache<S>& c) {
  const Index d = Y.cols();
  MatMap<S> W1(dense + w.w1, d, d), W2(dense + w.w2, d, d);
  RowMap<S> b1(dense + w.b1, d), b2(dense + w.b2, d);
  c.Hm.noalias() = Y * W1;
  c.Hm.rowwise() += b1;
  c.Hm = c.Hm.cwiseMax(S(0));
  c.H = m1.size() ? Mat<S>(c.Hm.cwiseProduct(m1)) : c.Hm;
  F.noalias() = c.H * W2;
  F.rowwise() += b2;
  if (m2.size()) F = F.cwiseProduct(m2);
}

template <class S>
void ffn_backward(const Mat<S>& dF, const Mat<S>& Y, const S* dense, const FFNWeights& w, const Mat<S>& m1,
                  const Mat<S>& m2, const FFNCache<S>& c, Mat<S>& dY, S* ddense) {
  const Index d = Y.cols();
  using MMap = Eigen::Map<Mat<S>>;
  using RMap = Eigen::Map<Eigen::Matrix<S, 1, Eigen::Dynamic>>;
  MatMap<S> W1(dense + w.w1, d, d), W2(dense + w.w2, d, d);
  Mat<S> dG = m2.size() ? Mat<S>(dF.cwiseProduct(m2)) : dF;
  MMap(ddense + w.w2, d, d).noalias() += c.H.transpose() * dG;
  RMap(ddense + w.b2, d) += dG.colwise().sum();
  Mat<S> dH = dG * W2.transpose();
  if (m1.size()) dH = dH.cwiseProduct(m1);
  dH = (c.Hm.array() > S(0)).select(dH, S(0));
  MMap(ddense + w.w1, d, d).noalias() += Y.transpose() * dH;
  RMap(ddense + w.b1, d) += dH.colwise().sum();
  dY.noalias() = dH * W1.transpose();
}

// Dropout multipliers of packed sequences; each sequence's are drawn in a fixed order from that
// sequence's own RNG, so they do not depend on how sequences are packed or split across threads.
template <class S>
struct Masks {
  Mat<S> emb;                             // N x d
  std::vector<std::vector<Mat<S>>> attn;  // [block][segment * heads + head]
  std::vector<Mat<S>> f1, f2;             // [block], N x d
  bool active = false;
};

// Fills rows [row0, row0 + n) of m with multipliers 0 or 1/(1-p): 16 random bits per entry.
template <class S>
void fill_rows(Mat<S>& m, Index row0, Index n, float p, Rng& rng) {
  const S keep = S(1) / S(1.0f - p);
  const std::uint32_t thr = static_cast<std::uint32_t>(p * 65536.0f);
  S* data = m.data() + row0 * m.cols();
  const Index count = n * m.cols();
  std::uint64_t bits = 0;
  for (Index i = 0; i < count; ++i) {
    if ((i & 3) == 0) bits = rng.next();
    data[i] = (static_cast<std::uint32_t>(bits & 0xFFFF) < thr) ? S(0) : keep;
    bits >>= 16;
  }
}

// Sizes the packed masks for N rows and `segments` sequences.
template <class S>
void prepare_masks(Masks<S>& mk, Index N, size_t segments, const SASRecConfig& cfg) {
  mk.active = cfg.dropout > 0.0f;
  mk.attn.assign(cfg.blocks, {});
  mk.f1.resize(cfg.blocks);
  mk.f2.resize(cfg.blocks);
  if (!mk.active) return;
  mk.emb.resize(N, cfg.dim);
  for (int b = 0; b < cfg.blocks; ++b) {
    mk.attn[b].resize(segments * cfg.heads);
    mk.f1[b].resize(N, cfg.dim);
    mk.f2[b].resize(N, cfg.dim);
  }
}

// Draws the masks of segment g (rows row0 .. row0 + n).
template <class S>
void draw_segment_masks(Masks<S>& mk, size_t g, Index row0, Index n, const SASRecConfig& cfg, Rng& rng) {
  if (!mk.active) return;
  fill_rows(mk.emb, row0, n, cfg.dropout, rng);
  for (int b = 0; b < cfg.blocks; ++b) {
    for (int h = 0; h < cfg.heads; ++h) {
      Mat<S>& a = mk.attn[b][g * cfg.heads + h];
      a.resize(n, n);
      fill_rows(a, 0, n, cfg.dropout, rng);
    }
    fill_rows(mk.f1[b], row0, n, cfg.dropout, rng);
    fill_rows(mk.f2[b], row0, n, cfg.dropout, rng);
  }
}

template <class S>
void draw_masks(Masks<S>& mk, Index n, const SASRecConfig& cfg, Rng& rng) {
  prepare_masks(mk, n, 1, cfg);
  draw_segment_masks(mk, 0, 0, n, cfg, rng);
}

// Forward caches of one sequence through the whole network.
template <class S>
struct NetCache {
  Mat<S> E;  // embedding output (after dropout) = input of block 0
  struct Block {
    Mat<S> X;  // block input
    LayerNormCache<S> ln1, ln2;
    Mat<S> Y1, X2, Y2;
    AttentionCache<S> att;
    FFNCache<S> ffn;
  };
  std::vector<Block> blk;
  Mat<S> Xf;  // input of the final LayerNorm
  LayerNormCache<S> lnf;
  Mat<S> Z;   // output, n x d
};

// Item table access with an optional per-position input perturbation.
template <class S>
struct Embeddings {
  const S* item = nullptr;        // n_items x d
  const S* item_delta = nullptr;  // optional n_items x d added to every use (attacks)
  const S* in_delta = nullptr;    // optional n x d added to the embedding sum at input row t (SAO eq. 9)
};

inline AttentionWeights attention_weights(const SASRecLayout& L, Index b) {
  return {L.wq(b), L.bq(b), L.wk(b), L.bk(b), L.wv(b), L.bv(b)};
}
inline FFNWeights ffn_weights(const SASRecLayout& L, Index b) { return {L.w1(b), L.b1(b), L.w2(b), L.b2(b)}; }

// Network forward for packed inputs x (segment g occupies rows row0 .. row0 + n, its items placed
// at positions maxlen - n .. maxlen - 1).
template <class S>
void net_forward(const std::int32_t* x, const Segments& segs, const S* dense, const Embeddings<S>& emb,
                 const SASRecLayout& L, int heads, const Masks<S>& mk, NetCache<S>& c) {
  const Index d = L.dim;
  const Index N = segs.empty() ? 0 : segs.back().row0 + segs.back().n;
  const S sd = std::sqrt(S(d));
  c.E.resize(N, d);
  for (const Segment& sg : segs) {
    const Index o = L.maxlen - sg.n;
    for (Index t = 0; t < sg.n; ++t) {
      const Index r = sg.row0 + t;
      auto row = c.E.row(r);
      row = RowMap<S>(emb.item + Index(x[r]) * d, d);
      if (emb.item_delta) row += RowMap<S>(emb.item_delta + Index(x[r]) * d, d);
      row = row * sd + RowMap<S>(dense + L.pos() + (o + t) * d, d);
      if (emb.in_delta) row += RowMap<S>(emb.in_delta + r * d, d);
    }
  }
  if (mk.active) c.E = c.E.cwiseProduct(mk.emb);
  c.blk.resize(L.blocks);
  const Mat<S>* in = &c.E;
  static const Mat<S> none;
  static const std::vector<Mat<S>> no_masks;
  for (Index b = 0; b < L.blocks; ++b) {
    auto& B = c.blk[b];
    B.X = *in;
    layernorm_forward(B.X, dense + L.ln1_g(b), dense + L.ln1_b(b), B.Y1, B.ln1);
    Mat<S> O;
    attention_forward(B.Y1, dense, attention_weights(L, b), heads, segs, mk.active ? mk.attn[b] : no_masks, O,
                      B.att);
    B.X2 = B.X + O;
    layernorm_forward(B.X2, dense + L.ln2_g(b), dense + L.ln2_b(b), B.Y2, B.ln2);
    Mat<S> F;
    ffn_forward(B.Y2, dense, ffn_weights(L, b), mk.active ? mk.f1[b] : none, mk.active ? mk.f2[b] : none, F, B.ffn);
    if (b + 1 < L.blocks) {
      c.blk[b + 1].X = B.X2 + F;
      in = &c.blk[b + 1].X;
    } else {
      c.Xf = B.X2 + F;
    }
  }
  if (L.blocks == 0) c.Xf = c.E;
  layernorm_forward(c.Xf, dense + L.final_g(), dense + L.final_b(), c.Z, c.lnf);
}

template <class S>
void net_forward(const std::int32_t* x, Index n, const S* dense, const Embeddings<S>& emb, const SASRecLayout& L,
                 int heads, const Masks<S>& mk, NetCache<S>& c) {
  net_forward(x, one_segment(n), dense, emb, L, heads, mk, c);
}

// Backward from dZ. Accumulates dense gradients into ddense; writes dE0 (gradient w.r.t. the
// embedding sum sqrt(d) * M[x_t] + P[o + t] before dropout), n x d. Positional gradients are added
// to ddense; the caller routes sqrt(d) * dE0 to the item rows.
template <class S>
void net_backward(const Mat<S>& dZ, const Segments& segs, const S* dense, const SASRecLayout& L, int heads,
                  const Masks<S>& mk, const NetCache<S>& c, S* ddense, Mat<S>& dE0) {
  const Index d = L.dim;
  static const Mat<S> none;
  static const std::vector<Mat<S>> no_masks;
  Mat<S> dX;
  layernorm_backward(dZ, dense + L.final_g(), c.lnf, dX, ddense + L.final_g(), ddense + L.final_b());
  for (Index b = L.blocks - 1; b >= 0; --b) {
    const auto& B = c.blk[b];
    // X3 = X2 + F(LN2(X2)); dX holds dX3
    Mat<S> dY2, dX2;
    ffn_backward(dX, B.Y2, dense, ffn_weights(L, b), mk.active ? mk.f1[b] : none, mk.active ? mk.f2[b] : none, B.ffn,
                 dY2, ddense);
    layernorm_backward(dY2, dense + L.ln2_g(b), B.ln2, dX2, ddense + L.ln2_g(b), ddense + L.ln2_b(b));
    dX2 += dX;
    // X2 = X + Att(LN1(X))
    Mat<S> dY1, dXin;
    attention_backward(dX2, B.Y1, dense, attention_weights(L, b), heads, segs, mk.active ? mk.attn[b] : no_masks,
                       B.att, dY1, ddense);
    layernorm_backward(dY1, dense + L.ln1_g(b), B.ln1, dXin, ddense + L.ln1_g(b), ddense + L.ln1_b(b));
    dX = dXin + dX2;
  }
  dE0 = mk.active ? Mat<S>(dX.cwiseProduct(mk.emb)) : dX;
  for (const Segment& sg : segs) {
    const Index o = L.maxlen - sg.n;
    for (Index t = 0; t < sg.n; ++t) {
      Eigen::Map<Eigen::Matrix<S, 1, Eigen::Dynamic>>(ddense + L.pos() + (o + t) * d, d) += dE0.row(sg.row0 + t);
    }
  }
}

template <class S>
void net_backward(const Mat<S>& dZ, const S* dense, const SASRecLayout& L, int heads, const Masks<S>& mk,
                  const NetCache<S>& c, S* ddense, Mat<S>& dE0) {
  net_backward(dZ, one_segment(dZ.rows()), dense, L, heads, mk, c, ddense, dE0);
}

inline double softplus(double x) { return x > 0 ? x + std::log1p(std::exp(-x)) : std::log1p(std::exp(x)); }
inline double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

// Output layer and BCE loss of one sequence. tgt/neg: n item ids (neg -1 skips the position).
// Optional out_delta_pos/neg (n x d) perturb the output embeddings per position (paper mode);
// optional out_table_delta (n_items x d) perturbs output embeddings by item (released-code mode and
// attacks). Writes dZ scaled by `scale`; gpos/gneg receive the (unscaled) gradients w.r.t. the
// target/negative output embeddings. Returns the unscaled loss sum; adds to *correct.
template <class S>
double output_loss(const Mat<S>& Z, const std::int32_t* tgt, const std::int32_t* neg, const S* item, Index d,
                   const S* out_delta_pos, const S* out_delta_neg, const S* out_table_delta, S scale, Mat<S>& dZ,
                   Mat<S>& gpos, Mat<S>& gneg, Index* correct, Index* counted) {
  const Index n = Z.rows();
  dZ.setZero(n, d);
  gpos.setZero(n, d);
  gneg.setZero(n, d);
  double loss = 0;
  Eigen::Matrix<S, 1, Eigen::Dynamic> ep(d), en(d);
  for (Index t = 0; t < n; ++t) {
    if (neg[t] < 0) continue;
    ep = RowMap<S>(item + Index(tgt[t]) * d, d);
    en = RowMap<S>(item + Index(neg[t]) * d, d);
    if (out_table_delta) {
      ep += RowMap<S>(out_table_delta + Index(tgt[t]) * d, d);
      en += RowMap<S>(out_table_delta + Index(neg[t]) * d, d);
    }
    if (out_delta_pos) ep += RowMap<S>(out_delta_pos + t * d, d);
    if (out_delta_neg) en += RowMap<S>(out_delta_neg + t * d, d);
    const double yp = static_cast<double>(Z.row(t).dot(ep));
    const double yn = static_cast<double>(Z.row(t).dot(en));
    loss += softplus(-yp) + softplus(yn);
    if (correct && yp > yn) ++*correct;
    if (counted) ++*counted;
    const S cp = S(sigmoid(yp) - 1.0), cn = S(sigmoid(yn));
    dZ.row(t) = (cp * ep + cn * en) * scale;
    gpos.row(t) = cp * Z.row(t);
    gneg.row(t) = cn * Z.row(t);
  }
  return loss;
}

}  // namespace seq
}  // namespace advrec
