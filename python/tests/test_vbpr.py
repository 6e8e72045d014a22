"""VBPR, AMR and the content-only model (ContentMF, alias DUIF): objective identities, cold items, feature attacks, errors."""

import numpy as np
import pytest
import scipy.sparse as sp

import advrec
from advrec import attacks

KW = dict(factors=8, epochs=8, num_threads=1, seed=0, show_progress=False, batch_size=32)


@pytest.fixture(scope="module")
def data():
    d = advrec.datasets.synthetic(n_users=200, n_items=150, density=0.05, n_features=12, seed=5)
    train, test = advrec.split.leave_one_out(d, by="time")
    return train, test


@pytest.fixture(scope="module")
def pretrained(data):
    train, _ = data
    return advrec.VBPR(shared_user=True, item_bias=False, visual_bias=False, **KW).fit(train)


def _arrays(model):
    return {n: getattr(model, n) for n in model._array_names if getattr(model, n) is not None}


@pytest.mark.parametrize("batch_size", [1, 32])
def test_eps_zero_or_lambda_zero_is_vbpr_exactly(data, pretrained, batch_size):
    train, _ = data
    kw = dict(KW, batch_size=batch_size, epochs=4)
    vbpr = advrec.VBPR(shared_user=True, item_bias=False, visual_bias=False, **kw).fit(train, init=pretrained)
    for adv in (dict(eps=0.0, reg_adv=1.0), dict(eps=0.3, reg_adv=0.0)):
        amr = advrec.AMR(**adv, **kw).fit(train, init=pretrained)
        for name, value in _arrays(vbpr).items():
            np.testing.assert_array_equal(getattr(amr, name), value, err_msg=name)
    amr = advrec.AMR(eps=0.3, **kw).fit(train, init=pretrained)
    assert not np.array_equal(amr.projection, vbpr.projection)
    assert amr.history_[-1]["phase"] == "amr" and amr.history_[-1]["adv_loss"] > 0


def test_init_leaves_the_pretrained_model_alone_and_continues_its_clock(data, pretrained):
    train, _ = data
    before = {k: v.copy() for k, v in _arrays(pretrained).items()}
    amr = advrec.AMR(eps=0.2, **KW).fit(train, init=pretrained)
    for name, value in before.items():
        np.testing.assert_array_equal(getattr(pretrained, name), value)
    assert amr._epochs_done == pretrained._epochs_done + KW["epochs"]


def test_structure_mismatch_is_explained(data):
    train, _ = data
    two_vectors = advrec.VBPR(**KW).fit(train)
    # an explicitly chosen structure that differs from init is an error (a default one adopts it)
    with pytest.raises(ValueError, match="shared_user"):
        advrec.AMR(**KW, item_bias=True).fit(train, init=two_vectors)
    with pytest.raises(TypeError, match="init"):
        advrec.AMR(**KW).fit(train, init=advrec.ItemPop().fit(train))
    with pytest.raises(ValueError, match="factors"):
        advrec.VBPR(**KW).fit(train, init=advrec.BPRMF(factors=4, epochs=1, show_progress=False).fit(train))


def test_vbpr_starts_from_mf_embeddings(data):
    train, _ = data
    mf = advrec.BPRMF(factors=8, epochs=3, num_threads=1, show_progress=False).fit(train)
    v = advrec.VBPR(**dict(KW, epochs=0)).fit(train, init=mf)
    np.testing.assert_array_equal(v.user_factors, mf.user_factors)
    warm = train.item_counts() > 0
    np.testing.assert_array_equal(v.item_factors[warm], mf.item_factors[warm])
    assert np.all(v.item_factors[~warm] == 0)
    assert v._epochs_done == 0


