#include "advrec/eals.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#if defined(__SSE2__)
#include <immintrin.h>
#endif

namespace advrec {
namespace {

using RowMatrixD = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// The transpose of a CSR (items -> users), rows sorted because users are visited in order.
Csr transpose(const CsrView& a) {
  Csr t;
  t.n_rows = a.n_cols;
  t.n_cols = a.n_rows;
  t.indptr.assign(static_cast<std::size_t>(a.n_cols) + 1, 0);
  t.indices.resize(static_cast<std::size_t>(a.nnz()));
  for (Index e = 0; e < a.nnz(); ++e) ++t.indptr[static_cast<std::size_t>(a.indices[e]) + 1];
  for (std::int32_t c = 0; c < a.n_cols; ++c) t.indptr[c + 1] += t.indptr[c];
  std::vector<std::int64_t> next(t.indptr.begin(), t.indptr.end() - 1);
  for (std::int32_t r = 0; r < a.n_rows; ++r) {
    for (Index e = a.row_begin(r); e < a.row_end(r); ++e) t.indices[static_cast<std::size_t>(next[a.indices[e]]++)] = r;
  }
  return t;
}

// G = sum_r weight_r x_r x_r^T over the rows of X (weight null = 1). Blocks of a fixed number of
// rows (not one per thread) are multiplied in float and summed in double in block order, so the
// result is the same for every thread count.
RowMatrixF gram(const float* X, std::int32_t rows, int d, const float* weight, int threads) {
  constexpr std::int32_t kBlock = 2048;
  const std::int32_t blocks = (rows + kBlock - 1) / kBlock;
  std::vector<RowMatrixD> partial(static_cast<std::size_t>(blocks), RowMatrixD::Zero(d, d));
#pragma omp parallel for num_threads(threads) schedule(dynamic, 1)
  for (std::int32_t b = 0; b < blocks; ++b) {
    const std::int32_t begin = b * kBlock;
    const std::int32_t end = std::min(rows, begin + kBlock);
    Eigen::Map<const RowMatrixF> block(X + static_cast<Index>(begin) * d, end - begin, d);
    // A symmetric rank-k update (SYRK) on sqrt(weight)-scaled rows: half the multiplications of
    // block^T * (weight-scaled block). Weights are >= 0 (missing-data weights c_i).
    RowMatrixF scaled = block;
    if (weight) {
      for (std::int32_t r = begin; r < end; ++r) scaled.row(r - begin) *= std::sqrt(weight[r]);
    }
    Eigen::MatrixXf g = Eigen::MatrixXf::Zero(d, d);
    g.selfadjointView<Eigen::Lower>().rankUpdate(scaled.transpose());
    g.triangularView<Eigen::StrictlyUpper>() = g.transpose();
    partial[static_cast<std::size_t>(b)] = g.cast<double>();
  }
  RowMatrixD total = RowMatrixD::Zero(d, d);
  for (const auto& p : partial) total += p;
  return total.cast<float>();
}

// Updates every row of X (n_rows x d) coordinate by coordinate with the other side Y fixed.
// adj lists each row's observed partners. Missing weights: on the user side the partner's c
// (kItemSide false: c indexed by partner, Gram scale 1); on the item side the row's own c
// (kItemSide true: c indexed by row, Gram scale c_r). See eals.hpp for the update.
constexpr Index kAhead = 4;

// out (d x n) = the rows Y[ids[0..n)] (each d long) transposed. Four rows at a time with 4 x 4
// register transposes where SSE is available: the scalar scatter (stride n) was a fifth of the
// whole iteration.
void transpose_rows(const float* Y, const std::int32_t* ids, Index n, int d, float* out) {
  Index j = 0;
#if defined(__SSE2__)
  if (d % 4 == 0) {
    for (; j + 4 <= n; j += 4) {
      const float* y0 = Y + static_cast<Index>(ids[j]) * d;
      const float* y1 = Y + static_cast<Index>(ids[j + 1]) * d;
      const float* y2 = Y + static_cast<Index>(ids[j + 2]) * d;
      const float* y3 = Y + static_cast<Index>(ids[j + 3]) * d;
      for (int k = 0; k < d; k += 4) {
        __m128 a = _mm_loadu_ps(y0 + k), b = _mm_loadu_ps(y1 + k), e = _mm_loadu_ps(y2 + k), f = _mm_loadu_ps(y3 + k);
        _MM_TRANSPOSE4_PS(a, b, e, f);
        _mm_storeu_ps(out + static_cast<Index>(k) * n + j, a);
        _mm_storeu_ps(out + static_cast<Index>(k + 1) * n + j, b);
        _mm_storeu_ps(out + static_cast<Index>(k + 2) * n + j, e);
        _mm_storeu_ps(out + static_cast<Index>(k + 3) * n + j, f);
      }
    }
  }
#endif
  for (; j < n; ++j) {
    const float* y = Y + static_cast<Index>(ids[j]) * d;
    for (int k = 0; k < d; ++k) out[static_cast<Index>(k) * n + j] = y[k];
  }
}

template <bool kItemSide>
void update_side(float* X, const float* Y, int d, const CsrView& adj, const float* c, const RowMatrixF& G, float w,
                 float reg, int threads) {
  ExceptionCarrier carrier;
#pragma omp parallel num_threads(threads)
  {
    // Per thread: the partners' vectors transposed (d x n, so each coordinate's values are
    // contiguous), their current predictions yhat and weights w - c; per coordinate f the
    // x-independent sums A_f = sum_j y_jf and C_f = sum_j (w - c_j) y_jf^2.
    std::vector<float> Yt, yhat, wc, A(static_cast<std::size_t>(d)), C(static_cast<std::size_t>(d));
#pragma omp for schedule(dynamic, 64)
    for (std::int32_t r = 0; r < adj.n_rows; ++r) {
      carrier.run([&] {
        float* __restrict x = X + static_cast<Index>(r) * d;
        const Index n = adj.row_size(r);
        const std::int32_t* partners = adj.row_data(r);
        // Grow-only: resize() to each row's own n would zero-fill the regrown tail on every row
        // longer than its predecessor (callgrind: 6% of an iteration in memset).
        if (yhat.size() < static_cast<std::size_t>(n)) {
          Yt.resize(static_cast<std::size_t>(n) * d);
          yhat.resize(static_cast<std::size_t>(n));
          wc.resize(static_cast<std::size_t>(n));
        }
        float* __restrict Ap = A.data();
        float* __restrict Cp = C.data();
        std::fill(A.begin(), A.end(), 0.0f);
        std::fill(C.begin(), C.end(), 0.0f);
        for (Index j = 0; j < n; ++j) {
          // Partner rows are scattered over Y (a likely cache miss each): fetch a few ahead.
          if (j + kAhead < n) {
            const float* ahead = Y + static_cast<Index>(partners[j + kAhead]) * d;
            for (int k = 0; k < d; k += 16) __builtin_prefetch(ahead + k, 0, 1);
            if (!kItemSide) __builtin_prefetch(c + partners[j + kAhead], 0, 1);
          }
          const float* __restrict y = Y + static_cast<Index>(partners[j]) * d;
          const float wcj = w - (kItemSide ? c[r] : c[partners[j]]);
          float s = 0.0f;
#pragma omp simd reduction(+ : s)
          for (int k = 0; k < d; ++k) {
            s += x[k] * y[k];
            Ap[k] += y[k];
            Cp[k] += wcj * y[k] * y[k];
          }
          yhat[j] = s;
          wc[j] = wcj;
        }
        transpose_rows(Y, partners, n, d, Yt.data());
        const float scale = kItemSide ? c[r] : 1.0f;
        float* __restrict yh = yhat.data();
        const float* __restrict wcp = wc.data();
        // With yhat^f_j = yhat_j - x_f y_jf the numerator's observed part is
        //   sum_j (w - wc_j yhat^f_j) y_jf = w A_f - B_f + x_f C_f,  B_f = sum_j wc_j yhat_j y_jf,
        // so one pass per coordinate computes B_f, fused with applying the previous coordinate's
        // change to yhat (yhat_j += delta y_j,f-1).
        const float* prev = nullptr;
        float prev_delta = 0.0f;
        for (int f = 0; f < d; ++f) {
          const float* __restrict yf = Yt.data() + static_cast<std::size_t>(f) * n;
          float B = 0.0f;
          if (prev && prev_delta != 0.0f) {
            const float* __restrict yp = prev;
            const float pd = prev_delta;
#pragma omp simd reduction(+ : B)
            for (Index j = 0; j < n; ++j) {
              yh[j] += pd * yp[j];
              B += wcp[j] * yh[j] * yf[j];
            }
          } else {
#pragma omp simd reduction(+ : B)
            for (Index j = 0; j < n; ++j) B += wcp[j] * yh[j] * yf[j];
          }
          const float old = x[f];
          const float* g = G.data() + static_cast<Index>(f) * d;  // G is symmetric: row f = column f
          float cross = 0.0f;  // sum_{k != f} x_k G_kf
#pragma omp simd reduction(+ : cross)
          for (int k = 0; k < d; ++k) cross += x[k] * g[k];
          cross -= old * g[f];
          const float num = w * Ap[f] - B + old * Cp[f] - scale * cross;
          const float den = Cp[f] + scale * g[f] + reg;
          prev = yf;
          prev_delta = 0.0f;
          // den >= w sum_j y_jf^2 + reg >= 0 exactly; it is 0 only when the coordinate has no
          // influence on the loss at all, and then the coordinate is left as it is.
          if (!(den > 0.0f)) continue;
          const float updated = num / den;
          prev_delta = updated - old;
          x[f] = updated;
        }
      });
    }
  }
  carrier.rethrow();
}

void check_params(const EALSParams& p, const CsrView& train) {
  require(p.n_users > 0 && p.n_items > 0 && p.dim > 0, "model must have at least one user, item and factor");
  require(p.user_factors && p.item_factors, "factor matrices are missing");
  require(train.n_rows == p.n_users && train.n_cols == p.n_items,
          "training data has " + std::to_string(train.n_rows) + " users x " + std::to_string(train.n_cols) +
              " items but the model has " + std::to_string(p.n_users) + " x " + std::to_string(p.n_items));
  // Ids index parameter rows: an out-of-range id must be an error, not a stray write.
  train.validate("train");
}

}  // namespace

void EALSConfig::validate() const {
  require(std::isfinite(reg) && reg >= 0.0f, "reg must be a finite number >= 0, got " + std::to_string(reg));
  require(std::isfinite(weight) && weight > 0.0f, "weight must be a finite number > 0, got " + std::to_string(weight));
  require(std::isfinite(c0) && c0 >= 0.0f, "c0 must be a finite number >= 0, got " + std::to_string(c0));
  require(std::isfinite(alpha) && alpha >= 0.0f, "alpha must be a finite number >= 0, got " + std::to_string(alpha));
  require(num_threads >= 0, "num_threads must be >= 0, got " + std::to_string(num_threads));
}

std::vector<float> eals_missing_weights(const CsrView& train, float c0, float alpha) {
  std::vector<double> f(static_cast<std::size_t>(train.n_cols), 0.0);
  for (Index e = 0; e < train.nnz(); ++e) f[static_cast<std::size_t>(train.indices[e])] += 1.0;
  // f_i^alpha with f_i the share of interactions; the share's normaliser cancels in the ratio,
  // so raw counts serve. 0^alpha is 0 for alpha > 0 and 1 for alpha == 0 (std::pow), which gives
  // uniform weights at alpha = 0 as the definition says.
  double total = 0.0;
  for (auto& v : f) {
    v = std::pow(v, static_cast<double>(alpha));
    total += v;
  }
  std::vector<float> c(f.size(), 0.0f);
  if (total > 0.0) {
    for (std::size_t i = 0; i < f.size(); ++i) c[i] = static_cast<float>(c0 * f[i] / total);
  }
  return c;
}

double eals_loss(const EALSParams& params, const CsrView& train, const EALSConfig& config) {
  config.validate();
  check_params(params, train);
  const int d = params.dim;
  const int threads = resolve_threads(config.num_threads);
  const std::vector<float> c = eals_missing_weights(train, config.c0, config.alpha);
  const RowMatrixF Sq = gram(params.item_factors, params.n_items, d, c.data(), threads);
  const double w = config.weight;
  double total = 0.0;
#pragma omp parallel for num_threads(threads) schedule(dynamic, 256) reduction(+ : total)
  for (std::int32_t u = 0; u < params.n_users; ++u) {
    const float* p = params.user_factors + static_cast<Index>(u) * d;
    double s = 0.0;
    for (Index e = train.row_begin(u); e < train.row_end(u); ++e) {
      const std::int32_t i = train.indices[e];
      const float* q = params.item_factors + static_cast<Index>(i) * d;
      double y = 0.0;
      for (int k = 0; k < d; ++k) y += static_cast<double>(p[k]) * q[k];
      // The missing-data term below counts every item; take the observed ones back out.
      s += w * (1.0 - y) * (1.0 - y) - static_cast<double>(c[static_cast<std::size_t>(i)]) * y * y;
    }
    for (int a = 0; a < d; ++a) {
      double row = 0.0;
      for (int b = 0; b < d; ++b) row += static_cast<double>(Sq(a, b)) * p[b];
      s += p[a] * row;
    }
    double norm = 0.0;
    for (int k = 0; k < d; ++k) norm += static_cast<double>(p[k]) * p[k];
    total += s + config.reg * norm;
  }
  double qnorm = 0.0;
  const Index nq = static_cast<Index>(params.n_items) * d;
#pragma omp parallel for num_threads(threads) schedule(static) reduction(+ : qnorm)
  for (Index k = 0; k < nq; ++k) qnorm += static_cast<double>(params.item_factors[k]) * params.item_factors[k];
  return total + config.reg * qnorm;
}

EALSStats train_eals(EALSParams& params, const CsrView& train, const EALSConfig& config) {
  config.validate();
  check_params(params, train);
  const int d = params.dim;
  const int threads = resolve_threads(config.num_threads);
  const std::vector<float> c = eals_missing_weights(train, config.c0, config.alpha);
  const Csr by_item = transpose(train);

  // Users with Q fixed: S^q = sum_i c_i q_i q_i^T.
  const RowMatrixF Sq = gram(params.item_factors, params.n_items, d, c.data(), threads);
  update_side<false>(params.user_factors, params.item_factors, d, train, c.data(), Sq, config.weight, config.reg,
                     threads);
  // Items with P fixed: S^p = sum_u p_u p_u^T (each item scales it by its own c_i).
  const RowMatrixF Sp = gram(params.user_factors, params.n_users, d, nullptr, threads);
  update_side<true>(params.item_factors, params.user_factors, d, by_item.view(), c.data(), Sp, config.weight,
                    config.reg, threads);

  if (!all_finite(params.user_factors, static_cast<Index>(params.n_users) * d) ||
      !all_finite(params.item_factors, static_cast<Index>(params.n_items) * d)) {
    throw NumericalError("eALS diverged: factors became NaN or infinite (lower c0 or raise reg)");
  }
  EALSStats stats;
  stats.nnz = train.nnz();
  stats.loss = config.compute_loss ? eals_loss(params, train, config) : std::numeric_limits<double>::quiet_NaN();
  return stats;
}

}  // namespace advrec
