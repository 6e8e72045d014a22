#include <gtest/gtest.h>

#include "advrec/neumf.hpp"
#include "advrec/rng.hpp"

#include <cmath>
#include <vector>

using namespace advrec;

namespace {

struct Pair {
  NeuMFLayout L{3, 4, {5, 3}};
  std::vector<double> dense, pg, qg, pm, qm;
  explicit Pair(std::uint64_t seed) {
    Rng r(seed, 0);
    auto fill = [&](std::vector<double>& v, Index n) {
      v.resize(static_cast<std::size_t>(n));
      for (auto& x : v) x = 0.7 * r.normal();
    };
    fill(dense, L.size);
    fill(pg, L.gmf_dim);
    fill(qg, L.gmf_dim);
    fill(pm, L.mlp_dim);
    fill(qm, L.mlp_dim);
    // Positive hidden biases keep most ReLUs active, so the MLP's gradients are exercised; some
    // units may still be inactive (their zero gradients are checked too).
    for (std::size_t l = 0; l < L.hidden.size(); ++l)
      for (int o = 0; o < L.hidden[l]; ++o) dense[L.b_offset[l] + o] = 1.5 + 0.3 * std::fabs(r.normal());
  }
  double loss(NeuMFMode mode, bool positive) {
    NeuMFScratch<double> s(L);
    double d;
    return log_loss(neumf_forward(L, mode, dense.data(), pg.data(), qg.data(), pm.data(), qm.data(), s), positive, d);
  }
};

}  // namespace

// Every parameter's analytic gradient (backward pass) matches central finite differences of the
// log loss, in double precision, for each mode and label.
TEST(NeuMF, LayerGradientsMatchFiniteDifferences) {
  for (int mode_i = 0; mode_i < 3; ++mode_i) {
    for (bool positive : {true, false}) {
      const NeuMFMode mode = static_cast<NeuMFMode>(mode_i);
      Pair p(11 + mode_i);
      NeuMFScratch<double> s(p.L);
      const double logit = neumf_forward(p.L, mode, p.dense.data(), p.pg.data(), p.qg.data(), p.pm.data(), p.qm.data(), s);
      double dlogit;
      log_loss(logit, positive, dlogit);
      std::vector<double> gd(p.dense.size(), 0.0), gpg(p.pg.size(), 0.0), gqg(p.qg.size(), 0.0), gpm(p.pm.size(), 0.0),
          gqm(p.qm.size(), 0.0);
      neumf_backward(p.L, mode, p.dense.data(), p.pg.data(), p.qg.data(), dlogit, s, gd.data(), gpg.data(), gqg.data(),
                     gpm.data(), gqm.data());
      int checked = 0;
      auto check = [&](std::vector<double>& theta, const std::vector<double>& grad, const char* name) {
        for (std::size_t k = 0; k < theta.size(); ++k) {
          const double keep = theta[k], h = 1e-6;
          theta[k] = keep + h;
          const double up = p.loss(mode, positive);
          theta[k] = keep - h;
          const double down = p.loss(mode, positive);
          theta[k] = keep;
          const double fd = (up - down) / (2 * h);
          EXPECT_NEAR(grad[k], fd, 1e-7 + 1e-6 * std::fabs(fd)) << name << "[" << k << "] mode " << mode_i;
          checked += grad[k] != 0.0;
        }
      };
      check(p.dense, gd, "dense");
      check(p.pg, gpg, "gmf_user");
      check(p.qg, gqg, "gmf_item");
      check(p.pm, gpm, "mlp_user");
      check(p.qm, gqm, "mlp_item");
      EXPECT_GT(checked, mode == NeuMFMode::GMF ? 8 : 20);  // the check is not vacuous
    }
  }
}

TEST(NeuMF, LogLossIsStableAtLargeLogits) {
  double d;
  EXPECT_NEAR(log_loss(800.0, true, d), 0.0, 1e-12);
  EXPECT_NEAR(d, 0.0, 1e-12);
  EXPECT_NEAR(log_loss(800.0, false, d), 800.0, 1e-9);
  EXPECT_NEAR(d, 1.0, 1e-12);
  EXPECT_NEAR(log_loss(0.0, true, d), std::log(2.0), 1e-12);
  EXPECT_NEAR(d, -0.5, 1e-12);
}

namespace {

struct Model {
  NeuMFLayout L{4, 3, {4, 2}};
  int nu, ni;
  std::vector<float> gu, gi, mu, mi, dense, z_gu, z_gi, z_mu, z_mi, z_d, v_gu, v_gi, v_mu, v_mi, v_d;
  std::int64_t step = 0;
  Model(int n_users, int n_items, std::uint64_t seed) : nu(n_users), ni(n_items) {
    Rng r(seed, 0);
    auto fill = [&](std::vector<float>& v, Index n, double sd) {
      v.resize(static_cast<std::size_t>(n));
      for (auto& x : v) x = static_cast<float>(sd * r.normal());
    };
    fill(gu, Index(nu) * 4, 0.1);
    fill(gi, Index(ni) * 4, 0.1);
    fill(mu, Index(nu) * 3, 0.1);
    fill(mi, Index(ni) * 3, 0.1);
    fill(dense, L.size, 0.5);
    for (auto* v : {&z_gu, &z_gi, &z_mu, &z_mi, &z_d, &v_gu, &v_gi, &v_mu, &v_mi, &v_d}) v->clear();
    z_gu.assign(gu.size(), 0.f); v_gu = z_gu;
    z_gi.assign(gi.size(), 0.f); v_gi = z_gi;
    z_mu.assign(mu.size(), 0.f); v_mu = z_mu;
    z_mi.assign(mi.size(), 0.f); v_mi = z_mi;
    z_d.assign(dense.size(), 0.f); v_d = z_d;
  }
  NeuMFParams params() {
    NeuMFParams p;
    p.n_users = nu;
    p.n_items = ni;
    p.layout = L;
    p.w = {gu.data(), gi.data(), mu.data(), mi.data(), dense.data()};
    p.m = {z_gu.data(), z_gi.data(), z_mu.data(), z_mi.data(), z_d.data()};
    p.v = {v_gu.data(), v_gi.data(), v_mu.data(), v_mi.data(), v_d.data()};
    p.step = &step;
    return p;
  }
};

Csr planted(int nu, int ni) {
  std::vector<std::int32_t> rows, cols;
  for (int u = 0; u < nu; ++u)
    for (int i = 0; i < ni; ++i)
      if ((u + i) % 4 == 0) {
        rows.push_back(u);
        cols.push_back(i);
      }
  return Csr::from_pairs(nu, ni, rows, cols);
}

}  // namespace

