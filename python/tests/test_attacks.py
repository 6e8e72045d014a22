"""Attacks: direction, budgets, immutability, and the robustness table."""

import numpy as np
import pytest

import advrec
from advrec import attacks


@pytest.fixture(scope="module")
def setup():
    data = advrec.datasets.synthetic(n_users=250, n_items=180, seed=4)
    train, test = advrec.split.leave_one_out(data, by="time")
    bpr = advrec.BPRMF(factors=16, epochs=30, num_threads=1, seed=0, show_progress=False).fit(train)
    return train, test, bpr


def _loss(model, triples):
    return model._loss_gradients(triples, {})[0]


def test_fgm_raises_the_loss_more_than_random_noise(setup):
    train, _, bpr = setup
    d_prime = attacks.sample_triples(train, seed=1)
    clean = _loss(bpr, d_prime)
    adv = _loss(attacks.fgsm(bpr, train, eps=0.5, triples=d_prime), d_prime)
    rnd = [_loss(attacks.random_noise(bpr, eps=0.5, seed=s), d_prime) for s in range(3)]
    assert adv > clean
    assert adv - clean > 5 * max(r - clean for r in rnd)


@pytest.mark.parametrize("norm", ["l2", "sign"])
def test_budget_holds_per_vector(setup, norm):
    train, _, bpr = setup
    for make in (lambda: attacks.fgsm_perturbation(bpr, train, 0.3, norm=norm),
                 lambda: attacks.random_perturbation(bpr, 0.3, norm=norm, seed=2),
                 lambda: attacks.iterative_perturbation(bpr, train, 0.3, step=0.2, steps=4, norm=norm),
                 lambda: attacks.iterative_perturbation(bpr, train, 0.3, steps=3, norm=norm, random_start=True)):
        deltas = make()
        assert set(deltas) == {"users", "items"}
        for delta in deltas.values():
            if norm == "l2":
                assert np.all(np.linalg.norm(delta, axis=1) <= 0.3 * (1 + 1e-5))
            else:
                assert np.all(np.abs(delta) <= 0.3 * (1 + 1e-6))


def test_fgm_vectors_sit_on_the_sphere(setup):
    train, _, bpr = setup
    deltas = attacks.fgsm_perturbation(bpr, train, 0.5)
    norms = np.linalg.norm(deltas["items"], axis=1)
    touched = norms > 0  # items never in D' have zero gradient and stay unperturbed
    np.testing.assert_allclose(norms[touched], 0.5, rtol=1e-5)
    assert touched.mean() > 0.5


def test_iterative_is_at_least_as_strong_as_single_step(setup):
    train, _, bpr = setup
    d_prime = attacks.sample_triples(train, seed=3)
    one = _loss(attacks.fgsm(bpr, train, eps=0.5, triples=d_prime), d_prime)
    many = _loss(attacks.iterative(bpr, train, eps=0.5, step=0.125, steps=8, triples=d_prime), d_prime)
    assert many >= one * 0.999


def test_attacks_never_mutate_the_model(setup):
    train, _, bpr = setup
    P, Q = bpr.user_factors.copy(), bpr.item_factors.copy()
    bad = attacks.fgsm(bpr, train, eps=1.0)
    attacks.iterative(bpr, train, eps=1.0, steps=2)
    attacks.random_noise(bpr, eps=1.0)
    np.testing.assert_array_equal(bpr.user_factors, P)
    np.testing.assert_array_equal(bpr.item_factors, Q)
    assert bad.attack_["attack"] == "fgm" and not np.array_equal(bad.user_factors, P)


def test_target_selects_blocks(setup):
    train, _, bpr = setup
    users_only = attacks.fgsm(bpr, train, eps=0.5, target="users")
    np.testing.assert_array_equal(users_only.item_factors, bpr.item_factors)
    assert not np.array_equal(users_only.user_factors, bpr.user_factors)
    with pytest.raises(ValueError, match="target"):
        attacks.fgsm(bpr, train, eps=0.5, target="features")


def test_attacks_are_seeded(setup):
    train, _, bpr = setup
    a = attacks.random_perturbation(bpr, 0.5, seed=5)["items"]
    b = attacks.random_perturbation(bpr, 0.5, seed=5)["items"]
    c = attacks.random_perturbation(bpr, 0.5, seed=6)["items"]
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    np.testing.assert_array_equal(attacks.fgsm_perturbation(bpr, train, 0.5, seed=1)["users"],
                                  attacks.fgsm_perturbation(bpr, train, 0.5, seed=1)["users"])


def test_attack_bad_input(setup):
    train, _, bpr = setup
    with pytest.raises(ValueError, match="eps"):
        attacks.fgsm(bpr, train, eps=-0.1)
    with pytest.raises(ValueError, match="steps"):
        attacks.iterative(bpr, train, eps=0.5, steps=0)
    with pytest.raises(ValueError, match="norm"):
        attacks.fgsm(bpr, train, eps=0.5, norm="l1")
    with pytest.raises(advrec.NotFittedError):
        attacks.fgsm(advrec.BPRMF(), train, eps=0.5)
    other = advrec.datasets.synthetic(n_users=30, n_items=20, seed=9)
    with pytest.raises(ValueError, match="users"):
        attacks.fgsm(bpr, other, eps=0.5)
    with pytest.raises(TypeError, match="attacks"):
        attacks.fgsm(advrec.ItemPop().fit(train), train, eps=0.5)


def test_robustness_table(setup):
    train, test, bpr = setup
    table = advrec.robustness({"bpr": bpr}, train, test, eps=(0.5, 2.0), attacks=("fgsm", "random"), k=20,
                              metrics=("ndcg",), show_progress=False)
    assert list(table.columns) == ["model", "attack", "eps", "metric", "value", "drop", "shift"]
    assert len(table) == 1 + 2 * 2
    clean = table[table.attack == "none"]
    assert clean["drop"].tolist() == [0.0]
    fgm = table[(table.attack == "fgsm")].set_index("eps")["drop"]
    rnd = table[(table.attack == "random")].set_index("eps")["drop"]
    assert fgm[2.0] > fgm[0.5] > rnd[0.5]
    with pytest.raises(ValueError, match="unknown attack"):
        advrec.robustness(bpr, train, test, attacks=("pgd",), show_progress=False)
