#include <gtest/gtest.h>

#include "advrec/mf.hpp"
#include "advrec/rng.hpp"

#include <cmath>
#include <vector>

using namespace advrec;

namespace {

struct Model {
  int n_users, n_items, d;
  std::vector<float> P, Q, b, aP, aQ, ab;
  Model(int nu, int ni, int dim, std::uint64_t seed, bool bias = false)
      : n_users(nu), n_items(ni), d(dim), P(nu * dim), Q(ni * dim), b(bias ? ni : 0), aP(nu * dim, 0.1f),
        aQ(ni * dim, 0.1f), ab(ni, 0.1f) {
    Rng r(seed, 0);
    for (auto& x : P) x = static_cast<float>(0.3 * r.normal());
    for (auto& x : Q) x = static_cast<float>(0.3 * r.normal());
    for (auto& x : b) x = static_cast<float>(0.1 * r.normal());
  }
  MFParams params() {
    MFParams p;
    p.n_users = n_users;
    p.n_items = n_items;
    p.dim = d;
    p.user_factors = P.data();
    p.item_factors = Q.data();
    p.item_bias = b.empty() ? nullptr : b.data();
    p.user_accum = aP.data();
    p.item_accum = aQ.data();
    p.bias_accum = b.empty() ? nullptr : ab.data();
    return p;
  }
};

Csr random_csr(int n_users, int n_items, int per_user, std::uint64_t seed) {
  Rng r(seed, 1);
  std::vector<std::int32_t> rows, cols;
  for (int u = 0; u < n_users; ++u)
    for (int k = 0; k < per_user; ++k) {
      rows.push_back(u);
      cols.push_back(static_cast<std::int32_t>(r.uniform(n_items)));
    }
  return Csr::from_pairs(n_users, n_items, rows, cols);
}

double bpr_loss(const Model& m, const std::vector<int>& us, const std::vector<int>& is, const std::vector<int>& js,
                const std::vector<double>& P, const std::vector<double>& Q) {
  double loss = 0;
  for (size_t t = 0; t < us.size(); ++t) {
    double x = 0;
    for (int k = 0; k < m.d; ++k) x += P[us[t] * m.d + k] * (Q[is[t] * m.d + k] - Q[js[t] * m.d + k]);
    if (!m.b.empty()) x += m.b[is[t]] - m.b[js[t]];
    loss += std::log1p(std::exp(-x));
  }
  return loss;
}

}  // namespace

TEST(BprGradients, MatchFiniteDifferences) {
  Model m(4, 6, 3, 1, /*bias=*/true);
  std::vector<int> us{0, 1, 3, 0}, is{1, 2, 5, 2}, js{2, 4, 0, 1};  // item 2 is both positive and negative
  std::vector<std::int32_t> u32(us.begin(), us.end()), i32(is.begin(), is.end()), j32(js.begin(), js.end());
  std::vector<float> gP(m.P.size()), gQ(m.Q.size());
  Index correct = -1;
  MFParams p = m.params();
  const double loss = bpr_gradients(p, u32.data(), i32.data(), j32.data(), 4, gP.data(), gQ.data(), &correct, 2);
  std::vector<double> P(m.P.begin(), m.P.end()), Q(m.Q.begin(), m.Q.end());
  EXPECT_NEAR(loss, bpr_loss(m, us, is, js, P, Q), 1e-5);
  EXPECT_GE(correct, 0);
  const double h = 1e-5;
  for (size_t k = 0; k < P.size(); ++k) {
    auto Pp = P, Pm = P;
    Pp[k] += h;
    Pm[k] -= h;
    const double fd = (bpr_loss(m, us, is, js, Pp, Q) - bpr_loss(m, us, is, js, Pm, Q)) / (2 * h);
    EXPECT_NEAR(gP[k], fd, 1e-4) << "P[" << k << "]";
  }
  for (size_t k = 0; k < Q.size(); ++k) {
    auto Qp = Q, Qm = Q;
    Qp[k] += h;
    Qm[k] -= h;
    const double fd = (bpr_loss(m, us, is, js, P, Qp) - bpr_loss(m, us, is, js, P, Qm)) / (2 * h);
    EXPECT_NEAR(gQ[k], fd, 1e-4) << "Q[" << k << "]";
  }
}

