// The machine's ceiling for BPR-MF training: a minimal Hogwild loop, written for speed only.
//
// It does what one advrec BPR epoch does and nothing else: draw a training pair uniformly, draw a
// negative item uniformly and reject it when the user interacted with it (binary search in the
// user's sorted item row), one plain SGD step on the three rows. Rows start on cache lines and lie
// on huge pages, samples are drawn kAhead steps before they are used so that their pair, the
// user's row and the three parameter rows are prefetched, and no loss is computed. With `nocheck`
// the negative is not checked at all: the bound of the loop's memory traffic on this machine.
// benchmarks/bench_bpr.py compiles this file with the same compiler and -march=native and runs it
// in the same session as advrec and implicit, so advrec is reported as a fraction of the ceiling.
//
//   g++ -O3 -march=native -fopenmp ref_bpr.cpp -o ref_bpr
//   ref_bpr CSR_FILE EPOCHS THREADS FACTORS LR REG [check|nocheck]   -> one JSON line on stdout
//
// CSR_FILE: int64 n_users, int64 n_items, int64 indptr[n_users + 1], int32 indices[nnz].
#include <omp.h>
#include <sys/mman.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace {

struct Xoshiro {
  std::uint64_t s[4];
  explicit Xoshiro(std::uint64_t seed) {
    for (auto& w : s) {
      seed += 0x9E3779B97F4A7C15ULL;
      std::uint64_t z = seed;
      z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
      z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
      w = z ^ (z >> 31);
    }
  }
  static std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  std::uint64_t next() {
    const std::uint64_t r = rotl(s[0] + s[3], 23) + s[0], t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return r;
  }
  std::uint32_t below(std::uint64_t n) { return static_cast<std::uint32_t>((static_cast<unsigned __int128>(next()) * n) >> 64); }
};

// Large arrays on transparent huge pages: every access of this loop is random, and with 4 KiB
// pages nearly every one would also miss the TLB.
void* huge_alloc(std::size_t bytes) {
  const std::size_t huge = std::size_t{2} << 20;
  bytes = (bytes + huge - 1) / huge * huge;
  void* p = nullptr;
  if (posix_memalign(&p, huge, bytes) != 0) std::abort();
#ifdef MADV_HUGEPAGE
  madvise(p, bytes, MADV_HUGEPAGE);
#endif
  return p;
}

float* aligned_floats(std::size_t n) { return static_cast<float*>(huge_alloc(n * sizeof(float))); }

