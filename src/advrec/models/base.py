"""The common base of every advrec model: fit loop, recommend/score, save/load.

Contract every model follows (checked by ``python/tests/test_model_contract.py``):

* hyper-parameters are set in ``__init__`` and kept as attributes of the same names;
* ``fit(train, ...)`` returns ``self``; ``train`` is an :class:`advrec.Interactions`;
* after fitting, ``n_users`` and ``n_items`` are set, and :meth:`_scoring_factors` returns two
  float32 matrices ``U`` (len(users) x D) and ``V`` (n_items x D) with ``score = U @ V.T``. Every
  model in advrec is a dot-product model in this sense (biases are extra columns), which lets one
  C++ kernel rank, evaluate and attack all of them;
* parameters live in NumPy arrays listed by :attr:`_array_names`; ``save``/``load`` write and read
  them with ``allow_pickle=False``;
* adversarial attacks use :meth:`_perturbable` and :meth:`_loss_gradients` (see
  :mod:`advrec.attacks`) and never modify the model.
"""

from __future__ import annotations

import json
import math
import os
import time
from typing import Any, Callable, Dict, Optional, Sequence, Tuple

import numpy as np

from .._checks import as_int32_ids as _as_int32_ids, check_k, model_threads
# Re-exported: the trainers and older code import the checks from here.
from .._checks import check_float, check_positive_int, check_train  # noqa: F401
from .._ranking import describe, top_k

FORMAT_VERSION = 1

#: ``pretrain_epochs`` value of the adversarial models: half of ``epochs`` is clean pre-training
PRETRAIN_AUTO = "auto"
#: eps above this multiple of the median norm of the perturbed vectors draws a warning
ADVERSARY_SCALE_LIMIT = 1.0
#: a training accuracy this close to 0.5, after having been above COLLAPSE_FROM, counts as a collapse
COLLAPSE_ACCURACY = 0.52
COLLAPSE_FROM = 0.6

#: every model class by its name: the one registry (loading, experiment files, model fixtures)
_REGISTRY: Dict[str, type] = {}
#: other names of registered classes (``DUIF`` -> ``ContentMF``); files always record the class name
_ALIASES: Dict[str, str] = {}


def register(cls=None, *, aliases: Sequence[str] = ()):
    """Class decorator: makes a model class loadable by :func:`advrec.load` and usable by name in
    experiment files (also under ``aliases``)."""
    def add(cls):
        _REGISTRY[cls.__name__] = cls
        for alias in aliases:
            _ALIASES[alias] = cls.__name__
        return cls

    return add if cls is None else add(cls)


def model_classes() -> Dict[str, type]:
    """Every registered model class by name, aliases included, in registration order."""
    import advrec  # noqa: F401  (importing the package registers every class)

    out = dict(_REGISTRY)
    for alias, name in _ALIASES.items():
        out[alias] = _REGISTRY[name]
    return out


def _caller_stacklevel() -> int:
    """The ``stacklevel`` that makes a warning point at the first frame outside the advrec
    package (the user's ``fit`` call), however deep inside the package it is raised."""
    import sys

    package_dir = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    frame, level = sys._getframe(1), 1
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(package_dir):
        frame, level = frame.f_back, level + 1
    return level


class NotFittedError(ValueError):
    """Raised when a model is used before :meth:`Recommender.fit`."""


