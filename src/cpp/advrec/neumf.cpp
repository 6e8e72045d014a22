#include "advrec/neumf.hpp"

#include "advrec/rng.hpp"

#include <algorithm>
#include <string>

namespace advrec {

NeuMFLayout::NeuMFLayout(int gmf, int mlp, std::vector<int> layers)
    : gmf_dim(gmf), mlp_dim(mlp), hidden(std::move(layers)) {
  require(gmf_dim >= 1, "gmf_dim must be >= 1, got " + std::to_string(gmf_dim));
  require(mlp_dim >= 1, "mlp_dim must be >= 1, got " + std::to_string(mlp_dim));
  require(!hidden.empty(), "the MLP needs at least one hidden layer");
  Index at = 0;
  for (std::size_t l = 0; l < hidden.size(); ++l) {
    require(hidden[l] >= 1, "every MLP layer must have >= 1 unit");
    w_offset.push_back(at);
    at += static_cast<Index>(hidden[l]) * layer_in(l);
    b_offset.push_back(at);
    at += hidden[l];
  }
  h_offset = at;
  at += gmf_dim + last();
  bias_offset = at;
  size = at + 2;
}

int NeuMFLayout::widest() const {
  int w = 2 * mlp_dim;
  for (int h : hidden) w = std::max(w, h);
  return w;
}

void NeuMFConfig::validate() const {
  require(mode == NeuMFMode::GMF || mode == NeuMFMode::MLP || mode == NeuMFMode::NeuMF, "mode is not a NeuMF mode");
  require(optimizer == NeuMFOptimizer::SGD || optimizer == NeuMFOptimizer::Adam, "optimizer must be sgd or adam");
  require(std::isfinite(lr) && lr > 0.0f, "lr must be a positive finite number, got " + std::to_string(lr));
  require(std::isfinite(beta1) && beta1 >= 0.0f && beta1 < 1.0f, "beta1 must be in [0, 1), got " + std::to_string(beta1));
  require(std::isfinite(beta2) && beta2 >= 0.0f && beta2 < 1.0f, "beta2 must be in [0, 1), got " + std::to_string(beta2));
  require(std::isfinite(adam_eps) && adam_eps > 0.0f, "adam_eps must be > 0, got " + std::to_string(adam_eps));
  require(std::isfinite(reg) && reg >= 0.0f, "reg must be a finite number >= 0, got " + std::to_string(reg));
  require(std::isfinite(reg_dense) && reg_dense >= 0.0f, "reg_dense must be a finite number >= 0, got " + std::to_string(reg_dense));
  require(negatives >= 1, "negatives must be >= 1, got " + std::to_string(negatives));
  require(batch_size >= 1, "batch_size must be >= 1, got " + std::to_string(batch_size));
  require(num_threads >= 0, "num_threads must be >= 0, got " + std::to_string(num_threads));
}

namespace {

void check_params(const NeuMFParams& p, bool need_moments) {
  require(p.n_users > 0 && p.n_items > 0, "model must have at least one user and item");
  require(p.w.gmf_user && p.w.gmf_item && p.w.mlp_user && p.w.mlp_item && p.w.dense, "a NeuMF parameter array is missing");
  if (need_moments) {
    require(p.m.gmf_user && p.m.gmf_item && p.m.mlp_user && p.m.mlp_item && p.m.dense && p.v.gmf_user &&
                p.v.gmf_item && p.v.mlp_user && p.v.mlp_item && p.v.dense && p.step,
            "Adam needs its moment arrays and step counter");
  }
}

// One optimiser step on n values (grad already includes any L2 term).
struct Step {
  NeuMFOptimizer opt;
  float lr, beta1, beta2, eps, correction1, correction2;

