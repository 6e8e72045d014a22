#include "advrec/sasrec.hpp"

#include "advrec/epoch.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <numeric>
#include <string>

namespace advrec {

void SASRecConfig::validate() const {
  require(dim > 0, "factors must be > 0, got " + std::to_string(dim));
  require(heads > 0, "heads must be > 0, got " + std::to_string(heads));
  require(dim % heads == 0, "factors (" + std::to_string(dim) + ") must be divisible by heads (" +
                                std::to_string(heads) + ")");
  require(maxlen > 0, "maxlen must be > 0, got " + std::to_string(maxlen));
  require(blocks >= 0, "blocks must be >= 0, got " + std::to_string(blocks));
  require(dropout >= 0.0f && dropout < 1.0f, "dropout must be in [0, 1), got " + std::to_string(dropout));
  require(lr > 0.0f && std::isfinite(lr), "lr must be a finite number > 0, got " + std::to_string(lr));
  require(beta1 >= 0.0f && beta1 < 1.0f, "beta1 must be in [0, 1)");
  require(beta2 >= 0.0f && beta2 < 1.0f, "beta2 must be in [0, 1)");
  require(adam_eps > 0.0f, "adam_eps must be > 0");
  require(l2 >= 0.0f && std::isfinite(l2), "l2 must be a finite number >= 0");
  require(batch_size > 0, "batch_size must be > 0, got " + std::to_string(batch_size));
  adv.validate();
  require(num_threads >= 0, "num_threads must be >= 0");
}

namespace {

using seq::Mat;
using MatF = Mat<float>;
// Buffers handed to Eigen kernels are allocated with Eigen's alignment: with AVX-512 some kernels
// take different (equally correct) summation orders depending on the address modulo 64, which
// would make single-thread runs differ bit-wise from one allocation to the next.
using AlignedVec = std::vector<float, Eigen::aligned_allocator<float>>;

void check_sequences(const CsrView& seqs, std::int32_t n_items, const char* name) {
  require(seqs.n_rows >= 0 && seqs.indptr != nullptr, std::string(name) + ": missing indptr");
  require(seqs.indptr[0] == 0, std::string(name) + ": indptr[0] must be 0");
  for (std::int32_t u = 0; u < seqs.n_rows; ++u) {
    require(seqs.indptr[u + 1] >= seqs.indptr[u], std::string(name) + ": indptr must be non-decreasing");
  }
  const Index nnz = seqs.nnz();
  for (Index k = 0; k < nnz; ++k) {
    const std::int32_t i = seqs.indices[k];
    require(i >= 0 && i < n_items, std::string(name) + " contains item id " + std::to_string(i) + ", outside [0, " +
                                       std::to_string(n_items) + ")");
  }
}

// Per-thread gradient buffers and scratch space.
struct Workspace {
  AlignedVec gdense;
  AlignedVec dense;           // snapshot of the dense parameters read by this pass (aligned)
  std::vector<float> gitem;   // n_items x d, zero outside touched rows
  std::vector<char> flag;     // row touched?
  std::vector<std::int32_t> touched;
  std::vector<float> delta;   // released-code mode: per-item output perturbation (touched rows)
  const float* delta_ptr = nullptr;  // the table phase 1 reads (own or the shared one)
  seq::NetCache<float> cache;
  seq::Masks<float> masks;
  MatF dZ, gpos, gneg, dE0, din, dpos, dneg;
  seq::PackedBatch batch;       // packed inputs and targets
  std::vector<std::int32_t> neg;  // negatives aligned with batch.tgt (-1: skip)
  double loss = 0, adv_loss = 0;
  Index correct = 0, positions = 0;
  int d = 0;

