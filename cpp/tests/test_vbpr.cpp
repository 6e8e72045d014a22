#include <gtest/gtest.h>

#include "advrec/rng.hpp"
#include "advrec/vbpr.hpp"

#include <cmath>
#include <vector>

using namespace advrec;

namespace {

enum class Kind { VBPR, AMR, Content };

// A small model with every optional block, owning its memory.
struct VModel {
  Kind kind;
  int nu, ni, K, V, D;
  bool bias, vbias;
  std::vector<float> F, P, Q, H, E, b, bv, aP, aQ, aH, aE, ab, abv;

  VModel(Kind k, int n_users, int n_items, int dim, int feat, std::uint64_t seed, bool item_bias = true,
         bool visual_bias = true)
      : kind(k), nu(n_users), ni(n_items), K(k == Kind::Content ? 0 : dim), V(dim), D(feat), bias(item_bias),
        vbias(visual_bias) {
    Rng r(seed, 0);
    auto fill = [&](std::vector<float>& v, size_t n, double s) {
      v.resize(n);
      for (auto& x : v) x = static_cast<float>(s * r.normal());
    };
    fill(F, static_cast<size_t>(ni) * D, 1.0);
    fill(P, static_cast<size_t>(nu) * K, 0.4);
    fill(Q, static_cast<size_t>(ni) * K, 0.4);
    if (kind == Kind::AMR) H.clear();
    else fill(H, static_cast<size_t>(nu) * V, 0.4);
    fill(E, static_cast<size_t>(D) * V, 0.3);
    fill(b, bias ? ni : 0, 0.2);
    fill(bv, vbias ? D : 0, 0.2);
    aP.assign(P.size(), 0.1f);
    aQ.assign(Q.size(), 0.1f);
    aH.assign(H.size(), 0.1f);
    aE.assign(E.size(), 0.1f);
    ab.assign(b.size(), 0.1f);
    abv.assign(bv.size(), 0.1f);
  }
  bool shared() const { return kind == Kind::AMR; }

  VBPRParams params() {
    VBPRParams p;
    p.n_users = nu;
    p.n_items = ni;
    p.dim = K;
    p.vdim = V;
    p.n_features = D;
    p.features = F.data();
    p.user_factors = K ? P.data() : nullptr;
    p.item_factors = K ? Q.data() : nullptr;
    p.user_visual = shared() ? P.data() : H.data();
    p.projection = E.data();
    p.item_bias = bias ? b.data() : nullptr;
    p.visual_bias = vbias ? bv.data() : nullptr;
    p.user_accum = K ? aP.data() : nullptr;
    p.item_accum = K ? aQ.data() : nullptr;
    p.user_visual_accum = shared() ? aP.data() : aH.data();
    p.projection_accum = aE.data();
    p.bias_accum = bias ? ab.data() : nullptr;
    p.visual_bias_accum = vbias ? abv.data() : nullptr;
    return p;
  }
};

struct TripleSet {
  std::vector<std::int32_t> u, i, j;
};

// Score difference and the objective in double precision, straight from the formulas.
struct Ref {
  const VModel& m;
  std::vector<double> F, P, Q, H, E, b, bv;
  explicit Ref(const VModel& model)
      : m(model), F(m.F.begin(), m.F.end()), P(m.P.begin(), m.P.end()), Q(m.Q.begin(), m.Q.end()),
        H(m.H.begin(), m.H.end()), E(m.E.begin(), m.E.end()), b(m.b.begin(), m.b.end()), bv(m.bv.begin(), m.bv.end()) {}

