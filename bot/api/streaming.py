"""Server-Sent Events: the advisor's stream stepped in a worker thread, and SSE framing."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Iterator
from typing import Any

from fastapi.encoders import jsonable_encoder
from fastapi.sse import format_sse_event
from starlette.concurrency import run_in_threadpool

from bot.advisor import Advisor
from bot.schemas import Message

log = logging.getLogger(__name__)


def sse(event: str, payload: Any) -> bytes:
    return format_sse_event(data_str=json.dumps(jsonable_encoder(payload), ensure_ascii=False), event=event)


async def advisor_events(advisor: Advisor, messages: list[Message]) -> AsyncIterator[Any]:
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


def question(messages: list[Message]) -> str:
    return next((m.content for m in reversed(messages) if m.role == "user"), "")
