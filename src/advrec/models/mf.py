"""BPR-MF and AMF (adversarial matrix factorisation, He et al. SIGIR 2018)."""

from __future__ import annotations

from typing import Any, Callable, Dict, Optional, Sequence, Tuple

import numpy as np

from .._engine import core
from .base import EpochTrained, register
# Argument checks shared by every trainer (imported from here by older code paths too).
from .base import check_float as _check_float, check_positive_int as _check_positive_int, check_train as _check_train

_OPTIMIZERS = ("sgd", "adagrad")
_PERTURB = ("both", "users", "items")


@register
class BPRMF(EpochTrained):
    """Matrix factorisation trained with Bayesian Personalised Ranking (BPR).

    Score ``y(u, i) = p_u . q_i (+ b_i)``; loss ``-ln sigma(y(u,i) - y(u,j))`` over triples with a
    training pair (u, i) drawn uniformly and a negative j drawn uniformly among the items u never
    interacted with. One epoch draws as many triples as there are training pairs.

    Parameters
    ----------
    factors : int
        Embedding size (the papers use 64).
    lr : float
        Learning rate (the APR paper: Adagrad, 0.05).
    optimizer : {"adagrad", "sgd"}
    reg : float
        L2 weight; ``reg * theta`` is added to the gradient of every row a triple touches.
    use_bias : bool
        Learn an item bias ``b_i``.
    reg_bias : float
        L2 weight on item biases.
    epochs : int
        Epochs per :meth:`fit`.
    batch_size : int
        1 trains sample by sample (Hogwild across threads). Larger values sum gradients per row
        over mini-batches of that many triples per thread before one optimiser step per row, as in
        the papers' TensorFlow code (they use 512).
    init_std : float
        Factors start from N(0, init_std^2) (the papers' code: 0.01).
    adagrad_init : float
        Initial Adagrad accumulator (TensorFlow's default 0.1).
    num_threads : int
        0 uses all cores. With 1 thread and a fixed seed, training is bit-for-bit reproducible.
    seed : int
    show_progress : bool
        Show a progress bar while fitting.
    """

    _array_names = ("user_factors", "item_factors", "item_bias", "user_accum", "item_accum", "bias_accum")

    def __init__(self, factors: int = 64, lr: float = 0.05, optimizer: str = "adagrad", reg: float = 0.0,
                 use_bias: bool = False, reg_bias: float = 0.0, epochs: int = 100, batch_size: int = 1,
                 init_std: float = 0.01, adagrad_init: float = 0.1, num_threads: int = 0, seed: int = 0,
                 show_progress: bool = True):
        self.factors = factors
        self.lr = lr
        self.optimizer = optimizer
        self.reg = reg
        self.use_bias = use_bias
        self.reg_bias = reg_bias
        self.epochs = epochs
        self.batch_size = batch_size
        self.init_std = init_std
        self.adagrad_init = adagrad_init
        self.num_threads = num_threads
        self.seed = seed
        self.show_progress = show_progress
        self.n_users = None
        self.n_items = None
        self.history_ = []
        self._epochs_done = 0

    # ---- validation ---------------------------------------------------------------------------
    def _validate_hyper(self) -> None:
        _check_positive_int(self.factors, "factors")
        _check_float(self.lr, "lr", strict=True)
        if self.optimizer not in _OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {_OPTIMIZERS}, got {self.optimizer!r}")
        _check_float(self.reg, "reg")
        _check_float(self.reg_bias, "reg_bias")
        _check_positive_int(self.epochs, "epochs", allow_zero=True)
        _check_positive_int(self.batch_size, "batch_size")
        _check_float(self.init_std, "init_std")
        _check_float(self.adagrad_init, "adagrad_init", strict=True)
        _check_positive_int(self.num_threads, "num_threads", allow_zero=True)
        _check_positive_int(self.seed, "seed", allow_zero=True)

    def _engine_config(self):
        cfg = core.MFTrainConfig()
        cfg.lr = float(self.lr)
        cfg.reg = float(self.reg)
        cfg.reg_bias = float(self.reg_bias)
        cfg.optimizer = core.Optimizer.adagrad if self.optimizer == "adagrad" else core.Optimizer.sgd
        cfg.batch_size = int(self.batch_size)
        cfg.num_threads = int(self.num_threads)
        cfg.seed = int(self.seed)
        return cfg

    # ---- state --------------------------------------------------------------------------------
    def _init_state(self, train) -> None:
        rng = np.random.default_rng(self.seed)
        d = int(self.factors)
        self.n_users, self.n_items = int(train.n_users), int(train.n_items)
        self.user_factors = (rng.standard_normal((self.n_users, d)) * self.init_std).astype(np.float32)
        self.item_factors = (rng.standard_normal((self.n_items, d)) * self.init_std).astype(np.float32)
        self.item_bias = np.zeros(self.n_items, np.float32) if self.use_bias else None
        self._reset_optimizer()
        self._epochs_done = 0
        self.history_ = []

    def _reset_optimizer(self) -> None:
        if self.optimizer == "adagrad":
            a = np.float32(self.adagrad_init)
            self.user_accum = np.full_like(self.user_factors, a)
            self.item_accum = np.full_like(self.item_factors, a)
            self.bias_accum = np.full(self.n_items, a, np.float32) if self.item_bias is not None else None
        else:
            self.user_accum = self.item_accum = self.bias_accum = None

    def _copy_state_from(self, other: "BPRMF", train) -> None:
        if not isinstance(other, BPRMF):
            raise TypeError(f"init must be a fitted BPRMF or AMF, got {type(other).__name__}")
        other._check_fitted()
        if (other.n_users, other.n_items) != (train.n_users, train.n_items):
            raise ValueError(f"init model has {other.n_users} users x {other.n_items} items but the training data "
                             f"has {train.n_users} x {train.n_items}")
        if other.user_factors.shape[1] != self.factors:
            raise ValueError(f"init model has {other.user_factors.shape[1]} factors, this model {self.factors}")
        self.n_users, self.n_items = other.n_users, other.n_items
        self.user_factors = other.user_factors.copy()
        self.item_factors = other.item_factors.copy()
        if self.use_bias:
            self.item_bias = other.item_bias.copy() if other.item_bias is not None else np.zeros(self.n_items, np.float32)
        else:
            self.item_bias = None
        same_opt = other.optimizer == self.optimizer and self.optimizer == "adagrad" and other.user_accum is not None
        if same_opt and (self.item_bias is None) == (other.item_bias is None):
            # Continuing Adagrad with its accumulators is what "initialise from BPR" means in the
            # papers' code (the checkpoint restores the optimiser slots too).
            self.user_accum = other.user_accum.copy()
            self.item_accum = other.item_accum.copy()
            self.bias_accum = other.bias_accum.copy() if other.bias_accum is not None else None
        else:
            self._reset_optimizer()
        self._epochs_done = other._epochs_done
        self.history_ = [dict(h) for h in getattr(other, "history_", [])]

    # ---- training -----------------------------------------------------------------------------
    def _epoch_fn(self, train, cfg) -> Callable[[int], Dict[str, Any]]:
        indptr, indices = train.csr_arrays()

        def run(epoch: int) -> Dict[str, Any]:
            cfg.epoch = epoch
            return core.train_mf(self._engine_arrays(), indptr, indices, cfg)

        return run

    def _engine_arrays(self) -> Dict[str, Any]:
        """The parameter arrays the engine trains in place, by name."""
        return {name: getattr(self, name) for name in self._array_names}

    def fit(self, train, *, init: Optional["BPRMF"] = None, epochs: Optional[int] = None, validation=None,
            eval_every: int = 0, eval_k: Sequence[int] = (10,), eval_metrics: Sequence[str] = ("hr", "ndcg"),
            patience: Optional[int] = None, callback=None):
        """Trains the model.

        Parameters
        ----------
        train : advrec.Interactions
            Training interactions.
        init : BPRMF, optional
            Start from this model's parameters (and Adagrad state) instead of a random
            initialisation; the epoch counter and history continue from it. Not modified.
        epochs : int, optional
            Overrides ``self.epochs`` for this call.
        validation : advrec.Interactions, optional
            Held-out interactions evaluated every ``eval_every`` epochs (full ranking); figures go
            into ``history_`` as ``val_<metric>@<k>``.
        patience : int, optional
            Stop when the monitored validation metric (the last of ``eval_metrics`` at the first
            ``eval_k``) has not improved for this many evaluations.
        callback : callable, optional
            ``callback(epoch, figures)`` after every epoch; returning False stops training.

        Returns
        -------
        self
        """
        self._validate_hyper()
        _check_train(train)
        if init is not None:
            self._copy_state_from(init, train)
        else:
            self._init_state(train)
        self._remember_train(train)
        return self._train(train, epochs, validation, eval_every, eval_k, eval_metrics, patience, callback)

    def _phases(self, epochs: int):
        """(phase name, number of epochs, engine config) in order."""
        return [("bpr", epochs, self._engine_config())]

    # ---- scoring ------------------------------------------------------------------------------
    def _scoring_factors(self, users: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        U = self.user_factors[users]
        if self.item_bias is None:
            return np.ascontiguousarray(U), self.item_factors
        U = np.hstack([U, np.ones((U.shape[0], 1), np.float32)])
        V = np.hstack([self.item_factors, self.item_bias[:, None]])
        return U, np.ascontiguousarray(V)

    def _set_extra_state(self, state: Dict[str, Any]) -> None:
        super()._set_extra_state(state)
        for name in self._array_names:
            setattr(self, name, None)

    def _validate_loaded(self) -> None:
        super()._validate_loaded()
        d = int(self.factors)
        for name, shape in (("user_factors", (self.n_users, d)), ("item_factors", (self.n_items, d))):
            arr = getattr(self, name, None)
            if arr is None or arr.shape != shape or arr.dtype != np.float32:
                raise ValueError(f"model file is inconsistent: {name} should be float32 of shape {shape}")
        if self.use_bias and (self.item_bias is None or self.item_bias.shape != (self.n_items,)):
            raise ValueError("model file is inconsistent: item_bias is missing or has the wrong shape")
        for name in self._array_names:
            arr = getattr(self, name, None)
            if arr is not None and not np.all(np.isfinite(arr)):
                raise ValueError(f"model file is corrupt: {name} holds NaN or infinite values")

    # ---- adversarial protocol (see advrec.attacks) ----------------------------------------------
    def _perturbable(self) -> Dict[str, np.ndarray]:
        """Parameter blocks an adversary may perturb, by name."""
        self._check_fitted()
        return {"users": self.user_factors, "items": self.item_factors}

    def _loss_gradients(self, triples, deltas: Dict[str, np.ndarray], num_threads: int = 0):
        """BPR loss summed over ``triples`` at the parameters + ``deltas``, and its gradient
        with respect to each perturbed block. Returns ``(loss, n_correct, {name: gradient})``."""
        users, pos, neg = triples
        P = self.user_factors + deltas["users"] if "users" in deltas else self.user_factors
        Q = self.item_factors + deltas["items"] if "items" in deltas else self.item_factors
        arrays = {"user_factors": np.ascontiguousarray(P, np.float32),
                  "item_factors": np.ascontiguousarray(Q, np.float32), "item_bias": self.item_bias}
        loss, correct, gu, gi = core.bpr_gradients(arrays, users, pos, neg, True, True, num_threads)
        return loss, correct, {"users": gu, "items": gi}

    def _perturbed_copy(self, deltas: Dict[str, np.ndarray]) -> "BPRMF":
        """A new model whose blocks are the parameters + ``deltas`` (the model itself is unchanged)."""
        clone = type(self)(**self.get_params())
        clone.n_users, clone.n_items = self.n_users, self.n_items
        clone.user_factors = (self.user_factors + deltas["users"]) if "users" in deltas else self.user_factors.copy()
        clone.item_factors = (self.item_factors + deltas["items"]) if "items" in deltas else self.item_factors.copy()
        clone.item_bias = None if self.item_bias is None else self.item_bias.copy()
        clone.user_accum = clone.item_accum = clone.bias_accum = None
        clone._train_indptr, clone._train_indices = self._train_indptr, self._train_indices
        clone._epochs_done = self._epochs_done
        clone.history_ = []
        return clone


@register
class AMF(BPRMF):
    """Adversarial Matrix Factorisation: BPR-MF trained with Adversarial Personalized Ranking.

    Objective (He et al. 2018, eq. 4 and 12): ``L_BPR(Theta) + reg_adv * L_BPR(Theta + Delta_adv)``
    with ``Delta_adv = eps * Gamma / ||Gamma||`` for every perturbed user and item embedding vector,
    ``Gamma`` the gradient of the BPR loss with respect to the perturbation at the current
    parameters (fast gradient method), recomputed at every step.

    With ``batch_size=1`` this is the paper's Algorithm 1 (per triple); with ``batch_size > 1`` the
    perturbation of a vector is computed from the gradient summed over the mini-batch (an item that
    is positive in one triple and negative in another receives both), as in section 3.4.

    Parameters
    ----------
    eps : float
        Perturbation size per embedding vector (the paper: 0.5).
    reg_adv : float
        Weight lambda of the adversarial term (the paper: 1).
    pretrain_epochs : int
        Plain BPR epochs run before the adversarial ones within one :meth:`fit` (ignored when
        ``init=`` is given). The paper pre-trains with BPR: use ``fit(train, init=bpr_model)`` or
        this.
    perturb : {"both", "users", "items"}
        Which embeddings the adversary perturbs.
    **kwargs
        Every :class:`BPRMF` parameter.
    """

    def __init__(self, factors: int = 64, eps: float = 0.5, reg_adv: float = 1.0, pretrain_epochs: int = 0,
                 perturb: str = "both", lr: float = 0.05, optimizer: str = "adagrad", reg: float = 0.0,
                 use_bias: bool = False, reg_bias: float = 0.0, epochs: int = 100, batch_size: int = 1,
                 init_std: float = 0.01, adagrad_init: float = 0.1, num_threads: int = 0, seed: int = 0,
                 show_progress: bool = True):
        super().__init__(factors=factors, lr=lr, optimizer=optimizer, reg=reg, use_bias=use_bias,
                         reg_bias=reg_bias, epochs=epochs, batch_size=batch_size, init_std=init_std,
                         adagrad_init=adagrad_init, num_threads=num_threads, seed=seed,
                         show_progress=show_progress)
        self.eps = eps
        self.reg_adv = reg_adv
        self.pretrain_epochs = pretrain_epochs
        self.perturb = perturb

    def _validate_hyper(self) -> None:
        super()._validate_hyper()
        self._validate_adversarial()
        if self.perturb not in _PERTURB:
            raise ValueError(f"perturb must be one of {_PERTURB}, got {self.perturb!r}")

    def _adversarial_config(self):
        cfg = self._engine_config()
        cfg.eps = float(self.eps)
        cfg.reg_adv = float(self.reg_adv)
        cfg.perturb_users = self.perturb in ("both", "users")
        cfg.perturb_items = self.perturb in ("both", "items")
        return cfg

    def fit(self, train, *, init=None, **kwargs):
        self._pretrain_now = init is None
        try:
            return super().fit(train, init=init, **kwargs)
        finally:
            self._pretrain_now = False

    def _phases(self, epochs: int):
        return self._clean_then_adversarial(epochs, "bpr", "apr")

    def _phases_clean_config(self):
        return self._engine_config()
