#include "advrec/mf.hpp"

#include "advrec/epoch.hpp"
#include "advrec/kernels.hpp"
#include "advrec/rng.hpp"
#include "advrec/sampler.hpp"

#include <algorithm>
#include <cmath>
#include <string>

namespace advrec {
namespace {

using namespace kernels;

using Sample = Triple;

// A mini-batch as a range for range-based for.
struct Span {
  const Sample* first;
  int n;
  const Sample* begin() const { return first; }
  const Sample* end() const { return first + n; }
};

// The parameter rows a triple will update, prefetched by the sampler a few draws ahead.
struct PrefetchMFRows {
  const MFParams* p;
  void operator()(std::int32_t u, std::int32_t i, std::int32_t j) const {
    const int d = p->dim;
    prefetch_floats<1, 1>(p->user_factors + static_cast<Index>(u) * d, d);
    prefetch_floats<1, 1>(p->item_factors + static_cast<Index>(i) * d, d);
    prefetch_floats<1, 1>(p->item_factors + static_cast<Index>(j) * d, d);
    if (p->user_accum) {
      prefetch_floats<1, 1>(p->user_accum + static_cast<Index>(u) * d, d);
      prefetch_floats<1, 1>(p->item_accum + static_cast<Index>(i) * d, d);
      prefetch_floats<1, 1>(p->item_accum + static_cast<Index>(j) * d, d);
    }
  }
};

// Per-sample trainer state: scratch vectors sized once (no allocation in the loop).
class SampleStep {
 public:
  SampleStep(MFParams& p, const MFTrainConfig& c)
      : p_(p), c_(c), d_(p.dim), diff_(d_) {}

  void operator()(const Sample& s, ThreadTotals& tot) {
    const int d = d_;
    float* __restrict pu = p_.user_factors + static_cast<Index>(s.u) * d;
    float* __restrict qi = p_.item_factors + static_cast<Index>(s.i) * d;
    float* __restrict qj = p_.item_factors + static_cast<Index>(s.j) * d;
    float* __restrict diff = diff_.data();
    const float bias_diff = p_.item_bias ? p_.item_bias[s.i] - p_.item_bias[s.j] : 0.0f;
    const bool adversarial = c_.adversarial();

    float x = bias_diff;
    float dd = 0.0f, pp = 0.0f;  // |q_i - q_j|^2 and |p_u|^2, for the adversary
    if (adversarial) {
      // One pass gives everything the APR step needs besides the update: the rows are read once
      // before the update pass, as in plain BPR (the epoch is bound by their memory traffic).
      float pd = 0.0f;
#pragma omp simd reduction(+ : pd, dd, pp)
      for (int k = 0; k < d; ++k) {
        const float df = qi[k] - qj[k];
        diff[k] = df;
        pd += pu[k] * df;
        dd += df * df;
        pp += pu[k] * pu[k];
      }
      x += pd;
    } else {
      float acc = 0.0f;
#pragma omp simd reduction(+ : acc)
      for (int k = 0; k < d; ++k) acc += pu[k] * (qi[k] - qj[k]);
      x += acc;
    }
    float a;
    const float g = bpr_factor(x, a);  // g = -d l / d x
    tot.bpr_loss.add(x, a);
    tot.correct += x > 0.0f;

    float gbi = -g, gbj = g;

    if (!adversarial) {
      update_rows<false>(pu, qi, qj, nullptr, g, 0.0f, 0.0f, 0.0f, s);
    } else {
      adversarial_step(pu, qi, qj, diff, x - bias_diff, dd, pp, g, gbi, gbj, s, tot);
    }
    if (p_.item_bias) {
      const Optimizer opt = c_.optimizer;
      gbi += c_.reg_bias * p_.item_bias[s.i];
      gbj += c_.reg_bias * p_.item_bias[s.j];
      apply_scalar(p_.item_bias[s.i], p_.bias_accum ? p_.bias_accum + s.i : nullptr, gbi, c_.lr, opt);
      apply_scalar(p_.item_bias[s.j], p_.bias_accum ? p_.bias_accum + s.j : nullptr, gbj, c_.lr, opt);
    }
  }

