"""BPR-MF and AMF specifics: the APR objective, warm starts, mini-batch semantics, bad input."""

import numpy as np
import pytest

import advrec
from advrec._engine import core


@pytest.fixture(scope="module")
def data():
    full = advrec.datasets.synthetic(n_users=200, n_items=150, seed=1)
    train, test = advrec.split.leave_one_out(full, by="time")
    return train, test


def _bpr(**kw):
    args = dict(factors=8, epochs=5, num_threads=1, seed=0, show_progress=False)
    args.update(kw)
    return advrec.BPRMF(**args)


def _amf(**kw):
    args = dict(factors=8, epochs=5, num_threads=1, seed=0, show_progress=False)
    args.update(kw)
    return advrec.AMF(**args)


@pytest.mark.parametrize("batch_size", [1, 32])
@pytest.mark.parametrize("knob", ["eps", "reg_adv"])
def test_zero_eps_or_lambda_is_bpr_bit_for_bit(data, batch_size, knob):
    train, _ = data
    straight = _bpr(epochs=10, batch_size=batch_size).fit(train)
    head = _bpr(epochs=5, batch_size=batch_size).fit(train)
    amf = _amf(batch_size=batch_size, **{knob: 0.0}).fit(train, init=head)
    np.testing.assert_array_equal(amf.user_factors, straight.user_factors)
    np.testing.assert_array_equal(amf.item_factors, straight.item_factors)
    assert [h["phase"] for h in amf.history_] == ["bpr"] * 5 + ["apr"] * 5


def test_init_does_not_modify_the_source_model(data):
    train, _ = data
    bpr = _bpr().fit(train)
    before = bpr.user_factors.copy()
    _amf(eps=0.5).fit(train, init=bpr)
    np.testing.assert_array_equal(bpr.user_factors, before)


def test_adversarial_training_changes_the_result_and_reports_adv_loss(data):
    train, _ = data
    bpr = _bpr().fit(train)
    a = _amf(eps=0.5).fit(train, init=bpr)
    b = _bpr(epochs=5).fit(train, init=bpr)
    assert not np.array_equal(a.user_factors, b.user_factors)
    h = a.history_[-1]
    assert h["phase"] == "apr" and h["adv_loss"] > h["loss"] > 0


def test_pretrain_epochs_then_apr_in_one_fit(data):
    train, _ = data
    m = _amf(pretrain_epochs=3, epochs=2).fit(train)
    assert [h["phase"] for h in m.history_] == ["bpr"] * 3 + ["apr"] * 2
    assert m.history_[0]["adv_loss"] == 0.0


def _reference_minibatch_sgd(P, Q, triples, lr, eps, lam):
    """Slow, literal APR section 3.4: perturbations from gradients summed over the batch (an item
    positive in one triple and negative in another gets both), normalised per row; then one SGD step
    with the summed gradient of the clean and adversarial losses."""
    P = P.astype(np.float64)
    Q = Q.astype(np.float64)
    sig = lambda x: 1 / (1 + np.exp(-x))
    Gu, Gi = np.zeros_like(P), np.zeros_like(Q)
    for u, i, j in zip(*triples):
        g = sig(-(P[u] @ (Q[i] - Q[j])))
        Gu[u] += -g * (Q[i] - Q[j])
        Gi[i] += -g * P[u]
        Gi[j] += g * P[u]
    def fgm(G):
        n = np.linalg.norm(G, axis=1, keepdims=True)
        return np.where(n > 0, eps * G / np.where(n > 0, n, 1), 0)
    Du, Di = fgm(Gu), fgm(Gi)
    dP, dQ = np.zeros_like(P), np.zeros_like(Q)
    for u, i, j in zip(*triples):
        g = sig(-(P[u] @ (Q[i] - Q[j])))
        pa, qia, qja = P[u] + Du[u], Q[i] + Di[i], Q[j] + Di[j]
        ga = lam * sig(-(pa @ (qia - qja)))
        dP[u] += -g * (Q[i] - Q[j]) - ga * (qia - qja)
        dQ[i] += -g * P[u] - ga * pa
        dQ[j] += g * P[u] + ga * pa
    return P - lr * dP, Q - lr * dQ


