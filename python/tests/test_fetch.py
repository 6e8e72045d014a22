"""advrec.datasets.fetch: download, sha256 check and cache, against local file:// mirrors only."""

import hashlib
import json
import shutil
import sys
import zipfile

import pytest

import advrec
from advrec.datasets import ChecksumError, DownloadError, available_datasets, fetch, get_data_home

fetch_module = sys.modules["advrec.datasets.fetch"]


def sha256(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def make_zip(path, members):
    with zipfile.ZipFile(path, "w") as zf:
        for name, content in members.items():
            zf.writestr(name, content)
    return path


TINY_DAT = "1::10::4::100\n1::30::3::90\n2::10::5::80\n"


def test_fetch_unpinned_dataset_records_then_enforces_checksum(tmp_path):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    make_zip(mirror / "ml-10m.zip", {"ml-10M100K/ratings.dat": TINY_DAT, "ml-10M100K/README.html": "hi"})
    home = tmp_path / "home"
    with pytest.warns(UserWarning, match="no pinned sha256"):
        folder = fetch("ml-10m", data_home=home, base_url=mirror.as_uri(), show_progress=False)
    assert folder == home / "ml-10m"
    assert (folder / "ratings.dat").is_file()  # the archive's top folder is flattened
    d = advrec.datasets.load_movielens(folder)
    assert (d.n_users, d.n_items, len(d)) == (2, 2, 3)
    # cached: a second call needs no network (the mirror is gone)
    shutil.rmtree(mirror)
    assert fetch("ml-10m", data_home=home, base_url=mirror.as_uri()) == folder
    recorded = json.loads((home / "recorded-sha256.json").read_text())
    assert recorded["ml-10m/ml-10m.zip"] == sha256(home / "downloads" / "ml-10m" / "ml-10m.zip")
    # forcing a new download from a mirror serving different bytes now fails the recorded checksum
    mirror.mkdir()
    make_zip(mirror / "ml-10m.zip", {"ml-10M100K/ratings.dat": TINY_DAT + "3::10::1::1\n"})
    with pytest.raises(ChecksumError, match="sha256 mismatch for ml-10m.zip"):
        fetch("ml-10m", data_home=home, base_url=mirror.as_uri(), force=True, show_progress=False)
    assert (folder / "ratings.dat").read_text() == TINY_DAT  # the cached dataset is untouched
    assert not list(home.glob(".ml-10m.*"))  # no staging folder left behind


def test_fetch_ml_latest_small_from_a_mirror(tmp_path, dataset):
    src = dataset("ml-latest-small")
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    # a repackaged copy: its bytes differ from the official archive, so the pinned checksum fails
    archive = make_zip(mirror / "ml-latest-small.zip", {
        f"ml-latest-small/{n}": (src / n).read_bytes() for n in ("ratings.csv", "movies.csv")})
    home = tmp_path / "home"
    with pytest.raises(ChecksumError, match="expected 696d65a3"):
        fetch("ml-latest-small", data_home=home, base_url=mirror.as_uri(), show_progress=False)
    assert not (home / "ml-latest-small").exists()
    assert not (home / "downloads" / "ml-latest-small" / "ml-latest-small.zip").exists()
    folder = fetch("ml-latest-small", data_home=home, base_url=mirror.as_uri(), sha256=sha256(archive),
                   show_progress=False)
    d = advrec.datasets.load_movielens(folder)
    assert (d.n_users, d.n_items, len(d)) == (610, 9724, 100836)
    F = advrec.datasets.movielens_item_features(folder, d)
    assert F.shape[0] == 9724


def test_fetch_multi_file_dataset_with_pinned_checksums(tmp_path, dataset, monkeypatch):
    src = dataset("amazon-video-sasrec")
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    for n in ("Video.txt", "Video.train.rating", "Video.test.rating"):
        shutil.copy(src / n, mirror / n)
    monkeypatch.setenv("ADVREC_DATA_HOME", str(tmp_path / "envhome"))
    monkeypatch.setenv("ADVREC_BASE_URL", mirror.as_uri())
    folder = fetch("amazon-video-sasrec", show_progress=False)
    assert folder == tmp_path / "envhome" / "amazon-video-sasrec"
    for n in ("Video.txt", "Video.train.rating", "Video.test.rating"):
        assert (folder / n).read_bytes() == (src / n).read_bytes()
    train, test = advrec.datasets.load_rating_split(folder / "Video.train.rating", folder / "Video.test.rating")
    assert (len(train), len(test)) == (256094, 31013)


def test_offline_gives_a_clear_error(tmp_path):
    missing = (tmp_path / "no-such-mirror").as_uri()
    with pytest.raises(DownloadError, match=r"could not download dataset 'ml-100k' from .*offline"):
        fetch("ml-100k", data_home=tmp_path / "home", base_url=missing, show_progress=False)
    assert not (tmp_path / "home" / "ml-100k").exists()
    assert issubclass(DownloadError, ConnectionError)


def test_file_placed_by_hand_is_used(tmp_path):
    home = tmp_path / "home"
    archive = make_zip(tmp_path / "x.zip", {"ml-100k/u.data": "1\t10\t4\t100\n"})
    dest = home / "downloads" / "ml-100k" / "ml-100k.zip"
    dest.parent.mkdir(parents=True)
    shutil.copy(archive, dest)
    folder = fetch("ml-100k", data_home=home, base_url=(tmp_path / "nowhere").as_uri(), sha256=sha256(archive))
    assert (folder / "u.data").is_file()


def test_unsafe_or_broken_archives(tmp_path):
    mirror = tmp_path / "m"
    mirror.mkdir()
    make_zip(mirror / "ml-1m.zip", {"../evil.txt": "x"})
    with pytest.raises(ValueError, match="unsafe path"):
        fetch("ml-1m", data_home=tmp_path / "h", base_url=mirror.as_uri(), sha256=sha256(mirror / "ml-1m.zip"),
              show_progress=False)
    assert not (tmp_path / "evil.txt").exists()
    (mirror / "ml-1m.zip").write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="not a valid zip"):
        fetch("ml-1m", data_home=tmp_path / "h", base_url=mirror.as_uri(), sha256=sha256(mirror / "ml-1m.zip"),
              show_progress=False)


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="unknown dataset 'ml-2m'.*ml-1m"):
        fetch("ml-2m", data_home=tmp_path)
    with pytest.raises(ValueError, match="dict"):
        fetch("gowalla-lightgcn", data_home=tmp_path, sha256="00")
    with pytest.raises(TypeError, match="sha256"):
        fetch("ml-1m", data_home=tmp_path, sha256=5)
    with pytest.raises(TypeError, match="data_home"):
        get_data_home(5)


def test_registry_and_data_home(monkeypatch, tmp_path):
    names = available_datasets()
    assert {"ml-latest-small", "ml-100k", "ml-1m", "ml-25m", "amazon-video-sasrec", "gowalla-lightgcn"} <= set(names)
    for spec in fetch_module._DATASETS.values():
        for f in spec.files:
            assert f.url.startswith("https://")
            assert f.sha256 is None or (len(f.sha256) == 64 and int(f.sha256, 16) >= 0)
    monkeypatch.delenv("ADVREC_DATA_HOME", raising=False)
    assert str(get_data_home()).endswith(".cache/advrec")
    monkeypatch.setenv("ADVREC_DATA_HOME", str(tmp_path))
    assert get_data_home() == tmp_path
    assert get_data_home(tmp_path / "x") == tmp_path / "x"
