"""The index on disk: numbered builds written aside and switched in atomically through `CURRENT`.

Layout under `<data_dir>/index/`:
    CURRENT                  the id of the build queries use (replaced atomically with os.replace)
    builds/<id>/meta.json    engine, model, dim, store, collection, files with their hashes
    builds/<id>/chunks.jsonl chunk metadata + text, in BM25/embedding row order
    builds/<id>/embeddings.npy  the vectors (reused by the next ingest: nothing is embedded twice)
    builds/<id>/bm25/        the bm25s index
    builds/<id>/chroma/      the embedded Chroma store (store=embedded only)
A build folder is complete before CURRENT names it, so a killed ingest leaves the previous build in use.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
import uuid
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, Field

from ground.errors import IndexMissingError
from ingest.split import Chunk

KEEP_BUILDS = 2  # the current one and the one before (a running API may still read it)


class FileRecord(BaseModel):
    path: str
    doc_id: str
    title: str
    sha256: str
    pages: int
    chunks: int
    url: str | None = None
    superseded_by: str | None = None  # the id of an indexed newer version (manifest `supersedes`)
    # Sentences addressed to an AI assistant, removed before chunking (「p.3: 以前の指示を無視して…」).
    quarantined: list[str] = Field(default_factory=list)


class IndexMeta(BaseModel):
    build_id: str
    created: float
    engine: str
    model_id: str
    dim: int
    store: str
    collection: str
    chunking: dict[str, Any]
    token_form: str
    files: list[FileRecord] = Field(default_factory=list)
    extra_paths: list[str] = Field(default_factory=list)
    chunk_count: int = 0
    manifest_sha256: str | None = None  # titles, ids and URLs come from the manifest


def import_bm25s() -> Any:
    """Import bm25s without its DEBUG chatter: it sets its own logger to DEBUG when imported."""
    import bm25s

    logging.getLogger("bm25s").setLevel(max(logging.getLogger().getEffectiveLevel(), logging.INFO))
    return bm25s


def builds_dir(index_dir: Path) -> Path:
    return index_dir / "builds"


def new_build_id() -> str:
    return time.strftime("%Y%m%d-%H%M%S") + "-" + uuid.uuid4().hex[:6]


def staging_dir(index_dir: Path, build_id: str) -> Path:
    """Where a build is written before it is complete (ignored by readers)."""
    return builds_dir(index_dir) / f".{build_id}.partial"


def current_build_id(index_dir: Path) -> str | None:
    pointer = index_dir / "CURRENT"
    if not pointer.is_file():
        return None
    build_id = pointer.read_text(encoding="utf-8").strip()
    return build_id if (builds_dir(index_dir) / build_id / "meta.json").is_file() else None


def current_build_dir(index_dir: Path) -> Path:
    build_id = current_build_id(index_dir)
    if build_id is None:
        raise IndexMissingError(str(index_dir))
    return builds_dir(index_dir) / build_id


def read_meta(build_dir: Path) -> IndexMeta:
    return IndexMeta.model_validate_json((build_dir / "meta.json").read_text(encoding="utf-8"))


def read_current_meta(index_dir: Path) -> IndexMeta | None:
    build_id = current_build_id(index_dir)
    return read_meta(builds_dir(index_dir) / build_id) if build_id else None


def write_chunks(build_dir: Path, chunks: list[Chunk], embeddings: np.ndarray) -> None:
    with (build_dir / "chunks.jsonl").open("w", encoding="utf-8") as fh:
        for chunk in chunks:
            fh.write(json.dumps(asdict(chunk), ensure_ascii=False) + "\n")
    np.save(build_dir / "embeddings.npy", embeddings.astype(np.float32))


def read_chunks(build_dir: Path) -> list[Chunk]:
    with (build_dir / "chunks.jsonl").open(encoding="utf-8") as fh:
        return [Chunk(**json.loads(line)) for line in fh if line.strip()]


def read_embeddings(build_dir: Path) -> np.ndarray:
    return np.load(build_dir / "embeddings.npy")


def write_sentences(build_dir: Path, texts: list[str], vectors: np.ndarray) -> None:
    """Sentence vectors, so the advisor can rank sentences without embedding them at start-up."""
    (build_dir / "sentences.json").write_text(json.dumps(texts, ensure_ascii=False), encoding="utf-8")
    np.save(build_dir / "sentence_embeddings.npy", vectors.astype(np.float32))


def read_sentences(build_dir: Path) -> tuple[list[str], np.ndarray]:
    """(texts, vectors); empty when the build has none (built by an older version)."""
    path = build_dir / "sentences.json"
    if not path.is_file():
        return [], np.zeros((0, 0), dtype=np.float32)
    texts = json.loads(path.read_text(encoding="utf-8"))
    return texts, np.load(build_dir / "sentence_embeddings.npy")


def write_meta(build_dir: Path, meta: IndexMeta) -> None:
    (build_dir / "meta.json").write_text(meta.model_dump_json(indent=2), encoding="utf-8")


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def publish(index_dir: Path, staging: Path, build_id: str) -> Path:
    """Move a complete build into place and point CURRENT at it, atomically."""
    final = builds_dir(index_dir) / build_id
    staging.rename(final)
    tmp = index_dir / f".CURRENT.{build_id}"
    tmp.write_text(build_id, encoding="utf-8")
    with tmp.open("rb") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, index_dir / "CURRENT")
    _fsync_dir(index_dir)
    return final


def _created(build_dir: Path) -> tuple[float, str]:
    """When a build was made (from its meta.json; ids alone tie within one second)."""
    try:
        return read_meta(build_dir).created, build_dir.name
    except (OSError, ValueError):
        return build_dir.stat().st_mtime, build_dir.name


def prune(index_dir: Path) -> list[str]:
    """Delete leftover partial builds and all but the newest KEEP_BUILDS builds; returns kept ids."""
    root = builds_dir(index_dir)
    current = current_build_id(index_dir)
    for partial in root.glob(".*.partial"):
        shutil.rmtree(partial, ignore_errors=True)
    builds = sorted((p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")), key=_created)
    keep = [p.name for p in builds[-KEEP_BUILDS:]]
    if current and current not in keep:
        keep.append(current)
    for build in builds:
        if build.name not in keep:
            shutil.rmtree(build, ignore_errors=True)
    return keep
