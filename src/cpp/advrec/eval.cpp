// Ranking evaluation and top-K selection. See eval.hpp for the contract.
//
// This file is compiled with -ffp-contract=off (CMakeLists.txt): every score, whether computed by
// the blocked kernel or by dot_sequential, is the same sequence of multiplies and adds over the
// factor dimension, so a test item's score equals, bit for bit, the value it is compared against.
#include "advrec/eval.hpp"

#include "advrec/rng.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <utility>

namespace advrec {
namespace {

// Items per panel: the unit of the scoring loop and of pruning. A panel of packed factors
// (dim × kPanel floats, 32 KB at dim 64) stays in L2 while every tile of a user block is scored
// against it, and a tile's scores (kUsers × kPanel) stay in L1.
constexpr int kPanel = 128;
// Register block: kUsers user rows × kLanes item columns (two vector registers per user row).
// Without AVX-512 there are 16 vector registers: 6 × 2 accumulators + 2 item vectors + 1
// broadcast + 1 product = 16 (no FMA: the file is compiled without contraction, so every product
// needs its own register before the add). 4 × 2 left the loads, not the arithmetic, as the limit.
#if defined(__AVX512F__)
constexpr int kUsers = 8;
constexpr int kLanes = 32;
#elif defined(__AVX__)
constexpr int kUsers = 6;
constexpr int kLanes = 16;
#else
constexpr int kUsers = 6;
constexpr int kLanes = 8;
#endif
static_assert(kPanel % kLanes == 0, "panel width must be a multiple of the register block");
// Users scored together against each panel (a multiple of kUsers): the panel is read from memory
// once per block instead of once per tile, so two threads do not compete for L3 bandwidth.
constexpr int kBlockUsers = 8 * kUsers;

constexpr float kNegInf = -std::numeric_limits<float>::infinity();
// Exact ranks (AUC): up to this many test items, count candidates per test score directly.
constexpr std::size_t kDirectCounts = 24;

// The one definition of a score. Same order of operations as each lane of score_panel.
inline float dot_sequential(const float* u, const float* v, int dim) {
  float acc = 0.0f;
  for (int d = 0; d < dim; ++d) acc += u[d] * v[d];
  return acc;
}

inline double norm2(const float* x, int dim) {
  double acc = 0.0;
  for (int d = 0; d < dim; ++d) acc += static_cast<double>(x[d]) * static_cast<double>(x[d]);
  return std::sqrt(acc);
}

// An upper bound of every score dot_sequential(u, v) can return, from the norms (computed in
// double): Cauchy-Schwarz bounds the exact sum by ‖u‖‖v‖, and the float sum of dim rounded
// products exceeds the exact one by at most γ_dim·Σ|u_d v_d| ≤ γ_dim·‖u‖‖v‖ (γ_n ≈ n·2⁻²⁴, taken
// twice for the rounding of the norms themselves), plus dim·2⁻¹⁴⁹ for products that underflow.
// NaN or infinite norms give a bound that prunes nothing (comparisons with NaN are false).
struct ScoreBound {
  double scale = 1.0, floor = 0.0;
  explicit ScoreBound(int dim) : scale(1.0 + 2.0 * dim * 0x1p-24), floor(dim * 0x1p-149) {}
  double operator()(double norm_u, double norm_v) const { return scale * norm_u * norm_v + floor; }
};

// V packed for the scoring loop, items in descending order of norm (ties: lower id first), so
// that a user can stop as soon as the panel's largest possible score falls below what could still
// change its result (pruning; exact, see ScoreBound). Panel p holds the items at positions
// [p*kPanel, (p+1)*kPanel) as kPanel / kLanes strips, each dim rows of kLanes floats, so that the
// register block reads one contiguous stream (zero-padded past the last item).
struct PackedItems {
  std::int32_t n_items = 0;
  int dim = 0;
  std::int32_t n_panels = 0;
  std::vector<float> data;
  std::vector<std::int32_t> ids;       // ids[position]: the item packed at that position
  std::vector<std::int32_t> position;  // position[id]
  std::vector<double> panel_norm;      // the largest item norm in panel p (its first item's)