  const double* theta(int u) const { return m.shared() ? &P[u * m.K] : &H[u * m.V]; }
  // y(u,i) with features c_i + delta_i (delta may be empty).
  double score(int u, int i, const std::vector<double>& delta) const {
    double y = 0;
    for (int k = 0; k < m.K; ++k) y += P[u * m.K + k] * Q[i * m.K + k];
    const double* th = theta(u);
    for (int d = 0; d < m.D; ++d) {
      const double c = F[i * m.D + d] + (delta.empty() ? 0.0 : delta[i * m.D + d]);
      double ec = 0;
      for (int k = 0; k < m.V; ++k) ec += E[d * m.V + k] * th[k];
      y += c * ec;
      if (m.vbias) y += bv[d] * c;
    }
    if (m.bias) y += b[i];
    return y;
  }
  static double softplus(double x) { return x > 0 ? x + std::log1p(std::exp(-x)) : std::log1p(std::exp(x)); }
  double bpr(const TripleSet& t, const std::vector<double>& delta) const {
    double loss = 0;
    for (size_t s = 0; s < t.u.size(); ++s) loss += softplus(-(score(t.u[s], t.i[s], delta) - score(t.u[s], t.j[s], delta)));
    return loss;
  }
  double objective(const TripleSet& t, const std::vector<double>& delta, const VBPRTrainConfig& c) const {
    double o = bpr(t, {});
    if (c.adv.active()) o += c.adv.reg_adv * bpr(t, delta);
    auto sq = [](const double* v, int n) {
      double s = 0;
      for (int k = 0; k < n; ++k) s += v[k] * v[k];
      return s;
    };
    for (size_t s = 0; s < t.u.size(); ++s) {
      const int u = t.u[s], i = t.i[s], j = t.j[s];
      double r = 0;
      if (m.K) r += sq(&P[u * m.K], m.K) + sq(&Q[i * m.K], m.K) + sq(&Q[j * m.K], m.K);
      if (!m.shared()) r += sq(&H[u * m.V], m.V);
      o += 0.5 * c.reg * r;
      if (m.bias) o += 0.5 * c.reg_bias * (b[i] * b[i] + b[j] * b[j]);
      o += 0.5 * c.reg_projection * (sq(E.data(), m.D * m.V) + (m.vbias ? sq(bv.data(), m.D) : 0.0));
    }
    return o;
  }
};

TripleSet some_triples() {
  // Item 2 is a positive in one triple and a negative in another; user 0 appears twice.
  return TripleSet{{0, 1, 3, 0, 2}, {1, 2, 5, 2, 4}, {2, 4, 0, 3, 1}};
}

// Central differences of the objective for every entry of `block` (a member of Ref).
void check_block(Ref& ref, std::vector<double>& block, const std::vector<float>& grad, const TripleSet& t,
                 const std::vector<double>& delta, const VBPRTrainConfig& c, const char* name) {
  ASSERT_EQ(block.size(), grad.size()) << name;
  const double h = 1e-5;
  for (size_t k = 0; k < block.size(); ++k) {
    const double keep = block[k];
    block[k] = keep + h;
    const double up = ref.objective(t, delta, c);
    block[k] = keep - h;
    const double down = ref.objective(t, delta, c);
    block[k] = keep;
    const double fd = (up - down) / (2 * h);
    EXPECT_NEAR(grad[k], fd, 2e-3 * (1.0 + std::fabs(fd))) << name << "[" << k << "]";
  }
}

// Output buffers of vbpr_objective_gradients for a model, and the central-difference check of
// every block against them.
struct GradBuffers {
  std::vector<float> P, Q, H, E, b, bv, delta;
  explicit GradBuffers(const VModel& m)
      : P(m.P.size()), Q(m.Q.size()), H(m.H.size()), E(m.E.size()), b(m.b.size()), bv(m.bv.size()),
        delta(static_cast<size_t>(m.ni) * m.D) {}
  VBPRGradients view() {
    VBPRGradients g;
    g.users = P.data();
    g.items = Q.data();
    g.user_visual = H.data();
    g.projection = E.data();
    g.item_bias = b.data();
    g.visual_bias = bv.data();
    g.delta = delta.data();
    return g;
  }
  void check(Ref& ref, const TripleSet& t, const VBPRTrainConfig& c) const {
    const std::vector<double> dd(delta.begin(), delta.end());
    check_block(ref, ref.P, P, t, dd, c, "P");
    check_block(ref, ref.Q, Q, t, dd, c, "Q");
    if (ref.m.kind != Kind::AMR) check_block(ref, ref.H, H, t, dd, c, "theta");
    check_block(ref, ref.E, E, t, dd, c, "E");
    check_block(ref, ref.b, b, t, dd, c, "item_bias");
    check_block(ref, ref.bv, bv, t, dd, c, "visual_bias");
  }
};

VBPRTrainConfig sgd(float lr = 0.05f) {
  VBPRTrainConfig c;
  c.optimizer = Optimizer::SGD;
  c.lr = lr;
  c.num_threads = 1;
  return c;
}

Csr random_csr(int n_users, int n_items, int per_user, std::uint64_t seed, int cold_from = -1) {
  Rng r(seed, 1);
  const int span = cold_from > 0 ? cold_from : n_items;
  std::vector<std::int32_t> rows, cols;
  for (int u = 0; u < n_users; ++u)
    for (int k = 0; k < per_user; ++k) {
      rows.push_back(u);
      cols.push_back(static_cast<std::int32_t>(r.uniform(span)));
    }
  return Csr::from_pairs(n_users, n_items, rows, cols);
}

}  // namespace

