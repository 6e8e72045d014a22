"""advrec.Interactions: construction, id mapping, duplicates, views, filtering, bad input."""

import pickle
import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

import advrec
from advrec import Interactions


def pairs(data, original=False):
    """Set of (user, item) pairs, internal or original ids."""
    if original:
        return set(zip(data.user_ids[data.users].tolist(), data.item_ids[data.items].tolist()))
    return set(zip(data.users.tolist(), data.items.tolist()))


# ---- construction and id mapping ---------------------------------------------------------------
def test_raw_ids_are_densified_in_sorted_order():
    d = Interactions.from_arrays([10, 5, 10, 7], [300, 100, 200, 100])
    assert (d.n_users, d.n_items, len(d)) == (3, 3, 4)
    np.testing.assert_array_equal(d.user_ids, [5, 7, 10])
    np.testing.assert_array_equal(d.item_ids, [100, 200, 300])
    np.testing.assert_array_equal(d.users, [2, 0, 2, 1])
    np.testing.assert_array_equal(d.items, [2, 0, 1, 0])
    assert d.users.dtype == np.int32 and d.items.dtype == np.int32
    assert d.timestamps is None and d.weights is None and d.item_features is None
    assert d.n_duplicates_merged == 0


def test_string_ids_and_large_sparse_ids():
    d = Interactions.from_arrays(np.array(["bob", "alice", "bob"]), [10**12, 3, 3])
    np.testing.assert_array_equal(d.user_ids, ["alice", "bob"])
    np.testing.assert_array_equal(d.item_ids, [3, 10**12])
    assert pairs(d, original=True) == {("bob", 10**12), ("alice", 3), ("bob", 3)}


def test_integral_floats_are_accepted_as_ids():
    d = Interactions.from_arrays(np.array([1.0, 2.0]), np.array([3.0, 3.0]))
    np.testing.assert_array_equal(d.user_ids, [1, 2])
    assert d.user_ids.dtype.kind == "i"


def test_dense_ids_are_kept():
    d = Interactions.from_arrays([0, 3], [1, 1], dense_ids=True)
    assert (d.n_users, d.n_items) == (4, 2)
    np.testing.assert_array_equal(d.users, [0, 3])
    np.testing.assert_array_equal(d.user_ids, np.arange(4))
    d = Interactions.from_arrays([0, 3], [1, 1], n_users=10, n_items=5, dense_ids=True)
    assert (d.n_users, d.n_items) == (10, 5)
    assert d.user_counts().tolist() == [1, 0, 0, 1, 0, 0, 0, 0, 0, 0]
    assert d.item_counts().tolist() == [0, 2, 0, 0, 0]


def test_timestamps_and_weights_dtypes():
    d = Interactions.from_arrays([1, 2], [1, 2], timestamps=[5, 6], weights=[4, 2.5])
    assert d.timestamps.dtype == np.int64 and d.weights.dtype == np.float32
    d = Interactions.from_arrays([1, 2], [1, 2], timestamps=np.array(["2020-01-01", "2020-01-02"], dtype="datetime64[s]"))
    np.testing.assert_array_equal(d.timestamps, [1577836800, 1577923200])


def test_duplicates_keep_the_earliest_and_are_reported():
    users = [0, 0, 1, 0, 1]
    items = [5, 5, 5, 5, 6]
    ts = [30, 10, 7, 10, 1]
    w = [1.0, 2.0, 3.0, 4.0, 5.0]
    with pytest.warns(UserWarning, match="merged 2 duplicate"):
        d = Interactions.from_arrays(users, items, timestamps=ts, weights=w)
    assert d.n_duplicates_merged == 2 and len(d) == 3
    # (0,5) appears at t=30, 10, 10: the first row with t=10 (input position 1) wins
    np.testing.assert_array_equal(d.timestamps, [10, 7, 1])
    np.testing.assert_array_equal(d.weights, [2.0, 3.0, 5.0])  # input order of the survivors is kept
    assert d.summary()["n_duplicates_merged"] == 2


def test_duplicates_without_time_keep_the_first():
    with pytest.warns(UserWarning):
        d = Interactions.from_arrays([1, 1, 1], [2, 3, 2], weights=[1, 2, 3])
    np.testing.assert_array_equal(d.weights, [1, 2])
    np.testing.assert_array_equal(d.items, [0, 1])