  void init(Index dense_size, std::int32_t n_items, int dim) {
    d = dim;
    gdense.assign(dense_size, 0.0f);
    gitem.assign(static_cast<size_t>(n_items) * dim, 0.0f);
    flag.assign(n_items, 0);
    touched.clear();
  }
  float* row(std::int32_t r) {
    if (!flag[r]) {
      flag[r] = 1;
      touched.push_back(r);
    }
    return gitem.data() + static_cast<Index>(r) * d;
  }
  void clear_grads() {
    std::fill(gdense.begin(), gdense.end(), 0.0f);
    for (std::int32_t r : touched) {
      std::fill_n(gitem.data() + static_cast<Index>(r) * d, d, 0.0f);
      flag[r] = 0;
    }
    touched.clear();
  }
  // Adds another workspace's gradients (reduction of the synchronous mode).
  void add(const Workspace& o) {
    for (size_t k = 0; k < gdense.size(); ++k) gdense[k] += o.gdense[k];
    for (std::int32_t r : o.touched) {
      float* dst = row(r);
      const float* src = o.gitem.data() + static_cast<Index>(r) * d;
      for (int k = 0; k < d; ++k) dst[k] += src[k];
    }
  }
};

class Trainer {
 public:
  Trainer(SASRecParams& p, const CsrView& seqs, const CsrView& hist, const SASRecConfig& cfg)
      : p_(p), seqs_(seqs), hist_(hist), cfg_(cfg), L_(cfg.dim, cfg.maxlen, cfg.blocks) {}

  Index length(std::int32_t u) const { return std::min<Index>(seqs_.row_size(u) - 1, cfg_.maxlen); }

  // Packs the sequences order[k0..k1) into the workspace: inputs, targets, negatives and dropout
  // masks. Sequence k draws from its own RNG stream (seed, epoch, k), so the draws do not depend on
  // the packing, the thread or the mode.
  void pack(Workspace& ws, const std::vector<std::int32_t>& order, Index k0, Index k1) const {
    // Every user in `order` has a sequence of >= 2 items, so each adds one segment.
    ws.batch.clear();
    for (Index k = k0; k < k1; ++k) ws.batch.add_training(seqs_, order[k], cfg_.maxlen);
    const Index N = ws.batch.rows();
    ws.neg.resize(N);
    seq::prepare_masks(ws.masks, N, ws.batch.segs.size(), cfg_);
    const std::uint64_t stream_seed = mix_seed(cfg_.seed, cfg_.epoch, 0x5A5ULL);
    for (Index k = k0; k < k1; ++k) {
      const std::int32_t u = order[k];
      const seq::Segment& sg = ws.batch.segs[k - k0];
      Rng rng(stream_seed, static_cast<std::uint64_t>(k));
      const bool full = hist_.row_size(u) >= hist_.n_cols;
      for (Index t = 0; t < sg.n; ++t) {
        std::int32_t j = -1;
        if (!full) {
          do {
            j = static_cast<std::int32_t>(rng.uniform(static_cast<std::uint64_t>(hist_.n_cols)));
          } while (hist_.contains(u, j));
        }
        ws.neg[sg.row0 + t] = j;
      }
      seq::draw_segment_masks(ws.masks, k - k0, sg.row0, sg.n, cfg_, rng);
    }
  }

  // Routes the gradients of one pass to the workspace.
  void route(Workspace& ws, float scale) {
    const int d = cfg_.dim;
    const float sd = std::sqrt(static_cast<float>(d));
    const Index N = ws.batch.rows();
    for (Index t = 0; t < N; ++t) {
      float* r = ws.row(ws.batch.x[t]);
      const float* e = ws.dE0.data() + t * d;
#pragma omp simd
      for (int k = 0; k < d; ++k) r[k] += sd * e[k];
      if (ws.neg[t] < 0) continue;
      float* rp = ws.row(ws.batch.tgt[t]);
      const float* gp = ws.gpos.data() + t * d;
#pragma omp simd
      for (int k = 0; k < d; ++k) rp[k] += scale * gp[k];
      float* rn = ws.row(ws.neg[t]);
      const float* gn = ws.gneg.data() + t * d;
#pragma omp simd
      for (int k = 0; k < d; ++k) rn[k] += scale * gn[k];
    }
  }