class VbprGradients : public ::testing::TestWithParam<std::tuple<Kind, bool>> {};

// Every parameter block of the training objective (clean BPR + lambda * BPR at the adversary's
// Delta, Delta held fixed as in AMR eq. 13, plus L2 terms) against central differences.
TEST_P(VbprGradients, ObjectiveMatchesFiniteDifferences) {
  const Kind kind = std::get<0>(GetParam());
  const bool adversarial = std::get<1>(GetParam());
  VModel m(kind, 4, 6, 3, 5, 11);
  TripleSet t = some_triples();
  VBPRTrainConfig c = sgd();
  c.reg = 0.03f;
  c.reg_bias = 0.02f;
  c.reg_projection = 0.01f;
  if (adversarial) {
    c.adv.eps = 0.4f;
    c.adv.reg_adv = 0.7f;
  }
  VBPRParams p = m.params();
  GradBuffers grads(m);
  VBPRGradients g = grads.view();
  const double obj = vbpr_objective_gradients(p, t.u.data(), t.i.data(), t.j.data(), 5, c, g);
  Ref ref(m);
  std::vector<double> dd(grads.delta.begin(), grads.delta.end());
  // Returned objective excludes the L2 terms.
  VBPRTrainConfig no_reg = c;
  no_reg.reg = no_reg.reg_bias = no_reg.reg_projection = 0.0f;
  EXPECT_NEAR(obj, ref.objective(t, dd, no_reg), 1e-4);
  if (adversarial) {
    for (int i : {0, 1, 2, 3, 4, 5}) {
      double n2 = 0;
      for (int d = 0; d < m.D; ++d) n2 += dd[i * m.D + d] * dd[i * m.D + d];
      EXPECT_NEAR(std::sqrt(n2), 0.4, 1e-5) << "item " << i;  // every item is in some triple
    }
  }
  grads.check(ref, t, c);
}

INSTANTIATE_TEST_SUITE_P(Models, VbprGradients,
                         ::testing::Combine(::testing::Values(Kind::VBPR, Kind::AMR, Kind::Content), ::testing::Bool()));

// A batch longer than the kernels' prefetch distances (the first triples are prefetched for,
// the last are not), with users and items repeated across triples, a feature dimension that is
// not a whole number of cache lines, and the bias blocks absent and present: the mini-batch
// gradients (E's as DC^T (G o Theta) and E^T r_s as G_s w_s without the adversary; R's GEMMs
// with it) against central differences of the objective.
TEST(VbprGradients, LongBatchWithRepeatsMatchesFiniteDifferences) {
  for (Kind kind : {Kind::VBPR, Kind::AMR, Kind::Content})
    for (bool biases : {false, true})
      for (bool adversarial : {false, true}) {
        SCOPED_TRACE(testing::Message() << "kind " << static_cast<int>(kind) << " biases " << biases << " adv "
                                        << adversarial);
        VModel m(kind, 5, 8, 3, 21, 29, biases, biases);
        TripleSet t;
        Rng r(7, 3);
        for (int s = 0; s < 24; ++s) {
          const auto i = static_cast<std::int32_t>(r.uniform(8));
          auto j = static_cast<std::int32_t>(r.uniform(7));
          if (j >= i) ++j;  // j != i
          t.u.push_back(static_cast<std::int32_t>(r.uniform(5)));
          t.i.push_back(i);
          t.j.push_back(j);
        }
        VBPRTrainConfig c = sgd();
        c.reg = 0.02f;
        c.reg_bias = 0.01f;
        c.reg_projection = 0.005f;
        if (adversarial) {
          c.adv.eps = 0.3f;
          c.adv.reg_adv = 0.5f;
        }
        VBPRParams p = m.params();
        GradBuffers grads(m);
        VBPRGradients g = grads.view();
        vbpr_objective_gradients(p, t.u.data(), t.i.data(), t.j.data(), 24, c, g);
        Ref ref(m);
        grads.check(ref, t, c);
      }
}

