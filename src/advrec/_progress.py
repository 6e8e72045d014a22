"""When progress bars are drawn: ``show_progress=None`` (the default everywhere) means "only when
someone watches": standard error is a terminal, or the code runs in a Jupyter kernel. Captured logs
(CI, batch jobs, ``2> file``) then stay free of bar redraws."""

from __future__ import annotations

import sys
from typing import Optional


def _in_jupyter_kernel() -> bool:
    shell = sys.modules.get("IPython")
    if shell is None or "ipykernel" not in sys.modules:
        return False
    try:
        ip = shell.get_ipython()
    except Exception:  # pragma: no cover - exotic IPython builds
        return False
    return ip is not None and "IPKernelApp" in getattr(ip, "config", {})


def enabled(show_progress: Optional[bool]) -> bool:
    """Resolves a ``show_progress`` argument: True/False as given, None -> interactive or not."""
    if show_progress is not None:
        return bool(show_progress)
    try:
        if sys.stderr is not None and sys.stderr.isatty():
            return True
    except (AttributeError, ValueError):  # closed or replaced streams
        pass
    return _in_jupyter_kernel()
