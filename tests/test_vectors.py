"""Example-question vectors (bot.vectors): shipped for the default model, never embedded at start-up."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bot import vectors
from bot.advisor import Advisor
from tests.conftest import BuiltIndex


def test_shipped_vectors_cover_every_example_question(embedder) -> None:  # type: ignore[no-untyped-def]
    shipped = vectors._read(vectors.shipped_path(embedder.model_id))
    missing = [t for t in vectors.example_questions() if vectors._key(t) not in shipped]
    assert not missing, (
        f"{len(missing)} 件の質問例のベクトルがありません。`make vectors` を実行してください: {missing[:3]}"
    )
    # …and they are this model's vectors of those texts (a sample, embedded now).
    sample = vectors.example_questions()[::97]
    fresh = embedder.embed_queries(sample)
    stored = np.vstack([shipped[vectors._key(t)] for t in sample]).astype(np.float32)
    assert np.allclose((fresh * stored).sum(axis=1), 1.0, atol=1e-3)


def test_a_start_embeds_no_example_question(built_index: BuiltIndex, tmp_path: Path) -> None:
    settings, index = built_index
    calls: list[int] = []
    real = index.embedder.embed_queries

    def counting(texts):  # type: ignore[no-untyped-def]
        calls.append(len(texts))
        return real(texts)

    index.embedder.embed_queries = counting  # type: ignore[method-assign]
    try:
        Advisor(settings.model_copy(update={"data_dir": tmp_path}), index)
    finally:
        del index.embedder.embed_queries
    assert calls == []
    assert not (tmp_path / "cache").exists()


def test_other_models_are_prepared_once(tmp_path: Path, embedder) -> None:  # type: ignore[no-untyped-def]
    made: list[int] = []

    def make():  # type: ignore[no-untyped-def]
        made.append(1)
        return embedder.embed_queries

    assert vectors.prepare("another/model", tmp_path, make) == len(vectors.example_questions())
    assert vectors.prepare("another/model", tmp_path, make) == 0
    assert made == [1]  # the second run needed no embedder at all
    assert vectors.cache_path(tmp_path, "another/model").is_file()
