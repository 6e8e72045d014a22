#include "advrec/irgan.hpp"

#include "advrec/rng.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>

namespace advrec {
namespace {

struct alignas(64) IRGANTotals {
  Index samples = 0, correct = 0, drawn = 0, hits = 0;
  double loss = 0.0, reward = 0.0;
};

// The users with at least one training item, in a random order drawn from (seed, epoch, tag) on
// one stream, so that the order does not depend on the number of threads.
std::vector<std::int32_t> shuffled_users(const CsrView& train, const IRGANConfig& c, std::uint64_t tag) {
  std::vector<std::int32_t> order;
  for (std::int32_t u = 0; u < train.n_rows; ++u)
    if (train.row_size(u) > 0) order.push_back(u);
  Rng r(mix_seed(c.seed, c.epoch, tag), 0);
  for (size_t k = order.size(); k > 1; --k) std::swap(order[k - 1], order[r.uniform(k)]);
  return order;
}

// A thread's mini-batch workspace: the generator's policy over all items for a batch of users.
class PolicyBatch {
 public:
  PolicyBatch(const IRGANParams& p, int max_batch)
      : p_(p), U_(max_batch, p.dim), P_(max_batch, p.n_items), cdf_(static_cast<size_t>(p.n_items)) {}

  // Rows 0..n of P = softmax((U G^T + b) / tau) for the batch's users.
  void compute(const std::int32_t* users, int n, float tau) {
    const int K = p_.dim;
    for (int b = 0; b < n; ++b) std::copy_n(p_.g_users + static_cast<Index>(users[b]) * K, K, U_.row(b).data());
    ConstMatrixMapF G(p_.g_items, p_.n_items, K);
    P_.topRows(n).noalias() = U_.topRows(n) * G.transpose();
    P_.topRows(n).rowwise() += ConstVectorMapF(p_.g_bias, p_.n_items).transpose();
    for (int b = 0; b < n; ++b) irgan_softmax(P_.row(b).data(), p_.n_items, tau);
  }

  // Prepares sampling from row b of P.
  void prepare_row(int b) {
    const float* p = P_.row(b).data();
    double acc = 0.0;  // double: 40k float additions would lose the tail of the distribution
    for (Index k = 0; k < p_.n_items; ++k) {
      acc += p[k];
      cdf_[static_cast<size_t>(k)] = acc;
    }
  }
  std::int32_t draw(Rng& rng) const {
    const double x = rng.uniform_double() * cdf_.back();
    const auto it = std::upper_bound(cdf_.begin(), cdf_.end(), x);
    return static_cast<std::int32_t>(std::min<std::ptrdiff_t>(it - cdf_.begin(), p_.n_items - 1));
  }

  RowMatrixF& U() { return U_; }
  RowMatrixF& P() { return P_; }

