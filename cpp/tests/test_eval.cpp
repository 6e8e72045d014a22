// Evaluation kernels against brute-force references and hand-computed answers.
#include "advrec/eval.hpp"
#include "advrec/rng.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <set>

using namespace advrec;

namespace {

struct Problem {
  std::int32_t n_users, n_items, dim;
  std::vector<float> U, V;
  Csr train, test;
};

// Random factors quantised to multiples of 1/4 so that ties happen often.
Problem make_problem(std::int32_t n_users, std::int32_t n_items, std::int32_t dim, int test_per_user, std::uint64_t seed,
                     bool coarse) {
  Problem p{n_users, n_items, dim, {}, {}, {}, {}};
  Rng rng(seed, 0);
  auto value = [&] {
    double x = rng.normal();
    return coarse ? static_cast<float>(std::round(x * 2.0) / 4.0) : static_cast<float>(x);
  };
  p.U.resize(static_cast<std::size_t>(n_users) * dim);
  p.V.resize(static_cast<std::size_t>(n_items) * dim);
  for (auto& x : p.U) x = value();
  for (auto& x : p.V) x = value();
  std::vector<std::int32_t> tr_u, tr_i, te_u, te_i;
  for (std::int32_t u = 0; u < n_users; ++u) {
    std::set<std::int32_t> used;
    const int n_train = 1 + static_cast<int>(rng.uniform(8));
    while (static_cast<int>(used.size()) < n_train + test_per_user) used.insert(static_cast<std::int32_t>(rng.uniform(n_items)));
    int i = 0;
    for (auto item : used) {
      if (i++ < n_train) {
        tr_u.push_back(u);
        tr_i.push_back(item);
      } else {
        te_u.push_back(u);
        te_i.push_back(item);
      }
    }
  }
  p.train = Csr::from_pairs(n_users, n_items, tr_u, tr_i);
  p.test = Csr::from_pairs(n_users, n_items, te_u, te_i);
  return p;
}

float score(const Problem& p, std::int32_t u, std::int32_t i) {
  float acc = 0.0f;
  for (int d = 0; d < p.dim; ++d) acc += p.U[u * p.dim + d] * p.V[i * p.dim + d];
  return acc;
}

// Reference: pessimistic ranks of each test item by brute force, then the shared metric formulas
// recomputed here independently.
std::vector<double> reference_metrics(const Problem& p, std::int32_t u, const MetricSpec& spec) {
  const CsrView tr = p.train.view(), te = p.test.view();
  std::vector<std::int32_t> tests(te.row_data(u), te.row_data(u) + te.row_size(u));
  std::vector<Index> ranks;
  std::vector<double> aucs;
  for (auto t : tests) {
    const float st = score(p, u, t);
    Index ahead = 0, lower = 0, negatives = 0;
    for (std::int32_t j = 0; j < p.n_items; ++j) {
      if (j == t || tr.contains(u, j)) continue;
      const float sj = score(p, u, j);
      // Non-test items win ties; among test items, ties go to the lower id (any order gives the
      // same multiset of ranks).
      ahead += te.contains(u, j) ? (sj > st || (sj == st && j < t)) : sj >= st;
      if (!te.contains(u, j)) {
        ++negatives;
        lower += sj < st;
      }
    }
    ranks.push_back(ahead);
    aucs.push_back(static_cast<double>(lower) / static_cast<double>(negatives));
  }
  std::vector<double> out;
  const double m = static_cast<double>(tests.size());
  for (auto k : spec.ks) {
    double hits = 0, dcg = 0, idcg = 0, rr = 0;
    std::vector<Index> sorted(ranks);
    std::sort(sorted.begin(), sorted.end());
    double ap = 0;
    for (std::size_t i = 0; i < sorted.size(); ++i) {
      if (sorted[i] < k) {
        hits += 1;
        dcg += 1.0 / std::log2(sorted[i] + 2.0);
        ap += (i + 1.0) / (sorted[i] + 1.0);
      }
    }
    for (Index i = 0; i < std::min<Index>(tests.size(), k); ++i) idcg += 1.0 / std::log2(i + 2.0);
    if (!sorted.empty() && sorted[0] < k) rr = 1.0 / (sorted[0] + 1.0);
    if (spec.hr) out.push_back(hits > 0);
    if (spec.ndcg) out.push_back(dcg / idcg);
    if (spec.recall) out.push_back(hits / m);
    if (spec.precision) out.push_back(hits / k);
    if (spec.mrr) out.push_back(rr);
    if (spec.map) out.push_back(ap / std::min<double>(m, k));
  }
  if (spec.auc) out.push_back(std::accumulate(aucs.begin(), aucs.end(), 0.0) / m);
  return out;
}

MetricSpec all_metrics(bool auc) {
  MetricSpec spec;
  spec.ks = {1, 3, 10, 50};
  spec.hr = spec.ndcg = spec.recall = spec.precision = spec.mrr = spec.map = true;
  spec.auc = auc;
  return spec;
}

}  // namespace