// The adversary's gradient w.r.t. the features (clean and at a perturbed point) against central
// differences, and Delta == eps * Gamma / ||Gamma|| with Gamma summed over the batch.
TEST(VbprFeatureGradients, MatchFiniteDifferencesAndDefineDelta) {
  for (Kind kind : {Kind::VBPR, Kind::AMR, Kind::Content}) {
    VModel m(kind, 4, 6, 3, 5, 5);
    TripleSet t = some_triples();
    VBPRParams p = m.params();
    Ref ref(m);
    Rng r(9, 0);
    std::vector<float> dl(static_cast<size_t>(m.ni) * m.D);
    for (auto& x : dl) x = static_cast<float>(0.1 * r.normal());
    for (bool perturbed : {false, true}) {
      std::vector<float> grad(static_cast<size_t>(m.ni) * m.D);
      Index correct = -1;
      const double loss = vbpr_feature_gradients(p, perturbed ? dl.data() : nullptr, t.u.data(), t.i.data(),
                                                 t.j.data(), 5, grad.data(), &correct, 2);
      std::vector<double> base = perturbed ? std::vector<double>(dl.begin(), dl.end())
                                           : std::vector<double>(dl.size(), 0.0);
      EXPECT_NEAR(loss, ref.bpr(t, base), 1e-4);
      EXPECT_GE(correct, 0);
      const double h = 1e-5;
      for (size_t k = 0; k < base.size(); ++k) {
        auto up = base, down = base;
        up[k] += h;
        down[k] -= h;
        const double fd = (ref.bpr(t, up) - ref.bpr(t, down)) / (2 * h);
        EXPECT_NEAR(grad[k], fd, 1e-3 * (1.0 + std::fabs(fd))) << "feature grad [" << k << "]";
      }
      if (perturbed) continue;
      VBPRTrainConfig c = sgd();
      c.adv.eps = 0.25f;
      c.adv.reg_adv = 1.0f;
      std::vector<float> delta(grad.size());
      VBPRGradients g;
      g.delta = delta.data();
      vbpr_objective_gradients(p, t.u.data(), t.i.data(), t.j.data(), 5, c, g);
      for (int i = 0; i < m.ni; ++i) {
        double n = 0;
        for (int d = 0; d < m.D; ++d) n += double(grad[i * m.D + d]) * grad[i * m.D + d];
        n = std::sqrt(n);
        for (int d = 0; d < m.D; ++d) EXPECT_NEAR(delta[i * m.D + d], 0.25 * grad[i * m.D + d] / n, 1e-5);
      }
    }
  }
}

