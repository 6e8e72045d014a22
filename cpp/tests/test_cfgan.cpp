#include <gtest/gtest.h>

#include "advrec/cfgan.hpp"
#include "advrec/rng.hpp"
#include "two_halves.hpp"

#include <cmath>
#include <functional>
#include <vector>

using namespace advrec;

namespace {

struct Fixture {
  CFGANShape s;
  std::vector<double> G, D;
  const std::vector<std::int32_t> purchased = {1, 4};
  // outputs: purchased, then PM items 0 and 5, then item 6 (ZR only); ZR = {5, 6} at positions 3, 4
  const std::vector<std::int32_t> out = {1, 4, 0, 5, 6};
  const std::vector<Index> zr = {3, 4};
  CFGANUserSets sets() const { return CFGANUserSets{out.data(), 2, 4, 5, zr.data(), 2}; }
  // layers = the hidden layers of both networks (1: the input layer alone, no hidden stack).
  explicit Fixture(int layers = 2) : s{7, 3, layers, layers} {
    Rng r(8, 0);
    G.resize(static_cast<size_t>(s.g_size()));
    D.resize(static_cast<size_t>(s.d_size()));
    for (auto& x : G) x = 0.6 * r.normal();
    for (auto& x : D) x = 0.6 * r.normal();
  }
};

double numeric(std::vector<double>& v, size_t k, const std::function<double()>& f) {
  const double h = 1e-6, x0 = v[k];
  v[k] = x0 + h;
  const double lp = f();
  v[k] = x0 - h;
  const double lm = f();
  v[k] = x0;
  return (lp - lm) / (2 * h);
}

TEST(CFGAN, GeneratorGradientsMatchFiniteDifferencesWithZeroReconstructionAndPartialMasking) {
  for (CFGANGeneratorLoss kind : {CFGANGeneratorLoss::Saturating, CFGANGeneratorLoss::NonSaturating})
  for (int layers : {1, 2, 3})
  for (Activation act : {Activation::Sigmoid, Activation::Tanh, Activation::Identity}) {
    Fixture f(layers);
    const CFGANShape& s = f.s;
    const int H = s.hidden;
    const double alpha = 0.3;
    CFGANWork<double> w;
    cfgan_generator_step(s, f.G.data(), f.D.data(), f.purchased.data(), f.sets(), alpha, act, w, kind);
    std::vector<double> grad(f.G.size(), 0.0);
    for (std::int32_t i : f.purchased)
      for (int k = 0; k < H; ++k) grad[s.g_in() + i * H + k] += w.g_pre[k];
    for (int k = 0; k < H; ++k) grad[s.g_in_bias() + k] = w.g_pre[k];
    for (size_t k = 0; k < w.g_hw.size(); ++k) grad[s.g_hidden() + k] = w.g_hw[k];
    for (size_t k = 0; k < w.g_hb.size(); ++k) grad[s.g_hidden_bias() + k] = w.g_hb[k];
    for (size_t e = 0; e < f.out.size(); ++e) {
      for (int k = 0; k < H; ++k) grad[s.g_out() + f.out[e] * H + k] = w.g_out[e * H + k];
      grad[s.g_out_bias() + f.out[e]] = w.g_outb[e];
    }
    auto loss = [&]() {
      CFGANWork<double> t;
      return cfgan_generator_step(s, f.G.data(), f.D.data(), f.purchased.data(), f.sets(), alpha, act, t, kind);
    };
    for (size_t k = 0; k < f.G.size(); ++k)
      EXPECT_NEAR(numeric(f.G, k, loss), grad[k], 1e-7) << "G[" << k << "] layers " << layers << " kind " << int(kind);
  }
}

TEST(CFGAN, DiscriminatorGradientsMatchFiniteDifferences) {
  for (int layers : {1, 2, 3})
  for (Activation act : {Activation::Sigmoid, Activation::ReLU}) {
    Fixture f(layers);
    const CFGANShape& s = f.s;
    const int H = s.hidden;
    CFGANWork<double> w;
    cfgan_discriminator_step(s, f.G.data(), f.D.data(), f.purchased.data(), f.sets(), act, w);
    std::vector<double> grad(f.D.size(), 0.0);
    for (Index e = 0; e < 4; ++e)
      for (int k = 0; k < H; ++k)
        grad[s.d_in_x() + f.out[e] * H + k] = w.r[e] * w.d_pre_fake[k] + (e < 2 ? w.d_pre_real[k] : 0.0);
    for (std::int32_t i : f.purchased)
      for (int k = 0; k < H; ++k) grad[s.d_in_c() + i * H + k] = w.d_pre_real[k] + w.d_pre_fake[k];
    for (int k = 0; k < H; ++k) grad[s.d_in_bias() + k] = w.d_pre_real[k] + w.d_pre_fake[k];
    for (size_t k = 0; k < w.d_hw.size(); ++k) grad[s.d_hidden() + k] = w.d_hw[k];
    for (size_t k = 0; k < w.d_hb.size(); ++k) grad[s.d_hidden_bias() + k] = w.d_hb[k];
    for (int k = 0; k < H; ++k) grad[s.d_out() + k] = w.d_wout[k];
    grad[s.d_out_bias()] = w.d_bout;
    auto loss = [&]() {
      CFGANWork<double> t;
      return cfgan_discriminator_step(s, f.G.data(), f.D.data(), f.purchased.data(), f.sets(), act, t);
    };
    for (size_t k = 0; k < f.D.size(); ++k) EXPECT_NEAR(numeric(f.D, k, loss), grad[k], 1e-7) << "D[" << k << "]";
  }
}

struct TinyCFGAN {
  CFGANShape s;
  std::vector<float> G, D, aG, aD;
  CFGANParams p;
  TinyCFGAN(int nu, int ni, int H, std::uint64_t seed) : s{ni, H, 1, 1} {
    Rng r(seed, 0);
    G.resize(static_cast<size_t>(s.g_size()));
    D.resize(static_cast<size_t>(s.d_size()));
    for (auto& x : G) x = static_cast<float>(0.1 * r.normal());
    for (auto& x : D) x = static_cast<float>(0.1 * r.normal());
    aG.assign(G.size(), 0.1f);
    aD.assign(D.size(), 0.1f);
    p = CFGANParams{s, nu, G.data(), D.data(), aG.data(), aD.data()};
  }
};

Csr halves(int nu, int ni) { return two_halves(nu, ni, 3); }

// The real vectors are 1 at purchased items and 0 elsewhere: after training, the generator's
// outputs at a user's purchased items are above those at the other items for most users.
TEST(CFGAN, TrainingLiftsPurchasedOutputsAndIsDeterministicWithOneThread) {
  const int nu = 40, ni = 40, H = 8;
  Csr data = halves(nu, ni);
  TinyCFGAN a(nu, ni, H, 1), b(nu, ni, H, 1);
  CFGANConfig c;
  c.num_threads = 1;
  c.lr = 0.05f;
  c.s_zr = 0.3f;
  c.s_pm = 0.3f;
  for (int e = 0; e < 30; ++e) {
    c.epoch = static_cast<std::uint64_t>(e);
    for (TinyCFGAN* m : {&a, &b}) {
      const EpochStats d = train_cfgan(m->p, data.view(), c, CFGANPlayer::Discriminator);
      EXPECT_EQ(d.samples, nu);
      train_cfgan(m->p, data.view(), c, CFGANPlayer::Generator);
    }
  }
  EXPECT_EQ(a.G, b.G);
  EXPECT_EQ(a.D, b.D);
  std::vector<std::int32_t> users(nu);
  for (int u = 0; u < nu; ++u) users[u] = u;
  std::vector<float> h(static_cast<size_t>(nu) * H);
  cfgan_encode(a.p, data.view(), c.activation, users.data(), nu, h.data(), 1);
  int lifted = 0;
  for (int u = 0; u < nu; ++u) {
    double in = 0, out = 0;
    int n_in = 0;
    for (int i = 0; i < ni; ++i) {
      float x = a.G[a.s.g_out_bias() + i];
      for (int k = 0; k < H; ++k) x += h[u * H + k] * a.G[a.s.g_out() + i * H + k];
      if (data.view().contains(u, i)) {
        in += x;
        ++n_in;
      } else {
        out += x;
      }
    }
    lifted += in / n_in > out / (ni - n_in);
  }
  EXPECT_GE(lifted, 0.8 * nu);  // an untrained generator: about half
}

// The step functions' compact gradients are checked above; this checks the path from them to the
// parameters (train_cfgan's per-row optimiser steps). One user, s_pm = s_zr = 1 so the PM and ZR
// sets are every non-purchased item (no sampling), SGD without L2: one pass moves every parameter
// by -lr times the finite-difference gradient of the double-precision objective.
TEST(CFGAN, OneSgdPassMovesEveryParameterAlongTheFiniteDifferenceGradient) {
  for (int variant = 0; variant < 3; ++variant) {  // D; G saturating; G non-saturating
    const CFGANPlayer player = variant == 0 ? CFGANPlayer::Discriminator : CFGANPlayer::Generator;
    const CFGANGeneratorLoss kind = variant == 2 ? CFGANGeneratorLoss::NonSaturating : CFGANGeneratorLoss::Saturating;
    for (int layers : {1, 2}) {
      const int ni = 6, H = 3;
      const std::vector<std::int32_t> bought = {1, 4};
      Csr data = Csr::from_pairs(1, ni, {0, 0}, bought);
      CFGANShape s{ni, H, layers, layers};
      Rng r(5, 0);
      std::vector<float> G(static_cast<size_t>(s.g_size())), D(static_cast<size_t>(s.d_size()));
      for (auto& x : G) x = static_cast<float>(0.5 * r.normal());
      for (auto& x : D) x = static_cast<float>(0.5 * r.normal());
      std::vector<double> Gd(G.begin(), G.end()), Dd(D.begin(), D.end());
      CFGANParams p{s, 1, G.data(), D.data(), nullptr, nullptr};
      CFGANConfig c;
      c.optimizer = Optimizer::SGD;
      c.lr = 1e-3f;
      c.alpha = 0.4f;
      c.s_pm = 1.0f;
      c.s_zr = 1.0f;
      c.num_threads = 1;
      c.g_loss = kind;
      train_cfgan(p, data.view(), c, player);
      // The sets in the engine's order do not matter for the objective: purchased, then all others
      // (PM), all of which are also ZR.
      const std::vector<std::int32_t> out = {1, 4, 0, 2, 3, 5};
      const std::vector<Index> zr = {2, 3, 4, 5};
      const CFGANUserSets sets{out.data(), 2, 6, 6, zr.data(), 4};
      auto loss = [&]() {
        CFGANWork<double> t;
        return player == CFGANPlayer::Generator
                   ? cfgan_generator_step(s, Gd.data(), Dd.data(), bought.data(), sets, double(c.alpha), c.activation, t,
                                          kind)
                   : cfgan_discriminator_step(s, Gd.data(), Dd.data(), bought.data(), sets, c.activation, t);
      };
      std::vector<double>& theta = player == CFGANPlayer::Generator ? Gd : Dd;
      const std::vector<float>& moved = player == CFGANPlayer::Generator ? G : D;
      const std::vector<float>& fixed = player == CFGANPlayer::Generator ? D : G;
      const std::vector<double>& fixed_d = player == CFGANPlayer::Generator ? Dd : Gd;
      for (size_t k = 0; k < theta.size(); ++k) {
        const double expected = theta[k] - double(c.lr) * numeric(theta, k, loss);
        EXPECT_NEAR(moved[k], expected, 2e-6) << (player == CFGANPlayer::Generator ? "G[" : "D[") << k
                                               << "] layers " << layers;
      }
      for (size_t k = 0; k < fixed.size(); ++k) ASSERT_EQ(double(fixed[k]), fixed_d[k]) << "the other player moved";
    }
  }
}

TEST(CFGAN, ConfigAndShapeRejectBadValuesNamingTheArgument) {
  auto expect_bad = [](auto obj, const char* what) {
    try {
      obj.validate();
      ADD_FAILURE() << "accepted bad " << what;
    } catch (const InvalidArgument& e) {
      EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
    }
  };
  CFGANConfig c;
  c.s_zr = 1.5f;
  expect_bad(c, "s_zr");
  c = CFGANConfig();
  c.s_pm = -0.1f;
  expect_bad(c, "s_pm");
  c = CFGANConfig();
  c.alpha = -1;
  expect_bad(c, "alpha");
  CFGANShape s{5, 0, 1, 1};
  expect_bad(s, "hidden");
  s = CFGANShape{5, 4, 0, 1};
  expect_bad(s, "g_layers");
}

}  // namespace
