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


FORMAT_VERSION = 1

#: ``pretrain_epochs`` value of the adversarial models: half of ``epochs`` is clean pre-training
PRETRAIN_AUTO = "auto"
#: eps above this multiple of the median norm of the perturbed vectors draws a warning
ADVERSARY_SCALE_LIMIT = 1.0
#: a training accuracy this close to 0.5, after having been above COLLAPSE_FROM, counts as a collapse
COLLAPSE_ACCURACY = 0.52
COLLAPSE_FROM = 0.6
#: names of the training phases that run an adversarial objective
ADVERSARIAL_PHASES = ("apr", "amr", "sao")

_REGISTRY: Dict[str, type] = {}


def register(cls):
    """Class decorator: makes a model class loadable by :func:`advrec.load`."""
    _REGISTRY[cls.__name__] = cls
    return cls


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


def _as_int32_ids(values, name: str, upper: int) -> np.ndarray:
    arr = np.asarray(values)
    if arr.dtype.kind == "b" or (arr.size and arr.dtype.kind not in "iu"):
        raise TypeError(f"{name} must be integer ids, got dtype {arr.dtype}")
    arr = arr.astype(np.int64, copy=False)
    if arr.size and (arr.min() < 0 or arr.max() >= upper):
        bad = arr[(arr < 0) | (arr >= upper)][0]
        raise ValueError(f"{name} contains id {bad}, outside [0, {upper})")
    return arr.astype(np.int32)


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

    def recommend(self, users, k: int = 10, exclude_seen: bool = True, num_threads: int = 0):
        """Top-``k`` items for one user or a batch.

        Parameters
        ----------
        users : int or array of int
            Internal user ids.
        k : int
            Number of items. If fewer than ``k`` items are left after excluding seen ones, the
            remaining slots hold id -1 and score -inf.
        exclude_seen : bool
            Leave out the items each user interacted with in the training data.

        Returns
        -------
        (ids, scores) : int32 and float32 arrays of shape (n, k), or (k,) for a single user,
            best first.
        """
        from ..evaluation import top_k

        if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
            raise TypeError(f"k must be an integer, got {type(k).__name__}")
        if k <= 0:
            raise ValueError(f"k must be positive, got {k}")
        ids, scalar = self._check_users(users)
        U, V = self._scoring_factors(ids)
        exclude = None
        if exclude_seen:
            exclude = (self._train_indptr, self._train_indices, ids)
        top_ids, top_scores = top_k(U, V, int(k), exclude=exclude, num_threads=num_threads)
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
        model = cls(**params)
        model._set_extra_state(state)
        for name, value in arrays.items():
            setattr(model, name, value)
        model._validate_loaded()
        return model

    def _validate_loaded(self) -> None:
        """Checks shapes after loading; raises ValueError on a mismatched file."""
        if getattr(self, "_train_indptr", None) is None or self._train_indptr.shape != (self.n_users + 1,):
            raise ValueError("model file is inconsistent: training index does not match n_users")


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
    version = meta.get("format_version")
    if version != FORMAT_VERSION:
        raise ValueError(f"{path!r} has model format version {version}; this advrec reads version {FORMAT_VERSION}")
    cls = _REGISTRY.get(meta.get("class"))
    if cls is None:
        raise ValueError(f"{path!r} holds an unknown model class {meta.get('class')!r}")
    return cls._from_saved(meta["params"], meta["state"], arrays)


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
                 show_progress: bool = True, eval_set=None, restore_best: Optional[bool] = None):
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

    def run(self, n_epochs: int, run_epoch: Callable[[int], Dict[str, Any]], phase: str) -> bool:
        """Runs ``n_epochs``; returns False if training stopped early (callback, patience, Ctrl-C)."""
        from tqdm.auto import tqdm

        model = self.model
        model.interrupted_ = False
        bar = tqdm(total=n_epochs, desc=f"{type(model).__name__} [{phase}]", disable=not self.show_progress,
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
        if self.eval_every and (epoch + 1) % self.eval_every == 0:
            figures.update(self._validate())
            self._track_best(figures)
        self._check_collapse(figures)
        model.history_.append(figures)
        bar.update(1)
        bar.set_postfix({k: f"{v:.4f}" for k, v in figures.items() if isinstance(v, float) and k != "seconds"},
                        refresh=False)
        if self.callback is not None and self.callback(epoch + 1, figures) is False:
            return False
        return not self._should_stop()

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
                if hasattr(model, "eps") and figures.get("phase") in ADVERSARIAL_PHASES:
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


# ---- argument checks shared by the trainers ------------------------------------------------------
def check_positive_int(value, name: str, allow_zero: bool = False) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__}")
    if value < 0 or (value == 0 and not allow_zero):
        raise ValueError(f"{name} must be {'>= 0' if allow_zero else '> 0'}, got {value}")
    return int(value)