// One APR step by hand (double precision) against the engine's per-sample step.
TEST(TrainMf, PerSampleAprStepMatchesHandDerivation) {
  Model m(2, 3, 4, 2);
  Model ref = m;
  MFTrainConfig c;
  c.optimizer = Optimizer::SGD;
  c.lr = 0.1f;
  c.reg = 0.01f;
  c.adv.eps = 0.5f;
  c.adv.reg_adv = 2.0f;
  std::int32_t u = 1, i = 0, j = 2;
  MFParams p = m.params();
  train_mf_on_triples(p, &u, &i, &j, 1, c);

  const int d = 4;
  std::vector<double> pu(d), qi(d), qj(d), diff(d);
  for (int k = 0; k < d; ++k) {
    pu[k] = ref.P[u * d + k];
    qi[k] = ref.Q[i * d + k];
    qj[k] = ref.Q[j * d + k];
    diff[k] = qi[k] - qj[k];
  }
  auto dot = [&](const std::vector<double>& a, const std::vector<double>& b) {
    double s = 0;
    for (int k = 0; k < d; ++k) s += a[k] * b[k];
    return s;
  };
  const double g = 1 / (1 + std::exp(dot(pu, diff)));
  const double nd = std::sqrt(dot(diff, diff)), np = std::sqrt(dot(pu, pu));
  std::vector<double> pu_adv(d), qi_adv(d), qj_adv(d), diff_adv(d);
  for (int k = 0; k < d; ++k) {
    pu_adv[k] = pu[k] - 0.5 * diff[k] / nd;  // ascent direction of -ln sigma w.r.t. Delta_u
    qi_adv[k] = qi[k] - 0.5 * pu[k] / np;
    qj_adv[k] = qj[k] + 0.5 * pu[k] / np;
    diff_adv[k] = qi_adv[k] - qj_adv[k];
  }
  const double ga = 2.0 / (1 + std::exp(dot(pu_adv, diff_adv)));
  for (int k = 0; k < d; ++k) {
    const double gu = -g * diff[k] - ga * diff_adv[k] + 0.01 * pu[k];
    const double gi = -g * pu[k] - ga * pu_adv[k] + 0.01 * qi[k];
    const double gj = g * pu[k] + ga * pu_adv[k] + 0.01 * qj[k];
    EXPECT_NEAR(m.P[u * d + k], pu[k] - 0.1 * gu, 1e-6);
    EXPECT_NEAR(m.Q[i * d + k], qi[k] - 0.1 * gi, 1e-6);
    EXPECT_NEAR(m.Q[j * d + k], qj[k] - 0.1 * gj, 1e-6);
  }
  // Untouched rows stay untouched.
  for (int k = 0; k < d; ++k) EXPECT_EQ(m.P[0 * d + k], ref.P[0 * d + k]);
  for (int k = 0; k < d; ++k) EXPECT_EQ(m.Q[1 * d + k], ref.Q[1 * d + k]);
}

TEST(TrainMf, ZeroEpsOrZeroLambdaIsPlainBprBitForBit) {
  Csr train = random_csr(30, 40, 5, 3);
  for (int batch : {1, 8}) {
    Model a(30, 40, 8, 4), b(30, 40, 8, 4), c(30, 40, 8, 4);
    MFTrainConfig base;
    base.num_threads = 1;
    base.seed = 9;
    base.batch_size = batch;
    MFTrainConfig eps0 = base, lam0 = base;
    eps0.adv.eps = 0.0f;
    eps0.adv.reg_adv = 1.0f;
    lam0.adv.eps = 0.5f;
    lam0.adv.reg_adv = 0.0f;
    MFParams pa = a.params(), pb = b.params(), pc = c.params();
    for (int e = 0; e < 3; ++e) {
      base.epoch = eps0.epoch = lam0.epoch = e;
      train_mf(pa, train.view(), base);
      train_mf(pb, train.view(), eps0);
      train_mf(pc, train.view(), lam0);
    }
    EXPECT_EQ(a.P, b.P);
    EXPECT_EQ(a.Q, b.Q);
    EXPECT_EQ(a.P, c.P);
    EXPECT_EQ(a.Q, c.Q);
  }
}