def test_minibatch_aggregation_matches_numpy_reference():
    rng = np.random.default_rng(0)
    P = rng.normal(0, 0.5, (3, 4)).astype(np.float32)
    Q = rng.normal(0, 0.5, (5, 4)).astype(np.float32)
    # Item 2 is positive in the first triple and negative in the second; user 0 appears twice.
    triples = (np.array([0, 0, 1, 2], np.int32), np.array([2, 1, 3, 2], np.int32), np.array([4, 2, 0, 1], np.int32))
    cfg = core.MFTrainConfig()
    cfg.optimizer = core.Optimizer.sgd
    cfg.lr, cfg.eps, cfg.reg_adv, cfg.batch_size = 0.1, 0.3, 2.0, 4
    P_ref, Q_ref = _reference_minibatch_sgd(P, Q, triples, 0.1, 0.3, 2.0)
    core._testing.train_mf_on_triples({"user_factors": P, "item_factors": Q}, *triples, cfg)
    np.testing.assert_allclose(P, P_ref, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(Q, Q_ref, rtol=1e-5, atol=1e-6)


def test_continued_training_equals_one_long_fit(data):
    train, _ = data
    long = _bpr(epochs=6).fit(train)
    parts = _bpr(epochs=2).fit(train)
    parts.partial_fit(train, epochs=4)
    np.testing.assert_array_equal(parts.item_factors, long.item_factors)


def test_callback_can_stop_and_history_records_validation(data):
    train, test = data
    seen = []
    def cb(epoch, figures):
        seen.append(figures)
        return epoch < 3
    m = _bpr(epochs=10).fit(train, validation=test, eval_every=1, callback=cb)
    assert len(m.history_) == 3 and len(seen) == 3
    assert "val_ndcg@10" in m.history_[0] and 0 <= m.history_[0]["val_ndcg@10"] <= 1


def test_keyboard_interrupt_leaves_a_usable_model(data):
    train, _ = data
    def cb(epoch, figures):
        if epoch == 2:
            raise KeyboardInterrupt
    with pytest.warns(RuntimeWarning, match="interrupted"):
        m = _bpr(epochs=10).fit(train, callback=cb)
    assert m.interrupted_ and len(m.history_) == 2
    ids, _ = m.recommend([0, 1], k=3)
    assert ids.shape == (2, 3)


def test_divergence_raises_a_clear_error(data):
    train, _ = data
    with pytest.raises(FloatingPointError, match="learning rate"):
        _bpr(optimizer="sgd", lr=1e30, init_std=1e10, epochs=3).fit(train)


@pytest.mark.parametrize("kwargs, exc, match", [
    (dict(lr=float("nan")), ValueError, "lr"),
    (dict(lr=-0.1), ValueError, "lr"),
    (dict(reg=-1.0), ValueError, "reg"),
    (dict(factors=0), ValueError, "factors"),
    (dict(factors=2.5), TypeError, "factors"),
    (dict(optimizer="adam"), ValueError, "optimizer"),
    (dict(batch_size=0), ValueError, "batch_size"),
    (dict(epochs=-1), ValueError, "epochs"),
    (dict(negatives="hard"), ValueError, "negatives"),
])
def test_bad_hyper_parameters(data, kwargs, exc, match):
    train, _ = data
    with pytest.raises(exc, match=match):
        _bpr(**kwargs).fit(train)


@pytest.mark.parametrize("kwargs, match", [(dict(eps=-0.5), "eps"), (dict(reg_adv=float("inf")), "reg_adv"),
                                           (dict(perturb="all"), "perturb")])
def test_bad_adversarial_parameters(data, kwargs, match):
    train, _ = data
    with pytest.raises(ValueError, match=match):
        _amf(**kwargs).fit(train)


def test_bad_training_data(data):
    train, _ = data
    with pytest.raises(TypeError, match="Interactions"):
        _bpr().fit(np.zeros((3, 3)))
    with pytest.raises(ValueError, match="empty"):
        advrec.Interactions.from_arrays(np.array([], np.int64), np.array([], np.int64))
    small = advrec.datasets.synthetic(n_users=50, n_items=40, seed=2)
    bpr = _bpr().fit(train)
    with pytest.raises(ValueError, match="users"):
        _amf().fit(small, init=bpr)
    with pytest.raises(TypeError, match="init"):
        _amf().fit(train, init=advrec.ItemPop().fit(train))


def test_engine_rejects_wrong_parameter_arrays():
    cfg = core.MFTrainConfig()
    P = np.zeros((3, 2), np.float64)
    Q = np.zeros((4, 2), np.float32)
    indptr = np.array([0, 1, 1, 2], np.int64)
    indices = np.array([0, 3], np.int32)
    with pytest.raises(TypeError, match="user_factors"):
        core.train_mf({"user_factors": P, "item_factors": Q}, indptr, indices, cfg)
    P = np.zeros((3, 2), np.float32)
    with pytest.raises(ValueError, match="accumulator"):
        core.train_mf({"user_factors": P, "item_factors": Q}, indptr, indices, cfg)
    cfg.optimizer = core.Optimizer.sgd
    with pytest.raises(ValueError, match="indptr"):
        core.train_mf({"user_factors": P, "item_factors": Q}, indptr[:-1], indices, cfg)
    with pytest.raises(TypeError, match="indices"):
        core.train_mf({"user_factors": P, "item_factors": Q}, indptr, indices.astype(np.float32), cfg)


# ---- negative sampling and the per-fit training index (issue 14) ---------------------------------

def test_popularity_negatives_push_popular_items_down_the_ranking(data):
    """Drawing negatives by popularity makes popular items negatives more often, so the learned
    ranking recommends less popular items than with uniform negatives (same seed, one thread)."""
    train, _ = data
    pops = {}
    for negatives in ("uniform", "popularity"):
        model = _bpr(epochs=30, negatives=negatives).fit(train)
        ids, _ = model.recommend(np.arange(train.n_users), k=10)
        popularity = np.bincount(train.csr_arrays()[1], minlength=train.n_items)
        pops[negatives] = popularity[ids].mean()
    assert pops["popularity"] < 0.8 * pops["uniform"], pops


def test_popularity_negatives_are_deterministic_with_one_thread(data):
    train, _ = data
    a = _bpr(negatives="popularity").fit(train)
    b = _bpr(negatives="popularity").fit(train)
    c = _bpr().fit(train)
    np.testing.assert_array_equal(a.item_factors, b.item_factors)
    assert not np.array_equal(a.item_factors, c.item_factors)
    assert a.get_params()["negatives"] == "popularity"


def test_training_index_holds_exactly_the_training_pairs(data):
    train, _ = data
    indptr, indices = train.csr_arrays()
    index = core.TrainingIndex(indptr, indices, train.n_items)
    assert (index.n_users, index.n_items, index.nnz) == (train.n_users, train.n_items, len(indices))
    dense = np.zeros((train.n_users, train.n_items), bool)
    dense[np.repeat(np.arange(train.n_users), np.diff(indptr)), indices] = True
    rng = np.random.default_rng(0)
    for u, i in zip(rng.integers(0, train.n_users, 2000), rng.integers(0, train.n_items, 2000)):
        assert index.contains(int(u), int(i)) == dense[u, i]


def test_training_index_rejects_a_broken_csr():
    with pytest.raises(ValueError, match="train"):
        core.TrainingIndex(np.array([0, 2, 1], np.int64), np.array([0, 1], np.int32), 3)


def test_the_index_is_built_once_per_fit_and_not_kept(data, monkeypatch):
    train, _ = data
    built = []
    real = core.TrainingIndex

    def counting(*args):
        built.append(args)
        return real(*args)

    monkeypatch.setattr(core, "TrainingIndex", counting)
    model = _amf(epochs=4).fit(train)  # two phases (BPR pre-training, then APR), one index
    assert len(built) == 1
    assert model._index_cache is None
