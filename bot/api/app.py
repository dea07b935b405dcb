"""The app factory: settings and state, middleware, error handlers and the routers; the advisor loads once,
in the lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import anyio.to_thread
from fastapi import Depends, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from starlette.concurrency import run_in_threadpool

from bot.advisor import Advisor
from bot.api.deps import SESSION_SHARE, RateLimiter, guard
from bot.api.errors import add_error_handlers
from bot.api.middleware import BodyLimitMiddleware, InternalErrorMiddleware
from bot.api.routers import chat, documents, feedback, health, memo, openai_compat
from bot.api.schemas import ERRORS
from bot.api.state import AdvisorHolder, RecentAnswers, warm_up
from bot.feedback import FeedbackStore
from ground import __version__

if TYPE_CHECKING:
    from ground.config import Settings

THREADPOOL_SIZE = 64  # concurrent advisor calls (each runs in a worker thread)

DESCRIPTION = """
中小企業のDX相談に、経済産業省の資料の該当箇所を**引用して**日本語で答えるアドバイザー「DXナビ」のAPIです。

- `POST /v1/chat`: 相談（`stream: true` で Server-Sent Events）
- `POST /v1/memo`: 相談メモ（支援機関に持っていく1枚、PDF または Markdown）
- `POST /v1/search`: 条文・資料の検索（支援担当者向け）
- `GET /v1/documents`・`/v1/agencies`・`/v1/stages`: 資料・相談先・DX段階の一覧
- `POST /v1/feedback`・`GET /v1/feedback/export`: 回答への評価とCSV出力
- `GET /v1/models`・`POST /v1/chat/completions`: OpenAI 互換（Open WebUI や `openai` クライアントから利用可）

`DXNAVI_API_KEY` を設定した場合は `Authorization: Bearer <キー>` ヘッダーが必要です。

資料の本文（`text`・`quote`・`answer`）はプレーンテキスト（回答は Markdown）です。資料に HTML のような文字列が
含まれていても、そのまま返します。Web ページに表示するときは、必ずエスケープしてください。
"""

TAGS = [
    {"name": "相談", "description": "DXの相談に、出典つきで答えます。"},
    {"name": "資料", "description": "索引に入っている資料の検索と一覧。"},
    {"name": "フィードバック", "description": "回答への👍/👎とコメント。"},
    {"name": "OpenAI互換", "description": "OpenAI の Chat Completions 形式で使うためのエンドポイント。"},
    {"name": "状態", "description": "死活監視。"},
]


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
        holder.close()  # worker processes end with os._exit: atexit handlers would not run

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
    app.state.shared_limiter = RateLimiter(settings.rate_limit_per_minute * SESSION_SHARE)
    app.state.feedback = FeedbackStore(settings.feedback_db)
    app.state.recent = RecentAnswers()

    app.add_middleware(BodyLimitMiddleware, limit=settings.max_body_bytes, timeout=settings.body_timeout_s)
    app.add_middleware(InternalErrorMiddleware)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "OPTIONS"],
            allow_headers=["Authorization", "Content-Type"],
        )
    add_error_handlers(app)
    app.include_router(health.router)
    # Everything under /v1 passes the API key and the rate limit.
    v1_errors: dict[int | str, dict[str, Any]] = {k: v for k, v in ERRORS.items() if k in (401, 429)}
    for area in (chat, memo, documents, feedback, openai_compat):
        app.include_router(area.router, prefix="/v1", dependencies=[Depends(guard)], responses=v1_errors)
    return app


def create_app_from_env() -> FastAPI:
    """Factory for `uvicorn --factory` (several workers): settings from DXNAVI_* and DXNAVI_CONFIG."""
    from ground import threads
    from ground.config import load_settings

    settings = load_settings()
    threads.configure(settings.threads)  # before this worker loads the embedder
    return create_app(settings)