 private:
  // Gradients and update of the three rows in one pass (each row read and written once; the
  // gradients use the values from before the step). Without the adversary the perturbation terms
  // are compiled out; with it, the perturbed p_u is p_u + su (q_i - q_j) and the perturbed
  // (q_i - q_j) is (q_i - q_j) + si2 p_u, weighted by g_adv.
  template <bool Adversarial>
  ADVREC_INLINE void update_rows(float* __restrict pu, float* __restrict qi, float* __restrict qj,
                                 const float* __restrict diff, float g, float su, float si2, float g_adv,
                                 const Sample& s) {
    const int d = d_;
    const float lr = c_.lr, reg = c_.reg;
    auto gradients = [&](float p, float a, float b, float dk, float& gu, float& gi, float& gj) {
      gu = -g * dk + reg * p;
      gi = -g * p + reg * a;
      gj = g * p + reg * b;
      if (Adversarial) {
        const float pa = p + su * dk, da = dk + si2 * p;
        gu -= g_adv * da;
        gi -= g_adv * pa;
        gj += g_adv * pa;
      }
    };
    if (c_.optimizer == Optimizer::SGD) {
#pragma omp simd
      for (int k = 0; k < d; ++k) {
        const float p = pu[k], a = qi[k], b = qj[k];
        float gu, gi, gj;
        gradients(p, a, b, Adversarial ? diff[k] : a - b, gu, gi, gj);
        pu[k] = p - lr * gu;
        qi[k] = a - lr * gi;
        qj[k] = b - lr * gj;
      }
      return;
    }
    float* __restrict au = p_.user_accum + static_cast<Index>(s.u) * d;
    float* __restrict ai = p_.item_accum + static_cast<Index>(s.i) * d;
    float* __restrict aj = p_.item_accum + static_cast<Index>(s.j) * d;
#pragma omp simd
    for (int k = 0; k < d; ++k) {
      const float p = pu[k], a = qi[k], b = qj[k];
      float gu, gi, gj;
      gradients(p, a, b, Adversarial ? diff[k] : a - b, gu, gi, gj);
      const float acc_u = au[k] + gu * gu, acc_i = ai[k] + gi * gi, acc_j = aj[k] + gj * gj;
      au[k] = acc_u;
      ai[k] = acc_i;
      aj[k] = acc_j;
      pu[k] = p - lr * gu / std::sqrt(acc_u + 1e-10f);
      qi[k] = a - lr * gi / std::sqrt(acc_i + 1e-10f);
      qj[k] = b - lr * gj / std::sqrt(acc_j + 1e-10f);
    }
  }

  // APR step (eq. 7-12, per sample): the fast-gradient perturbations at Delta = 0 are
  //   Delta_u = -eps (q_i - q_j) / |q_i - q_j|,  Delta_i = -eps p_u / |p_u| = -Delta_j
  // (d l / d Delta_u = -g (q_i - q_j), d l / d Delta_i = -g p_u, d l / d Delta_j = g p_u; the positive
  // factor g cancels in the normalisation). No pass of its own over the rows: with pd = p_u.diff,
  // dd = |diff|^2 and pp = |p_u|^2 from the scoring pass, the perturbed score is
  //   (p_u + su diff).(diff + si2 p_u) = pd + su dd + si2 pp + su si2 pd,
  // and the gradients of both terms are applied in the update pass.
  void adversarial_step(float* __restrict pu, float* __restrict qi, float* __restrict qj, const float* __restrict diff,
                        float pd, float dd, float pp, float g, float& gbi, float& gbj, const Sample& s,
                        ThreadTotals& tot) {
    const float eps = c_.adv.eps;
    const float bias_diff = p_.item_bias ? p_.item_bias[s.i] - p_.item_bias[s.j] : 0.0f;
    const float diff_norm = std::sqrt(dd), pu_norm = std::sqrt(pp);
    // 0 - x rather than -x: a zero scale stays +0, as when the block is not perturbed.
    const float su = c_.perturb_users ? 0.0f - fgm_scale(diff_norm, eps) : 0.0f;
    const float si2 = c_.perturb_items ? 0.0f - 2.0f * fgm_scale(pu_norm, eps) : 0.0f;
    // Perturbed p_u is p_u + su diff; perturbed (q_i - q_j) is diff + si2 p_u (D_j = -D_i).
    const float xa = pd + su * dd + si2 * pp + su * si2 * pd;
    float a;
    const float g_adv = c_.adv.reg_adv * bpr_factor(xa + bias_diff, a);
    tot.bpr_adv_loss.add(xa + bias_diff, a);
    gbi -= g_adv;
    gbj += g_adv;
    update_rows<true>(pu, qi, qj, diff, g, su, si2, g_adv, s);
  }