  // The packed sequences of the workspace. phase 0: clean pass (plus the paper-mode adversarial
  // pass); phase 1: the released-code adversarial pass with ws.delta_ptr perturbing output rows.
  void pass(Workspace& ws, float scale, int phase) {
    if (ws.batch.x.empty()) return;
    // Hogwild reads the shared weights once per mini-batch into aligned memory.
    ws.dense.assign(p_.dense, p_.dense + L_.size());
    const float* dense = ws.dense.data();
    const int d = cfg_.dim;
    const std::int32_t* x = ws.batch.x.data();
    const std::int32_t* tgt = ws.batch.tgt.data();
    const seq::Segments& segs = ws.batch.segs;
    const std::int32_t* neg = ws.neg.data();
    seq::Embeddings<float> emb{p_.item_emb, nullptr, nullptr};
    const float lam = cfg_.adv.reg_adv;
    seq::net_forward(x, segs, dense, emb, L_, cfg_.heads, ws.masks, ws.cache);
    if (phase == 1) {
      ws.adv_loss += seq::output_loss(ws.cache.Z, tgt, neg, p_.item_emb, d, (const float*)nullptr,
                                      (const float*)nullptr, ws.delta_ptr, scale * lam, ws.dZ, ws.gpos, ws.gneg,
                                      nullptr, nullptr);
      seq::net_backward(ws.dZ, segs, dense, L_, cfg_.heads, ws.masks, ws.cache, ws.gdense.data(), ws.dE0);
      route(ws, scale * lam);
      return;
    }
    ws.loss += seq::output_loss(ws.cache.Z, tgt, neg, p_.item_emb, d, (const float*)nullptr, (const float*)nullptr,
                                (const float*)nullptr, scale, ws.dZ, ws.gpos, ws.gneg, &ws.correct, &ws.positions);
    seq::net_backward(ws.dZ, segs, dense, L_, cfg_.heads, ws.masks, ws.cache, ws.gdense.data(), ws.dE0);
    route(ws, scale);
    if (!(cfg_.adv.active() && cfg_.perturb == SeqPerturb::Paper)) return;
    // SAO eq. 8-9: one perturbation per input position and per target / negative output vector,
    // from the gradient of the user's sequence loss at the current parameters (rows of the packed
    // gradients are exactly the per-sequence gradients: sequences do not interact).
    const float eps = cfg_.adv.eps;
    const Index N = ws.batch.rows();
    ws.din.resize(N, d);
    ws.dpos.resize(N, d);
    ws.dneg.resize(N, d);
    for (Index t = 0; t < N; ++t) {
      fgm_row_from(ws.din.row(t).data(), ws.dE0.data() + t * d, d, eps);
      fgm_row_from(ws.dpos.row(t).data(), ws.gpos.data() + t * d, d, eps);
      fgm_row_from(ws.dneg.row(t).data(), ws.gneg.data() + t * d, d, eps);
    }
    seq::Embeddings<float> adv{p_.item_emb, nullptr, ws.din.data()};
    seq::net_forward(x, segs, dense, adv, L_, cfg_.heads, ws.masks, ws.cache);
    ws.adv_loss += seq::output_loss(ws.cache.Z, tgt, neg, p_.item_emb, d, ws.dpos.data(), ws.dneg.data(),
                                    (const float*)nullptr, scale * lam, ws.dZ, ws.gpos, ws.gneg, nullptr, nullptr);
    seq::net_backward(ws.dZ, segs, dense, L_, cfg_.heads, ws.masks, ws.cache, ws.gdense.data(), ws.dE0);
    route(ws, scale * lam);
  }

  // Released-code perturbation: gradient w.r.t. the item table (summed over every use in the
  // batch), normalised per row.
  void build_delta(Workspace& ws, const Workspace& grads) {
    const int d = cfg_.dim;
    if (ws.delta.size() != grads.gitem.size()) ws.delta.assign(grads.gitem.size(), 0.0f);
    for (std::int32_t r : grads.touched) {
      const float* g = grads.gitem.data() + static_cast<Index>(r) * d;
      float* out = ws.delta.data() + static_cast<Index>(r) * d;
      fgm_row_from(out, g, d, cfg_.adv.eps);
    }
    ws.delta_ptr = ws.delta.data();
  }

