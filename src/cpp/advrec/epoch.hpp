// The Hogwild epoch driver shared by the sampled trainers (BPR-MF/APR, VBPR/AMR), and the other
// per-epoch pieces every trainer needs: per-thread totals, the touched-row slot map of mini-batch
// steps and the divergence check. Shared layer: includes no model header.
//
// Reproducibility contract: the `total` draws of an epoch are split into one contiguous chunk per
// thread; chunk c draws from Rng(stream_seed, c), where the caller derives stream_seed from
// (seed, epoch, a per-model tag). The result therefore depends only on (seed, epoch, num_threads)
// and on the scheduling of the lock-free writes; with one thread it is reproducible bit for bit.
#pragma once

#include "advrec/common.hpp"
#include "advrec/kernels.hpp"
#include "advrec/rng.hpp"
#include "advrec/types.hpp"

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

namespace advrec {

// Runs body(rng, begin, end, totals) once per chunk, one chunk per thread, and returns the
// epoch's summary. Exceptions thrown by a body are rethrown here, after the parallel region.
// The body takes its Rng by value: a local generator that the compiler can prove no parameter or
// counter store aliases. (Passed by reference, per-sample BPR-Adagrad epochs measured 14-28% slower
// than the old inline loop; by value, a median 1.06x with +-15% noise between repeats under load:
// benchmarks/results/ab_engine_issue10.json.)
template <class Body>
EpochStats run_hogwild_epoch(Index total, int num_threads, std::uint64_t stream_seed, Body&& body) {
  const int n_chunks = resolve_threads(num_threads);
  std::vector<kernels::ThreadTotals> totals(static_cast<size_t>(n_chunks));
  ExceptionCarrier carrier;
  // The chunk index (not the OpenMP thread id) names the stream.
#pragma omp parallel for num_threads(n_chunks) schedule(static, 1)
  for (int chunk = 0; chunk < n_chunks; ++chunk) {
    carrier.run([&] {
      const Index begin = total * chunk / n_chunks, end = total * (chunk + 1) / n_chunks;
      body(Rng(stream_seed, static_cast<std::uint64_t>(chunk)), begin, end, totals[static_cast<size_t>(chunk)]);
    });
  }
  carrier.rethrow();
  return kernels::summarise(totals);
}

// Draws of one chunk, handed to a step in mini-batches of up to batch_size valid samples (draws
// that yield no sample count as skipped). draw(sample) -> bool; step(batch, n, totals).
template <class Sample, class Draw, class Step>
void run_batches(Index begin, Index end, int batch_size, std::vector<Sample>& batch, kernels::ThreadTotals& tot,
                 Draw&& draw, Step&& step) {
  batch.resize(static_cast<size_t>(batch_size));
  for (Index s = begin; s < end;) {
    int n = 0;
    for (; s < end && n < batch_size; ++s) {
      if (draw(batch[static_cast<size_t>(n)])) ++n;
      else ++tot.skipped;
    }
    if (!n) continue;
    step(batch.data(), n, tot);
    tot.samples += n;
  }
}

// Throws NumericalError (Python: FloatingPointError) when training produced non-finite values.
// `advice` ends the message ("raise regularisation", "scale the item features down").
inline void check_divergence(bool finite, std::uint64_t epoch, float lr, const char* advice) {
  if (finite) return;
  throw NumericalError("training diverged: parameters became NaN or infinite (epoch " + std::to_string(epoch) +
                       "); lower the learning rate (lr=" + std::to_string(lr) + ") or " + advice);
}

// Maps the rows a mini-batch touches to dense slots 0, 1, ... in order of first touch. The slot
// array is sized to the whole table once per thread and reset only at the touched rows, so a
// batch costs O(batch) and not O(table). Per-slot buffers (gradients, perturbations) are the
// caller's: slot k is row rows()[k].
class RowSlots {
 public:
  explicit RowSlots(std::int32_t n_rows, int max_rows = 0) : slot_(static_cast<size_t>(n_rows), -1) {
    rows_.reserve(static_cast<size_t>(max_rows));
  }
  // The slot of `row`; `fresh` is set when the row was not yet touched in this batch.
  int get(std::int32_t row, bool& fresh) {
    int& s = slot_[static_cast<size_t>(row)];
    fresh = s < 0;
    if (fresh) {
      s = static_cast<int>(rows_.size());
      rows_.push_back(row);
    }
    return s;
  }
  int get(std::int32_t row) {
    bool fresh;
    return get(row, fresh);
  }
  void clear() {
    for (std::int32_t r : rows_) slot_[static_cast<size_t>(r)] = -1;
    rows_.clear();
  }
  const std::vector<std::int32_t>& rows() const { return rows_; }
  int size() const { return static_cast<int>(rows_.size()); }

 private:
  std::vector<int> slot_;
  std::vector<std::int32_t> rows_;
};

}  // namespace advrec