  MFParams& p_;
  const MFTrainConfig& c_;
  const int d_;
  std::vector<float> diff_;
};

// One table's per-slot accumulators in a mini-batch (slots from the shared RowSlots map). A slot's
// buffers are zeroed when its row is first touched, so a batch costs O(batch), not O(table).
class TableSlots {
 public:
  TableSlots(std::int32_t n_rows, int dim, int max_rows) : map_(n_rows, max_rows), dim_(dim) {
    grad_.resize(static_cast<size_t>(max_rows) * dim);
    delta_.resize(static_cast<size_t>(max_rows) * dim);
    bias_grad_.resize(static_cast<size_t>(max_rows));
    count_.resize(static_cast<size_t>(max_rows));
  }
  int slot(std::int32_t row) {
    bool fresh;
    const int s = map_.get(row, fresh);
    if (fresh) {
      std::fill_n(grad_.begin() + static_cast<Index>(s) * dim_, dim_, 0.0f);
      std::fill_n(delta_.begin() + static_cast<Index>(s) * dim_, dim_, 0.0f);
      bias_grad_[static_cast<size_t>(s)] = 0.0f;
      count_[static_cast<size_t>(s)] = 0;
    }
    return s;
  }
  void clear() { map_.clear(); }
  float* grad(int s) { return grad_.data() + static_cast<Index>(s) * dim_; }
  float* delta(int s) { return delta_.data() + static_cast<Index>(s) * dim_; }
  float& bias_grad(int s) { return bias_grad_[static_cast<size_t>(s)]; }
  int& count(int s) { return count_[static_cast<size_t>(s)]; }
  const std::vector<std::int32_t>& rows() const { return map_.rows(); }

 private:
  RowSlots map_;
  int dim_;
  std::vector<float> grad_, delta_, bias_grad_;
  std::vector<int> count_;
};

// Mini-batch trainer state (APR section 3.4 semantics).
class BatchStep {
 public:
  BatchStep(MFParams& p, const MFTrainConfig& c)
      : p_(p), c_(c), d_(p.dim), users_(p.n_users, p.dim, c.batch_size), items_(p.n_items, p.dim, 2 * c.batch_size),
        diff_(d_), pu_adv_(d_), diff_adv_(d_) {}

