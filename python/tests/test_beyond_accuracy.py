"""Beyond-accuracy metrics (coverage, Gini, entropy, EPC, EFD, ARP, APLT, ACLT, PopREO, PopRSP, ILD)
and per-group accuracy: hand-computed answers, a NumPy reference, edge cases and bad input."""

import math

import numpy as np
import pytest

import advrec
from test_evaluation import FixedModel  # noqa: E402  (given factors, no training)
from advrec.evaluation import (AGGREGATE_METRICS, BEYOND_ACCURACY_METRICS, LIST_METRICS, METRICS, evaluate_lists,
                               top_k)


def _inter(pairs, n_users, n_items):
    u = np.array([p[0] for p in pairs], dtype=np.int64)
    i = np.array([p[1] for p in pairs], dtype=np.int64)
    return advrec.Interactions.from_arrays(u, i, n_users=n_users, n_items=n_items, dense_ids=True)


# ---- a hand-computed fixture -------------------------------------------------------------------
# 3 users, 4 items. Training popularity: item 0 -> 3 users, items 1 and 2 -> 1, item 3 -> 0
# (5 interactions). With head_share 0.8 the head takes item 0 (3 < 4) then item 1 (tie with item 2,
# lower id first; 4 >= 4): head {0, 1}, tail {2, 3}.
TRAIN = [(0, 0), (0, 1), (1, 0), (2, 0), (2, 2)]
TEST = [(0, 2), (1, 1), (1, 3), (2, 3)]
LISTS = np.array([[2, 3], [3, 1], [1, 3]])
FEATURES = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
D1 = 1 / math.log2(3)  # discount of the second position
L5 = math.log2(5)  # EFD novelty of an item seen by one user (or none) out of 5 interactions
ILD = 1 - 1 / math.sqrt(2)
EXPECTED_USER = {
    "epc@1": [2 / 3, 1.0, 0.0],
    "epc@2": [(2 / 3) / (1 + D1), (1 + D1 * 2 / 3) / (1 + D1), D1 / (1 + D1)],
    "efd@1": [L5, L5, 0.0],
    "efd@2": [L5 / (1 + D1), L5, D1 * L5 / (1 + D1)],
    "arp@1": [1.0, 0.0, 1.0],
    "arp@2": [0.5, 0.5, 0.5],
    "aplt@1": [1.0, 1.0, 0.0],
    "aplt@2": [1.0, 0.5, 0.5],
    "aclt@1": [1.0, 1.0, 0.0],
    "aclt@2": [2.0, 1.0, 1.0],
    "ild@1": [np.nan] * 3,
    "ild@2": [ILD, ILD, ILD],
}
EXPECTED_AGGREGATE = {
    # k=1: items 2, 3, 1 once each; k=2: item 2 once, item 1 twice, item 3 three times
    "coverage@1": 0.75, "coverage@2": 0.75,
    "gini@1": 3 / 9, "gini@2": 10 / 18,
    "entropy@1": math.log2(3), "entropy@2": -sum(p * math.log2(p) for p in (1 / 6, 2 / 6, 3 / 6)),
    # test items: head {1}, tail {2, 3, 3}; k=1 hits: tail 2, head 0; k=2 hits: head 1, tail 3
    "pop_reo@1": 1.0, "pop_reo@2": 0.0,
    # candidates: head 0 + 1 + 1 = 2, tail 2 + 2 + 1 = 5; k=1 recommended head 1, tail 2: |1/2 - 2/5| / (9/10)
    "pop_rsp@1": 1 / 9, "pop_rsp@2": (1 - 4 / 5) / (1 + 4 / 5),
}


def _hand_fixture():
    return _inter(TRAIN, 3, 4), _inter(TEST, 3, 4)


def _check_expected(res):
    for name, want in EXPECTED_USER.items():
        tol = 1e-7 if name.startswith("ild") else 1e-12  # features are float32
        np.testing.assert_allclose(res.per_user[name], want, rtol=tol, atol=1e-12, err_msg=name)
    for name, want in EXPECTED_AGGREGATE.items():
        assert res.aggregates[name] == pytest.approx(want, abs=1e-12), name
        assert res.summary[name] == res.aggregates[name]


