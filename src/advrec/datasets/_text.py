"""Fast parsing of whitespace-separated numeric text files, with line-numbered errors.

The fast path is vectorised NumPy over the raw bytes: one pass validates the characters and finds
where every token starts (to know its line), and ``np.fromstring`` converts all tokens at C speed.
Only when something is wrong does a slow Python scan run, to name the offending line.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Callable, Optional, Tuple

import numpy as np

_WS = np.zeros(256, dtype=bool)
_WS[[9, 10, 13, 32]] = True  # tab, newline, carriage return, space
_INT_OK = _WS.copy()
_INT_OK[48:58] = True  # digits
_FLOAT_OK = _INT_OK.copy()
_FLOAT_OK[[ord(c) for c in ".-+eE"]] = True


def check_file(path) -> Path:
    """Returns ``path`` as a Path; FileNotFoundError naming it when it is not a readable file."""
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or os.PathLike, got {type(path).__name__}")
    p = Path(path).expanduser()
    if not p.is_file():
        if p.is_dir():
            raise FileNotFoundError(f"expected a file but found a folder: {p}")
        raise FileNotFoundError(f"no such file: {p}")
    return p


def check_folder(folder) -> Path:
    """Returns ``folder`` as a Path; FileNotFoundError naming it when it is not a folder."""
    if not isinstance(folder, (str, os.PathLike)):
        raise TypeError(f"folder must be a str or os.PathLike, got {type(folder).__name__}")
    p = Path(folder).expanduser()
    if not p.is_dir():
        raise FileNotFoundError(f"no such folder: {p}")
    return p


def line_error(path, lineno: int, message: str) -> ValueError:
    return ValueError(f"{path}, line {lineno}: {message}")


def scan_for_error(path, parse_line: Callable[[str], None], skip: int = 0, encoding: str = "utf-8",
                   cause: Optional[BaseException] = None) -> ValueError:
    """Slow path: finds the first line that ``parse_line`` rejects and returns a ValueError naming it.

    ``parse_line`` raises ValueError with a short reason for a bad line; empty lines are skipped.
    """
    with open(path, "r", encoding=encoding, errors="replace", newline="") as fh:
        for lineno, line in enumerate(fh, start=1):
            if lineno <= skip:
                continue
            text = line.rstrip("\r\n")
            if not text.strip():
                continue
            try:
                parse_line(text)
            except (ValueError, IndexError) as exc:
                return line_error(path, lineno, str(exc) or "malformed line")
    detail = f" ({cause})" if cause is not None else ""
    return ValueError(f"{path}: could not parse the file{detail}")


def _first_bad_line(buf: np.ndarray, bad: np.ndarray) -> Tuple[int, str]:
    pos = int(np.flatnonzero(bad)[0])
    lineno = int(np.count_nonzero(buf[:pos] == 10)) + 1
    return lineno, chr(int(buf[pos]))


def read_tokens(path, *, floats: bool = False, translate: bytes = b"", skip_lines: int = 0
                ) -> Tuple[np.ndarray, np.ndarray, int]:
    """Reads every whitespace-separated number of a text file.

    Parameters
    ----------
    path : path of an existing file
    floats : parse as float64 (allows ``.``, ``-``, ``e``); otherwise non-negative integers (int64)
    translate : characters turned into spaces before parsing (e.g. ``b"(),"``)
    skip_lines : number of leading lines (headers) ignored

    Returns
    -------
    values : int64 or float64 array, one entry per token
    line : int64 array, the 1-based line number of every token
    n_lines : number of lines in the file
    """
    data = Path(path).read_bytes()
    if translate:
        data = data.translate(bytes.maketrans(translate, b" " * len(translate)))
    offset_lines = 0
    if skip_lines:
        cut = 0
        for _ in range(skip_lines):
            nxt = data.find(b"\n", cut)
            if nxt < 0:
                cut = len(data)
                break
            cut = nxt + 1
        offset_lines = skip_lines
        data = data[cut:]
    buf = np.frombuffer(data, dtype=np.uint8)
    ok = (_FLOAT_OK if floats else _INT_OK)[buf]
    if not ok.all():
        lineno, ch = _first_bad_line(buf, ~ok)
        what = "numbers" if floats else "non-negative integer ids"
        raise line_error(path, lineno + offset_lines,
                         f"unexpected character {ch!r} (expected {what} separated by whitespace)")
    is_tok = ~_WS[buf]
    edges = np.diff(is_tok.view(np.int8), prepend=np.int8(0), append=np.int8(0))
    starts = np.flatnonzero(edges == 1)
    ends = np.flatnonzero(edges == -1)
    newlines = np.flatnonzero(buf == 10)
    n_lines = int(newlines.size + (1 if buf.size and buf[-1] != 10 else 0)) + offset_lines
    line = np.searchsorted(newlines, starts).astype(np.int64) + 1 + offset_lines
    if not floats and starts.size:
        lengths = ends - starts
        if lengths.max() > 18:
            k = int(np.argmax(lengths > 18))
            raise line_error(path, int(line[k]), "id with more than 18 digits")
    # integer parsing is several times faster than float parsing: use it when the file allows
    as_int = not floats or not (ok & ~_INT_OK[buf]).any()
    if starts.size == 0:
        values = np.zeros(0, dtype=np.int64 if as_int else np.float64)
    else:
        if as_int and floats and int((ends - starts).max()) > 15:
            as_int = False  # beyond 2**53 a float64 column could not hold the value exactly anyway
        with warnings.catch_warnings():
            # unparsable text: older NumPy warns and stops early, newer NumPy raises
            warnings.simplefilter("ignore", DeprecationWarning)
            try:
                values = np.fromstring(data.decode("ascii"), dtype=np.int64 if as_int else np.float64, sep=" ")
            except ValueError:
                values = np.zeros(0)
    if floats and as_int:
        values = values.astype(np.float64)
    if values.size != starts.size:
        # a token the C parser rejected (only possible with floats, e.g. "1.2.3" or "--1")
        tokens = data.split()
        for k, tok in enumerate(tokens):
            try:
                float(tok)
            except ValueError:
                raise line_error(path, int(line[k]), f"cannot parse {tok.decode('ascii')!r} as a number") from None
        raise ValueError(f"{path}: could not parse the file")  # pragma: no cover
    if floats and not np.all(np.isfinite(values)):
        k = int(np.flatnonzero(~np.isfinite(values))[0])
        raise line_error(path, int(line[k]), "non-finite number")
    return values, line, n_lines


def fixed_columns(path, values: np.ndarray, line: np.ndarray, n_lines: int, min_cols: int, max_cols: int,
                  what: str) -> np.ndarray:
    """Reshapes tokens into rows: every non-empty line must have the same number of tokens, between
    ``min_cols`` and ``max_cols``. Returns a (rows, ncols) array."""
    counts = np.bincount(line, minlength=n_lines + 1)
    nonempty = counts > 0
    if not nonempty.any():
        raise ValueError(f"{path}: the file is empty (expected {what})")
    first_line = int(np.argmax(nonempty))
    ncols = int(counts[first_line])
    if not min_cols <= ncols <= max_cols:
        raise line_error(path, first_line, f"expected {what}, found {ncols} fields")
    bad = nonempty & (counts != ncols)
    if bad.any():
        k = int(np.argmax(bad))
        raise line_error(path, k, f"expected {ncols} fields like the first line ({what}), found {int(counts[k])}")
    return values.reshape(-1, ncols)


def check_integral(path, col: np.ndarray, line_of_row: np.ndarray, name: str) -> np.ndarray:
    """Float column -> int64, with a line-numbered error for negative or fractional values."""
    bad = (col < 0) | (col != np.floor(col))
    if bad.any():
        k = int(np.argmax(bad))
        raise line_error(path, int(line_of_row[k]), f"{name} must be a non-negative integer, got {col[k]!r}")
    if col.size and col.max() >= 2.0 ** 53:
        k = int(np.argmax(col >= 2.0 ** 53))
        raise line_error(path, int(line_of_row[k]), f"{name} is too large")
    return col.astype(np.int64)
