"""SASRec (Kang & McAuley, ICDM 2018) and ASASRec: SASRec trained with Sequential-based Adversarial
Optimisation (SAO, Manotumruksa & Yilmaz, SIGIR 2020). Forward and backward run in the C++ engine."""

from __future__ import annotations

from typing import Any, Dict, Optional, Tuple

import numpy as np

from .. import _seeds
from .._checks import check_batch_size, check_bool, check_float, check_positive_int
from .._engine import core
from .adversarial import Adversarial
from .base import EpochTrained, register


@register
class SASRec(EpochTrained):
    """Self-attentive sequential recommendation.

    Each user's training interactions in chronological order (``train.sequences()``: timestamps, or
    the file order for SASRec-format data) form a sequence; its most recent ``maxlen`` items are
    encoded by ``blocks`` causal self-attention blocks (pre-LayerNorm, residual connections,
    point-wise feed-forward with ReLU, dropout on embeddings, attention weights and feed-forward),
    and the output at position t scores the next item with the shared item embedding. Training
    minimises binary cross-entropy with the next item as positive and one sampled negative per
    position (never in the user's history), with Adam (beta2 = 0.98 as the reference code).

    Recommendation for a user uses the output at the last position of their whole training
    sequence, so ``score = U @ item_emb.T`` like every advrec model.

    Parameters
    ----------
    factors : int
        Hidden size d (the SAO paper: 64). Must be divisible by ``heads``.
    maxlen : int
        Most recent items kept per sequence (paper: 50).
    blocks, heads : int
        Self-attention blocks and attention heads (reference: 2 and 1).
    dropout : float
        Dropout rate (reference: 0.2 for Video-sized data, 0.5 in the SASRec paper's sparse sets).
    lr : float
        Adam learning rate (reference: 0.001).
    batch_size : int
        Sequences per Adam step (reference: 128).
    epochs : int
        Epochs per :meth:`fit`; one epoch is one pass over every user with >= 2 training items.
    l2 : float
        L2 weight on the item rows used in a mini-batch and on the positional embeddings.
    sync : bool
        False (default): Hogwild, each thread trains its own mini-batches and writes the shared
        weights without locks. True: synchronous data-parallel (threads split each mini-batch,
        gradients summed, one step) - deterministic for any thread count.
    lazy_adam : bool
        Update only the item rows a mini-batch touched (faster on large catalogues); the default
        dense Adam moves every row every step, as TensorFlow / PyTorch Adam do.
    num_threads : int
        0 = all cores. One thread and a fixed seed reproduce training bit for bit.
    seed : int
    show_progress : bool or None
        Show a progress bar while fitting; None (default): only when interactive (stderr is a
        terminal, or a Jupyter kernel), so captured logs stay clean.
    """

    _array_names = ("item_emb", "dense", "_seq_indptr", "_seq_items")
    _input_array_names = ("_seq_indptr", "_seq_items")

    def __init__(self, factors: int = 64, maxlen: int = 50, blocks: int = 2, heads: int = 1, dropout: float = 0.2,
                 lr: float = 0.001, batch_size: int = 128, epochs: int = 200, l2: float = 0.0, sync: bool = False,
                 lazy_adam: bool = False, num_threads: int = 0, seed: int = 0, show_progress: Optional[bool] = None):
        self._set_params(locals())

    def _set_params(self, params: Dict[str, Any]) -> None:
        super()._set_params(params)
        self._adam = None

    # ---- validation -----------------------------------------------------------------------------
    _clean_phase = "sasrec"
    _perturbable_blocks = {"items": "item_emb"}  # used at every sequence position and as output embedding

    def _validate_hyper(self) -> None:
        super()._validate_hyper()
        check_positive_int(self.factors, "factors")
        check_positive_int(self.maxlen, "maxlen")
        check_positive_int(self.blocks, "blocks", allow_zero=True)
        check_positive_int(self.heads, "heads")
        if self.factors % self.heads:
            raise ValueError(f"factors ({self.factors}) must be divisible by heads ({self.heads})")
        d = check_float(self.dropout, "dropout")
        if d >= 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        check_float(self.lr, "lr", strict=True)
        check_batch_size(self.batch_size)
        check_float(self.l2, "l2")
        check_bool(self.sync, "sync")
        check_bool(self.lazy_adam, "lazy_adam")

    def _engine_config(self):
        return self._config()

    def _config(self):
        cfg = core.SASRecConfig()
        cfg.dim = int(self.factors)
        cfg.maxlen = int(self.maxlen)
        cfg.blocks = int(self.blocks)
        cfg.heads = int(self.heads)
        cfg.dropout = float(self.dropout)
        cfg.lr = float(self.lr)
        cfg.batch_size = int(self.batch_size)
        cfg.l2 = float(self.l2)
        cfg.sync = bool(self.sync)
        cfg.lazy_adam = bool(self.lazy_adam)
        cfg.num_threads = int(self.num_threads)
        cfg.seed = _seeds.engine_seed(self.seed, "train")
        return cfg

    # ---- state ----------------------------------------------------------------------------------
    def _layout(self):
        return core.sasrec_layout(int(self.factors), int(self.maxlen), int(self.blocks))

    def _init_state(self, train) -> None:
        rng = _seeds.rng(self.seed, "init")
        d = int(self.factors)
        self.n_users, self.n_items = int(train.n_users), int(train.n_items)

        def xavier(rows, cols):
            a = np.sqrt(6.0 / (rows + cols))
            return rng.uniform(-a, a, size=(rows, cols)).astype(np.float32)

        self.item_emb = xavier(self.n_items, d)
        size, layout = self._layout()
        dense = np.zeros(size, np.float32)
        for name, offset, shape in layout:
            n = int(np.prod(shape))
            leaf = name.split(".")[-1]
            if name == "pos":
                dense[offset:offset + n] = xavier(*shape).ravel()
            elif leaf in ("wq", "wk", "wv", "w1", "w2"):
                dense[offset:offset + n] = xavier(*shape).ravel()
            elif leaf.endswith("_g"):
                dense[offset:offset + n] = 1.0
        self.dense = dense
        self._adam = None
        self._epochs_done = 0
        self.history_ = []

    def _state_arrays(self) -> Dict[str, np.ndarray]:
        state = super()._state_arrays()
        for name, arr in (self._adam or {}).items():  # Adam's moments and step count
            state[f"adam_{name}"] = arr
        return state

    def _ensure_adam(self) -> None:
        if self._adam is None:
            self._adam = {"item_m": np.zeros_like(self.item_emb), "item_v": np.zeros_like(self.item_emb),
                          "dense_m": np.zeros_like(self.dense), "dense_v": np.zeros_like(self.dense),
                          "step": np.zeros(1, np.int64)}

    def _copy_state_from(self, other: "SASRec", train) -> None:
        self._check_init(other, train, SASRec, "SASRec or ASASRec")
        for name in ("factors", "maxlen", "blocks", "heads"):
            if getattr(other, name) != getattr(self, name):
                raise ValueError(f"init model has {name}={getattr(other, name)}, this model {getattr(self, name)}")
        self.n_users, self.n_items = other.n_users, other.n_items
        self.item_emb = other.item_emb.copy()
        self.dense = other.dense.copy()
        # Continue Adam from the pre-trained state when it is there (the SAO code restores the
        # SASRec checkpoint including its optimiser slots).
        self._adam = None if other._adam is None else {k: v.copy() for k, v in other._adam.items()}
        self._continue_history(other)

    def _check_trainable(self, train) -> None:
        counts = np.diff(train.csr_arrays()[0])
        if not np.any((np.diff(train.sequences()[0]) >= 2) & (counts < train.n_items)):
            raise ValueError("train gives no training sample: SASRec needs a user with at least 2 interactions "
                             f"and at least one of the {train.n_items} items outside their history (the negative)")

    def _remember_sequences(self, train) -> None:
        indptr, items = train.sequences()
        self._seq_indptr = np.ascontiguousarray(indptr, dtype=np.int64)
        self._seq_items = np.ascontiguousarray(items, dtype=np.int32)
        if not np.any(np.diff(self._seq_indptr) >= 2):
            raise ValueError("train has no user with at least 2 interactions: SASRec needs sequences to learn "
                             "next-item transitions from")

    # ---- training -------------------------------------------------------------------------------
    def _remember_train(self, train) -> None:
        super()._remember_train(train)
        self._remember_sequences(train)

    def _epoch_fn(self, train, cfg):
        self._ensure_adam()
        hist_indptr, hist_indices = self._train_indptr, self._train_indices

        def run(epoch: int) -> Dict[str, Any]:
            cfg.epoch = epoch
            a = self._adam
            out = core.train_sasrec(dict(a, item_emb=self.item_emb, dense=self.dense), self._seq_indptr,
                                    self._seq_items, hist_indptr, hist_indices, cfg)
            out = dict(out)
            if not cfg.eps or not cfg.reg_adv:
                out.pop("adv_loss", None)
            return out

        return run

    # ---- scoring --------------------------------------------------------------------------------
    def user_vectors(self, users) -> np.ndarray:
        """The last-position output of each user's training sequence, (n, factors) float32."""
        ids, _ = self._check_users(users)
        return self._encode(ids, self.item_emb)

    def _encode(self, users: np.ndarray, item_emb: np.ndarray) -> np.ndarray:
        cfg = self._config()
        return core.sasrec_encode({"item_emb": item_emb, "dense": self.dense}, self._seq_indptr, self._seq_items,
                                  np.ascontiguousarray(users, np.int32), cfg)

    def _scoring_factors(self, users: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        return self._encode(users, self.item_emb), self.item_emb

    # ---- persistence ----------------------------------------------------------------------------
    def _set_extra_state(self, state: Dict[str, Any]) -> None:
        super()._set_extra_state(state)
        self._adam = None  # optimiser state is not saved; continued training restarts Adam

    def _validate_loaded(self) -> None:
        super()._validate_loaded()
        d = int(self.factors)
        size, _ = self._layout()
        checks = (("item_emb", (self.n_items, d), np.float32), ("dense", (size,), np.float32),
                  ("_seq_indptr", (self.n_users + 1,), np.int64))
        for name, shape, dtype in checks:
            arr = getattr(self, name, None)
            if arr is None or arr.shape != shape or arr.dtype != dtype:
                raise ValueError(f"model file is inconsistent: {name} should be {np.dtype(dtype).name} of shape {shape}")
        items = getattr(self, "_seq_items", None)
        if items is None or items.dtype != np.int32 or items.shape != (int(self._seq_indptr[-1]),):
            raise ValueError("model file is inconsistent: _seq_items does not match _seq_indptr")
        if items.size and (items.min() < 0 or items.max() >= self.n_items):
            raise ValueError("model file is inconsistent: _seq_items holds item ids out of range")
        for name in ("item_emb", "dense"):
            if not np.all(np.isfinite(getattr(self, name))):
                raise ValueError(f"model file is corrupt: {name} holds NaN or infinite values")
        self.item_emb = np.ascontiguousarray(self.item_emb)
        self.dense = np.ascontiguousarray(self.dense)

    # ---- adversarial protocol (see advrec.attacks) ----------------------------------------------
    def _aligned_negatives(self, triples) -> np.ndarray:
        """For every sequence entry (as a next-item target), the negative of the triple (u, item, j);
        -1 where ``triples`` has no such pair."""
        users, pos, neg = (np.asarray(a, dtype=np.int64) for a in triples)
        n_items = np.int64(self.n_items)
        keys = users * n_items + pos
        order = np.argsort(keys, kind="stable")
        keys, neg = keys[order], neg[order]
        counts = np.diff(self._seq_indptr)
        seq_users = np.repeat(np.arange(self.n_users, dtype=np.int64), counts)
        want = seq_users * n_items + self._seq_items.astype(np.int64)
        at = np.searchsorted(keys, want)
        at_c = np.minimum(at, max(len(keys) - 1, 0))
        found = (at < len(keys)) & (keys[at_c] == want) if len(keys) else np.zeros(len(want), bool)
        out = np.full(len(want), -1, np.int32)
        out[found] = neg[at_c[found]]
        return out

    def _loss_gradients(self, triples, deltas: Dict[str, np.ndarray], num_threads=None):
        """SASRec loss summed over every training position whose (user, next item) pair is in
        ``triples`` (its negative taken from there), dropout off, at item table + ``deltas["items"]``;
        returns ``(loss, n_correct, {"items": gradient})``."""
        num_threads = self._threads(num_threads)
        neg = self._aligned_negatives(triples)
        users = np.flatnonzero(np.diff(self._seq_indptr) >= 2).astype(np.int32)
        delta = deltas.get("items")
        if delta is not None:
            delta = np.ascontiguousarray(delta, np.float32)
        loss, correct, gi, _ = core.sasrec_loss_gradients({"item_emb": self.item_emb, "dense": self.dense},
                                                          self._seq_indptr, self._seq_items, neg, users, delta,
                                                          self._config(), False, num_threads)
        return loss, correct, {"items": gi}


@register
class ASASRec(Adversarial, SASRec):
    """SASRec trained with Sequential-based Adversarial Optimisation (SAO).

    Objective (eq. 6 and 10): ``L(Theta) + reg_adv * L(Theta + Delta)``, ``Delta = eps * Gamma /
    ||Gamma||`` per perturbed embedding vector from the gradient of the loss at the current
    parameters (fast gradient method), recomputed at every step with the same negatives and
    dropout masks as the clean pass.

    Parameters
    ----------
    eps : float or None
        Perturbation norm per vector, absolute (the paper: 0.5). Default None: the budget is
        relative to the item embeddings (``eps_relative``), because advrec's SASRec learns item
        embeddings of median norm ~0.1-0.8 (0.13 on ml-latest-small after 10 epochs), against which
        the paper's 0.5 outweighs the output embeddings it perturbs and costs accuracy instead of
        regularising. Pass ``eps=0.5`` for the paper's absolute budget.
    eps_relative : float
        With ``eps=None``: the budget is ``eps_relative`` times the median item-embedding norm,
        measured when the adversarial phase starts (default 0.1).
    reg_adv : float
        lambda (paper: 1).
    perturb : {"paper", "output"}
        ``"paper"`` (eq. 9): a perturbation at every input position (``Delta_t`` added to the
        embedding sum ``sqrt(d) * M[x_t] + P_t``, so its norm is eps whatever d) and on the output embeddings
        of the target and the negative item at every position, each from the gradient of the
        user's sequence loss. ``"output"`` (the authors' released TensorFlow code): Gamma is the
        gradient of the mini-batch loss w.r.t. the whole item table (summed over every use),
        normalised per item row, and added only to the output embeddings of target and negative
        items; the input sequence stays clean.
    pretrain_epochs : "auto" or int
        Clean SASRec pre-training when :meth:`fit` has no ``init=`` (the paper pre-trains SASRec).
        ``"auto"`` (default): the first half of ``epochs`` (rounded up) is plain SASRec and the
        rest SAO, so the total equals ``epochs``; an integer N: N plain epochs before ``epochs``
        SAO epochs. ``0`` starts SAO from the random initialisation, which collapses at eps = 0.5.
    **kwargs
        Every :class:`SASRec` parameter.
    """

    def __init__(self, eps: Optional[float] = None, reg_adv: float = 1.0, perturb: str = "paper", pretrain_epochs="auto",
                 factors: int = 64, maxlen: int = 50, blocks: int = 2, heads: int = 1, dropout: float = 0.2,
                 lr: float = 0.001, batch_size: int = 128, epochs: int = 200, l2: float = 0.0, sync: bool = False,
                 lazy_adam: bool = False, num_threads: int = 0, seed: int = 0, show_progress: Optional[bool] = None,
                 eps_relative: float = 0.1):
        self._set_params(locals())

    _adversarial_phase = "sao"
    _perturb_choices = ("paper", "output")
    _ARCHITECTURE = ("factors", "maxlen", "blocks", "heads")

    def _adopt_init(self, init) -> None:
        """An ASASRec left at the default architecture takes the init model's (``factors``,
        ``maxlen``, ``blocks``, ``heads``), so that ``ASASRec(eps=0.5).fit(train, init=sas)`` works
        for any SASRec; an explicitly chosen architecture that differs from ``init`` is an error."""
        if isinstance(init, SASRec):
            self._adopt_from(init, self._ARCHITECTURE)

    def _place_adversary(self, cfg) -> None:
        cfg.perturb = core.SeqPerturb.paper if self.perturb == "paper" else core.SeqPerturb.output
