"""Adversarial attacks on the parameters of a trained recommender.

Every attack returns a perturbed *copy*; the model passed in is never modified. Perturbations
live on parameter blocks the model names in ``model._perturbable()`` (user and item embeddings for
BPR-MF/AMF, item content features for VBPR/AMR, item embeddings for SASRec). The budget ``eps``
holds per vector (per row of each block), as in the APR paper (footnote 1): ``||delta_row||_2 <= eps``
for ``norm="l2"`` (FGM), ``max |delta_row| <= eps`` for ``norm="sign"`` (FGSM).

The gradient of the model's training loss is taken over a seeded sample of triples D' with one
negative per observed training pair (APR section 2.3), recomputed at the current perturbation for
the iterative attack.

A budget so large that the perturbed scores overflow float32 is *degenerate*: every attack then
raises :class:`advrec.evaluation.NonFiniteScoresError` (a ``ValueError``) instead of returning a
model whose metrics would be meaningless, and :func:`advrec.robustness` reports the budget as
degenerate.

``num_threads`` of every function: None (the default) uses the attacked model's own
``num_threads``, 0 all cores.
"""

from __future__ import annotations

from typing import Dict, Optional, Tuple

import numpy as np

from . import _seeds
from ._checks import check_budget as _check_eps, check_choice, check_interactions, check_num_threads
from ._checks import check_positive_int, check_same_shape, check_seed, model_threads
from ._engine import core
from ._ranking import NonFiniteScoresError, check_factors, describe

_NORMS = ("l2", "sign")


def _targets(model, target) -> Tuple[str, ...]:
    if not hasattr(model, "_perturbable"):
        raise TypeError(f"{type(model).__name__} does not support parameter attacks")
    blocks = model._perturbable()  # raises NotFittedError on an unfitted model
    if target is None or target == "all":
        return tuple(blocks)
    if target == "both":
        names = ("users", "items")
    elif isinstance(target, str):
        names = (target,)
    else:
        names = tuple(target)
    for n in names:
        if n not in blocks:
            raise ValueError(f"target {n!r} is not a parameter block of {type(model).__name__}; "
                             f"choose from {sorted(blocks)}, 'all' or None")
    return names


def _check_data(model, train) -> None:
    check_interactions(train, "train")
    check_same_shape(model, train, "train")


def sample_triples(train, seed: int = 0, negatives_per_pair: int = 1, num_threads=None):
    """The reduced training set D': every training pair (u, i) with ``negatives_per_pair`` items
    j drawn (seeded) from those u never interacted with. Returns ``(users, pos, neg)`` int32.
    ``num_threads``: 0 or None = all cores."""
    check_interactions(train, "train")
    seed = check_seed(seed)
    negatives_per_pair = check_positive_int(negatives_per_pair, "negatives_per_pair")
    num_threads = check_num_threads(num_threads)
    indptr, indices = train.csr_arrays()
    return core.sample_triples(indptr, indices, int(train.n_items), _seeds.engine_seed(seed, "attack"),
                               int(negatives_per_pair),
                               int(num_threads))


def _normalise(grads: Dict[str, np.ndarray], eps: float, norm: str, num_threads: int) -> Dict[str, np.ndarray]:
    out = {}
    for name, g in grads.items():
        g = np.ascontiguousarray(g, dtype=np.float32).copy()
        core.fgm_normalise_rows(g, eps, norm == "sign", num_threads)
        out[name] = g
    return out


def _gradient_attack_inputs(model, train, norm, target, seed, triples, num_threads):
    """Checks the arguments shared by the gradient attacks; returns (block names, triples of D',
    thread count)."""
    check_choice(norm, "norm", _NORMS)
    names = _targets(model, target)
    _check_data(model, train)
    num_threads = model_threads(model, num_threads)
    if triples is None:
        triples = sample_triples(train, seed=seed, num_threads=num_threads)
    return names, triples, num_threads