  // One Adam step from the workspace's gradients (Hogwild: other threads may write concurrently).
  void adam(Workspace& ws, int num_threads) {
    const std::int64_t t = __atomic_add_fetch(p_.step, 1, __ATOMIC_RELAXED);
    const double b1 = cfg_.beta1, b2 = cfg_.beta2;
    const float bc1 = static_cast<float>(1.0 - std::pow(b1, double(t)));
    const float rbc2 = static_cast<float>(1.0 / std::sqrt(1.0 - std::pow(b2, double(t))));
    const float lr = cfg_.lr / bc1, eps = cfg_.adam_eps, fb1 = cfg_.beta1, fb2 = cfg_.beta2, l2 = cfg_.l2;
    const Index pos_end = L_.pos() + L_.maxlen * L_.dim;
    const Index nd = L_.size();
    for (Index k = 0; k < nd; ++k) {
      float g = ws.gdense[k];
      if (l2 > 0 && k < pos_end) g += l2 * p_.dense[k];
      const float m = fb1 * p_.dense_m[k] + (1 - fb1) * g;
      const float v = fb2 * p_.dense_v[k] + (1 - fb2) * g * g;
      p_.dense_m[k] = m;
      p_.dense_v[k] = v;
      p_.dense[k] -= lr * m / (std::sqrt(v) * rbc2 + eps);
    }
    const int d = cfg_.dim;
    auto update_row = [&](std::int32_t r, bool touched) {
      float* th = p_.item_emb + static_cast<Index>(r) * d;
      float* mm = p_.item_m + static_cast<Index>(r) * d;
      float* vv = p_.item_v + static_cast<Index>(r) * d;
      const float* g = ws.gitem.data() + static_cast<Index>(r) * d;
#pragma omp simd
      for (int k = 0; k < d; ++k) {
        const float gk = touched ? g[k] + l2 * th[k] : 0.0f;
        const float m = fb1 * mm[k] + (1 - fb1) * gk;
        const float v = fb2 * vv[k] + (1 - fb2) * gk * gk;
        mm[k] = m;
        vv[k] = v;
        th[k] -= lr * m / (std::sqrt(v) * rbc2 + eps);
      }
    };
    if (cfg_.lazy_adam) {
      for (std::int32_t r : ws.touched) update_row(r, true);
    } else {
      const std::int32_t ni = p_.n_items;
#pragma omp parallel for num_threads(num_threads) schedule(static) if (num_threads > 1)
      for (std::int32_t r = 0; r < ni; ++r) update_row(r, ws.flag[r] != 0);
    }
    ws.clear_grads();
  }

  EpochStats run() {
    const int T = resolve_threads(cfg_.num_threads);
    std::vector<std::int32_t> order;
    for (std::int32_t u = 0; u < seqs_.n_rows; ++u) {
      if (seqs_.row_size(u) >= 2) order.push_back(u);
    }
    require(!order.empty(), "no user has a training sequence of at least 2 items");
    Rng shuffle(mix_seed(cfg_.seed, cfg_.epoch, 0x0DE4ULL), 0);
    for (Index k = static_cast<Index>(order.size()) - 1; k > 0; --k) {
      std::swap(order[k], order[shuffle.uniform(static_cast<std::uint64_t>(k + 1))]);
    }
    const Index n_seq = static_cast<Index>(order.size());
    const Index B = cfg_.batch_size;
    const Index n_batches = (n_seq + B - 1) / B;
    std::vector<Workspace> ws(T + 1);
    for (auto& w : ws) w.init(L_.size(), p_.n_items, cfg_.dim);
    const bool released = cfg_.adv.active() && cfg_.perturb == SeqPerturb::Output;
    auto batch_scale = [&](Index b0, Index b1) {
      Index count = 0;
      for (Index k = b0; k < b1; ++k) count += length(order[k]);
      return count > 0 ? 1.0f / static_cast<float>(count) : 0.0f;
    };
    ExceptionCarrier carrier;
    if (!cfg_.sync) {
      // Hogwild: every thread trains its own mini-batches and writes the shared weights and Adam
      // moments without locks.
#pragma omp parallel for num_threads(T) schedule(dynamic, 1)
      for (Index b = 0; b < n_batches; ++b) {
        carrier.run([&] {
          if (carrier.failed()) return;
          Workspace& w = ws[thread_index()];
          const Index b0 = b * B, b1 = std::min(n_seq, b0 + B);
          const float scale = batch_scale(b0, b1);
          pack(w, order, b0, b1);
          pass(w, scale, 0);
          if (released) {
            build_delta(w, w);
            pass(w, scale, 1);
          }
          adam(w, 1);
        });
      }
      carrier.rethrow();
    } else {
      // Synchronous data parallel: the threads split each mini-batch, their gradients are summed
      // and one Adam step is taken.
      Workspace& total = ws[T];
      for (Index b = 0; b < n_batches; ++b) {
        const Index b0 = b * B, b1 = std::min(n_seq, b0 + B);
        const float scale = batch_scale(b0, b1);
        for (int phase = 0; phase < (released ? 2 : 1); ++phase) {
          if (phase == 1) build_delta(total, total);
#pragma omp parallel num_threads(T)
          {
            const int tid = thread_index();
            carrier.run([&] {
              Workspace& w = ws[tid];
              // contiguous share of the batch for each thread; kept between the two phases
              const Index k0 = b0 + (b1 - b0) * tid / T, k1 = b0 + (b1 - b0) * (tid + 1) / T;
              if (phase == 0) pack(w, order, k0, k1);
              w.delta_ptr = total.delta.data();
              pass(w, scale, phase);
            });
          }
          carrier.rethrow();
          for (int t = 0; t < T; ++t) {
            total.add(ws[t]);
            ws[t].clear_grads();
          }
        }
        adam(total, T);
      }
    }
    EpochStats st;
    st.sequences = n_seq;
    Index correct = 0;
    double loss = 0, adv = 0;
    for (auto& w : ws) {
      st.samples += w.positions;
      correct += w.correct;
      loss += w.loss;
      adv += w.adv_loss;
    }
    if (st.samples > 0) {
      st.loss = loss / st.samples;
      st.adv_loss = adv / st.samples;
      st.accuracy = double(correct) / st.samples;
    }
    if (!all_finite(p_.item_emb, static_cast<Index>(p_.n_items) * cfg_.dim) || !all_finite(p_.dense, L_.size())) {
      throw NumericalError("SASRec parameters became NaN or infinite during training; lower the learning rate (lr)");
    }
    return st;
  }

