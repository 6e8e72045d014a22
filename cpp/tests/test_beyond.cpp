// Beyond-accuracy list metrics: hand-computed answers, and the evaluator's single-pass lists
// against top_k followed by list_metrics.
#include "advrec/beyond.hpp"
#include "advrec/eval.hpp"
#include "advrec/rng.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <set>

using namespace advrec;

namespace {

// 3 users, 4 items. Popularity: item 0 -> 3, items 1, 2 -> 1, item 3 -> 0 (5 interactions).
Csr hand_train() { return Csr::from_pairs(3, 4, {0, 0, 1, 2, 2}, {0, 1, 0, 0, 2}); }
Csr hand_test() { return Csr::from_pairs(3, 4, {0, 1, 1, 2}, {2, 1, 3, 3}); }
const std::vector<std::int32_t> kHandLists{2, 3, 3, 1, 1, 3};  // 3 users × K = 2, best first

ListSpec all_metrics(const ItemStats& items, std::vector<std::int32_t> ks) {
  ListSpec spec;
  spec.ks = std::move(ks);
  for (const auto* names : {&user_list_metric_names(), &aggregate_list_metric_names()})
    for (const auto& n : *names)
      if (n != "ild") EXPECT_TRUE(spec.enable(n));
  spec.items = &items;
  return spec;
}

}  // namespace

TEST(ItemStats, HeadIsTheSmallestPopularPrefixHoldingTheShareWithTiesToTheLowerId) {
  const Csr train = hand_train();
  const ItemStats s = item_stats(train.view(), 0.8);
  EXPECT_EQ(s.popularity, (std::vector<Index>{3, 1, 1, 0}));
  EXPECT_EQ(s.long_tail, (std::vector<char>{0, 0, 1, 1}));  // 3 < 4, then 3 + 1 >= 4: item 1 before item 2
  EXPECT_EQ(s.n_head, 2);
  EXPECT_EQ(s.users_with_data, 3);
  EXPECT_EQ(s.interactions, 5);
  const ItemStats half = item_stats(train.view(), 0.5);  // 3 >= 2.5 at once
  EXPECT_EQ(half.long_tail, (std::vector<char>{0, 1, 1, 1}));
}

TEST(ItemStats, RejectsAHeadShareOutsideTheOpenUnitInterval) {
  const Csr train = hand_train();
  for (double bad : {0.0, 1.0, -0.5, 2.0, std::numeric_limits<double>::quiet_NaN()}) {
    EXPECT_THROW(item_stats(train.view(), bad), InvalidArgument) << bad;
  }
  const Csr empty = Csr::from_pairs(2, 3, {}, {});
  EXPECT_THROW(item_stats(empty.view(), 0.8), InvalidArgument);
}

TEST(ListMetrics, HandWrittenListsGiveTheHandComputedValues) {
  const Csr train = hand_train(), test = hand_test();
  const ItemStats items = item_stats(train.view(), 0.8);
  const ListSpec spec = all_metrics(items, {1, 2});
  ASSERT_EQ(spec.user_columns(), 10);
  ListTotals totals;
  totals.reset(2, 4);
  std::vector<double> out(3 * 10);
  for (std::int32_t u = 0; u < 3; ++u) {
    list_metrics(kHandLists.data() + 2 * u, 2, u, train.view(), test.view(), spec, out.data() + 10 * u, totals);
  }
  const double d1 = 1.0 / std::log2(3.0), l5 = std::log2(5.0);
  // columns per k: epc, efd, arp, aplt, aclt
  const double want[3][10] = {
      {2.0 / 3, l5, 1, 1, 1, (2.0 / 3) / (1 + d1), l5 / (1 + d1), 0.5, 1, 2},
      {1, l5, 0, 1, 1, (1 + d1 * 2 / 3) / (1 + d1), l5, 0.5, 0.5, 1},
      {0, 0, 1, 0, 0, d1 / (1 + d1), d1 * l5 / (1 + d1), 0.5, 0.5, 1},
  };
  for (int u = 0; u < 3; ++u)
    for (int c = 0; c < 10; ++c) EXPECT_NEAR(out[10 * u + c], want[u][c], 1e-12) << "user " << u << " column " << c;

  std::vector<double> agg(spec.aggregate_columns());
  summarize_lists(totals, spec, agg.data());
  // per k: coverage, gini, entropy, pop_reo, pop_rsp
  const double entropy2 = -(std::log2(1.0 / 6) / 6 + std::log2(2.0 / 6) * 2 / 6 + std::log2(3.0 / 6) * 3 / 6);
  const double want_agg[10] = {0.75, 1.0 / 3, std::log2(3.0), 1.0, 1.0 / 9, 0.75, 10.0 / 18, entropy2, 0.0, 0.2 / 1.8};
  for (int c = 0; c < 10; ++c) EXPECT_NEAR(agg[c], want_agg[c], 1e-12) << "aggregate column " << c;
}

