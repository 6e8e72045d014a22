// BPR-style triple sampling, shared by the sampled trainers (BPR-MF/APR, VBPR/AMR). Shared layer:
// includes no model header.
//
// A triple is a training pair (u, i) drawn uniformly and a negative item j that u never
// interacted with: drawn uniformly over the items (the BPR, APR and AMR papers) or in proportion to
// item popularity (implicit's choice, and a harder negative), then rejected and redrawn while u
// holds it.
//
// Why a hash set and not the CSR: every draw is a chain of dependent cache misses (pair -> user ->
// membership test -> parameter rows). A binary search over a user's items cannot be prefetched
// (each probe depends on the last), and it was a third of a BPR epoch on Gowalla (issue 14). The
// hash set answers a query from one cache line whose address is known as soon as (u, j) is, so the
// sampler prefetches it several draws ahead and the test itself hits the cache.
#pragma once

#include "advrec/common.hpp"
#include "advrec/csr.hpp"
#include "advrec/rng.hpp"

#include <cstdint>
#include <cstdlib>
#include <utility>
#include <vector>

namespace advrec {

// Memory for LargeArray (std::free releases it); throws std::bad_alloc.
void* allocate_large(size_t bytes);

enum class NegativeSampling { Uniform, Popularity };

// A fixed-size array for randomly accessed tables: cache-line aligned, and (Linux, >= 2 MiB)
// on transparent huge pages. Random access over megabytes with 4 KiB pages misses the TLB on
// nearly every load, and a prefetch that misses the TLB stalls like a load.
template <class T>
class LargeArray {
 public:
  LargeArray() = default;
  explicit LargeArray(size_t n) : n_(n) { data_ = static_cast<T*>(allocate_large(n * sizeof(T))); }
  LargeArray(const LargeArray&) = delete;
  LargeArray& operator=(const LargeArray&) = delete;
  LargeArray(LargeArray&& o) noexcept : data_(o.data_), n_(o.n_) { o.data_ = nullptr, o.n_ = 0; }
  LargeArray& operator=(LargeArray&& o) noexcept {
    std::swap(data_, o.data_);
    std::swap(n_, o.n_);
    return *this;
  }
  ~LargeArray() { std::free(data_); }
  T* data() { return data_; }
  const T* data() const { return data_; }
  size_t size() const { return n_; }
  T& operator[](size_t k) { return data_[k]; }
  const T& operator[](size_t k) const { return data_[k]; }

 private:
  T* data_ = nullptr;
  size_t n_ = 0;
};

// A training set prepared once per fit: its pairs in storage order (pair e is the e-th stored
// entry; drawing e uniformly draws a pair uniformly, and its item in proportion to popularity) and
// a membership set of all pairs. Owns copies, so it outlives the arrays it was built from.
class TrainingIndex {
 public:
  // Validates the CSR (InvalidArgument on a broken one); builds in O(nnz).
  explicit TrainingIndex(const CsrView& train);

  std::int32_t n_users() const { return n_users_; }
  std::int32_t n_items() const { return n_items_; }
  Index nnz() const { return static_cast<Index>(pairs_.size()); }
  const UserItem& pair(Index e) const { return pairs_[static_cast<size_t>(e)]; }
  // A user who holds every item has no negative: triples of such users are skipped.
  bool user_full(std::int32_t u) const { return !full_.empty() && full_[static_cast<size_t>(u)]; }
  std::int32_t user_size(std::int32_t u) const { return user_size_[static_cast<size_t>(u)]; }

  bool contains(std::int32_t u, std::int32_t i) const {
    const std::uint64_t k = key(u, i);
    for (std::uint64_t s = home(k);; s = (s + 1) & mask_) {
      const std::uint64_t slot = table_[s];
      if (slot == k) return true;
      if (slot == kEmpty) return false;
    }
  }
  void prefetch_membership(std::int32_t u, std::int32_t i) const {
#if defined(__GNUC__)
    __builtin_prefetch(table_.data() + home(key(u, i)), 0, 1);
#endif
  }
  void prefetch_pair(Index e) const {
#if defined(__GNUC__)
    __builtin_prefetch(pairs_.data() + e, 0, 1);
#endif
  }

