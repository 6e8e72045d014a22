"""CDAE: known answers against a NumPy reference of the paper's formulas, bad arguments, binding checks."""

import numpy as np
import pytest

import advrec
from advrec._engine import core


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _one_user_data(n_items=6, items=(0, 2, 3)):
    users = np.zeros(len(items), np.int64)
    return advrec.Interactions.from_arrays(users, np.array(items), n_users=1, n_items=n_items, dense_ids=True)


def test_one_sgd_step_matches_a_numpy_reference_of_the_paper_formulas():
    # One user, no corruption, no negatives: the epoch is exactly one deterministic step on the
    # output entries of the user's three items.
    train = _one_user_data()
    model = advrec.CDAE(factors=4, corruption=0.0, negatives=0, optimizer="sgd", lr=0.3, reg=0.01, epochs=0,
                        num_threads=1, seed=2, show_progress=False).fit(train)
    before = {k: v.copy() for k, v in model._arrays().items()}
    model.partial_fit(train, epochs=1)
    W, V, b, Wo, bo = (before[k].astype(np.float64) for k in ("item_in", "user_node", "hidden_bias", "item_out",
                                                             "out_bias"))
    items = [0, 2, 3]
    z = _sigmoid(W[items].sum(0) + V[0] + b)
    a = Wo[items] @ z + bo[items]
    d = _sigmoid(a) - 1.0                       # d(cross-entropy)/da at label 1
    pre = (d[:, None] * Wo[items]).sum(0) * z * (1 - z)
    lr, reg = 0.3, 0.01
    np.testing.assert_allclose(model.item_out[items], Wo[items] - lr * (d[:, None] * z + reg * Wo[items]), atol=1e-6)
    np.testing.assert_allclose(model.out_bias[items], bo[items] - lr * (d + reg * bo[items]), atol=1e-6)
    np.testing.assert_allclose(model.item_in[items], W[items] - lr * (pre + reg * W[items]), atol=1e-6)
    np.testing.assert_allclose(model.user_node[0], V[0] - lr * (pre + reg * V[0]), atol=1e-6)
    np.testing.assert_allclose(model.hidden_bias, b - lr * (pre + reg * b), atol=1e-6)
    untouched = [1, 4, 5]
    np.testing.assert_array_equal(model.item_out[untouched], before["item_out"][untouched])
    np.testing.assert_array_equal(model.item_in[untouched], before["item_in"][untouched])
    loss = np.mean(np.log1p(np.exp(-a)))
    assert model.history_[-1]["loss"] == pytest.approx(loss, rel=1e-5)


@pytest.mark.parametrize("hidden", ["sigmoid", "identity", "tanh", "relu"])
def test_scores_are_the_output_pre_activations_of_the_uncorrupted_input(hidden):
    data = advrec.datasets.synthetic(n_users=40, n_items=30, seed=1)
    model = advrec.CDAE(factors=5, hidden=hidden, epochs=2, num_threads=1, seed=0, show_progress=False).fit(data)
    indptr, indices = data.csr_arrays()
    act = {"sigmoid": _sigmoid, "identity": lambda x: x, "tanh": np.tanh, "relu": lambda x: np.maximum(x, 0)}[hidden]
    users = np.array([0, 7, 39])
    Z = np.stack([act(model.item_in[indices[indptr[u]:indptr[u + 1]]].sum(0) + model.user_node[u]
                      + model.hidden_bias) for u in users])
    np.testing.assert_allclose(model.encode(users), Z, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(model.score(users), Z @ model.item_out.T + model.out_bias, rtol=1e-4, atol=1e-5)


def test_negative_sampling_and_corruption_change_training():
    data = advrec.datasets.synthetic(n_users=50, n_items=40, seed=2)
    kw = dict(factors=4, epochs=2, num_threads=1, seed=0, show_progress=False)
    plain = advrec.CDAE(corruption=0.0, negatives=0, **kw).fit(data)
    neg = advrec.CDAE(corruption=0.0, negatives=3, **kw).fit(data)
    corrupt = advrec.CDAE(corruption=0.5, negatives=0, **kw).fit(data)
    assert not np.array_equal(plain.item_out, neg.item_out)
    assert not np.array_equal(plain.item_in, corrupt.item_in)
    # Without negatives every label is 1: the output biases only grow.
    assert np.all(plain.out_bias >= 0) and plain.out_bias.max() > 0


@pytest.mark.parametrize("kwargs, match", [
    (dict(corruption=1.0), "corruption"),
    (dict(corruption=-0.1), "corruption"),
    (dict(negatives=-1), "negatives"),
    (dict(hidden="softmax"), "hidden"),
    (dict(output="tanh"), "output"),
    (dict(loss="hinge"), "loss"),
    (dict(loss="logistic", output="identity"), "output='sigmoid'"),
    (dict(lr=0.0), "lr"),
    (dict(reg=-1.0), "reg"),
    (dict(factors=0), "factors"),
    (dict(optimizer="adam"), "optimizer"),
])
def test_bad_hyper_parameters_are_rejected(kwargs, match):
    data = advrec.datasets.synthetic(n_users=20, n_items=10, seed=0)
    with pytest.raises(ValueError, match=match):
        advrec.CDAE(epochs=1, show_progress=False, **kwargs).fit(data)


def test_engine_checks_values_and_bindings_check_arrays():
    cfg = core.CDAEConfig()
    cfg.corruption = 1.5
    with pytest.raises(ValueError, match="corruption"):
        cfg.validate()
    data = advrec.datasets.synthetic(n_users=20, n_items=10, seed=0)
    model = advrec.CDAE(factors=3, epochs=1, num_threads=1, show_progress=False).fit(data)
    arrays = model._arrays()
    indptr, indices = data.csr_arrays()
    bad = dict(arrays, item_out=arrays["item_out"].astype(np.float64))
    with pytest.raises(TypeError, match="item_out"):
        core.train_cdae(bad, indptr, indices, model._engine_config())
    bad = dict(arrays, out_bias=arrays["out_bias"][:-1].copy())
    with pytest.raises(ValueError, match="out_bias"):
        core.train_cdae(bad, indptr, indices, model._engine_config())
    bad = dict(arrays)
    del bad["item_in_accum"]
    with pytest.raises(ValueError, match="accumulator"):
        core.train_cdae(bad, indptr, indices, model._engine_config())


def test_divergence_raises_floating_point_error():
    data = advrec.datasets.synthetic(n_users=30, n_items=20, seed=0)
    model = advrec.CDAE(factors=4, hidden="identity", output="identity", loss="square", optimizer="sgd", lr=1e4,
                        epochs=20, num_threads=1, show_progress=False)
    with pytest.raises(FloatingPointError, match="lr"):
        model.fit(data)


def test_parameter_attacks_say_cdae_is_not_supported():
    data = advrec.datasets.synthetic(n_users=20, n_items=10, seed=0)
    model = advrec.CDAE(factors=3, epochs=1, num_threads=1, show_progress=False).fit(data)
    with pytest.raises(TypeError, match="CDAE"):
        advrec.attacks.fgsm(model, data, eps=0.5)
