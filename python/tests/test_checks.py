"""advrec._checks: one rule per kind of argument, the same message wherever it is passed."""

import numpy as np
import pytest

import advrec
from advrec import _checks as C


@pytest.mark.parametrize("value, ok", [(3, True), (np.int64(3), True), (True, False), (np.bool_(True), False),
                                       (3.0, False), ("3", False)])
def test_is_int_rejects_bools_and_floats(value, ok):
    assert C.is_int(value) is ok


def test_positive_int_and_float_name_the_argument():
    assert C.check_positive_int(np.int32(4), "epochs") == 4 and C.check_positive_int(0, "seed", allow_zero=True) == 0
    with pytest.raises(TypeError, match="epochs must be an integer, got bool"):
        C.check_positive_int(True, "epochs")
    with pytest.raises(ValueError, match="factors must be > 0, got 0"):
        C.check_positive_int(0, "factors")
    assert C.check_float(np.float32(0.5), "eps") == 0.5
    with pytest.raises(ValueError, match="lr must be a finite number > 0, got 0"):
        C.check_float(0, "lr", strict=True)
    for bad in (float("nan"), float("inf"), -1.0):
        with pytest.raises(ValueError, match="eps must be a finite number >= 0"):
            C.check_float(bad, "eps")
    with pytest.raises(TypeError, match="reg must be a number, got str"):
        C.check_float("0.1", "reg")


def test_thread_counts_default_to_the_model():
    class Model:
        num_threads = 3

    assert C.model_threads(Model()) == 3 and C.model_threads(Model(), 0) == 0 and C.model_threads(object()) == 0
    with pytest.raises(ValueError, match="num_threads must be >= 0"):
        C.model_threads(Model(), -2)


def test_cut_offs_and_names():
    assert C.check_ks([20, 10, 10]) == (10, 20) and C.check_ks(5) == (5,)
    with pytest.raises(ValueError, match="k must not be empty"):
        C.check_ks([])
    assert C.check_names("ndcg", "metrics", advrec.evaluation.METRICS) == ("ndcg",)
    with pytest.raises(ValueError, match=r"unknown metric\(s\) \['f1'\]"):
        C.check_names(["hr", "f1"], "metrics", advrec.evaluation.METRICS)


def test_the_same_bad_value_gets_the_same_message_everywhere():
    data = advrec.datasets.synthetic(n_users=40, n_items=30, n_features=0, seed=0)
    messages = set()
    for call in (lambda: advrec.split.leave_one_out(data, seed=-1), lambda: advrec.split.holdout(data, seed=-1),
                 lambda: advrec.attacks.sample_triples(data, seed=-1)):
        with pytest.raises(ValueError) as info:
            call()
        messages.add(str(info.value))
    assert messages == {"seed must be >= 0, got -1"}
    for call in (lambda: advrec.split.leave_one_out([1, 2]), lambda: advrec.BPRMF().fit([1, 2])):
        with pytest.raises(TypeError, match="must be an advrec.Interactions, got list"):
            call()