class Recommender:
    """Base class of all models. Subclasses implement the ``_``-prefixed hooks."""

    #: names of the NumPy arrays that make up the fitted state (saved by :meth:`save`)
    _array_names: Tuple[str, ...] = ()

    # ---- hyper-parameters -------------------------------------------------------------------
    def get_params(self) -> Dict[str, Any]:
        """Hyper-parameters as a dict (the ``__init__`` arguments)."""
        import inspect

        sig = inspect.signature(type(self).__init__)
        return {name: getattr(self, name) for name in sig.parameters if name != "self" and hasattr(self, name)}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"

    def _set_params(self, params: Dict[str, Any]) -> None:
        """Stores the ``__init__`` arguments as attributes of the same names and marks the model
        unfitted. Call it first thing in ``__init__`` as ``self._set_params(locals())``."""
        for name, value in params.items():
            if name not in ("self", "__class__"):
                setattr(self, name, value)
        self.n_users = None
        self.n_items = None
        self.history_ = []

    # ---- state ------------------------------------------------------------------------------
    @property
    def is_fitted(self) -> bool:
        return getattr(self, "n_items", None) is not None and getattr(self, "n_users", None) is not None

    def _check_fitted(self) -> None:
        if not self.is_fitted:
            raise NotFittedError(f"this {type(self).__name__} is not fitted yet; call fit(train) first")

    def _remember_train(self, train) -> None:
        """Keeps the training pairs (as CSR arrays) so that ``recommend`` can exclude them."""
        indptr, indices = train.csr_arrays()
        self._train_indptr = np.ascontiguousarray(indptr, dtype=np.int64)
        self._train_indices = np.ascontiguousarray(indices, dtype=np.int32)

    # ---- scoring ----------------------------------------------------------------------------
    def _scoring_factors(self, users: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """Returns ``(U, V)`` float32 with ``score(users) == U @ V.T``."""
        raise NotImplementedError

    def _check_users(self, users) -> Tuple[np.ndarray, bool]:
        self._check_fitted()
        scalar = np.ndim(users) == 0
        if np.ndim(users) > 1:
            raise ValueError(f"users must be one user id or a 1-d array of user ids, got an array of shape "
                             f"{np.shape(users)} (flatten it, e.g. users.ravel())")
        ids = _as_int32_ids(np.atleast_1d(users), "users", self.n_users)
        return ids, scalar

    def score(self, users, items=None) -> np.ndarray:
        """Scores of ``users`` for every item, or for given ``items``.

        Parameters
        ----------
        users : int or array of int
            Internal user ids.
        items : array of int, optional
            With the same length as ``users``: pairwise scores ``score(users[k], items[k])``.
            As a 2-d array of shape (len(users), m): the scores of each user's own candidate list.

        Returns
        -------
        numpy.ndarray of float32
            (n_users_asked, n_items) without ``items``; otherwise the shape of ``items``.
        """
        ids, scalar = self._check_users(users)
        U, V = self._scoring_factors(ids)
        if items is None:
            out = U @ V.T
            return out[0] if scalar else out
        it = np.asarray(items)
        flat = _as_int32_ids(it.ravel(), "items", self.n_items)
        if it.ndim <= 1:
            if it.size != ids.size:
                raise ValueError(f"items must have the same length as users ({ids.size}), got {it.size}")
            out = np.einsum("nd,nd->n", U, V[flat])
            return out[0] if scalar and np.ndim(items) == 0 else out
        if it.ndim == 2 and it.shape[0] == ids.size:
            cand = V[flat].reshape(it.shape[0], it.shape[1], -1)
            return np.einsum("nd,nmd->nm", U, cand)
        raise ValueError("items must be 1-d (pairwise) or 2-d with one row per user")

    def recommend(self, users, k: int = 10, exclude_seen: bool = True, num_threads=None):
        """Top-``k`` items for one user or a batch.

        Parameters
        ----------
        users : int or array of int
            Internal user ids.
        k : int
            Number of items, capped at ``n_items``. If fewer than ``k`` items are left after
            excluding seen ones, the remaining slots hold id -1 and score -inf.
        exclude_seen : bool
            Leave out the items each user interacted with in the training data.
        num_threads : int, optional
            Threads of the ranking kernel; None (default) = the model's own ``num_threads``
            (all cores for a model without one), 0 = all cores.

        Returns
        -------
        (ids, scores) : int32 and float32 arrays of shape (n, k), or (k,) for a single user,
            best first.

        Raises
        ------
        advrec.evaluation.NonFiniteScoresError
            If the model's scores are NaN or overflow float32 (nothing can be ranked).
        """
        k = check_k(k)
        num_threads = model_threads(self, num_threads)
        ids, scalar = self._check_users(users)
        U, V = self._scoring_factors(ids)
        exclude = None
        if exclude_seen:
            exclude = (self._train_indptr, self._train_indices, ids)
        top_ids, top_scores = top_k(U, V, k, exclude=exclude, num_threads=num_threads, what=describe(self))
        if scalar:
            return top_ids[0], top_scores[0]
        return top_ids, top_scores

    # ---- persistence ------------------------------------------------------------------------
    def _extra_state(self) -> Dict[str, Any]:
        """JSON-serialisable fitted state that is not an array (override to extend)."""
        return {"n_users": self.n_users, "n_items": self.n_items}

    def _set_extra_state(self, state: Dict[str, Any]) -> None:
        self.n_users = int(state["n_users"])
        self.n_items = int(state["n_items"])

    def save(self, path) -> None:
        """Writes the model to ``path`` (``.npz``; no pickle)."""
        self._check_fitted()
        meta = {
            "format_version": FORMAT_VERSION,
            "class": type(self).__name__,
            "params": self.get_params(),
            "state": self._extra_state(),
        }
        arrays = {name: getattr(self, name) for name in self._array_names if getattr(self, name, None) is not None}
        arrays["_train_indptr"] = self._train_indptr
        arrays["_train_indices"] = self._train_indices
        with open(path, "wb") as fh:
            np.savez(fh, __meta__=np.array(json.dumps(meta, default=_json_default)), **arrays)

    @classmethod
    def _from_saved(cls, params: Dict[str, Any], state: Dict[str, Any], arrays: Dict[str, np.ndarray]):
        allowed = set(cls._array_names) | {"_train_indptr", "_train_indices"}
        unknown = sorted(set(arrays) - allowed)
        if unknown:
            raise ValueError(f"model file is inconsistent: unexpected arrays {unknown} for a {cls.__name__}")
        model = cls(**params)
        if hasattr(model, "_validate_hyper"):
            model._validate_hyper()  # a tampered hyper-parameter (NaN lr, factors "8") is a corrupt file
        model._set_extra_state(state)
        # A saved file holds only the arrays that were set: the others start absent, not stale.
        for name in cls._array_names:
            setattr(model, name, arrays.get(name))
        for name in ("_train_indptr", "_train_indices"):
            if name in arrays:
                setattr(model, name, arrays[name])
        model._validate_loaded()
        return model

    def _validate_loaded(self) -> None:
        """Checks shapes after loading; raises ValueError on a mismatched file."""
        if self.n_users < 0 or self.n_items < 0:
            raise ValueError("model file is inconsistent: negative n_users or n_items")
        indptr = getattr(self, "_train_indptr", None)
        indices = getattr(self, "_train_indices", None)
        if indptr is None or indptr.dtype != np.int64 or indptr.shape != (self.n_users + 1,):
            raise ValueError("model file is inconsistent: training index does not match n_users")
        if indices is None or indices.dtype != np.int32 or indices.ndim != 1:
            raise ValueError("model file is inconsistent: training items should be a 1-d int32 array")
        if indptr[0] != 0 or indptr[-1] != indices.size or np.any(np.diff(indptr) < 0):
            raise ValueError("model file is inconsistent: the training index is not a valid CSR index")
        if indices.size and (indices.min() < 0 or indices.max() >= self.n_items):
            raise ValueError("model file is inconsistent: training items out of range")
        for name in self._array_names:
            arr = getattr(self, name, None)
            if arr is None:
                continue
            if not isinstance(arr, np.ndarray) or arr.dtype.kind not in "iuf":
                raise ValueError(f"model file is inconsistent: {name} is not a numeric array")
            if arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
                raise ValueError(f"model file is corrupt: {name} holds NaN or infinite values")


def with_bias_column(U: np.ndarray, V: np.ndarray, bias: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """``(U, V)`` of the score ``U @ V.T + bias``: a column of ones on ``U`` and ``bias`` as ``V``'s
    last column, so that a model with an item bias stays a dot-product model."""
    U = np.hstack([U, np.ones((U.shape[0], 1), np.float32)])
    return U, np.ascontiguousarray(np.hstack([V, bias[:, None]]))


#: Parameter rows are trained where they lie; a block starting on a cache-line boundary keeps a
#: d = 64 float32 row (256 bytes) within 4 lines instead of 5 (NumPy guarantees only 16 bytes).
CACHE_LINE = 64


def cache_aligned(arr: np.ndarray) -> np.ndarray:
    """``arr`` itself when its data start on a 64-byte boundary (or it is not C-contiguous), else an
    aligned copy: a NumPy view into a slightly larger buffer, so NumPy still owns the memory."""
    if arr.ctypes.data % CACHE_LINE == 0 or not arr.flags.c_contiguous or arr.nbytes == 0:
        return arr
    buf = np.empty(arr.nbytes + CACHE_LINE, np.uint8)
    offset = -buf.ctypes.data % CACHE_LINE
    out = buf[offset:offset + arr.nbytes].view(arr.dtype).reshape(arr.shape)
    out[...] = arr
    return out


def _json_default(obj):
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, (tuple, set)):
        return list(obj)
    return str(obj)


def load(path) -> Recommender:
    """Loads a model written by :meth:`Recommender.save`.

    Raises
    ------
    ValueError
        If the file is not an advrec model, is truncated or corrupt, or has an unknown format
        version or class.
    """
    import zipfile

    if not os.path.exists(path):
        raise FileNotFoundError(f"no model file at {path!r}")
    try:
        with np.load(path, allow_pickle=False) as npz:
            if "__meta__" not in npz.files:
                raise ValueError(f"{path!r} is not an advrec model file (no metadata)")
            meta = json.loads(str(npz["__meta__"]))
            arrays = {name: np.array(npz[name]) for name in npz.files if name != "__meta__"}
    except (zipfile.BadZipFile, EOFError, OSError, json.JSONDecodeError, KeyError) as exc:
        raise ValueError(f"{path!r} is not a readable advrec model file: {exc}") from exc
    except ValueError as exc:
        if "advrec" in str(exc):
            raise
        raise ValueError(f"{path!r} is not a readable advrec model file: {exc}") from exc
    if not isinstance(meta, dict):
        raise ValueError(f"{path!r} is not an advrec model file: its metadata is not a JSON object")
    version = meta.get("format_version")
    if version != FORMAT_VERSION:
        raise ValueError(f"{path!r} has model format version {version}; this advrec reads version {FORMAT_VERSION}")
    name = meta.get("class")
    cls = _REGISTRY.get(name) if isinstance(name, str) else None
    if cls is None:
        raise ValueError(f"{path!r} holds an unknown model class {name!r}")
    for key in ("params", "state"):
        if not isinstance(meta.get(key), dict):
            raise ValueError(f"{path!r} is not a valid advrec model file: metadata {key!r} is missing or not an object")
    try:
        return cls._from_saved(meta["params"], meta["state"], arrays)
    except ValueError as exc:
        raise ValueError(f"{path!r} is not a valid {name} model file: {exc}") from exc
    except (TypeError, KeyError, AttributeError, IndexError, OverflowError) as exc:
        # Tampered metadata: a wrong type, a missing key, an unknown parameter name.
        raise ValueError(f"{path!r} is not a valid {name} model file: {type(exc).__name__}: {exc}") from exc


class _Stop(Exception):
    pass


class EpochLoop:
    """Runs epochs with a progress bar, callbacks, periodic validation, early stopping and model
    selection.

    Shared by every trainer so that they all behave the same: ``history_`` gets one dict per epoch
    (``epoch``, ``phase``, ``seconds`` and whatever the epoch function returns, plus validation
    metrics on evaluated epochs); Ctrl-C stops between epochs and leaves a usable model
    (``model.interrupted_`` is then True).

    **Model selection.** ``eval_set=valid`` or ``eval_set=(valid, k)`` evaluates the model on
    ``valid`` (full ranking) every ``eval_every`` epochs (default 1) and, with ``restore_best``
    (default True with ``eval_set``), keeps a copy of the model's state arrays
    (:meth:`EpochTrained._state_arrays`: parameters and optimiser state) whenever the monitored
    metric improves strictly; :meth:`finish` copies the best one back, so the fitted model is the
    one of ``model.best_epoch_`` (``model.best_score_`` is its monitored value) while ``history_``
    and the epoch counter keep every epoch run. ``patience=N`` stops after N evaluations without
    improvement. The older ``validation=`` argument only monitors (no restoring unless asked).
    """

    def __init__(self, model: Recommender, *, train, validation=None, eval_every: Optional[int] = 0,
                 eval_k: Sequence[int] = (10,), eval_metrics: Sequence[str] = ("hr", "ndcg"),
                 monitor: Optional[str] = None, patience: Optional[int] = None,
                 callback: Optional[Callable[[int, Dict[str, Any]], Any]] = None,
                 show_progress: Optional[bool] = None, eval_set=None,
                 restore_best: Optional[bool] = None):
        if eval_every is None:  # eval_set selects on every epoch by default; validation= only monitors
            eval_every = 1 if eval_set is not None else 0
        if eval_set is not None:
            if validation is not None:
                raise ValueError("pass either eval_set= or validation=, not both")
            validation, eval_k = _unpack_eval_set(eval_set, eval_k)
        if validation is not None:
            _check_eval_data(validation, train)
        eval_every = check_positive_int(eval_every, "eval_every", allow_zero=True)
        if eval_every and validation is None:
            raise ValueError("eval_every needs a validation set (eval_set=... or validation=...)")
        if patience is not None:
            patience = check_positive_int(patience, "patience")
            if not eval_every:
                raise ValueError("patience needs a validation set evaluated every eval_every > 0 epochs "
                                 "(pass eval_set=...)")
        if restore_best is None:
            restore_best = eval_set is not None
        if not isinstance(restore_best, (bool, np.bool_)):
            raise TypeError(f"restore_best must be True or False, got {restore_best!r}")
        if restore_best and not eval_every:
            raise ValueError("restore_best needs a validation set evaluated every eval_every > 0 epochs")
        self.model = model
        self.train = train
        self.validation = validation
        self.eval_every = int(eval_every)
        self.eval_k = tuple(eval_k) if not isinstance(eval_k, (int, np.integer)) else (int(eval_k),)
        self.eval_metrics = (eval_metrics,) if isinstance(eval_metrics, str) else tuple(eval_metrics)
        self.monitor = monitor or f"{self.eval_metrics[-1]}@{self.eval_k[0]}"
        if eval_every:
            from ..evaluation import _column_names

            known = _column_names(self.eval_k, self.eval_metrics)
            if self.monitor not in known:
                raise ValueError(f"monitor {self.monitor!r} is not among the validation figures {list(known)}")
        self.patience = patience
        self.restore_best = bool(restore_best)
        self.callback = callback
        self.show_progress = show_progress
        if not hasattr(model, "history_") or model.history_ is None:
            model.history_ = []
        model.collapsed_ = False
        self._best = -math.inf
        self._best_epoch = None
        self._best_state = None
        self._since_best = 0

    def run(self, n_epochs: int, run_epoch: Callable[[int], Dict[str, Any]], phase: str, select: bool = True) -> bool:
        """Runs ``n_epochs``; returns False if training stopped early (callback, patience, Ctrl-C).
        ``select=False``: a phase that trains parts the model is later built from (NeuMF's
        pre-training of GMF and MLP); it is not validated, so it can neither stop the fit early
        nor become the epoch that ``restore_best`` returns to."""
        from tqdm.auto import tqdm

        self._selecting = select
        model = self.model
        model.interrupted_ = False
        from .._progress import enabled

        bar = tqdm(total=n_epochs, desc=f"{type(model).__name__} [{phase}]", disable=not enabled(self.show_progress),
                   leave=False, unit="epoch")
        try:
            for _ in range(n_epochs):
                try:
                    if not self._one_epoch(run_epoch, phase, bar):
                        return False
                except KeyboardInterrupt:
                    # The engine is called once per epoch, so Ctrl-C lands between engine calls:
                    # the parameters are whole and the model stays usable.
                    model.interrupted_ = True
                    import warnings

                    warnings.warn(f"training interrupted after {model._epochs_done} epochs; the model keeps the "
                                  "parameters it had reached and remains usable", RuntimeWarning, stacklevel=3)
                    return False
        finally:
            bar.close()
        return True

    def finish(self) -> None:
        """Ends a fit: with ``restore_best``, copies the best validation epoch's state back into the
        model (in place, so arrays the engine or a cache hold stay valid) and records
        ``best_epoch_`` / ``best_score_``; without it they are set when validation ran."""
        model = self.model
        model.best_epoch_ = self._best_epoch
        model.best_score_ = None if self._best_epoch is None else float(self._best)
        if not (self.restore_best and self._best_state is not None):
            return
        current = model._state_arrays()
        for name, saved in self._best_state.items():
            target = current.get(name)
            if target is not None and target.shape == saved.shape and target.dtype == saved.dtype:
                np.copyto(target, saved)
            else:  # pragma: no cover - the trainers update their arrays in place
                raise RuntimeError(f"cannot restore the best epoch: {name} changed shape or identity during fit")
        model._state_restored()

    def _one_epoch(self, run_epoch, phase: str, bar) -> bool:
        model = self.model
        epoch = model._epochs_done
        start = time.perf_counter()
        figures = dict(run_epoch(epoch))
        model._epochs_done += 1
        figures = {"epoch": epoch + 1, "phase": phase, "seconds": time.perf_counter() - start, **figures}
        if self.eval_every and getattr(self, "_selecting", True) and (epoch + 1) % self.eval_every == 0:
            figures.update(self._validate())
            self._track_best(figures)
        self._check_collapse(figures)
        model.history_.append(figures)
        self._watch_loss(figures)
        bar.update(1)
        bar.set_postfix({k: f"{v:.4f}" for k, v in figures.items() if isinstance(v, float) and k != "seconds"},
                        refresh=False)
        if self.callback is not None and self.callback(epoch + 1, figures) is False:
            return False
        return not self._should_stop()

    #: a mean per-sample loss above this is divergence whatever the model (log-sigmoid losses start
    #: at ln 2 and a mean of 1e6 needs score gaps of 1e6 on the wrong side)
    LOSS_EXPLODED = 1e6
    #: or growth by this factor over the first epoch's loss (to above 100)
    LOSS_GROWTH = 1e3

    def _watch_loss(self, figures: Dict[str, Any]) -> None:
        """Warns once when the training loss explodes while the parameters stay finite (the engine
        raises on non-finite parameters, but e.g. Adagrad with lr=1e6 reaches a loss of 1e11 with
        finite ones and its metrics are then noise)."""
        loss = figures.get("loss")
        if not isinstance(loss, float) or not math.isfinite(loss) or getattr(self, "_loss_warned", False):
            return
        first = getattr(self, "_first_loss", None)
        if first is None:
            self._first_loss = first = loss
        if loss > self.LOSS_EXPLODED or (first > 0 and loss > 100 and loss > self.LOSS_GROWTH * first):
            import warnings

            self._loss_warned = True
            lr = getattr(self.model, "lr", None)
            warnings.warn(f"{type(self.model).__name__}: the training loss exploded to {loss:.3g} at epoch "
                          f"{figures.get('epoch')} (first epoch: {first:.3g}) although the parameters are finite; "
                          f"training has diverged" + (f": lower lr (now {lr:g})" if lr is not None else ""),
                          RuntimeWarning, stacklevel=4)

    def _check_collapse(self, figures: Dict[str, Any]) -> None:
        """Flags an epoch whose training accuracy fell back to chance (pairs ranked no better than
        by a coin) after having been clearly better: the signature of an adversary that overwhelms
        the model (eps too large for the embedding norms) or of a learning rate that destroyed what
        was learned. Marks ``figures["collapsed"]``, sets ``model.collapsed_`` and warns once."""
        accuracy = figures.get("accuracy")
        if not isinstance(accuracy, float) or not math.isfinite(accuracy):
            return
        model = self.model
        best = max((h.get("accuracy", 0.0) for h in model.history_ if isinstance(h.get("accuracy"), float)),
                   default=0.0)
        if best >= COLLAPSE_FROM and accuracy <= COLLAPSE_ACCURACY:
            figures["collapsed"] = True
            if not getattr(model, "collapsed_", False):
                import warnings

                hint = ""
                if figures.get("phase") == getattr(model, "_adversarial_phase", None):
                    norms = {name: float(np.median(n)) for name, n in model._adversary_row_norms().items() if n.size}
                    shown = ", ".join(f"{name} {med:.3g}" for name, med in norms.items())
                    hint = (f" The adversary's eps={model._effective_eps():g} against median norms of the perturbed vectors "
                            f"({shown}) is the likely cause: lower eps or pre-train longer.")
                else:
                    hint = " A learning rate too large for this data is the usual cause."
                warnings.warn(f"{type(model).__name__} collapsed in epoch {figures.get('epoch')}: training accuracy "
                              f"fell to {accuracy:.3f} (chance is 0.5) after reaching {best:.3f}; the model now ranks "
                              f"no better than chance.{hint}", RuntimeWarning, stacklevel=_caller_stacklevel())
            model.collapsed_ = True

    def _validate(self) -> Dict[str, float]:
        from ..evaluation import evaluate

        res = evaluate(self.model, self.train, self.validation, k=self.eval_k, metrics=self.eval_metrics,
                       show_progress=False)
        return {f"val_{name}": float(value) for name, value in res.summary.items()}

    def _track_best(self, figures: Dict[str, Any]) -> None:
        """Strict improvement resets the patience count (ties keep the earlier epoch) and, with
        ``restore_best``, snapshots the state; anything else counts one evaluation without it."""
        value = figures[f"val_{self.monitor}"]
        if value > self._best:
            self._best = value
            self._best_epoch = figures["epoch"]
            self._since_best = 0
            if self.restore_best:
                self._best_state = {name: arr.copy() for name, arr in self.model._state_arrays().items()}
        else:
            self._since_best += 1

    def _should_stop(self) -> bool:
        return self.patience is not None and self._since_best >= self.patience


def _unpack_eval_set(eval_set, eval_k):
    """``valid`` or ``(valid, k)`` (k an int or a sequence of ints; the first one is monitored)."""
    if isinstance(eval_set, tuple):
        if len(eval_set) != 2:
            raise ValueError(f"eval_set must be valid or (valid, k), got a tuple of length {len(eval_set)}")
        valid, k = eval_set
        ks = (k,) if isinstance(k, (int, np.integer)) and not isinstance(k, bool) else k
        try:
            ks = tuple(ks)
        except TypeError:
            raise TypeError(f"eval_set's k must be an int or a sequence of ints, got {k!r}") from None
        if not ks:
            raise ValueError("eval_set's k is empty")
        for one in ks:
            check_positive_int(one, "eval_set's k")
        return valid, tuple(int(one) for one in ks)
    return eval_set, eval_k


def _check_eval_data(valid, train) -> None:
    for attr in ("n_users", "n_items", "csr_arrays"):
        if not hasattr(valid, attr):
            raise TypeError(f"eval_set must be an advrec.Interactions or (Interactions, k), got {type(valid).__name__}")
    if (valid.n_users, valid.n_items) != (train.n_users, train.n_items):
        raise ValueError(f"the validation set has {valid.n_users} users x {valid.n_items} items but train has "
                         f"{train.n_users} x {train.n_items}; split both from the same data")
    if len(valid) == 0:
        raise ValueError("the validation set is empty")


def bpr_trainable_users(train) -> int:
    """Users that give BPR triples: at least one training item and at least one item they never
    interacted with (the negative)."""
    counts = np.diff(train.csr_arrays()[0])
    return int(np.count_nonzero((counts > 0) & (counts < train.n_items)))


class EpochTrained(Recommender):
    """A model the engine trains epoch by epoch (BPR-MF, AMF, the content models, SASRec).

    :meth:`fit` is written once here; a model fills in hooks:

    ``_validate_hyper()``
        Checks its hyper-parameters (call ``super()``; the shared ones are checked here).
    ``_fit_inputs(train, init, **inputs) -> dict``
        Checks extra inputs of ``fit`` (the content models: ``item_features``) and returns them
        as keyword arguments for the two state hooks. The default accepts none.
    ``_init_state(train, **inputs)`` / ``_copy_state_from(init, train, **inputs)``
        A fresh random start, or a copy of a fitted ``init`` model (parameters, optimiser state,
        epoch counter and history) that is never modified.
    ``_adopt_init(init)``
        Optionally takes structural parameters from ``init`` before anything is checked.
    ``_engine_config()`` and ``_epoch_fn(train, config) -> callable(epoch) -> dict``
        The engine configuration of clean training and the one place that calls the engine.
    ``_phases(epochs, fresh) -> [(name, n_epochs, config), ...]`` and ``_start_phase(name, config)``
        By default one phase named ``_clean_phase``; :class:`advrec.models.adversarial.Adversarial`
        puts clean pre-training before the adversarial phase, whose budget it fixes when it starts.

    Every phase runs through :class:`EpochLoop`, so every trainer gets the same progress bar,
    callbacks, validation, early stopping, Ctrl-C handling and :meth:`partial_fit`. Attacks use
    ``_perturbable_blocks`` (block name -> parameter attribute), ``_loss_gradients`` and the
    generic :meth:`_perturbed_copy`.
    """

    #: name of the clean training phase in ``history_``
    _clean_phase = "train"
    #: parameter blocks an adversary may perturb: block name -> attribute holding it
    _perturbable_blocks: Dict[str, str] = {}
    #: optimiser slots among ``_array_names`` (a perturbed copy does not carry them)
    _optimizer_arrays: Tuple[str, ...] = ()
    #: saved arrays that are inputs (features, sequences), not trained state
    _input_array_names: Tuple[str, ...] = ()
    #: phases that pre-train parts the final model is built from: no model selection runs in them
    #: (see :meth:`EpochLoop.run`)
    _pretraining_phases: Tuple[str, ...] = ()

    def _set_params(self, params: Dict[str, Any]) -> None:
        super()._set_params(params)
        self._epochs_done = 0

    # The epoch counter survives save/load, so that a loaded model continues its history.
    def _extra_state(self) -> Dict[str, Any]:
        state = super()._extra_state()
        state["epochs_done"] = self._epochs_done
        return state

    def _set_extra_state(self, state: Dict[str, Any]) -> None:
        super()._set_extra_state(state)
        self._epochs_done = int(state.get("epochs_done", 0))

    # ---- hooks ------------------------------------------------------------------------------
    def _validate_hyper(self) -> None:
        """Raises on invalid hyper-parameters; subclasses extend it (calling ``super()``). Here: the
        ones every epoch-trained model has."""
        check_positive_int(self.epochs, "epochs", allow_zero=True)
        check_positive_int(self.num_threads, "num_threads", allow_zero=True)
        check_positive_int(self.seed, "seed", allow_zero=True)

    def _fit_inputs(self, train, init, **inputs) -> Dict[str, Any]:
        if inputs:
            raise TypeError(f"{type(self).__name__}.fit got unexpected keyword argument(s) {sorted(inputs)}")
        return {}

    def _adopt_init(self, init) -> None:
        """Takes structural parameters from ``init`` (default: none)."""

    def _init_state(self, train, **inputs) -> None:
        raise NotImplementedError

    def _copy_state_from(self, other, train, **inputs) -> None:
        raise NotImplementedError

    def _engine_config(self):
        raise NotImplementedError

    def _epoch_fn(self, train, cfg) -> Callable[[int], Dict[str, Any]]:
        raise NotImplementedError

    def _phases(self, epochs: int, fresh: bool):
        """(phase name, number of epochs, engine config) in order; ``fresh`` is True in a
        :meth:`fit` without ``init`` (a new model), False when continuing one."""
        return [(self._clean_phase, epochs, self._engine_config())]

    def _start_phase(self, phase: str, cfg) -> None:
        """Called just before a phase's first epoch, after the phases before it have run (the
        adversarial models fix their budget here)."""

    # ---- helpers of the state hooks --------------------------------------------------------------
    def _check_init(self, other, train, types, names: str) -> None:
        """``other`` must be a fitted model of ``types`` on the id space of ``train``."""
        if not isinstance(other, types):
            raise TypeError(f"init must be a fitted {names}, got {type(other).__name__}")
        other._check_fitted()
        if (other.n_users, other.n_items) != (train.n_users, train.n_items):
            raise ValueError(f"init model has {other.n_users} users x {other.n_items} items but the training data "
                             f"has {train.n_users} x {train.n_items}")

    def _continue_history(self, other) -> None:
        """A model started from ``other`` continues its epoch counter and history."""
        self._epochs_done = other._epochs_done
        self.history_ = [dict(h) for h in getattr(other, "history_", [])]

    def _adopt_from(self, init, names: Sequence[str]) -> Dict[str, Any]:
        """Takes the ``init`` model's values of the structural parameters ``names`` when all of them
        are left at their ``__init__`` defaults here and ``init``'s differ (the model a fit starts
        from fixes the shapes); an explicitly set structure is left alone, to be checked against
        ``init``. Returns what was adopted."""
        import inspect

        signature = inspect.signature(type(self).__init__)
        mine = {name: getattr(self, name) for name in names}
        if any(value != signature.parameters[name].default for name, value in mine.items()):
            return {}
        theirs = {name: getattr(init, name) for name in names}
        if theirs == mine:
            return {}
        for name, value in theirs.items():
            setattr(self, name, value)
        return theirs

    def _state_arrays(self) -> Dict[str, np.ndarray]:
        """The arrays that make up the trained state (parameters and optimiser slots), by name,
        which :class:`EpochLoop` snapshots to restore the best validation epoch. Training updates
        them in place."""
        return {name: arr for name in self._array_names
                if name not in self._input_array_names and isinstance(arr := getattr(self, name, None), np.ndarray)}

    def _align_state_arrays(self) -> None:
        """Moves every trained array onto a cache-line boundary (see :func:`cache_aligned`); two
        attributes naming one array (shared optimiser slots) keep naming one array."""
        moved: Dict[int, np.ndarray] = {}
        for name, arr in self._state_arrays().items():
            if id(arr) not in moved:
                moved[id(arr)] = cache_aligned(arr)
            setattr(self, name, moved[id(arr)])

    def _state_restored(self) -> None:
        """Called after :class:`EpochLoop` wrote a snapshot back (override to drop caches)."""

    # ---- training ---------------------------------------------------------------------------
    def fit(self, train, *, init=None, epochs: Optional[int] = None, validation=None,
            eval_every: Optional[int] = None, eval_k: Sequence[int] = (10,),
            eval_metrics: Sequence[str] = ("hr", "ndcg"), patience: Optional[int] = None, callback=None,
            eval_set=None, monitor: Optional[str] = None, restore_best: Optional[bool] = None, **inputs):
        """Trains the model.

        Parameters
        ----------
        train : advrec.Interactions
            Training interactions (SASRec: their chronological order gives the sequences).
        init : fitted model, optional
            Start from this model's parameters (and optimiser state) instead of a random
            initialisation; the epoch counter and history continue from it. Not modified. Which
            classes are accepted is in each class's documentation (e.g. a VBPR accepts a BPRMF).
        epochs : int, optional
            Overrides ``self.epochs`` for this call.
        eval_set : advrec.Interactions or (advrec.Interactions, k), optional
            Model selection on a validation split (e.g. from
            ``advrec.split.leave_one_out(data, validation=True)``): evaluated with full ranking
            every ``eval_every`` epochs (default 1) at cut-off(s) ``k`` (default ``eval_k``); at
            the end the model holds the parameters of the best epoch (``best_epoch_``,
            ``best_score_``; ``restore_best=False`` keeps the last ones). ``history_`` keeps
            every epoch. Phases that pre-train parts of the model (NeuMF's GMF/MLP, the clean
            pre-training of AMF/AMR/ASASRec) run in full and are not validated: selection is
            over the final model's epochs.
        validation : advrec.Interactions, optional
            Held-out interactions evaluated every ``eval_every`` epochs (full ranking) for
            monitoring only; figures go into ``history_`` as ``val_<metric>@<k>``. Exclusive with
            ``eval_set``.
        monitor : str, optional
            The validation figure to select on, e.g. ``"ndcg@10"``; default: the last of
            ``eval_metrics`` at the first k.
        patience : int, optional
            Stop when the monitored validation metric has not improved strictly for this many
            evaluations.
        restore_best : bool, optional
            Restore the best validation epoch's parameters (and optimiser state) at the end;
            default True with ``eval_set``, False otherwise.
        callback : callable, optional
            ``callback(epoch, figures)`` after every epoch; returning False stops training.
        **inputs
            Model-specific inputs: the content models (VBPR, AMR, ContentMF) take
            ``item_features`` (n_items x D; default: ``init``'s, else ``train.item_features``).

        Returns
        -------
        self
        """
        if init is not None:
            self._adopt_init(init)
        self._validate_hyper()
        check_train(train)
        inputs = self._fit_inputs(train, init, **inputs)
        self._remember_train(train)
        if init is not None:
            self._copy_state_from(init, train, **inputs)
        else:
            self._init_state(train, **inputs)
        return self._train(train, epochs, validation, eval_every, eval_k, eval_metrics, patience, callback,
                           fresh=init is None, eval_set=eval_set, monitor=monitor, restore_best=restore_best)

    def _check_trainable(self, train) -> None:
        """Raises ValueError when an epoch on ``train`` would draw no sample (override for models
        whose samples are not BPR triples)."""
        if bpr_trainable_users(train) == 0:
            raise ValueError("train gives no training sample: every user with interactions already holds every "
                             f"one of the {train.n_items} items, so no negative item can be drawn for BPR")

    def partial_fit(self, train, *, epochs: int = 1, **kwargs):
        """Continues training a fitted model for ``epochs`` more epochs.

        Accepts the keyword arguments of ``fit`` that steer the loop: ``eval_set``, ``validation``,
        ``eval_every``, ``eval_k``, ``eval_metrics``, ``monitor``, ``patience``, ``restore_best``,
        ``callback``.
        """
        self._check_fitted()
        self._validate_hyper()
        check_train(train)
        if (train.n_users, train.n_items) != (self.n_users, self.n_items):
            raise ValueError("train does not match the model's number of users and items")
        allowed = {"validation", "eval_every", "eval_k", "eval_metrics", "patience", "callback", "eval_set",
                   "monitor", "restore_best"}
        unknown = sorted(set(kwargs) - allowed)
        if unknown:
            raise TypeError(f"partial_fit got unexpected keyword argument(s) {unknown}; allowed: {sorted(allowed)}")
        self._remember_train(train)
        return self._train(train, epochs, kwargs.get("validation"), kwargs.get("eval_every"),
                           kwargs.get("eval_k", (10,)), kwargs.get("eval_metrics", ("hr", "ndcg")),
                           kwargs.get("patience"), kwargs.get("callback"), eval_set=kwargs.get("eval_set"),
                           monitor=kwargs.get("monitor"), restore_best=kwargs.get("restore_best"))

    def _train(self, train, epochs, validation, eval_every, eval_k, eval_metrics, patience, callback,
               fresh: bool = False, eval_set=None, monitor=None, restore_best=None):
        n = self.epochs if epochs is None else check_positive_int(epochs, "epochs", allow_zero=True)
        self._check_trainable(train)
        self._align_state_arrays()
        loop = EpochLoop(self, train=train, validation=validation, eval_every=eval_every, eval_k=eval_k,
                         eval_metrics=eval_metrics, patience=patience, callback=callback,
                         show_progress=self.show_progress, eval_set=eval_set, monitor=monitor,
                         restore_best=restore_best)
        for phase, count, cfg in self._phases(n, fresh):
            if getattr(cfg, "batch_size", 1) > 1 and not hasattr(cfg, "maxlen"):
                # BPR-style trainers reserve buffers for batch_size triples; an epoch draws len(train)
                # of them, so a larger batch changes nothing but the allocation.
                cfg.batch_size = min(int(cfg.batch_size), max(2, len(train)))
            if count:
                self._start_phase(phase, cfg)
            if count and not loop.run(count, self._epoch_fn(train, cfg), phase,
                                      select=phase not in self._pretraining_phases):
                break
        loop.finish()
        return self

    # ---- adversarial protocol (see advrec.attacks) ----------------------------------------------
    def _threads(self, num_threads) -> int:
        """A per-call thread count: None = this model's ``num_threads``."""
        return model_threads(self, num_threads)

    def _perturbable(self) -> Dict[str, np.ndarray]:
        """Parameter blocks an adversary may perturb, by name."""
        self._check_fitted()
        return {block: getattr(self, attr) for block, attr in self._perturbable_blocks.items()}

    def _loss_gradients(self, triples, deltas: Dict[str, np.ndarray], num_threads=None):
        """The training loss summed over ``triples`` at the parameters + ``deltas`` and its gradient
        with respect to each perturbable block: ``(loss, n_correct, {name: gradient})``."""
        raise NotImplementedError

    def _perturbed_copy(self, deltas: Dict[str, np.ndarray]):
        """A new model whose blocks are the parameters + ``deltas`` (the model itself is unchanged).

        The copy has no optimiser state and an empty history; it shares the (read-only) training
        index with this model and keeps its epoch counter."""
        clone = type(self)(**self.get_params())
        clone._set_extra_state(self._extra_state())
        for name in self._array_names:
            value = getattr(self, name, None)
            keep = value is not None and name not in self._optimizer_arrays
            setattr(clone, name, value.copy() if keep else None)
        for block, delta in deltas.items():
            attr = self._perturbable_blocks[block]
            setattr(clone, attr, np.ascontiguousarray(getattr(self, attr) + delta, dtype=np.float32))
        clone._train_indptr, clone._train_indices = self._train_indptr, self._train_indices
        clone.history_ = []
        return clone
