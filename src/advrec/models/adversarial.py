"""The adversarial objective of APR, written once for every model that trains with it.

``L(Theta) + reg_adv * L(Theta + Delta_adv)`` with ``Delta_adv = eps * Gamma / ||Gamma||`` per
perturbed vector (He et al. 2018, eq. 4 and 12): AMF perturbs user and item embeddings, AMR item
content features, ASASRec the item embeddings at every sequence position. Only *where* the
perturbation lives differs, and that is the engine's business; the Python side is the same for all
three and lives in :class:`Adversarial`:

* the hyper-parameters ``eps``, ``eps_relative``, ``reg_adv``, ``pretrain_epochs`` (and ``perturb``
  when the model offers placements) and their checks;
* the phases: a :meth:`fit` without ``init=`` pre-trains the clean model first (``"auto"``: the first
  half of ``epochs``; an integer N: N clean epochs before ``epochs`` adversarial ones); with
  ``init=`` or in :meth:`partial_fit`, adversarial epochs only. An adversary of norm eps per vector
  overwhelms embeddings at their initial scale (std 0.01: norm ~0.08 at d = 64, against the papers'
  eps = 0.5) and training collapses to chance from the first step; the papers pre-train for this
  reason;
* the budget, fixed when the adversarial phase starts (absolute ``eps``, or ``eps_relative`` times
  the median norm of the perturbed vectors), and a warning when it exceeds that median norm;
* the engine configuration of the adversarial phase (the clean one plus eps and reg_adv, and the
  placement from :meth:`Adversarial._place_adversary`).

A model becomes adversarial by listing the mixin first: ``class AMF(Adversarial, BPRMF)``, naming
its phase (``_adversarial_phase``) and, when it has placements, ``_perturb_choices`` and
``_place_adversary``.
"""

from __future__ import annotations

from typing import Dict, Tuple

import numpy as np

from .._checks import check_choice, check_float, check_positive_int
from .base import ADVERSARY_SCALE_LIMIT, PRETRAIN_AUTO, _caller_stacklevel


