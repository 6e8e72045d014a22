// Beyond-accuracy metrics of ranked top-K lists: exposure (item coverage, Gini, Shannon entropy),
// novelty (EPC, EFD), popularity bias (ARP, APLT, ACLT, PopREO, PopRSP) and intra-list diversity.
//
// They read only the ranked lists, the training data (popularity) and the test data (relevance),
// so the full-ranking evaluator computes them from the top-K lists it selects anyway (eval.hpp),
// and any other source of lists (a hand-written list, another model's recommend()) can use them
// through list_metrics(). The formulas, with their sources, are in the README's metric table.
// No Python here.
#pragma once

#include "advrec/common.hpp"
#include "advrec/csr.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace advrec {

// Names of the metrics, in the order their columns are laid out (for each k, the enabled ones).
// Per-user metrics of one list, averaged over users by the caller:
inline const std::vector<std::string>& user_list_metric_names() {
  static const std::vector<std::string> names{"epc", "efd", "arp", "aplt", "aclt", "ild"};
  return names;
}
// Statistics of the whole set of lists (no per-user value):
inline const std::vector<std::string>& aggregate_list_metric_names() {
  static const std::vector<std::string> names{"coverage", "gini", "entropy", "pop_reo", "pop_rsp"};
  return names;
}

// What the training data says about items. popularity[i] = number of training users who interacted
// with item i (its CSR column count). The short head is the smallest set of most popular items
// that holds at least `head_share` of all training interactions, taken in order of decreasing
// popularity (equal popularity: lower id first); every other item, including items never seen in
// training, is in the long tail.
struct ItemStats {
  std::vector<Index> popularity;
  std::vector<char> long_tail;  // 1 = long tail, 0 = short head
  Index users_with_data = 0;    // training users with at least one item
  Index interactions = 0;       // training interactions (sum of popularity)
  Index n_head = 0;
  double head_share = 0.8;
  std::int32_t n_items() const { return static_cast<std::int32_t>(popularity.size()); }
};

// Throws InvalidArgument unless 0 < head_share < 1 and train has at least one interaction.
ItemStats item_stats(const CsrView& train, double head_share);

// Which list metrics to compute at which cut-offs. Per-user output columns:
// [for each k in ks: epc, efd, arp, aplt, aclt, ild (enabled ones, in this order)];
// aggregate columns: [for each k in ks: coverage, gini, entropy, pop_reo, pop_rsp].
struct ListSpec {
  std::vector<std::int32_t> ks;
  bool epc = false, efd = false, arp = false, aplt = false, aclt = false, ild = false;
  bool coverage = false, gini = false, entropy = false, pop_reo = false, pop_rsp = false;
  const ItemStats* items = nullptr;
  // Intra-list diversity reads unit-norm feature rows (n_items × feature_dim, see unit_rows).
  const float* unit_features = nullptr;
  std::int32_t feature_dim = 0;

  // Turns on the metric of that name; false when the name is not a list metric.
  bool enable(const std::string& name);
  int user_per_k() const { return int(epc) + int(efd) + int(arp) + int(aplt) + int(aclt) + int(ild); }
  int aggregate_per_k() const { return int(coverage) + int(gini) + int(entropy) + int(pop_reo) + int(pop_rsp); }
  int user_columns() const { return user_per_k() * static_cast<int>(ks.size()); }
  int aggregate_columns() const { return aggregate_per_k() * static_cast<int>(ks.size()); }
  bool any() const { return user_per_k() + aggregate_per_k() > 0; }
  std::int32_t max_k() const;
  // Throws InvalidArgument when the spec cannot be computed (no item stats, ild without features, bad k).
  void check() const;
};

// Everything the aggregate metrics need, summed over users. add() is associative and commutative,
// so per-thread and per-batch totals can be merged in any order with identical results.
struct ListTotals {
  std::int32_t n_items = 0;
  std::vector<Index> exposure;  // ks.size() × n_items: times each item appears in a top-k list
  // Per k: recommended items in the head / tail, and recommended test items in the head / tail.
  std::vector<Index> recommended_head, recommended_tail, hits_head, hits_tail;
  // Per user, independent of k: candidate (non-training) items and test items in the head / tail.
  Index candidates_head = 0, candidates_tail = 0, test_head = 0, test_tail = 0;
  Index users = 0;

  void reset(std::size_t n_ks, std::int32_t items);
  void add(const ListTotals& other);
};

// One user's ranked list `ids` (best first; `length` entries of which a trailing run may be -1,
// meaning "no more candidates"): writes its per-user metrics (spec.user_columns() values) to `out`
// and adds its contribution to `totals` (reset for spec.ks and the item count). A metric whose
// list is too short to define it (ild of fewer than two items) is NaN.
void list_metrics(const std::int32_t* ids, std::int32_t length, std::int32_t user, const CsrView& train,
                  const CsrView& test, const ListSpec& spec, double* out, ListTotals& totals);

// The aggregate metrics (spec.aggregate_columns() values) from accumulated totals. Values that are
// undefined (PopREO when a group has no test item, anything over zero users) are NaN.
void summarize_lists(const ListTotals& totals, const ListSpec& spec, double* out);

// Copies n × dim features with every non-zero row scaled to unit L2 norm (zero rows stay zero and
// count as orthogonal to everything in intra-list diversity). Throws on non-finite values.
std::vector<float> unit_rows(const float* features, std::int32_t n, std::int32_t dim);

}  // namespace advrec
