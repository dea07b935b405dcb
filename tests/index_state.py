"""What an index folder holds right now (its CURRENT build, chunk ids, Chroma records, half-written
builds), and a quiet ingest: for the pipeline tests and the reliability suite."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ground.config import Settings
from ingest import index as idx
from ingest.embed import Embedder
from ingest.pipeline import IngestReport, run_ingest
from ingest.store import get_collection, open_client


def ingest(settings: Settings, embedder: Embedder, **kwargs: object) -> IngestReport:
    return run_ingest(settings, lambda: embedder, progress=False, **kwargs)  # type: ignore[arg-type]


def current_ids(settings: Settings) -> list[str]:
    return [c.chunk_id for c in idx.read_chunks(idx.current_build_dir(settings.index_dir))]


def chroma_records(settings: Settings) -> dict[str, Mapping[str, Any]]:
    """chunk id → metadata, read straight from the current build's Chroma collection."""
    build = idx.current_build_dir(settings.index_dir)
    meta = idx.read_meta(build)
    got = get_collection(open_client(settings, build), meta.collection).get(include=["metadatas"])
    return dict(zip(got["ids"], got["metadatas"] or [], strict=True))


def current_pointer(settings: Settings) -> str:
    return (settings.index_dir / "CURRENT").read_text(encoding="utf-8")


def partial_builds(settings: Settings) -> list[Path]:
    return list(idx.builds_dir(settings.index_dir).glob(".*.partial"))