  const float* panel(std::int32_t p) const { return data.data() + static_cast<Index>(p) * dim * kPanel; }
  std::int32_t panel_begin(std::int32_t p) const { return p * kPanel; }
  std::int32_t panel_size(std::int32_t p) const { return std::min(kPanel, n_items - p * kPanel); }
};

PackedItems pack_items(const FactorView& V, int num_threads) {
  PackedItems packed;
  packed.n_items = V.rows;
  packed.dim = V.dim;
  packed.n_panels = (V.rows + kPanel - 1) / kPanel;
  std::vector<double> norms(static_cast<std::size_t>(V.rows));
#pragma omp parallel for schedule(static) num_threads(num_threads)
  for (std::int32_t i = 0; i < V.rows; ++i) norms[i] = norm2(V.row(i), V.dim);
  // Sort keys: descending norm (key -norm), then ascending id; a NaN norm (key +inf, above every
  // other key) sorts last. A strict order, so the packing does not depend on the thread count.
  std::vector<std::pair<double, std::int32_t>> keys(static_cast<std::size_t>(V.rows));
  for (std::int32_t i = 0; i < V.rows; ++i) keys[i] = {std::isnan(norms[i]) ? std::numeric_limits<double>::infinity() : -norms[i], i};
  std::sort(keys.begin(), keys.end(), [](const auto& a, const auto& b) {
    return a.first < b.first || (a.first == b.first && a.second < b.second);
  });
  packed.ids.resize(static_cast<std::size_t>(V.rows));
  packed.position.resize(static_cast<std::size_t>(V.rows));
  for (std::int32_t pos = 0; pos < V.rows; ++pos) {
    packed.ids[pos] = keys[pos].second;
    packed.position[keys[pos].second] = pos;
  }
  packed.panel_norm.resize(static_cast<std::size_t>(packed.n_panels));
  // With a NaN norm anywhere, no bound is trusted (NaN panel bounds never prune).
  const bool any_nan = V.rows > 0 && std::isnan(norms[packed.ids[V.rows - 1]]);
  for (std::int32_t p = 0; p < packed.n_panels; ++p) {
    packed.panel_norm[p] = any_nan ? std::numeric_limits<double>::quiet_NaN() : norms[packed.ids[p * kPanel]];
  }
  packed.data.assign(static_cast<std::size_t>(packed.n_panels) * V.dim * kPanel, 0.0f);
#pragma omp parallel for schedule(static) num_threads(num_threads)
  for (std::int32_t p = 0; p < packed.n_panels; ++p) {
    float* dst = packed.data.data() + static_cast<Index>(p) * V.dim * kPanel;
    const std::int32_t begin = p * kPanel, size = std::min(kPanel, V.rows - begin);
    for (std::int32_t c = 0; c < size; ++c) {
      const float* src = V.row(packed.ids[begin + c]);
      float* strip = dst + static_cast<Index>(c / kLanes) * V.dim * kLanes + c % kLanes;
      for (int d = 0; d < V.dim; ++d) strip[static_cast<Index>(d) * kLanes] = src[d];
    }
  }
  return packed;
}

// out[r * kPanel + c] = score of user row r against item c of the panel, for kUsers rows (callers
// pad missing rows with a zero vector).
void score_panel(const float* const* user_rows, const float* panel, int dim, float* out) {
  for (int c0 = 0; c0 < kPanel; c0 += kLanes) {
    const float* strip = panel + static_cast<Index>(c0) * dim;
    float acc[kUsers][kLanes];
    for (int r = 0; r < kUsers; ++r)
      for (int c = 0; c < kLanes; ++c) acc[r][c] = 0.0f;
    for (int d = 0; d < dim; ++d) {
      const float* v = strip + static_cast<Index>(d) * kLanes;
      for (int r = 0; r < kUsers; ++r) {
        const float ud = user_rows[r][d];
#pragma omp simd
        for (int c = 0; c < kLanes; ++c) acc[r][c] += ud * v[c];
      }
    }
    for (int r = 0; r < kUsers; ++r)
      for (int c = 0; c < kLanes; ++c) out[r * kPanel + c0 + c] = acc[r][c];
  }
}

// Whether any score of a panel row reaches the threshold: lets the selection skip a whole row
// segment in one vectorised pass when nothing in it can enter the current top-k (the common case
// once the heap is full). An integer OR-reduction, because GCC leaves a float max-reduction scalar.
inline bool any_at_least(const float* row, std::int32_t size, float threshold) {
  int hits = 0;
#pragma omp simd reduction(| : hits)
  for (std::int32_t c = 0; c < size; ++c) hits |= static_cast<int>(row[c] >= threshold);
  return hits != 0;
}

// Sets the scores of the sorted positions in [*cursor, end) that fall into [begin, begin + size)
// to -inf and advances the cursor past them. Positions are sorted and panels visited in order, so
// each list is walked once per user.
inline void mask_sorted(const std::int32_t*& cursor, const std::int32_t* end, std::int32_t begin, std::int32_t size,
                        float* row) {
  while (cursor != end && *cursor < begin + size) {
    if (*cursor >= begin) row[*cursor - begin] = kNegInf;
    ++cursor;
  }
}

// The packed positions of a user's items (a CSR row), ascending: what mask_sorted walks.
void sorted_positions(const std::int32_t* ids, Index n, const PackedItems& items, std::vector<std::int32_t>& out) {
  out.resize(static_cast<std::size_t>(n));
  for (Index j = 0; j < n; ++j) out[j] = items.position[ids[j]];
  std::sort(out.begin(), out.end());
}

// Users of one block: rows [first, first + count) of U, with their norms (for pruning).
struct UserBlock {
  std::int32_t first = 0, count = 0;
  std::vector<double> norms;
};

// The scoring pass of one block of users: panels in order (descending item norm), and for each
// panel every tile of kUsers users whose scores can still matter. `threshold(r)` is the lowest
// score that could still change user r's result (r: index in the block); once a panel's bound
// falls below it, that user is done (bounds only fall and thresholds only rise along the pass, so
// a done user stays done), and the pass ends when every user is. `consume(r, row, begin, size)`
// receives the scores of packed positions [begin, begin + size) for user r; the row is writable
// (masking) and only valid during the call.
template <class Threshold, class Consume>
void scan_block(const FactorView& U, const UserBlock& block, const PackedItems& items, const float* zeros,
                float* scores, Threshold&& threshold, Consume&& consume) {
  const ScoreBound bound(U.dim);
  const std::int32_t n_tiles = (block.count + kUsers - 1) / kUsers;
  for (std::int32_t p = 0; p < items.n_panels; ++p) {
    const std::int32_t begin = items.panel_begin(p), size = items.panel_size(p);
    bool any = false;
    for (std::int32_t t = 0; t < n_tiles; ++t) {
      const std::int32_t first = t * kUsers;
      const int count = static_cast<int>(std::min<std::int32_t>(kUsers, block.count - first));
      bool needed[kUsers];
      bool tile_needed = false;
      for (int r = 0; r < count; ++r) {
        // "Not below" rather than ">=": a NaN bound never prunes.
        needed[r] = !(bound(block.norms[first + r], items.panel_norm[p]) < static_cast<double>(threshold(first + r)));
        tile_needed |= needed[r];
      }
      if (!tile_needed) continue;
      any = true;
      const float* rows[kUsers];
      for (int r = 0; r < kUsers; ++r) rows[r] = r < count ? U.row(block.first + first + r) : zeros;
      score_panel(rows, items.panel(p), U.dim, scores);
      for (int r = 0; r < count; ++r) {
        if (needed[r]) consume(first + r, scores + r * kPanel, begin, size);
      }
    }
    if (!any) break;
  }
}

// Users per block for `rows` users on `threads` threads: kBlockUsers, or fewer so that every
// thread gets a block (a multiple of kUsers, so that only the last tile is partial).
std::int32_t block_users(std::int32_t rows, int threads) {
  const std::int32_t per_thread = (rows + threads - 1) / std::max(threads, 1);
  const std::int32_t rounded = (per_thread + kUsers - 1) / kUsers * kUsers;
  return std::max<std::int32_t>(kUsers, std::min<std::int32_t>(kBlockUsers, rounded));
}

void fill_block(const FactorView& U, std::int32_t first, std::int32_t block_size, UserBlock& block) {
  block.first = first;
  block.count = std::min(block_size, U.rows - first);
  block.norms.resize(static_cast<std::size_t>(block.count));
  for (std::int32_t r = 0; r < block.count; ++r) block.norms[r] = norm2(U.row(first + r), U.dim);
}

void check_factors(const FactorView& U, const FactorView& V) {
  require(U.dim == V.dim, "user and item factors must have the same number of columns");
  require(U.dim > 0, "factors must have at least one column");
  require(U.rows >= 0 && V.rows > 0, "there must be at least one item");
}

// ---- top-k selection ---------------------------------------------------------------------------
struct Scored {
  float score;
  std::int32_t id;
};
// "a ranks ahead of b": higher score, then lower id.
inline bool ahead(const Scored& a, const Scored& b) { return a.score > b.score || (a.score == b.score && a.id < b.id); }

// Keeps the k best (score, id) pairs seen. Candidates that pass the threshold are appended to a
// buffer; when it holds kSlack more than k entries, nth_element keeps the k best and raises the
// threshold to the k-th best score. Per accepted candidate this is an append plus an amortised
// O(1 + k / kSlack) share of the selection, instead of a heap update (the about k·ln(n/k)
// replacements per user were measurable next to the scoring). Exact: the kept set and the final
// order use the same "ahead" order (higher score, then lower id) as a heap would.
class TopKHeap {
 public:
  explicit TopKHeap(std::int32_t k) : k_(k) { buf_.reserve(static_cast<std::size_t>(k) + kSlack); }
  void clear() {
    buf_.clear();
    threshold_ = kNegInf;
  }
  void offer(float score, std::int32_t id) {
    if (score < threshold_) return;
    buf_.push_back({score, id});
    if (static_cast<std::int32_t>(buf_.size()) >= k_ + kSlack) compact();
  }
  // Items scoring below this can never enter (the k-th best score at the last compaction).
  float threshold() const { return threshold_; }
  // The threshold made tight: once k candidates are held, the k-th best of them (pruning needs
  // the exact bar, not the one of the last compaction).
  float settled_threshold() {
    if (static_cast<std::int32_t>(buf_.size()) > k_ ||
        (static_cast<std::int32_t>(buf_.size()) == k_ && threshold_ == kNegInf))
      compact();
    return threshold_;
  }
  void write_sorted(std::int32_t* ids, float* scores) {
    compact();
    std::sort(buf_.begin(), buf_.end(), ahead);
    std::int32_t i = 0;
    for (; i < static_cast<std::int32_t>(buf_.size()); ++i) {
      ids[i] = buf_[i].id;
      scores[i] = buf_[i].score;
    }
    for (; i < k_; ++i) {
      ids[i] = -1;
      scores[i] = kNegInf;
    }
  }

