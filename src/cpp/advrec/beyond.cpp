// Beyond-accuracy metrics of ranked lists. See beyond.hpp for the contract and the README's metric
// table for the formulas and their sources.
#include "advrec/beyond.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

namespace advrec {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Rank discount of the 0-based position r (the NDCG discount), used by EPC and EFD.
inline double discount(Index r) { return 1.0 / std::log2(static_cast<double>(r) + 2.0); }

// |a - b| / (a + b): the coefficient of variation (population std / mean) of two rates, which is
// how PopREO and PopRSP compare the head's rate with the tail's. NaN when both are zero.
inline double two_group_disparity(double a, double b) { return a + b > 0.0 ? std::abs(a - b) / (a + b) : kNaN; }

inline double ratio_or_nan(Index num, Index den) {
  return den > 0 ? static_cast<double>(num) / static_cast<double>(den) : kNaN;
}

}  // namespace

ItemStats item_stats(const CsrView& train, double head_share) {
  require(std::isfinite(head_share) && head_share > 0.0 && head_share < 1.0,
          "head_share (the share of training interactions held by the short head) must be in (0, 1), got " +
              std::to_string(head_share));
  ItemStats s;
  s.head_share = head_share;
  s.popularity.assign(static_cast<std::size_t>(train.n_cols), 0);
  for (std::int32_t u = 0; u < train.n_rows; ++u) {
    s.users_with_data += train.row_size(u) > 0;
    for (const std::int32_t* it = train.row_data(u); it != train.row_data(u) + train.row_size(u); ++it) ++s.popularity[*it];
  }
  s.interactions = train.nnz();
  require(s.interactions > 0, "the training data has no interactions: popularity-based metrics are undefined");
  std::vector<std::int32_t> order(static_cast<std::size_t>(train.n_cols));
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](std::int32_t a, std::int32_t b) { return s.popularity[a] > s.popularity[b]; });
  s.long_tail.assign(static_cast<std::size_t>(train.n_cols), 1);
  // Take items until the head holds head_share of the interactions; the item that crosses the
  // boundary belongs to the head (so the head is never empty).
  const double target = head_share * static_cast<double>(s.interactions);
  Index held = 0;
  for (std::int32_t item : order) {
    if (static_cast<double>(held) >= target) break;
    s.long_tail[item] = 0;
    held += s.popularity[item];
    ++s.n_head;
  }
  return s;
}

bool ListSpec::enable(const std::string& name) {
  bool* flags[] = {&epc, &efd, &arp, &aplt, &aclt, &ild, &coverage, &gini, &entropy, &pop_reo, &pop_rsp};
  std::size_t i = 0;
  for (const auto* names : {&user_list_metric_names(), &aggregate_list_metric_names()}) {
    for (const auto& n : *names) {
      if (n == name) {
        *flags[i] = true;
        return true;
      }
      ++i;
    }
  }
  return false;
}

std::int32_t ListSpec::max_k() const {
  std::int32_t m = 0;
  for (auto k : ks) m = std::max(m, k);
  return m;
}

void ListSpec::check() const {
  require(!ks.empty(), "list metrics need at least one cut-off k");
  for (auto k : ks) require(k > 0, "every k must be positive");
  require(items != nullptr, "list metrics need item statistics from the training data");
  require(!ild || (unit_features != nullptr && feature_dim > 0), "intra-list diversity (ild) needs item features");
}

void ListTotals::reset(std::size_t n_ks, std::int32_t items) {
  n_items = items;
  exposure.assign(n_ks * static_cast<std::size_t>(items), 0);
  recommended_head.assign(n_ks, 0);
  recommended_tail.assign(n_ks, 0);
  hits_head.assign(n_ks, 0);
  hits_tail.assign(n_ks, 0);
  candidates_head = candidates_tail = test_head = test_tail = users = 0;
}

void ListTotals::add(const ListTotals& o) {
  require(o.n_items == n_items && o.exposure.size() == exposure.size(), "list totals of different shapes");
  for (std::size_t i = 0; i < exposure.size(); ++i) exposure[i] += o.exposure[i];
  for (std::size_t j = 0; j < recommended_head.size(); ++j) {
    recommended_head[j] += o.recommended_head[j];
    recommended_tail[j] += o.recommended_tail[j];
    hits_head[j] += o.hits_head[j];
    hits_tail[j] += o.hits_tail[j];
  }
  candidates_head += o.candidates_head;
  candidates_tail += o.candidates_tail;
  test_head += o.test_head;
  test_tail += o.test_tail;
  users += o.users;
}

