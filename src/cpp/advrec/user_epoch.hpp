// The epoch of the per-user trainers (CDAE, CFGAN): every user with a training item takes one step,
// in a random order drawn on one stream from (seed, epoch, tag) - so the order does not depend on
// the number of threads - and each thread takes a contiguous slice of that order, with its own RNG
// stream and its own step object, writing the shared parameters without locks (Hogwild).
// Shared header: includes no model header.
#pragma once

#include "advrec/common.hpp"
#include "advrec/csr.hpp"
#include "advrec/rng.hpp"

#include <algorithm>
#include <cstdint>
#include <numeric>
#include <vector>

namespace advrec {

// Per-thread counters on their own cache line. `entries` counts what the loss and accuracy are
// averaged over (output entries, decisions, ...), as the trainer defines it.
struct alignas(64) UserEpochTotals {
  Index users = 0, skipped = 0, entries = 0, correct = 0;
  double loss = 0.0;
};

// make_step() builds a thread's step; step(u, rng, totals) trains user u. Returns the summed
// totals; exceptions of the workers are rethrown here.
template <class MakeStep>
UserEpochTotals for_each_user_shuffled(const CsrView& train, int num_threads, std::uint64_t seed, std::uint64_t epoch,
                                       std::uint64_t tag, MakeStep make_step) {
  std::vector<std::int32_t> order(static_cast<size_t>(train.n_rows));
  std::iota(order.begin(), order.end(), 0);
  Rng shuffle(mix_seed(seed, epoch, tag), 0);
  for (size_t k = order.size(); k > 1; --k) std::swap(order[k - 1], order[shuffle.uniform(k)]);
  const int n_chunks = resolve_threads(num_threads);
  std::vector<UserEpochTotals> totals(static_cast<size_t>(n_chunks));
  ExceptionCarrier carrier;
  const Index n = train.n_rows;
#pragma omp parallel for num_threads(n_chunks) schedule(static, 1)
  for (int chunk = 0; chunk < n_chunks; ++chunk) {
    carrier.run([&] {
      const Index begin = n * chunk / n_chunks, end = n * (chunk + 1) / n_chunks;
      Rng rng(mix_seed(seed, epoch, tag + 1), static_cast<std::uint64_t>(chunk));
      UserEpochTotals& tot = totals[static_cast<size_t>(chunk)];
      auto step = make_step();
      for (Index k = begin; k < end; ++k) {
        const std::int32_t u = order[static_cast<size_t>(k)];
        if (train.row_size(u) == 0) {
          ++tot.skipped;
          continue;
        }
        step(u, rng, tot);
        ++tot.users;
      }
    });
  }
  carrier.rethrow();
  UserEpochTotals sum;
  for (const auto& t : totals) {
    sum.users += t.users;
    sum.skipped += t.skipped;
    sum.entries += t.entries;
    sum.correct += t.correct;
    sum.loss += t.loss;
  }
  return sum;
}

}  // namespace advrec
