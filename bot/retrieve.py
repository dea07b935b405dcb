"""Hybrid retrieval over one index build: BM25 (bm25s) + dense (Chroma), fused by reciprocal rank fusion."""

from __future__ import annotations

import logging
import re
import shutil
import threading
import unicodedata
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ground.errors import ModelMismatchError, QueryError, StoreUnavailableError
from ingest import index as idx
from ingest.normalize import nfkc
from ingest.split import Chunk, sentence_texts
from ingest.store import collection_name, get_collection, open_client, private_copy, server_down_message
from ingest.structure import clause_refs
from ingest.tokenize import search_tokens

if TYPE_CHECKING:
    from ground.config import Settings
    from ingest.embed import Embedder

log = logging.getLogger(__name__)

MAX_QUERY_CHARS = 2000
CLAUSE_BONUS = 1.0  # above any fused score (each list adds at most weight / (rrf_k + 1))
SUPERSEDED_FACTOR = 0.5  # an old version's passage keeps half its score
RECENT_SEARCHES = 256  # search results kept per index build (SearchIndex.search)


_SURROGATE = re.compile("[\ud800-\udfff]")
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def check_query(query: str, limit: int = MAX_QUERY_CHARS) -> str:
    """The query as it is searched: control characters removed, surrounding space stripped. Text that is
    broken (lone surrogates), empty (or only invisible characters) or overlong is refused in Japanese."""
    if query and _SURROGATE.search(query):
        raise QueryError("質問に壊れた文字（読み取れない文字コード）が含まれています。入力し直してください。")
    query = _CONTROL.sub("", query or "").strip()
    if not any(not ch.isspace() and unicodedata.category(ch) != "Cf" for ch in query):
        raise QueryError("質問が空です。知りたいことを日本語で入力してください。")
    if len(query) > limit:
        raise QueryError(f"質問が長すぎます（{len(query)}文字）。{limit}文字以内にしてください。")
    return query


@dataclass(frozen=True)
class Hit:
    chunk: Chunk
    score: float  # fused RRF score
    bm25_rank: int | None
    dense_rank: int | None
    dense_similarity: float | None


