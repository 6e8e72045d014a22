"""advrec.split: leave-one-out and per-user holdout."""

import numpy as np
import pytest

import advrec
from advrec import Interactions
from advrec.split import holdout, leave_one_out


def keys(d):
    return d.users.astype(np.int64) * d.n_items + d.items


@pytest.fixture(scope="module")
def data():
    return advrec.datasets.synthetic(n_users=300, n_items=200, density=0.05, n_features=0, seed=1)


def check_partition(data, train, test):
    """Train and test share the id space and hold every interaction exactly once."""
    for part in (train, test):
        assert part.n_users == data.n_users and part.n_items == data.n_items
        assert part.user_ids is data.user_ids and part.item_ids is data.item_ids
    both = np.concatenate([keys(train), keys(test)])
    assert both.size == len(data)
    np.testing.assert_array_equal(np.sort(both), np.sort(keys(data)))


def test_leave_one_out_by_time_holds_out_each_users_latest(data):
    train, test = leave_one_out(data, by="time")
    check_partition(data, train, test)
    counts = data.user_counts()
    assert len(test) == int((counts >= 2).sum())
    assert np.bincount(test.users, minlength=data.n_users).max() == 1
    latest = np.full(data.n_users, -1, np.int64)
    np.maximum.at(latest, data.users, data.timestamps)
    np.testing.assert_array_equal(test.timestamps, latest[test.users])
    # every training interaction of a test user is strictly older (synthetic timestamps are distinct)
    multi = counts[train.users] >= 2
    assert np.all(train.timestamps[multi] < latest[train.users[multi]])
    info = test.split_info
    assert info["method"] == "leave_one_out" and info["n_test"] == len(test) and info["n_train"] == len(train)
    assert train.split_info is info


def test_leave_one_out_ties_go_to_the_later_row():
    d = Interactions.from_arrays([0, 0, 0, 1, 1], [1, 2, 3, 1, 2], timestamps=[5, 9, 9, 3, 3], dense_ids=True)
    train, test = leave_one_out(d)
    assert sorted(zip(test.users.tolist(), test.items.tolist())) == [(0, 3), (1, 2)]
    # without timestamps the file order is the chronology (SASRec files)
    d2 = Interactions.from_arrays([0, 0, 0, 1, 1], [3, 1, 2, 2, 1], dense_ids=True)
    _, test2 = leave_one_out(d2)
    assert sorted(zip(test2.users.tolist(), test2.items.tolist())) == [(0, 2), (1, 1)]


def test_single_interaction_users_stay_in_train():
    d = Interactions.from_arrays([0, 1, 1, 2], [0, 0, 1, 1], dense_ids=True)
    for split in (lambda x: leave_one_out(x), lambda x: holdout(x, 0.5)):
        train, test = split(d)
        assert 0 in train.users and 0 not in test.users and 2 not in test.users
        assert test.split_info["n_train_only_users"] == 2
        assert len(test) == 1


def test_leave_one_out_random_is_seeded(data):
    a = leave_one_out(data, by="random", seed=3)[1]
    b = leave_one_out(data, by="random", seed=3)[1]
    c = leave_one_out(data, by="random", seed=4)[1]
    np.testing.assert_array_equal(keys(a), keys(b))
    assert not np.array_equal(np.sort(keys(a)), np.sort(keys(c)))
    check_partition(data, *leave_one_out(data, by="random", seed=3))
    # not always the latest: the random choice differs from the time split for most users
    t = leave_one_out(data, by="time")[1]
    assert np.mean(np.sort(keys(a)) != np.sort(keys(t))) > 0.5


@pytest.mark.parametrize("by", ["random", "time"])
def test_holdout_fractions(data, by):
    train, test = holdout(data, test_size=0.2, by=by, seed=0)
    check_partition(data, train, test)
    n = data.user_counts()
    expected = np.where(n >= 2, np.clip(np.floor(0.2 * n + 0.5), 1, n - 1), 0)
    np.testing.assert_array_equal(np.bincount(test.users, minlength=data.n_users), expected)
    assert abs(len(test) / len(data) - 0.2) < 0.02
    assert test.split_info["test_size"] == 0.2


def test_holdout_by_time_takes_the_latest(data):
    train, test = holdout(data, test_size=0.3, by="time")
    first_test = np.full(data.n_users, np.iinfo(np.int64).max)
    np.minimum.at(first_test, test.users, test.timestamps)
    assert np.all(train.timestamps < first_test[train.users])


def test_holdout_seeds(data):
    a, b, c = (holdout(data, seed=s)[1] for s in (7, 7, 8))
    np.testing.assert_array_equal(keys(a), keys(b))
    assert not np.array_equal(keys(a), keys(c))


