"""AMR (Tang et al., TKDE 2019) against its paper: lambda = 0 is VBPR in the eq. 4 form, and the
training-time feature adversary (eq. 11-12) points where the BPR loss rises, unlike random noise.

Two widely used implementations got exactly these wrong (a flipped adversary sign; AMR with
lambda = 0 not reducing to VBPR), so they are pinned here through the public training path.
"""

import numpy as np
import pytest

import advrec
from advrec import attacks

EQ4 = dict(shared_user=True, item_bias=False, visual_bias=False)
KW = dict(factors=8, num_threads=1, seed=3, show_progress=False)


@pytest.fixture(scope="module")
def train():
    d = advrec.datasets.synthetic(n_users=200, n_items=150, density=0.05, n_features=12, seed=8)
    return advrec.split.leave_one_out(d, by="time")[0]


@pytest.fixture(scope="module")
def pretrained(train):
    return advrec.VBPR(epochs=8, batch_size=32, **EQ4, **KW).fit(train)


@pytest.mark.parametrize("batch_size", [1, 32])
def test_amr_with_lambda_zero_is_eq4_vbpr_bit_for_bit_in_one_fit(train, batch_size):
    # AMR's own pre-training plus adversarial phase, lambda = 0, against VBPR (eq. 4) for as many
    # epochs: the same per-epoch RNG streams, so every array must match exactly on one thread.
    vbpr = advrec.VBPR(epochs=6, batch_size=batch_size, **EQ4, **KW).fit(train)
    amr = advrec.AMR(eps=0.5, reg_adv=0.0, pretrain_epochs=3, epochs=3, batch_size=batch_size, **KW).fit(train)
    assert [h["phase"] for h in amr.history_] == ["bpr"] * 3 + ["amr"] * 3
    for name, value in vbpr._state_arrays().items():
        np.testing.assert_array_equal(getattr(amr, name), value, err_msg=name)
    assert [h["loss"] for h in amr.history_] == [h["loss"] for h in vbpr.history_]


@pytest.mark.parametrize("batch_size", [1, 32])
def test_training_adversary_raises_the_loss_more_than_random_noise_of_equal_norm(train, pretrained, batch_size):
    eps = 0.5
    # A learning rate of ~0 makes the epoch a pure measurement: the engine reports, per triple, the
    # BPR loss at the current parameters and at the features moved by its own Delta (eq. 11-12).
    probe = advrec.AMR(eps=eps, reg_adv=1.0, epochs=1, lr=1e-12, optimizer="sgd", batch_size=batch_size, **KW)
    h = probe.fit(train, init=pretrained).history_[-1]
    adversarial_rise = h["adv_loss"] - h["loss"]
    # Random directions with the same per-item L2 norm, on an epoch's worth of triples.
    triples = attacks.sample_triples(train, seed=4)
    n = len(triples[0])
    clean = pretrained._loss_gradients(triples, {})[0] / n
    random_rise = max(
        pretrained._loss_gradients(triples, attacks.random_perturbation(pretrained, eps, target="features", seed=s))[0]
        / n - clean for s in range(3))
    assert adversarial_rise > 0  # a flipped sign would lower the loss
    assert adversarial_rise > 5 * max(random_rise, 0.0) + 1e-3


def test_the_adversary_moves_positive_and_negative_features_apart_along_the_gradient(train, pretrained):
    # Eq. 11-12 for one triple: Delta_i = eps Gamma_i/|Gamma_i| with Gamma = d l' / d Delta, so
    # Delta_i points against d y_ui / d c_i and Delta_j along d y_uj / d c_j (= the same vector
    # E^T p_u in eq. 4): the perturbed score gap is the clean gap - 2 eps |E^T p_u|.
    u, i, j = 0, int(train.items[train.users == 0][0]), None
    seen = set(train.items[train.users == 0].tolist())
    j = next(k for k in range(train.n_items) if k not in seen)
    users, pos, neg = (np.array([u], np.int32), np.array([i], np.int32), np.array([j], np.int32))
    eps = 0.2
    fgm = attacks.fgsm_perturbation(pretrained, train, eps, target="features", triples=(users, pos, neg))["features"]
    a = pretrained.projection @ pretrained.user_factors[u]  # d y_u. / d c = E^T p_u  (eq. 4)
    np.testing.assert_allclose(fgm[i], -eps * a / np.linalg.norm(a), rtol=1e-4, atol=1e-7)
    np.testing.assert_allclose(fgm[j], eps * a / np.linalg.norm(a), rtol=1e-4, atol=1e-7)
    gap = lambda m: float(m.score([u], [i])[0] - m.score([u], [j])[0])  # noqa: E731
    moved = pretrained._perturbed_copy({"features": fgm})
    assert gap(moved) == pytest.approx(gap(pretrained) - 2 * eps * np.linalg.norm(a), rel=1e-4, abs=1e-6)
