#include "advrec/cfgan.hpp"

#include "advrec/kernels.hpp"
#include "advrec/rng.hpp"
#include "advrec/user_epoch.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>

namespace advrec {
namespace {

// One user's step for one player: sample PM and ZR sets, compute the gradients with the parameters
// fixed, then one optimiser step per touched row.
class CFGANStep {
 public:
  CFGANStep(CFGANParams& p, const CFGANConfig& c) : p_(p), c_(c), mark_(static_cast<size_t>(p.shape.n_items), 0) {}

  void operator()(std::int32_t u, const CsrView& train, CFGANPlayer player, Rng& rng, UserEpochTotals& tot) {
    const CFGANShape& s = p_.shape;
    const std::int32_t* bought = train.row_data(u);
    const Index n_p = train.row_size(u);
    const Index free = s.n_items - n_p;
    const Index n_pm = static_cast<Index>(std::llround(static_cast<double>(c_.s_pm) * static_cast<double>(free)));
    const Index n_zr = static_cast<Index>(std::llround(static_cast<double>(c_.s_zr) * static_cast<double>(free)));
    out_.assign(bought, bought + n_p);
    draw_into(u, train, n_pm, 1, rng);          // PM items follow the purchased ones
    const Index n_mask = static_cast<Index>(out_.size());
    zr_items_.clear();
    const size_t before = out_.size();
    draw_into(u, train, n_zr, 2, rng);          // ZR items: appended when not already PM
    zr_items_.assign(out_.begin() + static_cast<std::ptrdiff_t>(before), out_.end());
    out_.resize(before);
    zr_.clear();
    for (Index e = n_p; e < n_mask; ++e)
      if (mark_[static_cast<size_t>(out_[static_cast<size_t>(e)])] & 2) zr_.push_back(e);
    for (std::int32_t j : zr_items_) {
      if (mark_[static_cast<size_t>(j)] & 1) continue;  // already among the PM outputs
      zr_.push_back(static_cast<Index>(out_.size()));
      out_.push_back(j);
    }
    for (std::int32_t j : out_) mark_[static_cast<size_t>(j)] = 0;
    for (std::int32_t j : zr_items_) mark_[static_cast<size_t>(j)] = 0;

    CFGANUserSets sets{out_.data(), n_p, n_mask, static_cast<Index>(out_.size()), zr_.data(),
                       static_cast<Index>(zr_.size())};
    w_.correct = 0;
    if (player == CFGANPlayer::Generator) {
      tot.loss += cfgan_generator_step(s, p_.g, p_.d, bought, sets, c_.alpha, c_.activation, w_, c_.g_loss);
      tot.entries += 1;
      apply_generator(bought, sets);
    } else {
      tot.loss += cfgan_discriminator_step(s, p_.g, p_.d, bought, sets, c_.activation, w_);
      tot.entries += 2;
      apply_discriminator(bought, sets);
    }
    tot.correct += w_.correct;
  }

 private:
  // Appends n distinct items u never bought and not yet marked with `bit` (rejection sampling).
  void draw_into(std::int32_t u, const CsrView& train, Index n, unsigned char bit, Rng& rng) {
    for (Index k = 0; k < n; ++k) {
      std::int32_t j;
      do {
        j = static_cast<std::int32_t>(rng.uniform(static_cast<std::uint64_t>(train.n_cols)));
      } while ((mark_[static_cast<size_t>(j)] & bit) || train.contains(u, j));
      mark_[static_cast<size_t>(j)] |= bit;
      out_.push_back(j);
    }
  }

  void step(float* theta, float* accum, const float* grad, Index d) {
    grad_.resize(static_cast<size_t>(d));
    for (Index k = 0; k < d; ++k) grad_[static_cast<size_t>(k)] = grad[k] + c_.reg * theta[k];
    kernels::apply_row(theta, accum, grad_.data(), static_cast<int>(d), c_.lr, c_.optimizer);
  }
  float* acc(float* base, Index offset) { return base ? base + offset : nullptr; }

