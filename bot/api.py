"""The DXナビ HTTP API (FastAPI): chat with SSE streaming, clause search, catalogs, feedback, and an
OpenAI-compatible chat endpoint. `create_app(settings)` builds it; the advisor loads once in the lifespan."""

from __future__ import annotations

import ipaddress
import json
import logging
import secrets
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from functools import lru_cache
from typing import TYPE_CHECKING, Annotated, Any, Literal

import anyio.to_thread
from fastapi import APIRouter, Body, Depends, FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse, Response
from fastapi.sse import EventSourceResponse, format_sse_event
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.types import Message as AsgiMessage

from bot.advisor import Advisor, expansions_for
from bot.catalog import Agency, Stage, agencies, stages
from bot.feedback import FeedbackRecord, FeedbackStore
from bot.schemas import ChatResponse, Message
from bot.sources import BodyStream, answer_body, sources_list
from bot.tasks import answer_task, front_end_task
from dxnavi import __version__
from dxnavi.errors import (
    DxnaviError,
    IndexMissingError,
    ModelMismatchError,
    QueryError,
    StoreUnavailableError,
)
from ingest.tokenize import count_tokens

if TYPE_CHECKING:
    from dxnavi.config import Settings

log = logging.getLogger(__name__)

MODEL_ID = "dxnavi"
RELOAD_INTERVAL_S = 5.0  # how often a request may retry loading a missing index
THREADPOOL_SIZE = 64  # concurrent advisor calls (each runs in a worker thread)
INTERNAL_ERROR = "サーバー内部でエラーが発生しました。時間をおいて、もう一度お試しください。"

DESCRIPTION = """
中小企業のDX相談に、経済産業省の資料の該当箇所を**引用して**日本語で答えるアドバイザー「DXナビ」のAPIです。

- `POST /v1/chat`: 相談（`stream: true` で Server-Sent Events）
- `POST /v1/search`: 条文・資料の検索（支援担当者向け）
- `GET /v1/documents`・`/v1/agencies`・`/v1/stages`: 資料・相談先・DX段階の一覧
- `POST /v1/feedback`・`GET /v1/feedback/export`: 回答への評価とCSV出力
- `GET /v1/models`・`POST /v1/chat/completions`: OpenAI 互換（Open WebUI や `openai` クライアントから利用可）

`DXNAVI_API_KEY` を設定した場合は `Authorization: Bearer <キー>` ヘッダーが必要です。
"""

TAGS = [
    {"name": "相談", "description": "DXの相談に、出典つきで答えます。"},
    {"name": "資料", "description": "索引に入っている資料の検索と一覧。"},
    {"name": "フィードバック", "description": "回答への👍/👎とコメント。"},
    {"name": "OpenAI互換", "description": "OpenAI の Chat Completions 形式で使うためのエンドポイント。"},
    {"name": "状態", "description": "死活監視。"},
]

STATUS_MESSAGES = {
    400: "リクエストを処理できませんでした。",
    401: "認証が必要です。",
    403: "この操作は許可されていません。",
    404: "指定されたURLは見つかりません。",
    405: "このURLでは、そのHTTPメソッドは使えません。",
    406: "指定された形式では応答できません。",
    413: "リクエストが大きすぎます。",
    415: "Content-Type は application/json にしてください。",
    429: "リクエストが多すぎます。しばらく待ってからお試しください。",
}


# ---- request / response models -------------------------------------------------------------
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


class SearchResponse(BaseModel):
    query: str
    expansions: list[str] = Field(
        default_factory=list, description="あわせて検索した語（「柱3-3」→柱の名称など）"
    )
    results: list[SearchResult]


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


