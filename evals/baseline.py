"""The naive RAG baseline measured beside dxnavi: LangChain RecursiveCharacterTextSplitter(500, overlap 50),
dense-only top-5 over an in-memory Chroma with the same embedding model; answer = top chunk, no refusal."""

from __future__ import annotations

import hashlib
import logging
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from bot.schemas import ChatResponse, Citation, RetrievedChunk
from ground.errors import IngestError, LoadError
from ingest.normalize import nfkc

if TYPE_CHECKING:
    from ground.config import Settings
    from ingest.embed import Embedder

log = logging.getLogger(__name__)

CHUNK_SIZE = 500
CHUNK_OVERLAP = 50
TOP_K = 5


@dataclass(frozen=True)
class NaiveChunk:
    chunk_id: str
    doc_id: str
    title: str
    page: int
    text: str


def corpus_files(settings: Settings) -> list[Path]:
    """The same files ingest reads: the corpus folder plus the extra paths of the current index."""
    from ingest import index as idx
    from ingest.load import SUPPORTED_SUFFIXES
    from ingest.pipeline import discover

    meta = idx.read_current_meta(settings.index_dir)
    extra = [Path(p) for p in (meta.extra_paths if meta else []) if Path(p).exists()]
    return [p for p in discover(settings.corpus_dir, extra) if p.suffix.lower() in SUPPORTED_SUFFIXES]


def split_corpus(settings: Settings) -> list[NaiveChunk]:
    """Load every corpus file (raw page text, NFKC only) and cut it with RecursiveCharacterTextSplitter."""
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    from ingest.load import load_document
    from ingest.manifest import doc_id_for, load_manifest

    splitter = RecursiveCharacterTextSplitter(chunk_size=CHUNK_SIZE, chunk_overlap=CHUNK_OVERLAP)
    manifest = load_manifest(settings.corpus_dir)
    chunks: list[NaiveChunk] = []
    for path in corpus_files(settings):
        try:
            doc = load_document(path)
        except LoadError as exc:
            log.warning("baseline skips %s: %s", path, exc.message)
            continue
        info = manifest.get(path.name)
        doc_id = info.id if info else doc_id_for(path)
        title = info.title if info else (doc.title_hint or path.stem)
        for page in doc.pages:
            for i, text in enumerate(splitter.split_text(nfkc(page.text))):
                if text.strip():
                    chunks.append(
                        NaiveChunk(f"naive-{doc_id}-p{page.number}-{i}", doc_id, title, page.number, text)
                    )
    if not chunks:
        raise IngestError(f"ベースライン用に読める文書が {settings.corpus_dir} にありません。")
    return chunks


def _cache_key(engine: str, model_id: str, text: str) -> str:
    return hashlib.sha1(f"{engine}\n{model_id}\n{text}".encode()).hexdigest()


def embed_chunks(embedder: Embedder, texts: list[str], cache_file: Path | None = None) -> np.ndarray:
    """Embed chunk texts; with a cache file, texts embedded by an earlier run are not embedded again."""
    keys = [_cache_key(embedder.engine, embedder.model_id, t) for t in texts]
    cached: dict[str, np.ndarray] = {}
    if cache_file is not None and cache_file.is_file():
        try:
            with np.load(cache_file) as data:
                cached = dict(zip(data["keys"].tolist(), data["vectors"], strict=True))
        except (OSError, ValueError, KeyError) as exc:
            log.warning("ignoring unreadable baseline embedding cache %s: %s", cache_file, exc)
    todo = [i for i, key in enumerate(keys) if key not in cached]
    if todo:
        vectors = embedder.embed_documents([texts[i] for i in todo])
        for i, vector in zip(todo, vectors, strict=True):
            cached[keys[i]] = vector
        if cache_file is not None:
            cache_file.parent.mkdir(parents=True, exist_ok=True)
            np.savez(cache_file, keys=np.array(keys), vectors=np.stack([cached[k] for k in keys]))
    return np.stack([cached[k] for k in keys]).astype(np.float32)


class NaiveBaseline:
    """The naive configuration, built in memory for one eval or bench run."""

    def __init__(self, chunks: list[NaiveChunk], embedder: Embedder, embeddings: np.ndarray) -> None:
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        if len(chunks) != len(embeddings):
            raise ValueError("embeddings: one vector per chunk is required")
        self.chunks = chunks
        self.by_id = {c.chunk_id: c for c in chunks}
        self.embedder = embedder
        client = chromadb.EphemeralClient(settings=ChromaSettings(anonymized_telemetry=False))
        # Ephemeral clients share one in-memory system per process: a unique name keeps runs apart.
        self._collection: Any = client.create_collection(
            name=f"naive-{uuid.uuid4().hex[:12]}",
            configuration={"hnsw": {"space": "cosine"}},
            embedding_function=None,
        )
        for start in range(0, len(chunks), 256):
            part = chunks[start : start + 256]
            self._collection.add(
                ids=[c.chunk_id for c in part],
                embeddings=embeddings[start : start + 256],
                documents=[c.text for c in part],
            )

    @classmethod
    def build(cls, settings: Settings, embedder: Embedder, cache_file: Path | None = None) -> NaiveBaseline:
        """Split the corpus, embed the chunks with `embedder` and load them into an in-memory Chroma."""
        chunks = split_corpus(settings)
        return cls(chunks, embedder, embed_chunks(embedder, [c.text for c in chunks], cache_file))

    @property
    def texts(self) -> list[str]:
        return [c.text for c in self.chunks]

    def search(self, query: str, k: int = TOP_K) -> list[tuple[NaiveChunk, float]]:
        """Dense-only top k: (chunk, cosine similarity) best first."""
        vector = self.embedder.embed_query(nfkc(query))
        result = self._collection.query(
            query_embeddings=[vector.tolist()], n_results=min(k, len(self.chunks)), include=["distances"]
        )
        return [
            (self.by_id[cid], 1.0 - float(d))
            for cid, d in zip(result["ids"][0], result["distances"][0], strict=True)
        ]

    def ask(self, question: str, k: int = TOP_K) -> ChatResponse:
        """Answer with the top chunk verbatim, cite it, never refuse, recommend nobody."""
        started = time.perf_counter()
        hits = self.search(question, k)
        top = hits[0][0]
        return ChatResponse(
            message_id=uuid.uuid4().hex,
            answer=top.text,
            citations=[
                Citation(
                    n=1,
                    chunk_id=top.chunk_id,
                    doc_id=top.doc_id,
                    title=top.title,
                    page=top.page,
                    quote=top.text,
                )
            ],
            intent="fact",  # the baseline does not route; the field is required by the schema
            retrieved=[
                RetrievedChunk(
                    chunk_id=c.chunk_id, doc_id=c.doc_id, title=c.title, page=c.page, text=c.text, score=s
                )
                for c, s in hits
            ],
            latency_ms=(time.perf_counter() - started) * 1000,
        )
