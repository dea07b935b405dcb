"""Vector store access: Chroma embedded (PersistentClient) or a Chroma server (HttpClient)."""

from __future__ import annotations

import atexit
import logging
import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ground.errors import StoreUnavailableError

if TYPE_CHECKING:
    from chromadb.api import ClientAPI
    from chromadb.api.models.Collection import Collection

    from ground.config import Settings
    from ingest.split import Chunk

log = logging.getLogger(__name__)


def chroma_settings() -> Any:
    from chromadb.config import Settings as ChromaSettings

    return ChromaSettings(anonymized_telemetry=False, allow_reset=False)


def open_client(settings: Settings, build_dir: Path) -> ClientAPI:
    """The Chroma client for a build: a local store inside the build folder, or the configured server."""
    import chromadb

    if settings.store == "embedded":
        return chromadb.PersistentClient(path=str(build_dir / "chroma"), settings=chroma_settings())
    headers = {}
    if settings.chroma_token:  # an empty value (compose passes unset variables as "") means no token
        headers["Authorization"] = f"Bearer {settings.chroma_token.get_secret_value()}"
    try:
        return chromadb.HttpClient(
            host=settings.chroma_host,
            port=settings.chroma_port,
            ssl=settings.chroma_ssl,
            headers=headers or None,
            settings=chroma_settings(),
        )
    except Exception as exc:  # chromadb raises plain Exception/ValueError when the server is down
        raise StoreUnavailableError(server_down_message(settings)) from exc


def private_copy(build_dir: Path, replicas_dir: Path) -> Path:
    """A copy of a build's embedded Chroma store that only this process opens; returns a folder to give
    `open_client` in place of the build folder.

    Chroma's PersistentClient is not process-safe and writes to its folder even to read, so API worker
    processes never open the build's own store: each reads its private copy of it (the build is
    complete and never changes once `CURRENT` names it). The copy is removed when the process exits;
    copies left by killed processes are removed by the next one.
    """
    prune_copies(replicas_dir)
    dest = replicas_dir / f"{build_dir.name}.{os.getpid()}"
    if not (dest / "chroma").is_dir():
        tmp = replicas_dir / f".{dest.name}.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.copytree(build_dir / "chroma", tmp / "chroma")
        tmp.rename(dest)
        atexit.register(shutil.rmtree, dest, ignore_errors=True)
    return dest


def prune_copies(replicas_dir: Path) -> None:
    """Remove the private copies of processes that are gone."""
    if not replicas_dir.is_dir():
        return
    for copy in replicas_dir.iterdir():
        pid = copy.name.removesuffix(".tmp").rsplit(".", 1)[-1]  # <build>.<pid> or .<build>.<pid>.tmp
        if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
            shutil.rmtree(copy, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def server_down_message(settings: Settings) -> str:
    return (
        f"Chroma サーバー（{settings.chroma_host}:{settings.chroma_port}）に接続できません。"
        "サーバーが起動しているか確認してください（例: `chroma run --path var/chroma --port "
        f"{settings.chroma_port}`）。"
    )


def collection_name(settings: Settings, build_id: str) -> str:
    """Embedded stores hold one collection per build folder; a server holds one per build, by name."""
    return "chunks" if settings.store == "embedded" else f"{settings.collection_prefix}-{build_id}"


def write_collection(
    client: ClientAPI, name: str, chunks: list[Chunk], embeddings: np.ndarray, metadata: dict[str, Any]
) -> None:
    """Create the collection (cosine space, our own embeddings — never Chroma's default embedder)."""
    existing = {c.name for c in client.list_collections()}
    if name in existing:
        client.delete_collection(name)
    collection = client.create_collection(
        name=name,
        metadata=metadata,
        configuration={"hnsw": {"space": "cosine"}},
        embedding_function=None,
    )
    batch = 256
    for i in range(0, len(chunks), batch):
        part = chunks[i : i + batch]
        collection.add(
            ids=[c.chunk_id for c in part],
            embeddings=embeddings[i : i + batch].tolist(),
            documents=[c.text for c in part],
            metadatas=[chunk_metadata(c) for c in part],
        )


def chunk_metadata(chunk: Chunk) -> dict[str, Any]:
    return {
        "doc_id": chunk.doc_id,
        "title": chunk.title,
        "page": chunk.page,
        "heading": chunk.heading or "",
        "start": chunk.start,
        "end": chunk.end,
        "clause": chunk.clause or "",
    }


def get_collection(client: ClientAPI, name: str) -> Collection:
    return client.get_collection(name=name, embedding_function=None)


def drop_collections(client: ClientAPI, prefix: str, keep: set[str]) -> None:
    """Remove a server's old build collections (ours only: those with our prefix)."""
    for col in client.list_collections():
        if col.name.startswith(f"{prefix}-") and col.name not in keep:
            log.info("dropping old collection %s", col.name)
            client.delete_collection(col.name)