 private:
  static constexpr std::int32_t kSlack = 128;
  void compact() {
    if (static_cast<std::int32_t>(buf_.size()) < k_) return;
    std::nth_element(buf_.begin(), buf_.begin() + (k_ - 1), buf_.end(), ahead);
    buf_.resize(static_cast<std::size_t>(k_));
    threshold_ = buf_[k_ - 1].score;
  }
  std::int32_t k_;
  float threshold_ = kNegInf;
  std::vector<Scored> buf_;
};

// Offers the scores of one panel row (packed positions begin .. begin + size, item ids[position])
// to the heap, skipping the row in one vectorised test when nothing in it can enter.
inline void offer_row(TopKHeap& heap, const float* row, const std::int32_t* ids, std::int32_t begin,
                      std::int32_t size) {
  float threshold = heap.threshold();
  if (!any_at_least(row, size, threshold)) return;
  for (std::int32_t c = 0; c < size; ++c) {
    // >= keeps ties (a lower id may still enter); masked items are -inf and never do.
    if (row[c] >= threshold && row[c] != kNegInf) {
      heap.offer(row[c], ids[begin + c]);
      threshold = heap.threshold();
    }
  }
}

// ---- per-user evaluation state (full protocol) ---------------------------------------------
// The test items' scores, ascending, and what the scan of all candidates accumulates about them.
struct UserEval {
  std::vector<float> test_scores;  // ascending
  // Capped path: the max_k highest candidate (non-train, non-test) scores, as a min-heap.
  std::vector<float> best;
  // Exact path: with at most kDirectCounts test items, at_or_above[i] counts the candidates
  // scored >= the i-th test score; with more, it is a histogram over "number of test scores <=
  // candidate score" (m + 1 bins).
  std::vector<Index> at_or_above;
  // Packed positions of the training and test items, ascending, and how far masking has got.
  std::vector<std::int32_t> train_positions, test_positions;
  const std::int32_t* train_cursor = nullptr;
  const std::int32_t* test_cursor = nullptr;
  // The lowest score that could still change this user's accuracy metrics (see evaluate_full).
  float gate() const;
  std::int32_t max_k = 0;
  bool exact = false;
};

inline float UserEval::gate() const {
  const float lowest_test = test_scores.front();
  // Exact ranks count every candidate at or above the lowest test score. Capped: a candidate
  // enters when it is >= the lowest test score and, once the heap is full, strictly above the
  // heap's minimum (an equal one changes nothing).
  if (exact || static_cast<std::int32_t>(best.size()) < max_k) return lowest_test;
  return std::max(lowest_test, std::nextafter(best.front(), std::numeric_limits<float>::infinity()));
}

// Test items ranked ahead of the i-th (ascending) test item. Ties between a test item and a
// non-test item are pessimistic, but ties among test items only decide which of them takes which
// of their shared positions, which no metric can see: they are broken by position in the sorted
// order, giving each test item a distinct place.
inline Index test_items_ahead(const std::vector<float>& ascending, std::size_t i) {
  return static_cast<Index>(ascending.size() - 1 - i);
}

}  // namespace

MetricSpec MetricSpec::from_names(const std::vector<std::int32_t>& ks, const std::vector<std::string>& names,
                                  bool allow_empty) {
  MetricSpec spec;
  spec.ks = ks;
  spec.hr = spec.ndcg = false;
  for (const auto& name : names) {
    if (name == "hr") spec.hr = true;
    else if (name == "ndcg") spec.ndcg = true;
    else if (name == "recall") spec.recall = true;
    else if (name == "precision") spec.precision = true;
    else if (name == "mrr") spec.mrr = true;
    else if (name == "map") spec.map = true;
    else if (name == "auc") spec.auc = true;
    else throw InvalidArgument("unknown metric '" + name + "'");
  }
  for (auto k : ks) require(k > 0, "every k must be positive");
  require(spec.columns() > 0 || allow_empty, "no metric to compute");
  return spec;
}

std::int32_t MetricSpec::max_k() const {
  std::int32_t m = 0;
  for (auto k : ks) m = std::max(m, k);
  return m;
}

void user_metrics(const std::vector<Index>& ranks, const std::vector<Index>& lower_negatives, Index n_negatives,
                  const MetricSpec& spec, double* out) {
  std::vector<Index> sorted(ranks);
  std::sort(sorted.begin(), sorted.end());
  const Index m = static_cast<Index>(sorted.size());
  int col = 0;
  for (std::int32_t k : spec.ks) {
    Index hits = 0;
    double dcg = 0.0, ap = 0.0;
    for (Index i = 0; i < m && sorted[i] < k; ++i) {
      ++hits;
      dcg += 1.0 / std::log2(static_cast<double>(sorted[i]) + 2.0);
      ap += static_cast<double>(i + 1) / static_cast<double>(sorted[i] + 1);
    }
    const Index ideal = std::min<Index>(m, k);
    double idcg = 0.0;
    for (Index i = 0; i < ideal; ++i) idcg += 1.0 / std::log2(static_cast<double>(i) + 2.0);
    if (spec.hr) out[col++] = hits > 0 ? 1.0 : 0.0;
    if (spec.ndcg) out[col++] = idcg > 0 ? dcg / idcg : 0.0;
    if (spec.recall) out[col++] = m ? static_cast<double>(hits) / static_cast<double>(m) : 0.0;
    if (spec.precision) out[col++] = static_cast<double>(hits) / static_cast<double>(k);
    if (spec.mrr) out[col++] = (m && sorted[0] < k) ? 1.0 / static_cast<double>(sorted[0] + 1) : 0.0;
    if (spec.map) out[col++] = ideal ? ap / static_cast<double>(ideal) : 0.0;
  }
  if (spec.auc) {
    double sum = 0.0;
    for (Index lower : lower_negatives) sum += static_cast<double>(lower);
    out[col++] = (n_negatives > 0 && m > 0) ? sum / (static_cast<double>(n_negatives) * static_cast<double>(m))
                                           : std::numeric_limits<double>::quiet_NaN();
  }
}

void top_k(const FactorView& U, const FactorView& V, std::int32_t k, const CsrView* exclude,
           const std::int32_t* exclude_rows, std::int32_t* out_ids, float* out_scores, int num_threads) {
  check_factors(U, V);
  require(k > 0, "k must be positive");
  if (exclude) {
    require(exclude->n_cols == V.rows, "the excluded-items matrix must have one column per item");
    for (std::int32_t r = 0; r < U.rows; ++r) {
      require(exclude_rows[r] >= 0 && exclude_rows[r] < exclude->n_rows, "user id out of range of the excluded items");
    }
  }
  const int threads = resolve_threads(num_threads);
  const PackedItems items = pack_items(V, threads);
  const std::vector<float> zeros(static_cast<std::size_t>(U.dim), 0.0f);
  const std::int32_t per_block = block_users(U.rows, threads);
  const std::int32_t n_blocks = (U.rows + per_block - 1) / per_block;
  ExceptionCarrier errors;
#pragma omp parallel num_threads(threads)
  {
    {
      std::vector<float> scores(static_cast<std::size_t>(kUsers) * kPanel);
      std::vector<TopKHeap> heaps(static_cast<std::size_t>(per_block), TopKHeap(k));
      std::vector<std::vector<std::int32_t>> excluded(static_cast<std::size_t>(per_block));
      std::vector<const std::int32_t*> cursor(static_cast<std::size_t>(per_block));
      UserBlock block;
#pragma omp for schedule(dynamic, 1)
      for (std::int32_t b = 0; b < n_blocks; ++b) {
        if (errors.failed()) continue;
        errors.run([&] {
          fill_block(U, b * per_block, per_block, block);
          for (std::int32_t r = 0; r < block.count; ++r) {
            heaps[r].clear();
            excluded[r].clear();
            if (exclude) {
              const std::int32_t row = exclude_rows[block.first + r];
              sorted_positions(exclude->row_data(row), exclude->row_size(row), items, excluded[r]);
            }
            cursor[r] = excluded[r].data();
          }
          scan_block(
              U, block, items, zeros.data(), scores.data(), [&](std::int32_t r) { return heaps[r].settled_threshold(); },
              [&](std::int32_t r, float* row, std::int32_t begin, std::int32_t size) {
                mask_sorted(cursor[r], excluded[r].data() + excluded[r].size(), begin, size, row);
                offer_row(heaps[r], row, items.ids.data(), begin, size);
              });
          for (std::int32_t r = 0; r < block.count; ++r) {
            const Index at = static_cast<Index>(block.first + r) * k;
            heaps[r].write_sorted(out_ids + at, out_scores + at);
          }
        });
      }
    }
  }
  errors.rethrow();
}

void evaluate_full(const FactorView& U, const FactorView& V, const CsrView& train, const CsrView& test,
                   const std::int32_t* users, const MetricSpec& spec, double* out, int num_threads,
                   const ListOutput* lists) {
  check_factors(U, V);
  if (lists) {
    require(lists->spec != nullptr && lists->totals != nullptr, "list output needs a spec and totals");
    lists->spec->check();
    require(lists->spec->items->n_items() == V.rows, "item statistics must have one entry per item");
    require(lists->totals->n_items == V.rows && lists->totals->recommended_head.size() == lists->spec->ks.size(),
            "list totals must be reset for the list spec's cut-offs and the item count");
    require(lists->spec->user_columns() == 0 || lists->per_user != nullptr, "per-user list metrics need an output");
  }
  require(!spec.ks.empty() || spec.auc || lists, "no metric to compute");
  for (auto k : spec.ks) require(k > 0, "every k must be positive");
  require(train.n_cols == V.rows && test.n_cols == V.rows, "train and test must have one column per item");
  require(train.n_rows == test.n_rows, "train and test must have the same users");
  const int threads = resolve_threads(num_threads);
  // Every test pair is checked before the pass. In parallel (it would be serial time on every
  // call), finding the first offending row; that row is then checked again serially to throw the
  // same error a serial loop would.
  auto check_row = [&](std::int32_t r) {
    const std::int32_t u = users[r];
    require(u >= 0 && u < train.n_rows, "user id out of range");
    if (test.row_size(u) == 0) throw InvalidArgument("user " + std::to_string(u) + " has no test items");
    for (const std::int32_t* it = test.row_data(u); it != test.row_data(u) + test.row_size(u); ++it) {
      if (train.contains(u, *it)) {
        throw InvalidArgument("user " + std::to_string(u) + " has test item " + std::to_string(*it) +
                              " also in its training data");
      }
    }
  };
  std::int32_t first_bad = U.rows;
#pragma omp parallel for schedule(static) num_threads(threads) reduction(min : first_bad)
  for (std::int32_t r = 0; r < U.rows; ++r) {
    const std::int32_t u = users[r];
    bool bad = u < 0 || u >= train.n_rows || test.row_size(u) == 0;
    for (const std::int32_t* it = bad ? nullptr : test.row_data(u); !bad && it != test.row_data(u) + test.row_size(u); ++it)
      bad = train.contains(u, *it);
    if (bad) first_bad = std::min(first_bad, r);
  }
  if (first_bad < U.rows) check_row(first_bad);
  const bool exact = spec.auc;
  const std::int32_t max_k = spec.max_k();
  const int columns = spec.columns();
  const bool accuracy = columns > 0;
  const std::int32_t list_k = lists ? lists->spec->max_k() : 0;
  const PackedItems items = pack_items(V, threads);
  const std::vector<float> zeros(static_cast<std::size_t>(U.dim), 0.0f);
  const std::int32_t per_block = block_users(U.rows, threads);
  const std::int32_t n_blocks = (U.rows + per_block - 1) / per_block;
  constexpr float kPosInf = std::numeric_limits<float>::infinity();
  ExceptionCarrier errors;
#pragma omp parallel num_threads(threads)
  {
    {
      std::vector<float> scores(static_cast<std::size_t>(kUsers) * kPanel);
      std::vector<UserEval> state(static_cast<std::size_t>(per_block));
      std::vector<Index> ranks, lower;
      UserBlock block;
      // Beyond-accuracy lists: one (score, id) heap per user of the block, this thread's totals.
      std::vector<TopKHeap> list_heaps(lists ? per_block : 0, TopKHeap(std::max<std::int32_t>(list_k, 1)));
      std::vector<std::int32_t> list_ids(static_cast<std::size_t>(list_k));
      std::vector<float> list_scores(static_cast<std::size_t>(list_k));
      ListTotals list_totals;
      if (lists) list_totals.reset(lists->spec->ks.size(), V.rows);
#pragma omp for schedule(dynamic, 1)
      for (std::int32_t b = 0; b < n_blocks; ++b) {
        if (errors.failed()) continue;
        errors.run([&] {
          fill_block(U, b * per_block, per_block, block);
          for (std::int32_t r = 0; r < block.count; ++r) {
            UserEval& s = state[r];
            const std::int32_t u = users[block.first + r];
            const float* urow = U.row(block.first + r);
            sorted_positions(train.row_data(u), train.row_size(u), items, s.train_positions);
            sorted_positions(test.row_data(u), test.row_size(u), items, s.test_positions);
            s.train_cursor = s.train_positions.data();
            s.test_cursor = s.test_positions.data();
            s.test_scores.clear();
            for (const std::int32_t* it = test.row_data(u); it != test.row_data(u) + test.row_size(u); ++it) {
              s.test_scores.push_back(dot_sequential(urow, V.row(*it), U.dim));
            }
            std::sort(s.test_scores.begin(), s.test_scores.end());
            s.best.clear();
            s.max_k = max_k;
            s.exact = exact;
            s.at_or_above.assign(exact ? s.test_scores.size() + 1 : 0, 0);
            if (lists) list_heaps[r].clear();
          }
          // Scores below both bars change nothing: neither the accuracy state nor the list.
          auto threshold = [&](std::int32_t r) {
            const float acc = accuracy ? state[r].gate() : kPosInf;
            return lists ? std::min(acc, list_heaps[r].settled_threshold()) : acc;
          };
          scan_block(U, block, items, zeros.data(), scores.data(), threshold,
                     [&](std::int32_t r, float* row, std::int32_t begin, std::int32_t size) {
            UserEval& s = state[r];
            mask_sorted(s.train_cursor, s.train_positions.data() + s.train_positions.size(), begin, size, row);
            // The recommended list competes over every non-training item, test items included.
            if (lists) offer_row(list_heaps[r], row, items.ids.data(), begin, size);
            if (!accuracy) return;
            mask_sorted(s.test_cursor, s.test_positions.data() + s.test_positions.size(), begin, size, row);
            const float lowest_test = s.test_scores.front();
            if (exact) {
              const float* ts = s.test_scores.data();
              const std::size_t m = s.test_scores.size();
              if (m <= kDirectCounts) {
                // Candidates at or above each test score, counted directly: m vectorised passes
                // over the row, where a binary search per candidate would branch unpredictably.
                // Same numbers as the histogram: upper_bound(v) > i exactly when v >= ts[i].
                for (std::size_t i = 0; i < m; ++i) {
                  const float t = ts[i];
                  Index n = 0;
                  for (std::int32_t c = 0; c < size; ++c) n += row[c] >= t;
                  s.at_or_above[i] += n;
                }
              } else {
                for (std::int32_t c = 0; c < size; ++c) {
                  if (row[c] < lowest_test) continue;
                  const std::size_t q = static_cast<std::size_t>(std::upper_bound(ts, ts + m, row[c]) - ts);
                  ++s.at_or_above[q];
                }
              }
            } else {
              // Only candidates that could sit among the top max_k, and at or above some test item,
              // matter. The heap keeps the max_k best of them.
              std::vector<float>& best = s.best;
              float bar = s.gate();
              if (!any_at_least(row, size, bar)) return;
              for (std::int32_t c = 0; c < size; ++c) {
                const float v = row[c];
                if (v < bar) continue;
                if (static_cast<std::int32_t>(best.size()) < max_k) {
                  best.push_back(v);
                  std::push_heap(best.begin(), best.end(), std::greater<float>());
                } else {
                  std::pop_heap(best.begin(), best.end(), std::greater<float>());
                  best.back() = v;
                  std::push_heap(best.begin(), best.end(), std::greater<float>());
                }
                bar = s.gate();
              }
            }
          });
          for (std::int32_t r = 0; r < block.count; ++r) {
            UserEval& s = state[r];
            const std::int32_t u = users[block.first + r];
            const std::size_t m = s.test_scores.size();
            const Index n_negatives = static_cast<Index>(V.rows) - train.row_size(u) - static_cast<Index>(m);
            ranks.assign(m, 0);
            lower.assign(m, 0);
            if (exact) {
              // Candidates at or above the i-th lowest test score: counted directly (few test
              // items) or histogram bins q > i. Pruned candidates scored below the lowest test
              // score: they are counted nowhere.
              Index above = 0;
              for (std::size_t i = m; i-- > 0;) {
                above = m <= kDirectCounts ? s.at_or_above[i] : above + s.at_or_above[i + 1];
                ranks[i] = above + test_items_ahead(s.test_scores, i);
                lower[i] = n_negatives - above;
              }
            } else {
              for (std::size_t i = 0; i < m; ++i) {
                Index above = 0;
                for (float v : s.best) above += v >= s.test_scores[i];
                // A full heap whose every entry is >= this test score: the rank is max_k or worse.
                ranks[i] = (static_cast<std::int32_t>(s.best.size()) == max_k && above == max_k)
                               ? static_cast<Index>(max_k)
                               : above + test_items_ahead(s.test_scores, i);
              }
            }
            if (accuracy) user_metrics(ranks, lower, n_negatives, spec, out + static_cast<Index>(block.first + r) * columns);
            if (lists) {
              const Index row = block.first + r;
              std::int32_t* ids = lists->top_ids ? lists->top_ids + row * list_k : list_ids.data();
              list_heaps[r].write_sorted(ids, list_scores.data());
              list_metrics(ids, list_k, u, train, test, *lists->spec,
                           lists->per_user + row * lists->spec->user_columns(), list_totals);
            }
          }
        });
      }
      if (lists) {
#pragma omp critical(advrec_list_totals)
        lists->totals->add(list_totals);
      }
    }
  }
  errors.rethrow();
}

void evaluate_sampled(const FactorView& U, const FactorView& V, const CsrView& test, const std::int32_t* users,
                      const std::int32_t* negatives, std::int32_t n_negatives, const MetricSpec& spec, double* out,
                      int num_threads) {
  check_factors(U, V);
  require(n_negatives > 0, "the sampled protocol needs at least one negative per user");
  require(test.n_cols == V.rows, "test must have one column per item");
  for (auto k : spec.ks) require(k > 0, "every k must be positive");
  for (std::int32_t r = 0; r < U.rows; ++r) {
    const std::int32_t u = users[r];
    require(u >= 0 && u < test.n_rows, "user id out of range");
    require(test.row_size(u) > 0, "user " + std::to_string(u) + " has no test items");
    const std::int32_t* negs = negatives + static_cast<Index>(r) * n_negatives;
    for (std::int32_t j = 0; j < n_negatives; ++j) {
      require(negs[j] >= 0 && negs[j] < V.rows, "negative item id " + std::to_string(negs[j]) + " out of range");
      require(!test.contains(u, negs[j]), "negative item " + std::to_string(negs[j]) + " of user " + std::to_string(u) +
                                              " is one of its test items");
    }
  }
  const int columns = spec.columns();
  const int threads = resolve_threads(num_threads);
  ExceptionCarrier errors;
#pragma omp parallel num_threads(threads)
  {
    {
      std::vector<float> test_scores, neg_scores;
      std::vector<Index> ranks, lower;
#pragma omp for schedule(dynamic, 16)
      for (std::int32_t r = 0; r < U.rows; ++r) {
        if (errors.failed()) continue;
        errors.run([&] {
          const std::int32_t u = users[r];
          const float* urow = U.row(r);
          const std::int32_t* negs = negatives + static_cast<Index>(r) * n_negatives;
          neg_scores.resize(static_cast<std::size_t>(n_negatives));
          for (std::int32_t j = 0; j < n_negatives; ++j) neg_scores[j] = dot_sequential(urow, V.row(negs[j]), U.dim);
          std::sort(neg_scores.begin(), neg_scores.end());
          test_scores.clear();
          for (const std::int32_t* it = test.row_data(u); it != test.row_data(u) + test.row_size(u); ++it) {
            test_scores.push_back(dot_sequential(urow, V.row(*it), U.dim));
          }
          std::sort(test_scores.begin(), test_scores.end());
          const std::size_t m = test_scores.size();
          ranks.assign(m, 0);
          lower.assign(m, 0);
          for (std::size_t i = 0; i < m; ++i) {
            const Index below = std::lower_bound(neg_scores.begin(), neg_scores.end(), test_scores[i]) - neg_scores.begin();
            lower[i] = below;
            ranks[i] = (n_negatives - below) + test_items_ahead(test_scores, i);
          }
          user_metrics(ranks, lower, n_negatives, spec, out + static_cast<Index>(r) * columns);
        });
      }
    }
  }
  errors.rethrow();
}

void sample_negatives(const CsrView& train, const CsrView& test, const std::int32_t* users, std::int32_t n_users,
                      std::int32_t n_negatives, std::uint64_t seed, const double* item_weights, std::int32_t* out,
                      int num_threads) {
  const std::int32_t n_items = train.n_cols;
  require(test.n_cols == n_items && test.n_rows == train.n_rows, "train and test must have the same shape");
  require(n_negatives > 0, "n_negatives must be positive");
  std::vector<double> cumulative;
  if (item_weights) {
    cumulative.resize(static_cast<std::size_t>(n_items));
    double total = 0.0;
    for (std::int32_t i = 0; i < n_items; ++i) {
      require(std::isfinite(item_weights[i]) && item_weights[i] >= 0.0, "item weights must be finite and >= 0");
      total += item_weights[i];
      cumulative[i] = total;
    }
    require(total > 0.0, "item weights must not all be zero");
  }
  auto excluded = [&](std::int32_t u, std::int32_t item) { return train.contains(u, item) || test.contains(u, item); };
  const int threads = resolve_threads(num_threads);
  ExceptionCarrier errors;
#pragma omp parallel num_threads(threads)
  {
    {
      std::vector<char> chosen(static_cast<std::size_t>(n_items), 0);
      std::vector<std::int32_t> pool;
      std::vector<std::pair<double, std::int32_t>> keys;
#pragma omp for schedule(dynamic, 16)
      for (std::int32_t r = 0; r < n_users; ++r) {
        if (errors.failed()) continue;
        errors.run([&] {
          const std::int32_t u = users[r];
          require(u >= 0 && u < train.n_rows, "user id out of range");
          std::int32_t* dst = out + static_cast<Index>(r) * n_negatives;
          // One stream per user: the draw does not depend on the thread count or on other users.
          Rng rng(seed, static_cast<std::uint64_t>(u));
          Index eligible = 0;
          pool.clear();
          // Count eligible items (with positive weight when weighted) without materialising them
          // unless the draw would need many rejections.
          Index blocked = train.row_size(u) + test.row_size(u);
          for (const std::int32_t* it = test.row_data(u); it != test.row_data(u) + test.row_size(u); ++it)
            blocked -= train.contains(u, *it);
          eligible = static_cast<Index>(n_items) - blocked;
          require(eligible >= n_negatives, "user " + std::to_string(u) + " has only " + std::to_string(eligible) +
                                               " items outside its train and test data; cannot draw " +
                                               std::to_string(n_negatives) + " negatives");
          std::int32_t drawn = 0;
          if (!item_weights && static_cast<Index>(n_negatives) * 2 <= eligible) {
            // Rejection: at most half the eligible items are taken, so each draw succeeds with
            // probability >= 1/2 times the eligible fraction.
            while (drawn < n_negatives) {
              const auto item = static_cast<std::int32_t>(rng.uniform(static_cast<std::uint64_t>(n_items)));
              if (chosen[item] || excluded(u, item)) continue;
              chosen[item] = 1;
              dst[drawn++] = item;
            }
          } else if (item_weights) {
            // Successive sampling proportional to weight: rejection first, then (if the user's own
            // items hold most of the weight) exact weighted sampling without replacement by
            // exponential keys over the eligible items.
            const double total = cumulative.back();
            Index attempts = 0;
            const Index max_attempts = 64 * static_cast<Index>(n_negatives) + 1024;
            while (drawn < n_negatives && attempts++ < max_attempts) {
              const double x = rng.uniform_double() * total;
              auto pos = std::upper_bound(cumulative.begin(), cumulative.end(), x) - cumulative.begin();
              const auto item = static_cast<std::int32_t>(std::min<Index>(pos, n_items - 1));
              if (item_weights[item] <= 0.0 || chosen[item] || excluded(u, item)) continue;
              chosen[item] = 1;
              dst[drawn++] = item;
            }
            if (drawn < n_negatives) {
              keys.clear();
              for (std::int32_t item = 0; item < n_items; ++item) {
                if (item_weights[item] <= 0.0 || chosen[item] || excluded(u, item)) continue;
                const double e = -std::log(1.0 - rng.uniform_double());
                keys.emplace_back(e / item_weights[item], item);
              }
              const std::int32_t need = n_negatives - drawn;
              require(static_cast<Index>(keys.size()) >= need,
                      "user " + std::to_string(u) + " has fewer than " + std::to_string(n_negatives) +
                          " eligible items with positive weight");
              std::partial_sort(keys.begin(), keys.begin() + need, keys.end());
              for (std::int32_t i = 0; i < need; ++i) {
                chosen[keys[i].second] = 1;
                dst[drawn++] = keys[i].second;
              }
            }
          } else {
            // Most eligible items are needed: shuffle the explicit list.
            for (std::int32_t item = 0; item < n_items; ++item)
              if (!excluded(u, item)) pool.push_back(item);
            for (std::int32_t i = 0; i < n_negatives; ++i) {
              const auto j = i + static_cast<std::int32_t>(rng.uniform(static_cast<std::uint64_t>(pool.size() - i)));
              std::swap(pool[i], pool[j]);
              dst[drawn++] = pool[i];
            }
          }
          for (std::int32_t i = 0; i < drawn; ++i) chosen[dst[i]] = 0;
        });
      }
    }
  }
  errors.rethrow();
}

// ---- scores given by the caller (models that are not dot products) ---------------------------
namespace {

// Ranks of one user's test items (given their scores, ascending) among candidates whose scores
// `above_or_equal(i)` counts, as in evaluate_full's exact path.
void ranks_from_histogram(const std::vector<float>& ascending, const std::vector<Index>& at_or_above, Index n_negatives,
                          std::vector<Index>& ranks, std::vector<Index>& lower) {
  const std::size_t m = ascending.size();
  ranks.assign(m, 0);
  lower.assign(m, 0);
  Index above = 0;
  for (std::size_t i = m; i-- > 0;) {
    above += at_or_above[i + 1];
    ranks[i] = above + test_items_ahead(ascending, i);
    lower[i] = n_negatives - above;
  }
}

void check_spec(const MetricSpec& spec) {
  require(!spec.ks.empty() || spec.auc, "no metric to compute");
  for (auto k : spec.ks) require(k > 0, "every k must be positive");
}

}  // namespace

void evaluate_full_scores(const float* scores, Index n_rows, std::int32_t n_items, const CsrView& train,
                          const CsrView& test, const std::int32_t* users, const MetricSpec& spec, double* out,
                          int num_threads) {
  check_spec(spec);
  require(train.n_cols == n_items && test.n_cols == n_items, "train and test must have one column per item");
  require(train.n_rows == test.n_rows, "train and test must have the same users");
  for (Index r = 0; r < n_rows; ++r) {
    const std::int32_t u = users[r];
    require(u >= 0 && u < train.n_rows, "user id out of range");
    require(test.row_size(u) > 0, "user " + std::to_string(u) + " has no test items");
  }
  const int columns = spec.columns();
  ExceptionCarrier errors;
#pragma omp parallel num_threads(resolve_threads(num_threads))
  {
    std::vector<float> ascending;
    std::vector<Index> at_or_above, ranks, lower;
#pragma omp for schedule(dynamic, 4)
    for (Index r = 0; r < n_rows; ++r) {
      if (errors.failed()) continue;
      errors.run([&] {
        const std::int32_t u = users[r];
        const float* row = scores + r * n_items;
        const std::int32_t* tr = train.row_data(u);
        const std::int32_t* tr_end = tr + train.row_size(u);
        const std::int32_t* te = test.row_data(u);
        const std::int32_t* te_end = te + test.row_size(u);
        ascending.clear();
        for (const std::int32_t* it = te; it != te_end; ++it) {
          require(!train.contains(u, *it), "user " + std::to_string(u) + " has test item " + std::to_string(*it) +
                                               " also in its training data");
          ascending.push_back(row[*it]);
        }
        std::sort(ascending.begin(), ascending.end());
        require(std::isfinite(ascending.front()) && std::isfinite(ascending.back()), "scores must be finite");
        const std::size_t m = ascending.size();
        at_or_above.assign(m + 1, 0);
        const float lowest = ascending.front();
        // Both rows are sorted: walk them alongside the items to skip train and test items.
        for (std::int32_t c = 0; c < n_items; ++c) {
          if (tr != tr_end && *tr == c) { ++tr; continue; }
          if (te != te_end && *te == c) { ++te; continue; }
          const float v = row[c];
          if (!(v >= lowest)) continue;  // also skips NaN (never ahead of a test item)
          ++at_or_above[static_cast<std::size_t>(std::upper_bound(ascending.begin(), ascending.end(), v) - ascending.begin())];
        }
        const Index n_negatives = static_cast<Index>(n_items) - train.row_size(u) - static_cast<Index>(m);
        ranks_from_histogram(ascending, at_or_above, n_negatives, ranks, lower);
        user_metrics(ranks, lower, n_negatives, spec, out + r * columns);
      });
    }
  }
  errors.rethrow();
}

void evaluate_sampled_scores(const float* negative_scores, Index n_rows, std::int32_t n_negatives,
                             const float* test_scores, const Index* test_offsets, const MetricSpec& spec, double* out,
                             int num_threads) {
  check_spec(spec);
  require(n_negatives > 0, "the sampled protocol needs at least one negative per user");
  for (Index r = 0; r < n_rows; ++r) {
    require(test_offsets[r + 1] > test_offsets[r], "every evaluated user needs at least one test item");
  }
  const int columns = spec.columns();
#pragma omp parallel num_threads(resolve_threads(num_threads))
  {
    std::vector<float> ascending;
    std::vector<Index> at_or_above, ranks, lower;
#pragma omp for schedule(dynamic, 16)
    for (Index r = 0; r < n_rows; ++r) {
      ascending.assign(test_scores + test_offsets[r], test_scores + test_offsets[r + 1]);
      std::sort(ascending.begin(), ascending.end());
      at_or_above.assign(ascending.size() + 1, 0);
      const float* negs = negative_scores + r * n_negatives;
      for (std::int32_t j = 0; j < n_negatives; ++j) {
        if (!(negs[j] >= ascending.front())) continue;
        ++at_or_above[static_cast<std::size_t>(std::upper_bound(ascending.begin(), ascending.end(), negs[j]) - ascending.begin())];
      }
      ranks_from_histogram(ascending, at_or_above, n_negatives, ranks, lower);
      user_metrics(ranks, lower, n_negatives, spec, out + r * columns);
    }
  }
}

}  // namespace advrec
