"""advrec.evaluate, top_k and advrec.stats against NumPy references on small fixtures."""

import numpy as np
import pytest

import advrec
from advrec.evaluation import top_k


class FixedModel(advrec.models.base.Recommender):
    """A 'model' with given factors, to test evaluation independently of training."""

    def __init__(self, U, V):
        self.U = np.asarray(U, dtype=np.float32)
        self.V = np.asarray(V, dtype=np.float32)
        self.n_users, self.n_items = self.U.shape[0], self.V.shape[0]

    def _scoring_factors(self, users):
        return self.U[users], self.V


def _data(n_users=40, n_items=300, seed=0, test_per_user=3):
    rng = np.random.default_rng(seed)
    users, items, tusers, titems = [], [], [], []
    for u in range(n_users):
        chosen = rng.choice(n_items, size=5 + test_per_user, replace=False)
        users += [u] * 5
        items += list(chosen[:5])
        if u % 7 != 3:  # some users have no test items
            tusers += [u] * test_per_user
            titems += list(chosen[5:])
    train = advrec.Interactions.from_arrays(np.array(users), np.array(items), n_users=n_users, n_items=n_items, dense_ids=True)
    test = advrec.Interactions.from_arrays(np.array(tusers), np.array(titems), n_users=n_users, n_items=n_items, dense_ids=True)
    return train, test


def _reference(S, train, test, ks, candidates=None):
    """Pessimistic ranks by brute force over a dense score matrix, then the metric definitions."""
    tr = train.to_csr().toarray() > 0
    te = test.to_csr().toarray() > 0
    out = {}
    for u in np.flatnonzero(te.any(axis=1)):
        tests = np.flatnonzero(te[u])
        if candidates is None:
            cand = ~tr[u]
        else:
            cand = np.zeros(S.shape[1], bool)
            cand[candidates[u]] = True
            cand[tests] = True
        ranks, aucs = [], []
        for t in tests:
            nontest = cand & ~te[u]
            # non-test items win ties; tied test items take consecutive places (by id here)
            ahead = (S[u, nontest] >= S[u, t]).sum()
            ahead += sum(1 for t2 in tests if S[u, t2] > S[u, t] or (S[u, t2] == S[u, t] and t2 < t))
            ranks.append(int(ahead))
            negs = cand & ~te[u]
            aucs.append((S[u, negs] < S[u, t]).mean())
        ranks = np.sort(ranks)
        row = {}
        for k in ks:
            hit = ranks < k
            idcg = sum(1 / np.log2(i + 2) for i in range(min(len(tests), k)))
            row[f"hr@{k}"] = float(hit.any())
            row[f"ndcg@{k}"] = float(sum(1 / np.log2(r + 2) for r in ranks[hit]) / idcg)
            row[f"recall@{k}"] = hit.sum() / len(tests)
            row[f"precision@{k}"] = hit.sum() / k
            row[f"mrr@{k}"] = 1 / (ranks[0] + 1) if hit[0] else 0.0
            row[f"map@{k}"] = sum((i + 1) / (r + 1) for i, r in enumerate(ranks) if r < k) / min(len(tests), k)
        row["auc"] = float(np.mean(aucs))
        out[int(u)] = row
    return out


ALL = ("hr", "ndcg", "recall", "precision", "mrr", "map", "auc")


@pytest.mark.parametrize("coarse", [False, True])
@pytest.mark.parametrize("with_auc", [False, True])
def test_full_protocol_matches_numpy(coarse, with_auc):
    train, test = _data()
    rng = np.random.default_rng(1)
    U, V = rng.normal(size=(40, 6)), rng.normal(size=(300, 6))
    if coarse:  # many exact ties
        U, V = np.round(U * 2) / 4, np.round(V * 2) / 4
    model = FixedModel(U, V)
    metrics = ALL if with_auc else ALL[:-1]
    res = advrec.evaluate(model, train, test, k=(1, 5, 20), metrics=metrics)
    S = model.U.astype(np.float64) @ model.V.T.astype(np.float64)
    ref = _reference(S, train, test, (1, 5, 20))
    assert list(res.users) == sorted(ref)
    for name, column in res.per_user.items():
        expected = np.array([ref[int(u)][name] for u in res.users])
        np.testing.assert_allclose(column, expected, atol=1e-12, err_msg=name)
        assert res.summary[name] == pytest.approx(expected.mean())


