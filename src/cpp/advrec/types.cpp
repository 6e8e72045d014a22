#include "advrec/types.hpp"

namespace advrec {

bool all_finite(const float* data, Index n) {
  // Sum of x * 0 is NaN iff some x is NaN or infinite; vectorises well.
  float acc = 0.0f;
#pragma omp simd reduction(+ : acc)
  for (Index k = 0; k < n; ++k) acc += data[k] * 0.0f;
  return acc == 0.0f;
}

}  // namespace advrec