// One SGD step of the trainer is exactly -lr * the objective gradient: per triple (the Hogwild
// kernel, with the closed-form adversary) and per mini-batch (the GEMM kernel).
TEST(TrainVbpr, StepsFollowTheObjectiveGradient) {
  for (Kind kind : {Kind::VBPR, Kind::AMR, Kind::Content}) {
    for (bool adversarial : {false, true}) {
      for (int batch : {1, 5}) {
        VModel m(kind, 4, 6, 3, 5, 21);
        TripleSet t = some_triples();
        const int n = batch == 1 ? 1 : 5;
        TripleSet tt{{t.u.begin(), t.u.begin() + n}, {t.i.begin(), t.i.begin() + n}, {t.j.begin(), t.j.begin() + n}};
        VBPRTrainConfig c = sgd(0.1f);
        c.reg = 0.02f;
        c.reg_bias = 0.01f;
        c.reg_projection = 0.01f;
        c.batch_size = batch;
        if (adversarial) {
          c.adv.eps = 0.3f;
          c.adv.reg_adv = 0.5f;
        }
        VModel before = m;
        VBPRParams pb = before.params();
        std::vector<float> gP(m.P.size()), gQ(m.Q.size()), gH(m.H.size()), gE(m.E.size()), gb(m.b.size()),
            gbv(m.bv.size());
        VBPRGradients g{gP.data(), gQ.data(), gH.data(), gE.data(), gb.data(), gbv.data(), nullptr};
        vbpr_objective_gradients(pb, tt.u.data(), tt.i.data(), tt.j.data(), n, c, g);
        VBPRParams p = m.params();
        train_vbpr_on_triples(p, tt.u.data(), tt.i.data(), tt.j.data(), n, c);
        auto expect_step = [&](const std::vector<float>& after, const std::vector<float>& was,
                               const std::vector<float>& grad, const char* name) {
          for (size_t k = 0; k < after.size(); ++k)
            EXPECT_NEAR(after[k], was[k] - 0.1f * grad[k], 2e-5) << name << "[" << k << "] batch " << batch;
        };
        expect_step(m.P, before.P, gP, "P");
        expect_step(m.Q, before.Q, gQ, "Q");
        if (kind != Kind::AMR) expect_step(m.H, before.H, gH, "theta");
        expect_step(m.E, before.E, gE, "E");
        expect_step(m.b, before.b, gb, "b");
        expect_step(m.bv, before.bv, gbv, "b'");
      }
    }
  }
}

// eps = 0 or lambda = 0 is VBPR training, bit for bit, in both kernels.
TEST(TrainVbpr, ZeroEpsOrZeroLambdaIsPlainVbpr) {
  Csr csr = random_csr(30, 40, 5, 3);
  for (int batch : {1, 16}) {
    VModel a(Kind::AMR, 30, 40, 8, 12, 1), b = a, c = a;
    VBPRTrainConfig plain;
    plain.num_threads = 1;
    plain.seed = 5;
    plain.batch_size = batch;
    VBPRTrainConfig eps0 = plain, lam0 = plain;
    eps0.adv.reg_adv = 1.0f;
    lam0.adv.eps = 0.5f;
    VBPRParams pa = a.params(), pb = b.params(), pc = c.params();
    for (int e = 0; e < 3; ++e) {
      plain.epoch = eps0.epoch = lam0.epoch = static_cast<std::uint64_t>(e);
      train_vbpr(pa, csr.view(), plain);
      train_vbpr(pb, csr.view(), eps0);
      train_vbpr(pc, csr.view(), lam0);
    }
    EXPECT_EQ(a.P, b.P);
    EXPECT_EQ(a.E, b.E);
    EXPECT_EQ(a.Q, c.Q);
    EXPECT_EQ(a.E, c.E);
    EXPECT_EQ(a.bv, c.bv);
  }
}

TEST(TrainVbpr, OneThreadIsDeterministicAndSeedsMatter) {
  Csr csr = random_csr(30, 40, 5, 4);
  for (int batch : {1, 8}) {
    VModel a(Kind::VBPR, 30, 40, 6, 10, 2), b = a, c = a;
    VBPRTrainConfig cfg;
    cfg.num_threads = 1;
    cfg.batch_size = batch;
    cfg.adv.eps = 0.1f;
    cfg.adv.reg_adv = 1.0f;
    VBPRParams pa = a.params(), pb = b.params(), pc = c.params();
    train_vbpr(pa, csr.view(), cfg);
    train_vbpr(pb, csr.view(), cfg);
    cfg.seed = 1;
    train_vbpr(pc, csr.view(), cfg);
    EXPECT_EQ(a.E, b.E);
    EXPECT_EQ(a.H, b.H);
    EXPECT_NE(a.E, c.E);
  }
}