# ---- state held by the app -------------------------------------------------------------------
class AdvisorHolder:
    """The one Advisor of this process. If the index is missing, requests retry loading it now and then,
    so running `dxnavi ingest` after `dxnavi serve` works without a restart."""

    def __init__(self, settings: Settings, advisor: Advisor | None) -> None:
        self.settings = settings
        self.advisor = advisor
        self.error: DxnaviError | None = None
        self._lock = threading.Lock()
        self._last_try = 0.0

    def load(self) -> None:
        with self._lock:
            if self.advisor is not None:
                return
            self._last_try = time.monotonic()
            try:
                if self.settings.store == "server":
                    check_store(self.settings)  # fail fast before loading models
                advisor = Advisor.from_settings(self.settings)
                warm_up(advisor)
                self.advisor = advisor
                self.error = None
                log.info("advisor loaded (build %s)", advisor.index.meta.build_id)
            except (IndexMissingError, ModelMismatchError, StoreUnavailableError) as exc:
                self.error = exc
                log.warning("advisor not ready: %s", exc.message)

    def require(self) -> Advisor:
        # A Chroma server that was down is checked again on every request (a refused connection is
        # cheap), so the API recovers as soon as it is back; a missing index is retried now and then.
        interval = 0.0 if isinstance(self.error, StoreUnavailableError) else RELOAD_INTERVAL_S
        if self.advisor is None and time.monotonic() - self._last_try >= interval:
            self.load()
        if self.advisor is None:
            raise self.error or IndexMissingError(str(self.settings.index_dir))
        return self.advisor


def check_store(settings: Settings) -> None:
    """Raise StoreUnavailableError unless the Chroma server answers its heartbeat."""
    from ingest.store import open_client, server_down_message

    try:
        open_client(settings, settings.index_dir).heartbeat()
    except StoreUnavailableError:
        raise
    except Exception as exc:  # chromadb raises plain exceptions for refused connections
        raise StoreUnavailableError(server_down_message(settings)) from exc


def warm_up(advisor: Advisor) -> None:
    """One search before serving: opens the vector store (lazily opened, and not safe to open from many
    threads at once) and runs every code path once, so the first users do not pay for it."""
    advisor.index.search("DXを何から始めればいい？", k=1)


class RecentAnswers:
    """The last few thousand answers by message_id, so feedback rows can carry the question and answer."""

    def __init__(self, size: int = 2000) -> None:
        self.size = size
        self._items: OrderedDict[str, tuple[str, str]] = OrderedDict()
        self._lock = threading.Lock()

    def add(self, message_id: str, question: str, answer: str) -> None:
        with self._lock:
            self._items[message_id] = (question, answer)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def get(self, message_id: str) -> tuple[str, str] | None:
        with self._lock:
            return self._items.get(message_id)


class RateLimiter:
    """Token bucket per client IP: `per_minute` requests a minute, bursts up to the same number."""

    def __init__(self, per_minute: int) -> None:
        self.capacity = float(per_minute)
        self.rate = per_minute / 60.0
        self._buckets: dict[str, tuple[float, float]] = {}

    @property
    def enabled(self) -> bool:
        return self.capacity > 0

    def take(self, key: str) -> float:
        """Take one token; 0.0 when allowed, else the seconds until the next token."""
        now = time.monotonic()
        tokens, last = self._buckets.get(key, (self.capacity, now))
        tokens = min(self.capacity, tokens + (now - last) * self.rate)
        if tokens < 1.0:
            self._buckets[key] = (tokens, now)
            return (1.0 - tokens) / self.rate
        self._buckets[key] = (tokens - 1.0, now)
        if len(self._buckets) > 10_000:  # forget idle clients (their buckets are full again)
            idle = [k for k, (_, t) in self._buckets.items() if now - t > 60.0]
            for k in idle:
                del self._buckets[k]
        return 0.0