 private:
  SASRecParams& p_;
  const CsrView& seqs_;
  const CsrView& hist_;
  const SASRecConfig& cfg_;
  SASRecLayout L_;
};

}  // namespace

EpochStats train_sasrec(SASRecParams& params, const CsrView& seqs, const CsrView& history,
                         const SASRecConfig& config) {
  config.validate();
  require(params.item_emb && params.dense && params.item_m && params.item_v && params.dense_m && params.dense_v &&
              params.step,
          "train_sasrec: parameters and Adam state are required");
  require(seqs.n_rows == history.n_rows, "sequences and history must have the same number of users");
  require(history.n_cols == params.n_items, "history must have n_items columns");
  history.validate("history");
  check_sequences(seqs, params.n_items, "sequences");
  Trainer trainer(params, seqs, history, config);
  return trainer.run();
}

void sasrec_encode(const SASRecParams& params, const CsrView& seqs, const std::int32_t* users, Index n_users,
                   const SASRecConfig& config, float* out) {
  config.validate();
  check_sequences(seqs, params.n_items, "sequences");
  const SASRecLayout L(config.dim, config.maxlen, config.blocks);
  const int d = config.dim;
  for (Index k = 0; k < n_users; ++k) {
    require(users[k] >= 0 && users[k] < seqs.n_rows, "users contains id " + std::to_string(users[k]) +
                                                         ", outside [0, " + std::to_string(seqs.n_rows) + ")");
  }
  const AlignedVec dense(params.dense, params.dense + L.size());
  ExceptionCarrier carrier;
  const Index chunk = 256;  // users packed into one forward pass
  const Index n_chunks = (n_users + chunk - 1) / chunk;
#pragma omp parallel num_threads(resolve_threads(config.num_threads))
  {
    seq::NetCache<float> cache;
    seq::Masks<float> none;
    seq::PackedBatch batch;
    const seq::Segments& segs = batch.segs;
#pragma omp for schedule(dynamic, 1)
    for (Index c = 0; c < n_chunks; ++c) {
      carrier.run([&] {
        const Index k0 = c * chunk, k1 = std::min(n_users, k0 + chunk);
        batch.clear();
        for (Index k = k0; k < k1; ++k) batch.add_inputs(seqs, users[k], config.maxlen);
        if (!batch.x.empty()) {
          seq::Embeddings<float> emb{params.item_emb, nullptr, nullptr};
          seq::net_forward(batch.x.data(), segs, dense.data(), emb, L, config.heads, none, cache);
        }
        size_t g = 0;
        for (Index k = k0; k < k1; ++k) {
          float* o = out + k * d;
          if (seqs.row_size(users[k]) == 0) {
            std::fill_n(o, d, 0.0f);
            continue;
          }
          const seq::Segment& sg = segs[g++];
          std::copy_n(cache.Z.data() + (sg.row0 + sg.n - 1) * d, d, o);
        }
      });
    }
  }
  carrier.rethrow();
}

double sasrec_loss_gradients(const SASRecParams& params, const CsrView& seqs, const std::int32_t* neg,
                             const std::int32_t* users, Index n_users, const float* item_delta,
                             const SASRecConfig& config, float* grad_items, float* grad_dense, Index* correct,
                             int num_threads) {
  config.validate();
  check_sequences(seqs, params.n_items, "sequences");
  const SASRecLayout L(config.dim, config.maxlen, config.blocks);
  const int d = config.dim;
  for (Index k = 0; k < n_users; ++k) {
    require(users[k] >= 0 && users[k] < seqs.n_rows, "users contains id " + std::to_string(users[k]) +
                                                         ", outside [0, " + std::to_string(seqs.n_rows) + ")");
  }
  const Index nnz = seqs.nnz();
  for (Index k = 0; k < nnz; ++k) {
    require(neg[k] >= -1 && neg[k] < params.n_items, "negatives contain an item id outside [0, n_items)");
  }
  const int T = resolve_threads(num_threads);
  const Index table = static_cast<Index>(params.n_items) * d;
  std::vector<std::vector<float>> gi(T);
  std::vector<AlignedVec> gd(T);
  const AlignedVec dense(params.dense, params.dense + L.size());
  std::vector<double> loss(T, 0.0);
  std::vector<Index> corr(T, 0);
  ExceptionCarrier carrier;
#pragma omp parallel num_threads(T)
  {
    const int tid = thread_index();
    gi[tid].assign(table, 0.0f);
    gd[tid].assign(L.size(), 0.0f);
    seq::NetCache<float> cache;
    seq::Masks<float> none;
    MatF dZ, gpos, gneg, dE0;
    seq::PackedBatch batch;
    const seq::Segments& segs = batch.segs;
    const std::vector<std::int32_t>& x = batch.x;
    const std::vector<std::int32_t>& tgt = batch.tgt;
    std::vector<std::int32_t> ng;
    const float sd = std::sqrt(static_cast<float>(d));
    const Index chunk = 64;
    const Index n_chunks = (n_users + chunk - 1) / chunk;
#pragma omp for schedule(dynamic, 1)
    for (Index c = 0; c < n_chunks; ++c) {
      carrier.run([&] {
        batch.clear();
        ng.clear();
        for (Index k = c * chunk; k < std::min(n_users, (c + 1) * chunk); ++k) {
          const std::int32_t u = users[k];
          const Index n = batch.add_training(seqs, u, config.maxlen);
          const std::int32_t* row_neg = neg + seqs.row_end(u);  // negatives of the last n targets
          ng.insert(ng.end(), row_neg - n, row_neg);
        }
        if (x.empty()) return;
        seq::Embeddings<float> emb{params.item_emb, item_delta, nullptr};
        seq::net_forward(x.data(), segs, dense.data(), emb, L, config.heads, none, cache);
        // output embeddings = table + delta
        loss[tid] += seq::output_loss(cache.Z, tgt.data(), ng.data(), params.item_emb, d, (const float*)nullptr,
                                      (const float*)nullptr, item_delta, 1.0f, dZ, gpos, gneg, &corr[tid], nullptr);
        seq::net_backward(dZ, segs, dense.data(), L, config.heads, none, cache, gd[tid].data(), dE0);
        float* g = gi[tid].data();
        for (Index t = 0; t < static_cast<Index>(x.size()); ++t) {
          for (int q = 0; q < d; ++q) g[Index(x[t]) * d + q] += sd * dE0(t, q);
          if (ng[t] < 0) continue;
          for (int q = 0; q < d; ++q) {
            g[Index(tgt[t]) * d + q] += gpos(t, q);
            g[Index(ng[t]) * d + q] += gneg(t, q);
          }
        }
      });
    }
  }
  carrier.rethrow();
  double total = 0;
  Index total_correct = 0;
  std::fill_n(grad_items, table, 0.0f);
  if (grad_dense) std::fill_n(grad_dense, L.size(), 0.0f);
  for (int t = 0; t < T; ++t) {
    total += loss[t];
    total_correct += corr[t];
    for (Index k = 0; k < table; ++k) grad_items[k] += gi[t][k];
    if (grad_dense) {
      for (Index k = 0; k < L.size(); ++k) grad_dense[k] += gd[t][k];
    }
  }
  if (correct) *correct = total_correct;
  return total;
}

}  // namespace advrec
