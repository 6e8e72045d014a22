"""SASRec and ASASRec (SAO): behaviour on planted sequential data, determinism, persistence,
attacks and input checking."""

import numpy as np
import pytest

pytestmark = pytest.mark.filterwarnings("ignore:merged .* duplicate")

import advrec

KW = dict(factors=16, maxlen=12, blocks=2, heads=2, dropout=0.1, lr=0.01, batch_size=32, num_threads=1, seed=3,
          show_progress=False)


def _planted(n_users=300, n_items=200, seed=0):
    """Sequences of planted pairs (a, succ[a]) with a drawn at random and succ a fixed permutation:
    a -> succ[a] is a learnable transition, succ[a] -> next a is noise. Leave-one-out holds out
    succ[a_k] after the last a_k, so only a model of the order can find it; the user's item set
    alone says nothing about which pair came last."""
    rng = np.random.default_rng(seed)
    succ = rng.permutation(n_items)
    users, items, times = [], [], []
    for u in range(n_users):
        seq = []
        for _ in range(int(rng.integers(3, 8))):
            a = int(rng.integers(n_items))
            seq += [a, int(succ[a])]
        users += [u] * len(seq)
        items += seq
        times += list(range(len(seq)))
    data = advrec.Interactions.from_arrays(np.array(users), np.array(items), timestamps=np.array(times),
                                           n_users=n_users, n_items=n_items, dense_ids=True)
    return advrec.split.leave_one_out(data, by="time")


@pytest.fixture(scope="module")
def planted():
    return _planted()


@pytest.fixture(scope="module")
def sas(planted):
    train, _ = planted
    return advrec.SASRec(epochs=30, **KW).fit(train)


def _ndcg(model, train, test):
    return advrec.evaluate(model, train, test, k=10, metrics=("hr", "ndcg")).summary


def test_sasrec_learns_planted_transitions_and_beats_bpr(planted, sas):
    train, test = planted
    s = _ndcg(sas, train, test)
    bpr = advrec.BPRMF(factors=16, epochs=30, num_threads=1, seed=3, show_progress=False).fit(train)
    b = _ndcg(bpr, train, test)
    # seeds 0-4 give HR@10 0.59-0.78 (chance is about 0.05)
    assert s["hr@10"] > 0.5, s
    assert s["ndcg@10"] > 3 * b["ndcg@10"], (s, b)
    assert sas.history_[-1]["loss"] < 0.8 * sas.history_[0]["loss"]
    assert [h["epoch"] for h in sas.history_] == list(range(1, 31))


def test_contract_shapes_recommend_and_scoring(planted, sas):
    train, _ = planted
    U, V = sas._scoring_factors(np.arange(5, dtype=np.int32))
    assert U.shape == (5, 16) and V.shape == (train.n_items, 16) and U.dtype == V.dtype == np.float32
    s = sas.score([0, 1, 2])
    assert s.shape == (3, train.n_items) and s.dtype == np.float32
    np.testing.assert_allclose(sas.score([0, 1], [4, 9]), [s[0, 4], s[1, 9]], rtol=1e-5, atol=1e-6)
    indptr, indices = train.csr_arrays()
    ids, scores = sas.recommend(np.arange(30), k=10)
    assert ids.shape == (30, 10) and ids.dtype == np.int32
    for u in range(30):
        assert not set(indices[indptr[u]:indptr[u + 1]].tolist()) & set(ids[u].tolist())
        assert np.all(np.diff(scores[u]) <= 0)
    np.testing.assert_array_equal(sas.user_vectors([0, 1]), U[:2])


def test_user_vector_uses_only_the_most_recent_maxlen_items():
    rng = np.random.default_rng(1)
    # user 0 and user 1 share their last 12 items; user 1 has 8 older, different items
    tail = rng.choice(np.arange(10, 40), size=12, replace=False)
    users = np.r_[np.zeros(12), np.ones(20), np.full(6, 2)].astype(int)
    items = np.r_[tail, np.arange(40, 48), tail, np.arange(6)]
    data = advrec.Interactions.from_arrays(users, items, n_users=3, n_items=48, dense_ids=True)
    m = advrec.SASRec(epochs=2, **KW).fit(data)
    U = m.user_vectors([0, 1, 2])
    np.testing.assert_array_equal(U[0], U[1])
    assert np.abs(U[0] - U[2]).max() > 1e-4


