"""Optimisation-based poisoning of matrix factorisation: projected gradient ascent (PGA) on relaxed
fake profiles through a surrogate MF, then top-m projection to binary profiles.

The line of work: Li, Wang, Singh, Vorobeychik, "Data poisoning attacks on factorization-based
collaborative filtering" (NIPS 2016: PGA on fake ratings through the trained MF's optimality
conditions) and Tang, Wen, Wang, "Revisiting adversarially learned injection attacks in recommender
systems" (RevAdv, NeurIPS 2020: gradients through the surrogate's training, then top-m projection to
discrete profiles). Exact bi-level gradients need to unroll or invert the whole training; this
module uses a cheap, documented approximation instead.

**The surrogate and its approximation.** The attacker trains its own BPR-MF on the clean data (its
real-user factors ``p_u`` and item factors ``v_i``); each round, the surrogate is retrained by the
engine, warm-started from that clean model, on the data poisoned with the current binary profiles
``X_b``. Around that retrained surrogate, the effect of changing the fake profiles from ``X_b`` to a
relaxed ``X`` (rows in [0, 1]^n_items) is modelled by unrolling one BPR step for each side:

* a fake user starting from zero moves along its positives minus an average negative, so its factors
  are ``p_f = alpha x_f (V - 1 vbar^T)`` (``vbar`` the mean item vector);
* each item the fake holds moves towards the fake's factors, so the target factors become
  ``v'_t = v_t + sum_f (X[f, t] p_f(X) - X_b[f, t] p_f(X_b))``,

neglecting the real users' reaction and the fakes' negatives beyond their mean (few fakes, first
order). At ``X = X_b``, ``V' = V``: the objective there is the retrained surrogate's own. ``alpha``
plays the product of the learning rates and epochs; by default it is calibrated every round by least
squares from what the engine's retraining actually did to the targets: the shift of their factors
from the surrogate continued on the clean data to the one trained on the poisoned data, against the
shift ``c(X_b)`` the unrolled step predicts at ``alpha = 1``.

**The attacker's objective** (target promotion, the smooth hit rate): over real users ``u`` and
targets ``t`` they do not hold, the mean of ``sigmoid((p_u . v'_t - theta_u) / tau)`` with
``theta_u`` the user's K-th best score (fixed within a round), i.e. a smooth HR@K of the targets.
Its gradient weighs users by ``sigmoid'``: the users close to the bar count, hopeless ones do not
(a ``log sigmoid`` objective would weigh every user below the bar alike and pull the targets
towards the average taste, which is what the popular attack already does). Its gradient in closed
form (``g_t = dJ/dv'_t``): ``dJ/dX[f, j] = sum_t X[f, t] (M g_t)_j + [j in T] (X[f] M) . g_j`` with
``M = alpha (V - 1 vbar^T)``. It is the same for every fake (the targets are in every profile):
starting from different heuristic profiles, the fakes drift towards one shared filler, the items
whose factors align with the taste of the users just below the bar (a visible signature: this
attack does not try to be unnoticeable).

**Projected gradient ascent** on the relaxed profiles: targets fixed at 1, filler in the capped
simplex ``{0 <= x <= 1, sum x = m}`` (Euclidean projection by bisection on the shift), step halved
until the objective rises (so it rises monotonically within a round), then each row's ``m`` largest
filler entries become the binary profile (top-m projection). Across rounds the surrogate is
retrained, and the round with the best surrogate objective is returned (never selected on any
evaluation data).
"""

from __future__ import annotations

from typing import Dict, List, Optional

import numpy as np

from ..interactions import Interactions

__all__ = ["pga_profiles", "SurrogateObjective", "project_capped_simplex"]


