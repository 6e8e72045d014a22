// Types shared by every trainer: the optimiser choice, the statistics of one training epoch and
// the finiteness check behind the divergence error. Shared headers include no model header.
#pragma once

#include "advrec/common.hpp"

namespace advrec {

enum class Optimizer : int { SGD = 0, Adagrad = 1 };

// One training epoch (or call) of any trainer. A sample is one (user, positive, negative) triple:
// for the sampled trainers one draw, for the sequence trainer one position of a sequence.
struct EpochStats {
  Index samples = 0;          // samples trained on
  Index skipped = 0;          // draws skipped: users who interacted with every item
  Index sequences = 0;        // sequence models: sequences trained on (0 for the others)
  double loss = 0.0;          // mean clean loss per sample (without regularisation)
  double adv_loss = 0.0;      // mean loss at the perturbed parameters (0 when not adversarial)
  double accuracy = 0.0;      // fraction of samples scoring the positive above the negative
};

// True when every value is finite.
bool all_finite(const float* data, Index n);

}  // namespace advrec
