"""CFGAN: the generator's forward pass against NumPy, the flat layout, masking variants, bad arguments."""

import numpy as np
import pytest

import advrec
from advrec._engine import core


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


@pytest.mark.parametrize("g_layers, activation", [(1, "sigmoid"), (3, "sigmoid"), (2, "tanh")])
def test_scores_are_the_generator_output_pre_activations_computed_by_numpy(g_layers, activation):
    data = advrec.datasets.synthetic(n_users=40, n_items=30, seed=1)
    model = advrec.CFGAN(hidden=5, g_layers=g_layers, d_layers=2, epochs=2, activation=activation, num_threads=1,
                         seed=0, show_progress=False).fit(data)
    act = _sigmoid if activation == "sigmoid" else np.tanh
    H, n = 5, data.n_items
    off = model._shape().offsets()
    G = model.generator.astype(np.float64)
    W_in = G[off["g_in"]:off["g_in"] + n * H].reshape(n, H)
    b_in = G[off["g_in_bias"]:off["g_in_bias"] + H]
    Wh = G[off["g_hidden"]:off["g_hidden"] + (g_layers - 1) * H * H].reshape(g_layers - 1, H, H)
    bh = G[off["g_hidden_bias"]:off["g_hidden_bias"] + (g_layers - 1) * H].reshape(g_layers - 1, H)
    W_out, b_out = (x.astype(np.float64) for x in model.output_layer())
    indptr, indices = data.csr_arrays()
    users = np.array([0, 5, 39])
    hs = []
    for u in users:
        h = act(W_in[indices[indptr[u]:indptr[u + 1]]].sum(0) + b_in)
        for layer in range(g_layers - 1):
            h = act(h @ Wh[layer] + bh[layer])
        hs.append(h)
    hs = np.array(hs)
    np.testing.assert_allclose(model.encode(users), hs, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(model.score(users), hs @ W_out.T + b_out, rtol=1e-4, atol=1e-5)
    shape = model._shape()
    assert shape.g_size == n * H * 2 + H + (g_layers - 1) * (H * H + H) + n
    assert shape.d_size == 2 * n * H + H + (2 - 1) * (H * H + H) + H + 1


@pytest.mark.parametrize("s_zr, s_pm", [(0.0, 0.0), (0.5, 0.0), (0.0, 0.5), (1.0, 1.0)])
def test_every_masking_variant_trains(s_zr, s_pm):
    data = advrec.datasets.synthetic(n_users=40, n_items=30, seed=2)
    model = advrec.CFGAN(hidden=4, s_zr=s_zr, s_pm=s_pm, epochs=2, num_threads=1, seed=0,
                         show_progress=False).fit(data)
    assert len(model.history_) == 2 and 0.0 <= model.history_[-1]["d_accuracy"] <= 1.0
    assert np.all(np.isfinite(model.generator))


def test_only_the_player_of_a_pass_moves():
    data = advrec.datasets.synthetic(n_users=30, n_items=20, seed=3)
    model = advrec.CFGAN(hidden=4, epochs=0, num_threads=1, show_progress=False).fit(data)
    g, d = model.generator.copy(), model.discriminator.copy()
    cfg = model._engine_config()
    core.train_cfgan(model._shape(), model._arrays(), *data.csr_arrays(), cfg, core.CFGANPlayer.discriminator)
    np.testing.assert_array_equal(model.generator, g)
    assert not np.array_equal(model.discriminator, d)
    d = model.discriminator.copy()
    core.train_cfgan(model._shape(), model._arrays(), *data.csr_arrays(), cfg, core.CFGANPlayer.generator)
    np.testing.assert_array_equal(model.discriminator, d)
    assert not np.array_equal(model.generator, g)


@pytest.mark.parametrize("kwargs, match", [
    (dict(hidden=0), "hidden"), (dict(g_layers=0), "g_layers"), (dict(d_layers=0), "d_layers"),
    (dict(s_zr=1.5), "s_zr"), (dict(s_pm=-0.1), "s_pm"), (dict(alpha=-1.0), "alpha"), (dict(lr=0.0), "lr"),
    (dict(activation="softmax"), "activation"), (dict(optimizer="adam"), "optimizer"),
    (dict(g_loss="wasserstein"), "g_loss"),
])
def test_bad_hyper_parameters_are_rejected(kwargs, match):
    data = advrec.datasets.synthetic(n_users=20, n_items=10, seed=0)
    with pytest.raises(ValueError, match=match):
        advrec.CFGAN(epochs=1, show_progress=False, **kwargs).fit(data)


def test_engine_and_bindings_reject_bad_input():
    cfg = core.CFGANConfig()
    cfg.s_pm = 2.0
    with pytest.raises(ValueError, match="s_pm"):
        cfg.validate()
    with pytest.raises(ValueError, match="hidden"):
        core.CFGANShape(10, 0, 1, 1)
    data = advrec.datasets.synthetic(n_users=20, n_items=10, seed=0)
    model = advrec.CFGAN(hidden=3, epochs=0, show_progress=False).fit(data)
    arrays = dict(model._arrays(), generator=model.generator[:-1].copy())
    with pytest.raises(ValueError, match="generator"):
        core.train_cfgan(model._shape(), arrays, *data.csr_arrays(), model._engine_config(),
                         core.CFGANPlayer.generator)
    arrays = dict(model._arrays(), discriminator=model.discriminator.astype(np.float64))
    with pytest.raises(TypeError, match="discriminator"):
        core.train_cfgan(model._shape(), arrays, *data.csr_arrays(), model._engine_config(),
                         core.CFGANPlayer.discriminator)


def test_divergence_raises_floating_point_error():
    data = advrec.datasets.synthetic(n_users=30, n_items=20, seed=0)
    model = advrec.CFGAN(hidden=4, activation="identity", optimizer="sgd", lr=1e6, init_std=1.0, epochs=10,
                         num_threads=1, show_progress=False)
    with pytest.raises(FloatingPointError, match="lr"):
        model.fit(data)
