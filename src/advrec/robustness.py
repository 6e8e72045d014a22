"""Robustness tables: a model's metrics under attacks of growing budget."""

from __future__ import annotations

import warnings
from typing import Dict, Mapping, Optional, Sequence, Union

import numpy as np

from . import _progress, attacks as _attacks
from ._checks import check_names
from .evaluation import NonFiniteScoresError


def robustness(models, train, test, eps: Sequence[float] = (0.5, 1.0, 2.0), attacks: Sequence[str] = ("fgsm", "random"),
               k: Union[int, Sequence[int]] = 100, metrics: Sequence[str] = ("hr", "ndcg"), protocol="full",
               seed: int = 0, num_threads=None, show_progress: Optional[bool] = None,
               evaluate_options: Optional[Mapping] = None):
    """Evaluates models clean and under each attack at each budget.

    Parameters
    ----------
    models : model, sequence of models, or mapping name -> model
        Fitted advrec models (each must support parameter attacks).
    train, test : advrec.Interactions
        Training data (attacked loss, excluded items) and held-out data.
    eps : sequence of float
        Budgets per perturbed vector.
    attacks : sequence of str
        Names from :data:`advrec.attacks.ATTACKS`: ``"fgsm"`` (L2 fast gradient, the APR attack),
        ``"fgsm-sign"``, ``"random"``, ``"iterative"``.
    k, metrics, protocol
        Passed to :func:`advrec.evaluate`. ``metrics`` may mix accuracy and beyond-accuracy names
        (full protocol), e.g. ``("ndcg", "coverage", "gini", "arp", "aplt", "epc")``, so what an
        attack does to who gets recommended shows next to what it does to accuracy.
    seed : int
        Seeds the attack (negatives of D', random directions).
    num_threads : int, optional
        Threads of the attacks and the evaluation; None (default) = each model's own
        ``num_threads``, 0 = all cores.
    show_progress : bool or None
        None (default): a progress bar only when interactive (stderr is a terminal, or Jupyter).
    evaluate_options : mapping, optional
        Further keyword arguments of :func:`advrec.evaluate` (``head_share``, ``item_features``,
        ``user_groups``, ``batch_size``).

    Returns
    -------
    pandas.DataFrame
        Tidy table with columns ``model, attack, eps, metric, value, drop, shift``; ``drop`` is the
        relative loss against the clean row of the same model and metric, ``(clean - value) / clean``
        (natural for accuracy), ``shift`` the absolute change ``value - clean`` (natural for
        popularity and exposure statistics such as ARP or Gini). The clean rows have
        ``attack == "none"`` and ``eps == 0``. A *degenerate* budget (one whose perturbed scores
        overflow float32, e.g. ``eps=1e30``) gets NaN ``value``, ``drop`` and ``shift``, a
        ``RuntimeWarning``, and an entry ``{"model", "attack", "eps", "reason"}`` in
        ``table.attrs["degenerate"]``.
    """
    import pandas as pd
    from tqdm.auto import tqdm

    from .evaluation import evaluate

    named = _name_models(models)
    options = dict(evaluate_options or {})
    clash = sorted(set(options) & {"k", "metrics", "protocol", "num_threads", "show_progress"})
    if clash:
        raise ValueError(f"evaluate_options must not repeat robustness() arguments {clash}")
    attacks = check_names(attacks, "attacks", sorted(_attacks.ATTACKS)) if len(attacks) else ()
    eps = [_attacks._check_eps(e) for e in (eps if np.ndim(eps) else [eps])]
    rows = []
    degenerate = []
    total = len(named) * (1 + len(attacks) * len(eps))
    bar = tqdm(total=total, desc="robustness", disable=not _progress.enabled(show_progress), leave=False)
    try:
        for name, model in named.items():
            clean = evaluate(model, train, test, k=k, metrics=metrics, protocol=protocol, num_threads=num_threads,
                             show_progress=False, **options).summary
            bar.update(1)
            for metric, value in clean.items():
                rows.append({"model": name, "attack": "none", "eps": 0.0, "metric": metric, "value": value, "drop": 0.0,
                             "shift": 0.0})
            for attack in attacks:
                for e in eps:
                    try:
                        bad = _attacks.ATTACKS[attack](model, train, e, seed, num_threads)
                        summary = evaluate(bad, train, test, k=k, metrics=metrics, protocol=protocol,
                                           num_threads=num_threads, show_progress=False, **options).summary
                    except NonFiniteScoresError as exc:
                        # A degenerate budget: the perturbed scores overflow float32. Its metrics
                        # would be meaningless (an all-inf model can rank its test item first), so
                        # the rows hold NaN and the budget is reported.
                        summary = {metric: float("nan") for metric in clean}
                        degenerate.append({"model": name, "attack": attack, "eps": e, "reason": str(exc)})
                        warnings.warn(f"robustness: eps={e:g} is a degenerate budget for {name} under {attack!r} "
                                      "(the perturbed scores overflow float32); its rows hold NaN", RuntimeWarning,
                                      stacklevel=2)
                    for metric, value in summary.items():
                        base = clean[metric]
                        drop = (base - value) / base if base else float("nan")
                        rows.append({"model": name, "attack": attack, "eps": e, "metric": metric, "value": value,
                                     "drop": drop, "shift": value - base})
                    bar.update(1)
    finally:
        bar.close()
    table = pd.DataFrame(rows, columns=["model", "attack", "eps", "metric", "value", "drop", "shift"])
    table.attrs["degenerate"] = degenerate
    return table


def _name_models(models) -> Dict[str, object]:
    if isinstance(models, Mapping):
        named = dict(models)
    elif isinstance(models, (list, tuple)):
        named = {}
        for m in models:
            base = type(m).__name__
            name, n = base, 2
            while name in named:
                name, n = f"{base}-{n}", n + 1
            named[name] = m
    else:
        named = {type(models).__name__: models}
    if not named:
        raise ValueError("models is empty")
    return named