def test_sampled_protocol_matches_numpy_and_is_deterministic():
    train, test = _data(seed=3)
    rng = np.random.default_rng(2)
    model = FixedModel(np.round(rng.normal(size=(40, 4)) * 2) / 4, np.round(rng.normal(size=(300, 4)) * 2) / 4)
    proto = advrec.Sampled(n_negatives=50, seed=9)
    a = advrec.evaluate(model, train, test, k=(5, 10), metrics=ALL, protocol=proto, num_threads=1)
    b = advrec.evaluate(model, train, test, k=(5, 10), metrics=ALL, protocol=proto, num_threads=2)
    for name in a.per_user:
        np.testing.assert_array_equal(a.per_user[name], b.per_user[name])
    # Recompute with the same negatives given explicitly and compare against the reference.
    ti, tx = train.csr_arrays()
    si, sx = test.csr_arrays()
    negs = advrec._core_engine.sample_negatives(ti, tx, si, sx, 300, a.users, 50, 9)
    full = np.zeros((40, 50), dtype=np.int32)
    full[a.users] = negs
    given = advrec.evaluate(model, train, test, k=(5, 10), metrics=ALL,
                            protocol=advrec.Sampled(negatives=full))
    S = model.U.astype(np.float64) @ model.V.T.astype(np.float64)
    ref = _reference(S, train, test, (5, 10), candidates={int(u): full[u] for u in a.users})
    for name in a.per_user:
        np.testing.assert_array_equal(a.per_user[name], given.per_user[name])
        np.testing.assert_allclose(a.per_user[name], [ref[int(u)][name] for u in a.users], atol=1e-12, err_msg=name)
    # Negatives avoid train and test items.
    tr = train.to_csr().toarray() > 0
    te = test.to_csr().toarray() > 0
    assert not (tr[a.users[:, None], negs].any() or te[a.users[:, None], negs].any())


def test_constant_scores_get_no_credit():
    train, test = _data()
    model = FixedModel(np.zeros((40, 3)), np.ones((300, 3)))
    res = advrec.evaluate(model, train, test, k=(10, 50), metrics=ALL)
    assert all(v == 0.0 for v in res.summary.values())
    res = advrec.evaluate(model, train, test, k=10, metrics=ALL, protocol=advrec.Sampled(99, seed=0))
    assert all(v == 0.0 for v in res.summary.values())


def test_perfect_scores_get_full_credit():
    train, test = _data(test_per_user=2)
    ti, tx = test.csr_arrays()
    # Give each user's test items a high score through a user-specific dimension.
    U = np.eye(40)
    V = np.zeros((300, 40))
    for u in range(40):
        V[tx[ti[u]:ti[u + 1]], u] = 1.0
    res = advrec.evaluate(FixedModel(U, V), train, test, k=2, metrics=ALL)
    # Test items of different users can share an item; a user's own test items still score 1 and
    # the others 0, so they are top-2 exactly.
    assert res.summary["hr@2"] == 1.0
    assert res.summary["recall@2"] == 1.0
    assert res.summary["ndcg@2"] == pytest.approx(1.0)
    assert res.summary["auc"] == pytest.approx(1.0)


def test_users_restriction_and_result_api():
    train, test = _data()
    model = FixedModel(np.random.default_rng(0).normal(size=(40, 4)), np.random.default_rng(1).normal(size=(300, 4)))
    full = advrec.evaluate(model, train, test, k=10, metrics=("ndcg",))
    part = advrec.evaluate(model, train, test, k=10, metrics=("ndcg",), users=[0, 1, 3, 5], batch_size=1)
    assert list(part.users) == [0, 1, 5]  # user 3 has no test items
    np.testing.assert_array_equal(part.per_user["ndcg@10"], full.per_user["ndcg@10"][[0, 1, 4]])
    frame = full.to_frame()
    assert list(frame.columns) == ["user", "ndcg@10"] and len(frame) == full.n_users
    assert full["ndcg@10"] == full.summary["ndcg@10"]
    assert "full ranking" in repr(full)


