"""Argument checks shared by every public entry point (models, evaluation, attacks, split, experiments).

One place for each rule, so that the same bad value gets the same message wherever it is passed:
a ``TypeError`` when the kind is wrong (a string where a number belongs, a bool where an integer
belongs), a ``ValueError`` when the value is out of range; both name the argument. Each check
returns the value converted to the plain Python/NumPy type the callers use.
"""

from __future__ import annotations

from typing import Optional, Sequence, Tuple

import numpy as np


def is_int(value) -> bool:
    """True for Python and NumPy integers, False for bools (``True`` is not a count)."""
    return not isinstance(value, (bool, np.bool_)) and isinstance(value, (int, np.integer))


def is_number(value) -> bool:
    """True for real numbers (Python or NumPy), False for bools."""
    return not isinstance(value, (bool, np.bool_)) and isinstance(value, (int, float, np.integer, np.floating))


def check_positive_int(value, name: str, allow_zero: bool = False) -> int:
    """An integer > 0 (or >= 0 with ``allow_zero``)."""
    if not is_int(value):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__}")
    if value < 0 or (value == 0 and not allow_zero):
        raise ValueError(f"{name} must be {'>= 0' if allow_zero else '> 0'}, got {value}")
    if value > 2**31 - 1:  # every count reaches the engine as a C int
        raise ValueError(f"{name} must be below 2**31, got {value}")
    return int(value)


def check_float(value, name: str, minimum: float = 0.0, strict: bool = False) -> float:
    """A finite real number >= ``minimum`` (> with ``strict``)."""
    if not is_number(value):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}")
    v = float(value)
    if not np.isfinite(v) or v < minimum or (strict and v == minimum):
        raise ValueError(f"{name} must be a finite number {'>' if strict else '>='} {minimum:g}, got {value}")
    return v


def check_bool(value, name: str) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def check_choice(value, name: str, allowed: Sequence) -> object:
    """``value`` must be one of ``allowed``."""
    if value not in allowed:
        raise ValueError(f"{name} must be one of {tuple(allowed)}, got {value!r}")
    return value


def check_num_threads(value, name: str = "num_threads", default: Optional[int] = 0) -> int:
    """A thread count: 0 = all cores; ``None`` = ``default`` (a model's own setting)."""
    if value is None:
        value = 0 if default is None else default
    return check_positive_int(value, name, allow_zero=True)


def model_threads(model, num_threads=None) -> int:
    """The thread count of a per-call ``num_threads``: ``None`` means the model's own setting
    (``model.num_threads``; all cores for a model without one)."""
    return check_num_threads(num_threads, default=getattr(model, "num_threads", 0))


def check_interactions(data, name: str = "train") -> None:
    """``data`` must be an :class:`advrec.Interactions`."""
    from .interactions import Interactions

    if not isinstance(data, Interactions):
        raise TypeError(f"{name} must be an advrec.Interactions, got {type(data).__name__}")


def check_train(train) -> None:
    """Training data: Interactions with at least one interaction."""
    check_interactions(train, "train")
    if len(train) == 0:
        raise ValueError("train is empty: no interactions to learn from")


def check_same_shape(model, data, name: str = "train") -> None:
    """``data`` lives in the id space the model was fitted on."""
    if (data.n_users, data.n_items) != (model.n_users, model.n_items):
        raise ValueError(f"{name} has {data.n_users} users x {data.n_items} items but the model was fitted on "
                         f"{model.n_users} x {model.n_items}; use the split the model was trained on")


def as_int32_ids(values, name: str, upper: int) -> np.ndarray:
    """Integer ids in ``[0, upper)`` as an int32 array."""
    arr = np.asarray(values)
    if arr.dtype.kind == "b" or (arr.size and arr.dtype.kind not in "iu"):
        raise TypeError(f"{name} must be integer ids, got dtype {arr.dtype}")
    arr = arr.astype(np.int64, copy=False)
    if arr.size and (arr.min() < 0 or arr.max() >= upper):
        bad = arr[(arr < 0) | (arr >= upper)][0]
        raise ValueError(f"{name} contains id {bad}, outside [0, {upper})")
    return arr.astype(np.int32)


def check_k(k, name: str = "k") -> int:
    """One cut-off: a positive integer."""
    if not is_int(k):
        raise TypeError(f"{name} must be an integer, got {type(k).__name__}")
    if k <= 0:
        raise ValueError(f"{name} must be positive, got {k}")
    return int(k)


def check_ks(k) -> Tuple[int, ...]:
    """One cut-off or several: sorted, without repeats."""
    ks = (k,) if np.ndim(k) == 0 else tuple(k)
    if not ks:
        raise ValueError("k must not be empty")
    for value in ks:
        if not is_int(value):
            raise TypeError(f"k must be an integer or a sequence of integers, got {value!r}")
        if value <= 0:
            raise ValueError(f"k must be positive, got {value}")
    return tuple(sorted(set(int(v) for v in ks)))


def check_names(values, name: str, allowed: Sequence[str]) -> Tuple[str, ...]:
    """A non-empty name or sequence of names, each from ``allowed`` (metrics, attacks, ...)."""
    if isinstance(values, str):
        values = (values,)
    values = tuple(values)
    if not values:
        raise ValueError(f"{name} must not be empty")
    unknown = [v for v in values if v not in allowed]
    if unknown:
        raise ValueError(f"unknown {name[:-1] if name.endswith('s') else name}(s) {unknown}; choose from {list(allowed)}")
    return values


def check_budget(value, name: str = "eps") -> float:
    """An attack budget or step: a finite number >= 0."""
    return check_float(value, name)


def check_seed(seed, name: str = "seed") -> int:
    """A seed: an integer >= 0."""
    return check_positive_int(seed, name, allow_zero=True)


#: Largest accepted batch_size. The engine reserves per-thread buffers of batch_size rows; a larger
#: value only allocates memory (10**9 used to end in std::bad_alloc).
MAX_BATCH_SIZE = 1 << 20


def check_batch_size(value, name: str = "batch_size") -> int:
    """A batch size: an integer in [1, MAX_BATCH_SIZE]."""
    value = check_positive_int(value, name)
    if value > MAX_BATCH_SIZE:
        raise ValueError(f"{name} must be at most {MAX_BATCH_SIZE}, got {value}: a larger batch only reserves "
                         "memory (one epoch never needs more than its number of samples)")
    return value


#: optimisers of the BPR trainers (MF and content families)
OPTIMIZERS = ("sgd", "adagrad")


def check_bpr_trainer(model) -> None:
    """The hyper-parameters every BPR trainer (BPR-MF, the content models) shares: ``lr``,
    ``batch_size``, ``optimizer``, ``reg``, ``reg_bias``, ``init_std``, ``adagrad_init``."""
    check_float(model.lr, "lr", strict=True)
    check_batch_size(model.batch_size)
    check_choice(model.optimizer, "optimizer", OPTIMIZERS)
    check_float(model.reg, "reg")
    check_float(model.reg_bias, "reg_bias")
    check_float(model.init_std, "init_std")
    check_float(model.adagrad_init, "adagrad_init", strict=True)
