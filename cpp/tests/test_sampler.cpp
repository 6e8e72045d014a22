#include <gtest/gtest.h>

#include "advrec/kernels.hpp"
#include "advrec/rng.hpp"
#include "advrec/sampler.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

using namespace advrec;

namespace {

// Users with a skewed number of items (0 to ~3 x mean) over a skewed item distribution.
Csr skewed_csr(int n_users, int n_items, std::uint64_t seed) {
  Rng r(seed, 3);
  std::vector<std::int32_t> rows, cols;
  for (int u = 0; u < n_users; ++u) {
    const int n = static_cast<int>(r.uniform(static_cast<std::uint64_t>(3 * n_items / 4)));
    for (int k = 0; k < n; ++k) {
      rows.push_back(u);
      const double x = r.uniform_double();
      cols.push_back(static_cast<std::int32_t>(x * x * n_items));  // low ids are popular
    }
  }
  return Csr::from_pairs(n_users, n_items, rows, cols);
}

struct NoRows {
  void operator()(std::int32_t, std::int32_t, std::int32_t) const {}
};

}  // namespace

TEST(TrainingIndex, ContainsExactlyTheTrainingPairs) {
  const Csr train = skewed_csr(60, 300, 1);
  const CsrView v = train.view();
  TrainingIndex index(v);
  ASSERT_EQ(index.nnz(), v.nnz());
  for (std::int32_t u = 0; u < v.n_rows; ++u)
    for (std::int32_t i = 0; i < v.n_cols; ++i) ASSERT_EQ(index.contains(u, i), v.contains(u, i)) << u << "," << i;
  EXPECT_FALSE(index.contains(v.n_rows + 5, 0));  // unknown ids are simply absent
  for (Index e = 0; e < v.nnz(); ++e) {
    const UserItem p = index.pair(e);
    EXPECT_EQ(p.i, v.indices[e]);
    EXPECT_TRUE(e >= v.row_begin(p.u) && e < v.row_end(p.u));
  }
}

TEST(TrainingIndex, RejectsABrokenCsrBeforeReadingIt) {
  std::vector<std::int64_t> indptr{0, 2, 1};  // decreasing
  std::vector<std::int32_t> indices{0, 1};
  CsrView v{2, 3, indptr.data(), indices.data()};
  EXPECT_THROW(TrainingIndex{v}, InvalidArgument);
}

TEST(TrainingIndex, MarksOnlyUsersWhoHoldEveryItemAsFull) {
  const Csr train = Csr::from_pairs(3, 3, {0, 0, 0, 1, 2, 2}, {0, 1, 2, 0, 1, 2});
  TrainingIndex index(train.view());
  EXPECT_TRUE(index.user_full(0));
  EXPECT_FALSE(index.user_full(1));
  EXPECT_FALSE(index.user_full(2));
}

TEST(TripleSampler, NegativesAreNeverHeldAndPairsAreTrainingPairs) {
  const Csr train = skewed_csr(40, 200, 2);
  TrainingIndex index(train.view());
  for (NegativeSampling mode : {NegativeSampling::Uniform, NegativeSampling::Popularity}) {
    Rng rng(5, 0);
    TripleSampler<NoRows> sampler(index, mode, rng, NoRows{});
    for (int s = 0; s < 20000; ++s) {
      const Triple t = sampler.next();
      ASSERT_TRUE(t.ok);
      ASSERT_TRUE(train.view().contains(t.u, t.i));
      ASSERT_FALSE(train.view().contains(t.u, t.j));
    }
  }
}

