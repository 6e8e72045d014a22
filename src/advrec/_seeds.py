"""Independent random streams per purpose, all derived from one user-facing seed.

A user passes the same small integer (often 0) to the data generator, the model, the split and the
attack. Drawing every one of them from ``numpy.random.default_rng(seed)`` makes the streams
identical: an untrained ``BPRMF(seed=0)`` then starts at 0.01 x the planted factors of
``datasets.synthetic(seed=0)``, and a random-noise attack moves the embeddings along their own
initial direction. Every draw in advrec therefore goes through :func:`rng` (NumPy streams) or
:func:`engine_seed` (the C++ engine's streams) with a purpose key, so that two purposes never share
a stream, whatever seeds the user picks. ``SeedSequence`` hashes (seed, key) into the generator
state, so seeds 0 and 1 of one purpose are as unrelated as two purposes.
"""

from __future__ import annotations

import numpy as np

#: one key per purpose; never reuse or renumber a key (it would change every seeded result)
PURPOSES = {
    "data": 0x6461,        # datasets.synthetic
    "init": 0x696E,        # model initialisation
    "train": 0x7472,       # the engine's sampling during training (triples, negatives, dropout)
    "split": 0x7370,       # random splits
    "attack": 0x6174,      # attack triples D' (engine)
    "attack-noise": 0x616E,  # random directions of attacks (NumPy)
    "attack-start": 0x6173,  # random start of the iterative attack
}


def _sequence(seed: int, purpose: str) -> np.random.SeedSequence:
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed must be an integer, got {seed!r}")
    if seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed}")
    return np.random.SeedSequence(entropy=int(seed), spawn_key=(PURPOSES[purpose],))


def rng(seed: int, purpose: str) -> np.random.Generator:
    """A NumPy generator for ``purpose`` (a key of :data:`PURPOSES`) derived from ``seed``."""
    return np.random.default_rng(_sequence(seed, purpose))


def engine_seed(seed: int, purpose: str) -> int:
    """A 63-bit seed for one of the engine's streams, derived from ``seed`` and ``purpose``."""
    return int(_sequence(seed, purpose).generate_state(1, np.uint64)[0] >> np.uint64(1))
