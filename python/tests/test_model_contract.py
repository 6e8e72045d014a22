"""The contract every advrec model must honour (see advrec/models/base.py).

Add a model by adding a factory to MODELS: it receives the training data (with item features)
and returns an unfitted model plus the keyword arguments of its fit call.
"""

import numpy as np
import pytest

import advrec


def _mf(cls, **kw):
    def make(train):
        return cls(factors=16, epochs=15, lr=0.05, num_threads=1, seed=3, show_progress=False, **kw), {}
    return make


MODELS = {
    "ItemPop": lambda train: (advrec.ItemPop(), {}),
    "BPRMF": _mf(advrec.BPRMF),
    "BPRMF-bias-batch": _mf(advrec.BPRMF, use_bias=True, batch_size=64),
    "AMF": _mf(advrec.AMF, pretrain_epochs=10, eps=0.1),
    "SASRec": lambda train: (advrec.SASRec(factors=16, maxlen=20, epochs=20, lr=0.01, num_threads=1, seed=3,
                                           show_progress=False), {}),
    "ASASRec": lambda train: (advrec.ASASRec(factors=16, maxlen=20, epochs=2, pretrain_epochs=20, eps=0.2, lr=0.01,
                                             num_threads=1, seed=3, show_progress=False), {}),
    # content models read train.item_features (synthetic data carries them)
    "VBPR": _mf(advrec.VBPR, batch_size=32),
    "VBPR-per-triple": _mf(advrec.VBPR, batch_size=1),
    "AMR": _mf(advrec.AMR, pretrain_epochs=10, eps=0.1, batch_size=32),
    "ContentMF": _mf(advrec.ContentMF, batch_size=32),
    "CDAE": lambda train: (advrec.CDAE(factors=16, epochs=15, num_threads=1, seed=3, show_progress=False), {}),
    "CDAE-square-identity": lambda train: (advrec.CDAE(factors=16, epochs=15, hidden="identity", output="identity",
                                                       loss="square", lr=0.05, num_threads=1, seed=3,
                                                       show_progress=False), {}),
    "IRGAN": lambda train: (advrec.IRGAN(factors=16, epochs=5, pretrain_epochs=15, lr_g=0.2, lr_d=0.2,
                                         num_threads=1, seed=3, show_progress=False), {}),
    "CFGAN": lambda train: (advrec.CFGAN(num_threads=1, seed=3, show_progress=False), {}),  # the defaults
    "EALS": lambda train: (advrec.EALS(factors=16, epochs=8, c0=64.0, reg=1.0, num_threads=1, seed=3,
                                       show_progress=False), {}),
    "NeuMF": lambda train: (advrec.NeuMF(factors=8, lr=0.005, pretrain_epochs=20, epochs=5, reg=0.001,
                                         fused_optimizer="adam", num_threads=1, seed=3, show_progress=False), {}),
}

# Models that train and rank (checked: well above a random ranking) but do not yet reach the
# 1.3 x ItemPop bar on the planted fixture, with the reason. Each entry is a known gap, reported.
BELOW_ITEMPOP_BAR: dict = {}


@pytest.fixture(scope="module")
def planted():
    data = advrec.datasets.synthetic(n_users=300, n_items=200, seed=7)
    train, test = advrec.split.leave_one_out(data, by="time")
    return data, train, test


@pytest.fixture(scope="module", params=sorted(MODELS))
def fitted(request, planted):
    _, train, _ = planted
    model, fit_kw = MODELS[request.param](train)
    return request.param, model.fit(train, **fit_kw)


def test_fit_returns_self_and_sets_sizes(planted):
    _, train, _ = planted
    for name, factory in MODELS.items():
        model, kw = factory(train)
        assert model.fit(train, **kw) is model, name
        assert (model.n_users, model.n_items) == (train.n_users, train.n_items)


