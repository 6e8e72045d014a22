"""MF-eALS: matrix factorisation with popularity-weighted missing data (He et al., SIGIR 2016)."""

from __future__ import annotations

from typing import Any, Callable, Dict, Optional, Sequence, Tuple

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
    #: no bias term; lets the attack protocol shared with :class:`BPRMF` apply unchanged
    item_bias = None

    def __init__(self, factors: int = 64, reg: float = 0.01, c0: float = 512.0, alpha: float = 0.4,
                 weight: float = 1.0, epochs: int = 20, init_std: float = 0.01, compute_loss: bool = True,
                 num_threads: int = 0, seed: int = 0, show_progress: bool = True):
        self.factors = factors
        self.reg = reg
        self.c0 = c0
        self.alpha = alpha
        self.weight = weight
        self.epochs = epochs
        self.init_std = init_std
        self.compute_loss = compute_loss
        self.num_threads = num_threads
        self.seed = seed
        self.show_progress = show_progress
        self.n_users = None
        self.n_items = None
        self.history_ = []
        self._epochs_done = 0

    # ---- validation ---------------------------------------------------------------------------
    def _validate_hyper(self) -> None:
        check_positive_int(self.factors, "factors")
        check_float(self.reg, "reg")
        check_float(self.c0, "c0")
        check_float(self.alpha, "alpha")
        check_float(self.weight, "weight", strict=True)
        check_positive_int(self.epochs, "epochs", allow_zero=True)
        check_float(self.init_std, "init_std")
        if not isinstance(self.compute_loss, (bool, np.bool_)):
            raise TypeError(f"compute_loss must be a bool, got {type(self.compute_loss).__name__}")
        check_positive_int(self.num_threads, "num_threads", allow_zero=True)
        check_positive_int(self.seed, "seed", allow_zero=True)

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
        if not isinstance(other, EALS):
            raise TypeError(f"init must be a fitted EALS, got {type(other).__name__}")
        other._check_fitted()
        if (other.n_users, other.n_items) != (train.n_users, train.n_items):
            raise ValueError(f"init model has {other.n_users} users x {other.n_items} items but the training data "
                             f"has {train.n_users} x {train.n_items}")
        if other.user_factors.shape[1] != self.factors:
            raise ValueError(f"init model has {other.user_factors.shape[1]} factors, this model {self.factors}")
        self.n_users, self.n_items = other.n_users, other.n_items
        self.user_factors = other.user_factors.copy()
        self.item_factors = other.item_factors.copy()
        self._epochs_done = other._epochs_done
        self.history_ = [dict(h) for h in getattr(other, "history_", [])]

    def _epoch_fn(self, train, cfg) -> Callable[[int], Dict[str, Any]]:
        indptr, indices = train.csr_arrays()
        arrays = {"user_factors": self.user_factors, "item_factors": self.item_factors}

        def run(epoch: int) -> Dict[str, Any]:
            stats = core.train_eals(arrays, indptr, indices, cfg)
            return {"loss": stats["loss"]} if self.compute_loss else {}

        return run

    def _phases(self, epochs: int):
        return [("eals", epochs, self._engine_config())]

    def fit(self, train, *, init: Optional["EALS"] = None, epochs: Optional[int] = None, validation=None,
            eval_every: int = 0, eval_k: Sequence[int] = (10,), eval_metrics: Sequence[str] = ("hr", "ndcg"),
            patience: Optional[int] = None, callback=None):
        """Trains the model.

        Parameters
        ----------
        train : advrec.Interactions
        init : EALS, optional
            Continue from this model's factors (not modified).
        epochs : int, optional
            Overrides ``self.epochs`` for this call.
        validation, eval_every, eval_k, eval_metrics, patience, callback
            As in :meth:`advrec.BPRMF.fit`.

        Returns
        -------
        self
        """
        self._validate_hyper()
        check_train(train)
        if init is not None:
            self._copy_state_from(init, train)
        else:
            self._init_state(train)
        self._remember_train(train)
        return self._train(train, epochs, validation, eval_every, eval_k, eval_metrics, patience, callback)

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

    # ---- adversarial protocol (see advrec.attacks): the same as any plain MF -------------------
    # The attacks perturb the embeddings against the BPR loss (APR's FGM), whatever loss trained
    # them; these are BPRMF's, which read only user_factors, item_factors and item_bias (None here).
    _perturbable = BPRMF._perturbable
    _loss_gradients = BPRMF._loss_gradients

    _perturbed_copy = BPRMF._perturbed_copy


#: the name the AMR paper's tables use
MFeALS = EALS