def fgsm_perturbation(model, train, eps: float = 0.5, *, norm: str = "l2", target=None, seed: int = 0,
                      triples=None, num_threads=None) -> Dict[str, np.ndarray]:
    """The fast-gradient perturbation itself: ``{block name: delta}`` (see :func:`fgsm`)."""
    eps = _check_eps(eps)
    names, triples, num_threads = _gradient_attack_inputs(model, train, norm, target, seed, triples, num_threads)
    loss, _, grads = model._loss_gradients(triples, {}, num_threads=num_threads)
    _check_finite_step(loss, grads, names, f"the loss of this {type(model).__name__} (unperturbed)")
    return _normalise({n: grads[n] for n in names}, eps, norm, num_threads)


def _check_finite_step(loss, grads, names, where: str) -> None:
    """A NaN/infinite loss or gradient would be normalised into a zero or arbitrary direction and
    the attack would silently do nothing: raise instead."""
    if not np.isfinite(loss) or not all(np.isfinite(grads[n]).all() for n in names):
        raise NonFiniteScoresError(f"{where} or its gradient is not finite: the scores overflow float32 "
                                   "(a degenerate budget, or a diverged model)")


def fgsm(model, train, eps: float = 0.5, *, norm: str = "l2", target=None, seed: int = 0, triples=None,
         num_threads=None):
    """Single-step gradient attack (FGM with ``norm="l2"``, FGSM with ``norm="sign"``).

    Parameters
    ----------
    model : fitted advrec model
    train : advrec.Interactions
        The model's training data (the attack maximises the training loss on it).
    eps : float
        Budget per perturbed vector.
    norm : {"l2", "sign"}
        ``"l2"``: ``delta = eps * g / ||g||`` per row (the APR definition). ``"sign"``:
        ``delta = eps * sign(g)`` (L-infinity FGSM).
    target : str or sequence of str, optional
        Blocks to perturb: ``None``/"all" for every block, ``"both"`` for users and items (MF),
        or names such as ``"users"``, ``"items"``, ``"features"``.
    seed : int
        Seeds the negatives of D'.
    triples : (users, pos, neg), optional
        Use these triples instead of sampling D'.

    Returns
    -------
    A perturbed copy of ``model`` (``attack_`` describes the attack).
    """
    deltas = fgsm_perturbation(model, train, eps, norm=norm, target=target, seed=seed, triples=triples,
                               num_threads=num_threads)
    return _finish(model, deltas, {"attack": "fgsm" if norm == "sign" else "fgm", "eps": eps, "norm": norm})


def random_perturbation(model, eps: float = 0.5, *, norm: str = "l2", target=None, seed: int = 0,
                        num_threads=None) -> Dict[str, np.ndarray]:
    """Random directions with the same per-vector budget as :func:`fgsm` (the paper's control)."""
    eps = _check_eps(eps)
    check_choice(norm, "norm", _NORMS)
    names = _targets(model, target)
    num_threads = model_threads(model, num_threads)
    return _random_directions(model, names, eps, norm, _seeds.rng(seed, "attack-noise"), num_threads)


def _random_directions(model, names, eps: float, norm: str, rng, num_threads: int) -> Dict[str, np.ndarray]:
    blocks = model._perturbable()
    out = {}
    for n in names:
        noise = rng.standard_normal(blocks[n].shape).astype(np.float32)
        core.fgm_normalise_rows(noise, eps, norm == "sign", num_threads)
        out[n] = noise
    return out


def random_noise(model, eps: float = 0.5, *, norm: str = "l2", target=None, seed: int = 0, num_threads=None):
    """Perturbed copy with random noise of norm ``eps`` per vector (uniform direction on the sphere
    for ``"l2"``, random signs for ``"sign"``)."""
    deltas = random_perturbation(model, eps, norm=norm, target=target, seed=seed, num_threads=num_threads)
    return _finish(model, deltas, {"attack": "random", "eps": _check_eps(eps), "norm": norm})


