"""CDAE: Collaborative Denoising Auto-Encoder (Wu, DuBois, Zheng, Ester; WSDM 2016)."""

from __future__ import annotations

from typing import Any, Callable, Dict, Tuple

import numpy as np

from .._engine import core
from .base import EpochTrained, check_float, check_positive_int, register, with_bias_column

_OPTIMIZERS = ("sgd", "adagrad")
_HIDDEN = ("identity", "sigmoid", "tanh", "relu")
_OUTPUT = ("identity", "sigmoid")
_LOSSES = ("logistic", "square")


@register
class CDAE(EpochTrained):
    """Collaborative Denoising Auto-Encoder for top-N recommendation.

    For user ``u`` with training vector ``y_u`` (1 for every training item):

    * corrupted input ``y~_u``: every 1 is dropped with probability ``corruption`` (q) and the kept
      ones are scaled to ``1 / (1 - q)``;
    * hidden ``z_u = h(W^T y~_u + V_u + b)`` with the user node ``V_u``;
    * output ``y^_ui = f(W'_i . z_u + b'_i)``;
    * loss ``l(y_ui, y^_ui)`` summed over u's training items (label 1) and ``negatives`` times as
      many items sampled uniformly among those u never interacted with (label 0): the paper's
      negative sampling of the zero entries, plus ``reg / 2`` times the squared norm of every
      parameter row a step touches.

    One epoch is the paper's Algorithm 1: every user once, in a random order, one stochastic
    (AdaGrad or SGD) step per user; threads share the weights without locks (Hogwild).

    Ranking: ``f`` is monotone, so items are ranked by ``W'_i . z_u + b'_i`` with ``z_u`` computed
    from the uncorrupted training vector. That is a dot product of ``[z_u, 1]`` and ``[W'_i, b'_i]``
    (:meth:`_scoring_factors`), so :func:`advrec.evaluate` and :meth:`recommend` apply unchanged.
    Scores are pre-activations ``a_ui``, not probabilities.

    Attacks: the parameter attacks of :mod:`advrec.attacks` (FGSM, random noise, iterative) perturb
    the user/item embedding blocks of BPR-trained models; CDAE has no such blocks, and
    ``advrec.attacks`` raises ``TypeError`` for it. Data-poisoning experiments (fake users
    added to the training data) apply, since a fitted CDAE encodes any user vector.

    Parameters
    ----------
    factors : int
        Hidden units K (the APR paper compares at 64; the CDAE paper uses 50).
    corruption : float
        Drop-out probability q of each input 1, in [0, 1).
    negatives : int
        Sampled zero entries per positive entry (0: train on positives only).
    hidden : {"sigmoid", "identity", "tanh", "relu"}
        Hidden activation h (the paper: sigmoid or identity).
    output : {"sigmoid", "identity"}
        Output mapping f.
    loss : {"logistic", "square"}
        ``"logistic"`` is the cross-entropy of a sigmoid output (needs ``output="sigmoid"``).
    lr : float
    optimizer : {"adagrad", "sgd"}
        The paper trains with AdaGrad.
    reg : float
        L2 weight lambda.
    epochs : int
    init_std : float
        Weights start from N(0, init_std^2); biases at 0.
    adagrad_init : float
        Initial AdaGrad accumulator.
    num_threads : int
        0 uses all cores; with 1 thread and a seed, training is bit-for-bit reproducible.
    seed : int
    show_progress : bool
    """

    _array_names = ("item_in", "user_node", "hidden_bias", "item_out", "out_bias", "item_in_accum",
                    "user_node_accum", "hidden_bias_accum", "item_out_accum", "out_bias_accum")

    def __init__(self, factors: int = 64, corruption: float = 0.2, negatives: int = 5, hidden: str = "sigmoid",
                 output: str = "sigmoid", loss: str = "logistic", lr: float = 0.1, optimizer: str = "adagrad",
                 reg: float = 0.0, epochs: int = 100, init_std: float = 0.05, adagrad_init: float = 0.1,
                 num_threads: int = 0, seed: int = 0, show_progress: bool = True):
        self._set_params(locals())

    _clean_phase = "cdae"
    _optimizer_arrays = ("item_in_accum", "user_node_accum", "hidden_bias_accum", "item_out_accum", "out_bias_accum")

    # ---- validation ---------------------------------------------------------------------------
    def _validate_hyper(self) -> None:
        super()._validate_hyper()
        check_positive_int(self.factors, "factors")
        check_float(self.corruption, "corruption")
        if self.corruption >= 1:
            raise ValueError(f"corruption must be in [0, 1), got {self.corruption}")
        check_positive_int(self.negatives, "negatives", allow_zero=True)
        for name, allowed in (("hidden", _HIDDEN), ("output", _OUTPUT), ("loss", _LOSSES),
                              ("optimizer", _OPTIMIZERS)):
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} must be one of {allowed}, got {getattr(self, name)!r}")
        if self.loss == "logistic" and self.output != "sigmoid":
            raise ValueError("loss='logistic' is the cross-entropy of a sigmoid output: it needs output='sigmoid'")
        check_float(self.lr, "lr", strict=True)
        check_float(self.reg, "reg")
        check_float(self.init_std, "init_std")
        check_float(self.adagrad_init, "adagrad_init", strict=True)

    def _engine_config(self):
        cfg = core.CDAEConfig()
        cfg.lr = float(self.lr)
        cfg.reg = float(self.reg)
        cfg.corruption = float(self.corruption)
        cfg.negatives = int(self.negatives)
        cfg.hidden = getattr(core.Activation, self.hidden)
        cfg.output = getattr(core.Activation, self.output)
        cfg.loss = getattr(core.CDAELoss, self.loss)
        cfg.optimizer = getattr(core.Optimizer, self.optimizer)
        cfg.num_threads = int(self.num_threads)
        cfg.seed = int(self.seed)
        cfg.validate()
        return cfg

    # ---- state --------------------------------------------------------------------------------
    def _arrays(self) -> Dict[str, np.ndarray]:
        return {name: getattr(self, name) for name in self._array_names if getattr(self, name, None) is not None}

    def _init_state(self, train) -> None:
        rng = np.random.default_rng(self.seed)
        K = int(self.factors)
        self.n_users, self.n_items = int(train.n_users), int(train.n_items)
        std = float(self.init_std)
        self.item_in = (rng.standard_normal((self.n_items, K)) * std).astype(np.float32)
        self.user_node = (rng.standard_normal((self.n_users, K)) * std).astype(np.float32)
        self.hidden_bias = np.zeros(K, np.float32)
        self.item_out = (rng.standard_normal((self.n_items, K)) * std).astype(np.float32)
        self.out_bias = np.zeros(self.n_items, np.float32)
        for name in ("item_in", "user_node", "hidden_bias", "item_out", "out_bias"):
            acc = np.full_like(getattr(self, name), np.float32(self.adagrad_init)) if self.optimizer == "adagrad" else None
            setattr(self, name + "_accum", acc)
        self._epochs_done = 0
        self.history_ = []

    def _copy_state_from(self, other, train) -> None:
        """``fit(train, init=cdae)`` continues a fitted CDAE of the same structure."""
        self._check_init(other, train, CDAE, "CDAE")
        if (other.factors, other.hidden, other.optimizer) != (self.factors, self.hidden, self.optimizer):
            raise ValueError("init must have the same factors, hidden activation and optimizer")
        self.n_users, self.n_items = other.n_users, other.n_items
        for name in self._array_names:
            value = getattr(other, name, None)
            setattr(self, name, None if value is None else value.copy())
        self._continue_history(other)

    def _epoch_fn(self, train, cfg) -> Callable[[int], Dict[str, Any]]:
        indptr, indices = train.csr_arrays()

        def run(epoch: int) -> Dict[str, Any]:
            cfg.epoch = epoch
            return core.train_cdae(self._arrays(), indptr, indices, cfg)

        return run

    # ---- scoring ------------------------------------------------------------------------------
    def encode(self, users) -> np.ndarray:
        """Hidden representations ``z_u`` (len(users) x factors) from the training vectors."""
        ids, _ = self._check_users(users)
        return self._encode(ids)

    def _encode(self, ids: np.ndarray) -> np.ndarray:
        return core.cdae_encode(self._arrays(), self._train_indptr, self._train_indices,
                                getattr(core.Activation, self.hidden), ids, self._threads(None))

    @property
    def _perturbable(self):
        # No user/item embedding blocks: advrec.attacks sees no _perturbable and raises TypeError.
        raise AttributeError("CDAE has no embedding blocks for parameter attacks")

    def _scoring_factors(self, users: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        Z = self._encode(users)
        return with_bias_column(Z, self.item_out, self.out_bias)

    # ---- persistence --------------------------------------------------------------------------
    def _validate_loaded(self) -> None:
        super()._validate_loaded()
        K = int(self.factors)
        shapes = {"item_in": (self.n_items, K), "user_node": (self.n_users, K), "hidden_bias": (K,),
                  "item_out": (self.n_items, K), "out_bias": (self.n_items,)}
        for name, shape in shapes.items():
            arr = getattr(self, name, None)
            if arr is None or arr.shape != shape or arr.dtype != np.float32:
                raise ValueError(f"model file is inconsistent: {name} should be float32 of shape {shape}")
            if not np.all(np.isfinite(arr)):
                raise ValueError(f"model file is corrupt: {name} holds NaN or infinite values")
