#include <gtest/gtest.h>

#include "advrec/eals.hpp"
#include "advrec/rng.hpp"

#include <vector>

using namespace advrec;

namespace {

Csr random_csr(int n_users, int n_items, int per_user, std::uint64_t seed) {
  Rng r(seed, 1);
  std::vector<std::int32_t> rows, cols;
  for (int u = 1; u < n_users; ++u)  // user 0 has no interactions
    for (int k = 0; k < per_user; ++k) {
      rows.push_back(u);
      cols.push_back(static_cast<std::int32_t>(r.uniform(n_items)));
    }
  return Csr::from_pairs(n_users, n_items, rows, cols);
}

struct Factors {
  std::vector<float> P, Q;
  Factors(int nu, int ni, int d, std::uint64_t seed) : P(nu * d), Q(ni * d) {
    Rng r(seed, 0);
    for (auto& x : P) x = static_cast<float>(0.1 * r.normal());
    for (auto& x : Q) x = static_cast<float>(0.1 * r.normal());
  }
  EALSParams params(int nu, int ni, int d) { return EALSParams{nu, ni, d, P.data(), Q.data()}; }
};

}  // namespace

// Each coordinate step minimises the objective exactly, so an iteration never increases it.
TEST(EALS, ObjectiveNeverIncreases) {
  const Csr train = random_csr(40, 30, 6, 3);
  Factors f(40, 30, 7, 5);
  EALSParams p = f.params(40, 30, 7);
  EALSConfig c;
  c.c0 = 16.0f;
  c.reg = 0.05f;
  c.num_threads = 1;
  double last = eals_loss(p, train.view(), c);
  for (int it = 0; it < 5; ++it) {
    const double now = train_eals(p, train.view(), c).loss;
    EXPECT_LE(now, last * (1 + 1e-6));
    last = now;
  }
}

// Rows are independent within a half-iteration and the Gram matrices are reduced in a fixed
// order, so the result is bit-identical for any thread count (d = 6 also exercises the
// transposition's scalar tail).
TEST(EALS, ResultDoesNotDependOnThreadCount) {
  const Csr train = random_csr(3000, 500, 9, 7);
  Factors a(3000, 500, 6, 1), b(3000, 500, 6, 1);
  EALSParams pa = a.params(3000, 500, 6), pb = b.params(3000, 500, 6);
  EALSConfig c;
  c.compute_loss = false;
  c.num_threads = 1;
  train_eals(pa, train.view(), c);
  c.num_threads = 3;
  train_eals(pb, train.view(), c);
  EXPECT_EQ(a.P, b.P);
  EXPECT_EQ(a.Q, b.Q);
}

TEST(EALS, MissingWeightsFollowPopularity) {
  // Items 0, 1, 2 with 1, 4, 0 interactions: c_i = c0 f_i^alpha / sum f^alpha.
  const Csr train = Csr::from_pairs(4, 3, {0, 0, 1, 2, 3}, {0, 1, 1, 1, 1});
  const std::vector<float> c = eals_missing_weights(train.view(), 6.0f, 0.5f);
  EXPECT_NEAR(c[0], 6.0 * 1.0 / 3.0, 1e-5);
  EXPECT_NEAR(c[1], 6.0 * 2.0 / 3.0, 1e-5);
  EXPECT_EQ(c[2], 0.0f);
  const std::vector<float> uniform = eals_missing_weights(train.view(), 6.0f, 0.0f);
  for (float v : uniform) EXPECT_NEAR(v, 2.0f, 1e-6);
}

TEST(EALS, ConfigRejectsBadValuesNamingThem) {
  EALSConfig c;
  c.c0 = -1.0f;
  try {
    c.validate();
    FAIL() << "c0 < 0 accepted";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("c0"), std::string::npos);
  }
}