 private:
  const IRGANParams& p_;
  RowMatrixF U_, P_;
  std::vector<double> cdf_;
};

float reward_of(float f, IRGANReward kind) {
  return kind == IRGANReward::Paper ? layers::softplus(f) : 2.0f * (layers::sigmoid(f) - 0.5f);
}

float d_logit(const IRGANParams& p, std::int32_t u, std::int32_t i) {
  const int K = p.dim;
  const float* a = p.d_users + static_cast<Index>(u) * K;
  const float* q = p.d_items + static_cast<Index>(i) * K;
  float f = p.d_bias[i];
  for (int k = 0; k < K; ++k) f += a[k] * q[k];
  return f;
}

void sgd_row(float* theta, const float* grad, int d, float lr, float reg) {
  for (int k = 0; k < d; ++k) theta[k] -= lr * (grad[k] + reg * theta[k]);
}

void check_finite(const IRGANParams& p, double loss, const IRGANConfig& c, const char* player) {
  const Index K = p.dim;
  const bool ok = std::isfinite(loss) && all_finite(p.g_users, p.n_users * K) && all_finite(p.g_items, p.n_items * K) &&
                  all_finite(p.g_bias, p.n_items) && all_finite(p.d_users, p.n_users * K) &&
                  all_finite(p.d_items, p.n_items * K) && all_finite(p.d_bias, p.n_items);
  if (!ok) {
    throw NumericalError(std::string("IRGAN training diverged in the ") + player +
                         " step: parameters became NaN or infinite (epoch " + std::to_string(c.epoch) +
                         "); lower the learning rates (lr_g=" + std::to_string(c.lr_g) +
                         ", lr_d=" + std::to_string(c.lr_d) + ")");
  }
}

void check_shapes(const IRGANParams& p, const CsrView& train, const IRGANConfig& c) {
  c.validate();
  p.validate();
  require(train.n_rows == p.n_users && train.n_cols == p.n_items,
          "training data has " + std::to_string(train.n_rows) + " users x " + std::to_string(train.n_cols) +
              " items but the model has " + std::to_string(p.n_users) + " x " + std::to_string(p.n_items));
  require(train.nnz() > 0, "training data is empty");
}

// Runs body(thread workspace, users of one batch, n, rng, totals) over the shuffled users in
// per-thread mini-batches.
template <class Body>
std::vector<IRGANTotals> for_batches(const IRGANParams& p, const CsrView& train, const IRGANConfig& c,
                                     std::uint64_t tag, Body body) {
  const std::vector<std::int32_t> order = shuffled_users(train, c, tag);
  const int n_chunks = resolve_threads(c.num_threads);
  std::vector<IRGANTotals> totals(static_cast<size_t>(n_chunks));
  ExceptionCarrier carrier;
  const Index n = static_cast<Index>(order.size());
#pragma omp parallel for num_threads(n_chunks) schedule(static, 1)
  for (int chunk = 0; chunk < n_chunks; ++chunk) {
    carrier.run([&] {
      const Index begin = n * chunk / n_chunks, end = n * (chunk + 1) / n_chunks;
      Rng rng(mix_seed(c.seed, c.epoch, tag + 1), static_cast<std::uint64_t>(chunk));
      PolicyBatch work(p, c.batch_size);
      for (Index s = begin; s < end; s += c.batch_size) {
        const int nb = static_cast<int>(std::min<Index>(c.batch_size, end - s));
        body(work, order.data() + s, nb, rng, totals[static_cast<size_t>(chunk)]);
      }
    });
  }
  carrier.rethrow();
  return totals;
}

}  // namespace

void IRGANConfig::validate() const {
  require(std::isfinite(lr_g) && lr_g > 0.0f, "lr_g must be a positive finite number, got " + std::to_string(lr_g));
  require(std::isfinite(lr_d) && lr_d > 0.0f, "lr_d must be a positive finite number, got " + std::to_string(lr_d));
  require(std::isfinite(reg) && reg >= 0.0f, "reg must be a finite number >= 0, got " + std::to_string(reg));
  require(std::isfinite(temperature) && temperature > 0.0f,
          "temperature must be a positive finite number, got " + std::to_string(temperature));
  require(std::isfinite(sample_lambda) && sample_lambda >= 0.0f && sample_lambda < 1.0f,
          "sample_lambda must be in [0, 1), got " + std::to_string(sample_lambda));
  require(g_samples >= 1, "g_samples must be >= 1, got " + std::to_string(g_samples));
  require(reward == IRGANReward::Paper || reward == IRGANReward::Centered, "reward must be 'paper' or 'centered'");
  require(batch_size >= 1, "batch_size must be >= 1, got " + std::to_string(batch_size));
  require(num_threads >= 0, "num_threads must be >= 0, got " + std::to_string(num_threads));
}

void IRGANParams::validate() const {
  require(n_users > 0 && n_items > 0 && dim > 0, "IRGAN needs at least one user, one item and one factor");
  require(g_users && g_items && g_bias && d_users && d_items && d_bias, "IRGAN parameter arrays are missing");
}

EpochStats train_irgan_discriminator(IRGANParams& p, const CsrView& train, const IRGANConfig& c) {
  check_shapes(p, train, c);
  const int K = p.dim;
  auto totals = for_batches(p, train, c, 0x16A0D, [&](PolicyBatch& work, const std::int32_t* users, int n, Rng& rng,
                                                      IRGANTotals& tot) {
    work.compute(users, n, c.temperature);
    std::vector<std::int32_t> items;
    std::vector<float> labels, gu(static_cast<size_t>(K)), gi, gb;
    for (int b = 0; b < n; ++b) {
      const std::int32_t u = users[b];
      const Index n_u = train.row_size(u);
      // True pairs, then as many items generated by the current policy.
      items.assign(train.row_data(u), train.row_data(u) + n_u);
      labels.assign(static_cast<size_t>(n_u), 1.0f);
      work.prepare_row(b);
      for (Index s = 0; s < n_u; ++s) {
        items.push_back(work.draw(rng));
        labels.push_back(0.0f);
      }
      const Index m = static_cast<Index>(items.size());
      gi.resize(static_cast<size_t>(m) * K);
      gb.resize(static_cast<size_t>(m));
      float* du = p.d_users + static_cast<Index>(u) * K;
      tot.loss += irgan_discriminator_gradients(du, p.d_items, p.d_bias, K, items.data(), labels.data(), m, gu.data(),
                                                gi.data(), gb.data(), &tot.correct);
      tot.samples += m;
      for (Index e = 0; e < m; ++e) {
        const Index i = items[static_cast<size_t>(e)];
        sgd_row(p.d_items + i * K, gi.data() + e * K, K, c.lr_d, c.reg);
        sgd_row(p.d_bias + i, gb.data() + e, 1, c.lr_d, c.reg);
      }
      sgd_row(du, gu.data(), K, c.lr_d, c.reg);
    }
  });
  EpochStats out;
  for (const auto& t : totals) {
    out.samples += t.samples;
    out.loss += t.loss;
    out.accuracy += static_cast<double>(t.correct);
  }
  if (out.samples) {
    out.loss /= static_cast<double>(out.samples);
    out.accuracy /= static_cast<double>(out.samples);
  }
  check_finite(p, out.loss, c, "discriminator");
  return out;
}

EpochStats train_irgan_generator(IRGANParams& p, const CsrView& train, const IRGANConfig& c) {
  check_shapes(p, train, c);
  const int K = p.dim;
  const Index I = p.n_items;
  const float lam = c.sample_lambda;
  auto totals = for_batches(p, train, c, 0x16A06, [&](PolicyBatch& work, const std::int32_t* users, int n, Rng& rng,
                                                      IRGANTotals& tot) {
    work.compute(users, n, c.temperature);
    RowMatrixF gamma(n, I);
    std::vector<std::int32_t> samples;
    std::vector<float> wr;
    for (int b = 0; b < n; ++b) {
      const std::int32_t u = users[b];
      const Index n_u = train.row_size(u);
      const std::int32_t* pos = train.row_data(u);
      const float* prob = work.P().row(b).data();
      work.prepare_row(b);
      const Index S = static_cast<Index>(c.g_samples) * n_u;
      samples.resize(static_cast<size_t>(S));
      wr.resize(static_cast<size_t>(S));
      for (Index s = 0; s < S; ++s) {
        std::int32_t i;
        if (lam > 0.0f && rng.uniform_float() < lam) {
          i = pos[rng.uniform(static_cast<std::uint64_t>(n_u))];
        } else {
          i = work.draw(rng);
          ++tot.drawn;
          tot.hits += train.contains(u, i);
        }
        // Importance weight p / pn of the mixture pn = (1 - lam) p + lam * uniform(positives).
        const float pn = (1.0f - lam) * prob[i] + (train.contains(u, i) ? lam / static_cast<float>(n_u) : 0.0f);
        const float r = reward_of(d_logit(p, u, i), c.reward);
        tot.reward += r;
        samples[static_cast<size_t>(s)] = i;
        wr[static_cast<size_t>(s)] = r * prob[i] / pn;
      }
      tot.loss += irgan_logit_coefficients(prob, I, samples.data(), wr.data(), S, c.temperature, gamma.row(b).data()) *
                  static_cast<double>(S);
      tot.samples += S;
    }
    // Gradients through the logits U G^T + b: one GEMM each, with the parameters of this batch.
    RowMatrixF& U = work.U();
    MatrixMapF G(p.g_items, I, K);
    const RowMatrixF grad_users = gamma * G;                              // n x K
    const RowMatrixF grad_items = gamma.transpose() * U.topRows(n);       // I x K
    const Eigen::VectorXf grad_bias = gamma.colwise().sum().transpose();  // I
    G -= c.lr_g * (grad_items + c.reg * G);
    VectorMapF gb(p.g_bias, I);
    gb -= c.lr_g * (grad_bias + c.reg * gb);
    for (int b = 0; b < n; ++b)
      sgd_row(p.g_users + static_cast<Index>(users[b]) * K, grad_users.row(b).data(), K, c.lr_g, c.reg);
  });
  EpochStats out;
  Index drawn = 0, hits = 0;
  for (const auto& t : totals) {
    out.samples += t.samples;
    out.loss += t.loss;
    out.adv_loss += t.reward;
    drawn += t.drawn;
    hits += t.hits;
  }
  if (out.samples) {
    out.loss /= static_cast<double>(out.samples);
    out.adv_loss /= static_cast<double>(out.samples);
  }
  if (drawn) out.accuracy = static_cast<double>(hits) / static_cast<double>(drawn);
  check_finite(p, out.loss, c, "generator");
  return out;
}

}  // namespace advrec
