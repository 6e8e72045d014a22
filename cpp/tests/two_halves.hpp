// Test data shared by the neural/GAN recommender tests: users of two halves, each liking a random
// 40% of its own half's items and none of the other half's.
#pragma once

#include "advrec/csr.hpp"
#include "advrec/rng.hpp"

#include <vector>

inline advrec::Csr two_halves(int nu, int ni, std::uint64_t seed) {
  std::vector<std::int32_t> rows, cols;
  advrec::Rng r(seed, 0);
  for (int u = 0; u < nu; ++u)
    for (int i = 0; i < ni / 2; ++i)
      if (r.uniform_float() < 0.4f) {
        rows.push_back(u);
        cols.push_back((u % 2) * (ni / 2) + i);
      }
  return advrec::Csr::from_pairs(nu, ni, rows, cols);
}
