"""Saved models stay loadable: python/tests/fixtures/ holds one tiny model file of every registered
class, written by scripts/make_model_fixtures.py at the current format version, with its
recommendations and scores recorded beside it (model_files.json). Loading each file must give the
same class and the same numbers, so a change that breaks users' saved files fails here."""

import json
from pathlib import Path

import numpy as np
import pytest

import advrec
from advrec.models.base import FORMAT_VERSION, _REGISTRY

FIXTURES = Path(__file__).resolve().parent / "fixtures"
RECORD = json.loads((FIXTURES / "model_files.json").read_text(encoding="utf-8"))


def test_every_registered_class_has_a_saved_file():
    # A new model class needs a fixture: add it to scripts/make_model_fixtures.py and run it.
    assert sorted(RECORD["models"]) == sorted(_REGISTRY)


def test_the_files_are_at_the_current_format_version():
    assert RECORD["format_version"] == FORMAT_VERSION


@pytest.mark.parametrize("name", sorted(RECORD["models"]))
def test_saved_model_loads_and_recommends_as_recorded(name):
    expected = RECORD["models"][name]
    model = advrec.load(FIXTURES / expected["file"])
    assert type(model).__name__ == name
    ids, scores = model.recommend(np.arange(model.n_users), k=RECORD["k"])
    np.testing.assert_array_equal(ids, np.array(expected["ids"], dtype=np.int32))
    want = np.array([[np.nan if v is None else v for v in row] for row in expected["scores"]], dtype=np.float32)
    np.testing.assert_array_equal(np.isfinite(scores), np.isfinite(want))
    np.testing.assert_allclose(scores[np.isfinite(want)], want[np.isfinite(want)], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(model.score(RECORD["scored_users"]), np.array(expected["score"], dtype=np.float32),
                               rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", sorted(RECORD["models"]))
def test_loaded_model_saves_back_to_an_equivalent_file(name, tmp_path):
    model = advrec.load(FIXTURES / RECORD["models"][name]["file"])
    model.save(tmp_path / "again.npz")
    again = advrec.load(tmp_path / "again.npz")
    assert again.get_params() == model.get_params()
    for array in type(model)._array_names:
        a, b = getattr(model, array, None), getattr(again, array, None)
        assert (a is None) == (b is None), array
        if a is not None:
            np.testing.assert_array_equal(a, b, err_msg=array)