TEST(NeuMF, OneThreadTrainingIsReproducibleAndLearns) {
  const Csr train = planted(12, 16);
  Model a(12, 16, 3), b(12, 16, 3);
  NeuMFConfig c;
  c.num_threads = 1;
  c.lr = 0.01f;
  c.batch_size = 8;
  NeuMFParams pa = a.params(), pb = b.params();
  double first = 0, last = 0;
  for (int e = 0; e < 40; ++e) {
    c.epoch = e;
    const double la = train_neumf(pa, train.view(), c).loss;
    const double lb = train_neumf(pb, train.view(), c).loss;
    EXPECT_EQ(la, lb);
    if (e == 0) first = la;
    last = la;
  }
  EXPECT_EQ(a.dense, b.dense);
  EXPECT_EQ(a.gi, b.gi);
  EXPECT_LT(last, 0.6 * first);
  EXPECT_EQ(a.step, 40 * ((train.indices.size() * 5 + 7) / 8));  // one Adam step per mini-batch
}

// Block scoring and pair scoring are the same function of a pair, bit for bit, and agree with the
// training forward pass to rounding.
TEST(NeuMF, BlockPairAndForwardScoresAgree) {
  Model m(5, 7, 9);
  NeuMFParams p = m.params();
  const std::vector<std::int32_t> users{4, 0, 2}, items{6, 1, 0, 3, 5, 2, 4};
  for (int mode_i = 0; mode_i < 3; ++mode_i) {
    const NeuMFMode mode = static_cast<NeuMFMode>(mode_i);
    std::vector<float> block(users.size() * items.size());
    neumf_score_block(p, mode, users.data(), users.size(), items.data(), items.size(), block.data(), 2);
    NeuMFScratch<float> s(m.L);
    for (std::size_t r = 0; r < users.size(); ++r) {
      for (std::size_t c = 0; c < items.size(); ++c) {
        float pair;
        neumf_score_pairs(p, mode, &users[r], &items[c], 1, &pair, 1);
        EXPECT_EQ(pair, block[r * items.size() + c]);
        const float fwd = neumf_forward(m.L, mode, m.dense.data(), m.gu.data() + users[r] * 4, m.gi.data() + items[c] * 4,
                                        m.mu.data() + users[r] * 3, m.mi.data() + items[c] * 3, s);
        EXPECT_NEAR(fwd, pair, 1e-5);
      }
    }
  }
}

// After fusion, the NeuMF logit is alpha * GMF logit + (1 - alpha) * MLP logit of the pre-trained
// halves (the paper's initialisation of the fused model).
TEST(NeuMF, FusionWeighsThePretrainedModels) {
  Model m(4, 5, 2);
  NeuMFParams p = m.params();
  const std::vector<std::int32_t> u{0, 1, 2, 3, 3}, i{4, 3, 2, 1, 0};
  std::vector<float> g(5), l(5), f(5);
  neumf_score_pairs(p, NeuMFMode::GMF, u.data(), i.data(), 5, g.data(), 1);
  neumf_score_pairs(p, NeuMFMode::MLP, u.data(), i.data(), 5, l.data(), 1);
  neumf_fuse(m.L, m.dense.data(), 0.3f);
  neumf_score_pairs(p, NeuMFMode::NeuMF, u.data(), i.data(), 5, f.data(), 1);
  for (int k = 0; k < 5; ++k) EXPECT_NEAR(f[k], 0.3f * g[k] + 0.7f * l[k], 1e-5);
}

TEST(NeuMF, ConfigRejectsBadValuesNamingThem) {
  auto message = [](auto mutate) {
    NeuMFConfig c;
    mutate(c);
    try {
      c.validate();
    } catch (const InvalidArgument& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  EXPECT_NE(message([](NeuMFConfig& c) { c.lr = 0; }).find("lr"), std::string::npos);
  EXPECT_NE(message([](NeuMFConfig& c) { c.negatives = 0; }).find("negatives"), std::string::npos);
  EXPECT_NE(message([](NeuMFConfig& c) { c.batch_size = 0; }).find("batch_size"), std::string::npos);
  EXPECT_NE(message([](NeuMFConfig& c) { c.beta2 = 1.0f; }).find("beta2"), std::string::npos);
  EXPECT_NE(message([](NeuMFConfig& c) { c.reg_dense = -1.0f; }).find("reg_dense"), std::string::npos);
  EXPECT_THROW(NeuMFLayout(2, 2, {}), InvalidArgument);
}