def iterative_perturbation(model, train, eps: float = 0.5, step: Optional[float] = None, steps: int = 10, *,
                           norm: str = "l2", target=None, random_start: bool = False, seed: int = 0,
                           triples=None, num_threads=None) -> Dict[str, np.ndarray]:
    """Multi-step projected attack (MSAP / PGD); see :func:`iterative`."""
    eps = _check_eps(eps)
    step = eps / 4 if step is None else _check_eps(step, "step")
    steps = check_positive_int(steps, "steps")
    names, triples, num_threads = _gradient_attack_inputs(model, train, norm, target, seed, triples, num_threads)
    blocks = model._perturbable()
    if random_start:
        rng = _seeds.rng(seed, "attack-start")
        deltas = _random_directions(model, names, eps, norm, rng, num_threads)
        for n in names:  # uniform radius inside the ball, not only on its surface
            deltas[n] *= rng.uniform(0, 1, size=(deltas[n].shape[0], 1)).astype(np.float32)
    else:
        deltas = {n: np.zeros_like(blocks[n], dtype=np.float32) for n in names}
    for step_index in range(int(steps)):
        loss, _, grads = model._loss_gradients(triples, deltas, num_threads=num_threads)
        _check_finite_step(loss, grads, names, f"this {type(model).__name__} under attack 'iterative' at eps={eps:g}: "
                           f"the loss at step {step_index + 1}")
        moves = _normalise({n: grads[n] for n in names}, step, norm, num_threads)
        for n in names:
            deltas[n] += moves[n]
            core.project_rows(deltas[n], eps, norm == "sign", num_threads)
    return deltas


def iterative(model, train, eps: float = 0.5, step: Optional[float] = None, steps: int = 10, *, norm: str = "l2",
              target=None, random_start: bool = False, seed: int = 0, triples=None, num_threads=None):
    """Multi-step attack: ``steps`` gradient steps of size ``step`` (per vector), each followed by
    a projection back onto the ``eps``-ball of every vector (MSAP in the ECIR 2021 tutorial, PGD in
    general). ``step`` defaults to ``eps / 4``. With ``random_start`` the walk starts from a random
    point inside the ball. Returns a perturbed copy."""
    deltas = iterative_perturbation(model, train, eps, step, steps, norm=norm, target=target,
                                    random_start=random_start, seed=seed, triples=triples, num_threads=num_threads)
    return _finish(model, deltas, {"attack": "iterative", "eps": _check_eps(eps), "norm": norm,
                                   "steps": int(steps), "step": eps / 4 if step is None else float(step)})


def _finish(model, deltas, info):
    """The perturbed copy; raises NonFiniteScoresError when the budget is degenerate (the perturbed
    scores are NaN or overflow float32, so no metric could be computed from them)."""
    clone = model._perturbed_copy(deltas)
    clone.attack_ = info
    what = describe(clone)
    if hasattr(clone, "_encode"):
        # Sequence models compute user vectors with a forward pass over each history; checking them
        # here would cost a full evaluation, so only the item side is checked now and the scores are
        # checked when the copy is scored (evaluate / recommend raise the same error).
        for name, delta in deltas.items():
            if not np.isfinite(delta).all():
                raise NonFiniteScoresError(f"{what}: the perturbation of {name!r} is not finite (degenerate budget)")
        return clone
    rows = 8192
    for lo in range(0, clone.n_users, rows):
        check_factors(*clone._scoring_factors(np.arange(lo, min(lo + rows, clone.n_users), dtype=np.int32)), what)
    return clone


ATTACKS = {
    # "fgsm" follows advrec.attacks.fgsm's default: the APR-style L2 fast gradient method (FGM).
    "fgsm": lambda m, train, eps, seed, nt: fgsm(m, train, eps, norm="l2", seed=seed, num_threads=nt),
    "fgsm-sign": lambda m, train, eps, seed, nt: fgsm(m, train, eps, norm="sign", seed=seed, num_threads=nt),
    "random": lambda m, train, eps, seed, nt: random_noise(m, eps, seed=seed, num_threads=nt),
    "iterative": lambda m, train, eps, seed, nt: iterative(m, train, eps, seed=seed, num_threads=nt),
}
"""Attacks by name, as :func:`advrec.robustness` runs them."""