def project_capped_simplex(Y: np.ndarray, m: float, iters: int = 50) -> np.ndarray:
    """Euclidean projection of each row of ``Y`` onto ``{x : 0 <= x <= 1, sum(x) = m}``:
    ``clip(y - nu, 0, 1)`` with the row's shift ``nu`` found by bisection (the sum is monotone
    in ``nu``)."""
    Y = np.asarray(Y, dtype=np.float64)
    n = Y.shape[1]
    if not 0 <= m <= n:
        raise ValueError(f"m must be in [0, {n}], got {m}")
    lo = (Y.min(axis=1) - 1.0)[:, None]  # every entry clipped to 1: sum n >= m
    hi = Y.max(axis=1)[:, None]  # every entry clipped to 0: sum 0 <= m
    for _ in range(iters):
        mid = 0.5 * (lo + hi)
        s = np.clip(Y - mid, 0.0, 1.0).sum(axis=1, keepdims=True)
        too_big = s > m
        lo = np.where(too_big, mid, lo)
        hi = np.where(too_big, hi, mid)
    return np.clip(Y - 0.5 * (lo + hi), 0.0, 1.0)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * z))  # overflow-free logistic


class SurrogateObjective:
    """The attacker's relaxed objective ``J(X)`` around one trained surrogate (see the module
    docstring), in float64, for profiles that hold every target (``X[:, targets] == 1``, as every
    fake profile does).

    With the targets in every profile, ``sum_f X[f, t] p_f`` is the same for every target:
    ``c(X) = (1^T X) M``, so ``v'_t = v_t + c(X) - c(X_b)`` and the gradient with respect to a
    filler entry ``X[f, j]`` is ``M_j . sum_t g_t`` for every fake ``f`` (``g_t = dJ/dv'_t``);
    each evaluation is a matrix-vector product over the items.

    Parameters
    ----------
    P : (n_real, D) array
        Real users' factors.
    V : (n_items, D) array
        Item factors.
    theta : (n_real,) array
        Each real user's K-th best score (the bar a target must clear).
    eligible : (n_real, n_targets) bool array
        Which (user, target) pairs count (the user does not hold the target).
    targets : (n_targets,) int array
    X_base : (n_fake, n_items) array
        The binary profiles the surrogate was trained with (``V' = V`` there).
    alpha : float
        Scale of the unrolled step (``M = alpha (V - vbar)``).
    tau : float
        Temperature of the smooth top-K indicator.
    """

    def __init__(self, P, V, theta, eligible, targets, X_base, alpha: float = 1.0, tau: float = 1.0):
        self.P = np.asarray(P, np.float64)
        self.V = np.asarray(V, np.float64)
        self.theta = np.asarray(theta, np.float64)
        self.eligible = np.asarray(eligible, bool)
        self.targets = np.asarray(targets)
        self.tau = float(tau)
        self.M = float(alpha) * (self.V - self.V.mean(axis=0))  # p_f = x_f M
        self.n_pairs = max(int(self.eligible.sum()), 1)
        self.offset = self._shift(np.asarray(X_base, np.float64))

    def _shift(self, X: np.ndarray) -> np.ndarray:
        return X.sum(axis=0) @ self.M  # c(X), (D,)

    def _z(self, X: np.ndarray) -> np.ndarray:
        vt = self.V[self.targets] + (self._shift(X) - self.offset)
        return (self.P @ vt.T - self.theta[:, None]) / self.tau

    def value(self, X: np.ndarray) -> float:
        return float(_sigmoid(self._z(X))[self.eligible].sum() / self.n_pairs)

    def gradient(self, X: np.ndarray) -> np.ndarray:
        """dJ/dX on the filler entries (target columns are fixed and get 0)."""
        z = self._z(X)
        sz = _sigmoid(z)
        w = np.where(self.eligible, sz * (1.0 - sz), 0.0) / (self.tau * self.n_pairs)  # d sigma(z) / dz
        g = (w.T @ self.P).sum(axis=0)  # sum_t dJ/dv'_t, (D,)
        col = self.M @ g
        col[self.targets] = 0.0
        return np.broadcast_to(col, X.shape).copy()


