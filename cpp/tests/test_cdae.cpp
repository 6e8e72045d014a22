#include <gtest/gtest.h>

#include "advrec/cdae.hpp"
#include "advrec/rng.hpp"
#include "two_halves.hpp"

#include <cmath>
#include <vector>

using namespace advrec;

namespace {

// A tiny CDAE owning its parameters in scalar T.
template <class T>
struct TinyCDAE {
  int nu, ni, K;
  std::vector<T> W, V, b, Wo, bo;
  TinyCDAE(int n_users, int n_items, int dim, std::uint64_t seed) : nu(n_users), ni(n_items), K(dim) {
    Rng r(seed, 0);
    auto fill = [&](std::vector<T>& v, size_t n) {
      v.resize(n);
      for (auto& x : v) x = static_cast<T>(0.5 * r.normal());
    };
    fill(W, static_cast<size_t>(ni) * K);
    fill(V, static_cast<size_t>(nu) * K);
    fill(b, static_cast<size_t>(K));
    fill(Wo, static_cast<size_t>(ni) * K);
    fill(bo, static_cast<size_t>(ni));
  }
  CDAEView<T> view() const { return CDAEView<T>{nu, ni, K, W.data(), V.data(), b.data(), Wo.data(), bo.data()}; }
};

struct Setting {
  Activation hidden, output;
  CDAELoss loss;
};

// Central differences of the data loss in double precision against the analytic gradient of every
// parameter block one user's step touches.
TEST(CDAE, UserGradientsMatchFiniteDifferencesForEveryActivationAndLoss) {
  const std::vector<Setting> settings = {
      {Activation::Sigmoid, Activation::Sigmoid, CDAELoss::Logistic},
      {Activation::Identity, Activation::Sigmoid, CDAELoss::Logistic},
      {Activation::Tanh, Activation::Sigmoid, CDAELoss::Square},
      {Activation::Sigmoid, Activation::Identity, CDAELoss::Square},
      {Activation::ReLU, Activation::Identity, CDAELoss::Square},
  };
  const std::vector<std::int32_t> in = {0, 2, 5};
  const std::vector<std::int32_t> out = {0, 2, 5, 1, 6};
  const std::vector<double> labels = {1, 1, 1, 0, 0};
  for (const Setting& s : settings) {
    TinyCDAE<double> m(3, 7, 4, 11);
    CDAEConfig c;
    c.hidden = s.hidden;
    c.output = s.output;
    c.loss = s.loss;
    CDAEUserBatch<double> b{1, in.data(), 3, 1.25, out.data(), labels.data(), 5};
    CDAEUserGrad<double> g;
    cdae_user_gradients(m.view(), c, b, g);
    auto loss = [&]() {
      CDAEUserGrad<double> tmp;
      return cdae_user_gradients(m.view(), c, b, tmp);
    };
    const double h = 1e-6;
    auto numeric = [&](double& x) {
      const double x0 = x;
      x = x0 + h;
      const double lp = loss();
      x = x0 - h;
      const double lm = loss();
      x = x0;
      return (lp - lm) / (2 * h);
    };
    const int K = m.K;
    for (int k = 0; k < K; ++k) {
      for (std::int32_t j : in) EXPECT_NEAR(numeric(m.W[j * K + k]), b.in_value * g.pre[k], 1e-7) << activation_name(s.hidden);
      EXPECT_NEAR(numeric(m.V[1 * K + k]), g.pre[k], 1e-7);
      EXPECT_NEAR(numeric(m.b[k]), g.pre[k], 1e-7);
      for (size_t o = 0; o < out.size(); ++o) EXPECT_NEAR(numeric(m.Wo[out[o] * K + k]), g.out[o * K + k], 1e-7);
    }
    for (size_t o = 0; o < out.size(); ++o) EXPECT_NEAR(numeric(m.bo[out[o]]), g.out_bias[o], 1e-7);
    // Items the step does not touch have zero gradient.
    EXPECT_EQ(numeric(m.W[3 * K]), 0.0);
    EXPECT_EQ(numeric(m.Wo[4 * K]), 0.0);
  }
}

TEST(CDAE, LogisticLossOfOneEntryIsTheCrossEntropyOfTheSigmoid) {
  double d;
  const double a = 0.7;
  const double s = 1 / (1 + std::exp(-a));
  EXPECT_NEAR(cdae_entry_loss(CDAELoss::Logistic, Activation::Sigmoid, a, 1.0, d), -std::log(s), 1e-12);
  EXPECT_NEAR(d, s - 1, 1e-12);
  EXPECT_NEAR(cdae_entry_loss(CDAELoss::Logistic, Activation::Sigmoid, a, 0.0, d), -std::log(1 - s), 1e-12);
  EXPECT_NEAR(cdae_entry_loss(CDAELoss::Square, Activation::Identity, a, 1.0, d), 0.5 * 0.09, 1e-12);
  EXPECT_NEAR(d, a - 1, 1e-12);
}

// Owning float model + CSR for the training entry point.
struct FloatCDAE {
  TinyCDAE<float> m;
  std::vector<float> aW, aV, ab, aWo, abo;
  CDAEParams p;
  explicit FloatCDAE(int nu, int ni, int K, std::uint64_t seed) : m(nu, ni, K, seed) {
    for (auto& x : m.W) x *= 0.1f;
    for (auto& x : m.V) x *= 0.1f;
    for (auto& x : m.Wo) x *= 0.1f;
    aW.assign(m.W.size(), 0.1f);
    aV.assign(m.V.size(), 0.1f);
    ab.assign(m.b.size(), 0.1f);
    aWo.assign(m.Wo.size(), 0.1f);
    abo.assign(m.bo.size(), 0.1f);
    p = CDAEParams{nu, ni, K, m.W.data(), m.V.data(), m.b.data(), m.Wo.data(), m.bo.data(),
                   aW.data(), aV.data(), ab.data(), aWo.data(), abo.data()};
  }
};

Csr block_data(int nu, int ni) { return two_halves(nu, ni, 77); }

TEST(CDAE, TrainingLowersTheLossAndRanksTheUsersBlockFirst) {
  const int nu = 40, ni = 40, K = 8;
  Csr data = block_data(nu, ni);
  FloatCDAE f(nu, ni, K, 5);
  CDAEConfig c;
  c.num_threads = 1;
  c.negatives = 2;
  double first = 0, last = 0;
  for (int e = 0; e < 200; ++e) {
    c.epoch = static_cast<std::uint64_t>(e);
    const EpochStats s = train_cdae(f.p, data.view(), c);
    EXPECT_EQ(s.samples, nu);
    if (e == 0) first = s.loss;
    last = s.loss;
  }
  EXPECT_LT(last, 0.6 * first);
  // The user's unseen items of its own block outscore the other block's items.
  std::vector<std::int32_t> users(nu);
  for (int u = 0; u < nu; ++u) users[u] = u;
  std::vector<float> z(static_cast<size_t>(nu) * K);
  cdae_encode(f.p, data.view(), c.hidden, users.data(), nu, z.data(), 1);
  int wins = 0, total = 0;
  for (int u = 0; u < nu; ++u) {
    auto score = [&](int i) {
      float a = f.m.bo[i];
      for (int k = 0; k < K; ++k) a += z[u * K + k] * f.m.Wo[i * K + k];
      return a;
    };
    for (int i = 0; i < ni; ++i) {
      if (data.view().contains(u, i)) continue;
      const bool own = (i < ni / 2) == (u % 2 == 0);
      if (!own) continue;
      for (int j = 0; j < ni; ++j) {
        if ((j < ni / 2) == (u % 2 == 0)) continue;
        wins += score(i) > score(j);
        ++total;
      }
    }
  }
  EXPECT_GT(wins, 0.9 * total);
}

TEST(CDAE, OneThreadWithASeedIsBitIdentical) {
  Csr data = block_data(12, 30);
  FloatCDAE a(12, 30, 6, 1), b(12, 30, 6, 1);
  CDAEConfig c;
  c.num_threads = 1;
  c.seed = 9;
  for (int e = 0; e < 3; ++e) {
    c.epoch = static_cast<std::uint64_t>(e);
    train_cdae(a.p, data.view(), c);
    train_cdae(b.p, data.view(), c);
  }
  EXPECT_EQ(a.m.W, b.m.W);
  EXPECT_EQ(a.m.Wo, b.m.Wo);
  EXPECT_EQ(a.m.V, b.m.V);
  c.seed = 10;
  train_cdae(b.p, data.view(), c);
  EXPECT_NE(a.m.Wo, b.m.Wo);
}

TEST(CDAE, ConfigRejectsBadValuesNamingTheArgument) {
  auto expect_bad = [](CDAEConfig c, const char* what) {
    try {
      c.validate();
      ADD_FAILURE() << "accepted bad " << what;
    } catch (const InvalidArgument& e) {
      EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
    }
  };
  CDAEConfig c;
  c.lr = 0;
  expect_bad(c, "lr");
  c = CDAEConfig();
  c.corruption = 1.0f;
  expect_bad(c, "corruption");
  c = CDAEConfig();
  c.negatives = -1;
  expect_bad(c, "negatives");
  c = CDAEConfig();
  c.output = Activation::Identity;  // logistic loss needs a sigmoid output
  expect_bad(c, "output='sigmoid'");
  c = CDAEConfig();
  c.output = Activation::Tanh;
  expect_bad(c, "output");
}

TEST(CDAE, DivergenceRaisesNumericalError) {
  Csr data = block_data(10, 20);
  FloatCDAE f(10, 20, 4, 2);
  CDAEConfig c;
  c.num_threads = 1;
  c.optimizer = Optimizer::SGD;
  c.loss = CDAELoss::Square;
  c.output = Activation::Identity;
  c.hidden = Activation::Identity;
  c.lr = 1e4f;
  EXPECT_THROW(
      {
        for (int e = 0; e < 20; ++e) train_cdae(f.p, data.view(), c);
      },
      NumericalError);
}

}  // namespace