def test_hand_written_lists_give_the_hand_computed_values():
    train, test = _hand_fixture()
    res = evaluate_lists(LISTS, train, test, k=(1, 2), metrics=BEYOND_ACCURACY_METRICS, item_features=FEATURES)
    _check_expected(res)
    assert res.summary["arp@2"] == pytest.approx(0.5)
    assert math.isnan(res.summary["ild@1"])  # one item has no pair


def test_full_evaluation_selects_the_same_lists_in_its_scoring_pass():
    # One-hot item factors: user u's score of item i is U[u, i]; training items are excluded, so
    # the top-2 lists are exactly LISTS.
    train, test = _hand_fixture()
    U = np.array([[9, 9, 3, 2], [9, 1, 0.5, 3], [9, 3, 9, 2]])
    model = FixedModel(U, np.eye(4))
    res = advrec.evaluate(model, train, test, k=(1, 2), metrics=("hr",) + BEYOND_ACCURACY_METRICS,
                          item_features=FEATURES)
    _check_expected(res)
    np.testing.assert_array_equal(res.per_user["hr@2"], [1, 1, 1])


def test_metric_names_have_one_source():
    assert set(BEYOND_ACCURACY_METRICS) <= set(METRICS)
    assert LIST_METRICS == ("epc", "efd", "arp", "aplt", "aclt", "ild")
    assert AGGREGATE_METRICS == ("coverage", "gini", "entropy", "pop_reo", "pop_rsp")


# ---- NumPy reference on random fixtures ----------------------------------------------------------
def _reference_item_stats(train, head_share):
    indptr, indices = train.csr_arrays()
    pop = np.bincount(indices, minlength=train.n_items)
    order = np.lexsort((np.arange(train.n_items), -pop))
    held_before = np.cumsum(pop[order]) - pop[order]
    head = np.zeros(train.n_items, bool)
    head[order[held_before < head_share * pop.sum()]] = True
    return pop, ~head, int((np.diff(indptr) > 0).sum())


def _reference_metrics(lists, users, train, test, ks, head_share, features):
    """Every beyond-accuracy metric from ranked lists, by the README definitions."""
    pop, tail, n_seen = _reference_item_stats(train, head_share)
    total = pop.sum()
    tr = train.to_csr().toarray() > 0
    te = test.to_csr().toarray() > 0
    unit = features / np.maximum(np.linalg.norm(features, axis=1, keepdims=True), 1e-300)
    per_user, agg = {}, {}
    for k in ks:
        rows = {m: [] for m in LIST_METRICS}
        exposure = np.zeros(train.n_items)
        rec = np.zeros(2)
        hits = np.zeros(2)
        for u, row in zip(users, lists):
            L = np.array([i for i in row[:k] if i >= 0], dtype=int)
            disc = 1 / np.log2(np.arange(L.size) + 2)
            rel = te[u, L]
            rows["epc"].append((disc * rel * (1 - pop[L] / n_seen)).sum() / disc.sum())
            rows["efd"].append((disc * rel * -np.log2(np.maximum(pop[L], 1) / total)).sum() / disc.sum())
            rows["arp"].append(pop[L].mean())
            rows["aplt"].append(tail[L].mean())
            rows["aclt"].append(float(tail[L].sum()))
            if L.size > 1:
                cos = unit[L] @ unit[L].T
                rows["ild"].append((1 - cos)[np.triu_indices(L.size, 1)].mean())
            else:
                rows["ild"].append(np.nan)
            np.add.at(exposure, L, 1)
            rec += [(~tail[L]).sum(), tail[L].sum()]
            hits += [(rel & ~tail[L]).sum(), (rel & tail[L]).sum()]
        for m in LIST_METRICS:
            per_user[f"{m}@{k}"] = np.array(rows[m])
        p = exposure / exposure.sum()
        x = np.sort(exposure)
        n = x.size
        agg[f"coverage@{k}"] = (exposure > 0).mean()
        agg[f"gini@{k}"] = ((2 * np.arange(1, n + 1) - n - 1) * x).sum() / ((n - 1) * x.sum())
        agg[f"entropy@{k}"] = -(p[p > 0] * np.log2(p[p > 0])).sum()
        test_groups = np.array([(te[users] & ~tr[users] & ~tail).sum(), (te[users] & ~tr[users] & tail).sum()])
        cand = np.array([(~tr[users] & ~tail).sum(), (~tr[users] & tail).sum()])
        with np.errstate(invalid="ignore", divide="ignore"):  # NaN when undefined, as documented
            for name, (a, b) in (("pop_reo", hits / test_groups), ("pop_rsp", rec / cand)):
                agg[f"{name}@{k}"] = abs(a - b) / (a + b)
    return per_user, agg


