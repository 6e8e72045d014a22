#include <gtest/gtest.h>

#include "advrec/irgan.hpp"
#include "advrec/rng.hpp"
#include "two_halves.hpp"

#include <cmath>

#include <vector>

using namespace advrec;

namespace {

std::vector<double> random_vec(size_t n, Rng& r, double s) {
  std::vector<double> v(n);
  for (auto& x : v) x = s * r.normal();
  return v;
}

// The generator's surrogate -(1/S) sum_s wr_s ln p(i_s | u) through softmax((g_u G^T + b) / tau),
// with the analytic gradients from irgan_logit_coefficients, against central differences.
TEST(IRGAN, PolicyGradientCoefficientsMatchFiniteDifferencesOfTheSurrogate) {
  const int I = 9, K = 3;
  const double tau = 0.7;
  Rng r(4, 0);
  std::vector<double> gu = random_vec(K, r, 0.8), G = random_vec(static_cast<size_t>(I) * K, r, 0.8),
                      b = random_vec(I, r, 0.3);
  const std::vector<std::int32_t> samples = {2, 5, 2, 8, 0};
  const std::vector<double> wr = {0.7, 1.3, 0.2, 0.9, 1.1};
  auto surrogate = [&](std::vector<double>* gamma) {
    std::vector<double> p(I);
    for (int k = 0; k < I; ++k) {
      p[k] = b[k];
      for (int d = 0; d < K; ++d) p[k] += gu[d] * G[k * K + d];
    }
    irgan_softmax(p.data(), I, tau);
    std::vector<double> tmp(I);
    return irgan_logit_coefficients(p.data(), I, samples.data(), wr.data(), 5, tau, gamma ? gamma->data() : tmp.data());
  };
  std::vector<double> gamma(I);
  surrogate(&gamma);
  const double h = 1e-6;
  auto numeric = [&](double& x) {
    const double x0 = x;
    x = x0 + h;
    const double lp = surrogate(nullptr);
    x = x0 - h;
    const double lm = surrogate(nullptr);
    x = x0;
    return (lp - lm) / (2 * h);
  };
  for (int d = 0; d < K; ++d) {
    double analytic = 0;
    for (int k = 0; k < I; ++k) analytic += gamma[k] * G[k * K + d];
    EXPECT_NEAR(numeric(gu[d]), analytic, 1e-7);
  }
  for (int k = 0; k < I; ++k) {
    EXPECT_NEAR(numeric(b[k]), gamma[k], 1e-7);
    for (int d = 0; d < K; ++d) EXPECT_NEAR(numeric(G[k * K + d]), gamma[k] * gu[d], 1e-7);
  }
}

TEST(IRGAN, DiscriminatorGradientsMatchFiniteDifferences) {
  const int I = 6, K = 4;
  Rng r(5, 0);
  std::vector<double> du = random_vec(K, r, 0.7), D = random_vec(static_cast<size_t>(I) * K, r, 0.7),
                      b = random_vec(I, r, 0.3);
  const std::vector<std::int32_t> items = {1, 3, 4, 0};
  const std::vector<double> labels = {1, 1, 0, 0};
  std::vector<double> gu(K), gi(items.size() * K), gb(items.size());
  auto loss = [&]() {
    std::vector<double> a(K), c(items.size() * K), e(items.size());
    return irgan_discriminator_gradients(du.data(), D.data(), b.data(), K, items.data(), labels.data(), 4, a.data(),
                                         c.data(), e.data());
  };
  irgan_discriminator_gradients(du.data(), D.data(), b.data(), K, items.data(), labels.data(), 4, gu.data(), gi.data(),
                                gb.data());
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
  for (int k = 0; k < K; ++k) {
    EXPECT_NEAR(numeric(du[k]), gu[k], 1e-7);
    for (size_t e = 0; e < items.size(); ++e) EXPECT_NEAR(numeric(D[items[e] * K + k]), gi[e * K + k], 1e-7);
  }
  for (size_t e = 0; e < items.size(); ++e) EXPECT_NEAR(numeric(b[items[e]]), gb[e], 1e-7);
}

struct TinyIRGAN {
  std::vector<float> gu, gi, gb, du, di, db;
  IRGANParams p;
  TinyIRGAN(int nu, int ni, int K, std::uint64_t seed) {
    Rng r(seed, 0);
    auto fill = [&](std::vector<float>& v, size_t n, double s) {
      v.resize(n);
      for (auto& x : v) x = static_cast<float>(s * r.normal());
    };
    fill(gu, static_cast<size_t>(nu) * K, 0.1);
    fill(gi, static_cast<size_t>(ni) * K, 0.1);
    gb.assign(static_cast<size_t>(ni), 0.0f);
    fill(du, static_cast<size_t>(nu) * K, 0.1);
    fill(di, static_cast<size_t>(ni) * K, 0.1);
    db.assign(static_cast<size_t>(ni), 0.0f);
    p = IRGANParams{nu, ni, K, gu.data(), gi.data(), gb.data(), du.data(), di.data(), db.data()};
  }
};

Csr halves(int nu, int ni) { return two_halves(nu, ni, 3); }

TEST(IRGAN, TheDiscriminatorLearnsAndTheGeneratorDrawsMoreTrueItems) {
  const int nu = 30, ni = 40;
  Csr data = halves(nu, ni);
  TinyIRGAN m(nu, ni, 6, 1);
  IRGANConfig c;
  c.num_threads = 1;
  c.lr_d = 0.2f;
  c.lr_g = 0.2f;
  c.batch_size = 4;
  double first_hit = -1, last_hit = 0, first_d = -1, last_d = 0;
  for (int e = 0; e < 60; ++e) {
    c.epoch = static_cast<std::uint64_t>(e);
    const EpochStats d = train_irgan_discriminator(m.p, data.view(), c);
    const EpochStats g = train_irgan_generator(m.p, data.view(), c);
    EXPECT_EQ(d.samples, 2 * data.view().nnz());
    EXPECT_EQ(g.samples, c.g_samples * data.view().nnz());
    if (first_hit < 0) {
      first_hit = g.accuracy;
      first_d = d.loss;
    }
    last_hit = g.accuracy;
    last_d = d.loss;
  }
  // A near-uniform policy hits a user's items with probability ~0.2; the trained one more often.
  EXPECT_LT(first_hit, 0.3);
  EXPECT_GT(last_hit, first_hit + 0.1);
  EXPECT_LT(last_d, first_d);
}

TEST(IRGAN, OneThreadWithASeedIsBitIdentical) {
  Csr data = halves(12, 20);
  TinyIRGAN a(12, 20, 4, 2), b(12, 20, 4, 2);
  IRGANConfig c;
  c.num_threads = 1;
  c.lr_g = c.lr_d = 0.05f;
  for (int e = 0; e < 3; ++e) {
    c.epoch = static_cast<std::uint64_t>(e);
    for (TinyIRGAN* m : {&a, &b}) {
      train_irgan_discriminator(m->p, data.view(), c);
      train_irgan_generator(m->p, data.view(), c);
    }
  }
  EXPECT_EQ(a.gi, b.gi);
  EXPECT_EQ(a.di, b.di);
  EXPECT_EQ(a.gu, b.gu);
}

TEST(IRGAN, ConfigRejectsBadValuesNamingTheArgument) {
  auto expect_bad = [](IRGANConfig c, const char* what) {
    try {
      c.validate();
      ADD_FAILURE() << "accepted bad " << what;
    } catch (const InvalidArgument& e) {
      EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
    }
  };
  IRGANConfig c;
  c.lr_g = -1;
  expect_bad(c, "lr_g");
  c = IRGANConfig();
  c.temperature = 0;
  expect_bad(c, "temperature");
  c = IRGANConfig();
  c.sample_lambda = 1.0f;
  expect_bad(c, "sample_lambda");
  c = IRGANConfig();
  c.g_samples = 0;
  expect_bad(c, "g_samples");
}

}  // namespace
