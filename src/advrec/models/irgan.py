"""IRGAN for item recommendation (Wang et al., SIGIR 2017)."""

from __future__ import annotations

from typing import Any, Callable, Dict, Optional, Tuple

import numpy as np

from .._engine import core
from .base import EpochTrained, check_float, check_positive_int, register, with_bias_column

_REWARDS = ("paper", "centered")
_PLAYERS = ("generator", "discriminator")
_BLOCKS = ("g_users", "g_items", "g_bias", "d_users", "d_items", "d_bias")


@register
class IRGAN(EpochTrained):
    """IRGAN, item-recommendation setting: a minimax game between two matrix factorisations.

    * Generator ``p_theta(i | u) = softmax_i((g_u . g_i + gb_i) / temperature)`` over all items.
    * Discriminator ``D(i | u) = sigmoid(d_u . d_i + db_i)``.

    One epoch runs ``d_steps`` discriminator passes (each user's training items are the true pairs,
    as many items drawn from ``p_theta(. | u)`` the generated ones; binary cross-entropy, SGD) and
    then ``g_steps`` generator passes (policy gradient, paper eq. 5: the generator raises
    ``E_{i ~ p_theta}[reward]`` with the discriminator's reward ``ln(1 + exp(f_phi(u, i)))``, or
    ``2 * (sigmoid(f_phi) - 0.5)`` as in the authors' released code with ``reward="centered"``).
    Generator samples are drawn, ``g_samples`` per training item, from the released code's mixture
    ``(1 - sample_lambda) p_theta + sample_lambda * uniform(training items)`` and re-weighted by
    ``p_theta / mixture`` (importance sampling). Users are processed in mini-batches of
    ``batch_size`` per thread (one GEMM for the logits over all items), threads share the weights
    without locks.

    Like the paper (and the APR paper's use of it as a baseline), the players start from a
    pre-trained model: ``fit(train, init=bpr)`` copies a fitted :class:`advrec.BPRMF` into both;
    otherwise ``pretrain_epochs`` epochs of BPR-MF (AdaGrad, ``pretrain_lr``) are run first, and
    with ``pretrain_epochs=0`` both start from N(0, init_std^2).

    Recommendations come from ``predict_with`` (the generator by default, as the paper evaluates
    it); both are dot-product models (``[p_u, 1] . [q_i, b_i]``). The parameter attacks of
    :mod:`advrec.attacks` apply to that player's user and item embeddings, with the BPR loss on
    its scores, exactly as for :class:`advrec.BPRMF`.

    Parameters
    ----------
    factors : int
    lr_g, lr_d : float
        SGD learning rates of the generator and discriminator.
    reg : float
        L2 weight on the rows a step touches.
    temperature : float
        Softmax temperature of the generator.
    sample_lambda : float
        Weight of the uniform-over-positives part of the generator's sampling mixture, in [0, 1).
    g_samples : int
        Generator samples per training item of a user.
    reward : {"paper", "centered"}
    d_steps, g_steps : int
        Discriminator and generator passes per epoch.
    batch_size : int
        Users per mini-batch (per thread).
    epochs : int
    pretrain_epochs, pretrain_lr : int, float
        BPR-MF pre-training when ``fit`` gets no ``init``.
    predict_with : {"generator", "discriminator"}
    init_std : float
    num_threads, seed, show_progress
        As for :class:`advrec.BPRMF`.
    """

    _array_names = _BLOCKS

    def __init__(self, factors: int = 64, lr_g: float = 0.001, lr_d: float = 0.001, reg: float = 1e-5,
                 temperature: float = 1.0, sample_lambda: float = 0.2, g_samples: int = 2, reward: str = "paper",
                 d_steps: int = 1, g_steps: int = 1, batch_size: int = 32, epochs: int = 30,
                 pretrain_epochs: int = 20, pretrain_lr: float = 0.05, predict_with: str = "generator",
                 init_std: float = 0.05, num_threads: int = 0, seed: int = 0, show_progress: bool = True):
        self._set_params(locals())

    _clean_phase = "irgan"

    @property
    def _perturbable_blocks(self) -> Dict[str, str]:
        """The recommending player's embeddings (see :mod:`advrec.attacks`)."""
        p = "g" if self.predict_with == "generator" else "d"
        return {"users": f"{p}_users", "items": f"{p}_items"}

    def _validate_hyper(self) -> None:
        super()._validate_hyper()
        check_positive_int(self.factors, "factors")
        check_float(self.lr_g, "lr_g", strict=True)
        check_float(self.lr_d, "lr_d", strict=True)
        check_float(self.reg, "reg")
        check_float(self.temperature, "temperature", strict=True)
        check_float(self.sample_lambda, "sample_lambda")
        if self.sample_lambda >= 1:
            raise ValueError(f"sample_lambda must be in [0, 1), got {self.sample_lambda}")
        check_positive_int(self.g_samples, "g_samples")
        if self.reward not in _REWARDS:
            raise ValueError(f"reward must be one of {_REWARDS}, got {self.reward!r}")
        check_positive_int(self.d_steps, "d_steps", allow_zero=True)
        check_positive_int(self.g_steps, "g_steps", allow_zero=True)
        check_positive_int(self.batch_size, "batch_size")
        check_positive_int(self.pretrain_epochs, "pretrain_epochs", allow_zero=True)
        check_float(self.pretrain_lr, "pretrain_lr", strict=True)
        if self.predict_with not in _PLAYERS:
            raise ValueError(f"predict_with must be one of {_PLAYERS}, got {self.predict_with!r}")
        check_float(self.init_std, "init_std")

    def _engine_config(self):
        cfg = core.IRGANConfig()
        cfg.lr_g = float(self.lr_g)
        cfg.lr_d = float(self.lr_d)
        cfg.reg = float(self.reg)
        cfg.temperature = float(self.temperature)
        cfg.sample_lambda = float(self.sample_lambda)
        cfg.g_samples = int(self.g_samples)
        cfg.reward = getattr(core.IRGANReward, self.reward)
        cfg.batch_size = int(self.batch_size)
        cfg.num_threads = int(self.num_threads)
        cfg.seed = int(self.seed)
        cfg.validate()
        return cfg

    # ---- state --------------------------------------------------------------------------------
    def _arrays(self) -> Dict[str, np.ndarray]:
        return {name: getattr(self, name) for name in _BLOCKS}

    def _start_from(self, users: np.ndarray, items: np.ndarray, bias: Optional[np.ndarray]) -> None:
        b = np.zeros(items.shape[0], np.float32) if bias is None else bias
        for prefix in ("g", "d"):
            setattr(self, f"{prefix}_users", np.array(users, np.float32, copy=True))
            setattr(self, f"{prefix}_items", np.array(items, np.float32, copy=True))
            setattr(self, f"{prefix}_bias", np.array(b, np.float32, copy=True))

    def _init_state(self, train) -> None:
        from .mf import BPRMF

        self.n_users, self.n_items = int(train.n_users), int(train.n_items)
        K = int(self.factors)
        if self.pretrain_epochs:
            bpr = BPRMF(factors=K, lr=self.pretrain_lr, epochs=int(self.pretrain_epochs), init_std=0.01,
                        num_threads=self.num_threads, seed=self.seed, show_progress=False).fit(train)
            self._start_from(bpr.user_factors, bpr.item_factors, None)
        else:
            rng = np.random.default_rng(self.seed)
            std = float(self.init_std)
            self._start_from(rng.standard_normal((self.n_users, K)) * std,
                             rng.standard_normal((self.n_items, K)) * std, None)
            self.d_users = (rng.standard_normal((self.n_users, K)) * std).astype(np.float32)
            self.d_items = (rng.standard_normal((self.n_items, K)) * std).astype(np.float32)
        self._epochs_done = 0
        self.history_ = []

    def _copy_state_from(self, other, train) -> None:
        """``init`` = a fitted BPRMF (copied into both players: the paper's pre-training; the epoch
        counter restarts) or a fitted IRGAN (continued)."""
        from .mf import BPRMF

        self._check_init(other, train, (BPRMF, IRGAN), "BPRMF or IRGAN")
        K = int(self.factors)
        self.n_users, self.n_items = other.n_users, other.n_items
        if isinstance(other, IRGAN):
            if other.factors != K:
                raise ValueError(f"init model has {other.factors} factors, this model {K}")
            for name in _BLOCKS:
                setattr(self, name, getattr(other, name).copy())
            self._continue_history(other)
            return
        if other.user_factors.shape[1] != K:
            raise ValueError(f"init model has {other.user_factors.shape[1]} factors, this model {K}")
        self._start_from(other.user_factors, other.item_factors, other.item_bias)
        self._epochs_done = 0
        self.history_ = []

    def _epoch_fn(self, train, cfg) -> Callable[[int], Dict[str, Any]]:
        indptr, indices = train.csr_arrays()
        steps = int(self.d_steps) + int(self.g_steps)

        def run(epoch: int) -> Dict[str, Any]:
            out: Dict[str, Any] = {}
            for k in range(steps):
                cfg.epoch = epoch * steps + k  # distinct random streams for every pass
                if k < self.d_steps:
                    s = core.train_irgan_discriminator(self._arrays(), indptr, indices, cfg)
                    out.update(d_loss=s["loss"], d_accuracy=s["accuracy"])
                else:
                    s = core.train_irgan_generator(self._arrays(), indptr, indices, cfg)
                    out.update(g_loss=s["loss"], g_reward=s["adv_loss"], g_hit_rate=s["accuracy"])
            return out

        return run

    # ---- scoring and the adversarial protocol ---------------------------------------------------
    def _player(self) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        p = "g" if self.predict_with == "generator" else "d"
        return getattr(self, f"{p}_users"), getattr(self, f"{p}_items"), getattr(self, f"{p}_bias")

    def _scoring_factors(self, users: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        P, Q, b = self._player()
        return with_bias_column(P[users], Q, b)

    def _loss_gradients(self, triples, deltas: Dict[str, np.ndarray], num_threads=None):
        """BPR loss of the recommending player's scores over ``triples`` at the embeddings +
        ``deltas``, and its gradients (as :meth:`advrec.BPRMF._loss_gradients`)."""
        users, pos, neg = triples
        P, Q, b = self._player()
        P = P + deltas["users"] if "users" in deltas else P
        Q = Q + deltas["items"] if "items" in deltas else Q
        arrays = {"user_factors": np.ascontiguousarray(P, np.float32),
                  "item_factors": np.ascontiguousarray(Q, np.float32), "item_bias": b}
        loss, correct, gu, gi = core.bpr_gradients(arrays, users, pos, neg, True, True, self._threads(num_threads))
        return loss, correct, {"users": gu, "items": gi}

    # ---- persistence --------------------------------------------------------------------------
    def _validate_loaded(self) -> None:
        super()._validate_loaded()
        K = int(self.factors)
        for name in _BLOCKS:
            rows = self.n_users if name.endswith("users") else self.n_items
            shape = (rows,) if name.endswith("bias") else (rows, K)
            arr = getattr(self, name, None)
            if arr is None or arr.shape != shape or arr.dtype != np.float32:
                raise ValueError(f"model file is inconsistent: {name} should be float32 of shape {shape}")
            if not np.all(np.isfinite(arr)):
                raise ValueError(f"model file is corrupt: {name} holds NaN or infinite values")
