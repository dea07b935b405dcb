"""The OpenAI-compatible endpoints: `GET /v1/models` and `POST /v1/chat/completions` (Open WebUI, the
openai library, LangChain). A front-end's background task gets its JSON without a retrieval."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Body, Request
from fastapi.encoders import jsonable_encoder
from fastapi.sse import EventSourceResponse, format_sse_event
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from bot.api.completions import (
    advisor_messages,
    completion_body,
    completion_chunk,
    fit_history,
    usage,
    wants_usage,
    whole_completion,
)
from bot.api.deps import AdvisorDep
from bot.api.errors import openai_error, stream_error
from bot.api.schemas import COMPLETION_EXAMPLES, ERRORS, MODEL_ID, ChatCompletionRequest, ErrorBody
from bot.api.state import RecentAnswers
from bot.api.streaming import advisor_events, question
from bot.schemas import ChatResponse
from bot.sources import BodyStream, answer_body, answer_with_sources, sources_list
from bot.tasks import answer_task, front_end_task

router = APIRouter(tags=["OpenAI互換"])


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
    given = advisor_messages(body.messages)
    task = front_end_task(given[-1].content) if given and given[-1].role == "user" else None
    if task is not None:
        # A front-end's background task (title, tags, follow-ups…): its JSON, no retrieval, no DX answer.
        text = await run_in_threadpool(answer_task, task, advisor.cards, advisor.index.embed_query)
        return whole_completion(text, given[-1:], body.stream, include_usage=wants_usage(body))
    messages = advisor.check_messages(fit_history(given, settings.max_messages, settings.max_message_chars))
    created = int(time.time())
    recent: RecentAnswers = request.app.state.recent
    if not body.stream:
        response = await run_in_threadpool(advisor.ask, messages)
        recent.add(response.message_id, question(messages), answer_body(response.answer))
        body_json = completion_body(
            f"chatcmpl-{response.message_id}", created, answer_with_sources(response), messages
        )
        return {**body_json, "dxnavi": jsonable_encoder(response)}

    include_usage = wants_usage(body)

    async def chunks() -> AsyncIterator[bytes]:
        cid = f"chatcmpl-{uuid.uuid4().hex}"
        yield completion_chunk(cid, created, {"role": "assistant", "content": ""})
        body_stream = BodyStream()
        final: ChatResponse | None = None
        try:
            async for event in advisor_events(advisor, messages):
                if event.kind == "delta":
                    if text := body_stream.feed(event.text):
                        yield completion_chunk(cid, created, {"content": text})
                elif event.kind == "final" and event.response is not None:
                    response: ChatResponse = event.response
                    recent.add(response.message_id, question(messages), answer_body(response.answer))
                    tail = body_stream.flush().rstrip()
                    sources = sources_list(response.citations)
                    text = tail + (f"\n\n{sources}" if sources else "")
                    if text:
                        yield completion_chunk(cid, created, {"content": text})
                    final = response
            yield completion_chunk(cid, created, {}, finish="stop")
            if include_usage:
                # stream_options.include_usage: one last chunk with no choices and the usage.
                done = answer_with_sources(final) if final is not None else ""
                yield completion_chunk(cid, created, None, usage=usage(messages, done))
        except Exception as exc:
            status, detail = stream_error(exc)
            yield format_sse_event(data_str=json.dumps(openai_error(status, detail), ensure_ascii=False))
        yield format_sse_event(data_str="[DONE]")

    return EventSourceResponse(chunks())
