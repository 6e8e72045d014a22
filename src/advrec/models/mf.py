"""BPR-MF and AMF (adversarial matrix factorisation, He et al. SIGIR 2018)."""

from __future__ import annotations

from typing import Any, Callable, Dict, Optional, Tuple

import numpy as np

from .. import _seeds
from .._checks import check_bpr_trainer, check_choice, check_positive_int
from .._engine import core
from .adversarial import Adversarial
from .base import EpochTrained, register, with_bias_column


#: values of ``negatives``: how BPR draws the negative item
NEGATIVE_SAMPLING = ("uniform", "popularity")


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
    show_progress : bool or None
        Show a progress bar while fitting; None (default): only when interactive (stderr is a
        terminal, or a Jupyter kernel), so captured logs stay clean.
    negatives : {"uniform", "popularity"}
        How the negative item j is drawn before it is checked against the user's items:
        ``"uniform"`` over all items, as in the BPR, APR and AMR papers and their code (the
        default); ``"popularity"`` in proportion to the item's number of training interactions
        (the item of a uniformly drawn training pair), as the ``implicit`` library does: popular
        items become harder negatives, which pushes popularity down in the ranking.
    """

    _array_names = ("user_factors", "item_factors", "item_bias", "user_accum", "item_accum", "bias_accum")

    def __init__(self, factors: int = 64, lr: float = 0.05, optimizer: str = "adagrad", reg: float = 0.0,
                 use_bias: bool = False, reg_bias: float = 0.0, epochs: int = 100, batch_size: int = 1,
                 init_std: float = 0.01, adagrad_init: float = 0.1, num_threads: int = 0, seed: int = 0,
                 show_progress: Optional[bool] = None, negatives: str = "uniform"):
        self._set_params(locals())

    # ---- validation ---------------------------------------------------------------------------
    _clean_phase = "bpr"
    _perturbable_blocks = {"users": "user_factors", "items": "item_factors"}
    _optimizer_arrays = ("user_accum", "item_accum", "bias_accum")

    def _validate_hyper(self) -> None:
        super()._validate_hyper()
        check_positive_int(self.factors, "factors")
        check_bpr_trainer(self)
        check_choice(self.negatives, "negatives", NEGATIVE_SAMPLING)

    def _engine_config(self):
        cfg = core.MFTrainConfig()
        cfg.lr = float(self.lr)
        cfg.reg = float(self.reg)
        cfg.reg_bias = float(self.reg_bias)
        cfg.optimizer = core.Optimizer.adagrad if self.optimizer == "adagrad" else core.Optimizer.sgd
        cfg.batch_size = int(self.batch_size)
        cfg.num_threads = int(self.num_threads)
        cfg.seed = _seeds.engine_seed(self.seed, "train")
        cfg.negatives = getattr(core.NegativeSampling, self.negatives)
        return cfg

    # ---- state --------------------------------------------------------------------------------
    def _init_state(self, train) -> None:
        rng = _seeds.rng(self.seed, "init")
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
        self._check_init(other, train, BPRMF, "BPRMF or AMF")
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
        self._continue_history(other)

    # ---- training -----------------------------------------------------------------------------
    def _epoch_fn(self, train, cfg) -> Callable[[int], Dict[str, Any]]:
        index = self._training_index(train)

        def run(epoch: int) -> Dict[str, Any]:
            cfg.epoch = epoch
            return core.train_mf(self._engine_arrays(), index, cfg)

        return run

    def _training_index(self, train):
        """The engine's pairs and membership set of ``train``, built once per fit (every phase of
        the fit shares it) and dropped when the fit ends."""
        cached = getattr(self, "_index_cache", None)
        if cached is None or cached[0] is not train:
            indptr, indices = train.csr_arrays()
            cached = self._index_cache = (train, core.TrainingIndex(indptr, indices, train.n_items))
        return cached[1]

    def _train(self, *args, **kwargs):
        try:
            return super()._train(*args, **kwargs)
        finally:
            self._index_cache = None

    def _engine_arrays(self) -> Dict[str, Any]:
        """The parameter arrays the engine trains in place, by name."""
        return {name: getattr(self, name) for name in self._array_names}

    # ---- scoring ------------------------------------------------------------------------------
    def _scoring_factors(self, users: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        U = self.user_factors[users]
        if self.item_bias is None:
            return np.ascontiguousarray(U), self.item_factors
        return with_bias_column(U, self.item_factors, self.item_bias)

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
    def _loss_gradients(self, triples, deltas: Dict[str, np.ndarray], num_threads=None):
        """BPR loss summed over ``triples`` at the parameters + ``deltas``, and its gradient
        with respect to each perturbed block. Returns ``(loss, n_correct, {name: gradient})``."""
        num_threads = self._threads(num_threads)
        users, pos, neg = triples
        P = self.user_factors + deltas["users"] if "users" in deltas else self.user_factors
        Q = self.item_factors + deltas["items"] if "items" in deltas else self.item_factors
        arrays = {"user_factors": np.ascontiguousarray(P, np.float32),
                  "item_factors": np.ascontiguousarray(Q, np.float32), "item_bias": self.item_bias}
        loss, correct, gu, gi = core.bpr_gradients(arrays, users, pos, neg, True, True, num_threads)
        return loss, correct, {"users": gu, "items": gi}


@register
class AMF(Adversarial, BPRMF):
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
    eps : float or None
        Perturbation size per embedding vector (the paper: 0.5), absolute. None: relative to the
        embeddings, see ``eps_relative``.
    eps_relative : float
        Used only when ``eps`` is None: the budget is ``eps_relative`` times the median norm of the
        perturbed vectors, measured when the adversarial phase starts (a scale-free budget; the
        papers' absolute epsilon assumes embeddings of norm around 1 or more).
    reg_adv : float
        Weight lambda of the adversarial term (the paper: 1).
    pretrain_epochs : "auto" or int
        Clean BPR pre-training within a :meth:`fit` without ``init=`` (ignored with ``init=``).
        ``"auto"`` (default): the first half of ``epochs`` (rounded up) is plain BPR and the rest
        APR, so ``AMF(epochs=100)`` trains as many epochs in total as ``BPRMF(epochs=100)``. An
        integer N: N BPR epochs *before* ``epochs`` APR epochs; ``0`` runs APR from the random
        initialisation, which collapses at the paper's eps = 0.5 (the adversary outweighs embeddings
        of norm ~0.08): the paper pre-trains for this reason. A warning is raised when eps exceeds
        the median norm of the perturbed embeddings at the start of the APR phase.
    perturb : {"both", "users", "items"}
        Which embeddings the adversary perturbs.
    **kwargs
        Every :class:`BPRMF` parameter.
    """

    def __init__(self, factors: int = 64, eps: float = 0.5, reg_adv: float = 1.0, pretrain_epochs="auto",
                 perturb: str = "both", lr: float = 0.05, optimizer: str = "adagrad", reg: float = 0.0,
                 use_bias: bool = False, reg_bias: float = 0.0, epochs: int = 100, batch_size: int = 1,
                 init_std: float = 0.01, adagrad_init: float = 0.1, num_threads: int = 0, seed: int = 0,
                 show_progress: Optional[bool] = None, eps_relative: float = 0.1, negatives: str = "uniform"):
        self._set_params(locals())

    _adversarial_phase = "apr"
    _perturb_choices = ("both", "users", "items")

    def _place_adversary(self, cfg) -> None:
        cfg.perturb_users = self.perturb in ("both", "users")
        cfg.perturb_items = self.perturb in ("both", "items")

    def _adversary_row_norms(self) -> Dict[str, np.ndarray]:
        norms = super()._adversary_row_norms()
        if self.perturb == "users":
            norms.pop("items")
        elif self.perturb == "items":
            norms.pop("users")
        return norms