void list_metrics(const std::int32_t* ids, std::int32_t length, std::int32_t user, const CsrView& train,
                  const CsrView& test, const ListSpec& spec, double* out, ListTotals& totals) {
  const ItemStats& items = *spec.items;
  const std::int32_t n_items = items.n_items();
  // The valid prefix: padding (-1) only ever trails.
  std::int32_t n = 0;
  while (n < length && ids[n] >= 0) {
    require(ids[n] < n_items, "recommended item id " + std::to_string(ids[n]) + " out of range");
    ++n;
  }
  for (std::int32_t r = n; r < length; ++r) require(ids[r] < 0, "a list's padding (-1) must come after its items");

  // Prefix sums over positions: entry m sums positions [0, m).
  const std::size_t len = static_cast<std::size_t>(n) + 1;
  std::vector<double> disc(len, 0.0), epc(len, 0.0), efd(len, 0.0), pop(len, 0.0), ild(len, 0.0);
  std::vector<Index> tail(len, 0), hit_head(len, 0), hit_tail(len, 0);
  const double users_with_data = static_cast<double>(items.users_with_data);
  const double interactions = static_cast<double>(items.interactions);
  for (std::int32_t r = 0; r < n; ++r) {
    const std::int32_t i = ids[r];
    const double d = discount(r);
    const bool relevant = test.contains(user, i);
    const Index p = items.popularity[i];
    const bool in_tail = items.long_tail[i] != 0;
    disc[r + 1] = disc[r] + d;
    // EPC: novelty 1 - p(seen | i); EFD: novelty -log2 p(i | seen), an unseen item counted as seen once.
    epc[r + 1] = epc[r] + (relevant ? d * (1.0 - static_cast<double>(p) / users_with_data) : 0.0);
    efd[r + 1] = efd[r] + (relevant ? d * -std::log2(static_cast<double>(std::max<Index>(p, 1)) / interactions) : 0.0);
    pop[r + 1] = pop[r] + static_cast<double>(p);
    tail[r + 1] = tail[r] + in_tail;
    hit_head[r + 1] = hit_head[r] + (relevant && !in_tail);
    hit_tail[r + 1] = hit_tail[r] + (relevant && in_tail);
  }
  if (spec.ild && n > 1) {
    // ild[m] = sum over pairs a < b < m of the cosine distance 1 - cos(a, b).
    const std::int32_t upto = std::min(n, spec.max_k());
    for (std::int32_t b = 1; b < upto; ++b) {
      const float* vb = spec.unit_features + static_cast<Index>(ids[b]) * spec.feature_dim;
      double add = 0.0;
      for (std::int32_t a = 0; a < b; ++a) {
        const float* va = spec.unit_features + static_cast<Index>(ids[a]) * spec.feature_dim;
        double dot = 0.0;
        for (std::int32_t d = 0; d < spec.feature_dim; ++d) dot += static_cast<double>(va[d]) * vb[d];
        add += 1.0 - dot;
      }
      ild[b + 1] = ild[b] + add;
    }
  }

  int col = 0;
  for (std::size_t j = 0; j < spec.ks.size(); ++j) {
    const std::int32_t m = std::min(spec.ks[j], n);
    if (spec.epc) out[col++] = m ? epc[m] / disc[m] : kNaN;
    if (spec.efd) out[col++] = m ? efd[m] / disc[m] : kNaN;
    if (spec.arp) out[col++] = m ? pop[m] / m : kNaN;
    if (spec.aplt) out[col++] = m ? static_cast<double>(tail[m]) / m : kNaN;
    if (spec.aclt) out[col++] = static_cast<double>(tail[m]);
    if (spec.ild) out[col++] = m > 1 ? ild[m] / (0.5 * m * (m - 1.0)) : kNaN;
    Index* exposure = totals.exposure.data() + j * static_cast<std::size_t>(n_items);
    for (std::int32_t r = 0; r < m; ++r) ++exposure[ids[r]];
    totals.recommended_tail[j] += tail[m];
    totals.recommended_head[j] += m - tail[m];
    totals.hits_head[j] += hit_head[m];
    totals.hits_tail[j] += hit_tail[m];
  }
  // Candidates: items not in the user's training row; test items: those of its test row not in
  // training (the full protocol guarantees there are none, hand-made lists may not).
  Index train_head = 0, train_tail = 0;
  for (const std::int32_t* it = train.row_data(user); it != train.row_data(user) + train.row_size(user); ++it) {
    (items.long_tail[*it] ? train_tail : train_head) += 1;
  }
  totals.candidates_head += items.n_head - train_head;
  totals.candidates_tail += (static_cast<Index>(n_items) - items.n_head) - train_tail;
  for (const std::int32_t* it = test.row_data(user); it != test.row_data(user) + test.row_size(user); ++it) {
    if (train.contains(user, *it)) continue;
    (items.long_tail[*it] ? totals.test_tail : totals.test_head) += 1;
  }
  ++totals.users;
}