class FullEvaluation : public ::testing::TestWithParam<std::tuple<int, bool, bool>> {};

TEST_P(FullEvaluation, MatchesBruteForce) {
  const auto [test_per_user, coarse, auc] = GetParam();
  // 700 items: several panels plus a partial one; 37 users: a partial user tile.
  Problem p = make_problem(37, 700, 5, test_per_user, 11 + test_per_user, coarse);
  const MetricSpec spec = all_metrics(auc);
  std::vector<std::int32_t> users(p.n_users);
  std::iota(users.begin(), users.end(), 0);
  std::vector<double> out(static_cast<std::size_t>(p.n_users) * spec.columns());
  evaluate_full(FactorView{p.U.data(), p.n_users, p.dim}, FactorView{p.V.data(), p.n_items, p.dim}, p.train.view(),
                p.test.view(), users.data(), spec, out.data(), 2);
  for (std::int32_t u = 0; u < p.n_users; ++u) {
    const auto ref = reference_metrics(p, u, spec);
    for (int c = 0; c < spec.columns(); ++c) {
      EXPECT_NEAR(out[u * spec.columns() + c], ref[c], 1e-12) << "user " << u << " column " << c;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Protocols, FullEvaluation,
                         ::testing::Combine(::testing::Values(1, 4), ::testing::Bool(), ::testing::Bool()));

TEST(Evaluation, AllEqualScoresGetNoCredit) {
  // Zero factors: every item ties with the test item, so it ranks last (pessimistic ties).
  Problem p = make_problem(5, 40, 3, 1, 3, false);
  std::fill(p.U.begin(), p.U.end(), 0.0f);
  MetricSpec spec = all_metrics(true);
  std::vector<std::int32_t> users{0, 1, 2, 3, 4};
  std::vector<double> out(5 * spec.columns());
  evaluate_full(FactorView{p.U.data(), 5, 3}, FactorView{p.V.data(), 40, 3}, p.train.view(), p.test.view(),
                users.data(), spec, out.data(), 1);
  for (std::int32_t u = 0; u < 5; ++u) {
    const double* row = out.data() + u * spec.columns();
    EXPECT_EQ(row[spec.columns() - 1], 0.0);  // AUC: no negative scores strictly lower
    const Index candidates = 40 - p.train.view().row_size(u) - 1;
    EXPECT_GT(candidates, 10);
    for (int c = 0; c < 3 * spec.per_k(); ++c) EXPECT_EQ(row[c], 0.0) << "k<=10 column " << c;
  }
}

TEST(Evaluation, KnownAnswerLeaveOneOut) {
  // One user, 1-d factors: item scores are the item factors. Train = {0}; test = {3} scoring 0.5.
  // Candidates scoring >= 0.5: items 1 (0.9) and 4 (0.5, a tie) -> pessimistic rank 2.
  std::vector<float> U{1.0f}, V{5.0f, 0.9f, 0.1f, 0.5f, 0.5f, -1.0f};
  Csr train = Csr::from_pairs(1, 6, {0}, {0});
  Csr test = Csr::from_pairs(1, 6, {0}, {3});
  MetricSpec spec;
  spec.ks = {2, 3};
  spec.hr = spec.ndcg = spec.mrr = true;
  spec.auc = true;
  std::int32_t user = 0;
  std::vector<double> out(spec.columns());
  evaluate_full(FactorView{U.data(), 1, 1}, FactorView{V.data(), 6, 1}, train.view(), test.view(), &user, spec,
                out.data(), 1);
  EXPECT_EQ(out[0], 0.0);                       // hr@2
  EXPECT_EQ(out[1], 0.0);                       // ndcg@2
  EXPECT_EQ(out[2], 0.0);                       // mrr@2
  EXPECT_EQ(out[3], 1.0);                       // hr@3
  EXPECT_DOUBLE_EQ(out[4], 1.0 / std::log2(4.0));  // ndcg@3: rank 2 -> position 3
  EXPECT_DOUBLE_EQ(out[5], 1.0 / 3.0);          // mrr@3
  EXPECT_DOUBLE_EQ(out[6], 2.0 / 4.0);          // auc: negatives {1,2,4,5}; strictly lower {2,5}
}

TEST(TopK, MatchesSortAndExcludes) {
  Problem p = make_problem(9, 600, 4, 1, 5, true);
  const std::int32_t k = 17;
  std::vector<std::int32_t> rows(p.n_users), ids(p.n_users * k);
  std::vector<float> scores(p.n_users * k);
  std::iota(rows.begin(), rows.end(), 0);
  const CsrView ex = p.train.view();
  top_k(FactorView{p.U.data(), p.n_users, p.dim}, FactorView{p.V.data(), p.n_items, p.dim}, k, &ex, rows.data(),
        ids.data(), scores.data(), 2);
  for (std::int32_t u = 0; u < p.n_users; ++u) {
    std::vector<std::pair<float, std::int32_t>> all;
    for (std::int32_t i = 0; i < p.n_items; ++i)
      if (!ex.contains(u, i)) all.emplace_back(-score(p, u, i), i);
    std::sort(all.begin(), all.end());  // score descending, then id ascending
    for (std::int32_t r = 0; r < k; ++r) {
      EXPECT_EQ(ids[u * k + r], all[r].second) << "user " << u << " position " << r;
      EXPECT_EQ(scores[u * k + r], -all[r].first);
    }
  }
}

TEST(TopK, PadsWhenFewerCandidates) {
  std::vector<float> U{1.0f}, V{3.0f, 2.0f, 1.0f};
  Csr ex = Csr::from_pairs(1, 3, {0}, {1});
  std::int32_t row = 0;
  std::vector<std::int32_t> ids(4);
  std::vector<float> scores(4);
  const CsrView view = ex.view();
  top_k(FactorView{U.data(), 1, 1}, FactorView{V.data(), 3, 1}, 4, &view, &row, ids.data(), scores.data(), 1);
  EXPECT_EQ(ids, (std::vector<std::int32_t>{0, 2, -1, -1}));
  EXPECT_EQ(scores[1], 1.0f);
  EXPECT_TRUE(std::isinf(scores[3]) && scores[3] < 0);
}

TEST(Sampled, MatchesBruteForceOnCandidates) {
  Problem p = make_problem(20, 300, 4, 2, 9, true);
  const std::int32_t n_neg = 30;
  std::vector<std::int32_t> users(p.n_users);
  std::iota(users.begin(), users.end(), 0);
  std::vector<std::int32_t> negs(p.n_users * n_neg);
  sample_negatives(p.train.view(), p.test.view(), users.data(), p.n_users, n_neg, 42, nullptr, negs.data(), 2);
  MetricSpec spec = all_metrics(true);
  std::vector<double> out(p.n_users * spec.columns());
  evaluate_sampled(FactorView{p.U.data(), p.n_users, p.dim}, FactorView{p.V.data(), p.n_items, p.dim}, p.test.view(),
                   users.data(), negs.data(), n_neg, spec, out.data(), 2);
  // Reference: a problem whose item universe is the test items plus the negatives, nothing in train.
  for (std::int32_t u = 0; u < p.n_users; ++u) {
    const CsrView te = p.test.view();
    std::vector<std::int32_t> tests(te.row_data(u), te.row_data(u) + te.row_size(u));
    std::vector<Index> ranks, lower;
    for (auto t : tests) {
      const float st = score(p, u, t);
      Index ahead = 0, below = 0;
      for (auto t2 : tests) ahead += (t2 != t && (score(p, u, t2) > st || (score(p, u, t2) == st && t2 < t)));
      for (int j = 0; j < n_neg; ++j) {
        const float sj = score(p, u, negs[u * n_neg + j]);
        ahead += sj >= st;
        below += sj < st;
      }
      ranks.push_back(ahead);
      lower.push_back(below);
    }
    std::vector<double> ref(spec.columns());
    user_metrics(ranks, lower, n_neg, spec, ref.data());
    for (int c = 0; c < spec.columns(); ++c) EXPECT_DOUBLE_EQ(out[u * spec.columns() + c], ref[c]);
  }
}

TEST(SampleNegatives, DistinctEligibleAndDeterministic) {
  Problem p = make_problem(50, 120, 2, 1, 4, false);
  std::vector<std::int32_t> users(p.n_users);
  std::iota(users.begin(), users.end(), 0);
  for (std::int32_t n_neg : {10, 100}) {  // rejection path and explicit-list path
    std::vector<std::int32_t> a(p.n_users * n_neg), b(p.n_users * n_neg);
    sample_negatives(p.train.view(), p.test.view(), users.data(), p.n_users, n_neg, 7, nullptr, a.data(), 1);
    sample_negatives(p.train.view(), p.test.view(), users.data(), p.n_users, n_neg, 7, nullptr, b.data(), 2);
    EXPECT_EQ(a, b);
    for (std::int32_t u = 0; u < p.n_users; ++u) {
      std::set<std::int32_t> seen(a.begin() + u * n_neg, a.begin() + (u + 1) * n_neg);
      EXPECT_EQ(static_cast<std::int32_t>(seen.size()), n_neg);
      for (auto i : seen) {
        EXPECT_FALSE(p.train.view().contains(u, i));
        EXPECT_FALSE(p.test.view().contains(u, i));
      }
    }
  }
}

TEST(SampleNegatives, WeightedFavoursHeavyItemsAndSkipsZeroWeight) {
  Problem p = make_problem(200, 100, 2, 1, 8, false);
  std::vector<double> w(100, 1.0);
  for (int i = 0; i < 10; ++i) w[i] = 50.0;
  w[99] = 0.0;
  std::vector<std::int32_t> users(p.n_users);
  std::iota(users.begin(), users.end(), 0);
  std::vector<std::int32_t> negs(p.n_users * 5);
  sample_negatives(p.train.view(), p.test.view(), users.data(), p.n_users, 5, 1, w.data(), negs.data(), 2);
  Index heavy = 0;
  for (auto i : negs) {
    EXPECT_NE(i, 99);
    heavy += i < 10;
  }
  // Heavy items hold 500 of 589 weight units; uniform draws would pick them ~10% of the time.
  EXPECT_GT(heavy, static_cast<Index>(negs.size() / 2));
}

TEST(SampleNegatives, TooFewEligibleItemsThrows) {
  Problem p = make_problem(3, 12, 2, 1, 2, false);
  std::vector<std::int32_t> users{0, 1, 2}, out(3 * 12);
  EXPECT_THROW(sample_negatives(p.train.view(), p.test.view(), users.data(), 3, 12, 0, nullptr, out.data(), 1),
               InvalidArgument);
}

TEST(Evaluation, TestItemInTrainThrows) {
  std::vector<float> U{1.0f}, V{1.0f, 2.0f};
  Csr train = Csr::from_pairs(1, 2, {0}, {1});
  Csr test = Csr::from_pairs(1, 2, {0}, {1});
  MetricSpec spec;
  spec.ks = {1};
  std::int32_t user = 0;
  std::vector<double> out(spec.columns());
  EXPECT_THROW(evaluate_full(FactorView{U.data(), 1, 1}, FactorView{V.data(), 2, 1}, train.view(), test.view(), &user,
                             spec, out.data(), 1),
               InvalidArgument);
}

// ---- shapes and pruning of the blocked pass --------------------------------------------------
// The pass packs items in descending norm order into panels of 128, scores blocks of users in
// register tiles of 6 (8 with AVX-512) and stops a user once a panel's Cauchy-Schwarz bound falls
// below what could still change its result. These cases hit partial panels and tiles, k beyond a
// panel, a single user, more threads than blocks, and item norms spread over orders of magnitude
// (so that most panels are pruned); every result must equal the brute-force reference.
namespace {

struct Shape {
  std::int32_t users, items, dim;
  std::vector<std::int32_t> ks;
  int threads;
  double norm_spread;  // item rows scaled by exp(norm_spread * N(0, 1))
};

Problem make_spread_problem(const Shape& s, std::uint64_t seed) {
  Problem p = make_problem(s.users, s.items, s.dim, 3, seed, false);
  Rng rng(seed, 1);
  for (std::int32_t i = 0; i < p.n_items; ++i) {
    const float scale = static_cast<float>(std::exp(s.norm_spread * rng.normal()));
    for (int d = 0; d < p.dim; ++d) p.V[i * p.dim + d] *= scale;
  }
  return p;
}

}  // namespace

class BlockedPass : public ::testing::TestWithParam<Shape> {};

TEST_P(BlockedPass, FullEvaluationMatchesBruteForceWithAndWithoutAuc) {
  const Shape& shape = GetParam();
  const Problem p = make_spread_problem(shape, 1234 + shape.items);
  for (bool auc : {false, true}) {
    MetricSpec spec = all_metrics(auc);
    spec.ks = shape.ks;
    std::vector<std::int32_t> users(p.n_users);
    std::iota(users.begin(), users.end(), 0);
    std::vector<double> out(static_cast<std::size_t>(p.n_users) * spec.columns());
    evaluate_full(FactorView{p.U.data(), p.n_users, p.dim}, FactorView{p.V.data(), p.n_items, p.dim}, p.train.view(),
                  p.test.view(), users.data(), spec, out.data(), shape.threads);
    for (std::int32_t u = 0; u < p.n_users; ++u) {
      const auto ref = reference_metrics(p, u, spec);
      for (int c = 0; c < spec.columns(); ++c) {
        EXPECT_NEAR(out[u * spec.columns() + c], ref[c], 1e-12) << "auc " << auc << " user " << u << " column " << c;
      }
    }
  }
}

TEST_P(BlockedPass, TopKMatchesSortAndDoesNotDependOnThreads) {
  const Shape& shape = GetParam();
  const Problem p = make_spread_problem(shape, 77 + shape.items);
  const std::int32_t k = *std::max_element(shape.ks.begin(), shape.ks.end());
  std::vector<std::int32_t> rows(p.n_users), ids(static_cast<std::size_t>(p.n_users) * k), ids1(ids.size());
  std::vector<float> scores(ids.size()), scores1(ids.size());
  std::iota(rows.begin(), rows.end(), 0);
  const CsrView ex = p.train.view();
  const FactorView U{p.U.data(), p.n_users, p.dim}, V{p.V.data(), p.n_items, p.dim};
  top_k(U, V, k, &ex, rows.data(), ids.data(), scores.data(), shape.threads);
  top_k(U, V, k, &ex, rows.data(), ids1.data(), scores1.data(), 1);
  EXPECT_EQ(ids, ids1);
  EXPECT_EQ(scores, scores1);
  for (std::int32_t u = 0; u < p.n_users; ++u) {
    std::vector<std::pair<float, std::int32_t>> all;
    for (std::int32_t i = 0; i < p.n_items; ++i)
      if (!ex.contains(u, i)) all.emplace_back(-score(p, u, i), i);
    std::sort(all.begin(), all.end());
    for (std::int32_t r = 0; r < k; ++r) {
      const bool real = r < static_cast<std::int32_t>(all.size());
      EXPECT_EQ(ids[u * k + r], real ? all[r].second : -1) << "user " << u << " position " << r;
      if (real) EXPECT_EQ(scores[u * k + r], -all[r].first);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, BlockedPass,
    ::testing::Values(Shape{1, 129, 7, {5}, 2, 1.0},           // one user; one item past a panel
                      Shape{3, 127, 3, {10}, 8, 0.0},          // more threads than users; less than a panel
                      Shape{13, 700, 64, {1, 20}, 2, 2.0},     // dim 64: the rounding margin of the bound
                      Shape{50, 1000, 16, {300}, 3, 1.5},      // k beyond two panels; 2 blocks, partial tile
                      Shape{100, 2049, 8, {1, 10, 50}, 2, 3.0}  // norms over orders of magnitude: most panels pruned
                      ));

// Parallel item vectors make Cauchy-Schwarz tight: an item's score equals its bound up to
// rounding. Copies of one vector tie with each other and with the test item across panel
// boundaries; pessimistic ties must count every copy, so no panel of copies may be pruned.
TEST(BlockedPass, TiesAtTheCauchySchwarzBoundAreNotPruned) {
  const int dim = 64;
  const std::int32_t copies = 300, n_items = copies + 2;
  std::vector<float> U(dim), V(static_cast<std::size_t>(n_items) * dim);
  for (int d = 0; d < dim; ++d) U[d] = 0.1f + 0.01f * static_cast<float>(d);
  // Items 0 .. copies-1 and the test item (id copies) are 3u; item copies + 1 is 5u (ranks first).
  for (std::int32_t i = 0; i < n_items; ++i)
    for (int d = 0; d < dim; ++d) V[i * dim + d] = (i == copies + 1 ? 5.0f : 3.0f) * U[d];
  Csr train = Csr::from_pairs(1, n_items, {}, {});
  Csr test = Csr::from_pairs(1, n_items, {0}, {copies});
  const std::int32_t user = 0;
  MetricSpec spec;
  spec.ks = {400};
  spec.hr = false;
  spec.ndcg = false;
  spec.mrr = true;  // 1 / (rank + 1): the exact rank
  spec.auc = true;
  std::vector<double> out(static_cast<std::size_t>(spec.columns()));
  for (int threads : {1, 2}) {
    evaluate_full(FactorView{U.data(), 1, dim}, FactorView{V.data(), n_items, dim}, train.view(), test.view(), &user,
                  spec, out.data(), threads);
    EXPECT_DOUBLE_EQ(out[0], 1.0 / (copies + 2));  // the 5u item and every tied copy rank ahead
    EXPECT_DOUBLE_EQ(out[1], 0.0);                 // no negative scores strictly lower
  }
  std::vector<std::int32_t> ids(400);
  std::vector<float> scores(400);
  top_k(FactorView{U.data(), 1, dim}, FactorView{V.data(), n_items, dim}, 400, nullptr, nullptr, ids.data(),
        scores.data(), 2);
  EXPECT_EQ(ids[0], copies + 1);
  for (std::int32_t r = 1; r <= copies + 1; ++r) EXPECT_EQ(ids[r], r - 1) << "ties in id order";
  EXPECT_EQ(ids[copies + 2], -1);
}