TEST(ListMetrics, IntraListDiversityIsTheMeanPairwiseCosineDistanceAndZeroRowsAreOrthogonal) {
  const Csr train = hand_train(), test = hand_test();
  const ItemStats items = item_stats(train.view(), 0.8);
  const std::vector<float> raw{0, 0, 3, 0, 0, 2, 1, 1};  // item 0 is a zero row
  const std::vector<float> unit = unit_rows(raw.data(), 4, 2);
  ListSpec spec;
  spec.ks = {2, 3};
  spec.ild = true;
  spec.items = &items;
  spec.unit_features = unit.data();
  spec.feature_dim = 2;
  ListTotals totals;
  totals.reset(2, 4);
  const std::int32_t list[3] = {1, 2, 0};
  double out[2];
  list_metrics(list, 3, 1, train.view(), test.view(), spec, out, totals);
  EXPECT_NEAR(out[0], 1.0, 1e-7);        // items 1 and 2 are orthogonal
  EXPECT_NEAR(out[1], 3.0 / 3, 1e-7);    // and the zero row is orthogonal to both
  const std::int32_t single[3] = {3, -1, -1};
  list_metrics(single, 3, 1, train.view(), test.view(), spec, out, totals);
  EXPECT_TRUE(std::isnan(out[0]));  // one item: no pair
}

TEST(ListMetrics, ExposureExtremesGiveGiniOneAndZero) {
  const Csr train = Csr::from_pairs(4, 4, {0, 1, 2, 3}, {0, 1, 2, 3});
  const Csr test = Csr::from_pairs(4, 4, {}, {});
  const ItemStats items = item_stats(train.view(), 0.5);
  ListSpec spec;
  spec.ks = {1};
  spec.gini = spec.entropy = spec.coverage = true;
  spec.items = &items;
  double agg[3];
  ListTotals same, spread;
  same.reset(1, 4);
  spread.reset(1, 4);
  for (std::int32_t u = 0; u < 4; ++u) {
    const std::int32_t one = 3, own = u;
    list_metrics(&one, 1, u, train.view(), test.view(), spec, nullptr, same);
    list_metrics(&own, 1, u, train.view(), test.view(), spec, nullptr, spread);
  }
  summarize_lists(same, spec, agg);
  EXPECT_DOUBLE_EQ(agg[0], 0.25);
  EXPECT_DOUBLE_EQ(agg[1], 1.0);
  EXPECT_DOUBLE_EQ(agg[2], 0.0);
  summarize_lists(spread, spec, agg);
  EXPECT_DOUBLE_EQ(agg[0], 1.0);
  EXPECT_DOUBLE_EQ(agg[1], 0.0);
  EXPECT_DOUBLE_EQ(agg[2], 2.0);
}

TEST(ListMetrics, RejectsOutOfRangeIdsAndPaddingBeforeItems) {
  const Csr train = hand_train(), test = hand_test();
  const ItemStats items = item_stats(train.view(), 0.8);
  const ListSpec spec = all_metrics(items, {2});
  ListTotals totals;
  totals.reset(1, 4);
  double out[5];
  const std::int32_t out_of_range[2] = {1, 4}, early_padding[2] = {-1, 2};
  EXPECT_THROW(list_metrics(out_of_range, 2, 0, train.view(), test.view(), spec, out, totals), InvalidArgument);
  EXPECT_THROW(list_metrics(early_padding, 2, 0, train.view(), test.view(), spec, out, totals), InvalidArgument);
}

