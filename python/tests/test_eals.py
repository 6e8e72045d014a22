"""MF-eALS: the engine's iteration against a NumPy transcription of the paper's updates."""

import numpy as np
import pytest

import advrec
from advrec._engine import core


def _fixture(n_users=7, n_items=9, d=3, seed=0, density=0.35):
    rng = np.random.default_rng(seed)
    R = (rng.random((n_users, n_items)) < density)
    R[0, :] = False  # a user with no interactions
    R[:, 1] = False  # an item with no interactions (its c_i is 0 for alpha > 0)
    R[2, 3] = True
    P = (rng.standard_normal((n_users, d)) * 0.5).astype(np.float32)
    Q = (rng.standard_normal((n_items, d)) * 0.5).astype(np.float32)
    return R, P, Q


def _csr(R):
    indptr = np.concatenate([[0], np.cumsum(R.sum(1))]).astype(np.int64)
    indices = np.nonzero(R)[1].astype(np.int32)
    return indptr, indices


def _weights(R, c0, alpha):
    f = R.sum(0).astype(np.float64)
    fa = f ** alpha  # 0 ** alpha is 0 (alpha > 0) or 1 (alpha == 0)
    return c0 * fa / fa.sum()


def _objective(R, P, Q, c, w, reg):
    """The eALS loss written over every (u, i) entry, without the Gram-matrix shortcut."""
    Y = P.astype(np.float64) @ Q.astype(np.float64).T
    W = np.where(R, w, c[None, :])
    target = R.astype(np.float64)
    return float((W * (target - Y) ** 2).sum() + reg * ((P.astype(np.float64) ** 2).sum() + (Q.astype(np.float64) ** 2).sum()))


def _reference_iteration(R, P, Q, c, w, reg):
    """One eALS iteration in float64: users then items, coordinates in order, each set to the exact
    minimiser of the full objective in that coordinate (He et al. 2016, eq. 12 and its item form)."""
    P = P.astype(np.float64).copy()
    Q = Q.astype(np.float64).copy()
    n_users, n_items = R.shape
    d = P.shape[1]
    Sq = (Q * c[:, None]).T @ Q
    for u in range(n_users):
        items = np.flatnonzero(R[u])
        for f in range(d):
            yhat_f = Q[items] @ P[u] - P[u, f] * Q[items, f]
            num = ((w - (w - c[items]) * yhat_f) * Q[items, f]).sum() - (P[u] @ Sq[:, f] - P[u, f] * Sq[f, f])
            den = ((w - c[items]) * Q[items, f] ** 2).sum() + Sq[f, f] + reg
            P[u, f] = num / den
    Sp = P.T @ P
    for i in range(n_items):
        users = np.flatnonzero(R[:, i])
        for f in range(d):
            yhat_f = P[users] @ Q[i] - Q[i, f] * P[users, f]
            num = ((w - (w - c[i]) * yhat_f) * P[users, f]).sum() - c[i] * (Q[i] @ Sp[:, f] - Q[i, f] * Sp[f, f])
            den = ((w - c[i]) * P[users, f] ** 2).sum() + c[i] * Sp[f, f] + reg
            Q[i, f] = num / den
    return P, Q


def _config(c0, alpha, w, reg, threads=1):
    cfg = core.EALSConfig()
    cfg.c0, cfg.alpha, cfg.weight, cfg.reg, cfg.num_threads = c0, alpha, w, reg, threads
    return cfg


