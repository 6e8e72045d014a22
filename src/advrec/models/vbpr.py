"""Content-aware BPR models: VBPR, AMR (adversarial multimedia recommendation) and DUIF.

One score formula covers the three (Tang et al., TKDE 2019, eq. 2 and 4; He & McAuley, AAAI 2016)::

    y(u, i) = p_u . q_i  +  theta_u . (E c_i)  +  b_i  +  b' . c_i

* :class:`VBPR`: separate ``p_u`` and ``theta_u``; item bias ``b_i`` and visual bias ``b'`` optional.
* :class:`AMR`: one user vector (``theta_u = p_u``), ``y = p_u . (q_i + E c_i)`` (eq. 4), trained with
  ``BPR + reg_adv * BPR(c + Delta)``, ``Delta_i = eps * Gamma_i / ||Gamma_i||`` per item feature
  vector from the gradient of the loss w.r.t. the features (eq. 5-13).
* :class:`ContentMF` (alias ``DUIF``): content only, ``y = theta_u . (E c_i)`` (DUIF-style, trained with BPR).

``c_i`` are item content features, an (n_items, D) matrix given to ``fit(train, item_features=F)``
(or taken from ``train.item_features``). Items without training interactions (cold-start) keep a
zero ID embedding and zero item bias, so they are scored from their content alone (AMR section
4.1.2); by default they are not used as negatives either.

Persistence: the feature matrix is saved with the model (it is needed to score, to attack and to
continue training; a model file therefore grows by n_items x D float32).

Training kernels (``batch_size``). Every triple touches all of E (D x visual_factors), so E is the
hot spot. Two kernels exist: ``batch_size=1`` updates every parameter per triple, Hogwild across
threads (E included); ``batch_size > 1`` lets each thread accumulate a mini-batch and compute E's
work as GEMMs (E (c_i - c_j) for the batch, the batch's rank-1 updates summed as R^T Theta, and
E r for the user gradients), then apply one optimiser step to E and one per touched row. The
mini-batch kernel is several times faster than the per-triple one at the same validation NDCG@10
(benchmarks/vbpr_kernels.py compares them; benchmarks/bench_vbpr.py times the default against
cornac, with the figures in the README). The default is the mini-batch kernel with the papers'
batch of 512.
"""

from __future__ import annotations

from typing import Any, Dict, Optional, Tuple

import numpy as np

from .. import _seeds
from .._checks import check_bpr_trainer, check_float, check_positive_int
from .._engine import core
from .adversarial import Adversarial
from .base import EpochTrained, _caller_stacklevel, register


def check_item_features(F, n_items: int, name: str = "item_features") -> np.ndarray:
    """Validates content features and returns them as a C-contiguous float32 (n_items, D) array.

    Dense arrays of any real dtype (bool, int, float) and scipy.sparse matrices (densified) are
    accepted. Raises TypeError for non-numeric input and ValueError for a wrong shape, a wrong
    number of rows, or NaN/inf values.
    """
    if F is None:
        raise ValueError(f"{name} is required: pass item_features=F (n_items x D) or use training data whose "
                         "item_features are set")
    try:
        import scipy.sparse as sp

        if sp.issparse(F):
            F = F.toarray()
    except ImportError:  # pragma: no cover
        pass
    arr = np.asarray(F)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be a numeric array (float32 preferred), got dtype {arr.dtype}")
    if arr.ndim != 2:
        raise ValueError(f"{name} must be 2-d (n_items, D), got shape {arr.shape}")
    if arr.shape[0] != n_items:
        raise ValueError(f"{name} has {arr.shape[0]} rows but the data has {n_items} items; row k must describe "
                         "internal item k")
    if arr.shape[1] == 0:
        raise ValueError(f"{name} has no columns (D = 0)")
    arr = np.ascontiguousarray(arr, dtype=np.float32)
    if not np.all(np.isfinite(arr)):
        bad = np.argwhere(~np.isfinite(arr))[0]
        raise ValueError(f"{name} contains NaN or infinite values (first at row {bad[0]}, column {bad[1]})")
    return arr


