"""Training-time data poisoning: fake-profile injection, target-item metrics, detection, benchmark.

The second threat model of the tutorial (``papers/003_…``): instead of perturbing what a trained
model has learned, the attacker adds fake users to the training data so that the retrained model
recommends the target items. :func:`inject` builds the poisoned data, :func:`target_metrics`
measures the targets' exposure exactly, :func:`retrain` warm-starts a victim on the poisoned data.
"""

from .inject import ATTACKS, append_profiles, inject
from .metrics import TargetResult, score_shift, target_metrics
from .victims import retrain, with_users
from .detection import DETECTORS, degsim_scores, detect, detection_scores, flag_outliers, pca_scores, remove_users
from .optimized import pga_profiles
from .benchmark import VICTIMS, benchmark, draw_targets, paired_across_seeds

__all__ = ["inject", "append_profiles", "ATTACKS", "target_metrics", "TargetResult", "score_shift",
           "retrain", "with_users", "pga_profiles",
           "DETECTORS", "pca_scores", "degsim_scores", "flag_outliers", "detect", "detection_scores", "remove_users",
           "benchmark", "draw_targets", "paired_across_seeds", "VICTIMS"]
