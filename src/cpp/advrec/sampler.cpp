#include "advrec/sampler.hpp"

#include <algorithm>
#include <new>
#include <string>

#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace advrec {

void* allocate_large(size_t bytes) {
  constexpr size_t kHuge = size_t{2} << 20;
  const bool huge = bytes >= kHuge;
  const size_t align = huge ? kHuge : 64;
  const size_t rounded = (std::max<size_t>(bytes, 1) + align - 1) / align * align;
  void* p = std::aligned_alloc(align, rounded);
  if (!p) throw std::bad_alloc();
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  if (huge) madvise(p, rounded, MADV_HUGEPAGE);  // advice only: failure just means small pages
#endif
  return p;
}

TrainingIndex::TrainingIndex(const CsrView& train) : n_users_(train.n_rows), n_items_(train.n_cols) {
  train.validate("train");
  {
    const std::vector<UserItem> pairs = interaction_pairs(train);
    pairs_ = LargeArray<UserItem>(pairs.size());
    std::copy(pairs.begin(), pairs.end(), pairs_.data());
  }
  user_size_.resize(static_cast<size_t>(n_users_));
  for (std::int32_t u = 0; u < n_users_; ++u) {
    const Index size = train.row_size(u);
    user_size_[static_cast<size_t>(u)] = static_cast<std::int32_t>(size);
    if (size >= n_items_ && size > 0) {
      if (full_.empty()) full_.assign(static_cast<size_t>(n_users_), 0);
      full_[static_cast<size_t>(u)] = 1;
    }
  }
  // Smallest power of two >= 2 * nnz (and >= 16): a load factor of at most 1/2 keeps an
  // unsuccessful probe (the common query: j is a negative) within about one cache line.
  int bits = 4;
  while ((std::uint64_t{1} << bits) < 2 * static_cast<std::uint64_t>(pairs_.size())) ++bits;
  const std::uint64_t size = std::uint64_t{1} << bits;
  mask_ = size - 1;
  shift_ = 64 - bits;
  table_ = LargeArray<std::uint64_t>(size);
  std::fill_n(table_.data(), size, kEmpty);
  for (size_t e = 0; e < pairs_.size(); ++e) {
    const UserItem p = pairs_[e];
    const std::uint64_t k = key(p.u, p.i);
    std::uint64_t s = home(k);
    while (table_[s] != kEmpty && table_[s] != k) s = (s + 1) & mask_;
    table_[s] = k;
  }
}

}  // namespace advrec