  void apply_generator(const std::int32_t* bought, const CFGANUserSets& u) {
    const CFGANShape& s = p_.shape;
    const int H = s.hidden;
    float *G = p_.g, *A = p_.g_accum;
    for (Index e = 0; e < u.n_out; ++e) {
      const Index i = u.out[e];
      step(G + s.g_out() + i * H, acc(A, s.g_out() + i * H), w_.g_out.data() + e * H, H);
      step(G + s.g_out_bias() + i, acc(A, s.g_out_bias() + i), w_.g_outb.data() + e, 1);
    }
    if (s.g_layers > 1) {
      step(G + s.g_hidden(), acc(A, s.g_hidden()), w_.g_hw.data(), (s.g_layers - 1) * s.HH());
      step(G + s.g_hidden_bias(), acc(A, s.g_hidden_bias()), w_.g_hb.data(), static_cast<Index>(s.g_layers - 1) * H);
    }
    for (Index e = 0; e < u.n_purchased; ++e) {
      const Index i = bought[e];
      step(G + s.g_in() + i * H, acc(A, s.g_in() + i * H), w_.g_pre.data(), H);
    }
    step(G + s.g_in_bias(), acc(A, s.g_in_bias()), w_.g_pre.data(), H);
  }

  void apply_discriminator(const std::int32_t* bought, const CFGANUserSets& u) {
    const CFGANShape& s = p_.shape;
    const int H = s.hidden;
    float *D = p_.d, *A = p_.d_accum;
    std::vector<float>& row = row_;
    row.resize(static_cast<size_t>(H));
    // W_x: purchased rows see x = 1 (real) and x = r^ (fake); PM rows only the fake.
    for (Index e = 0; e < u.n_mask; ++e) {
      const Index i = u.out[e];
      const float re = w_.r[static_cast<size_t>(e)];
      for (int k = 0; k < H; ++k)
        row[static_cast<size_t>(k)] = re * w_.d_pre_fake[static_cast<size_t>(k)] +
                                      (e < u.n_purchased ? w_.d_pre_real[static_cast<size_t>(k)] : 0.0f);
      step(D + s.d_in_x() + i * H, acc(A, s.d_in_x() + i * H), row.data(), H);
    }
    for (int k = 0; k < H; ++k) row[static_cast<size_t>(k)] = w_.d_pre_real[static_cast<size_t>(k)] + w_.d_pre_fake[static_cast<size_t>(k)];
    for (Index e = 0; e < u.n_purchased; ++e) {
      const Index i = bought[e];
      step(D + s.d_in_c() + i * H, acc(A, s.d_in_c() + i * H), row.data(), H);
    }
    step(D + s.d_in_bias(), acc(A, s.d_in_bias()), row.data(), H);
    if (s.d_layers > 1) {
      step(D + s.d_hidden(), acc(A, s.d_hidden()), w_.d_hw.data(), (s.d_layers - 1) * s.HH());
      step(D + s.d_hidden_bias(), acc(A, s.d_hidden_bias()), w_.d_hb.data(), static_cast<Index>(s.d_layers - 1) * H);
    }
    step(D + s.d_out(), acc(A, s.d_out()), w_.d_wout.data(), H);
    step(D + s.d_out_bias(), acc(A, s.d_out_bias()), &w_.d_bout, 1);
  }