def _random_fixture(seed, n_users=60, n_items=90, coarse=False):
    rng = np.random.default_rng(seed)
    train_pairs, test_pairs = [], []
    zipf = 1.0 / np.arange(1, n_items + 1) ** 0.8  # skewed popularity so head and tail differ
    zipf /= zipf.sum()
    for u in range(n_users):
        chosen = rng.choice(n_items, size=int(rng.integers(3, min(12, n_items - 2))), replace=False, p=zipf)
        cut = max(1, chosen.size - 2)
        train_pairs += [(u, i) for i in chosen[:cut]]
        if u % 9 != 4:  # some users have no test items and are not evaluated
            test_pairs += [(u, i) for i in chosen[cut:]]
    train, test = _inter(train_pairs, n_users, n_items), _inter(test_pairs, n_users, n_items)
    if coarse:  # multiples of 1/4 in 4 dims: exact float arithmetic, many ties
        U = np.round(rng.normal(size=(n_users, 4)) * 2) / 4
        V = np.round(rng.normal(size=(n_items, 4)) * 2) / 4
    else:
        U, V = rng.normal(size=(n_users, 8)), rng.normal(size=(n_items, 8))
    features = rng.normal(size=(n_items, 5))
    features[::7] = 0.0  # zero rows count as orthogonal to everything
    return train, test, FixedModel(U, V), features


def _reference_lists(model, train, users, K):
    """Top-K non-training items per user by exact float64 scores, ties to the lower id."""
    S = model.U[users].astype(np.float64) @ model.V.T.astype(np.float64)
    tr = train.to_csr().toarray() > 0
    out = np.full((users.size, K), -1)
    for r, u in enumerate(users):
        cand = np.flatnonzero(~tr[u])
        order = cand[np.lexsort((cand, -S[r, cand]))][:K]
        out[r, :order.size] = order
    return out


@pytest.mark.parametrize("seed,coarse,head_share", [(0, False, 0.8), (1, True, 0.8), (2, True, 0.5)])
def test_full_evaluation_matches_numpy_reference(seed, coarse, head_share):
    train, test, model, features = _random_fixture(seed, coarse=coarse)
    ks = (1, 5, 20)
    res = advrec.evaluate(model, train, test, k=ks, metrics=("ndcg",) + BEYOND_ACCURACY_METRICS,
                          head_share=head_share, item_features=features, batch_size=16)
    if coarse:  # exact scores: the reference can rank them itself
        lists = _reference_lists(model, train, res.users, max(ks))
    else:  # float32 rounding could reorder near-ties: take the engine's own (separately tested) top-k
        indptr, indices = train.csr_arrays()
        lists, _ = top_k(model.U[res.users], model.V, max(ks), exclude=(indptr, indices, res.users))
    per_user, agg = _reference_metrics(lists, res.users, train, test, ks, head_share, features)
    for name, want in per_user.items():
        np.testing.assert_allclose(res.per_user[name], want, rtol=1e-6, atol=1e-9, err_msg=name)
    for name, want in agg.items():
        assert res.aggregates[name] == pytest.approx(want, rel=1e-12, abs=1e-12, nan_ok=True), name
    # the accuracy columns do not change when list metrics are computed in the same pass
    plain = advrec.evaluate(model, train, test, k=ks, metrics=("ndcg",))
    for k in ks:
        np.testing.assert_array_equal(res.per_user[f"ndcg@{k}"], plain.per_user[f"ndcg@{k}"])