def test_no_warning_without_duplicates():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Interactions.from_arrays([1, 2], [1, 1])


# ---- views --------------------------------------------------------------------------------------
def test_to_csr_and_csr_arrays():
    d = Interactions.from_arrays([2, 0, 2, 1, 0], [3, 1, 0, 2, 0], weights=[1, 2, 3, 4, 5], dense_ids=True)
    m = d.to_csr()
    assert isinstance(m, sp.csr_matrix) and m.dtype == np.float32 and m.shape == (3, 4)
    assert m.has_sorted_indices
    dense = np.zeros((3, 4), np.float32)
    dense[[2, 0, 2, 1, 0], [3, 1, 0, 2, 0]] = [1, 2, 3, 4, 5]
    np.testing.assert_array_equal(m.toarray(), dense)
    indptr, indices = d.csr_arrays()
    assert indptr.dtype == np.int64 and indices.dtype == np.int32
    np.testing.assert_array_equal(indptr, [0, 2, 3, 5])
    np.testing.assert_array_equal(indices, [0, 1, 2, 0, 3])
    assert d.csr_arrays()[0] is indptr  # cached
    assert not indptr.flags.writeable and not indices.flags.writeable
    m.data[:] = 0  # the returned matrix is a copy: the cache is untouched
    np.testing.assert_array_equal(d.to_csr().toarray(), dense)


def test_sequences_are_chronological_with_stable_ties():
    users = [0, 1, 0, 0, 1, 0]
    items = [10, 11, 12, 13, 14, 15]
    ts = [5, 1, 3, 5, 0, 1]
    d = Interactions.from_arrays(users, items, timestamps=ts, dense_ids=True)
    indptr, seq = d.sequences()
    assert indptr.dtype == np.int64 and seq.dtype == np.int32
    np.testing.assert_array_equal(indptr, [0, 4, 6])
    # user 0: t=1 (15), t=3 (12), then the tie t=5 in input order (10 before 13)
    np.testing.assert_array_equal(seq[:4], [15, 12, 10, 13])
    np.testing.assert_array_equal(seq[4:], [14, 11])
    no_time = Interactions.from_arrays(users, items, dense_ids=True)
    np.testing.assert_array_equal(no_time.sequences()[1], [10, 12, 13, 15, 11, 14])


def test_round_trip_arrays_csr():
    rng = np.random.default_rng(3)
    u = rng.integers(0, 50, 400)
    i = rng.integers(0, 80, 400)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        d = Interactions.from_arrays(u, i, weights=rng.random(400) + 0.5, dense_ids=True, n_users=50, n_items=80)
    back = Interactions.from_csr(d.to_csr())
    assert (back.n_users, back.n_items, len(back)) == (50, 80, len(d))
    assert pairs(back) == pairs(d)
    np.testing.assert_array_equal(back.to_csr().toarray(), d.to_csr().toarray())


def test_from_csr_binary_drops_weights_and_zeros():
    m = sp.csr_matrix(np.array([[1, 0, 1], [0, 0, 0], [0, 1, 0]], dtype=np.float64))
    m.data[1] = 0  # explicit stored zero is not an interaction
    d = Interactions.from_csr(m)
    assert d.weights is None and (d.n_users, d.n_items) == (3, 3)
    assert pairs(d) == {(0, 0), (2, 1)}


