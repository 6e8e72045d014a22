"""Model selection on a validation split inside fit: eval_set=, patience=, restoring the best epoch."""

import numpy as np
import pytest

import advrec


@pytest.fixture(scope="module")
def split():
    data = advrec.datasets.synthetic(n_users=150, n_items=120, seed=11)
    return advrec.split.leave_one_out(data, by="time", validation=True)


def _common(**kw):
    return dict(num_threads=1, seed=2, show_progress=False, **kw)


# Settings that over-fit a tiny data set quickly, so that the best validation epoch is not the last.
MODELS = {
    "BPRMF": lambda: advrec.BPRMF(factors=16, lr=0.3, epochs=14, **_common()),
    "AMF": lambda: advrec.AMF(factors=16, lr=0.3, epochs=7, pretrain_epochs=7, eps=0.3, **_common()),
    "VBPR": lambda: advrec.VBPR(factors=8, lr=0.3, epochs=14, batch_size=16, **_common()),
    "AMR": lambda: advrec.AMR(factors=8, lr=0.3, epochs=7, pretrain_epochs=7, batch_size=16, **_common()),
    "SASRec": lambda: advrec.SASRec(factors=8, maxlen=10, blocks=1, lr=0.02, epochs=14, **_common()),
}


def _record(model, users):
    """A callback that keeps, per epoch, a copy of the state arrays and the users' scores."""
    states, scores = [], []

    def callback(epoch, figures):
        states.append({k: v.copy() for k, v in model._state_arrays().items()})
        scores.append(model.score(users))

    return callback, states, scores


@pytest.mark.parametrize("name", sorted(MODELS))
def test_the_best_validation_epoch_is_restored_exactly(split, name):
    train, valid, _ = split
    model = MODELS[name]()
    users = np.unique(valid.users)[:20]
    callback, states, scores = _record(model, users)
    model.fit(train, eval_set=(valid, 10), callback=callback)
    n = len(model.history_)
    # Adversarial models select over their adversarial epochs only: clean pre-training is not validated.
    pretraining = model._pretraining_phases
    assert n == len(states)
    assert all(("val_ndcg@10" in h) == (h["phase"] not in pretraining) for h in model.history_)
    values = [h.get("val_ndcg@10", -np.inf) for h in model.history_]
    best = int(np.argmax(values)) + 1  # first maximum: ties keep the earlier epoch
    assert model.best_epoch_ == best and model.best_score_ == pytest.approx(max(values))
    assert model._epochs_done == n  # the history and the epoch counter keep every epoch run
    final = model._state_arrays()
    assert final.keys() == states[best - 1].keys()
    for key, value in states[best - 1].items():
        np.testing.assert_array_equal(final[key], value, err_msg=key)
    np.testing.assert_array_equal(model.score(users), scores[best - 1])  # no stale cache
    res = advrec.evaluate(model, train, valid, k=10, metrics=("hr", "ndcg"), show_progress=False)
    assert res.summary["ndcg@10"] == pytest.approx(model.best_score_, abs=1e-6)


def test_adversarial_fits_select_over_the_adversarial_phase_only(split):
    # Patience 1 after the first evaluation would stop a validated pre-training at once; the fit
    # must still run every clean epoch and reach the adversarial phase, and best_epoch_ must be
    # an adversarial epoch (restoring a clean epoch would return plain BPR under AMF's name).
    train, valid, _ = split
    amf = advrec.AMF(factors=16, lr=0.3, epochs=6, pretrain_epochs=5, eps=0.3, **_common())
    amf.fit(train, eval_set=(valid, 10), patience=1)
    phases = [h["phase"] for h in amf.history_]
    assert phases[:5] == [amf._clean_phase] * 5 and phases[5] == amf._adversarial_phase == "apr"
    assert amf.best_epoch_ > 5
    assert amf._pretraining_phases == ("bpr",)


def test_the_fixture_settings_do_exercise_a_restore(split):
    # guards the test above against passing only because the last epoch happened to be the best
    train, valid, _ = split
    restored = [MODELS[n]().fit(train, eval_set=(valid, 10)) for n in ("BPRMF", "VBPR")]
    assert any(m.best_epoch_ < len(m.history_) for m in restored)


def test_patience_stops_after_that_many_evaluations_without_improvement(split):
    train, valid, _ = split
    m = advrec.BPRMF(factors=16, lr=0.3, epochs=300, **_common()).fit(train, eval_set=(valid, 10), patience=3)
    assert len(m.history_) == m.best_epoch_ + 3 < 300
    values = [h["val_ndcg@10"] for h in m.history_]
    assert max(values[m.best_epoch_:]) <= values[m.best_epoch_ - 1]