void prefetch_row(const float* row, int d) {
  for (int k = 0; k < d; k += 16) __builtin_prefetch(row + k, 1, 1);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 7 && argc != 8) {
    std::fprintf(stderr, "usage: ref_bpr CSR_FILE EPOCHS THREADS FACTORS LR REG [check|nocheck]\n");
    return 2;
  }
  const bool check = argc < 8 || std::strcmp(argv[7], "nocheck") != 0;
  std::FILE* f = std::fopen(argv[1], "rb");
  if (!f) return 2;
  std::int64_t n_users = 0, n_items = 0;
  if (std::fread(&n_users, 8, 1, f) != 1 || std::fread(&n_items, 8, 1, f) != 1) return 2;
  std::vector<std::int64_t> indptr(static_cast<std::size_t>(n_users + 1));
  if (std::fread(indptr.data(), 8, indptr.size(), f) != indptr.size()) return 2;
  const std::int64_t nnz = indptr.back();
  std::vector<std::int32_t> indices(static_cast<std::size_t>(nnz));
  if (std::fread(indices.data(), 4, indices.size(), f) != indices.size()) return 2;
  std::fclose(f);
  const int epochs = std::atoi(argv[2]), threads = std::atoi(argv[3]), d = std::atoi(argv[4]);
  const float lr = static_cast<float>(std::atof(argv[5])), reg = static_cast<float>(std::atof(argv[6]));

  struct Pair {
    std::int32_t u, i;
  };
  Pair* pairs = static_cast<Pair*>(huge_alloc(static_cast<std::size_t>(nnz) * sizeof(Pair)));
  for (std::int64_t u = 0; u < n_users; ++u)
    for (std::int64_t e = indptr[u]; e < indptr[u + 1]; ++e) pairs[e] = {static_cast<std::int32_t>(u), indices[e]};
  float* P = aligned_floats(static_cast<std::size_t>(n_users * d));
  float* Q = aligned_floats(static_cast<std::size_t>(n_items * d));
  Xoshiro init(7);
  for (std::int64_t k = 0; k < n_users * d; ++k) P[k] = 0.01f * (static_cast<float>(init.next() >> 40) / 16777216.0f - 0.5f);
  for (std::int64_t k = 0; k < n_items * d; ++k) Q[k] = 0.01f * (static_cast<float>(init.next() >> 40) / 16777216.0f - 0.5f);

  const auto t0 = std::chrono::steady_clock::now();
  for (int epoch = 0; epoch < epochs; ++epoch) {
#pragma omp parallel num_threads(threads)
    {
      const int t = omp_get_thread_num(), nt = omp_get_num_threads();
      Xoshiro rng(1000003ULL * static_cast<std::uint64_t>(epoch) + static_cast<std::uint64_t>(t));
      const std::int64_t n = nnz * (t + 1) / nt - nnz * t / nt;
      // Sample s + kAhead is drawn (and its memory prefetched) when sample s is trained.
      constexpr int kAhead = 8;
      Pair ring_pair[kAhead];
      std::int32_t ring_neg[kAhead];
      auto draw = [&](int slot) {
        const Pair p = pairs[rng.below(static_cast<std::uint64_t>(nnz))];
        const std::int32_t j = static_cast<std::int32_t>(rng.below(static_cast<std::uint64_t>(n_items)));
        ring_pair[slot] = p;
        ring_neg[slot] = j;
        prefetch_row(P + static_cast<std::int64_t>(p.u) * d, d);
        prefetch_row(Q + static_cast<std::int64_t>(p.i) * d, d);
        prefetch_row(Q + static_cast<std::int64_t>(j) * d, d);
        if (check) __builtin_prefetch(indices.data() + indptr[p.u]);
      };
      for (int k = 0; k < kAhead; ++k) draw(k);
      for (std::int64_t s = 0; s < n; ++s) {
        const int slot = static_cast<int>(s % kAhead);
        const Pair cur = ring_pair[slot];
        std::int32_t j = ring_neg[slot];
        draw(slot);
        if (check) {
          const std::int32_t* first = indices.data() + indptr[cur.u];
          const std::int32_t* last = indices.data() + indptr[cur.u + 1];
          if (last - first >= n_items) continue;
          while (std::binary_search(first, last, j))
            j = static_cast<std::int32_t>(rng.below(static_cast<std::uint64_t>(n_items)));
        }
        float* __restrict pu = P + static_cast<std::int64_t>(cur.u) * d;
        float* __restrict qi = Q + static_cast<std::int64_t>(cur.i) * d;
        float* __restrict qj = Q + static_cast<std::int64_t>(j) * d;
        float x = 0.0f;
#pragma omp simd reduction(+ : x)
        for (int k = 0; k < d; ++k) x += pu[k] * (qi[k] - qj[k]);
        const float g = 1.0f / (1.0f + std::exp(x));
#pragma omp simd
        for (int k = 0; k < d; ++k) {
          const float p = pu[k], a = qi[k], b = qj[k];
          pu[k] = p + lr * (g * (a - b) - reg * p);
          qi[k] = a + lr * (g * p - reg * a);
          qj[k] = b + lr * (-g * p - reg * b);
        }
      }
    }
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  double checksum = 0.0;
  for (std::int64_t k = 0; k < n_items * d; ++k) checksum += Q[k];
  std::printf("{\"seconds\": %.6f, \"samples\": %lld, \"samples_per_s\": %.1f, \"finite\": %s}\n", seconds,
              static_cast<long long>(nnz) * epochs, static_cast<double>(nnz) * epochs / seconds,
              std::isfinite(checksum) ? "true" : "false");
  std::free(P);
  std::free(Q);
  std::free(pairs);
  return 0;
}
