"""Downloads public datasets into a local cache, checked by sha256.

``fetch(name)`` returns the folder holding the dataset's files, downloading them the first time from
the official source (GroupLens for MovieLens; the pinned GitHub commits of the papers' repositories
for the SASRec and LightGCN preprocessings). Later calls use the cache and need no network.

* Cache: ``data_home`` argument, else ``$ADVREC_DATA_HOME``, else ``~/.cache/advrec``. Each dataset
  lives in ``<data_home>/<name>/``; the downloaded files are kept in ``<data_home>/downloads/<name>/``
  (where a file can also be placed by hand, e.g. on a machine without network).
* Mirrors: ``base_url`` (or ``$ADVREC_BASE_URL``) replaces the official location; the files are
  then fetched as ``<base_url>/<file name>`` (e.g. ``<base_url>/ml-latest-small.zip``). Any URL
  scheme urllib understands works, including ``file://``.
* Integrity: every file is checked against a pinned sha256 (the checksums published for the
  GroupLens archives, and those of the blobs at the pinned commits). A dataset without a pinned
  checksum (``ml-10m``, ``ml-32m``) is accepted with a warning and its checksum recorded, then
  enforced on later downloads. A mismatch deletes the download and raises :class:`ChecksumError`.
* Downloads go to a ``.part`` file and are renamed only once verified, archives are extracted to a
  temporary folder first, and a marker file is written last: an interrupted fetch never leaves a
  dataset that looks complete. Concurrent fetches of the same dataset are not coordinated.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import socket
import tempfile
import urllib.error
import urllib.request
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Dict, Optional, Tuple, Union

__all__ = ["fetch", "available_datasets", "get_data_home", "DownloadError", "ChecksumError"]

_log = logging.getLogger(__name__)

_MARKER = ".advrec-complete.json"
_GROUPLENS = "https://files.grouplens.org/datasets/movielens/"
_GH = "https://raw.githubusercontent.com/"


class DownloadError(ConnectionError):
    """A dataset could not be downloaded (offline, unreachable mirror, HTTP error)."""


class ChecksumError(ValueError):
    """A downloaded file does not have the expected sha256."""


@dataclass(frozen=True)
class _Remote:
    filename: str          # name in the cache and under a mirror's base_url
    url: str               # official location
    sha256: Optional[str]  # pinned checksum (None: record on first download)
    extract: bool = False  # a zip archive to unpack into the dataset folder


@dataclass(frozen=True)
class _Dataset:
    files: Tuple[_Remote, ...]
    description: str


def _grouplens(name: str, sha: Optional[str], what: str) -> _Dataset:
    return _Dataset((_Remote(f"{name}.zip", f"{_GROUPLENS}{name}.zip", sha, extract=True),), what)


_DATASETS: Dict[str, _Dataset] = {
    # checksums of the GroupLens archives as published in tensorflow/datasets' url_checksums
    "ml-latest-small": _grouplens("ml-latest-small", "696d65a3dfceac7c45750ad32df2c259311949efec81f0f144fdfb91ebc9e436",
                                  "MovieLens latest small (100,836 ratings, 610 users, 9,742 movies; tags)"),
    "ml-100k": _grouplens("ml-100k", "50d2a982c66986937beb9ffb3aa76efe955bf3d5c6b761f4e3a7cd717c6a3229",
                          "MovieLens 100K (100,000 ratings, 943 users, 1,682 movies)"),
    "ml-1m": _grouplens("ml-1m", "a6898adb50b9ca05aa231689da44c217cb524e7ebd39d264c56e2832f2c54e20",
                        "MovieLens 1M (1,000,209 ratings, 6,040 users, 3,706 movies)"),
    "ml-10m": _grouplens("ml-10m", None, "MovieLens 10M (10,000,054 ratings, 69,878 users; tags)"),
    "ml-20m": _grouplens("ml-20m", "96f243c338a8665f6bcc89c53edf6ee39162a846940de6b7c8c48aeada765ff3",
                         "MovieLens 20M (20,000,263 ratings, 138,493 users; tags, tag genome)"),
    "ml-25m": _grouplens("ml-25m", "8b21cfb7eb1706b4ec0aac894368d90acf26ebdfb6aced3ebd4ad5bd1eb9c6aa",
                         "MovieLens 25M (25,000,095 ratings, 162,541 users; tags, tag genome)"),
    "ml-32m": _grouplens("ml-32m", None, "MovieLens 32M (32,000,204 ratings, 200,948 users; tags)"),
    "amazon-video-sasrec": _Dataset((
        _Remote("Video.txt", _GH + "kang205/SASRec/e3738967fddab206d6eeb4fda433e7a7034dd8b1/data/Video.txt",
                "b7376fe24430743f411dc7f567285657b2adb3f74361cc7ba0aee94f3024b651"),
        _Remote("Video.train.rating",
                _GH + "feay1234/ASASRec/d03a7376f7cae5d3ebbc243795e5fa82289895ee/data/Video.train.rating",
                "4416f3dfbbd5a3b19047b4002f124e562d77183f6c9990a47a4b1f88268368b6"),
        _Remote("Video.test.rating",
                _GH + "feay1234/ASASRec/d03a7376f7cae5d3ebbc243795e5fa82289895ee/data/Video.test.rating",
                "7e8481a6a2474d471bbe81cac3a18d7630424983539cf0431960e868e30afcc6"),
    ), "Amazon Video Games, SASRec preprocessing (Video.txt) and the SAO/ASASRec train/test split"),
    "gowalla-lightgcn": _Dataset(tuple(
        _Remote(fn, _GH + "gusye1234/LightGCN-PyTorch/947ca2b3b1d2d3545b114145710cb06c4e57b3d2/data/gowalla/" + fn, sha)
        for fn, sha in (
            ("s_adj_mat.npz", "6ab3ab7aa1278da3717054c60258d88d2d2d78914fa62db2b13da9321e397cab"),
            ("test.txt", "099a2a73924e4b754dc6efd730d764f492321b53c38eb93298850c83acf57be3"),
            ("user_list.txt", "5344c4d0deef610e1f148f23ad216a0db03b36f88834cd39a06786a672c5f5a1"),
            ("item_list.txt", "6b186f92890cc3f0c15a6dae5d6285f125a302bb8c5ea0cd9a16cf9c16347139"),
        )), "Gowalla check-ins, NGCF/LightGCN preprocessing and 80/20 split (for load_lightgcn)"),
}


def available_datasets() -> Dict[str, str]:
    """Names accepted by :func:`fetch`, with a one-line description.

    Returns
    -------
    dict
        name -> description.
    """
    return {name: d.description for name, d in _DATASETS.items()}


def get_data_home(data_home=None) -> Path:
    """The cache folder: ``data_home``, else ``$ADVREC_DATA_HOME``, else ``~/.cache/advrec``.

    Parameters
    ----------
    data_home : str or path, optional

    Returns
    -------
    pathlib.Path
        Not created by this function.
    """
    if data_home is None:
        data_home = os.environ.get("ADVREC_DATA_HOME") or os.path.join("~", ".cache", "advrec")
    if not isinstance(data_home, (str, os.PathLike)):
        raise TypeError(f"data_home must be a str or os.PathLike, got {type(data_home).__name__}")
    return Path(data_home).expanduser()


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _download(url: str, dest: Path, name: str, timeout: float, show_progress: bool) -> str:
    """Streams ``url`` into ``dest`` (via ``dest.part``); returns the sha256 of the content."""
    part = dest.with_name(dest.name + ".part")
    h = hashlib.sha256()
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            total = resp.headers.get("Content-Length") if hasattr(resp, "headers") else None
            bar = None
            from .._progress import enabled

            if enabled(show_progress):
                try:
                    from tqdm.auto import tqdm

                    bar = tqdm(total=int(total) if total else None, unit="B", unit_scale=True,
                               desc=f"advrec: {dest.name}", leave=False)
                except Exception:  # pragma: no cover - tqdm is optional here
                    bar = None
            try:
                with part.open("wb") as out:
                    for block in iter(lambda: resp.read(1 << 20), b""):
                        out.write(block)
                        h.update(block)
                        if bar is not None:
                            bar.update(len(block))
            finally:
                if bar is not None:
                    bar.close()
    except (urllib.error.URLError, socket.timeout, TimeoutError, ConnectionError, OSError) as exc:
        part.unlink(missing_ok=True)
        reason = getattr(exc, "reason", None) or exc
        raise DownloadError(
            f"could not download dataset {name!r} from {url} ({reason}). Are you offline? "
            f"Either retry with network access, pass base_url= (or set ADVREC_BASE_URL) to a mirror "
            f"holding {dest.name}, or place the file yourself at {dest}") from None
    os.replace(part, dest)
    return h.hexdigest()


def _safe_extract(archive: Path, into: Path) -> None:
    try:
        with zipfile.ZipFile(archive) as zf:
            for member in zf.infolist():
                p = PurePosixPath(member.filename)
                if p.is_absolute() or ".." in p.parts or (p.parts and ":" in p.parts[0]):
                    raise ValueError(f"{archive}: unsafe path {member.filename!r} in the archive")
            zf.extractall(into)
    except zipfile.BadZipFile as exc:
        raise ValueError(f"{archive}: not a valid zip archive ({exc})") from None


def _expected_sha(remote: _Remote, override, recorded: Dict[str, str]) -> Optional[str]:
    if isinstance(override, str):
        return override.lower()
    if isinstance(override, dict) and remote.filename in override:
        return str(override[remote.filename]).lower()
    return remote.sha256 or recorded.get(remote.filename)


def fetch(name: str, data_home=None, base_url: Optional[str] = None, *,
          sha256: Union[None, str, Dict[str, str]] = None, force: bool = False, timeout: float = 60.0,
          show_progress: Optional[bool] = None) -> Path:
    """Downloads a public dataset (once) and returns the folder holding its files.

    Parameters
    ----------
    name : str
        One of :func:`available_datasets`: ``"ml-latest-small"``, ``"ml-100k"``, ``"ml-1m"``,
        ``"ml-10m"``, ``"ml-20m"``, ``"ml-25m"``, ``"ml-32m"``, ``"amazon-video-sasrec"``,
        ``"gowalla-lightgcn"``.
    data_home : str or path, optional
        Cache folder (default ``$ADVREC_DATA_HOME`` or ``~/.cache/advrec``).
    base_url : str, optional
        Mirror to download from instead of the official source (default ``$ADVREC_BASE_URL``):
        files are fetched as ``<base_url>/<file name>``.
    sha256 : str or dict, optional
        Expected checksum overriding the pinned one (a string for single-file datasets, else a
        dict file name -> checksum), e.g. for a repackaged mirror.
    force : bool, default False
        Download again even if the dataset is cached.
    timeout : float, default 60
        Network timeout in seconds.
    show_progress : bool or None
        Show a download progress bar; None (default): only when interactive (stderr is a terminal,
        or a Jupyter kernel).

    Returns
    -------
    pathlib.Path
        ``<data_home>/<name>``, containing the dataset files (for MovieLens archives, the contents of
        the archive's top folder, e.g. ``ratings.csv``): pass it to the matching loader.

    Raises
    ------
    ValueError
        Unknown ``name``.
    DownloadError
        The download failed (e.g. offline); the message says where to put the file by hand.
    ChecksumError
        A downloaded file has the wrong sha256 (it is deleted).
    """
    if not isinstance(name, str) or name not in _DATASETS:
        raise ValueError(f"unknown dataset {name!r}; available: {', '.join(sorted(_DATASETS))}")
    if sha256 is not None and not isinstance(sha256, (str, dict)):
        raise TypeError("sha256 must be a hex string or a dict of file name -> hex string")
    spec = _DATASETS[name]
    if isinstance(sha256, str) and len(spec.files) != 1:
        raise ValueError(f"dataset {name!r} has {len(spec.files)} files: give sha256 as a dict file name -> checksum")
    home = get_data_home(data_home)
    target = home / name
    marker = target / _MARKER
    if marker.is_file() and not force:
        return target
    if base_url is None:
        base_url = os.environ.get("ADVREC_BASE_URL") or None
    home.mkdir(parents=True, exist_ok=True)
    downloads = home / "downloads"
    recorded_path = home / "recorded-sha256.json"
    try:
        recorded = json.loads(recorded_path.read_text()) if recorded_path.is_file() else {}
    except ValueError:
        recorded = {}
    recorded_here = {k.split("/", 1)[1]: v for k, v in recorded.items() if k.startswith(name + "/")}

    # (re)build into a staging folder, moved into place only when complete
    staging = Path(tempfile.mkdtemp(prefix=f".{name}.", dir=home))
    checksums: Dict[str, str] = {}
    try:
        for remote in spec.files:
            url = remote.url if not base_url else base_url.rstrip("/") + "/" + remote.filename
            expected = _expected_sha(remote, sha256, recorded_here)
            dest = downloads / name / remote.filename
            dest.parent.mkdir(parents=True, exist_ok=True)
            have = None
            if dest.is_file() and not force:  # an earlier download, or a file placed by hand
                have = _sha256(dest)
                if expected is not None and have != expected:
                    have = None  # stale or foreign file: download again
            if have is None:
                _log.info("advrec: downloading %s from %s", remote.filename, url)
                have = _download(url, dest, name, timeout, show_progress)
            if expected is None:
                warnings.warn(f"advrec: no pinned sha256 for {remote.filename}; recording {have} and "
                              "enforcing it from now on", UserWarning, stacklevel=2)
                recorded[f"{name}/{remote.filename}"] = have
                recorded_path.write_text(json.dumps(recorded, indent=1, sort_keys=True))
            elif have != expected:
                dest.unlink(missing_ok=True)
                raise ChecksumError(f"sha256 mismatch for {remote.filename} from {url}: expected {expected}, "
                                    f"got {have}. The download was deleted; if you use a repackaged "
                                    "mirror pass its checksum with sha256=")
            checksums[remote.filename] = have
            if not remote.extract:
                shutil.copyfile(dest, staging / remote.filename)
            else:
                unpack = staging / ".unpack"
                _safe_extract(dest, unpack)
                entries = [p for p in unpack.iterdir() if not p.name.startswith("__MACOSX")]
                root = entries[0] if len(entries) == 1 and entries[0].is_dir() else unpack
                for p in list(root.iterdir()):
                    os.replace(p, staging / p.name)
                shutil.rmtree(unpack, ignore_errors=True)
        (staging / _MARKER).write_text(json.dumps({"name": name, "sha256": checksums}, indent=1))
        if target.exists():
            shutil.rmtree(target)
        os.replace(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target