 private:
  static constexpr std::uint64_t kEmpty = ~std::uint64_t{0};
  static std::uint64_t key(std::int32_t u, std::int32_t i) {
    return (static_cast<std::uint64_t>(static_cast<std::uint32_t>(u)) << 32) | static_cast<std::uint32_t>(i);
  }
  // Fibonacci hashing: the top bits of key * 2^64/phi; keys differing only in the item spread well.
  std::uint64_t home(std::uint64_t k) const { return (k * 0x9E3779B97F4A7C15ULL) >> shift_; }

  std::int32_t n_users_ = 0, n_items_ = 0;
  LargeArray<UserItem> pairs_;
  std::vector<std::int32_t> user_size_;
  std::vector<std::uint8_t> full_;  // empty unless some user holds every item
  // Open addressing with linear probing at load factor <= 1/2, on cache-line-aligned memory.
  LargeArray<std::uint64_t> table_;
  std::uint64_t mask_ = 0;
  int shift_ = 64;
};

struct Triple {
  std::int32_t u = 0, i = 0, j = 0;
  bool ok = false;  // false: u holds every item (no negative exists); the draw is skipped
};

// Draws triples from a TrainingIndex as a software pipeline: a draw is started kRing draws before
// it is returned, and each stage prefetches what a later stage reads (the pair, then the
// membership slot of (u, j) and, through `prefetch_rows(u, i, j)`, the caller's parameter rows).
// The generator is consumed in a fixed order, so the triples are a pure function of the Rng's
// stream, the index and the mode.
template <class PrefetchRows>
class TripleSampler {
 public:
  TripleSampler(const TrainingIndex& index, NegativeSampling negatives, Rng& rng, PrefetchRows prefetch_rows)
      : index_(index), popularity_(negatives == NegativeSampling::Popularity), rng_(rng),
        prefetch_rows_(prefetch_rows) {
    for (int k = 0; k < kRing; ++k) advance();
  }

  Triple next() {
    Triple out = finish(ring_[head_ & (kRing - 1)]);
    advance();
    return out;
  }

 private:
  // A slot starts (pair index drawn, pair prefetched), reaches kMembership draws later (pair read,
  // j drawn, its membership slot prefetched), kRows draws later its parameter rows are prefetched,
  // and it is consumed at kRing. The rows' distance is the shortest: they are the most lines in
  // flight, and more outstanding loads than the core tracks get dropped.
  static constexpr int kMembership = 6;
  static constexpr int kRows = 12;
  static constexpr int kRing = 16;
  static_assert(kMembership < kRows && kRows < kRing && (kRing & (kRing - 1)) == 0, "pipeline stages");

  struct Slot {
    Index e = 0, e_neg = 0;
    Triple t;
  };

  Index draw_pair() { return static_cast<Index>(rng_.uniform(static_cast<std::uint64_t>(index_.nnz()))); }
  std::int32_t draw_item() { return static_cast<std::int32_t>(rng_.uniform(static_cast<std::uint64_t>(index_.n_items()))); }
  // A redraw after a rejection: not pipelined (rejections are rare).
  std::int32_t draw_negative_now() { return popularity_ ? index_.pair(draw_pair()).i : draw_item(); }

  void advance() {
    Slot& fresh = ring_[head_ & (kRing - 1)];
    fresh.e = draw_pair();
    index_.prefetch_pair(fresh.e);
    if (popularity_) {
      fresh.e_neg = draw_pair();
      index_.prefetch_pair(fresh.e_neg);
    }
    if (filled_ >= kMembership) {
      Slot& mid = ring_[(head_ - kMembership) & (kRing - 1)];
      const UserItem pr = index_.pair(mid.e);
      mid.t.u = pr.u;
      mid.t.i = pr.i;
      mid.t.j = popularity_ ? index_.pair(mid.e_neg).i : draw_item();  // that pair was prefetched at the start
      index_.prefetch_membership(mid.t.u, mid.t.j);
    }
    if (filled_ >= kRows) {
      const Triple& late = ring_[(head_ - kRows) & (kRing - 1)].t;
      prefetch_rows_(late.u, late.i, late.j);
    }
    ++head_;
    if (filled_ < kRing) ++filled_;
  }

  Triple finish(const Slot& slot) {
    Triple t = slot.t;
    if (index_.user_full(t.u)) return t;
    while (index_.contains(t.u, t.j)) t.j = draw_negative_now();
    t.ok = true;
    return t;
  }

  const TrainingIndex& index_;
  const bool popularity_;
  Rng& rng_;
  PrefetchRows prefetch_rows_;
  Slot ring_[kRing];
  std::uint64_t head_ = 0;
  int filled_ = 0;
};

}  // namespace advrec
