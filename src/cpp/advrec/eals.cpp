#include "advrec/eals.hpp"

#include "advrec/kernels.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
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

// One vector register of floats, written once for every instruction set with the GCC/Clang vector
// extension: eight lanes with AVX, four on SSE2-only builds (a 32-byte vector there went through
// the stack: the portable build ran 1.6x slower than before this code). Lane l of an accumulator
// sums the partners j = l (mod kLanes) and the lanes are added in a fixed tree, so a row's sums
// do not depend on the thread count. (-Wpsabi: returning a vector by value changes the ABI where
// the ISA lacks its registers; load is inlined into this file, so no call crosses an ABI.
// Parameters are references, which raise no note.)
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wpsabi"
#endif
#if defined(__AVX__)
constexpr Index kLanes = 8;
#else
constexpr Index kLanes = 4;
#endif
typedef float fv __attribute__((vector_size(kLanes * sizeof(float))));

ADVREC_INLINE fv load(const float* p) {
  fv v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
ADVREC_INLINE void store(float* p, const fv& v) { std::memcpy(p, &v, sizeof v); }

// The lane sums of four accumulators at once, each a pairwise tree: ((v0 + v1) + (v2 + v3)) with
// four lanes, plus ((v4 + v5) + (v6 + v7)) with eight (three horizontal adds on AVX).
ADVREC_INLINE void hsum4(const fv& a, const fv& b, const fv& c, const fv& e, float* out) {
#if defined(__AVX__)
  const __m256 t = _mm256_hadd_ps(_mm256_hadd_ps(__m256(a), __m256(b)), _mm256_hadd_ps(__m256(c), __m256(e)));
  _mm_storeu_ps(out, _mm_add_ps(_mm256_castps256_ps128(t), _mm256_extractf128_ps(t, 1)));
#else
  const fv* v[4] = {&a, &b, &c, &e};
  for (int q = 0; q < 4; ++q) {
    const fv& x = *v[q];
    out[q] = (x[0] + x[1]) + (x[2] + x[3]);
  }
#endif
}

// Partner rows are scattered over Y (a likely cache miss each): they are fetched this many ahead.
constexpr Index kAhead = 8;

// out (d x m) = the rows Y[ids[0..n)] (each d long) transposed, columns n..m zero (m a multiple of
// 4; the padding is read from `zeros`, d zeros). Four rows at a time with 4 x 4 register
// transposes where SSE is available: the scalar scatter (stride m) was a fifth of the iteration.
void gather_transposed(const float* Y, const std::int32_t* ids, Index n, Index m, int d, const float* zeros,
                       Index prefetched, float* out) {
  auto row = [&](Index j) { return j < n ? Y + static_cast<Index>(ids[j]) * d : zeros; };
  Index j = 0;
#if defined(__SSE2__)
  if (d % 4 == 0) {
    for (; j + 4 <= m; j += 4) {
      for (Index a = std::max(j + kAhead, prefetched); a < std::min(j + kAhead + 4, n); ++a) {
        kernels::prefetch_floats<0, 1>(row(a), d);
      }
      const float* y0 = row(j);
      const float* y1 = row(j + 1);
      const float* y2 = row(j + 2);
      const float* y3 = row(j + 3);
      for (int k = 0; k < d; k += 4) {
        __m128 a = _mm_loadu_ps(y0 + k), b = _mm_loadu_ps(y1 + k), e = _mm_loadu_ps(y2 + k), f = _mm_loadu_ps(y3 + k);
        _MM_TRANSPOSE4_PS(a, b, e, f);
        _mm_storeu_ps(out + static_cast<Index>(k) * m + j, a);
        _mm_storeu_ps(out + static_cast<Index>(k + 1) * m + j, b);
        _mm_storeu_ps(out + static_cast<Index>(k + 2) * m + j, e);
        _mm_storeu_ps(out + static_cast<Index>(k + 3) * m + j, f);
      }
    }
  }
#endif
  for (; j < m; ++j) {
    const float* y = row(j);
    for (int k = 0; k < d; ++k) out[static_cast<Index>(k) * m + j] = y[k];
  }
}

// out[j] = sum_k v_k M[k][j] for j < cols (M row-major with leading dimension ld, cols a multiple
// of kLanes): rows of M added into vector accumulators held in registers, no reductions. NC column
// chunks at once, each with KS partial sums over k (k = s mod KS), so that NC * KS >= 8 chains
// are in flight: one chain of multiply-adds waits on its own latency.
template <int NC, int KS>
ADVREC_INLINE void combine_block(const float* __restrict M, Index ld, int rows, const float* __restrict v,
                                 float* __restrict out) {
  fv acc[KS][NC] = {};
  int k = 0;
  for (; k + KS <= rows; k += KS) {
    for (int s = 0; s < KS; ++s) {
      const float* mk = M + static_cast<Index>(k + s) * ld;
      for (int q = 0; q < NC; ++q) acc[s][q] += v[k + s] * load(mk + q * kLanes);
    }
  }
  for (; k < rows; ++k) {
    for (int q = 0; q < NC; ++q) acc[0][q] += v[k] * load(M + static_cast<Index>(k) * ld + q * kLanes);
  }
  for (int q = 0; q < NC; ++q) {
    fv t = acc[0][q];
    for (int s = 1; s < KS; ++s) t += acc[s][q];
    store(out + q * kLanes, t);
  }
}

void combine_rows(const float* __restrict M, Index ld, int rows, Index cols, const float* __restrict v,
                  float* __restrict out) {
  for (Index j = 0; j < cols; j += 8 * kLanes) {
    switch (std::min<Index>((cols - j) / kLanes, 8)) {
      case 1: combine_block<1, 4>(M + j, ld, rows, v, out + j); break;
      case 2: combine_block<2, 4>(M + j, ld, rows, v, out + j); break;
      case 3: combine_block<3, 2>(M + j, ld, rows, v, out + j); break;
      case 4: combine_block<4, 2>(M + j, ld, rows, v, out + j); break;
      case 5: combine_block<5, 1>(M + j, ld, rows, v, out + j); break;
      case 6: combine_block<6, 1>(M + j, ld, rows, v, out + j); break;
      case 7: combine_block<7, 1>(M + j, ld, rows, v, out + j); break;
      default: combine_block<8, 1>(M + j, ld, rows, v, out + j); break;
    }
  }
}

// Updates every row of X (n_rows x d) coordinate by coordinate with the other side Y fixed.
// adj lists each row's observed partners. Missing weights: on the user side the partner's c
// (kItemSide false: c indexed by partner, Gram scale 1); on the item side the row's own c
// (kItemSide true: c indexed by row, Gram scale c_r). See eals.hpp for the update.
//
// Per row, with the partners' vectors y_j, their weights wc_j = w - c and predictions yhat_j:
//   num_f = w A_f - B_f + x_f C_f - scale cross_f,   den_f = C_f + scale G_ff + reg,
//   A_f = sum_j y_jf,  C_f = sum_j wc_j y_jf^2,  B_f = sum_j wc_j yhat_j y_jf,
//   cross_f = sum_{k != f} x_k G_kf,
// where yhat and x include every coordinate already updated. The coordinates form a chain (x_f
// needs the change delta_{f-1} of the one before), and that chain of reductions, a division and
// their dependencies is what the iteration waited on (latency, not bandwidth: the AVX2 build was
// no faster than the SSE2 one). So coordinate f's sums are taken with predictions one change
// behind, yhat' = yhat - delta_{f-1} y_{.,f-1}, and corrected in closed form:
//   B_f = B'_f + delta_{f-1} M_f,   M_f = sum_j wc_j y_{j,f-1} y_jf,
//   cross_f = cross'_f + delta_{f-1} G_{f-1,f}   (cross' from s = G x', x' one change behind too),
// so the O(n) work of coordinate f needs only delta_{f-2} and overlaps the end of f-1. With 1/den
// also off the chain (den does not involve delta1), what remains on it is one multiply-add, one
// multiplication and one subtraction per coordinate. Exact in real arithmetic; in float it rounds
// differently from applying delta_{f-1} first and dividing (tests: the NumPy reference iteration).
// Measured on Gowalla (d = 64, 1 thread): 0.30 s -> 0.16 s per iteration with the partners'
// next rows prefetched during the current row's coordinate steps (the gathers did miss).
template <bool kItemSide>
void update_side(float* X, const float* Y, int d, const CsrView& adj, const float* c, const RowMatrixF& G, float w,
                 float reg, int threads) {
  ExceptionCarrier carrier;
  const std::vector<float> zeros(static_cast<std::size_t>(d), 0.0f);
  // G with its rows padded to gs (a multiple of kLanes) columns of zeros, for combine_rows.
  const Index gs = (d + kLanes - 1) / kLanes * kLanes;
  RowMatrixF Gpad = RowMatrixF::Zero(d, gs);
  Gpad.leftCols(d) = G;
#pragma omp parallel num_threads(threads)
  {
    // Per thread: the partners' vectors transposed (d x m, m = n rounded up to kLanes, so that each
    // coordinate's values are contiguous, whole vectors, zero in the padding), their
    // predictions yhat, weights w - c (user side only; 0 in the padding) and s = G x'.
    std::vector<float> Yt, yhat, wc, s(static_cast<std::size_t>(gs));
    std::int32_t last = -2;  // the row this thread updated last
#pragma omp for schedule(dynamic, 64)
    for (std::int32_t r = 0; r < adj.n_rows; ++r) {
      carrier.run([&] {
        // The row before prefetched this row's first d partners (one per coordinate step).
        const Index prefetched = last == r - 1 ? std::min<Index>(adj.row_size(r), d) : 0;
        last = r;
        const std::int32_t* next = r + 1 < adj.n_rows ? adj.row_data(r + 1) : nullptr;
        const Index n_next = next ? adj.row_size(r + 1) : 0;
        float* __restrict x = X + static_cast<Index>(r) * d;
        const Index n = adj.row_size(r);
        const Index m = (n + kLanes - 1) / kLanes * kLanes;
        const std::int32_t* partners = adj.row_data(r);
        // Grow-only: resize() to each row's own n would zero-fill the regrown tail on every row
        // longer than its predecessor (callgrind: 6% of an iteration in memset).
        if (yhat.size() < static_cast<std::size_t>(m)) {
          Yt.resize(static_cast<std::size_t>(m) * d);
          yhat.resize(static_cast<std::size_t>(m));
          wc.resize(static_cast<std::size_t>(m));
        }
        float* __restrict sp = s.data();
        float* __restrict yh = yhat.data();
        float* __restrict wcp = wc.data();
        const float* __restrict Gp = Gpad.data();  // G is symmetric: row f = column f
        if (!kItemSide) {
          for (Index j = 0; j < m; ++j) wcp[j] = j < n ? w - c[partners[j]] : 0.0f;
        }
        gather_transposed(Y, partners, n, m, d, zeros.data(), prefetched, Yt.data());
        const float* __restrict Ytp = Yt.data();
        combine_rows(Ytp, m, d, m, x, yh);  // yhat = Y x
        combine_rows(Gp, gs, d, gs, x, sp);  // s = G x (gs >= d columns, zero beyond d)
        const float scale = kItemSide ? c[r] : 1.0f;
        const float wr = kItemSide ? w - c[r] : 0.0f;
        // Invariant at the top of coordinate f: yhat and s include every change except delta1
        // (coordinate f-1's, column y1 of Yt) and delta2 (f-2's, column y2, row g2 of G); the
        // pass below folds delta2 in first.
        float delta1 = 0.0f, delta2 = 0.0f;
        const float* y1 = Ytp;  // any column will do while its delta is 0
        const float* y2 = Ytp;
        const float* g2 = Gp;
        for (int f = 0; f < d; ++f) {
          // The next row's partners are fetched while this row computes, one per coordinate.
          if (f < n_next) kernels::prefetch_floats<0, 1>(Y + static_cast<Index>(next[f]) * d, d);
          const float* __restrict yf = Ytp + static_cast<Index>(f) * m;
          const float* __restrict y1p = y1;
          const float* __restrict y2p = y2;
          fv a = {}, b = {}, cc = {}, mx = {};
          for (Index j = 0; j < m; j += kLanes) {
            const fv h = load(yh + j) + delta2 * load(y2p + j);
            store(yh + j, h);
            const fv y = load(yf + j);
            const fv t = kItemSide ? wr * y : load(wcp + j) * y;
            a += y;
            cc += t * y;
            b += t * h;
            mx += t * load(y1p + j);
          }
          // s is read from entry f on only.
#pragma omp simd
          for (int l = f; l < d; ++l) sp[l] += delta2 * g2[l];
          const float* g = Gp + static_cast<Index>(f) * gs;
          const float old = x[f];
          float sums[4];  // A_f, B'_f, C_f, M_f
          hsum4(a, b, cc, mx, sums);
          const float C = sums[2];
          const float gprev = f > 0 ? g[f - 1] : 0.0f;
          // Everything without delta1 is off the chain.
          const float base = w * sums[0] - sums[1] + old * C - scale * (sp[f] - old * g[f]);
          const float num = base - delta1 * (sums[3] + scale * gprev);
          const float den = C + scale * g[f] + reg;
          delta2 = delta1;
          y2 = y1;
          g2 = f > 0 ? g - gs : Gp;
          y1 = yf;
          delta1 = 0.0f;
          // den >= w sum_j y_jf^2 + reg >= 0 exactly; it is 0 only when the coordinate has no
          // influence on the loss at all, and then the coordinate is left as it is.
          if (!(den > 0.0f)) continue;
          const float updated = num * (1.0f / den);
          delta1 = updated - old;
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