def _surrogate_round(surrogate, poisoned: Interactions, n_real: int, targets: np.ndarray, k: int):
    """(P, V, theta, eligible) of a fitted surrogate on the poisoned data."""
    real = np.arange(n_real, dtype=np.int32)
    P, V = surrogate._scoring_factors(real)
    _, top = surrogate.recommend(real, k=k, exclude_seen=True)
    theta = np.where(np.isfinite(top[:, -1]), top[:, -1], np.min(top[np.isfinite(top)]))
    indptr, indices = poisoned.csr_arrays()
    row_of = np.repeat(np.arange(poisoned.n_users), np.diff(indptr))
    eligible = np.ones((n_real, targets.size), dtype=bool)
    for j, t in enumerate(targets):
        holders = row_of[indices == t]
        eligible[holders[holders < n_real], j] = False
    return P, V, theta, eligible


def pga_profiles(train: Interactions, targets: np.ndarray, n_fake: int, profile_size: int, seed: int = 0,
                 surrogate=None, surrogate_epochs: int = 10, rounds: int = 3, steps: int = 10,
                 step_size: float = 1.0, k: int = 50, surrogate_lr: Optional[float] = None, tau: float = 1.0,
                 init: str = "popular", num_threads: int = 0,
                 history: Optional[List[Dict]] = None) -> np.ndarray:
    """Fake profiles optimised against a surrogate BPR-MF (see the module docstring).

    Parameters
    ----------
    train, targets, n_fake, profile_size, seed
        As :func:`advrec.poisoning.inject` (targets already checked, ``n_fake`` a count).
    surrogate : fitted BPRMF, optional
        The attacker's model of the clean data (default: ``BPRMF(factors=32, epochs=30, seed=seed)``
        fitted on ``train``). Any fitted BPRMF/AMF on ``train`` works.
    surrogate_epochs : int
        Warm-started epochs of the surrogate on the poisoned data, each round.
    rounds : int
        Retrain-then-ascend rounds.
    steps : int
        Projected gradient steps per round.
    step_size : float
        Initial step, in units of the largest gradient entry (halved until the objective rises).
    k : int
        The top-K the objective aims at.
    surrogate_lr : float, optional
        ``alpha``, the size of the unrolled BPR step (default: calibrated every round).
    tau : float
        Temperature of the smooth top-K indicator, in score units.
    init : str
        The heuristic attack whose profiles start the ascent.
    num_threads : int
        Threads of the default surrogate's training (0 = all cores).
    history : list, optional
        Appended with one dict per round: ``round``, ``objective`` (the retrained surrogate's, at
        the binary profiles), ``inner`` (the relaxed objective after every accepted step).

    Returns
    -------
    (n_fake, profile_size) int64 array of item ids (targets included), one row per fake user.
    """
    from ..models.mf import BPRMF
    from .inject import ATTACKS, _order_profiles, append_profiles
    from .victims import retrain

    for name, value, low in (("surrogate_epochs", surrogate_epochs, 0), ("rounds", rounds, 1), ("steps", steps, 1),
                             ("k", k, 1)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
            raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
    lr_checked = 1.0 if surrogate_lr is None else surrogate_lr
    for name, value in (("step_size", step_size), ("surrogate_lr", lr_checked), ("tau", tau)):
        if not np.isfinite(value) or value <= 0:
            raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    if init not in ATTACKS or init == "sequential":
        raise ValueError(f"init must be a heuristic attack name, got {init!r}")
    if surrogate is None:
        surrogate = BPRMF(factors=32, epochs=30, seed=int(seed), num_threads=int(num_threads),
                          show_progress=False).fit(train)
    elif not isinstance(surrogate, BPRMF):
        raise TypeError(f"surrogate must be a fitted BPRMF or AMF, got {type(surrogate).__name__}")
    elif (surrogate.n_users, surrogate.n_items) != (train.n_users, train.n_items):
        raise ValueError("surrogate must be fitted on train (same users and items)")
    n_items, n_real = train.n_items, train.n_users
    m = profile_size - targets.size
    rng = np.random.default_rng([int(seed), 0x96A])
    fn, _ = ATTACKS[init]
    filler = np.asarray(fn(train, targets, n_fake, m, rng), dtype=np.int64)
    is_target = np.zeros(n_items, bool)
    is_target[targets] = True
    filler_cols = np.flatnonzero(~is_target)

    def binary(fill: np.ndarray) -> np.ndarray:
        X = np.zeros((n_fake, n_items))
        np.put_along_axis(X, fill, 1.0, axis=1)
        X[:, targets] = 1.0
        return X

    # the surrogate continued on the clean data: the reference the calibration of alpha measures from
    clean_v = retrain(surrogate, train, int(surrogate_epochs), seed=int(seed))._scoring_factors(
        np.zeros(1, np.int32))[1][targets].astype(np.float64)

    def step_scale(V: np.ndarray, Xb: np.ndarray) -> float:
        if surrogate_lr is not None:
            return float(surrogate_lr)
        unit = Xb.sum(axis=0) @ (V - V.mean(axis=0))  # c(X_b) at alpha = 1
        moved = V[targets] - clean_v  # what retraining did to the targets, (T, D)
        den = float(targets.size * (unit @ unit))
        return max(float((moved @ unit).sum()) / den, 0.0) if den > 0 else 0.0

    best_obj, best_fill = -np.inf, filler
    for r in range(int(rounds)):
        profiles = _order_profiles(filler, targets, "shuffle", np.zeros(n_items), rng)
        poisoned, _ = append_profiles(train, profiles)
        model = retrain(surrogate, poisoned, int(surrogate_epochs), seed=int(seed))
        P, V, theta, eligible = _surrogate_round(model, poisoned, n_real, targets, int(k))
        Xb = binary(filler)
        alpha = step_scale(np.asarray(V, np.float64), Xb)
        obj = SurrogateObjective(P, V, theta, eligible, targets, Xb, alpha=alpha, tau=tau)
        current = obj.value(Xb)
        record = {"round": r, "objective": current, "alpha": alpha, "inner": [current]}
        if current > best_obj:
            best_obj, best_fill = current, filler
        X = Xb
        for _ in range(int(steps)):
            G = obj.gradient(X)[:, filler_cols]
            scale = np.abs(G).max()
            if not np.isfinite(scale) or scale == 0:
                break
            step = float(step_size) / scale
            for _halving in range(30):
                Y = X.copy()
                Y[:, filler_cols] = project_capped_simplex(X[:, filler_cols] + step * G, m)
                value = obj.value(Y)
                if value > current:
                    break
                step *= 0.5
            else:
                break  # no ascent direction left at this precision: a stationary point
            X, current = Y, value
            record["inner"].append(current)
        # top-m projection: each fake keeps its m largest filler entries (ties: lower id)
        keys = X[:, filler_cols]
        order = np.argsort(-keys, axis=1, kind="stable")[:, :m]
        filler = filler_cols[order]
        if history is not None:
            history.append(record)
    # the last projection has not been scored by a retrained surrogate yet: score it
    profiles = _order_profiles(filler, targets, "shuffle", np.zeros(n_items), rng)
    poisoned, _ = append_profiles(train, profiles)
    model = retrain(surrogate, poisoned, int(surrogate_epochs), seed=int(seed))
    P, V, theta, eligible = _surrogate_round(model, poisoned, n_real, targets, int(k))
    final = SurrogateObjective(P, V, theta, eligible, targets, binary(filler), tau=tau).value(binary(filler))
    if history is not None:
        history.append({"round": int(rounds), "objective": final, "inner": [final]})
    if final > best_obj:
        best_fill = filler
    return np.hstack([best_fill, np.broadcast_to(targets.astype(np.int64), (n_fake, targets.size))])
