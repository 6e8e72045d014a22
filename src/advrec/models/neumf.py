"""NeuMF: neural matrix factorisation (He et al., WWW 2017), with the paper's pre-training."""

from __future__ import annotations

from typing import Any, Callable, Dict, Optional, Sequence, Tuple

import numpy as np

from .._engine import core
from .base import EpochTrained, _as_int32_ids, check_float, check_positive_int, check_train, register

_TABLES = ("gmf_user", "gmf_item", "mlp_user", "mlp_item", "dense")
_OPTIMIZERS = ("sgd", "adam")


@register
class NeuMF(EpochTrained):
    """Neural matrix factorisation: GMF and an MLP tower fused in one output layer.

    ``logit(u, i) = h_G . (p^G_u * q^G_i) + h_M . MLP([p^M_u ; q^M_i]) + b``, trained with the log
    loss on every training pair (label 1) and ``negatives`` items the user never interacted with,
    drawn afresh each epoch (label 0). As in the paper (section 3.4.1), ``fit`` first trains GMF and
    MLP separately with Adam for ``pretrain_epochs`` each, then fuses them (``h = [alpha h_G ;
    (1 - alpha) h_M]``) and trains NeuMF for ``epochs`` with ``fused_optimizer`` (the paper: SGD,
    since the pre-trained models carry no momentum state). With ``pretrain_epochs=0`` NeuMF is
    trained from scratch with Adam.

    NeuMF is not a dot-product model: ranking, evaluation and ``recommend`` score users x items
    blocks in the engine (``_score_block``), and the embedding attacks of :mod:`advrec.attacks`
    do not apply to it. Scores are logits (ranking by logit equals ranking by probability and
    avoids the ties a saturated sigmoid would create in float32).

    Parameters
    ----------
    factors : int
        GMF embedding size and, by default, the last MLP layer's size ("predictive factors").
    mlp_layers : sequence of int, optional
        MLP sizes as in the paper's code, input first: ``(64, 32, 16, 8)`` means MLP embeddings of
        32 per side and hidden layers 32, 16, 8. Default ``(4 f, 2 f, f)``.
    negatives : int
        Sampled negatives per positive (the paper: 4).
    lr : float
        Adam learning rate of the pre-training (and of NeuMF without pre-training); the paper 0.001.
    fused_optimizer : {"sgd", "adam"}
    fused_lr : float
        Learning rate of the fused model's phase.
    alpha : float
        Weight of GMF in the fusion (the paper: 0.5).
    batch_size : int
        Instances (positives and negatives) per optimiser step; each thread trains its own
        mini-batches on shared parameters (Hogwild). Embedding rows use lazy Adam (only the rows a
        mini-batch touched are updated), the dense layers dense Adam.
    reg, reg_dense : float
        L2 weights on the embedding rows a mini-batch touches and on the weight matrices and h.
    epochs, pretrain_epochs : int
    init_std : float
        Embeddings start from N(0, init_std^2); weights from Glorot-uniform, biases from 0.
    num_threads : int
        0 uses all cores; with 1 thread and a fixed seed training is reproducible bit for bit.
    seed : int
    show_progress : bool
    """

    _array_names = _TABLES + tuple(f"{p}_{t}" for p in ("m", "v") for t in _TABLES) + ("step",)
    _optimizer_arrays = tuple(f"{p}_{t}" for p in ("m", "v") for t in _TABLES) + ("step",)
    #: no embedding attack applies to NeuMF (advrec.attacks says which models it supports)
    _perturbable_blocks: Dict[str, str] = {}

    def __init__(self, factors: int = 8, mlp_layers: Optional[Sequence[int]] = None, negatives: int = 4,
                 lr: float = 0.001, fused_optimizer: str = "sgd", fused_lr: float = 0.001, alpha: float = 0.5,
                 batch_size: int = 256, reg: float = 0.0, reg_dense: float = 0.0, epochs: int = 20,
                 pretrain_epochs: int = 10, init_std: float = 0.01, num_threads: int = 0, seed: int = 0,
                 show_progress: bool = True):
        if mlp_layers is not None:
            mlp_layers = tuple(mlp_layers)
        self._set_params(locals())
        self._fused = False
        self._pretrained = False

    # ---- structure and validation -------------------------------------------------------------
    def _layers(self) -> Tuple[int, ...]:
        f = int(self.factors)
        return (4 * f, 2 * f, f) if self.mlp_layers is None else tuple(int(x) for x in self.mlp_layers)

    def _hidden(self):
        return list(self._layers()[1:])

    def _validate_hyper(self) -> None:
        super()._validate_hyper()
        check_positive_int(self.factors, "factors")
        if self.mlp_layers is not None:
            layers = list(self.mlp_layers)
            if len(layers) < 2:
                raise ValueError(f"mlp_layers needs an input size and at least one hidden layer, got {self.mlp_layers}")
            for v in layers:
                check_positive_int(v, "mlp_layers")
            if layers[0] % 2:
                raise ValueError(f"mlp_layers[0] (the MLP input: user and item embeddings) must be even, got {layers[0]}")
        check_positive_int(self.negatives, "negatives")
        check_float(self.lr, "lr", strict=True)
        if self.fused_optimizer not in _OPTIMIZERS:
            raise ValueError(f"fused_optimizer must be one of {_OPTIMIZERS}, got {self.fused_optimizer!r}")
        check_float(self.fused_lr, "fused_lr", strict=True)
        check_float(self.alpha, "alpha")
        if self.alpha > 1:
            raise ValueError(f"alpha must be in [0, 1], got {self.alpha}")
        check_positive_int(self.batch_size, "batch_size")
        check_float(self.reg, "reg")
        check_float(self.reg_dense, "reg_dense")
        check_positive_int(self.pretrain_epochs, "pretrain_epochs", allow_zero=True)
        check_float(self.init_std, "init_std")

    def _arrays(self) -> Dict[str, np.ndarray]:
        return {name: getattr(self, name) for name in self._array_names}

    # ---- state --------------------------------------------------------------------------------
    def _init_state(self, train) -> None:
        rng = np.random.default_rng(self.seed)
        f, layers = int(self.factors), self._layers()
        e = layers[0] // 2
        self.n_users, self.n_items = int(train.n_users), int(train.n_items)

        def normal(rows, cols):
            return (rng.standard_normal((rows, cols)) * self.init_std).astype(np.float32)

        self.gmf_user, self.gmf_item = normal(self.n_users, f), normal(self.n_items, f)
        self.mlp_user, self.mlp_item = normal(self.n_users, e), normal(self.n_items, e)
        lay = core.neumf_layout(f, e, self._hidden())
        dense = np.zeros(lay["size"], np.float32)
        for l, (fan_in, fan_out) in enumerate(zip(layers[:-1], layers[1:])):
            limit = np.sqrt(6.0 / (fan_in + fan_out))
            at = lay["w_offset"][l]
            dense[at:at + fan_in * fan_out] = rng.uniform(-limit, limit, fan_in * fan_out)
        for at, n in ((lay["h_offset"], f), (lay["h_offset"] + f, layers[-1])):
            limit = np.sqrt(6.0 / (n + 1))
            dense[at:at + n] = rng.uniform(-limit, limit, n)
        self.dense = dense
        self._reset_adam()
        self._fused = False
        self._pretrained = False
        self._epochs_done = 0
        self.history_ = []

    def _reset_adam(self) -> None:
        for name in _TABLES:
            setattr(self, f"m_{name}", np.zeros_like(getattr(self, name)))
            setattr(self, f"v_{name}", np.zeros_like(getattr(self, name)))
        self.step = np.zeros(1, np.int64)

    def _extra_state(self) -> Dict[str, Any]:
        state = super()._extra_state()
        state.update(fused=bool(self._fused), pretrained=bool(self._pretrained))
        return state

    def _set_extra_state(self, state: Dict[str, Any]) -> None:
        super()._set_extra_state(state)
        self._fused = bool(state.get("fused", False))
        self._pretrained = bool(state.get("pretrained", False))

    def _validate_loaded(self) -> None:
        super()._validate_loaded()
        f, layers = int(self.factors), self._layers()
        e = layers[0] // 2
        size = core.neumf_layout(f, e, self._hidden())["size"]
        shapes = {"gmf_user": (self.n_users, f), "gmf_item": (self.n_items, f), "mlp_user": (self.n_users, e),
                  "mlp_item": (self.n_items, e), "dense": (size,)}
        for name, shape in shapes.items():
            for key in (name, f"m_{name}", f"v_{name}"):
                arr = getattr(self, key, None)
                if arr is None or arr.shape != shape or arr.dtype != np.float32:
                    raise ValueError(f"model file is inconsistent: {key} should be float32 of shape {shape}")
                if not np.all(np.isfinite(arr)):
                    raise ValueError(f"model file is corrupt: {key} holds NaN or infinite values")
        if getattr(self, "step", None) is None or self.step.shape != (1,) or self.step.dtype != np.int64:
            raise ValueError("model file is inconsistent: step should be int64 of shape (1,)")

    # ---- training -----------------------------------------------------------------------------
    def _config(self, mode: str, optimizer: str, lr: float):
        cfg = core.NeuMFConfig()
        cfg.mode = getattr(core.NeuMFMode, mode)
        cfg.optimizer = getattr(core.NeuMFOptimizer, optimizer)
        cfg.lr = float(lr)
        cfg.reg = float(self.reg)
        cfg.reg_dense = float(self.reg_dense)
        cfg.negatives = int(self.negatives)
        cfg.batch_size = int(self.batch_size)
        cfg.num_threads = int(self.num_threads)
        cfg.seed = int(self.seed)
        return cfg

    # Validating GMF or MLP alone would score a model that is not yet NeuMF: selection (eval_set,
    # patience, restore_best) starts with the fused phase.
    _pretraining_phases = ("gmf", "mlp")

    def _phases(self, epochs: int, fresh: bool):
        phases = []
        if fresh and self.pretrain_epochs:
            n = int(self.pretrain_epochs)
            phases += [("gmf", n, self._config("gmf", "adam", self.lr)), ("mlp", n, self._config("mlp", "adam", self.lr))]
            self._pretrained = True
        if self._pretrained:
            phases.append(("neumf", epochs, self._config("neumf", self.fused_optimizer, self.fused_lr)))
        else:
            phases.append(("neumf", epochs, self._config("neumf", "adam", self.lr)))
        return phases

    def _start_phase(self, phase: str, cfg) -> None:
        if phase == "neumf" and self._pretrained and not self._fused:
            # The paper's initialisation of the fused model from the two pre-trained ones; the
            # optimiser starts afresh.
            core.neumf_fuse(self._arrays(), self._hidden(), float(self.alpha))
            self._reset_adam()
            self._fused = True

    def _epoch_fn(self, train, cfg) -> Callable[[int], Dict[str, Any]]:
        indptr, indices = train.csr_arrays()
        hidden = self._hidden()
        arrays = self._arrays()

        def run(epoch: int) -> Dict[str, Any]:
            cfg.epoch = epoch
            stats = core.train_neumf(arrays, hidden, indptr, indices, cfg)
            return {"loss": stats["loss"], "accuracy": stats["accuracy"]}

        return run

    def _copy_state_from(self, other, train) -> None:
        raise TypeError("NeuMF.fit does not take init: it pre-trains its own GMF and MLP halves "
                        "(pretrain_epochs); use partial_fit to continue a fitted NeuMF")

    @property
    def _perturbable(self):
        # An AttributeError makes hasattr(model, "_perturbable") False: callers that check for the
        # attack protocol (advrec.attacks, robustness, experiments) see that NeuMF has none.
        raise AttributeError("NeuMF is not a dot-product model: the embedding attacks of advrec.attacks do not apply")

    # ---- scoring: not a dot product --------------------------------------------------------------
    def _mode(self):
        """What the model scores with now: the fused model once it exists, else the half being
        pre-trained (so that validation during pre-training measures that half)."""
        if self._fused or not self._pretrained:
            return core.NeuMFMode.neumf
        history = [h.get("phase") for h in self.history_]
        return core.NeuMFMode.mlp if "mlp" in history else core.NeuMFMode.gmf

    def _scoring_factors(self, users):
        raise TypeError("NeuMF is not a dot-product model: it has no scoring factors; use score(), recommend() "
                        "or advrec.evaluate(), which call its scoring hook")

    def _score_block(self, users: np.ndarray, items: Optional[np.ndarray] = None, num_threads: Optional[int] = None):
        """Logits of ``users`` x ``items`` (all items by default), float32 (len(users), len(items))."""
        items = np.arange(self.n_items, dtype=np.int32) if items is None else items
        nt = self._threads(num_threads)
        return core.neumf_score_block(self._arrays(), self._hidden(), self._mode(), users, items, int(nt))

    def _score_pairs(self, users: np.ndarray, items: np.ndarray, num_threads: Optional[int] = None):
        """Logits of the pairs ``(users[k], items[k])``, float32."""
        nt = self._threads(num_threads)
        return core.neumf_score_pairs(self._arrays(), self._hidden(), self._mode(), np.ascontiguousarray(users, np.int32),
                                      np.ascontiguousarray(items, np.int32), int(nt))

    def score(self, users, items=None) -> np.ndarray:
        """Scores (logits) of ``users`` for every item or for given ``items``; shapes as
        :meth:`advrec.Recommender.score`."""
        ids, scalar = self._check_users(users)
        if items is None:
            out = self._score_block(ids)
            return out[0] if scalar else out
        it = np.asarray(items)
        flat = _as_int32_ids(it.ravel(), "items", self.n_items)
        if it.ndim <= 1:
            if it.size != ids.size:
                raise ValueError(f"items must have the same length as users ({ids.size}), got {it.size}")
            out = self._score_pairs(ids, flat)
            return out[0] if scalar and np.ndim(items) == 0 else out
        if it.ndim == 2 and it.shape[0] == ids.size:
            return self._score_pairs(np.repeat(ids, it.shape[1]), flat).reshape(it.shape)
        raise ValueError("items must be 1-d (pairwise) or 2-d with one row per user")

    def recommend(self, users, k: int = 10, exclude_seen: bool = True, num_threads=None):
        """Top-``k`` items by score (ties: lower id first), as :meth:`advrec.Recommender.recommend`."""
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
            raise TypeError(f"k must be an integer, got {type(k).__name__}")
        if k <= 0:
            raise ValueError(f"k must be positive, got {k}")
        ids, scalar = self._check_users(users)
        top_ids = np.full((ids.size, k), -1, np.int32)
        top_scores = np.full((ids.size, k), -np.inf, np.float32)
        rows = max(1, (1 << 24) // max(1, self.n_items))  # bounds the score block to 64 MB
        for start in range(0, ids.size, rows):
            batch = ids[start:start + rows]
            s = self._score_block(batch, num_threads=self._threads(num_threads))
            if exclude_seen:
                for r, u in enumerate(batch):
                    s[r, self._train_indices[self._train_indptr[u]:self._train_indptr[u + 1]]] = -np.inf
            order = np.argsort(-s, axis=1, kind="stable")[:, :k]
            best = np.take_along_axis(s, order, axis=1)
            keep = best > -np.inf
            n = order.shape[1]
            top_ids[start:start + batch.size, :n] = np.where(keep, order, -1)
            top_scores[start:start + batch.size, :n] = best
        if scalar:
            return top_ids[0], top_scores[0]
        return top_ids, top_scores
