"""MF-eALS: matrix factorisation with popularity-weighted missing data (He et al., SIGIR 2016)."""

from __future__ import annotations

from typing import Any, Callable, Dict, Tuple

import numpy as np

from .._engine import core
from .base import EpochTrained, check_float, check_positive_int, check_train, register
from .mf import BPRMF


@register
class EALS(EpochTrained):
    """Matrix factorisation learned by element-wise ALS over all entries, with every missing entry
    a negative weighted by the item's popularity (MF-eALS).

    Score ``y(u, i) = p_u . q_i``. Objective (He, Zhang, Kan, Chua 2016, eq. 5 and 9)::

        sum_{(u,i) observed} weight * (1 - y_ui)^2 + sum_u sum_{i unobserved} c_i * y_ui^2
            + reg * (|P|^2 + |Q|^2),    c_i = c0 * f_i^alpha / sum_j f_j^alpha

    with ``f_i`` the item's share of the training interactions. One epoch is one iteration: every
    user vector updated coordinate by coordinate (exactly minimising the objective in that
    coordinate) with the items fixed, then every item vector. Cached Gram matrices make an
    iteration cost ``O(|R| d + (|U| + |I|) d^2)`` instead of touching all ``|U| x |I|`` entries.
    Training is deterministic (no sampling) and does not depend on the thread count.

    Parameters
    ----------
    factors : int
        Embedding size.
    reg : float
        L2 weight ``lambda``.
    c0 : float
        Total weight of the missing data (the paper's ``c_0``; it tunes values around 512).
    alpha : float
        Popularity exponent of the missing-data weights (the paper: 0.4; 0 = uniform weights).
    weight : float
        Weight of every observed entry (the paper: 1).
    epochs : int
        Iterations per :meth:`fit`.
    init_std : float
        Factors start from N(0, init_std^2) (the paper: 0.01).
    compute_loss : bool
        Record the objective after every iteration in ``history_`` (costs about a quarter of an
        iteration).
    num_threads : int
        0 uses all cores.
    seed : int
        Seeds the initialisation (training itself is deterministic).
    show_progress : bool
    """

    _array_names = ("user_factors", "item_factors")
    _clean_phase = "eals"
    _perturbable_blocks = {"users": "user_factors", "items": "item_factors"}
    #: no bias term; lets BPRMF's loss gradients (the attacks' objective) apply unchanged
    item_bias = None

    def __init__(self, factors: int = 64, reg: float = 0.01, c0: float = 512.0, alpha: float = 0.4,
                 weight: float = 1.0, epochs: int = 20, init_std: float = 0.01, compute_loss: bool = True,
                 num_threads: int = 0, seed: int = 0, show_progress: bool = True):
        self._set_params(locals())

    # ---- validation ---------------------------------------------------------------------------
    def _validate_hyper(self) -> None:
        super()._validate_hyper()
        check_positive_int(self.factors, "factors")
        check_float(self.reg, "reg")
        check_float(self.c0, "c0")
        check_float(self.alpha, "alpha")
        check_float(self.weight, "weight", strict=True)
        check_float(self.init_std, "init_std")
        if not isinstance(self.compute_loss, (bool, np.bool_)):
            raise TypeError(f"compute_loss must be a bool, got {type(self.compute_loss).__name__}")

    def _engine_config(self):
        cfg = core.EALSConfig()
        cfg.reg = float(self.reg)
        cfg.c0 = float(self.c0)
        cfg.alpha = float(self.alpha)
        cfg.weight = float(self.weight)
        cfg.compute_loss = bool(self.compute_loss)
        cfg.num_threads = int(self.num_threads)
        return cfg

    # ---- training -----------------------------------------------------------------------------
    def _init_state(self, train) -> None:
        rng = np.random.default_rng(self.seed)
        d = int(self.factors)
        self.n_users, self.n_items = int(train.n_users), int(train.n_items)
        self.user_factors = (rng.standard_normal((self.n_users, d)) * self.init_std).astype(np.float32)
        self.item_factors = (rng.standard_normal((self.n_items, d)) * self.init_std).astype(np.float32)
        self._epochs_done = 0
        self.history_ = []

    def _copy_state_from(self, other: "EALS", train) -> None:
        self._check_init(other, train, EALS, "EALS")
        if other.user_factors.shape[1] != self.factors:
            raise ValueError(f"init model has {other.user_factors.shape[1]} factors, this model {self.factors}")
        self.n_users, self.n_items = other.n_users, other.n_items
        self.user_factors = other.user_factors.copy()
        self.item_factors = other.item_factors.copy()
        self._continue_history(other)

    def _epoch_fn(self, train, cfg) -> Callable[[int], Dict[str, Any]]:
        indptr, indices = train.csr_arrays()
        arrays = {"user_factors": self.user_factors, "item_factors": self.item_factors}

        def run(epoch: int) -> Dict[str, Any]:
            stats = core.train_eals(arrays, indptr, indices, cfg)
            return {"loss": stats["loss"]} if self.compute_loss else {}

        return run

    def training_loss(self, train) -> float:
        """The eALS objective at the current parameters on ``train`` (double precision)."""
        self._check_fitted()
        check_train(train)
        indptr, indices = train.csr_arrays()
        return float(core.eals_loss({"user_factors": self.user_factors, "item_factors": self.item_factors},
                                    indptr, indices, self._engine_config()))

    # ---- scoring ------------------------------------------------------------------------------
    def _scoring_factors(self, users: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        return np.ascontiguousarray(self.user_factors[users]), self.item_factors

    def _validate_loaded(self) -> None:
        super()._validate_loaded()
        d = int(self.factors)
        for name, shape in (("user_factors", (self.n_users, d)), ("item_factors", (self.n_items, d))):
            arr = getattr(self, name, None)
            if arr is None or arr.shape != shape or arr.dtype != np.float32:
                raise ValueError(f"model file is inconsistent: {name} should be float32 of shape {shape}")
            if not np.all(np.isfinite(arr)):
                raise ValueError(f"model file is corrupt: {name} holds NaN or infinite values")

    # ---- adversarial protocol (see advrec.attacks) ------------------------------------------------
    # The attacks perturb the embeddings against the BPR loss (APR's FGM), whatever loss trained
    # them: BPRMF's gradients, which read only user_factors, item_factors and item_bias (None here).
    _loss_gradients = BPRMF._loss_gradients


#: the name the AMR paper's tables use
MFeALS = EALS
