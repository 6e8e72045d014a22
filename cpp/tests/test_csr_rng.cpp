#include <gtest/gtest.h>

#include "advrec/csr.hpp"
#include "advrec/rng.hpp"

#include <set>
#include <vector>

using namespace advrec;

TEST(Csr, FromPairsSortsAndMergesDuplicates) {
  Csr c = Csr::from_pairs(3, 5, {0, 0, 2, 0, 2}, {4, 1, 3, 1, 0});
  EXPECT_EQ(c.indptr, (std::vector<std::int64_t>{0, 2, 2, 4}));
  EXPECT_EQ(c.indices, (std::vector<std::int32_t>{1, 4, 0, 3}));
  EXPECT_NO_THROW(c.view().validate("c"));
}

TEST(Csr, ContainsMatchesSetOnShortAndLongRows) {
  std::vector<std::int32_t> rows, cols;
  for (int k = 0; k < 100; k += 3) { rows.push_back(0); cols.push_back(k); }  // long row: binary search
  for (int k = 0; k < 10; k += 2) { rows.push_back(1); cols.push_back(k); }   // short row: linear scan
  Csr c = Csr::from_pairs(3, 100, rows, cols);
  for (int k = 0; k < 100; ++k) {
    EXPECT_EQ(c.view().contains(0, k), k % 3 == 0) << k;
    EXPECT_EQ(c.view().contains(1, k), k < 10 && k % 2 == 0) << k;
    EXPECT_FALSE(c.view().contains(2, k));
  }
}

TEST(Csr, ValidateRejectsUnsortedOutOfRangeAndBadIndptr) {
  std::vector<std::int64_t> indptr{0, 2};
  std::vector<std::int32_t> unsorted{3, 1};
  EXPECT_THROW((CsrView{1, 5, indptr.data(), unsorted.data()}.validate("x")), InvalidArgument);
  std::vector<std::int32_t> out_of_range{1, 7};
  EXPECT_THROW((CsrView{1, 5, indptr.data(), out_of_range.data()}.validate("x")), InvalidArgument);
  std::vector<std::int32_t> negative{-1, 2};
  EXPECT_THROW((CsrView{1, 5, indptr.data(), negative.data()}.validate("x")), InvalidArgument);
  std::vector<std::int64_t> decreasing{0, 2, 1};
  std::vector<std::int32_t> ok{1, 2};
  EXPECT_THROW((CsrView{2, 5, decreasing.data(), ok.data()}.validate("x")), InvalidArgument);
}

TEST(Csr, EntryRows) {
  Csr c = Csr::from_pairs(3, 4, {2, 0, 2}, {1, 3, 2});
  EXPECT_EQ(entry_rows(c.view()), (std::vector<std::int32_t>{0, 2, 2}));
}

TEST(Rng, SameSeedAndStreamReproduce) {
  Rng a(42, 3), b(42, 3);
  for (int k = 0; k < 1000; ++k) ASSERT_EQ(a.next(), b.next());
}

TEST(Rng, StreamsAndSeedsDiffer) {
  Rng a(42, 0), b(42, 1), c(43, 0);
  int same_ab = 0, same_ac = 0;
  for (int k = 0; k < 1000; ++k) {
    const auto x = a.next();
    same_ab += x == b.next();
    same_ac += x == c.next();
  }
  EXPECT_EQ(same_ab, 0);
  EXPECT_EQ(same_ac, 0);
}

TEST(Rng, UniformIsInRangeAndRoughlyFlat) {
  Rng r(7, 0);
  std::vector<int> counts(10, 0);
  const int n = 100000;
  for (int k = 0; k < n; ++k) {
    const auto v = r.uniform(10);
    ASSERT_LT(v, 10u);
    ++counts[v];
  }
  for (int c : counts) EXPECT_NEAR(c, n / 10, 600);  // ~6 sigma
  for (int k = 0; k < 1000; ++k) {
    const float f = r.uniform_float();
    ASSERT_GE(f, 0.0f);
    ASSERT_LT(f, 1.0f);
  }
}

TEST(Rng, NormalHasUnitMoments) {
  Rng r(11, 0);
  double s = 0, s2 = 0;
  const int n = 200000;
  for (int k = 0; k < n; ++k) {
    const double v = r.normal();
    s += v;
    s2 += v * v;
  }
  EXPECT_NEAR(s / n, 0.0, 0.01);
  EXPECT_NEAR(s2 / n, 1.0, 0.02);
}