def test_score_shapes_and_dtypes(fitted, planted):
    name, model = fitted
    _, train, _ = planted
    s = model.score([0, 1, 2])
    assert s.shape == (3, train.n_items) and s.dtype == np.float32
    assert model.score(5).shape == (train.n_items,)
    pair = model.score([0, 1], [4, 9])
    np.testing.assert_allclose(pair, [s[0, 4], s[1, 9]], rtol=1e-5, atol=1e-6)
    cand = model.score([0, 1], np.array([[1, 2, 3], [4, 5, 6]]))
    np.testing.assert_allclose(cand, [s[0, [1, 2, 3]], s[1, [4, 5, 6]]], rtol=1e-5, atol=1e-6)


def test_recommend_excludes_seen_and_is_sorted(fitted, planted):
    name, model = fitted
    _, train, _ = planted
    indptr, indices = train.csr_arrays()
    users = np.arange(20)
    ids, scores = model.recommend(users, k=10)
    assert ids.shape == (20, 10) and ids.dtype == np.int32 and scores.dtype == np.float32
    for row, u in enumerate(users):
        seen = set(indices[indptr[u]:indptr[u + 1]].tolist())
        assert not seen & set(ids[row].tolist())
        assert np.all(np.diff(scores[row]) <= 0)
        full = model.score(u)
        np.testing.assert_allclose(scores[row], full[ids[row]], rtol=1e-5, atol=1e-6)
    one_ids, one_scores = model.recommend(3, k=5)
    assert one_ids.shape == (5,)
    with_seen, _ = model.recommend(users, k=10, exclude_seen=False)
    best = np.argsort(-model.score(users), axis=1, kind="stable")[:, 0]
    assert np.all(with_seen[:, 0] == best) or name == "ItemPop"  # ItemPop has ties


def test_recommend_bad_input(fitted, planted):
    _, model = fitted
    _, train, _ = planted
    with pytest.raises(ValueError, match="k must be positive"):
        model.recommend([0], k=0)
    with pytest.raises(ValueError, match="users"):
        model.recommend([train.n_users], k=3)
    with pytest.raises(ValueError, match="users"):
        model.recommend([-1], k=3)
    with pytest.raises(TypeError, match="users"):
        model.recommend([0.5], k=3)
    with pytest.raises(ValueError, match="items"):
        model.score([0], [train.n_items])


def test_save_load_round_trip(fitted, tmp_path):
    _, model = fitted
    path = tmp_path / "model.npz"
    model.save(path)
    again = advrec.load(path)
    assert type(again) is type(model)
    assert again.get_params() == model.get_params()
    np.testing.assert_array_equal(again.score([0, 1, 2]), model.score([0, 1, 2]))
    np.testing.assert_array_equal(again.recommend([0, 1], k=5)[0], model.recommend([0, 1], k=5)[0])
    if isinstance(model, advrec.models.EpochTrained):  # the epoch counter continues after loading
        assert again._epochs_done == model._epochs_done > 0


def test_load_rejects_corrupt_files(fitted, tmp_path):
    _, model = fitted
    path = tmp_path / "model.npz"
    model.save(path)
    raw = path.read_bytes()
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(ValueError, match="not a readable advrec model"):
        advrec.load(truncated)
    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(b"not a zip file at all")
    with pytest.raises(ValueError):
        advrec.load(garbage)
    other = tmp_path / "other.npz"
    np.savez(other, x=np.arange(3))
    with pytest.raises(ValueError, match="not an advrec model"):
        advrec.load(other)
    with pytest.raises(FileNotFoundError):
        advrec.load(tmp_path / "missing.npz")


def test_unfitted_model_raises(planted):
    _, train, _ = planted
    for name, factory in MODELS.items():
        model, _ = factory(train)
        with pytest.raises(advrec.NotFittedError):
            model.recommend([0], k=3)


def test_single_thread_runs_are_identical(planted):
    _, train, _ = planted
    for name, factory in MODELS.items():
        a, kw = factory(train)
        b, _ = factory(train)
        a.fit(train, **kw)
        b.fit(train, **kw)
        np.testing.assert_array_equal(a.score(np.arange(10)), b.score(np.arange(10)), err_msg=name)