def test_duif_takes_mf_user_embeddings_and_a_fresh_projection(data):
    train, _ = data
    mf = advrec.BPRMF(factors=8, epochs=3, num_threads=1, show_progress=False).fit(train)
    duif = advrec.DUIF(**dict(KW, epochs=0)).fit(train, init=mf)
    np.testing.assert_array_equal(duif.user_visual_factors, mf.user_factors)
    scratch = advrec.DUIF(**dict(KW, epochs=0)).fit(train)
    np.testing.assert_array_equal(duif.projection, scratch.projection)  # same seed: the content part as from scratch
    assert duif._epochs_done == 0 and duif.user_factors is None and duif.item_factors is None
    trained = advrec.DUIF(**KW).fit(train, init=mf)
    assert not np.array_equal(trained.user_visual_factors, mf.user_factors)
    before = mf.user_factors.copy()
    advrec.DUIF(**KW).fit(train, init=mf)
    np.testing.assert_array_equal(mf.user_factors, before)  # init is copied, never trained in place
    with pytest.raises(ValueError, match="4 factors.*content-only model 8"):
        advrec.DUIF(**KW).fit(train, init=advrec.BPRMF(factors=4, epochs=1, show_progress=False).fit(train))


@pytest.mark.parametrize("norm", ["l2", "sign"])
def test_feature_perturbations_respect_the_budget(data, pretrained, norm):
    train, _ = data
    eps = 0.3
    for deltas in (attacks.fgsm_perturbation(pretrained, train, eps, norm=norm, target="features"),
                   attacks.random_perturbation(pretrained, eps, norm=norm, target="features", seed=1),
                   attacks.iterative_perturbation(pretrained, train, eps, step=0.2, steps=3, norm=norm)):
        assert set(deltas) == {"features"}
        delta = deltas["features"]
        assert delta.shape == train.item_features.shape
        if norm == "l2":
            assert np.all(np.linalg.norm(delta, axis=1) <= eps * (1 + 1e-5))
        else:
            assert np.all(np.abs(delta) <= eps * (1 + 1e-6))
    fgm = attacks.fgsm_perturbation(pretrained, train, eps, target="features")["features"]
    norms = np.linalg.norm(fgm, axis=1)
    in_train = train.item_counts() > 0
    np.testing.assert_allclose(norms[in_train], eps, rtol=1e-5)  # every trained item is a positive in D'
    assert np.all((norms == 0) | np.isclose(norms, eps, rtol=1e-5))


def test_feature_attack_hurts_more_than_noise_and_never_mutates(data, pretrained):
    train, _ = data
    d_prime = attacks.sample_triples(train, seed=1)
    F = pretrained.item_features.copy()
    loss = lambda m: m._loss_gradients(d_prime, {})[0]  # noqa: E731
    clean = loss(pretrained)
    adv = loss(attacks.fgsm(pretrained, train, eps=0.5, triples=d_prime))
    rnd = max(loss(attacks.random_noise(pretrained, eps=0.5, seed=s)) for s in range(3))
    assert adv - clean > 5 * (rnd - clean) and adv > clean
    np.testing.assert_array_equal(pretrained.item_features, F)


def test_loss_gradients_use_the_delta_and_match_finite_differences(data, pretrained):
    train, _ = data
    triples = attacks.sample_triples(train, seed=2)
    rng = np.random.default_rng(0)
    delta = (0.05 * rng.standard_normal(pretrained.item_features.shape)).astype(np.float32)
    loss, _, grads = pretrained._loss_gradients(triples, {"features": delta})
    moved = pretrained._perturbed_copy({"features": delta})
    loss_copy, _, grads_copy = moved._loss_gradients(triples, {})
    assert loss == pytest.approx(loss_copy, rel=1e-5)
    np.testing.assert_allclose(grads["features"], grads_copy["features"], rtol=1e-4, atol=1e-6)
    g = grads["features"]
    for item, col in [(int(triples[1][0]), 0), (int(triples[2][3]), 5)]:
        h = np.zeros_like(delta)
        h[item, col] = 1e-2
        up = pretrained._loss_gradients(triples, {"features": delta + h})[0]
        down = pretrained._loss_gradients(triples, {"features": delta - h})[0]
        assert (up - down) / 2e-2 == pytest.approx(g[item, col], rel=2e-2, abs=1e-4)


