"""NeuMF: training phases, the scoring hook the evaluator uses, and argument checks."""

import numpy as np
import pytest

import advrec
from advrec._engine import core


@pytest.fixture(scope="module")
def split():
    data = advrec.datasets.synthetic(n_users=120, n_items=90, seed=5)
    return advrec.split.leave_one_out(data, by="time")


@pytest.fixture(scope="module")
def small(split):
    train, _ = split
    return advrec.NeuMF(factors=4, pretrain_epochs=2, epochs=2, lr=0.01, num_threads=1, seed=1,
                        show_progress=False).fit(train)


class _ScoredDot:
    """A dot-product model seen only through the scoring hook: evaluating it must give exactly the
    dot-product path's numbers (integer factors make every score exact, ties included)."""

    def __init__(self, U, V):
        self.U, self.V = U, V
        self.n_users, self.n_items = U.shape[0], V.shape[0]

    def _score_block(self, users, items=None, num_threads=None):
        return (self.U[users] @ self.V.T).astype(np.float32)

    def _score_pairs(self, users, items, num_threads=None):
        return np.einsum("nd,nd->n", self.U[users], self.V[items]).astype(np.float32)


class _Dot:
    def __init__(self, U, V):
        self.U, self.V = U, V
        self.n_users, self.n_items = U.shape[0], V.shape[0]

    def _scoring_factors(self, users):
        return self.U[users], self.V


@pytest.mark.parametrize("protocol", ["full", advrec.Sampled(n_negatives=20, seed=3)])
def test_scoring_hook_evaluation_equals_the_dot_product_path(split, protocol):
    train, test = split
    rng = np.random.default_rng(0)
    # Small integers: many exact ties, which both paths must break pessimistically.
    U = rng.integers(-2, 3, (train.n_users, 3)).astype(np.float32)
    V = rng.integers(-2, 3, (train.n_items, 3)).astype(np.float32)
    kw = dict(k=(1, 5, 10), metrics=("hr", "ndcg", "recall", "precision", "mrr", "map", "auc"), protocol=protocol)
    ref = advrec.evaluate(_Dot(U, V), train, test, **kw)
    got = advrec.evaluate(_ScoredDot(U, V), train, test, batch_size=7, **kw)
    assert ref.summary.keys() == got.summary.keys()
    for name in ref.per_user:
        np.testing.assert_array_equal(got.per_user[name], ref.per_user[name], err_msg=name)


def test_evaluation_scores_blocks_of_bounded_size(split, small):
    train, test = split
    shapes = []
    original = small._score_block

    def spy(users, items=None, num_threads=None):
        out = original(users, items, num_threads)
        shapes.append(out.shape)
        return out

    small._score_block = spy
    try:
        res = advrec.evaluate(small, train, test, k=10, batch_size=16)
    finally:
        del small._score_block
    assert shapes and all(rows <= 16 and cols == train.n_items for rows, cols in shapes)
    assert sum(rows for rows, _ in shapes) == res.n_users


def test_fit_runs_the_papers_phases_in_order(small):
    phases = [h["phase"] for h in small.history_]
    assert phases == ["gmf", "gmf", "mlp", "mlp", "neumf", "neumf"]
    # The fused phase runs SGD (the paper) from a fresh optimiser state: Adam's counter was reset.
    assert small._fused and small.fused_optimizer == "sgd" and small.step[0] == 0
    assert all(np.isfinite(h["loss"]) for h in small.history_)


def test_model_selection_starts_with_the_fused_phase(split):
    """With eval_set and a short patience, pre-training (GMF, MLP) is neither validated nor able to
    stop the fit: the model is always fused and restored to its best *fused* epoch."""
    train, valid = split
    m = advrec.NeuMF(factors=4, pretrain_epochs=3, epochs=3, lr=0.01, num_threads=1, seed=1,
                     show_progress=False).fit(train, eval_set=valid, patience=1)
    phases = [h["phase"] for h in m.history_]
    assert phases[:6] == ["gmf"] * 3 + ["mlp"] * 3 and "neumf" in phases
    assert m._fused
    assert not any("val_ndcg@10" in h for h in m.history_ if h["phase"] != "neumf")
    assert all("val_ndcg@10" in h for h in m.history_ if h["phase"] == "neumf")
    assert m.history_[m.best_epoch_ - 1]["phase"] == "neumf"


def test_pretraining_then_fusion_weighs_the_halves(split):
    # With a vanishing fused learning rate, the fused model scores alpha * GMF + (1 - alpha) * MLP.
    train, _ = split
    m = advrec.NeuMF(factors=4, pretrain_epochs=1, epochs=0, alpha=0.25, num_threads=1, show_progress=False).fit(train)
    users, items = np.array([0, 3, 7], np.int32), np.array([5, 1, 2], np.int32)
    gmf = core.neumf_score_pairs(m._arrays(), m._hidden(), core.NeuMFMode.gmf, users, items, 1)
    mlp = core.neumf_score_pairs(m._arrays(), m._hidden(), core.NeuMFMode.mlp, users, items, 1)
    core.neumf_fuse(m._arrays(), m._hidden(), 0.25)
    fused = core.neumf_score_pairs(m._arrays(), m._hidden(), core.NeuMFMode.neumf, users, items, 1)
    np.testing.assert_allclose(fused, 0.25 * gmf + 0.75 * mlp, rtol=1e-5, atol=1e-6)


def test_scores_are_the_engine_logits(small):
    block = small.score([0, 1])
    pairs = small.score([0, 0, 1], [3, 4, 5])
    np.testing.assert_array_equal(pairs, [block[0, 3], block[0, 4], block[1, 5]])


def test_attacks_name_the_models_they_support(split, small):
    train, _ = split
    with pytest.raises(TypeError, match="NeuMF does not support parameter attacks.*BPRMF"):
        advrec.attacks.fgsm(small, train)


@pytest.mark.parametrize("kwargs,match", [
    ({"factors": 0}, "factors"), ({"mlp_layers": (16,)}, "mlp_layers"), ({"mlp_layers": (15, 8)}, "even"),
    ({"negatives": 0}, "negatives"), ({"lr": 0.0}, "lr"), ({"fused_optimizer": "rmsprop"}, "fused_optimizer"),
    ({"alpha": 1.5}, "alpha"), ({"batch_size": 0}, "batch_size"), ({"reg_dense": -1.0}, "reg_dense"),
    ({"pretrain_epochs": -1}, "pretrain_epochs"),
])
def test_bad_hyper_parameters_are_rejected(split, kwargs, match):
    train, _ = split
    with pytest.raises(ValueError, match=match):
        advrec.NeuMF(show_progress=False, **kwargs).fit(train)


def test_engine_rejects_bad_arrays(small):
    arrays = small._arrays()
    bad = dict(arrays, dense=arrays["dense"][:-1].copy())
    with pytest.raises(ValueError, match="dense"):
        core.neumf_score_block(bad, small._hidden(), core.NeuMFMode.neumf, np.array([0], np.int32),
                               np.array([0], np.int32), 1)
    with pytest.raises(ValueError, match="items contains id"):
        core.neumf_score_pairs(arrays, small._hidden(), core.NeuMFMode.neumf, np.array([0], np.int32),
                               np.array([small.n_items], np.int32), 1)
    cfg = core.NeuMFConfig()
    cfg.negatives = 0
    indptr, indices = small._train_indptr, small._train_indices
    with pytest.raises(ValueError, match="negatives"):
        core.train_neumf(arrays, small._hidden(), indptr, indices, cfg)
