"""dxnavi's hybrid search as a LangChain retriever, for LangChain pipelines built on top of dxnavi.

Kept apart from bot.retrieve so that answering a question does not load LangChain's retriever machinery.
"""

from __future__ import annotations

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict

from bot.retrieve import Hit, SearchIndex


def hit_to_document(hit: Hit, url: str | None = None) -> Document:
    c = hit.chunk
    return Document(
        page_content=c.text,
        id=c.chunk_id,
        metadata={
            "chunk_id": c.chunk_id,
            "doc_id": c.doc_id,
            "title": c.title,
            "page": c.page,
            "heading": c.heading,
            "start": c.start,
            "end": c.end,
            "score": hit.score,
            "url": url,
        },
    )


class HybridRetriever(BaseRetriever):
    """LangChain retriever over a SearchIndex: returns Documents carrying the chunk metadata."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    index: SearchIndex
    k: int = 10
    doc_ids: list[str] | None = None

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun
    ) -> list[Document]:
        hits = self.index.search(query, k=self.k, doc_ids=self.doc_ids)
        return [hit_to_document(h, self.index.urls.get(h.chunk.doc_id)) for h in hits]