def test_single_thread_is_deterministic_and_sync_mode_is_reproducible(planted):
    train, _ = planted
    a = advrec.SASRec(epochs=3, **KW).fit(train)
    b = advrec.SASRec(epochs=3, **KW).fit(train)
    np.testing.assert_array_equal(a.item_emb, b.item_emb)
    np.testing.assert_array_equal(a.dense, b.dense)
    kw = dict(KW, num_threads=2, sync=True)
    c = advrec.SASRec(epochs=2, **kw).fit(train)
    d = advrec.SASRec(epochs=2, **kw).fit(train)
    np.testing.assert_array_equal(c.item_emb, d.item_emb)
    h = advrec.SASRec(epochs=2, **dict(KW, num_threads=2)).fit(train)  # Hogwild runs with 2 threads
    assert np.all(np.isfinite(h.item_emb))


@pytest.mark.parametrize("perturb", ["paper", "output"])
def test_zero_eps_asasrec_is_sasrec_exactly(planted, perturb):
    train, _ = planted
    base = advrec.SASRec(epochs=2, **KW).fit(train)
    plain = advrec.SASRec(epochs=2, **KW).fit(train, init=base)
    adv = advrec.ASASRec(eps=0.0, reg_adv=1.0, perturb=perturb, epochs=2, **KW).fit(train, init=base)
    np.testing.assert_array_equal(plain.item_emb, adv.item_emb)
    np.testing.assert_array_equal(plain.dense, adv.dense)
    # the pre-trained model is not modified, and the epoch counter continues
    again = advrec.SASRec(epochs=2, **KW).fit(train)
    np.testing.assert_array_equal(base.item_emb, again.item_emb)
    assert adv.history_[-1]["epoch"] == 4 and adv.history_[-1]["phase"] == "sao"


@pytest.mark.parametrize("perturb", ["paper", "output"])
def test_asasrec_trains_with_a_larger_adversarial_loss(planted, sas, perturb):
    train, test = planted
    # eps relative to the item-embedding norms (about 1 here); 0.5 would swamp this tiny model
    adv = advrec.ASASRec(eps=0.2, reg_adv=1.0, perturb=perturb, epochs=4, **KW).fit(train, init=sas)
    for h in adv.history_[-4:]:
        assert h["adv_loss"] > h["loss"]
    plain = advrec.SASRec(epochs=4, **KW).fit(train, init=sas)
    assert _ndcg(adv, train, test)["ndcg@10"] > 0.9 * _ndcg(plain, train, test)["ndcg@10"]


def test_save_load_round_trip(sas, tmp_path):
    path = tmp_path / "sas.npz"
    sas.save(path)
    again = advrec.load(path)
    assert type(again) is advrec.SASRec and again.get_params() == sas.get_params()
    np.testing.assert_array_equal(again.score([0, 1, 2]), sas.score([0, 1, 2]))
    np.testing.assert_array_equal(again.recommend([0, 1], k=5)[0], sas.recommend([0, 1], k=5)[0])


def test_attacks_work_on_sasrec_and_never_modify_it(planted, sas):
    train, test = planted
    before = sas.item_emb.copy()
    bad = advrec.attacks.fgsm(sas, train, eps=0.2)
    rnd = advrec.attacks.random_noise(sas, eps=0.2, seed=0)
    np.testing.assert_array_equal(sas.item_emb, before)
    delta = bad.item_emb - sas.item_emb
    assert np.allclose(np.linalg.norm(delta, axis=1)[np.abs(delta).sum(1) > 0], 0.2, atol=1e-4)
    triples = advrec.attacks.sample_triples(train, seed=0)
    clean, _, _ = sas._loss_gradients(triples, {})
    adv_loss, _, _ = sas._loss_gradients(triples, {"items": delta})
    rnd_loss, _, _ = sas._loss_gradients(triples, {"items": rnd.item_emb - sas.item_emb})
    assert adv_loss > rnd_loss and adv_loss > clean
    assert _ndcg(bad, train, test)["ndcg@10"] < _ndcg(rnd, train, test)["ndcg@10"]
    table = advrec.robustness({"SASRec": sas}, train, test, eps=(0.5,), attacks=("fgsm", "iterative"), k=10,
                              show_progress=False)
    assert set(table["attack"]) == {"none", "fgsm", "iterative"}


