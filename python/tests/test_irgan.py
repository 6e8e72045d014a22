"""IRGAN: known answers for the discriminator step, pre-training, attacks, bad arguments."""

import numpy as np
import pytest

import advrec
from advrec._engine import core


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _one_user(n_items=6, items=(0, 2)):
    return advrec.Interactions.from_arrays(np.zeros(len(items), np.int64), np.array(items), n_users=1,
                                           n_items=n_items, dense_ids=True)


def test_discriminator_step_matches_numpy_when_the_generator_is_deterministic():
    # A generator whose policy is (numerically) one-hot on item 4 generates item 4 for every true
    # item, so one discriminator pass is a known SGD step on entries (0:1, 2:1, 4:0, 4:0).
    train = _one_user()
    model = advrec.IRGAN(factors=3, pretrain_epochs=0, epochs=0, lr_d=0.3, reg=0.0, num_threads=1, seed=1,
                         show_progress=False).fit(train)
    model.g_bias[:] = -1e4
    model.g_bias[4] = 1e4
    du, D, db = (model.d_users[0].astype(np.float64), model.d_items.astype(np.float64),
                 model.d_bias.astype(np.float64))
    stats = core.train_irgan_discriminator(model._arrays(), *train.csr_arrays(), model._engine_config())
    items, labels = [0, 2, 4, 4], [1.0, 1.0, 0.0, 0.0]
    f = np.array([du @ D[i] + db[i] for i in items])
    g = _sigmoid(f) - labels
    D_want, b_want = D.copy(), db.copy()
    for e, i in enumerate(items):
        D_want[i] -= 0.3 * g[e] * du
        b_want[i] -= 0.3 * g[e]
    np.testing.assert_allclose(model.d_items, D_want, atol=1e-6)
    np.testing.assert_allclose(model.d_bias, b_want, atol=1e-6)
    np.testing.assert_allclose(model.d_users[0], du - 0.3 * (g[:, None] * D[items]).sum(0), atol=1e-6)
    assert stats["samples"] == 4
    assert stats["loss"] == pytest.approx(np.mean(np.log1p(np.exp(f)) - np.array(labels) * f), rel=1e-5)


def test_generator_pass_only_moves_the_generator_and_raises_its_hit_rate():
    data = advrec.datasets.synthetic(n_users=120, n_items=60, seed=4)
    model = advrec.IRGAN(factors=8, pretrain_epochs=10, epochs=0, lr_g=0.2, lr_d=0.2, num_threads=1, seed=0,
                         show_progress=False).fit(data)
    d_before = model.d_items.copy()
    g_before = model.g_items.copy()
    model.partial_fit(data, epochs=8)
    hits = [h["g_hit_rate"] for h in model.history_]
    assert hits[-1] > hits[0]
    assert not np.array_equal(model.g_items, g_before) and not np.array_equal(model.d_items, d_before)
    cfg = model._engine_config()
    d_now = model.d_items.copy()
    core.train_irgan_generator(model._arrays(), *data.csr_arrays(), cfg)
    np.testing.assert_array_equal(model.d_items, d_now)


def test_init_from_bprmf_copies_it_into_both_players():
    data = advrec.datasets.synthetic(n_users=50, n_items=30, seed=1)
    bpr = advrec.BPRMF(factors=4, epochs=3, use_bias=True, num_threads=1, show_progress=False).fit(data)
    model = advrec.IRGAN(factors=4, epochs=0, show_progress=False).fit(data, init=bpr)
    for p in ("g", "d"):
        np.testing.assert_array_equal(getattr(model, f"{p}_users"), bpr.user_factors)
        np.testing.assert_array_equal(getattr(model, f"{p}_items"), bpr.item_factors)
        np.testing.assert_array_equal(getattr(model, f"{p}_bias"), bpr.item_bias)
    np.testing.assert_allclose(model.score([0, 1]), bpr.score([0, 1]), rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="factors"):
        advrec.IRGAN(factors=5, epochs=0, show_progress=False).fit(data, init=bpr)
    with pytest.raises(TypeError, match="BPRMF"):
        advrec.IRGAN(factors=4, epochs=0, show_progress=False).fit(data, init=advrec.ItemPop().fit(data))


def test_predict_with_selects_the_player_and_attacks_perturb_it():
    data = advrec.datasets.synthetic(n_users=60, n_items=40, seed=2)
    model = advrec.IRGAN(factors=4, epochs=2, pretrain_epochs=3, num_threads=1, show_progress=False,
                         predict_with="discriminator").fit(data)
    np.testing.assert_allclose(model.score([3]), model.d_users[[3]] @ model.d_items.T + model.d_bias,
                               rtol=1e-5, atol=1e-6)
    bad = advrec.attacks.fgsm(model, data, eps=0.5)
    assert not np.array_equal(bad.d_items, model.d_items)
    np.testing.assert_array_equal(bad.g_items, model.g_items)
    assert not np.array_equal(bad.score([0, 1]), model.score([0, 1]))


@pytest.mark.parametrize("kwargs, match", [
    (dict(lr_g=0.0), "lr_g"), (dict(lr_d=-1.0), "lr_d"), (dict(temperature=0.0), "temperature"),
    (dict(sample_lambda=1.0), "sample_lambda"), (dict(g_samples=0), "g_samples"), (dict(reward="log"), "reward"),
    (dict(predict_with="both"), "predict_with"), (dict(batch_size=0), "batch_size"), (dict(reg=-1.0), "reg"),
])
def test_bad_hyper_parameters_are_rejected(kwargs, match):
    data = advrec.datasets.synthetic(n_users=20, n_items=10, seed=0)
    with pytest.raises(ValueError, match=match):
        advrec.IRGAN(epochs=1, show_progress=False, **kwargs).fit(data)


def test_engine_rejects_bad_config_and_bindings_bad_arrays():
    cfg = core.IRGANConfig()
    cfg.temperature = -1.0
    with pytest.raises(ValueError, match="temperature"):
        cfg.validate()
    data = advrec.datasets.synthetic(n_users=20, n_items=10, seed=0)
    model = advrec.IRGAN(factors=3, epochs=0, pretrain_epochs=0, show_progress=False).fit(data)
    arrays = dict(model._arrays(), g_items=model.g_items.astype(np.float64))
    with pytest.raises(TypeError, match="g_items"):
        core.train_irgan_generator(arrays, *data.csr_arrays(), model._engine_config())
    arrays = dict(model._arrays(), d_bias=np.zeros(3, np.float32))
    with pytest.raises(ValueError, match="d_bias"):
        core.train_irgan_discriminator(arrays, *data.csr_arrays(), model._engine_config())


def test_divergence_raises_floating_point_error():
    data = advrec.datasets.synthetic(n_users=30, n_items=20, seed=0)
    model = advrec.IRGAN(factors=4, pretrain_epochs=0, init_std=1.0, lr_d=1e8, lr_g=1e8, epochs=5, num_threads=1,
                         show_progress=False)
    with pytest.raises(FloatingPointError, match="lr"):
        model.fit(data)