def test_from_pandas_and_back():
    df = pd.DataFrame({"u": ["x", "y", "x"], "i": [7, 7, 9], "t": pd.to_datetime(["2021-01-01", "2021-01-02", "2021-01-03"]),
                       "r": [1.0, 2.0, 3.0]})
    d = Interactions.from_pandas(df, user_col="u", item_col="i", time_col="t", weight_col="r")
    assert d.n_users == 2 and d.n_items == 2 and len(d) == 3
    out = d.to_pandas()
    assert list(out.columns) == ["user", "item", "timestamp", "weight"]
    assert out["user"].tolist() == ["x", "y", "x"] and out["item"].tolist() == [7, 7, 9]
    again = Interactions.from_pandas(out, time_col="timestamp", weight_col="weight")
    np.testing.assert_array_equal(again.users, d.users)
    np.testing.assert_array_equal(again.timestamps, d.timestamps)
    with pytest.raises(ValueError, match="time_col='when'"):
        Interactions.from_pandas(df, user_col="u", item_col="i", time_col="when")
    with pytest.raises(ValueError, match="item_col='i': column has a missing value at row 1"):
        Interactions.from_pandas(pd.DataFrame({"u": [1, 2], "i": pd.array([3, None], dtype="Int64")}),
                                 user_col="u", item_col="i")
    nullable = Interactions.from_pandas(pd.DataFrame({"user": pd.array([4, 2], dtype="Int64"), "item": [1, 1],
                                                      "t": pd.to_datetime([5, 6], unit="s", utc=True)}),
                                        time_col="t")
    np.testing.assert_array_equal(nullable.user_ids, [2, 4])
    np.testing.assert_array_equal(nullable.timestamps, [5, 6])
    with pytest.raises(TypeError, match="df"):
        Interactions.from_pandas({"user": [1]})


def test_summary_and_repr():
    d = Interactions.from_arrays([0, 0, 1], [0, 1, 1], timestamps=[1, 2, 3], dense_ids=True, n_items=4)
    s = d.summary()
    assert s["n_users"] == 2 and s["n_items"] == 4 and s["n_interactions"] == 3
    assert s["density"] == pytest.approx(3 / 8)
    assert s["n_active_items"] == 2 and s["interactions_per_user"]["max"] == 2
    assert s["time_min"] == 1 and s["time_max"] == 3
    r = repr(d)
    assert "n_users=2" in r and "n_items=4" in r and "n_interactions=3" in r


def test_immutable_in_practice():
    d = Interactions.from_arrays([0, 1], [1, 0])
    for arr in (d.users, d.items, d.user_ids, d.item_ids):
        assert not arr.flags.writeable
    with pytest.raises(ValueError):
        d.users[0] = 5
    with pytest.raises(AttributeError, match="immutable"):
        d.n_users = 7
    with pytest.raises(TypeError):
        Interactions(d.users, d.items, None, None, 2, 2, d.user_ids, d.item_ids)


def test_item_features_set_and_checked():
    d = Interactions.from_arrays([0, 1], [1, 0])
    d.item_features = np.ones((2, 3))
    assert d.item_features.dtype == np.float32 and not d.item_features.flags.writeable
    with pytest.raises(ValueError, match="item_features"):
        d.item_features = np.ones((3, 3))
    e = d.with_item_features(np.zeros((2, 5)))
    assert e.item_features.shape == (2, 5) and d.item_features.shape == (2, 3)
    assert e.users is d.users


def test_pickle_round_trip():
    d = Interactions.from_arrays([3, 1], [1, 2], timestamps=[5, 6])
    e = pickle.loads(pickle.dumps(d))
    np.testing.assert_array_equal(e.users, d.users)
    np.testing.assert_array_equal(e.user_ids, d.user_ids)
    assert not e.users.flags.writeable
    np.testing.assert_array_equal(e.csr_arrays()[1], d.csr_arrays()[1])


# ---- filtering ---------------------------------------------------------------------------------
def test_filter_one_pass():
    # user a: 3 items, b: 2, c: 1; item X by a, b, c; Y by a, b; Z by a
    d = Interactions.from_arrays(list("aaabbc"), list("XYZXYX"))
    f = d.filter(min_user_interactions=2)
    np.testing.assert_array_equal(f.user_ids, ["a", "b"])
    assert len(f) == 5 and f.n_items == 3
    g = d.filter(min_item_interactions=2)
    np.testing.assert_array_equal(g.item_ids, ["X", "Y"])
    assert pairs(g, original=True) == {("a", "X"), ("a", "Y"), ("b", "X"), ("b", "Y"), ("c", "X")}