def test_loss_gradient_matches_finite_difference(planted, sas):
    train, _ = planted
    triples = advrec.attacks.sample_triples(train, seed=1)
    _, _, g = sas._loss_gradients(triples, {})
    r, c = np.unravel_index(np.argmax(np.abs(g["items"])), g["items"].shape)
    h = 1e-2
    dp = np.zeros_like(sas.item_emb)
    dp[r, c] = h
    up, _, _ = sas._loss_gradients(triples, {"items": dp})
    down, _, _ = sas._loss_gradients(triples, {"items": -dp})
    assert (up - down) / (2 * h) == pytest.approx(g["items"][r, c], rel=2e-2)


@pytest.mark.parametrize("kw, exc, match", [
    (dict(factors=10, heads=3), ValueError, "divisible"),
    (dict(dropout=1.0), ValueError, "dropout"),
    (dict(lr=0.0), ValueError, "lr"),
    (dict(maxlen=0), ValueError, "maxlen"),
    (dict(batch_size=2.5), TypeError, "batch_size"),
    (dict(sync="yes"), TypeError, "sync"),
])
def test_bad_hyper_parameters(planted, kw, exc, match):
    train, _ = planted
    with pytest.raises(exc, match=match):
        advrec.SASRec(**dict(KW, **kw)).fit(train)


def test_bad_input(planted, sas):
    train, _ = planted
    with pytest.raises(ValueError, match="perturb"):
        advrec.ASASRec(perturb="input", **KW).fit(train, init=sas)
    single = advrec.Interactions.from_arrays(np.arange(5), np.arange(5), n_users=5, n_items=8, dense_ids=True)
    with pytest.raises(ValueError, match="at least 2"):
        advrec.SASRec(**KW).fit(single)
    with pytest.raises(TypeError, match="Interactions"):
        advrec.SASRec(**KW).fit(np.zeros((3, 2)))
    with pytest.raises(ValueError, match="maxlen"):
        advrec.ASASRec(**dict(KW, maxlen=20)).fit(train, init=sas)
    with pytest.raises(TypeError, match="init"):
        advrec.ASASRec(**KW).fit(train, init=advrec.ItemPop().fit(train))
    with pytest.raises(ValueError, match="users"):
        sas.recommend([train.n_users], k=3)
    with pytest.raises(ValueError, match="item_emb"):
        from advrec._engine import core
        core.sasrec_encode({"item_emb": np.zeros((3, 4), np.float32), "dense": sas.dense}, sas._seq_indptr,
                           sas._seq_items,
                           np.array([0], np.int32), sas._config())
    with pytest.raises(advrec.NotFittedError):
        advrec.SASRec(**KW).recommend([0])


def test_asasrec_takes_the_architecture_of_its_init_model():
    data = advrec.datasets.synthetic(n_users=120, n_items=60, seed=2)
    train, _ = advrec.split.leave_one_out(data, by="time")
    sas = advrec.SASRec(factors=8, maxlen=12, blocks=1, heads=2, epochs=1, num_threads=1,
                        show_progress=False).fit(train)
    asas = advrec.ASASRec(eps=0.1, epochs=1, num_threads=1, show_progress=False).fit(train, init=sas)
    assert (asas.factors, asas.maxlen, asas.blocks, asas.heads) == (8, 12, 1, 2)
    with pytest.raises(ValueError, match="maxlen"):
        advrec.ASASRec(factors=8, maxlen=20, blocks=1, heads=2, epochs=1, show_progress=False).fit(train, init=sas)
