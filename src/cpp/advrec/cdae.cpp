#include "advrec/cdae.hpp"

#include "advrec/kernels.hpp"
#include "advrec/rng.hpp"
#include "advrec/user_epoch.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>

namespace advrec {
namespace {

template <class T>
T* row_of(T* base, Index r, int d) {
  return base ? base + r * d : nullptr;
}

CDAEView<float> view_of(const CDAEParams& p) {
  return CDAEView<float>{p.n_users, p.n_items, p.dim, p.item_in, p.user_node, p.hidden_bias, p.item_out, p.out_bias};
}

// One user's stochastic step: corrupt, sample negatives, forward/backward, then one optimiser step
// per touched row (gradients computed with the parameters fixed, so a step sees one consistent
// model apart from other threads' concurrent Hogwild writes).
class CDAEStep {
 public:
  CDAEStep(CDAEParams& p, const CDAEConfig& c) : p_(p), c_(c), grad_row_(static_cast<size_t>(p.dim)) {}

  void operator()(std::int32_t u, const CsrView& train, Rng& rng, UserEpochTotals& tot) {
    const std::int32_t* items = train.row_data(u);
    const Index n_u = train.row_size(u);
    // Corruption: each 1 survives with probability 1 - q and is scaled to 1/(1-q) (unbiased).
    kept_.clear();
    if (c_.corruption > 0.0f) {
      for (Index e = 0; e < n_u; ++e)
        if (rng.uniform_float() >= c_.corruption) kept_.push_back(items[e]);
    } else {
      kept_.assign(items, items + n_u);
    }
    // Outputs: every training item (label 1), then negatives * n_u sampled zeros (label 0).
    out_.assign(items, items + n_u);
    labels_.assign(static_cast<size_t>(n_u), 1.0f);
    if (n_u < train.n_cols) {
      const Index n_neg = static_cast<Index>(c_.negatives) * n_u;
      for (Index s = 0; s < n_neg; ++s) {
        std::int32_t j;
        do {
          j = static_cast<std::int32_t>(rng.uniform(static_cast<std::uint64_t>(train.n_cols)));
        } while (train.contains(u, j));
        out_.push_back(j);
        labels_.push_back(0.0f);
      }
    }
    CDAEUserBatch<float> b;
    b.user = u;
    b.in_items = kept_.data();
    b.n_in = static_cast<Index>(kept_.size());
    b.in_value = 1.0f / (1.0f - c_.corruption);
    b.out_items = out_.data();
    b.labels = labels_.data();
    b.n_out = static_cast<Index>(out_.size());
    tot.loss += cdae_user_gradients(view_of(p_), c_, b, g_, &tot.correct);
    tot.entries += b.n_out;
    apply(b);
  }

 private:
  void step_row(float* theta, float* accum, const float* grad, int d) {
    float* __restrict g = grad_row_.data();
    const float reg = c_.reg;
#pragma omp simd
    for (int k = 0; k < d; ++k) g[k] = grad[k] + reg * theta[k];
    kernels::apply_row(theta, accum, g, d, c_.lr, c_.optimizer);
  }

  void apply(const CDAEUserBatch<float>& b) {
    const int K = p_.dim;
    // Output rows first (their gradients were taken at the old W', as were the input ones).
    for (Index o = 0; o < b.n_out; ++o) {
      const Index i = b.out_items[o];
      step_row(p_.item_out + i * K, row_of(p_.item_out_accum, i, K), g_.out.data() + o * K, K);
      step_row(p_.out_bias + i, row_of(p_.out_bias_accum, i, 1), g_.out_bias.data() + o, 1);
    }
    const float* pre = g_.pre.data();
    in_grad_.resize(static_cast<size_t>(K));
    for (int k = 0; k < K; ++k) in_grad_[static_cast<size_t>(k)] = b.in_value * pre[k];
    for (Index j = 0; j < b.n_in; ++j) {
      const Index i = b.in_items[j];
      step_row(p_.item_in + i * K, row_of(p_.item_in_accum, i, K), in_grad_.data(), K);
    }
    step_row(p_.user_node + static_cast<Index>(b.user) * K, row_of(p_.user_node_accum, b.user, K), pre, K);
    step_row(p_.hidden_bias, p_.hidden_bias_accum, pre, K);
  }