TEST(TripleSampler, UniformNegativesAreUniformAndPopularityNegativesFollowPopularity) {
  // One user holding item 0 only; the other users make item popularity 1 : 2 : ... : 9 for items
  // 1..9. For user 0, uniform negatives are uniform over items 1..9 and popularity negatives are
  // proportional to popularity (the user's own item is rejected and redrawn).
  std::vector<std::int32_t> rows{0}, cols{0};
  for (int i = 1; i < 10; ++i)
    for (int u = 1; u <= i; ++u) {
      rows.push_back(u);
      cols.push_back(i);
    }
  const Csr train = Csr::from_pairs(10, 10, rows, cols);
  TrainingIndex index(train.view());
  for (NegativeSampling mode : {NegativeSampling::Uniform, NegativeSampling::Popularity}) {
    Rng rng(11, 0);
    TripleSampler<NoRows> sampler(index, mode, rng, NoRows{});
    std::vector<double> counts(10, 0.0);
    double n = 0;
    for (int s = 0; s < 400000; ++s) {
      const Triple t = sampler.next();
      if (t.u != 0) continue;
      counts[static_cast<size_t>(t.j)] += 1;
      n += 1;
    }
    ASSERT_GT(n, 5000);
    EXPECT_EQ(counts[0], 0.0);
    for (int i = 1; i < 10; ++i) {
      const double expected = mode == NegativeSampling::Uniform ? 1.0 / 9 : i / 45.0;
      EXPECT_NEAR(counts[static_cast<size_t>(i)] / n, expected, 4 * std::sqrt(expected / n)) << "item " << i;
    }
  }
}

TEST(TripleSampler, TheStreamIsAFunctionOfTheGeneratorOnly) {
  const Csr train = skewed_csr(30, 100, 3);
  TrainingIndex index(train.view());
  Rng a(9, 2), b(9, 2);
  int rows_prefetched = 0;
  auto counting = [&](std::int32_t, std::int32_t, std::int32_t) { ++rows_prefetched; };
  TripleSampler<NoRows> first(index, NegativeSampling::Uniform, a, NoRows{});
  TripleSampler<decltype(counting)> second(index, NegativeSampling::Uniform, b, counting);
  for (int s = 0; s < 1000; ++s) {
    const Triple x = first.next(), y = second.next();
    ASSERT_EQ(x.u, y.u);
    ASSERT_EQ(x.i, y.i);
    ASSERT_EQ(x.j, y.j);
  }
  EXPECT_GE(rows_prefetched, 1000);  // every triple's rows were handed to the prefetcher
}

TEST(TripleSampler, UsersWhoHoldEveryItemGiveSkippedTriples) {
  const Csr train = Csr::from_pairs(2, 3, {0, 0, 0, 1}, {0, 1, 2, 0});
  TrainingIndex index(train.view());
  Rng rng(1, 0);
  TripleSampler<NoRows> sampler(index, NegativeSampling::Popularity, rng, NoRows{});
  int skipped = 0;
  for (int s = 0; s < 400; ++s) {
    const Triple t = sampler.next();
    if (t.u == 0) {
      EXPECT_FALSE(t.ok);
      ++skipped;
    } else {
      EXPECT_TRUE(t.ok);
      EXPECT_NE(t.j, 0);
    }
  }
  EXPECT_GT(skipped, 0);
}

TEST(LogSigmoidLoss, EqualsTheSumOfSoftplusOverManySamplesAndExtremeScores) {
  kernels::LogSigmoidLoss sum;
  double reference = 0.0;
  Rng rng(4, 0);
  for (int s = 0; s < 100000; ++s) {  // far past the product's flush point (~900 samples)
    const float x = static_cast<float>(40.0 * (rng.uniform_double() - 0.5) * (s % 7 == 0 ? 10.0 : 1.0));
    float a;
    const float g = kernels::bpr_factor(x, a);
    ASSERT_NEAR(g, 1.0 / (1.0 + std::exp(static_cast<double>(x))), 1e-6);
    sum.add(x, a);
    reference += std::log1p(std::exp(-std::fabs(static_cast<double>(x)))) + std::max(-static_cast<double>(x), 0.0);
  }
  EXPECT_NEAR(sum.value(), reference, 1e-6 * reference);
}