def test_cold_items_reported_and_optionally_dropped():
    # item 9 only ever occurs as user 1's latest interaction
    d = Interactions.from_arrays([0, 0, 1, 1, 2, 2], [1, 2, 1, 9, 2, 1], timestamps=[1, 2, 1, 2, 1, 2])
    train, test = leave_one_out(d)
    assert len(test) == 3 and test.split_info["n_cold_test_interactions"] == 1
    assert test.split_info["n_cold_items"] == 1 and test.split_info["n_cold_items_dropped"] == 0
    train, test = leave_one_out(d, drop_cold_items=True)
    assert len(test) == 2 and test.split_info["n_cold_items_dropped"] == 1
    assert 9 not in test.item_ids[test.items] and len(train) == 3
    assert test.n_items == d.n_items


def test_split_keeps_item_features_and_order(data):
    d = advrec.datasets.synthetic(n_users=50, n_items=40, n_features=4, seed=2)
    train, test = leave_one_out(d)
    assert train.item_features is d.item_features and test.item_features is d.item_features
    # rows keep the input order: the training sequences are the full sequences minus the last item
    ip, seq = d.sequences()
    tip, tseq = train.sequences()
    for u in range(d.n_users):
        full = seq[ip[u]:ip[u + 1]]
        np.testing.assert_array_equal(tseq[tip[u]:tip[u + 1]], full[:-1] if full.size >= 2 else full)


def test_bad_arguments(data):
    with pytest.raises(ValueError, match="by must be one of"):
        leave_one_out(data, by="newest")
    with pytest.raises(ValueError, match="test_size"):
        holdout(data, test_size=1.0)
    with pytest.raises(TypeError, match="test_size"):
        holdout(data, test_size="0.2")
    with pytest.raises(ValueError, match="seed"):
        holdout(data, seed=-1)
    with pytest.raises(TypeError, match="data"):
        leave_one_out(data.to_csr())


def test_video_leave_one_out_matches_the_sao_split(dataset):
    """Video.txt + leave-one-out by file order = the SAO/ASASRec Video.{train,test}.rating split,
    except for the 30 single-interaction users, who stay in training here (and test-only there)."""
    folder = dataset("amazon-video-sasrec")
    full = advrec.datasets.load_sasrec(folder / "Video.txt")
    train, test = leave_one_out(full, by="time")
    ref_train, ref_test = advrec.datasets.load_rating_split(folder / "Video.train.rating", folder / "Video.test.rating")
    assert test.split_info["n_train_only_users"] == 30
    assert len(test) == 31013 - 30 and len(train) == 256094 + 30
    # load_sasrec maps 1-based ids to id - 1, the .rating files are 0-based: same id space
    np.testing.assert_array_equal(full.user_ids, np.arange(1, 31014))
    single = np.flatnonzero(full.user_counts() == 1)
    ref_keep = ~np.isin(ref_test.users, single)
    np.testing.assert_array_equal(np.sort(keys(test)), np.sort(keys(ref_test)[ref_keep]))
    ref_train_plus = np.concatenate([keys(ref_train), keys(ref_test)[~ref_keep]])
    np.testing.assert_array_equal(np.sort(keys(train)), np.sort(ref_train_plus))
    # and the order is preserved: our training sequences are the reference ones (file order)
    ip, seq = train.sequences()
    rip, rseq = ref_train.sequences()
    multi = np.flatnonzero(full.user_counts() >= 2)
    assert all(np.array_equal(seq[ip[u]:ip[u + 1]], rseq[rip[u]:rip[u + 1]]) for u in multi)


# ---- validation splits ---------------------------------------------------------------------------
def check_three_way(data, train, valid, test):
    """Train, valid and test share the id space, are disjoint and hold every interaction once."""
    for part in (train, valid, test):
        assert part.n_users == data.n_users and part.n_items == data.n_items
        assert part.item_ids is data.item_ids
    parts = [keys(train), keys(valid), keys(test)]
    both = np.concatenate(parts)
    assert np.unique(both).size == both.size == len(data)
    np.testing.assert_array_equal(np.sort(both), np.sort(keys(data)))


@pytest.mark.parametrize("by", ["time", "random"])
def test_leave_one_out_twice_keeps_the_test_set_and_takes_valid_from_train(data, by):
    train, valid, test = leave_one_out(data, by=by, seed=5, validation=True)
    check_three_way(data, train, valid, test)
    train2, test2 = leave_one_out(data, by=by, seed=5)
    np.testing.assert_array_equal(keys(test), keys(test2))
    np.testing.assert_array_equal(np.sort(np.concatenate([keys(train), keys(valid)])), np.sort(keys(train2)))
    counts = data.user_counts()
    assert len(valid) == int((counts >= 3).sum())
    assert np.bincount(valid.users, minlength=data.n_users).max() == 1
    info = valid.split_info
    assert info["n_valid"] == len(valid) and info["n_train"] == len(train) and info["n_test"] == len(test)
    assert train.split_info is info and test.split_info is info and info["validation"] is True


