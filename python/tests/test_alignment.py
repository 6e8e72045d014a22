"""Trained parameter arrays start on a cache-line boundary (issue 14) and stay NumPy arrays."""

import numpy as np
import pytest

import advrec
from advrec.models.base import CACHE_LINE, cache_aligned


@pytest.fixture(scope="module")
def small_interactions():
    return advrec.datasets.synthetic(n_users=60, n_items=40, seed=1)


def _misaligned(shape, dtype=np.float32, shift=4):
    buf = np.zeros(int(np.prod(shape)) * np.dtype(dtype).itemsize + 2 * CACHE_LINE, np.uint8)
    start = (-buf.ctypes.data % CACHE_LINE) + shift
    arr = buf[start:start + int(np.prod(shape)) * np.dtype(dtype).itemsize].view(dtype).reshape(shape)
    arr[...] = np.arange(arr.size, dtype=dtype).reshape(shape)
    return arr


def test_cache_aligned_copies_a_misaligned_array_and_keeps_values():
    arr = _misaligned((5, 3))
    assert arr.ctypes.data % CACHE_LINE != 0
    out = cache_aligned(arr)
    assert out.ctypes.data % CACHE_LINE == 0
    assert out.dtype == arr.dtype and out.shape == arr.shape and out.flags.c_contiguous and out.flags.writeable
    np.testing.assert_array_equal(out, arr)
    out[0, 0] = -1.0
    assert arr[0, 0] == 0.0  # a copy, not a view of the caller's array


def test_cache_aligned_returns_an_aligned_array_itself():
    arr = cache_aligned(_misaligned((4, 4)))
    assert cache_aligned(arr) is arr


@pytest.mark.parametrize("cls", [advrec.BPRMF, advrec.AMF])
def test_fit_trains_cache_aligned_parameters(cls, small_interactions):
    model = cls(factors=8, epochs=2, num_threads=1, show_progress=False).fit(small_interactions)
    for name, arr in model._state_arrays().items():
        assert arr.ctypes.data % CACHE_LINE == 0, name


def test_partial_fit_realigns_parameters_assigned_by_the_user(small_interactions):
    model = advrec.BPRMF(factors=8, epochs=1, num_threads=1, seed=3, show_progress=False).fit(small_interactions)
    model.item_factors = _misaligned(model.item_factors.shape)
    before = model.item_factors.copy()
    model.partial_fit(small_interactions, epochs=1)
    assert model.item_factors.ctypes.data % CACHE_LINE == 0
    assert not np.array_equal(model.item_factors, before)  # the aligned copy is the one trained
