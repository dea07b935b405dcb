"""The API's request and response models, their OpenAPI examples and the documented error responses."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from bot.retrieve import Hit
from bot.schemas import Message

MODEL_ID = "dxnavi"  # the one model of the OpenAI-compatible endpoints


class ChatRequest(BaseModel):
    messages: list[Message] = Field(description="会話（古い順）。最後はユーザーの質問にしてください。")
    stream: bool = Field(False, description="true なら Server-Sent Events で少しずつ返します。")


class SearchRequest(BaseModel):
    query: str = Field(description="探したい内容（日本語）", examples=["柱3-3"])
    k: int = Field(5, ge=1, le=50, description="返す件数")
    doc_ids: list[str] | None = Field(None, description="文書IDで絞り込む（省略時はすべて）")


class SearchResult(BaseModel):
    rank: int
    chunk_id: str
    doc_id: str
    title: str
    page: int | None = None
    heading: str | None = None
    text: str
    score: float
    url: str | None = None
    clause: str | None = Field(None, description="ガイドの条項番号（柱3-2 など）。全文のガイドの記述に付く")
    superseded_by: str | None = Field(None, description="旧版の記述のとき、現行版の文書名")


class SearchResponse(BaseModel):
    query: str
    expansions: list[str] = Field(
        default_factory=list, description="あわせて検索した語（「柱3-3」→柱の名称など）"
    )
    results: list[SearchResult]

    @classmethod
    def of(
        cls,
        query: str,
        expansions: list[str],
        hits: list[Hit],
        urls: dict[str, str | None],
        newer: dict[str, str] | None = None,
    ) -> SearchResponse:
        return cls(
            query=query,
            expansions=expansions,
            results=[
                SearchResult(
                    rank=rank,
                    chunk_id=h.chunk.chunk_id,
                    doc_id=h.chunk.doc_id,
                    title=h.chunk.title,
                    page=h.chunk.page,
                    heading=h.chunk.heading,
                    text=h.chunk.text,
                    score=round(h.score, 6),
                    url=urls.get(h.chunk.doc_id),
                    clause=h.chunk.clause,
                    superseded_by=(newer or {}).get(h.chunk.doc_id),
                )
                for rank, h in enumerate(hits, start=1)
            ],
        )


class DocumentInfo(BaseModel):
    doc_id: str
    title: str
    file: str
    pages: int
    chunks: int
    url: str | None = None


class DocumentsResponse(BaseModel):
    build_id: str
    documents: list[DocumentInfo]


class FeedbackRequest(BaseModel):
    message_id: str = Field(min_length=1, max_length=100, description="回答の message_id")
    rating: Literal["up", "down"] = Field(description="up（👍）または down（👎）")
    comment: str | None = Field(None, max_length=2000, description="自由記述（任意）")

    @field_validator("message_id")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("message_id が空白だけです。回答の message_id を指定してください。")
        return value


class MemoRequest(BaseModel):
    messages: list[Message] = Field(description="相談の会話（古い順）。最後の回答まで含めてかまいません。")
    agency_id: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9_-]{1,64}$",
        description="あて先の相談先ID（/v1/agencies）。省略時は回答がすすめた相談先",
    )
    company_name: str | None = Field(default=None, max_length=100, description="会社名（任意）")
    industry: str | None = Field(default=None, max_length=100, description="業種（任意）")
    employees: int | None = Field(default=None, ge=1, le=1_000_000, description="従業員数（任意）")
    format: Literal["pdf", "markdown"] = Field(default="pdf", description="pdf または markdown")


class ErrorBody(BaseModel):
    detail: str = Field(examples=["質問が長すぎます（2105文字）。2000文字以内にしてください。"])


class ReadyResponse(BaseModel):
    status: Literal["ok"]
    build_id: str
    engine: str
    model_id: str
    documents: int
    chunks: int


class OpenAIMessage(BaseModel):
    model_config = ConfigDict(extra="allow")

    role: str
    content: str | list[dict[str, Any]] | None = None


class ChatCompletionRequest(BaseModel):
    """OpenAI Chat Completions request; sampling options (temperature など) are accepted and ignored."""

    model_config = ConfigDict(extra="allow")

    model: str = MODEL_ID
    messages: list[OpenAIMessage]
    stream: bool = False
    stream_options: dict[str, Any] | None = None  # {"include_usage": true}: a final usage chunk


CHAT_EXAMPLES: dict[str, Any] = {
    "start": {
        "summary": "何から始めればいい？",
        "value": {
            "messages": [{"role": "user", "content": "FAXで受発注しているのですが、何から始めればいい？"}]
        },
    },
    "stream": {
        "summary": "ストリーミング（SSE）",
        "value": {"messages": [{"role": "user", "content": "DX認定のメリットは？"}], "stream": True},
    },
    "followup": {
        "summary": "続けて質問",
        "value": {
            "messages": [
                {"role": "user", "content": "紙の伝票で在庫を管理しています。何から始めればいい？"},
                {"role": "assistant", "content": "（前の回答）"},
                {"role": "user", "content": "それはどこに相談すればいい？"},
            ]
        },
    },
}
SEARCH_EXAMPLES: dict[str, Any] = {
    "clause": {"summary": "柱の番号で探す", "value": {"query": "柱3-3", "k": 5}},
    "topic": {"summary": "内容で探す", "value": {"query": "DX認定 メリット 税制", "k": 3}},
}
FEEDBACK_EXAMPLES: dict[str, Any] = {
    "up": {"summary": "役に立った", "value": {"message_id": "3f2a…", "rating": "up"}},
    "down": {
        "summary": "コメントつき",
        "value": {"message_id": "3f2a…", "rating": "down", "comment": "相談先の連絡方法も知りたかった"},
    },
}
MEMO_EXAMPLES: dict[str, Any] = {
    "pdf": {
        "summary": "PDF（相談先は回答から）",
        "value": {
            "messages": [
                {"role": "user", "content": "FAXで受発注している町工場です。何から始めればいい？"},
                {"role": "assistant", "content": "（回答）"},
            ],
            "company_name": "山田製作所",
            "industry": "金属加工",
            "employees": 12,
        },
    },
    "markdown": {
        "summary": "Markdown・商工会議所あて",
        "value": {
            "messages": [{"role": "user", "content": "FAXで受発注している町工場です。何から始めればいい？"}],
            "agency_id": "chamber",
            "format": "markdown",
        },
    },
}
COMPLETION_EXAMPLES: dict[str, Any] = {
    "basic": {
        "summary": "OpenAI 形式",
        "value": {"model": MODEL_ID, "messages": [{"role": "user", "content": "DX認定のメリットは？"}]},
    }
}
ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "APIキーがない・正しくない"},
    413: {"model": ErrorBody, "description": "リクエスト本文が大きすぎる"},
    422: {"model": ErrorBody, "description": "質問が空・長すぎる・会話が長すぎるなど"},
    429: {"model": ErrorBody, "description": "短時間にリクエストが多すぎる"},
    503: {"model": ErrorBody, "description": "索引がまだない（`dxnavi ingest` を実行）"},
}
