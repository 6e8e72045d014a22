// Ranking evaluation and top-K selection for every dot-product model (score = U · Vᵀ).
//
// Scores are computed block by block (users × item panels) and consumed while they are in cache,
// so nothing of size users × items is ever stored. No Python here.
//
// Exactness: a test item's score is computed by the same arithmetic, in the same order, as the
// score of every item it is compared with (see dot_sequential in eval.cpp; the file is compiled
// without floating-point contraction), so ties are real ties and are broken pessimistically:
// an item scored equal to a test item ranks ahead of it.
#pragma once

#include "advrec/beyond.hpp"
#include "advrec/common.hpp"
#include "advrec/csr.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace advrec {

// Row-major float32 factors: `rows` × `dim`.
struct FactorView {
  const float* data = nullptr;
  std::int32_t rows = 0;
  std::int32_t dim = 0;
  const float* row(std::int32_t r) const { return data + static_cast<Index>(r) * dim; }
};

// Top-k items for each row of U. When `exclude` is given, the items in row exclude_rows[r] of it
// are never returned for U's row r. Ties: lower item id first. Rows with fewer than k candidates
// are padded with id -1 and score -infinity. Outputs are U.rows × k.
void top_k(const FactorView& U, const FactorView& V, std::int32_t k, const CsrView* exclude,
           const std::int32_t* exclude_rows, std::int32_t* out_ids, float* out_scores, int num_threads);

// Which metrics to compute, at which cut-offs. Output columns are laid out as
// [for each k in ks: hr, ndcg, recall, precision, mrr, map (only the enabled ones, in this order)]
// followed by auc when enabled.
struct MetricSpec {
  std::vector<std::int32_t> ks;
  bool hr = true, ndcg = true, recall = false, precision = false, mrr = false, map = false, auc = false;
  int per_k() const { return int(hr) + int(ndcg) + int(recall) + int(precision) + int(mrr) + int(map); }
  int columns() const { return per_k() * static_cast<int>(ks.size()) + int(auc); }
  std::int32_t max_k() const;
  // The spec for metric names ("hr", "ndcg", "recall", "precision", "mrr", "map", "auc") at the
  // cut-offs ks. Throws InvalidArgument for an unknown name, a k <= 0 or nothing to compute.
  // allow_empty: no accuracy column is fine (list metrics computed in the same pass).
  static MetricSpec from_names(const std::vector<std::int32_t>& ks, const std::vector<std::string>& names,
                               bool allow_empty = false);
};

// Where the full-ranking evaluator puts the beyond-accuracy metrics of each user's top-K list (the
// max(spec->ks) best candidates, test items included, ties to the lower id: what recommend()
// returns). Selected in the same scoring pass as the accuracy metrics.
struct ListOutput {
  const ListSpec* spec = nullptr;
  double* per_user = nullptr;       // U.rows × spec->user_columns()
  ListTotals* totals = nullptr;     // added to (reset it for spec->ks and the item count first)
  std::int32_t* top_ids = nullptr;  // optional: U.rows × spec->max_k() ids, -1 padded
};

// Full-ranking protocol: for each evaluated user, every item not in the user's training row is a
// candidate; test items (row users[r] of `test`) are ranked among them. U's row r belongs to
// users[r]. Writes U.rows × spec.columns() values (row-major) into `out` (spec may have no column
// when only list metrics are wanted). Without AUC, only ranks below max(ks) are resolved (top-k
// selection per user); with AUC, every test item's exact rank among all candidates is counted.
// With `lists`, also fills the ListOutput.
void evaluate_full(const FactorView& U, const FactorView& V, const CsrView& train, const CsrView& test,
                   const std::int32_t* users, const MetricSpec& spec, double* out, int num_threads,
                   const ListOutput* lists = nullptr);

// Sampled protocol: each user's test items are ranked among themselves and `n_negatives` given
// candidate items (row r of `negatives`, n_rows = U.rows). Same output layout as evaluate_full.
void evaluate_sampled(const FactorView& U, const FactorView& V, const CsrView& test, const std::int32_t* users,
                      const std::int32_t* negatives, std::int32_t n_negatives, const MetricSpec& spec, double* out,
                      int num_threads);

// Draws, for each users[r], n_negatives distinct items in neither its train nor its test row,
// uniformly or (when item_weights is given, n_items long, non-negative) proportionally to the
// weights. Deterministic for a seed, independent of num_threads (one stream per user).
// Throws InvalidArgument when a user has fewer eligible items than asked for.
void sample_negatives(const CsrView& train, const CsrView& test, const std::int32_t* users, std::int32_t n_users,
                      std::int32_t n_negatives, std::uint64_t seed, const double* item_weights, std::int32_t* out,
                      int num_threads);

// Rank-based metrics of one user, from 0-based pessimistic ranks of its test items among all
// candidates (ranks >= max_k may be reported as any value >= max_k when AUC is off), and, for AUC,
// each test item's number of strictly lower-scored negatives out of n_negatives. Exposed for tests.
void user_metrics(const std::vector<Index>& ranks, const std::vector<Index>& lower_negatives, Index n_negatives,
                  const MetricSpec& spec, double* out);

// ---- models that are not dot products (NeuMF): the caller supplies the scores --------------------
// Full ranking from a block of scores: row r of `scores` (n_items values, r < n_rows) holds every
// item's score for users[r]. Same protocol, tie rule and output layout as evaluate_full; every
// rank is exact (the block is scanned once per user).
void evaluate_full_scores(const float* scores, Index n_rows, std::int32_t n_items, const CsrView& train,
                          const CsrView& test, const std::int32_t* users, const MetricSpec& spec, double* out,
                          int num_threads);

// Sampled protocol from given scores: row r has n_negatives negative scores (row-major) and the
// scores of users[r]'s test items at test_scores[test_offsets[r] .. test_offsets[r + 1]). Same
// output layout as evaluate_sampled.
void evaluate_sampled_scores(const float* negative_scores, Index n_rows, std::int32_t n_negatives,
                             const float* test_scores, const Index* test_offsets, const MetricSpec& spec, double* out,
                             int num_threads);

}  // namespace advrec