void summarize_lists(const ListTotals& totals, const ListSpec& spec, double* out) {
  const std::int32_t n = totals.n_items;
  std::vector<Index> sorted(static_cast<std::size_t>(n));
  int col = 0;
  for (std::size_t j = 0; j < spec.ks.size(); ++j) {
    const Index* exposure = totals.exposure.data() + j * static_cast<std::size_t>(n);
    const Index total = std::accumulate(exposure, exposure + n, Index{0});
    if (spec.coverage) {
      Index covered = 0;
      for (std::int32_t i = 0; i < n; ++i) covered += exposure[i] > 0;
      out[col++] = n ? static_cast<double>(covered) / n : kNaN;
    }
    if (spec.gini) {
      // G = sum_j (2j - n - 1) x_(j) / ((n - 1) sum x), x ascending, j = 1..n: 0 when every item is
      // recommended equally often, 1 when one item takes all exposure.
      if (total == 0) {
        out[col++] = kNaN;
      } else if (n == 1) {
        out[col++] = 0.0;
      } else {
        std::copy(exposure, exposure + n, sorted.begin());
        std::sort(sorted.begin(), sorted.end());
        double acc = 0.0;
        for (std::int32_t i = 0; i < n; ++i) acc += (2.0 * (i + 1) - n - 1.0) * static_cast<double>(sorted[i]);
        out[col++] = acc / ((n - 1.0) * static_cast<double>(total));
      }
    }
    if (spec.entropy) {
      double h = 0.0;
      for (std::int32_t i = 0; i < n; ++i) {
        if (exposure[i] == 0) continue;
        const double p = static_cast<double>(exposure[i]) / static_cast<double>(total);
        h -= p * std::log2(p);
      }
      out[col++] = total ? h : kNaN;
    }
    if (spec.pop_reo) {
      out[col++] = two_group_disparity(ratio_or_nan(totals.hits_head[j], totals.test_head),
                                       ratio_or_nan(totals.hits_tail[j], totals.test_tail));
    }
    if (spec.pop_rsp) {
      out[col++] = two_group_disparity(ratio_or_nan(totals.recommended_head[j], totals.candidates_head),
                                       ratio_or_nan(totals.recommended_tail[j], totals.candidates_tail));
    }
  }
}

std::vector<float> unit_rows(const float* features, std::int32_t n, std::int32_t dim) {
  require(n >= 0 && dim > 0, "item features must have at least one column");
  std::vector<float> out(features, features + static_cast<Index>(n) * dim);
  for (std::int32_t i = 0; i < n; ++i) {
    float* row = out.data() + static_cast<Index>(i) * dim;
    double norm = 0.0;
    for (std::int32_t d = 0; d < dim; ++d) {
      require(std::isfinite(row[d]), "item features contain NaN or infinite values (item " + std::to_string(i) + ")");
      norm += static_cast<double>(row[d]) * row[d];
    }
    if (norm == 0.0) continue;
    const double scale = 1.0 / std::sqrt(norm);
    for (std::int32_t d = 0; d < dim; ++d) row[d] = static_cast<float>(row[d] * scale);
  }
  return out;
}

}  // namespace advrec
