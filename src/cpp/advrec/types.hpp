// Types shared by every trainer: the optimiser choice, the statistics of one training epoch and
// the finiteness check behind the divergence error. Shared headers include no model header.
#pragma once

#include "advrec/common.hpp"

namespace advrec {

enum class Optimizer : int { SGD = 0, Adagrad = 1 };

struct EpochStats {
  Index samples = 0;          // samples processed
  Index skipped = 0;          // samples skipped: users who interacted with every item
  double loss = 0.0;          // mean clean BPR loss (without regularisation)
  double adv_loss = 0.0;      // mean BPR loss at the perturbed parameters (0 when not adversarial)
  double accuracy = 0.0;      // fraction of samples with y(u,i) > y(u,j) before the update
};

// True when every value is finite.
bool all_finite(const float* data, Index n);

}  // namespace advrec