def test_top_k_matches_argsort_and_excludes():
    rng = np.random.default_rng(5)
    U, V = rng.normal(size=(13, 8)).astype(np.float32), rng.normal(size=(1000, 8)).astype(np.float32)
    ids, scores = top_k(U, V, 25)
    S = U @ V.T
    for r in range(13):
        order = np.lexsort((np.arange(1000), -S[r]))[:25]
        np.testing.assert_array_equal(ids[r], order)
        np.testing.assert_allclose(scores[r], S[r, order], rtol=1e-5)
    train, _ = _data(n_users=13, n_items=1000)
    indptr, indices = train.csr_arrays()
    ids, _ = top_k(U, V, 25, exclude=(indptr, indices, np.arange(13, dtype=np.int32)))
    for r in range(13):
        assert not set(ids[r]) & set(indices[indptr[r]:indptr[r + 1]])


def test_stats_tests():
    train, test = _data()
    rng = np.random.default_rng(0)
    good = FixedModel(rng.normal(size=(40, 4)), rng.normal(size=(300, 4)))
    a = advrec.evaluate(good, train, test, k=50, metrics=("ndcg",))
    b = advrec.evaluate(FixedModel(np.zeros((40, 4)), np.ones((300, 4))), train, test, k=50, metrics=("ndcg",))
    t = advrec.stats.paired_ttest(a, b, "ndcg@50")
    w = advrec.stats.wilcoxon(a, b, "ndcg@50")
    from scipy import stats as ss

    ref = ss.ttest_rel(a.per_user["ndcg@50"], b.per_user["ndcg@50"])
    assert t.pvalue == pytest.approx(ref.pvalue) and t.statistic == pytest.approx(ref.statistic)
    assert t.n_users == a.n_users and t.mean_difference == pytest.approx(a["ndcg@50"] - b["ndcg@50"])
    assert 0 < w.pvalue < 1
    same = advrec.stats.paired_ttest(a, a, "ndcg@50")
    assert same.pvalue == 1.0 and same.mean_difference == 0.0
    with pytest.raises(ValueError, match="metric"):
        advrec.stats.wilcoxon(a, b, "hr@10")
    with pytest.raises(TypeError):
        advrec.stats.paired_ttest(a, {"x": 1}, "ndcg@50")


def test_bad_input():
    train, test = _data()
    model = FixedModel(np.ones((40, 2)), np.ones((300, 2)))
    with pytest.raises(ValueError, match="k must be positive"):
        advrec.evaluate(model, train, test, k=0)
    with pytest.raises(TypeError, match="k must be"):
        advrec.evaluate(model, train, test, k=2.5)
    with pytest.raises(ValueError, match="unknown metric"):
        advrec.evaluate(model, train, test, metrics=("hr", "f1"))
    with pytest.raises(ValueError, match="protocol"):
        advrec.evaluate(model, train, test, protocol="sampled")
    with pytest.raises(ValueError, match="n_negatives"):
        advrec.Sampled(n_negatives=0)
    with pytest.raises(ValueError, match="strategy"):
        advrec.Sampled(strategy="zipf")
    with pytest.raises(ValueError, match="cannot draw|only"):
        advrec.evaluate(model, train, test, protocol=advrec.Sampled(n_negatives=295))
    with pytest.raises(ValueError, match="fitted on"):
        other, _ = _data(n_users=41)
        advrec.evaluate(model, other, test)
    with pytest.raises(TypeError, match="Interactions"):
        advrec.evaluate(model, train, "test.csv")
    nan = FixedModel(np.full((40, 2), np.nan), np.ones((300, 2)))
    with pytest.raises(ValueError, match="NaN"):
        advrec.evaluate(nan, train, test)
    overlap = advrec.Interactions.from_arrays(train.users[:3], train.items[:3], n_users=40, n_items=300, dense_ids=True)
    with pytest.raises(ValueError, match="also in its training data"):
        advrec.evaluate(model, train, overlap)
    bad_negs = np.zeros((40, 10), dtype=np.int64) + 400
    with pytest.raises(ValueError, match="outside"):
        advrec.evaluate(model, train, test, protocol=advrec.Sampled(negatives=bad_negs))
    with pytest.raises(ValueError, match="shape"):
        advrec.evaluate(model, train, test, protocol=advrec.Sampled(negatives=np.zeros((3, 10), dtype=np.int32)))
    with pytest.raises(ValueError, match="no user to evaluate"):
        advrec.evaluate(model, train, test, users=[3, 10])  # users without test items
