// Pieces shared by the trainers (BPR-MF/APR and the content models): row kernels (dot products,
// axpy, one optimiser step on a parameter row) and the per-thread epoch counters. No Python here.
//
// They are plain loops over restrict-qualified pointers with `omp simd`: the rows never alias
// within one call, and saying so keeps GCC from falling back to scalar code. (Eigen maps of dynamic
// size were measured slower here: their alignment peeling dominates at d = 64.) Each ISA variant of
// the engine is a separate module, so these inline functions never mix code of two ISAs.
#pragma once

#include "advrec/types.hpp"

#include <cmath>
#include <cstdint>
#include <vector>

#define ADVREC_INLINE inline __attribute__((always_inline))

namespace advrec {
namespace kernels {

ADVREC_INLINE float dot(const float* __restrict a, const float* __restrict b, int d) {
  float s = 0.0f;
#pragma omp simd reduction(+ : s)
  for (int k = 0; k < d; ++k) s += a[k] * b[k];
  return s;
}

// y += alpha * x
ADVREC_INLINE void axpy(float* __restrict y, float alpha, const float* __restrict x, int d) {
#pragma omp simd
  for (int k = 0; k < d; ++k) y[k] += alpha * x[k];
}

// Prefetches every cache line of the n floats at p, each once, whatever p's alignment (trained
// arrays start on a cache line, so a d = 64 row is exactly 4 lines). Write = 1: the row is about
// to be updated; Locality: __builtin_prefetch's temporal hint (3 = keep in every level).
template <int Write = 0, int Locality = 3>
ADVREC_INLINE void prefetch_floats(const float* p, int n) {
#if defined(__GNUC__)
  const std::uintptr_t first = reinterpret_cast<std::uintptr_t>(p) & ~std::uintptr_t{63};
  const std::uintptr_t last = reinterpret_cast<std::uintptr_t>(p + n - 1) & ~std::uintptr_t{63};
  for (std::uintptr_t line = first; line <= last; line += 64)
    __builtin_prefetch(reinterpret_cast<const void*>(line), Write, Locality);
#else
  (void)p;
  (void)n;
#endif
}

inline float sigmoid(float x) { return 1.0f / (1.0f + std::exp(-x)); }

// ln(1 + e^x) without overflow. Float precision is plenty for a reported mean loss.
inline float softplus(float x) { return x > 0 ? x + std::log1p(std::exp(-x)) : std::log1p(std::exp(x)); }

// The BPR loss of a score difference x, -ln sigma(x), summed over samples without a logarithm per
// sample (log1pf was ~8% of a BPR epoch, issue 14). With a = e^{-|x|} in (0, 1]:
//   -ln sigma(x) = max(-x, 0) + ln(1 + a),
// and the logarithms of the (1 + a) factors, each in (1, 2], are taken together as the logarithm
// of their product, once it nears overflow (after >= 900 samples) and at the end. Exact up to
// rounding: the sum differs from summing softplus(-x) in the last bits only.
class LogSigmoidLoss {
 public:
  ADVREC_INLINE void add(float x, float a) {
    linear_ += x < 0.0f ? -static_cast<double>(x) : 0.0;
    product_ *= 1.0 + static_cast<double>(a);
    if (product_ > 1e270) flush();
  }
  double value() const { return linear_ + logs_ + std::log(product_); }

 private:
  void flush() {
    logs_ += std::log(product_);
    product_ = 1.0;
  }
  double linear_ = 0.0, logs_ = 0.0, product_ = 1.0;
};

// sigma(-x), the BPR gradient factor, and a = e^{-|x|} (for LogSigmoidLoss) from one exponential.
ADVREC_INLINE float bpr_factor(float x, float& a) {
  a = std::exp(-std::fabs(x));  // in (0, 1]: no overflow
  const float inv = 1.0f / (1.0f + a);
  return x >= 0.0f ? a * inv : inv;
}

// One optimiser step on one parameter row (SGD, or Adagrad with its accumulator row).
ADVREC_INLINE void apply_row(float* __restrict theta, float* __restrict accum, const float* __restrict grad, int d,
                             float lr, Optimizer opt) {
  if (opt == Optimizer::SGD) {
#pragma omp simd
    for (int k = 0; k < d; ++k) theta[k] -= lr * grad[k];
  } else {
#pragma omp simd
    for (int k = 0; k < d; ++k) {
      const float a = accum[k] + grad[k] * grad[k];
      accum[k] = a;
      theta[k] -= lr * grad[k] / std::sqrt(a + 1e-10f);
    }
  }
}

inline void apply_scalar(float& theta, float* accum, float grad, float lr, Optimizer opt) {
  apply_row(&theta, accum, &grad, 1, lr, opt);
}

// One per thread, each on its own cache line: the counters are written on every sample, and two
// threads sharing a line would make every write a coherence miss (measured: no scaling at all).
struct alignas(64) ThreadTotals {
  Index samples = 0, skipped = 0, correct = 0;
  double loss = 0.0, adv_loss = 0.0;
  // BPR trainers may sum their (adversarial) loss here instead; summarise adds both.
  LogSigmoidLoss bpr_loss, bpr_adv_loss;
};

// The epoch's figures: counts summed, losses and accuracy averaged over the samples trained.
inline EpochStats summarise(const std::vector<ThreadTotals>& totals) {
  EpochStats out;
  Index correct = 0;
  for (const auto& t : totals) {
    out.samples += t.samples;
    out.skipped += t.skipped;
    out.loss += t.loss + t.bpr_loss.value();
    out.adv_loss += t.adv_loss + t.bpr_adv_loss.value();
    correct += t.correct;
  }
  if (out.samples > 0) {
    out.loss /= static_cast<double>(out.samples);
    out.adv_loss /= static_cast<double>(out.samples);
    out.accuracy = static_cast<double>(correct) / static_cast<double>(out.samples);
  }
  return out;
}

}  // namespace kernels
}  // namespace advrec