def test_eval_every_and_monitor(split):
    train, valid, _ = split
    m = advrec.BPRMF(factors=16, lr=0.3, epochs=12, **_common()).fit(
        train, eval_set=(valid, (5, 20)), eval_every=3, monitor="hr@20")
    evaluated = [h for h in m.history_ if "val_hr@20" in h]
    assert [h["epoch"] for h in evaluated] == [3, 6, 9, 12]
    assert "val_ndcg@5" in evaluated[0]
    assert m.best_epoch_ == max(evaluated, key=lambda h: (h["val_hr@20"], -h["epoch"]))["epoch"]


def test_restore_best_false_keeps_the_last_epoch(split):
    train, valid, _ = split
    a = advrec.BPRMF(factors=16, lr=0.3, epochs=14, **_common()).fit(train, eval_set=valid, restore_best=False)
    b = advrec.BPRMF(factors=16, lr=0.3, epochs=14, **_common()).fit(train)
    np.testing.assert_array_equal(a.user_factors, b.user_factors)
    assert a.best_epoch_ is not None and len(a.history_) == 14
    # validation= only monitors (the older argument), and evaluating does not change training
    c = advrec.BPRMF(factors=16, lr=0.3, epochs=14, **_common()).fit(train, validation=valid, eval_every=1)
    np.testing.assert_array_equal(c.user_factors, b.user_factors)


def test_a_restored_model_continues_training_and_round_trips(split, tmp_path):
    train, valid, _ = split
    m = advrec.BPRMF(factors=16, lr=0.3, epochs=10, **_common()).fit(train, eval_set=(valid, 10))
    m.save(tmp_path / "m.npz")
    back = advrec.load(tmp_path / "m.npz")
    np.testing.assert_array_equal(back.user_factors, m.user_factors)
    amf = advrec.AMF(factors=16, lr=0.3, epochs=3, eps=0.2, **_common()).fit(train, init=m, eval_set=(valid, 10))
    assert len(amf.history_) == len(m.history_) + 3 and amf.best_epoch_ > len(m.history_)


@pytest.mark.parametrize("kwargs, exc, match", [
    (lambda v: dict(eval_set=v, validation=v), ValueError, "either eval_set= or validation="),
    (lambda v: dict(eval_set="valid"), TypeError, "eval_set must be an advrec.Interactions"),
    (lambda v: dict(eval_set=(v, 10, 3)), ValueError, "tuple of length 3"),
    (lambda v: dict(eval_set=(v, 0)), ValueError, "eval_set's k must be > 0"),
    (lambda v: dict(eval_set=(v, "10")), TypeError, "eval_set's k must be an int"),
    (lambda v: dict(eval_set=(v, ())), ValueError, "k is empty"),
    (lambda v: dict(eval_set=v, monitor="mrr@10"), ValueError, "monitor 'mrr@10'"),
    (lambda v: dict(eval_set=(v, 10), monitor="ndcg@20"), ValueError, "monitor 'ndcg@20'"),
    (lambda v: dict(patience=3), ValueError, "patience needs a validation set"),
    (lambda v: dict(eval_set=v, patience=0), ValueError, "patience must be > 0"),
    (lambda v: dict(eval_set=v, eval_every=-1), ValueError, "eval_every must be >= 0"),
    (lambda v: dict(eval_set=v, eval_every=0), ValueError, "restore_best needs"),
    (lambda v: dict(eval_set=v, restore_best="yes"), TypeError, "restore_best must be True or False"),
    (lambda v: dict(restore_best=True), ValueError, "restore_best needs"),
])
def test_eval_set_errors(split, kwargs, exc, match):
    train, valid, _ = split
    with pytest.raises(exc, match=match):
        advrec.BPRMF(factors=4, epochs=1, **_common()).fit(train, **kwargs(valid))


def test_eval_set_from_other_data_is_rejected(split):
    train, _, _ = split
    other = advrec.datasets.synthetic(n_users=50, n_items=40, seed=1)
    with pytest.raises(ValueError, match="validation set has 50 users x 40 items"):
        advrec.BPRMF(factors=4, epochs=1, **_common()).fit(train, eval_set=other)
    empty = train._subset(np.zeros(len(train), bool))
    with pytest.raises(ValueError, match="validation set is empty"):
        advrec.BPRMF(factors=4, epochs=1, **_common()).fit(train, eval_set=empty)


def test_partial_fit_accepts_eval_set(split):
    train, valid, _ = split
    m = advrec.BPRMF(factors=16, lr=0.3, epochs=2, **_common()).fit(train)
    m.partial_fit(train, epochs=4, eval_set=(valid, 10), patience=10)
    assert m.best_epoch_ is not None and 3 <= m.best_epoch_ <= 6