  void apply(float* __restrict theta, float* __restrict m, float* __restrict v, const float* __restrict g, Index n) const {
    if (opt == NeuMFOptimizer::SGD) {
      for (Index k = 0; k < n; ++k) theta[k] -= lr * g[k];
      return;
    }
    for (Index k = 0; k < n; ++k) {
      m[k] = beta1 * m[k] + (1.0f - beta1) * g[k];
      v[k] = beta2 * v[k] + (1.0f - beta2) * g[k] * g[k];
      theta[k] -= lr * (m[k] / correction1) / (std::sqrt(v[k] / correction2) + eps);
    }
  }
};

// The rows a mini-batch touched and their summed gradients ([GMF part | MLP part] per row).
class RowGrads {
 public:
  RowGrads(std::int32_t n_rows, int width) : slot_(static_cast<std::size_t>(n_rows), -1), width_(width) {}
  float* row(std::int32_t r) {
    std::int32_t& s = slot_[static_cast<std::size_t>(r)];
    if (s < 0) {
      s = static_cast<std::int32_t>(rows_.size());
      rows_.push_back(r);
      grads_.resize(rows_.size() * static_cast<std::size_t>(width_), 0.0f);
    }
    return grads_.data() + static_cast<std::size_t>(s) * width_;
  }
  const std::vector<std::int32_t>& rows() const { return rows_; }
  float* grad(std::size_t k) { return grads_.data() + k * static_cast<std::size_t>(width_); }
  void clear() {
    for (auto r : rows_) slot_[static_cast<std::size_t>(r)] = -1;
    rows_.clear();
    grads_.clear();
  }