TEST(TrainMf, OneThreadIsDeterministicAndSeedsMatter) {
  Csr train = random_csr(20, 30, 6, 5);
  Model a(20, 30, 4, 6), b(20, 30, 4, 6), c(20, 30, 4, 6);
  MFTrainConfig cfg;
  cfg.num_threads = 1;
  cfg.adv.eps = 0.5f;
  cfg.adv.reg_adv = 1.0f;
  MFParams pa = a.params(), pb = b.params(), pc = c.params();
  train_mf(pa, train.view(), cfg);
  train_mf(pb, train.view(), cfg);
  cfg.seed = 1;
  train_mf(pc, train.view(), cfg);
  EXPECT_EQ(a.P, b.P);
  EXPECT_NE(a.P, c.P);
}

TEST(TrainMf, LossDecreasesAndAccuracyRises) {
  Csr train = random_csr(50, 60, 8, 7);
  Model m(50, 60, 8, 8);
  MFTrainConfig cfg;
  cfg.num_threads = 2;
  cfg.lr = 0.3f;
  MFParams p = m.params();
  EpochStats first = train_mf(p, train.view(), cfg), last;
  for (int e = 1; e < 60; ++e) {
    cfg.epoch = e;
    last = train_mf(p, train.view(), cfg);
  }
  EXPECT_EQ(first.samples, train.view().nnz());
  EXPECT_LT(last.loss, 0.5 * first.loss);
  EXPECT_GT(last.accuracy, 0.9);
}

TEST(TrainMf, NegativesAreNeverTrainingItems) {
  // Users 0 and 1 own all items but one, so every draw must land on that item.
  std::vector<std::int32_t> rows, cols;
  for (int u = 0; u < 2; ++u)
    for (int i = 0; i < 10; ++i)
      if (i != 3 + u) {
        rows.push_back(u);
        cols.push_back(i);
      }
  Csr train = Csr::from_pairs(2, 10, rows, cols);
  Triples t = sample_triples(train.view(), 1, 3, 2);
  ASSERT_EQ(t.users.size(), 2u * 9 * 3);
  for (size_t k = 0; k < t.users.size(); ++k) EXPECT_EQ(t.neg[k], 3 + t.users[k]);
  Triples again = sample_triples(train.view(), 1, 3, 1);
  EXPECT_EQ(t.neg, again.neg);
}

TEST(TrainMf, SaturatedUsersAreSkippedNotLooped) {
  // User 0 interacted with every item: no negative exists.
  std::vector<std::int32_t> rows{0, 0, 0, 1}, cols{0, 1, 2, 0};
  Csr train = Csr::from_pairs(2, 3, rows, cols);
  Model m(2, 3, 2, 1);
  MFTrainConfig cfg;
  cfg.num_threads = 1;
  MFParams p = m.params();
  EpochStats s = train_mf(p, train.view(), cfg);
  EXPECT_EQ(s.samples + s.skipped, 4);
  EXPECT_GT(s.skipped, 0);
}

TEST(TrainMf, DivergenceIsReportedNotSilent) {
  Csr train = random_csr(10, 10, 3, 1);
  Model m(10, 10, 4, 1);
  for (auto& x : m.P) x = 1e30f;
  MFTrainConfig cfg;
  cfg.optimizer = Optimizer::SGD;
  cfg.lr = 1e10f;
  cfg.num_threads = 1;
  MFParams p = m.params();
  EXPECT_THROW(train_mf(p, train.view(), cfg), NumericalError);
}