  void operator()(const Sample* batch, int n, ThreadTotals& tot) {
    const int d = d_;
    users_.clear();
    items_.clear();
    const bool adv = c_.adversarial();
    // Pass 1: slots, and (when adversarial) the batch gradient w.r.t. every touched vector.
    for (const Sample& s : Span{batch, n}) {
      const int su = users_.slot(s.u), si = items_.slot(s.i), sj = items_.slot(s.j);
      if (!adv) continue;
      const float* pu = user(s.u);
      const float* qi = item(s.i);
      const float* qj = item(s.j);
      const float x = score_diff(pu, qi, qj, s);
      const float g = sigmoid(-x);
      float* du = users_.delta(su);
      float* di = items_.delta(si);
      float* dj = items_.delta(sj);
      for (int k = 0; k < d; ++k) {
        du[k] -= g * (qi[k] - qj[k]);
        di[k] -= g * pu[k];
        dj[k] += g * pu[k];
      }
    }
    if (adv) {
      normalise(users_, c_.perturb_users);
      normalise(items_, c_.perturb_items);
    }
    // Pass 2: clean and perturbed gradients, summed per row.
    const float reg = c_.reg;
    for (const Sample& s : Span{batch, n}) {
      const int su = users_.slot(s.u), si = items_.slot(s.i), sj = items_.slot(s.j);
      const float* pu = user(s.u);
      const float* qi = item(s.i);
      const float* qj = item(s.j);
      for (int k = 0; k < d; ++k) diff_[k] = qi[k] - qj[k];
      const float bias_diff = p_.item_bias ? p_.item_bias[s.i] - p_.item_bias[s.j] : 0.0f;
      const float x = dot(pu, diff_.data(), d) + bias_diff;
      const float g = sigmoid(-x);
      tot.loss += softplus(-x);
      tot.correct += x > 0.0f;
      float* gu = users_.grad(su);
      float* gi = items_.grad(si);
      float* gj = items_.grad(sj);
      for (int k = 0; k < d; ++k) {
        gu[k] += -g * diff_[k] + reg * pu[k];
        gi[k] += -g * pu[k] + reg * qi[k];
        gj[k] += g * pu[k] + reg * qj[k];
      }
      items_.bias_grad(si) -= g;
      items_.bias_grad(sj) += g;
      ++items_.count(si);
      ++items_.count(sj);
      if (adv) {
        const float* du = users_.delta(su);
        const float* di = items_.delta(si);
        const float* dj = items_.delta(sj);
        for (int k = 0; k < d; ++k) {
          pu_adv_[k] = pu[k] + du[k];
          diff_adv_[k] = diff_[k] + di[k] - dj[k];
        }
        const float x_adv = dot(pu_adv_.data(), diff_adv_.data(), d) + bias_diff;
        const float g_adv = c_.adv.reg_adv * sigmoid(-x_adv);
        tot.adv_loss += softplus(-x_adv);
        for (int k = 0; k < d; ++k) {
          gu[k] -= g_adv * diff_adv_[k];
          gi[k] -= g_adv * pu_adv_[k];
          gj[k] += g_adv * pu_adv_[k];
        }
        items_.bias_grad(si) -= g_adv;
        items_.bias_grad(sj) += g_adv;
      }
    }
    // Pass 3: one optimiser step per touched row (Hogwild writes).
    const Optimizer opt = c_.optimizer;
    const float lr = c_.lr;
    for (size_t s = 0; s < users_.rows().size(); ++s) {
      const Index r = users_.rows()[s];
      apply_row(p_.user_factors + r * d, p_.user_accum ? p_.user_accum + r * d : nullptr,
                users_.grad(static_cast<int>(s)), d, lr, opt);
    }
    for (size_t s = 0; s < items_.rows().size(); ++s) {
      const Index r = items_.rows()[s];
      apply_row(p_.item_factors + r * d, p_.item_accum ? p_.item_accum + r * d : nullptr,
                items_.grad(static_cast<int>(s)), d, lr, opt);
      if (p_.item_bias) {
        const float gb = items_.bias_grad(static_cast<int>(s)) +
                         c_.reg_bias * static_cast<float>(items_.count(static_cast<int>(s))) * p_.item_bias[r];
        apply_scalar(p_.item_bias[r], p_.bias_accum ? p_.bias_accum + r : nullptr, gb, lr, opt);
      }
    }
  }

 private:
  const float* user(std::int32_t u) const { return p_.user_factors + static_cast<Index>(u) * d_; }
  const float* item(std::int32_t i) const { return p_.item_factors + static_cast<Index>(i) * d_; }
  float score_diff(const float* pu, const float* qi, const float* qj, const Sample& s) const {
    float x = 0.0f;
    for (int k = 0; k < d_; ++k) x += pu[k] * (qi[k] - qj[k]);
    if (p_.item_bias) x += p_.item_bias[s.i] - p_.item_bias[s.j];
    return x;
  }
  // Gamma -> Delta per touched row (a block that is not perturbed gets Delta = 0).
  void normalise(TableSlots& slots, bool enabled) {
    for (size_t s = 0; s < slots.rows().size(); ++s) {
      float* delta = slots.delta(static_cast<int>(s));
      if (enabled) fgm_row(delta, d_, c_.adv.eps);
      else std::fill_n(delta, d_, 0.0f);
    }
  }