def test_batches_and_threads_do_not_change_the_totals():
    train, test, model, features = _random_fixture(3)
    kw = dict(k=(3, 10), metrics=BEYOND_ACCURACY_METRICS, item_features=features)
    a = advrec.evaluate(model, train, test, batch_size=7, num_threads=2, **kw)
    b = advrec.evaluate(model, train, test, batch_size=10_000, num_threads=1, **kw)
    assert a.summary == pytest.approx(b.summary, nan_ok=True)
    # the same lists through evaluate_lists give the same numbers
    indptr, indices = train.csr_arrays()
    lists, _ = top_k(model.U[a.users], model.V, 10, exclude=(indptr, indices, a.users))
    c = evaluate_lists(lists, train, test, users=a.users, **kw)
    assert c.summary == pytest.approx(a.summary, nan_ok=True)


# ---- edge cases -----------------------------------------------------------------------------------
def test_one_item_recommended_to_everyone():
    n_users, n_items = 6, 5
    train = _inter([(u, 1 + u % 4) for u in range(n_users)], n_users, n_items)
    test = _inter([(u, 1 + (u + 1) % 4) for u in range(n_users)], n_users, n_items)
    V = np.zeros((n_items, 1))
    V[0] = 1.0
    V[1:, 0] = [-1, -2, -3, -4]
    model = FixedModel(np.ones((n_users, 1)), V)  # item 0 wins for everyone
    res = advrec.evaluate(model, train, test, k=1, metrics=("hr",) + BEYOND_ACCURACY_METRICS[:-6] +
                          ("coverage", "gini", "entropy", "pop_rsp"))
    assert res.summary["coverage@1"] == pytest.approx(1 / n_items)
    assert res.summary["gini@1"] == pytest.approx(1.0)  # all exposure on one item
    assert res.summary["entropy@1"] == 0.0
    assert res.summary["hr@1"] == 0.0
    np.testing.assert_array_equal(res.per_user["arp@1"], 0.0)  # item 0 has no training interaction
    np.testing.assert_array_equal(res.per_user["aplt@1"], 1.0)  # so it is in the long tail
    assert res.summary["pop_rsp@1"] == pytest.approx(1.0)  # the head is never recommended


def test_all_items_recommended_equally():
    n = 8
    # user u trained on nothing useful to it, scores item u highest
    train = _inter([(u, (u + 1) % n) for u in range(n)], n, n)
    test = _inter([(u, (u + 2) % n) for u in range(n)], n, n)
    model = FixedModel(np.eye(n), np.eye(n))
    res = advrec.evaluate(model, train, test, k=1, metrics=("coverage", "gini", "entropy", "arp"))
    assert res.summary["coverage@1"] == 1.0
    assert res.summary["gini@1"] == pytest.approx(0.0, abs=1e-15)
    assert res.summary["entropy@1"] == pytest.approx(math.log2(n))
    assert res.summary["arp@1"] == pytest.approx(1.0)  # every item has exactly one training user