// Items 30..39 have no training interactions: they are never positives, never negatives (by
// default), so their ID embedding and bias stay exactly as initialised (zero in the Python layer).
TEST(TrainVbpr, ColdItemsAreNeverSampled) {
  Csr csr = random_csr(25, 40, 6, 8, /*cold_from=*/30);
  for (int batch : {1, 8}) {
    VModel m(Kind::VBPR, 25, 40, 4, 6, 3);
    for (int i = 30; i < 40; ++i) {
      for (int k = 0; k < 4; ++k) m.Q[i * 4 + k] = 0.0f;
      m.b[i] = 0.0f;
    }
    VBPRTrainConfig cfg;
    cfg.num_threads = 2;
    cfg.batch_size = batch;
    VBPRParams p = m.params();
    for (int e = 0; e < 3; ++e) {
      cfg.epoch = static_cast<std::uint64_t>(e);
      train_vbpr(p, csr.view(), cfg);
    }
    for (int i = 30; i < 40; ++i) {
      EXPECT_EQ(m.b[i], 0.0f);
      for (int k = 0; k < 4; ++k) EXPECT_EQ(m.Q[i * 4 + k], 0.0f);
    }
    cfg.cold_negatives = true;
    train_vbpr(p, csr.view(), cfg);
    double moved = 0;
    for (int i = 30; i < 40; ++i) moved += std::fabs(m.b[i]);
    EXPECT_GT(moved, 0.0);
  }
}

// Content carries the signal: users like items whose feature 0 has their sign.
TEST(TrainVbpr, LearnsFromContent) {
  const int nu = 60, ni = 80, D = 6;
  for (Kind kind : {Kind::VBPR, Kind::Content}) {
    for (int batch : {1, 32}) {
      VModel m(kind, nu, ni, 4, D, 7);
      for (auto& x : m.E) x *= 0.03f;
      std::vector<std::int32_t> rows, cols;
      Rng r(3, 3);
      for (int u = 0; u < nu; ++u)
        for (int k = 0; k < 8; ++k) {
          std::int32_t i;
          do i = static_cast<std::int32_t>(r.uniform(ni));
          while ((m.F[i * D] > 0) != (u % 2 == 0));
          rows.push_back(u);
          cols.push_back(i);
        }
      Csr csr = Csr::from_pairs(nu, ni, rows, cols);
      VBPRTrainConfig cfg;
      cfg.num_threads = 1;
      cfg.batch_size = batch;
      VBPRParams p = m.params();
      EpochStats first, last;
      for (int e = 0; e < 40; ++e) {
        cfg.epoch = static_cast<std::uint64_t>(e);
        last = train_vbpr(p, csr.view(), cfg);
        if (e == 0) first = last;
      }
      EXPECT_LT(last.loss, 0.7 * first.loss) << "batch " << batch;
      // Half the negatives share the positive's sign, so content alone caps accuracy near 0.75.
      EXPECT_GT(last.accuracy, 0.72) << "batch " << batch;
      EXPECT_GT(last.accuracy, first.accuracy + 0.15) << "batch " << batch;
    }
  }
}

TEST(TrainVbpr, DivergenceAndBadInputsAreReported) {
  Csr csr = random_csr(10, 12, 3, 1);
  VModel m(Kind::VBPR, 10, 12, 3, 4, 1);
  for (auto& x : m.F) x *= 1e6f;
  VBPRParams p = m.params();
  VBPRTrainConfig cfg = sgd(50.0f);
  EXPECT_THROW(train_vbpr(p, csr.view(), cfg), NumericalError);
  VModel ok(Kind::VBPR, 10, 12, 3, 4, 1);
  VBPRParams q = ok.params();
  VBPRTrainConfig bad;
  bad.lr = -1.0f;
  EXPECT_THROW(train_vbpr(q, csr.view(), bad), InvalidArgument);
  bad = VBPRTrainConfig();
  bad.adv.eps = -0.1f;
  EXPECT_THROW(train_vbpr(q, csr.view(), bad), InvalidArgument);
  VBPRTrainConfig good;
  q.projection_accum = nullptr;
  EXPECT_THROW(train_vbpr(q, csr.view(), good), InvalidArgument);
  Csr wrong = random_csr(10, 13, 3, 1);
  q = ok.params();
  EXPECT_THROW(train_vbpr(q, wrong.view(), good), InvalidArgument);
}