class _ContentModel(EpochTrained):
    """Shared machinery of VBPR, AMR and DUIF (not registered; use a subclass)."""

    _array_names = ("user_factors", "item_factors", "user_visual_factors", "projection", "item_biases",
                    "visual_biases", "item_features", "user_accum", "item_accum", "user_visual_accum",
                    "projection_accum", "item_bias_accum", "visual_bias_accum")
    _input_array_names = ("item_features",)

    # ---- structure: (ID factors, content factors, shared user vector) ----------------------------
    def _dims(self) -> Tuple[int, int, bool]:
        raise NotImplementedError

    def _use_item_bias(self) -> bool:
        return bool(self.item_bias)

    def _use_visual_bias(self) -> bool:
        return bool(self.visual_bias)

    _clean_phase = "bpr"
    _perturbable_blocks = {"features": "item_features"}  # AMR's threat model
    _optimizer_arrays = ("user_accum", "item_accum", "user_visual_accum", "projection_accum", "item_bias_accum",
                         "visual_bias_accum")

    def _set_params(self, params: Dict[str, Any]) -> None:
        super()._set_params(params)
        self._version = 0  # bumped whenever parameters change: invalidates the cached item matrix
        for name in self._array_names:
            setattr(self, name, None)

    def _validate_hyper(self) -> None:
        super()._validate_hyper()
        check_bpr_trainer(self)
        check_float(self.reg_projection, "reg_projection")
        K, V, shared = self._dims()
        if shared and K != V:
            raise ValueError(f"a shared user vector needs visual_factors == factors, got {V} and {K}")

    # ---- engine views -----------------------------------------------------------------------------
    def _arrays(self, features: Optional[np.ndarray] = None, with_accum: bool = True) -> Dict[str, Any]:
        K, V, shared = self._dims()
        d = {
            "features": self.item_features if features is None else features,
            "projection": self.projection,
            "user_visual": self.user_factors if shared else self.user_visual_factors,
            "item_bias": self.item_biases,
            "visual_bias": self.visual_biases,
        }
        if K:
            d["user_factors"] = self.user_factors
            d["item_factors"] = self.item_factors
        if with_accum and self.optimizer == "adagrad":
            d.update({"user_accum": self.user_accum if K else None, "item_accum": self.item_accum if K else None,
                      "user_visual_accum": self.user_accum if shared else self.user_visual_accum,
                      "projection_accum": self.projection_accum, "bias_accum": self.item_bias_accum,
                      "visual_bias_accum": self.visual_bias_accum})
        return d

    def _engine_config(self):
        cfg = core.VBPRTrainConfig()
        cfg.lr = float(self.lr)
        cfg.reg = float(self.reg)
        cfg.reg_bias = float(self.reg_bias)
        cfg.reg_projection = float(self.reg_projection)
        cfg.optimizer = core.Optimizer.adagrad if self.optimizer == "adagrad" else core.Optimizer.sgd
        cfg.batch_size = int(self.batch_size)
        cfg.cold_negatives = bool(self.cold_negatives)
        cfg.num_threads = int(self.num_threads)
        cfg.seed = _seeds.engine_seed(self.seed, "train")
        return cfg

    # ---- state ------------------------------------------------------------------------------------
    def _init_state(self, train, item_features: np.ndarray) -> None:
        F = item_features
        rng = _seeds.rng(self.seed, "init")
        K, V, shared = self._dims()
        self.n_users, self.n_items = int(train.n_users), int(train.n_items)
        nu, ni, D = self.n_users, self.n_items, F.shape[1]
        std = float(self.init_std)
        warm = (train.item_counts() > 0)[:, None]
        self.user_factors = (rng.standard_normal((nu, K)) * std).astype(np.float32) if K or shared else None
        if K:
            self.item_factors = ((rng.standard_normal((ni, K)) * std) * warm).astype(np.float32)
        self.user_visual_factors = None if shared else (rng.standard_normal((nu, V)) * std).astype(np.float32)
        self.projection = (rng.standard_normal((D, V)) * std).astype(np.float32)
        self.item_biases = np.zeros(ni, np.float32) if self._use_item_bias() else None
        self.visual_biases = np.zeros(D, np.float32) if self._use_visual_bias() else None
        self.item_features = F
        self._reset_optimizer()
        self._epochs_done = 0
        self.history_ = []
        self._version += 1  # invalidates the cached item matrix

    def _reset_optimizer(self) -> None:
        names = (("user_accum", "user_factors"), ("item_accum", "item_factors"),
                 ("user_visual_accum", "user_visual_factors"), ("projection_accum", "projection"),
                 ("item_bias_accum", "item_biases"), ("visual_bias_accum", "visual_biases"))
        for acc, param in names:
            value = getattr(self, param)
            if self.optimizer == "adagrad" and value is not None:
                setattr(self, acc, np.full_like(value, np.float32(self.adagrad_init)))
            else:
                setattr(self, acc, None)

    def _init_from_mf(self, mf, train, F: np.ndarray) -> None:
        """VBPR initialised with MF's ID embeddings (AMR section 4.1.3): p_u, q_i (and b_i) are copied,
        the content part starts fresh, and so does the optimiser. A content-only model (DUIF) takes
        MF's user embeddings as theta_u (the AMR paper's "pre-training it with user embeddings of
        MF"); its projection starts fresh."""
        K, V, shared = self._dims()
        self._check_init(mf, train, type(mf), "BPRMF")
        mf_factors = mf.user_factors.shape[1]
        if not K and mf_factors != V:
            raise ValueError(f"init BPRMF has {mf_factors} factors, this content-only model {V}: they must match")
        if K and mf_factors != K:
            raise ValueError(f"init BPRMF has {mf_factors} factors, this model {K}")
        # A fresh state (new optimiser, clock at 0); the accumulators depend only on the shapes, which
        # the copies below keep.
        self._init_state(train, F)
        if not K:
            self.user_visual_factors = mf.user_factors.copy()
            return
        self.user_factors = mf.user_factors.copy()
        warm = (train.item_counts() > 0)[:, None]
        self.item_factors = (mf.item_factors * warm).astype(np.float32)
        if self.item_biases is not None and mf.item_bias is not None:
            self.item_biases = (mf.item_bias * warm[:, 0]).astype(np.float32)

    def _copy_state_from(self, other: "_ContentModel", train, item_features: np.ndarray) -> None:
        from .mf import BPRMF

        F = item_features
        if isinstance(other, BPRMF):
            return self._init_from_mf(other, train, F)
        self._check_init(other, train, _ContentModel, "VBPR, AMR, ContentMF or BPRMF model")
        if other._dims() != self._dims():
            K, V, shared = other._dims()
            hint = (" (AMR's model, eq. 4, has one user vector: pre-train VBPR(shared_user=True, ...) for it, or use "
                    "AMR(shared_user=False) to train the two-vector VBPR model adversarially)") if shared != self._dims()[2] else ""
            raise ValueError(f"init model has structure (factors={K}, visual_factors={V}, shared_user={shared}) but this "
                             f"model has {self._dims()}{hint}")
        if other.projection.shape[0] != F.shape[1]:
            raise ValueError(f"init model was trained on {other.projection.shape[0]} features, item_features has "
                             f"{F.shape[1]}")
        self.n_users, self.n_items = other.n_users, other.n_items
        copy = lambda a: None if a is None else a.copy()  # noqa: E731
        self.user_factors = copy(other.user_factors)
        self.item_factors = copy(other.item_factors)
        self.user_visual_factors = copy(other.user_visual_factors)
        self.projection = copy(other.projection)
        self.item_biases = (copy(other.item_biases) if other.item_biases is not None else np.zeros(self.n_items, np.float32)) \
            if self._use_item_bias() else None
        self.visual_biases = (copy(other.visual_biases) if other.visual_biases is not None else np.zeros(F.shape[1], np.float32)) \
            if self._use_visual_bias() else None
        self.item_features = F
        self._version += 1
        same = (other.optimizer == self.optimizer == "adagrad" and other.projection_accum is not None
                and (other.item_biases is None) == (self.item_biases is None)
                and (other.visual_biases is None) == (self.visual_biases is None))
        if same:  # continue Adagrad with its accumulators, as restoring the papers' checkpoints does
            for name in ("user_accum", "item_accum", "user_visual_accum", "projection_accum", "item_bias_accum",
                         "visual_bias_accum"):
                setattr(self, name, copy(getattr(other, name)))
        else:
            self._reset_optimizer()
        self._continue_history(other)

    # ---- training ---------------------------------------------------------------------------------
    def _state_restored(self) -> None:
        self._version += 1  # the parameters changed in place: invalidate the cached item matrix

    def _epoch_fn(self, train, cfg):
        indptr, indices = train.csr_arrays()
        arrays = self._arrays()

        def run(epoch: int) -> Dict[str, Any]:
            cfg.epoch = epoch
            out = core.train_vbpr(arrays, indptr, indices, cfg)
            self._version += 1
            return out

        return run

    def _fit_inputs(self, train, init, item_features=None) -> Dict[str, Any]:
        """``item_features``: array (n_items, D) or scipy.sparse matrix; row k describes internal
        item k. Any real dtype (converted to float32; sparse input is densified). Default:
        ``init``'s features, else ``train.item_features``."""
        if item_features is None:
            item_features = init.item_features if init is not None and getattr(init, "item_features", None) is not None \
                else train.item_features
        return {"item_features": check_item_features(item_features, int(train.n_items))}

    # ---- scoring ----------------------------------------------------------------------------------
    def item_content_vectors(self, features: Optional[np.ndarray] = None) -> Tuple[np.ndarray, np.ndarray]:
        """``(E c_i for every item, b' . c_i for every item)``: (n_items, visual_factors) and (n_items,)."""
        self._check_fitted()
        return core.vbpr_item_content(self._arrays(features, with_accum=False), None, int(self.num_threads))

    def _item_matrix(self) -> np.ndarray:
        key = (self._version, id(self.item_features), id(self.projection))
        cached = getattr(self, "_item_cache", None)
        if cached is not None and cached[0] == key:
            return cached[1]
        K, V, shared = self._dims()
        C, cb = self.item_content_vectors()
        cols = []
        if shared:
            cols.append(self.item_factors + C)
        else:
            if K:
                cols.append(self.item_factors)
            cols.append(C)
        if self.item_biases is not None or self.visual_biases is not None:
            b = np.zeros(self.n_items, np.float32)
            if self.item_biases is not None:
                b += self.item_biases
            if self.visual_biases is not None:
                b += cb
            cols.append(b[:, None])
        Vm = np.ascontiguousarray(np.hstack(cols), dtype=np.float32)
        self._item_cache = (key, Vm)
        return Vm

    def _scoring_factors(self, users: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        K, V, shared = self._dims()
        cols = []
        if K or shared:
            cols.append(self.user_factors[users])
        if not shared:
            cols.append(self.user_visual_factors[users])
        if self.item_biases is not None or self.visual_biases is not None:
            cols.append(np.ones((len(users), 1), np.float32))
        return np.ascontiguousarray(np.hstack(cols), dtype=np.float32), self._item_matrix()

    # ---- persistence ------------------------------------------------------------------------------
    def _set_extra_state(self, state: Dict[str, Any]) -> None:
        super()._set_extra_state(state)
        self._version = 0
        for name in self._array_names:
            setattr(self, name, None)

    def _validate_loaded(self) -> None:
        super()._validate_loaded()
        K, V, shared = self._dims()
        F = self.item_features
        if F is None or F.ndim != 2 or F.shape[0] != self.n_items or F.dtype != np.float32:
            raise ValueError("model file is inconsistent: item_features is missing or has the wrong shape")
        D = F.shape[1]
        want = {"projection": (D, V)}
        if K or shared:
            want["user_factors"] = (self.n_users, K or V)
        if K:
            want["item_factors"] = (self.n_items, K)
        if not shared:
            want["user_visual_factors"] = (self.n_users, V)
        if self._use_item_bias():
            want["item_biases"] = (self.n_items,)
        if self._use_visual_bias():
            want["visual_biases"] = (D,)
        for name, shape in want.items():
            arr = getattr(self, name, None)
            if arr is None or arr.shape != shape or arr.dtype != np.float32:
                raise ValueError(f"model file is inconsistent: {name} should be float32 of shape {shape}")
        for name in self._array_names:
            arr = getattr(self, name, None)
            if arr is not None and not np.all(np.isfinite(arr)):
                raise ValueError(f"model file is corrupt: {name} holds NaN or infinite values")

    # ---- adversarial protocol (see advrec.attacks): the adversary perturbs item features ------------
    def _loss_gradients(self, triples, deltas: Dict[str, np.ndarray], num_threads=None):
        """BPR loss summed over ``triples`` at features + ``deltas["features"]`` and its gradient
        with respect to every item's feature vector. Returns ``(loss, n_correct, {"features": grad})``."""
        num_threads = self._threads(num_threads)
        users, pos, neg = triples
        delta = deltas.get("features")
        loss, correct, grad = core.vbpr_feature_gradients(self._arrays(with_accum=False), delta, users, pos, neg,
                                                          int(num_threads))
        return loss, correct, {"features": grad}


@register
class VBPR(_ContentModel):
    """Visual Bayesian Personalised Ranking (He & McAuley 2016; AMR paper eq. 2).

    ``y(u, i) = p_u . q_i + theta_u . (E c_i) + b_i + b' . c_i``, trained with BPR.

    Parameters
    ----------
    factors : int
        ID embedding size K (p_u, q_i).
    visual_factors : int, optional
        Content embedding size (theta_u, rows of E); default ``factors``.
    item_bias, visual_bias : bool
        Learn the item bias b_i and the visual bias b' (VBPR's bias terms).
    shared_user : bool
        Use one user vector for both parts (``theta_u = p_u``; needs visual_factors == factors):
        the AMR paper's model, eq. 4. Use it to pre-train for :class:`AMR`.
    lr, optimizer, reg, reg_bias
        As in :class:`advrec.BPRMF`; ``reg`` applies to p_u, q_i, q_j and theta_u per triple.
    reg_projection : float
        L2 weight on E and b' per triple.
    epochs : int
    batch_size : int
        1: per-triple SGD/Adagrad, Hogwild across threads on every parameter, E included.
        > 1: per-thread mini-batches; E's gradient is one GEMM per batch and E gets one optimiser
        step per batch (AMR's setting is 512). See the module notes on the choice.
    cold_negatives : bool
        Also draw negatives among items with no training interaction (default False, as in AMR).
    init_std, adagrad_init, num_threads, seed, show_progress
        As in :class:`advrec.BPRMF`.
    """

    def __init__(self, factors: int = 64, visual_factors: Optional[int] = None, item_bias: bool = True,
                 visual_bias: bool = True, shared_user: bool = False, lr: float = 0.05, optimizer: str = "adagrad",
                 reg: float = 0.0, reg_bias: float = 0.0, reg_projection: float = 0.0, epochs: int = 100,
                 batch_size: int = 512, cold_negatives: bool = False, init_std: float = 0.01,
                 adagrad_init: float = 0.1, num_threads: int = 0, seed: int = 0, show_progress: Optional[bool] = None):
        self._set_params(locals())

    def _dims(self) -> Tuple[int, int, bool]:
        K = check_positive_int(self.factors, "factors")
        V = K if self.visual_factors is None else check_positive_int(self.visual_factors, "visual_factors")
        return K, V, bool(self.shared_user)


@register
class AMR(Adversarial, VBPR):
    """Adversarial Multimedia Recommendation (Tang et al. 2019).

    The model of eq. 4, ``y(u, i) = p_u . (q_i + E c_i)`` (``shared_user=True``; VBPR's bias terms
    are off by default), trained with ``L_BPR + reg_adv * L_BPR(c + Delta)`` where
    ``Delta_i = eps * Gamma_i / ||Gamma_i||`` for the feature vector of every item in a triple,
    ``Gamma`` the gradient of the BPR loss w.r.t. the features at the current parameters (fast
    gradient method, recomputed every step; with ``batch_size > 1`` summed over the mini-batch as in
    section 3.3).

    The paper calls pre-training indispensable: ``AMR(...).fit(train, init=vbpr)`` with a VBPR of the
    same structure (``VBPR(shared_user=True, item_bias=False, visual_bias=False)``), or, by default,
    clean pre-training within one fit (``pretrain_epochs="auto"``).

    Parameters
    ----------
    eps : float or None
        L2 budget per item feature vector (the paper: 0.1 on Pinterest, 1 on Amazon), absolute.
        None: relative to the feature vectors, see ``eps_relative``.
    eps_relative : float
        Used only when ``eps`` is None: the budget is ``eps_relative`` times the median norm of the
        item feature vectors, measured when the adversarial phase starts (a scale-free budget; the
        papers' absolute epsilon assumes embeddings of norm around 1 or more).
    reg_adv : float
        Weight lambda of the adversarial term.
    pretrain_epochs : "auto" or int
        Clean pre-training in a fit without ``init``. ``"auto"`` (default): the first half of
        ``epochs`` (rounded up) is plain training of the same model and the rest AMR, so the total
        equals ``epochs``; an integer N: N plain epochs before ``epochs`` AMR epochs (0: none).
    **kwargs
        Every :class:`VBPR` parameter.
    """

    def __init__(self, factors: int = 64, eps: float = 0.1, reg_adv: float = 1.0, pretrain_epochs="auto",
                 visual_factors: Optional[int] = None, item_bias: bool = False, visual_bias: bool = False,
                 shared_user: bool = True, lr: float = 0.05, optimizer: str = "adagrad", reg: float = 0.0,
                 reg_bias: float = 0.0, reg_projection: float = 0.0, epochs: int = 100, batch_size: int = 512,
                 cold_negatives: bool = False, init_std: float = 0.01, adagrad_init: float = 0.1,
                 num_threads: int = 0, seed: int = 0, show_progress: Optional[bool] = None, eps_relative: float = 0.1):
        self._set_params(locals())

    _adversarial_phase = "amr"
    _STRUCTURE = ("visual_factors", "item_bias", "visual_bias", "shared_user")

    def _adopt_init(self, init) -> None:
        """With ``init`` a content model of another structure (e.g. a default two-vector ``VBPR``)
        while this AMR keeps its default structure, the AMR adopts the init model's structure (with
        a warning) and trains that model adversarially on the features; an explicitly chosen
        structure that differs from ``init`` is an error."""
        if isinstance(init, VBPR) and not isinstance(init, AMR):
            adopted = self._adopt_from(init, self._STRUCTURE)
            if adopted:
                import warnings

                warnings.warn(f"AMR adopts the structure of its init model ({adopted}) instead of eq. 4's shared "
                              "user vector; pre-train VBPR(shared_user=True, item_bias=False, visual_bias=False) for "
                              "the paper's model", UserWarning, stacklevel=_caller_stacklevel())


@register(aliases=("DUIF",))
class ContentMF(_ContentModel):
    """Content-only model (DUIF-style, Geng et al. 2015, trained with BPR as in the AMR paper):
    ``y(u, i) = theta_u . (E c_i) (+ b' . c_i)``. Every item, warm or cold, is scored from its content.
    ``fit(train, init=bpr_mf)`` starts theta_u from a BPRMF's user embeddings (same ``factors``), the
    AMR paper's pre-training option for DUIF; E starts fresh.

    Parameters
    ----------
    factors : int
        Size of theta_u and of the projected item vector E c_i.
    visual_bias : bool
        Learn b' (a content-based item bias).
    lr, optimizer, reg, reg_projection, epochs, batch_size, cold_negatives, init_std, adagrad_init, num_threads, seed, show_progress
        As in :class:`VBPR`.
    """

    item_bias = False

    def __init__(self, factors: int = 64, visual_bias: bool = False, lr: float = 0.05, optimizer: str = "adagrad",
                 reg: float = 0.0, reg_projection: float = 0.0, epochs: int = 100, batch_size: int = 512,
                 cold_negatives: bool = False, init_std: float = 0.01, adagrad_init: float = 0.1,
                 num_threads: int = 0, seed: int = 0, show_progress: Optional[bool] = None):
        self._set_params(locals())
        self.reg_bias = 0.0  # no item bias to regularise

    def _dims(self) -> Tuple[int, int, bool]:
        return 0, check_positive_int(self.factors, "factors"), False

    def _use_item_bias(self) -> bool:
        return False


DUIF = ContentMF
"""Alias of :class:`ContentMF` (the AMR paper's name for the content-only baseline)."""
