"""The design card's one-line calls — ``AMF().fit(train)``, ``AMR().fit(train, item_features=F)``,
``ASASRec().fit(train)`` — must give a model at least as good as their clean counterpart trained for
the same total epochs (issue 17): clean pre-training is the default, a too-large eps warns, and a
collapse to chance during training is detected and reported."""

import warnings

import numpy as np
import pytest

import advrec


@pytest.fixture(scope="module")
def planted():
    # seed 11 for the data and 1 for the models: the data's hidden factors and the models'
    # initialisation must not come from the same stream.
    data = advrec.datasets.synthetic(n_users=600, n_items=300, seed=11)
    train, test = advrec.split.leave_one_out(data, by="time")
    return train, test


def _ndcg(model, train, test):
    return advrec.evaluate(model, train, test, k=10, metrics=("ndcg",)).summary["ndcg@10"]


def _quiet_fit(model, train, **kw):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.fit(train, **kw)
    return model, [str(w.message) for w in caught]


COMMON = dict(num_threads=1, seed=1, show_progress=False)


def test_amf_default_fit_is_at_least_as_good_as_bpr_of_the_same_epochs(planted):
    train, test = planted
    bpr = advrec.BPRMF(factors=16, epochs=30, **COMMON).fit(train)
    amf, messages = _quiet_fit(advrec.AMF(factors=16, epochs=30, **COMMON), train)
    assert [h["phase"] for h in amf.history_] == ["bpr"] * 15 + ["apr"] * 15
    assert not any("eps=" in m for m in messages), messages
    assert _ndcg(amf, train, test) >= 0.95 * _ndcg(bpr, train, test)


def test_amr_default_fit_is_at_least_as_good_as_vbpr_of_the_same_epochs(planted):
    train, test = planted
    kw = dict(factors=16, epochs=20, batch_size=32, **COMMON)
    vbpr = advrec.VBPR(shared_user=True, item_bias=False, visual_bias=False, **kw).fit(train)
    amr, _ = _quiet_fit(advrec.AMR(**kw), train)
    assert [h["phase"] for h in amr.history_] == ["bpr"] * 10 + ["amr"] * 10
    assert _ndcg(amr, train, test) >= 0.95 * _ndcg(vbpr, train, test)


def test_asasrec_default_fit_is_at_least_as_good_as_sasrec_of_the_same_epochs(planted):
    train, test = planted
    kw = dict(factors=16, maxlen=20, blocks=1, epochs=16, lr=0.01, **COMMON)
    sas = advrec.SASRec(**kw).fit(train)
    asas, _ = _quiet_fit(advrec.ASASRec(**kw), train)
    assert [h["phase"] for h in asas.history_] == ["sasrec"] * 8 + ["sao"] * 8
    assert _ndcg(asas, train, test) >= 0.95 * _ndcg(sas, train, test)


def test_pretrain_split_rounds_the_clean_half_up_and_integers_keep_their_meaning(planted):
    train, _ = planted
    amf = advrec.AMF(factors=8, epochs=5, eps=0.05, **COMMON).fit(train)
    assert [h["phase"] for h in amf.history_] == ["bpr"] * 3 + ["apr"] * 2
    amf = advrec.AMF(factors=8, epochs=2, pretrain_epochs=3, eps=0.05, **COMMON).fit(train)
    assert [h["phase"] for h in amf.history_] == ["bpr"] * 3 + ["apr"] * 2


def test_init_path_ignores_pretraining_and_is_bit_identical(planted):
    train, _ = planted
    bpr = advrec.BPRMF(factors=8, epochs=5, **COMMON).fit(train)
    auto = advrec.AMF(factors=8, epochs=4, **COMMON).fit(train, init=bpr)
    none = advrec.AMF(factors=8, epochs=4, pretrain_epochs=0, **COMMON).fit(train, init=bpr)
    assert [h["phase"] for h in auto.history_[5:]] == ["apr"] * 4
    np.testing.assert_array_equal(auto.user_factors, none.user_factors)
    np.testing.assert_array_equal(auto.item_factors, none.item_factors)


def test_apr_from_random_initialisation_warns_that_eps_overwhelms_the_embeddings(planted):
    train, _ = planted
    with pytest.warns(RuntimeWarning, match=r"eps=0\.5 is larger than the median norm.*pretrain_epochs='auto'"):
        advrec.AMF(factors=16, epochs=2, pretrain_epochs=0, **COMMON).fit(train)


def test_collapse_during_training_is_flagged_and_warned(planted):
    train, _ = planted
    bpr = advrec.BPRMF(factors=16, epochs=20, **COMMON).fit(train)
    amf = advrec.AMF(factors=16, eps=2.0, epochs=16, **COMMON)
    with pytest.warns(RuntimeWarning, match=r"collapsed in epoch \d+: training accuracy fell to 0\.[45]\d\d"):
        amf.fit(train, init=bpr)
    assert amf.collapsed_
    assert any(h.get("collapsed") for h in amf.history_)
    assert not any(h.get("collapsed") for h in amf.history_[:20])


def test_healthy_training_is_not_flagged(planted):
    train, _ = planted
    amf = advrec.AMF(factors=16, epochs=10, eps=0.1, **COMMON).fit(train)
    assert not amf.collapsed_
    assert not any(h.get("collapsed") for h in amf.history_)


@pytest.mark.parametrize("value", ["half", -1, 1.5, None])
def test_bad_pretrain_epochs_is_rejected(planted, value):
    train, _ = planted
    with pytest.raises((ValueError, TypeError), match="pretrain_epochs"):
        advrec.AMF(factors=8, epochs=1, pretrain_epochs=value, **COMMON).fit(train)
