"""The adversarial objective of APR, written once for every model that trains with it.

``L(Theta) + reg_adv * L(Theta + Delta_adv)`` with ``Delta_adv = eps * Gamma / ||Gamma||`` per
perturbed vector (He et al. 2018, eq. 4 and 12): AMF perturbs user and item embeddings, AMR item
content features, ASASRec the item embeddings at every sequence position. Only *where* the
perturbation lives differs, and that is the engine's business; the Python side is the same for all
three and lives in :class:`Adversarial`:

* the hyper-parameters ``eps``, ``reg_adv``, ``pretrain_epochs`` (and ``perturb`` when the model
  offers placements) and their checks;
* the phases: in a :meth:`fit` without ``init=``, ``pretrain_epochs`` clean epochs (the papers
  pre-train the clean model) and then the adversarial ones; with ``init=`` or in
  :meth:`partial_fit`, adversarial epochs only;
* the engine configuration of the adversarial phase (the clean one plus eps and reg_adv, and the
  placement from :meth:`Adversarial._place_adversary`).

A model becomes adversarial by listing the mixin first: ``class AMF(Adversarial, BPRMF)``, naming
its phase (``_adversarial_phase``) and, when it has placements, ``_perturb_choices`` and
``_place_adversary``.
"""

from __future__ import annotations

from typing import Tuple

from .._checks import check_choice, check_float, check_positive_int


class Adversarial:
    """Mixin for :class:`advrec.models.base.EpochTrained` models trained with the APR objective.

    The model's ``__init__`` sets ``eps``, ``reg_adv`` and ``pretrain_epochs`` (and ``perturb`` when
    ``_perturb_choices`` is not empty).
    """

    #: name of the adversarial phase in ``history_`` ("apr", "amr", "sao")
    _adversarial_phase = "adversarial"
    #: allowed values of ``perturb``; empty when the model has one placement
    _perturb_choices: Tuple[str, ...] = ()

    def _validate_hyper(self) -> None:
        super()._validate_hyper()
        check_float(self.eps, "eps")
        check_float(self.reg_adv, "reg_adv")
        check_positive_int(self.pretrain_epochs, "pretrain_epochs", allow_zero=True)
        if self._perturb_choices:
            check_choice(self.perturb, "perturb", self._perturb_choices)

    def _phases(self, epochs: int, fresh: bool):
        """Phases: ``pretrain_epochs`` clean epochs (only in a fit without ``init``), then
        ``epochs`` adversarial ones."""
        phases = []
        if fresh and self.pretrain_epochs:
            phases.append((self._clean_phase, int(self.pretrain_epochs), self._engine_config()))
        phases.append((self._adversarial_phase, epochs, self._adversarial_config()))
        return phases

    def _adversarial_config(self):
        """The engine configuration of the adversarial phase."""
        cfg = self._engine_config()
        cfg.eps = float(self.eps)
        cfg.reg_adv = float(self.reg_adv)
        self._place_adversary(cfg)
        return cfg

    def _place_adversary(self, cfg) -> None:
        """Sets where the perturbation lives on ``cfg`` (models with ``_perturb_choices``)."""