def test_personalised_models_beat_itempop(planted):
    _, train, test = planted
    pop = advrec.ItemPop().fit(train)
    base = advrec.evaluate(pop, train, test, k=10, metrics=("ndcg",), show_progress=False).summary["ndcg@10"]
    for name, factory in MODELS.items():
        if name == "ItemPop":
            continue
        model, kw = factory(train)
        model.fit(train, **kw)
        score = advrec.evaluate(model, train, test, k=10, metrics=("ndcg",), show_progress=False).summary["ndcg@10"]
        bar = 0.5 if name in BELOW_ITEMPOP_BAR else 1.3
        assert score > bar * base, f"{name}: ndcg@10 {score:.4f} vs ItemPop {base:.4f}"


# ---- per-call num_threads=None means the model's own setting ------------------------------------
_THREADED = {"top_k", "evaluate_full", "evaluate_sampled", "sample_negatives", "sample_triples", "bpr_gradients",
             "vbpr_feature_gradients", "vbpr_item_content", "sasrec_loss_gradients", "fgm_normalise_rows",
             "project_rows", "neumf_score_block", "neumf_score_pairs", "evaluate_full_scores",
             "evaluate_sampled_scores"}


class _EngineSpy:
    """Stands in for the engine module and records the thread count of every threaded call (the
    ``num_threads`` keyword, else the last positional argument)."""

    def __init__(self, real, calls):
        self._real, self._calls = real, calls

    def __getattr__(self, name):
        attr = getattr(self._real, name)
        if name not in _THREADED:
            return attr

        def spy(*args, **kwargs):
            self._calls.append((name, int(kwargs["num_threads"] if "num_threads" in kwargs else args[-1])))
            return attr(*args, **kwargs)

        return spy


@pytest.fixture
def engine_calls(monkeypatch):
    import advrec._ranking
    import advrec.models.mf
    import advrec.models.neumf
    import advrec.models.sasrec
    import advrec.models.vbpr

    calls = []
    for module in (advrec._ranking, advrec.evaluation, advrec.attacks, advrec.models.mf, advrec.models.vbpr,
                   advrec.models.sasrec, advrec.models.neumf):
        monkeypatch.setattr(module, "core", _EngineSpy(module.core, calls))
    return calls


def test_per_call_num_threads_defaults_to_the_models_setting(fitted, planted, engine_calls):
    # Every model here has num_threads=1 (ItemPop has none: all cores). Before this rule,
    # SASRec(num_threads=1).recommend() ranked on all cores.
    name, model = fitted
    _, train, test = planted
    own = getattr(model, "num_threads", 0)
    model.recommend(np.arange(5), k=3)
    advrec.evaluate(model, train, test, k=5)
    advrec.evaluate(model, train, test, k=5, protocol=advrec.Sampled(n_negatives=20))
    if hasattr(model, "_perturbable"):
        advrec.attacks.fgsm(model, train, eps=0.1)
        advrec.attacks.iterative(model, train, eps=0.1, steps=1)
        advrec.attacks.random_noise(model, eps=0.1)
        advrec.robustness(model, train, test, eps=(0.1,), attacks=("fgsm",), k=5, show_progress=False)
    called = {n for n, _ in engine_calls}
    # Models that are not dot products (NeuMF) rank through their own scoring kernels.
    scored = hasattr(model, "_score_block")
    ranking = ("neumf_score_block", "evaluate_full_scores") if scored else ("top_k", "evaluate_full")
    sampled = "evaluate_sampled_scores" if scored else "evaluate_sampled"
    assert {*ranking, sampled} <= called
    assert [c for c in engine_calls if c[1] != own] == []
    engine_calls.clear()
    model.recommend(np.arange(5), k=3, num_threads=2)
    advrec.evaluate(model, train, test, k=5, num_threads=2)
    assert {nt for n, nt in engine_calls if n in ranking} == {2}


def test_num_threads_must_be_a_count(fitted, planted):
    name, model = fitted
    _, train, test = planted
    with pytest.raises(ValueError, match="num_threads"):
        model.recommend(0, k=3, num_threads=-1)
    with pytest.raises(TypeError, match="num_threads"):
        advrec.evaluate(model, train, test, k=5, num_threads=1.5)