def test_leave_one_out_twice_by_time_orders_train_valid_test(data):
    train, valid, test = leave_one_out(data, by="time", validation=True)
    t_valid = dict(zip(valid.users.tolist(), valid.timestamps.tolist()))
    t_test = dict(zip(test.users.tolist(), test.timestamps.tolist()))
    for u, tv in t_valid.items():
        assert tv < t_test[u]
    latest_train = np.full(data.n_users, -1, np.int64)
    np.maximum.at(latest_train, train.users, train.timestamps)
    assert all(latest_train[u] < tv for u, tv in t_valid.items())


def test_leave_one_out_twice_small_users():
    # user 0: one interaction (train only); user 1: two (train + test); user 2: three (all three parts)
    d = Interactions.from_arrays([0, 1, 1, 2, 2, 2], [0, 0, 1, 0, 1, 2], timestamps=[1, 1, 2, 1, 2, 3],
                                 dense_ids=True)
    train, valid, test = leave_one_out(d, validation=True)
    assert sorted(zip(test.users.tolist(), test.items.tolist())) == [(1, 1), (2, 2)]
    assert list(zip(valid.users.tolist(), valid.items.tolist())) == [(2, 1)]
    assert sorted(zip(train.users.tolist(), train.items.tolist())) == [(0, 0), (1, 0), (2, 0)]


def test_leave_one_out_twice_random_is_seeded(data):
    a = leave_one_out(data, by="random", seed=2, validation=True)
    b = leave_one_out(data, by="random", seed=2, validation=True)
    c = leave_one_out(data, by="random", seed=3, validation=True)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(keys(x), keys(y))
    assert not np.array_equal(np.sort(keys(a[1])), np.sort(keys(c[1])))


def test_validation_cold_items_are_counted_and_dropped_against_the_final_train():
    # item 3 occurs only as user 0's validation item, item 4 only as user 1's test item;
    # user 2 keeps item 1 in training
    d = Interactions.from_arrays([0, 0, 0, 1, 1, 1, 2, 2], [0, 3, 1, 0, 1, 4, 1, 0],
                                 timestamps=[1, 2, 3, 1, 2, 3, 1, 2], dense_ids=True)
    train, valid, test = leave_one_out(d, validation=True)
    info = valid.split_info
    assert info["n_cold_valid_interactions"] == 1 and info["n_cold_test_interactions"] == 1
    train, valid, test = leave_one_out(d, validation=True, drop_cold_items=True)
    assert 3 not in valid.items and 4 not in test.items and len(valid) == 1 and len(test) == 2
    assert valid.split_info["n_cold_valid_dropped"] == 1


@pytest.mark.parametrize("by", ["random", "time"])
def test_holdout_with_validation(data, by):
    train, valid, test = holdout(data, test_size=0.2, validation_size=0.1, by=by, seed=4)
    check_three_way(data, train, valid, test)
    _, test2 = holdout(data, test_size=0.2, by=by, seed=4)
    np.testing.assert_array_equal(keys(test), keys(test2))
    counts = data.user_counts()
    n_test = np.bincount(test.users, minlength=data.n_users)
    n_valid = np.bincount(valid.users, minlength=data.n_users)
    n_train = np.bincount(train.users, minlength=data.n_users)
    expect_valid = np.clip(np.floor(0.1 * counts + 0.5), 1, np.maximum(counts - n_test - 1, 0))
    expect_valid[counts - n_test < 2] = 0
    np.testing.assert_array_equal(n_valid, expect_valid)
    assert np.all(n_train[counts >= 1] >= 1)
    if by == "time":
        first_held = np.full(data.n_users, np.iinfo(np.int64).max)
        np.minimum.at(first_held, valid.users, valid.timestamps)
        np.minimum.at(first_held, test.users, test.timestamps)
        last_train = np.full(data.n_users, -1, np.int64)
        np.maximum.at(last_train, train.users, train.timestamps)
        assert np.all(last_train < first_held)
        last_valid = np.full(data.n_users, -1, np.int64)
        np.maximum.at(last_valid, valid.users, valid.timestamps)
        first_test = np.full(data.n_users, np.iinfo(np.int64).max)
        np.minimum.at(first_test, test.users, test.timestamps)
        assert np.all(last_valid < first_test)
    again = holdout(data, test_size=0.2, validation_size=0.1, by=by, seed=4)
    for x, y in zip((train, valid, test), again):
        np.testing.assert_array_equal(keys(x), keys(y))


@pytest.mark.parametrize("kwargs, exc, match", [
    (dict(validation_size=0.0), ValueError, "validation_size"),
    (dict(validation_size="0.1"), TypeError, "validation_size"),
    (dict(test_size=0.6, validation_size=0.4), ValueError, "below 1"),
])
def test_holdout_validation_size_errors(data, kwargs, exc, match):
    with pytest.raises(exc, match=match):
        holdout(data, **kwargs)


def test_leave_one_out_validation_flag_must_be_bool(data):
    with pytest.raises(TypeError, match="validation"):
        leave_one_out(data, validation="yes")