def test_k_core_is_iterative():
    # a chain a-X, a-Y, b-Y, b-Z, c-Z: every 2-core candidate unravels from the ends
    d = Interactions.from_arrays(list("aabbc"), list("XYYZZ"))
    one_pass = d.filter(2, 2)
    assert len(one_pass) > 0
    with pytest.raises(ValueError, match="no interactions left"):
        d.k_core(2)
    # d has one interaction; dropping it leaves Z with one, then c with one: only a, b survive,
    # while a single pass (counts taken once) keeps c
    e = Interactions.from_arrays(list("aabbccd"), list("XYXYXZZ"))
    np.testing.assert_array_equal(e.filter(2, 2).user_ids, ["a", "b", "c"])
    core = e.k_core(2)
    np.testing.assert_array_equal(core.user_ids, ["a", "b"])
    np.testing.assert_array_equal(core.item_ids, ["X", "Y"])
    assert (core.user_counts() >= 2).all() and (core.item_counts() >= 2).all()
    assert core.k_core(2).summary()["n_interactions"] == len(core)  # a fixed point


def test_filter_keeps_item_features_aligned():
    d = Interactions.from_arrays([0, 1, 1], [0, 2, 2 + 1], dense_ids=True,
                                 item_features=np.arange(8, dtype=np.float32).reshape(4, 2))
    f = d.filter(min_item_interactions=1)
    np.testing.assert_array_equal(f.item_ids, [0, 2, 3])
    np.testing.assert_array_equal(f.item_features, [[0, 1], [4, 5], [6, 7]])


# ---- bad input ---------------------------------------------------------------------------------
@pytest.mark.parametrize("users, items, exc, match", [
    ([], [], ValueError, "empty"),
    ([1, 2], [1], ValueError, "same length"),
    ([1, -2], [1, 1], ValueError, "users contains a negative id"),
    ([1, 2], [1, -1], ValueError, "items contains a negative id"),
    ([1.0, np.nan], [1, 1], ValueError, "users contains a missing"),
    ([1.5, 2.0], [1, 1], ValueError, "users contains a non-integer"),
    ([True, False], [1, 1], TypeError, "users"),
    (np.array([1, None], dtype=object), [1, 1], ValueError, "users contains a missing"),
    (np.zeros((2, 2)), [1, 1], ValueError, "users must be one-dimensional"),
    (None, [1], TypeError, "users"),
])
def test_bad_ids(users, items, exc, match):
    with pytest.raises(exc, match=match):
        Interactions.from_arrays(users, items)


def test_bad_optional_arrays():
    with pytest.raises(ValueError, match="timestamps has length"):
        Interactions.from_arrays([1, 2], [1, 2], timestamps=[1])
    with pytest.raises(ValueError, match="timestamps contains NaN"):
        Interactions.from_arrays([1, 2], [1, 2], timestamps=[1.0, np.nan])
    with pytest.raises(ValueError, match="weights contains NaN"):
        Interactions.from_arrays([1, 2], [1, 2], weights=[1.0, np.inf])
    with pytest.raises(ValueError, match="weights has length"):
        Interactions.from_arrays([1, 2], [1, 2], weights=[1.0, 2.0, 3.0])
    with pytest.raises(TypeError, match="weights"):
        Interactions.from_arrays([1, 2], [1, 2], weights=["a", "b"])


def test_bad_id_spaces():
    with pytest.raises(ValueError, match="n_users"):
        Interactions.from_arrays([1, 2], [1, 2], n_users=5)  # raw ids: no n_users
    with pytest.raises(ValueError, match="users contains id 5, outside"):
        Interactions.from_arrays([5], [0], n_users=3, dense_ids=True)
    with pytest.raises(ValueError, match="items contains id 4, outside"):
        Interactions.from_arrays([0], [4], n_items=4, dense_ids=True)
    with pytest.raises(TypeError, match="users"):
        Interactions.from_arrays(["a"], [0], dense_ids=True)
    with pytest.raises(TypeError, match="n_users"):
        Interactions.from_arrays([0], [0], n_users=2.5, dense_ids=True)


def test_bad_csr():
    with pytest.raises(TypeError, match="matrix"):
        Interactions.from_csr(np.eye(3))
    with pytest.raises(ValueError, match="no non-zero"):
        Interactions.from_csr(sp.csr_matrix((3, 3)))


def test_exported_at_top_level():
    assert advrec.Interactions is Interactions
    assert hasattr(advrec.split, "leave_one_out") and hasattr(advrec.datasets, "synthetic")
