#include "advrec/adversary.hpp"

#include <algorithm>

namespace advrec {

void AdversarialTerm::validate() const {
  require(std::isfinite(eps) && eps >= 0.0f, "eps must be >= 0, got " + std::to_string(eps));
  require(std::isfinite(reg_adv) && reg_adv >= 0.0f, "reg_adv must be >= 0, got " + std::to_string(reg_adv));
}

void check_budget(float eps, const char* name) {
  require(eps >= 0.0f && std::isfinite(eps), std::string(name) + " must be a finite number >= 0");
}

namespace {

// Multiplies a row by eps / ||row|| (always, or only when ||row|| > eps) with the FGM scale. The
// float norm overflows once |x| exceeds ~1.8e19 (its square does) and eps / inf would silently
// zero the row, so such rows are rescaled in double; every other row takes the float path.
void rescale_row(float* row, int dim, float eps, bool only_if_longer) {
  const float n = std::sqrt(kernels::dot(row, row, dim));
  if (std::isfinite(n)) {
    if (only_if_longer && !(n > eps)) return;
    const float scale = fgm_scale(n, eps);
    for (int k = 0; k < dim; ++k) row[k] *= scale;
    return;
  }
  double s = 0.0;
  for (int k = 0; k < dim; ++k) s += static_cast<double>(row[k]) * static_cast<double>(row[k]);
  const double scale = static_cast<double>(eps) / std::sqrt(s);
  for (int k = 0; k < dim; ++k) row[k] = static_cast<float>(row[k] * scale);
}

}  // namespace

void fgm_normalise_rows(float* m, Index rows, int dim, float eps, bool sign, int num_threads) {
  check_budget(eps);
#pragma omp parallel for num_threads(resolve_threads(num_threads)) schedule(static)
  for (Index r = 0; r < rows; ++r) {
    float* row = m + r * dim;
    if (sign) {
      for (int k = 0; k < dim; ++k) row[k] = row[k] > 0.0f ? eps : (row[k] < 0.0f ? -eps : 0.0f);
    } else {
      rescale_row(row, dim, eps, false);
    }
  }
}

void project_rows(float* delta, Index rows, int dim, float eps, bool linf, int num_threads) {
  check_budget(eps);
#pragma omp parallel for num_threads(resolve_threads(num_threads)) schedule(static)
  for (Index r = 0; r < rows; ++r) {
    float* row = delta + r * dim;
    if (linf) {
      for (int k = 0; k < dim; ++k) row[k] = std::min(eps, std::max(-eps, row[k]));
    } else {
      // Rows inside the ball stay as they are; rows outside go to its surface.
      rescale_row(row, dim, eps, true);
    }
  }
}

}  // namespace advrec