 private:
  std::vector<std::int32_t> slot_;
  std::vector<std::int32_t> rows_;
  std::vector<float> grads_;
  int width_;
};

// Applies a mini-batch's gradients: the dense ranges the mode uses and every touched row.
void apply_batch(NeuMFParams& p, const NeuMFConfig& c, std::vector<float>& gd, RowGrads& users, RowGrads& items,
                 std::vector<float>& scratch) {
  const NeuMFLayout& L = p.layout;
  Step step{c.optimizer, c.lr, c.beta1, c.beta2, c.adam_eps, 1.0f, 1.0f};
  if (c.optimizer == NeuMFOptimizer::Adam) {
    std::int64_t t;
#pragma omp atomic capture
    t = ++(*p.step);
    step.correction1 = 1.0f - static_cast<float>(std::pow(static_cast<double>(c.beta1), static_cast<double>(t)));
    step.correction2 = 1.0f - static_cast<float>(std::pow(static_cast<double>(c.beta2), static_cast<double>(t)));
  }
  const bool gmf = c.mode != NeuMFMode::MLP, mlp = c.mode != NeuMFMode::GMF;
  auto dense_range = [&](Index begin, Index n, bool decay) {
    float* g = gd.data() + begin;
    if (decay && c.reg_dense > 0.0f) {
      for (Index k = 0; k < n; ++k) g[k] += c.reg_dense * p.w.dense[begin + k];
    }
    step.apply(p.w.dense + begin, p.m.dense ? p.m.dense + begin : nullptr, p.v.dense ? p.v.dense + begin : nullptr, g, n);
  };
  if (mlp) {
    for (std::size_t l = 0; l < L.hidden.size(); ++l) {
      dense_range(L.w_offset[l], static_cast<Index>(L.hidden[l]) * L.layer_in(l), true);
      dense_range(L.b_offset[l], L.hidden[l], false);
    }
    dense_range(L.h_offset + L.gmf_dim, L.last(), true);
  }
  if (gmf) dense_range(L.h_offset, L.gmf_dim, true);
  dense_range(L.bias_offset + (c.mode == NeuMFMode::MLP ? 1 : 0), 1, false);
  std::fill(gd.begin(), gd.end(), 0.0f);

  const int g = L.gmf_dim, e = L.mlp_dim;
  scratch.resize(static_cast<std::size_t>(std::max(g, e)));
  auto rows = [&](RowGrads& rg, float* wg, float* mg, float* vg, float* wm, float* mm, float* vm) {
    for (std::size_t k = 0; k < rg.rows().size(); ++k) {
      const Index r = rg.rows()[k];
      const float* grad = rg.grad(k);
      auto one = [&](float* w, float* m, float* v, const float* gr, int dim) {
        float* theta = w + r * dim;
        for (int j = 0; j < dim; ++j) scratch[j] = gr[j] + c.reg * theta[j];
        step.apply(theta, m ? m + r * dim : nullptr, v ? v + r * dim : nullptr, scratch.data(), dim);
      };
      if (gmf) one(wg, mg, vg, grad, g);
      if (mlp) one(wm, mm, vm, grad + g, e);
    }
    rg.clear();
  };
  rows(users, p.w.gmf_user, p.m.gmf_user, p.v.gmf_user, p.w.mlp_user, p.m.mlp_user, p.v.mlp_user);
  rows(items, p.w.gmf_item, p.m.gmf_item, p.v.gmf_item, p.w.mlp_item, p.m.mlp_item, p.v.mlp_item);
}

struct alignas(64) Totals {
  Index instances = 0, correct = 0;
  double loss = 0.0;
};

}  // namespace

NeuMFStats train_neumf(NeuMFParams& params, const CsrView& train, const NeuMFConfig& config) {
  config.validate();
  check_params(params, config.optimizer == NeuMFOptimizer::Adam);
  require(train.n_rows == params.n_users && train.n_cols == params.n_items,
          "training data has " + std::to_string(train.n_rows) + " users x " + std::to_string(train.n_cols) +
              " items but the model has " + std::to_string(params.n_users) + " x " + std::to_string(params.n_items));
  train.validate("train");
  require(train.nnz() > 0, "training data is empty");
  const NeuMFLayout& L = params.layout;
  const Index nnz = train.nnz();

  // The epoch's order of the positives: one shuffle, from (seed, epoch) only.
  const std::vector<std::int32_t> rows_of = entry_rows(train);
  std::vector<Index> order(static_cast<std::size_t>(nnz));
  for (Index e = 0; e < nnz; ++e) order[static_cast<std::size_t>(e)] = e;
  {
    Rng rng(config.seed, mix_seed(config.epoch, 0x4E65754DULL));
    for (Index e = nnz - 1; e > 0; --e) std::swap(order[static_cast<std::size_t>(e)], order[rng.uniform(static_cast<std::uint64_t>(e + 1))]);
  }

  const int threads = resolve_threads(config.num_threads);
  std::vector<Totals> totals(static_cast<std::size_t>(threads));
  ExceptionCarrier carrier;
  const int width = L.gmf_dim + L.mlp_dim;
  // Contiguous slices of the shuffled positives, one per thread; each thread steps the shared
  // parameters after each of its own mini-batches (Hogwild).
#pragma omp parallel num_threads(threads)
  {
    carrier.run([&] {
      const int t = thread_index();
      Rng rng(config.seed, mix_seed(config.epoch, static_cast<std::uint64_t>(t), 0x6E6567ULL));
      NeuMFScratch<float> s(L);
      std::vector<float> gd(static_cast<std::size_t>(L.size), 0.0f), scratch;
      RowGrads users(params.n_users, width), items(params.n_items, width);
      Totals& tot = totals[static_cast<std::size_t>(t)];
      int in_batch = 0;
      const Index begin = nnz * t / threads, end = nnz * (t + 1) / threads;
      auto instance = [&](std::int32_t u, std::int32_t i, bool positive) {
        const float* pg = params.w.gmf_user + static_cast<Index>(u) * L.gmf_dim;
        const float* qg = params.w.gmf_item + static_cast<Index>(i) * L.gmf_dim;
        const float* pm = params.w.mlp_user + static_cast<Index>(u) * L.mlp_dim;
        const float* qm = params.w.mlp_item + static_cast<Index>(i) * L.mlp_dim;
        const float logit = neumf_forward(L, config.mode, params.w.dense, pg, qg, pm, qm, s);
        float dlogit;
        tot.loss += log_loss(logit, positive, dlogit);
        tot.correct += (logit > 0.0f) == positive;
        ++tot.instances;
        float* gu = users.row(u);
        float* gi = items.row(i);
        neumf_backward(L, config.mode, params.w.dense, pg, qg, dlogit, s, gd.data(), gu, gi, gu + L.gmf_dim,
                       gi + L.gmf_dim);
        if (++in_batch == config.batch_size) {
          apply_batch(params, config, gd, users, items, scratch);
          in_batch = 0;
        }
      };
      for (Index k = begin; k < end; ++k) {
        if (carrier.failed()) return;
        const Index e = order[static_cast<std::size_t>(k)];
        const std::int32_t u = rows_of[static_cast<std::size_t>(e)], i = train.indices[e];
        instance(u, i, true);
        if (train.row_size(u) >= train.n_cols) continue;  // no negative exists for this user
        for (int n = 0; n < config.negatives; ++n) {
          std::int32_t j;
          do {
            j = static_cast<std::int32_t>(rng.uniform(static_cast<std::uint64_t>(train.n_cols)));
          } while (train.contains(u, j));
          instance(u, j, false);
        }
      }
      if (in_batch > 0) apply_batch(params, config, gd, users, items, scratch);
    });
  }
  carrier.rethrow();

  NeuMFStats out;
  Index correct = 0;
  for (const auto& t : totals) {
    out.instances += t.instances;
    out.loss += t.loss;
    correct += t.correct;
  }
  if (out.instances > 0) {
    out.loss /= static_cast<double>(out.instances);
    out.accuracy = static_cast<double>(correct) / static_cast<double>(out.instances);
  }
  const Index nu = params.n_users, ni = params.n_items;
  if (!std::isfinite(out.loss) || !all_finite(params.w.dense, L.size) ||
      !all_finite(params.w.gmf_user, nu * L.gmf_dim) || !all_finite(params.w.gmf_item, ni * L.gmf_dim) ||
      !all_finite(params.w.mlp_user, nu * L.mlp_dim) || !all_finite(params.w.mlp_item, ni * L.mlp_dim)) {
    throw NumericalError("NeuMF training diverged: parameters became NaN or infinite (lower lr)");
  }
  return out;
}

namespace {

// Scoring splits the first MLP layer into a user part (W_1[:, :e] p + b_1) and an item part
// (W_1[:, e:] q), so a block of users x items computes each part once per row; pairs use the same
// two functions and the same tail, so every path gives bit-identical scores for a pair.
void first_layer_part(const NeuMFLayout& L, const float* dense, const float* x, bool user, float* out) {
  const int e = L.mlp_dim, in = L.layer_in(0), h1 = L.hidden[0];
  const float* W = dense + L.w_offset[0];
  const float* b = dense + L.b_offset[0];
  for (int o = 0; o < h1; ++o) {
    const float* row = W + static_cast<Index>(o) * in + (user ? 0 : e);
    float a = user ? b[o] : 0.0f;
    for (int k = 0; k < e; ++k) a += row[k] * x[k];
    out[o] = a;
  }
}

// The logit from the two first-layer parts (MLP) and the GMF rows.
float score_tail(const NeuMFLayout& L, NeuMFMode mode, const float* dense, const float* pg, const float* qg,
                 const float* up, const float* ip, std::vector<float>& a, std::vector<float>& b) {
  const float* h = dense + L.h_offset;
  float logit = 0.0f;
  if (mode != NeuMFMode::MLP) {
    for (int k = 0; k < L.gmf_dim; ++k) logit += h[k] * (pg[k] * qg[k]);
  }
  if (mode != NeuMFMode::GMF) {
    const float* z;
    if (L.hidden.empty()) {
      // No hidden layer: z_L = z_0 = [p; q] (up/ip hold the raw MLP rows).
      for (int k = 0; k < L.mlp_dim; ++k) logit += h[L.gmf_dim + k] * up[k] + h[L.gmf_dim + L.mlp_dim + k] * ip[k];
      z = nullptr;
    } else {
      const int h1 = L.hidden[0];
      for (int o = 0; o < h1; ++o) {
        const float v = up[o] + ip[o];
        a[o] = v > 0.0f ? v : 0.0f;
      }
      std::vector<float>* cur = &a;
      std::vector<float>* nxt = &b;
      for (std::size_t l = 1; l < L.hidden.size(); ++l) {
        const int in = L.hidden[l - 1], out = L.hidden[l];
        const float* W = dense + L.w_offset[l];
        const float* bias = dense + L.b_offset[l];
        for (int o = 0; o < out; ++o) {
          float v = bias[o];
          const float* row = W + static_cast<Index>(o) * in;
          for (int k = 0; k < in; ++k) v += row[k] * (*cur)[k];
          (*nxt)[o] = v > 0.0f ? v : 0.0f;
        }
        std::swap(cur, nxt);
      }
      z = cur->data();
      for (int k = 0; k < L.last(); ++k) logit += h[L.gmf_dim + k] * z[k];
    }
  }
  return logit + dense[L.bias_offset + (mode == NeuMFMode::MLP ? 1 : 0)];
}

int part_width(const NeuMFLayout& L) { return L.hidden.empty() ? L.mlp_dim : L.hidden[0]; }

void part_of(const NeuMFParams& p, const float* row, bool user, float* out) {
  if (p.layout.hidden.empty()) {
    std::copy(row, row + p.layout.mlp_dim, out);
  } else {
    first_layer_part(p.layout, p.w.dense, row, user, out);
  }
}

void check_ids(const std::int32_t* ids, Index n, std::int32_t upper, const char* name) {
  for (Index k = 0; k < n; ++k) {
    if (ids[k] < 0 || ids[k] >= upper) {
      require(false, std::string(name) + " contains id " + std::to_string(ids[k]) + ", outside [0, " + std::to_string(upper) + ")");
    }
  }
}

}  // namespace

void neumf_score_block(const NeuMFParams& params, NeuMFMode mode, const std::int32_t* users, Index n_users,
                       const std::int32_t* items, Index n_items, float* out, int num_threads) {
  check_params(params, false);
  check_ids(users, n_users, params.n_users, "users");
  check_ids(items, n_items, params.n_items, "items");
  const NeuMFLayout& L = params.layout;
  const int pw = part_width(L);
  const int threads = resolve_threads(num_threads);
  std::vector<float> item_parts(static_cast<std::size_t>(n_items) * pw);
  if (mode != NeuMFMode::GMF) {
#pragma omp parallel for num_threads(threads) schedule(static)
    for (Index c = 0; c < n_items; ++c) {
      part_of(params, params.w.mlp_item + static_cast<Index>(items[c]) * L.mlp_dim, false, item_parts.data() + c * pw);
    }
  }
#pragma omp parallel num_threads(threads)
  {
    std::vector<float> up(static_cast<std::size_t>(pw)), a(static_cast<std::size_t>(L.widest())), b(a.size());
#pragma omp for schedule(dynamic, 1)
    for (Index r = 0; r < n_users; ++r) {
      const std::int32_t u = users[r];
      if (mode != NeuMFMode::GMF) part_of(params, params.w.mlp_user + static_cast<Index>(u) * L.mlp_dim, true, up.data());
      const float* pg = params.w.gmf_user + static_cast<Index>(u) * L.gmf_dim;
      float* row = out + r * n_items;
      for (Index c = 0; c < n_items; ++c) {
        const float* qg = params.w.gmf_item + static_cast<Index>(items[c]) * L.gmf_dim;
        row[c] = score_tail(L, mode, params.w.dense, pg, qg, up.data(), item_parts.data() + c * pw, a, b);
      }
    }
  }
}

void neumf_score_pairs(const NeuMFParams& params, NeuMFMode mode, const std::int32_t* users,
                       const std::int32_t* items, Index n, float* out, int num_threads) {
  check_params(params, false);
  check_ids(users, n, params.n_users, "users");
  check_ids(items, n, params.n_items, "items");
  const NeuMFLayout& L = params.layout;
  const int pw = part_width(L);
#pragma omp parallel num_threads(resolve_threads(num_threads))
  {
    std::vector<float> up(static_cast<std::size_t>(pw)), ip(up.size()), a(static_cast<std::size_t>(L.widest())), b(a.size());
#pragma omp for schedule(static)
    for (Index k = 0; k < n; ++k) {
      const std::int32_t u = users[k], i = items[k];
      if (mode != NeuMFMode::GMF) {
        part_of(params, params.w.mlp_user + static_cast<Index>(u) * L.mlp_dim, true, up.data());
        part_of(params, params.w.mlp_item + static_cast<Index>(i) * L.mlp_dim, false, ip.data());
      }
      out[k] = score_tail(L, mode, params.w.dense, params.w.gmf_user + static_cast<Index>(u) * L.gmf_dim,
                          params.w.gmf_item + static_cast<Index>(i) * L.gmf_dim, up.data(), ip.data(), a, b);
    }
  }
}

void neumf_fuse(const NeuMFLayout& L, float* dense, float alpha) {
  require(std::isfinite(alpha) && alpha >= 0.0f && alpha <= 1.0f, "alpha must be in [0, 1], got " + std::to_string(alpha));
  for (int k = 0; k < L.gmf_dim; ++k) dense[L.h_offset + k] *= alpha;
  for (int k = 0; k < L.last(); ++k) dense[L.h_offset + L.gmf_dim + k] *= 1.0f - alpha;
  dense[L.bias_offset] = alpha * dense[L.bias_offset] + (1.0f - alpha) * dense[L.bias_offset + 1];
}

}  // namespace advrec