def _cold_split():
    d = advrec.datasets.synthetic(n_users=150, n_items=120, n_features=10, seed=9)
    train, test = advrec.split.leave_one_out(d, by="time")
    cold = np.arange(100, 120)
    keep = ~np.isin(train.items, cold)
    warm_train = advrec.Interactions.from_arrays(train.users[keep], train.items[keep], n_users=train.n_users,
                                                 dense_ids=True,
                                                 n_items=train.n_items)
    return warm_train, cold, d.item_features


@pytest.mark.parametrize("cls", [advrec.VBPR, advrec.AMR, advrec.DUIF])
def test_cold_items_are_scored_from_content_only(cls):
    train, cold, F = _cold_split()
    model = cls(**KW).fit(train, item_features=F)
    if model.item_factors is not None:
        assert np.all(model.item_factors[cold] == 0)
    if model.item_biases is not None:
        assert np.all(model.item_biases[cold] == 0)
    users = np.arange(10)
    C, cb = model.item_content_vectors()
    theta = model.user_factors if model.user_visual_factors is None else model.user_visual_factors
    expect = theta[users] @ C[cold].T + (cb[cold] if model.visual_biases is not None else 0)
    scores = model.score(users)[:, cold]
    np.testing.assert_allclose(scores, expect, rtol=1e-4, atol=1e-5)
    # Content drives them: changing a cold item's features changes its score, ...
    assert np.std(scores) > 0
    G = F.copy()
    G[cold[0]] = G[cold[1]]
    other = cls(**KW).fit(train, item_features=G)
    s = other.score(users)
    np.testing.assert_allclose(s[:, cold[0]], s[:, cold[1]], rtol=1e-5, atol=1e-6)


def test_content_only_model_scores_identical_content_identically(data):
    train, _ = data
    F = train.item_features.copy()
    F[3] = F[7]
    duif = advrec.DUIF(**KW).fit(train, item_features=F)
    s = duif.score(np.arange(20))
    np.testing.assert_allclose(s[:, 3], s[:, 7], rtol=1e-5, atol=1e-6)


def test_vbpr_beats_bprmf_when_content_carries_the_signal():
    d = advrec.datasets.synthetic(n_users=400, n_items=300, density=0.03, feature_noise=0.1, seed=2)
    train, test = advrec.split.leave_one_out(d, by="random", seed=0)
    kw = dict(factors=16, epochs=30, num_threads=1, seed=0, show_progress=False)
    ndcg = {}
    for name, m in (("BPRMF", advrec.BPRMF(**kw)), ("VBPR", advrec.VBPR(**kw)), ("content", advrec.ContentMF(**kw))):
        m.fit(train)
        ndcg[name] = advrec.evaluate(m, train, test, k=10, metrics=("ndcg",)).summary["ndcg@10"]
    assert ndcg["VBPR"] > 1.1 * ndcg["BPRMF"], ndcg
    assert ndcg["content"] > ndcg["BPRMF"], ndcg


def test_sparse_and_integer_features_are_accepted(data):
    train, _ = data
    rng = np.random.default_rng(1)
    multi_hot = (rng.random((train.n_items, 7)) < 0.3).astype(np.int64)
    dense = advrec.VBPR(**KW).fit(train, item_features=multi_hot)
    sparse = advrec.VBPR(**KW).fit(train, item_features=sp.csr_matrix(multi_hot))
    np.testing.assert_array_equal(dense.score([0, 1]), sparse.score([0, 1]))
    assert dense.item_features.dtype == np.float32