  CFGANParams& p_;
  const CFGANConfig& c_;
  CFGANWork<float> w_;
  std::vector<unsigned char> mark_;
  std::vector<std::int32_t> out_, zr_items_;
  std::vector<Index> zr_;
  std::vector<float> grad_, row_;
};

void check_params(const CFGANParams& p, const CFGANConfig* c) {
  p.shape.validate();
  require(p.n_users > 0, "CFGAN needs at least one user");
  require(p.g && p.d, "CFGAN parameter arrays are missing");
  if (c && c->optimizer == Optimizer::Adagrad)
    require(p.g_accum && p.d_accum, "optimizer='adagrad' needs the generator and discriminator accumulators");
}

}  // namespace

void CFGANShape::validate() const {
  require(n_items > 0, "CFGAN needs at least one item");
  require(hidden > 0, "hidden must be > 0, got " + std::to_string(hidden));
  require(g_layers >= 1, "g_layers must be >= 1, got " + std::to_string(g_layers));
  require(d_layers >= 1, "d_layers must be >= 1, got " + std::to_string(d_layers));
}

void CFGANConfig::validate() const {
  require(std::isfinite(lr) && lr > 0.0f, "lr must be a positive finite number, got " + std::to_string(lr));
  require(std::isfinite(reg) && reg >= 0.0f, "reg must be a finite number >= 0, got " + std::to_string(reg));
  require(std::isfinite(alpha) && alpha >= 0.0f, "alpha must be a finite number >= 0, got " + std::to_string(alpha));
  require(std::isfinite(s_zr) && s_zr >= 0.0f && s_zr <= 1.0f, "s_zr must be in [0, 1], got " + std::to_string(s_zr));
  require(std::isfinite(s_pm) && s_pm >= 0.0f && s_pm <= 1.0f, "s_pm must be in [0, 1], got " + std::to_string(s_pm));
  require(valid_activation(activation), "activation must be one of identity, sigmoid, tanh, relu");
  require(g_loss == CFGANGeneratorLoss::Saturating || g_loss == CFGANGeneratorLoss::NonSaturating,
          "g_loss must be 'saturating' or 'non_saturating'");
  require(optimizer == Optimizer::SGD || optimizer == Optimizer::Adagrad, "optimizer must be 'sgd' or 'adagrad'");
  require(num_threads >= 0, "num_threads must be >= 0, got " + std::to_string(num_threads));
}

EpochStats train_cfgan(CFGANParams& p, const CsrView& train, const CFGANConfig& c, CFGANPlayer player) {
  c.validate();
  check_params(p, &c);
  require(train.n_rows == p.n_users && train.n_cols == p.shape.n_items,
          "training data has " + std::to_string(train.n_rows) + " users x " + std::to_string(train.n_cols) +
              " items but the model has " + std::to_string(p.n_users) + " x " + std::to_string(p.shape.n_items));
  require(train.nnz() > 0, "training data is empty");
  const std::uint64_t tag = player == CFGANPlayer::Generator ? 0xCF6A2u : 0xCF6A0u;
  const UserEpochTotals t = for_each_user_shuffled(train, c.num_threads, c.seed, c.epoch, tag, [&] {
    return [&, step = CFGANStep(p, c)](std::int32_t u, Rng& rng, UserEpochTotals& tot) mutable {
      step(u, train, player, rng, tot);
    };
  });
  EpochStats out;
  out.samples = t.users;
  out.skipped = t.skipped;
  if (t.users) out.loss = t.loss / static_cast<double>(t.users);
  if (t.entries) out.accuracy = static_cast<double>(t.correct) / static_cast<double>(t.entries);
  if (!(std::isfinite(out.loss) && all_finite(p.g, p.shape.g_size()) && all_finite(p.d, p.shape.d_size()))) {
    throw NumericalError(std::string("CFGAN training diverged in the ") +
                         (player == CFGANPlayer::Generator ? "generator" : "discriminator") +
                         " step: parameters became NaN or infinite (epoch " + std::to_string(c.epoch) +
                         "); lower the learning rate (lr=" + std::to_string(c.lr) + ")");
  }
  return out;
}

void cfgan_encode(const CFGANParams& p, const CsrView& train, Activation activation, const std::int32_t* users, Index n,
                  float* out, int num_threads) {
  check_params(p, nullptr);
  require(valid_activation(activation), "activation must be one of identity, sigmoid, tanh, relu");
  require(train.n_rows == p.n_users && train.n_cols == p.shape.n_items,
          "training data does not match the model's users and items");
  for (Index k = 0; k < n; ++k)
    require(users[k] >= 0 && users[k] < p.n_users,
            "users contains id " + std::to_string(users[k]) + ", outside [0, " + std::to_string(p.n_users) + ")");
  const CFGANShape& s = p.shape;
  const int H = s.hidden;
#pragma omp parallel for num_threads(resolve_threads(num_threads)) schedule(static, 64)
  for (Index k = 0; k < n; ++k) {
    std::vector<float> h, r;
    const std::int32_t u = users[k];
    cfgan_detail::generator_forward(s, static_cast<const float*>(p.g), train.row_data(u), train.row_size(u), nullptr,
                                    0, activation, h, r);
    std::copy_n(h.data() + static_cast<Index>(s.g_layers - 1) * H, H, out + k * H);
  }
}

}  // namespace advrec
