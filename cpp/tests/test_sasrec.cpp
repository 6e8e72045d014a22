#include <gtest/gtest.h>

#include "advrec/sasrec.hpp"

#include <cmath>
#include <functional>
#include <vector>

using namespace advrec;
using namespace advrec::seq;

namespace {

using MatD = Mat<double>;

MatD random_mat(Index r, Index c, Rng& rng, double scale = 1.0) {
  MatD m(r, c);
  for (Index i = 0; i < m.size(); ++i) m.data()[i] = scale * rng.normal();
  return m;
}

std::vector<double> random_vec(Index n, Rng& rng, double scale = 1.0, double shift = 0.0) {
  std::vector<double> v(n);
  for (auto& x : v) x = shift + scale * rng.normal();
  return v;
}

// Central finite difference of f with respect to *x.
double numeric(const std::function<double()>& f, double* x, double h = 1e-6) {
  const double keep = *x;
  *x = keep + h;
  const double up = f();
  *x = keep - h;
  const double down = f();
  *x = keep;
  return (up - down) / (2 * h);
}

void expect_close(double analytic, double num, const char* what, Index k) {
  EXPECT_NEAR(analytic, num, 1e-6 * std::max(1.0, std::abs(num))) << what << " entry " << k;
}

MatD dropout_mask(Index r, Index c, double p, Rng& rng) {
  MatD m(r, c);
  for (Index i = 0; i < m.size(); ++i) m.data()[i] = rng.uniform_double() < p ? 0.0 : 1.0 / (1.0 - p);
  return m;
}

}  // namespace

TEST(SASRecLayers, LayerNormGradient) {
  Rng rng(1);
  const Index n = 5, d = 8;
  MatD X = random_mat(n, d, rng), R = random_mat(n, d, rng);
  auto g = random_vec(d, rng, 0.3, 1.0), b = random_vec(d, rng, 0.3);
  auto loss = [&] {
    MatD Y;
    LayerNormCache<double> c;
    layernorm_forward(X, g.data(), b.data(), Y, c);
    return Y.cwiseProduct(R).sum();
  };
  MatD Y, dX;
  LayerNormCache<double> c;
  layernorm_forward(X, g.data(), b.data(), Y, c);
  // output rows are normalised: mean beta-weighted, unit variance before the affine map
  for (Index t = 0; t < n; ++t) EXPECT_NEAR(c.xhat.row(t).mean(), 0.0, 1e-12);
  std::vector<double> dg(d, 0.0), db(d, 0.0);
  layernorm_backward(R, g.data(), c, dX, dg.data(), db.data());
  for (Index k = 0; k < X.size(); ++k) expect_close(dX.data()[k], numeric(loss, X.data() + k), "dX", k);
  for (Index k = 0; k < d; ++k) {
    expect_close(dg[k], numeric(loss, &g[k]), "dgamma", k);
    expect_close(db[k], numeric(loss, &b[k]), "dbeta", k);
  }
}

class AttentionGradient : public ::testing::TestWithParam<std::tuple<int, bool>> {};