def check_float(value, name: str, minimum: float = 0.0, strict: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}")
    v = float(value)
    if not np.isfinite(v) or v < minimum or (strict and v == minimum):
        raise ValueError(f"{name} must be a finite number {'>' if strict else '>='} {minimum}, got {value}")
    return v


def check_train(train) -> None:
    for attr in ("n_users", "n_items", "csr_arrays"):
        if not hasattr(train, attr):
            raise TypeError(f"train must be an advrec.Interactions, got {type(train).__name__}")
    if len(train) == 0:
        raise ValueError("train is empty: no interactions to learn from")


class EpochTrained(Recommender):
    """A model the engine trains epoch by epoch (BPR-MF, AMF, the content models, SASRec).

    Subclasses provide ``_phases(epochs) -> [(name, n_epochs, engine_config), ...]`` (AMF: BPR
    pre-training then APR) and ``_epoch_fn(train, config) -> callable(epoch) -> dict``; this class
    runs them through :class:`EpochLoop`, so every trainer gets the same progress bar, callbacks,
    validation, early stopping, Ctrl-C handling and ``partial_fit``.
    """

    #: saved arrays that are inputs (features, sequences), not trained state
    _input_array_names: Tuple[str, ...] = ()

    # The epoch counter survives save/load, so that a loaded model continues its history.
    def _extra_state(self) -> Dict[str, Any]:
        state = super()._extra_state()
        state["epochs_done"] = self._epochs_done
        return state

    def _set_extra_state(self, state: Dict[str, Any]) -> None:
        super()._set_extra_state(state)
        self._epochs_done = int(state.get("epochs_done", 0))

    def _phases(self, epochs: int):
        raise NotImplementedError

    def _state_arrays(self) -> Dict[str, np.ndarray]:
        """The arrays that make up the trained state (parameters and optimiser slots), by name,
        which :class:`EpochLoop` snapshots to restore the best validation epoch. Training updates
        them in place."""
        return {name: arr for name in self._array_names
                if name not in self._input_array_names and isinstance(arr := getattr(self, name, None), np.ndarray)}

    def _state_restored(self) -> None:
        """Called after :class:`EpochLoop` wrote a snapshot back (override to drop caches)."""

    def _epoch_fn(self, train, cfg) -> Callable[[int], Dict[str, Any]]:
        raise NotImplementedError

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

    # ---- the adversarial objective (AMF, AMR, ASASRec) ---------------------------------------
    # These models carry eps, reg_adv and pretrain_epochs and build their engine config with
    # _adversarial_config(). A fit without init pre-trains the clean model first: an adversary of
    # norm eps per vector overwhelms embeddings at their initial scale (std 0.01: norm ~0.08 at
    # d = 64, against the papers' eps = 0.5) and training collapses to chance from the first step.
    # The papers pre-train for this reason.
    def _validate_adversarial(self) -> None:
        if self.eps is not None:
            check_float(self.eps, "eps")
        check_float(self.eps_relative, "eps_relative", strict=True)
        check_float(self.reg_adv, "reg_adv")
        if not (isinstance(self.pretrain_epochs, str) and self.pretrain_epochs == PRETRAIN_AUTO):
            if isinstance(self.pretrain_epochs, str):
                raise ValueError(f"pretrain_epochs must be {PRETRAIN_AUTO!r} or an integer >= 0, "
                                 f"got {self.pretrain_epochs!r}")
            check_positive_int(self.pretrain_epochs, "pretrain_epochs", allow_zero=True)

    def _pretrain_split(self, epochs: int) -> Tuple[int, int]:
        """(clean epochs, adversarial epochs) of a fit without ``init`` asked for ``epochs``.

        ``"auto"``: the first half of ``epochs`` (rounded up) is clean pre-training and the rest is
        adversarial, so the total is ``epochs``, the same as the clean model's. An integer N: N
        clean epochs before ``epochs`` adversarial ones."""
        if isinstance(self.pretrain_epochs, str):
            clean = (epochs + 1) // 2
            return clean, epochs - clean
        return int(self.pretrain_epochs), epochs

    def _clean_then_adversarial(self, epochs: int, clean_phase: str, adversarial_phase: str):
        """Phases: clean pre-training (only in a fit without ``init``; see :meth:`_pretrain_split`),
        then the adversarial epochs."""
        phases = []
        adversarial = epochs
        if getattr(self, "_pretrain_now", False):
            clean, adversarial = self._pretrain_split(epochs)
            if clean:
                phases.append((clean_phase, clean, self._phases_clean_config()))
        phases.append((adversarial_phase, adversarial, self._adversarial_config()))
        return phases

    def _effective_eps(self) -> float:
        """The absolute per-vector budget the engine uses now: ``eps`` when given (the papers'
        absolute epsilon), else ``eps_relative`` times the median norm of the vectors the adversary
        perturbs, measured now (a budget that scales with the model: multiplying every embedding
        by c multiplies it by c)."""
        if self.eps is not None:
            return float(self.eps)
        norms = [n for n in self._adversary_row_norms().values() if n.size]
        median = float(np.median(np.concatenate(norms))) if norms else 0.0
        return float(self.eps_relative) * median

    def _adversary_row_norms(self) -> Dict[str, np.ndarray]:
        """L2 norms of the vectors the adversary perturbs, by block (override where the perturbed
        vectors are not the rows of :meth:`_perturbable`)."""
        return {name: np.linalg.norm(block.reshape(block.shape[0], -1), axis=1)
                for name, block in self._perturbable().items()}

    def _warn_if_eps_overwhelms(self) -> None:
        """Warns when eps exceeds the median norm of the perturbed vectors: the adversary then
        dominates the model it perturbs and training collapses towards chance."""
        eps = self._effective_eps()
        if eps <= 0.0 or float(self.reg_adv) <= 0.0:
            return
        norms = {name: float(np.median(n)) for name, n in self._adversary_row_norms().items() if n.size}
        small = {name: med for name, med in norms.items() if eps > ADVERSARY_SCALE_LIMIT * med}
        if not small:
            return
        import warnings

        detail = ", ".join(f"{name} {med:.3g}" for name, med in small.items())
        warnings.warn(f"{type(self).__name__}: eps={eps:g} is larger than the median norm of the vectors it perturbs "
                      f"({detail}) at the start of the adversarial phase; the adversary will overwhelm the model and "
                      "training is likely to collapse to chance. Pre-train the clean model first "
                      "(pretrain_epochs='auto', more pre-training epochs, or fit(train, init=clean_model)) or lower "
                      "eps.", RuntimeWarning, stacklevel=_caller_stacklevel())

    def _validate_hyper(self) -> None:
        """Raises on invalid hyper-parameters (override)."""

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
               eval_set=None, monitor=None, restore_best=None):
        n = self.epochs if epochs is None else check_positive_int(epochs, "epochs", allow_zero=True)
        loop = EpochLoop(self, train=train, validation=validation, eval_every=eval_every, eval_k=eval_k,
                         eval_metrics=eval_metrics, patience=patience, callback=callback,
                         show_progress=self.show_progress, eval_set=eval_set, monitor=monitor,
                         restore_best=restore_best)
        for phase, count, cfg in self._phases(n):
            if count and phase in ADVERSARIAL_PHASES:
                # The budget is fixed when the adversarial phase starts, after any pre-training.
                cfg.eps = self._effective_eps()
                self._warn_if_eps_overwhelms()
            if count and not loop.run(count, self._epoch_fn(train, cfg), phase):
                break
        loop.finish()
        return self