TEST(EvaluateFull, ListsFromTheScoringPassEqualTopKThenListMetricsAndLeaveAccuracyUnchanged) {
  const std::int32_t n_users = 37, n_items = 300, dim = 6;
  Rng rng(11, 0);
  std::vector<float> U(n_users * dim), V(n_items * dim);
  // Coarse values: many exact ties, which both paths must break the same way (lower id first).
  for (auto& x : U) x = static_cast<float>(std::round(rng.normal() * 2.0) / 4.0);
  for (auto& x : V) x = static_cast<float>(std::round(rng.normal() * 2.0) / 4.0);
  std::vector<std::int32_t> tr_u, tr_i, te_u, te_i;
  for (std::int32_t u = 0; u < n_users; ++u) {
    std::set<std::int32_t> used;
    while (used.size() < 9) used.insert(static_cast<std::int32_t>(rng.uniform(u % 2 ? 40 : n_items)));  // skewed
    int i = 0;
    for (auto item : used) {
      const bool in_train = i++ < 6;
      (in_train ? tr_u : te_u).push_back(u);
      (in_train ? tr_i : te_i).push_back(item);
    }
  }
  const Csr train = Csr::from_pairs(n_users, n_items, tr_u, tr_i);
  const Csr test = Csr::from_pairs(n_users, n_items, te_u, te_i);
  std::vector<std::int32_t> users(n_users);
  for (std::int32_t u = 0; u < n_users; ++u) users[u] = u;
  const FactorView Uv{U.data(), n_users, dim}, Vv{V.data(), n_items, dim};

  const ItemStats items = item_stats(train.view(), 0.8);
  const ListSpec spec = all_metrics(items, {5, 20});
  MetricSpec acc;
  acc.ks = {5, 20};
  acc.recall = true;
  for (bool with_accuracy : {true, false}) {
    const MetricSpec metric_spec = with_accuracy ? acc : MetricSpec{{5, 20}, false, false};
    std::vector<double> out(n_users * metric_spec.columns()), per_user(n_users * spec.user_columns());
    std::vector<std::int32_t> ids(n_users * 20);
    ListTotals totals;
    totals.reset(2, n_items);
    const ListOutput lists{&spec, per_user.data(), &totals, ids.data()};
    evaluate_full(Uv, Vv, train.view(), test.view(), users.data(), metric_spec, out.data(), 2, &lists);

    std::vector<std::int32_t> ref_ids(n_users * 20);
    std::vector<float> ref_scores(n_users * 20);
    const CsrView exclude = train.view();
    top_k(Uv, Vv, 20, &exclude, users.data(), ref_ids.data(), ref_scores.data(), 1);
    EXPECT_EQ(ids, ref_ids);
    std::vector<double> ref_user(per_user.size());
    ListTotals ref_totals;
    ref_totals.reset(2, n_items);
    for (std::int32_t u = 0; u < n_users; ++u) {
      list_metrics(ref_ids.data() + 20 * u, 20, u, train.view(), test.view(), spec,
                   ref_user.data() + u * spec.user_columns(), ref_totals);
    }
    EXPECT_EQ(per_user, ref_user);
    EXPECT_EQ(totals.exposure, ref_totals.exposure);
    EXPECT_EQ(totals.users, n_users);
    if (with_accuracy) {
      std::vector<double> plain(out.size());
      evaluate_full(Uv, Vv, train.view(), test.view(), users.data(), acc, plain.data(), 2);
      EXPECT_EQ(out, plain);
    }
  }
}

TEST(ListTotals, AddingPartsInAnyOrderEqualsAddingAllAtOnce) {
  const Csr train = hand_train(), test = hand_test();
  const ItemStats items = item_stats(train.view(), 0.8);
  const ListSpec spec = all_metrics(items, {1, 2});
  ListTotals all, a, b;
  all.reset(2, 4);
  a.reset(2, 4);
  b.reset(2, 4);
  double out[10];
  for (std::int32_t u = 0; u < 3; ++u) {
    list_metrics(kHandLists.data() + 2 * u, 2, u, train.view(), test.view(), spec, out, all);
    list_metrics(kHandLists.data() + 2 * u, 2, u, train.view(), test.view(), spec, out, u == 1 ? a : b);
  }
  b.add(a);
  std::vector<double> x(10), y(10);
  summarize_lists(all, spec, x.data());
  summarize_lists(b, spec, y.data());
  EXPECT_EQ(x, y);
  ListTotals other;
  other.reset(1, 4);
  EXPECT_THROW(all.add(other), InvalidArgument);
}