# ---- middleware ------------------------------------------------------------------------------
class BodyTooLarge(HTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(
            413,
            f"リクエストが大きすぎます（上限 {limit:,} バイト）。質問や会話を短くしてから送ってください。",
        )


class BodyLimitMiddleware:
    """Rejects request bodies over `limit` bytes with 413: by Content-Length up front, and by counting the
    bytes actually received, so a chunked or lying client cannot get more in."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        too_large = BodyTooLarge(self.limit)
        declared = _content_length(scope)
        if declared is not None and declared > self.limit:
            await _error_response(413, str(too_large.detail), path=scope.get("path", ""))(
                scope, receive, send
            )
            return
        received = 0
        started = False

        async def counting_receive() -> AsgiMessage:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise too_large
            return message

        async def tracking_send(message: AsgiMessage) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except BodyTooLarge:
            if started:
                raise
            await _error_response(413, str(too_large.detail), path=scope.get("path", ""))(
                scope, receive, send
            )


class InternalErrorMiddleware:
    """Any unexpected exception becomes a Japanese 500 (logged here with its traceback). Unlike Starlette's
    own handler it does not re-raise, so the server keeps the client's keep-alive connection open."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: AsgiMessage) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            log.error("unexpected error on %s %s", scope.get("method"), scope.get("path"), exc_info=exc)
            if started:
                raise
            await _error_response(500, INTERNAL_ERROR, path=scope.get("path", ""))(scope, receive, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


# The OpenAI-compatible endpoints answer errors in OpenAI's shape, so that clients (the openai library,
# LangChain, Open WebUI) show the Japanese message instead of only "Error code: 422".
OPENAI_PATHS = ("/v1/chat/completions", "/v1/models")
_OPENAI_ERRORS = {
    401: ("authentication_error", "invalid_api_key"),
    404: ("invalid_request_error", "not_found"),
    413: ("invalid_request_error", "request_too_large"),
    422: ("invalid_request_error", "invalid_request"),
    429: ("rate_limit_error", "rate_limit_exceeded"),
    503: ("server_error", "service_unavailable"),
}


def _error_response(
    status: int, detail: str, headers: dict[str, str] | None = None, path: str = ""
) -> JSONResponse:
    body = openai_error(status, detail) if path.startswith(OPENAI_PATHS) else {"detail": detail}
    return JSONResponse(body, status_code=status, headers=headers)


def openai_error(status: int, detail: str) -> dict[str, Any]:
    """An error in OpenAI's shape: {"error": {"message", "type", "param", "code"}}."""
    kind, code = _OPENAI_ERRORS.get(
        status, ("server_error" if status >= 500 else "invalid_request_error", None)
    )
    return {"error": {"message": detail, "type": kind, "param": None, "code": code}}


# ---- dependencies ----------------------------------------------------------------------------
def client_address(request: Request, trusted: list[str]) -> str:
    """The client's address: the peer, or — when the peer is a trusted proxy — the nearest address in
    X-Forwarded-For that is not itself a trusted proxy (a client cannot rotate it to dodge the limit)."""
    peer = request.client.host if request.client else "unknown"
    networks = _networks(tuple(trusted))
    if not _in(peer, networks):
        return peer
    hops = [h.strip() for h in request.headers.get("x-forwarded-for", "").split(",") if h.strip()]
    for hop in reversed(hops):
        if not _in(hop, networks):
            return hop
    return hops[0] if hops else peer


@lru_cache(maxsize=8)
def _networks(trusted: tuple[str, ...]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(t, strict=False) for t in trusted)


def _in(address: str, networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in n for n in networks)


def _too_many(limiter: RateLimiter, bucket: str) -> None:
    wait = limiter.take(bucket)
    if wait > 0:
        seconds = max(1, int(wait + 0.999))
        raise HTTPException(
            429,
            f"リクエストが多すぎます（1分あたり {int(limiter.capacity)} 回まで）。"
            f"{seconds}秒ほど待ってから、もう一度お試しください。",
            headers={"Retry-After": str(seconds)},
        )


async def guard(request: Request) -> None:
    """API key (when keys are set) and rate limit. The limit is kept per API key when keys are used (a
    front-end's users share its key, not one address), else per client address; failed attempts count in a
    bucket of their own per address, so that they never use up a valid key's allowance."""
    settings: Settings = request.app.state.settings
    limiter: RateLimiter = request.app.state.limiter
    client = client_address(request, settings.trusted_proxies)
    keys = settings.bearer_keys
    if not keys:
        if limiter.enabled:
            _too_many(limiter, f"ip:{client}")
        return
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    token = token.strip()
    matched = next(
        (i for i, k in enumerate(keys) if secrets.compare_digest(token.encode(), k.encode())), None
    )
    missing = scheme.lower() != "bearer" or not token
    if missing or matched is None:
        if limiter.enabled:
            _too_many(limiter, f"denied:{client}")
        message = (
            "APIキーが必要です。`Authorization: Bearer <DXNAVI_API_KEY の値>` ヘッダーを付けてください。"
            if missing
            else "APIキーが正しくありません。"
        )
        raise HTTPException(401, message, headers={"WWW-Authenticate": "Bearer"})
    if limiter.enabled:
        _too_many(limiter, f"key:{matched}")


async def get_advisor(request: Request) -> Advisor:
    holder: AdvisorHolder = request.app.state.holder
    if holder.advisor is not None:
        return holder.advisor
    return await run_in_threadpool(holder.require)


AdvisorDep = Annotated[Advisor, Depends(get_advisor)]


# ---- streaming -------------------------------------------------------------------------------
def _sse(event: str, payload: Any) -> bytes:
    return format_sse_event(data_str=json.dumps(jsonable_encoder(payload), ensure_ascii=False), event=event)


async def _advisor_events(advisor: Advisor, messages: list[Message]) -> AsyncIterator[Any]:
    """advisor.stream() stepped in a worker thread. If the client goes away, Starlette cancels the
    response; the cancellation lands between two steps and `close()` stops the advisor's generator."""
    events: Iterator[Any] = advisor.stream(messages)
    finished = False
    try:
        while True:
            event = await run_in_threadpool(next, events, None)
            if event is None:
                finished = True
                return
            yield event
    finally:
        if not finished:
            log.info("chat stream stopped before the end (client disconnected or error)")
        close = getattr(events, "close", None)
        if close is not None:
            close()


def _question(messages: list[Message]) -> str:
    return next((m.content for m in reversed(messages) if m.role == "user"), "")


def _error_detail(exc: BaseException) -> tuple[int, str]:
    if isinstance(exc, DxnaviError):
        return exc.http_status, exc.public_message
    log.error("unexpected error while streaming", exc_info=exc)
    return 500, INTERNAL_ERROR


# ---- OpenAI compatibility --------------------------------------------------------------------
def _openai_messages(messages: list[OpenAIMessage]) -> list[Message]:
    """OpenAI messages → advisor messages: text parts joined, system/developer/tool turns left out."""
    out: list[Message] = []
    for m in messages:
        if m.role not in ("user", "assistant"):
            continue
        if isinstance(m.content, list):
            text = "".join(
                str(p.get("text", "")) for p in m.content if p.get("type") in ("text", "input_text")
            )
        else:
            text = m.content or ""
        out.append(Message(role=m.role, content=text))  # type: ignore[arg-type]
    return out


def fit_history(messages: list[Message], max_messages: int, max_chars: int) -> list[Message]:
    """A front-end's whole chat, cut to what the advisor takes: the most recent turns that fit.

    The per-message limit applies to the user's newest message (an over-long one is still refused);
    earlier turns that are too long, and assistant turns the client echoes back, never block the chat.
    """
    if not messages:
        return messages
    *earlier, newest = messages
    kept = [m for m in earlier if m.role == "assistant" or len(m.content) <= max_chars]
    recent = kept[-(max_messages - 1) :] if max_messages > 1 else []
    while recent and recent[0].role != "user":  # start the window on a user turn
        recent = recent[1:]
    return [*recent, newest]


def usage(messages: list[Message], completion: str) -> dict[str, int]:
    """Token counts as OpenAI reports them, counted in MeCab morphemes (README「OpenAI互換」)."""
    prompt = sum(count_tokens(m.content) for m in messages)
    done = count_tokens(completion)
    return {"prompt_tokens": prompt, "completion_tokens": done, "total_tokens": prompt + done}


def _wants_usage(body: ChatCompletionRequest) -> bool:
    return bool((body.stream_options or {}).get("include_usage"))


def _completion_body(cid: str, created: int, text: str, messages: list[Message]) -> dict[str, Any]:
    """A non-streamed chat.completion holding `text`, with its usage."""
    return {
        "id": cid,
        "object": "chat.completion",
        "created": created,
        "model": MODEL_ID,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": usage(messages, text),
    }


def _completion(text: str, messages: list[Message], stream: bool, include_usage: bool = False) -> Any:
    """A whole completion holding `text` (JSON, or SSE chunks when streamed)."""
    cid, created = f"chatcmpl-{uuid.uuid4().hex}", int(time.time())
    if not stream:
        return _completion_body(cid, created, text, messages)

    async def chunks() -> AsyncIterator[bytes]:
        yield _completion_chunk(cid, created, {"role": "assistant", "content": text})
        yield _completion_chunk(cid, created, {}, finish="stop")
        if include_usage:
            yield _completion_chunk(cid, created, None, usage=usage(messages, text))
        yield format_sse_event(data_str="[DONE]")

    return EventSourceResponse(chunks())


def openai_content(response: ChatResponse) -> str:
    """The answer body followed by the numbered 出典 list (document, page, quote) matching the [n] markers."""
    body = answer_body(response.answer)
    sources = sources_list(response.citations)
    return f"{body}\n\n{sources}" if sources else body


def _completion_chunk(
    cid: str,
    created: int,
    delta: dict[str, Any] | None,
    finish: str | None = None,
    usage: dict[str, int] | None = None,
) -> bytes:
    payload: dict[str, Any] = {
        "id": cid,
        "object": "chat.completion.chunk",
        "created": created,
        "model": MODEL_ID,
        "choices": [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    if usage is not None:
        payload["usage"] = usage
    return format_sse_event(data_str=json.dumps(payload, ensure_ascii=False))


# ---- the app ---------------------------------------------------------------------------------
def create_app(settings: Settings, advisor: Advisor | None = None) -> FastAPI:
    """Build the API. Without `advisor`, it is loaded from the index once, at startup."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        anyio.to_thread.current_default_thread_limiter().total_tokens = THREADPOOL_SIZE
        holder: AdvisorHolder = app.state.holder
        if holder.advisor is None:
            await run_in_threadpool(holder.load)
        else:
            await run_in_threadpool(warm_up, holder.advisor)
        yield

    docs = settings.api_docs if settings.api_docs is not None else not settings.bearer_keys
    app = FastAPI(
        title="DXナビ API",
        description=DESCRIPTION,
        version=__version__,
        openapi_tags=TAGS,
        lifespan=lifespan,
        docs_url="/docs" if docs else None,
        redoc_url="/redoc" if docs else None,
        openapi_url="/openapi.json" if docs else None,
    )
    app.state.settings = settings
    app.state.holder = AdvisorHolder(settings, advisor)
    app.state.limiter = RateLimiter(settings.rate_limit_per_minute)
    app.state.feedback = FeedbackStore(settings.feedback_db)
    app.state.recent = RecentAnswers()

    app.add_middleware(BodyLimitMiddleware, limit=settings.max_body_bytes)
    app.add_middleware(InternalErrorMiddleware)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "OPTIONS"],
            allow_headers=["Authorization", "Content-Type"],
        )
    _add_error_handlers(app)
    app.include_router(_health_router())
    app.include_router(_v1_router(), dependencies=[Depends(guard)])
    return app


def create_app_from_env() -> FastAPI:
    """Factory for `uvicorn --factory` (several workers): settings from DXNAVI_* and DXNAVI_CONFIG."""
    from dxnavi.config import load_settings

    return create_app(load_settings())


def _health_router() -> APIRouter:
    router = APIRouter(tags=["状態"])

    @router.get("/healthz", summary="死活確認（プロセスが動いているか）")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get(
        "/readyz",
        summary="準備完了の確認（索引が読み込まれ、埋め込みモデルが一致しているか）",
        response_model=ReadyResponse,
        responses={503: ERRORS[503]},
    )
    async def readyz(advisor: AdvisorDep) -> ReadyResponse:
        meta = advisor.index.meta
        return ReadyResponse(
            status="ok",
            build_id=meta.build_id,
            engine=meta.engine,
            model_id=meta.model_id,
            documents=len(meta.files),
            chunks=sum(f.chunks for f in meta.files),
        )

    @router.get("/", include_in_schema=False)
    async def root(request: Request) -> dict[str, str]:
        links = {"name": "DXナビ API", "health": "/healthz", "ready": "/readyz"}
        return {**links, "docs": "/docs"} if request.app.docs_url else links

    return router


def _v1_router() -> APIRouter:
    router = APIRouter(prefix="/v1", responses={k: v for k, v in ERRORS.items() if k in (401, 429)})

    @router.post(
        "/chat",
        tags=["相談"],
        summary="DXの相談に答える（出典・相談先・DX段階つき）",
        response_model=ChatResponse,
        responses={
            200: {
                "description": "回答。`stream: true` のときは text/event-stream で、"
                "`delta`（本文の断片 `{text}`）イベントのあとに `final`（回答全体）イベント。"
                "途中のエラーは `error` イベント。",
                "content": {"text/event-stream": {"schema": {"type": "string"}}},
            },
            413: ERRORS[413],
            422: ERRORS[422],
            503: ERRORS[503],
        },
    )
    async def chat(
        request: Request,
        advisor: AdvisorDep,
        body: Annotated[ChatRequest, Body(openapi_examples=CHAT_EXAMPLES)],
    ) -> Any:
        messages = advisor.check_messages(body.messages)
        recent: RecentAnswers = request.app.state.recent
        if not body.stream:
            response = await run_in_threadpool(advisor.ask, messages)
            recent.add(response.message_id, _question(messages), answer_body(response.answer))
            return response

        async def events() -> AsyncIterator[bytes]:
            try:
                async for event in _advisor_events(advisor, messages):
                    if event.kind == "delta":
                        yield _sse("delta", {"text": event.text})
                    elif event.kind == "final" and event.response is not None:
                        response: ChatResponse = event.response
                        recent.add(response.message_id, _question(messages), answer_body(response.answer))
                        yield _sse("final", response)
            except Exception as exc:
                status, detail = _error_detail(exc)
                yield _sse("error", {"status": status, "detail": detail})

        return EventSourceResponse(events())

    @router.post(
        "/search",
        tags=["資料"],
        summary="資料の該当箇所を探す（ハイブリッド検索）",
        response_model=SearchResponse,
        responses={413: ERRORS[413], 422: ERRORS[422], 503: ERRORS[503]},
    )
    async def search(
        advisor: AdvisorDep, body: Annotated[SearchRequest, Body(openapi_examples=SEARCH_EXAMPLES)]
    ) -> SearchResponse:
        from bot.retrieve import check_query

        query = check_query(body.query, advisor.settings.max_message_chars)
        known = {f.doc_id for f in advisor.index.meta.files}
        unknown = sorted(set(body.doc_ids or []) - known)
        if unknown:
            raise QueryError(
                f"文書IDが見つかりません: {', '.join(unknown)}。使えるID: {', '.join(sorted(known))}"
            )
        expansions = expansions_for(query)
        hits = await run_in_threadpool(advisor.index.search, query, body.k, body.doc_ids or None, expansions)
        urls = advisor.index.urls
        return SearchResponse(
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
                )
                for rank, h in enumerate(hits, start=1)
            ],
        )

    @router.get(
        "/documents", tags=["資料"], summary="索引に入っている資料の一覧", response_model=DocumentsResponse
    )
    async def documents(advisor: AdvisorDep) -> DocumentsResponse:
        meta = advisor.index.meta
        return DocumentsResponse(
            build_id=meta.build_id,
            documents=[
                DocumentInfo(
                    doc_id=f.doc_id,
                    title=f.title,
                    file=f.path.rsplit("/", 1)[-1],
                    pages=f.pages,
                    chunks=f.chunks,
                    url=f.url,
                )
                for f in meta.files
            ],
        )

    @router.get("/agencies", tags=["資料"], summary="相談先（支援機関）の一覧", response_model=list[Agency])
    async def list_agencies() -> list[Agency]:
        return agencies()

    @router.get("/stages", tags=["資料"], summary="デジタル活用の4段階", response_model=list[Stage])
    async def list_stages() -> list[Stage]:
        return stages()

    @router.post(
        "/feedback",
        tags=["フィードバック"],
        summary="回答に👍/👎とコメントをつける（同じ回答への2回目以降は上書き）",
        status_code=201,
        response_model=FeedbackRecord,
        responses={413: ERRORS[413], 422: ERRORS[422]},
    )
    async def feedback(
        request: Request, body: Annotated[FeedbackRequest, Body(openapi_examples=FEEDBACK_EXAMPLES)]
    ) -> FeedbackRecord:
        store: FeedbackStore = request.app.state.feedback
        known = request.app.state.recent.get(body.message_id)
        question, answer = known if known else (None, None)
        return await run_in_threadpool(
            store.save, body.message_id, body.rating, body.comment, question, answer
        )

    @router.get(
        "/feedback/export",
        tags=["フィードバック"],
        summary="フィードバックをCSVで出力（評価担当者向け）",
        response_class=Response,
        responses={200: {"content": {"text/csv": {}}, "description": "UTF-8（BOMつき）のCSV"}},
    )
    async def feedback_export(request: Request) -> Response:
        store: FeedbackStore = request.app.state.feedback
        text = await run_in_threadpool(store.export_csv)
        return Response(
            text.encode("utf-8"),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="dxnavi-feedback.csv"'},
        )

    @router.get("/models", tags=["OpenAI互換"], summary="モデル一覧（OpenAI 形式）")
    async def models() -> dict[str, Any]:
        return {
            "object": "list",
            "data": [{"id": MODEL_ID, "object": "model", "created": 1735689600, "owned_by": "dxnavi"}],
        }

    @router.post(
        "/chat/completions",
        tags=["OpenAI互換"],
        summary="Chat Completions（OpenAI 形式、stream 対応）。出典は本文の最後に番号つきで付きます",
        responses={404: {"model": ErrorBody, "description": "モデル名が dxnavi ではない"}, **ERRORS},
    )
    async def chat_completions(
        request: Request,
        advisor: AdvisorDep,
        body: Annotated[ChatCompletionRequest, Body(openapi_examples=COMPLETION_EXAMPLES)],
    ) -> Any:
        if body.model != MODEL_ID:
            raise HTTPException(404, f"モデル「{body.model}」はありません。使えるモデル: {MODEL_ID}")
        settings = advisor.settings
        given = _openai_messages(body.messages)
        task = front_end_task(given[-1].content) if given and given[-1].role == "user" else None
        if task is not None:
            # A front-end's background task (title, tags, follow-ups…): its JSON, no retrieval, no DX answer.
            text = await run_in_threadpool(answer_task, task, advisor.cards, advisor.index.embed_query)
            return _completion(text, given[-1:], body.stream, include_usage=_wants_usage(body))
        messages = advisor.check_messages(
            fit_history(given, settings.max_messages, settings.max_message_chars)
        )
        created = int(time.time())
        recent: RecentAnswers = request.app.state.recent
        if not body.stream:
            response = await run_in_threadpool(advisor.ask, messages)
            recent.add(response.message_id, _question(messages), answer_body(response.answer))
            completion = _completion_body(
                f"chatcmpl-{response.message_id}", created, openai_content(response), messages
            )
            return {**completion, "dxnavi": jsonable_encoder(response)}

        include_usage = _wants_usage(body)

        async def chunks() -> AsyncIterator[bytes]:
            cid = f"chatcmpl-{uuid.uuid4().hex}"
            yield _completion_chunk(cid, created, {"role": "assistant", "content": ""})
            body_stream = BodyStream()
            final: ChatResponse | None = None
            try:
                async for event in _advisor_events(advisor, messages):
                    if event.kind == "delta":
                        if text := body_stream.feed(event.text):
                            yield _completion_chunk(cid, created, {"content": text})
                    elif event.kind == "final" and event.response is not None:
                        response: ChatResponse = event.response
                        recent.add(response.message_id, _question(messages), answer_body(response.answer))
                        tail = body_stream.flush().rstrip()
                        sources = sources_list(response.citations)
                        text = tail + (f"\n\n{sources}" if sources else "")
                        if text:
                            yield _completion_chunk(cid, created, {"content": text})
                        final = response
                yield _completion_chunk(cid, created, {}, finish="stop")
                if include_usage:
                    # stream_options.include_usage: one last chunk with no choices and the usage.
                    done = openai_content(final) if final is not None else ""
                    yield _completion_chunk(cid, created, None, usage=usage(messages, done))
            except Exception as exc:
                status, detail = _error_detail(exc)
                yield format_sse_event(data_str=json.dumps(openai_error(status, detail), ensure_ascii=False))
            yield format_sse_event(data_str="[DONE]")

        return EventSourceResponse(chunks())

    return router


# ---- errors → Japanese JSON, never a stack trace ----------------------------------------------
_VALIDATION_MESSAGES = {
    "missing": "必須の項目がありません",
    "string_type": "文字列で指定してください",
    "bool_type": "true か false で指定してください",
    "bool_parsing": "true か false で指定してください",
    "int_type": "整数で指定してください",
    "int_parsing": "整数で指定してください",
    "list_type": "配列で指定してください",
    "model_type": "オブジェクトで指定してください",
    "model_attributes_type": "オブジェクトで指定してください",
    "dict_type": "オブジェクトで指定してください",
    "json_invalid": "JSON として読めません",
    "string_too_short": "空にはできません",
}


def _validation_text(errors: list[dict[str, Any]]) -> str:
    parts = []
    for err in errors[:5]:
        loc = ".".join(str(x) for x in err.get("loc", ()) if x != "body") or "本文"
        kind = err.get("type", "")
        ctx = err.get("ctx") or {}
        if kind == "literal_error":
            text = f"使える値は {ctx.get('expected', '')} です"
        elif kind == "string_too_long":
            text = f"{ctx.get('max_length')}文字以内にしてください"
        elif kind in ("greater_than_equal", "greater_than"):
            text = f"{ctx.get('ge', ctx.get('gt'))}以上にしてください"
        elif kind in ("less_than_equal", "less_than"):
            text = f"{ctx.get('le', ctx.get('lt'))}以下にしてください"
        else:
            text = _VALIDATION_MESSAGES.get(kind, "値が正しくありません")
        parts.append(f"{loc}: {text}")
    return "リクエストの形式が正しくありません（" + "、".join(parts) + "）。/docs の例を参考にしてください。"


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(DxnaviError)
    async def dxnavi_error(request: Request, exc: DxnaviError) -> JSONResponse:
        return _error_response(exc.http_status, exc.public_message, path=request.url.path)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        return _error_response(422, _validation_text(list(exc.errors())), path=request.url.path)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        detail = exc.detail if isinstance(exc.detail, str) and not exc.detail.isascii() else None
        if detail is None:
            detail = STATUS_MESSAGES.get(exc.status_code, "リクエストを処理できませんでした。")
            if exc.status_code == 404:
                detail = (
                    f"指定されたURL（{request.url.path}）は見つかりません。使えるURLは /docs を見てください。"
                )
        return _error_response(
            exc.status_code, detail, dict(exc.headers) if exc.headers else None, path=request.url.path
        )