TEST(TrainMf, InvalidConfigThrows) {
  Csr train = random_csr(5, 5, 2, 1);
  Model m(5, 5, 2, 1);
  MFParams p = m.params();
  MFTrainConfig cfg;
  cfg.lr = -1.0f;
  EXPECT_THROW(train_mf(p, train.view(), cfg), InvalidArgument);
  cfg.lr = 0.1f;
  cfg.adv.eps = -0.5f;
  EXPECT_THROW(train_mf(p, train.view(), cfg), InvalidArgument);
  cfg.adv.eps = 0.0f;
  Csr other = random_csr(6, 5, 2, 1);
  EXPECT_THROW(train_mf(p, other.view(), cfg), InvalidArgument);
}

TEST(Perturbation, NormaliseAndProjectRespectTheBudget) {
  std::vector<float> m{3, 4, 0, 0, 0, 0, -1, 2, 2};
  fgm_normalise_rows(m.data(), 3, 3, 0.5f, false, 1);
  EXPECT_NEAR(std::sqrt(m[0] * m[0] + m[1] * m[1]), 0.5, 1e-6);
  EXPECT_EQ(m[3] + m[4] + m[5], 0.0f);  // zero gradient: no direction, no perturbation
  EXPECT_NEAR(m[6], -0.5f / 3, 1e-6);
  std::vector<float> s{0.2f, -3, 0};
  fgm_normalise_rows(s.data(), 1, 3, 0.1f, true, 1);
  EXPECT_EQ(s, (std::vector<float>{0.1f, -0.1f, 0.0f}));
  std::vector<float> big{3, 4, 0.1f, 0.1f};
  project_rows(big.data(), 2, 2, 1.0f, false, 1);
  EXPECT_NEAR(std::hypot(big[0], big[1]), 1.0, 1e-6);
  EXPECT_FLOAT_EQ(big[2], 0.1f);  // inside the ball: unchanged
  std::vector<float> box{3, -4, 0.1f};
  project_rows(box.data(), 1, 3, 1.0f, true, 1);
  EXPECT_EQ(box, (std::vector<float>{1, -1, 0.1f}));
}

TEST(Perturbation, RowsWhoseSquaredNormOverflowsFloatAreRescaledNotZeroed) {
  // 3e20^2 overflows float: the row must still land on the eps-ball, not be zeroed by eps / inf.
  std::vector<float> huge{3e20f, 4e20f};
  project_rows(huge.data(), 1, 2, 1e19f, false, 1);
  EXPECT_NEAR(huge[0] / 1e19f, 0.6, 1e-6);
  EXPECT_NEAR(huge[1] / 1e19f, 0.8, 1e-6);
  std::vector<float> g{3e20f, -4e20f};
  fgm_normalise_rows(g.data(), 1, 2, 2.0f, false, 1);
  EXPECT_NEAR(g[0], 1.2, 1e-6);
  EXPECT_NEAR(g[1], -1.6, 1e-6);
}

TEST(TrainMf, AnIndexBuiltOnceTrainsBitForBitLikeTheCsrCall) {
  Csr train = random_csr(40, 30, 6, 8);
  TrainingIndex index(train.view());
  for (Optimizer opt : {Optimizer::SGD, Optimizer::Adagrad}) {
    Model a(40, 30, 8, 3), b(40, 30, 8, 3);
    MFTrainConfig cfg;
    cfg.optimizer = opt;
    cfg.num_threads = 1;
    cfg.adv.eps = 0.1f;
    MFParams pa = a.params(), pb = b.params();
    for (std::uint64_t e = 0; e < 3; ++e) {
      cfg.epoch = e;
      const EpochStats sa = train_mf(pa, train.view(), cfg);
      const EpochStats sb = train_mf(pb, index, cfg);
      EXPECT_EQ(sa.loss, sb.loss);
      EXPECT_EQ(sa.adv_loss, sb.adv_loss);
    }
    EXPECT_EQ(a.P, b.P);
    EXPECT_EQ(a.Q, b.Q);
  }
}

TEST(TrainMf, IndexOfOtherShapeIsRejected) {
  Csr train = random_csr(10, 12, 3, 1);
  TrainingIndex index(train.view());
  Model m(10, 13, 4, 1);
  MFParams p = m.params();
  EXPECT_THROW(train_mf(p, index, MFTrainConfig{}), InvalidArgument);
}