  CDAEParams& p_;
  const CDAEConfig& c_;
  CDAEUserGrad<float> g_;
  std::vector<std::int32_t> kept_, out_;
  std::vector<float> labels_, in_grad_, grad_row_;
};

void check_finite(const CDAEParams& p, double loss, const CDAEConfig& c) {
  const Index K = p.dim;
  const bool ok = std::isfinite(loss) && all_finite(p.item_in, p.n_items * K) && all_finite(p.item_out, p.n_items * K) &&
                  all_finite(p.user_node, p.n_users * K) && all_finite(p.hidden_bias, K) &&
                  all_finite(p.out_bias, p.n_items);
  if (!ok) {
    throw NumericalError("CDAE training diverged: parameters became NaN or infinite (epoch " + std::to_string(c.epoch) +
                         "); lower the learning rate (lr=" + std::to_string(c.lr) + ")");
  }
}

}  // namespace

void CDAEConfig::validate() const {
  require(std::isfinite(lr) && lr > 0.0f, "lr must be a positive finite number, got " + std::to_string(lr));
  require(std::isfinite(reg) && reg >= 0.0f, "reg must be a finite number >= 0, got " + std::to_string(reg));
  require(std::isfinite(corruption) && corruption >= 0.0f && corruption < 1.0f,
          "corruption must be in [0, 1), got " + std::to_string(corruption));
  require(negatives >= 0, "negatives must be >= 0, got " + std::to_string(negatives));
  require(valid_activation(hidden), "hidden must be one of identity, sigmoid, tanh, relu");
  require(output == Activation::Identity || output == Activation::Sigmoid,
          std::string("output must be 'identity' or 'sigmoid', got '") + activation_name(output) + "'");
  require(loss == CDAELoss::Square || loss == CDAELoss::Logistic, "loss must be 'square' or 'logistic'");
  require(loss != CDAELoss::Logistic || output == Activation::Sigmoid,
          "loss='logistic' is the cross-entropy of a sigmoid output: it needs output='sigmoid'");
  require(optimizer == Optimizer::SGD || optimizer == Optimizer::Adagrad, "optimizer must be 'sgd' or 'adagrad'");
  require(num_threads >= 0, "num_threads must be >= 0, got " + std::to_string(num_threads));
}

void CDAEParams::validate(const CDAEConfig* config) const {
  require(n_users > 0 && n_items > 0 && dim > 0, "CDAE needs at least one user, one item and one factor");
  require(item_in && user_node && hidden_bias && item_out && out_bias, "CDAE parameter arrays are missing");
  if (config && config->optimizer == Optimizer::Adagrad) {
    require(item_in_accum && user_node_accum && hidden_bias_accum && item_out_accum && out_bias_accum,
            "optimizer='adagrad' needs the five accumulator arrays");
  }
}

EpochStats train_cdae(CDAEParams& params, const CsrView& train, const CDAEConfig& config) {
  config.validate();
  params.validate(&config);
  require(train.n_rows == params.n_users && train.n_cols == params.n_items,
          "training data has " + std::to_string(train.n_rows) + " users x " + std::to_string(train.n_cols) +
              " items but the model has " + std::to_string(params.n_users) + " x " + std::to_string(params.n_items));
  require(train.nnz() > 0, "training data is empty");
  // The paper's Algorithm 1: every user once, in a random order.
  const UserEpochTotals t = for_each_user_shuffled(train, config.num_threads, config.seed, config.epoch, 0xCDAEu, [&] {
    return [&, step = CDAEStep(params, config)](std::int32_t u, Rng& rng, UserEpochTotals& tot) mutable {
      step(u, train, rng, tot);
    };
  });
  EpochStats out;
  out.samples = t.users;
  out.skipped = t.skipped;
  if (t.entries > 0) {
    out.loss = t.loss / static_cast<double>(t.entries);
    out.accuracy = static_cast<double>(t.correct) / static_cast<double>(t.entries);
  }
  check_finite(params, out.loss, config);
  return out;
}

void cdae_encode(const CDAEParams& params, const CsrView& train, Activation hidden, const std::int32_t* users, Index n,
                 float* out, int num_threads) {
  params.validate(nullptr);
  require(valid_activation(hidden), "hidden must be one of identity, sigmoid, tanh, relu");
  require(train.n_rows == params.n_users && train.n_cols == params.n_items,
          "training data does not match the model's users and items");
  for (Index k = 0; k < n; ++k)
    require(users[k] >= 0 && users[k] < params.n_users, "users contains id " + std::to_string(users[k]) +
                                                             ", outside [0, " + std::to_string(params.n_users) + ")");
  const CDAEView<float> m = view_of(params);
  const int K = params.dim;
#pragma omp parallel for num_threads(resolve_threads(num_threads)) schedule(static, 64)
  for (Index k = 0; k < n; ++k) {
    const std::int32_t u = users[k];
    cdae_hidden(m, hidden, u, train.row_data(u), train.row_size(u), 1.0f, out + k * K);
  }
}

}  // namespace advrec