def test_k_larger_than_the_catalogue():
    train, test, model, features = _random_fixture(4, n_users=12, n_items=10)
    res = advrec.evaluate(model, train, test, k=(3, 50), metrics=("recall",) + BEYOND_ACCURACY_METRICS,
                          item_features=features)
    tr = train.to_csr().toarray() > 0
    # each list holds every candidate (all non-training items), so everything is covered ...
    assert res.summary["coverage@50"] == 1.0
    np.testing.assert_array_equal(res.per_user["aclt@50"],
                                  [(~tr[u] & _reference_item_stats(train, 0.8)[1]).sum() for u in res.users])
    np.testing.assert_array_equal(res.per_user["recall@50"], 1.0)
    # ... and the reference, fed the padded lists, agrees
    lists = _reference_lists(model, train, res.users, 50)
    assert (lists == -1).any()
    per_user, agg = _reference_metrics(lists, res.users, train, test, (3, 50), 0.8, features)
    for name, want in per_user.items():
        np.testing.assert_allclose(res.per_user[name], want, rtol=1e-6, err_msg=name)
    for name, want in agg.items():
        assert res.aggregates[name] == pytest.approx(want, nan_ok=True), name


def test_users_without_test_items_are_not_counted():
    train, test, model, features = _random_fixture(5)
    no_test = np.flatnonzero(np.diff(test.csr_arrays()[0]) == 0)
    assert no_test.size > 0
    res = advrec.evaluate(model, train, test, k=5, metrics=("coverage", "gini", "arp"))
    assert not np.isin(no_test, res.users).any()
    indptr, indices = train.csr_arrays()
    lists, _ = top_k(model.U[res.users], model.V, 5, exclude=(indptr, indices, res.users))
    exposure = np.bincount(lists.ravel(), minlength=train.n_items)
    assert res.summary["coverage@5"] == pytest.approx((exposure > 0).mean())
    # restricting to some users restricts the lists too
    some = res.users[:10]
    sub = advrec.evaluate(model, train, test, k=5, metrics=("coverage",), users=some)
    assert sub.summary["coverage@5"] == pytest.approx((np.bincount(lists[:10].ravel(), minlength=train.n_items) > 0).mean())


def test_pop_reo_is_nan_when_a_group_has_no_test_item():
    train, test = _hand_fixture()
    only_tail = _inter([(0, 2), (2, 3)], 3, 4)
    res = evaluate_lists(LISTS[[0, 2]], train, only_tail, users=[0, 2], k=2, metrics=("pop_reo", "coverage"))
    assert math.isnan(res.summary["pop_reo@2"])
    assert res.summary["coverage@2"] == 0.75


# ---- user groups ------------------------------------------------------------------------------------
def test_given_user_groups_and_gap():
    train, test, model, _ = _random_fixture(6)
    labels = np.array(["a" if u % 3 else "b" for u in range(model.n_users)])
    res = advrec.evaluate(model, train, test, k=10, metrics=("ndcg", "arp"), user_groups=labels)
    for name in ("ndcg@10", "arp@10"):
        means = {g: res.per_user[name][labels[res.users] == g].mean() for g in ("a", "b")}
        assert res.group_summary[name] == pytest.approx(means)
        assert res.summary[f"{name}_gap"] == pytest.approx(abs(means["a"] - means["b"]))
    assert list(res.to_frame()["group"]) == list(labels[res.users])


def test_activity_quantile_groups():
    train, test, model, _ = _random_fixture(7)
    res = advrec.evaluate(model, train, test, k=10, metrics=("recall",), user_groups=2)
    activity = np.diff(train.csr_arrays()[0])[res.users]
    median = np.quantile(activity, 0.5)
    np.testing.assert_array_equal(res.groups, (activity >= median).astype(int))  # 0 = least active
    assert set(res.group_summary["recall@10"]) == {0, 1}
    assert activity[res.groups == 0].max() < activity[res.groups == 1].min()  # ties never split


def test_user_groups_work_with_the_sampled_protocol():
    train, test, model, _ = _random_fixture(8)
    res = advrec.evaluate(model, train, test, k=5, metrics=("hr",), protocol=advrec.Sampled(20, seed=0),
                          user_groups=3)
    assert "hr@5_gap" in res.summary and not math.isnan(res.summary["hr@5_gap"])