  MFParams& p_;
  const MFTrainConfig& c_;
  const int d_;
  TableSlots users_, items_;
  std::vector<float> diff_, pu_adv_, diff_adv_;
};

void check_params(const MFParams& p) {
  require(p.n_users > 0 && p.n_items > 0 && p.dim > 0, "model must have at least one user, item and factor");
  require(p.user_factors && p.item_factors, "factor matrices are missing");
}

}  // namespace

void MFTrainConfig::validate() const {
  require(std::isfinite(lr) && lr > 0.0f, "lr must be a positive finite number, got " + std::to_string(lr));
  require(std::isfinite(reg) && reg >= 0.0f, "reg must be >= 0, got " + std::to_string(reg));
  require(std::isfinite(reg_bias) && reg_bias >= 0.0f, "reg_bias must be >= 0");
  adv.validate();
  require(batch_size >= 1, "batch_size must be >= 1");
  require(num_threads >= 0, "num_threads must be >= 0");
}

EpochStats train_mf(MFParams& params, const CsrView& train, const MFTrainConfig& config) {
  return train_mf(params, TrainingIndex(train), config);
}

EpochStats train_mf(MFParams& params, const TrainingIndex& train, const MFTrainConfig& config) {
  config.validate();
  check_params(params);
  require(train.n_users() == params.n_users && train.n_items() == params.n_items,
          "training data has " + std::to_string(train.n_users()) + " users x " + std::to_string(train.n_items()) +
              " items but the model has " + std::to_string(params.n_users) + " x " + std::to_string(params.n_items));
  require(train.nnz() > 0, "training data is empty");
  require(config.optimizer == Optimizer::SGD || (params.user_accum && params.item_accum),
          "Adagrad needs accumulator arrays");
  require(!params.item_bias || config.optimizer == Optimizer::SGD || params.bias_accum,
          "Adagrad needs a bias accumulator");

  const Index total = config.n_samples < 0 ? train.nnz() : config.n_samples;
  const EpochStats out = run_hogwild_epoch(
      total, config.num_threads, mix_seed(config.seed, config.epoch),
      [&](Rng rng, Index begin, Index end, ThreadTotals& tot) {
        TripleSampler<PrefetchMFRows> sampler(train, config.negatives, rng, PrefetchMFRows{&params});
        if (config.batch_size == 1) {
          // The hot path of BPR and APR: the sample stays in registers (no batch buffer).
          SampleStep step(params, config);
          for (Index s = begin; s < end; ++s) {
            const Sample cur = sampler.next();
            if (!cur.ok) {
              ++tot.skipped;
              continue;
            }
            step(cur, tot);
            ++tot.samples;
          }
        } else {
          auto draw = [&](Sample& s) {
            s = sampler.next();
            return s.ok;
          };
          std::vector<Sample> batch;
          BatchStep step(params, config);
          run_batches(begin, end, config.batch_size, batch, tot, draw, step);
        }
      });
  const Index d = params.dim;
  check_divergence(std::isfinite(out.loss) && all_finite(params.user_factors, params.n_users * d) &&
                       all_finite(params.item_factors, params.n_items * d) &&
                       (!params.item_bias || all_finite(params.item_bias, params.n_items)),
                   config.epoch, config.lr, "raise regularisation");
  return out;
}

EpochStats train_mf_on_triples(MFParams& params, const std::int32_t* users, const std::int32_t* pos,
                               const std::int32_t* neg, Index n_triples, const MFTrainConfig& config) {
  config.validate();
  check_params(params);
  require(config.optimizer == Optimizer::SGD || (params.user_accum && params.item_accum),
          "Adagrad needs accumulator arrays");
  std::vector<ThreadTotals> totals(1);
  ThreadTotals& tot = totals[0];
  std::vector<Sample> batch;
  SampleStep sample_step(params, config);
  BatchStep batch_step(params, config);
  for (Index t = 0; t < n_triples;) {
    batch.clear();
    for (; t < n_triples && static_cast<int>(batch.size()) < config.batch_size; ++t) {
      Sample s;
      s.u = users[t];
      s.i = pos[t];
      s.j = neg[t];
      require(s.u >= 0 && s.u < params.n_users && s.i >= 0 && s.i < params.n_items && s.j >= 0 &&
                  s.j < params.n_items && s.i != s.j,
              "triple " + std::to_string(t) + " has an id out of range or i == j");
      s.ok = true;
      batch.push_back(s);
    }
    if (config.batch_size == 1) sample_step(batch[0], tot);
    else batch_step(batch.data(), static_cast<int>(batch.size()), tot);
    tot.samples += static_cast<Index>(batch.size());
  }
  return summarise(totals);
}

Triples sample_triples(const CsrView& train, std::uint64_t seed, int negatives_per_pair, int num_threads) {
  require(negatives_per_pair >= 1, "negatives_per_pair must be >= 1");
  Triples out;
  const Index n = train.nnz() * negatives_per_pair;
  out.users.resize(static_cast<size_t>(n));
  out.pos.resize(static_cast<size_t>(n));
  out.neg.resize(static_cast<size_t>(n));
  ExceptionCarrier carrier;
  // Each user has its own stream, so the draw does not depend on the thread count.
#pragma omp parallel for num_threads(resolve_threads(num_threads)) schedule(dynamic, 256)
  for (std::int32_t u = 0; u < train.n_rows; ++u) {
    carrier.run([&] {
      Rng rng(seed, static_cast<std::uint64_t>(u));
      require(train.row_size(u) < train.n_cols || train.row_size(u) == 0,
              "user " + std::to_string(u) + " interacted with every item: no negative can be sampled");
      for (Index e = train.row_begin(u); e < train.row_end(u); ++e) {
        for (int r = 0; r < negatives_per_pair; ++r) {
          const size_t o = static_cast<size_t>(e * negatives_per_pair + r);
          std::int32_t j;
          do {
            j = static_cast<std::int32_t>(rng.uniform(static_cast<std::uint64_t>(train.n_cols)));
          } while (train.contains(u, j));
          out.users[o] = u;
          out.pos[o] = train.indices[e];
          out.neg[o] = j;
        }
      }
    });
  }
  carrier.rethrow();
  return out;
}

double bpr_gradients(const MFParams& p, const std::int32_t* users, const std::int32_t* pos, const std::int32_t* neg,
                     Index n_triples, float* grad_users, float* grad_items, Index* correct, int num_threads) {
  check_params(p);
  const int d = p.dim;
  const int n_chunks = resolve_threads(num_threads);
  // Per-chunk accumulation buffers: rows are hit by many triples, and atomics on floats would
  // serialise the hot rows. Memory: chunks x (users + items) x dim floats, bounded by the model.
  std::vector<RowMatrixF> gu(static_cast<size_t>(grad_users ? n_chunks : 0));
  std::vector<RowMatrixF> gi(static_cast<size_t>(grad_items ? n_chunks : 0));
  std::vector<double> losses(static_cast<size_t>(n_chunks), 0.0);
  std::vector<Index> corrects(static_cast<size_t>(n_chunks), 0);
  ExceptionCarrier carrier;
#pragma omp parallel for num_threads(n_chunks) schedule(static, 1)
  for (int chunk = 0; chunk < n_chunks; ++chunk) {
    carrier.run([&] {
      if (grad_users) gu[static_cast<size_t>(chunk)] = RowMatrixF::Zero(p.n_users, d);
      if (grad_items) gi[static_cast<size_t>(chunk)] = RowMatrixF::Zero(p.n_items, d);
      const Index begin = n_triples * chunk / n_chunks, end = n_triples * (chunk + 1) / n_chunks;
      for (Index t = begin; t < end; ++t) {
        const std::int32_t u = users[t], i = pos[t], j = neg[t];
        require(u >= 0 && u < p.n_users && i >= 0 && i < p.n_items && j >= 0 && j < p.n_items,
                "triple " + std::to_string(t) + " has an id out of range");
        const float* pu = p.user_factors + static_cast<Index>(u) * d;
        const float* qi = p.item_factors + static_cast<Index>(i) * d;
        const float* qj = p.item_factors + static_cast<Index>(j) * d;
        float x = 0.0f;
        for (int k = 0; k < d; ++k) x += pu[k] * (qi[k] - qj[k]);
        if (p.item_bias) x += p.item_bias[i] - p.item_bias[j];
        losses[static_cast<size_t>(chunk)] += softplus(-x);
        corrects[static_cast<size_t>(chunk)] += x > 0.0f;
        const float g = sigmoid(-x);
        if (grad_users) {
          float* r = gu[static_cast<size_t>(chunk)].row(u).data();
          for (int k = 0; k < d; ++k) r[k] -= g * (qi[k] - qj[k]);
        }
        if (grad_items) {
          float* ri = gi[static_cast<size_t>(chunk)].row(i).data();
          float* rj = gi[static_cast<size_t>(chunk)].row(j).data();
          for (int k = 0; k < d; ++k) {
            ri[k] -= g * pu[k];
            rj[k] += g * pu[k];
          }
        }
      }
    });
  }
  carrier.rethrow();
  if (grad_users) {
    MatrixMapF out(grad_users, p.n_users, d);
    out = gu[0];
    for (int c = 1; c < n_chunks; ++c) out += gu[static_cast<size_t>(c)];
  }
  if (grad_items) {
    MatrixMapF out(grad_items, p.n_items, d);
    out = gi[0];
    for (int c = 1; c < n_chunks; ++c) out += gi[static_cast<size_t>(c)];
  }
  double loss = 0.0;
  Index corr = 0;
  for (int c = 0; c < n_chunks; ++c) {
    loss += losses[static_cast<size_t>(c)];
    corr += corrects[static_cast<size_t>(c)];
  }
  if (correct) *correct = corr;
  return loss;
}

}  // namespace advrec
