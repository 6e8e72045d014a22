"""Significance tests over per-user results of two :func:`advrec.evaluate` runs."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class PairedTest:
    """Outcome of a paired test of model A against model B on one metric.

    ``mean_difference`` is mean(A - B) over the ``n_users`` users both runs evaluated.
    """

    test: str
    metric: str
    statistic: float
    pvalue: float
    n_users: int
    mean_difference: float
    mean_a: float
    mean_b: float


def _paired(a, b, metric: str):
    for name, res in (("a", a), ("b", b)):
        if not hasattr(res, "per_user") or not hasattr(res, "users"):
            raise TypeError(f"{name} must be an advrec EvaluationResult, got {type(res).__name__}")
        if metric not in res.per_user:
            raise ValueError(f"metric {metric!r} is not in result {name} (it has {sorted(res.per_user)})")
    common, ia, ib = np.intersect1d(a.users, b.users, assume_unique=True, return_indices=True)
    if common.size < 2:
        raise ValueError(f"the two results share {common.size} evaluated users; a paired test needs at least 2")
    xa = a.per_user[metric][ia]
    xb = b.per_user[metric][ib]
    keep = ~(np.isnan(xa) | np.isnan(xb))
    return xa[keep], xb[keep]


def paired_ttest(a, b, metric: str) -> PairedTest:
    """Paired Student t-test of ``a`` against ``b`` on ``metric`` over their common users."""
    from scipy import stats

    xa, xb = _paired(a, b, metric)
    diff = xa - xb
    if not np.any(diff):
        statistic, pvalue = 0.0, 1.0
    else:
        res = stats.ttest_rel(xa, xb)
        statistic, pvalue = float(res.statistic), float(res.pvalue)
    return PairedTest("paired t-test", metric, statistic, pvalue, int(xa.size), float(diff.mean()),
                      float(xa.mean()), float(xb.mean()))


def wilcoxon(a, b, metric: str) -> PairedTest:
    """Wilcoxon signed-rank test of ``a`` against ``b`` on ``metric`` over their common users
    (zero differences dropped, as Wilcoxon's original method does)."""
    from scipy import stats

    xa, xb = _paired(a, b, metric)
    diff = xa - xb
    if not np.any(diff):
        statistic, pvalue = 0.0, 1.0
    else:
        res = stats.wilcoxon(xa, xb, zero_method="wilcox")
        statistic, pvalue = float(res.statistic), float(res.pvalue)
    return PairedTest("Wilcoxon signed-rank", metric, statistic, pvalue, int(xa.size), float(diff.mean()),
                      float(xa.mean()), float(xb.mean()))