# ---- bad input ----------------------------------------------------------------------------------------
def test_unknown_metric_name():
    train, test, model, _ = _random_fixture(9)
    with pytest.raises(ValueError, match="unknown metric"):
        advrec.evaluate(model, train, test, metrics=("ndcg", "novelty"))
    with pytest.raises(ValueError, match="unknown metric"):
        evaluate_lists(LISTS, *_hand_fixture(), metrics=("serendipity",))


@pytest.mark.parametrize("share", [0.0, 1.0, -0.2, 1.5, float("nan")])
def test_head_share_outside_the_open_unit_interval(share):
    train, test, model, _ = _random_fixture(10)
    with pytest.raises(ValueError, match="head_share"):
        advrec.evaluate(model, train, test, metrics=("aplt",), head_share=share)
    with pytest.raises(ValueError, match="head_share"):
        evaluate_lists(LISTS, *_hand_fixture(), metrics=("aplt",), head_share=share)


def test_list_metrics_reject_the_sampled_protocol():
    train, test, model, _ = _random_fixture(11)
    with pytest.raises(ValueError, match="protocol='full'"):
        advrec.evaluate(model, train, test, metrics=("ndcg", "coverage"), protocol=advrec.Sampled(20))


def test_ild_needs_item_features_of_the_right_shape():
    train, test, model, _ = _random_fixture(12)
    with pytest.raises(ValueError, match="item_features"):
        advrec.evaluate(model, train, test, metrics=("ild",))
    with pytest.raises(ValueError, match="item_features"):
        advrec.evaluate(model, train, test, metrics=("ild",), item_features=np.ones((3, 2)))
    bad = np.ones((model.n_items, 2))
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        advrec.evaluate(model, train, test, metrics=("ild",), item_features=bad)


def test_bad_lists_and_groups():
    train, test = _hand_fixture()
    with pytest.raises(ValueError, match="out of range"):
        evaluate_lists([[0, 9]], train, test, k=2, metrics=("arp",))
    with pytest.raises(ValueError, match="padding"):
        evaluate_lists([[-1, 2]], train, test, k=2, metrics=("arp",))
    with pytest.raises(ValueError, match="beyond-accuracy"):
        evaluate_lists(LISTS, train, test, metrics=("ndcg",))
    model = FixedModel(np.ones((3, 1)), np.ones((4, 1)))
    with pytest.raises(ValueError, match="user_groups"):
        advrec.evaluate(model, train, test, metrics=("hr",), user_groups=np.zeros(2))
    with pytest.raises(ValueError, match="user_groups"):
        advrec.evaluate(model, train, test, metrics=("hr",), user_groups=1)


# ---- robustness tables ---------------------------------------------------------------------------------
def test_robustness_reports_beyond_accuracy_shifts_next_to_accuracy():
    data = advrec.datasets.synthetic(n_users=120, n_items=80, seed=0)
    train, test = advrec.split.holdout(data, test_size=0.2, seed=0)
    bpr = advrec.BPRMF(factors=8, epochs=5, seed=0, num_threads=1, show_progress=False).fit(train)
    table = advrec.robustness({"bpr": bpr}, train, test, eps=(1.0,), attacks=("fgsm",), k=10,
                              metrics=("ndcg", "coverage", "arp"), show_progress=False,
                              evaluate_options={"head_share": 0.5})
    assert set(table.metric) == {"ndcg@10", "coverage@10", "arp@10"}
    clean = table[table.attack == "none"].set_index("metric")["value"]
    attacked = table[table.attack == "fgsm"].set_index("metric")
    np.testing.assert_allclose(attacked["shift"], attacked["value"] - clean[attacked.index])
    bad = advrec.attacks.fgsm(bpr, train, eps=1.0, seed=0)
    direct = advrec.evaluate(bad, train, test, k=10, metrics=("coverage", "arp"), head_share=0.5)
    assert attacked.loc["coverage@10", "value"] == pytest.approx(direct.summary["coverage@10"])
    with pytest.raises(ValueError, match="evaluate_options"):
        advrec.robustness({"bpr": bpr}, train, test, eps=(1.0,), evaluate_options={"k": 5}, show_progress=False)