@pytest.mark.parametrize("c0,alpha,w,reg", [(4.0, 0.5, 1.0, 0.1), (2.0, 0.0, 3.0, 0.0), (10.0, 1.0, 1.0, 0.5)])
def test_one_iteration_matches_numpy_reference(c0, alpha, w, reg):
    R, P, Q = _fixture()
    indptr, indices = _csr(R)
    c = _weights(R, c0, alpha)
    P_ref, Q_ref = _reference_iteration(R, P, Q, c, w, reg)
    arrays = {"user_factors": P.copy(), "item_factors": Q.copy()}
    stats = core.train_eals(arrays, indptr, indices, _config(c0, alpha, w, reg))
    np.testing.assert_allclose(arrays["user_factors"], P_ref, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(arrays["item_factors"], Q_ref, rtol=1e-4, atol=1e-5)
    # The reported loss is the full objective at the new parameters.
    assert stats["loss"] == pytest.approx(_objective(R, arrays["user_factors"], arrays["item_factors"], c, w, reg),
                                          rel=1e-5)
    assert stats["nnz"] == R.sum()


@pytest.mark.parametrize("d", [11, 12, 17])
def test_one_iteration_matches_numpy_reference_on_long_rows(d):
    # The engine works on eight partners and eight coordinates at a time, with zero padding and
    # with each coordinate's sums corrected for the previous coordinate's change: rows of 3 to 40
    # partners (several blocks and every padding length) and d not a multiple of 8 (d = 12 takes
    # the 4 x 4 transposition path, 11 and 17 the scalar one) all give the reference iteration.
    R, P, Q = _fixture(n_users=14, n_items=45, d=d, seed=3, density=0.55)
    R[5, :] = True  # one user with every item: 45 partners
    R[6, :] = False
    R[6, :3] = True
    indptr, indices = _csr(R)
    c0, alpha, w, reg = 6.0, 0.4, 1.5, 0.2
    c = _weights(R, c0, alpha)
    P_ref, Q_ref = _reference_iteration(R, P, Q, c, w, reg)
    arrays = {"user_factors": P.copy(), "item_factors": Q.copy()}
    core.train_eals(arrays, indptr, indices, _config(c0, alpha, w, reg))
    np.testing.assert_allclose(arrays["user_factors"], P_ref, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(arrays["item_factors"], Q_ref, rtol=1e-4, atol=1e-5)


def test_the_objective_never_increases():
    # Every coordinate step is an exact minimisation, so the objective is monotone.
    R, P, Q = _fixture(n_users=30, n_items=25, d=5, seed=2)
    indptr, indices = _csr(R)
    arrays = {"user_factors": P, "item_factors": Q}
    cfg = _config(8.0, 0.4, 1.0, 0.05)
    losses = [core.eals_loss(arrays, indptr, indices, cfg)]
    for _ in range(6):
        losses.append(core.train_eals(arrays, indptr, indices, cfg)["loss"])
    assert all(b <= a * (1 + 1e-6) for a, b in zip(losses, losses[1:])), losses
    assert losses[-1] < 0.8 * losses[0]


def test_result_does_not_depend_on_the_thread_count():
    data = advrec.datasets.synthetic(n_users=300, n_items=200, seed=1)
    a = advrec.EALS(factors=8, epochs=3, num_threads=1, show_progress=False).fit(data)
    b = advrec.EALS(factors=8, epochs=3, num_threads=3, show_progress=False).fit(data)
    np.testing.assert_array_equal(a.user_factors, b.user_factors)
    np.testing.assert_array_equal(a.item_factors, b.item_factors)


def test_model_history_loss_and_training_loss_agree():
    data = advrec.datasets.synthetic(n_users=100, n_items=80, seed=4)
    m = advrec.EALS(factors=4, epochs=2, c0=20.0, num_threads=1, show_progress=False).fit(data)
    assert len(m.history_) == 2 and m.history_[1]["loss"] <= m.history_[0]["loss"]
    assert m.training_loss(data) == pytest.approx(m.history_[-1]["loss"], rel=1e-9)
    assert advrec.MFeALS is advrec.EALS


def test_fit_with_init_continues():
    data = advrec.datasets.synthetic(n_users=100, n_items=80, seed=4)
    one = advrec.EALS(factors=4, epochs=3, num_threads=1, show_progress=False).fit(data)
    two = advrec.EALS(factors=4, epochs=1, num_threads=1, show_progress=False).fit(data, epochs=2)
    two = advrec.EALS(factors=4, epochs=1, num_threads=1, show_progress=False).fit(data, init=two)
    np.testing.assert_array_equal(one.item_factors, two.item_factors)
    assert two._epochs_done == 3


@pytest.mark.parametrize("kwargs,match", [
    ({"factors": 0}, "factors"), ({"reg": -1.0}, "reg"), ({"c0": float("nan")}, "c0"), ({"alpha": -0.1}, "alpha"),
    ({"weight": 0.0}, "weight"), ({"epochs": -1}, "epochs"), ({"num_threads": -2}, "num_threads"),
])
def test_bad_hyper_parameters_are_rejected(kwargs, match):
    data = advrec.datasets.synthetic(n_users=30, n_items=20, seed=0)
    with pytest.raises(ValueError, match=match):
        advrec.EALS(show_progress=False, **kwargs).fit(data)
    with pytest.raises(TypeError, match="compute_loss"):
        advrec.EALS(compute_loss="yes", show_progress=False).fit(data)


@pytest.mark.parametrize("field,value", [("reg", -1.0), ("weight", 0.0), ("c0", float("inf")), ("alpha", -1.0),
                                         ("num_threads", -1)])
def test_engine_rejects_bad_config_naming_the_field(field, value):
    R, P, Q = _fixture()
    indptr, indices = _csr(R)
    cfg = core.EALSConfig()
    setattr(cfg, field, value)
    with pytest.raises(ValueError, match=field):
        core.train_eals({"user_factors": P, "item_factors": Q}, indptr, indices, cfg)


def test_bindings_check_arrays():
    R, P, Q = _fixture()
    indptr, indices = _csr(R)
    cfg = core.EALSConfig()
    with pytest.raises(TypeError, match="user_factors"):
        core.train_eals({"user_factors": P.astype(np.float64), "item_factors": Q}, indptr, indices, cfg)
    with pytest.raises(ValueError, match="item_factors"):
        core.train_eals({"user_factors": P}, indptr, indices, cfg)
    with pytest.raises(ValueError, match="same number of columns"):
        core.train_eals({"user_factors": P, "item_factors": Q[:, :2].copy()}, indptr, indices, cfg)
    frozen = Q.copy()
    frozen.flags.writeable = False
    with pytest.raises(ValueError, match="writeable"):
        core.train_eals({"user_factors": P, "item_factors": frozen}, indptr, indices, cfg)
    bad = indices.copy()
    bad[0] = R.shape[1] + 5
    with pytest.raises(ValueError, match="outside"):
        core.train_eals({"user_factors": P, "item_factors": Q}, indptr, bad, cfg)


def test_attacks_apply_to_eals():
    data = advrec.datasets.synthetic(n_users=100, n_items=80, seed=4)
    m = advrec.EALS(factors=8, epochs=3, num_threads=1, show_progress=False).fit(data)
    attacked = advrec.attacks.fgsm(m, data, eps=0.5)
    attacked = attacked[0] if isinstance(attacked, tuple) else attacked
    assert isinstance(attacked, advrec.EALS)
    assert not np.array_equal(attacked.item_factors, m.item_factors)
    delta = attacked.item_factors - m.item_factors
    np.testing.assert_allclose(np.linalg.norm(delta, axis=1)[np.linalg.norm(delta, axis=1) > 0], 0.5, rtol=1e-4)