def test_feature_errors_name_the_argument(data):
    train, _ = data
    F = train.item_features
    bare = advrec.Interactions.from_arrays(train.users, train.items, n_users=train.n_users, n_items=train.n_items,
                                         dense_ids=True)
    m = advrec.VBPR(**KW)
    with pytest.raises(ValueError, match="item_features is required"):
        m.fit(bare)
    with pytest.raises(ValueError, match="rows"):
        m.fit(train, item_features=F[:-1])
    with pytest.raises(ValueError, match="2-d"):
        m.fit(train, item_features=F[:, 0])
    with pytest.raises(TypeError, match="numeric"):
        m.fit(train, item_features=F.astype(str))
    bad = F.copy()
    bad[4, 2] = np.nan
    with pytest.raises(ValueError, match="NaN.*row 4"):
        m.fit(train, item_features=bad)
    with pytest.raises(ValueError, match="no columns"):
        m.fit(train, item_features=np.zeros((train.n_items, 0), np.float32))
    with pytest.raises(ValueError, match="visual_factors"):
        advrec.VBPR(factors=8, visual_factors=4, shared_user=True, show_progress=False).fit(train)
    with pytest.raises(ValueError, match="eps"):
        advrec.AMR(eps=-1.0, show_progress=False).fit(train)


def test_save_load_round_trip_keeps_features_and_attacks(tmp_path, data, pretrained):
    train, _ = data
    amr = advrec.AMR(eps=0.2, **KW).fit(train, init=pretrained)
    path = tmp_path / "amr.npz"
    amr.save(path)
    again = advrec.load(path)
    assert type(again) is advrec.AMR and again.get_params() == amr.get_params()
    np.testing.assert_array_equal(again.score([0, 5]), amr.score([0, 5]))
    a = attacks.fgsm_perturbation(amr, train, 0.1, seed=3)["features"]
    b = attacks.fgsm_perturbation(again, train, 0.1, seed=3)["features"]
    np.testing.assert_array_equal(a, b)
    again.partial_fit(train, epochs=1)  # accumulators come back too


def test_robustness_table_for_feature_attacks(data, pretrained):
    train, test = data
    table = advrec.robustness({"VBPR": pretrained}, train, test, eps=(0.05, 0.2), attacks=("fgsm", "random"), k=10,
                              metrics=("ndcg",), show_progress=False)
    fgm = table[(table.attack == "fgsm")].set_index("eps")["drop"]
    assert fgm.loc[0.2] > fgm.loc[0.05]
    assert set(table.attack) == {"none", "fgsm", "random"}


def test_movielens_genres_light_path(dataset):
    folder = dataset("ml-latest-small")
    d = advrec.datasets.load_movielens(folder)
    F = advrec.datasets.movielens_item_features(folder, d, kind="genres")
    train, test = advrec.split.leave_one_out(d, by="time")
    model = advrec.VBPR(factors=8, epochs=2, num_threads=1, seed=0, show_progress=False).fit(train, item_features=F)
    assert model.item_features.shape == (d.n_items, F.shape[1])
    assert np.isfinite(model.score([0])).all()
    texts = advrec.features.movielens_texts(folder, d, max_tags=3)
    assert len(texts) == d.n_items and all(t for t in texts[:50])
    assert "Genres:" in texts[0]


def test_amr_from_a_default_vbpr_adopts_its_structure():
    data = advrec.datasets.synthetic(n_users=150, n_items=80, seed=4)
    train, test = advrec.split.leave_one_out(data, by="time")
    vbpr = advrec.VBPR(factors=8, epochs=2, num_threads=1, show_progress=False).fit(train)
    with pytest.warns(UserWarning, match="adopts the structure"):
        amr = advrec.AMR(factors=8, epochs=1, num_threads=1, show_progress=False).fit(train, init=vbpr)
    assert (amr.shared_user, amr.item_bias, amr.visual_bias) == (False, True, True)
    # eps = 0 continues the VBPR model exactly like one more VBPR epoch would
    same = advrec.AMR(factors=8, epochs=1, eps=0.0, num_threads=1, show_progress=False)
    with pytest.warns(UserWarning):
        same.fit(train, init=vbpr)
    more = advrec.VBPR(factors=8, epochs=1, num_threads=1, show_progress=False).fit(train, init=vbpr)
    np.testing.assert_array_equal(same.score(np.arange(5)), more.score(np.arange(5)))
