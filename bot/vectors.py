"""Vectors of fixed example questions (router examples, advice cards): never embedded at start-up.

Embedding the ~570 example questions costs 8 s on a quiet machine and far more on a busy one; they only
change when the data files or the model change. So each vector is stored under the model id and the
text's hash, in two places:
    bot/data/vectors/<model>.npz      shipped with the package for the default model (`make vectors`)
    <data_dir>/cache/questions-<model>.npz  the rest, computed once (by `dxnavi ingest`, or at a start)
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from bot.catalog import DATA_DIR
from ingest.normalize import nfkc

log = logging.getLogger(__name__)

SHIPPED_DIR = DATA_DIR / "vectors"


def _key(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


def _model_file(model_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", model_id)


def cache_path(cache_dir: Path, model_id: str) -> Path:
    return cache_dir / f"questions-{_model_file(model_id)}.npz"


def shipped_path(model_id: str) -> Path:
    return SHIPPED_DIR / f"{_model_file(model_id)}.npz"


def example_questions() -> list[str]:
    """Every fixed text the advisor embeds as a query: router examples, card titles and questions, then the
    labelled messages that vote for their cards."""
    from bot.cards import asked_before, cards
    from bot.catalog import intent_examples

    router = [q for questions in intent_examples().values() for q in questions]
    deck = [nfkc(text) for card in cards() for text in [card.title, *card.questions]]
    asked = [nfkc(a.text) for a in asked_before()]
    return list(dict.fromkeys(router + deck + asked))


def _read(path: Path | None) -> dict[str, np.ndarray]:
    if path is None or not path.is_file():
        return {}
    try:
        with np.load(path) as data:
            return {k: data[k] for k in data.files}
    except (OSError, ValueError) as exc:
        log.warning("question vector file %s unreadable, rebuilding: %s", path, exc)
        return {}


class ExampleVectors:
    """One model's example-question vectors, read once from the shipped file and the cache; texts not
    found there are embedded (the embedder is asked for only then) and added to the cache."""

    def __init__(
        self, model_id: str, cache_dir: Path, embedder: Callable[[], Callable[[list[str]], np.ndarray]]
    ) -> None:
        self.path = cache_path(cache_dir, model_id)
        self._embedder = embedder
        self._stored = {**_read(shipped_path(model_id)), **_read(self.path)}

    def missing(self, texts: Sequence[str]) -> list[str]:
        return list(dict.fromkeys(t for t in texts if _key(t) not in self._stored))

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        """One query vector per text, in order."""
        missing = self.missing(texts)
        if missing:
            log.info("embedding %d example questions (kept in %s)", len(missing), self.path)
            vectors = self._embedder()(missing)
            fresh = {_key(t): np.asarray(v, dtype=np.float32) for t, v in zip(missing, vectors, strict=True)}
            self._stored.update(fresh)
            _write(self.path, {**_read(self.path), **fresh})  # the shipped ones stay in their file
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        return np.vstack([self._stored[_key(t)] for t in texts]).astype(np.float32)


def prepare(model_id: str, cache_dir: Path, embed: Callable[[], Callable[[list[str]], np.ndarray]]) -> int:
    """Embed the example questions that are neither shipped nor cached (run by `dxnavi ingest`, so
    that the first start after it embeds nothing); `embed` is called only if some are missing.
    Returns how many were embedded."""
    examples = ExampleVectors(model_id, cache_dir, embed)
    missing = examples.missing(example_questions())
    examples(missing)
    return len(missing)


def write_shipped(model_id: str, embed: Callable[[list[str]], np.ndarray]) -> Path:
    """Regenerate the shipped vectors for a model from the current data files (`make vectors`)."""
    texts = example_questions()
    vectors = embed(texts)
    path = shipped_path(model_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = {_key(t): np.asarray(v, dtype=np.float16) for t, v in zip(texts, vectors, strict=True)}
    np.savez_compressed(path, **arrays)  # type: ignore[arg-type]
    return path


def main() -> None:
    """`python -m bot.vectors`: rewrite the default model's shipped vectors after editing the data files."""
    from ground.config import load_settings
    from ingest.embed import embedder_from_settings

    settings = load_settings()
    embedder = embedder_from_settings(settings)
    path = write_shipped(embedder.model_id, embedder.embed_queries)
    print(f"{len(example_questions())} 件の質問例のベクトルを書きました: {path}")


def _write(path: Path, stored: dict[str, np.ndarray]) -> None:
    """Write atomically: concurrent API workers may read the file while another writes it."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp.npz")
        np.savez(tmp, **stored)  # type: ignore[arg-type]
        os.replace(tmp, path)
    except OSError as exc:
        log.warning("cannot write question vector cache %s: %s", path, exc)


if __name__ == "__main__":
    main()
