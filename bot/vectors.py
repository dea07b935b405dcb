"""Vectors of fixed example questions (router examples, advice cards), kept on disk between starts.

Embedding a few hundred example questions costs seconds on a quiet machine and far more on a busy one;
they only change when the data files or the model change, so each vector is stored under the model id
and the text's hash and computed once.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)


def _key(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


def cache_path(cache_dir: Path, model_id: str) -> Path:
    return cache_dir / f"questions-{re.sub(r'[^A-Za-z0-9._-]+', '_', model_id)}.npz"


def question_vectors(
    texts: Sequence[str], embed: Callable[[list[str]], np.ndarray], path: Path | None
) -> np.ndarray:
    """One query vector per text: read from `path` where present, the rest embedded and written back."""
    stored: dict[str, np.ndarray] = {}
    if path is not None and path.is_file():
        try:
            with np.load(path) as data:
                stored = {k: data[k] for k in data.files}
        except (OSError, ValueError) as exc:
            log.warning("question vector cache %s unreadable, rebuilding: %s", path, exc)
    missing = list(dict.fromkeys(t for t in texts if _key(t) not in stored))
    if missing:
        for text, vector in zip(missing, embed(missing), strict=True):
            stored[_key(text)] = np.asarray(vector, dtype=np.float32)
        if path is not None:
            _write(path, stored)
    if not texts:
        return np.zeros((0, 0), dtype=np.float32)
    return np.vstack([stored[_key(t)] for t in texts]).astype(np.float32)


def _write(path: Path, stored: dict[str, np.ndarray]) -> None:
    """Write atomically: concurrent API workers may read the file while another writes it."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp.npz")
        np.savez(tmp, **stored)  # type: ignore[arg-type]
        os.replace(tmp, path)
    except OSError as exc:
        log.warning("cannot write question vector cache %s: %s", path, exc)