class SearchIndex:
    """One loaded index build: chunks, BM25 and the Chroma collection. Load once, query many times."""

    def __init__(
        self,
        settings: Settings,
        embedder: Embedder,
        build_dir: Path | None = None,
        private_store: bool = False,
    ) -> None:
        """`private_store`: read a private copy of an embedded store (API workers; see private_copy)."""
        bm25s = idx.import_bm25s()
        self.settings = settings
        self.embedder = embedder
        self.build_dir = build_dir or idx.current_build_dir(settings.index_dir)
        self.meta = idx.read_meta(self.build_dir)
        if self.meta.engine != embedder.engine or self.meta.model_id != embedder.model_id:
            raise ModelMismatchError(
                f"{self.meta.engine}:{self.meta.model_id}", f"{embedder.engine}:{embedder.model_id}"
            )
        self.chunks = idx.read_chunks(self.build_dir)
        self.by_id = {c.chunk_id: c for c in self.chunks}
        self.row_of = {c.chunk_id: i for i, c in enumerate(self.chunks)}
        self.bm25 = bm25s.BM25.load(str(self.build_dir / "bm25"))
        self.urls = {f.doc_id: f.url for f in self.meta.files}
        titles = {f.doc_id: f.title for f in self.meta.files}
        # Old versions: document id → the title of the indexed version that supersedes it.
        self.newer = {f.doc_id: titles[f.superseded_by] for f in self.meta.files if f.superseded_by in titles}
        # 「柱3-2」 → its chunks in the full guides, in reading order.
        self.by_clause: dict[str, list[str]] = {}
        for c in self.chunks:
            if c.clause:
                self.by_clause.setdefault(c.clause, []).append(c.chunk_id)
        self._collection: Any = None
        self.private_store = private_store and settings.store == "embedded"
        self._private_dir: Path | None = None
        self._query_cache: dict[str, np.ndarray] = {}
        # Recent searches: a follow-up replays the turns before it (bot.advisor), whose searches ran
        # in earlier requests, so that a chat turn costs one retrieval.
        self._hits: OrderedDict[tuple[Any, ...], list[Hit]] = OrderedDict()
        self._hits_lock = threading.Lock()
        self._open_lock = threading.Lock()  # concurrent first requests must not open Chroma twice
        self._load_sentences()

    @property
    def collection(self) -> Any:
        """This build's Chroma collection (opened lazily, once)."""
        with self._open_lock:
            if self._collection is None:
                self._collection = self._open_collection()
            return self._collection

    def close(self) -> None:
        """Forget the collection and remove this process's private copy of the store, if any."""
        with self._open_lock:
            self._collection = None
            if self._private_dir is not None:
                shutil.rmtree(self._private_dir, ignore_errors=True)
                self._private_dir = None

    def _open_collection(self) -> Any:
        store_dir = self.build_dir
        if self.private_store:
            store_dir = self._private_dir = private_copy(self.build_dir, self.settings.data_dir / "replicas")
        client = open_client(self.settings, store_dir)
        name = collection_name(self.settings, self.meta.build_id)
        try:
            return get_collection(client, name)
        except Exception as exc:  # chromadb raises NotFoundError / connection errors
            if self.settings.store != "server":
                raise
            from chromadb.errors import NotFoundError

            if isinstance(exc, NotFoundError):  # the server runs, but lost this build (a new volume?)
                raise StoreUnavailableError(
                    f"Chroma サーバーに索引のコレクション {name} がありません。"
                    "`dxnavi ingest` を実行して作り直してください。"
                ) from exc
            raise StoreUnavailableError(server_down_message(self.settings)) from exc

    def sentence_vectors(self) -> dict[str, np.ndarray]:
        """Sentence text → vector, as stored by ingest in this build."""
        return (
            dict(zip(self._sentence_texts, self._sentence_matrix, strict=True))
            if self._sentence_texts
            else {}
        )

    def _load_sentences(self) -> None:
        """Sentence vectors and, per chunk, the rows of its sentences (for max-sim chunk ranking)."""
        self._sentence_texts, self._sentence_matrix = idx.read_sentences(self.build_dir)
        row_of = {t: i for i, t in enumerate(self._sentence_texts)}
        pairs = [
            (row_of[t], ci)
            for ci, chunk in enumerate(self.chunks)
            for t in sentence_texts([chunk])
            if t in row_of
        ]
        self._pair_rows = np.array([p[0] for p in pairs], dtype=np.int64)
        self._pair_chunks = np.array([p[1] for p in pairs], dtype=np.int64)

    def sentence_ranking(
        self, query_vector: np.ndarray, k: int, doc_ids: list[str] | None = None
    ) -> list[str]:
        """Chunk ids ranked by their best-matching sentence (small models match sentences better)."""
        if not len(self._pair_rows):
            return []
        sims = self._sentence_matrix @ query_vector
        best = np.full(len(self.chunks), -1.0, dtype=np.float32)
        np.maximum.at(best, self._pair_chunks, sims[self._pair_rows])
        order = np.argsort(-best)
        out = [self.chunks[i].chunk_id for i in order if not doc_ids or self.chunks[i].doc_id in doc_ids]
        return out[:k]

    def embed_query(self, text: str) -> np.ndarray:
        """Query vector, cached: the advisor scores sentences with the same vector the search used."""
        key = nfkc(text)
        vector = self._query_cache.get(key)
        if vector is None:
            vector = self.embedder.embed_query(key)
            if len(self._query_cache) > 512:
                self._query_cache.clear()
            self._query_cache[key] = vector
        return vector

    def dense(
        self, query_vector: np.ndarray, k: int, doc_ids: list[str] | None = None
    ) -> list[tuple[str, float]]:
        """(chunk_id, cosine similarity) best first, from Chroma."""
        where = {"doc_id": {"$in": doc_ids}} if doc_ids else None
        try:
            result = self.collection.query(
                query_embeddings=[query_vector.tolist()],
                n_results=min(k, len(self.chunks)),
                where=where,
                include=["distances"],
            )
        except StoreUnavailableError:
            raise
        except Exception as exc:
            if self.settings.store == "server":
                self._collection = None
                raise StoreUnavailableError(server_down_message(self.settings)) from exc
            raise
        ids = result["ids"][0]
        distances = result["distances"][0] if result.get("distances") else [1.0] * len(ids)
        return [(cid, 1.0 - float(d)) for cid, d in zip(ids, distances, strict=True)]

    def lexical(self, query: str, k: int, doc_ids: list[str] | None = None) -> list[tuple[str, float]]:
        """(chunk_id, BM25 score) best first; only chunks sharing a term with the query."""
        tokens = search_tokens(query, self.meta.token_form)  # type: ignore[arg-type]
        if not tokens:
            return []
        mask = None
        if doc_ids:
            mask = np.array([c.doc_id in doc_ids for c in self.chunks], dtype=np.float32)
        docs, scores = self.bm25.retrieve(
            [tokens],
            k=min(max(k * 3, k), len(self.chunks)),
            show_progress=False,
            n_threads=1,
            weight_mask=mask,
        )
        out = []
        for row, score in zip(docs[0], scores[0], strict=True):
            if score > 0:
                out.append((self.chunks[int(row)].chunk_id, float(score)))
        return out[:k]

    def search(
        self, query: str, k: int = 10, doc_ids: list[str] | None = None, expansions: list[str] | None = None
    ) -> list[Hit]:
        """Hybrid search: BM25 and dense rankings fused with weighted reciprocal rank fusion. The last
        RECENT_SEARCHES results are kept (this index is one build and never changes)."""
        query = check_query(query, self.settings.max_message_chars * self.settings.max_messages)
        key = (query, k, tuple(doc_ids or ()), tuple(expansions or ()))
        with self._hits_lock:
            if key in self._hits:
                self._hits.move_to_end(key)
                return list(self._hits[key])
        hits = self._search(query, k, doc_ids, expansions)
        with self._hits_lock:
            self._hits[key] = hits
            while len(self._hits) > RECENT_SEARCHES:
                self._hits.popitem(last=False)
        return list(hits)

    def _search(
        self, query: str, k: int, doc_ids: list[str] | None, expansions: list[str] | None
    ) -> list[Hit]:
        pool = max(k * 3, 30)
        lexical_query = " ".join([nfkc(query), *(expansions or [])])
        lex = self.lexical(lexical_query, pool, doc_ids)
        qvec = self.embed_query(query)
        dense = self.dense(qvec, pool, doc_ids)
        rrf_k = self.settings.rrf_k
        fused: dict[str, float] = {}
        bm25_rank: dict[str, int] = {}
        dense_rank: dict[str, int] = {}
        dense_sim: dict[str, float] = {}
        for rank, (cid, _) in enumerate(lex, start=1):
            bm25_rank[cid] = rank
            fused[cid] = fused.get(cid, 0.0) + self.settings.bm25_weight / (rrf_k + rank)
        for rank, (cid, sim) in enumerate(dense, start=1):
            dense_rank[cid] = rank
            dense_sim[cid] = sim
            fused[cid] = fused.get(cid, 0.0) + self.settings.dense_weight / (rrf_k + rank)
        for rank, cid in enumerate(self.sentence_ranking(qvec, pool, doc_ids), start=1):
            fused[cid] = fused.get(cid, 0.0) + self.settings.sentence_weight / (rrf_k + rank)
        # 「柱3-2」 asks for that clause: the guides' passages that carry its id come first.
        for ref in clause_refs(query):
            for cid in self.by_clause.get(ref, []):
                if doc_ids is None or self.by_id[cid].doc_id in doc_ids:
                    fused[cid] = fused.get(cid, 0.0) + CLAUSE_BONUS
        # A superseded version ranks below the current one (both stay findable).
        for cid in fused:
            if cid in self.by_id and self.by_id[cid].doc_id in self.newer:
                fused[cid] *= SUPERSEDED_FACTOR
        ranked = sorted(fused.items(), key=lambda item: item[1], reverse=True)[:k]
        return [
            Hit(self.by_id[cid], score, bm25_rank.get(cid), dense_rank.get(cid), dense_sim.get(cid))
            for cid, score in ranked
            if cid in self.by_id
        ]