class Adversarial:
    """Mixin for :class:`advrec.models.base.EpochTrained` models trained with the APR objective.

    The model's ``__init__`` sets ``eps``, ``eps_relative``, ``reg_adv`` and ``pretrain_epochs`` (and
    ``perturb`` when ``_perturb_choices`` is not empty).
    """

    #: name of the adversarial phase in ``history_`` ("apr", "amr", "sao")
    _adversarial_phase = "adversarial"
    #: allowed values of ``perturb``; empty when the model has one placement
    _perturb_choices: Tuple[str, ...] = ()

    @property
    def _pretraining_phases(self) -> Tuple[str, ...]:
        # The clean pre-training of a fit without ``init`` runs its fixed number of epochs and is
        # not validated: with ``eval_set``/``patience`` the selection is over the adversarial
        # epochs only, so an AMF/AMR/ASASRec fit can neither stop before its adversarial phase
        # nor be restored to a clean epoch (which would return the clean model under the
        # adversarial model's name). To select the clean model's epochs on validation too, fit
        # the clean model with ``eval_set`` and pass it as ``init=``, as the reproductions do.
        return (self._clean_phase,)

    def _validate_hyper(self) -> None:
        super()._validate_hyper()
        if self.eps is not None:
            check_float(self.eps, "eps")
        check_float(self.eps_relative, "eps_relative", strict=True)
        check_float(self.reg_adv, "reg_adv")
        if not (isinstance(self.pretrain_epochs, str) and self.pretrain_epochs == PRETRAIN_AUTO):
            if isinstance(self.pretrain_epochs, str):
                raise ValueError(f"pretrain_epochs must be {PRETRAIN_AUTO!r} or an integer >= 0, "
                                 f"got {self.pretrain_epochs!r}")
            check_positive_int(self.pretrain_epochs, "pretrain_epochs", allow_zero=True)
        if self._perturb_choices:
            check_choice(self.perturb, "perturb", self._perturb_choices)

    # ---- phases ---------------------------------------------------------------------------------
    def _pretrain_split(self, epochs: int) -> Tuple[int, int]:
        """(clean epochs, adversarial epochs) of a fit without ``init`` asked for ``epochs``.

        ``"auto"``: the first half of ``epochs`` (rounded up) is clean pre-training and the rest is
        adversarial, so the total is ``epochs``, the same as the clean model's. An integer N: N
        clean epochs before ``epochs`` adversarial ones."""
        if isinstance(self.pretrain_epochs, str):
            clean = (epochs + 1) // 2
            return clean, epochs - clean
        return int(self.pretrain_epochs), epochs

    def _phases(self, epochs: int, fresh: bool):
        """Phases: clean pre-training (only in a fit without ``init``; see :meth:`_pretrain_split`),
        then the adversarial epochs."""
        phases = []
        adversarial = epochs
        if fresh:
            clean, adversarial = self._pretrain_split(epochs)
            if clean:
                phases.append((self._clean_phase, clean, self._engine_config()))
        phases.append((self._adversarial_phase, adversarial, self._adversarial_config()))
        return phases

    def _start_phase(self, phase: str, cfg) -> None:
        super()._start_phase(phase, cfg)
        if phase == self._adversarial_phase:
            # The budget is fixed when the adversarial phase starts, after any pre-training.
            cfg.eps = self._effective_eps()
            self._warn_if_eps_overwhelms()

    def _adversarial_config(self):
        """The engine configuration of the adversarial phase."""
        cfg = self._engine_config()
        cfg.eps = self._effective_eps()
        cfg.reg_adv = float(self.reg_adv)
        self._place_adversary(cfg)
        return cfg

    def _place_adversary(self, cfg) -> None:
        """Sets where the perturbation lives on ``cfg`` (models with ``_perturb_choices``)."""

    # ---- the budget -----------------------------------------------------------------------------
    def _effective_eps(self) -> float:
        """The absolute per-vector budget the engine uses now: ``eps`` when given (the papers'
        absolute epsilon), else ``eps_relative`` times the median norm of the vectors the adversary
        perturbs, measured now (a budget that scales with the model: multiplying every embedding
        by c multiplies it by c)."""
        if self.eps is not None:
            return float(self.eps)
        norms = [n for n in self._adversary_row_norms().values() if n.size]
        median = float(np.median(np.concatenate(norms))) if norms else 0.0
        return float(self.eps_relative) * median

    def _adversary_row_norms(self) -> Dict[str, np.ndarray]:
        """L2 norms of the vectors the adversary perturbs, by block (override where the perturbed
        vectors are not the rows of :meth:`_perturbable`)."""
        return {name: np.linalg.norm(block.reshape(block.shape[0], -1), axis=1)
                for name, block in self._perturbable().items()}

    def _warn_if_eps_overwhelms(self) -> None:
        """Warns when eps exceeds the median norm of the perturbed vectors: the adversary then
        dominates the model it perturbs and training collapses towards chance."""
        eps = self._effective_eps()
        if eps <= 0.0 or float(self.reg_adv) <= 0.0:
            return
        norms = {name: float(np.median(n)) for name, n in self._adversary_row_norms().items() if n.size}
        small = {name: med for name, med in norms.items() if eps > ADVERSARY_SCALE_LIMIT * med}
        if not small:
            return
        import warnings

        detail = ", ".join(f"{name} {med:.3g}" for name, med in small.items())
        warnings.warn(f"{type(self).__name__}: eps={eps:g} is larger than the median norm of the vectors it perturbs "
                      f"({detail}) at the start of the adversarial phase; the adversary will overwhelm the model and "
                      "training is likely to collapse to chance. Pre-train the clean model first "
                      "(pretrain_epochs='auto', more pre-training epochs, or fit(train, init=clean_model)) or lower "
                      "eps.", RuntimeWarning, stacklevel=_caller_stacklevel())