TEST_P(AttentionGradient, MatchesFiniteDifferences) {
  const int heads = std::get<0>(GetParam());
  const bool with_dropout = std::get<1>(GetParam());
  Rng rng(2 + heads);
  const Index n = 6, d = 8;
  SASRecLayout L(d, 10, 1);
  std::vector<double> dense = random_vec(L.size(), rng, 0.4);
  const AttentionWeights w = attention_weights(L, 0);
  MatD Y = random_mat(n, d, rng), R = random_mat(n, d, rng);
  std::vector<MatD> masks;
  if (with_dropout) {
    for (int h = 0; h < heads; ++h) masks.push_back(dropout_mask(n, n, 0.3, rng));
  }
  auto loss = [&] {
    MatD O;
    AttentionCache<double> c;
    attention_forward(Y, dense.data(), w, heads, masks, O, c);
    return O.cwiseProduct(R).sum();
  };
  MatD O, dY;
  AttentionCache<double> c;
  attention_forward(Y, dense.data(), w, heads, masks, O, c);
  std::vector<double> grad(L.size(), 0.0);
  attention_backward(R, Y, dense.data(), w, heads, masks, c, dY, grad.data());
  for (Index k = 0; k < Y.size(); ++k) expect_close(dY.data()[k], numeric(loss, Y.data() + k), "dY", k);
  for (Index k = w.wq; k < w.bv + d; ++k) expect_close(grad[k], numeric(loss, &dense[k]), "dW", k);
  // Causal: attention weights above the diagonal are exactly zero and rows sum to one.
  for (int h = 0; h < heads; ++h) {
    for (Index t = 0; t < n; ++t) {
      EXPECT_NEAR(c.A[h].row(t).sum(), 1.0, 1e-12);
      for (Index s = t + 1; s < n; ++s) EXPECT_EQ(c.A[h](t, s), 0.0);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Heads, AttentionGradient,
                         ::testing::Combine(::testing::Values(1, 2), ::testing::Values(false, true)));

TEST(SASRecLayers, AttentionIsCausal) {
  Rng rng(5);
  const Index n = 7, d = 8;
  SASRecLayout L(d, 10, 1);
  std::vector<double> dense = random_vec(L.size(), rng, 0.4);
  MatD Y = random_mat(n, d, rng);
  MatD O1, O2;
  AttentionCache<double> c;
  attention_forward(Y, dense.data(), attention_weights(L, 0), 2, {}, O1, c);
  Y.row(n - 1) = random_mat(1, d, rng);
  Y.row(n - 2) = random_mat(1, d, rng);
  attention_forward(Y, dense.data(), attention_weights(L, 0), 2, {}, O2, c);
  for (Index t = 0; t < n - 2; ++t) EXPECT_EQ((O1.row(t) - O2.row(t)).norm(), 0.0) << t;
  EXPECT_GT((O1.row(n - 1) - O2.row(n - 1)).norm(), 1e-6);
}

TEST(SASRecLayers, FeedForwardGradient) {
  Rng rng(3);
  const Index n = 5, d = 8;
  SASRecLayout L(d, 10, 1);
  std::vector<double> dense = random_vec(L.size(), rng, 0.4);
  const FFNWeights w = ffn_weights(L, 0);
  MatD Y = random_mat(n, d, rng), R = random_mat(n, d, rng);
  MatD m1 = dropout_mask(n, d, 0.2, rng), m2 = dropout_mask(n, d, 0.2, rng);
  auto loss = [&] {
    MatD F;
    FFNCache<double> c;
    ffn_forward(Y, dense.data(), w, m1, m2, F, c);
    return F.cwiseProduct(R).sum();
  };
  MatD F, dY;
  FFNCache<double> c;
  ffn_forward(Y, dense.data(), w, m1, m2, F, c);
  std::vector<double> grad(L.size(), 0.0);
  ffn_backward(R, Y, dense.data(), w, m1, m2, c, dY, grad.data());
  for (Index k = 0; k < Y.size(); ++k) expect_close(dY.data()[k], numeric(loss, Y.data() + k), "dY", k);
  for (Index k = w.w1; k < w.b2 + d; ++k) expect_close(grad[k], numeric(loss, &dense[k]), "dW", k);
}

namespace {

// A tiny network in double precision with every parameter random.
struct TinyNet {
  int d = 8, maxlen = 6, blocks = 2, heads = 2, n_items = 12;
  SASRecLayout L{8, 6, 2};
  std::vector<double> dense, item;
  explicit TinyNet(std::uint64_t seed, int maxlen_ = 6) : maxlen(maxlen_), L(8, maxlen_, 2) {
    Rng rng(seed);
    dense = random_vec(L.size(), rng, 0.3);
    for (Index b = 0; b <= L.blocks; ++b) {  // LayerNorm gains near 1
      const Index g = b < L.blocks ? L.ln1_g(b) : L.final_g();
      for (Index k = 0; k < d; ++k) dense[g + k] += 1.0;
      if (b < L.blocks) {
        for (Index k = 0; k < d; ++k) dense[L.ln2_g(b) + k] += 1.0;
      }
    }
    item = random_vec(Index(n_items) * d, rng, 0.3);
  }
  SASRecConfig config(float dropout) const {
    SASRecConfig c;
    c.dim = d;
    c.maxlen = maxlen;
    c.blocks = blocks;
    c.heads = heads;
    c.dropout = dropout;
    return c;
  }
};

}  // namespace

TEST(SASRecNet, EndToEndGradient) {
  TinyNet net(11);
  const std::vector<std::int32_t> x = {3, 7, 1, 9, 4};
  const std::vector<std::int32_t> tgt = {7, 1, 9, 4, 2};
  const std::vector<std::int32_t> neg = {0, 5, -1, 11, 6};
  const Index n = x.size(), d = net.d;
  Masks<double> mk;
  Rng rng(4);
  draw_masks(mk, n, net.config(0.3f), rng);
  ASSERT_TRUE(mk.active);
  // perturbations of the paper mode: input positions and output vectors
  MatD din = random_mat(n, d, rng, 0.1), dpos = random_mat(n, d, rng, 0.1), dneg = random_mat(n, d, rng, 0.1);
  auto loss = [&] {
    NetCache<double> c;
    Embeddings<double> emb{net.item.data(), nullptr, din.data()};
    net_forward(x.data(), n, net.dense.data(), emb, net.L, net.heads, mk, c);
    MatD dZ, gp, gn;
    return output_loss(c.Z, tgt.data(), neg.data(), net.item.data(), d, dpos.data(), dneg.data(),
                       (const double*)nullptr, 1.0, dZ, gp, gn, nullptr, nullptr);
  };
  NetCache<double> c;
  Embeddings<double> emb{net.item.data(), nullptr, din.data()};
  net_forward(x.data(), n, net.dense.data(), emb, net.L, net.heads, mk, c);
  MatD dZ, gp, gn, dE0;
  output_loss(c.Z, tgt.data(), neg.data(), net.item.data(), d, dpos.data(), dneg.data(), (const double*)nullptr, 1.0,
              dZ, gp, gn, nullptr, nullptr);
  std::vector<double> gdense(net.L.size(), 0.0), gitem(net.item.size(), 0.0);
  net_backward(dZ, net.dense.data(), net.L, net.heads, mk, c, gdense.data(), dE0);
  const double sd = std::sqrt(double(d));
  for (Index t = 0; t < n; ++t) {
    for (Index k = 0; k < d; ++k) {
      gitem[x[t] * d + k] += sd * dE0(t, k);
      if (neg[t] < 0) continue;
      gitem[tgt[t] * d + k] += gp(t, k);
      gitem[neg[t] * d + k] += gn(t, k);
    }
  }
  for (Index k = 0; k < net.L.size(); ++k) expect_close(gdense[k], numeric(loss, &net.dense[k]), "dense", k);
  for (size_t k = 0; k < net.item.size(); ++k) expect_close(gitem[k], numeric(loss, &net.item[k]), "item", k);
  // gradients w.r.t. the perturbations themselves (what SAO normalises into Delta)
  for (Index k = 0; k < din.size(); ++k) expect_close(dE0.data()[k], numeric(loss, din.data() + k), "din", k);
  for (Index k = 0; k < dpos.size(); ++k) expect_close(gp.data()[k], numeric(loss, dpos.data() + k), "dpos", k);
  for (Index k = 0; k < dneg.size(); ++k) expect_close(gn.data()[k], numeric(loss, dneg.data() + k), "dneg", k);
}

TEST(SASRecNet, LaterItemsNeverChangeEarlierOutputs) {
  TinyNet net(12);
  std::vector<std::int32_t> x = {3, 7, 1, 9, 4, 8};
  const Index n = x.size();
  Masks<double> none;
  NetCache<double> a, b;
  Embeddings<double> emb{net.item.data(), nullptr, nullptr};
  net_forward(x.data(), n, net.dense.data(), emb, net.L, net.heads, none, a);
  x[n - 1] = 0;
  x[n - 2] = 11;
  net_forward(x.data(), n, net.dense.data(), emb, net.L, net.heads, none, b);
  for (Index t = 0; t < n - 2; ++t) EXPECT_EQ((a.Z.row(t) - b.Z.row(t)).norm(), 0.0) << t;
  EXPECT_GT((a.Z.row(n - 1) - b.Z.row(n - 1)).norm(), 1e-6);
}

TEST(SASRecNet, PaddingInvariance) {
  // The same sequence left-padded to maxlen 6 or 9: with the positional rows of the occupied
  // slots equal, every output is identical, whatever the positional rows of the padding.
  TinyNet small(13, 6), large(13, 9);
  const Index d = small.d;
  large.dense.assign(large.L.size(), 0.0);
  Rng rng(99);
  for (Index k = 0; k < 3 * d; ++k) large.dense[k] = rng.normal();  // padding slots: garbage
  std::copy(small.dense.begin(), small.dense.begin() + 6 * d, large.dense.begin() + 3 * d);
  std::copy(small.dense.begin() + 6 * d, small.dense.end(), large.dense.begin() + 9 * d);
  large.item = small.item;
  const std::vector<std::int32_t> x = {5, 2, 8, 1};
  Masks<double> none;
  NetCache<double> a, b;
  net_forward(x.data(), x.size(), small.dense.data(), Embeddings<double>{small.item.data(), nullptr, nullptr},
              small.L, small.heads, none, a);
  net_forward(x.data(), x.size(), large.dense.data(), Embeddings<double>{large.item.data(), nullptr, nullptr},
              large.L, large.heads, none, b);
  EXPECT_EQ((a.Z - b.Z).norm(), 0.0);
}

TEST(SASRecNet, PackedSequencesMatchOneByOneAndGradientsCheck) {
  // Training packs a mini-batch of sequences row-wise; outputs and gradients must be those of the
  // sequences taken one at a time (no attention across sequences).
  TinyNet net(14);
  const Index d = net.d;
  const std::vector<std::int32_t> a = {3, 7, 1, 9, 4}, b = {2, 5}, c = {8, 0, 6};
  std::vector<std::int32_t> x;
  Segments segs;
  for (const auto* v : {&a, &b, &c}) {
    segs.push_back(Segment{static_cast<Index>(x.size()), static_cast<Index>(v->size())});
    x.insert(x.end(), v->begin(), v->end());
  }
  Masks<double> none;
  NetCache<double> packed;
  Embeddings<double> emb{net.item.data(), nullptr, nullptr};
  net_forward(x.data(), segs, net.dense.data(), emb, net.L, net.heads, none, packed);
  for (size_t g = 0; g < segs.size(); ++g) {
    NetCache<double> one;
    net_forward(x.data() + segs[g].row0, segs[g].n, net.dense.data(), emb, net.L, net.heads, none, one);
    EXPECT_LT((one.Z - packed.Z.middleRows(segs[g].row0, segs[g].n)).norm(), 1e-12) << g;
  }
  // gradient check of the packed pass with dropout masks drawn per segment
  SASRecConfig cfg = net.config(0.25f);
  Masks<double> mk;
  prepare_masks(mk, static_cast<Index>(x.size()), segs.size(), cfg);
  for (size_t g = 0; g < segs.size(); ++g) {
    Rng rng(50 + g);
    draw_segment_masks(mk, g, segs[g].row0, segs[g].n, cfg, rng);
  }
  Rng rng(7);
  MatD R = random_mat(static_cast<Index>(x.size()), d, rng);
  auto loss = [&] {
    NetCache<double> cc;
    net_forward(x.data(), segs, net.dense.data(), emb, net.L, net.heads, mk, cc);
    return cc.Z.cwiseProduct(R).sum();
  };
  NetCache<double> cc;
  net_forward(x.data(), segs, net.dense.data(), emb, net.L, net.heads, mk, cc);
  std::vector<double> g(net.L.size(), 0.0);
  MatD dE0;
  net_backward(R, segs, net.dense.data(), net.L, net.heads, mk, cc, g.data(), dE0);
  for (Index k = 0; k < net.L.size(); k += 3) expect_close(g[k], numeric(loss, &net.dense[k]), "dense", k);
}

// ------------------------------------------------------------------------------------------------
// Float engine: training loop, encode, loss gradients
// ------------------------------------------------------------------------------------------------
namespace {

struct FloatModel {
  SASRecConfig cfg;
  std::int32_t n_items;
  std::vector<float> item, dense, im, iv, dm, dv;
  std::int64_t step = 0;
  FloatModel(std::int32_t ni, const SASRecConfig& c, std::uint64_t seed) : cfg(c), n_items(ni) {
    SASRecLayout L(c.dim, c.maxlen, c.blocks);
    Rng rng(seed);
    item.resize(Index(ni) * c.dim);
    for (auto& v : item) v = static_cast<float>(0.1 * rng.normal());
    dense.resize(L.size());
    for (auto& v : dense) v = static_cast<float>(0.1 * rng.normal());
    for (Index b = 0; b < L.blocks; ++b) {
      std::fill_n(dense.begin() + L.ln1_g(b), c.dim, 1.0f);
      std::fill_n(dense.begin() + L.ln1_b(b), c.dim, 0.0f);
      std::fill_n(dense.begin() + L.ln2_g(b), c.dim, 1.0f);
      std::fill_n(dense.begin() + L.ln2_b(b), c.dim, 0.0f);
    }
    std::fill_n(dense.begin() + L.final_g(), c.dim, 1.0f);
    std::fill_n(dense.begin() + L.final_b(), c.dim, 0.0f);
    im.assign(item.size(), 0.0f);
    iv.assign(item.size(), 0.0f);
    dm.assign(dense.size(), 0.0f);
    dv.assign(dense.size(), 0.0f);
  }
  SASRecParams params() {
    SASRecParams p;
    p.n_items = n_items;
    p.item_emb = item.data();
    p.dense = dense.data();
    p.item_m = im.data();
    p.item_v = iv.data();
    p.dense_m = dm.data();
    p.dense_v = dv.data();
    p.step = &step;
    return p;
  }
};

// Planted transitions: user u walks the cycle i -> (i + 1) mod n_items from a random start.
struct Sequences {
  Csr seqs, hist;
};

Sequences planted(int n_users, std::int32_t n_items, int len, std::uint64_t seed) {
  Rng rng(seed);
  Sequences s;
  s.seqs.n_rows = n_users;
  s.seqs.n_cols = n_items;
  std::vector<std::int32_t> ru, ri;
  for (int u = 0; u < n_users; ++u) {
    const int l = 2 + static_cast<int>(rng.uniform(len - 1));
    std::int32_t i = static_cast<std::int32_t>(rng.uniform(n_items));
    for (int t = 0; t < l; ++t) {
      s.seqs.indices.push_back(i);
      ru.push_back(u);
      ri.push_back(i);
      i = (i + 1) % n_items;
    }
    s.seqs.indptr.push_back(static_cast<std::int64_t>(s.seqs.indices.size()));
  }
  s.hist = Csr::from_pairs(n_users, n_items, ru, ri);
  return s;
}

SASRecConfig small_config() {
  SASRecConfig c;
  c.dim = 16;
  c.maxlen = 8;
  c.blocks = 2;
  c.heads = 2;
  c.dropout = 0.2f;
  c.lr = 0.01f;
  c.batch_size = 16;
  c.num_threads = 1;
  c.seed = 7;
  return c;
}

std::vector<EpochStats> train(FloatModel& m, const Sequences& s, int epochs) {
  std::vector<EpochStats> out;
  for (int e = 0; e < epochs; ++e) {
    m.cfg.epoch = e;
    auto p = m.params();
    out.push_back(train_sasrec(p, s.seqs.view(), s.hist.view(), m.cfg));
  }
  return out;
}

}  // namespace

TEST(SASRecTrain, LearnsPlantedTransitionsAndIsDeterministic) {
  auto s = planted(120, 30, 10, 1);
  FloatModel a(30, small_config(), 3), b(30, small_config(), 3);
  auto sa = train(a, s, 40);
  auto sb = train(b, s, 40);
  EXPECT_EQ(a.item, b.item);
  EXPECT_EQ(a.dense, b.dense);
  EXPECT_LT(sa.back().loss, 0.5 * sa.front().loss);
  EXPECT_GT(sa.back().accuracy, 0.9);
  // the next item of the cycle is ranked first for most users
  std::vector<std::int32_t> users(120);
  for (int u = 0; u < 120; ++u) users[u] = u;
  std::vector<float> U(120 * 16);
  auto p = a.params();
  sasrec_encode(p, s.seqs.view(), users.data(), 120, a.cfg, U.data());
  int hits = 0;
  for (int u = 0; u < 120; ++u) {
    const auto row = s.seqs.indices[s.seqs.indptr[u + 1] - 1];
    const std::int32_t next = (row + 1) % 30;
    int better = 0;
    float target = 0;
    for (int k = 0; k < 16; ++k) target += U[u * 16 + k] * a.item[next * 16 + k];
    for (int i = 0; i < 30; ++i) {
      if (s.hist.view().contains(u, i)) continue;
      float sc = 0;
      for (int k = 0; k < 16; ++k) sc += U[u * 16 + k] * a.item[i * 16 + k];
      better += sc > target;
    }
    hits += better == 0;
  }
  std::printf("planted next item ranked first for %d / 120 users\n", hits);
  EXPECT_GT(hits, 100);
}

TEST(SASRecTrain, ZeroEpsilonIsSASRecBitForBit) {
  auto s = planted(60, 25, 9, 2);
  for (auto perturb : {SeqPerturb::Paper, SeqPerturb::Output}) {
    FloatModel plain(25, small_config(), 4), adv(25, small_config(), 4), nolam(25, small_config(), 4);
    adv.cfg.adv.eps = 0.0f;
    adv.cfg.adv.reg_adv = 1.0f;
    adv.cfg.perturb = perturb;
    nolam.cfg.adv.eps = 0.5f;
    nolam.cfg.adv.reg_adv = 0.0f;
    nolam.cfg.perturb = perturb;
    train(plain, s, 3);
    train(adv, s, 3);
    train(nolam, s, 3);
    EXPECT_EQ(plain.item, adv.item);
    EXPECT_EQ(plain.dense, adv.dense);
    EXPECT_EQ(plain.item, nolam.item);
  }
}

TEST(SASRecTrain, SyncWithOneThreadEqualsHogwildAndSyncIsDeterministic) {
  auto s = planted(70, 25, 9, 3);
  FloatModel h(25, small_config(), 5), y(25, small_config(), 5);
  y.cfg.sync = true;
  train(h, s, 2);
  train(y, s, 2);
  EXPECT_EQ(h.item, y.item);
  EXPECT_EQ(h.dense, y.dense);
  FloatModel y2a(25, small_config(), 5), y2b(25, small_config(), 5);
  for (auto* m : {&y2a, &y2b}) {
    m->cfg.sync = true;
    m->cfg.num_threads = 2;
  }
  train(y2a, s, 2);
  train(y2b, s, 2);
  EXPECT_EQ(y2a.item, y2b.item);
  // Hogwild with two threads trains too (not bit-reproducible, by design)
  FloatModel hw(25, small_config(), 5);
  hw.cfg.num_threads = 2;
  auto st = train(hw, s, 6);
  EXPECT_LT(st.back().loss, st.front().loss);
}

TEST(SASRecTrain, AdversarialPerturbationIncreasesTheLoss) {
  auto s = planted(80, 25, 9, 4);
  for (auto perturb : {SeqPerturb::Paper, SeqPerturb::Output}) {
    FloatModel m(25, small_config(), 6);
    train(m, s, 5);  // pre-train
    m.cfg.adv.eps = 0.5f;
    m.cfg.adv.reg_adv = 1.0f;
    m.cfg.perturb = perturb;
    m.cfg.dropout = 0.0f;
    m.cfg.lazy_adam = perturb == SeqPerturb::Output;
    auto st = train(m, s, 3);
    for (const auto& e : st) {
      EXPECT_GT(e.adv_loss, e.loss) << "perturb " << int(perturb);
      EXPECT_TRUE(std::isfinite(e.adv_loss));
    }
  }
}

TEST(SASRecTrain, LossGradientsMatchFiniteDifferences) {
  auto s = planted(10, 15, 7, 5);
  SASRecConfig cfg = small_config();
  cfg.dim = 8;
  cfg.maxlen = 5;  // some sequences are truncated to the most recent items
  cfg.dropout = 0.0f;
  FloatModel m(15, cfg, 8);
  std::vector<std::int32_t> neg(s.seqs.indices.size());
  Rng rng(3);
  for (size_t k = 0; k < neg.size(); ++k) neg[k] = static_cast<std::int32_t>(rng.uniform(15));
  std::vector<std::int32_t> users(10);
  for (int u = 0; u < 10; ++u) users[u] = u;
  std::vector<float> gi(m.item.size()), gd(m.dense.size());
  auto p = m.params();
  auto loss_at = [&] {
    std::vector<float> a(m.item.size()), b(m.dense.size());
    return sasrec_loss_gradients(p, s.seqs.view(), neg.data(), users.data(), 10, nullptr, m.cfg, a.data(), b.data(),
                                 nullptr, 1);
  };
  sasrec_loss_gradients(p, s.seqs.view(), neg.data(), users.data(), 10, nullptr, m.cfg, gi.data(), gd.data(), nullptr, 1);
  auto check = [&](std::vector<float>& param, const std::vector<float>& grad, const char* what) {
    // the 12 largest components, where float finite differences are informative
    std::vector<size_t> idx(grad.size());
    for (size_t k = 0; k < idx.size(); ++k) idx[k] = k;
    std::partial_sort(idx.begin(), idx.begin() + 12, idx.end(),
                      [&](size_t a, size_t b) { return std::abs(grad[a]) > std::abs(grad[b]); });
    for (int r = 0; r < 12; ++r) {
      const size_t k = idx[r];
      const float keep = param[k];
      const float h = 1e-2f;
      param[k] = keep + h;
      const double up = loss_at();
      param[k] = keep - h;
      const double down = loss_at();
      param[k] = keep;
      const double num = (up - down) / (2 * h);
      EXPECT_NEAR(grad[k], num, 2e-2 * std::max(0.1, std::abs(num))) << what << " " << k;
    }
  };
  check(m.item, gi, "item");
  check(m.dense, gd, "dense");
  // the item gradient with a delta equals the gradient at the shifted table
  std::vector<float> delta(m.item.size());
  for (auto& v : delta) v = static_cast<float>(0.05 * rng.normal());
  std::vector<float> g1(m.item.size()), g2(m.item.size()), unused(m.dense.size());
  const double l1 = sasrec_loss_gradients(p, s.seqs.view(), neg.data(), users.data(), 10, delta.data(), m.cfg,
                                          g1.data(), unused.data(), nullptr, 1);
  for (size_t k = 0; k < delta.size(); ++k) m.item[k] += delta[k];
  const double l2 = sasrec_loss_gradients(p, s.seqs.view(), neg.data(), users.data(), 10, nullptr, m.cfg, g2.data(),
                                          unused.data(), nullptr, 1);
  EXPECT_NEAR(l1, l2, 1e-4 * std::abs(l2));
  for (size_t k = 0; k < g1.size(); ++k) EXPECT_NEAR(g1[k], g2[k], 1e-4);
}

TEST(SASRecTrain, RejectsBadInput) {
  auto s = planted(10, 15, 5, 6);
  FloatModel m(15, small_config(), 9);
  auto p = m.params();
  SASRecConfig bad = m.cfg;
  bad.heads = 3;  // 16 not divisible by 3
  EXPECT_THROW(train_sasrec(p, s.seqs.view(), s.hist.view(), bad), InvalidArgument);
  bad = m.cfg;
  bad.dropout = 1.0f;
  EXPECT_THROW(train_sasrec(p, s.seqs.view(), s.hist.view(), bad), InvalidArgument);
  bad = m.cfg;
  bad.lr = 0.0f;
  EXPECT_THROW(train_sasrec(p, s.seqs.view(), s.hist.view(), bad), InvalidArgument);
  Csr broken = s.seqs;
  broken.indices[3] = 15;  // out of range
  EXPECT_THROW(train_sasrec(p, broken.view(), s.hist.view(), m.cfg), InvalidArgument);
  Csr single;  // every user has one item: nothing to learn
  single.n_rows = 2;
  single.n_cols = 15;
  single.indptr = {0, 1, 2};
  single.indices = {1, 2};
  Csr hist = Csr::from_pairs(2, 15, {0, 1}, {1, 2});
  EXPECT_THROW(train_sasrec(p, single.view(), hist.view(), m.cfg), InvalidArgument);
}
